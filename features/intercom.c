/* features/intercom.c - intercom and paging feature codes, auto-answer
 * markings */
#include "features/intercom.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "features/b2b/pool.h"
#include "proxy/base/arena.h"
#include "proxy/base/hex.h"
#include "proxy/route.h"
#include "proxy/core/shard.h"
#include "proxy/sip/digest.h"
#include "proxy/sip/edit.h"
#include "proxy/sip/msg.h"
#include "proxy/sip/uri.h"
#include "store/loc.h"
#include "store/rcu.h"

/* Longest user part (code + extension) that is looked at. */
#define USER_MAX 256

static const char *const profile_names[CONF_AA__COUNT] = {
	[CONF_AA_CALLINFO] = "callinfo",
	[CONF_AA_ALERT_AUTOANSWER] = "alertinfo-autoanswer",
	[CONF_AA_ALERT_ANSWERAFTER] = "alertinfo-answerafter",
	[CONF_AA_POLYCOM] = "polycom",
	[CONF_AA_URI_INTERCOM] = "uri-intercom",
	[CONF_AA_ANSWER_MODE] = "answer-mode",
};

/*
 * Vendors whose phones are known to honour one marking, after the
 * configured rules and before the domain's default (vendor manuals:
 * Polycom's Ring-Answer alert, Aastra/Mitel's alert-autoanswer, the
 * Call-Info answer-after of Grandstream, Yealink and Snom).
 */
static const struct {
	const char *pattern;
	enum conf_aa profile;
} builtin[] = {
	{ "polycom", CONF_AA_POLYCOM },
	{ "aastra", CONF_AA_ALERT_AUTOANSWER },
	{ "mitel", CONF_AA_ALERT_AUTOANSWER },
	{ "grandstream", CONF_AA_CALLINFO },
	{ "yealink", CONF_AA_CALLINFO },
	{ "snom", CONF_AA_CALLINFO },
};

/* A domain without an entry: intercom on, defaults. */
static const struct conf_intercom defaults = {
	.domain = NULL,
	.enabled = true,
	.code = (char *)"*6",
	.default_profile = CONF_AA_CALLINFO,
};

const char *intercom_profile_name(enum conf_aa p)
{
	return (unsigned)p < CONF_AA__COUNT ? profile_names[p] : "";
}

const struct conf_intercom *intercom_domain(const struct conf *c,
					    struct slice domain)
{
	if (!conf_is_domain(c, domain.p, domain.len))
		return NULL;
	for (unsigned i = 0; i < features_conf(c)->nintercom; i++) {
		const struct conf_intercom *d = &features_conf(c)->intercom[i];

		if (slice_caseeq_cstr(domain, d->domain))
			return d->enabled ? d : NULL;
	}
	return &defaults;
}

/* @p hay contains @p needle, without regard to ASCII case. */
static bool has_nocase(struct slice hay, const char *needle)
{
	size_t n = strlen(needle);

	if (n == 0)
		return true;
	for (size_t i = 0; i + n <= hay.len; i++)
		if (slice_caseeq(slice_make(hay.p + i, n),
				 slice_make(needle, n)))
			return true;
	return false;
}

enum conf_aa intercom_profile_for(const struct conf_intercom *d,
				  struct slice ua)
{
	for (unsigned i = 0; d && i < d->nprofiles; i++)
		if (has_nocase(ua, d->profiles[i].user_agent))
			return d->profiles[i].profile;
	for (size_t i = 0; ua.len && i < sizeof(builtin) / sizeof(builtin[0]);
	     i++)
		if (has_nocase(ua, builtin[i].pattern))
			return builtin[i].profile;
	return d ? d->default_profile : CONF_AA_CALLINFO;
}

/* Copy of @p s into @p a, or an empty slice with p NULL. */
static struct slice dup_slice(struct arena *a, struct slice s)
{
	char *p = arena_alloc(a, s.len ? s.len : 1);

	if (p && s.len)
		memcpy(p, s.p, s.len);
	return slice_make(p, p ? s.len : 0);
}

