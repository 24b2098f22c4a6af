/* tests/unit/proxy/sip/test_rel.c - RFC 3262 100rel: the policy table,
 * UAS retransmissions on the real timer wheel, PRACK matching, UAC RSeq
 * order, RSeq/RAck parsers */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <urcu/compiler.h>

#include "proxy/base/obj.h"
#include "proxy/base/timer.h"
#include "proxy/sip/msg.h"
#include "proxy/sip/rel.h"
#include "tests/common/guard.h"
#include "tests/common/teardown.h"

#define T1	 500
#define TICK	 10
#define MAX_HDRS 32
#define MAXEV	 32

static struct timer_wheel w;
static uint64_t now;

/* What the engine asked for, and when. */
static uint64_t retx_at[MAXEV];
static unsigned nretx;
static uint64_t timeout_at;
static unsigned ntimeout;
static char last_buf[256];
static size_t last_len;
static bool final_in_retx; /* the retransmit callback calls rel_uas_final */

static void on_retransmit(struct rel_uas *r, const void *buf, size_t len)
{
	cr_assert_lt(nretx, MAXEV);
	cr_assert_lt(len, sizeof(last_buf));
	retx_at[nretx++] = timer_now(&w);
	memcpy(last_buf, buf, len);
	last_len = len;
	if (final_in_retx)
		rel_uas_final(r);
}

static void on_timeout(struct rel_uas *r)
{
	(void)r;
	timeout_at = timer_now(&w);
	ntimeout++;
}

static const struct rel_uas_ops ops = { on_retransmit, on_timeout };

static void setup(void)
{
	now = 0;
	nretx = ntimeout = 0;
	timeout_at = 0;
	last_len = 0;
	final_in_retx = false;
	cr_assert_eq(timer_wheel_init(&w, TICK, 1024, now), 0);
}

static void teardown(void)
{
	teardown_check(timer_count(&w) == 0, "%zu timers left scheduled",
		       timer_count(&w));
	timer_wheel_fini(&w);
	guard_free_kept();
	teardown_check_objs(0);
}

TestSuite(rel, .init = setup, .fini = teardown, .timeout = 10);

/* Advance the wheel in tick steps up to @p until_ms (bounded). */
static void run_to(uint64_t until_ms)
{
	while (now < until_ms) {
		now += TICK;
		timer_advance(&w, now);
	}
}

/* @p text as a slice right before a PROT_NONE page, freed at .fini. */
static struct slice g(const char *text)
{
	size_t len = strlen(text);

	return slice_make(guard_keep(text, len), len);
}

static bool eq(struct slice s, const char *c)
{
	return s.len == strlen(c) && memcmp(s.p, c, s.len) == 0;
}

/* A parsed message; its buffer is guarded and lives until .fini. */
struct pm {
	struct siphdr h[MAX_HDRS];
	struct sipmsg m;
};

static void parse(struct pm *pm, const char *text)
{
	struct slice s = g(text);

	cr_assert_gt(sipmsg_parse(&pm->m, s.p, s.len, pm->h, MAX_HDRS, 0), 0,
		     "parses: %s", text);
}

/* An INVITE (or @p method) request with @p extra header lines. */
static void request(struct pm *pm, const char *method, const char *extra)
{
	char buf[1024];

	snprintf(buf, sizeof(buf),
		 "%s sip:bob@127.0.0.1 SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n"
		 "From: <sip:alice@127.0.0.1>;tag=a1\r\n"
		 "To: <sip:bob@127.0.0.1>\r\n"
		 "Call-ID: rel-1\r\n"
		 "CSeq: 314 %s\r\n"
		 "Max-Forwards: 70\r\n"
		 "%s"
		 "Content-Length: 0\r\n\r\n",
		 method, method, extra);
	parse(pm, buf);
}

/* A response @p status to CSeq 314 INVITE with @p extra header lines. */
static void response(struct pm *pm, unsigned status, const char *extra)
{
	char buf[1024];

	snprintf(buf, sizeof(buf),
		 "SIP/2.0 %u Whatever\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n"
		 "From: <sip:alice@127.0.0.1>;tag=a1\r\n"
		 "To: <sip:bob@127.0.0.1>;tag=b1\r\n"
		 "Call-ID: rel-1\r\n"
		 "CSeq: 314 INVITE\r\n"
		 "%s"
		 "Content-Length: 0\r\n\r\n",
		 status, extra);
	parse(pm, buf);
}

/* Policy. */

