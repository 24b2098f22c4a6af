/* tests/integration/test_gruu.c - GRUU (RFC 5627) end to end: the real
 * sipedge, two instances of alice and a caller as hand-made UDP UAs */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/sip/hdr.h"
#include "proxy/sip/msg.h"
#include "tests/common/proc.h"
#include "tests/common/sipcli.h"
#include "tests/common/ua.h"
#include "tests/common/teardown.h"

#define INST_A "<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>"
#define INST_B "<urn:uuid:0d6a3f1e-1b2c-4e5f-9a8b-7c6d5e4f3a2b>"
#define INST_C "<urn:uuid:aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee>"
#define PUB_A \
	"sip:alice@localhost;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"
#define PUB_B \
	"sip:alice@localhost;gr=urn:uuid:0d6a3f1e-1b2c-4e5f-9a8b-7c6d5e4f3a2b"

static struct proc_sipedge sp;
static struct sipcli_msg *rx, *tmp;

static struct ua dev_a, dev_b, caller;

static void setup(void)
{
	memset(&sp, 0, sizeof(sp));
	dev_a.fd = dev_b.fd = caller.fd = -1;
	rx = calloc(1, sizeof(*rx));
	tmp = calloc(1, sizeof(*tmp));
	cr_assert(rx && tmp);
	/* One shard: what it sends to one UA arrives in order, so a
	 * marker exchange shows everything sent before it. */
	cr_assert_eq(proc_sipedge_start(&sp, "127.0.0.1", 1, NULL), 0, "%s",
		     sp.why);
	ua_open(&dev_a, "alice", "localhost", "127.0.0.1", sp.port);
	ua_open(&dev_b, "alice", "localhost", "127.0.0.1", sp.port);
	ua_open(&caller, "bob", "localhost", "127.0.0.1", sp.port);
}

static void teardown(void)
{
	ua_close(&dev_a);
	ua_close(&dev_b);
	ua_close(&caller);
	free(rx);
	free(tmp);
	teardown_sipedge(&sp);
}

TestSuite(gruu, .init = setup, .fini = teardown, .timeout = 60);

static char *str(struct slice s, char *buf, size_t size)
{
	return slice_cstr_copy(s, buf, size);
}

/* REGISTER of alice's instance @p inst on @p u; the status, 200 in rx. */
static unsigned reg(struct ua *u, const char *inst, const char *cid,
		    unsigned cseq, unsigned expires, bool gruu)
{
	char req[2048];
	unsigned k = ++u->seq;
	int n;

	n = snprintf(req, sizeof(req),
		     "REGISTER sip:localhost SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP 127.0.0.1:%u;rport;branch=z9hG4bKr%u\r\n"
		     "Max-Forwards: 70\r\n"
		     "From: <sip:alice@localhost>;tag=r%u\r\n"
		     "To: <sip:alice@localhost>\r\n"
		     "Call-ID: %s\r\nCSeq: %u REGISTER\r\n"
		     "%s"
		     "User-Agent: gruu-test/1.0\r\n"
		     "Contact: <%s>;+sip.instance=\"%s\";expires=%u\r\n"
		     "Content-Length: 0\r\n\r\n",
		     u->port, k, k, cid, cseq,
		     gruu ? "Supported: gruu, path\r\n" : "", u->contact, inst,
		     expires);
	ua_send(u, req, (size_t)n);
	return ua_expect_final(u, cid, "REGISTER", rx);
}

/*
 * The pub-gruu and temp-gruu of the Contact with instance @p inst in
 * the 200 in rx (each "" when absent). False when no such Contact.
 */
static bool gruus_of(const char *inst, char *pub, char *temp, size_t size)
{
	pub[0] = temp[0] = '\0';
	for (const struct siphdr *h = sipmsg_hdr(&rx->m, HDR_CONTACT); h;
	     h = sipmsg_hdr_next(&rx->m, h)) {
		struct slice rest = h->value, e, v;
		struct nameaddr na;

		while (hdr_split_next(&rest, &e) == 1) {
			cr_assert_eq(nameaddr_parse(e, &na), 0);
			if (hdr_param_find(na.params, "+sip.instance", &v) !=
				1 ||
			    v.len != strlen(inst) + 2 ||
			    memcmp(v.p + 1, inst, strlen(inst)) != 0)
				continue;
			if (hdr_param_find(na.params, "pub-gruu", &v) == 1) {
				cr_assert(v.len >= 2 && v.p[0] == '"');
				str(slice_make(v.p + 1, v.len - 2), pub, size);
			}
			if (hdr_param_find(na.params, "temp-gruu", &v) == 1) {
				cr_assert(v.len >= 2 && v.p[0] == '"');
				str(slice_make(v.p + 1, v.len - 2), temp, size);
			}
			return true;
		}
	}
	return false;
}

