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
	/** TLS to a next hop found by its name (RFC 3263): the name,
	 * interned (peer_name_intern()), which the server's certificate
	 * must carry and SNI names (RFC 5922 §7.2, RFC 6066 §3); such a
	 * destination gets its own connection. 0: verify the address. */
	uint32_t tls_name;
};

/** Most distinct names peer_name_intern() keeps. */
#define PEER_NAMES_MAX 4096

/** Longest name peer_name_intern() keeps (RFC 1035: 253). */
#define PEER_NAME_LEN 253

/**
 * The id of host name @p name (compared without regard to case; kept
 * lower case) in the process's table of names, added when new. Ids are
 * never reused and the table never shrinks (it holds the names of
 * next hops, a short list). Returns an id > 0, or 0 when @p name is
 * empty or too long, or PEER_NAMES_MAX names are kept already.
 * Thread: any (a mutex; called once per request to a named TLS hop).
 */
uint32_t peer_name_intern(const char *name, size_t len);

/** The name of @p id (lower case, NUL-terminated, lives as long as the
 * process), or NULL for 0 or an id never given out. Thread: any. */
const char *peer_name_get(uint32_t id);

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
