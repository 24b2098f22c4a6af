/* tests/unit/proxy/test_topoh.c - topology hiding: the tokens (round trip,
 * tamper, wrong key or kind), the way out to a hidden trunk and the way
 * back in, the config keys */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "proxy/base/arena.h"
#include "proxy/base/err.h"
#include "proxy/core/conf.h"
#include "proxy/proxy_conf.h"
#include "proxy/sip/edit.h"
#include "proxy/sip/msg.h"
#include "proxy/sip/peer.h"
#include "proxy/topoh.h"
#include "tests/unit/conftest.h"
#include "tests/unit/sections.h"

static struct conf *c;
static struct arena *a;
static char err[512];

static const char yaml[] =
    "listen:\n  - address: 127.0.0.1\n    port: 5060\n"
    "domains: [example.com]\n"
    "proxy:\n  topology_hiding_key: \"unit-test-secret-0123456789\"\n"
    "routes:\n"
    "  - domain: trunk.example\n"
    "    next_hop: [\"sip:127.0.0.3:5080\"]\n"
    "    topology_hiding: true\n"
    "  - domain: open.example\n"
    "    next_hop: [\"sip:127.0.0.4:5080\"]\n";

static void setup(void)
{
	conftest_init(&c, err, sizeof(err));
	cr_assert_eq(conftest_load(yaml), 0, "%s", err);
	a = arena_new(1 << 16);
	cr_assert_not_null(a);
}

static void teardown(void)
{
	arena_free(a);
	a = NULL;
	conftest_fini();
}

TestSuite(topoh, .init = setup, .fini = teardown, .timeout = 10);

static const uint8_t key1[TOPOH_KEY_LEN] = { 1, 2, 3 };
static const uint8_t key2[TOPOH_KEY_LEN] = { 1, 2, 4 };

Test(topoh, token_round_trip_is_deterministic)
{
	char t1[256], t2[256], out[256];
	struct slice in = SLICE_LIT("a84b4c76e66710@pc33.atlanta.com");
	int n1 = topoh_seal(key1, TOPOH_CALL_ID, in, t1, sizeof(t1));
	int n2 = topoh_seal(key1, TOPOH_CALL_ID, in, t2, sizeof(t2));
	int n;

	cr_assert_gt(n1, 3);
	cr_assert_eq(n1, n2);
	cr_assert_eq(memcmp(t1, t2, (size_t)n1), 0);
	cr_assert_eq(memcmp(t1, TOPOH_PREFIX, 3), 0);
	/* base64url without padding: Call-ID word and URI user safe. */
	for (int i = 3; i < n1; i++)
		cr_assert(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrs"
				 "tuvwxyz0123456789-_",
				 t1[i]),
			  "char %c", t1[i]);
	n = topoh_open(key1, TOPOH_CALL_ID, slice_make(t1, (size_t)n1), out,
		       sizeof(out));
	cr_assert_eq(n, (int)in.len);
	cr_assert_eq(memcmp(out, in.p, in.len), 0);
}

Test(topoh, tampered_token_does_not_open)
{
	char t[256], out[256];
	int n = topoh_seal(key1, TOPOH_CONTACT,
			   SLICE_LIT("sip:alice@192.0.2.1:5060"), t, sizeof(t));

	cr_assert_gt(n, 0);
	for (int i = 3; i < n; i++) {
		char saved = t[i];

		t[i] = t[i] == 'A' ? 'B' : 'A';
		cr_assert_eq(topoh_open(key1, TOPOH_CONTACT,
					slice_make(t, (size_t)n), out,
					sizeof(out)),
			     -EBADMSG, "a change at %d opened", i);
		t[i] = saved;
	}
	/* Longer, shorter, not a token, empty. */
	memcpy(t + n, "AAAA", 4);
	cr_assert_eq(topoh_open(key1, TOPOH_CONTACT,
				slice_make(t, (size_t)n + 4), out, sizeof(out)),
		     -EBADMSG);
	cr_assert_eq(topoh_open(key1, TOPOH_CONTACT,
				slice_make(t, (size_t)n - 1), out, sizeof(out)),
		     -EBADMSG);
	cr_assert_eq(topoh_open(key1, TOPOH_CONTACT, SLICE_LIT("th-!!!!"), out,
				sizeof(out)),
		     -EBADMSG);
	cr_assert_eq(
	    topoh_open(key1, TOPOH_CONTACT, SLICE_LIT("th-"), out, sizeof(out)),
	    -EBADMSG);
	cr_assert_eq(topoh_open(key1, TOPOH_CONTACT, SLICE_LIT("xy-AAAA"), out,
				sizeof(out)),
		     -EBADMSG);
}

