/* proxy/base/bencode.c - bencoded values (BitTorrent BEP 3) */
#include "proxy/base/bencode.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void bencode_init(struct bencode_buf *b, char *p, size_t cap)
{
	b->p = p;
	b->cap = cap;
	b->len = 0;
	b->err = 0;
	b->depth = 0;
}

static void put(struct bencode_buf *b, const void *p, size_t len)
{
	if (b->err)
		return;
	if (len > b->cap - b->len) {
		b->err = -ENOSPC;
		return;
	}
	memcpy(b->p + b->len, p, len);
	b->len += len;
}

void bencode_str(struct bencode_buf *b, struct slice s)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%zu:", s.len);

	put(b, num, (size_t)n);
	put(b, s.p, s.len);
}

void bencode_cstr(struct bencode_buf *b, const char *s)
{
	bencode_str(b, slice_cstr(s));
}

void bencode_int(struct bencode_buf *b, int64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "i%" PRId64 "e", v);

	put(b, num, (size_t)n);
}

static void open_container(struct bencode_buf *b, char c)
{
	if (b->err)
		return;
	if (b->depth >= BENCODE_MAX_DEPTH) {
		b->err = -E2BIG;
		return;
	}
	put(b, &c, 1);
	if (!b->err)
		b->depth++;
}

void bencode_dict(struct bencode_buf *b)
{
	open_container(b, 'd');
}

void bencode_list(struct bencode_buf *b)
{
	open_container(b, 'l');
}

void bencode_end(struct bencode_buf *b)
{
	if (b->err)
		return;
	if (b->depth == 0) {
		b->err = -EINVAL;
		return;
	}
	put(b, "e", 1);
	if (!b->err)
		b->depth--;
}

int bencode_finish(const struct bencode_buf *b, size_t *lenp)
{
	if (b->err)
		return b->err;
	if (b->depth != 0 || b->len == 0)
		return -EINVAL;
	*lenp = b->len;
	return 0;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Digits of a length or an integer at in[*posp] up to the terminator
 * @p end: no leading zeros (but "0" itself), at least one digit. */
static int digits(struct slice in, size_t *posp, char end, uint64_t limit,
		  uint64_t *vp)
{
	size_t pos = *posp, start = pos;
	uint64_t v = 0;

	while (pos < in.len && is_digit(in.p[pos])) {
		unsigned d = (unsigned)(in.p[pos] - '0');

		if (v > (limit - d) / 10)
			return -EBADMSG;
		v = v * 10 + d;
		pos++;
	}
	if (pos == start || pos >= in.len || in.p[pos] != end)
		return -EBADMSG;
	if (in.p[start] == '0' && pos - start > 1)
		return -EBADMSG;
	*posp = pos + 1;
	*vp = v;
	return 0;
}

static int parse_int(struct slice in, size_t *posp, int64_t *vp)
{
	size_t pos = *posp + 1; /* past 'i' */
	bool neg = false;
	uint64_t v;
	int err;

	if (pos < in.len && in.p[pos] == '-') {
		neg = true;
		pos++;
	}
	err = digits(in, &pos, 'e', neg ? (uint64_t)INT64_MAX + 1 : INT64_MAX,
		     &v);
	if (err)
		return err;
	if (neg && v == 0)
		return -EBADMSG; /* "-0" */
	*vp = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v)
		  : (int64_t)v;
	*posp = pos;
	return 0;
}

int bencode_parse(struct slice in, struct bencode_node *nodes, unsigned max)
{
	unsigned stack[BENCODE_MAX_DEPTH];
	unsigned depth = 0, n = 0;
	size_t pos = 0;
	int err;

	do {
		struct bencode_node *nd;
		char c;

		if (pos >= in.len)
			return -EBADMSG;
		c = in.p[pos];
		if (c == 'e') {
			struct bencode_node *top;

			if (depth == 0)
				return -EBADMSG;
			top = &nodes[stack[--depth]];
			if (top->type == BENCODE_DICT && top->n % 2)
				return -EBADMSG; /* a key without value */
			pos++;
			top->next = n;
			top->s.len = (size_t)(in.p + pos - top->s.p);
			continue;
		}
		if (n >= max)
			return -E2BIG;
		if (depth > 0) {
			struct bencode_node *par = &nodes[stack[depth - 1]];

			if (par->type == BENCODE_DICT && par->n % 2 == 0 &&
			    !is_digit(c))
				return -EBADMSG; /* keys are strings */
			par->n++;
		}
		nd = &nodes[n];
		memset(nd, 0, sizeof(*nd));
		nd->s = slice_make(in.p + pos, 0);
		nd->next = n + 1;
		if (c == 'i') {
			nd->type = BENCODE_INT;
			err = parse_int(in, &pos, &nd->i);
			if (err)
				return err;
			nd->s.len = (size_t)(in.p + pos - nd->s.p);
		} else if (c == 'l' || c == 'd') {
			if (depth >= BENCODE_MAX_DEPTH)
				return -EBADMSG;
			nd->type = c == 'l' ? BENCODE_LIST : BENCODE_DICT;
			stack[depth++] = n;
			pos++;
		} else if (is_digit(c)) {
			uint64_t len;

			nd->type = BENCODE_STR;
			err = digits(in, &pos, ':', SIZE_MAX, &len);
			if (err)
				return err;
			if (len > in.len - pos)
				return -EBADMSG;
			nd->s = slice_make(in.p + pos, (size_t)len);
			pos += (size_t)len;
		} else {
			return -EBADMSG;
		}
		n++;
	} while (depth > 0);
	if (pos != in.len)
		return -EBADMSG;
	return (int)n;
}

int bencode_get(const struct bencode_node *nodes, unsigned dict,
		const char *key)
{
	const struct bencode_node *d = &nodes[dict];
	struct slice k = slice_cstr(key);
	unsigned i = dict + 1, j;

	if (d->type != BENCODE_DICT)
		return -1;
	for (j = 0; j + 1 < d->n; j += 2) {
		unsigned v = nodes[i].next;

		if (slice_eq(nodes[i].s, k))
			return (int)v;
		i = nodes[v].next;
	}
	return -1;
}

bool bencode_get_str(const struct bencode_node *nodes, unsigned dict,
		     const char *key, struct slice *sp)
{
	int v = bencode_get(nodes, dict, key);

	if (v < 0 || nodes[v].type != BENCODE_STR)
		return false;
	*sp = nodes[v].s;
	return true;
}
