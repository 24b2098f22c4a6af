/* store/pike.h - per-source request rates, bans and answer budgets */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/*
 * A fixed-size table keyed by source address (IPv4 or IPv6, no port),
 * shared by every shard: a token bucket of requests per source (rate
 * and burst), a ban (until a time) once the bucket runs dry, and a byte
 * credit of what the source sent, spent by the answers sent to it while
 * it has not authenticated (pike_vouch()).
 *
 * Bounded: the table has a fixed number of slots, in buckets of
 * PIKE_WAYS; a new source takes the least recently seen slot of its
 * bucket, preferring one that is neither banned nor vouched, so a flood
 * of spoofed sources recycles slots and never grows the table, and
 * evicts a ban only when its whole bucket is banned. The bucket is
 * chosen by a keyed hash (random key per table), so nobody outside can
 * aim sources at one bucket.
 *
 * Thread: every function may be called from any thread at once, but
 * pike_new() and pike_free(). A bucket is guarded by a spin flag held
 * for a few dozen instructions, never across a call out.
 */

struct pike;

/** Ways (slots) per bucket. */
#define PIKE_WAYS 4

/** The limits a lookup applies (struct guard_conf makes them). */
struct pike_limits {
	unsigned rate;	     /**< requests per second per source (> 0) */
	unsigned burst;	     /**< bucket size, requests: 1 .. 10^6 (kept in
				thousandths, 32 bits) */
	unsigned ban_ms;     /**< how long a ban lasts */
	unsigned credit_max; /**< answer budget ceiling, bytes; 0: no
				  budget (answers are not limited) */
};

/** What pike_admit() says about one message. */
enum pike_verdict {
	PIKE_PASS = 0, /**< under the limit: go on */
	PIKE_OVER,     /**< over the limit now: pike_ban() it (unless
			    the source is exempt) */
	PIKE_BANNED,   /**< banned: drop silently */
};

/** One ban, for pike_list(). */
struct pike_ban {
	struct sockaddr_storage addr; /**< port 0 */
	socklen_t addrlen;
	uint64_t until_ms; /**< on the clock given to the table */
	uint64_t dropped;  /**< messages dropped during this ban */
};

/**
 * A table of at least @p slots slots (rounded up to a power of two
 * buckets of PIKE_WAYS). Returns 0 with *pp set; -EINVAL (@p slots 0 or
 * over 2^24), -ENOMEM. Thread: any. Ownership: the caller's, pike_free().
 */
int pike_new(size_t slots, struct pike **pp);

/** Free @p p (NULL allowed). Thread: any, once no other thread uses it. */
void pike_free(struct pike *p);

/** Slots of @p p. */
size_t pike_slots(const struct pike *p);

/**
 * One message of @p len bytes from @p sa at @p now_ms (a monotonic
 * clock in ms, the same for every caller): counts it against the
 * source's bucket and adds @p len to its answer credit (up to
 * @p lim->credit_max). A banned source's message is counted dropped.
 * Returns a enum pike_verdict. An address that is neither AF_INET nor
 * AF_INET6 passes. Thread: any.
 */
enum pike_verdict pike_admit(struct pike *p, const struct sockaddr *sa,
			     size_t len, uint64_t now_ms,
			     const struct pike_limits *lim);

/**
 * Ban @p sa until @p now_ms + @p lim->ban_ms (its slot is taken if it
 * has none). Returns 1 when this call started the ban (the caller logs
 * it, once), 0 when the source was already banned, -EAFNOSUPPORT.
 * Thread: any.
 */
int pike_ban(struct pike *p, const struct sockaddr *sa, uint64_t now_ms,
	     const struct pike_limits *lim);

/**
 * Refill @p sa's bucket to its burst (an exempt source that ran over:
 * it is not asked again until it runs over once more). Thread: any.
 */
void pike_refill(struct pike *p, const struct sockaddr *sa, uint64_t now_ms,
		 const struct pike_limits *lim);

/**
 * May an answer of @p len bytes go to @p sa? True when the source is
 * vouched for, or unknown to the table (not seen since it was evicted:
 * nothing to charge), or its credit holds @p len (which is then
 * spent). Thread: any.
 */
bool pike_answer(struct pike *p, const struct sockaddr *sa, size_t len);

/**
 * The source @p sa has authenticated (or was served past the policy):
 * its answers are no longer charged while its slot lasts. Thread: any.
 */
void pike_vouch(struct pike *p, const struct sockaddr *sa);

/**
 * The bans in force at @p now_ms, at most @p max into @p out (in slot
 * order). Returns how many were written. Thread: any.
 */
size_t pike_list(struct pike *p, uint64_t now_ms, struct pike_ban *out,
		 size_t max);

/**
 * Lift the ban of @p sa (its bucket is refilled). Returns 0, -ENOENT
 * (no ban in force at @p now_ms), -EAFNOSUPPORT. Thread: any.
 */
int pike_unban(struct pike *p, const struct sockaddr *sa, uint64_t now_ms);

/** Is @p sa banned at @p now_ms? Nothing is counted. Thread: any. */
bool pike_is_banned(struct pike *p, const struct sockaddr *sa, uint64_t now_ms);

/** Bans in force at @p now_ms (a gauge). Thread: any. */
size_t pike_banned(struct pike *p, uint64_t now_ms);
