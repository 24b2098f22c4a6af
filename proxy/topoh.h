/* proxy/topoh.h - topology hiding towards trunks (routes[].topology_hiding) */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/base/slice.h"

struct arena;
struct conf;
struct edit_list;
struct peer;
struct sipmsg;

/** Bytes of a token key (SIV-CMAC-AES128, RFC 5297). */
#define TOPOH_KEY_LEN 32

/** Longest text topoh_seal() takes. */
#define TOPOH_PLAIN_MAX 1024

/** Prefix of every token (a Call-ID, a Contact user part). */
#define TOPOH_PREFIX "th-"

/** Token kinds: each is sealed under its own nonce, so a token of one
 * kind does not open as another. */
enum topoh_kind {
	TOPOH_CALL_ID = 'c', /**< a Call-ID */
	TOPOH_CONTACT = 'u', /**< a Contact URI */
	TOPOH_ROUTE = 'r',   /**< the inside's route set (Record-Route) */
};

/**
 * Seal @p in (1 .. TOPOH_PLAIN_MAX bytes) under @p key as a token:
 * TOPOH_PREFIX and the base64url (no padding) of its SIV-CMAC-AES128
 * encryption (deterministic authenticated encryption, RFC 5297: the same
 * text gives the same token, so a Call-ID maps the same way on every
 * message of a dialog and on every node with the same key).
 * Returns the token's length (written to @p out, not NUL-terminated);
 * -EINVAL (@p in empty or too long), -ENOSPC (@p size too small).
 * Thread: any.
 */
int topoh_seal(const uint8_t key[TOPOH_KEY_LEN], enum topoh_kind kind,
	       struct slice in, char *out, size_t size);

/**
 * Open token @p tok made by topoh_seal() with @p key and @p kind into
 * @p out. Returns the text's length; -EBADMSG (not a token, tampered,
 * another key or kind), -ENOSPC (@p size too small). Thread: any.
 */
int topoh_open(const uint8_t key[TOPOH_KEY_LEN], enum topoh_kind kind,
	       struct slice tok, char *out, size_t size);

/**
 * True when @p p is a next hop (by IP address, any port) of a route
 * with topology_hiding, the address messages of a hidden trunk come
 * from and go to. Thread: any.
 */
bool topoh_peer_is_hidden(const struct conf *c, const struct peer *p);

/**
 * The way in from a hidden trunk: message @p m (parsed, from @p from)
 * with its Call-ID mapped (a token of ours opened, any other sealed: the
 * inside sees a Call-ID of ours for the trunk's calls too), and, in a
 * request, a Request-URI that is a Contact token of ours opened and the
 * inside route set sealed in a Route value of ours (our Record-Route,
 * topoh_out()) added after the Route values. Stateless. Returns 0 (not
 * from a hidden trunk: nothing to do), 1 with *outp the new message (in
 * @p a); then, when the Request-URI or the Route value is a token that
 * does not open, *statusp (404) and *whyp are set as well:
 * the caller answers the new message with them. -EBADMSG with *statusp
 * (400) and *whyp: a Call-ID token that does not open; -ENOMEM.
 * *statusp and *whyp are written only when set. Thread: the owner of
 * @p a.
 */
int topoh_in(const struct conf *c, const struct sipmsg *m,
	     const struct peer *from, struct arena *a, struct slice *outp,
	     unsigned *statusp, const char **whyp);

/**
 * The way out to @p to, a hidden trunk: message @p buf (@p len bytes, a
 * message of ours) with the inside taken out. A request keeps only the
 * top Via (ours) and the Record-Route values of ours on top; in a
 * response the Record-Route values before ours (the inside's) go; the
 * values that go (the inside route set, from here inwards) are sealed
 * into the user part of our first value ("<sip:th-TOKEN@US;lr>"). In
 * both the Contact URI becomes "sip:th-TOKEN@US" (the inside URI
 * sealed, US the listen entry of @p to) and the Call-ID is mapped as
 * topoh_in() does (unless @p call_id is false: the answer to a message
 * of the trunk that did not parse, so was not mapped). Stateless. Returns 0 (@p
 * to is not hidden: send
 * @p buf), 1 with *outp the message to send (in @p a), or a negative
 * error (send nothing: -EBADMSG when @p buf does not parse, -ENOMEM).
 * Thread: the owner of @p a.
 */
int topoh_out(const struct conf *c, const struct peer *to, const char *buf,
	      size_t len, bool call_id, struct arena *a, struct slice *outp);

/**
 * A response @p rsp from a hidden trunk to request @p req (the server
 * transaction's copy, as the inside sent it), on its way back inside:
 * its Via header lines are replaced by the Vias of @p req, and when it
 * has Record-Route the values of @p req (the inside's route set) follow
 * them, so the inside UA sees an RFC 3261 response and its own route
 * set. Edits go to @p el (made for @p rsp). Errors: -ENOMEM, -EINVAL
 * (overlap). Thread: the owner of @p a.
 */
int topoh_restore(struct edit_list *el, const struct sipmsg *rsp,
		  const struct sipmsg *req, struct arena *a);
