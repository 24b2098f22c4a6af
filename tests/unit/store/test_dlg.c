/* tests/unit/store/test_dlg.c - dialog table: keys, states, sweep, readers */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "proxy/base/obj.h"
#include "store/dlg.h"
#include "store/rcu.h"
#include "tests/common/teardown.h"

static long live0;

static void setup(void)
{
	urcu_memb_register_thread();
	live0 = obj_live();
	cr_assert_eq(dlg_init(), 0);
}

static void teardown(void)
{
	dlg_fini();
	teardown_check_objs(live0);
	urcu_memb_unregister_thread();
}

TestSuite(dlg, .init = setup, .fini = teardown, .timeout = 30);

static struct dlg mk(const char *cid, const char *a, const char *b,
		     enum dlg_state st)
{
	struct dlg d;

	memset(&d, 0, sizeof(d));
	d.call_id = slice_cstr(cid);
	d.caller_tag = slice_cstr(a);
	d.callee_tag = slice_cstr(b);
	d.caller = SLICE_LIT("sip:alice@example.com");
	d.callee = SLICE_LIT("sip:bob@example.com");
	d.state = st;
	d.owner = 1;
	return d;
}

/* The state of the dialog, or 0 when it is not there. */
static int state_of(const char *cid, const char *a, const char *b)
{
	const struct dlg *d;
	int st = 0;

	urcu_memb_read_lock();
	d = dlg_lookup_rcu(slice_cstr(cid), slice_cstr(a), slice_cstr(b));
	if (d)
		st = (int)d->state;
	urcu_memb_read_unlock();
	return st;
}

Test(dlg, found_with_tags_in_either_order)
{
	struct dlg d = mk("c1@x", "ta", "tb", DLG_EARLY);
	char cid[] = "c1@x";

	cr_assert_eq(dlg_publish(&d), 0);
	/* The entry holds copies: the caller's text may change. */
	cid[0] = 'z';
	cr_assert_eq(state_of("c1@x", "ta", "tb"), DLG_EARLY);
	cr_assert_eq(state_of("c1@x", "tb", "ta"), DLG_EARLY);
	cr_assert_eq(state_of("c1@x", "ta", "tc"), 0);
	cr_assert_eq(state_of("c2@x", "ta", "tb"), 0);
	cr_assert_eq(dlg_count(), 1);
	(void)cid;
}

Test(dlg, state_changes_replace_the_entry)
{
	struct dlg d = mk("c1@x", "ta", "tb", DLG_EARLY);
	const struct dlg *e;
	int64_t created;

	d.created_ms = 0;
	cr_assert_eq(dlg_publish(&d), 0);
	urcu_memb_read_lock();
	e = dlg_lookup_rcu(SLICE_LIT("c1@x"), SLICE_LIT("ta"), SLICE_LIT("tb"));
	cr_assert_not_null(e);
	created = e->created_ms;
	cr_assert_gt(created, 0);
	cr_assert(slice_eq(e->callee, SLICE_LIT("sip:bob@example.com")));
	urcu_memb_read_unlock();
	d.state = DLG_CONFIRMED;
	d.created_ms = created; /* the writer keeps it */
	cr_assert_eq(dlg_publish(&d), 0);
	cr_assert_eq(dlg_count(), 1);
	urcu_memb_read_lock();
	e = dlg_lookup_rcu(SLICE_LIT("c1@x"), SLICE_LIT("tb"), SLICE_LIT("ta"));
	cr_assert_eq(e->state, DLG_CONFIRMED);
	cr_assert_eq(e->created_ms, created);
	urcu_memb_read_unlock();
	cr_assert_eq(
	    dlg_remove(SLICE_LIT("c1@x"), SLICE_LIT("tb"), SLICE_LIT("ta")), 0);
	cr_assert_eq(state_of("c1@x", "ta", "tb"), 0);
	cr_assert_eq(
	    dlg_remove(SLICE_LIT("c1@x"), SLICE_LIT("ta"), SLICE_LIT("tb")),
	    -ENOENT);
}

