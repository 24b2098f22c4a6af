/* features/gruu.c - GRUU (RFC 5627): pub-gruu, temp-gruu tokens, routing */
#include "features/gruu.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include <nettle/chacha-poly1305.h>
#include <nettle/hmac.h>
#include <nettle/memops.h>
#include <nettle/sha2.h>

#include "features/features_conf.h"
#include "proxy/base/arena.h"
#include "proxy/base/hex.h"
#include "proxy/core/conf.h"
#include "proxy/hook.h"
#include "proxy/sip/msg.h"
#include "proxy/sip/uri.h"
#include "store/loc.h"
#include "store/rcu.h"

/*
 * A temp-gruu token, before base64url:
 *
 *   version (1) | nonce (12) | ciphertext | tag (16)
 *
 * ChaCha20-Poly1305 with the version byte as associated data seals the
 * plaintext  H(instance) (8) | H(Call-ID) (8) | AOR  where H is the
 * first 8 bytes of SHA-256 over a label and the value. The AOR is
 * needed to find the bindings; the instance and the Call-ID only have
 * to be recognised, so their hashes keep the token short. Only a node
 * with the key opens a token or makes one that opens: a forged or
 * changed one fails the tag.
 */
#define TOKEN_VERSION 1
#define NONCE_LEN     CHACHA_POLY1305_NONCE_SIZE
#define TAG_LEN	      CHACHA_POLY1305_DIGEST_SIZE
#define HASH_LEN      8
#define HEAD_LEN      (1 + NONCE_LEN)
#define RAW_MAX	      (HEAD_LEN + 2 * HASH_LEN + SIPMSG_AOR_MAX + TAG_LEN)
#define RAW_MIN	      (HEAD_LEN + 2 * HASH_LEN + 3 + TAG_LEN)
#define TEMP_PREFIX   "tgruu."
#define KEY_LABEL     "sipedge temp-gruu v1"
/* Longest gr value (an instance) that is looked at. */
#define INSTANCE_MAX 512

/* Written by the control thread before the shards start, then only read
 * (thread creation orders the write before every shard's reads). */
static struct gruu_key key;
static bool have_key;

void gruu_key_derive(struct slice secret, struct gruu_key *k)
{
	struct hmac_sha256_ctx h;

	hmac_sha256_set_key(&h, secret.len, (const uint8_t *)secret.p);
	hmac_sha256_update(&h, sizeof(KEY_LABEL) - 1,
			   (const uint8_t *)KEY_LABEL);
	hmac_sha256_digest(&h, GRUU_KEY_SIZE, k->k);
}

int gruu_init(const char *secret)
{
	if (secret) {
		gruu_key_derive(slice_cstr(secret), &key);
	} else if (getrandom(key.k, sizeof(key.k), 0) !=
		   (ssize_t)sizeof(key.k)) {
		return -EIO;
	}
	have_key = true;
	return 0;
}

void gruu_fini(void)
{
	memset(&key, 0, sizeof(key));
	have_key = false;
}

const struct gruu_key *gruu_key_get(void)
{
	return have_key ? &key : NULL;
}

/* H(label, s): the first HASH_LEN bytes of SHA-256(label NUL s). */
static void hash8(const char *label, struct slice s, uint8_t *out)
{
	uint8_t d[SHA256_DIGEST_SIZE];
	struct sha256_ctx h;

	sha256_init(&h);
	sha256_update(&h, strlen(label) + 1, (const uint8_t *)label);
	sha256_update(&h, s.len, (const uint8_t *)s.p);
	sha256_digest(&h, sizeof(d), d);
	memcpy(out, d, HASH_LEN);
}

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* RFC 4648 §5 without padding. Returns the length or -ENOSPC. */
static int b64url_encode(const uint8_t *p, size_t n, char *out, size_t size)
{
	size_t o = 0, need = (n * 4 + 2) / 3;

	if (need > size)
		return -ENOSPC;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		if (i + 1 < n)
			out[o++] = b64[v >> 6 & 63];
		if (i + 2 < n)
			out[o++] = b64[v & 63];
	}
	return (int)o;
}

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/* Strict decoding: the alphabet only, no padding, unused bits zero.
 * Returns the length or -EBADMSG. */
