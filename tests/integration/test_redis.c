/* tests/integration/test_redis.c - many sipedge nodes sharing one Redis:
 * propagation, a Redis outage, a node crash, a Sentinel fail-over */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proxy/sip/hdr.h"
#include "proxy/sip/msg.h"
#include "tests/common/mgmtcli.h"
#include "tests/common/proc.h"
#include "tests/common/sipcli.h"
#include "tests/common/sipp.h"
#include "tests/common/ms.h"

#define SCEN_REG  "tests/integration/sipp/reg_noauth_uac.xml"
#define MAX_NODES 3
#define SAMPLE	  50 /* calls per check */

static char dir[PROC_PATH_MAX / 2];
static struct proc_sipedge node[MAX_NODES];
static pid_t redis_pid[3]; /* master, replica, sentinel */
static struct sipcli_msg *rx;
static char *screen;

static void setup(void)
{
	memset(node, 0, sizeof(node));
	memset(redis_pid, 0, sizeof(redis_pid));
	cr_assert_eq(proc_tmpdir(dir, sizeof(dir)), 0);
	rx = calloc(1, sizeof(*rx));
	cr_assert_not_null(rx);
	screen = NULL;
}

static void teardown(void)
{
	for (int i = 0; i < MAX_NODES; i++)
		proc_sipedge_cleanup(&node[i]);
	for (int i = 0; i < 3; i++)
		if (redis_pid[i] > 0)
			proc_kill(redis_pid[i]);
	proc_rmtree(dir);
	free(rx);
	free(screen);
}

TestSuite(redis, .init = setup, .fini = teardown, .timeout = 120);

/* A tiny RESP client, for the test's own look at Redis and Sentinel. */

/* One reply at @p p: its text appended to @p out (arrays: elements
 * joined by ' '); the end, or NULL while incomplete. Bounded depth. */
static const char *resp_one(const char *p, const char *end, char *out,
			    size_t *o, size_t cap, int depth)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	long n;

	if (!nl || depth > 4)
		return NULL;
	n = strtol(p + 1, NULL, 10);
	switch (*p) {
	case '+':
	case '-':
	case ':':
		*o += (size_t)snprintf(out + *o, cap - *o, "%.*s",
				       (int)(nl - p - 2), p + 1);
		return nl + 1;
	case '$':
		if (n < 0)
			return nl + 1;
		if (end - (nl + 1) < n + 2)
			return NULL;
		*o += (size_t)snprintf(out + *o, cap - *o, "%.*s", (int)n,
				       nl + 1);
		return nl + 1 + n + 2;
	case '*':
		p = nl + 1;
		for (long i = 0; i < n && p; i++) {
			if (i && *o < cap - 1)
				*o += (size_t)snprintf(out + *o, cap - *o, " ");
			p = resp_one(p, end, out, o, cap, depth + 1);
		}
		return p;
	default:
		return NULL;
	}
}

/* Run one command on 127.0.0.1:@p port; its reply as text in @p out.
 * Returns 0, or -errno (nobody listening, no answer in 2 s). */
static int resp(uint16_t port, char *out, size_t cap, const char *const *argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port) };
	struct timeval tv = { 2, 0 };
	char buf[65536];
	size_t len = 0, o = 0;
	int fd, argc = 0, err = -ETIMEDOUT;

	out[0] = '\0';
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		err = -errno;
		goto out;
	}
	while (argv[argc])
		argc++;
	len = (size_t)snprintf(buf, sizeof(buf), "*%d\r\n", argc);
	for (int i = 0; i < argc; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len,
					"$%zu\r\n%s\r\n", strlen(argv[i]),
					argv[i]);
	if (write(fd, buf, len) != (ssize_t)len) {
		err = -EIO;
		goto out;
	}
	len = 0;
	/* Bounded: each read adds bytes, or fails / times out. */
	while (len < sizeof(buf) - 1) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);

		if (n <= 0)
			break;
		len += (size_t)n;
		o = 0;
		if (resp_one(buf, buf + len, out, &o, cap, 0)) {
			err = 0;
			break;
		}
	}
out:
	close(fd);
	return err;
}

static int resp2(uint16_t port, char *out, size_t cap, const char *a,
		 const char *b, const char *c)
{
	const char *argv[] = { a, b, c, NULL };

	return resp(port, out, cap, argv);
}

