/* tests/unit/proxy/test_txn.c - RFC 3261 §17 state machines on a fake clock,
 * with every send captured */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "proxy/base/obj.h"
#include "proxy/base/stats.h"
#include "proxy/sip/msg.h"
#include "proxy/base/timer.h"
#include "proxy/sip/txn.h"
#include "tests/common/teardown.h"

#define T1   500
#define T2   4000
#define T4   5000
#define MAXS 64

struct sent {
	struct peer to;
	char buf[4096];
	size_t len;
};

static struct timer_wheel w;
static struct txn_layer *l;
static struct sent *sent;
static unsigned nsent;
static int send_err;
static long live0;
static uint64_t now;
/* What the user was told. */
static unsigned up_status[16], nup, fail_status, ngone;

/* Parsed messages: each keeps its own buffer and headers. */
struct pm {
	char buf[4096];
	struct siphdr h[64];
	struct sipmsg m;
};
static struct pm pms[4];

static int fake_send(void *ctx, const struct peer *to, const void *buf,
		     size_t len)
{
	(void)ctx;
	if (send_err)
		return send_err;
	cr_assert_lt(nsent, MAXS);
	cr_assert_lt(len, sizeof(sent[0].buf));
	sent[nsent].to = *to;
	memcpy(sent[nsent].buf, buf, len);
	sent[nsent].buf[len] = '\0';
	sent[nsent].len = len;
	nsent++;
	return 0;
}

/* txn_cli_fn: a response (m) or the failure (m NULL). */
static void on_client(struct txn *ct, const struct sipmsg *m, unsigned status,
		      void *arg)
{
	(void)ct;
	cr_assert_eq(arg, &nup, "the argument given to txn_cli_new()");
	if (!m) {
		fail_status = status;
		return;
	}
	cr_assert_eq(status, m->status);
	if (nup < 16)
		up_status[nup] = m->status;
	nup++;
}

static void on_gone(struct txn *t)
{
	(void)t;
	ngone++;
}

static const struct txn_user user = { on_gone, NULL };

static void setup(void)
{
	struct txn_cfg cfg = { T1,	  T2,	T4,    3,    64,
			       fake_send, NULL, &user, NULL, false };

	live0 = obj_live();
	now = 0;
	nsent = nup = fail_status = ngone = 0;
	send_err = 0;
	sent = calloc(MAXS, sizeof(*sent));
	cr_assert_not_null(sent);
	cr_assert_eq(timer_wheel_init(&w, 10, 1024, now), 0);
	cr_assert_eq(txn_layer_new(&cfg, &w, &l), 0);
}

static void teardown(void)
{
	txn_layer_free(l);
	timer_wheel_fini(&w);
	free(sent);
	teardown_check_objs(live0);
}

TestSuite(txn, .init = setup, .fini = teardown, .timeout = 10);

static void advance(uint64_t ms)
{
	/* Step by ticks, as the shard's loop does. */
	for (uint64_t end = now + ms; now < end;) {
		now += 10;
		timer_advance(&w, now);
	}
}

static struct sipmsg *parse(int slot, const char *text)
{
	struct pm *p = &pms[slot];
	size_t len = strlen(text);
	int r;

	cr_assert_lt(len, sizeof(p->buf));
	memcpy(p->buf, text, len);
	memset(&p->m, 0, sizeof(p->m));
	r = sipmsg_parse(&p->m, p->buf, len, p->h, 64, 0);
	cr_assert_gt(r, 0, "does not parse: %s", text);
	return &p->m;
}

static struct peer peer(enum peer_proto proto, uint16_t port)
{
	struct peer p;
	struct sockaddr_in *in = (struct sockaddr_in *)&p.addr;

	memset(&p, 0, sizeof(p));
	p.proto = proto;
	in->sin_family = AF_INET;
	in->sin_port = htons(port);
	inet_pton(AF_INET, "127.0.0.1", &in->sin_addr);
	p.addrlen = sizeof(*in);
	p.conn_id = proto == PEER_TCP ? 42 : 0;
	return p;
}

static const char *req_fmt = "%s sip:bob@example.com SIP/2.0\r\n"
			     "Via: SIP/2.0/UDP 127.0.0.1:5099;branch=%s\r\n"
			     "Max-Forwards: 70\r\n"
			     "From: <sip:alice@example.com>;tag=fa\r\n"
			     "To: <sip:bob@example.com>%s\r\n"
			     "Call-ID: txn-test@x\r\n"
			     "CSeq: 7 %s\r\n"
			     "Content-Length: 0\r\n\r\n";

static struct sipmsg *request(int slot, const char *method, const char *branch,
			      const char *totag)
{
	char text[2048];

	snprintf(text, sizeof(text), req_fmt, method, branch, totag, method);
	return parse(slot, text);
}

static const char *rsp_text(unsigned status, const char *branch,
			    const char *method)
{
	static char text[2048];

	snprintf(text, sizeof(text),
		 "SIP/2.0 %u Whatever\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=%s\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bKup\r\n"
		 "From: <sip:alice@example.com>;tag=fa\r\n"
		 "To: <sip:bob@example.com>;tag=tb%u\r\n"
		 "Call-ID: txn-test@x\r\n"
		 "CSeq: 7 %s\r\n"
		 "Content-Length: 0\r\n\r\n",
		 status, branch, status / 100, method);
	return text;
}

/* Server transactions. */