static int b64url_decode(struct slice s, uint8_t *out, size_t size)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t o = 0;

	if (s.len % 4 == 1 || s.len * 3 / 4 > size)
		return -EBADMSG;
	for (size_t i = 0; i < s.len; i++) {
		int v = b64val(s.p[i]);

		if (v < 0)
			return -EBADMSG;
		acc = (acc << 6 | (uint32_t)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == size)
				return -EBADMSG;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	if (acc & ((1u << bits) - 1))
		return -EBADMSG;
	return (int)o;
}

int gruu_token_make(const struct gruu_key *k, struct slice aor,
		    struct slice instance, struct slice call_id, char *out,
		    size_t size)
{
	uint8_t raw[RAW_MAX], pt[2 * HASH_LEN + SIPMSG_AOR_MAX];
	struct chacha_poly1305_ctx ctx;
	size_t n;

	if (!k || aor.len < 3 || aor.len > SIPMSG_AOR_MAX || !instance.len)
		return -EINVAL;
	raw[0] = TOKEN_VERSION;
	if (getrandom(raw + 1, NONCE_LEN, 0) != NONCE_LEN)
		return -EIO;
	hash8("instance", instance, pt);
	hash8("call-id", call_id, pt + HASH_LEN);
	memcpy(pt + 2 * HASH_LEN, aor.p, aor.len);
	n = 2 * HASH_LEN + aor.len;
	chacha_poly1305_set_key(&ctx, k->k);
	chacha_poly1305_set_nonce(&ctx, raw + 1);
	chacha_poly1305_update(&ctx, 1, raw);
	chacha_poly1305_encrypt(&ctx, n, raw + HEAD_LEN, pt);
	chacha_poly1305_digest(&ctx, TAG_LEN, raw + HEAD_LEN + n);
	return b64url_encode(raw, HEAD_LEN + n + TAG_LEN, out, size);
}

int gruu_token_open(const struct gruu_key *k, struct slice token,
		    struct gruu_ref *r)
{
	uint8_t raw[RAW_MAX], pt[2 * HASH_LEN + SIPMSG_AOR_MAX], tag[TAG_LEN];
	struct chacha_poly1305_ctx ctx;
	size_t n;
	int len;

	if (!k || token.len > GRUU_TOKEN_MAX)
		return -EBADMSG;
	len = b64url_decode(token, raw, sizeof(raw));
	if (len < RAW_MIN || raw[0] != TOKEN_VERSION)
		return -EBADMSG;
	n = (size_t)len - HEAD_LEN - TAG_LEN;
	chacha_poly1305_set_key(&ctx, k->k);
	chacha_poly1305_set_nonce(&ctx, raw + 1);
	chacha_poly1305_update(&ctx, 1, raw);
	chacha_poly1305_decrypt(&ctx, n, pt, raw + HEAD_LEN);
	chacha_poly1305_digest(&ctx, TAG_LEN, tag);
	if (!memeql_sec(tag, raw + HEAD_LEN + n, TAG_LEN))
		return -EACCES;
	memcpy(r->instance_h, pt, HASH_LEN);
	memcpy(r->call_id_h, pt + HASH_LEN, HASH_LEN);
	r->aor_len = n - 2 * HASH_LEN;
	memcpy(r->aor, pt + 2 * HASH_LEN, r->aor_len);
	return 0;
}

bool gruu_ref_has_instance(const struct gruu_ref *r, struct slice instance)
{
	uint8_t h[HASH_LEN];

	hash8("instance", instance, h);
	return memcmp(h, r->instance_h, HASH_LEN) == 0;
}

bool gruu_ref_has_call_id(const struct gruu_ref *r, struct slice call_id)
{
	uint8_t h[HASH_LEN];

	hash8("call-id", call_id, h);
	return memcmp(h, r->call_id_h, HASH_LEN) == 0;
}

/* The instance without its angle brackets (RFC 5627 §3.1). */
static struct slice bare(struct slice instance)
{
	if (instance.len >= 2 && instance.p[0] == '<' &&
	    instance.p[instance.len - 1] == '>')
		return slice_make(instance.p + 1, instance.len - 2);
	return instance;
}

