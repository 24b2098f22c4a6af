/* registrar/users.h - credentials: HA1 values per user and realm, reloadable */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/base/slice.h"

/**
 * The users file (docs/registrar.md): one user per line,
 *
 *   user@realm md5:<32 hex digits> sha256:<64 hex digits>
 *
 * where md5 is MD5("user:realm:password") and sha256 is
 * SHA-256("user:realm:password") (RFC 7616 §3.4.2, RFC 8760); at least
 * one of the two, in any order. The realm is the served domain (lower
 * case; compared without regard to case); the user is exact and may
 * not hold white space. Blank lines and lines whose first non-blank
 * character is '#' are ignored. scripts/mkuser.sh prints such lines.
 *
 * The loaded table is immutable and published under RCU: a reload
 * (SIGHUP) builds a new one and swaps it in, so shards never wait.
 */

/** Which HA1 values a user has (bits). */
enum {
	USERS_MD5 = 1 << 0,
	USERS_SHA256 = 1 << 1,
};

/** One user's credentials, copied out of the table. */
struct users_cred {
	unsigned algs; /**< USERS_* */
	uint8_t md5[16];
	uint8_t sha256[32];
};

/** The longest line of a users file. */
#define USERS_LINE_MAX 1024

/** A parsed users file: immutable once built. */
struct users_table;

/**
 * Parse @p len bytes of users-file text (@p name stands for the file in
 * messages) into a table. Returns 0 with *tp set, or ERR_CONFIG with
 * "NAME:LINE: reason" in @p errbuf, or -ENOMEM.
 * Thread: any. Ownership: users_table_free().
 */
int users_parse(const char *name, const char *text, size_t len,
		struct users_table **tp, char *errbuf, size_t errlen);

/** Number of users in @p t. */
size_t users_table_count(const struct users_table *t);

/** Free a table that was never published. NULL is allowed. */
void users_table_free(struct users_table *t);

/**
 * Read the file @p path and make it the published table (replacing and
 * freeing any previous one after a grace period). On error the old
 * table stays and @p errbuf holds "PATH: reason" or "PATH:LINE: reason".
 * Returns the number of users (>= 0), or -errno / ERR_CONFIG / -ENOMEM.
 * Thread: control (calls synchronize_rcu()), a registered RCU thread.
 */
long users_load(const char *path, char *errbuf, size_t errlen);

/**
 * Load again the file of the last successful users_load() (SIGHUP),
 * logging the outcome. Returns as users_load(); -ENOENT when no file
 * was ever loaded. Thread: control.
 */
long users_reload(void);

/**
 * Unpublish and free the table (after shards stopped).
 * Thread: control, a registered RCU thread.
 */
void users_fini(void);

/** True when a users table is published (a users file is in use). */
bool users_loaded(void);

/**
 * Copy the credentials of @p user in @p realm into *credp.
 * Returns 0, or -ENOENT (no such user, or no table).
 * Thread: any registered RCU thread (takes its own read section).
 */
int users_lookup(struct slice user, struct slice realm,
		 struct users_cred *credp);

/**
 * True when @p user exists in @p realm: for routing, which answers 404
 * for an unknown user of a served domain and 480 for a known one
 * without a binding. False when no table is loaded.
 * Thread: any registered RCU thread.
 */
bool users_exists(struct slice user, struct slice realm);
