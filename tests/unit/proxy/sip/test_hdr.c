/* tests/unit/proxy/sip/test_hdr.c - header ids, comma splitting, params,
 * name-addr, Via */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "proxy/base/obj.h"
#include "proxy/sip/hdr.h"
#include "tests/common/guard.h"
#include "tests/common/teardown.h"

static void teardown(void)
{
	guard_free_kept();
	teardown_check_objs(0);
}

TestSuite(hdr, .fini = teardown, .timeout = 10);

/* @p text as a slice right before a PROT_NONE page, freed at .fini. */
static struct slice g(const char *text)
{
	size_t len = strlen(text);

	return slice_make(guard_keep(text, len), len);
}

static bool eq(struct slice s, const char *c)
{
	return slice_eq(s, slice_cstr(c));
}

#define cr_assert_slice(s, c)                                          \
	cr_assert(eq((s), (c)), "%s is \"%.*s\", expected \"%s\"", #s, \
		  (int)(s).len, (s).p ? (s).p : "", (c))

Test(hdr, finds_every_known_header_in_any_case)
{
	for (int id = 1; id < HDR__COUNT; id++) {
		struct slice name = hdr_name(id);
		char up[64], low[64];

		cr_assert_gt(name.len, 1, "id %d has no name", id);
		cr_assert_lt(name.len, sizeof(up));
		for (size_t i = 0; i < name.len; i++) {
			up[i] = (char)toupper((unsigned char)name.p[i]);
			low[i] = (char)tolower((unsigned char)name.p[i]);
		}
		up[name.len] = low[name.len] = '\0';
		cr_assert_eq((int)hdr_lookup(g(name.p)), id, "%s", name.p);
		cr_assert_eq((int)hdr_lookup(g(up)), id, "%s", up);
		cr_assert_eq((int)hdr_lookup(g(low)), id, "%s", low);
	}
}

Test(hdr, maps_compact_forms_in_either_case)
{
	static const struct {
		char c;
		enum hdr_id id;
	} forms[] = {
		{ 'a', HDR_ACCEPT_CONTACT },
		{ 'b', HDR_REFERRED_BY },
		{ 'c', HDR_CONTENT_TYPE },
		{ 'd', HDR_REQUEST_DISPOSITION },
		{ 'e', HDR_CONTENT_ENCODING },
		{ 'f', HDR_FROM },
		{ 'i', HDR_CALL_ID },
		{ 'j', HDR_REJECT_CONTACT },
		{ 'k', HDR_SUPPORTED },
		{ 'l', HDR_CONTENT_LENGTH },
		{ 'm', HDR_CONTACT },
		{ 'o', HDR_EVENT },
		{ 'r', HDR_REFER_TO },
		{ 's', HDR_SUBJECT },
		{ 't', HDR_TO },
		{ 'u', HDR_ALLOW_EVENTS },
		{ 'v', HDR_VIA },
		{ 'x', HDR_SESSION_EXPIRES },
		{ 'y', HDR_IDENTITY },
	};

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		char lo = forms[i].c, hi = (char)toupper(forms[i].c);

		cr_assert_eq(hdr_lookup(slice_make(&lo, 1)), forms[i].id, "%c",
			     lo);
		cr_assert_eq(hdr_lookup(slice_make(&hi, 1)), forms[i].id, "%c",
			     hi);
	}
	cr_assert_eq(hdr_lookup(SLICE_LIT("g")), HDR_OTHER);
	cr_assert_eq(hdr_lookup(SLICE_LIT("z")), HDR_OTHER);
	cr_assert_eq(hdr_lookup(SLICE_LIT("-")), HDR_OTHER);
}

