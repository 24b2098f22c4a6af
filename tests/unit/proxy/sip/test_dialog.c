/* tests/unit/proxy/sip/test_dialog.c - UA dialog state (RFC 3261 §12) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "proxy/base/arena.h"
#include "proxy/sip/dialog.h"
#include "proxy/sip/hdr.h"
#include "proxy/sip/msg.h"
#include "tests/unit/msgin.h"

#define MAXH 64

static struct sipmsg in;
static struct siphdr ihdrs[MAXH];
static struct sipmsg out;
static struct siphdr ohdrs[MAXH];
static struct dialog *dlg;

static void fini(void)
{
	dialog_free(dlg);
	dlg = NULL;
	msgin_fini();
}

TestSuite(dialog, .init = msgin_init, .fini = fini, .timeout = 10);

static void expect(struct slice s, const char *want)
{
	msgin_expect_str(s.p, s.len, want);
}

/* Parse @p text (guarded copy) into in. */
static void parse(const char *text)
{
	size_t len = strlen(text);

	cr_assert_eq(
	    sipmsg_parse(&in, msgin_copy(text, len), len, ihdrs, MAXH, 0),
	    (int)len, "input does not parse: %s", in.fault ? in.fault : "");
}

/* RFC 3261 §24.2 F5 / F9 style: Bob's answer, through two proxies. */
static const char bob_200[] =
    "SIP/2.0 200 OK\r\n"
    "Via: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9;"
    "received=192.0.2.101\r\n"
    "Record-Route: <sip:ss2.biloxi.example.com;lr>\r\n"
    "Record-Route: <sip:ss1.atlanta.example.com;lr>\r\n"
    "From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
    "To: Bob <sip:bob@biloxi.example.com>;tag=314159\r\n"
    "Call-ID: 2xTb9vxSit55XU7p8@atlanta.example.com\r\n"
    "CSeq: 1 INVITE\r\n"
    "Contact: <sip:bob@client.biloxi.example.com;transport=tcp>\r\n"
    "Content-Length: 0\r\n\r\n";

/* The INVITE as it reaches Bob (F4 style). */
static const char bob_gets[] =
    "INVITE sip:bob@client.biloxi.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/TCP ss2.biloxi.example.com:5060;branch=z9hG4bK721e4.1\r\n"
    "Via: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9\r\n"
    "Max-Forwards: 68\r\n"
    "Record-Route: <sip:ss2.biloxi.example.com;lr>, "
    "<sip:ss1.atlanta.example.com;lr>\r\n"
    "From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
    "To: Bob <sip:bob@biloxi.example.com>\r\n"
    "Call-ID: 2xTb9vxSit55XU7p8@atlanta.example.com\r\n"
    "CSeq: 7 INVITE\r\n"
    "Contact: <sip:alice@client.atlanta.example.com;transport=tcp>\r\n"
    "Content-Length: 0\r\n\r\n";

static struct dialog_req req_of(enum sip_method method)
{
	struct dialog_req r;

	memset(&r, 0, sizeof(r));
	r.method = method;
	r.via_transport = SLICE_LIT("TCP");
	r.via_host = SLICE_LIT("client.atlanta.example.com");
	r.via_port = 5060;
	r.branch = SLICE_LIT("z9hG4bKnew1");
	r.contact = SLICE_LIT("sip:alice@client.atlanta.example.com");
	return r;
}

/* dialog_request() of @p method on dlg, parsed back into out. */
static void send_req(enum sip_method method)
{
	struct dialog_req r = req_of(method);
	struct slice s;

	cr_assert_eq(dialog_request(dlg, &r, msgin_arena, &s), 0);
	msgin_reparse(s.p, s.len, &out, ohdrs, MAXH, "in-dialog request");
}

/* The Route values of out, joined by " | ". */
static void expect_routes(const char *want)
{
	char buf[512] = "";
	size_t o = 0;

	for (const struct siphdr *h = sipmsg_hdr(&out, HDR_ROUTE); h;
	     h = sipmsg_hdr_next(&out, h))
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%.*s",
				      o ? " | " : "", (int)h->value.len,
				      h->value.p);
	cr_assert_str_eq(buf, want);
}