/* Register instance @p inst on @p u with GRUU support; its GRUUs. */
static void reg_gruu(struct ua *u, const char *inst, const char *cid,
		     unsigned cseq, char *pub, char *temp)
{
	cr_assert_eq(reg(u, inst, cid, cseq, 3600, true), 200);
	cr_assert(gruus_of(inst, pub, temp, 512), "no Contact for %s:\n%s",
		  inst, rx->buf);
}

/* The request line's URI of @p r as a string. */
static char *ruri_of(const struct sipcli_msg *r, char *buf, size_t size)
{
	return str(r->m.ruri, buf, size);
}

/* A dialog the caller started. */
struct call {
	char cid[64];
	char ruri[512];
	unsigned n;	  /* the INVITE's branch and From tag number */
	char to[512];	  /* To of the answer, with its tag */
	char target[512]; /* Contact of the 2xx */
	char route[256];  /* Record-Route of the 2xx, or "" */
};

static void send_invite(struct call *c, const char *ruri)
{
	char req[2048];
	int n;

	memset(c, 0, sizeof(*c));
	c->n = ++caller.seq;
	snprintf(c->cid, sizeof(c->cid), "call-%u-%u", caller.port, c->n);
	snprintf(c->ruri, sizeof(c->ruri), "%s", ruri);
	n = snprintf(req, sizeof(req),
		     "INVITE %s SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP 127.0.0.1:%u;rport;branch=z9hG4bKi%u\r\n"
		     "Max-Forwards: 70\r\n"
		     "From: <sip:bob@localhost>;tag=b%u\r\n"
		     "To: <sip:alice@localhost>\r\n"
		     "Call-ID: %s\r\nCSeq: 1 INVITE\r\n"
		     "Contact: <%s>\r\n"
		     "Content-Length: 0\r\n\r\n",
		     ruri, caller.port, c->n, c->n, c->cid, caller.contact);
	ua_send(&caller, req, (size_t)n);
}

/* The caller's final answer to @p c's INVITE (in rx); after a 2xx the
 * dialog's target and route are kept, a failure is ACKed. */
static unsigned invite_final(struct call *c)
{
	const struct siphdr *h;
	struct nameaddr na;
	unsigned st = ua_expect_final(&caller, c->cid, "INVITE", rx);
	char req[2048];
	int n;

	h = sipmsg_hdr(&rx->m, HDR_TO);
	cr_assert_not_null(h);
	str(h->value, c->to, sizeof(c->to));
	if (st >= 300) {
		/* RFC 3261 §17.1.1.3: same branch, hop by hop. */
		n = snprintf(req, sizeof(req),
			     "ACK %s SIP/2.0\r\n"
			     "Via: SIP/2.0/UDP 127.0.0.1:%u;rport;"
			     "branch=z9hG4bKi%u\r\n"
			     "Max-Forwards: 70\r\n"
			     "From: <sip:bob@localhost>;tag=b%u\r\nTo: %s\r\n"
			     "Call-ID: %s\r\nCSeq: 1 ACK\r\n"
			     "Content-Length: 0\r\n\r\n",
			     c->ruri, caller.port, c->n, c->n, c->to, c->cid);
		ua_send(&caller, req, (size_t)n);
		return st;
	}
	h = sipmsg_hdr(&rx->m, HDR_CONTACT);
	cr_assert_not_null(h);
	cr_assert_eq(nameaddr_parse(h->value, &na), 0);
	str(na.uri, c->target, sizeof(c->target));
	h = sipmsg_hdr(&rx->m, HDR_RECORD_ROUTE);
	if (h)
		str(h->value, c->route, sizeof(c->route));
	return st;
}

