/* proxy/dns.h - RFC 3263 next hops: a c-ares resolver on one shard's
 * loop, with a cache that honours TTLs */
#pragma once

#include "proxy/base/slice.h"
#include "proxy/sip/peer.h"

struct dns;
struct dns_conf;
struct uv_loop_s;

/** A lookup a request waited for is over (0), or the resolver is going
 * away (-ECANCELED): look again with dns_resolve(). */
typedef void dns_done_fn(void *arg, int err);

/**
 * The counters of @p nshards resolvers in /metrics and stats.get
 * (`dns.*`, label shard). Returns 0 or -ENOMEM. Thread: control, before
 * the shards start.
 */
int dns_init(unsigned nshards);

/** Remove the counters. Thread: control, after the shards stopped. */
void dns_fini(void);

/**
 * A resolver on @p loop with the servers, timeout, attempts and cache
 * size of @p dc (copied), counting into instance @p inst of dns_init()'s
 * (none when there is no such instance). Errors: -ENOMEM, -EIO (c-ares
 * refused the servers). Thread: the loop's. Ownership: dns_free().
 */
int dns_new(struct uv_loop_s *loop, const struct dns_conf *dc, unsigned inst,
	    struct dns **dp);

/**
 * Stop every lookup; the callbacks of dns_wait() run with -ECANCELED
 * before this returns; handles close on the still-running loop. NULL is
 * allowed. Thread: the loop's.
 */
void dns_free(struct dns *d);

/**
 * The destinations of sip/sips URI @p uri, whose host is a name, in the
 * order to try (RFC 3263 §4: a port or transport in the URI: A/AAAA,
 * SRV for a transport without port; else NAPTR (SIP+D2U, SIP+D2T,
 * SIPS+D2T) then SRV, else SRV of each transport, else A/AAAA on 5060 or
 * 5061; SRV priority and weight per RFC 2782), from the cache only.
 * Returns how many it wrote to @p out (at most @p max, at least 1);
 * -EINPROGRESS when an answer is missing: the lookups are started and
 * dns_wait() waits for them; -ENOENT: the name or its records do not
 * exist; -EHOSTUNREACH: the DNS failed (timeout, SERVFAIL, refused);
 * -EPROTONOSUPPORT: a transport we do not speak; -EBADMSG: not a sip
 * URI; -ENOMEM. Thread: the loop's.
 */
int dns_resolve(struct dns *d, struct slice uri, struct peer *out,
		unsigned max);

/**
 * Call @p cb (with @p arg) on the loop once every lookup dns_resolve()
 * started or found running since the last dns_wait() / dns_forget() has
 * answered. Returns 0 (cb will run exactly once), -EALREADY when none is
 * running (look again now), -EAGAIN (10000 requests wait already),
 * -ENOMEM. Thread: the loop's.
 */
int dns_wait(struct dns *d, dns_done_fn *cb, void *arg);

/** Forget the lookups dns_resolve() noted for dns_wait(). */
void dns_forget(struct dns *d);
