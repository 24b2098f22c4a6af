/* store/redis.h - redis backend: the location table shared by many nodes */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/**
 * The redis backend keeps every node's location table (store/loc.h) in
 * step through one Redis server (or a Sentinel-managed master); the
 * key schema is in docs/operations.md.
 *
 * Writes: each shard has its own hiredis async context on its own
 * uv_loop. When the shard publishes a set (loc_publish()), the
 * location observer turns the difference to the old set into
 * per-contact updates and deletes, stamped (loc_contact.stamp_ms), and
 * sends them as one EVALSHA of the update script without waiting: the
 * REGISTER is answered at once. The script applies them atomically
 * (newest stamp wins per contact; a delete leaves a tombstone for
 * REDIS_TOMBSTONE_S), keeps per-contact expiry in a sorted set, and
 * publishes the AOR's whole merged set on the channel NS:loc.
 *
 * Reads: the store thread (one per process, not a shard) subscribes to
 * that channel and applies every set to the local table, its own
 * changes included (store/loc.h, "Second writer"). On every
 * (re)connect it first writes the whole local table back (a Redis that
 * restarted empty gets it again; equal stamps change nothing), then
 * loads every AOR (SCAN, the only scan, never on a shard).
 *
 * Degraded: while Redis is away, routing goes on from the local table
 * and REGISTERs are answered; each shard queues its writes (at most
 * queue_max, then drops them with one log line and has the store
 * thread write the whole table back later) and replays them when it
 * reconnects. Every Redis call has a time-out: connect_timeout_ms,
 * command_timeout_ms.
 *
 * Sentinel: with sentinel addresses, the store thread asks them for the
 * master (SENTINEL get-master-addr-by-name), checks its ROLE, follows
 * +switch-master, and re-discovers after any error; shards reconnect
 * to whatever master the store thread found.
 *
 * Redis Cluster: with cluster seeds, the store thread reads CLUSTER
 * SLOTS and publishes a slot -> master map; each shard keeps a
 * connection per master and sends an AOR's update to the master of its
 * slot (MOVED followed once and the map read again, ASK with ASKING).
 * The store thread writes back and loads per master and subscribes on
 * one node (Pub/Sub is broadcast over the cluster). docs/operations.md,
 * "Redis Cluster".
 */
struct redis;
struct uv_loop_s;

/** How long a deleted binding blocks older writes of it (seconds). */
#define REDIS_TOMBSTONE_S 900

/** The most contacts of one AOR the backend reads from Redis. */
#define REDIS_MAX_CONTACTS 64

/** Where a Redis server (or a Sentinel) listens. */
struct redis_addr {
	bool is_unix;
	char host[64];	/**< IP literal, without brackets */
	uint16_t port;	/**< TCP port */
	char path[108]; /**< Unix socket path */
};

/**
 * Parse "IP:PORT", "[IPv6]:PORT" or "unix:/absolute/path" (no host
 * names: nothing resolves names here). Errors: -EINVAL. Thread: any.
 */
int redis_addr_parse(const char *s, struct redis_addr *ap);

/** What redis_start() needs (copied: the caller keeps it). */
struct redis_opts {
	const char *address;  /**< master address; NULL with sentinels */
	const char *password; /**< AUTH, or NULL */
	unsigned db;	      /**< SELECT */
	unsigned connect_timeout_ms;
	unsigned command_timeout_ms;
	unsigned queue_max;	      /**< writes queued per shard, at most */
	const char *ns;		      /**< key namespace: "sipedge" */
	const char *sentinel_master;  /**< Sentinel's master name, or NULL */
	const char *const *sentinels; /**< "IP:PORT" of each Sentinel */
	unsigned nsentinels;
	const char *const *cluster; /**< Redis Cluster seeds "IP:PORT" */
	unsigned ncluster;	    /**< 0: not a cluster */
};

/** Counters, summed over the shards and the store thread. */
struct redis_stats {
	bool connected;	     /**< the store thread is in step now */
	uint64_t written;    /**< updates Redis acknowledged */
	uint64_t queued;     /**< updates waiting now (all shards) */
	uint64_t dropped;    /**< updates dropped: queue full */
	uint64_t errors;     /**< updates Redis refused for good */
	uint64_t reconnects; /**< shard connections made */
	uint64_t applied;    /**< sets applied from Redis */
	uint64_t resyncs;    /**< full loads done by the store thread */
	uint64_t redirects;  /**< MOVED/ASK replies followed (cluster) */
};

/**
 * Start the backend for @p nshards shards: copy @p o, install the
 * location observer, start the store thread and wait (bounded: about
 * twice the connect time-out per address plus the load) for its first
 * attempt to write back and load the table. Redis being away is not an
 * error: the thread keeps trying and logs it.
 * Returns 0 with *rp set, or -EINVAL (bad address), -ENOMEM, -EAGAIN.
 * Thread: control, after loc_init(), before the shards run.
 * Ownership: redis_stop().
 */
int redis_start(const struct redis_opts *o, unsigned nshards,
		struct redis **rp);

/**
 * Stop the store thread, clear the observer and free. The shards must
 * have detached (they have stopped). NULL is allowed. Thread: control.
 */
void redis_stop(struct redis *r);

/**
 * Give shard @p shard its async context on @p loop and make it the
 * writer of the sets this thread publishes. Returns 0 or -ENOMEM,
 * -EINVAL. Thread: the shard's own, before its loop runs.
 */
int redis_shard_attach(struct redis *r, unsigned shard, struct uv_loop_s *loop);

/**
 * Begin to close shard @p shard's context: writes in flight get up to
 * command_timeout_ms to be acknowledged, then every handle of ours on
 * its loop closes and the loop may end. Writes still queued are lost
 * (logged). Thread: the shard's own, when it stops.
 */
void redis_shard_detach(struct redis *r, unsigned shard);

/** Counters (relaxed reads). NULL gives zeros. Thread: any. */
void redis_stats(const struct redis *r, struct redis_stats *out);
