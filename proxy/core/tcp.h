/* proxy/core/tcp.h - a shard's TCP listeners and connections */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct shard;
struct tcp;
struct peer;

/** Bits of a conn_id below the owning shard's index. */
#define TCP_CONN_SHARD_SHIFT 56

/** Most shards a conn_id can name. */
#define TCP_MAX_SHARDS 256u

/** The index of the shard that owns connection @p conn_id. Thread: any. */
static inline unsigned tcp_conn_shard(uint64_t conn_id)
{
	return (unsigned)(conn_id >> TCP_CONN_SHARD_SHIFT);
}

/**
 * Open, bind (SO_REUSEPORT) and listen on one TCP socket per
 * conf->listen entry with tcp set, for shard @p sh.
 * Returns 0 with *tp set, or a negative error after logging the address
 * that failed (-EADDRINUSE, -EACCES, -ENOMEM, ...).
 * Thread: control, before the shard runs.
 * Ownership: free with tcp_free() after tcp_close().
 */
int tcp_open(struct shard *sh, struct tcp **tp);

/**
 * Hand the listeners to the shard's loop and start accepting.
 * Errors: libuv's, as -errno. Thread: control, before the shard runs.
 */
int tcp_start(struct tcp *t);

/**
 * Close the listeners and every connection (pending writes are
 * cancelled). Idempotent; NULL is allowed. Thread: the shard, or control
 * when it does not run.
 */
void tcp_close(struct tcp *t);

/**
 * Free @p t once the loop has run the close callbacks. NULL is allowed.
 * Thread: control.
 */
void tcp_free(struct tcp *t);

/**
 * Write @p len bytes on this shard's connection @p conn_id: at once if
 * the socket takes them, else from a copy queued behind the others. A
 * peer whose queue passes the limit is closed.
 * Errors: -ENOTCONN (no such connection, or closing), -ENOBUFS (queue
 * limit: closed), -ENOMEM, other -errno from the socket (closed).
 * Thread: the shard. Ownership: @p buf is written or copied.
 */
int tcp_send(struct tcp *t, uint64_t conn_id, const void *buf, size_t len);

/**
 * The own address (getsockname) of this shard's connection @p conn_id:
 * for an accepted one, the address it was accepted on; for one opened
 * by tcp_connect(), its local address and port. Returns 0 with *@p ssp
 * set, or -ENOTCONN (no such connection, or its address is unknown).
 * Thread: the shard.
 */
int tcp_conn_local(const struct tcp *t, uint64_t conn_id,
		   struct sockaddr_storage *ssp);

/**
 * The connection this shard has to @p to->addr, or a new one opened
 * now (bound to the address of listen entry to->listen_idx); writes
 * wait in libuv's queue until it is connected. A connection that fails
 * to connect is closed: what was queued is dropped.
 * Returns 0 with *idp set, or -EMFILE (tcp.max_connections), -ENOMEM,
 * libuv's error. Thread: the shard.
 */
int tcp_connect(struct tcp *t, const struct peer *to, uint64_t *idp);

/** Open connections of this shard. Thread: the shard. */
size_t tcp_conn_count(const struct tcp *t);

/**
 * The most connections one source address may hold open (accepted, in
 * all shards) when tcp.max_connections is @p max_connections: an
 * eighth of it, at least 64. Past it, a new connection from that
 * address is closed at once. Thread: any.
 */
unsigned tcp_per_ip_limit(unsigned max_connections);

/**
 * The largest output memory (buffers and per-write overhead) any
 * connection of @p t has held, and the limit past which a connection
 * is closed. For statistics and tests. NULL gives 0.
 * Thread: any (relaxed reads).
 */
size_t tcp_wq_peak(const struct tcp *t);

/** See tcp_wq_peak(). */
size_t tcp_wq_limit(const struct tcp *t);
