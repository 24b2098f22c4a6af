/* proxy/pipeline.h - what a shard does with one received message */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/base/slice.h"

struct arena;
struct conf;
struct hangup;
struct nat;
struct shard_role;
struct shard;
struct sipmsg;
struct peer;

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
void pipeline_handle(struct shard *sh, const struct peer *from, const char *buf,
		     size_t len);

/**
 * The proxy role (RFC 3261 §16) as the runtime runs it: main.c hands it
 * to shards_start(). Its state per shard is a struct pipeline.
 */
extern const struct shard_role pipeline_role;

/** The proxy role's state of one shard: its proxy and timer wheel. */
struct pipeline;

/**
 * Make the proxy state of shard @p sh, whose loop clock reads @p now_ms.
 * Errors: -ENOMEM. Thread: control, before the shard runs.
 * Ownership: pipeline_free().
 */
int pipeline_new(struct shard *sh, uint64_t now_ms, struct pipeline **kp);

/**
 * Terminate every transaction (nothing is sent) and free. NULL is
 * allowed. Thread: control, after the shard stopped.
 */
void pipeline_free(struct pipeline *k);

/** The resolution of the shard's timer wheel; pipeline_tick() also
 * runs this long after the shard handled something. */
#define PIPELINE_TICK_MS 10

/**
 * Move the shard's timers to @p now_ms (its loop clock): transaction
 * timers, Timer C, the dialog sweep. Returns the loop time it is next
 * needed at: the first timer's tick or the next sweep (the shard
 * sleeps until then). Thread: the shard.
 */
uint64_t pipeline_tick(struct shard *sh, uint64_t now_ms);

/**
 * The dialog.end state of the proxy shard @p sh (proxy/hangup.h), or
 * NULL. Thread: the shard.
 */
struct hangup *pipeline_hangup(struct shard *sh);

/**
 * The keep-alives of NAT'd bindings of the proxy shard @p sh
 * (proxy/nat.h), or NULL. Thread: the shard.
 */
struct nat *pipeline_nat(struct shard *sh);

/** Live transactions of the shard @p sh. Thread: the shard. */
size_t pipeline_txn_count(struct shard *sh);

/**
 * Answer the request in @p buf 503 with Retry-After, statelessly,
 * from the shard @p sh that read it (its owner is overloaded: the
 * message is not queued). ACKs and responses are dropped.
 * Thread: the shard @p sh.
 */
void pipeline_reject(struct shard *sh, const struct peer *from, const char *buf,
		     size_t len);

/** What to do with one message, as pipeline_decide() says. */
enum pipeline_action {
	PIPELINE_DROP,	   /**< send nothing */
	PIPELINE_REPLY,	   /**< answer statelessly with status, reason, extra */
	PIPELINE_ROUTE,	   /**< a request to route (proxy/route.h) */
	PIPELINE_REGISTER, /**< REGISTER for a served domain: the registrar */
};

/** The outcome of pipeline_decide(). */
struct pipeline_verdict {
	enum pipeline_action action;
	unsigned status; /**< PIPELINE_REPLY: the status code */
	const char
	    *reason; /**< PIPELINE_REPLY: reason phrase; PIPELINE_DROP: why */
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
 * for nothing 481); a REGISTER for a served domain is PIPELINE_REGISTER;
 * everything else is PIPELINE_ROUTE.
 * Returns 0 with *vp set, or -ENOMEM.
 * Thread: the owner of @p a (usually a shard). Ownership: vp->extra
 * lives in @p a or is static; vp->reason is static or m->fault.
 */
int pipeline_decide(const struct conf *c, const struct sipmsg *m, int parsed,
		    struct arena *a, struct pipeline_verdict *vp);
