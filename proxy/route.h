/* proxy/route.h - RFC 3261 §16 proxy behaviour: targets, forking, responses */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/base/slice.h"
#include "proxy/core/transport.h"

struct arena;
struct conf;
struct hook_fwd;
struct sipmsg;
struct sipuri;
struct timer_wheel;
struct stats_hist;
struct txn;
struct txn_layer;

/** Most targets one request is forked to (parallel and serial). */
#define ROUTE_MAX_TARGETS 16

/** One place a request goes. */
struct route_target {
	struct slice ruri; /**< new Request-URI; empty: keep it */
	struct slice path; /**< Route values to put on top (Path), or empty */
	struct peer dest;  /**< where it is sent */
	uint16_t q;	   /**< q-value x 1000 */
	struct slice hdrs; /**< header lines for this branch only (a
				feature's, proxy/hook.h), or empty */
	struct slice resolve; /**< a sip/sips URI whose host is a name:
				   dest is not set; route_cfg.resolve
				   turns it into targets (RFC 3263) */
	struct slice body;    /**< this branch's body instead of the
				   request's (route_body_fn), or empty:
				   the request's */
};

/** What route_plan() decided. */
struct route_plan {
	unsigned status;    /**< 0: forward; else answer this statelessly */
	const char *reason; /**< its reason phrase */
	/* Forwarding. */
	unsigned ntargets;
	struct route_target t[ROUTE_MAX_TARGETS];
	/**
	 * true: static route next hops, tried one by one on 503, 408 or a
	 * transport error; false: location contacts, forked in parallel by
	 * q-value groups, the next group after any 3xx-5xx.
	 */
	bool failover;
	/* Route header processing (RFC 3261 §16.4, §16.6 step 6). */
	unsigned pop;		 /**< our own values to remove from the top */
	bool strict_repair;	 /**< R-URI was our Record-Route: take the last
				      Route value as R-URI, remove it */
	bool strict_next;	 /**< the next hop is a strict router: R-URI
				      goes to the end of Route */
	struct slice rest_first; /**< first Route value left, or empty */
	/**
	 * A Route value of ours popped here named a WebSocket flow (the
	 * flow token of our Record-Route, RFC 5626 §5.3, RFC 7118 §5):
	 * route_flow_apply() sends to the one it did not come from.
	 */
	unsigned nflow;
	struct peer flow[2];
};

/**
 * When @p p popped a flow token of ours (p->nflow) that names a
 * connection other than the one @p from came over, and no foreign Route
 * is left: the one target is that flow, whatever the Request-URI (a
 * browser's `.invalid` Contact). Thread: any.
 */
void route_flow_apply(struct route_plan *p, const struct peer *from);

/**
 * True when @p u (a sip/sips URI) names this proxy: its host is a served
 * domain, or one of the listen addresses with its port (or no port and
 * the listen port 5060). Thread: any.
 */
bool route_uri_is_ours(const struct conf *c, const struct sipuri *u);

/**
 * True when @p m still has a Route value that does not name this proxy
 * (route_uri_is_ours()), one that cannot be parsed, or more than 64:
 * the request goes there, and a feature of ours (intercom, park) must
 * not take it. Thread: any.
 */
bool route_foreign(const struct conf *c, const struct sipmsg *m);

/**
 * Turn the URI @p uri into a destination: IP-literal host (names are
 * route_cfg.resolve's, on the shard's loop), port (default 5060),
 * ;transport=udp|tcp. sips: is refused. Errors: -EBADMSG (not a sip URI),
 * -EDESTADDRREQ (a host name), -EPROTONOSUPPORT (another transport or sips).
 * Thread: any.
 */
int route_uri_dest(struct slice uri, struct peer *destp);

/**
 * Decide where request @p m (valid, not ACK for an existing
 * transaction, not CANCEL) goes, without sending anything: Route
 * processing (loose routing, strict-route repair), then by Request-URI:
 * served-domain users from the location table (RCU read section taken
 * here), other targets by the static routes, IP-literal hosts
 * directly, host names as targets with route_target.resolve set; else
 * the status to answer (404 No Route, 480 not registered, 416 sips).
 * Returns 0 with *p set, or -ENOMEM. Thread: a registered RCU thread
 * (a shard). Ownership: slices in *p point into @p m or @p a.
 */
