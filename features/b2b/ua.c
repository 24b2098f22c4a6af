/* features/b2b/ua.c - the B2BUA's UA core: UAC legs, their dialogs and
 * transactions on a pool worker */
#include "features/b2b/ua.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <uv.h>

#include "features/b2b/b2b_conf.h"
#include "features/b2b/media.h"
#include "proxy/base/arena.h"
#include "proxy/base/err.h"
#include "proxy/base/hash.h"
#include "proxy/base/log.h"
#include "proxy/base/obj.h"
#include "proxy/base/timer.h"
#include "proxy/core/conf.h"
#include "proxy/core/shard.h"
#include "proxy/core/transport.h"
#include "proxy/proxy_conf.h"
#include "proxy/sip/dialog.h"
#include "proxy/sip/msg.h"
#include "proxy/sip/peer.h"
#include "proxy/sip/rel.h"
#include "proxy/sip/reply.h"
#include "proxy/sip/request.h"
#include "proxy/sip/sdp.h"
#include "proxy/sip/txn.h"

/* Leg buckets per worker, by Call-ID (a power of two). */
#define BUCKETS 1024
/* The wheel: POOL_TICK_MS slots, one turn of about 41 s. */
#define WHEEL_SLOTS 4096

static const char allow_value[] =
    "INVITE, ACK, BYE, CANCEL, OPTIONS, PRACK, UPDATE, INFO";
static const char sdp_type[] = "application/sdp";

enum leg_state {
	LEG_CALLING,	/* INVITE sent, nothing back */
	LEG_RINGING,	/* a 1xx */
	LEG_ANSWERED,	/* a 2xx, not ACKed yet */
	LEG_CONFIRMED,	/* ACKed */
	LEG_CANCELLING, /* ua_hangup() before the 2xx */
	LEG_BYEING,	/* BYE sent */
};

struct ua {
	struct shard *sh;
	struct timer_wheel wheel;
	struct txn_layer *txns;
	struct peer proxy; /* where every request goes */
	bool have_self;
	char host[INET6_ADDRSTRLEN + 2]; /* Via host, "[::1]" for v6 */
	uint16_t port;
	char contact[INET6_ADDRSTRLEN + 40]; /* sip:b2b-N@HOST:PORT */
	struct ua_leg *bucket[BUCKETS];
	struct ua_leg *dead; /* freed at the next tick */
	size_t nlegs;
	const struct ua_app *app[UA_APPS_MAX];
	void *app_state[UA_APPS_MAX];
	struct media *media; /* NULL: none (it did not start) */
};

struct ua_leg {
	struct ua *u;
	struct ua_leg *next;  /* in its bucket */
	struct ua_leg *dnext; /* in u->dead */
	bool dead;
	enum leg_state state;
	char call_id[REQUEST_CALL_ID_MAX];
	size_t call_id_len;
	struct txn *invite;   /* a reference */
	struct txn *bye;      /* a reference, or NULL */
	struct txn *reinvite; /* answered 200, its ACK not yet seen */
	struct dialog *dlg;
	bool sent_offer;
	char *local_sdp, *remote_sdp, *ack, *reason;
	size_t local_sdp_len, remote_sdp_len, ack_len, reason_len;
	ua_event_fn *fn; /* NULL once the application let go */
	void *arg;
	/* ua_reinvite(): our re-INVITE (a reference) while it runs and
	 * after its 2xx (reinv_acked: a retransmitted 2xx gets leg->ack
	 * again), its offer, the 491 retry timer and the retries made. */
	struct txn *reinv;
	bool reinv_acked;
	/* ua_reinvite_offerless(): its 2xx (the peer's offer) waits for
	 * ua_reinvite_ack() (reinv_late: asked so; reinv_held: that 2xx
	 * came, not yet ACKed). */
	bool reinv_late, reinv_held;
	char *reinv_sdp;
	size_t reinv_sdp_len;
	struct timer reinv_timer;
	unsigned reinv_tries;
	/* UAC 100rel (RFC 3262 §4) */
	struct rel_uac relc;
	bool app_prack, prack_wait, got_sdp;
	uint32_t prack_rseq;
	/* UAS legs (below "UAS legs") */
	bool uas, uas_final, invite_sdp, rel_on, offer_sent;
	struct txn *st; /* the server INVITE transaction, a reference */
	struct peer from;
	char to_tag[REQUEST_TAG_MAX];
	size_t to_tag_len;
	struct rel_uas rel;
	char *wait1,
	    *wait2; /* a held 1xx and 2xx (bodies), see ua_uas_respond */
	size_t wait1_len, wait2_len;
	unsigned wait1_status, wait2_status;
	/* ua_uas_set_phrase(): a final's reason phrase, and its status. */
	char *phrase;
	size_t phrase_len;
	unsigned phrase_status;
	ua_srv_fn *sfn;
	/* A 2xx of ours to an INVITE, sent again until its ACK (RFC 3261
	 * §13.3.1.4): its transaction (a reference), bytes, status, the
	 * next interval and the time spent. */
	struct txn *rtx_st;
	char *rtx;
	size_t rtx_len;
	unsigned rtx_status;
	struct timer rtx_timer;
	uint64_t rtx_ms, rtx_spent;
	/* ua_leg_on_request(): the handler, the pending offer (a
	 * re-INVITE's or UPDATE's server transaction, a reference, and its
	 * SDP) and the pending INFO. */
	ua_request_fn *rfn;
	void *rarg;
	struct txn *offer_st, *info_st;
	enum sip_method offer_method;
	char *offer;
	size_t offer_len;
	/* ua_send_request(): the pending one (a reference) and its fn. */
	struct txn *req;
	ua_done_fn *dfn;
	void *darg;
};

static void uas_event(struct ua_leg *leg, enum ua_srv_event_kind kind,
		      struct slice sdp);
static void pending_end(struct ua_leg *leg);
static void rtx_stop(struct ua_leg *leg);
static void uac_provisional(struct ua_leg *leg, const struct sipmsg *m);
static void uas_free(struct ua_leg *leg);
static int uas_request(struct ua *u, const struct peer *from,
		       const struct sipmsg *m);
static int uas_in_dialog(struct ua *u, struct ua_leg *leg, struct txn *st,
			 const struct peer *from, const struct sipmsg *m);
static bool uas_hangup(struct ua_leg *leg);

/* A worker counter: only the worker writes it, readers are relaxed. */
static void count(uint64_t *p)
{
	__atomic_store_n(p, *p + 1, __ATOMIC_RELAXED);
}

static int ua_send(void *ctx, const struct peer *to, const void *buf,
		   size_t len)
{
	const char *b = buf;

	if (len > 12 && !memcmp(b, "SIP/2.0 ", 8) && b[8] >= '1' && b[8] <= '6')
		count(&shard_stats(ctx)->rsp_out[b[8] - '1']);
	return tp_send(ctx, to, buf, len);
}

static unsigned bucket_of(struct slice call_id)
{
	return (unsigned)hash_slice(call_id, 0) & (BUCKETS - 1);
}

static struct slice leg_cid(const struct ua_leg *leg)
{
	return slice_make(leg->call_id, leg->call_id_len);
}

/* Copy @p s into *@p p (malloc'd; empty: NULL). */
static int keep(char **p, size_t *lenp, struct slice s)
{
	char *c = NULL;

	if (s.len) {
		c = malloc(s.len);
		if (!c)
			return -ENOMEM;
		memcpy(c, s.p, s.len);
	}
	free(*p);
	*p = c;
	*lenp = s.len;
	return 0;
}

static void leg_free(struct ua_leg *leg)
{
	struct ua_leg **pp = &leg->u->bucket[bucket_of(leg_cid(leg))];

	while (*pp && *pp != leg)
		pp = &(*pp)->next;
	if (*pp)
		*pp = leg->next;
	leg->u->nlegs--;
	if (leg->invite)
		obj_put(leg->invite);
	if (leg->bye)
		obj_put(leg->bye);
	if (leg->reinvite)
		obj_put(leg->reinvite);
	if (leg->reinv)
		obj_put(leg->reinv);
	timer_stop(&leg->u->wheel, &leg->reinv_timer);
	rtx_stop(leg);
	if (leg->offer_st)
		obj_put(leg->offer_st);
	if (leg->info_st)
		obj_put(leg->info_st);
	if (leg->req)
		obj_put(leg->req);
	free(leg->offer);
	free(leg->reinv_sdp);
	dialog_free(leg->dlg);
	free(leg->local_sdp);
	free(leg->remote_sdp);
	free(leg->ack);
	free(leg->reason);
	free(leg->phrase);
	uas_free(leg);
	free(leg);
}

/* The leg is over: freed at the next tick, so callers up the stack may
 * still hold it. */
static void leg_kill(struct ua_leg *leg)
{
	if (leg->dead)
		return;
	leg->dead = true;
	leg->fn = NULL;
	leg->rfn = NULL;
	leg->dfn = NULL;
	rtx_stop(leg);
	pending_end(leg);
	leg->dnext = leg->u->dead;
	leg->u->dead = leg;
	/* Freed by the next tick, which may be asleep. */
	if (leg->u->sh)
		shard_tick_at(leg->u->sh,
			      uv_now(shard_loop(leg->u->sh)) + POOL_TICK_MS);
}

static void reap(struct ua *u)
{
	while (u->dead) {
		struct ua_leg *leg = u->dead;

		u->dead = leg->dnext;
		leg_free(leg);
	}
}

/* Tell the application; a FAILED or ENDED leg dies after. */
static void event(struct ua_leg *leg, enum ua_event_kind kind, unsigned status,
		  struct slice reason, struct slice sdp)
{
	struct ua_event ev = { kind, status, reason, sdp, false };
	ua_event_fn *fn = leg->fn;
	void *arg = leg->arg;

	if (leg->uas) {
		if (kind == UA_EV_ENDED)
			uas_event(leg, UA_SRV_ENDED, sdp);
		else if (kind == UA_EV_REINVITE && leg->sfn) {
			struct ua_srv_event sev = { UA_SRV_REINVITE, sdp,
						    status };

			leg->sfn(leg, &sev, leg->arg);
		}
		return;
	}
	if (kind == UA_EV_FAILED || kind == UA_EV_ENDED)
		leg_kill(leg);
	if (fn)
		fn(leg, &ev, arg);
}

/* The pool's address for Via and Contact, once the pool runs. */
static int self(struct ua *u)
{
	struct sockaddr_storage ss;
	char ip[INET6_ADDRSTRLEN];
	socklen_t len;
	int err;

	if (u->have_self)
		return 0;
	err = pool_self_addr(&ss, &len);
	if (err)
		return err;
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
		snprintf(u->host, sizeof(u->host), "[%s]", ip);
		u->port = ntohs(a->sin6_port);
	} else {
		const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
		snprintf(u->host, sizeof(u->host), "%s", ip);
		u->port = ntohs(a->sin_port);
	}
	/* sip:b2b-N@HOST:PORT: the peer's requests in our dialogs come
	 * back to this worker whatever their Call-ID (pool_steer()). */
	snprintf(u->contact, sizeof(u->contact), "sip:b2b-%u@%s:%u",
		 shard_id(u->sh), u->host, u->port);
	u->have_self = true;
	return 0;
}

