/* tests/integration/test_options.c - sipedge over UDP: OPTIONS to itself,
 * routing refusals, malformed requests, silence */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/sip/hdr.h"
#include "proxy/sip/msg.h"
#include "tests/common/proc.h"
#include "tests/common/sipcli.h"

#define WAIT_MS 5000

static struct proc_sipedge sp;
static struct sipcli cli;
static struct sipcli cli2;
static struct sipcli_msg *rsp;
static struct sipcli_msg *got;
static char req[8192];

static void setup(void)
{
	memset(&sp, 0, sizeof(sp));
	cli.fd = -1;
	cli2.fd = -1;
	rsp = malloc(sizeof(*rsp));
	got = malloc(4 * sizeof(*got));
	cr_assert(rsp && got);
}

static void teardown(void)
{
	sipcli_close(&cli);
	sipcli_close(&cli2);
	free(rsp);
	free(got);
	proc_sipedge_cleanup(&sp);
}

TestSuite(options, .init = setup, .fini = teardown, .timeout = 60);

static void up_with(const char *extra_yaml)
{
	int err = proc_sipedge_start(&sp, "127.0.0.1", 1, extra_yaml);

	cr_assert_eq(err, 0, "sipedge did not start: %s", sp.why);
	cr_assert_eq(sipcli_open_udp(&cli, sp.host, sp.port), 0);
}

static void up(void)
{
	up_with(NULL);
}

