/* tests/unit/proxy/test_shard.c - shards, UDP and TCP transports, hand-off */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "proxy/base/log.h"
#include "proxy/base/obj.h"
#include "proxy/base/slice.h"
#include "proxy/core/conf.h"
#include "proxy/core/shard.h"
#include "proxy/pipeline.h"
#include "proxy/core/transport.h"
#include "tests/common/proc.h"
#include "tests/common/teardown.h"
#include "tests/common/ms.h"
#include "tests/unit/rtconf.h"

#define NSHARDS 2
/* How long a test waits for an event that must come (a reply, a
 * counter, a close) before it fails: a safety net, not a measurement. */
#define WAIT_MS 10000

static struct conf cf;
static struct conf_listen ls;
static struct shards *sh;
static char host[64];	  /* "127.0.0.1" or "::1" */
static char uri_host[64]; /* as in a URI: "127.0.0.1", "[::1]" */
static uint16_t port;
static int family;

static void fill_addr(struct sockaddr_storage *ss, socklen_t *lenp, int fam,
		      uint16_t p)
{
	memset(ss, 0, sizeof(*ss));
	if (fam == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		in->sin_port = htons(p);
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*lenp = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(p);
		in6->sin6_addr = in6addr_loopback;
		*lenp = sizeof(*in6);
	}
}

static uint16_t local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	cr_assert_eq(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* A loopback port free for both TCP and UDP right now. */
static uint16_t free_port(int fam)
{
	uint16_t p;

	cr_assert_eq(proc_free_port(fam == AF_INET ? "127.0.0.1" : "::1", &p),
		     0);
	return p;
}

static void conf_make(int fam, unsigned workers)
{
	rtconf_init(&cf, workers);
	memset(&ls, 0, sizeof(ls));
	family = fam;
	snprintf(host, sizeof(host), "%s",
		 fam == AF_INET ? "127.0.0.1" : "::1");
	snprintf(uri_host, sizeof(uri_host), "%s",
		 fam == AF_INET ? "127.0.0.1" : "[::1]");
	port = free_port(fam);
	ls.address = host;
	ls.port = port;
	ls.udp = true;
	ls.tcp = true;
	fill_addr(&ls.addr, &ls.addrlen, fam, port);
	cf.listen = &ls;
	cf.nlisten = 1;
}

static void start(void)
{
	sh = NULL;
	cr_assert_eq(shards_start(&cf, &pipeline_role, &sh), 0);
	cr_assert_not_null(sh);
	cr_assert_eq(shards_count(sh), cf.workers);
}

static void init_v4(void)
{
	log_set_level(LOG_WARN);
	conf_make(AF_INET, NSHARDS);
	start();
}

static void init_v6(void)
{
	log_set_level(LOG_WARN);
	conf_make(AF_INET6, NSHARDS);
	start();
}

static void init_maxconn(void)
{
	log_set_level(LOG_WARN);
	conf_make(AF_INET, NSHARDS);
	cf.tcp.max_connections = 2;
	start();
}

static void init_idle(void)
{
	log_set_level(LOG_WARN);
	conf_make(AF_INET, NSHARDS);
	cf.tcp.idle_timeout_s = 1;
	start();
}

static void init_plain(void)
{
	log_set_level(LOG_ERR);
	sh = NULL;
}

static void fini(void)
{
	shards_stop(sh);
	sh = NULL;
	teardown_check_objs(0);
}

/* Sum of one counter over every shard. */
enum ctr { RX, TX, PERR, HOUT, HIN, DROP, TACC, TCLO };

static uint64_t ctr_of(const struct shard_stats *st, enum ctr c)
{
	switch (c) {
	case RX:
		return st->rx_msgs;
	case TX:
		return st->tx_msgs;
	case PERR:
		return st->parse_errors;
	case HOUT:
		return st->handoff_out;
	case HIN:
		return st->handoff_in;
	case DROP:
		return st->dropped;
	case TACC:
		return st->tcp_accepted;
	case TCLO:
		return st->tcp_closed;
	}
	return 0;
}

static uint64_t total(enum ctr c)
{
	struct shard_stats st;
	uint64_t sum = 0;

	for (unsigned i = 0; i < shards_count(sh); i++) {
		shards_stats(sh, i, &st);
		sum += ctr_of(&st, c);
	}
	return sum;
}

/* Wait until the sum of counter @c reaches @want (polled: the shards
 * count on their own threads). */
static bool wait_total(enum ctr c, uint64_t want)
{
	for (int i = 0; i < WAIT_MS / 2; i++) {
		if (total(c) >= want)
			return total(c) == want;
		ms_sleep(2);
	}
	return false;
}

static size_t options(char *buf, size_t cap, const char *proto, uint16_t cport,
		      const char *callid, unsigned cseq)
{
	int n = snprintf(buf, cap,
			 "OPTIONS sip:%s:%u SIP/2.0\r\n"
			 "Via: SIP/2.0/%s %s:%u;branch=z9hG4bK-%s-%u;rport\r\n"
			 "Max-Forwards: 70\r\n"
			 "From: <sip:test@%s>;tag=ft%u\r\n"
			 "To: <sip:%s:%u>\r\n"
			 "Call-ID: %s\r\n"
			 "CSeq: %u OPTIONS\r\n"
			 "Content-Length: 0\r\n"
			 "\r\n",
			 uri_host, port, proto, uri_host, cport, callid, cseq,
			 uri_host, cseq, uri_host, port, callid, cseq);

	cr_assert(n > 0 && (size_t)n < cap);
	return (size_t)n;
}

/* The Call-ID value of a message (first line only), into @out. */
static bool call_id_of(const char *msg, size_t len, char *out, size_t cap)
{
	const char *p = memmem(msg, len, "\r\nCall-ID:", 10);
	const char *e;

	if (!p)
		p = memmem(msg, len, "\r\ni:", 4);
	if (!p)
		return false;
	p = memchr(p + 2, ':', len - (size_t)(p + 2 - msg)) + 1;
	while (*p == ' ')
		p++;
	e = memmem(p, len - (size_t)(p - msg), "\r\n", 2);
	if (!e || (size_t)(e - p) >= cap)
		return false;
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = '\0';
	return true;
}

static int status_of(const char *msg, size_t len)
{
	if (len < 12 || memcmp(msg, "SIP/2.0 ", 8) != 0)
		return -1;
	return atoi(msg + 8);
}

/* ---- UDP ---------------------------------------------------------- */

static int udp_client(void)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = socket(family, SOCK_DGRAM, 0);

	cr_assert(fd >= 0);
	fill_addr(&ss, &len, family, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&ss, len), 0);
	return fd;
}

