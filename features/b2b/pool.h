/* features/b2b/pool.h - the B2B worker pool: the B2BUA role on its own
 * group of shards, behind an internal loopback UDP socket */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "proxy/base/slice.h"
#include "proxy/core/shard.h"

struct conf;
struct peer;
struct pool;
struct sipmsg;

/*
 * The pool (DESIGN.md §1, issue #12) is a second group of shards
 * (proxy/core/shard.h shards_start_opts(), counters module "b2b") that
 * runs pool_role instead of the proxy's pipeline_role. Its workers share
 * one UDP socket address on loopback (b2b.listen, a free port by
 * default) with SO_REUSEPORT; a message is handled by the worker that
 * owns its Call-ID, as in the proxy's group, so a call belongs to one
 * worker, unless the pool addresses a worker itself (pool_steer()): a
 * request whose Request-URI names "b2b-N" (the Contact the UA core gives
 * worker N's dialogs) goes to worker N, and an application may claim
 * out-of-dialog requests for a worker of its choice
 * (pool_set_steer()), so that one worker can hold calls with many
 * Call-IDs (a park lot). The proxy routes to the pool like to any next hop, and
 * every request the pool sends goes out through the proxy; the proxy trusts
 * requests whose source is exactly the pool's socket (pool_is_source()).
 *
 * The role answers on its own only what a UA without calls answers:
 * OPTIONS 200 (Allow, Accept), an in-dialog request or CANCEL 481
 * (RFC 3261 §12.2.2, §9.2), any other request 501, and absorbs ACKs and
 * responses. The UA core plugs in ahead of these answers through
 * struct pool_ua (pool_set_ua()).
 */

/** What a struct pool_ua request function did with the request. */
enum {
	POOL_UA_PASS = 0, /**< not the UA's: the role's default answer */
	POOL_UA_DONE = 1, /**< answered, absorbed or taken over by the UA */
};

/** Make the UA's state of pool worker @p sh (control thread, before
 * the worker runs). Returns 0 with *statep set, or a negative error. */
typedef int pool_ua_new_fn(struct shard *sh, uint64_t now_ms, void **statep);
/** Free it (control thread, after the worker stopped; NULL allowed). */
typedef void pool_ua_free_fn(void *state);
/**
 * A request the worker @p sh owns, parsed without fault, from @p from.
 * Returns POOL_UA_DONE, POOL_UA_PASS, or a negative error (the role
 * answers 500 when the request is not an ACK).
 */
typedef int pool_ua_request_fn(struct shard *sh, void *state,
			       const struct peer *from, const struct sipmsg *m);
/** A response the worker owns, parsed without fault; true when one of
 * the UA's client transactions took it (else it is counted dropped). */
typedef bool pool_ua_response_fn(struct shard *sh, void *state,
				 const struct peer *from,
				 const struct sipmsg *m);
/** The UA's timers at @p now_ms of the worker's loop clock; returns the
 * loop time it is next needed at, or SHARD_TICK_NONE (the worker's
 * shard_role.tick: it also runs POOL_TICK_MS after the worker handled
 * something, and when shard_tick_at() asks). */
typedef uint64_t pool_ua_tick_fn(struct shard *sh, void *state,
				 uint64_t now_ms);

/** The UA's timer resolution; pool_ua.tick runs this long after the
 * worker handled something. */
#define POOL_TICK_MS 10u

/**
 * The UA core (next to come: dialogs, originate, 100rel): every
 * function runs on the worker's own thread, but new_state and
 * free_state (control). All but allow may be NULL. Ownership: static
 * storage, outlives the pool.
 */
struct pool_ua {
	const char *name;	     /**< for logs ("ua") */
	pool_ua_new_fn *new_state;   /**< with free_state */
	pool_ua_free_fn *free_state; /**< NULL is passed too */
	pool_ua_request_fn *request;
	pool_ua_response_fn *response;
	pool_ua_tick_fn *tick;
	/** Optional: the worker stops; on its thread, its loop still
	 * running (close what the UA opened on it). */
	void (*stop)(struct shard *sh, void *state);
	/** The Allow header's value the pool answers with (RFC 3261
	 * §20.5); NULL: "OPTIONS, ACK, BYE, CANCEL". */
	const char *allow;
};

/**
 * Plug @p ua (NULL: none) into the pools started from now on.
 * Returns 0, or -EINVAL (new_state without free_state or the reverse).
 * Thread: control, while no pool runs.
 */
int pool_set_ua(const struct pool_ua *ua);

/**
 * An application's choice of worker for request @p buf (raw, @p len
 * bytes, not parsed; its Request-URI @p ruri): a worker index below
 * @p workers, or -1 for the default. Thread: any shard of the pool;
 * must not block.
 */
typedef int pool_steer_fn(const char *buf, size_t len, struct slice ruri,
			  unsigned workers);

/**
 * Set the application's steering (NULL: none). Thread: control, before
 * the pool starts.
 */
