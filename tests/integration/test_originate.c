/* tests/integration/test_originate.c - originate (RFC 3725 flow I) in
 * the real binary with SIPp as alice and bob: SDP presence and contents
 * asserted by the scenarios, states by originate.status, nothing left in
 * dialog.list; failures, cancel, timeout, trust, sipctl, RPC errors */
#include <criterion/criterion.h>

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/common/mgmtcli.h"
#include "tests/common/ms.h"
#include "tests/common/proc.h"
#include "tests/common/sipp.h"

#define POLL_MS 50
#define POLL_N	200 /* 10 s */
#define SIPP_MS 20000

static struct proc_sipedge sp;
static struct proc_sipedge sp_b; /* node B (multi-node); node A is sp */
static pid_t redis_pid;
static pid_t alice_pid, bob_pid;
static uint16_t alice_port, bob_port;
static json_t *res;
static char why[512], dir[PROC_PATH_MAX / 2];

static void setup(void)
{
	memset(&sp, 0, sizeof(sp));
	memset(&sp_b, 0, sizeof(sp_b));
	redis_pid = 0;
	alice_pid = bob_pid = 0;
	res = NULL;
	dir[0] = '\0';
	cr_assert_eq(proc_free_port("127.0.0.1", &alice_port), 0);
	cr_assert_eq(proc_free_port("127.0.0.1", &bob_port), 0);
}

static void teardown(void)
{
	if (alice_pid > 0)
		proc_kill(alice_pid);
	if (bob_pid > 0)
		proc_kill(bob_pid);
	json_decref(res);
	proc_sipedge_cleanup(&sp);
	proc_sipedge_cleanup(&sp_b);
	if (redis_pid > 0)
		proc_kill(redis_pid);
	if (dir[0])
		proc_rmtree(dir);
}

TestSuite(originate, .init = setup, .fini = teardown, .timeout = 120);

/* A users file line; the hash is never checked here. */
#define USER_LINE(u) u "@127.0.0.1 md5:0123456789abcdef0123456789abcdef\n"

/*
 * sipedge with alice@127.0.0.1 at alice's port and, when @p with_bob,
 * bob@127.0.0.1 at bob's; @p registrar (NULL: none) is a registrar:
 * section's body, then @p extra top-level YAML.
 */
static void up_with(bool with_bob, const char *registrar, const char *extra)
{
	char yaml[2048], bob[128] = "";

	if (with_bob)
		snprintf(bob, sizeof(bob),
			 "  - aor: bob@127.0.0.1\n"
			 "    contacts: [\"sip:bob@127.0.0.1:%u\"]\n",
			 bob_port);
	snprintf(yaml, sizeof(yaml),
		 "locations:\n  - aor: alice@127.0.0.1\n"
		 "    contacts: [\"sip:alice@127.0.0.1:%u\"]\n%s%s%s%s",
		 alice_port, bob, registrar ? "registrar:\n" : "",
		 registrar ? registrar : "", extra ? extra : "");
	cr_assert_eq(proc_sipedge_start(&sp, "127.0.0.1", 2, yaml), 0,
		     "sipedge did not start: %s", sp.why);
}

static void up(void)
{
	up_with(true, NULL, NULL);
}

