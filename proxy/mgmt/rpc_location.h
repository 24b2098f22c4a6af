/* proxy/mgmt/rpc_location.h - location.lookup, location.dump and
 * location.delete methods */
#pragma once

struct mgmt_env;
struct rpc;

/**
 * Add to @p r:
 *  - location.lookup aor: {"aor", "contacts": [...]} with each live
 *    binding's contact, expires (seconds left), expires_at, q, source
 *    ("udp:IP:PORT"), user_agent, call_id, cseq and, when set, path,
 *    instance, reg_id, outbound; RPC_NOT_FOUND when the AOR has none.
 *  - location.dump [domain, cursor, limit]: one page (limit 1..1000,
 *    default 100) of {"bindings": [{"aor", "contacts"}...], "cursor":
 *    the opaque text for the next page, or null at the end}
 *    (store/loc.h loc_get_page(): each AOR that stays in the table
 *    appears once over a whole walk).
 *  - location.delete aor [contact]: removes every binding of the AOR,
 *    or the one whose URI is @c contact, on the shard hash(AOR) names,
 *    by compare-and-swap like the registrar (store/loc.h
 *    loc_publish_cas(); the store backend follows), answered from there:
 * {"aor", "removed", "left"}; RPC_NOT_FOUND for an AOR or contact without a
 * live binding. An AOR is "user@domain" or a sip:/sips: URI; bad ones, or a bad
 * cursor: RPC_INVALID_PARAMS. They read @p env (which must outlive
 * @p r). Errors: as rpc_method_add(). Thread: control.
 */
int rpc_location_add(struct rpc *r, struct mgmt_env *env);
