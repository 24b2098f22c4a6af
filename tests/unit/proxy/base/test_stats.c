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
