/* proxy/mgmt/rpc_reload.h - the config.reload method */
#pragma once

struct reload;
struct rpc;

/**
 * Add config.reload (no parameters) to @p r: reload_start() on @p rl,
 * answered {"reloaded": true, "file": F, "changed": [top-level keys]}
 * (or "reloaded": false with a "message" when there is no file), or an
 * error: RPC_REFUSED with "KEY: needs a restart ..." or the broken
 * file's "FILE:LINE: reason" (data {"file", "line"} when there is a
 * line), RPC_BUSY (a reload is under way), RPC_STOPPING,
 * RPC_INTERNAL_ERROR (out of memory).
 * Errors: as rpc_method_add(). Thread: control.
 * Ownership: @p rl must outlive @p r.
 */
int rpc_reload_add(struct rpc *r, struct reload *rl);
