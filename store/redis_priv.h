/* store/redis_priv.h - redis backend internals shared by its files */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "proxy/base/log.h"
#include "proxy/base/slice.h"
#include "proxy/base/stats.h"
#include "store/codec.h"
#include "store/loc.h"
#include "store/rcu.h"
#include "store/redis.h"

/*
 * Not for other modules: only store/redis.c (store thread),
 * store/redis_shard.c (per-shard writers) and store/redis_codec.c
 * (encoding) include this header, and the unit tests.
 */

struct redisAsyncContext;
struct redisContext;

/** Names derived from the namespace, and the script's SHA-1. */
struct redis__names {
	char ns[65];	  /**< "sipedge" */
	char channel[72]; /**< "sipedge:loc" */
	char sha[41];	  /**< hex SHA-1 of redis__script */
};

/** The update script (Lua), run with EVALSHA; see redis_codec.c. */
extern const char redis__script[];

/** Fill @p nm for namespace @p ns (NULL: "sipedge"). -EINVAL if bad. */
int redis__names_init(struct redis__names *nm, const char *ns);

/**
 * Append key "NS:KIND:{AOR}" (KIND "loc": the hash of contacts, "exp":
 * their expiry times). The braces keep both keys of an AOR in one
 * Redis Cluster slot.
 */
void redis__key(struct codec_buf *b, const struct redis__names *nm,
		const char *kind, struct slice aor);

/** Redis Cluster's number of key slots. */
#define REDIS_SLOTS 16384

/** The most masters of a Redis Cluster the backend follows. */
#define REDIS_MAX_MASTERS 64

/**
 * The Redis Cluster slot of key @p key (@p len bytes): CRC16-XMODEM of
 * the key, or of its hash tag ("{...}", not empty), mod 16384.
 * Thread: any.
 */
unsigned redis__slot(const char *key, size_t len);

/**
 * The slot of the keys of @p aor ("NS:loc:{AOR}" and "NS:exp:{AOR}"
 * share it); @p tmp is scratch (reset first).
 */
unsigned redis__aor_slot(struct codec_buf *tmp, const struct redis__names *nm,
			 struct slice aor);

/** The AOR of a "NS:loc:{AOR}" key, or -EINVAL. */
int redis__key_aor(const struct redis__names *nm, struct slice key,
		   struct slice *aorp);

/**
 * True when @p a and @p b are the same binding: the same
 * +sip.instance and reg-id when either has an instance, else the same
 * URI (byte for byte). The hash field of a binding says the same.
 */
bool redis__same_binding(const struct loc_contact *a,
			 const struct loc_contact *b);

/** Append the hash field of binding @p c: "i:INSTANCE;REG_ID" or "u:URI". */
void redis__field(struct codec_buf *b, const struct loc_contact *c);

/**
 * Append the stored value of @p c: codec_contact_print() in CODEC_REDIS
 * form (store/codec.h), stamp first:
 *   STAMP EXPIRES Q FLAGS REG_ID CSEQ PROTO ADDR URI PATH INSTANCE
 *   CALL_ID USER_AGENT
 * A tombstone is "STAMP -". TCP connection ids are not stored: they
 * mean nothing to another process.
 */
void redis__value(struct codec_buf *b, const struct loc_contact *c);

/**
 * Decode value @p p (@p len bytes, decoded in place: slices of *cp
 * point into it). Returns 0, 1 for a tombstone (*cp untouched), or
 * -EBADMSG.
 */
int redis__value_parse(char *p, size_t len, struct loc_contact *cp);

/**
 * Decode a message of the channel: the percent-encoded AOR, then one
 * value per live contact, separated by LF; in place. At most @p max
 * contacts go to @p c (more: -E2BIG). Returns 0 with *aorp, *np set,
 * or -EBADMSG, -E2BIG.
 */
int redis__msg_parse(char *p, size_t len, struct slice *aorp,
		     struct loc_contact *c, unsigned max, unsigned *np);

/** Start a RESP array of @p n elements. */
void redis__resp_array(struct codec_buf *b, unsigned n);

