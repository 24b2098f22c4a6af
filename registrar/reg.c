/* registrar/reg.c - REGISTER: bindings of an AOR (RFC 3261 §10.3) */
#include "registrar/reg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "features/features_conf.h"
#include "features/gruu.h"
#include "proxy/base/arena.h"
#include "proxy/base/err.h"
#include "proxy/base/log.h"
#include "proxy/base/stats.h"
#include "proxy/base/obj.h"
#include "proxy/core/conf.h"
#include "proxy/hook.h"
#include "proxy/nat.h"
#include "proxy/nat_conf.h"
#include "proxy/pipeline.h"
#include "proxy/core/shard.h"
#include "proxy/sip/hdr.h"
#include "proxy/sip/msg.h"
#include "proxy/sip/uri.h"
#include "registrar/reg_conf.h"
#include "proxy/core/transport.h"
#include "store/loc.h"
#include "store/rcu.h"

/* Contacts one REGISTER may carry. */
#define MAX_REQ_CONTACTS (2 * REG_MAX_CONTACTS)

struct shard_state {
	struct reg_stats st;
	struct log_ratelimit rl;
};

static struct shard_state *shards;
static unsigned nshards_;
static const struct stats_source stats_src; /* below reg_stats() */

int reg_init(unsigned nshards)
{
	int err;

	if (nshards == 0)
		return -EINVAL;
	shards = calloc(nshards, sizeof(*shards));
	if (!shards)
		return -ENOMEM;
	nshards_ = nshards;
	for (unsigned i = 0; i < nshards; i++)
		shards[i].rl.burst = 5;
	err = stats_add(&stats_src);
	if (err && err != -EEXIST) {
		reg_fini();
		return err;
	}
	return 0;
}

void reg_fini(void)
{
	stats_remove(&stats_src);
	free(shards);
	shards = NULL;
	nshards_ = 0;
}

static void count(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, *p + v, __ATOMIC_RELAXED);
}

void reg_stats(struct reg_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; shards && i < nshards_; i++) {
		const struct reg_stats *s = &shards[i].st;

		out->registers +=
		    __atomic_load_n(&s->registers, __ATOMIC_RELAXED);
		out->ok += __atomic_load_n(&s->ok, __ATOMIC_RELAXED);
		out->added += __atomic_load_n(&s->added, __ATOMIC_RELAXED);
		out->refreshed +=
		    __atomic_load_n(&s->refreshed, __ATOMIC_RELAXED);
		out->removed += __atomic_load_n(&s->removed, __ATOMIC_RELAXED);
		out->rejected +=
		    __atomic_load_n(&s->rejected, __ATOMIC_RELAXED);
		out->retried += __atomic_load_n(&s->retried, __ATOMIC_RELAXED);
		out->conflicts +=
		    __atomic_load_n(&s->conflicts, __ATOMIC_RELAXED);
	}
}

/* The registry's view of these counters (proxy/base/stats.h). */
static const struct stats_item stats_items[] = {
	{ "registers", "REGISTER requests answered", false },
	{ "ok", "REGISTERs answered 200", false },
	{ "added", "bindings created", false },
	{ "refreshed", "bindings updated", false },
	{ "removed", "bindings removed by the UA", false },
	{ "rejected", "REGISTERs answered 4xx/5xx", false },
	{ "retried", "binding updates retried after another shard's", false },
	{ "conflicts", "REGISTERs answered 500: too many retries", false },
};

static void stats_read(void *arg, unsigned inst, uint64_t *v)
{
	struct reg_stats st;

	(void)arg;
	(void)inst;
	reg_stats(&st);
	v[0] = st.registers;
	v[1] = st.ok;
	v[2] = st.added;
	v[3] = st.refreshed;
	v[4] = st.removed;
	v[5] = st.rejected;
	v[6] = st.retried;
	v[7] = st.conflicts;
}

static const struct stats_source stats_src = {
	.module = "registrar",
	.items = stats_items,
	.nitems = sizeof(stats_items) / sizeof(stats_items[0]),
	.ninst = 1,
	.read = stats_read,
};

bool reg_is_ours(const struct conf *c, const struct sipmsg *m)
{
	struct sipuri u;

	if (uri_parse(m->ruri, &u) < 0 ||
	    (u.scheme != URI_SIP && u.scheme != URI_SIPS) || u.host.len == 0)
		return false;
	return conf_is_domain(c, u.host.p, u.host.len) ||
	       conf_is_listen_host(c, u.host, u.port);
}

