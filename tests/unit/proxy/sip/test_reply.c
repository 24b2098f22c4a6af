/* tests/unit/proxy/sip/test_reply.c - stateless responses and where they go */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "proxy/base/arena.h"
#include "proxy/base/obj.h"
#include "proxy/sip/msg.h"
#include "proxy/sip/reply.h"
#include "tests/common/corpus.h"
#include "tests/unit/msgin.h"
#include "tests/common/teardown.h"

#define MAXH 64

static struct sipmsg m;
static struct siphdr hdrs[MAXH];
static struct sipmsg r; /* the reply, parsed again */
static struct siphdr rhdrs[MAXH];

TestSuite(reply, .init = msgin_init, .fini = msgin_fini, .timeout = 10);

/* Parse @p len bytes of @p text (guarded); returns sipmsg_parse()'s result. */
static int parse_in_len(const char *text, size_t len)
{
	return sipmsg_parse(&m, msgin_copy(text, len), len, hdrs, MAXH, 0);
}

static void parse_in(const char *text)
{
	int ret = parse_in_len(text, strlen(text));

	cr_assert_gt(ret, 0, "input does not parse: %d %s", ret,
		     m.fault ? m.fault : "");
}

static struct sockaddr_storage v4(const char *ip, unsigned port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	cr_assert_eq(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
	return ss;
}

static struct sockaddr_storage v6(const char *ip, unsigned port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons((uint16_t)port);
	cr_assert_eq(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
	return ss;
}

/* Build with @p o from @p src and parse the reply into r. */
static struct slice build(const struct sockaddr_storage *src,
			  const struct reply_opts *o)
{
	struct slice out;

	cr_assert_eq(
	    reply_build(&m, (const struct sockaddr *)src, o, msgin_arena, &out),
	    0);
	msgin_reparse(out.p, out.len, &r, rhdrs, MAXH, "reply");
	cr_assert(!r.is_request);
	return out;
}

static void assert_slice(struct slice s, const char *want)
{
	msgin_expect_str(s.p, s.len, want);
}

static void assert_hdr(unsigned i, const char *name, const char *value)
{
	cr_assert_lt(i, r.nhdrs);
	assert_slice(r.hdrs[i].name, name);
	assert_slice(r.hdrs[i].value, value);
}

static const char invite[] =
    "INVITE sip:bob@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.0.0.1:5062;rport;branch=z9hG4bK74bf9\r\n"
    "Via: SIP/2.0/TCP 10.9.9.9;branch=z9hG4bKlower;received=10.1.1.1\r\n"
    "Max-Forwards: 70\r\n"
    "From: Alice <sip:alice@example.net>;tag=9fxced76sl\r\n"
    "To: Bob <sip:bob@example.com>\r\n"
    "Call-ID: 3848276298220188511@atlanta.example.com\r\n"
    "CSeq: 2 INVITE\r\n"
    "Contact: <sip:alice@10.0.0.1:5062>\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 4\r\n"
    "\r\n"
    "v=0\n";

Test(reply, copies_vias_in_order_and_adds_received_and_rport)
{
	struct sockaddr_storage src = v4("192.0.2.7", 40000);
	struct reply_opts o = { .status = 480,
				.server = SLICE_LIT("sipedge/test") };

	parse_in(invite);
	build(&src, &o);
	cr_assert_eq(r.status, 480);
	assert_slice(r.reason, "Temporarily Unavailable");
	assert_slice(r.version, "SIP/2.0");
	cr_assert_eq(r.nhdrs, 8);
	assert_hdr(0, "Via",
		   "SIP/2.0/UDP 10.0.0.1:5062;rport=40000;branch=z9hG4bK74bf9;"
		   "received=192.0.2.7");
	assert_hdr(
	    1, "Via",
	    "SIP/2.0/TCP 10.9.9.9;branch=z9hG4bKlower;received=10.1.1.1");
	assert_hdr(2, "From", "Alice <sip:alice@example.net>;tag=9fxced76sl");
	cr_assert_eq(r.hdrs[3].id, HDR_TO);
	assert_hdr(4, "Call-ID", "3848276298220188511@atlanta.example.com");
	assert_hdr(5, "CSeq", "2 INVITE");
	assert_hdr(6, "Server", "sipedge/test");
	assert_hdr(7, "Content-Length", "0");
	assert_slice(r.via.received, "192.0.2.7");
	assert_slice(r.via.rport, "40000");
	assert_slice(r.via.branch, "z9hG4bK74bf9");
	cr_assert_eq(r.cseq, 2);
	cr_assert_eq(r.cseq_method, SIP_INVITE);
	cr_assert_eq(r.content_length, 0);
	cr_assert_eq(r.body.len, 0);
	/* A tag was added, after the To URI. */
	cr_assert_eq(r.to_tag.len, 16);
	cr_assert(memcmp(r.hdrs[3].value.p,
			 "Bob <sip:bob@example.com>;tag=", 30) == 0);
}

Test(reply, no_received_when_sent_by_is_the_source_without_rport)
{
	static const char req[] =
	    "OPTIONS sip:example.com SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bKsame\r\n"
	    "From: <sip:a@example.net>;tag=1\r\n"
	    "To: <sip:example.com>\r\n"
	    "Call-ID: same@x\r\n"
	    "CSeq: 7 OPTIONS\r\n"
	    "\r\n";
	struct sockaddr_storage src = v4("192.0.2.7", 5070);
	struct reply_opts o = { .status = 200 };

	parse_in(req);
	build(&src, &o);
	assert_hdr(0, "Via", "SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bKsame");
	cr_assert_eq(r.via.received.len, 0);
	cr_assert_eq(sipmsg_hdr(&r, HDR_SERVER), NULL);
	assert_slice(r.reason, "OK");
}

Test(reply, received_for_a_domain_name_sent_by)
{
	static const char req[] =
	    "OPTIONS sip:example.com SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP ua.example.net;branch=z9hG4bKdn;"
	    "received=6.6.6.6\r\n"
	    "From: <sip:a@example.net>;tag=1\r\n"
	    "To: <sip:example.com>\r\n"
	    "Call-ID: dn@x\r\n"
	    "CSeq: 7 OPTIONS\r\n"
	    "\r\n";
	struct sockaddr_storage src = v4("203.0.113.5", 5060);
	struct reply_opts o = { .status = 200 };

	parse_in(req);
	build(&src, &o);
	/* The old received gives way to the true source. */
	assert_hdr(0, "Via",
		   "SIP/2.0/UDP ua.example.net;branch=z9hG4bKdn;"
		   "received=203.0.113.5");
}

Test(reply, ipv6_source_and_bracketed_sent_by)
{
	static const char req[] =
	    "OPTIONS sip:example.com SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK6\r\n"
	    "From: <sip:a@example.net>;tag=1\r\n"
	    "To: <sip:example.com>\r\n"
	    "Call-ID: v6@x\r\n"
	    "CSeq: 7 OPTIONS\r\n"
	    "\r\n";
	struct sockaddr_storage same = v6("2001:db8::1", 5060);
	struct sockaddr_storage other = v6("2001:db8::2", 5060);
	struct reply_opts o = { .status = 200 };

	parse_in(req);
	build(&same, &o);
	assert_hdr(0, "Via", "SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK6");
	build(&other, &o);
	assert_hdr(0, "Via",
		   "SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK6;"
		   "received=2001:db8::2");
}

Test(reply, multi_value_via_rewrites_only_the_first_value)
{
	static const char req[] =
	    "MESSAGE sip:bob@example.com SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 10.0.0.1;rport;branch=z9hG4bKa ,\r\n"
	    " SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKb\r\n"
	    "From: <sip:a@example.net>;tag=1\r\n"
	    "To: <sip:bob@example.com>\r\n"
	    "Call-ID: mv@x\r\n"
	    "CSeq: 1 MESSAGE\r\n"
	    "\r\n";
	struct sockaddr_storage src = v4("198.51.100.9", 1024);
	struct reply_opts o = { .status = 404 };

	parse_in(req);
	build(&src, &o);
	/* Folded value: unfolded to one line. */
	assert_hdr(0, "Via",
		   "SIP/2.0/UDP 10.0.0.1;rport=1024;branch=z9hG4bKa;"
		   "received=198.51.100.9 , SIP/2.0/UDP 10.0.0.2;"
		   "branch=z9hG4bKb");
	cr_assert_eq(sipmsg_hdr_count(&r, HDR_VIA), 1);
	cr_assert_null(memchr(r.hdrs[0].value.p, '\n', r.hdrs[0].value.len));
}

Test(reply, keeps_an_existing_to_tag_and_adds_none_to_100)
{
	static const char req[] =
	    "BYE sip:bob@192.0.2.4 SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKbye\r\n"
	    "From: <sip:a@example.net>;tag=1\r\n"
	    "To: <sip:bob@example.com>;tag=abc\r\n"
	    "Call-ID: bye@x\r\n"
	    "CSeq: 2 BYE\r\n"
	    "\r\n";
	struct sockaddr_storage src = v4("192.0.2.1", 5060);
	struct reply_opts o = { .status = 481 };

	parse_in(req);
	build(&src, &o);
	assert_hdr(2, "To", "<sip:bob@example.com>;tag=abc");
	parse_in(invite);
	o.status = 100;
	build(&src, &o);
	assert_hdr(3, "To", "Bob <sip:bob@example.com>");
	assert_slice(r.reason, "Trying");
}

Test(reply, derived_tag_is_stable_per_request_and_caller_tag_wins)
{
	static const char other[] =
	    "INVITE sip:bob@example.com SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKother\r\n"
	    "From: Alice <sip:alice@example.net>;tag=9fxced76sl\r\n"
	    "To: Bob <sip:bob@example.com>\r\n"
	    "Call-ID: 3848276298220188511@atlanta.example.com\r\n"
	    "CSeq: 2 INVITE\r\n"
	    "\r\n";
	struct sockaddr_storage src = v4("10.0.0.1", 5062);
	struct reply_opts o = { .status = 486 };
	char t1[32], t2[32], t3[32];

	parse_in(invite);
	build(&src, &o);
	cr_assert_eq(r.to_tag.len, 16);
	memcpy(t1, r.to_tag.p, 16);
	build(&src, &o);
	memcpy(t2, r.to_tag.p, 16);
	cr_assert(memcmp(t1, t2, 16) == 0, "same request, same tag");
	parse_in(other);
	build(&src, &o);
	memcpy(t3, r.to_tag.p, 16);
	cr_assert(memcmp(t1, t3, 16) != 0, "another branch, another tag");
	o.to_tag = SLICE_LIT("mytag42");
	build(&src, &o);
	assert_slice(r.to_tag, "mytag42");
}

Test(reply, writes_extra_lines_and_custom_reason)
{
	static const char extra[] = "Unsupported: foo, bar\r\n"
				    "Retry-After: 30\r\n";
	struct sockaddr_storage src = v4("10.0.0.1", 5062);
	struct reply_opts o = { .status = 420,
				.reason = SLICE_LIT("Bad\r\nExtension"),
				.extra = SLICE_LIT(extra) };

	parse_in(invite);
	build(&src, &o);
	/* A line break in the reason cannot end the status line. */
	assert_slice(r.reason, "Bad Extension");
	assert_hdr(6, "Unsupported", "foo, bar");
	assert_hdr(7, "Retry-After", "30");
	assert_hdr(8, "Content-Length", "0");
}

Test(reply, writes_a_body_with_its_type_and_length)
{
	static const char body[] = "<?xml version=\"1.0\"?>\r\n<x/>\r\n";
	struct sockaddr_storage src = v4("10.0.0.1", 5062);
	struct reply_opts o = { .status = 200,
				.extra = SLICE_LIT("Allow: MESSAGE\r\n"),
				.content_type = SLICE_LIT("application/xml"),
				.body = SLICE_LIT(body) };
	struct slice out;

	parse_in(invite);
	out = build(&src, &o);
	assert_hdr(6, "Allow", "MESSAGE");
	assert_hdr(7, "Content-Type", "application/xml");
	assert_hdr(8, "Content-Length", "29");
	cr_assert_eq(strlen(body), 29);
	cr_assert_eq(r.content_length, 29);
	assert_slice(r.body, body);
	cr_assert_eq(out.len - (size_t)(r.body.p - out.p), strlen(body),
		     "the body ends the response");
	/* A body whose type is given in extra: no second Content-Type. */
	o.extra = SLICE_LIT("Content-Type: text/plain\r\n");
	o.content_type = slice_make(NULL, 0);
	o.body = SLICE_LIT("hi");
	build(&src, &o);
	assert_hdr(6, "Content-Type", "text/plain");
	assert_hdr(7, "Content-Length", "2");
	cr_assert_eq(r.nhdrs, 8);
	assert_slice(r.body, "hi");
}

Test(reply, refuses_bad_options)
{
	struct sockaddr_storage src = v4("10.0.0.1", 5062);
	struct reply_opts o = { .status = 99 };
	struct slice out = { NULL, 0 };

	parse_in(invite);
	cr_assert_eq(
	    reply_build(&m, (struct sockaddr *)&src, &o, msgin_arena, &out),
	    -EINVAL);
	o.status = 700;
	cr_assert_eq(
	    reply_build(&m, (struct sockaddr *)&src, &o, msgin_arena, &out),
	    -EINVAL);
	o.status = 400;
	o.extra = SLICE_LIT("Warning: 399 x \"y\"");
	cr_assert_eq(
	    reply_build(&m, (struct sockaddr *)&src, &o, msgin_arena, &out),
	    -EINVAL);
	cr_assert_null(out.p);
}

Test(reply, unknown_code_gets_its_class_reason)
{
	cr_assert_str_eq(reply_reason(404), "Not Found");
	cr_assert_str_eq(reply_reason(483), "Too Many Hops");
	cr_assert_str_eq(reply_reason(499), "Client Error");
	cr_assert_str_eq(reply_reason(699), "Global Failure");
	cr_assert_str_eq(reply_reason(42), "Unknown");
}

Test(reply, missing_via_or_cseq_is_ebadmsg)
{
	static const char *const reqs[] = {
		/* no Via */
		"INVITE sip:b@example.com SIP/2.0\r\n"
		"From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\n"
		"Call-ID: c@x\r\nCSeq: 1 INVITE\r\n\r\n",
		/* empty Via */
		"INVITE sip:b@example.com SIP/2.0\r\n"
		"Via: \r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\n"
		"Call-ID: c@x\r\nCSeq: 1 INVITE\r\n\r\n",
		/* no CSeq */
		"INVITE sip:b@example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: "
		"<sip:a@x>;tag=1\r\n"
		"To: <sip:b@x>\r\nCall-ID: c@x\r\n\r\n",
		/* empty CSeq */
		"INVITE sip:b@example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: "
		"<sip:a@x>;tag=1\r\n"
		"To: <sip:b@x>\r\nCall-ID: c@x\r\nCSeq: \r\n\r\n",
	};
	struct sockaddr_storage src = v4("10.0.0.1", 5062);
	struct reply_opts o = { .status = 400 };
	struct sockaddr_storage dst;
	socklen_t dlen;
	struct slice out = { NULL, 0 };

	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		parse_in_len(reqs[i], strlen(reqs[i]));
		cr_assert(m.is_request, "case %zu", i);
		cr_assert_eq(reply_check(&m), -EBADMSG, "case %zu", i);
		cr_assert_eq(reply_build(&m, (struct sockaddr *)&src, &o,
					 msgin_arena, &out),
			     -EBADMSG, "case %zu", i);
		cr_assert_null(out.p);
	}
	parse_in_len(reqs[0], strlen(reqs[0]));
	cr_assert_eq(
	    reply_dest(&m, (struct sockaddr *)&src, false, &dst, &dlen),
	    -EBADMSG);
}

Test(reply, missing_from_to_call_id_are_left_out)
{
	char *data;
	size_t len;
	struct sockaddr_storage src = v4("192.0.2.95", 5060);
	struct reply_opts o = { .status = 400, .reason = SLICE_LIT("Missing") };
	struct slice out;

	/* RFC 4475 §3.3.1: no To, From, Call-ID; ideally a 400. */
	cr_assert_eq(corpus_read("rfc4475/invalid/insuf.dat", &data, &len), 0);
	parse_in_len(data, len);
	free(data);
	cr_assert_eq(reply_check(&m), 0);
	cr_assert_eq(
	    reply_build(&m, (struct sockaddr *)&src, &o, msgin_arena, &out), 0);
	/* The reply lacks them too, so it parses with a fault. */
	sipmsg_parse(&r, out.p, out.len, rhdrs, MAXH, 0);
	cr_assert_eq(r.status, 400);
	assert_slice(r.reason, "Missing");
	cr_assert_eq(r.nhdrs, 3);
	assert_hdr(0, "Via", "SIP/2.0/UDP 192.0.2.95;branch=z9hG4bKkdj.insuf");
	assert_hdr(1, "CSeq", "193942 INVITE");
	assert_hdr(2, "Content-Length", "0");
}

Test(reply, a_response_is_not_answered)
{
	static const char resp[] =
	    "SIP/2.0 200 OK\r\n"
	    "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKr\r\n"
	    "From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\n"
	    "Call-ID: c@x\r\nCSeq: 1 INVITE\r\n\r\n";
	struct sockaddr_storage src = v4("10.0.0.1", 5062);
	struct reply_opts o = { .status = 400 };
	struct slice out;

	parse_in(resp);
	cr_assert_eq(reply_check(&m), -EINVAL);
	cr_assert_eq(
	    reply_build(&m, (struct sockaddr *)&src, &o, msgin_arena, &out),
	    -EINVAL);
}

static unsigned port_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

static int dest(const char *via, const struct sockaddr_storage *src,
		bool stream, struct sockaddr_storage *dst)
{
	char req[512];
	socklen_t len = 0;
	int n, err;

	n = snprintf(req, sizeof(req),
		     "OPTIONS sip:example.com SIP/2.0\r\n"
		     "Via: %s\r\n"
		     "From: <sip:a@example.net>;tag=1\r\n"
		     "To: <sip:example.com>\r\n"
		     "Call-ID: d@x\r\n"
		     "CSeq: 7 OPTIONS\r\n"
		     "\r\n",
		     via);
	cr_assert_gt(n, 0);
	parse_in_len(req, (size_t)n);
	err = reply_dest(&m, (const struct sockaddr *)src, stream, dst, &len);
	if (!err)
		cr_assert_eq(len, dst->ss_family == AF_INET
				      ? sizeof(struct sockaddr_in)
				      : sizeof(struct sockaddr_in6));
	return err;
}

Test(reply, dest_follows_rfc3261_18_2_2_and_rfc3581)
{
	struct sockaddr_storage src = v4("192.0.2.7", 40000), dst;
	char ip[64];

	/* rport: source address and port. */
	cr_assert_eq(dest("SIP/2.0/UDP 10.0.0.1:5062;rport;branch=z9hG4bK1",
			  &src, false, &dst),
		     0);
	cr_assert_eq(port_of(&dst), 40000);
	inet_ntop(AF_INET, &((struct sockaddr_in *)&dst)->sin_addr, ip,
		  sizeof(ip));
	cr_assert_str_eq(ip, "192.0.2.7");
	/* No rport: source address, sent-by port. */
	cr_assert_eq(dest("SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bK1", &src,
			  false, &dst),
		     0);
	cr_assert_eq(port_of(&dst), 5062);
	inet_ntop(AF_INET, &((struct sockaddr_in *)&dst)->sin_addr, ip,
		  sizeof(ip));
	cr_assert_str_eq(ip, "192.0.2.7");
	/* No port in sent-by: 5060. maddr is ignored. */
	cr_assert_eq(dest("SIP/2.0/UDP host.example;maddr=224.0.0.1;"
			  "branch=z9hG4bK1",
			  &src, false, &dst),
		     0);
	cr_assert_eq(port_of(&dst), 5060);
	cr_assert_eq(((struct sockaddr_in *)&dst)->sin_addr.s_addr,
		     ((struct sockaddr_in *)&src)->sin_addr.s_addr);
	/* Stream: the connection's peer, whatever Via says. */
	cr_assert_eq(
	    dest("SIP/2.0/TCP 10.0.0.1:5062;branch=z9hG4bK1", &src, true, &dst),
	    0);
	cr_assert_eq(port_of(&dst), 40000);
	/* An unparseable top Via: back to the source port. */
	cr_assert_eq(dest("SIP/2.0/UDP 192.0.2.15;;", &src, false, &dst), 0);
	cr_assert_eq(port_of(&dst), 40000);
}

Test(reply, dest_ipv6_and_bad_sources)
{
	struct sockaddr_storage src = v6("2001:db8::7", 5099), dst;
	struct sockaddr_storage unix_src;

	cr_assert_eq(dest("SIP/2.0/UDP [2001:db8::7]:5070;branch=z9hG4bK1",
			  &src, false, &dst),
		     0);
	cr_assert_eq(dst.ss_family, AF_INET6);
	cr_assert_eq(port_of(&dst), 5070);
	cr_assert(memcmp(&((struct sockaddr_in6 *)&dst)->sin6_addr,
			 &((struct sockaddr_in6 *)&src)->sin6_addr, 16) == 0);
	memset(&unix_src, 0, sizeof(unix_src));
	unix_src.ss_family = AF_UNIX;
	cr_assert_eq(
	    dest("SIP/2.0/UDP h;branch=z9hG4bK1", &unix_src, false, &dst),
	    -EAFNOSUPPORT);
	src = v4("192.0.2.7", 0);
	cr_assert_eq(
	    dest("SIP/2.0/UDP h;rport;branch=z9hG4bK1", &src, false, &dst),
	    -EINVAL);
}

Test(reply, every_valid_corpus_request_gets_a_parseable_400)
{
	struct corpus_row *rows;
	struct sockaddr_storage src = v4("192.0.2.200", 5060);
	struct reply_opts o = { .status = 400, .server = SLICE_LIT("sipedge") };
	int n, built = 0;

	n = corpus_manifest("rfc4475/MANIFEST.tsv", &rows);
	cr_assert_gt(n, 0);
	for (int i = 0; i < n; i++) {
		char path[256], *data;
		size_t len;

		const struct siphdr *cid;

		/* Invalid requests' headers stay invalid in their 400. */
		if (strcmp(rows[i].col[2], "valid") != 0)
			continue;
		snprintf(path, sizeof(path), "rfc4475/%s", rows[i].col[0]);
		cr_assert_eq(corpus_read(path, &data, &len), 0, "%s", path);
		parse_in_len(data, len);
		free(data);
		if (!m.is_request || reply_check(&m) < 0)
			continue;
		build(&src, &o);
		cr_assert_eq(r.status, 400, "%s", path);
		cr_assert_eq(sipmsg_hdr_count(&r, HDR_VIA),
			     sipmsg_hdr_count(&m, HDR_VIA), "%s", path);
		cid = sipmsg_hdr(&r, HDR_CALL_ID);
		cr_assert_not_null(cid, "%s", path);
		cr_assert(slice_eq(cid->value, m.call_id), "%s", path);
		cr_assert(slice_eq(r.via.branch, m.via.branch), "%s", path);
		built++;
	}
	corpus_rows_free(rows, n);
	cr_assert_gt(built, 15);
}
