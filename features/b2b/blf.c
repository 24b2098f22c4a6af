/* features/b2b/blf.c - BLF for park slots: RFC 4235 dialog event package,
 * RFC 6665 notifier on a pool worker */
#include "features/b2b/blf.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "proxy/base/arena.h"
#include "proxy/base/err.h"
#include "proxy/base/hash.h"
#include "proxy/base/log.h"
#include "proxy/base/obj.h"
#include "proxy/base/timer.h"
#include "proxy/core/shard.h"
#include "proxy/sip/dialog.h"
#include "proxy/sip/hdr.h"
#include "proxy/sip/msg.h"
#include "proxy/sip/request.h"
#include "proxy/sip/txn.h"
#include "proxy/sip/uri.h"

static const char doc_type[] = "application/dialog-info+xml";
/* How often expiry is checked. */
#define SWEEP_MS 1000
/* The longest Event id parameter echoed. */
#define EVENT_ID_MAX 64

/* A slot's or a lot's record: what park last said. */
struct rec {
	struct rec *next;
	char domain[BLF_DOMAIN_MAX + 1];
	char user[BLF_USER_MAX + 1];
	bool lot;
	enum blf_state state; /* slot */
	char identity[BLF_IDENTITY_MAX + 1], display[BLF_IDENTITY_MAX + 1];
	unsigned count; /* lot: blf_lot_changed() */
};

struct sub {
	struct sub *next;
	uint32_t id;
	struct dialog *dlg;
	char domain[BLF_DOMAIN_MAX + 1];
	char user[BLF_USER_MAX + 1];
	bool lot;
	char event_id[EVENT_ID_MAX + 1];
	uint32_t version;    /* the next NOTIFY's */
	uint64_t expires_ms; /* loop time */
	unsigned seen;	     /* lot: the count its last NOTIFY showed */
};

/* One worker's notifier: the ua_app state. */
struct blf {
	struct ua *u;
	struct timer_wheel *w;
	struct timer sweep;
	struct sub *subs;
	size_t nsubs;
	uint32_t next_id;
	struct rec *recs;
	size_t nrecs;
};

static blf_resolve_fn *resolver;

/* ---- Names ---- */

