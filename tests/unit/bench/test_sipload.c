/* tests/unit/bench/test_sipload.c - sipload's histogram, user lists and
 * timer wheel (its digest is proxy/sip/digest: tests/unit/proxy/sip) */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

/* The unit binary links proxy/ and tests/ only: sipload's modules are
 * compiled in here. */
#include "bench/sipload/hist.c"
#include "bench/sipload/userlist.c"
#include "bench/sipload/wheel.c"

static void setup(void)
{
}

static void teardown(void)
{
}

TestSuite(sipload_hist, .init = setup, .fini = teardown, .timeout = 10);
TestSuite(sipload_userlist, .init = setup, .fini = teardown, .timeout = 10);
TestSuite(sipload_wheel, .init = setup, .fini = teardown, .timeout = 10);

Test(sipload_hist, buckets_are_monotonic_and_tight)
{
	uint64_t v;
	unsigned prev = 0;

	for (v = 0; v < 64; v++)
		cr_assert_eq(hist_bucket(v), v);
	for (v = 1; v < (1ULL << 39); v = v * 3 / 2 + 1) {
		unsigned b = hist_bucket(v);

		cr_assert_geq(b, prev);
		prev = b;
		/* The bucket holds v and is at most 1/32 wide. */
		cr_assert_geq(hist_bucket_high(b), v);
		if (b)
			cr_assert_lt(hist_bucket_high(b - 1), v);
		cr_assert_leq(hist_bucket_high(b) - v, v / 32 + 1);
	}
	cr_assert_eq(hist_bucket(UINT64_MAX), HIST_BUCKETS - 1);
}

Test(sipload_hist, percentiles_within_bucket_error)
{
	static struct hist h, h2;
	uint64_t i;

	memset(&h, 0, sizeof(h));
	memset(&h2, 0, sizeof(h2));
	cr_assert_eq(hist_percentile(&h, 50), 0);
	for (i = 1; i <= 10000; i++)
		hist_add(i % 2 ? &h : &h2, i * 10);
	hist_merge(&h, &h2);
	cr_assert_eq(h.count, 10000);
	cr_assert_eq(h.min, 10);
	cr_assert_eq(h.max, 100000);
	cr_assert_geq(hist_percentile(&h, 50), 50000);
	cr_assert_leq(hist_percentile(&h, 50), 50000 + 50000 / 32 + 1);
	cr_assert_geq(hist_percentile(&h, 99), 99000);
	cr_assert_leq(hist_percentile(&h, 99), 99000 + 99000 / 32 + 1);
	cr_assert_eq(hist_percentile(&h, 100), 100000);
	cr_assert_eq(hist_percentile(&h, 0), 10);
	cr_assert_leq(hist_percentile(&h, 99.99), 100000);
}

Test(sipload_userlist, numeric_range_with_width_and_pattern)
{
	struct userlist *u = NULL;
	char buf[64];
	struct wbuf b = wbuf_make(buf, sizeof(buf));

	cr_assert_eq(userlist_parse("0098-0102", "pw-%u-%%", &u), 0);
	cr_assert_eq(userlist_count(u), 5);
	userlist_name(u, 0, &b);
	cr_assert(slice_eq(slice_make(buf, b.len), SLICE_LIT("0098")));
	b.len = 0;
	userlist_name(u, 4, &b);
	cr_assert(slice_eq(slice_make(buf, b.len), SLICE_LIT("0102")));
	b.len = 0;
	cr_assert_eq(userlist_password(u, SLICE_LIT("0100"), &b), 0);
	cr_assert(slice_eq(slice_make(buf, b.len), SLICE_LIT("pw-0100-%")));
	b.len = 0;
	userlist_password_at(u, 1, &b);
	cr_assert(slice_eq(slice_make(buf, b.len), SLICE_LIT("pw-0099-%")));
	cr_assert_eq(userlist_password(u, SLICE_LIT("100"), &b), -ENOENT);
	cr_assert_eq(userlist_password(u, SLICE_LIT("0103"), &b), -ENOENT);
	cr_assert_eq(userlist_password(u, SLICE_LIT("01a0"), &b), -ENOENT);
	userlist_free(u);

	cr_assert_eq(userlist_parse("alice", "secret", &u), 0);
	cr_assert_eq(userlist_count(u), 1);
	b.len = 0;
	cr_assert_eq(userlist_password(u, SLICE_LIT("alice"), &b), 0);
	cr_assert(slice_eq(slice_make(buf, b.len), SLICE_LIT("secret")));
	cr_assert_eq(userlist_password(u, SLICE_LIT("bob"), &b), -ENOENT);
	userlist_free(u);

	cr_assert_eq(userlist_parse("20-10", "x", &u), -EINVAL);
	cr_assert_eq(userlist_parse("", "x", &u), -EINVAL);
	cr_assert_eq(userlist_parse("a b", "x", &u), -EINVAL);
	cr_assert_eq(userlist_parse("0-99999999999", "x", &u), -EINVAL);
}

