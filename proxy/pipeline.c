/* proxy/pipeline.c - what a shard does with one received message */
#include "proxy/pipeline.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "proxy/base/arena.h"
#include "proxy/base/err.h"
#include "proxy/base/log.h"
#include "proxy/base/stats.h"
#include "proxy/core/conf.h"
#include "proxy/core/guard.h"
#include "proxy/hangup.h"
#include "proxy/nat.h"
#include "proxy/dns.h"
#include "proxy/dns_conf.h"
#include "proxy/hook.h"
#include "proxy/proxy_conf.h"
#include "proxy/route.h"
#include "proxy/rtpe.h"
#include "proxy/rtpe_conf.h"
#include "proxy/sanity.h"
#include "proxy/topoh.h"
#include "proxy/core/shard.h"
#include "proxy/sip/msg.h"
#include "proxy/sip/reply.h"
#include "proxy/sip/uri.h"
#include "proxy/base/timer.h"
#include "proxy/core/transport.h"
#include "proxy/sip/txn.h"
#include "store/dlg.h"

/* Timer wheel: PIPELINE_TICK_MS slots, one turn of about 41 s. */
#define WHEEL_SLOTS 4096
/* How often a shard sweeps its dialogs that UAs left behind. */
#define SWEEP_MS 10000
/* A confirmed dialog without BYE for this long is forgotten. */
#define DIALOG_MAX_MS (12LL * 3600 * 1000)

struct pipeline {
	struct shard *sh;
	struct timer_wheel wheel;
	struct route *route;
	struct hangup *hangup; /* dialog.end's BYEs */
	struct nat *nat;       /* keep-alives of NAT'd bindings */
	struct rtpe *rtpe;     /* media anchoring; NULL when media is off */
	struct dns *dns;       /* next-hop names; NULL when dns: is off */
	unsigned dns_rounds;   /* lookups the request resumed has waited */
	/* Answering a message of a hidden trunk that did not parse, so
	 * was not mapped (proxy/topoh.h): its Call-ID goes back as is. */
	bool th_raw;
	uint64_t next_sweep_ms;
	/* Requests held for rtpengine or DNS, for a CANCEL to find. */
	struct held_req *held;
	/* What became of the request being handled, for its debug line:
	 * the status answered (0: none), or what else happened. */
	unsigned status;
	const char *outcome;
};

/* The methods sipedge handles (RFC 3261 §20.5), for Allow. */
static const char allow_line[] =
    "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, PRACK, UPDATE, INFO, "
    "REFER, SUBSCRIBE, NOTIFY, MESSAGE, REGISTER\r\n";
static const char accept_line[] = "Accept: application/sdp\r\n";

/*
 * Lines about invalid input, per shard thread: the network can trigger
 * them at packet rate. Thread-local, so each shard owns its own.
 */
static _Thread_local struct log_ratelimit bad_rl = { .burst = 10 };

/* Refusal reasons (403, 404, 480), per shard thread as well. */
static _Thread_local struct log_ratelimit refusal_rl = { .burst = 10 };

/*
 * Add one to a shard counter: only this shard writes it, other threads
 * read it relaxed (proxy/core/shard.h), so a relaxed store is enough.
 */
static void count(uint64_t *p)
{
	__atomic_store_n(p, *p + 1, __ATOMIC_RELAXED);
}

/*
 * What the core needs to know of the R-URI: whether it is a sip/sips
 * URI naming one of our domains or addresses (tel: and other schemes
 * have no domain to serve), and whether it has a user part.
 */
struct target {
	bool ours;
	bool has_user;
};

static struct target target_of(const struct conf *c, const struct sipmsg *m)
{
	struct target t = { false, false };
	struct sipuri u;

	if (sipmsg_uri_parse(m, m->ruri, &u) == 0 &&
	    (u.scheme == URI_SIP || u.scheme == URI_SIPS)) {
		t.ours = route_uri_is_ours(c, &u);
		t.has_user = u.user.len > 0;
	}
	return t;
}

/* 200 to OPTIONS for us: Allow, Supported and Accept (RFC 3261 §11.2). */
static int options_extra(struct arena *a, struct slice *extrap)
{
	char sup[128];
	size_t len, o = 0;
	char *p;
	int n;

	n = sanity_supported_print(sup, sizeof(sup));
	if (n < 0)
		return n;
	len = sizeof(allow_line) - 1 + 11 + (size_t)n + 2 +
	      sizeof(accept_line) - 1;
	p = arena_alloc(a, len);
	if (!p)
		return -ENOMEM;
	memcpy(p + o, allow_line, sizeof(allow_line) - 1);
	o += sizeof(allow_line) - 1;
	memcpy(p + o, "Supported: ", 11);
	o += 11;
	memcpy(p + o, sup, (size_t)n);
	o += (size_t)n;
	memcpy(p + o, "\r\n", 2);
	o += 2;
	memcpy(p + o, accept_line, sizeof(accept_line) - 1);
	*extrap = slice_make(p, len);
	return 0;
}

/*
 * A valid request that matched no transaction:
 *  - OPTIONS to the proxy itself: 200 with its capabilities;
 *  - CANCEL: it matched no INVITE transaction: 481 (as a UAS does,
 *    §9.2; a CANCEL that overtook its INVITE is retransmitted);
 *  - a method the proxy does not know, addressed to itself: 501;
 *  - REGISTER for a served domain: the registrar;
 *  - anything else is routed (route_plan() says 404, 480 ...).
 */
static void route_decide(const struct sipmsg *m, struct target t,
			 struct pipeline_verdict *v)
{
	v->action = PIPELINE_REPLY;
	if (m->method == SIP_OPTIONS && t.ours && !t.has_user) {
		v->status = 200;
		v->reason = "OK";
	} else if (m->method == SIP_CANCEL) {
		v->status = 481;
		v->reason = "Call/Transaction Does Not Exist";
	} else if (t.ours && !t.has_user && m->method == SIP_METHOD_OTHER) {
		/* Addressed to the proxy itself, which acts as the UAS: a
		 * method it does not know is 501 (RFC 3261 §8.2.1). */
		v->status = 501;
		v->reason = "Not Implemented";
	} else if (t.ours && m->method == SIP_REGISTER) {
		v->action = PIPELINE_REGISTER;
	} else {
		v->action = PIPELINE_ROUTE;
	}
}

