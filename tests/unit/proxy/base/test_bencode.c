/* tests/unit/proxy/base/test_bencode.c - bencode: encode, parse, malformed
 * input (truncations, mutations, random bytes) behind a guard page */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "proxy/base/bencode.h"
#include "tests/common/guard.h"
#include "tests/common/teardown.h"

static void setup(void)
{
}

static void teardown(void)
{
	guard_free_kept();
	teardown_check_objs(0);
}

TestSuite(bencode, .init = setup, .fini = teardown, .timeout = 30);

/* What rtpengine answers an offer, shortened. */
static const char reply[] = "d3:sdp20:v=0\r\nm=audio 30000\r\n6:result2:ok"
			    "7:warningl1:a2:bce5:totali-42ee";

static int parse_guarded(const char *s, size_t len, struct bencode_node *nd,
			 unsigned max)
{
	char *g = guard_copy(s, len);
	int ret;

	cr_assert_not_null(g);
	ret = bencode_parse(slice_make(g, len), nd, max);
	guard_free(g);
	return ret;
}

Test(bencode, encodes_a_dictionary_of_every_type)
{
	char buf[128];
	struct bencode_buf b;
	size_t len = 0;

	bencode_init(&b, buf, sizeof(buf));
	bencode_dict(&b);
	bencode_cstr(&b, "command");
	bencode_cstr(&b, "offer");
	bencode_cstr(&b, "flags");
	bencode_list(&b);
	bencode_cstr(&b, "trust-address");
	bencode_end(&b);
	bencode_cstr(&b, "n");
	bencode_int(&b, -17);
	bencode_cstr(&b, "z");
	bencode_str(&b, slice_make("\0:e", 3));
	bencode_end(&b);
	cr_assert_eq(bencode_finish(&b, &len), 0);
	cr_assert_eq(len, strlen("d7:command5:offer5:flagsl13:trust-addresse"
				 "1:ni-17e1:z3:") +
			      4);
	cr_assert_eq(memcmp(buf,
			    "d7:command5:offer5:flagsl13:trust-addresse1:ni-"
			    "17e1:z3:\0:ee",
			    len),
		     0);
}

Test(bencode, encoder_reports_no_room_unbalanced_and_too_deep)
{
	char buf[8];
	struct bencode_buf b;
	size_t len = 99;
	unsigned i;

	bencode_init(&b, buf, sizeof(buf));
	bencode_cstr(&b, "0123456789");
	cr_assert_eq(bencode_finish(&b, &len), -ENOSPC);
	cr_assert_eq(len, 99, "not written on error");

	bencode_init(&b, buf, sizeof(buf));
	bencode_dict(&b);
	cr_assert_eq(bencode_finish(&b, &len), -EINVAL);
	bencode_end(&b);
	bencode_end(&b);
	cr_assert_eq(bencode_finish(&b, &len), -EINVAL);

	bencode_init(&b, buf, sizeof(buf));
	cr_assert_eq(bencode_finish(&b, &len), -EINVAL, "nothing written");

	char big[64];
	bencode_init(&b, big, sizeof(big));
	for (i = 0; i <= BENCODE_MAX_DEPTH; i++)
		bencode_list(&b);
	cr_assert_eq(bencode_finish(&b, &len), -E2BIG);
}

Test(bencode, parses_a_reply_and_finds_keys)
{
	struct bencode_node nd[16];
	struct slice s;
	int n, v;

	n = bencode_parse(
	    slice_make(guard_keep(reply, strlen(reply)), strlen(reply)), nd,
	    16);
	cr_assert_eq(n, 11);
	cr_assert_eq(nd[0].type, BENCODE_DICT);
	cr_assert_eq(nd[0].n, 8);
	cr_assert_eq(nd[0].next, 11);
	cr_assert(bencode_get_str(nd, 0, "result", &s));
	cr_assert_eq(s.len, 2);
	cr_assert_eq(memcmp(s.p, "ok", 2), 0);
	cr_assert(bencode_get_str(nd, 0, "sdp", &s));
	cr_assert_eq(s.len, 20);
	v = bencode_get(nd, 0, "warning");
	cr_assert_eq(nd[v].type, BENCODE_LIST);
	cr_assert_eq(nd[v].n, 2);
	cr_assert_eq(nd[v].s.len, strlen("l1:a2:bce"));
	v = bencode_get(nd, 0, "total");
	cr_assert_eq(nd[v].type, BENCODE_INT);
	cr_assert_eq(nd[v].i, -42);
	cr_assert_eq(bencode_get(nd, 0, "nope"), -1);
	cr_assert(!bencode_get_str(nd, 0, "total", &s), "not a string");
	cr_assert_eq(bencode_get(nd, 2, "sdp"), -1, "not a dictionary");
}

