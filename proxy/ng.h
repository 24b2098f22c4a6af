/* proxy/ng.h - rtpengine's ng control protocol: a client on one uv loop
 * (bencoded dictionaries over UDP, cookies, retries, fail-over) */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "proxy/base/bencode.h"
#include "proxy/base/slice.h"

struct uv_loop_s;
struct ng;
struct ng_call;

/** The most rtpengine instances one client knows. */
#define NG_MAX_SERVERS 8

/** One rtpengine instance: its ng address and its weight. */
struct ng_server {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	unsigned weight; /**< 1..1000; a greater share of calls */
};

/** How a client talks (copied by ng_new()). */
struct ng_opts {
	const struct ng_server *servers; /**< 1..NG_MAX_SERVERS, one family */
	unsigned nservers;
	unsigned timeout_ms; /**< wait for an answer per try (> 0) */
	unsigned retries;    /**< resends to one instance before the next */
	unsigned down_ms;    /**< an instance that never answered is skipped
				  this long */
};

/** The answer of an instance, valid during the ng_done_fn call only. */
struct ng_reply {
	struct slice raw;		  /**< the dictionary's bytes */
	const struct bencode_node *nodes; /**< nodes[0]: the dictionary */
	unsigned nnodes;
	unsigned server; /**< index of the instance that answered */
};

/**
 * The end of one request. @p err: 0 (result "ok" or "pong"),
 * -EREMOTEIO (result "error": "error-reason" in @p r), -EBADMSG (an
 * answer that is not a bencoded dictionary with a known result),
 * -ETIMEDOUT (no instance answered: every one tried was marked down),
 * -ECANCELED (ng_free() while it was pending). @p r is NULL but for 0
 * and -EREMOTEIO. Thread: the client's loop.
 */
typedef void ng_done_fn(void *arg, int err, const struct ng_reply *r);

/**
 * A client on @p loop: one UDP socket bound to the wildcard address of
 * the servers' family, one timer. Errors: -EINVAL (no server, more than
 * NG_MAX_SERVERS, weight 0 or > 1000, timeout 0, families mixed),
 * -ENOMEM, libuv's errors (socket, bind).
 * Thread: @p loop's, which must run for answers and timeouts.
 * Ownership: the caller's until ng_free().
 */
int ng_new(struct uv_loop_s *loop, const struct ng_opts *o, struct ng **ngp);

/**
 * Call every pending request's callback with -ECANCELED, close the
 * handles (freed when the loop has run their close callbacks). NULL is
 * allowed. Thread: the client's loop.
 */
void ng_free(struct ng *ng);

/**
 * Send the bencoded dictionary @p dict (a command: "ping", "offer",
 * "answer", "delete", "query"...) to the instance chosen for @p key
 * (the Call-ID: weighted rendezvous hashing, so every client sends one
 * call to the same instance while it is up), with a fresh cookie;
 * resend it after timeout_ms up to retries times, then mark that
 * instance down for down_ms and go on with the next one up. @p cb runs
 * exactly once when 0 is returned.
 * Errors (@p cb not called): -EHOSTDOWN (every instance is marked
 * down), -EINVAL (@p dict empty or over 60000 bytes), -ENOMEM.
 * *callp (may be NULL) is for ng_cancel() until @p cb runs.
 * Thread: the client's loop. Ownership: @p dict is copied.
 */
int ng_send(struct ng *ng, struct slice key, struct slice dict, ng_done_fn *cb,
	    void *arg, struct ng_call **callp);

/**
 * Forget a pending request: its callback never runs, a late answer is
 * dropped. Thread: the client's loop.
 */
void ng_cancel(struct ng_call *c);

/** What a client did, for its owner's counters. */
struct ng_counters {
	uint64_t sent;	    /**< requests (first tries) */
	uint64_t resent;    /**< retransmissions */
	uint64_t timeouts;  /**< instances that never answered a request */
	uint64_t failovers; /**< requests moved to the next instance */
	uint64_t stray;	    /**< answers matching no pending request */
};

/** The counters of @p ng. Thread: the client's loop. */
const struct ng_counters *ng_counters(const struct ng *ng);

/** Pending requests of @p ng. Thread: the client's loop. */
unsigned ng_pending(const struct ng *ng);

/**
 * Whether instance @p i is marked down now. Thread: the client's loop.
 */
bool ng_is_down(const struct ng *ng, unsigned i);