int reg_aor(const struct sipmsg *m, char *buf, size_t size, size_t *userlenp)
{
	struct slice user;
	int n = sipmsg_hdr_aor(m, HDR_TO, buf, size, &user, NULL);

	if (n >= 0)
		*userlenp = user.len;
	return n;
}

/* One Contact value of the request. */
struct req_contact {
	struct slice uri;
	struct slice instance; /* without quotes */
	uint32_t reg_id;       /* 0: none, or ignored */
	int64_t expires_s;     /* relative, after the bounds */
	uint16_t q;
	bool ob;
};

/* What the request says, parsed once. */
struct req {
	const struct reg_req *q;
	char aor[SIPMSG_AOR_MAX];
	struct slice aor_s;
	struct req_contact c[MAX_REQ_CONTACTS];
	unsigned nc;
	bool star;
	bool outbound;	     /* outbound applied to a contact */
	struct slice path;   /* Path values joined by ',' (in the arena) */
	bool want_path;	     /* Supported: path */
	int64_t hdr_expires; /* Expires header, -1 when absent */
	bool nat;	     /* the UA is behind NAT (proxy/nat.h) */
};

/* Set *ap to a final answer; returns 0 for reg_handle() to return. */
static int answer(struct reg_answer *ap, unsigned status, const char *reason,
		  struct slice extra)
{
	ap->status = status;
	ap->reason = reason;
	ap->extra = extra;
	return 0;
}

static struct slice none(void)
{
	return slice_make(NULL, 0);
}

/* "Unsupported: a, b" CRLF for the Require tags we do not know. */
static int unsupported(const struct sipmsg *m, struct arena *a,
		       struct slice *linep)
{
	static const char head[] = "Unsupported: ";
	size_t cap = 0, o;
	char *p;

	for (const struct siphdr *h = sipmsg_hdr(m, HDR_REQUIRE); h;
	     h = sipmsg_hdr_next(m, h))
		cap += h->value.len + 2;
	*linep = none();
	if (!cap)
		return 0;
	cap += sizeof(head) + 2;
	p = arena_alloc(a, cap);
	if (!p)
		return -ENOMEM;
	memcpy(p, head, sizeof(head) - 1);
	o = sizeof(head) - 1;
	for (const struct siphdr *h = sipmsg_hdr(m, HDR_REQUIRE); h;
	     h = sipmsg_hdr_next(m, h)) {
		struct slice rest = h->value, e;

		while (hdr_split_next(&rest, &e) == 1) {
			if (slice_caseeq_cstr(e, "path") ||
			    slice_caseeq_cstr(e, "outbound"))
				continue;
			if (o > sizeof(head) - 1) {
				memcpy(p + o, ", ", 2);
				o += 2;
			}
			memcpy(p + o, e.p, e.len);
			o += e.len;
		}
	}
	if (o == sizeof(head) - 1)
		return 0;
	memcpy(p + o, "\r\n", 2);
	*linep = slice_make(p, o + 2);
	return 0;
}

/* Delta-seconds; malformed -> @p dflt, huge -> UINT32_MAX. */
static int64_t parse_expires(struct slice s, int64_t dflt)
{
	uint64_t v;
	int err;

	s = slice_trim(s);
	if (s.len >= 2 && s.p[0] == '"' && s.p[s.len - 1] == '"')
		s = slice_make(s.p + 1, s.len - 2);
	err = slice_to_u64(s, UINT32_MAX, &v);
	if (err == -ERANGE)
		return UINT32_MAX;
	return err ? dflt : (int64_t)v;
}

/* RFC 3261 §25.1 qvalue into thousandths; -1 when malformed. */
static int parse_q(struct slice s)
{
	int v, scale = 100;
	size_t i;

	if (s.len == 0 || (s.p[0] != '0' && s.p[0] != '1'))
		return -1;
	v = (s.p[0] - '0') * 1000;
	if (s.len == 1)
		return v;
	if (s.p[1] != '.' || s.len > 5)
		return -1;
	for (i = 2; i < s.len; i++, scale /= 10) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return -1;
		v += (s.p[i] - '0') * scale;
	}
	return v > 1000 ? -1 : v;
}

static struct slice unquote(struct slice s)
{
	if (s.len >= 2 && s.p[0] == '"' && s.p[s.len - 1] == '"')
		return slice_make(s.p + 1, s.len - 2);
	return s;
}

