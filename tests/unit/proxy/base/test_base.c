/* tests/unit/proxy/base/test_base.c - slice, arena, hash, obj and err */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "proxy/base/arena.h"
#include "proxy/base/err.h"
#include "proxy/base/file.h"
#include "proxy/base/hash.h"
#include "proxy/base/obj.h"
#include "proxy/base/slice.h"
#include "tests/common/guard.h"
#include "tests/common/teardown.h"

static void setup(void)
{
}

static void teardown(void)
{
	teardown_check_objs(0);
}

TestSuite(slice, .init = setup, .fini = teardown, .timeout = 10);
TestSuite(arena, .init = setup, .fini = teardown, .timeout = 10);
TestSuite(hash, .init = setup, .fini = teardown, .timeout = 10);
TestSuite(obj, .init = setup, .fini = teardown, .timeout = 10);
TestSuite(err, .init = setup, .fini = teardown, .timeout = 10);

Test(slice, compares_bytes_and_ascii_case)
{
	cr_assert(slice_eq(SLICE_LIT("abc"), SLICE_LIT("abc")));
	cr_assert_not(slice_eq(SLICE_LIT("abc"), SLICE_LIT("abC")));
	cr_assert_not(slice_eq(SLICE_LIT("abc"), SLICE_LIT("ab")));
	cr_assert(slice_eq(slice_make(NULL, 0), SLICE_LIT("")));
	cr_assert(slice_caseeq(SLICE_LIT("Call-ID"), SLICE_LIT("cALL-id")));
	cr_assert_not(slice_caseeq(SLICE_LIT("a-b"), SLICE_LIT("a\rb")));
	cr_assert(slice_caseeq_cstr(SLICE_LIT("INVITE"), "invite"));
	cr_assert_not(slice_caseeq_cstr(SLICE_LIT("INVITE"), "invites"));
	cr_assert(slice_is_empty(slice_cstr(NULL)));
}

Test(slice, trims_lws_on_both_sides)
{
	struct slice s = slice_trim(SLICE_LIT(" \t\r\n value \r\n"));

	cr_assert(slice_eq(s, SLICE_LIT("value")));
	cr_assert_eq(slice_trim(SLICE_LIT(" \t ")).len, 0);
	cr_assert_eq(slice_index(SLICE_LIT("a;b;c"), ';'), 1);
	cr_assert_eq(slice_index(SLICE_LIT("abc"), ';'), -1);
	cr_assert_eq(slice_index(slice_make(NULL, 0), ';'), -1);
}

Test(slice, parses_bounded_decimal_numbers)
{
	uint64_t v = 7;
	char *g = guard_copy("0009", 4);

	cr_assert_not_null(g);
	cr_assert_eq(slice_to_u64(slice_make(g, 4), 100, &v), 0);
	cr_assert_eq(v, 9);
	guard_free(g);
	cr_assert_eq(slice_to_u64(SLICE_LIT("255"), 255, &v), 0);
	cr_assert_eq(v, 255);
	v = 7;
	cr_assert_eq(slice_to_u64(SLICE_LIT("256"), 255, &v), -ERANGE);
	cr_assert_eq(
	    slice_to_u64(SLICE_LIT("18446744073709551616"), UINT64_MAX, &v),
	    -ERANGE);
	/* A digit above a one-digit maximum (max - d would wrap). */
	cr_assert_eq(slice_to_u64(SLICE_LIT("7"), 5, &v), -ERANGE);
	cr_assert_eq(slice_to_u64(SLICE_LIT("1"), 0, &v), -ERANGE);
	cr_assert_eq(slice_to_u64(SLICE_LIT("-1"), 255, &v), -EINVAL);
	cr_assert_eq(slice_to_u64(SLICE_LIT(""), 255, &v), -EINVAL);
	cr_assert_eq(slice_to_u64(SLICE_LIT("1 "), 255, &v), -EINVAL);
	cr_assert_eq(v, 7, "written on error");
	cr_assert_eq(slice_to_u64(SLICE_LIT("0"), 0, &v), 0);
	cr_assert_eq(v, 0);
	cr_assert_eq(
	    slice_to_u64(SLICE_LIT("18446744073709551615"), UINT64_MAX, &v), 0);
	cr_assert_eq(v, UINT64_MAX);
}

