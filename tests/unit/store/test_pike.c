/* tests/unit/store/test_pike.c - per-source rates, bans, budgets: the table */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store/pike.h"

static struct pike *t;

static void setup(void)
{
	cr_assert_eq(pike_new(1024, &t), 0);
}

static void teardown(void)
{
	pike_free(t);
	t = NULL;
}

TestSuite(pike, .init = setup, .fini = teardown, .timeout = 60);

static struct sockaddr_storage v4(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	in->sin_family = AF_INET;
	in->sin_port = htons(port);
	cr_assert_eq(inet_pton(AF_INET, ip, &in->sin_addr), 1);
	return ss;
}

static struct sockaddr_storage v4n(uint32_t n)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	in->sin_family = AF_INET;
	in->sin_addr.s_addr = htonl(n);
	return ss;
}

#define SA(ss) ((const struct sockaddr *)&(ss))

static const struct pike_limits lim = {
	.rate = 10, .burst = 20, .ban_ms = 5000, .credit_max = 4096
};

Test(pike, rounds_slots_and_refuses_bad_sizes)
{
	struct pike *p;

	cr_assert_geq(pike_slots(t), 1024);
	cr_assert_eq(pike_new(0, &p), -EINVAL);
	cr_assert_eq(pike_new((1u << 24) + 1, &p), -EINVAL);
}

Test(pike, passes_the_burst_then_says_over)
{
	struct sockaddr_storage a = v4("192.0.2.1", 5060);

	for (int i = 0; i < 20; i++)
		cr_assert_eq(pike_admit(t, SA(a), 100, 1000, &lim), PIKE_PASS,
			     "message %d", i);
	cr_assert_eq(pike_admit(t, SA(a), 100, 1000, &lim), PIKE_OVER);
}

Test(pike, refills_at_the_rate)
{
	struct sockaddr_storage a = v4("192.0.2.1", 5060);

	for (int i = 0; i < 20; i++)
		pike_admit(t, SA(a), 100, 1000, &lim);
	cr_assert_eq(pike_admit(t, SA(a), 100, 1000, &lim), PIKE_OVER);
	/* 10/s: one token per 100 ms. */
	cr_assert_eq(pike_admit(t, SA(a), 100, 1100, &lim), PIKE_PASS);
	cr_assert_eq(pike_admit(t, SA(a), 100, 1100, &lim), PIKE_OVER);
	/* A clock that goes back (another shard's) refills nothing. */
	cr_assert_eq(pike_admit(t, SA(a), 100, 1050, &lim), PIKE_OVER);
}

Test(pike, port_does_not_matter)
{
	struct sockaddr_storage a = v4("192.0.2.1", 5060);

	for (int i = 0; i < 20; i++) {
		struct sockaddr_storage b =
		    v4("192.0.2.1", (uint16_t)(1000 + i));

		pike_admit(t, SA(b), 100, 1000, &lim);
	}
	cr_assert_eq(pike_admit(t, SA(a), 100, 1000, &lim), PIKE_OVER);
}

Test(pike, ban_drops_until_it_ends_then_starts_fresh)
{
	struct sockaddr_storage a = v4("192.0.2.1", 5060);
	struct sockaddr_storage b = v4("192.0.2.2", 5060);
	struct pike_ban bans[4];

	cr_assert_eq(pike_ban(t, SA(a), 1000, &lim), 1);
	cr_assert_eq(pike_ban(t, SA(a), 1001, &lim), 0, "logged once");
	for (int i = 0; i < 5; i++)
		cr_assert_eq(pike_admit(t, SA(a), 100, 2000, &lim),
			     PIKE_BANNED);
	cr_assert_eq(pike_admit(t, SA(b), 100, 2000, &lim), PIKE_PASS);
	cr_assert_eq(pike_list(t, 2000, bans, 4), 1);
	cr_assert_eq(bans[0].until_ms, 6000);
	cr_assert_eq(bans[0].dropped, 5);
	cr_assert_eq(bans[0].addr.ss_family, AF_INET);
	cr_assert_eq(((struct sockaddr_in *)&bans[0].addr)->sin_addr.s_addr,
		     ((struct sockaddr_in *)&a)->sin_addr.s_addr);
	cr_assert_eq(pike_banned(t, 2000), 1);
	cr_assert_eq(pike_admit(t, SA(a), 100, 6000, &lim), PIKE_PASS);
	cr_assert_eq(pike_banned(t, 6000), 0);
	cr_assert_eq(pike_list(t, 6000, bans, 4), 0);
}

