/* tests/common/sipcli.c - tiny SIP test client over UDP and TCP (loopback only)
 */
#include "tests/common/sipcli.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/common/ms.h"

/* Process-wide, so that two clients of one test never share a token. */
static unsigned token_seq;

static int left_ms(long long deadline)
{
	long long left = deadline - ms_now();

	if (left < 0)
		return 0;
	return (int)left;
}

/* Fill @sa from a numeric loopback address; only 127/8 and ::1 pass. */
static int make_addr(const char *host, uint16_t port,
		     struct sockaddr_storage *sa, socklen_t *lenp)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)sa;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;

	memset(sa, 0, sizeof(*sa));
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		if ((ntohl(in4->sin_addr.s_addr) >> 24) != 127)
			return -EINVAL;
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		*lenp = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		if (!IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			return -EINVAL;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*lenp = sizeof(*in6);
		return 0;
	}
	return -EINVAL;
}

static void init(struct sipcli *c)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static int fill_local(struct sipcli *c)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);

	if (getsockname(c->fd, (struct sockaddr *)&sa, &len) < 0)
		return -errno;
	if (sa.ss_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, c->local_host,
			  sizeof(c->local_host));
		c->local_port = ntohs(in6->sin6_port);
	} else {
		struct sockaddr_in *in4 = (struct sockaddr_in *)&sa;

		inet_ntop(AF_INET, &in4->sin_addr, c->local_host,
			  sizeof(c->local_host));
		c->local_port = ntohs(in4->sin_port);
	}
	return 0;
}

int sipcli_open_udp_at(struct sipcli *c, const char *host, uint16_t port,
		       uint16_t local_port)
{
	struct sockaddr_storage local;
	socklen_t locallen;
	int err;

	init(c);
	err = make_addr(host, port, &c->peer, &c->peerlen);
	if (err)
		goto out;
	c->family = c->peer.ss_family;
	c->type = SOCK_DGRAM;
	snprintf(c->host, sizeof(c->host), "%s", host);
	c->port = port;
	err = make_addr(c->family == AF_INET6 ? "::1" : "127.0.0.1", local_port,
			&local, &locallen);
	if (err)
		goto out;
	c->fd = socket(c->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		err = -errno;
		goto out;
	}
	if (bind(c->fd, (struct sockaddr *)&local, locallen) < 0) {
		err = -errno;
		goto out;
	}
	err = fill_local(c);
out:
	if (err)
		sipcli_close(c);
	return err;
}

int sipcli_open_udp(struct sipcli *c, const char *host, uint16_t port)
{
	return sipcli_open_udp_at(c, host, port, 0);
}

int sipcli_open_tcp(struct sipcli *c, const char *host, uint16_t port)
{
	struct pollfd pfd;
	int one = 1;
	int soerr = 0;
	socklen_t slen = sizeof(soerr);
	int err;

	init(c);
	err = make_addr(host, port, &c->peer, &c->peerlen);
	if (err)
		goto out;
	c->family = c->peer.ss_family;
	c->type = SOCK_STREAM;
	snprintf(c->host, sizeof(c->host), "%s", host);
	c->port = port;
	c->rbuf = malloc(SIPCLI_BUF_SIZE);
	if (!c->rbuf) {
		err = -ENOMEM;
		goto out;
	}
	c->fd =
	    socket(c->family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0) {
		err = -errno;
		goto out;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&c->peer, c->peerlen) < 0) {
		if (errno != EINPROGRESS) {
			err = -errno;
			goto out;
		}
		pfd.fd = c->fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, 5000) != 1) {
			err = -ETIMEDOUT;
			goto out;
		}
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) <
		    0) {
			err = -errno;
			goto out;
		}
		if (soerr) {
			err = -soerr;
			goto out;
		}
	}
	err = fill_local(c);
out:
	if (err)
		sipcli_close(c);
	return err;
}

void sipcli_close(struct sipcli *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->rbuf);
	c->rbuf = NULL;
	c->rlen = 0;
}

int sipcli_send(struct sipcli *c, const void *buf, size_t len)
{
	const char *p = buf;
	size_t off = 0;
	struct pollfd pfd;
	ssize_t n;
	unsigned rounds;

	if (c->fd < 0)
		return -EBADF;
	if (c->type == SOCK_DGRAM) {
		n = sendto(c->fd, buf, len, 0, (struct sockaddr *)&c->peer,
			   c->peerlen);
		if (n < 0)
			return -errno;
		return (size_t)n == len ? 0 : -EMSGSIZE;
	}
	/* Bounded: each round either writes or waits up to 1 s. */
	for (rounds = 0; off < len && rounds < 10000; rounds++) {
		n = send(c->fd, p + off, len - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		pfd.fd = c->fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, 1000) == 0)
			return -ETIMEDOUT;
	}
	return off == len ? 0 : -ETIMEDOUT;
}

