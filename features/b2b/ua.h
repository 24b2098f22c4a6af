/* features/b2b/ua.h - the B2BUA's UA core: UAC legs on a pool worker,
 * their dialogs, and the events applications (originate, park) see */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "features/b2b/pool.h"
#include "proxy/base/slice.h"
#include "proxy/sip/msg.h"
#include "proxy/sip/txn.h"

struct request_hdr;
struct shard;
struct timer_wheel;

/*
 * One struct ua per pool worker (made by ua_pool's new_state, found with
 * ua_of()): a transaction layer (proxy/sip/txn.h) on the worker's own
 * timer wheel, and the legs the worker's applications started. Every
 * request a leg sends goes to the proxy's first UDP listener from the
 * pool's socket (so location, GRUU and intercom apply, and the proxy
 * trusts it: pool_is_source()); Via names the pool's address, Contact
 * sip:b2b-N@ that address for worker N (pool_steer()).
 *
 * A leg is one UAC INVITE dialog (RFC 3261 §12, §13, §15):
 *
 *   ua_call() -> calling -> ringing (1xx) -> answered (2xx, not ACKed:
 *   the application ACKs it with ua_ack(), possibly later, with the SDP
 *   it chooses; meanwhile 2xx retransmissions are absorbed; after it, a
 *   retransmitted 2xx gets the same ACK again) -> confirmed
 *
 * and ends by a final 300-699 or a timeout (UA_EV_FAILED), a BYE from
 * the peer (answered 200; UA_EV_ENDED), or ua_hangup() (CANCEL before
 * the 2xx, else BYE; a 2xx that crosses the CANCEL is ACKed and BYEd).
 * A 2xx from a second fork (another To tag) is ACKed and BYEd at once
 * (RFC 3261 §13.2.2.4): a leg is one dialog.
 *
 * In a confirmed leg (RFC 3261 §14, RFC 3311, RFC 6086):
 * - a re-INVITE or UPDATE with a new offer (an SDP whose o= session or
 *   version differs from the peer's last, RFC 3264 §8) goes to the
 *   application's ua_request_fn when it set one (ua_leg_on_request());
 *   it answers with ua_answer(), now or later (a bridge asks the other
 *   leg first). Without one, or for an unchanged offer (a session
 *   refresh, RFC 4028), an offerless re-INVITE, or an UPDATE without a
 *   body, the UA answers 200 itself with its current local SDP (the
 *   last body it sent; none for the UPDATE without one);
 * - one offer at a time: a re-INVITE or UPDATE while one is pending
 *   either way gets 491 (RFC 3261 §14.2, RFC 3311 §5.2);
 * - INFO goes to the ua_request_fn (one at a time: another meanwhile
 *   gets 500 with Retry-After); without one, 501;
 * - OPTIONS 200, other methods 501; a request in a dialog it does not
 *   know gets 481 (the pool's default).
 * A 2xx the UA sends to an INVITE (UAS legs' first, any re-INVITE's) is
 * retransmitted from T1 doubling to T2 until its ACK; none in 64*T1:
 * the UA sends BYE (Reason: SIP ;cause=408) and the leg ENDs (RFC 3261
 * §13.3.1.4).
 *
 * Threads: everything here runs on the worker that owns the leg's
 * Call-ID (ua_call_id_make() makes one the calling worker owns; reach
 * the worker with pool_post()). No locks.
 * Memory: requests are built in the worker's arena (shard_arena()); the
 * UA resets it after its tick. An application running from a
 * pool_post() function may reset it when it returns.
 */
struct ua;
struct ua_leg;

/** What happened to a leg (struct ua_event). */
enum ua_event_kind {
	UA_EV_RINGING,	/**< a 101-199 (each one; status, sdp) */
	UA_EV_ANSWERED, /**< the 2xx: status, sdp; call ua_ack() */
	UA_EV_FAILED,	/**< no dialog: status (408 timeout, 503 send
			   failure, 487 cancelled, else the final's), reason */
	UA_EV_ENDED,	/**< the peer sent BYE (answered 200) */
	UA_EV_REINVITE, /**< ua_reinvite()'s outcome: 2xx (already ACKed;
			   sdp: the answer) or its final failure (status,
			   reason; the session is as it was) */
};

