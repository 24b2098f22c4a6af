/* tests/unit/proxy/sip/test_request.c - UA request builder, ACK, CANCEL */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "proxy/base/arena.h"
#include "proxy/sip/hdr.h"
#include "proxy/sip/msg.h"
#include "proxy/sip/request.h"
#include "tests/unit/msgin.h"

#define MAXH 64

static struct sipmsg m;
static struct siphdr hdrs[MAXH];
static struct sipmsg inv;
static struct siphdr ihdrs[MAXH];
static struct sipmsg rsp;
static struct siphdr rhdrs[MAXH];

TestSuite(request, .init = msgin_init, .fini = msgin_fini, .timeout = 10);

static void expect(struct slice s, const char *want)
{
	msgin_expect_str(s.p, s.len, want);
}

/* The value of the first header @p id of @p mm, or fail. */
static struct slice hval(const struct sipmsg *mm, enum hdr_id id)
{
	const struct siphdr *h = sipmsg_hdr(mm, id);

	cr_assert_not_null(h, "no header %d", (int)id);
	return h->value;
}

/* RFC 3261 §24.2 F1: Alice's INVITE to Bob, with her values. */
static struct request_opts alice_invite(void)
{
	struct request_opts o;

	memset(&o, 0, sizeof(o));
	o.method = SIP_INVITE;
	o.ruri = SLICE_LIT("sip:bob@biloxi.example.com");
	o.to_uri = SLICE_LIT("sip:bob@biloxi.example.com");
	o.to_display = SLICE_LIT("Bob");
	o.from_uri = SLICE_LIT("sip:alice@atlanta.example.com");
	o.from_display = SLICE_LIT("Alice");
	o.from_tag = SLICE_LIT("9fxced76sl");
	o.call_id = SLICE_LIT("3848276298220188511@atlanta.example.com");
	o.cseq = 1;
	o.via_host = SLICE_LIT("client.atlanta.example.com");
	o.via_port = 5060;
	o.via_transport = SLICE_LIT("TCP");
	o.branch = SLICE_LIT("z9hG4bK74bf9");
	o.contact =
	    SLICE_LIT("sip:alice@client.atlanta.example.com;transport=tcp");
	return o;
}

static struct slice build(const struct request_opts *o)
{
	struct slice out;

	cr_assert_eq(request_build(o, msgin_arena, &out), 0);
	msgin_reparse(out.p, out.len, &m, hdrs, MAXH, "request");
	cr_assert(m.is_request);
	return out;
}

Test(request, invite_parses_back_field_by_field)
{
	struct request_opts o = alice_invite();
	struct nameaddr na;
	const char sdp[] = "v=0\r\no=alice 2890844526 2890844526 IN IP4 "
			   "client.atlanta.example.com\r\ns=-\r\n"
			   "c=IN IP4 192.0.2.101\r\nt=0 0\r\n"
			   "m=audio 49172 RTP/AVP 0\r\n";

	o.content_type = SLICE_LIT("application/sdp");
	o.body = SLICE_LIT(sdp);
	build(&o);
	cr_assert_eq(m.method, SIP_INVITE);
	expect(m.ruri, "sip:bob@biloxi.example.com");
	expect(m.via.transport, "TCP");
	expect(m.via.host, "client.atlanta.example.com");
	cr_assert_eq(m.via.port, 5060);
	expect(m.via.branch, "z9hG4bK74bf9");
	cr_assert(m.via.has_rport);
	cr_assert_eq(sipmsg_hdr_count(&m, HDR_VIA), 1);
	cr_assert_eq(m.max_forwards, 70);
	cr_assert_eq(nameaddr_parse(hval(&m, HDR_TO), &na), 0);
	expect(na.display, "\"Bob\"");
	expect(na.uri, "sip:bob@biloxi.example.com");
	cr_assert_eq(m.to_tag.len, 0);
	cr_assert_eq(nameaddr_parse(hval(&m, HDR_FROM), &na), 0);
	expect(na.display, "\"Alice\"");
	expect(na.uri, "sip:alice@atlanta.example.com");
	expect(m.from_tag, "9fxced76sl");
	expect(m.call_id, "3848276298220188511@atlanta.example.com");
	cr_assert_eq(m.cseq, 1);
	cr_assert_eq(m.cseq_method, SIP_INVITE);
	expect(hval(&m, HDR_CONTACT),
	       "<sip:alice@client.atlanta.example.com;transport=tcp>");
	expect(hval(&m, HDR_CONTENT_TYPE), "application/sdp");
	cr_assert_eq(m.content_length, (long)strlen(sdp));
	expect(m.body, sdp);
	cr_assert_eq(sipmsg_hdr_count(&m, HDR_ROUTE), 0);
}

