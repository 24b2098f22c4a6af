/* tests/integration/test_rtpengine.c - media anchored in a real rtpengine
 * (userspace, on loopback): two SIPp UAs call through sipedge, both SDPs
 * name rtpengine, RTP flows both ways through it, BYE deletes its call;
 * an rtpengine that does not answer fails the call (503 + Reason) or
 * lets it through untouched; a CANCEL meanwhile ends it at once */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/common/mgmtcli.h"
#include "tests/common/ms.h"
#include "tests/common/proc.h"
#include "tests/common/rtpe.h"
#include "tests/common/sipcli.h"
#include "tests/common/sipp.h"

#define WAIT_MS 10000

static struct proc_sipedge sp;
static struct rtpe_proc rtpe, rtpe2;
static pid_t more_pid[3]; /* more SIPp of a test */
static pid_t uas_pid, uac_pid;
static uint16_t uas_port;
static int fd_a = -1, fd_b = -1; /* the UAs' media sockets */
static uint16_t port_a, port_b;

static int media_socket(uint16_t *portp)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*portp = ntohs(a.sin_port);
	return fd;
}

static void setup(void)
{
	memset(&sp, 0, sizeof(sp));
	memset(&rtpe, 0, sizeof(rtpe));
	memset(&rtpe2, 0, sizeof(rtpe2));
	memset(more_pid, 0, sizeof(more_pid));
	uas_pid = uac_pid = 0;
	cr_assert_eq(proc_free_port("127.0.0.1", &uas_port), 0);
	fd_a = media_socket(&port_a);
	fd_b = media_socket(&port_b);
}

static void teardown(void)
{
	if (uas_pid > 0)
		proc_kill(uas_pid);
	if (uac_pid > 0)
		proc_kill(uac_pid);
	close(fd_a);
	close(fd_b);
	for (int i = 0; i < 3; i++)
		if (more_pid[i] > 0)
			proc_kill(more_pid[i]);
	rtpe_stop(&rtpe);
	rtpe_stop(&rtpe2);
	proc_sipedge_cleanup(&sp);
}

TestSuite(rtpengine, .init = setup, .fini = teardown, .timeout = 120);

/* sipedge with one shard, alice@localhost at the UAS, and media: on
 * towards rtpengine at @p ng_port with @p extra keys. */
static void start(uint16_t ng_port, const char *extra)
{
	char yaml[1024];

	snprintf(yaml, sizeof(yaml),
		 "locations:\n  - aor: alice@localhost\n"
		 "    contacts: [\"sip:alice@127.0.0.1:%u\"]\n"
		 "media:\n  enabled: true\n"
		 "  rtpengine:\n    - address: \"127.0.0.1:%u\"\n%s",
		 uas_port, ng_port, extra);
	cr_assert_eq(proc_sipedge_start(&sp, "127.0.0.1", 1, yaml), 0, "%s",
		     sp.why);
}

static void uas_start_with(const char *scenario)
{
	struct sipp_cmd c;

	sipp_cmd_uas(&c, scenario, uas_port, "u1");
	sipp_cmd_opt(&c, "-m", "%u", 1);
	sipp_cmd_args(&c, "-key", "mport", NULL);
	sipp_cmd_arg(&c, "%u", port_b);
	sipp_cmd_args(&c, "-trace_logs", "-log_file", "uas_media.log", NULL);
	sipp_cmd_errors(&c, "uas");
	uas_pid = sipp_spawn(c.argv, sp.dir, "uas");
	sipp_bound(uas_port, "u1");
}

static void uas_start(void)
{
	uas_start_with("uas_rtpe.xml");
}

static void uac_start(const char *scenario, unsigned hold_ms)
{
	struct sipp_cmd c;

	sipp_cmd_uac(&c, scenario, sp.port, 0, "u1");
	sipp_cmd_args(&c, "-s", "alice", "-key", "domain", "localhost", NULL);
	sipp_cmd_args(&c, "-key", "mport", NULL);
	sipp_cmd_arg(&c, "%u", port_a);
	sipp_cmd_opt(&c, "-d", "%u", hold_ms);
	sipp_cmd_args(&c, "-m", "1", "-trace_logs", "-log_file",
		      "uac_media.log", "-timeout", "30s", "-timeout_error",
		      NULL);
	sipp_cmd_errors(&c, "uac");
	uac_pid = sipp_spawn(c.argv, sp.dir, "uac");
}

/* Wait (bounded) until @p file in sp.dir has a line starting with
 * @p tag; copy the rest of that line into @p out. */
static void wait_line(const char *file, const char *tag, char *out, size_t size)
{
	char path[PROC_PATH_MAX + 64];
	int i;

	snprintf(path, sizeof(path), "%s/%s", sp.dir, file);
	for (i = 0; i < WAIT_MS / 50; i++) {
		char *text = NULL, *p;

		if (proc_read_file(path, &text) == 0 &&
		    (p = strstr(text, tag)) != NULL) {
			size_t n = strcspn(p + strlen(tag), "\r\n");

			cr_assert_lt(n, size);
			memcpy(out, p + strlen(tag), n);
			out[n] = '\0';
			free(text);
			return;
		}
		free(text);
		ms_sleep(50);
	}
	cr_assert_fail("no '%s' in %s within %d ms", tag, path, WAIT_MS);
}

