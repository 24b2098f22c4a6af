/* tests/unit/store/test_loc_cas.c - loc_publish_cas(): several writers of
 * one AOR at once (every shard writes the AORs whose REGISTERs it
 * receives), against each other and against the sweep */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "proxy/base/obj.h"
#include "store/loc.h"
#include "store/rcu.h"
#include "tests/common/teardown.h"
#include "tests/unit/store/locfix.h"

#define AOR	   "shared@example.com"
#define NTHREADS   4
#define PER_THREAD 60
/* Retries of one change in a test: far above what two CPUs produce,
 * low enough that a writer that can never win fails the test. */
#define TEST_TRIES 100000
/* Busy-loop iterations between a writer's read and its write. */
#define WIDEN 20000

/* What the observer saw wrong: a change stamped at or below a stamp of
 * the set it replaced, or an added contact without the change's stamp. */
static atomic_uint bad_stamps;
static atomic_uint observed;
/* Off while the sweep runs: it drops contacts, the newest among them. */
static atomic_bool check_reads;

static void observe(struct slice aor, const struct loc_set *old,
		    const struct loc_set *cur, int64_t stamp_ms)
{
	(void)aor;
	atomic_fetch_add(&observed, 1);
	for (unsigned i = 0; old && i < old->n; i++)
		if (old->c[i].stamp_ms >= stamp_ms)
			atomic_fetch_add(&bad_stamps, 1);
	for (unsigned i = 0; cur && i < cur->n; i++)
		if (cur->c[i].stamp_ms > stamp_ms)
			atomic_fetch_add(&bad_stamps, 1);
}

static void setup(void)
{
	urcu_memb_register_thread();
	cr_assert_eq(loc_init(), 0);
	atomic_store(&bad_stamps, 0);
	atomic_store(&observed, 0);
	atomic_store(&check_reads, true);
	loc_set_observer(observe);
}

static void teardown(void)
{
	loc_set_observer(NULL);
	loc_fini();
	urcu_memb_unregister_thread();
	teardown_check_objs(0);
}

TestSuite(loc_cas, .init = setup, .fini = teardown, .timeout = 60);

/* The set of @p aor with a reference, or NULL. */
static const struct loc_set *get(const char *aor)
{
	const struct loc_set *s;

	urcu_memb_read_lock();
	s = loc_lookup_rcu(slice_cstr(aor));
	if (s && !obj_tryget((void *)s))
		s = NULL;
	urcu_memb_read_unlock();
	return s;
}

static bool has(const struct loc_set *s, const char *uri)
{
	for (unsigned i = 0; s && i < s->n; i++)
		if (slice_eq(s->c[i].uri, slice_cstr(uri)))
			return true;
	return false;
}

static int64_t max_stamp(const struct loc_set *s)
{
	int64_t m = 0;

	for (unsigned i = 0; s && i < s->n; i++)
		if (s->c[i].stamp_ms > m)
			m = s->c[i].stamp_ms;
	return m;
}

Test(loc_cas, adds_only_where_none_was_read)
{
	struct loc_contact a = locfix_contact("sip:a@h", 1000),
			   b = locfix_contact("sip:b@h", 1000);
	const struct loc_set *s;

	cr_assert_eq(loc_publish_cas(SLICE_LIT(AOR), NULL, &a, 1), 0);
	/* Someone added it meanwhile: the second add from "none" loses. */
	cr_assert_eq(loc_publish_cas(SLICE_LIT(AOR), NULL, &b, 1), -EAGAIN);
	s = get(AOR);
	cr_assert(has(s, "sip:a@h") && !has(s, "sip:b@h"));
	obj_put((void *)s);
	/* Removing nothing from nothing is no change. */
	cr_assert_eq(
	    loc_publish_cas(SLICE_LIT("none@example.com"), NULL, NULL, 0), 0);
	cr_assert_eq(loc_count(), 1);
	cr_assert_eq(loc_contacts(), 1);
}

Test(loc_cas, a_stale_set_loses_and_the_current_one_wins_with_a_newer_stamp)
{
	struct loc_contact a = locfix_contact("sip:a@h", 1000),
			   v[2] = { locfix_contact("sip:a@h", 1000),
				    locfix_contact("sip:b@h", 1000) };
	const struct loc_set *s1, *s2, *s3;

	cr_assert_eq(loc_publish_cas(SLICE_LIT(AOR), NULL, &a, 1), 0);
	s1 = get(AOR);
	cr_assert_not_null(s1);
	/* Another writer replaces s1 (the same contact, refreshed). */
	cr_assert_eq(loc_publish_cas(SLICE_LIT(AOR), s1, &a, 1), 0);
	s2 = get(AOR);
	cr_assert_neq(s1, s2);
	cr_assert_gt(max_stamp(s2), max_stamp(s1));
	/* A change computed from s1 must not overwrite s2... */
	v[0] = s1->c[0];
	cr_assert_eq(loc_publish_cas(SLICE_LIT(AOR), s1, v, 2), -EAGAIN);
	s3 = get(AOR);
	cr_assert_eq(s3, s2, "a lost compare-and-swap changed the table");
	obj_put((void *)s3);
	/* ...and goes in once applied to s2. */
	v[0] = s2->c[0];
	cr_assert_eq(loc_publish_cas(SLICE_LIT(AOR), s2, v, 2), 0);
	s3 = get(AOR);
	cr_assert_eq(s3->n, 2);
	cr_assert(has(s3, "sip:a@h") && has(s3, "sip:b@h"));
	/* The kept contact keeps its stamp, the new one is newer. */
	cr_assert_eq(s3->c[0].stamp_ms, s2->c[0].stamp_ms);
	cr_assert_gt(s3->c[1].stamp_ms, s2->c[0].stamp_ms);
	obj_put((void *)s1);
	obj_put((void *)s2);
	obj_put((void *)s3);
	cr_assert_eq(loc_contacts(), 2);
	cr_assert_eq(atomic_load(&bad_stamps), 0);
}

