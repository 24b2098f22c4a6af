/* tests/integration/test_sipload.c - sipload against itself, SIPp and
 * sipedge: every scenario (3pcc too), digest auth, loss, the loopback
 * rule */
#include <criterion/criterion.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tests/common/proc.h"
#include "tests/common/sipp.h"
#include "tests/common/uahash.h"

#define MAX_PROCS	   4
#define MAX_NUMS	   512
#define UAS_CSV		   "tests/integration/sipload/users.csv"
#define SIPP_UAS	   "bench/sipp/uas_call.xml"
#define SIPP_UAC	   "bench/sipp/uac_call.xml"
#define SIPP_3PCC	   "tests/integration/sipp/uac_3pcc.xml"
#define SIPP_3PCC_UAS	   "tests/integration/sipp/uas_3pcc.xml"
#define SIPP_3PCC_NO_OFFER "tests/integration/sipp/uas_3pcc_no_offer.xml"
#define SIPP_3PCC_NO_ACK   "tests/integration/sipp/uac_3pcc_no_ack.xml"

static char dir[PROC_PATH_MAX / 2];
static pid_t procs[MAX_PROCS];
static char *texts[8];
static unsigned ntexts;
static struct proc_sipedge sp;

static void setup(void)
{
	memset(procs, 0, sizeof(procs));
	memset(&sp, 0, sizeof(sp));
	ntexts = 0;
	cr_assert_eq(proc_tmpdir(dir, sizeof(dir)), 0);
}

static void teardown(void)
{
	unsigned i;

	for (i = 0; i < MAX_PROCS; i++)
		if (procs[i] > 0)
			proc_kill(procs[i]);
	for (i = 0; i < ntexts; i++)
		free(texts[i]);
	proc_sipedge_cleanup(&sp);
	proc_rmtree(dir);
}

TestSuite(sipload, .init = setup, .fini = teardown, .timeout = 60);

/* ---- a small JSON reader: validates, and keeps every number by its
 * dotted path ("latency_us.final.count") ---- */

struct json_num {
	char path[96];
	double v;
};

struct json {
	struct json_num num[MAX_NUMS];
	unsigned n;
	const char *p;
	bool ok;
};

static void json_ws(struct json *j)
{
	while (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t')
		j->p++;
}

static bool json_string(struct json *j, char *out, size_t size)
{
	size_t n = 0;

	if (*j->p != '"')
		return false;
	for (j->p++; *j->p && *j->p != '"'; j->p++) {
		if ((unsigned char)*j->p < 0x20)
			return false;
		if (*j->p == '\\') {
			j->p++;
			if (!*j->p || !strchr("\"\\/bfnrtu", *j->p))
				return false;
		}
		if (out && n + 1 < size)
			out[n++] = *j->p;
	}
	if (out)
		out[n] = '\0';
	if (*j->p != '"')
		return false;
	j->p++;
	return true;
}

static bool json_value(struct json *j, const char *path, unsigned depth);

static bool json_object(struct json *j, const char *path, unsigned depth)
{
	j->p++;
	json_ws(j);
	if (*j->p == '}') {
		j->p++;
		return true;
	}
	for (;;) {
		char key[64];
		char sub[96];

		json_ws(j);
		if (!json_string(j, key, sizeof(key)))
			return false;
		json_ws(j);
		if (*j->p++ != ':')
			return false;
		snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] ? "." : "",
			 key);
		if (!json_value(j, sub, depth + 1))
			return false;
		json_ws(j);
		if (*j->p == ',') {
			j->p++;
			continue;
		}
		if (*j->p++ != '}')
			return false;
		return true;
	}
}

static bool json_array(struct json *j, const char *path, unsigned depth)
{
	unsigned i = 0;

	j->p++;
	json_ws(j);
	if (*j->p == ']') {
		j->p++;
		return true;
	}
	for (;; i++) {
		char sub[96];

		snprintf(sub, sizeof(sub), "%s.%u", path, i);
		if (!json_value(j, sub, depth + 1))
			return false;
		json_ws(j);
		if (*j->p == ',') {
			j->p++;
			continue;
		}
		if (*j->p++ != ']')
			return false;
		return true;
	}
}

static bool json_value(struct json *j, const char *path, unsigned depth)
{
	char *end;
	double v;

	if (depth > 16)
		return false;
	json_ws(j);
	if (*j->p == '{')
		return json_object(j, path, depth);
	if (*j->p == '[')
		return json_array(j, path, depth);
	if (*j->p == '"')
		return json_string(j, NULL, 0);
	if (!strncmp(j->p, "true", 4) || !strncmp(j->p, "null", 4)) {
		j->p += 4;
		return true;
	}
	if (!strncmp(j->p, "false", 5)) {
		j->p += 5;
		return true;
	}
	if (*j->p != '-' && !isdigit((unsigned char)*j->p))
		return false;
	v = strtod(j->p, &end);
	if (end == j->p)
		return false;
	j->p = end;
	if (j->n < MAX_NUMS) {
		snprintf(j->num[j->n].path, sizeof(j->num[j->n].path), "%s",
			 path);
		j->num[j->n++].v = v;
	}
	return true;
}

static void json_parse(struct json *j, const char *text)
{
	memset(j, 0, sizeof(*j));
	j->p = text;
	j->ok = json_value(j, "", 0);
	json_ws(j);
	j->ok = j->ok && *j->p == '\0';
	cr_assert(j->ok, "sipload printed no valid JSON: %.2000s", text);
}

/* The number at @p path; a missing one fails the test (0 with @p opt). */
static double jnum_opt(const struct json *j, const char *path, bool opt)
{
	unsigned i;

	for (i = 0; i < j->n; i++)
		if (!strcmp(j->num[i].path, path))
			return j->num[i].v;
	cr_assert(opt, "no number %s in the JSON report", path);
	return 0;
}

static double jnum(const struct json *j, const char *path)
{
	return jnum_opt(j, path, false);
}

/* ---- processes ---- */

