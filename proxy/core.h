/* proxy/core.h - what a shard does with one received message */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "proxy/base/slice.h"

struct arena;
struct conf;
struct shard;
struct sipmsg;
struct tp_peer;

/**
 * Handle one complete message (already framed for TCP) that arrived
 * from @p from, on the shard that owns its Call-ID: parse, validate,
 * answer or drop. Requests: OPTIONS addressed to the proxy -> 200 with
 * Allow, Supported, Accept; malformed -> 400 whose reason names the
 * fault; what cannot be routed yet -> the fitting 4xx/5xx; ACK is never
 * answered. Responses: malformed or stray ones are dropped.
 * Thread: the shard @p sh. Ownership: @p buf is valid during the call
 * only.
 */
void core_handle(struct shard *sh, const struct tp_peer *from, const char *buf,
		 size_t len);

/** What to do with one message, as core_decide() says. */
enum core_action {
	CORE_DROP,  /**< send nothing */
	CORE_REPLY, /**< answer statelessly with status, reason, extra */
};

/** The outcome of core_decide(). */
struct core_verdict {
	enum core_action action;
	unsigned status;    /**< CORE_REPLY: the status code */
	const char *reason; /**< CORE_REPLY: reason phrase; CORE_DROP: why */
	struct slice extra; /**< header lines for the reply, CRLF each */
	bool invalid;	    /**< malformed or failed validation (log it) */
};

/**
 * Decide what to do with message @p m, which sipmsg_parse() parsed with
 * result @p parsed, without touching a socket: responses and ACKs are
 * dropped; invalid requests get the status proxy/sanity.h names (or are
 * dropped when no response can be built); everything else gets the
 * answer the proxy gives while it cannot route (see core.c).
 * Returns 0 with *vp set, or -ENOMEM.
 * Thread: the owner of @p a (usually a shard). Ownership: vp->extra
 * lives in @p a or is static; vp->reason is static or m->fault.
 */
int core_decide(const struct conf *c, const struct sipmsg *m, int parsed,
		struct arena *a, struct core_verdict *vp);
