/* features/originate.c - originate (3PCC click-to-call, RFC 3725 flow I)
 * on the B2B pool */
#include "features/originate.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "features/b2b/b2b_conf.h"
#include "features/b2b/bridge.h"
#include "features/b2b/pool.h"
#include "features/intercom.h"
#include "proxy/base/arena.h"
#include "proxy/base/err.h"
#include "proxy/base/log.h"
#include "proxy/base/obj.h"
#include "proxy/base/timer.h"
#include "proxy/core/shard.h"
#include "proxy/sip/request.h"
#include "proxy/sip/sdp.h"
#include "proxy/sip/uri.h"

static const char *const state_names[ORIGINATE__COUNT] = {
	"calling-a", "ringing-a", "answered-a", "calling-b",
	"ringing-b", "bridged",	  "ended",	"failed",
};

/* RFC 3326 Reason values the BYEs carry. */
static const char reason_bye[] =
    "Q.850 ;cause=16 ;text=\"Normal call clearing\"";
static const char reason_cancel[] =
    "SIP ;cause=487 ;text=\"Originate cancelled\"";

const char *originate_state_name(enum originate_state s)
{
	return s < ORIGINATE__COUNT ? state_names[s] : "?";
}

const char *originate_guard_name(enum originate_guard g)
{
	static const char *const names[ORIGINATE_GUARD__COUNT] = {
		"none",
		"offer",
		"held",
	};

	return g < ORIGINATE_GUARD__COUNT ? names[g] : "?";
}

/* What a guard's re-INVITE waits for (struct orig.pend). */
enum pend {
	PEND_NONE,
	PEND_A_OFFER,	/* A re-INVITEd with the pool's offer */
	PEND_A_CONNECT, /* A re-INVITEd with B's answer */
	PEND_B_CONNECT, /* B re-INVITEd with A's new answer */
};

/* Extra headers, checked: n "name\0value\0" pairs in buf. */
struct xhdrs {
	unsigned n;
	size_t len;
	char buf[ORIGINATE_HDRS_LEN + 2 * ORIGINATE_HDRS_MAX];
};

/* One originate, on its worker. */
struct orig {
	struct orig *next, **pprev; /* in the worker's table, oldest first */
	struct orig_tab *tab;
	struct originate_info info;
	char caller_id[UA_URI_MAX + 1];
	unsigned timeout_s;
	struct xhdrs hdrs;
	bool intercom_a;
	struct ua_leg *leg_a, *leg_b; /* NULL when gone */
	char *offer;		      /* B's offer: A's offer, or A's
					 answer to the pool's (guard) */
	size_t offer_len;
	struct timer ring;   /* the ringing leg's timeout */
	struct timer linger; /* a finished record's end */
	struct timer guard;  /* b2b.answer_guard_s while B rings */
	enum pend pend;
	/* The pool's SDP session with A (o= line, RFC 3264 §5, §8): its
	 * sess-id, and the version of the last SDP we sent A. */
	uint64_t sess_id;
	uint64_t sess_ver;
	struct bridge br; /* once bridged: offers and INFO cross */
};

/* The originates of one worker (ua_app_state()). */
struct orig_tab {
	struct ua *u;
	struct orig *head, **tail;
	size_t live;
};

/* What originate_start() posts. */
struct start_task {
	struct originate_info info;
	char caller_id[UA_URI_MAX + 1];
	unsigned timeout_s;
	struct xhdrs hdrs;
	bool intercom_a;
};

/* The headers of @p x into @p h (ORIGINATE_HDRS_MAX); their number. */
static unsigned xhdrs_get(const struct xhdrs *x, struct request_hdr *h)
{
	const char *p = x->buf;

	for (unsigned i = 0; i < x->n; i++) {
		h[i].name = slice_cstr(p);
		p += h[i].name.len + 1;
		h[i].value = slice_cstr(p);
		p += h[i].value.len + 1;
	}
	return x->n;
}

/* Leg A's Request-URI and To into @p out (UA_URI_MAX + 1 bytes): A, or
 * with intercom_a the page of A's user (the domain's intercom code
 * before it, features/intercom.h), so that the proxy marks each of A's
 * devices by its own User-Agent. Returns 0, or -EINVAL (no user part,
 * intercom off in A's domain, too long). */
static int a_target(const struct orig *o, char *out)
{
	const struct conf_intercom *d;
	struct sipuri u;
	size_t skip;
	int n;

	if (!o->intercom_a) {
		snprintf(out, UA_URI_MAX + 1, "%s", o->info.a);
		return 0;
	}
	if (uri_parse(slice_cstr(o->info.a), &u) || !u.user.len)
		return -EINVAL;
	d = intercom_domain(shard_conf(ua_shard(o->tab->u)), u.host);
	if (!d)
		return -EINVAL;
	skip = u.scheme == URI_SIPS ? 5 : 4; /* normalise(): "sip:" or
						"sips:", any case */
	n = snprintf(out, UA_URI_MAX + 1, "%.*s%s%s", (int)skip, o->info.a,
		     d->code, o->info.a + skip);
	if (n < 0 || n > UA_URI_MAX || uri_parse(slice_cstr(out), &u))
		return -EINVAL;
	return 0;
}

static void tab_free(void *state);
static const struct ua_app orig_app = { "originate", tab_free };

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void orig_free(struct orig *o)
{
	struct timer_wheel *w = ua_wheel(o->tab->u);

	timer_stop(w, &o->ring);
	timer_stop(w, &o->linger);
	timer_stop(w, &o->guard);
	*o->pprev = o->next;
	if (o->next)
		o->next->pprev = o->pprev;
	else
		o->tab->tail = o->pprev;
	free(o->offer);
	free(o);
}

