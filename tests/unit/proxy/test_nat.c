/* tests/unit/proxy/test_nat.c - NAT detection (private ranges, Contact and
 * Via against the source) and the Contact fix */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "proxy/base/arena.h"
#include "proxy/core/conf.h"
#include "proxy/nat.h"
#include "proxy/nat_conf.h"
#include "proxy/rtpe.h"
#include "proxy/rtpe_conf.h"
#include "proxy/sip/edit.h"
#include "proxy/sip/msg.h"
#include "proxy/sip/peer.h"
#include "tests/unit/msgin.h"
#include "tests/unit/sections.h"

TestSuite(nat, .init = msgin_init, .fini = msgin_fini, .timeout = 30);

static struct sipmsg m;
static struct siphdr hdrs[32];

static struct peer src(const char *ip, uint16_t port)
{
	struct peer p;

	memset(&p, 0, sizeof(p));
	p.proto = PEER_UDP;
	cr_assert_eq(peer_addr_parse(ip, port, &p.addr, &p.addrlen), 0);
	return p;
}

/* A REGISTER (or INVITE) with @p via sent-by and Contact @p contact. */
static const struct sipmsg *req(const char *method, const char *via,
				const char *contact, bool two_vias)
{
	static char buf[1024];
	char *p;
	int n;

	n = snprintf(buf, sizeof(buf),
		     "%s sip:example.com SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP %s;branch=z9hG4bK1;rport\r\n"
		     "%s"
		     "From: <sip:alice@example.com>;tag=1\r\n"
		     "To: <sip:alice@example.com>\r\n"
		     "Call-ID: c1\r\n"
		     "CSeq: 1 %s\r\n"
		     "%s%s%s"
		     "Content-Length: 0\r\n\r\n",
		     method, via,
		     two_vias ? "Via: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bK2\r\n"
			      : "",
		     method, contact ? "Contact: " : "", contact ? contact : "",
		     contact ? "\r\n" : "");
	p = msgin_copy(buf, (size_t)n);
	cr_assert_gt(sipmsg_parse(&m, p, (size_t)n, hdrs, 32, 0), 0);
	return &m;
}

/* A 200 to INVITE with Contact @p contact. */
static const struct sipmsg *rsp(const char *contact)
{
	static char buf[1024];
	char *p;
	int n;

	n = snprintf(buf, sizeof(buf),
		     "SIP/2.0 200 OK\r\n"
		     "Via: SIP/2.0/UDP 10.200.0.1:5060;branch=z9hG4bK1\r\n"
		     "From: <sip:alice@example.com>;tag=1\r\n"
		     "To: <sip:bob@example.com>;tag=2\r\n"
		     "Call-ID: c1\r\n"
		     "CSeq: 1 INVITE\r\n"
		     "Contact: %s\r\n"
		     "Content-Length: 0\r\n\r\n",
		     contact);
	p = msgin_copy(buf, (size_t)n);
	cr_assert_gt(sipmsg_parse(&m, p, (size_t)n, hdrs, 32, 0), 0);
	return &m;
}

Test(nat, private_ranges_are_the_documented_defaults)
{
	const struct nat_conf *nc = nat_conf(NULL);
	static const char *const yes[] = { "10.1.2.3",	     "172.16.0.1",
					   "172.31.255.255", "192.168.1.1",
					   "100.64.0.1",     "100.127.255.254",
					   "[fc00::1]",	     "[fdff::1]" };
	static const char *const no[] = { "11.0.0.1",	 "172.32.0.1",
					  "192.169.0.1", "100.128.0.1",
					  "203.0.113.5", "[2001:db8::1]",
					  "[fe80::1]",	 "pc.example.com" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(*yes); i++)
		cr_assert(nat_host_is_private(nc, slice_cstr(yes[i])), "%s",
			  yes[i]);
	for (size_t i = 0; i < sizeof(no) / sizeof(*no); i++)
		cr_assert(!nat_host_is_private(nc, slice_cstr(no[i])), "%s",
			  no[i]);
}

