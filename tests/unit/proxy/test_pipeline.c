/* tests/unit/proxy/test_core.c - what the core answers, without sockets */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "proxy/base/arena.h"
#include "proxy/base/obj.h"
#include "proxy/core/conf.h"
#include "proxy/pipeline.h"
#include "proxy/route.h"
#include "proxy/sip/msg.h"
#include "tests/common/corpus.h"
#include "store/rcu.h"
#include "tests/unit/msgin.h"
#include "tests/common/teardown.h"

#define MAXH 128

static struct sipmsg m;
static struct siphdr hdrs[MAXH];
static int parsed;

static char *served[] = { "localhost", "127.0.0.1", "example.com" };
static struct conf_listen listen1 = {
	.address = "192.0.2.53",
	.port = 5060,
	.udp = true,
	.tcp = true,
};
static struct conf cf;

static void setup(void)
{
	/* route_plan() reads the location table under RCU. */
	urcu_memb_register_thread();
	msgin_init_size(16384);
	memset(&cf, 0, sizeof(cf));
	cf.workers = 1;
	cf.listen = &listen1;
	cf.nlisten = 1;
	cf.domains = served;
	cf.ndomains = 3;
	cf.max_headers = MAXH;
	cf.server_name = "sipedge/test";
}

static void teardown(void)
{
	msgin_fini();
	urcu_memb_unregister_thread();
}

TestSuite(core, .init = setup, .fini = teardown, .timeout = 60);

static void parse_len(const char *text, size_t len)
{
	const char *in = msgin_copy(text, len ? len : 1);

	arena_reset(msgin_arena);
	memset(&m, 0, sizeof(m));
	parsed = sipmsg_parse(&m, in, len, hdrs, MAXH, 0);
}

static struct pipeline_verdict decide_text(const char *text)
{
	struct pipeline_verdict v;

	parse_len(text, strlen(text));
	cr_assert_eq(pipeline_decide(&cf, &m, parsed, msgin_arena, &v), 0);
	return v;
}

static struct pipeline_verdict decide_req(const char *start, const char *lines)
{
	char buf[1024];
	int n;

	n = snprintf(buf, sizeof(buf),
		     "%s\r\n"
		     "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKc1\r\n"
		     "From: <sip:a@example.net>;tag=1\r\n"
		     "To: <sip:b@example.com>\r\n"
		     "Call-ID: core@x\r\n"
		     "%s"
		     "Content-Length: 0\r\n"
		     "\r\n",
		     start, lines);
	cr_assert(n > 0 && (size_t)n < sizeof(buf));
	return decide_text(buf);
}

static void assert_reply(struct pipeline_verdict v, unsigned status)
{
	cr_assert_eq(v.action, PIPELINE_REPLY, "dropped: %s",
		     v.reason ? v.reason : "");
	cr_assert_eq(v.status, status, "status %u (%s), want %u", v.status,
		     v.reason ? v.reason : "", status);
	cr_assert_not_null(v.reason);
}

static bool has_line(struct slice extra, const char *line)
{
	return memmem(extra.p, extra.len, line, strlen(line)) != NULL;
}

Test(core, options_for_the_proxy_gets_200_with_capabilities)
{
	struct pipeline_verdict v;

	v = decide_req("OPTIONS sip:example.com SIP/2.0",
		       "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n");
	assert_reply(v, 200);
	cr_assert(!v.invalid);
	cr_assert(has_line(v.extra, "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, "
				    "PRACK, UPDATE, INFO, REFER, SUBSCRIBE, "
				    "NOTIFY, MESSAGE, REGISTER\r\n"));
	cr_assert(
	    has_line(v.extra, "Supported: path, outbound, gruu, 100rel\r\n"));
	cr_assert(has_line(v.extra, "Accept: application/sdp\r\n"));
	cr_assert_eq(v.extra.p[v.extra.len - 1], '\n');
}

Test(core, options_for_us_with_zero_max_forwards_is_200)
{
	assert_reply(decide_req("OPTIONS sip:127.0.0.1 SIP/2.0",
				"CSeq: 1 OPTIONS\r\nMax-Forwards: 0\r\n"),
		     200);
	/* A listen address that is not a served domain, with its port. */
	assert_reply(decide_req("OPTIONS sip:192.0.2.53:5060 SIP/2.0",
				"CSeq: 1 OPTIONS\r\nMax-Forwards: 0\r\n"),
		     200);
	/* Another port on that address is not us: must not forward. */
	assert_reply(decide_req("OPTIONS sip:192.0.2.53:5080 SIP/2.0",
				"CSeq: 1 OPTIONS\r\nMax-Forwards: 0\r\n"),
		     483);
	/* For a user: not for the proxy. */
	assert_reply(decide_req("OPTIONS sip:bob@example.com SIP/2.0",
				"CSeq: 1 OPTIONS\r\nMax-Forwards: 0\r\n"),
		     483);
}

