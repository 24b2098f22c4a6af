/* tests/integration/test_logs.c - request lines at debug, access lines
 * (log.requests), refusal reasons at info, network values escaped, and the
 * syslog and journal targets read from sockets of the test in a private
 * mount namespace */
#include <criterion/criterion.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "tests/common/mgmtcli.h"
#include "tests/common/proc.h"
#include "tests/common/sipcli.h"

#define WAIT_MS 5000

static struct proc_sipedge sp;
static struct sipcli uac;
static struct sipcli_msg *rx;
static json_t *res;
static char *text;
static int sock_fd = -1;
static char why[512];

static void setup(void)
{
	memset(&sp, 0, sizeof(sp));
	uac.fd = -1;
	res = NULL;
	text = NULL;
	rx = malloc(sizeof(*rx));
	cr_assert_not_null(rx);
}

static void teardown(void)
{
	sipcli_close(&uac);
	free(rx);
	json_decref(res);
	free(text);
	if (sock_fd >= 0)
		close(sock_fd);
	sock_fd = -1;
	proc_sipedge_cleanup(&sp);
}

TestSuite(logs, .init = setup, .fini = teardown, .timeout = 60);

static void up(const char *extra_yaml)
{
	cr_assert_eq(proc_sipedge_start(&sp, "127.0.0.1", 2, extra_yaml), 0,
		     "sipedge did not start: %s", sp.why);
	cr_assert_eq(sipcli_open_udp(&uac, "127.0.0.1", sp.port), 0);
}

static void level(const char *lvl)
{
	char p[64];

	snprintf(p, sizeof(p), "{\"level\":\"%s\"}", lvl);
	json_decref(res);
	res = NULL;
	cr_assert_eq(mgmtcli_rpc(sp.mgmt_port, NULL, "log.level", p, &res, why,
				 sizeof(why)),
		     0, "%s", why);
}

/* Send @p method to @p ruri with To @p to and Call-ID @p cid; return the
 * final status (bounded: a few messages, WAIT_MS each). */
static unsigned request(const char *method, const char *ruri, const char *to,
			const char *cid)
{
	char buf[2048];
	int n;

	n = snprintf(buf, sizeof(buf),
		     "%s %s SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP 127.0.0.1:%u;rport;branch=z9hG4bK-%s\r\n"
		     "Max-Forwards: 70\r\n"
		     "From: <sip:alice@127.0.0.1>;tag=logs1\r\n"
		     "To: <%s>\r\n"
		     "Call-ID: %s\r\n"
		     "CSeq: 1 %s\r\n"
		     "Contact: <sip:alice@127.0.0.1:%u>\r\n"
		     "Content-Length: 0\r\n\r\n",
		     method, ruri, uac.local_port, cid, to, cid, method,
		     uac.local_port);
	cr_assert(n > 0 && (size_t)n < sizeof(buf));
	cr_assert_eq(sipcli_send(&uac, buf, (size_t)n), 0);
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(sipcli_recv_msg(&uac, rx, WAIT_MS), 0,
			     "no answer to %s", method);
		if (!rx->m.is_request && rx->m.status >= 200)
			return rx->m.status;
	}
	cr_assert_fail("no final answer to %s", method);
	return 0;
}

/* REGISTER alice@127.0.0.1 with Call-ID @p cid; the final status. */
static unsigned reg_alice(const char *cid)
{
	return request("REGISTER", "sip:127.0.0.1", "sip:alice@127.0.0.1", cid);
}

/* OPTIONS to sipedge itself with Call-ID @p cid; the final status. */
static unsigned options(const char *cid)
{
	return request("OPTIONS", "sip:127.0.0.1", "sip:127.0.0.1", cid);
}

/* INVITE nobody@127.0.0.1 with Call-ID @p cid; the final status. */
static unsigned invite_nobody(const char *cid)
{
	return request("INVITE", "sip:nobody@127.0.0.1", "sip:nobody@127.0.0.1",
		       cid);
}

static void wait_line(const char *needle)
{
	cr_assert_eq(proc_sipedge_wait_log(&sp, needle, 1, WAIT_MS), 0, "%s",
		     sp.why);
}

/* Wait for the log line " @p what UDP 127.0.0.1:UAC_PORT @p rest". */
static void wait_uac_line(const char *what, const char *rest)
{
	char line[512];

	snprintf(line, sizeof(line), " %s UDP 127.0.0.1:%u %s", what,
		 uac.local_port, rest);
	wait_line(line);
}