/* Start redis-server on a free port (@p extra: more arguments). */
static uint16_t server_start(int slot, const char *const *extra)
{
	char port[16], log[PROC_PATH_MAX], out[64];
	const char *argv[32] = { "redis-server",
				 "--port",
				 port,
				 "--bind",
				 "127.0.0.1",
				 "--save",
				 "",
				 "--appendonly",
				 "no",
				 "--daemonize",
				 "no",
				 "--dir",
				 dir };
	uint16_t p;
	int n = 13, err;
	long t0;

	cr_assert_eq(proc_free_port("127.0.0.1", &p), 0);
	snprintf(port, sizeof(port), "%u", p);
	for (int i = 0; extra && extra[i] && n < 30; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	snprintf(log, sizeof(log), "%s/redis-%d-%u.log", dir, slot, p);
	err = proc_spawn((char *const *)argv, dir, log, log, &redis_pid[slot]);
	cr_assert_neq(err, -ENOENT, "redis-server is not installed");
	cr_assert_eq(err, 0, "redis-server: %s", strerror(-err));
	/* Until it answers PING (bounded). */
	for (t0 = ms_now(); ms_now() - t0 < 10000; ms_sleep(50))
		if (resp2(p, out, sizeof(out), "PING", NULL, NULL) == 0 &&
		    strcmp(out, "PONG") == 0)
			return p;
	cr_assert_fail("redis-server on %u did not answer PING", p);
	return 0;
}

/* The same again on port @p p (after a kill). */
static void server_on(int slot, uint16_t p)
{
	char port[16], log[PROC_PATH_MAX], out[64];
	const char *argv[] = { "redis-server",
			       "--port",
			       port,
			       "--bind",
			       "127.0.0.1",
			       "--save",
			       "",
			       "--appendonly",
			       "no",
			       "--daemonize",
			       "no",
			       "--dir",
			       dir,
			       NULL };
	long t0;

	snprintf(port, sizeof(port), "%u", p);
	snprintf(log, sizeof(log), "%s/redis-%d-%u-again.log", dir, slot, p);
	cr_assert_eq(
	    proc_spawn((char *const *)argv, dir, log, log, &redis_pid[slot]),
	    0);
	for (t0 = ms_now(); ms_now() - t0 < 10000; ms_sleep(50))
		if (resp2(p, out, sizeof(out), "PING", NULL, NULL) == 0)
			return;
	cr_assert_fail("redis-server did not come back on %u", p);
}

static void server_kill(int slot)
{
	cr_assert_eq(proc_kill(redis_pid[slot]), 0);
	redis_pid[slot] = 0;
}

/* A sipedge node on a free port, 2 shards, the store section @p store. */
static void node_start(int i, const char *store)
{
	int err = proc_sipedge_start(&node[i], "127.0.0.1", 2, store);

	cr_assert_eq(err, 0, "node %d did not start: %s", i, node[i].why);
}

static void node_start_redis(int i, uint16_t redis_port)
{
	char yaml[256];

	snprintf(yaml, sizeof(yaml),
		 "store:\n  backend: redis\n  redis:\n"
		 "    address: \"127.0.0.1:%u\"\n"
		 "    connect_timeout_ms: 300\n"
		 "    command_timeout_ms: 1000\n",
		 redis_port);
	node_start(i, yaml);
}

static void node_stop(int i)
{
	cr_assert_eq(proc_sipedge_stop(&node[i]), 0, "node %d: %s", i,
		     node[i].why);
}

/* SIPp registers u<from>..u<to-1>@localhost through @p port, its
 * contacts on 127.0.0.1:@p lport; runs in the background. */
static pid_t sipp_register(uint16_t port, unsigned from, unsigned to,
			   uint16_t lport, unsigned rate, const char *name)
{
	char scenario[PATH_MAX], target[64], lp[16], count[16], r[16];
	char csv[PROC_PATH_MAX], file[64];
	size_t cap = (size_t)(to - from) * 32 + 32, o = 0;
	char *text = malloc(cap);

	cr_assert_not_null(text);
	o += (size_t)snprintf(text, cap, "SEQUENTIAL\n");
	for (unsigned i = from; i < to; i++)
		o += (size_t)snprintf(text + o, cap - o, "u%u;localhost;\n", i);
	snprintf(file, sizeof(file), "%s.csv", name);
	cr_assert_eq(proc_write_file(dir, file, text, csv, sizeof(csv)), 0);
	free(text);
	cr_assert_not_null(realpath(SCEN_REG, scenario), "%s not found",
			   SCEN_REG);
	snprintf(target, sizeof(target), "127.0.0.1:%u", port);
	snprintf(lp, sizeof(lp), "%u", lport);
	snprintf(count, sizeof(count), "%u", to - from);
	snprintf(r, sizeof(r), "%u", rate);
	{
		char *argv[] = { "sipp",
				 target,
				 "-sf",
				 scenario,
				 "-inf",
				 csv,
				 "-m",
				 count,
				 "-r",
				 r,
				 "-rp",
				 "1000",
				 "-l",
				 "500",
				 "-t",
				 "u1",
				 "-i",
				 "127.0.0.1",
				 "-p",
				 lp,
				 "-timeout",
				 "60s",
				 "-timeout_error",
				 "-nostdin",
				 NULL };

		return sipp_spawn(argv, dir, name);
	}
}

/* A whole SIPp call through node @p port to u@p user, whose binding
 * points at 127.0.0.1:@p uas_port: INVITE, 200 with Record-Route, ACK
 * and BYE along the recorded route. Both SIPp end with 0. */
static void sipp_call(uint16_t port, unsigned user, uint16_t uas_port)
{
	char uas_scen[PATH_MAX], uac_scen[PATH_MAX], target[64], up[16];
	char service[16], out[PROC_PATH_MAX], st[32];
	pid_t uas;
	int status = 0;

	cr_assert_not_null(
	    realpath("tests/integration/sipp/uas_call.xml", uas_scen));
	cr_assert_not_null(
	    realpath("tests/integration/sipp/uac_call.xml", uac_scen));
	snprintf(target, sizeof(target), "127.0.0.1:%u", port);
	snprintf(up, sizeof(up), "%u", uas_port);
	snprintf(service, sizeof(service), "u%u", user);
	snprintf(out, sizeof(out), "%s/uas.out", dir);
	{
		char *argv[] = { "sipp",     "-sf",	  uas_scen,
				 "-i",	     "127.0.0.1", "-p",
				 up,	     "-m",	  "1",
				 "-t",	     "u1",	  "-nostdin",
				 "-timeout", "30s",	  "-timeout_error",
				 NULL };

		cr_assert_eq(proc_spawn(argv, dir, out, out, &uas), 0);
		cr_assert_eq(proc_wait_bound(uas_port, false, 10000), 0,
			     "the callee never bound port %u", uas_port);
	}
	snprintf(out, sizeof(out), "%s/uac.out", dir);
	{
		char *argv[] = { "sipp",
				 target,
				 "-sf",
				 uac_scen,
				 "-s",
				 service,
				 "-key",
				 "domain",
				 "localhost",
				 "-i",
				 "127.0.0.1",
				 "-m",
				 "1",
				 "-t",
				 "u1",
				 "-nostdin",
				 "-timeout",
				 "30s",
				 "-timeout_error",
				 "-recv_timeout",
				 "10000",
				 NULL };

		cr_assert_eq(proc_run(argv, dir, out, out, 40000, &status), 0);
	}
	free(screen);
	screen = NULL;
	proc_read_file(out, &screen);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "sipp uac ended with %s; screen: %.1500s",
		  proc_status_str(status, st, sizeof(st)),
		  screen ? screen : "");
	cr_assert_eq(proc_wait(uas, 30000, &status), 0);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "sipp uas ended with %s",
		  proc_status_str(status, st, sizeof(st)));
}

