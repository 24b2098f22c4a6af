/* tests/unit/proxy/test_conf.c - config loader: defaults, file:line errors */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "proxy/base/err.h"
#include "proxy/base/obj.h"
#include "proxy/core/conf.h"
#include "proxy/core/conf_store.h"
#include "proxy/proxy_conf.h"
#include "proxy/sip/msg.h"
#include "registrar/reg_conf.h"
#include "tests/unit/conftest.h"

static struct conf *c;
static char err[512];

static void setup(void)
{
	conftest_init(&c, err, sizeof(err));
}

TestSuite(conf, .init = setup, .fini = conftest_fini, .timeout = 10);

static struct sockaddr_in sin4(const char *a)
{
	struct sockaddr_in s = { .sin_family = AF_INET };

	cr_assert_eq(inet_pton(AF_INET, a, &s.sin_addr), 1);
	return s;
}

static struct sockaddr_in6 sin6(const char *a)
{
	struct sockaddr_in6 s = { .sin6_family = AF_INET6 };

	cr_assert_eq(inet_pton(AF_INET6, a, &s.sin6_addr), 1);
	return s;
}

static bool trusted4(const char *a)
{
	struct sockaddr_in s = sin4(a);

	return reg_conf_is_trusted(c, (struct sockaddr *)&s);
}

static bool trusted6(const char *a)
{
	struct sockaddr_in6 s = sin6(a);

	return reg_conf_is_trusted(c, (struct sockaddr *)&s);
}

static void assert_defaults(const struct conf *k)
{
	const struct sockaddr_in *a;

	cr_assert_eq(k->workers, conf_workers(0));
	cr_assert_eq(k->log_level, LOG_INFO);
	cr_assert_eq(k->nlisten, 1);
	cr_assert_str_eq(k->listen[0].address, "127.0.0.1");
	cr_assert_eq(k->listen[0].port, 5060);
	cr_assert(k->listen[0].udp);
	cr_assert(k->listen[0].tcp);
	a = (const struct sockaddr_in *)&k->listen[0].addr;
	cr_assert_eq(a->sin_family, AF_INET);
	cr_assert_eq(ntohs(a->sin_port), 5060);
	cr_assert_eq(ntohl(a->sin_addr.s_addr), 0x7f000001u);
	cr_assert_eq(k->listen[0].addrlen, sizeof(struct sockaddr_in));
	cr_assert_eq(k->ndomains, 2);
	cr_assert_str_eq(k->domains[0], "localhost");
	cr_assert_str_eq(k->domains[1], "127.0.0.1");
	cr_assert_eq(store_conf(k)->backend, CONF_STORE_MEMORY);
	cr_assert_eq(reg_conf(k)->ntrusted, 2);
	cr_assert_eq(reg_conf(k)->trusted[0].family, AF_INET);
	cr_assert_eq(reg_conf(k)->trusted[0].prefix, 8);
	cr_assert_eq(reg_conf(k)->trusted[1].family, AF_INET6);
	cr_assert_eq(reg_conf(k)->trusted[1].prefix, 128);
	cr_assert_eq(k->tcp.max_connections, 4096);
	cr_assert_eq(k->tcp.idle_timeout_s, 120);
	cr_assert_eq(k->tcp.max_header_bytes, 16384);
	cr_assert_eq(k->tcp.max_body_bytes, 65536);
	cr_assert_eq(k->udp.batch, 32);
	cr_assert_eq(k->udp.steering, STEER_AUTO);
	cr_assert_eq(k->max_headers, 128);
	cr_assert_str_eq(k->server_name, "sipedge/" SIPEDGE_VERSION);
	cr_assert_eq(reg_conf(k)->min_expires_s, 60);
	cr_assert_eq(reg_conf(k)->max_expires_s, 86400);
	cr_assert_eq(reg_conf(k)->default_expires_s, 3600);
	cr_assert_null(reg_conf(k)->users_file);
	cr_assert_null(reg_conf(k)->secret);
	cr_assert(reg_conf(k)->auth_methods & (1u << SIP_REGISTER));
	cr_assert(reg_conf(k)->auth_methods & (1u << SIP_INVITE));
	cr_assert_not(reg_conf(k)->auth_methods & (1u << SIP_OPTIONS));
	cr_assert_eq(reg_conf(k)->nonce_ttl_s, 300);
	cr_assert_eq(reg_conf(k)->max_auth_failures, 10);
	cr_assert_eq(reg_conf(k)->auth_failure_window_s, 300);
	cr_assert_null(store_conf(k)->snapshot);
	cr_assert_eq(store_conf(k)->snapshot_interval_s, 10);
}

Test(conf, builtin_default_needs_no_file)
{
	cr_assert_eq(conf_load(NULL, &c, err, sizeof(err)), 0, "%s", err);
	cr_assert_null(c->path);
	assert_defaults(c);
	cr_assert(trusted4("127.0.0.1"));
	cr_assert(trusted4("127.255.0.9"));
	cr_assert(trusted6("::1"));
	cr_assert_not(trusted4("10.0.0.1"));
	cr_assert_not(trusted6("::2"));
	cr_assert(conf_is_domain(c, "LocalHost", 9));
}

