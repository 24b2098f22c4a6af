/* tests/unit/proxy/test_nat_conf.c - the nat: section: defaults, every
 * key, checks with FILE:LINE */
#include <netinet/in.h>
#include <string.h>

#include <criterion/criterion.h>

#include "proxy/core/conf.h"
#include "proxy/nat_conf.h"
#include "tests/unit/conftest.h"

static struct conf *cc;
static char cerr[512];

static void conf_setup(void)
{
	conftest_init(&cc, cerr, sizeof(cerr));
}

static void conf_teardown(void)
{
	conftest_fini();
}

TestSuite(nat_conf, .init = conf_setup, .fini = conf_teardown, .timeout = 30);

Test(nat_conf, defaults)
{
	const struct nat_conf *nc;

	cr_assert_eq(conftest_load("workers: 1\n"), 0, "%s", cerr);
	nc = nat_conf(cc);
	cr_assert(nc->detect);
	cr_assert_eq(nc->method, NAT_OPTIONS);
	cr_assert_eq(nc->interval_s, 25);
	cr_assert_eq(nc->failures, 3);
	cr_assert_eq(nc->nranges, 5);
	cr_assert_eq(nat_conf(NULL)->interval_s, 25, "no conf: defaults");
}

Test(nat_conf, every_key)
{
	const struct nat_conf *nc;

	cr_assert_eq(
	    conftest_load("nat:\n"
			  "  detect: false\n"
			  "  keepalive:\n"
			  "    method: crlf\n"
			  "    interval_s: 0\n"
			  "    failures: 7\n"
			  "  private_ranges: [10.0.0.0/8, \"fd00::/8\"]\n"),
	    0, "%s", cerr);
	nc = nat_conf(cc);
	cr_assert(!nc->detect);
	cr_assert_eq(nc->method, NAT_CRLF);
	cr_assert_eq(nc->interval_s, 0, "0 is a value: no keep-alives");
	cr_assert_eq(nc->failures, 7);
	cr_assert_eq(nc->nranges, 2);
	cr_assert_eq(nc->ranges[1].family, AF_INET6);
	cr_assert_eq(nc->ranges[1].prefix, 8);
	conf_free(cc);
	cc = NULL;
	cr_assert_eq(conftest_load("nat:\n  private_ranges: []\n"), 0, "%s",
		     cerr);
	cr_assert_eq(nat_conf(cc)->nranges, 0, "an empty list is none");
}

Test(nat_conf, faults_name_file_and_line)
{
	conftest_expect_error("nat:\n"
			      "  private_ranges:\n"
			      "    - 10.0.0.0\n",
			      "t.yaml:3: ", "not an address range");
	conftest_expect_error("nat:\n"
			      "  private_ranges: [10.0.0.0/33]\n",
			      "t.yaml:2: ", "not an address range");
	conftest_expect_error("nat:\n"
			      "  private_ranges: [\"fc00::/129\"]\n",
			      "t.yaml:2: ", "not an address range");
	conftest_expect_error("nat:\n"
			      "  private_ranges: [lan/8]\n",
			      "t.yaml:2: ", "not an address range");
	conftest_expect_error("nat:\n"
			      "  keepalive:\n"
			      "    method: sip\n",
			      "t.yaml:3: ", "method");
	conftest_expect_error("nat:\n"
			      "  keepalive:\n"
			      "    interval_s: 3601\n",
			      "t.yaml:3: ", "interval_s");
	conftest_expect_error("nat:\n"
			      "  keepalive:\n"
			      "    failures: 0\n",
			      "t.yaml:3: ", "failures");
	conftest_expect_error("nat:\n"
			      "  detect: maybe\n",
			      "t.yaml:2: ", "detect");
	conftest_expect_error("nat:\n"
			      "  keepalives: {}\n",
			      "t.yaml:2: ", "keepalives");
}

Test(nat_conf, range_parse)
{
	struct nat_range r;

	cr_assert_eq(nat_range_parse("100.64.0.0/10", &r), 0);
	cr_assert_eq(r.family, AF_INET);
	cr_assert_eq(r.prefix, 10);
	cr_assert_eq(nat_range_parse("0.0.0.0/0", &r), 0);
	cr_assert_lt(nat_range_parse("10.0.0.0/", &r), 0);
	cr_assert_lt(nat_range_parse("/8", &r), 0);
	cr_assert_lt(nat_range_parse("10.0.0.0/-1", &r), 0);
	cr_assert_lt(nat_range_parse("10.0.0.0/8x", &r), 0);
}