Test(dialog, uac_from_2xx_reverses_record_route)
{
	parse(bob_200);
	cr_assert_eq(dialog_new_uac(&in, false, &dlg), 0);
	cr_assert_eq(dlg->role, DIALOG_UAC);
	cr_assert_eq(dlg->state, DIALOG_CONFIRMED);
	expect(dlg->call_id, "2xTb9vxSit55XU7p8@atlanta.example.com");
	expect(dlg->local_tag, "9fxced76sl");
	expect(dlg->remote_tag, "314159");
	expect(dlg->local_uri, "sip:alice@atlanta.example.com");
	expect(dlg->remote_uri, "sip:bob@biloxi.example.com");
	expect(dlg->remote_target,
	       "sip:bob@client.biloxi.example.com;transport=tcp");
	cr_assert_eq(dlg->nroute, 2);
	expect(dlg->route[0], "<sip:ss1.atlanta.example.com;lr>");
	expect(dlg->route[1], "<sip:ss2.biloxi.example.com;lr>");
	cr_assert(dlg->local_cseq_set);
	cr_assert_eq(dlg->local_cseq, 1);
	cr_assert_not(dlg->remote_cseq_set);
	cr_assert(dlg->invite_cseq_set);
	/* Nothing points into the message any more. */
	memset((char *)in.buf, 'x', in.len);
	expect(dlg->remote_tag, "314159");
}

Test(dialog, uac_bye_loose_routing_12_2_1_1)
{
	struct slice hop;

	parse(bob_200);
	cr_assert_eq(dialog_new_uac(&in, false, &dlg), 0);
	send_req(SIP_BYE);
	cr_assert_eq(out.method, SIP_BYE);
	expect(out.ruri, "sip:bob@client.biloxi.example.com;transport=tcp");
	expect_routes("<sip:ss1.atlanta.example.com;lr> | "
		      "<sip:ss2.biloxi.example.com;lr>");
	expect(out.from_tag, "9fxced76sl");
	expect(out.to_tag, "314159");
	expect(out.call_id, "2xTb9vxSit55XU7p8@atlanta.example.com");
	cr_assert_eq(out.cseq, 2);
	cr_assert_eq(out.cseq_method, SIP_BYE);
	expect(out.via.branch, "z9hG4bKnew1");
	cr_assert_eq(dlg->local_cseq, 2);
	cr_assert_eq(dialog_next_hop(dlg, &hop), 0);
	expect(hop, "sip:ss1.atlanta.example.com;lr");
}

Test(dialog, ack_and_cancel_take_the_invite_cseq)
{
	parse(bob_200);
	cr_assert_eq(dialog_new_uac(&in, false, &dlg), 0);
	send_req(SIP_ACK);
	cr_assert_eq(out.cseq, 1);
	cr_assert_eq(out.cseq_method, SIP_ACK);
	cr_assert_eq(dlg->local_cseq, 1, "ACK does not advance the CSeq");
	send_req(SIP_INFO);
	cr_assert_eq(out.cseq, 2);
	send_req(SIP_INVITE); /* re-INVITE */
	cr_assert_eq(out.cseq, 3);
	cr_assert_eq(dlg->invite_cseq, 3);
	send_req(SIP_CANCEL);
	cr_assert_eq(out.cseq, 3);
	cr_assert_eq(out.cseq_method, SIP_CANCEL);
	send_req(SIP_ACK);
	cr_assert_eq(out.cseq, 3);
	send_req(SIP_BYE);
	cr_assert_eq(out.cseq, 4);
}

