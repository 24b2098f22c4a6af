/* tests/common/sipp.h - SIPp as a peer in integration tests: build its
 * command line, start it, wait for it, show its screen when it fails */
#pragma once

#include <stdint.h>
#include <sys/types.h>

/** Where the scenarios are, relative to the repository root. */
#define SIPP_DIR "tests/integration/sipp/"

/** Most arguments a sipp_cmd holds (argv[0] included). */
#define SIPP_MAX_ARGS 48

/**
 * A SIPp command line being built. The caller embeds it (zeroed or
 * filled in by sipp_cmd_uas() / sipp_cmd_uac()); argv is NULL-ended
 * and ready for sipp_spawn() at any time. The strings live in @p buf:
 * nothing to free.
 */
struct sipp_cmd {
	char *argv[SIPP_MAX_ARGS + 1];
	unsigned argc;
	char buf[4096];
	size_t used;
};

/**
 * The absolute path of scenario @p name (a file in SIPP_DIR) into
 * @p buf (PATH_MAX bytes). Errors: a missing file fails the test
 * ("run from the repository root").
 */
void sipp_scenario(const char *name, char *buf);

/**
 * Append one argument, printf-style, to @p c. Errors: more than
 * SIPP_MAX_ARGS arguments or sizeof(c->buf) bytes fails the test.
 */
void sipp_cmd_arg(struct sipp_cmd *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/**
 * Append option @p opt and its value, printf-style: ("-m", "%u", 3).
 * Errors: as sipp_cmd_arg().
 */
void sipp_cmd_opt(struct sipp_cmd *c, const char *opt, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/**
 * Append the literal arguments that follow @p c up to a NULL.
 * Errors: as sipp_cmd_arg().
 */
void sipp_cmd_args(struct sipp_cmd *c, ...) __attribute__((sentinel));

/**
 * Start @p c over as a callee: "sipp -sf SIPP_DIR/@p scenario
 * -i 127.0.0.1 -p @p port -t @p tp -nostdin" (tp "u1", "t1").
 * Errors: as sipp_scenario() and sipp_cmd_arg().
 */
void sipp_cmd_uas(struct sipp_cmd *c, const char *scenario, uint16_t port,
		  const char *tp);

/**
 * Start @p c over as a caller to sipedge on 127.0.0.1:@p target:
 * "sipp 127.0.0.1:@p target -sf SIPP_DIR/@p scenario -i 127.0.0.1
 * -p LPORT -t @p tp -nostdin", LPORT @p lport, or a free port when 0.
 * Errors: as sipp_cmd_uas(); no free port fails the test.
 */
void sipp_cmd_uac(struct sipp_cmd *c, const char *scenario, uint16_t target,
		  uint16_t lport, const char *tp);

/**
 * Append "-trace_err -error_file @p name_errors.log": SIPp's unexpected
 * messages, which sipp_ok() shows when it fails.
 */
void sipp_cmd_errors(struct sipp_cmd *c, const char *name);

/**
 * Start SIPp (@p argv, argv[0] "sipp") in the background in @p dir, its
 * output in @p dir/@p name.out. Fails the test when SIPp is not installed
 * or does not start. Returns its pid.
 * Ownership: the caller reaps it (sipp_ok(), sipp_status(), sipp_done(),
 * or proc_kill() in .fini).
 * Thread: the test's.
 */
pid_t sipp_spawn(char *const argv[], const char *dir, const char *name);

/**
 * Wait (up to 10 s) until a SIPp callee has bound 127.0.0.1:@p port
 * over @p tp ("t...": TCP, else UDP): a caller started before its
 * callee listens fails its first calls. Errors: fails the test.
 */
void sipp_bound(uint16_t port, const char *tp);

/**
 * Wait up to @p timeout_ms for SIPp @p *pidp started as @p name in
 * @p dir (killing it when it does not end; *pidp is 0 once it is
 * reaped), and fail the test unless it ended with 0 (every call a
 * success). On failure the log shows @p dir/@p name_errors.log,
 * @p dir/@p name.out (its screen) and @p sipedge_log (NULL: not).
 * Thread: the test's.
 */
void sipp_ok(pid_t *pidp, int timeout_ms, const char *dir, const char *name,
	     const char *sipedge_log);

/**
 * Wait up to @p timeout_ms for SIPp @p *pidp (killing it when it does
 * not end; *pidp is 0 once it is reaped). Returns its exit status.
 * Errors: no end in time, or an end by a signal, fails the test.
 * Thread: the test's.
 */
int sipp_status(pid_t *pidp, int timeout_ms, const char *name);

/**
 * Wait up to @p timeout_ms for SIPp @p pid (killing it when it does not
 * end), read its screen (@p dir/@p name.out) into *@p screenp (freeing
 * what was there; the caller frees it), and fail the test unless it ended
 * with 0.
 * Thread: the test's.
 */
void sipp_done(pid_t pid, int timeout_ms, const char *dir, const char *name,
	       char **screenp);
