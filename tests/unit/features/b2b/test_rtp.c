/* tests/unit/features/b2b/test_rtp.c - RTP headers, G.711, RFC 4733 events
 * and their one-report-per-event receiver */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "features/b2b/rtp.h"
#include "tests/common/teardown.h"

static void setup(void)
{
}

static void teardown(void)
{
	teardown_check_objs(0);
}

TestSuite(rtp, .init = setup, .fini = teardown, .timeout = 10);

Test(rtp, header_written_as_rfc3550_and_parsed_back)
{
	uint8_t b[RTP_HDR_LEN + 3] = { 0 };
	struct rtp_hdr h = { .pt = 8,
			     .marker = true,
			     .seq = 0xfffe,
			     .ts = 0x89abcdef,
			     .ssrc = 0x01020304 },
		       g;
	const uint8_t *pl;
	size_t plen;

	rtp_hdr_write(b, &h);
	cr_assert_eq(b[0], 0x80, "V=2, P=0, X=0, CC=0");
	cr_assert_eq(b[1], 0x88, "M=1, PT=8");
	cr_assert_eq(b[2], 0xff);
	cr_assert_eq(b[3], 0xfe);
	cr_assert_eq(b[4], 0x89);
	cr_assert_eq(b[7], 0xef);
	cr_assert_eq(b[8], 0x01);
	cr_assert_eq(b[11], 0x04);
	cr_assert_eq(rtp_parse(b, sizeof(b), &g, &pl, &plen), 0);
	cr_assert_eq(g.pt, 8);
	cr_assert(g.marker);
	cr_assert_eq(g.seq, 0xfffe);
	cr_assert_eq(g.ts, 0x89abcdef);
	cr_assert_eq(g.ssrc, 0x01020304);
	cr_assert_eq(pl, b + RTP_HDR_LEN);
	cr_assert_eq(plen, 3);
	h.marker = false;
	h.pt = 0;
	rtp_hdr_write(b, &h);
	cr_assert_eq(b[1], 0x00);
}

Test(rtp, parse_skips_csrc_and_extension_and_strips_padding)
{
	/* CC=2, X=1, P=1: 12 + 8 (CSRC) + 4 + 4 (ext) + 2 payload + 2 pad. */
	uint8_t b[32] = { 0xb2, 0x00 };
	struct rtp_hdr h;
	const uint8_t *pl;
	size_t plen;

	b[22] = 0;
	b[23] = 1; /* extension length: one word */
	b[28] = 0xaa;
	b[29] = 0xbb;
	b[31] = 2; /* padding */
	cr_assert_eq(rtp_parse(b, 32, &h, &pl, &plen), 0);
	cr_assert_eq(pl, b + 28);
	cr_assert_eq(plen, 2);
	cr_assert_eq(pl[0], 0xaa);
}

Test(rtp, parse_rejects_what_is_not_rtp)
{
	uint8_t b[40] = { 0x80 };
	struct rtp_hdr h;
	const uint8_t *pl;
	size_t plen;

	cr_assert_eq(rtp_parse(b, 11, &h, &pl, &plen), -EBADMSG, "short");
	b[0] = 0x40; /* version 1 */
	cr_assert_eq(rtp_parse(b, 20, &h, &pl, &plen), -EBADMSG);
	b[0] = 0x8f; /* 15 CSRC, 60 bytes, in 20 */
	cr_assert_eq(rtp_parse(b, 20, &h, &pl, &plen), -EBADMSG);
	b[0] = 0x90; /* extension header cut */
	cr_assert_eq(rtp_parse(b, 14, &h, &pl, &plen), -EBADMSG);
	b[14] = 0xff; /* extension longer than the packet */
	cr_assert_eq(rtp_parse(b, 20, &h, &pl, &plen), -EBADMSG);
	b[0] = 0xa0; /* padding longer than the payload */
	b[19] = 9;
	cr_assert_eq(rtp_parse(b, 20, &h, &pl, &plen), -EBADMSG);
	b[19] = 0;
	cr_assert_eq(rtp_parse(b, 20, &h, &pl, &plen), -EBADMSG, "pad 0");
}

/* G.711's segments quantise: the error is at most half a step, and the
 * step of the top segment is 2^(seg+3) (µ-law: 2^(seg+4) in 14-bit
 * units, times 4 in 16-bit ones with the bias). A bound of 1/16 of the
 * magnitude plus 16 holds for both laws over the whole range. */
static void round_trip(enum rtp_law law)
{
	static int16_t in[65536], out[65536];
	static uint8_t enc[65536], enc2[65536];
	static int16_t out2[65536];

	for (int i = 0; i < 65536; i++)
		in[i] = (int16_t)(i - 32768);
	rtp_g711_encode(law, in, 65536, enc);
	rtp_g711_decode(law, enc, 65536, out);
	for (int i = 0; i < 65536; i++) {
		int err = abs(in[i] - out[i]);

		cr_assert_leq(err,
			      abs(in[i]) / 16 + 16 + (law == RTP_ULAW) * 132,
			      "law %d: %d -> %d", law, in[i], out[i]);
	}
	/* Encoding a decoded value gives the same sound back (the same
	 * code, but for µ-law's two zeros, 0x7f and 0xff). */
	rtp_g711_encode(law, out, 65536, enc2);
	rtp_g711_decode(law, enc2, 65536, out2);
	for (int i = 0; i < 65536; i++) {
		cr_assert_eq(out2[i], out[i], "law %d: %d", law, in[i]);
		cr_assert(enc2[i] == enc[i] || out[i] == 0, "law %d: %d", law,
			  in[i]);
	}
}

Test(rtp, g711_round_trip_both_laws)
{
	round_trip(RTP_ULAW);
	round_trip(RTP_ALAW);
}

