/* features/blfroute.h - the proxy's side of BLF for park slots: a
 * SUBSCRIBE to a slot or lot of a served domain goes to the B2B pool */
#pragma once

#include "proxy/hook.h"

/**
 * The HOOK_FEATURES function (proxy/main.c): an out-of-dialog SUBSCRIBE
 * whose Request-URI is ours (route_uri_is_ours()), with no Route left
 * to another proxy (route_foreign()), and names a park slot or lot
 * (blf_resolve(), features/b2b/blf.h) is routed to the pool's address
 * (poolroute_set()) with its Request-URI unchanged, where the pool
 * steers it to the worker that owns the lot (blf_steer()). Anything
 * else, or no pool in this process: HOOK_NEXT and the request is
 * routed as before. Returns HOOK_NEXT, or -ENOMEM. Thread: the shard
 * that owns the request. Must not block.
 */
int blfroute_hook(struct hook_req *r);
