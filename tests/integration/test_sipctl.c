/* tests/integration/test_sipctl.c - the sipctl command against the real
 * sipedge: tables, --json, the token, and its exit statuses */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tests/common/mgmtcli.h"
#include "tests/common/proc.h"
#include "tests/common/sipcli.h"
#include "tests/common/teardown.h"
#include "tests/common/ua.h"

#define TOKEN "sipctl-test-token-42"

static struct proc_sipedge sp;
static char dir[PROC_PATH_MAX / 2];
static struct sipcli_msg *rx;
static struct ua alice;
static char *out, *err;
static char addr[64];

static void setup(void)
{
	memset(&sp, 0, sizeof(sp));
	memset(&alice, 0, sizeof(alice));
	alice.fd = -1;
	out = err = NULL;
	rx = calloc(1, sizeof(*rx));
	cr_assert_not_null(rx);
	cr_assert_eq(proc_tmpdir(dir, sizeof(dir)), 0);
	unsetenv("SIPCTL_TOKEN");
}

static void teardown(void)
{
	ua_close(&alice);
	free(out);
	free(err);
	free(rx);
	teardown_sipedge(&sp);
	if (dir[0])
		proc_rmtree(dir);
}

TestSuite(sipctl, .init = setup, .fini = teardown, .timeout = 60);

static void up(const char *yaml)
{
	cr_assert_eq(proc_sipedge_start(&sp, "127.0.0.1", 2, yaml), 0, "%s",
		     sp.why);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", sp.mgmt_port);
}

/*
 * Run sipctl with @p args (NULL-ended, without argv[0]); its stdout in
 * out, stderr in err. Returns its exit status (a signal fails).
 */
static int sipctl(const char *const *args)
{
	const char *bin = getenv("SIPCTL_BIN");
	char *argv[32];
	unsigned n = 0;
	int rc;

	cr_assert(bin && bin[0], "SIPCTL_BIN is not set (run make test)");
	argv[n++] = (char *)bin;
	while (*args && n < 31)
		argv[n++] = (char *)*args++;
	argv[n] = NULL;
	free(out);
	free(err);
	rc = proc_capture(argv, dir, "sipctl", 20000, &out, &err);
	cr_assert_geq(rc, 0, "sipctl: %s", strerror(-rc));
	return rc;
}

/* Register alice from 127.0.0.3 with a User-Agent. */
static void reg_alice(void)
{
	ua_open(&alice, "alice", "localhost", "127.0.0.3", sp.port);
	cr_assert_eq(ua_register(&alice, "AcmePhone/4.2", 600, rx), 200, "%s",
		     rx->buf);
}

Test(sipctl, ul_show_and_rm)
{
	char src[64];
	json_error_t jerr;
	json_t *j, *c;

	up(NULL);
	reg_alice();
	snprintf(src, sizeof(src), "udp:127.0.0.3:%u", alice.port);
	/* A table: a header line, then alice's binding. */
	cr_assert_eq(sipctl((const char *[]){ "-a", addr, "ul", "show",
					      "alice@localhost", NULL }),
		     0, "%s", err);
	cr_assert(strstr(out, "AOR") && strstr(out, "USER-AGENT"), "%s", out);
	cr_assert(strstr(out, "alice@localhost"), "%s", out);
	cr_assert(strstr(out, alice.contact), "%s", out);
	cr_assert(strstr(out, src), "%s", out);
	cr_assert(strstr(out, "AcmePhone/4.2"), "%s", out);
	/* --json: the method's result. */
	cr_assert_eq(
	    sipctl((const char *[]){ "--address", addr, "--json", "ul", "show",
				     "alice@localhost", NULL }),
	    0, "%s", err);
	j = json_loads(out, 0, &jerr);
	cr_assert_not_null(j, "not JSON: %s", out);
	c = json_array_get(json_object_get(j, "contacts"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(c, "source")), src);
	json_decref(j);
	/* Every AOR: the walk over location.dump. */
	cr_assert_eq(sipctl((const char *[]){ "-a", addr, "ul", "show", NULL }),
		     0, "%s", err);
	cr_assert(strstr(out, "alice@localhost") && strstr(out, "1 AOR\n"),
		  "%s", out);
	cr_assert_eq(sipctl((const char *[]){ "-a", addr, "--json", "ul",
					      "show", NULL }),
		     0, "%s", err);
	j = json_loads(out, 0, &jerr);
	cr_assert(json_is_array(j) && json_array_size(j) == 1, "%s", out);
	json_decref(j);
	/* Remove her; then she is not found: exit 1, the message on
	 * stderr. */
	cr_assert_eq(sipctl((const char *[]){ "-a", addr, "ul", "rm",
					      "alice@localhost", NULL }),
		     0, "%s", err);
	cr_assert(strstr(out, "1 binding removed"), "%s", out);
	cr_assert_eq(sipctl((const char *[]){ "-a", addr, "ul", "show",
					      "alice@localhost", NULL }),
		     1, "%s", out);
	cr_assert(strstr(err, "not found"), "%s", err);
	cr_assert_eq(sipctl((const char *[]){ "-a", addr, "ul", "rm",
					      "alice@localhost", NULL }),
		     1);
	cr_assert(strstr(err, "-32002"), "%s", err);
}

