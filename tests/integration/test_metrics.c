/* tests/integration/test_metrics.c - GET /metrics over real HTTP (curl):
 * promtool accepts it, and its counters move by exactly the traffic sent */
#include <criterion/criterion.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/common/mgmtcli.h"
#include "tests/common/proc.h"
#include "tests/common/sipcli.h"

#define TOKEN	"metrics-token-0123456789"
#define WAIT_MS 3000

static struct proc_sipedge sp;
static struct sipcli cli;
static char *page, *page2;

static void setup(void)
{
	memset(&sp, 0, sizeof(sp));
	cli.fd = -1;
	page = NULL;
	page2 = NULL;
}

static void teardown(void)
{
	free(page);
	free(page2);
	if (cli.fd >= 0)
		sipcli_close(&cli);
	proc_sipedge_cleanup(&sp);
}

TestSuite(metrics, .init = setup, .fini = teardown, .timeout = 90);

static void up_with(unsigned workers, const char *extra_yaml)
{
	int err = proc_sipedge_start(&sp, "127.0.0.1", workers, extra_yaml);

	cr_assert_eq(err, 0, "sipedge did not start: %s", sp.why);
	cr_assert_eq(sipcli_open_udp(&cli, "127.0.0.1", sp.port), 0);
}

static void down(void)
{
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/*
 * GET /metrics with curl (a real HTTP client) into @p file; the HTTP
 * status returned, the Content-Type in @p ctype.
 */
static unsigned curl_get(const char *token, const char *file, char *ctype,
			 size_t ctlen)
{
	char url[64], auth[96], *w = NULL, *e = NULL;
	unsigned code = 0;
	char *argv[12];
	int n = 0, rc;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics", sp.mgmt_port);
	argv[n++] = "curl";
	argv[n++] = "-sS";
	argv[n++] = "--max-time";
	argv[n++] = "10";
	argv[n++] = "-o";
	argv[n++] = (char *)file;
	argv[n++] = "-w";
	argv[n++] = "%{http_code} %{content_type}";
	if (token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		argv[n++] = "-H";
		argv[n++] = auth;
	}
	argv[n++] = url;
	argv[n] = NULL;
	/* The harness appends to an output file: start from none. */
	unlink(file);
	rc = proc_capture(argv, sp.dir, "curl", 20000, &w, &e);
	cr_assert_geq(rc, 0,
		      "curl: %s (is it installed? "
		      "scripts/install-deps.sh)",
		      strerror(-rc));
	cr_assert_eq(rc, 0, "curl failed: %s", e);
	if (sscanf(w, "%u", &code) != 1)
		code = 0;
	if (ctype) {
		const char *sp1 = strchr(w, ' ');

		snprintf(ctype, ctlen, "%s", sp1 ? sp1 + 1 : "");
	}
	free(w);
	free(e);
	return code;
}

/* Scrape into a fresh file @p name of the test's dir; the page. */
static char *scrape(const char *name)
{
	char file[PROC_PATH_MAX], ctype[128];
	char *text = NULL;

	snprintf(file, sizeof(file), "%s/%s", sp.dir, name);
	cr_assert_eq(curl_get(NULL, file, ctype, sizeof(ctype)), 200);
	cr_assert_str_eq(ctype, "text/plain; version=0.0.4; charset=utf-8");
	cr_assert_eq(proc_read_file(file, &text), 0);
	return text;
}

/*
 * The sum over every sample of family @p name (the sample name exactly,
 * then '{' or ' ') whose labels contain @p label (NULL: any). Fails the
 * test when no sample matches: a family that vanished is a failure.
 */
static uint64_t sum_of(const char *text, const char *name, const char *label)
{
	size_t nlen = strlen(name);
	unsigned found = 0;
	uint64_t sum = 0;

	for (const char *p = text; p && *p;) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);

		if (len > nlen && !strncmp(p, name, nlen) &&
		    (p[nlen] == '{' || p[nlen] == ' ')) {
			const char *sp1 = memrchr(p, ' ', len);
			char line[512];

			snprintf(line, sizeof(line), "%.*s", (int)len, p);
			if (!label || strstr(line, label)) {
				sum += strtoull(sp1 + 1, NULL, 10);
				found++;
			}
		}
		p = eol ? eol + 1 : NULL;
	}
	cr_assert_gt(found, 0, "no sample %s %s", name, label ? label : "");
	return sum;
}