int pipeline_decide(const struct conf *c, const struct sipmsg *m, int parsed,
		    struct arena *a, struct pipeline_verdict *vp)
{
	struct pipeline_verdict v = {
		PIPELINE_DROP, 0, NULL, { NULL, 0 }, false
	};
	struct sanity_verdict sv;
	struct target t;
	int err = 0;

	/* A response is never answered: the core gives valid ones to
	 * their client transaction first (RFC 3261 §16.7 step 3, RFC 4475
	 * §3.3.10). */
	if (!m->is_request) {
		v.invalid = parsed < 0;
		v.reason = parsed < 0 ? "malformed response" : "stray response";
		goto done;
	}
	/* An ACK gets no response (RFC 3261 §17), not even a malformed one;
	 * the core forwards valid ones first. */
	if (m->method == SIP_ACK ||
	    slice_eq(m->method_name, SLICE_LIT("ACK"))) {
		v.invalid = parsed < 0;
		v.reason = "ACK matches no transaction";
		goto done;
	}
	t = target_of(c, m);
	/* For the proxy itself: an R-URI without a user part naming us. */
	err = sanity_check(m, parsed, t.ours && !t.has_user, a, &sv);
	if (err)
		goto out;
	if (sv.status) {
		v.action = PIPELINE_REPLY;
		v.status = sv.status;
		v.reason = sv.reason;
		v.extra = sv.extra;
		v.invalid = true;
	} else {
		route_decide(m, t, &v);
		if (v.action == PIPELINE_REPLY && v.status == 200) {
			err = options_extra(a, &v.extra);
			if (err)
				goto out;
		}
	}
	/* No Via or no CSeq: nowhere to send an answer, or nothing the
	 * client could match it with (proxy/sip/reply.h). */
	if (reply_check(m) < 0) {
		v.action = PIPELINE_DROP;
		v.status = 0;
		v.extra = slice_make(NULL, 0);
		v.reason = "no response can be built (no usable Via or CSeq)";
		v.invalid = true;
	}
done:
	*vp = v;
out:
	return err;
}

/* The class (1..6) of a response in @p buf, "SIP/2.0 NNN ...", or 0. */
static unsigned response_class(const char *buf, size_t len)
{
	if (len < 12 || memcmp(buf, "SIP/2.0 ", 8) || buf[8] < '1' ||
	    buf[8] > '6')
		return 0;
	return (unsigned)(buf[8] - '0');
}

/* tp_send() for the proxy and its transactions; counts responses. */
static int pipeline_send(void *ctx, const struct peer *to, const void *buf,
			 size_t len)
{
	unsigned cls = response_class(buf, len);
	struct pipeline *k;
	struct slice hid;
	int th;

	/* Towards a hidden trunk the inside goes (proxy/topoh.h); a
	 * message that cannot be hidden is not sent. */
	k = shard_role_state(ctx);
	th = topoh_out(shard_conf(ctx), to, buf, len, !(k && k->th_raw),
		       shard_arena(ctx), &hid);
	if (th < 0)
		return th;
	if (th) {
		buf = hid.p;
		len = hid.len;
	}

	/* security.answer_budget: a UDP source that has not been vouched
	 * for gets no more bytes than it sent (guard.h); TCP sources
	 * cannot be spoofed, so they cannot aim answers at a victim. */
	if (cls && to->proto == PEER_UDP &&
	    !guard_answer(shard_conf(ctx), to, len))
		return 0;
	if (cls)
		count(&shard_stats(ctx)->rsp_out[cls - 1]);
	return tp_send(ctx, to, buf, len);
}

/* An INVITE ended in a final failure upstream: its media goes. */
static void pipeline_invite_failed(void *ctx, struct slice call_id)
{
	struct pipeline *k = shard_role_state(ctx);

	if (k)
		rtpe_failed(k->rtpe, call_id);
}

/* tp_conn_find() for the route (RFC 3261 §18.2.2). */
static uint64_t pipeline_conn_find(void *ctx, const struct sockaddr *sa)
{
	return tp_conn_find(ctx, sa);
}

/* The transactions held, for the registry (a gauge only we write). */
static void count_txns(struct pipeline *k)
{
	__atomic_store_n(&shard_stats(k->sh)->txns,
			 (uint64_t)txn_count(route_txns(k->route)),
			 __ATOMIC_RELAXED);
	__atomic_store_n(&shard_stats(k->sh)->txns_created,
			 txn_created(route_txns(k->route)), __ATOMIC_RELAXED);
}

/* route_cfg.resolve: the shard's resolver (proxy/dns.h). */
static int pipeline_resolve(void *ctx, struct slice uri, struct peer *out,
			    unsigned max)
{
	struct pipeline *k = ctx;

	return k->dns ? dns_resolve(k->dns, uri, out, max) : -EHOSTUNREACH;
}

/* The wheel's watch: the shard's loop clock and one-shot tick. */
static uint64_t wheel_clock(void *arg)
{
	return uv_now(shard_loop(arg));
}

static void wheel_alarm(void *arg, uint64_t at_ms)
{
	shard_tick_at(arg, at_ms);
}

int pipeline_new(struct shard *sh, uint64_t now_ms, struct pipeline **kp)
{
	struct route_cfg rc;
	struct pipeline *k;
	int err;

	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->sh = sh;
	err =
	    timer_wheel_init(&k->wheel, PIPELINE_TICK_MS, WHEEL_SLOTS, now_ms);
	if (err)
		goto out;
	timer_wheel_watch(&k->wheel, wheel_clock, wheel_alarm, sh);
	memset(&rc, 0, sizeof(rc));
	rc.conf = shard_conf(sh);
	rc.shard = shard_id(sh);
	rc.wheel = &k->wheel;
	rc.arena = shard_arena(sh);
	rc.send = pipeline_send;
	rc.send_ctx = sh;
	rc.conn_find = pipeline_conn_find;
	rc.dialogs = true;
	rc.hist = shard_stats(sh)->hist;
	rc.invite_failed = pipeline_invite_failed;
	/* dns: names in next hops are resolved on this loop (RFC 3263). */
	if (dns_conf(rc.conf)->enabled) {
		err = dns_new(shard_loop(sh), dns_conf(rc.conf), shard_id(sh),
			      &k->dns);
		if (err)
			goto out;
		rc.resolve = pipeline_resolve;
		rc.resolve_ctx = k;
	}
	err = route_new(&rc, &k->route);
	if (!err)
		err = hangup_new(rc.conf, route_txns(k->route), rc.shard,
				 &k->hangup);
	if (!err)
		err = nat_new(sh, &k->wheel, route_txns(k->route),
			      pipeline_send, sh, &k->nat);
	if (!err)
		err = rtpe_new(sh, rc.conf, &k->rtpe);
	if (err)
		goto out;
	k->next_sweep_ms = now_ms + SWEEP_MS;
	*kp = k;
	return 0;
out:
	pipeline_free(k);
	return err;
}

