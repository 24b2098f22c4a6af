/* proxy/mgmt/rpc_originate.c - originate, originate.status, .list and
 * .cancel methods */
#include "proxy/mgmt/rpc_originate.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "features/originate.h"
#include "proxy/base/err.h"
#include "proxy/core/conf.h"
#include "proxy/mgmt/mgmt.h"
#include "proxy/mgmt/rpc.h"

/* An id from the user, for an error message: printable ASCII, cut. */
static const char *shown(const char *id, char *buf, size_t size)
{
	size_t i;

	for (i = 0; id[i] && i + 1 < size && i < 32; i++)
		buf[i] = id[i] > ' ' && id[i] < 0x7f ? id[i] : '?';
	buf[i] = '\0';
	return buf;
}

static json_t *at_json(const struct originate_info *in)
{
	json_t *o = json_object();

	for (unsigned s = 0; o && s < ORIGINATE__COUNT; s++)
		if (in->at_ms[s])
			json_object_set_new(
			    o, originate_state_name((enum originate_state)s),
			    json_integer((json_int_t)in->at_ms[s]));
	return o;
}

static json_t *info_json(const struct originate_info *in)
{
	json_t *j = json_pack(
	    "{s:s,s:s,s:s,s:s,s:o?}", "id", in->id, "a", in->a, "b", in->b,
	    "state", originate_state_name(in->state), "at_ms", at_json(in));

	if (j && in->state == ORIGINATE_FAILED) {
		char leg[2] = { in->failed_leg, '\0' };

		json_object_set_new(j, "failed_leg", json_string(leg));
		json_object_set_new(j, "status",
				    json_integer((json_int_t)in->status));
		json_object_set_new(j, "reason", json_string(in->reason));
	}
	if (j && in->guard != ORIGINATE_GUARD_NONE) {
		json_object_set_new(
		    j, "guard", json_string(originate_guard_name(in->guard)));
		json_object_set_new(j, "guard_at_ms",
				    json_integer((json_int_t)in->guard_at_ms));
	}
	if (j && in->reinvited_a_at_ms)
		json_object_set_new(
		    j, "reinvited_a_at_ms",
		    json_integer((json_int_t)in->reinvited_a_at_ms));
	if (j && in->state == ORIGINATE_ENDED) {
		const char *by = in->ended_by == 'a'   ? "a"
				 : in->ended_by == 'b' ? "b"
						       : "cancel";

		json_object_set_new(j, "ended_by", json_string(by));
	}
	return j;
}

static bool pool_on(struct rpc_call *call, const struct mgmt_env *env)
{
	if (env->pool)
		return true;
	rpc_error(call, RPC_UNAVAILABLE,
		  "the B2B pool is off (b2b.workers: 0): no originate");
	return false;
}

static void originate(struct rpc_call *call, json_t *params, void *arg)
{
	static const char *const names[] = { "a",	  "b",
					     "caller_id", "timeout_s",
					     "headers",	  "intercom_a",
					     NULL };
	const char *lines[ORIGINATE_HDRS_MAX];
	json_t *hdrs = NULL, *icom = NULL, *v;
	size_t i;
	const struct mgmt_env *env = arg;
	struct originate_opts o;
	const char *why = NULL;
	char id[ORIGINATE_ID_MAX];
	int64_t timeout = ORIGINATE_TIMEOUT_S;
	int err;

	memset(&o, 0, sizeof(o));
	if (rpc_params_only(call, params, 6, names) ||
	    rpc_param_str(call, params, 0, "a", true, &o.a) < 0 ||
	    rpc_param_str(call, params, 1, "b", true, &o.b) < 0 ||
	    rpc_param_str(call, params, 2, "caller_id", false, &o.caller_id) <
		0 ||
	    rpc_param_int(call, params, 3, "timeout_s", false, 1,
			  ORIGINATE_TIMEOUT_S_MAX, &timeout) < 0 ||
	    rpc_param_any(call, params, 4, "headers", false, &hdrs) < 0 ||
	    rpc_param_any(call, params, 5, "intercom_a", false, &icom) < 0)
		return;
	/* headers: ["Name: value", ...]; intercom_a: a boolean. */
	if (hdrs && (!json_is_array(hdrs) ||
		     json_array_size(hdrs) > ORIGINATE_HDRS_MAX)) {
		rpc_error(call, RPC_INVALID_PARAMS,
			  "invalid params: headers must be an array of at "
			  "most %d \"Name: value\" strings",
			  ORIGINATE_HDRS_MAX);
		return;
	}
	json_array_foreach(hdrs, i, v)
	{
		lines[i] = json_string_value(v);
		if (!lines[i]) {
			rpc_error(call, RPC_INVALID_PARAMS,
				  "invalid params: headers[%zu] is not a "
				  "string",
				  i);
			return;
		}
	}
	if (icom && !json_is_boolean(icom)) {
		rpc_error(call, RPC_INVALID_PARAMS,
			  "invalid params: intercom_a must be true or false");
		return;
	}
	o.headers = lines;
	o.nheaders = hdrs ? json_array_size(hdrs) : 0;
	o.intercom_a = icom && json_is_true(icom);
	o.conf = env->conf;
	if (!pool_on(call, env))
		return;
	o.timeout_s = (unsigned)timeout;
	o.default_domain = env->conf->ndomains ? env->conf->domains[0] : NULL;
	err = originate_start(env->pool, &o, id, &why);
	switch (err) {
	case 0:
		rpc_reply(call, json_pack("{s:s}", "id", id));
		break;
	case -EINVAL:
		rpc_error(call, RPC_INVALID_PARAMS, "invalid params: %s",
			  why ? why : "bad originate");
		break;
	case -ENOENT:
		rpc_error(call, RPC_UNAVAILABLE, "the B2B pool is off");
		break;
	case -ENOBUFS:
		rpc_error(call, RPC_BUSY, "the pool worker is busy: %s",
			  err_str(err));
		break;
	default:
		rpc_error(call, RPC_INTERNAL_ERROR, "originate: %s",
			  err_str(err));
		break;
	}
}