Test(rel, policy_table_every_mode_and_request)
{
	static const char *const cols[] = {
		"",
		"Supported: 100rel\r\n",
		"Require: 100rel\r\n",
	};
	/* RFC 3262 §3, the table in rel.h. */
	static const enum rel_decision want[REL_MODE__COUNT][3] = {
		[REL_MODE_NO] = { REL_UNRELIABLE, REL_UNRELIABLE,
				  REL_REJECT_420 },
		[REL_MODE_SUPPORTED] = { REL_UNRELIABLE, REL_RELIABLE,
					 REL_RELIABLE },
		[REL_MODE_REQUIRED] = { REL_REJECT_421, REL_RELIABLE,
					REL_RELIABLE },
		[REL_MODE_PEER_SUPPORTED] = { REL_UNRELIABLE, REL_UNRELIABLE,
					      REL_RELIABLE },
	};

	for (unsigned c = 0; c < 3; c++) {
		struct pm pm;

		request(&pm, "INVITE", cols[c]);
		for (unsigned mo = 0; mo < REL_MODE__COUNT; mo++)
			cr_expect_eq(rel_decide((enum rel_mode)mo, &pm.m),
				     want[mo][c], "mode %u, request %u", mo, c);
	}
}

Test(rel, policy_reads_compact_form_lists_and_both_headers)
{
	struct pm pm;

	/* Compact Supported, the tag inside a list, any case. */
	request(&pm, "INVITE", "k: timer, 100REL\r\n");
	cr_expect_eq(rel_decide(REL_MODE_SUPPORTED, &pm.m), REL_RELIABLE);
	cr_expect_eq(rel_decide(REL_MODE_REQUIRED, &pm.m), REL_RELIABLE);
	cr_expect_eq(rel_decide(REL_MODE_PEER_SUPPORTED, &pm.m),
		     REL_UNRELIABLE);
	/* Require in a second Require header wins over Supported. */
	request(&pm, "INVITE",
		"Supported: 100rel\r\nRequire: timer\r\nRequire: 100rel\r\n");
	cr_expect_eq(rel_decide(REL_MODE_NO, &pm.m), REL_REJECT_420);
	cr_expect_eq(rel_decide(REL_MODE_PEER_SUPPORTED, &pm.m), REL_RELIABLE);
	/* A look-alike tag is not the tag. */
	request(&pm, "INVITE", "Supported: 100relx, x100rel\r\n");
	cr_expect_eq(rel_decide(REL_MODE_REQUIRED, &pm.m), REL_REJECT_421);
}

Test(rel, policy_other_methods_never_reliable)
{
	struct pm pm;

	request(&pm, "OPTIONS", "Supported: 100rel\r\n");
	for (unsigned mo = 0; mo < REL_MODE__COUNT; mo++)
		cr_expect_eq(rel_decide((enum rel_mode)mo, &pm.m),
			     REL_UNRELIABLE);
	request(&pm, "OPTIONS", "Require: 100rel\r\n");
	for (unsigned mo = 0; mo < REL_MODE__COUNT; mo++)
		cr_expect_eq(rel_decide((enum rel_mode)mo, &pm.m),
			     REL_REJECT_420);
}

Test(rel, has_tag_supported_and_require)
{
	struct pm pm;

	request(&pm, "INVITE", "Supported: timer,100rel\r\nRequire: foo\r\n");
	cr_expect(rel_has_tag(&pm.m, HDR_SUPPORTED));
	cr_expect_not(rel_has_tag(&pm.m, HDR_REQUIRE));
	request(&pm, "INVITE", "k: 100rel\r\n");
	cr_expect(rel_has_tag(&pm.m, HDR_SUPPORTED));
	request(&pm, "INVITE", "");
	cr_expect_not(rel_has_tag(&pm.m, HDR_SUPPORTED));
	cr_expect_not(rel_has_tag(&pm.m, HDR_REQUIRE));
}

Test(rel, uac_offer_per_mode)
{
	for (int peer = 0; peer < 2; peer++) {
		cr_expect_eq(rel_uac_offer(REL_MODE_NO, peer), REL_OFFER_NONE);
		cr_expect_eq(rel_uac_offer(REL_MODE_SUPPORTED, peer),
			     REL_OFFER_SUPPORTED);
		cr_expect_eq(rel_uac_offer(REL_MODE_REQUIRED, peer),
			     REL_OFFER_REQUIRE);
	}
	cr_expect_eq(rel_uac_offer(REL_MODE_PEER_SUPPORTED, false),
		     REL_OFFER_NONE);
	cr_expect_eq(rel_uac_offer(REL_MODE_PEER_SUPPORTED, true),
		     REL_OFFER_SUPPORTED);
}

