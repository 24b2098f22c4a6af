/* proxy/mgmt/rpc.c - JSON-RPC 2.0: methods, batches, answers from any thread
 */
#include "proxy/mgmt/rpc.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/base/log.h"
#include "proxy/core/post.h"

/* The most methods one engine holds. */
#define RPC_MAX_METHODS 64

struct method {
	char *name;
	rpc_method_fn *fn;
	void *arg;
};

struct rpc {
	struct post *control;
	struct method methods[RPC_MAX_METHODS];
	unsigned nmethods;
	pthread_mutex_t mu; /* quiesced against posting */
	bool quiesced;
};

/* One request body: a call or a batch, answered when pending is 0. */
struct req {
	pthread_mutex_t mu;
	unsigned pending; /* calls not answered yet, + 1 while starting */
	bool batch;
	json_t *responses; /* array of response objects */
	rpc_done_fn *done;
	void *arg;
};

struct rpc_call {
	struct req *req;
	const struct method *m;
	json_t *id; /* NULL: a notification (no answer is sent) */
	json_t *params;
};

int rpc_new(struct post *control, struct rpc **rp)
{
	struct rpc *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->control = control;
	pthread_mutex_init(&r->mu, NULL);
	*rp = r;
	return 0;
}

static const struct method *method_find(const struct rpc *r, const char *name)
{
	for (unsigned i = 0; i < r->nmethods; i++)
		if (strcmp(r->methods[i].name, name) == 0)
			return &r->methods[i];
	return NULL;
}

int rpc_method_add(struct rpc *r, const char *name, rpc_method_fn *fn,
		   void *arg)
{
	struct method *m;

	if (!r || !name || !fn)
		return -EINVAL;
	if (method_find(r, name))
		return -EEXIST;
	if (r->nmethods == RPC_MAX_METHODS)
		return -ENOSPC;
	m = &r->methods[r->nmethods];
	m->name = strdup(name);
	if (!m->name)
		return -ENOMEM;
	m->fn = fn;
	m->arg = arg;
	r->nmethods++;
	return 0;
}

void rpc_quiesce(struct rpc *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->quiesced = true;
	pthread_mutex_unlock(&r->mu);
}

bool rpc_quiesced(struct rpc *r)
{
	bool q;

	if (!r)
		return true;
	pthread_mutex_lock(&r->mu);
	q = r->quiesced;
	pthread_mutex_unlock(&r->mu);
	return q;
}

