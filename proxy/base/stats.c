/* proxy/base/stats.c - the counters registry: every module adds, printers read
 */
#include "proxy/base/stats.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Sources live as long as their modules run: a few at a time. */
#define STATS_MAX_SOURCES 32

/* The registry is read by the control thread and (later) the management
 * thread, and changed when modules start and stop: a mutex, never taken
 * on the message path. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static const struct stats_source *sources[STATS_MAX_SOURCES];
static unsigned nsources;

/* 0.5 ms to 60 s: SIP answers in a millisecond when the proxy answers
 * itself, and in seconds when a phone rings. */
const uint64_t stats_hist_bounds_us[STATS_HIST_BOUNDS] = {
	500,	1000,	2500,	 5000,	  10000,   25000,    50000,    100000,
	250000, 500000, 1000000, 2500000, 5000000, 10000000, 30000000, 60000000,
};

void stats_hist_observe(struct stats_hist *h, uint64_t us)
{
	unsigned i = 0;

	while (i < STATS_HIST_BOUNDS && us > stats_hist_bounds_us[i])
		i++;
	/* Only the owner writes: relaxed stores keep readers tear-free. */
	__atomic_store_n(&h->bucket[i], h->bucket[i] + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&h->sum_us, h->sum_us + us, __ATOMIC_RELAXED);
}

void stats_hist_add(struct stats_hist *sum, const struct stats_hist *h)
{
	for (unsigned i = 0; i <= STATS_HIST_BOUNDS; i++)
		sum->bucket[i] +=
		    __atomic_load_n(&h->bucket[i], __ATOMIC_RELAXED);
	sum->sum_us += __atomic_load_n(&h->sum_us, __ATOMIC_RELAXED);
}

uint64_t stats_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t stats_hist_count(const struct stats_hist *h)
{
	uint64_t n = 0;

	for (unsigned i = 0; i <= STATS_HIST_BOUNDS; i++)
		n += h->bucket[i];
	return n;
}

int stats_add(const struct stats_source *src)
{
	int err = 0;

	if (!src || !src->read || !src->items || !src->nitems ||
	    src->nitems > STATS_MAX_ITEMS || !src->module ||
	    src->nhists > STATS_MAX_HISTS ||
	    (src->nhists && (!src->hists || !src->read_hists)))
		return -EINVAL;
	pthread_mutex_lock(&lock);
	for (unsigned i = 0; i < nsources; i++) {
		if (sources[i] == src) {
			err = -EEXIST;
			goto out;
		}
	}
	if (nsources == STATS_MAX_SOURCES) {
		err = -ENOSPC;
		goto out;
	}
	sources[nsources++] = src;
out:
	pthread_mutex_unlock(&lock);
	return err;
}

void stats_remove(const struct stats_source *src)
{
	pthread_mutex_lock(&lock);
	for (unsigned i = 0; i < nsources; i++) {
		if (sources[i] != src)
			continue;
		for (unsigned j = i + 1; j < nsources; j++)
			sources[j - 1] = sources[j];
		nsources--;
		break;
	}
	pthread_mutex_unlock(&lock);
}

/* Instance @p inst of @p src into @p values and @p hists. */
static void read_inst(const struct stats_source *src, unsigned inst,
		      uint64_t *values, struct stats_hist *hists)
{
	for (unsigned k = 0; k < src->nitems; k++)
		values[k] = 0;
	src->read(src->arg, inst, values);
	memset(hists, 0, sizeof(*hists) * STATS_MAX_HISTS);
	if (src->nhists && src->read_hists)
		src->read_hists(src->arg, inst, hists);
}

void stats_foreach(stats_each_fn *each, void *ctx)
{
	struct stats_hist hists[STATS_MAX_HISTS];
	uint64_t values[STATS_MAX_ITEMS];

	pthread_mutex_lock(&lock);
	for (unsigned i = 0; i < nsources; i++) {
		const struct stats_source *src = sources[i];

		for (unsigned inst = 0; inst < src->ninst; inst++) {
			read_inst(src, inst, values, hists);
			each(ctx, src, inst, values, hists);
		}
	}
	pthread_mutex_unlock(&lock);
}

static void log_one(void *ctx, const struct stats_source *src, unsigned inst,
		    const uint64_t *values, const struct stats_hist *hists)
{
	enum log_level level = *(const enum log_level *)ctx;
	char line[2048];
	size_t o = 0;
	int n;

	if (src->ninst > 1 || src->label)
		n = snprintf(line, sizeof(line), "%s %u:", src->module, inst);
	else
		n = snprintf(line, sizeof(line), "%s:", src->module);
	o = n > 0 ? (size_t)n : 0;
	for (unsigned k = 0; k < src->nitems && o < sizeof(line); k++) {
		const struct stats_item *it = &src->items[k];
		const struct stats_label *lb =
		    src->labels && src->labels[k].name ? &src->labels[k] : NULL;

		/* A family is wide (a method each): its zeros say nothing. */
		if (lb && !values[k])
			continue;
		if (lb)
			n = snprintf(line + o, sizeof(line) - o,
				     " %s[%s]=%" PRIu64, it->name, lb->value,
				     values[k]);
		else
			n = snprintf(line + o, sizeof(line) - o, " %s=%" PRIu64,
				     it->name, values[k]);
		if (n < 0)
			break;
		o += (size_t)n;
	}
	for (unsigned k = 0; k < src->nhists && o < sizeof(line); k++) {
		n = snprintf(line + o, sizeof(line) - o,
			     " %s_count=%" PRIu64 " %s_sum_ms=%" PRIu64,
			     src->hists[k].name, stats_hist_count(&hists[k]),
			     src->hists[k].name, hists[k].sum_us / 1000);
		if (n < 0)
			break;
		o += (size_t)n;
	}
	log_msg(level, "%s", line);
}

void stats_log(enum log_level level)
{
	stats_foreach(log_one, &level);
}

void stats_log_source(const struct stats_source *src, enum log_level level)
{
	struct stats_hist hists[STATS_MAX_HISTS];
	uint64_t values[STATS_MAX_ITEMS];

	if (!src || !src->read || src->nitems > STATS_MAX_ITEMS ||
	    src->nhists > STATS_MAX_HISTS)
		return;
	for (unsigned inst = 0; inst < src->ninst; inst++) {
		read_inst(src, inst, values, hists);
		log_one(&level, src, inst, values, hists);
	}
}

void stats_rows_read(void *arg, unsigned inst, uint64_t *values)
{
	const struct stats_rows *r = arg;

	for (unsigned k = 0; k < r->width; k++)
		values[k] =
		    r->base
			? __atomic_load_n(&r->base[(size_t)inst * r->width + k],
					  __ATOMIC_RELAXED)
			: 0;
}

int stats_rows_add(struct stats_source *src, struct stats_rows *r, unsigned n)
{
	int err;

	r->base = calloc((size_t)n * r->width, sizeof(uint64_t));
	if (!r->base)
		return -ENOMEM;
	r->n = n;
	src->read = stats_rows_read;
	src->arg = r;
	src->ninst = n;
	err = stats_add(src);
	if (err && err != -EEXIST) {
		free(r->base);
		r->base = NULL;
		r->n = 0;
		return err;
	}
	return 0;
}

void stats_rows_remove(struct stats_source *src, struct stats_rows *r)
{
	stats_remove(src);
	free(r->base);
	r->base = NULL;
	r->n = 0;
}

uint64_t *stats_rows_row(const struct stats_rows *r, unsigned i)
{
	return r->base && i < r->n ? r->base + (size_t)i * r->width : NULL;
}
