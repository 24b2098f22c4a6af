/* proxy/mgmt/rpc_originate.h - originate, originate.status, .list and
 * .cancel methods */
#pragma once

struct mgmt_env;
struct rpc;

/**
 * Add to @p r, reading @p env (which must outlive @p r; env->pool is
 * the B2B pool, NULL when it is off: every method answers -32005):
 *  - originate {a, b, caller_id?, timeout_s?}: starts an originate
 *    (features/originate.h) and answers {"id"} at once; a bad a, b,
 *    caller_id or timeout_s (1..600) is -32602.
 *  - originate.status {id}: its state, legs, failure and timestamps
 *    (asked of its worker); an unknown id is -32002.
 *  - originate.list: {"originates": [...]}, every worker's.
 *  - originate.cancel {id}: CANCEL or BYE what is left, then as status.
 * Errors: as rpc_method_add(). Thread: control.
 */
int rpc_originate_add(struct rpc *r, struct mgmt_env *env);
