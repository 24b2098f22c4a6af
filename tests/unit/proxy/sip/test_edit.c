/* tests/unit/proxy/sip/test_edit.c - edit list and one-pass serialiser */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "proxy/base/arena.h"
#include "proxy/base/obj.h"
#include "proxy/sip/edit.h"
#include "proxy/sip/msg.h"
#include "tests/unit/msgin.h"
#include "tests/common/teardown.h"

#define MAXH 64

static struct sipmsg m;
static struct siphdr hdrs[MAXH];
static struct sipmsg m2; /* the output, parsed again */
static struct siphdr hdrs2[MAXH];

TestSuite(edit, .init = msgin_init, .fini = msgin_fini, .timeout = 10);

static void parse_in(const char *text)
{
	size_t len = strlen(text);
	int ret;

	ret = sipmsg_parse(&m, msgin_copy(text, len), len, hdrs, MAXH, 0);
	cr_assert_gt(ret, 0, "input does not parse: %d %s", ret,
		     m.fault ? m.fault : "");
	cr_assert_null(m.fault);
}

/* Print @p el and parse the result again into m2. */
static struct slice print_and_parse(const struct edit_list *el)
{
	struct slice out;

	cr_assert_eq(edit_print_arena(el, msgin_arena, &out), 0);
	cr_assert_eq(out.len, edit_len(el));
	msgin_reparse(out.p, out.len, &m2, hdrs2, MAXH, "output");
	return out;
}

static void assert_slice(struct slice s, const char *want)
{
	msgin_expect_str(s.p, s.len, want);
}

/* The headers of m2, in order, are exactly want[i][0]: want[i][1]. */
static void assert_headers(const char *const (*want)[2], unsigned n)
{
	cr_assert_eq(m2.nhdrs, n, "%u headers, want %u", m2.nhdrs, n);
	for (unsigned i = 0; i < n; i++) {
		assert_slice(m2.hdrs[i].name, want[i][0]);
		assert_slice(m2.hdrs[i].value, want[i][1]);
	}
}

static const char invite_route[] =
    "INVITE sip:bob@proxy.example.com;lr SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds\r\n"
    "Max-Forwards: 70\r\n"
    "Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n"
    "Route: <sip:p3.example.com;lr>\r\n"
    "To: Bob <sip:bob@example.com>\r\n"
    "From: Alice <sip:alice@example.net>;tag=1928301774\r\n"
    "Call-ID: a84b4c76e66710@pc33.example.net\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:alice@192.0.2.10>\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 4\r\n"
    "\r\n"
    "v=0\n";

static const char invite_multivia[] =
    "INVITE sip:bob@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bKa, SIP/2.0/UDP "
    "b.example.com;branch=z9hG4bKb\r\n"
    "v: SIP/2.0/TCP c.example.com;branch=z9hG4bKc\r\n"
    "Record-Route: <sip:rr1.example.com;lr>\r\n"
    "Max-Forwards: 69\r\n"
    "To: <sip:bob@example.com>\r\n"
    "f: <sip:alice@example.net>;tag=88\r\n"
    "i: multivia@example.net\r\n"
    "CSeq: 1 INVITE\r\n"
    "l: 0\r\n"
    "\r\n";

static const char reg[] =
    "REGISTER sip:example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.20:5070;rport;branch=z9hG4bKreg1\r\n"
    "Max-Forwards: 70\r\n"
    "To: <sip:carol@example.com>\r\n"
    "From: <sip:carol@example.com>;tag=456248\r\n"
    "Call-ID: 843817637684230@998sdasdh09\r\n"
    "CSeq: 1826 REGISTER\r\n"
    "Contact: <sip:carol@192.0.2.20:5070>\r\n"
    "Expires: 7200\r\n"
    "\r\n";

Test(edit, prints_the_message_unchanged_without_edits)
{
	struct edit_list *el;
	struct slice out;

	parse_in(invite_route);
	cr_assert_eq(edit_new(msgin_arena, &m, &el), 0);
	cr_assert_eq(edit_count(el), 0);
	cr_assert_eq(edit_print_arena(el, msgin_arena, &out), 0);
	assert_slice(out, invite_route);
}