Test(conf, empty_text_is_the_default)
{
	static const char *const texts[] = { "", "# only a comment\n\n",
					     "---\n", "~\n", "null\n" };

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		cr_assert_eq(conftest_load(texts[i]), 0, "'%s': %s", texts[i],
			     err);
		cr_assert_str_eq(c->path, "t.yaml");
		assert_defaults(c);
		conf_free(c);
		c = NULL;
	}
}

static const char full[] = "workers: 3\n"
			   "log_level: warn\n"
			   "listen:\n"
			   "  - address: 127.0.0.2\n"
			   "    port: 5070\n"
			   "    transports: [tcp]\n"
			   "  - address: \"::1\"\n"
			   "    transports: [udp]\n"
			   "domains: [Example.COM, sip.example.net]\n"
			   "store:\n"
			   "  backend: memory\n"
			   "registrar:\n"
			   "  trusted: [10.0.0.0/8, \"fd00::/8\", 192.0.2.7]\n"
			   "tcp:\n"
			   "  max_connections: 100\n"
			   "  idle_timeout_s: 30\n"
			   "  max_header_bytes: 8192\n"
			   "  max_body_bytes: 1000\n"
			   "udp:\n"
			   "  batch: 64\n"
			   "  steering: off\n"
			   "max_headers: 64\n"
			   "server_name: edge-1\n";

static void assert_full(const struct conf *k)
{
	const struct sockaddr_in *a4;
	const struct sockaddr_in6 *a6;

	cr_assert_eq(k->workers, 3);
	cr_assert_eq(k->log_level, LOG_WARN);
	cr_assert_eq(k->nlisten, 2);
	cr_assert_str_eq(k->listen[0].address, "127.0.0.2");
	cr_assert_eq(k->listen[0].port, 5070);
	cr_assert_not(k->listen[0].udp);
	cr_assert(k->listen[0].tcp);
	a4 = (const struct sockaddr_in *)&k->listen[0].addr;
	cr_assert_eq(a4->sin_family, AF_INET);
	cr_assert_eq(ntohs(a4->sin_port), 5070);
	cr_assert_eq(ntohl(a4->sin_addr.s_addr), 0x7f000002u);
	cr_assert_str_eq(k->listen[1].address, "::1");
	cr_assert_eq(k->listen[1].port, 5060);
	cr_assert(k->listen[1].udp);
	cr_assert_not(k->listen[1].tcp);
	a6 = (const struct sockaddr_in6 *)&k->listen[1].addr;
	cr_assert_eq(a6->sin6_family, AF_INET6);
	cr_assert_eq(ntohs(a6->sin6_port), 5060);
	cr_assert(IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr));
	cr_assert_eq(k->listen[1].addrlen, sizeof(struct sockaddr_in6));
	cr_assert_eq(k->ndomains, 2);
	cr_assert_str_eq(k->domains[0], "example.com");
	cr_assert_str_eq(k->domains[1], "sip.example.net");
	cr_assert_eq(store_conf(k)->backend, CONF_STORE_MEMORY);
	cr_assert_eq(reg_conf(k)->ntrusted, 3);
	cr_assert_eq(reg_conf(k)->trusted[2].prefix, 32);
	cr_assert_eq(k->tcp.max_connections, 100);
	cr_assert_eq(k->tcp.idle_timeout_s, 30);
	cr_assert_eq(k->tcp.max_header_bytes, 8192);
	cr_assert_eq(k->tcp.max_body_bytes, 1000);
	cr_assert_eq(k->udp.batch, 64);
	cr_assert_eq(k->udp.steering, STEER_OFF);
	cr_assert_eq(k->max_headers, 64);
	cr_assert_str_eq(k->server_name, "edge-1");
}

Test(conf, full_file_sets_every_key)
{
	cr_assert_eq(conftest_load(full), 0, "%s", err);
	assert_full(c);
	cr_assert(trusted4("10.200.3.4"));
	cr_assert(trusted4("192.0.2.7"));
	cr_assert_not(trusted4("192.0.2.8"));
	cr_assert(trusted6("fd12::1"));
	/* The file's list replaces the default: loopback is not in it. */
	cr_assert_not(trusted4("127.0.0.1"));
	cr_assert(conf_is_domain(c, "EXAMPLE.com", 11));
	cr_assert_not(conf_is_domain(c, "example.co", 10));
	cr_assert_not(conf_is_domain(c, "localhost", 9));
}

Test(conf, loads_a_real_file)
{
	char path[] = "/tmp/sipedge-conf-XXXXXX";
	int fd = mkstemp(path);
	int e;

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, full, sizeof(full) - 1),
		     (ssize_t)(sizeof(full) - 1));
	close(fd);
	e = conf_load(path, &c, err, sizeof(err));
	cr_assert_eq(e, 0, "%s", err);
	cr_assert_str_eq(c->path, path);
	assert_full(c);
	conf_free(c);
	c = NULL;

	/* The same file with a fault names the file and the line. */
	fd = open(path, O_WRONLY | O_APPEND);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "bogus: 1\n", 9), 9);
	close(fd);
	e = conf_load(path, &c, err, sizeof(err));
	unlink(path);
	cr_assert_eq(e, ERR_CONFIG);
	cr_assert_null(c);
	{
		char want[64];

		snprintf(want, sizeof(want), "%s:24: unknown key 'bogus'",
			 path);
		cr_assert_str_eq(err, want);
	}
}

