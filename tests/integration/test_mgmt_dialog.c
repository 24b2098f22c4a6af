/* tests/integration/test_mgmt_dialog.c - dialog.list, dialog.get and
 * dialog.end over real HTTP, with real SIPp calls through sipedge */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tests/common/mgmtcli.h"
#include "tests/common/ms.h"
#include "tests/common/proc.h"
#include "tests/common/sipp.h"

/* Bounded waits: POLL_N polls POLL_MS apart. */
#define POLL_N	100
#define POLL_MS 100

static struct proc_sipedge sp;
static pid_t uas_pid, uac_pid;
static uint16_t uas_port, uac_port;
static json_t *res;
static char why[512];

static void setup(void)
{
	memset(&sp, 0, sizeof(sp));
	uas_pid = uac_pid = 0;
	res = NULL;
	cr_assert_eq(proc_free_port("127.0.0.1", &uas_port), 0);
	cr_assert_eq(proc_free_port("127.0.0.1", &uac_port), 0);
}

static void teardown(void)
{
	if (uac_pid > 0)
		proc_kill(uac_pid);
	if (uas_pid > 0)
		proc_kill(uas_pid);
	json_decref(res);
	proc_sipedge_cleanup(&sp);
}

TestSuite(mgmt_dialog, .init = setup, .fini = teardown, .timeout = 120);

/* sipedge with alice@localhost at the callee's port over @p tp, and the
 * top-level YAML @p extra (NULL: none). */
static void up_with(const char *tp, const char *extra)
{
	char yaml[512];

	snprintf(yaml, sizeof(yaml),
		 "locations:\n  - aor: alice@localhost\n"
		 "    contacts: [\"sip:alice@127.0.0.1:%u%s\"]\n%s",
		 uas_port, tp[0] == 't' ? ";transport=tcp" : "",
		 extra ? extra : "");
	cr_assert_eq(proc_sipedge_start(&sp, "127.0.0.1", 2, yaml), 0,
		     "sipedge did not start: %s", sp.why);
}

static void up(const char *tp)
{
	up_with(tp, NULL);
}