Test(edit, changes_ruri_adds_via_and_pops_route_in_one_pass)
{
	static const char *const want[][2] = {
		{ "Via", "SIP/2.0/UDP 198.51.100.1;branch=z9hG4bKnew1" },
		{ "Via",
		  "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds" },
		{ "Record-Route", "<sip:198.51.100.1;lr>" },
		{ "Max-Forwards", "69" },
		{ "Route", "<sip:p2.example.com;lr>" },
		{ "Route", "<sip:p3.example.com;lr>" },
		{ "To", "Bob <sip:bob@example.com>" },
		{ "From", "Alice <sip:alice@example.net>;tag=1928301774" },
		{ "Call-ID", "a84b4c76e66710@pc33.example.net" },
		{ "CSeq", "314159 INVITE" },
		{ "Contact", "<sip:alice@192.0.2.10>" },
		{ "Content-Type", "application/sdp" },
		{ "Content-Length", "4" },
	};
	struct edit_list *el;

	parse_in(invite_route);
	cr_assert_eq(edit_new(msgin_arena, &m, &el), 0);
	cr_assert_eq(edit_set_ruri(el, SLICE_LIT("sip:bob@192.0.2.99:5070")),
		     0);
	cr_assert_eq(edit_pop_route(el), 0);
	cr_assert_eq(
	    edit_set_hdr(el, sipmsg_hdr(&m, HDR_MAX_FORWARDS), SLICE_LIT("69")),
	    0);
	cr_assert_eq(edit_add_via(el, SLICE_LIT("SIP/2.0/UDP 198.51.100.1;"
						"branch=z9hG4bKnew1")),
		     0);
	/* No Record-Route yet: it goes after the Via block. */
	cr_assert_eq(
	    edit_add_record_route(el, SLICE_LIT("<sip:198.51.100.1;lr>")), 0);
	cr_assert_eq(edit_count(el), 5);
	print_and_parse(el);
	assert_slice(m2.method_name, "INVITE");
	assert_slice(m2.ruri, "sip:bob@192.0.2.99:5070");
	assert_headers(want, sizeof(want) / sizeof(want[0]));
	assert_slice(m2.body, "v=0\n");
	assert_slice(m2.via.branch, "z9hG4bKnew1");
	cr_assert_eq(m2.max_forwards, 69);
}

Test(edit, pops_only_the_first_element_of_a_multi_value_via)
{
	static const char *const want[][2] = {
		{ "Via", "SIP/2.0/UDP b.example.com;branch=z9hG4bKb" },
		{ "v", "SIP/2.0/TCP c.example.com;branch=z9hG4bKc" },
		{ "Record-Route", "<sip:rr1.example.com;lr>" },
		{ "Max-Forwards", "69" },
		{ "To", "<sip:bob@example.com>" },
		{ "f", "<sip:alice@example.net>;tag=88" },
		{ "i", "multivia@example.net" },
		{ "CSeq", "1 INVITE" },
		{ "l", "0" },
	};
	struct edit_list *el;

	parse_in(invite_multivia);
	cr_assert_eq(edit_new(msgin_arena, &m, &el), 0);
	cr_assert_eq(edit_pop_via(el), 0);
	print_and_parse(el);
	assert_headers(want, sizeof(want) / sizeof(want[0]));
	assert_slice(m2.via.host, "b.example.com");
	cr_assert_eq(sipmsg_hdr_count(&m2, HDR_VIA), 2);
}

Test(edit, pops_the_whole_via_line_when_it_has_one_value)
{
	struct edit_list *el;

	parse_in(reg);
	cr_assert_eq(edit_new(msgin_arena, &m, &el), 0);
	cr_assert_eq(edit_pop_via(el), 0);
	cr_assert_eq(edit_len(el), strlen(reg) - m.hdrs[0].line.len);
	/* A response without Via does not parse as a request any more:
	 * check the bytes instead. */
	{
		char buf[sizeof(reg)];
		int n = edit_print(el, buf, sizeof(buf));

		cr_assert_eq(n, (int)(strlen(reg) - m.hdrs[0].line.len));
		cr_assert(memcmp(buf,
				 "REGISTER sip:example.com SIP/2.0\r\n"
				 "Max-Forwards: 70\r\n",
				 52) == 0);
		cr_assert_null(memmem(buf, (size_t)n, "Via", 3));
	}
}