/* An in-dialog request of @p c (ACK of the 2xx, BYE) to its target. */
static void in_dialog(struct call *c, const char *method, unsigned cseq)
{
	char req[2048], route[300] = "";
	int n;

	if (c->route[0])
		snprintf(route, sizeof(route), "Route: %s\r\n", c->route);
	n = snprintf(req, sizeof(req),
		     "%s %s SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP 127.0.0.1:%u;rport;branch=z9hG4bKd%u\r\n"
		     "Max-Forwards: 70\r\n%s"
		     "From: <sip:bob@localhost>;tag=b%u\r\nTo: %s\r\n"
		     "Call-ID: %s\r\nCSeq: %u %s\r\n"
		     "Content-Length: 0\r\n\r\n",
		     method, c->target, caller.port, ++caller.seq, route, c->n,
		     c->to, c->cid, cseq, method);
	ua_send(&caller, req, (size_t)n);
}

/* A call to @p ruri that @p dev must get and @p other must not; @p dev
 * answers 486. */
static void call_reaches(const char *ruri, struct ua *dev, struct ua *other)
{
	char got[512];
	struct call c;

	send_invite(&c, ruri);
	ua_expect_req(dev, "INVITE", c.cid, rx);
	cr_assert_str_eq(ruri_of(rx, got, sizeof(got)), dev->contact);
	ua_respond(dev, rx, 486, "Answer", NULL);
	cr_assert_eq(invite_final(&c), 486);
	ua_nothing_for(other, c.cid, tmp);
}

/* A call to @p ruri answered by sipedge itself with @p status. */
static void call_refused(const char *ruri, unsigned status)
{
	struct call c;

	send_invite(&c, ruri);
	cr_assert_eq(invite_final(&c), status, "%s:\n%s", ruri, rx->buf);
	ua_nothing_for(&dev_a, c.cid, tmp);
	ua_nothing_for(&dev_b, c.cid, tmp);
}

Test(gruu, register_returns_both_gruus)
{
	char pub[512], temp[512], pub2[512], temp2[512];
	const char *tok;

	/* Without Supported: gruu there are none (RFC 5627 §5.1). */
	cr_assert_eq(reg(&dev_a, INST_A, "reg-a", 1, 3600, false), 200);
	cr_assert(gruus_of(INST_A, pub, temp, sizeof(pub)));
	cr_assert_str_empty(pub, "%s", rx->buf);
	cr_assert_str_empty(temp);
	reg_gruu(&dev_a, INST_A, "reg-a", 2, pub, temp);
	reg_gruu(&dev_b, INST_B, "reg-b", 1, pub2, temp2);
	/* The second 200 lists both bindings, each with its GRUUs. */
	cr_assert_eq(sipmsg_hdr_count(&rx->m, HDR_CONTACT), 2, "%s", rx->buf);
	cr_assert(gruus_of(INST_A, pub, temp, sizeof(pub)));
	cr_assert_str_eq(pub, PUB_A);
	cr_assert_str_eq(pub2, PUB_B);
	for (int i = 0; i < 2; i++) {
		const char *t = i ? temp2 : temp;

		cr_assert_eq(strncmp(t, "sip:tgruu.", 10), 0, "%s", t);
		tok = strchr(t, '@');
		cr_assert_not_null(tok);
		cr_assert_str_eq(tok, "@localhost;gr");
		/* Opaque: the AOR is not in it. */
		cr_assert_null(strstr(t, "alice"), "%s", t);
	}
	cr_assert_str_neq(temp, temp2);
}

Test(gruu, invite_to_a_gruu_reaches_only_that_instance)
{
	char pa[512], ta[512], pb[512], tb[512], got[512];
	struct call c;

	reg_gruu(&dev_a, INST_A, "reg-a", 1, pa, ta);
	reg_gruu(&dev_b, INST_B, "reg-b", 1, pb, tb);
	call_reaches(ta, &dev_a, &dev_b);
	call_reaches(pa, &dev_a, &dev_b);
	call_reaches(tb, &dev_b, &dev_a);
	call_reaches(pb, &dev_b, &dev_a);
	/* The AOR itself still forks to both. */
	send_invite(&c, "sip:alice@localhost");
	ua_expect_req(&dev_a, "INVITE", c.cid, rx);
	cr_assert_str_eq(ruri_of(rx, got, sizeof(got)), dev_a.contact);
	ua_respond(&dev_a, rx, 486, "Answer", NULL);
	ua_expect_req(&dev_b, "INVITE", c.cid, rx);
	cr_assert_str_eq(ruri_of(rx, got, sizeof(got)), dev_b.contact);
	ua_respond(&dev_b, rx, 486, "Answer", NULL);
	cr_assert_eq(invite_final(&c), 486);
}