Test(txn, server_times_first_provisional_and_final_into_histograms)
{
	struct stats_hist h[TXN_HIST__COUNT];
	struct txn_cfg cfg = { T1,	  T2,	T4,    3, 64,
			       fake_send, NULL, &user, h, false };
	struct peer from = peer(PEER_UDP, 5099);
	struct txn_layer *hl;
	struct txn *st, *rt;
	uint64_t t0;

	memset(h, 0, sizeof(h));
	cr_assert_eq(txn_layer_new(&cfg, &w, &hl), 0);
	/* The INVITE arrived 3 ms before its transaction was made. */
	t0 = stats_now_us() - 3000;
	txn_set_rx_us(hl, t0);
	cr_assert_eq(txn_srv_new(hl, request(0, "INVITE", "z9hG4bKh1", ""),
				 &from, 0, &st),
		     0);
	txn_set_rx_us(hl, 0);
	/* 100 Trying is not the provisional that counts; 180 is, once. */
	cr_assert_eq(txn_srv_respond(st, 100, "100", 3), 0);
	cr_expect_eq(stats_hist_count(&h[TXN_HIST_INVITE_PROVISIONAL]), 0);
	cr_assert_eq(txn_srv_respond(st, 180, "180", 3), 0);
	cr_assert_eq(txn_srv_respond(st, 183, "183", 3), 0);
	cr_expect_eq(stats_hist_count(&h[TXN_HIST_INVITE_PROVISIONAL]), 1);
	cr_expect_geq(h[TXN_HIST_INVITE_PROVISIONAL].sum_us, 3000,
		      "timed from the arrival");
	cr_expect_eq(h[TXN_HIST_INVITE_PROVISIONAL].bucket[0], 0,
		     "3 ms is past the 0.5 ms bucket");
	cr_assert_eq(txn_srv_respond(st, 486, "486", 3), 0);
	/* The final's retransmission is not a second observation. */
	cr_assert_eq(txn_srv_respond(st, 480, "480", 3), -EALREADY);
	cr_expect_eq(stats_hist_count(&h[TXN_HIST_INVITE_FINAL]), 1);
	cr_expect_eq(stats_hist_count(&h[TXN_HIST_REGISTER]), 0);
	/* A REGISTER's final goes to its own histogram. */
	cr_assert_eq(txn_srv_new(hl, request(1, "REGISTER", "z9hG4bKh2", ""),
				 &from, 0, &rt),
		     0);
	cr_assert_eq(txn_srv_respond(rt, 200, "200", 3), 0);
	cr_expect_eq(stats_hist_count(&h[TXN_HIST_REGISTER]), 1);
	cr_expect_eq(stats_hist_count(&h[TXN_HIST_INVITE_FINAL]), 1);
	txn_layer_free(hl);
}

Test(txn, server_invite_retransmits_final_until_ack_then_ends)
{
	struct sipmsg *inv = request(0, "INVITE", "z9hG4bKs1", "");
	struct peer from = peer(PEER_UDP, 5099);
	struct txn *st;

	cr_assert_eq(txn_srv_new(l, inv, &from, 0, &st), 0);
	cr_assert_eq(txn_state(st), TXN_PROCEEDING);
	cr_assert_eq(txn_srv_find(l, inv, SIP_INVITE), st);
	cr_assert_eq(txn_srv_respond(st, 100, "100", 3), 0);
	/* A retransmitted INVITE gets the last provisional again. */
	cr_assert_eq(txn_srv_absorb(st, request(1, "INVITE", "z9hG4bKs1", "")),
		     1);
	cr_assert_eq(nsent, 2);
	cr_assert_str_eq(sent[1].buf, "100");
	cr_assert_eq(txn_srv_respond(st, 486, "486", 3), 0);
	cr_assert_eq(txn_state(st), TXN_COMPLETED);
	cr_assert_eq(txn_srv_respond(st, 480, "480", 3), -EALREADY);
	/* Timer G: T1, 2T1, 4T1 ... */
	advance(T1);
	cr_assert_eq(nsent, 4);
	advance(2 * T1);
	cr_assert_eq(nsent, 5);
	cr_assert_str_eq(sent[4].buf, "486");
	/* The ACK ends the retransmissions; Timer I then ends it. */
	cr_assert_eq(
	    txn_srv_absorb(st, request(1, "ACK", "z9hG4bKs1", ";tag=x")), 1);
	cr_assert_eq(txn_state(st), TXN_CONFIRMED);
	advance(T4 - 10);
	cr_assert_eq(nsent, 5);
	cr_assert_eq(txn_count(l), 1);
	advance(20);
	cr_assert_eq(txn_count(l), 0);
}

Test(txn, server_invite_timer_g_caps_at_t2_and_timer_h_ends_it)
{
	struct peer from = peer(PEER_UDP, 5099);
	struct txn *st;

	cr_assert_eq(txn_srv_new(l, request(0, "INVITE", "z9hG4bKs2", ""),
				 &from, 0, &st),
		     0);
	cr_assert_eq(txn_srv_respond(st, 500, "500", 3), 0);
	advance(64 * T1 - 10);
	/* 500 at 0, then at 0.5 1.5 3.5 7.5 11.5 15.5 19.5 23.5 27.5 31.5 */
	cr_assert_eq(nsent, 11, "%u sends", nsent);
	cr_assert_eq(txn_count(l), 1);
	advance(20);
	cr_assert_eq(txn_count(l), 0);
}

Test(txn, server_invite_2xx_accepted_absorbs_and_passes_more_2xx)
{
	struct peer from = peer(PEER_UDP, 5099);
	struct txn *st;

	cr_assert_eq(txn_srv_new(l, request(0, "INVITE", "z9hG4bKs3", ""),
				 &from, 0, &st),
		     0);
	cr_assert_eq(txn_srv_respond(st, 200, "200a", 4), 0);
	cr_assert_eq(txn_state(st), TXN_ACCEPTED);
	cr_assert_eq(txn_srv_absorb(st, request(1, "INVITE", "z9hG4bKs3", "")),
		     1);
	cr_assert_eq(nsent, 1, "a retransmitted INVITE got something");
	/* Another branch's 2xx still goes upstream (RFC 6026). */
	cr_assert_eq(txn_srv_respond(st, 200, "200b", 4), 0);
	cr_assert_eq(nsent, 2);
	cr_assert_eq(txn_srv_respond(st, 486, "486", 3), -EALREADY);
	/* An ACK that matches an Accepted INVITE is the user's. */
	cr_assert_eq(
	    txn_srv_absorb(st, request(1, "ACK", "z9hG4bKs3", ";tag=a")), 0);
	advance(64 * T1 + 10);
	cr_assert_eq(txn_count(l), 0);
	cr_assert_eq(nsent, 2, "2xx retransmitted by the proxy");
}

Test(txn, server_non_invite_trying_absorbs_completed_repeats)
{
	struct peer from = peer(PEER_UDP, 5099);
	struct sipmsg *bye = request(0, "BYE", "z9hG4bKs4", ";tag=t");
	struct txn *st;

	cr_assert_eq(txn_srv_new(l, bye, &from, 0, &st), 0);
	cr_assert_eq(txn_state(st), TXN_TRYING);
	cr_assert_eq(txn_srv_absorb(st, bye), 1);
	cr_assert_eq(nsent, 0);
	cr_assert_eq(txn_srv_respond(st, 200, "200", 3), 0);
	cr_assert_eq(txn_state(st), TXN_COMPLETED);
	cr_assert_eq(txn_srv_absorb(st, bye), 1);
	cr_assert_eq(nsent, 2);
	advance(64 * T1 + 10); /* Timer J */
	cr_assert_eq(txn_count(l), 0);
	cr_assert_eq(nsent, 2, "a non-INVITE final was retransmitted");
}

