/* tests/unit/features/b2b/test_b2b_conf.c - config: the b2b: section */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "features/b2b/b2b_conf.h"
#include "proxy/core/conf.h"
#include "tests/unit/conftest.h"

static struct conf *c;
static char err[512];

static void setup(void)
{
	conftest_init(&c, err, sizeof(err));
}

TestSuite(b2b_conf, .init = setup, .fini = conftest_fini, .timeout = 10);

static uint16_t port_of(const struct b2b_conf *bc)
{
	if (bc->addr.ss_family == AF_INET6)
		return ntohs(
		    ((const struct sockaddr_in6 *)&bc->addr)->sin6_port);
	return ntohs(((const struct sockaddr_in *)&bc->addr)->sin_port);
}

Test(b2b_conf, defaults_two_workers_on_a_free_loopback_port)
{
	const struct b2b_conf *bc;

	cr_assert_eq(conf_load(NULL, &c, err, sizeof(err)), 0, "%s", err);
	bc = b2b_conf(c);
	cr_assert_eq(bc->workers, 2);
	cr_assert_str_eq(bc->listen, "127.0.0.1:0");
	cr_assert_eq(bc->addr.ss_family, AF_INET);
	cr_assert_eq(port_of(bc), 0);
	cr_assert_eq(bc->rel100, B2B_100REL_SUPPORTED);
	cr_assert_eq(bc->answer_guard_s, 20);
	conf_free(c);
	c = NULL;
	/* An empty b2b: mapping is the defaults too. */
	cr_assert_eq(conftest_load("b2b: {}\n"), 0, "%s", err);
	cr_assert_eq(b2b_conf(c)->workers, 2);
}

Test(b2b_conf, full_section)
{
	const struct b2b_conf *bc;

	cr_assert_eq(conftest_load("b2b:\n"
				   "  workers: 4\n"
				   "  listen: \"[::1]:5090\"\n"
				   "  100rel: peer_supported\n"
				   "  answer_guard_s: 7\n"),
		     0, "%s", err);
	bc = b2b_conf(c);
	cr_assert_eq(bc->workers, 4);
	cr_assert_str_eq(bc->listen, "[::1]:5090");
	cr_assert_eq(bc->addr.ss_family, AF_INET6);
	cr_assert_eq(port_of(bc), 5090);
	cr_assert_eq(bc->rel100, B2B_100REL_PEER_SUPPORTED);
	cr_assert_str_eq(b2b_100rel_name(bc->rel100), "peer_supported");
	cr_assert_eq(bc->answer_guard_s, 7);
}

Test(b2b_conf, every_100rel_mode_loads)
{
	static const char *const modes[] = { "no", "supported", "required",
					     "peer_supported" };
	char text[64];

	for (unsigned i = 0; i < 4; i++) {
		snprintf(text, sizeof(text), "b2b:\n  100rel: %s\n", modes[i]);
		cr_assert_eq(conftest_load(text), 0, "%s", err);
		cr_assert_eq(b2b_conf(c)->rel100, (enum b2b_100rel)i);
		cr_assert_str_eq(b2b_100rel_name(b2b_conf(c)->rel100),
				 modes[i]);
		conf_free(c);
		c = NULL;
	}
}

Test(b2b_conf, workers_zero_turns_the_pool_off)
{
	cr_assert_eq(conftest_load("b2b:\n  workers: 0\n"), 0, "%s", err);
	cr_assert_eq(b2b_conf(c)->workers, 0);
	/* The other keys keep their defaults. */
	cr_assert_eq(b2b_conf(c)->answer_guard_s, 20);
}

Test(b2b_conf, bad_values_name_key_and_line)
{
	conftest_expect_error("b2b:\n  workers: 17\n",
			      "t.yaml:2: ", "out of range");
	conftest_expect_error("b2b:\n  workers: -1\n",
			      "t.yaml:2: ", "b2b.workers");
	conftest_expect_error("b2b:\n  workers: two\n",
			      "t.yaml:2: ", "b2b.workers");
	conftest_expect_error("\nb2b:\n  100rel: yes\n",
			      "t.yaml:3: ", "not one of");
	conftest_expect_error("b2b:\n  answer_guard_s: 0\n",
			      "t.yaml:2: ", "out of range");
	conftest_expect_error("b2b:\n  listen: 10.0.0.1:5090\n",
			      "t.yaml:2: ", "not a loopback address");
	conftest_expect_error("b2b:\n  listen: \"0.0.0.0:0\"\n",
			      "t.yaml:2: ", "not a loopback address");
	conftest_expect_error("b2b:\n  listen: localhost:5090\n",
			      "t.yaml:2: ", "not HOST:PORT");
	conftest_expect_error("b2b:\n  listen: \"127.0.0.1:65536\"\n",
			      "t.yaml:2: ", "not HOST:PORT");
	conftest_expect_error("b2b:\n  listen: \"::1:5090\"\n",
			      "t.yaml:2: ", "not HOST:PORT");
	conftest_expect_error("b2b:\n  listen: \"127.0.0.1\"\n",
			      "t.yaml:2: ", "not HOST:PORT");
	conftest_expect_error("b2b:\n  listen: \"127.0.0.1:\"\n",
			      "t.yaml:2: ", "not HOST:PORT");
	conftest_expect_error("b2b:\n  bogus: 1\n", "t.yaml:2: ", "bogus");
	conftest_expect_error("b2b: [1]\n", "t.yaml:1: ", "b2b");
}

