/* tests/unit/proxy/sip/test_sdp.c - SDP view and offer/answer helpers */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "proxy/base/arena.h"
#include "proxy/sip/sdp.h"
#include "tests/unit/msgin.h"

TestSuite(sdp, .init = msgin_init, .fini = msgin_fini, .timeout = 30);

static struct sdp s, t;

static void expect(struct slice x, const char *want)
{
	msgin_expect_str(x.p, x.len, want);
}

/* sdp_parse() of a guarded copy of @p text into @p into. */
static int parse_into(struct sdp *into, const char *text, size_t len)
{
	return sdp_parse(into, msgin_copy(text, len), len);
}

static int parse(const char *text)
{
	return parse_into(&s, text, strlen(text));
}

/* The second SDP lives in the arena (msgin_copy() keeps one copy). */
static void parse_t(const char *text)
{
	size_t len = strlen(text);
	char *p = arena_alloc(msgin_arena, len + 1);

	cr_assert_not_null(p);
	memcpy(p, text, len);
	cr_assert_eq(sdp_parse(&t, p, len), 0, "%s", t.fault ? t.fault : "");
}

/* RFC 4566 §5, the example session description. */
static const char rfc4566[] =
    "v=0\r\n"
    "o=jdoe 2890844526 2890842807 IN IP4 10.47.16.5\r\n"
    "s=SDP Seminar\r\n"
    "i=A Seminar on the session description protocol\r\n"
    "u=http://www.example.com/seminars/sdp.pdf\r\n"
    "e=j.doe@example.com (Jane Doe)\r\n"
    "c=IN IP4 224.2.17.12/127\r\n"
    "t=2873397496 2873404696\r\n"
    "a=recvonly\r\n"
    "m=audio 49170 RTP/AVP 0\r\n"
    "m=video 51372 RTP/AVP 99\r\n"
    "a=rtpmap:99 h263-1998/90000\r\n";

/* RFC 3264 §10.1: Alice's offer and Bob's answer. */
static const char offer[] =
    "v=0\r\n"
    "o=alice 2890844526 2890844526 IN IP4 host.atlanta.example.com\r\n"
    "s=\r\n"
    "c=IN IP4 host.atlanta.example.com\r\n"
    "t=0 0\r\n"
    "m=audio 49170 RTP/AVP 0 8 97\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:97 iLBC/8000\r\n"
    "m=video 51372 RTP/AVP 31 32\r\n"
    "a=rtpmap:31 H261/90000\r\n"
    "a=rtpmap:32 MPV/90000\r\n";

static const char answer[] =
    "v=0\r\n"
    "o=bob 2808844564 2808844564 IN IP4 host.biloxi.example.com\r\n"
    "s=\r\n"
    "c=IN IP4 host.biloxi.example.com\r\n"
    "t=0 0\r\n"
    "m=audio 49172 RTP/AVP 0 8\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "m=video 0 RTP/AVP 31\r\n"
    "a=rtpmap:31 H261/90000\r\n";

Test(sdp, parses_the_rfc4566_example)
{
	struct slice v;

	cr_assert_eq(parse(rfc4566), 0, "%s", s.fault ? s.fault : "");
	cr_assert_null(s.fault);
	expect(s.o_user, "jdoe");
	expect(s.o_sess_id, "2890844526");
	expect(s.o_version, "2890842807");
	expect(s.o_nettype, "IN");
	expect(s.o_addrtype, "IP4");
	expect(s.o_addr, "10.47.16.5");
	cr_assert(s.has_conn);
	expect(s.conn.addr, "224.2.17.12/127");
	cr_assert(s.has_dir);
	cr_assert_eq(s.dir, SDP_RECVONLY);
	cr_assert_eq(s.nmedia, 2);
	expect(s.media[0].line, "audio 49170 RTP/AVP 0");
	expect(s.media[0].media, "audio");
	cr_assert_eq(s.media[0].port, 49170);
	cr_assert_eq(s.media[0].nports, 1);
	expect(s.media[0].proto, "RTP/AVP");
	expect(s.media[0].fmts, "0");
	expect(s.media[0].block, "m=audio 49170 RTP/AVP 0\r\n");
	expect(s.media[1].media, "video");
	expect(s.media[1].fmts, "99");
	expect(s.media[1].block,
	       "m=video 51372 RTP/AVP 99\r\na=rtpmap:99 h263-1998/90000\r\n");
	cr_assert_eq(sdp_media_dir(&s, 0), SDP_RECVONLY, "session level");
	cr_assert_eq(sdp_attr_find(s.media[1].block, "rtpmap", &v), 1);
	expect(v, "99 h263-1998/90000");
	cr_assert_eq(sdp_attr_find(s.media[0].block, "rtpmap", &v), 0);
	cr_assert_eq(sdp_attr_find(s.session, "recvonly", &v), 1);
	cr_assert_eq(v.len, 0);
	cr_assert_eq(s.session.len,
		     strlen(rfc4566) -
			 strlen("m=audio 49170 RTP/AVP 0\r\n"
				"m=video 51372 RTP/AVP 99\r\n"
				"a=rtpmap:99 h263-1998/90000\r\n"));
}