void pipeline_free(struct pipeline *k)
{
	if (!k)
		return;
	/* Held messages first: they would be forwarded by the route. */
	rtpe_free(k->rtpe);
	dns_free(k->dns);
	route_free(k->route);
	/* After the transactions: no BYE can answer any more. */
	hangup_free(k->hangup);
	nat_free(k->nat);
	timer_wheel_fini(&k->wheel);
	free(k);
}

uint64_t pipeline_tick(struct shard *sh, uint64_t now_ms)
{
	struct pipeline *k = shard_role_state(sh);
	const struct conf *c = shard_conf(sh);
	uint64_t next;

	if (!k)
		return SHARD_TICK_NONE;
	timer_advance(&k->wheel, now_ms);
	if (now_ms >= k->next_sweep_ms) {
		int64_t t64 = 64 * (int64_t)proxy_conf(c)->t1_ms;

		k->next_sweep_ms = now_ms + SWEEP_MS;
		dlg_sweep(shard_id(sh), dlg_now_ms(),
			  (int64_t)proxy_conf(c)->timer_c_s * 1000 + 2 * t64 +
			      60000,
			  DIALOG_MAX_MS, 2 * t64 + 5000);
		/* The same ages for the calls anchored in rtpengine. */
		rtpe_sweep(k->rtpe,
			   (uint64_t)proxy_conf(c)->timer_c_s * 1000 +
			       2 * (uint64_t)t64 + 60000,
			   DIALOG_MAX_MS);
	}
	count_txns(k);
	/* Timer callbacks build messages in the arena too. */
	arena_reset(shard_arena(sh));
	/* Asleep until the next timer or sweep (issue #14). */
	next = timer_next_due(&k->wheel);
	return next < k->next_sweep_ms ? next : k->next_sweep_ms;
}

struct hangup *pipeline_hangup(struct shard *sh)
{
	struct pipeline *k = shard_role_state(sh);

	return k ? k->hangup : NULL;
}

struct nat *pipeline_nat(struct shard *sh)
{
	struct pipeline *k = shard_role_state(sh);

	return k ? k->nat : NULL;
}

size_t pipeline_txn_count(struct shard *sh)
{
	struct pipeline *k = shard_role_state(sh);

	return k ? txn_count(route_txns(k->route)) : 0;
}

/* Up to @p size - 1 bytes of @p s, anything unprintable as '?'. */
static const char *printable(struct slice s, char *buf, size_t size)
{
	size_t i;

	for (i = 0; i < s.len && i + 1 < size; i++)
		buf[i] = s.p[i] > ' ' && s.p[i] < 0x7f ? s.p[i] : '?';
	buf[i] = '\0';
	return buf;
}

static void log_bad(const struct peer *from, const struct sipmsg *m,
		    const struct pipeline_verdict *v)
{
	char addr[64], method[32];

	if (!log_enabled(LOG_NOTICE) || !log_ratelimit_ok(&bad_rl))
		return;
	peer_addr_str((const struct sockaddr *)&from->addr, addr, sizeof(addr));
	if (v->action == PIPELINE_DROP)
		log_msg(LOG_NOTICE, "%s %s: dropped: %s",
			peer_proto_name(from->proto), addr, v->reason);
	else
		log_msg(LOG_NOTICE, "%s %s: invalid %s: %u %s",
			peer_proto_name(from->proto), addr,
			printable(m->method_name, method, sizeof(method)),
			v->status, v->reason);
}

static struct slice retry_after(struct shard *sh, char *buf, size_t size)
{
	int n = snprintf(buf, size, "Retry-After: %u\r\n",
			 shard_conf(sh)->overload.retry_after_s);

	return slice_make(buf, n > 0 && (size_t)n < size ? (size_t)n : 0);
}

void pipeline_reject(struct shard *sh, const struct peer *from, const char *buf,
		     size_t len)
{
	struct pipeline *k = shard_role_state(sh);
	struct sipmsg m;
	char ra[48];
	int parsed;

	count(&shard_stats(sh)->dropped);
	if (!k || shard_parse(sh, from, buf, len, &m, &parsed) || parsed < 0 ||
	    !m.is_request || m.method == SIP_ACK)
		return;
	count(&shard_stats(sh)->overloaded);
	route_reply(k->route, &m, from, 503, NULL,
		    retry_after(sh, ra, sizeof(ra)));
}

int hook_reply(struct hook_req *r, unsigned status, const char *reason,
	       struct slice extra, struct slice body)
{
	struct pipeline *k = r->core;
	struct txn_layer *l;
	struct reply_opts o;
	struct slice out;
	struct txn *st;
	int err;

	if (!k || !r->m->is_request || r->m->method == SIP_ACK)
		return -EINVAL;
	l = route_txns(k->route);
	memset(&o, 0, sizeof(o));
	o.status = status;
	o.reason = slice_cstr(reason ? reason : reply_reason(status));
	o.server = slice_cstr(shard_conf(r->sh)->server_name);
	o.extra = extra;
	o.body = body;
	err = reply_build(r->m, (const struct sockaddr *)&r->from->addr, &o,
			  r->a, &out);
	if (err)
		return err;
	st = txn_srv_find(l, r->m, r->m->method);
	if (!st) {
		err = txn_srv_new(l, r->m, r->from, 0, &st);
		if (err)
			return err;
	}
	k->status = status;
	/* A success the stages answered themselves (a REGISTER that
	 * passed authentication): the source is no stranger. */
	if (status >= 200 && status < 300)
		guard_vouch(r->from);
	return txn_srv_respond(st, status, out.p, out.len);
}