/* SIPp @p pid ends with 0: every REGISTER got its 200. */
static void reg_done(pid_t pid, const char *name)
{
	sipp_done(pid, 90000, dir, name, &screen);
}

static uint16_t free_port(void)
{
	uint16_t p;

	cr_assert_eq(proc_free_port("127.0.0.1", &p), 0);
	return p;
}

/* A UDP socket on 127.0.0.1:@p port (0: any); its port in *portp. */
static int udp_open(uint16_t port, uint16_t *portp)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port) };
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int size = 4 << 20;

	cr_assert_geq(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0,
		     "bind %u: %s", port, strerror(errno));
	getsockname(fd, (struct sockaddr *)&a, &alen);
	if (portp)
		*portp = ntohs(a.sin_port);
	return fd;
}

static void udp_send(int fd, uint16_t port, const char *buf, size_t len)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port) };

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	cr_assert_eq(sendto(fd, buf, len, 0, (struct sockaddr *)&a, sizeof(a)),
		     (ssize_t)len);
}

/* One datagram into rx (parsed); its sender's port in *fromp. */
static int udp_recv(int fd, int ms, uint16_t *fromp)
{
	struct pollfd p = { fd, POLLIN, 0 };
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	ssize_t n;

	if (poll(&p, 1, ms) <= 0)
		return -ETIMEDOUT;
	n = recvfrom(fd, rx->buf, sizeof(rx->buf) - 1, 0, (struct sockaddr *)&a,
		     &alen);
	if (n <= 0)
		return -EIO;
	rx->len = (size_t)n;
	rx->buf[n] = '\0';
	if (fromp)
		*fromp = ntohs(a.sin_port);
	memset(&rx->m, 0, sizeof(rx->m));
	rx->parse_err = sipmsg_parse(&rx->m, rx->buf, rx->len, rx->hdrs,
				     SIPCLI_MAX_HDRS, 0);
	return rx->parse_err < 0 ? -EBADMSG : 0;
}

/*
 * Ask node @p port for u@p user's bindings (REGISTER without Contact,
 * from loopback: trusted). Returns the number of bindings whose URI is
 * sip:uN@127.0.0.1:@p cport, or -1 when there is another one, or
 * -ETIMEDOUT.
 */
