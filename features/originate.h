/* features/originate.h - originate (3PCC click-to-call, RFC 3725 flow I)
 * on the B2B pool */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "features/b2b/ua.h"
#include "proxy/base/slice.h"

struct conf;
struct pool;

/*
 * An originate calls A with an INVITE without SDP, takes the offer from
 * A's 200 (A's ACK is held back meanwhile; the UA core absorbs A's 2xx
 * retransmissions), calls B with that offer byte for byte, ACKs B's 200
 * and ACKs A with B's answer (RFC 3725 §4.1, flow I). A's leg has From
 * caller_id (or the pool's identity), B's leg From = A's URI, so B sees
 * who calls. Each leg rings at most timeout_s (then CANCEL). A BYE from
 * either side ends the other leg (BYE with Reason: Q.850 ;cause=16); a
 * failure of B ends A (ACK with a held answer, a=inactive, then BYE with
 * Reason: SIP ;cause=<B's status>). Two guards (enum originate_guard)
 * cover A refusing the offerless INVITE and B answering late; both end
 * with A re-INVITEd (ua_reinvite()) and the state bridged only when
 * that re-INVITE (and B's, if A's media moved) was answered.
 *
 * Threads: an originate lives on the pool worker that owns its id
 * (shard_owner(id, workers): its legs' Call-IDs are chosen on the same
 * worker); its record is that worker's and has no lock. The control
 * thread reads it by a pool_post() round trip (originate_status(),
 * originate_list()), answered from the worker through a callback: the
 * records stay single-owner, nothing waits, and the management API
 * answers asynchronously anyway. A finished record is kept
 * ORIGINATE_LINGER_S for status, then freed.
 */

/** Which guard of issue #12 an originate took (originate_info.guard). */
enum originate_guard {
	ORIGINATE_GUARD_NONE, /**< flow I as above */
	/** A refused the offerless INVITE (488/606: A is called again
	 * with the pool's offer) or answered it without SDP (ACKed, then
	 * re-INVITEd with the pool's offer); B gets A's answer as its
	 * offer, and A is re-INVITEd with B's answer once B answers. */
	ORIGINATE_GUARD_OFFER,
	/** B did not answer within b2b.answer_guard_s: A was ACKed with a
	 * held answer (a=inactive); when B answers, A is re-INVITEd with
	 * B's answer (and B with A's new answer if A's media moved). */
	ORIGINATE_GUARD_HELD,
	ORIGINATE_GUARD__COUNT,
};

/** "none", "offer", "held". Thread: any. */
const char *originate_guard_name(enum originate_guard g);

/** Longest id (16 hex digits) with its NUL. */
#define ORIGINATE_ID_MAX 17
/** How long a failed or ended originate stays readable. */
#define ORIGINATE_LINGER_S 60
/** Ring timeout of each leg: the default and the bounds. */
#define ORIGINATE_TIMEOUT_S	60
#define ORIGINATE_TIMEOUT_S_MAX 600
/** Longest reason kept (with its NUL). */
#define ORIGINATE_REASON_MAX 64

enum originate_state {
	ORIGINATE_CALLING_A,
	ORIGINATE_RINGING_A,
	ORIGINATE_ANSWERED_A,
	ORIGINATE_CALLING_B,
	ORIGINATE_RINGING_B,
	ORIGINATE_BRIDGED,
	ORIGINATE_ENDED,
	ORIGINATE_FAILED,
	ORIGINATE__COUNT,
};

/** "calling-a", ..., "failed". Thread: any. */
const char *originate_state_name(enum originate_state s);

/** What originate_start() is asked; strings borrowed for the call. */
struct originate_opts {
	/** "sip:alice@example.com", "alice@example.com" or "alice" (then
	 * @ default_domain); the URI must parse, at most UA_URI_MAX. */
	const char *a, *b;
	/** From of A's leg: a SIP URI, or NULL (the pool's identity). */
	const char *caller_id;
	/** For a or b without '@' (NULL: they must have one). */
	const char *default_domain;
	/** Each leg's ring timeout: 1..ORIGINATE_TIMEOUT_S_MAX, 0:
	 * ORIGINATE_TIMEOUT_S. */
	unsigned timeout_s;
	/** Extra headers of both initial INVITEs (A's and B's), each
	 * "Name: value" as originate_header_check() takes it; at most
	 * ORIGINATE_HDRS_MAX, ORIGINATE_HDRS_LEN bytes in all. */
	const char *const *headers;
	size_t nheaders;
	/** Mark leg A for auto-answer: A's INVITE goes to the domain's
	 * intercom code + A's user (features/intercom.h), so the proxy
	 * pages A's devices, each with the marking of its own
	 * User-Agent. A needs a user part and intercom on in its domain. */
	bool intercom_a;
	/** The configuration intercom_a is checked against (NULL: only
	 * on the worker, which then fails leg a). */
	const struct conf *conf;
};

