/* proxy/hook.h - request pipeline stages that the registrar and features fill
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/base/slice.h"
#include "store/loc.h"

struct arena;
struct conf;
struct edit_list;
struct shard;
struct sipmsg;
struct peer;

/** One place a feature sends a request (struct hook_fwd). */
struct hook_target {
	struct loc_contact b; /**< the binding: uri, path, flow, q are used;
				   slices in the arena */
	struct slice ruri;    /**< Request-URI to send; empty: b.uri */
	struct slice hdrs;    /**< header lines for this branch only,
				   "Name: value" CRLF each; may be empty */
};

/**
 * The targets a feature chose for a request to a user of a served
 * domain, in place of the location lookup of its Request-URI. Route
 * processing (RFC 3261 §16.4) is unchanged: when a Route value that is
 * not ours is left, the request follows it and these are ignored.
 */
struct hook_fwd {
	const struct hook_target *t; /**< in the arena */
	unsigned nt;		     /**< 0: no override */
	bool failover; /**< one after the other (flows of one device), not
			    forked in parallel */
	/** The caller may not learn which users exist (struct hook_req):
	 * a 480 for a user without a binding is answered as the 404 of an
	 * unknown user. Set by the core from hook_req.conceal. */
	bool conceal;
};

/**
 * One request on its way through the pipeline (DESIGN.md §2: sanity ->
 * flood/ban -> authenticate -> registrar | features -> route). Valid
 * during the hook call only; everything points into the message or the
 * shard's arena.
 */
struct hook_req {
	struct shard *sh;
	const struct peer *from;
	const struct sipmsg *m;
	struct arena *a;     /**< the shard's per-message arena */
	void *core;	     /**< the core's own state: do not touch */
	struct hook_fwd fwd; /**< HOOK_FEATURES may set it: where to route */
	/** HOOK_AUTH may set it: the request comes from an unauthenticated
	 * stranger who must not tell unknown users from unregistered ones
	 * (registrar.hide_users). */
	bool conceal;
};

/**
 * The hook stages. The first three take hook_fn (the request pipeline,
 * hook_run()); the others have their own function types and callers.
 * Each stage holds a list of up to HOOK_MAX functions, run in
 * ascending priority; functions of equal priority run in the order
 * they were added.
 */
enum hook_stage {
	HOOK_AUTH,	 /**< may challenge (401/407) or refuse (403) */
	HOOK_REGISTRAR,	 /**< REGISTER for a served domain */
	HOOK_FEATURES,	 /**< GRUU, feature codes, ... */
	HOOK_LOOKUP,	 /**< hook_lookup_fn: resolve before the location */
	HOOK_CLEAN,	 /**< hook_clean_fn: clean a request to forward */
	HOOK_USER_CHECK, /**< hook_user_fn: does a user exist */
	HOOK__COUNT,
};

/** Functions one stage holds at most. */
#define HOOK_MAX 8

/** What a hook returns when it did not fail. */
enum {
	HOOK_NEXT = 0, /**< go on with the next function, then stage */
	HOOK_DONE = 1, /**< the hook answered the request (hook_reply) */
};

/**
 * A function of HOOK_AUTH, HOOK_REGISTRAR or HOOK_FEATURES. Returns
 * HOOK_NEXT, HOOK_DONE, or a negative error (the core then answers
 * err_sip_status(err) if nothing was sent).
 * Thread: the shard that owns the request. Must not block.
 */
typedef int hook_fn(struct hook_req *r);

/**
 * Add @p fn to @p stage (HOOK_AUTH, HOOK_REGISTRAR or HOOK_FEATURES)
 * at priority @p prio: lower runs first, equal ones in the order
 * added. Errors: -EINVAL (another stage, @p fn NULL), -EEXIST (@p fn
 * is in the stage already), -ENOSPC (HOOK_MAX functions already).
 * Thread: control, while no shard runs (before shards_start(), after
 * shards_stop()).
 */
int hook_add(enum hook_stage stage, hook_fn *fn, int prio);

/**
 * Remove every function of every stage (what the installers added).
 * Thread: as hook_add().
 */
void hook_clear(void);

/**
 * Run @p stage for @p r: its functions in order, until one returns
 * HOOK_DONE or an error, which is returned. Returns HOOK_NEXT when all
 * returned it, or when the stage is empty (or not a hook_fn stage).
 * Thread: the shard.
 */
int hook_run(enum hook_stage stage, struct hook_req *r);

