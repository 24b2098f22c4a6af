/* tests/common/phone.h - a scripted SIP phone for integration tests: a
 * UA (tests/common/ua.h) with an RTP socket on its address, that calls
 * with an SDP offer, keeps the dialog of the answer and sends in it,
 * answers re-INVITEs with its SDP and checks the RTP it receives */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/common/sipcli.h"
#include "tests/common/ua.h"

/** Longest wait for one RTP packet (a safety net, not a timing one). */
#define PHONE_RTP_WAIT_MS 3000

/** Bytes of one PCMU frame of 20 ms (also the RTP payload the pool sends). */
#define PHONE_FRAME 160

/**
 * What differs between the suites that use phones: how their messages
 * look on the wire. The caller keeps it alive as long as its phones.
 */
struct phone_kind {
	const char *cid_prefix; /**< Call-IDs "PREFIX-USER-PORT-N" */
	const char *branch;	/**< branches "z9hG4bK" BRANCH CALL-ID... */
	bool events;		/**< SDP offers telephone-event/8000 as 101 */
};

/**
 * One phone: its UA, its RTP socket (the one its SDP names), and its
 * call once phone_call() made one; the dialog fields once
 * phone_dialog_of() took them from a response. Fields are public.
 */
struct phone {
	struct ua ua;
	const struct phone_kind *kind;
	int rtp;	   /**< UDP socket the SDP names (0: none) */
	uint16_t rtp_port; /**< its port */
	char cid[64];	   /**< Call-ID of the last call */
	char ruri[128];	   /**< Request-URI of its INVITE */
	char to[512];	   /**< To with the remote tag */
	char target[256];  /**< remote Contact URI */
	char route[1024];  /**< Route header lines (CRLF-ended) */
	unsigned cseq;	   /**< our last CSeq in the dialog */
};

/**
 * Open @p p (zeroed by the caller): a UA @p user@@p domain on 127/8
 * address @p ip aimed at sipedge on 127.0.0.1:@p srv_port, and an RTP
 * socket on @p ip (ephemeral port). Errors: a failed socket or bind
 * fails the test (cr_assert). Ownership: phone_close().
 */
void phone_open(struct phone *p, const struct phone_kind *kind,
		const char *user, const char *domain, const char *ip,
		uint16_t srv_port);

/** Close @p p. Safe on a zeroed or closed one. */
void phone_close(struct phone *p);

/**
 * @p p's SDP into @p buf: PCMU (and telephone-event as 101 when its
 * kind says so) on its RTP port and address, o= version @p version.
 * Returns its length, as snprintf() does.
 */
int phone_sdp(const struct phone *p, unsigned version, char *buf, size_t size);

/**
 * @p p calls @p user@@p domain: a new Call-ID (from ++ua.seq), CSeq 1,
 * the header lines @p extra (CRLF-ended; may be "") and the body @p sdp
 * (NULL: its own offer; "": none). Errors: a message that does not fit
 * or a failed send fails the test (cr_assert).
 */
void phone_call(struct phone *p, const char *user, const char *domain,
		const char *sdp, const char *extra);

/** phone_call() of @p user in @p p's own domain, with its offer. */
void phone_dial(struct phone *p, const char *user);

/**
 * The dialog of response @p r (a 2xx or a 1xx with a tag) for @p p: its
 * To, the Contact URI, the route set (Record-Route reversed, RFC 3261
 * §12.1.2). Errors: no Contact fails the test (cr_assert).
 */
void phone_dialog_of(struct phone *p, const struct sipcli_msg *r);

/**
 * An in-dialog request @p method of @p p, without body: ACK with the
 * INVITE's CSeq, anything else with the next one.
 */
void phone_in_dialog(struct phone *p, const char *method);

/** The ACK of non-2xx final @p r (the INVITE's branch, §17.1.1.3). */
void phone_ack_failure(struct phone *p, const struct sipcli_msg *r);

/** CANCEL of @p p's INVITE (its branch and Request-URI, §9.1). */
void phone_cancel(struct phone *p);

/**
 * Answer request @p r with "200 OK" and @p p's SDP (o= version 2): Via,
 * From, To (with ";tag=callee" when it has no tag), Call-ID, CSeq and
 * Record-Route copied from @p r, Contact @p p's.
 */
void phone_answer_sdp(struct phone *p, const struct sipcli_msg *r);

