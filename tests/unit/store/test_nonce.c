/* tests/unit/store/test_nonce.c - nonce-count table: replays, bound, sweep,
 * racing threads */
#include <criterion/criterion.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include "store/nonce.h"
#include "store/rcu.h"

#define NOW 1700000000

static void setup(void)
{
	urcu_memb_register_thread();
	cr_assert_eq(nonce_init(64), 0);
}

static void teardown(void)
{
	nonce_fini();
	urcu_memb_unregister_thread();
}

TestSuite(nonce, .init = setup, .fini = teardown, .timeout = 30);

Test(nonce, each_count_is_accepted_once)
{
	cr_assert_eq(nonce_use(7, NOW, 1, NOW, 300), 0);
	cr_assert_eq(nonce_use(7, NOW, 1, NOW, 300), -EALREADY);
	cr_assert_eq(nonce_use(7, NOW, 3, NOW, 300), 0);
	cr_assert_eq(nonce_use(7, NOW, 2, NOW, 300), -EALREADY);
	cr_assert_eq(nonce_use(8, NOW, 1, NOW, 300), 0);
	cr_assert_eq(nonce_count(), 2);
	cr_assert_eq(nonce_init(4), -EALREADY);
}

Test(nonce, a_full_table_refuses_until_entries_expire)
{
	for (uint64_t i = 0; i < 64; i++)
		cr_assert_eq(nonce_use(100 + i, NOW, 1, NOW, 300), 0);
	cr_assert_eq(nonce_use(1, NOW, 1, NOW, 300), -ENOSPC);
	/* Known nonces still count while full. */
	cr_assert_eq(nonce_use(100, NOW, 2, NOW, 300), 0);
	/* After their lifetime a sweep makes room. */
	cr_assert_eq(nonce_use(1, NOW + 301, 1, NOW + 301, 300), 0);
	cr_assert_eq(nonce_count(), 1);
}

struct race {
	atomic_int wins, replays;
};

static void *racer(void *arg)
{
	struct race *r = arg;

	urcu_memb_register_thread();
	for (uint64_t salt = 1; salt <= 40; salt++) {
		int err = nonce_use(salt, NOW, 1, NOW, 300);

		if (err == 0)
			atomic_fetch_add(&r->wins, 1);
		else if (err == -EALREADY)
			atomic_fetch_add(&r->replays, 1);
	}
	urcu_memb_unregister_thread();
	return NULL;
}

Test(nonce, racing_threads_accept_each_count_once)
{
	struct race r = { 0, 0 };
	pthread_t t[4];

	for (int i = 0; i < 4; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, racer, &r), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(atomic_load(&r.wins), 40);
	cr_assert_eq(atomic_load(&r.replays), 120);
}
