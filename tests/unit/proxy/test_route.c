/* tests/unit/proxy/test_route.c - RFC 3261 §16 decisions and the stateful
 * proxy, on a fake clock with every send captured */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "proxy/base/arena.h"
#include "proxy/base/obj.h"
#include "proxy/core/conf.h"
#include "proxy/route.h"
#include "proxy/sip/msg.h"
#include "proxy/sip/uri.h"
#include "proxy/base/timer.h"
#include "proxy/sip/txn.h"
#include "store/dlg.h"
#include "store/loc.h"
#include "store/rcu.h"
#include "tests/unit/sections.h"
#include "tests/common/teardown.h"

#define MAXS 64
#define UAC  5099

struct sent {
	struct peer to;
	char buf[8192];
	size_t len;
};

static struct conf *c;
static struct arena *a;
static struct timer_wheel w;
static struct route *r;
static struct sent *sent;
static unsigned nsent;
static uint64_t now;
static long live0;

/* Parsed messages with their own buffers. */
struct pm {
	char buf[8192];
	struct siphdr h[64];
	struct sipmsg m;
};
static struct pm *pms;

static int fake_send(void *ctx, const struct peer *to, const void *buf,
		     size_t len)
{
	(void)ctx;
	cr_assert_lt(nsent, MAXS);
	cr_assert_lt(len, sizeof(sent[0].buf));
	sent[nsent].to = *to;
	memcpy(sent[nsent].buf, buf, len);
	sent[nsent].buf[len] = '\0';
	sent[nsent].len = len;
	nsent++;
	return 0;
}

static const char yaml[] =
    "listen:\n  - address: 127.0.0.1\n    port: 5060\n"
    "domains: [example.com, 127.0.0.1]\n"
    "proxy:\n  t1_ms: 100\n  timer_c_s: 2\n"
    "routes:\n"
    "  - domain: carrier.example\n"
    "    next_hop: [\"sip:127.0.0.1:7001\", \"sip:127.0.0.1:7002\"]\n"
    "  - prefix: \"+49\"\n"
    "    next_hop: [\"sip:127.0.0.1:7003;transport=tcp\"]\n";

static void contact(const char *aor, unsigned n, const char *const *uris,
		    const uint16_t *q)
{
	struct loc_contact lc[4];

	memset(lc, 0, sizeof(lc));
	for (unsigned i = 0; i < n; i++) {
		lc[i].uri = slice_cstr(uris[i]);
		lc[i].q = q[i];
		lc[i].expires_s = INT64_MAX;
	}
	cr_assert_eq(loc_publish(slice_cstr(aor), lc, n), 0);
}

static void setup(void)
{
	char err[256];
	struct route_cfg rc;

	urcu_memb_register_thread();
	sections_add_all();
	live0 = obj_live();
	cr_assert_eq(
	    conf_load_mem("t.yaml", yaml, strlen(yaml), &c, err, sizeof(err)),
	    0, "%s", err);
	a = arena_new(65536);
	sent = calloc(MAXS, sizeof(*sent));
	pms = calloc(8, sizeof(*pms));
	cr_assert(a && sent && pms);
	nsent = 0;
	now = 0;
	cr_assert_eq(timer_wheel_init(&w, 10, 1024, now), 0);
	cr_assert_eq(loc_init(), 0);
	cr_assert_eq(dlg_init(), 0);
	memset(&rc, 0, sizeof(rc));
	rc.conf = c;
	rc.shard = 1;
	rc.wheel = &w;
	rc.arena = a;
	rc.send = fake_send;
	rc.dialogs = true;
	cr_assert_eq(route_new(&rc, &r), 0);
}

static void teardown(void)
{
	route_free(r);
	timer_wheel_fini(&w);
	dlg_fini();
	loc_fini();
	arena_free(a);
	conf_free(c);
	free(sent);
	free(pms);
	teardown_check_objs(live0);
	urcu_memb_unregister_thread();
}

TestSuite(route, .init = setup, .fini = teardown, .timeout = 20);

static void advance(uint64_t ms)
{
	for (uint64_t end = now + ms; now < end;) {
		now += 10;
		timer_advance(&w, now);
		arena_reset(a);
	}
}

static struct sipmsg *parse(int slot, const char *text)
{
	struct pm *p = &pms[slot];
	size_t len = strlen(text);

	cr_assert_lt(len, sizeof(p->buf));
	memcpy(p->buf, text, len);
	memset(&p->m, 0, sizeof(p->m));
	cr_assert_gt(sipmsg_parse(&p->m, p->buf, len, p->h, 64, 0), 0,
		     "does not parse:\n%s", text);
	return &p->m;
}

static struct peer peer(uint16_t port)
{
	struct peer p;
	struct sockaddr_in *in = (struct sockaddr_in *)&p.addr;

	memset(&p, 0, sizeof(p));
	p.proto = PEER_UDP;
	in->sin_family = AF_INET;
	in->sin_port = htons(port);
	inet_pton(AF_INET, "127.0.0.1", &in->sin_addr);
	p.addrlen = sizeof(*in);
	return p;
}

static uint16_t port_of(const struct peer *p)
{
	return ntohs(((const struct sockaddr_in *)&p->addr)->sin_port);
}

