/* proxy/transport.h - UDP and TCP transports of a shard */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct shard;

enum tp_proto {
	TP_UDP,
	TP_TCP,
};

/**
 * Where a message came from, so that it can be answered: value type.
 * For TCP, conn_id names the connection (unique in the process, never
 * reused; it encodes the owning shard).
 */
struct tp_peer {
	enum tp_proto proto;
	struct sockaddr_storage addr; /**< the peer's address and port */
	socklen_t addrlen;
	uint64_t conn_id;    /**< TCP connection, 0 for UDP */
	unsigned listen_idx; /**< index in conf->listen it arrived on */
};

/**
 * Send one message to @p to from shard @p sh. UDP: from the shard's own
 * socket bound to to->listen_idx's address, queued and flushed with
 * sendmmsg at the end of the current batch. TCP: written to connection
 * to->conn_id; if another shard owns it, the bytes are copied and handed
 * to that shard; conn_id 0: over this shard's connection to to->addr,
 * opened if it has none (proxy/tcp.h tcp_connect()). Never blocks.
 * Errors: -ENOTCONN (the connection is gone), -ENOBUFS (its peer does
 * not read: closed; or the inbox of the shard that owns it is full:
 * dropped), -ENOMEM, -EMSGSIZE (UDP message larger than a datagram),
 * other -errno from the socket.
 * Thread: the shard @p sh. Ownership: @p buf is copied or sent before
 * the call returns; the caller keeps it.
 */
int tp_send(struct shard *sh, const struct tp_peer *to, const void *buf,
	    size_t len);

/** "UDP"/"TCP" for Via and logs. */
const char *tp_proto_name(enum tp_proto proto);

/**
 * Format @p sa as "1.2.3.4:5060" or "[::1]:5060" into @p buf.
 * Returns @p buf.
 */
char *tp_addr_str(const struct sockaddr *sa, char *buf, size_t size);