/* The proxy's first UDP listener (an unspecified address: loopback). */
static int proxy_peer(const struct conf *c, struct peer *p)
{
	memset(p, 0, sizeof(*p));
	for (unsigned i = 0; i < c->nlisten; i++) {
		if (!c->listen[i].udp)
			continue;
		p->proto = PEER_UDP;
		p->addr = c->listen[i].addr;
		p->addrlen = c->listen[i].addrlen;
		p->listen_idx = 0; /* the pool's own socket */
		if (p->addr.ss_family == AF_INET) {
			struct sockaddr_in *a = (struct sockaddr_in *)&p->addr;

			if (a->sin_addr.s_addr == htonl(INADDR_ANY))
				a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		} else if (p->addr.ss_family == AF_INET6) {
			struct sockaddr_in6 *a =
			    (struct sockaddr_in6 *)&p->addr;

			if (IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr))
				a->sin6_addr = in6addr_loopback;
		}
		return 0;
	}
	return -ENOENT;
}

struct ua *ua_of(struct shard *sh)
{
	return pool_ua_state(sh);
}

struct media *ua_media(struct ua *u)
{
	return u ? u->media : NULL;
}

struct shard *ua_shard(const struct ua *u)
{
	return u->sh;
}

struct timer_wheel *ua_wheel(struct ua *u)
{
	return &u->wheel;
}

void *ua_app_state(struct ua *u, const struct ua_app *app)
{
	for (unsigned i = 0; u && i < UA_APPS_MAX; i++)
		if (u->app[i] == app)
			return u->app_state[i];
	return NULL;
}

int ua_app_set(struct ua *u, const struct ua_app *app, void *state)
{
	if (ua_app_state(u, app))
		return -EEXIST;
	for (unsigned i = 0; i < UA_APPS_MAX; i++)
		if (!u->app[i]) {
			u->app[i] = app;
			u->app_state[i] = state;
			return 0;
		}
	return -ENOSPC;
}

size_t ua_legs(const struct ua *u)
{
	return u ? u->nlegs : 0;
}

struct slice ua_leg_call_id(const struct ua_leg *leg)
{
	return leg_cid(leg);
}

struct slice ua_leg_local_sdp(const struct ua_leg *leg)
{
	return slice_make(leg->local_sdp, leg->local_sdp_len);
}

const struct dialog *ua_leg_dialog(const struct ua_leg *leg)
{
	return leg->dlg;
}

int ua_call_id_make(unsigned id, unsigned workers, char *buf, size_t size)
{
	unsigned tries = 64 * (workers ? workers : 1);

	for (unsigned i = 0; i < tries; i++) {
		int n = request_call_id_make(slice_make(NULL, 0), buf, size);

		if (n < 0)
			return n;
		if (workers <= 1 ||
		    shard_owner(slice_make(buf, (size_t)n), workers) == id)
			return n;
	}
	return -EAGAIN;
}

/* Find the leg of client transaction @p ct (@p m its response or NULL). */
static struct ua_leg *leg_of_txn(struct ua *u, const struct sipmsg *m,
				 const struct txn *ct)
{
	if (m) {
		for (struct ua_leg *l = u->bucket[bucket_of(m->call_id)]; l;
		     l = l->next)
			if (l->invite == ct || l->bye == ct || l->reinv == ct ||
			    l->req == ct)
				return l;
		return NULL;
	}
	for (unsigned b = 0; b < BUCKETS; b++)
		for (struct ua_leg *l = u->bucket[b]; l; l = l->next)
			if (l->invite == ct || l->bye == ct || l->reinv == ct ||
			    l->req == ct)
				return l;
	return NULL;
}

/* An in-dialog request of @p leg into the worker's arena, its body of
 * type @p ctype. */
static int build_in(struct ua *u, struct dialog *d, enum sip_method method,
		    const struct request_hdr *hdrs, unsigned nhdrs,
		    struct slice ctype, struct slice body, struct slice *outp,
		    char *branch)
{
	struct dialog_req r;

	memset(&r, 0, sizeof(r));
	r.method = method;
	r.via_transport = slice_cstr("UDP");
	r.via_host = slice_cstr(u->host);
	r.via_port = u->port;
	txn_branch_make(u->txns, 0, branch);
	r.branch = slice_cstr(branch);
	r.contact = slice_cstr(u->contact);
	r.hdrs = hdrs;
	r.nhdrs = nhdrs;
	if (body.len) {
		r.content_type = ctype;
		r.body = body;
	}
	return dialog_request(d, &r, shard_arena(u->sh), outp);
}

static int build_ct(struct ua_leg *leg, enum sip_method method,
		    const struct request_hdr *hdrs, unsigned nhdrs,
		    struct slice ctype, struct slice body, struct slice *outp,
		    char *branch)
{
	return build_in(leg->u, leg->dlg, method, hdrs, nhdrs, ctype, body,
			outp, branch);
}

/* build_ct() with an SDP body (or none). */
static int build(struct ua_leg *leg, enum sip_method method,
		 const struct request_hdr *hdrs, unsigned nhdrs,
		 struct slice body, struct slice *outp, char *branch)
{
	return build_ct(leg, method, hdrs, nhdrs, slice_cstr(sdp_type), body,
			outp, branch);
}

static int send_ack(struct ua_leg *leg, struct slice sdp)
{
	char branch[TXN_BRANCH_MAX];
	struct slice out;
	int err;

	err = build(leg, SIP_ACK, NULL, 0, sdp, &out, branch);
	if (!err)
		err = keep(&leg->ack, &leg->ack_len, out);
	if (!err && sdp.len)
		err = keep(&leg->local_sdp, &leg->local_sdp_len, sdp);
	if (err)
		return err;
	leg->state = LEG_CONFIRMED;
	return tp_send(leg->u->sh, &leg->u->proxy, leg->ack, leg->ack_len);
}

static void cli_cb(struct txn *ct, const struct sipmsg *m, unsigned status,
		   void *arg);

/* BYE with the leg's Reason (RFC 3326); the leg dies on its final. */
static void send_bye(struct ua_leg *leg)
{
	struct ua *u = leg->u;
	struct request_hdr h = { slice_cstr("Reason"),
				 slice_make(leg->reason, leg->reason_len) };
	char branch[TXN_BRANCH_MAX];
	struct txn *ct;
	struct slice out;
	int err;

	err = build(leg, SIP_BYE, &h, leg->reason_len ? 1 : 0,
		    slice_make(NULL, 0), &out, branch);
	if (!err)
		err = txn_cli_new(u->txns, NULL, SIP_BYE, &u->proxy,
				  slice_cstr(branch), out.p, out.len, 0, cli_cb,
				  u, &ct);
	if (err) {
		log_msg(LOG_INFO, "b2b %u: BYE not sent: %s", shard_id(u->sh),
			err_str(err));
		leg_kill(leg);
		return;
	}
	leg->bye = obj_get(ct);
	leg->state = LEG_BYEING;
	leg->fn = NULL;
}

/* ACK an answered leg the application let go: a held copy of the peer's
 * offer as the answer when it offered (RFC 3264 §6: every m= line
 * answered; a=inactive, no media flows), nothing when we offered. */
static void ack_held(struct ua_leg *leg)
{
	struct slice body = slice_make(NULL, 0);
	struct sdp s;
	int err;

	if (!leg->sent_offer && leg->remote_sdp_len &&
	    sdp_parse(&s, leg->remote_sdp, leg->remote_sdp_len) == 0 &&
	    sdp_print(&s, SDP_SET_DIR, SDP_INACTIVE, shard_arena(leg->u->sh),
		      &body) != 0)
		body = slice_make(NULL, 0);
	err = send_ack(leg, body);
	if (err)
		log_msg(LOG_INFO, "b2b %u: ACK not sent: %s",
			shard_id(leg->u->sh), err_str(err));
}

/* A 2xx from another fork than the leg's dialog (another To tag), or
 * for a leg that is gone: ACK it and BYE it at once (RFC 3261
 * §13.2.2.4); a leg keeps its own. */
static void fork_2xx(struct ua *u, const struct sipmsg *m)
{
	struct request_hdr h = {
		slice_cstr("Reason"),
		slice_cstr(
		    "SIP ;cause=200 ;text=\"Call completed elsewhere\"")
	};
	char branch[TXN_BRANCH_MAX];
	struct dialog *d = NULL;
	struct slice out, none = slice_make(NULL, 0);
	struct txn *ct;
	int err;

	err = dialog_new_uac(m, false, &d);
	if (!err)
		err =
		    build_in(u, d, SIP_ACK, NULL, 0, none, none, &out, branch);
	if (!err)
		err = tp_send(u->sh, &u->proxy, out.p, out.len);
	if (!err)
		err = build_in(u, d, SIP_BYE, &h, 1, none, none, &out, branch);
	if (!err) {
		/* Nothing waits for its final: the transaction alone. */
		err = txn_cli_new(u->txns, NULL, SIP_BYE, &u->proxy,
				  slice_cstr(branch), out.p, out.len, 0, cli_cb,
				  u, &ct);
	}
	dialog_free(d);
	log_msg(LOG_INFO, "b2b %u: a 2xx from a second fork%s%s",
		shard_id(u->sh), err ? ", not ended: " : " ACKed and BYEd",
		err ? err_str(err) : "");
}

static void on_2xx(struct ua_leg *leg, const struct sipmsg *m)
{
	int err;

	switch (leg->state) {
	case LEG_CALLING:
	case LEG_RINGING:
	case LEG_CANCELLING:
		/* A reliable 1xx made the early dialog (PRACK). */
		err = leg->dlg ? dialog_confirm(leg->dlg, m)
			       : dialog_new_uac(m, false, &leg->dlg);
		if (!err)
			err = keep(&leg->remote_sdp, &leg->remote_sdp_len,
				   m->body);
		if (err) {
			/* No dialog to ACK in: the peer times out. */
			log_msg(LOG_INFO, "b2b %u: unusable 2xx: %s",
				shard_id(leg->u->sh), err_str(err));
			event(leg, UA_EV_FAILED, 502, slice_cstr("Bad Gateway"),
			      slice_make(NULL, 0));
			return;
		}
		if (leg->state == LEG_CANCELLING) {
			/* The 2xx crossed our CANCEL (RFC 3261 §9.1). */
			ack_held(leg);
			send_bye(leg);
			return;
		}
		leg->state = LEG_ANSWERED;
		event(leg, UA_EV_ANSWERED, m->status, m->reason, m->body);
		return;
	case LEG_ANSWERED:
		/* Retransmitted while the application decides, or another
		 * fork's. */
		if (leg->dlg && !dialog_is_match(leg->dlg, m))
			fork_2xx(leg->u, m);
		return;
	case LEG_CONFIRMED:
	case LEG_BYEING:
		/* RFC 3261 §13.2.2.4: each retransmitted 2xx is ACKed. */
		if (leg->dlg && !dialog_is_match(leg->dlg, m))
			fork_2xx(leg->u, m);
		else if (leg->ack && leg->dlg)
			(void)tp_send(leg->u->sh, &leg->u->proxy, leg->ack,
				      leg->ack_len);
		return;
	}
}

