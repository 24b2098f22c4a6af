/* store/codec.c - a binding as text: the snapshot file and the Redis
 * values share one encoding */
#include "store/codec.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/base/hex.h"
#include "store/loc.h"

/* Fields of a line in each form. */
#define SNAPSHOT_FIELDS 15
#define REDIS_FIELDS	13

void codec_buf_add(struct codec_buf *b, const void *p, size_t n)
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

void codec_buf_str(struct codec_buf *b, const char *s)
{
	codec_buf_add(b, s, strlen(s));
}

void codec_buf_num(struct codec_buf *b, int64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%" PRId64, v);

	codec_buf_add(b, tmp, (size_t)n);
}

void codec_buf_reset(struct codec_buf *b)
{
	b->len = 0;
	b->failed = false;
}

void codec_buf_free(struct codec_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	b->failed = false;
}

/* Text fields. */

static bool plain(unsigned char c, size_t len)
{
	return c > 0x20 && c < 0x7f && c != '%' && !(c == '-' && len == 1);
}

void codec_text_print(struct codec_buf *b, struct slice s)
{
	char e[3];

	codec_buf_add(b, " ", 1);
	if (s.len == 0) {
		codec_buf_add(b, "-", 1);
		return;
	}
	for (size_t i = 0; i < s.len; i++) {
		size_t j = i;

		/* Runs of plain bytes in one go. */
		while (j < s.len && plain((unsigned char)s.p[j], s.len))
			j++;
		if (j > i) {
			codec_buf_add(b, s.p + i, j - i);
			i = j - 1;
			continue;
		}
		hex_escape((unsigned char)s.p[i], e);
		codec_buf_add(b, e, 3);
	}
}

int codec_text_parse(struct slice *s)
{
	char *w = (char *)s->p;
	size_t o = 0;

	if (s->len == 1 && s->p[0] == '-') {
		s->len = 0;
		return 0;
	}
	for (size_t i = 0; i < s->len; i++) {
		int hi, lo;

		if (s->p[i] != '%') {
			w[o++] = s->p[i];
			continue;
		}
		if (i + 2 >= s->len)
			return -EBADMSG;
		hi = hex_val(s->p[i + 1]);
		lo = hex_val(s->p[i + 2]);
		if (hi < 0 || lo < 0)
			return -EBADMSG;
		w[o++] = (char)(hi * 16 + lo);
		i += 2;
	}
	s->len = o;
	return 0;
}

/* Numbers and addresses. */

int codec_num_parse(struct slice s, uint64_t max, uint64_t *vp)
{
	/* slice_to_u64() lets a digit above a one-digit max through. */
	return slice_to_u64(s, max, vp) < 0 || *vp > max ? -EBADMSG : 0;
}

static void addr_print(struct codec_buf *b, const struct sockaddr_storage *ss)
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
	codec_buf_add(b, tmp, (size_t)n);
}

static int addr_parse(struct slice s, struct sockaddr_storage *ss)
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
	    codec_num_parse(slice_make(s.p + colon + 1, s.len - colon - 1),
			    65535, &port))
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
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		memcpy(ip, s.p, colon);
		ip[colon] = '\0';
		if (inet_pton(AF_INET, ip, &in->sin_addr) != 1)
			return -EBADMSG;
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
	}
	return 0;
}

/* Lines. */

int codec_fields_split(struct slice line, struct slice *f, unsigned max)
{
	unsigned n = 0;
	size_t i = 0;

	while (i < line.len) {
		size_t j = i;

		while (j < line.len && line.p[j] != ' ')
			j++;
		if (j == i || n == max)
			return -EBADMSG;
		f[n++] = slice_make(line.p + i, j - i);
		i = j + (j < line.len);
		if (j < line.len && i == line.len)
			return -EBADMSG; /* trailing space */
	}
	return (int)n;
}