Test(dlg, forked_early_dialogs_go_when_one_is_confirmed)
{
	struct dlg a = mk("c@x", "caller", "b1", DLG_EARLY);
	struct dlg b = mk("c@x", "caller", "b2", DLG_EARLY);
	struct dlg c = mk("c@x", "caller", "b3", DLG_EARLY);
	struct dlg other = mk("c@x", "someone", "b4", DLG_EARLY);

	cr_assert_eq(dlg_publish(&a), 0);
	cr_assert_eq(dlg_publish(&b), 0);
	cr_assert_eq(dlg_publish(&c), 0);
	cr_assert_eq(dlg_publish(&other), 0);
	b.state = DLG_CONFIRMED;
	cr_assert_eq(dlg_publish(&b), 0);
	cr_assert_eq(dlg_remove_early(SLICE_LIT("c@x"), SLICE_LIT("caller")),
		     2);
	cr_assert_eq(state_of("c@x", "caller", "b1"), 0);
	cr_assert_eq(state_of("c@x", "caller", "b2"), DLG_CONFIRMED);
	cr_assert_eq(state_of("c@x", "caller", "b3"), 0);
	cr_assert_eq(state_of("c@x", "someone", "b4"), DLG_EARLY);
}

Test(dlg, refuses_empty_keys)
{
	struct dlg d = mk("c@x", "", "tb", DLG_EARLY);

	cr_assert_eq(dlg_publish(&d), -EINVAL);
	d = mk("", "ta", "tb", DLG_EARLY);
	cr_assert_eq(dlg_publish(&d), -EINVAL);
	cr_assert_eq(dlg_count(), 0);
}

static void visit(const struct dlg *d, void *arg)
{
	unsigned *n = arg;

	if (d->state == DLG_CONFIRMED)
		(*n)++;
}

Test(dlg, sweep_takes_only_the_owners_old_entries)
{
	struct dlg d;
	int64_t now = dlg_now_ms();
	unsigned n = 0;

	d = mk("old-early@x", "a", "b", DLG_EARLY);
	d.changed_ms = now - 10000;
	cr_assert_eq(dlg_publish(&d), 0);
	d = mk("new-early@x", "a", "b", DLG_EARLY);
	d.changed_ms = now;
	cr_assert_eq(dlg_publish(&d), 0);
	d = mk("old-other@x", "a", "b", DLG_EARLY);
	d.changed_ms = now - 10000;
	d.owner = 2;
	cr_assert_eq(dlg_publish(&d), 0);
	d = mk("confirmed@x", "a", "b", DLG_CONFIRMED);
	d.changed_ms = now - 10000;
	cr_assert_eq(dlg_publish(&d), 0);
	d = mk("ended@x", "a", "b", DLG_TERMINATED);
	d.changed_ms = now - 10000;
	cr_assert_eq(dlg_publish(&d), 0);
	cr_assert_eq(dlg_sweep(1, now, 5000, 60000, 5000), 2);
	cr_assert_eq(state_of("old-early@x", "a", "b"), 0);
	cr_assert_eq(state_of("ended@x", "a", "b"), 0);
	cr_assert_eq(state_of("new-early@x", "a", "b"), DLG_EARLY);
	cr_assert_eq(state_of("old-other@x", "a", "b"), DLG_EARLY);
	cr_assert_eq(state_of("confirmed@x", "a", "b"), DLG_CONFIRMED);
	urcu_memb_read_lock();
	cr_assert_eq(dlg_foreach_rcu(visit, &n), 3);
	urcu_memb_read_unlock();
	cr_assert_eq(n, 1);
}

/* Readers on other threads while one writer changes every entry. */
static atomic_bool stop_readers;
static atomic_ulong bad, seen;

static void *reader(void *arg)
{
	char cid[32];
	unsigned long i = 0;

	(void)arg;
	urcu_memb_register_thread();
	while (!atomic_load(&stop_readers)) {
		const struct dlg *d;

		snprintf(cid, sizeof(cid), "call-%lu@x", i++ % 64);
		urcu_memb_read_lock();
		d = dlg_lookup_rcu(slice_cstr(cid), SLICE_LIT("ta"),
				   SLICE_LIT("tb"));
		if (d) {
			atomic_fetch_add(&seen, 1);
			/* An entry is whole and immutable while read. */
			if (!slice_eq(d->call_id, slice_cstr(cid)) ||
			    d->state < DLG_EARLY || d->state > DLG_TERMINATED ||
			    !slice_eq(d->caller_tag, SLICE_LIT("ta")))
				atomic_fetch_add(&bad, 1);
		}
		urcu_memb_read_unlock();
	}
	urcu_memb_unregister_thread();
	return NULL;
}

