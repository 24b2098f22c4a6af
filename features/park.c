/* features/park.c - call park: the proxy hook that routes park's URIs to
 * the pool, the pool's steering, and the application on its workers */
#include "features/park.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "features/b2b/b2b_conf.h"
#include "features/b2b/blf.h"
#include "features/b2b/bridge.h"
#include "features/b2b/media.h"
#include "features/b2b/pool.h"
#include "features/b2b/relay.h"
#include "features/park_conf.h"
#include "features/poolroute.h"
#include "proxy/base/arena.h"
#include "proxy/base/err.h"
#include "proxy/base/hash.h"
#include "proxy/base/log.h"
#include "proxy/base/stats.h"
#include "proxy/base/timer.h"
#include "proxy/core/shard.h"
#include "proxy/route.h"
#include "proxy/sip/dialog.h"
#include "proxy/sip/hdr.h"
#include "proxy/sip/msg.h"
#include "proxy/sip/sdp.h"
#include "proxy/sip/uri.h"
#include "store/park.h"

/* The seed of the lot -> worker hash: any constant, the same in every
 * process (a later node takeover computes the same worker). */
#define STEER_SEED 0x9a4c0de5ULL

/* Longest SDP the application writes (the engine's answer). */
#define SDP_BUF 2048

static const char reason_bye[] = "SIP ;cause=200 ;text=\"BYE\"";
/* RFC 3326: why the comeback call is cancelled, why the parked call is
 * hung up when nobody took it back. */
static const char reason_noanswer[] =
    "SIP ;cause=480 ;text=\"Comeback not answered\"";
static const char reason_gave_up[] =
    "SIP ;cause=480 ;text=\"Parked call not taken back\"";

/* Counters: one row per pool worker, written by that worker only. */
enum {
	CTR_PARKED,
	CTR_RETRIEVED,
	CTR_FULL,
	CTR_EMPTY,
	CTR_REFUSED,
	CTR_TIMEOUT,
	CTR_GAVE_UP,
	CTR__COUNT,
};

static _Atomic uint64_t ctr[B2B_MAX_WORKERS][CTR__COUNT];

static const struct stats_item stats_items[] = {
	{ "parked", "calls parked in a slot", false },
	{ "retrieved", "parked calls retrieved by dialling their slot", false },
	{ "full", "calls to a park code refused: the lot was full", false },
	{ "empty", "calls to a free slot (prompt, then 480)", false },
	{ "refused", "transfers to a taken slot, refused with 486", false },
	{ "timeout", "parked calls that timed out: the parker rung back",
	  false },
	{ "gave_up", "timed-out calls nobody took back: hung up", false },
	{ "occupied", "slots taken now, every lot", true },
};

static void stats_read(void *arg, unsigned inst, uint64_t *v)
{
	(void)arg;
	(void)inst;
	for (unsigned k = 0; k < CTR__COUNT; k++) {
		v[k] = 0;
		for (unsigned w = 0; w < B2B_MAX_WORKERS; w++)
			v[k] += atomic_load_explicit(&ctr[w][k],
						     memory_order_relaxed);
	}
	v[CTR__COUNT] = park_count();
}

static const struct stats_source stats_src = {
	.module = "park",
	.items = stats_items,
	.nitems = sizeof(stats_items) / sizeof(stats_items[0]),
	.ninst = 1,
	.read = stats_read,
};

static void count(struct ua *u, unsigned k)
{
	unsigned w = shard_id(ua_shard(u)) % B2B_MAX_WORKERS;

	atomic_fetch_add_explicit(&ctr[w][k], 1, memory_order_relaxed);
}

/* What a Request-URI asks of a lot. */
enum want {
	WANT_NONE,
	WANT_PARK, /* the code */
	WANT_SLOT, /* one of the slots */
};

/* The user part of @p u as a number when it is digits only (at most
 * PARK_DIGITS_MAX), else -1. */
static long digits_of(struct slice user)
{
	long v = 0;

	if (!user.len || user.len > PARK_DIGITS_MAX)
		return -1;
	for (size_t i = 0; i < user.len; i++) {
		if (user.p[i] < '0' || user.p[i] > '9')
			return -1;
		v = v * 10 + (user.p[i] - '0');
	}
	return v;
}

/* What @p user asks of lot @p l; the slot in *slotp. */
static enum want want_of(const struct conf_park *l, struct slice user,
			 unsigned *slotp)
{
	long v = digits_of(user);

	if (v < 0)
		return WANT_NONE;
	if (slice_eq(user, slice_cstr(l->code)))
		return WANT_PARK;
	if (v >= (long)l->slot_min && v <= (long)l->slot_max) {
		*slotp = (unsigned)v;
		return WANT_SLOT;
	}
	return WANT_NONE;
}

/* The lot and what is asked of it by Request-URI @p ruri under @p c:
 * WANT_NONE unless a sip/sips URI of a served domain with park on. */
static enum want classify(const struct conf *c, struct slice ruri,
			  const struct conf_park **lp, struct sipuri *up,
			  unsigned *slotp)
{
	if (uri_parse(ruri, up) < 0 ||
	    (up->scheme != URI_SIP && up->scheme != URI_SIPS) ||
	    !up->user.len || !route_uri_is_ours(c, up))
		return WANT_NONE;
	*lp = park_conf_lot(c, up->host);
	if (!*lp)
		return WANT_NONE;
	return want_of(*lp, up->user, slotp);
}

int park_hook(struct hook_req *r)
{
	const struct conf *c = shard_conf(r->sh);
	const struct sipmsg *m = r->m;
	const struct conf_park *l = NULL;
	struct sipuri u;
	unsigned slot = 0;
	int err;

	/* Not from the pool itself: a pool whose config (kept from its
	 * start) does not know this lot relays the call back here, and
	 * that must reach the number's owner, not the pool again. */
	if (m->method != SIP_INVITE || m->to_tag.len ||
	    pool_is_source(r->from) ||
	    classify(c, m->ruri, &l, &u, &slot) == WANT_NONE ||
	    route_foreign(c, m))
		return HOOK_NEXT;
	/* No pool: the number is routed like any other. */
	err = poolroute_set(r);
	return err == -ENOMEM ? err : HOOK_NEXT;
}