/** One event; every slice is borrowed for the callback only. */
struct ua_event {
	enum ua_event_kind kind;
	unsigned status;     /**< the response's status (ENDED: 0) */
	struct slice reason; /**< its reason phrase (may be empty) */
	struct slice sdp;    /**< the response's SDP body, or empty */
	/** RINGING of a leg with ua_call_opts.app_prack: the 1xx is
	 * reliable and carries an SDP offer; the application must call
	 * ua_prack() with the answer (RFC 3262 §5). */
	bool needs_prack;
};

/**
 * An application's callback for leg @p leg. After a UA_EV_FAILED or
 * UA_EV_ENDED callback returns the leg is freed: drop the pointer.
 * It may call ua_ack(), ua_hangup() on this or other legs, and
 * ua_call(). Thread: the worker's.
 */
typedef void ua_event_fn(struct ua_leg *leg, const struct ua_event *ev,
			 void *arg);

/**
 * An application's per-worker state (originate, park): the UA keeps
 * one pointer per struct ua_app and frees it with @p free when the
 * worker stops, after its legs (no callback runs then; the state must
 * not touch its legs) and before the wheel (its timers may be stopped).
 * Ownership: static storage.
 */
struct ua_app {
	const char *name;
	void (*free)(void *state);
};

/** Applications one UA holds state for. */
#define UA_APPS_MAX 4

/**
 * The state @p app set on @p u, or NULL. Thread: the worker's.
 */
void *ua_app_state(struct ua *u, const struct ua_app *app);

/**
 * Set @p app's state on @p u (once; the UA frees it with app->free).
 * Returns 0, or -EEXIST (already set), -ENOSPC (UA_APPS_MAX apps).
 * Thread: the worker's. Ownership: @p state passes to the UA on 0.
 */
int ua_app_set(struct ua *u, const struct ua_app *app, void *state);

/** Longest URI ua_call() takes (target, from). */
#define UA_URI_MAX 256

/** What ua_call() sends; every slice is borrowed for the call. */
struct ua_call_opts {
	/** Request-URI and To: a SIP URI that parses (uri.h), at most
	 * UA_URI_MAX bytes. */
	struct slice target;
	/** From URI; empty: "sip:b2b@POOL-ADDRESS" (the pool's identity). */
	struct slice from;
	struct slice from_display; /**< may be empty */
	/** Call-ID; empty: a new one this worker owns. It must hash to
	 * this worker (ua_call_id_make()): responses arrive by Call-ID. */
	struct slice call_id;
	/** The INVITE's SDP offer; empty: an INVITE without a body (the
	 * peer offers in its 2xx, RFC 3261 §13.2.1). */
	struct slice sdp;
	ua_event_fn *fn; /**< required */
	void *arg;
	/** The 100rel tag the INVITE carries (proxy/sip/rel.h
	 * rel_uac_offer(); 0: none). Whatever it says, a reliable 1xx
	 * (Require: 100rel, RSeq) is PRACKed (RFC 3262 §4). */
	int rel100;
	/** false: every reliable 1xx is PRACKed at once without a body
	 * (an offer in it is then left unanswered: do not offer 100rel).
	 * true: one that carries an offer waits for ua_prack(). */
	bool app_prack;
	/** Max-Forwards of the INVITE, 1..70 (0: 70, RFC 3261 §8.1.1.6). */
	unsigned max_forwards;
	/** Extra headers of the initial INVITE (not of its ACK, CANCEL or
	 * later requests), written after Contact as they are; at most
	 * UA_CALL_HDRS_MAX. The caller keeps out what the UA core writes
	 * itself (Via, From, To, Call-ID, CSeq, Contact, Max-Forwards,
	 * Allow, Supported/Require, Content-*): names must be tokens and
	 * values line safe, else ua_call() fails with -EINVAL. */
	const struct request_hdr *hdrs;
	unsigned nhdrs;
};