Test(dialog, uac_early_from_180_then_2xx_recomputes_route_and_target)
{
	static const char ringing[] =
	    "SIP/2.0 180 Ringing\r\n"
	    "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n"
	    "Record-Route: <sip:early.example.com;lr>\r\n"
	    "From: <sip:alice@a.example.com>;tag=aa\r\n"
	    "To: <sip:bob@b.example.com>;tag=bb\r\n"
	    "Call-ID: c1\r\nCSeq: 5 INVITE\r\nContent-Length: 0\r\n\r\n";
	static const char ok[] =
	    "SIP/2.0 200 OK\r\n"
	    "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n"
	    "Record-Route: <sip:p2.example.com;lr>,<sip:p1.example.com;lr>\r\n"
	    "From: <sip:alice@a.example.com>;tag=aa\r\n"
	    "To: <sip:bob@b.example.com>;tag=bb\r\n"
	    "Call-ID: c1\r\nCSeq: 5 INVITE\r\n"
	    "Contact: <sip:bob@192.0.2.9:5062>\r\nContent-Length: 0\r\n\r\n";
	struct dialog_req r = req_of(SIP_PRACK);
	struct slice s;

	parse(ringing);
	cr_assert_eq(dialog_new_uac(&in, false, &dlg), 0);
	cr_assert_eq(dlg->state, DIALOG_EARLY);
	cr_assert_eq(dlg->remote_target.len, 0);
	cr_assert_eq(dialog_request(dlg, &r, msgin_arena, &s), -ENOENT,
		     "no target before a Contact");
	parse(ok);
	cr_assert_eq(dialog_confirm(dlg, &in), 0);
	cr_assert_eq(dlg->state, DIALOG_CONFIRMED);
	expect(dlg->remote_target, "sip:bob@192.0.2.9:5062");
	cr_assert_eq(dlg->nroute, 2);
	expect(dlg->route[0], "<sip:p1.example.com;lr>");
	expect(dlg->route[1], "<sip:p2.example.com;lr>");
}

Test(dialog, confirm_refuses_another_fork)
{
	static const char ringing[] =
	    "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n"
	    "From: <sip:alice@a>;tag=aa\r\nTo: <sip:bob@b>;tag=bb\r\n"
	    "Call-ID: c1\r\nCSeq: 5 INVITE\r\nContact: <sip:bob@b1>\r\n"
	    "Content-Length: 0\r\n\r\n";
	static const char other[] =
	    "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n"
	    "From: <sip:alice@a>;tag=aa\r\nTo: <sip:bob@b>;tag=cc\r\n"
	    "Call-ID: c1\r\nCSeq: 5 INVITE\r\nContact: <sip:bob@b2>\r\n"
	    "Content-Length: 0\r\n\r\n";

	parse(ringing);
	cr_assert_eq(dialog_new_uac(&in, false, &dlg), 0);
	expect(dlg->remote_target, "sip:bob@b1");
	parse(other);
	cr_assert_not(dialog_is_match(dlg, &in));
	cr_assert_eq(dialog_confirm(dlg, &in), -EINVAL);
	cr_assert_eq(dlg->state, DIALOG_EARLY);
	cr_assert_eq(dialog_confirm(dlg, NULL), -EINVAL);
}

Test(dialog, uac_refuses_what_makes_no_dialog)
{
	parse("SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n"
	      "From: <sip:alice@a>;tag=aa\r\nTo: <sip:bob@b>\r\n"
	      "Call-ID: c1\r\nCSeq: 5 INVITE\r\nContent-Length: 0\r\n\r\n");
	cr_assert_eq(dialog_new_uac(&in, false, &dlg), -EBADMSG, "no To tag");
	parse("SIP/2.0 100 Trying\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n"
	      "From: <sip:alice@a>;tag=aa\r\nTo: <sip:bob@b>;tag=x\r\n"
	      "Call-ID: c1\r\nCSeq: 5 INVITE\r\nContent-Length: 0\r\n\r\n");
	cr_assert_eq(dialog_new_uac(&in, false, &dlg), -EINVAL, "100");
	parse("SIP/2.0 486 Busy\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n"
	      "From: <sip:alice@a>;tag=aa\r\nTo: <sip:bob@b>;tag=x\r\n"
	      "Call-ID: c1\r\nCSeq: 5 INVITE\r\nContent-Length: 0\r\n\r\n");
	cr_assert_eq(dialog_new_uac(&in, false, &dlg), -EINVAL, "486");
	parse("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n"
	      "From: <sip:alice@a>;tag=aa\r\nTo: <sip:bob@b>;tag=x\r\n"
	      "Call-ID: c1\r\nCSeq: 5 INVITE\r\nContent-Length: 0\r\n\r\n");
	cr_assert_eq(dialog_new_uac(&in, false, &dlg), -EBADMSG,
		     "2xx without Contact");
	parse("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n"
	      "Record-Route: sip:noangle.example.com;lr\r\n"
	      "From: <sip:alice@a>;tag=aa\r\nTo: <sip:bob@b>;tag=x\r\n"
	      "Call-ID: c1\r\nCSeq: 5 INVITE\r\nContact: <sip:b@c>\r\n"
	      "Content-Length: 0\r\n\r\n");
	cr_assert_eq(dialog_new_uac(&in, false, &dlg), -EBADMSG,
		     "Record-Route without < >");
	parse("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n"
	      "From: <sip:alice@a>;tag=aa\r\nTo: <sip:bob@b>;tag=x\r\n"
	      "Call-ID: c1\r\nCSeq: 5 INVITE\r\nContact: *\r\n"
	      "Content-Length: 0\r\n\r\n");
	cr_assert_eq(dialog_new_uac(&in, false, &dlg), -EBADMSG, "Contact *");
	cr_assert_null(dlg);
}

