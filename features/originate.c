/* features/originate.c - originate (3PCC click-to-call, RFC 3725 flow I)
 * on the B2B pool */
#include "features/originate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "features/b2b/pool.h"
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

/* One originate, on its worker. */
struct orig {
	struct orig *next, **pprev; /* in the worker's table, oldest first */
	struct orig_tab *tab;
	struct originate_info info;
	char caller_id[UA_URI_MAX + 1];
	unsigned timeout_s;
	struct ua_leg *leg_a, *leg_b; /* NULL when gone */
	char *offer;		      /* A's offer */
	size_t offer_len;
	struct timer ring;   /* the ringing leg's timeout */
	struct timer linger; /* a finished record's end */
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
};

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
	if (s == ORIGINATE_BRIDGED)
		log_msg(LOG_INFO, "originate %s: bridged", o->info.id);
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

/* A answered with its offer: call B with it (RFC 3725 flow I, 2). */
static void call_b(struct orig *o)
{
	struct ua *u = o->tab->u;
	struct ua_call_opts co;
	int err;

	memset(&co, 0, sizeof(co));
	co.target = slice_cstr(o->info.b);
	co.from = slice_cstr(o->info.a);
	co.sdp = slice_make(o->offer, o->offer_len);
	co.fn = on_b;
	co.arg = o;
	set_state(o, ORIGINATE_CALLING_B);
	err = ua_call(u, &co, &o->leg_b);
	if (err) {
		o->leg_b = NULL;
		hangup_all(o,
			   slice_cstr("SIP ;cause=500 ;text=\"B not called\""));
		fail(o, 'b', 500, slice_cstr(err_str(err)));
		return;
	}
	timer_start(ua_wheel(u), &o->ring, (uint64_t)o->timeout_s * 1000,
		    ring_cb);
}

static void on_a(struct ua_leg *leg, const struct ua_event *ev, void *arg)
{
	struct orig *o = arg;
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
		if (!ev->sdp.len) {
			/* TODO(#12): the 488 guard (flow IV: our own offer). */
			(void)ua_ack(leg, slice_make(NULL, 0));
			hangup_all(o, slice_cstr("SIP ;cause=488 ;text=\"No "
						 "offer from A\""));
			fail(o, 'a', 488,
			     slice_cstr("no SDP offer in A's 2xx"));
			return;
		}
		o->offer = malloc(ev->sdp.len);
		if (!o->offer) {
			hangup_all(o, slice_cstr(reason_bye));
			fail(o, 'a', 500, slice_cstr("out of memory"));
			return;
		}
		memcpy(o->offer, ev->sdp.p, ev->sdp.len);
		o->offer_len = ev->sdp.len;
		call_b(o);
		return;
	case UA_EV_FAILED:
		o->leg_a = NULL;
		if (!is_final(o))
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
	const char *fault = NULL;
	int n, err;

	switch (ev->kind) {
	case UA_EV_RINGING:
		if (o->info.state == ORIGINATE_CALLING_B)
			set_state(o, ORIGINATE_RINGING_B);
		return;
	case UA_EV_ANSWERED:
		timer_stop(ua_wheel(o->tab->u), &o->ring);
		err = ev->sdp.len ? 0 : -EPROTO;
		if (!err)
			err = sdp_parse(&offer, o->offer, o->offer_len);
		if (!err)
			err = sdp_parse(&answer, ev->sdp.p, ev->sdp.len);
		if (!err)
			err = sdp_answer_check(&offer, &answer, &fault);
		/* B's ACK has no body: the offer was in the INVITE. */
		(void)ua_ack(leg, slice_make(NULL, 0));
		if (!err)
			err = ua_ack(o->leg_a, ev->sdp);
		if (err) {
			hangup_all(o, slice_cstr("SIP ;cause=488 ;text=\"No "
						 "usable answer from B\""));
			fail(
			    o, 'b', 488,
			    slice_cstr(fault ? fault : "no usable SDP answer"));
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
	free(t);
	o->pprev = tab->tail;
	*tab->tail = o;
	tab->tail = &o->next;
	tab->live++;
	set_state(o, ORIGINATE_CALLING_A);
	memset(&co, 0, sizeof(co));
	co.target = slice_cstr(o->info.a);
	co.from = slice_cstr(o->caller_id);
	co.fn = on_a;
	co.arg = o;
	err = ua_call(u, &co, &o->leg_a);
	if (err) {
		o->leg_a = NULL;
		fail(o, 'a', 500, slice_cstr(err_str(err)));
	} else {
		timer_start(ua_wheel(u), &o->ring,
			    (uint64_t)o->timeout_s * 1000, ring_cb);
	}
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
	err = request_tag_make(t->info.id, sizeof(t->info.id));
	if (err < 0)
		goto out;
	err = pool_post(p, slice_cstr(t->info.id), start_fn, t);
	if (err)
		goto out;
	memcpy(id, t->info.id, ORIGINATE_ID_MAX);
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