static void tab_free(void *state)
{
	struct orig_tab *t = state;

	if (!t)
		return;
	/* The UA freed the legs already: forget them. */
	while (t->head)
		orig_free(t->head);
	free(t);
}

static struct orig_tab *tab_of(struct ua *u)
{
	struct orig_tab *t = ua_app_state(u, &orig_app);

	if (t)
		return t;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->u = u;
	t->tail = &t->head;
	if (ua_app_set(u, &orig_app, t)) {
		free(t);
		return NULL;
	}
	return t;
}

static bool is_final(const struct orig *o)
{
	return o->info.state == ORIGINATE_ENDED ||
	       o->info.state == ORIGINATE_FAILED;
}

static void linger_cb(struct timer *t)
{
	orig_free((struct orig *)((char *)t - offsetof(struct orig, linger)));
}

static void set_state(struct orig *o, enum originate_state s)
{
	bool was_final = is_final(o);

	o->info.state = s;
	o->info.at_ms[s] = now_ms();
	if (s == ORIGINATE_BRIDGED) {
		log_msg(LOG_INFO, "originate %s: bridged", o->info.id);
		o->br.a = o->leg_a;
		o->br.b = o->leg_b;
	}
	if (!was_final && is_final(o)) {
		if (s == ORIGINATE_FAILED)
			log_msg(LOG_INFO, "originate %s: failed: leg %c %u %s",
				o->info.id, o->info.failed_leg, o->info.status,
				o->info.reason);
		else
			log_msg(LOG_INFO, "originate %s: ended by %c",
				o->info.id, o->info.ended_by);
		o->tab->live--;
		timer_stop(ua_wheel(o->tab->u), &o->ring);
		timer_stop(ua_wheel(o->tab->u), &o->guard);
		timer_start(ua_wheel(o->tab->u), &o->linger,
			    (uint64_t)ORIGINATE_LINGER_S * 1000, linger_cb);
	}
}

static void fail(struct orig *o, char leg, unsigned status, struct slice why)
{
	o->info.failed_leg = leg;
	o->info.status = status;
	snprintf(o->info.reason, sizeof(o->info.reason), "%.*s",
		 (int)(why.len < ORIGINATE_REASON_MAX
			   ? why.len
			   : ORIGINATE_REASON_MAX - 1),
		 why.p ? why.p : "");
	/* A reason phrase from the network: printable ASCII only, for the
	 * log and the JSON answer. */
	for (char *p = o->info.reason; *p; p++)
		if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\')
			*p = '?';
	set_state(o, ORIGINATE_FAILED);
}

/* Hang up whatever leg is left, with RFC 3326 Reason @p reason. */
static void hangup_all(struct orig *o, struct slice reason)
{
	bridge_forget(&o->br, o->leg_a);
	bridge_forget(&o->br, o->leg_b);
	if (o->leg_a)
		ua_hangup(o->leg_a, reason);
	if (o->leg_b)
		ua_hangup(o->leg_b, reason);
	o->leg_a = NULL;
	o->leg_b = NULL;
}

static void ring_cb(struct timer *t)
{
	struct orig *o =
	    (struct orig *)((char *)t - offsetof(struct orig, ring));
	char leg = o->info.state <= ORIGINATE_RINGING_A ? 'a' : 'b';

	if (is_final(o))
		return;
	hangup_all(o, slice_cstr("SIP ;cause=408 ;text=\"No answer\""));
	fail(o, leg, 408, slice_cstr("no answer"));
}

static void on_b(struct ua_leg *leg, const struct ua_event *ev, void *arg);
static void on_a(struct ua_leg *leg, const struct ua_event *ev, void *arg);

/* An offer or INFO from A or B: it crosses once bridged (bridge.h);
 * before, while the pool sets the call up, an offer gets 491 (RFC 3261
 * §14.2) and INFO 500 (Retry-After). */
static void on_request(struct ua_leg *leg, const struct ua_request *rq,
		       void *arg)
{
	struct orig *o = arg;

	if (o->info.state == ORIGINATE_BRIDGED && o->pend == PEND_NONE) {
		bridge_request(&o->br, leg, rq);
		return;
	}
	(void)ua_answer(leg, rq->method, rq->method == SIP_INFO ? 500 : 491,
			slice_make(NULL, 0));
}

/* The outcome of a re-INVITE that carried the other leg's offer: true
 * when it was one (the call may have ended). */
static bool bridged_reinvite(struct orig *o, struct ua_leg *leg,
			     const struct ua_event *ev)
{
	if (!bridge_busy(&o->br))
		return false;
	if (bridge_reinvited(&o->br, leg, ev->status, ev->sdp) == BRIDGE_END) {
		o->info.ended_by = leg == o->leg_a ? 'a' : 'b';
		hangup_all(o, slice_cstr(reason_bye));
		set_state(o, ORIGINATE_ENDED);
	}
	return true;
}

/* Hang up both legs and fail leg @p leg with @p status and @p why (a
 * static, line-safe string without quotes: it goes in the Reason). */
static void hangup_fail(struct orig *o, char leg, unsigned status,
			const char *why)
{
	char reason[128];
	int n = snprintf(reason, sizeof(reason), "SIP ;cause=%u ;text=\"%s\"",
			 status, why);

	hangup_all(o, slice_make(reason, n > 0 && (size_t)n < sizeof(reason)
					     ? (size_t)n
					     : 0));
	fail(o, leg, status, slice_cstr(why));
}

static void take_guard(struct orig *o, enum originate_guard g)
{
	o->info.guard = g;
	o->info.guard_at_ms = now_ms();
	log_msg(LOG_INFO, "originate %s: guard %s", o->info.id,
		originate_guard_name(g));
}