/* The delta of @p name / @p label between page and page2. */
static uint64_t moved(const char *name, const char *label)
{
	uint64_t a = sum_of(page, name, label), b = sum_of(page2, name, label);

	cr_assert_geq(b, a, "%s %s went down", name, label ? label : "");
	return b - a;
}

/* One request, its final status. */
static int ask(const char *req, int len)
{
	struct sipcli_msg *r = malloc(sizeof(*r));
	int status;

	cr_assert_not_null(r);
	cr_assert_gt(len, 0);
	status = sipcli_transact(&cli, req, (size_t)len, WAIT_MS, r);
	free(r);
	return status;
}

static int options(void)
{
	char buf[2048], self[64];
	int n = sipcli_format(&cli, buf, sizeof(buf), "OPTIONS",
			      sipcli_self_uri(&cli, self, sizeof(self)), NULL,
			      true, NULL, NULL);

	return ask(buf, n);
}

/* REGISTER user@127.0.0.1 from the trusted loopback, one contact. */
static int reg(const char *user, unsigned i)
{
	char buf[2048];
	int n = snprintf(
	    buf, sizeof(buf),
	    "REGISTER sip:127.0.0.1 SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:%u;rport;branch=z9hG4bKmreg%u\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: <sip:%s@127.0.0.1>;tag=mr%u\r\n"
	    "To: <sip:%s@127.0.0.1>\r\n"
	    "Call-ID: metrics-reg-%s-%u\r\nCSeq: 1 REGISTER\r\n"
	    "Contact: <sip:%s@127.0.0.1:%u>;expires=600\r\n"
	    "Content-Length: 0\r\n\r\n",
	    cli.local_port, i, user, i, user, user, i, user, cli.local_port);

	return ask(buf, n);
}

/* An INVITE to a user nobody registered: answered 404 or 480. */
static int invite_nobody(unsigned i)
{
	char buf[2048], ruri[64];
	int n;

	snprintf(ruri, sizeof(ruri), "sip:nobody%u@127.0.0.1", i);
	n = sipcli_format(&cli, buf, sizeof(buf), "INVITE", ruri, NULL, true,
			  NULL, NULL);
	return ask(buf, n);
}

/* Every sample line is "name{labels} value" or "name value": no third
 * field (a timestamp), no '-' in a name. */
static void expect_no_timestamps(const char *text)
{
	unsigned samples = 0;

	for (const char *p = text; p && *p;) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		char line[512];

		snprintf(line, sizeof(line), "%.*s", (int)len, p);
		if (line[0] != '#') {
			const char *end = strchr(line, '}');
			const char *name_end = strpbrk(line, "{ ");

			cr_expect(!strncmp(line, "sipedge_", 8), "%s", line);
			cr_expect(
			    name_end &&
				!memchr(line, '-', (size_t)(name_end - line)),
			    "%s", line);
			end = strchr(end ? end : line, ' ');
			cr_expect(end && !strchr(end + 1, ' '),
				  "a third field: %s", line);
			samples++;
		}
		p = eol ? eol + 1 : NULL;
	}
	cr_expect_gt(samples, 50);
}