/* A request from the caller at 127.0.0.1:UAC. */
static struct sipmsg *req(int slot, const char *method, const char *ruri,
			  const char *lines)
{
	char text[4096];

	snprintf(text, sizeof(text),
		 "%s %s SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:%u;rport;branch=z9hG4bKuac%s\r\n"
		 "Max-Forwards: 70\r\n"
		 "From: <sip:alice@example.com>;tag=caller\r\n"
		 "To: <sip:bob@example.com>\r\n"
		 "Call-ID: route-test@x\r\n"
		 "CSeq: 1 %s\r\n"
		 "%s"
		 "Content-Length: 0\r\n\r\n",
		 method, ruri, UAC, method, method, lines ? lines : "");
	return parse(slot, text);
}

static void send_req(const char *method, const char *ruri, const char *lines)
{
	struct peer from = peer(UAC);

	cr_assert_eq(route_request(r, req(0, method, ruri, lines), &from), 0);
	arena_reset(a);
}

/* The sent message @p i, parsed into slot 1. */
static struct sipmsg *sent_msg(unsigned i)
{
	cr_assert_lt(i, nsent);
	return parse(1, sent[i].buf);
}

/* The callee's response @p status to forwarded request @p i. */
static void callee_answers(unsigned i, unsigned status, const char *totag)
{
	struct sipmsg *q = parse(2, sent[i].buf);
	struct peer from = sent[i].to;
	char text[8192];
	size_t o;

	o = (size_t)snprintf(text, sizeof(text), "SIP/2.0 %u X\r\n", status);
	for (unsigned k = 0; k < q->nhdrs; k++) {
		const struct siphdr *h = &q->hdrs[k];

		if (h->id != HDR_VIA && h->id != HDR_FROM && h->id != HDR_TO &&
		    h->id != HDR_CALL_ID && h->id != HDR_CSEQ &&
		    h->id != HDR_RECORD_ROUTE)
			continue;
		o += (size_t)snprintf(text + o, sizeof(text) - o, "%.*s%s\r\n",
				      (int)(h->line.len - 2), h->line.p,
				      h->id == HDR_TO && !q->to_tag.len ? totag
									: "");
	}
	snprintf(text + o, sizeof(text) - o,
		 "Contact: <sip:bob@127.0.0.1:%u>\r\nContent-Length: 0\r\n\r\n",
		 port_of(&from));
	cr_assert_eq(route_response(r, parse(3, text), &from), 0);
	arena_reset(a);
}

/* Index of the first message sent since @p from to @p port with start
 * line prefix @p start; -1 when none. */
static int find_sent(unsigned from, uint16_t port, const char *start)
{
	for (unsigned i = from; i < nsent; i++)
		if (port_of(&sent[i].to) == port &&
		    !strncmp(sent[i].buf, start, strlen(start)))
			return (int)i;
	return -1;
}

static int dlg_state(const char *totag)
{
	const struct dlg *d;
	int st = 0;

	urcu_memb_read_lock();
	d = dlg_lookup_rcu(SLICE_LIT("route-test@x"), SLICE_LIT("caller"),
			   slice_cstr(totag));
	if (d)
		st = (int)d->state;
	urcu_memb_read_unlock();
	return st;
}

/* Decisions. */

static struct route_plan plan_of(const char *ruri, const char *lines)
{
	struct route_plan p;

	cr_assert_eq(route_plan(c, req(0, "INVITE", ruri, lines), a, &p), 0);
	return p;
}

Test(route, loose_route_of_ours_is_popped_next_one_is_the_hop)
{
	struct route_plan p = plan_of(
	    "sip:bob@example.com",
	    "Route: <sip:127.0.0.1:5060;lr>, <sip:127.0.0.1:7010;lr>\r\n");

	cr_assert_eq(p.status, 0);
	cr_assert_eq(p.pop, 1);
	cr_assert_not(p.strict_next);
	cr_assert_eq(p.ntargets, 1);
	cr_assert_eq(port_of(&p.t[0].dest), 7010);
	cr_assert_eq(p.t[0].ruri.len, 0, "the R-URI stays");
	/* Two of ours on top (double Record-Route) both go. */
	p = plan_of("sip:bob@example.com",
		    "Route: <sip:127.0.0.1:5060;lr>\r\n"
		    "Route: <sip:example.com;lr>, <sip:127.0.0.1:7011;lr>\r\n");
	cr_assert_eq(p.pop, 2);
	cr_assert_eq(port_of(&p.t[0].dest), 7011);
}

Test(route, strict_next_hop_takes_the_request_uri)
{
	struct route_plan p =
	    plan_of("sip:bob@example.com", "Route: <sip:127.0.0.1:7012>\r\n");

	cr_assert_eq(p.status, 0);
	cr_assert(p.strict_next);
	cr_assert(slice_eq(p.t[0].ruri, SLICE_LIT("sip:127.0.0.1:7012")));
	cr_assert_eq(port_of(&p.t[0].dest), 7012);
}

Test(route, strict_route_repair_takes_the_last_route_value)
{
	/* A strict router put our Record-Route into the R-URI. */
	struct route_plan p = plan_of(
	    "sip:127.0.0.1:5060;lr",
	    "Route: <sip:127.0.0.1:7013;lr>, <sip:carol@127.0.0.1:7014>\r\n");

	cr_assert_eq(p.status, 0);
	cr_assert(p.strict_repair);
	cr_assert_eq(port_of(&p.t[0].dest), 7013);
	cr_assert(slice_eq(p.t[0].ruri, SLICE_LIT("sip:carol@127.0.0.1:7014")));
}