static int bindings(int fd, uint16_t port, unsigned user, uint16_t cport)
{
	static unsigned seq;
	char req[1024], want[64], cid[64];
	long t0 = ms_now(), last = t0;
	int n, found;

	snprintf(cid, sizeof(cid), "q%u.%u@test", (unsigned)getpid(), ++seq);
	n = snprintf(req, sizeof(req),
		     "REGISTER sip:localhost SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP 127.0.0.1;rport;branch=z9hG4bKq%u\r\n"
		     "Max-Forwards: 70\r\n"
		     "From: <sip:u%u@localhost>;tag=q%u\r\n"
		     "To: <sip:u%u@localhost>\r\n"
		     "Call-ID: %s\r\n"
		     "CSeq: 1 REGISTER\r\n"
		     "Content-Length: 0\r\n\r\n",
		     seq, user, seq, user, cid);
	snprintf(want, sizeof(want), "<sip:u%u@127.0.0.1:%u>", user, cport);
	udp_send(fd, port, req, (size_t)n);
	while (ms_now() - t0 < 3000) {
		if (udp_recv(fd, 100, NULL) < 0) {
			if (ms_now() - last >= 500) {
				udp_send(fd, port, req, (size_t)n);
				last = ms_now();
			}
			continue;
		}
		if (rx->m.is_request || rx->m.status != 200 ||
		    !sipcli_is_call_id(rx, cid))
			continue;
		found = 0;
		for (const struct siphdr *h = sipmsg_hdr(&rx->m, HDR_CONTACT);
		     h; h = sipmsg_hdr_next(&rx->m, h)) {
			if (h->value.len < strlen(want) ||
			    memcmp(h->value.p, want, strlen(want)) != 0)
				return -1;
			found++;
		}
		return found;
	}
	return -ETIMEDOUT;
}

/*
 * Poll node @p port until every user of [@p from, @p to) has exactly
 * its one binding on @p cport, for at most @p ms. Returns how many are
 * still missing (0: all there).
 */
static unsigned wait_bound(uint16_t port, unsigned from, unsigned to,
			   uint16_t cport, long ms)
{
	unsigned char *ok = calloc(to - from, 1);
	unsigned missing = to - from;
	long t0 = ms_now();
	int fd = udp_open(0, NULL);

	cr_assert_not_null(ok);
	/* Bounded by @p ms; each pass asks only the missing ones. */
	while (missing && ms_now() - t0 < ms) {
		for (unsigned u = from; u < to; u++) {
			if (ok[u - from])
				continue;
			if (bindings(fd, port, u, cport) == 1) {
				ok[u - from] = 1;
				missing--;
			} else {
				/* Not there yet: the rest likely neither. */
				break;
			}
		}
		if (missing)
			ms_sleep(50);
	}
	close(fd);
	free(ok);
	return missing;
}

/* Poll node @p port until u@p user has no binding (bounded). */
static bool wait_unbound(uint16_t port, unsigned user, uint16_t cport, long ms)
{
	int fd = udp_open(0, NULL), n = -1;
	long t0 = ms_now();

	while (ms_now() - t0 < ms) {
		n = bindings(fd, port, user, cport);
		if (n == 0)
			break;
		ms_sleep(50);
	}
	close(fd);
	return n == 0;
}

/*
 * A call through node @p port to u@p user@localhost: true when the
 * INVITE reached the UA socket @p uas (port @p uas_port) with that
 * user's contact as Request-URI, and its 486 came back to the caller.
 */
