/* bench/sipload/worker.c - one sipload thread: sockets, the event loop,
 * pacing, batched sending and receiving */
#include "bench/sipload/worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/sipload/worker_priv.h"
#include "proxy/base/hash.h"
#include "proxy/base/hex.h"

/* What a poll entry is. ppoll() rather than epoll: a socket is on a
 * wait queue only while we sleep, so a peer sending to us while we are
 * busy does not pay for an epoll callback per datagram. */
enum {
	EV_UDP = 1u << 16,    /* | socket index */
	EV_LISTEN = 2u << 16, /* the TCP listener */
	EV_CONN = 3u << 16,   /* | connection index */
};

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t real_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void clock_update(struct worker *w)
{
	w->now_us = mono_us();
	w->now_ms = w->now_us / 1000;
}

/* xorshift64*: cheap, good enough to drop datagrams at random. */
static double rng_next(struct worker *w)
{
	uint64_t x = w->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	w->rng = x;
	return (double)((x * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

uint64_t worker__token_hash(struct slice s)
{
	return hash_slice(s, 0x51b10ad);
}

void worker__token_print(struct wbuf *b, const struct worker *w, uint32_t slot,
			 uint32_t gen)
{
	wbuf_hex(b, w->c->run_id & 0xffffffffu, 8);
	wbuf_hex(b, w->id, 2);
	wbuf_hex(b, slot, 6);
	wbuf_hex(b, gen, 8);
}

int worker__token_parse(const struct worker *w, struct slice s, uint32_t *slotp,
			uint32_t *genp)
{
	uint64_t run, thr, slot, gen;

	if (s.len < TOKEN_LEN || hex_u64_parse(s.p, 8, &run) ||
	    hex_u64_parse(s.p + 8, 2, &thr) ||
	    hex_u64_parse(s.p + 10, 6, &slot) ||
	    hex_u64_parse(s.p + 16, 8, &gen))
		return -EINVAL;
	if (run != (w->c->run_id & 0xffffffffu) || thr != w->id)
		return -ENOENT;
	*slotp = (uint32_t)slot;
	*genp = (uint32_t)gen;
	return 0;
}

struct slice worker__sdp_body(const struct sipmsg *m)
{
	const struct siphdr *h = sipmsg_hdr(m, HDR_CONTENT_TYPE);
	struct slice t;
	long semi;

	if (!m->body.len || !h)
		return slice_make("", 0);
	/* RFC 3261 §20.15: media-type, then parameters after ';'. */
	t = h->value;
	semi = slice_index(t, ';');
	if (semi >= 0)
		t.len = (size_t)semi;
	if (!slice_caseeq_cstr(slice_trim(t), "application/sdp"))
		return slice_make("", 0);
	return m->body;
}

/* ---- sending ---- */

static void flush_udp(struct worker *w, int s)
{
	struct txq *q = w->tx[s];
	unsigned done = 0;
	int tries = 0;

	while (done < q->n && tries < 8) {
		int n = sendmmsg(w->udp[s], q->m + done, q->n - done, 0);

		if (n > 0) {
			done += (unsigned)n;
			continue;
		}
		tries++;
		if (n < 0 && (errno == EAGAIN || errno == ENOBUFS)) {
			struct pollfd pfd = { .fd = w->udp[s],
					      .events = POLLOUT };

			/* The socket buffer is full: wait a little. */
			poll(&pfd, 1, 1);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		/* Another error (ECONNREFUSED from an ICMP): skip one. */
		w->st.send_errors++;
		done++;
	}
	if (done < q->n)
		w->st.send_errors += q->n - done;
	q->n = 0;
}

static void conn_close(struct worker *w, unsigned i)
{
	struct conn *c = &w->conns[i];

	if (c->fd < 0)
		return;
	close(c->fd);
	c->fd = -1;
	c->gen++;
	c->rlen = 0;
	c->wlen = 0;
}

static void flush_conn(struct worker *w, unsigned i)
{
	struct conn *c = &w->conns[i];
	size_t off = 0;
	int tries = 0;

	while (off < c->wlen && tries < 4) {
		ssize_t n = send(c->fd, c->wbuf + off, c->wlen - off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			tries++;
			break;
		}
		w->st.send_errors++;
		conn_close(w, i);
		return;
	}
	if (off) {
		memmove(c->wbuf, c->wbuf + off, c->wlen - off);
		c->wlen -= off;
	}
}

static void flush_all(struct worker *w)
{
	unsigned i;

	for (i = 0; i < SOCK__COUNT; i++)
		if (w->tx[i] && w->tx[i]->n)
			flush_udp(w, (int)i);
	for (i = 0; i <= CONN_MAX; i++)
		if (w->conns[i].fd >= 0 && w->conns[i].wlen)
			flush_conn(w, i);
}

/* Queue datagram q->buf[q->n] of @p len bytes for @p to. */
static void txq_push(struct txq *q, const struct peer *to, size_t len)
{
	unsigned k = q->n++;

	q->iov[k].iov_base = q->buf[k];
	q->iov[k].iov_len = len;
	memset(&q->m[k], 0, sizeof(q->m[k]));
	if (!to->connected) {
		memcpy(&q->addr[k], &to->a, to->len);
		q->m[k].msg_hdr.msg_name = &q->addr[k];
		q->m[k].msg_hdr.msg_namelen = to->len;
	}
	q->m[k].msg_hdr.msg_iov = &q->iov[k];
	q->m[k].msg_hdr.msg_iovlen = 1;
}

char *worker__out(struct worker *w, const struct peer *to)
{
	struct txq *q;

	if (to->sock < 0 || !w->tx[to->sock])
		return w->scratch;
	q = w->tx[to->sock];
	if (q->n == TX_BATCH)
		flush_udp(w, to->sock);
	return q->buf[q->n];
}

void worker__send(struct worker *w, const struct peer *to, const char *buf,
		  size_t len)
{
	if (len > PKT_MAX) {
		w->st.send_errors++;
		return;
	}
	if (to->sock >= 0) {
		struct txq *q = w->tx[to->sock];

		if (!q) {
			w->st.send_errors++;
			return;
		}
		if (q->n == TX_BATCH)
			flush_udp(w, to->sock);
		/* Built in place by worker__out(): no copy. */
		if (buf != q->buf[q->n])
			memcpy(q->buf[q->n], buf, len);
		txq_push(q, to, len);
	} else {
		struct conn *c;

		if (to->conn < 0 || to->conn > CONN_MAX) {
			w->st.send_errors++;
			return;
		}
		c = &w->conns[to->conn];
		if (c->fd < 0 || c->gen != to->conn_gen) {
			w->st.send_errors++;
			return;
		}
		if (CONN_WBUF - c->wlen < len)
			flush_conn(w, (unsigned)to->conn);
		if (c->fd < 0 || CONN_WBUF - c->wlen < len) {
			w->st.send_errors++;
			return;
		}
		memcpy(c->wbuf + c->wlen, buf, len);
		c->wlen += len;
	}
	w->st.msgs_out++;
}

/* ---- receiving ---- */

static bool is_lws(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * The CSeq of the message at @p buf without a full parse: number and
 * method. CSeq has no compact form (RFC 3261 §7.3.3). Returns 0, or
 * -ENOENT when it is absent or not plain "number SP method".
 */
static int quick_cseq(const char *buf, size_t len, uint32_t *cseqp,
		      struct slice *methodp)
{
	const char *p = buf, *end = buf + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		uint64_t v = 0;
		const char *m0;

		if (p == e || (*p == '\r' && e == p + 1))
			return -ENOENT; /* the blank line: no CSeq */
		if (e - p > 5 && (p[0] | 0x20) == 'c' && (p[1] | 0x20) == 's' &&
		    (p[2] | 0x20) == 'e' && (p[3] | 0x20) == 'q' &&
		    (is_lws(p[4]) || p[4] == ':')) {
			p += 4;
			while (p < e && is_lws(*p))
				p++;
			if (p == e || *p++ != ':')
				return -ENOENT;
			while (p < e && is_lws(*p))
				p++;
			if (p == e || *p < '0' || *p > '9')
				return -ENOENT;
			while (p < e && *p >= '0' && *p <= '9' &&
			       v <= 0xffffffffu)
				v = v * 10 + (uint64_t)(*p++ - '0');
			if (v > 0xffffffffu || p == e || !is_lws(*p))
				return -ENOENT;
			while (p < e && is_lws(*p))
				p++;
			for (m0 = p; p<e && * p> ' '; p++)
				;
			if (p == m0)
				return -ENOENT;
			*cseqp = (uint32_t)v;
			*methodp = slice_make(m0, (size_t)(p - m0));
			return 0;
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	return -ENOENT;
}

/*
 * Messages whose status, Call-ID and CSeq say all we need are not parsed
 * whole: a 1xx that only counts as the first provisional, a final
 * response to BYE, OPTIONS or REGISTER, an ACK. The UAC and UAS decide;
 * anything else (and anything unusual) goes to sipmsg_parse().
 * Returns true when the message was handled.
 */
static bool quick(struct worker *w, const char *buf, size_t len, int64_t rx_us)
{
	struct slice cid, method;
	uint32_t cseq;
	unsigned status;

	if (len > 12 && !memcmp(buf, "SIP/2.0 ", 8)) {
		if (buf[8] < '1' || buf[8] > '6' || buf[9] < '0' ||
		    buf[9] > '9' || buf[10] < '0' || buf[10] > '9' ||
		    buf[11] != ' ')
			return false;
		status = (unsigned)(buf[8] - '0') * 100 +
			 (unsigned)(buf[9] - '0') * 10 +
			 (unsigned)(buf[10] - '0');
		if (sipmsg_peek_call_id(buf, len, &cid) ||
		    quick_cseq(buf, len, &cseq, &method))
			return false;
		return worker__uac_quick(w, status, cid, cseq, method, rx_us);
	}
	if (len > 4 && !memcmp(buf, "ACK ", 4)) {
		if (sipmsg_peek_call_id(buf, len, &cid) ||
		    quick_cseq(buf, len, &cseq, &method) ||
		    !slice_eq(method, SLICE_LIT("ACK")))
			return false;
		return worker__uas_quick_ack(w, cid, cseq);
	}
	return false;
}

static void on_msg(struct worker *w, const char *buf, size_t len,
		   const struct peer *from, int64_t rx_us, bool stream)
{
	struct sipmsg m;
	int ret;

	w->st.msgs_in++;
	if (quick(w, buf, len, rx_us))
		return;
	ret = sipmsg_parse(&m, buf, len, w->hdrs, MAX_HDRS,
			   stream ? SIPMSG_STREAM : 0);
	if (ret < 0) {
		w->st.bad_msgs++;
		return;
	}
	if (m.is_request)
		worker__uas_request(w, &m, from, rx_us);
	else
		worker__uac_response(w, &m, from, rx_us);
}

static bool is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)
				  ->sin_addr.s_addr) >>
			24) == 127;
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(
		    &((const struct sockaddr_in6 *)sa)->sin6_addr);
	return false;
}

static void rx_udp(struct worker *w, int s)
{
	unsigned round;

	for (round = 0; round < 16; round++) {
		int n;
		int i;
		int64_t real_now;

		for (i = 0; i < RX_BATCH; i++) {
			struct msghdr *h = &w->rx_m[i].msg_hdr;

			w->rx_iov[i].iov_base = w->rx_buf[i];
			w->rx_iov[i].iov_len = RX_MAX;
			h->msg_name = &w->rx_addr[i];
			h->msg_namelen = sizeof(w->rx_addr[i]);
			h->msg_iov = &w->rx_iov[i];
			h->msg_iovlen = 1;
			h->msg_control = w->rx_ctl[i];
			h->msg_controllen = sizeof(w->rx_ctl[i]);
			h->msg_flags = 0;
		}
		n = recvmmsg(w->udp[s], w->rx_m, RX_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			break;
		clock_update(w);
		real_now = real_us();
		w->real_off_us = real_now - w->now_us;
		for (i = 0; i < n; i++) {
			struct msghdr *h = &w->rx_m[i].msg_hdr;
			struct peer from;
			struct cmsghdr *cm;
			int64_t rx_us = w->now_us;

			if (w->c->drop_rate > 0 &&
			    rng_next(w) < w->c->drop_rate) {
				w->st.dropped++;
				continue;
			}
			if (h->msg_flags & MSG_TRUNC ||
			    h->msg_namelen > sizeof(from.a) ||
			    !is_loopback((struct sockaddr *)&w->rx_addr[i])) {
				w->st.bad_msgs++;
				continue;
			}
			for (cm = CMSG_FIRSTHDR(h); cm;
			     cm = CMSG_NXTHDR(h, cm)) {
				if (cm->cmsg_level == SOL_SOCKET &&
				    cm->cmsg_type == SCM_TIMESTAMPNS) {
					struct timespec ts;
					int64_t t;

					memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
					t = (int64_t)ts.tv_sec * 1000000 +
					    ts.tv_nsec / 1000 - w->real_off_us;
					if (t <= w->now_us &&
					    t > w->now_us - 1000000)
						rx_us = t;
				}
			}
			memset(&from, 0, sizeof(from));
			memcpy(&from.a, &w->rx_addr[i], h->msg_namelen);
			from.len = h->msg_namelen;
			from.sock = (int8_t)s;
			from.conn = -1;
			on_msg(w, w->rx_buf[i], w->rx_m[i].msg_len, &from,
			       rx_us, false);
		}
		if (n < RX_BATCH)
			break;
	}
}

static void rx_conn(struct worker *w, unsigned i)
{
	struct conn *c = &w->conns[i];
	unsigned round;

	for (round = 0; round < 16 && c->fd >= 0; round++) {
		ssize_t n = recv(c->fd, c->rbuf + c->rlen, CONN_RBUF - c->rlen,
				 MSG_DONTWAIT);
		size_t off = 0;

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR &&
			       errno != EWOULDBLOCK)) {
			conn_close(w, i);
			return;
		}
		if (n < 0)
			return;
		c->rlen += (size_t)n;
		clock_update(w);
		/* Frame and handle every complete message. */
		while (c->fd >= 0 && off < c->rlen) {
			const char *fault = NULL;
			struct peer from;
			int len;

			/* Keep-alive CRLFs (RFC 5626 §3.5.1): skip them. */
			while (off < c->rlen &&
			       (c->rbuf[off] == '\r' || c->rbuf[off] == '\n'))
				off++;
			if (off == c->rlen)
				break;
			len = sipmsg_frame(c->rbuf + off, c->rlen - off, 65536,
					   CONN_RBUF / 2, &fault);
			if (len == -EAGAIN)
				break;
			if (len < 0) {
				w->st.bad_msgs++;
				conn_close(w, i);
				return;
			}
			memset(&from, 0, sizeof(from));
			from.sock = -1;
			from.conn = (int16_t)i;
			from.conn_gen = c->gen;
			on_msg(w, c->rbuf + off, (size_t)len, &from, w->now_us,
			       true);
			off += (size_t)len;
		}
		if (c->fd < 0)
			return;
		if (off) {
			memmove(c->rbuf, c->rbuf + off, c->rlen - off);
			c->rlen -= off;
		}
		if (c->rlen == CONN_RBUF) {
			w->st.bad_msgs++;
			conn_close(w, i);
			return;
		}
		if ((size_t)n < CONN_RBUF - c->rlen)
			break;
	}
}

static int conn_setup(struct worker *w, unsigned i, int fd)
{
	struct conn *c = &w->conns[i];
	int one = 1;

	if (!c->rbuf)
		c->rbuf = malloc(CONN_RBUF);
	if (!c->wbuf)
		c->wbuf = malloc(CONN_WBUF);
	if (!c->rbuf || !c->wbuf)
		return -ENOMEM;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->fd = fd;
	c->rlen = 0;
	c->wlen = 0;
	return 0;
}

static void on_accept(struct worker *w)
{
	unsigned round;

	for (round = 0; round < 64; round++) {
		struct sockaddr_storage sa;
		socklen_t len = sizeof(sa);
		int fd = accept4(w->listen_fd, (struct sockaddr *)&sa, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		unsigned i;

		if (fd < 0)
			return;
		if (!is_loopback((struct sockaddr *)&sa)) {
			close(fd);
			continue;
		}
		for (i = 1; i <= CONN_MAX; i++)
			if (w->conns[i].fd < 0)
				break;
		if (i > CONN_MAX || conn_setup(w, i, fd) < 0) {
			close(fd);
			w->st.bad_msgs++;
		}
	}
}

/* ---- sockets ---- */

static void set_bufs(int fd, int family)
{
	int size = 8 * 1024 * 1024;
	int probe = IP_PMTUDISC_PROBE;

	/* DF set without path MTU discovery: loopback never fragments, and
	 * the kernel then numbers datagrams without hashing (IP ID). */
	if (family == AF_INET)
		setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &probe,
			   sizeof(probe));

	/* FORCE needs CAP_NET_ADMIN; fall back to what rmem_max allows. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
}

static void host_of(const struct sockaddr *sa, char *buf, size_t size,
		    uint16_t *portp)
{
	char tmp[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, tmp, sizeof(tmp));
		snprintf(buf, size, "[%s]", tmp);
		*portp = ntohs(in6->sin6_port);
	} else {
		const struct sockaddr_in *in4 = (const void *)sa;

		inet_ntop(AF_INET, &in4->sin_addr, tmp, sizeof(tmp));
		snprintf(buf, size, "%s", tmp);
		*portp = ntohs(in4->sin_port);
	}
}

static int open_uas(struct worker *w, char *why, size_t why_size)
{
	const struct worker_conf *c = w->c;
	int type = c->tcp ? SOCK_STREAM : SOCK_DGRAM;
	int one = 1;
	int fd;
	int err = 0;
	char host[80];
	uint16_t port;

	host_of((const struct sockaddr *)&c->listen, host, sizeof(host), &port);
	if (w->id == 0) {
		/* Refuse a port another process holds, even with
		 * SO_REUSEPORT: bind once without it. TCP: with
		 * SO_REUSEADDR, which still refuses a port someone listens
		 * on but not one whose connections of an earlier run
		 * linger (TIME_WAIT, FIN_WAIT2: the same callee port is
		 * used again and again, bench/compare call-tcp). */
		fd = socket(c->listen.ss_family, type | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (c->tcp)
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
				   sizeof(one));
		if (bind(fd, (const struct sockaddr *)&c->listen,
			 c->listen_len) < 0) {
			err = -errno;
			snprintf(why, why_size, "cannot bind %s:%u (%s): %s",
				 host, port, c->tcp ? "tcp" : "udp",
				 strerror(errno));
			close(fd);
			return err;
		}
		close(fd);
	}
	fd =
	    socket(c->listen.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (c->tcp)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	set_bufs(fd, c->listen.ss_family);
	if (bind(fd, (const struct sockaddr *)&c->listen, c->listen_len) < 0 ||
	    (c->tcp && listen(fd, 1024) < 0)) {
		err = -errno;
		snprintf(why, why_size, "cannot bind %s:%u (%s): %s", host,
			 port, c->tcp ? "tcp" : "udp", strerror(errno));
		close(fd);
		return err;
	}
	if (c->tcp)
		w->listen_fd = fd;
	else
		w->udp[SOCK_UAS] = fd;
	snprintf(w->uas_host, sizeof(w->uas_host), "%s", host);
	w->uas_port = port;
	return err;
}

static int open_uac(struct worker *w, char *why, size_t why_size)
{
	const struct worker_conf *c = w->c;
	struct sockaddr_storage local;
	socklen_t llen = sizeof(local);
	int type = c->tcp ? SOCK_STREAM : SOCK_DGRAM;
	int fd;
	int err = 0;
	int one = 1;
	char thost[80];
	uint16_t tport;
	unsigned tries;

	memset(&local, 0, sizeof(local));
	local.ss_family = c->target.ss_family;
	if (local.ss_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (void *)&local;

		if (inet_pton(AF_INET6, c->local_ip, &in6->sin6_addr) != 1)
			return -EINVAL;
		llen = sizeof(*in6);
	} else {
		struct sockaddr_in *in4 = (void *)&local;

		if (inet_pton(AF_INET, c->local_ip, &in4->sin_addr) != 1)
			return -EINVAL;
		llen = sizeof(*in4);
	}
	host_of((const struct sockaddr *)&c->target, thost, sizeof(thost),
		&tport);
	/* TCP: a peer started at the same time may not listen yet; try
	 * again for at most 5 s (loopback answers or refuses at once). */
	for (tries = 0;; tries++) {
		fd = socket(local.ss_family, type | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		set_bufs(fd, local.ss_family);
		if (bind(fd, (struct sockaddr *)&local, llen) < 0) {
			err = -errno;
			snprintf(why, why_size, "cannot bind %s: %s",
				 c->local_ip, strerror(errno));
			goto fail;
		}
		if (!c->tcp || !connect(fd, (const struct sockaddr *)&c->target,
					c->target_len))
			break;
		err = -errno;
		if (err != -ECONNREFUSED || tries >= 100) {
			snprintf(why, why_size, "cannot connect to %s:%u: %s",
				 thost, tport, strerror(-err));
			goto fail;
		}
		close(fd);
		{
			struct timespec ts = { 0, 50 * 1000 * 1000 };

			nanosleep(&ts, NULL);
		}
	}
	err = 0;
	if (c->tcp) {
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		err = conn_setup(w, CONN_UAC, fd);
		if (err)
			goto fail;
		w->target.sock = -1;
		w->target.conn = CONN_UAC;
		w->target.conn_gen = w->conns[CONN_UAC].gen;
	} else {
		/* Connected: the route is looked up once, not per datagram;
		 * responses come from where the requests went. */
		if (connect(fd, (const struct sockaddr *)&c->target,
			    c->target_len) < 0) {
			err = -errno;
			snprintf(why, why_size, "cannot connect to %s:%u: %s",
				 thost, tport, strerror(errno));
			goto fail;
		}
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		/* Kernel receive time stamps: latency without our queueing. */
		setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
		w->udp[SOCK_UAC] = fd;
		w->target.sock = SOCK_UAC;
		w->target.connected = true;
		w->target.conn = -1;
	}
	memcpy(&w->target.a, &c->target, c->target_len);
	w->target.len = c->target_len;
	llen = sizeof(local);
	getsockname(fd, (struct sockaddr *)&local, &llen);
	host_of((const struct sockaddr *)&local, w->local_host,
		sizeof(w->local_host), &w->uac_port);
	return 0;
fail:
	close(fd);
	return err;
}

int worker_new(const struct worker_conf *c, unsigned id, struct worker **wp,
	       char *why, size_t why_size)
{
	struct worker *w;
	unsigned i;
	int err = 0;

	snprintf(why, why_size, "%s", "");
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->c = c;
	w->id = id;
	w->rng = (c->seed ^ (0x9E3779B97F4A7C15ULL * (id + 1))) | 1;
	w->listen_fd = -1;
	for (i = 0; i < SOCK__COUNT; i++)
		w->udp[i] = -1;
	for (i = 0; i <= CONN_MAX; i++)
		w->conns[i].fd = -1;
	clock_update(w);
	w->rx_buf = malloc(sizeof(*w->rx_buf) * RX_BATCH);
	if (!w->rx_buf) {
		err = -ENOMEM;
		goto out;
	}
	if (!c->tcp) {
		for (i = 0; i < SOCK__COUNT; i++) {
			if (i == SOCK_UAC && !(c->roles & WORKER_UAC))
				continue;
			if (i == SOCK_UAS && !(c->roles & WORKER_UAS))
				continue;
			w->tx[i] = malloc(sizeof(*w->tx[i]));
			if (!w->tx[i]) {
				err = -ENOMEM;
				goto out;
			}
			w->tx[i]->n = 0;
		}
	}
	if (c->roles & WORKER_UAS) {
		err = open_uas(w, why, why_size);
		if (err)
			goto out;
	}
	if (c->roles & WORKER_UAC) {
		err = open_uac(w, why, why_size);
		if (err)
			goto out;
	} else {
		snprintf(w->local_host, sizeof(w->local_host), "%s",
			 w->uas_host);
		w->uac_port = w->uas_port;
	}
	if (!(c->roles & WORKER_UAS)) {
		snprintf(w->uas_host, sizeof(w->uas_host), "%s", w->local_host);
		w->uas_port = w->uac_port;
	}
	err = worker__uac_init(w);
	if (!err)
		err = worker__uas_init(w);
	if (err)
		goto out;
	*wp = w;
	w = NULL;
out:
	if (err && !why[0])
		snprintf(why, why_size, "worker %u: %s", id, strerror(-err));
	worker_free(w);
	return err;
}

void worker_free(struct worker *w)
{
	unsigned i;

	if (!w)
		return;
	worker__uac_fini(w);
	worker__uas_fini(w);
	for (i = 0; i < SOCK__COUNT; i++) {
		if (w->udp[i] >= 0)
			close(w->udp[i]);
		free(w->tx[i]);
	}
	for (i = 0; i <= CONN_MAX; i++) {
		if (w->conns[i].fd >= 0)
			close(w->conns[i].fd);
		free(w->conns[i].rbuf);
		free(w->conns[i].wbuf);
	}
	if (w->listen_fd >= 0)
		close(w->listen_fd);
	free(w->rx_buf);
	free(w);
}

/* ---- the loop ---- */

/* Operations due @p t seconds into the phase (RFC-free arithmetic: a
 * linear ramp from 0 to rate over ramp_s, then the rate). */
static double due_at(const struct worker_phase *p, double t)
{
	if (t <= 0)
		return 0;
	if (p->ramp_s > 0 && t < p->ramp_s)
		return p->rate * t * t / (2 * p->ramp_s);
	if (p->ramp_s > 0)
		return p->rate * (t - p->ramp_s / 2);
	return p->rate * t;
}

/* When (µs into the phase) operation number @p n (1-based) is due. */
static int64_t due_time_us(const struct worker_phase *p, double n)
{
	double t;

	if (p->ramp_s > 0 && n <= p->rate * p->ramp_s / 2)
		t = sqrt(2 * n * p->ramp_s / p->rate);
	else if (p->ramp_s > 0)
		t = n / p->rate + p->ramp_s / 2;
	else
		t = n / p->rate;
	return (int64_t)(t * 1e6) + 1;
}

static void live_publish(struct worker *w)
{
	uint64_t active = w->uac_n - w->uac_nfree;

	atomic_store_explicit(&w->live.started, w->st.started,
			      memory_order_relaxed);
	atomic_store_explicit(&w->live.succeeded, w->st.succeeded,
			      memory_order_relaxed);
	atomic_store_explicit(&w->live.failed, w->st.failed,
			      memory_order_relaxed);
	atomic_store_explicit(&w->live.active, active, memory_order_relaxed);
	atomic_store_explicit(&w->live.retx, w->st.retx_sent,
			      memory_order_relaxed);
	atomic_store_explicit(&w->live.uas_ops, w->st.uas_ops,
			      memory_order_relaxed);
}

/* Start what is due; returns µs until the next start is due. */
static int64_t start_due(struct worker *w, int64_t t_us)
{
	const struct worker_phase *p = w->ph;
	uint64_t issued = w->st.started + w->st.skipped;
	uint64_t due;
	unsigned n = 0;

	if (p->rate <= 0) {
		/* As fast as the concurrency cap allows. */
		while (n < 256 && (!p->count || w->st.started < p->count) &&
		       worker__uac_start(w))
			n++;
		return n == 256 ? 0 : INT64_MAX;
	}
	due = (uint64_t)due_at(p, (double)t_us / 1e6);
	if (p->count && due > p->count)
		due = p->count;
	/* Bounded per pass so that replies keep being read. */
	while (issued < due && n < 512) {
		if (!worker__uac_start(w)) {
			/* The concurrency cap: what is due now is skipped. */
			w->st.skipped += due - issued;
			issued = due;
			break;
		}
		issued++;
		n++;
	}
	if (issued < due)
		return 0;
	return due_time_us(p, (double)issued + 1) - t_us;
}

static void expire(struct worker *w)
{
	uint32_t i;
	unsigned n;

	for (n = 0; n < 1000000; n++) {
		i = wheel_expire(&w->uac_wheel, w->now_ms);
		if (i == WHEEL_NIL)
			break;
		worker__uac_timer(w, i);
	}
	for (n = 0; n < 1000000; n++) {
		i = wheel_expire(&w->uas_wheel, w->now_ms);
		if (i == WHEEL_NIL)
			break;
		worker__uas_timer(w, i);
	}
}

/* The poll set: our UDP sockets, the listener, the TCP connections. */
static unsigned poll_set(struct worker *w, struct pollfd *pfd, uint32_t *kind)
{
	unsigned n = 0, i;

	for (i = 0; i < SOCK__COUNT; i++) {
		if (w->udp[i] < 0)
			continue;
		pfd[n] = (struct pollfd){ .fd = w->udp[i], .events = POLLIN };
		kind[n++] = EV_UDP | i;
	}
	if (w->listen_fd >= 0) {
		pfd[n] =
		    (struct pollfd){ .fd = w->listen_fd, .events = POLLIN };
		kind[n++] = EV_LISTEN;
	}
	if (w->c->tcp) {
		for (i = 0; i <= CONN_MAX; i++) {
			if (w->conns[i].fd < 0)
				continue;
			pfd[n] = (struct pollfd){ .fd = w->conns[i].fd,
						  .events = POLLIN };
			kind[n++] = EV_CONN | i;
		}
	}
	return n;
}

static void handle_events(struct worker *w, const struct pollfd *pfd,
			  const uint32_t *kinds, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		uint32_t kind = kinds[i] & 0xffff0000u;
		unsigned idx = kinds[i] & 0xffffu;

		if (!pfd[i].revents)
			continue;
		if (kind == EV_UDP)
			rx_udp(w, (int)idx);
		else if (kind == EV_LISTEN)
			on_accept(w);
		else if (kind == EV_CONN && w->conns[idx].fd >= 0)
			rx_conn(w, idx);
	}
}

static bool pending_writes(const struct worker *w)
{
	unsigned i;

	for (i = 0; i <= CONN_MAX; i++)
		if (w->conns[i].fd >= 0 && w->conns[i].wlen)
			return true;
	return false;
}

int worker_run(struct worker *w, const struct worker_phase *p)
{
	const bool uac = w->c->roles & WORKER_UAC;
	struct pollfd pfd[SOCK__COUNT + 2 + CONN_MAX];
	uint32_t kinds[SOCK__COUNT + 2 + CONN_MAX];
	int64_t start_us = p->start_ms * 1000;
	int64_t window_end_us = 0;
	int64_t next_pub = 0;
	int64_t linger_until = 0;
	int64_t iter;
	int64_t slack_us = p->slack_us;
	bool uac_done = false;
	int err = 0;

	memset(&w->st, 0, sizeof(w->st));
	w->ph = p;
	w->starting = uac;
	clock_update(w);
	w->real_off_us = real_us() - w->now_us;
	/* Bounded: the deadline ends the loop; the count is a backstop. */
	for (iter = 0; iter < INT64_MAX / 2; iter++) {
		int stop = atomic_load_explicit(p->stop, memory_order_relaxed);
		int64_t t_us;
		int64_t wait_us = 1000000;
		int64_t next_timer;
		int n;
		unsigned np;
		struct timespec ts;

		clock_update(w);
		t_us = w->now_us - start_us;
		if (stop >= 2 || w->now_ms >= p->deadline_ms)
			break;
		if (t_us < 0) {
			/* Phases start together on every thread. */
			wait_us = -t_us;
			goto wait;
		}
		if (w->starting && !stop && p->window_ms &&
		    t_us >= p->window_ms * 1000) {
			/* The window is over: start what was due by its end
			 * (slack may have woken us a little after it). */
			start_due(w, p->window_ms * 1000);
			w->starting = false;
			window_end_us = p->window_ms * 1000;
		}
		if (w->starting &&
		    (stop || (p->count && w->st.started >= p->count))) {
			w->starting = false;
			window_end_us = t_us;
		}
		if (w->starting) {
			int64_t next = start_due(w, t_us);

			if (next < wait_us)
				wait_us = next;
		}
		expire(w);
		flush_all(w);
		if (w->now_us >= next_pub) {
			live_publish(w);
			next_pub = w->now_us + 100000;
		}
		/* The end of the phase. */
		if (uac && !w->starting && !uac_done) {
			uint64_t active = w->uac_n - w->uac_nfree;

			if (!active ||
			    t_us - window_end_us >= p->drain_ms * 1000 ||
			    (stop && t_us - window_end_us >= 1000000)) {
				uac_done = true;
				worker__uac_abandon(w);
				if (p->uac_left)
					atomic_fetch_sub(p->uac_left, 1);
			}
		}
		if (uac_done) {
			/* Our UAS may serve other threads' calls (the kernel
			 * spreads them over the SO_REUSEPORT sockets): keep
			 * answering until every UAC is done. */
			if (!(w->c->roles & WORKER_UAS) || !p->uac_left ||
			    !atomic_load(p->uac_left))
				break;
			if (wait_us > 5000)
				wait_us = 5000;
		} else if (!uac) {
			if (stop)
				break;
			if (p->window_ms && t_us >= p->window_ms * 1000)
				break;
			if (p->uas_count && p->uas_done &&
			    atomic_load_explicit(p->uas_done,
						 memory_order_relaxed) >=
				p->uas_count) {
				if (!linger_until)
					linger_until = w->now_ms + p->linger_ms;
				if (w->now_ms >= linger_until)
					break;
				if ((linger_until - w->now_ms) * 1000 < wait_us)
					wait_us =
					    (linger_until - w->now_ms) * 1000;
			}
			if (p->window_ms &&
			    p->window_ms * 1000 - t_us < wait_us)
				wait_us = p->window_ms * 1000 - t_us;
		}
		/* Timers and starts may run up to --slack-ms late: they
		 * share the wake-ups that arriving messages cause anyway,
		 * and a wake-up by a timer costs far more than one by a
		 * message. */
		if (wait_us != INT64_MAX && wait_us < 1000000)
			wait_us += slack_us;
		next_timer = wheel_next_due(&w->uac_wheel, w->now_ms, 1000);
		if (next_timer != INT64_MAX &&
		    (next_timer - w->now_ms) * 1000 + slack_us < wait_us)
			wait_us = (next_timer - w->now_ms) * 1000 + slack_us;
		next_timer = wheel_next_due(&w->uas_wheel, w->now_ms, 1000);
		if (next_timer != INT64_MAX &&
		    (next_timer - w->now_ms) * 1000 + slack_us < wait_us)
			wait_us = (next_timer - w->now_ms) * 1000 + slack_us;
		if (pending_writes(w) && wait_us > 1000)
			wait_us = 1000;
		if ((p->deadline_ms - w->now_ms) * 1000 < wait_us)
			wait_us = (p->deadline_ms - w->now_ms) * 1000;
	wait:
		if (wait_us < 0)
			wait_us = 0;
		if (wait_us > 100000)
			wait_us = 100000; /* see the stop flag soon */
		np = poll_set(w, pfd, kinds);
		ts.tv_sec = wait_us / 1000000;
		ts.tv_nsec = (long)(wait_us % 1000000) * 1000;
		n = ppoll(pfd, np, &ts, NULL);
		if (n < 0 && errno != EINTR) {
			err = -errno;
			break;
		}
		if (n > 0) {
			clock_update(w);
			handle_events(w, pfd, kinds, np);
		}
	}
	clock_update(w);
	if (w->starting)
		window_end_us = w->now_us - start_us;
	w->starting = false;
	flush_all(w);
	worker__uac_abandon(w);
	w->st.window_us = window_end_us > 0 ? window_end_us : 0;
	w->st.elapsed_us = w->now_us - start_us;
	if (uac && p->rate > 0) {
		double due = due_at(p, (double)w->st.window_us / 1e6);

		if (p->count && due > (double)p->count)
			due = (double)p->count;
		w->st.offered = due;
	} else {
		w->st.offered = (double)w->st.started;
	}
	live_publish(w);
	return err;
}

const struct worker_stats *worker_stats(const struct worker *w)
{
	return &w->st;
}

const struct worker_live *worker_live(const struct worker *w)
{
	return &w->live;
}

void worker_stats_merge(struct worker_stats *into,
			const struct worker_stats *from)
{
	unsigned i;

	into->started += from->started;
	into->succeeded += from->succeeded;
	into->failed += from->failed;
	into->timeouts += from->timeouts;
	into->unfinished += from->unfinished;
	into->skipped += from->skipped;
	for (i = 0; i < WORKER_STATUS_MAX; i++)
		into->fail_status[i] += from->fail_status[i];
	into->fail_other += from->fail_other;
	into->challenges += from->challenges;
	into->retx_sent += from->retx_sent;
	into->dup_rcvd += from->dup_rcvd;
	into->stray += from->stray;
	if (from->window_us > into->window_us)
		into->window_us = from->window_us;
	if (from->elapsed_us > into->elapsed_us)
		into->elapsed_us = from->elapsed_us;
	into->offered += from->offered;
	hist_merge(&into->lat_first, &from->lat_first);
	hist_merge(&into->lat_final, &from->lat_final);
	for (i = 0; i < 16; i++)
		into->uas_requests[i] += from->uas_requests[i];
	into->uas_ops += from->uas_ops;
	into->uas_ack_timeouts += from->uas_ack_timeouts;
	into->uas_prack_timeouts += from->uas_prack_timeouts;
	into->uas_auth_ok += from->uas_auth_ok;
	into->uas_auth_fail += from->uas_auth_fail;
	into->uas_busy += from->uas_busy;
	into->bad_offers += from->bad_offers;
	into->uas_offerless += from->uas_offerless;
	into->uas_with_offer += from->uas_with_offer;
	into->uas_answers_ok += from->uas_answers_ok;
	into->uas_3pcc_ack_timeouts += from->uas_3pcc_ack_timeouts;
	for (i = 0; i < SDPOA__VERDICTS; i++)
		into->uas_answer_bad[i] += from->uas_answer_bad[i];
	hist_merge(&into->uas_lat_answer, &from->uas_lat_answer);
	into->msgs_in += from->msgs_in;
	into->msgs_out += from->msgs_out;
	into->bad_msgs += from->bad_msgs;
	into->dropped += from->dropped;
	into->send_errors += from->send_errors;
}
