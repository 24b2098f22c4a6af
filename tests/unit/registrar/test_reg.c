/* tests/unit/registrar/test_reg.c - REGISTER: bindings, bounds, Path, outbound
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "proxy/base/arena.h"
#include "proxy/base/log.h"
#include "proxy/base/obj.h"
#include "proxy/core/conf.h"
#include "proxy/core/shard.h"
#include "proxy/sip/msg.h"
#include "proxy/core/transport.h"
#include "registrar/reg.h"
#include "store/loc.h"
#include "store/rcu.h"
#include "tests/common/corpus.h"
#include "tests/unit/sections.h"
#include "tests/common/teardown.h"

#define MAX_HDRS 64
#define NOW	 1700000000

static struct conf *cf;
static struct arena *ar;
static struct peer peer;
static char msgbuf[8192];
static struct siphdr hdrs[MAX_HDRS];
static struct sipmsg msg;
static char text[8192];

static const char yaml[] = "workers: 1\n"
			   "listen:\n"
			   "  - address: 127.0.0.1\n"
			   "    port: 5060\n"
			   "domains: [example.com, other.example]\n"
			   "registrar:\n"
			   "  min_expires_s: 60\n"
			   "  max_expires_s: 3600\n"
			   "  default_expires_s: 600\n";

static void setup(void)
{
	struct sockaddr_in *in = (struct sockaddr_in *)&peer.addr;

	log_set_level(LOG__COUNT);
	urcu_memb_register_thread();
	cf = sections_load(yaml);
	cr_assert_eq(loc_init(), 0);
	cr_assert_eq(reg_init(2), 0);
	ar = arena_new(16384);
	cr_assert_not_null(ar);
	memset(&peer, 0, sizeof(peer));
	peer.proto = PEER_TCP;
	peer.conn_id = 77;
	peer.listen_idx = 0;
	in->sin_family = AF_INET;
	in->sin_port = htons(40000);
	inet_pton(AF_INET, "192.0.2.10", &in->sin_addr);
	peer.addrlen = sizeof(*in);
}

static void teardown(void)
{
	arena_free(ar);
	reg_fini();
	loc_fini();
	conf_free(cf);
	urcu_memb_unregister_thread();
	teardown_check_objs(0);
}

TestSuite(reg, .init = setup, .fini = teardown, .timeout = 30);

static void parse_text(const char *t, size_t len)
{
	cr_assert_lt(len, sizeof(msgbuf));
	memcpy(msgbuf, t, len);
	cr_assert_gt(sipmsg_parse(&msg, msgbuf, len, hdrs, MAX_HDRS, 0), 0,
		     "%.*s", (int)len, t);
}

/*
 * A REGISTER from alice@example.com (or @p aor) with Call-ID @p cid,
 * CSeq @p cseq and header lines @p lines (Contact, Expires, ...).
 */
static void reg_msg(const char *aor, const char *cid, unsigned cseq,
		    const char *lines)
{
	int n =
	    snprintf(text, sizeof(text),
		     "REGISTER sip:example.com SIP/2.0\r\n"
		     "Via: SIP/2.0/TCP 192.0.2.10:40000;branch=z9hG4bK%u\r\n"
		     "Max-Forwards: 70\r\n"
		     "From: <sip:%s>;tag=f1\r\n"
		     "To: <sip:%s>\r\n"
		     "Call-ID: %s\r\n"
		     "CSeq: %u REGISTER\r\n"
		     "User-Agent: TestPhone/2.0\r\n"
		     "%s"
		     "Content-Length: 0\r\n\r\n",
		     cseq, aor, aor, cid, cseq, lines ? lines : "");

	parse_text(text, (size_t)n);
}

static struct reg_answer handle_at(int64_t now, unsigned shard,
				   unsigned nshards)
{
	struct reg_answer a;
	struct reg_req q = { cf, &msg, &peer, shard, nshards, now, ar };

	cr_assert_eq(reg_handle(&q, &a), 0);
	return a;
}

static struct reg_answer handle(void)
{
	return handle_at(NOW, 0, 1);
}

/* The answer's header lines as a string. */
static const char *extra_str(const struct reg_answer *a)
{
	static char buf[8192];

	cr_assert_lt(a->extra.len, sizeof(buf));
	memcpy(buf, a->extra.p, a->extra.len);
	buf[a->extra.len] = '\0';
	return buf;
}

