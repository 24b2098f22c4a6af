/* tests/integration/test_ws.c - SIP over WebSocket (RFC 7118): the
 * upgrade, frames, broken handshakes and frames, a WS UA and a UDP UA
 * calling each other through the flow, and two browsers over WSS */
#include <criterion/criterion.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "tests/common/baresip.h"
#include "tests/common/mgmtcli.h"
#include "tests/common/ms.h"
#include "tests/common/proc.h"
#include "tests/common/rtpe.h"
#include "tests/common/sipcli.h"
#include "tests/common/sipp.h"

/*
 * The raw client below speaks RFC 6455 itself (masking, lengths), so
 * that it can also break the rules on purpose: an unmasked frame, one
 * over the limit, an upgrade without the sip subprotocol, half an
 * upgrade. sipedge listens on UDP/TCP (port), WS (ws_port, Origin
 * allow-list http://good.test) and, for the browsers, WSS.
 */

#define WAIT_MS 10000
#define ORIGIN	"http://good.test"

static struct proc_sipedge sp;
static uint16_t ws_port;
static char topdir[PROC_PATH_MAX];

/* A raw WebSocket client: one TCP connection and what it read. */
struct wsc {
	int fd;
	char buf[256 * 1024];
	size_t len;
};

static struct wsc *wc, *wc2;

static struct rtpe_proc rtpe; /* the media test's */
static pid_t node_pid;	      /* browsers.js in the background */
static uint16_t tls_port;     /* a TLS listener start_wss_with() adds */

static void setup(void)
{
	memset(&sp, 0, sizeof(sp));
	memset(&rtpe, 0, sizeof(rtpe));
	tls_port = 0;
	topdir[0] = '\0';
	wc = calloc(1, sizeof(*wc));
	wc2 = calloc(1, sizeof(*wc2));
	cr_assert(wc && wc2);
	wc->fd = wc2->fd = -1;
}

static void teardown(void)
{
	if (node_pid > 0)
		proc_kill(node_pid);
	node_pid = 0;
	rtpe_stop(&rtpe);
	if (wc->fd >= 0)
		close(wc->fd);
	if (wc2->fd >= 0)
		close(wc2->fd);
	free(wc);
	free(wc2);
	proc_sipedge_cleanup(&sp);
	if (topdir[0] && !getenv("SIPEDGE_KEEP_TMP"))
		proc_rmtree(topdir);
}

TestSuite(ws, .init = setup, .fini = teardown, .timeout = 90);

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Wait until @p p answers an OPTIONS over UDP on its port. */
static void wait_up(struct proc_sipedge *p)
{
	int st = -1;

	for (int i = 0; i < 100 && st != 200; i++) {
		st = sipcli_ping("127.0.0.1", p->port, 100);
		if (st != 200) {
			int status;

			cr_assert_neq(proc_wait(p->pid, 0, &status), 0,
				      "sipedge exited early");
		}
	}
	cr_assert_eq(st, 200, "sipedge did not come up");
}

/* Start sipedge: UDP+TCP, a ws listener, @p listen_extra, @p extra. */
static void start(const char *listen_extra, const char *extra)
{
	char text[4096], path[PROC_PATH_MAX];
	char *args[] = { "-c", path, NULL };
	int n;

	if (!topdir[0])
		cr_assert_eq(proc_tmpdir(topdir, sizeof(topdir)), 0);
	cr_assert_eq(proc_free_port("127.0.0.1", &sp.port), 0);
	cr_assert_eq(proc_free_port("127.0.0.1", &sp.mgmt_port), 0);
	/* Three different ports (bounded). */
	for (int i = 0; i < 20; i++) {
		cr_assert_eq(proc_free_port("127.0.0.1", &ws_port), 0);
		if (ws_port != sp.port && ws_port != sp.mgmt_port)
			break;
	}
	cr_assert(sp.mgmt_port != sp.port && ws_port != sp.port &&
		  ws_port != sp.mgmt_port);
	snprintf(sp.dir, sizeof(sp.dir), "%.200s/se", topdir);
	cr_assert_eq(mkdir(sp.dir, 0700), 0, "%s", strerror(errno));
	n = snprintf(text, sizeof(text),
		     "workers: 2\n"
		     "log_level: info\n"
		     "listen:\n"
		     "  - address: 127.0.0.1\n"
		     "    port: %u\n"
		     "  - address: 127.0.0.1\n"
		     "    port: %u\n"
		     "    transports: [ws]\n"
		     "    origins: [\"" ORIGIN "\"]\n"
		     "%s"
		     "domains: [localhost, 127.0.0.1]\n"
		     "management:\n  listen: [\"127.0.0.1:%u\"]\n"
		     "%s",
		     sp.port, ws_port, listen_extra ? listen_extra : "",
		     sp.mgmt_port, extra ? extra : "");
	cr_assert(n > 0 && (size_t)n < sizeof(text));
	cr_assert_eq(
	    proc_write_file(sp.dir, "sipedge.yaml", text, path, sizeof(path)),
	    0);
	cr_assert_eq(proc_sipedge_spawn(&sp, args), 0, "%s", sp.why);
	wait_up(&sp);
	/* The management API comes up after the shards: bounded wait. */
	for (int i = 0; i < 200; i++) {
		json_t *res = NULL;
		char why[128];

		if (mgmtcli_rpc(sp.mgmt_port, NULL, "stats.get", NULL, &res,
				why, sizeof(why)) == 0) {
			json_decref(res);
			return;
		}
		usleep(50 * 1000); /* polling its port, bounded at 10 s */
	}
	cr_assert_fail("the management API did not come up");
}

static json_int_t stat_get(const char *key)
{
	char why[256];
	json_t *res = NULL;
	json_int_t v;
	int err = mgmtcli_rpc(sp.mgmt_port, NULL, "stats.get", NULL, &res, why,
			      sizeof(why));

	cr_assert_eq(err, 0, "stats.get: %s", why);
	cr_assert(json_is_integer(json_object_get(res, key)), "no %s", key);
	v = json_integer_value(json_object_get(res, key));
	json_decref(res);
	return v;
}

/* Counter @p key reaches @p want within WAIT_MS (the shard counts it
 * after it closed the connection). */
static void stat_reaches(const char *key, json_int_t want)
{
	json_int_t v = -1;

	for (long t0 = now_ms(); now_ms() - t0 < WAIT_MS;) {
		v = stat_get(key);
		if (v >= want)
			return;
		usleep(50 * 1000); /* polling the counter, bounded above */
	}
	cr_assert_geq(v, want, "%s: %lld, want %lld", key, (long long)v,
		      (long long)want);
}

static void wsc_connect(struct wsc *w, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };

	w->fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(w->fd, 0);
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(w->fd, (struct sockaddr *)&a, sizeof(a)), 0, "%s",
		     strerror(errno));
	w->len = 0;
}

static void wsc_write(struct wsc *w, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t k = send(w->fd, c, n, MSG_NOSIGNAL);

		cr_assert_gt(k, 0, "send: %s", strerror(errno));
		c += k;
		n -= (size_t)k;
	}
}

/* Read more into w->buf within @p ms: bytes read, 0 closed, -ETIMEDOUT. */
static int wsc_read(struct wsc *w, int ms)
{
	struct pollfd pf = { .fd = w->fd, .events = POLLIN };
	ssize_t k;

	if (poll(&pf, 1, ms) <= 0)
		return -ETIMEDOUT;
	k = recv(w->fd, w->buf + w->len, sizeof(w->buf) - w->len, 0);
	if (k <= 0)
		return 0;
	w->len += (size_t)k;
	return (int)k;
}

