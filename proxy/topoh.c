/* proxy/topoh.c - topology hiding towards trunks (routes[].topology_hiding) */
#include "proxy/topoh.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <nettle/base64.h>
#include <nettle/siv-cmac.h>

#include "proxy/base/arena.h"
#include "proxy/core/conf.h"
#include "proxy/proxy_conf.h"
#include "proxy/route.h"
#include "proxy/sip/edit.h"
#include "proxy/sip/hdr.h"
#include "proxy/sip/msg.h"
#include "proxy/sip/peer.h"
#include "proxy/sip/uri.h"

#define PREFIX_LEN (sizeof(TOPOH_PREFIX) - 1)
/* Longest token: prefix, base64 of the text and the SIV tag. */
#define TOKEN_MAX     \
	(PREFIX_LEN + \
	 BASE64_ENCODE_LENGTH(TOPOH_PLAIN_MAX + SIV_DIGEST_SIZE) + 4)
/* Values of one header kind looked at in one message. */
#define MAX_VALUES 32

int topoh_seal(const uint8_t key[TOPOH_KEY_LEN], enum topoh_kind kind,
	       struct slice in, char *out, size_t size)
{
	struct siv_cmac_aes128_ctx ctx;
	struct base64_encode_ctx b;
	uint8_t ct[TOPOH_PLAIN_MAX + SIV_DIGEST_SIZE];
	char b64[BASE64_ENCODE_LENGTH(sizeof(ct)) + 4];
	uint8_t nonce = (uint8_t)kind;
	size_t n;

	if (!in.len || in.len > TOPOH_PLAIN_MAX)
		return -EINVAL;
	siv_cmac_aes128_set_key(&ctx, key);
	siv_cmac_aes128_encrypt_message(&ctx, 1, &nonce, 0, NULL,
					in.len + SIV_DIGEST_SIZE, ct,
					(const uint8_t *)in.p);
	base64url_encode_init(&b);
	n = base64_encode_update(&b, b64, in.len + SIV_DIGEST_SIZE, ct);
	n += base64_encode_final(&b, b64 + n);
	/* '=' is neither a Call-ID word character nor needed. */
	while (n && b64[n - 1] == '=')
		n--;
	if (PREFIX_LEN + n > size)
		return -ENOSPC;
	memcpy(out, TOPOH_PREFIX, PREFIX_LEN);
	memcpy(out + PREFIX_LEN, b64, n);
	return (int)(PREFIX_LEN + n);
}

int topoh_open(const uint8_t key[TOPOH_KEY_LEN], enum topoh_kind kind,
	       struct slice tok, char *out, size_t size)
{
	struct siv_cmac_aes128_ctx ctx;
	struct base64_decode_ctx b;
	char padded[TOKEN_MAX + 4];
	uint8_t ct[BASE64_DECODE_LENGTH(TOKEN_MAX + 4)];
	uint8_t pt[sizeof(ct)];
	uint8_t nonce = (uint8_t)kind;
	size_t n, len, ctlen = sizeof(ct);

	if (tok.len <= PREFIX_LEN || tok.len > TOKEN_MAX ||
	    memcmp(tok.p, TOPOH_PREFIX, PREFIX_LEN) != 0)
		return -EBADMSG;
	n = tok.len - PREFIX_LEN;
	if (n % 4 == 1)
		return -EBADMSG;
	memcpy(padded, tok.p + PREFIX_LEN, n);
	len = n;
	while (len % 4)
		padded[len++] = '=';
	base64url_decode_init(&b);
	if (!base64_decode_update(&b, &ctlen, ct, len, padded) ||
	    !base64_decode_final(&b) || ctlen <= SIV_DIGEST_SIZE)
		return -EBADMSG;
	siv_cmac_aes128_set_key(&ctx, key);
	if (!siv_cmac_aes128_decrypt_message(&ctx, 1, &nonce, 0, NULL,
					     ctlen - SIV_DIGEST_SIZE, pt, ct))
		return -EBADMSG;
	if (ctlen - SIV_DIGEST_SIZE > size)
		return -ENOSPC;
	memcpy(out, pt, ctlen - SIV_DIGEST_SIZE);
	return (int)(ctlen - SIV_DIGEST_SIZE);
}