static void down(void)
{
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* Format a request on cli into req; returns its length. */
static size_t fmt(const char *method, const char *ruri, bool rport,
		  const char *extra)
{
	int n = sipcli_format(&cli, req, sizeof(req), method, ruri, NULL, rport,
			      extra, NULL);

	cr_assert_gt(n, 0);
	return (size_t)n;
}

static void edit(const char *from, const char *to)
{
	cr_assert_geq(sipcli_edit(req, sizeof(req), from, to), 0,
		      "'%s' not in the request", from);
}

/* Send req (as edited) and return the final status for its Call-ID. */
static int ask(void)
{
	int st = sipcli_transact(&cli, req, strlen(req), WAIT_MS, rsp);

	cr_assert_geq(st, 200, "no final response (%d) to:\n%s", st, req);
	return st;
}

/* Send req and return how many messages came back before a marker. */
static unsigned ask_collect(void)
{
	unsigned n = 0;

	cr_assert_eq(sipcli_send_str(&cli, req), 0);
	cr_assert_eq(sipcli_collect(&cli, got, 4, &n, WAIT_MS), 0,
		     "the OPTIONS marker sent after this was not answered:\n%s",
		     req);
	return n;
}

static char *hdr(const struct sipcli_msg *r, enum hdr_id id)
{
	static char buf[4][1024];
	static unsigned i;

	i = (i + 1) % 4;
	return sipcli_hdr_str(r, id, buf[i], sizeof(buf[i]));
}

Test(options, options_to_proxy_gets_200_with_allow_supported_accept)
{
	char ruri[128];
	char want[64];
	struct slice v;
	const char *allow;

	up();
	fmt("OPTIONS", sipcli_self_uri(&cli, ruri, sizeof(ruri)), true,
	    "Accept: application/sdp\r\n");
	cr_assert_eq(ask(), 200, "got %s", sipcli_first_line(rsp));
	cr_assert_eq(rsp->parse_err, 0, "the 200 does not parse");
	cr_assert_not_null(sipmsg_hdr(&rsp->m, HDR_ALLOW), "no Allow");
	cr_assert_not_null(sipmsg_hdr(&rsp->m, HDR_SUPPORTED), "no Supported");
	cr_assert_not_null(sipmsg_hdr(&rsp->m, HDR_ACCEPT), "no Accept");
	allow = hdr(rsp, HDR_ALLOW);
	cr_assert(strstr(allow, "OPTIONS"), "Allow: %s", allow);
	/* RFC 3261 §8.2.6.2: the UAS copies From, Call-ID, CSeq, Via and
	 * adds a To tag. */
	cr_assert_eq(rsp->m.cseq, 1);
	cr_assert_eq(rsp->m.cseq_method, SIP_OPTIONS);
	cr_assert(!slice_is_empty(rsp->m.to_tag), "200 without To tag");
	cr_assert(strstr(req, hdr(rsp, HDR_FROM)), "From changed: %s",
		  hdr(rsp, HDR_FROM));
	v = rsp->m.via.branch;
	cr_assert(v.len > 0 && memmem(req, strlen(req), v.p, v.len),
		  "Via branch changed");
	/* RFC 3581 §4: rport gets the source port, received the source
	 * address (even when equal to sent-by). */
	snprintf(want, sizeof(want), "%u", cli.local_port);
	cr_assert(slice_eq(rsp->m.via.rport, slice_cstr(want)),
		  "Via rport not filled with %s: %s", want, hdr(rsp, HDR_VIA));
	cr_assert(slice_eq(rsp->m.via.received, SLICE_LIT("127.0.0.1")),
		  "Via received not 127.0.0.1: %s", hdr(rsp, HDR_VIA));
	down();
}

Test(options, options_to_localhost_gets_200)
{
	up();
	fmt("OPTIONS", "sip:localhost", true, NULL);
	cr_assert_eq(ask(), 200, "got %s", sipcli_first_line(rsp));
	cr_assert_not_null(sipmsg_hdr(&rsp->m, HDR_ALLOW), "no Allow");
	down();
}

Test(options, invite_to_served_domain_user_gets_480_and_ack_is_silent)
{
	unsigned n;

	up();
	fmt("INVITE", "sip:bob@localhost", true, NULL);
	cr_assert_eq(ask(), 480, "got %s", sipcli_first_line(rsp));
	cr_assert(!slice_is_empty(rsp->m.to_tag), "480 without To tag");
	/* RFC 3261 §17.1.1.3: the ACK for a non-2xx final response. */
	edit("INVITE sip:", "ACK sip:");
	edit(" INVITE\r\n", " ACK\r\n");
	n = ask_collect();
	cr_assert_eq(n, 0, "ACK answered: %s", sipcli_first_line(&got[0]));
	down();
}

Test(options, invite_to_foreign_domain_gets_404)
{
	up();
	fmt("INVITE", "sip:bob@example.org", true, NULL);
	cr_assert_eq(ask(), 404, "got %s", sipcli_first_line(rsp));
	down();
}

Test(options, message_to_served_domain_user_gets_480)
{
	up();
	fmt("MESSAGE", "sip:alice@127.0.0.1", true,
	    "Content-Type: text/plain\r\n");
	cr_assert_eq(ask(), 480, "got %s", sipcli_first_line(rsp));
	down();
}

/* The registrar answers (loopback is trusted: no authentication). */
Test(options, register_gets_200_from_the_registrar)
{
	up();
	fmt("REGISTER", "sip:localhost", true,
	    "Contact: <sip:bob@127.0.0.1:5999>\r\nExpires: 60\r\n");
	edit("To: <sip:localhost>", "To: <sip:bob@localhost>");
	cr_assert_eq(ask(), 200, "got %s", sipcli_first_line(rsp));
	cr_assert_not_null(
	    strstr(rsp->buf, "<sip:bob@127.0.0.1:5999>;expires=60"), "%s",
	    rsp->buf);
	down();
}

Test(options, cancel_for_nothing_gets_481)
{
	up();
	fmt("CANCEL", "sip:bob@localhost", true, NULL);
	cr_assert_eq(ask(), 481, "got %s", sipcli_first_line(rsp));
	down();
}

Test(options, missing_call_id_gets_400_naming_it)
{
	char *p;
	char *e;
	unsigned n;

	up();
	fmt("INVITE", "sip:bob@localhost", true, NULL);
	p = strstr(req, "Call-ID: ");
	cr_assert_not_null(p);
	e = strstr(p, "\r\n");
	memmove(p, e + 2, strlen(e + 2) + 1);
	n = ask_collect();
	/* RFC 4475 §3.3.1 (insuf): with Via and CSeq present a 400 can be
	 * built and matched by the client, so it is sent. */
	cr_assert_eq(n, 1, "%u answers to a request without Call-ID", n);
	cr_assert_eq(got[0].m.status, 400, "got %s",
		     sipcli_first_line(&got[0]));
	cr_assert(memmem(got[0].m.reason.p, got[0].m.reason.len, "Call-ID", 7),
		  "reason phrase does not name the fault: %s",
		  sipcli_first_line(&got[0]));
	down();
}

Test(options, malformed_headers_get_400_naming_the_fault)
{
	static const struct {
		const char *from, *to, *named;
	} cases[] = {
		{ "Max-Forwards: 70", "Max-Forwards: abc", "Max-Forwards" },
		{ "From: <", "From: \"unterminated <", "From" },
		{ "CSeq: 1 INVITE", "CSeq: 1 INVITE\r\nCSeq: 2 INVITE",
		  "CSeq" },
		{ "Content-Length: 0", "Content-Length: 50", "Content-Length" },
		{ ";rport;", ";rport;;", "Via" },
		{ "To: <sip:bob@localhost>", "To: sip:bob@localhost>", "To" },
	};
	size_t i;

	up();
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fmt("INVITE", "sip:bob@localhost", true, NULL);
		edit(cases[i].from, cases[i].to);
		cr_assert_eq(ask(), 400, "'%s' got %s", cases[i].to,
			     sipcli_first_line(rsp));
		cr_assert(memmem(rsp->m.reason.p, rsp->m.reason.len,
				 cases[i].named, strlen(cases[i].named)),
			  "'%s': the reason phrase does not name %s: %s",
			  cases[i].to, cases[i].named, sipcli_first_line(rsp));
	}
	down();
}

