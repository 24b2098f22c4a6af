/* tests/integration/test_reload.c - hot reload (config.reload, SIGHUP) under
 * SIPp load: routes and users change, no call fails, what needs a restart
 * and broken files are refused and change nothing */
#include <criterion/criterion.h>

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "tests/common/mgmtcli.h"
#include "tests/common/ms.h"
#include "tests/common/proc.h"
#include "tests/common/sipp.h"
#include "tests/common/uahash.h"

#define MAX_UAS 2
#define DOMAIN	"carrier.example" /* routed: the callees */
#define REALM	"localhost"	  /* served: the users */

static struct proc_sipedge sp;
static char dir[PROC_PATH_MAX / 2]; /* users files, SIPp's files */
static pid_t uas_pid[MAX_UAS], uac_pid;
static uint16_t uas_port[MAX_UAS];

static void setup(void)
{
	memset(&sp, 0, sizeof(sp));
	memset(uas_pid, 0, sizeof(uas_pid));
	uac_pid = 0;
	cr_assert_eq(proc_tmpdir(dir, sizeof(dir)), 0);
	for (int i = 0; i < MAX_UAS; i++)
		cr_assert_eq(proc_free_port("127.0.0.1", &uas_port[i]), 0);
}

static void teardown(void)
{
	if (uac_pid > 0)
		proc_kill(uac_pid);
	for (int i = 0; i < MAX_UAS; i++)
		if (uas_pid[i] > 0)
			proc_kill(uas_pid[i]);
	proc_sipedge_cleanup(&sp);
	proc_rmtree(dir);
}

TestSuite(reload, .init = setup, .fini = teardown, .timeout = 240);

/* "user@realm md5:HA1" with password "pw" (docs/registrar.md). */
static void users_write(const char *name, const char *user)
{
	const char *v[3] = { user, REALM, "pw" };
	char line[256], ha1[33];

	uahash_hex("MD5", v, 3, ha1);
	snprintf(line, sizeof(line), "%s@%s md5:%s\n", user, REALM, ha1);
	cr_assert_eq(proc_write_file(dir, name, line, NULL, 0), 0);
}

/*
 * Start sipedge (2 workers) with the route for DOMAIN to callee
 * @p uas, the users file users_a, and registrar auth for REGISTER only
 * from everyone (INVITEs of the load pass without credentials).
 */
static void start(int uas)
{
	char yaml[1024];
	int err;

	users_write("users_a", "alice");
	snprintf(yaml, sizeof(yaml),
		 "registrar:\n"
		 "  trusted: []\n"
		 "  auth_methods: [REGISTER]\n"
		 "  users_file: \"%s/users_a\"\n"
		 "routes:\n"
		 "  - domain: " DOMAIN "\n"
		 "    next_hop: [\"sip:127.0.0.1:%u\"]\n",
		 dir, uas_port[uas]);
	err = proc_sipedge_start(&sp, "127.0.0.1", 2, yaml);
	cr_assert_eq(err, 0, "sipedge did not start: %s", sp.why);
	cr_assert_neq(sp.mgmt_port, 0);
}

/* Replace the first @p from in sipedge's config file with @p to (a new
 * file renamed over it: a reload never reads half a file). */
static void conf_edit(const char *from, const char *to)
{
	char *old = NULL, tmp[PROC_PATH_MAX + 8];
	const char *p;
	FILE *f;

	cr_assert_eq(proc_read_file(sp.conf, &old), 0);
	p = strstr(old, from);
	cr_assert_not_null(p, "'%s' is not in the config:\n%s", from, old);
	snprintf(tmp, sizeof(tmp), "%s.new", sp.conf);
	f = fopen(tmp, "w");
	cr_assert_not_null(f);
	fprintf(f, "%.*s%s%s", (int)(p - old), old, to, p + strlen(from));
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(rename(tmp, sp.conf), 0);
	free(old);
}

static void next_hop_edit(int from, int to)
{
	char a[64], b[64];

	snprintf(a, sizeof(a), "sip:127.0.0.1:%u\"", uas_port[from]);
	snprintf(b, sizeof(b), "sip:127.0.0.1:%u\"", uas_port[to]);
	conf_edit(a, b);
}

/* config.reload: 0 with *resultp, or the JSON-RPC error code with its
 * message in @p why. */
static int reload_rpc(json_t **resultp, char *why, size_t whylen)
{
	return mgmtcli_rpc(sp.mgmt_port, NULL, "config.reload", NULL, resultp,
			   why, whylen);
}