static void udp_to_server(int fd, const char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t alen;

	fill_addr(&ss, &alen, family, port);
	cr_assert_eq(sendto(fd, buf, len, 0, (struct sockaddr *)&ss, alen),
		     (ssize_t)len);
}

static void udp_options(int fd, const char *callid, unsigned cseq)
{
	char buf[1024];
	size_t n =
	    options(buf, sizeof(buf), "UDP", local_port(fd), callid, cseq);

	udp_to_server(fd, buf, n);
}

/* One datagram, waiting at most WAIT_MS; -1 on timeout. */
static ssize_t udp_recv(int fd, char *buf, size_t cap)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (poll(&p, 1, WAIT_MS) != 1)
		return -1;
	return recv(fd, buf, cap, 0);
}

/* Index of the shard whose rx_msgs went up since @before. */
static int which_rx(const uint64_t *before)
{
	struct shard_stats st;

	for (int w = 0; w < WAIT_MS / 2; w++) {
		for (unsigned i = 0; i < shards_count(sh); i++) {
			shards_stats(sh, i, &st);
			if (st.rx_msgs > before[i])
				return (int)i;
		}
		ms_sleep(2);
	}
	return -1;
}

struct expect {
	uint64_t rx[NSHARDS], hout[NSHARDS], hin[NSHARDS];
};

static void expect_msg(struct expect *e, int reader, const char *callid)
{
	unsigned owner = shard_owner(slice_cstr(callid), NSHARDS);

	e->rx[reader]++;
	if ((int)owner != reader) {
		e->hout[reader]++;
		e->hin[owner]++;
	}
}

static bool stats_match(const struct expect *e)
{
	struct shard_stats st;

	for (unsigned i = 0; i < NSHARDS; i++) {
		shards_stats(sh, i, &st);
		if (st.rx_msgs != e->rx[i] || st.handoff_out != e->hout[i] ||
		    st.handoff_in != e->hin[i])
			return false;
	}
	return true;
}

TestSuite(shard, .init = init_v4, .fini = fini, .timeout = 60);