static const char *sipload_bin(void)
{
	const char *b = getenv("SIPLOAD_BIN");

	cr_assert(b && b[0], "SIPLOAD_BIN is not set (run make test)");
	return b;
}

static void track(pid_t pid)
{
	unsigned i;

	for (i = 0; i < MAX_PROCS; i++) {
		if (procs[i] <= 0) {
			procs[i] = pid;
			return;
		}
	}
	cr_assert_fail("too many processes");
}

static void untrack(pid_t pid)
{
	unsigned i;

	for (i = 0; i < MAX_PROCS; i++)
		if (procs[i] == pid)
			procs[i] = 0;
}

static char *keep(char *text)
{
	cr_assert_lt(ntexts, 8);
	texts[ntexts++] = text;
	return text;
}

/* Start sipload with @p args (NULL-terminated, without argv[0]); its
 * stdout goes to dir/@p name.out, stderr to dir/@p name.err. */
static pid_t sl_start(const char *name, const char *const *args)
{
	char *argv[64];
	char out[PROC_PATH_MAX], err[PROC_PATH_MAX];
	unsigned n = 0;
	pid_t pid;

	argv[n++] = (char *)sipload_bin();
	while (*args && n < 62)
		argv[n++] = (char *)*args++;
	argv[n] = NULL;
	snprintf(out, sizeof(out), "%s/%s.out", dir, name);
	snprintf(err, sizeof(err), "%s/%s.err", dir, name);
	cr_assert_eq(proc_spawn(argv, NULL, out, err, &pid), 0,
		     "cannot start %s", argv[0]);
	track(pid);
	return pid;
}

/* Wait (bounded) for @p pid; return its exit status; keep its stdout in
 * *outp and stderr in *errp. */
static int sl_finish(pid_t pid, const char *name, int timeout_ms, char **outp,
		     char **errp)
{
	char path[PROC_PATH_MAX];
	char st[32];
	char *out = NULL, *err = NULL;
	int status = 0;
	int ret = proc_wait(pid, timeout_ms, &status);

	if (ret == -ETIMEDOUT)
		proc_kill(pid);
	untrack(pid);
	snprintf(path, sizeof(path), "%s/%s.out", dir, name);
	proc_read_file(path, &out);
	snprintf(path, sizeof(path), "%s/%s.err", dir, name);
	proc_read_file(path, &err);
	out = keep(out ? out : strdup(""));
	err = keep(err ? err : strdup(""));
	cr_assert_eq(ret, 0, "%s did not finish in %d ms; stderr: %.1000s",
		     name, timeout_ms, err);
	cr_assert(WIFEXITED(status), "%s ended with %s; stderr: %.1000s", name,
		  proc_status_str(status, st, sizeof(st)), err);
	if (outp)
		*outp = out;
	if (errp)
		*errp = err;
	return WEXITSTATUS(status);
}

static uint16_t free_port(void)
{
	uint16_t port;

	cr_assert_eq(proc_free_port("127.0.0.1", &port), 0);
	return port;
}

static void addr(char *buf, size_t size, uint16_t port)
{
	snprintf(buf, size, "127.0.0.1:%u", port);
}

/* Run a UAC to completion and parse its JSON report. */
static int uac_run(struct json *j, const char *const *args, int timeout_ms)
{
	static unsigned seq;
	char name[32];
	char *out, *err;
	pid_t pid;
	int rc;

	/* A file per run: the harness appends to an existing one. */
	snprintf(name, sizeof(name), "uac%u", seq++);
	pid = sl_start(name, args);
	rc = sl_finish(pid, name, timeout_ms, &out, &err);

	json_parse(j, out);
	(void)err;
	return rc;
}

/* A sipload UAS answering @p n operations (bounded by 30 s). */
static pid_t uas_start(uint16_t port, const char *n, const char *extra1,
		       const char *extra2, const char *extra3)
{
	char a[64];
	const char *args[16] = { "--role", "uas", "-l", a,	 "-n",
				 n,	   "-d",  "30", "--json" };
	unsigned k = 9;

	addr(a, sizeof(a), port);
	if (extra1)
		args[k++] = extra1;
	if (extra2)
		args[k++] = extra2;
	if (extra3)
		args[k++] = extra3;
	args[k] = NULL;
	return sl_start("uas", args);
}

static void uas_finish(pid_t pid, struct json *j)
{
	char *out;

	cr_assert_eq(sl_finish(pid, "uas", 40000, &out, NULL), 0);
	json_parse(j, out);
}

static void assert_all_ok(const struct json *j, double n)
{
	cr_assert_eq(jnum(j, "started"), n);
	cr_assert_eq(jnum(j, "succeeded"), n, "succeeded %g of %g",
		     jnum(j, "succeeded"), n);
	cr_assert_eq(jnum(j, "failed"), 0);
	cr_assert_eq(jnum(j, "timeouts"), 0);
	cr_assert_eq(jnum(j, "unfinished"), 0);
}

/* ---- sipload against sipload ---- */

/* The UAS's 3pcc counters after @p n offerless calls, each ACK with a
 * right answer: exact, retransmissions or not (a retransmitted INVITE or
 * ACK finds its call and is not counted again). */
static void assert_3pcc_ok(const struct json *uas, double n)
{
	cr_assert_eq(jnum(uas, "uas.3pcc.offerless"), n);
	cr_assert_eq(jnum(uas, "uas.3pcc.with_offer"), 0);
	cr_assert_eq(jnum(uas, "uas.3pcc.answers_checked"), n);
	cr_assert_eq(jnum(uas, "uas.3pcc.answers_ok"), n);
	cr_assert_eq(jnum(uas, "uas.3pcc.answers_missing"), 0);
	cr_assert_eq(jnum(uas, "uas.3pcc.answers_invalid"), 0);
	cr_assert_eq(jnum(uas, "uas.3pcc.latency_us.answer.count"), n);
	cr_assert_gt(jnum(uas, "uas.3pcc.latency_us.answer.max"), 0);
	cr_assert_eq(jnum(uas, "uas.ack_timeouts"), 0);
}