Test(txn, completed_ones_are_counted_apart_from_live_ones)
{
	struct peer from = peer(PEER_UDP, 5099);
	struct txn *inv, *bye, *ok;

	cr_assert_eq(txn_srv_new(l, request(0, "INVITE", "z9hG4bKd1", ""),
				 &from, 0, &inv),
		     0);
	cr_assert_eq(txn_srv_new(l, request(0, "BYE", "z9hG4bKd2", ";tag=t"),
				 &from, 0, &bye),
		     0);
	cr_assert_eq(txn_srv_new(l, request(0, "INVITE", "z9hG4bKd3", ""),
				 &from, 0, &ok),
		     0);
	cr_assert_eq(txn_count_live(l), 3);
	cr_assert_eq(txn_count_completed(l), 0);
	/* A provisional keeps it live; a final completes it. */
	cr_assert_eq(txn_srv_respond(inv, 180, "180", 3), 0);
	cr_assert_eq(txn_count_live(l), 3);
	cr_assert_eq(txn_srv_respond(inv, 486, "486", 3), 0);
	cr_assert_eq(txn_srv_respond(bye, 200, "200", 3), 0);
	cr_assert_eq(txn_srv_respond(ok, 200, "200", 3), 0); /* Accepted */
	cr_assert_eq(txn_count_live(l), 0);
	cr_assert_eq(txn_count_completed(l), 3);
	cr_assert_eq(txn_count(l), 3);
	/* Confirmed is still completed, until Timer I. */
	cr_assert_eq(
	    txn_srv_absorb(inv, request(1, "ACK", "z9hG4bKd1", ";tag=x")), 1);
	cr_assert_eq(txn_state(inv), TXN_CONFIRMED);
	cr_assert_eq(txn_count_completed(l), 3);
	advance(T4 + 10);
	cr_assert_eq(txn_count_completed(l), 2);
	advance(64 * T1);
	cr_assert_eq(txn_count(l), 0);
	cr_assert_eq(txn_count_completed(l), 0);
}

Test(txn, trim_ends_the_oldest_completed_and_never_a_live_one)
{
	struct peer from = peer(PEER_UDP, 5099);
	struct txn *st;
	char br[32];

	/* Ten completed BYEs, then one still waiting for its answer. */
	for (int i = 0; i < 10; i++) {
		snprintf(br, sizeof(br), "z9hG4bKt%d", i);
		cr_assert_eq(txn_srv_new(l, request(0, "BYE", br, ";tag=t"),
					 &from, 0, &st),
			     0);
		cr_assert_eq(txn_srv_respond(st, 200, "200", 3), 0);
	}
	cr_assert_eq(txn_srv_new(l, request(0, "BYE", "z9hG4bKlive", ";tag=t"),
				 &from, 0, &st),
		     0);
	cr_assert_eq(txn_trim(l, 100), 0, "under the bound: nothing ends");
	cr_assert_eq(txn_trim(l, 4), 6);
	cr_assert_eq(txn_count_completed(l), 4);
	cr_assert_eq(txn_count_live(l), 1);
	for (int i = 0; i < 10; i++) {
		snprintf(br, sizeof(br), "z9hG4bKt%d", i);
		if (i < 6)
			cr_assert_null(txn_srv_find(
			    l, request(1, "BYE", br, ";tag=t"), SIP_BYE));
		else
			cr_assert_not_null(txn_srv_find(
			    l, request(1, "BYE", br, ";tag=t"), SIP_BYE));
	}
	/* The newest still absorbs its retransmission. */
	st = txn_srv_find(l, request(1, "BYE", "z9hG4bKt9", ";tag=t"), SIP_BYE);
	cr_assert_eq(
	    txn_srv_absorb(st, request(1, "BYE", "z9hG4bKt9", ";tag=t")), 1);
	cr_assert_eq(nsent, 11);
	cr_assert_eq(txn_trim(l, 0), 4);
	cr_assert_eq(txn_count(l), 1, "the live one stays");
	/* Nothing a trimmed one had fires later. */
	advance(64 * T1 + 10);
	cr_assert_eq(nsent, 11);
}

Test(txn, server_over_tcp_never_retransmits_and_ends_at_once)
{
	struct peer from = peer(PEER_TCP, 5099);
	struct txn *st;

	cr_assert_eq(txn_srv_new(l, request(0, "BYE", "z9hG4bKs5", ";tag=t"),
				 &from, 0, &st),
		     0);
	cr_assert_eq(txn_peer(st)->conn_id, 42);
	cr_assert_eq(txn_srv_respond(st, 200, "200", 3), 0);
	cr_assert_eq(txn_count(l), 0, "Timer J is 0 on TCP");
	cr_assert_eq(txn_srv_new(l, request(0, "INVITE", "z9hG4bKs6", ""),
				 &from, 0, &st),
		     0);
	cr_assert_eq(txn_srv_respond(st, 486, "486", 3), 0);
	advance(10 * T1);
	cr_assert_eq(nsent, 2, "retransmitted over TCP");
	cr_assert_eq(
	    txn_srv_absorb(st, request(1, "ACK", "z9hG4bKs6", ";tag=x")), 1);
	cr_assert_eq(txn_count(l), 0, "Timer I is 0 on TCP");
}

Test(txn, server_matching_needs_branch_sent_by_and_method)
{
	struct peer from = peer(PEER_UDP, 5099);
	struct txn *st;
	char other[2048];

	cr_assert_eq(txn_srv_new(l, request(0, "INVITE", "z9hG4bKm1", ""),
				 &from, 0, &st),
		     0);
	cr_assert_null(
	    txn_srv_find(l, request(1, "INVITE", "z9hG4bKm2", ""), SIP_INVITE));
	cr_assert_null(
	    txn_srv_find(l, request(1, "BYE", "z9hG4bKm1", ""), SIP_BYE));
	/* CANCEL and ACK find their INVITE by its branch. */
	cr_assert_eq(
	    txn_srv_find(l, request(1, "CANCEL", "z9hG4bKm1", ""), SIP_INVITE),
	    st);
	snprintf(other, sizeof(other), req_fmt, "INVITE", "z9hG4bKm1", "",
		 "INVITE");
	*strstr(other, "5099") = '6'; /* another sent-by port */
	cr_assert_null(txn_srv_find(l, parse(2, other), SIP_INVITE));
}

