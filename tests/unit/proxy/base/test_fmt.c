/* tests/unit/proxy/base/test_fmt.c - decimal and IPv4 text without printf:
 * the same text as snprintf and inet_ntop */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "proxy/base/fmt.h"
#include "tests/common/teardown.h"

static void teardown(void)
{
	teardown_check_objs(0);
}

TestSuite(fmt, .fini = teardown, .timeout = 10);

static const uint64_t values[] = {
	0,
	1,
	9,
	10,
	99,
	100,
	101,
	255,
	999,
	1000,
	5060,
	65535,
	65536,
	99999,
	4294967295,
	4294967296,
	1000000000,
	UINT64_MAX,
	UINT64_MAX - 1,
	10000000000000000000ULL,
};

Test(fmt, u64_is_printf_decimal)
{
	char want[32], got[FMT_U64_MAX];

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		int n = snprintf(want, sizeof(want), "%" PRIu64, values[i]);

		memset(got, 'x', sizeof(got));
		cr_assert_eq(fmt_u64(values[i], got), (size_t)n, "%s", want);
		cr_assert_str_eq(got, want);
	}
}

Test(fmt, u64_pad_is_printf_zero_padded)
{
	static const unsigned widths[] = { 0, 1, 3, 8, 20 };
	char want[32], got[FMT_U64_MAX];

	for (size_t w = 0; w < sizeof(widths) / sizeof(widths[0]); w++)
		for (size_t i = 0; i < sizeof(values) / sizeof(values[0]);
		     i++) {
			int n = snprintf(want, sizeof(want), "%0*" PRIu64,
					 (int)widths[w], values[i]);

			cr_assert_eq(fmt_u64_pad(values[i], widths[w], got),
				     (size_t)n, "%s", want);
			cr_assert_str_eq(got, want);
		}
}

Test(fmt, ipv4_is_inet_ntop)
{
	static const char *const addrs[] = {
		"0.0.0.0",    "127.0.0.1",	 "255.255.255.255",
		"10.0.0.10",  "192.168.100.200", "1.22.133.9",
		"100.10.1.0", "99.199.249.250",
	};
	char want[INET_ADDRSTRLEN], got[FMT_IPV4_MAX];
	struct in_addr a;

	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		cr_assert_eq(inet_pton(AF_INET, addrs[i], &a), 1);
		cr_assert_str_eq(inet_ntop(AF_INET, &a, want, sizeof(want)),
				 addrs[i]);
		cr_assert_eq(fmt_ipv4(&a, got), strlen(want));
		cr_assert_str_eq(got, want);
	}
	/* Every value of one byte, in every position. */
	for (unsigned v = 0; v < 256; v++)
		for (int pos = 0; pos < 4; pos++) {
			unsigned char b[4] = { 1, 2, 3, 4 };

			b[pos] = (unsigned char)v;
			memcpy(&a, b, 4);
			inet_ntop(AF_INET, &a, want, sizeof(want));
			cr_assert_eq(fmt_ipv4(&a, got), strlen(want));
			cr_assert_str_eq(got, want);
		}
}