Test(hdr, returns_other_for_unknown_and_near_miss_names)
{
	static const char *const names[] = {
		"Vias",
		"Vi",
		"C%6Fntact",
		"Call-IDx",
		"Call\rID",
		"Call_ID",
		"Content-Lengtx",
		"ContentXLength",
		"X-Content-Length",
		"Max-Forward",
		"",
		"Authentication-Infos",
		"Record-Route ",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		cr_assert_eq(hdr_lookup(g(names[i])), HDR_OTHER, "%s",
			     names[i]);
	cr_assert_eq(hdr_name(HDR_OTHER).len, 0);
	cr_assert_slice(hdr_name(HDR_CALL_ID), "Call-ID");
	cr_assert_slice(hdr_name(HDR_WWW_AUTHENTICATE), "WWW-Authenticate");
}

/* Split @p text fully; returns the count or a negative error. */
static int split_all(const char *text, struct slice *out, int max)
{
	struct slice rest = g(text), el;
	int n = 0, r;

	while ((r = hdr_split_next(&rest, &el)) == 1) {
		cr_assert_lt(n, max);
		out[n++] = el;
	}
	return r < 0 ? r : n;
}

Test(hdr, splits_comma_lists_and_trims_elements)
{
	struct slice el[8];

	cr_assert_eq(split_all("INVITE,ACK , CANCEL\r\n ,\tBYE", el, 8), 4);
	cr_assert_slice(el[0], "INVITE");
	cr_assert_slice(el[1], "ACK");
	cr_assert_slice(el[2], "CANCEL");
	cr_assert_slice(el[3], "BYE");
	cr_assert_eq(split_all("", el, 8), 0);
	cr_assert_eq(split_all("  \r\n ", el, 8), 0);
	cr_assert_eq(split_all("single", el, 8), 1);
	cr_assert_slice(el[0], "single");
}

Test(hdr, does_not_split_inside_quotes_or_angle_brackets)
{
	struct slice el[8];

	cr_assert_eq(split_all("\"Doe, John\" <sip:jd@example.com>;q=1, "
			       "<sip:a@b;x=1,2>, \"q\\\",\" <sip:c@d>",
			       el, 8),
		     3);
	cr_assert_slice(el[0], "\"Doe, John\" <sip:jd@example.com>;q=1");
	cr_assert_slice(el[1], "<sip:a@b;x=1,2>");
	cr_assert_slice(el[2], "\"q\\\",\" <sip:c@d>");
}

Test(hdr, rejects_broken_comma_lists)
{
	static const char *const lists[] = {
		"a,,b",		 ",a",	     "a,",    "a, \r\n ",
		"\"open, quote", "<sip:a@b", "\"a\\", "<sip:a@b <x>>",
		"a , , b",
	};
	struct slice el[8];

	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		cr_assert_eq(split_all(lists[i], el, 8), -EBADMSG, "%s",
			     lists[i]);
}

Test(hdr, finds_params_case_insensitively_with_lws)
{
	struct slice params =
	    g(" ; Tag = abc ;\r\n  lr ;q=0.5;"
	      "+sip.instance=\"<urn:uuid:f81d4fae>\";maddr=[2001:db8::1]");
	struct slice v;

	cr_assert_eq(hdr_param_find(params, "tag", &v), 1);
	cr_assert_slice(v, "abc");
	cr_assert_eq(hdr_param_find(params, "LR", &v), 1);
	cr_assert_eq(v.len, 0);
	cr_assert_eq(hdr_param_find(params, "q", &v), 1);
	cr_assert_slice(v, "0.5");
	cr_assert_eq(hdr_param_find(params, "+sip.instance", &v), 1);
	cr_assert_slice(v, "\"<urn:uuid:f81d4fae>\"");
	cr_assert_eq(hdr_param_find(params, "maddr", &v), 1);
	cr_assert_slice(v, "[2001:db8::1]");
	cr_assert_eq(hdr_param_find(params, "expires", &v), 0);
	cr_assert_eq(hdr_param_find(params, "ta", &v), 0);
	cr_assert_eq(hdr_param_find(g("tag=1"), "tag", &v), 1);
	cr_assert_slice(v, "1");
	cr_assert_eq(hdr_param_find(g(""), "tag", &v), 0);
}

Test(hdr, rejects_malformed_param_lists)
{
	static const char *const lists[] = {
		";;tag=1", ";tag=",  ";tag=\"open", ";=1",	 ";a b",
		";tag=1;", ";a=<x>", ";a=1 2",	    ";a=\"x\"y",
	};
	struct slice v;

	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		cr_assert_eq(hdr_param_find(g(lists[i]), "zzz", &v), -EBADMSG,
			     "%s", lists[i]);
}

Test(hdr, parses_name_addr_forms)
{
	struct nameaddr na;

	cr_assert_eq(
	    nameaddr_parse(g("\"Alice, A.\" <sip:alice@atlanta.com>;tag=88"),
			   &na),
	    0);
	cr_assert_slice(na.display, "\"Alice, A.\"");
	cr_assert_slice(na.uri, "sip:alice@atlanta.com");
	cr_assert_slice(na.params, ";tag=88");
	cr_assert(na.angle);

	cr_assert_eq(
	    nameaddr_parse(g("token1~` token2'+_ token3*%!.- <sip:m@x.com>"),
			   &na),
	    0);
	cr_assert_slice(na.display, "token1~` token2'+_ token3*%!.-");

	cr_assert_eq(
	    nameaddr_parse(g("caller<sip:caller@example.com>;tag=323"), &na),
	    0);
	cr_assert_slice(na.display, "caller");
	cr_assert_slice(na.uri, "sip:caller@example.com");

	cr_assert_eq(nameaddr_parse(g("<sip:bob@biloxi.com>"), &na), 0);
	cr_assert_eq(na.display.len, 0);
	cr_assert_eq(na.params.len, 0);

	cr_assert_eq(nameaddr_parse(g("J\xc3\xbcrgen <sip:j@example.de>"), &na),
		     0);
}

Test(hdr, treats_params_after_an_addr_spec_as_header_params)
{
	struct nameaddr na;

	cr_assert_eq(
	    nameaddr_parse(g("sip:+19725552222@gw1.example.net;unknownparam"),
			   &na),
	    0);
	cr_assert_not(na.angle);
	cr_assert_slice(na.uri, "sip:+19725552222@gw1.example.net");
	cr_assert_slice(na.params, ";unknownparam");
	cr_assert_eq(
	    nameaddr_parse(
		g("sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n"),
		&na),
	    0);
	cr_assert_slice(na.uri, "sip:vivekg@chair-dnrc.example.com");
	cr_assert_eq(nameaddr_parse(g("isbn:2983792873"), &na), 0);
	cr_assert_slice(na.uri, "isbn:2983792873");
}

Test(hdr, rejects_malformed_name_addrs)
{
	static const char *const values[] = {
		"\"Mr. J. User <sip:j.user@example.com>",
		"\"Watson, Thomas\" < sip:t.watson@example.org >",
		"Bell, Alexander <sip:a.g.bell@example.com>;tag=43",
		"sip:user@example.com?Route=%3Csip:sip.example.com%3E",
		"sip:a@b,sip:c@d",
		"<sip:a@b",
		"<>",
		"<sip:a@b> junk",
		"\"quoted\" sip:a@b",
		"<sip:a@b>;;",
		"<nocolon>",
		"<:x>",
		"",
		"   ",
		"sip:a b@c",
		"<sip:a@b\r\n c>",
		"\"Bad\" \"Two\" <sip:a@b>",
	};
	struct nameaddr na;

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		cr_assert_eq(nameaddr_parse(g(values[i]), &na), -EBADMSG, "%s",
			     values[i]);
}

Test(hdr, keeps_quoted_pairs_with_control_characters_in_display_names)
{
	static const char text[] =
	    "\"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f\" <sip:u@h>";
	size_t len = sizeof(text) - 1;
	char *copy = guard_keep(text, len);
	struct nameaddr na;

	cr_assert_eq(nameaddr_parse(slice_make(copy, len), &na), 0);
	cr_assert_eq(na.display.len, 22);
	cr_assert_slice(na.uri, "sip:u@h");
}

Test(hdr, parses_via_fields)
{
	struct sipvia v;

	cr_assert_eq(
	    via_parse(
		g("SIP/2.0/UDP pc33.atlanta.com:5066;branch=z9hG4bK776asdhds"
		  ";received=192.0.2.1;rport=5066;ttl=16;maddr=224.2.0.1"),
		&v),
	    0);
	cr_assert_slice(v.proto, "SIP/2.0");
	cr_assert_slice(v.transport, "UDP");
	cr_assert_slice(v.host, "pc33.atlanta.com");
	cr_assert_eq(v.port, 5066);
	cr_assert_slice(v.branch, "z9hG4bK776asdhds");
	cr_assert_slice(v.received, "192.0.2.1");
	cr_assert_slice(v.rport, "5066");
	cr_assert(v.has_rport);
	cr_assert_eq(strncmp(v.params.p, ";branch=", 8), 0);

	cr_assert_eq(
	    via_parse(
		g("SIP/2.0/TLS [2001:db8::9:1]:5061;rport;branch=z9hG4bKx"),
		&v),
	    0);
	cr_assert_slice(v.host, "[2001:db8::9:1]");
	cr_assert_eq(v.port, 5061);
	cr_assert(v.has_rport);
	cr_assert_eq(v.rport.len, 0);
	cr_assert_eq(v.received.len, 0);

	cr_assert_eq(via_parse(g("SIP/2.0/UDP 192.0.2.2"), &v), 0);
	cr_assert_eq(v.params.len, 0);
	cr_assert_eq(v.branch.len, 0);
	cr_assert_not(v.has_rport);
}

Test(hdr, allows_lws_and_folds_inside_via)
{
	struct sipvia v;

	cr_assert_eq(via_parse(g("SIP  /    2.0   / UDP  192.168.255.111   ; "
				 "branch=\r\n z9hG4bK30239"),
			       &v),
		     0);
	cr_assert_slice(v.transport, "UDP");
	cr_assert_slice(v.host, "192.168.255.111");
	cr_assert_slice(v.branch, "z9hG4bK30239");
	cr_assert_eq(via_parse(g("SIP/2.0/TCP spindle.example.com : 5060 ;\r\n "
				 " branch  =   z9hG4bK9ikj8"),
			       &v),
		     0);
	cr_assert_eq(v.port, 5060);
	cr_assert_slice(v.branch, "z9hG4bK9ikj8");
}

Test(hdr, accepts_unknown_transports_and_received_ipv6)
{
	struct sipvia v;

	cr_assert_eq(
	    via_parse(
		g("SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en"), &v),
	    0);
	cr_assert_slice(v.transport, "UNKNOWN");
	cr_assert_eq(
	    via_parse(g("SIP/2.0/TLS-SCTP t3.example.com;received=2001:db8::5"),
		      &v),
	    0);
	cr_assert_slice(v.received, "2001:db8::5");
	cr_assert_eq(
	    via_parse(g("SIP/2.0/UDP h.example.com;received=[2001:db8::5]"),
		      &v),
	    0);
}

Test(hdr, rejects_malformed_vias)
{
	static const char *const values[] = {
		"SIP/2.0/UDP 192.0.2.15;;",
		"SIP/2.0/UDP 192.0.2.15;",
		"SIP/2.0/UDP",
		"SIP/2.0/UDP ",
		"SIP/2.0 host.example.com",
		"SIP/2.0/ host.example.com",
		"SIP 2.0 UDP host.example.com",
		"SIP/2.0/UDPhost.example.com",
		"SIP/2.0/UDP host.example.com:0",
		"SIP/2.0/UDP host.example.com:65536",
		"SIP/2.0/UDP host.example.com:",
		"SIP/2.0/UDP host.example.com junk",
		"SIP/2.0/UDP [2001:db8::1",
		"SIP/2.0/UDP [2001:db8:::1]",
		"SIP/2.0/UDP 127.0.0.1:::::5070",
		"SIP/2.0/UDP 256.1.1.1",
		"SIP/2.0/UDP -bad.example.com",
		"SIP/2.0/UDP h.example.com;branch",
		"SIP/2.0/UDP h.example.com;branch=",
		"SIP/2.0/UDP h.example.com;ttl=256",
		"SIP/2.0/UDP h.example.com;maddr=not..valid",
		"SIP/2.0/UDP h.example.com;received=h.example.com",
		"SIP/2.0/UDP h.example.com;rport=0",
		"SIP/2.0/UDP h.example.com;rport=x",
		"",
	};
	struct sipvia v;

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		cr_assert_eq(via_parse(g(values[i]), &v), -EBADMSG, "%s",
			     values[i]);
}

Test(hdr, keeps_other_protocol_versions_for_the_core)
{
	struct sipvia v;

	cr_assert_eq(
	    via_parse(g("SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw"), &v),
	    0);
	cr_assert_slice(v.proto, "SIP/7.0");
}

Test(hdr, accepts_null_empty_slices)
{
	struct slice none = slice_make(NULL, 0), rest = none, el;
	struct nameaddr na;
	struct sipvia v;

	cr_assert_eq(hdr_lookup(none), HDR_OTHER);
	cr_assert_eq(hdr_split_next(&rest, &el), 0);
	cr_assert_eq(hdr_param_find(none, "tag", &el), 0);
	cr_assert_eq(nameaddr_parse(none, &na), -EBADMSG);
	cr_assert_eq(via_parse(none, &v), -EBADMSG);
}