Test(rel, mode_names_round_trip_and_reject_others)
{
	static const char *const bad[] = { "",		"yes",	"No",
					   "required ", "peer", "supported\n" };
	enum rel_mode m = REL_MODE_REQUIRED;

	for (unsigned i = 0; i < REL_MODE__COUNT; i++) {
		struct slice n = rel_mode_name((enum rel_mode)i);

		cr_assert_gt(n.len, 0);
		cr_assert_eq(rel_mode_parse(n, &m), 0);
		cr_expect_eq(m, (enum rel_mode)i);
	}
	cr_expect(eq(rel_mode_name(REL_MODE_PEER_SUPPORTED), "peer_supported"));
	cr_expect_eq(rel_mode_name(REL_MODE__COUNT).len, 0);
	m = REL_MODE_SUPPORTED;
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(rel_mode_parse(g(bad[i]), &m), -EINVAL, "%s",
			     bad[i]);
	cr_expect_eq(m, REL_MODE_SUPPORTED, "not written on error");
}

/* Header text. */

Test(rel, header_lines_are_exact)
{
	cr_expect(eq(rel_require_line(), "Require: 100rel\r\n"));
	cr_expect(eq(rel_supported_line(), "Supported: 100rel\r\n"));
	cr_expect(eq(rel_unsupported_line(), "Unsupported: 100rel\r\n"));
}

Test(rel, print_extra_writes_require_and_rseq)
{
	char buf[REL_EXTRA_MAX];
	int n;

	n = rel_print_extra(UINT32_MAX, buf, sizeof(buf));
	cr_assert_gt(n, 0);
	cr_expect_str_eq(buf, "Require: 100rel\r\nRSeq: 4294967295\r\n");
	cr_expect_eq((size_t)n, strlen(buf));
	cr_expect_eq(rel_print_extra(1, buf, sizeof(buf)), 26);
	cr_expect_str_eq(buf, "Require: 100rel\r\nRSeq: 1\r\n");
	cr_expect_eq(rel_print_extra(0, buf, sizeof(buf)), -EINVAL);
	cr_expect_eq(rel_print_extra(1, buf, 26), -ENOSPC, "no room for NUL");
}

Test(rel, rack_print_and_parse_agree)
{
	char buf[REL_RACK_MAX];
	struct rel_rack rk;
	int n;

	n = rel_rack_print(776656, 1, SLICE_LIT("INVITE"), buf, sizeof(buf));
	cr_assert_eq(n, 15);
	cr_expect_str_eq(buf, "776656 1 INVITE");
	cr_assert_eq(rel_rack_parse(g(buf), &rk), 0);
	cr_expect_eq(rk.rseq, 776656);
	cr_expect_eq(rk.cseq, 1);
	cr_expect(eq(rk.method, "INVITE"));
	cr_expect_eq(rel_rack_print(0, 1, SLICE_LIT("INVITE"), buf, 64),
		     -EINVAL);
	cr_expect_eq(rel_rack_print(1, 1, SLICE_LIT(""), buf, 64), -EINVAL);
	cr_expect_eq(rel_rack_print(1, 1, SLICE_LIT("IN VITE"), buf, 64),
		     -EINVAL);
	cr_expect_eq(rel_rack_print(1, 1, SLICE_LIT("INVITE"), buf, 8),
		     -ENOSPC);
}

/* Parsers. */

Test(rel, rseq_parse_accepts_the_32_bit_range)
{
	uint32_t v = 0;

	cr_assert_eq(rel_rseq_parse(g("1"), &v), 0);
	cr_expect_eq(v, 1);
	cr_assert_eq(rel_rseq_parse(g("4294967295"), &v), 0);
	cr_expect_eq(v, UINT32_MAX);
	cr_assert_eq(rel_rseq_parse(g("00042"), &v), 0);
	cr_expect_eq(v, 42);
}

Test(rel, rseq_parse_rejects_malformed)
{
	static const char *const bad[] = {
		"",	"0",   "00",	     "-1",
		"+1",	"1 ",  " 1",	     "1;x=2",
		"12a",	"a",   "4294967296", "99999999999999999999999999",
		"0x10", "1.0",
	};
	uint32_t v = 77;

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(rel_rseq_parse(g(bad[i]), &v), -EBADMSG, "'%s'",
			     bad[i]);
	cr_expect_eq(v, 77, "not written on error");
}