/* Send @p n RTP packets from @p from to 127.0.0.1:@p to (20 ms apart)
 * and count those that arrive at @p at with their sequence intact. */
static unsigned rtp_through(int from, uint16_t to, int at, unsigned n)
{
	struct sockaddr_in dst = { .sin_family = AF_INET,
				   .sin_port = htons(to) };
	unsigned i, got = 0;
	uint8_t pkt[172], in[2048];

	inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
	memset(pkt, 0xff, sizeof(pkt)); /* mu-law silence */
	pkt[0] = 0x80;			/* V=2 */
	pkt[1] = 0;			/* PCMU */
	memset(pkt + 4, 0, 8);
	pkt[8] = 0x12;
	for (i = 0; i < n; i++) {
		struct pollfd p = { .fd = at, .events = POLLIN };

		pkt[2] = (uint8_t)(i >> 8);
		pkt[3] = (uint8_t)i;
		pkt[7] = (uint8_t)(i * 160);
		cr_assert_eq(sendto(from, pkt, sizeof(pkt), 0,
				    (struct sockaddr *)&dst, sizeof(dst)),
			     (ssize_t)sizeof(pkt));
		/* Pacing as a phone does; bounded by the count. */
		while (poll(&p, 1, 20) == 1) {
			ssize_t len = recv(at, in, sizeof(in), 0);

			if (len == (ssize_t)sizeof(pkt) && in[1] == 0 &&
			    in[8] == 0x12)
				got++;
		}
	}
	return got;
}

/* ng query of @p call_id at the test's rtpengine: its answer. */
static void query(const char *call_id, char *out, size_t size)
{
	char dict[512];
	int n =
	    snprintf(dict, sizeof(dict), "d7:command5:query7:call-id%zu:%se",
		     strlen(call_id), call_id);

	cr_assert(n > 0 && (size_t)n < sizeof(dict));
	cr_assert_gt(rtpe_ng(rtpe.ng_port, dict, (size_t)n, out, size, 3000), 0,
		     "rtpengine answered the query");
}

/* The value of counter @p name (shard 0) in /metrics. */
static long metric(const char *name)
{
	unsigned status = 0;
	char *page = NULL, needle[128], *p;
	long v = -1;

	cr_assert_eq(mgmtcli_http(sp.mgmt_port, "GET", "/metrics", NULL, NULL,
				  &status, &page),
		     0);
	cr_assert_eq(status, 200);
	snprintf(needle, sizeof(needle), "sipedge_rtpengine_%s{shard=\"0\"} ",
		 name);
	p = strstr(page, needle);
	if (p)
		v = strtol(p + strlen(needle), NULL, 10);
	free(page);
	return v;
}

