/* tests/integration/test_redis_cluster.c - sipedge nodes on a Redis
 * Cluster (3 masters, 3 replicas): users reached through any node, keys
 * spread over the masters, a master killed under load, a slot moved */
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
#include "tests/common/ms.h"
#include "tests/common/proc.h"
#include "tests/common/sipcli.h"
#include "tests/common/sipp.h"

#define SCEN_REG  "tests/integration/sipp/reg_noauth_uac.xml"
#define MAX_NODES 3
#define NREDIS	  6  /* 3 masters, 3 replicas */
#define SAMPLE	  50 /* calls per check */

static char dir[PROC_PATH_MAX / 2];
static struct proc_sipedge node[MAX_NODES];
static pid_t redis_pid[NREDIS];
static uint16_t redis_port[NREDIS];
static struct sipcli_msg *rx;
static char *screen;

static void setup(void)
{
	memset(node, 0, sizeof(node));
	memset(redis_pid, 0, sizeof(redis_pid));
	memset(redis_port, 0, sizeof(redis_port));
	cr_assert_eq(proc_tmpdir(dir, sizeof(dir)), 0);
	rx = calloc(1, sizeof(*rx));
	cr_assert_not_null(rx);
	screen = NULL;
}

static void teardown(void)
{
	for (int i = 0; i < MAX_NODES; i++)
		proc_sipedge_cleanup(&node[i]);
	for (int i = 0; i < NREDIS; i++)
		if (redis_pid[i] > 0)
			proc_kill(redis_pid[i]);
	proc_rmtree(dir);
	free(rx);
	free(screen);
}

TestSuite(redis_cluster, .init = setup, .fini = teardown, .timeout = 180);

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

/* Start redis-server @p i in cluster mode on a free port (and a free
 * cluster bus port: port + 10000 may be taken or past 65535). */
static void cluster_server_start(int i)
{
	char port[16], bus[16], conf[64], log[PROC_PATH_MAX], out[64];
	uint16_t p, b;
	int err;
	long t0;

	cr_assert_eq(proc_free_port("127.0.0.1", &p), 0);
	do
		cr_assert_eq(proc_free_port("127.0.0.1", &b), 0);
	while (b == p);
	snprintf(port, sizeof(port), "%u", p);
	snprintf(bus, sizeof(bus), "%u", b);
	snprintf(conf, sizeof(conf), "nodes-%u.conf", p);
	snprintf(log, sizeof(log), "%s/redis-%d-%u.log", dir, i, p);
	{
		char *argv[] = { "redis-server", "--port", port, "--bind",
				 "127.0.0.1", "--cluster-enabled", "yes",
				 "--cluster-port", bus, "--cluster-config-file",
				 conf,
				 /* Fail over within about a second. */
				 "--cluster-node-timeout", "1000", "--save", "",
				 "--appendonly", "no", "--daemonize", "no",
				 "--dir", dir, NULL };

		err = proc_spawn(argv, dir, log, log, &redis_pid[i]);
	}
	cr_assert_neq(err, -ENOENT, "redis-server is not installed");
	cr_assert_eq(err, 0, "redis-server: %s", strerror(-err));
	redis_port[i] = p;
	/* Until it answers PING (bounded). */
	for (t0 = ms_now(); ms_now() - t0 < 10000; ms_sleep(50))
		if (resp2(p, out, sizeof(out), "PING", NULL, NULL) == 0 &&
		    strcmp(out, "PONG") == 0)
			return;
	cr_assert_fail("redis-server on %u did not answer PING", p);
}

/* Node @p i's CLUSTER INFO says cluster_state:ok. */
static bool cluster_ok(int i)
{
	char out[4096];

	return resp2(redis_port[i], out, sizeof(out), "CLUSTER", "INFO",
		     NULL) == 0 &&
	       strstr(out, "cluster_state:ok") != NULL;
}

/* Until every live server of the cluster says cluster_state:ok, for at
 * most @p ms. */
static bool cluster_wait_ok(long ms)
{
	long t0;

	for (t0 = ms_now(); ms_now() - t0 < ms; ms_sleep(100)) {
		bool all = true;

		for (int i = 0; i < NREDIS && all; i++)
			if (redis_pid[i] > 0)
				all = cluster_ok(i);
		if (all)
			return true;
	}
	return false;
}

/* The first word of ROLE on server @p i: "master", "slave" or "". */
static void role_of(int i, char *out, size_t cap)
{
	const char *argv[] = { "ROLE", NULL };
	char buf[1024];

	out[0] = '\0';
	if (resp(redis_port[i], buf, sizeof(buf), argv) == 0)
		snprintf(out, cap, "%.*s", (int)strcspn(buf, " "), buf);
}