int park_steer(const char *buf, size_t len, struct slice ruri, unsigned workers)
{
	struct sipuri u;

	(void)buf;
	(void)len;
	/* Without the config here (any worker, before parsing), every
	 * digits-only user part of a domain steers: harmless for the
	 * relay's calls, which run on any worker. */
	if (!workers || uri_parse(ruri, &u) < 0 || !u.host.len ||
	    digits_of(u.user) < 0)
		return -1;
	return (int)(hash_slice_case(u.host, STEER_SEED) % workers);
}

/* The application. */

enum pstate {
	PS_PROMPT,     /* a prompt, then a final (full, empty) */
	PS_PARKED,     /* in a slot, hearing music */
	PS_CALLING,    /* park.retrieve: calling `to` (c, a UAC leg) */
	PS_RETRIEVING, /* re-INVITE of the parked leg under way */
	PS_RESUMING,   /* the retriever left: re-INVITE back to our media */
	PS_BRIDGED,    /* retrieved: the two legs bridged */
};

struct pcall {
	struct pcall *prev, *next; /* the worker's list */
	struct park_state *ps;
	struct ua *u;
	enum pstate st;
	struct ua_leg *a;	  /* the parked (or prompted) leg */
	struct ua_leg *c;	  /* the retriever's leg */
	struct media_session *ms; /* the pool's media towards a */
	unsigned final;		  /* PS_PROMPT: the status after it */
	struct park_rec rec;	  /* the slot held (PS_PARKED ...) */
	bool holds;		  /* rec is claimed */
	struct pcall *retr;	  /* PS_PARKED: the retriever's call */
	struct bridge br;
	/* The comeback (issue #13): timeout_s after the park the parker
	 * is called (c, a UAC leg, as park.retrieve's), for ring_s; then
	 * the fallback, then the parked call is hung up. */
	struct timer park_t; /* timeout_s from the park */
	struct timer ring_t; /* ring_s from a comeback call */
	enum { CB_NONE, CB_PARKER, CB_FALLBACK } cb; /* who c calls */
	unsigned timeout_s, ring_s;
	char fallback[PARK_FALLBACK_MAX + 1]; /* "": none */
};

/* Per worker: its calls, freed when the worker stops. */
struct park_state {
	struct pcall *calls;
};

static void state_free(void *state)
{
	struct park_state *ps = state;

	/* The worker stops: legs and media are gone with it; the slots
	 * are released so that a restart of the pool finds them free. */
	while (ps && ps->calls) {
		struct pcall *p = ps->calls;

		ps->calls = p->next;
		timer_stop(ua_wheel(p->u), &p->park_t);
		timer_stop(ua_wheel(p->u), &p->ring_t);
		if (p->holds)
			(void)park_release(slice_cstr(p->rec.domain),
					   p->rec.slot, p->rec.holder);
		free(p);
	}
	free(ps);
}

static const struct ua_app park_app = { "park", state_free };

static struct park_state *state_of(struct ua *u)
{
	struct park_state *ps = ua_app_state(u, &park_app);

	if (ps)
		return ps;
	ps = calloc(1, sizeof(*ps));
	if (ps && ua_app_set(u, &park_app, ps)) {
		free(ps);
		ps = NULL;
	}
	return ps;
}

static struct pcall *pcall_new(struct ua *u, struct ua_leg *leg)
{
	struct park_state *ps = state_of(u);
	struct pcall *p;

	if (!ps)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->ps = ps;
	p->u = u;
	p->a = leg;
	p->next = ps->calls;
	if (ps->calls)
		ps->calls->prev = p;
	ps->calls = p;
	return p;
}

/* The BLF state a parked call of @p domain shows (its lot's
 * blf_parked_state). */
static enum blf_state parked_state(struct ua *u, struct slice domain)
{
	const struct conf_park *l =
	    park_conf_lot(shard_conf(ua_shard(u)), domain);

	return l && l->blf_early ? BLF_EARLY : BLF_CONFIRMED;
}

/* Tell BLF (features/b2b/blf.h) that @p p's slot is now @p st: the
 * slot's subscribers and the lot's hear it from this worker, the lot's
 * (park_steer() and blf_worker_of() agree). A failure costs a lamp, not
 * the call: logged. */
static void blf_tell(struct pcall *p, enum blf_state st)
{
	struct slice domain = slice_cstr(p->rec.domain);
	char slot[16];
	int n, err;

	snprintf(slot, sizeof(slot), "%u", p->rec.slot);
	err = blf_slot_changed(p->u, domain, slice_cstr(slot), st,
			       st == BLF_FREE ? slice_make(NULL, 0)
					      : slice_cstr(p->rec.parked),
			       slice_make(NULL, 0));
	n = park_list(domain, NULL, 0);
	if (err >= 0 && n >= 0)
		err = blf_lot_changed(p->u, domain, (unsigned)n);
	if (err < 0 || n < 0)
		log_msg(LOG_WARN, "park: %s slot %u: BLF not told: %s",
			p->rec.domain, p->rec.slot, err_str(err < 0 ? err : n));
}

static void slot_release(struct pcall *p, const char *why)
{
	if (!p->holds)
		return;
	timer_stop(ua_wheel(p->u), &p->park_t);
	p->holds = false;
	(void)park_release(slice_cstr(p->rec.domain), p->rec.slot,
			   p->rec.holder);
	log_msg(LOG_INFO, "park: %s slot %u freed (%s)", p->rec.domain,
		p->rec.slot, why);
	blf_tell(p, BLF_FREE);
}

/* Free @p p once it has no leg left. */
static void pcall_done(struct pcall *p)
{
	if (!p->a)
		bridge_forget(&p->br, p->br.a);
	if (!p->c)
		bridge_forget(&p->br, p->br.b);
	if (p->a || p->c)
		return;
	timer_stop(ua_wheel(p->u), &p->park_t);
	timer_stop(ua_wheel(p->u), &p->ring_t);
	media_session_close(p->ms);
	p->ms = NULL;
	slot_release(p, "call ended");
	if (p->prev)
		p->prev->next = p->next;
	else
		p->ps->calls = p->next;
	if (p->next)
		p->next->prev = p->prev;
	free(p);
}

/* The parked call of @p domain / @p slot on this worker, or NULL. */
static struct pcall *find_parked(struct park_state *ps, struct slice domain,
				 unsigned slot)
{
	for (struct pcall *p = ps->calls; p; p = p->next)
		if (p->holds && p->rec.slot == slot &&
		    slice_caseeq_cstr(domain, p->rec.domain))
			return p;
	return NULL;
}

/* Answer @p leg's offer @p body on a new media session; the answer in
 * @p buf. Returns its length, or a SIP status to reject with. */
