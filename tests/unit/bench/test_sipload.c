/* tests/unit/bench/test_sipload.c - sipload's histogram, user lists,
 * timer wheel and 3pcc SDP offer/answer (its digest is proxy/sip/digest:
 * tests/unit/proxy/sip) */
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
#include "bench/sipload/sdpoa.c"
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
TestSuite(sipload_sdpoa, .init = setup, .fini = teardown, .timeout = 10);

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

/* ---- 3pcc offer/answer ---- */

static struct slice offer_at(char *buf, size_t size, const char *host,
			     uint16_t port)
{
	struct wbuf b = wbuf_make(buf, size);

	sdpoa_offer(&b, host, port);
	cr_assert_not(b.over);
	return slice_make(buf, b.len);
}

static bool has_line(struct slice body, const char *line)
{
	char want[128];
	size_t n;

	n = (size_t)snprintf(want, sizeof(want), "\r\n%s\r\n", line);
	return memmem(body.p, body.len, want, n) != NULL;
}

Test(sipload_sdpoa, offer_has_one_audio_stream_on_host_and_port)
{
	char buf[512];
	struct slice o = offer_at(buf, sizeof(buf), "127.0.0.7", 20042);
	struct sdpoa p;

	cr_assert_eq(sdpoa_parse(o, &p), SDPOA_OK);
	cr_assert_eq(p.n, 1);
	cr_assert(slice_eq(p.m[0].media, SLICE_LIT("audio")));
	cr_assert(slice_eq(p.m[0].proto, SLICE_LIT("RTP/AVP")));
	cr_assert_eq(p.m[0].port, 20042);
	cr_assert_eq(p.m[0].nfmt, 2);
	cr_assert(slice_eq(p.m[0].fmt[0], SLICE_LIT("0")));
	cr_assert(slice_eq(p.m[0].fmt[1], SLICE_LIT("8")));
	cr_assert(p.session_c);
	cr_assert(has_line(o, "c=IN IP4 127.0.0.7"));
	cr_assert(!memcmp(o.p, "v=0\r\n", 5));
	/* IPv6 as written in a Via: brackets go. */
	o = offer_at(buf, sizeof(buf), "[::1]", 20000);
	cr_assert_eq(sdpoa_parse(o, &p), SDPOA_OK);
	cr_assert(has_line(o, "c=IN IP6 ::1"));
	cr_assert(has_line(o, "m=audio 20000 RTP/AVP 0 8"));
}

Test(sipload_sdpoa, port_is_even_in_range_and_per_call)
{
	static bool seen[65536];
	uint32_t slot;
	unsigned t;

	for (t = 0; t < 3; t++) {
		memset(seen, 0, sizeof(seen));
		for (slot = 0; slot < 20000; slot++) {
			uint16_t p = sdpoa_port(t, slot + 12345);

			cr_assert_eq(p % 2, 0);
			cr_assert_geq(p, SDPOA_PORT_LO);
			cr_assert_leq(p, SDPOA_PORT_HI);
			cr_assert_not(seen[p], "port %u twice", p);
			seen[p] = true;
		}
	}
	cr_assert_neq(sdpoa_port(0, 1), sdpoa_port(1, 1));
	cr_assert_leq(sdpoa_port(254, UINT32_MAX), SDPOA_PORT_HI);
}

Test(sipload_sdpoa, good_answer_matches_the_offer)
{
	char obuf[512], abuf[512];
	struct slice o = offer_at(obuf, sizeof(obuf), "127.0.0.1", 30000);
	struct wbuf b = wbuf_make(abuf, sizeof(abuf));
	struct sdpoa a;

	cr_assert_eq(sdpoa_answer(&b, o, "127.0.0.2", 40002, SDPOA_ANSWER_GOOD),
		     SDPOA_OK);
	cr_assert_not(b.over);
	cr_assert_eq(sdpoa_parse(slice_make(abuf, b.len), &a), SDPOA_OK);
	cr_assert_eq(a.n, 1);
	cr_assert_eq(a.m[0].port, 40002);
	cr_assert_eq(a.m[0].nfmt, 1);
	cr_assert(slice_eq(a.m[0].fmt[0], SLICE_LIT("0")));
	cr_assert(has_line(slice_make(abuf, b.len), "c=IN IP4 127.0.0.2"));
	cr_assert_eq(sdpoa_check(o, slice_make(abuf, b.len)), SDPOA_OK);
}

