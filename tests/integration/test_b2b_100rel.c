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

/* alice with @p rel as her 100rel header line ("X-No: 100rel": none);
 * her messages traced to alice_msg.log in the test's directory. */
static void alice(const char *scenario, const char *rel)
{
	struct sipp_cmd c;

	sipp_cmd_uac(&c, scenario, sp.port, 0, "u1");
	sipp_cmd_opt(&c, "-m", "1");
	sipp_cmd_args(&c, "-key", "pool", NULL);
	sipp_cmd_arg(&c, "%u", pool_port);
	sipp_cmd_args(&c, "-key", "rel", rel, NULL);
	sipp_cmd_args(&c, "-trace_msg", "-message_file", "alice_msg.log", NULL);
	sipp_cmd_errors(&c, "alice");
	alice_pid = sipp_spawn(c.argv, sp.dir, "alice");
}

/* Lines of alice's message trace that start with @p prefix, and the
 * RSeq values seen (all of them must be @p *rseqp, set from the first). */
static unsigned traced(const char *prefix, char *rseq, size_t size)
{
	char path[PROC_PATH_MAX], line[512];
	unsigned n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/alice_msg.log", sp.dir);
	f = fopen(path, "r");
	cr_assert_not_null(f, "no %s", path);
	rseq[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, prefix, strlen(prefix)))
			n++;
		if (!strncmp(line, "RSeq:", 5)) {
			if (!rseq[0])
				snprintf(rseq, size, "%.60s", line);
			cr_assert_eq(strncmp(line, rseq, strlen(rseq)), 0,
				     "RSeq changed");
		}
	}
	fclose(f);
	return n;
}

