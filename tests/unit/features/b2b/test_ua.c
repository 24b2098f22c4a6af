/* tests/unit/features/b2b/test_ua.c - the UA core on a real pool worker:
 * the test's UDP socket is the proxy every request goes to, and plays
 * the peer (responses, BYE, re-INVITE) */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "features/b2b/pool.h"
#include "features/b2b/ua.h"
#include "proxy/base/log.h"
#include "proxy/core/conf.h"
#include "proxy/core/shard.h"
#include "proxy/sip/dialog.h"
#include "tests/common/ms.h"
#include "tests/common/proc.h"
#include "tests/common/teardown.h"
#include "tests/unit/poolfix.h"
#include "tests/unit/sections.h"

/* How long a test waits for what must come: a safety net. */
#define WAIT_MS 5000
/* How long it waits to see that nothing comes. */
#define QUIET_MS 300

#define OFFER                                                              \
	"v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n" \
	"t=0 0\r\nm=audio 40404 RTP/AVP 0\r\n"
#define ANSWER                                                             \
	"v=0\r\no=b 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n" \
	"t=0 0\r\nm=audio 50505 RTP/AVP 0\r\n"

static struct conf *c;
static struct pool *pool;
static int fd = -1;    /* the "proxy" */
static char inv[4096]; /* the last INVITE the UA sent */

/* Events, written by the worker, read by the test. */
struct rec {
	enum ua_event_kind kind;
	unsigned status;
	char sdp[512];
};
static struct rec recs[16];
static atomic_int nrec;
static struct ua_leg *_Atomic leg; /* the leg under test */
/* The proxy's T1 for the next start() (0: the default, 500 ms). */
static unsigned t1_ms;

static void init(void)
{
	log_set_level(LOG_WARN);
	c = NULL;
	pool = NULL;
	fd = -1;
	atomic_store(&nrec, 0);
	atomic_store(&leg, NULL);
	t1_ms = 0;
}

static void fini(void)
{
	pool_stop(pool);
	pool = NULL;
	pool_set_ua(NULL);
	conf_free(c);
	c = NULL;
	if (fd >= 0)
		close(fd);
	teardown_check_objs(0);
}

TestSuite(ua, .init = init, .fini = fini, .timeout = 30);

static void start(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	char yaml[320];

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	snprintf(yaml, sizeof(yaml),
		 "listen:\n  - address: 127.0.0.1\n    port: %u\n"
		 "    transports: [udp]\nb2b:\n  workers: 1\n%s%u\n",
		 ntohs(a.sin_port), t1_ms ? "proxy:\n  t1_ms: " : "#", t1_ms);
	c = sections_load(yaml);
	cr_assert_eq(pool_set_ua(&ua_pool), 0);
	cr_assert_eq(pool_start(c, &pool), 0);
}

static void on_event(struct ua_leg *l, const struct ua_event *ev, void *arg)
{
	int n = atomic_load(&nrec);

	(void)l;
	(void)arg;
	if (n >= 16)
		return;
	recs[n].kind = ev->kind;
	recs[n].status = ev->status;
	snprintf(recs[n].sdp, sizeof(recs[n].sdp), "%.*s", (int)ev->sdp.len,
		 ev->sdp.p ? ev->sdp.p : "");
	atomic_store(&nrec, n + 1);
}

/* Wait for event number @p i (0-based); it must be @p kind. */
static struct rec *wait_event(int i, enum ua_event_kind kind)
{
	for (int t = 0; t < WAIT_MS / 10 && atomic_load(&nrec) <= i; t++)
		ms_sleep(10);
	cr_assert_gt(atomic_load(&nrec), i, "no event %d", i);
	cr_assert_eq(recs[i].kind, kind, "event %d: %d, not %d", i,
		     recs[i].kind, kind);
	return &recs[i];
}

/* Run @p fn on the worker (one worker: it owns every Call-ID). */
static void on_worker(shard_post_fn *fn, void *arg)
{
	cr_assert_eq(pool_post(pool, slice_cstr("any"), fn, arg), 0);
}

static void call_fn(struct shard *sh, void *arg)
{
	struct ua_call_opts o;
	struct ua_leg *l = NULL;

	memset(&o, 0, sizeof(o));
	o.target = slice_cstr("sip:alice@127.0.0.1");
	o.sdp = slice_cstr(arg ? arg : "");
	o.fn = on_event;
	if (sh && ua_call(ua_of(sh), &o, &l) == 0)
		atomic_store(&leg, l);
}

static void ack_fn(struct shard *sh, void *arg)
{
	if (sh)
		cr_assert_eq(ua_ack(atomic_load(&leg), slice_cstr(arg)), 0);
}

static void hangup_fn(struct shard *sh, void *arg)
{
	(void)arg;
	if (sh)
		ua_hangup(atomic_load(&leg), slice_cstr("SIP ;cause=487"));
}

/* Answer the INVITE in inv with @p status, To tag @p tag, @p body. */
static void respond_tag(unsigned status, const char *tag, const char *body)
{
	char via[512], from[256], to[256], cid[256], cseq[64], buf[4096];
	size_t blen = body ? strlen(body) : 0;
	int n;

	n = snprintf(buf, sizeof(buf),
		     "SIP/2.0 %u X\r\n%s\r\n%s\r\n%s;tag=%s\r\n%s\r\n%s\r\n"
		     "Contact: <sip:alice@127.0.0.1:9>\r\n%s"
		     "Content-Length: %zu\r\n\r\n%s",
		     status, poolfix_line(inv, "Via:", via, sizeof(via)),
		     poolfix_line(inv, "From:", from, sizeof(from)),
		     poolfix_line(inv, "To:", to, sizeof(to)), tag,
		     poolfix_line(inv, "Call-ID:", cid, sizeof(cid)),
		     poolfix_line(inv, "CSeq:", cseq, sizeof(cseq)),
		     blen ? "Content-Type: application/sdp\r\n" : "", blen,
		     body ? body : "");
	poolfix_send(pool, fd, buf, (size_t)n);
}