/* Every Contact value into r->c; an answer for a bad one. */
static int parse_contacts(struct req *r, struct reg_answer *ap)
{
	const struct sipmsg *m = r->q->m;
	const struct conf *c = r->q->c;
	unsigned all = 0;

	for (const struct siphdr *h = sipmsg_hdr(m, HDR_CONTACT); h;
	     h = sipmsg_hdr_next(m, h)) {
		struct slice rest = h->value, e, v;
		struct nameaddr na;
		struct sipuri u;
		int ret;

		while ((ret = hdr_split_next(&rest, &e)) == 1) {
			struct req_contact *x;
			int64_t exp = r->hdr_expires;
			int qv;

			all++;
			if (slice_eq(e, SLICE_LIT("*"))) {
				r->star = true;
				continue;
			}
			if (r->nc == MAX_REQ_CONTACTS)
				return answer(ap, 403, "Too Many Contacts",
					      none());
			if (nameaddr_parse(e, &na) < 0 ||
			    uri_parse(na.uri, &u) < 0)
				return answer(ap, 400, "Malformed Contact",
					      none());
			x = &r->c[r->nc++];
			memset(x, 0, sizeof(*x));
			x->uri = na.uri;
			x->q = 1000;
			if (hdr_param_find(na.params, "expires", &v) == 1)
				exp = parse_expires(
				    v, reg_conf(c)->default_expires_s);
			if (exp < 0)
				exp = reg_conf(c)->default_expires_s;
			x->expires_s = exp;
			if (hdr_param_find(na.params, "q", &v) == 1) {
				qv = parse_q(v);
				if (qv < 0)
					return answer(ap, 400,
						      "Malformed q-value",
						      none());
				x->q = (uint16_t)qv;
			}
			if (hdr_param_find(na.params, "+sip.instance", &v) == 1)
				x->instance = unquote(v);
			if (hdr_param_find(na.params, "reg-id", &v) == 1) {
				uint64_t id;

				if (slice_to_u64(v, INT32_MAX, &id) < 0 ||
				    id == 0)
					return answer(ap, 400,
						      "Malformed reg-id",
						      none());
				x->reg_id = (uint32_t)id;
			}
			x->ob = uri_param(&u, "ob", &v) == 1;
		}
		if (ret < 0)
			return answer(ap, 400, "Malformed Contact", none());
	}
	/* RFC 3261 §10.3 step 6: "*" alone, with Expires: 0. */
	if (r->star && (all != 1 || r->hdr_expires != 0))
		return answer(ap, 400, "Invalid Contact *", none());
	return 0;
}

/* Number of via-parms in all Via headers (stops at 2). */
static unsigned via_count(const struct sipmsg *m)
{
	unsigned n = 0;

	for (const struct siphdr *h = sipmsg_hdr(m, HDR_VIA); h && n < 2;
	     h = sipmsg_hdr_next(m, h)) {
		struct slice rest = h->value, e;

		while (n < 2 && hdr_split_next(&rest, &e) == 1)
			n++;
	}
	return n;
}

/* Path values joined with ',' into r->path; *first_obp: the first
 * Path URI has ;ob. */
static int collect_path(struct req *r, bool *first_obp)
{
	const struct sipmsg *m = r->q->m;
	size_t cap = 0, o = 0;
	bool first = true;
	char *p;

	*first_obp = false;
	for (const struct siphdr *h = sipmsg_hdr(m, HDR_PATH); h;
	     h = sipmsg_hdr_next(m, h))
		cap += h->value.len + 1;
	r->path = none();
	if (!cap)
		return 0;
	p = arena_alloc(r->q->a, cap);
	if (!p)
		return -ENOMEM;
	for (const struct siphdr *h = sipmsg_hdr(m, HDR_PATH); h;
	     h = sipmsg_hdr_next(m, h)) {
		struct slice rest = h->value, e, v;

		while (hdr_split_next(&rest, &e) == 1) {
			if (first) {
				struct nameaddr na;
				struct sipuri u;

				*first_obp = nameaddr_parse(e, &na) == 0 &&
					     uri_parse(na.uri, &u) == 0 &&
					     uri_param(&u, "ob", &v) == 1;
				first = false;
			}
			if (o) {
				p[o++] = ',';
			}
			memcpy(p + o, e.p, e.len);
			o += e.len;
		}
	}
	r->path = slice_make(p, o);
	return 0;
}