static void both_ok(void)
{
	sipp_ok(&alice_pid, SIPP_MS, sp.dir, "alice", sp.log);
	if (bob_pid)
		sipp_ok(&bob_pid, SIPP_MS, sp.dir, "bob", sp.log);
	/* A clean stop: every leg and call freed (sanitizers under SAN=1). */
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* Both ended well and no provisional to alice was reliable: no RSeq,
 * no Require: 100rel in anything she received. */
static void both_ok_unreliable(void)
{
	char rseq[64];

	both_ok();
	cr_assert_eq(traced("RSeq:", rseq, sizeof(rseq)), 0,
		     "a reliable 1xx reached alice");
	cr_assert_eq(traced("Require: 100rel", rseq, sizeof(rseq)), 0,
		     "Require: 100rel reached alice");
	cr_assert_geq(traced("SIP/2.0 18", rseq, sizeof(rseq)), 1,
		      "no 180/183 reached alice");
}

/* Reliable 183 with bob's answer on both legs, PRACKed on each. */
Test(b2b_100rel, supported_183_sdp_reliable)
{
	up("supported");
	bob("uas_relay_183.xml");
	alice("uac_relay_183.xml", "Supported: 100rel");
	both_ok();
}

/* b2b.100rel supported: a reliable 180 without SDP to alice although
 * bob's is not reliable; the answer in the 200. */
Test(b2b_100rel, supported_180_no_sdp_reliable_to_alice)
{
	up("supported");
	bob("uas_relay_180.xml");
	alice("uac_relay_180.xml", "Supported: 100rel");
	both_ok();
}

/* Late offer: bob's offer in a reliable 183 to alice, her answer in
 * her PRACK, and that answer in the relay's PRACK to bob. */
Test(b2b_100rel, supported_prack_with_sdp_both_legs)
{
	up("supported");
	bob("uas_relay_late.xml");
	alice("uac_relay_late.xml", "Supported: 100rel");
	both_ok();
}

/* alice skips her first PRACK: the 183 comes again with its RSeq. */
Test(b2b_100rel, lost_prack_retransmits_the_183)
{
	up("supported");
	char rseq[64];

	bob("uas_relay_183_slow.xml");
	alice("uac_relay_lost.xml", "Supported: 100rel");
	both_ok();
	/* T1 100 ms: sent at 0, again at 100, 300 ms (then 700: PRACKed
	 * at 600 ms, so no more), RFC 3262 §3. */
	cr_assert_geq(traced("SIP/2.0 183", rseq, sizeof(rseq)), 3,
		      "the 183 was not retransmitted");
	cr_assert_neq(rseq[0], '\0', "no RSeq");
}

/* A PRACK whose RAck matches nothing: 481; the right one: 200. */
Test(b2b_100rel, unmatched_rack_gets_481)
{
	up("supported");
	bob("uas_relay_183.xml");
	alice("uac_relay_rack.xml", "Supported: 100rel");
	both_ok();
}

/* supported, alice without the tag: unreliable to her (bob's reliable
 * 183 is still PRACKed by the relay). */
Test(b2b_100rel, supported_without_tag_is_unreliable)
{
	up("supported");
	bob("uas_relay_183.xml");
	alice("uac_relay_unrel.xml", "X-No: 100rel");
	both_ok_unreliable();
}

/* no: alice's Supported does not make it reliable. */
Test(b2b_100rel, no_supported_is_unreliable)
{
	up("no");
	bob("uas_relay_180.xml");
	alice("uac_relay_unrel.xml", "Supported: 100rel");
	both_ok_unreliable();
}

/* no: Require: 100rel gets 420 + Unsupported: 100rel; bob is not
 * called. */
Test(b2b_100rel, no_require_gets_420)
{
	up("no");
	alice("uac_relay_420.xml", "Require: 100rel");
	both_ok();
}

/* required: an INVITE without the tag gets 421 + Require: 100rel. */
Test(b2b_100rel, required_without_tag_gets_421)
{
	up("required");
	alice("uac_relay_421.xml", "X-No: 100rel");
	both_ok();
}

/* required: with Supported, reliable (183 with SDP). */
Test(b2b_100rel, required_supported_183_reliable)
{
	up("required");
	bob("uas_relay_183.xml");
	alice("uac_relay_183.xml", "Supported: 100rel");
	both_ok();
}

/* required: late offer, PRACK with SDP on both legs. */
Test(b2b_100rel, required_prack_with_sdp_both_legs)
{
	up("required");
	bob("uas_relay_late.xml");
	alice("uac_relay_late.xml", "Require: 100rel");
	both_ok();
}

/* peer_supported: Supported alone is not enough. */
Test(b2b_100rel, peer_supported_supported_is_unreliable)
{
	up("peer_supported");
	bob("uas_relay_180.xml");
	alice("uac_relay_unrel.xml", "Supported: 100rel");
	both_ok_unreliable();
}

/* peer_supported: Require makes it reliable. */
Test(b2b_100rel, peer_supported_require_183_reliable)
{
	up("peer_supported");
	bob("uas_relay_183.xml");
	alice("uac_relay_183.xml", "Require: 100rel");
	both_ok();
}

/* peer_supported, Require: a reliable 180 without SDP. */
Test(b2b_100rel, peer_supported_require_180_reliable)
{
	up("peer_supported");
	bob("uas_relay_180.xml");
	alice("uac_relay_180.xml", "Require: 100rel");
	both_ok();
}

/* b2b.domains: the caller's domain (127.0.0.1) requires 100rel although
 * the global mode is no: an INVITE without the tag gets 421. */
Test(b2b_100rel, domain_required_overrides_global_no)
{
	up("no\n  domains:\n    - domain: 127.0.0.1\n      100rel: required");
	alice("uac_relay_421.xml", "X-No: 100rel");
	both_ok();
}

/* ... and the other way round: Require: 100rel gets 420. */
Test(b2b_100rel, domain_no_overrides_global_required)
{
	up("required\n  domains:\n    - domain: 127.0.0.1\n      100rel: no");
	alice("uac_relay_420.xml", "Require: 100rel");
	both_ok();
}

/* An entry for another domain leaves 127.0.0.1 on the global mode (no):
 * the call goes through, nothing reliable. */
Test(b2b_100rel, another_domains_entry_changes_nothing)
{
	up("no\n  domains:\n    - domain: localhost\n      100rel: required");
	bob("uas_relay_180.xml");
	alice("uac_relay_unrel.xml", "Supported: 100rel");
	both_ok_unreliable();
}
