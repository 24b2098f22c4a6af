/* tests/common/phone.c - a scripted SIP phone for integration tests */
#include "tests/common/phone.h"

#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <sndfile.h>
#include <spandsp/telephony.h>
#include <spandsp/bit_operations.h>
#include <spandsp/g711.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxy/sip/hdr.h"
#include "proxy/sip/msg.h"
#include "tests/common/mgmtcli.h"

void phone_open(struct phone *p, const struct phone_kind *kind,
		const char *user, const char *domain, const char *ip,
		uint16_t srv_port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);

	p->kind = kind;
	ua_open(&p->ua, user, domain, ip, srv_port);
	p->rtp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(p->rtp, 0);
	inet_pton(AF_INET, ip, &a.sin_addr);
	cr_assert_eq(bind(p->rtp, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(p->rtp, (struct sockaddr *)&a, &len), 0);
	p->rtp_port = ntohs(a.sin_port);
}

void phone_close(struct phone *p)
{
	ua_close(&p->ua);
	if (p->rtp > 0)
		close(p->rtp);
	p->rtp = 0;
}

int phone_sdp(const struct phone *p, unsigned version, char *buf, size_t size)
{
	return snprintf(buf, size,
			"v=0\r\n"
			"o=%s 1000 %u IN IP4 %s\r\n"
			"s=-\r\n"
			"c=IN IP4 %s\r\n"
			"t=0 0\r\n"
			"m=audio %u RTP/AVP 0%s\r\n"
			"a=rtpmap:0 PCMU/8000\r\n"
			"%s",
			p->ua.user, version, p->ua.ip, p->ua.ip, p->rtp_port,
			p->kind->events ? " 101" : "",
			p->kind->events
			    ? "a=rtpmap:101 telephone-event/8000\r\n"
			      "a=fmtp:101 0-16\r\n"
			    : "");
}

void phone_call(struct phone *p, const char *user, const char *domain,
		const char *sdp, const char *extra)
{
	char req[4096], own[512];
	int n;

	if (!sdp) {
		phone_sdp(p, 1, own, sizeof(own));
		sdp = own;
	}
	snprintf(p->cid, sizeof(p->cid), "%s-%s-%u-%u", p->kind->cid_prefix,
		 p->ua.user, p->ua.port, ++p->ua.seq);
	p->cseq = 1;
	snprintf(p->ruri, sizeof(p->ruri), "sip:%s@%s", user, domain);
	n = snprintf(
	    req, sizeof(req),
	    "INVITE %s SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP %s:%u;rport;branch=z9hG4bK%s%s\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: <sip:%s@%s>;tag=f%s\r\n"
	    "To: <%s>\r\n"
	    "Call-ID: %s\r\nCSeq: 1 INVITE\r\n"
	    "Contact: <%s>\r\n"
	    "%s%s"
	    "Content-Length: %zu\r\n\r\n%s",
	    p->ruri, p->ua.ip, p->ua.port, p->kind->branch, p->cid, p->ua.user,
	    p->ua.domain, p->cid, p->ruri, p->cid, p->ua.contact, extra,
	    *sdp ? "Content-Type: application/sdp\r\n" : "", strlen(sdp), sdp);
	cr_assert_lt(n, (int)sizeof(req));
	ua_send(&p->ua, req, (size_t)n);
}

void phone_dial(struct phone *p, const char *user)
{
	phone_call(p, user, p->ua.domain, NULL, "");
}

void phone_dialog_of(struct phone *p, const struct sipcli_msg *r)
{
	const struct siphdr *rr[16];
	unsigned nrr = 0;
	size_t o = 0;
	char c[512], *lt, *gt;

	sipcli_hdr_str(r, HDR_TO, p->to, sizeof(p->to));
	sipcli_hdr_str(r, HDR_CONTACT, c, sizeof(c));
	lt = strchr(c, '<');
	gt = lt ? strchr(lt, '>') : NULL;
	cr_assert(lt && gt, "Contact: %s", c);
	*gt = '\0';
	snprintf(p->target, sizeof(p->target), "%s", lt + 1);
	for (unsigned i = 0; i < r->m.nhdrs && nrr < 16; i++)
		if (r->m.hdrs[i].id == HDR_RECORD_ROUTE)
			rr[nrr++] = &r->m.hdrs[i];
	p->route[0] = '\0';
	while (nrr--) {
		o += (size_t)snprintf(
		    p->route + o, sizeof(p->route) - o, "Route: %.*s\r\n",
		    (int)rr[nrr]->value.len, rr[nrr]->value.p);
		cr_assert_lt(o, sizeof(p->route));
	}
}