/*
 * RFC 5626 §6: which reg-ids count, and 439 when the UA asks for
 * outbound through a first hop that cannot do it.
 */
static int apply_outbound(struct req *r, struct reg_answer *ap)
{
	const struct sipmsg *m = r->q->m;
	bool asks = sipmsg_hdr_has_tag(m, HDR_SUPPORTED, "outbound") ||
		    sipmsg_hdr_has_tag(m, HDR_REQUIRE, "outbound");
	bool first_ob = false, any = false;
	unsigned live = 0;
	int err;

	err = collect_path(r, &first_ob);
	if (err)
		return err;
	for (unsigned i = 0; i < r->nc; i++) {
		struct req_contact *x = &r->c[i];

		/* A reg-id without an instance, or without the option
		 * tag, is ignored. */
		if (x->reg_id && (!x->instance.len || !asks))
			x->reg_id = 0;
		if (x->reg_id)
			any = true;
		if (x->expires_s)
			live++;
	}
	if (!any)
		return 0;
	/* One flow per registration (RFC 5626 §6). */
	if (live > 1)
		return answer(ap, 400, "Multiple Contacts With reg-id", none());
	/* We are the first hop when the UA's Via is the only one;
	 * otherwise the edge proxy must have said ;ob in its Path. */
	if (via_count(m) > 1 && !first_ob)
		return answer(ap, 439, "First Hop Lacks Outbound Support",
			      none());
	r->outbound = true;
	return 0;
}

/* RFC 3261 §19.1.4, simplified: scheme, user, password, port, headers
 * exact; host and parameters without regard to case. */
static bool uri_same(struct slice a, struct slice b)
{
	struct sipuri x, y;

	if (uri_parse(a, &x) < 0 || uri_parse(b, &y) < 0)
		return slice_eq(a, b);
	if (x.scheme != y.scheme || x.scheme == URI_OTHER ||
	    x.scheme == URI_TEL)
		return slice_caseeq(a, b);
	return slice_eq(x.user, y.user) && slice_eq(x.password, y.password) &&
	       slice_caseeq(x.host, y.host) && x.port == y.port &&
	       slice_caseeq(x.params, y.params) &&
	       slice_eq(x.headers, y.headers);
}

/* The binding of @p cur that request contact @p x names, or -1. */
static int find_binding(const struct loc_contact *cur, unsigned n,
			const struct req_contact *x)
{
	for (unsigned i = 0; i < n; i++) {
		if (x->instance.len) {
			if (slice_eq(cur[i].instance, x->instance) &&
			    cur[i].reg_id == x->reg_id)
				return (int)i;
		} else if (!cur[i].instance.len &&
			   uri_same(cur[i].uri, x->uri)) {
			return (int)i;
		}
	}
	return -1;
}

/* "Date: Sat, 13 Nov 2010 23:29:00 GMT" CRLF (RFC 3261 §20.17). */
static int date_line(int64_t now_s, char *buf, size_t size)
{
	time_t t = (time_t)now_s;
	struct tm tm;

	if (!gmtime_r(&t, &tm))
		return -EINVAL;
	return (int)strftime(buf, size, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n",
			     &tm);
}

/* "0.5" style: thousandths without trailing zeros; "1" for 1000. */
static void q_str(unsigned q, char buf[8])
{
	unsigned o = 0;

	if (q >= 1000) {
		memcpy(buf, "1", 2);
		return;
	}
	buf[o++] = '0';
	buf[o++] = '.';
	buf[o++] = (char)('0' + q / 100);
	buf[o++] = (char)('0' + q / 10 % 10);
	buf[o++] = (char)('0' + q % 10);
	while (o > 3 && buf[o - 1] == '0')
		o--;
	buf[o] = '\0';
}

