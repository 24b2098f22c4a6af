/* tests/unit/proxy/core/test_post.c - the mailbox: functions posted from any
 * thread run on one uv loop
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>
#include <uv.h>

#include "proxy/core/post.h"
#include "tests/common/teardown.h"
#include "tests/common/ms.h"

/* How long a test waits for calls that must come: a safety net. */
#define WAIT_MS	   10000
#define PER_THREAD 500

static uv_loop_t loop;
static uv_prepare_t alive; /* keeps the loop polling, as main's signals do */
static struct post *box;

static void prepare_cb(uv_prepare_t *h)
{
	(void)h;
}

static void init(void)
{
	cr_assert_eq(uv_loop_init(&loop), 0);
	cr_assert_eq(uv_prepare_init(&loop, &alive), 0);
	cr_assert_eq(uv_prepare_start(&alive, prepare_cb), 0);
	box = NULL;
	cr_assert_eq(post_new(&loop, 0, &box), 0);
}

static void fini(void)
{
	post_free(box);
	uv_close((uv_handle_t *)&alive, NULL);
	/* Runs the close callback that frees the mailbox. */
	uv_run(&loop, UV_RUN_DEFAULT);
	teardown_check(uv_loop_close(&loop) == 0, "a handle was left open");
}

TestSuite(post, .init = init, .fini = fini, .timeout = 30);

/* Turn the loop until *p reaches @p want. */
static bool turn_until(atomic_uint *p, unsigned want)
{
	for (int i = 0; i < WAIT_MS && atomic_load(p) < want; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		if (atomic_load(p) < want)
			ms_sleep(1); /* posters on other threads */
	}
	return atomic_load(p) >= want;
}

struct seen {
	atomic_uint calls, dropped;
	pthread_t loop_thread;
	atomic_uint wrong_thread;
};

static void note(struct post *p, void *arg)
{
	struct seen *s = arg;

	if (!p) {
		atomic_fetch_add(&s->dropped, 1);
		return;
	}
	cr_assert_eq(p, box);
	if (!pthread_equal(pthread_self(), s->loop_thread))
		atomic_fetch_add(&s->wrong_thread, 1);
	atomic_fetch_add(&s->calls, 1);
}

Test(post, runs_on_the_loop_from_the_same_thread)
{
	struct seen s;

	memset(&s, 0, sizeof(s));
	s.loop_thread = pthread_self();
	cr_assert_eq(post_call(box, note, &s), 0);
	cr_assert_eq(post_call(box, note, &s), 0);
	cr_assert_eq(atomic_load(&s.calls), 0, "not before the loop runs");
	cr_assert(turn_until(&s.calls, 2));
	cr_assert_eq(atomic_load(&s.wrong_thread), 0);
}

static void *poster(void *arg)
{
	for (int i = 0; i < PER_THREAD; i++)
		cr_assert_eq(post_call(box, note, arg), 0);
	return NULL;
}

Test(post, other_threads_post_and_the_loop_runs_all)
{
	struct seen s;
	pthread_t t[2];

	memset(&s, 0, sizeof(s));
	s.loop_thread = pthread_self();
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, poster, &s), 0);
	cr_assert(turn_until(&s.calls, 2 * PER_THREAD));
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	uv_run(&loop, UV_RUN_NOWAIT);
	cr_assert_eq(atomic_load(&s.calls), 2 * PER_THREAD);
	cr_assert_eq(atomic_load(&s.wrong_thread), 0);
	cr_assert_eq(atomic_load(&s.dropped), 0);
}

Test(post, bounded_mailbox_refuses_then_has_room_again)
{
	struct post *small = NULL;
	struct seen s;

	memset(&s, 0, sizeof(s));
	s.loop_thread = pthread_self();
	post_free(box);
	box = NULL;
	cr_assert_eq(post_new(&loop, 2, &small), 0);
	box = small;
	cr_assert_eq(post_call(box, note, &s), 0);
	cr_assert_eq(post_call(box, note, &s), 0);
	cr_assert_eq(post_call(box, note, &s), -ENOBUFS);
	cr_assert(turn_until(&s.calls, 2));
	cr_assert_eq(post_call(box, note, &s), 0);
	cr_assert(turn_until(&s.calls, 3));
	cr_assert_eq(post_call(NULL, note, &s), -EINVAL);
	cr_assert_eq(post_call(box, NULL, &s), -EINVAL);
	cr_assert_eq(post_new(NULL, 0, &small), -EINVAL);
}

static void free_it(struct post *p, void *arg)
{
	struct seen *s = *(struct seen **)arg;

	atomic_fetch_add(p ? &s->calls : &s->dropped, 1);
	free(arg);
}

Test(post, free_hands_back_what_waits)
{
	struct seen s;

	memset(&s, 0, sizeof(s));
	for (int i = 0; i < 3; i++) {
		struct seen **owned = malloc(sizeof(*owned));

		cr_assert_not_null(owned);
		*owned = &s;
		cr_assert_eq(post_call(box, free_it, owned), 0);
	}
	post_free(box);
	box = NULL;
	cr_assert_eq(atomic_load(&s.calls), 0);
	cr_assert_eq(atomic_load(&s.dropped), 3);
}
