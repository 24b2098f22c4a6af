/* tests/unit/proxy/base/test_hex.c - hex digits: bytes, numbers, escapes */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "proxy/base/hex.h"
#include "proxy/base/obj.h"
#include "tests/common/teardown.h"

static void setup(void)
{
}

static void teardown(void)
{
	teardown_check_objs(0);
}

TestSuite(hex, .init = setup, .fini = teardown, .timeout = 10);

Test(hex, bytes_round_trip_in_lower_case)
{
	static const uint8_t in[4] = { 0x00, 0x9f, 0xa0, 0xff };
	uint8_t out[4];
	char text[9];

	hex_print(in, sizeof(in), text);
	cr_assert_str_eq(text, "009fa0ff");
	cr_assert_eq(hex_parse(SLICE_LIT("009FA0ff"), out, 4), 0);
	cr_assert_eq(memcmp(in, out, 4), 0);
	cr_assert_eq(hex_parse(SLICE_LIT("009fa0f"), out, 4), -EINVAL);
	cr_assert_eq(hex_parse(SLICE_LIT("009fa0fg"), out, 4), -EINVAL);
	cr_assert_eq(hex_parse(SLICE_LIT("009f a0ff"), out, 4), -EINVAL);
	hex_print(in, 0, text);
	cr_assert_str_eq(text, "");
}

Test(hex, digits_and_numbers)
{
	char text[16];
	uint64_t v = 7;

	cr_assert_eq(hex_val('0'), 0);
	cr_assert_eq(hex_val('a'), 10);
	cr_assert_eq(hex_val('F'), 15);
	cr_assert_eq(hex_val('g'), -1);
	cr_assert_eq(hex_val('\0'), -1);
	hex_u64_print(0x1234abcdULL, 10, text);
	cr_assert_eq(memcmp(text, "001234abcd", 10), 0);
	hex_u64_print(UINT64_MAX, 16, text);
	cr_assert_eq(memcmp(text, "ffffffffffffffff", 16), 0);
	cr_assert_eq(hex_u64_parse("001234ABCD", 10, &v), 0);
	cr_assert_eq(v, 0x1234abcdULL);
	cr_assert_eq(hex_u64_parse("12x4", 4, &v), -EINVAL);
	cr_assert_eq(v, 0x1234abcdULL, "not written on error");
}

Test(hex, escapes_in_upper_case)
{
	char out[3];

	hex_escape(' ', out);
	cr_assert_eq(memcmp(out, "%20", 3), 0);
	hex_escape(0xfe, out);
	cr_assert_eq(memcmp(out, "%FE", 3), 0);
}