static void respond(unsigned status, const char *body)
{
	respond_tag(status, "peer", body);
}

/* A request in the dialog from the peer: @p method, CSeq @p cseq. */
static void peer_request(const char *method, unsigned cseq, const char *body)
{
	char from[256], cid[256], buf[4096], *tag;
	size_t blen = body ? strlen(body) : 0;
	int n;

	poolfix_line(inv, "From:", from, sizeof(from));
	tag = strstr(from, ";tag=");
	cr_assert_not_null(tag);
	poolfix_line(inv, "Call-ID:", cid, sizeof(cid));
	n = snprintf(
	    buf, sizeof(buf),
	    "%s sip:b2b@127.0.0.1 SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKpeer%s%u;rport\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: <sip:alice@127.0.0.1>;tag=peer\r\n"
	    "To: <sip:b2b@127.0.0.1>%s\r\n%s\r\nCSeq: %u %s\r\n"
	    "Contact: <sip:alice@127.0.0.1:9>\r\n%s"
	    "Content-Length: %zu\r\n\r\n%s",
	    method, method, cseq, tag, cid, cseq, method,
	    blen ? "Content-Type: application/sdp\r\n" : "", blen,
	    body ? body : "");
	poolfix_send(pool, fd, buf, (size_t)n);
}

/* Start a leg (offer @p sdp or NULL) and read its INVITE into inv. */
static void call(const char *sdp)
{
	const char *m;

	on_worker(call_fn, (void *)sdp);
	m = poolfix_recv(fd, WAIT_MS);
	cr_assert(!strncmp(m, "INVITE sip:alice@127.0.0.1 SIP/2.0\r\n", 36),
		  "not the INVITE:\n%s", m);
	snprintf(inv, sizeof(inv), "%s", m);
	cr_assert_not_null(atomic_load(&leg));
}

Test(ua, offerless_invite_acked_later_with_the_answer_2xx_reacked)
{
	const char *m;
	char ack[4096];

	start();
	call(NULL);
	cr_assert(strstr(inv, "Content-Length: 0\r\n"), "%s", inv);
	cr_assert(strstr(inv, "Contact: <sip:b2b-0@127.0.0.1:"), "%s", inv);
	respond(180, NULL);
	cr_assert_eq(wait_event(0, UA_EV_RINGING)->status, 180);
	respond(200, OFFER);
	cr_assert_str_eq(wait_event(1, UA_EV_ANSWERED)->sdp, OFFER);
	/* Not ACKed yet: a retransmitted 200 is absorbed, no ACK. */
	respond(200, OFFER);
	m = poolfix_recv(fd, QUIET_MS);
	cr_assert_str_eq(m, "", "sent before ua_ack():\n%s", m);
	on_worker(ack_fn, ANSWER);
	m = poolfix_recv(fd, WAIT_MS);
	cr_assert(!strncmp(m, "ACK sip:alice@127.0.0.1:9 SIP/2.0", 33), "%s",
		  m);
	cr_assert(strstr(m, "CSeq: 1 ACK\r\n"), "%s", m);
	cr_assert(strstr(m, "\r\n\r\n" ANSWER), "no answer in the ACK:\n%s", m);
	snprintf(ack, sizeof(ack), "%s", m);
	/* RFC 3261 §13.2.2.4: the same ACK for each retransmitted 2xx. */
	respond(200, OFFER);
	cr_assert_str_eq(poolfix_recv(fd, WAIT_MS), ack);
	cr_assert_eq(atomic_load(&nrec), 2, "an event too many");
}

Test(ua, reinvite_gets_the_local_sdp_491_while_pending_bye_ends_then_481)
{
	const char *m;

	start();
	call(NULL);
	respond(200, OFFER);
	wait_event(0, UA_EV_ANSWERED);
	on_worker(ack_fn, ANSWER);
	cr_assert(!strncmp(poolfix_recv(fd, WAIT_MS), "ACK ", 4));
	peer_request("INVITE", 2, OFFER);
	m = poolfix_recv(fd, WAIT_MS);
	cr_assert(!strncmp(m, "SIP/2.0 200 ", 12), "%s", m);
	cr_assert(strstr(m, "\r\n\r\n" ANSWER), "not our SDP:\n%s", m);
	cr_assert(strstr(m, "Contact: <sip:b2b-0@"), "%s", m);
	/* Its ACK has not come: another re-INVITE is 491 (§14.2). */
	peer_request("INVITE", 3, OFFER);
	m = poolfix_recv(fd, WAIT_MS);
	cr_assert(!strncmp(m, "SIP/2.0 491 ", 12), "%s", m);
	peer_request("BYE", 4, NULL);
	m = poolfix_recv(fd, WAIT_MS);
	cr_assert(!strncmp(m, "SIP/2.0 200 ", 12), "%s", m);
	cr_assert(strstr(m, "CSeq: 4 BYE"), "%s", m);
	cr_assert_eq(wait_event(1, UA_EV_ENDED)->status, 0);
	/* The dialog is gone: RFC 3261 §12.2.2. */
	peer_request("BYE", 5, NULL);
	m = poolfix_recv(fd, WAIT_MS);
	cr_assert(!strncmp(m, "SIP/2.0 481 ", 12), "%s", m);
}