void rpc_free(struct rpc *r)
{
	if (!r)
		return;
	for (unsigned i = 0; i < r->nmethods; i++)
		free(r->methods[i].name);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

/* {"jsonrpc":"2.0","error":{...},"id":id}; @p id is stolen. */
static json_t *error_object(int code, const char *msg, json_t *data, json_t *id)
{
	json_t *e = json_pack("{s:i,s:s}", "code", code, "message", msg);

	if (e && data)
		json_object_set_new(e, "data", data);
	else if (data)
		json_decref(data);
	return json_pack("{s:s,s:o,s:o}", "jsonrpc", "2.0", "error", e, "id",
			 id ? id : json_null());
}

/* Hand the whole response over and free @p q. */
static void req_finish(struct req *q)
{
	json_t *out = NULL;
	char *text = NULL;

	if (q->batch && json_array_size(q->responses))
		out = q->responses;
	else if (!q->batch && json_array_size(q->responses))
		out = json_array_get(q->responses, 0);
	if (out)
		text = json_dumps(out, JSON_COMPACT);
	if (out && !text)
		/* Out of memory: still answer something. */
		text = strdup("{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32603,"
			      "\"message\":\"out of memory\"},\"id\":null}");
	json_decref(q->responses);
	pthread_mutex_destroy(&q->mu);
	q->done(q->arg, text);
	free(q);
}

/* One answer (or none) for @p q; the last one finishes it. */
static void req_add(struct req *q, json_t *response)
{
	bool last;

	pthread_mutex_lock(&q->mu);
	if (response)
		json_array_append_new(q->responses, response);
	last = --q->pending == 0;
	pthread_mutex_unlock(&q->mu);
	if (last)
		req_finish(q);
}

static void call_free(struct rpc_call *call)
{
	json_decref(call->params);
	free(call);
}

void rpc_reply(struct rpc_call *call, json_t *result)
{
	struct req *q = call->req;
	json_t *resp = NULL;

	if (call->id) {
		resp = json_pack("{s:s,s:o,s:O}", "jsonrpc", "2.0", "result",
				 result ? result : json_null(), "id", call->id);
		if (!resp)
			resp = error_object(RPC_INTERNAL_ERROR, "out of memory",
					    NULL, json_incref(call->id));
	} else {
		json_decref(result);
	}
	json_decref(call->id);
	call_free(call);
	req_add(q, resp);
}

void rpc_error_data(struct rpc_call *call, int code, const char *msg,
		    json_t *data)
{
	struct req *q = call->req;
	json_t *resp = NULL;

	if (call->id)
		resp = error_object(code, msg, data, call->id);
	else
		json_decref(data);
	call_free(call);
	req_add(q, resp);
}

void rpc_error(struct rpc_call *call, int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	rpc_error_data(call, code, msg, NULL);
}

const char *rpc_call_method(const struct rpc_call *call)
{
	return call->m ? call->m->name : "?";
}

/* Run on the control thread, or with @p p NULL when it is gone. */
static void run_posted(struct post *p, void *arg)
{
	struct rpc_call *call = arg;

	if (!p) {
		rpc_error(call, RPC_STOPPING, "sipedge is stopping");
		return;
	}
	log_msg(LOG_DEBUG, "mgmt: rpc %s", call->m->name);
	call->m->fn(call, call->params, call->m->arg);
}

/* An error answer for a call that never reached a method. */
static void answer_now(struct req *q, int code, const char *msg, json_t *id)
{
	req_add(q, error_object(code, msg, NULL, id));
}

/* True when @p id may be a request id: string, number or null. */
static bool id_ok(const json_t *id)
{
	return json_is_string(id) || json_is_number(id) || json_is_null(id);
}

/* Start one call of @p q: check it, then run or post its method. */
static void call_start(struct rpc *r, struct req *q, json_t *o)
{
	json_t *ver, *method, *params, *id;
	const struct method *m;
	struct rpc_call *call;
	char msg[160];
	int err;

	if (!json_is_object(o)) {
		answer_now(q, RPC_INVALID_REQUEST,
			   "invalid request: not an object", NULL);
		return;
	}
	id = json_object_get(o, "id");
	if (id && !id_ok(id)) {
		answer_now(q, RPC_INVALID_REQUEST,
			   "invalid request: id must be a string, a number "
			   "or null",
			   NULL);
		return;
	}
	ver = json_object_get(o, "jsonrpc");
	method = json_object_get(o, "method");
	params = json_object_get(o, "params");
	if (!json_is_string(ver) || strcmp(json_string_value(ver), "2.0")) {
		answer_now(q, RPC_INVALID_REQUEST,
			   "invalid request: \"jsonrpc\" must be \"2.0\"",
			   json_incref(id));
		return;
	}
	if (!json_is_string(method)) {
		answer_now(q, RPC_INVALID_REQUEST,
			   "invalid request: \"method\" must be a string",
			   json_incref(id));
		return;
	}
	if (params && !json_is_array(params) && !json_is_object(params)) {
		answer_now(q, RPC_INVALID_REQUEST,
			   "invalid request: \"params\" must be an array or "
			   "an object",
			   json_incref(id));
		return;
	}
	m = method_find(r, json_string_value(method));
	if (!m) {
		snprintf(msg, sizeof(msg), "method not found: %.100s",
			 json_string_value(method));
		if (id)
			answer_now(q, RPC_METHOD_NOT_FOUND, msg,
				   json_incref(id));
		else
			req_add(q, NULL);
		return;
	}
	call = calloc(1, sizeof(*call));
	if (!call) {
		answer_now(q, RPC_INTERNAL_ERROR, "out of memory",
			   json_incref(id));
		return;
	}
	call->req = q;
	call->m = m;
	call->id = json_incref(id);
	call->params = json_incref(params);
	/* Held while posting: after rpc_quiesce() nothing reaches the
	 * mailbox, which may then be freed. */
	pthread_mutex_lock(&r->mu);
	if (r->quiesced)
		err = -ESHUTDOWN;
	else if (r->control)
		err = post_call(r->control, run_posted, call);
	else
		err = 1; /* no mailbox: run it here */
	pthread_mutex_unlock(&r->mu);
	if (err == 1)
		m->fn(call, call->params, m->arg);
	else if (err == -ESHUTDOWN)
		rpc_error(call, RPC_STOPPING, "sipedge is stopping");
	else if (err == -ENOBUFS)
		rpc_error(call, RPC_BUSY,
			  "busy: the control thread's queue is full");
	else if (err)
		rpc_error(call, RPC_INTERNAL_ERROR, "could not queue: %s",
			  strerror(-err));
}

void rpc_handle(struct rpc *r, const char *body, size_t len, rpc_done_fn *done,
		void *arg)
{
	json_error_t jerr;
	struct req *q;
	json_t *root;
	char msg[256];
	size_t n;

	q = calloc(1, sizeof(*q));
	if (q)
		q->responses = json_array();
	if (!q || !q->responses) {
		free(q);
		done(arg, strdup("{\"jsonrpc\":\"2.0\",\"error\":{\"code\":"
				 "-32603,\"message\":\"out of memory\"},"
				 "\"id\":null}"));
		return;
	}
	pthread_mutex_init(&q->mu, NULL);
	q->done = done;
	q->arg = arg;
	q->pending = 1; /* held while the calls start */
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
			  &jerr);
	if (!root) {
		snprintf(msg, sizeof(msg),
			 "parse error: %s (line %d, column %d)", jerr.text,
			 jerr.line, jerr.column);
		q->pending++;
		answer_now(q, RPC_PARSE_ERROR, msg, NULL);
	} else if (json_is_array(root) && json_array_size(root) == 0) {
		q->pending++;
		answer_now(q, RPC_INVALID_REQUEST,
			   "invalid request: an empty batch", NULL);
	} else if (json_is_array(root) &&
		   json_array_size(root) > RPC_MAX_BATCH) {
		snprintf(msg, sizeof(msg),
			 "invalid request: a batch of %zu calls (at most %d)",
			 json_array_size(root), RPC_MAX_BATCH);
		q->pending++;
		answer_now(q, RPC_INVALID_REQUEST, msg, NULL);
	} else if (json_is_array(root)) {
		q->batch = true;
		n = json_array_size(root);
		q->pending += (unsigned)n;
		for (size_t i = 0; i < n; i++)
			call_start(r, q, json_array_get(root, i));
	} else {
		q->pending++;
		call_start(r, q, root);
	}
	json_decref(root);
	req_add(q, NULL); /* the guard */
}

