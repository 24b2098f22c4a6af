/* store/park.h - park slot table: (domain, slot) -> the parked call
 * (RCU hash table for store.type memory; Redis for store.type redis) */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/base/slice.h"

struct redis;

/*
 * One record per occupied slot of a park lot (features/park, issue
 * #13). The table is the truth about which slot is taken: a claim is
 * one atomic insert (cds_lfht_add_unique), so two threads (or, with a
 * shared backend later, two nodes) never get the same slot; a release
 * succeeds only for the holder that claimed it (its token). Readers
 * (park.list, the retrieve path) copy records out under RCU.
 *
 * The record holds what a later takeover by another node needs to
 * re-INVITE the parked party in its own dialog (Call-ID, tags, remote
 * target, route set, CSeq: issue #13 "node takeover") and the node
 * that holds the call (its id and its pool's address, so that another
 * node routes a retrieval there).
 *
 * Backends. Memory (park_init() alone): the RCU table above; a record
 * lives and dies with the process. Redis (park_redis_start() after
 * park_init(), store.type redis): Redis is the truth and every node
 * sees every slot (store/park_redis.c; keys in docs/operations.md). A
 * claim, release and update is one Lua script on the lot's keys; a
 * record is held under a lease (PARK_LEASE_MS) that a thread of the
 * holding node refreshes every PARK_REFRESH_MS for all its slots in
 * one pipelined round trip; a slot whose lease ran out is free to
 * claim and no longer listed. Nothing is cached but the slots this
 * node holds (to refresh their leases) and the other nodes' slots the
 * park thread last saw (to tell the watcher of their changes).
 *
 * Threads: every function may be called from any registered RCU thread
 * (outside a read section), between park_init() and park_fini().
 * Memory: nothing blocks. Redis: claim, release, update, get and list
 * make one round trip to Redis on a connection shared under a mutex,
 * bounded by store.redis.command_timeout_ms (and connect_timeout_ms
 * when it must reconnect); a pool worker waits that long at most.
 * Records are values: the caller owns its copies.
 */

/** Longest domain, identity, Call-ID, tag, URI and route set kept. */
#define PARK_DOMAIN_MAX	  254
#define PARK_IDENTITY_MAX 256
#define PARK_CALL_ID_MAX  128
#define PARK_TAG_MAX	  64
#define PARK_ROUTE_MAX	  512
/** A node id (hex) and a pool address ("sip:IP:PORT"). */
#define PARK_NODE_MAX 32
#define PARK_POOL_MAX 64
/** The o= line's value of the holder's last SDP ("USER SESS VER IN IP4
 * ADDR"), and the holding node's proxy addresses ("HOST:PORT ...", what
 * its Record-Route values name). */
#define PARK_SDP_O_MAX 160
#define PARK_PROXY_MAX 160

/** A holder's lease in Redis, and how often its node renews it. */
#define PARK_LEASE_MS	3000
#define PARK_REFRESH_MS 1000
/** How long a dead holder's slot (lease run out, record still there)
 * stays out of park_claim()'s reach, so that a survivor's takeover
 * (found within PARK_REFRESH_MS) is not overtaken by a new park. */
#define PARK_TAKE_GRACE_MS 10000

