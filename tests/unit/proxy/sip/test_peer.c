/* tests/unit/proxy/sip/test_peer.c - peer addresses: parse and print */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "proxy/base/obj.h"
#include "proxy/sip/peer.h"
#include "tests/common/teardown.h"

static void setup(void)
{
}

static void teardown(void)
{
	teardown_check_objs(0);
}

TestSuite(peer, .init = setup, .fini = teardown, .timeout = 10);

Test(peer, parses_ip_literals_and_prints_them_back)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	char buf[64];

	cr_assert_eq(peer_addr_parse("127.0.0.1", 5060, &ss, &len), 0);
	cr_assert_eq(len, sizeof(struct sockaddr_in));
	cr_assert_str_eq(
	    peer_addr_str((struct sockaddr *)&ss, buf, sizeof(buf)),
	    "127.0.0.1:5060");
	cr_assert_eq(peer_addr_parse("::1", 5070, &ss, &len), 0);
	cr_assert_eq(len, sizeof(struct sockaddr_in6));
	cr_assert_str_eq(
	    peer_addr_str((struct sockaddr *)&ss, buf, sizeof(buf)),
	    "[::1]:5070");
	len = 7;
	cr_assert_eq(peer_addr_parse("[::1]", 5060, &ss, &len), -EINVAL);
	cr_assert_eq(peer_addr_parse("example.com", 5060, &ss, &len), -EINVAL);
	cr_assert_eq(len, 7, "not written on error");
	cr_assert_eq(ss.ss_family, 0);
}

Test(peer, hostport_takes_digits_only_and_port_0_only_when_asked)
{
	static const char *const bad[] = {
		"127.0.0.1",	  "127.0.0.1:",	  "127.0.0.1:+5",
		"127.0.0.1: 5",	  "127.0.0.1:-0", "127.0.0.1:65536",
		"127.0.0.1:5x",	  "::1:5060",	  "[::1]5060",
		"[::1:5060",	  ":5060",	  "localhost:5060",
		"1.2.3.4.5:5060",
	};
	struct sockaddr_storage ss;
	socklen_t len;

	cr_assert_eq(peer_hostport_parse("127.0.0.1:5060", &ss, &len), 0);
	cr_assert_eq(ntohs(((struct sockaddr_in *)&ss)->sin_port), 5060);
	cr_assert_eq(peer_hostport_parse("[::1]:65535", &ss, &len), 0);
	cr_assert_eq(ss.ss_family, AF_INET6);
	cr_assert_eq(peer_hostport_parse("127.0.0.1:0", &ss, &len), -EINVAL);
	cr_assert_eq(peer_hostport_parse_any("127.0.0.1:0", &ss, &len), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(peer_hostport_parse(bad[i], &ss, &len), -EINVAL,
			     "%s", bad[i]);
		cr_assert_eq(peer_hostport_parse_any(bad[i], &ss, &len),
			     -EINVAL, "%s", bad[i]);
	}
}

Test(peer, loopback_is_127_slash_8_and_colon_colon_1)
{
	struct sockaddr_storage ss;
	socklen_t len;

	cr_assert_eq(peer_addr_parse("127.9.8.7", 1, &ss, &len), 0);
	cr_assert(peer_addr_is_loopback(&ss));
	cr_assert_eq(peer_addr_parse("::1", 1, &ss, &len), 0);
	cr_assert(peer_addr_is_loopback(&ss));
	cr_assert_eq(peer_addr_parse("128.0.0.1", 1, &ss, &len), 0);
	cr_assert_not(peer_addr_is_loopback(&ss));
	cr_assert_eq(peer_addr_parse("::ffff:127.0.0.1", 1, &ss, &len), 0);
	cr_assert_not(peer_addr_is_loopback(&ss));
	cr_assert_eq(peer_addr_parse("::", 1, &ss, &len), 0);
	cr_assert_not(peer_addr_is_loopback(&ss));
}

Test(peer, names_are_interned_once_without_regard_to_case_and_bounded)
{
	char longname[PEER_NAME_LEN + 2];
	uint32_t a = peer_name_intern("Trunk.Example", 13);
	uint32_t b = peer_name_intern("trunk.example", 13);
	uint32_t c = peer_name_intern("other.example", 13);

	cr_assert_gt(a, 0);
	cr_assert_eq(a, b);
	cr_assert_neq(a, c);
	cr_assert_str_eq(peer_name_get(a), "trunk.example");
	cr_assert_str_eq(peer_name_get(c), "other.example");
	cr_assert_null(peer_name_get(0));
	cr_assert_null(peer_name_get(PEER_NAMES_MAX + 1));
	cr_assert_eq(peer_name_intern("x", 0), 0);
	memset(longname, 'a', sizeof(longname));
	cr_assert_eq(peer_name_intern(longname, PEER_NAME_LEN + 1), 0);
	cr_assert_gt(peer_name_intern(longname, PEER_NAME_LEN), 0);
	/* The table fills and then says so (each test runs in its own
	 * process: the table starts empty). */
	for (unsigned i = 0; i < PEER_NAMES_MAX + 10; i++) {
		char n[32];
		int len = snprintf(n, sizeof(n), "h%u.example", i);

		if (!peer_name_intern(n, (size_t)len)) {
			cr_assert_geq(i, PEER_NAMES_MAX - 4, "full at %u", i);
			return;
		}
	}
	cr_assert_fail("the table never filled");
}
