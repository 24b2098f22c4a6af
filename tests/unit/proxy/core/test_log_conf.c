/* tests/unit/proxy/core/test_log_conf.c - the log: section */
#include <criterion/criterion.h>

#include "proxy/core/conf.h"
#include "proxy/core/log_conf.h"
#include "tests/unit/conftest.h"

static struct conf *c;
static char err[512];

static void setup(void)
{
	conftest_init(&c, err, sizeof(err));
}

TestSuite(log_conf, .init = setup, .fini = conftest_fini, .timeout = 10);

Test(log_conf, defaults_are_stderr_without_access_lines)
{
	cr_assert_eq(conftest_load("workers: 1\n"), 0, "%s", err);
	cr_assert_eq(log_conf(c)->target, LOG_TARGET_STDERR);
	cr_assert_not(log_conf(c)->requests);
}

Test(log_conf, keys_are_read)
{
	cr_assert_eq(conftest_load("log_level: debug\n"
				   "log:\n"
				   "  requests: true\n"
				   "  target: journal\n"),
		     0, "%s", err);
	cr_assert_eq(log_conf(c)->target, LOG_TARGET_JOURNAL);
	cr_assert(log_conf(c)->requests);
	cr_assert_eq(c->log_level, LOG_DEBUG);
}

Test(log_conf, bad_values_name_file_and_line)
{
	conftest_expect_error("log:\n  target: file\n", "t.yaml:2: ", "target");
	conftest_expect_error("log:\n  requests: yes please\n",
			      "t.yaml:2: ", "requests");
	conftest_expect_error("log:\n  colour: true\n", "t.yaml:2: ", "colour");
}
