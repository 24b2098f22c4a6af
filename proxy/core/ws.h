/* proxy/core/ws.h - SIP over WebSocket (RFC 7118, RFC 6455): upgrade, frames */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A WebSocket session that never touches a socket, like a TLS session
 * (proxy/core/tls.h): the connection hands in the bytes it read
 * (plaintext, after TLS for wss) and the session hands back, through
 * callbacks, the bytes to write and each message received. The HTTP
 * upgrade is parsed here; framing, masking, fragmentation, ping/pong and
 * the close handshake are wslay's (no I/O of its own, so it sits on
 * memory like OpenSSL's BIOs). One SIP message per text or binary
 * message (RFC 7118 §5.1).
 *
 * Thread: a session belongs to its connection's shard.
 */

struct ws_sess;

/** The upgrade request may be at most this long (headers included). */
#define WS_UPGRADE_MAX 8192

/**
 * Bytes for the peer. Returns 0, or a negative error (the connection
 * is lost: the session stops sending).
 */
typedef int ws_out_fn(void *arg, const char *p, size_t len);

/** One whole message received (a SIP message, for the shard). */
typedef void ws_msg_fn(void *arg, const char *p, size_t len);

/**
 * A server session: messages up to @p max_msg bytes (larger ones close
 * the connection with 1009), @p out and @p msg called with @p arg.
 * Returns 0 with *sp set, or -ENOMEM. Ownership: ws_sess_free().
 */
int ws_sess_new(size_t max_msg, ws_out_fn *out, ws_msg_fn *msg, void *arg,
		struct ws_sess **sp);

/** Free @p s. NULL is allowed. */
void ws_sess_free(struct ws_sess *s);

/**
 * The HTTP upgrade request at @p p (@p n bytes read so far): when the
 * header block is complete, answered through the out callback: 101
 * (Sec-WebSocket-Accept, Sec-WebSocket-Protocol: sip) and the session
 * is open; or an error status: 400 (not a WebSocket upgrade, no
 * Sec-WebSocket-Key, no `sip` in Sec-WebSocket-Protocol), 426 (a
 * version other than 13), 403 (an Origin not in @p origins; with
 * @p norigins 0 any Origin, or none, is allowed).
 * Returns 0 with *usedp the request's length (what follows is frames),
 * -EAGAIN when the header block is not complete yet, the status (400,
 * 403, 426) when refused (answered: close the connection after it),
 * 400 as well for a request over WS_UPGRADE_MAX, or the out callback's
 * error.
 */
int ws_upgrade(struct ws_sess *s, const char *p, size_t n, char *const *origins,
	       unsigned norigins, size_t *usedp);

/** True once the upgrade was answered 101. */
bool ws_sess_is_open(const struct ws_sess *s);

/**
 * @p n bytes of frames read: whole messages go to the msg callback,
 * pings are answered, a close is answered. A frame that breaks the
 * protocol (unmasked, a reserved bit or opcode, a control frame over
 * 125 bytes, text that is not UTF-8) or a message over the limit is
 * answered with a close frame (1002, 1007, 1009).
 * Returns 0 (see ws_sess_is_closed()), -ENOMEM, or the out callback's
 * error.
 */
int ws_sess_feed(struct ws_sess *s, const char *p, size_t n);

/**
 * Send @p len bytes as one text message (from the msg callback: queued,
 * sent when ws_sess_feed() returns). Returns 0, -ENOTCONN (not open or
 * closing), -ENOMEM, or the out callback's error.
 * Ownership: @p p is copied.
 */
int ws_sess_send(struct ws_sess *s, const char *p, size_t len);

/**
 * True once a close frame was sent (answering the peer's, or for a bad
 * frame): nothing more goes either way, the connection may close.
 */
bool ws_sess_is_closed(const struct ws_sess *s);

/**
 * True when the peer sent a close frame (then ours only answers it:
 * 1000, 1001 or whatever code the peer gave).
 */
bool ws_sess_peer_closed(const struct ws_sess *s);

/**
 * The status code of the close frame sent (1000 answering a peer's
 * close, 1002 protocol error, 1007 bad text, 1009 too big), 0 if none.
 */
unsigned ws_sess_close_code(const struct ws_sess *s);

/**
 * Sec-WebSocket-Accept for @p key (RFC 6455 §4.2.2: base64 of the SHA-1
 * of the key and the GUID) into @p out (29 bytes: 28 and a NUL).
 */
void ws_accept_key(const char *key, size_t keylen, char out[29]);
