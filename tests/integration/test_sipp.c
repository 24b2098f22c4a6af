/* tests/integration/test_sipp.c - SIPp as a real UAC: 20 OPTIONS to sipedge
 * over UDP and TCP, all must succeed */
#include <criterion/criterion.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tests/common/proc.h"

#define SCENARIO "tests/integration/sipp/options_uac.xml"
#define CALLS	 20

static struct proc_sipedge sp;
static char *stat_text;
static char *screen_text;

static void setup(void)
{
	memset(&sp, 0, sizeof(sp));
	stat_text = NULL;
	screen_text = NULL;
}

static void teardown(void)
{
	free(stat_text);
	free(screen_text);
	proc_sipedge_cleanup(&sp);
}

TestSuite(sipp, .init = setup, .fini = teardown, .timeout = 90);

/* The value of column @name in the last row of SIPp's ';' CSV. */
static long csv_last(const char *text, const char *name)
{
	const char *head_end = strchr(text, '\n');
	const char *last = NULL;
	const char *p;
	unsigned col = 0;
	unsigned i;
	size_t n = strlen(name);

	cr_assert_not_null(head_end, "the statistics file has no header");
	/* Find the column of @name in the header line. */
	for (p = text; p < head_end; col++) {
		const char *e = memchr(p, ';', (size_t)(head_end - p));

		if (!e)
			e = head_end;
		if ((size_t)(e - p) == n && !strncmp(p, name, n))
			break;
		p = e + 1;
	}
	cr_assert(p < head_end, "no column %s in the statistics", name);
	/* The last non-empty line. */
	for (p = head_end + 1; *p; p++)
		if (p[-1] == '\n' && *p != '\n')
			last = p;
	cr_assert_not_null(last, "the statistics file has no rows");
	for (i = 0, p = last; i < col; i++) {
		p = strchr(p, ';');
		cr_assert_not_null(p, "short row in the statistics");
		p++;
	}
	return strtol(p, NULL, 10);
}

static void run_sipp(const char *transport)
{
	char scenario[PATH_MAX];
	char target[64];
	char port[16];
	const char *logdir = sp.dir;
	char stat_path[PROC_PATH_MAX];
	char screen_path[PROC_PATH_MAX];
	uint16_t lport;
	int status = 0;
	char st[32];
	int err;

	err = proc_sipedge_start(&sp, "127.0.0.1", 2, NULL);
	cr_assert_eq(err, 0, "sipedge did not start: %s", sp.why);
	cr_assert_not_null(realpath(SCENARIO, scenario),
			   "%s not found (run from the repository root)",
			   SCENARIO);
	cr_assert_eq(proc_free_port("127.0.0.1", &lport), 0);
	snprintf(target, sizeof(target), "127.0.0.1:%u", sp.port);
	snprintf(port, sizeof(port), "%u", lport);
	/* SIPp writes its files in its cwd: the sipedge temp dir. */
	snprintf(stat_path, sizeof(stat_path), "%s/stat.csv", logdir);
	snprintf(screen_path, sizeof(screen_path), "%s/sipp.out", logdir);
	{
		char *argv[] = { "sipp",
				 target,
				 "-sf",
				 scenario,
				 "-m",
				 "20",
				 "-r",
				 "50",
				 "-rp",
				 "1000",
				 "-l",
				 "10",
				 "-t",
				 (char *)transport,
				 "-i",
				 "127.0.0.1",
				 "-p",
				 port,
				 "-timeout",
				 "20s",
				 "-timeout_error",
				 "-recv_timeout",
				 "5000",
				 "-nostdin",
				 "-trace_stat",
				 "-stf",
				 "stat.csv",
				 "-fd",
				 "1",
				 "-trace_err",
				 "-error_file",
				 "errors.log",
				 NULL };

		err = proc_run(argv, logdir, screen_path, screen_path, 40000,
			       &status);
	}
	cr_assert_neq(err, -ENOENT, "sipp is not installed (run make deps)");
	cr_assert_eq(err, 0, "sipp did not finish: %s", strerror(-err));
	proc_read_file(screen_path, &screen_text);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "sipp -t %s ended with %s (0 = every call succeeded); "
		  "screen: %.1500s",
		  transport, proc_status_str(status, st, sizeof(st)),
		  screen_text ? screen_text : "");
	cr_assert_eq(proc_read_file(stat_path, &stat_text), 0,
		     "sipp wrote no statistics");
	cr_assert_eq(csv_last(stat_text, "SuccessfulCall(C)"), CALLS,
		     "not every call succeeded");
	cr_assert_eq(csv_last(stat_text, "FailedCall(C)"), 0);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

Test(sipp, options_uac_over_udp_all_calls_succeed)
{
	run_sipp("u1");
}

Test(sipp, options_uac_over_tcp_all_calls_succeed)
{
	run_sipp("t1");
}
