/* tests/integration/test_handoff.c - two shards: every message reaches the
 * shard owning its Call-ID and is answered once */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/sip/msg.h"
#include "tests/common/proc.h"
#include "tests/common/sipcli.h"

#define WAIT_MS	 5000
#define NSOCK	 4
#define PER_SOCK 50
#define DRAIN_MS 300

static struct proc_sipedge sp;
static struct sipcli cli[NSOCK];
static struct sipcli_msg *rsp;
static char cids[NSOCK][PER_SOCK][80];
static unsigned seen[NSOCK][PER_SOCK];

static void setup(void)
{
	unsigned i;

	memset(&sp, 0, sizeof(sp));
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < NSOCK; i++)
		cli[i].fd = -1;
	rsp = malloc(sizeof(*rsp));
	cr_assert_not_null(rsp);
}

static void teardown(void)
{
	unsigned i;

	for (i = 0; i < NSOCK; i++)
		sipcli_close(&cli[i]);
	free(rsp);
	proc_sipedge_cleanup(&sp);
}

TestSuite(handoff, .init = setup, .fini = teardown, .timeout = 60);

/* Send PER_SOCK OPTIONS with distinct Call-IDs on cli[s] in one go. */
static void send_all(unsigned s)
{
	static char buf[PER_SOCK * 1024];
	char ruri[128];
	size_t len = 0;
	unsigned k;
	int n;

	sipcli_self_uri(&cli[s], ruri, sizeof(ruri));
	for (k = 0; k < PER_SOCK; k++) {
		char tok[64];

		snprintf(cids[s][k], sizeof(cids[s][k]), "%s-%u-%u",
			 sipcli_token(&cli[s], "ho-", tok, sizeof(tok)), s, k);
		n = sipcli_format(&cli[s], buf + len, sizeof(buf) - len,
				  "OPTIONS", ruri, cids[s][k], true, NULL,
				  NULL);
		cr_assert_gt(n, 0);
		if (cli[s].type == SOCK_DGRAM) {
			cr_assert_eq(sipcli_send(&cli[s], buf, (size_t)n), 0);
			continue;
		}
		len += (size_t)n;
	}
	if (len > 0)
		cr_assert_eq(sipcli_send(&cli[s], buf, len), 0);
}

/* Count one received message against the Call-IDs of cli[s]. */
static void account(unsigned s)
{
	unsigned k;

	cr_assert_eq(rsp->parse_err, 0, "an answer does not parse");
	cr_assert(!rsp->m.is_request, "sipedge sent a request");
	cr_assert_eq(rsp->m.status, 200, "got status %u", rsp->m.status);
	for (k = 0; k < PER_SOCK; k++) {
		if (sipcli_is_call_id(rsp, cids[s][k])) {
			seen[s][k]++;
			return;
		}
	}
	cr_assert_fail("an answer on socket %u with a Call-ID it never sent: "
		       "%.*s",
		       s, (int)rsp->m.call_id.len, rsp->m.call_id.p);
}

/* Receive until every Call-ID of cli[s] was answered, then drain. */
static void receive_all(unsigned s)
{
	unsigned answered = 0;
	unsigned rounds;
	unsigned k;
	int rc;

	for (rounds = 0; rounds < 4 * PER_SOCK && answered < PER_SOCK;
	     rounds++) {
		rc = sipcli_recv_msg(&cli[s], rsp, WAIT_MS);
		cr_assert_eq(rc, 0,
			     "socket %u: %u of %u answered, then nothing (%d)",
			     s, answered, PER_SOCK, rc);
		account(s);
		for (answered = 0, k = 0; k < PER_SOCK; k++)
			answered += seen[s][k] > 0;
	}
	/* A duplicate would come right behind the original: listen a
	 * little longer. This can only miss a duplicate, never fail a
	 * good run. */
	for (rounds = 0; rounds < PER_SOCK; rounds++) {
		rc = sipcli_recv_msg(&cli[s], rsp, DRAIN_MS);
		if (rc != 0)
			break;
		account(s);
	}
	for (k = 0; k < PER_SOCK; k++)
		cr_assert_eq(seen[s][k], 1, "socket %u: %s answered %u times",
			     s, cids[s][k], seen[s][k]);
}

Test(handoff, udp_each_call_id_answered_exactly_once)
{
	unsigned s;
	int err;

	err = proc_sipedge_start(&sp, "127.0.0.1", 2, NULL);
	cr_assert_eq(err, 0, "sipedge did not start: %s", sp.why);
	/* Several sources, so that both SO_REUSEPORT sockets receive. */
	for (s = 0; s < NSOCK; s++) {
		cr_assert_eq(sipcli_open_udp(&cli[s], sp.host, sp.port), 0);
		send_all(s);
	}
	for (s = 0; s < NSOCK; s++)
		receive_all(s);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

Test(handoff, tcp_each_call_id_answered_once_on_its_connection)
{
	unsigned s;
	int err;

	err = proc_sipedge_start(&sp, "127.0.0.1", 2, NULL);
	cr_assert_eq(err, 0, "sipedge did not start: %s", sp.why);
	/* Answers for Call-IDs owned by the other shard must come back
	 * through the shard that owns the connection. */
	for (s = 0; s < NSOCK; s++) {
		err = sipcli_open_tcp(&cli[s], sp.host, sp.port);
		cr_assert_eq(err, 0, "connect: %s", strerror(-err));
		send_all(s);
	}
	for (s = 0; s < NSOCK; s++)
		receive_all(s);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}