static void assert_action(struct pipeline_verdict v, enum pipeline_action want)
{
	cr_assert_eq(v.action, want, "action %d (%u %s), want %d", v.action,
		     v.status, v.reason ? v.reason : "", want);
	cr_assert(!v.invalid);
}

Test(core, valid_requests_for_users_are_routed_register_goes_to_registrar)
{
	assert_action(decide_req("INVITE sip:bob@example.com SIP/2.0",
				 "CSeq: 1 INVITE\r\n"),
		      PIPELINE_ROUTE);
	assert_action(decide_req("MESSAGE sip:bob@LOCALHOST SIP/2.0",
				 "CSeq: 1 MESSAGE\r\n"),
		      PIPELINE_ROUTE);
	assert_action(decide_req("REGISTER sip:example.com SIP/2.0",
				 "CSeq: 1 REGISTER\r\n"),
		      PIPELINE_REGISTER);
	/* A REGISTER for a foreign domain is routed on like any request. */
	assert_action(decide_req("REGISTER sip:elsewhere.example.org SIP/2.0",
				 "CSeq: 1 REGISTER\r\n"),
		      PIPELINE_ROUTE);
	assert_action(decide_req("INVITE sip:bob@elsewhere.example.org SIP/2.0",
				 "CSeq: 1 INVITE\r\n"),
		      PIPELINE_ROUTE);
	assert_action(
	    decide_req("INVITE tel:+15551234567 SIP/2.0", "CSeq: 1 INVITE\r\n"),
	    PIPELINE_ROUTE);
	/* The core asks the transactions first: a CANCEL that reaches
	 * pipeline_decide() matched none. */
	assert_reply(decide_req("CANCEL sip:bob@example.com SIP/2.0",
				"CSeq: 1 CANCEL\r\n"),
		     481);
}

Test(core, unknown_method_for_the_proxy_itself_is_501)
{
	assert_reply(
	    decide_req("FOO sip:example.com SIP/2.0", "CSeq: 1 FOO\r\n"), 501);
	/* For a user it is routed like any method (RFC 3261 §16). */
	assert_action(
	    decide_req("FOO sip:bob@example.com SIP/2.0", "CSeq: 1 FOO\r\n"),
	    PIPELINE_ROUTE);
}

Test(core, ack_and_responses_are_never_answered)
{
	struct pipeline_verdict v;

	v = decide_req("ACK sip:bob@example.com SIP/2.0", "CSeq: 1 ACK\r\n");
	cr_assert_eq(v.action, PIPELINE_DROP);
	/* Malformed ACK: still silent. */
	v = decide_req("ACK sip:bob@example.com SIP/2.0",
		       "CSeq: 1 ACK\r\nCSeq: 2 ACK\r\n");
	cr_assert_eq(v.action, PIPELINE_DROP);
	v = decide_text("SIP/2.0 200 OK\r\n"
			"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKr\r\n"
			"From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\n"
			"Call-ID: c@x\r\nCSeq: 1 INVITE\r\n\r\n");
	cr_assert_eq(v.action, PIPELINE_DROP);
	cr_assert(!v.invalid);
	v = decide_text("SIP/2.0 200 OK\r\n\r\n");
	cr_assert_eq(v.action, PIPELINE_DROP);
	v = decide_text("\x01\x02 garbage\r\n\r\n");
	cr_assert_eq(v.action, PIPELINE_DROP);
}

Test(core, requests_without_via_or_cseq_are_dropped)
{
	struct pipeline_verdict v;

	v = decide_text("INVITE sip:bob@example.com SIP/2.0\r\n"
			"From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\n"
			"Call-ID: c@x\r\nCSeq: 1 INVITE\r\n\r\n");
	cr_assert_eq(v.action, PIPELINE_DROP);
	cr_assert(v.invalid);
	v = decide_text("INVITE sip:bob@example.com SIP/2.0\r\n"
			"Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
			"From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\n"
			"Call-ID: c@x\r\n\r\n");
	cr_assert_eq(v.action, PIPELINE_DROP);
}

Test(core, malformed_requests_get_400_naming_the_fault)
{
	struct pipeline_verdict v;

	v = decide_req("INVITE sip:bob@example.com SIP/2.0",
		       "CSeq: 1 INVITE\r\nCSeq: 2 INVITE\r\n");
	assert_reply(v, 400);
	cr_assert(v.invalid);
	cr_assert_eq(v.reason, m.fault);
}

/*
 * What each RFC 4475 message may get. The expected column of
 * MANIFEST.tsv is read from the file; the alternatives below are the
 * ones its also_acceptable_or_detail column names in words.
 */
static const struct {
	const char *name;
	const char *also; /* space-separated outcomes */
} alternatives[] = {
	{ "zeromf", "200" },	   /* 200 also acceptable (OPTIONS) */
	{ "regaut01", "process" }, /* registrar without auth: process */
	{ "badbranch", "400" },	   /* 400 (preferably stateless) too */
	{ "unksm2", "process" },   /* a pure proxy processes it */
	{ "mismatch02", "400" },   /* 400 also acceptable */
	{ "baddate", "process" },  /* a proxy not using Date forwards */
	{ "insuf", "drop" },	   /* drop if no response can be built */
};