static void reinv_response(struct ua_leg *leg, const struct sipmsg *m,
			   unsigned status);

static void cli_cb(struct txn *ct, const struct sipmsg *m, unsigned status,
		   void *arg)
{
	struct ua *u = arg;
	struct ua_leg *leg = leg_of_txn(u, m, ct);

	if (!leg || leg->dead) {
		/* A 2xx of a leg that ended meanwhile (another fork's, which
		 * crossed its end): the callee waits for an ACK. */
		if (m && status >= 200 && status < 300 &&
		    txn_method(ct) == SIP_INVITE &&
		    !(leg && leg->dlg && dialog_is_match(leg->dlg, m)))
			fork_2xx(u, m);
		return;
	}
	if (ct == leg->bye) {
		if (status >= 200)
			leg_kill(leg);
		return;
	}
	if (ct == leg->reinv) {
		reinv_response(leg, m, status);
		return;
	}
	if (ct == leg->req) {
		ua_done_fn *fn = leg->dfn;
		void *darg = leg->darg;

		if (status < 200)
			return;
		obj_put(leg->req);
		leg->req = NULL;
		leg->dfn = NULL;
		if (fn)
			fn(leg, status,
			   m ? m->reason : slice_cstr(reply_reason(status)),
			   darg);
		return;
	}
	if (!m) {
		event(leg, UA_EV_FAILED, status,
		      slice_cstr(reply_reason(status)), slice_make(NULL, 0));
		return;
	}
	if (status < 200) {
		if (status > 100 &&
		    (leg->state == LEG_CALLING || leg->state == LEG_RINGING))
			uac_provisional(leg, m);
		return;
	}
	if (status < 300) {
		on_2xx(leg, m);
		return;
	}
	if (leg->state == LEG_CALLING || leg->state == LEG_RINGING ||
	    leg->state == LEG_CANCELLING)
		event(leg, UA_EV_FAILED, status, m->reason,
		      slice_make(NULL, 0));
}

int ua_call(struct ua *u, const struct ua_call_opts *o, struct ua_leg **legp)
{
	const struct conf *c;
	struct request_hdr h[2 + UA_CALL_HDRS_MAX];
	struct request_opts r;
	char tag[REQUEST_TAG_MAX], branch[TXN_BRANCH_MAX];
	struct ua_leg *leg = NULL;
	struct slice out;
	struct txn *ct;
	unsigned workers;
	int err, n;

	if (!u || !o || !o->fn || !o->target.len ||
	    o->target.len > UA_URI_MAX || o->from.len > UA_URI_MAX ||
	    o->call_id.len >= REQUEST_CALL_ID_MAX ||
	    o->nhdrs > UA_CALL_HDRS_MAX || (o->nhdrs && !o->hdrs))
		return -EINVAL;
	err = self(u);
	if (err)
		return err;
	c = shard_conf(u->sh);
	workers = b2b_conf(c)->workers;
	if (o->call_id.len && workers > 1 &&
	    shard_owner(o->call_id, workers) != shard_id(u->sh))
		return -EINVAL;
	leg = calloc(1, sizeof(*leg));
	if (!leg)
		return -ENOMEM;
	leg->u = u;
	if (o->call_id.len) {
		memcpy(leg->call_id, o->call_id.p, o->call_id.len);
		leg->call_id_len = o->call_id.len;
	} else {
		n = ua_call_id_make(shard_id(u->sh), workers, leg->call_id,
				    sizeof(leg->call_id));
		if (n < 0) {
			err = n;
			goto out;
		}
		leg->call_id_len = (size_t)n;
	}
	n = request_tag_make(tag, sizeof(tag));
	if (n < 0) {
		err = n;
		goto out;
	}
	txn_branch_make(u->txns, 0, branch);
	h[0].name = slice_cstr("Allow");
	h[0].value = slice_cstr(allow_value);
	memset(&r, 0, sizeof(r));
	r.method = SIP_INVITE;
	r.ruri = o->target;
	r.to_uri = o->target;
	r.from_uri = o->from.len ? o->from : slice_cstr(u->contact);
	r.from_display = o->from_display;
	r.from_tag = slice_make(tag, (size_t)n);
	r.call_id = leg_cid(leg);
	r.cseq = 1;
	r.max_forwards = o->max_forwards;
	r.via_transport = slice_cstr("UDP");
	r.via_host = slice_cstr(u->host);
	r.via_port = u->port;
	r.branch = slice_cstr(branch);
	r.contact = slice_cstr(u->contact);
	r.hdrs = h;
	r.nhdrs = 1;
	if (o->rel100 == REL_OFFER_SUPPORTED ||
	    o->rel100 == REL_OFFER_REQUIRE) {
		h[1].name = slice_cstr(
		    o->rel100 == REL_OFFER_REQUIRE ? "Require" : "Supported");
		h[1].value = slice_cstr(REL_TAG);
		r.nhdrs = 2;
	}
	for (unsigned i = 0; i < o->nhdrs; i++)
		h[r.nhdrs++] = o->hdrs[i];
	if (o->sdp.len) {
		r.content_type = slice_cstr(sdp_type);
		r.body = o->sdp;
		leg->sent_offer = true;
		err = keep(&leg->local_sdp, &leg->local_sdp_len, o->sdp);
		if (err)
			goto out;
	}
	err = request_build(&r, shard_arena(u->sh), &out);
	if (err)
		goto out;
	err =
	    txn_cli_new(u->txns, NULL, SIP_INVITE, &u->proxy,
			slice_cstr(branch), out.p, out.len, 0, cli_cb, u, &ct);
	if (err)
		goto out;
	leg->invite = obj_get(ct);
	leg->fn = o->fn;
	leg->arg = o->arg;
	leg->app_prack = o->app_prack;
	leg->next = u->bucket[bucket_of(leg_cid(leg))];
	u->bucket[bucket_of(leg_cid(leg))] = leg;
	u->nlegs++;
	*legp = leg;
	leg = NULL;
out:
	if (leg) {
		free(leg->local_sdp);
		free(leg);
	}
	return err;
}

int ua_ack(struct ua_leg *leg, struct slice sdp)
{
	if (!leg || leg->dead || leg->state != LEG_ANSWERED)
		return -EINVAL;
	return send_ack(leg, sdp);
}

int ua_leg_restore(struct ua *u, const struct dialog *d, struct slice local_sdp,
		   ua_event_fn *fn, void *arg, struct ua_leg **legp)
{
	struct ua_leg *leg;
	int err;

	if (!u || !d || !fn || !d->call_id.len ||
	    d->call_id.len >= REQUEST_CALL_ID_MAX)
		return -EINVAL;
	err = self(u);
	if (err)
		return err;
	for (struct ua_leg *l = u->bucket[bucket_of(d->call_id)]; l;
	     l = l->next)
		if (!l->dead && l->dlg && slice_eq(l->dlg->call_id, d->call_id))
			return -EEXIST;
	leg = calloc(1, sizeof(*leg));
	if (!leg)
		return -ENOMEM;
	leg->u = u;
	memcpy(leg->call_id, d->call_id.p, d->call_id.len);
	leg->call_id_len = d->call_id.len;
	err = dialog_restore(d, &leg->dlg);
	if (!err)
		err = keep(&leg->local_sdp, &leg->local_sdp_len, local_sdp);
	if (err) {
		dialog_free(leg->dlg);
		free(leg->local_sdp);
		free(leg);
		return err;
	}
	leg->state = LEG_CONFIRMED;
	leg->fn = fn;
	leg->arg = arg;
	leg->next = u->bucket[bucket_of(leg_cid(leg))];
	u->bucket[bucket_of(leg_cid(leg))] = leg;
	u->nlegs++;
	*legp = leg;
	return 0;
}

void ua_leg_drop(struct ua_leg *leg)
{
	if (!leg || leg->dead)
		return;
	leg->sfn = NULL;
	leg_kill(leg);
}

void ua_hangup(struct ua_leg *leg, struct slice reason)
{
	if (!leg || leg->dead || (!leg->fn && !leg->sfn))
		return;
	leg->fn = NULL;
	leg->rfn = NULL;
	leg->dfn = NULL;
	/* An offerless re-INVITE's 2xx is ACKed before the BYE (RFC 3261
	 * §13.2.2.4), without an answer. */
	if (leg->reinv_held)
		(void)ua_reinvite_ack(leg, slice_make(NULL, 0));
	pending_end(leg);
	if (reason.len && request_is_line_safe(reason) &&
	    keep(&leg->reason, &leg->reason_len, reason))
		leg->reason_len = 0;
	if (uas_hangup(leg))
		return;
	switch (leg->state) {
	case LEG_CALLING:
	case LEG_RINGING:
		/* The INVITE's final (487, or a 2xx that crossed) ends it. */
		leg->state = LEG_CANCELLING;
		if (txn_cli_cancel(leg->invite))
			log_msg(LOG_INFO, "b2b %u: CANCEL not sent",
				shard_id(leg->u->sh));
		return;
	case LEG_ANSWERED:
		ack_held(leg);
		send_bye(leg);
		return;
	case LEG_CONFIRMED:
		send_bye(leg);
		return;
	case LEG_CANCELLING:
	case LEG_BYEING:
		return;
	}
}

/* Answer request @p m of server transaction @p st with a body of type
 * @p ctype; *@p outp (may be NULL): the bytes sent, in the arena. */
static int respond_ct(struct ua *u, struct txn *st, const struct peer *from,
		      const struct sipmsg *m, unsigned status,
		      struct slice extra, struct slice ctype, struct slice body,
		      struct slice *outp)
{
	struct reply_opts o;
	struct slice out;
	int err;

	memset(&o, 0, sizeof(o));
	o.status = status;
	o.server = slice_cstr(shard_conf(u->sh)->server_name);
	o.extra = extra;
	if (body.len) {
		o.content_type = ctype;
		o.body = body;
	}
	err = reply_build(m, (const struct sockaddr *)&from->addr, &o,
			  shard_arena(u->sh), &out);
	if (!err)
		err = txn_srv_respond(st, status, out.p, out.len);
	if (!err && outp)
		*outp = out;
	return err;
}

/* respond_ct() with an SDP body (or none). */
static int respond(struct ua *u, struct txn *st, const struct peer *from,
		   const struct sipmsg *m, unsigned status, struct slice extra,
		   struct slice body)
{
	return respond_ct(u, st, from, m, status, extra, slice_cstr(sdp_type),
			  body, NULL);
}

/* "Contact: <...>\r\nAllow: ...\r\n" in the arena. */
static struct slice contact_allow(struct ua *u)
{
	size_t size = strlen(u->contact) + sizeof(allow_value) + 32;
	char *p = arena_alloc(shard_arena(u->sh), size);
	int n;