/* @p got equals @p want; with @p retx retransmissions or duplicates
 * about, it is at least @p want and at most @p retx more. */
static void assert_count(double got, double want, double retx)
{
	cr_assert_geq(got, want);
	cr_assert_leq(got, want + retx, "%.0f, want %.0f (+%.0f retransmitted)",
		      got, want, retx);
}

static void uac_against_uas(const char *scenario, const char *transport,
			    const char *n, const char *hold)
{
	uint16_t port = free_port();
	char a[64];
	struct json uac, uas;
	pid_t upid;
	double calls = atof(n), retx;
	bool call = strncmp(scenario, "call", 4) == 0;

	addr(a, sizeof(a), port);
	upid = uas_start(port, n, "--transport", transport, NULL);
	{
		const char *args[] = { "-s",	      scenario,	 "-t",	   a,
				       "--transport", transport, "-n",	   n,
				       "-r",	      "400",	 "--hold", hold,
				       "--json",      NULL };

		cr_assert_eq(uac_run(&uac, args, 40000), 0);
	}
	uas_finish(upid, &uas);
	assert_all_ok(&uac, calls);
	cr_assert_eq(jnum(&uac, "latency_us.final.count"), calls);
	cr_assert_eq(jnum(&uas, "uas.ops"), calls);
	/* On a quiet loopback nothing is retransmitted and the counts are
	 * exact; a busy machine may delay an answer past T1, and then a
	 * retransmission (counted in messages_out and in the UAS's request
	 * counts, as a duplicate there) is right, not a failure. */
	retx = jnum(&uac, "retransmissions") + jnum(&uas, "retransmissions") +
	       jnum(&uac, "duplicates") + jnum(&uas, "duplicates");
	if (retx > 0)
		cr_log_warn("%s/%s: %.0f retransmissions and duplicates; "
			    "counts checked as lower bounds",
			    scenario, transport, retx);
	if (call) {
		cr_assert_eq(jnum(&uac, "latency_us.first.count"), calls);
		assert_count(jnum(&uas, "uas.requests.INVITE"), calls, retx);
		assert_count(jnum(&uas, "uas.requests.ACK"), calls, retx);
		assert_count(jnum(&uas, "uas.requests.BYE"), calls, retx);
		cr_assert_eq(jnum(&uas, "uas.ack_timeouts"), 0);
		/* INVITE, ACK, BYE out; 100, 180, 200, 200 in. */
		assert_count(jnum(&uac, "messages_out"),
			     3 * calls +
				 (strcmp(scenario, "call-100rel") ? 0 : calls),
			     retx);
		if (!strcmp(scenario, "call-3pcc")) {
			assert_3pcc_ok(&uas, calls);
			cr_assert_eq(jnum(&uac, "bad_offers"), 0);
		} else {
			/* An INVITE with an offer: the usual flow. */
			cr_assert_eq(jnum(&uas, "uas.3pcc.with_offer"), calls);
			cr_assert_eq(jnum(&uas, "uas.3pcc.offerless"), 0);
			cr_assert_eq(jnum(&uas, "uas.3pcc.answers_checked"), 0);
		}
	} else {
		assert_count(jnum(&uas, "uas.requests.OPTIONS"), calls, retx);
	}
	if (!strcmp(scenario, "call-100rel")) {
		assert_count(jnum(&uas, "uas.requests.PRACK"), calls, retx);
		cr_assert_eq(jnum(&uas, "uas.prack_timeouts"), 0);
	}
}

Test(sipload, options_uac_against_sipload_uas)
{
	uac_against_uas("options", "udp", "300", "0");
}

Test(sipload, call_uac_against_sipload_uas)
{
	uac_against_uas("call", "udp", "300", "0");
}

Test(sipload, call_with_hold_over_tcp)
{
	uac_against_uas("call", "tcp", "200", "300");
}

Test(sipload, call_100rel_uac_against_sipload_uas)
{
	uac_against_uas("call-100rel", "udp", "200", "0");
}

Test(sipload, call_100rel_over_tcp)
{
	uac_against_uas("call-100rel", "tcp", "100", "100");
}

Test(sipload, call_3pcc_uac_against_sipload_uas)
{
	uac_against_uas("call-3pcc", "udp", "300", "0");
}

Test(sipload, call_3pcc_over_tcp)
{
	uac_against_uas("call-3pcc", "tcp", "100", "100");
}

/* Answers missing from the ACK or wrong in it: the UAS's check fails
 * the calls, by reason, and exits 1; the UAC sees nothing wrong. */
Test(sipload, uas_counts_missing_and_wrong_3pcc_answers)
{
	uint16_t port = free_port();
	char a[64];
	char *out;
	struct json uac, uas;
	pid_t upid;
	const char *none[] = { "-s",   "call-3pcc", "--3pcc-answer",
			       "none", "-t",	    a,
			       "-n",   "50",	    "-r",
			       "400",  "--json",    NULL };
	const char *port0[] = { "-s",	 "call-3pcc", "--3pcc-answer",
				"port0", "-t",	      a,
				"-n",	 "50",	      "-r",
				"400",	 "--json",    NULL };

	addr(a, sizeof(a), port);
	upid = uas_start(port, "100", NULL, NULL, NULL);
	cr_assert_eq(uac_run(&uac, none, 30000), 0);
	assert_all_ok(&uac, 50);
	cr_assert_eq(uac_run(&uac, port0, 30000), 0);
	assert_all_ok(&uac, 50);
	cr_assert_eq(sl_finish(upid, "uas", 40000, &out, NULL), 1,
		     "failed answers must fail the UAS's run");
	json_parse(&uas, out);
	cr_assert_eq(jnum(&uas, "uas.ops"), 100);
	cr_assert_eq(jnum(&uas, "uas.3pcc.offerless"), 100);
	cr_assert_eq(jnum(&uas, "uas.3pcc.answers_checked"), 100);
	cr_assert_eq(jnum(&uas, "uas.3pcc.answers_ok"), 0);
	cr_assert_eq(jnum(&uas, "uas.3pcc.answers_missing"), 50);
	cr_assert_eq(jnum(&uas, "uas.3pcc.answers_invalid"), 50);
	cr_assert_eq(jnum(&uas, "uas.3pcc.answer_failures.missing"), 50);
	cr_assert_eq(jnum(&uas, "uas.3pcc.answer_failures.port"), 50);
	cr_assert_eq(jnum(&uas, "uas.3pcc.answer_failures.codec"), 0);
	cr_assert_eq(jnum(&uas, "uas.3pcc.latency_us.answer.count"), 0);
}