/* Six servers; redis-cli makes the first three masters with a replica
 * each (--cluster-replicas 1); until the cluster is ok (bounded). */
static void cluster_start(void)
{
	char addr[NREDIS][32], out[PROC_PATH_MAX], st[32], role[32];
	char *argv[8 + NREDIS];
	int n = 0, status = 0;

	for (int i = 0; i < NREDIS; i++)
		cluster_server_start(i);
	argv[n++] = "redis-cli";
	argv[n++] = "--cluster";
	argv[n++] = "create";
	for (int i = 0; i < NREDIS; i++) {
		snprintf(addr[i], sizeof(addr[i]), "127.0.0.1:%u",
			 redis_port[i]);
		argv[n++] = addr[i];
	}
	argv[n++] = "--cluster-replicas";
	argv[n++] = "1";
	argv[n++] = "--cluster-yes";
	argv[n] = NULL;
	snprintf(out, sizeof(out), "%s/cluster-create.out", dir);
	cr_assert_eq(proc_run(argv, dir, out, out, 60000, &status), 0);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "redis-cli --cluster create: %s",
		  proc_status_str(status, st, sizeof(st)));
	cr_assert(cluster_wait_ok(30000), "the cluster never became ok");
	for (int i = 0; i < NREDIS; i++) {
		role_of(i, role, sizeof(role));
		cr_assert_str_eq(role, i < 3 ? "master" : "slave",
				 "server %d is %s", i, role);
	}
	/* Until each replica has synced with its master (ROLE: "slave IP
	 * PORT connected OFFSET"), bounded. */
	for (int i = 3; i < NREDIS; i++) {
		const char *rargv[] = { "ROLE", NULL };
		char buf[1024] = "";
		long t0;

		for (t0 = ms_now(); ms_now() - t0 < 20000; ms_sleep(50))
			if (resp(redis_port[i], buf, sizeof(buf), rargv) == 0 &&
			    strstr(buf, " connected "))
				break;
		cr_assert_not_null(strstr(buf, " connected "),
				   "replica %d never synced: %s", i, buf);
	}
}

/* A sipedge node on a free port, 2 shards, on the cluster (one seed:
 * server @p seed). */
static void node_start_cluster(int i, int seed)
{
	char yaml[256];
	int err;

	snprintf(yaml, sizeof(yaml),
		 "store:\n  backend: redis\n  redis:\n"
		 "    cluster: [\"127.0.0.1:%u\"]\n"
		 "    connect_timeout_ms: 300\n"
		 "    command_timeout_ms: 1000\n",
		 redis_port[seed]);
	err = proc_sipedge_start(&node[i], "127.0.0.1", 2, yaml);
	cr_assert_eq(err, 0, "node %d did not start: %s", i, node[i].why);
}

static void node_stop(int i)
{
	cr_assert_eq(proc_sipedge_stop(&node[i]), 0, "node %d: %s", i,
		     node[i].why);
}

