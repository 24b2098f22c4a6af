/* proxy/hook.h - request pipeline stages that the registrar and features fill
 */
#pragma once

#include <stddef.h>

#include "proxy/base/slice.h"

struct arena;
struct shard;
struct sipmsg;
struct tp_peer;

/**
 * One request on its way through the pipeline (DESIGN.md §2: sanity ->
 * flood/ban -> authenticate -> registrar | features -> route). Valid
 * during the hook call only; everything points into the message or the
 * shard's arena.
 */
struct hook_req {
	struct shard *sh;
	const struct tp_peer *from;
	const struct sipmsg *m;
	struct arena *a; /**< the shard's per-message arena */
	void *core;	 /**< the core's own state: do not touch */
};

enum hook_stage {
	HOOK_AUTH,	/**< may challenge (401/407) or refuse (403) */
	HOOK_REGISTRAR, /**< REGISTER for a served domain */
	HOOK_FEATURES,	/**< GRUU, feature codes, ... (later issues) */
	HOOK__COUNT,
};

/** What a hook returns when it did not fail. */
enum {
	HOOK_NEXT = 0, /**< go on with the next stage */
	HOOK_DONE = 1, /**< the hook answered the request (hook_reply) */
};

/**
 * A pipeline stage. Returns HOOK_NEXT, HOOK_DONE, or a negative error
 * (the core then answers err_sip_status(err) if nothing was sent).
 * Thread: the shard that owns the request. Must not block.
 */
typedef int hook_fn(struct hook_req *r);

/**
 * Install @p fn at @p stage (one function per stage; NULL removes).
 * Thread: control, before shards_start().
 */
void hook_set(enum hook_stage stage, hook_fn *fn);

/**
 * Run @p stage for @p r. Returns HOOK_NEXT when nothing is installed.
 * Thread: the shard.
 */
int hook_run(enum hook_stage stage, struct hook_req *r);

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