Test(txn, server_rfc2543_matching_without_magic_cookie)
{
	struct peer from = peer(PEER_UDP, 5099);
	struct txn *st;

	cr_assert_eq(
	    txn_srv_new(l, request(0, "INVITE", "old1", ""), &from, 0, &st), 0);
	cr_assert_eq(
	    txn_srv_find(l, request(1, "INVITE", "old1", ""), SIP_INVITE), st);
	cr_assert_eq(
	    txn_srv_find(l, request(1, "ACK", "old1", ";tag=z"), SIP_INVITE),
	    st);
	/* The top Via is part of the key: another branch is another one. */
	cr_assert_null(
	    txn_srv_find(l, request(1, "INVITE", "old2", ""), SIP_INVITE));
}

/* Client transactions, children of one server transaction. */

static struct txn *parent_st(void)
{
	struct peer from = peer(PEER_UDP, 5099);
	struct txn *st;

	cr_assert_eq(txn_srv_new(l, request(3, "INVITE", "z9hG4bKpar", ""),
				 &from, 16, &st),
		     0);
	cr_assert_not_null(txn_user_data(st));
	return st;
}

/* A client transaction for @p parent (NULL: one that stands alone). */
static struct txn *client_of(struct txn *parent, enum sip_method method,
			     enum peer_proto proto, const char *branch)
{
	struct peer to = peer(proto, 5080);
	struct txn *ct;
	char text[2048];
	const char *name = method == SIP_INVITE ? "INVITE" : "MESSAGE";

	snprintf(text, sizeof(text),
		 "%s sip:bob@127.0.0.1:5080 SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=%s\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bKup\r\n"
		 "Max-Forwards: 69\r\n"
		 "Route: <sip:10.1.1.1;lr>\r\n"
		 "From: <sip:alice@example.com>;tag=fa\r\n"
		 "To: <sip:bob@example.com>\r\n"
		 "Call-ID: txn-test@x\r\n"
		 "CSeq: 7 %s\r\n"
		 "Content-Length: 0\r\n\r\n",
		 name, branch, name);
	cr_assert_eq(txn_cli_new(l, parent, method, &to, slice_cstr(branch),
				 text, strlen(text), 5, on_client, &nup, &ct),
		     0);
	cr_assert_eq(txn_tag(ct), 5);
	return ct;
}

static struct txn *client(enum sip_method method, enum peer_proto proto,
			  const char *branch)
{
	return client_of(parent_st(), method, proto, branch);
}

static void respond(unsigned status, const char *branch, const char *method)
{
	struct sipmsg *m = parse(1, rsp_text(status, branch, method));
	struct txn *ct = txn_cli_find(l, m);

	cr_assert_not_null(ct, "no client transaction for %u", status);
	txn_cli_receive(ct, m);
}

Test(txn, client_invite_timer_a_doubles_and_timer_b_fails_408)
{
	client(SIP_INVITE, PEER_UDP, "z9hG4bKc1");
	cr_assert_eq(nsent, 1);
	advance(T1);
	cr_assert_eq(nsent, 2);
	advance(2 * T1);
	cr_assert_eq(nsent, 3);
	advance(64 * T1 - 3 * T1 - 10);
	/* Sent at 0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s. */
	cr_assert_eq(nsent, 7, "%u sends", nsent);
	cr_assert_eq(fail_status, 0);
	advance(20);
	cr_assert_eq(fail_status, 408);
	cr_assert_eq(txn_count(l), 1, "only the parent left");
}

Test(txn, client_invite_provisional_stops_a_final_is_acked)
{
	client(SIP_INVITE, PEER_UDP, "z9hG4bKc2");
	respond(180, "z9hG4bKc2", "INVITE");
	cr_assert_eq(nup, 1);
	cr_assert_eq(up_status[0], 180);
	advance(10 * T1);
	cr_assert_eq(nsent, 1, "retransmitted after a provisional");
	respond(486, "z9hG4bKc2", "INVITE");
	cr_assert_eq(nup, 2);
	cr_assert_eq(up_status[1], 486);
	/* RFC 3261 §17.1.1.3: the ACK has the INVITE's branch and Route,
	 * the To of the response, CSeq ACK. */
	cr_assert_eq(nsent, 2);
	cr_assert(strncmp(sent[1].buf, "ACK sip:bob@127.0.0.1:5080 SIP/2.0\r\n",
			  36) == 0,
		  "%s", sent[1].buf);
	cr_assert_not_null(strstr(sent[1].buf, "branch=z9hG4bKc2\r\n"));
	cr_assert_null(strstr(sent[1].buf, "z9hG4bKup"));
	cr_assert_not_null(strstr(sent[1].buf, "Route: <sip:10.1.1.1;lr>"));
	cr_assert_not_null(strstr(sent[1].buf, ";tag=tb4"));
	cr_assert_not_null(strstr(sent[1].buf, "CSeq: 7 ACK\r\n"));
	/* The final again: ACK again, not passed up. */
	respond(486, "z9hG4bKc2", "INVITE");
	cr_assert_eq(nup, 2);
	cr_assert_eq(nsent, 3);
	advance(64 * T1 + 10); /* Timer D */
	cr_assert_eq(txn_count(l), 1);
}

Test(txn, client_invite_every_2xx_passes_up)
{
	client(SIP_INVITE, PEER_UDP, "z9hG4bKc3");
	respond(200, "z9hG4bKc3", "INVITE");
	respond(200, "z9hG4bKc3", "INVITE");
	cr_assert_eq(nup, 2);
	cr_assert_eq(nsent, 1, "a proxy never ACKs a 2xx");
	respond(486, "z9hG4bKc3", "INVITE");
	cr_assert_eq(nup, 2);
	advance(64 * T1 + 10); /* Timer M */
	cr_assert_eq(txn_count(l), 1);
}

Test(txn, client_non_invite_timer_e_caps_at_t2_timer_f_fails)
{
	client(SIP_MESSAGE, PEER_UDP, "z9hG4bKc4");
	advance(64 * T1 - 10);
	/* 0, .5, 1.5, 3.5, 7.5, then every T2 = 4 s up to 31.5. */
	cr_assert_eq(nsent, 11, "%u sends", nsent);
	advance(20);
	cr_assert_eq(fail_status, 408);
}

Test(txn, client_non_invite_final_then_timer_k)
{
	client(SIP_MESSAGE, PEER_UDP, "z9hG4bKc5");
	respond(100, "z9hG4bKc5", "MESSAGE");
	respond(202, "z9hG4bKc5", "MESSAGE");
	respond(202, "z9hG4bKc5", "MESSAGE");
	cr_assert_eq(nup, 2, "the retransmitted final went up");
	advance(T4 + 10);
	cr_assert_eq(txn_count(l), 1);
	cr_assert_eq(nsent, 1);
}