static int media_answer(struct ua *u, struct slice body,
			struct media_session **msp, char *buf, size_t size)
{
	struct media *md = ua_media(u);
	struct media_session *ms = NULL;
	struct sdp s;
	int n;

	if (!body.len)
		return -488; /* late offer: not in this slice */
	if (!md)
		return -503;
	if (sdp_parse(&s, body.p, body.len))
		return -400;
	if (media_session_open(md, &ms))
		return -503;
	n = media_sdp_answer(ms, &s, buf, size);
	if (n < 0) {
		media_session_close(ms);
		return n == -EPROTONOSUPPORT ? -488 : -500;
	}
	*msp = ms;
	return n;
}

static void prompt_ended(struct media_session *s, void *arg)
{
	struct pcall *p = arg;

	(void)s;
	if (p->a)
		(void)ua_uas_respond(p->a, p->final, slice_make(NULL, 0),
				     slice_make(NULL, 0));
	p->a = NULL; /* a rejected leg is gone */
	pcall_done(p);
}

static void a_event(struct ua_leg *leg, const struct ua_srv_event *ev,
		    void *arg);
static void c_event(struct ua_leg *leg, const struct ua_srv_event *ev,
		    void *arg);

/* Play @p name on @p p's media session (its answer @p sdp, @p n bytes),
 * then reject its leg with @p final: the caller hears why (early media,
 * RFC 3960: 183 with the answer first). */
static void prompt_on(struct pcall *p, const char *sdp, int n, const char *name,
		      unsigned final)
{
	const struct media_sound *snd = media_sound_builtin(name);
	struct ua_leg *leg = p->a;

	if (!snd) {
		(void)ua_uas_respond(leg, final, slice_make(NULL, 0),
				     slice_make(NULL, 0));
		p->a = NULL;
		pcall_done(p);
		return;
	}
	p->st = PS_PROMPT;
	p->final = final;
	(void)ua_uas_take(leg, a_event, p, false);
	if (ua_uas_respond(leg, 183, slice_make(NULL, 0),
			   slice_make(sdp, (size_t)n)) ||
	    media_play(p->ms, &snd, 1, NULL, prompt_ended, p)) {
		ua_hangup(leg, slice_make(NULL, 0));
		p->a = NULL;
		pcall_done(p);
	}
}

/* A new call on @p leg with a media session answering its offer: the
 * call, or NULL when it was answered with an error (gone then). The
 * answer in @p sdp, its length in *np. */
static struct pcall *pcall_media(struct ua *u, struct ua_leg *leg,
				 const struct sipmsg *m, char *sdp, size_t size,
				 int *np)
{
	struct pcall *p = pcall_new(u, leg);

	if (!p) {
		(void)ua_uas_respond(leg, 500, slice_make(NULL, 0),
				     slice_make(NULL, 0));
		return NULL;
	}
	*np = media_answer(u, m->body, &p->ms, sdp, size);
	if (*np < 0) {
		(void)ua_uas_respond(leg, (unsigned)-*np, slice_make(NULL, 0),
				     slice_make(NULL, 0));
		p->a = NULL;
		pcall_done(p);
		return NULL;
	}
	return p;
}

/* Play @p name, then reject @p leg with @p final. */
static void prompt_then(struct ua *u, struct ua_leg *leg,
			const struct sipmsg *m, const char *name,
			unsigned final)
{
	char sdp[SDP_BUF];
	struct pcall *p;
	int n;

	p = pcall_media(u, leg, m, sdp, sizeof(sdp), &n);
	if (p)
		prompt_on(p, sdp, n, name, final);
}

/* Copy @p s into @p dst (@p size bytes with the NUL), cut if longer. */
static void copy_cut(char *dst, size_t size, struct slice s)
{
	size_t n = s.len < size - 1 ? s.len : size - 1;

	memcpy(dst, s.p, n);
	dst[n] = '\0';
}

static void lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/* Keep in @p p's slot record what a takeover by another node needs:
 * the parked leg's dialog as it is now (issue #13). */
static void rec_dialog(struct pcall *p)
{
	const struct dialog *d = p->a ? ua_leg_dialog(p->a) : NULL;
	size_t o = 0;

	if (!d || !p->holds)
		return;
	copy_cut(p->rec.call_id, sizeof(p->rec.call_id), d->call_id);
	copy_cut(p->rec.local_tag, sizeof(p->rec.local_tag), d->local_tag);
	copy_cut(p->rec.remote_tag, sizeof(p->rec.remote_tag), d->remote_tag);
	copy_cut(p->rec.remote_target, sizeof(p->rec.remote_target),
		 d->remote_target);
	p->rec.route[0] = '\0';
	for (unsigned i = 0; i < d->nroute; i++) {
		size_t n = d->route[i].len;

		/* A route set that does not fit is left out whole: half of
		 * one would send a takeover the wrong way. */
		if (o + n + 2 > sizeof(p->rec.route)) {
			p->rec.route[0] = '\0';
			break;
		}
		if (o)
			p->rec.route[o++] = ',';
		memcpy(p->rec.route + o, d->route[i].p, n);
		o += n;
		p->rec.route[o] = '\0';
	}
	p->rec.local_cseq = d->local_cseq_set ? d->local_cseq : 0;
	(void)park_update(&p->rec);
}

/* Copy printable ASCII of @p s into @p dst (@p size bytes with the NUL),
 * anything else as '?': it goes into logs and JSON. */
static void copy_printable(char *dst, size_t size, struct slice s)
{
	copy_cut(dst, size, s);
	for (char *q = dst; *q; q++)
		if ((unsigned char)*q < 0x20 || (unsigned char)*q > 0x7e)
			*q = '?';
}

/* The URI of name-addr header @p id of @p m into @p dst; false when it
 * has none that parses as a SIP URI. */
static bool hdr_uri(const struct sipmsg *m, enum hdr_id id, char *dst,
		    size_t size)
{
	const struct siphdr *h = sipmsg_hdr(m, id);
	struct nameaddr na;
	struct sipuri su;

	if (!h || nameaddr_parse(h->value, &na) || uri_parse(na.uri, &su) ||
	    (su.scheme != URI_SIP && su.scheme != URI_SIPS) ||
	    na.uri.len >= size)
		return false;
	copy_printable(dst, size, na.uri);
	return true;
}

static void park_timeout_cb(struct timer *t);

/* An INVITE to the code (@p want 0: the first free slot), or a
 * transferee's to slot @p want: answer, claim the slot, announce it,
 * music. */
