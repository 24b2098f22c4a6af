/* tests/integration/test_b2b_100rel.c - the B2B relay and RFC 3262
 * 100rel through it, in the real binary with SIPp as alice (calling
 * bob through the pool: a Route to its address) and bob: SDP across the
 * legs, reliable provisionals and PRACKs on each leg, per b2b.100rel */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/common/ms.h"
#include "tests/common/proc.h"
#include "tests/common/sipp.h"

#define SIPP_MS 20000

static struct proc_sipedge sp;
static pid_t alice_pid, bob_pid;
static uint16_t bob_port, pool_port;

static void setup(void)
{
	memset(&sp, 0, sizeof(sp));
	alice_pid = bob_pid = 0;
	cr_assert_eq(proc_free_port("127.0.0.1", &bob_port), 0);
	cr_assert_eq(proc_free_port("127.0.0.1", &pool_port), 0);
}

static void teardown(void)
{
	if (alice_pid > 0)
		proc_kill(alice_pid);
	if (bob_pid > 0)
		proc_kill(bob_pid);
	proc_sipedge_cleanup(&sp);
}

TestSuite(b2b_100rel, .init = setup, .fini = teardown, .timeout = 120);

/* sipedge with bob@127.0.0.1 at bob's port, the pool on pool_port with
 * b2b.100rel @p mode, and a short T1 (the 1xx retransmissions). */
static void up(const char *mode)
{
	char yaml[1024];

	snprintf(yaml, sizeof(yaml),
		 "locations:\n  - aor: bob@127.0.0.1\n"
		 "    contacts: [\"sip:bob@127.0.0.1:%u\"]\n"
		 "proxy:\n  t1_ms: 100\n"
		 "b2b:\n  workers: 2\n  listen: \"127.0.0.1:%u\"\n"
		 "  100rel: %s\n",
		 bob_port, pool_port, mode);
	cr_assert_eq(proc_sipedge_start(&sp, "127.0.0.1", 2, yaml), 0,
		     "sipedge did not start: %s", sp.why);
}

static void bob(const char *scenario)
{
	struct sipp_cmd c;

	sipp_cmd_uas(&c, scenario, bob_port, "u1");
	sipp_cmd_opt(&c, "-m", "1");
	sipp_cmd_errors(&c, "bob");
	bob_pid = sipp_spawn(c.argv, sp.dir, "bob");
	sipp_bound(bob_port, "u1");
}

/* alice with @p rel as her 100rel header line ("X-No: 100rel": none). */
static void alice(const char *scenario, const char *rel)
{
	struct sipp_cmd c;

	sipp_cmd_uac(&c, scenario, sp.port, 0, "u1");
	sipp_cmd_opt(&c, "-m", "1");
	sipp_cmd_args(&c, "-key", "pool", NULL);
	sipp_cmd_arg(&c, "%u", pool_port);
	sipp_cmd_args(&c, "-key", "rel", rel, NULL);
	sipp_cmd_errors(&c, "alice");
	alice_pid = sipp_spawn(c.argv, sp.dir, "alice");
}

static void both_ok(void)
{
	sipp_ok(&alice_pid, SIPP_MS, sp.dir, "alice", sp.log);
	if (bob_pid)
		sipp_ok(&bob_pid, SIPP_MS, sp.dir, "bob", sp.log);
}

/* Reliable 183 with bob's answer on both legs, PRACKed on each. */
Test(b2b_100rel, supported_183_sdp_reliable)
{
	up("supported");
	bob("uas_relay_183.xml");
	alice("uac_relay_183.xml", "Supported: 100rel");
	both_ok();
}