static bool call_reaches(uint16_t port, unsigned user, int uas,
			 uint16_t uas_port)
{
	static unsigned seq;
	char req[2048], resp486[4096], want[96], cid[64], to_tag[64];
	uint16_t caller_port, proxy_port = 0;
	int caller = udp_open(0, &caller_port), n;
	bool reached = false, answered = false;
	long t0;

	snprintf(cid, sizeof(cid), "c%u.%u@test", (unsigned)getpid(), ++seq);
	n = snprintf(req, sizeof(req),
		     "INVITE sip:u%u@localhost SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP 127.0.0.1:%u;rport;branch=z9hG4bKc%u\r\n"
		     "Max-Forwards: 70\r\n"
		     "From: <sip:caller@localhost>;tag=c%u\r\n"
		     "To: <sip:u%u@localhost>\r\n"
		     "Call-ID: %s\r\n"
		     "CSeq: 1 INVITE\r\n"
		     "Contact: <sip:caller@127.0.0.1:%u>\r\n"
		     "Content-Length: 0\r\n\r\n",
		     user, caller_port, seq, seq, user, cid, caller_port);
	udp_send(caller, port, req, (size_t)n);
	snprintf(want, sizeof(want), "sip:u%u@127.0.0.1:%u", user, uas_port);
	/* The UA: the INVITE of this call, then 486 back to the proxy. */
	for (t0 = ms_now(); !reached && ms_now() - t0 < 3000;) {
		if (udp_recv(uas, 100, &proxy_port) < 0 || !rx->m.is_request ||
		    rx->m.method != SIP_INVITE || !sipcli_is_call_id(rx, cid))
			continue;
		reached = slice_eq(rx->m.ruri, slice_cstr(want));
		if (!reached)
			break;
		size_t o = (size_t)snprintf(resp486, sizeof(resp486),
					    "SIP/2.0 486 Busy Here\r\n");
		for (const struct siphdr *h = sipmsg_hdr(&rx->m, HDR_VIA); h;
		     h = sipmsg_hdr_next(&rx->m, h))
			o += (size_t)snprintf(resp486 + o, sizeof(resp486) - o,
					      "Via: %.*s\r\n",
					      (int)h->value.len, h->value.p);
		sipcli_hdr_str(rx, HDR_FROM, req, sizeof(req));
		o += (size_t)snprintf(resp486 + o, sizeof(resp486) - o,
				      "From: %s\r\n", req);
		sipcli_hdr_str(rx, HDR_TO, req, sizeof(req));
		o += (size_t)snprintf(resp486 + o, sizeof(resp486) - o,
				      "To: %s;tag=uas%u\r\nCall-ID: %s\r\n"
				      "CSeq: 1 INVITE\r\n"
				      "Content-Length: 0\r\n\r\n",
				      req, seq, cid);
		udp_send(uas, proxy_port, resp486, o);
	}
	/* The caller: 486 (after any 100), then the ACK. */
	for (t0 = ms_now(); reached && ms_now() - t0 < 3000;) {
		if (udp_recv(caller, 100, NULL) < 0 || rx->m.is_request ||
		    !sipcli_is_call_id(rx, cid) || rx->m.status < 200)
			continue;
		answered = rx->m.status == 486;
		snprintf(to_tag, sizeof(to_tag), "%.*s", (int)rx->m.to_tag.len,
			 rx->m.to_tag.p);
		n = snprintf(req, sizeof(req),
			     "ACK sip:u%u@localhost SIP/2.0\r\n"
			     "Via: SIP/2.0/UDP 127.0.0.1:%u;rport;"
			     "branch=z9hG4bKc%u\r\n"
			     "Max-Forwards: 70\r\n"
			     "From: <sip:caller@localhost>;tag=c%u\r\n"
			     "To: <sip:u%u@localhost>;tag=%s\r\n"
			     "Call-ID: %s\r\n"
			     "CSeq: 1 ACK\r\n"
			     "Content-Length: 0\r\n\r\n",
			     user, caller_port, seq, seq, user, to_tag, cid);
		udp_send(caller, port, req, (size_t)n);
		break;
	}
	close(caller);
	return reached && answered;
}

/* Calls through @p port to SAMPLE users of [@p from, @p to), spread
 * over the range; the number that reached their UA on @p uas_port. */
static unsigned calls(uint16_t port, unsigned from, unsigned to,
		      uint16_t uas_port)
{
	int uas = udp_open(uas_port, NULL);
	unsigned ok = 0, span = to - from;

	for (unsigned i = 0; i < SAMPLE; i++)
		ok += call_reaches(port, from + (i * 7919u) % span, uas,
				   uas_port);
	close(uas);
	return ok;
}

/* One REGISTER from loopback (trusted) through @p port; the status. */
static int register_one(uint16_t port, unsigned user, const char *contact,
			const char *expires)
{
	static unsigned seq;
	char req[1024], cid[64];
	int fd = udp_open(0, NULL), n, st = -ETIMEDOUT;
	long t0 = ms_now();

	snprintf(cid, sizeof(cid), "r%u.%u@test", (unsigned)getpid(), ++seq);
	n = snprintf(req, sizeof(req),
		     "REGISTER sip:localhost SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP 127.0.0.1;rport;branch=z9hG4bKr%u\r\n"
		     "Max-Forwards: 70\r\n"
		     "From: <sip:u%u@localhost>;tag=r%u\r\n"
		     "To: <sip:u%u@localhost>\r\n"
		     "Call-ID: %s\r\n"
		     "CSeq: 1 REGISTER\r\n"
		     "Contact: <%s>;expires=%s\r\n"
		     "Content-Length: 0\r\n\r\n",
		     seq, user, seq, user, cid, contact, expires);
	udp_send(fd, port, req, (size_t)n);
	while (ms_now() - t0 < 3000) {
		if (udp_recv(fd, 200, NULL) < 0) {
			udp_send(fd, port, req, (size_t)n);
			continue;
		}
		if (!rx->m.is_request && rx->m.status >= 200 &&
		    sipcli_is_call_id(rx, cid)) {
			st = (int)rx->m.status;
			break;
		}
	}
	close(fd);
	return st;
}

