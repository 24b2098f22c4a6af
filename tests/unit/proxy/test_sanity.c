/* tests/unit/proxy/test_sanity.c - request validation */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "proxy/base/arena.h"
#include "proxy/base/obj.h"
#include "proxy/sanity.h"
#include "proxy/sip/msg.h"
#include "tests/common/corpus.h"
#include "tests/unit/msgin.h"
#include "tests/common/teardown.h"

#define MAXH 64

static struct sipmsg m;
static struct siphdr hdrs[MAXH];
static int parsed;

TestSuite(sanity, .init = msgin_init, .fini = msgin_fini, .timeout = 10);

static void parse_len(const char *text, size_t len)
{
	parsed = sipmsg_parse(&m, msgin_copy(text, len), len, hdrs, MAXH, 0);
}

static void parse_corpus(const char *rel)
{
	char *data;
	size_t len;

	cr_assert_eq(corpus_read(rel, &data, &len), 0, "%s", rel);
	parse_len(data, len);
	free(data);
}

/* A request built around @p lines (the headers that vary). */
static void parse_req(const char *start, const char *lines)
{
	char buf[1024];
	int n;

	n = snprintf(buf, sizeof(buf),
		     "%s\r\n"
		     "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKs1\r\n"
		     "From: <sip:a@example.net>;tag=1\r\n"
		     "To: <sip:b@example.com>\r\n"
		     "Call-ID: sanity@x\r\n"
		     "%s"
		     "Content-Length: 0\r\n"
		     "\r\n",
		     start, lines);
	cr_assert(n > 0 && (size_t)n < sizeof(buf));
	parse_len(buf, (size_t)n);
}

static struct sanity_verdict check(bool for_us)
{
	struct sanity_verdict v;

	cr_assert_eq(sanity_check(&m, parsed, for_us, msgin_arena, &v), 0);
	if (v.status == 0) {
		cr_assert_null(v.reason);
		cr_assert_eq(v.extra.len, 0);
	} else {
		cr_assert_not_null(v.reason);
	}
	return v;
}

Test(sanity, a_plain_request_goes_on)
{
	parse_req("INVITE sip:b@example.com SIP/2.0",
		  "CSeq: 1 INVITE\r\nMax-Forwards: 70\r\n");
	cr_assert_eq(check(false).status, 0);
}

Test(sanity, missing_max_forwards_is_allowed)
{
	parse_req("INVITE sip:b@example.com SIP/2.0", "CSeq: 1 INVITE\r\n");
	cr_assert_eq(m.max_forwards, -1);
	cr_assert_eq(check(false).status, 0);
}

Test(sanity, other_sip_version_is_505)
{
	struct sanity_verdict v;

	parse_corpus("rfc4475/invalid/badvers.dat");
	v = check(false);
	cr_assert_eq(v.status, 505);
	cr_assert_str_eq(v.reason, "Version Not Supported");
}

Test(sanity, parser_fault_is_400_with_the_fault_as_reason)
{
	struct sanity_verdict v;

	parse_req("INVITE sip:b@example.com SIP/2.0",
		  "CSeq: 1 INVITE\r\nCSeq: 2 INVITE\r\n");
	cr_assert_lt(parsed, 0);
	cr_assert_not_null(m.fault);
	v = check(false);
	cr_assert_eq(v.status, 400);
	cr_assert_eq(v.reason, m.fault);
}

Test(sanity, cseq_method_mismatch_is_400)
{
	struct sanity_verdict v;

	parse_corpus("rfc4475/invalid/mismatch01.dat");
	v = check(false);
	cr_assert_eq(v.status, 400);
}

Test(sanity, unknown_method_with_mismatched_cseq_is_501)
{
	struct sanity_verdict v;

	parse_corpus("rfc4475/invalid/mismatch02.dat");
	v = check(false);
	cr_assert_eq(v.status, 501);
	cr_assert_str_eq(v.reason, "Not Implemented");
	/* The same unknown method with a matching CSeq goes on. */
	parse_req("NEWMETHOD sip:b@example.com SIP/2.0",
		  "CSeq: 8 NEWMETHOD\r\n");
	cr_assert_eq(check(false).status, 0);
}