static void down(void)
{
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* A SIPp callee @p who ("alice", "bob") on its port, one call. */
static pid_t uas_start(const char *who, const char *scenario)
{
	uint16_t port = !strcmp(who, "alice") ? alice_port : bob_port;
	struct sipp_cmd c;
	pid_t pid;

	sipp_cmd_uas(&c, scenario, port, "u1");
	sipp_cmd_opt(&c, "-m", "1");
	sipp_cmd_opt(&c, "-s", "%s", who);
	sipp_cmd_errors(&c, who);
	pid = sipp_spawn(c.argv, sp.dir, who);
	sipp_bound(port, "u1");
	return pid;
}

static void sipp_done_ok(pid_t *pidp, const char *who)
{
	sipp_ok(pidp, SIPP_MS, sp.dir, who, sp.log);
}

/* Call @p method with @p params; the result in res, or the error code. */
static int rpc(const char *method, const char *params)
{
	json_decref(res);
	res = NULL;
	return mgmtcli_rpc(sp.mgmt_port, NULL, method, params, &res, why,
			   sizeof(why));
}

/* originate with @p params; its id into @p id (32 bytes). */
static void originate(const char *params, char *id)
{
	const char *s;

	cr_assert_eq(rpc("originate", params), 0, "originate: %s", why);
	s = json_string_value(json_object_get(res, "id"));
	cr_assert_not_null(s, "no id");
	cr_assert_lt(strlen(s), 32);
	strcpy(id, s);
}

static const char *str(const char *key)
{
	return json_string_value(json_object_get(res, key)) ?: "";
}

/* Poll originate.status until it is @p state (bounded); res holds it. */
static void wait_state(const char *id, const char *state)
{
	char params[96];

	snprintf(params, sizeof(params), "{\"id\":\"%s\"}", id);
	for (int i = 0; i < POLL_N; i++) {
		cr_assert_eq(rpc("originate.status", params), 0, "%s", why);
		if (!strcmp(str("state"), state))
			return;
		ms_sleep(POLL_MS);
	}
	cr_assert_fail("originate %s: %s, not %s (%s)", id, str("state"), state,
		       str("reason"));
}

/* The state is final: it must stay what it is (res holds it). */
static void assert_failed(const char *leg, int status)
{
	cr_assert_str_eq(str("state"), "failed");
	cr_assert_str_eq(str("failed_leg"), leg, "failed leg %s, not %s",
			 str("failed_leg"), leg);
	cr_assert_eq(
	    json_integer_value(json_object_get(res, "status")), status,
	    "status %lld, not %d",
	    (long long)json_integer_value(json_object_get(res, "status")),
	    status);
}

/* Every timestamp of @p states is set, and in order. */
static void assert_at(const char *const *states)
{
	json_t *at = json_object_get(res, "at_ms");
	json_int_t prev = 0;

	for (size_t i = 0; states[i]; i++) {
		json_int_t t =
		    json_integer_value(json_object_get(at, states[i]));

		cr_assert_gt(t, 0, "no timestamp for %s", states[i]);
		cr_assert_geq(t, prev, "%s before the state before it",
			      states[i]);
		prev = t;
	}
}

/* No dialog left in dialog.list but terminated ones (they stay until
 * their BYE transaction ends) and, when @p early_ok, early ones (they
 * stay until the proxy's INVITE transaction ends, Timer D after a 487).
 * Bounded wait. */
static void assert_no_dialogs_but(bool early_ok)
{
	size_t live = 0;

	for (int i = 0; i < POLL_N; i++) {
		json_t *d;
		size_t k;

		cr_assert_eq(rpc("dialog.list", NULL), 0, "%s", why);
		live = 0;
		json_array_foreach(json_object_get(res, "dialogs"), k, d)
		{
			const char *st =
			    json_string_value(json_object_get(d, "state"));

			live += !st || (strcmp(st, "terminated") &&
					(!early_ok || strcmp(st, "early")));
		}
		if (!live)
			return;
		ms_sleep(POLL_MS);
	}
	cr_assert_fail("dialog.list: %zu dialogs still live", live);
}

static void assert_no_live_dialogs(void)
{
	assert_no_dialogs_but(false);
}

static const char *const bridged_path[] = {
	"calling-a", "ringing-a", "answered-a", "calling-b",
	"ringing-b", "bridged",	  "ended",	NULL,
};

/* Flow I: alice's INVITE without a body, bob's INVITE with alice's m=
 * line, alice's ACK with bob's answer (all asserted by the scenarios);
 * then the one who hangs up ends the other. */
static void bridge_and_hang_up_with(const char *params, const char *alice_sc,
				    const char *bob_sc, const char *by)
{
	char id[32];

	alice_pid = uas_start("alice", alice_sc);
	bob_pid = uas_start("bob", bob_sc);
	originate(params, id);
	wait_state(id, "ended");
	cr_assert_str_eq(str("ended_by"), by);
	cr_assert_str_eq(str("a"), "sip:alice@127.0.0.1");
	cr_assert_str_eq(str("b"), "sip:bob@127.0.0.1");
	assert_at(bridged_path);
	sipp_done_ok(&alice_pid, "alice");
	sipp_done_ok(&bob_pid, "bob");
	assert_no_live_dialogs();
}

static void bridge_and_hang_up(const char *alice_sc, const char *bob_sc,
			       const char *by)
{
	bridge_and_hang_up_with(
	    "{\"a\":\"alice@127.0.0.1\",\"b\":\"sip:bob@127.0.0.1\"}", alice_sc,
	    bob_sc, by);
}

Test(originate, bridges_then_alice_hangs_up_and_bob_gets_bye)
{
	up();
	bridge_and_hang_up("uas_orig_alice_bye.xml", "uas_orig_bob.xml", "a");
	down();
}

Test(originate, bridges_then_bob_hangs_up_and_alice_gets_bye)
{
	up();
	bridge_and_hang_up("uas_orig_alice.xml", "uas_orig_bob_bye.xml", "b");
	down();
}

/* Once bridged, bob's hold (a re-INVITE with a new offer) reaches alice
 * in her session with the pool and her answer comes back in his
 * (bridge.h; o= versions asserted by the scenarios). */
Test(originate, bobs_hold_crosses_the_bridge_to_alice)
{
	up();
	bridge_and_hang_up("uas_orig_alice_hold.xml", "uas_orig_bob_hold.xml",
			   "b");
	down();
}

Test(originate, pool_invites_are_not_challenged_with_no_trusted_network)
{
	char yaml[512];

	cr_assert_eq(proc_tmpdir(dir, sizeof(dir)), 0);
	cr_assert_eq(proc_write_file(dir, "users",
				     USER_LINE("alice") USER_LINE("bob"), NULL,
				     0),
		     0);
	snprintf(yaml, sizeof(yaml),
		 "  trusted: []\n  users_file: \"%s/users\"\n", dir);
	up_with(true, yaml, NULL);
	bridge_and_hang_up("uas_orig_alice_bye.xml", "uas_orig_bob.xml", "a");
	down();
}

Test(originate, alice_busy_fails_leg_a_with_486)
{
	char id[32];

	up();
	alice_pid = uas_start("alice", "uas_486.xml");
	originate("{\"a\":\"alice@127.0.0.1\",\"b\":\"bob@127.0.0.1\"}", id);
	wait_state(id, "failed");
	assert_failed("a", 486);
	sipp_done_ok(&alice_pid, "alice");
	assert_no_live_dialogs();
	down();
}

Test(originate, bob_unregistered_fails_leg_b_and_alice_is_acked_and_byed)
{
	char yaml[512], id[32];

	/* Both are users; only alice has a binding: bob is 480. */
	cr_assert_eq(proc_tmpdir(dir, sizeof(dir)), 0);
	cr_assert_eq(proc_write_file(dir, "users",
				     USER_LINE("alice") USER_LINE("bob"), NULL,
				     0),
		     0);
	snprintf(yaml, sizeof(yaml),
		 "  trusted: [\"127.0.0.0/8\"]\n  users_file: \"%s/users\"\n",
		 dir);
	up_with(false, yaml, NULL);
	/* Her scenario asserts the held answer in the ACK and the Reason
	 * of the BYE. */
	alice_pid = uas_start("alice", "uas_orig_alice_held.xml");
	originate("{\"a\":\"alice@127.0.0.1\",\"b\":\"bob@127.0.0.1\"}", id);
	wait_state(id, "failed");
	assert_failed("b", 480);
	sipp_done_ok(&alice_pid, "alice");
	assert_no_live_dialogs();
	down();
}

Test(originate, cancel_while_alice_rings_cancels_her_invite)
{
	char id[32], params[96];

	up();
	alice_pid = uas_start("alice", "uas_cancel.xml");
	originate("{\"a\":\"alice@127.0.0.1\",\"b\":\"bob@127.0.0.1\"}", id);
	wait_state(id, "ringing-a");
	snprintf(params, sizeof(params), "{\"id\":\"%s\"}", id);
	cr_assert_eq(rpc("originate.cancel", params), 0, "%s", why);
	assert_failed("a", 487);
	cr_assert_str_eq(str("reason"), "cancelled");
	/* uas_cancel.xml: the CANCEL came, 200, 487, ACK. */
	sipp_done_ok(&alice_pid, "alice");
	/* Cancelling again changes nothing. */
	cr_assert_eq(rpc("originate.cancel", params), 0, "%s", why);
	assert_failed("a", 487);
	assert_no_dialogs_but(true);
	down();
}

Test(originate, ring_timeout_cancels_alice_and_fails_leg_a_with_408)
{
	char id[32];

	up();
	alice_pid = uas_start("alice", "uas_cancel.xml");
	originate("{\"a\":\"alice@127.0.0.1\",\"b\":\"bob@127.0.0.1\","
		  "\"timeout_s\":1}",
		  id);
	wait_state(id, "failed");
	assert_failed("a", 408);
	sipp_done_ok(&alice_pid, "alice");
	down();
}

Test(originate, list_shows_every_originate)
{
	char id1[32], id2[32];
	json_t *o;
	size_t i, found = 0;

	up();
	alice_pid = uas_start("alice", "uas_486.xml");
	originate("{\"a\":\"alice@127.0.0.1\",\"b\":\"bob@127.0.0.1\"}", id1);
	wait_state(id1, "failed");
	sipp_done_ok(&alice_pid, "alice");
	alice_pid = uas_start("alice", "uas_486.xml");
	originate("[\"alice@127.0.0.1\",\"bob@127.0.0.1\"]", id2);
	wait_state(id2, "failed");
	sipp_done_ok(&alice_pid, "alice");
	cr_assert_str_neq(id1, id2);
	cr_assert_eq(rpc("originate.list", NULL), 0, "%s", why);
	json_array_foreach(json_object_get(res, "originates"), i, o)
	{
		const char *id = json_string_value(json_object_get(o, "id"));

		found += id && (!strcmp(id, id1) || !strcmp(id, id2));
	}
	cr_assert_eq(found, 2, "originate.list: %zu of 2", found);
	down();
}

Test(originate, bad_params_unknown_ids_and_pool_off_are_errors)
{
	up();
	cr_assert_eq(rpc("originate", "{\"a\":\"alice@127.0.0.1\"}"), -32602);
	cr_assert_eq(rpc("originate", "{\"a\":\"al ice\",\"b\":\"bob\"}"),
		     -32602);
	cr_assert(strstr(why, "a is not a SIP URI"), "%s", why);
	cr_assert_eq(rpc("originate", "{\"a\":\"alice\",\"b\":\"bob\","
				      "\"timeout_s\":0}"),
		     -32602);
	cr_assert_eq(rpc("originate", "{\"a\":\"alice\",\"b\":\"bob\","
				      "\"caller_id\":\"<x>\"}"),
		     -32602);
	cr_assert_eq(rpc("originate", "{\"a\":\"alice\",\"b\":\"bob\","
				      "\"c\":1}"),
		     -32602);
	cr_assert_eq(rpc("originate.status", "{\"id\":\"0123456789abcdef\"}"),
		     -32002);
	cr_assert_eq(rpc("originate.status", "{\"id\":\"\\u00e9\\n\"}"),
		     -32002);
	cr_assert_eq(rpc("originate.cancel", "{\"id\":\"nope\"}"), -32002);
	cr_assert_eq(rpc("originate.status", NULL), -32602);
	down();
	up_with(true, NULL, "b2b:\n  workers: 0\n");
	cr_assert_eq(rpc("originate", "{\"a\":\"alice\",\"b\":\"bob\"}"),
		     -32005);
	cr_assert_eq(rpc("originate.list", NULL), -32005);
	down();
}

Test(originate, sipctl_originate_wait_exits_0_bridged_and_1_failed)
{
	const char *bridge[] = { "originate", "alice@127.0.0.1",
				 "bob@127.0.0.1", "--wait", NULL };
	char *out = NULL, *err = NULL;
	int rc;

	up();
	alice_pid = uas_start("alice", "uas_orig_alice_bye.xml");
	bob_pid = uas_start("bob", "uas_orig_bob.xml");
	rc = proc_sipctl(&sp, bridge, &out, &err);
	cr_assert_eq(rc, 0, "sipctl: %d\n%s%s", rc, out, err);
	cr_assert(strstr(out, " bridged"), "%s", out);
	free(out);
	free(err);
	sipp_done_ok(&alice_pid, "alice");
	sipp_done_ok(&bob_pid, "bob");
	alice_pid = uas_start("alice", "uas_486.xml");
	rc = proc_sipctl(&sp, bridge, &out, &err);
	cr_assert_eq(rc, 1, "sipctl: %d\n%s%s", rc, out, err);
	cr_assert(strstr(out, " failed leg a 486"), "%s", out);
	free(out);
	free(err);
	sipp_done_ok(&alice_pid, "alice");
	down();
}

/* sipctl originate --header (twice) --intercom: what the scenarios of
 * headers_reach_both_legs_and_intercom_a_marks_alice_only assert; a
 * refused header is the server's -32602, exit 1. */
Test(originate, sipctl_originate_passes_headers_and_intercom)
{
	const char *ok[] = { "originate",	 "alice@127.0.0.1",
			     "bob@127.0.0.1",	 "--header",
			     "X-Click: desk-42", "--intercom",
			     "--header",	 "Subject: Call from the CRM",
			     "--wait",		 NULL };
	const char *bad[] = {
		"originate", "alice@127.0.0.1",	      "bob@127.0.0.1",
		"--header",  "Via: SIP/2.0/UDP evil", NULL
	};
	char *out = NULL, *err = NULL;
	int rc;

	up();
	alice_pid = uas_start("alice", "uas_orig_alice_hdr.xml");
	bob_pid = uas_start("bob", "uas_orig_bob_hdr.xml");
	rc = proc_sipctl(&sp, ok, &out, &err);
	cr_assert_eq(rc, 0, "sipctl: %d\n%s%s", rc, out, err);
	cr_assert(strstr(out, " bridged"), "%s", out);
	free(out);
	free(err);
	sipp_done_ok(&alice_pid, "alice");
	sipp_done_ok(&bob_pid, "bob");
	rc = proc_sipctl(&sp, bad, &out, &err);
	cr_assert_eq(rc, 1, "sipctl: %d\n%s%s", rc, out, err);
	cr_assert(strstr(err, "-32602"), "%s", err);
	free(out);
	free(err);
	down();
}

/* A SIPp callee like uas_start(), whose <pause/> lasts @p pause_ms. */
static pid_t uas_start_d(const char *who, const char *scenario,
			 unsigned pause_ms)
{
	uint16_t port = !strcmp(who, "alice") ? alice_port : bob_port;
	struct sipp_cmd c;
	pid_t pid;

	sipp_cmd_uas(&c, scenario, port, "u1");
	sipp_cmd_opt(&c, "-m", "1");
	sipp_cmd_opt(&c, "-s", "%s", who);
	sipp_cmd_opt(&c, "-d", "%u", pause_ms);
	sipp_cmd_errors(&c, who);
	pid = sipp_spawn(c.argv, sp.dir, who);
	sipp_bound(port, "u1");
	return pid;
}

static json_int_t num(const char *key)
{
	return json_integer_value(json_object_get(res, key));
}

static json_int_t at(const char *state)
{
	return json_integer_value(
	    json_object_get(json_object_get(res, "at_ms"), state));
}

/* Cancel a bridged originate: ended by "cancel", BYE to both (their
 * scenarios end on it). */
static void cancel_bridged(const char *id)
{
	char params[96];

	snprintf(params, sizeof(params), "{\"id\":\"%s\"}", id);
	cr_assert_eq(rpc("originate.cancel", params), 0, "%s", why);
	cr_assert_str_eq(str("state"), "ended");
	cr_assert_str_eq(str("ended_by"), "cancel");
}

/* An originate through a guard: sipedge (with @p extra_yaml), alice
 * playing @p alice_sc, bob @p bob_sc answering after @p bob_ms; it must
 * reach bridged having taken guard @p guard, and alice's re-INVITE
 * before that. The id in @p id. */
static void guarded(const char *extra_yaml, const char *alice_sc,
		    const char *bob_sc, unsigned bob_ms, const char *guard,
		    char *id)
{
	up_with(true, NULL, extra_yaml);
	alice_pid = uas_start("alice", alice_sc);
	bob_pid = uas_start_d("bob", bob_sc, bob_ms);
	originate("{\"a\":\"alice@127.0.0.1\",\"b\":\"bob@127.0.0.1\"}", id);
	wait_state(id, "bridged");
	cr_assert_str_eq(str("guard"), guard);
	cr_assert_gt(num("guard_at_ms"), 0);
	cr_assert_geq(at("bridged"), num("reinvited_a_at_ms"));
}

/* The end of a guarded() test: cancel, both scenarios passed, nothing
 * left. */
static void guarded_end(const char *id)
{
	cancel_bridged(id);
	sipp_done_ok(&alice_pid, "alice");
	sipp_done_ok(&bob_pid, "bob");
	assert_no_live_dialogs();
	down();
}

/* Issue #12's first guard: alice answers 488 to the offerless INVITE;
 * her second INVITE carries the pool's offer (asserted by her scenario),
 * bob gets her answer as his offer, and her re-INVITE bob's answer. */
Test(originate, alice_488_to_the_offerless_invite_still_bridges)
{
	char id[32];

	guarded(NULL, "uas_orig_alice_488.xml", "uas_orig_bob_late.xml", 10,
		"offer", id);
	cr_assert_geq(num("reinvited_a_at_ms"), num("guard_at_ms"));
	guarded_end(id);
}

/* The guard's second branch: alice answers the offerless INVITE with a
 * 200 without an offer: she is ACKed without a body and re-INVITEd with
 * the pool's offer; her answer is bob's offer, and a second re-INVITE
 * brings her bob's answer (every SDP asserted by her scenario). */
Test(originate, alice_200_without_an_offer_gets_the_pools_offer_and_bridges)
{
	char id[32];

	guarded(NULL, "uas_orig_alice_nosdp.xml", "uas_orig_bob_late.xml", 10,
		"offer", id);
	guarded_end(id);
}

/* The answer guard, and alice's answer to the connecting re-INVITE
 * moves her media: bob is re-INVITEd with it, one o= version up in the
 * session he knows (asserted by his scenario), and only then bridged. */
Test(originate, alice_moving_her_media_after_the_guard_reinvites_bob)
{
	char id[32];

	guarded("b2b:\n  answer_guard_s: 1\n", "uas_orig_alice_moved.xml",
		"uas_orig_bob_moved.xml", 1800, "held", id);
	guarded_end(id);
}

/* Issue #12's answer guard, b2b.answer_guard_s 2 and bob answering
 * after 3 s: alice is ACKed held (a=inactive) at 2 s, then re-INVITEd
 * to bob's media; nobody sends BYE before the test cancels (the
 * scenarios fail on any message they do not expect). */
Test(originate, bob_answering_after_the_guard_holds_alice_then_reinvites_her)
{
	char id[32];
	json_int_t held_after;

	guarded("b2b:\n  answer_guard_s: 2\n", "uas_orig_alice_guard.xml",
		"uas_orig_bob_late.xml", 3000, "held", id);
	held_after = num("guard_at_ms") - at("answered-a");
	cr_assert(held_after >= 1900 && held_after < 3000,
		  "held %lld ms after alice answered, not 2 s",
		  (long long)held_after);
	cr_assert_gt(num("reinvited_a_at_ms"), num("guard_at_ms"));
	/* Still bridged a while later: no one hung up. */
	ms_sleep(500);
	wait_state(id, "bridged");
	guarded_end(id);
}

/* Issue #12: headers reach both INVITEs; intercom_a pages alice's user
 * (her device's marking, the default callinfo profile: no User-Agent in
 * a static binding) and leaves bob's leg unmarked (both scenarios
 * assert it); originate.status names A as asked, not as paged. */
Test(originate, headers_reach_both_legs_and_intercom_a_marks_alice_only)
{
	up();
	bridge_and_hang_up_with(
	    "{\"a\":\"alice@127.0.0.1\",\"b\":\"bob@127.0.0.1\","
	    "\"headers\":[\"X-Click: desk-42\","
	    "\"Subject:   Call from the CRM  \"],\"intercom_a\":true}",
	    "uas_orig_alice_hdr.xml", "uas_orig_bob_hdr.xml", "a");
	down();
}

/* Each refused header or bad value is -32602 with its reason; nothing
 * is started. */
Test(originate, bad_headers_and_intercom_a_are_refused)
{
	static const struct {
		const char *headers, *why;
	} bad[] = {
		{ "[\"Via: SIP/2.0/UDP 10.0.0.1\"]", "writes itself" },
		{ "[\"call-id: x\"]", "writes itself" },
		{ "[\"CSeq: 1 INVITE\"]", "writes itself" },
		{ "[\"f: <sip:x@y>\"]", "writes itself" },
		{ "[\"To: <sip:x@y>\"]", "writes itself" },
		{ "[\"Contact: <sip:x@y>\"]", "writes itself" },
		{ "[\"Content-Length: 10\"]", "writes itself" },
		{ "[\"Route: <sip:evil;lr>\"]", "writes itself" },
		{ "[\"X-A: 1\\r\\nVia: SIP/2.0/UDP evil\"]", "CR, LF" },
		{ "[\"X A: 1\"]", "not a token" },
		{ "[\"no colon\"]", "Name: value" },
		{ "[\": value\"]", "Name: value" },
		{ "[\"Call-Info: <sip:x>;answer-after=0\"]", "intercom_a" },
		{ "[\"Alert-Info: <http://x/r.wav>, Ring-Answer\"]",
		  "intercom_a" },
		{ "[\"Answer-Mode: Auto\"]", "intercom_a" },
		{ "[1]", "headers[0] is not a string" },
		{ "\"X-A: 1\"", "array" },
		{ "[\"a:1\",\"b:1\",\"c1:1\",\"d:1\",\"e1:1\",\"f1:1\","
		  "\"g:1\",\"h:1\",\"i1:1\"]",
		  "at most 8" },
	};
	char params[512];

	up();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(params, sizeof(params),
			 "{\"a\":\"alice@127.0.0.1\",\"b\":\"bob@127.0.0.1\","
			 "\"headers\":%s}",
			 bad[i].headers);
		cr_assert_eq(rpc("originate", params), -32602, "%s: %s",
			     bad[i].headers, why);
		cr_assert(strstr(why, bad[i].why), "%s: %s", bad[i].headers,
			  why);
	}
	cr_assert_eq(rpc("originate", "{\"a\":\"alice@127.0.0.1\","
				      "\"b\":\"bob\",\"intercom_a\":1}"),
		     -32602);
	cr_assert(strstr(why, "true or false"), "%s", why);
	cr_assert_eq(rpc("originate", "{\"a\":\"sip:127.0.0.1\","
				      "\"b\":\"bob\",\"intercom_a\":true}"),
		     -32602);
	cr_assert(strstr(why, "no user part"), "%s", why);
	/* Nothing was started. */
	cr_assert_eq(rpc("originate.list", NULL), 0, "%s", why);
	cr_assert_eq(json_array_size(json_object_get(res, "originates")), 0);
	down();
	/* Intercom off in alice's domain. */
	up_with(true, NULL,
		"features:\n  intercom:\n    - domain: 127.0.0.1\n"
		"      enabled: false\n");
	cr_assert_eq(rpc("originate", "{\"a\":\"alice@127.0.0.1\","
				      "\"b\":\"bob\",\"intercom_a\":true}"),
		     -32602);
	cr_assert(strstr(why, "intercom is off"), "%s", why);
	down();
}

