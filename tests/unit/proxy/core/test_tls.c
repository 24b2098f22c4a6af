/* tests/unit/proxy/core/test_tls.c - TLS listen entries and advertise:
 * config checks with FILE:LINE, contexts, sessions over memory BIOs */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "proxy/base/err.h"
#include "proxy/core/conf.h"
#include "proxy/core/tls.h"
#include "tests/unit/conftest.h"

static struct conf *c;
static char err[1024];
static char dir[64];
static char text[4096];

/* A self-signed certificate for @p cn (subjectAltName @p san) and its
 * key, written to DIR/NAME.pem and DIR/NAME.key. */
static void make_cert(const char *name, const char *cn, const char *san)
{
	char path[128];
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *n;
	X509_EXTENSION *ext;
	X509V3_CTX v3;
	FILE *f;

	cr_assert(k && x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, n);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
	cr_assert_not_null(ext);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	cr_assert(X509_sign(x, k, EVP_sha256()) > 0);
	snprintf(path, sizeof(path), "%s/%s.pem", dir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	PEM_write_X509(f, x);
	fclose(f);
	snprintf(path, sizeof(path), "%s/%s.key", dir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void setup(void)
{
	conftest_init(&c, err, sizeof(err));
	snprintf(dir, sizeof(dir), "/tmp/sipedge-tls-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	make_cert("a", "a.example", "IP:127.0.0.1");
	make_cert("b", "b.example", "IP:127.0.0.1");
	make_cert("n", "trunk.example", "DNS:trunk.example,DNS:*.wild.example");
}

static void teardown(void)
{
	const char *names[] = { "a.pem", "a.key", "b.pem",
				"b.key", "n.pem", "n.key" };
	char path[128];

	for (unsigned i = 0; i < 6; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
	conftest_fini();
}

TestSuite(tls, .init = setup, .fini = teardown, .timeout = 20);

/* "listen:" with a UDP entry on line 3-4 and a TLS entry whose body is
 * @p body (lines from 6 on). */
static const char *tls_entry(const char *body)
{
	snprintf(text, sizeof(text),
		 "listen:\n"
		 "  - address: 127.0.0.1\n"
		 "    port: 5060\n"
		 "  - address: 127.0.0.1\n"
		 "%s",
		 body);
	return text;
}

Test(tls, listener_loads_with_default_port_5061_and_sni)
{
	char body[1024];

	snprintf(body, sizeof(body),
		 "    transports: [tls]\n"
		 "    cert: %s/a.pem\n"
		 "    key: %s/a.key\n"
		 "    sni:\n"
		 "      - domain: B.Example\n"
		 "        cert: %s/b.pem\n"
		 "        key: %s/b.key\n",
		 dir, dir, dir, dir);
	cr_assert_eq(conftest_load(tls_entry(body)), 0, "%s", err);
	cr_assert_eq(c->nlisten, 2);
	cr_assert(c->listen[1].tls);
	cr_assert(!c->listen[1].udp && !c->listen[1].tcp);
	cr_assert_eq(c->listen[1].port, 5061);
	cr_assert_eq(c->listen[1].nsni, 1);
	cr_assert_str_eq(c->listen[1].sni[0].domain, "b.example");
	cr_assert_str_eq(c->listen[1].adv_host, "127.0.0.1");
	cr_assert_eq(c->listen[1].adv_port, 5061);
	cr_assert_eq(c->tls.handshake_timeout_s, 10);
	cr_assert_null(c->tls.ca);
	cr_assert(!c->listen[0].tls);
}

Test(tls, listener_without_cert_and_key_is_refused_at_its_line)
{
	conftest_expect_error(tls_entry("    transports: [tls]\n"),
			      "t.yaml:4: ", "needs 'cert' and 'key'");
}

Test(tls, key_of_another_certificate_is_refused_at_the_key_line)
{
	char body[1024];

	snprintf(body, sizeof(body),
		 "    transports: [tls]\n"
		 "    cert: %s/a.pem\n"
		 "    key: %s/b.key\n",
		 dir, dir);
	conftest_expect_error(tls_entry(body),
			      "t.yaml:7: ", "does not match the certificate");
}

Test(tls, missing_certificate_file_is_refused_with_the_line)
{
	char body[1024];

	snprintf(body, sizeof(body),
		 "    transports: [tls]\n"
		 "    cert: %s/nonexistent.pem\n"
		 "    key: %s/a.key\n",
		 dir, dir);
	conftest_expect_error(tls_entry(body),
			      "t.yaml:7: ", "cannot be loaded");
}

Test(tls, sni_entry_with_a_mismatched_pair_is_refused_at_its_key)
{
	char body[1024];

	snprintf(body, sizeof(body),
		 "    transports: [tls]\n"
		 "    cert: %s/a.pem\n"
		 "    key: %s/a.key\n"
		 "    sni:\n"
		 "      - domain: b.example\n"
		 "        cert: %s/b.pem\n"
		 "        key: %s/a.key\n",
		 dir, dir, dir, dir);
	conftest_expect_error(tls_entry(body), "t.yaml:11: ", "does not match");
}

Test(tls, tls_with_udp_in_one_entry_is_refused)
{
	char body[1024];

	snprintf(body, sizeof(body),
		 "    transports: [udp, tls]\n"
		 "    cert: %s/a.pem\n"
		 "    key: %s/a.key\n",
		 dir, dir);
	conftest_expect_error(tls_entry(body), "t.yaml:5: ",
			      "tls needs an entry (and a port) of its own");
}

Test(tls, cert_on_a_plain_entry_is_refused)
{
	char body[1024];

	snprintf(body, sizeof(body), "    port: 5070\n    cert: %s/a.pem\n",
		 dir);
	conftest_expect_error(tls_entry(body),
			      "t.yaml:6: ", "only for a TLS listener");
}

Test(tls, verify_client_needs_ca_and_ca_needs_verify_client)
{
	char body[1024];

	snprintf(body, sizeof(body),
		 "    transports: [tls]\n"
		 "    cert: %s/a.pem\n"
		 "    key: %s/a.key\n"
		 "    verify_client: true\n",
		 dir, dir);
	conftest_expect_error(tls_entry(body), "t.yaml:8: ", "needs 'ca'");
	conftest_fini();
	conftest_init(&c, err, sizeof(err));
	snprintf(body, sizeof(body),
		 "    transports: [tls]\n"
		 "    cert: %s/a.pem\n"
		 "    key: %s/a.key\n"
		 "    ca: %s/b.pem\n",
		 dir, dir, dir);
	conftest_expect_error(tls_entry(body),
			      "t.yaml:8: ", "only used with verify_client");
	conftest_fini();
	conftest_init(&c, err, sizeof(err));
	snprintf(body, sizeof(body),
		 "    transports: [tls]\n"
		 "    cert: %s/a.pem\n"
		 "    key: %s/a.key\n"
		 "    verify_client: true\n"
		 "    ca: %s/b.pem\n",
		 dir, dir, dir);
	cr_assert_eq(conftest_load(tls_entry(body)), 0, "%s", err);
	cr_assert(c->listen[1].verify_client);
}

Test(tls, ca_that_is_not_a_pem_file_is_refused)
{
	conftest_expect_error("tls:\n  ca: /nonexistent/ca.pem\n",
			      "t.yaml:2: ", "tls.ca: CA file");
	conftest_fini();
	conftest_init(&c, err, sizeof(err));
	conftest_expect_error("tls:\n  handshake_timeout_s: 0\n",
			      "t.yaml:2: ", "out of range");
}

Test(tls, wildcard_with_advertise_loads_and_is_ours)
{
	cr_assert_eq(conftest_load("listen:\n"
				   "  - address: 0.0.0.0\n"
				   "    port: 5070\n"
				   "    advertise: Sip.Example.com:5080\n"),
		     0, "%s", err);
	cr_assert_str_eq(c->listen[0].adv_host, "sip.example.com");
	cr_assert_eq(c->listen[0].adv_port, 5080);
	cr_assert(conf_is_listen_host(c, SLICE_LIT("sip.example.com"), 5080));
	cr_assert(!conf_is_listen_host(c, SLICE_LIT("sip.example.com"), 5070));
	conftest_fini();
	conftest_init(&c, err, sizeof(err));
	cr_assert_eq(conftest_load("listen:\n"
				   "  - address: \"::\"\n"
				   "    advertise: \"[2001:db8::1]\"\n"),
		     0, "%s", err);
	cr_assert_str_eq(c->listen[0].adv_host, "[2001:db8::1]");
	cr_assert_eq(c->listen[0].adv_port, 5060);
}

Test(tls, wildcard_without_advertise_is_refused_at_the_address)
{
	conftest_expect_error("listen:\n"
			      "  - port: 5070\n"
			      "    address: 0.0.0.0\n",
			      "t.yaml:3: ", "give 'advertise");
}

Test(tls, advertise_must_be_host_and_port)
{
	const char *bad[] = { "2001:db8::1",	  "a.example:0",
			      "a.example:70000",  "[::1",
			      "[a.example]:5060", "a b",
			      "a.example:",	  "[2001:db8::1]x" };

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char host[64];
		uint16_t port;

		cr_expect_eq(
		    conf_advertise_parse(bad[i], host, sizeof(host), &port),
		    -EINVAL, "%s", bad[i]);
	}
	conftest_expect_error("listen:\n"
			      "  - address: 127.0.0.1\n"
			      "    advertise: \"a.example:99999\"\n",
			      "t.yaml:3: ", "is not HOST[:PORT]");
}

/* A session pair over memory BIOs: what one side takes goes to the
 * other's feed; the handshake and a message go through. */
static void pump(struct tls_sess *from, struct tls_sess *to)
{
	char buf[16384];
	size_t n;

	while ((n = tls_sess_take(from, buf, sizeof(buf))))
		cr_assert_eq(tls_sess_feed(to, buf, n), 0);
}

Test(tls, sessions_over_memory_bios_shake_hands_and_carry_bytes)
{
	struct conf_listen l;
	struct tls_srv *srv = NULL;
	struct tls_cli *cli = NULL;
	struct tls_sess *s = NULL, *k = NULL;
	struct sockaddr_in to = { .sin_family = AF_INET };
	char ca[128], cert[128], key[128], why[512], buf[64];
	int rs = -EAGAIN, rc = -EAGAIN, n;

	snprintf(ca, sizeof(ca), "%s/a.pem", dir);
	snprintf(cert, sizeof(cert), "%s/a.pem", dir);
	snprintf(key, sizeof(key), "%s/a.key", dir);
	memset(&l, 0, sizeof(l));
	l.tls = true;
	l.cert = cert;
	l.key = key;
	cr_assert_eq(tls_srv_new(&l, &srv, why, sizeof(why)), 0, "%s", why);
	/* Self-signed a.pem is its own CA; it names IP 127.0.0.1. */
	cr_assert_eq(tls_cli_new(ca, &cli, why, sizeof(why)), 0, "%s", why);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(tls_sess_server(srv, &s), 0);
	cr_assert_eq(tls_sess_client(cli, (struct sockaddr *)&to, NULL, &k), 0);
	cr_assert_eq(tls_sess_write(k, "x", 1), -ENOTCONN);
	/* Bounded: a TLS 1.3 handshake takes two round trips. */
	for (int i = 0; i < 8 && (rs || rc); i++) {
		rc = tls_sess_handshake(k);
		pump(k, s);
		rs = tls_sess_handshake(s);
		pump(s, k);
	}
	cr_assert_eq(rc, 0, "%s", tls_sess_fault(k));
	cr_assert_eq(rs, 0, "%s", tls_sess_fault(s));
	cr_assert_str_eq(tls_sess_version(k), "TLSv1.3");
	cr_assert_eq(tls_sess_write(k, "OPTIONS", 7), 0);
	pump(k, s);
	n = tls_sess_read(s, buf, sizeof(buf));
	cr_assert_eq(n, 7);
	cr_assert_eq(memcmp(buf, "OPTIONS", 7), 0);
	cr_assert_eq(tls_sess_read(s, buf, sizeof(buf)), -EAGAIN);
	tls_sess_close(k);
	pump(k, s);
	cr_assert_eq(tls_sess_read(s, buf, sizeof(buf)), 0);
	tls_sess_free(s);
	tls_sess_free(k);
	/* Another address than the certificate's: verification fails. */
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1);
	cr_assert_eq(tls_sess_server(srv, &s), 0);
	cr_assert_eq(tls_sess_client(cli, (struct sockaddr *)&to, NULL, &k), 0);
	rs = rc = -EAGAIN;
	for (int i = 0; i < 8 && rc == -EAGAIN; i++) {
		rc = tls_sess_handshake(k);
		pump(k, s);
		rs = tls_sess_handshake(s);
		pump(s, k);
	}
	cr_assert_eq(rc, -EPROTO);
	cr_assert(strstr(tls_sess_fault(k), "certificate") != NULL, "%s",
		  tls_sess_fault(k));
	tls_sess_free(s);
	tls_sess_free(k);
	tls_cli_free(cli);
	tls_srv_free(srv);
}

/* A handshake of a client session for @p name to 127.0.0.1 with a
 * server presenting n.pem (DNS names only); its result. */
static int shake_named(const char *name, char *fault, size_t size)
{
	struct conf_listen l;
	struct tls_srv *srv = NULL;
	struct tls_cli *cli = NULL;
	struct tls_sess *s = NULL, *k = NULL;
	struct sockaddr_in to = { .sin_family = AF_INET };
	char cert[128], key[128], why[512];
	int rc = -EAGAIN;

	snprintf(cert, sizeof(cert), "%s/n.pem", dir);
	snprintf(key, sizeof(key), "%s/n.key", dir);
	memset(&l, 0, sizeof(l));
	l.tls = true;
	l.cert = cert;
	l.key = key;
	cr_assert_eq(tls_srv_new(&l, &srv, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(tls_cli_new(cert, &cli, why, sizeof(why)), 0, "%s", why);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(tls_sess_server(srv, &s), 0);
	cr_assert_eq(tls_sess_client(cli, (struct sockaddr *)&to, name, &k), 0);
	/* Bounded: a TLS 1.3 handshake takes two round trips. */
	for (int i = 0; i < 8 && rc == -EAGAIN; i++) {
		rc = tls_sess_handshake(k);
		pump(k, s);
		(void)tls_sess_handshake(s);
		pump(s, k);
	}
	snprintf(fault, size, "%s", tls_sess_fault(k));
	tls_sess_free(s);
	tls_sess_free(k);
	tls_cli_free(cli);
	tls_srv_free(srv);
	return rc;
}

/* RFC 5922 §7.2: a hop found by name is verified against that name (a
 * DNS SAN, no wildcard); without a name, against its address. */
Test(tls, a_named_hop_is_verified_by_name_without_wildcards)
{
	char fault[256];

	cr_assert_eq(shake_named("trunk.example", fault, sizeof(fault)), 0,
		     "%s", fault);
	cr_assert_eq(shake_named("other.example", fault, sizeof(fault)),
		     -EPROTO);
	cr_assert(strstr(fault, "certificate"), "%s", fault);
	cr_assert_eq(shake_named("x.wild.example", fault, sizeof(fault)),
		     -EPROTO, "a wildcard matched");
	cr_assert_eq(shake_named(NULL, fault, sizeof(fault)), -EPROTO,
		     "no IP SAN, yet the address matched");
}