static void do_park(struct ua *u, struct ua_leg *leg, const struct sipmsg *m,
		    const struct conf_park *l, struct slice domain,
		    unsigned want)
{
	const struct media_sound *pr[MEDIA_MAX_PROMPTS];
	const struct siphdr *from = sipmsg_hdr(m, HDR_FROM);
	char sdp[SDP_BUF], slot[16], phrase[32];
	struct pcall *p;
	unsigned n = 0;
	int len, err;

	/* The media first: an offer we cannot answer parks nothing. */
	p = pcall_media(u, leg, m, sdp, sizeof(sdp), &len);
	if (!p)
		return;
	copy_cut(p->rec.domain, sizeof(p->rec.domain), domain);
	lower(p->rec.domain);
	if (from) /* Printable ASCII only: it goes into logs and JSON. */
		copy_printable(p->rec.parked, sizeof(p->rec.parked),
			       from->value);
	/* Who parked: the transferor a transferee names (RFC 3892), else
	 * the caller itself; the timeout rings it back. */
	if (!hdr_uri(m, HDR_REFERRED_BY, p->rec.parker, sizeof(p->rec.parker)))
		(void)hdr_uri(m, HDR_FROM, p->rec.parker,
			      sizeof(p->rec.parker));
	copy_cut(p->rec.call_id, sizeof(p->rec.call_id), m->call_id);
	copy_cut(p->rec.remote_tag, sizeof(p->rec.remote_tag), m->from_tag);
	p->rec.worker = shard_id(ua_shard(u));
	err = park_claim(&p->rec, l->slot_min, l->slot_max, want);
	if (err == -EBUSY && want) {
		/* Never into a taken slot: that would bridge two callers
		 * (issue #13). The transferor's NOTIFY carries the 486. */
		count(u, CTR_REFUSED);
		log_msg(LOG_INFO,
			"park: %.*s slot %u occupied: transfer from %s "
			"refused",
			(int)domain.len, domain.p, want, p->rec.parker);
		(void)ua_uas_set_phrase(leg, 486, SLICE_LIT("Slot Occupied"));
		(void)ua_uas_respond(leg, 486, slice_make(NULL, 0),
				     slice_make(NULL, 0));
		p->a = NULL;
		pcall_done(p);
		return;
	}
	if (err == -EBUSY) {
		count(u, CTR_FULL);
		log_msg(LOG_INFO, "park: %.*s lot full (%u-%u)",
			(int)domain.len, domain.p, l->slot_min, l->slot_max);
		prompt_on(p, sdp, len, "lot-full", 486);
		return;
	}
	if (err) {
		(void)ua_uas_respond(leg, 500, slice_make(NULL, 0),
				     slice_make(NULL, 0));
		p->a = NULL;
		pcall_done(p);
		return;
	}
	p->holds = true;
	p->st = PS_PARKED;
	(void)ua_uas_take(leg, a_event, p, false);
	/* "200 Parked 701": a transferee's NOTIFY sipfrag tells the
	 * transferor the slot (RFC 3515 §2.4.5). */
	snprintf(phrase, sizeof(phrase), "Parked %u", p->rec.slot);
	(void)ua_uas_set_phrase(leg, 200, slice_cstr(phrase));
	err = ua_uas_respond(leg, 200, slice_make(NULL, 0),
			     slice_make(sdp, (size_t)len));
	if (err) {
		ua_hangup(leg, slice_make(NULL, 0));
		p->a = NULL;
		pcall_done(p);
		return;
	}
	rec_dialog(p);
	snprintf(slot, sizeof(slot), "%u", p->rec.slot);
	if (media_sound_builtin("parked-at"))
		pr[n++] = media_sound_builtin("parked-at");
	for (const char *d = slot; *d && n < MEDIA_MAX_PROMPTS; d++)
		if (media_sound_digit(*d))
			pr[n++] = media_sound_digit(*d);
	(void)media_play(p->ms, pr, n, media_sound_builtin("music"), NULL,
			 NULL);
	p->timeout_s = l->timeout_s;
	p->ring_s = l->comeback_ring_s;
	if (l->fallback)
		snprintf(p->fallback, sizeof(p->fallback), "%s", l->fallback);
	timer_start(ua_wheel(u), &p->park_t, (uint64_t)p->timeout_s * 1000,
		    park_timeout_cb);
	count(u, CTR_PARKED);
	log_msg(LOG_INFO, "park: %s slot %u parked %s by %s call-id=%s",
		p->rec.domain, p->rec.slot, p->rec.parked, p->rec.parker,
		p->rec.call_id);
	blf_tell(p, parked_state(u, domain));
}

/* Both legs gone or going: end the call. */
static void end_both(struct pcall *p)
{
	if (p->a)
		ua_hangup(p->a, slice_cstr(reason_bye));
	if (p->c)
		ua_hangup(p->c, slice_cstr(reason_bye));
	p->a = p->c = NULL;
	pcall_done(p);
}

static void on_request(struct ua_leg *leg, const struct ua_request *rq,
		       void *arg)
{
	struct pcall *p = arg;

	bridge_request(&p->br, leg, rq);
}

/* The parked party was moved to a retriever who left before the answer:
 * offer it our media again (the session kept playing), so it stays
 * parked in its slot. */
static void resume(struct pcall *p)
{
	char sdp[SDP_BUF];
	struct slice off;
	int n = media_sdp_offer(p->ms, sdp, sizeof(sdp));

	if (n < 0 || ua_offer_for(p->a, slice_make(sdp, (size_t)n), &off) ||
	    ua_reinvite(p->a, off)) {
		end_both(p);
		return;
	}
	p->st = PS_RESUMING;
	log_msg(LOG_INFO, "park: %s slot %u: retriever left, music again",
		p->rec.domain, p->rec.slot);
}

/* The answer to resume()'s offer. */
static void resumed(struct pcall *p, unsigned status, struct slice answer)
{
	struct sdp s;

	if (status < 200 || status >= 300 ||
	    sdp_parse(&s, answer.p, answer.len) ||
	    media_sdp_set_answer(p->ms, &s)) {
		end_both(p);
		return;
	}
	p->st = PS_PARKED;
	rec_dialog(p); /* our CSeq moved */
}