Test(sipload_sdpoa, wrong_answers_fail_with_their_reason)
{
	static const struct {
		enum sdpoa_mode mode;
		enum sdpoa_verdict want;
	} cases[] = {
		{ SDPOA_ANSWER_NONE, SDPOA_MISSING },
		{ SDPOA_ANSWER_PORT0, SDPOA_PORT },
		{ SDPOA_ANSWER_CODEC, SDPOA_CODEC },
	};
	char obuf[512], abuf[512];
	struct slice o = offer_at(obuf, sizeof(obuf), "127.0.0.1", 30000);
	unsigned i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wbuf b = wbuf_make(abuf, sizeof(abuf));

		cr_assert_eq(
		    sdpoa_answer(&b, o, "127.0.0.1", 40000, cases[i].mode),
		    SDPOA_OK);
		cr_assert_eq(sdpoa_check(o, slice_make(abuf, b.len)),
			     cases[i].want, "mode %u: %s", cases[i].mode,
			     sdpoa_verdict_name(
				 sdpoa_check(o, slice_make(abuf, b.len))));
	}
}

Test(sipload_sdpoa, check_judges_hand_written_answers)
{
	static const struct {
		const char *answer;
		enum sdpoa_verdict want;
	} cases[] = {
		/* PCMA only: in the offer, fine; LF line ends, fine. */
		{ "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 5000 RTP/AVP 8\r\n",
		  SDPOA_OK },
		{ "v=0\nm=audio 5000 RTP/AVP 18 8\nc=IN IP4 1.2.3.4\n",
		  SDPOA_OK },
		{ "v=0\r\nc=IN IP4 1.2.3.4\r\nm=video 5000 RTP/AVP 0\r\n",
		  SDPOA_MEDIA },
		{ "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 5000 RTP/SAVP 0\r\n",
		  SDPOA_MEDIA },
		{ "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 5000 RTP/AVP 0\r\n"
		  "m=audio 5002 RTP/AVP 0\r\n",
		  SDPOA_MEDIA },
		{ "v=0\r\nm=audio 5000 RTP/AVP 0\r\n", SDPOA_ADDRESS },
		{ "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 0 RTP/AVP 0\r\n",
		  SDPOA_PORT },
		{ "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 5000 RTP/AVP 18 96\r\n",
		  SDPOA_CODEC },
		{ "", SDPOA_MISSING },
		{ "v=1\r\nc=IN IP4 1.2.3.4\r\nm=audio 5000 RTP/AVP 0\r\n",
		  SDPOA_MALFORMED },
		{ "c=IN IP4 1.2.3.4\r\nm=audio 5000 RTP/AVP 0\r\n",
		  SDPOA_MALFORMED },
		{ "v=0\r\nc=IN IP4 1.2.3.4\r\n", SDPOA_MALFORMED },
		{ "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 70000 RTP/AVP 0\r\n",
		  SDPOA_MALFORMED },
		{ "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio x RTP/AVP 0\r\n",
		  SDPOA_MALFORMED },
		{ "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 5000 RTP/AVP\r\n",
		  SDPOA_MALFORMED },
		{ "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio\r\n", SDPOA_MALFORMED },
		{ "v=0\r\ngarbage\r\n", SDPOA_MALFORMED },
		{ "\r\n\r\n", SDPOA_MALFORMED },
	};
	char obuf[512];
	struct slice o = offer_at(obuf, sizeof(obuf), "127.0.0.1", 30000);
	unsigned i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum sdpoa_verdict v =
		    sdpoa_check(o, slice_cstr(cases[i].answer));

		cr_assert_eq(v, cases[i].want, "case %u: %s, want %s", i,
			     sdpoa_verdict_name(v),
			     sdpoa_verdict_name(cases[i].want));
	}
	/* An offer that is no offer: the check cannot pass. */
	cr_assert_eq(sdpoa_check(SLICE_LIT("junk"),
				 SLICE_LIT("v=0\r\nc=IN IP4 1.2.3.4\r\n"
					   "m=audio 5000 RTP/AVP 0\r\n")),
		     SDPOA_MALFORMED);
}

