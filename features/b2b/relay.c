/* features/b2b/relay.c - the B2B relay: UAS leg A bridged to UAC leg B */
#include "features/b2b/relay.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "features/b2b/b2b_conf.h"
#include "features/b2b/bridge.h"
#include "proxy/base/log.h"
#include "proxy/core/conf.h"
#include "proxy/core/shard.h"
#include "proxy/sip/hdr.h"
#include "proxy/sip/msg.h"
#include "proxy/sip/rel.h"
#include "proxy/sip/sdp.h"
#include "proxy/sip/uri.h"

static const char reason_bye[] = "SIP ;cause=200 ;text=\"BYE\"";
static const char reason_cancel[] = "SIP ;cause=487 ;text=\"CANCEL\"";

/* One bridged call; a and b are NULL once gone. */
struct call {
	struct call *prev, *next; /* in the worker's list */
	struct relay_state *rs;
	struct ua *u;
	struct ua_leg *a, *b;
	bool a_reliable;
	struct bridge br; /* once both legs are up */
};

/* Per worker: the live calls, freed when the worker stops. */
struct relay_state {
	struct call *calls;
};

static void state_free(void *state)
{
	struct relay_state *rs = state;

	while (rs && rs->calls) {
		struct call *c = rs->calls;

		rs->calls = c->next;
		free(c);
	}
	free(rs);
}

static const struct ua_app relay_app = { "relay", state_free };

/* Free @p c once neither leg is left. */
static void call_done(struct call *c)
{
	if (!c->a)
		bridge_forget(&c->br, c->br.a);
	if (!c->b)
		bridge_forget(&c->br, c->br.b);
	if (c->a || c->b)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		c->rs->calls = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c);
}

/* The 100rel mode of the party in domain @p host (b2b.domains, else
 * b2b.100rel). enum b2b_100rel and enum rel_mode list the modes alike. */
static enum rel_mode mode_of(struct ua *u, struct slice host)
{
	switch (b2b_100rel_for(shard_conf(ua_shard(u)), host)) {
	case B2B_100REL_NO:
		return REL_MODE_NO;
	case B2B_100REL_REQUIRED:
		return REL_MODE_REQUIRED;
	case B2B_100REL_PEER_SUPPORTED:
		return REL_MODE_PEER_SUPPORTED;
	default:
		return REL_MODE_SUPPORTED;
	}
}

/* The host of the URI in header @p id (From) or of @p uri, or empty. */
static struct slice host_of(const struct sipmsg *m, enum hdr_id id)
{
	const struct siphdr *h = sipmsg_hdr(m, id);
	struct nameaddr na;
	struct sipuri su;

	if (!h || nameaddr_parse(h->value, &na) || uri_parse(na.uri, &su))
		return slice_make(NULL, 0);
	return su.host;
}

static struct slice ruri_host(const struct sipmsg *m)
{
	struct sipuri su;

	return uri_parse(m->ruri, &su) ? slice_make(NULL, 0) : su.host;
}

/* A held answer to offer @p sdp (a=inactive), or empty. */
static struct slice held(struct ua *u, struct slice sdp)
{
	struct slice out = slice_make(NULL, 0);
	struct sdp s;

	if (sdp_parse(&s, sdp.p, sdp.len) ||
	    sdp_print(&s, SDP_SET_DIR, SDP_INACTIVE, shard_arena(ua_shard(u)),
		      &out))
		return slice_make(NULL, 0);
	return out;
}

/* Both legs gone: the other leg's dialog died under an offer. */
static void end_both(struct call *c)
{
	if (c->a)
		ua_hangup(c->a, slice_cstr(reason_bye));
	if (c->b)
		ua_hangup(c->b, slice_cstr(reason_bye));
	c->a = c->b = NULL;
	call_done(c);
}

/* A re-INVITE/UPDATE offer or INFO on either leg: to the other one. */
static void on_request(struct ua_leg *leg, const struct ua_request *rq,
		       void *arg)
{
	struct call *c = arg;

	bridge_request(&c->br, leg, rq);
}

static void b_event(struct ua_leg *leg, const struct ua_event *ev, void *arg)
{
	struct call *c = arg;
	struct slice none = slice_make(NULL, 0);
	unsigned st;

	(void)leg;
	switch (ev->kind) {
	case UA_EV_RINGING:
		if (ev->needs_prack && !c->a_reliable) {
			/* A cannot answer it early: hold B's media. */
			(void)ua_prack(c->b, held(c->u, ev->sdp));
		}
		if (c->a)
			(void)ua_uas_respond(c->a, ev->status, none, ev->sdp);
		return;
	case UA_EV_ANSWERED:
		/* B is ACKed when A's ACK comes (its SDP may be the answer). */
		if (c->a &&
		    ua_uas_respond(c->a, ev->status, none, ev->sdp) == 0)
			return;
		ua_hangup(c->b, slice_cstr(reason_bye));
		c->b = NULL;
		call_done(c);
		return;
	case UA_EV_FAILED:
		c->b = NULL;
		st = ev->status >= 300 && ev->status < 700 ? ev->status : 500;
		if (c->a)
			(void)ua_uas_respond(c->a, st, none, none);
		c->a = NULL;
		call_done(c);
		return;
	case UA_EV_ENDED:
		c->b = NULL;
		if (c->a)
			ua_hangup(c->a, slice_cstr(reason_bye));
		c->a = NULL;
		call_done(c);
		return;
	case UA_EV_REINVITE:
		/* The re-INVITE that carried A's offer to B. */
		if (bridge_reinvited(&c->br, leg, ev->status, ev->sdp) ==
		    BRIDGE_END)
			end_both(c);
		return;
	}
}

