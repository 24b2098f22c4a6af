/* tests/integration/test_dns.c - next hops that are names (RFC 3263):
 * a real dnsmasq on a loopback port serves NAPTR, SRV and A records,
 * sipedge's c-ares asks it; real SIPp callees and hand-made ones */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proxy/sip/msg.h"
#include "tests/common/mgmtcli.h"
#include "tests/common/proc.h"
#include "tests/common/sipcli.h"
#include "tests/common/sipp.h"

#define WAIT_MS 5000
#define MAX_UAS 2

static struct proc_sipedge sp;
static pid_t uas_pid[MAX_UAS], uac_pid, dns_pid;
static uint16_t uas_port[MAX_UAS], dns_port;
static struct sipcli uac, uas[MAX_UAS];
static struct sipcli_msg *rx;
static int silent_fd = -1;
static const char *dns_more; /* more dns: keys for start() */

static void setup(void)
{
	memset(&sp, 0, sizeof(sp));
	memset(uas_pid, 0, sizeof(uas_pid));
	uac_pid = dns_pid = 0;
	dns_more = "";
	uac.fd = -1;
	for (int i = 0; i < MAX_UAS; i++) {
		uas[i].fd = -1;
		cr_assert_eq(proc_free_port("127.0.0.1", &uas_port[i]), 0);
	}
	cr_assert_eq(proc_free_port("127.0.0.1", &dns_port), 0);
	rx = malloc(sizeof(*rx));
	cr_assert_not_null(rx);
	cr_assert_eq(proc_tmpdir(sp.dir, sizeof(sp.dir)), 0);
}

static void teardown(void)
{
	for (int i = 0; i < MAX_UAS; i++) {
		if (uas_pid[i] > 0)
			proc_kill(uas_pid[i]);
		sipcli_close(&uas[i]);
	}
	if (uac_pid > 0)
		proc_kill(uac_pid);
	if (dns_pid > 0)
		proc_kill(dns_pid);
	if (silent_fd >= 0)
		close(silent_fd);
	silent_fd = -1;
	sipcli_close(&uac);
	free(rx);
	proc_sipedge_cleanup(&sp);
}

TestSuite(dns, .init = setup, .fini = teardown, .timeout = 120);

