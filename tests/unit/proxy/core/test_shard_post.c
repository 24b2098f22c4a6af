/* tests/unit/proxy/core/test_shard_post.c - shard_post(): functions run on
 * a shard's thread
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "proxy/base/log.h"
#include "proxy/core/conf.h"
#include "proxy/core/shard.h"
#include "tests/common/ms.h"
#include "tests/unit/rtconf.h"
#include "tests/unit/shardfix.h"

#define NSHARDS 2

static struct conf cf;
static struct shards *set;

/* A role that does nothing: the tests only post functions. */
static const struct shard_role idle_role = {
	.name = "idle",
	.new_state = shardfix_new,
	.free_state = shardfix_free,
	.handle = shardfix_handle,
};

static void init(void)
{
	rtconf_init(&cf, NSHARDS);
	cf.tcp.max_connections = 16;
	cf.max_headers = 64;
	cf.overload.max_inbox = 1000;
	set = NULL;
	cr_assert_eq(shards_start(&cf, &idle_role, &set), 0);
}

static void fini(void)
{
	shards_stop(set);
	set = NULL;
}

/* One call: where it ran. */
struct call {
	atomic_uint *done;
	unsigned want_id; /* the shard it was posted to */
	int id;		  /* shard_id() it ran on; -1 with sh NULL */
	pthread_t thread;
	unsigned then_to; /* post a second call to this shard ... */
	struct call *then;
};

static void record(struct shard *sh, void *arg)
{
	struct call *c = arg;

	c->id = sh ? (int)shard_id(sh) : -1;
	c->thread = pthread_self();
	if (sh && c->then)
		cr_assert_eq(shard_post(set, c->then_to, record, c->then), 0);
	atomic_fetch_add(c->done, 1);
}

Test(shard_post, runs_on_the_shard_it_names)
{
	atomic_uint done = 0;
	struct call c[NSHARDS];

	memset(c, 0, sizeof(c));
	for (unsigned i = 0; i < NSHARDS; i++) {
		c[i].done = &done;
		c[i].want_id = i;
		cr_assert_eq(shard_post(set, i, record, &c[i]), 0);
	}
	cr_assert(shardfix_wait_for(&done, NSHARDS));
	for (unsigned i = 0; i < NSHARDS; i++) {
		cr_expect_eq(c[i].id, (int)i);
		cr_expect_not(pthread_equal(c[i].thread, pthread_self()));
	}
	cr_expect_not(pthread_equal(c[0].thread, c[1].thread));
}

Test(shard_post, one_shard_posts_to_another)
{
	atomic_uint done = 0;
	struct call first, second, again;

	memset(&first, 0, sizeof(first));
	memset(&second, 0, sizeof(second));
	memset(&again, 0, sizeof(again));
	first.done = second.done = again.done = &done;
	first.then_to = 1;
	first.then = &second;
	/* The same thread as second's, to compare with. */
	cr_assert_eq(shard_post(set, 1, record, &again), 0);
	cr_assert_eq(shard_post(set, 0, record, &first), 0);
	cr_assert(shardfix_wait_for(&done, 3));
	cr_expect_eq(first.id, 0);
	cr_expect_eq(second.id, 1);
	cr_expect(pthread_equal(second.thread, again.thread));
	cr_expect_not(pthread_equal(first.thread, second.thread));
}

Test(shard_post, refuses_bad_arguments)
{
	int x;

	cr_expect_eq(shard_post(NULL, 0, record, &x), -EINVAL);
	cr_expect_eq(shard_post(set, NSHARDS, record, &x), -EINVAL);
	cr_expect_eq(shard_post(set, 0, NULL, &x), -EINVAL);
}

/* Holds shard 0 until released, so its inbox fills. */
static struct shardfix_hold held;

Test(shard_post, full_inbox_is_enobufs)
{
	atomic_uint done = 0;
	unsigned posted;
	int err = 0;

	posted =
	    shardfix_fill(set, 0, &held, cf.overload.max_inbox, &done, &err);
	cr_expect_eq(err, -ENOBUFS);
	cr_expect_eq(posted, cf.overload.max_inbox);
	atomic_store(&held.release, 1);
	cr_assert(shardfix_wait_for(&done, posted));
	/* Room again once drained. */
	cr_expect_eq(shard_post(set, 0, shardfix_count, &done), 0);
	cr_assert(shardfix_wait_for(&done, posted + 1));
}