int sipcli_send_str(struct sipcli *c, const char *s)
{
	return sipcli_send(c, s, strlen(s));
}

/* One read from the socket into @buf, waiting at most @timeout_ms. */
static int read_once(struct sipcli *c, void *buf, size_t size, int timeout_ms,
		     struct sockaddr_storage *from)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	socklen_t flen = sizeof(*from);
	ssize_t n;
	int rc;

	if (c->fd < 0)
		return -EBADF;
	rc = poll(&pfd, 1, timeout_ms);
	if (rc < 0)
		return -errno;
	if (rc == 0)
		return -ETIMEDOUT;
	if (c->type == SOCK_DGRAM)
		n = recvfrom(c->fd, buf, size, MSG_DONTWAIT,
			     (struct sockaddr *)from, &flen);
	else
		n = recv(c->fd, buf, size, MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return -EAGAIN;
		return -errno;
	}
	return (int)n;
}

int sipcli_recv_raw(struct sipcli *c, void *buf, size_t size, int timeout_ms)
{
	struct sockaddr_storage from;
	long long deadline = ms_now() + timeout_ms;
	size_t n;
	int rc;
	unsigned rounds;

	if (c->rlen > 0) {
		n = c->rlen < size ? c->rlen : size;
		memcpy(buf, c->rbuf, n);
		memmove(c->rbuf, c->rbuf + n, c->rlen - n);
		c->rlen -= n;
		return (int)n;
	}
	/* Bounded: -EAGAIN only after poll said readable (rare). */
	for (rounds = 0; rounds < 1000; rounds++) {
		rc = read_once(c, buf, size, left_ms(deadline), &from);
		if (rc != -EAGAIN)
			return rc;
	}
	return -ETIMEDOUT;
}

static void parse_into(struct sipcli_msg *r, unsigned flags)
{
	int rc;

	rc = sipmsg_parse(&r->m, r->buf, r->len, r->hdrs, SIPCLI_MAX_HDRS,
			  flags);
	r->parse_err = rc < 0 ? rc : 0;
}

/* TCP: try to frame one message at the start of c->rbuf. */
static int take_stream_msg(struct sipcli *c, struct sipcli_msg *r)
{
	struct sipmsg m;
	struct siphdr hdrs[SIPCLI_MAX_HDRS];
	size_t n;
	int rc;

	memset(&m, 0, sizeof(m));
	rc = sipmsg_parse(&m, c->rbuf, c->rlen, hdrs, SIPCLI_MAX_HDRS,
			  SIPMSG_STREAM);
	if (rc == -EAGAIN)
		return -EAGAIN;
	if (rc > 0)
		n = (size_t)rc;
	else if (m.len > 0 && m.buf >= c->rbuf && m.buf < c->rbuf + c->rlen)
		n = (size_t)(m.buf - c->rbuf) + m.len;
	else
		n = c->rlen; /* cannot be framed: hand it all over */
	if (n > c->rlen || n > sizeof(r->buf))
		n = c->rlen < sizeof(r->buf) ? c->rlen : sizeof(r->buf);
	memcpy(r->buf, c->rbuf, n);
	r->len = n;
	memmove(c->rbuf, c->rbuf + n, c->rlen - n);
	c->rlen -= n;
	memset(&r->from, 0, sizeof(r->from));
	parse_into(r, SIPMSG_STREAM);
	return 0;
}

int sipcli_recv_msg(struct sipcli *c, struct sipcli_msg *r, int timeout_ms)
{
	long long deadline = ms_now() + timeout_ms;
	unsigned rounds;
	int rc;

	r->len = 0;
	r->parse_err = 0;
	if (c->type == SOCK_DGRAM) {
		for (rounds = 0; rounds < 1000; rounds++) {
			rc = read_once(c, r->buf, sizeof(r->buf),
				       left_ms(deadline), &r->from);
			if (rc != -EAGAIN)
				break;
		}
		if (rc < 0)
			return rc;
		r->len = (size_t)rc;
		parse_into(r, 0);
		return 0;
	}
	/* Bounded: each round reads at least one byte or ends. */
	for (rounds = 0; rounds < 100000; rounds++) {
		if (c->rlen > 0 && take_stream_msg(c, r) == 0)
			return 0;
		if (c->rlen == SIPCLI_BUF_SIZE)
			return -EMSGSIZE;
		rc = read_once(c, c->rbuf + c->rlen, SIPCLI_BUF_SIZE - c->rlen,
			       left_ms(deadline), &r->from);
		if (rc == -EAGAIN)
			continue;
		if (rc < 0)
			return rc;
		if (rc == 0)
			return -ECONNRESET;
		c->rlen += (size_t)rc;
	}
	return -ETIMEDOUT;
}