static void down(void)
{
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* The callee: @p calls calls of scenario @p name, ringing @p ring_ms. */
static void uas_start(const char *name, const char *tp, unsigned calls,
		      unsigned ring_ms)
{
	struct sipp_cmd c;

	sipp_cmd_uas(&c, name, uas_port, tp);
	sipp_cmd_opt(&c, "-m", "%u", calls);
	sipp_cmd_opt(&c, "-d", "%u", ring_ms);
	sipp_cmd_errors(&c, "uas");
	uas_pid = sipp_spawn(c.argv, sp.dir, "uas");
	sipp_bound(uas_port, tp);
}

/* The caller, in the background: @p calls calls of scenario @p name to
 * alice@localhost, Call-IDs "mgmtdlg-N-PID@127.0.0.1". */
static void uac_start(const char *name, const char *tp, unsigned calls)
{
	struct sipp_cmd c;

	sipp_cmd_uac(&c, name, sp.port, uac_port, tp);
	sipp_cmd_args(&c, "-s", "alice", "-key", "domain", "localhost", NULL);
	sipp_cmd_opt(&c, "-m", "%u", calls);
	sipp_cmd_args(&c, "-r", "20", "-l", "20", "-cid_str",
		      "mgmtdlg-%u-%p@%s", "-timeout", "60s", "-timeout_error",
		      NULL);
	sipp_cmd_errors(&c, "uac");
	uac_pid = sipp_spawn(c.argv, sp.dir, "uac");
}

/* SIPp @p *pidp (@p who: "uac", "uas") must end, every call a success. */
static void sipp_ok_in(pid_t *pidp, const char *who, int ms)
{
	sipp_ok(pidp, ms, sp.dir, who, sp.log);
}

/* Call @p method with @p params; the result in res, or the error code. */
static int rpc(const char *method, const char *params)
{
	json_decref(res);
	res = NULL;
	return mgmtcli_rpc(sp.mgmt_port, NULL, method, params, &res, why,
			   sizeof(why));
}

static void call_id_of(unsigned n, char *buf, size_t size)
{
	snprintf(buf, size, "mgmtdlg-%u-%d@127.0.0.1", n, (int)uac_pid);
}

/* The dialog of Call-ID @p cid in the page in res, or NULL. */
static json_t *find(const char *cid)
{
	json_t *d;
	size_t i;

	json_array_foreach(json_object_get(res, "dialogs"), i, d)
	{
		if (!strcmp(json_string_value(json_object_get(d, "call_id")),
			    cid))
			return d;
	}
	return NULL;
}

static const char *state_of(const json_t *d)
{
	return json_string_value(json_object_get(d, "state"));
}

/* Wait (bounded) until dialog.list holds @p n dialogs, all @p state. */
static void wait_list(size_t n, const char *state)
{
	size_t got = 0, in_state = 0;

	for (int i = 0; i < POLL_N; i++) {
		json_t *d;
		size_t k;

		cr_assert_eq(rpc("dialog.list", NULL), 0, "%s", why);
		got = json_array_size(json_object_get(res, "dialogs"));
		in_state = 0;
		json_array_foreach(json_object_get(res, "dialogs"), k, d)
		{
			in_state += !strcmp(state_of(d), state);
		}
		if (got == n && in_state == n)
			return;
		ms_sleep(POLL_MS);
	}
	cr_assert_fail("dialog.list: %zu dialogs, %zu %s; wanted %zu %s", got,
		       in_state, state, n, state);
}

static int64_t cseq_of(const json_t *d, const char *ua)
{
	return json_integer_value(
	    json_object_get(json_object_get(d, ua), "cseq"));
}

/* Wait (bounded) until dialog.get @p cid shows both INFOs of the held
 * scenarios went through: caller CSeq 2, callee CSeq 7. */
static void wait_infos(const char *cid)
{
	char params[256];
	json_t *d = NULL;

	snprintf(params, sizeof(params), "[\"%s\"]", cid);
	for (int i = 0; i < POLL_N; i++) {
		cr_assert_eq(rpc("dialog.get", params), 0, "%s: %s", cid, why);
		d = json_array_get(json_object_get(res, "dialogs"), 0);
		if (cseq_of(d, "caller_ua") == 2 &&
		    cseq_of(d, "callee_ua") == 7)
			return;
		ms_sleep(POLL_MS);
	}
	cr_assert_fail("%s: CSeqs caller %lld callee %lld, wanted 2 and 7", cid,
		       (long long)cseq_of(d, "caller_ua"),
		       (long long)cseq_of(d, "callee_ua"));
}

/* dialog.end @p cid must answer 200 from both UAs. */
static void end_ok(const char *cid)
{
	char params[256];

	snprintf(params, sizeof(params), "{\"call_id\":\"%s\"}", cid);
	cr_assert_eq(rpc("dialog.end", params), 0, "%s: %s", cid, why);
	cr_assert_str_eq(json_string_value(json_object_get(res, "call_id")),
			 cid);
	cr_assert_eq(json_integer_value(json_object_get(res, "caller")), 200,
		     "caller's answer to the BYE");
	cr_assert_eq(json_integer_value(json_object_get(res, "callee")), 200,
		     "callee's answer to the BYE");
	cr_assert_eq(json_array_size(json_object_get(res, "dialogs")), 1);
}

/* Three held calls over @p tp: listed with SIPp's Call-IDs, one ended
 * (both SIPps check the BYE: tags, CSeq), the others still up until
 * they are ended too. */
static void held_calls(const char *tp)
{
	char cid[3][64], cursor[1024], params[1200];
	json_t *d, *full;

	up(tp);
	uas_start("uas_held.xml", tp, 3, 0);
	uac_start("uac_held.xml", tp, 3);
	wait_list(3, "confirmed");
	for (unsigned i = 0; i < 3; i++) {
		call_id_of(i + 1, cid[i], sizeof(cid[i]));
		d = find(cid[i]);
		cr_assert_not_null(d, "%s is not listed", cid[i]);
		cr_assert_str_eq(
		    json_string_value(json_object_get(d, "callee")),
		    "sip:alice@localhost");
		cr_assert_lt(json_integer_value(json_object_get(d, "owner")),
			     2);
	}
	for (unsigned i = 0; i < 3; i++)
		wait_infos(cid[i]);
	/* dialog.get in full: both UAs' Contacts and hops. */
	snprintf(params, sizeof(params), "[\"%s\"]", cid[1]);
	cr_assert_eq(rpc("dialog.get", params), 0, "%s", why);
	full = json_array_get(json_object_get(res, "dialogs"), 0);
	cr_assert_not_null(
	    strstr(json_string_value(json_object_get(
		       json_object_get(full, "callee_ua"), "contact")),
		   "sip:callee@127.0.0.1"));
	cr_assert_str_eq(json_string_value(json_object_get(
			     json_object_get(full, "caller_ua"), "transport")),
			 tp[0] == 't' ? "TCP" : "UDP");
	/* Pages of 2: then 1 and no cursor. */
	cr_assert_eq(rpc("dialog.list", "{\"limit\":2}"), 0, "%s", why);
	cr_assert_eq(json_array_size(json_object_get(res, "dialogs")), 2);
	cr_assert(json_is_string(json_object_get(res, "cursor")));
	cr_assert(find(cid[0]) && find(cid[1]), "pages are in Call-ID order");
	snprintf(cursor, sizeof(cursor), "%s",
		 json_string_value(json_object_get(res, "cursor")));
	snprintf(params, sizeof(params), "[\"%s\", 2]", cursor);
	cr_assert_eq(rpc("dialog.list", params), 0, "%s", why);
	cr_assert_eq(json_array_size(json_object_get(res, "dialogs")), 1);
	cr_assert_not_null(find(cid[2]));
	cr_assert(json_is_null(json_object_get(res, "cursor")));
	/* Pages of 1 (the page keeps the first of more than it holds):
	 * each call once, in order, then no cursor. */
	snprintf(params, sizeof(params), "[null, 1]");
	for (unsigned i = 0; i < 3; i++) {
		cr_assert_eq(rpc("dialog.list", params), 0, "%s", why);
		cr_assert_eq(json_array_size(json_object_get(res, "dialogs")),
			     1);
		cr_assert_not_null(find(cid[i]), "page %u", i);
		d = json_object_get(res, "cursor");
		cr_assert(i < 2 ? json_is_string(d) : json_is_null(d),
			  "page %u", i);
		if (i < 2)
			snprintf(params, sizeof(params), "[\"%s\", 1]",
				 json_string_value(d));
	}

	end_ok(cid[1]);
	/* Gone from the list; the two others are still up. */
	cr_assert_eq(rpc("dialog.list", NULL), 0, "%s", why);
	cr_assert_eq(json_array_size(json_object_get(res, "dialogs")), 2);
	cr_assert_null(find(cid[1]));
	cr_assert_str_eq(state_of(find(cid[0])), "confirmed");
	cr_assert_str_eq(state_of(find(cid[2])), "confirmed");
	snprintf(params, sizeof(params), "[\"%s\"]", cid[1]);
	cr_assert_eq(rpc("dialog.end", params), -32002, "ended twice: %s", why);
	end_ok(cid[0]);
	end_ok(cid[2]);
	wait_list(0, "confirmed");
	/* Each SIPp answered sipedge's BYE on every call. */
	sipp_ok_in(&uac_pid, "uac", 30000);
	sipp_ok_in(&uas_pid, "uas", 30000);
	down();
}

Test(mgmt_dialog, end_hangs_up_one_udp_call_both_ways)
{
	held_calls("u1");
}

Test(mgmt_dialog, end_hangs_up_one_tcp_call_both_ways)
{
	held_calls("t1");
}

Test(mgmt_dialog, early_dialog_is_refused_and_goes_on)
{
	char cid[64], params[256];

	up("u1");
	/* Rings 3 s, then answers; the caller hangs up itself. */
	uas_start("uas_call.xml", "u1", 1, 3000);
	uac_start("uac_call.xml", "u1", 1);
	wait_list(1, "early");
	call_id_of(1, cid, sizeof(cid));
	snprintf(params, sizeof(params), "[\"%s\"]", cid);
	cr_assert_eq(rpc("dialog.end", params), -32003, "%s", why);
	cr_assert_not_null(strstr(why, "early"), "%s", why);
	sipp_ok_in(&uac_pid, "uac", 30000);
	sipp_ok_in(&uas_pid, "uas", 30000);
	down();
}

Test(mgmt_dialog, bad_requests_get_clear_errors)
{
	up("u1");
	cr_assert_eq(rpc("dialog.end", "[\"no-such-call@x\"]"), -32002, "%s",
		     why);
	cr_assert_not_null(strstr(why, "no-such-call@x"), "%s", why);
	cr_assert_eq(rpc("dialog.get", "{\"call_id\":\"no-such-call@x\"}"),
		     -32002, "%s", why);
	cr_assert_eq(rpc("dialog.end", NULL), -32602, "%s", why);
	cr_assert_eq(rpc("dialog.end", "[]"), -32602, "%s", why);
	cr_assert_eq(rpc("dialog.end", "[\"\"]"), -32602, "%s", why);
	cr_assert_eq(rpc("dialog.end", "[42]"), -32602, "%s", why);
	cr_assert_eq(rpc("dialog.end", "[\"a\", \"b\"]"), -32602, "%s", why);
	cr_assert_eq(rpc("dialog.end", "{\"callid\":\"a\"}"), -32602, "%s",
		     why);
	cr_assert_eq(rpc("dialog.get", "[null]"), -32602, "%s", why);
	cr_assert_eq(rpc("dialog.list", "[\"not-a-cursor\"]"), -32602, "%s",
		     why);
	cr_assert_eq(rpc("dialog.list", "[\"00\"]"), -32602, "%s", why);
	cr_assert_eq(rpc("dialog.list", "[7]"), -32602, "%s", why);
	cr_assert_eq(rpc("dialog.list", "[null, 0]"), -32602, "%s", why);
	cr_assert_eq(rpc("dialog.list", "{\"limit\":1001}"), -32602, "%s", why);
	/* A cursor past everything: an empty last page. */
	cr_assert_eq(rpc("dialog.list", "[\"7a007a007a\", 1000]"), 0, "%s",
		     why);
	cr_assert_eq(json_array_size(json_object_get(res, "dialogs")), 0);
	cr_assert(json_is_null(json_object_get(res, "cursor")));
	/* sipedge is still well. */
	cr_assert_eq(rpc("dialog.list", NULL), 0, "%s", why);
	down();
}

/* One held call up, both INFOs through; its Call-ID in @p cid. */
static void one_held_call(char *cid, size_t size)
{
	uas_start("uas_held.xml", "u1", 1, 0);
	uac_start("uac_held.xml", "u1", 1);
	wait_list(1, "confirmed");
	call_id_of(1, cid, size);
	wait_infos(cid);
}

/* The operator's way: sipctl lists the call and ends it. */
Test(mgmt_dialog, sipctl_lists_and_ends_a_call)
{
	const char *list[] = { "dlg", "list", NULL };
	const char *end[] = { "dlg", "end", NULL, NULL };
	char cid[64], *out = NULL, *err = NULL;
	int rc;

	up("u1");
	one_held_call(cid, sizeof(cid));
	rc = proc_sipctl(&sp, list, &out, &err);
	cr_assert_eq(rc, 0, "sipctl dlg list: %d: %s", rc, err);
	cr_assert(strstr(out, cid) && strstr(out, "confirmed") &&
		      strstr(out, "\n1 dialog\n"),
		  "%s", out);
	free(out);
	free(err);
	end[2] = cid;
	rc = proc_sipctl(&sp, end, &out, &err);
	cr_assert_eq(rc, 0, "sipctl dlg end: %d: %s", rc, err);
	cr_assert(strstr(out, "BYE answered 200 by the caller, 200 by the "
			      "callee"),
		  "%s", out);
	free(out);
	free(err);
	rc = proc_sipctl(&sp, list, &out, &err);
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert(strstr(out, "\n0 dialogs\n"), "%s", out);
	free(out);
	free(err);
	/* Ended already: an RPC error, exit 1, the code on stderr. */
	rc = proc_sipctl(&sp, end, &out, &err);
	cr_assert_eq(rc, 1, "%s%s", out, err);
	cr_assert(strstr(err, "-32002"), "%s", err);
	free(out);
	free(err);
	sipp_ok_in(&uac_pid, "uac", 30000);
	sipp_ok_in(&uas_pid, "uas", 30000);
	down();
}

Test(mgmt_dialog, a_silent_callee_is_408_after_timer_f)
{
	char cid[64], params[256];

	/* T1 50 ms: Timer F (64 * T1) is 3.2 s. */
	up_with("u1", "proxy:\n  t1_ms: 50\n");
	one_held_call(cid, sizeof(cid));
	/* The callee goes away: its BYE is never answered. */
	cr_assert_eq(proc_kill(uas_pid), 0);
	uas_pid = 0;
	snprintf(params, sizeof(params), "[\"%s\"]", cid);
	cr_assert_eq(rpc("dialog.end", params), 0, "%s", why);
	cr_assert_eq(json_integer_value(json_object_get(res, "caller")), 200);
	cr_assert_eq(json_integer_value(json_object_get(res, "callee")), 408);
	wait_list(0, "confirmed");
	sipp_ok_in(&uac_pid, "uac", 30000);
	down();
}

struct pending {
	uint16_t port;
	char params[256];
	int rc;
	char why[256];
};

static void *end_in_background(void *arg)
{
	struct pending *p = arg;
	json_t *r = NULL;

	p->rc = mgmtcli_rpc(p->port, NULL, "dialog.end", p->params, &r, p->why,
			    sizeof(p->why));
	json_decref(r);
	return NULL;
}

Test(mgmt_dialog, stopping_answers_an_end_under_way)
{
	struct pending p = { .rc = 1 };
	char cid[64];
	pthread_t t;

	up("u1");
	one_held_call(cid, sizeof(cid));
	cr_assert_eq(proc_kill(uas_pid), 0);
	uas_pid = 0;
	p.port = sp.mgmt_port;
	snprintf(p.params, sizeof(p.params), "[\"%s\"]", cid);
	cr_assert_eq(pthread_create(&t, NULL, end_in_background, &p), 0);
	/* The BYE to the callee waits for Timer F (32 s) when sipedge
	 * is told to stop: the call is answered, nothing leaks. */
	cr_assert_eq(proc_sipedge_wait_log(&sp, "BYE both ways", 1, 10000), 0,
		     "%s", sp.why);
	down();
	pthread_join(t, NULL);
	cr_assert_eq(p.rc, -32004, "%s", p.why);
	sipp_ok_in(&uac_pid, "uac", 30000);
}
