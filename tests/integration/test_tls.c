/* tests/integration/test_tls.c - SIP over TLS: listeners, versions, SNI,
 * client certificates, slow handshakes, next hops over TLS */
#include <criterion/criterion.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "proxy/sip/hdr.h"
#include "proxy/sip/msg.h"
#include "tests/common/baresip.h"
#include "tests/common/proc.h"
#include "tests/common/sipcli.h"
#include "tests/common/sipp.h"
#include "tests/common/uahash.h"

/*
 * Peers: `openssl s_client` (Debian's SIPp 3.6.1 is built without TLS,
 * so it cannot be the TLS peer here), and a second sipedge as the TLS
 * next hop. Certificates are made at test time with `openssl req` into
 * the test's directory: a CA, a server certificate for 127.0.0.1
 * (IP SAN), one for a.example (SNI), a client one, one CA-signed for
 * another name, one self-signed for 127.0.0.1.
 */

#define WAIT_MS 10000

static struct proc_sipedge sp, sp2;
static struct sipcli cli;
static struct sipcli_msg *rsp;
static uint16_t tls_port, vc_port;
static char topdir[PROC_PATH_MAX]; /* certificates; a directory per sipedge */

static void setup(void)
{
	memset(&sp, 0, sizeof(sp));
	memset(&sp2, 0, sizeof(sp2));
	cli.fd = -1;
	topdir[0] = '\0';
	rsp = malloc(sizeof(*rsp));
	cr_assert_not_null(rsp);
}

static void teardown(void)
{
	sipcli_close(&cli);
	free(rsp);
	proc_sipedge_cleanup(&sp2);
	proc_sipedge_cleanup(&sp);
	if (topdir[0] && !getenv("SIPEDGE_KEEP_TMP"))
		proc_rmtree(topdir);
}

TestSuite(tls, .init = setup, .fini = teardown, .timeout = 120);

/* Run @p argv in the directory @p dir (bounded); it must exit 0. */
static void run_ok(const char *dir, char *const argv[])
{
	char *out = NULL, *err = NULL, *sh[40];
	unsigned n = 0;
	int rc;

	sh[n++] = "sh";
	sh[n++] = "-c";
	sh[n++] = "cd \"$0\" && exec \"$@\"";
	sh[n++] = (char *)dir;
	for (unsigned i = 0; argv[i] && n < 39; i++)
		sh[n++] = argv[i];
	sh[n] = NULL;
	rc = proc_capture(sh, dir, "cmd", 30000, &out, &err);

	cr_assert_eq(rc, 0, "%s: %d: %s", argv[0], rc, err ? err : "");
	free(out);
	free(err);
}

/* A key and a certificate NAME.pem for @p subj with @p san, signed by
 * the CA (or self-signed when @p self). */
static void make_cert(const char *dir, const char *name, const char *subj,
		      const char *san, bool self)
{
	char key[64], csr[64], pem[64], ext[64], extline[256], path[512];

	snprintf(key, sizeof(key), "%s.key", name);
	snprintf(csr, sizeof(csr), "%s.csr", name);
	snprintf(pem, sizeof(pem), "%s.pem", name);
	snprintf(ext, sizeof(ext), "%s.ext", name);
	snprintf(extline, sizeof(extline), "subjectAltName=%s\n", san);
	cr_assert_eq(proc_write_file(dir, ext, extline, path, sizeof(path)), 0);
	if (self) {
		char *argv[] = { "openssl",
				 "req",
				 "-x509",
				 "-newkey",
				 "ec",
				 "-pkeyopt",
				 "ec_paramgen_curve:prime256v1",
				 "-nodes",
				 "-keyout",
				 key,
				 "-out",
				 pem,
				 "-days",
				 "2",
				 "-subj",
				 (char *)subj,
				 "-addext",
				 extline,
				 NULL };

		/* -addext takes the value without the newline. */
		extline[strlen(extline) - 1] = '\0';
		run_ok(dir, argv);
		return;
	}
	{
		char *req[] = { "openssl",    "req",
				"-newkey",    "ec",
				"-pkeyopt",   "ec_paramgen_curve:prime256v1",
				"-nodes",     "-keyout",
				key,	      "-out",
				csr,	      "-subj",
				(char *)subj, NULL };
		char *sign[] = { "openssl",  "x509",
				 "-req",     "-in",
				 csr,	     "-CA",
				 "ca.pem",   "-CAkey",
				 "ca.key",   "-CAcreateserial",
				 "-out",     pem,
				 "-days",    "2",
				 "-extfile", ext,
				 NULL };

		run_ok(dir, req);
		run_ok(dir, sign);
	}
}