Test(rtp, g711_known_codes_and_silence)
{
	int16_t z = 0, pcm[2];
	uint8_t u, a, codes[2] = { 0x00, 0x80 };

	rtp_g711_encode(RTP_ULAW, &z, 1, &u);
	rtp_g711_encode(RTP_ALAW, &z, 1, &a);
	cr_assert_eq(u, 0xff, "µ-law 0 is 0xff (G.711 Table 2)");
	cr_assert_eq(a, 0xd5, "A-law 0 is 0xd5 (even bits inverted)");
	cr_assert_eq(rtp_g711_silence(RTP_ULAW), 0xff);
	cr_assert_eq(rtp_g711_silence(RTP_ALAW), 0xd5);
	/* µ-law 0x00 and 0x80 are the loudest negative and positive. */
	rtp_g711_decode(RTP_ULAW, codes, 2, pcm);
	cr_assert_eq(pcm[0], -32124);
	cr_assert_eq(pcm[1], 32124);
}

Test(rtp, event_payload_written_and_parsed)
{
	uint8_t p[4];
	struct rtp_event ev = { .event = 11,
				.end = true,
				.volume = 10,
				.duration = 800 },
			 g;

	rtp_event_write(p, &ev);
	cr_assert_eq(p[0], 11);
	cr_assert_eq(p[1], 0x8a);
	cr_assert_eq(p[2], 0x03);
	cr_assert_eq(p[3], 0x20);
	cr_assert_eq(rtp_event_parse(p, 4, &g), 0);
	cr_assert_eq(g.event, 11);
	cr_assert(g.end);
	cr_assert_eq(g.volume, 10);
	cr_assert_eq(g.duration, 800);
	cr_assert_eq(rtp_event_parse(p, 3, &g), -EBADMSG);
	cr_assert_eq(rtp_event_char(10), '*');
	cr_assert_eq(rtp_event_char(11), '#');
	cr_assert_eq(rtp_event_char(7), '7');
	cr_assert_eq(rtp_event_char(15), 'D');
	cr_assert_eq(rtp_event_char(16), 0, "flash is not DTMF");
	cr_assert_eq(rtp_event_code('*'), 10);
	cr_assert_eq(rtp_event_code('#'), 11);
	cr_assert_eq(rtp_event_code('a'), 12);
	cr_assert_eq(rtp_event_code('0'), 0);
	cr_assert_eq(rtp_event_code('x'), -EINVAL);
	cr_assert_eq(rtp_event_code(0), -EINVAL);
}

static int feed(struct rtp_dtmf_rx *rx, uint32_t ts, uint8_t code, bool end,
		uint16_t dur, struct rtp_dtmf out[2])
{
	struct rtp_event ev = { .event = code, .end = end, .duration = dur };

	return rtp_dtmf_rx_feed(rx, ts, &ev, out);
}

Test(rtp, dtmf_reported_once_despite_three_end_packets)
{
	struct rtp_dtmf_rx rx = { 0 };
	struct rtp_dtmf out[2];

	cr_assert_eq(feed(&rx, 1000, 7, false, 160, out), 0);
	cr_assert_eq(feed(&rx, 1000, 7, false, 320, out), 0);
	cr_assert_eq(feed(&rx, 1000, 7, true, 480, out), 1);
	cr_assert_eq(out[0].event, 7);
	cr_assert_eq(out[0].duration, 480);
	cr_assert_eq(feed(&rx, 1000, 7, true, 480, out), 0, "retransmission");
	cr_assert_eq(feed(&rx, 1000, 7, true, 480, out), 0, "retransmission");
	/* The same digit again is a new event: another timestamp. */
	cr_assert_eq(feed(&rx, 2000, 7, false, 160, out), 0);
	cr_assert_eq(feed(&rx, 2000, 7, true, 320, out), 1);
	cr_assert_eq(out[0].event, 7);
	/* Late retransmissions of either: nothing. */
	cr_assert_eq(feed(&rx, 2000, 7, true, 320, out), 0);
	cr_assert_eq(feed(&rx, 1000, 7, true, 480, out), 0);
	cr_assert_eq(feed(&rx, 1000, 7, false, 160, out), 0);
	/* Timestamps wrap around 2^32: still newer. */
	cr_assert_eq(feed(&rx, 0xffffff00u, 3, true, 400, out), 0, "older");
	rx = (struct rtp_dtmf_rx){ 0 };
	cr_assert_eq(feed(&rx, 0xffffff00u, 3, true, 400, out), 1);
	cr_assert_eq(feed(&rx, 0x100, 4, true, 400, out), 1, "after wrap");
	cr_assert_eq(out[0].event, 4);
}

Test(rtp, dtmf_with_lost_end_reported_when_next_begins)
{
	struct rtp_dtmf_rx rx = { 0 };
	struct rtp_dtmf out[2];

	cr_assert_eq(feed(&rx, 100, 10, false, 160, out), 0);
	cr_assert_eq(feed(&rx, 100, 10, false, 320, out), 0);
	/* All three ends of '*' lost; '7' begins. */
	cr_assert_eq(feed(&rx, 900, 7, false, 160, out), 1);
	cr_assert_eq(out[0].event, 10);
	cr_assert_eq(out[0].duration, 320);
	/* Only an end packet of the next one arrives: both at once. */
	cr_assert_eq(feed(&rx, 1800, 1, true, 800, out), 2);
	cr_assert_eq(out[0].event, 7);
	cr_assert_eq(out[1].event, 1);
	cr_assert_eq(out[1].duration, 800);
	cr_assert_eq(feed(&rx, 1800, 1, true, 800, out), 0);
}
