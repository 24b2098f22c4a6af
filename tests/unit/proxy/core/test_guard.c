/* tests/unit/proxy/core/test_guard.c - the security: section and the guard */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "proxy/base/stats.h"
#include "proxy/core/conf.h"
#include "proxy/core/guard.h"
#include "proxy/core/guard_conf.h"
#include "proxy/sip/peer.h"
#include "tests/unit/conftest.h"

static struct conf *c;
static char err[512];

static void setup(void)
{
	conftest_init(&c, err, sizeof(err));
}

static void teardown(void)
{
	guard_stop();
	conftest_fini();
}

TestSuite(guard, .init = setup, .fini = teardown, .timeout = 30);

static struct peer from(const char *ip, uint16_t port)
{
	struct peer p;
	struct sockaddr_in *in = (struct sockaddr_in *)&p.addr;

	memset(&p, 0, sizeof(p));
	p.proto = PEER_UDP;
	in->sin_family = AF_INET;
	in->sin_port = htons(port);
	cr_assert_eq(inet_pton(AF_INET, ip, &in->sin_addr), 1);
	p.addrlen = sizeof(*in);
	return p;
}

/* The exempt function main.c would give: 198.51.100.7 is a trunk. */
static bool trunk(const struct conf *cf, const struct peer *p)
{
	struct peer t = from("198.51.100.7", 5060);

	(void)cf;
	return ((const struct sockaddr_in *)&p->addr)->sin_addr.s_addr ==
	       ((const struct sockaddr_in *)&t.addr)->sin_addr.s_addr;
}

Test(guard, defaults_limit_nothing)
{
	const struct guard_conf *gc;
	struct peer a = from("192.0.2.1", 5060);

	cr_assert_eq(conftest_load("workers: 1\n"), 0, "%s", err);
	gc = guard_conf(c);
	cr_assert_eq(gc->rate, 0);
	cr_assert_eq(gc->ban_s, 60);
	cr_assert_eq(gc->global_rate, 0);
	cr_assert_eq(gc->answer_budget, 0);
	cr_assert_eq(gc->table_size, 65536);
	cr_assert_eq(guard_start(c, NULL), 0);
	for (int i = 0; i < 10000; i++)
		cr_assert(guard_admit(c, &a, 100, true));
	cr_assert(guard_answer(c, &a, 100000));
}

Test(guard, section_keys_and_burst_default)
{
	const struct guard_conf *gc;

	cr_assert_eq(
	    conftest_load("security:\n"
			  "  rate: 50\n"
			  "  ban_s: 120\n"
			  "  global_rate: 2000\n"
			  "  answer_budget: 8192\n"
			  "  table_size: 1024\n"
			  "  exempt: [192.0.2.0/24, '2001:db8::/32']\n"),
	    0, "%s", err);
	gc = guard_conf(c);
	cr_assert_eq(gc->rate, 50);
	cr_assert_eq(gc->burst, 50, "burst defaults to the rate");
	cr_assert_eq(gc->ban_s, 120);
	cr_assert_eq(gc->global_rate, 2000);
	cr_assert_eq(gc->answer_budget, 8192);
	cr_assert_eq(gc->table_size, 1024);
	cr_assert_eq(gc->nexempt, 2);
}

Test(guard, bad_values_name_file_and_line)
{
	conftest_expect_error("security:\n  rate: 10\n  exempt: [nonsense]\n",
			      "t.yaml:3:", "CIDR");
	conftest_expect_error("security:\n  ban_s: 0\n", "t.yaml:2:", "ban_s");
	conftest_expect_error("security:\n  table_size: 10\n",
			      "t.yaml:2:", "table_size");
	conftest_expect_error("security:\n  rates: 10\n", "t.yaml:2:", "rates");
}

Test(guard, bans_over_the_rate_once_and_drops_silently)
{
	struct peer a = from("192.0.2.1", 5060), a2 = from("192.0.2.1", 7000);
	struct peer b = from("192.0.2.2", 5060);
	struct guard_ban bans[4];
	int passed = 0;

	cr_assert_eq(conftest_load("security:\n  rate: 5\n  burst: 10\n"
				   "  ban_s: 30\n"),
		     0, "%s", err);
	cr_assert_eq(guard_start(c, NULL), 0);
	cr_assert_eq(guard_start(c, NULL), -EBUSY);
	/* The test runs well within one second: at most burst + a few. */
	for (int i = 0; i < 100; i++)
		passed += guard_admit(c, i % 2 ? &a : &a2, 300, true);
	cr_assert_geq(passed, 10);
	cr_assert_leq(passed, 15);
	cr_assert(guard_admit(c, &b, 300, true), "another source passes");
	cr_assert_eq(guard_list(bans, 4), 1);
	cr_assert_eq(((struct sockaddr_in *)&bans[0].addr)->sin_port, 0);
	cr_assert_eq(((struct sockaddr_in *)&bans[0].addr)->sin_addr.s_addr,
		     ((struct sockaddr_in *)&a.addr)->sin_addr.s_addr);
	cr_assert_leq(bans[0].remaining_s, 30);
	cr_assert_geq(bans[0].remaining_s, 29);
	cr_assert_geq(bans[0].dropped, 80);
	/* Lifted: it passes again, with a full burst. */
	cr_assert_eq(guard_unban((struct sockaddr *)&a.addr), 0);
	cr_assert_eq(guard_unban((struct sockaddr *)&a.addr), -ENOENT);
	cr_assert_eq(guard_list(bans, 4), 0);
	cr_assert(guard_admit(c, &a, 300, true));
}