/* printf into @p a. */
static struct slice aprintf(struct arena *a, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static struct slice aprintf(struct arena *a, size_t cap, const char *fmt, ...)
{
	char *p = arena_alloc(a, cap);
	va_list ap;
	int n;

	if (!p)
		return slice_make(NULL, 0);
	va_start(ap, fmt);
	n = vsnprintf(p, cap, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap)
		return slice_make(NULL, 0);
	return slice_make(p, (size_t)n);
}

/* @p uri with ";intercom=true" among its parameters (before '?'). */
static struct slice with_intercom(struct arena *a, struct slice uri)
{
	static const char param[] = ";intercom=true";
	const char *q = memchr(uri.p, '?', uri.len);
	size_t at = q ? (size_t)(q - uri.p) : uri.len;
	char *p = arena_alloc(a, uri.len + sizeof(param));

	if (!p)
		return slice_make(NULL, 0);
	memcpy(p, uri.p, at);
	memcpy(p + at, param, sizeof(param) - 1);
	memcpy(p + at + sizeof(param) - 1, uri.p + at, uri.len - at);
	return slice_make(p, uri.len + sizeof(param) - 1);
}

int intercom_mark(enum conf_aa p, struct slice domain, struct slice contact,
		  struct arena *a, struct slice *hdrsp, struct slice *rurip)
{
	struct slice h = slice_make(NULL, 0), ruri = contact;

	switch (p) {
	case CONF_AA_CALLINFO:
		h = aprintf(a, domain.len + 48,
			    "Call-Info: <sip:%.*s>;answer-after=0\r\n",
			    (int)domain.len, domain.p);
		break;
	case CONF_AA_ALERT_AUTOANSWER:
		h = dup_slice(a, SLICE_LIT("Alert-Info: alert-autoanswer\r\n"));
		break;
	case CONF_AA_ALERT_ANSWERAFTER:
		h = dup_slice(a, SLICE_LIT("Alert-Info: answer-after=0\r\n"));
		break;
	case CONF_AA_POLYCOM:
		h = dup_slice(a, SLICE_LIT("Alert-Info: Ring-Answer\r\n"));
		break;
	case CONF_AA_ANSWER_MODE:
		h = dup_slice(a, SLICE_LIT("Answer-Mode: Auto\r\n"));
		break;
	case CONF_AA_URI_INTERCOM:
		ruri = with_intercom(a, contact);
		if (!ruri.p)
			return -ENOMEM;
		*hdrsp = slice_make(NULL, 0);
		*rurip = ruri;
		return 0;
	default:
		return -EINVAL;
	}
	if (!h.p)
		return -ENOMEM;
	*hdrsp = h;
	*rurip = ruri;
	return 0;
}

/* Words that ask a device to answer by itself (vendor spellings). */
static const char *const alert_words[] = {
	"autoanswer",	"auto-answer", "auto answer",
	"answer-after", "ring-answer", "intercom",
};

static bool has_any(struct slice s, const char *const *words, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (has_nocase(s, words[i]))
			return true;
	return false;
}

bool intercom_is_marking(enum hdr_id id, struct slice e)
{
	const size_t nwords = sizeof(alert_words) / sizeof(alert_words[0]);
	struct nameaddr na;
	long semi;

	switch (id) {
	case HDR_CALL_INFO:
		/* Only the parameters: a picture's URL may say anything. */
		if (nameaddr_parse(e, &na) == 0 && na.angle)
			return has_any(na.params, alert_words, nwords);
		return has_any(e, alert_words, nwords);
	case HDR_ALERT_INFO:
		return has_any(e, alert_words, nwords);
	case HDR_ANSWER_MODE:
	case HDR_PRIV_ANSWER_MODE:
		/* RFC 5373 §5: Manual is the only value that is not. */
		semi = slice_index(e, ';');
		if (semi >= 0)
			e = slice_make(e.p, (size_t)semi);
		return !slice_caseeq_cstr(slice_trim(e), "Manual");
	default:
		return false;
	}
}

/* One header: removed when all its values are markings, rewritten
 * without them when some are. */
static int clean_hdr(struct edit_list *el, const struct siphdr *h,
		     struct arena *a)
{
	enum hdr_id id = (enum hdr_id)h->id;
	struct slice rest = h->value, e, keep[32], joined;
	unsigned nkeep = 0, nmark = 0;
	int r;

	/* Bounded: each pass consumes one value. */
	while ((r = hdr_split_next(&rest, &e)) == 1) {
		if (intercom_is_marking(id, e))
			nmark++;
		else if (nkeep < sizeof(keep) / sizeof(keep[0]))
			keep[nkeep++] = e;
		else
			r = -EBADMSG;
		if (r < 0)
			break;
	}
	/* A value that cannot be split cannot be judged: it goes. */
	if (r < 0 || (nmark && !nkeep))
		return edit_del_hdr(el, h);
	if (!nmark)
		return 0;
	r = arena_join(a, keep, nkeep, SLICE_LIT(", "), &joined);
	return r ? r : edit_set_hdr(el, h, joined);
}

/* @p uri without its intercom parameter; @p uri itself if it has none. */
static int clean_ruri(struct slice uri, struct arena *a, struct slice *outp)
{
	struct slice rest, prm, v, tail;
	struct sipuri u;
	size_t o;
	char *p;

	*outp = uri;
	if (uri_parse(uri, &u) < 0 ||
	    (u.scheme != URI_SIP && u.scheme != URI_SIPS) ||
	    uri_param(&u, "intercom", &v) != 1)
		return 0;
	p = arena_alloc(a, uri.len);
	if (!p)
		return -ENOMEM;
	o = (size_t)(u.params.p - uri.p);
	memcpy(p, uri.p, o);
	rest = u.params;
	/* Bounded: each pass consumes one parameter. */
	while (rest.len) {
		long semi;

		rest = slice_make(rest.p + 1, rest.len - 1);
		semi = slice_index(rest, ';');
		prm = semi < 0 ? rest : slice_make(rest.p, (size_t)semi);
		rest = semi < 0
			   ? slice_make(NULL, 0)
			   : slice_make(rest.p + semi, rest.len - (size_t)semi);
		if (slice_caseeq_cstr(prm, "intercom") ||
		    (prm.len > 9 && slice_caseeq(slice_make(prm.p, 9),
						 SLICE_LIT("intercom="))))
			continue;
		p[o++] = ';';
		memcpy(p + o, prm.p, prm.len);
		o += prm.len;
	}
	tail =
	    slice_make(u.params.p + u.params.len,
		       (size_t)(uri.p + uri.len - (u.params.p + u.params.len)));
	memcpy(p + o, tail.p, tail.len);
	*outp = slice_make(p, o + tail.len);
	return 0;
}

int intercom_clean(struct edit_list *el, const struct sipmsg *m,
		   struct arena *a, struct slice *rurip)
{
	int err = 0;

	for (unsigned i = 0; i < m->nhdrs && !err; i++) {
		switch (m->hdrs[i].id) {
		case HDR_CALL_INFO:
		case HDR_ALERT_INFO:
		case HDR_ANSWER_MODE:
		case HDR_PRIV_ANSWER_MODE:
			err = clean_hdr(el, &m->hdrs[i], a);
			break;
		default:
			break;
		}
	}
	if (!err && rurip->len)
		err = clean_ruri(*rurip, a, rurip);
	return err;
}

/* Who may page. */

/*
 * The username of the first Digest credentials for @p realm in
 * Proxy-Authorization: the ones the HOOK_AUTH stage checked
 * (registrar/auth.c takes the first with that realm).
 */
static bool digest_user(const struct sipmsg *m, struct slice realm,
			struct slice *userp)
{
	for (const struct siphdr *h = sipmsg_hdr(m, HDR_PROXY_AUTHORIZATION); h;
	     h = sipmsg_hdr_next(m, h)) {
		struct digest_credentials cr;

		/* Another scheme, or malformed (HOOK_AUTH refused those). */
		if (digest_credentials_parse(h->value, NULL, &cr))
			continue;
		if (cr.realm.p && slice_caseeq(cr.realm, realm)) {
			if (!cr.user.len)
				return false;
			*userp = cr.user;
			return true;
		}
	}
	return false;
}

/* User and domain of the From AOR, in @p buf. */
static bool from_aor(const struct sipmsg *m, char *buf, size_t size,
		     struct slice *userp, struct slice *domp)
{
	int n = sipmsg_hdr_aor(m, HDR_FROM, buf, size, userp, domp);

	/* sipmsg_aor_print() always writes "user@host". */
	return n > 0;
}

/* The registrar's policy (intercom_set_policy()); unset: nobody pages. */
static intercom_trusted_fn *policy_trusted;
static intercom_methods_fn *policy_methods;

void intercom_set_policy(intercom_trusted_fn *trusted,
			 intercom_methods_fn *methods)
{
	policy_trusted = trusted;
	policy_methods = methods;
}

static bool may_page(const struct conf *c, const struct conf_intercom *d,
		     struct slice domain, const struct sipmsg *m,
		     const struct sockaddr *src, bool internal)
{
	char buf[SIPMSG_AOR_MAX];
	struct slice fuser, fdom, who;

	if (!from_aor(m, buf, sizeof(buf), &fuser, &fdom) ||
	    !slice_caseeq(fdom, domain))
		return false;
	if (internal || (policy_trusted && policy_trusted(c, src)))
		who = fuser;
	else if (!policy_methods || !(policy_methods(c) & (1u << m->method)) ||
		 !digest_user(m, fdom, &who))
		return false;
	if (!d->nallow)
		return true;
	for (unsigned i = 0; i < d->nallow; i++)
		if (slice_eq(who, slice_cstr(d->allow[i])))
			return true;
	return false;
}

bool intercom_may_page(const struct conf *c, const struct conf_intercom *d,
		       const struct sipmsg *m, const struct sockaddr *src)
{
	struct sipuri u;

	if (sipmsg_uri_parse(m, m->ruri, &u) < 0)
		return false;
	return may_page(c, d, d->domain ? slice_cstr(d->domain) : u.host, m,
			src, false);
}

/* Routing a page. */

struct page {
	const struct intercom_req *q;
	const struct conf_intercom *d;
	struct slice domain; /* lower case, in the arena */
	struct hook_target *t;
	unsigned nt;
	bool exists; /* some target user exists */
};

/* The bindings of @p user (unescaped) with their markings into @p pg. */
static int add_user(struct page *pg, struct slice user)
{
	char uri[USER_MAX * 3 + 300], aor[SIPMSG_AOR_MAX];
	const struct loc_set *set;
	size_t o = 4;
	int len, err = 0;

	memcpy(uri, "sip:", 4);
	for (size_t i = 0; i < user.len && i < USER_MAX; i++) {
		char ch = user.p[i];

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') ||
		    strchr("-_.!~*'()&=+$,;?/", ch)) {
			uri[o++] = ch;
			continue;
		}
		hex_escape((unsigned char)ch, uri + o);
		o += 3;
	}
	len = snprintf(uri + o, sizeof(uri) - o, "@%.*s", (int)pg->domain.len,
		       pg->domain.p);
	if (len < 0 || (size_t)len >= sizeof(uri) - o)
		return 0;
	len = sipmsg_aor_print(slice_make(uri, o + (size_t)len), aor,
			       sizeof(aor));
	if (len <= 0)
		return 0;
	if (hook_user_exists(user, pg->domain))
		pg->exists = true;
	urcu_memb_read_lock();
	set = loc_lookup_rcu(slice_make(aor, (size_t)len));
	for (unsigned i = 0; set && i < set->n && !err; i++) {
		const struct loc_contact *b = &set->c[i];
		struct hook_target *x = &pg->t[pg->nt];
		enum conf_aa prof;

		if (pg->nt == INTERCOM_MAX_TARGETS)
			break;
		if (b->expires_s && b->expires_s <= pg->q->now_s)
			continue;
		memset(x, 0, sizeof(*x));
		x->b.uri = dup_slice(pg->q->a, b->uri);
		x->b.path = dup_slice(pg->q->a, b->path);
		x->b.q = b->q;
		x->b.flow = b->flow;
		x->b.expires_s = b->expires_s;
		if (!x->b.uri.p || !x->b.path.p) {
			err = -ENOMEM;
			break;
		}
		prof = intercom_profile_for(pg->d, b->user_agent);
		err = intercom_mark(prof, pg->domain, x->b.uri, pg->q->a,
				    &x->hdrs, &x->ruri);
		if (!err)
			pg->nt++;
	}
	urcu_memb_read_unlock();
	return err;
}

