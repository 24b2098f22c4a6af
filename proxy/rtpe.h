/* proxy/rtpe.h - media anchoring through rtpengine: the proxy holds a
 * request or response with SDP until rtpengine's offer or answer comes
 * back, then sends it on with rtpengine's SDP */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "proxy/base/slice.h"

struct conf;
struct peer;
struct shard;
struct sipmsg;
struct rtpe;

/**
 * The counters (module "rtpengine" in /metrics, one instance per shard,
 * c->workers shards) when media is enabled in @p c; nothing otherwise.
 * Errors: -ENOMEM. Thread: control, before the shards start.
 */
int rtpe_init(const struct conf *c);

/** Remove the counters. Thread: control, after the shards stopped. */
void rtpe_fini(void);

/**
 * The anchoring of shard @p sh: an ng client on its loop when media is
 * enabled in @p c, else *rp = NULL (and nothing is ever held).
 * Errors: those of ng_new(). Thread: the shard's, in its role's
 * new_state. Ownership: rtpe_free().
 */
int rtpe_new(struct shard *sh, const struct conf *c, struct rtpe **rp);

/**
 * Resume every held message with -ECANCELED and free. NULL is allowed.
 * Thread: the shard's, its loop still running.
 */
void rtpe_free(struct rtpe *r);

/**
 * The end of a hold. @p err: 0, and @p msg is the message with
 * rtpengine's SDP (Content-Length fixed); or the reason rtpengine could
 * not be used (-ETIMEDOUT, -EHOSTDOWN: none answered; -EREMOTEIO: it
 * refused; -EBADMSG: a bad answer), and @p msg is the message as it
 * was received; or -ECANCELED (the shard stops), @p msg empty: free
 * @p arg only. @p msg is valid during the call.
 * Thread: the shard's.
 */
typedef void rtpe_resume_fn(void *arg, int err, struct slice msg);

/**
 * Whether request or response @p m should be held for rtpengine. An
 * offer: an INVITE or UPDATE with an application/sdp body, or a 18x or
 * 2xx with one to an INVITE that had none (late offer, RFC 3261
 * §13.2.1; rtpe_note() saw it). An answer: a 18x or 2xx with SDP to an
 * INVITE or UPDATE of a call anchored here, or a PRACK or ACK with SDP
 * after an offer in a response (RFC 3262 §5). Always false when @p r is
 * NULL. Thread: the shard's.
 */
bool rtpe_wants(const struct rtpe *r, const struct sipmsg *m);

/** Who gets the SDP rtpengine rewrites (rtpe_hold()). */
enum rtpe_to {
	RTPE_TO_RTP,	 /**< a phone: plain RTP/AVP */
	RTPE_TO_WEBRTC,	 /**< a browser (its flow is WS or WSS) */
	RTPE_TO_OFFERER, /**< an answer: back to the offer's sender */
	RTPE_TO_SDES,	 /**< a trunk with routes[].srtp: sdes */
	RTPE_TO_DTLS,	 /**< a trunk with routes[].srtp: dtls */
	RTPE_TO__COUNT
};

/**
 * The kind of media peer @p p speaks: RTPE_TO_WEBRTC for a WS or WSS
 * flow (a browser), else rtpe_srtp_to(). Thread: any.
 */
enum rtpe_to rtpe_peer_kind(const struct conf *c, const struct peer *p);

/**
 * RTPE_TO_SDES or RTPE_TO_DTLS when @p p's host is a next hop of a
 * route with routes[].srtp (any port, as topology hiding knows a
 * trunk), else RTPE_TO_RTP. Thread: any.
 */
enum rtpe_to rtpe_srtp_to(const struct conf *c, const struct peer *p);

/**
 * The ng flags (RTPE_FLAG_*) of the offer or answer @p m from @p from:
 * media.flags of @p c; for a side behind NAT (nat.detect on and
 * nat_detect(), proxy/nat.h) without trust-address, with replace-origin
 * and SIP-source-address, so that rtpengine sends to where the media
 * comes from, not to the private address of the SDP. Thread: any.
 */
unsigned rtpe_call_flags(const struct conf *c, const struct sipmsg *m,
			 const struct peer *from);