int route_plan(const struct conf *c, const struct sipmsg *m, struct arena *a,
	       struct route_plan *p);

/**
 * route_plan() with the targets a feature chose (@p fw, NULL or none:
 * as route_plan()): they replace the location lookup of a served-domain
 * user when Route processing leaves no next hop. A Request-URI with
 * `gr` goes to the installed GRUU lookup (proxy/hook.h) first.
 * Errors, thread and ownership as route_plan().
 */
int route_plan_fwd(const struct conf *c, const struct sipmsg *m,
		   const struct hook_fwd *fw, struct arena *a,
		   struct route_plan *p);

/**
 * The loop-detection hash of request @p m as it would be forwarded with
 * Request-URI @p ruri and first Route value @p route (RFC 3261 §16.6
 * step 8: Request-URI, tags, Call-ID, CSeq number, Route).
 */
uint32_t route_loop_hash(const struct sipmsg *m, struct slice ruri,
			 struct slice route);

/**
 * True when request @p m carries a Via of ours whose branch holds the
 * loop hash of @p m as received: it went through here unchanged and
 * came back (RFC 3261 §16.3 step 4): answer 482.
 */
bool route_is_loop(const struct conf *c, const struct sipmsg *m);

/**
 * The proxy of one shard: its transaction layer, the response contexts
 * of forwarded requests (best response, CANCEL, Timer C), the dialog
 * table updates. Single owner (the shard); no locks.
 */
struct route;

/** What a shard's proxy is made with. */
struct route_cfg {
	const struct conf *conf;
	unsigned shard;
	struct timer_wheel *wheel;
	struct arena *arena; /**< per-message; the owner resets it */
	/** Send @p len bytes to @p to (tp_send on a shard). */
	int (*send)(void *ctx, const struct peer *to, const void *buf,
		    size_t len);
	void *send_ctx;
	/** NULL, or the open TCP connection whose remote end is @p sa
	 * (tp_conn_find()), 0 when none: for RFC 3261 §18.2.2. */
	uint64_t (*conn_find)(void *ctx, const struct sockaddr *sa);
	bool dialogs; /**< keep the dialog table (store/dlg.h) */
	/** NULL, or the transactions' histograms (struct txn_cfg hist). */
	struct stats_hist *hist;
	/** NULL, or told (with send_ctx) that an INVITE of Call-ID
	 * @p call_id ended upstream with a final 300-699 (every branch
	 * failed, CANCEL, Timer C): media anchoring deletes the call. */
	void (*invite_failed)(void *ctx, struct slice call_id);
	/** NULL (names are not routed: 404 No Route), or the destinations
	 * of sip/sips URI @p uri whose host is a name, in the order to try
	 * (proxy/dns.h dns_resolve()): a count >= 1, -EINPROGRESS (asked;
	 * route_request_fwd() returns it), -ENOENT (no such name: 404),
	 * another error (the DNS failed: 503). */
	int (*resolve)(void *ctx, struct slice uri, struct peer *out,
		       unsigned max);
	void *resolve_ctx;
};

/**
 * The request being handled arrived at @p us (stats_now_us()), or 0
 * when none is: route_reply() times its answers to INVITE and REGISTER
 * from there into cfg.hist, and so do the server transactions made
 * meanwhile (txn_set_rx_us()).
 * Thread: the owner.
 */
void route_set_rx_us(struct route *r, uint64_t us);

/**
 * A TCP connection to @p to could not be made: the client transactions
 * sent there fail at once with 503 (txn_cli_fail_peer()), so the
 * request fails over to its next target or is answered 503.
 * Thread: the owner.
 */
void route_conn_failed(struct route *r, const struct peer *to);

/** Errors: -EINVAL, -ENOMEM. Ownership: route_free(). */
int route_new(const struct route_cfg *cfg, struct route **rp);

/**
 * Terminate every transaction (nothing is sent) and free. NULL is
 * allowed.
 */
void route_free(struct route *r);