static void a_event(struct ua_leg *leg, const struct ua_srv_event *ev,
		    void *arg)
{
	struct call *c = arg;

	(void)leg;
	switch (ev->kind) {
	case UA_SRV_PRACK:
		/* The answer to B's reliable offer, if B waits for one. */
		if (c->b)
			(void)ua_prack(c->b, ev->sdp);
		return;
	case UA_SRV_ACK:
		if (c->b)
			(void)ua_ack(c->b, ev->sdp);
		/* Both confirmed: offers and INFO cross from now on. */
		c->br.a = c->a;
		c->br.b = c->b;
		return;
	case UA_SRV_REINVITE:
		/* The re-INVITE that carried B's offer to A. */
		if (bridge_reinvited(&c->br, leg, ev->status, ev->sdp) ==
		    BRIDGE_END)
			end_both(c);
		return;
	case UA_SRV_CANCELLED:
	case UA_SRV_ENDED:
	case UA_SRV_FAILED:
		c->a = NULL;
		if (c->b)
			ua_hangup(c->b, slice_cstr(ev->kind == UA_SRV_ENDED
						       ? reason_bye
						       : reason_cancel));
		c->b = NULL;
		call_done(c);
		return;
	}
}

/* True when @p ruri names the pool itself (IP literal and port): bridging
 * it would call the pool again, forever. */
static bool is_pool(struct slice ruri)
{
	struct sockaddr_storage ss;
	char ip[INET6_ADDRSTRLEN + 2], txt[INET6_ADDRSTRLEN];
	struct sipuri su;
	socklen_t len;
	uint16_t port;

	if (uri_parse(ruri, &su) || pool_self_addr(&ss, &len))
		return false;
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &a->sin6_addr, txt, sizeof(txt));
		snprintf(ip, sizeof(ip), "[%s]", txt);
		port = ntohs(a->sin6_port);
	} else {
		const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
		port = ntohs(a->sin_port);
	}
	return su.port == port && slice_eq(su.host, slice_cstr(ip));
}

void relay_incoming(struct ua *u, struct ua_leg *leg, const struct sipmsg *m)
{
	struct relay_state *rs = ua_app_state(u, &relay_app);
	/* A faces the caller (From's domain), B the callee (the
	 * Request-URI's): each leg with its party's 100rel mode. */
	enum rel_mode mode = mode_of(u, host_of(m, HDR_FROM));
	enum rel_mode bmode = mode_of(u, ruri_host(m));
	struct ua_call_opts o;
	struct call *c;
	bool tag;
	int err;

	/* Loops: the pool as the target (482), or no hops left (483: B's
	 * INVITE carries A's Max-Forwards less one, RFC 3261 §16.6 step 3
	 * as a proxy would). */
	if (is_pool(m->ruri)) {
		(void)ua_uas_respond(leg, 482, slice_make(NULL, 0),
				     slice_make(NULL, 0));
		return;
	}
	if (m->max_forwards >= 0 && m->max_forwards <= 1) {
		(void)ua_uas_respond(leg, 483, slice_make(NULL, 0),
				     slice_make(NULL, 0));
		return;
	}
	switch (rel_decide(mode, m)) {
	case REL_REJECT_420:
		(void)ua_uas_respond(leg, 420, rel_unsupported_line(),
				     slice_make(NULL, 0));
		return;
	case REL_REJECT_421:
		(void)ua_uas_respond(leg, 421, rel_require_line(),
				     slice_make(NULL, 0));
		return;
	default:
		break;
	}
	if (!rs) {
		rs = calloc(1, sizeof(*rs));
		if (!rs || ua_app_set(u, &relay_app, rs)) {
			free(rs);
			(void)ua_uas_respond(leg, 500, slice_make(NULL, 0),
					     slice_make(NULL, 0));
			return;
		}
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		(void)ua_uas_respond(leg, 500, slice_make(NULL, 0),
				     slice_make(NULL, 0));
		return;
	}
	c->rs = rs;
	c->u = u;
	c->a = leg;
	c->a_reliable = rel_decide(mode, m) == REL_RELIABLE;
	tag = rel_has_tag(m, HDR_SUPPORTED) || rel_has_tag(m, HDR_REQUIRE);
	memset(&o, 0, sizeof(o));
	o.target = m->ruri;
	o.sdp = m->body;
	o.fn = b_event;
	o.arg = c;
	o.rel100 = (int)rel_uac_offer(bmode, tag);
	o.app_prack = true;
	o.max_forwards = m->max_forwards > 70 || m->max_forwards < 0
			     ? 70
			     : (unsigned)m->max_forwards - 1;
	err = ua_call(u, &o, &c->b);
	if (err) {
		log_msg(LOG_INFO, "b2b relay: call to %.*s not started: %d",
			(int)(m->ruri.len > 80 ? 80 : m->ruri.len), m->ruri.p,
			err);
		free(c);
		(void)ua_uas_respond(leg, err == -EINVAL ? 400 : 503,
				     slice_make(NULL, 0), slice_make(NULL, 0));
		return;
	}
	(void)ua_uas_take(leg, a_event, c, c->a_reliable);
	ua_leg_on_request(c->a, on_request, c);
	ua_leg_on_request(c->b, on_request, c);
	c->next = rs->calls;
	if (rs->calls)
		rs->calls->prev = c;
	rs->calls = c;
}