void phone_in_dialog(struct phone *p, const char *method)
{
	char req[2048];
	unsigned cseq = strcmp(method, "ACK") ? ++p->cseq : p->cseq;
	int n;

	n = snprintf(req, sizeof(req),
		     "%s %s SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP %s:%u;rport;branch=z9hG4bK%s%s%s%u\r\n"
		     "Max-Forwards: 70\r\n"
		     "From: <sip:%s@%s>;tag=f%s\r\n"
		     "To: %s\r\n"
		     "Call-ID: %s\r\nCSeq: %u %s\r\n"
		     "%s"
		     "Content-Length: 0\r\n\r\n",
		     method, p->target, p->ua.ip, p->ua.port, p->kind->branch,
		     p->cid, method, cseq, p->ua.user, p->ua.domain, p->cid,
		     p->to, p->cid, cseq, method, p->route);
	cr_assert_lt(n, (int)sizeof(req));
	ua_send(&p->ua, req, (size_t)n);
}

/* A request of @p p's INVITE transaction (ACK of a failure, CANCEL):
 * its branch, Request-URI and CSeq number, To @p to. */
static void same_transaction(struct phone *p, const char *method,
			     const char *to)
{
	char req[2048];
	int n;

	n = snprintf(req, sizeof(req),
		     "%s %s SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP %s:%u;rport;branch=z9hG4bK%s%s\r\n"
		     "Max-Forwards: 70\r\n"
		     "From: <sip:%s@%s>;tag=f%s\r\n"
		     "To: %s\r\n"
		     "Call-ID: %s\r\nCSeq: 1 %s\r\n"
		     "Content-Length: 0\r\n\r\n",
		     method, p->ruri, p->ua.ip, p->ua.port, p->kind->branch,
		     p->cid, p->ua.user, p->ua.domain, p->cid, to, p->cid,
		     method);
	cr_assert_lt(n, (int)sizeof(req));
	ua_send(&p->ua, req, (size_t)n);
}

void phone_ack_failure(struct phone *p, const struct sipcli_msg *r)
{
	char to[512];

	sipcli_hdr_str(r, HDR_TO, to, sizeof(to));
	same_transaction(p, "ACK", to);
}

void phone_cancel(struct phone *p)
{
	char to[160];

	snprintf(to, sizeof(to), "<%s>", p->ruri);
	same_transaction(p, "CANCEL", to);
}

void phone_answer_sdp(struct phone *p, const struct sipcli_msg *r)
{
	char out[4096], sdp[512];
	size_t o = 0;
	int bl = phone_sdp(p, 2, sdp, sizeof(sdp));

	o += (size_t)snprintf(out + o, sizeof(out) - o, "SIP/2.0 200 OK\r\n");
	for (unsigned i = 0; i < r->m.nhdrs; i++) {
		const struct siphdr *h = &r->m.hdrs[i];
		const char *name = h->id == HDR_VIA	       ? "Via"
				   : h->id == HDR_FROM	       ? "From"
				   : h->id == HDR_TO	       ? "To"
				   : h->id == HDR_CALL_ID      ? "Call-ID"
				   : h->id == HDR_CSEQ	       ? "CSeq"
				   : h->id == HDR_RECORD_ROUTE ? "Record-Route"
							       : NULL;

		/* A first 2xx gets our tag (RFC 3261 §8.2.6.2). */
		if (name)
			o += (size_t)snprintf(
			    out + o, sizeof(out) - o, "%s: %.*s%s\r\n", name,
			    (int)h->value.len, h->value.p,
			    h->id == HDR_TO && !r->m.to_tag.len ? ";tag=callee"
								: "");
		cr_assert_lt(o, sizeof(out));
	}
	o += (size_t)snprintf(out + o, sizeof(out) - o,
			      "Contact: <%s>\r\n"
			      "Content-Type: application/sdp\r\n"
			      "Content-Length: %d\r\n\r\n%s",
			      p->ua.contact, bl, sdp);
	cr_assert_lt(o, sizeof(out));
	ua_send(&p->ua, out, o);
}