Test(request, options_without_body_has_content_length_zero)
{
	struct request_opts o = alice_invite();

	o.method = SIP_OPTIONS;
	o.contact = slice_make(NULL, 0);
	o.max_forwards = 5;
	build(&o);
	cr_assert_eq(m.method, SIP_OPTIONS);
	cr_assert_eq(m.cseq_method, SIP_OPTIONS);
	cr_assert_eq(m.content_length, 0);
	cr_assert_eq(m.body.len, 0);
	cr_assert_eq(m.max_forwards, 5);
	cr_assert_null(sipmsg_hdr(&m, HDR_CONTACT));
	cr_assert_null(sipmsg_hdr(&m, HDR_CONTENT_TYPE));
}

Test(request, other_method_by_name)
{
	struct request_opts o = alice_invite();

	o.method = SIP_METHOD_OTHER;
	o.method_name = SLICE_LIT("FOO");
	build(&o);
	expect(m.method_name, "FOO");
	expect(m.cseq_method_name, "FOO");
	o.method_name = SLICE_LIT("FO O");
	cr_assert_eq(request_print(&o, NULL, 0), -EINVAL);
}

Test(request, route_set_and_extra_headers_in_order)
{
	struct request_opts o = alice_invite();
	struct slice route[] = { SLICE_LIT("<sip:p1.example.com;lr>"),
				 SLICE_LIT("<sip:p2.example.com;lr>") };
	struct request_hdr extra[] = {
		{ SLICE_LIT("Supported"), SLICE_LIT("100rel, timer") },
		{ SLICE_LIT("Call-Info"), SLICE_LIT("<sip:x>;answer-after=0") },
	};
	const struct siphdr *h;

	o.route = route;
	o.nroute = 2;
	o.hdrs = extra;
	o.nhdrs = 2;
	build(&o);
	h = sipmsg_hdr(&m, HDR_ROUTE);
	cr_assert_not_null(h);
	expect(h->value, "<sip:p1.example.com;lr>");
	h = sipmsg_hdr_next(&m, h);
	cr_assert_not_null(h);
	expect(h->value, "<sip:p2.example.com;lr>");
	cr_assert_null(sipmsg_hdr_next(&m, h));
	cr_assert(sipmsg_hdr_has_tag(&m, HDR_SUPPORTED, "100rel"));
	expect(hval(&m, HDR_CALL_INFO), "<sip:x>;answer-after=0");
}

Test(request, display_name_quotes_are_escaped)
{
	struct request_opts o = alice_invite();
	struct nameaddr na;

	o.from_display = SLICE_LIT("A \"quoted\" \\ name");
	build(&o);
	cr_assert_eq(nameaddr_parse(hval(&m, HDR_FROM), &na), 0);
	expect(na.display, "\"A \\\"quoted\\\" \\\\ name\"");
	expect(m.from_tag, "9fxced76sl");
}

Test(request, refuses_line_injection_in_every_text_field)
{
	struct request_opts base = alice_invite(), o;
	struct slice route[] = { SLICE_LIT("<sip:p1;lr>\r\nX: y") };
	struct request_hdr h[] = { { SLICE_LIT("X-A"),
				     SLICE_LIT("a\r\nB: c") } };
	struct slice bad = SLICE_LIT("x\r\nEvil: 1");
	struct slice nul = slice_make("ab\0cd", 5);

	o = base;
	o.to_display = bad;
	cr_assert_eq(request_print(&o, NULL, 0), -EINVAL);
	o = base;
	o.from_display = nul;
	cr_assert_eq(request_print(&o, NULL, 0), -EINVAL);
	o = base;
	o.ruri = SLICE_LIT("sip:bob@b.example.com\r\nX: 1");
	cr_assert_eq(request_print(&o, NULL, 0), -EINVAL);
	o = base;
	o.from_tag = SLICE_LIT("t\r\n");
	cr_assert_eq(request_print(&o, NULL, 0), -EINVAL);
	o = base;
	o.call_id = bad;
	cr_assert_eq(request_print(&o, NULL, 0), -EINVAL);
	o = base;
	o.route = route;
	o.nroute = 1;
	cr_assert_eq(request_print(&o, NULL, 0), -EINVAL);
	o = base;
	o.hdrs = h;
	o.nhdrs = 1;
	cr_assert_eq(request_print(&o, NULL, 0), -EINVAL);
	o = base;
	h[0] = (struct request_hdr){ SLICE_LIT("X:A"), SLICE_LIT("a") };
	o.hdrs = h;
	o.nhdrs = 1;
	cr_assert_eq(request_print(&o, NULL, 0), -EINVAL);
	o = base;
	o.content_type = SLICE_LIT("application/sdp\r\nX: 1");
	o.body = SLICE_LIT("v=0\r\n");
	cr_assert_eq(request_print(&o, NULL, 0), -EINVAL);
	o = base;
	o.contact = SLICE_LIT("sip:a@b>\r\nX: <sip:c");
	cr_assert_eq(request_print(&o, NULL, 0), -EINVAL);
}