/** Append one RESP bulk string. */
void redis__resp_bulk(struct codec_buf *b, const void *p, size_t n);

/** One change of a binding for the update script. */
struct redis__op {
	const struct loc_contact *c;
	int64_t stamp_ms; /**< the contact's stamp, or the delete's */
	bool del;
};

/**
 * The RESP of "EVALSHA sha 2 NS:loc:{AOR} NS:exp:{AOR} CHANNEL AOR_ENC
 * TOMBSTONE_S [FIELD STAMP EXPIRES VALUE]..." (VALUE empty: delete)
 * into @p out (reset first); @p tmp is scratch. Returns 0 or -ENOMEM.
 */
int redis__cmd_update(struct codec_buf *out, struct codec_buf *tmp,
		      const struct redis__names *nm, struct slice aor,
		      const struct redis__op *ops, unsigned nops);

/**
 * The changes from set @p old to set @p cur as ops into *opsp (a
 * malloc'd array grown as needed, *capp its capacity): an upsert for
 * each contact of @p cur not in @p old with the same stamp, a delete
 * (stamped above the old contact) for each live contact of @p old
 * without a binding in @p cur. Contacts that never expire (the config's
 * locations) and expired ones (at @p now_ms) are left out. A delete is
 * stamped max(@p now_ms, the old contact's + 1): the observer gives the
 * change's stamp as @p now_ms (store/loc.h), so that a later change of
 * the AOR by another shard, stamped above it, wins in Redis whatever
 * order the two writes arrive in. Returns the number of ops, or
 * -ENOMEM.
 */
int redis__diff(const struct loc_set *old, const struct loc_set *cur,
		int64_t now_ms, struct redis__op **opsp, unsigned *capp);

/**
 * Where writes go, published by the store thread under RCU: one master
 * (a fixed address or Sentinel's), or a Redis Cluster's masters and
 * which one serves each slot. Immutable once published.
 */
struct redis__map {
	unsigned gen;	   /**< bumped whenever it changes */
	bool cluster;	   /**< false: masters[0] serves every slot */
	unsigned nmasters; /**< 1..REDIS_MAX_MASTERS */
	struct redis_addr masters[REDIS_MAX_MASTERS];
	uint8_t slot[REDIS_SLOTS]; /**< cluster: index in masters, or
					REDIS_NO_MASTER */
	struct rcu_head rcu;
};

#define REDIS_NO_MASTER 0xff

/**
 * Copy the master of slot @p slot into *ap and the map's generation
 * into *genp. False when none is known (yet). Thread: any registered
 * RCU thread.
 */
bool redis__route(struct redis *r, unsigned slot, struct redis_addr *ap,
		  unsigned *genp);

/** The generation of the current map, 0 when none. */
unsigned redis__map_gen(struct redis *r);

/** True when @p a is a master of the current map. */
bool redis__map_has(struct redis *r, const struct redis_addr *a);

/**
 * Ask the store thread to read the cluster's topology again (a MOVED,
 * a connection error); it does so at most every REFRESH_MIN_MS.
 * Thread: any.
 */
void redis__want_refresh(struct redis *r);

/**
 * A blocking connection to @p a with the backend's time-outs (connect,
 * then every command), keep-alive, AUTH and SELECT done: for other
 * store modules that make their own round trips (store/park_redis.c).
 * NULL on failure, with the reason in @p why. Thread: any; blocks up to
 * connect_timeout_ms plus two command time-outs. Ownership: redisFree().
 */
struct redisContext *redis__connect(const struct redis *r,
				    const struct redis_addr *a, char *why,
				    size_t whylen);

/** Same address? */
bool redis__addr_same(const struct redis_addr *a, const struct redis_addr *b);

/** "IP:PORT", "[IPv6]:PORT" or "unix:/path" of @p a into @p buf. */
void redis__addr_name(const struct redis_addr *a, char *buf, size_t len);

