/* proxy/sip/digest.c - HTTP digest for SIP (RFC 3261 §22, RFC 2617,
 * RFC 7616, RFC 8760): MD5 and SHA-256, HA1 and response, challenge and
 * credentials */
#include "proxy/sip/digest.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <nettle/md5.h>
#include <nettle/memops.h>
#include <nettle/sha2.h>

#include "proxy/base/arena.h"
#include "proxy/base/hex.h"

void digest_init(struct digest_ctx *c, enum digest_alg alg)
{
	c->alg = alg == DIGEST_SHA256 ? DIGEST_SHA256 : DIGEST_MD5;
	if (c->alg == DIGEST_SHA256)
		sha256_init(&c->u.sha256);
	else
		md5_init(&c->u.md5);
}

void digest_update(struct digest_ctx *c, const void *data, size_t len)
{
	if (c->alg == DIGEST_SHA256)
		sha256_update(&c->u.sha256, len, data);
	else
		md5_update(&c->u.md5, len, data);
}

/* Finish into @p out (digest_hash_len() bytes); returns that length. */
static unsigned final_raw(struct digest_ctx *c, uint8_t *out)
{
	if (c->alg == DIGEST_SHA256) {
		sha256_digest(&c->u.sha256, SHA256_DIGEST_SIZE, out);
		return SHA256_DIGEST_SIZE;
	}
	md5_digest(&c->u.md5, MD5_DIGEST_SIZE, out);
	return MD5_DIGEST_SIZE;
}

unsigned digest_final_hex(struct digest_ctx *c, char *hex)
{
	uint8_t out[DIGEST_HASH_MAX];

	unsigned n = final_raw(c, out);

	hex_print(out, n, hex);
	return 2 * n;
}

unsigned digest_hex(enum digest_alg alg, const void *p, size_t len, char *hex)
{
	struct digest_ctx c;

	digest_init(&c, alg);
	digest_update(&c, p, len);
	return digest_final_hex(&c, hex);
}

size_t digest_hash_len(enum digest_alg alg)
{
	return alg == DIGEST_SHA256 ? SHA256_DIGEST_SIZE : MD5_DIGEST_SIZE;
}

enum digest_alg digest_alg_lookup(struct slice name)
{
	if (slice_caseeq_cstr(name, "MD5"))
		return DIGEST_MD5;
	if (slice_caseeq_cstr(name, "SHA-256"))
		return DIGEST_SHA256;
	return 0;
}

const char *digest_alg_name(enum digest_alg alg)
{
	return alg == DIGEST_SHA256 ? "SHA-256" : "MD5";
}

/* Start a hash of the parts joined by ':'. */
static void hash_join(struct digest_ctx *c, enum digest_alg alg,
		      const struct slice *parts, unsigned n)
{
	digest_init(c, alg);
	for (unsigned i = 0; i < n; i++) {
		if (i)
			digest_update(c, ":", 1);
		digest_update(c, parts[i].p, parts[i].len);
	}
}

void digest_ha1(enum digest_alg alg, struct slice user, struct slice realm,
		struct slice password, uint8_t *out)
{
	const struct slice a1[3] = { user, realm, password };
	struct digest_ctx c;

	hash_join(&c, alg, a1, 3);
	final_raw(&c, out);
}

unsigned digest_response_ha1(enum digest_alg alg, const uint8_t *ha1,
			     struct slice nonce, struct slice nc,
			     struct slice cnonce, struct slice qop,
			     struct slice method, struct slice uri, char *hex)
{
	const size_t n = digest_hash_len(alg);
	char ha1_hex[DIGEST_HEX_MAX], ha2_hex[DIGEST_HEX_MAX];
	const struct slice a2[2] = { method, uri };
	struct digest_ctx c;

	hex_print(ha1, n, ha1_hex);
	hash_join(&c, alg, a2, 2);
	digest_final_hex(&c, ha2_hex);
	if (qop.len) {
		/* RFC 7616 §3.4.1. */
		const struct slice kd[6] = {
			slice_make(ha1_hex, 2 * n), nonce, nc, cnonce, qop,
			slice_make(ha2_hex, 2 * n)
		};

		hash_join(&c, alg, kd, 6);
	} else {
		/* RFC 2069 compatibility (RFC 2617 §3.2.2.1). */
		const struct slice kd[3] = { slice_make(ha1_hex, 2 * n), nonce,
					     slice_make(ha2_hex, 2 * n) };

		hash_join(&c, alg, kd, 3);
	}
	return digest_final_hex(&c, hex);
}

int digest_response(const struct digest_input *in, char *hex)
{
	uint8_t ha1[DIGEST_HASH_MAX];

	if (in->alg != DIGEST_MD5 && in->alg != DIGEST_SHA256)
		return -EINVAL;
	digest_ha1(in->alg, in->user, in->realm, in->password, ha1);
	return (int)digest_response_ha1(in->alg, ha1, in->nonce, in->nc,
					in->cnonce, in->qop, in->method,
					in->uri, hex);
}

