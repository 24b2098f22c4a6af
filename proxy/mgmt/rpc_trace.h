/* proxy/mgmt/rpc_trace.h - trace.start, trace.stop and trace.status methods */
#pragma once

struct mgmt_env;
struct rpc;

/**
 * Add to @p r:
 *  - trace.start {call_id | aor, file and/or hep ("HOST:PORT"),
 *    capture_id}: trace the messages of one Call-ID or AOR
 *    (proxy/core/trace.h); RPC_BUSY when a trace runs, RPC_INVALID_PARAMS
 *    for bad parameters, RPC_REFUSED when the file or socket cannot be
 *    opened;
 *  - trace.stop: stop it, answer {messages, dropped}; RPC_NOT_FOUND when
 *    none runs;
 *  - trace.status: {active, ...} of the running trace.
 * Errors: as rpc_method_add(). Thread: control.
 */
int rpc_trace_add(struct rpc *r, struct mgmt_env *env);