Test(nat, a_ua_that_names_its_source_is_not_natted)
{
	struct peer p = src("203.0.113.5", 5060);

	cr_assert_eq(nat_detect(nat_conf(NULL),
				req("REGISTER", "203.0.113.5",
				    "<sip:alice@203.0.113.5>", false),
				&p),
		     0, "default ports 5060");
	p = src("203.0.113.5", 6000);
	cr_assert_eq(
	    nat_detect(nat_conf(NULL),
		       req("REGISTER", "203.0.113.5:6000",
			   "<sip:alice@203.0.113.5:6000>;expires=60", false),
		       &p),
	    0);
}

Test(nat, a_private_contact_behind_a_public_source_is_natted)
{
	struct peer p = src("203.0.113.5", 40123);
	unsigned why = nat_detect(nat_conf(NULL),
				  req("REGISTER", "192.168.1.20:5060",
				      "<sip:alice@192.168.1.20:5060>", false),
				  &p);

	cr_assert_eq(why, NAT_CONTACT_PRIVATE | NAT_VIA_DIFFERS);
	/* A response has no Via of the UA's: the Contact alone. */
	p = src("10.200.0.2", 20001);
	cr_assert_eq(
	    nat_detect(nat_conf(NULL), rsp("<sip:bob@192.168.77.1:5060>"), &p),
	    NAT_CONTACT_PRIVATE);
	cr_assert_eq(
	    nat_detect(nat_conf(NULL), rsp("<sip:bob@10.200.0.2:5060>"), &p), 0,
	    "its own (private) address: no NAT");
}

Test(nat, only_the_port_differing_in_via_is_natted_too)
{
	/* A NAT that keeps the address (a public UA behind a port
	 * translating firewall): RFC 3581 rport. */
	struct peer p = src("203.0.113.5", 40000);

	cr_assert_eq(nat_detect(nat_conf(NULL),
				req("INVITE", "203.0.113.5:5060",
				    "<sip:alice@203.0.113.5:5060>", false),
				&p),
		     NAT_VIA_DIFFERS);
	cr_assert_eq(nat_detect(nat_conf(NULL),
				req("INVITE", "pc.example.com:40000",
				    "<sip:alice@203.0.113.5:40000>", false),
				&p),
		     NAT_VIA_DIFFERS, "a host name in Via differs");
}

Test(nat, a_contact_elsewhere_from_a_ua_that_names_its_source_is_not_natted)
{
	/* A UA (or a PBX) registering a contact on another port or host
	 * of its own, its Via naming where it sent from. */
	struct peer p = src("10.77.0.2", 7000);

	cr_assert_eq(nat_detect(nat_conf(NULL),
				req("REGISTER", "10.77.0.2:7000",
				    "<sip:u1@10.77.0.2:6000>", false),
				&p),
		     0);
	p = src("203.0.113.5", 5060);
	cr_assert_eq(nat_detect(nat_conf(NULL),
				req("REGISTER", "203.0.113.5",
				    "<sip:alice@pc.example.com>", false),
				&p),
		     0);
}

Test(nat, ipv6_sources_compare_by_address_and_port)
{
	struct peer p = src("2001:db8::5", 5060);

	cr_assert_eq(nat_detect(nat_conf(NULL),
				req("REGISTER", "[2001:db8::5]",
				    "<sip:alice@[2001:db8::5]>", false),
				&p),
		     0);
	cr_assert_eq(nat_detect(nat_conf(NULL),
				req("REGISTER", "[fd00::5]:5060",
				    "<sip:alice@[fd00::5]>", false),
				&p),
		     NAT_CONTACT_PRIVATE | NAT_VIA_DIFFERS);
}

Test(nat, loopback_and_second_hop_sources_are_never_natted)
{
	struct peer p = src("127.0.0.1", 40000);

	cr_assert_eq(nat_detect(nat_conf(NULL),
				req("REGISTER", "192.168.1.20",
				    "<sip:alice@192.168.1.20>", false),
				&p),
		     0, "loopback");
	p = src("203.0.113.5", 5060);
	cr_assert_eq(nat_detect(nat_conf(NULL),
				req("REGISTER", "203.0.113.5",
				    "<sip:alice@192.168.1.20>", true),
				&p),
		     0, "a proxy in between");
}

Test(nat, star_or_no_contact_do_not_count)
{
	struct peer p = src("203.0.113.5", 5060);

	cr_assert_eq(nat_detect(nat_conf(NULL),
				req("REGISTER", "203.0.113.5", "*", false), &p),
		     0);
	cr_assert_eq(nat_detect(nat_conf(NULL),
				req("REGISTER", "203.0.113.5", NULL, false),
				&p),
		     0);
}