Test(loc_cas, delete_only_if_same_and_a_readd_stamps_above_the_delete)
{
	struct loc_contact a = locfix_contact("sip:a@h", 1000),
			   b = locfix_contact("sip:b@h", 1000);
	const struct loc_set *s1, *s2;
	int64_t before;

	cr_assert_eq(loc_publish_cas(SLICE_LIT(AOR), NULL, &a, 1), 0);
	s1 = get(AOR);
	cr_assert_eq(loc_publish_cas(SLICE_LIT(AOR), s1, &b, 1), 0);
	/* Removing what s1 was: s1 is gone, the delete loses. */
	cr_assert_eq(loc_publish_cas(SLICE_LIT(AOR), s1, NULL, 0), -EAGAIN);
	s2 = get(AOR);
	cr_assert(has(s2, "sip:b@h"));
	before = max_stamp(s2);
	cr_assert_eq(loc_publish_cas(SLICE_LIT(AOR), s2, NULL, 0), 0);
	cr_assert_null(get(AOR));
	cr_assert_eq(loc_count(), 0);
	cr_assert_eq(loc_contacts(), 0);
	/* A writer that finds nothing, at once (same millisecond): its
	 * stamp is above the removal's, itself above what was removed, so
	 * Redis keeps the re-add, not the tombstone. */
	cr_assert_eq(loc_publish_cas(SLICE_LIT(AOR), NULL, &b, 1), 0);
	obj_put((void *)s1);
	s1 = get(AOR);
	cr_assert_gt(max_stamp(s1), before + 1);
	obj_put((void *)s1);
	obj_put((void *)s2);
	cr_assert_eq(atomic_load(&bad_stamps), 0);
}

/* Apply "add @p uri" (or with @p del "remove @p uri") to AOR until the
 * swap succeeds; returns the retries. */
static unsigned apply(const char *aor, const char *uri, bool del,
		      int64_t expires_s)
{
	struct loc_contact v[2 * NTHREADS * PER_THREAD + 8];
	unsigned retries = 0;

	for (;;) {
		const struct loc_set *s = get(aor);
		unsigned n = 0;
		int err;

		cr_assert_lt(s ? s->n : 0, sizeof(v) / sizeof(v[0]) - 1);
		for (unsigned i = 0; s && i < s->n; i++)
			if (!slice_eq(s->c[i].uri, slice_cstr(uri)))
				v[n++] = s->c[i];
		if (!del)
			v[n++] = locfix_contact(uri, expires_s);
		/* Widen the window between read and write, as a REGISTER's
		 * parsing does, so that the writers do meet. */
		for (volatile unsigned w = 0; w < WIDEN; w++)
			;
		err = loc_publish_cas(slice_cstr(aor), s, v, n);
		obj_put((void *)s);
		if (err == 0)
			return retries;
		cr_assert_eq(err, -EAGAIN);
		cr_assert_lt(++retries, TEST_TRIES, "%s never wins", uri);
	}
}

static atomic_uint total_retries;
static atomic_uint go;

/* Thread @p arg: adds its PER_THREAD contacts to AOR one by one, and
 * checks that what it reads never goes back in time. */
static void *adder(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg, r = 0;
	int64_t seen = 0;
	char uri[64];

	urcu_memb_register_thread();
	while (!atomic_load(&go))
		;
	for (unsigned i = 0; i < PER_THREAD; i++) {
		const struct loc_set *s;

		snprintf(uri, sizeof(uri), "sip:t%u-%u@h", id, i);
		r += apply(AOR, uri, false, 1000);
		s = get(AOR);
		if (atomic_load(&check_reads) && max_stamp(s) < seen)
			atomic_fetch_add(&bad_stamps, 1);
		seen = max_stamp(s);
		obj_put((void *)s);
	}
	atomic_fetch_add(&total_retries, r);
	urcu_memb_unregister_thread();
	return NULL;
}

