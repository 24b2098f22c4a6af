/* proxy/base/timer.h - per-shard hashed timing wheel */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct timer;

/** What runs when a timer expires; find the owner with container_of. */
typedef void timer_fn(struct timer *t);

/**
 * One timer, embedded in the object it belongs to (a transaction, a
 * proxy branch). Zero it or timer_init() it before the first start.
 * Exception to "opaque by default": the caller embeds it; every field
 * is private.
 */
struct timer {
	/* private */
	struct timer *next;
	struct timer **pprev; /* NULL when not scheduled */
	uint64_t due_tick;
	timer_fn *fn;
};

/**
 * A hashed timing wheel: one slot per tick, a timer hashed by the tick
 * it is due in; timers further out than one turn stay in their slot and
 * are skipped until their tick comes. Start, stop and expiry are O(1);
 * a timer fires at most one tick late, never early. Single owner (the
 * shard): no locks. Time is whatever the owner passes to
 * timer_advance() (the shard's loop clock, a fake clock in tests).
 * Exception to "opaque by default": the owner embeds it; every field is
 * private.
 */
struct timer_wheel {
	/* private */
	struct timer **slots;
	unsigned nslots; /* power of two */
	unsigned tick_ms;
	uint64_t base_ms; /* the time of tick 0 */
	uint64_t tick;	  /* every timer due at or before it has run */
	uint64_t now_ms;
	size_t count;
	/* timer_wheel_watch(): the owner's clock and alarm. */
	uint64_t (*clock)(void *arg);
	void (*alarm)(void *arg, uint64_t at_ms);
	void *watch_arg;
	uint64_t wake_ms; /* the owner advances by then; UINT64_MAX: never */
};

/**
 * Set up @p w with @p nslots slots (rounded up to a power of two) of
 * @p tick_ms each, starting at time @p now_ms.
 * Errors: -EINVAL (tick_ms or nslots 0), -ENOMEM.
 * Thread: the owner. Ownership: timer_wheel_fini() frees the slots.
 */
int timer_wheel_init(struct timer_wheel *w, unsigned tick_ms, unsigned nslots,
		     uint64_t now_ms);

/**
 * Forget every timer still scheduled (they are unlinked, not run) and
 * free the slots. Idempotent on a zeroed wheel.
 */
void timer_wheel_fini(struct timer_wheel *w);

/** The time of the last timer_advance() (or of the init). */
uint64_t timer_now(const struct timer_wheel *w);

/** Timers scheduled now. */
size_t timer_count(const struct timer_wheel *w);

/**
 * Let the owner sleep while no timer is due. @p clock returns the
 * owner's current time (the clock timer_advance() is given); from now on
 * timer_start() counts a delay from it rather than from timer_now(), so
 * that a timer started after a long sleep without advances is not due
 * early. @p alarm is called, from timer_start(), with the time at which
 * the new timer is due (when timer_advance() would run it) whenever that
 * is earlier than the time the owner last promised to advance by
 * (timer_next_due(); before the first, no promise: the first start
 * calls it). Both get @p arg. Thread: the owner.
 */
void timer_wheel_watch(struct timer_wheel *w, uint64_t (*clock)(void *arg),
		       void (*alarm)(void *arg, uint64_t at_ms), void *arg);

/**
 * The time at which the earliest scheduled timer is due: the first
 * timer_advance() to it or later runs it. UINT64_MAX when none is
 * scheduled. A timer more than a turn of the wheel out is not looked
 * for: the answer is then at most one turn from the last advance (an
 * advance then finds nothing and the owner asks again). The owner
 * promises to advance by the answer: with timer_wheel_watch(), a timer
 * started due earlier calls the alarm. Cost: the slots up to the answer.
 */
uint64_t timer_next_due(struct timer_wheel *w);

/** Make @p t a stopped timer (the same as zeroing it). */
void timer_init(struct timer *t);

/**
 * Run @p fn once, @p delay_ms after timer_now() (at the first advance
 * for 0). A scheduled @p t is moved, not doubled.
 * Thread: the owner of @p w.
 */
void timer_start(struct timer_wheel *w, struct timer *t, uint64_t delay_ms,
		 timer_fn *fn);

/** Unschedule @p t; nothing happens if it is not scheduled. */
void timer_stop(struct timer_wheel *w, struct timer *t);

/** True while @p t is scheduled. */
bool timer_is_active(const struct timer *t);

/**
 * Move time to @p now_ms (ignored when earlier than timer_now()) and run
 * every timer due by then, each once. A callback may start and stop any
 * timer, itself included; a timer started by a callback with a delay
 * that has already passed runs at the next advance, not in this one.
 * Returns the number of timers run. Bounded: at most nslots slots are
 * visited, each timer in them once.
 */
unsigned timer_advance(struct timer_wheel *w, uint64_t now_ms);
