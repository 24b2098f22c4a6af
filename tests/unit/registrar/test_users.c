/* tests/unit/registrar/test_users.c - users file: parse, errors, reload */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <criterion/criterion.h>

#include "proxy/base/err.h"
#include "proxy/base/log.h"
#include "proxy/sip/digest.h"
#include "registrar/auth.h"
#include "registrar/users.h"
#include "store/rcu.h"
#include "tests/common/proc.h"

static char dir[PROC_PATH_MAX / 2];
static char path[PROC_PATH_MAX];
static char errbuf[512];

static void setup(void)
{
	log_set_level(LOG__COUNT);
	urcu_memb_register_thread();
	cr_assert_eq(proc_tmpdir(dir, sizeof(dir)), 0);
	errbuf[0] = '\0';
}

static void teardown(void)
{
	users_fini();
	urcu_memb_unregister_thread();
	proc_rmtree(dir);
}

TestSuite(users, .init = setup, .fini = teardown, .timeout = 30);

/* "user@realm md5:... sha256:..." for @p password. */
static void line_for(const char *user, const char *realm, const char *pw,
		     unsigned algs, char *buf, size_t size)
{
	uint8_t md5[16], sha[32];
	char hm[33], hs[65];
	int o;

	digest_ha1(DIGEST_MD5, slice_cstr(user), slice_cstr(realm),
		   slice_cstr(pw), md5);
	digest_ha1(DIGEST_SHA256, slice_cstr(user), slice_cstr(realm),
		   slice_cstr(pw), sha);
	for (int i = 0; i < 16; i++)
		sprintf(hm + 2 * i, "%02x", md5[i]);
	for (int i = 0; i < 32; i++)
		sprintf(hs + 2 * i, "%02X", sha[i]); /* any case */
	o = snprintf(buf, size, "%s@%s", user, realm);
	if (algs & USERS_SHA256)
		o += snprintf(buf + o, size - (size_t)o, " sha256:%s", hs);
	if (algs & USERS_MD5)
		o += snprintf(buf + o, size - (size_t)o, "\tmd5:%s", hm);
	snprintf(buf + o, size - (size_t)o, "\n");
}

static void write_users(const char *text)
{
	cr_assert_eq(proc_write_file(dir, "users", text, path, sizeof(path)),
		     0);
}

Test(users, loads_users_with_either_or_both_hashes)
{
	char text[2048], l1[256], l2[256], l3[256];
	struct users_cred cred;
	uint8_t want[32];

	line_for("alice", "example.com", "secret", USERS_MD5 | USERS_SHA256, l1,
		 sizeof(l1));
	line_for("bob", "example.com", "pw2", USERS_MD5, l2, sizeof(l2));
	line_for("carol", "Other.Example", "pw3", USERS_SHA256, l3, sizeof(l3));
	snprintf(text, sizeof(text),
		 "# sipedge users\n\n   # indented comment\n%s%s  %s\r\n", l1,
		 l2, l3);
	write_users(text);
	cr_assert_eq(users_load(path, errbuf, sizeof(errbuf)), 3, "%s", errbuf);
	cr_assert(users_loaded());
	cr_assert_eq(
	    users_lookup(SLICE_LIT("alice"), SLICE_LIT("example.com"), &cred),
	    0);
	cr_assert_eq(cred.algs, USERS_MD5 | USERS_SHA256);
	digest_ha1(DIGEST_SHA256, SLICE_LIT("alice"), SLICE_LIT("example.com"),
		   SLICE_LIT("secret"), want);
	cr_assert_eq(memcmp(cred.sha256, want, 32), 0);
	digest_ha1(DIGEST_MD5, SLICE_LIT("alice"), SLICE_LIT("example.com"),
		   SLICE_LIT("secret"), want);
	cr_assert_eq(memcmp(cred.md5, want, 16), 0);
	cr_assert_eq(
	    users_lookup(SLICE_LIT("bob"), SLICE_LIT("EXAMPLE.com"), &cred), 0);
	cr_assert_eq(cred.algs, USERS_MD5);
	cr_assert_eq(
	    users_lookup(SLICE_LIT("carol"), SLICE_LIT("other.example"), &cred),
	    0);
	cr_assert_eq(cred.algs, USERS_SHA256);
	/* The user part is exact; realms are separate. */
	cr_assert(!users_exists(SLICE_LIT("Alice"), SLICE_LIT("example.com")));
	cr_assert(
	    !users_exists(SLICE_LIT("alice"), SLICE_LIT("other.example")));
	cr_assert(users_exists(SLICE_LIT("alice"), SLICE_LIT("example.com")));
}

