/* tests/integration/test_mgmt_location.c - location.lookup, location.dump and
 * location.delete over real HTTP (curl and the test client) against the
 * real sipedge, with bindings made by sipload and a hand-made UA */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tests/common/mgmtcli.h"
#include "tests/common/proc.h"
#include "tests/common/sipcli.h"
#include "tests/common/teardown.h"
#include "tests/common/ua.h"

#define NUSERS	  10000
#define USER_BASE 100000

static struct proc_sipedge sp;
static char dir[PROC_PATH_MAX / 2];
static struct sipcli_msg *rx;
static struct ua alice, bob;
static json_t *res;
static char why[512];

static void setup(void)
{
	memset(&sp, 0, sizeof(sp));
	memset(&alice, 0, sizeof(alice));
	memset(&bob, 0, sizeof(bob));
	alice.fd = bob.fd = -1;
	res = NULL;
	rx = calloc(1, sizeof(*rx));
	cr_assert_not_null(rx);
	cr_assert_eq(proc_tmpdir(dir, sizeof(dir)), 0);
}

static void teardown(void)
{
	ua_close(&alice);
	ua_close(&bob);
	json_decref(res);
	free(rx);
	teardown_sipedge(&sp);
	if (dir[0])
		proc_rmtree(dir);
}

TestSuite(mgmt_location, .init = setup, .fini = teardown, .timeout = 120);

static void up(unsigned workers)
{
	cr_assert_eq(proc_sipedge_start(&sp, "127.0.0.1", workers, NULL), 0,
		     "%s", sp.why);
}

/*
 * Run @p argv (at most @p timeout_ms, its output in dir/@p name.*) to a
 * clean exit; what it printed, parsed. Anything else fails the test.
 */
static json_t *run_json(char *const argv[], const char *name, int timeout_ms)
{
	char *text = NULL, *err = NULL;
	json_error_t jerr;
	json_t *j;
	int rc;

	rc = proc_capture(argv, dir, name, timeout_ms, &text, &err);
	cr_assert_geq(rc, 0, "cannot run %s: %s", name, strerror(-rc));
	cr_assert_eq(rc, 0, "%s: exit %d: %.300s", name, rc, err);
	j = json_loads(text, 0, &jerr);
	cr_assert_not_null(j, "%s printed no JSON: %.300s", name, text);
	free(text);
	free(err);
	return j;
}

/*
 * POST @p body to the API with curl; the parsed answer replaces res.
 * A curl that fails or an answer that is not JSON fails the test.
 */
static void curl_rpc(const char *body)
{
	char url[64];
	char *argv[] = { "curl",
			 "-sS",
			 "--max-time",
			 "20",
			 "-H",
			 "Content-Type: application/json",
			 "--data-binary",
			 (char *)body,
			 url,
			 NULL };
	json_t *j;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/rpc", sp.mgmt_port);
	j = run_json(argv, "curl", 30000);
	json_decref(res);
	res = j;
}

static int error_code(const json_t *resp)
{
	return (int)json_integer_value(
	    json_object_get(json_object_get(resp, "error"), "code"));
}

/* sipload registers users USER_BASE .. USER_BASE+NUSERS-1 @localhost. */
static void sipload_register(void)
{
	char target[64], users[64];
	const char *bin = getenv("SIPLOAD_BIN");
	json_t *j;

	cr_assert(bin && bin[0], "SIPLOAD_BIN is not set (run make test)");
	snprintf(target, sizeof(target), "127.0.0.1:%u", sp.port);
	snprintf(users, sizeof(users), "%u-%u", USER_BASE,
		 USER_BASE + NUSERS - 1);
	{
		char *argv[] = { (char *)bin, "-s",	  "register",  "-t",
				 target,      "--domain", "localhost", "-u",
				 users,	      "-n",	  "10000",     "-r",
				 "2000",      "--json",	  NULL };

		j = run_json(argv, "sipload", 90000);
	}
	cr_assert_eq(json_integer_value(json_object_get(j, "succeeded")),
		     NUSERS, "%.500s", json_dumps(j, 0));
	json_decref(j);
}