Test(shard, udp_every_message_received_once_and_handed_to_its_owner)
{
	int fds[64], nfd = 0, by_shard[NSHARDS] = { -1, -1 };
	struct expect e;
	char cid[64], buf[65536];
	unsigned sent[NSHARDS] = { 0, 0 };
	bool seen[NSHARDS][40];
	struct shard_stats st;

	memset(&e, 0, sizeof(e));
	memset(seen, 0, sizeof(seen));
	/* SO_REUSEPORT picks a shard per source address: find a client
	 * socket that lands on each shard. */
	while ((by_shard[0] < 0 || by_shard[1] < 0) && nfd < 64) {
		uint64_t before[NSHARDS];
		int fd = udp_client(), r;

		for (unsigned i = 0; i < NSHARDS; i++) {
			shards_stats(sh, i, &st);
			before[i] = st.rx_msgs;
		}
		snprintf(cid, sizeof(cid), "probe-%d", nfd);
		udp_options(fd, cid, 1);
		r = which_rx(before);
		cr_assert(r >= 0, "probe %d never received", nfd);
		expect_msg(&e, r, cid);
		cr_assert(udp_recv(fd, buf, sizeof(buf)) > 0,
			  "no answer to probe %d", nfd);
		if (by_shard[r] < 0)
			by_shard[r] = nfd;
		fds[nfd++] = fd;
	}
	cr_assert(by_shard[0] >= 0 && by_shard[1] >= 0,
		  "no client socket landed on one of the shards");

	/* From each, messages whose Call-IDs belong to both shards. */
	for (int r = 0; r < NSHARDS; r++) {
		for (unsigned k = 0; k < 40; k++) {
			snprintf(cid, sizeof(cid), "c%d-%u@test", r, k);
			udp_options(fds[by_shard[r]], cid, k + 1);
			expect_msg(&e, r, cid);
			sent[shard_owner(slice_cstr(cid), NSHARDS)]++;
		}
	}
	cr_assert(sent[0] > 0 && sent[1] > 0);
	for (int w = 0; w < WAIT_MS / 2 && !stats_match(&e); w++)
		ms_sleep(2);
	for (unsigned i = 0; i < NSHARDS; i++) {
		shards_stats(sh, i, &st);
		cr_expect_eq(st.rx_msgs, e.rx[i], "shard %u rx %lu != %lu", i,
			     (unsigned long)st.rx_msgs, (unsigned long)e.rx[i]);
		cr_expect_eq(st.handoff_out, e.hout[i]);
		cr_expect_eq(st.handoff_in, e.hin[i]);
		/* Hand-offs in both directions. */
		cr_expect_gt(st.handoff_out, 0);
		cr_expect_gt(st.handoff_in, 0);
	}
	/* Every OPTIONS answered 200 exactly once, whoever owned it. */
	for (int r = 0; r < NSHARDS; r++) {
		for (unsigned k = 0; k < 40; k++) {
			ssize_t n =
			    udp_recv(fds[by_shard[r]], buf, sizeof(buf));
			int idx;

			cr_assert(n > 0, "answer %u missing", k);
			cr_assert_eq(status_of(buf, (size_t)n), 200);
			cr_assert(call_id_of(buf, (size_t)n, cid, sizeof(cid)));
			cr_assert_eq(sscanf(cid, "c%*d-%d@test", &idx), 1,
				     "unexpected Call-ID %s", cid);
			cr_assert(idx >= 0 && idx < 40);
			cr_assert_not(seen[r][idx], "%s answered twice", cid);
			seen[r][idx] = true;
		}
	}
	cr_expect(wait_total(TX, total(RX)));
	for (int i = 0; i < nfd; i++)
		close(fds[i]);
}

/* udp.steering bpf: the kernel program must load (the tests run as
 * root), or the start fails. */
static void init_steer(void)
{
	log_set_level(LOG_WARN);
	conf_make(AF_INET, NSHARDS);
	cf.udp.steering = STEER_BPF;
	start();
}

static bool steered_match(const unsigned *sent)
{
	struct shard_stats st;

	for (unsigned i = 0; i < NSHARDS; i++) {
		shards_stats(sh, i, &st);
		if (st.rx_msgs != sent[i] || st.steered != sent[i])
			return false;
	}
	return true;
}

