/* tests/unit/proxy/sip/test_digest.c - digest (RFC 2617, RFC 7616, RFC 8760):
 * MD5, SHA-256, HA1 and responses, challenges and credentials */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "proxy/base/arena.h"
#include "proxy/base/obj.h"
#include "proxy/sip/digest.h"
#include "tests/common/teardown.h"

static void setup(void)
{
}

static void teardown(void)
{
	teardown_check_objs(0);
}

TestSuite(digest, .init = setup, .fini = teardown, .timeout = 10);

static void check_hex(enum digest_alg alg, const char *in, const char *want)
{
	char hex[DIGEST_HEX_MAX];
	unsigned n = digest_hex(alg, in, strlen(in), hex);

	cr_assert_eq(n, strlen(want));
	cr_assert_str_eq(hex, want, "%s(\"%s\")", digest_alg_name(alg), in);
}

Test(digest, md5_matches_rfc1321_test_suite)
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

Test(digest, sha256_matches_fips_180_examples)
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

Test(digest, incremental_updates_equal_one_shot)
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

Test(digest, response_matches_rfc2617_and_rfc7616_examples)
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

Test(digest, register_response_for_a_fixed_nonce)
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

Test(digest, parses_challenges)
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

Test(digest, credentials_round_trip)
{
	char buf[512];
	char hex[DIGEST_HEX_MAX];
	struct digest_input in;
	struct digest_credentials cr;
	char want[DIGEST_HEX_MAX];
	uint32_t nc;
	int n;

	in = input(DIGEST_SHA256, "1000", "sipload", "pw-1000", "REGISTER",
		   "sip:127.0.0.1:5060", "0123456789abcdef00", "00000001",
		   "c0ffee", "auth");
	digest_response(&in, hex);
	n = digest_credentials_print(buf, sizeof(buf), &in, hex,
				     SLICE_LIT("op"));
	cr_assert_gt(n, 0);
	/* Too small a buffer: -ENOSPC. */
	cr_assert_eq(
	    digest_credentials_print(want, 20, &in, hex, SLICE_LIT("op")),
	    -ENOSPC);
	cr_assert_eq(
	    digest_credentials_parse(slice_make(buf, (size_t)n), NULL, &cr), 0);
	cr_assert_eq(digest_credentials_check(&cr, &nc), 0);
	cr_assert_eq(nc, 1);
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
	cr_assert_eq(
	    digest_credentials_parse(
		SLICE_LIT("Digest username=\"a\", realm=\"r\""), NULL, &cr),
	    0);
	cr_assert_eq(digest_credentials_check(&cr, NULL), -EBADMSG);
}

Test(digest, challenge_print_is_parseable)
{
	char buf[256];
	struct digest_challenge ch;
	int n;

	n = digest_challenge_print(buf, sizeof(buf), DIGEST_SHA256,
				   SLICE_LIT("sipload"), SLICE_LIT("n0nce"),
				   false);
	cr_assert_gt(n, 0);
	cr_assert_eq(digest_challenge_parse(slice_make(buf, (size_t)n), &ch),
		     0);
	cr_assert_eq(ch.alg, DIGEST_SHA256);
	cr_assert(ch.qop_auth);
	cr_assert_not(ch.stale);
	cr_assert(slice_eq(ch.nonce, SLICE_LIT("n0nce")));
	/* The registrar's form, byte for byte (RFC 8760 §2.4). */
	n = digest_challenge_print(buf, sizeof(buf), DIGEST_MD5,
				   SLICE_LIT("example.com"), SLICE_LIT("n"),
				   true);
	cr_assert_eq(n, (int)strlen(buf));
	cr_assert_str_eq(buf, "Digest realm=\"example.com\", nonce=\"n\", "
			      "qop=\"auth\", algorithm=MD5, stale=true");
	cr_assert_eq(digest_challenge_parse(slice_make(buf, (size_t)n), &ch),
		     0);
	cr_assert(ch.stale);
	cr_assert_eq(digest_challenge_print(buf, 10, DIGEST_MD5,
					    SLICE_LIT("example.com"),
					    SLICE_LIT("n"), false),
		     -ENOSPC);
}

/* RFC 7616 §3.9.1: the example with MD5 and with SHA-256, from HA1. */
Test(digest, rfc7616_known_answers_from_ha1)
{
	uint8_t ha1[DIGEST_HASH_MAX];
	char hex[DIGEST_HEX_MAX];

	digest_ha1(DIGEST_MD5, SLICE_LIT("Mufasa"),
		   SLICE_LIT("http-auth@example.org"),
		   SLICE_LIT("Circle of Life"), ha1);
	cr_assert_eq(
	    digest_response_ha1(
		DIGEST_MD5, ha1,
		SLICE_LIT("7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"),
		SLICE_LIT("00000001"),
		SLICE_LIT("f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"),
		SLICE_LIT("auth"), SLICE_LIT("GET"),
		SLICE_LIT("/dir/index.html"), hex),
	    32);
	cr_assert_str_eq(hex, "8ca523f5e9506fed4657c9700eebdbec");
	digest_ha1(DIGEST_SHA256, SLICE_LIT("Mufasa"),
		   SLICE_LIT("http-auth@example.org"),
		   SLICE_LIT("Circle of Life"), ha1);
	cr_assert_eq(
	    digest_response_ha1(
		DIGEST_SHA256, ha1,
		SLICE_LIT("7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"),
		SLICE_LIT("00000001"),
		SLICE_LIT("f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"),
		SLICE_LIT("auth"), SLICE_LIT("GET"),
		SLICE_LIT("/dir/index.html"), hex),
	    64);
	cr_assert_str_eq(hex, "753927fa0e85d155564e2e272a28d1802ca10daf44967946"
			      "97cf8db5856cb6c1");
	cr_assert_eq(digest_alg_lookup(SLICE_LIT("sha-256")), DIGEST_SHA256);
	cr_assert_eq(digest_alg_lookup(SLICE_LIT("MD5")), DIGEST_MD5);
	cr_assert_eq(digest_alg_lookup(SLICE_LIT("MD5-sess")), 0);
	cr_assert_eq(digest_hash_len(DIGEST_MD5), 16);
	cr_assert_eq(digest_hash_len(DIGEST_SHA256), 32);
}

