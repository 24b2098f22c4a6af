/* tests/integration/test_topoh.c - topology hiding (routes[].topology_hiding):
 * SIPp as an inside UA on 127.0.0.2 and as a trunk on 127.0.0.3, sipedge on
 * 127.0.0.1; calls both ways with re-INVITE and BYE from both sides, and
 * what the trunk received holds no inside address, port or Call-ID */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/common/proc.h"
#include "tests/common/sipp.h"

/* Distinct loopback addresses: on 127.0.0.1 alone every party would
 * look the same, and the trunk is known to sipedge by its address. */
#define INSIDE_IP "127.0.0.2"
#define TRUNK_IP  "127.0.0.3"
#define KEY	  "topoh-test-secret-0123456789"

static struct proc_sipedge sp, inner;
static pid_t uas_pid, uac_pid;
static char *log_text;
static uint16_t inside_port, trunk_port;

static void setup(void)
{
	memset(&sp, 0, sizeof(sp));
	memset(&inner, 0, sizeof(inner));
	uas_pid = uac_pid = 0;
	log_text = NULL;
}

static void teardown(void)
{
	if (uac_pid > 0)
		proc_kill(uac_pid);
	if (uas_pid > 0)
		proc_kill(uas_pid);
	free(log_text);
	proc_sipedge_cleanup(&inner);
	proc_sipedge_cleanup(&sp);
}

TestSuite(topoh, .init = setup, .fini = teardown, .timeout = 90);

static void start_tp(const char *trunk_tp)
{
	char yaml[1024];
	int err;

	cr_assert_eq(proc_free_port("127.0.0.1", &inside_port), 0);
	do
		cr_assert_eq(proc_free_port("127.0.0.1", &trunk_port), 0);
	while (trunk_port == inside_port);
	snprintf(yaml, sizeof(yaml),
		 "proxy:\n  topology_hiding_key: \"%s\"\n"
		 "routes:\n  - domain: trunk.example\n"
		 "    next_hop: [\"sip:%s:%u%s\"]\n"
		 "    topology_hiding: true\n"
		 "locations:\n  - aor: alice@localhost\n"
		 "    contacts: [\"sip:alice@%s:%u\"]\n",
		 KEY, TRUNK_IP, trunk_port, trunk_tp, INSIDE_IP, inside_port);
	err = proc_sipedge_start(&sp, "127.0.0.1", 2, yaml);
	cr_assert_eq(err, 0, "sipedge did not start: %s", sp.why);
}

static void start(void)
{
	start_tp("");
}

/* SIPp on @p ip:@p port with @p scenario, its messages traced into
 * NAME_msgs.log; @p target 0: a callee. */
static pid_t spawn_tp(const char *name, const char *scenario, const char *ip,
		      uint16_t port, uint16_t target, const char *cid_str,
		      const char *tp)
{
	struct sipp_cmd c;
	char sf[PROC_PATH_MAX];

	memset(&c, 0, sizeof(c));
	sipp_scenario(scenario, sf);
	sipp_cmd_arg(&c, "sipp");
	if (target)
		sipp_cmd_arg(&c, "127.0.0.1:%u", target);
	sipp_cmd_args(&c, "-sf", sf, "-i", ip, NULL);
	sipp_cmd_opt(&c, "-p", "%u", port);
	sipp_cmd_args(&c, "-t", tp, "-nostdin", "-m", "1", "-timeout", "30s",
		      "-timeout_error", "-recv_timeout", "10000", "-trace_msg",
		      NULL);
	sipp_cmd_opt(&c, "-message_file", "%s_msgs.log", name);
	if (cid_str)
		sipp_cmd_args(&c, "-cid_str", cid_str, NULL);
	sipp_cmd_errors(&c, name);
	return sipp_spawn(c.argv, sp.dir, name);
}

static pid_t spawn(const char *name, const char *scenario, const char *ip,
		   uint16_t port, uint16_t target, const char *cid_str)
{
	return spawn_tp(name, scenario, ip, port, target, cid_str, "u1");
}

/* What SIPp @p name received and sent (the trunk: only what sipedge
 * let out, and its own answers to it). */
