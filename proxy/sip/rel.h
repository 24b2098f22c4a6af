/* proxy/sip/rel.h - RFC 3262 reliable provisional responses (100rel):
 * policy, UAS retransmission and PRACK matching, UAC RSeq order */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/base/slice.h"
#include "proxy/base/timer.h"
#include "proxy/sip/msg.h"

/*
 * No sockets and no clock of its own: the UA core (features/b2b/, issue
 * #12) sends what this module tells it to, feeds it the PRACKs and
 * reliable provisionals it receives, and owns the timer wheel the UAS
 * retransmissions run on. Everything here is shard-local (Thread: the
 * owner of the wheel / of the struct) unless a prototype says "any".
 */

/** The option tag (RFC 3262 §3, §4). */
#define REL_TAG "100rel"

/** Largest RSeq a first reliable provisional may carry (RFC 3262 §3). */
#define REL_RSEQ_FIRST_MAX 0x7fffffffu

/** The status the UAS answers the INVITE with when no PRACK came. */
#define REL_TIMEOUT_STATUS 500

/** Room for the longest line set rel_print_extra() writes, with a NUL. */
#define REL_EXTRA_MAX 48

/** Room for the longest RAck value rel_rack_print() writes, with a NUL. */
#define REL_RACK_MAX 96

/* Policy. */

/**
 * `b2b.100rel`, Asterisk's model. What each mode does with an incoming
 * INVITE is rel_decide()'s table; what it asks of an outgoing one is
 * rel_uac_offer()'s.
 */
enum rel_mode {
	REL_MODE_NO,		 /**< never reliable */
	REL_MODE_SUPPORTED,	 /**< reliable when the peer supports it */
	REL_MODE_REQUIRED,	 /**< reliable always; the peer must support */
	REL_MODE_PEER_SUPPORTED, /**< reliable only when the peer insists */
	REL_MODE__COUNT,
};

/**
 * The mode named @p s ("no", "supported", "required", "peer_supported";
 * exact, lower case). Errors: -EINVAL. *modep is written only on success.
 * Thread: any.
 */
int rel_mode_parse(struct slice s, enum rel_mode *modep);

/** The name of @p mode as rel_mode_parse() reads it; empty if unknown. */
struct slice rel_mode_name(enum rel_mode mode);

/** What a UAS does with an incoming request (rel_decide()). */
enum rel_decision {
	REL_UNRELIABLE, /**< provisionals go unreliably, as RFC 3261 */
	REL_RELIABLE,	/**< every 101-199 goes reliably (rel_uas_*) */
	/** answer 420 with rel_unsupported_line() (RFC 3261 §8.2.2.3) */
	REL_REJECT_420,
	/** answer 421 with rel_require_line() (RFC 3262 §3) */
	REL_REJECT_421,
};

/**
 * Decide for request @p req (parsed) under @p mode. "Supported" below is
 * REL_TAG in a Supported header (long or compact form `k`), "Require"
 * REL_TAG in a Require header (both any case, any place in a comma list,
 * any number of headers: sipmsg_hdr_has_tag()). Require wins over
 * Supported. For an INVITE:
 *
 *   mode \ request    neither        Supported      Require
 *   no                unreliable     unreliable     420
 *   supported         unreliable     reliable       reliable
 *   required          421            reliable       reliable
 *   peer_supported    unreliable     unreliable     reliable
 *
 * RFC 3262 §3: Require 100rel obliges the UAS to send reliably, so a UAS
 * that will not answers 420 + Unsupported (RFC 3261 §8.2.2.3); without
 * Supported or Require it MUST NOT send reliably and MAY answer 421 +
 * Require; with Supported alone it may choose. `peer_supported` uses
 * 100rel only when the peer cannot do without it.
 * Any other method: RFC 3262 defines reliability for INVITE only, so a
 * Require 100rel on it is refused 420 (in every mode) and everything
 * else is unreliable.
 * Thread: any.
 */
enum rel_decision rel_decide(enum rel_mode mode, const struct sipmsg *req);

/** What a UAC puts in an INVITE it sends (rel_uac_offer()). */
enum rel_offer {
	REL_OFFER_NONE,	     /**< no 100rel tag at all */
	REL_OFFER_SUPPORTED, /**< Supported: 100rel (rel_supported_line()) */
	REL_OFFER_REQUIRE,   /**< Require: 100rel (rel_require_line()) */
};

