/* features/park.c - call park: the proxy hook that routes park's URIs to
 * the pool, the pool's steering, and the application on its workers */
#include "features/park.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
#include "proxy/dtmf.h"
#include "proxy/route.h"
#include "proxy/sip/dialog.h"
#include "proxy/sip/hdr.h"
#include "proxy/sip/msg.h"
#include "proxy/sip/rel.h"
#include "proxy/sip/sdp.h"
#include "proxy/sip/uri.h"
#include "store/dlg.h"
#include "store/park.h"
#include "store/rcu.h"

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
	CTR_REPLACE_REFUSED,
	CTR_DTMF,
	CTR_TAKEOVERS,
	CTR_TAKEOVER_FAILURES,
	CTR__COUNT,
};

static _Atomic uint64_t ctr[B2B_MAX_WORKERS][CTR__COUNT];
/* The proxy shards' count of *7 seen: one row per shard, apart from
 * the pool's (a shard id may equal a worker's). */
static _Atomic uint64_t dtmf_ctr[CONF_MAX_WORKERS];

static const struct stats_item stats_items[] = {
	{ "parked", "calls parked in a slot", false },
	{ "retrieved", "parked calls retrieved by dialling their slot", false },
	{ "full", "calls to a park code refused: the lot was full", false },
	{ "empty", "calls to a free slot (prompt, then 480)", false },
	{ "refused", "transfers to a taken slot, refused with 486", false },
	{ "timeout", "parked calls that timed out: the parker rung back",
	  false },
	{ "gave_up", "timed-out calls nobody took back: hung up", false },
	{ "replace_refused",
	  "INVITEs with Replaces (park.park, *7) the party refused", false },
	{ "dtmf",
	  "*7 seen in a proxied call (INFO or RFC 4733 event): a park asked",
	  false },
	{ "takeovers",
	  "parked calls of a dead node taken over: re-INVITEd, music again",
	  false },
	{ "takeover_failures",
	  "takeovers whose re-INVITE failed (error, 481, no 2xx in 32 s): "
	  "the slot released",
	  false },
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
	for (unsigned s = 0; s < CONF_MAX_WORKERS; s++)
		v[CTR_DTMF] +=
		    atomic_load_explicit(&dtmf_ctr[s], memory_order_relaxed);
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
	enum want w;
	int err;

	if (m->method != SIP_INVITE || m->to_tag.len ||
	    (w = classify(c, m->ruri, &l, &u, &slot)) == WANT_NONE ||
	    route_foreign(c, m))
		return HOOK_NEXT;
	/* A slot another node holds (store.type redis): to that node's
	 * pool, which holds the call (the record says where; looked up
	 * in the park thread's copy, no Redis round trip here). From
	 * our own pool too: park.retrieve of such a slot originates a
	 * call to it (proxy/mgmt/rpc_park.c). */
	if (w == WANT_SLOT) {
		char pool[PARK_POOL_MAX + 1];

		if (park_route_of(u.host, slot, pool, sizeof(pool)) == 0) {
			err = poolroute_set_uri(r, pool);
			return err == -ENOMEM ? err : HOOK_NEXT;
		}
	}
	/* Not from the pool itself: a pool whose config (kept from its
	 * start) does not know this lot relays the call back here, and
	 * that must reach the number's owner, not the pool again. */
	if (pool_is_source(r->from))
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
	PS_REPLACING,  /* park_dialog(): our INVITE with Replaces (a, a
			  UAC leg) waits for its final */
	PS_TAKING,     /* node takeover: our re-INVITE of a leg rebuilt
			  from a dead node's record waits for its final */
};

struct pjob;

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
	struct pjob *job; /* PS_REPLACING: park_dialog()'s request */
	/* The retriever sent no offer: the parked leg's re-INVITE went
	 * without one, its 2xx waits for the answer in c's ACK. */
	bool late;
	const char *prompt; /* PS_PROMPT, late: the sound's name */
};

/* Per worker: its calls, freed when the worker stops. */
struct park_state {
	struct pcall *calls;
};

static void job_done(struct pjob *j, int err, unsigned status,
		     const struct pcall *p);

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
		/* park.park waits for its answer: the pool stops. */
		if (p->job)
			job_done(p->job, -ECANCELED, 0, NULL);
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

static struct pcall *pcall_offer(struct ua *u, struct ua_leg *leg, char *sdp,
				 size_t size, int *np);

/* A prompt for a caller without an SDP offer can be played only when
 * our offer goes in a reliable 183 (RFC 3262 §5: the answer comes in
 * the PRACK): the caller supports 100rel and the pool may use it. */
static bool late_prompt_ok(struct ua *u, const struct sipmsg *m)
{
	const struct siphdr *h = sipmsg_hdr(m, HDR_FROM);
	struct slice host = slice_make(NULL, 0);
	struct nameaddr na;
	struct sipuri su;

	if (h && !nameaddr_parse(h->value, &na) && !uri_parse(na.uri, &su))
		host = su.host;
	return (rel_has_tag(m, HDR_SUPPORTED) || rel_has_tag(m, HDR_REQUIRE)) &&
	       b2b_100rel_for(shard_conf(ua_shard(u)), host) != B2B_100REL_NO;
}

/* prompt_on() for late call @p p (pcall_offer()): our offer @p sdp
 * (@p n bytes) in a reliable 183; the prompt starts with the PRACK's
 * answer (late_prompt()). */
static void prompt_offer(struct pcall *p, const char *sdp, int n,
			 const char *name, unsigned final)
{
	struct ua_leg *leg = p->a;

	p->st = PS_PROMPT;
	p->final = final;
	p->prompt = name;
	(void)ua_uas_take(leg, a_event, p, true);
	if (ua_uas_respond(leg, 183, slice_make(NULL, 0),
			   slice_make(sdp, (size_t)n))) {
		ua_hangup(leg, slice_make(NULL, 0));
		p->a = NULL;
		pcall_done(p);
	}
}

/* The PRACK of prompt_offer()'s 183 with the answer @p sdp: play. */
static void late_prompt(struct pcall *p, struct slice sdp)
{
	const struct media_sound *snd = media_sound_builtin(p->prompt);
	struct sdp s;

	p->late = false;
	if (!snd || !sdp.len || sdp_parse(&s, sdp.p, sdp.len) ||
	    media_sdp_set_answer(p->ms, &s) ||
	    media_play(p->ms, &snd, 1, NULL, prompt_ended, p)) {
		(void)ua_uas_respond(p->a, snd ? 488 : p->final,
				     slice_make(NULL, 0), slice_make(NULL, 0));
		p->a = NULL;
		pcall_done(p);
	}
}

/* Play @p name, then reject @p leg with @p final. Without an offer in
 * @p m, ours goes in a reliable 183 when the caller can take one, else
 * 488 (no prompt without media). */
