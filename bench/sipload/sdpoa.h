/* bench/sipload/sdpoa.h - SDP offer/answer for sipload's 3pcc calls: the
 * offer a UAS puts in the 200 to an offerless INVITE, the answer a UAC
 * puts in the ACK, and the check of one against the other (RFC 3264) */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "bench/sipload/wbuf.h"
#include "proxy/base/slice.h"

/** m= lines and formats per m= line that sdpoa_parse() keeps. */
#define SDPOA_MEDIA_MAX 8
#define SDPOA_FMT_MAX	16

/** Lowest and highest per-call RTP port sdpoa_port() hands out. */
#define SDPOA_PORT_LO 20000
#define SDPOA_PORT_HI 59998

/** What is wrong with an SDP body, or SDPOA_OK. Also the report keys
 * (sdpoa_verdict_name()). */
enum sdpoa_verdict {
	SDPOA_OK = 0,
	SDPOA_MISSING,	 /**< no body, or not application/sdp */
	SDPOA_MALFORMED, /**< not v=0 first, an m= line unparsable, too many */
	SDPOA_ADDRESS,	 /**< a stream without a c= line (RFC 4566 §5.7) */
	SDPOA_MEDIA,	 /**< m= lines differ in number, media or proto */
	SDPOA_PORT,	 /**< a stream rejected (port 0) */
	SDPOA_CODEC,	 /**< no payload type in common with the offer */
	SDPOA__VERDICTS,
};

/** How sdpoa_answer() answers: right, or wrong on purpose (tests). */
enum sdpoa_mode {
	SDPOA_ANSWER_GOOD = 0, /**< a valid answer */
	SDPOA_ANSWER_NONE,     /**< no body at all */
	SDPOA_ANSWER_PORT0,    /**< every stream rejected (port 0) */
	SDPOA_ANSWER_CODEC,    /**< a payload type the offer lacks */
	SDPOA__MODES,
};

/** One m= line (RFC 4566 §5.14); slices point into the parsed body. */
struct sdpoa_media {
	struct slice media; /**< "audio" */
	struct slice proto; /**< "RTP/AVP" */
	uint16_t port;
	bool has_c; /**< a c= line of its own */
	uint8_t nfmt;
	struct slice fmt[SDPOA_FMT_MAX];
};

/** A parsed SDP body: the parts offer/answer needs. */
struct sdpoa {
	bool session_c; /**< a c= line at session level */
	unsigned n;	/**< m= lines */
	struct sdpoa_media m[SDPOA_MEDIA_MAX];
};

/**
 * Parse the SDP @p body (CRLF or LF line ends) into @p out: the first
 * line must be "v=0", every m= line "media port[/n] proto fmt..." with
 * at least one format. Formats beyond SDPOA_FMT_MAX are ignored.
 * Returns SDPOA_OK, SDPOA_MISSING (empty body), SDPOA_MALFORMED (also
 * more than SDPOA_MEDIA_MAX m= lines, or none) or SDPOA_ADDRESS.
 * Thread: any. Ownership: @p out borrows @p body.
 */
enum sdpoa_verdict sdpoa_parse(struct slice body, struct sdpoa *out);

/**
 * The RTP port for call slot @p slot of thread @p thread: even
 * (RFC 3550 §11), within SDPOA_PORT_LO..SDPOA_PORT_HI, different for
 * 20,000 slots in a row of a thread. Thread: any.
 */
uint16_t sdpoa_port(unsigned thread, uint32_t slot);

/**
 * Append an offer to @p b: one audio stream, RTP/AVP formats 0 (PCMU)
 * and 8 (PCMA), c= on @p host (an IPv4 address or a bracketed IPv6
 * one, as in a Via), on @p port. Overflow sets b->over.
 * Thread: any.
 */
void sdpoa_offer(struct wbuf *b, const char *host, uint16_t port);

/**
 * Append to @p b the answer to @p offer (RFC 3264 §6.1) in @p mode: an
 * m= line for each of the offer's with the same media and proto, our
 * @p port (0 in SDPOA_ANSWER_PORT0) and the offer's first format (96 in
 * SDPOA_ANSWER_CODEC), c= on @p host. SDPOA_ANSWER_NONE appends nothing.
 * Returns the verdict on the offer: anything but SDPOA_OK (no offer, a
 * bad one, a stream it already rejected) appends nothing. Overflow sets
 * b->over. Thread: any.
 */
enum sdpoa_verdict sdpoa_answer(struct wbuf *b, struct slice offer,
				const char *host, uint16_t port,
				enum sdpoa_mode mode);

/**
 * Check @p answer against @p offer (RFC 3264 §6.1): the same number of
 * m= lines, each with the offer's media and proto, a port other than 0,
 * a c= line, and at least one format the offer's line has.
 * Returns SDPOA_OK or the first thing wrong (SDPOA_MISSING for an empty
 * answer); an unusable @p offer gives SDPOA_MALFORMED. Thread: any.
 */
enum sdpoa_verdict sdpoa_check(struct slice offer, struct slice answer);

/** A short name of @p v ("ok", "missing", ...), "?" when out of range. */
const char *sdpoa_verdict_name(enum sdpoa_verdict v);

/** The mode named @p name ("good", "none", "port0", "codec"); -EINVAL. */
int sdpoa_mode_parse(const char *name, enum sdpoa_mode *modep);
