/* features/park.h - call park: dial the code to park, dial the slot to
 * retrieve (proxy hook, pool steering, the B2B application) */
#pragma once

#include <stddef.h>

#include "features/b2b/ua.h"
#include "proxy/base/slice.h"
#include "proxy/hook.h"

struct conf;
struct sipmsg;

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
 * Counters (module "park" in the stats registry, /metrics): parked,
 * retrieved, full, empty, refused, timeout, gave_up, and the gauge
 * occupied.
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