/* The 200: every live binding, Date, Path, Require: outbound. */
static int ok_answer(const struct req *r, const struct loc_contact *v,
		     unsigned n, struct reg_answer *ap)
{
	const struct reg_req *q = r->q;
	size_t cap = 256 + r->path.len, o = 0;
	/* RFC 5627 §5.1: GRUUs for a UA that supports them. */
	bool gruu = features_conf(q->c)->gruu &&
		    sipmsg_hdr_has_tag(q->m, HDR_SUPPORTED, "gruu");
	char *p, qs[8];
	int k;

	for (unsigned i = 0; i < n; i++)
		cap += v[i].uri.len + v[i].instance.len + 96 +
		       (gruu && v[i].instance.len
			    ? gruu_params_len(r->aor_s, v[i].instance)
			    : 0);
	p = arena_alloc(q->a, cap);
	if (!p)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		int64_t left = v[i].expires_s - q->now_s;

		k = snprintf(p + o, cap - o, "Contact: <%.*s>;expires=%" PRId64,
			     (int)v[i].uri.len, v[i].uri.p,
			     left > 0 ? left : 0);
		o += (size_t)k;
		if (v[i].q != 1000) {
			q_str(v[i].q, qs);
			o += (size_t)snprintf(p + o, cap - o, ";q=%s", qs);
		}
		if (v[i].instance.len)
			o += (size_t)snprintf(
			    p + o, cap - o, ";+sip.instance=\"%.*s\"",
			    (int)v[i].instance.len, v[i].instance.p);
		if (v[i].reg_id)
			o += (size_t)snprintf(p + o, cap - o,
					      ";reg-id=%" PRIu32, v[i].reg_id);
		k = gruu && v[i].instance.len
			? gruu_contact_params(gruu_key_get(), r->aor_s,
					      v[i].instance, v[i].call_id,
					      p + o, cap - o)
			: 0;
		if (k > 0)
			o += (size_t)k;
		memcpy(p + o, "\r\n", 2);
		o += 2;
	}
	k = date_line(q->now_s, p + o, cap - o);
	if (k > 0)
		o += (size_t)k;
	/* RFC 3327 §5.3: Path goes back to a UA that supports it. */
	if (r->path.len && r->want_path)
		o += (size_t)snprintf(p + o, cap - o, "Path: %.*s\r\n",
				      (int)r->path.len, r->path.p);
	o += (size_t)snprintf(p + o, cap - o, "Supported: path, outbound\r\n");
	if (r->outbound)
		o += (size_t)snprintf(p + o, cap - o, "Require: outbound\r\n");
	return answer(ap, 200, "OK", slice_make(p, o));
}

/* The binding for request contact @p x, as stored. */
static void fill_binding(const struct req *r, const struct req_contact *x,
			 struct loc_contact *b)
{
	const struct reg_req *q = r->q;
	const struct siphdr *ua = sipmsg_hdr(q->m, HDR_USER_AGENT);

	memset(b, 0, sizeof(*b));
	b->uri = x->uri;
	b->path = r->path;
	b->instance = x->instance;
	b->reg_id = x->reg_id;
	b->call_id = q->m->call_id;
	b->cseq = q->m->cseq;
	b->user_agent = ua ? ua->value : none();
	b->expires_s = q->now_s + x->expires_s;
	b->q = x->q;
	b->flags = (x->ob ? LOC_OB : 0) | (r->nat ? LOC_NAT : 0);
	b->flow.proto = (int)q->from->proto;
	memcpy(&b->flow.addr, &q->from->addr, sizeof(b->flow.addr));
	b->flow.conn_id = q->from->conn_id;
	b->flow.listen_idx = q->from->listen_idx;
}

/* RFC 3261 §10.3 step 7: same Call-ID, CSeq not higher: abort. */
static bool out_of_order(const struct reg_req *q, const struct loc_contact *b)
{
	return slice_eq(b->call_id, q->m->call_id) && q->m->cseq <= b->cseq;
}

/* Apply the request to the live bindings @p v (*np of them, room for
 * REG_MAX_CONTACTS + MAX_REQ_CONTACTS); an answer when it fails. */
static int update(struct req *r, struct loc_contact *v, unsigned *np,
		  unsigned counts[3], struct reg_answer *ap)
{
	const struct reg_req *q = r->q;
	unsigned n = *np, added = 0, refreshed = 0, removed = 0;

	if (r->star) {
		for (unsigned i = 0; i < n; i++)
			if (out_of_order(q, &v[i]))
				return answer(ap, 500, "Out of Order CSeq",
					      none());
		removed = n;
		n = 0;
	}
	for (unsigned i = 0; i < r->nc; i++) {
		const struct req_contact *x = &r->c[i];
		int k = find_binding(v, n, x);

		if (k >= 0 && out_of_order(q, &v[k]))
			return answer(ap, 500, "Out of Order CSeq", none());
		if (x->expires_s == 0) {
			if (k >= 0) {
				v[k] = v[--n];
				removed++;
			}
			continue;
		}
		if (k >= 0) {
			fill_binding(r, x, &v[k]);
			refreshed++;
		} else {
			fill_binding(r, x, &v[n++]);
			added++;
		}
	}
	if (n > REG_MAX_CONTACTS)
		return answer(ap, 403, "Too Many Contacts", none());
	counts[0] = added;
	counts[1] = refreshed;
	counts[2] = removed;
	*np = n;
	return 0;
}

