/* tests/integration/test_mgmt.c - the management API over real HTTP: JSON-RPC
 * 2.0 framing, errors, the bearer token, core.* and log.level */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <jansson.h>

#include "tests/common/mgmtcli.h"
#include "tests/common/proc.h"

#define TOKEN "s3cret-token-0123456789"

static struct proc_sipedge sp;
static char *body;
static json_t *res;
static char why[512];

static void setup(void)
{
	memset(&sp, 0, sizeof(sp));
	body = NULL;
	res = NULL;
}

static void teardown(void)
{
	free(body);
	json_decref(res);
	proc_sipedge_cleanup(&sp);
}

TestSuite(mgmt, .init = setup, .fini = teardown, .timeout = 60);

static void up_with(const char *extra_yaml)
{
	int err = proc_sipedge_start(&sp, "127.0.0.1", 2, extra_yaml);

	cr_assert_eq(err, 0, "sipedge did not start: %s", sp.why);
}

static void down(void)
{
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* POST @p text to /rpc; the parsed answer in res, the status returned. */
static unsigned post(const char *token, const char *text)
{
	unsigned status = 0;
	json_error_t jerr;

	free(body);
	body = NULL;
	json_decref(res);
	res = NULL;
	cr_assert_eq(mgmtcli_http(sp.mgmt_port, "POST", "/rpc", token, text,
				  &status, &body),
		     0, "no HTTP answer to %s", text);
	if (*body)
		res = json_loads(body, 0, &jerr);
	return status;
}

static int error_code(const json_t *resp)
{
	return (int)json_integer_value(
	    json_object_get(json_object_get(resp, "error"), "code"));
}

Test(mgmt, core_methods_answer)
{
	up_with(NULL);
	cr_assert_eq(mgmtcli_rpc(sp.mgmt_port, NULL, "core.version", NULL, &res,
				 why, sizeof(why)),
		     0, "%s", why);
	cr_assert_str_eq(json_string_value(json_object_get(res, "version")),
			 SIPEDGE_VERSION);
	json_decref(res);
	cr_assert_eq(mgmtcli_rpc(sp.mgmt_port, NULL, "core.workers", NULL, &res,
				 why, sizeof(why)),
		     0, "%s", why);
	cr_assert_eq(json_integer_value(json_object_get(res, "workers")), 2);
	cr_assert_eq(json_array_size(json_object_get(res, "shards")), 2);
	json_decref(res);
	cr_assert_eq(mgmtcli_rpc(sp.mgmt_port, NULL, "core.uptime", NULL, &res,
				 why, sizeof(why)),
		     0, "%s", why);
	cr_assert(json_is_integer(json_object_get(res, "uptime_s")));
	down();
}

Test(mgmt, json_rpc_errors_are_the_specs)
{
	up_with(NULL);
	/* Not JSON: -32700, id null. */
	cr_assert_eq(post(NULL, "{\"jsonrpc\": \"2.0\", \"method\""), 200);
	cr_assert_not_null(res, "not JSON: %s", body);
	cr_assert_eq(error_code(res), -32700, "%s", body);
	cr_assert(json_is_null(json_object_get(res, "id")));
	/* Unknown method: -32601 with the id. */
	cr_assert_eq(post(NULL, "{\"jsonrpc\":\"2.0\",\"method\":\"no.such\","
				"\"id\":7}"),
		     200);
	cr_assert_eq(error_code(res), -32601, "%s", body);
	cr_assert_eq(json_integer_value(json_object_get(res, "id")), 7);
	/* Not a request object: -32600. */
	cr_assert_eq(post(NULL,
			  "{\"jsonrpc\":\"1.0\",\"method\":\"core.version\","
			  "\"id\":1}"),
		     200);
	cr_assert_eq(error_code(res), -32600, "%s", body);
	cr_assert_eq(post(NULL, "[]"), 200);
	cr_assert_eq(error_code(res), -32600, "%s", body);
	/* Wrong params: -32602. */
	cr_assert_eq(post(NULL, "{\"jsonrpc\":\"2.0\",\"method\":\"log.level\","
				"\"params\":[\"loud\"],\"id\":2}"),
		     200);
	cr_assert_eq(error_code(res), -32602, "%s", body);
	cr_assert_eq(post(NULL,
			  "{\"jsonrpc\":\"2.0\",\"method\":\"core.version\","
			  "\"params\":{\"x\":1},\"id\":3}"),
		     200);
	cr_assert_eq(error_code(res), -32602, "%s", body);
	/* Only notifications: nothing to answer. */
	cr_assert_eq(post(NULL,
			  "{\"jsonrpc\":\"2.0\",\"method\":\"core.version\""
			  "}"),
		     204);
	/* GET on /rpc, and a path that is not served. */
	free(body);
	body = NULL;
	{
		unsigned status = 0;

		cr_assert_eq(mgmtcli_http(sp.mgmt_port, "GET", "/rpc", NULL,
					  NULL, &status, &body),
			     0);
		cr_assert_eq(status, 405);
		free(body);
		body = NULL;
		cr_assert_eq(mgmtcli_http(sp.mgmt_port, "GET", "/nothing", NULL,
					  NULL, &status, &body),
			     0);
		cr_assert_eq(status, 404);
	}
	down();
}

Test(mgmt, batch_answers_every_call_but_notifications)
{
	size_t i;
	json_t *r;
	int seen = 0;

	up_with(NULL);
	cr_assert_eq(
	    post(NULL,
		 "[{\"jsonrpc\":\"2.0\",\"method\":\"core.version\",\"id\":1},"
		 "{\"jsonrpc\":\"2.0\",\"method\":\"core.version\"},"
		 "{\"jsonrpc\":\"2.0\",\"method\":\"nope\",\"id\":2},"
		 "42,"
		 "{\"jsonrpc\":\"2.0\",\"method\":\"core.uptime\",\"id\":\"u\"}"
		 "]"),
	    200);
	cr_assert(json_is_array(res), "%s", body);
	cr_assert_eq(json_array_size(res), 4, "%s", body);
	json_array_foreach(res, i, r)
	{
		json_t *id = json_object_get(r, "id");

		if (json_is_integer(id) && json_integer_value(id) == 1)
			seen |= json_object_get(r, "result") ? 1 : 0;
		else if (json_is_integer(id) && json_integer_value(id) == 2)
			seen |= error_code(r) == -32601 ? 2 : 0;
		else if (json_is_null(id))
			seen |= error_code(r) == -32600 ? 4 : 0;
		else if (json_is_string(id))
			seen |= json_object_get(r, "result") ? 8 : 0;
	}
	cr_assert_eq(seen, 15, "%s", body);
	down();
}

Test(mgmt, token_is_required_when_set)
{
	cr_assert_eq(proc_sipedge_start_token(&sp, "127.0.0.1", 2, TOKEN), 0,
		     "sipedge did not start: %s", sp.why);
	cr_assert_eq(post(NULL,
			  "{\"jsonrpc\":\"2.0\",\"method\":\"core.version\","
			  "\"id\":1}"),
		     401);
	cr_assert_eq(error_code(res), -32001, "%s", body);
	cr_assert_eq(post("wrong-token-0123456789",
			  "{\"jsonrpc\":\"2.0\",\"method\":\"core.version\","
			  "\"id\":1}"),
		     401);
	cr_assert_eq(post(TOKEN, "{\"jsonrpc\":\"2.0\",\"method\":"
				 "\"core.version\",\"id\":1}"),
		     200);
	cr_assert_not_null(json_object_get(res, "result"), "%s", body);
	down();
}

/* A management listener off loopback without a token is refused. */
Test(mgmt, open_listener_needs_a_token)
{
	char path[PROC_PATH_MAX];
	char *args[] = { "--check", path, NULL };
	char *err_text = NULL;
	int status;

	cr_assert_eq(proc_tmpdir(sp.dir, sizeof(sp.dir)), 0);
	cr_assert_eq(proc_write_file(sp.dir, "open.yaml",
				     "management:\n"
				     "  listen: [\"0.0.0.0:5080\"]\n",
				     path, sizeof(path)),
		     0);
	cr_assert_eq(proc_sipedge_spawn(&sp, args), 0, "%s", sp.why);
	cr_assert_eq(proc_sipedge_wait(&sp, 10000, &status), 0, "%s", sp.why);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	cr_assert_eq(proc_read_file(sp.log, &err_text), 0);
	cr_assert(strstr(err_text, "management.token"), "%s", err_text);
	free(err_text);
}

Test(mgmt, log_level_changes_what_is_logged)
{
	up_with(NULL);
	cr_assert_eq(mgmtcli_rpc(sp.mgmt_port, NULL, "log.level", "[\"debug\"]",
				 &res, why, sizeof(why)),
		     0, "%s", why);
	cr_assert_str_eq(json_string_value(json_object_get(res, "previous")),
			 "info");
	json_decref(res);
	cr_assert_eq(mgmtcli_rpc(sp.mgmt_port, NULL, "log.level", NULL, &res,
				 why, sizeof(why)),
		     0, "%s", why);
	cr_assert_str_eq(json_string_value(json_object_get(res, "level")),
			 "debug");
	cr_assert_eq(
	    proc_sipedge_wait_log(&sp, "log level debug (was info)", 1, 5000),
	    0, "%s", sp.why);
	down();
}
