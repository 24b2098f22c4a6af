/* tests/unit/proxy/sip/test_frame.c - incremental stream framing: same
 * answers as sipmsg_frame(), each byte searched about once */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "proxy/sip/msg.h"
#include "tests/common/guard.h"

#define MAX_HDR	 8192
#define MAX_BODY 65536

TestSuite(sipframe, .timeout = 30);

static const char invite[] =
    "INVITE sip:bob@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK-frame\r\n"
    "Max-Forwards: 70\r\n"
    "From: <sip:alice@example.net>;tag=1928301774\r\n"
    "To: <sip:bob@example.com>\r\n"
    "Subject: a header value\r\n"
    "  folded over two lines\r\n"
    "Call-ID: a84b4c76e66710@pc33.example.net\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:alice@192.0.2.1;transport=tcp>\r\n"
    "Content-Type: application/sdp\r\n"
    "l: 31\r\n"
    "\r\n"
    "v=0\r\n"
    "o=- 1 1 IN IP4 192.0.2.1\r\n"
    "OPTIONS sip:next SIP/2.0\r\n";

/*
 * Feed the first @p total bytes of @p text to one framer in pieces of
 * @p step bytes (each piece a fresh guarded copy of the prefix, so an
 * over-read crashes). Returns the first result other than -EAGAIN, or
 * -EAGAIN; *scannedp gets the framer's count.
 */
static int feed(const char *text, size_t total, size_t step, size_t max_hdr,
		size_t *scannedp, const char **faultp)
{
	struct sipmsg_framer f;
	int ret = -EAGAIN;

	sipmsg_framer_reset(&f);
	for (size_t len = step < total ? step : total;; len += step) {
		char *g;

		if (len > total)
			len = total;
		g = guard_copy(text, len);
		cr_assert_not_null(g);
		ret = sipmsg_frame_next(&f, g, len, max_hdr, MAX_BODY, faultp);
		guard_free(g);
		if (ret != -EAGAIN || len == total)
			break;
	}
	*scannedp = f.scanned;
	return ret;
}

Test(sipframe, byte_by_byte_frames_as_the_whole_does)
{
	size_t msg_len =
	    strlen(invite) - strlen("OPTIONS sip:next SIP/2.0\r\n");
	const char *fault = NULL, *fault2 = NULL;
	size_t scanned;
	int whole, ret;

	whole = sipmsg_frame(invite, strlen(invite), MAX_HDR, MAX_BODY, &fault);
	cr_assert_eq(whole, (int)msg_len, "whole: %d", whole);
	ret = feed(invite, strlen(invite), 1, MAX_HDR, &scanned, &fault2);
	cr_assert_eq(ret, whole);
	/* Every prefix shorter than the message needs more. */
	for (size_t len = 0; len < msg_len; len++)
		cr_assert_eq(
		    sipmsg_frame(invite, len, MAX_HDR, MAX_BODY, &fault),
		    -EAGAIN, "prefix %zu", len);
}

Test(sipframe, scan_resumes_instead_of_starting_over)
{
	const char *fault = NULL;
	size_t len = strlen(invite), scanned = 0, whole_scan;
	struct sipmsg_framer f;

	/* All at once: the header block is searched once. */
	sipmsg_framer_reset(&f);
	cr_assert_gt(
	    sipmsg_frame_next(&f, invite, len, MAX_HDR, MAX_BODY, &fault), 0);
	whole_scan = f.scanned;
	cr_assert_gt(whole_scan, 0);
	/* A byte at a time: each call searches what is new, plus at most
	 * the line end before it (a fold may follow). A scan from the
	 * start on every call would search about len * len / 2 bytes. */
	cr_assert_gt(feed(invite, len, 1, MAX_HDR, &scanned, &fault), 0);
	cr_expect_leq(scanned, 2 * whole_scan + 2, "searched %zu bytes for %zu",
		      scanned, whole_scan);
	cr_expect_lt(scanned, len * 4);
}

Test(sipframe, pieces_of_any_size_agree)
{
	const char *fault = NULL;
	size_t scanned;
	int whole =
	    sipmsg_frame(invite, strlen(invite), MAX_HDR, MAX_BODY, &fault);

	for (size_t step = 1; step <= 64; step++)
		cr_assert_eq(feed(invite, strlen(invite), step, MAX_HDR,
				  &scanned, &fault),
			     whole, "step %zu", step);
}

Test(sipframe, errors_found_piecewise_are_the_same)
{
	static const char dup[] = "OPTIONS sip:x SIP/2.0\r\n"
				  "Content-Length: 0\r\n"
				  "Via: SIP/2.0/TCP h;branch=z9hG4bK1\r\n"
				  "l: 5\r\n"
				  "\r\n";
	static const char none[] = "OPTIONS sip:x SIP/2.0\r\n"
				   "Via: SIP/2.0/TCP h;branch=z9hG4bK1\r\n"
				   "\r\n";
	static const char big[] =
	    "OPTIONS sip:x SIP/2.0\r\n"
	    "X-Pad: 0123456789012345678901234567890123\r\n"
	    "X-Pad: 0123456789012345678901234567890123\r\n"
	    "Content-Length: 0\r\n"
	    "\r\n";
	const char *fault = NULL;
	size_t scanned;

	cr_assert_eq(feed(dup, strlen(dup), 1, MAX_HDR, &scanned, &fault),
		     -EBADMSG);
	cr_assert_str_eq(fault, "Duplicate Content-Length");
	fault = NULL;
	cr_assert_eq(feed(none, strlen(none), 3, MAX_HDR, &scanned, &fault),
		     -EBADMSG);
	cr_assert_str_eq(fault, "Missing Content-Length");
	/* The header block passes the limit while it still grows. */
	cr_assert_eq(feed(big, strlen(big), 1, 64, &scanned, &fault),
		     -EMSGSIZE);
	cr_assert_eq(feed(big, strlen(big), 1, strlen(big), &scanned, &fault),
		     (int)strlen(big));
}

Test(sipframe, body_wait_does_not_scan_again)
{
	static char msg[2048];
	const char *fault = NULL;
	struct sipmsg_framer f;
	size_t hdr, total;
	int n;

	n = snprintf(msg, sizeof(msg),
		     "MESSAGE sip:x SIP/2.0\r\nContent-Length: 1000\r\n\r\n");
	hdr = (size_t)n;
	memset(msg + hdr, 'b', 1000);
	total = hdr + 1000;
	sipmsg_framer_reset(&f);
	cr_assert_eq(
	    sipmsg_frame_next(&f, msg, hdr + 1, MAX_HDR, MAX_BODY, &fault),
	    -EAGAIN);
	cr_assert_leq(f.scanned, hdr + 1);
	for (size_t len = hdr + 2; len < total; len++) {
		size_t before = f.scanned;

		cr_assert_eq(
		    sipmsg_frame_next(&f, msg, len, MAX_HDR, MAX_BODY, &fault),
		    -EAGAIN);
		cr_assert_eq(f.scanned, before, "the body was searched");
	}
	cr_assert_eq(
	    sipmsg_frame_next(&f, msg, total, MAX_HDR, MAX_BODY, &fault),
	    (int)total);
	/* Reset: the next message is framed from its own start. */
	sipmsg_framer_reset(&f);
	cr_assert_eq(
	    sipmsg_frame_next(&f, invite, strlen(invite), MAX_HDR, MAX_BODY,
			      &fault),
	    sipmsg_frame(invite, strlen(invite), MAX_HDR, MAX_BODY, &fault));
}
