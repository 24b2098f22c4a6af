/* proxy/core/shard.h - SIP worker threads: one uv_loop, sockets and state each
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "proxy/base/slice.h"
#include "proxy/base/stats.h"
#include "proxy/sip/msg.h"
#include "proxy/sip/txn.h"

struct conf;
struct conf_listen;
struct arena;
struct peer;
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
	uint64_t tls_handshakes; /**< TLS handshakes done, both ways */
	uint64_t tls_failed;  /**< TLS handshakes refused, failed, timed out */
	uint64_t ws_upgrades; /**< WebSocket upgrades answered 101 */
	uint64_t ws_refused;  /**< upgrades refused or not done in time */
	uint64_t ws_bad_frames; /**< WebSockets closed for a bad frame */
	uint64_t wake_sent;	/**< wake-ups sent to other shards' inboxes */
	uint64_t wake_skipped;	/**< hand-offs to an awake shard: none sent */
	/* Written by the role (the proxy pipeline). */
	uint64_t requests[SIP_METHOD__COUNT]; /**< received, by method */
	uint64_t rsp_in[6];    /**< responses received, by class 1xx..6xx */
	uint64_t rsp_out[6];   /**< responses sent, by class, retransmissions
				    included */
	uint64_t txns;	       /**< gauge: transactions held */
	uint64_t txns_created; /**< transactions made, server and client */
	struct stats_hist hist[TXN_HIST__COUNT]; /**< the role's txn layer */
	/* Read by shards_stats() from the shard, not written here. */
	uint64_t inbox;	   /**< gauge: items waiting in the inbox */
	uint64_t tcp_open; /**< gauge: TCP connections open */
	uint64_t steering; /**< gauge: 1 when udp.steering's program runs */
	uint64_t steered;  /**< datagrams the kernel program gave the shard */
};

/* A role: what a shard does with the messages it owns (DESIGN.md §1b). */

/** Make the role's state of shard @p sh at loop time @p now_ms. */
typedef int shard_role_new_fn(struct shard *sh, uint64_t now_ms, void **statep);
/** One message (framed) the shard owns; @p buf is valid during the call. */
typedef void shard_role_handle_fn(struct shard *sh, const struct peer *from,
				  const char *buf, size_t len);
/** What a role's tick returns when nothing is due: it runs again only
 * when asked (shard_tick_at(), or tick_ms after the shard handled
 * something). */
#define SHARD_TICK_NONE UINT64_MAX
/**
 * The role's timers, at @p now_ms of the shard's loop clock: run what is
 * due; return the loop time the tick is next needed at (in the past:
 * at once), or SHARD_TICK_NONE. The shard sleeps until then: no
 * periodic wake-up (issue #14).
 */
typedef uint64_t shard_role_tick_fn(struct shard *sh, uint64_t now_ms);
/** Something about peer @p to (conn_failed). */
typedef void shard_role_peer_fn(struct shard *sh, const struct peer *to);
/** Free the role's state (after the shard's thread has ended). */
typedef void shard_role_free_fn(void *state);
/** The shard's configuration is now @p c (a reload, shards_set_conf()). */
typedef void shard_role_conf_fn(struct shard *sh, const struct conf *c);

/**
 * The role table a shard runs. The runtime (proxy/core) reaches a role
 * only through it: a proxy shard and a B2B worker are the same runtime
 * with different roles. Every function runs on the shard's own thread
 * except new (control, before the shard runs) and free (control, after
 * it stopped). Ownership: static storage, outlives the shards.
 */