Test(route, served_users_come_from_the_location_table_by_q)
{
	static const char *const u[] = { "sip:b1@127.0.0.1:7021",
					 "sip:b2@127.0.0.1:7022;transport=tcp",
					 "sip:b3@127.0.0.1:7023" };
	static const uint16_t q[] = { 500, 1000, 1000 };
	struct route_plan p;

	contact("bob@example.com", 3, u, q);
	p = plan_of("sip:bob@EXAMPLE.com", NULL);
	cr_assert_eq(p.status, 0);
	cr_assert_not(p.failover);
	cr_assert_eq(p.ntargets, 3);
	cr_assert_eq(port_of(&p.t[0].dest), 7022);
	cr_assert_eq(p.t[0].dest.proto, PEER_TCP);
	cr_assert_eq(port_of(&p.t[1].dest), 7023);
	cr_assert_eq(port_of(&p.t[2].dest), 7021);
	cr_assert(slice_eq(p.t[2].ruri, SLICE_LIT("sip:b1@127.0.0.1:7021")));
	/* Nobody registered: 480; the proxy itself: not a user. */
	cr_assert_eq(plan_of("sip:nobody@example.com", NULL).status, 480);
	cr_assert_eq(plan_of("sip:example.com", NULL).status, 480);
}

Test(route, static_routes_by_domain_and_prefix_then_ip_literals)
{
	struct route_plan p = plan_of("sip:x@Carrier.Example", NULL);

	cr_assert_eq(p.status, 0);
	cr_assert(p.failover);
	cr_assert_eq(p.ntargets, 2);
	cr_assert_eq(port_of(&p.t[0].dest), 7001);
	cr_assert_eq(port_of(&p.t[1].dest), 7002);
	p = plan_of("tel:+4930123", NULL);
	cr_assert_eq(p.ntargets, 1);
	cr_assert_eq(p.t[0].dest.proto, PEER_TCP);
	p = plan_of("sip:+4930123@gw.example.net", NULL);
	cr_assert_eq(port_of(&p.t[0].dest), 7003);
	/* An address: straight there. Another port of our address is
	 * another host. */
	p = plan_of("sip:dave@127.0.0.1:7030", NULL);
	cr_assert_eq(p.status, 0);
	cr_assert_eq(port_of(&p.t[0].dest), 7030);
	/* A name: a target for the resolver (route_cfg.resolve). */
	p = plan_of("sip:x@elsewhere.example.org", NULL);
	cr_assert_eq(p.status, 0);
	cr_assert_eq(p.ntargets, 1);
	cr_assert(
	    slice_eq(p.t[0].resolve, SLICE_LIT("sip:x@elsewhere.example.org")));
	cr_assert_eq(plan_of("sips:x@127.0.0.1:7031", NULL).status, 416);
}

Test(route, uri_is_ours_and_dest)
{
	struct sipuri u;
	struct peer d;

	cr_assert_eq(uri_parse(SLICE_LIT("sip:EXAMPLE.COM:9999"), &u), 0);
	cr_assert(route_uri_is_ours(c, &u));
	cr_assert_eq(uri_parse(SLICE_LIT("sip:a@127.0.0.1:5060"), &u), 0);
	cr_assert(route_uri_is_ours(c, &u));
	cr_assert_eq(uri_parse(SLICE_LIT("sip:a@127.0.0.1:5061"), &u), 0);
	cr_assert_not(route_uri_is_ours(c, &u));
	cr_assert_eq(
	    route_uri_dest(SLICE_LIT("sip:[::1]:5090;transport=TCP"), &d), 0);
	cr_assert_eq(d.proto, PEER_TCP);
	cr_assert_eq(d.addr.ss_family, AF_INET6);
	cr_assert_eq(route_uri_dest(SLICE_LIT("sip:host.example"), &d),
		     -EDESTADDRREQ);
	cr_assert_eq(
	    route_uri_dest(SLICE_LIT("sip:1.2.3.4;transport=sctp"), &d),
	    -EPROTONOSUPPORT);
}

/* RFC 3261 §26.2.2, §19.1.2: sips: and transport=tls go over TLS,
 * 5061 by default; sips: over UDP does not exist. */
Test(route, tls_destinations_and_their_default_port)
{
	struct peer d;

	cr_assert_eq(route_uri_dest(SLICE_LIT("sip:1.2.3.4;transport=TLS"), &d),
		     0);
	cr_assert_eq(d.proto, PEER_TLS);
	cr_assert_eq(port_of(&d), 5061);
	cr_assert_eq(route_uri_dest(SLICE_LIT("sips:bob@1.2.3.4"), &d), 0);
	cr_assert_eq(d.proto, PEER_TLS);
	cr_assert_eq(port_of(&d), 5061);
	cr_assert_eq(
	    route_uri_dest(SLICE_LIT("sips:1.2.3.4:7000;transport=tcp"), &d),
	    0);
	cr_assert_eq(d.proto, PEER_TLS);
	cr_assert_eq(port_of(&d), 7000);
	cr_assert_eq(
	    route_uri_dest(SLICE_LIT("sips:1.2.3.4;transport=udp"), &d),
	    -EPROTONOSUPPORT);
	cr_assert_eq(route_uri_dest(SLICE_LIT("sip:1.2.3.4"), &d), 0);
	cr_assert_eq(d.proto, PEER_UDP);
	cr_assert_eq(port_of(&d), 5060);
}

