/* proxy/mgmt/rpc_trace.c - trace.start, trace.stop and trace.status */
#include "proxy/mgmt/rpc_trace.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "proxy/base/err.h"
#include "proxy/base/log.h"
#include "proxy/core/trace.h"
#include "proxy/mgmt/mgmt.h"
#include "proxy/mgmt/rpc.h"

static json_t *describe(const struct trace_spec *s)
{
	char hep[64] = "";
	json_t *o;

	if (s->hep.ss_family)
		peer_addr_str((const struct sockaddr *)&s->hep, hep,
			      sizeof(hep));
	o = json_pack("{s:s,s:s}", "filter",
		      s->filter == TRACE_CALL_ID ? "call_id" : "aor", "value",
		      s->value);
	if (o && s->file[0])
		json_object_set_new(o, "file", json_string(s->file));
	if (o && hep[0]) {
		json_object_set_new(o, "hep", json_string(hep));
		json_object_set_new(o, "capture_id",
				    json_integer(s->capture_id));
	}
	return o;
}

static void trace_start_m(struct rpc_call *call, json_t *params, void *arg)
{
	static const char *const names[] = { "call_id", "aor",	      "file",
					     "hep",	"capture_id", NULL };
	const char *cid = NULL, *aor = NULL, *file = NULL, *hep = NULL;
	struct trace_spec s;
	char reason[160];
	int64_t capid = 0;
	int err;

	(void)arg;
	if (rpc_params_only(call, params, 0, names) ||
	    rpc_param_str(call, params, 9, "call_id", false, &cid) < 0 ||
	    rpc_param_str(call, params, 9, "aor", false, &aor) < 0 ||
	    rpc_param_str(call, params, 9, "file", false, &file) < 0 ||
	    rpc_param_str(call, params, 9, "hep", false, &hep) < 0 ||
	    rpc_param_int(call, params, 9, "capture_id", false, 0, UINT32_MAX,
			  &capid) < 0)
		return;
	if (trace_spec_make(&s, cid, aor, file, hep, (uint32_t)capid, reason,
			    sizeof(reason))) {
		rpc_error(call, RPC_INVALID_PARAMS, "invalid params: %s",
			  reason);
		return;
	}
	err = trace_start(&s);
	if (err == -EBUSY) {
		rpc_error(call, RPC_BUSY,
			  "a trace runs already: trace.stop it first");
		return;
	}
	if (err) {
		rpc_error(call, RPC_REFUSED, "trace not started: %s%s%s",
			  file ? file : "", file ? ": " : "", err_str(err));
		return;
	}
	log_msg(LOG_NOTICE, "trace: started for %s %s, by management",
		cid ? "Call-ID" : "AOR", s.value);
	rpc_reply(call, describe(&s));
}

static void trace_stop_m(struct rpc_call *call, json_t *params, void *arg)
{
	static const char *const names[] = { NULL };
	struct trace_stats st;

	(void)arg;
	if (rpc_params_only(call, params, 0, names))
		return;
	if (trace_stop(&st) == -ENOENT) {
		rpc_error(call, RPC_NOT_FOUND, "no trace runs");
		return;
	}
	log_msg(LOG_NOTICE,
		"trace: stopped, by management: %llu messages, %llu dropped",
		(unsigned long long)st.messages,
		(unsigned long long)st.dropped);
	rpc_reply(call,
		  json_pack("{s:I,s:I}", "messages", (json_int_t)st.messages,
			    "dropped", (json_int_t)st.dropped));
}

static void trace_status_m(struct rpc_call *call, json_t *params, void *arg)
{
	static const char *const names[] = { NULL };
	struct trace_spec s;
	struct trace_stats st;
	json_t *o;

	(void)arg;
	if (rpc_params_only(call, params, 0, names))
		return;
	if (!trace_status(&s, &st)) {
		rpc_reply(call, json_pack("{s:b}", "active", 0));
		return;
	}
	o = describe(&s);
	if (o) {
		json_object_set_new(o, "active", json_true());
		json_object_set_new(o, "messages",
				    json_integer((json_int_t)st.messages));
		json_object_set_new(o, "dropped",
				    json_integer((json_int_t)st.dropped));
	}
	rpc_reply(call, o);
}

int rpc_trace_add(struct rpc *r, struct mgmt_env *env)
{
	int err = rpc_method_add(r, "trace.start", trace_start_m, env);

	if (!err)
		err = rpc_method_add(r, "trace.stop", trace_stop_m, env);
	if (!err)
		err = rpc_method_add(r, "trace.status", trace_status_m, env);
	return err;
}
