/* tests/unit/store/test_loc.c - location table: publish, lookup, sweep */
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

static void setup(void)
{
	urcu_memb_register_thread();
	cr_assert_eq(loc_init(), 0);
}

static void teardown(void)
{
	loc_fini();
	urcu_memb_unregister_thread();
	teardown_check_objs(0);
}

TestSuite(loc, .init = setup, .fini = teardown, .timeout = 30);

static struct loc_contact contact(const char *uri, int64_t expires_s,
				  uint32_t cseq)
{
	struct loc_contact c = locfix_contact(uri, expires_s);

	c.cseq = cseq;
	return c;
}

/* The cseq of the only contact of @p aor, or -1 when none / not one. */
static long only_cseq(const char *aor)
{
	const struct loc_set *s;
	long v = -1;

	urcu_memb_read_lock();
	s = loc_lookup_rcu(slice_cstr(aor));
	if (s && s->n == 1)
		v = s->c[0].cseq;
	urcu_memb_read_unlock();
	return v;
}

Test(loc, publish_copies_every_field_and_lookup_finds_it)
{
	char uri[] = "sip:alice@192.0.2.1:5060";
	char ua[] = "phone/1.0";
	struct loc_contact c = contact(uri, 1000, 7);
	const struct loc_set *s;

	c.path = SLICE_LIT("<sip:edge.example;lr;ob>");
	c.instance =
	    SLICE_LIT("<urn:uuid:00000000-0000-1000-8000-000A95A0E128>");
	c.reg_id = 2;
	c.user_agent = slice_cstr(ua);
	c.flags = LOC_OB;
	c.q = 500;
	c.flow.proto = 1;
	c.flow.conn_id = 99;
	cr_assert_eq(loc_publish(SLICE_LIT("alice@example.com"), &c, 1), 0);
	/* The caller's bytes may change: the table has its own copy. */
	memset(uri, 'x', sizeof(uri) - 1);
	memset(ua, 'y', sizeof(ua) - 1);
	cr_assert_eq(loc_count(), 1);
	urcu_memb_read_lock();
	s = loc_lookup_rcu(SLICE_LIT("alice@example.com"));
	cr_assert_not_null(s);
	cr_assert_eq(s->n, 1);
	cr_assert(slice_eq(s->aor, SLICE_LIT("alice@example.com")));
	cr_assert(slice_eq(s->c[0].uri, SLICE_LIT("sip:alice@192.0.2.1:5060")));
	cr_assert(slice_eq(s->c[0].user_agent, SLICE_LIT("phone/1.0")));
	cr_assert(
	    slice_eq(s->c[0].path, SLICE_LIT("<sip:edge.example;lr;ob>")));
	cr_assert_eq(s->c[0].instance.len, c.instance.len);
	cr_assert_eq(s->c[0].reg_id, 2);
	cr_assert_eq(s->c[0].cseq, 7);
	cr_assert_eq(s->c[0].q, 500);
	cr_assert_eq(s->c[0].flags, LOC_OB);
	cr_assert_eq(s->c[0].flow.conn_id, 99);
	cr_assert_eq(s->c[0].expires_s, 1000);
	urcu_memb_read_unlock();
}

Test(loc, domain_is_caseless_and_user_is_exact)
{
	struct loc_contact c = contact("sip:a@h", 1000, 1);

	cr_assert_eq(loc_publish(SLICE_LIT("alice@example.com"), &c, 1), 0);
	cr_assert_eq(only_cseq("alice@EXAMPLE.Com"), 1);
	cr_assert_eq(only_cseq("Alice@example.com"), -1);
	cr_assert_eq(only_cseq("alice@example.org"), -1);
	cr_assert_eq(only_cseq("alice"), -1);
}

Test(loc, same_user_in_two_domains_stays_separate)
{
	struct loc_contact a = contact("sip:a@h1", 1000, 1);
	struct loc_contact b = contact("sip:a@h2", 1000, 2);

	cr_assert_eq(loc_publish(SLICE_LIT("alice@one.example"), &a, 1), 0);
	cr_assert_eq(loc_publish(SLICE_LIT("alice@two.example"), &b, 1), 0);
	cr_assert_eq(loc_count(), 2);
	cr_assert_eq(only_cseq("alice@one.example"), 1);
	cr_assert_eq(only_cseq("alice@two.example"), 2);
	cr_assert_eq(loc_publish(SLICE_LIT("alice@one.example"), NULL, 0), 0);
	cr_assert_eq(only_cseq("alice@one.example"), -1);
	cr_assert_eq(only_cseq("alice@two.example"), 2);
	cr_assert_eq(loc_count(), 1);
}

