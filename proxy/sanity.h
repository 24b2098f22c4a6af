/* proxy/sanity.h - request validation: go on, or the status to answer */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "proxy/base/slice.h"

struct arena;
struct sipmsg;

/**
 * One SIP option tag sipedge knows (RFC 3261 §19.2). The table in
 * sanity.c is the one place that says what sipedge supports.
 */
struct sanity_option {
	const char *tag;
	bool advertise;	    /**< listed in Supported (OPTIONS 200) */
	bool proxy_require; /**< accepted in Proxy-Require (RFC 3261 §16.3) */
};

/** The option table; *np gets its length. Thread: any. */
const struct sanity_option *sanity_options(unsigned *np);

/** True when sipedge honours Proxy-Require: @p tag (case-insensitive). */
bool sanity_proxy_supports(struct slice tag);

/**
 * True when the proxy, answering a request addressed to itself as the
 * UAS (OPTIONS), understands Require: @p tag (case-insensitive): the
 * advertised tags. Thread: any.
 */
bool sanity_uas_supports(struct slice tag);

/**
 * Write the value of a Supported header ("path, outbound, ...": the
 * advertised tags of the table) into @p buf, not NUL-terminated.
 * Returns its length, or -ENOSPC. Thread: any.
 */
int sanity_supported_print(char *buf, size_t size);

/** The outcome of sanity_check(). */
struct sanity_verdict {
	unsigned status;    /**< 0: go on; else the status to answer */
	const char *reason; /**< reason phrase (static, or m->fault) */
	/**
	 * Header lines the answer must carry, each ending in CRLF (420:
	 * "Unsupported: ..."); empty when none. In the arena.
	 */
	struct slice extra;
};

/**
 * Validate the request @p m, parsed with result @p parsed (what
 * sipmsg_parse() returned). In this order (RFC 3261 §16.3, §8.2):
 *  - SIP version other than 2.0 (but well-formed): 505;
 *  - a parser fault (or @p parsed < 0): 400 with m->fault as reason,
 *    except an unknown method whose CSeq method differs: 501
 *    (RFC 4475 §3.1.2.18);
 *  - CSeq method not the request method: 400 (501 for an unknown one);
 *  - Request-URI scheme not sip, sips or tel: 416; a malformed one: 400;
 *  - Max-Forwards 0: 483, unless the request is an OPTIONS and @p for_us
 *    (addressed to the proxy itself, which may answer it, §16.3 step 3);
 *  - Proxy-Require with option tags sipedge does not honour: 420 with
 *    "Unsupported:" listing exactly those Proxy-Require values (never
 *    Require's: those are for the UAS, RFC 4475 §3.3.5);
 *  - an OPTIONS @p for_us (the proxy answers it as the UAS) with Require
 *    tags it does not understand (sanity_uas_supports()): 420 with
 *    "Unsupported:" listing those Require values (RFC 3261 §8.2.2.3).
 * The SIP version compares case-insensitively ("sip/2.0" is 2.0).
 * A missing Max-Forwards is allowed (RFC 2543 clients).
 * Returns 0 with *vp set, or -EINVAL (@p m is a response), -ENOMEM.
 * Thread: the owner of @p a. Ownership: vp->extra lives in @p a;
 * vp->reason is static or points to m->fault.
 */
int sanity_check(const struct sipmsg *m, int parsed, bool for_us,
		 struct arena *a, struct sanity_verdict *vp);