Test(dialog, too_many_record_routes_is_e2big)
{
	char text[4096];
	size_t o = 0;

	o += (size_t)snprintf(text + o, sizeof(text) - o,
			      "SIP/2.0 200 OK\r\n"
			      "Via: SIP/2.0/UDP a;branch=z9hG4bK1\r\n");
	for (int i = 0; i <= DIALOG_MAX_ROUTES; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o,
				      "Record-Route: <sip:p%d.example;lr>\r\n",
				      i);
	snprintf(text + o, sizeof(text) - o,
		 "From: <sip:alice@a>;tag=aa\r\nTo: <sip:bob@b>;tag=x\r\n"
		 "Call-ID: c1\r\nCSeq: 5 INVITE\r\nContact: <sip:b@c>\r\n"
		 "Content-Length: 0\r\n\r\n");
	parse(text);
	cr_assert_eq(dialog_new_uac(&in, false, &dlg), -E2BIG);
}

Test(dialog, uas_keeps_record_route_order)
{
	struct dialog_req r = req_of(SIP_BYE);
	struct slice s;

	parse(bob_gets);
	cr_assert_eq(
	    dialog_new_uas(&in, SLICE_LIT("314159"), DIALOG_EARLY, false, &dlg),
	    0);
	cr_assert_eq(dlg->role, DIALOG_UAS);
	cr_assert_eq(dlg->state, DIALOG_EARLY);
	expect(dlg->local_tag, "314159");
	expect(dlg->remote_tag, "9fxced76sl");
	expect(dlg->local_uri, "sip:bob@biloxi.example.com");
	expect(dlg->remote_uri, "sip:alice@atlanta.example.com");
	expect(dlg->remote_target,
	       "sip:alice@client.atlanta.example.com;transport=tcp");
	cr_assert_eq(dlg->nroute, 2);
	expect(dlg->route[0], "<sip:ss2.biloxi.example.com;lr>");
	expect(dlg->route[1], "<sip:ss1.atlanta.example.com;lr>");
	cr_assert(dlg->remote_cseq_set);
	cr_assert_eq(dlg->remote_cseq, 7);
	cr_assert_not(dlg->local_cseq_set);
	/* No INVITE of ours: nothing for an ACK to take. */
	r.method = SIP_ACK;
	cr_assert_eq(dialog_request(dlg, &r, msgin_arena, &s), -EINVAL);
	cr_assert_eq(dialog_confirm(dlg, NULL), 0);
	cr_assert_eq(dlg->state, DIALOG_CONFIRMED);
	/* Bob's BYE: From Bob, To Alice, CSeq from 1 (empty local). */
	send_req(SIP_BYE);
	expect(out.ruri, "sip:alice@client.atlanta.example.com;transport=tcp");
	expect_routes("<sip:ss2.biloxi.example.com;lr> | "
		      "<sip:ss1.atlanta.example.com;lr>");
	expect(out.from_tag, "314159");
	expect(out.to_tag, "9fxced76sl");
	cr_assert_eq(out.cseq, 1);
	cr_assert_eq(dlg->local_cseq, 1);
}

Test(dialog, uas_refuses_bad_requests)
{
	parse(bob_gets);
	cr_assert_eq(
	    dialog_new_uas(&in, SLICE_LIT("a b"), DIALOG_EARLY, false, &dlg),
	    -EINVAL);
	parse("INVITE sip:b@c SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n"
	      "From: <sip:alice@a>;tag=aa\r\nTo: <sip:bob@b>\r\n"
	      "Call-ID: c1\r\nCSeq: 5 INVITE\r\nContent-Length: 0\r\n\r\n");
	cr_assert_eq(
	    dialog_new_uas(&in, SLICE_LIT("t"), DIALOG_EARLY, false, &dlg),
	    -EBADMSG, "no Contact");
	parse(bob_200);
	cr_assert_eq(
	    dialog_new_uas(&in, SLICE_LIT("t"), DIALOG_EARLY, false, &dlg),
	    -EINVAL, "a response");
	cr_assert_null(dlg);
}