/* The log of node @p i holds @p needle. */
static bool log_has(int i, const char *needle)
{
	char *text = NULL;
	bool has;

	if (proc_read_file(node[i].log, &text) != 0)
		return false;
	has = strstr(text, needle) != NULL;
	free(text);
	return has;
}

Test(redis, users_registered_on_a_are_reached_through_b)
{
	uint16_t rp = server_start(0, NULL), up = free_port();
	char contact[64], out[64];

	node_start_redis(0, rp);
	node_start_redis(1, rp);
	/* 5,000 users register through node A (node 0). */
	reg_done(sipp_register(node[0].port, 0, 5000, up, 2500, "reg"), "reg");
	/* Node B (node 1) learns every one of them from Redis. */
	cr_assert_eq(wait_bound(node[1].port, 0, 5000, up, 20000), 0,
		     "node B misses registrations");
	/* Calls through B reach them (486 from their UA comes back), and
	 * a whole call with SIPp on both ends. */
	cr_assert_eq(calls(node[1].port, 0, 5000, up), SAMPLE);
	sipp_call(node[1].port, 4321, up);
	/* An unregister through B is seen by A; the others stay. */
	snprintf(contact, sizeof(contact), "sip:u7@127.0.0.1:%u", up);
	cr_assert_eq(register_one(node[1].port, 7, contact, "0"), 200);
	cr_assert(wait_unbound(node[0].port, 7, up, 5000),
		  "node A still has u7");
	cr_assert_eq(wait_bound(node[0].port, 6, 7, up, 1000), 0);
	cr_assert_eq(wait_bound(node[0].port, 8, 9, up, 1000), 0);
	/* Redis holds each AOR as a hash and a sorted set of expiries. */
	cr_assert_eq(resp2(rp, out, sizeof(out), "DBSIZE", NULL, NULL), 0);
	cr_assert_geq(atoi(out), 2 * 5000 - 2);
	cr_assert_eq(resp2(rp, out, sizeof(out), "ZCARD",
			   "sipedge:exp:{u8@localhost}", NULL),
		     0);
	cr_assert_str_eq(out, "1");
	node_stop(0);
	node_stop(1);
}

/* Poll Redis on @p port until it holds at least @p keys keys (DBSIZE),
 * for at most @p ms (a watchdog). */
static bool redis_keys_reach(uint16_t port, long keys, long ms)
{
	char out[64];
	long t0;

	for (t0 = ms_now(); ms_now() - t0 < ms; ms_sleep(20))
		if (resp2(port, out, sizeof(out), "DBSIZE", NULL, NULL) == 0 &&
		    atol(out) >= keys)
			return true;
	return false;
}

Test(redis, redis_killed_during_a_register_load_loses_nothing)
{
	uint16_t rp = server_start(0, NULL), p1 = free_port(), p2 = free_port();
	int status = 0;
	pid_t load;

	node_start_redis(0, rp);
	node_start_redis(1, rp);
	reg_done(sipp_register(node[0].port, 0, 500, p1, 2000, "first"),
		 "first");
	cr_assert_eq(wait_bound(node[1].port, 0, 500, p1, 10000), 0);
	/* 4,500 more at 1,000/s; Redis dies in the middle of it. */
	load = sipp_register(node[0].port, 500, 5000, p2, 1000, "load");
	/* Kill Redis once the load has written 500 more AORs (two keys
	 * each), so that it dies in the middle of the load, whatever the
	 * machine's speed; the bound is a watchdog. */
	cr_assert(redis_keys_reach(rp, 2 * 1000, 20000),
		  "the load never reached Redis");
	server_kill(0);
	cr_assert_eq(proc_wait(load, 0, &status), -ETIMEDOUT,
		     "the load was over before Redis died: nothing tested");
	/* Calls keep routing from B's local table meanwhile. */
	cr_assert_eq(calls(node[1].port, 0, 500, p1), SAMPLE);
	server_on(0, rp);
	/* Every REGISTER was answered 200, outage or not... */
	reg_done(load, "load");
	/* ...and every one is routable from both nodes afterwards. */
	cr_assert_eq(wait_bound(node[1].port, 0, 500, p1, 20000), 0);
	cr_assert_eq(wait_bound(node[1].port, 500, 5000, p2, 20000), 0,
		     "node B misses registrations made during the outage");
	cr_assert_eq(wait_bound(node[0].port, 0, 500, p1, 5000), 0);
	cr_assert_eq(wait_bound(node[0].port, 500, 5000, p2, 5000), 0);
	cr_assert_eq(calls(node[1].port, 500, 5000, p2), SAMPLE);
	cr_assert(log_has(0, "degraded"), "no log line for the outage");
	/* Redis came back empty: the nodes wrote every AOR back into it
	 * (a hash and a sorted set of expiries each)... */
	cr_assert(redis_keys_reach(rp, 2 * 5000, 20000),
		  "Redis misses AORs after it came back empty");
	for (unsigned u = 0; u < 5000; u++) {
		char key[64], out[64];

		snprintf(key, sizeof(key), "sipedge:exp:{u%u@localhost}", u);
		cr_assert_eq(resp2(rp, out, sizeof(out), "ZCARD", key, NULL),
			     0);
		cr_assert_str_eq(out, "1", "%s not written back", key);
	}
	/* ...so that a node started now, which knows only Redis, has them
	 * all. */
	node_start_redis(2, rp);
	cr_assert_eq(wait_bound(node[2].port, 0, 500, p1, 20000), 0,
		     "a new node misses registrations after the outage");
	cr_assert_eq(wait_bound(node[2].port, 500, 5000, p2, 20000), 0,
		     "a new node misses registrations made during the outage");
	node_stop(2);
	node_stop(0);
	node_stop(1);
}

