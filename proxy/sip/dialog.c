/* proxy/sip/dialog.c - UA dialog state (RFC 3261 §12) and in-dialog requests */
#include "proxy/sip/dialog.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/base/arena.h"
#include "proxy/sip/hdr.h"
#include "proxy/sip/uri.h"

/*
 * Copy every string of @p f (which may point into the dialog's old
 * block or into a message) into one new block, and make @p d hold it
 * and @p f's values. The old block is freed only after the copy.
 */
static int pack(struct dialog *d, const struct dialog *f)
{
	struct slice *s[6 + DIALOG_MAX_ROUTES];
	struct dialog n = *f;
	size_t len = 0;
	unsigned k = 0;
	char *block, *p;

	s[k++] = &n.call_id;
	s[k++] = &n.local_tag;
	s[k++] = &n.remote_tag;
	s[k++] = &n.local_uri;
	s[k++] = &n.remote_uri;
	s[k++] = &n.remote_target;
	for (unsigned i = 0; i < n.nroute; i++)
		s[k++] = &n.route[i];
	for (unsigned i = 0; i < k; i++)
		len += s[i]->len;
	block = malloc(len ? len : 1);
	if (!block)
		return -ENOMEM;
	p = block;
	for (unsigned i = 0; i < k; i++) {
		if (s[i]->len)
			memcpy(p, s[i]->p, s[i]->len);
		*s[i] = slice_make(p, s[i]->len);
		p += s[i]->len;
	}
	for (unsigned i = n.nroute; i < DIALOG_MAX_ROUTES; i++)
		n.route[i] = slice_make(NULL, 0);
	free(d->block);
	n.block = block;
	*d = n;
	return 0;
}

/* The URI of the first element of header @p id (From, To, Contact),
 * checked with uri_parse(). */
static int hdr_uri(const struct sipmsg *m, enum hdr_id id, struct slice *urip)
{
	const struct siphdr *h = sipmsg_hdr(m, id);
	struct slice rest, elem;
	struct nameaddr na;
	struct sipuri u;

	if (!h)
		return -ENOENT;
	rest = h->value;
	if (hdr_split_next(&rest, &elem) != 1 ||
	    nameaddr_parse(elem, &na) != 0 || uri_parse(na.uri, &u) != 0)
		return -EBADMSG;
	*urip = na.uri;
	return 0;
}

/* The Record-Route entries of @p m, reversed for a UAC (§12.1.2) and in
 * order for a UAS (§12.1.1). Each is a name-addr whose URI parses. */
static int rr_set(const struct sipmsg *m, bool reverse, struct slice *route,
		  unsigned *np)
{
	const struct siphdr *h;
	struct slice rest, elem;
	struct nameaddr na;
	struct sipuri u;
	unsigned n = 0;
	int ret;

	for (h = sipmsg_hdr(m, HDR_RECORD_ROUTE); h;
	     h = sipmsg_hdr_next(m, h)) {
		rest = h->value;
		/* Bounded by the header's length. */
		while ((ret = hdr_split_next(&rest, &elem)) == 1) {
			if (nameaddr_parse(elem, &na) != 0 || !na.angle ||
			    uri_parse(na.uri, &u) != 0)
				return -EBADMSG;
			if (n == DIALOG_MAX_ROUTES)
				return -E2BIG;
			route[n++] = elem;
		}
		if (ret < 0)
			return -EBADMSG;
	}
	for (unsigned i = 0; reverse && i < n / 2; i++) {
		struct slice t = route[i];

		route[i] = route[n - 1 - i];
		route[n - 1 - i] = t;
	}
	*np = n;
	return 0;
}

int dialog_new_uac(const struct sipmsg *rsp, bool secure, struct dialog **dp)
{
	struct dialog f, *d;
	int err;

	if (rsp->is_request || rsp->status < 101 || rsp->status > 299)
		return -EINVAL;
	memset(&f, 0, sizeof(f));
	if (!rsp->to_tag.len || !rsp->from_tag.len || !rsp->call_id.len ||
	    !rsp->cseq_method_name.len)
		return -EBADMSG;
	f.role = DIALOG_UAC;
	f.state = rsp->status >= 200 ? DIALOG_CONFIRMED : DIALOG_EARLY;
	f.secure = secure;
	f.call_id = rsp->call_id;
	f.local_tag = rsp->from_tag;
	f.remote_tag = rsp->to_tag;
	f.local_cseq = rsp->cseq;
	f.local_cseq_set = true;
	if (rsp->cseq_method == SIP_INVITE) {
		f.invite_cseq = rsp->cseq;
		f.invite_cseq_set = true;
	}
	if (hdr_uri(rsp, HDR_FROM, &f.local_uri) != 0 ||
	    hdr_uri(rsp, HDR_TO, &f.remote_uri) != 0)
		return -EBADMSG;
	err = hdr_uri(rsp, HDR_CONTACT, &f.remote_target);
	if (err == -ENOENT && f.state == DIALOG_EARLY)
		err = 0;
	if (err)
		return -EBADMSG;
	err = rr_set(rsp, true, f.route, &f.nroute);
	if (err)
		return err;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	err = pack(d, &f);
	if (err) {
		free(d);
		return err;
	}
	*dp = d;
	return 0;
}