Test(request, refuses_bad_fields)
{
	struct request_opts base = alice_invite(), o;
	struct slice two[] = { SLICE_LIT("<sip:a;lr>, <sip:b;lr>") };

	o = base;
	o.body = SLICE_LIT("v=0\r\n");
	cr_assert_eq(request_print(&o, NULL, 0), -EINVAL, "body, no type");
	o = base;
	o.branch = SLICE_LIT("74bf9");
	cr_assert_eq(request_print(&o, NULL, 0), -EINVAL, "not z9hG4bK");
	o = base;
	o.branch = slice_make(NULL, 0);
	cr_assert_eq(request_print(&o, NULL, 0), -EINVAL);
	o = base;
	o.cseq = 1u << 31;
	cr_assert_eq(request_print(&o, NULL, 0), -EINVAL);
	o = base;
	o.via_host = SLICE_LIT("bad host");
	cr_assert_eq(request_print(&o, NULL, 0), -EINVAL);
	o = base;
	o.to_uri = SLICE_LIT("sip:");
	cr_assert_eq(request_print(&o, NULL, 0), -EINVAL);
	o = base;
	o.route = two;
	o.nroute = 1;
	cr_assert_eq(request_print(&o, NULL, 0), -EINVAL, "two in one");
	o = base;
	o.nroute = 1; /* and no array */
	cr_assert_eq(request_print(&o, NULL, 0), -EINVAL);
	o = base;
	o.call_id = SLICE_LIT("a@b@c");
	cr_assert_eq(request_print(&o, NULL, 0), -EINVAL);
}

Test(request, print_measures_and_reports_short_buffer)
{
	struct request_opts o = alice_invite();
	char buf[2048];
	int n = request_print(&o, NULL, 0);

	cr_assert_gt(n, 100);
	cr_assert_eq(request_print(&o, buf, (size_t)n - 1), -ENOSPC);
	cr_assert_eq(request_print(&o, buf, (size_t)n), n);
	msgin_reparse(buf, (size_t)n, &m, hdrs, MAXH, "request");
}

/* A sent INVITE with a route set, for ACK and CANCEL. */
static const char sent_invite[] =
    "INVITE sip:bob@192.0.2.4 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP pc33.atlanta.example.com;rport;branch=z9hG4bKnashds8\r\n"
    "Max-Forwards: 70\r\n"
    "Route: <sip:p1.example.com;lr>\r\n"
    "Route: <sip:p2.example.com;lr>\n"
    "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    "To: Bob <sip:bob@biloxi.example.com>\r\n"
    "Call-ID: a84b4c76e66710\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:alice@pc33.atlanta.example.com>\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 4\r\n\r\nv=0\n";

static void parse_invite(void)
{
	size_t len = strlen(sent_invite);

	cr_assert_eq(sipmsg_parse(&inv, msgin_copy(sent_invite, len), len,
				  ihdrs, MAXH, 0),
		     (int)len);
}

static void parse_rsp(const char *text)
{
	static char copy[1024];
	size_t len = strlen(text);

	memcpy(copy, text, len);
	cr_assert_eq(sipmsg_parse(&rsp, copy, len, rhdrs, MAXH, 0), (int)len);
}

static void expect_routes_copied(void)
{
	const struct siphdr *h = sipmsg_hdr(&m, HDR_ROUTE);

	cr_assert_not_null(h);
	expect(h->value, "<sip:p1.example.com;lr>");
	h = sipmsg_hdr_next(&m, h);
	cr_assert_not_null(h);
	expect(h->value, "<sip:p2.example.com;lr>");
	cr_assert_null(sipmsg_hdr_next(&m, h));
}