static const struct conf_page_group *group_find(const struct conf_intercom *d,
						struct slice number)
{
	for (unsigned i = 0; i < d->ngroups; i++)
		if (slice_eq(number, slice_cstr(d->groups[i].number)))
			return &d->groups[i];
	return NULL;
}

static int reply(struct intercom_verdict *vp, unsigned status,
		 const char *reason)
{
	vp->status = status;
	vp->reason = reason;
	vp->fwd.nt = 0;
	return 0;
}

int intercom_decide(const struct intercom_req *q, struct intercom_verdict *vp)
{
	const struct sipmsg *m = q->m;
	const struct conf_page_group *g;
	char ubuf[USER_MAX], fbuf[SIPMSG_AOR_MAX];
	struct slice ext, fuser, fdom;
	struct page pg;
	struct sipuri u;
	size_t clen;
	char *dom;
	int len, err = 0;

	memset(vp, 0, sizeof(*vp));
	if (m->method != SIP_INVITE || m->to_tag.len ||
	    sipmsg_uri_parse(m, m->ruri, &u) < 0 ||
	    (u.scheme != URI_SIP && u.scheme != URI_SIPS) || !u.user.len ||
	    !route_uri_is_ours(q->c, &u))
		return 0;
	memset(&pg, 0, sizeof(pg));
	pg.q = q;
	pg.d = intercom_domain(q->c, u.host);
	if (!pg.d)
		return 0;
	len = uri_unescape(u.user, ubuf, sizeof(ubuf));
	clen = strlen(pg.d->code);
	if (len < (int)clen || memcmp(ubuf, pg.d->code, clen) != 0 ||
	    route_foreign(q->c, m))
		return 0;
	ext = slice_make(ubuf + clen, (size_t)len - clen);
	dom = arena_alloc(q->a, u.host.len ? u.host.len : 1);
	if (!dom)
		return -ENOMEM;
	for (size_t i = 0; i < u.host.len; i++)
		dom[i] = (char)(u.host.p[i] >= 'A' && u.host.p[i] <= 'Z'
				    ? u.host.p[i] - 'A' + 'a'
				    : u.host.p[i]);
	pg.domain = slice_make(dom, u.host.len);
	/* The ACL before anything that tells who is registered. */
	if (!may_page(q->c, pg.d, pg.domain, m, q->src, q->internal))
		return reply(vp, 403, "Paging Not Allowed");
	if (!ext.len)
		return reply(vp, 484, "Address Incomplete");
	pg.t = arena_alloc(q->a, INTERCOM_MAX_TARGETS * sizeof(*pg.t));
	if (!pg.t)
		return -ENOMEM;
	g = group_find(pg.d, ext);
	if (!g) {
		err = add_user(&pg, ext);
	} else {
		/* Everyone in the group but the caller. */
		bool have_from =
		    from_aor(m, fbuf, sizeof(fbuf), &fuser, &fdom) &&
		    slice_caseeq(fdom, pg.domain);

		for (unsigned i = 0; i < g->nmembers && !err; i++) {
			struct slice mb = slice_cstr(g->members[i]);

			if (have_from && slice_eq(mb, fuser))
				continue;
			err = add_user(&pg, mb);
		}
	}
	if (err)
		return err;
	if (!pg.nt)
		return pg.exists ? reply(vp, 480, "Temporarily Unavailable")
				 : reply(vp, 404, "Not Found");
	vp->fwd.t = pg.t;
	vp->fwd.nt = pg.nt;
	return 0;
}

int intercom_hook(struct hook_req *r)
{
	struct intercom_verdict v;
	struct intercom_req q = {
		.c = shard_conf(r->sh),
		.m = r->m,
		.src = (const struct sockaddr *)&r->from->addr,
		.internal = pool_is_source(r->from),
		.now_s = (int64_t)time(NULL),
		.a = r->a,
	};
	int err;

	err = intercom_decide(&q, &v);
	if (err)
		return err;
	if (v.status) {
		err = hook_reply(r, v.status, v.reason, slice_make(NULL, 0),
				 slice_make(NULL, 0));
		return err ? err : HOOK_DONE;
	}
	if (v.fwd.nt)
		r->fwd = v.fwd;
	return HOOK_NEXT;
}
