/* tests/common/proc.h - integration harness: free ports, temp dirs, child
 * processes, sipedge */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/** Longest path the harness builds (temp dir + file name). */
#define PROC_PATH_MAX 512

/**
 * Find a loopback port that is free for both UDP and TCP on @p host
 * ("127.0.0.1" or "::1"): bind port 0 over UDP, then check that the
 * same port binds over TCP. Never returns 5060 or 5070 (the corpus
 * messages name them in their Via).
 * Returns 0 with *portp set, or -errno (-EADDRINUSE after bounded retries).
 * Thread: any. Note: the port is free when checked; another process may
 * still take it before it is used.
 */
int proc_free_port(const char *host, uint16_t *portp);

/**
 * Wait until some process has bound loopback port @p port: a TCP
 * listener when @p tcp, else a UDP socket (read from /proc/net/tcp,
 * tcp6, udp, udp6). For peers such as SIPp that print no "ready" line:
 * a caller started before its callee listens fails its first calls.
 * Returns 0, or -ETIMEDOUT after @p timeout_ms (a watchdog, not a
 * verdict on speed).
 */
int proc_wait_bound(uint16_t port, bool tcp, int timeout_ms);

/**
 * Create a fresh temporary directory ("/tmp/sipedge-test-XXXXXX") into
 * @p dir (@p size bytes). Returns 0 or -errno.
 */
int proc_tmpdir(char *dir, size_t size);

/**
 * Remove @p dir and everything under it (files SIPp and sipedge leave).
 * Returns 0 or -errno. NULL or "" is allowed and does nothing.
 */
int proc_rmtree(const char *dir);

/**
 * Write @p text into @p dir/@p name and put the path in @p path
 * (@p size bytes; may be NULL). Returns 0 or -errno.
 */
int proc_write_file(const char *dir, const char *name, const char *text,
		    char *path, size_t size);

/**
 * Read the whole file @p path into a malloc'd NUL-terminated string.
 * Returns 0 with *textp set (free() it), or -errno.
 */
int proc_read_file(const char *path, char **textp);

/**
 * Start @p argv[0] (searched in PATH when it has no '/') with arguments
 * @p argv (NULL-terminated) in the directory @p cwd (NULL: ours), stdin
 * from /dev/null, stdout to the file @p out_path and stderr to
 * @p err_path (NULL: /dev/null; both may name the same file). The child
 * gets SIGKILL if the test process dies (PR_SET_PDEATHSIG), so nothing
 * outlives a crashed test.
 * Returns 0 with *pidp set, or -errno (-ENOENT: no such program).
 * Ownership: the caller must reap the child (proc_wait(), proc_run()).
 */
int proc_spawn(char *const argv[], const char *cwd, const char *out_path,
	       const char *err_path, pid_t *pidp);

/**
 * Start a throw-away redis-server (no persistence) on a free loopback
 * port, in @p dir (its log: @p dir/redis.log), and wait until it
 * listens (bounded: 10 s).
 * Returns 0 with *portp and *pidp set, or -errno (-ENOENT: redis-server
 * is not installed, which a test must report as a failure; -ETIMEDOUT:
 * it never listened, and was killed).
 * Ownership: the caller stops it with proc_kill().
 */
int proc_redis_start(const char *dir, uint16_t *portp, pid_t *pidp);

/**
 * Wait at most @p timeout_ms for child @p pid to exit.
 * Returns 0 with *statusp (waitpid() status) set, -ETIMEDOUT (the child
 * still runs and is not reaped), or -errno.
 */
int proc_wait(pid_t pid, int timeout_ms, int *statusp);

/**
 * Stop child @p pid: SIGKILL it if it still runs, then reap it.
 * For clean-up paths only. Returns 0 or -errno.
 */
int proc_kill(pid_t pid);

/**
 * Run @p argv (as proc_spawn()) and wait at most @p timeout_ms for it.
 * On time-out the child is killed and -ETIMEDOUT is returned.
 * Returns 0 with *statusp set (the waitpid() status), or -errno.
 */
int proc_run(char *const argv[], const char *cwd, const char *out_path,
	     const char *err_path, int timeout_ms, int *statusp);

/**
 * Run @p argv (as proc_spawn(), in our directory) to its end, at most
 * @p timeout_ms, its stdout into the file @p dir/@p name.out and its
 * stderr into @p dir/@p name.err (both emptied first), then read them
 * into *@p outp and (when @p errp is not NULL) *@p errp.
 * Returns the exit status (>= 0), or -errno (-ENOENT: no such program;
 * -ETIMEDOUT: killed after @p timeout_ms; -ECHILD: killed by a signal).
 * Ownership: *@p outp and *@p errp are malloc'd or NULL; free() both,
 * also on error.
 */
int proc_capture(char *const argv[], const char *dir, const char *name,
		 int timeout_ms, char **outp, char **errp);

/**
 * Describe a waitpid() status in @p buf: "exit 3", "signal 9".
 * Returns @p buf.
 */
char *proc_status_str(int status, char *buf, size_t size);

/**
 * True when $SIPEDGE_SAN is "1": sipedge was built with ASan+UBSan and
 * its log is checked for sanitizer reports.
 */