Test(mgmt_location, dump_pages_through_10000_sipload_users_exactly_once)
{
	static unsigned char seen[NUSERS];
	char body[256];
	json_t *cursor = json_null();
	unsigned pages = 0, total = 0;

	up(2);
	sipload_register();
	/* The default page is 100 AORs. */
	curl_rpc("{\"jsonrpc\":\"2.0\",\"method\":\"location.dump\","
		 "\"id\":1}");
	cr_assert_eq(json_array_size(json_object_get(
			 json_object_get(res, "result"), "bindings")),
		     100, "%s", json_dumps(res, 0));
	cr_assert(json_is_string(
	    json_object_get(json_object_get(res, "result"), "cursor")));
	json_decref(res);
	res = NULL;
	/* Every AOR once, in pages of 1000, with curl. */
	for (;;) {
		json_t *r, *b, *c;
		char *cj = json_dumps(cursor, JSON_ENCODE_ANY);
		size_t i;

		cr_assert_lt(pages, 100, "the walk does not end");
		snprintf(body, sizeof(body),
			 "{\"jsonrpc\":\"2.0\",\"method\":\"location.dump\","
			 "\"params\":{\"cursor\":%s,\"limit\":1000},\"id\":%u}",
			 cj, pages + 2);
		free(cj);
		curl_rpc(body);
		r = json_object_get(res, "result");
		cr_assert_not_null(r, "%s", json_dumps(res, 0));
		cr_assert_leq(json_array_size(json_object_get(r, "bindings")),
			      1000);
		json_array_foreach(json_object_get(r, "bindings"), i, b)
		{
			const char *aor =
			    json_string_value(json_object_get(b, "aor"));
			unsigned u = 0;
			char dom[32];

			cr_assert_not_null(aor);
			cr_assert_eq(sscanf(aor, "%u@%31s", &u, dom), 2, "%s",
				     aor);
			cr_assert_str_eq(dom, "localhost");
			cr_assert(u >= USER_BASE && u < USER_BASE + NUSERS,
				  "%s", aor);
			cr_assert_eq(seen[u - USER_BASE], 0, "%s twice", aor);
			seen[u - USER_BASE] = 1;
			c = json_array_get(json_object_get(b, "contacts"), 0);
			cr_assert_gt(
			    json_integer_value(json_object_get(c, "expires")),
			    0);
			total++;
		}
		pages++;
		json_decref(cursor);
		cursor = json_incref(json_object_get(r, "cursor"));
		json_decref(res);
		res = NULL;
		if (json_is_null(cursor))
			break;
		cr_assert(json_is_string(cursor));
	}
	json_decref(cursor);
	cr_assert_eq(total, NUSERS, "the walk saw %u AORs", total);
	cr_assert_geq(pages, NUSERS / 1000);
	/* A domain nobody registered in: no binding, and the walk ends. */
	curl_rpc("{\"jsonrpc\":\"2.0\",\"method\":\"location.dump\","
		 "\"params\":[\"example.org\",null,1000],\"id\":1}");
	cr_assert_eq(json_array_size(json_object_get(
			 json_object_get(res, "result"), "bindings")),
		     0);
}

/* REGISTER @p u with User-Agent @p agent for @p expires seconds. */
static void reg(struct ua *u, const char *agent, unsigned expires)
{
	cr_assert_eq(ua_register(u, agent, expires, rx), 200, "%s", rx->buf);
}

/* INVITE sip:@p user@localhost from @p u; the final status. */
static unsigned invite(struct ua *u, const char *user)
{
	char req[2048], cid[64];
	unsigned k = ++u->seq;
	int n;

	snprintf(cid, sizeof(cid), "call-%s-%u-%u", u->user, u->port, k);
	n = snprintf(req, sizeof(req),
		     "INVITE sip:%s@localhost SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP %s:%u;rport;branch=z9hG4bKi%u\r\n"
		     "Max-Forwards: 70\r\n"
		     "From: <sip:%s@%s>;tag=f%u\r\n"
		     "To: <sip:%s@localhost>\r\n"
		     "Call-ID: %s\r\nCSeq: 1 INVITE\r\n"
		     "Contact: <%s>\r\n"
		     "Content-Length: 0\r\n\r\n",
		     user, u->ip, u->port, k, u->user, u->domain, k, user, cid,
		     u->contact);
	ua_send(u, req, (size_t)n);
	return ua_expect_final(u, cid, "INVITE", rx);
}

static int rpc(const char *method, const char *params)
{
	json_decref(res);
	res = NULL;
	return mgmtcli_rpc(sp.mgmt_port, NULL, method, params, &res, why,
			   sizeof(why));
}

Test(mgmt_location, lookup_shows_expiry_source_and_user_agent)
{
	json_t *c;
	char src[64];
	int64_t exp;

	up(2);
	ua_open(&alice, "alice", "localhost", "127.0.0.3", sp.port);
	reg(&alice, "AcmePhone/4.2 (test)", 600);
	/* The user part exactly, the domain without regard to case, with
	 * or without "sip:". */
	cr_assert_eq(rpc("location.lookup", "[\"sip:alice@LocalHost\"]"), 0,
		     "%s", why);
	cr_assert_str_eq(json_string_value(json_object_get(res, "aor")),
			 "alice@localhost");
	cr_assert_eq(json_array_size(json_object_get(res, "contacts")), 1);
	c = json_array_get(json_object_get(res, "contacts"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(c, "contact")),
			 alice.contact);
	cr_assert_str_eq(json_string_value(json_object_get(c, "user_agent")),
			 "AcmePhone/4.2 (test)");
	snprintf(src, sizeof(src), "udp:127.0.0.3:%u", alice.port);
	cr_assert_str_eq(json_string_value(json_object_get(c, "source")), src);
	exp = json_integer_value(json_object_get(c, "expires"));
	cr_assert(exp > 540 && exp <= 600, "expires %lld", (long long)exp);
	cr_assert(json_is_string(json_object_get(c, "expires_at")));
	cr_assert_eq(json_integer_value(json_object_get(c, "cseq")), 1);
	/* Named params work too. */
	cr_assert_eq(rpc("location.lookup", "{\"aor\":\"alice@localhost\"}"), 0,
		     "%s", why);
	/* Another user is not found. */
	cr_assert_eq(rpc("location.lookup", "[\"Alice@localhost\"]"), -32002,
		     "%s", why);
	cr_assert_eq(rpc("location.lookup", "[\"nobody@localhost\"]"), -32002,
		     "%s", why);
}