Test(ua, final_486_fails_the_leg_and_is_acked)
{
	const char *m;

	start();
	call(OFFER);
	cr_assert(strstr(inv, "\r\n\r\n" OFFER), "%s", inv);
	respond(486, NULL);
	cr_assert_eq(wait_event(0, UA_EV_FAILED)->status, 486);
	m = poolfix_recv(fd, WAIT_MS);
	cr_assert(!strncmp(m, "ACK sip:alice@127.0.0.1 SIP/2.0", 31), "%s", m);
}

Test(ua, hangup_while_ringing_cancels_and_a_crossing_2xx_is_acked_and_byed)
{
	const char *m;

	start();
	call(NULL);
	respond(180, NULL);
	wait_event(0, UA_EV_RINGING);
	on_worker(hangup_fn, NULL);
	m = poolfix_recv(fd, WAIT_MS);
	cr_assert(!strncmp(m, "CANCEL sip:alice@127.0.0.1 SIP/2.0", 34), "%s",
		  m);
	/* The 200 crossed the CANCEL: ACK with a held answer, then BYE
	 * with the Reason given to ua_hangup(). */
	respond(200, OFFER);
	m = poolfix_recv(fd, WAIT_MS);
	cr_assert(!strncmp(m, "ACK ", 4), "%s", m);
	cr_assert(strstr(m, "m=audio 40404 RTP/AVP 0\r\n"), "%s", m);
	cr_assert(strstr(m, "a=inactive"), "%s", m);
	m = poolfix_recv(fd, WAIT_MS);
	cr_assert(!strncmp(m, "BYE ", 4), "%s", m);
	cr_assert(strstr(m, "Reason: SIP ;cause=487\r\n"), "%s", m);
	/* The application let go: no event after ua_hangup(). */
	ms_sleep(QUIET_MS);
	cr_assert_eq(atomic_load(&nrec), 1);
}

Test(ua, bad_calls_are_refused)
{
	struct ua_call_opts o;
	struct ua_leg *l = NULL;

	memset(&o, 0, sizeof(o));
	cr_assert_eq(ua_call(NULL, &o, &l), -EINVAL);
	cr_assert_eq(ua_ack(NULL, slice_cstr("")), -EINVAL);
	ua_hangup(NULL, slice_cstr(""));
	cr_assert_eq(ua_legs(NULL), 0);
	cr_assert_eq(ua_call_id_make(0, 1, NULL, 0), -ENOSPC);
}

/* ua_reinvite() on the worker with @p arg as the offer; its result. */
static atomic_int reinv_err;

static void reinvite_fn(struct shard *sh, void *arg)
{
	if (sh)
		atomic_store(&reinv_err,
			     ua_reinvite(atomic_load(&leg), slice_cstr(arg)));
}

/* Answer the in-dialog request in inv (its To has the tag already). */
static void respond_in(unsigned status, const char *body)
{
	char via[512], from[256], to[256], cid[256], cseq[64], buf[4096];
	size_t blen = body ? strlen(body) : 0;
	int n;

	n = snprintf(buf, sizeof(buf),
		     "SIP/2.0 %u X\r\n%s\r\n%s\r\n%s\r\n%s\r\n%s\r\n"
		     "Contact: <sip:alice@127.0.0.1:9>\r\n%s"
		     "Content-Length: %zu\r\n\r\n%s",
		     status, poolfix_line(inv, "Via:", via, sizeof(via)),
		     poolfix_line(inv, "From:", from, sizeof(from)),
		     poolfix_line(inv, "To:", to, sizeof(to)),
		     poolfix_line(inv, "Call-ID:", cid, sizeof(cid)),
		     poolfix_line(inv, "CSeq:", cseq, sizeof(cseq)),
		     blen ? "Content-Type: application/sdp\r\n" : "", blen,
		     body ? body : "");
	poolfix_send(pool, fd, buf, (size_t)n);
}

/* A confirmed offerless leg: OFFER from the peer, ANSWER from us. */
static void confirmed(void)
{
	start();
	call(NULL);
	respond(200, OFFER);
	wait_event(0, UA_EV_ANSWERED);
	on_worker(ack_fn, ANSWER);
	cr_assert(!strncmp(poolfix_recv(fd, WAIT_MS), "ACK ", 4));
}

/* Send ua_reinvite(@p sdp) and read the re-INVITE into inv. */
static void reinvite(const char *sdp)
{
	const char *m;

	atomic_store(&reinv_err, 1);
	on_worker(reinvite_fn, (void *)sdp);
	m = poolfix_recv(fd, WAIT_MS);
	cr_assert_eq(atomic_load(&reinv_err), 0);
	cr_assert(!strncmp(m, "INVITE sip:alice@127.0.0.1:9 SIP/2.0", 36),
		  "not a re-INVITE:\n%s", m);
	snprintf(inv, sizeof(inv), "%s", m);
}

