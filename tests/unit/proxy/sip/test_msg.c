/* tests/unit/proxy/sip/test_msg.c - SIP message parser: framing, index, eager
 * fields, faults */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "proxy/base/obj.h"
#include "proxy/sip/msg.h"
#include "tests/common/guard.h"
#include "tests/common/teardown.h"

#define MAX_HDRS 64

static struct siphdr hdrs[MAX_HDRS];
static void teardown(void)
{
	guard_free_kept();
	teardown_check_objs(0);
}

TestSuite(sipmsg, .fini = teardown, .timeout = 10);

/* @p len bytes of @p text right before a PROT_NONE page, freed at .fini. */
static const char *guarded(const char *text, size_t len)
{
	return guard_keep(text, len);
}

static int parse_n(struct sipmsg *m, const char *text, size_t len, unsigned max,
		   unsigned flags)
{
	return sipmsg_parse(m, guarded(text, len), len, hdrs, max, flags);
}

static int parse(struct sipmsg *m, const char *text, unsigned flags)
{
	return parse_n(m, text, strlen(text), MAX_HDRS, flags);
}

static bool eq(struct slice s, const char *c)
{
	return slice_eq(s, slice_cstr(c));
}

#define cr_assert_slice(s, c)                                          \
	cr_assert(eq((s), (c)), "%s is \"%.*s\", expected \"%s\"", #s, \
		  (int)(s).len, (s).p ? (s).p : "", (c))

#define cr_assert_fault(m, text)                              \
	cr_assert((m).fault &&strcmp((m).fault, (text)) == 0, \
		  "fault is \"%s\", expected \"%s\"",         \
		  (m).fault ? (m).fault : "(none)", (text))

/* A request with everything RFC 3261 §8.1.1 requires, for edits. */
#define REQ_HEAD                                                            \
	"OPTIONS sip:bob@biloxi.example.com SIP/2.0\r\n"                    \
	"Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK74bf9\r\n" \
	"To: <sip:bob@biloxi.example.com>\r\n"                              \
	"From: <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n"          \
	"Call-ID: 3848276298220188511@atlanta.example.com\r\n"              \
	"CSeq: 63104 OPTIONS\r\n"

static const char invite_routes[] =
    "INVITE sip:bob@192.0.2.4:5060;transport=udp SIP/2.0\r\n"
    "Via: SIP/2.0/UDP "
    "bigbox3.site3.atlanta.com;branch=z9hG4bK77ef4c2312983.1\r\n"
    "Via: SIP/2.0/UDP "
    "pc33.atlanta.com:5066;branch=z9hG4bKnashds8;received=192.0.2.1;rport="
    "5066\r\n"
    "Max-Forwards: 69\r\n"
    "Route: <sip:proxy1.example.com;lr>\r\n"
    "Route: <sip:proxy2.example.com;lr;transport=tcp>\r\n"
    "Record-Route: <sip:bigbox3.site3.atlanta.com;lr>, "
    "<sip:p2.example.com;lr>\r\n"
    "To: Bob <sip:bob@biloxi.com>\r\n"
    "From: \"Alice, A.\" <sip:alice@atlanta.com>;tag=1928301774\r\n"
    "Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:alice@pc33.atlanta.com>\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 35\r\n"
    "\r\n"
    "v=0\r\n"
    "o=alice 1 1 IN IP4 192.0.2.1\r\n";

Test(sipmsg, parses_invite_with_route_and_record_route_sets)
{
	struct sipmsg m;
	const struct siphdr *h;
	int ret = parse(&m, invite_routes, 0);

	cr_assert_eq(ret, (int)strlen(invite_routes), "ret %d fault %s", ret,
		     m.fault ? m.fault : "-");
	cr_assert_null(m.fault);
	cr_assert(m.is_request);
	cr_assert_eq(m.method, SIP_INVITE);
	cr_assert_slice(m.method_name, "INVITE");
	cr_assert_slice(m.ruri, "sip:bob@192.0.2.4:5060;transport=udp");
	cr_assert_slice(m.version, "SIP/2.0");
	cr_assert_eq(m.nhdrs, 13);
	cr_assert_slice(m.via.host, "bigbox3.site3.atlanta.com");
	cr_assert_slice(m.via.branch, "z9hG4bK77ef4c2312983.1");
	cr_assert_slice(m.via.transport, "UDP");
	cr_assert_eq(m.via.port, 0);
	cr_assert_slice(m.call_id, "a84b4c76e66710@pc33.atlanta.com");
	cr_assert_eq(m.cseq, 314159);
	cr_assert_eq(m.cseq_method, SIP_INVITE);
	cr_assert_eq(m.max_forwards, 69);
	cr_assert_eq(m.content_length, 35);
	cr_assert_slice(m.from_tag, "1928301774");
	cr_assert_eq(m.to_tag.len, 0);
	cr_assert_slice(m.body, "v=0\r\no=alice 1 1 IN IP4 192.0.2.1\r\n");

	cr_assert_eq(sipmsg_hdr_count(&m, HDR_VIA), 2);
	cr_assert_eq(sipmsg_hdr_count(&m, HDR_ROUTE), 2);
	cr_assert_eq(sipmsg_hdr_count(&m, HDR_RECORD_ROUTE), 1);
	cr_assert_eq(sipmsg_hdr_count(&m, HDR_WARNING), 0);
	cr_assert_null(sipmsg_hdr(&m, HDR_WARNING));
	h = sipmsg_hdr(&m, HDR_ROUTE);
	cr_assert_not_null(h);
	cr_assert_slice(h->value, "<sip:proxy1.example.com;lr>");
	cr_assert_slice(h->line, "Route: <sip:proxy1.example.com;lr>\r\n");
	h = sipmsg_hdr_next(&m, h);
	cr_assert_not_null(h);
	cr_assert_slice(h->value, "<sip:proxy2.example.com;lr;transport=tcp>");
	cr_assert_null(sipmsg_hdr_next(&m, h));
	h = sipmsg_hdr(&m, HDR_VIA);
	h = sipmsg_hdr_next(&m, h);
	cr_assert_slice(h->value, "SIP/2.0/UDP pc33.atlanta.com:5066;"
				  "branch=z9hG4bKnashds8;received=192.0.2.1;"
				  "rport=5066");
	h = sipmsg_hdr(&m, HDR_CONTENT_TYPE);
	cr_assert_slice(h->name, "Content-Type");
	cr_assert_slice(h->value, "application/sdp");
}