Test(route, a_request_that_comes_back_unchanged_is_a_loop)
{
	char lines[256], b[TXN_BRANCH_MAX];
	struct sipmsg *m = req(0, "INVITE", "sip:x@carrier.example", NULL);
	uint32_t lh = route_loop_hash(m, m->ruri, slice_make(NULL, 0));

	cr_assert_not(route_is_loop(c, m));
	txn_branch_make(route_txns(r), lh, b);
	snprintf(lines, sizeof(lines),
		 "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=%s\r\n", b);
	cr_assert(
	    route_is_loop(c, req(0, "INVITE", "sip:x@carrier.example", lines)));
	/* A spiral: it came back for another target. */
	cr_assert_not(
	    route_is_loop(c, req(0, "INVITE", "sip:y@carrier.example", lines)));
	/* Someone else's Via with that branch is not ours. */
	snprintf(lines, sizeof(lines),
		 "Via: SIP/2.0/UDP 127.0.0.1:5061;branch=%s\r\n", b);
	cr_assert_not(
	    route_is_loop(c, req(0, "INVITE", "sip:x@carrier.example", lines)));
}

/* The stateful proxy. */

static void one_contact(void)
{
	static const char *const u[] = { "sip:bob@127.0.0.1:7040" };
	static const uint16_t q[] = { 1000 };

	contact("bob@example.com", 1, u, q);
}

Test(route, invite_gets_100_and_goes_on_record_routed)
{
	struct sipmsg *m;
	const struct siphdr *h;
	int i;

	one_contact();
	send_req("INVITE", "sip:bob@example.com", NULL);
	cr_assert_eq(nsent, 2);
	cr_assert_eq(port_of(&sent[0].to), UAC);
	cr_assert(!strncmp(sent[0].buf, "SIP/2.0 100 ", 12));
	i = find_sent(0, 7040, "INVITE sip:bob@127.0.0.1:7040 SIP/2.0");
	cr_assert_geq(i, 0, "%s", sent[1].buf);
	m = sent_msg((unsigned)i);
	cr_assert_eq(m->max_forwards, 69);
	cr_assert(slice_eq(m->via.host, SLICE_LIT("127.0.0.1")));
	cr_assert_eq(m->via.port, 5060);
	cr_assert(m->via.has_rport);
	cr_assert_eq(strncmp(m->via.branch.p, "z9hG4bKsE01.", 12), 0);
	h = sipmsg_hdr(m, HDR_RECORD_ROUTE);
	cr_assert_not_null(h);
	cr_assert(slice_eq(h->value, SLICE_LIT("<sip:127.0.0.1:5060;lr>")));
	/* RFC 3581: the caller's Via says where it came from. */
	h = sipmsg_hdr_next(m, sipmsg_hdr(m, HDR_VIA));
	cr_assert_not_null(h);
	cr_assert_not_null(
	    memmem(h->value.p, h->value.len, ";received=127.0.0.1", 19));
	cr_assert_not_null(memmem(h->value.p, h->value.len, ";rport=5099", 11));
	cr_assert_eq(txn_count(route_txns(r)), 2);
}

Test(route, responses_go_upstream_and_the_dialog_follows)
{
	struct sipmsg *m;

	one_contact();
	send_req("INVITE", "sip:bob@example.com", NULL);
	callee_answers(1, 180, ";tag=callee");
	m = sent_msg(2);
	cr_assert_eq(m->status, 180);
	cr_assert_eq(port_of(&sent[2].to), UAC);
	cr_assert_eq(sipmsg_hdr_count(m, HDR_VIA), 1, "our Via stayed");
	cr_assert_not_null(sipmsg_hdr(m, HDR_RECORD_ROUTE));
	cr_assert_eq(dlg_state("callee"), DLG_EARLY);
	callee_answers(1, 200, ";tag=callee");
	cr_assert_eq(sent_msg(3)->status, 200);
	cr_assert_eq(dlg_state("callee"), DLG_CONFIRMED);
	/* A retransmitted 2xx goes up again (RFC 6026). */
	callee_answers(1, 200, ";tag=callee");
	cr_assert_eq(sent_msg(4)->status, 200);
	/* The BYE: our Route goes, the dialog ends. */
	send_req("BYE", "sip:bob@127.0.0.1:7040",
		 "Route: <sip:127.0.0.1:5060;lr>\r\n");
	m = sent_msg(5);
	cr_assert_eq(m->method, SIP_BYE);
	cr_assert_null(sipmsg_hdr(m, HDR_ROUTE));
	cr_assert_null(sipmsg_hdr(m, HDR_RECORD_ROUTE));
	cr_assert_eq(port_of(&sent[5].to), 7040);
}