Test(ua, reinvite_sends_the_offer_acks_the_2xx_and_reports_the_answer)
{
	const char *m;
	char ack[4096];

	confirmed();
	reinvite(ANSWER);
	cr_assert(strstr(inv, "CSeq: 2 INVITE\r\n"), "%s", inv);
	cr_assert(strstr(inv, ";tag=peer"), "not in the dialog:\n%s", inv);
	cr_assert(strstr(inv, "\r\n\r\n" ANSWER), "no offer:\n%s", inv);
	/* A second one while it runs: -EBUSY. */
	atomic_store(&reinv_err, 1);
	on_worker(reinvite_fn, ANSWER);
	for (int t = 0; t < WAIT_MS / 10 && atomic_load(&reinv_err) == 1; t++)
		ms_sleep(10);
	cr_assert_eq(atomic_load(&reinv_err), -EBUSY);
	/* Glare: the peer's re-INVITE meanwhile is 491 (§14.2). */
	peer_request("INVITE", 2, OFFER);
	m = poolfix_recv(fd, WAIT_MS);
	cr_assert(!strncmp(m, "SIP/2.0 491 ", 12), "%s", m);
	respond_in(200, OFFER);
	m = poolfix_recv(fd, WAIT_MS);
	cr_assert(!strncmp(m, "ACK sip:alice@127.0.0.1:9 SIP/2.0", 33), "%s",
		  m);
	cr_assert(strstr(m, "CSeq: 2 ACK\r\n"), "%s", m);
	cr_assert(strstr(m, "Content-Length: 0\r\n"), "%s", m);
	snprintf(ack, sizeof(ack), "%s", m);
	cr_assert_str_eq(wait_event(1, UA_EV_REINVITE)->sdp, OFFER);
	cr_assert_eq(recs[1].status, 200);
	/* A retransmitted 2xx gets the same ACK, no second event. */
	respond_in(200, OFFER);
	cr_assert_str_eq(poolfix_recv(fd, WAIT_MS), ack);
	ms_sleep(QUIET_MS);
	cr_assert_eq(atomic_load(&nrec), 2);
	/* Done: the next one may go (CSeq 3). */
	reinvite(ANSWER);
	cr_assert(strstr(inv, "CSeq: 3 INVITE\r\n"), "%s", inv);
}

/* ua_reinvite_offerless() / ua_reinvite_ack() on the worker; results. */
static atomic_int late_err, late_ack_err;

static void offerless_fn(struct shard *sh, void *arg)
{
	(void)arg;
	if (sh)
		atomic_store(&late_err,
			     ua_reinvite_offerless(atomic_load(&leg)));
}

static void late_ack_fn(struct shard *sh, void *arg)
{
	if (sh)
		atomic_store(&late_ack_err, ua_reinvite_ack(atomic_load(&leg),
							    slice_cstr(arg)));
}

/* RFC 3725 flow style: a re-INVITE without SDP; the peer's offer in
 * its 2xx goes to the application, unACKed until ua_reinvite_ack()
 * answers it in the ACK; a retransmitted 2xx meanwhile is absorbed,
 * after it gets the same ACK. */
Test(ua, offerless_reinvite_reports_the_offer_and_acks_with_the_answer)
{
	const char *m;
	char ack[4096];

	confirmed();
	atomic_store(&late_err, 1);
	on_worker(offerless_fn, NULL);
	m = poolfix_recv(fd, WAIT_MS);
	cr_assert_eq(atomic_load(&late_err), 0);
	cr_assert(!strncmp(m, "INVITE sip:alice@127.0.0.1:9 SIP/2.0", 36), "%s",
		  m);
	cr_assert(strstr(m, "CSeq: 2 INVITE\r\n"), "%s", m);
	cr_assert(strstr(m, "Content-Length: 0\r\n"), "an offer:\n%s", m);
	snprintf(inv, sizeof(inv), "%s", m);
	/* No 2xx yet: nothing to ACK. */
	atomic_store(&late_ack_err, 1);
	on_worker(late_ack_fn, ANSWER);
	for (int t = 0; t < WAIT_MS / 10 && atomic_load(&late_ack_err) == 1;
	     t++)
		ms_sleep(10);
	cr_assert_eq(atomic_load(&late_ack_err), -EINVAL);
	respond_in(200, OFFER);
	cr_assert_str_eq(wait_event(1, UA_EV_REINVITE)->sdp, OFFER);
	cr_assert_eq(recs[1].status, 200);
	/* Not ACKed by the UA; a retransmission is absorbed. */
	respond_in(200, OFFER);
	cr_assert_str_eq(poolfix_recv(fd, QUIET_MS), "",
			 "the UA ACKed by itself");
	atomic_store(&late_ack_err, 1);
	on_worker(late_ack_fn, ANSWER);
	m = poolfix_recv(fd, WAIT_MS);
	cr_assert_eq(atomic_load(&late_ack_err), 0);
	cr_assert(!strncmp(m, "ACK sip:alice@127.0.0.1:9 SIP/2.0", 33), "%s",
		  m);
	cr_assert(strstr(m, "CSeq: 2 ACK\r\n"), "%s", m);
	cr_assert(strstr(m, "\r\n\r\n" ANSWER), "no answer:\n%s", m);
	snprintf(ack, sizeof(ack), "%s", m);
	respond_in(200, OFFER);
	cr_assert_str_eq(poolfix_recv(fd, WAIT_MS), ack);
	ms_sleep(QUIET_MS);
	cr_assert_eq(atomic_load(&nrec), 2);
	/* Done: an ordinary re-INVITE may go (CSeq 3). */
	reinvite(ANSWER);
	cr_assert(strstr(inv, "CSeq: 3 INVITE\r\n"), "%s", inv);
}

/* Hanging up while the offerless re-INVITE's 2xx waits for our answer:
 * the 2xx is ACKed (without a body) before the BYE. */
Test(ua, hangup_acks_a_held_offerless_2xx_before_the_bye)
{
	const char *m;

	confirmed();
	atomic_store(&late_err, 1);
	on_worker(offerless_fn, NULL);
	m = poolfix_recv(fd, WAIT_MS);
	cr_assert_eq(atomic_load(&late_err), 0);
	snprintf(inv, sizeof(inv), "%s", m);
	respond_in(200, OFFER);
	wait_event(1, UA_EV_REINVITE);
	on_worker(hangup_fn, NULL);
	m = poolfix_recv(fd, WAIT_MS);
	cr_assert(!strncmp(m, "ACK ", 4), "%s", m);
	cr_assert(strstr(m, "CSeq: 2 ACK\r\n"), "%s", m);
	cr_assert(strstr(m, "Content-Length: 0\r\n"), "%s", m);
	m = poolfix_recv(fd, WAIT_MS);
	cr_assert(!strncmp(m, "BYE ", 4), "%s", m);
}