/* The parked leg's re-INVITE (carrying the retriever's offer) ended. */
static void retrieved(struct pcall *p, unsigned status, struct slice sdp)
{
	struct slice none = slice_make(NULL, 0), ans;

	if (!p->c) {
		/* The retriever gave up meanwhile. */
		if (status >= 200 && status < 300)
			resume(p);
		else if (status == 408 || status == 481)
			end_both(p);
		else
			p->st = PS_PARKED; /* the session is as it was */
		return;
	}
	if (status < 200 || status >= 300 || !sdp.len ||
	    ua_offer_for(p->c, sdp, &ans)) {
		/* The parked party refused: the retriever is told, the
		 * call stays parked unless its dialog is gone. */
		if (ua_leg_is_uas(p->c))
			(void)ua_uas_respond(p->c, 480, none, none);
		else
			ua_hangup(p->c, slice_cstr(reason_bye));
		p->c = NULL;
		p->st = PS_PARKED;
		if (status == 408 || status == 481) {
			end_both(p);
			return;
		}
		if (p->cb != CB_NONE) {
			/* A comeback that could not connect: the call waits
			 * another timeout_s in its slot. */
			p->cb = CB_NONE;
			timer_start(ua_wheel(p->u), &p->park_t,
				    (uint64_t)p->timeout_s * 1000,
				    park_timeout_cb);
		}
		return;
	}
	/* The parked party now talks to the retriever: the slot is free,
	 * the music stops. */
	media_session_close(p->ms);
	p->ms = NULL;
	if (ua_leg_is_uas(p->c) ? ua_uas_respond(p->c, 200, none, ans)
				: ua_ack(p->c, ans)) {
		end_both(p);
		return;
	}
	p->st = PS_BRIDGED;
	if (!ua_leg_is_uas(p->c)) {
		/* park.retrieve's leg is confirmed by our ACK. */
		p->br.a = p->a;
		p->br.b = p->c;
	}
	count(p->u, CTR_RETRIEVED);
	log_msg(LOG_INFO, "park: %s slot %u retrieved call-id=%s",
		p->rec.domain, p->rec.slot, p->rec.call_id);
	slot_release(p, "retrieved");
	ua_leg_on_request(p->a, on_request, p);
	ua_leg_on_request(p->c, on_request, p);
}

static void a_event(struct ua_leg *leg, const struct ua_srv_event *ev,
		    void *arg)
{
	struct pcall *p = arg;

	(void)leg;
	switch (ev->kind) {
	case UA_SRV_PRACK:
	case UA_SRV_ACK:
		return;
	case UA_SRV_REINVITE:
		if (p->st == PS_RETRIEVING) {
			retrieved(p, ev->status, ev->sdp);
			return;
		}
		if (p->st == PS_RESUMING) {
			resumed(p, ev->status, ev->sdp);
			return;
		}
		if (bridge_reinvited(&p->br, leg, ev->status, ev->sdp) ==
		    BRIDGE_END)
			end_both(p);
		return;
	case UA_SRV_CANCELLED:
	case UA_SRV_ENDED:
	case UA_SRV_FAILED:
		p->a = NULL;
		if (p->st == PS_PROMPT) {
			/* Hung up during the prompt: nothing to answer. */
			media_session_close(p->ms);
			p->ms = NULL;
		}
		slot_release(p, "parked party hung up");
		if (p->c)
			ua_hangup(p->c, slice_cstr(reason_bye));
		p->c = NULL;
		pcall_done(p);
		return;
	}
}

static void c_event(struct ua_leg *leg, const struct ua_srv_event *ev,
		    void *arg)
{
	struct pcall *p = arg;

	switch (ev->kind) {
	case UA_SRV_PRACK:
		return;
	case UA_SRV_ACK:
		/* Both confirmed: offers and INFO cross from now on. */
		if (p->st == PS_BRIDGED) {
			p->br.a = p->a;
			p->br.b = p->c;
		}
		return;
	case UA_SRV_REINVITE:
		if (bridge_reinvited(&p->br, leg, ev->status, ev->sdp) ==
		    BRIDGE_END)
			end_both(p);
		return;
	case UA_SRV_CANCELLED:
	case UA_SRV_ENDED:
	case UA_SRV_FAILED:
		p->c = NULL;
		if (p->st == PS_BRIDGED) {
			if (p->a)
				ua_hangup(p->a, slice_cstr(reason_bye));
			p->a = NULL;
		}
		/* PS_RETRIEVING: retrieved() sees the retriever gone. */
		pcall_done(p);
		return;
	}
}

/* An INVITE to an occupied slot: re-INVITE the parked party with the
 * retriever's offer; the answer goes back to the retriever. */
static void do_retrieve(struct ua *u, struct ua_leg *leg,
			const struct sipmsg *m, struct pcall *p)
{
	struct slice none = slice_make(NULL, 0), off;
	int err;

	if (p->st != PS_PARKED || !p->a || p->c) {
		(void)ua_uas_respond(leg, 486, none, none);
		return;
	}
	if (!m->body.len) {
		/* TODO(#13): a late-offer retriever (offer in our 200). */
		(void)ua_uas_respond(leg, 488, none, none);
		return;
	}
	err = ua_offer_for(p->a, m->body, &off);
	if (!err)
		err = ua_reinvite(p->a, off);
	if (err) {
		(void)ua_uas_respond(leg, err == -EBUSY ? 486 : 500, none,
				     none);
		return;
	}
	(void)u;
	p->st = PS_RETRIEVING;
	p->c = leg;
	(void)ua_uas_take(leg, c_event, p, false);
}

/* The host of the From URI of @p m, or empty. */
static struct slice from_host(const struct sipmsg *m)
{
	const struct siphdr *h = sipmsg_hdr(m, HDR_FROM);
	struct nameaddr na;
	struct sipuri su;

	if (!h || nameaddr_parse(h->value, &na) || uri_parse(na.uri, &su))
		return slice_make(NULL, 0);
	return su.host;
}

static const char reason_replaced[] =
    "SIP ;cause=200 ;text=\"Replaced by the transferee\"";

/* The parts of Replaces value @p v (RFC 3891 §6.1: callid;to-tag=
 * ;from-tag=): 0, or -EBADMSG. */
static int replaces_parse(struct slice v, struct slice *cidp, struct slice *top,
			  struct slice *fromp)
{
	struct slice cid = v, params = { 0 };

	for (size_t i = 0; i < v.len; i++)
		if (v.p[i] == ';') {
			cid = slice_make(v.p, i);
			params = slice_make(v.p + i, v.len - i);
			break;
		}
	cid = slice_trim(cid);
	if (!cid.len || hdr_param_find(params, "to-tag", top) != 1 ||
	    hdr_param_find(params, "from-tag", fromp) != 1 || !top->len ||
	    !fromp->len)
		return -EBADMSG;
	*cidp = cid;
	return 0;
}