/* A reload that must succeed, with exactly the changed keys @p keys
 * (comma-separated, in the order sipedge lists them; "" for none). It
 * goes the operator's way: `sipctl --json reload`. */
static void reload_ok(const char *keys)
{
	const char *args[] = { "--json", "reload", NULL };
	char got[256] = "", *out = NULL, *err = NULL;
	json_error_t jerr;
	json_t *res, *ch;
	size_t i, n = 0;
	int rc = proc_sipctl(&sp, args, &out, &err);

	cr_assert_eq(rc, 0, "sipctl reload: %d: %s%s", rc, out, err);
	res = json_loads(out, 0, &jerr);
	cr_assert_not_null(res, "sipctl --json reload: not JSON: %s", out);
	free(out);
	free(err);
	cr_assert(json_is_true(json_object_get(res, "reloaded")));
	cr_assert_str_eq(json_string_value(json_object_get(res, "file")),
			 sp.conf);
	ch = json_object_get(res, "changed");
	cr_assert(json_is_array(ch));
	for (i = 0; i < json_array_size(ch); i++)
		n += (size_t)snprintf(got + n, sizeof(got) - n, "%s%s",
				      i ? "," : "",
				      json_string_value(json_array_get(ch, i)));
	cr_assert_str_eq(got, keys);
	json_decref(res);
}

/* A reload that must be refused (RPC_REFUSED, -32003) with a message
 * that starts with @p prefix. */
static void reload_refused(const char *prefix)
{
	char why[512], want[1024];
	json_t *res = NULL;
	int err = reload_rpc(&res, why, sizeof(why));

	json_decref(res);
	cr_assert_eq(err, -32003, "config.reload: %d %s (want refused)", err,
		     why);
	/* mgmtcli puts the method and the code before the message. */
	snprintf(want, sizeof(want), "config.reload: error -32003: %s", prefix);
	cr_assert(strncmp(why, want, strlen(want)) == 0,
		  "message '%s' should start with '%s'", why, want);
}

/* Callee @p i (uas_call.xml) rings @p ring_ms per call and answers
 * until it is killed. */
static void uas_start(int i, unsigned ring_ms)
{
	struct sipp_cmd c;
	char name[16];

	snprintf(name, sizeof(name), "uas%d", i);
	sipp_cmd_uas(&c, "uas_call.xml", uas_port[i], "u1");
	sipp_cmd_opt(&c, "-d", "%u", ring_ms);
	sipp_cmd_errors(&c, name);
	uas_pid[i] = sipp_spawn(c.argv, dir, name);
	sipp_bound(uas_port[i], "u1");
}

/* Start the caller: @p calls calls to svc@DOMAIN at @p rate per second. */
static void uac_spawn(unsigned calls, unsigned rate)
{
	struct sipp_cmd c;

	sipp_cmd_uac(&c, "uac_call.xml", sp.port, 0, "u1");
	sipp_cmd_args(&c, "-s", "svc", "-key", "domain", DOMAIN, NULL);
	sipp_cmd_opt(&c, "-m", "%u", calls);
	sipp_cmd_opt(&c, "-r", "%u", rate);
	sipp_cmd_args(&c, "-l", "500", "-timeout", "90s", "-timeout_error",
		      NULL);
	sipp_cmd_errors(&c, "uac");
	uac_pid = sipp_spawn(c.argv, dir, "uac");
}

/* The caller must end within @p ms with every call successful. */
static void uac_done(int ms)
{
	sipp_ok(&uac_pid, ms, dir, "uac", sp.log);
}

/* REGISTER @p user (password "pw") with MD5 digest through SIPp: the
 * exit status (0: 401, then 200 to the credentials). */
static int sipp_register(const char *user)
{
	char csv[PROC_PATH_MAX], line[256], name[64];
	struct sipp_cmd c;
	pid_t pid;

	snprintf(line, sizeof(line),
		 "SEQUENTIAL\n%s;" REALM ";[authentication username=%s "
		 "password=pw];\n",
		 user, user);
	cr_assert_eq(proc_write_file(dir, "reg.csv", line, csv, sizeof(csv)),
		     0);
	sipp_cmd_uac(&c, "reg_md5_uac.xml", sp.port, 0, "u1");
	sipp_cmd_args(&c, "-inf", csv, "-m", "1", "-timeout", "20s",
		      "-timeout_error", "-recv_timeout", "5000", NULL);
	snprintf(name, sizeof(name), "reg_%s", user);
	pid = sipp_spawn(c.argv, dir, name);
	return sipp_status(&pid, 30000, name);
}