Test(sipload, both_roles_in_one_process_with_threads)
{
	uint16_t port = free_port();
	char a[64];
	struct json j;
	const char *args[] = { "-s",	    "call", "--role", "both",
			       "-l",	    a,	    "-t",     a,
			       "-n",	    "400",  "-r",     "800",
			       "--threads", "2",    "--json", NULL };

	addr(a, sizeof(a), port);
	cr_assert_eq(uac_run(&j, args, 40000), 0);
	assert_all_ok(&j, 400);
	cr_assert_eq(jnum(&j, "threads"), 2);
	cr_assert_eq(jnum(&j, "uas.ops"), 400);
	cr_assert_eq(jnum(&j, "uas.requests.INVITE"), 400);
}

Test(sipload, ipv6_loopback)
{
	uint16_t port;
	char a[64];
	struct json j;
	const char *args[] = { "-s", "call", "--role", "both", "-l",
			       a,    "-t",   a,	       "-n",   "50",
			       "-r", "200",  "--json", NULL };

	cr_assert_eq(proc_free_port("::1", &port), 0);
	snprintf(a, sizeof(a), "[::1]:%u", port);
	cr_assert_eq(uac_run(&j, args, 30000), 0);
	assert_all_ok(&j, 50);
}

/* ---- digest ---- */

static void register_with_auth(const char *alg, const char *uac_pw, bool good)
{
	uint16_t port = free_port();
	char a[64];
	struct json uac, uas;
	pid_t upid;
	const char *args[] = { "-s",	    "register",	  "-t",	    a,	  "-u",
			       "1000-1049", "--password", uac_pw,   "-n", "100",
			       "-r",	    "400",	  "--json", NULL };
	char *out;
	int rc;

	addr(a, sizeof(a), port);
	{
		const char *uargs[] = {
			"--role",     "uas",	    "-l",     a,    "-d",
			"30",	      "--uas-auth", alg,      "-u", "1000-1049",
			"--password", "pw-%u",	    "--json", NULL
		};

		upid = sl_start("uas", uargs);
	}
	rc = uac_run(&uac, args, 40000);
	/* This UAS stops by time (it counts only successes): stop it. */
	kill(upid, SIGTERM);
	cr_assert_eq(sl_finish(upid, "uas", 20000, &out, NULL), 0);
	json_parse(&uas, out);
	cr_assert_eq(jnum(&uac, "started"), 100);
	cr_assert_eq(jnum(&uac, "challenges"), 100,
		     "every REGISTER is challenged once");
	if (good) {
		cr_assert_eq(rc, 0);
		assert_all_ok(&uac, 100);
		cr_assert_eq(jnum(&uas, "uas.auth_ok"), 100);
		cr_assert_eq(jnum(&uas, "uas.auth_failed"), 0);
		cr_assert_eq(jnum(&uas, "uas.requests.REGISTER"), 200);
	} else {
		cr_assert_eq(rc, 1);
		cr_assert_eq(jnum(&uac, "failed"), 100);
		cr_assert_eq(jnum(&uac, "failures.403"), 100);
		cr_assert_eq(jnum(&uas, "uas.auth_ok"), 0);
		cr_assert_eq(jnum(&uas, "uas.auth_failed"), 100);
	}
}

Test(sipload, register_digest_md5)
{
	register_with_auth("md5", "pw-%u", true);
}

Test(sipload, register_digest_sha256)
{
	register_with_auth("sha-256", "pw-%u", true);
}

Test(sipload, register_digest_sha256_preferred_over_md5)
{
	register_with_auth("md5,sha-256", "pw-%u", true);
}

Test(sipload, register_wrong_password_is_refused)
{
	register_with_auth("sha-256", "wrong-%u", false);
}

Test(sipload, register_users_from_csv)
{
	uint16_t port = free_port();
	char a[64];
	char csv[PATH_MAX];
	struct json uac, uas;
	pid_t upid;
	char *out;

	cr_assert_not_null(realpath(UAS_CSV, csv),
			   "%s not found (run from the repository root)",
			   UAS_CSV);
	addr(a, sizeof(a), port);
	{
		const char *uargs[] = {
			"--role",     "uas", "-l",	    a,	 "-d",	   "30",
			"--uas-auth", "md5", "--users-csv", csv, "--json", NULL
		};

		upid = sl_start("uas", uargs);
	}
	{
		const char *args[] = { "-s",  "register",    "-t",
				       a,     "--users-csv", csv,
				       "-n",  "30",	     "-r",
				       "300", "--json",	     NULL };

		cr_assert_eq(uac_run(&uac, args, 30000), 0);
	}
	kill(upid, SIGTERM);
	cr_assert_eq(sl_finish(upid, "uas", 20000, &out, NULL), 0);
	json_parse(&uas, out);
	assert_all_ok(&uac, 30);
	cr_assert_eq(jnum(&uas, "uas.auth_ok"), 30);
}

/* ---- loss ---- */