/* Same address family and address (the port is not compared: a trunk
 * may send from another port than it listens on). */
static bool same_host(const struct sockaddr_storage *a,
		      const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
			      &((const struct sockaddr_in *)b)->sin_addr,
			      sizeof(struct in_addr)) == 0;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			      &((const struct sockaddr_in6 *)b)->sin6_addr,
			      sizeof(struct in6_addr)) == 0;
	return false;
}

bool topoh_peer_is_hidden(const struct conf *c, const struct peer *p)
{
	const struct proxy_conf *pc = proxy_conf(c);

	if (!pc->th_any)
		return false;
	for (unsigned i = 0; i < pc->nroutes; i++) {
		const struct conf_route *r = &pc->routes[i];

		for (unsigned k = 0; r->topology_hiding && k < r->nnext_hop;
		     k++)
			if (r->next_hop[k].addrlen &&
			    same_host(&r->next_hop[k].addr, &p->addr))
				return true;
	}
	return false;
}

/* The Call-ID on the other side: a token of ours opened, anything else
 * sealed. -EBADMSG: a token of ours that does not open. */
static int map_call_id(const struct conf *c, struct arena *a, struct slice id,
		       struct slice *outp)
{
	const uint8_t *key = proxy_conf(c)->th_key;
	char *p = arena_alloc(a, TOKEN_MAX);
	int n;

	if (!p)
		return -ENOMEM;
	if (id.len > PREFIX_LEN && memcmp(id.p, TOPOH_PREFIX, PREFIX_LEN) == 0)
		n = topoh_open(key, TOPOH_CALL_ID, id, p, TOKEN_MAX);
	else
		n = topoh_seal(key, TOPOH_CALL_ID, id, p, TOKEN_MAX);
	if (n < 0)
		return n == -ENOSPC || n == -EINVAL ? -EBADMSG : n;
	*outp = slice_make(p, (size_t)n);
	return 0;
}

static int set_call_id(const struct conf *c, struct edit_list *el,
		       const struct sipmsg *m, struct arena *a, bool keep_bad)
{
	const struct siphdr *h = sipmsg_hdr(m, HDR_CALL_ID);
	struct slice id;
	int err;

	if (!h || !m->call_id.len)
		return -EBADMSG;
	err = map_call_id(c, a, m->call_id, &id);
	if (err == -EBADMSG && keep_bad)
		return 0;
	return err ? err : edit_set_hdr(el, h, id);
}

/* Every value of header @p id, in order; the count or -EBADMSG. */
static int values(const struct sipmsg *m, enum hdr_id id, struct slice *v,
		  unsigned max)
{
	struct slice rest, e;
	unsigned n = 0;
	int r;

	for (const struct siphdr *h = sipmsg_hdr(m, id); h;
	     h = sipmsg_hdr_next(m, h)) {
		rest = h->value;
		while ((r = hdr_split_next(&rest, &e)) > 0) {
			if (n == max)
				return -EBADMSG;
			v[n++] = e;
		}
		if (r < 0)
			return -EBADMSG;
	}
	return (int)n;
}

static int del_all(struct edit_list *el, const struct sipmsg *m, enum hdr_id id)
{
	int err = 0;

	for (const struct siphdr *h = sipmsg_hdr(m, id); h && !err;
	     h = sipmsg_hdr_next(m, h))
		err = edit_del_hdr(el, h);
	return err;
}

/* Record-Route value @p v names this proxy. */
static bool value_is_ours(const struct conf *c, struct slice v)
{
	struct nameaddr na;
	struct sipuri u;

	return nameaddr_parse(v, &na) == 0 && uri_parse(na.uri, &u) == 0 &&
	       route_uri_is_ours(c, &u);
}

/* The inside route set sealed in a Route value of ours on top (our
 * Record-Route as the trunk got it) goes after the Route values. */