Test(dialog, strict_router_becomes_the_request_uri)
{
	static const char rsp[] =
	    "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n"
	    "Record-Route: <sip:loose.example.com;lr>\r\n"
	    "Record-Route: <sip:strict.example.com;maddr=192.0.2.7?X=1>\r\n"
	    "From: <sip:alice@a.example.com>;tag=aa\r\n"
	    "To: <sip:bob@b.example.com>;tag=bb\r\n"
	    "Call-ID: c1\r\nCSeq: 5 INVITE\r\n"
	    "Contact: <sip:bob@192.0.2.9>\r\nContent-Length: 0\r\n\r\n";
	struct slice hop;

	parse(rsp);
	cr_assert_eq(dialog_new_uac(&in, false, &dlg), 0);
	send_req(SIP_BYE);
	/* RFC 3261 §12.2.1.1: the strict router's URI, without headers. */
	expect(out.ruri, "sip:strict.example.com;maddr=192.0.2.7");
	expect_routes("<sip:loose.example.com;lr> | <sip:bob@192.0.2.9>");
	cr_assert_eq(dialog_next_hop(dlg, &hop), 0);
	expect(hop, "sip:strict.example.com;maddr=192.0.2.7?X=1");
}

Test(dialog, no_route_set_targets_the_contact)
{
	struct slice hop;

	parse(
	    "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n"
	    "From: <sip:alice@a>;tag=aa\r\nTo: <sip:bob@b>;tag=bb\r\n"
	    "Call-ID: c1\r\nCSeq: 5 INVITE\r\nContact: <sip:bob@192.0.2.9>\r\n"
	    "Content-Length: 0\r\n\r\n");
	cr_assert_eq(dialog_new_uac(&in, false, &dlg), 0);
	send_req(SIP_BYE);
	expect(out.ruri, "sip:bob@192.0.2.9");
	cr_assert_eq(sipmsg_hdr_count(&out, HDR_ROUTE), 0);
	cr_assert_eq(dialog_next_hop(dlg, &hop), 0);
	expect(hop, "sip:bob@192.0.2.9");
}

Test(dialog, cseq_rules_12_2_2)
{
	parse(bob_gets); /* CSeq 7 */
	cr_assert_eq(
	    dialog_new_uas(&in, SLICE_LIT("t1"), DIALOG_CONFIRMED, false, &dlg),
	    0);
	parse("INFO sip:b@c SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK2\r\n"
	      "From: <sip:alice@a>;tag=9fxced76sl\r\nTo: <sip:bob@b>;tag=t1\r\n"
	      "Call-ID: 2xTb9vxSit55XU7p8@atlanta.example.com\r\n"
	      "CSeq: 6 INFO\r\nContent-Length: 0\r\n\r\n");
	cr_assert(dialog_is_match(dlg, &in));
	cr_assert_eq(dialog_check_cseq(dlg, &in), -ERANGE, "lower: 500");
	cr_assert_eq(dlg->remote_cseq, 7);
	parse("ACK sip:b@c SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK3\r\n"
	      "From: <sip:alice@a>;tag=9fxced76sl\r\nTo: <sip:bob@b>;tag=t1\r\n"
	      "Call-ID: 2xTb9vxSit55XU7p8@atlanta.example.com\r\n"
	      "CSeq: 2 ACK\r\nContent-Length: 0\r\n\r\n");
	cr_assert_eq(dialog_check_cseq(dlg, &in), 0, "ACK is not checked");
	cr_assert_eq(dlg->remote_cseq, 7);
	parse("BYE sip:b@c SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK4\r\n"
	      "From: <sip:alice@a>;tag=9fxced76sl\r\nTo: <sip:bob@b>;tag=t1\r\n"
	      "Call-ID: 2xTb9vxSit55XU7p8@atlanta.example.com\r\n"
	      "CSeq: 4000 BYE\r\nContent-Length: 0\r\n\r\n");
	cr_assert_eq(dialog_check_cseq(dlg, &in), 0);
	cr_assert_eq(dlg->remote_cseq, 4000);
	cr_assert_eq(dialog_check_cseq(dlg, &in), 0, "equal is not lower");
}