Test(ua, reinvite_491_is_retried_after_2_1_to_4_s_then_488_reported)
{
	const char *m;
	long long t0, waited;

	confirmed();
	reinvite(ANSWER);
	respond_in(491, NULL);
	m = poolfix_recv(fd, WAIT_MS);
	cr_assert(!strncmp(m, "ACK ", 4), "the 491 not ACKed:\n%s", m);
	t0 = ms_now();
	m = poolfix_recv(fd, WAIT_MS);
	waited = ms_now() - t0;
	cr_assert(!strncmp(m, "INVITE ", 7), "no retry:\n%s", m);
	cr_assert(waited >= 2000 && waited <= 4300,
		  "retried after %lld ms (RFC 3261 §14.1: 2.1 to 4 s)",
		  (long long)waited);
	snprintf(inv, sizeof(inv), "%s", m);
	cr_assert(strstr(inv, "CSeq: 3 INVITE\r\n"), "%s", inv);
	cr_assert_eq(atomic_load(&nrec), 1, "the 491 was reported");
	respond_in(488, NULL);
	cr_assert(!strncmp(poolfix_recv(fd, WAIT_MS), "ACK ", 4));
	cr_assert_eq(wait_event(1, UA_EV_REINVITE)->status, 488);
	cr_assert_str_eq(recs[1].sdp, "");
}

Test(ua, reinvite_is_refused_before_the_leg_is_confirmed)
{
	start();
	call(NULL);
	atomic_store(&reinv_err, 1);
	on_worker(reinvite_fn, ANSWER);
	for (int t = 0; t < WAIT_MS / 10 && atomic_load(&reinv_err) == 1; t++)
		ms_sleep(10);
	cr_assert_eq(atomic_load(&reinv_err), -EINVAL);
	cr_assert_eq(ua_reinvite(NULL, slice_cstr(ANSWER)), -EINVAL);
	cr_assert(!ua_reinvite_pending(NULL));
}

/* ---- 2xx retransmission, offers to the application, forks ---- */

#define OFFER2                                                             \
	"v=0\r\no=a 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.2\r\n" \
	"t=0 0\r\nm=audio 40406 RTP/AVP 0\r\na=sendonly\r\n"
#define ANSWER2                                                            \
	"v=0\r\no=b 2 3 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n" \
	"t=0 0\r\nm=audio 50505 RTP/AVP 0\r\na=recvonly\r\n"

/* In-dialog requests the application got (method, body). */
static struct {
	enum sip_method method;
	char body[512];
	char ctype[64];
} reqs[8];
static atomic_int nreq;
static atomic_int answer_err;
static atomic_uint done_status;

static void on_req(struct ua_leg *l, const struct ua_request *rq, void *arg)
{
	int n = atomic_load(&nreq);

	(void)l;
	(void)arg;
	if (n >= 8)
		return;
	reqs[n].method = rq->method;
	snprintf(reqs[n].body, sizeof(reqs[n].body), "%.*s", (int)rq->body.len,
		 rq->body.p ? rq->body.p : "");
	snprintf(reqs[n].ctype, sizeof(reqs[n].ctype), "%.*s",
		 (int)rq->content_type.len,
		 rq->content_type.p ? rq->content_type.p : "");
	atomic_store(&nreq, n + 1);
}

static void on_req_fn(struct shard *sh, void *arg)
{
	(void)arg;
	if (sh)
		ua_leg_on_request(atomic_load(&leg), on_req, NULL);
}

static void answer_invite_fn(struct shard *sh, void *arg)
{
	if (sh)
		atomic_store(&answer_err,
			     ua_answer(atomic_load(&leg), SIP_INVITE, 200,
				       slice_cstr(arg)));
}

static void answer_info_fn(struct shard *sh, void *arg)
{
	(void)arg;
	if (sh)
		atomic_store(&answer_err, ua_answer(atomic_load(&leg), SIP_INFO,
						    200, slice_make(NULL, 0)));
}

static void on_done(struct ua_leg *l, unsigned status, struct slice reason,
		    void *arg)
{
	(void)l;
	(void)reason;
	(void)arg;
	atomic_store(&done_status, status);
}

static void info_fn(struct shard *sh, void *arg)
{
	if (sh)
		atomic_store(
		    &answer_err,
		    ua_send_request(atomic_load(&leg), SIP_INFO,
				    slice_cstr("application/dtmf-relay"),
				    slice_cstr(arg), on_done, NULL));
}

static char offer_for[512];

static void offer_for_fn(struct shard *sh, void *arg)
{
	struct slice out;

	if (sh && ua_offer_for(atomic_load(&leg), slice_cstr(arg), &out) == 0)
		snprintf(offer_for, sizeof(offer_for), "%.*s", (int)out.len,
			 out.p);
}

static void wait_int(atomic_int *v, int unset)
{
	for (int t = 0; t < WAIT_MS / 10 && atomic_load(v) == unset; t++)
		ms_sleep(10);
}

Test(ua, our_200_to_a_reinvite_is_sent_again_until_its_ack)
{
	char first[4096];
	const char *m;
	long long t0, waited;

	confirmed();
	peer_request("INVITE", 2, OFFER);
	m = poolfix_recv(fd, WAIT_MS);
	cr_assert(!strncmp(m, "SIP/2.0 200 ", 12), "%s", m);
	snprintf(first, sizeof(first), "%s", m);
	/* RFC 3261 §13.3.1.4: again after T1 (500 ms), then 2*T1. */
	t0 = ms_now();
	m = poolfix_recv(fd, WAIT_MS);
	waited = ms_now() - t0;
	cr_assert_str_eq(m, first, "not the same 200");
	cr_assert(waited >= 400 && waited <= 1000, "after %lld ms", waited);
	m = poolfix_recv(fd, WAIT_MS);
	cr_assert_str_eq(m, first);
	peer_request("ACK", 2, NULL);
	m = poolfix_recv(fd, 2500);
	cr_assert_str_eq(m, "", "sent after the ACK:\n%s", m);
}

