/* tests/unit/proxy/core/test_trace_conf.c - the trace: section */
#include <criterion/criterion.h>

#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "proxy/core/conf.h"
#include "proxy/core/trace_conf.h"
#include "tests/unit/conftest.h"

static struct conf *c;
static char err[512];

static void setup(void)
{
	conftest_init(&c, err, sizeof(err));
}

TestSuite(trace_conf, .init = setup, .fini = conftest_fini, .timeout = 10);

Test(trace_conf, none_without_the_section)
{
	cr_assert_eq(conftest_load("workers: 1\n"), 0, "%s", err);
	cr_assert_not(trace_conf(c)->on);
	/* Nothing to start. */
	cr_assert_eq(trace_conf_apply(c), 0);
}

Test(trace_conf, call_id_to_file)
{
	const struct trace_conf *tc;

	cr_assert_eq(conftest_load("trace:\n"
				   "  call_id: abc@host\n"
				   "  file: /var/log/sipedge/trace.txt\n"),
		     0, "%s", err);
	tc = trace_conf(c);
	cr_assert(tc->on);
	cr_assert_eq(tc->spec.filter, TRACE_CALL_ID);
	cr_assert_str_eq(tc->spec.value, "abc@host");
	cr_assert_str_eq(tc->spec.file, "/var/log/sipedge/trace.txt");
	cr_assert_eq(tc->spec.hep.ss_family, 0);
}

Test(trace_conf, aor_to_hep_with_capture_id)
{
	const struct trace_conf *tc;
	const struct sockaddr_in6 *a6;

	cr_assert_eq(conftest_load("trace:\n"
				   "  aor: alice@example.com\n"
				   "  hep: \"[::1]:9060\"\n"
				   "  capture_id: 2026\n"),
		     0, "%s", err);
	tc = trace_conf(c);
	cr_assert(tc->on);
	cr_assert_eq(tc->spec.filter, TRACE_AOR);
	cr_assert_str_eq(tc->spec.value, "alice@example.com");
	cr_assert_str_eq(tc->spec.file, "");
	cr_assert_eq(tc->spec.hep.ss_family, AF_INET6);
	a6 = (const struct sockaddr_in6 *)&tc->spec.hep;
	cr_assert_eq(ntohs(a6->sin6_port), 9060);
	cr_assert_eq(tc->spec.capture_id, 2026);
}

Test(trace_conf, bad_sections_are_refused)
{
	conftest_expect_error("trace:\n  file: /tmp/t\n", "t.yaml:", "aor");
	conftest_expect_error("trace:\n  call_id: a\n  aor: b@c\n"
			      "  file: /tmp/t\n",
			      "t.yaml:", "aor");
	conftest_expect_error("trace:\n  call_id: a\n", "t.yaml",
			      "give file, hep or both");
	conftest_expect_error("trace:\n  call_id: a\n  file: rel.txt\n",
			      "t.yaml:3: ", "absolute");
	conftest_expect_error("trace:\n  call_id: a\n  hep: collector:9060\n",
			      "t.yaml:3: ", "HOST:PORT");
	conftest_expect_error("trace:\n  call_id: \"a b\"\n  file: /tmp/t\n",
			      "t.yaml", "printable");
	conftest_expect_error("trace:\n  call_id: a\n  colour: red\n",
			      "t.yaml:3: ", "colour");
}

Test(trace_conf, a_file_that_cannot_be_opened_fails_the_start)
{
	cr_assert_eq(conftest_load("trace:\n"
				   "  call_id: a\n"
				   "  file: /nonexistent-dir/trace.txt\n"),
		     0, "%s", err);
	cr_assert_eq(trace_conf_apply(c), -ENOENT);
	/* Nothing runs. */
	cr_assert_eq(trace_stop(NULL), -ENOENT);
}