Test(loc_cas, concurrent_writers_of_one_aor_lose_no_contact)
{
	pthread_t t[NTHREADS];
	const struct loc_set *s;
	char uri[64];

	atomic_store(&go, 0);
	atomic_store(&total_retries, 0);
	for (unsigned i = 0; i < NTHREADS; i++)
		cr_assert_eq(
		    pthread_create(&t[i], NULL, adder, (void *)(uintptr_t)i),
		    0);
	atomic_store(&go, 1);
	for (unsigned i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	s = get(AOR);
	cr_assert_not_null(s);
	cr_assert_eq(s->n, NTHREADS * PER_THREAD, "%u contacts", s->n);
	for (unsigned i = 0; i < NTHREADS; i++)
		for (unsigned k = 0; k < PER_THREAD; k++) {
			snprintf(uri, sizeof(uri), "sip:t%u-%u@h", i, k);
			cr_assert(has(s, uri), "%s was lost", uri);
		}
	obj_put((void *)s);
	/* One observer call per successful swap, each stamped above the
	 * set it replaced. */
	cr_assert_eq(atomic_load(&observed), NTHREADS * PER_THREAD);
	cr_assert_eq(atomic_load(&bad_stamps), 0);
	cr_assert_eq(loc_count(), 1);
	cr_assert_eq(loc_contacts(), NTHREADS * PER_THREAD);
	cr_log_info("retries: %u", atomic_load(&total_retries));
}

#define FLIPS 400

/* Thread @p arg: adds and removes its own contact FLIPS times; the only
 * contact of the AOR when the other's is out, so that its removal
 * deletes the AOR. Thread 0 ends with its contact in, thread 1 out. */
static void *flipper(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg, r = 0;
	char uri[64];

	urcu_memb_register_thread();
	snprintf(uri, sizeof(uri), "sip:flip%u@h", id);
	while (!atomic_load(&go))
		;
	for (unsigned i = 0; i < FLIPS; i++) {
		r += apply(AOR, uri, false, 1000);
		r += apply(AOR, uri, true, 0);
	}
	if (id == 0)
		r += apply(AOR, uri, false, 1000);
	atomic_fetch_add(&total_retries, r);
	urcu_memb_unregister_thread();
	return NULL;
}

Test(loc_cas, add_and_delete_races_leave_what_each_writer_did_last)
{
	pthread_t t[2];
	const struct loc_set *s;

	atomic_store(&go, 0);
	atomic_store(&total_retries, 0);
	for (unsigned i = 0; i < 2; i++)
		cr_assert_eq(
		    pthread_create(&t[i], NULL, flipper, (void *)(uintptr_t)i),
		    0);
	atomic_store(&go, 1);
	for (unsigned i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	s = get(AOR);
	cr_assert_not_null(s);
	cr_assert_eq(s->n, 1);
	cr_assert(has(s, "sip:flip0@h"));
	obj_put((void *)s);
	/* The counters followed every add, replace and delete. */
	cr_assert_eq(loc_count(), 1);
	cr_assert_eq(loc_contacts(), 1);
	cr_assert_eq(atomic_load(&bad_stamps), 0);
	cr_log_info("retries: %u", atomic_load(&total_retries));
}

static atomic_bool writers_done;

static void *sweeper(void *arg)
{
	unsigned long sweeps = 0;

	(void)arg;
	urcu_memb_register_thread();
	/* Bounded: the writers end after PER_THREAD changes each. */
	while (!atomic_load(&writers_done) && sweeps < 100000000UL) {
		loc_sweep(500);
		sweeps++;
	}
	urcu_memb_unregister_thread();
	return (void *)(uintptr_t)sweeps;
}

Test(loc_cas, the_sweep_racing_writers_drops_only_what_expired)
{
	pthread_t t[NTHREADS], sw;
	const struct loc_set *s;
	void *sweeps;
	char uri[64];

	atomic_store(&go, 0);
	atomic_store(&writers_done, false);
	atomic_store(&check_reads, false);
	cr_assert_eq(pthread_create(&sw, NULL, sweeper, NULL), 0);
	for (unsigned i = 0; i < NTHREADS; i++)
		cr_assert_eq(
		    pthread_create(&t[i], NULL, adder, (void *)(uintptr_t)i),
		    0);
	/* Expired contacts the sweep keeps finding: added now and then
	 * by this thread (expires 100 < the sweep's now 500). */
	atomic_store(&go, 1);
	for (unsigned k = 0; k < PER_THREAD; k++) {
		snprintf(uri, sizeof(uri), "sip:old%u@h", k);
		apply(AOR, uri, false, 100);
	}
	for (unsigned i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	atomic_store(&writers_done, true);
	pthread_join(sw, &sweeps);
	cr_assert_gt((uintptr_t)sweeps, 0);
	loc_sweep(500);
	s = get(AOR);
	cr_assert_not_null(s);
	cr_assert_eq(s->n, NTHREADS * PER_THREAD, "%u contacts", s->n);
	for (unsigned i = 0; i < NTHREADS; i++)
		for (unsigned k = 0; k < PER_THREAD; k++) {
			snprintf(uri, sizeof(uri), "sip:t%u-%u@h", i, k);
			cr_assert(has(s, uri), "%s was lost", uri);
		}
	obj_put((void *)s);
	cr_assert_eq(loc_contacts(), NTHREADS * PER_THREAD);
	cr_assert_eq(atomic_load(&bad_stamps), 0);
}