/* A dialog with @p dev through GRUU @p ruri, whose 2xx names the
 * device by @p own_gruu: ACK and BYE must reach @p dev only. */
static void dialog_via_gruu(const char *ruri, const char *own_gruu,
			    struct ua *dev, struct ua *other)
{
	char got[512];
	struct call c;

	send_invite(&c, ruri);
	ua_expect_req(dev, "INVITE", c.cid, rx);
	ua_respond(dev, rx, 200, "Answer", own_gruu);
	cr_assert_eq(invite_final(&c), 200);
	cr_assert_str_eq(c.target, own_gruu);
	cr_assert_str_not_empty(c.route, "sipedge did not Record-Route");
	in_dialog(&c, "ACK", 1);
	ua_expect_req(dev, "ACK", c.cid, rx);
	cr_assert_str_eq(ruri_of(rx, got, sizeof(got)), dev->contact);
	in_dialog(&c, "BYE", 2);
	ua_expect_req(dev, "BYE", c.cid, rx);
	cr_assert_str_eq(ruri_of(rx, got, sizeof(got)), dev->contact);
	ua_respond(dev, rx, 200, "Answer", NULL);
	cr_assert_eq(ua_expect_final(&caller, c.cid, "BYE", rx), 200);
	ua_nothing_for(other, c.cid, tmp);
}

Test(gruu, in_dialog_requests_to_a_gruu_reach_the_right_instance)
{
	char pa[512], ta[512], pb[512], tb[512];

	reg_gruu(&dev_a, INST_A, "reg-a", 1, pa, ta);
	reg_gruu(&dev_b, INST_B, "reg-b", 1, pb, tb);
	dialog_via_gruu(ta, pa, &dev_a, &dev_b);
	dialog_via_gruu(pb, tb, &dev_b, &dev_a);
}

Test(gruu, unknown_gruu_404_unregistered_instance_480)
{
	char pa[512], ta[512], pb[512], tb[512], bad[512], pc[512], tc[512];
	char *p;

	reg_gruu(&dev_a, INST_A, "reg-a", 1, pa, ta);
	reg_gruu(&dev_b, INST_B, "reg-b", 1, pb, tb);
	/* A token changed by one character does not open. */
	snprintf(bad, sizeof(bad), "%s", ta);
	p = strchr(bad, '@') - 3;
	*p = *p == 'A' ? 'B' : 'A';
	call_refused(bad, 404);
	call_refused("sip:tgruu.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		     "AAAAAAAAAAAAAAAAAA@localhost;gr",
		     404);
	call_refused("sip:nobody@localhost;gr", 404);
	/* Instance C registers, then leaves: its GRUUs are known, it is
	 * not there. */
	reg_gruu(&dev_a, INST_C, "reg-c", 1, pc, tc);
	cr_assert_eq(reg(&dev_a, INST_C, "reg-c", 2, 0, true), 200);
	call_refused(tc, 480);
	call_refused(pc, 480);
	/* The others still work. */
	call_reaches(ta, &dev_a, &dev_b);
	call_reaches(pb, &dev_b, &dev_a);
}

Test(gruu, temp_gruu_dies_when_the_instance_registers_a_new_call_id)
{
	char pa[512], t1[512], t2[512], t3[512], pb[512], tb[512];

	reg_gruu(&dev_a, INST_A, "reg-a1", 1, pa, t1);
	reg_gruu(&dev_b, INST_B, "reg-b", 1, pb, tb);
	/* A refresh (same Call-ID) mints a new one; both work. */
	reg_gruu(&dev_a, INST_A, "reg-a1", 2, pa, t2);
	cr_assert_str_neq(t1, t2);
	call_reaches(t1, &dev_a, &dev_b);
	call_reaches(t2, &dev_a, &dev_b);
	/* RFC 5627: a new Call-ID (a reboot) ends all of them. */
	reg_gruu(&dev_a, INST_A, "reg-a2", 1, pa, t3);
	call_refused(t1, 404);
	call_refused(t2, 404);
	call_reaches(t3, &dev_a, &dev_b);
	call_reaches(pa, &dev_a, &dev_b);
	call_reaches(tb, &dev_b, &dev_a);
}
