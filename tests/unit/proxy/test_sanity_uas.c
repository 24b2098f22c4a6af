/* tests/unit/proxy/test_sanity_uas.c - request validation: version case, and
 * Require on an OPTIONS the proxy answers itself */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "proxy/base/arena.h"
#include "proxy/base/obj.h"
#include "proxy/core/conf.h"
#include "proxy/pipeline.h"
#include "proxy/sanity.h"
#include "proxy/sip/msg.h"
#include "tests/unit/msgin.h"
#include "tests/common/teardown.h"

#define MAXH 64

static struct sipmsg m;
static struct siphdr hdrs[MAXH];
static int parsed;

TestSuite(sanity_uas, .init = msgin_init, .fini = msgin_fini, .timeout = 10);

/* A request: start line @p start, then the usual headers and @p lines. */
static void parse_req(const char *start, const char *method, const char *lines)
{
	char buf[1024];
	int n;

	n = snprintf(buf, sizeof(buf),
		     "%s\r\n"
		     "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKu1\r\n"
		     "Max-Forwards: 70\r\n"
		     "From: <sip:a@example.net>;tag=1\r\n"
		     "To: <sip:example.com>\r\n"
		     "Call-ID: sanity-uas@x\r\n"
		     "CSeq: 1 %s\r\n"
		     "%s"
		     "Content-Length: 0\r\n"
		     "\r\n",
		     start, method, lines);
	cr_assert(n > 0 && (size_t)n < sizeof(buf));
	parsed = sipmsg_parse(&m, msgin_copy(buf, (size_t)n), (size_t)n, hdrs,
			      MAXH, 0);
}

static struct sanity_verdict check(bool for_us)
{
	struct sanity_verdict v;

	cr_assert_eq(sanity_check(&m, parsed, for_us, msgin_arena, &v), 0);
	return v;
}

static bool extra_is(const struct sanity_verdict *v, const char *line)
{
	return v->extra.len == strlen(line) &&
	       memcmp(v->extra.p, line, v->extra.len) == 0;
}

Test(sanity_uas, version_in_lower_case_is_2_0)
{
	struct sanity_verdict v;

	/* RFC 3261 §7.1: "SIP/2.0" is case-insensitive. */
	parse_req("OPTIONS sip:example.com sip/2.0", "OPTIONS", "");
	cr_assert_geq(parsed, 0);
	v = check(true);
	cr_expect_eq(v.status, 0, "got %u %s", v.status,
		     v.reason ? v.reason : "");
	parse_req("INVITE sip:b@example.com Sip/2.0", "INVITE", "");
	cr_expect_eq(check(false).status, 0);
	/* Another version still gets 505, whatever its case. */
	parse_req("INVITE sip:b@example.com sip/3.0", "INVITE", "");
	cr_expect_eq(check(false).status, 505);
}

Test(sanity_uas, options_for_us_with_unknown_require_is_420)
{
	struct sanity_verdict v;

	parse_req("OPTIONS sip:example.com SIP/2.0", "OPTIONS",
		  "Require: foo, path\r\nRequire: bar\r\n");
	v = check(true);
	cr_assert_eq(v.status, 420);
	cr_assert_str_eq(v.reason, "Bad Extension");
	/* RFC 3261 §8.2.2.3: exactly the tags not understood. */
	cr_assert(extra_is(&v, "Unsupported: foo, bar\r\n"), "extra: %.*s",
		  (int)v.extra.len, v.extra.p);
}

Test(sanity_uas, options_for_us_with_known_require_goes_on)
{
	parse_req("OPTIONS sip:example.com SIP/2.0", "OPTIONS",
		  "Require: PATH, gruu\r\n");
	cr_expect_eq(check(true).status, 0);
}

Test(sanity_uas, require_is_not_the_proxys_business_elsewhere)
{
	/* RFC 4475 §3.3.5: a request the proxy forwards keeps its
	 * Require for the UAS; and OPTIONS to a user is forwarded. */
	parse_req("INVITE sip:b@example.com SIP/2.0", "INVITE",
		  "Require: foo\r\n");
	cr_expect_eq(check(false).status, 0);
	parse_req("OPTIONS sip:b@example.com SIP/2.0", "OPTIONS",
		  "Require: foo\r\n");
	cr_expect_eq(check(false).status, 0);
}

Test(sanity_uas, proxy_require_comes_first)
{
	struct sanity_verdict v;

	parse_req("OPTIONS sip:example.com SIP/2.0", "OPTIONS",
		  "Proxy-Require: pfoo\r\nRequire: rfoo\r\n");
	v = check(true);
	cr_assert_eq(v.status, 420);
	cr_assert(extra_is(&v, "Unsupported: pfoo\r\n"));
}

Test(sanity_uas, core_answers_420_to_options_for_the_proxy)
{
	static struct conf c;
	static char *domains[] = { "example.com" };
	struct pipeline_verdict v;

	memset(&c, 0, sizeof(c));
	c.domains = domains;
	c.ndomains = 1;
	parse_req("OPTIONS sip:example.com SIP/2.0", "OPTIONS",
		  "Require: foo\r\n");
	cr_assert_eq(pipeline_decide(&c, &m, parsed, msgin_arena, &v), 0);
	cr_assert_eq(v.action, PIPELINE_REPLY);
	cr_assert_eq(v.status, 420);
	cr_assert(v.extra.len > 0 &&
		  memmem(v.extra.p, v.extra.len, "Unsupported: foo\r\n", 18));
}
