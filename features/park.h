/* features/park.h - call park: dial the code to park, dial the slot to
 * retrieve (proxy hook, pool steering, the B2B application) */
#pragma once

#include <stddef.h>

#include "features/b2b/ua.h"
#include "proxy/base/slice.h"
#include "proxy/hook.h"

struct conf;
struct sipmsg;
struct dtmf_event;

/*
 * Park (issue #13, first slice; docs/features.md "Park"). Three parts:
 *
 * - park_hook(), HOOK_FEATURES on the proxy: an initial INVITE to
 *   CODE@domain or SLOT@domain of a served domain whose lot is on
 *   (park_conf_lot()) goes to the B2B pool's address, Request-URI
 *   unchanged. Authentication ran before, as for any call.
 * - park_steer(), the pool's steering (pool_set_steer()): an
 *   out-of-dialog request whose Request-URI user part is digits goes to
 *   worker hash(domain) % workers, so that a domain's lot belongs to one
 *   worker (DESIGN.md §1): the parked call, the parker and the retriever
 *   meet there and are bridged without crossing threads. In-dialog
 *   requests follow the UA's Contact (b2b-N) to the same worker.
 * - park_incoming(), the UA core's ua_incoming_fn: park's URIs to the
 *   park application, every other INVITE to the relay
 *   (relay_incoming()).
 *
 * The application: an INVITE to the code is answered "200 Parked N"
 * (the slot, for a transferee's NOTIFY sipfrag, RFC 3515) with the
 * media engine's answer, takes the first free slot (store/park.h) and
 * hears "parked at" and the slot's digits, then music, until it hangs
 * up (the slot is freed at once) or is retrieved. Lot full: 183 with
 * SDP, "lot full", then 486. An INVITE to a free slot: 183 with SDP,
 * "slot empty", then 480. An INVITE to an occupied slot from the same
 * domain (its From host) retrieves: the parked party is re-INVITEd with
 * the retriever's offer, the retriever answered with the parked party's
 * answer, and the legs bridged (features/b2b/bridge.h): RTP flows phone
 * to phone. From another domain: 403. An INVITE to a slot with
 * Referred-By (a transferee, RFC 3892) parks in that slot when it is
 * free, else gets "486 Slot Occupied" and changes nothing. The slot
 * record's parker is the Referred-By URI, else the From URI. An INVITE
 * with Replaces (RFC 3891) naming a parked leg takes its slot (the
 * completion of an attended transfer whose consultation call parked):
 * answered "200 Parked N", the replaced leg gets BYE; naming none of
 * park's, 481.
 *
 * BLF (features/b2b/blf.h): once a parked call is answered its slot is
 * reported occupied (confirmed, or early per the lot's
 * blf_parked_state) with the parked party's From, and free when the
 * slot is released; the lot's count with both. From the lot's worker,
 * which is also BLF's (blf_worker_of()).
 *
 * Comeback: timeout_s (the lot's) after the park the parker is called
 * back from "Parked N: NAME" <sip:N@domain> (NAME the parked party's),
 * for comeback_ring_s; answered, it is bridged with the parked party as
 * park.retrieve's `to` is; not answered (CANCEL) or failed, the lot's
 * fallback URI the same way; then the parked call is hung up (BYE with
 * a Reason) and the slot freed. A caller that parked itself is not
 * rung back. Timers on the worker's wheel (ua_wheel()).
 *
 * Park of a proxied call's party (park.park, *7): park_dialog() and
 * park_dtmf_hook() below.
 *
 * Counters (module "park" in the stats registry, /metrics): parked,
 * retrieved, full, empty, refused, timeout, gave_up, replace_refused,
 * dtmf, and the gauge occupied.
 */

/**
 * The HOOK_FEATURES stage (see above). Returns HOOK_NEXT (with r->fwd
 * set when it routes to the pool), or -ENOMEM. Thread: the shard.
 */
int park_hook(struct hook_req *r);

/**
 * The pool_steer_fn (see above): a worker below @p workers, or -1.
 * Thread: any pool worker; does not block.
 */
int park_steer(const char *buf, size_t len, struct slice ruri,
	       unsigned workers);

/**
 * The ua_incoming_fn to give ua_set_incoming() (proxy/main.c): park's
 * INVITEs to park, the rest to relay_incoming(). Thread: the worker's.
 */
void park_incoming(struct ua *u, struct ua_leg *leg, const struct sipmsg *m);

struct pool;

/** What park_retrieve() reports: 0 (the call to `to` is under way),
 * -ENOENT (the slot is free), -EBUSY (being retrieved), -EINVAL (@p to
 * does not parse), -ECANCELED (the pool stopped), or ua_call()'s error.
 * Thread: the lot's worker (or the one stopping the pool). */
typedef void park_retrieve_fn(void *arg, int err);

/**
 * Retrieve slot @p slot of @p domain by calling @p to (a SIP URI, at
 * most UA_URI_MAX bytes) from the lot's worker: an INVITE without SDP
 * from "Parked SLOT" <sip:SLOT@domain>; @p to's offer (its 2xx) goes to
 * the parked party in a re-INVITE, the answer in the ACK to @p to, and
 * the two are bridged (RFC 3725 flow I with the parked party as the
 * answering side). @p to failing leaves the call parked. @p done is
 * called once, from the worker, as soon as the call to @p to started
 * or could not. Returns 0, or -EINVAL (@p domain or @p to empty or too
 * long), -ENOBUFS, -ENOMEM (@p done not called then). Thread: any
 * while the pool runs. Ownership: @p arg passes to @p done.
 */