Test(dialog, uac_empty_remote_cseq_takes_the_first)
{
	parse(bob_200);
	cr_assert_eq(dialog_new_uac(&in, false, &dlg), 0);
	parse(
	    "BYE sip:alice@a SIP/2.0\r\nVia: SIP/2.0/UDP b;branch=z9hG4bK9\r\n"
	    "From: <sip:bob@biloxi.example.com>;tag=314159\r\n"
	    "To: <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
	    "Call-ID: 2xTb9vxSit55XU7p8@atlanta.example.com\r\n"
	    "CSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n");
	cr_assert(dialog_is_match(dlg, &in));
	cr_assert_eq(dialog_check_cseq(dlg, &in), 0);
	cr_assert(dlg->remote_cseq_set);
	cr_assert_eq(dlg->remote_cseq, 1);
}

Test(dialog, target_refresh_by_reinvite_and_2xx)
{
	parse(bob_200);
	cr_assert_eq(dialog_new_uac(&in, false, &dlg), 0);
	/* Bob's re-INVITE moves him. */
	parse("INVITE sip:alice@a SIP/2.0\r\nVia: SIP/2.0/UDP "
	      "b;branch=z9hG4bK9\r\n"
	      "From: <sip:bob@biloxi.example.com>;tag=314159\r\n"
	      "To: <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
	      "Call-ID: 2xTb9vxSit55XU7p8@atlanta.example.com\r\n"
	      "CSeq: 2 INVITE\r\nContact: <sip:bob@198.51.100.3:5070>\r\n"
	      "Content-Length: 0\r\n\r\n");
	cr_assert_eq(dialog_refresh(dlg, &in), 1);
	expect(dlg->remote_target, "sip:bob@198.51.100.3:5070");
	cr_assert_eq(dialog_refresh(dlg, &in), 0, "the same target");
	send_req(SIP_BYE);
	expect(out.ruri, "sip:bob@198.51.100.3:5070");
	/* A BYE is no target refresh. */
	parse(
	    "BYE sip:alice@a SIP/2.0\r\nVia: SIP/2.0/UDP b;branch=z9hG4bK8\r\n"
	    "From: <sip:bob@biloxi.example.com>;tag=314159\r\n"
	    "To: <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
	    "Call-ID: 2xTb9vxSit55XU7p8@atlanta.example.com\r\n"
	    "CSeq: 3 BYE\r\nContact: <sip:bob@203.0.113.1>\r\n"
	    "Content-Length: 0\r\n\r\n");
	cr_assert_eq(dialog_refresh(dlg, &in), 0);
	/* The 2xx to our UPDATE moves him again; a 4xx would not. */
	parse("SIP/2.0 491 Pending\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n"
	      "From: <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
	      "To: <sip:bob@biloxi.example.com>;tag=314159\r\n"
	      "Call-ID: 2xTb9vxSit55XU7p8@atlanta.example.com\r\n"
	      "CSeq: 3 UPDATE\r\nContact: <sip:bob@203.0.113.2>\r\n"
	      "Content-Length: 0\r\n\r\n");
	cr_assert_eq(dialog_refresh(dlg, &in), 0);
	parse("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n"
	      "From: <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
	      "To: <sip:bob@biloxi.example.com>;tag=314159\r\n"
	      "Call-ID: 2xTb9vxSit55XU7p8@atlanta.example.com\r\n"
	      "CSeq: 3 UPDATE\r\nContact: <sip:bob@203.0.113.2>\r\n"
	      "Content-Length: 0\r\n\r\n");
	cr_assert(dialog_is_match(dlg, &in));
	cr_assert_eq(dialog_refresh(dlg, &in), 1);
	expect(dlg->remote_target, "sip:bob@203.0.113.2");
	parse("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n"
	      "From: <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
	      "To: <sip:bob@biloxi.example.com>;tag=314159\r\n"
	      "Call-ID: 2xTb9vxSit55XU7p8@atlanta.example.com\r\n"
	      "CSeq: 4 UPDATE\r\nContact: <sip:bob@h:99999>\r\n"
	      "Content-Length: 0\r\n\r\n");
	cr_assert_eq(dialog_refresh(dlg, &in), -EBADMSG);
	expect(dlg->remote_target, "sip:bob@203.0.113.2");
}