/* An upgrade request, with the subprotocol @p proto and @p origin (NULL:
 * none). */
static int upgrade_req(char *buf, size_t size, const char *proto,
		       const char *origin, const char *version)
{
	return snprintf(
	    buf, size,
	    "GET / HTTP/1.1\r\n"
	    "Host: 127.0.0.1:%u\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: keep-alive, Upgrade\r\n"
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	    "Sec-WebSocket-Version: %s\r\n"
	    "%s%s%s"
	    "%s%s%s"
	    "\r\n",
	    ws_port, version, proto ? "Sec-WebSocket-Protocol: " : "",
	    proto ? proto : "", proto ? "\r\n" : "", origin ? "Origin: " : "",
	    origin ? origin : "", origin ? "\r\n" : "");
}

/* Send @p req, read the answer's head into @p resp: its status, or -1
 * when closed without one. The head is taken off the buffer. */
static int wsc_upgrade(struct wsc *w, const char *req, char *resp, size_t cap)
{
	long t0 = now_ms();
	char *end;
	size_t hl;
	int st = -1;

	wsc_write(w, req, strlen(req));
	for (;;) {
		w->buf[w->len] = '\0';
		end = strstr(w->buf, "\r\n\r\n");
		if (end)
			break;
		cr_assert_lt(now_ms() - t0, WAIT_MS,
			     "no answer to the upgrade");
		if (wsc_read(w, 500) == 0)
			return -1;
	}
	hl = (size_t)(end - w->buf) + 4;
	snprintf(resp, cap, "%.*s", (int)hl, w->buf);
	sscanf(w->buf, "HTTP/1.1 %d", &st);
	memmove(w->buf, w->buf + hl, w->len - hl);
	w->len -= hl;
	return st;
}

