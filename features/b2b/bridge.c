/* features/b2b/bridge.c - two confirmed legs of one call: offers and
 * INFO of one leg carried to the other */
#include "features/b2b/bridge.h"

#include <errno.h>

#include "proxy/base/log.h"

static struct ua_leg *other(const struct bridge *br, const struct ua_leg *leg)
{
	return leg == br->a ? br->b : leg == br->b ? br->a : NULL;
}

static void info_done(struct ua_leg *leg, unsigned status, struct slice reason,
		      void *arg)
{
	struct bridge *br = arg;
	struct ua_leg *from = br->info_from;

	(void)leg;
	(void)reason;
	br->info_from = NULL;
	if (from)
		(void)ua_answer(from, SIP_INFO, status, slice_make(NULL, 0));
}

void bridge_request(struct bridge *br, struct ua_leg *leg,
		    const struct ua_request *rq)
{
	struct ua_leg *to = other(br, leg);
	struct slice none = slice_make(NULL, 0), offer;
	int err;

	if (rq->method == SIP_INFO) {
		err = to ? ua_send_request(to, SIP_INFO, rq->content_type,
					   rq->body, info_done, br)
			 : -ENOTCONN;
		if (err) {
			(void)ua_answer(leg, SIP_INFO,
					err == -EBUSY ? 500 : 481, none);
			return;
		}
		br->info_from = leg;
		return;
	}
	if (!to || br->offer_from) {
		(void)ua_answer(leg, rq->method, 491, none);
		return;
	}
	err = ua_offer_for(to, rq->body, &offer);
	if (err) {
		(void)ua_answer(leg, rq->method, err == -ENOMEM ? 500 : 488,
				none);
		return;
	}
	/* The other leg busy with an offer of its own, or not confirmed
	 * yet: RFC 3261 §14.2's 491, the peer retries. */
	err = ua_reinvite(to, offer);
	if (err) {
		(void)ua_answer(leg, rq->method, err == -ENOMEM ? 500 : 491,
				none);
		return;
	}
	br->offer_from = leg;
	br->offer_method = rq->method;
}

enum bridge_verdict bridge_reinvited(struct bridge *br, struct ua_leg *leg,
				     unsigned status, struct slice sdp)
{
	struct ua_leg *from = br->offer_from;
	struct slice none = slice_make(NULL, 0), answer;

	if (!from || other(br, leg) != from)
		return BRIDGE_OK;
	br->offer_from = NULL;
	if (status == 408 || status == 481) {
		(void)ua_answer(from, br->offer_method, 500, none);
		return BRIDGE_END;
	}
	if (status < 300 && (!sdp.len || ua_offer_for(from, sdp, &answer) != 0))
		status = 488; /* no usable answer */
	if (status < 300) {
		if (ua_answer(from, br->offer_method, status, answer))
			log_msg(LOG_INFO, "b2b bridge: answer not sent");
		return BRIDGE_OK;
	}
	(void)ua_answer(from, br->offer_method, status, none);
	return BRIDGE_OK;
}

bool bridge_busy(const struct bridge *br)
{
	return br->offer_from != NULL;
}

void bridge_forget(struct bridge *br, struct ua_leg *leg)
{
	if (!leg)
		return;
	if (br->a == leg)
		br->a = NULL;
	if (br->b == leg)
		br->b = NULL;
	if (br->offer_from == leg)
		br->offer_from = NULL;
	if (br->info_from == leg)
		br->info_from = NULL;
}