/**
 * The 100rel tag an outgoing INVITE carries under @p mode: no: none;
 * supported: Supported (RFC 3262 §4 SHOULD); required: Require (the
 * far end must send reliably or refuse with 420); peer_supported:
 * Supported when @p peer_100rel (the other leg's request had REL_TAG in
 * Supported or Require), else none. Thread: any.
 */
enum rel_offer rel_uac_offer(enum rel_mode mode, bool peer_100rel);

/* Header text. */

/** "Require: 100rel\r\n" (a reliable 1xx, a 421, an INVITE). Any thread. */
struct slice rel_require_line(void);

/** "Supported: 100rel\r\n". Thread: any. */
struct slice rel_supported_line(void);

/** "Unsupported: 100rel\r\n" (a 420). Thread: any. */
struct slice rel_unsupported_line(void);

/**
 * Write the lines a reliable provisional adds (RFC 3262 §3),
 * "Require: 100rel\r\nRSeq: @p rseq\r\n", NUL-terminated, into @p buf
 * (REL_EXTRA_MAX bytes are always enough): ready for reply_opts.extra.
 * Returns the length without the NUL, or -EINVAL (@p rseq 0),
 * -ENOSPC (@p size too small; nothing useful written). Thread: any.
 */
int rel_print_extra(uint32_t rseq, char *buf, size_t size);

/**
 * Write the RAck value "@p rseq @p cseq @p method" (RFC 3262 §7.2) of
 * the PRACK for a reliable provisional with RSeq @p rseq whose CSeq was
 * @p cseq @p method, NUL-terminated, into @p buf (REL_RACK_MAX bytes are
 * enough for a method of up to 64 bytes).
 * Returns the length without the NUL, or -EINVAL (@p rseq 0, @p method
 * empty or not a token), -ENOSPC. Thread: any.
 */
int rel_rack_print(uint32_t rseq, uint32_t cseq, struct slice method, char *buf,
		   size_t size);

/* Parsers (strict: RFC 3262 §7.1, §7.2). */

/**
 * Parse an RSeq value (a header value as sipmsg_parse() trimmed it):
 * 1*DIGIT, 1 .. 2^32-1, nothing else (no sign, no space, no parameter).
 * Errors: -EBADMSG (empty, a non-digit, 0, larger than 2^32-1).
 * *rseqp is written only on success. Thread: any.
 */
int rel_rseq_parse(struct slice value, uint32_t *rseqp);

/** A parsed RAck value. */
struct rel_rack {
	uint32_t rseq;	     /**< response-num, 1 .. 2^32-1 */
	uint32_t cseq;	     /**< CSeq-num, 0 .. 2^32-1 (as CSeq) */
	struct slice method; /**< token, points into the value */
};

/**
 * Parse an RAck value: response-num LWS CSeq-num LWS Method, where LWS
 * is one or more SP, HTAB, CR or LF (folds) and Method a token.
 * Errors: -EBADMSG (a part missing, empty or malformed, response-num 0
 * or either number above 2^32-1, anything after the method, LWS before
 * the first number or after the method: values come trimmed).
 * *rackp is written only on success. Thread: any. Ownership: the method
 * slice points into @p value.
 */
int rel_rack_parse(struct slice value, struct rel_rack *rackp);

/**
 * The RAck of PRACK request @p m: exactly one RAck header, parsed as
 * rel_rack_parse() does. Errors: -EBADMSG (no RAck, more than one, or a
 * malformed one: answer the PRACK 400, RFC 3261 §8.2), -EINVAL (@p m is
 * not a PRACK request). *rackp is written only on success. Thread: any.
 * Ownership: the method slice points into @p m's buffer.
 */
int rel_prack_rack(const struct sipmsg *m, struct rel_rack *rackp);

/**
 * True when option tag 100rel is in a @p id header of @p m (HDR_SUPPORTED,
 * which covers the compact form `k`, or HDR_REQUIRE). Thread: any.
 */
bool rel_has_tag(const struct sipmsg *m, enum hdr_id id);

/**
 * Whether response @p m asks to be acknowledged with a PRACK (RFC 3262
 * §4): a 101-199 whose Require holds 100rel. Returns 1 with *rseqp set
 * to its RSeq; 0 when it is not reliable (a 100, a final, no Require
 * 100rel: handle it as RFC 3261 says); -EBADMSG when it claims to be
 * (Require 100rel) but has no RSeq, more than one, or a malformed one:
 * discard it, as a malformed response (RFC 3261 §16.7 step 1 / §8.1.3).
 * Thread: any.
 */