	if (!p)
		return slice_make(NULL, 0);
	n = snprintf(p, size, "Contact: <%s>\r\nAllow: %s\r\n", u->contact,
		     allow_value);
	return slice_make(p, n > 0 && (size_t)n < size ? (size_t)n : 0);
}

static struct ua_leg *leg_of_request(struct ua *u, const struct sipmsg *m)
{
	for (struct ua_leg *l = u->bucket[bucket_of(m->call_id)]; l;
	     l = l->next)
		if (!l->dead && l->dlg && dialog_is_match(l->dlg, m))
			return l;
	return NULL;
}

/* ---- In-dialog offers and INFO (RFC 3261 §14.2, RFC 3311, RFC 6086) */

static void rtx_cb(struct timer *t);

/* The proxy's T1 and T2 for this worker, in ms. */
static void timers(const struct ua *u, uint64_t *t1, uint64_t *t2)
{
	const struct proxy_conf *pc = proxy_conf(shard_conf(u->sh));

	*t1 = pc->t1_ms ? pc->t1_ms : 500;
	*t2 = pc->t2_ms ? pc->t2_ms : 4000;
}

static void rtx_stop(struct ua_leg *leg)
{
	timer_stop(&leg->u->wheel, &leg->rtx_timer);
	if (leg->rtx_st)
		obj_put(leg->rtx_st);
	leg->rtx_st = NULL;
	free(leg->rtx);
	leg->rtx = NULL;
	leg->rtx_len = 0;
}

/* Send 2xx @p out of server transaction @p st again until its ACK. */
static int rtx_start(struct ua_leg *leg, struct txn *st, unsigned status,
		     struct slice out)
{
	uint64_t t1, t2;
	int err;

	rtx_stop(leg);
	err = keep(&leg->rtx, &leg->rtx_len, out);
	if (err)
		return err;
	timers(leg->u, &t1, &t2);
	leg->rtx_st = obj_get(st);
	leg->rtx_status = status;
	leg->rtx_ms = t1;
	leg->rtx_spent = 0;
	timer_start(&leg->u->wheel, &leg->rtx_timer, t1, rtx_cb);
	return 0;
}

/* No ACK for our 2xx in 64*T1: the dialog is confirmed but the session
 * ends (RFC 3261 §13.3.1.4): BYE, and the application hears ENDED. */
static void no_ack(struct ua_leg *leg)
{
	static const char why[] = "SIP ;cause=408 ;text=\"No ACK\"";
	ua_event_fn *fn = leg->fn;
	ua_srv_fn *sfn = leg->sfn;
	void *arg = leg->arg;

	rtx_stop(leg);
	log_msg(LOG_INFO, "b2b %u: no ACK for our 2xx in 64*T1: BYE",
		shard_id(leg->u->sh));
	if (keep(&leg->reason, &leg->reason_len, slice_cstr(why)))
		leg->reason_len = 0;
	leg->sfn = NULL;
	leg->state = LEG_CONFIRMED;
	send_bye(leg); /* the leg dies on the BYE's final */
	if (sfn) {
		struct ua_srv_event ev = { UA_SRV_ENDED, slice_make(NULL, 0),
					   0 };

		sfn(leg, &ev, arg);
	} else if (fn) {
		struct ua_event ev = { UA_EV_ENDED, 0, slice_make(NULL, 0),
				       slice_make(NULL, 0), false };

		fn(leg, &ev, arg);
	}
}

static void rtx_cb(struct timer *t)
{
	struct ua_leg *leg =
	    (struct ua_leg *)((char *)t - offsetof(struct ua_leg, rtx_timer));
	uint64_t t1, t2;

	if (leg->dead || !leg->rtx_st)
		return;
	timers(leg->u, &t1, &t2);
	leg->rtx_spent += leg->rtx_ms;
	if (leg->rtx_spent >= 64 * t1) {
		no_ack(leg);
		arena_reset(shard_arena(leg->u->sh));
		return;
	}
	(void)txn_srv_respond(leg->rtx_st, leg->rtx_status, leg->rtx,
			      leg->rtx_len);
	leg->rtx_ms = leg->rtx_ms * 2 < t2 ? leg->rtx_ms * 2 : t2;
	timer_start(&leg->u->wheel, &leg->rtx_timer, leg->rtx_ms, rtx_cb);
}

/* True when @p offer is a new offer: another o= origin or version than
 * the peer's last SDP (RFC 3264 §8); an unchanged one refreshes. */
static bool is_new_offer(const struct ua_leg *leg, struct slice offer)
{
	struct sdp x, y;

	if (!leg->remote_sdp_len ||
	    sdp_parse(&x, leg->remote_sdp, leg->remote_sdp_len) ||
	    sdp_parse(&y, offer.p, offer.len))
		return true;
	return !slice_eq(x.o_user, y.o_user) ||
	       !slice_eq(x.o_sess_id, y.o_sess_id) ||
	       !slice_eq(x.o_version, y.o_version);
}

static struct slice content_type(const struct sipmsg *m)
{
	const struct siphdr *h = sipmsg_hdr(m, HDR_CONTENT_TYPE);

	return h ? h->value : slice_make(NULL, 0);
}

/* Hand request @p m (pending on the leg now) to the application. */
static void to_app(struct ua_leg *leg, const struct sipmsg *m)
{
	struct ua_request rq = { m->method, content_type(m), m->body };

	leg->rfn(leg, &rq, leg->rarg);
}

/* A re-INVITE or UPDATE in a known dialog. */
static int offer_in(struct ua *u, struct ua_leg *leg, struct txn *st,
		    const struct peer *from, const struct sipmsg *m)
{
	struct slice none = slice_make(NULL, 0), out;
	int err;

	/* RFC 3261 §14.2, RFC 3311 §5.2: one offer at a time (ours
	 * pending too: glare); none before our ACK went (the first
	 * exchange is not done). An UPDATE without a body has no offer. */
	if ((m->method == SIP_INVITE || m->body.len) &&
	    (leg->reinvite || leg->offer_st || leg->state != LEG_CONFIRMED ||
	     ua_reinvite_pending(leg))) {
		err = respond(u, st, from, m, 491, none, none);
		return err ? err : POOL_UA_DONE;
	}
	(void)dialog_refresh(leg->dlg, m); /* both refresh the target */
	if (m->body.len && leg->rfn && is_new_offer(leg, m->body)) {
		err = keep(&leg->offer, &leg->offer_len, m->body);
		if (err) {
			(void)respond(u, st, from, m, 500, none, none);
			return POOL_UA_DONE;
		}
		leg->offer_st = obj_get(st);
		leg->offer_method = m->method;
		to_app(leg, m);
		return POOL_UA_DONE;
	}
	/* A session refresh (RFC 4028), an offerless re-INVITE (our SDP
	 * is the offer, its ACK the answer), or no handler: our SDP. */
	if (m->method == SIP_UPDATE) {
		err = respond(
		    u, st, from, m, 200, contact_allow(u),
		    m->body.len ? slice_make(leg->local_sdp, leg->local_sdp_len)
				: none);
		return err ? err : POOL_UA_DONE;
	}
	err = respond_ct(u, st, from, m, 200, contact_allow(u),
			 slice_cstr(sdp_type),
			 slice_make(leg->local_sdp, leg->local_sdp_len), &out);
	if (!err) {
		leg->reinvite = obj_get(st);
		err = rtx_start(leg, st, 200, out);
	}
	return err ? err : POOL_UA_DONE;
}

/* The request server transaction @p st holds, parsed in the arena. */
static int st_request(struct ua *u, struct txn *st, struct sipmsg *m)
{
	const struct conf *c = shard_conf(u->sh);
	unsigned max = c->max_headers ? c->max_headers : 128;
	struct siphdr *h = arena_alloc(shard_arena(u->sh), max * sizeof(*h));
	struct slice raw = txn_srv_request(st);

	if (!h)
		return -ENOMEM;
	if (sipmsg_parse(m, raw.p, raw.len, h, max, 0) < 0)
		return -EBADMSG;
	return 0;
}

void ua_leg_on_request(struct ua_leg *leg, ua_request_fn *fn, void *arg)
{
	if (!leg || leg->dead)
		return;
	leg->rfn = fn;
	leg->rarg = arg;
}

int ua_answer(struct ua_leg *leg, enum sip_method method, unsigned status,
	      struct slice body)
{
	struct slice none = slice_make(NULL, 0), out;
	struct ua *u;
	struct txn *st;
	struct sipmsg m;
	bool offer = method != SIP_INFO;
	int err;

	if (!leg || leg->dead || status < 200 || status > 699)
		return -EINVAL;
	u = leg->u;
	st = offer ? (leg->offer_method == method ? leg->offer_st : NULL)
		   : leg->info_st;
	if (!st || (offer && status < 300 && !body.len))
		return -EINVAL;
	if (offer)
		leg->offer_st = NULL;
	else
		leg->info_st = NULL;
	err = st_request(u, st, &m);
	if (err) {
		obj_put(st);
		return err;
	}
	if (!offer || status >= 300) {
		err = respond(u, st, txn_peer(st), &m, status, none,
			      offer ? none : body);
		obj_put(st);
		return err;
	}
	err = respond_ct(u, st, txn_peer(st), &m, status, contact_allow(u),
			 slice_cstr(sdp_type), body, &out);
	if (!err)
		err = keep(&leg->local_sdp, &leg->local_sdp_len, body);
	if (!err)
		err = keep(&leg->remote_sdp, &leg->remote_sdp_len,
			   slice_make(leg->offer, leg->offer_len));
	if (!err && method == SIP_INVITE) {
		leg->reinvite = obj_get(st);
		err = rtx_start(leg, st, status, out);
	}
	if (err)
		(void)respond(u, st, txn_peer(st), &m, 500, none, none);
	obj_put(st);
	return err;
}

/* The leg ends: answer what the application still holds (487). */
static void pending_end(struct ua_leg *leg)
{
	struct txn *st[2] = { leg->offer_st, leg->info_st };
	struct slice none = slice_make(NULL, 0);
	struct sipmsg m;

	leg->offer_st = leg->info_st = NULL;
	for (unsigned i = 0; i < 2; i++) {
		if (!st[i])
			continue;
		if (!st_request(leg->u, st[i], &m))
			(void)respond(leg->u, st[i], txn_peer(st[i]), &m, 487,
				      none, none);
		obj_put(st[i]);
	}
}