/* The o= value of the pool's session with A (RFC 4566 §5.2), version
 * o->sess_ver, into @p buf. */
static int pool_origin(struct orig *o, char *ip, size_t ipsize,
		       const char **typep, char *buf, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int n, err;

	err = pool_self_addr(&ss, &len);
	if (err)
		return err;
	if (ss.ss_family == AF_INET6) {
		inet_ntop(AF_INET6,
			  &((const struct sockaddr_in6 *)&ss)->sin6_addr, ip,
			  (socklen_t)ipsize);
		*typep = "IP6";
	} else {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)&ss)->sin_addr,
			  ip, (socklen_t)ipsize);
		*typep = "IP4";
	}
	n = snprintf(buf, size, "sipedge %" PRIu64 " %" PRIu64 " IN %s %s",
		     o->sess_id, o->sess_ver, *typep, ip);
	return n > 0 && (size_t)n < size ? 0 : -ENOSPC;
}

/* @p body with the value of its o= line replaced by @p origin, in the
 * worker's arena. */
static int with_origin(struct orig *o, struct slice body, struct slice origin,
		       struct slice *outp)
{
	struct sdp s;
	size_t head, tail;
	char *p;
	int err;

	err = sdp_parse(&s, body.p, body.len);
	if (err)
		return err;
	head = (size_t)(s.o_user.p - body.p);
	tail = body.len - (size_t)(s.o_addr.p + s.o_addr.len - body.p);
	p = arena_alloc(shard_arena(ua_shard(o->tab->u)),
			head + origin.len + tail);
	if (!p)
		return -ENOMEM;
	memcpy(p, body.p, head);
	memcpy(p + head, origin.p, origin.len);
	memcpy(p + head + origin.len, body.p + body.len - tail, tail);
	*outp = slice_make(p, head + origin.len + tail);
	return 0;
}

/* @p body as the next SDP of the pool's session with A: its o= is the
 * pool's, with the version bumped (RFC 3264 §8). */
static int to_a(struct orig *o, struct slice body, struct slice *outp)
{
	char ip[INET6_ADDRSTRLEN], origin[160];
	const char *type;
	int err;

	o->sess_ver++;
	err = pool_origin(o, ip, sizeof(ip), &type, origin, sizeof(origin));
	return err ? err : with_origin(o, body, slice_cstr(origin), outp);
}

/*
 * The pool's own offer to A (issue #12's 488 guard, RFC 3725 §4 flow IV
 * style): one sendrecv audio stream, PCMU, PCMA and telephone-event,
 * c= the pool's own address, port 9 (discard, where nothing listens):
 * what A sends before B answers is dropped there, and no third party
 * gets it (flow IV's 0.0.0.0 "black hole" is discouraged by RFC 3264
 * §8.4). Once B answers, A is re-INVITEd with B's c=/m= (to_a()).
 */
static int pool_offer(struct orig *o, struct slice *outp)
{
	char ip[INET6_ADDRSTRLEN], origin[160], *p;
	const char *type;
	size_t size = 512;
	int n, err;

	o->sess_ver++;
	err = pool_origin(o, ip, sizeof(ip), &type, origin, sizeof(origin));
	if (err)
		return err;
	p = arena_alloc(shard_arena(ua_shard(o->tab->u)), size);
	if (!p)
		return -ENOMEM;
	n = snprintf(p, size,
		     "v=0\r\no=%s\r\ns=sipedge\r\nc=IN %s %s\r\nt=0 0\r\n"
		     "m=audio 9 RTP/AVP 0 8 101\r\n"
		     "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
		     "a=rtpmap:101 telephone-event/8000\r\n"
		     "a=fmtp:101 0-15\r\na=sendrecv\r\n",
		     origin, type, ip);
	if (n < 0 || (size_t)n >= size)
		return -ENOSPC;
	*outp = slice_make(p, (size_t)n);
	return 0;
}

/* @p answer answers what we last offered on @p leg (RFC 3264 §6). */
static bool answers(const struct ua_leg *leg, struct slice answer)
{
	struct slice mine = ua_leg_local_sdp(leg);
	struct sdp x, y;

	return answer.len && !sdp_parse(&x, mine.p, mine.len) &&
	       !sdp_parse(&y, answer.p, answer.len) &&
	       !sdp_answer_check(&x, &y, NULL);
}

/* The same media destinations: as many m= lines, each with the same
 * port and c= address (its own, else the session's). */
static bool same_media(const struct sdp *x, const struct sdp *y)
{
	if (x->nmedia != y->nmedia)
		return false;
	for (unsigned i = 0; i < x->nmedia; i++) {
		const struct sdp_conn *cx =
		    x->media[i].has_conn ? &x->media[i].conn : &x->conn;
		const struct sdp_conn *cy =
		    y->media[i].has_conn ? &y->media[i].conn : &y->conn;

		if (x->media[i].port != y->media[i].port ||
		    !slice_eq(cx->addr, cy->addr))
			return false;
	}
	return true;
}

static int keep_offer(struct orig *o, struct slice sdp)
{
	char *p = malloc(sdp.len ? sdp.len : 1);

	if (!p)
		return -ENOMEM;
	memcpy(p, sdp.p, sdp.len);
	free(o->offer);
	o->offer = p;
	o->offer_len = sdp.len;
	return 0;
}

/* b2b.answer_guard_s passed and B still rings: ACK A with a held
 * answer (A's offer, every m= line kept and a=inactive, RFC 3264 §6,
 * §8.4) in the pool's session, so A's 2xx is not left unacknowledged
 * until A gives up (64*T1). */