int rel_response_rseq(const struct sipmsg *m, uint32_t *rseqp);

/**
 * A random RSeq for the first reliable provisional of a transaction,
 * uniform in 1 .. REL_RSEQ_FIRST_MAX (RFC 3262 §3 RECOMMENDED), from
 * getrandom(2); if that fails, from the clock and a counter (still in
 * range, only less unpredictable). Thread: any.
 */
uint32_t rel_rseq_random(void);

/* UAS: one per server INVITE transaction that sends reliably (§3). */

struct rel_uas;

/** What the engine asks of its user; both are required. */
struct rel_uas_ops {
	/**
	 * Send the outstanding reliable provisional again: @p buf, @p len
	 * are the bytes given to rel_uas_send(), owned by the engine and
	 * valid during the call. Send them as they are (through the server
	 * transaction: txn_srv_respond()). The callback must not free @p r
	 * (rel_uas_fini()); it may stop it (rel_uas_final()).
	 */
	void (*retransmit)(struct rel_uas *r, const void *buf, size_t len);
	/**
	 * The outstanding provisional went unacknowledged for 64*T1 (RFC
	 * 3262 §3): answer the INVITE with a 5xx (REL_TIMEOUT_STATUS). The
	 * engine is stopped (as after rel_uas_final()) and does not touch
	 * @p r after this call returns, so the callback may rel_uas_fini()
	 * it and free its owner.
	 */
	void (*timeout)(struct rel_uas *r);
};

/**
 * UAS state, embedded in the user's transaction or call-leg object;
 * find the owner with container_of in the callbacks.
 * Exception to "opaque by default": the caller embeds it; every field
 * is private.
 */
struct rel_uas {
	/* private */
	struct timer timer;
	struct timer_wheel *w;
	const struct rel_uas_ops *ops;
	unsigned t1_ms;
	uint32_t cseq;		/**< of the INVITE */
	enum sip_method method; /**< of the INVITE */
	uint32_t next_rseq;	/**< the next reliable 1xx gets it; 0: none */
	uint32_t out_rseq;	/**< outstanding one, valid if outstanding */
	uint32_t acked_rseq;	/**< last acknowledged, 0 when none */
	bool outstanding;	/**< sent and not PRACKed */
	bool out_offer;		/**< ... and it carries an SDP offer */
	bool stopped;		/**< final sent or timed out: no timer */
	uint64_t elapsed_ms;	/**< retransmission time spent so far */
	uint64_t interval_ms;	/**< the next retransmission interval */
	char *copy;		/**< the outstanding bytes, malloc'd */
	size_t copy_len;
};

/**
 * Set up @p r for the server INVITE transaction whose request has CSeq
 * @p cseq @p method (SIP_INVITE), on wheel @p w (which must outlive
 * it), with RFC 3261 T1 @p t1_ms; the first reliable provisional gets
 * RSeq @p first_rseq (rel_rseq_random() in production, a fixed value in
 * tests), the next ones +1 each (RFC 3262 §3).
 * Errors: -EINVAL (@p first_rseq outside 1 .. REL_RSEQ_FIRST_MAX,
 * @p t1_ms 0, NULL @p w or @p ops or a NULL callback). Allocates
 * nothing. Ownership: rel_uas_fini() releases what later calls keep.
 */
int rel_uas_init(struct rel_uas *r, struct timer_wheel *w,
		 const struct rel_uas_ops *ops, unsigned t1_ms, uint32_t cseq,
		 enum sip_method method, uint32_t first_rseq);

/**
 * Stop the timer and free the kept copy. Idempotent; a zeroed struct
 * is fine.
 */
void rel_uas_fini(struct rel_uas *r);

/**
 * The RSeq the next reliable provisional must carry: build it with
 * rel_print_extra() of this value, then rel_uas_send(). 0 when the
 * numbering is exhausted (the last one sent was 2^32-1).
 */
uint32_t rel_uas_next_rseq(const struct rel_uas *r);

/**
 * Account for reliable provisional @p buf (@p len bytes: a 101-199, never
 * a 100 (RFC 3262 §3), already carrying Require: 100rel and RSeq
 * rel_uas_next_rseq(), as rel_print_extra() writes them), which the caller now
 * sends itself; @p has_offer when its body is an SDP offer. It is copied,
 * becomes the outstanding one, and is retransmitted after T1, 2*T1,
 * 4*T1, ... (intervals doubling, no T2 cap: RFC 3262 §3) until a
 * matching PRACK, rel_uas_final(), or 64*T1 in total (ops->timeout).
 * One at a time (RFC 3262 §3 MUST NOT send a second before the first is
 * acknowledged): the engine does not queue; the caller holds the next
 * one until rel_uas_prack() says REL_PRACK_MATCH.
 * Errors (nothing changes): -EBUSY (one is outstanding), -EALREADY (a
 * final was sent or it timed out), -ERANGE (RSeq space exhausted),
 * -EINVAL (@p len 0), -ENOMEM.
 */