int hook_reply_stateless(struct hook_req *r, unsigned status,
			 const char *reason, struct slice extra)
{
	struct pipeline *k = r->core;

	if (!k || !r->m->is_request || r->m->method == SIP_ACK)
		return -EINVAL;
	k->status = status;
	return route_reply(k->route, r->m, r->from, status, reason, extra);
}

/* route_reply(), remembering the status for the request's debug line. */
static int answer(struct pipeline *k, const struct sipmsg *m,
		  const struct peer *from, unsigned status, const char *reason,
		  struct slice extra)
{
	k->status = status;
	return route_reply(k->route, m, from, status, reason, extra);
}

/* Method, R-URI and Call-ID of @p m, escaped, for a log line. */
struct reqtext {
	char method[40], ruri[200], call_id[140], addr[64];
};

static void reqtext_fill(struct reqtext *t, const struct peer *from,
			 const struct sipmsg *m)
{
	log_escape(m->method_name.p, m->method_name.len, t->method,
		   sizeof(t->method));
	log_escape(m->ruri.p, m->ruri.len, t->ruri, sizeof(t->ruri));
	log_escape(m->call_id.p, m->call_id.len, t->call_id,
		   sizeof(t->call_id));
	peer_addr_str((const struct sockaddr *)&from->addr, t->addr,
		      sizeof(t->addr));
}

static void log_refusal(const struct peer *from, const struct sipmsg *m,
			unsigned status, const char *why)
{
	struct reqtext t;

	if (!log_enabled(LOG_INFO) || !log_ratelimit_ok(&refusal_rl))
		return;
	reqtext_fill(&t, from, m);
	log_msg(LOG_INFO, "refused %s %s %s %s call-id=%s: %u %s",
		peer_proto_name(from->proto), t.addr, t.method, t.ruri,
		t.call_id, status, why);
}

void hook_log_refusal(const struct hook_req *r, unsigned status,
		      const char *why)
{
	log_refusal(r->from, r->m, status, why);
}

/* The debug line of one request: what it was and what became of it. */
static void log_request(const struct pipeline *k, const struct peer *from,
			const struct sipmsg *m)
{
	struct reqtext t;

	reqtext_fill(&t, from, m);
	if (k->status)
		log_msg(LOG_DEBUG, "request %s %s %s %s call-id=%s: %u",
			peer_proto_name(from->proto), t.addr, t.method, t.ruri,
			t.call_id, k->status);
	else
		log_msg(LOG_DEBUG, "request %s %s %s %s call-id=%s: %s",
			peer_proto_name(from->proto), t.addr, t.method, t.ruri,
			t.call_id, k->outcome ? k->outcome : "no answer");
}

/* The pipeline stages of proxy/hook.h; HOOK_DONE or an error ends it. */
static int run_hooks(struct pipeline *k, const struct peer *from,
		     const struct sipmsg *m, bool registrar,
		     struct hook_fwd *fwp)
{
	struct hook_req hr = { .sh = k->sh,
			       .from = from,
			       .m = m,
			       .a = shard_arena(k->sh),
			       .core = k };
	int ret;

	memset(fwp, 0, sizeof(*fwp));

	ret = hook_run(HOOK_AUTH, &hr);
	if (ret == HOOK_NEXT && registrar) {
		ret = hook_run(HOOK_REGISTRAR, &hr);
		/* No registrar in this build (RFC 3261 §21.5.2). */
		if (ret == HOOK_NEXT)
			ret = ERR_NOT_IMPL;
	}
	if (ret == HOOK_NEXT)
		ret = hook_run(HOOK_FEATURES, &hr);
	if (ret == HOOK_NEXT) {
		*fwp = hr.fwd;
		fwp->conceal = hr.conceal;
	}
	if (ret < 0 && !txn_srv_find(route_txns(k->route), m, m->method)) {
		unsigned status = err_sip_status(ret);

		if (status == 403 || status == 404 || status == 480)
			log_refusal(from, m, status, err_str(ret));
		answer(k, m, from, status, NULL, slice_make(NULL, 0));
		return HOOK_DONE;
	}
	return ret < 0 ? HOOK_DONE : ret;
}

static int forward(struct pipeline *k, const struct peer *from,
		   const struct sipmsg *m, const struct hook_fwd *fw,
		   const struct rtpe_offers *o);
static int hold_dns(struct pipeline *k, const struct peer *from,
		    const struct sipmsg *m, const struct hook_fwd *fw,
		    const struct rtpe_offers *o);

/* A request held for rtpengine (proxy/rtpe.h): where it came from and
 * the targets the features chose, copied out of the arena. */
struct held_req {
	struct pipeline *k;
	struct peer from;
	struct hook_fwd fw;
	/* The request's bytes (a CANCEL's 487 is built from them; DNS
	 * routes them again), and how many lookups it waited for. */
	char *msg;
	size_t len;
	unsigned rounds;
	/* In k->held, found by a CANCEL by its INVITE's Call-ID, CSeq
	 * number and top Via branch (RFC 3261 §9.2); copies. */
	struct held_req *next, **pprev;
	struct slice call_id, branch;
	uint32_t cseq;
	bool cancelled; /* answered 487: drop it when it resumes */
	/* rtpengine's offers for a fork of mixed media (its branches'
	 * bodies) while it waits for DNS; NULL otherwise. */
	const struct rtpe_offers *offers;
	struct rtpe_offers offers_copy;
};

/* Copy @p s to *@p op and point it there. */
static struct slice keep_slice(char **op, struct slice s)
{
	struct slice out = slice_make(*op, s.len);

	if (s.len)
		memcpy(*op, s.p, s.len);
	*op += s.len;
	return out;
}

/* A held_req for @p m with a deep copy of @p fw and @p offers (NULL
 * allowed) and @p msg_len bytes for the message (one allocation), in
 * k->held. */