/* RFC 2617 §3.5 (no qop kept by RFC 2069 clients): "Circle Of Life". */
Test(digest, response_without_qop_uses_the_short_form)
{
	uint8_t ha1[16];
	char hex[33];

	digest_ha1(DIGEST_MD5, SLICE_LIT("Mufasa"),
		   SLICE_LIT("testrealm@host.com"), SLICE_LIT("Circle Of Life"),
		   ha1);
	digest_response_ha1(
	    DIGEST_MD5, ha1, SLICE_LIT("dcd98b7102dd2f0e8b11d0f600bfb0c093"),
	    SLICE_LIT("00000001"), SLICE_LIT("0a4f113b"), SLICE_LIT("auth"),
	    SLICE_LIT("GET"), SLICE_LIT("/dir/index.html"), hex);
	cr_assert_str_eq(hex, "6629fae49393a05397450978507c4ef1");
	digest_response_ha1(
	    DIGEST_MD5, ha1, SLICE_LIT("dcd98b7102dd2f0e8b11d0f600bfb0c093"),
	    SLICE_LIT(""), SLICE_LIT(""), SLICE_LIT(""), SLICE_LIT("GET"),
	    SLICE_LIT("/dir/index.html"), hex);
	cr_assert_str_neq(hex, "6629fae49393a05397450978507c4ef1");
	cr_assert_eq(strlen(hex), 32);
}

Test(digest, response_comparison_ignores_case_only)
{
	const char *want = "6629fae49393a05397450978507c4ef1";

	cr_assert(digest_response_eq(
	    SLICE_LIT("6629FAE49393a05397450978507c4ef1"), want, 32));
	cr_assert_not(digest_response_eq(
	    SLICE_LIT("6629fae49393a05397450978507c4ef2"), want, 32));
	cr_assert_not(digest_response_eq(
	    SLICE_LIT("6629fae49393a05397450978507c4ef"), want, 32));
}

Test(digest, credentials_unescape_and_reject_repeats)
{
	struct arena *a = arena_new(1024);
	struct digest_credentials cr;
	uint32_t nc;

	cr_assert_not_null(a);
	cr_assert_eq(digest_credentials_parse(
			 SLICE_LIT("Digest username=\"a\\\"b\", realm=r, "
				   "nonce=n, uri=\"\", response=x, "
				   "algorithm=SHA-512-256, qop=auth, "
				   "cnonce=c, nc=0000000a"),
			 a, &cr),
		     0);
	cr_assert(slice_eq(cr.user, SLICE_LIT("a\"b")));
	cr_assert_not_null(cr.uri.p);
	cr_assert_eq(cr.uri.len, 0);
	cr_assert_eq(cr.alg, 0, "an algorithm we do not know");
	cr_assert(slice_eq(cr.algorithm, SLICE_LIT("SHA-512-256")));
	cr_assert_eq(digest_credentials_check(&cr, &nc), 0);
	cr_assert_eq(nc, 10);
	/* Without an arena the escapes stay as sent. */
	cr_assert_eq(digest_credentials_parse(
			 SLICE_LIT("Digest username=\"a\\\"b\""), NULL, &cr),
		     0);
	cr_assert(slice_eq(cr.user, SLICE_LIT("a\\\"b")));
	cr_assert_eq(cr.alg, DIGEST_MD5);
	cr_assert_eq(digest_credentials_parse(
			 SLICE_LIT("Digest realm=a, realm=b"), NULL, &cr),
		     -EBADMSG);
	cr_assert_eq(digest_credentials_parse(SLICE_LIT("Basic YWxhZGRpbg=="),
					      NULL, &cr),
		     -ENOTSUP);
	cr_assert_eq(digest_credentials_parse(SLICE_LIT("Digest"), NULL, &cr),
		     -EBADMSG);
	cr_assert_eq(digest_credentials_parse(
			 SLICE_LIT("Digest username=\"a\\"), NULL, &cr),
		     -EBADMSG);
	cr_assert_eq(digest_credentials_parse(
			 SLICE_LIT("Digest username=a, realm=r, nonce=n, "
				   "uri=u, response=x, qop=auth, cnonce=c, "
				   "nc=00000000"),
			 NULL, &cr),
		     0);
	cr_assert_eq(digest_credentials_check(&cr, NULL), -EBADMSG);
	arena_free(a);
}
