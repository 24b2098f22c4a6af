/* proxy/sip/request.c - build requests as a UA: out of dialog, ACK, CANCEL */
#include "proxy/sip/request.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "proxy/base/arena.h"
#include "proxy/base/hex.h"
#include "proxy/sip/uri.h"

/* Bytes written so far; writes past size are counted, not stored. */
struct out {
	char *p;
	size_t size;
	size_t len;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->p && o->len < o->size && n)
		memcpy(o->p + o->len, s,
		       n < o->size - o->len ? n : o->size - o->len);
	o->len += n;
}

static void put_s(struct out *o, struct slice s)
{
	put(o, s.p, s.len);
}

static void put_c(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void put_u(struct out *o, unsigned long v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%lu", v);

	put(o, num, (size_t)n);
}

/* A header line copied from a parsed message, ending in CRLF whatever
 * line end it had. */
static void put_line(struct out *o, struct slice line)
{
	while (line.len &&
	       (line.p[line.len - 1] == '\n' || line.p[line.len - 1] == '\r'))
		line.len--;
	put_s(o, line);
	put_c(o, "\r\n");
}

/* RFC 3261 §25.1 token characters besides alphanumerics. */
static bool is_token_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (c && strchr("-.!%*_+`'~", c));
}

/* RFC 3261 §25.1 word: token characters and these. */
static bool is_word_char(unsigned char c)
{
	return is_token_char(c) || (c && strchr("()<>:\\\"/[]?{}", c));
}

bool request_is_token(struct slice s)
{
	if (!s.len)
		return false;
	for (size_t i = 0; i < s.len; i++)
		if (!is_token_char((unsigned char)s.p[i]))
			return false;
	return true;
}

static bool is_word(struct slice s)
{
	if (!s.len)
		return false;
	for (size_t i = 0; i < s.len; i++)
		if (!is_word_char((unsigned char)s.p[i]))
			return false;
	return true;
}

bool request_is_line_safe(struct slice s)
{
	for (size_t i = 0; i < s.len; i++)
		if (s.p[i] == '\r' || s.p[i] == '\n' || s.p[i] == '\0')
			return false;
	return true;
}

/* RFC 3261 §25.1 callid = word [ "@" word ]. */
static bool is_call_id(struct slice s)
{
	long at = slice_index(s, '@');

	if (at < 0)
		return is_word(s);
	return is_word(slice_make(s.p, (size_t)at)) &&
	       is_word(slice_make(s.p + at + 1, s.len - (size_t)at - 1));
}

static bool uri_ok(struct slice s)
{
	struct sipuri u;

	return s.len && request_is_line_safe(s) && uri_parse(s, &u) == 0;
}

/* A Route value: one name-addr whose URI parses. */
static bool route_ok(struct slice s)
{
	struct nameaddr na;
	struct slice rest = s, elem;

	if (!s.len || !request_is_line_safe(s))
		return false;
	/* Exactly one element: no comma outside quotes and brackets. */
	if (hdr_split_next(&rest, &elem) != 1 || rest.len)
		return false;
	return nameaddr_parse(s, &na) == 0 && na.angle && uri_ok(na.uri);
}

static int check(const struct request_opts *o)
{
	struct slice name = o->method == SIP_METHOD_OTHER
				? o->method_name
				: sip_method_name(o->method);

	if (!request_is_token(name) || !uri_ok(o->ruri) || !uri_ok(o->to_uri) ||
	    !uri_ok(o->from_uri) || !request_is_line_safe(o->to_display) ||
	    !request_is_line_safe(o->from_display) ||
	    (o->to_tag.len && !request_is_token(o->to_tag)) ||
	    (o->from_tag.len && !request_is_token(o->from_tag)) ||
	    !is_call_id(o->call_id) || o->cseq >= (1u << 31) ||
	    (o->via_transport.len && !request_is_token(o->via_transport)) ||
	    uri_classify_host(o->via_host) < 0 ||
	    !request_is_token(o->branch) || o->branch.len < 7 ||
	    memcmp(o->branch.p, "z9hG4bK", 7) != 0 ||
	    (o->contact.len && !uri_ok(o->contact)) ||
	    o->nroute > REQUEST_MAX_LIST || o->nhdrs > REQUEST_MAX_LIST ||
	    (o->nroute && !o->route) || (o->nhdrs && !o->hdrs) ||
	    !request_is_line_safe(o->content_type) ||
	    (o->body.len && !o->content_type.len) || o->max_forwards > 255)
		return -EINVAL;
	for (unsigned i = 0; i < o->nroute; i++)
		if (!route_ok(o->route[i]))
			return -EINVAL;
	for (unsigned i = 0; i < o->nhdrs; i++)
		if (!request_is_token(o->hdrs[i].name) ||
		    !request_is_line_safe(o->hdrs[i].value))
			return -EINVAL;
	return 0;
}