/** A request in a confirmed dialog for the application. */
struct ua_request {
	enum sip_method method;	   /**< SIP_INVITE, SIP_UPDATE (an offer in
				      body) or SIP_INFO */
	struct slice content_type; /**< of the body (may be empty) */
	struct slice body;	   /**< the offer; INFO's body */
};

/**
 * The application's handler of in-dialog requests of @p leg: it must
 * answer with ua_answer() (now or later; the leg's end answers for it:
 * 487 to a re-INVITE, 481 otherwise). Slices borrowed for the call.
 * Thread: the leg's worker.
 */
typedef void ua_request_fn(struct ua_leg *leg, const struct ua_request *rq,
			   void *arg);

/**
 * Send re-INVITE/UPDATE offers and INFO of @p leg's peer to @p fn
 * (NULL: the UA answers them itself, see above). Thread: the leg's
 * worker.
 */
void ua_leg_on_request(struct ua_leg *leg, ua_request_fn *fn, void *arg);

/**
 * Answer the pending request @p method (SIP_INVITE and SIP_UPDATE: the
 * offer; SIP_INFO) of @p leg with @p status 200-699 and @p body (an
 * offer's 2xx: the SDP answer, which becomes the leg's local SDP and
 * the offer its remote one; RFC 3261 §14.2: a 2xx to a re-INVITE is
 * retransmitted until its ACK). A non-2xx leaves the session as it
 * was. Returns 0, or -EINVAL (nothing of @p method pending, a bad
 * status, a 2xx to an offer without an answer), -ENOMEM, a send error
 * (the request is answered 500 then). Thread: the leg's worker.
 */
int ua_answer(struct ua_leg *leg, enum sip_method method, unsigned status,
	      struct slice body);

/**
 * @p sdp made the next offer of @p leg's session (RFC 3264 §8): its o=
 * line is the leg's last local one with the version plus one (or
 * @p sdp as it is when the leg has sent none), in the worker's arena.
 * A bridge relaying one leg's offer to the other uses it so that each
 * peer sees one session. Returns 0 with *outp, -EINVAL (@p sdp does
 * not parse), -ENOMEM. Thread: the leg's worker.
 */
int ua_offer_for(const struct ua_leg *leg, struct slice sdp,
		 struct slice *outp);

/** What ua_send_request() reports: the final @p status (408 timeout,
 * 503 send failure) and reason; @p leg may be NULL when it died since.
 * Thread: the leg's worker. */
typedef void ua_done_fn(struct ua_leg *leg, unsigned status,
			struct slice reason, void *arg);

/**
 * Send non-INVITE request @p method (SIP_INFO; any but INVITE, ACK,
 * CANCEL, BYE, PRACK) in @p leg's dialog with body @p body of type
 * @p content_type (both line safe; may be empty), in a client
 * transaction; @p fn gets its final. One at a time per leg.
 * Returns 0, or -EINVAL (a method the UA sends itself, no dialog, a bad
 * content type), -EBUSY (one pending), -ENOMEM, a send error.
 * Thread: the leg's worker.
 */
int ua_send_request(struct ua_leg *leg, enum sip_method method,
		    struct slice content_type, struct slice body,
		    ua_done_fn *fn, void *arg);

/** Most extra headers ua_call() takes (ua_call_opts.hdrs). */
#define UA_CALL_HDRS_MAX 16

/** What ua_send_out() sends; every slice is borrowed for the call. */
struct ua_out_opts {
	/** Not INVITE, ACK, CANCEL, BYE, PRACK nor SIP_METHOD_OTHER:
	 * MESSAGE (RFC 3428), OPTIONS, NOTIFY... */
	enum sip_method method;
	/** Request-URI and To, as ua_call_opts.target. */
	struct slice target;
	/** From URI (empty: the worker's Contact) and display name. */
	struct slice from, from_display;
	/** Extra headers (Route...), as ua_call_opts.hdrs. */
	const struct request_hdr *hdrs;
	unsigned nhdrs;
	struct slice content_type, body; /**< body may be empty */
};