Test(users, reports_each_error_with_file_and_line)
{
	static const struct {
		const char *text;
		const char *want; /* in the message, after "NAME:LINE: " */
		unsigned line;
	} cases[] = {
		{ "alice md5:00112233445566778899aabbccddeeff\n", "user@realm",
		  1 },
		{ "#c\n@example.com md5:00112233445566778899aabbccddeeff\n",
		  "user@realm", 2 },
		{ "alice@ md5:00112233445566778899aabbccddeeff\n", "user@realm",
		  1 },
		{ "a@b md5:0011\n", "32 hex", 1 },
		{ "a@b md5:0011223344556677889XaabbccddeeffXX\n", "32 hex", 1 },
		{ "a@b sha256:00\n", "64 hex", 1 },
		{ "a@b plain:secret\n", "unknown field", 1 },
		{ "a@b\n", "no md5", 1 },
		{ "a@b md5:00112233445566778899aabbccddeeff "
		  "md5:00112233445566778899aabbccddeeff\n",
		  "twice", 1 },
		{ "a@b md5:00112233445566778899aabbccddeeff\n\n"
		  "a@B md5:00112233445566778899aabbccddeeff\n",
		  "given twice", 3 },
	};
	struct users_table *t;
	char want[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(users_parse("u.txt", cases[i].text,
					 strlen(cases[i].text), &t, errbuf,
					 sizeof(errbuf)),
			     ERR_CONFIG, "%s", cases[i].text);
		snprintf(want, sizeof(want), "u.txt:%u: ", cases[i].line);
		cr_assert_eq(strncmp(errbuf, want, strlen(want)), 0, "%s -> %s",
			     cases[i].text, errbuf);
		cr_assert_not_null(strstr(errbuf, cases[i].want), "%s -> %s",
				   cases[i].text, errbuf);
	}
}

Test(users, refuses_nul_bytes_and_overlong_lines)
{
	static const char nul[] = "a@b md5:0011\0x\n";
	struct users_table *t;
	char *big = malloc(USERS_LINE_MAX + 64);

	cr_assert_eq(
	    users_parse("u", nul, sizeof(nul) - 1, &t, errbuf, sizeof(errbuf)),
	    ERR_CONFIG);
	cr_assert_not_null(strstr(errbuf, "NUL"), "%s", errbuf);
	cr_assert_not_null(big);
	memset(big, 'a', USERS_LINE_MAX + 10);
	big[USERS_LINE_MAX + 10] = '\n';
	cr_assert_eq(users_parse("u", big, USERS_LINE_MAX + 11, &t, errbuf,
				 sizeof(errbuf)),
		     ERR_CONFIG);
	cr_assert_not_null(strstr(errbuf, "u:1: line longer"), "%s", errbuf);
	free(big);
}

Test(users, empty_file_is_an_empty_table)
{
	struct users_table *t = NULL;

	cr_assert_eq(users_parse("u", "", 0, &t, errbuf, sizeof(errbuf)), 0);
	cr_assert_eq(users_table_count(t), 0);
	users_table_free(t);
	write_users("# nobody yet\n");
	cr_assert_eq(users_load(path, errbuf, sizeof(errbuf)), 0);
	cr_assert(users_loaded());
	cr_assert(!users_exists(SLICE_LIT("a"), SLICE_LIT("b")));
}