Test(txn, client_over_tcp_never_retransmits)
{
	client(SIP_INVITE, PEER_TCP, "z9hG4bKc6");
	advance(10 * T1);
	cr_assert_eq(nsent, 1);
	respond(486, "z9hG4bKc6", "INVITE");
	cr_assert_eq(txn_count(l), 1, "Timer D is 0 on TCP");
}

Test(txn, cancel_waits_for_a_provisional_then_goes_with_the_same_branch)
{
	struct txn *ct = client(SIP_INVITE, PEER_UDP, "z9hG4bKc7");
	struct sipmsg *c;

	cr_assert_eq(txn_cli_cancel(ct), 0);
	cr_assert_eq(nsent, 1, "CANCEL before any provisional");
	respond(180, "z9hG4bKc7", "INVITE");
	cr_assert_eq(nsent, 2);
	c = parse(2, sent[1].buf);
	cr_assert_eq(c->method, SIP_CANCEL);
	cr_assert(slice_eq(c->via.branch, SLICE_LIT("z9hG4bKc7")));
	cr_assert(slice_eq(c->ruri, SLICE_LIT("sip:bob@127.0.0.1:5080")));
	cr_assert_eq(c->cseq, 7);
	cr_assert_eq(c->to_tag.len, 0);
	cr_assert_not_null(sipmsg_hdr(c, HDR_ROUTE));
	/* Its 200 is absorbed; the INVITE's 487 goes up and is ACKed. */
	respond(200, "z9hG4bKc7", "CANCEL");
	cr_assert_eq(nup, 1);
	respond(487, "z9hG4bKc7", "INVITE");
	cr_assert_eq(nup, 2);
	cr_assert_eq(up_status[1], 487);
	cr_assert_eq(parse(2, sent[nsent - 1].buf)->method, SIP_ACK);
	/* A second cancel does nothing. */
	cr_assert_eq(txn_cli_cancel(ct), 0);
}

Test(txn, cancelled_invite_without_final_fails_after_64_t1)
{
	struct txn *ct = client(SIP_INVITE, PEER_UDP, "z9hG4bKc8");

	respond(180, "z9hG4bKc8", "INVITE");
	cr_assert_eq(txn_cli_cancel(ct), 0);
	advance(64 * T1 + 10);
	cr_assert_eq(fail_status, 408);
}

Test(txn, client_without_parent_reports_to_its_callback)
{
	struct txn *ct = client_of(NULL, SIP_INVITE, PEER_UDP, "z9hG4bKa1");

	cr_assert_null(txn_parent(ct));
	cr_assert_null(txn_user_data(ct));
	cr_assert_eq(txn_count(l), 1);
	respond(100, "z9hG4bKa1", "INVITE");
	respond(180, "z9hG4bKa1", "INVITE");
	cr_assert_eq(nup, 2);
	cr_assert_eq(up_status[0], 100);
	cr_assert_eq(up_status[1], 180);
	respond(486, "z9hG4bKa1", "INVITE");
	cr_assert_eq(nup, 3);
	cr_assert_eq(up_status[2], 486);
	cr_assert_eq(parse(2, sent[nsent - 1].buf)->method, SIP_ACK);
	advance(64 * T1 + 10); /* Timer D */
	cr_assert_eq(txn_count(l), 0);
	cr_assert_eq(fail_status, 0, "a final is no failure");

	/* No answer at all: Timer F, then the failure. */
	client_of(NULL, SIP_MESSAGE, PEER_UDP, "z9hG4bKa2");
	advance(64 * T1 - 10);
	cr_assert_eq(fail_status, 0);
	advance(20);
	cr_assert_eq(fail_status, 408);
	cr_assert_eq(nup, 3);
	cr_assert_eq(txn_count(l), 0);
	cr_assert_eq(ngone, 0, "gone is for transactions with a parent");
}

Test(txn, client_without_parent_reports_a_transport_failure_as_503)
{
	client_of(NULL, SIP_MESSAGE, PEER_UDP, "z9hG4bKa4");
	cr_assert_eq(nsent, 1);
	/* A full queue is a lost datagram: retransmissions go on. */
	send_err = -ENOBUFS;
	advance(T1 + 10);
	cr_assert_eq(fail_status, 0);
	cr_assert_eq(txn_count(l), 1);
	/* The transport fails for good: 503 to the callback, and the
	 * transaction ends (RFC 3261 §17.1.4, §16.9). */
	send_err = -ENOTCONN;
	advance(2 * T1 + 10);
	cr_assert_eq(fail_status, 503);
	cr_assert_eq(nup, 0);
	cr_assert_eq(txn_count(l), 0);
	/* Nothing fires later. */
	send_err = 0;
	advance(64 * T1);
	cr_assert_eq(nsent, 1);
	cr_assert_eq(fail_status, 503);
}

Test(txn, client_without_callback_drops_its_outcomes)
{
	struct peer to = peer(PEER_UDP, 5080);
	struct txn *ct = NULL;

	cr_assert_eq(txn_cli_new(l, NULL, SIP_MESSAGE, &to,
				 SLICE_LIT("z9hG4bKa3"), "MESSAGE x", 9, 0,
				 NULL, NULL, &ct),
		     0);
	respond(200, "z9hG4bKa3", "MESSAGE");
	advance(64 * T1 + 10);
	cr_assert_eq(nup, 0);
	cr_assert_eq(fail_status, 0);
	cr_assert_eq(txn_count(l), 0);
}

Test(txn, send_error_keeps_nothing)
{
	struct peer to = peer(PEER_UDP, 5080);
	struct txn *ct = NULL;

	send_err = -ENOTCONN;
	cr_assert_eq(txn_cli_new(l, NULL, SIP_MESSAGE, &to,
				 SLICE_LIT("z9hG4bKe"), "X", 1, 0, on_client,
				 &nup, &ct),
		     -ENOTCONN);
	cr_assert_null(ct);
	cr_assert_eq(txn_count(l), 0);
}