Test(conf, sample_config_in_etc_is_valid)
{
	/* make runs the tests from the repository root. */
	int e = conf_load("etc/sipedge.yaml", &c, err, sizeof(err));

	cr_assert_eq(e, 0, "%s", err);
	assert_defaults(c);
}

Test(conf, missing_file_is_enoent)
{
	int e = conf_load("/nonexistent/sipedge.yaml", &c, err, sizeof(err));

	cr_assert_eq(e, -ENOENT);
	cr_assert_null(c);
	cr_assert_str_eq(
	    err, "/nonexistent/sipedge.yaml: No such file or directory");
}

Test(conf, directory_is_not_a_file)
{
	int e = conf_load("/", &c, err, sizeof(err));

	cr_assert_eq(e, -EISDIR);
	cr_assert_str_eq(err, "/: Is a directory");
}

Test(conf, unknown_key_names_key_and_line)
{
	conftest_expect_error("workers: 2\nbogus: 1\n",
			      "t.yaml:2: ", "unknown key 'bogus'");
	conftest_expect_error(
	    "workers: 2\ntcp:\n  idle_timeout_s: 5\n  bogus: 1\n",
	    "t.yaml:4: ", "unknown key 'tcp.bogus'");
	conftest_expect_error("listen:\n  - address: 127.0.0.1\n"
			      "  - address: 127.0.0.2\n    prot: 5\n",
			      "t.yaml:4: ", "unknown key 'listen[1].prot'");
	conftest_expect_error("registrar:\n  trusted: []\n  realm: x\n",
			      "t.yaml:3: ", "unknown key 'registrar.realm'");
	/* Keys are case-sensitive. */
	conftest_expect_error("\n\nWorkers: 2\n", "t.yaml:3: ", "'Workers'");
}

Test(conf, wrong_type_names_key_and_line)
{
	conftest_expect_error(
	    "workers: many\n",
	    "t.yaml:1: ", "workers: expected a decimal integer, got 'many'");
	conftest_expect_error("log_level: info\ntcp: 5\n",
			      "t.yaml:2: ", "tcp: expected a mapping");
	conftest_expect_error("domains: example.com\n",
			      "t.yaml:1: ", "domains: expected a list");
	conftest_expect_error("listen:\n  address: 127.0.0.1\n", "t.yaml:2: ",
			      "listen: expected a list, got a mapping");
	conftest_expect_error(
	    "udp:\n  batch: [1]\n",
	    "t.yaml:2: ", "udp.batch: expected a decimal integer, got a list");
	conftest_expect_error("server_name: {a: b}\n",
			      "t.yaml:1: ", "server_name: expected a string");
	conftest_expect_error(
	    "max_headers:\n", "t.yaml:1: ",
	    "max_headers: expected a decimal integer, got nothing");
	conftest_expect_error("- workers: 1\n", "t.yaml:1: ",
			      "top level: expected a mapping, got a list");
	conftest_expect_error("workers: 0x10\n", "t.yaml:1: ", "workers:");
	conftest_expect_error("workers: 010\n", "t.yaml:1: ", "workers:");
}

Test(conf, out_of_range_integers)
{
	conftest_expect_error("workers: 65\n", "t.yaml:1: ",
			      "workers: 65 is out of range (0..64)");
	conftest_expect_error("workers: -1\n",
			      "t.yaml:1: ", "workers: -1 is out");
	conftest_expect_error("workers: 99999999999999999999999\n",
			      "t.yaml:1: ", "out of range");
	conftest_expect_error(
	    "listen:\n  - address: 127.0.0.1\n    port: 65536\n",
	    "t.yaml:3: ", "listen[0].port: 65536 is out of range");
	conftest_expect_error(
	    "listen:\n  - address: 127.0.0.1\n    port: 0\n",
	    "t.yaml:3: ", "listen[0].port: 0 is out of range");
	conftest_expect_error("udp: {batch: 0}\n",
			      "t.yaml:1: ", "udp.batch: 0");
	conftest_expect_error("udp:\n  batch: 1025\n",
			      "t.yaml:2: ", "udp.batch: 1025");
	conftest_expect_error("max_headers: 15\n",
			      "t.yaml:1: ", "max_headers: 15");
	conftest_expect_error("max_headers: 1025\n",
			      "t.yaml:1: ", "max_headers: 1025");
	conftest_expect_error("tcp:\n  max_header_bytes: 1023\n",
			      "t.yaml:2: ", "tcp.max_header_bytes: 1023");
	conftest_expect_error("tcp:\n  idle_timeout_s: 0\n",
			      "t.yaml:2: ", "tcp.idle_timeout_s: 0");

	/* The bounds themselves are accepted. */
	cr_assert_eq(conftest_load("workers: 64\nudp: {batch: 1024}\n"
				   "max_headers: 16\n"),
		     0, "%s", err);
	cr_assert_eq(c->workers, 64);
	cr_assert_eq(c->udp.batch, 1024);
	cr_assert_eq(c->max_headers, 16);
}

