/* proxy/mgmt/rpc_reload.c - the config.reload method */
#include "proxy/mgmt/rpc_reload.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "proxy/base/err.h"
#include "proxy/mgmt/reload.h"
#include "proxy/mgmt/rpc.h"

static const char *const no_names[] = { NULL };

/* "FILE:LINE: reason": the line, or 0 when the message has none. */
static long msg_line(const char *msg, const char *file)
{
	size_t n = file ? strlen(file) : 0;
	char *end;
	long line;

	if (!file || strncmp(msg, file, n) != 0 || msg[n] != ':')
		return 0;
	line = strtol(msg + n + 1, &end, 10);
	return end > msg + n + 1 && *end == ':' ? line : 0;
}

static void answer(void *arg, const struct reload_result *res)
{
	struct rpc_call *call = arg;
	json_t *keys, *data = NULL;
	long line;

	switch (res->err) {
	case 0:
		break;
	case -EBUSY:
		rpc_error(call, RPC_BUSY, "%s", res->msg);
		return;
	case -ESHUTDOWN:
		rpc_error(call, RPC_STOPPING, "%s", res->msg);
		return;
	case -EPERM:
	case ERR_CONFIG:
		line = msg_line(res->msg, res->file);
		if (line > 0)
			data = json_pack("{s:s,s:I}", "file", res->file, "line",
					 (json_int_t)line);
		rpc_error_data(call, RPC_REFUSED, res->msg, data);
		return;
	default:
		rpc_error(call, RPC_INTERNAL_ERROR, "%s", res->msg);
		return;
	}
	if (res->nothing) {
		rpc_reply(call,
			  json_pack("{s:b,s:n,s:[],s:s}", "reloaded", 0, "file",
				    "changed", "message", res->msg));
		return;
	}
	keys = json_array();
	for (unsigned i = 0; keys && i < res->nchanged; i++)
		json_array_append_new(keys, json_string(res->changed[i]));
	rpc_reply(call,
		  json_pack("{s:b,s:s,s:o}", "reloaded", 1, "file", res->file,
			    "changed", keys ? keys : json_array()));
}

static void config_reload(struct rpc_call *call, json_t *params, void *arg)
{
	if (rpc_params_only(call, params, 0, no_names))
		return;
	reload_start(arg, answer, call);
}

int rpc_reload_add(struct rpc *r, struct reload *rl)
{
	return rpc_method_add(r, "config.reload", config_reload, rl);
}