Test(metrics, promtool_accepts_the_page_without_a_word)
{
	char file[PROC_PATH_MAX], cmd[2 * PROC_PATH_MAX];
	char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	char *said = NULL, *said_err = NULL;
	int rc;

	up_with(2, NULL);
	/* Some traffic first, so that families have samples that moved. */
	cr_assert_eq(options(), 200);
	cr_assert_eq(reg("alice", 1), 200);
	cr_assert_geq(invite_nobody(1), 400);
	page = scrape("m1.txt");
	snprintf(file, sizeof(file), "%s/m1.txt", sp.dir);
	/* promtool reads the page on stdin; its lint warnings and errors
	 * go to stdout or stderr: both must stay empty. */
	snprintf(cmd, sizeof(cmd), "exec promtool check metrics < '%s'", file);
	rc = proc_capture(argv, sp.dir, "promtool", 20000, &said, &said_err);
	cr_assert_geq(rc, 0, "promtool: %s", strerror(-rc));
	cr_assert_eq(rc, 0, "promtool refused the page");
	cr_expect_str_empty(said, "promtool said: %s", said);
	cr_expect_str_empty(said_err, "promtool said: %s", said_err);
	free(said);
	free(said_err);
	expect_no_timestamps(page);
	/* Every family the issue names is there. */
	cr_expect(strstr(page, "# TYPE sipedge_shard_requests_total counter"));
	cr_expect(strstr(page, "# TYPE sipedge_shard_transactions gauge"));
	cr_expect(strstr(page, "# TYPE sipedge_dialog_live gauge"));
	cr_expect(strstr(page, "# TYPE sipedge_location_contacts gauge"));
	cr_expect(strstr(page, "# TYPE sipedge_auth_failures_total counter"));
	cr_expect(strstr(page, "# TYPE sipedge_shard_inbox gauge"));
	cr_expect(strstr(page, "# TYPE sipedge_shard_tcp_open gauge"));
	cr_expect(strstr(page, "# TYPE sipedge_shard_overloaded_total"));
	cr_expect(strstr(
	    page, "# TYPE sipedge_shard_invite_final_seconds histogram"));
	cr_expect(
	    strstr(page, "# TYPE sipedge_shard_register_seconds histogram"));
	cr_expect(strstr(page, "sipedge_shard_rx_msgs_total{shard=\"1\"}"));
	down();
}

Test(metrics, counters_move_by_exactly_the_traffic_sent)
{
	enum { N_OPTIONS = 5, N_REGISTER = 3, N_INVITE = 4 };
	char user[32];

	up_with(2, NULL);
	page = scrape("before.txt");
	for (unsigned i = 0; i < N_OPTIONS; i++)
		cr_assert_eq(options(), 200);
	for (unsigned i = 0; i < N_REGISTER; i++) {
		snprintf(user, sizeof(user), "user%u", i);
		cr_assert_eq(reg(user, i), 200);
	}
	for (unsigned i = 0; i < N_INVITE; i++) {
		int st = invite_nobody(i);

		cr_assert(st == 404 || st == 480, "INVITE answered %d", st);
	}
	page2 = scrape("after.txt");

	cr_expect_eq(moved("sipedge_shard_rx_msgs_total", NULL),
		     N_OPTIONS + N_REGISTER + N_INVITE);
	cr_expect_eq(
	    moved("sipedge_shard_requests_total", "method=\"OPTIONS\""),
	    N_OPTIONS);
	cr_expect_eq(
	    moved("sipedge_shard_requests_total", "method=\"REGISTER\""),
	    N_REGISTER);
	cr_expect_eq(moved("sipedge_shard_requests_total", "method=\"INVITE\""),
		     N_INVITE);
	cr_expect_eq(moved("sipedge_shard_requests_total", NULL),
		     N_OPTIONS + N_REGISTER + N_INVITE);
	cr_expect_eq(moved("sipedge_shard_responses_sent_total", "\"2xx\""),
		     N_OPTIONS + N_REGISTER);
	cr_expect_eq(moved("sipedge_shard_responses_sent_total", "\"4xx\""),
		     N_INVITE);
	/* Stateless answers: no 100 Trying, nothing else went out. */
	cr_expect_eq(moved("sipedge_shard_responses_sent_total", NULL),
		     N_OPTIONS + N_REGISTER + N_INVITE);
	cr_expect_eq(moved("sipedge_shard_responses_received_total", NULL), 0);
	cr_expect_eq(moved("sipedge_registrar_registers_total", NULL),
		     N_REGISTER);
	cr_expect_eq(moved("sipedge_registrar_added_total", NULL), N_REGISTER);
	cr_expect_eq(moved("sipedge_shard_register_seconds_count", NULL),
		     N_REGISTER);
	cr_expect_eq(moved("sipedge_shard_invite_final_seconds_count", NULL),
		     N_INVITE);
	cr_expect_eq(
	    moved("sipedge_shard_invite_provisional_seconds_count", NULL), 0);
	cr_expect_eq(moved("sipedge_auth_challenges_total", NULL), 0);
	cr_expect_eq(moved("sipedge_shard_overloaded_total", NULL), 0);
	/* Levels: what the table holds now. */
	cr_expect_eq(sum_of(page2, "sipedge_location_aors", NULL), N_REGISTER);
	cr_expect_eq(sum_of(page2, "sipedge_location_contacts", NULL),
		     N_REGISTER);
	cr_expect_eq(sum_of(page2, "sipedge_dialog_live", NULL), 0);
	cr_expect_eq(sum_of(page2, "sipedge_shard_tcp_open", NULL), 0);
	cr_expect_eq(sum_of(page2, "sipedge_shard_inbox", NULL), 0);
	down();
}

