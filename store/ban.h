/* store/ban.h - bans: failure counts and bans per (source, user) and per
 * source, shared by all workers (RCU hash table) */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "proxy/base/slice.h"

/**
 * What a ban is for: its own counts and its own entries, so that other
 * kinds (a per-source request rate) can share the table and the
 * management methods later.
 */
enum ban_kind {
	BAN_AUTH = 1, /**< failed digest authentications */
	BAN_RATE = 2, /**< requests over a rate (not used by auth) */
};

/** User names longer than this are cut for the key (and the listing). */
#define BAN_USER_MAX 64

/** Limits of ban_fail(). Value type. */
struct ban_limits {
	unsigned pair_max;   /**< failures of one (source, user) */
	unsigned source_max; /**< failures of one source, any user */
	unsigned window_s;   /**< counted within this window */
	unsigned ban_s;	     /**< how long a ban lasts */
};

/** What a ban stands on: one entry of the table, copied out. */
struct ban_info {
	enum ban_kind kind;
	struct sockaddr_storage src; /**< the address, port 0 */
	char user[BAN_USER_MAX + 1]; /**< "" for the whole source */
	const char *reason;	     /**< static text */
	uint32_t failures;	     /**< in the current window */
	int64_t until_s;	     /**< banned until (CLOCK_REALTIME s) */
};

/**
 * Set up the table for at most @p max_entries entries.
 * Errors: -EALREADY, -EINVAL (0), -ENOMEM.
 * Thread: control, RCU-registered, before any other call.
 */
int ban_init(size_t max_entries);

/** Free the table. Thread: control, after its users stopped. */
void ban_fini(void);

/**
 * Count one failure of @p kind from @p src (the address only, not the
 * port) for @p user (may be empty) at @p now_s: against (src, user)
 * and against the source alone. When a count reaches its limit within
 * the window, that entry is banned for l->ban_s seconds.
 * Returns 1 when this failure made a ban (*reasonp, when not NULL, says
 * which), 0 when not, -ENOSPC (table full of live entries: counted as
 * far as there was room), -ENOMEM, -EAFNOSUPPORT (not IPv4 or IPv6),
 * -EINVAL (not set up).
 * Thread: any RCU-registered thread, outside a read section.
 */
int ban_fail(enum ban_kind kind, const struct sockaddr *src, struct slice user,
	     int64_t now_s, const struct ban_limits *l, const char **reasonp);

/**
 * Ban (src, @p user) for @p kind, or the source as a whole when @p user
 * is empty, from @p now_s for @p ban_s seconds, without counting
 * failures (a request rate over its limit, for instance). A ban in
 * force is extended, never shortened. Returns 0, -ENOSPC (table full of
 * live entries), -ENOMEM, -EAFNOSUPPORT, -EINVAL (not set up).
 * Thread: any RCU-registered thread, outside a read section.
 */
int ban_put(enum ban_kind kind, const struct sockaddr *src, struct slice user,
	    int64_t now_s, unsigned ban_s);

/**
 * True when @p src is banned for @p kind at @p now_s: the source as a
 * whole, or the pair (src, @p user) when @p user is not empty.
 * Thread: any RCU-registered thread, outside a read section.
 */
bool ban_is_banned(enum ban_kind kind, const struct sockaddr *src,
		   struct slice user, int64_t now_s);

/** Called for each ban by ban_foreach(); return false to stop. */
typedef bool ban_visit_fn(const struct ban_info *b, void *arg);

/**
 * Call @p fn for every ban in force at @p now_s (any kind).
 * Returns the number of calls. Thread: any RCU-registered thread,
 * outside a read section; @p fn runs inside one and must not block.
 */
size_t ban_foreach(int64_t now_s, ban_visit_fn *fn, void *arg);

/**
 * Lift the bans and forget the failure counts of @p src: of (src,
 * @p user) only when @p user is not NULL (an empty one names the
 * source entry), else of every entry of @p src. Returns the number of
 * entries removed, -EAFNOSUPPORT, -EINVAL (not set up).
 * Thread: any RCU-registered thread, outside a read section.
 */
int ban_remove(const struct sockaddr *src, const struct slice *user);

/** Entries in the table now (relaxed). Thread: any. */
size_t ban_count(void);