/** A write waiting for Redis: one malloc'd block. */
struct redis__req {
	struct redis__req *next;
	uint64_t sent_ms; /**< uv_now() when handed to hiredis */
	unsigned tries;
	unsigned slot; /**< of its keys */
	int via;       /**< a MOVED/ASK target link to try once, or -1 */
	bool asking;   /**< ASK: send ASKING before it */
	size_t len;
	char cmd[]; /**< RESP */
};

enum redis__wstate {
	REDIS_W_DOWN,
	REDIS_W_CONNECTING,
	REDIS_W_HANDSHAKE, /**< AUTH, SELECT, SCRIPT LOAD sent */
	REDIS_W_UP,
};

/** The most connections one shard keeps (masters, and redirect
 * targets not in the map yet). */
#define REDIS_MAX_LINKS REDIS_MAX_MASTERS

struct redis__shard;

/** One shard's connection to one server. */
struct redis__link {
	struct redis__shard *w;
	bool used;
	struct redis_addr addr;
	struct redisAsyncContext *ac;
	enum redis__wstate state;
	bool kill, down_logged;
	uint64_t since_ms; /**< CONNECTING or HANDSHAKE since */
	uint64_t retry_ms; /**< DOWN: next attempt */
	uint64_t hold_ms;  /**< UP but told to wait (TRYAGAIN...): until */
	unsigned backoff_ms;
	struct redis__req *f_head, *f_tail; /**< sent, no reply yet */
	unsigned nf;
};

/** A shard's writer: everything here belongs to that shard's thread,
 * but the counters, which anyone reads (relaxed). */
struct redis__shard {
	struct redis *r;
	unsigned id;
	uv_loop_t *loop;
	uv_timer_t timer;
	bool attached, closed, stopping;
	unsigned gen; /**< of the map last followed */
	struct redis__link links[REDIS_MAX_LINKS];
	struct redis__req *q_head, *q_tail; /**< not sent yet */
	unsigned nq, nf;		    /**< nf: all links */
	bool full; /**< "queue full" logged for this episode */
	struct codec_buf cmd, tmp;
	struct redis__op *ops;
	unsigned ops_cap;
	struct log_ratelimit rl;
	uint64_t written, dropped, errors, reconnects, waiting, redirects;
};

/** The backend: set up by redis_start(), read by every thread. */
struct redis {
	/* Settings, immutable after redis_start(). */
	char *password;
	unsigned db;
	unsigned connect_timeout_ms;
	unsigned command_timeout_ms;
	unsigned queue_max;
	struct redis__names nm;
	bool have_fixed;
	struct redis_addr fixed;
	char *master_name;
	struct redis_addr *sentinels;
	unsigned nsentinels;
	struct redis_addr *seeds; /**< Redis Cluster seeds */
	unsigned nseeds;
	unsigned nshards;
	struct redis__shard *shards;

	/* Shared. */
	struct redis__map *map;	  /**< RCU; NULL until known */
	atomic_bool need_push;	  /**< a shard dropped writes */
	atomic_bool need_refresh; /**< a shard saw MOVED or lost a node */
	atomic_bool connected;
	atomic_bool stop;
	atomic_ulong applied, resyncs;
	int wake_fd; /**< eventfd: wakes the store thread */

	/* Start-up hand-shake. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool first_done;
	bool thread_started;
	pthread_t thread;
	struct stats_source stats; /**< registered counters (redis_stats) */
};

/** The location observer: hands the change to this thread's writer. */
void redis__observe(struct slice aor, const struct loc_set *old,
		    const struct loc_set *cur, int64_t stamp_ms);

/**
 * Apply set @p c[0..n) read from Redis for @p aor to the local table:
 * expired contacts dropped, this node's own flows (TCP connection) kept
 * for bindings whose stamp did not change, the config's static
 * contacts kept; nothing is published when the set is the same.
 * Returns 1 when the table changed, 0 when not, or -ENOMEM.
 * Thread: the store thread (a registered RCU thread).
 */
int redis__apply(struct slice aor, struct loc_contact *c, unsigned n,
		 int64_t now_s);
