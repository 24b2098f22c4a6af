/* tests/unit/shardfix.h - what the suites that test the shard runtime
 * itself share: a role that does nothing, and waiting for a counter */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** How long shardfix waits for an event that must come: a safety net, not
 * a measurement. */
#define SHARDFIX_WAIT_MS 10000

struct peer;
struct shard;
struct shards;

/**
 * Idle role callbacks for a struct shard_role (the suite names it and
 * may add .conf_changed): shardfix_new() makes no state (*statep NULL,
 * returns 0), shardfix_free() and shardfix_handle() do nothing.
 * Thread: as the shard runtime calls them.
 */
int shardfix_new(struct shard *sh, uint64_t now_ms, void **statep);
void shardfix_free(void *state);
void shardfix_handle(struct shard *sh, const struct peer *from, const char *buf,
		     size_t len);

/**
 * Wait until *@p p reaches @p want, polling every millisecond, for at
 * most about SHARDFIX_WAIT_MS. Returns true when it did.
 * Thread: the test's; another thread sets *p.
 */
bool shardfix_wait_for(atomic_uint *p, unsigned want);

/** What shardfix_hold() and the test share. Static storage: a shard may
 * still read it after a failed test returned. */
struct shardfix_hold {
	atomic_uint entered; /**< set by the shard once it holds */
	atomic_uint release; /**< set by the test to let it go */
};

/**
 * A shard_post() function: holds its shard (@p arg: a struct
 * shardfix_hold) until ->release is set, so that its inbox fills.
 * Does nothing when the item is handed back (@p sh NULL).
 */
void shardfix_hold(struct shard *sh, void *arg);

/** A shard_post() function: adds 1 to the atomic_uint @p arg. */
void shardfix_count(struct shard *sh, void *arg);

/**
 * Hold shard @p id of @p set with @p h (cleared first), then post
 * shardfix_count(@p counter) to it until shard_post() fails or more
 * than @p max_inbox went in. Returns how many went in, the last
 * shard_post() result in *@p errp. The shard stays held: set
 * h->release. Errors: a hold that is not posted or does not start
 * within SHARDFIX_WAIT_MS fails the test (cr_assert).
 */
unsigned shardfix_fill(struct shards *set, unsigned id, struct shardfix_hold *h,
		       unsigned max_inbox, atomic_uint *counter, int *errp);