Test(rel, rack_parse_accepts_lws_and_folds)
{
	struct rel_rack rk;

	cr_assert_eq(rel_rack_parse(g("5\t\t4294967295   INVITE"), &rk), 0);
	cr_expect_eq(rk.rseq, 5);
	cr_expect_eq(rk.cseq, UINT32_MAX);
	cr_expect(eq(rk.method, "INVITE"));
	cr_assert_eq(rel_rack_parse(g("7 0\r\n INVITE"), &rk), 0);
	cr_expect_eq(rk.rseq, 7);
	cr_expect_eq(rk.cseq, 0);
	/* An extension method is a token too; the case is kept. */
	cr_assert_eq(rel_rack_parse(g("1 2 invite"), &rk), 0);
	cr_expect(eq(rk.method, "invite"));
}

Test(rel, rack_parse_rejects_malformed)
{
	static const char *const bad[] = {
		"",
		"1",
		"1 2",
		"1 2 ",
		" 1 2 INVITE",
		"1 2 INVITE ",
		"1 2 INVITE x",
		"0 2 INVITE",
		"-1 2 INVITE",
		"1 -2 INVITE",
		"4294967296 2 INVITE",
		"1 4294967296 INVITE",
		"1 99999999999999999999999 INVITE",
		"a 2 INVITE",
		"1 2b INVITE",
		"1 2 INV@ITE",
		"1 2 \"INVITE\"",
		"1,2 INVITE",
	};
	struct rel_rack rk = { 9, 9, SLICE_LIT("X") };

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(rel_rack_parse(g(bad[i]), &rk), -EBADMSG, "'%s'",
			     bad[i]);
	cr_expect_eq(rk.rseq, 9, "not written on error");
}

Test(rel, prack_rack_needs_exactly_one_valid_rack)
{
	struct rel_rack rk = { 9, 9, SLICE_LIT("X") };
	struct pm pm;

	request(&pm, "PRACK", "RAck: 776656 314 INVITE\r\n");
	cr_assert_eq(rel_prack_rack(&pm.m, &rk), 0);
	cr_expect_eq(rk.rseq, 776656);
	cr_expect_eq(rk.cseq, 314);
	cr_expect(eq(rk.method, "INVITE"));
	rk.rseq = 9;
	request(&pm, "PRACK", "");
	cr_expect_eq(rel_prack_rack(&pm.m, &rk), -EBADMSG, "no RAck");
	request(&pm, "PRACK", "RAck: 1 314 INVITE\r\nRAck: 2 314 INVITE\r\n");
	cr_expect_eq(rel_prack_rack(&pm.m, &rk), -EBADMSG, "two RAck");
	request(&pm, "PRACK", "RAck: 1 314\r\n");
	cr_expect_eq(rel_prack_rack(&pm.m, &rk), -EBADMSG, "malformed");
	request(&pm, "INVITE", "RAck: 1 314 INVITE\r\n");
	cr_expect_eq(rel_prack_rack(&pm.m, &rk), -EINVAL, "not a PRACK");
	response(&pm, 200, "RAck: 1 314 INVITE\r\n");
	cr_expect_eq(rel_prack_rack(&pm.m, &rk), -EINVAL, "a response");
	cr_expect_eq(rk.rseq, 9, "not written on error");
}

Test(rel, response_rseq_only_for_reliable_1xx)
{
	struct pm pm;
	uint32_t v = 0;

	response(&pm, 183, "Require: 100rel\r\nRSeq: 988789\r\n");
	cr_assert_eq(rel_response_rseq(&pm.m, &v), 1);
	cr_expect_eq(v, 988789);
	/* §4: a 100 is never reliable, whatever it says. */
	response(&pm, 100, "Require: 100rel\r\nRSeq: 5\r\n");
	cr_expect_eq(rel_response_rseq(&pm.m, &v), 0);
	response(&pm, 200, "Require: 100rel\r\nRSeq: 5\r\n");
	cr_expect_eq(rel_response_rseq(&pm.m, &v), 0);
	response(&pm, 180, "RSeq: 5\r\n");
	cr_expect_eq(rel_response_rseq(&pm.m, &v), 0, "no Require 100rel");
	response(&pm, 180, "Require: 100rel\r\n");
	cr_expect_eq(rel_response_rseq(&pm.m, &v), -EBADMSG, "no RSeq");
	response(&pm, 180, "Require: 100rel\r\nRSeq: 5\r\nRSeq: 6\r\n");
	cr_expect_eq(rel_response_rseq(&pm.m, &v), -EBADMSG, "two RSeq");
	response(&pm, 180, "Require: 100rel\r\nRSeq: 0\r\n");
	cr_expect_eq(rel_response_rseq(&pm.m, &v), -EBADMSG, "RSeq 0");
	cr_expect_eq(v, 988789, "not written unless reliable");
	request(&pm, "INVITE", "Require: 100rel\r\nRSeq: 5\r\n");
	cr_expect_eq(rel_response_rseq(&pm.m, &v), 0, "a request");
}