/**
 * Send the out-of-dialog request @p o describes (a new Call-ID this
 * worker owns, CSeq 1, a new From tag, no Contact) through the proxy
 * in a client transaction whose outcome nobody is told: a
 * fire-and-forget notice (park's "Parked 701" MESSAGE to the parker,
 * issue #13). Returns 0, or -EINVAL (a bad method or field, as
 * request_print()), -ENOENT (no pool address), -ENOSPC, -EAGAIN (no
 * Call-ID, ua_call_id_make()), -ENOMEM, a send error.
 * Thread: the worker of @p u.
 */
int ua_send_out(struct ua *u, const struct ua_out_opts *o);

/** The UA core for pool_set_ua() (proxy/main.c). */
extern const struct pool_ua ua_pool;

/**
 * The UA of pool worker @p sh, or NULL when the pool runs without
 * ua_pool. Thread: the worker @p sh.
 */
struct ua *ua_of(struct shard *sh);

struct media;

/**
 * The worker's media engine (features/b2b/media.h: RTP sessions on
 * b2b.media.ports, this worker's share), or NULL when it could not
 * start (logged). Sessions opened on it are closed when the worker
 * stops. Thread: the worker's.
 */
struct media *ua_media(struct ua *u);

/** The worker the UA runs on. Thread: its. */
struct shard *ua_shard(const struct ua *u);

/**
 * The worker's timer wheel (proxy/base/timer.h), for the applications'
 * own timers (ring timeouts); it advances every POOL_TICK_MS. Thread:
 * the worker's. Ownership: the UA's, lives while the worker runs.
 */
struct timer_wheel *ua_wheel(struct ua *u);

/**
 * Write a new Call-ID that worker @p sh owns (shard_owner() over the
 * pool's workers) into @p buf (at least REQUEST_CALL_ID_MAX bytes).
 * Tries random ones, at most 64 * workers (the chance to find none is
 * below e^-64). Returns its length, or -ENOSPC, -EAGAIN (none found,
 * or getrandom() not ready). Thread: any; @p workers is the pool's
 * count and @p id the worker's index.
 */
int ua_call_id_make(unsigned id, unsigned workers, char *buf, size_t size);

/**
 * Start a leg: send the INVITE @p o describes (CSeq 1, a new From tag)
 * through the proxy in a client transaction.
 * Returns 0 with *legp (the UA's; valid until the FAILED or ENDED
 * callback returns, or ua_hangup() returns), or -EINVAL (a bad field:
 * no fn, a target or from that does not parse or is too long, a
 * Call-ID this worker does not own, an SDP with CR/LF trouble is not
 * checked: it is sent as given), -ENOENT (no pool address), -ENOMEM, a
 * send error; @p o->fn is never called then.
 * Thread: the worker of @p u.
 */
int ua_call(struct ua *u, const struct ua_call_opts *o, struct ua_leg **legp);

/**
 * ACK the 2xx of an answered leg (RFC 3261 §13.2.2.4) with @p sdp as
 * its body (empty: none; an offer in the 2xx needs an answer here),
 * which becomes the leg's local SDP. The ACK is kept and sent again for
 * each retransmitted 2xx.
 * Returns 0, or -EINVAL (the leg is not answered-and-unACKed), -ENOMEM,
 * a build or send error (the leg stays answered).
 * Thread: the leg's worker.
 */
int ua_ack(struct ua_leg *leg, struct slice sdp);

struct dialog;