Test(txn, branches_carry_shard_and_loop_hash)
{
	char b[TXN_BRANCH_MAX], b2[TXN_BRANCH_MAX], rsp[512];
	unsigned shard;
	uint32_t lh;
	size_t n = txn_branch_make(l, 0xdeadbeef, b);

	cr_assert_eq(strlen(b), n);
	cr_assert_eq(strncmp(b, "z9hG4bK", 7), 0);
	cr_assert_eq(txn_branch_parse(slice_make(b, n), &shard, &lh), 0);
	cr_assert_eq(shard, 3);
	cr_assert_eq(lh, 0xdeadbeef);
	txn_branch_make(l, 0xdeadbeef, b2);
	cr_assert_str_neq(b, b2, "branches must be unique");
	/* Stateless ones are the same for the same seed. */
	txn_branch_stateless(l, 1, SLICE_LIT("seed"), b);
	txn_branch_stateless(l, 1, SLICE_LIT("seed"), b2);
	cr_assert_str_eq(b, b2);
	cr_assert_eq(txn_branch_parse(SLICE_LIT("z9hG4bK-other"), &shard, &lh),
		     -ENOENT);
	snprintf(rsp, sizeof(rsp),
		 "SIP/2.0 200 OK\r\nFrom: <sip:a@x>;tag=1\r\n"
		 "v: SIP/2.0/UDP 127.0.0.1;rport;branch=%s\r\n"
		 "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKsE01.00000000."
		 "0000000000000000\r\n\r\n",
		 b);
	cr_assert_eq(txn_peek_branch_shard(rsp, strlen(rsp)), 3);
	cr_assert_eq(
	    txn_peek_branch_shard(rsp_text(200, "z9hG4bKx", "BYE"),
				  strlen(rsp_text(200, "z9hG4bKx", "BYE"))),
	    -ENOENT);
}

Test(txn, freeing_the_layer_ends_everything)
{
	struct txn *ct = client(SIP_INVITE, PEER_UDP, "z9hG4bKc9");

	respond(180, "z9hG4bKc9", "INVITE");
	cr_assert_eq(txn_count(l), 2);
	(void)ct;
	txn_layer_free(l);
	l = NULL;
	cr_assert_eq(ngone, 2);
	cr_assert_eq(timer_count(&w), 0);
}

/* Issue #15: a refused TCP connection fails what was sent there now. */
Test(txn, refused_tcp_peer_fails_its_client_transactions_with_503)
{
	struct peer to = peer(PEER_TCP, 5080), other = peer(PEER_TCP, 5081);

	client(SIP_INVITE, PEER_TCP, "z9hG4bKr1");
	cr_assert_eq(txn_cli_fail_peer(l, &other), 0, "another port");
	cr_assert_eq(fail_status, 0);
	/* The connection id does not matter: the address and port do. */
	to.conn_id = 7;
	cr_assert_eq(txn_cli_fail_peer(l, &to), 1);
	cr_assert_eq(fail_status, 503);
	cr_assert_eq(txn_count(l), 1, "only the parent left: it ended");
}

Test(txn, refused_tcp_peer_leaves_udp_and_answered_ones)
{
	struct peer to = peer(PEER_TCP, 5080);

	client(SIP_INVITE, PEER_UDP, "z9hG4bKr2");
	cr_assert_eq(txn_cli_fail_peer(l, &to), 0, "UDP is not failed");
	client(SIP_INVITE, PEER_TCP, "z9hG4bKr3");
	respond(180, "z9hG4bKr3", "INVITE");
	cr_assert_eq(txn_cli_fail_peer(l, &to), 0, "it answered: it is up");
	cr_assert_eq(fail_status, 0);
}

static unsigned gone_after;

/* fake_send() that fails the first TCP send with a connection id. */
static int send_gone(void *ctx, const struct peer *to, const void *buf,
		     size_t len)
{
	if (to->proto == PEER_TCP && to->conn_id && gone_after-- == 0)
		return -ENOTCONN;
	return fake_send(ctx, to, buf, len);
}

/* RFC 3261 §18.2.2: the request's connection is gone: a new one to the
 * source address and the Via sent-by port, kept for what follows. */
Test(txn, server_response_falls_back_to_the_via_sent_by)
{
	struct txn_cfg cfg = { T1,	  T2,	T4,    3,    64,
			       send_gone, NULL, &user, NULL, false };
	struct peer from = peer(PEER_TCP, 40000);
	struct txn_layer *fl;
	struct txn *st;
	const struct sockaddr_in *in;

	cr_assert_eq(txn_layer_new(&cfg, &w, &fl), 0);
	gone_after = 0;
	cr_assert_eq(txn_srv_new(fl, request(0, "INVITE", "z9hG4bKfb", ""),
				 &from, 0, &st),
		     0);
	cr_assert_eq(
	    txn_srv_respond(st, 180, "SIP/2.0 180 Ringing\r\n\r\n", 23), 0);
	cr_assert_eq(nsent, 1);
	in = (const struct sockaddr_in *)&sent[0].to.addr;
	cr_assert_eq(sent[0].to.proto, PEER_TCP);
	cr_assert_eq(sent[0].to.conn_id, 0, "a new connection");
	cr_assert_eq(ntohs(in->sin_port), 5099, "the Via sent-by port");
	cr_assert_eq(txn_srv_respond(st, 200, "SIP/2.0 200 OK\r\n\r\n", 18), 0);
	cr_assert_eq(nsent, 2);
	cr_assert_eq(
	    ntohs(((const struct sockaddr_in *)&sent[1].to.addr)->sin_port),
	    5099, "kept for what follows");
	cr_assert_eq(txn_created(fl), 1);
	txn_layer_free(fl);
}

Test(txn, created_counts_server_and_client)
{
	cr_assert_eq(txn_created(l), 0);
	client(SIP_INVITE, PEER_UDP, "z9hG4bKcc");
	cr_assert_eq(txn_created(l), 2, "the parent and the client");
}

Test(txn, client_completed_ones_count_too)
{
	struct txn *ct = client_of(NULL, SIP_MESSAGE, PEER_UDP, "z9hG4bKd4");

	cr_assert_eq(txn_count_live(l), 1);
	respond(100, "z9hG4bKd4", "MESSAGE");
	cr_assert_eq(txn_count_live(l), 1);
	respond(200, "z9hG4bKd4", "MESSAGE");
	cr_assert_eq(txn_state(ct), TXN_COMPLETED);
	cr_assert_eq(txn_count_live(l), 0);
	cr_assert_eq(txn_count_completed(l), 1);
	advance(T4 + 10); /* Timer K */
	cr_assert_eq(txn_count(l), 0);
	cr_assert_eq(txn_count_completed(l), 0);
}

/* Compaction: a completed transaction keeps its keys and what it may
 * still send, and behaves as before. */

