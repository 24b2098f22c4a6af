/* bench/sipload/wheel.h - hashed timer wheel over a preallocated node array
 * (1 ms ticks) */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/** No node (list end, nothing expired). */
#define WHEEL_NIL UINT32_MAX

/** One timer; the index in the node array names its owner. */
struct wheel_node {
	uint32_t prev; /**< WHEEL_NIL at the head of a bucket */
	uint32_t next;
	int64_t due_ms; /**< -1 when not armed */
};

/**
 * Timers for @c n owners (call slots), one each, in 1 ms buckets. A
 * timer due more than one round ahead waits in its bucket until its
 * round. The caller embeds it. Thread: one owner.
 */
struct wheel {
	struct wheel_node *nodes;
	uint32_t *head;
	uint32_t n;
	uint32_t mask;	 /* buckets - 1 */
	int64_t tick;	 /* the next bucket time to look at */
	int64_t hint_ms; /* no timer is due before this */
	uint64_t armed;	 /* number of armed timers */
};

/**
 * Set up @p w for @p n owners and 2^@p bits buckets, starting at
 * @p now_ms. Returns 0 or -ENOMEM. Ownership: wheel_fini().
 */
int wheel_init(struct wheel *w, uint32_t n, unsigned bits, int64_t now_ms);

/** Free what wheel_init() allocated. Safe on a zeroed wheel. */
void wheel_fini(struct wheel *w);

/** Arm (or re-arm) the timer of owner @p i for @p due_ms. */
void wheel_arm(struct wheel *w, uint32_t i, int64_t due_ms);

/** Disarm the timer of owner @p i (nothing if not armed). */
void wheel_disarm(struct wheel *w, uint32_t i);

/** True when owner @p i has an armed timer. */
static inline bool wheel_is_armed(const struct wheel *w, uint32_t i)
{
	return w->nodes[i].due_ms >= 0;
}

/**
 * The next owner whose timer is due at @p now_ms, disarmed, or
 * WHEEL_NIL when none is. Call until WHEEL_NIL.
 */
uint32_t wheel_expire(struct wheel *w, int64_t now_ms);

/**
 * The earliest time a timer may be due (a lower bound; INT64_MAX when
 * nothing is armed). Looks ahead at most @p scan_ms buckets.
 */
int64_t wheel_next_due(struct wheel *w, int64_t now_ms, int64_t scan_ms);