static void make_certs(const char *dir)
{
	char *ca[] = { "openssl",
		       "req",
		       "-x509",
		       "-newkey",
		       "ec",
		       "-pkeyopt",
		       "ec_paramgen_curve:prime256v1",
		       "-nodes",
		       "-keyout",
		       "ca.key",
		       "-out",
		       "ca.pem",
		       "-days",
		       "2",
		       "-subj",
		       "/CN=sipedge test CA",
		       NULL };

	run_ok(dir, ca);
	make_cert(dir, "srv", "/CN=sipedge", "IP:127.0.0.1,DNS:localhost",
		  false);
	make_cert(dir, "a", "/CN=a.example", "DNS:a.example", false);
	make_cert(dir, "client", "/CN=trunk.example", "DNS:trunk.example",
		  false);
	make_cert(dir, "other", "/CN=other.example", "DNS:other.example",
		  false);
	make_cert(dir, "self", "/CN=selfsigned", "IP:127.0.0.1", true);
}

/* Wait until @p p answers an OPTIONS over UDP on its port. */
static void wait_up(struct proc_sipedge *p)
{
	struct sipcli c = { .fd = -1 };
	int st = -1;

	for (int i = 0; i < 100 && st != 200; i++) {
		if (sipcli_open_udp(&c, "127.0.0.1", p->port) == 0)
			st = sipcli_options(&c, 100, NULL);
		sipcli_close(&c);
		if (st != 200) {
			int status;

			cr_assert_neq(proc_wait(p->pid, 0, &status), 0,
				      "sipedge exited early");
		}
	}
	cr_assert_eq(st, 200, "sipedge did not come up");
}

/*
 * Start @p p with UDP+TCP on a free port and the listen entries
 * @p listen_extra (YAML list items), @p extra top-level YAML, in
 * @p dir (where the certificates are).
 */
static void start_in(struct proc_sipedge *p, const char *dir,
		     const char *listen_extra, const char *extra)
{
	char text[4096], path[PROC_PATH_MAX];
	char *args[] = { "-c", path, NULL };
	int n;

	cr_assert_eq(proc_free_port("127.0.0.1", &p->port), 0);
	cr_assert_eq(proc_free_port("127.0.0.1", &p->mgmt_port), 0);
	/* Its own directory for its config and log. */
	cr_assert(strlen(dir) < 200);
	snprintf(p->dir, sizeof(p->dir), "%.200s/se-%u", dir, p->port);
	cr_assert_eq(mkdir(p->dir, 0700), 0, "%s", strerror(errno));
	n = snprintf(text, sizeof(text),
		     "workers: 2\n"
		     "log_level: info\n"
		     "listen:\n"
		     "  - address: 127.0.0.1\n"
		     "    port: %u\n"
		     "%s"
		     "domains: [localhost, 127.0.0.1]\n"
		     "management:\n  listen: [\"127.0.0.1:%u\"]\n"
		     "%s",
		     p->port, listen_extra, p->mgmt_port, extra ? extra : "");
	cr_assert(n > 0 && (size_t)n < sizeof(text));
	cr_assert_eq(
	    proc_write_file(p->dir, "sipedge.yaml", text, path, sizeof(path)),
	    0);
	cr_assert_eq(proc_sipedge_spawn(p, args), 0, "%s", p->why);
	wait_up(p);
}

/* The first sipedge: a TLS listener (SNI for a.example) and one that
 * wants client certificates. */
