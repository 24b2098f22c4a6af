/* features/b2b/rtp.c - RTP packets, G.711 (spandsp) and RFC 4733 events */
#include "features/b2b/rtp.h"

#include <errno.h>
#include <string.h>

#include <spandsp/telephony.h>
#include <spandsp/bit_operations.h>
#include <spandsp/g711.h>

void rtp_hdr_write(uint8_t *buf, const struct rtp_hdr *h)
{
	/* RFC 3550 §5.1: V=2, P=0, X=0, CC=0 | M, PT | seq | ts | SSRC. */
	buf[0] = 0x80;
	buf[1] = (uint8_t)((h->marker ? 0x80 : 0) | (h->pt & 0x7f));
	buf[2] = (uint8_t)(h->seq >> 8);
	buf[3] = (uint8_t)h->seq;
	buf[4] = (uint8_t)(h->ts >> 24);
	buf[5] = (uint8_t)(h->ts >> 16);
	buf[6] = (uint8_t)(h->ts >> 8);
	buf[7] = (uint8_t)h->ts;
	buf[8] = (uint8_t)(h->ssrc >> 24);
	buf[9] = (uint8_t)(h->ssrc >> 16);
	buf[10] = (uint8_t)(h->ssrc >> 8);
	buf[11] = (uint8_t)h->ssrc;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

int rtp_parse(const uint8_t *buf, size_t len, struct rtp_hdr *h,
	      const uint8_t **payloadp, size_t *plenp)
{
	size_t off, end = len;

	if (len < RTP_HDR_LEN || (buf[0] >> 6) != 2)
		return -EBADMSG;
	off = RTP_HDR_LEN + 4u * (buf[0] & 0x0f);
	if (off > len)
		return -EBADMSG;
	if (buf[0] & 0x10) { /* extension: 16-bit profile, 16-bit length */
		if (off + 4 > len)
			return -EBADMSG;
		off += 4 + 4u * ((size_t)buf[off + 2] << 8 | buf[off + 3]);
		if (off > len)
			return -EBADMSG;
	}
	if (buf[0] & 0x20) { /* padding: the last byte counts it */
		size_t pad = buf[len - 1];

		if (pad == 0 || pad > len - off)
			return -EBADMSG;
		end = len - pad;
	}
	h->marker = buf[1] & 0x80;
	h->pt = buf[1] & 0x7f;
	h->seq = (uint16_t)(buf[2] << 8 | buf[3]);
	h->ts = be32(buf + 4);
	h->ssrc = be32(buf + 8);
	*payloadp = buf + off;
	*plenp = end - off;
	return 0;
}

void rtp_g711_encode(enum rtp_law law, const int16_t *in, size_t n,
		     uint8_t *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = law == RTP_ALAW ? linear_to_alaw(in[i])
					 : linear_to_ulaw(in[i]);
}

void rtp_g711_decode(enum rtp_law law, const uint8_t *in, size_t n,
		     int16_t *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = law == RTP_ALAW ? alaw_to_linear(in[i])
					 : ulaw_to_linear(in[i]);
}

uint8_t rtp_g711_silence(enum rtp_law law)
{
	return law == RTP_ALAW ? linear_to_alaw(0) : linear_to_ulaw(0);
}

int rtp_event_parse(const uint8_t *p, size_t len, struct rtp_event *ev)
{
	if (len < RTP_EVENT_LEN)
		return -EBADMSG;
	/* RFC 4733 §2.3: event | E R volume(6) | duration(16). */
	ev->event = p[0];
	ev->end = p[1] & 0x80;
	ev->volume = p[1] & 0x3f;
	ev->duration = (uint16_t)(p[2] << 8 | p[3]);
	return 0;
}

void rtp_event_write(uint8_t *p, const struct rtp_event *ev)
{
	p[0] = ev->event;
	p[1] = (uint8_t)((ev->end ? 0x80 : 0) | (ev->volume & 0x3f));
	p[2] = (uint8_t)(ev->duration >> 8);
	p[3] = (uint8_t)ev->duration;
}

static const char dtmf_chars[] = "0123456789*#ABCD";

char rtp_event_char(uint8_t event)
{
	return event < 16 ? dtmf_chars[event] : 0;
}

int rtp_event_code(char c)
{
	const char *p;

	if (c >= 'a' && c <= 'd')
		c = (char)(c - 'a' + 'A');
	p = c ? strchr(dtmf_chars, c) : NULL;
	return p ? (int)(p - dtmf_chars) : -EINVAL;
}

int rtp_dtmf_rx_feed(struct rtp_dtmf_rx *rx, uint32_t ts,
		     const struct rtp_event *ev, struct rtp_dtmf out[2])
{
	int n = 0;

	/* An event already reported, or an older one (RFC 3550 timestamps
	 * wrap: compare by serial arithmetic): retransmissions. */
	if (rx->have_last && (int32_t)(ts - rx->last_ts) <= 0)
		return 0;
	if (rx->active && ts != rx->ts) {
		/* A new event: the open one lost its end packets. */
		if (!rx->reported) {
			out[n].event = rx->event;
			out[n].duration = rx->duration;
			n++;
			rx->last_ts = rx->ts;
			rx->have_last = true;
		}
		rx->active = false;
	}
	if (!rx->active) {
		rx->active = true;
		rx->reported = false;
		rx->ts = ts;
		rx->event = ev->event;
		rx->duration = 0;
	}
	if (ev->duration > rx->duration)
		rx->duration = ev->duration;
	if (ev->end && !rx->reported) {
		out[n].event = rx->event;
		out[n].duration = rx->duration;
		n++;
		rx->reported = true;
		rx->active = false;
		rx->last_ts = ts;
		rx->have_last = true;
	}
	return n;
}
