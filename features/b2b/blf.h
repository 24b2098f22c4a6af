/* features/b2b/blf.h - BLF for park slots: the RFC 4235 dialog event
 * package on the B2B pool (RFC 6665 subscriptions, notifier side) */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "features/b2b/ua.h"
#include "proxy/base/slice.h"

/*
 * A phone's busy lamp for a park slot subscribes to the slot's URI
 * (sip:701@example.com) or to the lot's (sip:700@example.com) with
 * Event: dialog. The proxy routes such SUBSCRIBEs to the pool
 * (features/blfroute.h), the pool steers them to the worker that owns
 * the domain's lot (blf_worker_of(), blf_steer()), and this module,
 * a ua_other_fn of that worker (blf_request()), is the notifier:
 *
 *   SUBSCRIBE -> 200 (Expires clamped to BLF_EXPIRES_MIN..MAX, Contact
 *   sip:b2b-N@) + NOTIFY version 0, state full, Subscription-State
 *   active;expires=N -> a NOTIFY (version + 1) at every change park
 *   reports (blf_slot_changed(), blf_lot_changed()) -> refresh
 *   (SUBSCRIBE in the dialog: 200 + NOTIFY) -> unsubscribe (Expires: 0:
 *   200 + NOTIFY terminated), expiry (NOTIFY terminated;reason=timeout),
 *   or a NOTIFY answered 481 or 408 or timing out (no NOTIFY more).
 *
 * Answers: 489 Bad Event + Allow-Events: dialog (another package or
 * none), 406 (an Accept without application/dialog-info+xml), 404 (not
 * a slot or lot URI: blf_resolve()), 403 (the From domain is not the
 * lot's: a tenant sees only its own lots), 423 + Min-Expires (Expires
 * below BLF_EXPIRES_MIN, not 0), 400 (a bad Expires, no Contact), 503 +
 * Retry-After (BLF_SUBS_MAX subscriptions on the worker). An
 * out-of-dialog SUBSCRIBE with Expires: 0 is a fetch: 200, one NOTIFY
 * terminated with the full state, no subscription.
 *
 * Slot and lot URIs compare case-insensitively (user and host).
 *
 * The document (RFC 4235 §4): entity = the slot or lot URI as
 * "sip:USER@DOMAIN" (lower case). A slot: one <dialog id="park-SLOT"
 * direction="recipient"> while a call is parked in it (<state>
 * confirmed or early, the parked party in <remote><identity>, the slot
 * in <local><identity>), none when free. A lot: one such <dialog> per
 * parked slot this worker knows, without <remote> (the slot's own
 * subscription carries the identity); when blf_lot_changed() reported a
 * greater count (calls parked on other nodes), <dialog id="lot-K">
 * elements make up the difference: the number of <dialog> elements is
 * the number of parked calls.
 *
 * Threads: everything runs on the worker that owns the domain's lot
 * (blf_worker_of()); park reaches it with shard_post() on
 * pool_shards() and calls blf_slot_changed() there. No locks.
 * Memory: per worker, at most BLF_SUBS_MAX subscriptions and
 * BLF_STATES_MAX slot and lot records, freed when the worker stops.
 */

/** Subscriptions one worker holds at most (more: 503). */
#define BLF_SUBS_MAX 2000
/** Slot and lot records (blf_slot_changed()) one worker holds at most. */
#define BLF_STATES_MAX 20000
/** Expires bounds in seconds: below MIN (but 0) 423, above MAX set to
 * MAX; without Expires, MAX (RFC 4235 §3.3 suggests 3600). */
#define BLF_EXPIRES_MIN 60
#define BLF_EXPIRES_MAX 3600
/** Longest user part and domain of a slot or lot URI. */
#define BLF_USER_MAX   64
#define BLF_DOMAIN_MAX 253
/** Longest parked identity (URI) and display name kept, in bytes. */
#define BLF_IDENTITY_MAX 256
/** Longest NOTIFY body. */
#define BLF_DOC_MAX 16384

/** What a URI names (blf_resolve()). */
enum blf_kind {
	BLF_NONE = 0, /**< not a park URI */
	BLF_SLOT,     /**< a slot ("701") */
	BLF_LOT,      /**< a lot's park code ("700") */
};

/**
 * Whether user @p user of domain @p domain (lower case, not escaped)
 * is a slot or a lot. Thread: any; must not block.
 */
typedef enum blf_kind blf_resolve_fn(struct slice domain, struct slice user);

/**
 * Set the resolver (park sets its own, per domain; NULL: the default,
 * the defaults for every domain: "700" the lot, "701".."799"
 * slots). Thread: control, before the pools and shards start.
 */
void blf_set_resolve(blf_resolve_fn *fn);