/* RFC 3261 §25.1 paramchar without escaping. */
static bool paramchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || strchr("-_.!~*'()[]/:&+$", c);
}

int gruu_pub_print(struct slice aor, struct slice instance, char *buf,
		   size_t size)
{
	struct slice in = bare(instance);
	size_t o;
	int n;

	if (!aor.len || !in.len)
		return -EINVAL;
	n = snprintf(buf, size, "sip:%.*s;gr=", (int)aor.len, aor.p);
	if (n < 0 || (size_t)n >= size)
		return -ENOSPC;
	o = (size_t)n;
	for (size_t i = 0; i < in.len; i++) {
		char c = in.p[i];

		if (paramchar(c) && c) {
			if (o + 1 > size)
				return -ENOSPC;
			buf[o++] = c;
			continue;
		}
		if (o + 3 > size)
			return -ENOSPC;
		hex_escape((unsigned char)c, buf + o);
		o += 3;
	}
	return (int)o;
}

int gruu_temp_print(const struct gruu_key *k, struct slice aor,
		    struct slice instance, struct slice call_id, char *buf,
		    size_t size)
{
	struct slice user, dom;
	size_t o = sizeof("sip:" TEMP_PREFIX) - 1;
	int n;

	if (!sipmsg_aor_split(aor, &user, &dom))
		return -EINVAL;
	if (size < o)
		return -ENOSPC;
	memcpy(buf, "sip:" TEMP_PREFIX, o);
	n = gruu_token_make(k, aor, instance, call_id, buf + o, size - o);
	if (n < 0)
		return n;
	o += (size_t)n;
	n = snprintf(buf + o, size - o, "@%.*s;gr", (int)dom.len, dom.p);
	if (n < 0 || (size_t)n >= size - o)
		return -ENOSPC;
	return (int)(o + (size_t)n);
}

size_t gruu_params_len(struct slice aor, struct slice instance)
{
	return 64 + 2 * aor.len + 3 * instance.len + GRUU_TOKEN_MAX;
}

int gruu_contact_params(const struct gruu_key *k, struct slice aor,
			struct slice instance, struct slice call_id, char *buf,
			size_t size)
{
	size_t o = 0;
	int n;

	if (!instance.len)
		return -EINVAL;
	if (size < 12)
		return -ENOSPC;
	memcpy(buf, ";pub-gruu=\"", 11);
	o = 11;
	n = gruu_pub_print(aor, instance, buf + o, size - o);
	if (n < 0)
		return n;
	o += (size_t)n;
	if (o + 1 > size)
		return -ENOSPC;
	buf[o++] = '"';
	if (!k)
		return (int)o;
	if (o + 12 > size)
		return -ENOSPC;
	memcpy(buf + o, ";temp-gruu=\"", 12);
	o += 12;
	n = gruu_temp_print(k, aor, instance, call_id, buf + o, size - o);
	if (n < 0)
		return n;
	o += (size_t)n;
	if (o + 1 > size)
		return -ENOSPC;
	buf[o++] = '"';
	return (int)o;
}

/* Routing. */

/* Which bindings a GRUU names. */
struct want {
	bool temp;
	struct slice instance;	    /* pub-gruu: unescaped, without brackets */
	const struct gruu_ref *ref; /* temp-gruu */
};

static bool is_instance(const struct want *w, struct slice instance)
{
	if (!instance.len)
		return false;
	if (w->temp)
		return gruu_ref_has_instance(w->ref, instance);
	/* URNs (urn:uuid:...) compare without regard to case. */
	return slice_caseeq(bare(instance), w->instance);
}

/* A copy of @p s in @p a; its p is NULL when memory ran out. */
static struct slice dup_slice(struct arena *a, struct slice s)
{
	char *p = s.len ? arena_alloc(a, s.len) : NULL;

	if (p)
		memcpy(p, s.p, s.len);
	return slice_make(p, s.len);
}

/*
 * The live bindings of @p aor that @p w names into @p t (room for
 * GRUU_MAX_FLOWS); *knownp: the instance has a live binding; *validp:
 * (temp-gruu) one of them was made by the token's registration.
 */