Test(dialog, request_refuses_bad_input_and_keeps_cseq)
{
	struct dialog_req r;
	struct request_hdr evil = { SLICE_LIT("X"), SLICE_LIT("a\r\nB: c") };
	struct slice s;

	parse(bob_200);
	cr_assert_eq(dialog_new_uac(&in, false, &dlg), 0);
	r = req_of(SIP_INVITE);
	r.contact = slice_make(NULL, 0);
	cr_assert_eq(dialog_request(dlg, &r, msgin_arena, &s), -EINVAL,
		     "re-INVITE without Contact");
	r = req_of(SIP_BYE);
	r.hdrs = &evil;
	r.nhdrs = 1;
	cr_assert_eq(dialog_request(dlg, &r, msgin_arena, &s), -EINVAL);
	r = req_of(SIP_METHOD_OTHER);
	cr_assert_eq(dialog_request(dlg, &r, msgin_arena, &s), -EINVAL);
	cr_assert_eq(dlg->local_cseq, 1, "failures do not use a CSeq");
	dlg->local_cseq = (1u << 31) - 1;
	r = req_of(SIP_BYE);
	cr_assert_eq(dialog_request(dlg, &r, msgin_arena, &s), -ERANGE);
}

/* The fields of a dialog another UA held (park's node takeover): a
 * confirmed dialog whose requests carry them, CSeq from the one given. */
static struct dialog fields(void)
{
	struct dialog f;

	memset(&f, 0, sizeof(f));
	f.role = DIALOG_UAC;
	f.call_id = slice_cstr("c1@host");
	f.local_tag = slice_cstr("pool1");
	f.remote_tag = slice_cstr("alice1");
	f.local_uri = slice_cstr("sip:700@a.example");
	f.remote_uri = slice_cstr("sip:alice@a.example");
	f.remote_target = slice_cstr("sip:alice@127.0.0.2:5062");
	f.route[0] = slice_cstr("<sip:lb.example;lr>");
	f.nroute = 1;
	f.local_cseq = 107;
	f.local_cseq_set = true;
	return f;
}

Test(dialog, restore_makes_a_confirmed_dialog_of_the_fields)
{
	char cid[] = "c1@host";
	struct dialog f = fields();

	f.call_id = slice_make(cid, strlen(cid));
	cr_assert_eq(dialog_restore(&f, &dlg), 0);
	cid[0] = 'X'; /* copied: the caller's strings may go */
	cr_assert_eq(dlg->state, DIALOG_CONFIRMED);
	send_req(SIP_INVITE);
	expect(out.ruri, "sip:alice@127.0.0.2:5062");
	expect_routes("<sip:lb.example;lr>");
	expect(out.from_tag, "pool1");
	expect(out.to_tag, "alice1");
	expect(out.call_id, "c1@host");
	cr_assert_eq(out.cseq, 108);
	cr_assert_eq(dlg->invite_cseq, 108);
}

Test(dialog, restore_refuses_fields_that_do_not_parse)
{
	struct dialog f;

	f = fields();
	f.call_id = slice_cstr("");
	cr_assert_eq(dialog_restore(&f, &dlg), -EINVAL);
	f = fields();
	f.local_tag = slice_cstr("a b");
	cr_assert_eq(dialog_restore(&f, &dlg), -EINVAL);
	f = fields();
	f.remote_target = slice_cstr("mailto:x@y");
	cr_assert_eq(dialog_restore(&f, &dlg), -EINVAL);
	f = fields();
	f.local_uri = slice_cstr("");
	cr_assert_eq(dialog_restore(&f, &dlg), -EINVAL);
	f = fields();
	f.route[0] = slice_cstr("sip:lb.example;lr"); /* no < > */
	cr_assert_eq(dialog_restore(&f, &dlg), -EINVAL);
	f = fields();
	f.call_id = slice_cstr("a\r\nVia: x");
	cr_assert_eq(dialog_restore(&f, &dlg), -EINVAL);
	cr_assert_null(dlg);
}