Test(metrics, histograms_count_every_invite_and_are_cumulative)
{
	enum { K = 7 };
	static const char bucket[] =
	    "sipedge_shard_invite_final_seconds_bucket{le=\"";
	char le[32];
	uint64_t prev = 0, count, inf;
	unsigned buckets = 0;

	up_with(1, NULL);
	for (unsigned i = 0; i < K; i++)
		cr_assert_geq(invite_nobody(i), 400);
	page = scrape("hist.txt");
	count = sum_of(page, "sipedge_shard_invite_final_seconds_count", NULL);
	cr_expect_eq(count, K);
	inf = sum_of(page, "sipedge_shard_invite_final_seconds_bucket",
		     "le=\"+Inf\"");
	cr_expect_eq(inf, K, "+Inf holds every observation");
	/* Each bucket holds at least what the one before it holds (the
	 * proxy's shards: the B2B pool's "b2b" family has its own). */
	for (const char *p = strstr(page, bucket); p;
	     p = strstr(p + 1, bucket)) {
		uint64_t v = strtoull(strchr(p, ' ') + 1, NULL, 10);
		const char *q = p + strlen(bucket);

		snprintf(le, sizeof(le), "%.*s", (int)(strchr(q, '"') - q), q);
		cr_expect_geq(v, prev, "bucket le=%s below the one before", le);
		cr_expect_leq(v, count);
		prev = v;
		buckets++;
	}
	cr_expect_eq(buckets, 17, "16 bounds and +Inf");
	cr_expect_eq(prev, K, "the last bucket is +Inf");
	down();
}

Test(metrics, token_guards_the_page)
{
	char file[PROC_PATH_MAX];

	cr_assert_eq(proc_sipedge_start_token(&sp, "127.0.0.1", 1, TOKEN), 0,
		     "sipedge did not start: %s", sp.why);
	cr_assert_eq(sipcli_open_udp(&cli, "127.0.0.1", sp.port), 0);
	snprintf(file, sizeof(file), "%s/guarded.txt", sp.dir);
	cr_expect_eq(curl_get(NULL, file, NULL, 0), 401);
	cr_expect_eq(curl_get("wrong-token-0123456789", file, NULL, 0), 401);
	cr_expect_eq(curl_get(TOKEN, file, NULL, 0), 200);
	cr_assert_eq(proc_read_file(file, &page), 0);
	cr_expect(strstr(page, "# TYPE sipedge_shard_rx_msgs_total counter"));
	down();
}

/* A balancer's health check has no token: /health answers without
 * one, and tells nothing but the state (memory store: no redis). */
Test(metrics, health_is_open_and_says_ok)
{
	unsigned status = 0;
	char *body = NULL;

	cr_assert_eq(proc_sipedge_start_token(&sp, "127.0.0.1", 1, TOKEN), 0,
		     "sipedge did not start: %s", sp.why);
	cr_assert_eq(mgmtcli_http(sp.mgmt_port, "GET", "/health", NULL, NULL,
				  &status, &body),
		     0);
	cr_expect_eq(status, 200);
	cr_expect_str_eq(body, "{\"status\":\"ok\"}\n");
	free(body);
	body = NULL;
	/* Only /health is open: /metrics still wants the token. */
	cr_assert_eq(mgmtcli_http(sp.mgmt_port, "GET", "/metrics", NULL, NULL,
				  &status, &body),
		     0);
	cr_expect_eq(status, 401);
	free(body);
	down();
}