int rel_uas_send(struct rel_uas *r, bool has_offer, const void *buf,
		 size_t len);

/** True while a reliable provisional waits for its PRACK. */
bool rel_uas_is_busy(const struct rel_uas *r);

/**
 * Whether a 2xx to the INVITE may be sent now: false while the
 * outstanding reliable provisional carries an offer (RFC 3262 §3: the
 * 2xx waits for its PRACK, which holds the answer). A 300-699 may
 * always be sent. The caller holds the 2xx and sends it after
 * rel_uas_prack() returns REL_PRACK_MATCH.
 */
bool rel_uas_may_send_2xx(const struct rel_uas *r);

/**
 * A final response to the INVITE was sent: retransmissions stop (RFC
 * 3262 §3 SHOULD NOT continue) and no more reliable provisionals go;
 * PRACKs are still matched (rel_uas_prack()).
 */
void rel_uas_final(struct rel_uas *r);

/** What a PRACK gets (rel_uas_prack()). */
enum rel_prack {
	/** it acknowledges the outstanding one: answer 200 */
	REL_PRACK_MATCH,
	/** nothing outstanding or a different RSeq, CSeq or method: 481 */
	REL_PRACK_NO_MATCH,
	/**
	 * its RAck names the provisional acknowledged last: a second PRACK
	 * for it (a new transaction; a retransmission of the first is
	 * absorbed by its server transaction and never gets here). RFC 3262
	 * §3 says a PRACK that matches no *unacknowledged* provisional gets
	 * 481, so: 481, and no second offer/answer step. Told apart from
	 * REL_PRACK_NO_MATCH for logs and counters only.
	 */
	REL_PRACK_STALE,
};

/**
 * Match a PRACK whose RAck is @p rack (RFC 3262 §3: response-num, CSeq-num
 * and method equal the RSeq, the CSeq number and the CSeq method of the
 * outstanding provisional; the method compared case-sensitively, RFC
 * 3261 §7.1). On REL_PRACK_MATCH the retransmissions stop, the copy is
 * freed, and *offerp (may be NULL) says whether that provisional carried
 * an offer (then the PRACK body is the answer, RFC 3262 §5); otherwise
 * nothing changes and *offerp is not written.
 */
enum rel_prack rel_uas_prack(struct rel_uas *r, const struct rel_rack *rack,
			     bool *offerp);

/** The status that answers a PRACK: 200 for a match, else 481. Any thread. */
unsigned rel_prack_status(enum rel_prack p);

/* UAC: one per early dialog of a client INVITE transaction (§4). */

/**
 * The RSeq order of one early dialog (one To tag: with forking, each
 * UAS numbers its own responses). Zero it to start; nothing to free.
 * Exception to "opaque by default": the caller embeds it; every field is
 * private.
 */
struct rel_uac {
	/* private */
	uint32_t last; /**< last in-order RSeq, valid if have */
	bool have;
};

/** What to do with a reliable provisional (rel_uac_receive()). */
enum rel_uac_verdict {
	/** in order: process it and send a PRACK (rel_rack_print()) */
	REL_UAC_NEW,
	/** the same RSeq as the last: a retransmission, no new PRACK */
	REL_UAC_RETRANSMISSION,
	/** neither first nor last+1: discard, no PRACK (RFC 3262 §4) */
	REL_UAC_OUT_OF_ORDER,
};

/**
 * Run reliable provisional with RSeq @p rseq (rel_response_rseq())
 * through @p u (RFC 3262 §4): the first one is accepted with any value
 * and sets the sequence; after that only last+1 is new (no wrap: after
 * 2^32-1 nothing is), the last itself is a retransmission, anything
 * else (older, a gap, 0) is out of order. Only REL_UAC_NEW moves @p u.
 * RFC 3262 §4 lets a UAC cache out-of-order ones; this one discards
 * them: the UAS retransmits until PRACKed, so the missing one comes.
 */
enum rel_uac_verdict rel_uac_receive(struct rel_uac *u, uint32_t rseq);
