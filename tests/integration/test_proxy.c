/* tests/integration/test_proxy.c - sipedge as a transaction-stateful proxy:
 * real SIPp callers and callees over UDP and TCP, and hand-made ones */
#include <criterion/criterion.h>

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proxy/sip/hdr.h"
#include "proxy/sip/msg.h"
#include "tests/common/ms.h"
#include "tests/common/proc.h"
#include "tests/common/sipcli.h"
#include "tests/common/sipp.h"

#define WAIT_MS 5000
#define MAX_UAS 2

static struct proc_sipedge sp;
static pid_t uas_pid[MAX_UAS], uac_pid;
static uint16_t uas_port[MAX_UAS];
static struct sipcli uac, uas;
static struct sipcli_msg *rx;

static void setup(void)
{
	memset(&sp, 0, sizeof(sp));
	memset(uas_pid, 0, sizeof(uas_pid));
	uac_pid = 0;
	uac.fd = -1;
	uas.fd = -1;
	rx = malloc(sizeof(*rx));
	cr_assert_not_null(rx);
	for (int i = 0; i < MAX_UAS; i++)
		cr_assert_eq(proc_free_port("127.0.0.1", &uas_port[i]), 0);
}

static void teardown(void)
{
	for (int i = 0; i < MAX_UAS; i++)
		if (uas_pid[i] > 0)
			proc_kill(uas_pid[i]);
	if (uac_pid > 0)
		proc_kill(uac_pid);
	sipcli_close(&uac);
	sipcli_close(&uas);
	free(rx);
	proc_sipedge_cleanup(&sp);
}

TestSuite(proxy, .init = setup, .fini = teardown, .timeout = 120);