Test(b2b_conf, addr_parse_takes_loopback_only)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;

	cr_assert_eq(b2b_conf_addr_parse("127.0.0.1:0", &ss, &len), 0);
	cr_assert_eq(len, sizeof(struct sockaddr_in));
	cr_assert_eq(b2b_conf_addr_parse("127.9.8.7:65535", &ss, &len), 0);
	cr_assert_eq(ntohs(((struct sockaddr_in *)&ss)->sin_port), 65535);
	cr_assert_eq(b2b_conf_addr_parse("[::1]:1", &ss, &len), 0);
	cr_assert_eq(len, sizeof(struct sockaddr_in6));
	cr_assert_eq(b2b_conf_addr_parse("192.168.1.1:5060", &ss, &len),
		     -EPERM);
	cr_assert_eq(b2b_conf_addr_parse("[::]:5060", &ss, &len), -EPERM);
	cr_assert_eq(b2b_conf_addr_parse("[::ffff:127.0.0.1]:5060", &ss, &len),
		     -EPERM);
	cr_assert_eq(b2b_conf_addr_parse("127.0.0.1:+1", &ss, &len), -EINVAL);
	cr_assert_eq(b2b_conf_addr_parse("127.0.0.1:1x", &ss, &len), -EINVAL);
	cr_assert_eq(b2b_conf_addr_parse("[::1:5060", &ss, &len), -EINVAL);
	cr_assert_eq(b2b_conf_addr_parse(":5060", &ss, &len), -EINVAL);
	cr_assert_eq(b2b_conf_addr_parse("", &ss, &len), -EINVAL);
}

Test(b2b_conf, domains_set_100rel_per_served_domain)
{
	const struct b2b_conf *bc;

	cr_assert_eq(conftest_load("domains: [example.com, example.org]\n"
				   "b2b:\n"
				   "  100rel: no\n"
				   "  domains:\n"
				   "    - domain: Example.COM\n"
				   "      100rel: required\n"
				   "    - domain: example.org\n"),
		     0, "%s", err);
	bc = b2b_conf(c);
	cr_assert_eq(bc->ndomains, 2);
	cr_assert_str_eq(bc->domains[0].domain, "example.com");
	cr_assert_eq(b2b_100rel_for(c, slice_cstr("EXAMPLE.com")),
		     B2B_100REL_REQUIRED);
	/* An entry without 100rel, and a domain without an entry: the
	 * global mode. */
	cr_assert_eq(b2b_100rel_for(c, slice_cstr("example.org")),
		     B2B_100REL_NO);
	cr_assert_eq(b2b_100rel_for(c, slice_cstr("other.net")), B2B_100REL_NO);
	cr_assert_eq(b2b_100rel_for(c, slice_make(NULL, 0)), B2B_100REL_NO);
}

Test(b2b_conf, bad_domains_are_refused)
{
	conftest_expect_error("b2b:\n  domains:\n    - domain: example.org\n",
			      "t.yaml: ", "not one of the served domains");
	conftest_expect_error("b2b:\n  domains:\n    - domain: localhost\n"
			      "    - domain: LOCALHOST\n",
			      "t.yaml: ", "given twice");
	conftest_expect_error("b2b:\n  domains:\n    - domain: localhost\n"
			      "      100rel: sometimes\n",
			      "t.yaml:4: ", "not one of");
	conftest_expect_error("b2b:\n  domains:\n    - 100rel: no\n",
			      "t.yaml:3: ", "domain");
}

Test(b2b_conf, media_ports_and_sounds)
{
	const struct b2b_conf *bc;

	cr_assert_eq(conf_load(NULL, &c, err, sizeof(err)), 0, "%s", err);
	bc = b2b_conf(c);
	cr_assert_eq(bc->media_port_min, 20000);
	cr_assert_eq(bc->media_port_max, 29999);
	cr_assert_null(bc->media_sounds);
	conf_free(c);
	c = NULL;
	cr_assert_eq(conftest_load("b2b:\n"
				   "  media:\n"
				   "    ports: 30001-30003\n"
				   "    sounds: /srv/sounds\n"),
		     0, "%s", err);
	bc = b2b_conf(c);
	cr_assert_eq(bc->media_port_min, 30001);
	cr_assert_eq(bc->media_port_max, 30003);
	cr_assert_str_eq(bc->media_sounds, "/srv/sounds");
}

Test(b2b_conf, bad_media_ports_name_key_and_line)
{
	uint16_t a, b;

	conftest_expect_error("b2b:\n  media:\n    ports: 20000\n",
			      "t.yaml:3: ", "b2b.media.ports");
	conftest_expect_error("b2b:\n  media:\n    ports: 30000-20000\n",
			      "t.yaml:3: ", "FIRST-LAST");
	conftest_expect_error("b2b:\n  media:\n    ports: 20001-20001\n",
			      "t.yaml:3: ", "even port");
	conftest_expect_error("b2b:\n  media:\n    ports: 80-1000\n",
			      "t.yaml:3: ", "1024..65535");
	conftest_expect_error("b2b:\n  media:\n    ports: 20000-70000\n",
			      "t.yaml:3: ", "b2b.media.ports");
	conftest_expect_error("b2b:\n  media:\n    ports: \"20000 - 20010\"\n",
			      "t.yaml:3: ", "b2b.media.ports");
	conftest_expect_error("b2b:\n  media:\n    bogus: 1\n",
			      "t.yaml:3: ", "bogus");
	cr_assert_eq(b2b_conf_ports_parse("1024-1025", &a, &b), 0);
	cr_assert_eq(b2b_conf_ports_parse("1025-1025", &a, &b), -EINVAL);
	cr_assert_eq(b2b_conf_ports_parse("-2000", &a, &b), -EINVAL);
	cr_assert_eq(b2b_conf_ports_parse("2000-", &a, &b), -EINVAL);
	cr_assert_eq(b2b_conf_ports_parse("", &a, &b), -EINVAL);
}
