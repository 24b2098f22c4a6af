/* tests/unit/bench/test_sipload_digest.c - sipload's digest (MD5, SHA-256,
 * RFC 7616 responses, challenge and credentials), histogram, user lists
 * and timer wheel */
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
#include "bench/sipload/digest.c"
#include "bench/sipload/hist.c"
#include "bench/sipload/userlist.c"
#include "bench/sipload/wheel.c"

static void setup(void)
{
}

static void teardown(void)
{
}

TestSuite(sipload_digest, .init = setup, .fini = teardown, .timeout = 10);
TestSuite(sipload_hist, .init = setup, .fini = teardown, .timeout = 10);
TestSuite(sipload_userlist, .init = setup, .fini = teardown, .timeout = 10);
TestSuite(sipload_wheel, .init = setup, .fini = teardown, .timeout = 10);

static void check_hex(enum digest_alg alg, const char *in, const char *want)
{
	char hex[DIGEST_HEX_MAX];
	unsigned n = digest_hex(alg, in, strlen(in), hex);

	cr_assert_eq(n, strlen(want));
	cr_assert_str_eq(hex, want, "%s(\"%s\")", digest_alg_name(alg), in);
}

Test(sipload_digest, md5_matches_rfc1321_test_suite)
{
	/* RFC 1321 appendix A.5. */
	check_hex(DIGEST_MD5, "", "d41d8cd98f00b204e9800998ecf8427e");
	check_hex(DIGEST_MD5, "a", "0cc175b9c0f1b6a831c399e269772661");
	check_hex(DIGEST_MD5, "abc", "900150983cd24fb0d6963f7d28e17f72");
	check_hex(DIGEST_MD5, "message digest",
		  "f96b697d7cb7938d525a2f31aaf161d0");
	check_hex(DIGEST_MD5, "abcdefghijklmnopqrstuvwxyz",
		  "c3fcd3d76192e4007dfb496cca67e13b");
	check_hex(DIGEST_MD5,
		  "1234567890123456789012345678901234567890123456789012345678"
		  "9012345678901234567890",
		  "57edf4a22be3c955ac49da2e2107b67a");
}

Test(sipload_digest, sha256_matches_fips_180_examples)
{
	check_hex(DIGEST_SHA256, "",
		  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b"
		  "7852b855");
	check_hex(DIGEST_SHA256, "abc",
		  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61"
		  "f20015ad");
	check_hex(DIGEST_SHA256,
		  "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd4"
		  "19db06c1");
}

Test(sipload_digest, incremental_updates_equal_one_shot)
{
	/* One million 'a' fed in odd-sized pieces (crosses every block
	 * boundary case). */
	static char chunk[1000];
	struct digest_ctx c;
	char hex[DIGEST_HEX_MAX];
	size_t done = 0, step = 1;

	memset(chunk, 'a', sizeof(chunk));
	digest_init(&c, DIGEST_SHA256);
	while (done < 1000000) {
		size_t n = step;

		if (n > sizeof(chunk))
			n = sizeof(chunk);
		if (n > 1000000 - done)
			n = 1000000 - done;
		digest_update(&c, chunk, n);
		done += n;
		step = step % 997 + 13;
	}
	digest_final_hex(&c, hex);
	cr_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a4972"
			      "00e046d39ccc7112cd0");
}

static struct digest_input input(enum digest_alg alg, const char *user,
				 const char *realm, const char *pw,
				 const char *method, const char *uri,
				 const char *nonce, const char *nc,
				 const char *cnonce, const char *qop)
{
	struct digest_input in = {
		.alg = alg,
		.user = slice_cstr(user),
		.realm = slice_cstr(realm),
		.password = slice_cstr(pw),
		.method = slice_cstr(method),
		.uri = slice_cstr(uri),
		.nonce = slice_cstr(nonce),
		.nc = slice_cstr(nc),
		.cnonce = slice_cstr(cnonce),
		.qop = slice_cstr(qop),
	};

	return in;
}

Test(sipload_digest, response_matches_rfc2617_and_rfc7616_examples)
{
	char hex[DIGEST_HEX_MAX];
	struct digest_input in;

	/* RFC 2617 §3.5. */
	in = input(DIGEST_MD5, "Mufasa", "testrealm@host.com", "Circle Of Life",
		   "GET", "/dir/index.html",
		   "dcd98b7102dd2f0e8b11d0f600bfb0c093", "00000001", "0a4f113b",
		   "auth");
	cr_assert_eq(digest_response(&in, hex), 32);
	cr_assert_str_eq(hex, "6629fae49393a05397450978507c4ef1");
	/* RFC 7616 §3.9.1 (with erratum 4495: "Circle of Life"). */
	in = input(DIGEST_MD5, "Mufasa", "http-auth@example.org",
		   "Circle of Life", "GET", "/dir/index.html",
		   "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", "00000001",
		   "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", "auth");
	cr_assert_eq(digest_response(&in, hex), 32);
	cr_assert_str_eq(hex, "8ca523f5e9506fed4657c9700eebdbec");
	in.alg = DIGEST_SHA256;
	cr_assert_eq(digest_response(&in, hex), 64);
	cr_assert_str_eq(hex, "753927fa0e85d155564e2e272a28d1802ca10daf449679"
			      "4697cf8db5856cb6c1");
}

