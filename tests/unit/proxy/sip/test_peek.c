/* tests/unit/proxy/sip/test_peek.c - AOR of a REGISTER without a full parse */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "proxy/sip/hdr.h"
#include "proxy/sip/msg.h"
#include "tests/common/guard.h"

#define MAX_HDRS 64

static struct siphdr hdrs[MAX_HDRS];
static char *guard_buf;

static void setup(void)
{
	guard_buf = NULL;
}

static void teardown(void)
{
	guard_free(guard_buf);
	guard_buf = NULL;
}

TestSuite(peek, .init = setup, .fini = teardown, .timeout = 10);

/* @p text in a buffer that ends right before a PROT_NONE page. */
static const char *guarded(const char *text, size_t len)
{
	guard_free(guard_buf);
	guard_buf = guard_copy(text, len);
	cr_assert_not_null(guard_buf);
	return guard_buf;
}

/* A REGISTER whose To header line is @p to_line (with its CRLF). */
static int make_register(char *buf, size_t size, const char *to_line)
{
	return snprintf(buf, size,
			"REGISTER sip:example.com SIP/2.0\r\n"
			"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKpk1\r\n"
			"Max-Forwards: 70\r\n"
			"From: <sip:alice@example.com>;tag=f1\r\n"
			"%s"
			"Call-ID: peek-1@192.0.2.1\r\n"
			"CSeq: 1 REGISTER\r\n"
			"Contact: <sip:alice@192.0.2.1>\r\n"
			"Content-Length: 0\r\n"
			"\r\n",
			to_line);
}

/* What the registrar computes: the parsed To, its URI, its AOR. */
static int parsed_aor(const char *text, size_t len, char *out, size_t size)
{
	struct sipmsg m;

	cr_assert_gt(sipmsg_parse(&m, text, len, hdrs, MAX_HDRS, 0), 0,
		     "does not parse: %s", text);
	cr_assert_not_null(sipmsg_hdr(&m, HDR_TO));
	return sipmsg_hdr_aor(&m, HDR_TO, out, size, NULL, NULL);
}

Test(peek, finds_the_aor_of_register_as_the_registrar_does)
{
	static const struct {
		const char *to;
		const char *want;
	} cases[] = {
		{ "To: <sip:alice@example.com>\r\n", "alice@example.com" },
		{ "To: <sip:Alice@Example.COM:5060;transport=udp>;tag=x\r\n",
		  "Alice@example.com" },
		{ "t: sip:bob@EX.com;tag=1\r\n", "bob@ex.com" },
		{ "TO :  \"a <b>, c\" <sip:carol@d.example>\r\n",
		  "carol@d.example" },
		{ "To:\r\n <sips:dave@secure.example>\r\n",
		  "dave@secure.example" },
		{ "To: <sip:%61li%63e@h.example>\r\n", "alice@h.example" },
		{ "To: <sip:a%40b@h.example>\r\n", "a%40b@h.example" },
		{ "To: <sip:a%2fb@h.example>\r\n", "a%2Fb@h.example" },
		{ "To: <sip:+1972555%20@h.example;user=phone>\r\n",
		  "+1972555%20@h.example" },
		{ "To: <sip:u@[2001:DB8::1]:5060>\r\n", "u@[2001:db8::1]" },
		{ "To: <sip:u:secret@192.0.2.9>\r\n", "u@192.0.2.9" },
	};
	char msg[2048], got[SIPMSG_AOR_MAX], ref[SIPMSG_AOR_MAX];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int len = make_register(msg, sizeof(msg), cases[i].to);
		int n = sipmsg_peek_aor(guarded(msg, (size_t)len), (size_t)len,
					got, sizeof(got));
		int r = parsed_aor(msg, (size_t)len, ref, sizeof(ref));

		cr_assert_eq((size_t)n, strlen(cases[i].want), "%s: %d",
			     cases[i].to, n);
		cr_assert_eq(memcmp(got, cases[i].want, (size_t)n), 0,
			     "%s: got %.*s", cases[i].to, n, got);
		cr_assert_eq(r, n, "%s", cases[i].to);
		cr_assert_eq(memcmp(ref, got, (size_t)n), 0, "%s", cases[i].to);
	}
}