static bool lower(struct slice s, char *out, size_t size)
{
	if (!s.len || s.len >= size)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		char c = s.p[i];

		out[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	out[s.len] = '\0';
	return true;
}

static enum blf_kind default_resolve(struct slice domain, struct slice user)
{
	uint64_t v;

	(void)domain;
	if (slice_to_u64(user, 999, &v) || user.len != 3)
		return BLF_NONE;
	if (v == 700)
		return BLF_LOT;
	return v >= 701 && v <= 799 ? BLF_SLOT : BLF_NONE;
}

void blf_set_resolve(blf_resolve_fn *fn)
{
	resolver = fn;
}

enum blf_kind blf_resolve(struct slice domain, struct slice user)
{
	char d[BLF_DOMAIN_MAX + 1], us[BLF_USER_MAX + 1];

	if (!lower(domain, d, sizeof(d)) || !lower(user, us, sizeof(us)))
		return BLF_NONE;
	return (resolver ? resolver : default_resolve)(
	    slice_make(d, domain.len), slice_make(us, user.len));
}

unsigned blf_worker_of(struct slice domain, unsigned workers)
{
	if (workers <= 1)
		return 0;
	return (unsigned)(hash_slice_case(domain, BLF_WORKER_SEED) % workers);
}

static bool is_park_uri(struct slice ruri)
{
	char aor[SIPMSG_AOR_MAX];
	struct slice user, host;
	int n = sipmsg_aor_print(ruri, aor, sizeof(aor));

	return n > 0 &&
	       sipmsg_aor_split(slice_make(aor, (size_t)n), &user, &host) &&
	       blf_resolve(host, user) != BLF_NONE;
}

int blf_steer(const char *buf, size_t len, struct slice ruri, unsigned workers)
{
	char aor[SIPMSG_AOR_MAX];
	struct slice user, host;
	int n;

	if (len < 10 || memcmp(buf, "SUBSCRIBE ", 10))
		return -1;
	if (!is_park_uri(ruri))
		return -1;
	n = sipmsg_aor_print(ruri, aor, sizeof(aor));
	if (n <= 0 ||
	    !sipmsg_aor_split(slice_make(aor, (size_t)n), &user, &host))
		return -1;
	return (int)blf_worker_of(host, workers);
}

/* ---- The document ---- */

/* The length of the valid UTF-8 sequence at @p p (at most @p n bytes),
 * or 0. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	size_t len;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff) ||
			  cp == 0xfffe || cp == 0xffff)) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

struct out {
	char *buf;
	size_t size, len;
	bool full;
};

static void put(struct out *o, const char *p, size_t n)
{
	if (o->full || n >= o->size - o->len) {
		o->full = true;
		return;
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* @p s escaped for XML text and attribute values (XML 1.0 §2.2, §2.4). */
static void esc(struct out *o, struct slice s)
{
	const unsigned char *p = (const unsigned char *)s.p;

	for (size_t i = 0; i < s.len;) {
		unsigned char c = p[i];
		size_t n;

		switch (c) {
		case '&':
			puts_(o, "&amp;");
			break;
		case '<':
			puts_(o, "&lt;");
			break;
		case '>':
			puts_(o, "&gt;");
			break;
		case '"':
			puts_(o, "&quot;");
			break;
		case '\'':
			puts_(o, "&apos;");
			break;
		default:
			if (c < 0x20 || c == 0x7f) {
				put(o, "?", 1);
				break;
			}
			n = utf8_len(p + i, s.len - i);
			if (!n) {
				put(o, "?", 1);
				break;
			}
			put(o, s.p + i, n);
			i += n;
			continue;
		}
		i++;
	}
}

int blf_xml_print(struct slice entity, uint32_t version,
		  const struct blf_dialog *d, unsigned n, char *buf,
		  size_t size)
{
	struct out o = { buf, size, 0, size == 0 };
	char num[16];

	if (size)
		buf[0] = '\0';
	puts_(&o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n"
		  "<dialog-info xmlns=\"urn:ietf:params:xml:ns:dialog-info\" "
		  "version=\"");
	snprintf(num, sizeof(num), "%u", version);
	puts_(&o, num);
	puts_(&o, "\" state=\"full\" entity=\"");
	esc(&o, entity);
	puts_(&o, "\">\r\n");
	for (unsigned i = 0; i < n; i++) {
		puts_(&o, "<dialog id=\"");
		esc(&o, d[i].id);
		puts_(&o, "\" direction=\"recipient\">\r\n<state>");
		puts_(&o, d[i].state == BLF_EARLY ? "early" : "confirmed");
		puts_(&o, "</state>\r\n");
		if (d[i].identity.len) {
			puts_(&o, "<remote><identity");
			if (d[i].display.len) {
				puts_(&o, " display=\"");
				esc(&o, d[i].display);
				puts_(&o, "\"");
			}
			puts_(&o, ">");
			esc(&o, d[i].identity);
			puts_(&o, "</identity><target uri=\"");
			esc(&o, d[i].identity);
			puts_(&o, "\"/></remote>\r\n");
		}
		if (d[i].local.len) {
			puts_(&o, "<local><identity>");
			esc(&o, d[i].local);
			puts_(&o, "</identity><target uri=\"");
			esc(&o, d[i].local);
			puts_(&o, "\"/></local>\r\n");
		}
		puts_(&o, "</dialog>\r\n");
	}
	puts_(&o, "</dialog-info>\r\n");
	return o.full ? -ENOSPC : (int)o.len;
}

/* ---- Worker state ---- */

static void blf_free(void *state);

static const struct ua_app blf_app = { "blf", blf_free };

static void blf_free(void *state)
{
	struct blf *b = state;

	if (!b)
		return;
	timer_stop(b->w, &b->sweep);
	while (b->subs) {
		struct sub *s = b->subs;

		b->subs = s->next;
		dialog_free(s->dlg);
		free(s);
	}
	while (b->recs) {
		struct rec *r = b->recs;

		b->recs = r->next;
		free(r);
	}
	free(b);
}

static uint64_t now_ms(const struct blf *b)
{
	return uv_now(shard_loop(ua_shard(b->u)));
}

static void sweep_cb(struct timer *t);

static struct blf *blf_get(struct ua *u, bool make)
{
	struct blf *b = ua_app_state(u, &blf_app);

	if (b || !make)
		return b;
	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->u = u;
	b->w = ua_wheel(u);
	if (ua_app_set(u, &blf_app, b)) {
		free(b);
		return NULL;
	}
	timer_init(&b->sweep);
	timer_start(b->w, &b->sweep, SWEEP_MS, sweep_cb);
	return b;
}

size_t blf_subs(struct ua *u)
{
	struct blf *b = blf_get(u, false);

	return b ? b->nsubs : 0;
}

static struct rec *rec_find(struct blf *b, const char *domain, const char *user,
			    bool lot)
{
	for (struct rec *r = b->recs; r; r = r->next)
		if (r->lot == lot && !strcmp(r->domain, domain) &&
		    (lot || !strcmp(r->user, user)))
			return r;
	return NULL;
}

/* The lot's count as its subscribers see it: the greater of park's
 * count and the parked slots this worker knows. */
static unsigned lot_count(struct blf *b, const char *domain, unsigned *knownp)
{
	unsigned known = 0;
	struct rec *lr = rec_find(b, domain, "", true);

	for (struct rec *r = b->recs; r; r = r->next)
		if (!r->lot && r->state != BLF_FREE &&
		    !strcmp(r->domain, domain))
			known++;
	if (knownp)
		*knownp = known;
	return lr && lr->count > known ? lr->count : known;
}

/* The document of @p s, version s->version, into the arena. */
static int doc_of(struct blf *b, struct sub *s, struct slice *outp)
{
	struct arena *a = shard_arena(ua_shard(b->u));
	char entity[BLF_USER_MAX + BLF_DOMAIN_MAX + 8];
	struct blf_dialog *d = NULL;
	char *ids = NULL, *locals = NULL, *buf;
	unsigned n = 0, count = 0, known = 0;
	int len;

	snprintf(entity, sizeof(entity), "sip:%s@%s", s->user, s->domain);
	if (s->lot) {
		count = lot_count(b, s->domain, &known);
		s->seen = count;
	} else {
		struct rec *r = rec_find(b, s->domain, s->user, false);

		count = r && r->state != BLF_FREE ? 1 : 0;
	}
	if (count) {
		d = arena_alloc(a, count * sizeof(*d));
		ids = arena_alloc(a, (size_t)count * (BLF_USER_MAX + 16));
		locals = arena_alloc(a, (size_t)count * sizeof(entity));
		if (!d || !ids || !locals)
			return -ENOMEM;
		memset(d, 0, count * sizeof(*d));
	}
	for (struct rec *r = b->recs; r && n < count; r = r->next) {
		char *id = ids + (size_t)n * (BLF_USER_MAX + 16);
		char *loc = locals + (size_t)n * sizeof(entity);

		if (r->lot || r->state == BLF_FREE ||
		    strcmp(r->domain, s->domain) ||
		    (!s->lot && strcmp(r->user, s->user)))
			continue;
		snprintf(id, BLF_USER_MAX + 16, "park-%s", r->user);
		snprintf(loc, sizeof(entity), "sip:%s@%s", r->user, r->domain);
		d[n].id = slice_cstr(id);
		d[n].state = r->state;
		d[n].local = slice_cstr(loc);
		if (!s->lot) {
			d[n].identity = slice_cstr(r->identity);
			d[n].display = slice_cstr(r->display);
		}
		n++;
	}
	/* Calls parked elsewhere (another node): anonymous dialogs. */
	for (; n < count; n++) {
		char *id = ids + (size_t)n * (BLF_USER_MAX + 16);

		snprintf(id, BLF_USER_MAX + 16, "lot-%u", n + 1 - known);
		d[n].id = slice_cstr(id);
		d[n].state = BLF_CONFIRMED;
	}
	buf = arena_alloc(a, BLF_DOC_MAX);
	if (!buf)
		return -ENOMEM;
	len = blf_xml_print(slice_cstr(entity), s->version, d, n, buf,
			    BLF_DOC_MAX);
	if (len < 0)
		return len;
	*outp = slice_make(buf, (size_t)len);
	return 0;
}

static void sub_free(struct blf *b, struct sub *s)
{
	struct sub **pp = &b->subs;

	while (*pp && *pp != s)
		pp = &(*pp)->next;
	if (*pp)
		*pp = s->next;
	b->nsubs--;
	dialog_free(s->dlg);
	free(s);
}

static struct sub *sub_by_id(struct blf *b, uint32_t id)
{
	for (struct sub *s = b->subs; s; s = s->next)
		if (s->id == id)
			return s;
	return NULL;
}

/* RFC 6665 §4.2.2: a NOTIFY answered 481 (or 408, or none in time: the
 * subscriber is gone) ends the subscription. */
static void notify_cb(struct txn *ct, const struct sipmsg *m, unsigned status,
		      void *arg)
{
	struct blf *b = arg;
	struct sub *s;

	if (status < 200 || !(status == 481 || status == 408 || !m))
		return;
	s = sub_by_id(b, txn_tag(ct));
	if (!s)
		return;
	log_msg(LOG_INFO, "blf: subscription to sip:%s@%s ended by %u", s->user,
		s->domain, status);
	sub_free(b, s);
}

/* Send @p s its next NOTIFY: active (@p reason NULL) or terminated
 * with @p reason ("" for none). */
static int notify(struct blf *b, struct sub *s, const char *reason)
{
	char state[64], event[EVENT_ID_MAX + 16];
	struct request_hdr h[2];
	struct slice body;
	int err;

	err = doc_of(b, s, &body);
	if (err)
		return err;
	if (reason) {
		snprintf(state, sizeof(state), "terminated%s%s",
			 *reason ? ";reason=" : "", reason);
	} else {
		uint64_t now = now_ms(b);
		uint64_t left = s->expires_ms > now
				    ? (s->expires_ms - now + 999) / 1000
				    : 0;

		snprintf(state, sizeof(state), "active;expires=%llu",
			 (unsigned long long)left);
	}
	snprintf(event, sizeof(event), "dialog%s%s", *s->event_id ? ";id=" : "",
		 s->event_id);
	h[0].name = slice_cstr("Event");
	h[0].value = slice_cstr(event);
	h[1].name = slice_cstr("Subscription-State");
	h[1].value = slice_cstr(state);
	err =
	    ua_send_in_dialog(b->u, s->dlg, SIP_NOTIFY, h, 2,
			      slice_cstr(doc_type), body, s->id, notify_cb, b);
	if (!err)
		s->version++;
	else
		log_msg(LOG_WARN, "blf: NOTIFY to sip:%s@%s: %s", s->user,
			s->domain, err_str(err));
	return err;
}

static void sweep_cb(struct timer *t)
{
	struct blf *b = (struct blf *)((char *)t - offsetof(struct blf, sweep));
	uint64_t now = now_ms(b);
	struct sub *s = b->subs;

	while (s) {
		struct sub *next = s->next;

		if (s->expires_ms <= now) {
			(void)notify(b, s, "timeout");
			sub_free(b, s);
		}
		s = next;
	}
	timer_start(b->w, &b->sweep, SWEEP_MS, sweep_cb);
}

/* ---- Park's changes ---- */

static struct rec *rec_get(struct blf *b, const char *domain, const char *user,
			   bool lot)
{
	struct rec *r = rec_find(b, domain, user, lot);

	if (r)
		return r;
	if (b->nrecs >= BLF_STATES_MAX)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	snprintf(r->domain, sizeof(r->domain), "%s", domain);
	snprintf(r->user, sizeof(r->user), "%s", lot ? "" : user);
	r->lot = lot;
	r->next = b->recs;
	b->recs = r;
	b->nrecs++;
	return r;
}

static void rec_drop(struct blf *b, struct rec *r)
{
	struct rec **pp = &b->recs;

	while (*pp && *pp != r)
		pp = &(*pp)->next;
	if (*pp)
		*pp = r->next;
	b->nrecs--;
	free(r);
}

/* NOTIFY the subscriptions of @p domain's slot @p user (NULL: none) and
 * those of its lot whose count changed (all of them: @p all_lot, a
 * slot's state changed). */
static int notify_all(struct blf *b, const char *domain, const char *user,
		      bool all_lot)
{
	int sent = 0;
	unsigned count = lot_count(b, domain, NULL);

	for (struct sub *s = b->subs; s; s = s->next) {
		if (strcmp(s->domain, domain))
			continue;
		if (s->lot ? !all_lot && s->seen == count
			   : !user || strcmp(s->user, user))
			continue;
		if (!notify(b, s, NULL))
			sent++;
	}
	return sent;
}

static void cut(char *dst, size_t size, struct slice s)
{
	size_t n = s.len < size - 1 ? s.len : size - 1;

	if (n)
		memcpy(dst, s.p, n);
	dst[n] = '\0';
	/* No NUL inside: the document is built from C strings. */
	for (size_t i = 0; i < n; i++)
		if (!dst[i])
			dst[i] = '?';
}

int blf_slot_changed(struct ua *u, struct slice domain, struct slice slot,
		     enum blf_state state, struct slice identity,
		     struct slice display)
{
	char d[BLF_DOMAIN_MAX + 1], us[BLF_USER_MAX + 1];
	char id[BLF_IDENTITY_MAX + 1], disp[BLF_IDENTITY_MAX + 1];
	struct blf *b;
	struct rec *r;
	bool changed, lot_too;

	if (!u || !lower(domain, d, sizeof(d)) ||
	    !lower(slot, us, sizeof(us)) || state > BLF_EARLY)
		return -EINVAL;
	b = blf_get(u, true);
	if (!b)
		return -ENOMEM;
	r = rec_find(b, d, us, false);
	if (state == BLF_FREE) {
		if (!r)
			return 0;
		rec_drop(b, r);
		return notify_all(b, d, us, true);
	}
	/* A name-addr as a From carries it (park's record): its URI and
	 * display name (quotes off), its parameters (tag) dropped. */
	if (!display.len &&
	    memchr(identity.p ? identity.p : "", '<', identity.len)) {
		struct nameaddr na;

		if (nameaddr_parse(slice_trim(identity), &na) == 0) {
			identity = na.uri;
			display = slice_trim(na.display);
			if (display.len >= 2 && display.p[0] == '"' &&
			    display.p[display.len - 1] == '"')
				display =
				    slice_make(display.p + 1, display.len - 2);
		}
	}
	cut(id, sizeof(id), identity);
	cut(disp, sizeof(disp), display);
	if (!r) {
		r = rec_get(b, d, us, false);
		if (!r)
			return b->nrecs >= BLF_STATES_MAX ? -ENOSPC : -ENOMEM;
		r->state = BLF_FREE;
	}
	lot_too = r->state != state; /* the lot shows each slot's state */
	changed =
	    lot_too || strcmp(r->identity, id) || strcmp(r->display, disp);
	if (!changed)
		return 0;
	r->state = state;
	memcpy(r->identity, id, sizeof(id));
	memcpy(r->display, disp, sizeof(disp));
	return notify_all(b, d, us, lot_too);
}

int blf_lot_changed(struct ua *u, struct slice domain, unsigned count)
{
	char d[BLF_DOMAIN_MAX + 1];
	struct blf *b;
	struct rec *r;

	if (!u || !lower(domain, d, sizeof(d)))
		return -EINVAL;
	b = blf_get(u, true);
	if (!b)
		return -ENOMEM;
	r = rec_get(b, d, "", true);
	if (!r)
		return b->nrecs >= BLF_STATES_MAX ? -ENOSPC : -ENOMEM;
	r->count = count;
	return notify_all(b, d, NULL, false);
}

/* ---- SUBSCRIBE ---- */

struct ans {
	struct ua *u;
	struct txn *st;
	const struct peer *from;
	const struct sipmsg *m;
};

static int answer(struct ans *a, unsigned status, struct slice to_tag,
		  const char *extra)
{
	int err = ua_srv_respond(a->u, a->st, a->from, a->m, status, to_tag,
				 slice_cstr(extra), slice_make(NULL, 0),
				 slice_make(NULL, 0));

	return err ? err : POOL_UA_DONE;
}

/* Event: dialog (RFC 6665 §8.2.1: the package token; id echoed). */
static bool event_ok(const struct sipmsg *m, char *idbuf)
{
	const struct siphdr *h = sipmsg_hdr(m, HDR_EVENT);
	struct slice v, pkg, idv;
	size_t i = 0;

	*idbuf = '\0';
	if (!h)
		return false;
	v = h->value;
	while (i < v.len && v.p[i] != ';' && v.p[i] != ' ' && v.p[i] != '\t')
		i++;
	pkg = slice_make(v.p, i);
	if (!slice_caseeq_cstr(pkg, "dialog"))
		return false;
	v = slice_make(v.p + i, v.len - i);
	if (hdr_param_find(v, "id", &idv) == 1 && idv.len &&
	    idv.len <= EVENT_ID_MAX && request_is_token(idv)) {
		memcpy(idbuf, idv.p, idv.len);
		idbuf[idv.len] = '\0';
	}
	return true;
}

/* An Accept (RFC 6665 §4.1.2.1) must allow the package's type. */
static bool accept_ok(const struct sipmsg *m)
{
	const struct siphdr *h = sipmsg_hdr(m, HDR_ACCEPT);
	bool any = false;

	for (; h; h = sipmsg_hdr_next(m, h)) {
		struct slice rest = h->value, el;

		any = true;
		while (hdr_split_next(&rest, &el) > 0) {
			size_t n = 0;

			while (n < el.len && el.p[n] != ';')
				n++;
			el = slice_trim(slice_make(el.p, n));
			if (slice_caseeq_cstr(el, doc_type) ||
			    slice_caseeq_cstr(el, "application/*") ||
			    slice_caseeq_cstr(el, "*/*"))
				return true;
		}
	}
	return !any;
}

/* Expires in seconds: 0 with *vp (none: BLF_EXPIRES_MAX), or -EINVAL. */
static int expires_of(const struct sipmsg *m, uint64_t *vp)
{
	const struct siphdr *h = sipmsg_hdr(m, HDR_EXPIRES);
	uint64_t v;

	if (!h) {
		*vp = BLF_EXPIRES_MAX;
		return 0;
	}
	if (slice_to_u64(slice_trim(h->value), UINT32_MAX, &v))
		return -EINVAL;
	*vp = v;
	return 0;
}

/* Answer a SUBSCRIBE's Expires (the 423 and 400 cases); 0 when fine. */
static int expires_check(struct ans *a, uint64_t *vp, struct slice to_tag)
{
	if (expires_of(a->m, vp))
		return answer(a, 400, to_tag, "");
	if (*vp && *vp < BLF_EXPIRES_MIN) {
		char extra[64];

		snprintf(extra, sizeof(extra), "Min-Expires: %u\r\n",
			 BLF_EXPIRES_MIN);
		return answer(a, 423, to_tag, extra);
	}
	if (*vp > BLF_EXPIRES_MAX)
		*vp = BLF_EXPIRES_MAX;
	return 0;
}

/* The 2xx of a SUBSCRIBE: Expires, Contact. */
static int accept_sub(struct ans *a, struct slice to_tag, uint64_t expires)
{
	char extra[320];
	struct slice contact = ua_contact(a->u);

	snprintf(extra, sizeof(extra), "Expires: %llu\r\nContact: <%.*s>\r\n",
		 (unsigned long long)expires, (int)contact.len,
		 contact.p ? contact.p : "");
	return answer(a, 200, to_tag, extra);
}

static int subscribe_new(struct blf *b, struct ans *a)
{
	char aor[SIPMSG_AOR_MAX], faor[SIPMSG_AOR_MAX];
	char tag[REQUEST_TAG_MAX], event_id[EVENT_ID_MAX + 1];
	struct slice user, host, fuser, fhost;
	enum blf_kind kind;
	struct sub *s;
	uint64_t expires;
	int n, err;

	n = sipmsg_aor_print(a->m->ruri, aor, sizeof(aor));
	if (n <= 0 ||
	    !sipmsg_aor_split(slice_make(aor, (size_t)n), &user, &host))
		return answer(a, 404, slice_make(NULL, 0), "");
	kind = blf_resolve(host, user);
	if (kind == BLF_NONE)
		return answer(a, 404, slice_make(NULL, 0), "");
	if (!event_ok(a->m, event_id))
		return answer(a, 489, slice_make(NULL, 0),
			      "Allow-Events: dialog\r\n");
	if (!accept_ok(a->m))
		return answer(a, 406, slice_make(NULL, 0),
			      "Accept: application/dialog-info+xml\r\n");
	/* A tenant watches only its own lot (the From domain). */
	n = sipmsg_hdr_aor(a->m, HDR_FROM, faor, sizeof(faor), &fuser, &fhost);
	if (n <= 0 || !slice_caseeq(fhost, host))
		return answer(a, 403, slice_make(NULL, 0), "");
	err = expires_check(a, &expires, slice_make(NULL, 0));
	if (err)
		return err;
	if (b->nsubs >= BLF_SUBS_MAX)
		return answer(a, 503, slice_make(NULL, 0),
			      "Retry-After: 60\r\n");
	n = request_tag_make(tag, sizeof(tag));
	if (n < 0)
		return n;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	err = dialog_new_uas(a->m, slice_make(tag, (size_t)n), DIALOG_CONFIRMED,
			     false, &s->dlg);
	if (err) {
		free(s);
		if (err == -ENOMEM)
			return err;
		return answer(a, 400, slice_make(NULL, 0), "");
	}
	(void)lower(host, s->domain, sizeof(s->domain));
	(void)lower(user, s->user, sizeof(s->user));
	s->lot = kind == BLF_LOT;
	memcpy(s->event_id, event_id, sizeof(event_id));
	s->id = ++b->next_id;
	s->expires_ms = now_ms(b) + expires * 1000;
	err = accept_sub(a, slice_make(tag, (size_t)n), expires);
	if (err != POOL_UA_DONE) {
		dialog_free(s->dlg);
		free(s);
		return err;
	}
	s->next = b->subs;
	b->subs = s;
	b->nsubs++;
	/* RFC 6665 §4.2.1: a NOTIFY at once with the full state; a fetch
	 * (Expires: 0) ends with it. */
	if (!expires) {
		(void)notify(b, s, "timeout");
		sub_free(b, s);
		return POOL_UA_DONE;
	}
	(void)notify(b, s, NULL);
	return POOL_UA_DONE;
}

static struct sub *sub_of(struct blf *b, const struct sipmsg *m)
{
	for (struct sub *s = b ? b->subs : NULL; s; s = s->next)
		if (dialog_is_match(s->dlg, m))
			return s;
	return NULL;
}

static int in_dialog(struct blf *b, struct sub *s, struct ans *a)
{
	char event_id[EVENT_ID_MAX + 1];
	struct slice tag = s->dlg->local_tag;
	uint64_t expires;
	int err;

	if (dialog_check_cseq(s->dlg, a->m) == -ERANGE)
		return answer(a, 500, tag, "");
	if (a->m->method != SIP_SUBSCRIBE)
		return answer(a, 405, tag, "Allow: SUBSCRIBE\r\n");
	if (!event_ok(a->m, event_id) || strcmp(event_id, s->event_id))
		return answer(a, 489, tag, "Allow-Events: dialog\r\n");
	err = expires_check(a, &expires, tag);
	if (err)
		return err;
	(void)dialog_refresh(s->dlg, a->m);
	err = accept_sub(a, tag, expires);
	if (err != POOL_UA_DONE)
		return err;
	/* RFC 6665 §4.2.1.2, §4.2.1.4: refresh and unsubscribe get a
	 * NOTIFY; the unsubscribe's is the last. */
	if (!expires) {
		(void)notify(b, s, "");
		sub_free(b, s);
		return POOL_UA_DONE;
	}
	s->expires_ms = now_ms(b) + expires * 1000;
	(void)notify(b, s, NULL);
	return POOL_UA_DONE;
}

int blf_request(struct ua *u, const struct peer *from, const struct sipmsg *m)
{
	struct ans a = { u, NULL, from, m };
	struct blf *b;
	struct sub *s = NULL;
	int err;

	if (m->to_tag.len) {
		s = sub_of(blf_get(u, false), m);
		if (!s)
			return POOL_UA_PASS;
	} else if (m->method != SIP_SUBSCRIBE || !is_park_uri(m->ruri)) {
		return POOL_UA_PASS;
	}
	b = blf_get(u, true);
	if (!b)
		return -ENOMEM;
	err = ua_srv_txn(u, from, m, &a.st);
	if (err)
		return err;
	if (!a.st)
		return POOL_UA_DONE; /* a retransmission, answered again */
	return s ? in_dialog(b, s, &a) : subscribe_new(b, &a);
}
