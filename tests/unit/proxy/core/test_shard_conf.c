/* tests/unit/proxy/core/test_shard_conf.c - shards_set_conf(): every shard
 * switches to a new config between two messages (a reload)
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "proxy/core/conf.h"
#include "proxy/core/shard.h"
#include "tests/common/ms.h"
#include "tests/unit/rtconf.h"
#include "tests/unit/shardfix.h"

#define NSHARDS 2

static struct conf cf, cf2;
static struct shards *set;
/* What the role saw: conf_changed calls, and with which config. */
static atomic_uint changed, changed_to_cf2;

static void role_conf(struct shard *sh, const struct conf *c)
{
	/* Called after the shard's own pointer moved. */
	if (c == &cf2 && shard_conf(sh) == &cf2)
		atomic_fetch_add(&changed_to_cf2, 1);
	atomic_fetch_add(&changed, 1);
}

static const struct shard_role conf_role = {
	.name = "conf",
	.new_state = shardfix_new,
	.free_state = shardfix_free,
	.handle = shardfix_handle,
	.conf_changed = role_conf,
};

static void init(void)
{
	rtconf_init(&cf, NSHARDS);
	cf.tcp.max_connections = 16;
	cf.max_headers = 64;
	cf.overload.max_inbox = 8;
	/* A second config: only its address matters to the shards here. */
	cf2 = cf;
	atomic_store(&changed, 0);
	atomic_store(&changed_to_cf2, 0);
	set = NULL;
	cr_assert_eq(shards_start(&cf, &conf_role, &set), 0);
}

static void fini(void)
{
	shards_stop(set);
	set = NULL;
}

TestSuite(shard_conf, .init = init, .fini = fini, .timeout = 30);

struct done {
	atomic_uint calls;
	atomic_int err;
};

static void done_cb(void *arg, int err)
{
	struct done *d = arg;

	atomic_store(&d->err, err);
	atomic_fetch_add(&d->calls, 1);
}

/* Posted after the switch: is the shard on cf2? */
static void check_cf2(struct shard *sh, void *arg)
{
	if (sh && shard_conf(sh) == &cf2)
		atomic_fetch_add((atomic_uint *)arg, 1);
}

Test(shard_conf, every_shard_switches_and_done_comes_once)
{
	struct done d = { 0 };
	atomic_uint on_cf2 = 0;

	cr_assert_eq(shards_set_conf(set, &cf2, done_cb, &d), 0);
	cr_assert(shardfix_wait_for(&d.calls, 1));
	cr_expect_eq(atomic_load(&d.err), 0);
	cr_expect_eq(atomic_load(&changed), NSHARDS);
	cr_expect_eq(atomic_load(&changed_to_cf2), NSHARDS);
	for (unsigned i = 0; i < NSHARDS; i++)
		cr_assert_eq(shard_post(set, i, check_cf2, &on_cf2), 0);
	cr_assert(shardfix_wait_for(&on_cf2, NSHARDS));
	/* Exactly once: nothing more comes. */
	ms_sleep(50); /* room for a wrong second call to show */
	cr_expect_eq(atomic_load(&d.calls), 1);
}

/* Holds shard 0 until released, so its inbox fills. */
static struct shardfix_hold held;

Test(shard_conf, a_full_inbox_still_takes_the_switch)
{
	struct done d = { 0 };
	atomic_uint ran = 0;
	unsigned posted;
	int err;

	posted =
	    shardfix_fill(set, 0, &held, cf.overload.max_inbox, &ran, &err);
	cr_assert_eq(shard_post(set, 0, shardfix_count, &ran), -ENOBUFS);
	cr_assert_eq(shards_set_conf(set, &cf2, done_cb, &d), 0);
	atomic_store(&held.release, 1);
	cr_assert(shardfix_wait_for(&d.calls, 1));
	cr_expect_eq(atomic_load(&d.err), 0);
	cr_assert(shardfix_wait_for(&ran, posted));
	cr_expect_eq(atomic_load(&changed_to_cf2), NSHARDS);
}

Test(shard_conf, refuses_bad_arguments)
{
	struct done d = { 0 };

	cr_expect_eq(shards_set_conf(NULL, &cf2, done_cb, &d), -EINVAL);
	cr_expect_eq(shards_set_conf(set, NULL, done_cb, &d), -EINVAL);
	cr_expect_eq(shards_set_conf(set, &cf2, NULL, &d), -EINVAL);
	cr_expect_eq(atomic_load(&d.calls), 0);
}
