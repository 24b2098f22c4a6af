/* tests/integration/test_steering.c - udp.steering: with the kernel program
 * (SO_ATTACH_REUSEPORT_EBPF) a dialog's datagrams from one source socket
 * reach the owning shard with no hand-off; without it (off, or no
 * CAP_BPF) the hand-off moves them and calls still succeed */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <jansson.h>

#include "tests/common/mgmtcli.h"
#include "tests/common/proc.h"
#include "tests/common/sipcli.h"
#include "tests/common/sipp.h"

#define CALLS 300
#define RATE  200

static struct proc_sipedge sp;
static pid_t uas_pid, uac_pid;
static uint16_t uas_port;
static char wrapper[PROC_PATH_MAX];

static void setup(void)
{
	memset(&sp, 0, sizeof(sp));
	uas_pid = 0;
	uac_pid = 0;
	wrapper[0] = '\0';
	cr_assert_eq(proc_free_port("127.0.0.1", &uas_port), 0);
}

static void teardown(void)
{
	if (uas_pid > 0)
		proc_kill(uas_pid);
	if (uac_pid > 0)
		proc_kill(uac_pid);
	proc_sipedge_cleanup(&sp);
	if (wrapper[0])
		unlink(wrapper);
}

TestSuite(steering, .init = setup, .fini = teardown, .timeout = 120);

/* Write the config and spawn sipedge with @p workers and udp.steering
 * @p mode; alice@localhost is at the SIPp callee. Does not wait. */
static void spawn(unsigned workers, const char *mode)
{
	char conf[2048], path[PROC_PATH_MAX];
	char *args[] = { "-c", path, NULL };
	int n;

	cr_assert_eq(proc_tmpdir(sp.dir, sizeof(sp.dir)), 0);
	snprintf(sp.host, sizeof(sp.host), "127.0.0.1");
	cr_assert_eq(proc_free_port("127.0.0.1", &sp.port), 0);
	cr_assert_eq(proc_free_port("127.0.0.1", &sp.mgmt_port), 0);
	n = snprintf(conf, sizeof(conf),
		     "workers: %u\nlog_level: info\nlisten:\n"
		     "  - address: 127.0.0.1\n    port: %u\n"
		     "domains: [localhost, 127.0.0.1]\n"
		     "udp:\n  steering: %s\n"
		     "management:\n  listen: [\"127.0.0.1:%u\"]\n"
		     "locations:\n  - aor: alice@localhost\n"
		     "    contacts: [\"sip:alice@127.0.0.1:%u\"]\n",
		     workers, sp.port, mode, sp.mgmt_port, uas_port);
	cr_assert(n > 0 && (size_t)n < sizeof(conf));
	cr_assert_eq(
	    proc_write_file(sp.dir, "sipedge.yaml", conf, path, sizeof(path)),
	    0);
	cr_assert_eq(proc_sipedge_spawn(&sp, args), 0, "%s", sp.why);
}

/* spawn(), then wait until it answers an OPTIONS and its management
 * API listens (bounded: 100 pings of at most 100 ms, then 10 s). */
static void start(unsigned workers, const char *mode)
{
	int st = -1;

	spawn(workers, mode);
	for (int i = 0; i < 100 && st < 100; i++)
		st = sipcli_ping(sp.host, sp.port, 100);
	cr_assert_geq(st, 100, "sipedge did not answer");
	cr_assert_eq(proc_wait_bound(sp.mgmt_port, true, 10000), 0);
}

/*
 * Run sipedge from now on without CAP_BPF, CAP_SYS_ADMIN, CAP_NET_ADMIN
 * and CAP_PERFMON (util-linux setpriv drops them from the bounding set,
 * so that even root cannot load a BPF program): a wrapper script in
 * place of $SIPEDGE_BIN, for this test process only (Criterion forks
 * one per test).
 */
static void without_cap_bpf(void)
{
	const char *bin = getenv("SIPEDGE_BIN");
	char dir[PROC_PATH_MAX / 2], text[2 * PROC_PATH_MAX];
	int n;

	cr_assert(bin && bin[0], "SIPEDGE_BIN is not set");
	cr_assert_eq(proc_tmpdir(dir, sizeof(dir)), 0);
	n = snprintf(text, sizeof(text),
		     "#!/bin/sh\nexec setpriv --bounding-set "
		     "-bpf,-sys_admin,-net_admin,-perfmon -- '%s' \"$@\"\n",
		     bin);
	cr_assert(n > 0 && (size_t)n < sizeof(text));
	cr_assert_eq(proc_write_file(dir, "sipedge-nobpf", text, wrapper,
				     sizeof(wrapper)),
		     0);
	cr_assert_eq(chmod(wrapper, 0755), 0, "%s", strerror(errno));
	cr_assert_eq(setenv("SIPEDGE_BIN", wrapper, 1), 0);
}

/* stats.get key @p name ("shard.handoff_out", "shard[1].steered"). */
static long long stat_of(const char *name)
{
	return mgmtcli_stat(sp.mgmt_port, name);
}

/* CALLS calls from ONE SIPp caller socket (-t u1) to ONE callee socket,
 * all of which must succeed. */
