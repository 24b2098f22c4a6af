/* tests/integration/test_tcp.c - sipedge over TCP: framing, limits, keep-alive,
 * idle and connection caps */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proxy/sip/hdr.h"
#include "proxy/sip/msg.h"
#include "tests/common/corpus.h"
#include "tests/common/proc.h"
#include "tests/common/sipcli.h"

#define WAIT_MS 5000
#define NCONN	5

static struct proc_sipedge sp;
static struct sipcli cli[NCONN];
static struct sipcli_msg *rsp;
static char req[16384];

static void setup(void)
{
	unsigned i;

	memset(&sp, 0, sizeof(sp));
	for (i = 0; i < NCONN; i++)
		cli[i].fd = -1;
	rsp = malloc(sizeof(*rsp));
	cr_assert_not_null(rsp);
}

static void teardown(void)
{
	unsigned i;

	for (i = 0; i < NCONN; i++)
		sipcli_close(&cli[i]);
	free(rsp);
	proc_sipedge_cleanup(&sp);
}

TestSuite(tcp, .init = setup, .fini = teardown, .timeout = 60);

static void up(const char *extra_yaml)
{
	int err = proc_sipedge_start(&sp, "127.0.0.1", 1, extra_yaml);

	cr_assert_eq(err, 0, "sipedge did not start: %s", sp.why);
}

