/* proxy/sip/msg.h - zero-copy SIP message parser */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/base/slice.h"
#include "proxy/sip/hdr.h"
#include "proxy/sip/uri.h"

enum sip_method {
	SIP_METHOD_OTHER = 0,
	SIP_ACK,
	SIP_BYE,
	SIP_CANCEL,
	SIP_INFO,
	SIP_INVITE,
	SIP_MESSAGE,
	SIP_NOTIFY,
	SIP_OPTIONS,
	SIP_PRACK,
	SIP_PUBLISH,
	SIP_REFER,
	SIP_REGISTER,
	SIP_SUBSCRIBE,
	SIP_UPDATE,
	SIP_METHOD__COUNT,
};

/** The method named @p name (case-sensitive, RFC 3261 §7.1). */
enum sip_method sip_method_lookup(struct slice name);

/** The name of @p m; empty for SIP_METHOD_OTHER. */
struct slice sip_method_name(enum sip_method m);

/** One header field, indexed in place. */
struct siphdr {
	struct slice name;  /**< as on the wire ("v", "VIA", "Via") */
	struct slice value; /**< after the colon, trimmed; may hold folds */
	struct slice line;  /**< name through the line end (CRLF or LF) */
	uint16_t id;	    /**< enum hdr_id */
	int16_t next;	    /**< index of the next header with this id, -1 */
};

/**
 * A parsed message: a read-only view into the caller's buffer. The
 * caller provides the storage for the struct and the header array
 * (picohttpparser style); sipmsg_parse() never allocates.
 * Exception to "opaque by default": read-only view, fields are public.
 */
struct sipmsg {
	const char *buf; /**< first byte of the message (after any CRLFs) */
	size_t len;	 /**< bytes of this message with its body; 0 when
			      framing failed */
	bool is_request;
	/* Request line. */
	enum sip_method method; /**< request: request line; response: CSeq */
	struct slice method_name;
	struct slice ruri;
	/* Status line. */
	unsigned status;
	struct slice reason;
	struct slice version; /**< "SIP/2.0" as sent */
	/* Header index. */
	struct siphdr *hdrs;
	unsigned nhdrs;
	int16_t first[HDR__COUNT]; /**< index of the first header per id, -1 */
	struct slice body;
	/* Parsed eagerly (empty / -1 when absent). */
	struct sipvia via; /**< the first via-parm of the first Via */
	struct slice call_id;
	uint32_t cseq;
	enum sip_method cseq_method;
	struct slice cseq_method_name;
	int max_forwards;    /**< -1 when absent */
	long content_length; /**< -1 when absent */
	struct slice from_tag;
	struct slice to_tag;
	/** uri_parse() of ruri, when ruri_ok: sipmsg_uri_parse(). */
	struct sipuri ruri_uri;
	bool ruri_ok;
	/**
	 * NULL, or why the message is malformed, worded as the reason
	 * phrase of the 400 that answers it ("Missing Call-ID",
	 * "Malformed CSeq"). A static string.
	 */
	const char *fault;
};

/** Flags for sipmsg_parse(). */
enum {
	/**
	 * Stream transport (TCP, TLS): Content-Length is required and
	 * frames the body; an incomplete message gives -EAGAIN. Without it
	 * (datagram), the body is the rest of the buffer or Content-Length
	 * bytes of it, whichever is shorter is an error (RFC 3261 §18.3).
	 */
	SIPMSG_STREAM = 1 << 0,
};

/**
 * Parse the message at the start of @p buf (@p len bytes). Leading CRLFs
 * are skipped (RFC 3261 §7.5). Header storage is @p hdrs, @p max_hdrs
 * entries, owned by the caller.
 *
 * Returns the number of bytes the message takes in @p buf (skipped CRLFs
 * included; the next message starts there on a stream), or:
 *  -EAGAIN  (SIPMSG_STREAM only) more bytes are needed;
 *  -EBADMSG malformed: m->fault says why. Everything parsed before and
 *           after the fault is still filled in (a 400 can be built when
 *           Via, From, To, Call-ID and CSeq were found); m->len is the
 *           framed length when framing succeeded, 0 when the stream
 *           cannot be resynchronised and must be closed;
 *  -E2BIG   more than @p max_hdrs headers (m->fault set, m->len as above);
 *  -EMSGSIZE @p len over INT_MAX (the count could not be returned).
 * A positive return always has m->fault NULL.
 * Never reads outside buf[0, len). Thread: any. Ownership: *m and @p hdrs
 * point into @p buf and are valid while it is.
 */
int sipmsg_parse(struct sipmsg *m, const char *buf, size_t len,
		 struct siphdr *hdrs, unsigned max_hdrs, unsigned flags);

/** The first header with @p id, or NULL. */
const struct siphdr *sipmsg_hdr(const struct sipmsg *m, enum hdr_id id);

/** The next header with the same id as @p h, or NULL. */
const struct siphdr *sipmsg_hdr_next(const struct sipmsg *m,
				     const struct siphdr *h);

/** Number of headers with @p id. */
unsigned sipmsg_hdr_count(const struct sipmsg *m, enum hdr_id id);

/**
 * via_parse() of @p value, a via-parm of @p m: the copy of m->via,
 * parsed by sipmsg_parse(), when @p value is the first one (the same
 * bytes after trimming), so that the per-message path does not parse
 * it again. Thread: any.
 */
int sipmsg_via_parse(const struct sipmsg *m, struct slice value,
		     struct sipvia *viap);