int sipcli_wait_close(struct sipcli *c, int timeout_ms,
		      struct sipcli_msg *first, bool *gotp)
{
	long long deadline = ms_now() + timeout_ms;
	char buf[4096];
	unsigned rounds;
	int rc = -ETIMEDOUT;

	if (gotp)
		*gotp = false;
	if (first) {
		rc = sipcli_recv_msg(c, first, timeout_ms);
		if (rc == 0 && gotp)
			*gotp = true;
		if (rc == -ECONNRESET)
			return 0;
		if (rc < 0 && rc != -ETIMEDOUT)
			return rc == -EPIPE ? 0 : rc;
	}
	c->rlen = 0;
	/* Bounded by the deadline and by the round count. */
	for (rounds = 0; rounds < 100000; rounds++) {
		rc = sipcli_recv_raw(c, buf, sizeof(buf), left_ms(deadline));
		if (rc == 0 || rc == -ECONNRESET || rc == -EPIPE)
			return 0;
		if (rc < 0)
			return rc;
	}
	return -ETIMEDOUT;
}

int sipcli_edit(char *buf, size_t size, const char *from, const char *to)
{
	size_t len = strlen(buf);
	size_t flen = strlen(from);
	size_t tlen = strlen(to);
	char *at = strstr(buf, from);

	if (!at)
		return -ENOENT;
	if (len - flen + tlen + 1 > size)
		return -ENOSPC;
	memmove(at + tlen, at + flen, len - (size_t)(at - buf) - flen + 1);
	memcpy(at, to, tlen);
	return (int)(len - flen + tlen);
}

char *sipcli_token(struct sipcli *c, const char *prefix, char *buf, size_t size)
{
	(void)c;
	token_seq++;
	snprintf(buf, size, "%s%ld-%u-%ld", prefix, (long)getpid(), token_seq,
		 (long)(ms_now() % 1000000));
	return buf;
}

/* Host as it appears in a URI or Via: IPv6 in brackets. */
static void uri_host(const char *host, int family, char *buf, size_t size)
{
	if (family == AF_INET6)
		snprintf(buf, size, "[%s]", host);
	else
		snprintf(buf, size, "%s", host);
}

char *sipcli_self_uri(const struct sipcli *c, char *buf, size_t size)
{
	char h[80];

	uri_host(c->host, c->family, h, sizeof(h));
	snprintf(buf, size, "sip:%s:%u", h, c->port);
	return buf;
}

int sipcli_format(struct sipcli *c, char *buf, size_t size, const char *method,
		  const char *ruri, const char *call_id, bool rport,
		  const char *extra, const char *body)
{
	char lh[80];
	char cid[96];
	char branch[96];
	char tag[96];
	size_t blen = body ? strlen(body) : 0;
	int n;

	uri_host(c->local_host, c->family, lh, sizeof(lh));
	if (!call_id)
		call_id = sipcli_token(c, "cid-", cid, sizeof(cid));
	sipcli_token(c, "z9hG4bK-sc-", branch, sizeof(branch));
	sipcli_token(c, "tag-", tag, sizeof(tag));
	n = snprintf(buf, size,
		     "%s %s SIP/2.0\r\n"
		     "Via: SIP/2.0/%s %s:%u%s;branch=%s\r\n"
		     "Max-Forwards: 70\r\n"
		     "From: <sip:tester@%s>;tag=%s\r\n"
		     "To: <%s>\r\n"
		     "Call-ID: %s\r\n"
		     "CSeq: 1 %s\r\n"
		     "%s"
		     "Content-Length: %zu\r\n"
		     "\r\n"
		     "%s",
		     method, ruri, c->type == SOCK_DGRAM ? "UDP" : "TCP", lh,
		     c->local_port, rport ? ";rport" : "", branch, lh, tag,
		     ruri, call_id, method, extra ? extra : "", blen,
		     body ? body : "");
	if (n < 0 || (size_t)n >= size)
		return -ENOSPC;
	return n;
}

bool sipcli_is_call_id(const struct sipcli_msg *r, const char *call_id)
{
	return r->len > 0 && slice_eq(r->m.call_id, slice_cstr(call_id));
}

char *sipcli_hdr_str(const struct sipcli_msg *r, enum hdr_id id, char *buf,
		     size_t size)
{
	const struct siphdr *h = NULL;

	if (size == 0)
		return buf;
	buf[0] = '\0';
	if (r->len > 0)
		h = sipmsg_hdr(&r->m, id);
	if (h)
		slice_cstr_copy(h->value, buf, size);
	return buf;
}