Test(guard, exempt_sources_are_never_banned)
{
	struct peer t = from("198.51.100.7", 5060);
	struct peer x = from("203.0.113.9", 5060);
	struct guard_ban bans[4];

	cr_assert_eq(conftest_load("security:\n  rate: 5\n"
				   "  exempt: [203.0.113.0/24]\n"),
		     0, "%s", err);
	cr_assert_eq(guard_start(c, trunk), 0);
	for (int i = 0; i < 1000; i++) {
		cr_assert(guard_admit(c, &t, 300, true), "trunk %d", i);
		cr_assert(guard_admit(c, &x, 300, true), "exempt net %d", i);
	}
	cr_assert_eq(guard_list(bans, 4), 0);
}

Test(guard, global_rate_caps_requests_not_responses_nor_exempt)
{
	struct peer t = from("198.51.100.7", 5060);
	int passed = 0;

	cr_assert_eq(conftest_load("security:\n  global_rate: 100\n"), 0, "%s",
		     err);
	cr_assert_eq(guard_start(c, trunk), 0);
	for (uint32_t i = 0; i < 1000; i++) {
		struct peer p = from("10.0.0.1", 5060);

		((struct sockaddr_in *)&p.addr)->sin_addr.s_addr =
		    htonl(0x0a000000u + i);
		passed += guard_admit(c, &p, 300, true);
	}
	/* One second window, maybe two if the test straddles it. */
	cr_assert_geq(passed, 100);
	cr_assert_leq(passed, 200);
	cr_assert(guard_admit(c, &t, 300, true), "a trunk passes the cap");
	cr_assert(guard_admit(c, &t, 300, false));
}

Test(guard, answers_to_strangers_spend_their_bytes)
{
	struct peer a = from("192.0.2.1", 5060);
	struct peer v = from("192.0.2.3", 5060);
	struct peer t = from("198.51.100.7", 5060);
	size_t in = 0, out = 0;

	cr_assert_eq(conftest_load("security:\n  answer_budget: 65536\n"), 0,
		     "%s", err);
	cr_assert_eq(guard_start(c, trunk), 0);
	/* 200 requests of 300 bytes, answers of 450: never more out. */
	for (int i = 0; i < 200; i++) {
		cr_assert(guard_admit(c, &a, 300, true));
		in += 300;
		if (guard_answer(c, &a, 450))
			out += 450;
	}
	cr_assert_leq(out, in);
	cr_assert_geq(out, in - 450);
	/* Vouched (authenticated): not charged. */
	cr_assert(guard_admit(c, &v, 300, true));
	guard_vouch(&v);
	for (int i = 0; i < 100; i++)
		cr_assert(guard_answer(c, &v, 1000));
	/* Exempt: not charged either. */
	cr_assert(guard_admit(c, &t, 10, true));
	cr_assert(guard_answer(c, &t, 5000));
}

Test(guard, counters_in_the_registry)
{
	struct peer a = from("192.0.2.1", 5060);

	cr_assert_eq(conftest_load("security:\n  rate: 1\n"), 0, "%s", err);
	cr_assert_eq(guard_start(c, NULL), 0);
	for (int i = 0; i < 10; i++)
		guard_admit(c, &a, 100, true);
	/* The source exists and reads: stats_log_source does not crash. */
	stats_log(LOG_DEBUG);
}

Test(guard, without_start_everything_passes)
{
	struct peer a = from("192.0.2.1", 5060);
	struct guard_ban b;

	cr_assert_eq(conftest_load("security:\n  rate: 1\n"), 0, "%s", err);
	for (int i = 0; i < 10; i++)
		cr_assert(guard_admit(c, &a, 100, true));
	cr_assert(guard_answer(c, &a, 100000));
	cr_assert_eq(guard_list(&b, 1), 0);
	cr_assert_eq(guard_unban((struct sockaddr *)&a.addr), -ENODEV);
}

/* tcp.max_per_source (the runtime's tcp: keys, issue #15). */
Test(guard, tcp_max_per_source_key)
{
	cr_assert_eq(conftest_load("workers: 1\n"), 0, "%s", err);
	cr_assert_eq(c->tcp.max_per_source, 0, "0: the share of the cap");
	conftest_fini();
	conftest_init(&c, err, sizeof(err));
	cr_assert_eq(conftest_load("tcp:\n  max_per_source: 7\n"), 0, "%s",
		     err);
	cr_assert_eq(c->tcp.max_per_source, 7);
	conftest_fini();
	conftest_init(&c, err, sizeof(err));
	conftest_expect_error("tcp:\n  max_per_source: 0\n",
			      "t.yaml:2:", "max_per_source");
}

/* listen: a wildcard would be written into Via and Record-Route. */
Test(guard, listen_wildcard_is_refused_with_its_line)
{
	conftest_expect_error("workers: 1\nlisten:\n  - address: 0.0.0.0\n",
			      "t.yaml:3:", "wildcard");
	conftest_expect_error("listen:\n  - address: \"::\"\n    port: 5070\n",
			      "t.yaml:2:", "wildcard");
}