Test(route, bye_of_a_known_dialog_terminates_it)
{
	struct dlg d;

	memset(&d, 0, sizeof(d));
	d.call_id = SLICE_LIT("route-test@x");
	d.caller_tag = SLICE_LIT("caller");
	d.callee_tag = SLICE_LIT("callee");
	d.state = DLG_CONFIRMED;
	d.owner = 1;
	cr_assert_eq(dlg_publish(&d), 0);
	send_req("BYE", "sip:bob@127.0.0.1:7040",
		 "Route: <sip:127.0.0.1:5060;lr>\r\n");
	/* req() writes no To tag: make one that names the dialog. */
	cr_assert_eq(dlg_state("callee"), DLG_CONFIRMED);
	{
		struct peer from = peer(UAC);
		char text[1024];

		snprintf(text, sizeof(text),
			 "BYE sip:bob@127.0.0.1:7040 SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKbye2\r\n"
			 "Route: <sip:127.0.0.1:5060;lr>\r\n"
			 "From: <sip:alice@example.com>;tag=caller\r\n"
			 "To: <sip:bob@example.com>;tag=callee\r\n"
			 "Call-ID: route-test@x\r\nCSeq: 2 BYE\r\n"
			 "Content-Length: 0\r\n\r\n",
			 UAC);
		cr_assert_eq(route_request(r, parse(0, text), &from), 0);
	}
	cr_assert_eq(dlg_state("callee"), DLG_TERMINATED);
	callee_answers(nsent - 1, 200, "");
	/* Timer J / K end the transactions; then the dialog is gone. */
	advance(64 * 100 + 100);
	cr_assert_eq(dlg_state("callee"), 0);
}

Test(route, parallel_fork_2xx_cancels_the_ringing_branch)
{
	static const char *const u[] = { "sip:b1@127.0.0.1:7051",
					 "sip:b2@127.0.0.1:7052" };
	static const uint16_t q[] = { 1000, 1000 };
	int i1, i2, cx;

	contact("bob@example.com", 2, u, q);
	send_req("INVITE", "sip:bob@example.com", NULL);
	i1 = find_sent(0, 7051, "INVITE ");
	i2 = find_sent(0, 7052, "INVITE ");
	cr_assert(i1 >= 0 && i2 >= 0, "not forked to both");
	callee_answers((unsigned)i2, 180, ";tag=two");
	callee_answers((unsigned)i1, 200, ";tag=one");
	cx = find_sent(0, 7052, "CANCEL sip:b2@127.0.0.1:7052 SIP/2.0");
	cr_assert_geq(cx, 0, "the other branch was not cancelled");
	cr_assert(slice_eq(sent_msg((unsigned)cx)->via.branch,
			   parse(4, sent[i2].buf)->via.branch),
		  "CANCEL with another branch");
	cr_assert_lt(find_sent(0, 7051, "CANCEL"), 0);
	cr_assert_geq(find_sent(0, UAC, "SIP/2.0 200"), 0);
	/* The 487 of the cancelled branch stays here. */
	callee_answers((unsigned)i2, 487, ";tag=two");
	cr_assert_lt(find_sent(0, UAC, "SIP/2.0 487"), 0);
}

Test(route, serial_q_groups_and_the_best_response)
{
	static const char *const u[] = { "sip:b1@127.0.0.1:7061",
					 "sip:b2@127.0.0.1:7062" };
	static const uint16_t q[] = { 1000, 100 };
	int i1, i2;

	contact("bob@example.com", 2, u, q);
	send_req("INVITE", "sip:bob@example.com", NULL);
	i1 = find_sent(0, 7061, "INVITE ");
	cr_assert_geq(i1, 0);
	cr_assert_lt(find_sent(0, 7062, "INVITE "), 0, "q groups in parallel");
	callee_answers((unsigned)i1, 486, ";tag=one");
	i2 = find_sent(0, 7062, "INVITE ");
	cr_assert_geq(i2, 0, "the next q group was not tried");
	cr_assert_lt(find_sent(0, UAC, "SIP/2.0 4"), 0);
	callee_answers((unsigned)i2, 503, ";tag=two");
	/* 486 (4xx) beats 503; nothing else is tried. */
	cr_assert_geq(find_sent(0, UAC, "SIP/2.0 486"), 0);
}

/* route_body_fn of the test: a body per next-hop port, none for 7083. */
static struct slice body_by_port(void *ctx, const struct route_target *t)
{
	static const char one[] = "v=0\r\ns=branch-one\r\n",
			  two[] = "v=0\r\ns=the-second-branch\r\n";

	(*(unsigned *)ctx)++;
	if (port_of(&t->dest) == 7081)
		return slice_make(one, sizeof(one) - 1);
	if (port_of(&t->dest) == 7082)
		return slice_make(two, sizeof(two) - 1);
	return slice_make(NULL, 0);
}

Test(route, each_branch_gets_the_body_route_body_fn_gives_it)
{
	static const char *const u[] = { "sip:b1@127.0.0.1:7081",
					 "sip:b3@127.0.0.1:7083",
					 "sip:b2@127.0.0.1:7082" };
	static const uint16_t q[] = { 1000, 1000, 100 };
	struct peer from = peer(UAC);
	struct sipmsg *m;
	unsigned asked = 0;
	int i1, i2, i3;

	contact("bob@example.com", 3, u, q);
	cr_assert_eq(
	    route_request_body(r, req(0, "INVITE", "sip:bob@example.com", NULL),
			       &from, NULL, body_by_port, &asked),
	    0);
	arena_reset(a);
	cr_assert_eq(asked, 3, "asked once per target");
	i1 = find_sent(0, 7081, "INVITE ");
	i3 = find_sent(0, 7083, "INVITE ");
	cr_assert(i1 >= 0 && i3 >= 0);
	m = sent_msg((unsigned)i1);
	cr_assert_eq(m->content_length, 19);
	cr_assert(slice_eq(m->body, SLICE_LIT("v=0\r\ns=branch-one\r\n")));
	m = sent_msg((unsigned)i3);
	cr_assert_eq(m->body.len, 0, "an empty body: the request's");
	/* The next q group, later: its own body, kept since. */
	callee_answers((unsigned)i1, 486, ";tag=one");
	callee_answers((unsigned)i3, 486, ";tag=three");
	i2 = find_sent(0, 7082, "INVITE ");
	cr_assert_geq(i2, 0);
	m = sent_msg((unsigned)i2);
	cr_assert(
	    slice_eq(m->body, SLICE_LIT("v=0\r\ns=the-second-branch\r\n")));
	cr_assert_eq(m->content_length, m->body.len);
}

