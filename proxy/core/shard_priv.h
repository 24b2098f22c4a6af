/* proxy/core/shard_priv.h - shard internals shared with the UDP and TCP
 * transports
 */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <urcu/wfcqueue.h>
#include <uv.h>

#include "proxy/base/log.h"
#include "proxy/base/stats.h"
#include "proxy/core/shard.h"
#include "proxy/core/transport.h"

/*
 * Not for the core: only proxy/core/shard.c, proxy/core/transport.c,
 * proxy/core/udp.c and proxy/core/tcp.c include this header. Everything in
 * struct shard belongs to the shard thread, except the inbox (any thread
 * enqueues) and the statistics (any thread reads, relaxed).
 */

struct udp;
struct tcp;
struct alias;
struct shards;
struct conf_listen;
struct tls_srv;
struct tls_cli;

/**
 * Bytes (items and their headers) one shard's inbox may hold; past it,
 * as past overload.max_inbox items, nothing more is queued: requests
 * are answered 503, the rest dropped.
 * TODO: a config key overload.max_inbox_bytes.
 */
#define SHARD_INBOX_MAX_BYTES (16u * 1024 * 1024)

/**
 * Inbox items a shard runs per turn of its loop (one batch); it then
 * wakes itself again, so that its own sockets are served between
 * batches.
 */
#define SHARD_BATCH_MAX 256u

/** What an inbox item asks its shard to do. */
enum shard_item_kind {
	SHARD_ITEM_MSG,	 /**< handle a message another shard read */
	SHARD_ITEM_SEND, /**< write bytes on one of this shard's connections */
	SHARD_ITEM_POST, /**< run a function on this shard (shard_post()) */
};

/**
 * One hand-off between shards: a single malloc'd block, owned by the
 * queue once enqueued, freed by the receiving shard.
 */
struct shard_item {
	struct cds_wfcq_node node;
	enum shard_item_kind kind;
	struct peer peer;  /**< MSG: the sender; SEND: the destination */
	shard_post_fn *fn; /**< POST: what to run, with arg */
	void *arg;
	size_t len;
	char data[];
};

struct shard {
	struct shards *set;
	const struct conf *conf;
	unsigned id;

	uv_loop_t loop;
	uv_async_t async;     /**< inbox wake-up and stop request */
	uv_prepare_t prepare; /**< flushes, drains the inbox, then may sleep */
	uv_check_t check;     /**< flushes what the I/O callbacks queued */
	bool loop_init, async_init, prepare_init, check_init;
	/**
	 * False while the shard runs its callbacks and will look at its
	 * inbox again before it sleeps: then a shard that hands it items
	 * need not wake it (shard__flush()). Set by the shard in
	 * prepare_cb() before its last look at the inbox (seq_cst, against
	 * the sender's enqueue and fence), cleared when it wakes.
	 */
	atomic_bool idle;
	bool batch_ran; /**< this turn ran an inbox batch */

	pthread_t thread;
	bool thread_started;
	bool stopping;

	struct __cds_wfcq_head inbox_head;
	struct cds_wfcq_tail inbox_tail;
	struct cds_wfcq_node stop_node; /**< queued by shards_stop() */

	struct arena *arena;
	void *role_state; /**< the role's (struct shards role) */
	uv_timer_t tick;  /**< drives the role's timers, one shot */
	bool tick_init;
	uint64_t tick_at; /**< loop time it is armed for; UINT64_MAX: not */
	bool active;	  /**< handled something since the last prepare_cb() */
	atomic_uint inbox_len;	   /**< items queued, for overload.max_inbox */
	atomic_size_t inbox_bytes; /**< their size, SHARD_INBOX_MAX_BYTES */
	struct shard_stats stats;
	struct log_ratelimit rl;

	/* Shards that were handed items and still need a wake-up. */
	unsigned char *wake_mark;
	unsigned *wake_list;
	unsigned nwake;

	struct udp *udp;
	struct tcp *tcp;
};

/** Buckets of each row of the per-source connection counts. */
#define SHARD_IP_BUCKETS 4096u