/** Most extra headers (originate_opts.headers) and their bytes. */
#define ORIGINATE_HDRS_MAX 8
#define ORIGINATE_HDRS_LEN 1024

/**
 * Check @p line, one extra header for originate: "Name: value", the
 * name a token (RFC 3261 §25.1), the value without CR, LF or NUL
 * (whitespace around both is dropped). Refused: the headers the UA core
 * writes or the dialog depends on (Via, Call-ID, CSeq, From, To,
 * Contact, Max-Forwards, Route, Record-Route, Content-*, Require,
 * Proxy-Require, Supported, Allow, RSeq, RAck; compact forms too), and
 * auto-answer markings (intercom_is_marking(): the proxy would strip
 * them; intercom_a is the way). Returns 0 with *namep and *valuep
 * (slices of @p line), or -EINVAL with *whyp (a static string).
 * Thread: any.
 */
int originate_header_check(const char *line, struct slice *namep,
			   struct slice *valuep, const char **whyp);

/**
 * A snapshot of one originate: a value the worker fills for the
 * control thread.
 */
struct originate_info {
	char id[ORIGINATE_ID_MAX];
	char a[UA_URI_MAX + 1], b[UA_URI_MAX + 1];
	enum originate_state state;
	/** failed: 'a' or 'b' (the leg that failed); else 0. */
	char failed_leg;
	/** failed: that leg's SIP status (408 timeout, 487 cancelled). */
	unsigned status;
	char reason[ORIGINATE_REASON_MAX];
	/** ended: who hung up: 'a', 'b', or 'x' (originate.cancel). */
	char ended_by;
	/** CLOCK_REALTIME ms each state was entered; 0: never. */
	int64_t at_ms[ORIGINATE__COUNT];
	enum originate_guard guard; /**< the guard taken, if any */
	int64_t guard_at_ms;	    /**< when it was taken; 0: never */
	/** When A's re-INVITE (the guards' connecting offer) was
	 * answered 2xx; 0: never. */
	int64_t reinvited_a_at_ms;
};

/**
 * Start an originate on pool @p p: normalise and check a, b and
 * caller_id, draw an id, and post the work to its worker; the INVITE to
 * A goes from there. Returns 0 with @p id (ORIGINATE_ID_MAX bytes)
 * written, or -EINVAL (a bad option: *whyp says which, a static
 * string), -ENOENT (@p p NULL: no pool), -ENOBUFS (the worker's inbox
 * is full), -ENOMEM, a getrandom() error.
 * Thread: any while the pool runs (the management API's control
 * thread).
 */
int originate_start(struct pool *p, const struct originate_opts *o, char *id,
		    const char **whyp);

/**
 * Told the outcome of originate_status() or originate_cancel(): @p err
 * 0 with @p info, -ENOENT (no such id), or -ECANCELED (the pool stopped
 * first; @p info NULL). @p info is borrowed for the call.
 * Thread: the worker's (or the one stopping the pool).
 */
typedef void originate_info_fn(void *arg, int err,
			       const struct originate_info *info);

/**
 * Read originate @p id: @p done is called once, from its worker.
 * Returns 0, or -EINVAL (@p id empty or too long), -ENOENT (no pool),
 * -ENOBUFS, -ENOMEM (@p done not called then). Thread: any.
 * Ownership: @p arg passes to @p done.
 */
int originate_status(struct pool *p, const char *id, originate_info_fn *done,
		     void *arg);

/**
 * Cancel originate @p id: the legs still ringing are CANCELled, an
 * answered one gets BYE (Reason: SIP ;cause=487); the state becomes
 * failed (leg a or b, 487, "cancelled") before the bridge, ended
 * (ended_by 'x') after it; a finished one is left as it is. @p done is
 * told the state after. Errors as originate_status(). Thread: any.
 */
int originate_cancel(struct pool *p, const char *id, originate_info_fn *done,
		     void *arg);

/**
 * Told every originate of every worker (at most ORIGINATE_LIST_MAX per
 * worker): @p v[0..n-1] borrowed for the call, oldest first per worker;
 * @p err 0, or -ECANCELED (the pool stopped: what was gathered).
 * Thread: the last worker to answer.
 */
typedef void originate_list_fn(void *arg, int err,
			       const struct originate_info *v, size_t n);

/** Most originates one worker reports to originate_list(). */
#define ORIGINATE_LIST_MAX 1000

/**
 * Read every originate: @p done is called once when every worker
 * answered. Returns 0, or -ENOENT (no pool), -ENOBUFS, -ENOMEM (@p done
 * not called). Thread: any. Ownership: @p arg passes to @p done.
 */
int originate_list(struct pool *p, originate_list_fn *done, void *arg);
