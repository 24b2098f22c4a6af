/* tests/common/userload.h - many users through sipedge nodes: SIPp
 * registers them, a trusted REGISTER query checks their bindings, a
 * raw UDP caller and callee check that calls reach them (the Redis,
 * Sentinel and Cluster suites share these) */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tests/common/sipcli.h"

/** The SIPp scenario that registers u<N>@localhost without auth. */
#define USERLOAD_SCEN_REG "tests/integration/sipp/reg_noauth_uac.xml"

/** Calls userload_calls() places per check. */
#define USERLOAD_SAMPLE 50

/*
 * Users are u<N>@localhost; their contacts sip:uN@127.0.0.1:PORT.
 * Every function runs in the test process between userload_init() and
 * userload_fini(); failures of the machinery (a socket, a file) fail
 * the test (Criterion asserts); what the node does is returned.
 */

/** Start: @p dir (the test's temporary directory, borrowed until
 * userload_fini()) takes SIPp's files and outputs. */
void userload_init(const char *dir);

/** Free what userload_init() and later calls took. */
void userload_fini(void);

/** The last message userload_udp_recv() parsed. */
struct sipcli_msg *userload_rx(void);

/** A free UDP/TCP port on 127.0.0.1. */
uint16_t userload_free_port(void);

/** A UDP socket on 127.0.0.1:@p port (0: any), 4 MB receive buffer;
 * its port in *@p portp when not NULL. */
int userload_udp_open(uint16_t port, uint16_t *portp);

/** Send @p buf to 127.0.0.1:@p port (all of it, or the test fails). */
void userload_udp_send(int fd, uint16_t port, const char *buf, size_t len);

/** One datagram into userload_rx(), parsed; its sender's port in
 * *@p fromp. Returns 0, -ETIMEDOUT (nothing in @p ms), -EIO, -EBADMSG. */
int userload_udp_recv(int fd, int ms, uint16_t *fromp);

/** SIPp registers u@p from..u(@p to - 1) through node @p port at
 * @p rate per second, contacts on 127.0.0.1:@p lport; in the
 * background (userload_reg_done() waits). @p name names its files. */
pid_t userload_register(uint16_t port, unsigned from, unsigned to,
			uint16_t lport, unsigned rate, const char *name);

/** SIPp @p pid (from userload_register()) ends with 0 within 90 s:
 * every REGISTER got its 200; else the test fails with its screen. */
void userload_reg_done(pid_t pid, const char *name);

/** A whole SIPp call through node @p port to u@p user, whose binding
 * points at 127.0.0.1:@p uas_port: INVITE, 200 with Record-Route, ACK
 * and BYE along the recorded route; the test fails unless both SIPp
 * end with 0. */
void userload_sipp_call(uint16_t port, unsigned user, uint16_t uas_port);

/** Ask node @p port for u@p user's bindings (REGISTER without Contact,
 * from loopback: trusted) over @p fd. Returns how many bindings are
 * sip:uN@127.0.0.1:@p cport, -1 when another one is there too, or
 * -ETIMEDOUT. */
int userload_bindings(int fd, uint16_t port, unsigned user, uint16_t cport);

/** Poll node @p port until every user of [@p from, @p to) has exactly
 * its one binding on @p cport, for at most @p ms. Returns how many are
 * still missing (0: all there). */
unsigned userload_wait_bound(uint16_t port, unsigned from, unsigned to,
			     uint16_t cport, long ms);

/** Poll node @p port until u@p user has no binding, for at most
 * @p ms. Returns whether it has none. */
bool userload_wait_unbound(uint16_t port, unsigned user, uint16_t cport,
			   long ms);

/** A call through node @p port to u@p user@localhost: true when the
 * INVITE reached the UA socket @p uas (port @p uas_port) with that
 * user's contact as Request-URI, and its 486 came back to the caller
 * (which then ACKs it). */
bool userload_call_reaches(uint16_t port, unsigned user, int uas,
			   uint16_t uas_port);

/** USERLOAD_SAMPLE calls through @p port to users spread over
 * [@p from, @p to); how many reached their UA on @p uas_port. */
unsigned userload_calls(uint16_t port, unsigned from, unsigned to,
			uint16_t uas_port);

/** One REGISTER from loopback (trusted) through @p port of u@p user
 * with @p contact and @p expires (a string: "0" removes). Returns the
 * final status, or -ETIMEDOUT (none in 3 s). */
int userload_register_one(uint16_t port, unsigned user, const char *contact,
			  const char *expires);