Test(sdp, attrs_walk_in_order)
{
	struct slice rest, n, v;
	const char *want[] = { "0 PCMU/8000", "8 PCMA/8000", "97 iLBC/8000" };
	unsigned k = 0;

	cr_assert_eq(parse(offer), 0);
	rest = s.media[0].block;
	while (sdp_attr_next(&rest, &n, &v) == 1) {
		cr_assert_lt(k, 3);
		expect(n, "rtpmap");
		expect(v, want[k++]);
	}
	cr_assert_eq(k, 3);
}

Test(sdp, media_level_direction_wins)
{
	cr_assert_eq(parse("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 h\r\n"
			   "t=0 0\r\na=sendonly\r\n"
			   "m=audio 1 RTP/AVP 0\r\na=inactive\r\n"
			   "m=audio 2 RTP/AVP 0\r\n"),
		     0);
	cr_assert_eq(sdp_media_dir(&s, 0), SDP_INACTIVE);
	cr_assert_eq(sdp_media_dir(&s, 1), SDP_SENDONLY);
	cr_assert_eq(parse("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\n"
			   "m=audio 1 RTP/AVP 0\r\nc=IN IP4 h\r\n"),
		     0, "c= in the media only");
	cr_assert_eq(sdp_media_dir(&s, 0), SDP_SENDRECV, "the default");
	cr_assert(s.media[0].has_conn);
	cr_assert_not(s.has_conn);
}

Test(sdp, lf_only_and_no_final_line_end)
{
	cr_assert_eq(parse("v=0\no=- 1 1 IN IP4 h\ns=-\nc=IN IP4 h\nt=0 0\n"
			   "m=audio 5004/2 RTP/AVP 0 8\na=sendrecv"),
		     0, "%s", s.fault ? s.fault : "");
	cr_assert_eq(s.media[0].port, 5004);
	cr_assert_eq(s.media[0].nports, 2);
	expect(s.media[0].fmts, "0 8");
	cr_assert(s.media[0].has_dir);
	cr_assert_eq(
	    parse("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\n\r\n\r\n"), 0,
	    "trailing blank lines");
	cr_assert_eq(s.nmedia, 0);
}

/* parse(@p text) fails with -EBADMSG and a fault containing @p why. */
static void bad(const char *text, const char *why)
{
	cr_assert_eq(parse(text), -EBADMSG, "accepted: %s", text);
	cr_assert_not_null(s.fault);
	cr_assert(strstr(s.fault, why), "fault '%s', want '%s'", s.fault, why);
}

#define HEAD "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 h\r\nt=0 0\r\n"