static unsigned count_lines(const char *s, const char *prefix)
{
	unsigned n = 0;

	for (const char *p = s; (p = strstr(p, prefix)); p++)
		if (p == s || p[-1] == '\n')
			n++;
	return n;
}

/* Number of bindings of @p aor now in the table (expired included). */
static unsigned bindings(const char *aor)
{
	const struct loc_set *s;
	unsigned n;

	urcu_memb_read_lock();
	s = loc_lookup_rcu(slice_cstr(aor));
	n = s ? s->n : 0;
	urcu_memb_read_unlock();
	return n;
}

Test(reg, adds_a_binding_and_answers_with_contact_and_date)
{
	struct reg_answer a;
	const struct loc_set *s;
	const char *x;

	reg_msg("alice@example.com", "c1", 1,
		"Contact: <sip:alice@192.0.2.10:40000;transport=tcp>\r\n");
	a = handle();
	cr_assert_eq(a.status, 200, "%u %s", a.status, a.reason);
	x = extra_str(&a);
	cr_assert_not_null(
	    strstr(x, "Contact: <sip:alice@192.0.2.10:40000;transport=tcp>;"
		      "expires=600\r\n"),
	    "%s", x);
	cr_assert_not_null(strstr(x, "Date: Tue, 14 Nov 2023 22:13:20 GMT\r\n"),
			   "%s", x);
	urcu_memb_read_lock();
	s = loc_lookup_rcu(SLICE_LIT("alice@example.com"));
	cr_assert_not_null(s);
	cr_assert_eq(s->n, 1);
	cr_assert_eq(s->c[0].expires_s, NOW + 600);
	cr_assert(slice_eq(s->c[0].call_id, SLICE_LIT("c1")));
	cr_assert_eq(s->c[0].cseq, 1);
	cr_assert(slice_eq(s->c[0].user_agent, SLICE_LIT("TestPhone/2.0")));
	cr_assert_eq(s->c[0].flow.proto, PEER_TCP);
	cr_assert_eq(s->c[0].flow.conn_id, 77);
	cr_assert_eq(s->c[0].q, 1000);
	urcu_memb_read_unlock();
}

Test(reg, expires_from_param_then_header_then_default_within_bounds)
{
	struct reg_answer a;
	const char *x;

	reg_msg("alice@example.com", "c1", 1,
		"Expires: 120\r\n"
		"Contact: <sip:a@192.0.2.1>;expires=300, <sip:b@192.0.2.2>\r\n"
		"Contact: <sip:c@192.0.2.3>;expires=99999\r\n");
	a = handle();
	cr_assert_eq(a.status, 200);
	x = extra_str(&a);
	cr_assert_not_null(strstr(x, "<sip:a@192.0.2.1>;expires=300\r\n"), "%s",
			   x);
	cr_assert_not_null(strstr(x, "<sip:b@192.0.2.2>;expires=120\r\n"), "%s",
			   x);
	/* Above the maximum: lowered to it. */
	cr_assert_not_null(strstr(x, "<sip:c@192.0.2.3>;expires=3600\r\n"),
			   "%s", x);
	/* Later: the 200 of a query shows what is left. */
	reg_msg("alice@example.com", "c1", 2, NULL);
	a = handle_at(NOW + 100, 0, 1);
	x = extra_str(&a);
	cr_assert_not_null(strstr(x, "<sip:a@192.0.2.1>;expires=200\r\n"), "%s",
			   x);
	cr_assert_not_null(strstr(x, "<sip:b@192.0.2.2>;expires=20\r\n"), "%s",
			   x);
	cr_assert_eq(count_lines(x, "Contact:"), 3);
	/* Expired bindings are gone from the answer and the next set. */
	a = handle_at(NOW + 301, 0, 1);
	x = extra_str(&a);
	cr_assert_eq(count_lines(x, "Contact:"), 1, "%s", x);
}

Test(reg, too_brief_gets_423_with_min_expires)
{
	struct reg_answer a;

	reg_msg("alice@example.com", "c1", 1,
		"Contact: <sip:a@192.0.2.1>;expires=59\r\n");
	a = handle();
	cr_assert_eq(a.status, 423);
	cr_assert_str_eq(extra_str(&a), "Min-Expires: 60\r\n");
	cr_assert_eq(bindings("alice@example.com"), 0);
	reg_msg("alice@example.com", "c1", 2,
		"Expires: 1\r\n"
		"Contact: <sip:a@192.0.2.1>\r\n");
	cr_assert_eq(handle().status, 423);
}

