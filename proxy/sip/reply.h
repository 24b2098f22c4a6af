/* proxy/sip/reply.h - stateless responses to parsed requests */
#pragma once

#include <stdbool.h>
#include <sys/socket.h>

#include "proxy/base/slice.h"

struct arena;
struct sipmsg;

/** What to answer with; a value the caller fills (zero = defaults). */
struct reply_opts {
	unsigned status;     /**< 100 .. 699 */
	struct slice reason; /**< reason phrase; empty: reply_reason() */
	/**
	 * The To tag to add when the request's To has none and status is
	 * above 100. Empty: a tag derived from the request (see
	 * reply_build()).
	 */
	struct slice to_tag;
	struct slice server; /**< Server header value; empty: no header */
	/**
	 * Extra header lines written as given (Allow, Supported, Accept,
	 * Unsupported, Retry-After, Warning...): zero or more complete
	 * lines, each ending in CRLF.
	 */
	struct slice extra;
	/**
	 * Content-Type value written before Content-Length; empty: no
	 * Content-Type header (unless o->extra holds one).
	 */
	struct slice content_type;
	struct slice body; /**< written after the headers; may be empty */
};

/**
 * The standard reason phrase of @p status ("Not Found"), or a generic
 * one for its class ("Client Error") when the code is not a known one.
 * Thread: any. Returns a static string.
 */
const char *reply_reason(unsigned status);

/**
 * Check that @p req holds what a response needs: a Via header whose
 * first value can be isolated (where the response goes) and a CSeq
 * with a value (how the client matches it, RFC 3261 §17.1.3). From, To
 * and Call-ID are copied when present and left out when not: RFC 4475
 * §3.3.1 wants a 400 even to a request that lacks them. A request the
 * parser marked malformed (m->fault) passes: its 400 copies them as
 * received.
 * Returns 0, or -EBADMSG (missing or unusable: drop the request),
 * -EINVAL (@p req is a response). Thread: any.
 */
int reply_check(const struct sipmsg *req);

/**
 * Build the stateless response @p o to @p req, which arrived from
 * @p src (RFC 3261 §8.2.6): the status line; every Via in order, the
 * top one with received=<source IP> when its sent-by host is not the
 * source address or it has rport, and rport=<source port> filled in
 * when it had a bare rport (RFC 3581 §4); From; To with ";tag=" added
 * when it has none and the status is above 100; Call-ID; CSeq; Server;
 * o->extra; Content-Type: o->content_type when given; Content-Length of
 * o->body, then o->body as given (empty: "Content-Length: 0"). Folded
 * header values are unfolded.
 * Only the first From, To, Call-ID and CSeq are copied.
 *
 * The added To tag is o->to_tag when given, else 16 hex digits hashed
 * with a fixed seed: 8 from the Call-ID, From tag and CSeq number (what
 * the ACK of the response shares with the request, see
 * reply_is_derived_tag()), 8 more with the top Via value too:
 * deterministic, so a retransmitted request gets the same tag (RFC 3261
 * §8.2.7) on any node and after a restart.
 * @p src may be NULL: the Via values are then copied unchanged.
 *
 * Returns 0 with *outp in @p a, or -EBADMSG (see reply_check()),
 * -EINVAL (status outside 100..699, o->extra not ending in CRLF, or
 * @p req a response), -ENOMEM.
 * Thread: the owner of @p a. Ownership: *outp lives in @p a.
 */
int reply_build(const struct sipmsg *req, const struct sockaddr *src,
		const struct reply_opts *o, struct arena *a,
		struct slice *outp);

/**
 * Where a response to @p req, received from @p src, goes
 * (RFC 3261 §18.2.2, RFC 3581 §4). @p stream (TCP, TLS): back over the
 * same connection, *dstp = @p src. Datagram: the source IP, with the
 * source port when the top Via has rport, else the Via sent-by port or
 * 5060. When the top Via value does not parse, the source port too: the
 * source address is the only one known to reach the sender. maddr is
 * ignored (it would let anyone aim responses at a third party).
 * Returns 0 with *dstp and *lenp set, or -EBADMSG (no Via),
 * -EAFNOSUPPORT (@p src not AF_INET/AF_INET6), -EINVAL (port 0).
 * Thread: any.
 */
int reply_dest(const struct sipmsg *req, const struct sockaddr *src,
	       bool stream, struct sockaddr_storage *dstp, socklen_t *lenp);

/**
 * True when the To tag of @p req (an ACK, most often) is one that
 * reply_build() derived for a request with its Call-ID, From tag and
 * CSeq number: the ACK of a final response sent statelessly, whatever
 * its Via (RFC 3261 §17.1.1.3 wants the request's; some UAs put a new
 * branch). Thread: any.
 */
bool reply_is_derived_tag(const struct sipmsg *req);