struct shard_role {
	const char *name;		/**< for logs ("proxy") */
	shard_role_new_fn *new_state;	/**< required */
	shard_role_free_fn *free_state; /**< required; NULL is passed */
	shard_role_handle_fn *handle;	/**< required */
	/**
	 * A request this shard read for an owner whose inbox is full
	 * (overload): answer it from here without state, or drop it.
	 * Optional: NULL drops.
	 */
	shard_role_handle_fn *reject;
	/**
	 * Optional. It runs when it last asked to, when shard_tick_at()
	 * asks, and tick_ms (> 0) after the shard handled a message, a
	 * rejected request, a failed connection or a posted function, so
	 * that what the role does on each tick besides its timers (gauges,
	 * freeing) follows activity as it did when the tick was periodic.
	 */
	shard_role_tick_fn *tick;
	unsigned tick_ms; /**< with tick: see there (> 0) */
	/**
	 * Optional: the shard a request read by any shard of the group
	 * belongs to, from its raw bytes (@p buf, @p len; not parsed yet),
	 * when the role addresses its shards itself; a value >= @p nshards
	 * or negative: the default (AOR for REGISTER, Call-ID otherwise).
	 * Responses to branches of ours always go to the shard that made
	 * the branch. Thread: any shard of the group; must not block.
	 */
	int (*steer)(const char *buf, size_t len, unsigned nshards);
	/**
	 * Optional: the shard is stopping (shards_stop()): called once on
	 * its own thread, its loop still running, before its handles are
	 * closed; the role closes what it opened on that loop. After it,
	 * nothing more is handled. Thread: the shard's.
	 */
	void (*stopping)(struct shard *sh, void *state);
	/** Optional: the role's caches of the config follow a reload. */
	shard_role_conf_fn *conf_changed;
	/**
	 * Optional: a TCP connection one of the group's shards opened to
	 * @p to (address and port) was refused or failed before it was
	 * made; called on every shard of the group (any of them may have
	 * sent over it), so that what waits for it fails over at once.
	 */
	shard_role_peer_fn *conn_failed;
};

/**
 * Bind every listener of @p c for each of c->workers shards
 * (SO_REUSEPORT) and start the shard threads, each running @p role.
 * Returns 0 with *sp set, or a negative error (-EADDRINUSE, -EACCES,
 * -ENOMEM, -EINVAL for an incomplete @p role, ...) after logging which
 * address failed; nothing is left
 * running on error.
 * Thread: control. Ownership: @p c must outlive the shards.
 */
int shards_start(const struct conf *c, const struct shard_role *role,
		 struct shards **sp);

/**
 * What a group of shards runs: shards_start_opts(). A process may run
 * several groups side by side (the proxy's shards, the B2B pool), each
 * with its own threads, sockets, inboxes and counters; Call-ID
 * ownership and hand-off stay inside a group.
 */
struct shards_opts {
	/** Required. Its overload, udp, tcp and max_headers keys apply;
	 * it must outlive the shards (shards_set_conf() changes it). */
	const struct conf *conf;
	const struct shard_role *role; /**< required */
	/** Shards, 1 .. TCP_MAX_SHARDS; 0: conf->workers. */
	unsigned workers;
	/**
	 * The listeners each shard binds (SO_REUSEPORT); NULL: conf->listen.
	 * Copied. A UDP-only entry may have port 0: a free port is chosen
	 * at start, the same for every shard (shards_listen_addr() tells
	 * it); an entry with tcp and port 0 is -EINVAL.
	 */
	const struct conf_listen *listen;
	unsigned nlisten; /**< entries of @p listen */
	/**
	 * For logs and thread names, and the counters' module in the
	 * registry (proxy/base/stats.h), at most 11 characters; NULL:
	 * "shard". Two groups running at once need two names.
	 */
	const char *name;
	/** Do not run the shards_add_hook() hooks (they are per shard id
	 * of the proxy's group: the Redis writers). */
	bool no_hooks;
	/** Run every received message through the edge guard
	 * (proxy/core/guard.h) before anything else; shards_start() sets
	 * it (the proxy's group faces the network). */
	bool guard;
	/** Open TLS connections to next hops (a PEER_TLS destination),
	 * verified against conf->tls.ca or the system's store;
	 * shards_start() sets it. Without it such a send is -ENOTSUP. */
	bool tls_client;
};

