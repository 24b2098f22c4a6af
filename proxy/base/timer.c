/* proxy/base/timer.c - per-shard hashed timing wheel */
#include "proxy/base/timer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int timer_wheel_init(struct timer_wheel *w, unsigned tick_ms, unsigned nslots,
		     uint64_t now_ms)
{
	unsigned n = 1;

	memset(w, 0, sizeof(*w));
	if (tick_ms == 0 || nslots == 0 || nslots > (1u << 24))
		return -EINVAL;
	while (n < nslots)
		n <<= 1;
	w->slots = calloc(n, sizeof(*w->slots));
	if (!w->slots)
		return -ENOMEM;
	w->nslots = n;
	w->tick_ms = tick_ms;
	w->base_ms = now_ms;
	w->now_ms = now_ms;
	w->wake_ms = UINT64_MAX;
	return 0;
}

void timer_wheel_watch(struct timer_wheel *w, uint64_t (*clock)(void *arg),
		       void (*alarm)(void *arg, uint64_t at_ms), void *arg)
{
	w->clock = clock;
	w->alarm = alarm;
	w->watch_arg = arg;
	w->wake_ms = UINT64_MAX;
}

/* The time tick @p k is due at. */
static uint64_t tick_time(const struct timer_wheel *w, uint64_t k)
{
	return w->base_ms + k * w->tick_ms;
}

uint64_t timer_next_due(struct timer_wheel *w)
{
	uint64_t k, end;

	if (!w->slots || w->count == 0) {
		w->wake_ms = UINT64_MAX;
		return UINT64_MAX;
	}
	end = w->tick + w->nslots;
	/* Each pass looks at one slot of a turn; the first slot holding a
	 * timer due in its tick is the earliest (every timer is due after
	 * w->tick, and in the slot of its tick). */
	for (k = w->tick + 1; k < end; k++) {
		const struct timer *t = w->slots[k & (w->nslots - 1)];

		for (; t; t = t->next)
			if (t->due_tick <= k)
				goto found;
	}
found:
	w->wake_ms = tick_time(w, k);
	return w->wake_ms;
}

void timer_wheel_fini(struct timer_wheel *w)
{
	if (!w->slots)
		return;
	for (unsigned i = 0; i < w->nslots; i++) {
		struct timer *t = w->slots[i], *next;

		/* Each pass unlinks one timer of the slot's finite list. */
		for (; t; t = next) {
			next = t->next;
			t->next = NULL;
			t->pprev = NULL;
		}
		w->slots[i] = NULL;
	}
	free(w->slots);
	w->slots = NULL;
	w->count = 0;
}

uint64_t timer_now(const struct timer_wheel *w)
{
	return w->now_ms;
}

size_t timer_count(const struct timer_wheel *w)
{
	return w->count;
}

void timer_init(struct timer *t)
{
	memset(t, 0, sizeof(*t));
}

bool timer_is_active(const struct timer *t)
{
	return t->pprev != NULL;
}

static void unlink_timer(struct timer *t)
{
	if (t->next)
		t->next->pprev = t->pprev;
	*t->pprev = t->next;
	t->next = NULL;
	t->pprev = NULL;
}

static void link_timer(struct timer **head, struct timer *t)
{
	t->next = *head;
	if (t->next)
		t->next->pprev = &t->next;
	*head = t;
	t->pprev = head;
}

void timer_stop(struct timer_wheel *w, struct timer *t)
{
	if (!t->pprev)
		return;
	unlink_timer(t);
	w->count--;
}

void timer_start(struct timer_wheel *w, struct timer *t, uint64_t delay_ms,
		 timer_fn *fn)
{
	uint64_t now = w->now_ms, due;

	if (w->clock) {
		uint64_t c = w->clock(w->watch_arg);

		if (c > now)
			now = c;
	}
	due = now - w->base_ms + delay_ms;
	timer_stop(w, t);
	/* Round up: a timer never fires early. */
	due = (due + w->tick_ms - 1) / w->tick_ms;
	if (due <= w->tick)
		due = w->tick + 1;
	t->due_tick = due;
	t->fn = fn;
	link_timer(&w->slots[due & (w->nslots - 1)], t);
	w->count++;
	if (w->alarm && tick_time(w, due) < w->wake_ms) {
		w->wake_ms = tick_time(w, due);
		w->alarm(w->watch_arg, w->wake_ms);
	}
}

/*
 * Run the timers of slot @p s due at or before @p tick. The slot's list
 * is taken whole first; a timer not yet due goes back, and a callback
 * that stops a timer still on the taken list unlinks it from there.
 */
static unsigned run_slot(struct timer_wheel *w, unsigned s, uint64_t tick)
{
	struct timer *taken = NULL, *t;
	unsigned ran = 0;

	if (!w->slots[s])
		return 0;
	taken = w->slots[s];
	taken->pprev = &taken;
	w->slots[s] = NULL;
	/* Each pass removes the head of the finite taken list. */
	while ((t = taken) != NULL) {
		unlink_timer(t);
		if (t->due_tick > tick) {
			link_timer(&w->slots[s], t);
			continue;
		}
		w->count--;
		ran++;
		t->fn(t);
	}
	return ran;
}

unsigned timer_advance(struct timer_wheel *w, uint64_t now_ms)
{
	uint64_t target, from;
	unsigned ran = 0;

	if (!w->slots || now_ms < w->now_ms)
		return 0;
	w->now_ms = now_ms;
	target = (now_ms - w->base_ms) / w->tick_ms;
	if (target <= w->tick)
		return 0;
	from = w->tick + 1;
	/* More than a turn behind: each slot once, everything due runs. */
	if (target - w->tick > w->nslots)
		from = target - w->nslots + 1;
	/* Set first, so that a timer a callback starts is due after it. */
	w->tick = target;
	for (uint64_t k = from; k <= target; k++)
		ran += run_slot(w, (unsigned)(k & (w->nslots - 1)), target);
	return ran;
}