/* One frame: FIN, @p opcode, masked when @p mask (clients must). */
static void wsc_send(struct wsc *w, int opcode, const void *p, size_t n,
		     bool mask)
{
	unsigned char h[14], key[4] = { 0x12, 0x34, 0x56, 0x78 };
	size_t hl = 2;
	char *body = malloc(n ? n : 1);

	cr_assert_not_null(body);
	h[0] = (unsigned char)(0x80 | opcode);
	if (n < 126) {
		h[1] = (unsigned char)n;
	} else if (n < 65536) {
		h[1] = 126;
		h[2] = (unsigned char)(n >> 8);
		h[3] = (unsigned char)n;
		hl = 4;
	} else {
		h[1] = 127;
		for (int i = 0; i < 8; i++)
			h[2 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
		hl = 10;
	}
	if (mask) {
		h[1] |= 0x80;
		memcpy(h + hl, key, 4);
		hl += 4;
	}
	for (size_t i = 0; i < n; i++)
		body[i] = (char)(((const unsigned char *)p)[i] ^
				 (mask ? key[i % 4] : 0));
	wsc_write(w, h, hl);
	wsc_write(w, body, n);
	free(body);
}

/*
 * The next frame from the server (never masked) within @p ms: its
 * payload length with the payload in @p out (NUL-terminated) and
 * *@p opp its opcode; 0 with opcode -1 when closed; -ETIMEDOUT.
 */
static int wsc_recv(struct wsc *w, int *opp, char *out, size_t cap, int ms)
{
	long t0 = now_ms();

	*opp = -1;
	for (;;) {
		const unsigned char *b = (const unsigned char *)w->buf;
		size_t hl = 2, n;

		if (w->len >= 2) {
			n = b[1] & 0x7f;
			if (n == 126) {
				hl = 4;
				n = w->len >= 4 ? (size_t)b[2] << 8 | b[3] : 0;
			} else if (n == 127) {
				hl = 10;
				n = 0;
				for (int i = 0; i < 8 && w->len >= 10; i++)
					n = n << 8 | b[2 + i];
			}
			if (w->len >= hl && w->len >= hl + n) {
				cr_assert_eq(b[1] & 0x80, 0,
					     "server frames are not masked");
				cr_assert_lt(n, cap);
				*opp = b[0] & 0x0f;
				memcpy(out, w->buf + hl, n);
				out[n] = '\0';
				memmove(w->buf, w->buf + hl + n,
					w->len - hl - n);
				w->len -= hl + n;
				return (int)n;
			}
		}
		if (now_ms() - t0 > ms)
			return -ETIMEDOUT;
		if (wsc_read(w, 200) == 0)
			return 0;
	}
}

/* Wait for the server to close (FIN or reset) within @p ms. */
static bool wsc_closed(struct wsc *w, int ms)
{
	for (long t0 = now_ms(); now_ms() - t0 < ms;) {
		int k;

		w->len = 0;
		k = wsc_read(w, 200);
		if (k == 0)
			return true;
	}
	return false;
}

/* Open a WS connection to ws_port with the sip subprotocol. */
static void wsc_open(struct wsc *w)
{
	char req[1024], resp[1024];

	wsc_connect(w, ws_port);
	upgrade_req(req, sizeof(req), "sip", ORIGIN, "13");
	cr_assert_eq(wsc_upgrade(w, req, resp, sizeof(resp)), 101, "%s", resp);
}

Test(ws, upgrade_is_101_with_the_accept_key_and_options_over_it_gets_200)
{
	char req[1024], resp[1024], *f = malloc(65536);
	int op, n;

	cr_assert_not_null(f);
	start(NULL, NULL);
	wsc_connect(wc, ws_port);
	upgrade_req(req, sizeof(req), "sip", ORIGIN, "13");
	cr_assert_eq(wsc_upgrade(wc, req, resp, sizeof(resp)), 101, "%s", resp);
	/* RFC 6455 §1.3's example key and its accept value. */
	cr_assert(strstr(resp, "Sec-WebSocket-Accept: "
			       "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
		  "%s", resp);
	cr_assert(strstr(resp, "Sec-WebSocket-Protocol: sip\r\n"), "%s", resp);
	snprintf(req, sizeof(req),
		 "OPTIONS sip:127.0.0.1:%u SIP/2.0\r\n"
		 "Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKws1\r\n"
		 "Max-Forwards: 70\r\n"
		 "From: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\n"
		 "Call-ID: ws-options-1\r\nCSeq: 1 OPTIONS\r\n\r\n",
		 ws_port);
	/* RFC 7118 §5.1: no Content-Length needed, the frame frames. */
	wsc_send(wc, 1, req, strlen(req), true);
	n = wsc_recv(wc, &op, f, 65536, WAIT_MS);
	cr_assert_gt(n, 0, "no answer: %d", n);
	cr_assert_eq(op, 1, "a text frame");
	cr_assert(strncmp(f, "SIP/2.0 200 ", 12) == 0, "%s", f);
	cr_assert(strstr(f, "Via: SIP/2.0/WS df7jal23ls0d.invalid"), "%s", f);
	/* Ping: the pong echoes its payload. */
	wsc_send(wc, 9, "hb-1", 4, true);
	n = wsc_recv(wc, &op, f, 65536, WAIT_MS);
	cr_assert_eq(n, 4);
	cr_assert_eq(op, 10);
	cr_assert_str_eq(f, "hb-1");
	cr_assert_eq(stat_get("shard.ws_upgrades"), 1);
	/* A clean close is answered with a close, not counted as bad. */
	wsc_send(wc, 8, "\x03\xe8", 2, true);
	n = wsc_recv(wc, &op, f, 65536, WAIT_MS);
	cr_assert_eq(op, 8, "close answered: %d", n);
	cr_assert(wsc_closed(wc, WAIT_MS));
	cr_assert_eq(stat_get("shard.ws_bad_frames"), 0);
	free(f);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

Test(ws, upgrade_without_the_sip_subprotocol_is_400_closed_and_counted)
{
	char req[1024], resp[1024];

	start(NULL, NULL);
	wsc_connect(wc, ws_port);
	upgrade_req(req, sizeof(req), "chat, superchat", ORIGIN, "13");
	cr_assert_eq(wsc_upgrade(wc, req, resp, sizeof(resp)), 400, "%s", resp);
	cr_assert(wsc_closed(wc, WAIT_MS));
	/* Another version: 426 naming 13 (RFC 6455 §4.4). */
	close(wc->fd);
	wsc_connect(wc, ws_port);
	upgrade_req(req, sizeof(req), "sip", ORIGIN, "8");
	cr_assert_eq(wsc_upgrade(wc, req, resp, sizeof(resp)), 426, "%s", resp);
	cr_assert(strstr(resp, "Sec-WebSocket-Version: 13\r\n"), "%s", resp);
	cr_assert(wsc_closed(wc, WAIT_MS));
	stat_reaches("shard.ws_refused", 2);
	cr_assert_eq(stat_get("shard.ws_upgrades"), 0);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

Test(ws, origin_not_in_the_allow_list_is_403)
{
	char req[1024], resp[1024];

	start(NULL, NULL);
	wsc_connect(wc, ws_port);
	upgrade_req(req, sizeof(req), "sip", "http://evil.test", "13");
	cr_assert_eq(wsc_upgrade(wc, req, resp, sizeof(resp)), 403, "%s", resp);
	cr_assert(wsc_closed(wc, WAIT_MS));
	/* No Origin at all, with a list: refused as well. */
	close(wc->fd);
	wsc_connect(wc, ws_port);
	upgrade_req(req, sizeof(req), "sip", NULL, "13");
	cr_assert_eq(wsc_upgrade(wc, req, resp, sizeof(resp)), 403, "%s", resp);
	stat_reaches("shard.ws_refused", 2);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

Test(ws, half_an_upgrade_is_closed_after_the_timeout_others_served)
{
	static const char half[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
				   "Upgrade: websocket\r\n";
	char f[4096];
	long t0, closed_ms = -1;
	int op;

	start(NULL, "tcp:\n  idle_timeout_s: 2\n");
	wsc_connect(wc, ws_port);
	wsc_write(wc, half, sizeof(half) - 1);
	t0 = now_ms();
	/* Meanwhile another client upgrades and is served. */
	wsc_open(wc2);
	wsc_send(wc2, 9, "x", 1, true);
	cr_assert_eq(wsc_recv(wc2, &op, f, sizeof(f), WAIT_MS), 1);
	cr_assert_eq(op, 10);
	if (wsc_closed(wc, WAIT_MS))
		closed_ms = now_ms() - t0;
	cr_assert_geq(closed_ms, 1500, "closed after %ld ms", closed_ms);
	stat_reaches("shard.ws_refused", 1);
	cr_assert_eq(proc_sipedge_wait_log(&sp, "upgrade not complete in time",
					   1, WAIT_MS),
		     0, "%s", sp.why);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

Test(ws, unmasked_client_frame_is_closed_with_1002_and_counted)
{
	static const char opt[] = "OPTIONS sip:127.0.0.1 SIP/2.0\r\n\r\n";
	char f[4096];
	json_int_t before;
	int op, n;

	start(NULL, NULL);
	before = stat_get("shard.requests.OPTIONS");
	wsc_open(wc);
	wsc_send(wc, 1, opt, sizeof(opt) - 1, false);
	n = wsc_recv(wc, &op, f, sizeof(f), WAIT_MS);
	cr_assert_eq(op, 8, "a close frame: %d", n);
	cr_assert_geq(n, 2);
	cr_assert_eq(((unsigned char)f[0] << 8) | (unsigned char)f[1], 1002);
	cr_assert(wsc_closed(wc, WAIT_MS));
	stat_reaches("shard.ws_bad_frames", 1);
	cr_assert_eq(stat_get("shard.requests.OPTIONS"), before,
		     "nothing of the bad frame was taken as SIP");
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

Test(ws, frame_over_the_limit_is_closed_with_1009_and_counted)
{
	/* The limit is tcp.max_header_bytes + tcp.max_body_bytes. */
	size_t big = 4096 + 4096 + 1000;
	char *p = malloc(big), f[4096];
	int op, n;

	cr_assert_not_null(p);
	memset(p, 'a', big);
	start(NULL, "tcp:\n  max_header_bytes: 4096\n"
		    "  max_body_bytes: 4096\n");
	wsc_open(wc);
	wsc_send(wc, 1, p, big, true);
	n = wsc_recv(wc, &op, f, sizeof(f), WAIT_MS);
	cr_assert_eq(op, 8, "a close frame: %d", n);
	cr_assert_geq(n, 2);
	cr_assert_eq(((unsigned char)f[0] << 8) | (unsigned char)f[1], 1009);
	cr_assert(wsc_closed(wc, WAIT_MS));
	stat_reaches("shard.ws_bad_frames", 1);
	free(p);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* The value of header @p name (first, "" when absent) of message @p m. */
static void hdr_of(const char *m, const char *name, char *out, size_t cap)
{
	char pat[64];
	const char *p, *e;

	snprintf(pat, sizeof(pat), "\r\n%s: ", name);
	p = strstr(m, pat);
	out[0] = '\0';
	if (!p)
		return;
	p += strlen(pat);
	e = strstr(p, "\r\n");
	snprintf(out, cap, "%.*s", (int)(e ? e - p : (long)strlen(p)), p);
}

/* Every Record-Route (or Route) value of @p m joined with ", ". */
static void rr_all(const char *m, const char *name, char *out, size_t cap)
{
	char pat[64];
	const char *p = m;
	size_t o = 0;

	snprintf(pat, sizeof(pat), "\r\n%s: ", name);
	out[0] = '\0';
	while ((p = strstr(p, pat))) {
		const char *e;

		p += strlen(pat);
		e = strstr(p, "\r\n");
		o += (size_t)snprintf(out + o, cap - o, "%s%.*s", o ? ", " : "",
				      (int)(e - p), p);
		if (o >= cap)
			break;
	}
}

/* Wait for a frame that starts with @p start over @p w. */
static void wsc_expect(struct wsc *w, const char *start, char *f, size_t cap)
{
	long t0 = now_ms();
	int op, n;

	while (now_ms() - t0 < WAIT_MS) {
		n = wsc_recv(w, &op, f, cap, WAIT_MS);
		cr_assert_gt(n, 0, "waiting for %s: closed or timed out",
			     start);
		if (strncmp(f, start, strlen(start)) == 0)
			return;
	}
	cr_assert_fail("no %s", start);
}

/*
 * Alice registers over WS with a `.invalid` Contact (as a browser
 * does); bob (UDP) calls her: the INVITE comes over alice's own
 * connection with a WS Via and two Record-Route values (ws with the
 * flow token, udp); bob's BYE with that route set reaches her over the
 * same connection; her re-INVITE-less BYE on the second call reaches
 * bob over UDP.
 */
Test(ws, ws_ua_with_invalid_contact_and_udp_ua_call_both_ways)
{
	struct sipcli bob = { .fd = -1 };
	struct sipcli_msg *r = malloc(sizeof(*r));
	char *f = malloc(65536), *req = malloc(8192), rr[1024], v[512];
	char route[1100], ruri[256];
	int n, st;

	cr_assert(r && f && req);
	start(NULL, NULL);
	wsc_open(wc);
	n = snprintf(req, 8192,
		     "REGISTER sip:127.0.0.1 SIP/2.0\r\n"
		     "Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKr1\r\n"
		     "Max-Forwards: 70\r\n"
		     "From: <sip:alice@127.0.0.1>;tag=ra\r\n"
		     "To: <sip:alice@127.0.0.1>\r\n"
		     "Call-ID: ws-reg-1\r\nCSeq: 1 REGISTER\r\n"
		     "Contact: <sip:a8k2@df7jal23ls0d.invalid;transport=ws>\r\n"
		     "Expires: 300\r\nContent-Length: 0\r\n\r\n");
	wsc_send(wc, 1, req, (size_t)n, true);
	wsc_expect(wc, "SIP/2.0 200", f, 65536);

	/* Bob calls alice over UDP. */
	cr_assert_eq(sipcli_open_udp(&bob, "127.0.0.1", sp.port), 0);
	n = sipcli_format(&bob, req, 8192, "INVITE", "sip:alice@127.0.0.1",
			  "ws-call-1", true, "Contact: <sip:bob@127.0.0.1>\r\n",
			  NULL);
	cr_assert_gt(n, 0);
	cr_assert_eq(sipcli_send(&bob, req, (size_t)n), 0);
	wsc_expect(wc, "INVITE ", f, 65536);
	cr_assert(strncmp(f,
			  "INVITE sip:a8k2@df7jal23ls0d.invalid;transport=ws",
			  49) == 0,
		  "%s", f);
	snprintf(v, sizeof(v), "SIP/2.0/WS 127.0.0.1:%u;", ws_port);
	hdr_of(f, "Via", rr, sizeof(rr));
	cr_assert(strncmp(rr, v, strlen(v)) == 0, "top Via: %s", rr);
	rr_all(f, "Record-Route", rr, sizeof(rr));
	snprintf(v, sizeof(v), "@127.0.0.1:%u;transport=ws;lr>", ws_port);
	cr_assert(strstr(rr, v) && strstr(rr, "<sip:ob-"),
		  "ws side with a flow token: %s", rr);
	snprintf(v, sizeof(v), "<sip:127.0.0.1:%u;lr>", sp.port);
	cr_assert(strstr(rr, v), "udp side: %s", rr);
	/* Alice answers 200: the Via, From, To, Call-ID, CSeq and
	 * Record-Route of the INVITE, her tag and Contact. */
	{
		char via[2048] = "", from[256], to[256], cseq[64];
		const char *p = f;
		size_t o = 0;

		while ((p = strstr(p, "\r\nVia: "))) {
			const char *e;

			p += 7;
			e = strstr(p, "\r\n");
			o += (size_t)snprintf(via + o, sizeof(via) - o,
					      "Via: %.*s\r\n", (int)(e - p), p);
		}
		hdr_of(f, "From", from, sizeof(from));
		hdr_of(f, "To", to, sizeof(to));
		hdr_of(f, "CSeq", cseq, sizeof(cseq));
		n = snprintf(req, 8192,
			     "SIP/2.0 200 OK\r\n%s"
			     "Record-Route: %s\r\n"
			     "From: %s\r\nTo: %s;tag=alice1\r\n"
			     "Call-ID: ws-call-1\r\nCSeq: %s\r\n"
			     "Contact: <sip:a8k2@df7jal23ls0d.invalid;"
			     "transport=ws>\r\n"
			     "Content-Length: 0\r\n\r\n",
			     via, rr, from, to, cseq);
		wsc_send(wc, 1, req, (size_t)n, true);
	}
	st = -1;
	for (long t0 = now_ms(); now_ms() - t0 < WAIT_MS && st < 200;)
		if (sipcli_recv_msg(&bob, r, 1000) == 0 && !r->m.is_request)
			st = r->m.status;
	cr_assert_eq(st, 200);
	/* Bob's route set: the Record-Route as it came (RFC 3261 §12.1.2
	 * reverses it for the caller). */
	{
		char a[512], b[512];
		const char *comma = strstr(rr, ">, <");

		cr_assert_not_null(comma);
		snprintf(a, sizeof(a), "%.*s", (int)(comma - rr + 1), rr);
		snprintf(b, sizeof(b), "%s", comma + 3);
		snprintf(route, sizeof(route), "%s, %s", b, a);
	}
	snprintf(ruri, sizeof(ruri),
		 "sip:a8k2@df7jal23ls0d.invalid;transport=ws");
	/* The ACK and then the BYE, both through the flow. */
	n = snprintf(
	    req, 8192,
	    "ACK %s SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:%u;rport;branch=z9hG4bKack1\r\n"
	    "Max-Forwards: 70\r\nRoute: %s\r\n"
	    "From: <sip:bob@127.0.0.1>;tag=%.*s\r\n"
	    "To: <sip:alice@127.0.0.1>;tag=alice1\r\n"
	    "Call-ID: ws-call-1\r\nCSeq: 1 ACK\r\n"
	    "Content-Length: 0\r\n\r\n",
	    ruri, bob.local_port, route, (int)r->m.from_tag.len,
	    r->m.from_tag.p);
	cr_assert_eq(sipcli_send(&bob, req, (size_t)n), 0);
	wsc_expect(wc, "ACK ", f, 65536);
	n = snprintf(
	    req, 8192,
	    "BYE %s SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:%u;rport;branch=z9hG4bKbye1\r\n"
	    "Max-Forwards: 70\r\nRoute: %s\r\n"
	    "From: <sip:bob@127.0.0.1>;tag=%.*s\r\n"
	    "To: <sip:alice@127.0.0.1>;tag=alice1\r\n"
	    "Call-ID: ws-call-1\r\nCSeq: 2 BYE\r\n"
	    "Content-Length: 0\r\n\r\n",
	    ruri, bob.local_port, route, (int)r->m.from_tag.len,
	    r->m.from_tag.p);
	cr_assert_eq(sipcli_send(&bob, req, (size_t)n), 0);
	wsc_expect(wc, "BYE ", f, 65536);
	hdr_of(f, "Route", v, sizeof(v));
	cr_assert_str_eq(v, "", "our Route values are popped: %s", v);

	/* The other way: alice (WS) sends a request in the dialog to bob
	 * (her route set: the Record-Route in order), over her
	 * connection; it reaches bob over UDP. */
	n = snprintf(req, 8192,
		     "INFO sip:bob@127.0.0.1:%u SIP/2.0\r\n"
		     "Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKi1\r\n"
		     "Max-Forwards: 70\r\nRoute: %s\r\n"
		     "From: <sip:alice@127.0.0.1>;tag=alice1\r\n"
		     "To: <sip:bob@127.0.0.1>;tag=%.*s\r\n"
		     "Call-ID: ws-call-1\r\nCSeq: 7 INFO\r\n"
		     "Content-Length: 0\r\n\r\n",
		     bob.local_port, rr, (int)r->m.from_tag.len,
		     r->m.from_tag.p);
	wsc_send(wc, 1, req, (size_t)n, true);
	st = -1;
	for (long t0 = now_ms(); now_ms() - t0 < WAIT_MS && st != 1;)
		if (sipcli_recv_msg(&bob, r, 1000) == 0 && r->m.is_request &&
		    strncmp(r->buf, "INFO ", 5) == 0)
			st = 1;
	cr_assert_eq(st, 1, "alice's INFO never reached bob over UDP");

	/* A forged token (one MAC digit changed) names no flow: bob's
	 * request with it is refused, nothing reaches alice. */
	{
		char forged[1100], *tok = strstr(rr, "<sip:ob-"), *at;
		int op;

		cr_assert_not_null(tok);
		at = strchr(tok, '@');
		cr_assert_not_null(at);
		snprintf(forged, sizeof(forged), "%.*s", (int)(at - tok + 1),
			 tok);
		forged[at - tok - 1] = forged[at - tok - 1] == '0' ? '1' : '0';
		snprintf(forged + (at - tok + 1),
			 sizeof(forged) - (size_t)(at - tok + 1),
			 "127.0.0.1:%u;transport=ws;lr>", ws_port);
		n = snprintf(req, 8192,
			     "MESSAGE %s SIP/2.0\r\n"
			     "Via: SIP/2.0/UDP 127.0.0.1:%u;rport;"
			     "branch=z9hG4bKforged1\r\n"
			     "Max-Forwards: 70\r\nRoute: %s\r\n"
			     "From: <sip:bob@127.0.0.1>;tag=f1\r\n"
			     "To: <sip:alice@127.0.0.1>;tag=alice1\r\n"
			     "Call-ID: ws-forged-1\r\nCSeq: 1 MESSAGE\r\n"
			     "Content-Length: 0\r\n\r\n",
			     ruri, bob.local_port, forged);
		st = sipcli_transact(&bob, req, (size_t)n, WAIT_MS, r);
		cr_assert_geq(st, 400, "forged token: %d", st);
		cr_assert_eq(wsc_recv(wc, &op, f, 65536, 1000), -ETIMEDOUT,
			     "the forged request reached alice: %s", f);
	}
	sipcli_close(&bob);
	free(r);
	free(f);
	free(req);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* Run the shell command @p cmd in topdir (bounded); it must exit 0. */
static void sh_ok(const char *cmd)
{
	char *argv[] = { "sh",	 "-c",	      "cd \"$0\" && eval \"$1\"",
			 topdir, (char *)cmd, NULL };
	char *out = NULL, *err = NULL;
	int rc = proc_capture(argv, topdir, "sh", 30000, &out, &err);

	cr_assert_eq(rc, 0, "%s: %d: %s", cmd, rc, err ? err : "");
	free(out);
	free(err);
}

/*
 * Issue #16's browser test: two headless Chromium instances (Debian's
 * chromium, puppeteer-core) load a JsSIP page served from
 * http://127.0.0.1:PAGE, register alice and bob over WSS (a self-signed
 * certificate made now; chromium runs with --ignore-certificate-errors
 * for it), bob calls alice with fake audio devices, and the pages say:
 * both registered, the call established, audio RTP received on both
 * RTCPeerConnections (getStats inbound-rtp packetsReceived > 0; media
 * is browser to browser, ICE on loopback candidates only), the hang-up
 * seen by both. tests/integration/ws/browsers.js drives the browsers.
 */
/* The browser tests' sipedge: a wss listener with a certificate made
 * now, allowing pages from http://127.0.0.1:*page_portp. */
static void start_wss_with(uint16_t *wss_portp, uint16_t *page_portp,
			   const char *extra)
{
	const char *src = getenv("SIPEDGE_SRCDIR");
	char ls[2048], mods[PROC_PATH_MAX];

	snprintf(mods, sizeof(mods),
		 "%s/tests/integration/ws/node_modules/jssip", src ? src : ".");
	cr_assert_eq(access(mods, R_OK), 0,
		     "%s missing: run scripts/install-deps.sh (npm ci)", mods);
	if (!topdir[0])
		cr_assert_eq(proc_tmpdir(topdir, sizeof(topdir)), 0);
	sh_ok("openssl req -x509 -newkey ec -pkeyopt "
	      "ec_paramgen_curve:prime256v1 -nodes -keyout srv.key -out "
	      "srv.pem -days 2 -subj /CN=127.0.0.1 -addext "
	      "subjectAltName=IP:127.0.0.1,DNS:localhost");
	cr_assert_eq(proc_free_port("127.0.0.1", wss_portp), 0);
	cr_assert_eq(proc_free_port("127.0.0.1", page_portp), 0);
	cr_assert_neq(*wss_portp, *page_portp);
	snprintf(ls, sizeof(ls),
		 "  - address: 127.0.0.1\n"
		 "    port: %u\n"
		 "    transports: [wss]\n"
		 "    cert: %s/srv.pem\n"
		 "    key: %s/srv.key\n"
		 "    origins: [\"http://127.0.0.1:%u\"]\n",
		 *wss_portp, topdir, topdir, *page_portp);
	if (tls_port)
		snprintf(ls + strlen(ls), sizeof(ls) - strlen(ls),
			 "  - address: 127.0.0.1\n"
			 "    port: %u\n"
			 "    transports: [tls]\n"
			 "    cert: %s/srv.pem\n"
			 "    key: %s/srv.key\n",
			 tls_port, topdir, topdir);
	start(ls, extra);
}

static void start_wss(uint16_t *wss_portp, uint16_t *page_portp)
{
	start_wss_with(wss_portp, page_portp, NULL);
}

/* Run browsers.js (@p call_uri NULL: two browsers call each other);
 * its JSON result (json_decref() it), its exit status in *rcp and its
 * output in *outp (free() it). */
static json_t *browsers_run(uint16_t wss_port, uint16_t page_port,
			    const char *call_uri, int *rcp, char **outp)
{
	const char *src = getenv("SIPEDGE_SRCDIR");
	char script[PROC_PATH_MAX], url[64], pp[16], prof[PROC_PATH_MAX + 16];
	char *argv[] = { "node", script,	   url, "localhost", pp,
			 prof,	 (char *)call_uri, NULL };
	char *err = NULL;
	json_error_t je;
	json_t *res;

	snprintf(script, sizeof(script), "%s/tests/integration/ws/browsers.js",
		 src ? src : ".");
	snprintf(url, sizeof(url), "wss://127.0.0.1:%u", wss_port);
	snprintf(pp, sizeof(pp), "%u", page_port);
	snprintf(prof, sizeof(prof), "%s/profiles", topdir);
	cr_assert_eq(mkdir(prof, 0700), 0);
	*outp = NULL;
	*rcp = proc_capture(argv, topdir, "browsers", 100000, outp, &err);
	res = *outp ? json_loads(*outp, JSON_DISABLE_EOF_CHECK, &je) : NULL;
	cr_assert_not_null(res, "browsers.js: %d: %s %s", *rcp,
			   *outp ? *outp : "", err ? err : "");
	free(err);
	return res;
}

Test(ws, two_browsers_register_over_wss_call_each_other_audio_both_ways,
     .timeout = 150)
{
	uint16_t wss_port, page_port;
	json_t *res, *who;
	char *out = NULL;
	int rc;

	start_wss(&wss_port, &page_port);
	res = browsers_run(wss_port, page_port, NULL, &rc, &out);
	for (int i = 0; i < 2; i++) {
		const char *name = i ? "bob" : "alice";

		who = json_object_get(res, name);
		cr_expect(json_is_true(json_object_get(who, "registered")),
			  "%s registered: %s", name, out);
		cr_expect(json_is_true(json_object_get(who, "established")),
			  "%s established: %s", name, out);
		cr_expect_gt(
		    json_integer_value(json_object_get(who, "packetsReceived")),
		    0, "%s received audio: %s", name, out);
		cr_expect(json_is_true(json_object_get(who, "ended")),
			  "%s saw the hang-up: %s", name, out);
	}
	cr_assert_eq(rc, 0, "browsers.js: %d: %s", rc, out);
	json_decref(res);
	free(out);
	cr_assert_geq(stat_get("shard.ws_upgrades"), 2);
	cr_assert_eq(stat_get("shard.ws_bad_frames"), 0);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/*
 * A browser (WSS) calls a SIPp UAS over UDP: the INVITE reaches SIPp
 * with two Record-Route values (wss with the flow token, udp:
 * uas_ws.xml checks both), 180 and 200 come back to the browser over
 * its WebSocket, and the ACK and BYE reach SIPp through sipedge.
 * Signalling only: SIPp's answer is plain RTP/AVP, which the browser
 * refuses (no ICE, no DTLS), so JsSIP ACKs and hangs up at once
 * ("Bad Media Description"); media between a browser and a plain RTP
 * phone needs an RTP gateway: rtpengine, in the test after this one.
 */
Test(ws, browser_over_wss_calls_sipp_uas_over_udp_signalling_both_ways,
     .timeout = 150)
{
	uint16_t wss_port, page_port, uas_port;
	struct sipp_cmd sc;
	char uri[96], *out = NULL;
	json_t *res, *who;
	pid_t uas;
	int rc;

	start_wss(&wss_port, &page_port);
	cr_assert_eq(proc_free_port("127.0.0.1", &uas_port), 0);
	sipp_cmd_uas(&sc, "uas_ws.xml", uas_port, "u1");
	sipp_cmd_args(&sc, "-m", "1", NULL);
	sipp_cmd_errors(&sc, "uas");
	uas = sipp_spawn(sc.argv, sp.dir, "uas");
	sipp_bound(uas_port, "u1");
	snprintf(uri, sizeof(uri), "sip:uas@127.0.0.1:%u;transport=udp",
		 uas_port);
	res = browsers_run(wss_port, page_port, uri, &rc, &out);
	who = json_object_get(res, "alice");
	cr_expect(json_is_true(json_object_get(who, "registered")), "%s", out);
	cr_expect(json_is_true(json_object_get(who, "progress")),
		  "180 reached the browser: %s", out);
	cr_expect(json_is_true(json_object_get(who, "established")) ||
		      (json_is_string(json_object_get(who, "failed")) &&
		       strcmp(json_string_value(json_object_get(who, "failed")),
			      "Bad Media Description") == 0),
		  "the 200 reached the browser: %s", out);
	cr_assert_eq(rc, 0, "browsers.js: %d: %s", rc, out);
	json_decref(res);
	free(out);
	/* The ACK and the BYE came through sipedge to SIPp. */
	sipp_ok(&uas, 20000, sp.dir, "uas", sp.log);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/*
 * Issue #18: a browser (WSS: ICE, DTLS-SRTP, AVPF, rtcp-mux) calls a
 * SIPp UAS over UDP (plain RTP/AVP) with media anchored in a real
 * rtpengine: the offer reaches SIPp as RTP/AVP without ICE, the answer
 * reaches the browser as UDP/TLS/RTP/SAVPF with ICE, the call is
 * established, and the browser receives audio: its own, decrypted by
 * rtpengine, echoed by SIPp (-rtp_echo) and encrypted again.
 */
Test(ws, browser_calls_a_udp_phone_with_audio_bridged_by_rtpengine,
     .timeout = 150)
{
	uint16_t wss_port, page_port, uas_port, mport;
	struct sipp_cmd sc;
	char uri[96], extra[256], *out = NULL, *screen = NULL;
	json_t *res, *who;
	pid_t uas;
	int rc;

	cr_assert_eq(rtpe_start(&rtpe), 0, "rtpengine started");
	snprintf(extra, sizeof(extra),
		 "media:\n  enabled: true\n"
		 "  rtpengine:\n    - address: \"127.0.0.1:%u\"\n",
		 rtpe.ng_port);
	start_wss_with(&wss_port, &page_port, extra);
	cr_assert_eq(proc_free_port("127.0.0.1", &uas_port), 0);
	cr_assert_eq(proc_free_port("127.0.0.1", &mport), 0);
	sipp_cmd_uas(&sc, "uas_ws.xml", uas_port, "u1");
	sipp_cmd_args(&sc, "-m", "1", "-rtp_echo", "-trace_msg", NULL);
	sipp_cmd_opt(&sc, "-mp", "%u", mport);
	sipp_cmd_errors(&sc, "uas");
	uas = sipp_spawn(sc.argv, sp.dir, "uas");
	sipp_bound(uas_port, "u1");
	snprintf(uri, sizeof(uri), "sip:uas@127.0.0.1:%u;transport=udp",
		 uas_port);
	res = browsers_run(wss_port, page_port, uri, &rc, &out);
	who = json_object_get(res, "alice");
	cr_expect(json_is_true(json_object_get(who, "registered")), "%s", out);
	cr_expect(json_is_true(json_object_get(who, "established")),
		  "the bridged answer was accepted: %s", out);
	cr_expect_gt(
	    json_integer_value(json_object_get(who, "packetsReceived")), 0,
	    "audio came back to the browser: %s", out);
	cr_expect(json_is_true(json_object_get(who, "ended")), "%s", out);
	cr_assert_eq(rc, 0, "browsers.js: %d: %s", rc, out);
	json_decref(res);
	free(out);
	sipp_ok(&uas, 20000, sp.dir, "uas", sp.log);
	/* What SIPp saw: a plain offer (rtpengine's, no ICE, no DTLS). */
	{
		char path[PROC_PATH_MAX + 64];
		DIR *d = opendir(sp.dir);
		struct dirent *e;

		cr_assert_not_null(d);
		while ((e = readdir(d)) && !screen)
			if (strstr(e->d_name, "_messages.log")) {
				snprintf(path, sizeof(path), "%s/%s", sp.dir,
					 e->d_name);
				proc_read_file(path, &screen);
			}
		closedir(d);
	}
	cr_assert_not_null(screen, "SIPp's message trace");
	cr_assert_not_null(strstr(screen, "RTP/AVP"), "%.3000s", screen);
	cr_assert_null(strstr(screen, "a=candidate"), "%.3000s", screen);
	cr_assert_null(strstr(screen, "a=fingerprint"), "%.3000s", screen);
	free(screen);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/*
 * A phone over TLS calls a browser over WSS, media anchored in a real
 * rtpengine (issues #16 and #18): baresip (Debian's SIPp has no TLS, so
 * baresip is the TLS caller; plain RTP with Opus, a 440 Hz tone) dials
 * alice, a JsSIP page that answers by itself. The offer reaches the
 * browser as WebRTC (ICE, DTLS-SRTP, rtcp-mux: else it would refuse
 * it), its answer reaches baresip as plain RTP/AVP, and the browser
 * receives baresip's audio; the browser hangs up, baresip sees it.
 */
Test(ws, a_tls_phone_calls_a_browser_with_audio_bridged_by_rtpengine,
     .timeout = 150)
{
	const char *src = getenv("SIPEDGE_SRCDIR");
	struct baresip b = { .ctrl = -1 };
	uint16_t wss_port, page_port;
	char extra[PROC_PATH_MAX + 256], script[PROC_PATH_MAX], url[64], pp[16],
	    prof[PROC_PATH_MAX + 16], out[PROC_PATH_MAX + 16],
	    ca[PROC_PATH_MAX + 16], cert[PROC_PATH_MAX + 16], why[256],
	    *text = NULL;
	char *argv[] = { "node", script, url,	   "localhost",
			 pp,	 prof,	 "answer", NULL };
	json_t *res = NULL, *who, *r = NULL;
	json_error_t je;
	int status = -1, err = -1;

	cr_assert_eq(rtpe_start(&rtpe), 0, "rtpengine started");
	cr_assert_eq(proc_free_port("127.0.0.1", &tls_port), 0);
	/* tls.ca: baresip's Contact names its own TLS listener (no RFC 5626
	 * outbound), which the BYE to it reaches over a new connection,
	 * verified against srv.pem (start_wss_with() makes it in topdir;
	 * baresip shows it too). */
	cr_assert_eq(proc_tmpdir(topdir, sizeof(topdir)), 0);
	snprintf(extra, sizeof(extra),
		 "media:\n  enabled: true\n"
		 "  rtpengine:\n    - address: \"127.0.0.1:%u\"\n"
		 "tls:\n  ca: %s/srv.pem\n",
		 rtpe.ng_port, topdir);
	start_wss_with(&wss_port, &page_port, extra);
	/* The browser: registers as alice and waits for a call. */
	snprintf(script, sizeof(script), "%s/tests/integration/ws/browsers.js",
		 src ? src : ".");
	snprintf(url, sizeof(url), "wss://127.0.0.1:%u", wss_port);
	snprintf(pp, sizeof(pp), "%u", page_port);
	snprintf(prof, sizeof(prof), "%s/profiles", topdir);
	cr_assert_eq(mkdir(prof, 0700), 0);
	snprintf(out, sizeof(out), "%s/browsers.out", topdir);
	cr_assert_eq(proc_spawn(argv, topdir, out, out, &node_pid), 0);
	/* Bounded: 30 s for the page to register alice. */
	for (int i = 0; i < 300 && err; i++) {
		err =
		    mgmtcli_rpc(sp.mgmt_port, NULL, "location.lookup",
				"[\"alice@localhost\"]", &r, why, sizeof(why));
		json_decref(r);
		r = NULL;
		if (err)
			ms_sleep(100);
	}
	cr_assert_eq(err, 0, "alice never registered: %s", why);
	/* The phone over TLS (the proxy's self-signed certificate is its
	 * own CA) calls her. */
	snprintf(ca, sizeof(ca), "%s/srv.pem", topdir);
	sh_ok("cat srv.pem srv.key > ua.pem");
	snprintf(cert, sizeof(cert), "%s/ua.pem", topdir);
	err = baresip_start_tls(&b, topdir, "carol", "localhost", "pw",
				tls_port, ca, cert);
	cr_assert_eq(err, 0, "baresip: %d", err);
	cr_assert_eq(
	    baresip_wait_out(&b, "carol@localhost: {0/TLS/v4} 200 OK", 10000),
	    0, "carol did not register over TLS");
	cr_assert_eq(baresip_cmd(&b, "dial", "sip:alice@localhost", 5000), 0);
	cr_assert_eq(baresip_wait_event(&b, "CALL_ESTABLISHED", 20000), 0,
		     "the browser's answer was not taken");
	/* The browser hangs up once it has heard carol (bounded by its
	 * own watchdog, 75 s). */
	cr_assert_eq(proc_wait(node_pid, 90000, &status), 0);
	node_pid = 0;
	cr_assert_eq(baresip_wait_event(&b, "CALL_CLOSED", 10000), 0,
		     "the browser's BYE never reached carol");
	baresip_stop(&b);
	proc_read_file(out, &text);
	res = text ? json_loads(text, JSON_DISABLE_EOF_CHECK, &je) : NULL;
	cr_assert_not_null(res, "browsers.js: %s", text ? text : "");
	who = json_object_get(res, "alice");
	cr_expect(json_is_true(json_object_get(who, "established")),
		  "the WebRTC offer was accepted: %s", text);
	cr_expect_gt(
	    json_integer_value(json_object_get(who, "packetsReceived")), 0,
	    "carol's audio reached the browser: %s", text);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", text);
	json_decref(res);
	free(text);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* The sum over the shards of counter @p name of module rtpengine in
 * /metrics (-1: none). */
static long rtpe_metric(const char *name)
{
	unsigned status = 0;
	char *page = NULL, needle[128];
	long sum = -1;

	cr_assert_eq(mgmtcli_http(sp.mgmt_port, "GET", "/metrics", NULL, NULL,
				  &status, &page),
		     0);
	cr_assert_eq(status, 200);
	snprintf(needle, sizeof(needle), "\nsipedge_rtpengine_%s{", name);
	for (char *p = page ? strstr(page, needle) : NULL; p;
	     p = strstr(p + 1, needle)) {
		char *sp_ = strchr(p + 1, ' ');

		if (sp_)
			sum = (sum < 0 ? 0 : sum) + strtol(sp_ + 1, NULL, 10);
	}
	free(page);
	return sum;
}

/* The first file of @p dir whose name has @p part, read into *textp. */
static void read_named(const char *dir, const char *part, char **textp)
{
	char path[PROC_PATH_MAX + 64];
	DIR *d = opendir(dir);
	struct dirent *e;

	*textp = NULL;
	cr_assert_not_null(d);
	while ((e = readdir(d)) && !*textp)
		if (strstr(e->d_name, part)) {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			proc_read_file(path, textp);
		}
	closedir(d);
}

/*
 * Issue #18, a fork of mixed media: alice is registered twice, from a
 * browser (JsSIP over WSS) and from a SIPp UAS over UDP; a SIPp UAC
 * over UDP calls her and sipedge forks the INVITE to both. rtpengine
 * makes one offer per kind (two ng offers, told apart by via-branch):
 * the browser's INVITE carries UDP/TLS/RTP/SAVPF with a fingerprint and
 * ICE candidates, the SIPp UAS's plain RTP/AVP without either. The
 * browser answers (its 200's answer goes with the WebRTC offer's
 * via-branch, the phone's offer is deleted), the phone is CANCELed
 * (uas_cancel.xml: 487), the caller gets a plain answer and echoes the
 * browser's audio back (-rtp_echo), which the browser receives; the
 * browser hangs up, and rtpengine's call is gone after the BYE.
 */
Test(ws, a_fork_to_a_browser_and_a_phone_gets_one_offer_per_kind,
     .timeout = 150)
{
	const char *src = getenv("SIPEDGE_SRCDIR");
	uint16_t wss_port, page_port, uas_port, mport;
	char extra[256], script[PROC_PATH_MAX], url[64], pp[16],
	    prof[PROC_PATH_MAX + 16], out[PROC_PATH_MAX + 16], why[256],
	    reg[1024], cid[160], dict[256], ans[8192], *text = NULL,
						       *trace = NULL, *p;
	char *argv[] = { "node", script, url,	   "localhost",
			 pp,	 prof,	 "answer", NULL };
	struct sipcli_msg *rsp = malloc(sizeof(*rsp));
	struct sipcli cli = { .fd = -1 };
	struct sipp_cmd sc;
	json_t *res = NULL, *who, *r = NULL, *set;
	json_error_t je;
	pid_t uas, uac;
	int status = -1, err = -1, n, i;

	cr_assert_not_null(rsp);
	cr_assert_eq(rtpe_start(&rtpe), 0, "rtpengine started");
	snprintf(extra, sizeof(extra),
		 "media:\n  enabled: true\n"
		 "  rtpengine:\n    - address: \"127.0.0.1:%u\"\n",
		 rtpe.ng_port);
	start_wss_with(&wss_port, &page_port, extra);
	/* The browser: registers as alice and answers the call. */
	snprintf(script, sizeof(script), "%s/tests/integration/ws/browsers.js",
		 src ? src : ".");
	snprintf(url, sizeof(url), "wss://127.0.0.1:%u", wss_port);
	snprintf(pp, sizeof(pp), "%u", page_port);
	snprintf(prof, sizeof(prof), "%s/profiles", topdir);
	cr_assert_eq(mkdir(prof, 0700), 0);
	snprintf(out, sizeof(out), "%s/browsers.out", topdir);
	cr_assert_eq(proc_spawn(argv, topdir, out, out, &node_pid), 0);
	/* Bounded: 30 s for the page to register alice. */
	for (i = 0; i < 300 && err; i++) {
		err =
		    mgmtcli_rpc(sp.mgmt_port, NULL, "location.lookup",
				"[\"alice@localhost\"]", &r, why, sizeof(why));
		json_decref(r);
		r = NULL;
		if (err)
			ms_sleep(100);
	}
	cr_assert_eq(err, 0, "alice never registered: %s", why);
	/* The phone: a SIPp UAS that rings until it is CANCELed, and
	 * alice's second contact, registered by hand. */
	cr_assert_eq(proc_free_port("127.0.0.1", &uas_port), 0);
	sipp_cmd_uas(&sc, "uas_cancel.xml", uas_port, "u1");
	sipp_cmd_args(&sc, "-m", "1", "-trace_msg", NULL);
	sipp_cmd_errors(&sc, "uas");
	uas = sipp_spawn(sc.argv, sp.dir, "uas");
	sipp_bound(uas_port, "u1");
	cr_assert_eq(sipcli_open_udp(&cli, "127.0.0.1", sp.port), 0);
	n = snprintf(
	    reg, sizeof(reg),
	    "REGISTER sip:localhost SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:%u;rport;branch=z9hG4bKfork1\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: <sip:alice@localhost>;tag=fork1\r\n"
	    "To: <sip:alice@localhost>\r\n"
	    "Call-ID: ws-fork-reg-1\r\nCSeq: 1 REGISTER\r\n"
	    "Contact: <sip:alice@127.0.0.1:%u>\r\n"
	    "Expires: 300\r\nContent-Length: 0\r\n\r\n",
	    cli.local_port, uas_port);
	cr_assert(n > 0 && (size_t)n < sizeof(reg));
	cr_assert_eq(sipcli_transact(&cli, reg, (size_t)n, 5000, rsp), 200);
	sipcli_close(&cli);
	free(rsp);
	cr_assert_eq(mgmtcli_rpc(sp.mgmt_port, NULL, "location.lookup",
				 "[\"alice@localhost\"]", &r, why, sizeof(why)),
		     0, "%s", why);
	set = json_object_get(r, "contacts");
	cr_assert_eq(json_array_size(set), 2, "two contacts to fork to: %s",
		     json_dumps(r, 0));
	json_decref(r);
	/* The caller. */
	cr_assert_eq(proc_free_port("127.0.0.1", &mport), 0);
	sipp_cmd_uac(&sc, "uac_fork_echo.xml", sp.port, 0, "u1");
	sipp_cmd_args(&sc, "-s", "alice", "-key", "domain", "localhost", "-m",
		      "1", "-rtp_echo", "-trace_logs", "-log_file",
		      "uac_fork.log", "-timeout", "90s", "-timeout_error",
		      NULL);
	sipp_cmd_opt(&sc, "-mp", "%u", mport);
	sipp_cmd_errors(&sc, "uac");
	uac = sipp_spawn(sc.argv, sp.dir, "uac");
	/* The browser hangs up once it has heard its echo (bounded by its
	 * own watchdog, 75 s). */
	cr_assert_eq(proc_wait(node_pid, 90000, &status), 0);
	node_pid = 0;
	sipp_ok(&uac, 20000, sp.dir, "uac", sp.log);
	sipp_ok(&uas, 20000, sp.dir, "uas", sp.log);
	proc_read_file(out, &text);
	res = text ? json_loads(text, JSON_DISABLE_EOF_CHECK, &je) : NULL;
	cr_assert_not_null(res, "browsers.js: %s", text ? text : "");
	who = json_object_get(res, "alice");
	cr_expect(json_is_true(json_object_get(who, "established")),
		  "the browser took its offer: %s", text);
	cr_expect_gt(
	    json_integer_value(json_object_get(who, "packetsReceived")), 0,
	    "the echo of its audio came back through rtpengine: %s", text);
	/* The browser's offer: WebRTC. */
	p = (char *)json_string_value(json_object_get(who, "offer"));
	cr_assert_not_null(p, "%s", text);
	cr_expect_not_null(strstr(p, "UDP/TLS/RTP/SAVPF"), "%s", p);
	cr_expect_not_null(strstr(p, "a=fingerprint:"), "%s", p);
	cr_expect_not_null(strstr(p, "a=candidate:"), "%s", p);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", text);
	json_decref(res);
	free(text);
	/* The phone's offer: plain RTP. */
	read_named(sp.dir, "_messages.log", &trace);
	cr_assert_not_null(trace, "SIPp's message trace");
	p = strstr(trace, "INVITE sip:");
	cr_assert_not_null(p, "%.3000s", trace);
	cr_assert_not_null(strstr(p, "m=audio "), "%.3000s", p);
	cr_assert_not_null(strstr(p, " RTP/AVP "), "%.3000s", p);
	cr_assert_null(strstr(p, "a=fingerprint"), "%.3000s", p);
	cr_assert_null(strstr(p, "a=candidate"), "%.3000s", p);
	cr_assert_null(strstr(p, "SAVPF"), "%.3000s", p);
	free(trace);
	/* Two offers (one per kind), one answer, two deletes: the
	 * phone's offer after the browser's 200, the call after the
	 * BYE; rtpengine has no call left. */
	cr_log_info("rtpengine: offers %ld answers %ld deletes %ld errors %ld",
		    rtpe_metric("offers_total"), rtpe_metric("answers_total"),
		    rtpe_metric("deletes_total"), rtpe_metric("errors_total"));
	cr_assert_eq(rtpe_metric("offers_total"), 2);
	cr_assert_eq(rtpe_metric("answers_total"), 1);
	cr_assert_eq(rtpe_metric("errors_total"), 0);
	cr_assert_eq(rtpe_metric("deletes_total"), 2);
	read_named(sp.dir, "uac_fork.log", &trace);
	cr_assert_not_null(trace, "the caller's log");
	p = strstr(trace, "uac-call-id ");
	cr_assert_not_null(p, "%s", trace);
	cr_assert_eq(sscanf(p, "uac-call-id %159s", cid), 1);
	free(trace);
	n = snprintf(dict, sizeof(dict), "d7:command5:query7:call-id%zu:%se",
		     strlen(cid), cid);
	cr_assert(n > 0 && (size_t)n < (int)sizeof(dict));
	for (i = 0; i < 50; i++) {
		cr_assert_gt(rtpe_ng(rtpe.ng_port, dict, (size_t)n, ans,
				     sizeof(ans), 3000),
			     0);
		if (strstr(ans, "Unknown call-id"))
			break;
		ms_sleep(20); /* the delete is on its way */
	}
	cr_assert(strstr(ans, "Unknown call-id"), "after BYE: %s", ans);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}