Test(sipload, lossy_peer_shows_retransmissions_not_failures)
{
	uint16_t port = free_port();
	char a[64];
	struct json uac, uas;
	pid_t upid;
	const char *args[] = { "-s", "call", "-t",   a,	    "-n",     "40",
			       "-r", "200",  "--t1", "100", "--json", NULL };

	addr(a, sizeof(a), port);
	/* The UAS loses a fifth of what it receives: INVITEs and BYEs are
	 * sent again by the UAC, 2xx again by the UAS when an ACK is lost.
	 * T1 of 100 ms keeps the test short. */
	upid = uas_start(port, "40", "--drop-rate", "0.2", "--t1=100");
	cr_assert_eq(uac_run(&uac, args, 40000), 0);
	uas_finish(upid, &uas);
	assert_all_ok(&uac, 40);
	cr_assert_gt(jnum(&uas, "dropped"), 0);
	cr_assert_gt(
	    jnum(&uac, "retransmissions") + jnum(&uas, "retransmissions"), 0);
	cr_assert_gt(jnum(&uac, "retransmissions"), 0,
		     "lost INVITEs or BYEs must be sent again");
}

/* ---- SIPp as a peer ---- */

static pid_t sipp_start(const char *name, char *const *argv)
{
	pid_t pid = sipp_spawn(argv, dir, name);

	track(pid);
	return pid;
}

Test(sipload, call_uac_against_sipp_uas)
{
	uint16_t port = free_port();
	char a[64], p[16], scen[PATH_MAX];
	struct json uac;
	pid_t spid;
	int status = 0;

	cr_assert_not_null(realpath(SIPP_UAS, scen), "%s not found", SIPP_UAS);
	addr(a, sizeof(a), port);
	snprintf(p, sizeof(p), "%u", port);
	{
		char *argv[] = { "sipp",     "-sf", scen, "-i",	 "127.0.0.1",
				 "-p",	     p,	    "-m", "100", "-nostdin",
				 "-timeout", "30s", NULL };

		spid = sipp_start("sipp", argv);
	}
	{
		const char *args[] = { "-s",	 "call", "-t",	   a,
				       "-n",	 "100",	 "-r",	   "200",
				       "--hold", "50",	 "--json", NULL };

		/* SIPp needs a moment to bind; the UAC retransmits anyway. */
		cr_assert_eq(uac_run(&uac, args, 40000), 0);
	}
	cr_assert_eq(proc_wait(spid, 20000, &status), 0);
	untrack(spid);
	assert_all_ok(&uac, 100);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "SIPp saw a failed call");
}

Test(sipload, sipp_uac_against_sipload_uas)
{
	uint16_t port = free_port();
	uint16_t sport = free_port();
	char p[16], target[64], scen[PATH_MAX];
	struct json uas;
	pid_t upid, spid;
	int status = 0;

	cr_assert_not_null(realpath(SIPP_UAC, scen), "%s not found", SIPP_UAC);
	upid = uas_start(port, "100", NULL, NULL, NULL);
	addr(target, sizeof(target), port);
	snprintf(p, sizeof(p), "%u", sport);
	{
		char *argv[] = { "sipp", "-sf",	     scen,	  "-s",	 "uas",
				 target, "-i",	     "127.0.0.1", "-p",	 p,
				 "-m",	 "100",	     "-r",	  "100", "-d",
				 "50",	 "-nostdin", "-timeout",  "30s", NULL };

		spid = sipp_start("sipp", argv);
	}
	cr_assert_eq(proc_wait(spid, 40000, &status), 0);
	untrack(spid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "SIPp saw a failed call against sipload's UAS");
	uas_finish(upid, &uas);
	cr_assert_eq(jnum(&uas, "uas.ops"), 100);
	cr_assert_eq(jnum(&uas, "uas.requests.INVITE"), 100);
	cr_assert_eq(jnum(&uas, "uas.requests.ACK"), 100);
	cr_assert_eq(jnum(&uas, "uas.requests.BYE"), 100);
	cr_assert_eq(jnum(&uas, "uas.ack_timeouts"), 0);
}

/* SIPp sends the offerless INVITEs and checks the offer in the 200
 * (Content-Type, an audio m= line with PCMU on a port, a c= line); its
 * ACK carries the answer, which sipload's UAS checks. */
Test(sipload, sipp_3pcc_uac_against_sipload_uas)
{
	uint16_t port = free_port();
	uint16_t sport = free_port();
	char p[16], target[64], scen[PATH_MAX];
	struct json uas;
	pid_t upid, spid;
	int status = 0;

	cr_assert_not_null(realpath(SIPP_3PCC, scen), "%s not found",
			   SIPP_3PCC);
	upid = uas_start(port, "100", NULL, NULL, NULL);
	addr(target, sizeof(target), port);
	snprintf(p, sizeof(p), "%u", sport);
	{
		char *argv[] = { "sipp", "-sf",	     scen,	  "-s",	 "uas",
				 target, "-i",	     "127.0.0.1", "-p",	 p,
				 "-m",	 "100",	     "-r",	  "100", "-d",
				 "20",	 "-nostdin", "-timeout",  "30s", NULL };

		spid = sipp_start("sipp", argv);
	}
	cr_assert_eq(proc_wait(spid, 40000, &status), 0);
	untrack(spid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "SIPp saw a failed 3pcc call (no offer in the 200?)");
	uas_finish(upid, &uas);
	cr_assert_eq(jnum(&uas, "uas.ops"), 100);
	assert_3pcc_ok(&uas, 100);
}

/* sipload's 3pcc caller against SIPp's 3pcc callee (uas_3pcc.xml:
 * asserts the INVITE has no body and the ACK an answer); then against
 * one whose 200 has no offer: those calls fail, as bad_offers. */
static int uac_3pcc_against_sipp(const char *scenario, const char *n,
				 struct json *uac, int *sipp_status)
{
	uint16_t port = free_port();
	char a[64], p[16], scen[PATH_MAX];
	pid_t spid;
	int rc;

