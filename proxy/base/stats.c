/* proxy/base/stats.c - the counters registry: every module adds, printers read
 */
#include "proxy/base/stats.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>

/* Sources live as long as their modules run: a few at a time. */
#define STATS_MAX_SOURCES 32

/* The registry is read by the control thread and (later) the management
 * thread, and changed when modules start and stop: a mutex, never taken
 * on the message path. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static const struct stats_source *sources[STATS_MAX_SOURCES];
static unsigned nsources;

int stats_add(const struct stats_source *src)
{
	int err = 0;

	if (!src || !src->read || !src->items || !src->nitems ||
	    src->nitems > STATS_MAX_ITEMS || !src->module)
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

void stats_foreach(stats_each_fn *each, void *ctx)
{
	uint64_t values[STATS_MAX_ITEMS];

	pthread_mutex_lock(&lock);
	for (unsigned i = 0; i < nsources; i++) {
		const struct stats_source *src = sources[i];

		for (unsigned inst = 0; inst < src->ninst; inst++) {
			for (unsigned k = 0; k < src->nitems; k++)
				values[k] = 0;
			src->read(src->arg, inst, values);
			each(ctx, src, inst, values);
		}
	}
	pthread_mutex_unlock(&lock);
}

static void log_one(void *ctx, const struct stats_source *src, unsigned inst,
		    const uint64_t *values)
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
		n = snprintf(line + o, sizeof(line) - o, " %s=%" PRIu64,
			     src->items[k].name, values[k]);
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
	uint64_t values[STATS_MAX_ITEMS];

	if (!src || !src->read || src->nitems > STATS_MAX_ITEMS)
		return;
	for (unsigned inst = 0; inst < src->ninst; inst++) {
		for (unsigned k = 0; k < src->nitems; k++)
			values[k] = 0;
		src->read(src->arg, inst, values);
		log_one(&level, src, inst, values);
	}
}