static void read_msgs(const char *name)
{
	char path[PROC_PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s_msgs.log", sp.dir, name);
	free(log_text);
	log_text = NULL;
	cr_assert_eq(proc_read_file(path, &log_text), 0, "no %s", path);
}

/* Nothing of the inside in what the trunk saw: not its address, not
 * its port, not a Call-ID it made. */
static void assert_nothing_inside(const char *inside_call_id_prefix)
{
	char port[16];

	snprintf(port, sizeof(port), ":%u", inside_port);
	cr_assert_not_null(strstr(log_text, "th-"),
			   "the trunk saw no token of sipedge's:\n%s",
			   log_text);
	cr_assert_null(strstr(log_text, INSIDE_IP),
		       "the trunk saw the inside address:\n%s", log_text);
	cr_assert_null(strstr(log_text, port),
		       "the trunk saw the inside port %s:\n%s", port, log_text);
	if (inside_call_id_prefix)
		cr_assert_null(strstr(log_text, inside_call_id_prefix),
			       "the trunk saw the inside Call-ID:\n%s",
			       log_text);
}

Test(topoh, inside_call_to_trunk_hides_inside_and_reinvite_bye_work)
{
	start();
	uas_pid = spawn("trunk", "topoh_trunk_uas.xml", TRUNK_IP, trunk_port, 0,
			NULL);
	cr_assert_eq(proc_wait_bound(trunk_port, false, 10000), 0,
		     "the trunk SIPp did not bind");
	uac_pid = spawn("inside", "topoh_uac_out.xml", INSIDE_IP, inside_port,
			sp.port, "topoh-inside-%u-%p");
	/* Exit 0: every message came as the scenario wants, the checks
	 * on Call-ID and Contact included. */
	sipp_ok(&uas_pid, 40000, sp.dir, "trunk", sp.log);
	sipp_ok(&uac_pid, 20000, sp.dir, "inside", sp.log);
	read_msgs("trunk");
	assert_nothing_inside("topoh-inside-");
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

Test(topoh, trunk_call_in_hides_inside_and_reinvite_bye_work)
{
	start();
	uas_pid = spawn("inside", "topoh_uas_in.xml", INSIDE_IP, inside_port, 0,
			NULL);
	cr_assert_eq(proc_wait_bound(inside_port, false, 10000), 0,
		     "the inside SIPp did not bind");
	uac_pid = spawn("trunk", "topoh_trunk_uac.xml", TRUNK_IP, trunk_port,
			sp.port, "topoh-trunk-%u-%p");
	sipp_ok(&uac_pid, 40000, sp.dir, "trunk", sp.log);
	sipp_ok(&uas_pid, 20000, sp.dir, "inside", sp.log);
	read_msgs("trunk");
	assert_nothing_inside(NULL);
	/* The inside did not learn the trunk's Call-ID either. */
	read_msgs("inside");
	cr_assert_null(strstr(log_text, "topoh-trunk-"),
		       "the inside saw the trunk's Call-ID:\n%s", log_text);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

Test(topoh, forged_call_id_token_from_trunk_is_400)
{
	start();
	uac_pid = spawn("trunk", "topoh_bad_callid.xml", TRUNK_IP, trunk_port,
			sp.port, "th-AAAAAAAAAAAAAAAAAAAAAAAAAAAA%u");
	sipp_ok(&uac_pid, 20000, sp.dir, "trunk", sp.log);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* An inside proxy between the UA and the edge: its Via and Record-Route
 * are hidden too, and the trunk's in-dialog requests still go through
 * it (the inside route set comes back from our Record-Route token). */
Test(topoh, inside_proxy_is_hidden_and_stays_in_the_path)
{
	char yaml[256], port[16];
	int err;

	start();
	snprintf(yaml, sizeof(yaml),
		 "log:\n  requests: true\n"
		 "routes:\n  - domain: trunk.example\n"
		 "    next_hop: [\"sip:127.0.0.1:%u\"]\n",
		 sp.port);
	err = proc_sipedge_start(&inner, "127.0.0.1", 1, yaml);
	cr_assert_eq(err, 0, "the inside proxy did not start: %s", inner.why);
	uas_pid = spawn("trunk", "topoh_trunk_uas.xml", TRUNK_IP, trunk_port, 0,
			NULL);
	cr_assert_eq(proc_wait_bound(trunk_port, false, 10000), 0,
		     "the trunk SIPp did not bind");
	uac_pid = spawn("inside", "topoh_uac_out.xml", INSIDE_IP, inside_port,
			inner.port, "topoh-inside-%u-%p");
	sipp_ok(&uas_pid, 40000, sp.dir, "trunk", sp.log);
	sipp_ok(&uac_pid, 20000, sp.dir, "inside", inner.log);
	read_msgs("trunk");
	assert_nothing_inside("topoh-inside-");
	snprintf(port, sizeof(port), ":%u", inner.port);
	cr_assert_null(strstr(log_text, port),
		       "the trunk saw the inside proxy's port %s:\n%s", port,
		       log_text);
	/* The trunk's re-INVITE and BYE went through the inside proxy
	 * (its access lines), not straight to the UA. */
	snprintf(yaml, sizeof(yaml), "INVITE sip:alice@%s:%u ", INSIDE_IP,
		 inside_port);
	cr_assert_eq(proc_sipedge_wait_log(&inner, yaml, 1, 5000), 0,
		     "the trunk's re-INVITE did not pass the inside proxy");
	snprintf(yaml, sizeof(yaml), "BYE sip:alice@%s:%u ", INSIDE_IP,
		 inside_port);
	cr_assert_eq(proc_sipedge_wait_log(&inner, yaml, 1, 5000), 0,
		     "the trunk's BYE did not pass the inside proxy");
	cr_assert_eq(proc_sipedge_stop(&inner), 0, "%s", inner.why);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* A trunk over TCP, the inside over UDP: two Record-Route values of ours
 * (RFC 5658), the Contact token with ;transport=tcp, the stream framing
 * of what is mapped on the way in. */
Test(topoh, trunk_over_tcp_hides_inside_and_reinvite_bye_work)
{
	start_tp(";transport=tcp");
	uas_pid = spawn_tp("trunk", "topoh_trunk_uas.xml", TRUNK_IP, trunk_port,
			   0, NULL, "t1");
	cr_assert_eq(proc_wait_bound(trunk_port, true, 10000), 0,
		     "the trunk SIPp did not listen");
	uac_pid = spawn("inside", "topoh_uac_out.xml", INSIDE_IP, inside_port,
			sp.port, "topoh-inside-%u-%p");
	sipp_ok(&uas_pid, 40000, sp.dir, "trunk", sp.log);
	sipp_ok(&uac_pid, 20000, sp.dir, "inside", sp.log);
	read_msgs("trunk");
	assert_nothing_inside("topoh-inside-");
	cr_assert_not_null(strstr(log_text, ";transport=tcp>"),
			   "no Contact token over TCP:\n%s", log_text);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}
