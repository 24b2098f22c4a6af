/* bench/sipload/digest.c - HTTP digest for SIP (RFC 3261 §22, RFC 7616,
 * RFC 8760): MD5, SHA-256, challenge and credentials */
#include "bench/sipload/digest.h"

#include <errno.h>
#include <string.h>

#include "bench/sipload/wbuf.h"

/* RFC 1321 §3.4: T[i] = floor(2^32 * abs(sin(i + 1))). */
static const uint32_t md5_t[64] = {
	0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a,
	0xa8304613, 0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be,
	0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340,
	0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
	0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8,
	0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
	0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
	0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
	0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92,
	0xffeff47d, 0x85845dd1, 0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1,
	0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};

/* RFC 1321 §3.4: the per-step left rotations of each round. */
static const uint8_t md5_s[4][4] = {
	{ 7, 12, 17, 22 },
	{ 5, 9, 14, 20 },
	{ 4, 11, 16, 23 },
	{ 6, 10, 15, 21 },
};

/* FIPS 180-4 §4.2.2: the first 32 bits of the fractional parts of the
 * cube roots of the first 64 primes. */
static const uint32_t sha_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t rol(uint32_t x, unsigned n)
{
	return (x << n) | (x >> (32 - n));
}

static inline uint32_t ror(uint32_t x, unsigned n)
{
	return (x >> n) | (x << (32 - n));
}

static void md5_block(uint32_t h[4], const uint8_t *p)
{
	uint32_t x[16];
	uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
	unsigned i;

	/* RFC 1321 §3.4: the block as 16 little-endian words. */
	for (i = 0; i < 16; i++)
		x[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
		       (uint32_t)p[4 * i + 2] << 16 |
		       (uint32_t)p[4 * i + 3] << 24;
	for (i = 0; i < 64; i++) {
		uint32_t f;
		unsigned g;
		uint32_t tmp;

		switch (i / 16) {
		case 0:
			f = (b & c) | (~b & d);
			g = i;
			break;
		case 1:
			f = (b & d) | (c & ~d);
			g = (5 * i + 1) % 16;
			break;
		case 2:
			f = b ^ c ^ d;
			g = (3 * i + 5) % 16;
			break;
		default:
			f = c ^ (b | ~d);
			g = (7 * i) % 16;
			break;
		}
		tmp = d;
		d = c;
		c = b;
		b = b + rol(a + f + md5_t[i] + x[g], md5_s[i / 16][i % 4]);
		a = tmp;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
}

static void sha256_block(uint32_t h[8], const uint8_t *p)
{
	uint32_t w[64];
	uint32_t a, b, c, d, e, f, g, hh;
	unsigned i;

	/* FIPS 180-4 §6.2.2: the message schedule, big-endian words. */
	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
	for (i = 16; i < 64; i++) {
		uint32_t s0 =
		    ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 =
		    ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);

		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = h[0];
	b = h[1];
	c = h[2];
	d = h[3];
	e = h[4];
	f = h[5];
	g = h[6];
	hh = h[7];
	for (i = 0; i < 64; i++) {
		uint32_t s1 = ror(e, 6) ^ ror(e, 11) ^ ror(e, 25);
		uint32_t ch = (e & f) ^ (~e & g);
		uint32_t t1 = hh + s1 + ch + sha_k[i] + w[i];
		uint32_t s0 = ror(a, 2) ^ ror(a, 13) ^ ror(a, 22);
		uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
		uint32_t t2 = s0 + maj;

		hh = g;
		g = f;
		f = e;
		e = d + t1;
		d = c;
		c = b;
		b = a;
		a = t1 + t2;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
	h[5] += f;
	h[6] += g;
	h[7] += hh;
}

static void block(struct digest_ctx *c, const uint8_t *p)
{
	if (c->alg == DIGEST_SHA256)
		sha256_block(c->h, p);
	else
		md5_block(c->h, p);
}

void digest_init(struct digest_ctx *c, enum digest_alg alg)
{
	/* FIPS 180-4 §5.3.3: square roots of the first 8 primes. */
	static const uint32_t sha_h0[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};
	/* RFC 1321 §3.3: words A, B, C, D. */
	static const uint32_t md5_h0[4] = {
		0x67452301,
		0xefcdab89,
		0x98badcfe,
		0x10325476,
	};

	memset(c, 0, sizeof(*c));
	c->alg = alg == DIGEST_SHA256 ? DIGEST_SHA256 : DIGEST_MD5;
	if (c->alg == DIGEST_SHA256)
		memcpy(c->h, sha_h0, sizeof(sha_h0));
	else
		memcpy(c->h, md5_h0, sizeof(md5_h0));
}

void digest_update(struct digest_ctx *c, const void *data, size_t len)
{
	const uint8_t *p = data;

	c->total += len;
	if (c->fill) {
		size_t n = 64 - c->fill;

		if (n > len)
			n = len;
		memcpy(c->block + c->fill, p, n);
		c->fill += (unsigned)n;
		p += n;
		len -= n;
		if (c->fill < 64)
			return;
		block(c, c->block);
		c->fill = 0;
	}
	while (len >= 64) {
		block(c, p);
		p += 64;
		len -= 64;
	}
	memcpy(c->block, p, len);
	c->fill = (unsigned)len;
}

unsigned digest_final_hex(struct digest_ctx *c, char *hex)
{
	static const char xd[] = "0123456789abcdef";
	uint64_t bits = c->total * 8;
	uint8_t out[32];
	unsigned words;
	unsigned i;

	/* Padding: 0x80, zeros to 56 mod 64, the bit length (MD5: little
	 * endian, RFC 1321 §3.2; SHA-256: big endian, FIPS 180-4 §5.1.1). */
	c->block[c->fill++] = 0x80;
	if (c->fill > 56) {
		memset(c->block + c->fill, 0, 64 - c->fill);
		block(c, c->block);
		c->fill = 0;
	}
	memset(c->block + c->fill, 0, 56 - c->fill);
	for (i = 0; i < 8; i++) {
		if (c->alg == DIGEST_SHA256)
			c->block[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
		else
			c->block[56 + i] = (uint8_t)(bits >> (8 * i));
	}
	block(c, c->block);
	words = c->alg == DIGEST_SHA256 ? 8 : 4;
	for (i = 0; i < words; i++) {
		uint32_t v = c->h[i];

		if (c->alg == DIGEST_SHA256) {
			out[4 * i] = (uint8_t)(v >> 24);
			out[4 * i + 1] = (uint8_t)(v >> 16);
			out[4 * i + 2] = (uint8_t)(v >> 8);
			out[4 * i + 3] = (uint8_t)v;
		} else {
			out[4 * i] = (uint8_t)v;
			out[4 * i + 1] = (uint8_t)(v >> 8);
			out[4 * i + 2] = (uint8_t)(v >> 16);
			out[4 * i + 3] = (uint8_t)(v >> 24);
		}
	}
	for (i = 0; i < words * 4; i++) {
		hex[2 * i] = xd[out[i] >> 4];
		hex[2 * i + 1] = xd[out[i] & 15];
	}
	hex[words * 8] = '\0';
	return words * 8;
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