/**
 * uri_parse() of @p s: the copy of m->ruri_uri, parsed by
 * sipmsg_parse(), when @p s is the Request-URI of @p m (the same
 * bytes), so that the per-message path parses it once. Thread: any.
 */
int sipmsg_uri_parse(const struct sipmsg *m, struct slice s, struct sipuri *up);

/**
 * Find the Call-ID of the message in @p buf without a full parse, for
 * shard hand-off (long and compact form, any case). Returns 0 with
 * *callidp set, -ENOENT when there is none before the blank line.
 */
int sipmsg_peek_call_id(const char *buf, size_t len, struct slice *callidp);

/**
 * True when option tag @p tag (any case) is an element of any @p id
 * header of @p m (Require, Supported, Proxy-Require: RFC 3261 §20.32).
 * Thread: any.
 */
bool sipmsg_hdr_has_tag(const struct sipmsg *m, enum hdr_id id,
			const char *tag);

/** Room for the longest AOR sipmsg_aor_print() writes ("user@host"). */
#define SIPMSG_AOR_MAX 512

/**
 * The address-of-record of the sip: or sips: URI @p uri (RFC 3261
 * §10.3 step 3), in the one spelling that the location table, the
 * REGISTER shard hand-off and routing all use: "user@host" with the
 * host in lower case (IPv6 references keep their brackets), no port,
 * no parameters, and the user with every %HH escape of an unreserved
 * character decoded and the others written as upper-case %HH
 * (RFC 3261 §19.1.4: the two spellings are the same URI).
 * Returns the length written into @p buf (not NUL-terminated), or
 * -EBADMSG (not a valid sip/sips URI: tel:, isbn:, malformed),
 * -ENOENT (no user part), -ENOSPC (longer than @p size).
 * Thread: any.
 */
int sipmsg_aor_print(struct slice uri, char *buf, size_t size);

/**
 * Split the AOR @p aor ("user@host") at its last '@' into *userp and
 * *hostp (slices of @p aor). Returns true; false when there is no '@'
 * (then *userp is @p aor and *hostp is empty). Thread: any.
 */
bool sipmsg_aor_split(struct slice aor, struct slice *userp,
		      struct slice *hostp);

/**
 * The AOR of the URI in header @p id (HDR_FROM, HDR_TO) of @p m, written
 * into @p buf as sipmsg_aor_print() does, and split as
 * sipmsg_aor_split() does into *userp and *hostp (either may be NULL).
 * Returns the length written into @p buf, or -EBADMSG (no such header,
 * not a name-addr, or as sipmsg_aor_print()), -ENOENT, -ENOSPC (as
 * sipmsg_aor_print()). Thread: any. Ownership: the slices point into
 * @p buf.
 */
int sipmsg_hdr_aor(const struct sipmsg *m, enum hdr_id id, char *buf,
		   size_t size, struct slice *userp, struct slice *hostp);

/**
 * For shard hand-off: when the message in @p buf is a REGISTER request,
 * find its To header without a full parse and write its AOR as
 * sipmsg_aor_print() does. The To value is cut and trimmed exactly as
 * sipmsg_parse() does, so the AOR is the one the registrar computes
 * from the parsed message.
 * Returns the length written into @p out, or -ENOENT (not a REGISTER,
 * or no To before the blank line), -EBADMSG, -ENOSPC (as
 * sipmsg_aor_print(); the caller falls back to the Call-ID).
 * Never reads outside buf[0, len). Thread: any.
 */
int sipmsg_peek_aor(const char *buf, size_t len, char *out, size_t size);

/**
 * Frame the message at the start of a stream without a full parse: find
 * the blank line that ends the header block and the Content-Length
 * (long or compact form, any case). Leading CRLFs are not skipped here:
 * the transport answers or drops keep-alives first.
 * Returns the message length, or -EAGAIN (more bytes needed), -EMSGSIZE
 * (header block over @p max_hdr_bytes or body over @p max_body_bytes:
 * answer 413 if possible and close), -EBADMSG (Content-Length missing,
 * not a number, or repeated with different values: *faultp names it;
 * answer 400 if possible and close).
 * Thread: any.
 */
int sipmsg_frame(const char *buf, size_t len, size_t max_hdr_bytes,
		 size_t max_body_bytes, const char **faultp);

/**
 * Where sipmsg_frame_next() stopped in a message not yet complete, so
 * that the next call goes on instead of scanning the header block from
 * its start again. The caller embeds it and resets it for each new
 * message. Fields are private, except @p scanned.
 */
struct sipmsg_framer {
	size_t line;	/* offset of the first header line not taken */
	size_t scan;	/* where the search for that line's end resumes */
	size_t hdr_len; /* the header block, once in_body */
	uint64_t cl;	/* Content-Length, once have_cl */
	bool have_cl;	/* a Content-Length was seen */
	bool in_body;	/* the blank line was seen */
	size_t scanned; /**< bytes searched for line ends, in all */
};

/** Start @p f over, for a new message. Thread: the owner of @p f. */
void sipmsg_framer_reset(struct sipmsg_framer *f);

/**
 * sipmsg_frame(), incrementally: @p buf holds the message's first
 * @p len bytes, the same bytes as in the previous call on @p f plus
 * any that arrived since (the buffer may move; offsets are kept from
 * its start). Same results as sipmsg_frame() on the same bytes and
 * limits; each byte is searched about once over all calls.
 * After any result other than -EAGAIN, reset @p f before framing the
 * next message. Thread: the owner of @p f.
 */
int sipmsg_frame_next(struct sipmsg_framer *f, const char *buf, size_t len,
		      size_t max_hdr_bytes, size_t max_body_bytes,
		      const char **faultp);