Test(sipload_sdpoa, answer_follows_every_offered_stream)
{
	const char *offer = "v=0\r\no=x 1 1 IN IP4 1.2.3.4\r\ns=-\r\n"
			    "t=0 0\r\nm=audio 6000/2 RTP/AVP 18 0\r\n"
			    "c=IN IP4 1.2.3.4\r\nm=video 6002 RTP/AVP 31\r\n"
			    "c=IN IP4 1.2.3.4\r\n";
	char abuf[512];
	struct wbuf b = wbuf_make(abuf, sizeof(abuf));
	struct sdpoa a;

	cr_assert_eq(sdpoa_answer(&b, slice_cstr(offer), "127.0.0.1", 40000,
				  SDPOA_ANSWER_GOOD),
		     SDPOA_OK);
	cr_assert_eq(sdpoa_parse(slice_make(abuf, b.len), &a), SDPOA_OK);
	cr_assert_eq(a.n, 2);
	cr_assert(slice_eq(a.m[0].media, SLICE_LIT("audio")));
	cr_assert(slice_eq(a.m[0].fmt[0], SLICE_LIT("18")));
	cr_assert(slice_eq(a.m[1].media, SLICE_LIT("video")));
	cr_assert_neq(a.m[0].port, a.m[1].port);
	cr_assert_eq(sdpoa_check(slice_cstr(offer), slice_make(abuf, b.len)),
		     SDPOA_OK);
}

Test(sipload_sdpoa, bad_offers_get_no_answer)
{
	static const struct {
		const char *offer;
		enum sdpoa_verdict want;
	} cases[] = {
		{ "", SDPOA_MISSING },
		{ "hello", SDPOA_MALFORMED },
		{ "v=0\r\nm=audio 5000 RTP/AVP 0\r\n", SDPOA_ADDRESS },
		{ "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 0 RTP/AVP 0\r\n",
		  SDPOA_PORT },
	};
	char abuf[512];
	unsigned i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wbuf b = wbuf_make(abuf, sizeof(abuf));

		cr_assert_eq(sdpoa_answer(&b, slice_cstr(cases[i].offer),
					  "127.0.0.1", 40000,
					  SDPOA_ANSWER_GOOD),
			     cases[i].want, "case %u", i);
		cr_assert_eq(b.len, 0);
	}
}

Test(sipload_sdpoa, too_many_streams_and_small_buffers)
{
	char big[2048], obuf[512], small[40];
	struct wbuf b = wbuf_make(big, sizeof(big));
	struct wbuf sb = wbuf_make(small, sizeof(small));
	struct sdpoa p;
	unsigned i;

	wbuf_slice(&b, SLICE_LIT("v=0\r\nc=IN IP4 1.2.3.4\r\n"));
	for (i = 0; i <= SDPOA_MEDIA_MAX; i++)
		wbuf_slice(&b, SLICE_LIT("m=audio 5000 RTP/AVP 0\r\n"));
	cr_assert_not(b.over);
	cr_assert_eq(sdpoa_parse(slice_make(big, b.len), &p), SDPOA_MALFORMED);
	/* Formats beyond SDPOA_FMT_MAX are ignored, not an error. */
	b = wbuf_make(big, sizeof(big));
	wbuf_slice(&b,
		   SLICE_LIT("v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 5 RTP/AVP"));
	for (i = 0; i < 3 * SDPOA_FMT_MAX; i++)
		wbuf_slice(&b, SLICE_LIT(" 0"));
	cr_assert_eq(sdpoa_parse(slice_make(big, b.len), &p), SDPOA_OK);
	cr_assert_eq(p.m[0].nfmt, SDPOA_FMT_MAX);
	/* Output that does not fit marks the buffer, never overruns. */
	sdpoa_offer(&sb, "127.0.0.1", 20000);
	cr_assert(sb.over);
	cr_assert_leq(sb.len, sizeof(small));
	sb = wbuf_make(small, sizeof(small));
	sdpoa_answer(&sb, offer_at(obuf, sizeof(obuf), "127.0.0.1", 20000),
		     "127.0.0.1", 40000, SDPOA_ANSWER_GOOD);
	cr_assert(sb.over);
}