Test(pike, unban_lifts_and_refills)
{
	struct sockaddr_storage a = v4("192.0.2.1", 5060);
	struct sockaddr_storage u;

	memset(&u, 0, sizeof(u));
	u.ss_family = AF_UNIX;
	cr_assert_eq(pike_unban(t, SA(a), 1000), -ENOENT);
	cr_assert_eq(pike_ban(t, SA(a), 1000, &lim), 1);
	cr_assert_eq(pike_unban(t, SA(a), 1500), 0);
	cr_assert_eq(pike_unban(t, SA(a), 1500), -ENOENT);
	for (int i = 0; i < 20; i++)
		cr_assert_eq(pike_admit(t, SA(a), 100, 1500, &lim), PIKE_PASS);
	cr_assert_eq(pike_unban(t, SA(u), 1500), -EAFNOSUPPORT);
	cr_assert_eq(pike_ban(t, SA(u), 1500, &lim), -EAFNOSUPPORT);
	cr_assert_eq(pike_admit(t, SA(u), 100, 1500, &lim), PIKE_PASS);
}

Test(pike, ipv6_sources_are_distinct)
{
	struct sockaddr_storage a, b;
	struct sockaddr_in6 *in6;
	struct pike_ban ban;

	memset(&a, 0, sizeof(a));
	in6 = (struct sockaddr_in6 *)&a;
	in6->sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::1", &in6->sin6_addr);
	b = a;
	in6 = (struct sockaddr_in6 *)&b;
	inet_pton(AF_INET6, "2001:db8::2", &in6->sin6_addr);
	cr_assert_eq(pike_ban(t, SA(a), 1000, &lim), 1);
	cr_assert_eq(pike_admit(t, SA(b), 1, 1000, &lim), PIKE_PASS);
	cr_assert_eq(pike_list(t, 1000, &ban, 1), 1);
	cr_assert_eq(ban.addr.ss_family, AF_INET6);
	cr_assert_eq(ban.addrlen, sizeof(struct sockaddr_in6));
	cr_assert_eq(memcmp(&((struct sockaddr_in6 *)&ban.addr)->sin6_addr,
			    &((struct sockaddr_in6 *)&a)->sin6_addr, 16),
		     0);
}

Test(pike, answers_spend_what_the_source_sent)
{
	struct sockaddr_storage a = v4("192.0.2.1", 5060);
	struct sockaddr_storage n = v4("192.0.2.9", 5060);

	/* Unknown to the table: nothing to charge. */
	cr_assert(pike_answer(t, SA(n), 10000));
	pike_admit(t, SA(a), 300, 1000, &lim);
	cr_assert(pike_answer(t, SA(a), 200));
	cr_assert(pike_answer(t, SA(a), 100));
	cr_assert_not(pike_answer(t, SA(a), 1), "credit spent");
	pike_admit(t, SA(a), 300, 1000, &lim);
	cr_assert_not(pike_answer(t, SA(a), 301));
	cr_assert(pike_answer(t, SA(a), 300));
	/* Capped at credit_max. */
	for (int i = 0; i < 10; i++)
		pike_admit(t, SA(a), 1000, 1000 + (uint64_t)i * 1000, &lim);
	cr_assert(pike_answer(t, SA(a), 4096));
	cr_assert_not(pike_answer(t, SA(a), 1));
	/* Vouched: not charged any more. */
	pike_vouch(t, SA(a));
	cr_assert(pike_answer(t, SA(a), 100000));
	/* A ban takes the voucher back. */
	pike_ban(t, SA(a), 20000, &lim);
	pike_admit(t, SA(a), 100, 30000, &lim);
	cr_assert_not(pike_answer(t, SA(a), 101));
}

Test(pike, spoofed_flood_keeps_the_table_bounded_and_bans_alive)
{
	struct sockaddr_storage bad = v4("192.0.2.66", 5060);
	size_t slots = pike_slots(t);

	cr_assert_eq(pike_ban(t, SA(bad), 1000, &lim), 1);
	/* 100 times as many sources as slots, each seen once. */
	for (uint32_t i = 0; i < 100 * slots; i++) {
		struct sockaddr_storage s = v4n(0x0a000000u + i);

		cr_assert_eq(pike_admit(t, SA(s), 100, 2000, &lim), PIKE_PASS);
	}
	/* The ban survived: unbanned slots are taken first. */
	cr_assert_eq(pike_admit(t, SA(bad), 100, 2000, &lim), PIKE_BANNED);
	cr_assert_eq(pike_banned(t, 2000), 1);
	cr_assert_eq(pike_slots(t), slots, "no growth");
}