Test(dlg, readers_on_other_threads_see_whole_entries)
{
	pthread_t th[2];
	char cid[32];

	atomic_store(&stop_readers, false);
	atomic_store(&bad, 0);
	atomic_store(&seen, 0);
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, reader, NULL), 0);
	for (unsigned round = 0; round < 300; round++) {
		for (unsigned k = 0; k < 64; k++) {
			struct dlg d;

			snprintf(cid, sizeof(cid), "call-%u@x", k);
			d = mk(cid, "ta", "tb",
			       (enum dlg_state)(DLG_EARLY + (round + k) % 3));
			cr_assert_eq(dlg_publish(&d), 0);
			if ((round + k) % 7 == 0)
				dlg_remove(slice_cstr(cid), SLICE_LIT("ta"),
					   SLICE_LIT("tb"));
		}
	}
	atomic_store(&stop_readers, true);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	cr_assert_eq(atomic_load(&bad), 0);
	cr_assert_gt(atomic_load(&seen), 0, "the readers never found one");
}

/* What dialog.end needs of each UA (proxy/hangup.h). */
static struct dlg mk_uas(const char *cid)
{
	struct dlg d = mk(cid, "ta", "tb", DLG_CONFIRMED);
	struct peer p;

	memset(&p, 0, sizeof(p));
	d.ua[DLG_CALLER].contact = SLICE_LIT("sip:alice@10.0.0.1:5062");
	d.ua[DLG_CALLER].route = SLICE_LIT("<sip:p1.example.com;lr>");
	d.ua[DLG_CALLER].cseq = 1;
	p.proto = PEER_TCP;
	p.conn_id = 42;
	p.listen_idx = 1;
	cr_assert_eq(peer_addr_parse("10.0.0.1", 5062, &p.addr, &p.addrlen), 0);
	d.ua[DLG_CALLEE].contact = SLICE_LIT("sip:bob@10.0.0.2");
	d.ua[DLG_CALLER].hop = dlg_hop_of(&p);
	cr_assert_eq(peer_addr_parse("::1", 5070, &p.addr, &p.addrlen), 0);
	p.proto = PEER_UDP;
	p.conn_id = 0;
	d.ua[DLG_CALLEE].hop = dlg_hop_of(&p);
	return d;
}

/* A copy of the dialog's state (slices borrowed: read them at once). */
static struct dlg get(const char *cid, const char *a, const char *b)
{
	const struct dlg *e;
	struct dlg d;

	urcu_memb_read_lock();
	e = dlg_lookup_rcu(slice_cstr(cid), slice_cstr(a), slice_cstr(b));
	cr_assert_not_null(e, "%s is not in the table", cid);
	d = *e;
	urcu_memb_read_unlock();
	return d;
}