Test(sipload_sdpoa, names_and_modes)
{
	enum sdpoa_mode m;

	cr_assert_str_eq(sdpoa_verdict_name(SDPOA_OK), "ok");
	cr_assert_str_eq(sdpoa_verdict_name(SDPOA_MISSING), "missing");
	cr_assert_str_eq(sdpoa_verdict_name(SDPOA_CODEC), "codec");
	cr_assert_str_eq(sdpoa_verdict_name(SDPOA__VERDICTS), "?");
	cr_assert_eq(sdpoa_mode_parse("none", &m), 0);
	cr_assert_eq(m, SDPOA_ANSWER_NONE);
	cr_assert_eq(sdpoa_mode_parse("port0", &m), 0);
	cr_assert_eq(m, SDPOA_ANSWER_PORT0);
	cr_assert_eq(sdpoa_mode_parse("good", &m), 0);
	cr_assert_eq(m, SDPOA_ANSWER_GOOD);
	cr_assert_eq(sdpoa_mode_parse("bogus", &m), -EINVAL);
	cr_assert_eq(sdpoa_mode_parse("", &m), -EINVAL);
}

/* Every prefix of a good answer, and random SDP-ish bytes: a verdict in
 * range, never a read outside the body (run under make SAN=1). */
Test(sipload_sdpoa, truncated_and_random_bodies_are_judged_safely)
{
	static const char alpha[] = "v=0mca \r\n/0123456789RTP/AVPaudio";
	char obuf[512], abuf[512];
	struct slice o = offer_at(obuf, sizeof(obuf), "127.0.0.1", 30000);
	struct wbuf b = wbuf_make(abuf, sizeof(abuf));
	uint64_t x = 88172645463325252ULL;
	size_t n;
	unsigned i, ok = 0;

	cr_assert_eq(sdpoa_answer(&b, o, "127.0.0.1", 40000, SDPOA_ANSWER_GOOD),
		     SDPOA_OK);
	for (n = 0; n <= b.len; n++) {
		/* A copy of exactly n bytes: ASan sees a read past it. */
		char *cut = malloc(n ? n : 1);
		enum sdpoa_verdict v;

		cr_assert_not_null(cut);
		memcpy(cut, abuf, n);
		v = sdpoa_check(o, slice_make(cut, n));
		cr_assert_lt((unsigned)v, SDPOA__VERDICTS);
		ok += v == SDPOA_OK;
		free(cut);
	}
	/* Only the whole answer, and the cuts before its last '\n' and
	 * before its last '\r', pass. */
	cr_assert_eq(ok, 3);
	for (i = 0; i < 3000; i++) {
		char *rnd;
		size_t k;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		n = (size_t)(x % 120);
		rnd = malloc(n ? n : 1);
		cr_assert_not_null(rnd);
		for (k = 0; k < n; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			rnd[k] = alpha[x % (sizeof(alpha) - 1)];
		}
		if (n >= 4 && (x & 1))
			memcpy(rnd, "v=0\n", 4);
		cr_assert_lt((unsigned)sdpoa_check(o, slice_make(rnd, n)),
			     SDPOA__VERDICTS);
		cr_assert_lt((unsigned)sdpoa_check(slice_make(rnd, n), o),
			     SDPOA__VERDICTS);
		free(rnd);
	}
}
