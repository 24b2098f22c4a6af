/* tests/common/sipp.c - SIPp as a peer in integration tests */
#include "tests/common/sipp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <criterion/criterion.h>

#include "tests/common/proc.h"

pid_t sipp_spawn(char *const argv[], const char *dir, const char *name)
{
	char out[PROC_PATH_MAX];
	pid_t pid;
	int err;

	snprintf(out, sizeof(out), "%s/%s.out", dir, name);
	err = proc_spawn(argv, dir, out, out, &pid);
	cr_assert_neq(err, -ENOENT, "sipp is not installed (run make deps)");
	cr_assert_eq(err, 0, "sipp: %s", strerror(-err));
	return pid;
}

void sipp_done(pid_t pid, int timeout_ms, const char *dir, const char *name,
	       char **screenp)
{
	char out[PROC_PATH_MAX], st[32];
	int status = 0, err;

	err = proc_wait(pid, timeout_ms, &status);
	if (err)
		proc_kill(pid);
	snprintf(out, sizeof(out), "%s/%s.out", dir, name);
	free(*screenp);
	*screenp = NULL;
	proc_read_file(out, screenp);
	cr_assert_eq(err, 0, "sipp %s did not finish; screen: %.1500s", name,
		     *screenp ? *screenp : "");
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "sipp %s ended with %s; screen: %.1500s", name,
		  proc_status_str(status, st, sizeof(st)),
		  *screenp ? *screenp : "");
}
