/* proxy/core/tls.c - TLS over memory BIOs (OpenSSL 3), for stream transports */
#include "proxy/core/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "proxy/base/err.h"
#include "proxy/core/conf.h"

struct tls_sni {
	char *domain;
	SSL_CTX *ctx;
};

struct tls_srv {
	SSL_CTX *ctx; /* the default certificate */
	struct tls_sni *sni;
	unsigned nsni;
};

struct tls_cli {
	SSL_CTX *ctx;
};

struct tls_sess {
	SSL *ssl;
	BIO *rbio, *wbio; /* owned by ssl */
	bool up;
	char fault[128];
};

/* The last OpenSSL error as text, and the queue emptied. */
static void ossl_why(char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();

	if (e)
		ERR_error_string_n(e, buf, len);
	else
		snprintf(buf, len, "unknown TLS error");
	ERR_clear_error();
}

static int why_fail(char *why, size_t whylen, const char *fmt, const char *a,
		    const char *b)
{
	char e[160];

	ossl_why(e, sizeof(e));
	snprintf(why, whylen, fmt, a, b, e);
	return ERR_CONFIG;
}

int tls_check_pair(const char *cert, const char *key, char *why, size_t whylen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	int err = 0;

	if (!ctx)
		return -ENOMEM;
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
		err = why_fail(why, whylen,
			       "certificate '%.200s'%.0s cannot be loaded: %s",
			       cert, "");
	else if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		err = why_fail(why, whylen,
			       ERR_GET_REASON(ERR_peek_last_error()) ==
				       X509_R_KEY_VALUES_MISMATCH
				   ? "private key '%.200s' does not match the "
				     "certificate '%.200s' (%s)"
				   : "private key '%.200s'%.0s cannot be "
				     "loaded: %s",
			       key, cert);
	else if (SSL_CTX_check_private_key(ctx) != 1)
		err = why_fail(why, whylen,
			       "private key '%.200s' does not match the "
			       "certificate '%.200s' (%s)",
			       key, cert);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return err;
}

int tls_check_ca(const char *ca, char *why, size_t whylen)
{
	X509_STORE *st = X509_STORE_new();
	int err = 0;

	if (!st)
		return -ENOMEM;
	if (X509_STORE_load_file(st, ca) != 1)
		err = why_fail(why, whylen,
			       "CA file '%.200s'%.0s cannot be loaded: %s", ca,
			       "");
	X509_STORE_free(st);
	ERR_clear_error();
	return err;
}

/* A server context with @p cert and @p key, TLS 1.2 at least. */
static int srv_ctx(const char *cert, const char *key, SSL_CTX **cp, char *why,
		   size_t whylen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	int err;

	if (!ctx)
		return -ENOMEM;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* No renegotiation: a client could make us work at will. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
				     SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		err =
		    why_fail(why, whylen, "'%.200s' / '%.200s': %s", cert, key);
		SSL_CTX_free(ctx);
		return err;
	}
	*cp = ctx;
	return 0;
}

/* SNI (RFC 6066 §3): a known name switches to its certificate; any
 * other name, or none, keeps the listener's default. */
static int sni_cb(SSL *ssl, int *al, void *arg)
{
	const struct tls_srv *s = arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

	(void)al;
	if (!name)
		return SSL_TLSEXT_ERR_OK;
	for (unsigned i = 0; i < s->nsni; i++) {
		if (strcasecmp(s->sni[i].domain, name) == 0) {
			SSL_set_SSL_CTX(ssl, s->sni[i].ctx);
			break;
		}
	}
	return SSL_TLSEXT_ERR_OK;
}