static struct held_req *
held_req_new(struct pipeline *k, const struct peer *from,
	     const struct sipmsg *m, const struct hook_fwd *fw,
	     const struct rtpe_offers *offers, size_t msg_len)
{
	size_t len = sizeof(struct held_req) + msg_len + m->call_id.len +
		     m->via.branch.len,
	       i;
	struct hook_target *t;
	struct held_req *h;
	char *o;

	for (i = 0; i < fw->nt; i++)
		len += sizeof(*t) + fw->t[i].b.uri.len + fw->t[i].b.path.len +
		       fw->t[i].ruri.len + fw->t[i].hdrs.len;
	for (i = 0; offers && i < RTPE_TO__COUNT; i++)
		len += offers->sdp[i].len;
	h = malloc(len);
	if (!h)
		return NULL;
	h->k = k;
	h->from = *from;
	h->fw = *fw;
	t = (struct hook_target *)(h + 1);
	o = (char *)(t + fw->nt);
	for (i = 0; i < fw->nt; i++) {
		t[i] = fw->t[i];
		/* The route reads uri, path, flow and q of a binding. */
		t[i].b.instance = t[i].b.call_id = t[i].b.user_agent =
		    slice_make(NULL, 0);
		t[i].b.uri = keep_slice(&o, fw->t[i].b.uri);
		t[i].b.path = keep_slice(&o, fw->t[i].b.path);
		t[i].ruri = keep_slice(&o, fw->t[i].ruri);
		t[i].hdrs = keep_slice(&o, fw->t[i].hdrs);
	}
	h->fw.t = fw->nt ? t : NULL;
	h->call_id = keep_slice(&o, m->call_id);
	h->branch = keep_slice(&o, m->via.branch);
	h->offers = offers ? &h->offers_copy : NULL;
	for (i = 0; i < RTPE_TO__COUNT; i++)
		h->offers_copy.sdp[i] = offers ? keep_slice(&o, offers->sdp[i])
					       : slice_make(NULL, 0);
	h->cseq = m->cseq;
	h->cancelled = false;
	h->msg = o;
	h->len = msg_len;
	h->rounds = 0;
	h->next = k->held;
	if (h->next)
		h->next->pprev = &h->next;
	h->pprev = &k->held;
	k->held = h;
	return h;
}

/* Out of k->held and freed. NULL-safe. */
static void held_req_free(struct held_req *h)
{
	if (!h)
		return;
	*h->pprev = h->next;
	if (h->next)
		h->next->pprev = h->pprev;
	free(h);
}

/*
 * CANCEL @p m for an INVITE still held for rtpengine or DNS (no server
 * transaction yet, nothing sent downstream): 200 for the CANCEL and 487
 * for the INVITE now (RFC 3261 §9.2, §16.10), and the INVITE is dropped
 * when its wait ends, never forwarded. Returns whether one was held.
 */
static bool cancel_held(struct pipeline *k, const struct sipmsg *m,
			const struct peer *from)
{
	struct held_req *inv = NULL;
	struct sipmsg im;
	int parsed;

	for (struct held_req *h = k->held; h; h = h->next) {
		if (h->cancelled || h->cseq != m->cseq ||
		    !slice_eq(h->call_id, m->call_id) ||
		    !slice_eq(h->branch, m->via.branch))
			continue;
		/* Its retransmissions held too (DNS) go with it. */
		h->cancelled = true;
		if (!inv)
			inv = h;
	}
	if (!inv)
		return false;
	(void)answer(k, m, from, 200, NULL, slice_make(NULL, 0));
	if (shard_parse(k->sh, &inv->from, inv->msg, inv->len, &im, &parsed) ==
		0 &&
	    parsed >= 0)
		(void)answer(k, &im, &inv->from, 487, NULL,
			     slice_make(NULL, 0));
	k->status = 200;
	return true;
}

/* rtpengine failed a call's offer: 503 with a Reason (media.on_failure:
 * fail). */
static int answer_media_failed(struct pipeline *k, const struct sipmsg *m,
			       const struct peer *from)
{
	return answer(k, m, from, 503, "Service Unavailable",
		      SLICE_LIT(RTPE_REASON_LINE));
}

/* rtpengine answered the offer(s) of held request @p h (or failed):
 * @p forked, the offers of a fork of mixed media (@p o on success). */
static void resume(struct held_req *h, int err, struct slice msg, bool forked,
		   const struct rtpe_offers *o)
{
	struct pipeline *k = h->k;
	struct sipmsg m;
	int parsed;

	if (h->cancelled) {
		/* CANCELed while rtpengine answered: nothing goes on, and
		 * what rtpengine made for it goes (a call never confirmed). */
		if (err != -ECANCELED && k->rtpe)
			rtpe_failed(k->rtpe, h->call_id);
	} else if (err != -ECANCELED &&
		   shard_parse(k->sh, &h->from, msg.p, msg.len, &m, &parsed) ==
		       0 &&
		   parsed >= 0) {
		k->status = 0;
		if (err && !rtpe_conf(shard_conf(k->sh))->proceed) {
			answer_media_failed(k, &m, &h->from);
			/* The offers of the fork that rtpengine made. */
			if (forked && k->rtpe)
				rtpe_failed(k->rtpe, h->call_id);
		} else {
			forward(k, &h->from, &m, &h->fw, err ? NULL : o);
		}
		count_txns(k);
		arena_reset(shard_arena(k->sh));
	}
	held_req_free(h);
}

/* rtpengine answered the offer of a held request (or failed). */
static void resume_request(void *arg, int err, struct slice msg)
{
	resume(arg, err, msg, false, NULL);
}

/* rtpengine answered the offers of a held forked request (or failed):
 * rtpe_fork_fn. */
static void resume_fork(void *arg, int err, struct slice msg,
			const struct rtpe_offers *o)
{
	resume(arg, err, msg, true, o);
}

/* Who gets the SDP of request @p m (rtpe_hold()): the kinds of media
 * (1u << enum rtpe_to) of the targets the route would send it to: a
 * browser for a WebSocket flow (a browser's binding, or the flow token
 * of an in-dialog Route), a trunk asking for SRTP for a next hop of a
 * routes[].srtp route, else a phone (a name not resolved yet too). One
 * kind: one offer for every branch; more: one per kind (a fork to a
 * browser and a phone). The plan is made again when the request goes
 * on (forward()). */
static unsigned offer_kinds(struct pipeline *k, const struct peer *from,
			    const struct sipmsg *m, const struct hook_fwd *fw)
{
	const struct conf *c = shard_conf(k->sh);
	struct route_plan p;
	unsigned kinds = 0;

	if (route_plan_fwd(c, m, fw, shard_arena(k->sh), &p) || p.status ||
	    !p.ntargets)
		return 1u << RTPE_TO_RTP;
	route_flow_apply(&p, from);
	for (unsigned i = 0; i < p.ntargets; i++)
		kinds |= 1u << (p.t[i].resolve.len
				    ? RTPE_TO_RTP
				    : rtpe_peer_kind(c, &p.t[i].dest));
	return kinds;
}

