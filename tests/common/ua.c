/* tests/common/ua.c - hand-made UDP user agent for integration tests */
#include "tests/common/ua.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "proxy/base/slice.h"
#include "proxy/sip/hdr.h"
#include "proxy/sip/msg.h"

void ua_open(struct ua *u, const char *user, const char *domain, const char *ip,
	     uint16_t srv_port)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);

	memset(u, 0, sizeof(*u));
	snprintf(u->ip, sizeof(u->ip), "%s", ip);
	snprintf(u->user, sizeof(u->user), "%s", user);
	snprintf(u->domain, sizeof(u->domain), "%s", domain);
	u->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(u->fd, 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	cr_assert_eq(inet_pton(AF_INET, ip, &a.sin_addr), 1, "%s", ip);
	cr_assert_eq(bind(u->fd, (struct sockaddr *)&a, sizeof(a)), 0,
		     "bind %s: %s", ip, strerror(errno));
	getsockname(u->fd, (struct sockaddr *)&a, &alen);
	u->port = ntohs(a.sin_port);
	u->srv.sin_family = AF_INET;
	u->srv.sin_port = htons(srv_port);
	inet_pton(AF_INET, "127.0.0.1", &u->srv.sin_addr);
	snprintf(u->contact, sizeof(u->contact), "sip:%s@%s:%u", user, ip,
		 u->port);
}

void ua_close(struct ua *u)
{
	if (u->fd > 0)
		close(u->fd);
	u->fd = -1;
}

void ua_send(struct ua *u, const char *buf, size_t len)
{
	cr_assert_eq(sendto(u->fd, buf, len, 0, (struct sockaddr *)&u->srv,
			    sizeof(u->srv)),
		     (ssize_t)len, "sendto: %s", strerror(errno));
}

int ua_recv(struct ua *u, struct sipcli_msg *r, int timeout_ms)
{
	struct pollfd p = { u->fd, POLLIN, 0 };
	ssize_t n;

	if (poll(&p, 1, timeout_ms) <= 0)
		return -ETIMEDOUT;
	n = recv(u->fd, r->buf, sizeof(r->buf) - 1, 0);
	if (n <= 0)
		return -EIO;
	r->len = (size_t)n;
	r->buf[n] = '\0';
	memset(&r->m, 0, sizeof(r->m));
	r->parse_err =
	    sipmsg_parse(&r->m, r->buf, r->len, r->hdrs, SIPCLI_MAX_HDRS, 0);
	r->parse_err = r->parse_err < 0 ? r->parse_err : 0;
	return 0;
}

void ua_expect_req(struct ua *u, const char *method, const char *cid,
		   struct sipcli_msg *r)
{
	for (int i = 0; i < 50; i++) {
		cr_assert_eq(ua_recv(u, r, UA_WAIT_MS), 0,
			     "%s (port %u) got no %s for %s", u->user, u->port,
			     method, cid);
		if (r->m.is_request && sipcli_is_call_id(r, cid) &&
		    slice_eq(r->m.method_name, slice_cstr(method)))
			return;
	}
	cr_assert_fail("no %s for %s", method, cid);
}

unsigned ua_expect_final(struct ua *u, const char *cid, const char *method,
			 struct sipcli_msg *r)
{
	for (int i = 0; i < 50; i++) {
		cr_assert_eq(ua_recv(u, r, UA_WAIT_MS), 0, "no answer to %s %s",
			     method, cid);
		if (!r->m.is_request && r->m.status >= 200 &&
		    sipcli_is_call_id(r, cid) &&
		    slice_eq(r->m.cseq_method_name, slice_cstr(method)))
			return r->m.status;
	}
	cr_assert_fail("no answer to %s", cid);
	return 0;
}