/**
 * Make a confirmed UAC-side leg from dialog @p d that another UA held
 * (park's node takeover, issue #13: the fields its record kept): the
 * dialog is copied (dialog_restore(): Call-ID, tags, URIs, remote
 * target, route set, local CSeq: give one above any the old holder
 * sent), @p local_sdp (may be empty) is taken as the last SDP the leg
 * sent, so that ua_offer_for() continues its o= session (RFC 3264 §8).
 * No request is sent: the application sends its re-INVITE with
 * ua_reinvite(); @p fn then gets the leg's events as a ua_call() leg
 * confirmed (UA_EV_REINVITE, UA_EV_ENDED; ua_hangup() sends BYE). The
 * peer's requests reach this worker when they name its Contact (the
 * re-INVITE's Contact refreshes the peer's target, RFC 3261 §12.2).
 * Returns 0 with *legp (as ua_call()), or -EINVAL (no @p fn, a field
 * dialog_restore() refuses, a Call-ID too long), -EEXIST (this worker
 * has a leg with that Call-ID), -ENOENT (no pool address), -ENOMEM.
 * Thread: the worker of @p u. Ownership: nothing of @p d or
 * @p local_sdp is kept.
 */
int ua_leg_restore(struct ua *u, const struct dialog *d, struct slice local_sdp,
		   ua_event_fn *fn, void *arg, struct ua_leg **legp);

/**
 * Forget @p leg without a word to the peer: no BYE, no CANCEL, no more
 * callbacks (requests of ours under way run out unheeded; a pending
 * request of the peer's is answered as at the leg's end). For a dialog
 * another UA holds now (park's node takeover: this node lost the slot
 * while frozen), where a BYE would end the call there too. The pointer
 * is invalid when this returns. NULL-safe. Thread: the leg's worker.
 */
void ua_leg_drop(struct ua_leg *leg);

/**
 * Hang up @p leg whatever its state, and forget the application: no
 * more callbacks, the pointer is invalid when this returns. Calling or
 * ringing: CANCEL (RFC 3261 §9.1; a 2xx that crosses it is ACKed and
 * BYEd); answered but not ACKed: ACK (with a held copy of the peer's
 * offer, a=inactive, when the 2xx had one) then BYE; confirmed: BYE.
 * @p reason (may be empty) is the RFC 3326 Reason header value the BYE
 * or CANCEL carries ('SIP ;cause=480 ;text="..."'); it must be line
 * safe, else it is left out. The UA keeps the leg until the BYE's or
 * the INVITE's final response (or timeout). Thread: the leg's worker.
 */
void ua_hangup(struct ua_leg *leg, struct slice reason);

/** The leg's Call-ID. Thread: the leg's worker. */
struct slice ua_leg_call_id(const struct ua_leg *leg);

/** The leg's local SDP (the last body it sent; may be empty). Thread:
 * the leg's worker. Ownership: the leg's, valid until it changes. */
struct slice ua_leg_local_sdp(const struct ua_leg *leg);

struct dialog;

/**
 * The leg's dialog (proxy/sip/dialog.h: Call-ID, tags, remote target,
 * route set, CSeqs), what another node needs to take the leg over
 * (park, issue #13), or NULL while it has none (a UAC before a 1xx with
 * a To tag or its 2xx, a UAS before its first 101-299). Thread: the
 * leg's worker. Ownership: the leg's; valid until the leg's next
 * request or its end.
 */
const struct dialog *ua_leg_dialog(const struct ua_leg *leg);

/** Legs the UA holds (with those hanging up). Thread: the worker's. */
size_t ua_legs(const struct ua *u);