Test(sipmsg, parses_register_with_multiple_contacts)
{
	static const char reg[] =
	    "REGISTER sip:registrar.biloxi.com SIP/2.0\r\n"
	    "Via: SIP/2.0/TCP bobspc.biloxi.com:5060;branch=z9hG4bKnashds7\r\n"
	    "Max-Forwards: 70\r\n"
	    "To: Bob <sip:bob@biloxi.com>\r\n"
	    "From: Bob <sip:bob@biloxi.com>;tag=456248\r\n"
	    "Call-ID: 843817637684230@998sdasdh09\r\n"
	    "CSeq: 1826 REGISTER\r\n"
	    "Contact: <sip:bob@192.0.2.4>;expires=7200\r\n"
	    "Contact: \"Mobile, Bob\" <sip:bob@[2001:db8::4]:5070>;q=0.5,"
	    " sip:bob@198.51.100.7;expires=60\r\n"
	    "Expires: 7200\r\n"
	    "Content-Length: 0\r\n"
	    "\r\n";
	struct sipmsg m;
	const struct siphdr *h;
	struct slice rest, el;
	int ret = parse(&m, reg, SIPMSG_STREAM);

	cr_assert_eq(ret, (int)strlen(reg));
	cr_assert_eq(m.method, SIP_REGISTER);
	cr_assert_eq(m.via.port, 5060);
	cr_assert_slice(m.via.transport, "TCP");
	cr_assert_eq(m.content_length, 0);
	cr_assert_eq(m.body.len, 0);
	cr_assert_eq(sipmsg_hdr_count(&m, HDR_CONTACT), 2);
	h = sipmsg_hdr_next(&m, sipmsg_hdr(&m, HDR_CONTACT));
	rest = h->value;
	cr_assert_eq(hdr_split_next(&rest, &el), 1);
	cr_assert_slice(el,
			"\"Mobile, Bob\" <sip:bob@[2001:db8::4]:5070>;q=0.5");
	cr_assert_eq(hdr_split_next(&rest, &el), 1);
	cr_assert_slice(el, "sip:bob@198.51.100.7;expires=60");
	cr_assert_eq(hdr_split_next(&rest, &el), 0);
}

Test(sipmsg, parses_200_ok_response)
{
	static const char ok[] =
	    "SIP/2.0 200 OK\r\n"
	    "Via: SIP/2.0/UDP "
	    "server10.biloxi.com;branch=z9hG4bKnashds8;received=192.0.2.3\r\n"
	    "Via: SIP/2.0/UDP "
	    "pc33.atlanta.com;branch=z9hG4bK776asdhds;received=192.0.2.1\r\n"
	    "To: Bob <sip:bob@biloxi.com>;tag=a6c85cf\r\n"
	    "From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
	    "Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n"
	    "CSeq: 314159 INVITE\r\n"
	    "Contact: <sip:bob@192.0.2.4>\r\n"
	    "Content-Length: 0\r\n"
	    "\r\n";
	struct sipmsg m;
	int ret = parse(&m, ok, 0);

	cr_assert_eq(ret, (int)strlen(ok));
	cr_assert_not(m.is_request);
	cr_assert_eq(m.status, 200);
	cr_assert_slice(m.reason, "OK");
	cr_assert_eq(m.method, SIP_INVITE);
	cr_assert_slice(m.method_name, "INVITE");
	cr_assert_slice(m.to_tag, "a6c85cf");
	cr_assert_slice(m.via.received, "192.0.2.3");
	cr_assert_eq(m.ruri.len, 0);
}

Test(sipmsg, accepts_empty_and_utf8_reason_phrases)
{
	struct sipmsg m;

	cr_assert_gt(
	    parse(&m,
		  "SIP/2.0 100 \r\n"
		  "Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe\r\n"
		  "Call-ID: noreason.asndj203insdf99223ndf\r\n"
		  "CSeq: 35 INVITE\r\n"
		  "From: <sip:user@example.com>;tag=39ansfi3\r\n"
		  "To: <sip:user@example.edu>;tag=902jndnke3\r\n"
		  "\r\n",
		  0),
	    0);
	cr_assert_eq(m.status, 100);
	cr_assert_eq(m.reason.len, 0);
	cr_assert_gt(
	    parse(&m,
		  "SIP/2.0 486 Occup\xc3\xa9\r\n"
		  "Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK1\r\n"
		  "Call-ID: x@y\r\nCSeq: 1 INVITE\r\n"
		  "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\n\r\n",
		  0),
	    0);
	cr_assert_slice(m.reason, "Occup\xc3\xa9");
}

Test(sipmsg, rejects_status_codes_outside_100_to_699)
{
	static const char *const lines[] = {
		"SIP/2.0 099 Odd\r\n",
		"SIP/2.0 700 Odd\r\n",
		"SIP/2.0 4294967301 better not break the receiver\r\n",
		"SIP/2.0 20 OK\r\n",
		"SIP/2.0 2000 OK\r\n",
		"SIP/2.0 2x0 OK\r\n",
		"SIP/2.0  200 OK\r\n",
		"SIP/2 200 OK\r\n",
	};
	char buf[512];

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		struct sipmsg m;
		int ret;

		snprintf(buf, sizeof(buf),
			 "%sVia: SIP/2.0/UDP h.example.com;branch=z9hG4bK1\r\n"
			 "Call-ID: x@y\r\nCSeq: 1 INVITE\r\nFrom: "
			 "<sip:a@b>;tag=1\r\n"
			 "To: <sip:c@d>\r\n\r\n",
			 lines[i]);
		ret = parse(&m, buf, 0);
		cr_assert_eq(ret, -EBADMSG, "%s", lines[i]);
		cr_assert_fault(m, "Malformed Status-Line");
		cr_assert_eq(m.status, 0, "%s gave status %u", lines[i],
			     m.status);
	}
}