/* The parked call of this worker whose parked leg is the dialog
 * @p cid / @p to_tag (ours: the pool answered) / @p from_tag (the
 * parked caller's), or NULL. */
static struct pcall *find_dialog(struct park_state *ps, struct slice cid,
				 struct slice to_tag, struct slice from_tag)
{
	for (struct pcall *p = ps ? ps->calls : NULL; p; p = p->next) {
		const struct dialog *d =
		    p->a && p->holds ? ua_leg_dialog(p->a) : NULL;

		if (d && slice_eq(d->call_id, cid) &&
		    slice_eq(d->local_tag, to_tag) &&
		    slice_eq(d->remote_tag, from_tag))
			return p;
	}
	return NULL;
}

/* An INVITE with Replaces for parked call @p p (RFC 3891: the
 * completion of an attended transfer whose consultation call parked):
 * @p leg takes the slot in the parked leg's place, which gets BYE. */
static void do_replace(struct ua *u, struct ua_leg *leg, const struct sipmsg *m,
		       struct pcall *p)
{
	const struct siphdr *from = sipmsg_hdr(m, HDR_FROM);
	struct slice none = slice_make(NULL, 0);
	struct media_session *ms = NULL;
	struct ua_leg *old = p->a;
	char sdp[SDP_BUF], phrase[32];
	int n;

	if (p->st != PS_PARKED || p->c) {
		(void)ua_uas_respond(leg, 486, none, none);
		return;
	}
	n = media_answer(u, m->body, &ms, sdp, sizeof(sdp));
	if (n < 0) {
		(void)ua_uas_respond(leg, (unsigned)-n, none, none);
		return;
	}
	(void)ua_uas_take(leg, a_event, p, false);
	snprintf(phrase, sizeof(phrase), "Parked %u", p->rec.slot);
	(void)ua_uas_set_phrase(leg, 200, slice_cstr(phrase));
	if (ua_uas_respond(leg, 200, none, slice_make(sdp, (size_t)n))) {
		ua_hangup(leg, none);
		media_session_close(ms);
		return;
	}
	/* The transferee is the parked party now; the parker's leg ends
	 * (RFC 3891 §3: the replaced dialog is terminated with BYE). */
	ua_hangup(old, slice_cstr(reason_replaced));
	media_session_close(p->ms);
	p->ms = ms;
	p->a = leg;
	(void)media_play(p->ms, NULL, 0, media_sound_builtin("music"), NULL,
			 NULL);
	if (from)
		copy_printable(p->rec.parked, sizeof(p->rec.parked),
			       from->value);
	(void)hdr_uri(m, HDR_REFERRED_BY, p->rec.parker, sizeof(p->rec.parker));
	copy_cut(p->rec.call_id, sizeof(p->rec.call_id), m->call_id);
	rec_dialog(p);
	log_msg(LOG_INFO,
		"park: %s slot %u: %s replaces the parker's call "
		"call-id=%s",
		p->rec.domain, p->rec.slot, p->rec.parked, p->rec.call_id);
	blf_tell(p, parked_state(u, slice_cstr(p->rec.domain)));
}

/* An INVITE with Replaces (RFC 3891): to the parked call it names,
 * else 481 when it was for park (the dialog is not ours), else false:
 * not park's (the relay takes it). */
static bool replaces(struct ua *u, struct ua_leg *leg, const struct sipmsg *m,
		     bool for_park)
{
	const struct siphdr *h = sipmsg_hdr(m, HDR_REPLACES);
	struct slice none = slice_make(NULL, 0), cid, to, from;
	struct pcall *p;

	if (!h)
		return false;
	if (replaces_parse(h->value, &cid, &to, &from)) {
		(void)ua_uas_respond(leg, 400, none, none);
		return true;
	}
	p = find_dialog(ua_app_state(u, &park_app), cid, to, from);
	if (p) {
		do_replace(u, leg, m, p);
		return true;
	}
	if (!for_park)
		return false;
	/* RFC 3891 §3: no dialog matches. */
	(void)ua_uas_respond(leg, 481, none, none);
	return true;
}

void park_incoming(struct ua *u, struct ua_leg *leg, const struct sipmsg *m)
{
	const struct conf *c = shard_conf(ua_shard(u));
	const struct conf_park *l = NULL;
	struct slice none = slice_make(NULL, 0);
	struct park_state *ps;
	struct pcall *p;
	struct sipuri su;
	unsigned slot = 0;

	switch (classify(c, m->ruri, &l, &su, &slot)) {
	case WANT_NONE:
		/* The transferor may have named the pool's Contact. */
		if (!replaces(u, leg, m, false))
			relay_incoming(u, leg, m);
		return;
	case WANT_PARK:
		if (!replaces(u, leg, m, true))
			do_park(u, leg, m, l, su.host, 0);
		return;
	case WANT_SLOT:
		break;
	}
	if (replaces(u, leg, m, true))
		return;
	/* A transferee sent to the slot (Referred-By, RFC 3892): it
	 * parks there, never retrieves; it may come from anywhere, as a
	 * call to the code may. */
	if (sipmsg_hdr(m, HDR_REFERRED_BY)) {
		do_park(u, leg, m, l, su.host, slot);
		return;
	}
	/* Only the lot's own domain retrieves from it. */
	if (!slice_caseeq(from_host(m), su.host)) {
		(void)ua_uas_respond(leg, 403, none, none);
		return;
	}
	ps = state_of(u);
	p = ps ? find_parked(ps, su.host, slot) : NULL;
	if (p) {
		do_retrieve(u, leg, m, p);
		return;
	}
	count(u, CTR_EMPTY);
	prompt_then(u, leg, m, "slot-empty", 480);
}

static void comeback_next(struct pcall *p);

/* Events of park.retrieve's leg to `to`, or of a comeback call (a UAC
 * leg). */