Test(slice, copies_into_c_strings_with_truncation)
{
	char buf[4];

	cr_assert_str_eq(slice_cstr_copy(SLICE_LIT("ab"), buf, sizeof(buf)),
			 "ab");
	cr_assert_str_eq(slice_cstr_copy(SLICE_LIT("abcdef"), buf, sizeof(buf)),
			 "abc");
	cr_assert_str_eq(slice_cstr_copy(SLICE_LIT(""), buf, sizeof(buf)), "");
}

Test(arena, hands_out_aligned_memory_and_counts_it)
{
	struct arena *a = arena_new(1024);
	void *p, *q;

	cr_assert_not_null(a);
	p = arena_alloc(a, 1);
	q = arena_alloc(a, 17);
	cr_assert_not_null(p);
	cr_assert_not_null(q);
	cr_assert_eq((uintptr_t)p % 16, 0);
	cr_assert_eq((uintptr_t)q % 16, 0);
	cr_assert_geq((char *)q - (char *)p, 16);
	cr_assert_eq(arena_used(a), 16 + 32);
	memset(q, 0xab, 17);
	arena_free(a);
}

Test(arena, gives_large_requests_a_chunk_and_resets_to_empty)
{
	struct arena *a = arena_new(256);
	char *big, *small;

	cr_assert_not_null(a);
	small = arena_alloc(a, 100);
	big = arena_alloc(a, 10000);
	cr_assert_not_null(small);
	cr_assert_not_null(big);
	memset(big, 1, 10000);
	memset(small, 2, 100);
	cr_assert_eq(small[99], 2, "the large chunk overlapped");
	cr_assert_geq(arena_used(a), 10000 + 100);
	arena_reset(a);
	cr_assert_eq(arena_used(a), 0);
	small = arena_alloc(a, 64);
	cr_assert_not_null(small);
	cr_assert_eq(arena_used(a), 64);
	cr_assert_null(arena_alloc(a, SIZE_MAX - 8), "size overflow");
	arena_free(a);
	arena_free(NULL);
}

Test(hash, is_deterministic_and_seeded)
{
	static const char key[] = "a84b4c76e66710@pc33.atlanta.example.com";
	uint64_t h = hash_bytes(key, sizeof(key) - 1, 1);

	cr_assert_eq(h, hash_bytes(key, sizeof(key) - 1, 1));
	cr_assert_neq(h, hash_bytes(key, sizeof(key) - 1, 2));
	cr_assert_neq(h, hash_bytes(key, sizeof(key) - 2, 1));
	cr_assert_eq(hash_slice(SLICE_LIT(key), 1), h);
	cr_assert_neq(hash_bytes("", 0, 0), hash_bytes("\0", 1, 0));
}

Test(hash, folds_case_when_asked)
{
	uint64_t lower = hash_slice_case(SLICE_LIT("sip:alice@example.com"), 5);

	cr_assert_eq(hash_slice_case(SLICE_LIT("SIP:Alice@EXAMPLE.com"), 5),
		     lower);
	cr_assert_eq(hash_slice(SLICE_LIT("sip:alice@example.com"), 5), lower);
	cr_assert_neq(hash_slice_case(SLICE_LIT("sip:alice@example.co"), 5),
		      lower);
}

Test(hash, spreads_similar_keys)
{
	char key[32];
	unsigned buckets[16] = { 0 };

	for (int i = 0; i < 1600; i++) {
		int n = snprintf(key, sizeof(key), "call-%d@host", i);

		buckets[hash_bytes(key, (size_t)n, 0) % 16]++;
	}
	for (int b = 0; b < 16; b++)
		cr_assert(buckets[b] > 50 && buckets[b] < 150,
			  "bucket %d holds %u of 1600", b, buckets[b]);
}

static int dtor_calls;

static void count_dtor(void *p)
{
	cr_assert_eq(*(int *)p, 42);
	dtor_calls++;
}

Test(obj, runs_the_destructor_once_at_the_last_put)
{
	int *o;

	dtor_calls = 0;
	o = obj_new(sizeof(int) * 4, count_dtor);
	cr_assert_not_null(o);
	cr_assert_eq(o[0] | o[1] | o[2] | o[3], 0, "not zeroed");
	cr_assert_eq(obj_live(), 1);
	*o = 42;
	cr_assert_eq(obj_get(o), o);
	cr_assert_eq(obj_tryget(o), o);
	obj_put(o);
	obj_put(o);
	cr_assert_eq(dtor_calls, 0);
	cr_assert_eq(obj_live(), 1);
	obj_put(o);
	cr_assert_eq(dtor_calls, 1);
	cr_assert_eq(obj_live(), 0);
	obj_put(NULL);
}