Test(rtpengine, a_call_is_anchored_rtp_flows_both_ways_and_bye_deletes_it)
{
	char uas_media[128], uac_media[256], call_id[160], ans[8192];
	char cip_a[32], cip_b[32];
	unsigned seen_by_b = 0, seen_by_a = 0, x = 0, y = 0;

	cr_assert_eq(rtpe_start(&rtpe), 0, "rtpengine started");
	start(rtpe.ng_port, "");
	uas_start();
	uac_start("uac_rtpe.xml", 3000);

	/* What each UA was told: rtpengine's address and a port of its
	 * range, not the other UA's. */
	wait_line("uas_media.log", "uas-media ", uas_media, sizeof(uas_media));
	cr_assert_eq(sscanf(uas_media, "%31s %u", cip_b, &x), 2, "%s",
		     uas_media);
	wait_line("uac_media.log", "uac-media ", uac_media, sizeof(uac_media));
	cr_assert_eq(sscanf(uac_media, "%159s %31s %u", call_id, cip_a, &y), 3,
		     "%s", uac_media);
	cr_assert_str_eq(cip_a, "127.0.0.1");
	cr_assert_str_eq(cip_b, "127.0.0.1");
	cr_assert(x >= rtpe.port_min && x <= rtpe.port_max,
		  "callee sees rtpengine's port, got %u", x);
	cr_assert(y >= rtpe.port_min && y <= rtpe.port_max,
		  "caller sees rtpengine's port, got %u", y);
	cr_assert_neq(x, port_a);
	cr_assert_neq(y, port_b);
	cr_assert_neq(x, y);

	/* The call is in rtpengine while it lasts. */
	query(call_id, ans, sizeof(ans));
	cr_assert(strstr(ans, "6:result2:ok"), "query: %s", ans);

	/* A sends to the port rtpengine gave A (y), B receives; B sends
	 * to x, A receives. */
	seen_by_b = rtp_through(fd_a, (uint16_t)y, fd_b, 25);
	seen_by_a = rtp_through(fd_b, (uint16_t)x, fd_a, 25);
	cr_log_info("RTP through rtpengine: A->B %u of 25, B->A %u of 25; "
		    "ports: caller sees %u, callee sees %u",
		    seen_by_b, seen_by_a, y, x);
	cr_assert_geq(seen_by_b, 20, "A -> rtpengine -> B: %u of 25",
		      seen_by_b);
	cr_assert_geq(seen_by_a, 20, "B -> rtpengine -> A: %u of 25",
		      seen_by_a);

	/* The re-INVITE: offer and answer again, rtpengine keeps its
	 * ports for the call. */
	wait_line("uas_media.log", "uas-reinvite ", uas_media,
		  sizeof(uas_media));
	cr_assert_eq((unsigned)atoi(uas_media), x, "re-offer: %s", uas_media);
	wait_line("uac_media.log", "uac-reinvite ", uac_media,
		  sizeof(uac_media));
	cr_assert_eq((unsigned)atoi(uac_media), y, "re-answer: %s", uac_media);

	sipp_ok(&uac_pid, 30000, sp.dir, "uac", sp.log);
	sipp_ok(&uas_pid, 10000, sp.dir, "uas", NULL);

	/* BYE: rtpengine's call is gone (started with --delete-delay=0). */
	{
		int i;

		for (i = 0; i < 50; i++) {
			query(call_id, ans, sizeof(ans));
			if (strstr(ans, "Unknown call-id"))
				break;
			ms_sleep(20); /* the delete is on its way */
		}
		cr_assert(strstr(ans, "Unknown call-id"), "after BYE: %s", ans);
	}
	cr_assert_eq(metric("offers_total"), 2, "INVITE, re-INVITE");
	cr_assert_eq(metric("answers_total"), 2, "their 200s");
	cr_assert_eq(metric("deletes_total"), 1);
	cr_assert_eq(metric("timeouts_total"), 0);
	cr_assert_eq(metric("errors_total"), 0);
	cr_assert_eq(metric("calls"), 0);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

Test(rtpengine, no_rtpengine_and_on_failure_fail_answers_503_with_reason)
{
	struct sipp_cmd c;
	uint16_t dead;
	long long t0;

	cr_assert_eq(proc_free_port("127.0.0.1", &dead), 0);
	start(dead, "  timeout_ms: 100\n  retries: 1\n  on_failure: fail\n");
	t0 = ms_now();
	sipp_cmd_uac(&c, "uac_rtpe_503.xml", sp.port, 0, "u1");
	sipp_cmd_args(&c, "-s", "alice", "-key", "domain", "localhost", NULL);
	sipp_cmd_args(&c, "-key", "mport", NULL);
	sipp_cmd_arg(&c, "%u", port_a);
	sipp_cmd_args(&c, "-m", "1", "-timeout", "20s", "-timeout_error", NULL);
	sipp_cmd_errors(&c, "uac");
	uac_pid = sipp_spawn(c.argv, sp.dir, "uac");
	sipp_ok(&uac_pid, 30000, sp.dir, "uac", sp.log);
	/* A watchdog, not a speed verdict: two tries of 100 ms, far from
	 * SIPp's own 20 s timeout. */
	cr_assert_lt(ms_now() - t0, 10000);
	cr_assert_eq(metric("offers_total"), 1, "sent, never answered");
	cr_assert_eq(metric("timeouts_total"), 1);
	cr_assert_eq(metric("held"), 0);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

Test(rtpengine, no_rtpengine_and_on_failure_proceed_lets_the_call_through)
{
	char uas_media[128], cip[32];
	unsigned x = 0;
	uint16_t dead;

	cr_assert_eq(proc_free_port("127.0.0.1", &dead), 0);
	start(dead, "  timeout_ms: 100\n  retries: 1\n  on_failure: proceed\n");
	uas_start();
	uac_start("uac_rtpe.xml", 10);
	wait_line("uas_media.log", "uas-media ", uas_media, sizeof(uas_media));
	cr_assert_eq(sscanf(uas_media, "%31s %u", cip, &x), 2);
	cr_assert_eq(x, port_a, "the caller's own SDP, untouched");
	/* The re-INVITE finds the instance marked down: untouched at
	 * once, without a second wait. */
	wait_line("uas_media.log", "uas-reinvite ", uas_media,
		  sizeof(uas_media));
	cr_assert_eq((unsigned)atoi(uas_media), port_a);
	sipp_ok(&uac_pid, 30000, sp.dir, "uac", sp.log);
	sipp_ok(&uas_pid, 10000, sp.dir, "uas", NULL);
	cr_assert_eq(metric("timeouts_total"), 2, "one timed out, one down");
	cr_assert_eq(metric("offers_total"), 1, "the second was never sent");
	cr_assert_eq(metric("answers_total"), 0, "a call not anchored");
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* A UDP socket on 127.0.0.1:@p port. */
static int udp_at(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Whether a datagram comes to @p fd within @p ms. */
static bool datagram_within(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[4096];

	if (poll(&p, 1, ms) != 1)
		return false;
	return recv(fd, buf, sizeof(buf), 0) > 0;
}

/*
 * RFC 3261 §9.2 / §16.10: a CANCEL for an INVITE still held for
 * rtpengine's answer (no transaction downstream yet) gets 200, the
 * INVITE 487 at once, and the INVITE never reaches the callee, not even
 * when the wait ends (on_failure: proceed would let it through then).
 */
Test(rtpengine, cancel_while_held_answers_487_and_the_callee_never_rings)
{
	static struct sipcli_msg r;
	struct sipcli c;
	char req[2048], to_tag[64] = "";
	const char *sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"
			  "c=IN IP4 127.0.0.1\r\nt=0 0\r\n"
			  "m=audio 40000 RTP/AVP 0\r\n";
	uint16_t ng;
	int ngfd = media_socket(&ng); /* an rtpengine that never answers */
	int uas = udp_at(uas_port), n;
	bool ok200 = false, got487 = false;
	long long t0;

	start(ng, "  timeout_ms: 1000\n  retries: 1\n  on_failure: proceed\n");
	cr_assert_eq(sipcli_open_udp(&c, "127.0.0.1", sp.port), 0);
	n = snprintf(
	    req, sizeof(req),
	    "INVITE sip:alice@localhost SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:%u;rport;branch=z9hG4bKheld1\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: <sip:bob@localhost>;tag=b1\r\n"
	    "To: <sip:alice@localhost>\r\n"
	    "Call-ID: held-cancel@test\r\n"
	    "CSeq: 7 INVITE\r\n"
	    "Contact: <sip:bob@127.0.0.1:%u>\r\n"
	    "Content-Type: application/sdp\r\n"
	    "Content-Length: %zu\r\n\r\n%s",
	    c.local_port, c.local_port, strlen(sdp), sdp);
	cr_assert_eq(sipcli_send(&c, req, (size_t)n), 0);
	cr_assert(datagram_within(ngfd, 3000), "the offer went to rtpengine");
	n = snprintf(
	    req, sizeof(req),
	    "CANCEL sip:alice@localhost SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:%u;rport;branch=z9hG4bKheld1\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: <sip:bob@localhost>;tag=b1\r\n"
	    "To: <sip:alice@localhost>\r\n"
	    "Call-ID: held-cancel@test\r\n"
	    "CSeq: 7 CANCEL\r\n"
	    "Content-Length: 0\r\n\r\n",
	    c.local_port);
	cr_assert_eq(sipcli_send(&c, req, (size_t)n), 0);
	/* The 100 of the INVITE, the CANCEL's 200, the INVITE's 487;
	 * bounded well inside the 2 s rtpengine wait. */
	for (t0 = ms_now(); !(ok200 && got487) && ms_now() - t0 < 1500;) {
		if (sipcli_recv_msg(&c, &r, 200) != 0 || r.m.is_request)
			continue;
		if (r.m.cseq_method == SIP_CANCEL)
			ok200 = r.m.status == 200;
		if (r.m.cseq_method == SIP_INVITE && r.m.status >= 200) {
			got487 = r.m.status == 487;
			snprintf(to_tag, sizeof(to_tag), "%.*s",
				 (int)r.m.to_tag.len, r.m.to_tag.p);
		}
	}
	cr_assert(ok200, "200 for the CANCEL");
	cr_assert(got487, "487 for the INVITE before rtpengine's wait ends");
	n = snprintf(
	    req, sizeof(req),
	    "ACK sip:alice@localhost SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:%u;rport;branch=z9hG4bKheld1\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: <sip:bob@localhost>;tag=b1\r\n"
	    "To: <sip:alice@localhost>;tag=%s\r\n"
	    "Call-ID: held-cancel@test\r\n"
	    "CSeq: 7 ACK\r\n"
	    "Content-Length: 0\r\n\r\n",
	    c.local_port, to_tag);
	cr_assert_eq(sipcli_send(&c, req, (size_t)n), 0);
	/* rtpengine's wait (2 x 1 s) ends meanwhile: nothing goes on. */
	cr_assert_not(datagram_within(uas, 3500), "the callee never rang");
	cr_assert_eq(metric("offers_total"), 1);
	cr_assert_eq(metric("timeouts_total"), 1, "the wait did end");
	cr_assert_eq(sipcli_recv_msg(&c, &r, 200), -ETIMEDOUT,
		     "nothing more for the caller: %.300s", r.buf);
	sipcli_close(&c);
	close(uas);
	close(ngfd);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* How many calls rtpengine at @p port has now (ng "list"). */
static int calls_at(uint16_t port)
{
	static const char dict[] = "d7:command4:list5:limiti200ee";
	char out[16384], *p;
	int n = 0;

	if (rtpe_ng(port, dict, sizeof(dict) - 1, out, sizeof(out), 2000) <= 0)
		return -1;
	p = strstr(out, "5:callsl");
	if (!p)
		return -1;
	/* Bounded by the answer's length: each entry is LEN:ID. */
	for (p += 8; *p && *p != 'e';) {
		char *colon;
		long len = strtol(p, &colon, 10);

		if (*colon != ':' || len < 0 || len > (long)strlen(colon + 1))
			return -1;
		p = colon + 1 + len;
		n++;
	}
	return n;
}

/*
 * Two rtpengines; calls are spread over them by Call-ID. One is
 * SIGKILLed while it carries calls: every new call still succeeds
 * (on_failure: fail, so a success means an rtpengine answered its
 * offer): those hashed to the dead one wait one timeout and go on to
 * the other, which takes them all while the dead one is marked down;
 * the calls in progress end normally (only their media is lost).
 */
Test(rtpengine, a_dead_rtpengine_fails_over_to_the_next_and_blocks_no_call)
{
	char yaml[1024];
	struct sipp_cmd c;
	uint16_t uas2_port;
	int on_a = -1, on_b = -1, status;
	long long t0;

	cr_assert_eq(rtpe_start(&rtpe), 0, "rtpengine A started");
	cr_assert_eq(rtpe_start(&rtpe2), 0, "rtpengine B started");
	cr_assert_eq(proc_free_port("127.0.0.1", &uas2_port), 0);
	snprintf(yaml, sizeof(yaml),
		 "locations:\n  - aor: alice@localhost\n"
		 "    contacts: [\"sip:alice@127.0.0.1:%u\"]\n"
		 "  - aor: bob@localhost\n"
		 "    contacts: [\"sip:bob@127.0.0.1:%u\"]\n"
		 "media:\n  enabled: true\n"
		 "  rtpengine:\n    - address: \"127.0.0.1:%u\"\n"
		 "    - address: \"127.0.0.1:%u\"\n"
		 "  timeout_ms: 300\n  retries: 1\n  down_s: 60\n"
		 "  on_failure: fail\n",
		 uas_port, uas2_port, rtpe.ng_port, rtpe2.ng_port);
	cr_assert_eq(proc_sipedge_start(&sp, "127.0.0.1", 1, yaml), 0, "%s",
		     sp.why);
	/* alice answers after 8 s: her 10 calls stay in rtpengine. */
	sipp_cmd_uas(&c, "uas_call.xml", uas_port, "u1");
	sipp_cmd_args(&c, "-m", "10", "-d", "8000", NULL);
	sipp_cmd_errors(&c, "uas");
	uas_pid = sipp_spawn(c.argv, sp.dir, "uas");
	sipp_bound(uas_port, "u1");
	sipp_cmd_uas(&c, "uas_call.xml", uas2_port, "u1");
	sipp_cmd_args(&c, "-m", "40", NULL);
	sipp_cmd_errors(&c, "uas2");
	more_pid[0] = sipp_spawn(c.argv, sp.dir, "uas2");
	sipp_bound(uas2_port, "u1");
	sipp_cmd_uac(&c, "uac_call.xml", sp.port, 0, "u1");
	sipp_cmd_args(&c, "-s", "alice", "-key", "domain", "localhost", "-m",
		      "10", "-r", "20", "-l", "10", "-timeout", "40s",
		      "-timeout_error", NULL);
	sipp_cmd_errors(&c, "uac");
	uac_pid = sipp_spawn(c.argv, sp.dir, "uac");
	/* Bounded: 5 s for the 10 offers to be answered. */
	for (t0 = ms_now(); ms_now() - t0 < 5000; ms_sleep(100)) {
		on_a = calls_at(rtpe.ng_port);
		on_b = calls_at(rtpe2.ng_port);
		if (on_a + on_b == 10)
			break;
	}
	cr_assert_eq(on_a + on_b, 10, "calls at A %d, at B %d", on_a, on_b);
	cr_assert(on_a > 0 && on_b > 0, "not spread: A %d, B %d", on_a, on_b);
	/* A dies with its calls. */
	cr_assert_eq(kill(rtpe.pid, SIGKILL), 0);
	cr_assert_eq(proc_wait(rtpe.pid, 5000, &status), 0);
	rtpe.pid = 0;
	/* 40 new calls at 20/s while alice's are still up: all succeed. */
	sipp_cmd_uac(&c, "uac_call.xml", sp.port, 0, "u1");
	sipp_cmd_args(&c, "-s", "bob", "-key", "domain", "localhost", "-m",
		      "40", "-r", "20", "-l", "20", "-timeout", "40s",
		      "-timeout_error", NULL);
	sipp_cmd_errors(&c, "uac2");
	more_pid[1] = sipp_spawn(c.argv, sp.dir, "uac2");
	sipp_ok(&more_pid[1], 60000, sp.dir, "uac2", sp.log);
	sipp_ok(&more_pid[0], 10000, sp.dir, "uas2", NULL);
	cr_assert_geq(calls_at(rtpe2.ng_port), on_b,
		      "B still has its own calls");
	/* alice's calls end normally: signalling never needed A. */
	sipp_ok(&uac_pid, 60000, sp.dir, "uac", sp.log);
	sipp_ok(&uas_pid, 10000, sp.dir, "uas", NULL);
	cr_assert_geq(metric("failovers_total"), 1, "A's death was seen");
	cr_assert_geq(metric("retransmissions_total"), 1);
	cr_assert_eq(metric("timeouts_total"), 0, "B answered every one");
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/*
 * The checks of a call anchored in rtpengine, whatever carried its
 * offer and answer: the caller was told rtpengine's address and a port
 * of its range (its SIPp logs "uac-media CALL-ID IP PORT" from the
 * message that brought it rtpengine's SDP), so was the callee ("uas-media
 * IP PORT"); rtpengine has the call; RTP sent by each UA to the port it
 * was given reaches the other. *yp: the caller's port, *xp the callee's.
 */
static void anchored_call(char *call_id, size_t size, unsigned *yp,
			  unsigned *xp)
{
	char uas_media[128], uac_media[256], ans[8192], cid[160];
	char cip_a[32], cip_b[32];
	unsigned seen_by_b, seen_by_a, x = 0, y = 0;

	wait_line("uas_media.log", "uas-media ", uas_media, sizeof(uas_media));
	cr_assert_eq(sscanf(uas_media, "%31s %u", cip_b, &x), 2, "%s",
		     uas_media);
	wait_line("uac_media.log", "uac-media ", uac_media, sizeof(uac_media));
	cr_assert_eq(sscanf(uac_media, "%159s %31s %u", cid, cip_a, &y), 3,
		     "%s", uac_media);
	cr_assert_str_eq(cip_a, "127.0.0.1");
	cr_assert_str_eq(cip_b, "127.0.0.1");
	cr_assert(x >= rtpe.port_min && x <= rtpe.port_max,
		  "callee sees rtpengine's port, got %u", x);
	cr_assert(y >= rtpe.port_min && y <= rtpe.port_max,
		  "caller sees rtpengine's port, got %u", y);
	cr_assert_neq(x, y);
	query(cid, ans, sizeof(ans));
	cr_assert(strstr(ans, "6:result2:ok"), "query: %s", ans);
	seen_by_b = rtp_through(fd_a, (uint16_t)y, fd_b, 25);
	seen_by_a = rtp_through(fd_b, (uint16_t)x, fd_a, 25);
	cr_log_info("RTP through rtpengine: A->B %u of 25, B->A %u of 25; "
		    "ports: caller sees %u, callee sees %u",
		    seen_by_b, seen_by_a, y, x);
	cr_assert_geq(seen_by_b, 20, "A -> rtpengine -> B: %u of 25",
		      seen_by_b);
	cr_assert_geq(seen_by_a, 20, "B -> rtpengine -> A: %u of 25",
		      seen_by_a);
	cr_assert_lt(strlen(cid), size);
	strcpy(call_id, cid);
	*yp = y;
	*xp = x;
}

/* After the BYE: rtpengine's call is gone (--delete-delay=0). */
static void deleted(const char *call_id)
{
	char ans[8192];
	int i;

	for (i = 0; i < 50; i++) {
		query(call_id, ans, sizeof(ans));
		if (strstr(ans, "Unknown call-id"))
			break;
		ms_sleep(20); /* the delete is on its way */
	}
	cr_assert(strstr(ans, "Unknown call-id"), "after BYE: %s", ans);
}

/*
 * Late offer (RFC 3261 §13.2.1): the INVITE has no SDP, the callee's
 * 200 carries the offer and the caller's ACK the answer. The 200's SDP
 * goes to rtpengine as an offer from the callee, the ACK's as its
 * answer: both UAs are given rtpengine's ports and RTP flows both ways.
 */
Test(rtpengine, late_offer_in_the_200_and_answer_in_the_ack_are_anchored)
{
	char call_id[160];
	unsigned y = 0, x = 0;

	cr_assert_eq(rtpe_start(&rtpe), 0, "rtpengine started");
	start(rtpe.ng_port, "");
	uas_start_with("uas_rtpe_late.xml");
	uac_start("uac_rtpe_late.xml", 3000);
	anchored_call(call_id, sizeof(call_id), &y, &x);
	sipp_ok(&uac_pid, 30000, sp.dir, "uac", sp.log);
	sipp_ok(&uas_pid, 10000, sp.dir, "uas", NULL);
	deleted(call_id);
	cr_assert_eq(metric("offers_total"), 1, "the 200's");
	cr_assert_eq(metric("answers_total"), 1, "the ACK's");
	cr_assert_eq(metric("deletes_total"), 1);
	cr_assert_eq(metric("errors_total"), 0);
	cr_assert_eq(metric("held"), 0);
	cr_assert_eq(metric("calls"), 0);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/*
 * RFC 3262: the answer to the INVITE's offer comes in a reliable 183
 * (Require: 100rel, RSeq); the caller PRACKs it. The 183's SDP reaching
 * the caller names rtpengine; then an UPDATE offer in the early dialog
 * and its 200's answer (RFC 3311) go through rtpengine too, keeping the
 * ports; the 200 repeating the 183's answer names the same port.
 */
Test(rtpengine, answer_in_a_reliable_183_and_an_early_update_are_anchored)
{
	char call_id[160], line[64];
	unsigned y = 0, x = 0;

	cr_assert_eq(rtpe_start(&rtpe), 0, "rtpengine started");
	start(rtpe.ng_port, "");
	uas_start_with("uas_rtpe_183.xml");
	uac_start("uac_rtpe_183.xml", 3000);
	wait_line("uac_media.log", "uac-200 ", line, sizeof(line));
	anchored_call(call_id, sizeof(call_id), &y, &x);
	cr_assert_eq((unsigned)atoi(line), y, "the 200's answer: %s", line);
	wait_line("uac_media.log", "uac-update ", line, sizeof(line));
	cr_assert_eq((unsigned)atoi(line), y, "the UPDATE's answer: %s", line);
	wait_line("uas_media.log", "uas-update ", line, sizeof(line));
	cr_assert_eq((unsigned)atoi(line), x, "the UPDATE's offer: %s", line);
	sipp_ok(&uac_pid, 30000, sp.dir, "uac", sp.log);
	sipp_ok(&uas_pid, 10000, sp.dir, "uas", NULL);
	deleted(call_id);
	cr_assert_eq(metric("offers_total"), 2, "the INVITE's, the UPDATE's");
	cr_assert_eq(metric("answers_total"), 3,
		     "the 183's, the UPDATE's 200, the INVITE's 200");
	cr_assert_eq(metric("errors_total"), 0);
	cr_assert_eq(metric("calls"), 0);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/*
 * RFC 3262 §5: a late offer in a reliable 183, its answer in the PRACK;
 * the 200 repeats the offer (rtpengine gives the same port again) and
 * the ACK has no body. RTP flows both ways after the 200.
 */
Test(rtpengine, late_offer_in_a_reliable_183_and_answer_in_the_prack)
{
	char call_id[160], line[64];
	unsigned y = 0, x = 0;

	cr_assert_eq(rtpe_start(&rtpe), 0, "rtpengine started");
	start(rtpe.ng_port, "");
	uas_start_with("uas_rtpe_late183.xml");
	uac_start("uac_rtpe_late183.xml", 3000);
	wait_line("uac_media.log", "uac-200 ", line, sizeof(line));
	anchored_call(call_id, sizeof(call_id), &y, &x);
	cr_assert_eq((unsigned)atoi(line), y, "the 200's offer: %s", line);
	sipp_ok(&uac_pid, 30000, sp.dir, "uac", sp.log);
	sipp_ok(&uas_pid, 10000, sp.dir, "uas", NULL);
	deleted(call_id);
	cr_assert_eq(metric("offers_total"), 2, "the 183's, the 200's");
	cr_assert_eq(metric("answers_total"), 1, "the PRACK's");
	cr_assert_eq(metric("errors_total"), 0);
	cr_assert_eq(metric("calls"), 0);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* rtpengine, sipedge with a route to trunk.example (the UAS) with
 * srtp: @p mode, the UAS and UAC of those scenarios calling it. */
static void start_srtp(const char *mode, const char *uas, const char *uac)
{
	char yaml[1024];
	struct sipp_cmd c;

	cr_assert_eq(rtpe_start(&rtpe), 0, "rtpengine started");
	snprintf(yaml, sizeof(yaml),
		 "routes:\n  - domain: trunk.example\n"
		 "    next_hop: [\"sip:127.0.0.1:%u\"]\n"
		 "    srtp: %s\n"
		 "media:\n  enabled: true\n"
		 "  rtpengine:\n    - address: \"127.0.0.1:%u\"\n",
		 uas_port, mode, rtpe.ng_port);
	cr_assert_eq(proc_sipedge_start(&sp, "127.0.0.1", 1, yaml), 0, "%s",
		     sp.why);
	uas_start_with(uas);
	sipp_cmd_uac(&c, uac, sp.port, 0, "u1");
	sipp_cmd_args(&c, "-s", "alice", "-key", "domain", "trunk.example",
		      NULL);
	sipp_cmd_args(&c, "-key", "mport", NULL);
	sipp_cmd_arg(&c, "%u", port_a);
	sipp_cmd_opt(&c, "-d", "%u", 1000);
	sipp_cmd_args(&c, "-m", "1", "-trace_logs", "-log_file",
		      "uac_media.log", "-timeout", "30s", "-timeout_error",
		      NULL);
	sipp_cmd_errors(&c, "uac");
	uac_pid = sipp_spawn(c.argv, sp.dir, "uac");
}

/*
 * routes[].srtp: sdes: rtpengine offers the trunk RTP/SAVP with an
 * a=crypto key (RFC 4568) while the caller keeps plain RTP/AVP both
 * ways. SIPp speaks no SRTP: the SDPs and rtpengine's session are
 * checked, not audio.
 */
Test(rtpengine, a_route_with_srtp_sdes_gets_rtp_savp_and_a_crypto_key)
{
	char line[256], call_id[160], proto[32], ans[16384];
	unsigned port = 0;

	start_srtp("sdes", "uas_rtpe_sdes.xml", "uac_rtpe_srtp.xml");
	/* The trunk's side: SRTP keyed by SDES, at rtpengine. */
	wait_line("uas_media.log", "uas-proto ", line, sizeof(line));
	cr_assert_eq(sscanf(line, "%u %31s", &port, proto), 2, "%s", line);
	cr_assert_str_eq(proto, "RTP/SAVP");
	cr_assert(port >= rtpe.port_min && port <= rtpe.port_max, "%u", port);
	wait_line("uas_media.log", "uas-crypto ", line, sizeof(line));
	cr_assert_gt(atoi(line), 0, "a=crypto tag: '%s'", line);
	/* The caller's side: plain RTP, no key. */
	wait_line("uac_media.log", "uac-proto ", line, sizeof(line));
	cr_assert_eq(sscanf(line, "%159s %u %31s", call_id, &port, proto), 3,
		     "%s", line);
	cr_assert_str_eq(proto, "RTP/AVP");
	cr_assert(port >= rtpe.port_min && port <= rtpe.port_max, "%u", port);
	wait_line("uac_media.log", "uac-crypto", line, sizeof(line));
	cr_assert_eq(strstr(line, "a=crypto"), NULL, "caller got: %s", line);
	/* rtpengine bridges the two profiles in one call. */
	query(call_id, ans, sizeof(ans));
	cr_assert(strstr(ans, "8:protocol8:RTP/SAVP") &&
		      strstr(ans, "8:protocol7:RTP/AVP"),
		  "query: %s", ans);
	sipp_ok(&uac_pid, 30000, sp.dir, "uac", sp.log);
	sipp_ok(&uas_pid, 10000, sp.dir, "uas", NULL);
	deleted(call_id);
	cr_assert_eq(metric("errors_total"), 0);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/*
 * routes[].srtp: dtls: the trunk is offered UDP/TLS/RTP/SAVP with a
 * DTLS fingerprint and no SDES key. SIPp cannot do DTLS and refuses the
 * offer (488): rtpengine's call goes with the failure.
 */
Test(rtpengine, a_route_with_srtp_dtls_gets_udp_tls_rtp_savp_and_a_fingerprint)
{
	char line[256], proto[32];
	unsigned port = 0;
	int i, n = -1;

	start_srtp("dtls", "uas_rtpe_dtls.xml", "uac_rtpe_488.xml");
	wait_line("uas_media.log", "uas-proto ", line, sizeof(line));
	cr_assert_eq(sscanf(line, "%u %31s", &port, proto), 2, "%s", line);
	cr_assert_str_eq(proto, "UDP/TLS/RTP/SAVP");
	cr_assert(port >= rtpe.port_min && port <= rtpe.port_max, "%u", port);
	wait_line("uas_media.log", "uas-fp ", line, sizeof(line));
	cr_assert_gt(strlen(line), 0, "a=fingerprint hash");
	wait_line("uas_media.log", "uas-crypto", line, sizeof(line));
	cr_assert_eq(strstr(line, "a=crypto"), NULL, "the trunk got: %s", line);
	sipp_ok(&uac_pid, 30000, sp.dir, "uac", sp.log);
	sipp_ok(&uas_pid, 10000, sp.dir, "uas", NULL);
	for (i = 0; i < 50 && n != 0; i++) {
		n = calls_at(rtpe.ng_port);
		if (n != 0)
			ms_sleep(20); /* the delete is on its way */
	}
	cr_assert_eq(n, 0, "the refused call is gone from rtpengine");
	cr_assert_eq(metric("deletes_total"), 1);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/*
 * An INVITE whose offer rtpengine answered but which the route then
 * answers itself (bob has no binding: 480) is never forwarded, so no
 * transaction reports its failure: its rtpengine call goes at once, not
 * at the sweep minutes later.
 */
Test(rtpengine, an_offer_the_route_answers_itself_is_deleted_at_once)
{
	static struct sipcli_msg r;
	struct sipcli c;
	char req[2048];
	const char *sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"
			  "c=IN IP4 127.0.0.1\r\nt=0 0\r\n"
			  "m=audio 40000 RTP/AVP 0\r\n";
	unsigned final = 0;
	int n, i, calls = -1;
	long long t0;

	cr_assert_eq(rtpe_start(&rtpe), 0, "rtpengine started");
	start(rtpe.ng_port, "");
	cr_assert_eq(sipcli_open_udp(&c, "127.0.0.1", sp.port), 0);
	n = snprintf(
	    req, sizeof(req),
	    "INVITE sip:bob@localhost SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:%u;rport;branch=z9hG4bKnobody1\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: <sip:carol@localhost>;tag=c1\r\n"
	    "To: <sip:bob@localhost>\r\n"
	    "Call-ID: no-binding@test\r\n"
	    "CSeq: 1 INVITE\r\n"
	    "Contact: <sip:carol@127.0.0.1:%u>\r\n"
	    "Content-Type: application/sdp\r\n"
	    "Content-Length: %zu\r\n\r\n%s",
	    c.local_port, c.local_port, strlen(sdp), sdp);
	cr_assert_eq(sipcli_send(&c, req, (size_t)n), 0);
	for (t0 = ms_now(); !final && ms_now() - t0 < 5000;)
		if (sipcli_recv_msg(&c, &r, 200) == 0 && !r.m.is_request &&
		    r.m.status >= 200)
			final = r.m.status;
	cr_assert(final == 404 || final == 480, "final: %u", final);
	for (i = 0; i < 50 && calls != 0; i++) {
		calls = calls_at(rtpe.ng_port);
		if (calls != 0)
			ms_sleep(20); /* the delete is on its way */
	}
	cr_assert_eq(calls, 0, "rtpengine still has the call");
	cr_assert_eq(metric("offers_total"), 1);
	cr_assert_eq(metric("deletes_total"), 1);
	cr_assert_eq(metric("calls"), 0);
	sipcli_close(&c);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}