Test(topoh, wrong_key_or_kind_does_not_open)
{
	char t[256], out[256];
	int n = topoh_seal(key1, TOPOH_CALL_ID, SLICE_LIT("abc@host"), t,
			   sizeof(t));

	cr_assert_gt(n, 0);
	cr_assert_eq(topoh_open(key2, TOPOH_CALL_ID, slice_make(t, (size_t)n),
				out, sizeof(out)),
		     -EBADMSG);
	cr_assert_eq(topoh_open(key1, TOPOH_CONTACT, slice_make(t, (size_t)n),
				out, sizeof(out)),
		     -EBADMSG);
	/* A buffer too small is not a bad token. */
	cr_assert_eq(
	    topoh_open(key1, TOPOH_CALL_ID, slice_make(t, (size_t)n), out, 3),
	    -ENOSPC);
}

Test(topoh, seal_refuses_empty_and_too_long)
{
	static char big[TOPOH_PLAIN_MAX + 1];
	char t[2048];

	memset(big, 'x', sizeof(big));
	cr_assert_eq(
	    topoh_seal(key1, TOPOH_CALL_ID, SLICE_LIT(""), t, sizeof(t)),
	    -EINVAL);
	cr_assert_eq(topoh_seal(key1, TOPOH_CALL_ID,
				slice_make(big, sizeof(big)), t, sizeof(t)),
		     -EINVAL);
	cr_assert_eq(topoh_seal(key1, TOPOH_CALL_ID, SLICE_LIT("abc"), t, 8),
		     -ENOSPC);
}

static struct peer peer_at(const char *ip, uint16_t port)
{
	struct peer p;
	struct sockaddr_in *in = (struct sockaddr_in *)&p.addr;

	memset(&p, 0, sizeof(p));
	in->sin_family = AF_INET;
	in->sin_port = htons(port);
	inet_pton(AF_INET, ip, &in->sin_addr);
	p.addrlen = sizeof(*in);
	p.proto = PEER_UDP;
	return p;
}

Test(topoh, trunk_is_known_by_address_not_port)
{
	struct peer t = peer_at("127.0.0.3", 40000);
	struct peer o = peer_at("127.0.0.4", 5080);

	cr_assert(topoh_peer_is_hidden(c, &t));
	cr_assert_not(topoh_peer_is_hidden(c, &o));
}

static const char invite[] =
    "INVITE sip:bob@trunk.example SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5060;rport;branch=z9hG4bKsEtop\r\n"
    "Via: SIP/2.0/UDP 10.0.0.7:5062;branch=z9hG4bKin1, SIP/2.0/UDP "
    "10.0.0.2:5099;branch=z9hG4bKua\r\n"
    "Record-Route: <sip:127.0.0.1:5060;lr>\r\n"
    "Record-Route: <sip:10.0.0.7:5062;lr>\r\n"
    "From: <sip:alice@example.com>;tag=1\r\n"
    "To: <sip:bob@trunk.example>\r\n"
    "Call-ID: inside-call@10.0.0.2\r\n"
    "CSeq: 1 INVITE\r\n"
    "Contact: <sip:alice@10.0.0.2:5099;ob>;expires=60\r\n"
    "Max-Forwards: 69\r\n"
    "Content-Length: 0\r\n\r\n";

static void parse(const char *buf, size_t len, struct sipmsg *m)
{
	static struct siphdr h[64];

	cr_assert_geq(sipmsg_parse(m, buf, len, h, 64, 0), 0);
}

/* What goes out to the trunk and what comes back in (the trunk's
 * in-dialog request to the Contact token) give back the inside. */
