/* tests/unit/proxy/test_dns_conf.c - the dns: section: off without it,
 * every key, checks with FILE:LINE */
#include <string.h>

#include <criterion/criterion.h>

#include "proxy/core/conf.h"
#include "proxy/dns_conf.h"
#include "proxy/proxy_conf.h"
#include "tests/unit/conftest.h"

static struct conf *c;
static char err[512];

static void setup(void)
{
	conftest_init(&c, err, sizeof(err));
}

static void teardown(void)
{
	conftest_fini();
}

TestSuite(dns_conf, .init = setup, .fini = teardown, .timeout = 30);

Test(dns_conf, off_without_the_section_with_the_documented_defaults)
{
	const struct dns_conf *d;

	cr_assert_eq(conftest_load("workers: 1\n"), 0, "%s", err);
	d = dns_conf(c);
	cr_assert(!d->enabled);
	cr_assert_eq(d->timeout_ms, 1000);
	cr_assert_eq(d->attempts, 2);
	cr_assert_eq(d->cache_max, 1024);
	cr_assert(!dns_conf(NULL)->enabled, "no conf: off");
	/* An empty section turns it on with /etc/resolv.conf. */
	conf_free(c);
	c = NULL;
	cr_assert_eq(conftest_load("dns: {}\n"), 0, "%s", err);
	d = dns_conf(c);
	cr_assert(d->enabled);
	cr_assert_str_eq(d->servers, "");
}

Test(dns_conf, every_key)
{
	const struct dns_conf *d;

	cr_assert_eq(conftest_load("dns:\n"
				   "  servers: [\"127.0.0.1:5353\", "
				   "\"[::1]:53\"]\n"
				   "  timeout_ms: 250\n"
				   "  attempts: 3\n"
				   "  cache_max: 100\n"),
		     0, "%s", err);
	d = dns_conf(c);
	cr_assert(d->enabled);
	cr_assert_str_eq(d->servers, "127.0.0.1:5353,[::1]:53");
	cr_assert_eq(d->timeout_ms, 250);
	cr_assert_eq(d->attempts, 3);
	cr_assert_eq(d->cache_max, 100);
}

Test(dns_conf, bad_values_name_their_line)
{
	conftest_expect_error("dns:\n  servers: [\"ns.example:53\"]\n",
			      "t.yaml:2: ", "is not a DNS server address");
	conftest_expect_error("dns:\n  servers: [\"127.0.0.1\"]\n",
			      "t.yaml:2: ", "is not a DNS server address");
	conftest_expect_error("dns:\n  timeout_ms: 5\n",
			      "t.yaml:2: ", "out of range");
	conftest_expect_error("dns:\n  attempts: 0\n",
			      "t.yaml:2: ", "out of range");
	conftest_expect_error("dns:\n  cache_max: 1\n",
			      "t.yaml:2: ", "out of range");
	conftest_expect_error("dns:\n  nameservers: []\n",
			      "t.yaml:2: ", "unknown key");
	conftest_expect_error("dns:\n  servers: []\n",
			      "t.yaml:2: ", "needs at least 1 entry");
}

Test(dns_conf, a_static_next_hop_may_be_a_name)
{
	const struct proxy_conf *pc;

	cr_assert_eq(conftest_load("dns: {}\n"
				   "routes:\n"
				   "  - domain: carrier.example\n"
				   "    next_hop: [\"sip:trunk.test\", "
				   "\"sip:192.0.2.1\"]\n"),
		     0, "%s", err);
	pc = proxy_conf(c);
	cr_assert_eq(pc->routes[0].nnext_hop, 2);
	cr_assert_eq(pc->routes[0].next_hop[0].addrlen, 0);
	cr_assert_str_eq(pc->routes[0].next_hop[0].uri, "sip:trunk.test");
	cr_assert_neq(pc->routes[0].next_hop[1].addrlen, 0);
}
