/* tests/unit/proxy/sip/test_uri.c - SIP, SIPS, tel and other URIs; hosts;
 * escapes */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "proxy/base/obj.h"
#include "proxy/sip/uri.h"
#include "tests/common/guard.h"
#include "tests/common/teardown.h"

static void teardown(void)
{
	guard_free_kept();
	teardown_check_objs(0);
}

TestSuite(uri, .fini = teardown, .timeout = 10);

/* @p len bytes of @p text right before a PROT_NONE page. */
static struct slice gn(const char *text, size_t len)
{
	return slice_make(guard_keep(text, len), len);
}

static struct slice g(const char *text)
{
	return gn(text, strlen(text));
}

static bool eq(struct slice s, const char *c)
{
	return slice_eq(s, slice_cstr(c));
}

#define cr_assert_slice(s, c)                                          \
	cr_assert(eq((s), (c)), "%s is \"%.*s\", expected \"%s\"", #s, \
		  (int)(s).len, (s).p ? (s).p : "", (c))

Test(uri, splits_a_full_sip_uri)
{
	struct sipuri u;

	cr_assert_eq(
	    uri_parse(
		g("sip:alice:secret@atlanta.example.com:5070"
		  ";transport=tcp;lr?subject=project%20x&priority=urgent"),
		&u),
	    0);
	cr_assert_eq(u.scheme, URI_SIP);
	cr_assert_slice(u.scheme_name, "sip");
	cr_assert_slice(u.user, "alice");
	cr_assert_slice(u.password, "secret");
	cr_assert_slice(u.host, "atlanta.example.com");
	cr_assert_slice(u.port_str, "5070");
	cr_assert_eq(u.port, 5070);
	cr_assert_slice(u.params, ";transport=tcp;lr");
	cr_assert_slice(u.headers, "subject=project%20x&priority=urgent");
	cr_assert_not(u.host_is_ipv4);
	cr_assert_not(u.host_is_ipv6);
}

Test(uri, parses_hosts_of_every_kind)
{
	struct sipuri u;

	cr_assert_eq(uri_parse(g("SIPS:[2001:db8::10]:5061;maddr=[::1]"), &u),
		     0);
	cr_assert_eq(u.scheme, URI_SIPS);
	cr_assert_slice(u.host, "[2001:db8::10]");
	cr_assert(u.host_is_ipv6);
	cr_assert_eq(u.port, 5061);
	cr_assert_eq(uri_parse(g("sip:192.0.2.4"), &u), 0);
	cr_assert(u.host_is_ipv4);
	cr_assert_eq(u.port, 0);
	cr_assert_eq(u.user.len, 0);
	cr_assert_eq(uri_parse(g("sip:[::ffff:192.0.2.128]"), &u), 0);
	cr_assert(u.host_is_ipv6);
	cr_assert_eq(uri_parse(g("sip:host-1.example.com."), &u), 0);
	cr_assert_slice(u.host, "host-1.example.com.");
}