void pool_set_steer(pool_steer_fn *fn);

/** The user part of worker @p id's Contact ("b2b-ID"), into @p buf;
 * its length, or -ENOSPC. Thread: any. */
int pool_contact_user(unsigned id, char *buf, size_t size);

/**
 * The worker request @p buf goes to: "sip:b2b-N@" in its Request-URI
 * names worker N (< @p workers); else what pool_set_steer()'s function
 * says; else -1 (by Call-ID). Responses: -1. The pool role's
 * shard_role.steer. Thread: any.
 */
int pool_steer(const char *buf, size_t len, unsigned workers);

/**
 * The UA core's state of pool worker @p sh (what pool_ua.new_state
 * made), or NULL (no UA core). @p sh must be a pool worker (a proxy
 * shard's role state is not a pool's). Thread: the worker @p sh.
 */
void *pool_ua_state(struct shard *sh);

/**
 * The address of the pool that runs in this process (its port
 * resolved): where the UA core's Via and Contact point. Returns 0 with
 * *ssp and *lenp set, or -ENOENT (no pool runs). Thread: any; on a
 * worker, always 0 (its pool runs).
 */
int pool_self_addr(struct sockaddr_storage *ssp, socklen_t *lenp);

/** The role table pool workers run (proxy/core/shard.h); pool_start()
 * runs it without the tick when the UA core has no tick function. */
extern const struct shard_role pool_role;

/**
 * Start the pool b2b_conf(@p c) describes: b2b.workers threads on the
 * address b2b.listen (port 0: a free port, the same for every worker).
 * With b2b.workers 0 nothing starts: 0 with *pp NULL. Publishes the
 * pool's address for pool_is_source() once its workers run.
 * Returns 0, or a negative error (-EADDRINUSE, -ENOMEM, -EBUSY when a
 * pool already runs in this process, ...) after logging it; nothing
 * runs on error.
 * Thread: control. Ownership: @p c must outlive the pool (the pool runs
 * with the config it started with: reload does not reach it, so b2b.*
 * keys need a restart; TODO(#12): shards_set_conf() for the pool too).
 */
int pool_start(const struct conf *c, struct pool **pp);

/**
 * Stop the workers (pending shard_post() items are told with a NULL
 * shard), withdraw the address from pool_is_source(), free. NULL is
 * allowed. Thread: control.
 */
void pool_stop(struct pool *p);

/** Worker threads (0 for NULL). Thread: any while the pool runs. */
unsigned pool_workers(const struct pool *p);

/**
 * The pool's address as text: "127.0.0.1:PORT", "[::1]:PORT" (the
 * chosen port). Thread: any while the pool runs. Ownership: the pool's.
 */
const char *pool_address(const struct pool *p);

/**
 * The pool's socket address (port resolved). Returns 0 with *ssp and
 * *lenp set, or -EINVAL (@p p NULL). Thread: any while the pool runs.
 */
int pool_sockaddr(const struct pool *p, struct sockaddr_storage *ssp,
		  socklen_t *lenp);

/**
 * The worker group, for shard_post() and shards_stats(). Thread: any
 * while the pool runs.
 */
struct shards *pool_shards(struct pool *p);

/**
 * Run @p fn(sh, @p arg) on the worker that owns Call-ID @p call_id (the
 * worker that will receive the call's messages): the way into the pool
 * for management (originate) and other threads. As shard_post(): 0 and
 * @p fn called exactly once (sh NULL when the pool stops first), or
 * -EINVAL, -ENOBUFS (the worker's inbox is full: answer 503), -ENOMEM
 * and @p fn not called. Thread: any while the pool runs.
 * Ownership: @p arg passes to @p fn when 0 is returned.
 */
int pool_post(struct pool *p, struct slice call_id, shard_post_fn *fn,
	      void *arg);

/**
 * True when @p from is the pool's own socket: UDP, and exactly the
 * pool's address and port. The proxy trusts such requests (no digest
 * challenge, as registrar.trusted). Nothing off the host can forge it:
 * the address is loopback (b2b.listen allows nothing else), and the
 * kernel drops packets with a loopback source arriving on any other
 * interface (martian filtering); on the host, only a process of the
 * same user can bind the port while the pool holds it (SO_REUSEPORT
 * groups are per user). False when no pool runs. Thread: any.
 */
bool pool_is_source(const struct peer *from);

/**
 * Answer request @p m from @p from statelessly from pool worker @p sh
 * (RFC 3261 §8.2.6): @p status, the Server header, @p extra lines
 * (complete, CRLF-ended; may be empty), sent to reply_dest().
 * Returns 0, or -EINVAL (ACK, a response), -EBADMSG (no usable Via or
 * CSeq), -ENOMEM, or tp_send()'s error. Thread: the worker @p sh.
 */
int pool_reply(struct shard *sh, const struct peer *from,
	       const struct sipmsg *m, unsigned status, struct slice extra);