static void calls(void)
{
	struct sipp_cmd c;

	sipp_cmd_uas(&c, "uas_call.xml", uas_port, "u1");
	sipp_cmd_opt(&c, "-m", "%u", CALLS);
	sipp_cmd_opt(&c, "-d", "%u", 0);
	sipp_cmd_errors(&c, "uas");
	uas_pid = sipp_spawn(c.argv, sp.dir, "uas");
	sipp_bound(uas_port, "u1");

	sipp_cmd_uac(&c, "uac_call.xml", sp.port, 0, "u1");
	sipp_cmd_args(&c, "-s", "alice", "-key", "domain", "localhost", NULL);
	sipp_cmd_opt(&c, "-m", "%u", CALLS);
	sipp_cmd_opt(&c, "-r", "%u", RATE);
	sipp_cmd_args(&c, "-l", "500", "-timeout", "60s", "-timeout_error",
		      NULL);
	sipp_cmd_errors(&c, "uac");
	uac_pid = sipp_spawn(c.argv, sp.dir, "uac");
	sipp_ok(&uac_pid, 90000, sp.dir, "uac", sp.log);
	sipp_ok(&uas_pid, 30000, sp.dir, "uas", NULL);
}

Test(steering, calls_from_one_socket_reach_their_owner_with_no_handoff)
{
	long long s0, s1, rx0, rx1, out0, in0;

	start(2, "bpf");
	/* What start()'s pings left: a datagram that came in between the
	 * first bind and the attach (rare: the program is verified before
	 * the bind) took the kernel's default choice. */
	out0 = stat_of("shard.handoff_out");
	in0 = stat_of("shard.handoff_in");
	calls();
	s0 = stat_of("shard[0].steered");
	s1 = stat_of("shard[1].steered");
	rx0 = stat_of("shard[0].rx_msgs");
	rx1 = stat_of("shard[1].rx_msgs");
	cr_expect_eq(stat_of("shard.steering"), 2, "one gauge per shard");
	/* Every call's INVITE, ACK, BYE and the callee's 180, 200, 200
	 * went through the program: 6 per call at least. */
	cr_expect_geq(s0 + s1, 6 * CALLS, "steered %lld + %lld", s0, s1);
	/* One source socket, spread over both shards by Call-ID. */
	cr_expect_gt(s0, CALLS, "shard 0 got %lld", s0);
	cr_expect_gt(s1, CALLS, "shard 1 got %lld", s1);
	cr_expect_gt(rx0, 0);
	cr_expect_gt(rx1, 0);
	cr_expect_eq(stat_of("shard.handoff_out"), out0,
		     "handed off: %lld (rx %lld + %lld)",
		     stat_of("shard.handoff_out") - out0, rx0, rx1);
	cr_expect_eq(stat_of("shard.handoff_in"), in0);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

Test(steering, off_hands_off_and_calls_still_succeed)
{
	start(2, "off");
	calls();
	cr_expect_eq(stat_of("shard.steering"), 0);
	cr_expect_eq(stat_of("shard.steered"), 0);
	/* The kernel's choice by source address: one caller socket, one
	 * shard, which hands the other shard's calls over. */
	cr_expect_gt(stat_of("shard.handoff_out"), CALLS, "handed off: %lld",
		     stat_of("shard.handoff_out"));
	cr_expect_eq(stat_of("shard.handoff_out"), stat_of("shard.handoff_in"));
	/* Hand-offs are batched per turn of the reader's loop, and an
	 * owner that is awake is not woken: at most one wake-up (sent or
	 * skipped) per hand-off, and some were sent. */
	cr_expect_gt(stat_of("shard.wakeups"), 0);
	cr_expect_leq(stat_of("shard.wakeups") +
			  stat_of("shard.wakeups_skipped"),
		      stat_of("shard.handoff_out"));
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

Test(steering, auto_without_cap_bpf_falls_back_to_the_handoff)
{
	without_cap_bpf();
	start(2, "auto");
	cr_assert_eq(proc_sipedge_wait_log(&sp,
					   "udp.steering: the kernel program "
					   "is not attached (load: ",
					   1, 5000),
		     0, "%s", sp.why);
	cr_assert_eq(proc_sipedge_wait_log(&sp,
					   "the shards hand datagrams "
					   "over",
					   1, 1000),
		     0, "%s", sp.why);
	calls();
	cr_expect_eq(stat_of("shard.steering"), 0);
	cr_expect_eq(stat_of("shard.steered"), 0);
	cr_expect_gt(stat_of("shard.handoff_out"), 0);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

Test(steering, bpf_without_cap_bpf_refuses_to_start)
{
	int status = 0;

	without_cap_bpf();
	spawn(2, "bpf");
	cr_assert_eq(proc_sipedge_wait(&sp, 10000, &status), 0, "%s", sp.why);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) != 0, "status %#x",
		  status);
	/* The failed start frees what it made (LeakSanitizer under SAN). */
	cr_assert_eq(proc_sipedge_check_log(&sp), 0, "%s", sp.why);
	cr_assert_eq(proc_sipedge_wait_log(&sp,
					   "udp.steering: the kernel program "
					   "is not attached (load: ",
					   1, 1000),
		     0, "%s", sp.why);
}

Test(steering, one_worker_loads_nothing)
{
	start(1, "bpf");
	cr_expect_eq(stat_of("shard.steering"), 0);
	cr_expect_eq(proc_sipedge_wait_log(&sp, "udp.steering", 1, 200),
		     -ETIMEDOUT, "a steering line with one worker");
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}