static void prompt_then(struct ua *u, struct ua_leg *leg,
			const struct sipmsg *m, const char *name,
			unsigned final)
{
	char sdp[SDP_BUF];
	struct pcall *p;
	int n;

	if (!m->body.len && late_prompt_ok(u, m)) {
		p = pcall_offer(u, leg, sdp, sizeof(sdp), &n);
		if (p)
			prompt_offer(p, sdp, n, name, final);
		return;
	}
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

/* The rest a takeover needs (issue #13): the leg's From and To URIs and
 * the o= line of the last SDP we sent in it (RFC 3264 §8: the survivor's
 * offer continues that session). A leg without an SDP of ours leaves
 * sdp_o empty: its slot would be released, not taken over. */
static void rec_takeover_fields(struct pcall *p, const struct dialog *d)
{
	struct slice l = ua_leg_local_sdp(p->a);
	struct sdp s;

	copy_cut(p->rec.local_uri, sizeof(p->rec.local_uri), d->local_uri);
	copy_cut(p->rec.remote_uri, sizeof(p->rec.remote_uri), d->remote_uri);
	p->rec.sdp_o[0] = '\0';
	if (l.len && !sdp_parse(&s, l.p, l.len))
		snprintf(p->rec.sdp_o, sizeof(p->rec.sdp_o),
			 "%.*s %.*s %.*s %.*s %.*s %.*s", (int)s.o_user.len,
			 s.o_user.p, (int)s.o_sess_id.len, s.o_sess_id.p,
			 (int)s.o_version.len, s.o_version.p,
			 (int)s.o_nettype.len, s.o_nettype.p,
			 (int)s.o_addrtype.len, s.o_addrtype.p,
			 (int)s.o_addr.len, s.o_addr.p);
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
	rec_takeover_fields(p, d);
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
static const struct media_sound *lot_music(const char *domain);
static const struct media_sound *lot_announce(const char *domain);
static void text_parker(struct pcall *p, const char *target, const char *route,
			const char *who);

/* An INVITE to the code (@p want 0: the first free slot), or a
 * transferee's to slot @p want: answer, claim the slot, announce it,
 * music. */
/* "Your call is parked at" and the slot's digits, then the music. */
static void announce(struct pcall *p)
{
	const struct media_sound *pr[MEDIA_MAX_PROMPTS];
	char slot[16];
	unsigned n = 0;

	snprintf(slot, sizeof(slot), "%u", p->rec.slot);
	if (lot_announce(p->rec.domain))
		pr[n++] = lot_announce(p->rec.domain);
	for (const char *d = slot; *d && n < MEDIA_MAX_PROMPTS; d++)
		if (media_sound_digit(*d))
			pr[n++] = media_sound_digit(*d);
	(void)media_play(p->ms, pr, n, lot_music(p->rec.domain), NULL, NULL);
}

/* A new call on @p leg without an SDP offer (late offer, RFC 3261
 * §13.2.1): a media session and its offer for our 200 in @p sdp, its
 * length in *np; or NULL, the leg answered with an error. */
static struct pcall *pcall_offer(struct ua *u, struct ua_leg *leg, char *sdp,
				 size_t size, int *np)
{
	struct pcall *p = pcall_new(u, leg);

	*np = -EIO;
	if (p && ua_media(u) && !media_session_open(ua_media(u), &p->ms))
		*np = media_sdp_offer(p->ms, sdp, size);
	if (!p || *np < 0) {
		(void)ua_uas_respond(leg, p ? 503 : 500, slice_make(NULL, 0),
				     slice_make(NULL, 0));
		if (p) {
			p->a = NULL;
			pcall_done(p);
		}
		return NULL;
	}
	p->late = true;
	return p;
}

static void end_both(struct pcall *p);

/* The ACK of a late-offer park (its answer @p sdp): the words and the
 * music start; without a usable answer the call ends. */
static void late_parked(struct pcall *p, struct slice sdp)
{
	struct sdp s;

	p->late = false;
	if (!sdp.len || sdp_parse(&s, sdp.p, sdp.len) ||
	    media_sdp_set_answer(p->ms, &s)) {
		log_msg(LOG_INFO,
			"park: %s slot %u: no usable answer in the ACK, "
			"hanging up call-id=%s",
			p->rec.domain, p->rec.slot, p->rec.call_id);
		end_both(p);
		return;
	}
	announce(p);
}

static void do_park(struct ua *u, struct ua_leg *leg, const struct sipmsg *m,
		    const struct conf_park *l, struct slice domain,
		    unsigned want)
{
	const struct siphdr *from = sipmsg_hdr(m, HDR_FROM);
	char sdp[SDP_BUF], phrase[32];
	struct pcall *p;
	int len, err;

	/* The media first: an offer we cannot answer parks nothing; no
	 * offer at all gets ours in the 200 (late offer). */
	if (m->body.len)
		p = pcall_media(u, leg, m, sdp, sizeof(sdp), &len);
	else
		p = pcall_offer(u, leg, sdp, sizeof(sdp), &len);
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
		if (!p->late) {
			prompt_on(p, sdp, len, "lot-full", 486);
			return;
		}
		if (late_prompt_ok(u, m)) {
			prompt_offer(p, sdp, len, "lot-full", 486);
			return;
		}
		/* Our offer could go only in a reliable 183: no prompt. */
		(void)ua_uas_respond(leg, 486, slice_make(NULL, 0),
				     slice_make(NULL, 0));
		p->a = NULL;
		pcall_done(p);
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
	/* A blind transfer's transferor learns the slot from its NOTIFY,
	 * and by a MESSAGE to its address of record (the proxy finds its
	 * phones), as the issue asks: "if it accepts MESSAGE". */
	if (sipmsg_hdr(m, HDR_REFERRED_BY))
		text_parker(p, p->rec.parker, "", p->rec.parker);
	/* A late offer: the words wait for the answer in the ACK. */
	if (!p->late)
		announce(p);
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

/* A late retrieval's 2xx from the parked party (its offer @p sdp) that
 * nobody takes: the retriever left, or the offer could not be relayed.
 * The pool answers it from a new media session and plays the music
 * again; without an answer, the ACK has none and the call ends. */
static void late_keep(struct pcall *p, struct slice sdp)
{
	struct media_session *ms = NULL;
	char ans[SDP_BUF];
	int n = sdp.len ? media_answer(p->u, sdp, &ms, ans, sizeof(ans)) : -1;

	if (n < 0 || ua_reinvite_ack(p->a, slice_make(ans, (size_t)n))) {
		media_session_close(ms);
		(void)ua_reinvite_ack(p->a, slice_make(NULL, 0));
		end_both(p);
		return;
	}
	media_session_close(p->ms);
	p->ms = ms;
	(void)media_play(p->ms, NULL, 0, lot_music(p->rec.domain), NULL, NULL);
	p->st = PS_PARKED;
	rec_dialog(p); /* our CSeq moved */
}

/* The late retriever's ACK (its answer @p sdp): the parked party's
 * 2xx is ACKed with it. Returns false when the call cannot go on. */
static bool late_acked(struct pcall *p, struct slice sdp)
{
	struct slice ans;

	p->late = false;
	if (!p->a)
		return false;
	if (!sdp.len || ua_offer_for(p->a, sdp, &ans)) {
		(void)ua_reinvite_ack(p->a, slice_make(NULL, 0));
		return false;
	}
	return ua_reinvite_ack(p->a, ans) == 0;
}

/* The parked leg's re-INVITE (carrying the retriever's offer; for a
 * late retriever none, and its 2xx carries the parked party's offer)
 * ended. */
static void retrieved(struct pcall *p, unsigned status, struct slice sdp)
{
	struct slice none = slice_make(NULL, 0), ans;

	if (p->late && (status < 200 || status >= 300))
		p->late = false; /* nothing to ACK: the session is as it was */
	if (p->late && (!p->c || !sdp.len || ua_offer_for(p->c, sdp, &ans))) {
		/* Nobody to give the offer to: the pool keeps the call. */
		p->late = false;
		if (p->c)
			(void)ua_uas_respond(p->c, 480, none, none);
		p->c = NULL;
		late_keep(p, sdp);
		return;
	}
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
		if (p->late && p->st == PS_PROMPT)
			late_prompt(p, ev->sdp);
		return;
	case UA_SRV_ACK:
		if (p->late && p->st == PS_PARKED)
			late_parked(p, ev->sdp);
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
		if (p->late && !late_acked(p, ev->sdp)) {
			end_both(p);
			return;
		}
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
		/* Late offer (RFC 3725 flow style): the parked party's
		 * fresh offer goes in our 200, the answer in its ACK. */
		err = ua_reinvite_offerless(p->a);
		if (!err)
			p->late = true;
	} else {
		err = ua_offer_for(p->a, m->body, &off);
		if (!err)
			err = ua_reinvite(p->a, off);
	}
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
	(void)media_play(p->ms, NULL, 0, lot_music(p->rec.domain), NULL, NULL);
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

static void replace_failed(struct pcall *p, int err, unsigned status,
			   const char *why);

static void ring_cb(struct timer *t)
{
	struct pcall *p =
	    (struct pcall *)((char *)t - offsetof(struct pcall, ring_t));

	if (p->st == PS_REPLACING && p->a) {
		/* The party neither took nor refused our INVITE with
		 * Replaces: CANCEL it (RFC 3261 §9.1). */
		ua_hangup(p->a, slice_cstr(reason_noanswer));
		p->a = NULL;
		replace_failed(p, -ETIMEDOUT, 487, "not answered in time");
		return;
	}
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
		snprintf(disp, sizeof(disp), "Parked %u", j->slot);
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

/* park_dialog(): park.park and *7 (issue #13). */

/* How long the party may take to answer our INVITE with Replaces (a
 * UA that accepts Replaces answers at once, RFC 3891 §3). */
#define REPLACE_WAIT_MS 10000

/* One park_dialog() on its way to the lot's worker; then the pcall's
 * until the INVITE with Replaces has its final. */
struct pjob {
	char domain[PARK_DOMAIN_MAX + 1];
	unsigned slot;
	bool tell;
	char call_id[PARK_CALL_ID_MAX + 1];
	char tag[PARK_TAG_MAX + 1];	    /* the party's own tag */
	char peer_tag[PARK_TAG_MAX + 1];    /* the parker's */
	char target[UA_URI_MAX + 1];	    /* the party's Contact */
	char route[PARK_ROUTE_MAX + 1];	    /* from the proxy to it */
	char parked[PARK_IDENTITY_MAX - 1]; /* room for "<>" in the record */
	char parker[PARK_IDENTITY_MAX + 1];
	char parker_target[UA_URI_MAX + 1];
	char parker_route[PARK_ROUTE_MAX + 1];
	park_dialog_fn *done;
	void *arg;
};

static _Atomic(struct pool *) the_pool;

/* Held by remote_watch() from reading the_pool to its post, and by
 * park_set_pool(): once the pool is unset, the park thread (Redis) no
 * longer posts to it, so pool_stop() may free it. */
static pthread_mutex_t pool_lk = PTHREAD_MUTEX_INITIALIZER;

static park_takeover_fn take_cb;
static park_lost_fn lost_cb;

void park_set_pool(struct pool *p)
{
	pthread_mutex_lock(&pool_lk);
	atomic_store_explicit(&the_pool, p, memory_order_release);
	/* Dead nodes' calls are taken over while a pool runs here. */
	park_set_takeover(p ? take_cb : NULL, p ? lost_cb : NULL, NULL);
	pthread_mutex_unlock(&pool_lk);
}

static void job_done(struct pjob *j, int err, unsigned status,
		     const struct pcall *p)
{
	if (j->done)
		j->done(j->arg, err, status, j->domain, p ? p->rec.slot : 0,
			j->parked, j->parker);
	free(j);
}

static const char reason_refused[] =
    "SIP ;cause=488 ;text=\"No usable answer\"";

/* The INVITE with Replaces of @p p failed (its leg is gone): the slot
 * is freed, the asker told; the call is as it was. */
static void replace_failed(struct pcall *p, int err, unsigned status,
			   const char *why)
{
	struct pjob *j = p->job;

	timer_stop(ua_wheel(p->u), &p->ring_t);
	p->job = NULL;
	count(p->u, CTR_REPLACE_REFUSED);
	log_msg(LOG_INFO,
		"park: %s slot %u: %s did not take the INVITE with "
		"Replaces (%u, %s) call-id=%s",
		p->rec.domain, p->rec.slot, j ? j->parked : "?", status, why,
		j ? j->call_id : "?");
	slot_release(p, "the party was not parked");
	if (j)
		job_done(j, err, status, p);
	p->a = NULL;
	pcall_done(p);
}

/* The parker learns the slot by a MESSAGE (RFC 3428) "Parked 701" from
 * the slot's URI to @p target (Route @p route when not empty), @p who
 * for the log. Fire and forget: a parker that does not take MESSAGE
 * misses only the text. */
static void text_parker(struct pcall *p, const char *target, const char *route,
			const char *who)
{
	char from[PARK_DOMAIN_MAX + 32], disp[32], text[32];
	struct request_hdr h;
	struct ua_out_opts o;
	int err;

	snprintf(from, sizeof(from), "sip:%u@%s", p->rec.slot, p->rec.domain);
	snprintf(disp, sizeof(disp), "Parked %u", p->rec.slot);
	snprintf(text, sizeof(text), "Parked %u", p->rec.slot);
	memset(&o, 0, sizeof(o));
	o.method = SIP_MESSAGE;
	o.target = slice_cstr(target);
	o.from = slice_cstr(from);
	o.from_display = slice_cstr(disp);
	if (route[0]) {
		h.name = SLICE_LIT("Route");
		h.value = slice_cstr(route);
		o.hdrs = &h;
		o.nhdrs = 1;
	}
	o.content_type = SLICE_LIT("text/plain");
	o.body = slice_cstr(text);
	err = ua_send_out(p->u, &o);
	if (err)
		log_msg(LOG_WARN, "park: %s slot %u: MESSAGE to %s: %s",
			p->rec.domain, p->rec.slot, who, err_str(err));
	else
		log_msg(LOG_INFO, "park: %s slot %u: told the parker %s",
			p->rec.domain, p->rec.slot, who);
}

/* *7: the MESSAGE goes to the Contact the parker has in the call, along
 * its route set; its call meanwhile ends with the party's BYE. */
static void tell_parker(struct pcall *p, const struct pjob *j)
{
	if (j->parker_target[0])
		text_parker(p, j->parker_target, j->parker_route, j->parker);
}

/* The party took the INVITE with Replaces (2xx, its answer @p sdp):
 * ACK, music, the slot's timer, BLF; the asker and the parker told. */
static void replaced(struct pcall *p, struct ua_leg *leg, struct slice sdp)
{
	struct pjob *j = p->job;
	struct sdp s;

	timer_stop(ua_wheel(p->u), &p->ring_t);
	if (!sdp.len || sdp_parse(&s, sdp.p, sdp.len) ||
	    media_sdp_set_answer(p->ms, &s)) {
		ua_hangup(leg, slice_cstr(reason_refused));
		replace_failed(p, -EPROTO, 488, "no usable SDP answer");
		return;
	}
	if (ua_ack(leg, slice_make(NULL, 0))) {
		ua_hangup(leg, slice_make(NULL, 0));
		replace_failed(p, -EIO, 500, "the ACK could not be sent");
		return;
	}
	p->job = NULL;
	p->st = PS_PARKED;
	rec_dialog(p);
	/* Music only: the party did not ask to be parked; the parker is
	 * the one to learn the slot. */
	(void)media_play(p->ms, NULL, 0, lot_music(p->rec.domain), NULL, NULL);
	timer_start(ua_wheel(p->u), &p->park_t, (uint64_t)p->timeout_s * 1000,
		    park_timeout_cb);
	count(p->u, CTR_PARKED);
	log_msg(LOG_INFO,
		"park: %s slot %u parked %s by %s call-id=%s (INVITE with "
		"Replaces for call-id=%s)",
		p->rec.domain, p->rec.slot, p->rec.parked, p->rec.parker,
		p->rec.call_id, j->call_id);
	blf_tell(p, parked_state(p->u, slice_cstr(p->rec.domain)));
	if (j->tell)
		tell_parker(p, j);
	job_done(j, 0, 200, p);
}

/* Events of a leg park_dialog() started: first the INVITE with
 * Replaces, then, parked, what the UAS legs of park get (a_event()). */
static void z_event(struct ua_leg *leg, const struct ua_event *ev, void *arg)
{
	struct pcall *p = arg;
	struct ua_srv_event se;

	switch (ev->kind) {
	case UA_EV_RINGING:
		return;
	case UA_EV_ANSWERED:
		if (p->st == PS_REPLACING) {
			replaced(p, leg, ev->sdp);
			return;
		}
		(void)ua_ack(leg, slice_make(NULL, 0));
		return;
	case UA_EV_FAILED:
		if (p->st == PS_REPLACING) {
			p->a = NULL;
			replace_failed(
			    p, ev->status == 408 ? -ETIMEDOUT : -ECONNREFUSED,
			    ev->status, "refused");
			return;
		}
		memset(&se, 0, sizeof(se));
		se.kind = UA_SRV_FAILED;
		a_event(leg, &se, p);
		return;
	case UA_EV_ENDED:
		memset(&se, 0, sizeof(se));
		se.kind = UA_SRV_ENDED;
		a_event(leg, &se, p);
		return;
	case UA_EV_REINVITE:
		memset(&se, 0, sizeof(se));
		se.kind = UA_SRV_REINVITE;
		se.status = ev->status;
		se.sdp = ev->sdp;
		a_event(leg, &se, p);
		return;
	}
}

/* The start of park_dialog() on the lot's worker: claim, offer, send. */
static void dialog_run(struct shard *sh, void *arg)
{
	struct pjob *j = arg;
	struct ua *u = sh ? ua_of(sh) : NULL;
	const struct conf_park *l;
	struct request_hdr h[3];
	struct ua_call_opts o;
	char sdp[SDP_BUF], from[PARK_DOMAIN_MAX + 32], disp[32];
	char rep[PARK_CALL_ID_MAX + 2 * PARK_TAG_MAX + 32];
	struct pcall *p;
	unsigned nh = 0;
	int n, err;

	if (!u) {
		job_done(j, -ECANCELED, 0, NULL);
		return;
	}
	l = park_conf_lot(shard_conf(sh), slice_cstr(j->domain));
	if (!l) {
		job_done(j, -ENOPROTOOPT, 0, NULL);
		return;
	}
	if (j->slot && (j->slot < l->slot_min || j->slot > l->slot_max)) {
		job_done(j, -ERANGE, 0, NULL);
		return;
	}
	p = pcall_new(u, NULL);
	if (!p) {
		job_done(j, -ENOMEM, 0, NULL);
		return;
	}
	n = -EIO;
	if (ua_media(u) && !media_session_open(ua_media(u), &p->ms))
		n = media_sdp_offer(p->ms, sdp, sizeof(sdp));
	if (n < 0) {
		job_done(j, n, 0, NULL);
		pcall_done(p);
		return;
	}
	snprintf(p->rec.domain, sizeof(p->rec.domain), "%s", j->domain);
	snprintf(p->rec.parked, sizeof(p->rec.parked), "<%s>", j->parked);
	snprintf(p->rec.parker, sizeof(p->rec.parker), "%s", j->parker);
	snprintf(p->rec.call_id, sizeof(p->rec.call_id), "%s", j->call_id);
	p->rec.worker = shard_id(sh);
	err = park_claim(&p->rec, l->slot_min, l->slot_max, j->slot);
	if (err) {
		if (err == -EBUSY) {
			count(u, j->slot ? CTR_REFUSED : CTR_FULL);
			if (j->slot)
				log_msg(LOG_INFO,
					"park: %s slot %u occupied: park of "
					"call-id=%s refused",
					j->domain, j->slot, j->call_id);
			else
				log_msg(LOG_INFO,
					"park: %s lot full (%u-%u): park of "
					"call-id=%s refused",
					j->domain, l->slot_min, l->slot_max,
					j->call_id);
		}
		job_done(j, err, 0, NULL);
		pcall_done(p);
		return;
	}
	p->holds = true;
	p->st = PS_REPLACING;
	p->timeout_s = l->timeout_s;
	p->ring_s = l->comeback_ring_s;
	if (l->fallback)
		snprintf(p->fallback, sizeof(p->fallback), "%s", l->fallback);
	/* RFC 3891 §6.1: to-tag and from-tag as the recipient sees its
	 * dialog: its own tag is the to-tag. */
	snprintf(rep, sizeof(rep), "%s;to-tag=%s;from-tag=%s", j->call_id,
		 j->tag, j->peer_tag);
	h[nh].name = SLICE_LIT("Replaces");
	h[nh++].value = slice_cstr(rep);
	h[nh].name = SLICE_LIT("Require");
	h[nh++].value = SLICE_LIT("replaces");
	if (j->route[0]) {
		h[nh].name = SLICE_LIT("Route");
		h[nh++].value = slice_cstr(j->route);
	}
	snprintf(from, sizeof(from), "sip:%u@%s", p->rec.slot, p->rec.domain);
	snprintf(disp, sizeof(disp), "Parked %u", p->rec.slot);
	memset(&o, 0, sizeof(o));
	o.target = slice_cstr(j->target);
	o.from = slice_cstr(from);
	o.from_display = slice_cstr(disp);
	o.sdp = slice_make(sdp, (size_t)n);
	o.fn = z_event;
	o.arg = p;
	o.hdrs = h;
	o.nhdrs = nh;
	err = ua_call(u, &o, &p->a);
	if (err) {
		log_msg(LOG_WARN,
			"park: %s slot %u: INVITE with Replaces to %s: %s",
			p->rec.domain, p->rec.slot, j->target, err_str(err));
		p->a = NULL;
		slot_release(p, "the INVITE with Replaces was not sent");
		job_done(j, err, 0, NULL);
		pcall_done(p);
		return;
	}
	p->job = j;
	timer_start(ua_wheel(u), &p->ring_t, REPLACE_WAIT_MS, ring_cb);
	log_msg(LOG_INFO,
		"park: %s slot %u: INVITE with Replaces to %s, parker %s "
		"call-id=%s",
		p->rec.domain, p->rec.slot, j->parked, j->parker, j->call_id);
}

/* Copy @p s into @p dst (@p size bytes with the NUL): false when it
 * does not fit or holds a byte that is not printable ASCII (it goes
 * into headers, logs and JSON). */
static bool copy_safe(char *dst, size_t size, struct slice s)
{
	if (s.len >= size)
		return false;
	for (size_t i = 0; i < s.len; i++)
		if ((unsigned char)s.p[i] <= 0x20 ||
		    (unsigned char)s.p[i] > 0x7e)
			return false;
	memcpy(dst, s.p, s.len);
	dst[s.len] = '\0';
	return true;
}

/* The confirmed dialog of a Call-ID (else: was one early?). */
struct pick {
	const struct dlg *d;
	bool early;
};

static void pick_visit(const struct dlg *d, void *arg)
{
	struct pick *k = arg;

	if (d->state == DLG_CONFIRMED && !k->d)
		k->d = d;
	else if (d->state == DLG_EARLY)
		k->early = true;
}

/* Fill @p j from dialog @p d for parking side @p party. */
static int job_of(struct pjob *j, const struct dlg *d, enum dlg_side party)
{
	enum dlg_side other = party == DLG_CALLER ? DLG_CALLEE : DLG_CALLER;
	const struct dlg_ua *pu = &d->ua[party], *ou = &d->ua[other];
	struct slice tag = party == DLG_CALLER ? d->caller_tag : d->callee_tag;
	struct slice ptag = party == DLG_CALLER ? d->callee_tag : d->caller_tag;
	struct slice parked = party == DLG_CALLER ? d->caller : d->callee;
	struct slice parker = party == DLG_CALLER ? d->callee : d->caller;
	struct slice route = pu->route;

	if (!copy_safe(j->call_id, sizeof(j->call_id), d->call_id) ||
	    !copy_safe(j->tag, sizeof(j->tag), tag) ||
	    !copy_safe(j->peer_tag, sizeof(j->peer_tag), ptag) ||
	    !pu->contact.len ||
	    !copy_safe(j->target, sizeof(j->target), pu->contact) ||
	    !copy_safe(j->parked, sizeof(j->parked), parked) ||
	    !copy_safe(j->parker, sizeof(j->parker), parker))
		return -EINVAL;
	/* A route set is name-addrs separated by ", ": spaces allowed. */
	if (route.len >= sizeof(j->route))
		return -EINVAL;
	memcpy(j->route, route.p, route.len);
	j->route[route.len] = '\0';
	/* The parker's Contact and route for the MESSAGE: best effort. */
	if (!copy_safe(j->parker_target, sizeof(j->parker_target), ou->contact))
		j->parker_target[0] = '\0';
	if (ou->route.len < sizeof(j->parker_route)) {
		memcpy(j->parker_route, ou->route.p, ou->route.len);
		j->parker_route[ou->route.len] = '\0';
	}
	for (char *c = j->route; *c; c++)
		if (*c == '\r' || *c == '\n')
			return -EINVAL;
	for (char *c = j->parker_route; *c; c++)
		if (*c == '\r' || *c == '\n')
			j->parker_route[0] = '\0';
	return 0;
}

int park_dialog(const struct park_dialog_req *rq, park_dialog_fn *done,
		void *arg)
{
	struct pool *pl = atomic_load_explicit(&the_pool, memory_order_acquire);
	struct pick k = { 0 };
	struct pjob *j;
	struct sipuri su;
	unsigned n;
	int err = 0;

	if (!rq || !rq->call_id.len || rq->domain.len > PARK_DOMAIN_MAX)
		return -EINVAL;
	if (!pl || !(n = pool_workers(pl)))
		return -ECANCELED;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	urcu_memb_read_lock();
	if (rq->tag.len)
		k.d = dlg_lookup_rcu(rq->call_id, rq->tag, rq->peer_tag);
	else
		dlg_foreach_call_rcu(rq->call_id, pick_visit, &k);
	if (!k.d || k.d->state == DLG_TERMINATED)
		err = k.early ? -EALREADY : -ENOENT;
	else if (k.d->state != DLG_CONFIRMED)
		err = -EALREADY;
	else if (rq->tag.len)
		/* *7: the other party of the one that sent it. */
		err = job_of(j, k.d,
			     slice_eq(k.d->caller_tag, rq->tag) ? DLG_CALLEE
								: DLG_CALLER);
	else
		err = job_of(j, k.d,
			     rq->party == PARK_PARTY_CALLER ? DLG_CALLER
							    : DLG_CALLEE);
	urcu_memb_read_unlock();
	if (!err) {
		/* The lot: asked for, else the parker's domain. */
		struct slice dom = rq->domain;

		if (!dom.len && !uri_parse(slice_cstr(j->parker), &su))
			dom = su.host;
		if (!dom.len || dom.len > PARK_DOMAIN_MAX)
			err = -EINVAL;
		else
			copy_cut(j->domain, sizeof(j->domain), dom);
	}
	if (err) {
		free(j);
		return err;
	}
	lower(j->domain);
	j->slot = rq->slot;
	j->tell = rq->tell;
	j->done = done;
	j->arg = arg;
	/* The lot's worker, as park_steer() picks it. */
	err = shard_post(
	    pool_shards(pl),
	    (unsigned)(hash_slice_case(slice_cstr(j->domain), STEER_SEED) % n),
	    dialog_run, j);
	if (err)
		free(j);
	return err;
}

/* The *7 observer. */

/* '*' then '7' within this from one party. */
#define DTMF_WINDOW_MS 2000
/* Recent '*' per shard: direct-mapped by dialog and sender; a
 * collision forgets a '*', nothing worse. */
#define DTMF_ROWS 64
#define DTMF_SEED 0x2a37ULL

struct star {
	uint64_t key; /* 0: empty */
	int64_t at_ms;
};

static struct star stars[CONF_MAX_WORKERS][DTMF_ROWS];

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The media type of Content-Type value @p v is @p type (any case). */
static bool ctype_is(struct slice v, const char *type)
{
	size_t i = 0;

	while (i < v.len && v.p[i] != ';')
		i++;
	return slice_caseeq_cstr(slice_trim(slice_make(v.p, i)), type);
}

/* The key digits of an INFO body @p b of DTMF type @p relay
 * (application/dtmf-relay: the Signal= line; else application/dtmf:
 * the body) into @p out (at most @p size - 1). Returns how many. */
static size_t dtmf_digits(struct slice b, bool relay, char *out, size_t size)
{
	struct slice v = b;
	size_t o = 0;

	if (relay) {
		v = slice_make(NULL, 0);
		for (size_t i = 0; i < b.len;) {
			size_t e = i;

			while (e < b.len && b.p[e] != '\n' && b.p[e] != '\r')
				e++;
			struct slice line =
			    slice_trim(slice_make(b.p + i, e - i));
			if (line.len > 6 &&
			    slice_caseeq_cstr(slice_make(line.p, 6),
					      "signal")) {
				struct slice r = slice_trim(
				    slice_make(line.p + 6, line.len - 6));

				if (r.len && r.p[0] == '=') {
					v = slice_trim(
					    slice_make(r.p + 1, r.len - 1));
					break;
				}
			}
			i = e + 1;
		}
	}
	v = slice_trim(v);
	for (size_t i = 0; i < v.len && o + 1 < size; i++) {
		char c = v.p[i];

		if ((c >= '0' && c <= '9') || c == '*' || c == '#' ||
		    (c >= 'A' && c <= 'D') || (c >= 'a' && c <= 'd'))
			out[o++] = c;
		else
			return 0; /* not one key press (or two) */
	}
	out[o] = '\0';
	return o;
}

static void dtmf_done(void *arg, int err, unsigned status, const char *domain,
		      unsigned slot, const char *parked, const char *parker)
{
	(void)arg;
	if (err)
		log_msg(LOG_INFO, "park: *7 by %s: %s not parked: %s (%u)",
			parker, parked, err_str(err), status);
	else
		log_msg(LOG_INFO, "park: *7 by %s: %s parked in %s slot %u",
			parker, parked, domain, slot);
}

/* One key @p key pressed by party @p tag of call @p call_id (its peer
 * @p peer_tag), seen on shard @p shard. A '*' and then a '7' from one party
 * within DTMF_WINDOW_MS park the other party (park_dialog(), the sender told).
 * The INFO and the RFC 4733 ways share it; @p how is "" or " (RFC 4733)". */
static void star7_key(unsigned shard, struct slice call_id, struct slice tag,
		      struct slice peer_tag, char key, const char *how)
{
	uint64_t k = hash_slice(tag, hash_slice(call_id, DTMF_SEED)) | 1;
	struct star *row = &stars[shard % CONF_MAX_WORKERS][k % DTMF_ROWS];
	struct park_dialog_req rq;
	int64_t now = mono_ms();
	int err;

	if (key == '*') {
		row->key = k;
		row->at_ms = now;
		return;
	}
	if (key != '7' || row->key != k || now - row->at_ms > DTMF_WINDOW_MS) {
		if (row->key == k)
			row->key = 0;
		return;
	}
	row->key = 0;
	atomic_fetch_add_explicit(&dtmf_ctr[shard % CONF_MAX_WORKERS], 1,
				  memory_order_relaxed);
	memset(&rq, 0, sizeof(rq));
	rq.call_id = call_id;
	rq.tag = tag;
	rq.peer_tag = peer_tag;
	rq.tell = true;
	err = park_dialog(&rq, dtmf_done, NULL);
	log_msg(LOG_INFO, "park: *7%s in call-id=%.*s: %s", how,
		(int)call_id.len, call_id.p,
		err ? err_str(err) : "parking the other party");
}

int park_dtmf_hook(struct hook_req *r)
{
	const struct sipmsg *m = r->m;
	const struct siphdr *ct;
	char digits[8];
	size_t nd;
	bool relay;

	if (m->method != SIP_INFO || !m->to_tag.len || !m->from_tag.len ||
	    !m->body.len || pool_is_source(r->from))
		return HOOK_NEXT;
	ct = sipmsg_hdr(m, HDR_CONTENT_TYPE);
	if (!ct)
		return HOOK_NEXT;
	relay = ctype_is(ct->value, "application/dtmf-relay");
	if (!relay && !ctype_is(ct->value, "application/dtmf"))
		return HOOK_NEXT;
	nd = dtmf_digits(m->body, relay, digits, sizeof(digits));
	for (size_t i = 0; i < nd; i++)
		star7_key(shard_id(r->sh), m->call_id, m->from_tag, m->to_tag,
			  digits[i], "");
	return HOOK_NEXT;
}

void park_dtmf_event(unsigned shard, const struct dtmf_event *ev)
{
	/* Without the other tag the dialog is not known: the report came
	 * before the answer. */
	if (!ev || !ev->peer_tag[0])
		return;
	star7_key(shard, slice_cstr(ev->call_id), slice_cstr(ev->tag),
		  slice_cstr(ev->peer_tag), ev->key, " (RFC 4733)");
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
	/* park[].music and .announce, loaded at start; NULL: built in. */
	struct media_sound *music, *announce;
};

static struct lot_copy *lots;
static unsigned nlots;

/* Load lot @p l's own sounds into @p lc. Returns 0 or the error of
 * media_sound_load() (logged with the file's name). */
static int lot_sounds_load(struct lot_copy *lc, const struct conf_park *l)
{
	char why[256];
	int err;

	if (l->music &&
	    (err = media_sound_load(l->music, &lc->music, why, sizeof(why)))) {
		log_msg(LOG_ERR, "park: %s: music: %s", l->domain, why);
		return err;
	}
	if (l->announce && (err = media_sound_load(l->announce, &lc->announce,
						   why, sizeof(why)))) {
		log_msg(LOG_ERR, "park: %s: announce: %s", l->domain, why);
		return err;
	}
	return 0;
}

/* The music lot @p domain plays (its own, else the built-in). */
static const struct media_sound *lot_music(const char *domain)
{
	for (unsigned i = 0; i < nlots; i++)
		if (lots[i].music && strcmp(lots[i].domain, domain) == 0)
			return lots[i].music;
	return media_sound_builtin("music");
}

/* What lot @p domain says before a slot's digits (its own announce,
 * else "your call is parked at"); NULL when there is none. */
static const struct media_sound *lot_announce(const char *domain)
{
	for (unsigned i = 0; i < nlots; i++)
		if (lots[i].announce && strcmp(lots[i].domain, domain) == 0)
			return lots[i].announce;
	return media_sound_builtin("parked-at");
}

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

/* Other nodes' slot changes (store.type redis) for this node's BLF
 * subscribers: from the park thread to the lot's worker. */
struct rchange {
	char domain[PARK_DOMAIN_MAX + 1];
	char parked[PARK_IDENTITY_MAX + 1];
	unsigned slot;
	bool freed;
};

static void remote_run(struct shard *sh, void *arg)
{
	struct rchange *rc = arg;
	struct ua *u = sh ? ua_of(sh) : NULL;
	struct slice domain;
	char slot[16];
	int n, err;

	if (!u) { /* the pool stops */
		free(rc);
		return;
	}
	domain = slice_cstr(rc->domain);
	snprintf(slot, sizeof(slot), "%u", rc->slot);
	err = blf_slot_changed(u, domain, slice_cstr(slot),
			       rc->freed ? BLF_FREE : parked_state(u, domain),
			       rc->freed ? slice_make(NULL, 0)
					 : slice_cstr(rc->parked),
			       slice_make(NULL, 0));
	n = park_list(domain, NULL, 0);
	if (err >= 0 && n >= 0)
		err = blf_lot_changed(u, domain, (unsigned)n);
	if (err < 0 || n < 0)
		log_msg(LOG_WARN,
			"park: %s slot %u (another node's): BLF not told: %s",
			rc->domain, rc->slot, err_str(err < 0 ? err : n));
	free(rc);
}

static void remote_watch(const struct park_rec *r, enum park_change what,
			 void *arg)
{
	struct pool *pl;
	struct rchange *rc;
	unsigned n;

	(void)arg;
	/* Our own changes told BLF where they happened (blf_tell()). */
	if (park_is_local(r))
		return;
	rc = calloc(1, sizeof(*rc));
	if (!rc)
		return;
	memcpy(rc->domain, r->domain, sizeof(rc->domain));
	memcpy(rc->parked, r->parked, sizeof(rc->parked));
	rc->slot = r->slot;
	rc->freed = what == PARK_CHANGE_FREED;
	/* The lot's worker, as park_steer() and blf_worker_of() pick it. */
	pthread_mutex_lock(&pool_lk);
	pl = atomic_load_explicit(&the_pool, memory_order_acquire);
	n = pl ? pool_workers(pl) : 0;
	if (!n || shard_post(pool_shards(pl),
			     (unsigned)(hash_slice_case(slice_cstr(rc->domain),
							STEER_SEED) %
					n),
			     remote_run, rc))
		free(rc);
	pthread_mutex_unlock(&pool_lk);
}

/* Node takeover (issue #13): the park thread (store/park_redis.c) moved
 * a dead node's slot to this node; the lot's worker rebuilds the parked
 * leg from the record and re-INVITEs the party with our media. */

/* A takeover on its way from the park thread to the lot's worker. */
struct tjob {
	struct park_rec rec;
	char old_proxy[PARK_PROXY_MAX + 1];
};

/* True when route @p r (a name-addr) names one of the "HOST:PORT" words
 * of @p list. */
static bool route_names(struct slice r, const char *list)
{
	struct nameaddr na;
	struct sipuri u;
	char hp[300];
	int n;

	if (nameaddr_parse(r, &na) || uri_parse(na.uri, &u))
		return false;
	n = snprintf(hp, sizeof(hp), "%.*s:%u", (int)u.host.len, u.host.p,
		     u.port ? u.port : 5060);
	if (n <= 0 || (size_t)n >= sizeof(hp))
		return false;
	for (const char *w = list; *w;) {
		size_t len = strcspn(w, " ");

		if (len == (size_t)n && !strncasecmp(w, hp, len))
			return true;
		w += len;
		w += strspn(w, " ");
	}
	return false;
}

/* The dialog of @p r's parked leg, for ua_leg_restore(): its route set
 * without the entries that name the dead node's proxy (@p dead) and not
 * ours (a shared address, a balancer's, reaches a survivor); local CSeq
 * 100 above the last the dead node wrote down (it may have sent some
 * since, the party refuses a lower one, RFC 3261 §12.2.2). */
static int take_dialog(const struct park_rec *r, const char *dead,
		       struct dialog *f, unsigned *droppedp)
{
	char mine[PARK_PROXY_MAX + 1];
	struct slice rest = slice_cstr(r->route), e;
	int ret;

	park_self_proxy(mine, sizeof(mine));
	memset(f, 0, sizeof(*f));
	f->role = DIALOG_UAC;
	f->state = DIALOG_CONFIRMED;
	f->call_id = slice_cstr(r->call_id);
	f->local_tag = slice_cstr(r->local_tag);
	f->remote_tag = slice_cstr(r->remote_tag);
	f->local_uri = slice_cstr(r->local_uri);
	f->remote_uri = slice_cstr(r->remote_uri);
	f->remote_target = slice_cstr(r->remote_target);
	f->local_cseq = r->local_cseq + 100;
	f->local_cseq_set = true;
	*droppedp = 0;
	/* Bounded by the route's length (PARK_ROUTE_MAX). */
	while ((ret = hdr_split_next(&rest, &e)) == 1) {
		if (route_names(e, dead) && !route_names(e, mine)) {
			(*droppedp)++;
			continue;
		}
		if (f->nroute == DIALOG_MAX_ROUTES)
			return -E2BIG;
		f->route[f->nroute++] = e;
	}
	return ret < 0 ? -EBADMSG : 0;
}

static void t_event(struct ua_leg *leg, const struct ua_event *ev, void *arg);

/* The takeover of @p p did not work (@p status: the re-INVITE's final,
 * or 500 when it could not be sent): the slot is released, the leg let
 * go. */
static void take_failed(struct pcall *p, unsigned status)
{
	count(p->u, CTR_TAKEOVER_FAILURES);
	log_msg(LOG_WARN, "park: takeover of %u@%s failed (%u)", p->rec.slot,
		p->rec.domain, status);
	slot_release(p, "takeover failed");
	if (p->a)
		ua_hangup(p->a, slice_cstr(reason_gave_up));
	p->a = NULL;
	pcall_done(p);
}

/* The answer to our re-INVITE: music, the rest of the timeout, BLF. */
static void taken(struct pcall *p, unsigned status, struct slice answer)
{
	const struct conf_park *l;
	struct sdp s;
	int64_t left;

	if (status < 200 || status >= 300) {
		take_failed(p, status);
		return;
	}
	l = park_conf_lot(shard_conf(ua_shard(p->u)),
			  slice_cstr(p->rec.domain));
	if (!answer.len || sdp_parse(&s, answer.p, answer.len) ||
	    media_sdp_set_answer(p->ms, &s) || !l) {
		take_failed(p, l ? 488 : 404);
		return;
	}
	p->st = PS_PARKED;
	(void)media_play(p->ms, NULL, 0, lot_music(p->rec.domain), NULL, NULL);
	p->timeout_s = l->timeout_s;
	p->ring_s = l->comeback_ring_s;
	if (l->fallback)
		snprintf(p->fallback, sizeof(p->fallback), "%s", l->fallback);
	/* What is left of timeout_s since the park (on the dead node);
	 * gone already: the comeback starts in a second. */
	left = (int64_t)p->timeout_s - ((int64_t)time(NULL) - p->rec.since_s);
	timer_start(ua_wheel(p->u), &p->park_t,
		    (uint64_t)(left > 1 ? left : 1) * 1000, park_timeout_cb);
	rec_dialog(p);
	count(p->u, CTR_TAKEOVERS);
	log_msg(LOG_INFO,
		"park: %s slot %u taken over: %s hears music again "
		"call-id=%s",
		p->rec.domain, p->rec.slot, p->rec.parked, p->rec.call_id);
	blf_tell(p, parked_state(p->u, slice_cstr(p->rec.domain)));
}

/* Events of a leg rebuilt by a takeover: first our re-INVITE's final,
 * then, parked, what park_dialog()'s legs get. */
static void t_event(struct ua_leg *leg, const struct ua_event *ev, void *arg)
{
	struct pcall *p = arg;

	if (p->st == PS_TAKING && ev->kind == UA_EV_REINVITE) {
		taken(p, ev->status, ev->sdp);
		return;
	}
	z_event(leg, ev, p);
}

/* On the lot's worker: the leg from the record, our offer in a
 * re-INVITE. */
static void take_run(struct shard *sh, void *arg)
{
	struct tjob *j = arg;
	struct ua *u = sh ? ua_of(sh) : NULL;
	struct media *md = u ? ua_media(u) : NULL;
	char sdp[SDP_BUF], old[PARK_SDP_O_MAX + 64];
	struct pcall *p = NULL;
	struct slice off;
	struct dialog f;
	unsigned dropped = 0;
	int n, err = 0;

	if (!u || !md) {
		(void)park_release(slice_cstr(j->rec.domain), j->rec.slot,
				   j->rec.holder);
		log_msg(LOG_WARN, "park: takeover of %u@%s failed (%s)",
			j->rec.slot, j->rec.domain,
			u ? "no media engine" : "the pool stops");
		free(j);
		return;
	}
	p = pcall_new(u, NULL);
	if (!p) {
		(void)park_release(slice_cstr(j->rec.domain), j->rec.slot,
				   j->rec.holder);
		count(u, CTR_TAKEOVER_FAILURES);
		log_msg(LOG_WARN, "park: takeover of %u@%s failed (500)",
			j->rec.slot, j->rec.domain);
		free(j);
		return;
	}
	p->rec = j->rec;
	p->rec.worker = shard_id(sh);
	p->holds = true;
	p->st = PS_TAKING;
	/* The session the party knows: our last o= line, as the dead node
	 * sent it; ua_offer_for() makes ours its next version. */
	snprintf(old, sizeof(old), "v=0\r\no=%s\r\ns=-\r\nt=0 0\r\n",
		 p->rec.sdp_o);
	err = take_dialog(&p->rec, j->old_proxy, &f, &dropped);
	if (!err)
		err = ua_leg_restore(u, &f, slice_cstr(old), t_event, p, &p->a);
	if (!err)
		err = media_session_open(md, &p->ms);
	n = err ? -1 : media_sdp_offer(p->ms, sdp, sizeof(sdp));
	if (!err && n < 0)
		err = n;
	if (!err)
		err = ua_offer_for(p->a, slice_make(sdp, (size_t)n), &off);
	if (!err)
		err = ua_reinvite(p->a, off);
	if (err) {
		log_msg(LOG_INFO, "park: %s slot %u: no takeover: %s",
			p->rec.domain, p->rec.slot, err_str(err));
		take_failed(p, 500);
		free(j);
		return;
	}
	log_msg(LOG_INFO,
		"park: %s slot %u: re-INVITE of %s to resume it here "
		"(%u routes of the dead node left out)",
		p->rec.domain, p->rec.slot, p->rec.remote_target, dropped);
	free(j);
}

/* The park thread took a dead node's slot for us: to the lot's worker
 * (as park_steer() picks it, so retrievals find the call). */
static void take_cb(const struct park_rec *r, const char *old_proxy, void *arg)
{
	struct tjob *j = calloc(1, sizeof(*j));
	struct pool *pl;
	unsigned n;
	int err = -ENOMEM;

	(void)arg;
	if (j) {
		j->rec = *r;
		snprintf(j->old_proxy, sizeof(j->old_proxy), "%s", old_proxy);
		pthread_mutex_lock(&pool_lk);
		pl = atomic_load_explicit(&the_pool, memory_order_acquire);
		n = pl ? pool_workers(pl) : 0;
		err = n ? shard_post(pool_shards(pl),
				     (unsigned)(hash_slice_case(
						    slice_cstr(j->rec.domain),
						    STEER_SEED) %
						n),
				     take_run, j)
			: -ENOENT;
		pthread_mutex_unlock(&pool_lk);
	}
	if (err) {
		free(j);
		(void)park_release(slice_cstr(r->domain), r->slot, r->holder);
		log_msg(LOG_WARN, "park: takeover of %u@%s failed (%s)",
			r->slot, r->domain, err_str(err));
	}
}

/* A slot of ours another node took over while we were frozen. */
struct ljob {
	char domain[PARK_DOMAIN_MAX + 1];
	unsigned slot;
	uint64_t holder;
};

/* On the lot's worker: our call in that slot goes quietly (the other
 * node re-INVITEd the party; a BYE from us would end its call). */
static void lost_run(struct shard *sh, void *arg)
{
	struct ljob *j = arg;
	struct ua *u = sh ? ua_of(sh) : NULL;
	struct park_state *ps = u ? ua_app_state(u, &park_app) : NULL;
	struct pcall *p =
	    ps ? find_parked(ps, slice_cstr(j->domain), j->slot) : NULL;

	if (p && p->rec.holder == j->holder) {
		log_msg(LOG_INFO,
			"park: %s slot %u: held by another node now: our "
			"call-id=%s let go",
			p->rec.domain, p->rec.slot, p->rec.call_id);
		p->holds = false; /* not ours to release */
		timer_stop(ua_wheel(p->u), &p->park_t);
		timer_stop(ua_wheel(p->u), &p->ring_t);
		ua_leg_drop(p->a);
		p->a = NULL;
		if (p->c)
			ua_hangup(p->c, slice_cstr(reason_noanswer));
		p->c = NULL;
		pcall_done(p);
	}
	free(j);
}

static void lost_cb(const char *domain, unsigned slot, uint64_t holder,
		    void *arg)
{
	struct ljob *j = calloc(1, sizeof(*j));
	struct pool *pl;
	unsigned n;

	(void)arg;
	if (!j)
		return;
	snprintf(j->domain, sizeof(j->domain), "%s", domain);
	j->slot = slot;
	j->holder = holder;
	pthread_mutex_lock(&pool_lk);
	pl = atomic_load_explicit(&the_pool, memory_order_acquire);
	n = pl ? pool_workers(pl) : 0;
	if (!n || shard_post(pool_shards(pl),
			     (unsigned)(hash_slice_case(slice_cstr(j->domain),
							STEER_SEED) %
					n),
			     lost_run, j))
		free(j);
	pthread_mutex_unlock(&pool_lk);
}

/* This node's proxy addresses, as its Record-Route values name them
 * (proxy/route.c: `advertise`, else the address), for the records. */
static void set_proxy(const struct conf *c)
{
	char buf[PARK_PROXY_MAX + 1], hp[128];
	size_t o = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < c->nlisten; i++) {
		const struct conf_listen *l = &c->listen[i];
		int n;

		if (l->adv_host)
			n = snprintf(hp, sizeof(hp), "%s:%u", l->adv_host,
				     l->adv_port);
		else
			n = snprintf(hp, sizeof(hp),
				     strchr(l->address, ':') ? "[%s]:%u"
							     : "%s:%u",
				     l->address, l->port);
		if (n <= 0 || (size_t)n >= sizeof(hp) ||
		    o + (size_t)n + 2 > sizeof(buf) || strstr(buf, hp))
			continue;
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s",
				      o ? " " : "", hp);
	}
	park_set_proxy(buf);
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
		err = lot_sounds_load(&lots[i], l);
		if (err) {
			park_feature_stop();
			return err;
		}
	}
	blf_set_resolve(resolve);
	err = park_init();
	if (!err)
		park_set_watch(remote_watch, NULL);
	if (!err)
		set_proxy(c);
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
	park_set_watch(NULL, NULL);
	blf_set_resolve(NULL);
	for (unsigned i = 0; i < nlots; i++) {
		media_sound_free(lots[i].music);
		media_sound_free(lots[i].announce);
	}
	free(lots);
	lots = NULL;
	nlots = 0;
}