Test(sipmsg, accepts_compact_header_forms)
{
	static const char msg[] =
	    "INVITE sip:user@example.com SIP/2.0\r\n"
	    "v: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n"
	    "f: <sip:a@example.com>;tag=11\r\n"
	    "t: <sip:user@example.com>\r\n"
	    "i: compact@192.0.2.1\r\n"
	    "m: <sip:a@192.0.2.1>\r\n"
	    "k: 100rel\r\n"
	    "s: hello\r\n"
	    "c: application/sdp\r\n"
	    "CSEQ: 2 INVITE\r\n"
	    "l: 4\r\n"
	    "\r\n"
	    "v=0\r\n";
	struct sipmsg m;
	const struct siphdr *h;

	cr_assert_eq(parse(&m, msg, SIPMSG_STREAM), (int)strlen(msg) - 1);
	cr_assert_slice(m.call_id, "compact@192.0.2.1");
	cr_assert_slice(m.from_tag, "11");
	cr_assert_eq(m.content_length, 4);
	cr_assert_slice(m.body, "v=0\r");
	cr_assert_eq(m.cseq, 2);
	h = sipmsg_hdr(&m, HDR_SUPPORTED);
	cr_assert_not_null(h);
	cr_assert_slice(h->name, "k");
	cr_assert_slice(h->value, "100rel");
	cr_assert_not_null(sipmsg_hdr(&m, HDR_SUBJECT));
	cr_assert_not_null(sipmsg_hdr(&m, HDR_CONTACT));
	cr_assert_not_null(sipmsg_hdr(&m, HDR_CONTENT_TYPE));
	cr_assert_eq(sipmsg_hdr(&m, HDR_CSEQ)->id, HDR_CSEQ);
}

Test(sipmsg, joins_folded_header_lines)
{
	static const char msg[] =
	    "OPTIONS sip:user@example.com SIP/2.0\r\n"
	    "Via  : SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw\r\n"
	    "TO :\r\n sip:vivekg@chair-dnrc.example.com ;   tag    = "
	    "1918181833n\r\n"
	    "from   : \"J Rosenberg \\\\\\\"\"       "
	    "<sip:jdrosen@example.com>\r\n"
	    "  ;\r\n  tag = 98asjd8\r\n"
	    "Call-ID: wsinv.ndaksdj@192.0.2.1\r\n"
	    "cseq: 0009\r\n  OPTIONS\r\n"
	    "Subject: one\r\n\ttwo\r\n"
	    "MaX-fOrWaRdS: 0068\r\n"
	    "\r\n";
	struct sipmsg m;
	const struct siphdr *h;

	cr_assert_gt(parse(&m, msg, 0), 0, "fault %s", m.fault);
	cr_assert_slice(m.via.host, "192.0.2.2");
	cr_assert_slice(m.via.transport, "UDP");
	cr_assert_slice(m.to_tag, "1918181833n");
	cr_assert_slice(m.from_tag, "98asjd8");
	cr_assert_eq(m.cseq, 9);
	cr_assert_eq(m.cseq_method, SIP_OPTIONS);
	cr_assert_eq(m.max_forwards, 68);
	h = sipmsg_hdr(&m, HDR_SUBJECT);
	cr_assert_slice(h->value, "one\r\n\ttwo");
	cr_assert_slice(h->line, "Subject: one\r\n\ttwo\r\n");
	h = sipmsg_hdr(&m, HDR_VIA);
	cr_assert_slice(h->name, "Via");
}

Test(sipmsg, accepts_bare_lf_line_ends)
{
	static const char msg[] =
	    "INVITE sip:bob@biloxi.com SIP/2.0\n"
	    "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8\n"
	    "To: Bob <sip:bob@biloxi.com>\n"
	    "From: Alice <sip:alice@atlanta.com>;tag=1928301774\n"
	    "Call-ID: a84b4c76e66710@pc33.atlanta.com\n"
	    "CSeq: 314159 INVITE\n"
	    "Content-Length: 0\n"
	    "\n";
	struct sipmsg m;

	cr_assert_eq(parse(&m, msg, SIPMSG_STREAM), (int)strlen(msg));
	cr_assert_slice(m.from_tag, "1928301774");
	cr_assert_slice(sipmsg_hdr(&m, HDR_TO)->line,
			"To: Bob <sip:bob@biloxi.com>\n");
}

Test(sipmsg, skips_leading_crlf_before_the_start_line)
{
	static const char msg[] =
	    "\r\n\r\n" REQ_HEAD "Content-Length: 0\r\n\r\n";
	struct sipmsg m;
	int ret = parse(&m, msg, SIPMSG_STREAM);

	cr_assert_eq(ret, (int)strlen(msg));
	cr_assert_eq(m.len, strlen(msg) - 4);
	cr_assert_eq(strncmp(m.buf, "OPTIONS ", 8), 0);
}

Test(sipmsg, rejects_header_without_colon)
{
	static const char msg[] =
	    "OPTIONS sip:bob@biloxi.example.com SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK74bf9\r\n"
	    "This line has no colon\r\n"
	    "To: <sip:bob@biloxi.example.com>\r\n"
	    "From: <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
	    "Call-ID: 3848276298220188511@atlanta.example.com\r\n"
	    "CSeq: 63104 OPTIONS\r\n"
	    "\r\n";
	struct sipmsg m;

	cr_assert_eq(parse(&m, msg, 0), -EBADMSG);
	cr_assert_fault(m, "Malformed Header");
	/* Indexing went on, so that a 400 can be built. */
	cr_assert_slice(m.call_id, "3848276298220188511@atlanta.example.com");
	cr_assert_slice(m.from_tag, "9fxced76sl");
	cr_assert_eq(m.cseq, 63104);
	cr_assert_eq(m.nhdrs, 5);
	cr_assert_eq(m.len, strlen(msg));
}

Test(sipmsg, rejects_header_name_with_non_token_characters)
{
	struct sipmsg m;

	cr_assert_eq(parse(&m, REQ_HEAD "Bad Name: x\r\n\r\n", 0), -EBADMSG);
	cr_assert_fault(m, "Malformed Header");
	cr_assert_eq(parse(&m, REQ_HEAD ": no name\r\n\r\n", 0), -EBADMSG);
	cr_assert_fault(m, "Malformed Header");
	cr_assert_eq(parse(&m, REQ_HEAD "N\xc3\xa4me: x\r\n\r\n", 0), -EBADMSG);
	cr_assert_fault(m, "Malformed Header");
}

Test(sipmsg, indexes_unknown_headers_as_other_with_their_names)
{
	struct sipmsg m;
	const struct siphdr *h;

	cr_assert_gt(parse(&m,
			   REQ_HEAD
			   "X-Custom: a\r\nC%6Fntact: <sip:x@y>\r\n"
			   "extensionHeader-!.%*+_`'~: \xef\xbb\xbf\r\n\r\n",
			   0),
		     0);
	cr_assert_eq(sipmsg_hdr_count(&m, HDR_OTHER), 3);
	cr_assert_eq(sipmsg_hdr_count(&m, HDR_CONTACT), 0);
	h = sipmsg_hdr(&m, HDR_OTHER);
	cr_assert_slice(h->name, "X-Custom");
	h = sipmsg_hdr_next(&m, h);
	cr_assert_slice(h->name, "C%6Fntact");
	h = sipmsg_hdr_next(&m, h);
	cr_assert_slice(h->name, "extensionHeader-!.%*+_`'~");
	cr_assert_slice(h->value, "\xef\xbb\xbf");
}