/**
 * Route with @p c from now on (a reload: routes, domains, record_route,
 * timer_c_s, limits). What route_new() took once stays: the listeners
 * and the transaction timers (t1_ms, t2_ms, t4_ms, max_headers), which
 * a reload may not change. Thread: the shard of @p r.
 * Ownership: @p c is borrowed, as route_cfg.conf.
 */
void route_set_conf(struct route *r, const struct conf *c);

/** The transaction layer (for core matching and hook replies). */
struct txn_layer *route_txns(struct route *r);

/**
 * Forward new request @p m (valid; not ACK, not CANCEL) from @p from
 * statefully (RFC 3261 §16.6) as route_plan() says, or answer it
 * statelessly when it cannot be routed. INVITE gets 100 Trying.
 * Targets that are host names become the destinations route_cfg.resolve
 * gives, tried one after the other (RFC 3263 §4.3).
 * Returns 0, or -ENOMEM / a send error (nothing was sent then: the
 * caller may answer err_sip_status()), or -EINPROGRESS: a name is being
 * looked up, nothing was sent; the caller holds the request and hands
 * it in again when the lookup is over.
 */
int route_request(struct route *r, const struct sipmsg *m,
		  const struct peer *from);

/**
 * route_request() by route_plan_fwd() with @p fw (NULL allowed): the
 * targets and per-branch header lines HOOK_FEATURES chose. @p fw and
 * what it points to are copied before return.
 */
int route_request_fwd(struct route *r, const struct sipmsg *m,
		      const struct peer *from, const struct hook_fwd *fw);

/**
 * The body the branch to @p t gets instead of the request's (media
 * anchoring: rtpengine's offer for that target's kind of media), or an
 * empty slice for the request's own. Valid until the call that asked
 * for it returns. Thread: the owner of the route.
 */
typedef struct slice route_body_fn(void *ctx, const struct route_target *t);

/**
 * route_request_fwd() whose branches may each carry their own body:
 * @p body (NULL: every branch the request's) is asked once per target,
 * after names are resolved, and what it gives is copied (with its
 * Content-Length) into that branch's request, the first one and those
 * of later serial groups alike. Errors, thread and ownership as
 * route_request_fwd().
 */
int route_request_body(struct route *r, const struct sipmsg *m,
		       const struct peer *from, const struct hook_fwd *fw,
		       route_body_fn *body, void *ctx);

/**
 * Forward ACK @p m that matched no server transaction (the ACK of a
 * 2xx) statelessly by its Route / Request-URI (RFC 3261 §16.11), with a
 * branch derived from its own. Dropped when it cannot be routed (or
 * its next hop's name is not in the resolver's cache yet).
 * Returns 0 or a negative error.
 */
int route_ack(struct route *r, const struct sipmsg *m, const struct peer *from);

/**
 * CANCEL @p m for INVITE server transaction @p st (RFC 3261 §16.10):
 * 200 to the CANCEL, then a CANCEL on every pending branch; the INVITE
 * ends with 487 unless a branch answers 2xx or 6xx first.
 * Returns 0 or a negative error.
 */
int route_cancel(struct route *r, struct txn *st, const struct sipmsg *m,
		 const struct peer *from);

/**
 * A response @p m from @p from: to its client transaction (RFC 3261
 * §16.7), or, matching none, forwarded statelessly by Via when our Via
 * is on top (§16.11; UDP only: a TCP hop needs its connection).
 * Returns 0, or a negative error (dropped).
 */
int route_response(struct route *r, const struct sipmsg *m,
		   const struct peer *from);

/**
 * Answer request @p m from @p from statelessly with @p status (reason
 * @p reason, NULL for the standard one) and header lines @p extra.
 * Returns 0 or a negative error.
 */
int route_reply(struct route *r, const struct sipmsg *m,
		const struct peer *from, unsigned status, const char *reason,
		struct slice extra);

/**
 * The status of the last answer route_reply() sent for @p r (the
 * stateless answers of route_request_fwd() among them), with its reason
 * phrase in *@p reasonp (static or in the arena; may be NULL); then
 * forget it. Returns 0 when there was none since the last call.
 * Thread: the shard of @p r.
 */
unsigned route_last_reply(struct route *r, const char **reasonp);