Test(loc, replace_keeps_a_referenced_old_set_readable)
{
	struct loc_contact c1 = contact("sip:first@h", 1000, 1);
	struct loc_contact c2 = contact("sip:second@h", 1000, 2);
	const struct loc_set *old;

	cr_assert_eq(loc_publish(SLICE_LIT("bob@example.com"), &c1, 1), 0);
	urcu_memb_read_lock();
	old = loc_lookup_rcu(SLICE_LIT("bob@example.com"));
	cr_assert_not_null(old);
	cr_assert_not_null(obj_tryget((void *)old));
	urcu_memb_read_unlock();
	cr_assert_eq(loc_publish(SLICE_LIT("bob@example.com"), &c2, 1), 0);
	/* Grace periods pass; our reference keeps the old set alive. */
	urcu_memb_synchronize_rcu();
	urcu_memb_barrier();
	cr_assert(slice_eq(old->c[0].uri, SLICE_LIT("sip:first@h")));
	obj_put((void *)old);
	cr_assert_eq(only_cseq("bob@example.com"), 2);
	cr_assert_eq(loc_count(), 1);
}

Test(loc, rejects_an_empty_aor)
{
	struct loc_contact c = contact("sip:a@h", 1000, 1);

	cr_assert_eq(loc_publish(SLICE_LIT(""), &c, 1), -EINVAL);
	cr_assert_eq(loc_publish(SLICE_LIT("a@b"), NULL, 1), -EINVAL);
	/* Removing what is not there is fine. */
	cr_assert_eq(loc_publish(SLICE_LIT("nobody@b"), NULL, 0), 0);
	cr_assert_eq(loc_count(), 0);
}

Test(loc, sweep_drops_expired_contacts_and_empty_aors)
{
	struct loc_contact two[2] = { contact("sip:live@h", 200, 1),
				      contact("sip:dead@h", 100, 1) };
	struct loc_contact dead = contact("sip:x@h", 50, 1);
	const struct loc_set *s;

	cr_assert_eq(loc_publish(SLICE_LIT("mixed@example.com"), two, 2), 0);
	cr_assert_eq(loc_publish(SLICE_LIT("gone@example.com"), &dead, 1), 0);
	cr_assert_eq(loc_sweep(10), 0);
	cr_assert_eq(loc_count(), 2);
	cr_assert_eq(loc_sweep(100), 2);
	cr_assert_eq(loc_count(), 1);
	urcu_memb_read_lock();
	s = loc_lookup_rcu(SLICE_LIT("mixed@example.com"));
	cr_assert_not_null(s);
	cr_assert_eq(s->n, 1);
	cr_assert(slice_eq(s->c[0].uri, SLICE_LIT("sip:live@h")));
	cr_assert_null(loc_lookup_rcu(SLICE_LIT("gone@example.com")));
	urcu_memb_read_unlock();
	cr_assert_eq(loc_sweep(1000), 1);
	cr_assert_eq(loc_count(), 0);
}

Test(loc, get_all_returns_a_reference_to_every_set)
{
	const struct loc_set **v;
	size_t n;
	char aor[64];
	unsigned seen = 0;

	for (unsigned i = 0; i < 300; i++) {
		struct loc_contact c = contact("sip:u@h", 1000, i);

		snprintf(aor, sizeof(aor), "user%u@example.com", i);
		cr_assert_eq(loc_publish(slice_cstr(aor), &c, 1), 0);
	}
	cr_assert_eq(loc_get_all(&v, &n), 0);
	cr_assert_eq(n, 300);
	/* Removing them all does not free what we hold. */
	for (unsigned i = 0; i < 300; i++) {
		snprintf(aor, sizeof(aor), "user%u@example.com", i);
		cr_assert_eq(loc_publish(slice_cstr(aor), NULL, 0), 0);
	}
	urcu_memb_barrier();
	for (size_t i = 0; i < n; i++)
		seen += v[i]->c[0].cseq;
	cr_assert_eq(seen, 299 * 300 / 2);
	loc_put_all(v, n);
	cr_assert_eq(loc_count(), 0);
}

