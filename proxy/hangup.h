/* proxy/hangup.h - end a dialog from the middle: a BYE to each user agent */
#pragma once

#include "proxy/base/slice.h"
#include "store/dlg.h"

struct conf;
struct txn_layer;

/**
 * The dialogs of one Call-ID a proxy shard ends from the middle
 * (dialog.end, as Kamailio's dlg.end_dlg): for each confirmed dialog a
 * BYE goes to the caller as if from the callee and one to the callee as
 * if from the caller (RFC 3261 §15.1.1, §12.2.1.1), each a client
 * transaction of the shard, CSeq the other side's last one + 1. When
 * every BYE has its final response (or failed: 408, 503) the dialogs
 * leave the table and the caller is told. One per shard, owned by it.
 */
struct hangup;

/** Most dialogs of one Call-ID ended at once (a forked INVITE). */
#define HANGUP_MAX_DIALOGS 16

/** One dialog ended: its tags and the final status of each BYE. */
struct hangup_leg {
	struct slice caller_tag, callee_tag;
	/**
	 * By enum dlg_side: the BYE's final status; 408 when none came
	 * (Timer F), 503 when it could not be sent.
	 */
	unsigned status[DLG__SIDES];
};

/** What hangup_start() reports. */
struct hangup_result {
	struct slice call_id;
	unsigned n; /**< dialogs ended */
	struct hangup_leg leg[HANGUP_MAX_DIALOGS];
};

/**
 * Told once by hangup_start() that returned 0: @p err 0 with @p res
 * (every BYE answered or failed), or -ECANCELED when the shard stopped
 * first (@p res then holds what was known). @p res is borrowed for the
 * call. Thread: the shard's; with -ECANCELED, the thread that frees it.
 */
typedef void hangup_done_fn(void *arg, int err,
			    const struct hangup_result *res);

/**
 * The hang-up state of the shard numbered @p shard, which sends through
 * its transaction layer @p l; @p c gives the Via addresses.
 * Errors: -ENOMEM. Thread: any, before the shard runs.
 * Ownership: hangup_free(); @p c and @p l must outlive it.
 */
int hangup_new(const struct conf *c, struct txn_layer *l, unsigned shard,
	       struct hangup **hp);

/**
 * Tell every hang-up under way -ECANCELED and free. Call it after the
 * transaction layer is gone (no BYE can answer any more). NULL is
 * allowed. Thread: the owner, or control after the shard stopped.
 */
void hangup_free(struct hangup *h);

/**
 * End the confirmed dialogs of Call-ID @p call_id (this shard must own
 * it): a BYE each way for each, the dialogs marked terminated; @p done
 * is called later, once, with the outcome.
 * Errors (@p done is not called): -EINVAL (empty Call-ID), -ENOENT (no
 * such dialog), -EBUSY (only early dialogs: not answered yet; a CANCEL
 * is the caller's to send), -EALREADY (only dialogs already ending),
 * -ENOMEM, a send error (no BYE could be sent: the dialogs stay).
 * Thread: the shard's (a registered RCU thread, outside a read
 * section). Ownership: @p arg is passed to @p done.
 */
int hangup_start(struct hangup *h, struct slice call_id, hangup_done_fn *done,
		 void *arg);

/** Hang-ups under way. Thread: the owner. */
unsigned hangup_pending(const struct hangup *h);