int dialog_new_uas(const struct sipmsg *req, struct slice local_tag,
		   enum dialog_state state, bool secure, struct dialog **dp)
{
	struct dialog f, *d;
	int err;

	if (!req->is_request || !request_is_token(local_tag))
		return -EINVAL;
	memset(&f, 0, sizeof(f));
	if (!req->call_id.len)
		return -EBADMSG;
	f.role = DIALOG_UAS;
	f.state = state == DIALOG_CONFIRMED ? DIALOG_CONFIRMED : DIALOG_EARLY;
	f.secure = secure;
	f.call_id = req->call_id;
	f.local_tag = local_tag;
	f.remote_tag = req->from_tag;
	f.remote_cseq = req->cseq;
	f.remote_cseq_set = true;
	if (hdr_uri(req, HDR_FROM, &f.remote_uri) != 0 ||
	    hdr_uri(req, HDR_TO, &f.local_uri) != 0 ||
	    hdr_uri(req, HDR_CONTACT, &f.remote_target) != 0)
		return -EBADMSG;
	err = rr_set(req, false, f.route, &f.nroute);
	if (err)
		return err;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	err = pack(d, &f);
	if (err) {
		free(d);
		return err;
	}
	*dp = d;
	return 0;
}

/* True when @p s parses as a SIP or SIPS URI. */
static bool sip_uri_ok(struct slice s)
{
	struct sipuri u;

	return s.len && uri_parse(s, &u) == 0 &&
	       (u.scheme == URI_SIP || u.scheme == URI_SIPS);
}

int dialog_restore(const struct dialog *f, struct dialog **dp)
{
	struct dialog n, *d;
	int err;

	if (!f->call_id.len || !request_is_line_safe(f->call_id) ||
	    !request_is_token(f->local_tag) ||
	    (f->remote_tag.len && !request_is_token(f->remote_tag)) ||
	    !sip_uri_ok(f->local_uri) || !sip_uri_ok(f->remote_uri) ||
	    !sip_uri_ok(f->remote_target) || f->nroute > DIALOG_MAX_ROUTES)
		return -EINVAL;
	for (unsigned i = 0; i < f->nroute; i++) {
		struct nameaddr na;
		struct sipuri u;

		if (nameaddr_parse(f->route[i], &na) != 0 || !na.angle ||
		    uri_parse(na.uri, &u) != 0)
			return -EINVAL;
	}
	n = *f;
	n.block = NULL;
	n.state = DIALOG_CONFIRMED;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	err = pack(d, &n);
	if (err) {
		free(d);
		return err;
	}
	*dp = d;
	return 0;
}

void dialog_free(struct dialog *d)
{
	if (!d)
		return;
	free(d->block);
	free(d);
}

bool dialog_is_match(const struct dialog *d, const struct sipmsg *m)
{
	struct slice ours = m->is_request ? m->to_tag : m->from_tag;
	struct slice theirs = m->is_request ? m->from_tag : m->to_tag;

	return slice_eq(d->call_id, m->call_id) &&
	       slice_eq(d->local_tag, ours) && slice_eq(d->remote_tag, theirs);
}

int dialog_confirm(struct dialog *d, const struct sipmsg *rsp)
{
	struct dialog f;
	int err;

	if (d->role == DIALOG_UAS) {
		if (rsp)
			return -EINVAL;
		d->state = DIALOG_CONFIRMED;
		return 0;
	}
	if (!rsp || rsp->is_request || rsp->status < 200 || rsp->status > 299 ||
	    !dialog_is_match(d, rsp))
		return -EINVAL;
	if (d->state == DIALOG_CONFIRMED)
		return 0;
	/* RFC 3261 §13.2.2.4: the route set is recomputed from the 2xx. */
	f = *d;
	f.state = DIALOG_CONFIRMED;
	if (hdr_uri(rsp, HDR_CONTACT, &f.remote_target) != 0)
		return -EBADMSG;
	err = rr_set(rsp, true, f.route, &f.nroute);
	return err ? err : pack(d, &f);
}

int dialog_check_cseq(struct dialog *d, const struct sipmsg *req)
{
	if (!req->is_request)
		return -EINVAL;
	if (req->method == SIP_ACK || req->method == SIP_CANCEL)
		return 0;
	/* RFC 3261 §12.2.2: lower than the remote CSeq is out of order. */
	if (d->remote_cseq_set && req->cseq < d->remote_cseq)
		return -ERANGE;
	d->remote_cseq = req->cseq;
	d->remote_cseq_set = true;
	return 0;
}