int ua_offer_for(const struct ua_leg *leg, struct slice sdp, struct slice *outp)
{
	struct sdp mine, in;
	char *p, ver[24];
	unsigned long long v;
	size_t head, tail, olen;
	int n;

	if (!leg || sdp_parse(&in, sdp.p, sdp.len))
		return -EINVAL;
	if (!leg->local_sdp_len ||
	    sdp_parse(&mine, leg->local_sdp, leg->local_sdp_len)) {
		*outp = sdp;
		return 0;
	}
	v = 0;
	for (size_t i = 0; i < mine.o_version.len && i < 19; i++)
		if (mine.o_version.p[i] >= '0' && mine.o_version.p[i] <= '9')
			v = v * 10 + (unsigned)(mine.o_version.p[i] - '0');
	n = snprintf(ver, sizeof(ver), "%llu", v + 1);
	if (n <= 0 || (size_t)n >= sizeof(ver))
		return -EINVAL;
	/* o=<user> <sess-id> <version> <nettype> <addrtype> <addr> */
	head = (size_t)(in.o_user.p - sdp.p);
	tail = sdp.len - (size_t)(in.o_addr.p + in.o_addr.len - sdp.p);
	olen = mine.o_user.len + mine.o_sess_id.len + (size_t)n +
	       mine.o_nettype.len + mine.o_addrtype.len + mine.o_addr.len + 5;
	p = arena_alloc(shard_arena(leg->u->sh), head + olen + tail + 1);
	if (!p)
		return -ENOMEM;
	memcpy(p, sdp.p, head);
	n = snprintf(p + head, olen + 1, "%.*s %.*s %s %.*s %.*s %.*s",
		     (int)mine.o_user.len, mine.o_user.p,
		     (int)mine.o_sess_id.len, mine.o_sess_id.p, ver,
		     (int)mine.o_nettype.len, mine.o_nettype.p,
		     (int)mine.o_addrtype.len, mine.o_addrtype.p,
		     (int)mine.o_addr.len, mine.o_addr.p);
	if (n < 0 || (size_t)n != olen)
		return -EINVAL;
	memcpy(p + head + olen, sdp.p + sdp.len - tail, tail);
	*outp = slice_make(p, head + olen + tail);
	return 0;
}

int ua_send_request(struct ua_leg *leg, enum sip_method method,
		    struct slice content_type, struct slice body,
		    ua_done_fn *fn, void *arg)
{
	char branch[TXN_BRANCH_MAX];
	struct slice out;
	struct txn *ct;
	int err;

	if (!leg || leg->dead || !leg->dlg || method == SIP_INVITE ||
	    method == SIP_ACK || method == SIP_CANCEL || method == SIP_BYE ||
	    method == SIP_PRACK || method == SIP_METHOD_OTHER ||
	    (body.len &&
	     (!content_type.len || !request_is_line_safe(content_type))) ||
	    (leg->state != LEG_CONFIRMED && leg->state != LEG_ANSWERED &&
	     leg->state != LEG_RINGING))
		return -EINVAL;
	if (leg->req)
		return -EBUSY;
	err = build_ct(leg, method, NULL, 0, content_type, body, &out, branch);
	if (!err)
		err = txn_cli_new(leg->u->txns, NULL, method, &leg->u->proxy,
				  slice_cstr(branch), out.p, out.len, 0, cli_cb,
				  leg->u, &ct);
	if (err)
		return err;
	leg->req = obj_get(ct);
	leg->dfn = fn;
	leg->darg = arg;
	return 0;
}

/* ---- Other requests (ua_add_other()) ---- */

static ua_other_fn *others[UA_OTHER_MAX];

int ua_add_other(ua_other_fn *fn)
{
	if (!fn)
		return -EINVAL;
	for (unsigned i = 0; i < UA_OTHER_MAX; i++) {
		if (others[i] == fn)
			return 0;
		if (!others[i]) {
			others[i] = fn;
			return 0;
		}
	}
	return -ENOSPC;
}

void ua_clear_other(void)
{
	memset(others, 0, sizeof(others));
}

static int other(struct ua *u, const struct peer *from, const struct sipmsg *m)
{
	for (unsigned i = 0; i < UA_OTHER_MAX && others[i]; i++) {
		int ret = others[i](u, from, m);

		if (ret != POOL_UA_PASS)
			return ret;
	}
	return POOL_UA_PASS;
}

int ua_srv_txn(struct ua *u, const struct peer *from, const struct sipmsg *m,
	       struct txn **stp)
{
	struct txn *st = txn_srv_find(u->txns, m, m->method);
	int err;

	if (st) {
		(void)txn_srv_absorb(st, m);
		*stp = NULL;
		return 0;
	}
	err = txn_srv_new(u->txns, m, from, 0, &st);
	if (!err)
		*stp = st;
	return err;
}

int ua_srv_respond(struct ua *u, struct txn *st, const struct peer *from,
		   const struct sipmsg *m, unsigned status, struct slice to_tag,
		   struct slice extra, struct slice ctype, struct slice body)
{
	struct reply_opts o;
	struct slice out;
	int err;

	memset(&o, 0, sizeof(o));
	o.status = status;
	o.to_tag = to_tag;
	o.server = slice_cstr(shard_conf(u->sh)->server_name);
	o.extra = extra;
	if (body.len) {
		o.content_type = ctype;
		o.body = body;
	}
	err = reply_build(m, (const struct sockaddr *)&from->addr, &o,
			  shard_arena(u->sh), &out);
	if (!err)
		err = txn_srv_respond(st, status, out.p, out.len);
	return err;
}

struct slice ua_contact(struct ua *u)
{
	if (self(u))
		return slice_make(NULL, 0);
	return slice_cstr(u->contact);
}

int ua_send_in_dialog(struct ua *u, struct dialog *d, enum sip_method method,
		      const struct request_hdr *hdrs, unsigned nhdrs,
		      struct slice ctype, struct slice body, unsigned tag,
		      txn_cli_fn *fn, void *arg)
{
	char branch[TXN_BRANCH_MAX];
	struct slice out;
	struct txn *ct;
	int err;

	if (method == SIP_INVITE || method == SIP_ACK || method == SIP_CANCEL)
		return -EINVAL;
	err = self(u);
	if (!err)
		err = build_in(u, d, method, hdrs, nhdrs, ctype, body, &out,
			       branch);
	if (!err)
		err = txn_cli_new(u->txns, NULL, method, &u->proxy,
				  slice_cstr(branch), out.p, out.len, tag, fn,
				  arg, &ct);
	return err;
}

int ua_send_out(struct ua *u, const struct ua_out_opts *o)
{
	char tag[REQUEST_TAG_MAX], branch[TXN_BRANCH_MAX];
	char cid[REQUEST_CALL_ID_MAX];
	struct request_opts r;
	struct slice out;
	struct txn *ct;
	int err, n, t;

	if (!u || !o || o->method == SIP_INVITE || o->method == SIP_ACK ||
	    o->method == SIP_CANCEL || o->method == SIP_BYE ||
	    o->method == SIP_PRACK || o->method == SIP_METHOD_OTHER ||
	    !o->target.len || o->target.len > UA_URI_MAX ||
	    o->from.len > UA_URI_MAX || o->nhdrs > UA_CALL_HDRS_MAX ||
	    (o->nhdrs && !o->hdrs))
		return -EINVAL;
	err = self(u);
	if (err)
		return err;
	/* The Call-ID this worker owns: the response comes back here. */
	n = ua_call_id_make(shard_id(u->sh),
			    b2b_conf(shard_conf(u->sh))->workers, cid,
			    sizeof(cid));
	if (n < 0)
		return n;
	t = request_tag_make(tag, sizeof(tag));
	if (t < 0)
		return t;
	txn_branch_make(u->txns, 0, branch);
	memset(&r, 0, sizeof(r));
	r.method = o->method;
	r.ruri = o->target;
	r.to_uri = o->target;
	r.from_uri = o->from.len ? o->from : slice_cstr(u->contact);
	r.from_display = o->from_display;
	r.from_tag = slice_make(tag, (size_t)t);
	r.call_id = slice_make(cid, (size_t)n);
	r.cseq = 1;
	r.via_transport = slice_cstr("UDP");
	r.via_host = slice_cstr(u->host);
	r.via_port = u->port;
	r.branch = slice_cstr(branch);
	r.hdrs = o->hdrs;
	r.nhdrs = o->nhdrs;
	if (o->body.len) {
		r.content_type = o->content_type;
		r.body = o->body;
	}
	err = request_build(&r, shard_arena(u->sh), &out);
	if (!err)
		err = txn_cli_new(u->txns, NULL, o->method, &u->proxy,
				  slice_cstr(branch), out.p, out.len, 0, NULL,
				  NULL, &ct);
	return err;
}

static int ua_request(struct shard *sh, void *state, const struct peer *from,
		      const struct sipmsg *m)
{
	struct ua *u = state;
	struct ua_leg *leg;
	struct txn *st;
	int err;

	if (u && (m->method == SIP_CANCEL || m->method == SIP_ACK ||
		  (!m->to_tag.len && m->method == SIP_INVITE))) {
		err = uas_request(u, from, m);
		if (err != POOL_UA_PASS)
			return err;
	}
	if (u && m->method != SIP_ACK && m->method != SIP_CANCEL &&
	    (m->to_tag.len
		 ? !leg_of_request(u, m)
		 : m->method != SIP_INVITE && m->method != SIP_OPTIONS))
		return other(u, from, m);
	if (!u || !m->to_tag.len)
		return POOL_UA_PASS;
	(void)sh;
	leg = leg_of_request(u, m);
	if (!leg)
		return POOL_UA_PASS; /* 481 (RFC 3261 §12.2.2) */
	if (m->method == SIP_ACK) {
		/* The ACK of our 200 to a re-INVITE (RFC 3261 §13.3.1.4). */
		if (leg->reinvite && m->cseq == leg->dlg->remote_cseq) {
			obj_put(leg->reinvite);
			leg->reinvite = NULL;
			rtx_stop(leg);
		} else if (leg->uas && leg->st) {
			uas_in_dialog(u, leg, NULL, from, m);
		}
		return POOL_UA_DONE;
	}
	st = txn_srv_find(u->txns, m, m->method);
	if (st) {
		(void)txn_srv_absorb(st, m);
		return POOL_UA_DONE;
	}
	err = txn_srv_new(u->txns, m, from, 0, &st);
	if (err)
		return err;
	if (dialog_check_cseq(leg->dlg, m) == -ERANGE)
		return respond(u, st, from, m, 500, slice_make(NULL, 0),
			       slice_make(NULL, 0));
	if (m->method == SIP_PRACK)
		return uas_in_dialog(u, leg, st, from, m);
	switch (m->method) {
	case SIP_BYE:
		err = respond(u, st, from, m, 200, slice_make(NULL, 0),
			      slice_make(NULL, 0));
		if (leg->state != LEG_BYEING)
			event(leg, UA_EV_ENDED, 0, slice_make(NULL, 0),
			      slice_make(NULL, 0));
		leg_kill(leg);
		return err ? err : POOL_UA_DONE;
	case SIP_INVITE:
	case SIP_UPDATE:
		return offer_in(u, leg, st, from, m);
	case SIP_INFO:
		if (!leg->rfn)
			break;
		if (leg->info_st) {
			err = respond(u, st, from, m, 500,
				      slice_cstr("Retry-After: 1\r\n"),
				      slice_make(NULL, 0));
			return err ? err : POOL_UA_DONE;
		}
		leg->info_st = obj_get(st);
		to_app(leg, m);
		return POOL_UA_DONE;
	case SIP_OPTIONS:
		err = respond(u, st, from, m, 200, contact_allow(u),
			      slice_make(NULL, 0));
		return err ? err : POOL_UA_DONE;
	default:
		break;
	}
	err =
	    respond(u, st, from, m, 501, contact_allow(u), slice_make(NULL, 0));
	return err ? err : POOL_UA_DONE;
}