Test(route, a_6xx_wins_and_cancels_the_rest)
{
	static const char *const u[] = { "sip:b1@127.0.0.1:7071",
					 "sip:b2@127.0.0.1:7072" };
	static const uint16_t q[] = { 1000, 1000 };
	int i1, i2;

	contact("bob@example.com", 2, u, q);
	send_req("INVITE", "sip:bob@example.com", NULL);
	i1 = find_sent(0, 7071, "INVITE ");
	i2 = find_sent(0, 7072, "INVITE ");
	callee_answers((unsigned)i2, 180, ";tag=two");
	callee_answers((unsigned)i1, 603, ";tag=one");
	cr_assert_geq(find_sent(0, 7072, "CANCEL "), 0);
	cr_assert_lt(find_sent(0, UAC, "SIP/2.0 6"), 0, "before all ended");
	callee_answers((unsigned)i2, 487, ";tag=two");
	cr_assert_geq(find_sent(0, UAC, "SIP/2.0 603"), 0);
}

Test(route, failover_to_the_next_hop_after_503_and_500_at_the_end)
{
	int i1, i2;

	send_req("INVITE", "sip:x@carrier.example", NULL);
	i1 = find_sent(0, 7001, "INVITE sip:x@carrier.example ");
	cr_assert_geq(i1, 0);
	callee_answers((unsigned)i1, 503, ";tag=one");
	i2 = find_sent(0, 7002, "INVITE sip:x@carrier.example ");
	cr_assert_geq(i2, 0, "no failover");
	callee_answers((unsigned)i2, 503, ";tag=two");
	/* §16.7 step 6: a 503 is not passed on, a 500 is. */
	cr_assert_geq(find_sent(0, UAC, "SIP/2.0 500"), 0);
	cr_assert_lt(find_sent(0, UAC, "SIP/2.0 503"), 0);
}

Test(route, no_failover_after_a_4xx)
{
	int i1;

	send_req("INVITE", "sip:x@carrier.example", NULL);
	i1 = find_sent(0, 7001, "INVITE ");
	callee_answers((unsigned)i1, 404, ";tag=one");
	cr_assert_lt(find_sent(0, 7002, "INVITE "), 0);
	cr_assert_geq(find_sent(0, UAC, "SIP/2.0 404"), 0);
}

Test(route, silent_branch_ends_in_408_after_timer_b_then_failover)
{
	send_req("INVITE", "sip:x@carrier.example", NULL);
	advance(64 * 100 + 20);
	/* Timer B on the first hop is a 408: the next hop is tried. */
	cr_assert_geq(find_sent(0, 7002, "INVITE "), 0);
	advance(64 * 100 + 20);
	cr_assert_geq(find_sent(0, UAC, "SIP/2.0 408"), 0);
}

Test(route, timer_c_cancels_a_branch_that_only_rings)
{
	int i1;

	one_contact();
	send_req("INVITE", "sip:bob@example.com", NULL);
	i1 = find_sent(0, 7040, "INVITE ");
	callee_answers((unsigned)i1, 180, ";tag=callee");
	advance(1900);
	cr_assert_lt(find_sent(0, 7040, "CANCEL "), 0);
	advance(200); /* timer_c_s: 2 */
	cr_assert_geq(find_sent(0, 7040, "CANCEL "), 0);
	callee_answers((unsigned)i1, 487, ";tag=callee");
	cr_assert_geq(find_sent(0, UAC, "SIP/2.0 487"), 0);
}

Test(route, cancel_from_upstream_reaches_every_pending_branch)
{
	struct txn *st;
	struct peer from = peer(UAC);
	int i1;

	one_contact();
	send_req("INVITE", "sip:bob@example.com", NULL);
	i1 = find_sent(0, 7040, "INVITE ");
	callee_answers((unsigned)i1, 180, ";tag=callee");
	st = txn_srv_find(route_txns(r),
			  req(5, "CANCEL", "sip:bob@example.com", NULL),
			  SIP_INVITE);
	cr_assert_null(st, "CANCEL has its own branch in req()");
	/* A CANCEL carries the INVITE's branch. */
	{
		char text[1024];

		snprintf(text, sizeof(text),
			 "CANCEL sip:bob@example.com SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP 127.0.0.1:%u;rport;"
			 "branch=z9hG4bKuacINVITE\r\n"
			 "From: <sip:alice@example.com>;tag=caller\r\n"
			 "To: <sip:bob@example.com>\r\n"
			 "Call-ID: route-test@x\r\nCSeq: 1 CANCEL\r\n"
			 "Content-Length: 0\r\n\r\n",
			 UAC);
		st = txn_srv_find(route_txns(r), parse(5, text), SIP_INVITE);
		cr_assert_not_null(st);
		cr_assert_eq(route_cancel(r, st, &pms[5].m, &from), 0);
	}
	cr_assert_geq(find_sent(0, UAC, "SIP/2.0 200"), 0, "CANCEL not 200");
	cr_assert_geq(find_sent(0, 7040, "CANCEL "), 0);
	callee_answers((unsigned)i1, 487, ";tag=callee");
	cr_assert_geq(find_sent(0, UAC, "SIP/2.0 487"), 0);
}

