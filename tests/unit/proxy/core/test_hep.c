/* tests/unit/proxy/core/test_hep.c - HEP v3 packets, checked by a decoder
 * written apart (tests/common/hepdec.c) */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "proxy/core/hep.h"
#include "tests/common/hepdec.h"
#include "tests/common/teardown.h"

static void teardown(void)
{
	teardown_check_objs(0);
}

TestSuite(hep, .fini = teardown, .timeout = 10);

static const char sip[] = "OPTIONS sip:127.0.0.1 SIP/2.0\r\n"
			  "Call-ID: a\r\n"
			  "Content-Length: 0\r\n\r\n";

static struct sockaddr_in v4(const char *ip, uint16_t port)
{
	struct sockaddr_in a;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	cr_assert_eq(inet_pton(AF_INET, ip, &a.sin_addr), 1);
	return a;
}

Test(hep, ipv4_packet_has_every_chunk_and_the_payload_as_is)
{
	struct sockaddr_in s = v4("127.0.0.1", 5062), d = v4("10.1.2.3", 5060);
	struct hep_info in = { (struct sockaddr *)&s,
			       (struct sockaddr *)&d,
			       17,
			       1796000000u,
			       123456u,
			       0xa1b2c3d4u };
	uint8_t buf[1024];
	struct hepdec h;
	int n = hep_encode(&in, sip, sizeof(sip) - 1, buf, sizeof(buf));

	cr_assert_gt(n, 0);
	cr_assert_eq(memcmp(buf, "HEP3", 4), 0);
	cr_assert_eq(hepdec_parse(buf, (size_t)n, &h), 0);
	cr_assert_eq(h.chunks, 11);
	cr_assert_eq(h.family, 2);
	cr_assert_eq(h.ip_proto, 17);
	cr_assert_eq(h.alen, 4);
	cr_assert_eq(memcmp(h.src, &s.sin_addr, 4), 0);
	cr_assert_eq(memcmp(h.dst, &d.sin_addr, 4), 0);
	cr_assert_eq(h.sport, 5062);
	cr_assert_eq(h.dport, 5060);
	cr_assert_eq(h.ts_s, 1796000000u);
	cr_assert_eq(h.ts_us, 123456u);
	cr_assert_eq(h.proto_type, 1);
	cr_assert_eq(h.capture_id, 0xa1b2c3d4u);
	cr_assert_eq(h.payload_len, sizeof(sip) - 1);
	cr_assert_eq(memcmp(h.payload, sip, sizeof(sip) - 1), 0);
	/* 6 header + 11 chunk headers + 1+1+4+4+2+2+4+4+1+4 + payload. */
	cr_assert_eq((size_t)n, 6 + 11 * 6 + 27 + sizeof(sip) - 1);
}

Test(hep, ipv6_over_tcp)
{
	struct sockaddr_in6 s, d;
	struct hep_info in = {
		(struct sockaddr *)&s, (struct sockaddr *)&d, 6, 1, 2, 3
	};
	uint8_t buf[1024];
	struct hepdec h;
	int n;

	memset(&s, 0, sizeof(s));
	memset(&d, 0, sizeof(d));
	s.sin6_family = d.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::1", &s.sin6_addr);
	inet_pton(AF_INET6, "fd00::5", &d.sin6_addr);
	s.sin6_port = htons(40000);
	d.sin6_port = htons(5061);
	n = hep_encode(&in, sip, sizeof(sip) - 1, buf, sizeof(buf));
	cr_assert_gt(n, 0);
	cr_assert_eq(hepdec_parse(buf, (size_t)n, &h), 0);
	cr_assert_eq(h.family, 10);
	cr_assert_eq(h.ip_proto, 6);
	cr_assert_eq(h.alen, 16);
	cr_assert_eq(memcmp(h.src, &s.sin6_addr, 16), 0);
	cr_assert_eq(memcmp(h.dst, &d.sin6_addr, 16), 0);
	cr_assert_eq(h.sport, 40000);
	cr_assert_eq(h.dport, 5061);
}

Test(hep, refuses_what_it_cannot_write)
{
	struct sockaddr_in s = v4("127.0.0.1", 1);
	struct sockaddr_in6 d;
	struct hep_info in = {
		(struct sockaddr *)&s, (struct sockaddr *)&s, 17, 0, 0, 0
	};
	uint8_t small[64], mid[128], *big;
	int n;

	/* Too small a buffer: nothing past it (the canary stays). */
	memset(small, 0xee, sizeof(small));
	cr_assert_eq(hep_encode(&in, sip, sizeof(sip) - 1, small, 60),
		     -EMSGSIZE);
	cr_assert_eq(small[60], 0xee);
	/* Over a UDP datagram. */
	big = calloc(1, HEP_MAX + 100);
	cr_assert_not_null(big);
	cr_assert_eq(hep_encode(&in, big, HEP_MAX, big, HEP_MAX + 100),
		     -EMSGSIZE);
	free(big);
	/* Mixed families. */
	memset(&d, 0, sizeof(d));
	d.sin6_family = AF_INET6;
	in.dst = (struct sockaddr *)&d;
	cr_assert_eq(
	    hep_encode(&in, sip, sizeof(sip) - 1, small, sizeof(small)),
	    -EAFNOSUPPORT);
	/* An empty payload is a valid packet. */
	in.dst = (struct sockaddr *)&s;
	n = hep_encode(&in, "", 0, mid, sizeof(mid));
	cr_assert_eq(n, 6 + 11 * 6 + 27);
}