Test(shard, udp_steered_from_one_socket_reach_the_owner_with_no_handoff,
     .init = init_steer)
{
	unsigned sent[NSHARDS] = { 0, 0 };
	int fd = udp_client();
	bool seen[60] = { false };
	char cid[64], buf[65536];
	struct shard_stats st;

	/* From ONE source socket, which the kernel's own hash would give
	 * to one shard: the program sends each to its Call-ID's owner. */
	for (unsigned k = 0; k < 60; k++) {
		snprintf(cid, sizeof(cid), "s%u@steer.test", k);
		udp_options(fd, cid, k + 1);
		sent[shard_owner(slice_cstr(cid), NSHARDS)]++;
	}
	cr_assert(sent[0] > 0 && sent[1] > 0);
	for (int w = 0; w < WAIT_MS / 2 && !steered_match(sent); w++)
		ms_sleep(2);
	for (unsigned i = 0; i < NSHARDS; i++) {
		shards_stats(sh, i, &st);
		cr_expect_eq(st.steering, 1);
		cr_expect_eq(st.rx_msgs, sent[i], "shard %u rx %lu != %u", i,
			     (unsigned long)st.rx_msgs, sent[i]);
		cr_expect_eq(st.steered, sent[i]);
		cr_expect_eq(st.handoff_out, 0, "shard %u handed %lu off", i,
			     (unsigned long)st.handoff_out);
		cr_expect_eq(st.handoff_in, 0);
	}
	for (unsigned k = 0; k < 60; k++) {
		ssize_t n = udp_recv(fd, buf, sizeof(buf));
		unsigned idx;

		cr_assert(n > 0, "answer %u missing", k);
		cr_assert_eq(status_of(buf, (size_t)n), 200);
		cr_assert(call_id_of(buf, (size_t)n, cid, sizeof(cid)));
		cr_assert_eq(sscanf(cid, "s%u@steer.test", &idx), 1);
		cr_assert(idx < 60 && !seen[idx], "%s: unexpected", cid);
		seen[idx] = true;
	}
	close(fd);
}

Test(shard, udp_steering_off_leaves_the_gauge_at_zero)
{
	struct shard_stats st;

	for (unsigned i = 0; i < NSHARDS; i++) {
		shards_stats(sh, i, &st);
		cr_expect_eq(st.steering, 0);
		cr_expect_eq(st.steered, 0);
	}
}

Test(shard, udp_message_without_call_id_is_handled_where_it_arrived)
{
	char buf[1024];
	int fd = udp_client();
	int n = snprintf(buf, sizeof(buf),
			 "OPTIONS sip:%s:%u SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP %s:%u;branch=z9hG4bK-nocid\r\n"
			 "Max-Forwards: 70\r\n"
			 "From: <sip:a@%s>;tag=1\r\nTo: <sip:%s>\r\n"
			 "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
			 uri_host, port, uri_host, local_port(fd), uri_host,
			 uri_host);

	udp_to_server(fd, buf, (size_t)n);
	cr_assert(wait_total(RX, 1));
	/* Answered (400) or dropped by the core, on the shard it reached. */
	for (int w = 0; w < WAIT_MS / 2 && total(TX) + total(DROP) == 0; w++)
		ms_sleep(2);
	cr_expect_eq(total(TX) + total(DROP), 1);
	cr_expect_eq(total(HOUT), 0);
	cr_expect_eq(total(HIN), 0);
	close(fd);
}

Test(shard, udp_crlf_keepalive_is_not_a_message)
{
	char buf[4096];
	int fd = udp_client();
	ssize_t n;

	udp_to_server(fd, "\r\n\r\n", 4);
	udp_options(fd, "after-keepalive", 1);
	n = udp_recv(fd, buf, sizeof(buf));
	cr_assert(n > 0);
	cr_expect_eq(status_of(buf, (size_t)n), 200);
	/* Same socket, same shard, in order: the keep-alive came first. */
	cr_expect_eq(total(RX), 1);
	close(fd);
}

/* Wait for the 200 to the OPTIONS with @callid, skipping anything else
 * (at most a few other datagrams). */
static void udp_expect_200(int fd, const char *callid)
{
	char buf[65536], cid[128];

	for (int i = 0; i < 8; i++) {
		ssize_t n = udp_recv(fd, buf, sizeof(buf));

		cr_assert(n > 0, "no answer for %s", callid);
		if (call_id_of(buf, (size_t)n, cid, sizeof(cid)) &&
		    strcmp(cid, callid) == 0) {
			cr_expect_eq(status_of(buf, (size_t)n), 200);
			return;
		}
	}
	cr_assert_fail("no answer for %s", callid);
}

Test(shard, udp_datagram_of_any_byte_values_does_not_hurt)
{
	char junk[1500];
	int fd = udp_client();

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 7 + 3);
	udp_to_server(fd, junk, sizeof(junk));
	udp_to_server(fd, "Call-ID: x\r\n", 12);
	udp_to_server(fd, "", 0);
	udp_options(fd, "after-junk", 1);
	udp_expect_200(fd, "after-junk");
	/* The empty datagram is not a message; the other three are. */
	cr_expect_eq(total(RX), 3);
	close(fd);
}

/* ---- TCP ---------------------------------------------------------- */

