/* tests/unit/shardfix.c - a role that does nothing, and waiting for a
 * counter, for the shard runtime's suites */
#include "tests/unit/shardfix.h"

#include <criterion/criterion.h>

#include "proxy/core/shard.h"
#include "tests/common/ms.h"

int shardfix_new(struct shard *sh, uint64_t now_ms, void **statep)
{
	(void)sh;
	(void)now_ms;
	*statep = NULL;
	return 0;
}

void shardfix_free(void *state)
{
	(void)state;
}

void shardfix_handle(struct shard *sh, const struct peer *from, const char *buf,
		     size_t len)
{
	(void)sh;
	(void)from;
	(void)buf;
	(void)len;
}

bool shardfix_wait_for(atomic_uint *p, unsigned want)
{
	for (int i = 0; i < SHARDFIX_WAIT_MS; i++) {
		if (atomic_load(p) >= want)
			return true;
		ms_sleep(1); /* polling a counter another thread sets */
	}
	return atomic_load(p) >= want;
}

void shardfix_hold(struct shard *sh, void *arg)
{
	struct shardfix_hold *h = arg;

	if (!sh)
		return;
	atomic_store(&h->entered, 1);
	while (!atomic_load(&h->release))
		ms_sleep(1); /* the test thread fills the inbox meanwhile */
}

void shardfix_count(struct shard *sh, void *arg)
{
	(void)sh;
	atomic_fetch_add((atomic_uint *)arg, 1);
}

unsigned shardfix_fill(struct shards *set, unsigned id, struct shardfix_hold *h,
		       unsigned max_inbox, atomic_uint *counter, int *errp)
{
	unsigned posted = 0;
	int err = 0;

	atomic_store(&h->entered, 0);
	atomic_store(&h->release, 0);
	cr_assert_eq(shard_post(set, id, shardfix_hold, h), 0);
	cr_assert(shardfix_wait_for(&h->entered, 1));
	while (posted <= max_inbox &&
	       (err = shard_post(set, id, shardfix_count, counter)) == 0)
		posted++;
	*errp = err;
	return posted;
}
