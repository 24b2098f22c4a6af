/* tests/unit/proxy/sip/test_peer.c - peer addresses: parse and print */
#include <errno.h>
#include <netinet/in.h>
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