Test(mgmt_location, delete_makes_the_next_invite_480)
{
	json_t *r;

	up(2);
	ua_open(&alice, "alice", "localhost", "127.0.0.3", sp.port);
	ua_open(&bob, "bob", "localhost", "127.0.0.4", sp.port);
	reg(&alice, "AcmePhone/4.2", 600);
	cr_assert_eq(rpc("location.lookup", "[\"alice@localhost\"]"), 0, "%s",
		     why);
	/* A contact alice does not have: nothing goes. */
	curl_rpc("{\"jsonrpc\":\"2.0\",\"method\":\"location.delete\","
		 "\"params\":[\"alice@localhost\",\"sip:x@10.0.0.1\"],"
		 "\"id\":1}");
	cr_assert_eq(error_code(res), -32002, "%s", json_dumps(res, 0));
	cr_assert_eq(rpc("location.lookup", "[\"alice@localhost\"]"), 0, "%s",
		     why);
	/* Her only binding, by AOR, with curl. */
	curl_rpc("{\"jsonrpc\":\"2.0\",\"method\":\"location.delete\","
		 "\"params\":{\"aor\":\"alice@localhost\"},\"id\":2}");
	r = json_object_get(res, "result");
	cr_assert_not_null(r, "%s", json_dumps(res, 0));
	cr_assert_eq(json_integer_value(json_object_get(r, "removed")), 1);
	cr_assert_eq(json_integer_value(json_object_get(r, "left")), 0);
	cr_assert_eq(rpc("location.lookup", "[\"alice@localhost\"]"), -32002,
		     "%s", why);
	cr_assert_eq(invite(&bob, "alice"), 480, "%s", rx->buf);
	/* Again: nothing left to delete. */
	cr_assert_eq(rpc("location.delete", "[\"alice@localhost\"]"), -32002,
		     "%s", why);
	/* Registered again, she is deleted by her contact ("<...>" as in
	 * a Contact header). */
	reg(&alice, "AcmePhone/4.2", 600);
	{
		char params[256];

		snprintf(params, sizeof(params),
			 "[\"alice@localhost\",\"<%s>\"]", alice.contact);
		cr_assert_eq(rpc("location.delete", params), 0, "%s", why);
	}
	cr_assert_eq(json_integer_value(json_object_get(res, "removed")), 1);
	cr_assert_eq(invite(&bob, "alice"), 480, "%s", rx->buf);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

Test(mgmt_location, bad_params_are_invalid_params)
{
	static const char *const bad[][2] = {
		{ "location.lookup", NULL },
		{ "location.lookup", "[]" },
		{ "location.lookup", "[42]" },
		{ "location.lookup", "[\"\"]" },
		{ "location.lookup", "[\"localhost\"]" },
		{ "location.lookup", "[\"tel:+15551234\"]" },
		{ "location.lookup", "[\"a@localhost\",\"extra\"]" },
		{ "location.lookup", "{\"aor\":\"a@localhost\",\"x\":1}" },
		{ "location.dump", "{\"limit\":0}" },
		{ "location.dump", "{\"limit\":1001}" },
		{ "location.dump", "{\"limit\":\"ten\"}" },
		{ "location.dump", "{\"cursor\":\"nonsense\"}" },
		{ "location.dump", "{\"cursor\":\"00000000000000zz\"}" },
		{ "location.dump", "{\"cursor\":17}" },
		{ "location.dump", "[7]" },
		{ "location.delete", NULL },
		{ "location.delete", "[\"a@localhost\",5]" },
		{ "location.delete", "{\"contact\":\"sip:a@b\"}" },
	};

	up(1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(rpc(bad[i][0], bad[i][1]), -32602, "%s %s: %d %s",
			     bad[i][0], bad[i][1] ? bad[i][1] : "",
			     rpc(bad[i][0], bad[i][1]), why);
	/* An empty table: one page, no binding, no cursor. */
	cr_assert_eq(rpc("location.dump", NULL), 0, "%s", why);
	cr_assert_eq(json_array_size(json_object_get(res, "bindings")), 0);
	cr_assert(json_is_null(json_object_get(res, "cursor")));
	/* Still serving after all that. */
	cr_assert_eq(rpc("core.version", NULL), 0, "%s", why);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}