Test(dlg, each_uas_state_is_copied_into_the_entry)
{
	char contact[] = "sip:alice@10.0.0.1:5062";
	struct dlg d = mk_uas("u@x"), e;
	const struct dlg *q;
	struct peer p;

	d.ua[DLG_CALLER].contact = slice_cstr(contact);
	cr_assert_eq(dlg_publish(&d), 0);
	contact[4] = 'X';
	urcu_memb_read_lock();
	q = dlg_lookup_rcu(SLICE_LIT("u@x"), SLICE_LIT("ta"), SLICE_LIT("tb"));
	cr_assert_not_null(q);
	e = *q;
	cr_assert(slice_eq(e.ua[DLG_CALLER].contact,
			   SLICE_LIT("sip:alice@10.0.0.1:5062")));
	cr_assert(e.ua[DLG_CALLER].contact.p != contact);
	cr_assert(slice_eq(e.ua[DLG_CALLER].route,
			   SLICE_LIT("<sip:p1.example.com;lr>")));
	cr_assert(
	    slice_eq(e.ua[DLG_CALLEE].contact, SLICE_LIT("sip:bob@10.0.0.2")));
	cr_assert_eq(e.ua[DLG_CALLEE].route.len, 0);
	p = dlg_hop_peer(&e.ua[DLG_CALLER].hop);
	cr_assert_eq(p.proto, PEER_TCP);
	cr_assert_eq(p.conn_id, 42);
	cr_assert_eq(p.listen_idx, 1);
	cr_assert_eq(p.addrlen, sizeof(struct sockaddr_in));
	cr_assert_eq(((struct sockaddr_in *)&p.addr)->sin_port, htons(5062));
	cr_assert_eq(e.ua[DLG_CALLER].cseq, 1);
	cr_assert_eq(e.ua[DLG_CALLEE].cseq, 0);
	p = dlg_hop_peer(&e.ua[DLG_CALLEE].hop);
	cr_assert_eq(p.addr.ss_family, AF_INET6);
	cr_assert_eq(p.addrlen, sizeof(struct sockaddr_in6));
	cr_assert_eq(((struct sockaddr_in6 *)&p.addr)->sin6_port, htons(5070));
	cr_assert_eq(p.proto, PEER_UDP);
	urcu_memb_read_unlock();
	/* No address: none comes back. */
	memset(&p, 0, sizeof(p));
	e.ua[0].hop = dlg_hop_of(&p);
	cr_assert_eq(e.ua[0].hop.addr.sa.sa_family, AF_UNSPEC);
	cr_assert_eq(dlg_hop_peer(&e.ua[0].hop).addrlen, 0);
}

Test(dlg, in_dialog_requests_raise_their_senders_cseq_only)
{
	struct dlg d = mk_uas("c@x"), e;

	cr_assert_eq(dlg_publish(&d), 0);
	/* The caller's INFO: From tag ta. */
	cr_assert_eq(dlg_note_request(SLICE_LIT("c@x"), SLICE_LIT("ta"),
				      SLICE_LIT("tb"), 2, SLICE_LIT("")),
		     1);
	/* The callee's, tags the other way round. */
	cr_assert_eq(dlg_note_request(SLICE_LIT("c@x"), SLICE_LIT("tb"),
				      SLICE_LIT("ta"), 7, SLICE_LIT("")),
		     1);
	e = get("c@x", "ta", "tb");
	cr_assert_eq(e.ua[DLG_CALLER].cseq, 2);
	cr_assert_eq(e.ua[DLG_CALLEE].cseq, 7);
	/* A retransmission or an older request changes nothing. */
	cr_assert_eq(dlg_note_request(SLICE_LIT("c@x"), SLICE_LIT("ta"),
				      SLICE_LIT("tb"), 2, SLICE_LIT("")),
		     0);
	cr_assert_eq(dlg_note_request(SLICE_LIT("c@x"), SLICE_LIT("tb"),
				      SLICE_LIT("ta"), 5, SLICE_LIT("")),
		     0);
	e = get("c@x", "ta", "tb");
	cr_assert_eq(e.ua[DLG_CALLER].cseq, 2);
	cr_assert_eq(e.ua[DLG_CALLEE].cseq, 7);
	/* The rest of the entry stays as it was. */
	cr_assert_eq(e.state, DLG_CONFIRMED);
	cr_assert(slice_eq(e.ua[DLG_CALLER].route,
			   SLICE_LIT("<sip:p1.example.com;lr>")));
	cr_assert_eq(dlg_count(), 1);
	/* Another dialog, another Call-ID: not found. */
	cr_assert_eq(dlg_note_request(SLICE_LIT("c@x"), SLICE_LIT("ta"),
				      SLICE_LIT("tc"), 9, SLICE_LIT("")),
		     -ENOENT);
	cr_assert_eq(dlg_note_request(SLICE_LIT("d@x"), SLICE_LIT("ta"),
				      SLICE_LIT("tb"), 9, SLICE_LIT("")),
		     -ENOENT);
}