Test(reg, expires_zero_removes_and_star_removes_all)
{
	reg_msg("alice@example.com", "c1", 1,
		"Contact: <sip:a@Host.Example;Transport=TCP>, "
		"<sip:b@192.0.2.2>\r\n");
	cr_assert_eq(handle().status, 200);
	cr_assert_eq(bindings("alice@example.com"), 2);
	/* URI comparison: host case and parameter case do not matter. */
	reg_msg("alice@example.com", "c1", 2,
		"Contact: <sip:a@host.example;transport=tcp>;expires=0\r\n");
	cr_assert_eq(handle().status, 200);
	cr_assert_eq(bindings("alice@example.com"), 1);
	reg_msg("alice@example.com", "c1", 3, "Contact: <sip:a@192.0.2.1>\r\n");
	cr_assert_eq(handle().status, 200);
	cr_assert_eq(bindings("alice@example.com"), 2);
	reg_msg("alice@example.com", "c9", 1, "Contact: *\r\nExpires: 0\r\n");
	cr_assert_eq(handle().status, 200);
	cr_assert_eq(bindings("alice@example.com"), 0);
	cr_assert_eq(loc_count(), 0);
}

Test(reg, star_needs_expires_zero_and_no_other_contact)
{
	reg_msg("alice@example.com", "c1", 1, "Contact: *\r\n");
	cr_assert_eq(handle().status, 400);
	reg_msg("alice@example.com", "c1", 2, "Contact: *\r\nExpires: 60\r\n");
	cr_assert_eq(handle().status, 400);
	reg_msg("alice@example.com", "c1", 3,
		"Contact: *, <sip:a@192.0.2.1>\r\nExpires: 0\r\n");
	cr_assert_eq(handle().status, 400);
}

Test(reg, out_of_order_cseq_for_the_same_call_id_changes_nothing)
{
	struct reg_answer a;
	const struct loc_set *s;

	reg_msg("alice@example.com", "c1", 5,
		"Contact: <sip:a@192.0.2.1>;expires=300\r\n");
	cr_assert_eq(handle().status, 200);
	reg_msg("alice@example.com", "c1", 4,
		"Contact: <sip:a@192.0.2.1>;expires=0\r\n");
	a = handle();
	cr_assert_eq(a.status, 500);
	reg_msg("alice@example.com", "c1", 5,
		"Contact: <sip:a@192.0.2.1>;expires=900\r\n");
	cr_assert_eq(handle().status, 500);
	reg_msg("alice@example.com", "c1", 1, "Contact: *\r\nExpires: 0\r\n");
	cr_assert_eq(handle().status, 500);
	urcu_memb_read_lock();
	s = loc_lookup_rcu(SLICE_LIT("alice@example.com"));
	cr_assert_not_null(s);
	cr_assert_eq(s->c[0].expires_s, NOW + 300);
	urcu_memb_read_unlock();
	/* Another Call-ID (a rebooted phone) may go lower. */
	reg_msg("alice@example.com", "c2", 1,
		"Contact: <sip:a@192.0.2.1>;expires=900\r\n");
	cr_assert_eq(handle().status, 200);
	cr_assert_eq(bindings("alice@example.com"), 1);
}

Test(reg, q_values_are_kept_and_shown)
{
	struct reg_answer a;
	const char *x;
	const struct loc_set *s;

	reg_msg("alice@example.com", "c1", 1,
		"Contact: <sip:a@192.0.2.1>;q=0.5, <sip:b@192.0.2.2>;q=1.0, "
		"<sip:c@192.0.2.3>;q=0.125\r\n");
	a = handle();
	cr_assert_eq(a.status, 200);
	x = extra_str(&a);
	cr_assert_not_null(strstr(x, "<sip:a@192.0.2.1>;expires=600;q=0.5\r\n"),
			   "%s", x);
	cr_assert_not_null(strstr(x, "<sip:b@192.0.2.2>;expires=600\r\n"), "%s",
			   x);
	cr_assert_not_null(
	    strstr(x, "<sip:c@192.0.2.3>;expires=600;q=0.125\r\n"), "%s", x);
	urcu_memb_read_lock();
	s = loc_lookup_rcu(SLICE_LIT("alice@example.com"));
	cr_assert_eq(s->c[0].q, 500);
	cr_assert_eq(s->c[2].q, 125);
	urcu_memb_read_unlock();
	reg_msg("alice@example.com", "c1", 2,
		"Contact: <sip:a@192.0.2.1>;q=1.5\r\n");
	cr_assert_eq(handle().status, 400);
	reg_msg("alice@example.com", "c1", 3,
		"Contact: <sip:a@192.0.2.1>;q=0.1234\r\n");
	cr_assert_eq(handle().status, 400);
}