/* --- Multi-node: two sipedge nodes sharing one real redis-server --- */

/* redis-server on a free port in dir (made here); its port. */
static uint16_t redis_start(void)
{
	uint16_t p;
	int err;

	cr_assert_eq(proc_tmpdir(dir, sizeof(dir)), 0);
	err = proc_redis_start(dir, &p, &redis_pid);
	cr_assert_neq(err, -ENOENT, "redis-server is not installed");
	cr_assert_eq(err, 0, "redis-server: %s", strerror(-err));
	return p;
}

/* A node on the shared Redis at @p redis_port (no static locations). */
static void node_up(struct proc_sipedge *n, uint16_t redis_port)
{
	char yaml[256];

	snprintf(yaml, sizeof(yaml),
		 "store:\n  backend: redis\n  redis:\n"
		 "    address: \"127.0.0.1:%u\"\n"
		 "    connect_timeout_ms: 300\n"
		 "    command_timeout_ms: 1000\n",
		 redis_port);
	cr_assert_eq(proc_sipedge_start(n, "127.0.0.1", 2, yaml), 0,
		     "sipedge did not start: %s", n->why);
}

/* @p who@127.0.0.1 REGISTERs through node @p n from its own port
 * (SIPp, loopback is trusted: no challenge); 200 expected. */