Test(reload, route_and_user_change_under_50_calls_per_second_lose_no_call)
{
	char bad[PROC_PATH_MAX + 32];

	start(0);
	/* Calls ring 500 ms: at 50 calls/s some 25 INVITE transactions
	 * are open at any time, across every reload. */
	uas_start(0, 500);
	uas_start(1, 500);
	users_write("users_b", "bob");
	uac_spawn(1000, 50); /* 20 s */
	ms_sleep(4000);
	/* 1: the route to the second callee, bob instead of alice. */
	next_hop_edit(0, 1);
	conf_edit("/users_a\"", "/users_b\"");
	reload_ok("registrar,routes");
	ms_sleep(3000);
	/* A broken file: refused with FILE:LINE, nothing changes. */
	conf_edit("routes:\n", "routes:\n  bogus: [\n");
	snprintf(bad, sizeof(bad), "%s:", sp.conf);
	reload_refused(bad);
	conf_edit("routes:\n  bogus: [\n", "routes:\n");
	/* A key that needs a restart: refused, named. */
	conf_edit("workers: 2", "workers: 3");
	reload_refused("workers: needs a restart");
	conf_edit("workers: 3", "workers: 2");
	ms_sleep(3000);
	/* 2: the log level. */
	conf_edit("log_level: info", "log_level: notice");
	reload_ok("log_level");
	ms_sleep(3000);
	/* 3: the same file again. */
	reload_ok("");
	uac_done(90000);
	/* The first callee is gone: calls only succeed on the new route. */
	proc_kill(uas_pid[0]);
	uas_pid[0] = 0;
	uac_spawn(20, 20);
	uac_done(60000);
	/* The users file of the new config is in force. */
	cr_assert_eq(sipp_register("bob"), 0, "bob must register");
	cr_assert_neq(sipp_register("alice"), 0,
		      "alice was removed: her credentials must fail");
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

Test(reload, broken_file_and_restart_keys_change_nothing)
{
	char why[512], bad[PROC_PATH_MAX + 32];
	json_t *res = NULL;
	int err;

	start(0);
	uas_start(0, 0); /* the second callee never runs */
	/* Broken on line 2 of the file: the route is not applied. */
	next_hop_edit(0, 1);
	conf_edit("\n", "\nbogus_key: 1\n");
	snprintf(bad, sizeof(bad), "%s:2: unknown key 'bogus_key'", sp.conf);
	reload_refused(bad);
	conf_edit("bogus_key: 1\n", "");
	/* Each needs a restart: named, nothing else applied either. */
	conf_edit("workers: 2", "workers: 1");
	reload_refused("workers: needs a restart");
	conf_edit("workers: 1", "workers: 2");
	{
		char a[32], b[32];

		snprintf(a, sizeof(a), "port: %u", sp.port);
		snprintf(b, sizeof(b), "port: %u", uas_port[1]);
		conf_edit(a, b);
		reload_refused("listen: needs a restart");
		conf_edit(b, a);
	}
	conf_edit("  users_file:", "  secret: \"0123456789abcdef0123\"\n"
				   "  users_file:");
	reload_refused("registrar.secret: needs a restart");
	/* A users file that does not load: refused, the route stays. */
	conf_edit("  secret: \"0123456789abcdef0123\"\n", "");
	conf_edit("/users_a\"", "/missing\"");
	reload_refused("registrar.users_file: ");
	/* Parameters are refused too. */
	err = mgmtcli_rpc(sp.mgmt_port, NULL, "config.reload", "[1]", &res, why,
			  sizeof(why));
	json_decref(res);
	cr_assert_eq(err, -32602, "%d %s", err, why);
	/* The old route is still used: every call reaches callee 0. */
	uac_spawn(20, 20);
	uac_done(60000);
	cr_assert_eq(sipp_register("alice"), 0, "alice must still register");
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

Test(reload, sighup_reloads_the_route)
{
	start(0);
	uas_start(1, 0); /* only the new route's callee runs */
	next_hop_edit(0, 1);
	cr_assert_eq(kill(sp.pid, SIGHUP), 0);
	cr_assert_eq(
	    proc_sipedge_wait_log(&sp, "reloaded (changed: routes)", 1, 20000),
	    0, "%s", sp.why);
	uac_spawn(20, 20);
	uac_done(60000);
	/* A broken file on SIGHUP: logged, refused, the route stays. */
	conf_edit("routes:\n", "routes: [\n");
	cr_assert_eq(kill(sp.pid, SIGHUP), 0);
	cr_assert_eq(proc_sipedge_wait_log(&sp, "reload refused: ", 1, 20000),
		     0, "%s", sp.why);
	uac_spawn(5, 20);
	uac_done(60000);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}