Test(sipload_digest, register_response_for_a_fixed_nonce)
{
	/* Expected values computed independently (Python hashlib). */
	char hex[DIGEST_HEX_MAX];
	struct digest_input in;

	in = input(DIGEST_MD5, "1000", "sipload", "pw-1000", "REGISTER",
		   "sip:127.0.0.1:5060", "0123456789abcdef00", "00000001",
		   "c0ffee", "auth");
	digest_response(&in, hex);
	cr_assert_str_eq(hex, "ea037405f28bbcaebd70f006fcae10cc");
	in.alg = DIGEST_SHA256;
	digest_response(&in, hex);
	cr_assert_str_eq(hex, "46740e138a3c17cd8b9d305f06ec146b3062d3fb0df32e"
			      "b21fe4fbf8e1e3266e");
	/* Without qop: the RFC 2069 form. */
	in = input(DIGEST_MD5, "1000", "sipload", "pw-1000", "REGISTER",
		   "sip:127.0.0.1:5060", "0123456789abcdef00", "", "", "");
	digest_response(&in, hex);
	cr_assert_str_eq(hex, "1ca83df7392cc2e86d65708bb4d6f245");
	in.alg = DIGEST_SHA256;
	digest_response(&in, hex);
	cr_assert_str_eq(hex, "ca6b42a05d25d51315b9c9e0276561745111e10366eaf6"
			      "b81cad1d3f44117701");
	in.alg = 0;
	cr_assert_eq(digest_response(&in, hex), -EINVAL);
}

Test(sipload_digest, parses_challenges)
{
	struct digest_challenge ch;

	cr_assert_eq(digest_challenge_parse(
			 SLICE_LIT("Digest realm=\"sip.example\", "
				   "nonce=\"abc,def\", algorithm=SHA-256, "
				   "qop=\"auth,auth-int\", opaque=\"xyz\""),
			 &ch),
		     0);
	cr_assert_eq(ch.alg, DIGEST_SHA256);
	cr_assert(slice_eq(ch.realm, SLICE_LIT("sip.example")));
	cr_assert(slice_eq(ch.nonce, SLICE_LIT("abc,def")));
	cr_assert(slice_eq(ch.opaque, SLICE_LIT("xyz")));
	cr_assert(ch.qop_auth);
	/* No algorithm: MD5 (RFC 7616 §3.3); no qop: RFC 2069 form. */
	cr_assert_eq(
	    digest_challenge_parse(SLICE_LIT("digest realm=r,nonce=n"), &ch),
	    0);
	cr_assert_eq(ch.alg, DIGEST_MD5);
	cr_assert_not(ch.has_qop);
	cr_assert_eq(
	    digest_challenge_parse(SLICE_LIT("Digest realm=\"r\", nonce=\"n\", "
					     "algorithm=SHA-512-256"),
				   &ch),
	    -ENOTSUP);
	cr_assert_eq(
	    digest_challenge_parse(SLICE_LIT("Digest realm=\"r\", nonce=\"n\", "
					     "qop=\"auth-int\""),
				   &ch),
	    -ENOTSUP);
	cr_assert_eq(
	    digest_challenge_parse(SLICE_LIT("Basic realm=\"r\""), &ch),
	    -ENOTSUP);
	cr_assert_eq(
	    digest_challenge_parse(SLICE_LIT("Digest realm=\"r\""), &ch),
	    -EBADMSG);
	cr_assert_eq(
	    digest_challenge_parse(SLICE_LIT("Digest realm=\"r, nonce=n"), &ch),
	    -EBADMSG);
	cr_assert_eq(digest_challenge_parse(SLICE_LIT("Digest =x"), &ch),
		     -EBADMSG);
}

Test(sipload_digest, credentials_round_trip)
{
	char buf[512];
	struct wbuf b = wbuf_make(buf, sizeof(buf));
	char hex[DIGEST_HEX_MAX];
	struct digest_input in;
	struct digest_credentials cr;
	char want[DIGEST_HEX_MAX];

	in = input(DIGEST_SHA256, "1000", "sipload", "pw-1000", "REGISTER",
		   "sip:127.0.0.1:5060", "0123456789abcdef00", "00000001",
		   "c0ffee", "auth");
	digest_response(&in, hex);
	digest_credentials_print(&b, &in, hex, SLICE_LIT("op"));
	cr_assert_not(b.over);
	cr_assert_eq(digest_credentials_parse(slice_make(buf, b.len), &cr), 0);
	cr_assert_eq(cr.alg, DIGEST_SHA256);
	cr_assert(slice_eq(cr.user, SLICE_LIT("1000")));
	cr_assert(slice_eq(cr.uri, SLICE_LIT("sip:127.0.0.1:5060")));
	cr_assert(slice_eq(cr.nc, SLICE_LIT("00000001")));
	cr_assert(slice_eq(cr.qop, SLICE_LIT("auth")));
	cr_assert(slice_eq(cr.opaque, SLICE_LIT("op")));
	cr_assert(slice_eq(cr.response, slice_cstr(hex)));
	/* The verifier's computation from the parsed fields agrees. */
	in.user = cr.user;
	in.nonce = cr.nonce;
	in.cnonce = cr.cnonce;
	digest_response(&in, want);
	cr_assert_str_eq(want, hex);
	cr_assert_eq(digest_credentials_parse(
			 SLICE_LIT("Digest username=\"a\", realm=\"r\""), &cr),
		     -EBADMSG);
}

Test(sipload_digest, challenge_print_is_parseable)
{
	char buf[256];
	struct wbuf b = wbuf_make(buf, sizeof(buf));
	struct digest_challenge ch;

	digest_challenge_print(&b, DIGEST_SHA256, SLICE_LIT("sipload"),
			       SLICE_LIT("n0nce"));
	cr_assert_eq(digest_challenge_parse(slice_make(buf, b.len), &ch), 0);
	cr_assert_eq(ch.alg, DIGEST_SHA256);
	cr_assert(ch.qop_auth);
	cr_assert(slice_eq(ch.nonce, SLICE_LIT("n0nce")));
}

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