static void register_via(struct proc_sipedge *n, const char *who)
{
	uint16_t port = !strcmp(who, "alice") ? alice_port : bob_port;
	char csv[PROC_PATH_MAX], file[64], text[96], name[64];
	struct sipp_cmd c;
	pid_t pid;

	snprintf(file, sizeof(file), "reg-%s.csv", who);
	snprintf(text, sizeof(text), "SEQUENTIAL\n%s;127.0.0.1;\n", who);
	cr_assert_eq(proc_write_file(dir, file, text, csv, sizeof(csv)), 0);
	snprintf(name, sizeof(name), "reg-%s", who);
	sipp_cmd_uac(&c, "reg_noauth_uac.xml", n->port, port, "u1");
	sipp_cmd_opt(&c, "-inf", "%s", csv);
	sipp_cmd_opt(&c, "-m", "1");
	sipp_cmd_errors(&c, name);
	pid = sipp_spawn(c.argv, dir, name);
	sipp_ok(&pid, SIPP_MS, dir, name, n->log);
}

/* Node @p n knows @p aor's binding (bounded wait: Redis propagation). */
static void wait_known(struct proc_sipedge *n, const char *aor)
{
	char params[128];

	snprintf(params, sizeof(params), "{\"aor\":\"%s\"}", aor);
	for (int i = 0; i < POLL_N; i++) {
		json_decref(res);
		res = NULL;
		if (mgmtcli_rpc(n->mgmt_port, NULL, "location.lookup", params,
				&res, why, sizeof(why)) == 0)
			return;
		ms_sleep(POLL_MS);
	}
	cr_assert_fail("node on %u never learnt %s: %s", n->port, aor, why);
}