static void guard_cb(struct timer *t)
{
	struct orig *o =
	    (struct orig *)((char *)t - offsetof(struct orig, guard));
	struct arena *a = shard_arena(ua_shard(o->tab->u));
	struct slice held, body;
	struct sdp s;
	int err;

	if (is_final(o) || !o->leg_a || o->info.guard != ORIGINATE_GUARD_NONE ||
	    (o->info.state != ORIGINATE_CALLING_B &&
	     o->info.state != ORIGINATE_RINGING_B))
		return;
	err = sdp_parse(&s, o->offer, o->offer_len);
	if (!err)
		err = sdp_print(&s, SDP_SET_DIR, SDP_INACTIVE, a, &held);
	if (!err)
		err = to_a(o, held, &body);
	if (!err)
		err = ua_ack(o->leg_a, body);
	if (err) {
		hangup_fail(o, 'a', 500, "A not ACKed");
		return;
	}
	take_guard(o, ORIGINATE_GUARD_HELD);
}

/* A answered with its offer (flow I, 2), or with its answer to the
 * pool's offer (the 488 guard): call B with it. */
static void call_b(struct orig *o)
{
	struct ua *u = o->tab->u;
	struct request_hdr h[ORIGINATE_HDRS_MAX];
	struct ua_call_opts co;
	unsigned guard_s;
	int err;

	memset(&co, 0, sizeof(co));
	co.target = slice_cstr(o->info.b);
	co.from = slice_cstr(o->info.a);
	co.hdrs = h;
	co.nhdrs = xhdrs_get(&o->hdrs, h);
	co.sdp = slice_make(o->offer, o->offer_len);
	co.fn = on_b;
	co.arg = o;
	set_state(o, ORIGINATE_CALLING_B);
	err = ua_call(u, &co, &o->leg_b);
	if (!err)
		ua_leg_on_request(o->leg_b, on_request, o);
	if (err) {
		o->leg_b = NULL;
		hangup_all(o,
			   slice_cstr("SIP ;cause=500 ;text=\"B not called\""));
		fail(o, 'b', 500, slice_cstr(err_str(err)));
		return;
	}
	timer_stop(ua_wheel(u), &o->ring);
	timer_start(ua_wheel(u), &o->ring, (uint64_t)o->timeout_s * 1000,
		    ring_cb);
	/* Flow I only: A's 2xx waits for its ACK while B rings. */
	guard_s = b2b_conf(shard_conf(ua_shard(u)))->answer_guard_s;
	if (o->info.guard == ORIGINATE_GUARD_NONE)
		timer_start(ua_wheel(u), &o->guard,
			    (uint64_t)(guard_s ? guard_s : 20) * 1000,
			    guard_cb);
}

/* A refused the offerless INVITE (488/606): call A again with the
 * pool's offer, in the same Call-ID (as a retry after a challenge,
 * RFC 3261 §8.1.3.5; a new From tag: a new dialog). */
static void retry_a(struct orig *o, struct slice call_id)
{
	struct ua *u = o->tab->u;
	struct ua_call_opts co;
	struct request_hdr h[ORIGINATE_HDRS_MAX];
	char target[UA_URI_MAX + 1] = "";
	struct slice offer;
	int err;

	take_guard(o, ORIGINATE_GUARD_OFFER);
	set_state(o, ORIGINATE_CALLING_A);
	err = pool_offer(o, &offer);
	if (!err)
		err = a_target(o, target);
	memset(&co, 0, sizeof(co));
	co.target = slice_cstr(target);
	co.hdrs = h;
	co.nhdrs = xhdrs_get(&o->hdrs, h);
	co.from = slice_cstr(o->caller_id);
	co.sdp = offer;
	co.call_id = call_id;
	co.fn = on_a;
	co.arg = o;
	if (!err)
		err = ua_call(u, &co, &o->leg_a);
	if (!err)
		ua_leg_on_request(o->leg_a, on_request, o);
	if (err) {
		o->leg_a = NULL;
		fail(o, 'a', 500, slice_cstr(err_str(err)));
		return;
	}
	timer_stop(ua_wheel(u), &o->ring);
	timer_start(ua_wheel(u), &o->ring, (uint64_t)o->timeout_s * 1000,
		    ring_cb);
}

/* The outcome of a guard's re-INVITE of A. */
static void a_reinvited(struct orig *o, struct ua_leg *leg,
			const struct ua_event *ev)
{
	enum pend p = o->pend;
	unsigned st = ev->status >= 300 ? ev->status : 488;
	struct slice boffer, bumped;
	struct sdp x, y;
	int err;

	o->pend = PEND_NONE;
	if (p == PEND_A_OFFER) {
		if (ev->status >= 300 || !answers(leg, ev->sdp)) {
			hangup_fail(o, 'a', st, "A refused the pool offer");
			return;
		}
		if (keep_offer(o, ev->sdp)) {
			hangup_fail(o, 'a', 500, "out of memory");
			return;
		}
		call_b(o);
		return;
	}
	if (p != PEND_A_CONNECT)
		return;
	if (ev->status >= 300 || !answers(leg, ev->sdp)) {
		hangup_fail(o, 'a', st, "A refused the media of B");
		return;
	}
	o->info.reinvited_a_at_ms = now_ms();
	/* B was told o->offer: when A's new answer moved A's media, B
	 * gets it in a re-INVITE (B's session: o->offer's o=, bumped). */
	err = sdp_parse(&x, o->offer, o->offer_len);
	if (!err)
		err = sdp_parse(&y, ev->sdp.p, ev->sdp.len);
	if (!err && same_media(&x, &y)) {
		set_state(o, ORIGINATE_BRIDGED);
		return;
	}
	if (!err)
		err = sdp_print(&x, SDP_BUMP_VERSION, SDP_SENDRECV,
				shard_arena(ua_shard(o->tab->u)), &bumped);
	if (!err)
		err = sdp_parse(&x, bumped.p, bumped.len);
	if (!err)
		err = with_origin(
		    o, ev->sdp,
		    slice_make(x.o_user.p, (size_t)(x.o_addr.p + x.o_addr.len -
						    x.o_user.p)),
		    &boffer);
	if (!err)
		err = keep_offer(o, boffer);
	if (!err)
		err = ua_reinvite(o->leg_b, boffer);
	if (err) {
		hangup_fail(o, 'b', 500, "B not re-INVITEd");
		return;
	}
	o->pend = PEND_B_CONNECT;
}

