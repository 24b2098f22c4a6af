/* proxy/base/stats.h - the counters registry: every module adds, printers read
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "proxy/base/log.h"

/** One value a source reports: its name, meaning and kind. */
struct stats_item {
	const char *name; /**< [a-z0-9_]+, unique within the source */
	const char *help; /**< one line, for /metrics HELP */
	bool gauge;	  /**< a level (may go down); else a counter */
};

/**
 * Read instance @p inst of a source into @p values (one per item, in
 * the order of the source's items). Relaxed reads are enough.
 * Thread: any that reads the registry; must not block.
 */
typedef void stats_read_fn(void *arg, unsigned inst, uint64_t *values);

/**
 * A module's counters: @p ninst instances (one per shard, labelled
 * "shard"; or one), each @p nitems values read by @p read.
 * Ownership: the module's; it outlives its registration.
 */
struct stats_source {
	const char *module; /**< "shard", "registrar", "auth", "redis" */
	const struct stats_item *items;
	unsigned nitems;   /**< at most STATS_MAX_ITEMS */
	unsigned ninst;	   /**< instances: 1, or one per shard */
	const char *label; /**< with ninst > 1: the instance's name ("shard") */
	stats_read_fn *read;
	void *arg;
};

/** The most items one source may have. */
#define STATS_MAX_ITEMS 32

/**
 * Add @p src to the registry (a module does it when it starts).
 * Errors: -EINVAL (no read function, no items, too many items),
 * -EEXIST (already added), -ENOSPC (the registry is full).
 * Thread: any (a mutex; never on the message path).
 * Ownership: @p src stays the caller's; it must stay valid until
 * stats_remove().
 */
int stats_add(const struct stats_source *src);

/** Remove @p src (NULL, or one never added, is allowed). Thread: any. */
void stats_remove(const struct stats_source *src);

/**
 * What stats_foreach() hands over: instance @p inst of @p src, with its
 * values, one per item.
 */
typedef void stats_each_fn(void *ctx, const struct stats_source *src,
			   unsigned inst, const uint64_t *values);

/**
 * Call @p each for every instance of every source, in the order the
 * sources were added. The registry is locked meanwhile: @p each must not
 * call stats_add() or stats_remove(). Thread: any.
 */
void stats_foreach(stats_each_fn *each, void *ctx);

/**
 * Log every source at @p level, one line per instance:
 * "shard 0: rx_msgs=12 tx_msgs=10 ...", "registrar: registers=3 ...".
 * The one printer of the counters (SIGUSR1, the final counters at
 * stop). Thread: any.
 */
void stats_log(enum log_level level);

/**
 * Log the instances of @p src alone, as stats_log() does: for a module's
 * final counters when it stops, whether or not @p src is added.
 * Thread: any.
 */
void stats_log_source(const struct stats_source *src, enum log_level level);