/*
 * The single writer publishes version k of each AOR (one live contact
 * with cseq k and one already expired) while the sweep runs again and
 * again. The sweep's replace is a compare-and-swap on the node: it must
 * never put back an older version over the writer's newer one.
 */
#define RACE_AORS   64
#define RACE_ROUNDS 300

static atomic_bool writer_done;

static void *writer_main(void *arg)
{
	char aor[32];

	(void)arg;
	urcu_memb_register_thread();
	for (uint32_t k = 1; k <= RACE_ROUNDS; k++)
		for (unsigned i = 0; i < RACE_AORS; i++) {
			struct loc_contact c[2] = {
				contact("sip:live@h", 1000000, k),
				contact("sip:dead@h", 1, k),
			};

			snprintf(aor, sizeof(aor), "race%u@example.com", i);
			cr_assert_eq(loc_publish(slice_cstr(aor), c, 2), 0);
		}
	urcu_memb_unregister_thread();
	atomic_store(&writer_done, true);
	return NULL;
}

Test(loc, sweep_never_overwrites_the_writer)
{
	pthread_t t;
	char aor[32];
	unsigned long sweeps = 0;

	atomic_store(&writer_done, false);
	cr_assert_eq(pthread_create(&t, NULL, writer_main, NULL), 0);
	/* Bounded: the writer ends after RACE_ROUNDS rounds. */
	while (!atomic_load(&writer_done) && sweeps < 100000000UL) {
		loc_sweep(500);
		sweeps++;
	}
	pthread_join(t, NULL);
	cr_assert(sweeps > 0);
	loc_sweep(500);
	for (unsigned i = 0; i < RACE_AORS; i++) {
		snprintf(aor, sizeof(aor), "race%u@example.com", i);
		cr_assert_eq(only_cseq(aor), RACE_ROUNDS, "%s", aor);
	}
}

/* A walk that takes more pages than this does not end. */
#define CHURN_MAX_PAGES 2000

/* Publish AORs user<i>@<domain> for i in [from, to), cseq i. */
static void publish_range(unsigned from, unsigned to, const char *domain)
{
	char aor[64];

	for (unsigned i = from; i < to; i++) {
		struct loc_contact c = contact("sip:u@h", 1000, i);

		snprintf(aor, sizeof(aor), "user%u@%s", i, domain);
		cr_assert_eq(loc_publish(slice_cstr(aor), &c, 1), 0);
	}
}

/*
 * Walk the table page by page; count each cseq seen in @p seen (AORs
 * of one test have distinct cseqs). Between pages, call @p between.
 * Returns the number of pages.
 */
static unsigned walk(unsigned limit, const char *domain, unsigned *seen,
		     unsigned nseen, void (*between)(unsigned page))
{
	struct loc_cursor cur = { .started = false };
	unsigned pages = 0;
	bool more = true;

	while (more) {
		const struct loc_set **v;
		size_t n;

		cr_assert_lt(pages, CHURN_MAX_PAGES, "the walk does not end");
		cr_assert_eq(loc_get_page(cur, slice_cstr(domain), limit, &v,
					  &n, &cur, &more),
			     0);
		cr_assert_leq(n, limit);
		for (size_t i = 0; i < n; i++) {
			uint32_t k = v[i]->c[0].cseq;

			cr_assert_lt(k, nseen);
			seen[k]++;
		}
		loc_put_all(v, n);
		if (between)
			between(pages);
		pages++;
	}
	return pages;
}

Test(loc, page_walk_returns_every_aor_exactly_once)
{
	static unsigned seen[2000];

	publish_range(0, 2000, "example.com");
	cr_assert_eq(walk(7, "", seen, 2000, NULL), 2000 / 7 + 1);
	for (unsigned i = 0; i < 2000; i++)
		cr_assert_eq(seen[i], 1, "user%u seen %u times", i, seen[i]);
}

static unsigned churn_base;

/* Between pages: add 10 new AORs and remove 5 of them (cseq >= 1000),
 * which the walk may or may not see; the first 1000 stay. */