Test(edit, pops_a_route_line_with_one_value)
{
	struct edit_list *el;

	parse_in(invite_route);
	cr_assert_eq(edit_new(msgin_arena, &m, &el), 0);
	cr_assert_eq(edit_pop_route(el), 0);
	/* Popping twice from the same original overlaps: refused. */
	cr_assert_eq(edit_pop_route(el), -EINVAL);
	cr_assert_eq(edit_count(el), 1);
	print_and_parse(el);
	cr_assert_eq(sipmsg_hdr_count(&m2, HDR_ROUTE), 2);
	assert_slice(sipmsg_hdr(&m2, HDR_ROUTE)->value,
		     "<sip:p2.example.com;lr>");
}

Test(edit, pop_without_header_is_enoent)
{
	struct edit_list *el;

	parse_in(reg);
	cr_assert_eq(edit_new(msgin_arena, &m, &el), 0);
	cr_assert_eq(edit_pop_route(el), -ENOENT);
	cr_assert_eq(edit_count(el), 0);
}

Test(edit, record_route_goes_before_the_existing_one)
{
	static const char *const want[][2] = {
		{ "Via", "SIP/2.0/UDP a.example.com;branch=z9hG4bKa, "
			 "SIP/2.0/UDP b.example.com;branch=z9hG4bKb" },
		{ "v", "SIP/2.0/TCP c.example.com;branch=z9hG4bKc" },
		{ "Route", "<sip:next.example;lr>" },
		{ "Record-Route", "<sip:me.example;lr>" },
		{ "Record-Route", "<sip:rr1.example.com;lr>" },
		{ "Max-Forwards", "69" },
		{ "To", "<sip:bob@example.com>" },
		{ "f", "<sip:alice@example.net>;tag=88" },
		{ "i", "multivia@example.net" },
		{ "CSeq", "1 INVITE" },
		{ "l", "0" },
	};
	struct edit_list *el;

	parse_in(invite_multivia);
	cr_assert_eq(edit_new(msgin_arena, &m, &el), 0);
	/* Both go where the old Record-Route starts, in call order. */
	cr_assert_eq(edit_add_route(el, SLICE_LIT("<sip:next.example;lr>")), 0);
	cr_assert_eq(
	    edit_add_record_route(el, SLICE_LIT("<sip:me.example;lr>")), 0);
	print_and_parse(el);
	assert_headers(want, sizeof(want) / sizeof(want[0]));
}

Test(edit, route_without_via_goes_on_top)
{
	static const char resp[] = "SIP/2.0 200 OK\r\n"
				   "To: <sip:bob@example.com>;tag=9\r\n"
				   "From: <sip:alice@example.net>;tag=8\r\n"
				   "Call-ID: novia@x\r\n"
				   "CSeq: 1 INVITE\r\n"
				   "Content-Length: 0\r\n"
				   "\r\n";
	struct edit_list *el;
	char buf[256];
	int n;

	/* Parsed for its header index only; a missing Via is the point. */
	sipmsg_parse(&m, msgin_copy(resp, strlen(resp)), strlen(resp), hdrs,
		     MAXH, 0);
	cr_assert_gt(m.len, 0);
	cr_assert_eq(edit_new(msgin_arena, &m, &el), 0);
	cr_assert_eq(edit_add_record_route(el, SLICE_LIT("<sip:rr;lr>")), 0);
	n = edit_print(el, buf, sizeof(buf));
	cr_assert_eq(n, (int)strlen(resp) + 27);
	cr_assert(memcmp(buf,
			 "SIP/2.0 200 OK\r\nRecord-Route: <sip:rr;lr>\r\n"
			 "To: ",
			 47) == 0);
}

Test(edit, insertions_at_one_place_keep_the_order_they_were_added)
{
	struct edit_list *el;

	parse_in(reg);
	cr_assert_eq(edit_new(msgin_arena, &m, &el), 0);
	cr_assert_eq(edit_add_via(el, SLICE_LIT("SIP/2.0/UDP first.example")),
		     0);
	cr_assert_eq(edit_add_via(el, SLICE_LIT("SIP/2.0/UDP second.example")),
		     0);
	/* Replacing the old top Via is fine: it starts where they go. */
	cr_assert_eq(edit_del_hdr(el, sipmsg_hdr(&m, HDR_VIA)), 0);
	print_and_parse(el);
	cr_assert_eq(sipmsg_hdr_count(&m2, HDR_VIA), 2);
	assert_slice(m2.hdrs[0].value, "SIP/2.0/UDP first.example");
	assert_slice(m2.hdrs[1].value, "SIP/2.0/UDP second.example");
	assert_slice(m2.hdrs[2].name, "Max-Forwards");
}