/**
 * shards_start() with options: start a group of @p o->workers shards
 * running @p o->role on the listeners @p o->listen.
 * Returns 0 with *sp set, or a negative error as shards_start() (and
 * -EINVAL for a bad @p o: no conf or role, too many workers, a name
 * too long, a TCP listener with port 0); nothing is left running on
 * error. Thread: control. Ownership: @p o and its listeners are
 * copied (not their address strings); o->conf must outlive the shards.
 */
int shards_start_opts(const struct shards_opts *o, struct shards **sp);

/**
 * The address listener @p i of group @p s is bound to, its port
 * resolved (a port-0 listener: the port chosen at start).
 * Returns 0 with *ssp and *lenp set, or -EINVAL (@p s NULL, @p i out of
 * range). Thread: any, between shards_start*() and shards_stop().
 */
int shards_listen_addr(const struct shards *s, unsigned i,
		       struct sockaddr_storage *ssp, socklen_t *lenp);

struct uv_loop_s;

/** A per-shard hook (shards_add_hook()): shard @p id, its loop. */
typedef void shard_hook_fn(unsigned id, struct uv_loop_s *loop, void *arg);

/** Hook pairs shards_add_hook() holds at most. */
#define SHARDS_HOOK_MAX 8

/**
 * Add a pair of hooks for the shards of the next shards_start(), each
 * given @p arg (either may be NULL): @p start runs on every shard's own
 * thread before its loop runs (to put a module's handles on it: the
 * Redis writer), @p stop on that thread when the shard is told to stop,
 * before its own handles close; @p stop must close what @p start
 * opened. The start hooks run in the order added, the stop hooks in
 * the reverse order.
 * Errors: -EINVAL (both NULL), -ENOSPC (SHARDS_HOOK_MAX pairs already).
 * Thread: control, while no shard runs.
 */
int shards_add_hook(shard_hook_fn *start, shard_hook_fn *stop, void *arg);

/** Remove every hook pair. Thread: control, while no shard runs. */
void shards_clear_hooks(void);

/**
 * Stop every shard, join the threads, log each shard's counters, close
 * the sockets and free. NULL is allowed. Thread: control.
 */
void shards_stop(struct shards *s);

/**
 * A function run on a shard's thread by shard_post(): @p sh is the
 * shard, or NULL when it stopped before the function could run (then
 * only release what @p arg holds: the call is made on the thread that
 * stops the shards, and @p sh must not be used).
 */
typedef void shard_post_fn(struct shard *sh, void *arg);

/**
 * Run @p fn(sh, @p arg) on shard @p id's thread, after what its inbox
 * already holds. The item counts against the shard's inbox bounds
 * (overload.max_inbox, SHARD_INBOX_MAX_BYTES) as hand-offs do.
 * Returns 0: @p fn is called exactly once, on the shard, or with
 * sh == NULL when the shard stops before it runs (so @p arg can always
 * be freed by @p fn). Errors (@p fn is not called): -EINVAL (@p s NULL,
 * @p id out of range, @p fn NULL), -ENOBUFS (the inbox is full),
 * -ENOMEM.
 * Thread: any, between shards_start() and the start of shards_stop()
 * (a thread other than the shards and the control thread must be done
 * posting before shards_stop() is called).
 * Ownership: @p arg passes to @p fn when 0 is returned.
 */
int shard_post(struct shards *s, unsigned id, shard_post_fn *fn, void *arg);

/**
 * Called once when every shard of a shards_set_conf() runs with the
 * new config: @p err 0, or -ESHUTDOWN when shards stopped before they
 * all switched. Thread: the last shard to switch (or the one stopping
 * the shards): do no more than wake the caller's loop.
 */
typedef void shards_conf_done_fn(void *arg, int err);