static void churn(unsigned page)
{
	char aor[64];

	publish_range(1000 + churn_base, 1000 + churn_base + 10, "example.com");
	for (unsigned i = 0; i < 10; i += 2) {
		snprintf(aor, sizeof(aor), "user%u@example.com",
			 1000 + churn_base + i);
		cr_assert_eq(loc_publish(slice_cstr(aor), NULL, 0), 0);
	}
	/* Now and then remove an AOR that was added earlier in the walk
	 * (the walk may have returned it already). */
	if (page % 3 == 0 && churn_base >= 10) {
		snprintf(aor, sizeof(aor), "user%u@example.com",
			 1000 + churn_base - 9);
		cr_assert_eq(loc_publish(slice_cstr(aor), NULL, 0), 0);
	}
	churn_base += 10;
}

Test(loc, page_walk_is_stable_while_the_table_changes)
{
	static unsigned seen[1000 + 10 * CHURN_MAX_PAGES];
	unsigned pages;

	churn_base = 0;
	publish_range(0, 1000, "example.com");
	pages = walk(20, "", seen, 1000 + 10 * CHURN_MAX_PAGES, churn);
	cr_assert_lt(pages, CHURN_MAX_PAGES);
	for (unsigned i = 0; i < 1000; i++)
		cr_assert_eq(seen[i], 1, "user%u seen %u times", i, seen[i]);
	for (unsigned i = 1000; i < 1000 + 10 * CHURN_MAX_PAGES; i++)
		cr_assert_leq(seen[i], 1, "user%u seen %u times", i, seen[i]);
}

Test(loc, page_walk_goes_on_when_the_cursors_aor_is_gone)
{
	static unsigned seen[500];
	struct loc_cursor cur = { .started = false };
	const struct loc_set **v;
	char aor[64];
	size_t n;
	bool more;

	publish_range(0, 500, "example.com");
	cr_assert_eq(
	    loc_get_page(cur, slice_cstr(""), 100, &v, &n, &cur, &more), 0);
	cr_assert_eq(n, 100);
	cr_assert(more);
	for (size_t i = 0; i < n; i++)
		seen[v[i]->c[0].cseq]++;
	/* Remove every AOR of the first page: the next one starts from
	 * the table's start and skips up to the cursor. */
	for (size_t i = 0; i < n; i++) {
		snprintf(aor, sizeof(aor), "%.*s", (int)v[i]->aor.len,
			 v[i]->aor.p);
		cr_assert_eq(loc_publish(slice_cstr(aor), NULL, 0), 0);
	}
	loc_put_all(v, n);
	while (more) {
		cr_assert_eq(
		    loc_get_page(cur, slice_cstr(""), 100, &v, &n, &cur, &more),
		    0);
		for (size_t i = 0; i < n; i++)
			seen[v[i]->c[0].cseq]++;
		loc_put_all(v, n);
	}
	for (unsigned i = 0; i < 500; i++)
		cr_assert_eq(seen[i], 1, "user%u seen %u times", i, seen[i]);
}

Test(loc, page_walk_filters_by_domain_without_case)
{
	static unsigned seen[600];

	publish_range(0, 300, "a.example");
	publish_range(300, 600, "B.example");
	walk(50, "b.EXAMPLE", seen, 600, NULL);
	for (unsigned i = 0; i < 600; i++)
		cr_assert_eq(seen[i], i >= 300, "user%u seen %u times", i,
			     seen[i]);
}

Test(loc, page_rejects_a_limit_out_of_range_and_ends_on_empty)
{
	struct loc_cursor cur = { .started = false }, nx;
	const struct loc_set **v;
	size_t n;
	bool more = true;

	cr_assert_eq(loc_get_page(cur, slice_cstr(""), 0, &v, &n, &nx, &more),
		     -EINVAL);
	cr_assert_eq(loc_get_page(cur, slice_cstr(""), LOC_PAGE_MAX + 1, &v, &n,
				  &nx, &more),
		     -EINVAL);
	cr_assert_eq(loc_get_page(cur, slice_cstr(""), 10, &v, &n, &nx, &more),
		     0);
	cr_assert_eq(n, 0);
	cr_assert_not(more);
	loc_put_all(v, n);
}