Test(sipmsg, rejects_extra_spaces_in_the_request_line)
{
	static const char *const lines[] = {
		"INVITE  sip:user@example.com  SIP/2.0\r\n",
		"INVITE sip:user@example.com SIP/2.0  \r\n",
		"INVITE sip:user@example.com  SIP/2.0\r\n",
		" INVITE sip:user@example.com SIP/2.0\r\n",
		"INVITE sip:user@example.com\r\n",
		"INVITE\r\n",
		"INVITE sip:user@example.com SIP/2.0/\r\n",
		"INV\"ITE sip:user@example.com SIP/2.0\r\n",
	};
	char buf[512];

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		struct sipmsg m;

		snprintf(buf, sizeof(buf),
			 "%sVia: SIP/2.0/UDP h.example.com;branch=z9hG4bK1\r\n"
			 "Call-ID: x@y\r\nCSeq: 1 INVITE\r\nFrom: "
			 "<sip:a@b>;tag=1\r\n"
			 "To: <sip:c@d>\r\n\r\n",
			 lines[i]);
		cr_assert_eq(parse(&m, buf, 0), -EBADMSG, "%s", lines[i]);
		cr_assert_fault(m, "Malformed Request-Line");
	}
}

Test(sipmsg, rejects_malformed_request_uris)
{
	static const char *const uris[] = {
		"<sip:user@example.com>",
		"sip:user@example.com;\tlr",
		"sip:user@example.com?Route=%3Csip:example.com%3E",
		"sip:user@exa mple.com",
		"sip:user@",
		"sip:user@example.com:99999",
		"sip:%zz@example.com",
		"1abc:opaque",
		"nobody:",
	};
	char buf[512];

	for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
		struct sipmsg m;

		snprintf(buf, sizeof(buf),
			 "INVITE %s SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK1\r\n"
			 "Call-ID: x@y\r\nCSeq: 1 INVITE\r\nFrom: "
			 "<sip:a@b>;tag=1\r\n"
			 "To: <sip:c@d>\r\n\r\n",
			 uris[i]);
		cr_assert_eq(parse(&m, buf, 0), -EBADMSG, "%s", uris[i]);
		cr_assert_fault(m, "Malformed Request-URI");
	}
}

Test(sipmsg, accepts_tel_sips_and_other_scheme_request_uris)
{
	static const char *const uris[] = {
		"tel:+1-212-555-0100",
		"sips:alice@atlanta.example.com;transport=tcp",
		"sip:[2001:db8::10]:5070;lr",
		"soap.beep://192.0.2.103:3002",
		"nobodyKnowsThisScheme:totallyopaquecontent",
		"sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/"
		";;*:&it+has=1,"
		"weird!*pas$wo~d_too.(doesn't-it)@example.com",
	};
	char buf[512];

	for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
		struct sipmsg m;

		snprintf(buf, sizeof(buf),
			 "OPTIONS %s SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK1\r\n"
			 "Call-ID: x@y\r\nCSeq: 1 OPTIONS\r\nFrom: "
			 "<sip:a@b>;tag=1\r\n"
			 "To: <sip:c@d>\r\n\r\n",
			 uris[i]);
		cr_assert_gt(parse(&m, buf, 0), 0, "%s: %s", uris[i], m.fault);
		cr_assert_slice(m.ruri, uris[i]);
	}
}

Test(sipmsg, treats_escaped_method_name_as_unknown_method)
{
	struct sipmsg m;

	cr_assert_gt(
	    parse(
		&m,
		"RE%47IST%45R sip:registrar.example.com SIP/2.0\r\n"
		"To: \"%Z%45\" <sip:resource@example.com>\r\n"
		"From: \"%Z%45\" <sip:resource@example.com>;tag=f232jadfj23\r\n"
		"Call-ID: esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf\r\n"
		"Via: SIP/2.0/TCP "
		"host.example.com;branch=z9hG4bK209%fzsnel234\r\n"
		"CSeq: 29344 RE%47IST%45R\r\n"
		"\r\n",
		0),
	    0);
	cr_assert_eq(m.method, SIP_METHOD_OTHER);
	cr_assert_slice(m.method_name, "RE%47IST%45R");
	cr_assert_eq(m.cseq_method, SIP_METHOD_OTHER);
	cr_assert_slice(m.via.branch, "z9hG4bK209%fzsnel234");
}

Test(sipmsg, looks_up_methods_case_sensitively)
{
	for (int i = SIP_ACK; i < SIP_METHOD__COUNT; i++) {
		struct slice name = sip_method_name(i);

		cr_assert_gt(name.len, 0);
		cr_assert_eq((int)sip_method_lookup(name), i);
	}
	cr_assert_eq(sip_method_lookup(SLICE_LIT("invite")), SIP_METHOD_OTHER);
	cr_assert_eq(sip_method_lookup(SLICE_LIT("INVITEX")), SIP_METHOD_OTHER);
	cr_assert_eq(sip_method_lookup(SLICE_LIT("INF")), SIP_METHOD_OTHER);
	cr_assert_eq(sip_method_lookup(SLICE_LIT("")), SIP_METHOD_OTHER);
	cr_assert_eq(sip_method_name(SIP_METHOD_OTHER).len, 0);
}

Test(sipmsg, keeps_versions_other_than_2_0_for_the_core)
{
	struct sipmsg m;

	cr_assert_gt(
	    parse(&m,
		  "OPTIONS sip:t.watson@example.org SIP/7.0\r\n"
		  "Via:     SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw\r\n"
		  "From:    A. Bell <sip:a.g.bell@example.com>;tag=qweoiqpe\r\n"
		  "To:      T. Watson <sip:t.watson@example.org>\r\n"
		  "Call-ID: badvers.31417@c.example.com\r\n"
		  "CSeq:    1 OPTIONS\r\n\r\n",
		  0),
	    0);
	cr_assert_slice(m.version, "SIP/7.0");
	cr_assert_slice(m.via.proto, "SIP/7.0");
}

