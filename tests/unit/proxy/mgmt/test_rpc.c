/* tests/unit/proxy/mgmt/test_rpc.c - the JSON-RPC engine: framing, errors,
 * parameters, batches answered from other threads, quiesce */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "proxy/mgmt/rpc.h"

static struct rpc *r;
static char *answer;
static int ndone;

static void done(void *arg, char *json)
{
	(void)arg;
	free(answer);
	answer = json;
	ndone++;
}

static void echo(struct rpc_call *call, json_t *params, void *arg)
{
	static const char *const names[] = { "text", "n", NULL };
	const char *text = "none";
	int64_t n = 1;

	(void)arg;
	if (rpc_params_only(call, params, 2, names) ||
	    rpc_param_str(call, params, 0, "text", true, &text) < 0 ||
	    rpc_param_int(call, params, 1, "n", false, 0, 10, &n) < 0)
		return;
	rpc_reply(call,
		  json_pack("{s:s,s:I}", "text", text, "n", (json_int_t)n));
}

/* Answers from another thread, later: as a shard would. */
static void *later_thread(void *arg)
{
	rpc_reply(arg, json_string("later"));
	return NULL;
}

static pthread_t threads[8];
static unsigned nthreads;

static void later(struct rpc_call *call, json_t *params, void *arg)
{
	(void)params;
	(void)arg;
	cr_assert_lt(nthreads, 8);
	cr_assert_eq(
	    pthread_create(&threads[nthreads++], NULL, later_thread, call), 0);
}

static void fail(struct rpc_call *call, json_t *params, void *arg)
{
	(void)params;
	(void)arg;
	rpc_error_data(call, RPC_NOT_FOUND, "no such thing",
		       json_pack("{s:s}", "what", "thing"));
}

static void init(void)
{
	answer = NULL;
	ndone = 0;
	nthreads = 0;
	cr_assert_eq(rpc_new(NULL, &r), 0);
	cr_assert_eq(rpc_method_add(r, "t.echo", echo, NULL), 0);
	cr_assert_eq(rpc_method_add(r, "t.later", later, NULL), 0);
	cr_assert_eq(rpc_method_add(r, "t.fail", fail, NULL), 0);
}