Test(reg, path_is_stored_and_returned_when_supported)
{
	struct reg_answer a;
	const struct loc_set *s;
	const char *x;

	reg_msg("alice@example.com", "c1", 1,
		"Path: <sip:p1.example.net;lr>\r\n"
		"Path: <sip:p2.example.net;lr>\r\n"
		"Contact: <sip:a@192.0.2.1>\r\n");
	a = handle();
	cr_assert_eq(a.status, 200);
	x = extra_str(&a);
	cr_assert_null(strstr(x, "Path:"), "%s", x);
	urcu_memb_read_lock();
	s = loc_lookup_rcu(SLICE_LIT("alice@example.com"));
	cr_assert(slice_eq(s->c[0].path, SLICE_LIT("<sip:p1.example.net;lr>,"
						   "<sip:p2.example.net;lr>")));
	urcu_memb_read_unlock();
	reg_msg("alice@example.com", "c1", 2,
		"Supported: path\r\n"
		"Path: <sip:p1.example.net;lr>, <sip:p2.example.net;lr>\r\n"
		"Contact: <sip:a@192.0.2.1>\r\n");
	a = handle();
	x = extra_str(&a);
	cr_assert_not_null(strstr(x, "Path: <sip:p1.example.net;lr>,"
				     "<sip:p2.example.net;lr>\r\n"),
			   "%s", x);
	cr_assert_not_null(strstr(x, "Supported: path"), "%s", x);
}

#define INST "+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>\""

Test(reg, same_instance_and_reg_id_replaces_the_binding)
{
	struct reg_answer a;
	const struct loc_set *s;
	const char *x;

	reg_msg("alice@example.com", "c1", 1,
		"Supported: outbound\r\n"
		"Contact: <sip:a@192.0.2.1;ob>;" INST ";reg-id=1\r\n");
	a = handle();
	cr_assert_eq(a.status, 200);
	x = extra_str(&a);
	cr_assert_not_null(strstr(x, "Require: outbound\r\n"), "%s", x);
	cr_assert_not_null(strstr(x, ";+sip.instance=\"<urn:uuid:00000000-"
				     "0000-1000-8000-AABBCCDDEEFF>\";reg-id=1"),
			   "%s", x);
	/* A second flow of the same instance: both stay. */
	reg_msg("alice@example.com", "c2", 1,
		"Supported: outbound\r\n"
		"Contact: <sip:a@192.0.2.9;ob>;" INST ";reg-id=2\r\n");
	cr_assert_eq(handle().status, 200);
	cr_assert_eq(bindings("alice@example.com"), 2);
	/* Flow 1 again from a new address: it replaces flow 1. */
	reg_msg("alice@example.com", "c3", 1,
		"Supported: outbound\r\n"
		"Contact: <sip:a@198.51.100.7;ob>;" INST ";reg-id=1\r\n");
	cr_assert_eq(handle().status, 200);
	urcu_memb_read_lock();
	s = loc_lookup_rcu(SLICE_LIT("alice@example.com"));
	cr_assert_eq(s->n, 2);
	for (unsigned i = 0; i < s->n; i++) {
		cr_assert_eq(s->c[i].flags, LOC_OB);
		if (s->c[i].reg_id == 1)
			cr_assert(slice_eq(s->c[i].uri,
					   SLICE_LIT("sip:a@198.51.100.7;ob")));
	}
	urcu_memb_read_unlock();
}

/* The flags of the one binding of @p aor. */
static unsigned flags_of(const char *aor)
{
	const struct loc_set *s;
	unsigned f;

	urcu_memb_read_lock();
	s = loc_lookup_rcu(slice_cstr(aor));
	cr_assert(s && s->n == 1);
	f = s->c[0].flags;
	urcu_memb_read_unlock();
	return f;
}