Test(ua, no_ack_for_our_200_in_64_t1_is_a_bye_and_the_leg_ends)
{
	const char *m;
	int n200 = 0;
	long long t0 = ms_now();

	t1_ms = 50; /* 64*T1 = 3.2 s */
	confirmed();
	peer_request("INVITE", 2, OFFER);
	for (;;) {
		m = poolfix_recv(fd, WAIT_MS);
		cr_assert_neq(m[0], '\0', "neither 200 nor BYE");
		if (strncmp(m, "SIP/2.0 200 ", 12))
			break;
		n200++;
	}
	cr_assert(!strncmp(m, "BYE ", 4), "%s", m);
	cr_assert(strstr(m, "Reason: SIP ;cause=408"), "%s", m);
	cr_assert(ms_now() - t0 >= 3000, "BYE after %lld ms", ms_now() - t0);
	/* T1 doubling to T2 (4 s): 50, 100, ..., 1600 ms: 7 sends. */
	cr_assert(n200 >= 6 && n200 <= 8, "%d times 200", n200);
	cr_assert_eq(wait_event(1, UA_EV_ENDED)->status, 0);
}

Test(ua, a_new_offer_goes_to_the_application_refreshes_do_not)
{
	const char *m;

	confirmed();
	atomic_store(&nreq, 0);
	on_worker(on_req_fn, NULL);
	/* An unchanged o= version (a session refresh): answered by the
	 * UA with its SDP, the application is not asked. */
	peer_request("INVITE", 2, OFFER);
	m = poolfix_recv(fd, WAIT_MS);
	cr_assert(!strncmp(m, "SIP/2.0 200 ", 12), "%s", m);
	cr_assert(strstr(m, "\r\n\r\n" ANSWER), "%s", m);
	peer_request("ACK", 2, NULL);
	ms_sleep(QUIET_MS);
	cr_assert_eq(atomic_load(&nreq), 0);
	/* A new version (hold: sendonly): the application answers. */
	peer_request("INVITE", 3, OFFER2);
	for (int t = 0; t < WAIT_MS / 10 && atomic_load(&nreq) < 1; t++)
		ms_sleep(10);
	cr_assert_eq(atomic_load(&nreq), 1);
	cr_assert_eq(reqs[0].method, SIP_INVITE);
	cr_assert_str_eq(reqs[0].body, OFFER2);
	/* Meanwhile an UPDATE with an offer is 491 (RFC 3311 §5.2). */
	peer_request("UPDATE", 4, OFFER2);
	m = poolfix_recv(fd, WAIT_MS);
	cr_assert(!strncmp(m, "SIP/2.0 491 ", 12), "%s", m);
	atomic_store(&answer_err, 1);
	on_worker(answer_invite_fn, ANSWER2);
	wait_int(&answer_err, 1);
	cr_assert_eq(atomic_load(&answer_err), 0);
	m = poolfix_recv(fd, WAIT_MS);
	cr_assert(!strncmp(m, "SIP/2.0 200 ", 12), "%s", m);
	cr_assert(strstr(m, "CSeq: 3 INVITE"), "%s", m);
	cr_assert(strstr(m, "\r\n\r\n" ANSWER2), "%s", m);
	peer_request("ACK", 3, NULL);
	/* An UPDATE without a body refreshes the session: 200, no body,
	 * and the application is not asked. */
	peer_request("UPDATE", 5, NULL);
	m = poolfix_recv(fd, WAIT_MS);
	cr_assert(!strncmp(m, "SIP/2.0 200 ", 12), "%s", m);
	cr_assert(strstr(m, "CSeq: 5 UPDATE"), "%s", m);
	cr_assert(strstr(m, "Content-Length: 0\r\n"), "%s", m);
	cr_assert(strstr(m, "UPDATE"), "%s", m);
	/* INFO goes to the application, answered with its status. */
	peer_request("INFO", 6, NULL);
	for (int t = 0; t < WAIT_MS / 10 && atomic_load(&nreq) < 2; t++)
		ms_sleep(10);
	cr_assert_eq(atomic_load(&nreq), 2);
	cr_assert_eq(reqs[1].method, SIP_INFO);
	atomic_store(&answer_err, 1);
	on_worker(answer_info_fn, NULL);
	wait_int(&answer_err, 1);
	cr_assert_eq(atomic_load(&answer_err), 0);
	m = poolfix_recv(fd, WAIT_MS);
	cr_assert(!strncmp(m, "SIP/2.0 200 ", 12), "%s", m);
	cr_assert(strstr(m, "CSeq: 6 INFO"), "%s", m);
	/* Nothing pending now: ua_answer() refuses. */
	atomic_store(&answer_err, 1);
	on_worker(answer_info_fn, NULL);
	wait_int(&answer_err, 1);
	cr_assert_eq(atomic_load(&answer_err), -EINVAL);
}

Test(ua, a_pending_offer_gets_487_when_the_peer_hangs_up)
{
	const char *m;

	confirmed();
	atomic_store(&nreq, 0);
	on_worker(on_req_fn, NULL);
	peer_request("INVITE", 2, OFFER2);
	for (int t = 0; t < WAIT_MS / 10 && atomic_load(&nreq) < 1; t++)
		ms_sleep(10);
	cr_assert_eq(atomic_load(&nreq), 1);
	peer_request("BYE", 3, NULL);
	for (int i = 0; i < 2; i++) {
		m = poolfix_recv(fd, WAIT_MS);
		cr_assert(!strncmp(m, "SIP/2.0 487 ", 12) ||
			      !strncmp(m, "SIP/2.0 200 ", 12),
			  "%s", m);
		if (m[8] == '4')
			cr_assert(strstr(m, "CSeq: 2 INVITE"), "%s", m);
		else
			cr_assert(strstr(m, "CSeq: 3 BYE"), "%s", m);
	}
	cr_assert_eq(wait_event(1, UA_EV_ENDED)->status, 0);
}

