/* tests/unit/store/test_park.c - park slot table: claims, races, holders,
 * listing */
#include <criterion/criterion.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "store/park.h"
#include "store/rcu.h"

static void setup(void)
{
	urcu_memb_register_thread();
	cr_assert_eq(park_init(), 0);
}

static void teardown(void)
{
	park_fini();
	cr_assert_eq(park_count(), 0);
	urcu_memb_unregister_thread();
}

TestSuite(park, .init = setup, .fini = teardown, .timeout = 30);

static struct park_rec rec(const char *domain, const char *who)
{
	struct park_rec r;

	memset(&r, 0, sizeof(r));
	snprintf(r.domain, sizeof(r.domain), "%s", domain);
	snprintf(r.parked, sizeof(r.parked), "%s", who);
	return r;
}

Test(park, claims_the_first_free_slot_in_order)
{
	struct park_rec a = rec("a.example", "<sip:alice@a.example>");
	struct park_rec b = rec("a.example", "<sip:bob@a.example>");

	cr_assert_eq(park_claim(&a, 701, 799, 0), 0);
	cr_assert_eq(a.slot, 701);
	cr_assert_neq(a.holder, 0);
	cr_assert_gt(a.since_s, 0);
	cr_assert_eq(park_claim(&b, 701, 799, 0), 0);
	cr_assert_eq(b.slot, 702);
	cr_assert_neq(a.holder, b.holder);
	/* 701 freed: the next park takes it again. */
	cr_assert_eq(park_release(SLICE_LIT("a.example"), 701, a.holder), 0);
	a = rec("a.example", "<sip:carol@a.example>");
	cr_assert_eq(park_claim(&a, 701, 799, 0), 0);
	cr_assert_eq(a.slot, 701);
	cr_assert_eq(park_count(), 2);
}

Test(park, each_domain_has_its_own_lot)
{
	struct park_rec a = rec("a.example", "alice");
	struct park_rec b = rec("b.example", "bob");
	struct park_rec got;

	cr_assert_eq(park_claim(&a, 701, 799, 0), 0);
	cr_assert_eq(park_claim(&b, 701, 799, 0), 0);
	cr_assert_eq(a.slot, 701);
	cr_assert_eq(b.slot, 701);
	cr_assert_eq(park_get(SLICE_LIT("B.Example"), 701, &got), 0);
	cr_assert_str_eq(got.parked, "bob");
	cr_assert_eq(park_get(SLICE_LIT("a.example"), 702, &got), -ENOENT);
}

Test(park, full_lot_and_taken_slot_are_busy)
{
	struct park_rec r;

	for (unsigned i = 0; i < 2; i++) {
		r = rec("a.example", "x");
		cr_assert_eq(park_claim(&r, 701, 702, 0), 0);
	}
	r = rec("a.example", "y");
	cr_assert_eq(park_claim(&r, 701, 702, 0), -EBUSY);
	cr_assert_eq(park_claim(&r, 701, 702, 702), -EBUSY);
	cr_assert_eq(park_claim(&r, 701, 799, 705), 0);
	cr_assert_eq(r.slot, 705);
	cr_assert_eq(park_claim(&r, 701, 799, 800), -EINVAL);
	cr_assert_eq(park_claim(&r, 702, 701, 0), -EINVAL);
	r = rec("", "z");
	cr_assert_eq(park_claim(&r, 701, 799, 0), -EINVAL);
	cr_assert_eq(park_count(), 3);
}

Test(park, only_the_holder_releases_or_updates)
{
	struct park_rec a = rec("a.example", "alice"), u, got;

	cr_assert_eq(park_claim(&a, 701, 799, 0), 0);
	cr_assert_eq(park_release(SLICE_LIT("a.example"), 701, a.holder + 2),
		     -EPERM);
	cr_assert_eq(park_release(SLICE_LIT("a.example"), 702, a.holder),
		     -ENOENT);
	u = a;
	snprintf(u.call_id, sizeof(u.call_id), "cid-1");
	u.local_cseq = 7;
	u.holder = a.holder + 2;
	cr_assert_eq(park_update(&u), -EPERM);
	u.holder = a.holder;
	cr_assert_eq(park_update(&u), 0);
	cr_assert_eq(park_get(SLICE_LIT("a.example"), 701, &got), 0);
	cr_assert_str_eq(got.call_id, "cid-1");
	cr_assert_eq(got.local_cseq, 7);
	cr_assert_eq(got.since_s, a.since_s);
	cr_assert_eq(park_release(SLICE_LIT("A.EXAMPLE"), 701, a.holder), 0);
	cr_assert_eq(park_release(SLICE_LIT("a.example"), 701, a.holder),
		     -ENOENT);
	cr_assert_eq(park_update(&u), -ENOENT);
}