Test(sipctl, stats_log_and_rpc)
{
	char why[256];
	json_t *res = NULL, *j;
	json_error_t jerr;

	up(NULL);
	reg_alice();
	cr_assert_eq(sipctl((const char *[]){ "-a", addr, "stats", NULL }), 0,
		     "%s", err);
	cr_assert(strstr(out, "registrar.ok "), "%s", out);
	cr_assert_eq(sipctl((const char *[]){ "-a", addr, "--json", "stats",
					      "registrar.", NULL }),
		     0, "%s", err);
	j = json_loads(out, 0, &jerr);
	cr_assert_not_null(j, "%s", out);
	cr_assert_eq(json_integer_value(json_object_get(j, "registrar.ok")), 1,
		     "%s", out);
	cr_assert_null(json_object_get(j, "core.rx_msgs"));
	json_decref(j);
	/* log debug: sipedge's level changes. */
	cr_assert_eq(
	    sipctl((const char *[]){ "-a", addr, "log", "debug", NULL }), 0,
	    "%s", err);
	cr_assert(strstr(out, "debug"), "%s", out);
	cr_assert_eq(mgmtcli_rpc(sp.mgmt_port, NULL, "log.level", NULL, &res,
				 why, sizeof(why)),
		     0, "%s", why);
	cr_assert_str_eq(json_string_value(json_object_get(res, "level")),
			 "debug");
	json_decref(res);
	cr_assert_eq(
	    sipctl((const char *[]){ "-a", addr, "log", "loud", NULL }), 1);
	cr_assert(strstr(err, "-32602"), "%s", err);
	/* rpc: any method, params as JSON. */
	cr_assert_eq(
	    sipctl((const char *[]){ "-a", addr, "rpc", "core.version", NULL }),
	    0, "%s", err);
	cr_assert(strstr(out, "version") && strstr(out, SIPEDGE_VERSION), "%s",
		  out);
	cr_assert_eq(sipctl((const char *[]){
			 "-a", addr, "--json", "rpc", "location.lookup",
			 "{\"aor\":\"alice@localhost\"}", NULL }),
		     0, "%s", err);
	j = json_loads(out, 0, &jerr);
	cr_assert_str_eq(json_string_value(json_object_get(j, "aor")),
			 "alice@localhost", "%s", out);
	json_decref(j);
}

Test(sipctl, exit_statuses)
{
	uint16_t dead;

	up(NULL);
	/* An RPC error: 1 and the message (a method not merged yet, an
	 * unknown one). */
	cr_assert_eq(
	    sipctl((const char *[]){ "-a", addr, "rpc", "no.such", NULL }), 1);
	cr_assert(strstr(err, "no.such") && strstr(err, "-32601"), "%s", err);
	cr_assert_eq(sipctl((const char *[]){ "-a", addr, "dlg", "end",
					      "abc@host", NULL }),
		     1);
	cr_assert(strstr(err, "dialog.end"), "%s", err);
	/* Bad usage: 2. */
	cr_assert_eq(sipctl((const char *[]){ "-a", addr, NULL }), 2);
	cr_assert_eq(sipctl((const char *[]){ "-a", addr, "frobnicate", NULL }),
		     2);
	cr_assert(strstr(err, "frobnicate"), "%s", err);
	cr_assert_eq(sipctl((const char *[]){ "-a", addr, "ul", "rm", NULL }),
		     2);
	cr_assert_eq(sipctl((const char *[]){ "-a", addr, "rpc", "core.version",
					      "{not json", NULL }),
		     2);
	cr_assert_eq(
	    sipctl((const char *[]){ "-a", "127.0.0.1:99999", "stats", NULL }),
	    2);
	cr_assert_eq(sipctl((const char *[]){ "--bogus", NULL }), 2);
	/* Help and version: 0. */
	cr_assert_eq(sipctl((const char *[]){ "--help", NULL }), 0);
	cr_assert(strstr(out, "ul show") && strstr(out, "--json"), "%s", out);
	cr_assert_eq(sipctl((const char *[]){ "-V", NULL }), 0);
	cr_assert(strstr(out, SIPEDGE_VERSION), "%s", out);
	/* Nobody listening: 3. */
	cr_assert_eq(proc_free_port("127.0.0.1", &dead), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", dead);
	cr_assert_eq(sipctl((const char *[]){ "-a", addr, "stats", NULL }), 3);
	cr_assert(strstr(err, "cannot reach"), "%s", err);
}

Test(sipctl, token_from_option_or_environment)
{
	cr_assert_eq(proc_sipedge_start_token(&sp, "127.0.0.1", 2, TOKEN), 0,
		     "%s", sp.why);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", sp.mgmt_port);
	cr_assert_eq(sipctl((const char *[]){ "-a", addr, "stats", NULL }), 1);
	cr_assert(strstr(err, "-32001"), "%s", err);
	cr_assert_eq(sipctl((const char *[]){ "-a", addr, "-t", "wrong",
					      "stats", NULL }),
		     1);
	cr_assert_eq(
	    sipctl((const char *[]){ "-a", addr, "-t", TOKEN, "stats", NULL }),
	    0, "%s", err);
	setenv("SIPCTL_TOKEN", TOKEN, 1);
	cr_assert_eq(
	    sipctl((const char *[]){ "-a", addr, "rpc", "core.version", NULL }),
	    0, "%s", err);
	unsetenv("SIPCTL_TOKEN");
}