Test(sipmsg, limits_cseq_to_32_bits)
{
	struct sipmsg m;

	cr_assert_gt(parse(&m,
			   "OPTIONS sip:a@b SIP/2.0\r\n"
			   "Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK1\r\n"
			   "Call-ID: x@y\r\nCSeq: 4294967295 OPTIONS\r\n"
			   "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\n\r\n",
			   0),
		     0);
	cr_assert_eq(m.cseq, 4294967295u);
	cr_assert_eq(parse(&m,
			   "OPTIONS sip:a@b SIP/2.0\r\n"
			   "Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK1\r\n"
			   "Call-ID: x@y\r\nCSeq: 4294967296 OPTIONS\r\n"
			   "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\n\r\n",
			   0),
		     -EBADMSG);
	cr_assert_fault(m, "Malformed CSeq");
	cr_assert_eq(m.cseq, 0);
	cr_assert_eq(
	    parse(&m,
		  "OPTIONS sip:a@b SIP/2.0\r\n"
		  "Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK1\r\n"
		  "Call-ID: x@y\r\nCSeq: 36893488147419103232 OPTIONS\r\n"
		  "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\n\r\n",
		  0),
	    -EBADMSG);
	cr_assert_fault(m, "Malformed CSeq");
}

Test(sipmsg, rejects_malformed_cseq_values)
{
	static const char *const values[] = {
		"1",	      "OPTIONS",	 "1OPTIONS",
		"-1 OPTIONS", "1 OPTIONS extra", "1 OPT\"IONS",
		"",
	};
	char buf[512];

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		struct sipmsg m;

		snprintf(buf, sizeof(buf),
			 "OPTIONS sip:a@b SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK1\r\n"
			 "Call-ID: x@y\r\nCSeq: %s\r\n"
			 "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\n\r\n",
			 values[i]);
		cr_assert_eq(parse(&m, buf, 0), -EBADMSG, "%s", values[i]);
		cr_assert_fault(m, "Malformed CSeq");
	}
}

Test(sipmsg, flags_cseq_method_that_differs_from_request_method)
{
	struct sipmsg m;

	cr_assert_eq(parse(&m,
			   "NEWMETHOD sip:user@example.com SIP/2.0\r\n"
			   "Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK1\r\n"
			   "Call-ID: x@y\r\nCSeq: 8 INVITE\r\n"
			   "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\n\r\n",
			   0),
		     -EBADMSG);
	cr_assert_fault(m, "CSeq Method Mismatch");
	/* The core decides between 400 and 501 from these. */
	cr_assert_eq(m.method, SIP_METHOD_OTHER);
	cr_assert_eq(m.cseq_method, SIP_INVITE);
	cr_assert_gt(m.len, 0);
}

Test(sipmsg, limits_max_forwards_to_255_and_allows_it_absent)
{
	struct sipmsg m;

	cr_assert_gt(parse(&m, REQ_HEAD "Max-Forwards: 255\r\n\r\n", 0), 0);
	cr_assert_eq(m.max_forwards, 255);
	cr_assert_gt(parse(&m, REQ_HEAD "Max-Forwards: 0\r\n\r\n", 0), 0);
	cr_assert_eq(m.max_forwards, 0);
	cr_assert_gt(parse(&m, REQ_HEAD "\r\n", 0), 0);
	cr_assert_eq(m.max_forwards, -1);
	cr_assert_eq(parse(&m, REQ_HEAD "Max-Forwards: 256\r\n\r\n", 0),
		     -EBADMSG);
	cr_assert_fault(m, "Malformed Max-Forwards");
	cr_assert_eq(parse(&m, REQ_HEAD "Max-Forwards: 300\r\n\r\n", 0),
		     -EBADMSG);
	cr_assert_eq(parse(&m, REQ_HEAD "Max-Forwards: -1\r\n\r\n", 0),
		     -EBADMSG);
	cr_assert_eq(parse(&m, REQ_HEAD "Max-Forwards: 7 0\r\n\r\n", 0),
		     -EBADMSG);
}

Test(sipmsg, rejects_duplicate_single_value_headers)
{
	static const struct {
		const char *extra, *fault;
	} cases[] = {
		{ "From: <sip:x@y>;tag=2\r\n", "Duplicate From" },
		{ "t: <sip:x@y>\r\n", "Duplicate To" },
		{ "i: other@y\r\n", "Duplicate Call-ID" },
		{ "CSeq: 63105 OPTIONS\r\n", "Duplicate CSeq" },
		{ "Max-Forwards: 70\r\nMax-Forwards: 5\r\n",
		  "Duplicate Max-Forwards" },
		{ "Content-Length: 0\r\nl: 5\r\n", "Duplicate Content-Length" },
	};
	char buf[1024];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sipmsg m;

		snprintf(buf, sizeof(buf), REQ_HEAD "%s\r\nhello",
			 cases[i].extra);
		cr_assert_eq(parse(&m, buf, 0), -EBADMSG, "%s", cases[i].extra);
		cr_assert_fault(m, cases[i].fault);
	}
}

Test(sipmsg, accepts_repeated_content_length_with_the_same_value)
{
	struct sipmsg m;

	cr_assert_gt(parse(&m,
			   REQ_HEAD "Content-Length: 5\r\nl: 005\r\n\r\nhello",
			   SIPMSG_STREAM),
		     0);
	cr_assert_eq(m.content_length, 5);
	cr_assert_slice(m.body, "hello");
}

Test(sipmsg, reports_each_missing_mandatory_header)
{
	static const struct {
		const char *drop, *fault;
	} cases[] = {
		{ "Via:", "Missing Via" },   { "From:", "Missing From" },
		{ "To:", "Missing To" },     { "Call-ID:", "Missing Call-ID" },
		{ "CSeq:", "Missing CSeq" },
	};
	static const char full[] = REQ_HEAD "\r\n";

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[1024], *line, *eol;
		struct sipmsg m;

		strcpy(buf, full);
		line = strstr(buf, cases[i].drop);
		cr_assert_not_null(line);
		eol = strchr(line, '\n') + 1;
		memmove(line, eol, strlen(eol) + 1);
		cr_assert_eq(parse(&m, buf, 0), -EBADMSG);
		cr_assert_fault(m, cases[i].fault);
	}
}