static bool ua_response(struct shard *sh, void *state, const struct peer *from,
			const struct sipmsg *m)
{
	struct ua *u = state;
	struct txn *ct;

	(void)sh;
	(void)from;
	if (!u)
		return false;
	ct = txn_cli_find(u->txns, m);
	if (ct) {
		txn_cli_receive(ct, m);
		return true;
	}
	/* A 2xx retransmitted after the transaction ended (Timer M). */
	if (m->status >= 200 && m->status < 300 && m->cseq_method == SIP_INVITE)
		for (struct ua_leg *l = u->bucket[bucket_of(m->call_id)]; l;
		     l = l->next)
			if (!l->dead && l->dlg && l->ack &&
			    dialog_is_match(l->dlg, m)) {
				(void)tp_send(u->sh, &u->proxy, l->ack,
					      l->ack_len);
				return true;
			}
	return false;
}

static uint64_t ua_tick(struct shard *sh, void *state, uint64_t now_ms)
{
	struct ua *u = state;

	if (!u)
		return SHARD_TICK_NONE;
	timer_advance(&u->wheel, now_ms);
	reap(u);
	__atomic_store_n(&shard_stats(sh)->txns, (uint64_t)txn_count(u->txns),
			 __ATOMIC_RELAXED);
	arena_reset(shard_arena(sh));
	/* Asleep until the next timer (issue #14). */
	return timer_next_due(&u->wheel);
}

/* The wheel's watch: the worker's loop clock and one-shot tick. */
static uint64_t wheel_clock(void *arg)
{
	return uv_now(shard_loop(arg));
}

static void wheel_alarm(void *arg, uint64_t at_ms)
{
	shard_tick_at(arg, at_ms);
}

static void ua_free_state(void *state)
{
	struct ua *u = state;

	if (!u)
		return;
	for (unsigned b = 0; b < BUCKETS; b++)
		while (u->bucket[b]) {
			struct ua_leg *leg = u->bucket[b];

			leg->dead = true;
			leg_free(leg);
		}
	for (unsigned i = 0; i < UA_APPS_MAX; i++)
		if (u->app[i] && u->app[i]->free)
			u->app[i]->free(u->app_state[i]);
	txn_layer_free(u->txns);
	timer_wheel_fini(&u->wheel);
	free(u);
}

static int ua_new_state(struct shard *sh, uint64_t now_ms, void **statep)
{
	const struct conf *c = shard_conf(sh);
	const struct proxy_conf *pc = proxy_conf(c);
	struct media_opts mo;
	struct txn_cfg tc;
	struct ua *u;
	int err;

	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->sh = sh;
	err = proxy_peer(c, &u->proxy);
	if (!err)
		err = timer_wheel_init(&u->wheel, POOL_TICK_MS, WHEEL_SLOTS,
				       now_ms);
	if (err)
		goto out;
	timer_wheel_watch(&u->wheel, wheel_clock, wheel_alarm, sh);
	memset(&tc, 0, sizeof(tc));
	tc.t1_ms = pc->t1_ms;
	tc.t2_ms = pc->t2_ms;
	tc.t4_ms = pc->t4_ms;
	tc.shard = shard_id(sh);
	tc.max_headers = c->max_headers;
	tc.send = ua_send;
	tc.send_ctx = sh;
	err = txn_layer_new(&tc, &u->wheel, &u->txns);
	if (err)
		goto out;
	/* The media engine, on the worker's loop (its timer starts with
	 * the loop); without it calls still work, without RTP. */
	err = media_opts_conf(c, shard_id(sh), b2b_conf(c)->workers, &mo);
	if (!err)
		err = media_new(shard_loop(sh), &mo, &u->media);
	if (err)
		log_msg(LOG_WARN, "b2b %u: no media engine: %s", shard_id(sh),
			err_str(err));
	*statep = u;
	return 0;
out:
	timer_wheel_fini(&u->wheel);
	free(u);
	return err;
}

/* On the worker before it stops: the engine's handles are on its loop
 * (the applications' sessions go with it). */
static void ua_stop(struct shard *sh, void *state)
{
	struct ua *u = state;

	(void)sh;
	if (!u)
		return;
	media_free(u->media);
	u->media = NULL;
}

const struct pool_ua ua_pool = {
	.name = "ua",
	.new_state = ua_new_state,
	.free_state = ua_free_state,
	.request = ua_request,
	.response = ua_response,
	.tick = ua_tick,
	.stop = ua_stop,

};

/* ---- ua_reinvite(): an outgoing re-INVITE on a confirmed leg ---- */

/* Retries of a re-INVITE answered 491 before the 491 is reported. */
#define REINV_TRIES_MAX 3

bool ua_reinvite_pending(const struct ua_leg *leg)
{
	return leg && ((leg->reinv && !leg->reinv_acked) || leg->reinv_held ||
		       timer_is_active(&leg->reinv_timer));
}

/* Send the re-INVITE with leg->reinv_sdp in a new client transaction. */
static int reinv_send(struct ua_leg *leg)
{
	struct ua *u = leg->u;
	struct request_hdr h = { slice_cstr("Allow"), slice_cstr(allow_value) };
	char branch[TXN_BRANCH_MAX];
	struct slice out;
	struct txn *ct;
	int err;

	err =
	    build(leg, SIP_INVITE, &h, 1,
		  slice_make(leg->reinv_sdp, leg->reinv_sdp_len), &out, branch);
	if (!err)
		err = txn_cli_new(u->txns, NULL, SIP_INVITE, &u->proxy,
				  slice_cstr(branch), out.p, out.len, 0, cli_cb,
				  u, &ct);
	if (err)
		return err;
	if (leg->reinv)
		obj_put(leg->reinv);
	leg->reinv = obj_get(ct);
	leg->reinv_acked = false;
	return 0;
}

static void reinv_timer_cb(struct timer *t)
{
	struct ua_leg *leg =
	    (struct ua_leg *)((char *)t - offsetof(struct ua_leg, reinv_timer));
	int err;

	if (leg->dead || leg->state != LEG_CONFIRMED)
		return;
	err = reinv_send(leg);
	if (err)
		leg->reinv_late = false;
	if (err)
		event(leg, UA_EV_REINVITE, 503,
		      slice_cstr("re-INVITE not sent"), slice_make(NULL, 0));
	arena_reset(shard_arena(leg->u->sh));
}

/* RFC 3261 §14.1: after a 491 the owner of the Call-ID (the UA that
 * made it: every leg of ua_call()) waits 2.1 to 4 s, the other side
 * (a UAS leg) 0 to 2 s, in 10 ms units. */
static uint64_t glare_delay_ms(const struct ua_leg *leg)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (uint32_t)(uintptr_t)&r; /* weak, but a delay only */
	if (leg->uas)
		return (uint64_t)(r % 201) * 10;
	return 2100 + (uint64_t)(r % 191) * 10;
}

static void late_answered(struct ua_leg *leg, const struct sipmsg *m,
			  unsigned status);

static void reinv_response(struct ua_leg *leg, const struct sipmsg *m,
			   unsigned status)
{
	char branch[TXN_BRANCH_MAX];
	struct slice out;
	int err;

	if (status < 200)
		return;
	if (!m) {
		/* Timeout or transport failure (RFC 3261 §12.2.1.2: 408
		 * ends the dialog; the application decides). */
		obj_put(leg->reinv);
		leg->reinv = NULL;
		leg->reinv_late = false;
		event(leg, UA_EV_REINVITE, status,
		      slice_cstr(reply_reason(status)), slice_make(NULL, 0));
		return;
	}
	if (status < 300) {
		if (leg->reinv_acked) {
			/* RFC 3261 §13.2.2.4: a retransmitted 2xx. */
			if (leg->ack)
				(void)tp_send(leg->u->sh, &leg->u->proxy,
					      leg->ack, leg->ack_len);
			return;
		}
		if (leg->reinv_held)
			return; /* the application's ACK is on its way */
		if (leg->reinv_late) {
			late_answered(leg, m, status);
			return;
		}
		leg->reinv_acked = true;
		(void)dialog_refresh(leg->dlg, m);
		err = build(leg, SIP_ACK, NULL, 0, slice_make(NULL, 0), &out,
			    branch);
		if (!err)
			err = keep(&leg->ack, &leg->ack_len, out);
		if (!err)
			err = keep(
			    &leg->local_sdp, &leg->local_sdp_len,
			    slice_make(leg->reinv_sdp, leg->reinv_sdp_len));
		if (!err)
			err = keep(&leg->remote_sdp, &leg->remote_sdp_len,
				   m->body);
		if (!err)
			err = tp_send(leg->u->sh, &leg->u->proxy, leg->ack,
				      leg->ack_len);
		if (err)
			log_msg(LOG_INFO, "b2b %u: re-INVITE ACK: %s",
				shard_id(leg->u->sh), err_str(err));
		event(leg, UA_EV_REINVITE, status, m->reason, m->body);
		return;
	}
	/* A final 300-699: the transaction layer ACKed it; the session is
	 * as it was (RFC 3261 §14.1). */
	obj_put(leg->reinv);
	leg->reinv = NULL;
	if (status == 491 && leg->reinv_tries < REINV_TRIES_MAX) {
		leg->reinv_tries++;
		timer_start(&leg->u->wheel, &leg->reinv_timer,
			    glare_delay_ms(leg), reinv_timer_cb);
		return;
	}
	leg->reinv_late = false;
	event(leg, UA_EV_REINVITE, status, m->reason, slice_make(NULL, 0));
}

/* The 2xx of an offerless re-INVITE: its body is the peer's offer,
 * answered in the ACK the application sends (ua_reinvite_ack()). */
static void late_answered(struct ua_leg *leg, const struct sipmsg *m,
			  unsigned status)
{
	int err;

	leg->reinv_held = true;
	(void)dialog_refresh(leg->dlg, m);
	err = keep(&leg->remote_sdp, &leg->remote_sdp_len, m->body);
	if (err)
		log_msg(LOG_INFO, "b2b %u: offerless re-INVITE: %s",
			shard_id(leg->u->sh), err_str(err));
	event(leg, UA_EV_REINVITE, status, m->reason, m->body);
}

int ua_reinvite_offerless(struct ua_leg *leg)
{
	int err;

	if (!leg || leg->dead || (!leg->fn && !leg->sfn) ||
	    leg->state != LEG_CONFIRMED)
		return -EINVAL;
	if (ua_reinvite_pending(leg) || leg->reinvite || leg->offer_st)
		return -EBUSY;
	free(leg->reinv_sdp);
	leg->reinv_sdp = NULL;
	leg->reinv_sdp_len = 0;
	leg->reinv_tries = 0;
	leg->reinv_late = true;
	leg->reinv_held = false;
	err = reinv_send(leg);
	if (err)
		leg->reinv_late = false;
	return err;
}