Test(txn, server_invite_confirmed_drops_its_response_and_absorbs_quietly)
{
	struct sipmsg *inv = request(0, "INVITE", "z9hG4bKm1", "");
	struct peer from = peer(PEER_UDP, 5099);
	struct txn *st;
	size_t req_len;

	cr_assert_eq(txn_srv_new(l, inv, &from, 0, &st), 0);
	req_len = txn_srv_request(st).len;
	cr_assert_eq(txn_held_bytes(st), req_len);
	cr_assert_eq(txn_srv_respond(st, 486, "486", 3), 0);
	cr_assert_eq(txn_held_bytes(st), req_len + 3, "the final is kept");
	/* Completed: a retransmitted INVITE gets the final again. */
	cr_assert_eq(txn_srv_absorb(st, request(1, "INVITE", "z9hG4bKm1", "")),
		     1);
	cr_assert_eq(nsent, 2);
	cr_assert_str_eq(sent[1].buf, "486");
	/* The ACK (RFC 3261 §17.2.1) still matches by the kept keys and
	 * ends Timer G; the response is dropped. */
	cr_assert_eq(txn_srv_find(l, request(1, "ACK", "z9hG4bKm1", ";tag=x"),
				  SIP_INVITE),
		     st);
	cr_assert_eq(
	    txn_srv_absorb(st, request(1, "ACK", "z9hG4bKm1", ";tag=x")), 1);
	cr_assert_eq(txn_state(st), TXN_CONFIRMED);
	cr_assert_eq(txn_held_bytes(st), req_len);
	/* Confirmed absorbs a retransmitted INVITE or ACK, sending nothing. */
	cr_assert_eq(txn_srv_absorb(st, request(1, "INVITE", "z9hG4bKm1", "")),
		     1);
	cr_assert_eq(
	    txn_srv_absorb(st, request(1, "ACK", "z9hG4bKm1", ";tag=x")), 1);
	advance(T4 - 10);
	cr_assert_eq(nsent, 2, "Timer G ran after the ACK");
	cr_assert_eq(txn_count(l), 1);
	advance(20); /* Timer I */
	cr_assert_eq(txn_count(l), 0);
}

Test(txn, server_invite_accepted_drops_its_provisional)
{
	struct peer from = peer(PEER_UDP, 5099);
	struct txn *st;
	size_t req_len;

	cr_assert_eq(txn_srv_new(l, request(0, "INVITE", "z9hG4bKm2", ""),
				 &from, 0, &st),
		     0);
	req_len = txn_srv_request(st).len;
	cr_assert_eq(txn_srv_respond(st, 180, "180 Ringing", 11), 0);
	cr_assert_eq(txn_held_bytes(st), req_len + 11);
	cr_assert_eq(txn_srv_respond(st, 200, "200a", 4), 0);
	cr_assert_eq(txn_state(st), TXN_ACCEPTED);
	cr_assert_eq(txn_held_bytes(st), req_len, "the 180 is dropped");
	/* Accepted: a retransmitted INVITE is absorbed, later 2xx pass. */
	cr_assert_eq(txn_srv_absorb(st, request(1, "INVITE", "z9hG4bKm2", "")),
		     1);
	cr_assert_eq(nsent, 2);
	cr_assert_eq(txn_srv_respond(st, 200, "200b", 4), 0);
	cr_assert_eq(nsent, 3);
	cr_assert_str_eq(sent[2].buf, "200b");
}

Test(txn, server_non_invite_completed_keeps_its_final_for_retransmissions)
{
	struct peer from = peer(PEER_UDP, 5099);
	struct sipmsg *msg = request(0, "MESSAGE", "z9hG4bKm3", "");
	struct txn *st;
	size_t req_len;

	cr_assert_eq(txn_srv_new(l, msg, &from, 0, &st), 0);
	req_len = txn_srv_request(st).len;
	cr_assert_eq(txn_srv_respond(st, 100, "100 Trying, long", 16), 0);
	cr_assert_eq(txn_srv_respond(st, 202, "202", 3), 0);
	cr_assert_geq(txn_held_bytes(st), req_len + 3);
	cr_assert_eq(txn_srv_absorb(st, request(1, "MESSAGE", "z9hG4bKm3", "")),
		     1);
	cr_assert_eq(nsent, 3);
	cr_assert_str_eq(sent[2].buf, "202", "the final, not the 100");
}

Test(txn, client_invite_completed_keeps_only_its_ack)
{
	struct txn *ct = client(SIP_INVITE, PEER_UDP, "z9hG4bKm4");
	size_t req_len = txn_held_bytes(ct);
	struct sipmsg *c;

	cr_assert_eq(req_len, sent[0].len, "the request copy");
	respond(180, "z9hG4bKm4", "INVITE");
	cr_assert_eq(txn_held_bytes(ct), req_len, "kept for the CANCEL");
	/* CANCEL of a pending INVITE: built from the request copy. */
	cr_assert_eq(txn_cli_cancel(ct), 0);
	cr_assert_eq(nsent, 2);
	c = parse(2, sent[1].buf);
	cr_assert_eq(c->method, SIP_CANCEL);
	cr_assert(slice_eq(c->via.branch, SLICE_LIT("z9hG4bKm4")));
	cr_assert_not_null(sipmsg_hdr(c, HDR_ROUTE));
	respond(200, "z9hG4bKm4", "CANCEL");
	respond(487, "z9hG4bKm4", "INVITE");
	cr_assert_eq(txn_state(ct), TXN_COMPLETED);
	cr_assert_eq(nsent, 3);
	cr_assert_eq(parse(2, sent[2].buf)->method, SIP_ACK);
	/* Only the ACK is held now, shorter than the INVITE. */
	cr_assert_eq(txn_held_bytes(ct), sent[2].len);
	cr_assert_lt(sent[2].len, req_len);
	/* A retransmitted 487 gets the same ACK, and is not passed up. */
	respond(487, "z9hG4bKm4", "INVITE");
	cr_assert_eq(nsent, 4);
	cr_assert_eq(sent[3].len, sent[2].len);
	cr_assert_str_eq(sent[3].buf, sent[2].buf);
	cr_assert_eq(nup, 2, "180 and 487 only");
	cr_assert_eq(txn_cli_cancel(ct), 0);
	cr_assert_eq(nsent, 4, "no CANCEL after the final");
	advance(64 * T1 + 10); /* Timer D */
	cr_assert_eq(txn_count(l), 1, "only the parent left");
}

Test(txn, client_invite_accepted_drops_its_request_and_passes_2xx)
{
	struct txn *ct = client(SIP_INVITE, PEER_UDP, "z9hG4bKm5");

	cr_assert_gt(txn_held_bytes(ct), 0);
	respond(200, "z9hG4bKm5", "INVITE");
	cr_assert_eq(txn_state(ct), TXN_ACCEPTED);
	cr_assert_eq(txn_held_bytes(ct), 0);
	respond(200, "z9hG4bKm5", "INVITE");
	cr_assert_eq(nup, 2, "every 2xx passes up (RFC 6026)");
	cr_assert_eq(txn_cli_cancel(ct), 0);
	advance(10 * T1);
	cr_assert_eq(nsent, 1, "no retransmission, ACK or CANCEL");
}