/* printf into a buffer of its own: a template for start(). */
static const char *tpl(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static const char *tpl(const char *fmt, ...)
{
	static char buf[3072];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	cr_assert(n > 0 && (size_t)n < sizeof(buf));
	return buf;
}

/*
 * Start sipedge with @p workers shards on a free port and the top-level
 * YAML @p yaml, in which "%1$u" stands for sipedge's own port, "%2$u"
 * and "%3$u" for the two callee ports. Waits until it answers an
 * OPTIONS (bounded: about 10 s).
 */
static void start(unsigned workers, const char *yaml)
{
	char conf[4096], extra[3072], fmt[3072], path[PROC_PATH_MAX];
	char *args[] = { "-c", path, NULL };
	int n, i, st = -1;

	cr_assert_eq(proc_tmpdir(sp.dir, sizeof(sp.dir)), 0);
	snprintf(sp.host, sizeof(sp.host), "127.0.0.1");
	cr_assert_eq(proc_free_port("127.0.0.1", &sp.port), 0);
	/* The management API on a port of its own: not 5080, which another
	 * sipedge on this machine may hold. */
	cr_assert_eq(proc_free_port("127.0.0.1", &sp.mgmt_port), 0);
	/* Every positional argument named once, as POSIX wants. */
	n = snprintf(fmt, sizeof(fmt), "%s# ports %%1$u %%2$u %%3$u\n", yaml);
	cr_assert(n > 0 && (size_t)n < sizeof(fmt));
	n = snprintf(extra, sizeof(extra), fmt, sp.port, uas_port[0],
		     uas_port[1]);
	cr_assert(n > 0 && (size_t)n < sizeof(extra));
	n = snprintf(conf, sizeof(conf),
		     "workers: %u\nlog_level: info\nlisten:\n"
		     "  - address: 127.0.0.1\n    port: %u\n"
		     "domains: [localhost, 127.0.0.1]\n"
		     "management:\n  listen: [\"127.0.0.1:%u\"]\n%s",
		     workers, sp.port, sp.mgmt_port, extra);
	cr_assert(n > 0 && (size_t)n < sizeof(conf));
	cr_assert_eq(
	    proc_write_file(sp.dir, "sipedge.yaml", conf, path, sizeof(path)),
	    0);
	cr_assert_eq(proc_sipedge_spawn(&sp, args), 0, "%s", sp.why);
	/* Bounded: 100 pings of at most 100 ms each. */
	for (i = 0; i < 100 && st < 100; i++)
		st = sipcli_ping(sp.host, sp.port, 100);
	cr_assert_geq(st, 100, "sipedge did not answer; config:\n%s", conf);
}

static void stop(void)
{
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* Start SIPp callee @p i with scenario @p name for @p calls calls;
 * @p pause_ms is its -d (how long it rings or stays silent). */
static void uas_start(int i, const char *name, const char *transport,
		      unsigned calls, unsigned pause_ms)
{
	struct sipp_cmd c;
	char who[16];

	snprintf(who, sizeof(who), "uas%d", i);
	sipp_cmd_uas(&c, name, uas_port[i], transport);
	sipp_cmd_opt(&c, "-m", "%u", calls);
	sipp_cmd_opt(&c, "-d", "%u", pause_ms);
	sipp_cmd_errors(&c, who);
	uas_pid[i] = sipp_spawn(c.argv, sp.dir, who);
	/* The caller must not dial before the callee listens (over TCP,
	 * its first calls would be refused). */
	sipp_bound(uas_port[i], transport);
}

/* Callee @p i must finish (all its calls done, exit 0) within @p ms;
 * else its errors and screen are shown. */
static void uas_done(int i, int ms)
{
	char who[16];

	snprintf(who, sizeof(who), "uas%d", i);
	sipp_ok(&uas_pid[i], ms, sp.dir, who, NULL);
}

/* Run SIPp caller @p name to USER@DOMAIN for @p calls calls at @p rate
 * per second; every call must succeed (else its errors, its screen and
 * sipedge's log are shown). */
static void uac_run(const char *name, const char *user, const char *domain,
		    const char *transport, unsigned calls, unsigned rate)
{
	struct sipp_cmd c;

	sipp_cmd_uac(&c, name, sp.port, 0, transport);
	sipp_cmd_args(&c, "-s", user, "-key", "domain", domain, NULL);
	sipp_cmd_opt(&c, "-m", "%u", calls);
	sipp_cmd_opt(&c, "-r", "%u", rate);
	sipp_cmd_args(&c, "-l", "500", "-timeout", "60s", "-timeout_error",
		      NULL);
	sipp_cmd_errors(&c, "uac");
	uac_pid = sipp_spawn(c.argv, sp.dir, "uac");
	sipp_ok(&uac_pid, 90000, sp.dir, "uac", sp.log);
}

/* One location, @p n contacts on the callee ports, @p transport. */
static const char *loc_yaml(const char *user, unsigned n, const char *tp)
{
	static char y[512];

	if (n == 1)
		snprintf(y, sizeof(y),
			 "locations:\n  - aor: %s@localhost\n"
			 "    contacts: [\"sip:%s@127.0.0.1:%%2$u%s\"]\n",
			 user, user, tp);
	else
		snprintf(y, sizeof(y),
			 "locations:\n  - aor: %s@localhost\n"
			 "    contacts: [\"sip:%s@127.0.0.1:%%2$u%s\", "
			 "\"sip:%s@127.0.0.1:%%3$u%s\"]\n",
			 user, user, tp, user, tp);
	return y;
}

static void basic_calls(const char *tp, unsigned calls, unsigned workers)
{
	bool tcp = tp[0] == 't';
	char conf[1024];

	snprintf(conf, sizeof(conf), "%s",
		 loc_yaml("alice", 1, tcp ? ";transport=tcp" : ""));
	start(workers, conf);
	uas_start(0, "uas_call.xml", tp, calls, 0);
	uac_run("uac_call.xml", "alice", "localhost", tp, calls, 200);
	uas_done(0, 30000);
	stop();
}

Test(proxy, thousand_record_routed_calls_over_udp)
{
	basic_calls("u1", 1000, 2);
}

Test(proxy, record_routed_calls_over_tcp)
{
	basic_calls("t1", 300, 2);
}

Test(proxy, cancel_before_answer_over_udp_and_tcp)
{
	start(2, tpl("proxy:\n  t1_ms: 100\n%s", loc_yaml("alice", 1, "")));
	uas_start(0, "uas_cancel.xml", "u1", 5, 0);
	uac_run("uac_cancel.xml", "alice", "localhost", "u1", 5, 10);
	uas_done(0, 20000);
	stop();
	start(2, tpl("proxy:\n  t1_ms: 100\n%s",
		     loc_yaml("alice", 1, ";transport=tcp")));
	uas_start(0, "uas_cancel.xml", "t1", 5, 0);
	uac_run("uac_cancel.xml", "alice", "localhost", "t1", 5, 10);
	uas_done(0, 20000);
	stop();
}

Test(proxy, busy_callee_486_reaches_the_caller)
{
	start(2, loc_yaml("alice", 1, ""));
	uas_start(0, "uas_486.xml", "u1", 5, 0);
	uac_run("uac_486.xml", "alice", "localhost", "u1", 5, 10);
	uas_done(0, 20000);
	stop();
}

Test(proxy, silent_callee_ends_in_408)
{
	/* t1 50 ms: Timer B (64*T1) ends the branch after 3.2 s. */
	start(1, tpl("proxy:\n  t1_ms: 50\n%s", loc_yaml("alice", 1, "")));
	uas_start(0, "uas_silent.xml", "u1", 2, 6000);
	uac_run("uac_408.xml", "alice", "localhost", "u1", 2, 10);
	uas_done(0, 30000);
	stop();
}

Test(proxy, parallel_fork_one_answers_the_other_is_cancelled)
{
	start(2, loc_yaml("bob", 2, ""));
	/* Callee 0 rings 400 ms before it answers; callee 1 rings until
	 * sipedge cancels it. */
	uas_start(0, "uas_call.xml", "u1", 3, 400);
	uas_start(1, "uas_cancel.xml", "u1", 3, 0);
	uac_run("uac_call.xml", "bob", "localhost", "u1", 3, 5);
	uas_done(0, 20000);
	uas_done(1, 20000);
	stop();
}

Test(proxy, serial_failover_to_the_second_next_hop_after_503)
{
	start(2,
	      "routes:\n  - domain: failover.example\n"
	      "    next_hop: [\"sip:127.0.0.1:%2$u\", \"sip:127.0.0.1:%3$u\"]\n"
	      "  - prefix: \"+1\"\n"
	      "    next_hop: [\"sip:127.0.0.1:%2$u\"]\n");
	uas_start(0, "uas_503.xml", "u1", 3, 0);
	uas_start(1, "uas_call.xml", "u1", 3, 0);
	uac_run("uac_call.xml", "carol", "failover.example", "u1", 3, 5);
	uas_done(0, 20000);
	uas_done(1, 20000);
	/* A route whose only next hop answers 503: 500 (§16.7 step 6). */
	uas_start(0, "uas_503.xml", "u1", 1, 0);
	uac_run("uac_500.xml", "+15551234", "example.net", "u1", 1, 5);
	uas_done(0, 20000);
	stop();
}

Test(proxy, prack_relay_keeps_rseq_and_rack)
{
	start(2, loc_yaml("alice", 1, ""));
	uas_start(0, "uas_prack.xml", "u1", 3, 0);
	uac_run("uac_prack.xml", "alice", "localhost", "u1", 3, 5);
	uas_done(0, 20000);
	stop();
}

/* Hand-made caller and callee. */

static char req[8192];

static void fmt_invite(const char *ruri, const char *extra)
{
	int n = sipcli_format(&uac, req, sizeof(req), "INVITE", ruri, NULL,
			      true, extra, NULL);

	cr_assert_gt(n, 0);
}

/* Receive on @p c until a message passes @p want (bounded by WAIT_MS). */
static void recv_status(struct sipcli *c, unsigned status)
{
	int rc;

	/* Bounded: each pass waits at most WAIT_MS for a datagram. */
	for (int i = 0; i < 16; i++) {
		rc = sipcli_recv_msg(c, rx, WAIT_MS);
		cr_assert_eq(rc, 0, "nothing arrived (want %u)", status);
		if (!rx->m.is_request && rx->m.status == status)
			return;
		if (!rx->m.is_request && rx->m.status >= 200)
			cr_assert_fail("got %u, want %u", rx->m.status, status);
	}
	cr_assert_fail("no %u", status);
}

static void recv_request(struct sipcli *c, enum sip_method method)
{
	int rc = sipcli_recv_msg(c, rx, WAIT_MS);

	cr_assert_eq(rc, 0, "no request arrived");
	cr_assert(rx->m.is_request && rx->m.method == method,
		  "unexpected: %.60s", rx->buf);
}

/* A response @p status to the request in rx, from the callee. */
static void answer(unsigned status, const char *reason)
{
	static const enum hdr_id copy[] = { HDR_VIA,  HDR_FROM,
					    HDR_TO,   HDR_CALL_ID,
					    HDR_CSEQ, HDR_RECORD_ROUTE };
	char out[8192];
	size_t o;

	o = (size_t)snprintf(out, sizeof(out), "SIP/2.0 %u %s\r\n", status,
			     reason);
	for (size_t k = 0; k < sizeof(copy) / sizeof(copy[0]); k++) {
		for (const struct siphdr *h = sipmsg_hdr(&rx->m, copy[k]); h;
		     h = sipmsg_hdr_next(&rx->m, h)) {
			o += (size_t)snprintf(
			    out + o, sizeof(out) - o, "%.*s: %.*s%s\r\n",
			    (int)h->name.len, h->name.p, (int)h->value.len,
			    h->value.p,
			    copy[k] == HDR_TO && !rx->m.to_tag.len
				? ";tag=callee1"
				: "");
		}
	}
	o += (size_t)snprintf(out + o, sizeof(out) - o,
			      "Contact: <sip:bob@127.0.0.1:%u>\r\n"
			      "Content-Length: 0\r\n\r\n",
			      uas.local_port);
	cr_assert_lt(o, sizeof(out));
	cr_assert_eq(sipcli_send(&uas, out, o), 0);
}

static void hand_made(const char *extra_yaml)
{
	start(1, tpl("proxy:\n  t1_ms: 100\n%s%s", loc_yaml("bob", 1, ""),
		     extra_yaml ? extra_yaml : ""));
	cr_assert_eq(sipcli_open_udp(&uac, sp.host, sp.port), 0);
	cr_assert_eq(sipcli_open_udp_at(&uas, sp.host, sp.port, uas_port[0]),
		     0);
}

Test(proxy, callee_that_ignores_the_first_invite_gets_the_retransmission)
{
	char branch1[128];

	hand_made(NULL);
	fmt_invite("sip:bob@localhost", NULL);
	cr_assert_eq(sipcli_send_str(&uac, req), 0);
	recv_status(&uac, 100);
	/* The callee drops the first copy; Timer A (T1 = 100 ms) sends
	 * it again, the same bytes. */
	recv_request(&uas, SIP_INVITE);
	snprintf(branch1, sizeof(branch1), "%.*s", (int)rx->m.via.branch.len,
		 rx->m.via.branch.p);
	cr_assert_not_null(strstr(branch1, "z9hG4bKsE"));
	recv_request(&uas, SIP_INVITE);
	cr_assert(slice_eq(rx->m.via.branch, slice_cstr(branch1)),
		  "a retransmission keeps its branch");
	answer(200, "OK");
	recv_status(&uac, 200);
	cr_assert_not_null(sipmsg_hdr(&rx->m, HDR_RECORD_ROUTE));
	stop();
}

/* ---- issue #14: an idle sipedge sleeps ---- */

#define THREADS_MAX 64

struct thread_cs {
	char name[32];
	long long vol;
};

/* The voluntary context switches of each thread of @p pid. */
static unsigned read_switches(pid_t pid, struct thread_cs *t)
{
	char path[384], line[256];
	struct dirent *e;
	unsigned n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	cr_assert_not_null(d);
	/* Bounded: the process's threads, at most THREADS_MAX. */
	while ((e = readdir(d)) != NULL && n < THREADS_MAX) {
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/status",
			 (int)pid, e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue; /* a thread that just ended */
		memset(&t[n], 0, sizeof(t[n]));
		t[n].vol = -1;
		while (fgets(line, sizeof(line), f)) {
			if (!strncmp(line, "Name:", 5))
				sscanf(line + 5, " %31s", t[n].name);
			else if (!strncmp(line, "voluntary_ctxt_switches:", 24))
				t[n].vol = atoll(line + 24);
		}
		fclose(f);
		cr_assert_geq(t[n].vol, 0, "%s", path);
		n++;
	}
	closedir(d);
	return n;
}

Test(proxy, an_idle_sipedge_wakes_its_threads_seldom)
{
	struct thread_cs a[THREADS_MAX], b[THREADS_MAX];
	unsigned na, nb, shards = 0, b2b = 0;

	/* Two shards and the B2B pool (two workers, park and originate on
	 * by default). */
	start(2, "");
	ms_sleep(1000); /* the start's and the ping's ticks are over */
	na = read_switches(sp.pid, a);
	ms_sleep(2000);
	nb = read_switches(sp.pid, b);
	cr_assert_eq(na, nb, "threads came or went");
	for (unsigned i = 0; i < na; i++) {
		long long d = b[i].vol - a[i].vol;

		cr_assert_str_eq(a[i].name, b[i].name);
		shards += !strncmp(a[i].name, "shard", 5);
		b2b += !strncmp(a[i].name, "b2b", 3);
		/* Periodic ticks made 200 (shard) and 500 (b2b) here. */
		cr_assert_leq(d, 20, "thread %s woke %lld times in 2 s idle",
			      a[i].name, d);
	}
	cr_assert_eq(shards, 2);
	cr_assert_eq(b2b, 2);
	stop();
}

Test(proxy, a_timer_started_after_idle_fires_on_schedule)
{
	long long t[3];

	hand_made(NULL);
	ms_sleep(1500); /* asleep: no timer and no tick armed */
	fmt_invite("sip:bob@localhost", NULL);
	cr_assert_eq(sipcli_send_str(&uac, req), 0);
	recv_status(&uac, 100);
	/* The callee stays silent: Timer A (T1 = 100 ms) doubles. */
	for (int i = 0; i < 3; i++) {
		recv_request(&uas, SIP_INVITE);
		t[i] = ms_now();
	}
	/* Never early; late by the wheel's 10 ms and a loaded machine. */
	cr_assert_geq(t[1] - t[0], 95, "first retransmission early");
	cr_assert_leq(t[1] - t[0], 400, "first retransmission late");
	cr_assert_geq(t[2] - t[1], 195, "second retransmission early");
	cr_assert_leq(t[2] - t[1], 500, "second retransmission late");
	answer(200, "OK");
	recv_status(&uac, 200);
	stop();
}

Test(proxy, duplicate_requests_are_absorbed)
{
	struct sipcli_msg *got = malloc(4 * sizeof(*got));
	unsigned n = 0;

	cr_assert_not_null(got);
	hand_made(NULL);
	fmt_invite("sip:bob@localhost", NULL);
	cr_assert_eq(sipcli_send_str(&uac, req), 0);
	recv_status(&uac, 100);
	recv_request(&uas, SIP_INVITE);
	answer(180, "Ringing");
	recv_status(&uac, 180);
	/* The caller sends the INVITE again: sipedge answers with the last
	 * provisional, and the callee sees nothing new. */
	cr_assert_eq(sipcli_send_str(&uac, req), 0);
	recv_status(&uac, 180);
	cr_assert_eq(sipcli_collect(&uas, got, 4, &n, WAIT_MS), 0);
	cr_assert_eq(n, 0, "the duplicate reached the callee: %.60s",
		     got[0].buf);
	free(got);
	stop();
}

Test(proxy, max_forwards_zero_is_483_and_nothing_is_forwarded)
{
	struct sipcli_msg *got = malloc(4 * sizeof(*got));
	unsigned n = 0;

	cr_assert_not_null(got);
	hand_made(NULL);
	fmt_invite("sip:bob@localhost", NULL);
	cr_assert_geq(sipcli_edit(req, sizeof(req), "Max-Forwards: 70",
				  "Max-Forwards: 0"),
		      0);
	cr_assert_eq(sipcli_send_str(&uac, req), 0);
	recv_status(&uac, 483);
	cr_assert_eq(sipcli_collect(&uas, got, 4, &n, WAIT_MS), 0);
	cr_assert_eq(n, 0, "forwarded with Max-Forwards 0");
	free(got);
	stop();
}

Test(proxy, proxy_require_foo_is_420_with_unsupported_foo)
{
	char v[128];

	hand_made(NULL);
	fmt_invite("sip:bob@localhost", "Proxy-Require: foo\r\n");
	cr_assert_eq(sipcli_send_str(&uac, req), 0);
	recv_status(&uac, 420);
	cr_assert_str_eq(sipcli_hdr_str(rx, HDR_UNSUPPORTED, v, sizeof(v)),
			 "foo");
	stop();
}

Test(proxy, forwarding_loop_is_482)
{
	/* A route that sends loop.example back to sipedge itself. */
	hand_made("routes:\n  - domain: loop.example\n"
		  "    next_hop: [\"sip:127.0.0.1:%1$u\"]\n");
	fmt_invite("sip:x@loop.example", NULL);
	cr_assert_eq(sipcli_send_str(&uac, req), 0);
	recv_status(&uac, 482);
	stop();
}

/* A MESSAGE to bob through the proxy, answered 200 by the hand-made
 * callee: it leaves a completed server and client transaction behind
 * (Timers J and K). Its text stays in @p buf for a retransmission. */
static void message_done(char *buf, size_t size)
{
	int n = sipcli_format(&uac, buf, size, "MESSAGE", "sip:bob@localhost",
			      NULL, true, NULL, NULL);

	cr_assert_gt(n, 0);
	cr_assert_eq(sipcli_send_str(&uac, buf), 0);
	recv_request(&uas, SIP_MESSAGE);
	answer(200, "OK");
	recv_status(&uac, 200);
}

Test(proxy, completed_transactions_are_no_load_but_live_ones_are)
{
	static char first[2048], other[2048];
	struct sipcli_msg *got = malloc(4 * sizeof(*got));
	unsigned n = 0;

	cr_assert_not_null(got);
	/* Two live transactions at most. Each MESSAGE leaves two
	 * completed ones for 64*T1 (6.4 s; the 20 take well under that on
	 * loopback), ten times the cap: none is refused. */
	hand_made("overload:\n  max_transactions: 2\n");
	message_done(first, sizeof(first));
	for (int i = 0; i < 19; i++)
		message_done(other, sizeof(other));
	/* Timer J still holds the first: a retransmission gets the 200
	 * again from sipedge, and the callee sees nothing. */
	cr_assert_eq(sipcli_send_str(&uac, first), 0);
	recv_status(&uac, 200);
	cr_assert_eq(sipcli_collect(&uas, got, 4, &n, 300), 0);
	cr_assert_eq(n, 0, "the retransmission reached the callee: %.60s",
		     got[0].buf);
	/* An INVITE the callee leaves unanswered holds two live
	 * transactions: the next request is refused. */
	fmt_invite("sip:bob@localhost", NULL);
	cr_assert_eq(sipcli_send_str(&uac, req), 0);
	recv_status(&uac, 100);
	recv_request(&uas, SIP_INVITE);
	cr_assert_gt(sipcli_format(&uac, other, sizeof(other), "MESSAGE",
				   "sip:bob@localhost", NULL, true, NULL, NULL),
		     0);
	cr_assert_eq(sipcli_send_str(&uac, other), 0);
	recv_status(&uac, 503);
	free(got);
	stop();
}

Test(proxy, completed_transactions_past_max_completed_end_early)
{
	static char first[2048], other[2048];

	/* Room for four completed transactions: after five MESSAGEs (ten
	 * completed), the first's server transaction is gone, so its
	 * retransmission is a new request that reaches the callee. */
	hand_made("overload:\n  max_completed: 4\n");
	message_done(first, sizeof(first));
	for (int i = 0; i < 4; i++)
		message_done(other, sizeof(other));
	cr_assert_eq(sipcli_send_str(&uac, first), 0);
	recv_request(&uas, SIP_MESSAGE);
	answer(200, "OK");
	recv_status(&uac, 200);
	/* The newest one is still kept: absorbed, answered from memory. */
	cr_assert_eq(sipcli_send_str(&uac, first), 0);
	recv_status(&uac, 200);
	stop();
}

Test(proxy, too_many_transactions_is_503_with_retry_after)
{
	char v[64];

	/* One INVITE to a callee that stays silent holds two transactions
	 * (server and client): the limit is reached. */
	hand_made("overload:\n  max_transactions: 2\n  retry_after_s: 7\n");
	fmt_invite("sip:bob@localhost", NULL);
	cr_assert_eq(sipcli_send_str(&uac, req), 0);
	recv_status(&uac, 100);
	recv_request(&uas, SIP_INVITE);
	fmt_invite("sip:bob@localhost", NULL);
	cr_assert_eq(sipcli_send_str(&uac, req), 0);
	recv_status(&uac, 503);
	cr_assert_str_eq(sipcli_hdr_str(rx, HDR_RETRY_AFTER, v, sizeof(v)),
			 "7");
	stop();
}