int park_retrieve(struct pool *p, const char *domain, unsigned slot,
		  const char *to, park_retrieve_fn *done, void *arg);

/** Which user agent of a proxied dialog park_dialog() parks. */
enum park_party {
	PARK_PARTY_CALLEE, /**< the one that answered the INVITE */
	PARK_PARTY_CALLER, /**< the one that sent it */
};

/** What park_dialog() is asked; slices borrowed for the call. */
struct park_dialog_req {
	struct slice call_id; /**< of a dialog the proxy carries */
	/** The asker's tag (*7: the INFO's From tag; its To tag in
	 * @p peer_tag): the other party is parked. Empty: @p party says
	 * which, of the confirmed dialog of @p call_id. */
	struct slice tag, peer_tag;
	enum park_party party;
	/** The lot (empty: the host of the parker's URI). */
	struct slice domain;
	unsigned slot; /**< 0: the first free slot */
	/** Tell the parker the slot: a MESSAGE "Parked 701" (the *7
	 * way, where nobody else hears the answer). */
	bool tell;
};

/**
 * What park_dialog() reports, once, from the lot's worker: @p err 0
 * (parked: @p slot of @p domain, @p parked and @p parker the parties'
 * URIs), -EBUSY (the lot is full, or @p slot is taken), -ENOPROTOOPT
 * (the domain has no lot), -ERANGE (the slot is not in the lot),
 * -ECONNREFUSED (the party refused the INVITE with Replaces: @p status
 * its final, 481 / 420 / 488 ...; the call is as it was), -ETIMEDOUT
 * (it did not answer in time: cancelled), -ECANCELED (the pool
 * stopped), or another error (no media, ua_call()'s). Strings borrowed
 * for the call. Thread: the lot's worker.
 */
typedef void park_dialog_fn(void *arg, int err, unsigned status,
			    const char *domain, unsigned slot,
			    const char *parked, const char *parker);

/**
 * Park one party of a dialog the proxy carries (store/dlg.h; issue
 * #13: park.park and *7): on the lot's worker, claim the slot, then
 * send the party an INVITE with "Replaces: call-id;to-tag=ITS
 * TAG;from-tag=THE PEER'S" and "Require: replaces" (RFC 3891) and the
 * media engine's offer, to its Contact (with the route set the proxy
 * keeps for it), from "Parked N" <sip:N@domain>. Answered 2xx: ACKed,
 * the party hears music (no prompt: it did not ask), the slot holds it
 * with the other party as parker (the comeback rings it), and the
 * party itself ends its old dialog (BYE to the parker, RFC 3891 §3).
 * Refused: the slot is freed, the call is as it was.
 * Returns 0 (@p done will be called), or -ENOENT (no such dialog),
 * -EALREADY (the dialog is early), -EINVAL (a bad request: no Call-ID,
 * a party without Contact, fields too long), -ECANCELED (no pool),
 * -ENOMEM, -ENOBUFS (the worker's queue is full); @p done is not
 * called then. Thread: any registered RCU thread outside a read
 * section (a proxy shard, the management thread). Ownership: @p arg
 * passes to @p done (may be NULL: nobody is told).
 */
int park_dialog(const struct park_dialog_req *rq, park_dialog_fn *done,
		void *arg);

/**
 * The pool park_dialog() and park_dtmf_hook() use (NULL: none).
 * Thread: control, after the pool started and before it stops.
 */
void park_set_pool(struct pool *p);

/**
 * HOOK_FEATURES on the proxy: the *7 observer. An INFO in a dialog
 * (To tag) with application/dtmf-relay ("Signal=*", "Signal=7", or
 * "Signal=*7") or application/dtmf ("*", "7", "*7") body: a '*' and
 * then a '7' from one party (its From tag) within 2 s park the OTHER
 * party with park_dialog() (tell: the sender gets the MESSAGE). The
 * INFO itself is relayed as always. Returns HOOK_NEXT. Per shard a
 * small table of recent '*' (no lock: a dialog's requests run on the
 * shard of its Call-ID). Thread: the shard.
 */
int park_dtmf_hook(struct hook_req *r);

/**
 * The dtmf_event_fn (proxy/dtmf.h) of the RFC 4733 way in: key
 * presses rtpengine saw in a call the proxy anchors there go to the
 * detector park_dtmf_hook() uses ('*' then '7' from one party within
 * 2 s park the OTHER party, the sender gets the MESSAGE); the party is
 * the report's source tag, the dialog its Call-ID and both tags. A
 * report without the other tag is dropped. Thread: the shard @p shard.
 */
void park_dtmf_event(unsigned shard, const struct dtmf_event *ev);

/**
 * Make the slot table (store/park.h), register the counters, and give
 * BLF (blf_set_resolve()) the lots of @p c: which URIs are slots and
 * lots, per domain. Returns 0, or -ENOMEM, park_init()'s or
 * stats_add()'s error (nothing left made then).
 * Thread: control, before the proxy's shards and the pool start.
 */
int park_feature_start(const struct conf *c);

/** Undo park_feature_start(). NULL-safe as to what was made.
 * Thread: control, after the pool and the proxy's shards stopped. */
void park_feature_stop(void);