int tls_srv_new(const struct conf_listen *l, struct tls_srv **sp, char *why,
		size_t whylen)
{
	struct tls_srv *s = calloc(1, sizeof(*s));
	STACK_OF(X509_NAME) * names;
	int err;

	if (!s)
		return -ENOMEM;
	err = srv_ctx(l->cert, l->key, &s->ctx, why, whylen);
	if (err)
		goto out;
	if (l->verify_client) {
		if (SSL_CTX_load_verify_locations(s->ctx, l->ca, NULL) != 1) {
			err = why_fail(why, whylen, "CA '%.200s'%.0s: %s",
				       l->ca, "");
			goto out;
		}
		names = SSL_load_client_CA_file(l->ca);
		if (names)
			SSL_CTX_set_client_CA_list(s->ctx, names);
		SSL_CTX_set_verify(
		    s->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
		    NULL);
	}
	if (l->nsni) {
		s->sni = calloc(l->nsni, sizeof(*s->sni));
		if (!s->sni) {
			err = -ENOMEM;
			goto out;
		}
		for (unsigned i = 0; i < l->nsni; i++) {
			s->sni[i].domain = strdup(l->sni[i].domain);
			if (!s->sni[i].domain) {
				err = -ENOMEM;
				goto out;
			}
			s->nsni = i + 1;
			err = srv_ctx(l->sni[i].cert, l->sni[i].key,
				      &s->sni[i].ctx, why, whylen);
			if (err)
				goto out;
		}
		SSL_CTX_set_tlsext_servername_callback(s->ctx, sni_cb);
		SSL_CTX_set_tlsext_servername_arg(s->ctx, s);
	}
	*sp = s;
	s = NULL;
out:
	tls_srv_free(s);
	return err;
}

void tls_srv_free(struct tls_srv *s)
{
	if (!s)
		return;
	for (unsigned i = 0; i < s->nsni; i++) {
		free(s->sni[i].domain);
		SSL_CTX_free(s->sni[i].ctx);
	}
	free(s->sni);
	SSL_CTX_free(s->ctx);
	free(s);
}

int tls_cli_new(const char *ca, struct tls_cli **cp, char *why, size_t whylen)
{
	struct tls_cli *c = calloc(1, sizeof(*c));
	int err = 0;

	if (!c)
		return -ENOMEM;
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (!c->ctx) {
		free(c);
		return -ENOMEM;
	}
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(c->ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	if (ca ? SSL_CTX_load_verify_locations(c->ctx, ca, NULL) != 1
	       : SSL_CTX_set_default_verify_paths(c->ctx) != 1) {
		err = why_fail(why, whylen, "CA '%.200s'%.0s: %s",
			       ca ? ca : "(system store)", "");
		tls_cli_free(c);
		return err;
	}
	*cp = c;
	return 0;
}

void tls_cli_free(struct tls_cli *c)
{
	if (!c)
		return;
	SSL_CTX_free(c->ctx);
	free(c);
}

static int sess_new(SSL_CTX *ctx, struct tls_sess **sp)
{
	struct tls_sess *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->ssl = SSL_new(ctx);
	s->rbio = BIO_new(BIO_s_mem());
	s->wbio = BIO_new(BIO_s_mem());
	if (!s->ssl || !s->rbio || !s->wbio) {
		BIO_free(s->rbio);
		BIO_free(s->wbio);
		SSL_free(s->ssl);
		free(s);
		ERR_clear_error();
		return -ENOMEM;
	}
	/* An empty read BIO means "more later", not end of file. */
	BIO_set_mem_eof_return(s->rbio, -1);
	SSL_set_bio(s->ssl, s->rbio, s->wbio);
	*sp = s;
	return 0;
}

int tls_sess_server(struct tls_srv *srv, struct tls_sess **sp)
{
	int err = sess_new(srv->ctx, sp);

	if (!err)
		SSL_set_accept_state((*sp)->ssl);
	return err;
}

int tls_sess_client(struct tls_cli *c, const struct sockaddr *to,
		    const char *name, struct tls_sess **sp)
{
	char ip[INET6_ADDRSTRLEN];
	struct tls_sess *s;
	int err;

	if (to->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)to)->sin_addr,
			  ip, sizeof(ip));
	else if (to->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
			  &((const struct sockaddr_in6 *)to)->sin6_addr, ip,
			  sizeof(ip));
	else
		return -EINVAL;
	err = sess_new(c->ctx, &s);
	if (err)
		return err;
	if (name && *name) {
		/* RFC 5922 §7.2: the SIP domain of the URI that was
		 * resolved (not an SRV target's name), as a DNS SAN, no
		 * wildcards; SNI names it (RFC 6066 §3). */
		X509_VERIFY_PARAM *vp = SSL_get0_param(s->ssl);

		X509_VERIFY_PARAM_set_hostflags(vp,
						X509_CHECK_FLAG_NO_WILDCARDS);
		if (X509_VERIFY_PARAM_set1_host(vp, name, 0) != 1 ||
		    SSL_set_tlsext_host_name(s->ssl, name) != 1) {
			tls_sess_free(s);
			ERR_clear_error();
			return -ENOMEM;
		}
	} else if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->ssl), ip) !=
		   1) {
		/* An IP literal next hop: the certificate must carry the
		 * address as an IP SAN. No SNI for a literal. */
		tls_sess_free(s);
		ERR_clear_error();
		return -ENOMEM;
	}
	SSL_set_connect_state(s->ssl);
	*sp = s;
	return 0;
}