int ua_reinvite_ack(struct ua_leg *leg, struct slice sdp)
{
	char branch[TXN_BRANCH_MAX];
	struct slice out;
	int err;

	if (!leg || leg->dead || !leg->reinv_held)
		return -EINVAL;
	err = build(leg, SIP_ACK, NULL, 0, sdp, &out, branch);
	if (!err)
		err = keep(&leg->ack, &leg->ack_len, out);
	if (err)
		return err;
	leg->reinv_held = false;
	leg->reinv_late = false;
	leg->reinv_acked = true;
	if (sdp.len && keep(&leg->local_sdp, &leg->local_sdp_len, sdp))
		log_msg(LOG_INFO, "b2b %u: offerless re-INVITE: no memory",
			shard_id(leg->u->sh));
	return tp_send(leg->u->sh, &leg->u->proxy, leg->ack, leg->ack_len);
}

int ua_reinvite(struct ua_leg *leg, struct slice sdp)
{
	int err;

	if (!leg || leg->dead || (!leg->fn && !leg->sfn) ||
	    leg->state != LEG_CONFIRMED || !sdp.len)
		return -EINVAL;
	if (ua_reinvite_pending(leg) || leg->reinvite || leg->offer_st)
		return -EBUSY;
	err = keep(&leg->reinv_sdp, &leg->reinv_sdp_len, sdp);
	if (err)
		return err;
	leg->reinv_tries = 0;
	leg->reinv_late = false;
	return reinv_send(leg);
}

/* ---- UAC 100rel (RFC 3262 §4, §5) ---- */

static int send_prack(struct ua_leg *leg, uint32_t rseq, struct slice sdp)
{
	struct ua *u = leg->u;
	char rack[REL_RACK_MAX], branch[TXN_BRANCH_MAX];
	struct request_hdr h;
	struct slice out;
	struct txn *ct;
	int n, err;

	n = rel_rack_print(rseq, leg->dlg->invite_cseq, slice_cstr("INVITE"),
			   rack, sizeof(rack));
	if (n < 0)
		return n;
	h.name = slice_cstr("RAck");
	h.value = slice_make(rack, (size_t)n);
	err = build(leg, SIP_PRACK, &h, 1, sdp, &out, branch);
	if (!err)
		/* Its responses find no leg in cli_cb(): nothing to do. */
		err = txn_cli_new(u->txns, NULL, SIP_PRACK, &u->proxy,
				  slice_cstr(branch), out.p, out.len, 0, cli_cb,
				  u, &ct);
	if (err)
		log_msg(LOG_INFO, "b2b %u: PRACK not sent: %s", shard_id(u->sh),
			err_str(err));
	return err;
}

/* A 101-199 on a calling or ringing UAC leg: PRACK it when reliable
 * (in RSeq order; retransmissions and strays are dropped), then tell. */
static void uac_provisional(struct ua_leg *leg, const struct sipmsg *m)
{
	struct ua_event ev = { UA_EV_RINGING, m->status, m->reason, m->body,
			       false };
	uint32_t rseq;
	bool offer;
	int r;

	r = rel_response_rseq(m, &rseq);
	if (r < 0)
		return; /* malformed reliable 1xx: discarded (§8.1.3) */
	offer = m->body.len && !leg->sent_offer && !leg->got_sdp;
	if (r == 1) {
		if (rel_uac_receive(&leg->relc, rseq) != REL_UAC_NEW)
			return;
		if (!leg->dlg && dialog_new_uac(m, false, &leg->dlg)) {
			log_msg(LOG_INFO,
				"b2b %u: reliable 1xx without a "
				"usable dialog",
				shard_id(leg->u->sh));
			return;
		}
		if (offer && leg->app_prack) {
			leg->prack_wait = true;
			leg->prack_rseq = rseq;
			ev.needs_prack = true;
		} else {
			(void)send_prack(leg, rseq, slice_make(NULL, 0));
		}
	}
	if (m->body.len)
		leg->got_sdp = true;
	leg->state = LEG_RINGING;
	if (leg->fn)
		leg->fn(leg, &ev, leg->arg);
}

int ua_prack(struct ua_leg *leg, struct slice sdp)
{
	if (!leg || leg->dead || !leg->prack_wait || !leg->dlg)
		return -EINVAL;
	leg->prack_wait = false;
	return send_prack(leg, leg->prack_rseq, sdp);
}

/* ---- UAS legs (RFC 3261 §13.3, §9.2; RFC 3262 §3) ---- */

static ua_incoming_fn *incoming;

void ua_set_incoming(ua_incoming_fn *fn)
{
	incoming = fn;
}

bool ua_leg_is_uas(const struct ua_leg *leg)
{
	return leg && leg->uas;
}

static void uas_free(struct ua_leg *leg)
{
	rel_uas_fini(&leg->rel);
	if (leg->st)
		obj_put(leg->st);
	free(leg->wait1);
	free(leg->wait2);
}

static void uas_event(struct ua_leg *leg, enum ua_srv_event_kind kind,
		      struct slice sdp)
{
	struct ua_srv_event ev = { kind, sdp, 0 };
	ua_srv_fn *fn = leg->sfn;
	void *arg = leg->arg;

	if (kind == UA_SRV_CANCELLED || kind == UA_SRV_ENDED ||
	    kind == UA_SRV_FAILED) {
		leg->sfn = NULL;
		rel_uas_fini(&leg->rel);
		leg_kill(leg);
	}
	if (fn)
		fn(leg, &ev, arg);
}

/* The INVITE the leg's server transaction holds, parsed in the arena. */
static int uas_invite(struct ua_leg *leg, struct sipmsg *m)
{
	const struct conf *c = shard_conf(leg->u->sh);
	unsigned max = c->max_headers ? c->max_headers : 128;
	struct siphdr *h =
	    arena_alloc(shard_arena(leg->u->sh), max * sizeof(*h));
	struct slice raw = txn_srv_request(leg->st);

	if (!h)
		return -ENOMEM;
	if (sipmsg_parse(m, raw.p, raw.len, h, max, 0) < 0)
		return -EBADMSG;
	return 0;
}

/* @p a then @p b, in the arena (either may be empty). */
static struct slice cat(struct ua *u, struct slice a, struct slice b)
{
	char *p;

	if (!b.len)
		return a;
	if (!a.len)
		return b;
	p = arena_alloc(shard_arena(u->sh), a.len + b.len);
	if (!p)
		return a;
	memcpy(p, a.p, a.len);
	memcpy(p + a.len, b.p, b.len);
	return slice_make(p, a.len + b.len);
}

/* Build the response @p status to the leg's INVITE (To tag ours;
 * Contact and Allow for 101-299); @p sendit: through the transaction. */
static int uas_build(struct ua_leg *leg, unsigned status, struct slice extra,
		     struct slice body, bool sendit, struct slice *outp)
{
	struct ua *u = leg->u;
	struct reply_opts o;
	struct sipmsg m;
	int err;

	err = uas_invite(leg, &m);
	if (err)
		return err;
	memset(&o, 0, sizeof(o));
	o.status = status;
	if (status == leg->phrase_status)
		o.reason = slice_make(leg->phrase, leg->phrase_len);
	o.to_tag = slice_make(leg->to_tag, leg->to_tag_len);
	o.server = slice_cstr(shard_conf(u->sh)->server_name);
	o.extra = status < 300 ? cat(u, contact_allow(u), extra) : extra;
	if (body.len) {
		o.content_type = slice_cstr(sdp_type);
		o.body = body;
	}
	err = reply_build(&m, (const struct sockaddr *)&leg->from.addr, &o,
			  shard_arena(u->sh), outp);
	if (err)
		return err;
	/* The dialog, from our first 101-299 (RFC 3261 §12.1.1). */
	if (status < 300 && !leg->dlg) {
		err = dialog_new_uas(&m, o.to_tag,
				     status < 200 ? DIALOG_EARLY
						  : DIALOG_CONFIRMED,
				     false, &leg->dlg);
		if (err)
			return err;
	} else if (status >= 200 && status < 300) {
		(void)dialog_confirm(leg->dlg, NULL);
	}
	if (sendit)
		err = txn_srv_respond(leg->st, status, outp->p, outp->len);
	return err;
}

/* A final 300-699: the leg ends (its transaction waits for the ACK). */
static int uas_reject(struct ua_leg *leg, unsigned status, struct slice extra)
{
	struct slice out;
	int err;

	err = uas_build(leg, status, extra, slice_make(NULL, 0), true, &out);
	leg->uas_final = true;
	leg->sfn = NULL;
	rel_uas_fini(&leg->rel);
	leg_kill(leg);
	return err;
}

static int uas_2xx(struct ua_leg *leg, unsigned status, struct slice sdp)
{
	struct slice out;
	int err;

	free(leg->wait1); /* a held 1xx is moot now */
	leg->wait1 = NULL;
	err = uas_build(leg, status, slice_make(NULL, 0), sdp, true, &out);
	if (!err)
		err = rtx_start(leg, leg->st, status, out);
	if (err)
		return err;
	leg->uas_final = true;
	rel_uas_final(&leg->rel);
	leg->state = LEG_ANSWERED;
	if (sdp.len)
		return keep(&leg->local_sdp, &leg->local_sdp_len, sdp);
	return 0;
}

static int uas_1xx(struct ua_leg *leg, unsigned status, struct slice extra,
		   struct slice sdp)
{
	char rl[REL_EXTRA_MAX];
	struct slice out;
	bool offer;
	int n, err;

	if (!leg->rel_on) {
		err = uas_build(leg, status, extra, sdp, true, &out);
		if (!err)
			leg->state = LEG_RINGING;
		return err;
	}
	n = rel_print_extra(rel_uas_next_rseq(&leg->rel), rl, sizeof(rl));
	if (n < 0)
		return n;
	err = uas_build(leg, status,
			cat(leg->u, slice_make(rl, (size_t)n), extra), sdp,
			false, &out);
	if (err)
		return err;
	/* An SDP in a reliable 1xx to an INVITE without one is the offer
	 * (RFC 3262 §5); the PRACK then carries the answer. */
	offer = sdp.len && !leg->invite_sdp && !leg->offer_sent;
	err = rel_uas_send(&leg->rel, offer, out.p, out.len);
	if (!err)
		err = txn_srv_respond(leg->st, status, out.p, out.len);
	if (!err) {
		leg->offer_sent |= offer;
		leg->state = LEG_RINGING;
	}
	return err;
}