Test(dlg, target_refresh_replaces_the_senders_contact)
{
	struct dlg d = mk_uas("r@x"), e;

	cr_assert_eq(dlg_publish(&d), 0);
	/* A re-INVITE from the callee with a new Contact, same CSeq as
	 * none seen before it. */
	cr_assert_eq(dlg_note_request(SLICE_LIT("r@x"), SLICE_LIT("tb"),
				      SLICE_LIT("ta"), 1,
				      SLICE_LIT("sip:bob@10.0.0.9:5070")),
		     1);
	e = get("r@x", "ta", "tb");
	cr_assert(slice_eq(e.ua[DLG_CALLEE].contact,
			   SLICE_LIT("sip:bob@10.0.0.9:5070")));
	cr_assert(slice_eq(e.ua[DLG_CALLER].contact,
			   SLICE_LIT("sip:alice@10.0.0.1:5062")));
	cr_assert_eq(e.ua[DLG_CALLEE].cseq, 1);
	/* The same Contact again: nothing to publish. */
	cr_assert_eq(dlg_note_request(SLICE_LIT("r@x"), SLICE_LIT("tb"),
				      SLICE_LIT("ta"), 1,
				      SLICE_LIT("sip:bob@10.0.0.9:5070")),
		     0);
}

Test(dlg, set_state_keeps_everything_else)
{
	struct dlg d = mk_uas("s@x"), e;

	d.ua[DLG_CALLEE].cseq = 4;
	cr_assert_eq(dlg_publish(&d), 0);
	cr_assert_eq(dlg_set_state(SLICE_LIT("s@x"), SLICE_LIT("tb"),
				   SLICE_LIT("ta"), DLG_TERMINATED),
		     0);
	e = get("s@x", "ta", "tb");
	cr_assert_eq(e.state, DLG_TERMINATED);
	cr_assert_eq(e.ua[DLG_CALLEE].cseq, 4);
	cr_assert(slice_eq(e.callee, SLICE_LIT("sip:bob@example.com")));
	cr_assert_eq(dlg_set_state(SLICE_LIT("s@x"), SLICE_LIT("ta"),
				   SLICE_LIT("zz"), DLG_TERMINATED),
		     -ENOENT);
}

static void count_visit(const struct dlg *d, void *arg)
{
	unsigned *n = arg;

	cr_assert(slice_eq(d->call_id, SLICE_LIT("f@x")));
	(*n)++;
}

Test(dlg, foreach_call_visits_every_dialog_of_one_call_id)
{
	struct dlg a = mk("f@x", "caller", "b1", DLG_CONFIRMED);
	struct dlg b = mk("f@x", "caller", "b2", DLG_EARLY);
	struct dlg other = mk("g@x", "caller", "b1", DLG_CONFIRMED);
	unsigned n = 0;

	cr_assert_eq(dlg_publish(&a), 0);
	cr_assert_eq(dlg_publish(&b), 0);
	cr_assert_eq(dlg_publish(&other), 0);
	urcu_memb_read_lock();
	cr_assert_eq(dlg_foreach_call_rcu(SLICE_LIT("f@x"), count_visit, &n),
		     2);
	cr_assert_eq(dlg_foreach_call_rcu(SLICE_LIT("none@x"), count_visit, &n),
		     0);
	urcu_memb_read_unlock();
	cr_assert_eq(n, 2);
	cr_assert_str_eq(dlg_state_name(DLG_EARLY), "early");
	cr_assert_str_eq(dlg_state_name(DLG_CONFIRMED), "confirmed");
	cr_assert_str_eq(dlg_state_name(DLG_TERMINATED), "terminated");
}

/* Every page of @p max, one after the other: the keys as "cid/a/b"
 * lines into @p buf. Returns the number of pages. */