void phone_established(struct phone *p, struct sipcli_msg *r)
{
	cr_assert_eq(ua_expect_final(&p->ua, p->cid, "INVITE", r), 200, "%s",
		     r->buf);
	phone_dialog_of(p, r);
	phone_in_dialog(p, "ACK");
}

void phone_bye(struct phone *p, struct sipcli_msg *r)
{
	phone_in_dialog(p, "BYE");
	cr_assert_eq(ua_expect_final(&p->ua, p->cid, "BYE", r), 200);
}

void phone_gets_bye(struct phone *p, const char *cid, struct sipcli_msg *r)
{
	ua_expect_req(&p->ua, "BYE", cid, r);
	ua_respond(&p->ua, r, 200, "OK", NULL);
}

void phone_accepts(struct phone *p, const char *cid, struct sipcli_msg *r)
{
	phone_answer_sdp(p, r);
	ua_expect_req(&p->ua, "ACK", cid, r);
}

void phone_first_invite(struct phone *p, struct sipcli_msg *r)
{
	for (int i = 0; i < 50; i++) {
		cr_assert_eq(ua_recv(&p->ua, r, UA_WAIT_MS), 0, "no INVITE");
		if (r->m.is_request &&
		    slice_eq(r->m.method_name, SLICE_LIT("INVITE")))
			return;
	}
	cr_assert_fail("no INVITE");
}

/* The offer in @p rx names @p of's RTP port (and its address). */
static void offers(const struct sipcli_msg *rx, const struct phone *of,
		   unsigned checks, unsigned pool_rtp)
{
	char want[64];

	if (checks & PHONE_PORTS) {
		snprintf(want, sizeof(want), "m=audio %u ", of->rtp_port);
		cr_assert_not_null(strstr(phone_body(rx), want), "%s", rx->buf);
	}
	if (checks & PHONE_HOSTS) {
		snprintf(want, sizeof(want), "c=IN IP4 %s", of->ua.ip);
		cr_assert_not_null(strstr(phone_body(rx), want), "%s", rx->buf);
	}
	if (pool_rtp)
		cr_assert_neq(phone_audio_port(phone_body(rx)), pool_rtp);
}

void phone_retrieve(struct phone *r, const char *slot, struct phone *p,
		    const char *cid, unsigned checks, unsigned pool_rtp,
		    struct sipcli_msg *rx)
{
	phone_call(r, slot, r->ua.domain, NULL, "");
	ua_expect_req(&p->ua, "INVITE", cid, rx);
	offers(rx, r, checks, pool_rtp);
	phone_accepts(p, cid, rx);
	cr_assert_eq(ua_expect_final(&r->ua, r->cid, "INVITE", rx), 200, "%s",
		     rx->buf);
	offers(rx, p, checks, pool_rtp);
	phone_dialog_of(r, rx);
	phone_in_dialog(r, "ACK");
}

void phone_called_by_retrieve(uint16_t mgmt_port, const char *params,
			      struct phone *callee, struct sipcli_msg *rx)
{
	char why[256];
	json_t *res = NULL;

	cr_assert_eq(mgmtcli_rpc(mgmt_port, NULL, "park.retrieve", params, &res,
				 why, sizeof(why)),
		     0, "%s", why);
	cr_assert_str_eq(json_string_value(json_object_get(res, "state")),
			 "calling");
	json_decref(res);
	phone_first_invite(callee, rx);
	cr_assert_eq(rx->m.body.len, 0, "%s", rx->buf);
}

