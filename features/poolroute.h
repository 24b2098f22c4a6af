/* features/poolroute.h - route a request from the proxy to the B2B pool
 * of this process (the features that live on the pool: park, BLF) */
#pragma once

#include "proxy/hook.h"

/**
 * Set @p r->fwd to one target, the pool's address ("sip:IP:PORT",
 * pool_self_addr()), with the Request-URI unchanged and no failover:
 * the pool steers it to a worker from that Request-URI.
 * Returns 0, -ENOENT (no pool runs in this process: @p r untouched,
 * the request is routed as any other) or -ENOMEM.
 * Thread: the shard that owns the request. Ownership: what it sets
 * lives in @p r->a.
 */
int poolroute_set(struct hook_req *r);

/**
 * As poolroute_set(), to the pool at @p uri ("sip:IP:PORT": another
 * node's, from its park record) instead of this process's.
 * Returns 0, -EINVAL (@p uri empty) or -ENOMEM.
 * Thread: the shard that owns the request. Ownership: @p uri is
 * copied into @p r->a.
 */
int poolroute_set_uri(struct hook_req *r, const char *uri);