Test(nat, configured_ranges_replace_the_defaults)
{
	struct conf *c = sections_load("nat:\n"
				       "  private_ranges: [198.51.100.0/24]\n");
	struct peer p = src("203.0.113.5", 5060);
	const struct nat_conf *nc;

	nc = nat_conf(c);
	cr_assert(nat_host_is_private(nc, SLICE_LIT("198.51.100.7")));
	cr_assert(!nat_host_is_private(nc, SLICE_LIT("10.0.0.1")));
	cr_assert_eq(nat_detect(nc,
				req("REGISTER", "203.0.113.5",
				    "<sip:alice@10.0.0.1:5060>", false),
				&p),
		     0, "10/8 is not private any more");
	cr_assert_eq(nat_detect(nc,
				req("REGISTER", "203.0.113.5",
				    "<sip:alice@198.51.100.7:5060>", false),
				&p),
		     NAT_CONTACT_PRIVATE);
	conf_free(c);
}

Test(nat, the_contact_fix_names_the_source_and_keeps_the_rest)
{
	const struct sipmsg *r =
	    req("INVITE", "192.168.1.20:5062",
		"\"Alice\" <sip:alice@192.168.1.20:5062;transport=udp;ob>"
		";+sip.instance=\"<urn:uuid:1>\"",
		false);
	struct peer p = src("203.0.113.5", 40123);
	struct edit_list *el;
	struct slice out;
	struct sipmsg o;
	struct siphdr oh[32];

	cr_assert_eq(edit_new(msgin_arena, r, &el), 0);
	cr_assert_eq(nat_fix_contact(el, r, &p, msgin_arena), 0);
	cr_assert_eq(edit_print_arena(el, msgin_arena, &out), 0);
	msgin_reparse(out.p, out.len, &o, oh, 32, "output");
	cr_assert(slice_eq(sipmsg_hdr(&o, HDR_CONTACT)->value,
			   SLICE_LIT("\"Alice\" <sip:alice@203.0.113.5:40123;"
				     "transport=udp;ob>;+sip.instance=\"<urn:"
				     "uuid:1>\"")),
		  "%.*s", (int)out.len, out.p);

	/* No port in the URI, an IPv6 source. */
	r = req("INVITE", "192.168.1.20", "<sip:alice@192.168.1.20>", false);
	p = src("2001:db8::5", 40000);
	cr_assert_eq(edit_new(msgin_arena, r, &el), 0);
	cr_assert_eq(nat_fix_contact(el, r, &p, msgin_arena), 0);
	cr_assert_eq(edit_print_arena(el, msgin_arena, &out), 0);
	msgin_reparse(out.p, out.len, &o, oh, 32, "output");
	cr_assert(slice_eq(sipmsg_hdr(&o, HDR_CONTACT)->value,
			   SLICE_LIT("<sip:alice@[2001:db8::5]:40000>")));

	/* Nothing to fix: no Contact. */
	r = req("INVITE", "192.168.1.20", NULL, false);
	cr_assert_eq(edit_new(msgin_arena, r, &el), 0);
	cr_assert_eq(nat_fix_contact(el, r, &p, msgin_arena), 0);
	cr_assert_eq(edit_count(el), 0);
}

Test(nat, rtpengine_does_not_trust_the_sdp_of_a_natted_side)
{
	struct conf *c = sections_load("media:\n"
				       "  flags: [trust-address, symmetric]\n");
	struct peer p = src("203.0.113.5", 40123);
	unsigned f;

	f = rtpe_call_flags(c,
			    req("INVITE", "192.168.1.20:5060",
				"<sip:alice@192.168.1.20:5060>", false),
			    &p);
	cr_assert_eq(f, RTPE_FLAG_SYMMETRIC | RTPE_FLAG_REPLACE_ORIGIN |
			    RTPE_FLAG_SIP_SOURCE);
	/* A side that is not behind NAT keeps media.flags as they are. */
	p = src("203.0.113.5", 5060);
	f = rtpe_call_flags(
	    c, req("INVITE", "203.0.113.5", "<sip:alice@203.0.113.5>", false),
	    &p);
	cr_assert_eq(f, RTPE_FLAG_TRUST_ADDRESS | RTPE_FLAG_SYMMETRIC);
	conf_free(c);
}