Test(sdp, malformed_bodies_have_clear_faults)
{
	char huge[256];

	bad("", "Missing v=");
	bad("\r\n", "Missing v=");
	bad("o=- 1 1 IN IP4 h\r\nv=0\r\n", "Missing v=");
	bad("v=1\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\n", "version");
	bad("v=0\r\ns=-\r\n", "Missing o=");
	bad("v=0\r\n", "Missing o=");
	bad("v=0\r\no=- 1 IN IP4 h\r\ns=-\r\nt=0 0\r\n", "Malformed o=");
	bad("v=0\r\no=- 1 x1 IN IP4 h\r\ns=-\r\nt=0 0\r\n", "o=");
	bad("v=0\r\no=- 1 1 IN IP4 h extra\r\ns=-\r\nt=0 0\r\n", "o=");
	bad("v=0\r\no=- 1 1 IN IP4 h\r\nt=0 0\r\n", "Missing s=");
	bad("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\n", "Missing t=");
	bad("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=audio 1 RTP/AVP "
	    "0\r\n",
	    "Missing c=");
	bad(HEAD "c=IN IP4\r\n", "Malformed c=");
	bad(HEAD "m=audio 65536 RTP/AVP 0\r\n", "port");
	bad(HEAD "m=audio 99999999999999999999999 RTP/AVP 0\r\n", "port");
	bad(HEAD "m=audio 1/0 RTP/AVP 0\r\n", "port count");
	bad(HEAD "m=audio x RTP/AVP 0\r\n", "port");
	bad(HEAD "m=audio 1 RTP/AVP\r\n", "formats");
	bad(HEAD "m=audio\r\n", "Malformed m=");
	bad(HEAD "x\r\n", "Malformed SDP line");
	bad(HEAD "A=sendonly\r\n", "Malformed SDP line");
	bad(HEAD "=x\r\n", "Malformed SDP line");
	bad(HEAD "\r\na=x\r\n", "Empty line");
	bad(HEAD "a=sendonly\r\na=recvonly\r\n", "Conflicting");
	bad(HEAD "v=0\r\n", "Misplaced v=");
	bad(HEAD "o=- 1 1 IN IP4 h\r\n", "Misplaced o=");
	/* A version too long for any counter. */
	snprintf(huge, sizeof(huge),
		 "v=0\r\no=- 1 %0*d IN IP4 h\r\ns=-\r\nt=0 0\r\n",
		 SDP_MAX_DIGITS + 1, 7);
	bad(huge, "o=");
}

Test(sdp, nul_bytes_are_refused)
{
	static const char text[] = HEAD "m=audio 1 RTP/AVP 0\r\na=x\0y\r\n";

	cr_assert_eq(parse_into(&s, text, sizeof(text) - 1), -EBADMSG);
	cr_assert_str_eq(s.fault, "NUL in SDP");
}

Test(sdp, bare_cr_is_refused_and_a_final_cr_kept)
{
	struct slice out;

	bad(HEAD "m=audio 1 RTP/AVP 0\r  \r\n", "Bare CR");
	/* Found by fuzz_sdp: a last line ending in CR alone printed as
	 * "\r\r\n" changed the m= line. */
	cr_assert_eq(parse(HEAD "m=audio 1 RTP/AVP 0 \r"), 0);
	cr_assert_eq(
	    sdp_print(&s, SDP_SET_DIR, SDP_INACTIVE, msgin_arena, &out), 0);
	expect(out, HEAD "m=audio 1 RTP/AVP 0 \r\na=inactive\r\n");
	parse_t(HEAD "m=audio 1 RTP/AVP 0 \r\na=inactive\r\n");
	cr_assert(sdp_media_eq(&s, &t));
}

Test(sdp, too_many_media_and_too_large)
{
	char *text = malloc(SDP_MAX_LEN + 2);
	size_t o;

	cr_assert_not_null(text);
	o = (size_t)snprintf(text, 200, "%s", HEAD);
	for (int i = 0; i <= SDP_MAX_MEDIA; i++)
		o += (size_t)snprintf(text + o, 200, "m=audio %d RTP/AVP 0\r\n",
				      1000 + i);
	cr_assert_eq(parse_into(&s, text, o), -E2BIG);
	cr_assert_not_null(s.fault);
	memset(text, 'a', SDP_MAX_LEN + 1);
	cr_assert_eq(parse_into(&s, text, SDP_MAX_LEN + 1), -EMSGSIZE);
	free(text);
}