static int tcp_client(void)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = socket(family, SOCK_STREAM, 0), one = 1;

	cr_assert(fd >= 0);
	fill_addr(&ss, &len, family, port);
	cr_assert_eq(connect(fd, (struct sockaddr *)&ss, len), 0, "connect: %s",
		     strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void tcp_write(int fd, const void *buf, size_t len)
{
	cr_assert_eq(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Bytes received on a TCP client, not yet taken. */
struct rx {
	char buf[65536];
	size_t len;
	bool eof;
};

/* Read once (waiting at most WAIT_MS); false on timeout. */
static bool rx_more(int fd, struct rx *r)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	if (r->eof || poll(&p, 1, WAIT_MS) != 1)
		return false;
	n = recv(fd, r->buf + r->len, sizeof(r->buf) - r->len, 0);
	if (n <= 0)
		r->eof = true;
	else
		r->len += (size_t)n;
	return n > 0;
}

/* The next whole response (status, Call-ID), taken off @r. */
static bool rx_response(int fd, struct rx *r, int *statusp, char *cid,
			size_t cidcap)
{
	for (int tries = 0; tries < 1000; tries++) {
		const char *end = memmem(r->buf, r->len, "\r\n\r\n", 4);
		const char *cl;
		size_t hlen, blen = 0;

		if (end) {
			hlen = (size_t)(end - r->buf) + 4;
			cl = memmem(r->buf, hlen, "\r\nContent-Length:", 17);
			if (cl)
				blen = strtoul(cl + 17, NULL, 10);
			if (r->len >= hlen + blen) {
				*statusp = status_of(r->buf, hlen);
				if (!call_id_of(r->buf, hlen, cid, cidcap))
					cid[0] = '\0';
				memmove(r->buf, r->buf + hlen + blen,
					r->len - hlen - blen);
				r->len -= hlen + blen;
				return true;
			}
		}
		if (!rx_more(fd, r))
			return false;
	}
	return false;
}

/* Wait for the server to close: EOF or reset. */
static bool wait_eof(int fd, struct rx *r)
{
	for (int tries = 0; tries < 1000 && !r->eof; tries++) {
		if (!rx_more(fd, r) && !r->eof)
			return false;
	}
	return r->eof;
}

static void tcp_options(int fd, const char *callid, unsigned cseq)
{
	char buf[1024];
	size_t n =
	    options(buf, sizeof(buf), "TCP", local_port(fd), callid, cseq);

	tcp_write(fd, buf, n);
}

static void expect_200(int fd, struct rx *r, const char *callid)
{
	char cid[128];
	int status = 0;

	cr_assert(rx_response(fd, r, &status, cid, sizeof(cid)),
		  "no answer for %s", callid);
	cr_expect_eq(status, 200);
	cr_expect_str_eq(cid, callid);
}

/* 200s for every Call-ID of @cids, in any order: messages of different
 * Call-IDs may be handled by different shards. */
static void expect_200_all(int fd, struct rx *r, const char *const *cids,
			   unsigned n)
{
	bool seen[16] = { false };
	char got[128];
	int status = 0;
	unsigned k;

	cr_assert(n <= 16);
	for (unsigned i = 0; i < n; i++) {
		cr_assert(rx_response(fd, r, &status, got, sizeof(got)),
			  "answer %u of %u missing", i + 1, n);
		cr_expect_eq(status, 200);
		for (k = 0; k < n && strcmp(got, cids[k]); k++)
			;
		cr_assert(k < n, "unexpected Call-ID %s", got);
		cr_assert_not(seen[k], "%s answered twice", got);
		seen[k] = true;
	}
}

Test(shard, tcp_several_messages_in_one_write_all_answered)
{
	static struct rx r;
	char buf[8192], cids[6][64];
	const char *ptrs[6];
	unsigned owners[NSHARDS] = { 0, 0 }, n = 0;
	size_t len = 0;
	int fd = tcp_client();

	/* Call-IDs of both shards: whichever shard accepted, some are
	 * handed off and their answers come back through its inbox. */
	for (unsigned k = 0; n < 6 && k < 1000; k++) {
		unsigned o;

		snprintf(cids[n], sizeof(cids[n]), "multi-%u", k);
		o = shard_owner(slice_cstr(cids[n]), NSHARDS);
		if (owners[o] >= 3)
			continue;
		owners[o]++;
		ptrs[n] = cids[n];
		len += options(buf + len, sizeof(buf) - len, "TCP",
			       local_port(fd), cids[n], n + 1);
		n++;
	}
	cr_assert_eq(n, 6);
	tcp_write(fd, buf, len);
	expect_200_all(fd, &r, ptrs, 6);
	cr_expect_eq(total(RX), 6);
	cr_expect_eq(total(HOUT), 3);
	cr_expect_eq(total(HIN), 3);
	cr_expect_eq(total(TACC), 1);
	cr_expect(wait_total(TX, 6));
	close(fd);
	cr_expect(wait_total(TCLO, 1));
}

Test(shard, tcp_message_split_byte_by_byte)
{
	static struct rx r;
	char buf[1024];
	size_t n;
	int fd = tcp_client();

	/* A lone CRLF first: skipped between messages (RFC 3261 §7.5). */
	memcpy(buf, "\r\n", 2);
	n = 2 + options(buf + 2, sizeof(buf) - 2, "TCP", local_port(fd),
			"bytewise", 1);
	for (size_t i = 0; i < n; i++) {
		tcp_write(fd, buf + i, 1);
		/* Let each byte leave as its own segment, so that the
		 * server sees partial reads; nothing is timed. */
		ms_sleep(1);
	}
	expect_200(fd, &r, "bytewise");
	cr_expect_eq(total(RX), 1);
	close(fd);
}

Test(shard, tcp_crlfcrlf_ping_gets_crlf_pong)
{
	static struct rx r;

	int fd = tcp_client();

	tcp_write(fd, "\r\n\r\n", 4);
	while (r.len < 2)
		cr_assert(rx_more(fd, &r), "no pong");
	cr_assert_eq(r.len, 2);
	cr_assert_eq(memcmp(r.buf, "\r\n", 2), 0);
	r.len = 0;
	/* The connection still carries messages, and the pong was all. */
	tcp_options(fd, "after-ping", 1);
	expect_200(fd, &r, "after-ping");
	cr_expect_eq(total(RX), 1);
	close(fd);
}

Test(shard, tcp_oversize_header_block_answered_413_and_closed)
{
	static struct rx r;
	static char buf[16384];
	size_t n;
	int fd = tcp_client(), status;
	char cid[64];

	n = options(buf, sizeof(buf), "TCP", local_port(fd), "too-big", 1);
	n -= 2; /* no blank line yet */
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-Pad: ");
	memset(buf + n, 'a', 6000);
	n += 6000;
	memcpy(buf + n, "\r\n\r\n", 4);
	n += 4;
	tcp_write(fd, buf, n);
	cr_assert(rx_response(fd, &r, &status, cid, sizeof(cid)));
	cr_expect_eq(status, 413);
	cr_expect_str_eq(cid, "too-big");
	cr_expect(wait_eof(fd, &r), "connection not closed");
	cr_expect_eq(total(RX), 0);
	cr_expect_eq(total(PERR), 1);
	close(fd);
	cr_expect(wait_total(TCLO, 1));
}

Test(shard, tcp_oversize_body_answered_413_and_closed)
{
	static struct rx r;
	char buf[2048], cid[64];
	size_t n;
	int fd = tcp_client(), status;
	char *cl;

	n = options(buf, sizeof(buf), "TCP", local_port(fd), "big-body", 1);
	cl = strstr(buf, "Content-Length: 0");
	cr_assert_not_null(cl);
	memcpy(cl, "Content-Length: 99999\r\n\r\n", 25);
	n = (size_t)(cl - buf) + 25;
	tcp_write(fd, buf, n);
	cr_assert(rx_response(fd, &r, &status, cid, sizeof(cid)));
	cr_expect_eq(status, 413);
	cr_expect(wait_eof(fd, &r));
	close(fd);
}

Test(shard, tcp_missing_content_length_answered_400_and_closed)
{
	static struct rx r;
	char buf[2048], cid[64];
	size_t n;
	int fd = tcp_client(), status;
	char *cl;

	n = options(buf, sizeof(buf), "TCP", local_port(fd), "no-cl", 1);
	cl = strstr(buf, "Content-Length: 0\r\n");
	cr_assert_not_null(cl);
	memmove(cl, cl + 19, n - (size_t)(cl + 19 - buf));
	n -= 19;
	tcp_write(fd, buf, n);
	cr_assert(rx_response(fd, &r, &status, cid, sizeof(cid)));
	cr_expect_eq(status, 400);
	cr_expect_str_eq(cid, "no-cl");
	cr_expect(wait_eof(fd, &r));
	cr_expect_eq(total(PERR), 1);
	close(fd);
}

Test(shard, tcp_garbage_closes_without_answer)
{
	static struct rx r;
	int fd = tcp_client();

	tcp_write(fd, "\rX not SIP at all\r\n\r\n", 21);
	cr_expect(wait_eof(fd, &r));
	cr_expect_eq(r.len, 0);
	cr_expect_eq(total(RX), 0);
	close(fd);
	cr_expect(wait_total(TCLO, 1));
}

Test(shard, tcp_peer_that_does_not_read_is_closed)
{
	struct sockaddr_storage ss;
	socklen_t len;
	static char buf[256 * 1024];
	size_t n = 0, one;
	int fd = socket(family, SOCK_STREAM, 0), small = 4096;

	/* A small window, and nothing is ever read: the answers pile up
	 * in the server's socket buffer, then in its write queue. */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	fill_addr(&ss, &len, family, port);
	cr_assert_eq(connect(fd, (struct sockaddr *)&ss, len), 0);
	one = options(buf, sizeof(buf), "TCP", local_port(fd), "flood", 1);
	while (n + one <= sizeof(buf)) {
		memcpy(buf + n, buf, one);
		n += one;
	}
	/* Up to 256 MB of requests; the server closes long before. */
	for (int i = 0; i < 1024 && total(TCLO) == 0; i++) {
		if (send(fd, buf, n, MSG_NOSIGNAL) < 0)
			break;
	}
	cr_expect(wait_total(TCLO, 1), "the peer was not closed");
	cr_expect_eq(total(TACC), 1);
	close(fd);
}

Test(shard, tcp_and_udp_share_the_port_and_connections_stay_apart)
{
	static struct rx r1, r2;
	char buf[4096];
	int a = tcp_client(), b = tcp_client(), u = udp_client();
	ssize_t n;

	tcp_options(a, "conn-a", 1);
	tcp_options(b, "conn-b", 1);
	udp_options(u, "dgram", 1);
	expect_200(a, &r1, "conn-a");
	expect_200(b, &r2, "conn-b");
	n = udp_recv(u, buf, sizeof(buf));
	cr_assert(n > 0);
	cr_expect_eq(status_of(buf, (size_t)n), 200);
	cr_expect_eq(total(TACC), 2);
	close(a);
	close(b);
	close(u);
	cr_expect(wait_total(TCLO, 2));
}

/* ---- limits ------------------------------------------------------- */

TestSuite(shard_limits, .init = init_maxconn, .fini = fini, .timeout = 60);

Test(shard_limits, tcp_connection_over_the_limit_is_closed)
{
	static struct rx r1, r2, r3;
	int a = tcp_client(), b = tcp_client(), c;

	/* Both answered: both accepted and counted. */
	tcp_options(a, "lim-a", 1);
	expect_200(a, &r1, "lim-a");
	tcp_options(b, "lim-b", 1);
	expect_200(b, &r2, "lim-b");
	c = tcp_client();
	cr_expect(wait_eof(c, &r3), "third connection not closed");
	cr_expect_eq(r3.len, 0);
	cr_expect(wait_total(TCLO, 1));
	cr_expect_eq(total(TACC), 3);
	/* The first two still work. */
	tcp_options(a, "lim-a2", 2);
	expect_200(a, &r1, "lim-a2");
	close(c);
	/* One closed: room for a new one. */
	close(b);
	cr_expect(wait_total(TCLO, 2));
	c = tcp_client();
	tcp_options(c, "lim-c", 1);
	memset(&r3, 0, sizeof(r3));
	expect_200(c, &r3, "lim-c");
	close(a);
	close(c);
}

TestSuite(shard_idle, .init = init_idle, .fini = fini, .timeout = 60);

Test(shard_idle, tcp_idle_connection_is_closed)
{
	static struct rx r;
	int fd = tcp_client();

	tcp_options(fd, "idle", 1);
	expect_200(fd, &r, "idle");
	/* Nothing more is sent: the server closes after idle_timeout_s. */
	cr_expect(wait_eof(fd, &r), "idle connection not closed");
	cr_expect(wait_total(TCLO, 1));
	close(fd);
}

/* ---- IPv6 --------------------------------------------------------- */

TestSuite(shard_ipv6, .init = init_v6, .fini = fini, .timeout = 60);

Test(shard_ipv6, udp_options_on_v6_loopback_answered)
{
	char buf[4096], cid[64];
	int fd = udp_client();
	ssize_t n;

	udp_options(fd, "v6-udp", 1);
	n = udp_recv(fd, buf, sizeof(buf));
	cr_assert(n > 0);
	cr_expect_eq(status_of(buf, (size_t)n), 200);
	cr_assert(call_id_of(buf, (size_t)n, cid, sizeof(cid)));
	cr_expect_str_eq(cid, "v6-udp");
	close(fd);
}

Test(shard_ipv6, tcp_options_on_v6_loopback_answered)
{
	static struct rx r;
	int fd = tcp_client();

	static const char *const cids[] = { "v6-tcp-1", "v6-tcp-2", "v6-tcp-3",
					    "v6-tcp-4" };

	for (unsigned i = 0; i < 4; i++)
		tcp_options(fd, cids[i], i + 1);
	expect_200_all(fd, &r, cids, 4);
	cr_expect_eq(total(TACC), 1);
	close(fd);
}

/* ---- start and stop ----------------------------------------------- */

TestSuite(shard_start, .init = init_plain, .fini = fini, .timeout = 60);

Test(shard_start, address_in_use_fails_before_any_thread)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	conf_make(AF_INET, NSHARDS);
	/* A plain socket (no SO_REUSEPORT) holds the UDP port. */
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	fill_addr(&ss, &len, AF_INET, port);
	cr_assert_eq(bind(fd, (struct sockaddr *)&ss, len), 0);
	cr_expect_eq(shards_start(&cf, &pipeline_role, &sh), -EADDRINUSE);
	cr_expect_null(sh);
	close(fd);
	/* Free again: it starts. */
	cr_expect_eq(shards_start(&cf, &pipeline_role, &sh), 0);
}

Test(shard_start, tcp_address_in_use_fails_and_udp_is_released)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	conf_make(AF_INET, NSHARDS);
	/* UDP binds first and succeeds; TCP then fails: all undone. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	fill_addr(&ss, &len, AF_INET, port);
	cr_assert_eq(bind(fd, (struct sockaddr *)&ss, len), 0);
	cr_assert_eq(listen(fd, 1), 0);
	cr_expect_eq(shards_start(&cf, &pipeline_role, &sh), -EADDRINUSE);
	cr_expect_null(sh);
	/* The UDP port was given back: a plain socket can take it. */
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	cr_expect_eq(bind(fd, (struct sockaddr *)&ss, len), 0);
	close(fd);
}

