/* tests/common/proc.c - integration harness: free ports, temp dirs, child
 * processes, sipedge */
#include "tests/common/proc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/common/sipcli.h"
#include "tests/common/ms.h"

#define TMP_PREFIX "/tmp/sipedge-test-"

static int loopback_addr(const char *host, uint16_t port,
			 struct sockaddr_storage *sa, socklen_t *lenp)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)sa;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;

	memset(sa, 0, sizeof(*sa));
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		*lenp = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*lenp = sizeof(*in6);
		return 0;
	}
	return -EINVAL;
}

static uint16_t sa_port(const struct sockaddr_storage *sa)
{
	if (sa->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return ntohs(((const struct sockaddr_in *)sa)->sin_port);
}

/* Try one port: UDP bound to port 0, then TCP on the same port. */
static int try_port(const struct sockaddr_storage *base, socklen_t len,
		    uint16_t *portp)
{
	struct sockaddr_storage sa = *base;
	socklen_t slen = sizeof(sa);
	int ufd = -1;
	int tfd = -1;
	int err = 0;

	ufd = socket(sa.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (ufd < 0) {
		err = -errno;
		goto out;
	}
	if (bind(ufd, (struct sockaddr *)&sa, len) < 0 ||
	    getsockname(ufd, (struct sockaddr *)&sa, &slen) < 0) {
		err = -errno;
		goto out;
	}
	if (sa_port(&sa) == 5060 || sa_port(&sa) == 5070) {
		err = -EADDRINUSE;
		goto out;
	}
	tfd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (tfd < 0) {
		err = -errno;
		goto out;
	}
	if (bind(tfd, (struct sockaddr *)&sa, len) < 0) {
		err = -errno;
		goto out;
	}
	*portp = sa_port(&sa);
out:
	if (ufd >= 0)
		close(ufd);
	if (tfd >= 0)
		close(tfd);
	return err;
}

int proc_free_port(const char *host, uint16_t *portp)
{
	struct sockaddr_storage sa;
	socklen_t len;
	int err;
	int i;

	err = loopback_addr(host, 0, &sa, &len);
	if (err)
		return err;
	for (i = 0; i < 50; i++) {
		err = try_port(&sa, len, portp);
		if (err != -EADDRINUSE)
			return err;
	}
	return -EADDRINUSE;
}

/* Is @p port bound in the /proc/net table @p path (in state @p st)? */
static bool port_in_table(const char *path, uint16_t port, unsigned st)
{
	char line[512];
	bool found = false;
	FILE *f = fopen(path, "r");

	if (!f)
		return false;
	/* "  0: 0100007F:13C4 00000000:0000 0A ..." after a header line. */
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned lport, state;
		char *colon = strchr(line, ':');

		if (!colon || !(colon = strchr(colon + 1, ':')))
			continue;
		if (sscanf(colon + 1, "%x %*s %x", &lport, &state) == 2 &&
		    lport == port && state == st)
			found = true;
	}
	fclose(f);
	return found;
}

int proc_wait_bound(uint16_t port, bool tcp, int timeout_ms)
{
	/* TCP_LISTEN is 0x0A; a bound UDP socket shows TCP_CLOSE, 0x07. */
	unsigned st = tcp ? 0x0a : 0x07;
	const char *v4 = tcp ? "/proc/net/tcp" : "/proc/net/udp";
	const char *v6 = tcp ? "/proc/net/tcp6" : "/proc/net/udp6";

	for (int waited = 0; waited <= timeout_ms; waited += 10) {
		if (port_in_table(v4, port, st) || port_in_table(v6, port, st))
			return 0;
		usleep(10000); /* polling: /proc has nothing to wait on */
	}
	return -ETIMEDOUT;
}

int proc_tmpdir(char *dir, size_t size)
{
	if (size < sizeof(TMP_PREFIX "XXXXXX"))
		return -ENOSPC;
	snprintf(dir, size, "%s", TMP_PREFIX "XXXXXX");
	if (!mkdtemp(dir)) {
		dir[0] = '\0';
		return -errno;
	}
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 ? -1 : 0;
}

int proc_rmtree(const char *dir)
{
	if (!dir || !dir[0])
		return 0;
	/* Only ever remove what proc_tmpdir() made. */
	if (strncmp(dir, TMP_PREFIX, strlen(TMP_PREFIX)) != 0 ||
	    strstr(dir, ".."))
		return -EINVAL;
	if (nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
		return -errno;
	return 0;
}

int proc_write_file(const char *dir, const char *name, const char *text,
		    char *path, size_t size)
{
	char buf[PROC_PATH_MAX];
	size_t len = strlen(text);
	FILE *f;
	int err = 0;

	if (snprintf(buf, sizeof(buf), "%s/%s", dir, name) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	f = fopen(buf, "w");
	if (!f)
		return -errno;
	if (fwrite(text, 1, len, f) != len)
		err = -EIO;
	if (fclose(f) != 0 && !err)
		err = -errno;
	if (!err && path)
		snprintf(path, size, "%s", buf);
	return err;
}

int proc_read_file(const char *path, char **textp)
{
	FILE *f;
	char *text = NULL;
	size_t cap = 0;
	size_t len = 0;
	size_t n;
	int err = 0;

	f = fopen(path, "r");
	if (!f)
		return -errno;
	/* Bounded: a log larger than 64 MiB is an error in itself. */
	for (;;) {
		if (len + 4097 > cap) {
			char *t;

			if (cap >= (64u << 20)) {
				err = -EFBIG;
				goto out;
			}
			cap = cap ? cap * 2 : 8192;
			t = realloc(text, cap);
			if (!t) {
				err = -ENOMEM;
				goto out;
			}
			text = t;
		}
		n = fread(text + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		err = -EIO;
		goto out;
	}
	text[len] = '\0';
	*textp = text;
	text = NULL;
out:
	free(text);
	fclose(f);
	return err;
}

static int open_out(const char *path)
{
	return open(path ? path : "/dev/null",
		    O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

int proc_spawn(char *const argv[], const char *cwd, const char *out_path,
	       const char *err_path, pid_t *pidp)
{
	pid_t parent = getpid();
	int pfd[2];
	int child_err = 0;
	ssize_t n;
	pid_t pid;
	int status;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		close(pfd[0]);
		close(pfd[1]);
		return err;
	}
	if (pid == 0) {
		int in;
		int out;
		int errfd;
		int e;

		/* Nothing we start may outlive the test process. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		if (cwd && chdir(cwd) < 0)
			goto fail;
		in = open("/dev/null", O_RDONLY);
		out = open_out(out_path);
		errfd = (err_path && out_path && !strcmp(err_path, out_path))
			    ? dup(out)
			    : open_out(err_path);
		if (in < 0 || out < 0 || errfd < 0)
			goto fail;
		if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(errfd, 2) < 0)
			goto fail;
		execvp(argv[0], argv);
	fail:
		e = errno;
		n = write(pfd[1], &e, sizeof(e));
		(void)n;
		_exit(127);
	}
	close(pfd[1]);
	/* The pipe closes on exec (success) or carries errno (failure). */
	do {
		n = read(pfd[0], &child_err, sizeof(child_err));
	} while (n < 0 && errno == EINTR);
	close(pfd[0]);
	if (n == (ssize_t)sizeof(child_err)) {
		waitpid(pid, &status, 0);
		return child_err ? -child_err : -ECHILD;
	}
	*pidp = pid;
	return 0;
}

int proc_wait(pid_t pid, int timeout_ms, int *statusp)
{
	long long deadline = ms_now() + timeout_ms;
	struct pollfd pfd;
	int pidfd;
	pid_t r;
	int status;
	unsigned rounds;

	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	/* Bounded by the deadline; each round waits for the exit event. */
	for (rounds = 0; rounds < 100000; rounds++) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid) {
			*statusp = status;
			if (pidfd >= 0)
				close(pidfd);
			return 0;
		}
		if (r < 0 && errno != EINTR) {
			int err = -errno;

			if (pidfd >= 0)
				close(pidfd);
			return err;
		}
		if (ms_now() >= deadline)
			break;
		if (pidfd >= 0) {
			pfd.fd = pidfd;
			pfd.events = POLLIN;
			poll(&pfd, 1, (int)(deadline - ms_now()));
		} else {
			/* No pidfd (old kernel): poll the status every 10 ms.
			 */
			struct timespec ts = { 0, 10 * 1000 * 1000 };

			nanosleep(&ts, NULL);
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	return -ETIMEDOUT;
}

int proc_redis_start(const char *dir, uint16_t *portp, pid_t *pidp)
{
	char port[16], log[PROC_PATH_MAX];
	char *argv[] = { "redis-server", "--port",	port, "--bind",
			 "127.0.0.1",	 "--save",	"",   "--appendonly",
			 "no",		 "--daemonize", "no", "--dir",
			 (char *)dir,	 NULL };
	uint16_t p;
	pid_t pid;
	int err;

	err = proc_free_port("127.0.0.1", &p);
	if (err)
		return err;
	snprintf(port, sizeof(port), "%u", p);
	snprintf(log, sizeof(log), "%s/redis.log", dir);
	err = proc_spawn(argv, dir, log, log, &pid);
	if (err)
		return err;
	if (proc_wait_bound(p, true, 10000) != 0) {
		proc_kill(pid);
		return -ETIMEDOUT;
	}
	*portp = p;
	*pidp = pid;
	return 0;
}

int proc_kill(pid_t pid)
{
	int status;

	if (pid <= 0)
		return -EINVAL;
	kill(pid, SIGKILL);
	return proc_wait(pid, 10000, &status);
}

int proc_run(char *const argv[], const char *cwd, const char *out_path,
	     const char *err_path, int timeout_ms, int *statusp)
{
	pid_t pid;
	int err;

	err = proc_spawn(argv, cwd, out_path, err_path, &pid);
	if (err)
		return err;
	err = proc_wait(pid, timeout_ms, statusp);
	if (err == -ETIMEDOUT)
		proc_kill(pid);
	return err;
}

int proc_capture(char *const argv[], const char *dir, const char *name,
		 int timeout_ms, char **outp, char **errp)
{
	char o[PROC_PATH_MAX], e[PROC_PATH_MAX];
	int status = 0, err;

	*outp = NULL;
	if (errp)
		*errp = NULL;
	snprintf(o, sizeof(o), "%s/%s.out", dir, name);
	snprintf(e, sizeof(e), "%s/%s.err", dir, name);
	/* proc_spawn() appends to an existing file. */
	unlink(o);
	unlink(e);
	err = proc_run(argv, NULL, o, e, timeout_ms, &status);
	if (!err)
		err = proc_read_file(o, outp);
	if (!err && errp)
		err = proc_read_file(e, errp);
	if (err)
		return err;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -ECHILD;
}

int proc_sipctl(const struct proc_sipedge *p, const char *const *args,
		char **outp, char **errp)
{
	const char *bin = getenv("SIPCTL_BIN");
	char addr[32];
	char *argv[32];
	unsigned n = 0;

	*outp = *errp = NULL;
	if (!bin || !bin[0])
		return -ENOENT;
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", p->mgmt_port);
	argv[n++] = (char *)bin;
	argv[n++] = "-a";
	argv[n++] = addr;
	while (*args && n < 31)
		argv[n++] = (char *)*args++;
	argv[n] = NULL;
	return proc_capture(argv, p->dir, "sipctl", 20000, outp, errp);
}

char *proc_status_str(int status, char *buf, size_t size)
{
	if (WIFEXITED(status))
		snprintf(buf, size, "exit %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "signal %d", WTERMSIG(status));
	else
		snprintf(buf, size, "status 0x%x", (unsigned)status);
	return buf;
}

bool proc_is_san(void)
{
	const char *s = getenv("SIPEDGE_SAN");

	return s && !strcmp(s, "1");
}

/* The last @n bytes of the log, flattened to one line, for messages. */
static void log_tail(const struct proc_sipedge *p, char *buf, size_t size,
		     size_t n)
{
	char *text = NULL;
	size_t len;
	size_t i;
	const char *t;

	buf[0] = '\0';
	if (proc_read_file(p->log, &text) != 0)
		return;
	len = strlen(text);
	t = len > n ? text + len - n : text;
	snprintf(buf, size, "%s", t);
	for (i = 0; buf[i]; i++)
		if (buf[i] == '\n' || buf[i] == '\r')
			buf[i] = '|';
	free(text);
}

static int set_why(struct proc_sipedge *p, int err, const char *what)
{
	char tail[256];

	log_tail(p, tail, sizeof(tail), 200);
	snprintf(p->why, sizeof(p->why), "%s; log: %s", what, tail);
	return err;
}

static const char *sipedge_bin(void)
{
	const char *bin = getenv("SIPEDGE_BIN");

	return bin && bin[0] ? bin : NULL;
}

static int make_paths(struct proc_sipedge *p)
{
	int err;

	if (!p->dir[0]) {
		err = proc_tmpdir(p->dir, sizeof(p->dir));
		if (err) {
			snprintf(p->why, sizeof(p->why), "mkdtemp: %s",
				 strerror(-err));
			return err;
		}
	}
	snprintf(p->out, sizeof(p->out), "%s/sipedge.out", p->dir);
	snprintf(p->log, sizeof(p->log), "%s/sipedge.log", p->dir);
	return 0;
}

static int wait_mgmt(struct proc_sipedge *p);

int proc_sipedge_start_token(struct proc_sipedge *p, const char *host,
			     unsigned workers, const char *token)
{
	char yaml[256];
	uint16_t port;
	int err;

	err = proc_free_port("127.0.0.1", &port);
	if (err)
		return set_why(p, err, "no free management port");
	snprintf(yaml, sizeof(yaml),
		 "management:\n"
		 "  listen: [\"127.0.0.1:%u\"]\n"
		 "  token: \"%s\"\n",
		 port, token);
	err = proc_sipedge_start(p, host, workers, yaml);
	if (err)
		return err;
	/* proc_sipedge_start() waits for the API only on a port it chose
	 * itself; the shards answer before the API listens (wait_mgmt()). */
	p->mgmt_port = port;
	err = wait_mgmt(p);
	if (err && p->pid > 0) {
		proc_kill(p->pid);
		p->pid = 0;
	}
	return err;
}

int proc_sipedge_spawn(struct proc_sipedge *p, char *const args[])
{
	const char *bin = sipedge_bin();
	char *argv[32];
	unsigned n = 0;
	int err;

	if (!bin) {
		snprintf(p->why, sizeof(p->why),
			 "SIPEDGE_BIN is not set (run through make)");
		return -ENOENT;
	}
	if (access(bin, X_OK) < 0) {
		err = -errno;
		snprintf(p->why, sizeof(p->why), "%s: %s", bin,
			 strerror(errno));
		return err;
	}
	err = make_paths(p);
	if (err)
		return err;
	argv[n++] = (char *)bin;
	while (args && args[n - 1] && n < 31) {
		argv[n] = args[n - 1];
		n++;
	}
	argv[n] = NULL;
	err = proc_spawn(argv, p->dir, p->out, p->log, &p->pid);
	if (err) {
		p->pid = 0;
		snprintf(p->why, sizeof(p->why), "spawn %s: %s", bin,
			 strerror(-err));
	}
	return err;
}

int proc_sipedge_wait(struct proc_sipedge *p, int timeout_ms, int *statusp)
{
	int err;

	if (p->pid <= 0)
		return -ECHILD;
	err = proc_wait(p->pid, timeout_ms, statusp);
	if (err == -ETIMEDOUT) {
		proc_kill(p->pid);
		p->pid = 0;
		return set_why(p, err, "sipedge did not exit in time");
	}
	if (err == 0)
		p->pid = 0;
	return err;
}

static int write_conf(struct proc_sipedge *p, unsigned workers,
		      const char *extra_yaml)
{
	char text[4096], mgmt[128] = "";
	int n;

	/* The management API on a port of its own, unless the test says
	 * what it wants. */
	p->mgmt_port = 0;
	if (!extra_yaml || !strstr(extra_yaml, "management:")) {
		int err = proc_free_port("127.0.0.1", &p->mgmt_port);

		if (err)
			return err;
		snprintf(mgmt, sizeof(mgmt),
			 "management:\n  listen: [\"127.0.0.1:%u\"]\n",
			 p->mgmt_port);
	}
	n = snprintf(text, sizeof(text),
		     "workers: %u\n"
		     "log_level: info\n"
		     "listen:\n"
		     "  - address: \"%s\"\n"
		     "    port: %u\n"
		     "    transports: [udp, tcp]\n"
		     "domains: [localhost, 127.0.0.1]\n"
		     "%s%s",
		     workers, p->host, p->port, mgmt,
		     extra_yaml ? extra_yaml : "");
	if (n < 0 || n >= (int)sizeof(text))
		return -ENOSPC;
	return proc_write_file(p->dir, "sipedge.yaml", text, p->conf,
			       sizeof(p->conf));
}

/* Wait for the first answer to an OPTIONS; bounded to about 10 s. */
/* The shards answer before the B2B pool and the management API are up
 * (proxy/main.c starts them in that order): a test that parks a call
 * or calls the API at once would race them. The management listener
 * comes last, so once it is bound everything is. */
static int wait_mgmt(struct proc_sipedge *p)
{
	if (!p->mgmt_port || proc_wait_bound(p->mgmt_port, true, 10000) == 0)
		return 0;
	return set_why(p, -ETIMEDOUT,
		       "sipedge answered OPTIONS but its management API was "
		       "not listening within 10 s");
}

static int wait_ready(struct proc_sipedge *p)
{
	char st[32];
	char what[64];
	int status;
	int rc;
	int i;

	for (i = 0; i < 100; i++) {
		rc = proc_wait(p->pid, 0, &status);
		if (rc == 0) {
			p->pid = 0;
			snprintf(what, sizeof(what),
				 "sipedge exited early (%s)",
				 proc_status_str(status, st, sizeof(st)));
			set_why(p, -ECHILD, what);
			return WIFEXITED(status) && WEXITSTATUS(status) == 3
				   ? -EADDRINUSE
				   : -ECHILD;
		}
		rc = sipcli_ping(p->host, p->port, 100);
		if (rc >= 100)
			return wait_mgmt(p);
		if (rc != -ETIMEDOUT && rc != -ECONNREFUSED) {
			/* Refused: not bound yet; give it a moment. */
			struct timespec ts = { 0, 50 * 1000 * 1000 };

			nanosleep(&ts, NULL);
		}
	}
	return set_why(p, -ETIMEDOUT,
		       "sipedge did not answer an OPTIONS within 10 s");
}

int proc_sipedge_start(struct proc_sipedge *p, const char *host,
		       unsigned workers, const char *extra_yaml)
{
	char *args[] = { "-c", p->conf, NULL };
	int err = -EADDRINUSE;
	int attempt;

	snprintf(p->host, sizeof(p->host), "%s", host);
	/* A port found free may be taken before sipedge binds it: retry. */
	for (attempt = 0; attempt < 3 && err == -EADDRINUSE; attempt++) {
		err = make_paths(p);
		if (err)
			return err;
		err = proc_free_port(host, &p->port);
		if (err) {
			snprintf(p->why, sizeof(p->why), "no free port: %s",
				 strerror(-err));
			return err;
		}
		err = write_conf(p, workers, extra_yaml);
		if (err) {
			snprintf(p->why, sizeof(p->why), "write config: %s",
				 strerror(-err));
			return err;
		}
		err = proc_sipedge_spawn(p, args);
		if (err)
			return err;
		err = wait_ready(p);
	}
	if (err && p->pid > 0) {
		proc_kill(p->pid);
		p->pid = 0;
	}
	return err;
}

int proc_sipedge_check_log(struct proc_sipedge *p)
{
	static const char *const marks[] = {
		"ERROR: AddressSanitizer",
		"runtime error:",
		"LeakSanitizer",
		"ERROR: ThreadSanitizer",
	};
	char *text = NULL;
	const char *hit;
	size_t i;
	int err = 0;

	if (!proc_is_san())
		return 0;
	err = proc_read_file(p->log, &text);
	if (err) {
		/* No log read, no proof of a clean run. */
		snprintf(p->why, sizeof(p->why),
			 "cannot read the log %.200s to check for sanitizer "
			 "reports: %s",
			 p->log, strerror(-err));
		return err;
	}
	for (i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
		hit = strstr(text, marks[i]);
		if (hit) {
			snprintf(p->why, sizeof(p->why),
				 "sanitizer report in %.200s: %.600s", p->log,
				 hit);
			err = -EPROTO;
			break;
		}
	}
	free(text);
	return err;
}

/* How often @p needle occurs in the log of @p p (0 when unreadable). */
static unsigned log_count(const struct proc_sipedge *p, const char *needle)
{
	char *text = NULL;
	const char *at;
	unsigned n = 0;

	if (proc_read_file(p->log, &text) != 0)
		return 0;
	for (at = strstr(text, needle); at; at = strstr(at + 1, needle))
		n++;
	free(text);
	return n;
}

int proc_sipedge_wait_log(struct proc_sipedge *p, const char *needle,
			  unsigned count, int timeout_ms)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	long long t0 = ms_now();
	unsigned n;

	/* Bounded by @p timeout_ms; a log has no change event to wait on
	 * that would be simpler than polling the file every 20 ms. */
	while ((n = log_count(p, needle)) < count) {
		if (ms_now() - t0 >= timeout_ms) {
			char what[256];

			snprintf(what, sizeof(what),
				 "the log holds \"%.100s\" %u times, not %u, "
				 "after %d ms",
				 needle, n, count, timeout_ms);
			return set_why(p, -ETIMEDOUT, what);
		}
		nanosleep(&ts, NULL);
	}
	return 0;
}

int proc_sipedge_signal_stop(struct proc_sipedge *p, int sig, int timeout_ms)
{
	char what[128];
	char st[32];
	int status;
	int err;

	if (p->pid <= 0) {
		snprintf(p->why, sizeof(p->why), "sipedge is not running");
		return -ECHILD;
	}
	if (kill(p->pid, sig) < 0) {
		err = -errno;
		snprintf(p->why, sizeof(p->why), "kill: %s", strerror(errno));
		return err;
	}
	err = proc_wait(p->pid, timeout_ms, &status);
	if (err) {
		proc_kill(p->pid);
		p->pid = 0;
		snprintf(what, sizeof(what),
			 "sipedge did not exit within %d ms of signal %d",
			 timeout_ms, sig);
		return set_why(p, err, what);
	}
	p->pid = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(what, sizeof(what), "sipedge ended with %s",
			 proc_status_str(status, st, sizeof(st)));
		return set_why(p, -ECHILD, what);
	}
	return proc_sipedge_check_log(p);
}

int proc_sipedge_stop(struct proc_sipedge *p)
{
	return proc_sipedge_signal_stop(p, SIGTERM, 20000);
}

void proc_sipedge_cleanup(struct proc_sipedge *p)
{
	if (p->pid > 0)
		proc_kill(p->pid);
	p->pid = 0;
	if (p->dir[0] && !getenv("SIPEDGE_KEEP_TMP"))
		proc_rmtree(p->dir);
	p->dir[0] = '\0';
}