static void r_event(struct ua_leg *leg, const struct ua_event *ev, void *arg)
{
	struct pcall *p = arg;
	struct slice off;

	switch (ev->kind) {
	case UA_EV_RINGING:
		return;
	case UA_EV_ANSWERED:
		timer_stop(ua_wheel(p->u), &p->ring_t);
		/* `to` offers in its 2xx: to the parked party, whose answer
		 * goes in our ACK (retrieved()). */
		if (p->st == PS_CALLING && p->a && ev->sdp.len &&
		    !ua_offer_for(p->a, ev->sdp, &off) &&
		    !ua_reinvite(p->a, off)) {
			p->st = PS_RETRIEVING;
			if (p->cb != CB_NONE)
				log_msg(LOG_INFO,
					"park: %s slot %u: comeback answered "
					"by %s",
					p->rec.domain, p->rec.slot,
					p->cb == CB_PARKER ? p->rec.parker
							   : p->fallback);
			return;
		}
		ua_hangup(leg, slice_cstr(reason_bye));
		p->c = NULL;
		if (p->st == PS_CALLING) {
			p->st = PS_PARKED;
			if (p->cb != CB_NONE) {
				comeback_next(p);
				return;
			}
		}
		pcall_done(p);
		return;
	case UA_EV_FAILED:
		timer_stop(ua_wheel(p->u), &p->ring_t);
		p->c = NULL;
		if (p->st == PS_CALLING) {
			p->st = PS_PARKED; /* stays in its slot */
			if (p->cb != CB_NONE) {
				log_msg(LOG_INFO,
					"park: %s slot %u: comeback to %s "
					"failed: %u",
					p->rec.domain, p->rec.slot,
					p->cb == CB_PARKER ? p->rec.parker
							   : p->fallback,
					ev->status);
				comeback_next(p);
				return;
			}
		}
		pcall_done(p);
		return;
	case UA_EV_ENDED:
		p->c = NULL;
		if (p->st == PS_BRIDGED) {
			if (p->a)
				ua_hangup(p->a, slice_cstr(reason_bye));
			p->a = NULL;
		}
		pcall_done(p);
		return;
	case UA_EV_REINVITE:
		if (bridge_reinvited(&p->br, leg, ev->status, ev->sdp) ==
		    BRIDGE_END)
			end_both(p);
		return;
	}
}

/* The parked party's name for the comeback's caller ID: the display
 * name of its From, else its user part, else "?"; printable, no
 * quotes (the UA core quotes it). */
static void parked_name(const struct pcall *p, char *out, size_t size)
{
	struct slice v = slice_cstr(p->rec.parked), name = { 0 };
	struct nameaddr na;
	struct sipuri su;
	size_t o = 0;

	if (!nameaddr_parse(v, &na)) {
		name = na.display;
		if (name.len >= 2 && name.p[0] == '"' &&
		    name.p[name.len - 1] == '"')
			name = slice_make(name.p + 1, name.len - 2);
		if (!name.len && !uri_parse(na.uri, &su))
			name = su.user;
	}
	for (size_t i = 0; i < name.len && o + 1 < size; i++)
		if (name.p[i] >= 0x20 && name.p[i] <= 0x7e &&
		    name.p[i] != '"' && name.p[i] != '\\')
			out[o++] = name.p[i];
	if (!o && size > 1)
		out[o++] = '?';
	out[o] = '\0';
}

static void ring_cb(struct timer *t);

/* Call @p target back for @p p's parked party (a comeback of kind
 * @p kind): From "Parked 701: NAME" <sip:701@domain>, without SDP,
 * through the proxy as park.retrieve does; the answer's offer goes to
 * the parked party (r_event(), retrieved()). Returns 0, or ua_call()'s
 * error. */
static int comeback_call(struct pcall *p, const char *target, int kind)
{
	char from[PARK_DOMAIN_MAX + 32], disp[UA_PHRASE_MAX + 48], name[64];
	struct ua_call_opts o;
	int err;

	if (!target[0])
		return -ENOENT;
	parked_name(p, name, sizeof(name));
	snprintf(from, sizeof(from), "sip:%u@%s", p->rec.slot, p->rec.domain);
	snprintf(disp, sizeof(disp), "Parked %u: %s", p->rec.slot, name);
	memset(&o, 0, sizeof(o));
	o.target = slice_cstr(target);
	o.from = slice_cstr(from);
	o.from_display = slice_cstr(disp);
	o.fn = r_event;
	o.arg = p;
	err = ua_call(p->u, &o, &p->c);
	if (err) {
		log_msg(LOG_WARN, "park: %s slot %u: comeback to %s: %s",
			p->rec.domain, p->rec.slot, target, err_str(err));
		return err;
	}
	p->cb = kind;
	p->st = PS_CALLING;
	timer_start(ua_wheel(p->u), &p->ring_t, (uint64_t)p->ring_s * 1000,
		    ring_cb);
	log_msg(LOG_INFO, "park: %s slot %u: comeback ringing %s for %u s",
		p->rec.domain, p->rec.slot, target, p->ring_s);
	return 0;
}

/* Nobody took the parked call back: hang it up, free the slot. */
static void give_up(struct pcall *p)
{
	count(p->u, CTR_GAVE_UP);
	log_msg(LOG_INFO,
		"park: %s slot %u: nobody took the call back, "
		"hanging up call-id=%s",
		p->rec.domain, p->rec.slot, p->rec.call_id);
	p->cb = CB_NONE;
	slot_release(p, "comeback gave up");
	if (p->a)
		ua_hangup(p->a, slice_cstr(reason_gave_up));
	p->a = NULL;
	pcall_done(p);
}

/* The comeback call to the parker failed, or was not answered: the
 * fallback when there is one (and it was not the one that failed),
 * else give up. The parked party hears music all along. */
static void comeback_next(struct pcall *p)
{
	if (!p->a) {
		pcall_done(p);
		return;
	}
	if (p->cb == CB_PARKER && p->fallback[0] &&
	    !comeback_call(p, p->fallback, CB_FALLBACK))
		return;
	give_up(p);
}

static void ring_cb(struct timer *t)
{
	struct pcall *p =
	    (struct pcall *)((char *)t - offsetof(struct pcall, ring_t));

	if (p->st != PS_CALLING || !p->c)
		return;
	log_msg(LOG_INFO,
		"park: %s slot %u: comeback to %s not answered "
		"in %u s",
		p->rec.domain, p->rec.slot,
		p->cb == CB_PARKER ? p->rec.parker : p->fallback, p->ring_s);
	/* CANCEL (RFC 3261 §9.1); no callback comes for it any more. */
	ua_hangup(p->c, slice_cstr(reason_noanswer));
	p->c = NULL;
	p->st = PS_PARKED;
	comeback_next(p);
}

/* True when @p p's parker is its parked party (it dialled the code
 * itself, no Referred-By). */