Test(uri, accepts_the_rfc4475_user_parts)
{
	struct sipuri u;

	cr_assert_eq(
	    uri_parse(
		g("sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:"
		  "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com"),
		&u),
	    0);
	cr_assert_slice(u.user,
			"1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
	cr_assert_slice(u.password,
			"&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
	cr_assert_slice(u.host, "example.com");
	cr_assert_eq(
	    uri_parse(g("sip:user;par=u%40example.net@example.com"), &u), 0);
	cr_assert_slice(u.user, "user;par=u%40example.net");
	cr_assert_eq(u.params.len, 0);
	cr_assert_eq(
	    uri_parse(g("sip:sips%3Auser%40example.com@example.net"), &u), 0);
	cr_assert_slice(u.user, "sips%3Auser%40example.com");
	cr_assert_eq(uri_parse(g("sip:cal%6Cer@host5.example.net;%6C%72;n%61me="
				 "v%61lue%25%34%31"),
			       &u),
		     0);
	cr_assert_slice(u.params, ";%6C%72;n%61me=v%61lue%25%34%31");
	cr_assert_eq(uri_parse(g("sip:null-%00-null@example.com"), &u), 0);
}

Test(uri, rejects_malformed_sip_uris)
{
	static const char *const uris[] = {
		"sip:",
		"sip:@example.com",
		"sip:user@",
		"sip:user@example.com:",
		"sip:user@example.com:0",
		"sip:user@example.com:65536",
		"sip:user@example.com:50x",
		"sip:us er@example.com",
		"sip:user@exa mple.com",
		"sip:%4@example.com",
		"sip:%zz@example.com",
		"sip:user@example.com;",
		"sip:user@example.com;;lr",
		"sip:user@example.com;a=",
		"sip:user@example.com;a=b c",
		"sip:user@example.com?",
		"sip:user@example.com?novalue",
		"sip:user@example.com?a=1&",
		"sip:user@[2001:db8::1",
		"sip:user@[2001:db8:::1]",
		"sip:user@[1:2:3:4:5:6:7:8:9]",
		"sip:user@[12345::]",
		"sip:user@256.0.0.1",
		"sip:user@1.2.3",
		"sip:user@-host.example.com",
		"sip:user@host-.example.com",
		"sip:user@host..example.com",
		"sip:user@example.123",
		"sip:user@host_name.example.com",
		"sip:user:pa:ss@example.com",
		"sip:<user>@example.com",
		"sip:user@example.com>",
	};
	struct sipuri u;

	for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++)
		cr_assert_eq(uri_parse(g(uris[i]), &u), -EBADMSG, "%s",
			     uris[i]);
}

Test(uri, writes_nothing_on_error)
{
	struct sipuri u;

	memset(&u, 0x5a, sizeof(u));
	cr_assert_eq(uri_parse(g("sip:user@"), &u), -EBADMSG);
	cr_assert_eq(u.port, 0x5a5a);
}

Test(uri, parses_tel_uris)
{
	struct sipuri u;

	cr_assert_eq(uri_parse(g("tel:+1-212-555-0100;ext=22;isub=1411"), &u),
		     0);
	cr_assert_eq(u.scheme, URI_TEL);
	cr_assert_slice(u.user, "+1-212-555-0100");
	cr_assert_slice(u.params, ";ext=22;isub=1411");
	cr_assert_eq(u.host.len, 0);
	cr_assert_eq(uri_parse(g("tel:+1.(212).555.0100"), &u), 0);
	cr_assert_eq(uri_parse(g("tel:7042;phone-context=example.com"), &u), 0);
	cr_assert_slice(u.user, "7042");
	cr_assert_eq(uri_parse(g("tel:*67#;phone-context=+1-212"), &u), 0);
	cr_assert_eq(uri_parse(g("TEL:+15551234"), &u), 0);
}

Test(uri, rejects_malformed_tel_uris)
{
	static const char *const uris[] = {
		"tel:",
		"tel:+",
		"tel:+-.",
		"tel:+1 212",
		"tel:+1;;a",
		"tel:+1;a b",
		"tel:+1@example.com",
		"tel:abcz",
		"tel:+1;p_x=1",
	};
	struct sipuri u;

	for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++)
		cr_assert_eq(uri_parse(g(uris[i]), &u), -EBADMSG, "%s",
			     uris[i]);
}

Test(uri, checks_other_schemes_generically)
{
	static const char *const good[] = {
		"soap.beep://192.0.2.103:3002",
		"nobodyKnowsThisScheme:totallyopaquecontent",
		"isbn:2983792873",
		"http://www.example.com/a?b=c",
		"urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
		"mailto:a%20b@example.com",
	};
	static const char *const bad[] = {
		"1abc:x", "name:John Smith", "http://x/<y>",
		":x",	  "nocolon",	     "x:",
		"x:%2",	  "x:a\"b",	     "x:a\tb",
		"a_b:c",
	};
	struct sipuri u;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		cr_assert_eq(uri_parse(g(good[i]), &u), 0, "%s", good[i]);
		cr_assert_eq(u.scheme, URI_OTHER);
		cr_assert_eq(u.rest.len + u.scheme_name.len + 1,
			     strlen(good[i]));
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(uri_parse(g(bad[i]), &u), -EBADMSG, "%s", bad[i]);
}

Test(uri, finds_uri_params_by_name)
{
	struct sipuri u;
	struct slice v;

	cr_assert_eq(
	    uri_parse(g("sip:p.example.com;LR;Transport=TCP;maddr=[::1];x=1"),
		      &u),
	    0);
	cr_assert_eq(uri_param(&u, "lr", &v), 1);
	cr_assert_eq(v.len, 0);
	cr_assert_eq(uri_param(&u, "transport", &v), 1);
	cr_assert_slice(v, "TCP");
	cr_assert_eq(uri_param(&u, "maddr", &v), 1);
	cr_assert_slice(v, "[::1]");
	cr_assert_eq(uri_param(&u, "x", &v), 1);
	cr_assert_slice(v, "1");
	cr_assert_eq(uri_param(&u, "l", &v), 0);
	cr_assert_eq(uri_param(&u, "ttl", &v), 0);
	cr_assert_eq(uri_parse(g("sip:p.example.com"), &u), 0);
	cr_assert_eq(uri_param(&u, "lr", &v), 0);
}