/**
 * The ACK of @p p's INVITE: its final response to the INVITE (in @p r)
 * is 200; takes the dialog and ACKs. Errors: another status fails the
 * test (cr_assert, the response in the message).
 */
void phone_established(struct phone *p, struct sipcli_msg *r);

/** BYE from @p p in its dialog; its 200 expected (left in @p r). */
void phone_bye(struct phone *p, struct sipcli_msg *r);

/** @p p gets a BYE of Call-ID @p cid (left in @p r) and answers 200. */
void phone_gets_bye(struct phone *p, const char *cid, struct sipcli_msg *r);

/**
 * @p p answers the request in @p r (a re-INVITE of Call-ID @p cid) with
 * its SDP and waits for the ACK (left in @p r).
 */
void phone_accepts(struct phone *p, const char *cid, struct sipcli_msg *r);

/** The first INVITE @p p receives (bounded: 50 messages), in @p r. */
void phone_first_invite(struct phone *p, struct sipcli_msg *r);

/** What phone_retrieve() checks in the two offers (flags). */
enum {
	PHONE_PORTS = 1, /**< each offer names the other phone's RTP port */
	PHONE_HOSTS = 2, /**< each names the other phone's address in c= */
};

/**
 * @p r dials @p slot of its domain with its offer; @p p, parked in a
 * dialog of Call-ID @p cid, gets the re-INVITE, answers it with its SDP
 * and gets the ACK; @p r gets the 200, takes the dialog, ACKs. @p checks
 * (PHONE_*) what the two offers must say; with @p pool_rtp (not 0)
 * neither may name that port. @p rx receives the messages.
 */
void phone_retrieve(struct phone *r, const char *slot, struct phone *p,
		    const char *cid, unsigned checks, unsigned pool_rtp,
		    struct sipcli_msg *rx);

/**
 * park.retrieve with @p params (JSON) through the management port
 * @p mgmt_port: state "calling"; then @p callee gets the pool's INVITE,
 * without a body (left in @p rx). Errors: an RPC error, another state or
 * an offer fails the test (cr_assert).
 */
void phone_called_by_retrieve(uint16_t mgmt_port, const char *params,
			      struct phone *callee, struct sipcli_msg *rx);

/**
 * A call without offer bridged to a parked phone (park.retrieve):
 * @p callee answers the INVITE in @p rx (no body) with its SDP, its
 * Call-ID into @p cid; @p p, parked in a dialog of Call-ID p->cid, gets
 * a re-INVITE with @p callee's offer (its port checked) and answers it
 * with its SDP; @p callee gets the ACK with @p p's answer (its port
 * checked; with @p pool_rtp not 0, that port not named).
 */
void phone_bridged_late(struct phone *callee, struct phone *p,
			unsigned pool_rtp, char *cid, size_t size,
			struct sipcli_msg *rx);

/** The body of message @p r, or "" (none, or it does not parse). */
const char *phone_body(const struct sipcli_msg *r);

/** The first m=audio port of SDP @p body, or 0. */
unsigned phone_audio_port(const char *body);

/** The value of SDP @p body's o= line (without "o=") into @p out. */
void phone_o_line(const char *body, char *out, size_t size);

/** Session id and version of o= value @p o. */
void phone_o_parts(const char *o, unsigned long long *sess,
		   unsigned long long *ver);

/**
 * The built-in sound @p name (next to $SIPEDGE_BIN, sounds/NAME.wav) as
 * µ-law frames of PHONE_FRAME bytes, the last completed with µ-law
 * silence (0xff) as the engine does, appended to @p out from frame
 * *@p np on, at most @p max frames in all; *@p np advanced. Read with
 * libsndfile and encoded with spandsp, independently of the engine.
 * Returns false when the sound did not fit whole. Errors: no
 * SIPEDGE_BIN or no such file fails the test (cr_assert).
 */
bool phone_sound(const char *name, uint8_t *out, size_t *np, size_t max);

/**
 * Receive @p n RTP packets of PCMU on @p p's socket into @p out
 * (PHONE_FRAME bytes each), each following the previous one's sequence
 * number. Each wait bounded by PHONE_RTP_WAIT_MS.
 */
void phone_rtp_frames(struct phone *p, uint8_t *out, size_t n);

/**
 * Drop the RTP @p p's socket holds: with @p quiet_ms 0 what is queued
 * now (at most 10,000 packets); else until @p quiet_ms pass without a
 * packet (at most 1,000).
 */
void phone_rtp_drain(struct phone *p, int quiet_ms);
