/* tests/unit/proxy/mgmt/test_mgmt_conf.c - config: the management section
 * (listeners, token, limits) */
#include <netinet/in.h>
#include <string.h>

#include <criterion/criterion.h>

#include "proxy/base/err.h"
#include "proxy/core/conf.h"
#include "proxy/mgmt/mgmt_conf.h"
#include "tests/unit/conftest.h"

static struct conf *c;
static char err[512];

static void setup(void)
{
	conftest_init(&c, err, sizeof(err));
}

TestSuite(mgmt_conf, .init = setup, .fini = conftest_fini, .timeout = 10);

Test(mgmt_conf, default_is_loopback_5080_without_token)
{
	const struct mgmt_conf *mc;

	cr_assert_eq(conf_load(NULL, &c, err, sizeof(err)), 0, "%s", err);
	mc = mgmt_conf(c);
	cr_assert_eq(mc->nlisten, 1);
	cr_assert_str_eq(mc->listen[0].text, "127.0.0.1:5080");
	cr_assert_eq(
	    ntohs(((struct sockaddr_in *)&mc->listen[0].addr)->sin_port), 5080);
	cr_assert_null(mc->token);
	cr_assert_eq(mc->max_connections, 64);
	cr_assert_eq(mc->timeout_s, 30);
}

Test(mgmt_conf, empty_listen_turns_it_off)
{
	cr_assert_eq(conftest_load("management:\n  listen: []\n"), 0, "%s",
		     err);
	cr_assert_eq(mgmt_conf(c)->nlisten, 0);
}

Test(mgmt_conf, full_section)
{
	const struct mgmt_conf *mc;

	cr_assert_eq(
	    conftest_load("management:\n"
			  "  listen: [\"[::1]:9000\", \"0.0.0.0:9001\"]\n"
			  "  token: abcdefghijklmnop\n"
			  "  max_connections: 8\n"
			  "  timeout_s: 5\n"),
	    0, "%s", err);
	mc = mgmt_conf(c);
	cr_assert_eq(mc->nlisten, 2);
	cr_assert_eq(mc->listen[0].addr.ss_family, AF_INET6);
	cr_assert_str_eq(mc->token, "abcdefghijklmnop");
	cr_assert_eq(mc->max_connections, 8);
	cr_assert_eq(mc->timeout_s, 5);
}

Test(mgmt_conf, open_listener_without_token_is_an_error)
{
	cr_assert_eq(
	    conftest_load("management:\n  listen: [\"0.0.0.0:5080\"]\n"),
	    ERR_CONFIG);
	cr_assert(strstr(err, "management.token"), "%s", err);
	cr_assert(strstr(err, "0.0.0.0:5080"), "%s", err);
}

Test(mgmt_conf, bad_values_name_their_line)
{
	conftest_expect_error("management:\n  listen: [\"localhost:5080\"]\n",
			      "t.yaml:2:", "not HOST:PORT");
	conftest_expect_error("management:\n  listen: [\"127.0.0.1\"]\n",
			      "t.yaml:2:", "not HOST:PORT");
	conftest_expect_error("management:\n  listen: [\"::1:5080\"]\n",
			      "t.yaml:2:", "not HOST:PORT");
	conftest_expect_error("management:\n  listen: [\"127.0.0.1:70000\"]\n",
			      "t.yaml:2:", "not HOST:PORT");
	conftest_expect_error("management:\n\n  token: short\n", "t.yaml:3:",
			      "too short (5 characters; at least 16)");
	conftest_expect_error("management:\n  token: \"has a space in it!!\"\n",
			      "t.yaml:2:", "printable");
	conftest_expect_error("management:\n  max_connections: 0\n",
			      "t.yaml:2:", "max_connections");
	conftest_expect_error("management:\n  nope: 1\n", "t.yaml:2:", "nope");
}

Test(mgmt_conf, listener_given_twice_is_an_error)
{
	cr_assert_eq(
	    conftest_load("management:\n"
			  "  listen: [\"127.0.0.1:1\", \"127.0.0.1:1\"]\n"),
	    ERR_CONFIG);
	cr_assert(strstr(err, "twice"), "%s", err);
}