Test(redis, node_killed_and_restarted_has_every_registration)
{
	uint16_t rp = server_start(0, NULL), up = free_port();
	int status = 0;
	long t0, took;

	node_start_redis(0, rp);
	node_start_redis(1, rp);
	reg_done(sipp_register(node[0].port, 0, 3000, up, 2500, "reg"), "reg");
	cr_assert_eq(wait_bound(node[1].port, 0, 3000, up, 10000), 0);
	/* Node A made them; it dies without a word and comes back. */
	cr_assert_eq(kill(node[0].pid, SIGKILL), 0);
	cr_assert_eq(proc_wait(node[0].pid, 5000, &status), 0);
	cr_assert(WIFSIGNALED(status));
	node[0].pid = 0;
	proc_sipedge_cleanup(&node[0]);
	memset(&node[0], 0, sizeof(node[0]));
	t0 = ms_now();
	node_start_redis(0, rp);
	/* It says when it has loaded Redis's table (store/redis.c); from
	 * then on every registration is routable, at once. The bounds are
	 * watchdogs: issue #5 wants this within 5 s, which a loaded test
	 * machine cannot promise, so the time is reported, not judged. */
	cr_assert_eq(
	    proc_sipedge_wait_log(&node[0], "loaded 3000 in", 1, 30000), 0,
	    "%s", node[0].why);
	took = ms_now() - t0;
	cr_assert_eq(wait_bound(node[0].port, 0, 3000, up, 1000), 0,
		     "the restarted node misses registrations it loaded");
	cr_log_info("restarted node routable %ld ms after its start", took);
	if (took > 5000)
		cr_log_warn("restarted node took %ld ms (issue #5: 5 s)", took);
	cr_assert_eq(calls(node[0].port, 0, 3000, up), SAMPLE);
	node_stop(0);
	node_stop(1);
}

/* Whether node @p i's GET /health answers @p status with @p body,
 * polled every 100 ms for up to @p ms. */
static bool health_is(int i, unsigned status, const char *body, long ms)
{
	for (long t = 0;; t += 100) {
		unsigned st = 0;
		char *b = NULL;
		bool ok = mgmtcli_http(node[i].mgmt_port, "GET", "/health",
				       NULL, NULL, &st, &b) == 0 &&
			  st == status && b && strcmp(b, body) == 0;

		free(b);
		if (ok)
			return true;
		if (t >= ms)
			return false;
		usleep(100 * 1000);
	}
}

Test(redis, a_node_started_while_redis_is_down_catches_up)
{
	uint16_t rp = free_port(), up = free_port();
	char contact[64];

	/* Nothing listens on rp yet: the node starts all the same. */
	node_start_redis(0, rp);
	for (unsigned u = 0; u < 100; u++) {
		snprintf(contact, sizeof(contact), "sip:u%u@127.0.0.1:%u", u,
			 up);
		cr_assert_eq(register_one(node[0].port, u, contact, "600"),
			     200);
	}
	cr_assert(log_has(0, "degraded"));
	/* Degraded, not out: the node serves from its own table. */
	cr_assert(health_is(
	    0, 200, "{\"status\":\"degraded\",\"redis\":\"down\"}\n", 0));
	/* Redis on the port the node waits for. */
	server_on(0, rp);
	cr_assert(
	    health_is(0, 200, "{\"status\":\"ok\",\"redis\":\"up\"}\n", 15000),
	    "/health never said redis up");
	node_start_redis(1, rp);
	cr_assert_eq(wait_bound(node[1].port, 0, 100, up, 15000), 0,
		     "the registrations made while Redis was down are lost");
	node_stop(0);
	node_stop(1);
}