/* Does @p v match the outcome word @p w (process, drop, or a code)? */
static bool outcome_is(const struct pipeline_verdict *v, const char *w,
		       size_t wlen)
{
	char *end;
	unsigned long code;

	if (wlen == 4 && memcmp(w, "drop", 4) == 0)
		return v->action == PIPELINE_DROP;
	if (wlen == 7 && memcmp(w, "process", 7) == 0)
		return v->action == PIPELINE_ROUTE ||
		       v->action == PIPELINE_REGISTER ||
		       (v->action == PIPELINE_REPLY && v->status != 400);
	code = strtoul(w, &end, 10);
	cr_assert(end == w + wlen && code >= 100 && code <= 699,
		  "unknown expected outcome '%.*s' in MANIFEST.tsv", (int)wlen,
		  w);
	return v->action == PIPELINE_REPLY && v->status == code;
}

static bool outcome_in(const struct pipeline_verdict *v, const char *list)
{
	const char *p = list;

	while (*p) {
		size_t n = strcspn(p, " ");

		if (n && outcome_is(v, p, n))
			return true;
		p += n;
		p += strspn(p, " ");
	}
	return false;
}

static void run_rfc4475(void)
{
	struct corpus_row *rows;
	struct pipeline_verdict v;
	int n, checked = 0;

	n = corpus_manifest("rfc4475/MANIFEST.tsv", &rows);
	cr_assert_gt(n, 0);
	for (int i = 0; i < n; i++) {
		char path[256], *data;
		const char *also = "";
		size_t len;

		cr_assert_geq(rows[i].ncol, 4, "row %d", i);
		snprintf(path, sizeof(path), "rfc4475/%s", rows[i].col[0]);
		cr_assert_eq(corpus_read(path, &data, &len), 0, "%s", path);
		parse_len(data, len);
		free(data);
		cr_assert_eq(pipeline_decide(&cf, &m, parsed, msgin_arena, &v),
			     0, "%s", path);
		for (size_t k = 0;
		     k < sizeof(alternatives) / sizeof(alternatives[0]); k++)
			if (strcmp(alternatives[k].name, rows[i].col[1]) == 0)
				also = alternatives[k].also;
		cr_assert(
		    outcome_in(&v, rows[i].col[3]) || outcome_in(&v, also),
		    "%s: got %s %u %s; want %s (or '%s')", rows[i].col[1],
		    v.action == PIPELINE_DROP ? "drop" : "reply", v.status,
		    v.reason ? v.reason : "", rows[i].col[3], also);
		checked++;
	}
	corpus_rows_free(rows, n);
	cr_assert_eq(checked, 49);
}

Test(core, rfc4475_outcomes_as_the_manifest_says)
{
	run_rfc4475();
}

Test(core, rfc4475_outcomes_for_foreign_domains_too)
{
	cf.ndomains = 2; /* example.com no longer served: 404, not 480 */
	run_rfc4475();
}

Test(core, protos_never_forward_nor_succeed)
{
	struct corpus_row *rows;
	struct pipeline_verdict v;
	int n, replied = 0;

	n = corpus_manifest("protos/MANIFEST.tsv", &rows);
	cr_assert_gt(n, 300);
	for (int i = 0; i < n; i++) {
		char path[256], *data;
		size_t len;

		snprintf(path, sizeof(path), "protos/%s", rows[i].col[0]);
		cr_assert_eq(corpus_read(path, &data, &len), 0, "%s", path);
		parse_len(data, len);
		free(data);
		cr_assert_eq(pipeline_decide(&cf, &m, parsed, msgin_arena, &v),
			     0, "%s", path);
		if (v.action == PIPELINE_DROP)
			continue;
		/* A valid one is routed (to nobody: 480 from the route),
		 * never answered here. */
		if (strcmp(rows[i].col[2], "valid") == 0)
			cr_assert_eq(v.action, PIPELINE_ROUTE, "%s: %u %s",
				     path, v.status, v.reason);
		if (v.action == PIPELINE_ROUTE) {
			/* Nobody is registered and nothing is configured:
			 * the route answers, nothing is forwarded. */
			struct route_plan p;

			cr_assert_eq(route_plan(&cf, &m, msgin_arena, &p), 0);
			/* A host name is left to the resolver, which this
			 * config does not have (404 then). */
			cr_assert((p.status >= 400 && p.status <= 599) ||
				      (p.ntargets == 1 && p.t[0].resolve.len),
				  "%s: forwarded (%u)", path, p.status);
			replied++;
			continue;
		}
		cr_assert_eq(v.action, PIPELINE_REPLY, "%s", path);
		cr_assert(v.status >= 400 && v.status <= 599, "%s: %u %s", path,
			  v.status, v.reason);
		replied++;
	}
	corpus_rows_free(rows, n);
	/* Most PROTOS cases keep their Via/From/To/Call-ID/CSeq. */
	cr_assert_gt(replied, n / 2);
}