Test(ua, info_in_the_dialog_and_its_final)
{
	const char *m;

	confirmed();
	atomic_store(&answer_err, 1);
	atomic_store(&done_status, 0);
	on_worker(info_fn, "Signal=5\r\nDuration=160\r\n");
	wait_int(&answer_err, 1);
	cr_assert_eq(atomic_load(&answer_err), 0);
	m = poolfix_recv(fd, WAIT_MS);
	cr_assert(!strncmp(m, "INFO sip:alice@127.0.0.1:9 SIP/2.0", 34), "%s",
		  m);
	cr_assert(strstr(m, "Content-Type: application/dtmf-relay\r\n"), "%s",
		  m);
	cr_assert(strstr(m, "\r\n\r\nSignal=5\r\nDuration=160\r\n"), "%s", m);
	cr_assert(strstr(m, "CSeq: 2 INFO"), "%s", m);
	snprintf(inv, sizeof(inv), "%s", m);
	/* One at a time. */
	atomic_store(&answer_err, 1);
	on_worker(info_fn, "Signal=6\r\n");
	wait_int(&answer_err, 1);
	cr_assert_eq(atomic_load(&answer_err), -EBUSY);
	respond_in(200, NULL);
	for (int t = 0; t < WAIT_MS / 10 && !atomic_load(&done_status); t++)
		ms_sleep(10);
	cr_assert_eq(atomic_load(&done_status), 200);
}

Test(ua, offer_for_continues_the_legs_own_o_line)
{
	confirmed(); /* our last SDP: ANSWER, o=b 2 2 */
	offer_for[0] = '\0';
	on_worker(offer_for_fn, OFFER2);
	for (int t = 0; t < WAIT_MS / 10 && !offer_for[0]; t++)
		ms_sleep(10);
	cr_assert_str_eq(offer_for,
			 "v=0\r\no=b 2 3 IN IP4 127.0.0.1\r\ns=-\r\n"
			 "c=IN IP4 127.0.0.2\r\nt=0 0\r\n"
			 "m=audio 40406 RTP/AVP 0\r\na=sendonly\r\n");
}

Test(ua, a_2xx_from_a_second_fork_is_acked_and_byed)
{
	const char *m;

	start();
	call(NULL);
	respond(200, OFFER);
	wait_event(0, UA_EV_ANSWERED);
	/* Another fork answers before our ACK went. */
	respond_tag(200, "fork2", OFFER);
	m = poolfix_recv(fd, WAIT_MS);
	cr_assert(!strncmp(m, "ACK ", 4), "%s", m);
	cr_assert(strstr(m, ";tag=fork2"), "%s", m);
	m = poolfix_recv(fd, WAIT_MS);
	cr_assert(!strncmp(m, "BYE ", 4), "%s", m);
	cr_assert(strstr(m, ";tag=fork2"), "%s", m);
	cr_assert(strstr(m, "Reason: SIP ;cause=200"), "%s", m);
	/* The leg keeps its own dialog. */
	on_worker(ack_fn, ANSWER);
	m = poolfix_recv(fd, WAIT_MS);
	cr_assert(!strncmp(m, "ACK ", 4), "%s", m);
	cr_assert(strstr(m, ";tag=peer"), "%s", m);
	cr_assert_eq(atomic_load(&nrec), 1, "an event for the fork");
}

Test(ua, a_forks_2xx_after_the_leg_ended_is_acked_and_byed)
{
	const char *m;

	confirmed();
	peer_request("BYE", 2, NULL);
	m = poolfix_recv(fd, WAIT_MS);
	cr_assert(!strncmp(m, "SIP/2.0 200 ", 12), "%s", m);
	cr_assert_eq(wait_event(1, UA_EV_ENDED)->status, 0);
	ms_sleep(100); /* the leg is freed at the next tick */
	/* Another fork's 200 crossed the end of the call: it must still
	 * get its ACK, then a BYE (the transaction is alive: Timer M). */
	respond_tag(200, "late", OFFER);
	m = poolfix_recv(fd, WAIT_MS);
	cr_assert(!strncmp(m, "ACK ", 4), "%s", m);
	cr_assert(strstr(m, ";tag=late"), "%s", m);
	m = poolfix_recv(fd, WAIT_MS);
	cr_assert(!strncmp(m, "BYE ", 4), "%s", m);
	cr_assert(strstr(m, ";tag=late"), "%s", m);
}

/* ua_send_out()'s results on the worker: INVITE, BYE, then MESSAGE. */
static atomic_int out_err[3];

static void send_out_fn(struct shard *sh, void *arg)
{
	static const enum sip_method m[3] = { SIP_INVITE, SIP_BYE,
					      SIP_MESSAGE };
	struct ua_out_opts o;

	(void)arg;
	if (!sh)
		return;
	for (int i = 0; i < 3; i++) {
		memset(&o, 0, sizeof(o));
		o.method = m[i];
		o.target = slice_cstr("sip:alice@127.0.0.1");
		o.from = slice_cstr("sip:701@localhost");
		o.from_display = slice_cstr("Parked 701");
		o.content_type = slice_cstr("text/plain");
		o.body = slice_cstr("Parked 701");
		atomic_store(&out_err[i], ua_send_out(ua_of(sh), &o));
	}
}

