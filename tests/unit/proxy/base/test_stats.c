/* tests/unit/proxy/base/test_stats.c - the counters registry */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "proxy/base/stats.h"

TestSuite(stats, .timeout = 10);

static const struct stats_item items[] = {
	{ "rx", "received", false },
	{ "live", "alive now", true },
};

/* Instance i reads (10 * (i + 1), i) from the counters at arg. */
static void read_two(void *arg, unsigned inst, uint64_t *v)
{
	const uint64_t *base = arg;

	v[0] = base[0] * (inst + 1);
	v[1] = inst;
}

struct seen {
	unsigned n;
	char module[4][16];
	unsigned inst[4];
	uint64_t v0[4];
};

static void collect(void *ctx, const struct stats_source *src, unsigned inst,
		    const uint64_t *values, const struct stats_hist *hists)
{
	(void)hists;
	struct seen *s = ctx;

	if (s->n >= 4)
		return;
	strncpy(s->module[s->n], src->module, sizeof(s->module[0]) - 1);
	s->inst[s->n] = inst;
	s->v0[s->n] = values[0];
	s->n++;
}

Test(stats, reads_every_instance_of_every_source_in_order)
{
	uint64_t a = 10, b = 7;
	struct stats_source sa = { .module = "aaa",
				   .items = items,
				   .nitems = 2,
				   .ninst = 2,
				   .label = "shard",
				   .read = read_two,
				   .arg = &a };
	struct stats_source sb = { .module = "bbb",
				   .items = items,
				   .nitems = 1,
				   .ninst = 1,
				   .read = read_two,
				   .arg = &b };
	struct seen s = { 0 };

	cr_assert_eq(stats_add(&sa), 0);
	cr_assert_eq(stats_add(&sb), 0);
	cr_assert_eq(stats_add(&sa), -EEXIST);
	stats_foreach(collect, &s);
	cr_assert_eq(s.n, 3);
	cr_expect_str_eq(s.module[0], "aaa");
	cr_expect_eq(s.inst[1], 1);
	cr_expect_eq(s.v0[1], 20);
	cr_expect_str_eq(s.module[2], "bbb");
	cr_expect_eq(s.v0[2], 7);

	/* Removed sources are no longer read; a counter change shows. */
	stats_remove(&sa);
	b = 9;
	memset(&s, 0, sizeof(s));
	stats_foreach(collect, &s);
	cr_assert_eq(s.n, 1);
	cr_expect_eq(s.v0[0], 9);
	stats_remove(&sb);
	stats_remove(&sb); /* twice is allowed */
	memset(&s, 0, sizeof(s));
	stats_foreach(collect, &s);
	cr_expect_eq(s.n, 0);
}

Test(stats, refuses_a_source_it_cannot_read)
{
	struct stats_source none = {
		.module = "x", .items = items, .nitems = 1, .ninst = 1
	};
	struct stats_source empty = { .module = "x",
				      .items = items,
				      .nitems = 0,
				      .ninst = 1,
				      .read = read_two };
	struct stats_source big = { .module = "x",
				    .items = items,
				    .nitems = STATS_MAX_ITEMS + 1,
				    .ninst = 1,
				    .read = read_two };

	cr_expect_eq(stats_add(NULL), -EINVAL);
	cr_expect_eq(stats_add(&none), -EINVAL);
	cr_expect_eq(stats_add(&empty), -EINVAL);
	cr_expect_eq(stats_add(&big), -EINVAL);
}

Test(stats, refuses_more_sources_than_it_holds)
{
	static struct stats_source many[40];
	uint64_t a = 1;
	unsigned added = 0;
	int err = 0;

	for (unsigned i = 0; i < 40; i++) {
		many[i] = (struct stats_source){ .module = "m",
						 .items = items,
						 .nitems = 1,
						 .ninst = 1,
						 .read = read_two,
						 .arg = &a };
		err = stats_add(&many[i]);
		if (err)
			break;
		added++;
	}
	cr_expect_eq(err, -ENOSPC);
	cr_expect_gt(added, 8);
	for (unsigned i = 0; i < 40; i++)
		stats_remove(&many[i]);
	cr_expect_eq(stats_add(&many[0]), 0);
	stats_remove(&many[0]);
}