/* Expiry bounds of every contact: 423, or lowered to the maximum. */
static int bound_expires(struct req *r, struct reg_answer *ap)
{
	const struct conf *c = r->q->c;
	char *line;

	for (unsigned i = 0; i < r->nc; i++) {
		struct req_contact *x = &r->c[i];

		if (x->expires_s &&
		    x->expires_s < (int64_t)reg_conf(c)->min_expires_s) {
			line = arena_alloc(r->q->a, 32);
			if (!line)
				return -ENOMEM;
			snprintf(line, 32, "Min-Expires: %u\r\n",
				 reg_conf(c)->min_expires_s);
			return answer(ap, 423, "Interval Too Brief",
				      slice_cstr(line));
		}
		if (x->expires_s > (int64_t)reg_conf(c)->max_expires_s)
			x->expires_s = reg_conf(c)->max_expires_s;
	}
	return 0;
}

static int handle(const struct reg_req *q, struct req *r, struct shard_state *s,
		  struct reg_answer *ap)
{
	const struct sipmsg *m = q->m;
	const struct conf *c = q->c;
	const struct loc_set *old = NULL;
	struct loc_contact *v = NULL;
	const struct siphdr *eh;
	struct slice line;
	size_t ulen;
	unsigned n = 0;
	int err, len;