static long dbsize(int i)
{
	char out[64];

	if (resp2(redis_port[i], out, sizeof(out), "DBSIZE", NULL, NULL))
		return -1;
	return atol(out);
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

Test(redis_cluster, users_registered_on_a_are_reached_through_b)
{
	uint16_t up = free_port();
	long total = 0;

	cluster_start();
	node_start_cluster(0, 0);
	node_start_cluster(1, 4); /* a replica as seed: it knows the map */
	reg_done(sipp_register(node[0].port, 0, 1000, up, 1000, "reg"), "reg");
	/* Node B learns every one of them: it listens on one node, and
	 * PUBLISH in a cluster reaches every node. */
	cr_assert_eq(wait_bound(node[1].port, 0, 1000, up, 20000), 0,
		     "node B misses registrations");
	cr_assert_eq(calls(node[1].port, 0, 1000, up), SAMPLE);
	sipp_call(node[1].port, 432, up);
	/* The keys are spread over the three masters, two per AOR. */
	for (int i = 0; i < 3; i++) {
		long n = dbsize(i);

		cr_log_info("master %d holds %ld keys", i, n);
		cr_assert_gt(n, 0, "master %d holds no key", i);
		total += n;
	}
	cr_assert_eq(total, 2 * 1000);
	/* A node started now loads them from every master. */
	node_start_cluster(2, 2);
	cr_assert_eq(wait_bound(node[2].port, 0, 1000, up, 1000), 0,
		     "a new node misses registrations");
	node_stop(0);
	node_stop(1);
	node_stop(2);
}

/* Server @p i's replica among 3..5 (the one ROLE says follows it). */
static int replica_of(int i)
{
	const char *argv[] = { "ROLE", NULL };
	char out[1024], want[16];

	snprintf(want, sizeof(want), " %u ", redis_port[i]);
	for (int k = 3; k < NREDIS; k++)
		if (resp(redis_port[k], out, sizeof(out), argv) == 0 &&
		    strncmp(out, "slave ", 6) == 0 && strstr(out, want))
			return k;
	return -1;
}

Test(redis_cluster, a_master_killed_under_load_loses_nothing)
{
	uint16_t p1 = free_port(), p2 = free_port(), p3 = free_port();
	int status = 0, rep;
	char role[32];
	pid_t load;
	long t0;
	long long t_kill;

	cluster_start();
	rep = replica_of(0);
	cr_assert_geq(rep, 3, "master 0 has no replica");
	/* Seeded with the master that dies: the nodes must find the map
	 * through the other nodes they learnt of. */
	node_start_cluster(0, 0);
	node_start_cluster(1, 0);
	reg_done(sipp_register(node[0].port, 0, 500, p1, 1000, "first"),
		 "first");
	cr_assert_eq(wait_bound(node[1].port, 0, 500, p1, 10000), 0);
	/* 2,500 more at 500/s; master 0 dies in the middle of it. */
	load = sipp_register(node[0].port, 500, 3000, p2, 500, "load");
	for (t0 = ms_now(); ms_now() - t0 < 20000; ms_sleep(20))
		if (dbsize(0) + dbsize(1) + dbsize(2) >= 2 * 1000)
			break;
	cr_assert_geq(dbsize(0) + dbsize(1) + dbsize(2), 2 * 1000,
		      "the load never reached the cluster");
	t_kill = ms_now();
	cr_assert_eq(kill(redis_pid[0], SIGKILL), 0);
	cr_assert_eq(proc_wait(redis_pid[0], 5000, &status), 0);
	redis_pid[0] = 0;
	cr_assert_eq(proc_wait(load, 0, &status), -ETIMEDOUT,
		     "the load was over before the master died: nothing "
		     "tested");
	/* Its replica takes over (bounded: node timeout 1 s). */
	for (t0 = ms_now(); ms_now() - t0 < 30000; ms_sleep(100)) {
		role_of(rep, role, sizeof(role));
		if (strcmp(role, "master") == 0)
			break;
	}
	cr_assert_str_eq(role, "master", "the replica was not promoted");
	cr_log_info("replica promoted %lld ms after the kill",
		    ms_now() - t_kill);
	cr_assert(cluster_wait_ok(30000), "the cluster stayed down");
	/* Every REGISTER was answered 200... */
	reg_done(load, "load");
	/* Node A lost the cluster, found the new master, wrote its table
	 * back to it and reloaded (store/redis.c). */
	cr_assert_eq(proc_sipedge_wait_log(&node[0], "back after", 1, 20000), 0,
		     "node A never resynchronised: %s", node[0].why);
	{
		char *text = NULL, *line;

		if (proc_read_file(node[0].log, &text) == 0 &&
		    (line = strstr(text, "back after")))
			cr_log_info("node A: ...%.*s", (int)strcspn(line, "\n"),
				    line);
		free(text);
	}
	/* ...and is routable from both nodes... */
	cr_assert_eq(wait_bound(node[1].port, 0, 500, p1, 20000), 0);
	cr_assert_eq(wait_bound(node[1].port, 500, 3000, p2, 20000), 0,
		     "node B misses registrations made around the fail-over");
	/* ...and is in the cluster: a node started now, which knows only
	 * Redis, has them all (0 acknowledged registrations lost). */
	node_start_cluster(2, 1);
	cr_assert_eq(wait_bound(node[2].port, 0, 500, p1, 20000), 0,
		     "registrations lost in the fail-over");
	cr_assert_eq(wait_bound(node[2].port, 500, 3000, p2, 20000), 0,
		     "registrations made during the fail-over lost");
	cr_assert_gt(dbsize(rep), 0, "the promoted replica holds nothing");
	/* New registrations go to the new master and reach the others. */
	reg_done(sipp_register(node[0].port, 3000, 3300, p3, 500, "after"),
		 "after");
	cr_assert_eq(wait_bound(node[2].port, 3000, 3300, p3, 15000), 0,
		     "registrations after the fail-over do not propagate");
	cr_assert_eq(calls(node[2].port, 500, 3000, p2), SAMPLE);
	node_stop(0);
	node_stop(1);
	node_stop(2);
}

/* The index (0..2) of the master whose EXISTS @p key says 1 (the
 * others answer MOVED). */
static int owner_of(const char *key)
{
	char out[256];

	for (int i = 0; i < 3; i++)
		if (resp2(redis_port[i], out, sizeof(out), "EXISTS", key,
			  NULL) == 0 &&
		    strcmp(out, "1") == 0)
			return i;
	return -1;
}

/* Server @p i's HVALS of @p key hold a contact on port @p port, within
 * 5 s. */
static bool hvals_have(int i, const char *key, uint16_t port)
{
	char out[4096], want[80];
	long t0;

	snprintf(want, sizeof(want), "127.0.0.1:%u", port);
	for (t0 = ms_now(); ms_now() - t0 < 5000; ms_sleep(50))
		if (resp2(redis_port[i], out, sizeof(out), "HVALS", key,
			  NULL) == 0 &&
		    strstr(out, want))
			return true;
	return false;
}

Test(redis_cluster, a_slot_being_moved_is_followed_ask_then_moved)
{
	const char *loc = "sipedge:loc:{u1@localhost}";
	const char *exp = "sipedge:exp:{u1@localhost}";
	uint16_t up = free_port(), up2 = free_port(), up_ask = free_port();
	char contact[64], ids[3][64], out[1024], tport[16];
	int src, dst;

	cluster_start();
	node_start_cluster(0, 0);
	snprintf(contact, sizeof(contact), "sip:u1@127.0.0.1:%u", up);
	cr_assert_eq(register_one(node[0].port, 1, contact, "600"), 200);
	/* Until the write is in the cluster (bounded). */
	for (long t0 = ms_now(); ms_now() - t0 < 10000 && owner_of(loc) < 0;)
		ms_sleep(50);
	src = owner_of(loc);
	cr_assert_geq(src, 0, "u1 never reached the cluster");
	dst = (src + 1) % 3;
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(resp2(redis_port[i], ids[i], sizeof(ids[i]),
				   "CLUSTER", "MYID", NULL),
			     0);
	}
	/* Move slot 11727 ({u1@localhost}) from src to dst, by hand. */
	{
		const char *imp[] = { "CLUSTER",   "SETSLOT", "11727",
				      "IMPORTING", ids[src],  NULL };
		const char *mig[] = { "CLUSTER",   "SETSLOT", "11727",
				      "MIGRATING", ids[dst],  NULL };
		const char *mv[] = { "MIGRATE", "127.0.0.1", tport, "",	 "0",
				     "5000",	"KEYS",	     loc,   exp, NULL };
		const char *node_set[] = { "CLUSTER", "SETSLOT", "11727",
					   "NODE",    ids[dst],	 NULL };

		snprintf(tport, sizeof(tport), "%u", redis_port[dst]);
		cr_assert_eq(resp(redis_port[dst], out, sizeof(out), imp), 0);
		cr_assert_str_eq(out, "OK");
		cr_assert_eq(resp(redis_port[src], out, sizeof(out), mig), 0);
		cr_assert_str_eq(out, "OK");
		cr_assert_eq(resp(redis_port[src], out, sizeof(out), mv), 0);
		cr_assert_str_eq(out, "OK", "MIGRATE: %s", out);
		/* Half-way: src answers ASK for the keys it gave away. A
		 * write now goes to dst with ASKING; the map stays. */
		snprintf(contact, sizeof(contact), "sip:u1@127.0.0.1:%u",
			 up_ask);
		cr_assert_eq(register_one(node[0].port, 1, contact, "600"),
			     200);
		cr_assert_eq(
		    proc_sipedge_wait_log(&node[0], "ASK 11727", 1, 10000), 0,
		    "no ASK followed: %s", node[0].why);
		for (int i = 0; i < 3; i++) {
			cr_assert_eq(
			    resp(redis_port[i], out, sizeof(out), node_set), 0);
			cr_assert_str_eq(out, "OK");
		}
	}
	cr_assert_eq(owner_of(loc), dst);
	/* The node's map still says src: its write gets MOVED, follows it
	 * to dst, and the node reads the map again. */
	snprintf(contact, sizeof(contact), "sip:u1@127.0.0.1:%u", up2);
	cr_assert_eq(register_one(node[0].port, 1, contact, "600"), 200);
	cr_assert_eq(proc_sipedge_wait_log(&node[0], "MOVED 11727", 1, 10000),
		     0, "no MOVED followed: %s", node[0].why);
	cr_assert_eq(proc_sipedge_wait_log(&node[0], "map refreshed", 1, 10000),
		     0, "%s", node[0].why);
	/* The new binding is on dst. */
	cr_assert(hvals_have(dst, loc, up2), "the MOVED write is not on dst");
	/* So is the one sent with ASKING while the slot was half-way (dst
	 * serves only ASKING clients until then). */
	cr_assert(hvals_have(dst, loc, up_ask), "the ASK write is not on dst");
	node_stop(0);
}