Test(reg, a_ua_behind_nat_gets_a_nat_binding_with_its_uri_as_sent)
{
	struct reg_answer a;
	const char *x;

	/* Its Via and Contact name where it sent from: no NAT. */
	reg_msg("alice@example.com", "c1", 1,
		"Contact: <sip:a@192.0.2.10:40000;transport=tcp>\r\n");
	a = handle();
	cr_assert_eq(a.status, 200);
	cr_assert(!a.nat);
	cr_assert_eq(flags_of("alice@example.com") & LOC_NAT, 0);
	/* A private Contact: NAT'd; the URI stays as the UA sent it and
	 * the 200 lists it so (fix_nated_register). */
	reg_msg("bob@example.com", "c2", 1,
		"Contact: <sip:a@192.168.1.20:5060;transport=tcp>\r\n");
	a = handle();
	cr_assert_eq(a.status, 200);
	cr_assert(a.nat);
	x = extra_str(&a);
	cr_assert_not_null(
	    strstr(x, "Contact: <sip:a@192.168.1.20:5060;transport=tcp>"), "%s",
	    x);
	cr_assert_eq(flags_of("bob@example.com") & LOC_NAT, LOC_NAT);
}

Test(reg, nat_detection_can_be_turned_off)
{
	struct reg_answer a;
	struct reg_req q;

	conf_free(cf);
	cf = sections_load("workers: 1\n"
			   "domains: [example.com]\n"
			   "nat: {detect: false}\n");
	reg_msg("alice@example.com", "c1", 1,
		"Contact: <sip:a@192.168.1.20:5060>\r\n");
	q = (struct reg_req){ cf, &msg, &peer, 0, 1, NOW, ar };
	cr_assert_eq(reg_handle(&q, &a), 0);
	cr_assert_eq(a.status, 200);
	cr_assert(!a.nat);
	cr_assert_eq(flags_of("alice@example.com") & LOC_NAT, 0);
}

Test(reg, instance_without_reg_id_replaces_by_instance)
{
	reg_msg("alice@example.com", "c1", 1,
		"Contact: <sip:a@192.0.2.1>;" INST "\r\n");
	cr_assert_eq(handle().status, 200);
	reg_msg("alice@example.com", "c2", 1,
		"Contact: <sip:a@192.0.2.2>;" INST "\r\n");
	cr_assert_eq(handle().status, 200);
	cr_assert_eq(bindings("alice@example.com"), 1);
}

Test(reg, reg_id_without_outbound_tag_or_instance_is_ignored)
{
	struct reg_answer a;
	const struct loc_set *s;

	reg_msg("alice@example.com", "c1", 1,
		"Contact: <sip:a@192.0.2.1>;" INST ";reg-id=1\r\n");
	a = handle();
	cr_assert_eq(a.status, 200);
	cr_assert_null(strstr(extra_str(&a), "Require: outbound"));
	reg_msg("bob@example.com", "c1", 1,
		"Supported: outbound\r\n"
		"Contact: <sip:b@192.0.2.1>;reg-id=1\r\n");
	a = handle();
	cr_assert_eq(a.status, 200);
	cr_assert_null(strstr(extra_str(&a), "Require: outbound"));
	urcu_memb_read_lock();
	s = loc_lookup_rcu(SLICE_LIT("alice@example.com"));
	cr_assert_eq(s->c[0].reg_id, 0);
	s = loc_lookup_rcu(SLICE_LIT("bob@example.com"));
	cr_assert_eq(s->c[0].reg_id, 0);
	urcu_memb_read_unlock();
}

/* A REGISTER that passed another proxy first: two Vias. */
static void via_proxy(const char *path_line)
{
	static char out[8192];
	char lines[1024], *v;
	size_t head;
	int n;

	snprintf(lines, sizeof(lines),
		 "Supported: outbound, path\r\n%s"
		 "Contact: <sip:a@192.0.2.1;ob>;" INST ";reg-id=1\r\n",
		 path_line);
	reg_msg("alice@example.com", "c1", 1, lines);
	/* Put the edge proxy's Via on top. */
	v = strstr(text, "Via: ");
	head = (size_t)(v - text);
	memcpy(out, text, head);
	n = snprintf(out + head, sizeof(out) - head,
		     "Via: SIP/2.0/UDP edge.example.net;branch=z9hG4bKe\r\n%s",
		     v);
	parse_text(out, head + (size_t)n);
}