Test(sipmsg, checks_every_via_element)
{
	struct sipmsg m;

	cr_assert_gt(
	    parse(&m,
		  REQ_HEAD
		  "Via: SIP/2.0/TCP a.example.com;branch=z9hG4bKa,"
		  " SIP/2.0/UDP [2001:db8::1]:5062;branch=z9hG4bKb\r\n\r\n",
		  0),
	    0);
	cr_assert_eq(parse(&m,
			   "OPTIONS sip:a@b SIP/2.0\r\n"
			   "Via: SIP/2.0/UDP ok.example.com;branch=z9hG4bK1, "
			   "SIP/2.0/UDP 192.0.2.15;;,;,,\r\n"
			   "Call-ID: x@y\r\nCSeq: 1 OPTIONS\r\n"
			   "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\n\r\n",
			   0),
		     -EBADMSG);
	cr_assert_fault(m, "Malformed Via");
	/* The first element was fine and is kept for the 400. */
	cr_assert_slice(m.via.host, "ok.example.com");
	cr_assert_eq(parse(&m, REQ_HEAD "Via:\r\n\r\n", 0), -EBADMSG);
	cr_assert_fault(m, "Malformed Via");
}

Test(sipmsg, checks_contacts)
{
	struct sipmsg m;

	cr_assert_gt(parse(&m, REQ_HEAD "Contact: *\r\n\r\n", 0), 0);
	cr_assert_gt(
	    parse(&m,
		  REQ_HEAD
		  "m: \"Quoted string \\\"\\\"\" <sip:jdrosen@example.com> ;"
		  " newparam =\r\n      newvalue ;\r\n  secondparam ; q = "
		  "0.33\r\n\r\n",
		  0),
	    0, "%s", m.fault);
	cr_assert_gt(parse(&m,
			   REQ_HEAD "M: "
				    "<sip:user@example.com?Route=%3Csip:sip."
				    "example.com%3E>\r\n\r\n",
			   0),
		     0);
	cr_assert_eq(
	    parse(
		&m,
		REQ_HEAD
		"Contact: "
		"sip:user@example.com?Route=%3Csip:sip.example.com%3E\r\n\r\n",
		0),
	    -EBADMSG);
	cr_assert_fault(m, "Malformed Contact");
	cr_assert_eq(parse(&m,
			   REQ_HEAD
			   "Contact: \"Joe\" <sip:joe@example.org>;;;;\r\n\r\n",
			   0),
		     -EBADMSG);
	cr_assert_fault(m, "Malformed Contact");
	cr_assert_eq(
	    parse(&m, REQ_HEAD "Contact: <sip:a@b>, <sip:c@d\r\n\r\n", 0),
	    -EBADMSG);
	cr_assert_fault(m, "Malformed Contact");
}

Test(sipmsg, rejects_malformed_from_and_to)
{
	static const struct {
		const char *hdr, *fault;
	} cases[] = {
		{ "To: \"Mr. J. User <sip:j.user@example.com>",
		  "Malformed To" },
		{ "To: \"Watson, Thomas\" < sip:t.watson@example.org >",
		  "Malformed To" },
		{ "From: Bell, Alexander <sip:a.g.bell@example.com>;tag=43",
		  "Malformed From" },
		{ "From: <sip:a@b>;tag", "Malformed From" },
		{ "From: <sip:a@b>;tag=1;;", "Malformed From" },
		{ "To: <>", "Malformed To" },
		{ "To: ", "Malformed To" },
	};
	char buf[1024];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *name = cases[i].hdr[0] == 'T' ? "To:" : "From:";
		char *line, *eol;
		struct sipmsg m;

		strcpy(buf, REQ_HEAD "\r\n");
		line = strstr(buf, name);
		eol = strstr(line, "\r\n");
		memmove(line + strlen(cases[i].hdr), eol, strlen(eol) + 1);
		memcpy(line, cases[i].hdr, strlen(cases[i].hdr));
		cr_assert_eq(parse(&m, buf, 0), -EBADMSG, "%s", cases[i].hdr);
		cr_assert_fault(m, cases[i].fault);
	}
}

Test(sipmsg, rejects_malformed_call_id)
{
	struct sipmsg m;
	char buf[1024];

	strcpy(buf, REQ_HEAD "\r\n");
	memcpy(strstr(buf, "3848276298220188511@"), "38482 ", 6);
	cr_assert_eq(parse(&m, buf, 0), -EBADMSG);
	cr_assert_fault(m, "Malformed Call-ID");
	cr_assert_gt(
	    parse(&m,
		  "OPTIONS sip:a@b SIP/2.0\r\n"
		  "Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK1\r\n"
		  "Call-ID: intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{\r\n"
		  "CSeq: 1 OPTIONS\r\n"
		  "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\n\r\n",
		  0),
	    0);
	cr_assert_slice(m.call_id,
			"intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
}

Test(sipmsg, frames_datagram_body_by_content_length)
{
	static const char msg[] =
	    REQ_HEAD "Content-Length: 5\r\n\r\nhelloINVITE trailing";
	struct sipmsg m;
	int ret = parse(&m, msg, 0);

	/* RFC 3261 §18.3: octets past Content-Length are discarded. */
	cr_assert_eq(ret, (int)strlen(msg) - (int)strlen("INVITE trailing"));
	cr_assert_eq(m.len, (size_t)ret);
	cr_assert_slice(m.body, "hello");
}

Test(sipmsg, takes_rest_of_datagram_as_body_without_content_length)
{
	static const char msg[] = REQ_HEAD "\r\nv=0\r\n";
	struct sipmsg m;

	cr_assert_eq(parse(&m, msg, 0), (int)strlen(msg));
	cr_assert_eq(m.content_length, -1);
	cr_assert_slice(m.body, "v=0\r\n");
}

Test(sipmsg, rejects_content_length_larger_than_datagram)
{
	static const char msg[] =
	    REQ_HEAD "Content-Length: 9999\r\n\r\nv=0\r\n";
	struct sipmsg m;

	cr_assert_eq(parse(&m, msg, 0), -EBADMSG);
	cr_assert_fault(m, "Bad Content-Length");
	cr_assert_eq(m.len, strlen(msg));
	cr_assert_slice(m.body, "v=0\r\n");
}

Test(sipmsg, rejects_content_length_that_is_not_a_number)
{
	static const char *const values[] = { "-999", "1a",
					      "",     "+5",
					      "5 5",  "99999999999999999999" };
	char buf[1024];

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		struct sipmsg m;

		snprintf(buf, sizeof(buf),
			 REQ_HEAD "Content-Length: %s\r\n\r\nv=0\r\n",
			 values[i]);
		cr_assert_eq(parse(&m, buf, 0), -EBADMSG, "%s", values[i]);
		cr_assert_fault(m, "Bad Content-Length");
		/* A stream cannot be resynchronised after it. */
		cr_assert_eq(parse(&m, buf, SIPMSG_STREAM), -EBADMSG);
		cr_assert_eq(m.len, 0);
	}
}

