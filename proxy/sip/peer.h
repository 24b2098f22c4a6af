/* proxy/sip/peer.h - where a message came from or goes: transport, address */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum peer_proto {
	PEER_UDP,
	PEER_TCP,
	PEER_TLS, /**< TLS over TCP: a connection, like PEER_TCP */
	PEER_WS,  /**< WebSocket over TCP (RFC 7118): a connection */
	PEER_WSS, /**< WebSocket over TLS: a connection */
};

/** True for the transports over a connection (TCP, TLS, WS, WSS). */
static inline bool peer_proto_is_stream(enum peer_proto proto)
{
	return proto == PEER_TCP || proto == PEER_TLS || proto == PEER_WS ||
	       proto == PEER_WSS;
}

/**
 * True for WebSocket (WS, WSS): one message per frame (no framing by
 * Content-Length), and only the peer opens connections.
 */
static inline bool peer_proto_is_ws(enum peer_proto proto)
{
	return proto == PEER_WS || proto == PEER_WSS;
}

/**
 * Where a message came from, so that it can be answered: value type.
 * For TCP, conn_id names the connection (unique in the process, never
 * reused; it encodes the owning shard).
 */
struct peer {
	enum peer_proto proto;
	struct sockaddr_storage addr; /**< the peer's address and port */
	socklen_t addrlen;
	uint64_t conn_id;    /**< TCP or TLS connection, 0 for UDP */
	unsigned listen_idx; /**< index in conf->listen it arrived on */
};

/** "UDP"/"TCP"/"TLS"/"WS"/"WSS" for Via and logs. */
const char *peer_proto_name(enum peer_proto proto);

/**
 * Make @p ss from the IP literal @p ip ("1.2.3.4", "::1"; no brackets)
 * and @p port. Returns 0 with *lenp set, or -EINVAL (not an IP literal;
 * *ss is zeroed). Thread: any.
 */
int peer_addr_parse(const char *ip, uint16_t port, struct sockaddr_storage *ss,
		    socklen_t *lenp);

/**
 * Parse "HOST:PORT" (an IPv4 literal, or an IPv6 literal in brackets:
 * "[::1]:9060"; port 1..65535) into @p ss. Returns 0 with *lenp set, or
 * -EINVAL. Thread: any.
 */
int peer_hostport_parse(const char *s, struct sockaddr_storage *ss,
			socklen_t *lenp);

/**
 * peer_hostport_parse() with port 0 allowed too (a listener that takes a
 * free port). Returns 0 with *lenp set, or -EINVAL. Thread: any.
 */
int peer_hostport_parse_any(const char *s, struct sockaddr_storage *ss,
			    socklen_t *lenp);

/**
 * True when @p ss is a loopback address: 127.0.0.0/8 or ::1 (not a
 * v4-mapped ::ffff:127.x). Thread: any.
 */
bool peer_addr_is_loopback(const struct sockaddr_storage *ss);

/**
 * Format @p sa as "1.2.3.4:5060" or "[::1]:5060" into @p buf.
 * Returns @p buf.
 */
char *peer_addr_str(const struct sockaddr *sa, char *buf, size_t size);