/* Sentinel's answer for "mm": "IP PORT". */
static void master_of(uint16_t sp, char *out, size_t cap)
{
	const char *argv[] = { "SENTINEL", "get-master-addr-by-name", "mm",
			       NULL };

	cr_assert_eq(resp(sp, out, cap, argv), 0);
}

Test(redis, registrations_survive_a_sentinel_fail_over)
{
	char conf[1024], path[PROC_PATH_MAX], log[PROC_PATH_MAX], out[4096];
	char yaml[512], want[32], port[16];
	uint16_t mp, rpp, sp = free_port(), up = free_port();
	const char *argv[] = { "redis-server", path, "--sentinel", NULL };
	const char *fo[] = { "SENTINEL", "FAILOVER", "mm", NULL };
	const char *reps[] = { "SENTINEL", "replicas", "mm", NULL };
	char replicaof[32];
	long t0;
	int err;

	mp = server_start(0, NULL);
	snprintf(replicaof, sizeof(replicaof), "%u", mp);
	rpp = server_start(1, (const char *const[]){ "--replicaof", "127.0.0.1",
						     replicaof, NULL });
	snprintf(conf, sizeof(conf),
		 "port %u\nbind 127.0.0.1\ndir %s\n"
		 "sentinel monitor mm 127.0.0.1 %u 1\n"
		 "sentinel down-after-milliseconds mm 2000\n"
		 "sentinel failover-timeout mm 10000\n",
		 sp, dir, mp);
	cr_assert_eq(
	    proc_write_file(dir, "sentinel.conf", conf, path, sizeof(path)), 0);
	snprintf(log, sizeof(log), "%s/sentinel.log", dir);
	err = proc_spawn((char *const *)argv, dir, log, log, &redis_pid[2]);
	cr_assert_eq(err, 0, "redis-server --sentinel: %s", strerror(-err));
	/* Until the Sentinel knows the replica (it asks the master). */
	snprintf(port, sizeof(port), "%u", rpp);
	for (t0 = ms_now(); ms_now() - t0 < 20000; ms_sleep(100))
		if (resp(sp, out, sizeof(out), reps) == 0 && strstr(out, port))
			break;
	cr_assert_not_null(strstr(out, port), "Sentinel: %s", out);
	snprintf(yaml, sizeof(yaml),
		 "store:\n  backend: redis\n  redis:\n"
		 "    connect_timeout_ms: 300\n"
		 "    command_timeout_ms: 1000\n"
		 "    sentinel:\n      master: mm\n"
		 "      addresses: [\"127.0.0.1:%u\"]\n",
		 sp);
	node_start(0, yaml);
	node_start(1, yaml);
	reg_done(sipp_register(node[0].port, 0, 1000, up, 2000, "before"),
		 "before");
	cr_assert_eq(wait_bound(node[1].port, 0, 1000, up, 10000), 0);
	/* The replica has caught up: its key count is the master's. */
	for (t0 = ms_now(); ms_now() - t0 < 10000; ms_sleep(100)) {
		char a[64], b[64];

		resp2(mp, a, sizeof(a), "DBSIZE", NULL, NULL);
		resp2(rpp, b, sizeof(b), "DBSIZE", NULL, NULL);
		if (atoi(a) >= 2000 && strcmp(a, b) == 0)
			break;
	}
	/* Fail over (retried while the Sentinel is not ready for it). */
	for (t0 = ms_now(); ms_now() - t0 < 20000; ms_sleep(200))
		if (resp(sp, out, sizeof(out), fo) == 0 &&
		    strcmp(out, "OK") == 0)
			break;
	cr_assert_str_eq(out, "OK", "SENTINEL FAILOVER: %s", out);
	snprintf(want, sizeof(want), "127.0.0.1 %u", rpp);
	for (t0 = ms_now(); ms_now() - t0 < 20000; ms_sleep(100)) {
		master_of(sp, out, sizeof(out));
		if (strcmp(out, want) == 0)
			break;
	}
	cr_assert_str_eq(out, want, "the master did not move");
	/* New registrations through A land on the new master... */
	reg_done(sipp_register(node[0].port, 1000, 1200, up, 500, "after"),
		 "after");
	cr_assert_eq(wait_bound(node[1].port, 0, 1200, up, 15000), 0);
	/* ...and a node that starts now finds every one of them there. */
	node_start(2, yaml);
	cr_assert_eq(wait_bound(node[2].port, 0, 1200, up, 15000), 0,
		     "registrations lost in the fail-over");
	cr_assert_eq(resp2(rpp, out, sizeof(out), "DBSIZE", NULL, NULL), 0);
	cr_assert_geq(atoi(out), 2400);
	node_stop(0);
	node_stop(1);
	node_stop(2);
}