/* Hold request @p m for rtpengine's offer. Returns 1 when it goes on
 * untouched now (rtpengine unusable, media.on_failure: proceed), 0 when
 * it is held or answered, or the error of an answer not sent. */
static int hold_request(struct pipeline *k, const struct peer *from,
			const struct sipmsg *m, const struct hook_fwd *fw)
{
	const struct conf *c = shard_conf(k->sh);
	struct held_req *h = held_req_new(k, from, m, fw, NULL, m->len);
	int err = -ENOMEM;

	if (h) {
		unsigned kinds = offer_kinds(k, from, m, fw), one = 0;

		memcpy(h->msg, m->buf, m->len);
		while (one < RTPE_TO__COUNT && kinds != 1u << one)
			one++;
		if (one < RTPE_TO__COUNT)
			err = rtpe_hold(k->rtpe, c, from, m, (enum rtpe_to)one,
					resume_request, h);
		else
			err = rtpe_hold_fork(k->rtpe, c, from, m, kinds,
					     resume_fork, h);
	}

	if (!err) {
		k->outcome = "held for rtpengine";
		/* RFC 3261 §16.2: 100 Trying stops the INVITE's
		 * retransmissions while rtpengine answers. */
		if (m->method == SIP_INVITE)
			route_reply(k->route, m, from, 100, NULL,
				    slice_make(NULL, 0));
		return 0;
	}
	held_req_free(h);
	if (rtpe_conf(c)->proceed)
		return 1;
	return answer_media_failed(k, m, from);
}

/* A NAPTR -> SRV -> A/AAAA chain is three lookups; a request that has
 * waited for more (answers expiring meanwhile) gets 503. */
#define DNS_MAX_ROUNDS 6

/* The lookups a held request waited for are over: route it again (the
 * answers are in the cache now), or hold it for the next ones. */
static void resume_dns(void *arg, int err)
{
	struct held_req *h = arg;
	struct pipeline *k = h->k;
	struct sipmsg m;
	struct txn *st;
	int parsed;

	if (!h->cancelled && err != -ECANCELED &&
	    shard_parse(k->sh, &h->from, h->msg, h->len, &m, &parsed) == 0 &&
	    parsed >= 0) {
		/* A retransmission held too finds the first one's. */
		st = txn_srv_find(route_txns(k->route), &m, m.method);
		if (st) {
			txn_srv_absorb(st, &m);
		} else {
			k->status = 0;
			k->dns_rounds = h->rounds + 1;
			forward(k, &h->from, &m, &h->fw, h->offers);
			k->dns_rounds = 0;
		}
		count_txns(k);
		arena_reset(shard_arena(k->sh));
	}
	held_req_free(h);
}

/* Hold request @p m until the names its route needs are looked up
 * (proxy/dns.h), as for rtpengine: a copy of its bytes and targets, a
 * callback on this shard. Returns 0 when held or answered, or the error
 * of an answer not sent. */
static int hold_dns(struct pipeline *k, const struct peer *from,
		    const struct sipmsg *m, const struct hook_fwd *fw,
		    const struct rtpe_offers *o)
{
	struct held_req *h = NULL;
	int err = -ENOMEM;

	if (k->dns_rounds < DNS_MAX_ROUNDS)
		h = held_req_new(k, from, m, fw, o, m->len);
	if (h) {
		memcpy(h->msg, m->buf, m->len);
		h->rounds = k->dns_rounds;
		err = dns_wait(k->dns, resume_dns, h);
	}
	if (!err) {
		k->outcome = "held for DNS";
		/* RFC 3261 §16.2: 100 Trying stops the INVITE's
		 * retransmissions while the names are looked up. */
		if (m->method == SIP_INVITE && !h->rounds)
			route_reply(k->route, m, from, 100, NULL,
				    slice_make(NULL, 0));
		return 0;
	}
	held_req_free(h);
	if (err == -EALREADY) {
		/* Answered meanwhile (a lookup that failed at once). */
		if (k->dns_rounds < DNS_MAX_ROUNDS) {
			unsigned rounds = k->dns_rounds++;

			err = forward(k, from, m, fw, o);
			k->dns_rounds = rounds;
			return err;
		}
	}
	if (k->dns)
		dns_forget(k->dns);
	return answer(k, m, from, 503, "Service Unavailable (DNS failed)",
		      slice_make(NULL, 0));
}

/* A response held for rtpengine's answer. */
struct held_rsp {
	struct pipeline *k;
	struct peer from;
};

static void resume_response(void *arg, int err, struct slice msg)
{
	struct held_rsp *h = arg;
	struct pipeline *k = h->k;
	struct sipmsg m;
	int parsed;

	/* On failure the response goes on as it came: the callee has
	 * answered, and only the media is not anchored. */
	if (err != -ECANCELED &&
	    shard_parse(k->sh, &h->from, msg.p, msg.len, &m, &parsed) == 0 &&
	    parsed >= 0) {
		if (route_response(k->route, &m, &h->from) < 0)
			count(&shard_stats(k->sh)->dropped);
		count_txns(k);
		arena_reset(shard_arena(k->sh));
	}
	free(h);
}

/* Hold response @p m for rtpengine's answer: 0 when held. */
static int hold_response(struct pipeline *k, const struct peer *from,
			 const struct sipmsg *m)
{
	struct held_rsp *h = malloc(sizeof(*h));
	int err;

	if (!h)
		return -ENOMEM;
	h->k = k;
	h->from = *from;
	err = rtpe_hold(k->rtpe, shard_conf(k->sh), from, m, RTPE_TO_OFFERER,
			resume_response, h);
	if (err)
		free(h);
	return err;
}

/* rtpengine answered the answer in a held ACK (or failed): it goes on
 * either way, as an ACK cannot be refused; on failure as it came (the
 * media of that call is not anchored). */