static unsigned all_pages(size_t max, char *buf, size_t size)
{
	const struct dlg *v[64];
	char last[3][32];
	struct dlg_key after;
	unsigned pages = 0;
	size_t o = 0, n;
	bool more = true, first = true;

	cr_assert_leq(max, 64);
	buf[0] = '\0';
	/* Bounded: one page per entry at most, and one past the end. */
	while (more && pages < 100) {
		urcu_memb_read_lock();
		n = dlg_page_rcu(first ? NULL : &after, v, max, &more);
		for (size_t i = 0; i < n; i++)
			o += (size_t)snprintf(
			    buf + o, size - o, "%.*s/%.*s/%.*s\n",
			    (int)v[i]->call_id.len, v[i]->call_id.p,
			    (int)v[i]->caller_tag.len, v[i]->caller_tag.p,
			    (int)v[i]->callee_tag.len, v[i]->callee_tag.p);
		if (n) {
			snprintf(last[0], 32, "%.*s",
				 (int)v[n - 1]->call_id.len,
				 v[n - 1]->call_id.p);
			snprintf(last[1], 32, "%.*s",
				 (int)v[n - 1]->caller_tag.len,
				 v[n - 1]->caller_tag.p);
			snprintf(last[2], 32, "%.*s",
				 (int)v[n - 1]->callee_tag.len,
				 v[n - 1]->callee_tag.p);
		}
		urcu_memb_read_unlock();
		cr_assert(n == max || !more, "a short page says more follow");
		after.call_id = slice_cstr(last[0]);
		after.caller_tag = slice_cstr(last[1]);
		after.callee_tag = slice_cstr(last[2]);
		first = false;
		pages++;
	}
	return pages;
}

Test(dlg, pages_walk_the_table_in_key_order)
{
	char want[4096], got[4096], cid[16];
	size_t o = 0;
	struct dlg d;

	/* 40 Call-IDs published out of order (7 is prime to 40), the
	 * last one forked: two callee tags, and a prefix caller tag. */
	for (unsigned i = 0; i < 40; i++) {
		snprintf(cid, sizeof(cid), "p-%02u", (i * 7) % 40);
		d = mk(cid, "ta", "tb", DLG_CONFIRMED);
		cr_assert_eq(dlg_publish(&d), 0);
	}
	d = mk("p-39", "ta", "tc", DLG_EARLY);
	cr_assert_eq(dlg_publish(&d), 0);
	d = mk("p-39", "t", "tz", DLG_EARLY);
	cr_assert_eq(dlg_publish(&d), 0);
	for (unsigned i = 0; i < 39; i++)
		o += (size_t)snprintf(want + o, sizeof(want) - o,
				      "p-%02u/ta/tb\n", i);
	snprintf(want + o, sizeof(want) - o,
		 "p-39/t/tz\np-39/ta/tb\np-39/ta/tc\n");
	cr_assert_eq(all_pages(1, got, sizeof(got)), 42);
	cr_assert_str_eq(got, want);
	cr_assert_eq(all_pages(3, got, sizeof(got)), 14);
	cr_assert_str_eq(got, want);
	cr_assert_eq(all_pages(7, got, sizeof(got)), 6);
	cr_assert_str_eq(got, want);
	cr_assert_eq(all_pages(42, got, sizeof(got)), 1);
	cr_assert_str_eq(got, want);
	cr_assert_eq(all_pages(64, got, sizeof(got)), 1);
	cr_assert_str_eq(got, want);
}

Test(dlg, a_page_past_the_end_is_empty)
{
	struct dlg d = mk("a@x", "ta", "tb", DLG_CONFIRMED);
	struct dlg_key past = { SLICE_LIT("z"), SLICE_LIT(""), SLICE_LIT("") };
	struct dlg_key same = { SLICE_LIT("a@x"), SLICE_LIT("ta"),
				SLICE_LIT("tb") };
	const struct dlg *v[4];
	bool more = true;

	cr_assert_eq(dlg_publish(&d), 0);
	urcu_memb_read_lock();
	cr_assert_eq(dlg_page_rcu(&past, v, 4, &more), 0);
	cr_assert(!more);
	cr_assert_eq(dlg_page_rcu(&same, v, 4, &more), 0, "after is excluded");
	cr_assert_eq(dlg_page_rcu(NULL, v, 4, &more), 1);
	cr_assert(!more);
	cr_assert_eq(dlg_page_rcu(NULL, v, 0, &more), 0);
	urcu_memb_read_unlock();
	cr_assert_lt(dlg_key_cmp(&same, &past), 0);
}