static int collect(struct slice aor, const struct want *w, int64_t now_s,
		   struct arena *a, struct hook_target *t, unsigned *np,
		   bool *knownp, bool *validp)
{
	const struct loc_set *set;
	unsigned n = 0;
	int err = 0;

	*knownp = *validp = false;
	urcu_memb_read_lock();
	set = loc_lookup_rcu(aor);
	for (unsigned i = 0; set && i < set->n; i++) {
		const struct loc_contact *b = &set->c[i];
		struct hook_target *x = &t[n];

		if ((b->expires_s && b->expires_s <= now_s) ||
		    !is_instance(w, b->instance))
			continue;
		*knownp = true;
		if (!w->temp || gruu_ref_has_call_id(w->ref, b->call_id))
			*validp = true;
		if (n == GRUU_MAX_FLOWS)
			continue;
		memset(x, 0, sizeof(*x));
		x->b.uri = dup_slice(a, b->uri);
		x->b.path = dup_slice(a, b->path);
		x->b.q = b->q;
		x->b.flags = b->flags;
		x->b.reg_id = b->reg_id;
		x->b.expires_s = b->expires_s;
		x->b.flow = b->flow;
		if ((x->b.uri.len && !x->b.uri.p) ||
		    (x->b.path.len && !x->b.path.p))
			err = -ENOMEM;
		n++;
	}
	urcu_memb_read_unlock();
	*np = n;
	return err;
}

int gruu_lookup(const struct conf *c, struct slice ruri, int64_t now_s,
		struct arena *a, struct hook_fwd *fwp, unsigned *statusp)
{
	char ubuf[GRUU_TOKEN_MAX + 16], ibuf[INSTANCE_MAX], aor[SIPMSG_AOR_MAX];
	struct hook_target *t;
	struct gruu_ref ref;
	struct want w;
	struct sipuri u;
	struct slice gr, aor_s, user, dom;
	bool known, valid;
	unsigned n = 0;
	int len, err;

	if (!features_conf(c)->gruu || uri_parse(ruri, &u) < 0 ||
	    uri_param(&u, "gr", &gr) != 1)
		return 0;
	*statusp = 404;
	memset(&w, 0, sizeof(w));
	if (gr.len) {
		/* pub-gruu: AOR;gr=INSTANCE */
		len = uri_unescape(gr, ibuf, sizeof(ibuf));
		if (len <= 0)
			return 1;
		w.instance = bare(slice_make(ibuf, (size_t)len));
		len = sipmsg_aor_print(ruri, aor, sizeof(aor));
		if (len <= 0)
			return 1;
		aor_s = slice_make(aor, (size_t)len);
	} else {
		/* temp-gruu: tgruu.TOKEN@DOMAIN;gr */
		len = uri_unescape(u.user, ubuf, sizeof(ubuf));
		if (len <= (int)sizeof(TEMP_PREFIX) - 1 ||
		    memcmp(ubuf, TEMP_PREFIX, sizeof(TEMP_PREFIX) - 1) != 0)
			return 1;
		if (gruu_token_open(
			gruu_key_get(),
			slice_make(ubuf + sizeof(TEMP_PREFIX) - 1,
				   (size_t)len - (sizeof(TEMP_PREFIX) - 1)),
			&ref) < 0)
			return 1;
		w.temp = true;
		w.ref = &ref;
		aor_s = slice_make(ref.aor, ref.aor_len);
	}
	t = arena_alloc(a, GRUU_MAX_FLOWS * sizeof(*t));
	if (!t)
		return -ENOMEM;
	err = collect(aor_s, &w, now_s, a, t, &n, &known, &valid);
	if (err)
		return err;
	if (w.temp) {
		/* RFC 5627 §4.2: a registration with a new Call-ID ends
		 * every temp-gruu the old one had: unknown now. */
		*statusp = !known ? 480 : !valid ? 404 : 0;
	} else if (!known) {
		sipmsg_aor_split(aor_s, &user, &dom);
		*statusp = hook_user_exists(user, dom) ? 480 : 404;
	} else {
		*statusp = 0;
	}
	if (*statusp)
		return 1;
	fwp->t = t;
	fwp->nt = n;
	fwp->failover = n > 1;
	return 1;
}