Test(reg, outbound_through_a_first_hop_without_ob_gets_439)
{
	struct reg_answer a;

	via_proxy("");
	a = handle();
	cr_assert_eq(a.status, 439);
	cr_assert_str_eq(a.reason, "First Hop Lacks Outbound Support");
	via_proxy("Path: <sip:edge.example.net;lr>\r\n");
	cr_assert_eq(handle().status, 439);
	cr_assert_eq(bindings("alice@example.com"), 0);
	via_proxy("Path: <sip:edge.example.net;lr;ob>\r\n");
	a = handle();
	cr_assert_eq(a.status, 200);
	cr_assert_not_null(strstr(extra_str(&a), "Require: outbound"));
}

Test(reg, two_flows_with_reg_id_in_one_register_is_400)
{
	reg_msg("alice@example.com", "c1", 1,
		"Supported: outbound\r\n"
		"Contact: <sip:a@192.0.2.1>;" INST ";reg-id=1, "
		"<sip:a@192.0.2.2>\r\n");
	cr_assert_eq(handle().status, 400);
}

Test(reg, aor_must_be_sip_with_user_in_a_served_domain)
{
	char *data = NULL;
	size_t len;
	struct reg_answer a;

	/* RFC 4475 §3.3.4 unksm2: To is isbn: -> 400. */
	cr_assert_eq(corpus_read("rfc4475/valid/unksm2.dat", &data, &len), 0);
	parse_text(data, len);
	free(data);
	cr_assert_eq(handle().status, 400);
	reg_msg("example.com", "c1", 1, "Contact: <sip:a@192.0.2.1>\r\n");
	cr_assert_eq(handle().status, 404);
	reg_msg("alice@foreign.example", "c1", 1,
		"Contact: <sip:a@192.0.2.1>\r\n");
	cr_assert_eq(handle().status, 404);
	/* Not addressed to this registrar: left to the router. */
	parse_text(
	    "REGISTER sip:foreign.example SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKf\r\n"
	    "From: <sip:a@foreign.example>;tag=1\r\n"
	    "To: <sip:a@foreign.example>\r\n"
	    "Call-ID: f\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n",
	    strlen("REGISTER sip:foreign.example SIP/2.0\r\n"
		   "Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKf\r\n"
		   "From: <sip:a@foreign.example>;tag=1\r\n"
		   "To: <sip:a@foreign.example>\r\n"
		   "Call-ID: f\r\nCSeq: 1 REGISTER\r\n"
		   "Content-Length: 0\r\n\r\n"));
	a = handle();
	cr_assert_eq(a.status, 0);
	/* Our listen address in the Request-URI is the registrar too. */
	snprintf(text, sizeof(text),
		 "REGISTER sip:127.0.0.1:5060 SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKg\r\n"
		 "From: <sip:bob@Other.Example>;tag=1\r\n"
		 "To: <sip:bob@Other.Example>\r\n"
		 "Call-ID: g\r\nCSeq: 1 REGISTER\r\n"
		 "Contact: <sip:b@192.0.2.1>\r\nContent-Length: 0\r\n\r\n");
	parse_text(text, strlen(text));
	cr_assert_eq(handle().status, 200);
	cr_assert_eq(bindings("bob@other.example"), 1);
}

Test(reg, two_domains_with_one_user_name_stay_apart)
{
	reg_msg("alice@example.com", "c1", 1, "Contact: <sip:a@192.0.2.1>\r\n");
	cr_assert_eq(handle().status, 200);
	reg_msg("alice@other.example", "c1", 1,
		"Contact: <sip:a@192.0.2.2>, <sip:a@192.0.2.3>\r\n");
	cr_assert_eq(handle().status, 200);
	cr_assert_eq(bindings("alice@example.com"), 1);
	cr_assert_eq(bindings("alice@other.example"), 2);
	reg_msg("alice@other.example", "c1", 2, "Contact: *\r\nExpires: 0\r\n");
	cr_assert_eq(handle().status, 200);
	cr_assert_eq(bindings("alice@example.com"), 1);
	cr_assert_eq(bindings("alice@other.example"), 0);
}

