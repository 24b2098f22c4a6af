/* features/b2b/bridge.h - two confirmed legs of one call: offers and
 * INFO of one leg carried to the other */
#pragma once

#include <stdbool.h>

#include "features/b2b/ua.h"

/*
 * Once a call's two legs are up, what one peer asks in the dialog is
 * the other peer's to answer: a re-INVITE or UPDATE with a new offer
 * becomes a re-INVITE of the other leg (its SDP continued in that leg's
 * session: ua_offer_for()), and the answer comes back in the first
 * request's 2xx (continued in its leg's session likewise); INFO (DTMF
 * relay, RFC 6086) becomes INFO on the other leg and its final status
 * answers the first. One offer at a time across the call: an offer
 * while another is under way, or while the other leg is not confirmed
 * or has a re-INVITE of its own pending, gets 491 (RFC 3261 §14.2,
 * RFC 3311 §5.2); a second INFO while one crosses gets 500 with
 * Retry-After. When the other leg's dialog is gone (its re-INVITE got
 * 408 or 481, RFC 3261 §12.2.1.2), the first request gets 500 and the
 * application is told to end the call.
 *
 * The application (relay, originate) embeds a struct bridge, sets both
 * legs, points each leg's ua_leg_on_request() at a function that calls
 * bridge_request(), passes its ua_reinvite() outcomes to
 * bridge_reinvited(), and calls bridge_forget() when a leg ends.
 * Thread: the legs' worker. Ownership: the application's; it outlives
 * both legs (an INFO's ua_done_fn holds it, dropped when a leg ends).
 */
struct bridge {
	struct ua_leg *a, *b;
	struct ua_leg *offer_from; /* whose offer crosses now, or NULL */
	enum sip_method offer_method;
	struct ua_leg *info_from; /* whose INFO crosses now, or NULL */
};

/** What the application does after a bridge call. */
enum bridge_verdict {
	BRIDGE_OK,  /**< handled, or not the bridge's */
	BRIDGE_END, /**< the other leg's dialog is gone: end the call */
};

/**
 * Request @p rq arrived on @p leg (one of br->a, br->b): carry it to
 * the other leg, or answer it (491, 500) when it cannot cross.
 * Thread: the worker's.
 */
void bridge_request(struct bridge *br, struct ua_leg *leg,
		    const struct ua_request *rq);

/**
 * The outcome (@p status, answer @p sdp) of a ua_reinvite() on @p leg:
 * when it carried the other leg's offer, answer that leg.
 * Returns BRIDGE_END when the call must end (see above). Thread: the
 * worker's.
 */
enum bridge_verdict bridge_reinvited(struct bridge *br, struct ua_leg *leg,
				     unsigned status, struct slice sdp);

/** True while an offer crosses the bridge (the application must not
 * start its own re-INVITE then). */
bool bridge_busy(const struct bridge *br);

/** @p leg is gone (ended, hung up): drop it. Thread: the worker's. */
void bridge_forget(struct bridge *br, struct ua_leg *leg);