Test(uri, unescapes_without_truncating_at_nul)
{
	char out[64];
	int n = uri_unescape(g("null-%00-null"), out, sizeof(out));

	cr_assert_eq(n, 11);
	cr_assert_eq(memcmp(out, "null-\0-null", 11), 0);
	n = uri_unescape(g("%00%00"), out, sizeof(out));
	cr_assert_eq(n, 2);
	cr_assert_eq(out[0], 0);
	cr_assert_eq(out[1], 0);
	n = uri_unescape(g("sips%3Auser%40example.com"), out, sizeof(out));
	cr_assert_eq(n, 21);
	cr_assert_eq(memcmp(out, "sips:user@example.com", 21), 0);
	cr_assert_eq(uri_unescape(g("v%61lue%25%34%31"), out, sizeof(out)), 8);
	cr_assert_eq(memcmp(out, "value%41", 8), 0);
	cr_assert_eq(uri_unescape(g(""), out, sizeof(out)), 0);
}

Test(uri, unescape_reports_bad_escapes_and_small_buffers)
{
	char out[4];

	cr_assert_eq(uri_unescape(g("%4"), out, sizeof(out)), -EBADMSG);
	cr_assert_eq(uri_unescape(g("%"), out, sizeof(out)), -EBADMSG);
	cr_assert_eq(uri_unescape(g("%g0"), out, sizeof(out)), -EBADMSG);
	cr_assert_eq(uri_unescape(g("abcd"), out, sizeof(out)), 4);
	cr_assert_eq(uri_unescape(g("abcde"), out, sizeof(out)), -ENOSPC);
	cr_assert_eq(uri_unescape(g("%41%42%43%44%45"), out, sizeof(out)),
		     -ENOSPC);
}

Test(uri, recognises_ipv6_text_forms)
{
	static const char *const good[] = {
		"::",
		"::1",
		"1::",
		"2001:db8::10",
		"1:2:3:4:5:6:7:8",
		"fe80::1:2",
		"::ffff:192.0.2.128",
		"1:2:3:4:5:6:1.2.3.4",
		"ABCD:ef01::",
	};
	static const char *const bad[] = {
		"",
		":",
		":1",
		"1:",
		"1:::2",
		"1::2::3",
		"12345::",
		"1:2:3:4:5:6:7",
		"1:2:3:4:5:6:7:8:9",
		"::g",
		"1.2.3.4",
		"::1.2.3",
		"::256.1.1.1",
		"[::1]",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		cr_assert(uri_is_ipv6(g(good[i])), "%s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_not(uri_is_ipv6(g(bad[i])), "%s", bad[i]);
}

Test(uri, classifies_hosts)
{
	size_t n;

	cr_assert_eq(uri_classify_host(g("example.com")), URI_HOST_NAME);
	cr_assert_eq(uri_classify_host(g("a")), URI_HOST_NAME);
	cr_assert_eq(uri_classify_host(g("10.0.0.1")), URI_HOST_IPV4);
	cr_assert_eq(uri_classify_host(g("[::1]")), URI_HOST_IPV6);
	cr_assert_eq(uri_classify_host(g("::1")), -EBADMSG);
	cr_assert_eq(uri_classify_host(g("example.com:5060")), -EBADMSG);
	cr_assert_eq(uri_classify_host(g("")), -EBADMSG);
	cr_assert_eq(uri_classify_host(g("1.2.3.4.5")), -EBADMSG);
	cr_assert_eq(uri_host_parse(g("example.com:5060;lr"), &n),
		     URI_HOST_NAME);
	cr_assert_eq(n, 11);
	cr_assert_eq(uri_host_parse(g("[2001:db8::1]:5060"), &n),
		     URI_HOST_IPV6);
	cr_assert_eq(n, 13);
	cr_assert_eq(uri_host_parse(g(":5060"), &n), -EBADMSG);
}

Test(uri, accepts_null_empty_slices)
{
	struct slice none = slice_make(NULL, 0), v;
	struct sipuri u;
	char out[4];
	size_t n;

	cr_assert_eq(uri_parse(none, &u), -EBADMSG);
	cr_assert_eq(uri_classify_host(none), -EBADMSG);
	cr_assert_eq(uri_host_parse(none, &n), -EBADMSG);
	cr_assert_not(uri_is_ipv6(none));
	cr_assert_eq(uri_unescape(none, out, sizeof(out)), 0);
	cr_assert_eq(uri_parse(g("urn:x"), &u), 0);
	cr_assert_eq(uri_param(&u, "lr", &v), 0, "URI_OTHER has no params");
}