bool digest_response_eq(struct slice got, const char *want, size_t len)
{
	char low[2 * DIGEST_HASH_MAX];

	if (got.len != len || len > sizeof(low))
		return false;
	for (size_t i = 0; i < len; i++)
		low[i] = got.p[i] >= 'A' && got.p[i] <= 'Z'
			     ? (char)(got.p[i] | 0x20)
			     : got.p[i];
	return memeql_sec(low, want, len);
}

static bool is_lws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_token(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (c && strchr("-.!%*_+`'~", c));
}

int digest_param_next(struct slice *restp, struct slice *namep,
		      struct slice *valp, bool *escapedp)
{
	const char *p = restp->p;
	const char *e = restp->p + restp->len;
	bool escaped = false;
	const char *n0;

	while (p < e && (is_lws(*p) || *p == ','))
		p++;
	if (p == e) {
		*restp = slice_make(e, 0);
		return 0;
	}
	n0 = p;
	while (p < e && is_token(*p))
		p++;
	if (p == n0)
		return -EBADMSG;
	*namep = slice_make(n0, (size_t)(p - n0));
	while (p < e && is_lws(*p))
		p++;
	if (p == e || *p != '=')
		return -EBADMSG;
	p++;
	while (p < e && is_lws(*p))
		p++;
	if (p < e && *p == '"') {
		const char *v0 = ++p;

		while (p < e && *p != '"') {
			if (*p == '\\') {
				escaped = true;
				if (++p == e)
					return -EBADMSG;
			}
			p++;
		}
		if (p == e)
			return -EBADMSG;
		*valp = slice_make(v0, (size_t)(p - v0));
		p++;
	} else {
		const char *v0 = p;

		while (p < e && *p != ',' && !is_lws(*p))
			p++;
		*valp = slice_make(v0, (size_t)(p - v0));
	}
	while (p < e && is_lws(*p))
		p++;
	if (p < e && *p != ',')
		return -EBADMSG;
	if (escapedp)
		*escapedp = escaped;
	*restp = slice_make(p, (size_t)(e - p));
	return 1;
}

/* Skip the "Digest" scheme name; -ENOTSUP for another scheme, -EBADMSG
 * for "Digest" not followed by white space. */
static int skip_scheme(struct slice *v)
{
	const char *p = v->p, *e = v->p + v->len, *s;

	while (p < e && is_lws(*p))
		p++;
	for (s = p; p < e && is_token(*p); p++)
		;
	if (!slice_caseeq_cstr(slice_make(s, (size_t)(p - s)), "Digest"))
		return -ENOTSUP;
	if (p == e || !is_lws(*p))
		return -EBADMSG;
	*v = slice_make(p, (size_t)(e - p));
	return 0;
}

/* Does the qop-options list @p v ("auth,auth-int") name "auth"? */
static bool qop_has_auth(struct slice v)
{
	size_t i = 0;

	while (i < v.len) {
		size_t j = i;

		while (j < v.len && v.p[j] != ',')
			j++;
		if (slice_caseeq_cstr(slice_trim(slice_make(v.p + i, j - i)),
				      "auth"))
			return true;
		i = j + 1;
	}
	return false;
}

int digest_challenge_parse(struct slice value, struct digest_challenge *cp)
{
	struct digest_challenge c;
	struct slice rest = value;
	struct slice name, val;
	int ret;

	memset(&c, 0, sizeof(c));
	c.alg = DIGEST_MD5;
	if (skip_scheme(&rest))
		return -ENOTSUP;
	while ((ret = digest_param_next(&rest, &name, &val, NULL)) > 0) {
		if (slice_caseeq_cstr(name, "realm")) {
			c.realm = val;
		} else if (slice_caseeq_cstr(name, "nonce")) {
			c.nonce = val;
		} else if (slice_caseeq_cstr(name, "opaque")) {
			c.opaque = val;
		} else if (slice_caseeq_cstr(name, "stale")) {
			c.stale = slice_caseeq_cstr(val, "true");
		} else if (slice_caseeq_cstr(name, "qop")) {
			c.has_qop = true;
			c.qop_auth = qop_has_auth(val);
		} else if (slice_caseeq_cstr(name, "algorithm")) {
			c.alg = digest_alg_lookup(val);
			if (!c.alg)
				return -ENOTSUP;
		}
	}
	if (ret < 0)
		return ret;
	if (!c.nonce.len || !c.realm.p)
		return -EBADMSG;
	if (c.has_qop && !c.qop_auth)
		return -ENOTSUP;
	*cp = c;
	return 0;
}

int digest_challenge_print(char *buf, size_t size, enum digest_alg alg,
			   struct slice realm, struct slice nonce, bool stale)
{
	int n = snprintf(buf, size,
			 "Digest realm=\"%.*s\", nonce=\"%.*s\", qop=\"auth\", "
			 "algorithm=%s%s",
			 (int)realm.len, realm.p, (int)nonce.len, nonce.p,
			 digest_alg_name(alg), stale ? ", stale=true" : "");