Test(route, ack_for_2xx_is_forwarded_statelessly_by_route)
{
	struct peer from = peer(UAC);
	char text[1024];
	struct sipmsg *m;
	unsigned n0 = nsent;

	snprintf(text, sizeof(text),
		 "ACK sip:bob@127.0.0.1:7040 SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKack1\r\n"
		 "Route: <sip:127.0.0.1:5060;lr>\r\n"
		 "Max-Forwards: 70\r\n"
		 "From: <sip:alice@example.com>;tag=caller\r\n"
		 "To: <sip:bob@example.com>;tag=callee\r\n"
		 "Call-ID: route-test@x\r\nCSeq: 1 ACK\r\n"
		 "Content-Length: 0\r\n\r\n",
		 UAC);
	cr_assert_eq(route_ack(r, parse(0, text), &from), 0);
	cr_assert_eq(nsent, n0 + 1);
	m = sent_msg(n0);
	cr_assert_eq(m->method, SIP_ACK);
	cr_assert_eq(port_of(&sent[n0].to), 7040);
	cr_assert_null(sipmsg_hdr(m, HDR_ROUTE));
	cr_assert_eq(txn_count(route_txns(r)), 0, "an ACK made a transaction");
	/* Its retransmission gets the same branch (§16.11). */
	cr_assert_eq(route_ack(r, parse(0, text), &from), 0);
	cr_assert(slice_eq(sent_msg(n0)->via.branch,
			   parse(4, sent[n0 + 1].buf)->via.branch));
}

Test(route, unmatched_response_of_ours_goes_by_the_next_via)
{
	char b[TXN_BRANCH_MAX], text[1024];
	struct peer from = peer(7040);

	txn_branch_make(route_txns(r), 0, b);
	snprintf(text, sizeof(text),
		 "SIP/2.0 200 OK\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=%s\r\n"
		 "Via: SIP/2.0/UDP 10.9.9.9:5070;received=127.0.0.1;"
		 "rport=7099;branch=z9hG4bKx\r\n"
		 "From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\n"
		 "Call-ID: stray@x\r\nCSeq: 1 INVITE\r\n"
		 "Content-Length: 0\r\n\r\n",
		 b);
	cr_assert_eq(route_response(r, parse(0, text), &from), 0);
	cr_assert_eq(nsent, 1);
	cr_assert_eq(port_of(&sent[0].to), 7099);
	cr_assert_eq(sipmsg_hdr_count(sent_msg(0), HDR_VIA), 1);
	/* Someone else's Via on top: dropped. */
	snprintf(text, sizeof(text),
		 "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=%s\r\n"
		 "From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\n"
		 "Call-ID: stray@x\r\nCSeq: 1 INVITE\r\n\r\n",
		 b);
	cr_assert_lt(route_response(r, parse(0, text), &from), 0);
	cr_assert_eq(nsent, 1);
}

Test(route, unroutable_requests_are_answered_statelessly)
{
	send_req("MESSAGE", "sip:x@elsewhere.example.org", NULL);
	cr_assert_eq(nsent, 1);
	cr_assert(!strncmp(sent[0].buf, "SIP/2.0 404 No Route", 20), "%s",
		  sent[0].buf);
	cr_assert_eq(txn_count(route_txns(r)), 0);
}