static json_t *param_get(json_t *params, size_t pos, const char *name)
{
	if (json_is_array(params))
		return json_array_get(params, pos);
	if (json_is_object(params))
		return json_object_get(params, name);
	return NULL;
}

int rpc_param_any(struct rpc_call *call, json_t *params, size_t pos,
		  const char *name, bool required, json_t **out)
{
	json_t *v = param_get(params, pos, name);

	if (!v || json_is_null(v)) {
		if (!required)
			return 1;
		rpc_error(call, RPC_INVALID_PARAMS,
			  "invalid params: %s is required", name);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int rpc_param_str(struct rpc_call *call, json_t *params, size_t pos,
		  const char *name, bool required, const char **out)
{
	json_t *v;
	int rc = rpc_param_any(call, params, pos, name, required, &v);

	if (rc)
		return rc;
	if (!json_is_string(v)) {
		rpc_error(call, RPC_INVALID_PARAMS,
			  "invalid params: %s must be a string", name);
		return -EINVAL;
	}
	*out = json_string_value(v);
	return 0;
}

int rpc_param_int(struct rpc_call *call, json_t *params, size_t pos,
		  const char *name, bool required, int64_t min, int64_t max,
		  int64_t *out)
{
	json_t *v;
	int rc = rpc_param_any(call, params, pos, name, required, &v);

	if (rc)
		return rc;
	if (!json_is_integer(v) || json_integer_value(v) < min ||
	    json_integer_value(v) > max) {
		rpc_error(call, RPC_INVALID_PARAMS,
			  "invalid params: %s must be an integer in "
			  "%lld..%lld",
			  name, (long long)min, (long long)max);
		return -EINVAL;
	}
	*out = (int64_t)json_integer_value(v);
	return 0;
}

int rpc_params_only(struct rpc_call *call, json_t *params, size_t npos,
		    const char *const *names)
{
	const char *key;
	json_t *v;

	if (json_is_array(params) && json_array_size(params) > npos) {
		rpc_error(call, RPC_INVALID_PARAMS,
			  "invalid params: %zu given, at most %zu",
			  json_array_size(params), npos);
		return -EINVAL;
	}
	if (!json_is_object(params))
		return 0;
	json_object_foreach(params, key, v)
	{
		bool known = false;

		for (size_t i = 0; names && names[i] && !known; i++)
			known = strcmp(names[i], key) == 0;
		if (!known) {
			rpc_error(call, RPC_INVALID_PARAMS,
				  "invalid params: unknown parameter '%.64s'",
				  key);
			return -EINVAL;
		}
	}
	return 0;
}
