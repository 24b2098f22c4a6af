/* proxy/base/stats.h - the counters registry: every module adds, printers read
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "proxy/base/log.h"

/** One value a source reports: its name, meaning and kind. */
struct stats_item {
	const char *name; /**< [a-z0-9_]+, unique within the source, but
			       for the members of a family (stats_label) */
	const char *help; /**< one line, for /metrics HELP */
	bool gauge;	  /**< a level (may go down); else a counter */
};

/**
 * The label of an item in a family: items of one name with a label are
 * adjacent in the source's list, share the label's @p name and the
 * help, and differ in @p value ("requests" method="INVITE", "requests"
 * method="BYE").
 */
struct stats_label {
	const char *name;  /**< NULL (not in a family), or "method" */
	const char *value; /**< "INVITE", "2xx" */
};

/** Upper bounds of the histogram buckets, beside +Inf. */
#define STATS_HIST_BOUNDS 16

/**
 * The bucket bounds, in microseconds, ascending: 0.5 ms to 60 s. One
 * fixed set for every histogram, so that shards add up and /metrics
 * prints the same "le" everywhere.
 */
extern const uint64_t stats_hist_bounds_us[STATS_HIST_BOUNDS];

/**
 * A latency histogram. Written only by its owner thread
 * (stats_hist_observe()), read by any thread (stats_hist_add()).
 * Exception to "opaque by default": the owner embeds it.
 */
struct stats_hist {
	/** Observations per bucket (not cumulative); the last is +Inf. */
	uint64_t bucket[STATS_HIST_BOUNDS + 1];
	uint64_t sum_us; /**< sum of the observations */
};

/**
 * Record @p us microseconds in @p h: relaxed stores, no lock.
 * Thread: the owner of @p h only.
 */
void stats_hist_observe(struct stats_hist *h, uint64_t us);

/**
 * Add @p h into @p sum (relaxed reads), for a total over shards. The
 * count is the sum of the buckets, so a total is always consistent with
 * its buckets, if a moment behind the sum. Thread: any.
 */
void stats_hist_add(struct stats_hist *sum, const struct stats_hist *h);

/** CLOCK_MONOTONIC in microseconds, for stats_hist_observe(). */
uint64_t stats_now_us(void);

/** Observations in @p h: the sum of its buckets. */
uint64_t stats_hist_count(const struct stats_hist *h);

/**
 * Read instance @p inst of a source into @p values (one per item, in
 * the order of the source's items). Relaxed reads are enough.
 * Thread: any that reads the registry; must not block.
 */
typedef void stats_read_fn(void *arg, unsigned inst, uint64_t *values);

/**
 * Add instance @p inst's histograms into @p hists (one per histogram
 * of the source, zeroed by the caller), with stats_hist_add().
 * Thread: any that reads the registry; must not block.
 */
typedef void stats_read_hist_fn(void *arg, unsigned inst,
				struct stats_hist *hists);

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
	/** NULL, or one per item: its label in its family. */
	const struct stats_label *labels;
	/** Histograms (may be none): names end in the unit, "_seconds". */
	const struct stats_item *hists;
	unsigned nhists; /**< at most STATS_MAX_HISTS */
	stats_read_hist_fn *read_hists;
};

/** The most items one source may have. */
#define STATS_MAX_ITEMS 64

/**
 * Counters kept as rows of uint64_t, one row of @p width values per
 * instance, in the order of the source's items: a source sets
 * .read = stats_rows_read and .arg = a struct stats_rows. Each row is
 * written by one thread (stats_inc(), stats_set()) and read relaxed.
 */
struct stats_rows {
	uint64_t *base; /**< row 0; NULL: every value reads 0 */
	unsigned width; /**< values per row: the source's nitems */
	unsigned n;	/**< rows */
};

/** The stats_read_fn of struct stats_rows @p arg. Thread: any. */
void stats_rows_read(void *arg, unsigned inst, uint64_t *values);

/**
 * Give @p r @p n zeroed rows of r->width values and add @p src to the
 * registry reading them (src->read, ->arg and ->ninst are set). Returns
 * 0, or -ENOMEM or stats_add()'s error (-EEXIST is no error), with
 * nothing kept. Thread: control (a module's start).
 */
int stats_rows_add(struct stats_source *src, struct stats_rows *r, unsigned n);

/** Remove @p src and free @p r's rows (NULL-safe when never added).
 * Thread: control, after the writers stopped. */
void stats_rows_remove(struct stats_source *src, struct stats_rows *r);

/** Row @p i of @p r, or NULL (no rows, or @p i past them). Thread: any. */
uint64_t *stats_rows_row(const struct stats_rows *r, unsigned i);

/** Add one to the counter @p p (its one writer). */
static inline void stats_inc(uint64_t *p)
{
	__atomic_store_n(p, *p + 1, __ATOMIC_RELAXED);
}

/** Set the gauge @p p to @p v (its one writer). */
static inline void stats_set(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

/** The most histograms one source may have. */
#define STATS_MAX_HISTS 4

/**
 * Add @p src to the registry (a module does it when it starts).
 * Errors: -EINVAL (no read function, no items, too many items or
 * histograms, histograms without read_hists),
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
 * values, one per item, and its histograms, one per src->hists.
 */
typedef void stats_each_fn(void *ctx, const struct stats_source *src,
			   unsigned inst, const uint64_t *values,
			   const struct stats_hist *hists);

/**
 * Call @p each for every instance of every source, in the order the
 * sources were added. The registry is locked meanwhile: @p each must not
 * call stats_add() or stats_remove(). Thread: any.
 */
void stats_foreach(stats_each_fn *each, void *ctx);

/**
 * Log every source at @p level, one line per instance:
 * "shard 0: rx_msgs=12 tx_msgs=10 ... requests[INVITE]=2 ...",
 * "registrar: registers=3 ...". Labelled items are logged when not 0;
 * a histogram as NAME_count=N NAME_sum_ms=M.
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
