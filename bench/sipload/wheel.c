/* bench/sipload/wheel.c - hashed timer wheel over a preallocated node array
 * (1 ms ticks) */
#include "bench/sipload/wheel.h"

#include <errno.h>
#include <stdlib.h>

int wheel_init(struct wheel *w, uint32_t n, unsigned bits, int64_t now_ms)
{
	uint32_t i;

	w->nodes = malloc((size_t)n * sizeof(*w->nodes));
	w->head = malloc(((size_t)1 << bits) * sizeof(*w->head));
	if (!w->nodes || !w->head) {
		wheel_fini(w);
		return -ENOMEM;
	}
	w->n = n;
	w->mask = (1u << bits) - 1;
	for (i = 0; i <= w->mask; i++)
		w->head[i] = WHEEL_NIL;
	for (i = 0; i < n; i++)
		w->nodes[i].due_ms = -1;
	w->tick = now_ms;
	w->hint_ms = INT64_MAX;
	w->armed = 0;
	return 0;
}

void wheel_fini(struct wheel *w)
{
	free(w->nodes);
	free(w->head);
	w->nodes = NULL;
	w->head = NULL;
}

static void unlink_node(struct wheel *w, uint32_t i)
{
	struct wheel_node *nd = &w->nodes[i];

	if (nd->prev != WHEEL_NIL)
		w->nodes[nd->prev].next = nd->next;
	else
		w->head[(uint64_t)nd->due_ms & w->mask] = nd->next;
	if (nd->next != WHEEL_NIL)
		w->nodes[nd->next].prev = nd->prev;
	nd->due_ms = -1;
	w->armed--;
}

void wheel_arm(struct wheel *w, uint32_t i, int64_t due_ms)
{
	struct wheel_node *nd = &w->nodes[i];
	uint32_t b;

	if (nd->due_ms >= 0)
		unlink_node(w, i);
	/* A time already passed goes into the next bucket looked at. */
	if (due_ms < w->tick)
		due_ms = w->tick;
	b = (uint32_t)((uint64_t)due_ms & w->mask);
	nd->due_ms = due_ms;
	nd->prev = WHEEL_NIL;
	nd->next = w->head[b];
	if (nd->next != WHEEL_NIL)
		w->nodes[nd->next].prev = i;
	w->head[b] = i;
	w->armed++;
	if (due_ms < w->hint_ms)
		w->hint_ms = due_ms;
}

void wheel_disarm(struct wheel *w, uint32_t i)
{
	if (w->nodes[i].due_ms >= 0)
		unlink_node(w, i);
}

uint32_t wheel_expire(struct wheel *w, int64_t now_ms)
{
	/* Bounded: at most one full round of buckets per call. */
	int64_t stop;

	if (!w->armed) {
		w->tick = now_ms + 1;
		return WHEEL_NIL;
	}
	if (now_ms < w->hint_ms)
		return WHEEL_NIL;
	/* Nothing is due before the hint: skip the buckets before it. */
	if (w->hint_ms > w->tick)
		w->tick = w->hint_ms;
	stop = w->tick + (int64_t)w->mask + 1;
	while (w->tick <= now_ms && w->tick < stop) {
		uint32_t i = w->head[(uint64_t)w->tick & w->mask];

		for (; i != WHEEL_NIL; i = w->nodes[i].next) {
			if (w->nodes[i].due_ms <= now_ms) {
				unlink_node(w, i);
				return i;
			}
		}
		w->tick++;
	}
	if (w->tick <= now_ms) {
		/* Stalled for more than a round: every bucket was seen. */
		w->tick = now_ms + 1;
	}
	w->hint_ms = w->tick;
	return WHEEL_NIL;
}

int64_t wheel_next_due(struct wheel *w, int64_t now_ms, int64_t scan_ms)
{
	int64_t t;
	int64_t end;

	if (!w->armed)
		return INT64_MAX;
	if (w->hint_ms > w->tick && w->hint_ms != INT64_MAX)
		return w->hint_ms;
	t = w->tick > now_ms ? w->tick : now_ms;
	end = t + (scan_ms < (int64_t)w->mask ? scan_ms : (int64_t)w->mask);
	for (; t < end; t++) {
		uint32_t i = w->head[(uint64_t)t & w->mask];

		for (; i != WHEEL_NIL; i = w->nodes[i].next)
			if (w->nodes[i].due_ms <= t) {
				w->hint_ms = t;
				return t;
			}
	}
	w->hint_ms = end;
	return end;
}