static void on_a(struct ua_leg *leg, const struct ua_event *ev, void *arg)
{
	struct orig *o = arg;
	struct slice offer;
	char why[96];
	int err;

	switch (ev->kind) {
	case UA_EV_RINGING:
		if (o->info.state == ORIGINATE_CALLING_A)
			set_state(o, ORIGINATE_RINGING_A);
		return;
	case UA_EV_ANSWERED:
		timer_stop(ua_wheel(o->tab->u), &o->ring);
		set_state(o, ORIGINATE_ANSWERED_A);
		if (o->info.guard == ORIGINATE_GUARD_OFFER) {
			/* The answer to the pool's offer in our INVITE. */
			err = ua_ack(leg, slice_make(NULL, 0));
			if (err || !answers(leg, ev->sdp)) {
				hangup_fail(o, 'a', 488,
					    "no usable answer from A");
				return;
			}
			if (keep_offer(o, ev->sdp)) {
				hangup_fail(o, 'a', 500, "out of memory");
				return;
			}
			call_b(o);
			return;
		}
		if (!ev->sdp.len) {
			/* A 2xx without the offer RFC 3261 §13.2.1 asks for:
			 * ACK it (no session yet), then re-INVITE A with the
			 * pool's offer. */
			err = ua_ack(leg, slice_make(NULL, 0));
			if (!err)
				err = pool_offer(o, &offer);
			if (!err)
				err = ua_reinvite(leg, offer);
			if (err) {
				hangup_fail(o, 'a', 488,
					    "no SDP offer in the 2xx of A");
				return;
			}
			take_guard(o, ORIGINATE_GUARD_OFFER);
			o->pend = PEND_A_OFFER;
			return;
		}
		if (keep_offer(o, ev->sdp)) {
			hangup_all(o, slice_cstr(reason_bye));
			fail(o, 'a', 500, slice_cstr("out of memory"));
			return;
		}
		call_b(o);
		return;
	case UA_EV_REINVITE:
		if (!bridged_reinvite(o, leg, ev))
			a_reinvited(o, leg, ev);
		return;
	case UA_EV_FAILED:
		o->leg_a = NULL;
		if (is_final(o))
			return;
		if ((ev->status == 488 || ev->status == 606) &&
		    o->info.guard == ORIGINATE_GUARD_NONE &&
		    o->info.state <= ORIGINATE_RINGING_A) {
			/* The failed leg lives until the next tick. */
			struct slice cid = ua_leg_call_id(leg);
			char id[REQUEST_CALL_ID_MAX];

			memcpy(id, cid.p, cid.len);
			retry_a(o, slice_make(id, cid.len));
			return;
		}
		fail(o, 'a', ev->status, ev->reason);
		return;
	case UA_EV_ENDED:
		o->leg_a = NULL;
		if (o->leg_b)
			ua_hangup(o->leg_b, slice_cstr(reason_bye));
		o->leg_b = NULL;
		if (o->info.state == ORIGINATE_BRIDGED) {
			o->info.ended_by = 'a';
			set_state(o, ORIGINATE_ENDED);
		} else if (!is_final(o)) {
			err = snprintf(why, sizeof(why), "A hung up in %s",
				       originate_state_name(o->info.state));
			fail(o, 'a', 487,
			     slice_make(why, err > 0 ? (size_t)err : 0));
		}
		return;
	}
}

