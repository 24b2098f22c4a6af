/* proxy/core/tls.h - TLS over memory BIOs (OpenSSL 3), for stream transports */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/*
 * TLS that never touches a socket: the transport hands in the bytes it
 * read (tls_sess_feed()), takes out the bytes to write
 * (tls_sess_take()), and in between the session turns them into
 * plaintext and back. The handshake is driven by the same calls, so it
 * runs on the shard's loop and never blocks it. A session knows nothing
 * of SIP or framing: a WebSocket layer (RFC 7118 wss) can sit on its
 * plaintext as SIP framing does now.
 *
 * Contexts (struct tls_srv, struct tls_cli) are made on the control
 * thread and shared read-only by the shards (OpenSSL's SSL_CTX is safe
 * for that); a session belongs to the thread of its connection.
 */

struct conf_listen;
struct tls_srv;
struct tls_cli;
struct tls_sess;

/**
 * Check the PEM certificate chain @p cert and private key @p key: both
 * readable and parsed, and the key the certificate's. Returns 0, or
 * ERR_CONFIG with the reason in @p why ("'k.pem' does not match the
 * certificate 'c.pem'"), -ENOMEM. Thread: any.
 */
int tls_check_pair(const char *cert, const char *key, char *why, size_t whylen);

/**
 * Check that @p ca is a readable PEM file holding at least one
 * certificate. Returns 0, or ERR_CONFIG with the reason in @p why.
 * Thread: any.
 */
int tls_check_ca(const char *ca, char *why, size_t whylen);

/**
 * The server contexts of the TLS listen entry @p l: its default
 * certificate, one per SNI domain, TLS 1.2 at least, client
 * certificates required and checked against l->ca when
 * l->verify_client. Returns 0 with *sp set, or ERR_CONFIG (a file that
 * no longer loads: reason in @p why), -ENOMEM.
 * Thread: control. Ownership: free with tls_srv_free() after every
 * session made from it.
 */
int tls_srv_new(const struct conf_listen *l, struct tls_srv **sp, char *why,
		size_t whylen);

/** Free @p s. NULL is allowed. Thread: control. */
void tls_srv_free(struct tls_srv *s);

/**
 * The client context for next hops: TLS 1.2 at least, the server's
 * certificate verified against @p ca (a PEM file) or, when NULL, the
 * system's CA store. Returns 0 with *cp set, or ERR_CONFIG (reason in
 * @p why), -ENOMEM. Thread: control. Ownership: tls_cli_free().
 */
int tls_cli_new(const char *ca, struct tls_cli **cp, char *why, size_t whylen);

/** Free @p c. NULL is allowed. Thread: control. */
void tls_cli_free(struct tls_cli *c);

/**
 * A server session of @p s (an accepted connection). Returns 0 with
 * *sp set, or -ENOMEM. Thread: the connection's.
 * Ownership: tls_sess_free().
 */
int tls_sess_server(struct tls_srv *s, struct tls_sess **sp);

/**
 * A client session of @p c to @p to. With @p name (a host name, NUL-
 * terminated; NULL or "" for none) the server's certificate must carry
 * that name as a DNS SAN, without wildcards (RFC 5922 §7.2), and SNI
 * names it (RFC 6066 §3); without, the next hop was an IP literal and
 * the certificate must name @p to's address (an IP SAN; no SNI).
 * Returns 0 with *sp set, or -ENOMEM, -EINVAL (no address).
 * Thread: the connection's. Ownership: tls_sess_free().
 */
int tls_sess_client(struct tls_cli *c, const struct sockaddr *to,
		    const char *name, struct tls_sess **sp);

/** Free @p s. NULL is allowed. */
void tls_sess_free(struct tls_sess *s);

/**
 * Bytes read from the network. Returns 0, or -ENOMEM.
 * Ownership: @p buf is copied.
 */
int tls_sess_feed(struct tls_sess *s, const void *buf, size_t len);

/**
 * Go on with the handshake. Returns 0 when it is done (at once once
 * done), -EAGAIN when it needs more input, -EPROTO when it failed
 * (tls_sess_fault() says why). Output to send may be waiting either way.
 */
int tls_sess_handshake(struct tls_sess *s);

/** True once the handshake is done. */
bool tls_sess_is_up(const struct tls_sess *s);

/**
 * Plaintext received, up to @p cap bytes. Returns the count (> 0), 0
 * when the peer closed (close_notify), -EAGAIN when no more is there
 * now, -EPROTO on a broken stream.
 */
int tls_sess_read(struct tls_sess *s, void *buf, size_t cap);

/**
 * Encrypt all @p len bytes of plaintext (handshake done). Returns 0,
 * -ENOTCONN (not up yet), -EPROTO, -ENOMEM.
 * Ownership: @p buf is copied.
 */
int tls_sess_write(struct tls_sess *s, const void *buf, size_t len);

/** Queue a close_notify alert. */
void tls_sess_close(struct tls_sess *s);

/**
 * Take up to @p cap bytes of output to write to the network. Returns
 * the count, 0 when none waits.
 */
size_t tls_sess_take(struct tls_sess *s, void *buf, size_t cap);

/** Why the session failed ("certificate verify failed"), or "". */
const char *tls_sess_fault(const struct tls_sess *s);

/** The negotiated version ("TLSv1.3"), or "" before the handshake. */
const char *tls_sess_version(const struct tls_sess *s);