/**
 * Send a re-INVITE on confirmed leg @p leg with offer @p sdp (RFC 3261
 * §14.1, RFC 3264 §8: the caller keeps the o= line's session and bumps
 * its version). On its 2xx the UA sends the ACK (without a body; kept
 * and sent again for a retransmitted 2xx), @p sdp becomes the leg's
 * local SDP and the 2xx's body its remote one, and UA_EV_REINVITE tells
 * the application (status, sdp = the answer; a 2xx without one is the
 * application's to judge). A 491 (glare) is retried after the RFC 3261
 * §14.1 delay for the Call-ID's owner (2.1 to 4 s, random, in 10 ms
 * units; ua_call() legs own theirs), up to 3 times; then, or for any
 * other final (300-699, 408 timeout, 503 send failure), UA_EV_REINVITE
 * reports it and the session stays as it was (408 and 481 mean the
 * dialog is gone, RFC 3261 §12.2.1.2: the application hangs up).
 * While it is pending (ua_reinvite_pending()) a re-INVITE from the peer
 * is answered 491 (§14.2).
 * Returns 0, or -EINVAL (@p sdp empty: an offerless re-INVITE is not
 * supported; the leg not confirmed, or let go), -EBUSY (a re-INVITE of
 * ours or of the peer's is in progress), -ENOMEM, a build or send error
 * (nothing pending then). Thread: the leg's worker.
 */
int ua_reinvite(struct ua_leg *leg, struct slice sdp);

/**
 * Send a re-INVITE without SDP on confirmed leg @p leg (RFC 3261
 * §14.1, RFC 3725 flow: the peer makes a fresh offer in its 2xx). Its
 * 2xx is not ACKed by the UA: UA_EV_REINVITE (UA_SRV_REINVITE) gives
 * the application the status and the peer's offer (sdp; empty when the
 * peer broke the rule), and the application answers it with
 * ua_reinvite_ack(), which must follow (ua_hangup() meanwhile ACKs
 * without a body, then BYEs). Retransmissions of that 2xx are absorbed
 * until then, and a re-INVITE from the peer is answered 491. Failures
 * (491 retried as ua_reinvite()'s, 300-699, 408) are reported as
 * ua_reinvite()'s. Returns 0, or -EINVAL (the leg not confirmed, or let
 * go), -EBUSY (a re-INVITE of ours or of the peer's is in progress),
 * -ENOMEM, a build or send error. Thread: the leg's worker.
 */
int ua_reinvite_offerless(struct ua_leg *leg);

/**
 * ACK the 2xx of ua_reinvite_offerless() with the answer @p sdp (empty:
 * an ACK without a body); @p sdp becomes the leg's local SDP, the 2xx's
 * offer its remote one; a retransmitted 2xx gets this ACK again.
 * Returns 0, or -EINVAL (no such 2xx waits), -ENOMEM, a build or send
 * error. Thread: the leg's worker.
 */
int ua_reinvite_ack(struct ua_leg *leg, struct slice sdp);

/** True while @p leg's ua_reinvite() waits for its final response or
 * for its 491 retry. Thread: the leg's worker. */
bool ua_reinvite_pending(const struct ua_leg *leg);

/**
 * PRACK the reliable 1xx a UA_EV_RINGING with needs_prack announced
 * (RFC 3262 §4, §5) with @p sdp (its answer; empty: none) as body.
 * Returns 0, or -EINVAL (no PRACK waits on this leg), -ENOMEM, a build
 * or send error. Thread: the leg's worker.
 */
int ua_prack(struct ua_leg *leg, struct slice sdp);

/*
 * UAS legs. An out-of-dialog INVITE to the pool (not a retransmission)
 * makes a UAS leg: a server transaction (100 Trying at once), a local
 * To tag, and a call to the ua_incoming_fn set with ua_set_incoming().
 * It must call ua_uas_take() (the leg is the application's until its
 * last event) or answer it with a final ua_uas_respond() (then it is gone);
 * otherwise the UA answers 500. The leg then goes:
 *
 *   proceeding -(ua_uas_respond 1xx)-> early -(ua_uas_respond 2xx)-> answered
 *   -(ACK: UA_SRV_ACK)-> confirmed -(BYE either way)-> gone
 *
 * CANCEL (RFC 3261 §9.2) before a final: 200 to it, 487 to the INVITE,
 * UA_SRV_CANCELLED. A BYE from the peer: 200, UA_SRV_ENDED. With
 * reliable set (RFC 3262 §3, proxy/sip/rel.h) every 101-199 goes with
 * Require: 100rel and RSeq and is retransmitted (T1 doubling, 64*T1)
 * until its PRACK; one at a time: a 1xx given while one is outstanding
 * waits (only the newest), a 2xx waits while one is outstanding
 * (required when it carries an offer, RFC 3262 §3; always, so the
 * PRACK's 200 goes out first); a PRACK that matches gets 200 (UA_SRV_PRACK, its
 * SDP), any other 481; no PRACK in time: 500 to the INVITE and
 * UA_SRV_FAILED. ua_hangup() works on UAS legs too: before the 2xx it
 * answers 480 with the Reason, after it sends BYE.
 * Threads and memory: as UAC legs.
 */

