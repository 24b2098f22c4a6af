/* store/redis_codec.c - redis backend: keys, values, messages, the script */
#include "store/redis_priv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nettle/sha1.h>

#include "proxy/base/hex.h"

/*
 * The update script. KEYS[1] the hash of an AOR's bindings (field:
 * binding, value: the contact, stamp first), KEYS[2] the sorted set of
 * their expiry times; ARGV[1] the channel, ARGV[2] the percent-encoded
 * AOR, ARGV[3] the tombstone life, then per binding FIELD STAMP EXPIRES
 * VALUE (VALUE empty: delete). It drops what expired, applies each
 * change whose stamp is newer than the stored one (a delete leaves the
 * tombstone "STAMP -" so that an older write arriving late cannot bring
 * the binding back), sets both keys to expire with their last binding,
 * and publishes the AOR and its live values, one per line, when
 * anything changed. Redis runs it atomically.
 */
const char redis__script[] =
    "local h, z = KEYS[1], KEYS[2]\n"
    "local now = tonumber(redis.call('TIME')[1])\n"
    "local tomb = tonumber(ARGV[3])\n"
    "local gone = redis.call('ZRANGEBYSCORE', z, '-inf', now)\n"
    "for i = 1, #gone do\n"
    "  redis.call('HDEL', h, gone[i])\n"
    "end\n"
    "if #gone > 0 then\n"
    "  redis.call('ZREMRANGEBYSCORE', z, '-inf', now)\n"
    "end\n"
    "local changed = false\n"
    "for i = 4, #ARGV - 3, 4 do\n"
    "  local f, st = ARGV[i], tonumber(ARGV[i + 1])\n"
    "  local ex, v = tonumber(ARGV[i + 2]), ARGV[i + 3]\n"
    "  local cur = redis.call('HGET', h, f)\n"
    "  local cst = -1\n"
    "  if cur then\n"
    "    cst = tonumber(string.match(cur, '^%d+')) or -1\n"
    "  end\n"
    "  if st and ex and st > cst then\n"
    "    if v == '' then\n"
    "      redis.call('HSET', h, f, ARGV[i + 1] .. ' -')\n"
    "      redis.call('ZADD', z, now + tomb, f)\n"
    "      changed = true\n"
    "    elseif ex > now then\n"
    "      redis.call('HSET', h, f, v)\n"
    "      redis.call('ZADD', z, ex, f)\n"
    "      changed = true\n"
    "    end\n"
    "  end\n"
    "end\n"
    "if not changed then\n"
    "  return 0\n"
    "end\n"
    "local top = redis.call('ZRANGE', z, -1, -1, 'WITHSCORES')\n"
    "if #top == 0 then\n"
    "  redis.call('DEL', h, z)\n"
    "else\n"
    "  local at = math.floor(tonumber(top[2])) + 1\n"
    "  redis.call('EXPIREAT', h, at)\n"
    "  redis.call('EXPIREAT', z, at)\n"
    "end\n"
    "local out = { ARGV[2] }\n"
    "local vals = redis.call('HVALS', h)\n"
    "for i = 1, #vals do\n"
    "  if not string.find(vals[i], '^%d+ %-$') then\n"
    "    out[#out + 1] = vals[i]\n"
    "  end\n"
    "end\n"
    "redis.call('PUBLISH', ARGV[1], table.concat(out, '\\n'))\n"
    "return 1\n";

/* Names. */

static bool ns_ok(const char *ns)
{
	size_t n = strlen(ns);

	if (n == 0 || n > 64)
		return false;
	for (const char *p = ns; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("_-.", *p)))
			return false;
	return true;
}

int redis__names_init(struct redis__names *nm, const char *ns)
{
	uint8_t d[SHA1_DIGEST_SIZE];
	struct sha1_ctx c;

	if (!ns)
		ns = "sipedge";
	if (!ns_ok(ns))
		return -EINVAL;
	snprintf(nm->ns, sizeof(nm->ns), "%s", ns);
	snprintf(nm->channel, sizeof(nm->channel), "%s:loc", ns);
	sha1_init(&c);
	sha1_update(&c, strlen(redis__script), (const uint8_t *)redis__script);
	sha1_digest(&c, sizeof(d), d);
	hex_print(d, sizeof(d), nm->sha);
	return 0;
}

void redis__key(struct codec_buf *b, const struct redis__names *nm,
		const char *kind, struct slice aor)
{
	codec_buf_str(b, nm->ns);
	codec_buf_add(b, ":", 1);
	codec_buf_str(b, kind);
	codec_buf_add(b, ":{", 2);
	codec_buf_add(b, aor.p, aor.len);
	codec_buf_add(b, "}", 1);
}