static int open_route(const struct conf *c, struct edit_list *el,
		      const struct sipmsg *m, struct arena *a,
		      unsigned *statusp, const char **whyp)
{
	struct slice v[MAX_VALUES];
	int n = values(m, HDR_ROUTE, v, MAX_VALUES), k;

	if (n < 0)
		return 0; /* the route plan answers 400 */
	for (int i = 0; i < n && value_is_ours(c, v[i]); i++) {
		struct nameaddr na;
		struct sipuri u;
		char *p;

		if (nameaddr_parse(v[i], &na) < 0 ||
		    uri_parse(na.uri, &u) < 0 || u.user.len <= PREFIX_LEN ||
		    memcmp(u.user.p, TOPOH_PREFIX, PREFIX_LEN) != 0)
			continue;
		p = arena_alloc(a, TOPOH_PLAIN_MAX);
		if (!p)
			return -ENOMEM;
		k = topoh_open(proxy_conf(c)->th_key, TOPOH_ROUTE, u.user, p,
			       TOPOH_PLAIN_MAX);
		if (k < 0) {
			*statusp = 404;
			*whyp = "Not Found (Route token does not open)";
			return 0;
		}
		return edit_add_hdr(el, SLICE_LIT("Route"),
				    slice_make(p, (size_t)k));
	}
	return 0;
}

int topoh_in(const struct conf *c, const struct sipmsg *m,
	     const struct peer *from, struct arena *a, struct slice *outp,
	     unsigned *statusp, const char **whyp)
{
	const uint8_t *key = proxy_conf(c)->th_key;
	const char *why = NULL;
	struct edit_list *el;
	unsigned status = 0;
	struct sipuri u;
	int err, n;

	if (!topoh_peer_is_hidden(c, from))
		return 0;
	err = edit_new(a, m, &el);
	if (err)
		return err;
	err = set_call_id(c, el, m, a, false);
	if (err == -EBADMSG) {
		*statusp = 400;
		*whyp = "Bad Request (Call-ID token does not open)";
		return err;
	}
	if (err)
		return err;
	if (m->is_request && uri_parse(m->ruri, &u) == 0 &&
	    u.scheme == URI_SIP && u.user.len > PREFIX_LEN &&
	    memcmp(u.user.p, TOPOH_PREFIX, PREFIX_LEN) == 0 &&
	    route_uri_is_ours(c, &u)) {
		char *p = arena_alloc(a, TOPOH_PLAIN_MAX);

		if (!p)
			return -ENOMEM;
		n = topoh_open(key, TOPOH_CONTACT, u.user, p, TOPOH_PLAIN_MAX);
		/* A bad one is answered by the caller, with the Call-ID
		 * the inside would see, which goes out mapped back. */
		if (n < 0) {
			status = 404;
			why = "Not Found (Contact token does not open)";
		} else {
			err = edit_set_ruri(el, slice_make(p, (size_t)n));
		}
	}
	if (!err && m->is_request && !status)
		err = open_route(c, el, m, a, &status, &why);
	if (!err)
		err = edit_print_arena(el, a, outp);
	if (err)
		return err;
	if (status) {
		*statusp = status;
		*whyp = why;
	}
	return 1;
}

/* "HOST:PORT" of the listen entry messages to @p to leave from. */
static int us(const struct conf *c, const struct peer *to, char *buf,
	      size_t size)
{
	unsigned li = to->listen_idx < c->nlisten ? to->listen_idx : 0;
	const struct conf_listen *l;
	int n;

	if (!c->nlisten)
		return -EINVAL;
	l = &c->listen[li];
	if (l->adv_host)
		n = snprintf(buf, size, "%s:%u", l->adv_host, l->adv_port);
	else
		n = snprintf(buf, size,
			     strchr(l->address, ':') ? "[%s]:%u" : "%s:%u",
			     l->address, l->port);
	return n > 0 && (size_t)n < size ? 0 : -ENOSPC;
}