/* ua_send_out(): a MESSAGE outside any dialog (new Call-ID, CSeq 1,
 * From with a tag, no To tag, no Contact, the body); INVITE and BYE
 * are refused. */
Test(ua, send_out_sends_a_request_outside_any_dialog)
{
	char v[256];
	const char *m;

	cr_assert_eq(ua_send_out(NULL, NULL), -EINVAL);
	start();
	on_worker(send_out_fn, NULL);
	m = poolfix_recv(fd, WAIT_MS);
	cr_assert(!strncmp(m, "MESSAGE sip:alice@127.0.0.1 SIP/2.0\r\n", 37),
		  "not the MESSAGE:\n%s", m);
	cr_assert_eq(atomic_load(&out_err[0]), -EINVAL);
	cr_assert_eq(atomic_load(&out_err[1]), -EINVAL);
	cr_assert_eq(atomic_load(&out_err[2]), 0);
	snprintf(inv, sizeof(inv), "%s", m);
	cr_assert_str_eq(poolfix_line(m, "CSeq:", v, sizeof(v)),
			 "CSeq: 1 MESSAGE");
	cr_assert_not_null(strstr(poolfix_line(m, "From:", v, sizeof(v)),
				  "\"Parked 701\" <sip:701@localhost>;tag="));
	cr_assert_null(strstr(poolfix_line(m, "To:", v, sizeof(v)), "tag="));
	cr_assert_null(strstr(m, "Contact:"), "%s", m);
	cr_assert_str_eq(poolfix_line(m, "Content-Type:", v, sizeof(v)),
			 "Content-Type: text/plain");
	cr_assert_str_eq(strstr(m, "\r\n\r\n") + 4, "Parked 701");
	respond(200, NULL);
}

/* ua_leg_restore() (park's node takeover): a leg from another UA's
 * dialog fields. */
static atomic_int restore_err;

static void restore_fn(struct shard *sh, void *arg)
{
	static const char old[] =
	    "v=0\r\no=pool 42 7 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n";
	struct dialog f;
	struct ua_leg *l = NULL;
	struct slice off;
	int err;

	(void)arg;
	if (!sh)
		return;
	memset(&f, 0, sizeof(f));
	f.call_id = slice_cstr("restored@x");
	f.local_tag = slice_cstr("pool1");
	f.remote_tag = slice_cstr("peer");
	f.local_uri = slice_cstr("sip:700@127.0.0.1");
	f.remote_uri = slice_cstr("sip:alice@127.0.0.1");
	f.remote_target = slice_cstr("sip:alice@127.0.0.1:9");
	f.local_cseq = 107;
	f.local_cseq_set = true;
	err =
	    ua_leg_restore(ua_of(sh), &f, slice_cstr(old), on_event, NULL, &l);
	if (!err) {
		atomic_store(&leg, l);
		err = ua_offer_for(l, slice_cstr(OFFER), &off);
	}
	if (!err)
		err = ua_reinvite(l, off);
	/* The same Call-ID again: this worker has it. */
	if (!err && ua_leg_restore(ua_of(sh), &f, slice_cstr(old), on_event,
				   NULL, &l) != -EEXIST)
		err = -EPROTO;
	f.local_tag = slice_cstr("bad tag");
	f.call_id = slice_cstr("other@x");
	if (!err && ua_leg_restore(ua_of(sh), &f, slice_cstr(old), on_event,
				   NULL, &l) != -EINVAL)
		err = -EPROTO;
	atomic_store(&restore_err, err);
}

static void drop_fn(struct shard *sh, void *arg)
{
	(void)arg;
	if (sh)
		ua_leg_drop(atomic_load(&leg));
}

Test(ua, a_restored_leg_reinvites_in_the_old_dialog_and_drops_quietly)
{
	const char *m;

	start();
	atomic_store(&restore_err, 1);
	on_worker(restore_fn, NULL);
	m = poolfix_recv(fd, WAIT_MS);
	cr_assert_eq(atomic_load(&restore_err), 0, "%d",
		     atomic_load(&restore_err));
	cr_assert(!strncmp(m, "INVITE sip:alice@127.0.0.1:9 SIP/2.0", 36),
		  "not a re-INVITE:\n%s", m);
	snprintf(inv, sizeof(inv), "%s", m);
	cr_assert(strstr(inv, "CSeq: 108 INVITE\r\n"), "%s", inv);
	cr_assert(strstr(inv, "Call-ID: restored@x\r\n"), "%s", inv);
	cr_assert(strstr(inv, "<sip:700@127.0.0.1>;tag=pool1"), "%s", inv);
	cr_assert(strstr(inv, "<sip:alice@127.0.0.1>;tag=peer"), "%s", inv);
	/* The old session, its next version (RFC 3264 §8). */
	cr_assert(strstr(inv, "o=pool 42 8 IN IP4 127.0.0.1\r\n"), "%s", inv);
	respond_in(200, ANSWER);
	m = poolfix_recv(fd, WAIT_MS);
	cr_assert(!strncmp(m, "ACK sip:alice@127.0.0.1:9 SIP/2.0", 33), "%s",
		  m);
	cr_assert(strstr(m, "CSeq: 108 ACK\r\n"), "%s", m);
	cr_assert_str_eq(wait_event(0, UA_EV_REINVITE)->sdp, ANSWER);
	cr_assert_eq(recs[0].status, 200);
	/* Dropped: nothing sent, no event. */
	on_worker(drop_fn, NULL);
	m = poolfix_recv(fd, QUIET_MS);
	cr_assert_str_eq(m, "", "sent after ua_leg_drop():\n%s", m);
	cr_assert_eq(atomic_load(&nrec), 1);
}