void phone_bridged_late(struct phone *callee, struct phone *p,
			unsigned pool_rtp, char *cid, size_t size,
			struct sipcli_msg *rx)
{
	sipcli_hdr_str(rx, HDR_CALL_ID, cid, size);
	phone_answer_sdp(callee, rx);
	ua_expect_req(&p->ua, "INVITE", p->cid, rx);
	offers(rx, callee, PHONE_PORTS, 0);
	phone_accepts(p, p->cid, rx);
	ua_expect_req(&callee->ua, "ACK", cid, rx);
	offers(rx, p, PHONE_PORTS, pool_rtp);
}

const char *phone_body(const struct sipcli_msg *r)
{
	return r->m.body.len ? r->m.body.p : "";
}

unsigned phone_audio_port(const char *body)
{
	const char *m = strstr(body, "m=audio ");

	return m ? (unsigned)atoi(m + 8) : 0;
}

void phone_o_line(const char *body, char *out, size_t size)
{
	const char *o = strstr(body, "o=");
	size_t n;

	cr_assert_not_null(o, "no o= in %s", body);
	o += 2;
	n = strcspn(o, "\r\n");
	cr_assert_lt(n, size);
	memcpy(out, o, n);
	out[n] = '\0';
}

void phone_o_parts(const char *o, unsigned long long *sess,
		   unsigned long long *ver)
{
	char user[64];

	cr_assert_eq(sscanf(o, "%63s %llu %llu", user, sess, ver), 3, "%s", o);
}

bool phone_sound(const char *name, uint8_t *out, size_t *np, size_t max)
{
	char copy[PATH_MAX], path[PATH_MAX + 64];
	const char *bin = getenv("SIPEDGE_BIN");
	SF_INFO info = { 0 };
	SNDFILE *f;
	int16_t pcm[PHONE_FRAME];
	sf_count_t got;
	bool fit = true;

	cr_assert_not_null(bin, "SIPEDGE_BIN is not set");
	snprintf(copy, sizeof(copy), "%s", bin);
	snprintf(path, sizeof(path), "%s/sounds/%s.wav", dirname(copy), name);
	f = sf_open(path, SFM_READ, &info);
	cr_assert_not_null(f, "%s", path);
	while ((got = sf_readf_short(f, pcm, PHONE_FRAME)) > 0) {
		if (*np >= max) {
			fit = false;
			break;
		}
		for (sf_count_t i = 0; i < PHONE_FRAME; i++)
			out[*np * PHONE_FRAME + (size_t)i] =
			    i < got ? linear_to_ulaw(pcm[i]) : 0xff;
		(*np)++;
	}
	sf_close(f);
	return fit;
}

void phone_rtp_frames(struct phone *p, uint8_t *out, size_t n)
{
	uint8_t pkt[2048];
	uint16_t seq = 0;

	for (size_t i = 0; i < n; i++) {
		struct pollfd pf = { .fd = p->rtp, .events = POLLIN };
		ssize_t len;
		uint16_t s;

		cr_assert_eq(poll(&pf, 1, PHONE_RTP_WAIT_MS), 1,
			     "no RTP for frame %zu of %zu", i, n);
		len = recv(p->rtp, pkt, sizeof(pkt), 0);
		cr_assert_eq(len, 12 + PHONE_FRAME, "packet %zu: %zd bytes", i,
			     len);
		cr_assert_eq(pkt[0] >> 6, 2, "RTP version 2");
		cr_assert_eq(pkt[1] & 0x7f, 0, "PCMU");
		s = (uint16_t)(pkt[2] << 8 | pkt[3]);
		if (i)
			cr_assert_eq(s, (uint16_t)(seq + 1), "frame %zu", i);
		seq = s;
		memcpy(out + i * PHONE_FRAME, pkt + 12, PHONE_FRAME);
	}
}

void phone_rtp_drain(struct phone *p, int quiet_ms)
{
	uint8_t pkt[2048];
	struct pollfd pf = { .fd = p->rtp, .events = POLLIN };

	if (!quiet_ms) {
		for (int i = 0; i < 10000; i++)
			if (recv(p->rtp, pkt, sizeof(pkt), MSG_DONTWAIT) < 0)
				return;
		return;
	}
	for (int i = 0; i < 1000 && poll(&pf, 1, quiet_ms) == 1; i++)
		cr_assert_gt(recv(p->rtp, pkt, sizeof(pkt), 0), 0);
}
