/* registrar/reg.h - REGISTER: bindings of an AOR (RFC 3261 §10.3) */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/base/slice.h"

struct arena;
struct conf;
struct hook_req;
struct sipmsg;
struct peer;

/** The most bindings one AOR keeps; a REGISTER that adds more: 403. */
#define REG_MAX_CONTACTS 32

/**
 * True when REGISTER @p m is for this registrar (RFC 3261 §10.3 step
 * 1): its Request-URI is a sip/sips URI whose host is a served domain
 * (c->domains) or one of our listen addresses. Other REGISTERs are
 * routed on like any request. Thread: any.
 */
bool reg_is_ours(const struct conf *c, const struct sipmsg *m);

/**
 * The AOR of REGISTER @p m: its To URI as sipmsg_aor_print() writes it,
 * into @p buf (SIPMSG_AOR_MAX bytes). *userlenp gets the length of the
 * user part (before the last '@').
 * Returns the AOR length, or -EBADMSG (To missing, or not a sip/sips
 * URI: 400), -ENOENT (no user part: 404), -ENOSPC (too long: 400).
 * Thread: any.
 */
int reg_aor(const struct sipmsg *m, char *buf, size_t size, size_t *userlenp);

/** Per-shard counters, summed by reg_stats(). */
struct reg_stats {
	uint64_t registers; /**< REGISTER requests answered */
	uint64_t ok;	    /**< answered 200 */
	uint64_t added;	    /**< bindings created */
	uint64_t refreshed; /**< bindings updated */
	uint64_t removed;   /**< bindings removed by the UA */
	uint64_t rejected;  /**< answered 4xx/5xx */
	uint64_t retried;   /**< compare-and-swap publishes retried: another
				 shard (or the sweep) changed the AOR */
	uint64_t conflicts; /**< REGISTERs answered 500 after LOC_CAS_TRIES
				 lost compare-and-swaps */
};

/**
 * Set up the per-shard counters of @p nshards shards.
 * Errors: -ENOMEM, -EINVAL. Thread: control, before shards run.
 */
int reg_init(unsigned nshards);

/** Free what reg_init() made. Thread: control, after shards stop. */
void reg_fini(void);

/** The counters of all shards added up (relaxed reads). Thread: any. */
void reg_stats(struct reg_stats *out);

/** One REGISTER to handle: what reg_handle() reads. */
struct reg_req {
	const struct conf *c;
	const struct sipmsg *m;	 /**< parsed without fault, a REGISTER */
	const struct peer *from; /**< the flow it arrived on */
	unsigned shard;		 /**< the calling shard */
	unsigned nshards;	 /**< shards in all (owner check) */
	int64_t now_s;		 /**< CLOCK_REALTIME seconds */
	struct arena *a;	 /**< for the answer's header lines */
};

/** The answer reg_handle() decided on. */
struct reg_answer {
	unsigned status;    /**< 0: not for the registrar (route it on) */
	const char *reason; /**< static */
	struct slice extra; /**< header lines (Contact, Date, ...), in @p a */
	bool nat; /**< the UA is behind NAT: its bindings are LOC_NAT */
};

/**
 * Handle REGISTER q->m (RFC 3261 §10.3, RFC 3327 Path, RFC 5626
 * outbound): when it is not for this registrar, status 0. Otherwise
 * the AOR from To (400 when not sip/sips, 404 when its domain is not
 * served or it has no user), Require with options other than path and
 * outbound -> 420; Contact "*" only alone and with Expires 0 (else 400);
 * expires from the contact's expires param, else Expires, else
 * reg_conf(c)->default_expires_s; a non-zero one below
 * reg_conf(c)->min_expires_s
 * -> 423 with Min-Expires; above reg_conf(c)->max_expires_s -> lowered.
 * A binding is matched by (+sip.instance, reg-id) when outbound
 * applies, by +sip.instance when there is one, else by URI; the same
 * Call-ID with a CSeq not above the binding's -> 500 and nothing
 * changes; 439 when the UA asks for outbound (reg-id, option tag
 * "outbound") but the first hop is another proxy whose Path lacks
 * ";ob" (RFC 5626 §6). The 200 lists every live binding with its
 * remaining expires, a Date, Path (when the UA supports path) and
 * Require: outbound when it applied. Without Contact: a query.
 * Every binding keeps q, Path, +sip.instance, reg-id, ob, Call-ID,
 * CSeq, User-Agent and the flow (q->from); LOC_NAT when the UA is
 * behind NAT (nat_detect(), nat.detect on, no Path).
 * Returns 0 with *ap set, or -ENOMEM. Thread: any shard (the one that
 * received the REGISTER): the bindings change by compare-and-swap,
 * applied again on the newer set when another shard changed them
 * meanwhile (store/loc.h loc_publish_cas()); 500 "Concurrent Updates"
 * after LOC_CAS_TRIES lost swaps. Ownership: ap->extra in q->a.
 */
int reg_handle(const struct reg_req *q, struct reg_answer *ap);

/**
 * The HOOK_REGISTRAR stage: reg_handle() on the hook's request,
 * answered with hook_reply(). Returns HOOK_NEXT (not a REGISTER for
 * us), HOOK_DONE, or a negative error. Thread: the shard.
 */
int reg_hook(struct hook_req *r);