Test(shard_start, each_listen_entry_answers_on_its_own_address)
{
	static struct conf_listen two[2];
	static struct rx r;
	uint16_t p6;
	int u, t;

	conf_make(AF_INET, NSHARDS);
	p6 = free_port(AF_INET6);
	two[0] = ls;
	two[0].tcp = false; /* 127.0.0.1: UDP only */
	two[1].address = "::1";
	two[1].port = p6;
	two[1].udp = false; /* [::1]: TCP only */
	two[1].tcp = true;
	fill_addr(&two[1].addr, &two[1].addrlen, AF_INET6, p6);
	cf.listen = two;
	cf.nlisten = 2;
	start();
	u = udp_client();
	udp_options(u, "two-udp", 1);
	udp_expect_200(u, "two-udp");
	close(u);
	/* No TCP on the IPv4 entry. */
	t = socket(AF_INET, SOCK_STREAM, 0);
	cr_expect_neq(connect(t, (struct sockaddr *)&ls.addr, ls.addrlen), 0);
	close(t);
	family = AF_INET6;
	port = p6;
	snprintf(uri_host, sizeof(uri_host), "[::1]");
	t = tcp_client();
	tcp_options(t, "two-tcp", 1);
	expect_200(t, &r, "two-tcp");
	close(t);
}

