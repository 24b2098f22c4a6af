/* proxy/core/udp.c - a shard's UDP sockets: recvmmsg batches in, sendmmsg out
 */
#include "proxy/core/udp.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "proxy/base/err.h"
#include "proxy/base/log.h"
#include "proxy/core/conf.h"
#include "proxy/core/shard_priv.h"

/* One receive slot holds the largest datagram; a bigger one is cut
 * (MSG_TRUNC) and dropped. */
#define SLOT_SIZE (64 * 1024)
/* recvmmsg batches per wake-up, so that one busy socket cannot starve
 * the rest of the shard's work (the poll is level-triggered). */
#define ROUNDS	     4
#define MAX_BATCH    1024u
#define SEND_BUF     (256 * 1024)
#define RCVBUF_BYTES (4 * 1024 * 1024)
#define SNDBUF_BYTES (1024 * 1024)

struct udp_sock {
	struct udp *u;
	int fd; /* -1: this listen entry has no UDP */
	int family;
	unsigned listen_idx;
	struct sockaddr_storage local; /* the socket's own (getsockname) */
	uv_poll_t poll;
	bool poll_init;
};

struct udp {
	struct shard *sh;
	struct udp_sock *socks; /* one per conf->listen entry */
	unsigned nsocks;
	unsigned batch;
	bool any; /* at least one UDP socket */

	struct mmsghdr *rmsg;
	struct iovec *riov;
	struct sockaddr_storage *raddr;
	char *rbuf;

	struct mmsghdr *smsg;
	struct iovec *siov;
	struct sockaddr_storage *saddr;
	int *sfd;
	unsigned nq;
	char *sbuf;
	size_t sused;

	struct log_ratelimit rl;
};

/* Bigger socket buffers absorb bursts; best effort (the forced variant
 * needs CAP_NET_ADMIN, the plain one is capped by the sysctl). */
static void set_buffers(int fd)
{
	int rcv = RCVBUF_BYTES, snd = SNDBUF_BYTES;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)))
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &snd, sizeof(snd)))
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, sizeof(snd));
}

static int alloc_batch(struct udp *u)
{
	unsigned b = u->batch;

	u->rmsg = calloc(b, sizeof(*u->rmsg));
	u->riov = calloc(b, sizeof(*u->riov));
	u->raddr = calloc(b, sizeof(*u->raddr));
	u->rbuf = malloc((size_t)b * SLOT_SIZE);
	u->smsg = calloc(b, sizeof(*u->smsg));
	u->siov = calloc(b, sizeof(*u->siov));
	u->saddr = calloc(b, sizeof(*u->saddr));
	u->sfd = calloc(b, sizeof(*u->sfd));
	u->sbuf = malloc(SEND_BUF);
	if (!u->rmsg || !u->riov || !u->raddr || !u->rbuf || !u->smsg ||
	    !u->siov || !u->saddr || !u->sfd || !u->sbuf)
		return -ENOMEM;
	for (unsigned i = 0; i < b; i++) {
		u->riov[i].iov_base = u->rbuf + (size_t)i * SLOT_SIZE;
		u->riov[i].iov_len = SLOT_SIZE;
	}
	return 0;
}

int udp_open(struct shard *sh, struct udp **up)
{
	const struct conf *c = shard_conf(sh);
	const struct conf_listen *ls;
	unsigned nls;
	struct udp *u;
	int err = -ENOMEM;

	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->sh = sh;
	u->rl.burst = 10;
	u->batch = c->udp.batch ? c->udp.batch : 1;
	if (u->batch > MAX_BATCH)
		u->batch = MAX_BATCH;
	ls = shard__listen(sh, &nls);
	u->nsocks = nls;
	u->socks = calloc(u->nsocks ? u->nsocks : 1, sizeof(*u->socks));
	if (!u->socks)
		goto out;
	for (unsigned i = 0; i < u->nsocks; i++) {
		u->socks[i].u = u;
		u->socks[i].fd = -1;
		u->socks[i].listen_idx = i;
	}
	for (unsigned i = 0; i < u->nsocks; i++) {
		const struct conf_listen *l = &ls[i];
		socklen_t alen;
		int fd;

		if (!l->udp)
			continue;
		fd = tp__bind((const struct sockaddr *)&l->addr, l->addrlen,
			      SOCK_DGRAM, "udp");
		if (fd < 0) {
			err = fd;
			goto out;
		}
		u->socks[i].fd = fd;
		u->socks[i].family = l->addr.ss_family;
		/* The port the kernel gave a port-0 listener, and so on:
		 * what a trace shows as the local address. */
		alen = sizeof(u->socks[i].local);
		if (getsockname(fd, (struct sockaddr *)&u->socks[i].local,
				&alen))
			u->socks[i].local = l->addr;
		set_buffers(fd);
		u->any = true;
	}
	err = u->any ? alloc_batch(u) : 0;
	if (err)
		goto out;
	*up = u;
	u = NULL;
out:
	udp_free(u);
	return err;
}