	cr_assert_not_null(realpath(scenario, scen), "%s not found", scenario);
	addr(a, sizeof(a), port);
	snprintf(p, sizeof(p), "%u", port);
	{
		char *argv[] = { "sipp",      "-sf",	  scen,	      "-i",
				 "127.0.0.1", "-p",	  p,	      "-m",
				 (char *)n,   "-nostdin", "-timeout", "30s",
				 NULL };

		spid = sipp_start("sipp", argv);
	}
	{
		const char *args[] = { "-s",	 "call-3pcc", "-t",	a,
				       "-n",	 n,	      "-r",	"200",
				       "--hold", "20",	      "--json", NULL };

		/* SIPp needs a moment to bind; the UAC retransmits anyway. */
		rc = uac_run(uac, args, 40000);
	}
	cr_assert_eq(proc_wait(spid, 20000, sipp_status), 0);
	untrack(spid);
	return rc;
}

Test(sipload, call_3pcc_uac_against_sipp_uas)
{
	struct json uac;
	int status = 0;

	cr_assert_eq(uac_3pcc_against_sipp(SIPP_3PCC_UAS, "100", &uac, &status),
		     0);
	assert_all_ok(&uac, 100);
	cr_assert_eq(jnum(&uac, "bad_offers"), 0);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "SIPp saw an INVITE with a body or an ACK without answer");
}

Test(sipload, call_3pcc_fails_a_2xx_without_offer)
{
	struct json uac;
	int status = 0;

	cr_assert_eq(
	    uac_3pcc_against_sipp(SIPP_3PCC_NO_OFFER, "20", &uac, &status), 1);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "the calls themselves (ACK, BYE) must complete");
	cr_assert_eq(jnum(&uac, "started"), 20);
	cr_assert_eq(jnum(&uac, "succeeded"), 0);
	cr_assert_eq(jnum(&uac, "failed"), 20);
	cr_assert_eq(jnum(&uac, "bad_offers"), 20);
	cr_assert_eq(jnum(&uac, "failures.other"), 20);
}

/* Offers whose ACK never comes (flow I with the B2BUA stuck on its
 * other leg): after 64*T1 the UAS gives up on each, counts it as a
 * failed 3pcc call and exits 1. */
Test(sipload, uas_fails_3pcc_calls_never_acknowledged)
{
	uint16_t port = free_port();
	uint16_t sport = free_port();
	char a[64], p[16], scen[PATH_MAX];
	char *out;
	struct json uas;
	pid_t upid, spid;
	int status = 0;
	const char *uargs[] = { "--role", "uas",  "-l", a,	  "-d",
				"3",	  "--t1", "20", "--json", NULL };

	cr_assert_not_null(realpath(SIPP_3PCC_NO_ACK, scen), "%s not found",
			   SIPP_3PCC_NO_ACK);
	addr(a, sizeof(a), port);
	upid = sl_start("uas", uargs);
	snprintf(p, sizeof(p), "%u", sport);
	{
		char *argv[] = { "sipp",     "-sf", scen,  "-s",
				 "uas",	     a,	    "-i",  "127.0.0.1",
				 "-p",	     p,	    "-m",  "10",
				 "-r",	     "100", "-nd", "-nostdin",
				 "-timeout", "10s", NULL };

		spid = sipp_start("sipp", argv);
	}
	/* SIPp's own verdict does not matter: it sees the 200 again. */
	cr_assert_eq(proc_wait(spid, 20000, &status), 0);
	untrack(spid);
	cr_assert_eq(sl_finish(upid, "uas", 20000, &out, NULL), 1,
		     "unacknowledged offers must fail the UAS's run");
	json_parse(&uas, out);
	cr_assert_eq(jnum(&uas, "uas.3pcc.offerless"), 10);
	cr_assert_eq(jnum(&uas, "uas.3pcc.ack_timeouts"), 10);
	cr_assert_eq(jnum(&uas, "uas.ack_timeouts"), 10);
	cr_assert_eq(jnum(&uas, "uas.3pcc.answers_checked"), 0);
	cr_assert_gt(jnum(&uas, "retransmissions"), 0);
}

/* ---- sipedge ---- */

/* sipload 3pcc UAC -> sipedge -> sipload UAS with its 3pcc role: the
 * callees registered by sipload with the UAS as their contact. */