void tls_sess_free(struct tls_sess *s)
{
	if (!s)
		return;
	SSL_free(s->ssl);
	free(s);
}

int tls_sess_feed(struct tls_sess *s, const void *buf, size_t len)
{
	while (len) {
		int n = BIO_write(s->rbio, buf,
				  len > INT32_MAX ? INT32_MAX : (int)len);

		if (n <= 0)
			return -ENOMEM;
		buf = (const char *)buf + n;
		len -= (size_t)n;
	}
	return 0;
}

static void note_fault(struct tls_sess *s)
{
	long v = SSL_get_verify_result(s->ssl);

	if (v != X509_V_OK)
		snprintf(s->fault, sizeof(s->fault), "certificate: %s",
			 X509_verify_cert_error_string(v));
	else
		ossl_why(s->fault, sizeof(s->fault));
	ERR_clear_error();
}

int tls_sess_handshake(struct tls_sess *s)
{
	int r, e;

	if (s->up)
		return 0;
	r = SSL_do_handshake(s->ssl);
	if (r == 1) {
		s->up = true;
		return 0;
	}
	e = SSL_get_error(s->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return -EAGAIN;
	note_fault(s);
	return -EPROTO;
}

bool tls_sess_is_up(const struct tls_sess *s)
{
	return s->up;
}

int tls_sess_read(struct tls_sess *s, void *buf, size_t cap)
{
	int r, e;

	r = SSL_read(s->ssl, buf, cap > INT32_MAX ? INT32_MAX : (int)cap);
	if (r > 0)
		return r;
	e = SSL_get_error(s->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return -EAGAIN;
	if (e == SSL_ERROR_ZERO_RETURN)
		return 0;
	note_fault(s);
	return -EPROTO;
}

int tls_sess_write(struct tls_sess *s, const void *buf, size_t len)
{
	size_t done = 0;

	if (!s->up)
		return -ENOTCONN;
	/* A memory BIO takes everything: each call writes whole records. */
	while (done < len) {
		size_t n = len - done;
		int r = SSL_write(s->ssl, (const char *)buf + done,
				  n > INT32_MAX ? INT32_MAX : (int)n);

		if (r <= 0) {
			int e = SSL_get_error(s->ssl, r);

			note_fault(s);
			return e == SSL_ERROR_SSL || e == SSL_ERROR_SYSCALL
				   ? -EPROTO
				   : -ENOMEM;
		}
		done += (size_t)r;
	}
	return 0;
}

void tls_sess_close(struct tls_sess *s)
{
	if (s->up)
		(void)SSL_shutdown(s->ssl);
	ERR_clear_error();
}

size_t tls_sess_take(struct tls_sess *s, void *buf, size_t cap)
{
	int n;

	if (BIO_ctrl_pending(s->wbio) == 0)
		return 0;
	n = BIO_read(s->wbio, buf, cap > INT32_MAX ? INT32_MAX : (int)cap);
	return n > 0 ? (size_t)n : 0;
}

const char *tls_sess_fault(const struct tls_sess *s)
{
	return s->fault;
}

const char *tls_sess_version(const struct tls_sess *s)
{
	return s->up ? SSL_get_version(s->ssl) : "";
}