void codec_contact_print(struct codec_buf *b, enum codec_form form,
			 struct slice aor, const struct loc_contact *c)
{
	char tmp[128];
	int n;

	if (form == CODEC_SNAPSHOT) {
		codec_buf_add(b, "c", 1);
		codec_text_print(b, aor);
		codec_buf_add(b, " ", 1);
	} else {
		codec_buf_num(b, c->stamp_ms);
		codec_buf_add(b, " ", 1);
	}
	n = snprintf(
	    tmp, sizeof(tmp), "%" PRId64 " %u %u %" PRIu32 " %" PRIu32 " %d",
	    c->expires_s, c->q, c->flags, c->reg_id, c->cseq, c->flow.proto);
	codec_buf_add(b, tmp, (size_t)n);
	addr_print(b, &c->flow.addr);
	if (form == CODEC_SNAPSHOT) {
		n = snprintf(tmp, sizeof(tmp), " %u", c->flow.listen_idx);
		codec_buf_add(b, tmp, (size_t)n);
	}
	codec_text_print(b, c->uri);
	codec_text_print(b, c->path);
	codec_text_print(b, c->instance);
	codec_text_print(b, c->call_id);
	codec_text_print(b, c->user_agent);
}

int codec_contact_parse(char *p, size_t len, enum codec_form form,
			struct slice *aorp, struct loc_contact *cp)
{
	const bool snap = form == CODEC_SNAPSHOT;
	const unsigned want = snap ? SNAPSHOT_FIELDS : REDIS_FIELDS;
	struct slice f[SNAPSHOT_FIELDS + 1], aor = { NULL, 0 };
	struct loc_contact c;
	const struct slice *t;
	uint64_t v[7];
	int n;

	n = codec_fields_split(slice_make(p, len), f, want + 1);
	if (n != (int)want)
		return -EBADMSG;
	memset(&c, 0, sizeof(c));
	if (snap) {
		aor = f[1];
		if (!slice_eq(f[0], SLICE_LIT("c")) || codec_text_parse(&aor) ||
		    aor.len == 0)
			return -EBADMSG;
	} else if (codec_num_parse(f[0], INT64_MAX, &v[0])) {
		return -EBADMSG;
	} else {
		c.stamp_ms = (int64_t)v[0];
	}
	/* From EXPIRES on; expires is a positive time: no sign. */
	t = &f[snap ? 2 : 1];
	if (codec_num_parse(t[0], INT64_MAX, &v[1]) ||
	    codec_num_parse(t[1], 1000, &v[2]) ||
	    codec_num_parse(t[2], UINT32_MAX, &v[3]) ||
	    codec_num_parse(t[3], UINT32_MAX, &v[4]) ||
	    codec_num_parse(t[4], UINT32_MAX, &v[5]) ||
	    codec_num_parse(t[5], 1, &v[6]) || addr_parse(t[6], &c.flow.addr))
		return -EBADMSG;
	c.expires_s = (int64_t)v[1];
	c.q = (uint16_t)v[2];
	c.flags = (unsigned)v[3];
	c.reg_id = (uint32_t)v[4];
	c.cseq = (uint32_t)v[5];
	c.flow.proto = (int)v[6];
	t += 7;
	if (snap) {
		if (codec_num_parse(t[0], UINT32_MAX, &v[0]))
			return -EBADMSG;
		c.flow.listen_idx = (unsigned)v[0];
		t++;
	}
	c.uri = t[0];
	c.path = t[1];
	c.instance = t[2];
	c.call_id = t[3];
	c.user_agent = t[4];
	if (codec_text_parse(&c.uri) || codec_text_parse(&c.path) ||
	    codec_text_parse(&c.instance) || codec_text_parse(&c.call_id) ||
	    codec_text_parse(&c.user_agent) || c.uri.len == 0)
		return -EBADMSG;
	if (snap)
		*aorp = aor;
	*cp = c;
	return 0;
}
