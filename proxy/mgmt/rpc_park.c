/* proxy/mgmt/rpc_park.c - park.list */
#include "proxy/mgmt/rpc_park.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "proxy/mgmt/mgmt.h"
#include "proxy/mgmt/rpc.h"
#include "store/park.h"

static void park_list_m(struct rpc_call *call, json_t *params, void *arg)
{
	static const char *const names[] = { "domain", NULL };
	const char *domain = NULL;
	struct park_rec *recs = NULL;
	json_t *slots;
	size_t room;
	int n;

	(void)arg;
	if (rpc_params_only(call, params, 1, names) ||
	    rpc_param_str(call, params, 0, "domain", false, &domain) < 0)
		return;
	if (domain && (!domain[0] || strlen(domain) > PARK_DOMAIN_MAX)) {
		rpc_error(call, RPC_INVALID_PARAMS,
			  "invalid params: domain is 1..%d characters",
			  PARK_DOMAIN_MAX);
		return;
	}
	/* Room for what is there now and some that come meanwhile; more
	 * than that are counted, not listed. */
	room = park_count() + 64;
	recs = calloc(room, sizeof(*recs));
	slots = json_array();
	if (!recs || !slots) {
		free(recs);
		json_decref(slots);
		rpc_error(call, RPC_INTERNAL_ERROR, "out of memory");
		return;
	}
	n = park_list(domain ? slice_cstr(domain) : slice_make(NULL, 0), recs,
		      room);
	for (int i = 0; i < n && (size_t)i < room; i++) {
		const struct park_rec *p = &recs[i];
		json_t *o = json_pack(
		    "{s:s,s:i,s:s,s:I,s:s}", "domain", p->domain, "slot",
		    (int)p->slot, "parked", p->parked, "since",
		    (json_int_t)p->since_s, "call_id", p->call_id);

		if (!o || json_array_append_new(slots, o)) {
			free(recs);
			json_decref(slots);
			rpc_error(call, RPC_INTERNAL_ERROR, "out of memory");
			return;
		}
	}
	free(recs);
	rpc_reply(call, json_pack("{s:I,s:o}", "count",
				  (json_int_t)json_array_size(slots), "slots",
				  slots));
}

int rpc_park_add(struct rpc *r, struct mgmt_env *env)
{
	return rpc_method_add(r, "park.list", park_list_m, env);
}