Test(options, bad_cseq_gets_400_naming_it)
{
	up();
	fmt("OPTIONS", "sip:localhost", true, NULL);
	edit("CSeq: 1 OPTIONS", "CSeq: one OPTIONS");
	cr_assert_eq(ask(), 400, "got %s", sipcli_first_line(rsp));
	cr_assert(memmem(rsp->m.reason.p, rsp->m.reason.len, "CSeq", 4),
		  "reason phrase does not name the fault: %s",
		  sipcli_first_line(rsp));
	down();
}

Test(options, sip_version_3_gets_505)
{
	up();
	fmt("OPTIONS", "sip:localhost", true, NULL);
	edit("sip:localhost SIP/2.0\r\n", "sip:localhost SIP/3.0\r\n");
	cr_assert_eq(ask(), 505, "got %s", sipcli_first_line(rsp));
	down();
}

Test(options, unknown_uri_scheme_gets_416)
{
	up();
	fmt("INVITE", "foo:bob@localhost", true, NULL);
	cr_assert_eq(ask(), 416, "got %s", sipcli_first_line(rsp));
	down();
}

Test(options, max_forwards_zero_gets_483)
{
	up();
	fmt("INVITE", "sip:bob@localhost", true, NULL);
	edit("Max-Forwards: 70", "Max-Forwards: 0");
	cr_assert_eq(ask(), 483, "got %s", sipcli_first_line(rsp));
	down();
}

Test(options, proxy_require_foo_gets_420_with_unsupported_foo)
{
	char *u;

	up();
	fmt("INVITE", "sip:bob@localhost", true, "Proxy-Require: foo\r\n");
	cr_assert_eq(ask(), 420, "got %s", sipcli_first_line(rsp));
	u = hdr(rsp, HDR_UNSUPPORTED);
	cr_assert_str_eq(u, "foo", "Unsupported: '%s'", u);
	down();
}

Test(options, require_is_for_the_uas_not_the_proxy)
{
	/* RFC 3261 §8.2.2.3 and RFC 4475 §3.3.5: a proxy ignores Require. */
	up();
	fmt("INVITE", "sip:bob@localhost", true, "Require: foo\r\n");
	cr_assert_eq(ask(), 480, "got %s", sipcli_first_line(rsp));
	down();
}

Test(options, stray_responses_are_dropped)
{
	static const char *const codes[] = { "100 Trying", "200 OK",
					     "404 Not Found", "699 Whatever" };
	size_t i;
	unsigned n;

	up();
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		char line[64];

		fmt("OPTIONS", "sip:localhost", true, NULL);
		snprintf(line, sizeof(line), "SIP/2.0 %s\r\n", codes[i]);
		edit("OPTIONS sip:localhost SIP/2.0\r\n", line);
		n = ask_collect();
		cr_assert_eq(n, 0, "a stray '%s' got an answer: %s", codes[i],
			     sipcli_first_line(&got[0]));
	}
	down();
}

Test(options, ack_is_never_answered)
{
	static const char *const targets[] = { "sip:localhost",
					       "sip:bob@localhost",
					       "sip:bob@example.org" };
	size_t i;
	unsigned n;

	up();
	for (i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		fmt("ACK", targets[i], true, NULL);
		n = ask_collect();
		cr_assert_eq(n, 0, "ACK %s answered: %s", targets[i],
			     sipcli_first_line(&got[0]));
	}
	/* Even a malformed ACK gets no 400 (RFC 3261 §17.2.1 never
	 * answers ACK). */
	fmt("ACK", "sip:bob@localhost", true, NULL);
	edit("CSeq: 1 ACK", "CSeq: x ACK");
	n = ask_collect();
	cr_assert_eq(n, 0, "malformed ACK answered: %s",
		     sipcli_first_line(&got[0]));
	down();
}

