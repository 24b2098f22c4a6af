/* tests/integration/test_b2b_dialog.c - the B2B relay in a confirmed
 * call, in the real binary with SIPp as alice and bob: hold (re-INVITE)
 * and UPDATE offers and INFO cross the bridge in each peer's own SDP
 * session (bridge.h), the pool's 200 comes again until its ACK, and a
 * second fork's 200 is ACKed and BYEd */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/common/ms.h"
#include "tests/common/proc.h"
#include "tests/common/sipp.h"

#define SIPP_MS 20000

static struct proc_sipedge sp;
static pid_t alice_pid, bob_pid, bob2_pid;
static uint16_t bob_port, bob2_port, pool_port;

static void setup(void)
{
	memset(&sp, 0, sizeof(sp));
	alice_pid = bob_pid = bob2_pid = 0;
	cr_assert_eq(proc_free_port("127.0.0.1", &bob_port), 0);
	cr_assert_eq(proc_free_port("127.0.0.1", &bob2_port), 0);
	cr_assert_eq(proc_free_port("127.0.0.1", &pool_port), 0);
}

static void teardown(void)
{
	if (alice_pid > 0)
		proc_kill(alice_pid);
	if (bob_pid > 0)
		proc_kill(bob_pid);
	if (bob2_pid > 0)
		proc_kill(bob2_pid);
	proc_sipedge_cleanup(&sp);
}

TestSuite(b2b_dialog, .init = setup, .fini = teardown, .timeout = 120);

/* sipedge with bob@127.0.0.1 at bob's port (and at bob2's when
 * @p forked: parallel forking), the pool on pool_port, T1 100 ms. */
static void up(bool forked)
{
	char yaml[1024], second[64] = "";

	if (forked)
		snprintf(second, sizeof(second), ", \"sip:bob@127.0.0.1:%u\"",
			 bob2_port);
	snprintf(yaml, sizeof(yaml),
		 "locations:\n  - aor: bob@127.0.0.1\n"
		 "    contacts: [\"sip:bob@127.0.0.1:%u\"%s]\n"
		 "proxy:\n  t1_ms: 100\n"
		 "b2b:\n  workers: 2\n  listen: \"127.0.0.1:%u\"\n",
		 bob_port, second, pool_port);
	cr_assert_eq(proc_sipedge_start(&sp, "127.0.0.1", 2, yaml), 0,
		     "sipedge did not start: %s", sp.why);
}

static pid_t uas(const char *scenario, uint16_t port, const char *who)
{
	struct sipp_cmd c;
	pid_t pid;

	sipp_cmd_uas(&c, scenario, port, "u1");
	sipp_cmd_opt(&c, "-m", "1");
	sipp_cmd_errors(&c, who);
	pid = sipp_spawn(c.argv, sp.dir, who);
	sipp_bound(port, "u1");
	return pid;
}

static void alice(const char *scenario)
{
	struct sipp_cmd c;

	sipp_cmd_uac(&c, scenario, sp.port, 0, "u1");
	sipp_cmd_opt(&c, "-m", "1");
	sipp_cmd_args(&c, "-key", "pool", NULL);
	sipp_cmd_arg(&c, "%u", pool_port);
	sipp_cmd_args(&c, "-key", "rel", "X-No: 100rel", NULL);
	sipp_cmd_args(&c, "-trace_msg", "-message_file", "alice_msg.log", NULL);
	sipp_cmd_errors(&c, "alice");
	alice_pid = sipp_spawn(c.argv, sp.dir, "alice");
}

static void all_ok(void)
{
	sipp_ok(&alice_pid, SIPP_MS, sp.dir, "alice", sp.log);
	sipp_ok(&bob_pid, SIPP_MS, sp.dir, "bob", sp.log);
	if (bob2_pid)
		sipp_ok(&bob2_pid, SIPP_MS, sp.dir, "bob2", sp.log);
	/* A clean stop: every leg and call freed (sanitizers under SAN=1). */
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* Lines of alice's message trace that start with @p prefix. */
static unsigned traced(const char *prefix)
{
	char path[PROC_PATH_MAX], line[512];
	unsigned n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/alice_msg.log", sp.dir);
	f = fopen(path, "r");
	cr_assert_not_null(f, "no %s", path);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, prefix, strlen(prefix)))
			n++;
	fclose(f);
	return n;
}

/* alice holds bob (re-INVITE, sendonly), bob moves his media (UPDATE),
 * alice sends DTMF (INFO): each reaches the other peer with the SDP
 * continued in that peer's session, and each answer comes back (every
 * o= version and m= port asserted by the scenarios). */
Test(b2b_dialog, hold_update_and_info_cross_the_relay)
{
	up(false);
	bob_pid = uas("uas_relay_mid.xml", bob_port, "bob");
	alice("uac_relay_mid.xml");
	all_ok();
}

/* alice's ACK is late: the pool's 200 (from the relay's UAS leg) comes
 * again meanwhile, T1 (100 ms) doubling: 100, 300, 700 ms. */
Test(b2b_dialog, the_pools_200_comes_again_until_the_ack)
{
	unsigned n;

	up(false);
	bob_pid = uas("uas_relay_180.xml", bob_port, "bob");
	alice("uac_relay_noack.xml");
	all_ok();
	/* One 200 to the INVITE, its retransmissions, one to the BYE. */
	n = traced("SIP/2.0 200 ");
	cr_assert_geq(n, 4, "%u 200s reached alice: not sent again", n);
}

/* bob has two devices: one answers, the other's 200 crosses the
 * proxy's CANCEL; the pool ACKs and BYEs that second dialog at once and
 * the call goes on with the first (alice's BYE reaches it). */
Test(b2b_dialog, a_second_forks_200_is_acked_and_byed)
{
	up(true);
	bob_pid = uas("uas_relay_180.xml", bob_port, "bob");
	bob2_pid = uas("uas_relay_fork.xml", bob2_port, "bob2");
	alice("uac_relay_unrel.xml");
	all_ok();
}
