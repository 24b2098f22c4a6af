/* tests/unit/proxy/test_hangup.c - dialog.end's BYEs both ways, on a fake
 * clock with every send captured */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "proxy/base/obj.h"
#include "proxy/base/timer.h"
#include "proxy/core/conf.h"
#include "proxy/hangup.h"
#include "proxy/sip/msg.h"
#include "proxy/sip/txn.h"
#include "store/dlg.h"
#include "store/rcu.h"
#include "tests/common/teardown.h"
#include "tests/unit/sections.h"

#define MAXS 16

struct sent {
	struct peer to;
	char buf[2048];
};

static struct conf *c;
static struct timer_wheel w;
static struct txn_layer *l;
static struct hangup *h;
static struct sent *sent;
static unsigned nsent;
static uint64_t now;
static long live0;

/* What the done callback was told. */
static int done_calls, done_err;
static struct hangup_result done_res;

static int fake_send(void *ctx, const struct peer *to, const void *buf,
		     size_t len)
{
	(void)ctx;
	cr_assert_lt(nsent, MAXS);
	cr_assert_lt(len, sizeof(sent[0].buf));
	sent[nsent].to = *to;
	memcpy(sent[nsent].buf, buf, len);
	sent[nsent].buf[len] = '\0';
	nsent++;
	return 0;
}

static const char yaml[] = "listen:\n  - address: 127.0.0.1\n    port: 5060\n"
			   "domains: [example.com]\n";

static void setup(void)
{
	struct txn_cfg tc;
	char err[256];

	urcu_memb_register_thread();
	sections_add_all();
	live0 = obj_live();
	cr_assert_eq(
	    conf_load_mem("t.yaml", yaml, strlen(yaml), &c, err, sizeof(err)),
	    0, "%s", err);
	sent = calloc(MAXS, sizeof(*sent));
	cr_assert_not_null(sent);
	nsent = 0;
	now = 0;
	done_calls = 0;
	done_err = 1;
	cr_assert_eq(timer_wheel_init(&w, 10, 1024, now), 0);
	cr_assert_eq(dlg_init(), 0);
	memset(&tc, 0, sizeof(tc));
	tc.t1_ms = 100;
	tc.t2_ms = 400;
	tc.t4_ms = 500;
	tc.shard = 1;
	tc.max_headers = 64;
	tc.send = fake_send;
	cr_assert_eq(txn_layer_new(&tc, &w, &l), 0);
	cr_assert_eq(hangup_new(c, l, 1, &h), 0);
}

static void teardown(void)
{
	txn_layer_free(l);
	hangup_free(h);
	timer_wheel_fini(&w);
	dlg_fini();
	conf_free(c);
	free(sent);
	teardown_check_objs(live0);
	urcu_memb_unregister_thread();
}

TestSuite(hangup, .init = setup, .fini = teardown, .timeout = 20);

static void advance(uint64_t ms)
{
	for (uint64_t end = now + ms; now < end;) {
		now += 10;
		timer_advance(&w, now);
	}
}

static struct peer peer(uint16_t port, enum peer_proto proto)
{
	struct peer p;

	memset(&p, 0, sizeof(p));
	p.proto = proto;
	cr_assert_eq(peer_addr_parse("127.0.0.1", port, &p.addr, &p.addrlen),
		     0);
	return p;
}

static struct dlg_hop hop(uint16_t port, enum peer_proto proto)
{
	struct peer p = peer(port, proto);

	return dlg_hop_of(&p);
}

static uint16_t port_of(const struct peer *p)
{
	return ntohs(((const struct sockaddr_in *)&p->addr)->sin_port);
}

/* A confirmed dialog: the caller (5099, UDP) came through a proxy that
 * record-routed; the callee (7040, TCP) sent INFO with CSeq 6. */
