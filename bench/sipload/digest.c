/* bench/sipload/digest.c - HTTP digest for SIP (RFC 3261 §22, RFC 7616,
 * RFC 8760): MD5, SHA-256, challenge and credentials */
#include "bench/sipload/digest.h"

#include <errno.h>
#include <string.h>

#include <nettle/md5.h>
#include <nettle/sha2.h>

#include "bench/sipload/wbuf.h"

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

unsigned digest_final_hex(struct digest_ctx *c, char *hex)
{
	static const char xd[] = "0123456789abcdef";
	uint8_t out[SHA256_DIGEST_SIZE];
	unsigned n, i;

	if (c->alg == DIGEST_SHA256) {
		n = SHA256_DIGEST_SIZE;
		sha256_digest(&c->u.sha256, n, out);
	} else {
		n = MD5_DIGEST_SIZE;
		md5_digest(&c->u.md5, n, out);
	}
	for (i = 0; i < n; i++) {
		hex[2 * i] = xd[out[i] >> 4];
		hex[2 * i + 1] = xd[out[i] & 15];
	}
	hex[2 * n] = '\0';
	return 2 * n;
}

unsigned digest_hex(enum digest_alg alg, const void *p, size_t len, char *hex)
{
	struct digest_ctx c;

	digest_init(&c, alg);
	digest_update(&c, p, len);
	return digest_final_hex(&c, hex);
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

/* Hash the parts joined by ':'. */
static unsigned hash_join(enum digest_alg alg, const struct slice *parts,
			  unsigned n, char *hex)
{
	struct digest_ctx c;
	unsigned i;

	digest_init(&c, alg);
	for (i = 0; i < n; i++) {
		if (i)
			digest_update(&c, ":", 1);
		digest_update(&c, parts[i].p, parts[i].len);
	}
	return digest_final_hex(&c, hex);
}

int digest_response(const struct digest_input *in, char *hex)
{
	char ha1[DIGEST_HEX_MAX];
	char ha2[DIGEST_HEX_MAX];
	struct slice a1[3] = { in->user, in->realm, in->password };
	struct slice a2[2] = { in->method, in->uri };
	unsigned n;

	if (in->alg != DIGEST_MD5 && in->alg != DIGEST_SHA256)
		return -EINVAL;
	n = hash_join(in->alg, a1, 3, ha1);
	hash_join(in->alg, a2, 2, ha2);
	if (in->qop.len) {
		/* RFC 7616 §3.4.1. */
		struct slice kd[6] = {
			slice_make(ha1, n), in->nonce, in->nc,
			in->cnonce,	    in->qop,   slice_make(ha2, n),
		};

		return (int)hash_join(in->alg, kd, 6, hex);
	} else {
		/* RFC 2069 compatibility (RFC 2617 §3.2.2.1). */
		struct slice kd[3] = { slice_make(ha1, n), in->nonce,
				       slice_make(ha2, n) };

		return (int)hash_join(in->alg, kd, 3, hex);
	}
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
		      struct slice *valp)
{
	const char *p = restp->p;
	const char *e = restp->p + restp->len;
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
			if (*p == '\\' && p + 1 < e)
				p++;
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
	*restp = slice_make(p, (size_t)(e - p));
	return 1;
}

/* Skip the "Digest" scheme name; -ENOTSUP for another scheme. */
static int skip_scheme(struct slice *v)
{
	struct slice s = slice_trim(*v);

	if (s.len < 7 ||
	    !slice_caseeq(slice_make(s.p, 6), SLICE_LIT("Digest")) ||
	    !is_lws(s.p[6]))
		return -ENOTSUP;
	*v = slice_make(s.p + 7, s.len - 7);
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
	while ((ret = digest_param_next(&rest, &name, &val)) > 0) {
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

int digest_credentials_parse(struct slice value, struct digest_credentials *cp)
{
	struct digest_credentials c;
	struct slice rest = value;
	struct slice name, val;
	int ret;

	memset(&c, 0, sizeof(c));
	c.alg = DIGEST_MD5;
	if (skip_scheme(&rest))
		return -ENOTSUP;
	while ((ret = digest_param_next(&rest, &name, &val)) > 0) {
		if (slice_caseeq_cstr(name, "username"))
			c.user = val;
		else if (slice_caseeq_cstr(name, "realm"))
			c.realm = val;
		else if (slice_caseeq_cstr(name, "nonce"))
			c.nonce = val;
		else if (slice_caseeq_cstr(name, "uri"))
			c.uri = val;
		else if (slice_caseeq_cstr(name, "response"))
			c.response = val;
		else if (slice_caseeq_cstr(name, "cnonce"))
			c.cnonce = val;
		else if (slice_caseeq_cstr(name, "nc"))
			c.nc = val;
		else if (slice_caseeq_cstr(name, "qop"))
			c.qop = val;
		else if (slice_caseeq_cstr(name, "opaque"))
			c.opaque = val;
		else if (slice_caseeq_cstr(name, "algorithm")) {
			c.alg = digest_alg_lookup(val);
			if (!c.alg)
				return -ENOTSUP;
		}
	}
	if (ret < 0)
		return ret;
	if (!c.user.p || !c.realm.p || !c.nonce.len || !c.uri.len ||
	    !c.response.len)
		return -EBADMSG;
	*cp = c;
	return 0;
}

void digest_credentials_print(struct wbuf *b, const struct digest_input *in,
			      const char *response_hex, struct slice opaque)
{
	wbuf_slice(b, SLICE_LIT("Digest username=\""));
	wbuf_slice(b, in->user);
	wbuf_slice(b, SLICE_LIT("\", realm=\""));
	wbuf_slice(b, in->realm);
	wbuf_slice(b, SLICE_LIT("\", nonce=\""));
	wbuf_slice(b, in->nonce);
	wbuf_slice(b, SLICE_LIT("\", uri=\""));
	wbuf_slice(b, in->uri);
	wbuf_slice(b, SLICE_LIT("\", response=\""));
	wbuf_str(b, response_hex);
	wbuf_slice(b, SLICE_LIT("\", algorithm="));
	wbuf_str(b, digest_alg_name(in->alg));
	if (in->qop.len) {
		wbuf_slice(b, SLICE_LIT(", cnonce=\""));
		wbuf_slice(b, in->cnonce);
		wbuf_slice(b, SLICE_LIT("\", qop="));
		wbuf_slice(b, in->qop);
		wbuf_slice(b, SLICE_LIT(", nc="));
		wbuf_slice(b, in->nc);
	}
	if (opaque.len) {
		wbuf_slice(b, SLICE_LIT(", opaque=\""));
		wbuf_slice(b, opaque);
		wbuf_ch(b, '"');
	}
}

void digest_challenge_print(struct wbuf *b, enum digest_alg alg,
			    struct slice realm, struct slice nonce)
{
	wbuf_slice(b, SLICE_LIT("Digest realm=\""));
	wbuf_slice(b, realm);
	wbuf_slice(b, SLICE_LIT("\", nonce=\""));
	wbuf_slice(b, nonce);
	wbuf_slice(b, SLICE_LIT("\", algorithm="));
	wbuf_str(b, digest_alg_name(alg));
	wbuf_slice(b, SLICE_LIT(", qop=\"auth\""));
}
