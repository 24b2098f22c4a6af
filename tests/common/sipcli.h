/* tests/common/sipcli.h - tiny SIP test client over UDP and TCP (loopback only)
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "proxy/sip/msg.h"

/** Most headers a parsed reply may have. */
#define SIPCLI_MAX_HDRS 256

/** Largest message the client receives (a UDP datagram fits). */
#define SIPCLI_BUF_SIZE 262144

/**
 * One client socket, connected to the server. The caller embeds it;
 * fields are public and read-only for the caller.
 */
struct sipcli {
	int fd;			      /**< -1 when closed */
	int type;		      /**< SOCK_DGRAM or SOCK_STREAM */
	int family;		      /**< AF_INET or AF_INET6 */
	char host[64];		      /**< the server's address, as given */
	uint16_t port;		      /**< the server's port */
	char local_host[64];	      /**< our address: "127.0.0.1", "::1" */
	uint16_t local_port;	      /**< our bound port */
	struct sockaddr_storage peer; /**< the server */
	socklen_t peerlen;
	char *rbuf; /**< TCP: bytes received, not consumed */
	size_t rlen;
	unsigned seq; /**< for generated Call-IDs, branches */
};

/** A received message, parsed into its own buffer. */
struct sipcli_msg {
	char buf[SIPCLI_BUF_SIZE];
	size_t len;
	struct sipmsg m;
	struct siphdr hdrs[SIPCLI_MAX_HDRS];
	/**
	 * sipmsg_parse()'s result if < 0, else 0. A 400 that copies the
	 * malformed header it names does not parse, yet its status line,
	 * Call-ID and other fields are filled in (see sipmsg_parse()).
	 */
	int parse_err;
	struct sockaddr_storage from; /**< UDP: who sent it */
};

/**
 * Open a UDP socket bound to an ephemeral port on the loopback address
 * of @p host's family, aimed at @p host:@p port (the socket is not
 * connected: sipcli_recv_msg() reports every sender in ->from).
 * Returns 0 or -errno. Ownership: sipcli_close().
 */
int sipcli_open_udp(struct sipcli *c, const char *host, uint16_t port);

/**
 * As sipcli_open_udp(), but bind to @p local_port (0: ephemeral).
 * Returns 0 or -errno (-EADDRINUSE).
 */
int sipcli_open_udp_at(struct sipcli *c, const char *host, uint16_t port,
		       uint16_t local_port);

/**
 * Open a TCP connection to @p host:@p port (bounded connect).
 * Returns 0 or -errno.
 */
int sipcli_open_tcp(struct sipcli *c, const char *host, uint16_t port);

/** Close @p c. Safe on a closed or zeroed-with-fd=-1 client. */
void sipcli_close(struct sipcli *c);

/**
 * Send @p len bytes: one datagram (UDP) or all of them (TCP).
 * Returns 0 or -errno (-EPIPE, -ECONNRESET when the server closed).
 */
int sipcli_send(struct sipcli *c, const void *buf, size_t len);

/** sipcli_send() of a NUL-terminated string. */
int sipcli_send_str(struct sipcli *c, const char *s);

/**
 * Receive raw bytes, waiting at most @p timeout_ms: one datagram (UDP)
 * or whatever is available (TCP, after bytes buffered by
 * sipcli_recv_msg()). Returns the byte count (> 0), 0 when the TCP peer
 * closed, -ETIMEDOUT, -ECONNRESET or another -errno.
 */
int sipcli_recv_raw(struct sipcli *c, void *buf, size_t size, int timeout_ms);

/**
 * Receive one SIP message, waiting at most @p timeout_ms in all: one
 * datagram (UDP), or bytes up to a complete message framed by its
 * Content-Length (TCP; leading CRLFs are kept in front of it). The
 * message is parsed into @p r (r->parse_err < 0 when it does not parse).
 * Returns 0, -ETIMEDOUT, -ECONNRESET (TCP: the server closed; also when
 * it closed after a partial message), or -errno.
 */
int sipcli_recv_msg(struct sipcli *c, struct sipcli_msg *r, int timeout_ms);