Test(rel, random_rseq_in_first_range)
{
	uint32_t first = rel_rseq_random(), v;
	bool differ = false;

	/* Bounded: 1000 draws; the chance all equal is nil. */
	for (int i = 0; i < 1000; i++) {
		v = rel_rseq_random();
		cr_assert(v >= 1 && v <= REL_RSEQ_FIRST_MAX, "%u", v);
		differ |= v != first;
	}
	cr_expect(differ);
}

/* UAS. */

static void send_1xx(struct rel_uas *r, bool offer, int want)
{
	char buf[REL_EXTRA_MAX + 32];
	int n = rel_print_extra(rel_uas_next_rseq(r), buf, sizeof(buf));

	cr_assert_gt(n, 0);
	cr_assert_eq(rel_uas_send(r, offer, buf, (size_t)n), want);
}

static struct rel_rack rack(uint32_t rseq, uint32_t cseq, const char *method)
{
	return (struct rel_rack){ rseq, cseq, slice_cstr(method) };
}

Test(rel, uas_init_rejects_bad_arguments)
{
	struct rel_uas r;
	static const struct rel_uas_ops half = { on_retransmit, NULL };

	cr_expect_eq(rel_uas_init(&r, &w, &ops, T1, 1, SIP_INVITE, 0), -EINVAL);
	cr_expect_eq(rel_uas_init(&r, &w, &ops, T1, 1, SIP_INVITE,
				  REL_RSEQ_FIRST_MAX + 1),
		     -EINVAL);
	cr_expect_eq(rel_uas_init(&r, &w, &ops, 0, 1, SIP_INVITE, 1), -EINVAL);
	cr_expect_eq(rel_uas_init(&r, NULL, &ops, T1, 1, SIP_INVITE, 1),
		     -EINVAL);
	cr_expect_eq(rel_uas_init(&r, &w, &half, T1, 1, SIP_INVITE, 1),
		     -EINVAL);
	cr_expect_eq(rel_uas_init(&r, &w, NULL, T1, 1, SIP_INVITE, 1), -EINVAL);
	cr_assert_eq(
	    rel_uas_init(&r, &w, &ops, T1, 1, SIP_INVITE, REL_RSEQ_FIRST_MAX),
	    0);
	rel_uas_fini(&r);
	rel_uas_fini(&r); /* idempotent */
}

Test(rel, uas_retransmits_t1_doubling_then_times_out_at_64_t1)
{
	/* RFC 3262 §3: intervals T1, 2T1, 4T1, ... for 64*T1 in all, so
	 * retransmissions at 1, 3, 7, 15, 31, 63 T1, the end at 64 T1. */
	static const unsigned at[] = { 1, 3, 7, 15, 31, 63 };
	struct rel_uas r;

	cr_assert_eq(rel_uas_init(&r, &w, &ops, T1, 314, SIP_INVITE, 1000), 0);
	send_1xx(&r, false, 0);
	cr_expect(rel_uas_is_busy(&r));
	run_to(64 * T1 + 10 * T1);
	cr_assert_eq(nretx, 6);
	for (unsigned i = 0; i < 6; i++) {
		/* Never early; at most one tick late per firing so far. */
		cr_expect_geq(retx_at[i], at[i] * (uint64_t)T1, "retx %u", i);
		cr_expect_leq(retx_at[i], at[i] * (uint64_t)T1 + TICK * (i + 1),
			      "retx %u at %lu", i, (unsigned long)retx_at[i]);
	}
	cr_expect(eq(slice_make(last_buf, last_len),
		     "Require: 100rel\r\nRSeq: 1000\r\n"),
		  "the bytes given are sent again");
	cr_assert_eq(ntimeout, 1);
	cr_expect_geq(timeout_at, 64 * (uint64_t)T1);
	cr_expect_leq(timeout_at, 64 * (uint64_t)T1 + 7 * TICK);
	cr_expect_eq(timer_count(&w), 0);
	cr_expect_eq(rel_uas_send(&r, false, "x", 1), -EALREADY);
	rel_uas_fini(&r);
}