Test(sipmsg, requires_content_length_on_stream)
{
	struct sipmsg m;

	cr_assert_eq(parse(&m, REQ_HEAD "\r\n", SIPMSG_STREAM), -EBADMSG);
	cr_assert_fault(m, "Missing Content-Length");
	cr_assert_eq(m.len, 0);
}

Test(sipmsg, asks_for_more_bytes_on_incomplete_stream)
{
	static const char *const msgs[] = {
		REQ_HEAD "Content-Length: 5\r\n\r\nhello",
		REQ_HEAD "Content-Length: 0\r\n\r\n",
		REQ_HEAD "l:0\n\n",
	};

	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		size_t len = strlen(msgs[i]);
		struct sipmsg m;

		for (size_t n = 0; n < len; n++) {
			char *g = guard_copy(msgs[i], n);

			cr_assert_eq(sipmsg_parse(&m, g, n, hdrs, MAX_HDRS,
						  SIPMSG_STREAM),
				     -EAGAIN, "prefix of %zu bytes", n);
			guard_free(g);
		}
		cr_assert_eq(parse_n(&m, msgs[i], len, MAX_HDRS, SIPMSG_STREAM),
			     (int)len);
	}
}

Test(sipmsg, never_reads_past_the_end_of_any_prefix_of_a_datagram)
{
	size_t len = strlen(invite_routes);
	struct sipmsg m;

	for (size_t n = 0; n <= len; n++) {
		char *g = guard_copy(invite_routes, n);
		int ret = sipmsg_parse(&m, g, n, hdrs, MAX_HDRS, 0);

		cr_assert(ret == -EBADMSG || ret > 0, "prefix %zu: %d", n, ret);
		if (ret < 0)
			cr_assert_not_null(m.fault);
		guard_free(g);
	}
}

Test(sipmsg, frames_consecutive_messages_on_a_stream)
{
	static const char two[] =
	    REQ_HEAD "Content-Length: 2\r\n\r\nab" REQ_HEAD
		     "Content-Length: 3\r\n\r\ncde";
	size_t len = strlen(two);
	const char *g = guarded(two, len);
	struct sipmsg m;
	int first, second;

	first = sipmsg_parse(&m, g, len, hdrs, MAX_HDRS, SIPMSG_STREAM);
	cr_assert_gt(first, 0);
	cr_assert_slice(m.body, "ab");
	second = sipmsg_parse(&m, g + first, len - (size_t)first, hdrs,
			      MAX_HDRS, SIPMSG_STREAM);
	cr_assert_eq((size_t)first + (size_t)second, len);
	cr_assert_slice(m.body, "cde");
}

Test(sipmsg, returns_e2big_when_the_header_array_is_full)
{
	static const char msg[] =
	    REQ_HEAD "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
	struct sipmsg m;

	cr_assert_eq(parse_n(&m, msg, strlen(msg), 3, 0), -E2BIG);
	cr_assert_fault(m, "Too Many Headers");
	cr_assert_eq(m.nhdrs, 3);
	/* Eager fields past the array are still read. */
	cr_assert_eq(m.cseq, 63104);
	cr_assert_eq(m.max_forwards, 70);
	cr_assert_eq(m.len, strlen(msg));
	cr_assert_eq(parse_n(&m, msg, strlen(msg), 8, 0), (int)strlen(msg));
}

Test(sipmsg, rejects_empty_and_headerless_datagrams)
{
	struct sipmsg m;

	cr_assert_eq(parse(&m, "\r\n\r\n", 0), -EBADMSG);
	cr_assert_fault(m, "Empty Message");
	cr_assert_eq(parse(&m, "\r\n\r\n", SIPMSG_STREAM), -EAGAIN);
	cr_assert_eq(parse(&m, REQ_HEAD, 0), -EBADMSG);
	cr_assert_fault(m, "Missing Empty Line");
	cr_assert_eq(parse(&m, "OPTIONS sip:a@b SIP/2.0", 0), -EBADMSG);
	cr_assert_not_null(m.fault);
}

Test(sipmsg, frames_stream_by_content_length)
{
	static const char msg[] = "INVITE sip:a@b SIP/2.0\r\nVia: x\r\n"
				  "content-LENGTH : 4\r\n\r\nbody";
	static const char compact[] = "INVITE sip:a@b SIP/2.0\r\nVia: x\r\n"
				      "L:\r\n 4\r\n\r\nbodyNEXT";
	const char *fault = NULL;
	size_t len = strlen(msg);

	cr_assert_eq(sipmsg_frame(guarded(msg, len), len, 8192, 65536, &fault),
		     (int)len);
	cr_assert_eq(sipmsg_frame(guarded(compact, strlen(compact)),
				  strlen(compact), 8192, 65536, &fault),
		     (int)strlen(compact) - 4);
	for (size_t n = 0; n < len; n++) {
		char *g = guard_copy(msg, n);

		cr_assert_eq(sipmsg_frame(g, n, 8192, 65536, &fault), -EAGAIN,
			     "prefix %zu", n);
		guard_free(g);
	}
}

Test(sipmsg, frame_enforces_size_limits)
{
	static const char msg[] = "INVITE sip:a@b SIP/2.0\r\nVia: x\r\n"
				  "Content-Length: 100\r\n\r\n";
	const char *fault = NULL;
	size_t len = strlen(msg);
	const char *g = guarded(msg, len);

	cr_assert_eq(sipmsg_frame(g, len, 16, 65536, &fault), -EMSGSIZE);
	cr_assert_eq(sipmsg_frame(g, len, len - 1, 65536, &fault), -EMSGSIZE);
	cr_assert_eq(sipmsg_frame(g, len, len, 65536, &fault), -EAGAIN);
	cr_assert_eq(sipmsg_frame(g, len, 8192, 99, &fault), -EMSGSIZE);
	cr_assert_eq(sipmsg_frame(g, len, 8192, 100, &fault), -EAGAIN);
}