Test(txn, client_non_invite_completed_drops_its_request_and_absorbs)
{
	struct txn *ct = client(SIP_MESSAGE, PEER_UDP, "z9hG4bKm6");

	cr_assert_gt(txn_held_bytes(ct), 0);
	respond(202, "z9hG4bKm6", "MESSAGE");
	cr_assert_eq(txn_state(ct), TXN_COMPLETED);
	cr_assert_eq(txn_held_bytes(ct), 0);
	respond(202, "z9hG4bKm6", "MESSAGE");
	cr_assert_eq(nup, 1, "a retransmitted final is absorbed");
	advance(T4 - 10);
	cr_assert_eq(nsent, 1, "nothing retransmitted in Completed");
	cr_assert_eq(txn_count(l), 2);
	advance(20); /* Timer K */
	cr_assert_eq(txn_count(l), 1);
}

Test(txn, cancel_finds_its_invite_before_and_after_compaction)
{
	struct peer from = peer(PEER_UDP, 5099);
	struct txn *st;

	cr_assert_eq(txn_srv_new(l, request(0, "INVITE", "z9hG4bKm7", ""),
				 &from, 0, &st),
		     0);
	cr_assert_eq(txn_srv_respond(st, 180, "180", 3), 0);
	/* RFC 3261 §9.2: the CANCEL matches the pending INVITE. */
	cr_assert_eq(
	    txn_srv_find(l, request(1, "CANCEL", "z9hG4bKm7", ""), SIP_INVITE),
	    st);
	cr_assert_null(
	    txn_srv_find(l, request(1, "CANCEL", "z9hG4bKm8", ""), SIP_INVITE));
	cr_assert_eq(txn_srv_respond(st, 487, "487", 3), 0);
	cr_assert_eq(
	    txn_srv_absorb(st, request(1, "ACK", "z9hG4bKm7", ";tag=x")), 1);
	cr_assert_eq(txn_state(st), TXN_CONFIRMED);
	/* Compacted: the keys still match a late CANCEL or ACK. */
	cr_assert_eq(
	    txn_srv_find(l, request(1, "CANCEL", "z9hG4bKm7", ""), SIP_INVITE),
	    st);
	cr_assert_eq(txn_srv_find(l, request(1, "ACK", "z9hG4bKm7", ";tag=x"),
				  SIP_INVITE),
		     st);
}

/* A layer whose server transactions without a user area drop their
 * request at the final (txn_cfg.compact_local). */
static struct txn_layer *compact_layer(void)
{
	struct txn_cfg cfg = { T1,	  T2,	T4,    3,    64,
			       fake_send, NULL, &user, NULL, false };
	struct txn_layer *cl;

	cfg.compact_local = true;
	cr_assert_eq(txn_layer_new(&cfg, &w, &cl), 0);
	return cl;
}

Test(txn, compact_local_drops_the_request_keeps_keys_and_final)
{
	struct txn_layer *cl = compact_layer();
	struct peer from = peer(PEER_UDP, 5099);
	struct sipmsg *reg = request(0, "REGISTER", "z9hG4bKn1", "");
	struct txn *st;
	size_t req_len;

	cr_assert_eq(txn_srv_new(cl, reg, &from, 0, &st), 0);
	req_len = txn_srv_request(st).len;
	cr_assert_eq(req_len, reg->len);
	cr_assert_eq(txn_srv_respond(st, 200, "200 OK", 6), 0);
	cr_assert_eq(txn_state(st), TXN_COMPLETED);
	cr_assert_eq(txn_srv_request(st).len, 0, "the request is dropped");
	cr_assert_lt(txn_held_bytes(st), req_len / 2);
	cr_assert_geq(txn_held_bytes(st), 6 + strlen("z9hG4bKn1"));
	/* The retransmitted REGISTER still matches and gets the 200. */
	reg = request(1, "REGISTER", "z9hG4bKn1", "");
	cr_assert_eq(txn_srv_find(cl, reg, SIP_REGISTER), st);
	cr_assert_null(txn_srv_find(cl, request(1, "REGISTER", "z9hG4bKn2", ""),
				    SIP_REGISTER));
	cr_assert_eq(txn_srv_absorb(st, reg), 1);
	cr_assert_eq(nsent, 2);
	cr_assert_str_eq(sent[1].buf, "200 OK");
	advance(64 * T1 + 10); /* Timer J */
	cr_assert_eq(txn_count(cl), 0);
	txn_layer_free(cl);
}

Test(txn, compact_local_keeps_rfc2543_keys_and_an_invite_ack)
{
	struct txn_layer *cl = compact_layer();
	struct peer from = peer(PEER_UDP, 5099);
	struct txn *st;

	/* No magic cookie: matched by Request-URI, From tag, Call-ID,
	 * CSeq and top Via, all kept after the request went. */
	cr_assert_eq(
	    txn_srv_new(cl, request(0, "INVITE", "old1", ""), &from, 0, &st),
	    0);
	cr_assert_eq(txn_srv_respond(st, 404, "404", 3), 0);
	cr_assert_eq(txn_srv_request(st).len, 0);
	cr_assert_eq(
	    txn_srv_find(cl, request(1, "INVITE", "old1", ""), SIP_INVITE), st);
	cr_assert_eq(txn_srv_absorb(st, request(1, "INVITE", "old1", "")), 1);
	cr_assert_str_eq(sent[nsent - 1].buf, "404");
	cr_assert_eq(
	    txn_srv_find(cl, request(1, "ACK", "old1", ";tag=x"), SIP_INVITE),
	    st);
	cr_assert_eq(txn_srv_absorb(st, request(1, "ACK", "old1", ";tag=x")),
		     1);
	cr_assert_eq(txn_state(st), TXN_CONFIRMED);
	txn_layer_free(cl);
}

Test(txn, compact_local_leaves_a_user_area_request_alone)
{
	struct txn_layer *cl = compact_layer();
	struct peer from = peer(PEER_UDP, 5099);
	struct sipmsg *msg = request(0, "MESSAGE", "z9hG4bKn3", "");
	struct txn *st;

	cr_assert_eq(txn_srv_new(cl, msg, &from, 8, &st), 0);
	cr_assert_eq(txn_srv_respond(st, 202, "202", 3), 0);
	cr_assert_eq(txn_srv_request(st).len, msg->len,
		     "the user may still read it");
	txn_layer_free(cl);
}