Test(topoh, request_out_hides_inside_and_in_restores_it)
{
	struct peer trunk = peer_at("127.0.0.3", 5080), inside;
	struct slice out, in;
	struct sipmsg m;
	char buf[4096], bye[4096], tok[512], cid[512], rr[512];
	const char *why = NULL;
	unsigned status = 0;
	const char *p, *e;
	int n;

	inside = peer_at("10.0.0.2", 5099);
	cr_assert_eq(
	    topoh_out(c, &inside, invite, strlen(invite), true, a, &out), 0);
	cr_assert_eq(
	    topoh_out(c, &trunk, invite, strlen(invite), true, a, &out), 1);
	cr_assert_lt(out.len, sizeof(buf));
	memcpy(buf, out.p, out.len);
	buf[out.len] = '\0';
	cr_assert_null(strstr(buf, "10.0.0."), "%s", buf);
	cr_assert_null(strstr(buf, "inside-call"), "%s", buf);
	cr_assert_not_null(strstr(buf, "Via: SIP/2.0/UDP 127.0.0.1:5060;rport;"
				       "branch=z9hG4bKsEtop\r\n"),
			   "%s", buf);
	/* Only our value, the inside route set sealed in its user. */
	p = strstr(buf, "Record-Route: <sip:th-");
	cr_assert_not_null(p, "%s", buf);
	e = strstr(p, "\r\n");
	snprintf(rr, sizeof(rr), "%.*s", (int)(e - p - 14), p + 14);
	cr_assert_not_null(strstr(rr, "@127.0.0.1:5060;lr>"), "%s", rr);
	cr_assert_null(strchr(rr, ','), "%s", rr);
	cr_assert_not_null(strstr(buf, "Call-ID: th-"), "%s", buf);
	p = strstr(buf, "Contact: <sip:th-");
	cr_assert_not_null(p, "%s", buf);
	cr_assert_not_null(strstr(p, "@127.0.0.1:5060>;expires=60\r\n"), "%s",
			   buf);
	parse(buf, out.len, &m);
	cr_assert_eq(m.nhdrs, 9);
	/* The trunk's BYE to the Contact token, with the Call-ID it saw. */
	p += strlen("Contact: <sip:");
	e = strchr(p, '@');
	snprintf(tok, sizeof(tok), "%.*s", (int)(e - p), p);
	p = strstr(buf, "Call-ID: ") + strlen("Call-ID: ");
	e = strstr(p, "\r\n");
	snprintf(cid, sizeof(cid), "%.*s", (int)(e - p), p);
	n = snprintf(bye, sizeof(bye),
		     "BYE sip:%s@127.0.0.1:5060 SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP 127.0.0.3:5080;branch=z9hG4bKtr\r\n"
		     "Route: %s\r\n"
		     "From: <sip:bob@trunk.example>;tag=2\r\n"
		     "To: <sip:alice@example.com>;tag=1\r\n"
		     "Call-ID: %s\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n",
		     tok, rr, cid);
	parse(bye, (size_t)n, &m);
	cr_assert_eq(topoh_in(c, &m, &trunk, a, &in, &status, &why), 1);
	cr_assert_eq(status, 0);
	parse(in.p, in.len, &m);
	cr_assert(slice_eq(m.ruri, SLICE_LIT("sip:alice@10.0.0.2:5099;ob")),
		  "%.*s", (int)m.ruri.len, m.ruri.p);
	cr_assert(slice_eq(m.call_id, SLICE_LIT("inside-call@10.0.0.2")));
	/* The inside route set, after ours, for the route plan. */
	snprintf(buf, sizeof(buf), "%.*s", (int)in.len, in.p);
	cr_assert_not_null(strstr(buf, "Route: <sip:10.0.0.7:5062;lr>\r\n"),
			   "%s", buf);
	/* Not from the trunk: untouched. */
	cr_assert_eq(topoh_in(c, &m, &inside, a, &in, &status, &why), 0);
}