static void on_b(struct ua_leg *leg, const struct ua_event *ev, void *arg)
{
	struct orig *o = arg;
	char reason[96];
	struct sdp offer, answer;
	struct slice aoffer;
	const char *fault = NULL;
	int n, err;

	switch (ev->kind) {
	case UA_EV_RINGING:
		if (o->info.state == ORIGINATE_CALLING_B)
			set_state(o, ORIGINATE_RINGING_B);
		return;
	case UA_EV_ANSWERED:
		timer_stop(ua_wheel(o->tab->u), &o->ring);
		timer_stop(ua_wheel(o->tab->u), &o->guard);
		err = ev->sdp.len ? 0 : -EPROTO;
		if (!err)
			err = sdp_parse(&offer, o->offer, o->offer_len);
		if (!err)
			err = sdp_parse(&answer, ev->sdp.p, ev->sdp.len);
		if (!err)
			err = sdp_answer_check(&offer, &answer, &fault);
		/* B's ACK has no body: the offer was in the INVITE. */
		(void)ua_ack(leg, slice_make(NULL, 0));
		if (!err && o->info.guard == ORIGINATE_GUARD_NONE)
			err = ua_ack(o->leg_a, ev->sdp);
		if (err) {
			hangup_all(o, slice_cstr("SIP ;cause=488 ;text=\"No "
						 "usable answer from B\""));
			fail(
			    o, 'b', 488,
			    slice_cstr(fault ? fault : "no usable SDP answer"));
			return;
		}
		if (o->info.guard == ORIGINATE_GUARD_NONE) {
			set_state(o, ORIGINATE_BRIDGED);
			return;
		}
		/* A is in a session with the pool (held, or on the pool's
		 * offer): a new offer (RFC 3264 §8) with B's media. */
		err = to_a(o, ev->sdp, &aoffer);
		if (!err)
			err = ua_reinvite(o->leg_a, aoffer);
		if (err) {
			hangup_fail(o, 'a', 500, "A not re-INVITEd");
			return;
		}
		o->pend = PEND_A_CONNECT;
		return;
	case UA_EV_REINVITE:
		if (bridged_reinvite(o, leg, ev) || o->pend != PEND_B_CONNECT)
			return;
		o->pend = PEND_NONE;
		if (ev->status >= 300 || !answers(leg, ev->sdp)) {
			hangup_fail(o, 'b',
				    ev->status >= 300 ? ev->status : 488,
				    "B refused the new media of A");
			return;
		}
		set_state(o, ORIGINATE_BRIDGED);
		return;
	case UA_EV_FAILED:
		o->leg_b = NULL;
		if (is_final(o))
			return;
		n = snprintf(reason, sizeof(reason),
			     "SIP ;cause=%u ;text=\"B: %.*s\"", ev->status,
			     (int)(ev->reason.len < 40 ? ev->reason.len : 40),
			     ev->reason.p ? ev->reason.p : "");
		/* A answered and waits for its ACK: ACKed with a held
		 * answer, then BYE (ua_hangup()). */
		hangup_all(
		    o, slice_make(reason, n > 0 && (size_t)n < sizeof(reason)
					      ? (size_t)n
					      : 0));
		fail(o, 'b', ev->status, ev->reason);
		return;
	case UA_EV_ENDED:
		o->leg_b = NULL;
		if (o->leg_a)
			ua_hangup(o->leg_a, slice_cstr(reason_bye));
		o->leg_a = NULL;
		if (o->info.state == ORIGINATE_BRIDGED) {
			o->info.ended_by = 'b';
			set_state(o, ORIGINATE_ENDED);
		} else if (!is_final(o)) {
			fail(o, 'b', 487, slice_cstr("B hung up"));
		}
		return;
	}
}

/* On the worker: make the record and call A (RFC 3725 flow I, 1). */
static void start_fn(struct shard *sh, void *arg)
{
	struct start_task *t = arg;
	struct request_hdr h[ORIGINATE_HDRS_MAX];
	char target[UA_URI_MAX + 1];
	struct ua_call_opts co;
	struct orig_tab *tab;
	struct orig *o;
	struct ua *u;
	int err;

	if (!sh) {
		free(t);
		return;
	}
	u = ua_of(sh);
	tab = u ? tab_of(u) : NULL;
	o = tab ? calloc(1, sizeof(*o)) : NULL;
	if (!o) {
		log_msg(LOG_WARN, "originate %s: not started: %s", t->info.id,
			err_str(-ENOMEM));
		free(t);
		return;
	}
	o->tab = tab;
	o->info = t->info;
	memcpy(o->caller_id, t->caller_id, sizeof(o->caller_id));
	o->timeout_s = t->timeout_s;
	o->hdrs = t->hdrs;
	o->intercom_a = t->intercom_a;
	o->sess_id = (uint64_t)now_ms();
	free(t);
	o->pprev = tab->tail;
	*tab->tail = o;
	tab->tail = &o->next;
	tab->live++;
	set_state(o, ORIGINATE_CALLING_A);
	err = a_target(o, target);
	if (err) {
		fail(o, 'a', 500, slice_cstr("intercom_a: A cannot be paged"));
		goto done;
	}
	memset(&co, 0, sizeof(co));
	co.target = slice_cstr(target);
	co.from = slice_cstr(o->caller_id);
	co.fn = on_a;
	co.arg = o;
	co.hdrs = h;
	co.nhdrs = xhdrs_get(&o->hdrs, h);
	err = ua_call(u, &co, &o->leg_a);
	if (!err)
		ua_leg_on_request(o->leg_a, on_request, o);
	if (err) {
		o->leg_a = NULL;
		fail(o, 'a', 500, slice_cstr(err_str(err)));
	} else {
		timer_start(ua_wheel(u), &o->ring,
			    (uint64_t)o->timeout_s * 1000, ring_cb);
	}
done:
	log_msg(LOG_INFO, "originate %s: %s -> %s: %s", o->info.id, o->info.a,
		o->info.b, originate_state_name(o->info.state));
	arena_reset(shard_arena(sh));
}

/* @p in as a SIP URI into @p out (UA_URI_MAX + 1 bytes): "sip:" added
 * when it has no scheme, "@domain" when it has no '@' either. */
static int normalise(const char *in, const char *domain, char *out)
{
	struct sipuri uri;
	bool scheme =
	    !strncasecmp(in, "sip:", 4) || !strncasecmp(in, "sips:", 5);
	int n;

	if (!*in)
		return -EINVAL;
	if (scheme)
		n = snprintf(out, UA_URI_MAX + 1, "%s", in);
	else if (strchr(in, '@'))
		n = snprintf(out, UA_URI_MAX + 1, "sip:%s", in);
	else if (domain && *domain)
		n = snprintf(out, UA_URI_MAX + 1, "sip:%s@%s", in, domain);
	else
		return -EINVAL;
	if (n < 0 || n > UA_URI_MAX)
		return -EINVAL;
	if (!request_is_line_safe(slice_make(out, (size_t)n)) ||
	    uri_parse(slice_make(out, (size_t)n), &uri))
		return -EINVAL;
	return 0;
}

/* Headers originate never lets through (lower case; compact forms
 * too, RFC 3261 §7.3.3): the UA core writes them, or the dialog, the
 * offer/answer or 100rel depend on them. */