/** One occupied slot (a value type: fields public, NUL-terminated). */
struct park_rec {
	char domain[PARK_DOMAIN_MAX + 1]; /**< lower case */
	unsigned slot;
	/** The parked party's identity: its From (name-addr as sent). */
	char parked[PARK_IDENTITY_MAX + 1];
	/** Who parked it (a URI): the Referred-By of a transferee's
	 * INVITE, else its From; the timeout calls it back. */
	char parker[PARK_IDENTITY_MAX + 1];
	int64_t since_s; /**< CLOCK_REALTIME seconds of the claim */
	/** The holder's token (park_claim() hands it out); 0 in copies
	 * for readers who do not hold the slot is never the case: the
	 * token is not secret, it guards against stale releases. */
	uint64_t holder;
	unsigned worker; /**< the pool worker that holds the call */
	/* What a takeover needs: the parked leg's dialog, as the UA
	 * that holds it sees it (local = the pool's side). */
	char call_id[PARK_CALL_ID_MAX + 1];
	char local_tag[PARK_TAG_MAX + 1];
	char remote_tag[PARK_TAG_MAX + 1];
	char remote_target[PARK_IDENTITY_MAX + 1]; /**< the peer's Contact */
	char route[PARK_ROUTE_MAX + 1]; /**< route set, comma-joined */
	uint32_t local_cseq;		/**< our last CSeq in the dialog */
	char local_uri[PARK_IDENTITY_MAX + 1];	/**< our From URI in it */
	char remote_uri[PARK_IDENTITY_MAX + 1]; /**< our To URI in it */
	/** The o= value of the last SDP the holder sent in the dialog: a
	 * takeover's offer continues that session (RFC 3264 §8). Empty in
	 * records of older nodes: such a slot is released, not taken. */
	char sdp_o[PARK_SDP_O_MAX + 1];
	/** The holding node's proxy addresses (park_set_proxy()): route
	 * set entries naming them are left out by a takeover. */
	char proxy[PARK_PROXY_MAX + 1];
	/* Set by park_claim(): who holds the call. */
	char node[PARK_NODE_MAX + 1]; /**< park_node_id() of the holder */
	char pool[PARK_POOL_MAX + 1]; /**< its pool's "sip:IP:PORT", or "" */
};

/**
 * Make the table (empty). Returns 0, -EALREADY, -ENOMEM.
 * Thread: control, before any user.
 */
int park_init(void);

/**
 * Switch the table to Redis @p r (store/redis.h: its servers, password,
 * db, time-outs and namespace; Sentinel and Cluster through its map),
 * and start the park thread (leases, other nodes' changes). Redis being
 * away is not an error: calls fail with -EIO until it is back.
 * Returns 0, -EALREADY, -ENOMEM, -EAGAIN (no thread).
 * Thread: control, after park_init(), before the B2B pool starts.
 * Ownership: park_fini() stops it; @p r must outlive that.
 */
int park_redis_start(struct redis *r);

/** This process's node id (random hex, new at every start). Thread: any
 * after park_init(). */
const char *park_node_id(void);

/** True when @p r is held by this node. Thread: any. */
bool park_is_local(const struct park_rec *r);

/**
 * Set the pool address records claimed from now on carry ("sip:IP:PORT",
 * at most PARK_POOL_MAX; NULL or "": none). Thread: control, before the
 * pool takes calls.
 */
void park_set_self(const char *pool_uri);

/**
 * Set the proxy addresses records claimed from now on carry: this
 * node's listeners as its Record-Route values name them ("HOST:PORT",
 * space-separated, at most PARK_PROXY_MAX; NULL or "": none). Thread:
 * control, before the pool takes calls.
 */
void park_set_proxy(const char *hostports);

/** This node's proxy addresses (park_set_proxy()) into @p out (@p size
 * bytes, NUL-terminated, cut). Thread: any. */
void park_self_proxy(char *out, size_t size);

/**
 * Told that this node took over slot @p r of a node that died (Redis:
 * its lease ran out, and the park thread won the one atomic move of the
 * record to this node, issue #13): @p r is the record as it is now
 * (holder: this node's new token; node, pool and proxy: this node's;
 * the dialog fields as the dead holder last wrote them; its old proxy
 * addresses in @p old_proxy). This node holds the slot from now on
 * (its lease is renewed): the callee resumes the call or releases the
 * slot (park_release()). Called on the park thread, outside any RCU
 * read section; it must not block. Ownership: both borrowed for the
 * call.
 */
typedef void park_takeover_fn(const struct park_rec *r, const char *old_proxy,
			      void *arg);

/**
 * Told that slot @p slot of @p domain (lower case), which this node held
 * with token @p holder, was taken over by another node while our lease
 * had run out (this node froze, or lost Redis, longer than
 * PARK_LEASE_MS): the other node re-INVITEs the party; this one must
 * let its call go without a request in the dialog (no BYE) and without
 * park_release(). Called on the park thread; must not block.
 * Ownership: @p domain borrowed for the call.
 */
typedef void park_lost_fn(const char *domain, unsigned slot, uint64_t holder,
			  void *arg);

/**
 * Set the one taker @p fn and the one loser @p lost (NULL: none; with no
 * taker, slots of dead nodes are not taken over and leave the list when
 * their lease runs out). Records without the takeover fields (sdp_o,
 * local_uri, remote_uri: written by an older node) are released
 * instead, with a log line. Memory backend: never called (one node).
 * Thread: any (the park thread sees the change at its next round).
 */