Test(pike, whole_bucket_banned_evicts_the_ban_ending_first)
{
	struct pike *p;
	struct sockaddr_storage s;
	struct pike_limits l = lim;

	/* One bucket: every source shares it. */
	cr_assert_eq(pike_new(PIKE_WAYS, &p), 0);
	for (uint32_t i = 0; i < PIKE_WAYS; i++) {
		s = v4n(0x0a000000u + i);
		l.ban_ms = 5000 + i * 1000;
		cr_assert_eq(pike_ban(p, SA(s), 1000, &l), 1);
	}
	s = v4n(0x0b000000u);
	cr_assert_eq(pike_admit(p, SA(s), 1, 1000, &lim), PIKE_PASS);
	cr_assert_eq(pike_banned(p, 1000), PIKE_WAYS - 1);
	s = v4n(0x0a000000u);
	cr_assert_eq(pike_admit(p, SA(s), 1, 1000, &lim), PIKE_PASS,
		     "the shortest ban went");
	pike_free(p);
}

struct worker {
	struct pike *p;
	unsigned id;
	unsigned over;
};

static void *hammer(void *arg)
{
	struct worker *w = arg;
	struct sockaddr_storage one = v4("192.0.2.1", 5060);
	struct pike_limits l = { .rate = 1, .burst = 1000, .ban_ms = 1000 };

	for (uint32_t i = 0; i < 200000; i++) {
		struct sockaddr_storage s = v4n(0x0a000000u + (i % 500));

		pike_admit(w->p, SA(s), 10, 1000, &l);
		if (i % 100 == 0 &&
		    pike_admit(w->p, SA(one), 10, 1000, &l) == PIKE_OVER)
			w->over++;
	}
	return NULL;
}

/* Two (and four) threads on one source: the bucket is spent exactly. */
Test(pike, shared_by_threads_counts_exactly)
{
	struct worker w[4];
	pthread_t th[4];
	unsigned over = 0;
	struct pike *p;

	/* Room for all 501 sources: no eviction refills the bucket. */
	cr_assert_eq(pike_new(65536, &p), 0);
	for (unsigned i = 0; i < 4; i++) {
		w[i] = (struct worker){ .p = p, .id = i };
		cr_assert_eq(pthread_create(&th[i], NULL, hammer, &w[i]), 0);
	}
	for (unsigned i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		over += w[i].over;
	}
	/* 4 x 2000 messages of the one source, a burst of 1000 and no
	 * refill (one clock instant): exactly 7000 over. */
	pike_free(p);
	cr_assert_eq(over, 7000);
}

static uint64_t ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Not a pass criterion (timings live in bench/): prints the cost of one
 * pike_admit() on a warm table of 64 Ki slots, 10,000 sources. */
Test(pike, bench_ns_per_lookup)
{
	struct pike *p;
	const unsigned n = 2000000;
	struct pike_limits l = { .rate = 1000000,
				 .burst = 1000000,
				 .ban_ms = 1000,
				 .credit_max = 65536 };
	uint64_t t0, t1;
	unsigned pass = 0;

	cr_assert_eq(pike_new(65536, &p), 0);
	t0 = ns();
	for (unsigned i = 0; i < n; i++) {
		struct sockaddr_storage s = v4n(0x0a000000u + (i % 10000));

		pass +=
		    pike_admit(p, SA(s), 500, 1000 + i / 1000, &l) == PIKE_PASS;
	}
	t1 = ns();
	cr_assert_eq(pass, n);
	fprintf(stderr, "pike: %.1f ns per pike_admit() (%u lookups)\n",
		(double)(t1 - t0) / n, n);
	pike_free(p);
}

Test(pike, is_banned_counts_nothing)
{
	struct sockaddr_storage a = v4("192.0.2.1", 5060);
	struct pike_ban ban;

	cr_assert_not(pike_is_banned(t, SA(a), 1000));
	cr_assert_eq(pike_ban(t, SA(a), 1000, &lim), 1);
	cr_assert(pike_is_banned(t, SA(a), 1001));
	cr_assert_not(pike_is_banned(t, SA(a), 6000), "ended");
	cr_assert_eq(pike_list(t, 1001, &ban, 1), 1);
	cr_assert_eq(ban.dropped, 0);
}