Test(route, the_dialog_keeps_what_dialog_end_needs_of_both_uas)
{
	struct peer from = peer(7040), hop;
	const struct dlg *d;
	char text[1024];

	one_contact();
	send_req("INVITE", "sip:bob@example.com",
		 "Contact: <sip:alice@10.1.1.1:5099>\r\n"
		 "Record-Route: <sip:10.0.0.9;lr>\r\n");
	callee_answers(1, 200, ";tag=callee");
	cr_assert_eq(dlg_state("callee"), DLG_CONFIRMED);
	urcu_memb_read_lock();
	d = dlg_lookup_rcu(SLICE_LIT("route-test@x"), SLICE_LIT("caller"),
			   SLICE_LIT("callee"));
	cr_assert_not_null(d);
	/* The caller: its Contact, the proxy before us, where it came from,
	 * the INVITE's CSeq. */
	cr_assert(slice_eq(d->ua[DLG_CALLER].contact,
			   SLICE_LIT("sip:alice@10.1.1.1:5099")));
	cr_assert(
	    slice_eq(d->ua[DLG_CALLER].route, SLICE_LIT("<sip:10.0.0.9;lr>")));
	hop = dlg_hop_peer(&d->ua[DLG_CALLER].hop);
	cr_assert_eq(port_of(&hop), UAC);
	cr_assert_eq(d->ua[DLG_CALLER].cseq, 1);
	/* The callee: the 200's Contact, nothing between us, its branch's
	 * target; no request of its own yet. */
	cr_assert(slice_eq(d->ua[DLG_CALLEE].contact,
			   SLICE_LIT("sip:bob@127.0.0.1:7040")));
	cr_assert_eq(d->ua[DLG_CALLEE].route.len, 0);
	hop = dlg_hop_peer(&d->ua[DLG_CALLEE].hop);
	cr_assert_eq(port_of(&hop), 7040);
	cr_assert_eq(d->ua[DLG_CALLEE].cseq, 0);
	urcu_memb_read_unlock();
	/* The callee's INFO (tags swapped) raises the callee's CSeq. */
	snprintf(text, sizeof(text),
		 "INFO sip:alice@127.0.0.1:%u SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:7040;branch=z9hG4bKinfo1\r\n"
		 "Route: <sip:127.0.0.1:5060;lr>\r\n"
		 "Max-Forwards: 70\r\n"
		 "From: <sip:bob@example.com>;tag=callee\r\n"
		 "To: <sip:alice@example.com>;tag=caller\r\n"
		 "Call-ID: route-test@x\r\nCSeq: 5 INFO\r\n"
		 "Content-Length: 0\r\n\r\n",
		 UAC);
	cr_assert_eq(route_request(r, parse(0, text), &from), 0);
	arena_reset(a);
	urcu_memb_read_lock();
	d = dlg_lookup_rcu(SLICE_LIT("route-test@x"), SLICE_LIT("caller"),
			   SLICE_LIT("callee"));
	cr_assert_not_null(d);
	cr_assert_eq(d->ua[DLG_CALLEE].cseq, 5);
	cr_assert_eq(d->ua[DLG_CALLER].cseq, 1);
	cr_assert_eq(d->state, DLG_CONFIRMED);
	urcu_memb_read_unlock();
}

/* Names (RFC 3263): route_cfg.resolve, faked. */

static int resolve_ret;
static unsigned resolve_calls;
static char resolve_uri[128];

static int fake_resolve(void *ctx, struct slice uri, struct peer *out,
			unsigned max)
{
	(void)ctx;
	resolve_calls++;
	snprintf(resolve_uri, sizeof(resolve_uri), "%.*s", (int)uri.len, uri.p);
	if (resolve_ret <= 0)
		return resolve_ret;
	for (int i = 0; i < resolve_ret && (unsigned)i < max; i++)
		out[i] = peer((uint16_t)(7101 + i));
	return resolve_ret;
}

/* The proxy again, with the fake resolver answering @p ret. */
static void with_resolver(int ret)
{
	struct route_cfg rc;

	route_free(r);
	memset(&rc, 0, sizeof(rc));
	rc.conf = c;
	rc.shard = 1;
	rc.wheel = &w;
	rc.arena = a;
	rc.send = fake_send;
	rc.dialogs = true;
	rc.resolve = fake_resolve;
	cr_assert_eq(route_new(&rc, &r), 0);
	resolve_ret = ret;
	resolve_calls = 0;
}

Test(route, a_name_becomes_its_targets_tried_one_after_the_other)
{
	with_resolver(2);
	send_req("MESSAGE", "sip:x@trunk.example", NULL);
	cr_assert_eq(resolve_calls, 1);
	cr_assert_str_eq(resolve_uri, "sip:x@trunk.example");
	cr_assert_eq(nsent, 1);
	cr_assert_eq(port_of(&sent[0].to), 7101);
	/* RFC 3263 §4.3: a 503 from the first goes to the next. */
	callee_answers(0, 503, ";tag=t1");
	cr_assert_eq(find_sent(1, 7102, "MESSAGE"), 1);
	callee_answers(1, 200, ";tag=t2");
	cr_assert_eq(find_sent(2, UAC, "SIP/2.0 200"), 2);
}

Test(route, a_route_value_that_is_a_name_is_resolved)
{
	with_resolver(1);
	send_req("MESSAGE", "sip:x@example.com",
		 "Route: <sip:edge.example;lr>\r\n");
	cr_assert_str_eq(resolve_uri, "sip:edge.example;lr");
	cr_assert_eq(nsent, 1);
	cr_assert_eq(port_of(&sent[0].to), 7101);
}

Test(route, a_pending_lookup_sends_nothing_and_says_so)
{
	struct peer from = peer(UAC);

	with_resolver(-EINPROGRESS);
	cr_assert_eq(
	    route_request(r, req(0, "INVITE", "sip:x@trunk.example", NULL),
			  &from),
	    -EINPROGRESS);
	arena_reset(a);
	cr_assert_eq(nsent, 0, "not even 100 Trying: the caller holds it");
	cr_assert_eq(txn_count(route_txns(r)), 0);
}

Test(route, names_that_do_not_resolve_are_404_and_a_failed_dns_503)
{
	with_resolver(-ENOENT);
	send_req("MESSAGE", "sip:x@nowhere.example", NULL);
	cr_assert_eq(nsent, 1);
	cr_assert(!strncmp(sent[0].buf, "SIP/2.0 404 Not Found (domain", 29),
		  "%s", sent[0].buf);
	with_resolver(-EHOSTUNREACH);
	send_req("MESSAGE", "sip:x@nowhere.example", NULL);
	cr_assert_eq(nsent, 2);
	cr_assert(!strncmp(sent[1].buf, "SIP/2.0 503", 11), "%s", sent[1].buf);
	cr_assert_eq(txn_count(route_txns(r)), 0);
}