Test(bencode, parses_extremes_of_integers_and_empty_values)
{
	struct bencode_node nd[8];
	const char *max = "i9223372036854775807e";
	const char *min = "i-9223372036854775808e";

	cr_assert_eq(parse_guarded(max, strlen(max), nd, 8), 1);
	cr_assert_eq(nd[0].i, INT64_MAX);
	cr_assert_eq(parse_guarded(min, strlen(min), nd, 8), 1);
	cr_assert_eq(nd[0].i, INT64_MIN);
	cr_assert_eq(parse_guarded("0:", 2, nd, 8), 1);
	cr_assert_eq(nd[0].s.len, 0);
	cr_assert_eq(parse_guarded("de", 2, nd, 8), 1);
	cr_assert_eq(parse_guarded("lllee1:ae", 9, nd, 8), 4);
	cr_assert_eq(nd[1].next, 3);
	cr_assert_eq(nd[3].s.len, 1);
}

Test(bencode, refuses_malformed_values)
{
	static const char *const bad[] = {
		"",
		"e",
		"i1",
		"ie",
		"i-e",
		"i-0e",
		"i01e",
		"i1x",
		"i9223372036854775808e",
		"i-9223372036854775809e",
		"01:a",
		"2:a",
		"1a",
		":",
		"d1:ae",
		"di1e1:ae",
		"l",
		"d",
		"1:ab",
		"lee",
		"x",
		"-1:a",
		"99999999999999999999999:a",
		"llllllllllllllllleeeeeeeeeeeeeeeee",
	};
	struct bencode_node nd[64];
	unsigned i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(parse_guarded(bad[i], strlen(bad[i]), nd, 64),
			     -EBADMSG, "%s", bad[i]);
	cr_assert_eq(parse_guarded("l1:a1:be", 8, nd, 2), -E2BIG);
}

Test(bencode, every_truncation_and_mutation_is_refused_or_parsed_in_bounds)
{
	struct bencode_node nd[16];
	size_t len = strlen(reply), cut, i;
	char m[sizeof(reply)];
	static const char subst[] = { 'd', 'e', 'l', 'i', '0',
				      '9', ':', '-', 'x', '\0' };
	unsigned k;

	for (cut = 0; cut < len; cut++)
		cr_assert_eq(parse_guarded(reply, cut, nd, 16), -EBADMSG,
			     "cut at %zu", cut);
	for (i = 0; i < len; i++) {
		for (k = 0; k < sizeof(subst); k++) {
			int ret;

			memcpy(m, reply, len);
			m[i] = subst[k];
			ret = parse_guarded(m, len, nd, 16);
			cr_assert(ret == -EBADMSG || ret == -E2BIG ||
				      (ret > 0 && ret <= 16),
				  "byte %zu -> %c: %d", i, subst[k], ret);
		}
	}
}

Test(bencode, random_bytes_never_crash)
{
	struct bencode_node nd[32];
	char buf[64];
	unsigned seed = 12345, round, i;
	static const char alphabet[] = "dlie0123456789:-xa";

	for (round = 0; round < 20000; round++) {
		size_t len = (size_t)(rand_r(&seed) % (int)sizeof(buf));
		int ret;

		for (i = 0; i < len; i++)
			buf[i] = alphabet[rand_r(&seed) %
					  (int)(sizeof(alphabet) - 1)];
		ret = parse_guarded(buf, len, nd, 32);
		cr_assert(ret == -EBADMSG || ret == -E2BIG ||
			  (ret > 0 && ret <= 32));
		if (ret > 0)
			cr_assert_eq(nd[0].next, (unsigned)ret);
	}
}

Test(bencode, a_parsed_value_encodes_back_to_the_same_bytes)
{
	struct bencode_node nd[16];
	char buf[128];
	struct bencode_buf b;
	size_t len;
	int n, i;
	unsigned open[8], depth = 0;

	n = bencode_parse(
	    slice_make(guard_keep(reply, strlen(reply)), strlen(reply)), nd,
	    16);
	cr_assert_gt(n, 0);
	bencode_init(&b, buf, sizeof(buf));
	for (i = 0; i < n; i++) {
		while (depth > 0 && nd[open[depth - 1]].next == (unsigned)i) {
			bencode_end(&b);
			depth--;
		}
		switch (nd[i].type) {
		case BENCODE_STR:
			bencode_str(&b, nd[i].s);
			break;
		case BENCODE_INT:
			bencode_int(&b, nd[i].i);
			break;
		case BENCODE_LIST:
			bencode_list(&b);
			open[depth++] = (unsigned)i;
			break;
		case BENCODE_DICT:
			bencode_dict(&b);
			open[depth++] = (unsigned)i;
			break;
		}
	}
	while (depth-- > 0)
		bencode_end(&b);
	cr_assert_eq(bencode_finish(&b, &len), 0);
	cr_assert_eq(len, strlen(reply));
	cr_assert_eq(memcmp(buf, reply, len), 0);
}
