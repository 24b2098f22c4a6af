/* tests/integration/test_replay.c - every corpus message sent to a running
 * sipedge over UDP and TCP: it stays up, answers as RFC 4475 expects */
#include <criterion/criterion.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proxy/sip/msg.h"
#include "tests/common/corpus.h"
#include "tests/common/proc.h"
#include "tests/common/sipcli.h"

#define WAIT_MS 5000
/* How long a TCP connection is read when nothing comes back: the
 * message may be incomplete (sipedge waits for more) or need no answer.
 * It bounds the test's run time only; any outcome passes. */
#define TCP_READ_MS 200
#define UDP_MAX	    65507
#define MAX_COLLECT 4

static struct proc_sipedge sp;
static struct sipcli udp;
static struct sipcli tcp;
static struct sipcli_msg *rsp;
static struct sipcli_msg *got;
static char *buf;

static void setup(void)
{
	memset(&sp, 0, sizeof(sp));
	udp.fd = -1;
	tcp.fd = -1;
	rsp = malloc(sizeof(*rsp));
	got = malloc(MAX_COLLECT * sizeof(*got));
	buf = malloc(2 * SIPCLI_BUF_SIZE);
	cr_assert(rsp && got && buf);
}

static void teardown(void)
{
	sipcli_close(&udp);
	sipcli_close(&tcp);
	free(rsp);
	free(got);
	free(buf);
	proc_sipedge_cleanup(&sp);
}

TestSuite(replay, .init = setup, .fini = teardown, .timeout = 150);

/*
 * One shard, so that sipcli_collect() sees answers in order. No one of
 * ours listens on 5060 or 5070 (proc_free_port() never picks them):
 * answers sent to the corpus' Via ports go nowhere, which is fine.
 */
static void up(void)
{
	int err = proc_sipedge_start(&sp, "127.0.0.1", 1, NULL);

	cr_assert_eq(err, 0, "sipedge did not start: %s", sp.why);
	cr_assert_eq(sipcli_open_udp(&udp, sp.host, sp.port), 0);
}