static void publish(const char *cid, enum dlg_state st)
{
	struct dlg d;

	memset(&d, 0, sizeof(d));
	d.call_id = slice_cstr(cid);
	d.caller_tag = SLICE_LIT("ctag");
	d.callee_tag = SLICE_LIT("etag");
	d.caller = SLICE_LIT("sip:alice@example.com");
	d.callee = SLICE_LIT("sip:bob@example.com");
	d.state = st;
	d.owner = 1;
	d.ua[DLG_CALLER].contact = SLICE_LIT("sip:alice@10.1.1.1:5099");
	d.ua[DLG_CALLER].route = SLICE_LIT("<sip:10.0.0.9;lr>");
	d.ua[DLG_CALLER].hop = hop(5099, PEER_UDP);
	d.ua[DLG_CALLER].cseq = 3;
	d.ua[DLG_CALLEE].contact = SLICE_LIT("sip:bob@127.0.0.1:7040");
	d.ua[DLG_CALLEE].hop = hop(7040, PEER_TCP);
	d.ua[DLG_CALLEE].cseq = 6;
	cr_assert_eq(dlg_publish(&d), 0);
}

static void on_done(void *arg, int err, const struct hangup_result *res)
{
	cr_assert_eq(arg, &done_calls);
	done_calls++;
	done_err = err;
	done_res = *res;
	/* The slices live during the call only. */
	cr_assert(slice_eq(res->call_id, SLICE_LIT("end@x")));
	cr_assert_geq(res->n, 1);
	cr_assert(slice_eq(res->leg[0].caller_tag, SLICE_LIT("ctag")));
	for (unsigned i = 0; i < res->n; i++)
		cr_assert(slice_eq(res->leg[i].callee_tag, SLICE_LIT("etag")) ||
			  slice_eq(res->leg[i].callee_tag, SLICE_LIT("etag2")));
}

static bool has_line(const char *msg, const char *line)
{
	return strstr(msg, line) != NULL;
}

/* Send by the UA behind @p i the final @p status to the BYE it got. */
static void answer(unsigned i, unsigned status)
{
	struct siphdr hdrs[64];
	struct sipmsg m;
	char text[2048];
	const char *via = strstr(sent[i].buf, "Via: ");
	const char *eol = strstr(via, "\r\n");
	struct txn *ct;

	snprintf(text, sizeof(text),
		 "SIP/2.0 %u X\r\n%.*s\r\n"
		 "From: <sip:x@example.com>;tag=a\r\n"
		 "To: <sip:y@example.com>;tag=b\r\n"
		 "Call-ID: end@x\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n",
		 status, (int)(eol - via), via);
	memset(&m, 0, sizeof(m));
	cr_assert_gt(sipmsg_parse(&m, text, strlen(text), hdrs, 64, 0), 0);
	ct = txn_cli_find(l, &m);
	cr_assert_not_null(ct, "no BYE transaction for:\n%s", text);
	txn_cli_receive(ct, &m);
}

static int state_of(const char *cid)
{
	const struct dlg *d;
	int st = 0;

	urcu_memb_read_lock();
	d = dlg_lookup_rcu(slice_cstr(cid), SLICE_LIT("ctag"),
			   SLICE_LIT("etag"));
	if (d)
		st = (int)d->state;
	urcu_memb_read_unlock();
	return st;
}