int sipcli_options(struct sipcli *c, int timeout_ms, struct sipcli_msg *r)
{
	long long deadline = ms_now() + timeout_ms;
	struct sipcli_msg *own = NULL;
	char req[2048];
	char ruri[128];
	char cid[96];
	unsigned rounds;
	int n;
	int rc;

	if (!r) {
		own = malloc(sizeof(*own));
		if (!own)
			return -ENOMEM;
		r = own;
	}
	sipcli_token(c, "ping-", cid, sizeof(cid));
	n = sipcli_format(c, req, sizeof(req), "OPTIONS",
			  sipcli_self_uri(c, ruri, sizeof(ruri)), cid, true,
			  "Accept: application/sdp\r\n", NULL);
	if (n < 0) {
		rc = n;
		goto out;
	}
	rc = sipcli_send(c, req, (size_t)n);
	if (rc)
		goto out;
	/* Bounded: every round consumes one message or ends. */
	for (rounds = 0; rounds < 10000; rounds++) {
		rc = sipcli_recv_msg(c, r, left_ms(deadline));
		if (rc)
			goto out;
		if (sipcli_is_call_id(r, cid) && !r->m.is_request &&
		    r->m.status >= 200) {
			rc = (int)r->m.status;
			goto out;
		}
	}
	rc = -ETIMEDOUT;
out:
	free(own);
	return rc;
}

int sipcli_transact(struct sipcli *c, const char *req, size_t len,
		    int timeout_ms, struct sipcli_msg *r)
{
	long long deadline = ms_now() + timeout_ms;
	struct slice cid;
	unsigned rounds;
	int rc;

	if (sipmsg_peek_call_id(req, len, &cid) != 0)
		return -EINVAL;
	rc = sipcli_send(c, req, len);
	if (rc)
		return rc;
	/* Bounded: every round consumes one message or ends. */
	for (rounds = 0; rounds < 10000; rounds++) {
		rc = sipcli_recv_msg(c, r, left_ms(deadline));
		if (rc)
			return rc;
		if (!r->m.is_request && r->m.status >= 200 &&
		    slice_eq(r->m.call_id, cid))
			return (int)r->m.status;
	}
	return -ETIMEDOUT;
}

int sipcli_collect(struct sipcli *c, struct sipcli_msg *msgs, unsigned max,
		   unsigned *np, int timeout_ms)
{
	long long deadline = ms_now() + timeout_ms;
	struct sipcli_msg *r = NULL;
	char req[2048];
	char ruri[128];
	char cid[96];
	unsigned n = 0;
	unsigned rounds;
	int len;
	int rc;

	r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	sipcli_token(c, "marker-", cid, sizeof(cid));
	len = sipcli_format(c, req, sizeof(req), "OPTIONS",
			    sipcli_self_uri(c, ruri, sizeof(ruri)), cid, true,
			    NULL, NULL);
	if (len < 0) {
		rc = len;
		goto out;
	}
	rc = sipcli_send(c, req, (size_t)len);
	if (rc)
		goto out;
	/* Bounded: every round consumes one message or ends. */
	for (rounds = 0; rounds < 10000; rounds++) {
		rc = sipcli_recv_msg(c, r, left_ms(deadline));
		if (rc)
			goto out;
		if (sipcli_is_call_id(r, cid) && !r->m.is_request) {
			if (r->m.status >= 200)
				goto out;
			continue;
		}
		if (n < max) {
			memcpy(msgs[n].buf, r->buf, r->len);
			msgs[n].len = r->len;
			msgs[n].from = r->from;
			msgs[n].parse_err = 0;
			rc = sipmsg_parse(&msgs[n].m, msgs[n].buf, msgs[n].len,
					  msgs[n].hdrs, SIPCLI_MAX_HDRS,
					  c->type == SOCK_STREAM ? SIPMSG_STREAM
								 : 0);
			msgs[n].parse_err = rc < 0 ? rc : 0;
			rc = 0;
		}
		n++;
	}
	rc = -ETIMEDOUT;
out:
	*np = n;
	free(r);
	return rc;
}

int sipcli_ping(const char *host, uint16_t port, int timeout_ms)
{
	struct sipcli c;
	int rc;

	rc = sipcli_open_udp(&c, host, port);
	if (rc)
		return rc;
	rc = sipcli_options(&c, timeout_ms, NULL);
	sipcli_close(&c);
	return rc;
}

const char *sipcli_first_line(const struct sipcli_msg *r)
{
	static char line[256];
	size_t i;

	for (i = 0; i < r->len && i < sizeof(line) - 1; i++) {
		if (r->buf[i] == '\r' || r->buf[i] == '\n')
			break;
		line[i] = r->buf[i];
	}
	line[i] = '\0';
	return line;
}