Test(shard_start, zero_workers_rejected_and_stop_null_safe)
{
	conf_make(AF_INET, 0);
	cr_expect_eq(shards_start(&cf, &pipeline_role, &sh), -EINVAL);
	cr_expect_null(sh);
	shards_stop(NULL);
	cr_expect_eq(shards_count(NULL), 0);
}

Test(shard_start, one_shard_handles_everything_itself)
{
	static struct rx r;
	int fd;

	conf_make(AF_INET, 1);
	start();
	fd = tcp_client();
	/* One shard: answers come in the order sent. */
	tcp_options(fd, "solo-1", 1);
	tcp_options(fd, "solo-2", 2);
	expect_200(fd, &r, "solo-1");
	expect_200(fd, &r, "solo-2");
	cr_expect_eq(total(RX), 2);
	cr_expect_eq(total(HOUT), 0);
	close(fd);
}

Test(shard_start, owner_is_stable_and_spread)
{
	unsigned count[4] = { 0 };
	char cid[32];

	for (unsigned i = 0; i < 400; i++) {
		unsigned o;

		snprintf(cid, sizeof(cid), "%u@host", i);
		o = shard_owner(slice_cstr(cid), 4);
		cr_assert_lt(o, 4);
		cr_assert_eq(o, shard_owner(slice_cstr(cid), 4));
		count[o]++;
	}
	/* Each of the 4 gets some: the hash is not constant. */
	for (unsigned i = 0; i < 4; i++)
		cr_expect_gt(count[i], 0);
	cr_expect_eq(shard_owner(SLICE_LIT("abc"), 1), 0);
}