Test(hangup, bye_goes_both_ways_with_the_other_sides_cseq)
{
	const char *to_caller, *to_callee;

	publish("end@x", DLG_CONFIRMED);
	cr_assert_eq(hangup_start(h, SLICE_LIT("end@x"), on_done, &done_calls),
		     0);
	cr_assert_eq(nsent, 2);
	cr_assert_eq(hangup_pending(h), 1);
	cr_assert_eq(state_of("end@x"), DLG_TERMINATED);
	/* To the caller, as if from the callee: its Contact, by its route
	 * set, to the hop it came from; CSeq the callee's 6 + 1. */
	to_caller = sent[0].buf;
	cr_assert_eq(port_of(&sent[0].to), 5099);
	cr_assert_eq(sent[0].to.proto, PEER_UDP);
	cr_assert(
	    !strncmp(to_caller, "BYE sip:alice@10.1.1.1:5099 SIP/2.0\r\n", 37),
	    "%s", to_caller);
	cr_assert(has_line(to_caller, "\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;"
				      "rport;branch=z9hG4bKsE01."),
		  "%s", to_caller);
	cr_assert(has_line(to_caller, "\r\nRoute: <sip:10.0.0.9;lr>\r\n"), "%s",
		  to_caller);
	cr_assert(
	    has_line(to_caller, "\r\nFrom: <sip:bob@example.com>;tag=etag\r\n"),
	    "%s", to_caller);
	cr_assert(
	    has_line(to_caller, "\r\nTo: <sip:alice@example.com>;tag=ctag\r\n"),
	    "%s", to_caller);
	cr_assert(has_line(to_caller, "\r\nCSeq: 7 BYE\r\n"), "%s", to_caller);
	cr_assert(has_line(to_caller, "\r\nCall-ID: end@x\r\n"), "%s",
		  to_caller);
	/* To the callee, as if from the caller: over TCP, no Route, CSeq
	 * the caller's 3 + 1. */
	to_callee = sent[1].buf;
	cr_assert_eq(port_of(&sent[1].to), 7040);
	cr_assert_eq(sent[1].to.proto, PEER_TCP);
	cr_assert(
	    !strncmp(to_callee, "BYE sip:bob@127.0.0.1:7040 SIP/2.0\r\n", 36),
	    "%s", to_callee);
	cr_assert(has_line(to_callee, "\r\nVia: SIP/2.0/TCP 127.0.0.1:5060;"),
		  "%s", to_callee);
	cr_assert(!has_line(to_callee, "\r\nRoute:"), "%s", to_callee);
	cr_assert(has_line(to_callee,
			   "\r\nFrom: <sip:alice@example.com>;tag=ctag\r\n"),
		  "%s", to_callee);
	cr_assert(
	    has_line(to_callee, "\r\nTo: <sip:bob@example.com>;tag=etag\r\n"),
	    "%s", to_callee);
	cr_assert(has_line(to_callee, "\r\nCSeq: 4 BYE\r\n"), "%s", to_callee);
	/* A second dialog.end while it ends: refused. */
	cr_assert_eq(hangup_start(h, SLICE_LIT("end@x"), on_done, &done_calls),
		     -EALREADY);
	/* Both answer; then, only then, the caller is told. */
	answer(1, 200);
	cr_assert_eq(done_calls, 0);
	answer(0, 481);
	cr_assert_eq(done_calls, 1);
	cr_assert_eq(done_err, 0);
	cr_assert_eq(done_res.n, 1);
	cr_assert_eq(done_res.leg[0].status[DLG_CALLER], 481);
	cr_assert_eq(done_res.leg[0].status[DLG_CALLEE], 200);
	cr_assert_eq(hangup_pending(h), 0);
	cr_assert_eq(state_of("end@x"), 0, "the dialog is removed");
}

Test(hangup, a_silent_ua_is_408_after_timer_f)
{
	publish("end@x", DLG_CONFIRMED);
	cr_assert_eq(hangup_start(h, SLICE_LIT("end@x"), on_done, &done_calls),
		     0);
	answer(0, 200);
	/* The callee never answers: Timer F, 64 * T1. */
	advance(64 * 100 + 100);
	cr_assert_eq(done_calls, 1);
	cr_assert_eq(done_res.leg[0].status[DLG_CALLER], 200);
	cr_assert_eq(done_res.leg[0].status[DLG_CALLEE], 408);
	cr_assert_eq(state_of("end@x"), 0);
}