/* A display name as a quoted-string (RFC 3261 §25.1 quoted-pair). */
static void put_display(struct out *o, struct slice d)
{
	if (!d.len)
		return;
	put_c(o, "\"");
	for (size_t i = 0; i < d.len; i++) {
		if (d.p[i] == '"' || d.p[i] == '\\')
			put_c(o, "\\");
		put(o, d.p + i, 1);
	}
	put_c(o, "\" ");
}

static void put_addr(struct out *o, const char *name, struct slice display,
		     struct slice uri, struct slice tag)
{
	put_c(o, name);
	put_display(o, display);
	put_c(o, "<");
	put_s(o, uri);
	put_c(o, ">");
	if (tag.len) {
		put_c(o, ";tag=");
		put_s(o, tag);
	}
	put_c(o, "\r\n");
}

static void print(const struct request_opts *o, struct out *w)
{
	struct slice name = o->method == SIP_METHOD_OTHER
				? o->method_name
				: sip_method_name(o->method);

	put_s(w, name);
	put_c(w, " ");
	put_s(w, o->ruri);
	put_c(w, " SIP/2.0\r\nVia: SIP/2.0/");
	put_s(w, o->via_transport.len ? o->via_transport : SLICE_LIT("UDP"));
	put_c(w, " ");
	put_s(w, o->via_host);
	if (o->via_port) {
		put_c(w, ":");
		put_u(w, o->via_port);
	}
	/* RFC 3581 §3: a UA asks for the response at its source port. */
	put_c(w, ";rport;branch=");
	put_s(w, o->branch);
	put_c(w, "\r\nMax-Forwards: ");
	put_u(w, o->max_forwards ? o->max_forwards : 70);
	put_c(w, "\r\n");
	for (unsigned i = 0; i < o->nroute; i++) {
		put_c(w, "Route: ");
		put_s(w, o->route[i]);
		put_c(w, "\r\n");
	}
	put_addr(w, "From: ", o->from_display, o->from_uri, o->from_tag);
	put_addr(w, "To: ", o->to_display, o->to_uri, o->to_tag);
	put_c(w, "Call-ID: ");
	put_s(w, o->call_id);
	put_c(w, "\r\nCSeq: ");
	put_u(w, o->cseq);
	put_c(w, " ");
	put_s(w, name);
	put_c(w, "\r\n");
	if (o->contact.len) {
		put_c(w, "Contact: <");
		put_s(w, o->contact);
		put_c(w, ">\r\n");
	}
	for (unsigned i = 0; i < o->nhdrs; i++) {
		put_s(w, o->hdrs[i].name);
		put_c(w, ": ");
		put_s(w, o->hdrs[i].value);
		put_c(w, "\r\n");
	}
	if (o->content_type.len) {
		put_c(w, "Content-Type: ");
		put_s(w, o->content_type);
		put_c(w, "\r\n");
	}
	put_c(w, "Content-Length: ");
	put_u(w, o->body.len);
	put_c(w, "\r\n\r\n");
	put_s(w, o->body);
}

int request_print(const struct request_opts *o, char *buf, size_t size)
{
	struct out w = { buf, buf ? size : 0, 0 };
	int err = check(o);

	if (err)
		return err;
	print(o, &w);
	if (w.len > INT_MAX)
		return -EOVERFLOW;
	if (buf && w.len > size)
		return -ENOSPC;
	return (int)w.len;
}

int request_build(const struct request_opts *o, struct arena *a,
		  struct slice *outp)
{
	int n = request_print(o, NULL, 0);
	char *p;

	if (n < 0)
		return n;
	p = arena_alloc(a, (size_t)n + 1);
	if (!p)
		return -ENOMEM;
	n = request_print(o, p, (size_t)n + 1);
	if (n < 0)
		return n;
	*outp = slice_make(p, (size_t)n);
	return 0;
}

/* Write @p w's bytes into @p a: measured first, then written. */
typedef void build_fn(struct out *w, const void *arg);