Test(conf, registrar_and_store_keys)
{
	cr_assert_eq(conftest_load("registrar:\n"
				   "  min_expires_s: 30\n"
				   "  max_expires_s: 7200\n"
				   "  default_expires_s: 600\n"
				   "  users_file: /etc/sipedge/users\n"
				   "  auth_methods: [REGISTER, MESSAGE]\n"
				   "  nonce_ttl_s: 60\n"
				   "  secret: 0123456789abcdef0123\n"
				   "  max_auth_failures: 3\n"
				   "  auth_failure_window_s: 30\n"
				   "store:\n"
				   "  backend: memory\n"
				   "  snapshot: /var/lib/sipedge/loc.snap\n"
				   "  snapshot_interval_s: 5\n"),
		     0, "%s", err);
	cr_assert_eq(reg_conf(c)->min_expires_s, 30);
	cr_assert_eq(reg_conf(c)->max_expires_s, 7200);
	cr_assert_eq(reg_conf(c)->default_expires_s, 600);
	cr_assert_str_eq(reg_conf(c)->users_file, "/etc/sipedge/users");
	cr_assert_eq(reg_conf(c)->auth_methods,
		     (1u << SIP_REGISTER) | (1u << SIP_MESSAGE));
	cr_assert_eq(reg_conf(c)->nonce_ttl_s, 60);
	cr_assert_str_eq(reg_conf(c)->secret, "0123456789abcdef0123");
	cr_assert_eq(reg_conf(c)->max_auth_failures, 3);
	cr_assert_eq(reg_conf(c)->auth_failure_window_s, 30);
	cr_assert_str_eq(store_conf(c)->snapshot, "/var/lib/sipedge/loc.snap");
	cr_assert_eq(store_conf(c)->snapshot_interval_s, 5);
}

Test(conf, registrar_keys_are_checked)
{
	conftest_expect_error("registrar:\n  auth_methods: [REGISTER, FOO]\n",
			      "t.yaml:2: ", "registrar.auth_methods: 'FOO'");
	conftest_expect_error("registrar:\n  min_expires_s: 0\n",
			      "t.yaml:2: ", "registrar.min_expires_s: 0");
	conftest_expect_error("registrar:\n  secret: short\n",
			      "t.yaml:2: ", "registrar.secret");
	conftest_expect_error("store:\n  snapshot_interval_s: 0\n",
			      "t.yaml:2: ", "store.snapshot_interval_s: 0");
	/* Bounds out of order name all three keys. */
	conftest_expect_error(
	    "registrar:\n  min_expires_s: 600\n"
	    "  max_expires_s: 300\n",
	    "t.yaml: ", "min_expires_s (600) <= default_expires_s");
	conftest_expect_error("registrar:\n  default_expires_s: 30\n",
			      "t.yaml: ", "default_expires_s (30)");
}

Test(conf, bad_enum_values)
{
	conftest_expect_error("log_level: loud\n", "t.yaml:1: ",
			      "log_level: 'loud' is not one of debug, info");
	conftest_expect_error("log_level: INFO\n",
			      "t.yaml:1: ", "log_level: 'INFO'");
	conftest_expect_error(
	    "udp:\n  steering: maybe\n",
	    "t.yaml:2: ", "udp.steering: 'maybe' is not one of auto, bpf, off");
	conftest_expect_error(
	    "store:\n  backend: mysql\n",
	    "t.yaml:2: ", "store.backend: 'mysql' is not one of memory, redis");
	conftest_expect_error(
	    "listen:\n  - address: 127.0.0.1\n"
	    "    transports: [udp, sctp]\n",
	    "t.yaml:3: ", "listen[0].transports: 'sctp' is not one of");
	conftest_expect_error(
	    "listen:\n  - address: 127.0.0.1\n"
	    "    transports: []\n",
	    "t.yaml:3: ", "listen[0].transports: must not be empty");
	conftest_expect_error("listen:\n  - address: 127.0.0.1\n"
			      "    transports: [tcp, tcp]\n",
			      "t.yaml:3: ", "'tcp' is given twice");
}

Test(conf, log_levels)
{
	static const struct {
		const char *text;
		enum log_level lvl;
	} t[] = {
		{ "log_level: debug", LOG_DEBUG },
		{ "log_level: notice", LOG_NOTICE },
		{ "log_level: warning", LOG_WARN },
		{ "log_level: error", LOG_ERR },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cr_assert_eq(conftest_load(t[i].text), 0, "%s", err);
		cr_assert_eq(c->log_level, t[i].lvl, "%s", t[i].text);
		conf_free(c);
		c = NULL;
	}
}

Test(conf, bad_listen_address)
{
	conftest_expect_error(
	    "listen:\n  - address: 1.2.3\n",
	    "t.yaml:2: ", "listen[0].address: '1.2.3' is not an IPv4 or IPv6");
	conftest_expect_error("listen:\n  - address: localhost\n", "t.yaml:2: ",
			      "'localhost' is not an IPv4 or IPv6 address");
	conftest_expect_error("listen:\n  - address: \"[::1]\"\n",
			      "t.yaml:2: ", "'[::1]'");
	conftest_expect_error(
	    "listen:\n  - address: 127.0.0.1\n"
	    "  - address: \"127.0.0.1:5060\"\n",
	    "t.yaml:3: ", "listen[1].address: '127.0.0.1:5060'");
	conftest_expect_error("listen:\n  - address: \"\"\n", "t.yaml:2: ",
			      "listen[0].address: must not be empty");
	conftest_expect_error("listen:\n  - port: 5061\n", "t.yaml:2: ",
			      "listen[0]: missing required key 'address'");
	conftest_expect_error("listen: []\n",
			      "t.yaml:1: ", "listen: needs at least 1 entry");
}