static void start_main(const char *extra)
{
	const char *dir = topdir;
	char ls[4096];

	cr_assert_eq(proc_tmpdir(topdir, sizeof(topdir)), 0);
	make_certs(dir);
	cr_assert_eq(proc_free_port("127.0.0.1", &tls_port), 0);
	cr_assert_eq(proc_free_port("127.0.0.1", &vc_port), 0);
	snprintf(ls, sizeof(ls),
		 "  - address: 127.0.0.1\n"
		 "    port: %u\n"
		 "    transports: [tls]\n"
		 "    cert: %s/srv.pem\n"
		 "    key: %s/srv.key\n"
		 "    sni:\n"
		 "      - domain: a.example\n"
		 "        cert: %s/a.pem\n"
		 "        key: %s/a.key\n"
		 "  - address: 127.0.0.1\n"
		 "    port: %u\n"
		 "    transports: [tls]\n"
		 "    cert: %s/srv.pem\n"
		 "    key: %s/srv.key\n"
		 "    verify_client: true\n"
		 "    ca: %s/ca.pem\n",
		 tls_port, dir, dir, dir, dir, vc_port, dir, dir, dir);
	start_in(&sp, dir, ls, extra);
}

/*
 * Run `openssl s_client` against @p port with @p opts (space-separated),
 * sending an OPTIONS for us over the TLS connection, and keep its
 * output and stderr. The shell keeps stdin open 2 s so that the answer
 * can come back (s_client ends at end of input).
 */
static int s_client(uint16_t port, const char *opts, char **outp, char **errp)
{
	char cmd[2048];
	char *argv[] = { "sh", "-c", cmd, NULL };

	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && (printf 'OPTIONS sip:127.0.0.1:%u SIP/2.0\\r\\n"
		 "Via: SIP/2.0/TLS 127.0.0.1:9;branch=z9hG4bKtls%ld\\r\\n"
		 "Max-Forwards: 70\\r\\n"
		 "From: <sip:t@127.0.0.1>;tag=1\\r\\nTo: <sip:127.0.0.1>\\r\\n"
		 "Call-ID: tls-%ld\\r\\nCSeq: 1 OPTIONS\\r\\n"
		 "Content-Length: 0\\r\\n\\r\\n'; sleep 2) | "
		 "openssl s_client -connect 127.0.0.1:%u -CAfile ca.pem "
		 "%s",
		 topdir, port, (long)random(), (long)random(), port, opts);
	return proc_capture(argv, topdir, "s_client", 30000, outp, errp);
}