Test(edit, adds_deletes_and_replaces_headers)
{
	static const char *const want[][2] = {
		{ "Via",
		  "SIP/2.0/UDP 192.0.2.20:5070;rport;branch=z9hG4bKreg1" },
		{ "Max-Forwards", "70" },
		{ "To", "<sip:carol@example.com>" },
		{ "From", "<sip:carol@example.com>;tag=456248" },
		{ "Call-ID", "843817637684230@998sdasdh09" },
		{ "CSeq", "1826 REGISTER" },
		{ "Contact", "<sip:carol@192.0.2.20:5070>;expires=60" },
		{ "Path", "<sip:edge.example.com;lr>" },
		{ "Supported", "path" },
	};
	struct edit_list *el;

	parse_in(reg);
	cr_assert_eq(edit_new(msgin_arena, &m, &el), 0);
	cr_assert_eq(edit_del_hdr(el, sipmsg_hdr(&m, HDR_EXPIRES)), 0);
	cr_assert_eq(edit_set_hdr(el, sipmsg_hdr(&m, HDR_CONTACT),
				  SLICE_LIT("<sip:carol@192.0.2.20:5070>;"
					    "expires=60")),
		     0);
	cr_assert_eq(edit_add_hdr(el, SLICE_LIT("Path"),
				  SLICE_LIT("<sip:edge.example.com;lr>")),
		     0);
	cr_assert_eq(
	    edit_add_hdr(el, SLICE_LIT("Supported"), SLICE_LIT("path")), 0);
	print_and_parse(el);
	assert_headers(want, sizeof(want) / sizeof(want[0]));
	cr_assert_eq(m2.body.len, 0);
}

Test(edit, set_hdr_keeps_the_compact_name)
{
	struct edit_list *el;

	parse_in(invite_multivia);
	cr_assert_eq(edit_new(msgin_arena, &m, &el), 0);
	cr_assert_eq(edit_set_hdr(el, sipmsg_hdr(&m, HDR_CALL_ID),
				  SLICE_LIT("new-call-id@x")),
		     0);
	print_and_parse(el);
	assert_slice(m2.hdrs[6].name, "i");
	assert_slice(m2.call_id, "new-call-id@x");
}

Test(edit, set_body_adds_content_length_when_absent)
{
	struct edit_list *el;

	parse_in(reg);
	cr_assert_eq(edit_new(msgin_arena, &m, &el), 0);
	cr_assert_eq(edit_set_body(el, SLICE_LIT("hello body")), 0);
	print_and_parse(el);
	cr_assert_eq(m2.content_length, 10);
	assert_slice(m2.body, "hello body");
	assert_slice(m2.hdrs[m2.nhdrs - 1].name, "Content-Length");
	assert_slice(m2.hdrs[m2.nhdrs - 1].value, "10");
}

Test(edit, set_body_updates_a_compact_content_length)
{
	struct edit_list *el;

	parse_in(invite_multivia);
	cr_assert_eq(edit_new(msgin_arena, &m, &el), 0);
	cr_assert_eq(
	    edit_set_body(el, SLICE_LIT("v=0\r\no=- 1 1 IN IP4 x\r\n")), 0);
	print_and_parse(el);
	cr_assert_eq(m2.nhdrs, m.nhdrs);
	assert_slice(m2.hdrs[m2.nhdrs - 1].name, "l");
	assert_slice(m2.hdrs[m2.nhdrs - 1].value, "23");
	assert_slice(m2.body, "v=0\r\no=- 1 1 IN IP4 x\r\n");
}

Test(edit, set_body_replaces_an_existing_body)
{
	struct edit_list *el;

	parse_in(invite_route);
	cr_assert_eq(edit_new(msgin_arena, &m, &el), 0);
	cr_assert_eq(edit_set_body(el, SLICE_LIT("")), 0);
	print_and_parse(el);
	cr_assert_eq(m2.content_length, 0);
	cr_assert_eq(m2.body.len, 0);
	cr_assert_eq(m2.nhdrs, m.nhdrs);
}