static bool is_self_park(const struct pcall *p)
{
	struct nameaddr na;

	return !nameaddr_parse(slice_cstr(p->rec.parked), &na) &&
	       slice_caseeq_cstr(na.uri, p->rec.parker);
}

/* timeout_s after the park: ring the parker back. A call being
 * retrieved just then is looked at again a second later. */
static void park_timeout_cb(struct timer *t)
{
	struct pcall *p =
	    (struct pcall *)((char *)t - offsetof(struct pcall, park_t));

	if (!p->holds || !p->a)
		return;
	if (p->st != PS_PARKED || p->c) {
		timer_start(ua_wheel(p->u), &p->park_t, 1000, park_timeout_cb);
		return;
	}
	count(p->u, CTR_TIMEOUT);
	log_msg(LOG_INFO,
		"park: %s slot %u timed out after %u s: calling "
		"the parker %s",
		p->rec.domain, p->rec.slot, p->timeout_s,
		p->rec.parker[0] ? p->rec.parker : "(none)");
	p->cb = CB_PARKER;
	if (is_self_park(p)) {
		/* Nobody else to ring: calling the parked party itself
		 * would only bridge it with itself. */
		log_msg(LOG_INFO,
			"park: %s slot %u: the parker is the parked "
			"party",
			p->rec.domain, p->rec.slot);
		comeback_next(p);
		return;
	}
	if (comeback_call(p, p->rec.parker, CB_PARKER))
		comeback_next(p);
}

/* One park.retrieve on its way to the lot's worker. */
struct rjob {
	char domain[PARK_DOMAIN_MAX + 1];
	unsigned slot;
	char to[UA_URI_MAX + 1];
	park_retrieve_fn *done;
	void *arg;
};

static void retrieve_run(struct shard *sh, void *arg)
{
	struct rjob *j = arg;
	struct ua *u = sh ? ua_of(sh) : NULL;
	struct park_state *ps = u ? ua_app_state(u, &park_app) : NULL;
	struct pcall *p = NULL;
	char from[PARK_DOMAIN_MAX + 32], disp[32];
	struct ua_call_opts o;
	int err = 0;

	if (!sh || !u)
		err = -ECANCELED;
	else if (!ps || !(p = find_parked(ps, slice_cstr(j->domain), j->slot)))
		err = -ENOENT;
	else if (p->st != PS_PARKED || !p->a || p->c)
		err = -EBUSY;
	if (!err) {
		snprintf(from, sizeof(from), "sip:%u@%s", j->slot,
			 p->rec.domain);
		snprintf(disp, sizeof(disp), "\"Parked %u\"", j->slot);
		memset(&o, 0, sizeof(o));
		o.target = slice_cstr(j->to);
		o.from = slice_cstr(from);
		o.from_display = slice_cstr(disp);
		o.fn = r_event;
		o.arg = p;
		err = ua_call(u, &o, &p->c);
		if (!err) {
			p->st = PS_CALLING;
			log_msg(LOG_INFO,
				"park: %s slot %u: calling %s to retrieve",
				p->rec.domain, p->rec.slot, j->to);
		}
	}
	j->done(j->arg, err);
	free(j);
}

int park_retrieve(struct pool *p, const char *domain, unsigned slot,
		  const char *to, park_retrieve_fn *done, void *arg)
{
	unsigned n = pool_workers(p);
	struct rjob *j;
	int err;

	if (!n || !domain[0] || strlen(domain) > PARK_DOMAIN_MAX || !to[0] ||
	    strlen(to) > UA_URI_MAX)
		return -EINVAL;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	snprintf(j->domain, sizeof(j->domain), "%s", domain);
	lower(j->domain);
	snprintf(j->to, sizeof(j->to), "%s", to);
	j->slot = slot;
	j->done = done;
	j->arg = arg;
	/* The lot's worker, as park_steer() picks it. */
	err = shard_post(
	    pool_shards(p),
	    (unsigned)(hash_slice_case(slice_cstr(j->domain), STEER_SEED) % n),
	    retrieve_run, j);
	if (err)
		free(j);
	return err;
}

/* The lots BLF resolves slot and lot URIs against: park's config at
 * start, copied (the pool keeps that config, and a reload that changes
 * park is refused). Read by the proxy's shards and the pool's workers;
 * written only before they start and after they stopped. */
struct lot_copy {
	char domain[PARK_DOMAIN_MAX + 1];
	char code[PARK_DIGITS_MAX + 1];
	bool enabled;
	unsigned slot_min, slot_max;
};

static struct lot_copy *lots;
static unsigned nlots;

static enum blf_kind resolve(struct slice domain, struct slice user)
{
	struct conf_park l = {
		.enabled = true,
		.code = (char *)PARK_CODE_DEFAULT,
		.slot_min = PARK_SLOT_MIN_DEFAULT,
		.slot_max = PARK_SLOT_MAX_DEFAULT,
	};
	unsigned slot;

	for (unsigned i = 0; i < nlots; i++) {
		if (!slice_caseeq_cstr(domain, lots[i].domain))
			continue;
		if (!lots[i].enabled)
			return BLF_NONE;
		l.code = lots[i].code;
		l.slot_min = lots[i].slot_min;
		l.slot_max = lots[i].slot_max;
		break;
	}
	switch (want_of(&l, user, &slot)) {
	case WANT_PARK:
		return BLF_LOT;
	case WANT_SLOT:
		return BLF_SLOT;
	default:
		return BLF_NONE;
	}
}

int park_feature_start(const struct conf *c)
{
	const struct park_conf *pc = park_conf(c);
	int err;

	if (pc->nlots) {
		lots = calloc(pc->nlots, sizeof(*lots));
		if (!lots)
			return -ENOMEM;
	}
	nlots = pc->nlots;
	for (unsigned i = 0; i < nlots; i++) {
		const struct conf_park *l = &pc->lots[i];

		snprintf(lots[i].domain, sizeof(lots[i].domain), "%s",
			 l->domain);
		snprintf(lots[i].code, sizeof(lots[i].code), "%s", l->code);
		lots[i].enabled = l->enabled;
		lots[i].slot_min = l->slot_min;
		lots[i].slot_max = l->slot_max;
	}
	blf_set_resolve(resolve);
	err = park_init();
	if (!err)
		err = stats_add(&stats_src);
	if (err)
		park_feature_stop();
	return err;
}

void park_feature_stop(void)
{
	stats_remove(&stats_src);
	park_fini();
	blf_set_resolve(NULL);
	free(lots);
	lots = NULL;
	nlots = 0;
}