static bool is_target_refresh(enum sip_method m)
{
	return m == SIP_INVITE || m == SIP_UPDATE || m == SIP_SUBSCRIBE ||
	       m == SIP_NOTIFY || m == SIP_REFER;
}

int dialog_refresh(struct dialog *d, const struct sipmsg *m)
{
	struct dialog f;
	struct slice target;
	int err;

	if (m->is_request ? !is_target_refresh(m->method)
			  : (m->status < 200 || m->status > 299 ||
			     !is_target_refresh(m->cseq_method)))
		return 0;
	err = hdr_uri(m, HDR_CONTACT, &target);
	if (err == -ENOENT)
		return 0;
	if (err)
		return -EBADMSG;
	if (slice_eq(target, d->remote_target))
		return 0;
	f = *d;
	f.remote_target = target;
	err = pack(d, &f);
	return err ? err : 1;
}

/* The URI of route entry @p route and whether it has ";lr". */
static int route_uri(struct slice route, struct slice *urip, bool *lrp)
{
	struct nameaddr na;
	struct sipuri u;
	struct slice v;

	if (nameaddr_parse(route, &na) != 0 || uri_parse(na.uri, &u) != 0)
		return -EBADMSG;
	*urip = na.uri;
	*lrp = uri_param(&u, "lr", &v) == 1;
	return 0;
}

int dialog_next_hop(const struct dialog *d, struct slice *urip)
{
	bool lr;

	if (d->nroute)
		return route_uri(d->route[0], urip, &lr);
	if (!d->remote_target.len)
		return -ENOENT;
	*urip = d->remote_target;
	return 0;
}

static bool needs_contact(enum sip_method m)
{
	return is_target_refresh(m);
}

int dialog_request(struct dialog *d, const struct dialog_req *r,
		   struct arena *a, struct slice *outp)
{
	struct slice route[DIALOG_MAX_ROUTES + 1], first;
	struct request_opts o;
	uint32_t cseq;
	bool lr = true, commit = false;
	unsigned n = 0;
	int err;
	char *p;

	if (r->method == SIP_METHOD_OTHER ||
	    (needs_contact(r->method) && !r->contact.len))
		return -EINVAL;
	if (!d->remote_target.len)
		return -ENOENT;
	if (r->method == SIP_ACK || r->method == SIP_CANCEL) {
		if (!d->invite_cseq_set)
			return -EINVAL;
		cseq = d->invite_cseq;
	} else {
		/* RFC 3261 §12.2.1.1: local + 1; an empty one starts at 1. */
		cseq = d->local_cseq_set ? d->local_cseq + 1 : 1;
		if (cseq >= (1u << 31))
			return -ERANGE;
		commit = true;
	}
	memset(&o, 0, sizeof(o));
	o.method = r->method;
	o.ruri = d->remote_target;
	if (d->nroute) {
		err = route_uri(d->route[0], &first, &lr);
		if (err)
			return -EINVAL;
	}
	if (d->nroute && !lr) {
		/* RFC 3261 §12.2.1.1 strict router: it becomes the
		 * Request-URI (URI headers are not allowed there, §19.1.1),
		 * the remote target the last Route. */
		long q = slice_index(first, '?');

		o.ruri = q < 0 ? first : slice_make(first.p, (size_t)q);
		for (unsigned i = 1; i < d->nroute; i++)
			route[n++] = d->route[i];
		p = arena_alloc(a, d->remote_target.len + 2);
		if (!p)
			return -ENOMEM;
		p[0] = '<';
		memcpy(p + 1, d->remote_target.p, d->remote_target.len);
		p[d->remote_target.len + 1] = '>';
		route[n++] = slice_make(p, d->remote_target.len + 2);
	} else {
		for (unsigned i = 0; i < d->nroute; i++)
			route[n++] = d->route[i];
	}
	o.route = route;
	o.nroute = n;
	o.from_uri = d->local_uri;
	o.from_tag = d->local_tag;
	o.to_uri = d->remote_uri;
	o.to_tag = d->remote_tag;
	o.call_id = d->call_id;
	o.cseq = cseq;
	o.via_transport = r->via_transport;
	o.via_host = r->via_host;
	o.via_port = r->via_port;
	o.branch = r->branch;
	o.contact = r->contact;
	o.hdrs = r->hdrs;
	o.nhdrs = r->nhdrs;
	o.content_type = r->content_type;
	o.body = r->body;
	err = request_build(&o, a, outp);
	if (err)
		return err;
	if (commit) {
		d->local_cseq = cseq;
		d->local_cseq_set = true;
		if (r->method == SIP_INVITE) {
			d->invite_cseq = cseq;
			d->invite_cseq_set = true;
		}
	}
	return 0;
}
