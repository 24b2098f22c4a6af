/* proxy/sip/request.h - build requests as a UA: out of dialog, ACK, CANCEL */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/base/slice.h"
#include "proxy/sip/msg.h"

struct arena;

/** Longest tag request_tag_make() writes, with its NUL. */
#define REQUEST_TAG_MAX 17
/** Longest Call-ID request_call_id_make() writes, with its NUL. */
#define REQUEST_CALL_ID_MAX 160
/** Most Route entries and extra headers one request takes. */
#define REQUEST_MAX_LIST 32

/** One extra header: "name: value". Value type. */
struct request_hdr {
	struct slice name;  /**< a token (RFC 3261 §25.1), not empty */
	struct slice value; /**< no CR, LF or NUL; may be empty */
};

/**
 * What request_print() writes; a value the caller fills. Every slice is
 * borrowed for the call only. Zero means "absent" for each optional field.
 */
struct request_opts {
	enum sip_method method;	  /**< SIP_METHOD_OTHER: method_name */
	struct slice method_name; /**< a token; used for SIP_METHOD_OTHER */
	struct slice ruri;	  /**< Request-URI; must parse (uri.h) */
	/* To and From: a URI that must parse, an optional display name
	 * (written quoted, '"' and '\' escaped), an optional tag (token). */
	struct slice to_uri, to_display, to_tag;
	struct slice from_uri, from_display, from_tag;
	struct slice call_id; /**< RFC 3261 §25.1 callid: word ["@" word] */
	uint32_t cseq;	      /**< below 2^31 (RFC 3261 §8.1.1.5) */
	/* The one Via: SIP/2.0/<transport> <host>[:<port>];rport;branch= */
	struct slice via_transport; /**< "UDP", "TCP", ... ; empty: UDP */
	struct slice via_host;	    /**< hostname, IPv4 or [IPv6] */
	uint16_t via_port;	    /**< 0: no port */
	struct slice branch;	    /**< a token starting "z9hG4bK" */
	/** Max-Forwards; 0 writes the default 70 (RFC 3261 §8.1.1.6). */
	unsigned max_forwards;
	/** Contact URI, written "<uri>"; must parse. Empty: no Contact. */
	struct slice contact;
	/**
	 * Route values in order, each a name-addr as a Record-Route element
	 * holds it ("<sip:p1.example.com;lr>"), written one per Route line.
	 */
	const struct slice *route;
	unsigned nroute;
	const struct request_hdr *hdrs; /**< written after Contact */
	unsigned nhdrs;
	/** Content-Type value; required when body is not empty. */
	struct slice content_type;
	struct slice body;
};

/**
 * Write the request @p o describes (RFC 3261 §8.1.1) into @p buf
 * (@p size bytes; NULL with 0 measures): request line, Via, Max-Forwards,
 * Route..., From, To, Call-ID, CSeq, Contact, the extra headers,
 * Content-Type, Content-Length (the body's length), blank line, body.
 * Every field is checked before anything is trusted: a CR, LF or NUL in
 * any of them, a URI that does not parse, a tag, branch, method or
 * header name that is not a token, a Call-ID that is not a callid, a
 * body without Content-Type, or more than REQUEST_MAX_LIST routes or
 * headers is refused, so network-derived text can never inject a line.
 * Returns the request's length (which may exceed @p size: then nothing
 * usable was written and -ENOSPC is returned instead, unless @p buf is
 * NULL), or -EINVAL (a bad field), -ENOSPC, -EOVERFLOW (over INT_MAX).
 * Thread: any. Ownership: the caller's buffer.
 */
int request_print(const struct request_opts *o, char *buf, size_t size);

/**
 * request_print() into @p a. Returns 0 with *outp in @p a, or -EINVAL,
 * -EOVERFLOW (as request_print()), -ENOMEM.
 * Thread: the owner of @p a. Ownership: *outp lives in @p a.
 */
int request_build(const struct request_opts *o, struct arena *a,
		  struct slice *outp);

/**
 * The ACK for a final 300-699 response @p rsp to INVITE @p invite (the
 * request as sent, parsed), RFC 3261 §17.1.1.3: the INVITE's
 * Request-URI, Call-ID, From, its top Via only (same branch) and its
 * Route headers; To from the response (with its tag); CSeq the INVITE's
 * number with method ACK; Max-Forwards 70; no body.
 * (The ACK of a 2xx is a new transaction in the dialog: dialog.h.)
 * Errors: -EINVAL (@p invite not an INVITE request, @p rsp not a
 * 300-699 response, CSeq numbers or Call-IDs differ), -EBADMSG (a
 * header needed is missing), -ENOMEM.
 * Thread: the owner of @p a. Ownership: *outp lives in @p a.
 */
int request_ack_build(const struct sipmsg *invite, const struct sipmsg *rsp,
		      struct arena *a, struct slice *outp);

/**
 * The CANCEL of INVITE @p invite (the request as sent, parsed),
 * RFC 3261 §9.1: the same Request-URI, Call-ID, From, To (no tag added)
 * and CSeq number, method CANCEL; only its top Via (same branch: the
 * CANCEL matches the INVITE's transaction, §17.1.1.3); its Route
 * headers; Max-Forwards 70; no body.
 * Errors: -EINVAL (not an INVITE request), -EBADMSG (a header needed is
 * missing), -ENOMEM.
 * Thread: the owner of @p a. Ownership: *outp lives in @p a.
 */
int request_cancel_build(const struct sipmsg *invite, struct arena *a,
			 struct slice *outp);

/**
 * Write a new random tag (RFC 3261 §19.3: at least 32 random bits; here
 * 64, from getrandom()) as 16 lower-case hex digits and a NUL into
 * @p buf (at least REQUEST_TAG_MAX bytes). Returns the length (16), or
 * -ENOSPC (@p size too small), or getrandom()'s -errno (-EAGAIN before
 * the kernel's pool is ready). Thread: any.
 */
int request_tag_make(char *buf, size_t size);

/**
 * Write a new Call-ID (RFC 3261 §8.1.1.4: globally unique; 128 random
 * bits as 32 hex digits), "@host" appended when @p host is not empty,
 * and a NUL into @p buf (at least REQUEST_CALL_ID_MAX bytes for any
 * host). Returns the length, or -EINVAL (@p host not a word of
 * RFC 3261 §25.1 or too long), -ENOSPC, getrandom()'s -errno.
 * Thread: any.
 */
int request_call_id_make(struct slice host, char *buf, size_t size);

/**
 * True when @p s is a token (RFC 3261 §25.1): tags, branches, methods,
 * header names. Thread: any.
 */
bool request_is_token(struct slice s);

/**
 * True when @p s holds no CR, LF or NUL: safe inside one header line.
 * Thread: any.
 */
bool request_is_line_safe(struct slice s);
