/* registrar/auth.h - digest authentication (RFC 3261 §22, RFC 7616, RFC 8760)
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/base/slice.h"

struct arena;
struct conf;
struct hook_req;
struct sipmsg;
struct sockaddr;

/**
 * A nonce: 64 lower-case hex digits of time stamp (8 bytes, seconds,
 * big-endian), salt (8 bytes, unique per challenge) and the first 16
 * bytes of HMAC-SHA-256(secret, time stamp | salt | realm). Any node
 * with the same secret validates it; nothing is stored per challenge.
 */
#define AUTH_NONCE_LEN 64

/**
 * Set up: the nonce key (reg_conf(c)->secret, or 32 random bytes
 * when it is NULL), the per-shard state of @p nshards shards, and the
 * shared nonce-count and ban tables (store/nonce.h, store/ban.h).
 * Errors: -ENOMEM, -EINVAL (nshards 0), -EALREADY (set up already).
 * Thread: control, before the shards run. Ownership: @p c must outlive
 * auth_fini().
 */
int auth_init(const struct conf *c, unsigned nshards);

/** Free what auth_init() made. Thread: control, after shards stop. */
void auth_fini(void);

/**
 * Make a nonce for @p realm at time @p now_s with @p salt into @p out
 * (AUTH_NONCE_LEN bytes, not NUL-terminated). Thread: any, after
 * auth_init().
 */
void auth_nonce_make(struct slice realm, int64_t now_s, uint64_t salt,
		     char *out);

/**
 * Check that @p nonce was made by a node with our secret for @p realm.
 * Returns 0 with *tsp and *saltp set, or -EINVAL.
 * Thread: any, after auth_init().
 */
int auth_nonce_check(struct slice nonce, struct slice realm, int64_t *tsp,
		     uint64_t *saltp);

/** Per-shard counters, summed by auth_stats(). */
struct auth_stats {
	uint64_t challenges;   /**< 401/407 sent */
	uint64_t successes;    /**< credentials accepted */
	uint64_t failures;     /**< wrong response, unknown user */
	uint64_t blocked;      /**< 403 to a source over the failure limit */
	uint64_t replays;      /**< nonce + nc seen before */
	uint64_t stale;	       /**< right password, old nonce: stale=true */
	uint64_t bans;	       /**< bans made (pair or source) */
	uint64_t stateless;    /**< answers sent without a transaction */
	uint64_t uri_mismatch; /**< 400: digest uri is not the R-URI */
};

/** The counters of all shards added up (relaxed reads). Thread: any. */
void auth_stats(struct auth_stats *out);

/** One request to authenticate: what auth_check() reads. */
struct auth_req {
	const struct conf *c;
	const struct sipmsg *m;	    /**< parsed without fault */
	const struct sockaddr *src; /**< where it came from */
	unsigned shard;		    /**< the calling shard (its tables) */
	int64_t now_s;		    /**< CLOCK_REALTIME seconds */
	struct arena *a;	    /**< for the challenge headers */
	/** From the B2B pool's own socket (pool_is_source()): trusted as
	 * registrar.trusted is, whatever registrar.trusted says. */
	bool internal;
};

/** What auth_check() decided. */
struct auth_verdict {
	unsigned status;    /**< 0: go on; 401, 407, 403 or 400 */
	const char *reason; /**< static */
	struct slice extra; /**< WWW-/Proxy-Authenticate lines, in @p a */
	const char *why;    /**< 403: why, for the log (static), or NULL */
	bool drop;	    /**< banned: no answer at all (status 0) */
	/** Status 0 for an initial request from an untrusted source outside
	 * the served domains, and reg_conf(c)->hide_users: it must not tell
	 * unknown users from unregistered ones (hook_req.conceal). */
	bool stranger;
};

/**
 * Decide whether request q->m may go on (RFC 3261 §22). Nothing to do
 * (status 0) for a trusted source (registrar.trusted, or q->internal),
 * ACK, CANCEL, an in-dialog request, a method outside
 * reg_conf(c)->auth_methods, a REGISTER that is not for this registrar or whose
 * To domain is not served, or another request whose From domain is not served.
 * Otherwise the request needs credentials for realm = that domain:
 * - source banned (store/ban.h), as a whole or for the AOR's user or the
 *   credentials' username -> vp->drop: no answer at all;
 * - none (or only for other realms or schemes) -> 401 (REGISTER,
 *   WWW-Authenticate) or 407 (Proxy-Authenticate) with one challenge per
 *   algorithm of reg_conf(c)->algs, in that order, that the user has a
 *   hash for (all of them for an unknown user), qop="auth";
 * - malformed credentials -> 400; digest uri not the Request-URI (RFC
 *   3261 §22.4) -> 400 "Digest uri Does Not Match Request-URI";
 * - wrong response or unknown user -> a new challenge, counted against
 *   (source, username) and the source; 403 for the failure that makes a
 *   ban (reg_conf(c)->max_auth_failures per pair,
 *   max_auth_failures_source per source, within auth_failure_window_s;
 *   banned for auth_ban_s);
 * - right response but nonce older than reg_conf(c)->nonce_ttl_s ->
 *   challenge with stale=true; a nonce + nc seen before on any worker
 *   (store/nonce.h) -> a new challenge;
 * - REGISTER whose username is not the AOR's user -> 403; no users
 *   file -> 403.
 * Returns 0 with *vp set, or -ENOMEM.
 * Thread: the shard q->shard. Ownership: vp->extra lives in q->a.
 */
int auth_check(const struct auth_req *q, struct auth_verdict *vp);

/**
 * The HOOK_AUTH stage: auth_check() on the hook's request, answered
 * statelessly (hook_reply_stateless(): no transaction, counted in
 * auth_stats.stateless) when it does not go on, or not at all when
 * banned. Returns HOOK_NEXT,
 * HOOK_DONE or a negative error. Thread: the shard.
 */
int auth_hook(struct hook_req *r);