Test(obj, allows_no_destructor)
{
	void *o = obj_new(8, NULL);

	cr_assert_not_null(o);
	obj_put(o);
	cr_assert_eq(obj_live(), 0);
}

Test(err, names_errors_and_maps_them_to_sip_status)
{
	cr_assert_str_eq(err_str(0), "success");
	cr_assert_str_eq(err_str(ERR_LOOP), "too many hops");
	cr_assert_str_eq(err_str(-ENOMEM), strerror(ENOMEM));
	cr_assert_str_eq(err_str(-5000), "unknown error");
	cr_assert_eq(err_sip_status(-EBADMSG), 400);
	cr_assert_eq(err_sip_status(-E2BIG), 400);
	cr_assert_eq(err_sip_status(ERR_LOOP), 483);
	cr_assert_eq(err_sip_status(ERR_SPIRAL), 482);
	cr_assert_eq(err_sip_status(ERR_NO_USER), 404);
	cr_assert_eq(err_sip_status(ERR_NO_BINDING), 480);
	cr_assert_eq(err_sip_status(ERR_OVERLOAD), 503);
	cr_assert_eq(err_sip_status(ERR_BAD_EXT), 420);
	cr_assert_eq(err_sip_status(ERR_BAD_SCHEME), 416);
	cr_assert_eq(err_sip_status(ERR_BAD_VERSION), 505);
	cr_assert_eq(err_sip_status(ERR_NOT_IMPL), 501);
	cr_assert_eq(err_sip_status(-EMSGSIZE), 413);
	cr_assert_eq(err_sip_status(-ENOMEM), 500);
	for (int e = ERR__LAST + 1; e <= ERR_LOOP; e++)
		cr_assert_str_neq(err_str(e), "unknown error", "%d", e);
}

TestSuite(file, .timeout = 10);

Test(file, reads_whole_regular_files_within_the_limit)
{
	char dir[] = "/tmp/sipedge-file-XXXXXX";
	char path[64], fifo[64];
	char *text = NULL;
	size_t len = 99;
	FILE *f;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f", dir);
	snprintf(fifo, sizeof(fifo), "%s/p", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	for (int i = 0; i < 1000; i++)
		fputs("0123456789", f);
	fclose(f);

	cr_assert_eq(file_read(path, 10000, &text, &len), 0);
	cr_assert_eq(len, 10000);
	cr_assert_eq(text[len], '\0');
	cr_assert_eq(memcmp(text + 9990, "0123456789", 10), 0);
	free(text);
	text = NULL;
	len = 99;
	/* One byte over the limit, a directory, a FIFO (would block), none:
	 * each an error, and nothing written. */
	cr_assert_eq(file_read(path, 9999, &text, &len), -EFBIG);
	cr_assert_eq(file_read(dir, 10000, &text, &len), -EISDIR);
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	cr_assert_eq(file_read(fifo, 10000, &text, &len), -EINVAL);
	unlink(fifo);
	unlink(path);
	cr_assert_eq(file_read(path, 10000, &text, &len), -ENOENT);
	cr_assert_null(text);
	cr_assert_eq(len, 99);
	rmdir(dir);
}

Test(arena, join_copies_values_with_the_separator)
{
	struct arena *a = arena_new(64);
	const struct slice v[] = { SLICE_LIT("a"), SLICE_LIT(""),
				   SLICE_LIT("ccc") };
	struct slice out = SLICE_LIT("untouched");

	cr_assert_not_null(a);
	cr_assert_eq(arena_join(a, v, 3, SLICE_LIT(", "), &out), 0);
	cr_assert(slice_eq(out, SLICE_LIT("a, , ccc")));
	cr_assert_eq(arena_join(a, v, 1, SLICE_LIT(", "), &out), 0);
	cr_assert(slice_eq(out, SLICE_LIT("a")));
	cr_assert_eq(arena_join(a, v, 0, SLICE_LIT(", "), &out), 0);
	cr_assert_eq(out.len, 0);
	arena_free(a);
}