Test(rel, uas_matching_prack_stops_retransmissions)
{
	struct rel_uas r;
	struct rel_rack rk = rack(1000, 314, "INVITE");
	bool offer = false;

	cr_assert_eq(rel_uas_init(&r, &w, &ops, T1, 314, SIP_INVITE, 1000), 0);
	send_1xx(&r, true, 0);
	run_to(T1 + TICK);
	cr_assert_eq(nretx, 1);
	cr_expect_eq(rel_uas_prack(&r, &rk, &offer), REL_PRACK_MATCH);
	cr_expect(offer, "the 1xx carried an offer: the PRACK has the answer");
	cr_expect_eq(rel_prack_status(REL_PRACK_MATCH), 200);
	cr_expect_not(rel_uas_is_busy(&r));
	cr_expect_eq(timer_count(&w), 0);
	run_to(100 * T1);
	cr_expect_eq(nretx, 1, "no retransmission after the PRACK");
	cr_expect_eq(ntimeout, 0);
	rel_uas_fini(&r);
}

Test(rel, uas_unmatched_prack_is_481_and_changes_nothing)
{
	static const struct {
		uint32_t rseq, cseq;
		const char *method;
	} bad[] = {
		{ 1001, 314, "INVITE" }, /* wrong RSeq */
		{ 999, 314, "INVITE" },	 /* wrong RSeq */
		{ 1000, 315, "INVITE" }, /* wrong CSeq */
		{ 1000, 314, "PRACK" },	 /* wrong method */
		{ 1000, 314, "invite" }, /* methods are case-sensitive */
	};
	struct rel_uas r;
	bool offer = false;

	cr_assert_eq(rel_uas_init(&r, &w, &ops, T1, 314, SIP_INVITE, 1000), 0);
	/* Nothing outstanding yet. */
	{
		struct rel_rack rk = rack(1000, 314, "INVITE");

		cr_expect_eq(rel_uas_prack(&r, &rk, &offer),
			     REL_PRACK_NO_MATCH);
	}
	send_1xx(&r, true, 0);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct rel_rack rk =
		    rack(bad[i].rseq, bad[i].cseq, bad[i].method);

		cr_expect_eq(rel_uas_prack(&r, &rk, &offer), REL_PRACK_NO_MATCH,
			     "case %u", i);
	}
	cr_expect_not(offer, "not written");
	cr_expect_eq(rel_prack_status(REL_PRACK_NO_MATCH), 481);
	cr_expect(rel_uas_is_busy(&r));
	run_to(3 * T1 + TICK);
	cr_expect_eq(nretx, 2, "still retransmitting");
	rel_uas_fini(&r);
	cr_expect_eq(timer_count(&w), 0, "fini stops the timer");
}

Test(rel, uas_duplicate_prack_is_stale_481)
{
	struct rel_uas r;
	struct rel_rack rk = rack(1000, 314, "INVITE");

	cr_assert_eq(rel_uas_init(&r, &w, &ops, T1, 314, SIP_INVITE, 1000), 0);
	send_1xx(&r, false, 0);
	cr_expect_eq(rel_uas_prack(&r, &rk, NULL), REL_PRACK_MATCH);
	cr_expect_eq(rel_uas_prack(&r, &rk, NULL), REL_PRACK_STALE);
	cr_expect_eq(rel_prack_status(REL_PRACK_STALE), 481);
	/* The next one: the old RAck is still stale, the new one matches. */
	send_1xx(&r, false, 0);
	cr_expect_eq(rel_uas_prack(&r, &rk, NULL), REL_PRACK_STALE);
	rk.rseq = 1001;
	cr_expect_eq(rel_uas_prack(&r, &rk, NULL), REL_PRACK_MATCH);
	rel_uas_fini(&r);
}

Test(rel, uas_one_outstanding_and_rseq_increments)
{
	struct rel_uas r;
	struct rel_rack rk;

	/* Near 2^31: the next one is 2^31, no wrap (RSeq is 32 bits). */
	cr_assert_eq(
	    rel_uas_init(&r, &w, &ops, T1, 7, SIP_INVITE, REL_RSEQ_FIRST_MAX),
	    0);
	cr_expect_eq(rel_uas_next_rseq(&r), REL_RSEQ_FIRST_MAX);
	send_1xx(&r, false, 0);
	cr_expect_eq(rel_uas_next_rseq(&r), 0x80000000u);
	/* §3: a second one waits for the first PRACK. */
	send_1xx(&r, false, -EBUSY);
	cr_expect_eq(rel_uas_next_rseq(&r), 0x80000000u, "-EBUSY keeps it");
	rk = rack(REL_RSEQ_FIRST_MAX, 7, "INVITE");
	cr_assert_eq(rel_uas_prack(&r, &rk, NULL), REL_PRACK_MATCH);
	send_1xx(&r, false, 0);
	cr_expect_eq(rel_uas_next_rseq(&r), 0x80000001u);
	run_to(T1 + TICK);
	cr_assert_eq(nretx, 1);
	cr_expect(eq(slice_make(last_buf, last_len),
		     "Require: 100rel\r\nRSeq: 2147483648\r\n"));
	rk = rack(0x80000000u, 7, "INVITE");
	cr_expect_eq(rel_uas_prack(&r, &rk, NULL), REL_PRACK_MATCH);
	cr_expect_eq(rel_uas_send(&r, false, "x", 0), -EINVAL);
	rel_uas_fini(&r);
}

