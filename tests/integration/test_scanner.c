/* tests/integration/test_scanner.c - Debian's sipvicious (svwar, svcrack)
 * from 127.0.0.2 against sipedge with 1,000 users (issue #15) */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "proxy/sip/msg.h"
#include "tests/common/mgmtcli.h"
#include "tests/common/ms.h"
#include "tests/common/proc.h"
#include "tests/common/sipcli.h"
#include "tests/common/ua.h"
#include "tests/common/uahash.h"

#define SVRUN	   "tests/integration/sipvicious/svrun.py"
#define SCANNER_IP "127.0.0.2"
#define REALM	   "127.0.0.1"
#define SCAN_MS	   120000 /* one scanner run, at most */

static struct proc_sipedge sp;
static char dir[PROC_PATH_MAX / 2];

static void setup(void)
{
	memset(&sp, 0, sizeof(sp));
	cr_assert_eq(proc_tmpdir(dir, sizeof(dir)), 0);
}

static void teardown(void)
{
	proc_sipedge_cleanup(&sp);
	proc_rmtree(dir);
}

TestSuite(scanner, .init = setup, .fini = teardown, .timeout = 300);

/* Users 1000..1999 of REALM, the password of N being "pwN"; only a
 * loopback address nobody uses is trusted, so 127.0.0.2 is a stranger. */
static void start(const char *reg_yaml)
{
	size_t cap = 1000 * 200, o = 0;
	char *users = malloc(cap), path[PROC_PATH_MAX], yaml[2048];
	int err;

	cr_assert_not_null(users);
	for (unsigned i = 1000; i < 2000; i++) {
		char name[16], pw[16], m[33], s[65];
		const char *v[3] = { name, REALM, pw };

		snprintf(name, sizeof(name), "%u", i);
		snprintf(pw, sizeof(pw), "pw%u", i);
		uahash_hex("MD5", v, 3, m);
		uahash_hex("SHA-256", v, 3, s);
		o += (size_t)snprintf(users + o, cap - o,
				      "%s@" REALM " md5:%s sha256:%s\n", name,
				      m, s);
	}
	cr_assert_eq(proc_write_file(dir, "users", users, path, sizeof(path)),
		     0);
	free(users);
	snprintf(yaml, sizeof(yaml),
		 "registrar:\n"
		 "  trusted: [\"127.0.0.9/32\"]\n"
		 "  users_file: \"%s\"\n"
		 "%s",
		 path, reg_yaml);
	err = proc_sipedge_start(&sp, "127.0.0.1", 2, yaml);
	cr_assert_eq(err, 0, "sipedge did not start: %s", sp.why);
}

/* Run svrun.py TOOL from SCANNER_IP with @p args; its output (stdout
 * and stderr, malloc'd). */
static char *scan(const char *tool, const char *const *args)
{
	char *argv[24], port[8], *out = NULL, *err = NULL, *all;
	unsigned n = 0;
	int st;

	snprintf(port, sizeof(port), "%u", sp.port);
	argv[n++] = "python3";
	argv[n++] = SVRUN;
	argv[n++] = (char *)tool;
	argv[n++] = SCANNER_IP;
	for (; *args && n < 18; args++)
		argv[n++] = (char *)*args;
	argv[n++] = "-p";
	argv[n++] = port;
	argv[n++] = REALM;
	argv[n] = NULL;
	st = proc_capture(argv, dir, tool, SCAN_MS, &out, &err);
	cr_assert_geq(st, 0, "%s: %s", tool, strerror(-st));
	all = malloc(strlen(out ? out : "") + strlen(err ? err : "") + 2);
	cr_assert_not_null(all);
	sprintf(all, "%s\n%s", out ? out : "", err ? err : "");
	free(out);
	free(err);
	return all;
}

static long long stat_of(const char *name)
{
	json_t *res = NULL;
	char why[256];
	long long v;

	cr_assert_eq(mgmtcli_rpc(sp.mgmt_port, NULL, "stats.get", NULL, &res,
				 why, sizeof(why)),
		     0, "%s", why);
	v = json_integer_value(json_object_get(res, name));
	json_decref(res);
	return v;
}

/* The number of extension rows in svwar's result table. */
static unsigned found_rows(const char *out)
{
	unsigned n = 0;

	for (const char *p = out; (p = strstr(p, "\n| ")); p++)
		if (strncmp(p, "\n| Extension", 12) != 0)
			n++;
	return n;
}