	if (n < 0 || (size_t)n >= size)
		return -ENOSPC;
	return n;
}

/* Remove the backslashes of a quoted-pair (RFC 3261 §25.1) into @p a. */
static int unescape(struct slice *v, struct arena *a)
{
	char *w = arena_alloc(a, v->len ? v->len : 1);
	size_t o = 0;

	if (!w)
		return -ENOMEM;
	for (size_t i = 0; i < v->len; i++) {
		if (v->p[i] == '\\')
			i++;
		w[o++] = v->p[i];
	}
	*v = slice_make(w, o);
	return 0;
}

int digest_credentials_parse(struct slice value, struct arena *a,
			     struct digest_credentials *cp)
{
	struct digest_credentials c;
	struct slice rest = value;
	struct slice name, val;
	bool escaped;
	int ret;

	memset(&c, 0, sizeof(c));
	ret = skip_scheme(&rest);
	if (ret)
		return ret;
	/* Bounded: every pass consumes a parameter or fails. */
	while ((ret = digest_param_next(&rest, &name, &val, &escaped)) > 0) {
		struct slice *slot = NULL;

		if (escaped && a && unescape(&val, a))
			return -ENOMEM;
		if (slice_caseeq_cstr(name, "username"))
			slot = &c.user;
		else if (slice_caseeq_cstr(name, "realm"))
			slot = &c.realm;
		else if (slice_caseeq_cstr(name, "nonce"))
			slot = &c.nonce;
		else if (slice_caseeq_cstr(name, "uri"))
			slot = &c.uri;
		else if (slice_caseeq_cstr(name, "response"))
			slot = &c.response;
		else if (slice_caseeq_cstr(name, "algorithm"))
			slot = &c.algorithm;
		else if (slice_caseeq_cstr(name, "cnonce"))
			slot = &c.cnonce;
		else if (slice_caseeq_cstr(name, "qop"))
			slot = &c.qop;
		else if (slice_caseeq_cstr(name, "nc"))
			slot = &c.nc;
		else if (slice_caseeq_cstr(name, "opaque"))
			slot = &c.opaque;
		if (slot) {
			if (slot->p)
				return -EBADMSG; /* given twice */
			*slot = val;
			if (!slot->p)
				slot->p = name.p; /* empty but present */
		}
	}
	if (ret < 0)
		return ret;
	/* RFC 7616 §3.4: no algorithm means MD5. */
	c.alg = c.algorithm.p ? digest_alg_lookup(c.algorithm) : DIGEST_MD5;
	*cp = c;
	return 0;
}

/* The nonce count: 8 hex digits, not 0 (RFC 7616 §3.4). */
static int parse_nc(struct slice s, uint32_t *ncp)
{
	uint64_t v;

	if (s.len != 8 || hex_u64_parse(s.p, 8, &v) < 0 || v == 0)
		return -EINVAL;
	*ncp = (uint32_t)v;
	return 0;
}

int digest_credentials_check(const struct digest_credentials *c, uint32_t *ncp)
{
	uint32_t nc = 1;

	if (!c->user.len || !c->realm.p || !c->nonce.len || !c->response.len ||
	    !c->uri.p)
		return -EBADMSG;
	if (c->qop.len && (!c->cnonce.p || parse_nc(c->nc, &nc) < 0))
		return -EBADMSG;
	if (ncp)
		*ncp = nc;
	return 0;
}

int digest_credentials_print(char *buf, size_t size,
			     const struct digest_input *in,
			     const char *response_hex, struct slice opaque)
{
	int n, m = 0, o = 0;

	n = snprintf(buf, size,
		     "Digest username=\"%.*s\", realm=\"%.*s\", "
		     "nonce=\"%.*s\", uri=\"%.*s\", response=\"%s\", "
		     "algorithm=%s",
		     (int)in->user.len, in->user.p, (int)in->realm.len,
		     in->realm.p, (int)in->nonce.len, in->nonce.p,
		     (int)in->uri.len, in->uri.p, response_hex,
		     digest_alg_name(in->alg));
	if (n < 0 || (size_t)n >= size)
		return -ENOSPC;
	if (in->qop.len) {
		m = snprintf(buf + n, size - (size_t)n,
			     ", cnonce=\"%.*s\", qop=%.*s, nc=%.*s",
			     (int)in->cnonce.len, in->cnonce.p,
			     (int)in->qop.len, in->qop.p, (int)in->nc.len,
			     in->nc.p);
		if (m < 0 || (size_t)m >= size - (size_t)n)
			return -ENOSPC;
	}
	if (opaque.len) {
		o = snprintf(buf + n + m, size - (size_t)(n + m),
			     ", opaque=\"%.*s\"", (int)opaque.len, opaque.p);
		if (o < 0 || (size_t)o >= size - (size_t)(n + m))
			return -ENOSPC;
	}
	return n + m + o;
}