static const char *const refused[] = {
	"via",
	"v",
	"call-id",
	"i",
	"cseq",
	"from",
	"f",
	"to",
	"t",
	"contact",
	"m",
	"max-forwards",
	"route",
	"record-route",
	"content-length",
	"l",
	"content-type",
	"c",
	"content-encoding",
	"e",
	"content-disposition",
	"require",
	"proxy-require",
	"supported",
	"k",
	"allow",
	"rseq",
	"rack",
	NULL,
};

int originate_header_check(const char *line, struct slice *namep,
			   struct slice *valuep, const char **whyp)
{
	const char *colon = line ? strchr(line, ':') : NULL;
	struct slice name, value, rest;
	enum hdr_id id;

	*whyp = "a header is not \"Name: value\"";
	if (!colon || colon == line)
		return -EINVAL;
	/* Anywhere, even where trimming would drop it. */
	if (!request_is_line_safe(slice_cstr(line))) {
		*whyp = "a header holds CR, LF or NUL";
		return -EINVAL;
	}
	name = slice_trim(slice_make(line, (size_t)(colon - line)));
	value = slice_trim(slice_cstr(colon + 1));
	if (!request_is_token(name)) {
		*whyp = "a header name is not a token";
		return -EINVAL;
	}
	for (size_t i = 0; refused[i]; i++)
		if (name.len == strlen(refused[i]) &&
		    !strncasecmp(name.p, refused[i], name.len)) {
			*whyp = "a header that originate writes itself or "
				"may not take (Via, Call-ID, CSeq, From, To, "
				"Contact, Route, Content-*, ...)";
			return -EINVAL;
		}
	/* Each comma-separated element, and the whole value (a comma may
	 * sit inside a URI). */
	id = hdr_lookup(name);
	rest = value;
	while (id != HDR_OTHER) {
		long comma = slice_index(rest, ',');
		struct slice e =
		    comma < 0 ? rest : slice_make(rest.p, (size_t)comma);

		if (intercom_is_marking(id, slice_trim(e)) ||
		    intercom_is_marking(id, value)) {
			*whyp = "an auto-answer marking (the proxy strips "
				"them): use intercom_a";
			return -EINVAL;
		}
		if (comma < 0)
			break;
		rest = slice_make(rest.p + comma + 1,
				  rest.len - (size_t)comma - 1);
	}
	*namep = name;
	*valuep = value;
	*whyp = NULL;
	return 0;
}

/* Check @p o's headers into @p x. 0, or -EINVAL with *whyp. */
static int xhdrs_set(struct xhdrs *x, const struct originate_opts *o,
		     const char **whyp)
{
	size_t total = 0;

	x->n = 0;
	x->len = 0;
	if (o->nheaders && !o->headers)
		return -EINVAL;
	if (o->nheaders > ORIGINATE_HDRS_MAX) {
		*whyp = "more than 8 headers";
		return -EINVAL;
	}
	for (size_t i = 0; i < o->nheaders; i++) {
		struct slice name, value;
		int err =
		    originate_header_check(o->headers[i], &name, &value, whyp);

		if (err)
			return err;
		total += name.len + value.len + 2;
		if (total > ORIGINATE_HDRS_LEN) {
			*whyp = "headers longer than 1024 bytes";
			return -EINVAL;
		}
		memcpy(x->buf + x->len, name.p, name.len);
		x->len += name.len;
		x->buf[x->len++] = '\0';
		memcpy(x->buf + x->len, value.p, value.len);
		x->len += value.len;
		x->buf[x->len++] = '\0';
		x->n++;
	}
	return 0;
}

/* intercom_a's checks on the control thread: A has a user, and, with
 * @p c, intercom is on in A's domain. */
static int intercom_check(const char *a, const struct conf *c,
			  const char **whyp)
{
	struct sipuri u;

	if (uri_parse(slice_cstr(a), &u) || !u.user.len) {
		*whyp = "intercom_a: a has no user part";
		return -EINVAL;
	}
	if (c && !intercom_domain(c, u.host)) {
		*whyp = "intercom_a: intercom is off in a's domain";
		return -EINVAL;
	}
	return 0;
}