int udp_fd(const struct udp *u, unsigned listen_idx)
{
	if (!u || listen_idx >= u->nsocks)
		return -1;
	return u->socks[listen_idx].fd;
}

/* Everything in a datagram is CR or LF: a keep-alive, not a message. */
static bool is_keepalive(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i] != '\r' && p[i] != '\n')
			return false;
	}
	return true;
}

static void one(struct udp_sock *s, unsigned i)
{
	struct udp *u = s->u;
	struct mmsghdr *m = &u->rmsg[i];
	const char *p = u->riov[i].iov_base;
	size_t len = m->msg_len;
	struct peer peer;

	if (m->msg_hdr.msg_flags & MSG_TRUNC) {
		shard__count(&shard_stats(u->sh)->dropped, 1);
		if (log_ratelimit_ok(&u->rl))
			log_msg(LOG_NOTICE,
				"udp: datagram over %d bytes dropped",
				SLOT_SIZE);
		return;
	}
	if (is_keepalive(p, len))
		return;
	memset(&peer, 0, sizeof(peer));
	peer.proto = PEER_UDP;
	peer.addrlen = m->msg_hdr.msg_namelen;
	if (peer.addrlen > sizeof(peer.addr))
		peer.addrlen = sizeof(peer.addr);
	memcpy(&peer.addr, &u->raddr[i], peer.addrlen);
	peer.listen_idx = s->listen_idx;
	shard__receive(u->sh, &peer, p, len);
}

static void poll_cb(uv_poll_t *h, int status, int events)
{
	struct udp_sock *s = h->data;
	struct udp *u = s->u;
	int n;

	(void)events;
	if (status < 0) {
		if (log_ratelimit_ok(&u->rl))
			log_msg(LOG_WARN, "udp: poll: %s", err_str(status));
		return;
	}
	for (unsigned round = 0; round < ROUNDS; round++) {
		for (unsigned i = 0; i < u->batch; i++) {
			struct msghdr *mh = &u->rmsg[i].msg_hdr;

			memset(mh, 0, sizeof(*mh));
			mh->msg_name = &u->raddr[i];
			mh->msg_namelen = sizeof(u->raddr[i]);
			mh->msg_iov = &u->riov[i];
			mh->msg_iovlen = 1;
		}
		n = recvmmsg(s->fd, u->rmsg, u->batch, MSG_DONTWAIT, NULL);
		if (n < 0) {
			int err = -errno;

			if (err == -EINTR)
				continue;
			if (err != -EAGAIN && err != -EWOULDBLOCK &&
			    log_ratelimit_ok(&u->rl))
				log_msg(LOG_WARN, "udp: recvmmsg: %s",
					err_str(err));
			break;
		}
		for (unsigned i = 0; i < (unsigned)n; i++)
			one(s, i);
		/* The socket is drained: the loop's check_cb() sends what
		 * this turn queued, all callbacks' at once. */
		if ((unsigned)n < u->batch)
			break;
		/* More to read: replies out and other shards woken before
		 * the next batch, so they work meanwhile. */
		shard__flush(u->sh);
	}
}

int udp_start(struct udp *u)
{
	int err;

	for (unsigned i = 0; i < u->nsocks; i++) {
		struct udp_sock *s = &u->socks[i];

		if (s->fd < 0)
			continue;
		err = uv_poll_init(&u->sh->loop, &s->poll, s->fd);
		if (err)
			return err;
		s->poll.data = s;
		s->poll_init = true;
		err = uv_poll_start(&s->poll, UV_READABLE, poll_cb);
		if (err)
			return err;
	}
	return 0;
}