Test(sdp, every_truncation_is_an_answer_not_a_crash)
{
	size_t len = strlen(offer);
	unsigned ok = 0;

	/* Each prefix right before a guard page: an over-read crashes. */
	for (size_t n = 0; n <= len; n++) {
		int ret = parse_into(&s, offer, n);

		cr_assert(ret == 0 || ret == -EBADMSG, "prefix %zu: %d", n,
			  ret);
		if (ret == 0) {
			cr_assert_null(s.fault);
			ok++;
		} else {
			cr_assert_not_null(s.fault);
		}
	}
	cr_assert_gt(ok, 0);
	cr_assert_lt(ok, len);
}

Test(sdp, hold_copy_keeps_m_lines_and_bumps_version)
{
	struct slice out;
	const char held[] =
	    "v=0\r\n"
	    "o=alice 2890844526 2890844527 IN IP4 host.atlanta.example.com\r\n"
	    "s=\r\n"
	    "c=IN IP4 host.atlanta.example.com\r\n"
	    "t=0 0\r\n"
	    "m=audio 49170 RTP/AVP 0 8 97\r\n"
	    "a=rtpmap:0 PCMU/8000\r\n"
	    "a=rtpmap:8 PCMA/8000\r\n"
	    "a=rtpmap:97 iLBC/8000\r\n"
	    "a=inactive\r\n"
	    "m=video 51372 RTP/AVP 31 32\r\n"
	    "a=rtpmap:31 H261/90000\r\n"
	    "a=rtpmap:32 MPV/90000\r\n"
	    "a=inactive\r\n";

	cr_assert_eq(parse(offer), 0);
	cr_assert_eq(sdp_print(&s, SDP_SET_DIR | SDP_BUMP_VERSION, SDP_INACTIVE,
			       msgin_arena, &out),
		     0);
	expect(out, held);
	parse_t(held);
	cr_assert(sdp_media_eq(&s, &t));
	cr_assert_eq(sdp_media_dir(&t, 0), SDP_INACTIVE);
	cr_assert_eq(sdp_media_dir(&t, 1), SDP_INACTIVE);
}

Test(sdp, set_dir_replaces_every_direction)
{
	struct slice out;

	cr_assert_eq(parse("v=0\no=- 1 1 IN IP4 h\ns=-\nc=IN IP4 h\nt=0 0\n"
			   "a=sendonly\nm=audio 1 RTP/AVP 0\na=recvonly\n"
			   "a=ptime:20\nm=audio 2 RTP/AVP 0"),
		     0);
	cr_assert_eq(
	    sdp_print(&s, SDP_SET_DIR, SDP_SENDRECV, msgin_arena, &out), 0);
	expect(out, "v=0\no=- 1 1 IN IP4 h\ns=-\nc=IN IP4 h\nt=0 0\n"
		    "m=audio 1 RTP/AVP 0\na=ptime:20\na=sendrecv\r\n"
		    "m=audio 2 RTP/AVP 0\r\na=sendrecv\r\n");
	cr_assert_eq(parse("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\n"), 0);
	cr_assert_eq(
	    sdp_print(&s, SDP_SET_DIR, SDP_INACTIVE, msgin_arena, &out), 0);
	expect(out,
	       "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\na=inactive\r\n");
	cr_assert_eq(
	    sdp_print(&s, SDP_SET_DIR, (enum sdp_dir)7, msgin_arena, &out),
	    -EINVAL);
}

Test(sdp, version_bump_carries)
{
	struct slice out;

	cr_assert_eq(parse("v=0\r\no=- 5 999 IN IP4 h\r\ns=-\r\nt=0 0\r\n"), 0);
	cr_assert_eq(
	    sdp_print(&s, SDP_BUMP_VERSION, SDP_SENDRECV, msgin_arena, &out),
	    0);
	expect(out, "v=0\r\no=- 5 1000 IN IP4 h\r\ns=-\r\nt=0 0\r\n");
	cr_assert_eq(parse("v=0\r\no=- 5 18446744073709551615 IN IP4 h\r\n"
			   "s=-\r\nt=0 0\r\n"),
		     0);
	cr_assert_eq(
	    sdp_print(&s, SDP_BUMP_VERSION, SDP_SENDRECV, msgin_arena, &out),
	    0);
	expect(out, "v=0\r\no=- 5 18446744073709551616 IN IP4 h\r\n"
		    "s=-\r\nt=0 0\r\n");
	cr_assert_eq(parse("v=0\r\no=- 5 0 IN IP4 h\r\ns=-\r\nt=0 0\r\n"), 0);
	cr_assert_eq(sdp_print(&s, 0, SDP_SENDRECV, msgin_arena, &out), 0);
	expect(out, "v=0\r\no=- 5 0 IN IP4 h\r\ns=-\r\nt=0 0\r\n");
}

