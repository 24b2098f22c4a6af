/* features/b2b/relay.h - the B2B relay: an INVITE that reaches the pool
 * is bridged to its Request-URI through the proxy, 100rel per b2b.100rel */
#pragma once

#include "features/b2b/ua.h"

/*
 * The relay is the UA core's ua_incoming_fn (ua_set_incoming()): every
 * out-of-dialog INVITE the pool receives (the proxy routes it there: a
 * Route to the pool's address, a `routes:` or `locations:` entry naming
 * it) becomes a UAS leg A, and the relay calls its Request-URI on a UAC
 * leg B through the proxy (ua_call(): location, GRUU and intercom apply
 * to B) from the pool's identity. What crosses:
 *
 *   - the INVITE's SDP (offer, or none for a late offer) to B;
 *   - every 101-199 of B to A, with its SDP; reliably on A when
 *     rel_decide(b2b.100rel, INVITE) says REL_RELIABLE (RFC 3262 §3);
 *   - B's reliable 1xx are PRACKed (RFC 3262 §4); one carrying an offer
 *     is PRACKed with the answer A's PRACK brings (A's leg reliable), or
 *     with a held copy of the offer (a=inactive) when A's is not;
 *   - B's final to A (a 2xx with its SDP; a 300-699 as is, 503 for a
 *     failure to send); A's ACK (with its SDP, the answer to a 2xx
 *     offer) is B's ACK;
 *   - BYE on either leg ends the other with a BYE carrying RFC 3326
 *     Reason "SIP ;cause=200 ;text=\"BYE\""; CANCEL from A cancels B
 *     (Reason "SIP ;cause=487 ;text=\"CANCEL\"").
 *
 *   - once both legs are confirmed, re-INVITE/UPDATE offers and INFO of
 *     either peer cross to the other (bridge.h).
 *
 * 100rel (b2b_100rel_for(): b2b.domains, else b2b.100rel), A with the
 * mode of the From domain (the caller's), B with the Request-URI's (the
 * callee's); on A (rel_decide()): 420 + Unsupported: 100rel (mode no,
 * Require: 100rel), 421 + Require: 100rel (mode required, neither
 * Supported nor Require); on B: rel_uac_offer(B's mode, A had the tag).
 * The pool runs with the configuration it started with (pool.h).
 *
 * Threads: the worker that owns A's Call-ID runs both legs (B's Call-ID
 * is made for that worker). Memory: one struct per call, freed when
 * both legs are gone or the worker stops.
 */

/** The ua_incoming_fn to give ua_set_incoming() (proxy/main.c). */
void relay_incoming(struct ua *u, struct ua_leg *leg, const struct sipmsg *m);
