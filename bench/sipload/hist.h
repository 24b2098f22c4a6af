/* bench/sipload/hist.h - log-bucket latency histogram (HDR style) */
#pragma once

#include <stdint.h>

/** Sub-buckets per power of two: relative error at most 1/32. */
#define HIST_SUB_BITS 5
/** Buckets: exact below 64, then 32 per power of two up to 2^40. */
#define HIST_BUCKETS ((40 - HIST_SUB_BITS + 1) * (1 << HIST_SUB_BITS))

/**
 * Counts of values (microseconds here) in logarithmic buckets: values
 * below 64 exactly, above that 32 linear sub-buckets per power of two,
 * so a percentile is within about 3 % of the truth. Values at or above
 * 2^40 are clamped into the last bucket. Exact minimum and maximum are
 * kept. The caller embeds it; zero-initialised is empty.
 * Thread: one writer; hist_merge() after the writer stopped.
 */
struct hist {
	uint64_t count;
	uint64_t min;
	uint64_t max;
	uint64_t sum;
	uint64_t bucket[HIST_BUCKETS];
};

/** The bucket that holds @p v. */
unsigned hist_bucket(uint64_t v);

/** The highest value that falls into bucket @p idx. */
uint64_t hist_bucket_high(unsigned idx);

/** Record one value. */
void hist_add(struct hist *h, uint64_t v);

/** Add every count of @p from into @p into. */
void hist_merge(struct hist *into, const struct hist *from);

/**
 * The value at percentile @p pct (0..100): the upper bound of the bucket
 * holding the rank, never above the exact maximum. 0 when empty.
 */
uint64_t hist_percentile(const struct hist *h, double pct);