Test(request, ack_for_486_as_17_1_1_3)
{
	struct slice out;

	parse_invite();
	parse_rsp(
	    "SIP/2.0 486 Busy Here\r\n"
	    "Via: SIP/2.0/UDP pc33.atlanta.example.com;rport=5060;"
	    "branch=z9hG4bKnashds8\r\n"
	    "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
	    "To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n"
	    "Call-ID: a84b4c76e66710\r\n"
	    "CSeq: 314159 INVITE\r\n"
	    "Content-Length: 0\r\n\r\n");
	cr_assert_eq(request_ack_build(&inv, &rsp, msgin_arena, &out), 0);
	msgin_reparse(out.p, out.len, &m, hdrs, MAXH, "ACK");
	cr_assert_eq(m.method, SIP_ACK);
	expect(m.ruri, "sip:bob@192.0.2.4");
	cr_assert_eq(sipmsg_hdr_count(&m, HDR_VIA), 1);
	expect(m.via.branch, "z9hG4bKnashds8");
	expect(
	    m.via.value,
	    "SIP/2.0/UDP pc33.atlanta.example.com;rport;branch=z9hG4bKnashds8");
	expect(m.from_tag, "1928301774");
	expect(m.to_tag, "a6c85cf");
	expect(m.call_id, "a84b4c76e66710");
	cr_assert_eq(m.cseq, 314159);
	cr_assert_eq(m.cseq_method, SIP_ACK);
	cr_assert_eq(m.max_forwards, 70);
	cr_assert_eq(m.content_length, 0);
	cr_assert_null(sipmsg_hdr(&m, HDR_CONTACT));
	cr_assert_null(sipmsg_hdr(&m, HDR_CONTENT_TYPE));
	expect_routes_copied();
}

Test(request, ack_refuses_2xx_and_a_foreign_response)
{
	struct slice out;

	parse_invite();
	parse_rsp(
	    "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKnashds8\r\n"
	    "From: <sip:a@b>;tag=1928301774\r\nTo: <sip:b@c>;tag=x\r\n"
	    "Call-ID: a84b4c76e66710\r\nCSeq: 314159 INVITE\r\n"
	    "Content-Length: 0\r\n\r\n");
	cr_assert_eq(request_ack_build(&inv, &rsp, msgin_arena, &out), -EINVAL);
	parse_rsp(
	    "SIP/2.0 404 Nope\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKnashds8\r\n"
	    "From: <sip:a@b>;tag=1928301774\r\nTo: <sip:b@c>;tag=x\r\n"
	    "Call-ID: a84b4c76e66710\r\nCSeq: 314158 INVITE\r\n"
	    "Content-Length: 0\r\n\r\n");
	cr_assert_eq(request_ack_build(&inv, &rsp, msgin_arena, &out), -EINVAL);
	/* The INVITE given must be an INVITE. */
	cr_assert_eq(request_ack_build(&rsp, &rsp, msgin_arena, &out), -EINVAL);
}

Test(request, cancel_as_9_1)
{
	struct slice out;

	parse_invite();
	cr_assert_eq(request_cancel_build(&inv, msgin_arena, &out), 0);
	msgin_reparse(out.p, out.len, &m, hdrs, MAXH, "CANCEL");
	cr_assert_eq(m.method, SIP_CANCEL);
	expect(m.ruri, "sip:bob@192.0.2.4");
	cr_assert_eq(sipmsg_hdr_count(&m, HDR_VIA), 1);
	expect(m.via.branch, "z9hG4bKnashds8");
	expect(m.from_tag, "1928301774");
	cr_assert_eq(m.to_tag.len, 0, "a CANCEL's To is the INVITE's");
	expect(hval(&m, HDR_TO), "Bob <sip:bob@biloxi.example.com>");
	expect(m.call_id, "a84b4c76e66710");
	cr_assert_eq(m.cseq, 314159);
	cr_assert_eq(m.cseq_method, SIP_CANCEL);
	cr_assert_eq(m.content_length, 0);
	cr_assert_eq(m.body.len, 0);
	expect_routes_copied();
}

Test(request, tags_and_call_ids_are_random_hex)
{
	char a[REQUEST_TAG_MAX], b[REQUEST_TAG_MAX];
	char c[REQUEST_CALL_ID_MAX], d[REQUEST_CALL_ID_MAX];

	cr_assert_eq(request_tag_make(a, sizeof(a)), 16);
	cr_assert_eq(request_tag_make(b, sizeof(b)), 16);
	cr_assert_eq(strlen(a), 16);
	cr_assert(request_is_token(slice_cstr(a)));
	cr_assert_str_neq(a, b);
	cr_assert_eq(request_tag_make(a, 16), -ENOSPC);
	cr_assert_eq(
	    request_call_id_make(SLICE_LIT("pc33.example.com"), c, sizeof(c)),
	    32 + 1 + 16);
	cr_assert_eq(c[32], '@');
	cr_assert_str_eq(c + 33, "pc33.example.com");
	cr_assert_eq(request_call_id_make(slice_make(NULL, 0), d, sizeof(d)),
		     32);
	cr_assert_neq(memcmp(c, d, 32), 0);
	cr_assert_eq(request_call_id_make(SLICE_LIT("a@b"), c, sizeof(c)),
		     -EINVAL);
	cr_assert_eq(request_call_id_make(SLICE_LIT("a b"), c, sizeof(c)),
		     -EINVAL);
	cr_assert_eq(request_call_id_make(SLICE_LIT("host"), c, 20), -ENOSPC);
}