void udp_close(struct udp *u)
{
	if (!u)
		return;
	for (unsigned i = 0; i < u->nsocks; i++) {
		uv_handle_t *h = (uv_handle_t *)&u->socks[i].poll;

		if (u->socks[i].poll_init && !uv_is_closing(h))
			uv_close(h, NULL);
	}
}

void udp_free(struct udp *u)
{
	if (!u)
		return;
	for (unsigned i = 0; i < u->nsocks; i++) {
		if (u->socks[i].fd >= 0)
			close(u->socks[i].fd);
	}
	free(u->socks);
	free(u->rmsg);
	free(u->riov);
	free(u->raddr);
	free(u->rbuf);
	free(u->smsg);
	free(u->siov);
	free(u->saddr);
	free(u->sfd);
	free(u->sbuf);
	free(u);
}

static const struct udp_sock *pick(const struct udp *u, const struct peer *to)
{
	int family = to->addr.ss_family;

	if (to->listen_idx < u->nsocks) {
		const struct udp_sock *s = &u->socks[to->listen_idx];

		if (s->fd >= 0 && s->family == family)
			return s;
	}
	for (unsigned i = 0; i < u->nsocks; i++) {
		if (u->socks[i].fd >= 0 && u->socks[i].family == family)
			return &u->socks[i];
	}
	return NULL;
}

int udp_local(const struct udp *u, const struct peer *p,
	      struct sockaddr_storage *ssp)
{
	const struct udp_sock *s = u && u->any ? pick(u, p) : NULL;

	if (!s)
		return -EAFNOSUPPORT;
	*ssp = s->local;
	return 0;
}

int udp_send(struct udp *u, const struct peer *to, const void *buf, size_t len)
{
	const struct udp_sock *s;
	struct msghdr *mh;
	socklen_t alen;
	unsigned q;

	if (len > UDP_MAX_PAYLOAD)
		return -EMSGSIZE;
	s = u && u->any ? pick(u, to) : NULL;
	if (!s)
		return -EAFNOSUPPORT;
	alen = to->addrlen;
	if (alen == 0 || alen > sizeof(to->addr))
		alen = to->addr.ss_family == AF_INET6
			   ? sizeof(struct sockaddr_in6)
			   : sizeof(struct sockaddr_in);
	if (u->nq == u->batch || u->sused + len > SEND_BUF)
		udp_flush(u);
	q = u->nq++;
	memcpy(u->sbuf + u->sused, buf, len);
	u->siov[q].iov_base = u->sbuf + u->sused;
	u->siov[q].iov_len = len;
	u->sused += len;
	memcpy(&u->saddr[q], &to->addr, alen);
	u->sfd[q] = s->fd;
	mh = &u->smsg[q].msg_hdr;
	memset(mh, 0, sizeof(*mh));
	mh->msg_name = &u->saddr[q];
	mh->msg_namelen = alen;
	mh->msg_iov = &u->siov[q];
	mh->msg_iovlen = 1;
	return 0;
}

void udp_flush(struct udp *u)
{
	struct shard_stats *st;
	unsigned i = 0, tries = 0;
	char abuf[64];
	int n, err;

	if (!u || !u->nq)
		return;
	st = shard_stats(u->sh);
	/* Each pass sends at least one datagram or drops one; EINTR is
	 * retried a bounded number of times. */
	while (i < u->nq && tries++ < 2 * u->nq + 8) {
		unsigned run = 1;

		while (i + run < u->nq && u->sfd[i + run] == u->sfd[i])
			run++;
		n = sendmmsg(u->sfd[i], &u->smsg[i], run, MSG_DONTWAIT);
		if (n > 0) {
			shard__count(&st->tx_msgs, (uint64_t)n);
			i += (unsigned)n;
			continue;
		}
		err = n < 0 ? -errno : -EIO;
		if (err == -EINTR)
			continue;
		/* The socket refuses this one (full buffer, unreachable). */
		if (log_ratelimit_ok(&u->rl))
			log_msg(LOG_NOTICE, "udp: send to %s: %s",
				peer_addr_str((struct sockaddr *)&u->saddr[i],
					      abuf, sizeof(abuf)),
				err_str(err));
		shard__count(&st->dropped, 1);
		i++;
	}
	if (i < u->nq)
		shard__count(&st->dropped, u->nq - i);
	u->nq = 0;
	u->sused = 0;
}