static bool log_has(const char *needle)
{
	bool has;

	free(text);
	text = NULL;
	cr_assert_eq(proc_read_file(sp.log, &text), 0);
	has = strstr(text, needle) != NULL;
	return has;
}

Test(logs, debug_line_per_request_with_method_ruri_source_outcome_call_id)
{
	up(NULL);
	/* At info a request leaves no line. */
	cr_assert_eq(options("quiet-1"), 200);
	level("debug");
	cr_assert_eq(reg_alice("reg-1"), 200);
	cr_assert_eq(invite_nobody("inv-1"), 480);
	cr_assert_eq(options("opt-1"), 200);
	wait_uac_line("debug request",
		      "REGISTER sip:127.0.0.1 call-id=reg-1: 200\n");
	wait_uac_line("debug request",
		      "INVITE sip:nobody@127.0.0.1 call-id=inv-1: 480\n");
	wait_uac_line("debug request",
		      "OPTIONS sip:127.0.0.1 call-id=opt-1: 200\n");
	/* The 480 is a refusal: its reason at info. */
	wait_line(" info refused UDP 127.0.0.1:");
	cr_assert(log_has("INVITE sip:nobody@127.0.0.1 call-id=inv-1: 480 "
			  "no registered contact\n"),
		  "%s", text);
	cr_assert(!log_has("quiet-1"), "a request line at info: %s", text);
	/* log.requests is off: no access lines. */
	cr_assert(!log_has(" access "), "%s", text);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

Test(logs, network_bytes_cannot_break_a_line)
{
	up(NULL);
	level("debug");
	/* A control byte in the Call-ID: answered 400, logged escaped. */
	cr_assert_eq(options("evil\x1b[2J\x01"), 400);
	wait_uac_line("debug request",
		      "OPTIONS sip:127.0.0.1 call-id=evil\\x1b[2J\\x01: 400\n");
	cr_assert(!log_has("\x1b"), "a raw escape byte in the log");
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

Test(logs, untrusted_register_without_users_file_logs_its_403_reason)
{
	up("registrar:\n  trusted: []\n");
	cr_assert_eq(reg_alice("reg-403"), 403);
	wait_uac_line("info refused",
		      "REGISTER sip:127.0.0.1 call-id=reg-403: 403 untrusted "
		      "source and no users file to authenticate it\n");
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* Send @p n REGISTERs back to back, then take their @p n answers. */
static void register_burst(unsigned n)
{
	char buf[1024], cid[32];
	unsigned got = 0;
	int len;

	for (unsigned i = 0; i < n; i++) {
		snprintf(cid, sizeof(cid), "rl-%u", i);
		len = snprintf(buf, sizeof(buf),
			       "REGISTER sip:127.0.0.1 SIP/2.0\r\n"
			       "Via: SIP/2.0/UDP 127.0.0.1:%u;rport;"
			       "branch=z9hG4bK-%s\r\n"
			       "Max-Forwards: 70\r\n"
			       "From: <sip:alice@127.0.0.1>;tag=rl\r\n"
			       "To: <sip:alice@127.0.0.1>\r\n"
			       "Call-ID: %s\r\n"
			       "CSeq: 1 REGISTER\r\n"
			       "Contact: <sip:alice@127.0.0.1:%u>\r\n"
			       "Content-Length: 0\r\n\r\n",
			       uac.local_port, cid, cid, uac.local_port);
		cr_assert(len > 0 && (size_t)len < sizeof(buf));
		cr_assert_eq(sipcli_send(&uac, buf, (size_t)len), 0);
	}
	/* Bounded: n answers, WAIT_MS each at most. */
	while (got < n && sipcli_recv_msg(&uac, rx, WAIT_MS) == 0) {
		cr_assert_eq(rx->m.status, 403);
		got++;
	}
	cr_assert_eq(got, n, "%u answers to %u REGISTERs", got, n);
}

Test(logs, refusals_are_rate_limited)
{
	unsigned n = 0;

	up("registrar:\n  trusted: []\n");
	/* 60 refusals in one burst, all on alice's shard: at most 10
	 * lines per one-second window, and a burst spans one or two. */
	register_burst(60);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
	cr_assert_eq(proc_read_file(sp.log, &text), 0);
	for (const char *p = text; (p = strstr(p, " refused ")); p++)
		n++;
	cr_assert_geq(n, 10, "%u refusal lines", n);
	cr_assert_leq(n, 30, "%u refusal lines for 60: not limited", n);
}

Test(logs, requests_true_gives_one_access_line_per_answered_request)
{
	up("log:\n  requests: true\n");
	cr_assert_eq(reg_alice("acc-reg"), 200);
	cr_assert_eq(invite_nobody("acc-inv"), 480);
	wait_uac_line("info access",
		      "REGISTER sip:127.0.0.1 200 call-id=acc-reg\n");
	wait_uac_line("info access",
		      "INVITE sip:nobody@127.0.0.1 480 call-id=acc-inv\n");
	/* info, not debug: no request lines. */
	cr_assert(!log_has(" request UDP"), "%s", text);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* The journal's socket, in a private /run: the test's own socket. */
#define JOURNAL_NS                        \
	"mount -t tmpfs tmpfs /run\n"     \
	"mkdir -p /run/systemd/journal\n" \
	"ln -s \"$S\" /run/systemd/journal/socket"

/*
 * Start sipedge with log.target @p target in a private mount namespace
 * (unshare -m, as root) where @p ns_setup puts a datagram socket of
 * this test (sock_fd) at /dev/log or the journal's socket path.
 */
static void target_spawn(const char *target, const char *ns_setup)
{
	char conf[1024], path[PROC_PATH_MAX], sock[PROC_PATH_MAX];
	char script[4096];
	const char *bin = getenv("SIPEDGE_BIN");
	struct sockaddr_un sa;
	pid_t pid;
	int n;

	cr_assert_not_null(bin, "SIPEDGE_BIN is not set");
	cr_assert_eq(proc_tmpdir(sp.dir, sizeof(sp.dir)), 0);
	snprintf(sp.host, sizeof(sp.host), "127.0.0.1");
	cr_assert_eq(proc_free_port("127.0.0.1", &sp.port), 0);
	snprintf(conf, sizeof(conf),
		 "workers: 1\nlog_level: info\nlisten:\n"
		 "  - address: 127.0.0.1\n    port: %u\n"
		 "domains: [localhost, 127.0.0.1]\n"
		 "management:\n  listen: []\n"
		 "log:\n  target: %s\n",
		 sp.port, target);
	cr_assert_eq(
	    proc_write_file(sp.dir, "sipedge.yaml", conf, path, sizeof(path)),
	    0);
	snprintf(sock, sizeof(sock), "%s/log.sock", sp.dir);
	sock_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(sock_fd, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	cr_assert_lt(strlen(sock), sizeof(sa.sun_path));
	strcpy(sa.sun_path, sock);
	cr_assert_eq(bind(sock_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	/* The namespace's mounts vanish with its last process. */
	n = snprintf(script, sizeof(script),
		     "set -e\nS=%s\nD=%s\n%s\nexec %s -c %s\n", sock, sp.dir,
		     ns_setup, bin, path);
	cr_assert(n > 0 && (size_t)n < sizeof(script));
	snprintf(sp.log, sizeof(sp.log), "%s/sipedge.log", sp.dir);
	snprintf(sp.out, sizeof(sp.out), "%s/sipedge.out", sp.dir);
	{
		char *argv[] = { "unshare", "-m", "sh", "-c", script, NULL };

		cr_assert_eq(proc_spawn(argv, NULL, sp.out, sp.log, &pid), 0,
			     "unshare is not installed");
	}
	sp.pid = pid;
	snprintf(sp.conf, sizeof(sp.conf), "%s", path);
}

/* Read what sipedge sends to sock_fd until a datagram holds @p needle
 * (bounded: 50 datagrams, WAIT_MS each). */
static void datagram_wait(const char *needle)
{
	char buf[4096];
	struct pollfd pf;
	bool found = false;
	int i, n;

	pf.fd = sock_fd;
	pf.events = POLLIN;
	/* Bounded: at most 50 datagrams, WAIT_MS each. */
	for (i = 0; i < 50 && !found && poll(&pf, 1, WAIT_MS) == 1; i++) {
		n = (int)recv(sock_fd, buf, sizeof(buf) - 1, 0);
		cr_assert_gt(n, 0);
		buf[n] = '\0';
		found = strstr(buf, needle) != NULL;
	}
	if (!found) {
		proc_read_file(sp.log, &text);
		cr_assert_fail("no datagram with '%s' (last: %.300s); "
			       "stderr: %.1000s",
			       needle, i ? buf : "none", text ? text : "");
	}
}

/*
 * Run sipedge with log.target @p target (target_spawn()) and read what
 * it sends until a datagram holds @p needle; then stderr must be quiet.
 */
static void target_run(const char *target, const char *ns_setup,
		       const char *needle)
{
	target_spawn(target, ns_setup);
	datagram_wait(needle);
	cr_assert_eq(sipcli_ping("127.0.0.1", sp.port, 2000), 200);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
	/* The lines went to the target, not to stderr. */
	cr_assert_eq(proc_read_file(sp.log, &text), 0);
	cr_assert_null(strstr(text, "listening on"), "stderr got: %s", text);
}

Test(logs, syslog_target_sends_to_dev_log)
{
	char needle[128];

	/* /dev/log is this test's socket: /dev becomes a tmpfs holding it
	 * and links to the real device nodes. */
	snprintf(needle, sizeof(needle), "listening on 127.0.0.1:");
	target_run("syslog",
		   "mkdir \"$D/olddev\"\n"
		   "mount --rbind /dev \"$D/olddev\"\n"
		   "mount -t tmpfs tmpfs /dev\n"
		   "for n in null zero full random urandom; do "
		   "ln -s \"$D/olddev/$n\" /dev/$n; done\n"
		   "ln -s \"$S\" /dev/log",
		   needle);
}

Test(logs, syslog_datagrams_carry_facility_daemon_and_ident)
{
	target_run("syslog",
		   "mkdir \"$D/olddev\"\n"
		   "mount --rbind /dev \"$D/olddev\"\n"
		   "mount -t tmpfs tmpfs /dev\n"
		   "for n in null zero full random urandom; do "
		   "ln -s \"$D/olddev/$n\" /dev/$n; done\n"
		   "ln -s \"$S\" /dev/log",
		   /* <30>: facility daemon (3) * 8 + info (6). */
		   "<30>");
}

Test(logs, journal_target_speaks_the_native_protocol)
{
	/* No journald here: the test's socket stands at its path in a
	 * private /run, and reads the fields journald would. */
	target_run("journal", JOURNAL_NS,
		   "PRIORITY=6\nSYSLOG_IDENTIFIER=sipedge\nMESSAGE=sipedge ");
}

/* Rewrite log.target @p from to @p to in sipedge's file and SIGHUP it. */
static void target_reload(const char *from, const char *to)
{
	char *old = NULL, want[64], tmp[PROC_PATH_MAX + 8];
	const char *p;
	FILE *f;

	cr_assert_eq(proc_read_file(sp.conf, &old), 0);
	snprintf(want, sizeof(want), "target: %s\n", from);
	p = strstr(old, want);
	cr_assert_not_null(p, "no '%s' in:\n%s", want, old);
	snprintf(tmp, sizeof(tmp), "%s.new", sp.conf);
	f = fopen(tmp, "w");
	cr_assert_not_null(f);
	fprintf(f, "%.*starget: %s\n%s", (int)(p - old), old, to,
		p + strlen(want));
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(rename(tmp, sp.conf), 0);
	free(old);
	cr_assert_eq(kill(sp.pid, SIGHUP), 0);
}

Test(logs, reload_switches_the_target_to_the_journal_and_back)
{
	target_spawn("stderr", JOURNAL_NS);
	cr_assert_eq(proc_sipedge_wait_log(&sp, "listening on", 1, WAIT_MS), 0,
		     "%s", sp.why);
	target_reload("stderr", "journal");
	/* The reload's own line comes after the switch: to the journal. */
	datagram_wait("reloaded (changed: log)");
	cr_assert_eq(proc_read_file(sp.log, &text), 0);
	cr_assert_null(strstr(text, "reloaded"), "stderr got: %s", text);
	free(text);
	text = NULL;
	target_reload("journal", "stderr");
	cr_assert_eq(
	    proc_sipedge_wait_log(&sp, "reloaded (changed: log)", 1, WAIT_MS),
	    0, "%s", sp.why);
	cr_assert_eq(sipcli_ping("127.0.0.1", sp.port, 2000), 200);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}