/**
 * Hold @p m (copied) and send rtpengine its offer or answer
 * (rtpe_wants()) with the flags of @p c, and, when the sender (@p from:
 * WS or WSS is a browser, a routes[].srtp trunk SRTP) and @p to differ
 * in kind, the flags that bridge WebRTC media (ICE, DTLS-SRTP, AVPF,
 * rtcp-mux), SRTP (SDES or DTLS) and plain RTP. @p to is that of a
 * request's offer; an answer goes back to its offerer, and an offer in
 * a response to the sender of its SDP-less INVITE, whatever @p to says;
 * @p cb runs once with @p arg when it returns 0. Errors (@p cb not
 * called): -ETIMEDOUT / -EHOSTDOWN (every rtpengine is marked down),
 * -ENOMEM, -EINVAL (not wanted). Thread: the shard's.
 */
int rtpe_hold(struct rtpe *r, const struct conf *c, const struct peer *from,
	      const struct sipmsg *m, enum rtpe_to to, rtpe_resume_fn *cb,
	      void *arg);

/** rtpengine's offers of one forked request, one per kind of media. */
struct rtpe_offers {
	struct slice sdp[RTPE_TO__COUNT]; /**< by kind; empty: not made */
};

/**
 * The SDP for a branch whose target speaks @p kind: its kind's offer,
 * else the plain RTP one, else the first made (a target whose kind was
 * not known when the offers were made: a name resolved since).
 * Thread: any.
 */
struct slice rtpe_offers_pick(const struct rtpe_offers *o, enum rtpe_to kind);

/**
 * The end of rtpe_hold_fork(): @p err and @p msg as rtpe_resume_fn
 * says, except that @p msg is always the request as received; on
 * success @p o holds one SDP per kind asked (valid during the call), on
 * failure @p o is NULL (what rtpengine made for the call goes with
 * rtpe_failed()). Thread: the shard's.
 */
typedef void rtpe_fork_fn(void *arg, int err, struct slice msg,
			  const struct rtpe_offers *o);

/**
 * rtpe_hold() for the offer of request @p m (an INVITE with SDP) forked
 * to branches that need different kinds of media: @p kinds, a mask of
 * (1u << enum rtpe_to), two kinds or more. One ng offer per kind, told
 * apart by its via-branch; the answer of the branch that answers goes
 * with its kind's via-branch (rtpe_hold()), and with a 2xx the offers
 * of the other kinds are deleted, so no media goes to branches that
 * lost. @p cb runs once with @p arg when it returns 0, after every
 * offer came back. Errors (@p cb not called): -EINVAL (not an offer in
 * a request, or fewer than two kinds), -ENOMEM, those of rtpe_hold().
 * Thread: the shard's.
 */
int rtpe_hold_fork(struct rtpe *r, const struct conf *c,
		   const struct peer *from, const struct sipmsg *m,
		   unsigned kinds, rtpe_fork_fn *cb, void *arg);

/**
 * True when @p m is a retransmission of a request that is held now
 * (same Call-ID, CSeq, method and top Via branch): absorb it.
 * Thread: the shard's.
 */
bool rtpe_is_held(const struct rtpe *r, const struct sipmsg *m);

/**
 * What the proxy sees of a call besides offers and answers, @p m from
 * @p from: a BYE or CANCEL request (the call ends: rtpengine's delete),
 * a 2xx to an INVITE (the call is confirmed: a later failure of a
 * re-INVITE keeps it), an INVITE without SDP (its offer comes in a
 * response: remembered with who gets it). Thread: the shard's.
 */
void rtpe_note(struct rtpe *r, const struct sipmsg *m, const struct peer *from);

/**
 * The INVITE of Call-ID @p call_id ended in a final failure upstream
 * (every branch failed, CANCEL, Timer C): an unconfirmed call is
 * deleted. Thread: the shard's.
 */
void rtpe_failed(struct rtpe *r, struct slice call_id);

/**
 * Delete calls never confirmed after @p early_ms, confirmed ones after
 * @p max_ms without a message (the dialog timeout). Thread: the shard's.
 */
void rtpe_sweep(struct rtpe *r, uint64_t early_ms, uint64_t max_ms);

/** Calls anchored by @p r now (0 for NULL). Thread: the shard's. */
unsigned rtpe_calls(const struct rtpe *r);

/** The Reason header line of a 503 for a call rtpengine failed. */
#define RTPE_REASON_LINE \
	"Reason: Q.850;cause=41;text=\"media relay unavailable\"\r\n"