/** What the resolver says of @p user in @p domain (any case: both are
 * folded to lower case first; longer than BLF_USER_MAX or
 * BLF_DOMAIN_MAX: BLF_NONE). Thread: any. */
enum blf_kind blf_resolve(struct slice domain, struct slice user);

/** The seed of blf_worker_of()'s hash: park's steering (park.c
 * STEER_SEED) uses the same, so both pick the same worker. */
#define BLF_WORKER_SEED 0x9a4c0de5ULL

/**
 * The pool worker, below @p workers (not 0), that owns the lot of
 * @p domain (any case): hash_slice_case(domain, BLF_WORKER_SEED) %
 * workers, what park_steer() computes. Park steers
 * its INVITEs and keeps its lot there, BLF its subscriptions, so the
 * NOTIFYs of a change leave from the thread that made it. Thread: any.
 */
unsigned blf_worker_of(struct slice domain, unsigned workers);

/**
 * A pool_steer_fn (pool_set_steer()): an out-of-dialog SUBSCRIBE whose
 * Request-URI is a slot or lot (blf_resolve()) goes to blf_worker_of()
 * its host; anything else -1. Park's steering for its INVITEs, when it
 * has its own, calls this one first. Thread: any pool worker.
 */
int blf_steer(const char *buf, size_t len, struct slice ruri, unsigned workers);

/**
 * The ua_other_fn of the notifier (ua_add_other(), proxy/main.c):
 * takes SUBSCRIBE to slot and lot URIs, and requests in its
 * subscriptions' dialogs. Returns POOL_UA_DONE, POOL_UA_PASS (not a
 * slot or lot, nor one of its dialogs) or a negative error.
 * Thread: the worker's.
 */
int blf_request(struct ua *u, const struct peer *from, const struct sipmsg *m);

/** A slot's state for blf_slot_changed(). */
enum blf_state {
	BLF_FREE = 0,	   /**< no call parked: no <dialog> */
	BLF_CONFIRMED = 1, /**< a parked call, <state>confirmed */
	BLF_EARLY = 2,	   /**< a parked call shown ringing (park's
			      blf_parked_state: early) */
};

/**
 * Park says slot @p slot (the user part, "701") of @p domain changed to
 * @p state with the parked party @p identity (a URI) and @p display
 * (its display name; both may be empty, cut at BLF_IDENTITY_MAX; they
 * come from the network and are escaped here). With @p display empty,
 * @p identity may be a name-addr as a From header holds it
 * ("\"Bob\" <sip:bob@x>;tag=1", park's record): its URI and display
 * name are taken, its parameters dropped. Every subscription to
 * the slot gets a NOTIFY (version + 1) at once, and, when the state
 * changed (not only the identity), every subscription to the domain's
 * lot. The same state again sends nothing.
 * Returns the number of NOTIFYs sent, or -EINVAL (an empty or too long
 * slot or domain, a bad state), -ENOMEM, -ENOSPC (BLF_STATES_MAX).
 * Thread: the worker of @p u, which must be blf_worker_of(@p domain).
 */
int blf_slot_changed(struct ua *u, struct slice domain, struct slice slot,
		     enum blf_state state, struct slice identity,
		     struct slice display);

/**
 * Park says the lot of @p domain holds @p count parked calls (all
 * nodes). The lot's subscriptions get a NOTIFY when the count they
 * see changes. Returns the number of NOTIFYs sent, or -EINVAL,
 * -ENOMEM, -ENOSPC. Thread: as blf_slot_changed().
 */
int blf_lot_changed(struct ua *u, struct slice domain, unsigned count);

/** Subscriptions worker @p u holds. Thread: the worker's. */
size_t blf_subs(struct ua *u);

/** One <dialog> of a document (blf_xml_print()). */
struct blf_dialog {
	struct slice id;       /**< the dialog id attribute */
	enum blf_state state;  /**< BLF_CONFIRMED or BLF_EARLY */
	struct slice local;    /**< local identity URI (may be empty) */
	struct slice identity; /**< remote identity URI (may be empty:
				  no <remote>) */
	struct slice display;  /**< its display name (may be empty) */
};

/**
 * Write the dialog-info document (RFC 4235 §4.1) of @p entity, version
 * @p version, state "full", with the @p n dialogs @p d, into @p buf.
 * Every value is escaped for XML (& < > " '); bytes that XML 1.0 does
 * not allow (control characters, invalid UTF-8) become '?'.
 * Returns the length written (NUL-terminated when room), or -ENOSPC.
 * Thread: any.
 */
int blf_xml_print(struct slice entity, uint32_t version,
		  const struct blf_dialog *d, unsigned n, char *buf,
		  size_t size);
