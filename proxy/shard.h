/* proxy/shard.h - SIP worker threads: one uv_loop, sockets and state each */
#pragma once

#include <stdint.h>

#include "proxy/base/slice.h"

struct conf;
struct arena;
struct core;
struct shards;
struct shard;

/** Per-shard counters. Written only by the owning shard (relaxed). */
struct shard_stats {
	uint64_t rx_msgs;      /**< messages received from the network */
	uint64_t tx_msgs;      /**< messages sent */
	uint64_t parse_errors; /**< messages rejected or dropped as malformed */
	uint64_t handoff_out;  /**< messages handed to another shard */
	uint64_t handoff_in;   /**< messages handed in by another shard */
	uint64_t dropped;      /**< stray responses, ACKs to nobody, ... */
	uint64_t tcp_accepted; /**< TCP connections accepted */
	uint64_t tcp_closed;   /**< TCP connections closed */
	uint64_t overloaded;   /**< requests answered 503 for overload */
};

/**
 * Bind every listener of @p c for each of c->workers shards
 * (SO_REUSEPORT) and start the shard threads.
 * Returns 0 with *sp set, or a negative error (-EADDRINUSE, -EACCES,
 * -ENOMEM, ...) after logging which address failed; nothing is left
 * running on error.
 * Thread: control. Ownership: @p c must outlive the shards.
 */
int shards_start(const struct conf *c, struct shards **sp);

struct uv_loop_s;

/** A per-shard hook (shards_set_hooks()): shard @p id, its loop. */
typedef void shard_hook_fn(unsigned id, struct uv_loop_s *loop, void *arg);

/**
 * Hooks for the shards of the next shards_start() (NULL: none), each
 * given @p arg: @p start runs on every shard's own thread before its
 * loop runs (to put a module's handles on it: the Redis writer),
 * @p stop on that thread when the shard is told to stop, before its
 * own handles close; @p stop must close what @p start opened.
 * Thread: control, while no shard runs.
 */
void shards_set_hooks(shard_hook_fn *start, shard_hook_fn *stop, void *arg);

/**
 * Stop every shard, join the threads, log each shard's counters, close
 * the sockets and free. NULL is allowed. Thread: control.
 */
void shards_stop(struct shards *s);

/** Number of shards. */
unsigned shards_count(const struct shards *s);

/**
 * A snapshot of shard @p i's counters (relaxed reads; for statistics).
 * Thread: any.
 */
void shards_stats(const struct shards *s, unsigned i, struct shard_stats *out);

/**
 * The shard, 0 .. @p nshards - 1, that owns @p key (a Call-ID; an AOR
 * for REGISTER): hash_slice() modulo @p nshards (byte-exact: Call-IDs
 * compare case-sensitively, RFC 3261 §20.8). The seed is random per
 * process (nobody outside can aim Call-IDs at one shard) and fixed for
 * its life: every shard and thread of one process agrees, another
 * process does not. @p nshards must not be 0. Thread: any.
 */
unsigned shard_owner(struct slice key, unsigned nshards);

/* The following are for code running on a shard (the core). */

/** This shard's index, 0 .. workers-1. */
unsigned shard_id(const struct shard *sh);

/** The configuration the shards run with. */
const struct conf *shard_conf(const struct shard *sh);

/** The shard's per-message arena, reset after each message. */
struct arena *shard_arena(struct shard *sh);

/** The shard's counters (the owning shard writes them). */
struct shard_stats *shard_stats(struct shard *sh);

/** The core's state of this shard (proxy/core.h). */
struct core *shard_core(struct shard *sh);