/** What happened to a UAS leg. */
enum ua_srv_event_kind {
	UA_SRV_PRACK,	  /**< a matching PRACK (answered 200): sdp */
	UA_SRV_ACK,	  /**< the ACK of our 2xx: sdp */
	UA_SRV_CANCELLED, /**< CANCEL (487 sent); the leg is gone after */
	UA_SRV_ENDED,	  /**< BYE from the peer; the leg is gone after */
	UA_SRV_FAILED,	  /**< no PRACK in 64*T1 (500 sent): gone after */
	UA_SRV_REINVITE,  /**< ua_reinvite()'s outcome, as UA_EV_REINVITE */
};

/** One UAS event; slices borrowed for the callback. */
struct ua_srv_event {
	enum ua_srv_event_kind kind;
	struct slice sdp; /**< the request's SDP body, or empty */
	unsigned status;  /**< UA_SRV_REINVITE: the final's status */
};

/** A UAS leg's callback; rules as ua_event_fn. */
typedef void ua_srv_fn(struct ua_leg *leg, const struct ua_srv_event *ev,
		       void *arg);

/**
 * A new incoming call on worker @p u: leg @p leg for INVITE @p m (its
 * slices borrowed for the call: Request-URI, Supported/Require, SDP
 * in m->body). Thread: the worker's.
 */
typedef void ua_incoming_fn(struct ua *u, struct ua_leg *leg,
			    const struct sipmsg *m);

/**
 * Set the application that takes incoming INVITEs (NULL: none, they
 * get 501 as before). Thread: control, before the pool starts.
 */
void ua_set_incoming(ua_incoming_fn *fn);

/**
 * Take UAS leg @p leg (from a ua_incoming_fn): @p fn gets its events.
 * @p reliable: send 101-199 reliably (rel_decide() said REL_RELIABLE).
 * Returns 0, or -EINVAL (not a fresh UAS leg, no fn). Thread: the
 * leg's worker.
 */
int ua_uas_take(struct ua_leg *leg, ua_srv_fn *fn, void *arg, bool reliable);

/**
 * Answer the INVITE of UAS leg @p leg: @p status 101-699, @p extra
 * complete header lines (may be empty), @p sdp the body (empty: none).
 * 101-199: a provisional (reliable when taken so; may wait, see
 * above). 200-299: the answer (Contact, Allow added; may wait for a
 * PRACK). 300-699: a rejection; the leg is gone when this returns.
 * Returns 0, or -EINVAL (bad status, the leg already answered), -ENOMEM,
 * a build or send error. Thread: the leg's worker.
 */
int ua_uas_respond(struct ua_leg *leg, unsigned status, struct slice extra,
		   struct slice sdp);

/** Longest reason phrase ua_uas_set_phrase() takes. */
#define UA_PHRASE_MAX 64

/**
 * Give the final response @p status (200-699) to the INVITE of UAS leg
 * @p leg, if that is the final it gets, the reason phrase @p phrase
 * instead of the standard one (empty: the standard one): "Parked 701"
 * in the 200 that a transferee's NOTIFY sipfrag carries back to the
 * transferor (RFC 3515 §2.4.5). Call it before ua_uas_respond(); a
 * later call replaces it. Returns 0, or -EINVAL (not a UAS leg, its
 * final sent, a bad status, @p phrase longer than UA_PHRASE_MAX or not
 * printable ASCII), -ENOMEM. Thread: the leg's worker.
 */