Test(sdp, media_eq_is_byte_for_byte)
{
	cr_assert_eq(parse(offer), 0);
	parse_t(offer);
	cr_assert(sdp_media_eq(&s, &t));
	parse_t("v=0\r\no=x 1 1 IN IP4 other\r\ns=-\r\nc=IN IP4 other\r\n"
		"t=0 0\r\nm=audio 49170 RTP/AVP 0 8 97\r\n"
		"m=video 51372 RTP/AVP 31  32\r\n");
	cr_assert_not(sdp_media_eq(&s, &t), "one space more");
	parse_t("v=0\r\no=x 1 1 IN IP4 other\r\ns=-\r\nc=IN IP4 other\r\n"
		"t=0 0\r\nm=audio 49170 RTP/AVP 0 8 97\r\n");
	cr_assert_not(sdp_media_eq(&s, &t), "one m= line fewer");
}

Test(sdp, answer_check_3264_section_6)
{
	const char *why = NULL;

	cr_assert_eq(parse(offer), 0);
	parse_t(answer);
	cr_assert_eq(sdp_answer_check(&s, &t, &why), 0, "%s", why ? why : "");
	parse_t("v=0\r\no=b 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 h\r\nt=0 0\r\n"
		"m=audio 49172 RTP/AVP 0\r\n");
	cr_assert_eq(sdp_answer_check(&s, &t, &why), -EPROTO);
	cr_assert(strstr(why, "count"));
	parse_t("v=0\r\no=b 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 h\r\nt=0 0\r\n"
		"m=video 0 RTP/AVP 31\r\nm=audio 49172 RTP/AVP 0\r\n");
	cr_assert_eq(sdp_answer_check(&s, &t, &why), -EPROTO);
	cr_assert(strstr(why, "order"));
	parse_t("v=0\r\no=b 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 h\r\nt=0 0\r\n"
		"m=audio 49172 RTP/SAVP 0\r\nm=video 0 RTP/AVP 31\r\n");
	cr_assert_eq(sdp_answer_check(&s, &t, &why), -EPROTO);
	cr_assert(strstr(why, "protocol"));
	/* A hold offer: the answer must not send. */
	cr_assert_eq(parse("v=0\r\no=a 1 2 IN IP4 h\r\ns=-\r\nc=IN IP4 h\r\n"
			   "t=0 0\r\na=sendonly\r\nm=audio 1 RTP/AVP 0\r\n"
			   "m=video 0 RTP/AVP 31\r\n"),
		     0);
	parse_t("v=0\r\no=b 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 h\r\nt=0 0\r\n"
		"m=audio 2 RTP/AVP 0\r\nm=video 0 RTP/AVP 31\r\n");
	cr_assert_eq(sdp_answer_check(&s, &t, &why), -EPROTO);
	cr_assert(strstr(why, "direction"));
	parse_t(
	    "v=0\r\no=b 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 h\r\nt=0 0\r\n"
	    "m=audio 2 RTP/AVP 0\r\na=recvonly\r\nm=video 0 RTP/AVP 31\r\n");
	cr_assert_eq(sdp_answer_check(&s, &t, NULL), 0);
	parse_t(
	    "v=0\r\no=b 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 h\r\nt=0 0\r\n"
	    "m=audio 2 RTP/AVP 0\r\na=recvonly\r\nm=video 9 RTP/AVP 31\r\n");
	cr_assert_eq(sdp_answer_check(&s, &t, &why), -EPROTO);
	cr_assert(strstr(why, "disabled"));
}