static void resume_ack(void *arg, int err, struct slice msg)
{
	struct held_req *h = arg;
	struct pipeline *k = h->k;
	struct sipmsg m;
	int parsed;

	if (err != -ECANCELED &&
	    shard_parse(k->sh, &h->from, msg.p, msg.len, &m, &parsed) == 0 &&
	    parsed >= 0) {
		if (route_ack(k->route, &m, &h->from))
			count(&shard_stats(k->sh)->dropped);
		arena_reset(shard_arena(k->sh));
	}
	held_req_free(h);
}

/* Hold the ACK @p m of a 2xx whose SDP was the offer, for rtpengine's
 * answer (RFC 3261 §13.2.1, late offer): 0 when held. */
static int hold_ack(struct pipeline *k, const struct peer *from,
		    const struct sipmsg *m)
{
	struct hook_fwd fw;
	struct held_req *h;
	int err;

	memset(&fw, 0, sizeof(fw));
	h = held_req_new(k, from, m, &fw, NULL, 0);
	if (!h)
		return -ENOMEM;
	err = rtpe_hold(k->rtpe, shard_conf(k->sh), from, m, RTPE_TO_OFFERER,
			resume_ack, h);
	if (err)
		held_req_free(h);
	return err;
}

static void handle_request(struct pipeline *k, const struct peer *from,
			   const struct sipmsg *m, int parsed)
{
	struct shard *sh = k->sh;
	const struct conf *c = shard_conf(sh);
	struct txn_layer *l = route_txns(k->route);
	struct pipeline_verdict v;
	struct hook_fwd fw;
	struct txn *st;
	char ra[48];
	int err = 0;

	if (parsed >= 0 && m->method == SIP_ACK) {
		/* RFC 3261 §17.2.1: the ACK of a final 300-699 ends in its
		 * transaction; the ACK of a 2xx goes on statelessly. */
		st = txn_srv_find(l, m, SIP_INVITE);
		k->outcome = "absorbed by its transaction";
		if (!st && reply_is_derived_tag(m)) {
			/* The ACK of a final response we sent statelessly
			 * (hook_reply_stateless(), route_reply()). */
			k->outcome = "ACK of a stateless answer, absorbed";
			return;
		}
		if (!(st && txn_srv_absorb(st, m))) {
			/* The answer to an offer in the 2xx (late offer). */
			if (rtpe_wants(k->rtpe, m) &&
			    hold_ack(k, from, m) == 0) {
				k->outcome = "held for rtpengine";
				return;
			}
			err = route_ack(k->route, m, from);
			k->outcome = err ? "dropped" : "forwarded";
		}
		if (err)
			count(&shard_stats(sh)->dropped);
		return;
	}
	if (parsed >= 0 && m->method != SIP_ACK) {
		st = txn_srv_find(l, m, m->method);
		if (st) {
			k->outcome = "retransmission";
			txn_srv_absorb(st, m);
			return;
		}
		if (rtpe_is_held(k->rtpe, m)) {
			k->outcome = "retransmission (held for rtpengine)";
			return;
		}
		if (m->method == SIP_CANCEL) {
			st = txn_srv_find(l, m, SIP_INVITE);
			if (st) {
				k->outcome = "cancels its INVITE";
				rtpe_note(k->rtpe, m, from);
				route_cancel(k->route, st, m, from);
				return;
			}
			if (cancel_held(k, m, from)) {
				k->outcome = "cancels its held INVITE";
				rtpe_note(k->rtpe, m, from);
				return;
			}
		}
	}
	err = pipeline_decide(c, m, parsed, shard_arena(sh), &v);
	if (err)
		goto out;
	if (v.invalid)
		log_bad(from, m, &v);
	switch (v.action) {
	case PIPELINE_DROP:
		k->outcome = "dropped";
		count(&shard_stats(sh)->dropped);
		if (!v.invalid && log_enabled(LOG_DEBUG))
			log_msg(LOG_DEBUG, "dropped: %s", v.reason);
		return;
	case PIPELINE_REPLY:
		err = answer(k, m, from, v.status, v.reason, v.extra);
		goto out;
	case PIPELINE_REGISTER:
	case PIPELINE_ROUTE:
		break;
	}
	/* RFC 3261 §16.3 step 4. */
	if (route_is_loop(c, m)) {
		err = answer(k, m, from, 482, "Loop Detected",
			     slice_make(NULL, 0));
		goto out;
	}
	/* Completed transactions only wait for retransmissions (64*T1
	 * for Timer J): they are not load, and a busy shard keeps the
	 * newest max_completed of them instead of answering 503. This is
	 * a point where no transaction is being worked on. */
	txn_trim(l, c->overload.max_completed);
	if (c->overload.max_transactions &&
	    txn_count_live(l) >= c->overload.max_transactions) {
		count(&shard_stats(sh)->overloaded);
		err = answer(k, m, from, 503, NULL,
			     retry_after(sh, ra, sizeof(ra)));
		goto out;
	}
	if (run_hooks(k, from, m, v.action == PIPELINE_REGISTER, &fw) ==
	    HOOK_DONE)
		return;
	/* Media anchoring (proxy/rtpe.h): a BYE or CANCEL ends the call
	 * in rtpengine; an offer waits for rtpengine's SDP. */
	rtpe_note(k->rtpe, m, from);
	if (rtpe_wants(k->rtpe, m)) {
		err = hold_request(k, from, m, &fw);
		if (err <= 0)
			goto out;
	}
	err = forward(k, from, m, &fw, NULL);
out:
	if (err && log_enabled(LOG_INFO) && log_ratelimit_ok(&bad_rl))
		log_msg(LOG_INFO, "no answer sent: %s", err_str(err));
}

/* The offers of a fork of mixed media and whose config classes its
 * targets (route_body_fn's context). */
struct branch_sdp {
	const struct conf *c;
	const struct rtpe_offers *o;
};

/* The SDP of the branch to @p t: rtpengine's offer for its kind of
 * media (route_body_fn). */
static struct slice branch_sdp(void *ctx, const struct route_target *t)
{
	const struct branch_sdp *b = ctx;

	return rtpe_offers_pick(b->o, rtpe_peer_kind(b->c, &t->dest));
}

/* Forward request @p m (past the hooks) by the route, or answer what
 * the route plan says; @p o (NULL: none) are rtpengine's offers of a
 * fork of mixed media, each branch gets its kind's. Returns 0, or the
 * error of an answer that could not be sent. */