Test(options, response_goes_to_via_port_without_rport)
{
	char sentby[64];
	char mine[64];
	unsigned n;
	int rc;

	up();
	cr_assert_eq(sipcli_open_udp(&cli2, sp.host, sp.port), 0);
	/* Sent from cli, Via names cli2's port, no rport: RFC 3261
	 * §18.2.2 sends to the source address at the sent-by port. */
	fmt("OPTIONS", "sip:localhost", false, NULL);
	snprintf(mine, sizeof(mine), "127.0.0.1:%u;", cli.local_port);
	snprintf(sentby, sizeof(sentby), "127.0.0.1:%u;", cli2.local_port);
	edit(mine, sentby);
	cr_assert_eq(sipcli_send_str(&cli, req), 0);
	rc = sipcli_recv_msg(&cli2, rsp, WAIT_MS);
	cr_assert_eq(rc, 0, "nothing arrived at the Via port (%d)", rc);
	cr_assert_eq(rsp->m.status, 200, "got %s", sipcli_first_line(rsp));
	n = 0;
	cr_assert_eq(sipcli_collect(&cli, got, 4, &n, WAIT_MS), 0);
	cr_assert_eq(n, 0, "the source port got an answer too: %s",
		     sipcli_first_line(&got[0]));
	down();
}

Test(options, rport_sends_response_to_source_port)
{
	char sentby[64];
	char mine[64];
	int st;

	up();
	cr_assert_eq(sipcli_open_udp(&cli2, sp.host, sp.port), 0);
	/* Via names cli2's port but has rport: RFC 3581 §4 answers to the
	 * source port, cli. */
	fmt("OPTIONS", "sip:localhost", true, NULL);
	snprintf(mine, sizeof(mine), "127.0.0.1:%u;", cli.local_port);
	snprintf(sentby, sizeof(sentby), "127.0.0.1:%u;", cli2.local_port);
	edit(mine, sentby);
	st = sipcli_transact(&cli, req, strlen(req), WAIT_MS, rsp);
	cr_assert_eq(st, 200, "no 200 at the source port (%d)", st);
	down();
}

Test(options, max_headers_is_enforced)
{
	char extra[2048];
	size_t len = 0;
	int st;
	int i;

	up_with("max_headers: 16\n");
	fmt("OPTIONS", "sip:localhost", true, "X-Few: 1\r\nX-Few: 2\r\n");
	st = ask();
	cr_assert_eq(st, 200, "a request under max_headers got %s",
		     sipcli_first_line(rsp));
	for (i = 0; i < 40; i++)
		len += (size_t)snprintf(extra + len, sizeof(extra) - len,
					"X-Many-%d: %d\r\n", i, i);
	fmt("OPTIONS", "sip:localhost", true, extra);
	st = ask();
	cr_assert(st == 400 || st == 413 || st == 513,
		  "46 headers with max_headers 16 got %s",
		  sipcli_first_line(rsp));
	down();
}

Test(options, garbage_datagrams_get_nothing_back)
{
	static const char pattern[] = "\x00\x01\xff\r\n\r\nSIP/2.0 \t:;";
	char junk[3000];
	struct {
		const char *p;
		size_t len;
	} cases[] = {
		{ "", 0 },
		{ "\r\n\r\n", 4 },
		{ "hello", 5 },
		{ "\0\0\0", 3 },
		{ "SIP/2.0", 7 },
		{ "INVITE", 6 },
		{ "INVITE sip:a@b SIP/2.0\r\n", 24 },
		{ junk, sizeof(junk) },
	};
	size_t i;
	unsigned n;

	for (i = 0; i < sizeof(junk); i++)
		junk[i] = pattern[i % (sizeof(pattern) - 1)];
	up();
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(sipcli_send(&cli, cases[i].p, cases[i].len), 0);
		n = 0;
		cr_assert_eq(sipcli_collect(&cli, got, 4, &n, WAIT_MS), 0,
			     "no answer to OPTIONS after junk %zu", i);
		cr_assert_eq(n, 0, "junk %zu got an answer: %s", i,
			     sipcli_first_line(&got[0]));
	}
	down();
}

Test(options, sigterm_exit_is_clean_after_traffic)
{
	int i;

	up();
	for (i = 0; i < 20; i++)
		cr_assert_eq(sipcli_options(&cli, WAIT_MS, rsp), 200);
	down();
}
