/* tests/common/ua.h - hand-made UDP user agent for integration tests: one
 * socket on a 127/8 address talking to sipedge on 127.0.0.1 */
#pragma once

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/common/sipcli.h"

/** Longest wait for one message (a safety net, not a timing criterion). */
#define UA_WAIT_MS 5000

/**
 * A user agent. The caller embeds it (ua_open() fills it in); fields
 * are public: read them freely, advance ->seq for fresh numbers.
 */
struct ua {
	int fd;			/**< -1 (or 0, zeroed) when closed */
	char ip[16];		/**< our address, in 127/8 */
	char user[32];		/**< user part of our AOR and Contact */
	char domain[32];	/**< domain of our AOR */
	uint16_t port;		/**< our bound port */
	struct sockaddr_in srv; /**< sipedge: 127.0.0.1:srv_port */
	unsigned seq;		/**< for branches, tags, Call-IDs */
	char contact[96];	/**< "sip:USER@IP:PORT" */
};

/**
 * Open @p u: a UDP socket bound to @p ip (a 127/8 address) on an
 * ephemeral port, aimed at sipedge on 127.0.0.1:@p srv_port; @p user
 * and @p domain name it. Errors: a failed socket or bind fails the
 * test (cr_assert). Ownership: ua_close().
 */
void ua_open(struct ua *u, const char *user, const char *domain, const char *ip,
	     uint16_t srv_port);

/** Close @p u. Safe on a closed (fd -1) or zeroed one. */
void ua_close(struct ua *u);

/**
 * Send @p len bytes of @p buf from @p u to sipedge as one datagram.
 * Errors: a short or failed send fails the test (cr_assert).
 */
void ua_send(struct ua *u, const char *buf, size_t len);

/**
 * Receive one datagram on @p u into @p r, NUL-terminated and parsed
 * (r->parse_err < 0 when it does not parse), waiting at most
 * @p timeout_ms. Returns 0, -ETIMEDOUT, or -EIO (recv failed).
 */
int ua_recv(struct ua *u, struct sipcli_msg *r, int timeout_ms);

/**
 * Receive on @p u (skipping other messages, at most 50) until the
 * request @p method of Call-ID @p cid, left in @p r. Errors: nothing
 * within UA_WAIT_MS per message fails the test (cr_assert).
 */
void ua_expect_req(struct ua *u, const char *method, const char *cid,
		   struct sipcli_msg *r);

/**
 * Receive on @p u (skipping other messages, at most 50) until a final
 * response of Call-ID @p cid and CSeq method @p method, left in @p r.
 * Returns its status. Errors: none within UA_WAIT_MS per message fails
 * the test (cr_assert).
 */
unsigned ua_expect_final(struct ua *u, const char *cid, const char *method,
			 struct sipcli_msg *r);

/**
 * Check that nothing of Call-ID @p cid reached @p u so far: send an
 * OPTIONS marker to sipedge itself and receive until its answer, which
 * comes after everything sipedge sent to @p u before (exact when
 * sipedge runs one shard). @p scratch receives the messages.
 * Errors: a message of @p cid, or no answer, fails the test (cr_assert).
 */
void ua_nothing_for(struct ua *u, const char *cid, struct sipcli_msg *scratch);

/**
 * REGISTER @p u's AOR (sip:USER@DOMAIN; R-URI sip:DOMAIN) with its
 * Contact for @p expires seconds and "User-Agent: @p agent": Call-ID
 * "reg-USER-PORT", CSeq, branch and From tag from ++u->seq. Waits for
 * the final response, left in @p r. Returns its status (the caller
 * checks it). Errors: a failed send or no final response within
 * UA_WAIT_MS per message fails the test (cr_assert).
 */
unsigned ua_register(struct ua *u, const char *agent, unsigned expires,
		     struct sipcli_msg *r);

/**
 * Answer request @p r from @p u with "@p status @p reason": Via, From,
 * To (with ";tag=callee" when it has no tag), Call-ID and CSeq copied
 * from @p r; when @p contact is not NULL, also "Contact: <@p contact>"
 * and @p r's Record-Route (a dialog). Errors: a reply that does not fit
 * or a failed send fails the test (cr_assert).
 */
void ua_respond(struct ua *u, const struct sipcli_msg *r, unsigned status,
		const char *reason, const char *contact);