int originate_start(struct pool *p, const struct originate_opts *o, char *id,
		    const char **whyp)
{
	struct start_task *t;
	int err;

	*whyp = NULL;
	if (!p)
		return -ENOENT;
	if (!o || !o->a || !o->b || o->timeout_s > ORIGINATE_TIMEOUT_S_MAX) {
		*whyp = "timeout_s out of range";
		return -EINVAL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	err = -EINVAL;
	if (normalise(o->a, o->default_domain, t->info.a)) {
		*whyp = "a is not a SIP URI";
		goto out;
	}
	if (normalise(o->b, o->default_domain, t->info.b)) {
		*whyp = "b is not a SIP URI";
		goto out;
	}
	if (o->caller_id &&
	    normalise(o->caller_id, o->default_domain, t->caller_id)) {
		*whyp = "caller_id is not a SIP URI";
		goto out;
	}
	t->timeout_s = o->timeout_s ? o->timeout_s : ORIGINATE_TIMEOUT_S;
	err = xhdrs_set(&t->hdrs, o, whyp);
	if (err)
		goto out;
	t->intercom_a = o->intercom_a;
	if (o->intercom_a) {
		err = intercom_check(t->info.a, o->conf, whyp);
		if (err)
			goto out;
	}
	err = request_tag_make(t->info.id, sizeof(t->info.id));
	if (err < 0)
		goto out;
	/* The id first: once posted, @p t is the worker's (start_fn()
	 * frees it, maybe before pool_post() returns here). */
	memcpy(id, t->info.id, ORIGINATE_ID_MAX);
	err = pool_post(p, slice_cstr(id), start_fn, t);
	if (err)
		goto out;
	return 0;
out:
	free(t);
	return err;
}

/* status and cancel: posted to the id's worker. */
struct ask {
	char id[ORIGINATE_ID_MAX];
	bool cancel;
	originate_info_fn *done;
	void *arg;
};

static struct orig *find(struct orig_tab *t, const char *id)
{
	for (struct orig *o = t ? t->head : NULL; o; o = o->next)
		if (!strcmp(o->info.id, id))
			return o;
	return NULL;
}

static void cancel(struct orig *o)
{
	char leg = o->info.state <= ORIGINATE_RINGING_A ? 'a' : 'b';
	bool bridged = o->info.state == ORIGINATE_BRIDGED;

	if (is_final(o))
		return;
	hangup_all(o, slice_cstr(reason_cancel));
	if (bridged) {
		o->info.ended_by = 'x';
		set_state(o, ORIGINATE_ENDED);
	} else {
		fail(o, leg, 487, slice_cstr("cancelled"));
	}
}

static void ask_fn(struct shard *sh, void *arg)
{
	struct ask *k = arg;
	struct ua *u = sh ? ua_of(sh) : NULL;
	struct orig *o;

	if (!sh) {
		k->done(k->arg, -ECANCELED, NULL);
		free(k);
		return;
	}
	o = find(u ? ua_app_state(u, &orig_app) : NULL, k->id);
	if (o && k->cancel)
		cancel(o);
	if (o)
		k->done(k->arg, 0, &o->info);
	else
		k->done(k->arg, -ENOENT, NULL);
	free(k);
	arena_reset(shard_arena(sh));
}

static int ask(struct pool *p, const char *id, bool cancel_it,
	       originate_info_fn *done, void *arg)
{
	struct ask *k;
	size_t len = id ? strlen(id) : 0;
	int err;

	if (!p)
		return -ENOENT;
	if (!len || len >= ORIGINATE_ID_MAX || !done)
		return -EINVAL;
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	memcpy(k->id, id, len + 1);
	k->cancel = cancel_it;
	k->done = done;
	k->arg = arg;
	err = pool_post(p, slice_make(k->id, len), ask_fn, k);
	if (err)
		free(k);
	return err;
}

int originate_status(struct pool *p, const char *id, originate_info_fn *done,
		     void *arg)
{
	return ask(p, id, false, done, arg);
}

int originate_cancel(struct pool *p, const char *id, originate_info_fn *done,
		     void *arg)
{
	return ask(p, id, true, done, arg);
}

/* originate_list(): one obj all workers hold; the last put answers. */
struct gather {
	originate_list_fn *done;
	void *arg;
	int err;
	bool armed; /* false: nothing posted, do not call done */
	unsigned n;
	struct {
		struct originate_info *v;
		size_t n;
		int err; /* written by that worker only */
	} slot[];
};

static void gather_dtor(void *obj)
{
	struct gather *g = obj;
	struct originate_info *all = NULL;
	size_t total = 0, k = 0;

	for (unsigned i = 0; i < g->n; i++) {
		total += g->slot[i].n;
		if (g->slot[i].err && !g->err)
			g->err = g->slot[i].err;
	}
	if (g->armed) {
		all = total ? malloc(total * sizeof(*all)) : NULL;
		if (total && !all) {
			g->err = -ENOMEM;
			total = 0;
		}
		for (unsigned i = 0; all && i < g->n; i++) {
			if (!g->slot[i].n)
				continue;
			memcpy(all + k, g->slot[i].v,
			       g->slot[i].n * sizeof(*all));
			k += g->slot[i].n;
		}
		g->done(g->arg, g->err, all, total);
	}
	free(all);
	for (unsigned i = 0; i < g->n; i++)
		free(g->slot[i].v);
}

static void gather_fn(struct shard *sh, void *arg)
{
	struct gather *g = arg;
	struct orig_tab *t;
	size_t n = 0;
	unsigned i;

	if (!sh) {
		/* Which worker is not known: the first slot says it. */
		g->slot[0].err = -ECANCELED;
		obj_put(g);
		return;
	}
	i = shard_id(sh);
	t = ua_of(sh) ? ua_app_state(ua_of(sh), &orig_app) : NULL;
	for (struct orig *o = t ? t->head : NULL; o && n < ORIGINATE_LIST_MAX;
	     o = o->next)
		n++;
	if (n && i < g->n) {
		g->slot[i].v = malloc(n * sizeof(*g->slot[i].v));
		if (g->slot[i].v) {
			struct orig *o = t->head;

			for (size_t k = 0; k < n; k++, o = o->next)
				g->slot[i].v[k] = o->info;
			g->slot[i].n = n;
		} else {
			g->slot[i].err = -ENOMEM;
		}
	}
	obj_put(g);
}

int originate_list(struct pool *p, originate_list_fn *done, void *arg)
{
	unsigned n = pool_workers(p);
	struct gather *g;
	int err;

	if (!p)
		return -ENOENT;
	if (!done)
		return -EINVAL;
	g = obj_new(sizeof(*g) + n * sizeof(g->slot[0]), gather_dtor);
	if (!g)
		return -ENOMEM;
	memset(g, 0, sizeof(*g) + n * sizeof(g->slot[0]));
	g->done = done;
	g->arg = arg;
	g->n = n;
	for (unsigned i = 0; i < n; i++) {
		err = shard_post(pool_shards(p), i, gather_fn, obj_get(g));
		if (err) {
			obj_put(g); /* the reference that was not posted */
			if (!g->armed) {
				obj_put(g); /* ours: freed, done not called */
				return err;
			}
			/* Some workers have it: done says what failed. */
			g->err = err;
			break;
		}
		g->armed = true;
	}
	obj_put(g);
	return 0;
}
