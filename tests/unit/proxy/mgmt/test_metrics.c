/* tests/unit/proxy/mgmt/test_metrics.c - the registry as Prometheus text */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "proxy/base/stats.h"
#include "proxy/mgmt/metrics.h"

static char *text;

static void setup(void)
{
	text = NULL;
}

static void teardown(void)
{
	free(text);
}

TestSuite(metrics, .init = setup, .fini = teardown, .timeout = 10);

/* Two shards: a counter, a gauge, a family of two methods. */
static const struct stats_item items[] = {
	{ "rx", "received", false },
	{ "live", "alive now", true },
	{ "requests", "requests by method", false },
	{ "requests", "requests by method", false },
};

static const struct stats_label labels[] = {
	{ NULL, NULL },
	{ NULL, NULL },
	{ "method", "INVITE" },
	{ "method", "BYE" },
};

static const struct stats_item hists[] = {
	{ "lat_seconds", "latency", false },
};

/* Instance i: rx = 10 + i, live = i, INVITE = 100 + i, BYE = 200 + i. */
static void read_four(void *arg, unsigned inst, uint64_t *v)
{
	(void)arg;
	v[0] = 10 + inst;
	v[1] = inst;
	v[2] = 100 + inst;
	v[3] = 200 + inst;
}

/* Shard 0 saw 0.3 ms and 2 ms; shard 1 saw 2 s and 100 s. */
static void read_lat(void *arg, unsigned inst, struct stats_hist *h)
{
	(void)arg;
	if (inst == 0) {
		stats_hist_observe(&h[0], 300);
		stats_hist_observe(&h[0], 2000);
	} else {
		stats_hist_observe(&h[0], 2000000);
		stats_hist_observe(&h[0], 100000000);
	}
}

static const struct stats_source two = {
	.module = "core",
	.items = items,
	.nitems = 4,
	.ninst = 2,
	.label = "shard",
	.read = read_four,
	.labels = labels,
	.hists = hists,
	.nhists = 1,
	.read_hists = read_lat,
};

static const struct stats_source one = {
	.module = "reg",
	.items = items,
	.nitems = 2,
	.ninst = 1,
	.read = read_four,
};

static size_t print(void)
{
	size_t len = 0;

	cr_assert_eq(metrics_print(&text, &len), 0);
	cr_assert_not_null(text);
	cr_assert_eq(strlen(text), len, "NUL inside the page");
	return len;
}

Test(metrics, prints_the_exact_exposition)
{
	static const char want[] =
	    "# HELP sipedge_reg_rx_total received\n"
	    "# TYPE sipedge_reg_rx_total counter\n"
	    "sipedge_reg_rx_total 10\n"
	    "# HELP sipedge_reg_live alive now\n"
	    "# TYPE sipedge_reg_live gauge\n"
	    "sipedge_reg_live 0\n"
	    "# HELP sipedge_core_rx_total received\n"
	    "# TYPE sipedge_core_rx_total counter\n"
	    "sipedge_core_rx_total{shard=\"0\"} 10\n"
	    "sipedge_core_rx_total{shard=\"1\"} 11\n"
	    "# HELP sipedge_core_live alive now\n"
	    "# TYPE sipedge_core_live gauge\n"
	    "sipedge_core_live{shard=\"0\"} 0\n"
	    "sipedge_core_live{shard=\"1\"} 1\n"
	    "# HELP sipedge_core_requests_total requests by method\n"
	    "# TYPE sipedge_core_requests_total counter\n"
	    "sipedge_core_requests_total{shard=\"0\",method=\"INVITE\"} 100\n"
	    "sipedge_core_requests_total{shard=\"1\",method=\"INVITE\"} 101\n"
	    "sipedge_core_requests_total{shard=\"0\",method=\"BYE\"} 200\n"
	    "sipedge_core_requests_total{shard=\"1\",method=\"BYE\"} 201\n"
	    "# HELP sipedge_core_lat_seconds latency\n"
	    "# TYPE sipedge_core_lat_seconds histogram\n"
	    "sipedge_core_lat_seconds_bucket{le=\"0.0005\"} 1\n"
	    "sipedge_core_lat_seconds_bucket{le=\"0.001\"} 1\n"
	    "sipedge_core_lat_seconds_bucket{le=\"0.0025\"} 2\n"
	    "sipedge_core_lat_seconds_bucket{le=\"0.005\"} 2\n"
	    "sipedge_core_lat_seconds_bucket{le=\"0.01\"} 2\n"
	    "sipedge_core_lat_seconds_bucket{le=\"0.025\"} 2\n"
	    "sipedge_core_lat_seconds_bucket{le=\"0.05\"} 2\n"
	    "sipedge_core_lat_seconds_bucket{le=\"0.1\"} 2\n"
	    "sipedge_core_lat_seconds_bucket{le=\"0.25\"} 2\n"
	    "sipedge_core_lat_seconds_bucket{le=\"0.5\"} 2\n"
	    "sipedge_core_lat_seconds_bucket{le=\"1\"} 2\n"
	    "sipedge_core_lat_seconds_bucket{le=\"2.5\"} 3\n"
	    "sipedge_core_lat_seconds_bucket{le=\"5\"} 3\n"
	    "sipedge_core_lat_seconds_bucket{le=\"10\"} 3\n"
	    "sipedge_core_lat_seconds_bucket{le=\"30\"} 3\n"
	    "sipedge_core_lat_seconds_bucket{le=\"60\"} 3\n"
	    "sipedge_core_lat_seconds_bucket{le=\"+Inf\"} 4\n"
	    "sipedge_core_lat_seconds_sum 102.0023\n"
	    "sipedge_core_lat_seconds_count 4\n";

	cr_assert_eq(stats_add(&one), 0);
	cr_assert_eq(stats_add(&two), 0);
	print();
	stats_remove(&one);
	stats_remove(&two);
	cr_expect_str_eq(text, want);
}

Test(metrics, an_empty_registry_is_an_empty_page)
{
	cr_assert_eq(print(), 0);
}

static const struct stats_item odd_items[] = {
	{ "x", "a \\ back\nslash", false },
};

static const struct stats_label odd_labels[] = {
	{ "who", "say \"hi\"\\\n" },
};

Test(metrics, escapes_help_and_label_values)
{
	struct stats_source odd = { .module = "odd",
				    .items = odd_items,
				    .nitems = 1,
				    .ninst = 1,
				    .read = read_four,
				    .labels = odd_labels };

	cr_assert_eq(stats_add(&odd), 0);
	print();
	stats_remove(&odd);
	cr_expect_str_eq(text,
			 "# HELP sipedge_odd_x_total a \\\\ back\\nslash\n"
			 "# TYPE sipedge_odd_x_total counter\n"
			 "sipedge_odd_x_total{who=\"say \\\"hi\\\"\\\\\\n\"} "
			 "10\n");
}
