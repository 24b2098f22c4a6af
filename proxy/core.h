/* proxy/core.h - what a shard does with one received message */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/base/slice.h"

struct arena;
struct conf;
struct shard;
struct sipmsg;
struct tp_peer;

/**
 * Handle one complete message (already framed for TCP) that arrived
 * from @p from, on the shard that owns it: parse; responses go to their
 * client transaction (or statelessly by Via); requests are matched to
 * their server transaction (retransmissions, ACK, CANCEL), validated
 * (sanity, loop 482, overload 503), passed through the hooks
 * (proxy/hook.h) and routed (proxy/route.h). Malformed input is
 * answered 400 or dropped, never trusted.
 * Thread: the shard @p sh. Ownership: @p buf is valid during the call
 * only.
 */
void core_handle(struct shard *sh, const struct tp_peer *from, const char *buf,
		 size_t len);

/** The core's state of one shard: its proxy and timer wheel. */
struct core;

/**
 * Make the core of shard @p sh, whose loop clock reads @p now_ms.
 * Errors: -ENOMEM. Thread: control, before the shard runs.
 * Ownership: core_free().
 */
int core_new(struct shard *sh, uint64_t now_ms, struct core **kp);

/**
 * Terminate every transaction (nothing is sent) and free. NULL is
 * allowed. Thread: control, after the shard stopped.
 */
void core_free(struct core *k);

/** How often core_tick() wants to run. */
#define CORE_TICK_MS 10

/**
 * Move the shard's timers to @p now_ms (its loop clock): transaction
 * timers, Timer C, the dialog sweep. Thread: the shard.
 */
void core_tick(struct shard *sh, uint64_t now_ms);

/** Live transactions of the shard @p sh. Thread: the shard. */
size_t core_txn_count(struct shard *sh);

/**
 * Answer the request in @p buf 503 with Retry-After, statelessly,
 * from the shard @p sh that read it (its owner is overloaded: the
 * message is not queued). ACKs and responses are dropped.
 * Thread: the shard @p sh.
 */
void core_reject(struct shard *sh, const struct tp_peer *from, const char *buf,
		 size_t len);

/** What to do with one message, as core_decide() says. */
enum core_action {
	CORE_DROP,     /**< send nothing */
	CORE_REPLY,    /**< answer statelessly with status, reason, extra */
	CORE_ROUTE,    /**< a request to route (proxy/route.h) */
	CORE_REGISTER, /**< REGISTER for a served domain: the registrar */
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
 * Decide what to do with a request @p m that matched no transaction,
 * which sipmsg_parse() parsed with result @p parsed, without touching a
 * socket or a table: responses and ACKs are dropped (the caller routes
 * those first); invalid requests get the status proxy/sanity.h names
 * (or are dropped when no response can be built); requests for the
 * proxy itself are answered (OPTIONS 200, unknown method 501, CANCEL
 * for nothing 481); a REGISTER for a served domain is CORE_REGISTER;
 * everything else is CORE_ROUTE.
 * Returns 0 with *vp set, or -ENOMEM.
 * Thread: the owner of @p a (usually a shard). Ownership: vp->extra
 * lives in @p a or is static; vp->reason is static or m->fault.
 */
int core_decide(const struct conf *c, const struct sipmsg *m, int parsed,
		struct arena *a, struct core_verdict *vp);