static void down(void)
{
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

static void connect_tcp(unsigned i)
{
	int err = sipcli_open_tcp(&cli[i], sp.host, sp.port);

	cr_assert_eq(err, 0, "connect: %s", strerror(-err));
}

/* Format an OPTIONS to the proxy on connection @i into @buf. */
static size_t options(unsigned i, char *buf, size_t size, const char *cid,
		      const char *extra, const char *body)
{
	int n = sipcli_format(&cli[i], buf, size, "OPTIONS", "sip:localhost",
			      cid, true, extra, body);

	cr_assert_gt(n, 0);
	return (size_t)n;
}

/* The server is still up and answering over UDP. */
static void alive(void)
{
	int st = sipcli_ping(sp.host, sp.port, WAIT_MS);

	cr_assert_eq(st, 200, "sipedge stopped answering over UDP (%d)", st);
}

Test(tcp, options_over_tcp_gets_200_on_the_same_connection)
{
	int st;

	up(NULL);
	connect_tcp(0);
	st = sipcli_options(&cli[0], WAIT_MS, rsp);
	cr_assert_eq(st, 200, "got %d", st);
	cr_assert_not_null(sipmsg_hdr(&rsp->m, HDR_ALLOW));
	cr_assert_not_null(sipmsg_hdr(&rsp->m, HDR_SUPPORTED));
	cr_assert_not_null(sipmsg_hdr(&rsp->m, HDR_ACCEPT));
	/* The connection stays open for more requests. */
	cr_assert_eq(sipcli_options(&cli[0], WAIT_MS, rsp), 200);
	down();
}

Test(tcp, several_messages_in_one_write_are_all_answered_in_order)
{
	/* The middle body holds a blank line: only Content-Length frames. */
	static const char body[] = "abc\r\n\r\nOPTIONS sip:x SIP/2.0\r\n";
	char cid[3][64];
	size_t len = 0;
	unsigned k;
	int rc;

	up(NULL);
	connect_tcp(0);
	for (k = 0; k < 3; k++) {
		sipcli_token(&cli[0], "multi-", cid[k], sizeof(cid[k]));
		len += options(0, req + len, sizeof(req) - len, cid[k],
			       k == 1 ? "Content-Type: text/plain\r\n" : NULL,
			       k == 1 ? body : NULL);
	}
	cr_assert_eq(sipcli_send(&cli[0], req, len), 0);
	for (k = 0; k < 3; k++) {
		rc = sipcli_recv_msg(&cli[0], rsp, WAIT_MS);
		cr_assert_eq(rc, 0, "answer %u missing (%d)", k, rc);
		cr_assert_eq(rsp->m.status, 200, "answer %u: %s", k,
			     sipcli_first_line(rsp));
		cr_assert(sipcli_is_call_id(rsp, cid[k]),
			  "answer %u is not for %s", k, cid[k]);
	}
	down();
}

Test(tcp, message_split_over_many_writes_is_reassembled)
{
	static const char body[] = "0123456789\r\n\r\n0123456789";
	char cid[64];
	size_t len;
	size_t off;
	size_t step;
	int rc;

	up(NULL);
	connect_tcp(0);
	sipcli_token(&cli[0], "split-", cid, sizeof(cid));
	len = options(0, req, sizeof(req), cid, "Content-Type: text/plain\r\n",
		      body);
	/* Pieces of 1 to 37 bytes, so that cuts fall inside the start
	 * line, a header name, the blank line and the body. */
	for (off = 0, step = 1; off < len;
	     off += step, step = step * 7 % 37 + 1) {
		struct timespec ts = { 0, 2 * 1000 * 1000 };
		size_t n = len - off < step ? len - off : step;

		cr_assert_eq(sipcli_send(&cli[0], req + off, n), 0);
		/* Give sipedge the chance to read each piece on its own,
		 * so that it must keep a partial message; the outcome
		 * must be the same if the kernel merges pieces. */
		nanosleep(&ts, NULL);
	}
	rc = sipcli_recv_msg(&cli[0], rsp, WAIT_MS);
	cr_assert_eq(rc, 0, "no answer (%d)", rc);
	cr_assert_eq(rsp->m.status, 200, "got %s", sipcli_first_line(rsp));
	cr_assert(sipcli_is_call_id(rsp, cid));
	down();
}

Test(tcp, rfc4475_dblreq_is_two_requests_on_a_stream)
{
	/* RFC 4475 §3.1.1.8: over TCP the octets after the REGISTER are a
	 * second request, framed and answered on their own. */
	static const char *const cids[] = {
		"dblreq.0ha0isndaksdj99sdfafnl3lk233412",
		"dblreq.0ha0isnda977644900765@192.0.2.15",
	};
	static const enum sip_method methods[] = { SIP_REGISTER, SIP_INVITE };
	char *data;
	size_t len;
	unsigned k;
	int rc;

	cr_assert_eq(corpus_read("rfc4475/valid/dblreq.dat", &data, &len), 0);
	up(NULL);
	connect_tcp(0);
	rc = sipcli_send(&cli[0], data, len);
	free(data);
	cr_assert_eq(rc, 0);
	for (k = 0; k < 2; k++) {
		rc = sipcli_recv_msg(&cli[0], rsp, WAIT_MS);
		cr_assert_eq(rc, 0, "answer %u missing (%d)", k, rc);
		cr_assert(sipcli_is_call_id(rsp, cids[k]),
			  "answer %u is not for %s: %s", k, cids[k],
			  sipcli_first_line(rsp));
		cr_assert_eq(rsp->m.cseq_method, methods[k]);
		cr_assert_geq(rsp->m.status, 200, "got %s",
			      sipcli_first_line(rsp));
		cr_assert_neq(rsp->m.status, 400, "got %s",
			      sipcli_first_line(rsp));
	}
	down();
}

/* Expect the server to close @i: any answer before must be @status. */
static void expect_close(unsigned i, unsigned status, const char *what)
{
	bool got = false;
	int rc = sipcli_wait_close(&cli[i], WAIT_MS, rsp, &got);

	cr_assert_eq(rc, 0, "%s: connection not closed (%d)", what, rc);
	if (got)
		cr_assert_eq(rsp->m.status, status, "%s: got %s", what,
			     sipcli_first_line(rsp));
}

Test(tcp, header_block_over_the_limit_gets_413_or_close)
{
	char pad[4200];
	size_t len;

	up("tcp:\n  max_header_bytes: 1024\n  max_body_bytes: 1024\n");
	memset(pad, 'a', sizeof(pad));
	memcpy(pad, "X-Pad: ", 7);
	memcpy(pad + sizeof(pad) - 3, "\r\n", 3);

	/* A complete message whose header block is 4 KiB. */
	connect_tcp(0);
	len = options(0, req, sizeof(req), NULL, pad, NULL);
	cr_assert_eq(sipcli_send(&cli[0], req, len), 0);
	expect_close(0, 413, "complete 4 KiB header");

	/* A header block that never ends: must not wait for the end. */
	connect_tcp(1);
	len = options(1, req, sizeof(req), NULL, pad, NULL);
	cr_assert_eq(sipcli_send(&cli[1], req, len - 4), 0);
	expect_close(1, 413, "unterminated 4 KiB header");

	/* A body over max_body_bytes, announced but not sent. */
	connect_tcp(2);
	len = options(2, req, sizeof(req), NULL, NULL, NULL);
	cr_assert_geq(sipcli_edit(req, sizeof(req), "Content-Length: 0",
				  "Content-Length: 100000"),
		      0);
	cr_assert_eq(sipcli_send_str(&cli[2], req), 0);
	expect_close(2, 413, "100000-byte body");

	/* A header block just under the limit still works. */
	connect_tcp(3);
	cr_assert_eq(sipcli_options(&cli[3], WAIT_MS, rsp), 200);
	alive();
	down();
}

Test(tcp, missing_content_length_gets_400_and_close)
{
	bool got = false;
	int rc;

	up(NULL);
	connect_tcp(0);
	options(0, req, sizeof(req), NULL, NULL, NULL);
	cr_assert_geq(
	    sipcli_edit(req, sizeof(req), "Content-Length: 0\r\n", ""), 0);
	cr_assert_eq(sipcli_send_str(&cli[0], req), 0);
	rc = sipcli_wait_close(&cli[0], WAIT_MS, rsp, &got);
	cr_assert_eq(rc, 0, "connection not closed (%d)", rc);
	cr_assert(got, "closed without a 400");
	cr_assert_eq(rsp->m.status, 400, "got %s", sipcli_first_line(rsp));
	alive();
	down();
}

Test(tcp, crlf_keepalive_gets_crlf_answer)
{
	char buf[8];
	size_t have = 0;
	int rc;
	int i;

	up(NULL);
	connect_tcp(0);
	/* RFC 5626 §3.5.1: a double CRLF ping gets a single CRLF pong. */
	cr_assert_eq(sipcli_send(&cli[0], "\r\n\r\n", 4), 0);
	for (i = 0; i < 2 && have < 2; i++) {
		rc = sipcli_recv_raw(&cli[0], buf + have, 2 - have, WAIT_MS);
		cr_assert_gt(rc, 0, "no pong (%d)", rc);
		have += (size_t)rc;
	}
	cr_assert_eq(have, 2);
	cr_assert(buf[0] == '\r' && buf[1] == '\n', "pong is not CRLF");
	/* The connection still works, and nothing else came before the
	 * answer (the answer starts the stream). */
	rc = sipcli_options(&cli[0], WAIT_MS, rsp);
	cr_assert_eq(rc, 200, "no 200 after the keep-alive (%d)", rc);
	cr_assert(!strncmp(rsp->buf, "SIP/2.0 200", 11),
		  "extra bytes before the 200: '%.20s'", rsp->buf);
	down();
}

Test(tcp, idle_and_stalled_connections_are_closed)
{
	char half[64];
	bool got;

	up("tcp:\n  idle_timeout_s: 1\n");
	/* Silent from the start. */
	connect_tcp(0);
	/* Used once, then silent. */
	connect_tcp(1);
	cr_assert_eq(sipcli_options(&cli[1], WAIT_MS, rsp), 200);
	/* A message whose body never completes (RFC 4475 clerr). */
	connect_tcp(2);
	options(2, req, sizeof(req), NULL, NULL, NULL);
	snprintf(half, sizeof(half), "Content-Length: %d", 100);
	cr_assert_geq(sipcli_edit(req, sizeof(req), "Content-Length: 0", half),
		      0);
	cr_assert_eq(sipcli_send(&cli[2], req, strlen(req)), 0);
	cr_assert_eq(sipcli_send(&cli[2], "0123456789", 10), 0);
	/* idle_timeout_s is 1: each must be closed well within 10 s. */
	cr_assert_eq(sipcli_wait_close(&cli[0], 10000, NULL, NULL), 0,
		     "silent connection not closed");
	cr_assert_eq(sipcli_wait_close(&cli[1], 10000, NULL, NULL), 0,
		     "idle connection not closed");
	got = false;
	cr_assert_eq(sipcli_wait_close(&cli[2], 10000, rsp, &got), 0,
		     "stalled connection not closed");
	cr_assert(!got || rsp->m.status != 200,
		  "an incomplete message was answered: %s",
		  sipcli_first_line(rsp));
	alive();
	down();
}

/* Open connection @i and check it is served, or -1 when it is not. */
static int served(unsigned i)
{
	int rc;

	if (sipcli_open_tcp(&cli[i], sp.host, sp.port) != 0)
		return -1;
	rc = sipcli_options(&cli[i], WAIT_MS, rsp);
	if (rc != 200) {
		sipcli_close(&cli[i]);
		return -1;
	}
	return 0;
}

Test(tcp, connections_over_max_connections_are_refused)
{
	unsigned i;
	int rc;
	int tries;

	up("tcp:\n  max_connections: 3\n");
	for (i = 0; i < 3; i++)
		cr_assert_eq(served(i), 0, "connection %u not served", i);
	/* The fourth is accepted by the kernel and closed by sipedge. */
	connect_tcp(3);
	sipcli_send_str(&cli[3], "\r\n\r\n");
	rc = sipcli_wait_close(&cli[3], WAIT_MS, NULL, NULL);
	cr_assert_eq(rc, 0, "connection over the cap not closed (%d)", rc);
	/* The first three still work. */
	for (i = 0; i < 3; i++)
		cr_assert_eq(sipcli_options(&cli[i], WAIT_MS, rsp), 200,
			     "connection %u lost", i);
	/* Closing one frees a place; sipedge learns of the close
	 * asynchronously, so try a bounded number of times. */
	sipcli_close(&cli[0]);
	sipcli_close(&cli[3]);
	for (tries = 0; tries < 50; tries++) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };

		if (served(0) == 0)
			break;
		/* Wait for sipedge to see the close before trying again. */
		nanosleep(&ts, NULL);
	}
	cr_assert_lt(tries, 50, "a freed place was never reused");
	down();
}

Test(tcp, stop_with_open_connections_is_clean)
{
	size_t len;

	up(NULL);
	/* Idle, used, and half a message: sipedge must free all three on
	 * SIGTERM (LeakSanitizer checks under SIPEDGE_SAN=1). */
	connect_tcp(0);
	connect_tcp(1);
	cr_assert_eq(sipcli_options(&cli[1], WAIT_MS, rsp), 200);
	connect_tcp(2);
	len = options(2, req, sizeof(req), NULL, NULL, NULL);
	cr_assert_eq(sipcli_send(&cli[2], req, len / 2), 0);
	/* Most likely the half message has been read by the time this
	 * is answered; the test asserts the same either way. */
	cr_assert_eq(sipcli_options(&cli[1], WAIT_MS, rsp), 200);
	down();
}
