/* tests/integration/test_users404.c - routing to a user of a served domain:
 * 404 for a user the users file does not know, 480 for one not registered */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/sip/msg.h"
#include "tests/common/proc.h"
#include "tests/common/sipcli.h"

#define WAIT_MS 5000

static struct proc_sipedge sp;
static struct sipcli cli;
static struct sipcli_msg *rsp;
static char dir[PROC_PATH_MAX / 2];

static void setup(void)
{
	memset(&sp, 0, sizeof(sp));
	cli.fd = -1;
	dir[0] = '\0';
	rsp = malloc(sizeof(*rsp));
	cr_assert_not_null(rsp);
}

static void teardown(void)
{
	sipcli_close(&cli);
	proc_sipedge_cleanup(&sp);
	if (dir[0])
		proc_rmtree(dir);
	free(rsp);
}

TestSuite(users404, .init = setup, .fini = teardown, .timeout = 60);

/* Start sipedge; loopback is trusted (no digest for the INVITEs), with
 * the users file @p users (NULL: none). */
static void up(const char *users)
{
	char yaml[1024];
	int err;

	if (users) {
		cr_assert_eq(proc_tmpdir(dir, sizeof(dir)), 0);
		cr_assert_eq(proc_write_file(dir, "users", users, NULL, 0), 0);
		snprintf(yaml, sizeof(yaml),
			 "registrar:\n"
			 "  trusted: [\"127.0.0.0/8\"]\n"
			 "  users_file: \"%s/users\"\n",
			 dir);
	} else {
		snprintf(yaml, sizeof(yaml),
			 "registrar:\n"
			 "  trusted: [\"127.0.0.0/8\"]\n");
	}
	err = proc_sipedge_start(&sp, "127.0.0.1", 2, yaml);
	cr_assert_eq(err, 0, "sipedge did not start: %s", sp.why);
	cr_assert_eq(sipcli_open_udp(&cli, sp.host, sp.port), 0);
}

/* The final status of an INVITE to @p ruri. */
static int invite(const char *ruri)
{
	static char req[4096];
	char contact[128];
	int n, st;

	snprintf(contact, sizeof(contact), "Contact: <sip:caller@%s:%u>\r\n",
		 cli.local_host, cli.local_port);
	n = sipcli_format(&cli, req, sizeof(req), "INVITE", ruri, NULL, true,
			  contact, NULL);
	cr_assert_gt(n, 0);
	st = sipcli_transact(&cli, req, (size_t)n, WAIT_MS, rsp);
	cr_assert_gt(st, 0, "no final answer to INVITE %s (%d)", ruri, st);
	return st;
}

/* A users file line; the hash is never checked here. */
#define USER_LINE(u) u "@127.0.0.1 md5:0123456789abcdef0123456789abcdef\n"

Test(users404, unknown_user_is_404_known_unregistered_user_is_480)
{
	int st;

	up("# two users\n" USER_LINE("alice") USER_LINE("bob"));
	st = invite("sip:ghost@127.0.0.1");
	cr_expect_eq(st, 404, "unknown user: got %d", st);
	st = invite("sip:alice@127.0.0.1");
	cr_expect_eq(st, 480, "known user without a binding: got %d", st);
	/* Users are exact: another user of the same domain is unknown. */
	st = invite("sip:Alice@127.0.0.1");
	cr_expect_eq(st, 404, "Alice is not alice: got %d", st);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

Test(users404, without_a_users_file_every_user_exists)
{
	int st;

	up(NULL);
	st = invite("sip:ghost@127.0.0.1");
	cr_expect_eq(st, 480, "got %d", st);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}