Test(conf, ipv6_listen)
{
	const struct sockaddr_in6 *a;

	cr_assert_eq(conftest_load("listen:\n  - address: \"fe80::1:2\"\n"
				   "    port: 5080\n"),
		     0, "%s", err);
	cr_assert_eq(c->nlisten, 1);
	cr_assert(c->listen[0].udp && c->listen[0].tcp);
	a = (const struct sockaddr_in6 *)&c->listen[0].addr;
	cr_assert_eq(a->sin6_family, AF_INET6);
	cr_assert_eq(ntohs(a->sin6_port), 5080);
	cr_assert_eq(a->sin6_addr.s6_addr[0], 0xfe);
	cr_assert_eq(a->sin6_addr.s6_addr[1], 0x80);
	cr_assert_eq(a->sin6_addr.s6_addr[13], 0x01);
	cr_assert_eq(a->sin6_addr.s6_addr[15], 0x02);
	cr_assert_eq(c->listen[0].addrlen, sizeof(struct sockaddr_in6));
}

Test(conf, bad_cidr)
{
	conftest_expect_error(
	    "registrar:\n  trusted:\n    - 10.0.0.0/8\n"
	    "    - 10.0.0.0/33\n",
	    "t.yaml:4: ",
	    "registrar.trusted[1]: '10.0.0.0/33' is not a network");
	conftest_expect_error("registrar:\n  trusted: [\"::/129\"]\n",
			      "t.yaml:2: ", "registrar.trusted[0]: '::/129'");
	conftest_expect_error("registrar:\n  trusted: [10.0.0.0/8x]\n",
			      "t.yaml:2: ", "'10.0.0.0/8x'");
	conftest_expect_error("registrar:\n  trusted: [10.0.0.0/]\n",
			      "t.yaml:2: ", "'10.0.0.0/'");
	conftest_expect_error("registrar:\n  trusted: [/8]\n",
			      "t.yaml:2: ", "'/8'");
	conftest_expect_error("registrar:\n  trusted: [10.0.0.0/08]\n",
			      "t.yaml:2: ", "'10.0.0.0/08'");
	conftest_expect_error("registrar:\n  trusted: [example.com/8]\n",
			      "t.yaml:2: ", "'example.com/8'");
}

Test(conf, cidr_matching)
{
	cr_assert_eq(conftest_load("registrar:\n"
				   "  trusted:\n"
				   "    - 172.16.0.0/12\n"
				   "    - 10.1.2.3/8\n"
				   "    - \"2001:db8::/33\"\n"
				   "    - \"::ffff:192.168.0.0/112\"\n"
				   "    - 0.0.0.0/0\n"),
		     0, "%s", err);
	cr_assert_eq(reg_conf(c)->ntrusted, 5);
	/* Host bits are ignored. */
	cr_assert_eq(reg_conf(c)->trusted[1].addr[1], 0);
	cr_assert_eq(reg_conf(c)->trusted[1].addr[3], 0);
	/* A v4-mapped network is kept as the IPv4 network. */
	cr_assert_eq(reg_conf(c)->trusted[3].family, AF_INET);
	cr_assert_eq(reg_conf(c)->trusted[3].prefix, 16);
	cr_assert(trusted6("2001:db8:7fff::1"));
	cr_assert_not(trusted6("2001:db8:8000::1"));
	cr_assert_not(trusted6("2001:db9::1"));
	/* 0.0.0.0/0 matches every IPv4 source, IPv4-mapped ones too. */
	cr_assert(trusted4("8.8.8.8"));
	cr_assert(trusted6("::ffff:8.8.8.8"));
	cr_assert_not(trusted6("::8.8.8.8"));
	conf_free(c);
	c = NULL;

	cr_assert_eq(conftest_load("registrar:\n"
				   "  trusted:\n"
				   "    - 172.16.0.0/12\n"
				   "    - 10.1.2.3/8\n"
				   "    - \"::ffff:192.168.0.0/112\"\n"),
		     0, "%s", err);
	cr_assert(trusted4("172.16.0.1"));
	cr_assert(trusted4("172.31.255.255"));
	cr_assert_not(trusted4("172.32.0.0"));
	cr_assert_not(trusted4("172.15.255.255"));
	cr_assert(trusted4("10.255.255.255"));
	cr_assert_not(trusted4("11.0.0.0"));
	cr_assert(trusted4("192.168.44.1"));
	cr_assert_not(trusted4("192.169.0.1"));
	/* v4-mapped IPv6 sources count as IPv4. */
	cr_assert(trusted6("::ffff:172.20.1.1"));
	cr_assert(trusted6("::ffff:192.168.1.1"));
	cr_assert_not(trusted6("::ffff:172.32.0.1"));
	/* No IPv6 network listed: no IPv6 source is trusted. */
	cr_assert_not(trusted6("::1"));
	cr_assert_not(reg_conf_is_trusted(c, NULL));
	{
		struct sockaddr_un un = { .sun_family = AF_UNIX };

		cr_assert_not(reg_conf_is_trusted(c, (struct sockaddr *)&un));
	}
}