/* printf into a buffer of its own. */
static const char *tpl(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static const char *tpl(const char *fmt, ...)
{
	static char buf[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	cr_assert(n > 0 && (size_t)n < sizeof(buf));
	return buf;
}

/*
 * (Re)start dnsmasq on 127.0.0.1:dns_port with the records @p records
 * (dnsmasq config lines), TTL @p ttl_s on them. Everything under .test
 * that is not configured is NXDOMAIN (local=/test/), nothing is
 * forwarded (no-resolv: no upstream at all).
 */
static void dns_start(const char *records, unsigned ttl_s)
{
	char path[PROC_PATH_MAX], log[PROC_PATH_MAX], a_port[32], a_conf[600],
	    a_ttl[32];
	/* Debian's dnsmasq-base puts it in /usr/sbin, often not in PATH. */
	char *argv[] = { "/usr/sbin/dnsmasq", "--keep-in-foreground",
			 "--no-resolv", "--no-hosts", "--bind-interfaces",
			 "--listen-address=127.0.0.1",
			 "--pid-file=", "--log-facility=-", "--log-queries",
			 a_port, a_conf, a_ttl,
			 /* As root it would switch to nobody: stay. */
			 geteuid() == 0 ? "--user=root" : NULL, NULL };
	char text[2048];

	if (dns_pid > 0) {
		proc_kill(dns_pid);
		dns_pid = 0;
	}
	snprintf(text, sizeof(text), "local=/test/\n%s", records);
	cr_assert_eq(
	    proc_write_file(sp.dir, "dnsmasq.conf", text, path, sizeof(path)),
	    0);
	snprintf(a_port, sizeof(a_port), "--port=%u", dns_port);
	snprintf(a_conf, sizeof(a_conf), "--conf-file=%s", path);
	snprintf(a_ttl, sizeof(a_ttl), "--local-ttl=%u", ttl_s);
	snprintf(log, sizeof(log), "%s/dnsmasq.log", sp.dir);
	cr_assert_eq(proc_spawn(argv, sp.dir, log, log, &dns_pid), 0,
		     "dnsmasq (Debian's dnsmasq-base) did not start");
	/* dnsmasq binds UDP and TCP on the port; TCP says it is up. */
	cr_assert_eq(proc_wait_bound(dns_port, true, 10000), 0,
		     "dnsmasq did not bind 127.0.0.1:%u", dns_port);
}

/*
 * Start sipedge (@p workers shards) whose DNS is 127.0.0.1:@p dns_at,
 * lookups of @p timeout_ms, with the top-level YAML @p yaml.
 */
static void start(unsigned workers, uint16_t dns_at, unsigned timeout_ms,
		  const char *yaml)
{
	char conf[4096], path[PROC_PATH_MAX];
	char *args[] = { "-c", path, NULL };
	int n, i, st = -1;

	snprintf(sp.host, sizeof(sp.host), "127.0.0.1");
	cr_assert_eq(proc_free_port("127.0.0.1", &sp.port), 0);
	cr_assert_eq(proc_free_port("127.0.0.1", &sp.mgmt_port), 0);
	n = snprintf(conf, sizeof(conf),
		     "workers: %u\nlog_level: info\nlisten:\n"
		     "  - address: 127.0.0.1\n    port: %u\n"
		     "domains: [localhost, 127.0.0.1]\n"
		     "management:\n  listen: [\"127.0.0.1:%u\"]\n"
		     "proxy:\n  t1_ms: 100\n"
		     "dns:\n  servers: [\"127.0.0.1:%u\"]\n"
		     "  timeout_ms: %u\n  attempts: 2\n%s%s",
		     workers, sp.port, sp.mgmt_port, dns_at, timeout_ms,
		     dns_more, yaml);
	cr_assert(n > 0 && (size_t)n < sizeof(conf));
	cr_assert_eq(
	    proc_write_file(sp.dir, "sipedge.yaml", conf, path, sizeof(path)),
	    0);
	cr_assert_eq(proc_sipedge_spawn(&sp, args), 0, "%s", sp.why);
	/* Bounded: 100 pings of at most 100 ms each. */
	for (i = 0; i < 100 && st < 100; i++)
		st = sipcli_ping(sp.host, sp.port, 100);
	cr_assert_geq(st, 100, "sipedge did not answer; config:\n%s", conf);
	/* The management API starts last. */
	cr_assert_eq(proc_wait_bound(sp.mgmt_port, true, 10000), 0);
}

/* The value of sipedge_dns_@p name for shard 0 in /metrics, -1 when
 * absent. */
static long dns_metric(const char *name)
{
	unsigned status = 0;
	char *page = NULL, needle[96], *p;
	long v = -1;

	cr_assert_eq(mgmtcli_http(sp.mgmt_port, "GET", "/metrics", NULL, NULL,
				  &status, &page),
		     0);
	cr_assert_eq(status, 200);
	snprintf(needle, sizeof(needle), "sipedge_dns_%s{shard=\"0\"} ", name);
	p = strstr(page, needle);
	if (p)
		v = strtol(p + strlen(needle), NULL, 10);
	free(page);
	return v;
}

static void stop(void)
{
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

static void uas_start(int i, const char *name, const char *transport,
		      unsigned calls)
{
	struct sipp_cmd c;
	char who[16];

	snprintf(who, sizeof(who), "uas%d", i);
	sipp_cmd_uas(&c, name, uas_port[i], transport);
	sipp_cmd_opt(&c, "-m", "%u", calls);
	sipp_cmd_errors(&c, who);
	uas_pid[i] = sipp_spawn(c.argv, sp.dir, who);
	sipp_bound(uas_port[i], transport);
}

static void uas_done(int i, int ms)
{
	char who[16];

	snprintf(who, sizeof(who), "uas%d", i);
	sipp_ok(&uas_pid[i], ms, sp.dir, who, sp.log);
}

/* SIPp caller: @p calls calls to USER@DOMAIN over UDP; all succeed. */
static void uac_run(const char *user, const char *domain, unsigned calls)
{
	struct sipp_cmd c;

	sipp_cmd_uac(&c, "uac_call.xml", sp.port, 0, "u1");
	sipp_cmd_args(&c, "-s", user, "-key", "domain", domain, NULL);
	sipp_cmd_opt(&c, "-m", "%u", calls);
	sipp_cmd_args(&c, "-r", "5", "-l", "1", "-timeout", "60s",
		      "-timeout_error", NULL);
	sipp_cmd_errors(&c, "uac");
	uac_pid = sipp_spawn(c.argv, sp.dir, "uac");
	sipp_ok(&uac_pid, 60000, sp.dir, "uac", sp.log);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A MESSAGE to @p ruri from the hand-made caller. */
static void send_message(const char *ruri, const char *call_id)
{
	char req[2048];
	int n = sipcli_format(&uac, req, sizeof(req), "MESSAGE", ruri, call_id,
			      true, NULL, NULL);

	cr_assert_gt(n, 0);
	cr_assert_eq(sipcli_send(&uac, req, (size_t)n), 0);
}

/* The final response to Call-ID @p call_id at the caller (bounded by
 * @p ms); returns its status. */
static unsigned final_for(const char *call_id, int ms)
{
	int64_t end = now_ms() + ms;

	/* Bounded: by the deadline, one message per pass. */
	while (now_ms() < end) {
		if (sipcli_recv_msg(&uac, rx, (int)(end - now_ms())))
			break;
		if (!rx->m.is_request && rx->m.status >= 200 &&
		    sipcli_is_call_id(rx, call_id))
			return rx->m.status;
	}
	cr_assert_fail("no final response for %s within %d ms", call_id, ms);
	return 0;
}

/* Hand-made callee @p i answers the next request it gets (bounded)
 * with 200; returns 0, or -ETIMEDOUT when nothing came. */
static int callee_answers(int i, int ms)
{
	char out[4096];
	int o;

	if (sipcli_recv_msg(&uas[i], rx, ms))
		return -ETIMEDOUT;
	cr_assert(rx->m.is_request, "%.60s", rx->buf);
	o = snprintf(out, sizeof(out),
		     "SIP/2.0 200 OK\r\nVia: %.*s\r\nFrom: %.*s\r\n"
		     "To: %.*s;tag=c%d\r\nCall-ID: %.*s\r\nCSeq: %.*s\r\n"
		     "Content-Length: 0\r\n\r\n",
		     (int)sipmsg_hdr(&rx->m, HDR_VIA)->value.len,
		     sipmsg_hdr(&rx->m, HDR_VIA)->value.p,
		     (int)sipmsg_hdr(&rx->m, HDR_FROM)->value.len,
		     sipmsg_hdr(&rx->m, HDR_FROM)->value.p,
		     (int)sipmsg_hdr(&rx->m, HDR_TO)->value.len,
		     sipmsg_hdr(&rx->m, HDR_TO)->value.p, i,
		     (int)sipmsg_hdr(&rx->m, HDR_CALL_ID)->value.len,
		     sipmsg_hdr(&rx->m, HDR_CALL_ID)->value.p,
		     (int)sipmsg_hdr(&rx->m, HDR_CSEQ)->value.len,
		     sipmsg_hdr(&rx->m, HDR_CSEQ)->value.p);
	cr_assert(o > 0 && (size_t)o < sizeof(out));
	cr_assert_eq(sipcli_send(&uas[i], out, (size_t)o), 0);
	return 0;
}

Test(dns, srv_priority_fails_over_from_503_to_the_next_target)
{
	/* trunk.test: two SRV targets, priority 10 (answers 503) and 20. */
	dns_start(tpl("srv-host=_sip._udp.trunk.test,one.trunk.test,%u,10,0\n"
		      "srv-host=_sip._udp.trunk.test,two.trunk.test,%u,20,0\n"
		      "host-record=one.trunk.test,127.0.0.1\n"
		      "host-record=two.trunk.test,127.0.0.1\n",
		      uas_port[0], uas_port[1]),
		  60);
	start(2, dns_port, 500,
	      "routes:\n  - domain: carrier.example\n"
	      "    next_hop: [\"sip:trunk.test\"]\n");
	uas_start(0, "uas_503.xml", "u1", 3);
	uas_start(1, "uas_call.xml", "u1", 3);
	/* By a static route whose next hop is the name. */
	uac_run("carol", "carrier.example", 3);
	uas_done(0, 20000);
	uas_done(1, 20000);
	/* And by the Request-URI's own host. */
	uas_start(0, "uas_503.xml", "u1", 2);
	uas_start(1, "uas_call.xml", "u1", 2);
	uac_run("dave", "trunk.test", 2);
	uas_done(0, 20000);
	uas_done(1, 20000);
	stop();
}

Test(dns, naptr_for_tcp_sends_the_invite_over_tcp)
{
	/* NAPTR says SIP+D2T first (order 10), UDP after (order 20). The
	 * TCP SRV has a name only the NAPTR gives; the UDP one, which the
	 * fallback without NAPTR would find, points where nobody listens:
	 * only NAPTR, in order, reaches the TCP callee. */
	dns_start(
	    tpl("naptr-record=tcp.test,10,10,\"s\",\"SIP+D2T\",\"\","
		"_sip._tcp.via-naptr.tcp.test\n"
		"naptr-record=tcp.test,20,10,\"s\",\"SIP+D2U\",\"\","
		"_sip._udp.tcp.test\n"
		"srv-host=_sip._tcp.via-naptr.tcp.test,h.tcp.test,%u,0,0\n"
		"srv-host=_sip._udp.tcp.test,h.tcp.test,%u,0,0\n"
		"host-record=h.tcp.test,127.0.0.1\n",
		uas_port[0], uas_port[1]),
	    60);
	start(1, dns_port, 500, "");
	uas_start(0, "uas_call.xml", "t1", 3);
	uac_run("erin", "tcp.test", 3);
	uas_done(0, 20000);
	stop();
}

Test(dns, a_new_record_is_used_once_the_ttl_has_passed)
{
	char cid[64];
	int got = -1;

	/* TTL 1 s; the same name first points at callee 0 ... */
	dns_start(tpl("srv-host=_sip._udp.ttl.test,h.ttl.test,%u,0,0\n"
		      "host-record=h.ttl.test,127.0.0.1\n",
		      uas_port[0]),
		  1);
	start(1, dns_port, 500, "");
	cr_assert_eq(sipcli_open_udp(&uac, sp.host, sp.port), 0);
	for (int i = 0; i < MAX_UAS; i++)
		cr_assert_eq(
		    sipcli_open_udp_at(&uas[i], sp.host, sp.port, uas_port[i]),
		    0);
	send_message("sip:frank@ttl.test", "ttl-1");
	cr_assert_eq(callee_answers(0, WAIT_MS), 0);
	cr_assert_eq(final_for("ttl-1", WAIT_MS), 200);
	/* ... then, after a restart, at callee 1. */
	dns_start(tpl("srv-host=_sip._udp.ttl.test,h.ttl.test,%u,0,0\n"
		      "host-record=h.ttl.test,127.0.0.1\n",
		      uas_port[1]),
		  1);
	/* Bounded: 10 requests, 400 ms apart (the TTL is 1 s, kept at
	 * least 1 s by sipedge); one of them must reach callee 1, and
	 * until then they reach callee 0 (the cached answer). */
	for (int i = 0; i < 10 && got != 1; i++) {
		snprintf(cid, sizeof(cid), "ttl-2-%d", i);
		usleep(400 * 1000); /* the TTL running out is the point */
		send_message("sip:frank@ttl.test", cid);
		if (callee_answers(1, 300) == 0)
			got = 1;
		else
			cr_assert_eq(callee_answers(0, WAIT_MS), 0,
				     "request %d reached no callee", i);
		cr_assert_eq(final_for(cid, WAIT_MS), 200);
	}
	cr_assert_eq(got, 1, "the new record was never used");
	stop();
}

Test(dns, a_name_that_does_not_exist_is_404_at_once)
{
	int64_t t0;

	dns_start("host-record=other.test,127.0.0.1\n", 60);
	start(1, dns_port, 500, "");
	cr_assert_eq(sipcli_open_udp(&uac, sp.host, sp.port), 0);
	t0 = now_ms();
	send_message("sip:gina@nowhere.test", "nx-1");
	cr_assert_eq(final_for("nx-1", WAIT_MS), 404);
	cr_log_info("NXDOMAIN answered 404 after %lld ms",
		    (long long)(now_ms() - t0));
	cr_assert_not_null(strstr(rx->buf, "does not resolve"), "%.80s",
			   rx->buf);
	/* NXDOMAIN is an answer: no timeout was waited for. */
	cr_assert_lt(now_ms() - t0, 400, "took %lld ms",
		     (long long)(now_ms() - t0));
	/* Cached (briefly): the second one too. */
	send_message("sip:gina@nowhere.test", "nx-2");
	cr_assert_eq(final_for("nx-2", WAIT_MS), 404);
	cr_assert_geq(dns_metric("nxdomain_total"), 1);
	cr_assert_geq(dns_metric("hits_total"), 1, "nx-2 from the cache");
	cr_assert_eq(dns_metric("failures_total"), 0);
	stop();
}

Test(dns, a_silent_dns_costs_its_own_calls_only)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int64_t t0, t_ip;
	unsigned st;

	/* A DNS server that never answers: a bound socket nobody reads. */
	silent_fd = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert_geq(silent_fd, 0);
	sa.sin_port = htons(dns_port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(silent_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	/* One shard: the held request and the IP one share its loop. */
	start(1, dns_port, 300,
	      tpl("routes:\n  - domain: ip.example\n"
		  "    next_hop: [\"sip:127.0.0.1:%u\"]\n",
		  uas_port[0]));
	cr_assert_eq(sipcli_open_udp(&uac, sp.host, sp.port), 0);
	cr_assert_eq(sipcli_open_udp_at(&uas[0], sp.host, sp.port, uas_port[0]),
		     0);
	t0 = now_ms();
	send_message("sip:hal@silent.test", "silent-1");
	/* Meanwhile a request to an IP next hop goes through at once. */
	send_message("sip:ivy@ip.example", "ip-1");
	cr_assert_eq(callee_answers(0, WAIT_MS), 0);
	cr_assert_eq(final_for("ip-1", WAIT_MS), 200);
	t_ip = now_ms() - t0;
	/* 300 ms, then 600 ms (c-ares doubles): about 0.9 s per name. */
	st = final_for("silent-1", 10000);
	cr_assert_eq(st, 503);
	cr_log_info("IP next hop answered after %lld ms; silent DNS 503 "
		    "after %lld ms",
		    (long long)t_ip, (long long)(now_ms() - t0));
	cr_assert_not_null(strstr(rx->buf, "DNS"), "%.80s", rx->buf);
	cr_assert_lt(t_ip, now_ms() - t0, "the IP request waited for the DNS");
	cr_assert_geq(dns_metric("failures_total"), 1);
	cr_assert_eq(dns_metric("answers_total"), 0);
	cr_assert_eq(dns_metric("waiting"), 0);
	stop();
}

/*
 * A CANCEL for an INVITE held for DNS (nothing sent downstream yet):
 * 200 for it, 487 for the INVITE at once (RFC 3261 §9.2, §16.10), and
 * when the lookups end (here in failure) nothing more: no 503, no
 * forward.
 */
Test(dns, cancel_while_held_for_dns_answers_487_and_nothing_after)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char req[2048];
	bool ok200 = false, got487 = false;
	int64_t t0;
	int n;

	silent_fd = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert_geq(silent_fd, 0);
	sa.sin_port = htons(dns_port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(silent_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	start(1, dns_port, 300, "");
	cr_assert_eq(sipcli_open_udp(&uac, sp.host, sp.port), 0);
	n = snprintf(req, sizeof(req),
		     "INVITE sip:hal@silent.test SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP 127.0.0.1:%u;rport;branch=z9hG4bKdc1\r\n"
		     "Max-Forwards: 70\r\n"
		     "From: <sip:bob@localhost>;tag=b1\r\n"
		     "To: <sip:hal@silent.test>\r\n"
		     "Call-ID: dns-cancel@test\r\n"
		     "CSeq: 3 INVITE\r\n"
		     "Contact: <sip:bob@127.0.0.1:%u>\r\n"
		     "Content-Length: 0\r\n\r\n",
		     uac.local_port, uac.local_port);
	cr_assert_eq(sipcli_send(&uac, req, (size_t)n), 0);
	/* Its 100: held (the DNS never answers). */
	cr_assert_eq(sipcli_recv_msg(&uac, rx, WAIT_MS), 0);
	cr_assert_eq(rx->m.status, 100, "%.80s", rx->buf);
	n = snprintf(req, sizeof(req),
		     "CANCEL sip:hal@silent.test SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP 127.0.0.1:%u;rport;branch=z9hG4bKdc1\r\n"
		     "Max-Forwards: 70\r\n"
		     "From: <sip:bob@localhost>;tag=b1\r\n"
		     "To: <sip:hal@silent.test>\r\n"
		     "Call-ID: dns-cancel@test\r\n"
		     "CSeq: 3 CANCEL\r\n"
		     "Content-Length: 0\r\n\r\n",
		     uac.local_port);
	cr_assert_eq(sipcli_send(&uac, req, (size_t)n), 0);
	/* Bounded: well inside the 0.9 s the lookups take. */
	for (t0 = now_ms(); !(ok200 && got487) && now_ms() - t0 < 700;) {
		if (sipcli_recv_msg(&uac, rx, 100) != 0 || rx->m.is_request)
			continue;
		if (rx->m.cseq_method == SIP_CANCEL)
			ok200 = rx->m.status == 200;
		if (rx->m.cseq_method == SIP_INVITE && rx->m.status >= 200)
			got487 = rx->m.status == 487;
	}
	cr_assert(ok200, "200 for the CANCEL");
	cr_assert(got487, "487 for the INVITE before the lookups ended");
	/* The lookups fail meanwhile: no 503 follows the 487. */
	cr_assert_eq(sipcli_recv_msg(&uac, rx, 2000), -ETIMEDOUT,
		     "nothing more: %.200s", rx->buf);
	stop();
}

/* Lines of dnsmasq's log (--log-queries) that contain @p needle. */
static unsigned dns_log_count(const char *needle)
{
	char path[PROC_PATH_MAX], *text = NULL;
	unsigned n = 0;

	snprintf(path, sizeof(path), "%s/dnsmasq.log", sp.dir);
	cr_assert_eq(proc_read_file(path, &text), 0);
	for (const char *p = text; (p = strstr(p, needle)); p++)
		n++;
	free(text);
	return n;
}

Test(dns, a_burst_for_one_name_makes_one_query_per_record)
{
	enum { N = 40 };
	char cid[32];
	unsigned ok = 0;

	dns_start(tpl("srv-host=_sip._udp.burst.test,h.burst.test,%u,0,0\n"
		      "host-record=h.burst.test,127.0.0.1\n",
		      uas_port[0]),
		  60);
	/* One shard: one resolver, one cache. */
	start(1, dns_port, 500, "");
	cr_assert_eq(sipcli_open_udp(&uac, sp.host, sp.port), 0);
	cr_assert_eq(sipcli_open_udp_at(&uas[0], sp.host, sp.port, uas_port[0]),
		     0);
	for (int i = 0; i < N; i++) {
		snprintf(cid, sizeof(cid), "burst-%d", i);
		send_message("sip:kim@burst.test", cid);
	}
	/* Bounded: N requests, each answered once. */
	for (int i = 0; i < N; i++)
		cr_assert_eq(callee_answers(0, WAIT_MS), 0, "request %d", i);
	/* Bounded: at most 4 N messages (finals and 100s), WAIT_MS each. */
	for (int i = 0; i < 4 * N && ok < N; i++) {
		if (sipcli_recv_msg(&uac, rx, WAIT_MS))
			break;
		if (!rx->m.is_request && rx->m.status == 200 &&
		    !strncmp(rx->m.call_id.p, "burst-", 6))
			ok++;
	}
	cr_assert_eq(ok, N, "%u of %d answered 200", ok, N);
	/* Held together, resolved once: NAPTR, the SRV that exists and A
	 * each asked once (the cache and the shared in-flight entry). */
	cr_assert_eq(dns_log_count("query[NAPTR] burst.test"), 1);
	cr_assert_eq(dns_log_count("query[SRV] _sip._udp.burst.test"), 1);
	cr_assert_eq(dns_log_count("query[A] h.burst.test"), 1);
	/* The counters say the same: as many queries as dnsmasq logged,
	 * every request after the first from the cache. */
	cr_assert_eq(dns_metric("queries_total"),
		     (long)dns_log_count("query["));
	cr_assert_geq(dns_metric("answers_total"), 2, "SRV and A");
	cr_assert_geq(dns_metric("nxdomain_total"), 1, "no NAPTR records");
	cr_assert_geq(dns_metric("hits_total"), N);
	cr_assert_eq(dns_metric("waiting"), 0);
	cr_assert_geq(dns_metric("cached"), 3);
	stop();
}

Test(dns, a_flood_of_names_is_refused_once_the_cache_is_full_of_lookups)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	enum { N = 24 };
	char ruri[64], cid[32];
	unsigned refused = 0;
	int64_t t0;

	/* A DNS that never answers: every lookup stays under way. */
	silent_fd = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert_geq(silent_fd, 0);
	sa.sin_port = htons(dns_port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(silent_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	/* 16 answers (the least cache_max) and lookups of 2 s and more. */
	dns_more = "  cache_max: 16\n";
	start(1, dns_port, 2000, "");
	cr_assert_eq(sipcli_open_udp(&uac, sp.host, sp.port), 0);
	t0 = now_ms();
	for (int i = 0; i < N; i++) {
		snprintf(ruri, sizeof(ruri), "sip:x@n%d.flood.test", i);
		snprintf(cid, sizeof(cid), "flood-%d", i);
		send_message(ruri, cid);
	}
	/* Bounded: N 503s at most, within 1 s; the first 16 names wait
	 * for their (silent) DNS, the others are refused at once. */
	while (now_ms() - t0 < 1000 && refused < N) {
		if (sipcli_recv_msg(&uac, rx, 200))
			continue;
		if (!rx->m.is_request && rx->m.status == 503)
			refused++;
	}
	cr_assert_eq(refused, N - 16, "%u refused at once", refused);
	/* Counted per lookup refused (each request asks for more than
	 * one name: NAPTR, then SRV). */
	cr_assert_geq(dns_metric("refused_total"), N - 16);
	cr_assert_eq(dns_metric("waiting"), 16);
	/* Those held get their 503 once the DNS gives up. */
	cr_assert_eq(final_for("flood-0", 15000), 503);
	stop();
}

/* Which hand-made callee got the next request (it answers 200), or -1
 * when none did within @p ms. */
static int which_callee(int ms)
{
	struct pollfd pf[MAX_UAS];

	for (int i = 0; i < MAX_UAS; i++)
		pf[i] = (struct pollfd){ .fd = uas[i].fd, .events = POLLIN };
	if (poll(pf, MAX_UAS, ms) <= 0)
		return -1;
	for (int i = 0; i < MAX_UAS; i++)
		if (pf[i].revents & POLLIN)
			return callee_answers(i, ms) == 0 ? i : -1;
	return -1;
}

Test(dns, srv_weights_share_one_priority_as_rfc_2782_says)
{
	enum { N = 100 };
	unsigned hits[MAX_UAS] = { 0 };
	char cid[32];

	/* One priority, weights 80 and 20. */
	dns_start(tpl("srv-host=_sip._udp.weight.test,a.weight.test,%u,5,80\n"
		      "srv-host=_sip._udp.weight.test,b.weight.test,%u,5,20\n"
		      "host-record=a.weight.test,127.0.0.1\n"
		      "host-record=b.weight.test,127.0.0.1\n",
		      uas_port[0], uas_port[1]),
		  60);
	start(1, dns_port, 500, "");
	cr_assert_eq(sipcli_open_udp(&uac, sp.host, sp.port), 0);
	for (int i = 0; i < MAX_UAS; i++)
		cr_assert_eq(
		    sipcli_open_udp_at(&uas[i], sp.host, sp.port, uas_port[i]),
		    0);
	/* Bounded: N requests, one after the other, WAIT_MS each. */
	for (int i = 0; i < N; i++) {
		int who;

		snprintf(cid, sizeof(cid), "weight-%d", i);
		send_message("sip:lou@weight.test", cid);
		who = which_callee(WAIT_MS);
		cr_assert_geq(who, 0, "request %d reached no callee", i);
		hits[who]++;
		cr_assert_eq(final_for(cid, WAIT_MS), 200);
	}
	/* Expected 80 / 20 (the order is drawn per request from the cached
	 * records); the bounds are many standard deviations wide. */
	cr_log_info("SRV weights 80/20 gave %u/%u", hits[0], hits[1]);
	cr_assert(hits[0] >= 55 && hits[1] >= 5, "weights 80/20 gave %u/%u",
		  hits[0], hits[1]);
	stop();
}