Test(sipload, call_3pcc_through_sipedge, .timeout = 90)
{
	uint16_t port = free_port();
	char a[64], px[64];
	struct json reg, uac, uas;
	pid_t upid;
	const char *rargs[] = { "-s",	     "register",  "-t",	    px,
				"--domain",  "localhost", "-u",	    "3000-3009",
				"--contact", a,		  "-n",	    "10",
				"-r",	     "100",	  "--json", NULL };
	const char *cargs[] = { "-s",	    "call-3pcc", "-t",
				px,	    "--domain",	 "localhost",
				"--callee", "3000-3009", "-n",
				"400",	    "-r",	 "200",
				"--json",   NULL };

	cr_assert_eq(proc_sipedge_start(&sp, "127.0.0.1", 2, NULL), 0, "%s",
		     sp.why);
	addr(a, sizeof(a), port);
	addr(px, sizeof(px), sp.port);
	cr_assert_eq(uac_run(&reg, rargs, 30000), 0);
	assert_all_ok(&reg, 10);
	upid = uas_start(port, "400", NULL, NULL, NULL);
	cr_assert_eq(uac_run(&uac, cargs, 60000), 0);
	uas_finish(upid, &uas);
	assert_all_ok(&uac, 400);
	cr_assert_eq(jnum(&uac, "latency_us.final.count"), 400);
	cr_assert_eq(jnum(&uac, "bad_offers"), 0);
	cr_assert_eq(jnum(&uas, "uas.ops"), 400);
	assert_3pcc_ok(&uas, 400);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* The users file line of @p user@localhost with password = the user's
 * name (sipload's default --password %u): MD5 HA1 only. */
static int md5_user_line(char *buf, size_t size, const char *user)
{
	const char *v[3] = { user, "localhost", user };
	char ha1[65];

	uahash_hex("MD5", v, 3, ha1);
	return snprintf(buf, size, "%s@localhost md5:%s\n", user, ha1);
}

/* What bench/compare's call-tcp and call-digest need, at once: callees
 * registered over UDP with ";transport=tcp" in their Contact (sipedge
 * must open a TCP connection to the TCP-only UAS), and every new INVITE
 * from an untrusted source challenged with a 407 that sipload ACKs and
 * answers with Proxy-Authorization; ACK and BYE go through unchallenged
 * (BYE is not in the default auth_methods). A wrong password gets the
 * 407 again and the call fails with it, before any callee sees it. */
Test(sipload, call_with_invite_digest_over_tcp_through_sipedge, .timeout = 90)
{
	uint16_t port = free_port();
	char a[64], px[64], ct[96], users[2048], path[PROC_PATH_MAX];
	char yaml[PROC_PATH_MAX + 64], name[16];
	struct json reg, bad, uac, uas;
	pid_t upid;
	int o = 0, i;
	const char *rargs[] = { "-s",	     "register",  "-t",	    px,
				"--domain",  "localhost", "-u",	    "3000-3004",
				"--contact", ct,	  "-n",	    "5",
				"-r",	     "100",	  "--json", NULL };
	const char *badargs[] = { "-s",	       "call",	      "-t",
				  px,	       "--transport", "tcp",
				  "--domain",  "localhost",   "-u",
				  "1000-1004", "--password",  "wrong",
				  "--callee",  "3000-3004",   "-n",
				  "5",	       "-r",	      "50",
				  "--json",    NULL };
	const char *cargs[] = {
		"-s",	    "call",	 "-t",	      px,	"--transport",
		"tcp",	    "--domain",	 "localhost", "-u",	"1000-1004",
		"--callee", "3000-3004", "-n",	      "100",	"-r",
		"100",	    "--hold",	 "50",	      "--json", NULL
	};

	for (i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "%d", 1000 + i);
		o += md5_user_line(users + o, sizeof(users) - (size_t)o, name);
		snprintf(name, sizeof(name), "%d", 3000 + i);
		o += md5_user_line(users + o, sizeof(users) - (size_t)o, name);
	}
	cr_assert_eq(proc_write_file(dir, "users", users, path, sizeof(path)),
		     0);
	snprintf(yaml, sizeof(yaml),
		 "registrar:\n  trusted: []\n  users_file: \"%s\"\n", path);
	cr_assert_eq(proc_sipedge_start(&sp, "127.0.0.1", 2, yaml), 0, "%s",
		     sp.why);
	addr(a, sizeof(a), port);
	snprintf(ct, sizeof(ct), "%s;transport=tcp", a);
	addr(px, sizeof(px), sp.port);
	/* The REGISTERs are challenged too (401), from loopback. */
	cr_assert_eq(uac_run(&reg, rargs, 30000), 0);
	assert_all_ok(&reg, 5);
	cr_assert_eq(jnum(&reg, "challenges"), 5);
	upid = uas_start(port, "100", "--transport", "tcp", NULL);
	cr_assert_eq(uac_run(&bad, badargs, 30000), 1);
	cr_assert_eq(jnum(&bad, "failures.407"), 5);
	cr_assert_eq(jnum(&bad, "challenges"), 5);
	cr_assert_eq(uac_run(&uac, cargs, 60000), 0);
	uas_finish(upid, &uas);
	assert_all_ok(&uac, 100);
	cr_assert_eq(jnum(&uac, "challenges"), 100,
		     "every INVITE is challenged once");
	cr_assert_eq(jnum(&uac, "latency_us.final.count"), 100);
	/* Over TCP nothing is retransmitted: the counts are exact. The
	 * challenged INVITEs and the wrong passwords never reach it. */
	cr_assert_eq(jnum(&uas, "uas.requests.INVITE"), 100);
	cr_assert_eq(jnum(&uas, "uas.requests.ACK"), 100);
	cr_assert_eq(jnum(&uas, "uas.requests.BYE"), 100);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

Test(sipload, options_against_sipedge)
{
	char a[96];
	struct json j;
	const char *args[] = { "-s",  "options", "-t",	a,	  "-n",
			       "300", "-r",	 "600", "--json", NULL };
	const char *targs[] = { "-s",	 "options", "-t",  a,
				"--tcp", "-n",	    "100", "-r",
				"300",	 "--json",  NULL };

	cr_assert_eq(proc_sipedge_start(&sp, "127.0.0.1", 2, NULL), 0, "%s",
		     sp.why);
	addr(a, sizeof(a), sp.port);
	cr_assert_eq(uac_run(&j, args, 30000), 0);
	assert_all_ok(&j, 300);
	cr_assert_eq(uac_run(&j, targs, 30000), 0);
	assert_all_ok(&j, 100);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* ---- the command line ---- */

static void refused(const char *const *args, int want_rc, const char *needle)
{
	char *err;
	pid_t pid = sl_start("bad", args);
	int rc = sl_finish(pid, "bad", 10000, NULL, &err);

	cr_assert_eq(rc, want_rc, "exit %d, stderr: %s", rc, err);
	cr_assert_not_null(strstr(err, needle), "stderr: %s", err);
}

Test(sipload, refuses_non_loopback_targets)
{
	const char *a1[] = { "-t", "10.0.0.1:5060", "-n", "1", NULL };
	const char *a2[] = { "-t", "[2001:db8::1]:5060", "-n", "1", NULL };
	const char *a3[] = { "--role", "uas", "-l", "192.0.2.1:5090",
			     "-d",     "1",   NULL };
	const char *a4[] = {
		"-t", "127.0.0.1:5060", "--local", "10.1.1.1", "-n", "1", NULL
	};

	refused(a1, 2, "loopback");
	refused(a2, 2, "loopback");
	refused(a3, 2, "loopback");
	refused(a4, 2, "loopback");
}

Test(sipload, refuses_unbounded_runs_and_bad_options)
{
	const char *a1[] = { "-t", "127.0.0.1:5060", NULL };
	const char *a2[] = { "-t", "127.0.0.1:5060", "-n", "1",
			     "-s", "dance",	     NULL };
	const char *a3[] = { "-n", "1", NULL };
	const char *a4[] = { "-t", "localhost", "-n", "1", NULL };

	refused(a1, 2, "unbounded");
	refused(a2, 2, "scenario");
	refused(a3, 2, "--target");
	refused(a4, 2, "bad address");
}

/* --contact takes HOST:PORT and at most ";transport=udp|tcp". */
Test(sipload, refuses_a_bad_contact)
{
	const char *a5[] = { "-t",	  "127.0.0.1:5060",
			     "-n",	  "1",
			     "--contact", "127.0.0.1:5090;transport=sctp",
			     NULL };
	const char *a6[] = { "-t",	  "127.0.0.1:5060",
			     "-n",	  "1",
			     "--contact", "127.0.0.1:5090;lr;transport=tcp",
			     NULL };

	refused(a5, 2, "bad --contact");
	refused(a6, 2, "bad --contact");
}

Test(sipload, refuses_a_bad_3pcc_answer_mode)
{
	const char *a1[] = {
		"-t",	     "127.0.0.1:5060", "-n",	    "1", "-s",
		"call-3pcc", "--3pcc-answer",  "sometimes", NULL
	};

	refused(a1, 2, "--3pcc-answer");
}

Test(sipload, help_documents_every_option)
{
	const char *args[] = { "--help", NULL };
	const char *opts[] = {
		"--role",      "--target",   "--listen",     "--transport",
		"--threads",   "--scenario", "--users",	     "--users-csv",
		"--password",  "--callee",   "--hold",	     "--rate",
		"--ramp",      "--duration", "--count",	     "--max-concurrent",
		"--max-time",  "--search",   "--search-p99", "--t1",
		"--drop-rate", "--uas-auth", "--json",	     "--progress",
		"call-100rel", "call-3pcc",  "--3pcc-answer"
	};
	char *out;
	unsigned i;
	pid_t pid = sl_start("help", args);

	cr_assert_eq(sl_finish(pid, "help", 10000, &out, NULL), 0);
	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		cr_assert_not_null(strstr(out, opts[i]), "--help lacks %s",
				   opts[i]);
}

Test(sipload, unanswered_requests_time_out)
{
	uint16_t port = free_port();
	char a[64];
	struct json j;
	const char *args[] = { "-s", "options", "-t", a,	"-n",
			       "5",  "--t1",	"20", "--json", NULL };

	/* Nobody listens: Timer F (64*T1 = 1.3 s) ends every transaction
	 * after retransmissions, and sipload says so. */
	addr(a, sizeof(a), port);
	cr_assert_eq(uac_run(&j, args, 30000), 1);
	cr_assert_eq(jnum(&j, "started"), 5);
	cr_assert_eq(jnum(&j, "failed"), 5);
	cr_assert_eq(jnum(&j, "timeouts"), 5);
	cr_assert_eq(jnum(&j, "failures.timeout"), 5);
	cr_assert_gt(jnum(&j, "retransmissions"), 0);
}

/* --search-p99: calls answered 60 ms after the INVITE are clean with a
 * bound of 1000 ms and never with one of 20 ms (every call's INVITE to
 * final is at least the ringing time, so no step can pass). */
Test(sipload, search_p99_bound_makes_a_slow_step_unclean)
{
	static const char *bounds[] = { "1000", "20" };
	uint16_t port = free_port();
	char a[64];
	struct json j;

	addr(a, sizeof(a), port);
	for (unsigned k = 0; k < 2; k++) {
		const char *args[] = { "-s",	      "call",
				       "--role",      "both",
				       "-l",	      a,
				       "-t",	      a,
				       "--answer-ms", "60",
				       "--search",    "-r",
				       "20",	      "--search-max",
				       "40",	      "--search-step",
				       "0.5",	      "--search-steps",
				       "2",	      "--search-p99",
				       bounds[k],     "--json",
				       NULL };
		int rc = uac_run(&j, args, 40000);

		cr_assert_eq(jnum(&j, "search.steps.0.rate"), 20);
		cr_assert_eq(jnum(&j, "search.steps.0.failed"), 0);
		if (k == 0) {
			cr_assert_eq(rc, 0);
			cr_assert_gt(jnum(&j, "search.best_rate"), 0,
				     "no clean step under 1000 ms");
		} else {
			cr_assert_eq(jnum(&j, "search.best_rate"), 0,
				     "a step whose calls took 60 ms was "
				     "clean under 20 ms");
		}
	}
}

Test(sipload, search_finds_a_clean_rate)
{
	uint16_t port = free_port();
	char a[64], key[64];
	struct json j;
	double best;
	int i;
	const char *args[] = { "-s",	   "options",
			       "--role",   "both",
			       "-l",	   a,
			       "-t",	   a,
			       "--search", "-r",
			       "200",	   "--search-max",
			       "800",	   "--search-step",
			       "0.5",	   "--search-steps",
			       "3",	   "--json",
			       NULL };

	addr(a, sizeof(a), port);
	cr_assert_eq(uac_run(&j, args, 40000), 0);
	best = jnum(&j, "search.best_rate");
	cr_assert_gt(best, 0, "no clean step");
	cr_assert_leq(best, 800);
	cr_assert_eq(jnum(&j, "search.steps.0.rate"), 200);
	cr_assert_eq(jnum_opt(&j, "search.steps.3.rate", true), 0,
		     "at most 3 steps");
	/* The best rate is that of a step without failures. Which steps are
	 * clean depends on the machine's load; that the report agrees with
	 * itself does not. */
	for (i = 0; i < 3; i++) {
		snprintf(key, sizeof(key), "search.steps.%d.rate", i);
		if (jnum_opt(&j, key, true) == best)
			break;
	}
	cr_assert_lt(i, 3, "best rate %.0f is no step's rate", best);
	snprintf(key, sizeof(key), "search.steps.%d.failed", i);
	cr_assert_eq(jnum(&j, key), 0);
	snprintf(key, sizeof(key), "search.steps.%d.unfinished", i);
	cr_assert_eq(jnum(&j, key), 0);
}
