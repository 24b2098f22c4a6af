/* tests/common/sipp.c - SIPp as a peer in integration tests */
#include "tests/common/sipp.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include "tests/common/proc.h"

void sipp_scenario(const char *name, char *buf)
{
	char rel[256];

	snprintf(rel, sizeof(rel), SIPP_DIR "%s", name);
	cr_assert_not_null(realpath(rel, buf),
			   "%s not found (run from the repository root)", rel);
}

static void cmd_vadd(struct sipp_cmd *c, const char *fmt, va_list ap)
{
	size_t room = sizeof(c->buf) - c->used;
	int n;

	cr_assert_lt(c->argc, SIPP_MAX_ARGS, "too many SIPp arguments");
	n = vsnprintf(c->buf + c->used, room, fmt, ap);
	cr_assert(n >= 0 && (size_t)n < room, "SIPp arguments too long");
	c->argv[c->argc++] = c->buf + c->used;
	c->argv[c->argc] = NULL;
	c->used += (size_t)n + 1;
}

void sipp_cmd_arg(struct sipp_cmd *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cmd_vadd(c, fmt, ap);
	va_end(ap);
}

void sipp_cmd_opt(struct sipp_cmd *c, const char *opt, const char *fmt, ...)
{
	va_list ap;

	sipp_cmd_arg(c, "%s", opt);
	va_start(ap, fmt);
	cmd_vadd(c, fmt, ap);
	va_end(ap);
}

void sipp_cmd_args(struct sipp_cmd *c, ...)
{
	const char *a;
	va_list ap;

	va_start(ap, c);
	while ((a = va_arg(ap, const char *)) != NULL)
		sipp_cmd_arg(c, "%s", a);
	va_end(ap);
}

/* "-sf PATH -i 127.0.0.1 -p PORT -t TP -nostdin" */
static void cmd_common(struct sipp_cmd *c, const char *scenario, uint16_t port,
		       const char *tp)
{
	char sf[PATH_MAX];

	sipp_scenario(scenario, sf);
	sipp_cmd_args(c, "-sf", sf, "-i", "127.0.0.1", NULL);
	sipp_cmd_opt(c, "-p", "%u", port);
	sipp_cmd_args(c, "-t", tp, "-nostdin", NULL);
}

void sipp_cmd_uas(struct sipp_cmd *c, const char *scenario, uint16_t port,
		  const char *tp)
{
	memset(c, 0, sizeof(*c));
	sipp_cmd_arg(c, "sipp");
	cmd_common(c, scenario, port, tp);
}

void sipp_cmd_uac(struct sipp_cmd *c, const char *scenario, uint16_t target,
		  uint16_t lport, const char *tp)
{
	memset(c, 0, sizeof(*c));
	if (lport == 0)
		cr_assert_eq(proc_free_port("127.0.0.1", &lport), 0);
	sipp_cmd_arg(c, "sipp");
	sipp_cmd_arg(c, "127.0.0.1:%u", target);
	cmd_common(c, scenario, lport, tp);
}

void sipp_cmd_errors(struct sipp_cmd *c, const char *name)
{
	sipp_cmd_arg(c, "-trace_err");
	sipp_cmd_opt(c, "-error_file", "%s_errors.log", name);
}

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

void sipp_bound(uint16_t port, const char *tp)
{
	cr_assert_eq(proc_wait_bound(port, tp[0] == 't', 10000), 0,
		     "the callee never bound port %u", port);
}

/* Put @p path into the log as "@p what (@p path):" and its text. */
static void show(const char *path, const char *what)
{
	char *text = NULL;

	if (proc_read_file(path, &text) == 0)
		cr_log_error("%s (%s):\n%.3000s", what, path, text);
	free(text);
}

/* Wait for *pidp up to @p timeout_ms; kill it after that. *pidp is 0
 * once it is reaped. Returns 0 with *statusp, or -errno. */
static int wait_reap(pid_t *pidp, int timeout_ms, int *statusp)
{
	int err = proc_wait(*pidp, timeout_ms, statusp);

	if (err)
		proc_kill(*pidp);
	*pidp = 0;
	return err;
}

void sipp_ok(pid_t *pidp, int timeout_ms, const char *dir, const char *name,
	     const char *sipedge_log)
{
	char path[PROC_PATH_MAX], st[32];
	int status = 0, err;

	err = wait_reap(pidp, timeout_ms, &status);
	if (err || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(path, sizeof(path), "%s/%s_errors.log", dir, name);
		show(path, "errors");
		snprintf(path, sizeof(path), "%s/%s.out", dir, name);
		show(path, "screen");
		if (sipedge_log)
			show(sipedge_log, "sipedge log");
	}
	cr_assert_eq(err, 0, "sipp %s did not finish: %s", name,
		     strerror(-err));
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "sipp %s ended with %s (0: every call succeeded)", name,
		  proc_status_str(status, st, sizeof(st)));
}

int sipp_status(pid_t *pidp, int timeout_ms, const char *name)
{
	char st[32];
	int status = 0, err;

	err = wait_reap(pidp, timeout_ms, &status);
	cr_assert_eq(err, 0, "sipp %s did not finish: %s", name,
		     strerror(-err));
	cr_assert(WIFEXITED(status), "sipp %s ended with %s", name,
		  proc_status_str(status, st, sizeof(st)));
	return WEXITSTATUS(status);
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
