/* proxy/mgmt/rpc_ban.h - ban.list and ban.remove methods */
#pragma once

struct mgmt_env;
struct rpc;

/**
 * Add to @p r:
 *  - ban.list {kind?}: the bans in force (store/ban.h), as {bans: [{kind
 *    ("auth", later "rate"), source (address), user ("" for the whole
 *    source), reason, seconds_left, failures}], count}; kind filters;
 *  - ban.remove {source, user?}: lift the bans of a source address (and
 *    forget its failure counts): of (source, user) only when user is
 *    given ("" names the source's own entry), else all of it; answers
 *    {removed}; RPC_INVALID_PARAMS for a source that is not an IPv4 or
 *    IPv6 address, RPC_NOT_FOUND when nothing was there.
 * Errors: as rpc_method_add(). Thread: control.
 */
int rpc_ban_add(struct rpc *r, struct mgmt_env *env);