/**
 * Make every shard run with @p c from its next message on (a reload):
 * each shard switches between two messages, on its own thread, then
 * calls its role's conf_changed. Keys read once at start (listeners,
 * workers, udp.batch, tcp.*) are not applied: the caller refuses a
 * config that changes them. The item bypasses the inbox limits, so a
 * busy shard switches too. Returns 0: @p done is called exactly once
 * (see shards_conf_done_fn); or -EINVAL, -ENOMEM (nothing posted, @p done
 * not called).
 * Thread: control, between shards_start() and shards_stop().
 * Ownership: @p c is borrowed; it must outlive every shard's use of it:
 * until the shards stop, or until a later shards_set_conf() is done and
 * nothing started under @p c (a transaction) can still be alive.
 */
int shards_set_conf(struct shards *s, const struct conf *c,
		    shards_conf_done_fn *done, void *arg);

/** Number of shards. */
unsigned shards_count(const struct shards *s);

/**
 * A snapshot of shard @p i's counters (relaxed reads; for statistics).
 * Thread: any.
 */
void shards_stats(const struct shards *s, unsigned i, struct shard_stats *out);

/**
 * The shard, 0 .. @p nshards - 1, that owns @p key (a Call-ID; an AOR
 * for REGISTER): the steering hash of proxy/core/steer_scan.h (FNV-1a
 * over the first STEER_KEY_MAX bytes, mixed) modulo @p nshards, the one
 * the kernel steering program computes too (byte-exact: Call-IDs
 * compare case-sensitively, RFC 3261 §20.8). The seed is random per
 * process (nobody outside can aim Call-IDs at one shard) and fixed for
 * its life: every shard and thread of one process agrees, another
 * process does not. @p nshards must not be 0. Thread: any.
 */
unsigned shard_owner(struct slice key, unsigned nshards);

/**
 * The seed shard_owner() hashes with (for the steering program, and
 * tests that compare with it). Thread: any.
 */
uint64_t shard_owner_seed(void);

/* The following are for code running on a shard (its role). */

/** This shard's index, 0 .. workers-1. */
unsigned shard_id(const struct shard *sh);

/** The configuration this shard runs with (shards_set_conf() changes
 * it between two messages: do not keep it across callbacks). */
const struct conf *shard_conf(const struct shard *sh);

/**
 * Run the role's tick at loop time @p at_ms (now or in the past: in
 * this turn of the loop, after the callbacks), unless it is due sooner
 * already; e.g. the alarm of the role's timer_wheel_watch(). Thread:
 * the shard's (before the shard runs: its role's new_state).
 */
void shard_tick_at(struct shard *sh, uint64_t at_ms);

/**
 * The shard's loop, for handles a role keeps on it (the B2B media
 * engine's sockets and timer). Thread: the shard's; or the control
 * thread in the role's new_state, before the loop runs. The role must
 * close its handles on the shard's thread before the shard stops (what
 * is left open is closed without its callback).
 */
struct uv_loop_s *shard_loop(struct shard *sh);

/** The shard's per-message arena, reset after each message. */
struct arena *shard_arena(struct shard *sh);

/** The shard's counters (the owning shard writes them). */
struct shard_stats *shard_stats(struct shard *sh);

struct sipmsg;

/**
 * Parse the message @p buf (@p len bytes, framed; from @p from) into
 * @p m with a header array of `max_headers` from the shard's arena (so
 * @p m lives until the arena is reset), counting a parse error in the
 * shard's parse_errors. Returns 0 with *@p parsedp set to
 * sipmsg_parse()'s result (negative: malformed), or -ENOMEM (nothing
 * parsed). Thread: the shard's (a role's handle/reject).
 */
int shard_parse(struct shard *sh, const struct peer *from, const char *buf,
		size_t len, struct sipmsg *m, int *parsedp);

/** The role's state of this shard (what its new_state made). */
void *shard_role_state(struct shard *sh);