/* What a status or cancel carries to its worker and back. */
struct job {
	struct rpc_call *call;
	char id[ORIGINATE_ID_MAX];
};

static void info_done(void *arg, int err, const struct originate_info *info)
{
	struct job *j = arg;

	if (!err)
		rpc_reply(j->call, info_json(info));
	else if (err == -ENOENT)
		rpc_error(j->call, RPC_NOT_FOUND, "no originate %s", j->id);
	else
		rpc_error(j->call, RPC_STOPPING, "the pool stopped");
	free(j);
}

static void ask(struct rpc_call *call, json_t *params, void *arg, bool cancel)
{
	static const char *const names[] = { "id", NULL };
	const struct mgmt_env *env = arg;
	const char *id = NULL;
	char buf[40];
	struct job *j;
	int err;

	if (rpc_params_only(call, params, 1, names) ||
	    rpc_param_str(call, params, 0, "id", true, &id) < 0)
		return;
	if (!pool_on(call, env))
		return;
	if (!*id || strlen(id) >= ORIGINATE_ID_MAX) {
		rpc_error(call, RPC_NOT_FOUND, "no originate %s",
			  shown(id, buf, sizeof(buf)));
		return;
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		rpc_error(call, RPC_INTERNAL_ERROR, "out of memory");
		return;
	}
	j->call = call;
	shown(id, j->id, sizeof(j->id));
	err = cancel ? originate_cancel(env->pool, id, info_done, j)
		     : originate_status(env->pool, id, info_done, j);
	if (err) {
		rpc_error(call, err == -ENOBUFS ? RPC_BUSY : RPC_INTERNAL_ERROR,
			  "the pool worker cannot take it: %s", err_str(err));
		free(j);
	}
}

static void status(struct rpc_call *call, json_t *params, void *arg)
{
	ask(call, params, arg, false);
}

static void cancel(struct rpc_call *call, json_t *params, void *arg)
{
	ask(call, params, arg, true);
}

static void list_done(void *arg, int err, const struct originate_info *v,
		      size_t n)
{
	struct rpc_call *call = arg;
	json_t *a = json_array();

	if (err || !a) {
		json_decref(a);
		rpc_error(call, RPC_INTERNAL_ERROR, "originate.list: %s",
			  err ? err_str(err) : "out of memory");
		return;
	}
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, info_json(&v[i]));
	rpc_reply(call, json_pack("{s:o}", "originates", a));
}

static void list(struct rpc_call *call, json_t *params, void *arg)
{
	const struct mgmt_env *env = arg;
	int err;

	if (rpc_params_only(call, params, 0, NULL) || !pool_on(call, env))
		return;
	err = originate_list(env->pool, list_done, call);
	if (err)
		rpc_error(call, err == -ENOBUFS ? RPC_BUSY : RPC_INTERNAL_ERROR,
			  "the pool cannot take it: %s", err_str(err));
}

int rpc_originate_add(struct rpc *r, struct mgmt_env *env)
{
	int err = rpc_method_add(r, "originate", originate, env);

	if (!err)
		err = rpc_method_add(r, "originate.status", status, env);
	if (!err)
		err = rpc_method_add(r, "originate.list", list, env);
	if (!err)
		err = rpc_method_add(r, "originate.cancel", cancel, env);
	return err;
}
