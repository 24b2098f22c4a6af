/* store/redis_codec.c - redis backend: keys, values, messages, the script */
#include "store/redis_priv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nettle/sha1.h>

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

/* Buffers. */

void redis__buf_add(struct redis__buf *b, const void *p, size_t n)
{
	size_t cap;
	char *np;

	if (b->failed || n == 0)
		return;
	if (b->len + n > b->cap) {
		cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap *= 2;
		np = realloc(b->p, cap);
		if (!np) {
			b->failed = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

void redis__buf_str(struct redis__buf *b, const char *s)
{
	redis__buf_add(b, s, strlen(s));
}

void redis__buf_num(struct redis__buf *b, int64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%" PRId64, v);

	redis__buf_add(b, tmp, (size_t)n);
}

void redis__buf_reset(struct redis__buf *b)
{
	b->len = 0;
	b->failed = false;
}

void redis__buf_free(struct redis__buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	b->failed = false;
}

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
	static const char hex[] = "0123456789abcdef";
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
	for (size_t i = 0; i < sizeof(d); i++) {
		nm->sha[2 * i] = hex[d[i] >> 4];
		nm->sha[2 * i + 1] = hex[d[i] & 15];
	}
	nm->sha[40] = '\0';
	return 0;
}

void redis__key(struct redis__buf *b, const struct redis__names *nm,
		const char *kind, struct slice aor)
{
	redis__buf_str(b, nm->ns);
	redis__buf_add(b, ":", 1);
	redis__buf_str(b, kind);
	redis__buf_add(b, ":{", 2);
	redis__buf_add(b, aor.p, aor.len);
	redis__buf_add(b, "}", 1);
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

/* Bindings. */

bool redis__same_binding(const struct loc_contact *a,
			 const struct loc_contact *b)
{
	if (a->instance.len || b->instance.len)
		return slice_eq(a->instance, b->instance) &&
		       a->reg_id == b->reg_id;
	return slice_eq(a->uri, b->uri);
}

void redis__field(struct redis__buf *b, const struct loc_contact *c)
{
	if (c->instance.len) {
		redis__buf_add(b, "i:", 2);
		redis__buf_add(b, c->instance.p, c->instance.len);
		redis__buf_add(b, ";", 1);
		redis__buf_num(b, c->reg_id);
	} else {
		redis__buf_add(b, "u:", 2);
		redis__buf_add(b, c->uri.p, c->uri.len);
	}
}

/* Values. */

/* " " then @p s percent-encoded, or "-" when empty. */
static void put_text(struct redis__buf *b, struct slice s)
{
	static const char hex[] = "0123456789ABCDEF";
	char e[3];

	redis__buf_add(b, " ", 1);
	if (s.len == 0) {
		redis__buf_add(b, "-", 1);
		return;
	}
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];
		size_t j = i;

		/* Runs of plain bytes in one go. */
		while (j < s.len && (unsigned char)s.p[j] > 0x20 &&
		       (unsigned char)s.p[j] < 0x7f && s.p[j] != '%' &&
		       !(s.p[j] == '-' && s.len == 1))
			j++;
		if (j > i) {
			redis__buf_add(b, s.p + i, j - i);
			i = j - 1;
			continue;
		}
		e[0] = '%';
		e[1] = hex[c >> 4];
		e[2] = hex[c & 15];
		redis__buf_add(b, e, 3);
	}
}

static void put_addr(struct redis__buf *b, const struct sockaddr_storage *ss)
{
	char ip[INET6_ADDRSTRLEN], tmp[INET6_ADDRSTRLEN + 16];
	int n;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;

		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		n = snprintf(tmp, sizeof(tmp), " %s:%u", ip,
			     ntohs(in->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		n = snprintf(tmp, sizeof(tmp), " [%s]:%u", ip,
			     ntohs(in6->sin6_port));
	} else {
		n = snprintf(tmp, sizeof(tmp), " -");
	}
	redis__buf_add(b, tmp, (size_t)n);
}

void redis__value(struct redis__buf *b, const struct loc_contact *c)
{
	char tmp[128];
	int n;

	n = snprintf(tmp, sizeof(tmp),
		     "%" PRId64 " %" PRId64 " %u %u %" PRIu32 " %" PRIu32 " %d",
		     c->stamp_ms, c->expires_s, c->q, c->flags, c->reg_id,
		     c->cseq, c->flow.proto);
	redis__buf_add(b, tmp, (size_t)n);
	put_addr(b, &c->flow.addr);
	put_text(b, c->uri);
	put_text(b, c->path);
	put_text(b, c->instance);
	put_text(b, c->call_id);
	put_text(b, c->user_agent);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode text field @p s in place. */
static int text_decode(struct slice *s)
{
	char *w = (char *)s->p;
	size_t o = 0;

	if (s->len == 1 && s->p[0] == '-') {
		s->len = 0;
		return 0;
	}
	for (size_t i = 0; i < s->len; i++) {
		if (s->p[i] != '%') {
			w[o++] = s->p[i];
			continue;
		}
		if (i + 2 >= s->len || hexval(s->p[i + 1]) < 0 ||
		    hexval(s->p[i + 2]) < 0)
			return -EBADMSG;
		w[o++] = (char)(hexval(s->p[i + 1]) * 16 + hexval(s->p[i + 2]));
		i += 2;
	}
	s->len = o;
	return 0;
}

static int num(struct slice s, uint64_t max, uint64_t *vp)
{
	/* slice_to_u64() lets a digit above a one-digit max through. */
	return slice_to_u64(s, max, vp) < 0 || *vp > max ? -EBADMSG : 0;
}

static int addr_decode(struct slice s, struct sockaddr_storage *ss)
{
	char ip[INET6_ADDRSTRLEN + 2];
	uint64_t port;
	size_t colon = 0;

	memset(ss, 0, sizeof(*ss));
	if (s.len == 1 && s.p[0] == '-')
		return 0;
	for (size_t i = s.len; i > 0; i--)
		if (s.p[i - 1] == ':') {
			colon = i - 1;
			break;
		}
	if (colon == 0 || colon >= sizeof(ip) ||
	    num(slice_make(s.p + colon + 1, s.len - colon - 1), 65535, &port))
		return -EBADMSG;
	if (s.p[0] == '[') {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		if (colon < 3 || s.p[colon - 1] != ']')
			return -EBADMSG;
		memcpy(ip, s.p + 1, colon - 2);
		ip[colon - 2] = '\0';
		if (inet_pton(AF_INET6, ip, &in6->sin6_addr) != 1)
			return -EBADMSG;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		return 0;
	}
	memcpy(ip, s.p, colon);
	ip[colon] = '\0';
	{
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, ip, &in->sin_addr) != 1)
			return -EBADMSG;
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
	}
	return 0;
}

#define VALUE_FIELDS 13

int redis__value_parse(char *p, size_t len, struct loc_contact *cp)
{
	struct slice f[VALUE_FIELDS];
	struct loc_contact c;
	uint64_t v[7];
	unsigned n = 0;
	size_t i = 0;

	/* Split on single spaces; empty fields are malformed. */
	while (i < len) {
		size_t j = i;

		while (j < len && p[j] != ' ')
			j++;
		if (j == i || n == VALUE_FIELDS)
			return -EBADMSG;
		f[n++] = slice_make(p + i, j - i);
		if (j == len)
			break;
		i = j + 1;
		if (i == len)
			return -EBADMSG;
	}
	if (n == 2 && f[1].len == 1 && f[1].p[0] == '-' &&
	    num(f[0], INT64_MAX, &v[0]) == 0)
		return 1;
	if (n != VALUE_FIELDS)
		return -EBADMSG;
	memset(&c, 0, sizeof(c));
	if (num(f[0], INT64_MAX, &v[0]) || num(f[1], INT64_MAX, &v[1]) ||
	    num(f[2], 1000, &v[2]) || num(f[3], UINT32_MAX, &v[3]) ||
	    num(f[4], UINT32_MAX, &v[4]) || num(f[5], UINT32_MAX, &v[5]) ||
	    num(f[6], 1, &v[6]) || addr_decode(f[7], &c.flow.addr))
		return -EBADMSG;
	c.stamp_ms = (int64_t)v[0];
	c.expires_s = (int64_t)v[1];
	c.q = (uint16_t)v[2];
	c.flags = (unsigned)v[3];
	c.reg_id = (uint32_t)v[4];
	c.cseq = (uint32_t)v[5];
	c.flow.proto = (int)v[6];
	c.uri = f[8];
	c.path = f[9];
	c.instance = f[10];
	c.call_id = f[11];
	c.user_agent = f[12];
	if (text_decode(&c.uri) || text_decode(&c.path) ||
	    text_decode(&c.instance) || text_decode(&c.call_id) ||
	    text_decode(&c.user_agent) || c.uri.len == 0 || c.stamp_ms == 0)
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
	if (aor.len == 0 || text_decode(&aor) || aor.len == 0)
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

void redis__resp_array(struct redis__buf *b, unsigned n)
{
	char tmp[24];
	int k = snprintf(tmp, sizeof(tmp), "*%u\r\n", n);

	redis__buf_add(b, tmp, (size_t)k);
}

void redis__resp_bulk(struct redis__buf *b, const void *p, size_t n)
{
	char tmp[32];
	int k = snprintf(tmp, sizeof(tmp), "$%zu\r\n", n);

	redis__buf_add(b, tmp, (size_t)k);
	redis__buf_add(b, p, n);
	redis__buf_add(b, "\r\n", 2);
}

/* @p tmp as one bulk string. */
static void bulk_tmp(struct redis__buf *out, struct redis__buf *tmp)
{
	if (tmp->failed)
		out->failed = true;
	redis__resp_bulk(out, tmp->p ? tmp->p : "", tmp->len);
}

static void bulk_num(struct redis__buf *out, int64_t v)
{
	char s[24];
	int n = snprintf(s, sizeof(s), "%" PRId64, v);

	redis__resp_bulk(out, s, (size_t)n);
}

int redis__cmd_update(struct redis__buf *out, struct redis__buf *tmp,
		      const struct redis__names *nm, struct slice aor,
		      const struct redis__op *ops, unsigned nops)
{
	redis__buf_reset(out);
	redis__resp_array(out, 8 + 4 * nops);
	redis__resp_bulk(out, "EVALSHA", 7);
	redis__resp_bulk(out, nm->sha, 40);
	redis__resp_bulk(out, "2", 1);
	redis__buf_reset(tmp);
	redis__key(tmp, nm, "loc", aor);
	bulk_tmp(out, tmp);
	redis__buf_reset(tmp);
	redis__key(tmp, nm, "exp", aor);
	bulk_tmp(out, tmp);
	redis__resp_bulk(out, nm->channel, strlen(nm->channel));
	/* put_text() writes a leading space: skip it. */
	redis__buf_reset(tmp);
	put_text(tmp, aor);
	if (tmp->failed || tmp->len < 1)
		out->failed = true;
	else
		redis__resp_bulk(out, tmp->p + 1, tmp->len - 1);
	bulk_num(out, REDIS_TOMBSTONE_S);
	for (unsigned i = 0; i < nops; i++) {
		const struct redis__op *op = &ops[i];

		redis__buf_reset(tmp);
		redis__field(tmp, op->c);
		bulk_tmp(out, tmp);
		bulk_num(out, op->stamp_ms);
		bulk_num(out, op->c->expires_s);
		redis__buf_reset(tmp);
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
