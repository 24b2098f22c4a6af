/* proxy/mgmt/rpc_park.h - the park.list, park.retrieve and park.park
 * methods */
#pragma once

struct mgmt_env;
struct rpc;

/**
 * Add to @p r:
 *  - park.list [domain]: the occupied slots (store/park.h), every lot
 *    or @p domain's (any case), sorted by domain then slot, as
 *    {count, slots: [{domain, slot, parked (the parked party's From),
 *    since (Unix seconds), call_id, dialog: {local_tag, remote_tag,
 *    remote_target, route, local_cseq}}]} (dialog: the parked leg's,
 *    what a takeover by another node needs); a domain that is not a string
 *    of 1..254 characters is RPC_INVALID_PARAMS.
 *  - park.retrieve {domain, slot, to}: the pool calls @p to (a SIP URI,
 *    or a user of @p domain) and bridges it with the call parked in
 *    the slot (features/park.h park_retrieve()); answers
 *    {domain, slot, to, state: "calling"} once the call started.
 *    RPC_NOT_FOUND: the slot is free; RPC_REFUSED: it is being
 *    retrieved; RPC_INVALID_PARAMS: a bad domain, slot (1..99999) or
 *    to; RPC_UNAVAILABLE: no pool (b2b.workers: 0).
 *  - park.park {call_id, domain?, slot?, party?}: park one party
 *    ("callee", the default, or "caller") of a confirmed dialog the
 *    proxy carries (features/park.h park_dialog()); answers {domain,
 *    slot, parked, parker} once the party took the INVITE with
 *    Replaces. RPC_NOT_FOUND: no such dialog; RPC_REFUSED: early
 *    dialog, lot full, slot taken, the party refused or did not
 *    answer; RPC_INVALID_PARAMS: bad params, a domain without lot, a
 *    slot not in it; RPC_UNAVAILABLE: no pool.
 * Errors: as rpc_method_add(). Thread: control.
 */
int rpc_park_add(struct rpc *r, struct mgmt_env *env);
