/* proxy/sip/edit.c - edit list: changes to a parsed message, applied at send */
#include "proxy/sip/edit.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "proxy/base/arena.h"
#include "proxy/sip/hdr.h"
#include "proxy/sip/msg.h"

/* One change: bytes [start, end) of the original become text. */
struct edit {
	size_t start;
	size_t end;
	struct slice text;
};

struct edit_list {
	struct arena *a;
	const struct sipmsg *m;
	const char *buf; /* the original message, m->buf */
	size_t buflen;	 /* m->len */
	struct edit *v;	 /* sorted, see before() */
	unsigned n;
	unsigned cap;
	size_t len; /* length of the output */
};

int edit_new(struct arena *a, const struct sipmsg *m, struct edit_list **elp)
{
	struct edit_list *el;

	if (!m->buf || m->len == 0)
		return -EINVAL;
	el = arena_alloc(a, sizeof(*el));
	if (!el)
		return -ENOMEM;
	el->a = a;
	el->m = m;
	el->buf = m->buf;
	el->buflen = m->len;
	el->v = NULL;
	el->n = 0;
	el->cap = 0;
	el->len = m->len;
	*elp = el;
	return 0;
}

unsigned edit_count(const struct edit_list *el)
{
	return el->n;
}

size_t edit_len(const struct edit_list *el)
{
	return el->len;
}

