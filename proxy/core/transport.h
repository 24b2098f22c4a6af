/* proxy/core/transport.h - UDP and TCP transports of a shard */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "proxy/sip/peer.h"

struct shard;

/**
 * Send one message to @p to from shard @p sh. UDP: from the shard's own
 * socket bound to to->listen_idx's address, queued and flushed with
 * sendmmsg at the end of the current batch. TCP: written to connection
 * to->conn_id; if another shard owns it, the bytes are copied and handed
 * to that shard; conn_id 0: over this shard's connection to to->addr,
 * opened if it has none (proxy/core/tcp.h tcp_connect()). Never blocks.
 * Errors: -ENOTCONN (the connection is gone), -ENOBUFS (its peer does
 * not read: closed; or the inbox of the shard that owns it is full:
 * dropped), -ENOMEM, -EMSGSIZE (UDP message larger than a datagram),
 * other -errno from the socket.
 * Thread: the shard @p sh. Ownership: @p buf is copied or sent before
 * the call returns; the caller keeps it.
 */
int tp_send(struct shard *sh, const struct peer *to, const void *buf,
	    size_t len);

/**
 * The open TCP connection, of any shard of @p sh's group, whose remote
 * end is @p sa (address and port; store/alias.h), or 0 when there is
 * none. Thread: the shard @p sh.
 */
uint64_t tp_conn_find(struct shard *sh, const struct sockaddr *sa);
