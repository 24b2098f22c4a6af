/* proxy/mgmt/rpc_park.c - park.list, park.retrieve and park.park */
#include "proxy/mgmt/rpc_park.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "features/b2b/ua.h"
#include "features/originate.h"
#include "features/park.h"
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
	/* park_count() of Redis is the last second's: once more with room
	 * for all when more came. */
	if (n > 0 && (size_t)n > room) {
		struct park_rec *more =
		    realloc(recs, (size_t)n * sizeof(*recs));

		if (more) {
			recs = more;
			room = (size_t)n;
			n = park_list(domain ? slice_cstr(domain)
					     : slice_make(NULL, 0),
				      recs, room);
		}
	}
	if (n < 0) {
		free(recs);
		json_decref(slots);
		rpc_error(call, RPC_INTERNAL_ERROR, "the slot table: %s",
			  n == -EIO ? "Redis is unreachable" : "bad domain");
		return;
	}
	for (int i = 0; i < n && (size_t)i < room; i++) {
		const struct park_rec *p = &recs[i];
		json_t *o = json_pack(
		    "{s:s,s:i,s:s,s:s,s:I,s:s,s:s,s:s,s:{s:s,s:s,s:s,s:s,s:I}}",
		    "domain", p->domain, "slot", (int)p->slot, "parked",
		    p->parked, "parker", p->parker, "since",
		    (json_int_t)p->since_s, "node", p->node, "pool", p->pool,
		    "call_id", p->call_id, "dialog", "local_tag", p->local_tag,
		    "remote_tag", p->remote_tag, "remote_target",
		    p->remote_target, "route", p->route, "local_cseq",
		    (json_int_t)p->local_cseq);

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

/* A park.retrieve on its way to the lot's worker and back. */
struct job {
	struct rpc_call *call;
	char domain[PARK_DOMAIN_MAX + 1];
	unsigned slot;
	char to[UA_URI_MAX + 1];
};

static void retrieve_done(void *arg, int err)
{
	struct job *j = arg;

	switch (err) {
	case 0:
		rpc_reply(j->call, json_pack("{s:s,s:i,s:s,s:s}", "domain",
					     j->domain, "slot", (int)j->slot,
					     "to", j->to, "state", "calling"));
		break;
	case -ENOENT:
		rpc_error(j->call, RPC_NOT_FOUND, "slot %u of %s is free",
			  j->slot, j->domain);
		break;
	case -EBUSY:
		rpc_error(j->call, RPC_REFUSED,
			  "slot %u of %s is being retrieved", j->slot,
			  j->domain);
		break;
	case -EINVAL:
		rpc_error(j->call, RPC_INVALID_PARAMS,
			  "invalid params: to is not a SIP URI");
		break;
	case -ECANCELED:
		rpc_error(j->call, RPC_STOPPING, "the pool stopped");
		break;
	default:
		rpc_error(j->call, RPC_INTERNAL_ERROR,
			  "the call to retrieve with could not start (%d)",
			  err);
		break;
	}
	free(j);
}

/*
 * A slot another node holds (store.type redis): the call waits in that
 * node's pool, so this pool originates to -> the slot (RFC 3725 flow I,
 * features/originate.h): `to` answers, the slot's INVITE leaves through
 * the proxy, which routes it to the holding node's pool (park_hook()),
 * where it is a retrieval like any phone's. True when it answered the
 * call (started, or an error); false: not another node's slot.
 */
static bool remote_retrieve(struct rpc_call *call, const struct mgmt_env *env,
			    struct job *j)
{
	char pool[PARK_POOL_MAX + 1], slot_uri[PARK_DOMAIN_MAX + 32];
	char id[ORIGINATE_ID_MAX];
	const char *why = "";
	struct originate_opts o;
	int err;

	if (park_route_of(slice_cstr(j->domain), j->slot, pool, sizeof(pool)))
		return false;
	snprintf(slot_uri, sizeof(slot_uri), "sip:%u@%s", j->slot, j->domain);
	memset(&o, 0, sizeof(o));
	o.a = j->to;
	o.b = slot_uri;
	o.caller_id = slot_uri;
	o.conf = env->conf;
	err = originate_start(env->pool, &o, id, &why);
	if (err)
		rpc_error(call,
			  err == -EINVAL    ? RPC_INVALID_PARAMS
			  : err == -ENOBUFS ? RPC_BUSY
					    : RPC_INTERNAL_ERROR,
			  "park.retrieve of another node's slot: %s (%d)",
			  err == -EINVAL ? why : "the pool cannot take it",
			  err);
	else
		rpc_reply(call, json_pack("{s:s,s:i,s:s,s:s,s:s,s:s}", "domain",
					  j->domain, "slot", (int)j->slot, "to",
					  j->to, "state", "calling", "via",
					  pool, "originate", id));
	free(j);
	return true;
}

static void park_retrieve_m(struct rpc_call *call, json_t *params, void *arg)
{
	static const char *const names[] = { "domain", "slot", "to", NULL };
	const struct mgmt_env *env = arg;
	const char *domain = NULL, *to = NULL;
	int64_t slot = 0;
	struct job *j;
	int n, err;

	if (rpc_params_only(call, params, 3, names) ||
	    rpc_param_str(call, params, 0, "domain", true, &domain) < 0 ||
	    rpc_param_int(call, params, 1, "slot", true, 1, 99999, &slot) < 0 ||
	    rpc_param_str(call, params, 2, "to", true, &to) < 0)
		return;
	if (!env->pool) {
		rpc_error(call, RPC_UNAVAILABLE,
			  "the B2B pool is off (b2b.workers: 0): no park");
		return;
	}
	if (!domain[0] || strlen(domain) > PARK_DOMAIN_MAX || !to[0] ||
	    strpbrk(to, " \t\r\n<>\"")) {
		rpc_error(call, RPC_INVALID_PARAMS,
			  "invalid params: domain is 1..%d characters, to a "
			  "SIP URI or a user",
			  PARK_DOMAIN_MAX);
		return;
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		rpc_error(call, RPC_INTERNAL_ERROR, "out of memory");
		return;
	}
	j->call = call;
	j->slot = (unsigned)slot;
	snprintf(j->domain, sizeof(j->domain), "%s", domain);
	/* A bare user is one of the lot's domain. */
	n = strchr(to, ':')
		? snprintf(j->to, sizeof(j->to), "%s", to)
		: snprintf(j->to, sizeof(j->to), "sip:%s@%s", to, domain);
	if (n < 0 || (size_t)n >= sizeof(j->to)) {
		free(j);
		rpc_error(call, RPC_INVALID_PARAMS,
			  "invalid params: to is too long");
		return;
	}
	if (remote_retrieve(call, env, j))
		return;
	err = park_retrieve(env->pool, j->domain, j->slot, j->to, retrieve_done,
			    j);
	if (err) {
		rpc_error(call, err == -ENOBUFS ? RPC_BUSY : RPC_INTERNAL_ERROR,
			  "the pool worker cannot take it (%d)", err);
		free(j);
	}
}

/* park.park's answer, from the lot's worker. */
static void park_done(void *arg, int err, unsigned status, const char *domain,
		      unsigned slot, const char *parked, const char *parker)
{
	struct rpc_call *call = arg;

	switch (err) {
	case 0:
		rpc_reply(call, json_pack("{s:s,s:i,s:s,s:s}", "domain", domain,
					  "slot", (int)slot, "parked", parked,
					  "parker", parker));
		break;
	case -EBUSY:
		rpc_error(call, RPC_REFUSED,
			  "the lot of %s is full, or the slot is taken",
			  domain);
		break;
	case -ENOPROTOOPT:
		rpc_error(call, RPC_INVALID_PARAMS,
			  "invalid params: %s has no park lot", domain);
		break;
	case -ERANGE:
		rpc_error(call, RPC_INVALID_PARAMS,
			  "invalid params: slot is not in the lot of %s",
			  domain);
		break;
	case -ECONNREFUSED:
		rpc_error(call, RPC_REFUSED,
			  "%s refused the INVITE with Replaces (%u): the call "
			  "is as it was",
			  parked, status);
		break;
	case -ETIMEDOUT:
		rpc_error(call, RPC_REFUSED,
			  "%s did not answer the INVITE with Replaces (%u)",
			  parked, status);
		break;
	case -ECANCELED:
		rpc_error(call, RPC_STOPPING, "the pool stopped");
		break;
	default:
		rpc_error(call, RPC_INTERNAL_ERROR,
			  "the party could not be parked (%d, %u)", err,
			  status);
		break;
	}
}

static void park_park_m(struct rpc_call *call, json_t *params, void *arg)
{
	static const char *const names[] = { "call_id", "domain", "slot",
					     "party", NULL };
	const struct mgmt_env *env = arg;
	const char *cid = NULL, *domain = NULL, *party = NULL;
	struct park_dialog_req rq;
	int64_t slot = 0;
	int err;

	if (rpc_params_only(call, params, 4, names) ||
	    rpc_param_str(call, params, 0, "call_id", true, &cid) < 0 ||
	    rpc_param_str(call, params, 1, "domain", false, &domain) < 0 ||
	    rpc_param_int(call, params, 2, "slot", false, 1, 99999, &slot) <
		0 ||
	    rpc_param_str(call, params, 3, "party", false, &party) < 0)
		return;
	if (!env->pool) {
		rpc_error(call, RPC_UNAVAILABLE,
			  "the B2B pool is off (b2b.workers: 0): no park");
		return;
	}
	memset(&rq, 0, sizeof(rq));
	if (!party || !strcmp(party, "callee"))
		rq.party = PARK_PARTY_CALLEE;
	else if (!strcmp(party, "caller"))
		rq.party = PARK_PARTY_CALLER;
	else {
		rpc_error(call, RPC_INVALID_PARAMS,
			  "invalid params: party is \"caller\" or "
			  "\"callee\"");
		return;
	}
	if (!cid[0] || strlen(cid) > PARK_CALL_ID_MAX ||
	    (domain && (!domain[0] || strlen(domain) > PARK_DOMAIN_MAX))) {
		rpc_error(call, RPC_INVALID_PARAMS,
			  "invalid params: call_id is 1..%d characters, "
			  "domain 1..%d",
			  PARK_CALL_ID_MAX, PARK_DOMAIN_MAX);
		return;
	}
	rq.call_id = slice_cstr(cid);
	rq.domain = domain ? slice_cstr(domain) : slice_make(NULL, 0);
	rq.slot = (unsigned)slot;
	err = park_dialog(&rq, park_done, call);
	switch (err) {
	case 0:
		return; /* park_done() answers */
	case -ENOENT:
		rpc_error(call, RPC_NOT_FOUND, "no such dialog");
		break;
	case -EALREADY:
		rpc_error(call, RPC_REFUSED,
			  "the dialog is early: park a confirmed one");
		break;
	case -EINVAL:
		rpc_error(call, RPC_INVALID_PARAMS,
			  "invalid params: the dialog's party cannot be "
			  "parked (no Contact, or no lot domain)");
		break;
	case -ECANCELED:
		rpc_error(call, RPC_UNAVAILABLE, "the B2B pool is not running");
		break;
	case -ENOBUFS:
		rpc_error(call, RPC_BUSY, "the pool worker's queue is full");
		break;
	default:
		rpc_error(call, RPC_INTERNAL_ERROR, "park failed (%d)", err);
		break;
	}
}

int rpc_park_add(struct rpc *r, struct mgmt_env *env)
{
	int err = rpc_method_add(r, "park.list", park_list_m, env);

	if (!err)
		err = rpc_method_add(r, "park.retrieve", park_retrieve_m, env);
	if (!err)
		err = rpc_method_add(r, "park.park", park_park_m, env);
	return err;
}