Test(sipmsg, frame_rejects_missing_bad_or_conflicting_content_length)
{
	static const struct {
		const char *text, *fault;
	} cases[] = {
		{ "INVITE sip:a@b SIP/2.0\r\nVia: x\r\n\r\n",
		  "Missing Content-Length" },
		{ "INVITE sip:a@b SIP/2.0\r\nContent-Length: -999\r\n\r\n",
		  "Bad Content-Length" },
		{ "INVITE sip:a@b SIP/2.0\r\nl: 13\r\nContent-Length: "
		  "5\r\n\r\n",
		  "Duplicate Content-Length" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *fault = NULL;
		size_t len = strlen(cases[i].text);

		cr_assert_eq(sipmsg_frame(guarded(cases[i].text, len), len,
					  8192, 65536, &fault),
			     -EBADMSG);
		cr_assert_str_eq(fault, cases[i].fault);
	}
}

Test(sipmsg, frame_ignores_content_length_in_the_start_line_and_body)
{
	static const char msg[] = "Content-Length: 99 sip:a@b SIP/2.0\r\n"
				  "l: 20\r\n\r\nContent-Length: 1\r\n\r\n";
	const char *fault = NULL;
	size_t len = strlen(msg);

	cr_assert_eq(sipmsg_frame(guarded(msg, len), len, 8192, 65536, &fault),
		     (int)len - 1);
}

Test(sipmsg, peeks_call_id_in_long_and_compact_form)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "INVITE sip:a@b SIP/2.0\r\nVia: x\r\nCall-ID: "
		  "abc@host\r\n\r\n",
		  "abc@host" },
		{ "INVITE sip:a@b SIP/2.0\r\nVia: x\r\ni:abc\r\n\r\n", "abc" },
		{ "\r\nSIP/2.0 200 OK\nCALL-id  :   xyz \n\n", "xyz" },
		{ "INVITE sip:a@b SIP/2.0\r\nCall-Info: <x>\r\ncall-id:\r\n"
		  "  folded@id\r\n\r\n",
		  "folded@id" },
		{ "INVITE sip:a@b SIP/2.0\r\nIn-Reply-To: q\r\nI: last",
		  "last" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct slice id;
		size_t len = strlen(cases[i].text);

		cr_assert_eq(
		    sipmsg_peek_call_id(guarded(cases[i].text, len), len, &id),
		    0, "%s", cases[i].text);
		cr_assert_slice(id, cases[i].want);
	}
}

Test(sipmsg, peek_finds_no_call_id_outside_the_header_block)
{
	static const char *const texts[] = {
		"INVITE sip:a@b SIP/2.0\r\nVia: x\r\n\r\nCall-ID: body\r\n",
		"Call-ID: startline\r\nVia: x\r\n\r\n",
		"M sip:a@b SIP/2.0\r\nX-Call-ID: n\r\nCall-IDs: n\r\n\r\n",
		"INVITE sip:a@b SIP/2.0\r\nCall-ID:\r\nVia: x\r\n\r\n",
		"",
		"INVITE sip:a@b SIP/2.0",
	};

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct slice id;
		size_t len = strlen(texts[i]);

		cr_assert_eq(
		    sipmsg_peek_call_id(guarded(texts[i], len), len, &id),
		    -ENOENT, "%s", texts[i]);
	}
}

Test(sipmsg, accepts_null_empty_buffers)
{
	struct sipmsg m;
	struct slice id;
	const char *fault = NULL;

	cr_assert_eq(sipmsg_parse(&m, NULL, 0, hdrs, MAX_HDRS, 0), -EBADMSG);
	cr_assert_eq(sipmsg_parse(&m, NULL, 0, hdrs, MAX_HDRS, SIPMSG_STREAM),
		     -EAGAIN);
	cr_assert_eq(sipmsg_peek_call_id(NULL, 0, &id), -ENOENT);
	cr_assert_eq(sipmsg_frame(NULL, 0, 8192, 65536, &fault), -EAGAIN);
}

Test(sipmsg, splits_from_and_to_into_user_and_host)
{
	char buf[SIPMSG_AOR_MAX];
	struct slice user, host;
	struct sipmsg m;

	cr_assert_gt(
	    parse(&m,
		  "OPTIONS sip:bob@biloxi.example.com SIP/2.0\r\n"
		  "Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK7\r\n"
		  "To: \"Bob\" <sip:b%6Fb@Biloxi.Example.COM:5070>\r\n"
		  "From: sip:alice@[::1];tag=9f\r\n"
		  "Call-ID: 38@pc33\r\n"
		  "CSeq: 1 OPTIONS\r\n\r\n",
		  0),
	    0);
	cr_assert_eq(sipmsg_hdr_aor(&m, HDR_TO, buf, sizeof(buf), &user, &host),
		     (int)strlen("bob@biloxi.example.com"));
	cr_assert_slice(user, "bob");
	cr_assert_slice(host, "biloxi.example.com");
	cr_assert_eq(
	    sipmsg_hdr_aor(&m, HDR_FROM, buf, sizeof(buf), NULL, &host),
	    (int)strlen("alice@[::1]"));
	cr_assert_slice(host, "[::1]");
	cr_assert_eq(
	    sipmsg_hdr_aor(&m, HDR_CONTACT, buf, sizeof(buf), NULL, NULL),
	    -EBADMSG);
	cr_assert_eq(sipmsg_hdr_aor(&m, HDR_TO, buf, 4, NULL, NULL), -ENOSPC);
	/* At the last @, as the location table splits. */
	cr_assert(sipmsg_aor_split(SLICE_LIT("a@b@c"), &user, &host));
	cr_assert_slice(user, "a@b");
	cr_assert_slice(host, "c");
	cr_assert_not(sipmsg_aor_split(SLICE_LIT("nohost"), &user, &host));
	cr_assert_slice(user, "nohost");
	cr_assert_eq(host.len, 0);
}

Test(sipmsg, finds_option_tags_in_any_header_of_a_kind)
{
	struct sipmsg m;

	cr_assert_gt(parse(&m,
			   REQ_HEAD "Supported: path, GRUU\r\n"
				    "Supported: outbound\r\n"
				    "Require: 100rel\r\n\r\n",
			   0),
		     0);
	cr_assert(sipmsg_hdr_has_tag(&m, HDR_SUPPORTED, "gruu"));
	cr_assert(sipmsg_hdr_has_tag(&m, HDR_SUPPORTED, "outbound"));
	cr_assert(sipmsg_hdr_has_tag(&m, HDR_REQUIRE, "100rel"));
	cr_assert_not(sipmsg_hdr_has_tag(&m, HDR_SUPPORTED, "100rel"));
	cr_assert_not(sipmsg_hdr_has_tag(&m, HDR_PROXY_REQUIRE, "path"));
}