Test(topoh, tampered_contact_token_from_trunk_is_404)
{
	struct peer trunk = peer_at("127.0.0.3", 5080);
	static const char bye[] =
	    "BYE sip:th-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA@127.0.0.1:5060 "
	    "SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.3:5080;branch=z9hG4bKtr\r\n"
	    "From: <sip:bob@trunk.example>;tag=2\r\n"
	    "To: <sip:alice@example.com>;tag=1\r\n"
	    "Call-ID: trunk-call\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n";
	const char *why = NULL;
	unsigned status = 0;
	struct sipmsg m;
	struct slice in;

	parse(bye, strlen(bye), &m);
	cr_assert_eq(topoh_in(c, &m, &trunk, a, &in, &status, &why), 1);
	cr_assert_eq(status, 404);
	cr_assert_not_null(strstr(why, "token"));
}

Test(topoh, tampered_route_token_from_trunk_is_404)
{
	struct peer trunk = peer_at("127.0.0.3", 5080);
	static const char bye[] =
	    "BYE sip:alice@10.0.0.2 SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.3:5080;branch=z9hG4bKtr\r\n"
	    "Route: "
	    "<sip:th-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA@127.0.0.1:5060;lr>\r\n"
	    "From: <sip:bob@trunk.example>;tag=2\r\n"
	    "To: <sip:alice@example.com>;tag=1\r\n"
	    "Call-ID: trunk-call\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n";
	const char *why = NULL;
	unsigned status = 0;
	struct sipmsg m;
	struct slice in;

	parse(bye, strlen(bye), &m);
	cr_assert_eq(topoh_in(c, &m, &trunk, a, &in, &status, &why), 1);
	cr_assert_eq(status, 404);
	cr_assert_not_null(strstr(why, "Route token"));
}

Test(topoh, forged_call_id_token_from_trunk_is_400)
{
	struct peer trunk = peer_at("127.0.0.3", 5080);
	static const char opt[] =
	    "OPTIONS sip:x@example.com SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.3:5080;branch=z9hG4bKtr\r\n"
	    "From: <sip:bob@trunk.example>;tag=2\r\n"
	    "To: <sip:x@example.com>\r\n"
	    "Call-ID: th-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n"
	    "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
	const char *why = NULL;
	unsigned status = 0;
	struct sipmsg m;
	struct slice in;

	parse(opt, strlen(opt), &m);
	cr_assert_eq(topoh_in(c, &m, &trunk, a, &in, &status, &why), -EBADMSG);
	cr_assert_eq(status, 400);
	cr_assert_not_null(strstr(why, "Call-ID"));
}

/* A response to the trunk loses the inside's Record-Route values (those
 * before ours) and its Contact; its Call-ID maps back. */
Test(topoh, response_out_keeps_our_record_route_on)
{
	struct peer trunk = peer_at("127.0.0.3", 5080);
	static const char ok[] =
	    "SIP/2.0 200 OK\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.3:5080;branch=z9hG4bKtr\r\n"
	    "Record-Route: <sip:10.0.0.7:5062;lr>, <sip:127.0.0.1:5060;lr>\r\n"
	    "Record-Route: <sip:192.0.2.9;lr>\r\n"
	    "From: <sip:bob@trunk.example>;tag=2\r\n"
	    "To: <sip:alice@example.com>;tag=1\r\n"
	    "Call-ID: trunk-call\r\nCSeq: 1 INVITE\r\n"
	    "Contact: <sip:alice@10.0.0.2:5099>\r\n"
	    "Content-Length: 0\r\n\r\n";
	char buf[4096];
	struct slice out;

	cr_assert_eq(topoh_out(c, &trunk, ok, strlen(ok), true, a, &out), 1);
	snprintf(buf, sizeof(buf), "%.*s", (int)out.len, out.p);
	cr_assert_null(strstr(buf, "10.0.0."), "%s", buf);
	cr_assert_not_null(strstr(buf, "Record-Route: <sip:th-"), "%s", buf);
	cr_assert_not_null(strstr(buf, "@127.0.0.1:5060;lr>, "
				       "<sip:192.0.2.9;lr>\r\n"),
			   "%s", buf);
	cr_assert_not_null(strstr(buf, "Call-ID: th-"), "%s", buf);
	cr_assert_not_null(strstr(buf, "Via: SIP/2.0/UDP 127.0.0.3:5080;"),
			   "%s", buf);
}