/**
 * Wait at most @p timeout_ms for the TCP server to close the
 * connection, throwing away what it sends before. Returns 0 (closed or
 * reset), -ETIMEDOUT (still open), or -errno. When @p first is not
 * NULL, the first SIP message received (if any) is parsed into it and
 * *gotp says whether there was one.
 */
int sipcli_wait_close(struct sipcli *c, int timeout_ms,
		      struct sipcli_msg *first, bool *gotp);

/**
 * Format a request into @p buf (@p size bytes): request line
 * "@p method @p ruri SIP/2.0", then Via (our transport, our address and
 * port, ";rport" when @p rport, a fresh z9hG4bK branch), Max-Forwards 70,
 * From with a tag, To, Call-ID @p call_id (NULL: a fresh one), CSeq
 * "1 @p method", @p extra (NULL or header lines each ending in CRLF),
 * Content-Length of @p body (NULL: empty), the blank line and the body.
 * Returns the length, or -ENOSPC.
 */
int sipcli_format(struct sipcli *c, char *buf, size_t size, const char *method,
		  const char *ruri, const char *call_id, bool rport,
		  const char *extra, const char *body);

/**
 * The R-URI of the server itself: "sip:127.0.0.1:5080" or
 * "sip:[::1]:5080", into @p buf. Returns @p buf.
 */
char *sipcli_self_uri(const struct sipcli *c, char *buf, size_t size);

/**
 * Send an OPTIONS to the server itself (with rport) and wait at most
 * @p timeout_ms for a final response with the same Call-ID, skipping
 * other messages. Returns the status (>= 200), -ETIMEDOUT, or -errno.
 * When @p r is not NULL the response is left in it.
 */
int sipcli_options(struct sipcli *c, int timeout_ms, struct sipcli_msg *r);

/**
 * Send the request @p req (@p len bytes) and wait at most @p timeout_ms
 * for a final response with its Call-ID, skipping provisional responses
 * and other messages. Returns the status (>= 200), -ETIMEDOUT, -errno.
 * The response is left in @p r.
 */
int sipcli_transact(struct sipcli *c, const char *req, size_t len,
		    int timeout_ms, struct sipcli_msg *r);

/**
 * What came back for what was sent before, without guessing a wait:
 * send an OPTIONS marker and receive until its final response; every
 * message that arrives before it is kept in @p msgs (up to @p max; the
 * count of all of them in *np). This is exact only when the server
 * answers in order: one shard (workers: 1) and, for UDP, one socket.
 * Returns 0, -ETIMEDOUT (the marker was not answered within
 * @p timeout_ms), or -errno.
 */
int sipcli_collect(struct sipcli *c, struct sipcli_msg *msgs, unsigned max,
		   unsigned *np, int timeout_ms);

/**
 * One OPTIONS exchange over a fresh UDP socket to @p host:@p port.
 * Returns the status, -ETIMEDOUT or -errno.
 */
int sipcli_ping(const char *host, uint16_t port, int timeout_ms);

/**
 * Copy the value of the first header @p id of @p r into @p buf as a
 * NUL-terminated string ("" when absent). Returns @p buf.
 */
char *sipcli_hdr_str(const struct sipcli_msg *r, enum hdr_id id, char *buf,
		     size_t size);

/** True when the parsed message's Call-ID equals @p call_id. */
bool sipcli_is_call_id(const struct sipcli_msg *r, const char *call_id);

/**
 * Replace the first @p from in the NUL-terminated @p buf (@p size bytes)
 * by @p to. Returns the new length, -ENOENT (@p from not found) or
 * -ENOSPC.
 */
int sipcli_edit(char *buf, size_t size, const char *from, const char *to);

/** A new unique token (for Call-IDs, tags, branches) into @p buf. */
char *sipcli_token(struct sipcli *c, const char *prefix, char *buf,
		   size_t size);

/**
 * The start line of @p r (up to 255 bytes), for failure messages.
 * Ownership: a static buffer, overwritten by the next call.
 * Thread: not thread-safe.
 */
const char *sipcli_first_line(const struct sipcli_msg *r);