void park_set_takeover(park_takeover_fn *fn, park_lost_fn *lost, void *arg);

/** Free the table and its records. Thread: control, after its users
 * stopped. NULL-safe (nothing made: nothing done). */
void park_fini(void);

/**
 * Claim a slot of lot @p r->domain (lower case) for record @p r:
 * @p want when it is not 0 (it must be in @p min..@p max), else the
 * first free slot from @p min to @p max. Atomic: of claimers racing
 * for one slot exactly one gets it. On success r->slot, r->holder (a
 * new token) and, when 0, r->since_s are set and the record is
 * published; r->node and r->pool say this node. Returns 0, or -EBUSY
 * (@p want is taken, or every slot is: the lot is full), -EINVAL (a bad
 * range, domain empty or too long, @p want outside the range), -ENOMEM,
 * -EIO (Redis: unreachable, or an error reply). Thread: any registered
 * RCU thread outside a read section.
 */
int park_claim(struct park_rec *r, unsigned min, unsigned max, unsigned want);

/**
 * Release slot @p slot of @p domain held by @p holder. Returns 0,
 * -ENOENT (no such record), -EPERM (someone else holds it), -EIO.
 * Thread: as park_claim().
 */
int park_release(struct slice domain, unsigned slot, uint64_t holder);

/**
 * Replace the takeover fields (call_id ... local_cseq, parked) of the
 * record of @p r->domain/@p r->slot held by @p r->holder with those of
 * @p r (a new record is published, the old one retired). Returns 0,
 * -ENOENT, -EPERM, -ENOMEM, -EIO. Thread: as park_claim().
 */
int park_update(const struct park_rec *r);

/**
 * Copy the record of @p slot in @p domain (any case) into @p out.
 * Returns 0, or -ENOENT (the slot is free), -EIO. Thread: as
 * park_claim().
 */
int park_get(struct slice domain, unsigned slot, struct park_rec *out);

/**
 * Copy up to @p max records of @p domain (empty: every domain) into
 * @p out, sorted by domain then slot. Returns how many there are in
 * all (may exceed @p max: only @p max were copied), or -EINVAL, -EIO.
 * Thread: as park_claim().
 */
int park_list(struct slice domain, struct park_rec *out, size_t max);

/**
 * Where another node holds slot @p slot of @p domain (any case), as
 * the park thread last saw it (Pub/Sub at once, a scan every
 * PARK_REFRESH_MS): its pool's URI into @p pool (NUL-terminated).
 * Nothing is asked of Redis: a proxy shard may call it for every
 * INVITE to a slot. Returns 0, -ENOENT (free, ours, or the memory
 * backend), -ENOSPC (@p size too small). Thread: any registered RCU
 * thread outside a read section; never blocks.
 */
int park_route_of(struct slice domain, unsigned slot, char *pool, size_t size);

/** Occupied slots in all lots (Redis: as the park thread last counted
 * them, at most PARK_REFRESH_MS ago). Thread: any. */
size_t park_count(void);

/** What happened to a slot (park_watch_fn). */
enum park_change {
	PARK_CHANGE_PARKED,  /**< claimed: a call waits in it */
	PARK_CHANGE_UPDATED, /**< the holder changed its record */
	PARK_CHANGE_FREED,   /**< released (retrieved, hung up) */
};

/**
 * Told every change of any slot: @p r the record (as it was, for
 * PARK_CHANGE_FREED): domain, slot, parked identity. Called on the
 * thread that made the change, right after it, outside any RCU read
 * section; it must not block nor call park_claim(), park_release() or
 * park_update(). The hook BLF (RFC 4235 dialog state of slots) hangs
 * on. With Redis, other nodes' changes (park_is_local() false) come in
 * on the park thread: at once by Redis Pub/Sub, and a slot whose holder
 * died (lease run out) as FREED within PARK_LEASE_MS + PARK_REFRESH_MS.
 * Ownership: @p r borrowed for the call.
 */
typedef void park_watch_fn(const struct park_rec *r, enum park_change what,
			   void *arg);

/**
 * Set the one watcher (NULL: none). Thread: control, before any thread
 * changes slots (before the B2B pool starts).
 */
void park_set_watch(park_watch_fn *fn, void *arg);