/*
 * Issue #12, multi-node: alice registered through node @p alice_on, bob
 * through node @p bob_on, originate on node A (sp); the same flow I as
 * on one node, asserted by the same scenarios.
 */
static void multinode(bool alice_on_a, const char *alice_sc, const char *bob_sc,
		      const char *by)
{
	uint16_t rp = redis_start();

	node_up(&sp, rp);
	node_up(&sp_b, rp);
	register_via(alice_on_a ? &sp : &sp_b, "alice");
	register_via(alice_on_a ? &sp_b : &sp, "bob");
	wait_known(&sp, "alice@127.0.0.1");
	wait_known(&sp, "bob@127.0.0.1");
	bridge_and_hang_up(alice_sc, bob_sc, by);
	cr_assert_eq(proc_sipedge_stop(&sp_b), 0, "%s", sp_b.why);
	down();
}

Test(originate, multinode_alice_on_a_bob_on_b_bridges_and_bob_hangs_up)
{
	multinode(true, "uas_orig_alice.xml", "uas_orig_bob_bye.xml", "b");
}

Test(originate, multinode_alice_on_b_bob_on_a_bridges_and_alice_hangs_up)
{
	multinode(false, "uas_orig_alice_bye.xml", "uas_orig_bob.xml", "a");
}