static void down(void)
{
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* sipedge still answers an OPTIONS over UDP after @what. */
static void alive(const char *what, const char *transport)
{
	int st = sipcli_options(&udp, WAIT_MS, rsp);

	cr_assert_eq(st, 200,
		     "sipedge stopped answering OPTIONS (%d) after %s was "
		     "sent over %s",
		     st, what, transport);
}

/*
 * Send @data over a fresh TCP connection and read what comes back until
 * the first complete message, the server's close, or TCP_READ_MS.
 * Returns 1 when a message came back (in rsp), 0 when none did.
 */
static int tcp_one(const char *data, size_t len)
{
	int err;
	int rc;

	err = sipcli_open_tcp(&tcp, sp.host, sp.port);
	cr_assert_eq(err, 0, "connect: %s", strerror(-err));
	/* sipedge may close before it has read everything (413). */
	sipcli_send(&tcp, data, len);
	rc = sipcli_recv_msg(&tcp, rsp, TCP_READ_MS);
	sipcli_close(&tcp);
	return rc == 0;
}

static bool is_response_or_ack(const char *data, size_t len)
{
	return (len >= 4 && !memcmp(data, "SIP/", 4)) ||
	       (len >= 4 && !memcmp(data, "ACK ", 4));
}

/* Send every file of @names over UDP (TCP when too large), each followed
 * by an OPTIONS liveness check. */
static void replay_udp(char **names, int n)
{
	char *data;
	size_t len;
	int i;

	for (i = 0; i < n; i++) {
		cr_assert_eq(corpus_read(names[i], &data, &len), 0,
			     "cannot read %s", names[i]);
		if (len > UDP_MAX)
			tcp_one(data, len);
		else
			cr_assert_eq(sipcli_send(&udp, data, len), 0, "send %s",
				     names[i]);
		free(data);
		alive(names[i],
		      len > UDP_MAX ? "TCP (too large for UDP)" : "UDP");
	}
}

/* Send every file of @names over its own TCP connection, each followed
 * by an OPTIONS liveness check over UDP. Responses and ACKs must get
 * nothing back. */
static void replay_tcp(char **names, int n)
{
	char *data;
	size_t len;
	int i;

	for (i = 0; i < n; i++) {
		cr_assert_eq(corpus_read(names[i], &data, &len), 0,
			     "cannot read %s", names[i]);
		if (tcp_one(data, len))
			cr_expect(!is_response_or_ack(data, len),
				  "%s (a response or ACK) got an answer "
				  "over TCP: %s",
				  names[i], sipcli_first_line(rsp));
		free(data);
		alive(names[i], "TCP");
	}
}

static int list(const char *dir, const char *suffix, char ***namesp)
{
	int n = corpus_list(dir, suffix, namesp);

	cr_assert_gt(n, 0, "no %s files in %s/%s (%s)", suffix, corpus_dir(),
		     dir, n < 0 ? strerror(-n) : "empty");
	return n;
}

static void replay_dir(const char *dir, const char *suffix, bool over_tcp,
		       int expect_n)
{
	char **names = NULL;
	int n = list(dir, suffix, &names);

	cr_assert_eq(n, expect_n, "%s holds %d files, expected %d", dir, n,
		     expect_n);
	up();
	if (over_tcp)
		replay_tcp(names, n);
	else
		replay_udp(names, n);
	corpus_list_free(names, n);
	down();
}

/* The rfc4475 files, valid/ then invalid/. */
static int rfc4475_names(char ***namesp)
{
	char **v = NULL;
	char **inv = NULL;
	char **all;
	int nv = list("rfc4475/valid", ".dat", &v);
	int ni = list("rfc4475/invalid", ".dat", &inv);

	all = malloc((size_t)(nv + ni) * sizeof(*all));
	cr_assert_not_null(all);
	memcpy(all, v, (size_t)nv * sizeof(*all));
	memcpy(all + nv, inv, (size_t)ni * sizeof(*all));
	free(v);
	free(inv);
	*namesp = all;
	return nv + ni;
}

Test(replay, rfc4475_verbatim_over_udp_keeps_it_up)
{
	char **names = NULL;
	int n = rfc4475_names(&names);

	cr_assert_eq(n, 49);
	up();
	replay_udp(names, n);
	corpus_list_free(names, n);
	down();
}

Test(replay, rfc4475_verbatim_over_tcp_keeps_it_up)
{
	char **names = NULL;
	int n = rfc4475_names(&names);

	cr_assert_eq(n, 49);
	up();
	replay_tcp(names, n);
	corpus_list_free(names, n);
	down();
}

Test(replay, protos_over_udp_keeps_it_up)
{
	replay_dir("protos", ".sip", false, 325);
}

Test(replay, protos_over_tcp_keeps_it_up)
{
	replay_dir("protos", ".sip", true, 325);
}

Test(replay, pjsip_seed_over_udp_keeps_it_up)
{
	replay_dir("pjsip-seed", ".sip", false, 18);
}

Test(replay, pjsip_seed_over_tcp_keeps_it_up)
{
	replay_dir("pjsip-seed", ".sip", true, 18);
}

/* --- RFC 4475 answers against MANIFEST.tsv -------------------------- */

/*
 * Most RFC 4475 Vias name hosts that are not ours (192.0.2.x,
 * example.com) without rport, so over UDP the answer would go to
 * 127.0.0.1 at the Via port (5060 when absent), where we cannot listen.
 * For this pass each message is copied with its top via-parm replaced
 * by "SIP/2.0/UDP 127.0.0.1:<our port>;rport" and the original branch
 * (none when it had none); the other Via values and every other byte
 * stay. This pass checks sipedge's decisions; the verbatim passes above
 * check robustness on the untouched bytes. Where the top Via itself is
 * the fault under test (badinv01) only liveness is checked.
 */
static bool name_is_via(const char *p, size_t n)
{
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	return (n == 3 && !strncasecmp(p, "via", 3)) ||
	       (n == 1 && (p[0] == 'v' || p[0] == 'V'));
}

/* End of the line starting at @p (past its LF), or @end. */
static const char *line_end(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	return nl ? nl + 1 : end;
}

static int rewrite_top_via(const char *msg, size_t len, char *out, size_t size,
			   uint16_t port)
{
	const char *end = msg + len;
	const char *p = line_end(msg, end);
	const char *hstart = NULL;
	const char *hend = NULL;
	const char *val;
	const char *comma = NULL;
	const char *b;
	char branch[512] = "";
	bool quoted = false;
	const char *q;
	int n;

	/* Find the first Via header line (stop at the blank line). */
	while (p < end && *p != '\r' && *p != '\n') {
		const char *le = line_end(p, end);
		const char *colon = memchr(p, ':', (size_t)(le - p));

		if (colon && name_is_via(p, (size_t)(colon - p))) {
			hstart = p;
			hend = le;
			/* Folded continuation lines belong to it. */
			while (hend < end && (*hend == ' ' || *hend == '\t'))
				hend = line_end(hend, end);
			break;
		}
		p = le;
	}
	if (!hstart)
		return -ENOENT;
	val = memchr(hstart, ':', (size_t)(hend - hstart)) + 1;
	for (q = val; q < hend; q++) {
		if (*q == '"')
			quoted = !quoted;
		else if (*q == ',' && !quoted) {
			comma = q;
			break;
		}
	}
	/* The branch of the first via-parm, if any. */
	for (b = val; b + 6 <= (comma ? comma : hend); b++) {
		if (!strncasecmp(b, "branch", 6)) {
			const char *s = b + 6;
			size_t k = 0;

			while (s < hend && (*s == ' ' || *s == '\t'))
				s++;
			if (s >= hend || *s != '=')
				continue;
			s++;
			while (s < hend && (*s == ' ' || *s == '\t'))
				s++;
			while (s < hend && k < sizeof(branch) - 1 &&
			       !strchr(";, \t\r\n", *s))
				branch[k++] = *s++;
			branch[k] = '\0';
			break;
		}
	}
	n = snprintf(out, size, "%.*sVia: SIP/2.0/UDP 127.0.0.1:%u;rport%s%s",
		     (int)(hstart - msg), msg, port,
		     branch[0] ? ";branch=" : "", branch);
	if (n < 0 || (size_t)n >= size)
		return -ENOSPC;
	if (comma) {
		/* Keep the other values, line end and folds included. */
		if ((size_t)n + (size_t)(hend - comma) >= size)
			return -ENOSPC;
		memcpy(out + n, comma, (size_t)(hend - comma));
		n += (int)(hend - comma);
	} else {
		if ((size_t)n + 2 >= size)
			return -ENOSPC;
		memcpy(out + n, "\r\n", 2);
		n += 2;
	}
	if ((size_t)n + (size_t)(end - hend) > size)
		return -ENOSPC;
	memcpy(out + n, hend, (size_t)(end - hend));
	n += (int)(end - hend);
	return n;
}

/* Alternatives the manifest's detail column allows. */
struct alt {
	const char *name;
	unsigned codes[3]; /* also acceptable statuses */
	bool process;	   /* "process" is acceptable too */
	bool drop;	   /* silence is acceptable too */
};

static const struct alt alts[] = {
	{ "zeromf", { 483, 200 }, false, false },
	{ "regaut01", { 401 }, true, false },
	{ "badbranch", { 400 }, true, false },
	{ "unksm2", { 400 }, true, false },
	{ "mismatch02", { 501, 400 }, false, false },
	{ "baddate", { 400 }, true, false },
	{ "insuf", { 400 }, false, true },
	{ "novelsc", { 416, 404 }, false, false },
};

/* Names where the top Via is the fault: liveness only. */
static const char *const via_faults[] = { "badinv01" };

/* "process" rows that sipedge forwards instead of answering: a valid
 * non-INVITE sent on to its Route (mpart01: 127.0.0.1:5080), which is not
 * answered until the next hop answers or Timer F ends it. Every other
 * "process" row gets an answer (404/480/483...): silence there fails. */
static const char *const forwarded[] = { "mpart01" };

static bool is_forwarded(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		if (!strcmp(forwarded[i], name))
			return true;
	return false;
}

static const struct alt *find_alt(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(alts) / sizeof(alts[0]); i++)
		if (!strcmp(alts[i].name, name))
			return &alts[i];
	return NULL;
}