bool proc_is_san(void);

/**
 * A sipedge process started by the harness. The caller embeds it;
 * every field is public and read-only for the caller.
 */
struct proc_sipedge {
	pid_t pid;	    /**< 0 when not running */
	uint16_t port;	    /**< the listen port (UDP and TCP) */
	uint16_t mgmt_port; /**< management API on 127.0.0.1 (0: none) */
	char host[64];	    /**< listen address: "127.0.0.1", "::1" */
	char dir[PROC_PATH_MAX / 2]; /**< temp dir: config and logs */
	char conf[PROC_PATH_MAX];    /**< the config file */
	char out[PROC_PATH_MAX];     /**< sipedge's stdout */
	char log[PROC_PATH_MAX];     /**< sipedge's stderr */
	char why[2 * PROC_PATH_MAX]; /**< why the last call failed */
};

/**
 * Start sipedge ($SIPEDGE_BIN) on a free port of @p host with
 * @p workers shards and the extra top-level YAML @p extra_yaml
 * (NULL or e.g. "tcp:\n  idle_timeout_s: 1\n"), and wait until it
 * answers an OPTIONS over UDP (bounded: about 10 s). The config lists
 * listen host:port over UDP and TCP, domains localhost and 127.0.0.1,
 * log_level info, and (unless @p extra_yaml has a management: section)
 * the management API on 127.0.0.1:mgmt_port, a free port.
 * Returns 0, or -errno with @p p->why set (binary missing, process
 * exited, never answered). On failure nothing is left running.
 * Ownership: stop with proc_sipedge_stop(); clean up with
 * proc_sipedge_cleanup() in any case.
 */
int proc_sipedge_start(struct proc_sipedge *p, const char *host,
		       unsigned workers, const char *extra_yaml);

/**
 * proc_sipedge_start() with the management API on 127.0.0.1:mgmt_port
 * (a free port) guarded by the bearer token @p token: requests without
 * "Authorization: Bearer @p token" get 401.
 * Returns 0, or -errno with @p p->why set (as proc_sipedge_start()).
 * Ownership: as proc_sipedge_start().
 */
int proc_sipedge_start_token(struct proc_sipedge *p, const char *host,
			     unsigned workers, const char *token);

/**
 * Start sipedge with the command-line arguments @p args (NULL-terminated;
 * argv[0] is added) without waiting for anything; stdout goes to
 * @p p->out, stderr to @p p->log, both in @p p->dir (created when
 * p->dir is empty, so a test may first write files into a dir it made
 * with proc_tmpdir()). Used by the CLI tests.
 * Returns 0 or -errno with @p p->why set.
 */
int proc_sipedge_spawn(struct proc_sipedge *p, char *const args[]);

/**
 * Wait at most @p timeout_ms for sipedge to exit by itself; kill it
 * after that (-ETIMEDOUT, @p p->why set). Returns 0 with *statusp set.
 */
int proc_sipedge_wait(struct proc_sipedge *p, int timeout_ms, int *statusp);

/**
 * Send @p sig to sipedge, wait at most @p timeout_ms for it to exit,
 * SIGKILL it after that. Succeeds only when it exited with status 0 in
 * time and (under SIPEDGE_SAN=1) its log holds no sanitizer report.
 * Returns 0, or a negative error with @p p->why set.
 */
int proc_sipedge_signal_stop(struct proc_sipedge *p, int sig, int timeout_ms);

/** proc_sipedge_signal_stop() with SIGTERM and 20 s. */
int proc_sipedge_stop(struct proc_sipedge *p);

/**
 * Check the log for sanitizer reports (under SIPEDGE_SAN=1; always 0
 * otherwise). Returns 0, -EPROTO (a report) or -errno (the log cannot be
 * read: no proof of a clean run) with @p p->why set.
 */
int proc_sipedge_check_log(struct proc_sipedge *p);

/**
 * Wait until the log of @p p holds @p needle at least @p count times
 * (count 2: a second reload's line), for at most @p timeout_ms (a
 * watchdog: the wait ends as soon as the line is there).
 * Returns 0, or -ETIMEDOUT with @p p->why set (with the log's tail).
 */
int proc_sipedge_wait_log(struct proc_sipedge *p, const char *needle,
			  unsigned count, int timeout_ms);

/**
 * Run `$SIPCTL_BIN -a 127.0.0.1:MGMT_PORT ARGS...` against @p p's
 * management API (@p args NULL-ended), bounded by 20 s; its stdout and
 * stderr in *@p outp and *@p errp (malloc'd; free() both, also on error).
 * Returns sipctl's exit status (>= 0), or -errno (-ENOENT: SIPCTL_BIN not
 * set; -ETIMEDOUT; -ECHILD: killed by a signal).
 */
int proc_sipctl(const struct proc_sipedge *p, const char *const *args,
		char **outp, char **errp);

/**
 * Kill sipedge if it still runs and remove its temp dir. Safe to call
 * twice and on a zeroed struct. For .fini.
 */
void proc_sipedge_cleanup(struct proc_sipedge *p);