Test(sanity, unknown_ruri_scheme_is_416_and_tel_is_fine)
{
	struct sanity_verdict v;

	parse_corpus("rfc4475/valid/unkscm.dat");
	v = check(false);
	cr_assert_eq(v.status, 416);
	cr_assert_str_eq(v.reason, "Unsupported URI Scheme");
	parse_corpus("rfc4475/valid/novelsc.dat");
	cr_assert_eq(check(false).status, 416);
	parse_req("INVITE tel:+15551234567 SIP/2.0", "CSeq: 1 INVITE\r\n");
	cr_assert_eq(check(false).status, 0);
	parse_req("INVITE sips:b@example.com SIP/2.0", "CSeq: 1 INVITE\r\n");
	cr_assert_eq(check(false).status, 0);
}

Test(sanity, zero_max_forwards_is_483_unless_options_for_us)
{
	struct sanity_verdict v;

	parse_corpus("rfc4475/valid/zeromf.dat");
	v = check(false);
	cr_assert_eq(v.status, 483);
	cr_assert_str_eq(v.reason, "Too Many Hops");
	cr_assert_eq(check(true).status, 0);
	parse_req("INVITE sip:example.com SIP/2.0",
		  "CSeq: 1 INVITE\r\nMax-Forwards: 0\r\n");
	cr_assert_eq(check(true).status, 483);
	parse_req("INVITE sip:example.com SIP/2.0",
		  "CSeq: 1 INVITE\r\nMax-Forwards: 1\r\n");
	cr_assert_eq(check(false).status, 0);
}

Test(sanity, proxy_require_is_420_listing_exactly_its_values)
{
	struct sanity_verdict v;
	static const char want[] = "Unsupported: noProxiesSupportThis, "
				   "norDoAnyProxiesSupportThis\r\n";

	parse_corpus("rfc4475/valid/bext01.dat");
	v = check(false);
	cr_assert_eq(v.status, 420);
	cr_assert_str_eq(v.reason, "Bad Extension");
	cr_assert_eq(v.extra.len, strlen(want), "%.*s", (int)v.extra.len,
		     v.extra.p);
	cr_assert(memcmp(v.extra.p, want, v.extra.len) == 0);
}

Test(sanity, proxy_require_values_from_every_header)
{
	struct sanity_verdict v;
	static const char want[] = "Unsupported: 100rel, x, y\r\n";

	parse_req("INVITE sip:b@example.com SIP/2.0",
		  "CSeq: 1 INVITE\r\nProxy-Require: 100rel\r\n"
		  "Require: timer\r\nProxy-Require: x,y\r\n");
	v = check(false);
	cr_assert_eq(v.status, 420);
	cr_assert_eq(v.extra.len, strlen(want), "%.*s", (int)v.extra.len,
		     v.extra.p);
	cr_assert(memcmp(v.extra.p, want, v.extra.len) == 0);
}

Test(sanity, require_alone_is_for_the_uas)
{
	parse_req("INVITE sip:b@example.com SIP/2.0",
		  "CSeq: 1 INVITE\r\nRequire: nothingSupportsThis\r\n");
	cr_assert_eq(check(false).status, 0);
}

Test(sanity, a_response_is_not_checked)
{
	struct sanity_verdict v;

	parse_corpus("rfc4475/valid/noreason.dat");
	cr_assert_eq(sanity_check(&m, parsed, false, msgin_arena, &v), -EINVAL);
}

Test(sanity, option_table_drives_supported_and_proxy_require)
{
	const struct sanity_option *opt;
	unsigned n, adv = 0;
	char buf[128];
	int len;

	opt = sanity_options(&n);
	cr_assert_gt(n, 0);
	len = sanity_supported_print(buf, sizeof(buf));
	cr_assert_gt(len, 0);
	for (unsigned i = 0; i < n; i++) {
		cr_assert_eq(sanity_proxy_supports(slice_cstr(opt[i].tag)),
			     opt[i].proxy_require, "%s", opt[i].tag);
		if (!opt[i].advertise)
			continue;
		adv++;
		cr_assert_not_null(
		    memmem(buf, (size_t)len, opt[i].tag, strlen(opt[i].tag)),
		    "%s", opt[i].tag);
	}
	/* "a, b, c": one separator fewer than tags. */
	cr_assert_eq(len, (int)strlen("path, outbound, gruu, 100rel"));
	cr_assert(memcmp(buf, "path, outbound, gruu, 100rel", (size_t)len) ==
		  0);
	cr_assert_eq(adv, 4);
	cr_assert_eq(sanity_supported_print(buf, 5), -ENOSPC);
	cr_assert(!sanity_proxy_supports(SLICE_LIT("noProxiesSupportThis")));
}