static void fini(void)
{
	for (unsigned i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	rpc_free(r);
	free(answer);
	answer = NULL;
}

TestSuite(rpc, .init = init, .fini = fini, .timeout = 10);

/* Handle @p text; wait for its threads; the answer parsed. */
static json_t *ask(const char *text)
{
	json_error_t jerr;
	json_t *j;

	rpc_handle(r, text, strlen(text), done, NULL);
	for (unsigned i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	nthreads = 0;
	cr_assert_eq(ndone, 1, "done called %d times", ndone);
	ndone = 0;
	if (!answer)
		return NULL;
	j = json_loads(answer, 0, &jerr);
	cr_assert_not_null(j, "not JSON: %s", answer);
	return j;
}

static int code_of(const json_t *resp)
{
	return (int)json_integer_value(
	    json_object_get(json_object_get(resp, "error"), "code"));
}

Test(rpc, method_added_twice_is_refused)
{
	cr_assert_eq(rpc_method_add(r, "t.echo", echo, NULL), -EEXIST);
}

Test(rpc, positional_and_named_params)
{
	json_t *j = ask("{\"jsonrpc\":\"2.0\",\"method\":\"t.echo\","
			"\"params\":[\"hi\",3],\"id\":1}");

	cr_assert_str_eq(json_string_value(json_object_get(
			     json_object_get(j, "result"), "text")),
			 "hi");
	cr_assert_eq(json_integer_value(
			 json_object_get(json_object_get(j, "result"), "n")),
		     3);
	json_decref(j);
	j = ask("{\"jsonrpc\":\"2.0\",\"method\":\"t.echo\","
		"\"params\":{\"text\":\"yo\"},\"id\":2}");
	cr_assert_str_eq(json_string_value(json_object_get(
			     json_object_get(j, "result"), "text")),
			 "yo");
	cr_assert_eq(json_integer_value(json_object_get(j, "id")), 2);
	json_decref(j);
}

Test(rpc, bad_params_are_32602_naming_the_parameter)
{
	static const char *const bad[] = {
		"{\"jsonrpc\":\"2.0\",\"method\":\"t.echo\",\"id\":1}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"t.echo\",\"params\":[5],"
		"\"id\":1}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"t.echo\",\"params\":[\"a\","
		"11],\"id\":1}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"t.echo\",\"params\":[\"a\","
		"1,2],\"id\":1}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"t.echo\",\"params\":{"
		"\"text\":\"a\",\"zzz\":1},\"id\":1}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *j = ask(bad[i]);

		cr_assert_eq(code_of(j), RPC_INVALID_PARAMS, "%s -> %s", bad[i],
			     answer);
		cr_assert(strstr(answer, "text") || strstr(answer, "n ") ||
			      strstr(answer, "zzz") || strstr(answer, "given"),
			  "%s", answer);
		json_decref(j);
	}
}

Test(rpc, invalid_requests)
{
	static const char *const bad[] = {
		"7",
		"\"x\"",
		"{\"method\":\"t.echo\",\"id\":1}",
		"{\"jsonrpc\":\"2.0\",\"method\":5,\"id\":1}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"t.echo\",\"params\":\"s\","
		"\"id\":1}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"t.echo\",\"id\":{}}",
		"[]",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *j = ask(bad[i]);

		cr_assert_eq(code_of(j), RPC_INVALID_REQUEST, "%s -> %s",
			     bad[i], answer);
		json_decref(j);
	}
}

Test(rpc, parse_error_and_duplicate_keys)
{
	json_t *j = ask("{\"jsonrpc\":");

	cr_assert_eq(code_of(j), RPC_PARSE_ERROR, "%s", answer);
	cr_assert(json_is_null(json_object_get(j, "id")));
	json_decref(j);
	j = ask("{\"jsonrpc\":\"2.0\",\"method\":\"t.echo\",\"method\":\"x\","
		"\"id\":1}");
	cr_assert_eq(code_of(j), RPC_PARSE_ERROR, "%s", answer);
	json_decref(j);
}

Test(rpc, notifications_get_no_answer)
{
	cr_assert_null(ask("{\"jsonrpc\":\"2.0\",\"method\":\"t.echo\","
			   "\"params\":[\"a\"]}"));
	/* Not even an unknown method's error. */
	cr_assert_null(ask("{\"jsonrpc\":\"2.0\",\"method\":\"no.such\"}"));
	cr_assert_null(ask("[{\"jsonrpc\":\"2.0\",\"method\":\"t.later\"},"
			   "{\"jsonrpc\":\"2.0\",\"method\":\"t.fail\"}]"));
}

Test(rpc, batch_waits_for_answers_from_other_threads)
{
	json_t *j =
	    ask("[{\"jsonrpc\":\"2.0\",\"method\":\"t.later\",\"id\":1},"
		"{\"jsonrpc\":\"2.0\",\"method\":\"t.later\",\"id\":2},"
		"{\"jsonrpc\":\"2.0\",\"method\":\"t.fail\",\"id\":3},"
		"{\"jsonrpc\":\"2.0\",\"method\":\"t.later\"}]");
	unsigned later_seen = 0;
	size_t i;
	json_t *e;

	cr_assert(json_is_array(j), "%s", answer);
	cr_assert_eq(json_array_size(j), 3, "%s", answer);
	json_array_foreach(j, i, e)
	{
		if (json_integer_value(json_object_get(e, "id")) == 3) {
			cr_assert_eq(code_of(e), RPC_NOT_FOUND);
			cr_assert_str_eq(
			    json_string_value(json_object_get(
				json_object_get(json_object_get(e, "error"),
						"data"),
				"what")),
			    "thing");
		} else {
			cr_assert_str_eq(
			    json_string_value(json_object_get(e, "result")),
			    "later");
			later_seen++;
		}
	}
	cr_assert_eq(later_seen, 2);
	json_decref(j);
}

Test(rpc, batch_over_the_limit_is_refused_whole)
{
	size_t cap = (RPC_MAX_BATCH + 1) * 64 + 4, n = 0;
	char *text = malloc(cap);
	json_t *j;

	cr_assert_not_null(text);
	text[n++] = '[';
	for (int i = 0; i <= RPC_MAX_BATCH; i++)
		n += (size_t)snprintf(text + n, cap - n,
				      "%s{\"jsonrpc\":\"2.0\",\"method\":"
				      "\"t.fail\",\"id\":%d}",
				      i ? "," : "", i);
	text[n++] = ']';
	text[n] = '\0';
	j = ask(text);
	free(text);
	cr_assert(json_is_object(j), "%s", answer);
	cr_assert_eq(code_of(j), RPC_INVALID_REQUEST);
	json_decref(j);
}

Test(rpc, quiesced_engine_answers_stopping)
{
	json_t *j;

	rpc_quiesce(r);
	j = ask("{\"jsonrpc\":\"2.0\",\"method\":\"t.echo\",\"params\":[\"a\"],"
		"\"id\":1}");
	cr_assert_eq(code_of(j), RPC_STOPPING, "%s", answer);
	json_decref(j);
}