static int forward(struct pipeline *k, const struct peer *from,
		   const struct sipmsg *m, const struct hook_fwd *fw,
		   const struct rtpe_offers *o)
{
	struct branch_sdp b = { shard_conf(k->sh), o };
	int err;

	route_last_reply(k->route, NULL);
	if (k->dns)
		dns_forget(k->dns);
	err = route_request_body(k->route, m, from, fw, o ? branch_sdp : NULL,
				 &b);
	if (err == -EINPROGRESS)
		return hold_dns(k, from, m, fw, o);
	if (!err) {
		const char *why = NULL;
		unsigned status = route_last_reply(k->route, &why);

		/* Answered by the route plan (404, 480) or forwarded. */
		k->status = status;
		k->outcome = "forwarded";
		/* Past the policy and on its way: what comes back to the
		 * source is its callee's answer, not ours to budget. */
		if (!status)
			guard_vouch(from);
		if (status == 480)
			why = "no registered contact";
		if (status == 403 || status == 404 || status == 480)
			log_refusal(from, m, status, why);
	}
	if (err && err != -EAFNOSUPPORT) {
		unsigned status = err_sip_status(err);

		if (status == 403 || status == 404 || status == 480)
			log_refusal(from, m, status, err_str(err));
		err = answer(k, m, from, status, NULL, slice_make(NULL, 0));
	}
	/* Answered here, not forwarded (no transaction tells the route's
	 * invite_failed): what rtpengine or the call table has for an
	 * unconfirmed call goes now, not at the sweep minutes later. */
	if (m->method == SIP_INVITE && k->status >= 300)
		rtpe_failed(k->rtpe, m->call_id);
	return err;
}

/*
 * A message from a hidden trunk (proxy/topoh.h) is mapped to what the
 * inside knows before anything else looks at it: *m is parsed anew.
 * True when it is done with (a token that does not open: answered, or
 * dropped).
 */
static bool topoh_from_trunk(struct pipeline *k, const struct peer *from,
			     struct sipmsg *m, int *parsedp)
{
	struct shard *sh = k->sh;
	const char *why = NULL;
	unsigned status = 0;
	struct slice out;
	int err;

	err = topoh_in(shard_conf(sh), m, from, shard_arena(sh), &out, &status,
		       &why);
	if (err == 1) {
		if (shard_parse(sh, from, out.p, out.len, m, parsedp) ||
		    *parsedp < 0) {
			count(&shard_stats(sh)->dropped);
			return true;
		}
		if (!status)
			return false;
		err = -EBADMSG;
	}
	if (err == 0)
		return false;
	count(&shard_stats(sh)->dropped);
	if (err == -EBADMSG && m->is_request && m->method != SIP_ACK &&
	    status) {
		if (log_ratelimit_ok(&refusal_rl))
			log_msg(LOG_INFO, "topology hiding: %u %s", status,
				why);
		answer(k, m, from, status, why, slice_make(NULL, 0));
	}
	return true;
}

void pipeline_handle(struct shard *sh, const struct peer *from, const char *buf,
		     size_t len)
{
	struct pipeline *k = shard_role_state(sh);
	struct sipmsg m;
	int parsed;

	if (!k || shard_parse(sh, from, buf, len, &m, &parsed))
		return;
	if (parsed >= 0 && topoh_from_trunk(k, from, &m, &parsed))
		return;
	if (!m.is_request) {
		if (parsed >= 0 && m.status >= 100 && m.status < 700)
			count(&shard_stats(sh)->rsp_in[m.status / 100 - 1]);
		if (parsed >= 0 && k->rtpe) {
			rtpe_note(k->rtpe, &m, from);
			if (rtpe_wants(k->rtpe, &m) &&
			    hold_response(k, from, &m) == 0)
				return;
		}
		/* A malformed response is dropped (RFC 3261 §18.1.2). */
		if (parsed < 0 || route_response(k->route, &m, from) < 0)
			count(&shard_stats(sh)->dropped);
		count_txns(k);
		return;
	}
	k->status = 0;
	k->outcome = NULL;
	if (parsed >= 0 && m.method < SIP_METHOD__COUNT)
		count(&shard_stats(sh)->requests[m.method]);
	/* Stateless answers to these are timed (route_set_rx_us()). */
	if (parsed >= 0 && (m.method == SIP_INVITE || m.method == SIP_REGISTER))
		route_set_rx_us(k->route, stats_now_us());
	k->th_raw = parsed < 0 && topoh_peer_is_hidden(shard_conf(sh), from);
	handle_request(k, from, &m, parsed);
	k->th_raw = false;
	route_set_rx_us(k->route, 0);
	count_txns(k);
	if (log_enabled(LOG_DEBUG))
		log_request(k, from, &m);
}

static int role_new(struct shard *sh, uint64_t now_ms, void **statep)
{
	struct pipeline *k;
	int err = pipeline_new(sh, now_ms, &k);

	if (!err)
		*statep = k;
	return err;
}

static void role_free(void *state)
{
	pipeline_free(state);
}

/* A TCP next hop refused the connection: fail over now. */
static void role_conn_failed(struct shard *sh, const struct peer *to)
{
	struct pipeline *k = shard_role_state(sh);

	if (!k)
		return;
	route_conn_failed(k->route, to);
	count_txns(k);
	arena_reset(shard_arena(sh));
}

/* The shard stops, its loop still running: the ng client and the
 * resolver close their handles there (held messages are dropped: their
 * senders retransmit to another node or give up). */
static void role_stopping(struct shard *sh, void *state)
{
	struct pipeline *k = state;

	(void)sh;
	rtpe_free(k->rtpe);
	k->rtpe = NULL;
	dns_free(k->dns);
	k->dns = NULL;
}

/* A reload: the route follows the shard's new config. */
static void role_conf(struct shard *sh, const struct conf *c)
{
	struct pipeline *k = shard_role_state(sh);

	if (k)
		route_set_conf(k->route, c);
}

const struct shard_role pipeline_role = {
	.name = "proxy",
	.new_state = role_new,
	.free_state = role_free,
	.handle = pipeline_handle,
	.reject = pipeline_reject,
	.tick = pipeline_tick,
	.tick_ms = PIPELINE_TICK_MS,
	.stopping = role_stopping,
	.conf_changed = role_conf,
	.conn_failed = role_conn_failed,
};