static int build_into(build_fn *fn, const void *arg, struct arena *a,
		      struct slice *outp)
{
	struct out w = { NULL, 0, 0 };
	char *p;

	fn(&w, arg);
	p = arena_alloc(a, w.len + 1);
	if (!p)
		return -ENOMEM;
	w = (struct out){ p, w.len + 1, 0 };
	fn(&w, arg);
	*outp = slice_make(p, w.len);
	return 0;
}

struct ack_cancel {
	const struct sipmsg *inv;
	const struct siphdr *to;
	struct slice method;
};

/* RFC 3261 §9.1 and §17.1.1.3: what ACK (non-2xx) and CANCEL share. */
static void ack_cancel_print(struct out *w, const void *arg)
{
	const struct ack_cancel *x = arg;
	const struct sipmsg *m = x->inv;
	const struct siphdr *h;

	put_s(w, x->method);
	put_c(w, " ");
	put_s(w, m->ruri);
	put_c(w, " SIP/2.0\r\nVia: ");
	put_s(w, m->via.value);
	put_c(w, "\r\nMax-Forwards: 70\r\n");
	for (h = sipmsg_hdr(m, HDR_ROUTE); h; h = sipmsg_hdr_next(m, h))
		put_line(w, h->line);
	put_line(w, sipmsg_hdr(m, HDR_FROM)->line);
	put_line(w, x->to->line);
	put_line(w, sipmsg_hdr(m, HDR_CALL_ID)->line);
	put_c(w, "CSeq: ");
	put_u(w, m->cseq);
	put_c(w, " ");
	put_s(w, x->method);
	put_c(w, "\r\nContent-Length: 0\r\n\r\n");
}

static int invite_check(const struct sipmsg *inv)
{
	if (!inv->is_request || inv->method != SIP_INVITE)
		return -EINVAL;
	if (!inv->via.value.len || !sipmsg_hdr(inv, HDR_FROM) ||
	    !sipmsg_hdr(inv, HDR_TO) || !sipmsg_hdr(inv, HDR_CALL_ID) ||
	    !inv->cseq_method_name.len || !inv->ruri.len)
		return -EBADMSG;
	return 0;
}

int request_ack_build(const struct sipmsg *invite, const struct sipmsg *rsp,
		      struct arena *a, struct slice *outp)
{
	struct ack_cancel x = { invite, NULL, SLICE_LIT("ACK") };
	int err = invite_check(invite);

	if (err)
		return err;
	if (rsp->is_request || rsp->status < 300 || rsp->status > 699 ||
	    rsp->cseq != invite->cseq || rsp->cseq_method != SIP_INVITE ||
	    !slice_eq(rsp->call_id, invite->call_id))
		return -EINVAL;
	x.to = sipmsg_hdr(rsp, HDR_TO);
	if (!x.to)
		return -EBADMSG;
	return build_into(ack_cancel_print, &x, a, outp);
}

int request_cancel_build(const struct sipmsg *invite, struct arena *a,
			 struct slice *outp)
{
	struct ack_cancel x = { invite, NULL, SLICE_LIT("CANCEL") };
	int err = invite_check(invite);

	if (err)
		return err;
	x.to = sipmsg_hdr(invite, HDR_TO);
	return build_into(ack_cancel_print, &x, a, outp);
}

static int random_hex(unsigned nbytes, char *out)
{
	unsigned char raw[16];
	ssize_t n;

	if (nbytes > sizeof(raw))
		return -EINVAL;
	n = getrandom(raw, nbytes, GRND_NONBLOCK);
	if (n < 0)
		return -errno;
	if ((size_t)n != nbytes)
		return -EAGAIN;
	hex_print(raw, nbytes, out);
	return 0;
}

int request_tag_make(char *buf, size_t size)
{
	int err;

	if (size < REQUEST_TAG_MAX)
		return -ENOSPC;
	err = random_hex(8, buf);
	return err ? err : 16;
}

int request_call_id_make(struct slice host, char *buf, size_t size)
{
	size_t need = 32 + (host.len ? 1 + host.len : 0) + 1;
	int err;

	if (host.len && (!is_word(host) || need > REQUEST_CALL_ID_MAX))
		return -EINVAL;
	if (size < need)
		return -ENOSPC;
	err = random_hex(16, buf);
	if (err)
		return err;
	if (host.len) {
		buf[32] = '@';
		memcpy(buf + 33, host.p, host.len);
	}
	buf[need - 1] = '\0';
	return (int)(need - 1);
}
