/* features/b2b/rtp.h - RTP packets (RFC 3550), G.711 and RFC 4733
 * telephone-events: the media engine's pure functions */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Everything here works on caller buffers and has no state but what the
 * caller passes in (struct rtp_dtmf_rx): any thread may call it.
 */

/** The fixed RTP header (no CSRC, no extension). */
#define RTP_HDR_LEN 12
/** One 20 ms G.711 frame at 8 kHz: 160 samples, 160 bytes. */
#define RTP_FRAME_SAMPLES 160
/** The static payload types of G.711 (RFC 3551 §6). */
#define RTP_PT_PCMU 0
#define RTP_PT_PCMA 8
/** The payload type the pool offers for telephone-event. */
#define RTP_PT_EVENT 101
/** An RFC 4733 event payload, in bytes. */
#define RTP_EVENT_LEN 4

/** The header fields sipedge reads and writes. A value type. */
struct rtp_hdr {
	uint8_t pt; /**< payload type, 0..127 */
	bool marker;
	uint16_t seq;
	uint32_t ts;
	uint32_t ssrc;
};

/** The two G.711 laws. */
enum rtp_law {
	RTP_ULAW, /**< PCMU, payload type 0 */
	RTP_ALAW, /**< PCMA, payload type 8 */
};

/**
 * Write @p h as a 12-byte RTP header (version 2, no padding, no
 * extension, no CSRC) at @p buf (at least RTP_HDR_LEN bytes).
 * Thread: any.
 */
void rtp_hdr_write(uint8_t *buf, const struct rtp_hdr *h);

/**
 * Parse the RTP packet @p buf (@p len bytes, RFC 3550 §5.1): version 2,
 * CSRC list and header extension skipped, padding removed. Returns 0
 * with *h, *payloadp and *plenp set, or -EBADMSG (shorter than its
 * header, another version, padding longer than the payload). Never
 * reads outside buf[0, len). Thread: any. Ownership: *payloadp points
 * into @p buf.
 */
int rtp_parse(const uint8_t *buf, size_t len, struct rtp_hdr *h,
	      const uint8_t **payloadp, size_t *plenp);

/**
 * Encode @p n 16-bit linear samples @p in with @p law into @p out
 * (@p n bytes). Thread: any.
 */
void rtp_g711_encode(enum rtp_law law, const int16_t *in, size_t n,
		     uint8_t *out);

/** Decode @p n G.711 bytes @p in into @p out. Thread: any. */
void rtp_g711_decode(enum rtp_law law, const uint8_t *in, size_t n,
		     int16_t *out);

/** The byte of silence (linear 0) in @p law: 0xff µ-law, 0xd5 A-law. */
uint8_t rtp_g711_silence(enum rtp_law law);

/** An RFC 4733 §2.3 named event (DTMF: 0-9 = 0-9, * = 10, # = 11,
 * A-D = 12-15). A value type. */
struct rtp_event {
	uint8_t event;
	bool end;
	uint8_t volume;	   /**< 0..63, -dBm0 */
	uint16_t duration; /**< timestamp units since the event began */
};

/**
 * Parse the payload @p p (@p len bytes) of a telephone-event packet.
 * Returns 0 with *ev set, or -EBADMSG (shorter than RTP_EVENT_LEN).
 * Thread: any.
 */
int rtp_event_parse(const uint8_t *p, size_t len, struct rtp_event *ev);

/** Write @p ev as RTP_EVENT_LEN bytes at @p p. Thread: any. */
void rtp_event_write(uint8_t *p, const struct rtp_event *ev);

/** The DTMF character of event code @p event ("0".."9", '*', '#',
 * 'A'..'D'), or 0 for any other event. Thread: any. */
char rtp_event_char(uint8_t event);

/** The event code of DTMF character @p c, or -EINVAL. Thread: any. */
int rtp_event_code(char c);

/**
 * The receiving side of RFC 4733 for one stream: turns the packets of
 * events (each repeated while it lasts, its end sent three times) into
 * one report per event. Embedded by the caller, zeroed to start.
 */
struct rtp_dtmf_rx {
	/* private */
	bool active;	   /* an event with timestamp ts is open */
	bool reported;	   /* ... and was reported */
	bool have_last;	   /* last_ts is the last event reported */
	uint8_t event;	   /* the open event's code */
	uint16_t duration; /* its longest duration seen */
	uint32_t ts;
	uint32_t last_ts;
};

/** One event to report: its code and its duration (timestamp units). */
struct rtp_dtmf {
	uint8_t event;
	uint16_t duration;
};

/**
 * Feed one telephone-event packet (RTP timestamp @p ts, payload @p ev)
 * to @p rx. An event is reported once, when its first end packet
 * arrives; the end's retransmissions and late packets of an event
 * already reported report nothing. An event whose end packets were all
 * lost is reported when the next event (another timestamp) begins.
 * Returns how many events to report (0, 1 or 2, oldest first) in
 * out[0..]. Thread: the owner of @p rx.
 */
int rtp_dtmf_rx_feed(struct rtp_dtmf_rx *rx, uint32_t ts,
		     const struct rtp_event *ev, struct rtp_dtmf out[2]);