Test(scanner, svwar_finds_no_extension_among_1000_users)
{
	static const char *const inv[] = { "--force", "-e",	"1000-1999",
					   "-m",      "INVITE", NULL };
	static const char *const reg[] = { "--force", "-e",	  "1000-1999",
					   "-m",      "REGISTER", NULL };
	static const char *const opt[] = { "--force", "-e",	 "1000-1999",
					   "-m",      "OPTIONS", NULL };
	char *out;

	start("");
	out = scan("svwar", inv);
	cr_assert_not_null(strstr(out, "found nothing"), "%s", out);
	cr_assert_eq(found_rows(out), 0, "%s", out);
	free(out);
	out = scan("svwar", reg);
	cr_assert_not_null(strstr(out, "found nothing"), "%s", out);
	cr_assert_eq(found_rows(out), 0, "%s", out);
	free(out);
	/* OPTIONS needs no authentication: the answers are routing's,
	 * the same 404 for known (unregistered) and unknown users. */
	out = scan("svwar", opt);
	cr_assert_not_null(strstr(out, "found nothing"), "%s", out);
	cr_assert_eq(found_rows(out), 0, "%s", out);
	free(out);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

Test(scanner, svwar_does_find_users_when_hide_users_is_off)
{
	static const char *const opt[] = { "-e", "1990-2009", "-m", "OPTIONS",
					   NULL };
	char *out;

	/* The control: the same scanner tells 480 from 404. */
	start("  hide_users: false\n");
	out = scan("svwar", opt);
	cr_assert_eq(found_rows(out), 10, "%s", out);
	cr_assert_not_null(strstr(out, "| 1999 "), "%s", out);
	cr_assert_null(strstr(out, "| 2000 "), "%s", out);
	free(out);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* A dictionary of @p n guesses with the right password at @p at. */
static void dictionary(const char *name, unsigned n, unsigned at,
		       const char *pw, char *path, size_t size)
{
	size_t cap = (size_t)n * 16 + 16, o = 0;
	char *text = malloc(cap);

	cr_assert_not_null(text);
	for (unsigned i = 1; i <= n; i++)
		o += (size_t)(i == at ? snprintf(text + o, cap - o, "%s\n", pw)
				      : snprintf(text + o, cap - o, "guess%u\n",
						 i));
	cr_assert_eq(proc_write_file(dir, name, text, path, size), 0);
	free(text);
}

Test(scanner, svcrack_is_stopped_by_the_ban_before_position_5000)
{
	char path[PROC_PATH_MAX], *out;
	const char *args[] = { "-u", "1500", "-d", path, NULL };
	long long blocked, answered;
	struct sipcli_msg *rx;
	struct ua u;
	unsigned st;

	start("");
	dictionary("dict", 5000, 5000, "pw1500", path, sizeof(path));
	out = scan("svcrack", args);
	cr_assert_null(strstr(out, "pw1500"), "%s", out);
	cr_assert_not_null(strstr(out, "found nothing"), "%s", out);
	free(out);
	/* The pair (127.0.0.2, 1500) was banned at its 10th failure; what
	 * the scanner sent after that got no answer. */
	blocked = stat_of("auth.blocked");
	answered = stat_of("auth.stateless");
	cr_assert_eq(stat_of("auth.bans"), 1);
	cr_assert_eq(stat_of("auth.failures"), 10);
	cr_log_info("svcrack: %lld requests dropped silently, %lld answered",
		    blocked, answered);
	cr_assert_gt(blocked, 100, "blocked %lld", blocked);
	cr_assert_leq(answered, 25, "answered %lld", answered);
	/* The real user of 1500 on 127.0.0.1 is not banned. */
	rx = calloc(1, sizeof(*rx));
	cr_assert_not_null(rx);
	ua_open(&u, "1500", REALM, "127.0.0.1", sp.port);
	st = ua_register(&u, "test_scanner", 60, rx);
	cr_assert_eq(st, 401, "got %u", st);
	free(rx);
	ua_close(&u);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

Test(scanner, svcrack_finds_a_password_placed_before_the_ban)
{
	char path[PROC_PATH_MAX], *out;
	const char *args[] = { "-u", "1500", "-d", path, NULL };

	/* The control: the scanner does crack sipedge's digest when the
	 * password comes before the ban (failures 1..4 of 10). */
	start("");
	dictionary("dict", 5000, 5, "pw1500", path, sizeof(path));
	out = scan("svcrack", args);
	cr_assert_not_null(strstr(out, "pw1500"), "%s", out);
	free(out);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}