Test(park, list_per_domain_and_all_sorted)
{
	struct park_rec r, out[8];
	const char *doms[] = { "b.example", "a.example", "b.example",
			       "a.example", "a.example" };

	for (unsigned i = 0; i < 5; i++) {
		r = rec(doms[i], "x");
		cr_assert_eq(park_claim(&r, 701, 799, 0), 0);
	}
	cr_assert_eq(park_list(SLICE_LIT("a.example"), out, 8), 3);
	for (unsigned i = 0; i < 3; i++) {
		cr_assert_str_eq(out[i].domain, "a.example");
		cr_assert_eq(out[i].slot, 701 + i);
	}
	cr_assert_eq(park_list(slice_make(NULL, 0), out, 8), 5);
	cr_assert_str_eq(out[3].domain, "b.example");
	cr_assert_eq(out[4].slot, 702);
	/* Fewer room than records: the count still says all. */
	cr_assert_eq(park_list(slice_make(NULL, 0), out, 2), 5);
	cr_assert_eq(park_list(SLICE_LIT("c.example"), out, 8), 0);
}

#define RACE_EACH 30

struct racer {
	unsigned slots[RACE_EACH];
	int err;
	pthread_barrier_t *go;
};

static void *race(void *arg)
{
	struct racer *x = arg;

	urcu_memb_register_thread();
	pthread_barrier_wait(x->go);
	for (unsigned i = 0; i < RACE_EACH && !x->err; i++) {
		struct park_rec r = rec("a.example", "racer");

		x->err = park_claim(&r, 701, 799, 0);
		x->slots[i] = r.slot;
	}
	urcu_memb_unregister_thread();
	return NULL;
}

Test(park, two_threads_claiming_60_slots_get_60_distinct_ones)
{
	struct racer x[2];
	pthread_barrier_t go;
	pthread_t t[2];
	bool seen[100] = { false };

	cr_assert_eq(pthread_barrier_init(&go, NULL, 2), 0);
	for (unsigned i = 0; i < 2; i++) {
		memset(&x[i], 0, sizeof(x[i]));
		x[i].go = &go;
		cr_assert_eq(pthread_create(&t[i], NULL, race, &x[i]), 0);
	}
	for (unsigned i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&go);
	for (unsigned i = 0; i < 2; i++) {
		cr_assert_eq(x[i].err, 0);
		for (unsigned k = 0; k < RACE_EACH; k++) {
			unsigned s = x[i].slots[k];

			cr_assert(s >= 701 && s <= 799, "slot %u", s);
			cr_assert(!seen[s - 700], "slot %u given twice", s);
			seen[s - 700] = true;
		}
	}
	/* Distinct and first-free: exactly 701..760. */
	for (unsigned s = 701; s <= 760; s++)
		cr_assert(seen[s - 700], "slot %u not given", s);
	cr_assert_eq(park_count(), 60);
}

struct seen {
	unsigned n;
	enum park_change what[4];
	unsigned slot[4];
	char parked[4][PARK_IDENTITY_MAX + 1];
};

static void watch(const struct park_rec *r, enum park_change what, void *arg)
{
	struct seen *s = arg;

	if (s->n >= 4)
		return;
	s->what[s->n] = what;
	s->slot[s->n] = r->slot;
	snprintf(s->parked[s->n], sizeof(s->parked[0]), "%s", r->parked);
	s->n++;
}

Test(park, the_watcher_is_told_each_change_with_the_identity)
{
	struct seen s = { 0 };
	struct park_rec a = rec("a.example", "alice"), b;

	park_set_watch(watch, &s);
	cr_assert_eq(park_claim(&a, 701, 799, 0), 0);
	b = rec("a.example", "bob");
	cr_assert_eq(park_claim(&b, 701, 701, 0), -EBUSY);
	a.local_cseq = 3;
	cr_assert_eq(park_update(&a), 0);
	cr_assert_eq(park_release(SLICE_LIT("a.example"), 701, a.holder + 2),
		     -EPERM);
	cr_assert_eq(park_release(SLICE_LIT("a.example"), 701, a.holder), 0);
	park_set_watch(NULL, NULL);
	cr_assert_eq(s.n, 3, "a refused claim or release tells nothing");
	cr_assert_eq(s.what[0], PARK_CHANGE_PARKED);
	cr_assert_eq(s.what[1], PARK_CHANGE_UPDATED);
	cr_assert_eq(s.what[2], PARK_CHANGE_FREED);
	for (unsigned i = 0; i < 3; i++) {
		cr_assert_eq(s.slot[i], 701);
		cr_assert_str_eq(s.parked[i], "alice");
	}
}

/* The parker a claim records is kept by a claim of a given slot and by
 * the holder's updates (the timeout calls it back). */
Test(park, a_given_slot_keeps_its_parker_through_updates)
{
	struct park_rec a = rec("a.example", "<sip:bob@b.example>"), got;

	snprintf(a.parker, sizeof(a.parker), "sip:alice@a.example");
	cr_assert_eq(park_claim(&a, 701, 799, 705), 0);
	cr_assert_eq(a.slot, 705);
	cr_assert_eq(park_get(SLICE_LIT("a.example"), 705, &got), 0);
	cr_assert_str_eq(got.parker, "sip:alice@a.example");
	a.local_cseq = 3;
	cr_assert_eq(park_update(&a), 0);
	cr_assert_eq(park_get(SLICE_LIT("a.example"), 705, &got), 0);
	cr_assert_str_eq(got.parker, "sip:alice@a.example");
	cr_assert_eq(got.local_cseq, 3);
	cr_assert_eq(park_release(SLICE_LIT("a.example"), 705, a.holder), 0);
}