/* The trunk's response to a request of the inside gets the inside's
 * Vias and route set back from the request. */
Test(topoh, restore_puts_back_vias_and_record_route)
{
	static const char rsp[] =
	    "SIP/2.0 200 OK\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:5060;rport=5060;branch=z9hG4bKsEtop\r\n"
	    "Record-Route: <sip:127.0.0.1:5060;lr>\r\n"
	    "From: <sip:alice@example.com>;tag=1\r\n"
	    "To: <sip:bob@trunk.example>;tag=2\r\n"
	    "Call-ID: inside-call@10.0.0.2\r\nCSeq: 1 INVITE\r\n"
	    "Content-Length: 0\r\n\r\n";
	static const char req[] =
	    "INVITE sip:bob@trunk.example SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 10.0.0.7:5062;branch=z9hG4bKin1\r\n"
	    "Via: SIP/2.0/UDP 10.0.0.2:5099;branch=z9hG4bKua\r\n"
	    "Record-Route: <sip:10.0.0.7:5062;lr>\r\n"
	    "From: <sip:alice@example.com>;tag=1\r\n"
	    "To: <sip:bob@trunk.example>\r\n"
	    "Call-ID: inside-call@10.0.0.2\r\nCSeq: 1 INVITE\r\n"
	    "Content-Length: 0\r\n\r\n";
	struct siphdr h1[32], h2[32];
	struct sipmsg mr, mq;
	struct edit_list *el;
	struct slice out;
	char buf[4096];

	cr_assert_geq(sipmsg_parse(&mr, rsp, strlen(rsp), h1, 32, 0), 0);
	cr_assert_geq(sipmsg_parse(&mq, req, strlen(req), h2, 32, 0), 0);
	cr_assert_eq(edit_new(a, &mr, &el), 0);
	cr_assert_eq(topoh_restore(el, &mr, &mq, a), 0);
	cr_assert_eq(edit_print_arena(el, a, &out), 0);
	snprintf(buf, sizeof(buf), "%.*s", (int)out.len, out.p);
	cr_assert_null(strstr(buf, "z9hG4bKsEtop"), "%s", buf);
	cr_assert_not_null(strstr(buf, "Via: SIP/2.0/UDP 10.0.0.7:5062;branch="
				       "z9hG4bKin1, SIP/2.0/UDP 10.0.0.2:5099;"
				       "branch=z9hG4bKua\r\n"),
			   "%s", buf);
	cr_assert_not_null(strstr(buf, "Record-Route: <sip:127.0.0.1:5060;lr>"
				       "\r\n"),
			   "%s", buf);
	cr_assert_not_null(
	    strstr(buf, "Record-Route: <sip:10.0.0.7:5062;lr>\r\n"), "%s", buf);
	cr_assert_lt(strstr(buf, "<sip:127.0.0.1:5060;lr>"),
		     strstr(buf, "<sip:10.0.0.7:5062;lr>"));
}

Test(topoh, config_errors_name_file_and_line)
{
	conf_free(c);
	c = NULL;
	conftest_expect_error("proxy:\n  topology_hiding_key: short\n",
			      "t.yaml:2:", "16 to 256");
	conftest_expect_error("routes:\n  - domain: t.example\n"
			      "    next_hop: [\"sip:127.0.0.3\"]\n"
			      "    topology_hiding: maybe\n",
			      "t.yaml:4", "topology_hiding");
	conftest_expect_error("routes:\n  - domain: t.example\n"
			      "    next_hop: [\"sip:trunk.example\"]\n"
			      "    topology_hiding: true\n",
			      "t.yaml", "needs an IP address");
}

Test(topoh, config_default_is_off_with_a_random_key)
{
	const struct proxy_conf *pc;

	conf_free(c);
	c = NULL;
	cr_assert_eq(conftest_load("routes:\n  - domain: t.example\n"
				   "    next_hop: [\"sip:127.0.0.3\"]\n"),
		     0, "%s", err);
	pc = proxy_conf(c);
	cr_assert_not(pc->routes[0].topology_hiding);
	cr_assert_not(pc->th_any);
	cr_assert_not(pc->th_key_given);
}
