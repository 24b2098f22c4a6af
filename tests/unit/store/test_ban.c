/* tests/unit/store/test_ban.c - ban table: pairs, sources, windows, listing,
 * removal */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "store/ban.h"
#include "store/rcu.h"

#define NOW 1700000000

static struct sockaddr_in a1, a2;
static const struct ban_limits lim = { 3, 5, 60, 100 };

static void set_addr(struct sockaddr_in *in, const char *ip, int port)
{
	memset(in, 0, sizeof(*in));
	in->sin_family = AF_INET;
	in->sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, ip, &in->sin_addr);
}

static void setup(void)
{
	urcu_memb_register_thread();
	cr_assert_eq(ban_init(16), 0);
	set_addr(&a1, "192.0.2.1", 5060);
	set_addr(&a2, "192.0.2.2", 5060);
}

static void teardown(void)
{
	ban_fini();
	urcu_memb_unregister_thread();
}

TestSuite(ban, .init = setup, .fini = teardown, .timeout = 30);

#define SA(x) ((const struct sockaddr *)&(x))

Test(ban, pair_is_banned_at_its_limit_for_ban_s)
{
	const char *why = NULL;

	cr_assert_eq(
	    ban_fail(BAN_AUTH, SA(a1), SLICE_LIT("alice"), NOW, &lim, &why), 0);
	cr_assert_eq(
	    ban_fail(BAN_AUTH, SA(a1), SLICE_LIT("alice"), NOW, &lim, &why), 0);
	cr_assert_eq(
	    ban_fail(BAN_AUTH, SA(a1), SLICE_LIT("alice"), NOW, &lim, &why), 1);
	cr_assert_not_null(strstr(why, "user"));
	/* Another port of the same address: the same source. */
	set_addr(&a1, "192.0.2.1", 40000);
	cr_assert(ban_is_banned(BAN_AUTH, SA(a1), SLICE_LIT("alice"), NOW));
	cr_assert(!ban_is_banned(BAN_AUTH, SA(a1), SLICE_LIT("bob"), NOW));
	cr_assert(!ban_is_banned(BAN_AUTH, SA(a2), SLICE_LIT("alice"), NOW));
	cr_assert(!ban_is_banned(BAN_RATE, SA(a1), SLICE_LIT("alice"), NOW));
	cr_assert(
	    ban_is_banned(BAN_AUTH, SA(a1), SLICE_LIT("alice"), NOW + 99));
	cr_assert(
	    !ban_is_banned(BAN_AUTH, SA(a1), SLICE_LIT("alice"), NOW + 100));
}

Test(ban, failures_outside_the_window_start_over)
{
	for (int i = 0; i < 2; i++)
		ban_fail(BAN_AUTH, SA(a1), SLICE_LIT("alice"), NOW, &lim, NULL);
	cr_assert_eq(ban_fail(BAN_AUTH, SA(a1), SLICE_LIT("alice"), NOW + 60,
			      &lim, NULL),
		     0);
	cr_assert(
	    !ban_is_banned(BAN_AUTH, SA(a1), SLICE_LIT("alice"), NOW + 60));
}

Test(ban, source_limit_counts_every_user)
{
	const char *why = NULL;
	char u[8];
	int ret = 0;

	for (int i = 0; i < 5; i++) {
		u[0] = (char)('a' + i);
		ret = ban_fail(BAN_AUTH, SA(a1), slice_make(u, 1), NOW, &lim,
			       &why);
	}
	cr_assert_eq(ret, 1);
	cr_assert_not_null(strstr(why, "source"));
	cr_assert(ban_is_banned(BAN_AUTH, SA(a1), SLICE_LIT("zed"), NOW));
	cr_assert(ban_is_banned(BAN_AUTH, SA(a1), slice_make(NULL, 0), NOW));
}

static bool collect(const struct ban_info *b, void *arg)
{
	int *n = arg;

	cr_assert_eq(b->kind, BAN_AUTH);
	cr_assert_eq(b->src.ss_family, AF_INET);
	cr_assert_str_eq(b->user, "alice");
	cr_assert_eq(b->until_s, NOW + 100);
	cr_assert_eq(b->failures, 3);
	(*n)++;
	return true;
}

Test(ban, listing_shows_bans_and_remove_lifts_them)
{
	struct slice alice = SLICE_LIT("alice");
	int n = 0;

	for (int i = 0; i < 3; i++)
		ban_fail(BAN_AUTH, SA(a1), alice, NOW, &lim, NULL);
	cr_assert_eq(ban_foreach(NOW, collect, &n), 1);
	cr_assert_eq(n, 1);
	cr_assert_eq(ban_remove(SA(a2), NULL), 0);
	cr_assert_eq(ban_remove(SA(a1), &alice), 1);
	cr_assert(!ban_is_banned(BAN_AUTH, SA(a1), alice, NOW));
	/* The source entry (3 failures) is still there; remove all. */
	cr_assert_eq(ban_remove(SA(a1), NULL), 1);
	cr_assert_eq(ban_count(), 0);
}

Test(ban, full_table_is_swept_and_bounded)
{
	char u[8];
	int ret;

	/* 16 entries: the source and 15 users. */
	for (int i = 0; i < 15; i++) {
		u[0] = (char)('a' + i);
		cr_assert_geq(ban_fail(BAN_AUTH, SA(a2), slice_make(u, 1), NOW,
				       &lim, NULL),
			      0);
	}
	ret = ban_fail(BAN_AUTH, SA(a1), SLICE_LIT("x"), NOW, &lim, NULL);
	cr_assert_eq(ret, -ENOSPC);
	cr_assert_leq(ban_count(), 16);
	/* Past the ban and the window, a sweep frees the room. */
	cr_assert_eq(
	    ban_fail(BAN_AUTH, SA(a1), SLICE_LIT("x"), NOW + 200, &lim, NULL),
	    0);
	cr_assert_eq(ban_count(), 2);
}

static bool count_rate(const struct ban_info *b, void *arg)
{
	int *n = arg;

	if (b->kind == BAN_RATE) {
		cr_assert_str_eq(b->user, "");
		cr_assert_str_eq(b->reason, "request rate");
		(*n)++;
	}
	return true;
}

Test(ban, put_bans_a_source_of_another_kind_apart)
{
	int n = 0;

	cr_assert_eq(ban_put(BAN_RATE, SA(a1), slice_make(NULL, 0), NOW, 30),
		     0);
	cr_assert(ban_is_banned(BAN_RATE, SA(a1), SLICE_LIT("anyone"), NOW));
	cr_assert(!ban_is_banned(BAN_AUTH, SA(a1), SLICE_LIT("anyone"), NOW));
	/* Extended, never shortened. */
	cr_assert_eq(ban_put(BAN_RATE, SA(a1), slice_make(NULL, 0), NOW, 5), 0);
	cr_assert(
	    ban_is_banned(BAN_RATE, SA(a1), slice_make(NULL, 0), NOW + 29));
	cr_assert(
	    !ban_is_banned(BAN_RATE, SA(a1), slice_make(NULL, 0), NOW + 30));
	cr_assert_eq(ban_foreach(NOW, count_rate, &n), 1);
	cr_assert_eq(n, 1);
	cr_assert_eq(ban_remove(SA(a1), NULL), 1);
}