int redis__key_aor(const struct redis__names *nm, struct slice key,
		   struct slice *aorp)
{
	size_t ns = strlen(nm->ns), pre = ns + sizeof(":loc:{") - 1;

	if (key.len <= pre + 1 || memcmp(key.p, nm->ns, ns) != 0 ||
	    memcmp(key.p + ns, ":loc:{", pre - ns) != 0 ||
	    key.p[key.len - 1] != '}')
		return -EINVAL;
	*aorp = slice_make(key.p + pre, key.len - pre - 1);
	return 0;
}

/*
 * The Redis Cluster key slot: CRC16 (XMODEM: polynomial 0x1021, initial
 * value 0, no reflection, as the Redis Cluster specification gives it)
 * of the key, or of its hash tag (the bytes between the first '{' and
 * the first '}' after it, when there is at least one), modulo 16384.
 */
static uint16_t crc16(const char *p, size_t len)
{
	uint16_t crc = 0;

	for (size_t i = 0; i < len; i++) {
		crc ^= (uint16_t)((uint16_t)(unsigned char)p[i] << 8);
		for (int b = 0; b < 8; b++)
			crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021)
					     : (uint16_t)(crc << 1);
	}
	return crc;
}

unsigned redis__slot(const char *key, size_t len)
{
	const char *lb = memchr(key, '{', len), *rb;

	if (lb) {
		rb = memchr(lb + 1, '}', len - (size_t)(lb + 1 - key));
		if (rb && rb > lb + 1) {
			key = lb + 1;
			len = (size_t)(rb - key);
		}
	}
	return crc16(key, len) & (REDIS_SLOTS - 1);
}

unsigned redis__aor_slot(struct codec_buf *tmp, const struct redis__names *nm,
			 struct slice aor)
{
	codec_buf_reset(tmp);
	redis__key(tmp, nm, "loc", aor);
	return tmp->failed ? 0 : redis__slot(tmp->p, tmp->len);
}

/* Bindings. */

bool redis__same_binding(const struct loc_contact *a,
			 const struct loc_contact *b)
{
	if (a->instance.len || b->instance.len)
		return slice_eq(a->instance, b->instance) &&
		       a->reg_id == b->reg_id;
	return slice_eq(a->uri, b->uri);
}

void redis__field(struct codec_buf *b, const struct loc_contact *c)
{
	if (c->instance.len) {
		codec_buf_add(b, "i:", 2);
		codec_buf_add(b, c->instance.p, c->instance.len);
		codec_buf_add(b, ";", 1);
		codec_buf_num(b, c->reg_id);
	} else {
		codec_buf_add(b, "u:", 2);
		codec_buf_add(b, c->uri.p, c->uri.len);
	}
}

/* Values. */

void redis__value(struct codec_buf *b, const struct loc_contact *c)
{
	codec_contact_print(b, CODEC_REDIS, slice_make(NULL, 0), c);
}

int redis__value_parse(char *p, size_t len, struct loc_contact *cp)
{
	struct slice f[3];
	struct loc_contact c;
	uint64_t stamp;

	/* The tombstone "STAMP -" of a deleted binding. */
	if (codec_fields_split(slice_make(p, len), f, 3) == 2 &&
	    f[1].len == 1 && f[1].p[0] == '-' &&
	    codec_num_parse(f[0], INT64_MAX, &stamp) == 0)
		return 1;
	if (codec_contact_parse(p, len, CODEC_REDIS, NULL, &c) ||
	    c.stamp_ms == 0)
		return -EBADMSG;
	*cp = c;
	return 0;
}

int redis__msg_parse(char *p, size_t len, struct slice *aorp,
		     struct loc_contact *c, unsigned max, unsigned *np)
{
	char *end = p + len, *nl, *eol;
	struct loc_contact one;
	struct slice aor;
	unsigned n = 0;
	int r;

	nl = memchr(p, '\n', len);
	aor = slice_make(p, (size_t)((nl ? nl : end) - p));
	if (aor.len == 0 || codec_text_parse(&aor) || aor.len == 0)
		return -EBADMSG;
	/* Bounded: each pass consumes one line. */
	for (p = nl ? nl + 1 : end; p < end; p = nl ? nl + 1 : end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		eol = nl ? nl : end;
		r = redis__value_parse(p, (size_t)(eol - p), &one);
		if (r < 0)
			return r;
		if (r == 1)
			continue; /* the script never sends one; harmless */
		if (n == max)
			return -E2BIG;
		c[n++] = one;
	}
	/* A line break with nothing after it is not a message of ours. */
	if (nl)
		return -EBADMSG;
	*aorp = aor;
	*np = n;
	return 0;
}

/* RESP. */

void redis__resp_array(struct codec_buf *b, unsigned n)
{
	char tmp[24];
	int k = snprintf(tmp, sizeof(tmp), "*%u\r\n", n);

	codec_buf_add(b, tmp, (size_t)k);
}