void ua_nothing_for(struct ua *u, const char *cid, struct sipcli_msg *scratch)
{
	unsigned srv_port = ntohs(u->srv.sin_port);
	char req[1024], mcid[64];
	int n;

	snprintf(mcid, sizeof(mcid), "marker-%u-%u", u->port, ++u->seq);
	n = snprintf(req, sizeof(req),
		     "OPTIONS sip:127.0.0.1:%u SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP %s:%u;rport;branch=z9hG4bKm%u\r\n"
		     "Max-Forwards: 70\r\n"
		     "From: <sip:marker@localhost>;tag=m%u\r\n"
		     "To: <sip:127.0.0.1:%u>\r\n"
		     "Call-ID: %s\r\nCSeq: 1 OPTIONS\r\n"
		     "Content-Length: 0\r\n\r\n",
		     srv_port, u->ip, u->port, u->seq, u->seq, srv_port, mcid);
	cr_assert_lt(n, (int)sizeof(req));
	ua_send(u, req, (size_t)n);
	for (int i = 0; i < 200; i++) {
		cr_assert_eq(ua_recv(u, scratch, UA_WAIT_MS), 0,
			     "marker unanswered");
		cr_assert_not(sipcli_is_call_id(scratch, cid),
			      "%s (port %u) got what was not for it:\n%s",
			      u->user, u->port, scratch->buf);
		if (sipcli_is_call_id(scratch, mcid) && !scratch->m.is_request)
			return;
	}
	cr_assert_fail("marker lost");
}

void ua_respond(struct ua *u, const struct sipcli_msg *r, unsigned status,
		const char *reason, const char *contact)
{
	static const struct {
		enum hdr_id id;
		const char *name;
	} copy[] = {
		{ HDR_VIA, "Via" },   { HDR_FROM, "From" },
		{ HDR_TO, "To" },     { HDR_CALL_ID, "Call-ID" },
		{ HDR_CSEQ, "CSeq" }, { HDR_RECORD_ROUTE, "Record-Route" },
	};
	char out[4096];
	size_t o = 0;

	o += (size_t)snprintf(out + o, sizeof(out) - o, "SIP/2.0 %u %s\r\n",
			      status, reason);
	for (unsigned i = 0; i < r->m.nhdrs; i++) {
		const struct siphdr *h = &r->m.hdrs[i];

		for (size_t k = 0; k < sizeof(copy) / sizeof(copy[0]); k++) {
			/* Record-Route only in a dialog (RFC 3261 §12.1.1). */
			if (h->id != copy[k].id ||
			    (h->id == HDR_RECORD_ROUTE && !contact))
				continue;
			o += (size_t)snprintf(
			    out + o, sizeof(out) - o, "%s: %.*s%s\r\n",
			    copy[k].name, (int)h->value.len, h->value.p,
			    h->id == HDR_TO && !r->m.to_tag.len ? ";tag=callee"
								: "");
			cr_assert_lt(o, sizeof(out));
		}
	}
	if (contact)
		o += (size_t)snprintf(out + o, sizeof(out) - o,
				      "Contact: <%s>\r\n", contact);
	cr_assert_lt(o, sizeof(out));
	o += (size_t)snprintf(out + o, sizeof(out) - o,
			      "Content-Length: 0\r\n\r\n");
	cr_assert_lt(o, sizeof(out));
	ua_send(u, out, o);
}

unsigned ua_register(struct ua *u, const char *agent, unsigned expires,
		     struct sipcli_msg *r)
{
	char req[2048], cid[64];
	unsigned k = ++u->seq;
	int n;

	snprintf(cid, sizeof(cid), "reg-%s-%u", u->user, u->port);
	n = snprintf(req, sizeof(req),
		     "REGISTER sip:%s SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP %s:%u;rport;branch=z9hG4bKr%u\r\n"
		     "Max-Forwards: 70\r\n"
		     "From: <sip:%s@%s>;tag=r%u\r\n"
		     "To: <sip:%s@%s>\r\n"
		     "Call-ID: %s\r\nCSeq: %u REGISTER\r\n"
		     "User-Agent: %s\r\n"
		     "Contact: <%s>;expires=%u\r\n"
		     "Content-Length: 0\r\n\r\n",
		     u->domain, u->ip, u->port, k, u->user, u->domain, k,
		     u->user, u->domain, cid, k, agent, u->contact, expires);
	cr_assert(n > 0 && (size_t)n < sizeof(req));
	ua_send(u, req, (size_t)n);
	return ua_expect_final(u, cid, "REGISTER", r);
}