Test(conf, empty_trusted_list_trusts_no_one)
{
	cr_assert_eq(conftest_load("registrar:\n  trusted: []\n"), 0, "%s",
		     err);
	cr_assert_eq(reg_conf(c)->ntrusted, 0);
	cr_assert_not(trusted4("127.0.0.1"));
	cr_assert_not(trusted6("::1"));
	conf_free(c);
	c = NULL;
	/* registrar without trusted keeps the default. */
	cr_assert_eq(conftest_load("registrar: {}\n"), 0, "%s", err);
	cr_assert_eq(reg_conf(c)->ntrusted, 2);
	cr_assert(trusted4("127.0.0.1"));
}

Test(conf, duplicate_keys)
{
	conftest_expect_error("workers: 1\nlog_level: info\nworkers: 2\n",
			      "t.yaml:3: ", "duplicate key 'workers'");
	conftest_expect_error(
	    "tcp:\n  max_connections: 1\n  max_connections: 2\n",
	    "t.yaml:3: ", "duplicate key 'tcp.max_connections'");
	conftest_expect_error(
	    "listen:\n  - address: 127.0.0.1\n"
	    "    address: 127.0.0.2\n",
	    "t.yaml:3: ", "duplicate key 'listen[0].address'");
	conftest_expect_error("udp: {batch: 1, batch: 2}\n",
			      "t.yaml:1: ", "duplicate key 'udp.batch'");
}

Test(conf, yaml_syntax_error_has_line)
{
	conftest_expect_error("workers: 2\nlisten: [\n",
			      "t.yaml:3: ", "YAML syntax error");
	conftest_expect_error("workers: 2\nlog_level: \"info\n",
			      "t.yaml:3: ", "YAML syntax error");
	conftest_expect_error("workers: 2\n\t- x\n",
			      "t.yaml:2: ", "YAML syntax error");
	conftest_expect_error("workers: 1\nudp:\n  batch: 4\n bad: 1\n",
			      "t.yaml:4: ", "YAML syntax error");
	/* Invalid UTF-8 is a reader error: the line comes from the offset. */
	conftest_expect_error("workers: 1\n\n\xff\n",
			      "t.yaml:3: ", "YAML syntax error");
}

Test(conf, redis_backend_is_accepted)
{
	/* store/redis.h; its keys: tests/unit/proxy/test_conf_redis.c. */
	cr_assert_eq(conftest_load("workers: 1\nstore:\n  backend: redis\n"), 0,
		     "%s", err);
	cr_assert_eq(store_conf(c)->backend, CONF_STORE_REDIS);
}

Test(conf, yaml_features_not_in_the_schema)
{
	conftest_expect_error("workers: 1\n---\nworkers: 2\n", "t.yaml:2: ",
			      "only one YAML document is allowed");
	conftest_expect_error("workers: &n 2\nmax_headers: *n\n",
			      "t.yaml:2: ", "aliases (*n) are not supported");
	conftest_expect_error("? [a, b]\n: 1\n", "t.yaml:1: ",
			      "top level: a key must be a plain name");
	conftest_expect_error("server_name: \"a\\0b\"\n", "t.yaml:1: ",
			      "server_name: contains a NUL character");
	conftest_expect_error(
	    "domains: [\"exa mple.com\"]\n",
	    "t.yaml:1: ", "domains[0]: 'exa mple.com' is not a domain name");
}

Test(conf, list_length_limits)
{
	char text[2048];
	size_t n = 0;

	n += (size_t)snprintf(text + n, sizeof(text) - n, "listen:\n");
	for (int i = 1; i <= 17; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "  - address: 127.0.0.%d\n", i);
	conftest_expect_error(
	    text, "t.yaml:18: ", "listen: too many entries (at most 16)");
}

Test(conf, message_without_buffer_is_safe)
{
	cr_assert_eq(conf_load_mem("t.yaml", "bogus: 1", 8, &c, NULL, 0),
		     ERR_CONFIG);
	cr_assert_null(c);
	cr_assert_eq(conf_load_mem("t.yaml", "bogus: 1", 8, &c, err, 8),
		     ERR_CONFIG);
	cr_assert_str_eq(err, "t.yaml:");
}

