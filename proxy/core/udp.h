/* proxy/core/udp.h - a shard's UDP sockets: recvmmsg batches in, sendmmsg out
 */
#pragma once

#include <stddef.h>
#include <sys/socket.h>

struct shard;
struct udp;
struct peer;

/** Largest UDP payload over IPv4 (65535 - 8 - 20). */
#define UDP_MAX_PAYLOAD 65507

/**
 * Open and bind (SO_REUSEPORT) one UDP socket per conf->listen entry
 * with udp set, for shard @p sh; allocate its batch buffers.
 * Returns 0 with *up set, or a negative error after logging the address
 * that failed (-EADDRINUSE, -EACCES, -ENOMEM, ...).
 * Thread: control, before the shard runs.
 * Ownership: free with udp_free() after udp_close().
 */
int udp_open(struct shard *sh, struct udp **up);

/**
 * The UDP socket of listen entry @p listen_idx, or -1 (none, or no
 * such entry). For the steering program's socket array.
 * Thread: control, before the shard runs.
 */
int udp_fd(const struct udp *u, unsigned listen_idx);

/**
 * Start polling the sockets on the shard's loop. Errors: libuv's, as
 * -errno. Thread: control before the shard thread runs.
 */
int udp_start(struct udp *u);

/**
 * Close the poll handles (the sockets stay open until udp_free()).
 * Idempotent; NULL is allowed. Thread: the shard, or control when it
 * does not run.
 */
void udp_close(struct udp *u);

/**
 * Close the sockets and free @p u. Only once the shard's loop has run
 * the close callbacks. NULL is allowed. Thread: control.
 */
void udp_free(struct udp *u);

/**
 * Queue one datagram to @p to from the socket of to->listen_idx (or, when
 * that entry has no UDP socket, the first one of the same address
 * family); the queue is sent by udp_flush(), or first when full.
 * Errors: -EMSGSIZE (over UDP_MAX_PAYLOAD), -EAFNOSUPPORT (no UDP socket
 * of that family). Thread: the shard. Ownership: @p buf is copied.
 */
int udp_send(struct udp *u, const struct peer *to, const void *buf, size_t len);

/**
 * The own address (getsockname) of the socket a datagram from or to
 * @p p goes through: the one udp_send() picks, which for a datagram
 * received is the socket it arrived on. An unspecified listen address
 * ("0.0.0.0") stays unspecified. Returns 0 with *@p ssp set, or
 * -EAFNOSUPPORT (no UDP socket of that family). Thread: the shard.
 */
int udp_local(const struct udp *u, const struct peer *p,
	      struct sockaddr_storage *ssp);

/**
 * Send every queued datagram with sendmmsg; those the socket refuses
 * are counted as dropped. Thread: the shard.
 */
void udp_flush(struct udp *u);