int ua_uas_set_phrase(struct ua_leg *leg, unsigned status, struct slice phrase);

/** True for a UAS leg. Thread: the leg's worker. */
bool ua_leg_is_uas(const struct ua_leg *leg);

/*
 * Other requests. Applications that are not calls (subscriptions: the
 * BLF notifier, features/b2b/blf.h) take the requests the UA core does
 * not: out-of-dialog requests other than INVITE, ACK, CANCEL and
 * OPTIONS, and requests with a To tag that match no leg. They answer
 * and send in their own dialogs with the UA's transaction layer
 * (ua_srv_respond(), ua_send_in_dialog()).
 */

/**
 * An application's handler of such a request @p m from @p from on
 * worker @p u: POOL_UA_DONE (answered or absorbed), POOL_UA_PASS (not
 * its own: the next handler, then the pool's default answer: 501, or
 * 481 in a dialog), or a negative error (the pool answers 500).
 * Thread: the worker's. Must not block.
 */
typedef int ua_other_fn(struct ua *u, const struct peer *from,
			const struct sipmsg *m);

/** Most ua_other_fn the UA calls (ua_add_other()). */
#define UA_OTHER_MAX 4

/**
 * Add @p fn to the handlers of other requests (in the order added).
 * Returns 0, 0 when @p fn is in already, -EINVAL (NULL), -ENOSPC.
 * Thread: control, before the pool starts.
 */
int ua_add_other(ua_other_fn *fn);

/** Remove every ua_other_fn (tests). Thread: control, no pool runs. */
void ua_clear_other(void);

/**
 * The server transaction of request @p m (not ACK) from @p from: when
 * @p m retransmits a request the worker has, the transaction answers it
 * again and *stp is NULL; else a new transaction in *stp (the layer's;
 * answer it with ua_srv_respond()). Returns 0, or -ENOMEM, -EBADMSG.
 * Thread: the worker's.
 */
int ua_srv_txn(struct ua *u, const struct peer *from, const struct sipmsg *m,
	       struct txn **stp);

/**
 * Answer request @p m of server transaction @p st (ua_srv_txn())
 * from @p from with @p status, its To tag @p to_tag (empty: one derived
 * from the request, see reply.h), @p extra complete CRLF-ended header
 * lines (may be empty) and @p body of type @p ctype (empty: none).
 * Returns 0, or -ENOMEM, a build or send error. Thread: the worker's.
 */
int ua_srv_respond(struct ua *u, struct txn *st, const struct peer *from,
		   const struct sipmsg *m, unsigned status, struct slice to_tag,
		   struct slice extra, struct slice ctype, struct slice body);

/**
 * The worker's Contact URI ("sip:b2b-N@HOST:PORT", pool_steer()), or
 * an empty slice when the pool's address is not known. Thread: the
 * worker's. Ownership: the UA's, lives while the worker runs.
 */
struct slice ua_contact(struct ua *u);

struct dialog;

/**
 * Send non-INVITE request @p method in dialog @p d (proxy/sip/dialog.h;
 * the application's: NOTIFY of a subscription) with the extra headers
 * @p hdrs and @p body of type @p ctype (may be empty) through the proxy,
 * Via and Contact the worker's, in a client transaction: @p fn (may be
 * NULL) gets its outcome with @p arg and @p tag (txn_cli_fn,
 * txn_tag()). Returns 0, or -EINVAL (INVITE, ACK, CANCEL), -ENOENT (no
 * pool address), a dialog_request() or send error (@p fn is not called
 * then). Thread: the worker's. Ownership: @p arg must stay valid while
 * the transaction lives (the worker's life at most).
 */
int ua_send_in_dialog(struct ua *u, struct dialog *d, enum sip_method method,
		      const struct request_hdr *hdrs, unsigned nhdrs,
		      struct slice ctype, struct slice body, unsigned tag,
		      txn_cli_fn *fn, void *arg);