Test(rel, uas_rseq_space_ends_at_2_32_minus_1)
{
	struct rel_uas r;
	struct rel_rack rk = rack(UINT32_MAX, 314, "INVITE");

	cr_assert_eq(rel_uas_init(&r, &w, &ops, T1, 314, SIP_INVITE, 1), 0);
	/* White box: 2^32-2 PRACKed provisionals would take too long. */
	r.next_rseq = UINT32_MAX;
	send_1xx(&r, false, 0);
	cr_expect_eq(rel_uas_next_rseq(&r), 0, "exhausted, no wrap to 0");
	cr_assert_eq(rel_uas_prack(&r, &rk, NULL), REL_PRACK_MATCH);
	cr_expect_eq(rel_uas_send(&r, false, "x", 1), -ERANGE);
	cr_expect_not(rel_uas_is_busy(&r));
	rel_uas_fini(&r);
}

Test(rel, uas_2xx_waits_for_prack_of_an_offer)
{
	struct rel_uas r;
	struct rel_rack rk = rack(50, 314, "INVITE");
	bool offer = false;

	cr_assert_eq(rel_uas_init(&r, &w, &ops, T1, 314, SIP_INVITE, 50), 0);
	cr_expect(rel_uas_may_send_2xx(&r), "nothing sent yet");
	send_1xx(&r, false, 0);
	cr_expect(rel_uas_may_send_2xx(&r), "no offer in it: §3 allows");
	cr_assert_eq(rel_uas_prack(&r, &rk, &offer), REL_PRACK_MATCH);
	cr_expect_not(offer);
	send_1xx(&r, true, 0);
	cr_expect_not(rel_uas_may_send_2xx(&r), "an unanswered offer");
	rk.rseq = 51;
	cr_assert_eq(rel_uas_prack(&r, &rk, &offer), REL_PRACK_MATCH);
	cr_expect(offer);
	cr_expect(rel_uas_may_send_2xx(&r));
	rel_uas_fini(&r);
}

Test(rel, uas_final_stops_retransmissions_prack_still_matches)
{
	struct rel_uas r;
	struct rel_rack rk = rack(9, 314, "INVITE");

	cr_assert_eq(rel_uas_init(&r, &w, &ops, T1, 314, SIP_INVITE, 9), 0);
	send_1xx(&r, false, 0);
	run_to(T1 + TICK);
	cr_assert_eq(nretx, 1);
	rel_uas_final(&r);
	cr_expect_eq(timer_count(&w), 0);
	run_to(100 * T1);
	cr_expect_eq(nretx, 1);
	cr_expect_eq(ntimeout, 0, "no timeout after a final");
	cr_expect_eq(rel_uas_prack(&r, &rk, NULL), REL_PRACK_MATCH);
	send_1xx(&r, false, -EALREADY);
	rel_uas_fini(&r);
}

Test(rel, uas_retransmit_callback_may_stop_it)
{
	struct rel_uas r;

	final_in_retx = true;
	cr_assert_eq(rel_uas_init(&r, &w, &ops, T1, 1, SIP_INVITE, 3), 0);
	send_1xx(&r, false, 0);
	run_to(100 * T1);
	cr_expect_eq(nretx, 1);
	cr_expect_eq(ntimeout, 0);
	cr_expect_eq(timer_count(&w), 0);
	rel_uas_fini(&r);
}

/* An owner freed by its timeout callback (ASan sees any later touch). */
struct owner {
	int canary;
	struct rel_uas rel;
};

static unsigned nfreed;

static void free_on_timeout(struct rel_uas *r)
{
	struct owner *o = caa_container_of(r, struct owner, rel);

	cr_assert_eq(o->canary, 0x5eed);
	rel_uas_fini(r);
	free(o);
	nfreed++;
}