int ua_uas_respond(struct ua_leg *leg, unsigned status, struct slice extra,
		   struct slice sdp)
{
	if (!leg || !leg->uas || leg->dead || leg->uas_final || status < 101 ||
	    status > 699 ||
	    (extra.len && !request_is_line_safe(extra) &&
	     extra.p[extra.len - 1] != '\n'))
		return -EINVAL;
	if (status >= 300)
		return uas_reject(leg, status, extra);
	if (status >= 200) {
		if (leg->rel_on && (rel_uas_is_busy(&leg->rel) ||
				    !rel_uas_may_send_2xx(&leg->rel))) {
			/* Held until the outstanding reliable 1xx is
			 * PRACKed: RFC 3262 §3 requires it when the 1xx
			 * carried an offer and allows it otherwise; the
			 * PRACK's 200 then always goes out before the 2xx
			 * (no UAC has to take them in either order). A
			 * PRACK that never comes ends it with 500 at 64*T1
			 * (§3). */
			leg->wait2_status = status;
			return keep(&leg->wait2, &leg->wait2_len, sdp);
		}
		return uas_2xx(leg, status, sdp);
	}
	if (leg->rel_on && rel_uas_is_busy(&leg->rel)) {
		/* One reliable 1xx at a time (§3): the newest waits. */
		leg->wait1_status = status;
		return keep(&leg->wait1, &leg->wait1_len, sdp);
	}
	return uas_1xx(leg, status, extra, sdp);
}

int ua_uas_set_phrase(struct ua_leg *leg, unsigned status, struct slice phrase)
{
	int err;

	if (!leg || !leg->uas || leg->uas_final || status < 200 ||
	    status > 699 || phrase.len > UA_PHRASE_MAX)
		return -EINVAL;
	/* RFC 3261 §25.1: Reason-Phrase is text without CR or LF; we keep
	 * to printable ASCII. */
	for (size_t i = 0; i < phrase.len; i++)
		if ((unsigned char)phrase.p[i] < 0x20 ||
		    (unsigned char)phrase.p[i] > 0x7e)
			return -EINVAL;
	err = keep(&leg->phrase, &leg->phrase_len, phrase);
	if (!err)
		leg->phrase_status = status;
	return err;
}

int ua_uas_take(struct ua_leg *leg, ua_srv_fn *fn, void *arg, bool reliable)
{
	if (!leg || !leg->uas || !fn || leg->sfn || leg->dead)
		return -EINVAL;
	leg->sfn = fn;
	leg->arg = arg;
	leg->rel_on = reliable;
	return 0;
}

static struct ua_leg *rel_leg(struct rel_uas *r)
{
	return (struct ua_leg *)((char *)r - offsetof(struct ua_leg, rel));
}

static void rel_retransmit(struct rel_uas *r, const void *buf, size_t len)
{
	struct ua_leg *leg = rel_leg(r);
	const char *b = buf;
	unsigned status = 0;

	/* "SIP/2.0 NNN": the status of the bytes we built. */
	for (size_t i = 8; i < 11 && i < len; i++)
		status = status * 10 + (unsigned)(b[i] - '0');
	if (leg->st)
		(void)txn_srv_respond(leg->st, status, buf, len);
}

static void rel_timeout(struct rel_uas *r)
{
	struct ua_leg *leg = rel_leg(r);
	struct slice out;

	/* RFC 3262 §3: no PRACK in 64*T1: the INVITE gets a 5xx. */
	if (!leg->uas_final) {
		leg->uas_final = true;
		(void)uas_build(leg, REL_TIMEOUT_STATUS, slice_make(NULL, 0),
				slice_make(NULL, 0), true, &out);
	}
	uas_event(leg, UA_SRV_FAILED, slice_make(NULL, 0));
}

static const struct rel_uas_ops rel_ops = {
	.retransmit = rel_retransmit,
	.timeout = rel_timeout,
};

/* After a matching PRACK: send what waited, a 1xx first (§3). */
static void uas_flush(struct ua_leg *leg)
{
	if (leg->uas_final)
		return;
	if (leg->wait1) {
		char *b = leg->wait1;
		size_t n = leg->wait1_len;

		leg->wait1 = NULL;
		(void)uas_1xx(leg, leg->wait1_status, slice_make(NULL, 0),
			      slice_make(b, n));
		free(b);
	} else if (leg->wait1_status && !leg->wait1_len) {
		leg->wait1_status = 0;
	}
	if (leg->wait2_status && !rel_uas_is_busy(&leg->rel) &&
	    rel_uas_may_send_2xx(&leg->rel)) {
		char *b = leg->wait2;
		size_t n = leg->wait2_len;

		unsigned st = leg->wait2_status;

		leg->wait2 = NULL;
		leg->wait2_status = 0;
		(void)uas_2xx(leg, st, slice_make(b, n));
		free(b);
	}
}

/* PRACK (with its new server transaction @p st) or ACK (@p st NULL) in
 * the dialog of @p leg. */
static int uas_in_dialog(struct ua *u, struct ua_leg *leg, struct txn *st,
			 const struct peer *from, const struct sipmsg *m)
{
	struct rel_rack rack;
	enum rel_prack p;
	int err;

	if (!st) {
		/* The ACK of our 2xx (RFC 3261 §13.3.1.4). */
		if (leg->state == LEG_ANSWERED &&
		    m->cseq == leg->dlg->remote_cseq) {
			rtx_stop(leg);
			leg->state = LEG_CONFIRMED;
			if (m->body.len)
				(void)keep(&leg->remote_sdp,
					   &leg->remote_sdp_len, m->body);
			uas_event(leg, UA_SRV_ACK, m->body);
		}
		return POOL_UA_DONE;
	}
	if (!leg->uas || !leg->rel_on) {
		err = respond(u, st, from, m, 481, slice_make(NULL, 0),
			      slice_make(NULL, 0));
		return err ? err : POOL_UA_DONE;
	}
	if (rel_prack_rack(m, &rack)) {
		err = respond(u, st, from, m, 400, slice_make(NULL, 0),
			      slice_make(NULL, 0));
		return err ? err : POOL_UA_DONE;
	}
	/* RFC 3262 §3: 200 only when the RAck matches, else 481. */
	p = rel_uas_prack(&leg->rel, &rack, NULL);
	err = respond(u, st, from, m, rel_prack_status(p), slice_make(NULL, 0),
		      slice_make(NULL, 0));
	if (p == REL_PRACK_MATCH) {
		uas_flush(leg);
		if (!leg->dead)
			uas_event(leg, UA_SRV_PRACK, m->body);
	}
	return err ? err : POOL_UA_DONE;
}

static struct ua_leg *leg_of_st(struct ua *u, const struct sipmsg *m,
				const struct txn *st)
{
	for (struct ua_leg *l = u->bucket[bucket_of(m->call_id)]; l;
	     l = l->next)
		if (!l->dead && l->uas && l->st == st)
			return l;
	return NULL;
}

/* An out-of-dialog INVITE, a CANCEL, an ACK: a UAS leg's, or PASS. */
static int uas_request(struct ua *u, const struct peer *from,
		       const struct sipmsg *m)
{
	const struct proxy_conf *pc = proxy_conf(shard_conf(u->sh));
	struct ua_leg *leg;
	struct txn *st;
	int err, n;

	st = txn_srv_find(u->txns, m, SIP_INVITE);
	if (m->method == SIP_ACK)
		/* The ACK of a 300-699 of ours (RFC 3261 §17.2.1). */
		return st && txn_srv_absorb(st, m) == 1 ? POOL_UA_DONE
							: POOL_UA_PASS;
	if (m->method == SIP_CANCEL) {
		leg = st ? leg_of_st(u, m, st) : NULL;
		if (!leg)
			return POOL_UA_PASS; /* 481 (RFC 3261 §9.2) */
		err = pool_reply(u->sh, from, m, 200, slice_make(NULL, 0));
		if (!leg->uas_final) {
			struct slice out;

			leg->uas_final = true;
			(void)uas_build(leg, 487, slice_make(NULL, 0),
					slice_make(NULL, 0), true, &out);
			uas_event(leg, UA_SRV_CANCELLED, slice_make(NULL, 0));
		}
		return err ? err : POOL_UA_DONE;
	}
	if (st) {
		(void)txn_srv_absorb(st, m); /* a retransmission */
		return POOL_UA_DONE;
	}
	if (!incoming)
		return POOL_UA_PASS;
	if (!m->call_id.len || m->call_id.len >= REQUEST_CALL_ID_MAX)
		return pool_reply(u->sh, from, m, 400, slice_make(NULL, 0))
			   ?: POOL_UA_DONE;
	err = self(u);
	if (err)
		return err;
	err = txn_srv_new(u->txns, m, from, 0, &st);
	if (err)
		return err;
	leg = calloc(1, sizeof(*leg));
	if (!leg)
		return -ENOMEM;
	leg->u = u;
	leg->uas = true;
	leg->st = obj_get(st);
	leg->from = *from;
	leg->invite_sdp = m->body.len > 0;
	leg->state = LEG_CALLING;
	if (keep(&leg->remote_sdp, &leg->remote_sdp_len, m->body))
		leg->remote_sdp_len = 0;
	memcpy(leg->call_id, m->call_id.p, m->call_id.len);
	leg->call_id_len = m->call_id.len;
	n = request_tag_make(leg->to_tag, sizeof(leg->to_tag));
	if (n > 0)
		leg->to_tag_len = (size_t)n;
	err = n < 0 ? n
		    : rel_uas_init(&leg->rel, &u->wheel, &rel_ops,
				   pc->t1_ms ? pc->t1_ms : 500, m->cseq,
				   SIP_INVITE, rel_rseq_random());
	leg->next = u->bucket[bucket_of(leg_cid(leg))];
	u->bucket[bucket_of(leg_cid(leg))] = leg;
	u->nlegs++;
	if (err) {
		(void)uas_reject(leg, 500, slice_make(NULL, 0));
		return POOL_UA_DONE;
	}
	(void)respond(u, st, from, m, 100, slice_make(NULL, 0),
		      slice_make(NULL, 0));
	incoming(u, leg, m);
	if (!leg->dead && !leg->sfn && !leg->uas_final)
		(void)uas_reject(leg, 500, slice_make(NULL, 0));
	return POOL_UA_DONE;
}

/* ua_hangup() of a UAS leg: 480 with the Reason before the 2xx, else
 * BYE. False for a UAC leg. */
static bool uas_hangup(struct ua_leg *leg)
{
	if (!leg->uas)
		return false;
	leg->sfn = NULL;
	if (!leg->uas_final) {
		struct slice r = slice_make(NULL, 0);

		if (leg->reason_len) {
			size_t size = leg->reason_len + 16;
			char *p = arena_alloc(shard_arena(leg->u->sh), size);
			int n = p ? snprintf(p, size, "Reason: %.*s\r\n",
					     (int)leg->reason_len, leg->reason)
				  : -1;

			if (n > 0 && (size_t)n < size)
				r = slice_make(p, (size_t)n);
		}
		(void)uas_reject(leg, 480, r);
		return true;
	}
	if (leg->state == LEG_ANSWERED || leg->state == LEG_CONFIRMED)
		send_bye(leg);
	else
		leg_kill(leg);
	return true;
}
