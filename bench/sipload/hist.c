/* bench/sipload/hist.c - log-bucket latency histogram (HDR style) */
#include "bench/sipload/hist.h"

#include <math.h>

#define SUB (1u << HIST_SUB_BITS)

unsigned hist_bucket(uint64_t v)
{
	unsigned msb;
	unsigned shift;
	unsigned idx;

	if (v < 2 * SUB)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	shift = msb - HIST_SUB_BITS;
	idx = (shift + 1) * SUB + (unsigned)((v >> shift) - SUB);
	return idx < HIST_BUCKETS ? idx : HIST_BUCKETS - 1;
}

uint64_t hist_bucket_high(unsigned idx)
{
	unsigned shift;
	uint64_t sub;

	if (idx < 2 * SUB)
		return idx;
	shift = idx / SUB - 1;
	sub = idx % SUB + SUB;
	return ((sub + 1) << shift) - 1;
}

void hist_add(struct hist *h, uint64_t v)
{
	if (!h->count || v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->count++;
	h->sum += v;
	h->bucket[hist_bucket(v)]++;
}

void hist_merge(struct hist *into, const struct hist *from)
{
	unsigned i;

	if (!from->count)
		return;
	if (!into->count || from->min < into->min)
		into->min = from->min;
	if (from->max > into->max)
		into->max = from->max;
	into->count += from->count;
	into->sum += from->sum;
	for (i = 0; i < HIST_BUCKETS; i++)
		into->bucket[i] += from->bucket[i];
}

uint64_t hist_percentile(const struct hist *h, double pct)
{
	uint64_t rank;
	uint64_t seen = 0;
	uint64_t v;
	unsigned i;

	if (!h->count)
		return 0;
	if (pct <= 0)
		return h->min;
	if (pct >= 100)
		return h->max;
	/* The smallest value with at least pct % of the values at or below. */
	rank = (uint64_t)ceil(pct / 100.0 * (double)h->count);
	if (rank < 1)
		rank = 1;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen >= rank)
			break;
	}
	if (i == HIST_BUCKETS)
		return h->max;
	v = hist_bucket_high(i);
	if (v > h->max)
		v = h->max;
	if (v < h->min)
		v = h->min;
	return v;
}
