/* proxy/mgmt/rpc_park.h - the park.list method */
#pragma once

struct mgmt_env;
struct rpc;

/**
 * Add to @p r:
 *  - park.list [domain]: the occupied slots (store/park.h), every lot
 *    or @p domain's (any case), sorted by domain then slot, as
 *    {count, slots: [{domain, slot, parked (the parked party's From),
 *    since (Unix seconds), call_id}]}; a domain that is not a string
 *    of 1..254 characters is RPC_INVALID_PARAMS.
 * Errors: as rpc_method_add(). Thread: control.
 */
int rpc_park_add(struct rpc *r, struct mgmt_env *env);