Test(users, reload_swaps_in_the_new_file_and_keeps_the_old_on_error)
{
	char l1[256], l2[256];

	cr_assert_eq(users_reload(), -ENOENT);
	cr_assert(!users_loaded());
	line_for("alice", "example.com", "x", USERS_MD5, l1, sizeof(l1));
	write_users(l1);
	cr_assert_eq(users_load(path, errbuf, sizeof(errbuf)), 1);
	line_for("bob", "example.com", "y", USERS_SHA256, l2, sizeof(l2));
	write_users(l2);
	cr_assert_eq(users_reload(), 1);
	cr_assert(users_exists(SLICE_LIT("bob"), SLICE_LIT("example.com")));
	cr_assert(!users_exists(SLICE_LIT("alice"), SLICE_LIT("example.com")));
	write_users("broken line\n");
	cr_assert_eq(users_reload(), ERR_CONFIG);
	cr_assert(users_exists(SLICE_LIT("bob"), SLICE_LIT("example.com")));
	cr_assert_eq(users_load("/nonexistent/users", errbuf, sizeof(errbuf)),
		     -ENOENT);
	cr_assert_not_null(strstr(errbuf, "/nonexistent/users: "), "%s",
			   errbuf);
	cr_assert(users_exists(SLICE_LIT("bob"), SLICE_LIT("example.com")));
}

Test(users, many_users_are_all_found)
{
	size_t cap = 5000 * 140, o = 0;
	char *text = malloc(cap), u[32];

	cr_assert_not_null(text);
	for (unsigned i = 0; i < 5000; i++)
		o += (size_t)snprintf(text + o, cap - o,
				      "u%u@d%u.example md5:"
				      "00112233445566778899aabbccddeeff\n",
				      i, i % 7);
	cr_assert_eq(proc_write_file(dir, "users", text, path, sizeof(path)),
		     0);
	cr_assert_eq(users_load(path, errbuf, sizeof(errbuf)), 5000);
	for (unsigned i = 0; i < 5000; i++) {
		char d[32];

		snprintf(u, sizeof(u), "u%u", i);
		snprintf(d, sizeof(d), "d%u.example", i % 7);
		cr_assert(users_exists(slice_cstr(u), slice_cstr(d)), "%s", u);
		snprintf(d, sizeof(d), "d%u.example", (i + 1) % 7);
		cr_assert(!users_exists(slice_cstr(u), slice_cstr(d)));
	}
	free(text);
}

/* scripts/mkuser.sh prints a line that loads and holds the right HA1s. */
Test(users, mkuser_script_makes_a_loadable_line)
{
	char *argv[] = { "sh",		"scripts/mkuser.sh", "dave",
			 "Example.COM", "pa ss:wörd",	     NULL };
	char out[PROC_PATH_MAX];
	struct users_cred cred;
	uint8_t md5[16], sha[32];
	char *text = NULL;
	int status;

	snprintf(out, sizeof(out), "%s/users", dir);
	cr_assert_eq(proc_run(argv, NULL, out, NULL, 10000, &status), 0);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cr_assert_eq(proc_read_file(out, &text), 0);
	cr_assert_eq(users_load(out, errbuf, sizeof(errbuf)), 1, "%s: %s",
		     errbuf, text);
	cr_assert_eq(
	    users_lookup(SLICE_LIT("dave"), SLICE_LIT("example.com"), &cred),
	    0);
	/* The realm of the digest is the lower-case domain. */
	digest_ha1(DIGEST_MD5, SLICE_LIT("dave"), SLICE_LIT("example.com"),
		   SLICE_LIT("pa ss:wörd"), md5);
	digest_ha1(DIGEST_SHA256, SLICE_LIT("dave"), SLICE_LIT("example.com"),
		   SLICE_LIT("pa ss:wörd"), sha);
	cr_assert_eq(cred.algs, USERS_MD5 | USERS_SHA256);
	cr_assert_eq(memcmp(cred.md5, md5, 16), 0, "%s", text);
	cr_assert_eq(memcmp(cred.sha256, sha, 32), 0, "%s", text);
	free(text);
}