/* Make room for @k more edits, so that the inserts that follow can't fail. */
static int reserve(struct edit_list *el, unsigned k)
{
	struct edit *v;
	unsigned cap;

	if (el->n + k <= el->cap)
		return 0;
	cap = el->cap ? el->cap * 2 : 8;
	while (cap < el->n + k)
		cap *= 2;
	v = arena_alloc(el->a, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (el->n)
		memcpy(v, el->v, el->n * sizeof(*v));
	el->v = v;
	el->cap = cap;
	return 0;
}

/*
 * True when [s, e) and [xs, xe) share a byte, or one is an insertion
 * strictly inside the other. Insertions at the same point never clash,
 * nor an insertion at either end of a replaced range.
 */
static bool clash(size_t s, size_t e, size_t xs, size_t xe)
{
	if (s == e && xs == xe)
		return false;
	if (s == e)
		return xs < s && s < xe;
	if (xs == xe)
		return s < xs && xs < e;
	return xs < e && s < xe;
}

/* 0 when [s, e) may be added to the list, else -EINVAL. */
static int check(const struct edit_list *el, size_t s, size_t e)
{
	if (s > e || e > el->buflen)
		return -EINVAL;
	for (unsigned i = 0; i < el->n; i++)
		if (clash(s, e, el->v[i].start, el->v[i].end))
			return -EINVAL;
	return 0;
}

/*
 * Insert a checked edit at its place: after every edit that starts
 * earlier, and after the insertions at the same point (they were added
 * first); an insertion goes before a replacement that starts there.
 * Room was reserved, so this cannot fail.
 */
static void insert(struct edit_list *el, size_t s, size_t e, struct slice text)
{
	unsigned i = 0;

	while (i < el->n) {
		const struct edit *x = &el->v[i];

		if (x->start > s)
			break;
		if (x->start == s && s == e && x->end != x->start)
			break;
		i++;
	}
	memmove(&el->v[i + 1], &el->v[i], (el->n - i) * sizeof(el->v[0]));
	el->v[i] = (struct edit){ .start = s, .end = e, .text = text };
	el->n++;
	el->len = el->len - (e - s) + text.len;
}

/* One edit, all or nothing. */
static int add(struct edit_list *el, size_t s, size_t e, struct slice text)
{
	int err;

	err = check(el, s, e);
	if (err)
		return err;
	err = reserve(el, 1);
	if (err)
		return err;
	insert(el, s, e, text);
	return 0;
}

/* Copy @p s into the arena. */
static int copy(struct edit_list *el, struct slice s, struct slice *outp)
{
	char *p;

	if (s.len == 0) {
		*outp = s;
		return 0;
	}
	p = arena_alloc(el->a, s.len);
	if (!p)
		return -ENOMEM;
	memcpy(p, s.p, s.len);
	*outp = slice_make(p, s.len);
	return 0;
}

/* "name: value" CRLF in the arena. */
static int mkline(struct edit_list *el, struct slice name, struct slice value,
		  struct slice *outp)
{
	size_t len = name.len + 2 + value.len + 2;
	char *p = arena_alloc(el->a, len);
	size_t o = 0;

	if (!p)
		return -ENOMEM;
	memcpy(p + o, name.p, name.len);
	o += name.len;
	memcpy(p + o, ": ", 2);
	o += 2;
	if (value.len)
		memcpy(p + o, value.p, value.len);
	o += value.len;
	memcpy(p + o, "\r\n", 2);
	*outp = slice_make(p, len);
	return 0;
}

static size_t off(const struct edit_list *el, const char *p)
{
	return (size_t)(p - el->buf);
}

/* End of the start line (after its LF), or the message length. */
static size_t start_line_end(const struct edit_list *el)
{
	const char *nl = memchr(el->buf, '\n', el->buflen);

	return nl ? off(el, nl) + 1 : el->buflen;
}

/* Offset of the first header line (top of the header block). */
static size_t hdrs_top(const struct edit_list *el)
{
	const struct sipmsg *m = el->m;
	size_t top = start_line_end(el);

	for (unsigned i = 0; i < m->nhdrs; i++)
		if (m->hdrs[i].line.p && off(el, m->hdrs[i].line.p) < top)
			top = off(el, m->hdrs[i].line.p);
	return top;
}

/* Offset right after the last header line (where the blank line starts). */
static size_t hdrs_end(const struct edit_list *el)
{
	const struct sipmsg *m = el->m;
	size_t end = start_line_end(el);

	for (unsigned i = 0; i < m->nhdrs; i++) {
		const struct slice *l = &m->hdrs[i].line;

		if (l->p && off(el, l->p) + l->len > end)
			end = off(el, l->p) + l->len;
	}
	return end < el->buflen ? end : el->buflen;
}

/* The range of header @p h's line, or -EINVAL if it is not one of m's. */
static int hdr_range(const struct edit_list *el, const struct siphdr *h,
		     size_t *sp, size_t *ep)
{
	const struct sipmsg *m = el->m;

	if (!h || h < m->hdrs || h >= m->hdrs + m->nhdrs || !h->line.p)
		return -EINVAL;
	if (h->line.p < el->buf ||
	    off(el, h->line.p) + h->line.len > el->buflen)
		return -EINVAL;
	*sp = off(el, h->line.p);
	*ep = *sp + h->line.len;
	return 0;
}

int edit_set_ruri(struct edit_list *el, struct slice uri)
{
	const struct sipmsg *m = el->m;
	struct slice text;
	size_t s, e;
	int err;

	err = -EINVAL;
	if (!m->is_request || !m->ruri.p || uri.len == 0)
		goto out;
	s = off(el, m->ruri.p);
	e = s + m->ruri.len;
	err = check(el, s, e);
	if (err)
		goto out;
	err = copy(el, uri, &text);
	if (err)
		goto out;
	err = add(el, s, e, text);
out:
	return err;
}

/* Offset after the last Via header line, or the top of the headers. */
static size_t after_vias(const struct edit_list *el)
{
	const struct sipmsg *m = el->m;
	const struct siphdr *h;
	size_t at = hdrs_top(el), e;

	for (h = sipmsg_hdr(m, HDR_VIA); h; h = sipmsg_hdr_next(m, h)) {
		if (!h->line.p)
			continue;
		e = off(el, h->line.p) + h->line.len;
		if (e > at && e <= el->buflen)
			at = e;
	}
	return at;
}

/*
 * Insert "name: value" before the first @p id header. With none: a Via
 * goes on top of the header block, anything else after the Via block,
 * so that the Via header lines stay together.
 */
static int add_first(struct edit_list *el, enum hdr_id id, struct slice value)
{
	const struct siphdr *h = sipmsg_hdr(el->m, id);
	struct slice text;
	size_t at;
	int err;

	err = -EINVAL;
	if (value.len == 0)
		goto out;
	if (h && h->line.p)
		at = off(el, h->line.p);
	else
		at = id == HDR_VIA ? hdrs_top(el) : after_vias(el);
	err = mkline(el, hdr_name(id), value, &text);
	if (!err)
		err = add(el, at, at, text);
out:
	return err;
}

/*
 * Remove the first value of the first @p id header: its whole line when
 * it has one value, else the first element and its comma, up to where
 * the second element starts.
 */
static int pop_first(struct edit_list *el, enum hdr_id id)
{
	const struct siphdr *h = sipmsg_hdr(el->m, id);
	struct slice rest, first, second;
	size_t s, e;
	int err, r;

	err = -ENOENT;
	if (!h)
		goto out;
	err = -EBADMSG;
	rest = h->value;
	r = hdr_split_next(&rest, &first);
	if (r <= 0)
		goto out;
	r = hdr_split_next(&rest, &second);
	if (r < 0)
		goto out;
	if (r == 0) {
		err = hdr_range(el, h, &s, &e);
	} else {
		err = 0;
		s = off(el, first.p);
		e = off(el, second.p);
	}
	if (!err)
		err = add(el, s, e, slice_make(NULL, 0));
out:
	return err;
}

int edit_add_via(struct edit_list *el, struct slice value)
{
	return add_first(el, HDR_VIA, value);
}

int edit_pop_via(struct edit_list *el)
{
	return pop_first(el, HDR_VIA);
}

int edit_add_record_route(struct edit_list *el, struct slice value)
{
	return add_first(el, HDR_RECORD_ROUTE, value);
}

int edit_add_route(struct edit_list *el, struct slice value)
{
	return add_first(el, HDR_ROUTE, value);
}

int edit_pop_route(struct edit_list *el)
{
	return pop_first(el, HDR_ROUTE);
}

int edit_add_hdr(struct edit_list *el, struct slice name, struct slice value)
{
	struct slice text;
	size_t at = hdrs_end(el);
	int err;

	if (name.len == 0)
		return -EINVAL;
	err = mkline(el, name, value, &text);
	if (err)
		return err;
	return add(el, at, at, text);
}

int edit_del_hdr(struct edit_list *el, const struct siphdr *h)
{
	size_t s, e;
	int err;

	err = hdr_range(el, h, &s, &e);
	if (err)
		return err;
	return add(el, s, e, slice_make(NULL, 0));
}

int edit_set_hdr(struct edit_list *el, const struct siphdr *h,
		 struct slice value)
{
	struct slice text;
	size_t s, e;
	int err;

	err = hdr_range(el, h, &s, &e);
	if (!err)
		err = check(el, s, e);
	if (!err)
		err = mkline(el, h->name, value, &text);
	if (!err)
		err = add(el, s, e, text);
	return err;
}

int edit_set_body(struct edit_list *el, struct slice body)
{
	const struct sipmsg *m = el->m;
	const struct siphdr *cl = sipmsg_hdr(m, HDR_CONTENT_LENGTH);
	const struct siphdr *h;
	struct slice btext, cltext, name;
	char num[24];
	size_t bs, be, cs, ce, s, e;
	unsigned k = 2;
	int err, n;

	bs = m->body.len ? off(el, m->body.p) : el->buflen;
	be = bs + m->body.len;
	err = check(el, bs, be);
	if (err)
		goto out;
	if (cl) {
		err = hdr_range(el, cl, &cs, &ce);
		if (!err)
			err = check(el, cs, ce);
		for (h = sipmsg_hdr_next(m, cl); h && !err;
		     h = sipmsg_hdr_next(m, h)) {
			err = hdr_range(el, h, &s, &e);
			if (!err)
				err = check(el, s, e);
			k++;
		}
		if (err)
			goto out;
		name = cl->name;
	} else {
		cs = ce = hdrs_end(el);
		name = hdr_name(HDR_CONTENT_LENGTH);
	}
	n = snprintf(num, sizeof(num), "%zu", body.len);
	err = mkline(el, name, slice_make(num, (size_t)n), &cltext);
	if (!err)
		err = copy(el, body, &btext);
	if (!err)
		err = reserve(el, k);
	if (err)
		goto out;
	/* Everything is checked and allocated: the inserts cannot fail. */
	insert(el, cs, ce, cltext);
	for (h = cl ? sipmsg_hdr_next(m, cl) : NULL; h;
	     h = sipmsg_hdr_next(m, h)) {
		hdr_range(el, h, &s, &e);
		insert(el, s, e, slice_make(NULL, 0));
	}
	insert(el, bs, be, btext);
out:
	return err;
}

int edit_print(const struct edit_list *el, char *buf, size_t size)
{
	size_t pos = 0, o = 0;

	if (el->len > INT_MAX)
		return -EOVERFLOW;
	if (size < el->len)
		return -ENOSPC;
	for (unsigned i = 0; i < el->n; i++) {
		const struct edit *e = &el->v[i];

		memcpy(buf + o, el->buf + pos, e->start - pos);
		o += e->start - pos;
		if (e->text.len)
			memcpy(buf + o, e->text.p, e->text.len);
		o += e->text.len;
		pos = e->end;
	}
	memcpy(buf + o, el->buf + pos, el->buflen - pos);
	o += el->buflen - pos;
	return (int)o;
}

int edit_print_arena(const struct edit_list *el, struct arena *a,
		     struct slice *outp)
{
	char *p;
	int ret;

	if (el->len > INT_MAX)
		return -EOVERFLOW;
	p = arena_alloc(a, el->len ? el->len : 1);
	if (!p)
		return -ENOMEM;
	ret = edit_print(el, p, el->len);
	if (ret < 0)
		return ret;
	*outp = slice_make(p, (size_t)ret);
	return 0;
}