struct shards {
	const struct conf *conf;
	const struct shard_role *role;
	unsigned n;
	struct shard *sh;
	/**
	 * The listeners every shard of the group binds: a copy of the
	 * shards_opts ones (conf->listen by default), address strings
	 * not copied (NULL), ports resolved (port 0: the one the kernel
	 * chose). Fixed once shards_start_opts() returns; read by udp.c,
	 * tcp.c and shards_listen_addr().
	 */
	struct conf_listen *listen;
	unsigned nlisten;
	char name[16];	/**< for logs and thread names: "shard", "b2b" */
	bool run_hooks; /**< run the shards_add_hook() hooks */
	bool guard;	/**< shards_opts guard */
	/** Per listener: its TLS contexts (NULL: not a TLS one). */
	struct tls_srv **tls_srv;
	unsigned ntls_srv; /**< entries of tls_srv */
	/** The client context for TLS next hops (shards_start() only:
	 * NULL in other groups, whose TLS next hops are refused). */
	struct tls_cli *tls_cli;
	/** Open TCP connections of the group by remote address (for
	 * tp_send(); NULL when the group has no TCP listener). */
	struct alias *alias;
	/** Open TCP connections of all shards, for tcp.max_connections. */
	atomic_uint tcp_conns;
	/**
	 * Accepted TCP connections per source address, for the per-source
	 * cap (proxy/core/tcp.h tcp_per_ip_limit()): two rows of counters, each
	 * address counted in one bucket of each row (hashed with
	 * @p ip_seed); the smaller of its two counts is never below its own
	 * number of connections, and rarely above it.
	 */
	atomic_uint tcp_per_ip[2][SHARD_IP_BUCKETS];
	uint64_t ip_seed; /**< random per process */
	/**
	 * udp.steering: per listener, the kernel program that gives each
	 * datagram to its owner's socket (NULL: none for that listener);
	 * @p steering: every UDP listener has one. Fixed once
	 * shards_start_opts() returns.
	 */
	struct steer **steer;
	bool steering;
	struct stats_source stats; /**< the shards' counters, registered */
};

/**
 * An outgoing TCP connection of @p sh to @p to failed before it was
 * made: tell the role of every shard of the group (struct shard_role
 * conn_failed), this one now, the others by shard_post(). Thread: @p sh.
 */
void shard__conn_failed(struct shard *sh, const struct peer *to);

/** The listeners of @p sh's group (struct shards listen). */
static inline const struct conf_listen *shard__listen(const struct shard *sh,
						      unsigned *np)
{
	*np = sh->set->nlisten;
	return sh->set->listen;
}

/** Add @p v to the counter @p p: owner thread only, readers relaxed. */
static inline void shard__count(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, *p + v, __ATOMIC_RELAXED);
}

/**
 * One message read from the network by shard @p sh: counted, then
 * handled here or handed to the shard that owns its Call-ID.
 * Thread: the shard @p sh. Ownership: @p buf is copied if needed.
 */
void shard__receive(struct shard *sh, const struct peer *from, const char *buf,
		    size_t len);

/**
 * End of a batch: send the queued UDP datagrams and wake the shards that
 * were handed items. Thread: the shard @p sh.
 */
void shard__flush(struct shard *sh);

/**
 * Give a message received from (@p out false) or sent to (@p out true)
 * @p p to the trace (proxy/core/trace.h), with the local address of
 * the socket it goes through: the UDP socket, or the TCP connection
 * p->conn_id, which must be this shard's. One relaxed load when no
 * trace runs. Thread: the shard @p sh.
 */
void tp__trace(struct shard *sh, bool out, const struct peer *p,
	       const void *buf, size_t len);

/**
 * A non-blocking socket of @p type (SOCK_DGRAM, SOCK_STREAM) bound with
 * SO_REUSEPORT to @p sa (IPV6_V6ONLY for IPv6). Returns the descriptor,
 * or a negative errno after logging "@p what ADDRESS: reason".
 * Thread: control.
 */
int tp__bind(const struct sockaddr *sa, socklen_t salen, int type,
	     const char *what);

/**
 * Check that no other process holds @p sa for @p type: bind a socket
 * without SO_REUSEPORT and close it again. Sockets of another process
 * that set SO_REUSEPORT (a second sipedge) would otherwise share the port
 * with ours and take part of its traffic. Returns 0, or a negative errno
 * (-EADDRINUSE) after logging "@p what ADDRESS: reason".
 * Thread: control.
 */
int tp__probe(const struct sockaddr *sa, socklen_t salen, int type,
	      const char *what);

/**
 * A port the kernel considers free on @p sa's address for @p type:
 * bind a socket without SO_REUSEPORT to port 0, read the port, close
 * it. Returns the port (1..65535), or a negative errno after logging
 * "@p what ADDRESS: reason". Thread: control.
 */
int tp__free_port(const struct sockaddr *sa, socklen_t salen, int type,
		  const char *what);

/**
 * Copy @p len bytes for connection @p to->conn_id, owned by shard
 * @p owner, into its inbox. Errors: -ENOBUFS (the owner's inbox is
 * full: dropped and counted), -ENOMEM. Thread: the shard @p sh.
 */
int shard__post_send(struct shard *sh, unsigned owner, const struct peer *to,
		     const void *buf, size_t len);