Test(stats, hist_puts_a_value_in_the_first_bucket_that_holds_it)
{
	struct stats_hist h, sum;

	memset(&h, 0, sizeof(h));
	/* Bounds are inclusive ("le"): 500 us is in the 0.5 ms bucket. */
	stats_hist_observe(&h, 0);
	stats_hist_observe(&h, 500);
	stats_hist_observe(&h, 501);
	stats_hist_observe(&h, 60000000);
	stats_hist_observe(&h, 60000001);
	cr_expect_eq(h.bucket[0], 2);
	cr_expect_eq(h.bucket[1], 1);
	cr_expect_eq(h.bucket[STATS_HIST_BOUNDS - 1], 1);
	cr_expect_eq(h.bucket[STATS_HIST_BOUNDS], 1, "past 60 s: +Inf");
	cr_expect_eq(h.sum_us, 0 + 500 + 501 + 60000000ULL + 60000001ULL);
	cr_expect_eq(stats_hist_count(&h), 5);

	/* Shards add up bucket by bucket. */
	memset(&sum, 0, sizeof(sum));
	stats_hist_add(&sum, &h);
	stats_hist_add(&sum, &h);
	cr_expect_eq(sum.bucket[0], 4);
	cr_expect_eq(sum.bucket[STATS_HIST_BOUNDS], 2);
	cr_expect_eq(stats_hist_count(&sum), 10);
	cr_expect_eq(sum.sum_us, 2 * h.sum_us);
}

Test(stats, hist_bounds_ascend)
{
	for (unsigned i = 1; i < STATS_HIST_BOUNDS; i++)
		cr_expect_gt(stats_hist_bounds_us[i],
			     stats_hist_bounds_us[i - 1]);
}

static void read_hist(void *arg, unsigned inst, struct stats_hist *h)
{
	(void)arg;
	stats_hist_observe(&h[0], 1000 * (inst + 1));
}

struct hseen {
	unsigned n;
	uint64_t count[4], sum[4];
};

static void collect_hist(void *ctx, const struct stats_source *src,
			 unsigned inst, const uint64_t *values,
			 const struct stats_hist *hists)
{
	struct hseen *s = ctx;

	(void)src;
	(void)values;
	if (s->n >= 4)
		return;
	s->count[inst] = stats_hist_count(&hists[0]);
	s->sum[inst] = hists[0].sum_us;
	s->n++;
}

Test(stats, hands_each_instance_its_histograms)
{
	static const struct stats_item hist = { "lat_seconds", "latency",
						false };
	uint64_t a = 1;
	struct stats_source src = { .module = "hh",
				    .items = items,
				    .nitems = 1,
				    .ninst = 2,
				    .label = "shard",
				    .read = read_two,
				    .arg = &a,
				    .hists = &hist,
				    .nhists = 1,
				    .read_hists = read_hist };
	struct stats_source no_reader = src;
	struct hseen s = { 0 };

	no_reader.read_hists = NULL;
	cr_expect_eq(stats_add(&no_reader), -EINVAL);
	cr_assert_eq(stats_add(&src), 0);
	stats_foreach(collect_hist, &s);
	stats_remove(&src);
	cr_assert_eq(s.n, 2);
	/* Each instance starts from zero: no carry-over between them. */
	cr_expect_eq(s.count[0], 1);
	cr_expect_eq(s.count[1], 1);
	cr_expect_eq(s.sum[0], 1000);
	cr_expect_eq(s.sum[1], 2000);
}

Test(stats, rows_read_gives_each_instance_its_row)
{
	uint64_t t[2][3] = { { 1, 2, 3 }, { 0, 0, 0 } };
	struct stats_rows r = { .base = &t[0][0], .width = 3 };
	uint64_t v[3];

	stats_inc(&t[1][0]);
	stats_inc(&t[1][0]);
	stats_set(&t[1][2], 7);
	stats_rows_read(&r, 0, v);
	cr_assert(v[0] == 1 && v[1] == 2 && v[2] == 3);
	stats_rows_read(&r, 1, v);
	cr_assert(v[0] == 2 && v[1] == 0 && v[2] == 7);
	r.base = NULL;
	stats_rows_read(&r, 1, v);
	cr_assert(v[0] == 0 && v[1] == 0 && v[2] == 0);
}

Test(stats, rows_add_registers_zeroed_rows_and_remove_frees_them)
{
	static const struct stats_item row_items[] = { { "a", "a", false },
						       { "b", "b", true } };
	struct stats_source src = { .module = "rowstest",
				    .items = row_items,
				    .nitems = 2,
				    .label = "shard" };
	struct stats_rows r = { .width = 2 };
	uint64_t v[2];

	cr_assert_eq(stats_rows_add(&src, &r, 3), 0);
	cr_assert_eq(src.ninst, 3);
	cr_assert_not_null(stats_rows_row(&r, 2));
	cr_assert_null(stats_rows_row(&r, 3));
	stats_inc(&stats_rows_row(&r, 2)[0]);
	stats_set(&stats_rows_row(&r, 2)[1], 5);
	src.read(src.arg, 2, v);
	cr_assert(v[0] == 1 && v[1] == 5);
	src.read(src.arg, 0, v);
	cr_assert(v[0] == 0 && v[1] == 0);
	stats_rows_remove(&src, &r);
	cr_assert_null(stats_rows_row(&r, 0));
}