/* A posted item that owns memory: freed by its function either way. */
struct owned {
	atomic_uint *ran, *dropped;
};

static void owned_fn(struct shard *sh, void *arg)
{
	struct owned *o = arg;

	atomic_fetch_add(sh ? o->ran : o->dropped, 1);
	free(o);
}

static atomic_uint late_ran, late_dropped;

/* Stop hook: posts to its own shard, whose inbox is no longer served. */
static void post_late(unsigned id, struct uv_loop_s *loop, void *arg)
{
	(void)loop;
	(void)arg;
	for (int i = 0; i < 5; i++) {
		struct owned *o = malloc(sizeof(*o));

		cr_assert_not_null(o);
		o->ran = &late_ran;
		o->dropped = &late_dropped;
		cr_assert_eq(shard_post(set, id, owned_fn, o), 0);
	}
}

Test(shard_post, stop_hands_pending_items_back)
{
	atomic_store(&late_ran, 0);
	atomic_store(&late_dropped, 0);
	shards_stop(set);
	set = NULL;
	cr_assert_eq(shards_add_hook(NULL, post_late, NULL), 0);
	cr_assert_eq(shards_start(&cf, &idle_role, &set), 0);
	shards_stop(set);
	set = NULL;
	shards_clear_hooks();
	cr_expect_eq(atomic_load(&late_ran), 0);
	cr_expect_eq(atomic_load(&late_dropped), 5 * NSHARDS);
}

TestSuite(shard_post, .init = init, .fini = fini, .timeout = 60);

/* Per-shard hooks: each shard writes its own trail, read after the join. */
static char hook_trail[NSHARDS][16];
static unsigned hook_len[NSHARDS];

static void hook_mark(unsigned id, char c)
{
	cr_assert_lt(id, NSHARDS);
	if (hook_len[id] + 1 < sizeof(hook_trail[id]))
		hook_trail[id][hook_len[id]++] = c;
}

static void start_hook(unsigned id, struct uv_loop_s *loop, void *arg)
{
	cr_assert_not_null(loop);
	hook_mark(id, *(const char *)arg);
}

static void stop_hook(unsigned id, struct uv_loop_s *loop, void *arg)
{
	cr_assert_not_null(loop);
	hook_mark(id, (char)(*(const char *)arg - 'a' + 'A'));
}

static void init_hooks(void)
{
	memset(hook_trail, 0, sizeof(hook_trail));
	memset(hook_len, 0, sizeof(hook_len));
	shards_clear_hooks();
	init();
	shards_stop(set); /* the test starts its own, with hooks */
	set = NULL;
}

static void fini_hooks(void)
{
	fini();
	shards_clear_hooks();
}

TestSuite(shard_hooks, .init = init_hooks, .fini = fini_hooks, .timeout = 60);

Test(shard_hooks, start_in_order_added_stop_in_reverse)
{
	static const char a = 'a', b = 'b', c = 'c';

	cr_assert_eq(shards_add_hook(start_hook, stop_hook, (void *)&a), 0);
	cr_assert_eq(shards_add_hook(start_hook, NULL, (void *)&b), 0);
	cr_assert_eq(shards_add_hook(start_hook, stop_hook, (void *)&c), 0);
	cr_assert_eq(shards_start(&cf, &idle_role, &set), 0);
	shards_stop(set);
	set = NULL;
	for (unsigned i = 0; i < NSHARDS; i++)
		cr_expect_str_eq(hook_trail[i], "abcCA", "shard %u", i);
}

Test(shard_hooks, the_list_is_bounded_and_clears)
{
	static const char a = 'a';

	cr_assert_eq(shards_add_hook(NULL, NULL, NULL), -EINVAL);
	for (unsigned i = 0; i < SHARDS_HOOK_MAX; i++)
		cr_assert_eq(shards_add_hook(start_hook, NULL, (void *)&a), 0);
	cr_assert_eq(shards_add_hook(start_hook, NULL, (void *)&a), -ENOSPC);
	shards_clear_hooks();
	cr_assert_eq(shards_start(&cf, &idle_role, &set), 0);
	shards_stop(set);
	set = NULL;
	for (unsigned i = 0; i < NSHARDS; i++)
		cr_expect_eq(hook_len[i], 0);
}
