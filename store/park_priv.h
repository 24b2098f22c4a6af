/* store/park_priv.h - park slot table internals: the Redis backend */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "proxy/base/slice.h"
#include "store/park.h"

/*
 * Only store/park.c and store/park_redis.c include this. park.c checks
 * arguments, fills node and pool, and tells the watcher of this node's
 * own changes; park_redis.c talks to Redis. Threads and errors as the
 * park_* function of the same name (store/park.h).
 */

struct redis;

/** The running Redis backend, or NULL (memory). */
struct park__redis;
extern struct park__redis *park__rd;

int park__redis_start(struct redis *r, struct park__redis **pp);
void park__redis_stop(struct park__redis *p);

/** Claim: r->holder and r->since_s are set by the caller; r->slot out. */
int park__redis_claim(struct park__redis *p, struct park_rec *r, unsigned min,
		      unsigned max, unsigned want);
/** Release; the record as it was into @p was. */
int park__redis_release(struct park__redis *p, struct slice domain,
			unsigned slot, uint64_t holder, struct park_rec *was);
int park__redis_update(struct park__redis *p, const struct park_rec *r);
int park__redis_get(struct park__redis *p, struct slice domain, unsigned slot,
		    struct park_rec *out);
int park__redis_list(struct park__redis *p, struct slice domain,
		     struct park_rec *out, size_t max);
size_t park__redis_count(struct park__redis *p);

/** park_route_of() for the Redis backend. */
int park__redis_route_of(struct park__redis *p, struct slice domain,
			 unsigned slot, char *pool, size_t size);

/** Make @p r this node's: node, pool, proxy, and a new holder token.
 * Thread: any. */
void park__stamp(struct park_rec *r);

/** The taker (park_set_takeover()), or NULL; its argument in *argp.
 * Thread: any after it was set. */
park_takeover_fn *park__taker(void **argp);

/** The loser (park_set_takeover()), or NULL; its argument in *argp.
 * Thread: any. */
park_lost_fn *park__loser(void **argp);

/** Tell the watcher (park.c's). Thread: any. */
void park__tell(const struct park_rec *r, enum park_change what);

/**
 * Record @p r as one string (without domain and slot, which are the
 * key and field): fields percent-escaped, LF-separated. Returns the
 * length, or -ENOSPC. Thread: any.
 */
int park__rec_print(const struct park_rec *r, char *buf, size_t size);

/** Parse what park__rec_print() wrote (@p len bytes) into @p r (domain
 * and slot untouched). Returns 0 or -EBADMSG. Thread: any. */
int park__rec_parse(const char *p, size_t len, struct park_rec *r);