void redis__resp_bulk(struct codec_buf *b, const void *p, size_t n)
{
	char tmp[32];
	int k = snprintf(tmp, sizeof(tmp), "$%zu\r\n", n);

	codec_buf_add(b, tmp, (size_t)k);
	codec_buf_add(b, p, n);
	codec_buf_add(b, "\r\n", 2);
}

/* @p tmp as one bulk string. */
static void bulk_tmp(struct codec_buf *out, struct codec_buf *tmp)
{
	if (tmp->failed)
		out->failed = true;
	redis__resp_bulk(out, tmp->p ? tmp->p : "", tmp->len);
}

static void bulk_num(struct codec_buf *out, int64_t v)
{
	char s[24];
	int n = snprintf(s, sizeof(s), "%" PRId64, v);

	redis__resp_bulk(out, s, (size_t)n);
}

int redis__cmd_update(struct codec_buf *out, struct codec_buf *tmp,
		      const struct redis__names *nm, struct slice aor,
		      const struct redis__op *ops, unsigned nops)
{
	codec_buf_reset(out);
	redis__resp_array(out, 8 + 4 * nops);
	redis__resp_bulk(out, "EVALSHA", 7);
	redis__resp_bulk(out, nm->sha, 40);
	redis__resp_bulk(out, "2", 1);
	codec_buf_reset(tmp);
	redis__key(tmp, nm, "loc", aor);
	bulk_tmp(out, tmp);
	codec_buf_reset(tmp);
	redis__key(tmp, nm, "exp", aor);
	bulk_tmp(out, tmp);
	redis__resp_bulk(out, nm->channel, strlen(nm->channel));
	/* codec_text_print() writes a leading space: skip it. */
	codec_buf_reset(tmp);
	codec_text_print(tmp, aor);
	if (tmp->failed || tmp->len < 1)
		out->failed = true;
	else
		redis__resp_bulk(out, tmp->p + 1, tmp->len - 1);
	bulk_num(out, REDIS_TOMBSTONE_S);
	for (unsigned i = 0; i < nops; i++) {
		const struct redis__op *op = &ops[i];

		codec_buf_reset(tmp);
		redis__field(tmp, op->c);
		bulk_tmp(out, tmp);
		bulk_num(out, op->stamp_ms);
		bulk_num(out, op->c->expires_s);
		codec_buf_reset(tmp);
		if (!op->del)
			redis__value(tmp, op->c);
		bulk_tmp(out, tmp);
	}
	return out->failed ? -ENOMEM : 0;
}

/* Diff of two sets. */

static bool op_add(struct redis__op **opsp, unsigned *capp, unsigned *np,
		   struct redis__op op)
{
	struct redis__op *v;
	unsigned cap;

	if (*np == *capp) {
		cap = *capp ? 2 * *capp : 16;
		v = realloc(*opsp, cap * sizeof(*v));
		if (!v)
			return false;
		*opsp = v;
		*capp = cap;
	}
	(*opsp)[(*np)++] = op;
	return true;
}

static bool storable(const struct loc_contact *c, int64_t now_s)
{
	return c->expires_s != INT64_MAX && c->expires_s > now_s;
}

int redis__diff(const struct loc_set *old, const struct loc_set *cur,
		int64_t now_ms, struct redis__op **opsp, unsigned *capp)
{
	int64_t now_s = now_ms / 1000;
	unsigned n = 0;

	for (unsigned i = 0; cur && i < cur->n; i++) {
		const struct loc_contact *c = &cur->c[i];
		bool same = false;

		if (!storable(c, now_s))
			continue;
		for (unsigned j = 0; old && j < old->n && !same; j++)
			same = redis__same_binding(c, &old->c[j]) &&
			       old->c[j].stamp_ms == c->stamp_ms;
		if (!same &&
		    !op_add(opsp, capp, &n,
			    (struct redis__op){ c, c->stamp_ms, false }))
			return -ENOMEM;
	}
	for (unsigned j = 0; old && j < old->n; j++) {
		const struct loc_contact *o = &old->c[j];
		bool kept = false;
		int64_t stamp;

		if (!storable(o, now_s))
			continue;
		for (unsigned i = 0; cur && i < cur->n && !kept; i++)
			kept = redis__same_binding(o, &cur->c[i]);
		if (kept)
			continue;
		/* Newer than the binding it removes, even when the node
		 * that made it had a clock ahead of ours. */
		stamp = o->stamp_ms >= now_ms ? o->stamp_ms + 1 : now_ms;
		if (!op_add(opsp, capp, &n,
			    (struct redis__op){ o, stamp, true }))
			return -ENOMEM;
	}
	return (int)n;
}