Test(peek, ignores_requests_other_than_register)
{
	static const char *const texts[] = {
		"INVITE sip:a@b SIP/2.0\r\nTo: <sip:a@b>\r\n\r\n",
		"register sip:b SIP/2.0\r\nTo: <sip:a@b>\r\n\r\n",
		"REGISTERX sip:b SIP/2.0\r\nTo: <sip:a@b>\r\n\r\n",
		"SIP/2.0 200 OK\r\nTo: <sip:a@b>\r\nCSeq: 1 REGISTER\r\n\r\n",
		"REGISTER",
		"",
	};

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		size_t len = strlen(texts[i]);
		char out[64];

		cr_assert_eq(
		    sipmsg_peek_aor(len ? guarded(texts[i], len) : NULL, len,
				    out, sizeof(out)),
		    -ENOENT, "%s", texts[i]);
	}
}

Test(peek, reports_to_that_is_missing_foreign_or_userless)
{
	char out[SIPMSG_AOR_MAX];
	static const struct {
		const char *text;
		int want;
	} cases[] = {
		/* unksm2 (RFC 4475 §3.3.4): the registrar answers 400. */
		{ "REGISTER sip:x SIP/2.0\r\nTo: isbn:2983792873\r\n\r\n",
		  -EBADMSG },
		{ "REGISTER sip:x SIP/2.0\r\nTo: <tel:+1555>\r\n\r\n",
		  -EBADMSG },
		{ "REGISTER sip:x SIP/2.0\r\nTo: <sip:example.com>\r\n\r\n",
		  -ENOENT },
		{ "REGISTER sip:x SIP/2.0\r\nTo: <sip:a@b\r\n\r\n", -EBADMSG },
		/* A To in the body is not a header. */
		{ "REGISTER sip:x SIP/2.0\r\nVia: v\r\n\r\nTo: <sip:a@b>\r\n",
		  -ENOENT },
		{ "REGISTER sip:x SIP/2.0\r\nX-To: <sip:a@b>\r\n\r\n",
		  -ENOENT },
		{ "REGISTER sip:x SIP/2.0\r\nTo <sip:a@b>\r\n\r\n", -ENOENT },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = strlen(cases[i].text);

		cr_assert_eq(sipmsg_peek_aor(guarded(cases[i].text, len), len,
					     out, sizeof(out)),
			     cases[i].want, "%s", cases[i].text);
	}
}

Test(peek, refuses_an_aor_longer_than_the_buffer)
{
	char msg[2048], out[16];
	int len = make_register(msg, sizeof(msg),
				"To: <sip:averylongusername@example.com>\r\n");

	cr_assert_eq(sipmsg_peek_aor(msg, (size_t)len, out, sizeof(out)),
		     -ENOSPC);
	cr_assert_eq(sipmsg_aor_print(SLICE_LIT("sip:a@b"), out, 3), 3);
	cr_assert_eq(sipmsg_aor_print(SLICE_LIT("sip:a@bc"), out, 3), -ENOSPC);
	cr_assert_eq(sipmsg_aor_print(SLICE_LIT("sip:%41@b"), out, 2), -ENOSPC);
	cr_assert_eq(sipmsg_aor_print(SLICE_LIT("sip:%2F@b"), out, 2), -ENOSPC);
}

Test(peek, every_prefix_of_a_register_stays_in_bounds)
{
	char msg[2048], out[SIPMSG_AOR_MAX];
	int len = make_register(msg, sizeof(msg),
				"To: \"A\" <sip:alice@example.com>;tag=1\r\n");
	int full = sipmsg_peek_aor(msg, (size_t)len, out, sizeof(out));

	cr_assert_eq(full, (int)strlen("alice@example.com"));
	for (int cut = 1; cut <= len; cut++) {
		int n = sipmsg_peek_aor(guarded(msg, (size_t)cut), (size_t)cut,
					out, sizeof(out));

		/* A cut inside the To value may still name a valid URI
		 * (a shorter host); anything else is "not found". */
		cr_assert(n == -ENOENT || n == -EBADMSG || n > 0, "cut %d: %d",
			  cut, n);
	}
}
