/* tests/integration/test_sipp.c - SIPp as a real UAC: 20 OPTIONS to sipedge
 * over UDP and TCP, all must succeed */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/common/proc.h"
#include "tests/common/sipp.h"

#define CALLS 20

static struct proc_sipedge sp;
static char *stat_text;
static pid_t sipp_pid;

static void setup(void)
{
	memset(&sp, 0, sizeof(sp));
	stat_text = NULL;
	sipp_pid = 0;
}

static void teardown(void)
{
	if (sipp_pid > 0)
		proc_kill(sipp_pid);
	free(stat_text);
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
	char stat_path[PROC_PATH_MAX];
	struct sipp_cmd c;
	int err;

	err = proc_sipedge_start(&sp, "127.0.0.1", 2, NULL);
	cr_assert_eq(err, 0, "sipedge did not start: %s", sp.why);
	sipp_cmd_uac(&c, "options_uac.xml", sp.port, 0, transport);
	sipp_cmd_opt(&c, "-m", "%u", CALLS);
	sipp_cmd_args(&c, "-r", "50", "-rp", "1000", "-l", "10", "-timeout",
		      "20s", "-timeout_error", "-recv_timeout", "5000",
		      "-trace_stat", "-stf", "stat.csv", "-fd", "1", NULL);
	sipp_cmd_errors(&c, "sipp");
	/* SIPp writes its files in its cwd: the sipedge temp dir. */
	snprintf(stat_path, sizeof(stat_path), "%s/stat.csv", sp.dir);
	sipp_pid = sipp_spawn(c.argv, sp.dir, "sipp");
	/* Exit 0: every call succeeded (else its screen and errors). */
	sipp_ok(&sipp_pid, 40000, sp.dir, "sipp", sp.log);
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