Test(sipload_userlist, csv_file)
{
	char path[] = "/tmp/sipload-users-XXXXXX";
	const char text[] = "# user,password,domain\n"
			    "alice,a-pw,example.com\r\n"
			    "\n"
			    "bob,b,pw\n"
			    "carol,c\n";
	struct userlist *u = NULL;
	char why[256];
	char buf[64];
	struct wbuf b = wbuf_make(buf, sizeof(buf));
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, sizeof(text) - 1),
		     (ssize_t)sizeof(text) - 1);
	close(fd);
	cr_assert_eq(userlist_load_csv(path, &u, why, sizeof(why)), 0, "%s",
		     why);
	cr_assert_eq(userlist_count(u), 3);
	userlist_name(u, 2, &b);
	cr_assert(slice_eq(slice_make(buf, b.len), SLICE_LIT("carol")));
	cr_assert(slice_eq(userlist_domain(u, 0), SLICE_LIT("example.com")));
	cr_assert(slice_eq(userlist_domain(u, 1), SLICE_LIT("pw")));
	cr_assert_eq(userlist_domain(u, 2).len, 0);
	b.len = 0;
	cr_assert_eq(userlist_password(u, SLICE_LIT("alice"), &b), 0);
	cr_assert(slice_eq(slice_make(buf, b.len), SLICE_LIT("a-pw")));
	cr_assert_eq(userlist_password(u, SLICE_LIT("dave"), &b), -ENOENT);
	userlist_free(u);
	/* A bad line is named. */
	fd = open(path, O_WRONLY | O_TRUNC);
	cr_assert_eq(write(fd, "ok,1\nnocomma\n", 13), 13);
	close(fd);
	cr_assert_eq(userlist_load_csv(path, &u, why, sizeof(why)), -EINVAL);
	cr_assert_not_null(strstr(why, ":2:"), "%s", why);
	unlink(path);
	cr_assert_eq(userlist_load_csv(path, &u, why, sizeof(why)), -ENOENT);
}

Test(sipload_wheel, expires_in_time_order_across_rounds)
{
	struct wheel w;
	uint32_t got[8];
	unsigned n = 0;
	int64_t now;

	memset(&w, 0, sizeof(w));
	cr_assert_eq(wheel_init(&w, 8, 4, 1000), 0); /* 16 buckets */
	wheel_arm(&w, 0, 1005);
	wheel_arm(&w, 1, 1003);
	wheel_arm(&w, 2, 1003 + 16); /* same bucket, next round */
	wheel_arm(&w, 3, 1100);
	wheel_arm(&w, 4, 1010);
	wheel_disarm(&w, 4);
	wheel_arm(&w, 5, 900); /* in the past: due at once */
	cr_assert(wheel_is_armed(&w, 0));
	cr_assert_not(wheel_is_armed(&w, 4));
	cr_assert_leq(wheel_next_due(&w, 1000, 100), 1000);
	for (now = 1000; now <= 1200 && n < 8; now++) {
		uint32_t i;

		while ((i = wheel_expire(&w, now)) != WHEEL_NIL) {
			cr_assert_leq(w.nodes[i].due_ms, now);
			got[n++] = i;
		}
	}
	cr_assert_eq(n, 5);
	cr_assert_eq(got[0], 5);
	cr_assert_eq(got[1], 1);
	cr_assert_eq(got[2], 0);
	cr_assert_eq(got[3], 2);
	cr_assert_eq(got[4], 3);
	cr_assert_eq(w.armed, 0);
	cr_assert_eq(wheel_next_due(&w, 1200, 100), INT64_MAX);
	wheel_fini(&w);
}

Test(sipload_wheel, timers_are_not_early_after_a_stall)
{
	struct wheel w;
	uint32_t i;

	memset(&w, 0, sizeof(w));
	cr_assert_eq(wheel_init(&w, 2, 4, 0), 0);
	wheel_arm(&w, 0, 50);
	wheel_arm(&w, 1, 20);
	/* Nothing is due before 20, whatever the rounds. */
	cr_assert_eq(wheel_expire(&w, 19), WHEEL_NIL);
	cr_assert_geq(wheel_next_due(&w, 19, 100), 19);
	cr_assert_leq(wheel_next_due(&w, 19, 100), 20);
	/* A stall past both: both come out, the earlier first. */
	i = wheel_expire(&w, 1000);
	cr_assert_eq(i, 1);
	cr_assert_eq(wheel_expire(&w, 1000), 0);
	cr_assert_eq(wheel_expire(&w, 1000), WHEEL_NIL);
	wheel_fini(&w);
}