Test(conf, text_is_bounded_by_len)
{
	/* Only the first 10 bytes count: "workers: 2", not the rest. */
	cr_assert_eq(conf_load_mem("t.yaml", "workers: 2bogus", 10, &c, err,
				   sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(c->workers, 2);
}

Test(conf, workers_resolution)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned want = cpus < 1 ? 1 : cpus > 64 ? 64 : (unsigned)cpus;

	cr_assert_eq(conf_workers(0), want);
	cr_assert_eq(conf_workers(1), 1);
	cr_assert_eq(conf_workers(64), 64);
	cr_assert_eq(conf_workers(1000), CONF_MAX_WORKERS);
	cr_assert_eq(conftest_load("workers: 0\n"), 0, "%s", err);
	cr_assert_eq(c->workers, want);
}

Test(conf, free_null)
{
	/* conf_free(NULL) does nothing (and must not crash)... */
	conf_free(NULL);
	/* ...and no file at all gives the defaults, as an empty one. */
	cr_assert_eq(conf_load(NULL, &c, NULL, 0), 0);
	cr_assert_not_null(c);
	cr_assert_eq(proxy_conf(c)->t1_ms, 500);
	cr_assert(proxy_conf(c)->record_route);
}

/* Issue 3: proxy, routes, locations, overload. */

Test(conf, proxy_defaults)
{
	cr_assert_eq(conftest_load(""), 0, "%s", err);
	cr_assert(proxy_conf(c)->record_route);
	cr_assert_eq(proxy_conf(c)->t1_ms, 500);
	cr_assert_eq(proxy_conf(c)->t2_ms, 4000);
	cr_assert_eq(proxy_conf(c)->t4_ms, 5000);
	cr_assert_eq(proxy_conf(c)->timer_c_s, 180);
	cr_assert_eq(c->overload.max_inbox, 10000);
	cr_assert_eq(c->overload.max_transactions, 100000);
	cr_assert_eq(c->overload.max_completed, 100000);
	cr_assert_eq(c->overload.retry_after_s, 5);
	cr_assert_eq(proxy_conf(c)->nroutes, 0);
	cr_assert_eq(proxy_conf(c)->nlocations, 0);
}

Test(conf, proxy_routes_locations_and_overload)
{
	const struct sockaddr_in *a;

	cr_assert_eq(
	    conftest_load("proxy:\n"
			  "  record_route: false\n"
			  "  t1_ms: 50\n"
			  "  t2_ms: 20\n"
			  "  t4_ms: 100\n"
			  "  timer_c_s: 3\n"
			  "routes:\n"
			  "  - domain: Carrier.Example\n"
			  "    next_hop: [\"sip:192.0.2.1\", "
			  "\"sip:192.0.2.2:5080;transport=tcp\"]\n"
			  "  - prefix: \"+1\"\n"
			  "    next_hop: [\"sip:[2001:db8::1]:5070\"]\n"
			  "locations:\n"
			  "  - aor: alice@localhost\n"
			  "    contacts:\n"
			  "      - sip:alice@127.0.0.1:5090;transport=tcp\n"
			  "      - \"<sip:alice@127.0.0.1:5091>;q=0.5\"\n"
			  "overload:\n"
			  "  max_inbox: 10\n"
			  "  max_transactions: 20\n"
			  "  max_completed: 40\n"
			  "  retry_after_s: 30\n"),
	    0, "%s", err);
	cr_assert_not(proxy_conf(c)->record_route);
	cr_assert_eq(proxy_conf(c)->t1_ms, 50);
	cr_assert_eq(proxy_conf(c)->t2_ms, 50, "T2 is at least T1");
	cr_assert_eq(proxy_conf(c)->t4_ms, 100);
	cr_assert_eq(proxy_conf(c)->timer_c_s, 3);
	cr_assert_eq(proxy_conf(c)->nroutes, 2);
	cr_assert_str_eq(proxy_conf(c)->routes[0].domain, "carrier.example");
	cr_assert_null(proxy_conf(c)->routes[0].prefix);
	cr_assert_eq(proxy_conf(c)->routes[0].nnext_hop, 2);
	cr_assert_str_eq(proxy_conf(c)->routes[0].next_hop[1].uri,
			 "sip:192.0.2.2:5080;transport=tcp");
	cr_assert_eq(proxy_conf(c)->routes[0].next_hop[0].proto, 0);
	cr_assert_eq(proxy_conf(c)->routes[0].next_hop[1].proto, 1);
	a = (const struct sockaddr_in *)&proxy_conf(c)
		->routes[0]
		.next_hop[0]
		.addr;
	cr_assert_eq(ntohs(a->sin_port), 5060);
	a = (const struct sockaddr_in *)&proxy_conf(c)
		->routes[0]
		.next_hop[1]
		.addr;
	cr_assert_eq(ntohs(a->sin_port), 5080);
	cr_assert_str_eq(proxy_conf(c)->routes[1].prefix, "+1");
	cr_assert_eq(proxy_conf(c)->routes[1].next_hop[0].addr.ss_family,
		     AF_INET6);
	cr_assert_eq(proxy_conf(c)->nlocations, 1);
	cr_assert_str_eq(proxy_conf(c)->locations[0].aor, "alice@localhost");
	cr_assert_eq(proxy_conf(c)->locations[0].ncontacts, 2);
	cr_assert_str_eq(proxy_conf(c)->locations[0].contacts[0].uri,
			 "sip:alice@127.0.0.1:5090;transport=tcp");
	cr_assert_eq(proxy_conf(c)->locations[0].contacts[0].proto, 1);
	cr_assert_eq(proxy_conf(c)->locations[0].contacts[0].q, 1000);
	cr_assert_str_eq(proxy_conf(c)->locations[0].contacts[1].uri,
			 "sip:alice@127.0.0.1:5091");
	cr_assert_eq(proxy_conf(c)->locations[0].contacts[1].q, 500);
	cr_assert_eq(c->overload.max_inbox, 10);
	cr_assert_eq(c->overload.max_transactions, 20);
	cr_assert_eq(c->overload.max_completed, 40);
	cr_assert_eq(c->overload.retry_after_s, 30);
	/* The first match wins: domain, then prefix on the user part. */
	cr_assert_eq(proxy_conf_route_find(c, SLICE_LIT("CARRIER.example"),
					   SLICE_LIT("x")),
		     &proxy_conf(c)->routes[0]);
	cr_assert_eq(proxy_conf_route_find(c, SLICE_LIT("other.example"),
					   SLICE_LIT("+15551234")),
		     &proxy_conf(c)->routes[1]);
	cr_assert_null(proxy_conf_route_find(c, SLICE_LIT("other.example"),
					     SLICE_LIT("15551234")));
}

Test(conf, proxy_values_checked_with_their_line)
{
	conftest_expect_error(
	    "proxy:\n  record_route: maybe\n", "t.yaml:2: ",
	    "proxy.record_route: 'maybe' is not one of true, false");
	conftest_expect_error("proxy:\n  t1_ms: 5\n", "t.yaml:2: ",
			      "proxy.t1_ms: 5 is out of range (10..10000)");
	conftest_expect_error("proxy:\n  timer_c_s: 0\n",
			      "t.yaml:2: ", "out of range (1..3600)");
	conftest_expect_error("proxy:\n  t3_ms: 5\n",
			      "t.yaml:2: ", "unknown key 'proxy.t3_ms'");
	conftest_expect_error("overload:\n  max_inbox: 0\n", "t.yaml:2: ",
			      "overload.max_inbox: 0 is out of range");
	conftest_expect_error("overload:\n  retry_after_s: x\n",
			      "t.yaml:2: ", "expected a decimal integer");
}

Test(conf, routes_checked_with_their_line)
{
	conftest_expect_error(
	    "routes:\n"
	    "  - domain: a.example\n"
	    "    prefix: \"+1\"\n"
	    "    next_hop: [\"sip:192.0.2.1\"]\n",
	    "t.yaml:2: ", "needs exactly one of 'domain' and 'prefix'");
	conftest_expect_error("routes:\n"
			      "  - next_hop: [\"sip:192.0.2.1\"]\n",
			      "t.yaml:2: ", "needs exactly one of");
	conftest_expect_error("routes:\n"
			      "  - domain: a.example\n",
			      "t.yaml:2: ", "missing required key 'next_hop'");
	conftest_expect_error("routes:\n"
			      "  - domain: a.example\n"
			      "    next_hop: []\n",
			      "t.yaml:3: ", "needs at least 1 entry");
	/* A next hop may be a name (RFC 3263, proxy/dns.h); a contact
	 * may not. */
	conftest_expect_error(
	    "locations:\n"
	    "  - aor: a@example.com\n"
	    "    contacts:\n"
	    "      - sip:a@192.0.2.1\n"
	    "      - sip:a@gw.example.net\n",
	    "t.yaml:5: ", "the host must be an IP address (no DNS)");
	conftest_expect_error(
	    "routes:\n"
	    "  - domain: a.example\n"
	    "    next_hop: [\"sip:192.0.2.1;transport=sctp\"]\n",
	    "t.yaml:3: ", "transport must be udp, tcp or tls");
	conftest_expect_error("routes:\n"
			      "  - domain: a.example\n"
			      "    next_hop: [\"http://192.0.2.1\"]\n",
			      "t.yaml:3: ", "is not a sip: URI");
	conftest_expect_error("routes:\n"
			      "  - prefix: \"1-800\"\n"
			      "    next_hop: [\"sip:192.0.2.1\"]\n",
			      "t.yaml:2: ", "is not a number prefix");
	conftest_expect_error("routes:\n"
			      "  - domain: \"a b\"\n"
			      "    next_hop: [\"sip:192.0.2.1\"]\n",
			      "t.yaml:2: ", "is not a domain name");
}

Test(conf, locations_checked_with_their_line)
{
	conftest_expect_error("locations:\n"
			      "  - aor: alice\n"
			      "    contacts: [\"sip:alice@127.0.0.1\"]\n",
			      "t.yaml:2: ", "is not an address of record");
	conftest_expect_error("locations:\n"
			      "  - aor: sip:alice@localhost\n"
			      "    contacts: [\"sip:alice@127.0.0.1\"]\n",
			      "t.yaml:2: ", "is not an address of record");
	conftest_expect_error("locations:\n"
			      "  - aor: alice@localhost\n"
			      "    contacts: [\"<sip:alice@127.0.0.1>;q=2\"]\n",
			      "t.yaml:3: ", "q must be 0 .. 1");
	conftest_expect_error("locations:\n"
			      "  - aor: alice@localhost\n"
			      "    contacts: [\"sip:alice@host.example\"]\n",
			      "t.yaml:3: ", "no DNS");
	conftest_expect_error("locations:\n"
			      "  - aor: alice@localhost\n",
			      "t.yaml:2: ", "missing required key 'contacts'");
}
