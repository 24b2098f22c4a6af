/* proxy/mgmt/rpc_dialog.h - dialog.list, dialog.get and dialog.end methods */
#pragma once

struct mgmt_env;
struct rpc;

/**
 * Add to @p r, reading @p env (which must outlive @p r):
 *  - dialog.list [cursor, limit]: the dialog table (store/dlg.h) a page
 *    at a time, in a stable order (Call-ID, then tags); limit 1..1000,
 *    100 by default; cursor null or what the last page returned.
 *  - dialog.get call_id: every dialog of a Call-ID, in full.
 *  - dialog.end call_id: a BYE to both user agents of each confirmed
 *    dialog of the Call-ID, sent by the shard that owns it
 *    (proxy/hangup.h); answered when every BYE has its final response.
 * Errors: as rpc_method_add(). Thread: control.
 */
int rpc_dialog_add(struct rpc *r, struct mgmt_env *env);