Test(tls, options_over_tls12_and_tls13_get_200_with_tls_via)
{
	const char *v[] = { "-tls1_2", "-tls1_3" };
	const char *want[] = { "TLSv1.2", "TLSv1.3" };

	start_main(NULL);
	for (unsigned i = 0; i < 2; i++) {
		char opts[64], *out = NULL, *err = NULL;

		snprintf(opts, sizeof(opts), "%s -brief", v[i]);
		s_client(tls_port, opts, &out, &err);
		cr_assert_not_null(out);
		cr_expect(strstr(out, "SIP/2.0 200 OK") != NULL,
			  "%s: no 200: %s / %s", v[i], out, err ? err : "");
		cr_expect(strstr(out, "Via: SIP/2.0/TLS 127.0.0.1:9") != NULL,
			  "%s", out);
		cr_expect(err && strstr(err, want[i]), "%s: %s", v[i],
			  err ? err : "");
		free(out);
		free(err);
	}
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

Test(tls, tls11_is_refused_by_the_server)
{
	char *out = NULL, *err = NULL;
	int rc;

	start_main(NULL);
	/* SECLEVEL=0 so that our s_client offers TLS 1.1 at all: the
	 * refusal must come from sipedge (alert 70, protocol_version). */
	rc = s_client(tls_port, "-tls1_1 -cipher DEFAULT@SECLEVEL=0", &out,
		      &err);
	cr_expect_neq(rc, 0);
	cr_expect(out && !strstr(out, "SIP/2.0 200"), "%s", out);
	cr_expect(err && strstr(err, "alert protocol version"), "%s",
		  err ? err : "");
	free(out);
	free(err);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

Test(tls, sni_picks_the_domain_certificate_unknown_name_the_default)
{
	char *out = NULL, *err = NULL;

	start_main(NULL);
	s_client(tls_port, "-servername a.example", &out, &err);
	cr_expect(out && strstr(out, "subject=CN = a.example"), "%s",
		  out ? out : "");
	free(out);
	free(err);
	out = err = NULL;
	s_client(tls_port, "-servername unknown.example", &out, &err);
	cr_expect(out && strstr(out, "subject=CN = sipedge"), "%s",
		  out ? out : "");
	cr_expect(out && strstr(out, "SIP/2.0 200 OK"), "%s", out ? out : "");
	free(out);
	free(err);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

Test(tls, verify_client_refuses_no_certificate_accepts_a_signed_one)
{
	char *out = NULL, *err = NULL;

	start_main(NULL);
	s_client(vc_port, "-brief", &out, &err);
	cr_expect(out && !strstr(out, "SIP/2.0 200"), "%s", out ? out : "");
	cr_expect(err && strstr(err, "alert certificate required"), "%s",
		  err ? err : "");
	free(out);
	free(err);
	out = err = NULL;
	s_client(vc_port, "-brief -cert client.pem -key client.key", &out,
		 &err);
	cr_expect(out && strstr(out, "SIP/2.0 200 OK"), "%s / %s",
		  out ? out : "", err ? err : "");
	free(out);
	free(err);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

Test(tls, half_a_client_hello_is_closed_after_the_timeout_others_served)
{
	/* A TLS 1.2 ClientHello record header announcing 512 bytes, and
	 * only the first part of its body. */
	static const unsigned char half[] = { 0x16, 0x03, 0x01, 0x02, 0x00,
					      0x01, 0x00, 0x01, 0xfc, 0x03,
					      0x03, 0x11, 0x22, 0x33, 0x44,
					      0x55, 0x66, 0x77 };
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct pollfd pf;
	char *out = NULL, *err = NULL, buf[256];
	long t0, closed_ms = -1;
	int fd;

	start_main("tls:\n  handshake_timeout_s: 3\n");
	fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	a.sin_port = htons(tls_port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(send(fd, half, sizeof(half), 0), (ssize_t)sizeof(half));
	t0 = now_ms();
	/* Meanwhile another client is served in full. */
	s_client(tls_port, "-brief", &out, &err);
	cr_expect(out && strstr(out, "SIP/2.0 200 OK"), "%s", out ? out : "");
	free(out);
	free(err);
	/* The stalled one: closed once the 3 s are up, not before the
	 * other client was done; bounded at 10 s. */
	pf.fd = fd;
	pf.events = POLLIN;
	while (now_ms() - t0 < 10000) {
		if (poll(&pf, 1, 200) > 0) {
			ssize_t n = recv(fd, buf, sizeof(buf), 0);

			if (n <= 0) {
				closed_ms = now_ms() - t0;
				break;
			}
		}
	}
	close(fd);
	cr_expect_geq(closed_ms, 2000, "closed after %ld ms", closed_ms);
	cr_assert_eq(proc_sipedge_wait_log(&sp, "handshake not done in time", 1,
					   WAIT_MS),
		     0, "%s", sp.why);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/*
 * A sipedge with three TLS listeners: a certificate for 127.0.0.1 from
 * the CA, one from the CA for another name, a self-signed one; the
 * first sipedge (tls.ca: the CA) forwards OPTIONS to each.
 */
Test(tls, next_hop_over_tls_is_verified_wrong_name_or_ca_fails)
{
	char ls[4096], ruri[128], req[2048];
	uint16_t good, wrong, self;
	const char *dir;
	int n, st;

	start_main(NULL);
	dir = topdir;
	/* The CA path for the first one: a reload is not needed, it was
	 * started without tls.ca; start the next hop, then a second
	 * proxy with tls.ca pointed at the CA. */
	cr_assert_eq(proc_free_port("127.0.0.1", &good), 0);
	cr_assert_eq(proc_free_port("127.0.0.1", &wrong), 0);
	cr_assert_eq(proc_free_port("127.0.0.1", &self), 0);
	snprintf(ls, sizeof(ls),
		 "  - address: 127.0.0.1\n    port: %u\n"
		 "    transports: [tls]\n"
		 "    cert: %s/srv.pem\n    key: %s/srv.key\n"
		 "  - address: 127.0.0.1\n    port: %u\n"
		 "    transports: [tls]\n"
		 "    cert: %s/other.pem\n    key: %s/other.key\n"
		 "  - address: 127.0.0.1\n    port: %u\n"
		 "    transports: [tls]\n"
		 "    cert: %s/self.pem\n    key: %s/self.key\n",
		 good, dir, dir, wrong, dir, dir, self, dir, dir);
	start_in(&sp2, dir, ls, NULL);
	/* The first sipedge knows nothing of our CA: even the good hop
	 * fails there (system store). */
	cr_assert_eq(sipcli_open_udp(&cli, "127.0.0.1", sp.port), 0);
	snprintf(ruri, sizeof(ruri), "sip:127.0.0.1:%u;transport=tls", good);
	n = sipcli_format(&cli, req, sizeof(req), "OPTIONS", ruri, NULL, true,
			  NULL, NULL);
	st = sipcli_transact(&cli, req, (size_t)n, WAIT_MS, rsp);
	cr_expect(st >= 500 && st < 600, "unknown CA: %d", st);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
	sipcli_close(&cli);
	{
		char extra[2048];
		struct proc_sipedge keep = sp2;

		memset(&sp, 0, sizeof(sp));
		char ls1[2048];
		uint16_t own;

		/* A TLS listener of its own: without one, sips: is 416. */
		cr_assert_eq(proc_free_port("127.0.0.1", &own), 0);
		snprintf(ls1, sizeof(ls1),
			 "  - address: 127.0.0.1\n    port: %u\n"
			 "    transports: [tls]\n"
			 "    cert: %s/srv.pem\n    key: %s/srv.key\n",
			 own, dir, dir);
		snprintf(extra, sizeof(extra),
			 "tls:\n  ca: %s/ca.pem\n"
			 "routes:\n  - domain: carrier.example\n"
			 "    next_hop: [\"sip:127.0.0.1:%u;transport=tls\", "
			 "\"sip:127.0.0.1:%u;transport=tls\"]\n",
			 dir, wrong, good);
		start_in(&sp, dir, ls1, extra);
		sp2 = keep;
	}
	cr_assert_eq(sipcli_open_udp(&cli, "127.0.0.1", sp.port), 0);
	n = sipcli_format(&cli, req, sizeof(req), "OPTIONS", ruri, NULL, true,
			  NULL, NULL);
	st = sipcli_transact(&cli, req, (size_t)n, WAIT_MS, rsp);
	cr_expect_eq(st, 200, "verified hop: %d", st);
	snprintf(ruri, sizeof(ruri), "sip:127.0.0.1:%u;transport=tls", wrong);
	n = sipcli_format(&cli, req, sizeof(req), "OPTIONS", ruri, NULL, true,
			  NULL, NULL);
	st = sipcli_transact(&cli, req, (size_t)n, WAIT_MS, rsp);
	/* RFC 3261 §16.9: a transport failure is a 503 of the branch;
	 * §16.7 step 6 turns a best 503 into the 500 the caller gets. */
	cr_expect_eq(st, 500, "wrong name: %d", st);
	snprintf(ruri, sizeof(ruri), "sips:127.0.0.1:%u", self);
	n = sipcli_format(&cli, req, sizeof(req), "OPTIONS", ruri, NULL, true,
			  NULL, NULL);
	st = sipcli_transact(&cli, req, (size_t)n, WAIT_MS, rsp);
	cr_expect_eq(st, 500, "self-signed: %d", st);
	/* A static route: the hop with the wrong name fails over to the
	 * verified one (RFC 3261 §16.7 step 8 / §16.9). */
	n = sipcli_format(&cli, req, sizeof(req), "OPTIONS",
			  "sip:trunk@carrier.example", NULL, true, NULL, NULL);
	st = sipcli_transact(&cli, req, (size_t)n, WAIT_MS, rsp);
	/* The next hop does not serve carrier.example: its 404 No Route
	 * is the proof that the request got there (the hop with the wrong
	 * name never sees a request: its handshake fails). */
	cr_expect_eq(st, 404, "failover to the verified hop: %d", st);
	cr_assert_eq(proc_sipedge_wait_log(&sp, "certificate", 1, WAIT_MS), 0,
		     "%s", sp.why);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
	cr_assert_eq(proc_sipedge_stop(&sp2), 0, "%s", sp2.why);
}

/* dnsmasq on a free loopback port answering only @p records (its
 * config lines); its pid in *@p pidp. Returns the port. */
static uint16_t dnsmasq_start(const char *dir, const char *records, pid_t *pidp)
{
	char path[PROC_PATH_MAX], log[PROC_PATH_MAX + 16], a_port[32],
	    a_conf[PROC_PATH_MAX + 16];
	uint16_t port;
	/* Debian's dnsmasq-base puts it in /usr/sbin, often not in PATH. */
	char *argv[] = { "/usr/sbin/dnsmasq", "--keep-in-foreground",
			 "--no-resolv", "--no-hosts", "--bind-interfaces",
			 "--listen-address=127.0.0.1",
			 "--pid-file=", "--log-facility=-", a_port, a_conf,
			 /* As root it would switch to nobody: stay. */
			 geteuid() == 0 ? "--user=root" : NULL, NULL };

	cr_assert_eq(proc_free_port("127.0.0.1", &port), 0);
	cr_assert_eq(
	    proc_write_file(dir, "dnsmasq.conf", records, path, sizeof(path)),
	    0);
	snprintf(a_port, sizeof(a_port), "--port=%u", port);
	snprintf(a_conf, sizeof(a_conf), "--conf-file=%s", path);
	snprintf(log, sizeof(log), "%s/dnsmasq.log", dir);
	cr_assert_eq(proc_spawn(argv, dir, log, log, pidp), 0,
		     "dnsmasq (Debian's dnsmasq-base) did not start");
	cr_assert_eq(proc_wait_bound(port, true, 10000), 0,
		     "dnsmasq did not bind 127.0.0.1:%u", port);
	return port;
}

/*
 * RFC 5922 §7.2 / RFC 6066 §3: a TLS next hop found by name is
 * verified against that name and SNI names it. Both names resolve to
 * the main sipedge's TLS listener, which presents a.pem (DNS:a.example
 * only, no IP) for SNI a.example and srv.pem (localhost, 127.0.0.1)
 * otherwise: the hop a.example is verified (its answer comes back);
 * other.example gets srv.pem, which does not name it: 500, though the
 * address is the same and a connection to it is up.
 */
Test(tls, a_named_tls_hop_is_verified_by_its_name_with_sni)
{
	char extra[2048], req[2048];
	pid_t dns_pid = 0;
	uint16_t dns_port;
	int n, st;

	start_main(NULL);
	dns_port = dnsmasq_start(topdir,
				 "host-record=a.example,127.0.0.1\n"
				 "host-record=other.example,127.0.0.1\n",
				 &dns_pid);
	snprintf(extra, sizeof(extra),
		 "tls:\n  ca: %s/ca.pem\n"
		 "dns:\n  servers: [\"127.0.0.1:%u\"]\n"
		 "routes:\n"
		 "  - domain: good.example\n"
		 "    next_hop: [\"sip:a.example:%u;transport=tls\"]\n"
		 "  - domain: bad.example\n"
		 "    next_hop: [\"sip:other.example:%u;transport=tls\"]\n",
		 topdir, dns_port, tls_port, tls_port);
	start_in(&sp2, topdir, "", extra);
	cr_assert_eq(sipcli_open_udp(&cli, "127.0.0.1", sp2.port), 0);
	/* The main sipedge serves neither domain: its 404 No Route is the
	 * proof that the request got there over the verified hop. */
	n = sipcli_format(&cli, req, sizeof(req), "OPTIONS",
			  "sip:trunk@good.example", NULL, true, NULL, NULL);
	st = sipcli_transact(&cli, req, (size_t)n, WAIT_MS, rsp);
	cr_expect_eq(st, 404, "a.example verified by name: %d", st);
	n = sipcli_format(&cli, req, sizeof(req), "OPTIONS",
			  "sip:trunk@bad.example", NULL, true, NULL, NULL);
	st = sipcli_transact(&cli, req, (size_t)n, WAIT_MS, rsp);
	cr_expect_eq(st, 500, "other.example is not in the certificate: %d",
		     st);
	cr_assert_eq(proc_sipedge_wait_log(&sp2, "certificate", 1, WAIT_MS), 0,
		     "%s", sp2.why);
	/* And again: the good hop's connection is reused, the bad one is
	 * not borrowed from it. */
	n = sipcli_format(&cli, req, sizeof(req), "OPTIONS",
			  "sip:trunk@bad.example", NULL, true, NULL, NULL);
	st = sipcli_transact(&cli, req, (size_t)n, WAIT_MS, rsp);
	cr_expect_eq(st, 500, "the second try: %d", st);
	n = sipcli_format(&cli, req, sizeof(req), "OPTIONS",
			  "sip:trunk@good.example", NULL, true, NULL, NULL);
	st = sipcli_transact(&cli, req, (size_t)n, WAIT_MS, rsp);
	cr_expect_eq(st, 404, "the good hop again: %d", st);
	proc_kill(dns_pid);
	cr_assert_eq(proc_sipedge_stop(&sp2), 0, "%s", sp2.why);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* A file's text for a failure message (static buffer, truncated). */
static const char *file_text(const char *path)
{
	static char buf[8192];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	buf[0] = '\0';
	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

/*
 * baresip registers over TLS and calls a SIPp UAS over UDP through
 * sipedge: the INVITE reaches SIPp with Record-Route naming both
 * transports (the scenario checks), SIPp hangs up; then a second call
 * that baresip hangs up.
 */
Test(tls, baresip_over_tls_calls_sipp_over_udp_bye_both_ways, .timeout = 120)
{
	struct baresip a = { .ctrl = -1 };
	struct sipp_cmd sc;
	char yaml[2048], users[512], ca[PROC_PATH_MAX + 16], uri[64];
	char cert[PROC_PATH_MAX + 16];
	const char *v[3] = { "alice", "localhost", "pw" };
	char ha1[33], ha2[65];
	uint16_t uas_port;
	pid_t uas;
	int err;

	cr_assert_eq(proc_tmpdir(topdir, sizeof(topdir)), 0);
	uahash_hex("MD5", v, 3, ha1);
	uahash_hex("SHA-256", v, 3, ha2);
	snprintf(users, sizeof(users), "alice@localhost md5:%s sha256:%s\n",
		 ha1, ha2);
	cr_assert_eq(proc_write_file(topdir, "users", users, NULL, 0), 0);
	snprintf(yaml, sizeof(yaml),
		 "registrar:\n  trusted: []\n  users_file: \"%s/users\"\n"
		 "tls:\n  ca: %s/ca.pem\n",
		 topdir, topdir);
	{
		char ls[2048];

		make_certs(topdir);
		cr_assert_eq(proc_free_port("127.0.0.1", &tls_port), 0);
		snprintf(ls, sizeof(ls),
			 "  - address: 127.0.0.1\n    port: %u\n"
			 "    transports: [tls]\n"
			 "    cert: %s/srv.pem\n    key: %s/srv.key\n",
			 tls_port, topdir, topdir);
		start_in(&sp, topdir, ls, yaml);
	}
	snprintf(ca, sizeof(ca), "%s/ca.pem", topdir);
	/* baresip's Contact names its TLS listener, not the connection it
	 * registered over: requests towards it (SIPp's BYE) come over a
	 * new TLS connection, verified (tls.ca) against its certificate. */
	{
		char cmd[PROC_PATH_MAX * 4];
		char *argv[] = { "sh", "-c", cmd, NULL };
		char *o = NULL, *e = NULL;

		snprintf(cmd, sizeof(cmd),
			 "cat '%s/srv.pem' '%s/srv.key' > '%s/ua.pem'", topdir,
			 topdir, topdir);
		cr_assert_eq(proc_capture(argv, topdir, "cat", 10000, &o, &e),
			     0);
		free(o);
		free(e);
	}
	snprintf(cert, sizeof(cert), "%s/ua.pem", topdir);
	err = baresip_start_tls(&a, topdir, "alice", "localhost", "pw",
				tls_port, ca, cert);
	cr_assert_eq(err, 0, "baresip: %d: %s", err, file_text(a.out));
	cr_assert_eq(
	    baresip_wait_out(&a, "alice@localhost: {0/TLS/v4} 200 OK", 10000),
	    0, "alice did not register over TLS: %s", file_text(a.out));

	/* Call 1: SIPp (UDP) answers, then hangs up. */
	cr_assert_eq(proc_free_port("127.0.0.1", &uas_port), 0);
	sipp_cmd_uas(&sc, "uas_tls_bye.xml", uas_port, "u1");
	sipp_cmd_args(&sc, "-m", "1", NULL);
	sipp_cmd_errors(&sc, "uas1");
	uas = sipp_spawn(sc.argv, sp.dir, "uas1");
	sipp_bound(uas_port, "u1");
	/* baresip would add its account's transport=tls otherwise. */
	snprintf(uri, sizeof(uri), "sip:uas@127.0.0.1:%u;transport=udp",
		 uas_port);
	cr_assert_eq(baresip_cmd(&a, "dial", uri, 5000), 0);
	cr_assert_eq(baresip_wait_event(&a, "CALL_ESTABLISHED", 10000), 0, "%s",
		     file_text(a.out));
	cr_assert_eq(baresip_wait_event(&a, "CALL_CLOSED", 10000), 0,
		     "SIPp's BYE never reached alice: %s", file_text(a.out));
	sipp_ok(&uas, 20000, sp.dir, "uas1", sp.log);

	/* Call 2: baresip hangs up (uas_call.xml waits for the BYE). */
	sipp_cmd_uas(&sc, "uas_call.xml", uas_port, "u1");
	sipp_cmd_args(&sc, "-m", "1", NULL);
	sipp_cmd_errors(&sc, "uas2");
	uas = sipp_spawn(sc.argv, sp.dir, "uas2");
	sipp_bound(uas_port, "u1");
	cr_assert_eq(baresip_cmd(&a, "dial", uri, 5000), 0);
	cr_assert_eq(baresip_wait_event(&a, "CALL_ESTABLISHED", 10000), 0, "%s",
		     file_text(a.out));
	cr_assert_eq(baresip_cmd(&a, "hangup", NULL, 5000), 0);
	cr_assert_eq(baresip_wait_event(&a, "CALL_CLOSED", 10000), 0);
	sipp_ok(&uas, 20000, sp.dir, "uas2", sp.log);
	baresip_stop(&a);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/*
 * advertise: a wildcard listen entry (0.0.0.0) with an advertised
 * name: the INVITE a UAS gets through it names that name in the Via
 * and Record-Route sipedge adds, never 0.0.0.0.
 */
Test(tls, advertise_is_what_via_and_record_route_name)
{
	struct sipcli uas = { .fd = -1 };
	char ls[512], ruri[128], req[4096], v[512];
	uint16_t uas_port;
	int n;

	cr_assert_eq(proc_tmpdir(topdir, sizeof(topdir)), 0);
	cr_assert_eq(proc_free_port("127.0.0.1", &uas_port), 0);
	{
		uint16_t wport;

		cr_assert_eq(proc_free_port("127.0.0.1", &wport), 0);
		snprintf(ls, sizeof(ls),
			 "  - address: 0.0.0.0\n"
			 "    port: %u\n"
			 "    transports: [tcp]\n"
			 "    advertise: edge.example.com:5099\n",
			 wport);
		start_in(&sp, topdir, ls, NULL);
		/* Over TCP to the wildcard entry: the request leaves
		 * over UDP from the first entry, so Record-Route has
		 * both: the advertised name for the TCP side. */
		cr_assert_eq(sipcli_open_tcp(&cli, "127.0.0.1", wport), 0);
	}
	cr_assert_eq(sipcli_open_udp_at(&uas, "127.0.0.1", sp.port, uas_port),
		     0);
	snprintf(ruri, sizeof(ruri), "sip:uas@127.0.0.1:%u", uas_port);
	n = sipcli_format(&cli, req, sizeof(req), "INVITE", ruri, NULL, true,
			  "Contact: <sip:caller@127.0.0.1>\r\n", NULL);
	cr_assert_gt(n, 0);
	cr_assert_eq(sipcli_send(&cli, req, (size_t)n), 0);
	cr_assert_eq(sipcli_recv_msg(&uas, rsp, WAIT_MS), 0);
	cr_assert_eq(rsp->m.method, SIP_INVITE, "%.*s", (int)rsp->len,
		     rsp->buf);
	cr_assert_not_null(sipcli_hdr_str(rsp, HDR_RECORD_ROUTE, v, sizeof(v)));
	cr_expect(strstr(rsp->buf, "<sip:edge.example.com:5099;transport=tcp;"
				   "lr>") != NULL,
		  "%.*s", (int)rsp->len, rsp->buf);
	cr_expect(strstr(rsp->buf, "0.0.0.0") == NULL, "%.*s", (int)rsp->len,
		  rsp->buf);
	sipcli_close(&uas);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}