Test(rel, uas_timeout_callback_may_free_the_owner)
{
	static const struct rel_uas_ops fops = { on_retransmit,
						 free_on_timeout };
	struct owner *o = calloc(1, sizeof(*o));

	cr_assert_not_null(o);
	o->canary = 0x5eed;
	nfreed = 0;
	cr_assert_eq(rel_uas_init(&o->rel, &w, &fops, T1, 1, SIP_INVITE, 3), 0);
	send_1xx(&o->rel, true, 0);
	run_to(70 * T1);
	cr_expect_eq(nfreed, 1);
	cr_expect_eq(nretx, 6);
	cr_expect_eq(timer_count(&w), 0);
}

/* UAC. */

Test(rel, uac_first_next_retransmission_gap)
{
	struct rel_uac u = { 0 };

	cr_expect_eq(rel_uac_receive(&u, 0), REL_UAC_OUT_OF_ORDER, "RSeq 0");
	cr_expect_eq(rel_uac_receive(&u, 5000), REL_UAC_NEW, "first: any");
	cr_expect_eq(rel_uac_receive(&u, 5000), REL_UAC_RETRANSMISSION);
	cr_expect_eq(rel_uac_receive(&u, 5002), REL_UAC_OUT_OF_ORDER, "gap");
	cr_expect_eq(rel_uac_receive(&u, 4999), REL_UAC_OUT_OF_ORDER, "old");
	cr_expect_eq(rel_uac_receive(&u, 5001), REL_UAC_NEW, "gap untouched");
	cr_expect_eq(rel_uac_receive(&u, 5002), REL_UAC_NEW);
	cr_expect_eq(rel_uac_receive(&u, 5001), REL_UAC_OUT_OF_ORDER);
	cr_expect_eq(rel_uac_receive(&u, 5002), REL_UAC_RETRANSMISSION);
}

Test(rel, uac_order_across_2_31_and_none_after_2_32)
{
	struct rel_uac u = { 0 };

	cr_expect_eq(rel_uac_receive(&u, REL_RSEQ_FIRST_MAX), REL_UAC_NEW);
	cr_expect_eq(rel_uac_receive(&u, 0x80000000u), REL_UAC_NEW);
	cr_expect_eq(rel_uac_receive(&u, 0x80000001u), REL_UAC_NEW);
	/* A peer that started high: after 2^32-1 nothing is next. */
	u = (struct rel_uac){ 0 };
	cr_expect_eq(rel_uac_receive(&u, UINT32_MAX - 1), REL_UAC_NEW);
	cr_expect_eq(rel_uac_receive(&u, UINT32_MAX), REL_UAC_NEW);
	cr_expect_eq(rel_uac_receive(&u, 0), REL_UAC_OUT_OF_ORDER);
	cr_expect_eq(rel_uac_receive(&u, 1), REL_UAC_OUT_OF_ORDER);
	cr_expect_eq(rel_uac_receive(&u, UINT32_MAX), REL_UAC_RETRANSMISSION);
}

/* Both ends: the UAC's RAck, printed and parsed, matches the UAS. */
Test(rel, uac_rack_matches_uas_end_to_end)
{
	struct rel_uas r;
	struct rel_uac u = { 0 };
	char extra[REL_EXTRA_MAX], line[256], rk_text[REL_RACK_MAX];
	struct rel_rack rk;
	struct pm pm;
	uint32_t rseq;
	int n;

	cr_assert_eq(
	    rel_uas_init(&r, &w, &ops, T1, 314, SIP_INVITE, rel_rseq_random()),
	    0);
	n = rel_print_extra(rel_uas_next_rseq(&r), extra, sizeof(extra));
	cr_assert_gt(n, 0);
	cr_assert_eq(rel_uas_send(&r, true, extra, (size_t)n), 0);
	snprintf(line, sizeof(line), "%s", extra);
	response(&pm, 183, line);
	cr_assert_eq(rel_response_rseq(&pm.m, &rseq), 1);
	cr_assert_eq(rel_uac_receive(&u, rseq), REL_UAC_NEW);
	n = rel_rack_print(rseq, pm.m.cseq, pm.m.cseq_method_name, rk_text,
			   sizeof(rk_text));
	cr_assert_gt(n, 0);
	cr_assert_eq(rel_rack_parse(g(rk_text), &rk), 0);
	cr_expect_eq(rel_uas_prack(&r, &rk, NULL), REL_PRACK_MATCH);
	cr_expect_eq(timer_count(&w), 0);
	rel_uas_fini(&r);
}