Test(edit, overlapping_edits_are_refused_and_change_nothing)
{
	struct edit_list *el;
	struct slice before, after;

	parse_in(invite_multivia);
	cr_assert_eq(edit_new(msgin_arena, &m, &el), 0);
	cr_assert_eq(edit_pop_via(el), 0);
	cr_assert_eq(edit_print_arena(el, msgin_arena, &before), 0);
	/* The whole line holds the popped element. */
	cr_assert_eq(edit_del_hdr(el, sipmsg_hdr(&m, HDR_VIA)), -EINVAL);
	cr_assert_eq(edit_set_hdr(el, sipmsg_hdr(&m, HDR_VIA),
				  SLICE_LIT("SIP/2.0/UDP x")),
		     -EINVAL);
	cr_assert_eq(edit_count(el), 1);
	cr_assert_eq(edit_del_hdr(el, sipmsg_hdr(&m, HDR_CSEQ)), 0);
	cr_assert_eq(edit_del_hdr(el, sipmsg_hdr(&m, HDR_CSEQ)), -EINVAL);
	/* set_body would rewrite the Content-Length line deleted here:
	 * nothing of it is applied. */
	cr_assert_eq(edit_del_hdr(el, sipmsg_hdr(&m, HDR_CONTENT_LENGTH)), 0);
	cr_assert_eq(edit_count(el), 3);
	cr_assert_eq(edit_set_body(el, SLICE_LIT("abc")), -EINVAL);
	cr_assert_eq(edit_count(el), 3);
	cr_assert_eq(edit_print_arena(el, msgin_arena, &after), 0);
	cr_assert_eq(after.len,
		     before.len - m.hdrs[7].line.len - m.hdrs[8].line.len);
	cr_assert_null(memmem(after.p, after.len, "CSeq", 4));
	cr_assert_null(memmem(after.p, after.len, "abc", 3));
}

Test(edit, refuses_a_header_of_another_message)
{
	struct edit_list *el;
	struct siphdr other = hdrs[0];

	parse_in(reg);
	cr_assert_eq(edit_new(msgin_arena, &m, &el), 0);
	cr_assert_eq(edit_del_hdr(el, &other), -EINVAL);
	cr_assert_eq(edit_del_hdr(el, NULL), -EINVAL);
	cr_assert_eq(edit_add_via(el, SLICE_LIT("")), -EINVAL);
	cr_assert_eq(edit_add_hdr(el, SLICE_LIT(""), SLICE_LIT("x")), -EINVAL);
	cr_assert_eq(edit_count(el), 0);
}

Test(edit, print_needs_room_for_the_whole_message)
{
	struct edit_list *el;
	char small[64], big[512];
	int n;

	parse_in(reg);
	cr_assert_eq(edit_new(msgin_arena, &m, &el), 0);
	cr_assert_eq(edit_add_hdr(el, SLICE_LIT("X-A"), SLICE_LIT("1")), 0);
	cr_assert_eq(edit_print(el, small, sizeof(small)), -ENOSPC);
	cr_assert_eq(edit_print(el, big, edit_len(el) - 1), -ENOSPC);
	n = edit_print(el, big, edit_len(el));
	cr_assert_eq(n, (int)strlen(reg) + 8);
	cr_assert(memcmp(big + n - 10, "X-A: 1\r\n\r\n", 10) == 0);
}

Test(edit, response_via_pop_leaves_a_parseable_response)
{
	static const char resp[] =
	    "SIP/2.0 180 Ringing\r\n"
	    "Via: SIP/2.0/UDP edge.example.com;branch=z9hG4bKe1\r\n"
	    "Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKu1\r\n"
	    "To: <sip:bob@example.com>;tag=9\r\n"
	    "From: <sip:alice@example.net>;tag=8\r\n"
	    "Call-ID: resp@x\r\n"
	    "CSeq: 1 INVITE\r\n"
	    "Content-Length: 0\r\n"
	    "\r\n";
	struct edit_list *el;

	parse_in(resp);
	cr_assert_eq(edit_new(msgin_arena, &m, &el), 0);
	cr_assert_eq(edit_set_ruri(el, SLICE_LIT("sip:x")), -EINVAL);
	cr_assert_eq(edit_pop_via(el), 0);
	print_and_parse(el);
	cr_assert_eq(m2.status, 180);
	cr_assert_eq(sipmsg_hdr_count(&m2, HDR_VIA), 1);
	assert_slice(m2.via.branch, "z9hG4bKu1");
}

Test(edit, new_refuses_an_unframed_message)
{
	struct sipmsg empty;
	struct edit_list *el = NULL;

	memset(&empty, 0, sizeof(empty));
	cr_assert_eq(edit_new(msgin_arena, &empty, &el), -EINVAL);
	cr_assert_null(el);
}
