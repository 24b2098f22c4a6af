/* proxy/mgmt/rpc_core.h - core.*, stats.get and log.level methods */
#pragma once

struct mgmt_env;
struct rpc;

/**
 * Add core.version, core.uptime, core.workers, stats.get [prefix] and
 * log.level [level] to @p r; they read @p env (which must outlive @p r).
 * Errors: as rpc_method_add(). Thread: control.
 */
int rpc_core_add(struct rpc *r, struct mgmt_env *env);