/* Each Contact URI sealed into "<sip:th-TOKEN@US>", header params
 * kept. */
static int hide_contacts(const struct conf *c, struct edit_list *el,
			 const struct sipmsg *m, const struct peer *to,
			 struct arena *a)
{
	const uint8_t *key = proxy_conf(c)->th_key;
	char hp[80];
	const char *tp = to->proto == PEER_TCP	 ? ";transport=tcp"
			 : to->proto == PEER_TLS ? ";transport=tls"
						 : "";
	int err = us(c, to, hp, sizeof(hp));

	for (const struct siphdr *h = sipmsg_hdr(m, HDR_CONTACT); h && !err;
	     h = sipmsg_hdr_next(m, h)) {
		struct slice rest = h->value, e, out[MAX_VALUES], joined;
		unsigned k = 0;
		int r;

		while ((r = hdr_split_next(&rest, &e)) > 0) {
			struct nameaddr na;
			char *p;
			int n;

			if (k == MAX_VALUES || nameaddr_parse(e, &na) < 0)
				return -EBADMSG;
			/* "*" (REGISTER) names nothing. */
			if (na.uri.len == 1 && na.uri.p[0] == '*')
				return 0;
			p = arena_alloc(a, TOKEN_MAX + sizeof(hp) + 32 +
					       na.params.len);
			if (!p)
				return -ENOMEM;
			memcpy(p, "<sip:", 5);
			n = topoh_seal(key, TOPOH_CONTACT, na.uri, p + 5,
				       TOKEN_MAX);
			if (n < 0)
				return n == -ENOMEM ? n : -EBADMSG;
			n += 5;
			n += sprintf(p + n, "@%s%s>", hp, tp);
			memcpy(p + n, na.params.p, na.params.len);
			out[k++] = slice_make(p, (size_t)n + na.params.len);
		}
		if (r < 0)
			return -EBADMSG;
		if (!k)
			continue;
		err = arena_join(a, out, k, SLICE_LIT(", "), &joined);
		if (!err)
			err = edit_set_hdr(el, h, joined);
	}
	return err;
}

/* Our Record-Route value @p v ("<sip:HOSTPORT;...>") with the inside
 * route set @p inner sealed as its user part: "<sip:th-TOKEN@HOSTPORT...>".
 * A value with a user part already (a flow token) stays as it is. */
static int seal_into(const struct conf *c, struct arena *a, struct slice v,
		     struct slice inner, struct slice *outp)
{
	struct nameaddr na;
	struct sipuri u;
	size_t at;
	char *p;
	int n;

	if (nameaddr_parse(v, &na) < 0 || uri_parse(na.uri, &u) < 0 ||
	    u.user.len || na.uri.len < 4 ||
	    !slice_caseeq(slice_make(na.uri.p, 4), SLICE_LIT("sip:"))) {
		*outp = v;
		return 0;
	}
	p = arena_alloc(a, v.len + TOKEN_MAX + 1);
	if (!p)
		return -ENOMEM;
	at = (size_t)(na.uri.p - v.p) + 4;
	memcpy(p, v.p, at);
	n = topoh_seal(proxy_conf(c)->th_key, TOPOH_ROUTE, inner, p + at,
		       TOKEN_MAX);
	if (n < 0)
		return n == -ENOMEM ? n : -EBADMSG;
	p[at + (size_t)n] = '@';
	memcpy(p + at + (size_t)n + 1, v.p + at, v.len - at);
	*outp = slice_make(p, v.len + (size_t)n + 1);
	return 0;
}

/*
 * Record-Route: a request keeps our values on top, a response the
 * values from our first one on; the rest is the inside's route set, from
 * here towards the inside UA (a response's in reverse), which goes
 * sealed into the user part of our first value: the trunk's in-dialog
 * requests bring it back in their Route (topoh_in()).
 */