/*
 * Load, kept short for `make test`: 500 originates at 100/s (100 at
 * 50/s under SAN=1) against one sipload UAS that plays both legs (its
 * 3pcc role checks the answer in each ACK of alice's leg); every one
 * bridges, then originate.cancel ends them all and the UAS answers
 * both BYEs of each. bench/originate.sh is the full run.
 */
Test(originate, load_every_originate_bridges_through_sipload_3pcc,
     .timeout = 180)
{
	const char *san = getenv("SIPEDGE_SAN");
	const char *bin = getenv("SIPLOAD_BIN");
	bool sanitized = san && *san && strcmp(san, "0");
	unsigned n = sanitized ? 100 : 500, rate = sanitized ? 50 : 100;
	char(*ids)[32] = calloc(n, sizeof(*ids));
	char listen[64], count[16], out[PROC_PATH_MAX], err[PROC_PATH_MAX];
	char params[96], *text = NULL;
	char *argv[] = { (char *)bin, "--role", "uas", "-l",
			 listen,      "-n",	count, "--max-time",
			 "120",	      "--json", NULL };
	long long t0;
	size_t bridged = 0, failed = 0, i;
	json_t *o, *rep, *p3;
	json_error_t jerr;
	pid_t uas;
	int status = 0;

	cr_assert_not_null(bin, "SIPLOAD_BIN not set");
	cr_assert_not_null(ids);
	bob_port = alice_port; /* one UAS plays both */
	up();
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", alice_port);
	snprintf(count, sizeof(count), "%u", 2 * n);
	snprintf(out, sizeof(out), "%s/uas.out", sp.dir);
	snprintf(err, sizeof(err), "%s/uas.err", sp.dir);
	cr_assert_eq(proc_spawn(argv, NULL, out, err, &uas), 0);
	alice_pid = uas;
	cr_assert_eq(proc_wait_bound(alice_port, false, 5000), 0);
	t0 = ms_now();
	for (i = 0; i < n; i++) {
		long long due = t0 + (long long)(i * 1000 / rate);

		if (ms_now() < due)
			ms_sleep((unsigned)(due - ms_now()));
		originate("{\"a\":\"alice@127.0.0.1\",\"b\":\"bob@127.0.0.1\"}",
			  ids[i]);
	}
	for (int k = 0; k < POLL_N; k++) {
		cr_assert_eq(rpc("originate.list", NULL), 0, "%s", why);
		bridged = failed = 0;
		json_array_foreach(json_object_get(res, "originates"), i, o)
		{
			const char *st =
			    json_string_value(json_object_get(o, "state"));

			bridged += st && !strcmp(st, "bridged");
			failed += st && !strcmp(st, "failed");
		}
		if (bridged + failed == n)
			break;
		ms_sleep(POLL_MS);
	}
	cr_assert_eq(failed, 0, "%zu of %u originates failed", failed, n);
	cr_assert_eq(bridged, n, "%zu of %u bridged", bridged, n);
	for (i = 0; i < n; i++) {
		snprintf(params, sizeof(params), "{\"id\":\"%s\"}", ids[i]);
		cr_assert_eq(rpc("originate.cancel", params), 0, "%s", why);
		cr_assert_str_eq(str("state"), "ended");
	}
	/* The UAS stops after 2n BYEs; exit 0: no bad answer, no lost ACK. */
	cr_assert_eq(proc_wait(uas, 60000, &status), 0, "sipload hangs");
	alice_pid = 0;
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "sipload UAS status %d", status);
	cr_assert_eq(proc_read_file(out, &text), 0);
	rep = json_loads(text, 0, &jerr);
	cr_assert_not_null(rep, "not JSON: %.300s", text);
	p3 = json_object_get(json_object_get(rep, "uas"), "3pcc");
	cr_assert_eq(json_integer_value(json_object_get(p3, "offerless")), n);
	cr_assert_eq(json_integer_value(json_object_get(p3, "answers_ok")), n);
	/* bob's leg: alice's offer in the INVITE. */
	cr_assert_eq(json_integer_value(json_object_get(p3, "with_offer")), n);
	json_decref(rep);
	free(text);
	free(ids);
	assert_no_live_dialogs();
	down();
}
