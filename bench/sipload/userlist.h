/* bench/sipload/userlist.h - the users a run works with: a numeric range, one
 * name, or a CSV file of user,password[,domain] */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "proxy/base/slice.h"

struct wbuf;

/** A read-only list of users and their passwords. Opaque. */
struct userlist;

/** Most users a list may hold. */
#define USERLIST_MAX 10000000u

/**
 * Users from @p spec: "LO-HI" (a decimal range, both ends included;
 * when LO has leading zeros every name has LO's width: "0001-0100"), or
 * one name (any other non-empty token without '-' range syntax).
 * Passwords follow @p pattern: "%u" is replaced by the user name, "%%"
 * by '%', anything else is kept.
 * Returns 0 with *up set, -EINVAL (empty, HI < LO, a bad character,
 * more than USERLIST_MAX users), -ENOMEM. Ownership: userlist_free().
 */
int userlist_parse(const char *spec, const char *pattern, struct userlist **up);

/**
 * Users from the CSV file @p path: one "user,password[,domain]" per line;
 * blank lines and lines starting with '#' are skipped.
 * Returns 0, -errno (the file), -EINVAL with @p why (at least 128 bytes)
 * naming the line, -ENOMEM.
 */
int userlist_load_csv(const char *path, struct userlist **up, char *why,
		      size_t why_size);

/** Free @p u (NULL is fine). */
void userlist_free(struct userlist *u);

/** How many users @p u holds (at least 1). */
unsigned userlist_count(const struct userlist *u);

/** Append the name of user @p i (0 .. count-1) to @p b. */
void userlist_name(const struct userlist *u, unsigned i, struct wbuf *b);

/** The domain of user @p i from the CSV file, or an empty slice. */
struct slice userlist_domain(const struct userlist *u, unsigned i);

/**
 * Append the password of the user named @p name to @p b.
 * Returns 0, or -ENOENT when @p u has no such user.
 * Thread: any (read-only).
 */
int userlist_password(const struct userlist *u, struct slice name,
		      struct wbuf *b);

/** Append the password of user @p i to @p b. */
void userlist_password_at(const struct userlist *u, unsigned i, struct wbuf *b);