/*
 * Judge what came back: @nfinal final responses, the last one @st (0
 * when none), @nany messages in all. Returns NULL when fine, else why.
 */
static const char *judge(const char *name, const char *expected, unsigned st,
			 unsigned nfinal, unsigned nany)
{
	const struct alt *a = find_alt(name);
	bool drop = !strcmp(expected, "drop") || (a && a->drop);
	bool process = !strcmp(expected, "process") || (a && a->process);
	unsigned want = (unsigned)strtoul(expected, NULL, 10);
	size_t i;

	/* "process" may mean forwarded (see forwarded[]). */
	if (nany == 0)
		return drop || (process && is_forwarded(name)) ? NULL
							       : "no answer";
	if (!strcmp(expected, "drop"))
		return "a message that must be dropped got an answer";
	if (nfinal == 0)
		return "no final answer";
	if (nfinal > 1)
		return "more than one final answer";
	if (want && st == want)
		return NULL;
	for (i = 0; a && i < 3 && a->codes[i]; i++)
		if (st == a->codes[i])
			return NULL;
	if (process && st != 400)
		return NULL;
	return "wrong status";
}

Test(replay, rfc4475_answers_match_the_manifest)
{
	struct corpus_row *rows = NULL;
	char path[256];
	char *data;
	size_t len;
	int nrows;
	int i;
	unsigned k;

	nrows = corpus_manifest("rfc4475/MANIFEST.tsv", &rows);
	cr_assert_eq(nrows, 49, "rfc4475/MANIFEST.tsv: %d rows", nrows);
	up();
	for (i = 0; i < nrows; i++) {
		const char *file = rows[i].col[0];
		const char *name = rows[i].col[1];
		const char *expected = rows[i].col[3];
		bool skip = false;
		unsigned n = 0;
		unsigned nfinal = 0;
		unsigned st = 0;
		const char *why;
		int m;

		cr_assert_geq(rows[i].ncol, 5, "short manifest row %d", i);
		for (k = 0; k < sizeof(via_faults) / sizeof(via_faults[0]); k++)
			skip |= !strcmp(name, via_faults[k]);
		snprintf(path, sizeof(path), "rfc4475/%s", file);
		cr_assert_eq(corpus_read(path, &data, &len), 0,
			     "cannot read %s", path);
		if (skip) {
			cr_assert_eq(sipcli_send(&udp, data, len), 0);
			free(data);
			alive(path, "UDP");
			continue;
		}
		m = rewrite_top_via(data, len, buf, 2 * SIPCLI_BUF_SIZE,
				    udp.local_port);
		free(data);
		cr_assert_gt(m, 0, "%s: no Via to rewrite (%d)", path, m);
		cr_assert_eq(sipcli_send(&udp, buf, (size_t)m), 0);
		cr_assert_eq(
		    sipcli_collect(&udp, got, MAX_COLLECT, &n, WAIT_MS), 0,
		    "sipedge stopped answering after %s", path);
		for (k = 0; k < n && k < MAX_COLLECT; k++) {
			if (!got[k].m.is_request && got[k].m.status >= 200) {
				nfinal++;
				st = got[k].m.status;
			}
		}
		why = judge(name, expected, st, nfinal, n);
		cr_expect_null(why,
			       "%s: %s; expected %s (%s); got %u message(s), "
			       "first: '%s'",
			       name, why, expected, rows[i].col[4], n,
			       n ? sipcli_first_line(&got[0]) : "");
	}
	corpus_rows_free(rows, nrows);
	down();
}