Test(reg, unknown_required_extension_gets_420)
{
	struct reg_answer a;

	reg_msg("alice@example.com", "c1", 1,
		"Require: path, foo, outbound, bar\r\n"
		"Contact: <sip:a@192.0.2.1>\r\n");
	a = handle();
	cr_assert_eq(a.status, 420);
	cr_assert_str_eq(extra_str(&a), "Unsupported: foo, bar\r\n");
	reg_msg("alice@example.com", "c1", 2,
		"Require: path\r\nContact: <sip:a@192.0.2.1>\r\n");
	cr_assert_eq(handle().status, 200);
}

Test(reg, more_bindings_than_the_limit_are_refused)
{
	char lines[8192];
	int o = 0;

	o += snprintf(lines + o, sizeof(lines) - (size_t)o, "Contact: ");
	for (int i = 0; i <= REG_MAX_CONTACTS; i++)
		o += snprintf(lines + o, sizeof(lines) - (size_t)o,
			      "%s<sip:a%d@192.0.2.1>", i ? ", " : "", i);
	snprintf(lines + o, sizeof(lines) - (size_t)o, "\r\n");
	reg_msg("alice@example.com", "c1", 1, lines);
	cr_assert_eq(handle().status, 403);
	cr_assert_eq(bindings("alice@example.com"), 0);
}

Test(reg, a_register_is_handled_on_any_shard)
{
	unsigned owner = shard_owner(SLICE_LIT("alice@example.com"), 2);
	struct reg_stats st;

	/* Not the shard of hash(AOR), then that one: both bindings kept
	 * (compare-and-swap, no owner: store/loc.h). */
	reg_msg("alice@example.com", "c1", 1, "Contact: <sip:a@192.0.2.1>\r\n");
	cr_assert_eq(handle_at(NOW, 1 - owner, 2).status, 200);
	cr_assert_eq(bindings("alice@example.com"), 1);
	reg_msg("alice@example.com", "c2", 1, "Contact: <sip:b@192.0.2.2>\r\n");
	cr_assert_eq(handle_at(NOW, owner, 2).status, 200);
	cr_assert_eq(bindings("alice@example.com"), 2);
	reg_stats(&st);
	cr_assert_eq(st.conflicts, 0);
}

Test(reg, rfc4475_registers_store_their_contacts_verbatim)
{
	static const struct {
		const char *file;
		const char *aor;
		const char *uri;
	} cases[] = {
		{ "rfc4475/valid/cparam01.dat", "watson@example.com",
		  "sip:+19725552222@gw1.example.net" },
		{ "rfc4475/valid/cparam02.dat", "watson@example.com",
		  "sip:+19725552222@gw1.example.net;unknownparam" },
		{ "rfc4475/valid/regescrt.dat", "user@example.com",
		  "sip:user@example.com?Route=%3Csip:sip.example.com%3E" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct loc_set *s;
		char *data = NULL;
		size_t len;

		cr_assert_eq(corpus_read(cases[i].file, &data, &len), 0);
		parse_text(data, len);
		free(data);
		cr_assert_eq(handle().status, 200, "%s", cases[i].file);
		urcu_memb_read_lock();
		s = loc_lookup_rcu(slice_cstr(cases[i].aor));
		cr_assert_not_null(s);
		cr_assert(
		    slice_eq(s->c[s->n - 1].uri, slice_cstr(cases[i].uri)),
		    "%s: %.*s", cases[i].file, (int)s->c[s->n - 1].uri.len,
		    s->c[s->n - 1].uri.p);
		urcu_memb_read_unlock();
	}
}

Test(reg, counters_add_up)
{
	struct reg_stats st;

	reg_msg("alice@example.com", "c1", 1, "Contact: <sip:a@192.0.2.1>\r\n");
	handle();
	reg_msg("alice@example.com", "c1", 2, "Contact: <sip:a@192.0.2.1>\r\n");
	handle();
	reg_msg("alice@example.com", "c1", 2, "Contact: <sip:a@192.0.2.1>\r\n");
	cr_assert_eq(handle().status, 500);
	reg_msg("alice@example.com", "c1", 3,
		"Contact: <sip:a@192.0.2.1>;expires=0\r\n");
	handle();
	reg_stats(&st);
	cr_assert_eq(st.registers, 4);
	cr_assert_eq(st.ok, 3);
	cr_assert_eq(st.rejected, 1);
	cr_assert_eq(st.added, 1);
	cr_assert_eq(st.refreshed, 1);
	cr_assert_eq(st.removed, 1);
}