Test(hangup, only_confirmed_dialogs_of_this_shard_are_ended)
{
	cr_assert_eq(hangup_start(h, SLICE_LIT("none@x"), on_done, &done_calls),
		     -ENOENT);
	cr_assert_eq(hangup_start(h, SLICE_LIT(""), on_done, &done_calls),
		     -EINVAL);
	publish("early@x", DLG_EARLY);
	cr_assert_eq(
	    hangup_start(h, SLICE_LIT("early@x"), on_done, &done_calls),
	    -EBUSY);
	publish("gone@x", DLG_TERMINATED);
	cr_assert_eq(hangup_start(h, SLICE_LIT("gone@x"), on_done, &done_calls),
		     -EALREADY);
	cr_assert_eq(nsent, 0, "nothing was sent");
	cr_assert_eq(done_calls, 0, "an error never calls back");
	cr_assert_eq(state_of("early@x"), DLG_EARLY);
}

Test(hangup, stopping_shard_tells_what_is_under_way)
{
	publish("end@x", DLG_CONFIRMED);
	cr_assert_eq(hangup_start(h, SLICE_LIT("end@x"), on_done, &done_calls),
		     0);
	answer(0, 200);
	/* As pipeline_free(): the transactions go, then the hang-ups. */
	txn_layer_free(l);
	l = NULL;
	cr_assert_eq(done_calls, 0);
	hangup_free(h);
	h = NULL;
	cr_assert_eq(done_calls, 1);
	cr_assert_eq(done_err, -ECANCELED);
	cr_assert_eq(done_res.leg[0].status[DLG_CALLER], 200);
	cr_assert_eq(done_res.leg[0].status[DLG_CALLEE], 0);
}

Test(hangup, every_confirmed_fork_of_the_call_id_is_ended)
{
	struct dlg d;
	const struct dlg *e;
	unsigned to_callees = 0;

	publish("end@x", DLG_CONFIRMED);
	/* The same INVITE answered by a second callee. */
	urcu_memb_read_lock();
	e = dlg_lookup_rcu(SLICE_LIT("end@x"), SLICE_LIT("ctag"),
			   SLICE_LIT("etag"));
	cr_assert_not_null(e);
	d = *e;
	urcu_memb_read_unlock();
	d.callee_tag = SLICE_LIT("etag2");
	d.ua[DLG_CALLEE].contact = SLICE_LIT("sip:carol@127.0.0.1:7050");
	d.ua[DLG_CALLEE].hop = hop(7050, PEER_UDP);
	d.ua[DLG_CALLEE].route = slice_make(NULL, 0);
	d.ua[DLG_CALLER].route = slice_make(NULL, 0);
	d.ua[DLG_CALLER].contact = SLICE_LIT("sip:alice@10.1.1.1:5099");
	cr_assert_eq(dlg_publish(&d), 0);
	/* An early fork is left alone. */
	d.callee_tag = SLICE_LIT("etag3");
	d.state = DLG_EARLY;
	cr_assert_eq(dlg_publish(&d), 0);
	cr_assert_eq(hangup_start(h, SLICE_LIT("end@x"), on_done, &done_calls),
		     0);
	cr_assert_eq(nsent, 4, "two BYEs per confirmed dialog");
	for (unsigned i = 0; i < 4; i++) {
		to_callees += port_of(&sent[i].to) == 7040 ||
			      port_of(&sent[i].to) == 7050;
		answer(i, 200);
	}
	cr_assert_eq(to_callees, 2);
	cr_assert_eq(done_calls, 1);
	cr_assert_eq(done_res.n, 2);
	for (unsigned i = 0; i < 2; i++) {
		cr_assert_eq(done_res.leg[i].status[DLG_CALLER], 200);
		cr_assert_eq(done_res.leg[i].status[DLG_CALLEE], 200);
	}
	cr_assert_eq(state_of("end@x"), 0);
	urcu_memb_read_lock();
	e = dlg_lookup_rcu(SLICE_LIT("end@x"), SLICE_LIT("ctag"),
			   SLICE_LIT("etag3"));
	cr_assert(e && e->state == DLG_EARLY, "the early fork stays");
	urcu_memb_read_unlock();
}