static int hide_rr(const struct conf *c, struct edit_list *el,
		   const struct sipmsg *m, struct arena *a)
{
	struct slice v[MAX_VALUES], inner[MAX_VALUES], joined;
	unsigned from = 0, to, ni = 0;
	int n = values(m, HDR_RECORD_ROUTE, v, MAX_VALUES), err;

	if (n < 0)
		return n;
	if (m->is_request) {
		to = 0;
		while (to < (unsigned)n && value_is_ours(c, v[to]))
			to++;
		for (unsigned i = to; i < (unsigned)n; i++)
			inner[ni++] = v[i];
	} else {
		while (from < (unsigned)n && !value_is_ours(c, v[from]))
			from++;
		to = (unsigned)n;
		for (unsigned i = from; i > 0; i--)
			inner[ni++] = v[i - 1];
	}
	if (from == 0 && to == (unsigned)n)
		return 0;
	/* The new line first: it goes where the first old one starts. */
	if (from < to) {
		if (ni) {
			err =
			    arena_join(a, inner, ni, SLICE_LIT(", "), &joined);
			if (!err)
				err =
				    seal_into(c, a, v[from], joined, &v[from]);
			if (err)
				return err;
		}
		err = arena_join(a, v + from, to - from, SLICE_LIT(", "),
				 &joined);
		if (!err)
			err = edit_add_record_route(el, joined);
		if (err)
			return err;
	}
	return del_all(el, m, HDR_RECORD_ROUTE);
}

/* A request keeps its top Via, ours. */
static int hide_via(struct edit_list *el, const struct sipmsg *m)
{
	const struct siphdr *h = sipmsg_hdr(m, HDR_VIA);
	struct slice rest, top;
	int err;

	if (!h)
		return -EBADMSG;
	rest = h->value;
	if (hdr_split_next(&rest, &top) <= 0)
		return -EBADMSG;
	if (!sipmsg_hdr_next(m, h) && !slice_trim(rest).len)
		return 0;
	err = edit_add_via(el, top);
	return err ? err : del_all(el, m, HDR_VIA);
}

int topoh_out(const struct conf *c, const struct peer *to, const char *buf,
	      size_t len, bool call_id, struct arena *a, struct slice *outp)
{
	unsigned max = c->max_headers ? c->max_headers : 128;
	struct edit_list *el;
	struct siphdr *hdrs;
	struct sipmsg m;
	int err;

	if (!topoh_peer_is_hidden(c, to))
		return 0;
	hdrs = arena_alloc(a, max * sizeof(*hdrs));
	if (!hdrs)
		return -ENOMEM;
	memset(&m, 0, sizeof(m));
	if (sipmsg_parse(&m, buf, len, hdrs, max, 0) < 0)
		return -EBADMSG;
	err = edit_new(a, &m, &el);
	/* An answer to the trunk's own bad token keeps it. */
	if (!err && call_id)
		err = set_call_id(c, el, &m, a, true);
	if (!err && m.is_request)
		err = hide_via(el, &m);
	if (!err)
		err = hide_rr(c, el, &m, a);
	if (!err)
		err = hide_contacts(c, el, &m, to, a);
	if (!err)
		err = edit_print_arena(el, a, outp);
	return err ? err : 1;
}

int topoh_restore(struct edit_list *el, const struct sipmsg *rsp,
		  const struct sipmsg *req, struct arena *a)
{
	struct slice v[MAX_VALUES], joined;
	int n, err;

	n = values(req, HDR_VIA, v, MAX_VALUES);
	if (n <= 0)
		return n ? n : -EBADMSG;
	err = arena_join(a, v, (unsigned)n, SLICE_LIT(", "), &joined);
	if (!err)
		err = edit_add_via(el, joined);
	if (!err)
		err = del_all(el, rsp, HDR_VIA);
	if (err || !sipmsg_hdr(rsp, HDR_RECORD_ROUTE))
		return err;
	n = values(req, HDR_RECORD_ROUTE, v, MAX_VALUES);
	if (n <= 0)
		return n;
	err = arena_join(a, v, (unsigned)n, SLICE_LIT(", "), &joined);
	return err ? err : edit_add_hdr(el, SLICE_LIT("Record-Route"), joined);
}