/**
 * HOOK_USER_CHECK: whether @p user (as in an AOR, unescaped) exists in
 * the served domain @p domain (lower case). The registrar provides it
 * from its users file; routing answers 404 for a user who does not
 * exist and 480 for one without a binding. Thread: any registered RCU
 * thread; must not block.
 */
typedef bool hook_user_fn(struct slice user, struct slice domain);

/** Add @p fn to HOOK_USER_CHECK; errors and thread as hook_add(). */
int hook_add_user_check(hook_user_fn *fn, int prio);

/**
 * True when @p user exists in @p domain: when no check is installed
 * (without a users file every user exists), or when one of them, in
 * order, says so. Thread: the shard.
 */
bool hook_user_exists(struct slice user, struct slice domain);

/**
 * HOOK_LOOKUP: resolve a Request-URI that names a user of a served
 * domain before the location lookup: @p ruri is sip/sips, ours, with a
 * user part. GRUU (features/gruu, RFC 5627) installs one.
 * Returns 0 when @p ruri is not for it (the lookup goes on), 1 with
 * either fwp->nt > 0 targets or *statusp set (404, 480...), or -ENOMEM.
 * Thread: a registered RCU thread outside a read section; must not
 * block. Ownership: targets live in @p a.
 */
typedef int hook_lookup_fn(const struct conf *c, struct slice ruri,
			   int64_t now_s, struct arena *a, struct hook_fwd *fwp,
			   unsigned *statusp);

/** Add @p fn to HOOK_LOOKUP; errors and thread as hook_add(). */
int hook_add_lookup(hook_lookup_fn *fn, int prio);

/**
 * The HOOK_LOOKUP functions in order, until one returns other than 0
 * (1 or an error), which is returned; 0 when none claims @p ruri.
 */
int hook_lookup(const struct conf *c, struct slice ruri, int64_t now_s,
		struct arena *a, struct hook_fwd *fwp, unsigned *statusp);

/**
 * HOOK_CLEAN: clean request @p m before it is forwarded, on edit list
 * @p el: remove what only features may add (features/intercom:
 * auto-answer markings). *rurip is the Request-URI of @p m when it is
 * sent as it is (else empty); the function may replace it with a
 * cleaned copy in @p a, which the caller then sends instead.
 * Returns 0 or a negative error (-ENOMEM). Thread: the shard.
 */
typedef int hook_clean_fn(struct edit_list *el, const struct sipmsg *m,
			  struct arena *a, struct slice *rurip);

/** Add @p fn to HOOK_CLEAN; errors and thread as hook_add(). */
int hook_add_clean(hook_clean_fn *fn, int prio);

/**
 * Every HOOK_CLEAN function in order, each given the Request-URI the
 * one before left; stops at the first error, which is returned. 0 when
 * none is installed.
 */
int hook_clean(struct edit_list *el, const struct sipmsg *m, struct arena *a,
	       struct slice *rurip);

/**
 * Answer the request of @p r with a final or provisional response,
 * through its server transaction so that retransmissions of the request
 * get the same answer. @p extra holds complete header lines, each ending
 * in CRLF (Contact, Date, WWW-Authenticate, ...); @p body may be empty
 * (give Content-Type in @p extra otherwise). Implemented by the core.
 * Errors: -ENOMEM, -EBADMSG (no response can be built), send errors.
 * Thread: the shard. Ownership: copied before return.
 */
int hook_reply(struct hook_req *r, unsigned status, const char *reason,
	       struct slice extra, struct slice body);

/**
 * Answer the request of @p r statelessly (RFC 3261 §16.11 style): the
 * response is sent once and nothing is kept, no server transaction and
 * no retransmission timer; a retransmitted request is handled anew. For
 * answers to sources that have not authenticated (challenges,
 * rejections), so that they cost no state. The ACK of such a final
 * response is absorbed by the core (its To tag is the derived one of
 * reply_build()). Errors as hook_reply(). Implemented by the core.
 * Thread: the shard. Ownership: copied before return.
 */
int hook_reply_stateless(struct hook_req *r, unsigned status,
			 const char *reason, struct slice extra);

/**
 * Log at info why the request of @p r is refused with @p status (403,
 * 404, 480 ...): "refused <proto> <source> <method> <R-URI>
 * call-id=<Call-ID>: <status> <why>", network values escaped, at most 10
 * such lines a second per shard. Implemented by the core.
 * Thread: the shard.
 */
void hook_log_refusal(const struct hook_req *r, unsigned status,
		      const char *why);