	/* Step 2: extensions the registrar must understand. */
	err = unsupported(m, q->a, &line);
	if (err)
		return err;
	if (line.len)
		return answer(ap, 420, "Bad Extension", line);
	/* Step 5: the AOR, in a domain we serve. */
	len = reg_aor(m, r->aor, sizeof(r->aor), &ulen);
	if (len == -ENOENT)
		return answer(ap, 404, "Not Found", none());
	if (len < 0)
		return answer(ap, 400, "Invalid To URI", none());
	r->aor_s = slice_make(r->aor, (size_t)len);
	if (!conf_is_domain(c, r->aor + ulen + 1, (size_t)len - ulen - 1))
		return answer(ap, 404, "Not Found", none());
	eh = sipmsg_hdr(m, HDR_EXPIRES);
	r->hdr_expires =
	    eh ? parse_expires(eh->value, reg_conf(c)->default_expires_s) : -1;
	r->want_path = sipmsg_hdr_has_tag(m, HDR_SUPPORTED, "path");
	ap->status = 0;
	err = parse_contacts(r, ap);
	if (err || ap->status)
		return err;
	err = apply_outbound(r, ap);
	if (err || ap->status)
		return err;
	err = bound_expires(r, ap);
	if (err || ap->status)
		return err;
	/* fix_nated_register: behind NAT, the binding is reached at the
	 * address its REGISTER came from; the URI stays as sent. A Path
	 * names the proxy that reaches it instead. */
	r->nat = nat_conf(c)->detect && !r->path.len &&
		 nat_detect(nat_conf(c), m, q->from) != 0;
	ap->nat = r->nat;
	v = arena_alloc(q->a,
			(REG_MAX_CONTACTS + MAX_REQ_CONTACTS + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	/*
	 * Read, apply, compare-and-swap: any shard may write any AOR (the
	 * REGISTER is handled where it arrives), so another may publish
	 * between our read and our write; then read its set and apply the
	 * request again on top (store/loc.h loc_publish_cas()).
	 */
	for (unsigned tries = 0;; tries++) {
		unsigned counts[3] = { 0, 0, 0 }, before;

		/* The current bindings; a reference keeps them while we
		 * work, and names the set the swap expects. */
		n = 0;
		urcu_memb_read_lock();
		old = loc_lookup_rcu(r->aor_s);
		if (old && !obj_tryget((void *)old))
			old = NULL;
		urcu_memb_read_unlock();
		for (unsigned i = 0; old && i < old->n && n < REG_MAX_CONTACTS;
		     i++)
			if (old->c[i].expires_s > q->now_s)
				v[n++] = old->c[i];
		/* Without Contact: a query (step 6), nothing changes. */
		if (!r->nc && !r->star)
			break;
		before = n;
		err = update(r, v, &n, counts, ap);
		if (err || ap->status)
			goto out;
		if (!n && !before && !old)
			break;
		err = loc_publish_cas(r->aor_s, old, v, n);
		if (err == 0) {
			count(&s->st.added, counts[0]);
			count(&s->st.refreshed, counts[1]);
			count(&s->st.removed, counts[2]);
			break;
		}
		if (err != -EAGAIN)
			goto out;
		obj_put((void *)old);
		old = NULL;
		count(&s->st.retried, 1);
		if (tries + 1 >= LOC_CAS_TRIES) {
			count(&s->st.conflicts, 1);
			if (log_ratelimit_ok(&s->rl))
				log_msg(LOG_ERR,
					"registrar: %.*s: changed by others "
					"%u times while this REGISTER applied",
					len, r->aor, LOC_CAS_TRIES);
			return answer(ap, 500, "Concurrent Updates", none());
		}
	}
	err = ok_answer(r, v, n, ap);
out:
	obj_put((void *)old);
	return err;
}

int reg_handle(const struct reg_req *q, struct reg_answer *ap)
{
	struct shard_state *s;
	struct req *r;
	int err;

	*ap = (struct reg_answer){ 0, NULL, { NULL, 0 }, false };
	if (q->m->method != SIP_REGISTER || !reg_is_ours(q->c, q->m))
		return 0;
	s = &shards[q->shard < nshards_ ? q->shard : 0];
	r = arena_alloc(q->a, sizeof(*r));
	if (!r)
		return -ENOMEM;
	memset(r, 0, sizeof(*r));
	r->q = q;
	err = handle(q, r, s, ap);
	if (err)
		return err;
	count(&s->st.registers, 1);
	count(ap->status == 200 ? &s->st.ok : &s->st.rejected, 1);
	return 0;
}

/* Keep-alives for the NAT'd bindings REGISTER r->m just made or
 * refreshed (proxy/nat.h): those of its Call-ID on its flow. */
static void track_nat(struct hook_req *r)
{
	struct nat *n = pipeline_nat(r->sh);
	struct slice uris[REG_MAX_CONTACTS];
	const struct loc_set *set;
	char aor[SIPMSG_AOR_MAX];
	unsigned nu = 0;
	size_t ulen;
	int len, err;

	len = reg_aor(r->m, aor, sizeof(aor), &ulen);
	if (!n || len <= 0)
		return;
	urcu_memb_read_lock();
	set = loc_lookup_rcu(slice_make(aor, (size_t)len));
	for (unsigned i = 0; set && i < set->n && nu < REG_MAX_CONTACTS; i++) {
		const struct loc_contact *c = &set->c[i];

		if ((c->flags & LOC_NAT) &&
		    slice_eq(c->call_id, r->m->call_id) &&
		    c->cseq == r->m->cseq) {
			char *p = arena_alloc(r->a, c->uri.len);

			if (!p)
				break;
			memcpy(p, c->uri.p, c->uri.len);
			uris[nu++] = slice_make(p, c->uri.len);
		}
	}
	urcu_memb_read_unlock();
	/* Outside the read section: the table is not needed any more. */
	for (unsigned i = 0; i < nu; i++) {
		err = nat_track(n, slice_make(aor, (size_t)len), uris[i],
				r->from);
		if (err)
			log_msg(LOG_WARN, "registrar: %.*s: no keep-alives: %s",
				len, aor, err_str(err));
	}
}

int reg_hook(struct hook_req *r)
{
	const struct conf *c = shard_conf(r->sh);
	struct reg_answer ans;
	struct reg_req q = {
		.c = c,
		.m = r->m,
		.from = r->from,
		.shard = shard_id(r->sh),
		.nshards = c->workers,
		.now_s = (int64_t)time(NULL),
		.a = r->a,
	};
	int err;

	err = reg_handle(&q, &ans);
	if (err)
		return err;
	if (!ans.status)
		return HOOK_NEXT;
	if (ans.status == 200 && ans.nat)
		track_nat(r);
	if (ans.status == 403 || ans.status == 404 || ans.status == 480)
		hook_log_refusal(r, ans.status, ans.reason);
	err = hook_reply(r, ans.status, ans.reason, ans.extra,
			 slice_make(NULL, 0));
	return err ? err : HOOK_DONE;
}
