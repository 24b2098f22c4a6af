/* proxy/base/log.c - levelled logging to stderr, syslog or the journal */
#include "proxy/base/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "proxy/base/logsys.h"

/* The journal's native protocol socket (systemd.journal-fields(7)). */
#define JOURNAL_SOCKET "/run/systemd/journal/socket"

static _Atomic int min_level = LOG_INFO;
static _Atomic int target = LOG_TARGET_STDERR;
static _Atomic bool requests;
/* Opened by the first switch to the journal, then kept until exit: a
 * thread that read the target a moment before a switch away may still
 * send on it. */
static _Atomic int journal_fd = -1;

/* syslog(3) priorities: debug 7, info 6, notice 5, warning 4, err 3. */
static const int prio[LOG__COUNT] = {
	[LOG_DEBUG] = 7, [LOG_INFO] = 6, [LOG_NOTICE] = 5,
	[LOG_WARN] = 4,	 [LOG_ERR] = 3,
};

static const char *const target_names[LOG_TARGET__COUNT] = {
	[LOG_TARGET_STDERR] = "stderr",
	[LOG_TARGET_SYSLOG] = "syslog",
	[LOG_TARGET_JOURNAL] = "journal",
};

static const char *const names[LOG__COUNT] = {
	[LOG_DEBUG] = "debug", [LOG_INFO] = "info", [LOG_NOTICE] = "notice",
	[LOG_WARN] = "warn",   [LOG_ERR] = "error",
};

void log_set_level(enum log_level lvl)
{
	atomic_store_explicit(&min_level, (int)lvl, memory_order_relaxed);
}

bool log_enabled(enum log_level lvl)
{
	return (int)lvl >=
	       atomic_load_explicit(&min_level, memory_order_relaxed);
}

int log_level_parse(const char *name, enum log_level *lvlp)
{
	for (int i = 0; i < LOG__COUNT; i++) {
		if (strcmp(name, names[i]) == 0) {
			*lvlp = (enum log_level)i;
			return 0;
		}
	}
	if (strcmp(name, "warning") == 0) {
		*lvlp = LOG_WARN;
		return 0;
	}
	return -EINVAL;
}

const char *log_level_name(enum log_level lvl)
{
	return (unsigned)lvl < LOG__COUNT ? names[lvl] : "?";
}

int log_target_parse(const char *name, enum log_target *tp)
{
	for (int i = 0; i < LOG_TARGET__COUNT; i++) {
		if (strcmp(name, target_names[i]) == 0) {
			*tp = (enum log_target)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *log_target_name(enum log_target t)
{
	return (unsigned)t < LOG_TARGET__COUNT ? target_names[t] : "?";
}

int log_set_target(enum log_target t)
{
	int fd, none = -1;

	if (t == LOG_TARGET_JOURNAL &&
	    atomic_load_explicit(&journal_fd, memory_order_acquire) < 0) {
		fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
			    0);
		if (fd < 0)
			return -errno;
		/* Two callers at once: the first socket stays. */
		if (!atomic_compare_exchange_strong_explicit(
			&journal_fd, &none, fd, memory_order_acq_rel,
			memory_order_acquire))
			close(fd);
	}
	/* openlog(3) is MT-Safe (glibc locks syslog's state): callers of
	 * syslog(3) meanwhile are not disturbed. Switching away never
	 * closes it, for the same reason as the journal's socket. */
	if (t == LOG_TARGET_SYSLOG)
		logsys_open();
	/* Release: a thread that reads the new target sees the socket. */
	atomic_store_explicit(&target, (int)t, memory_order_release);
	return 0;
}

enum log_target log_get_target(void)
{
	return (enum log_target)atomic_load_explicit(&target,
						     memory_order_acquire);
}

void log_set_requests(bool on)
{
	atomic_store_explicit(&requests, on, memory_order_relaxed);
}

bool log_requests(void)
{
	return atomic_load_explicit(&requests, memory_order_relaxed) &&
	       log_enabled(LOG_INFO);
}

/* The escape of @p ch into @p e (4 bytes); returns its length. */
static size_t escape_one(unsigned char ch, char *e)
{
	static const char hex[] = "0123456789abcdef";

	if (ch == '\\' || ch == '\r' || ch == '\n' || ch == '\t') {
		e[0] = '\\';
		e[1] = ch == '\r'   ? 'r'
		       : ch == '\n' ? 'n'
		       : ch == '\t' ? 't'
				    : '\\';
		return 2;
	}
	if (ch < 0x20 || ch >= 0x7f) {
		e[0] = '\\';
		e[1] = 'x';
		e[2] = hex[ch >> 4];
		e[3] = hex[ch & 15];
		return 4;
	}
	e[0] = (char)ch;
	return 1;
}

char *log_escape(const char *p, size_t len, char *buf, size_t size)
{
	size_t o = 0, total = 0, room, i, n;
	char e[4];

	if (size < 4) {
		if (size)
			buf[0] = '\0';
		return buf;
	}
	for (i = 0; i < len && total < size; i++)
		total += escape_one((unsigned char)p[i], e);
	/* All of it, or as much as leaves room for "..." and the NUL. */
	room = total < size ? size - 1 : size - 4;
	for (i = 0; i < len; i++) {
		n = escape_one((unsigned char)p[i], e);
		if (o + n > room)
			break;
		memcpy(buf + o, e, n);
		o += n;
	}
	if (i < len) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

/* One datagram: PRIORITY=, SYSLOG_IDENTIFIER=, MESSAGE= (no newline in
 * it: the message is one line). */
static void journal_write(int fd, enum log_level lvl, const char *msg,
			  size_t len)
{
	static const struct sockaddr_un sa = { .sun_family = AF_UNIX,
					       .sun_path = JOURNAL_SOCKET };
	char head[64];
	struct iovec iov[3];
	struct msghdr mh;
	int n;

	n = snprintf(
	    head, sizeof(head),
	    "PRIORITY=%d\nSYSLOG_IDENTIFIER=sipedge\nMESSAGE=", prio[lvl]);
	iov[0].iov_base = head;
	iov[0].iov_len = (size_t)n;
	iov[1].iov_base = (void *)msg;
	iov[1].iov_len = len;
	iov[2].iov_base = (void *)"\n";
	iov[2].iov_len = 1;
	memset(&mh, 0, sizeof(mh));
	mh.msg_name = (void *)&sa;
	mh.msg_namelen = sizeof(sa);
	mh.msg_iov = iov;
	mh.msg_iovlen = 3;
	/* Non-blocking: a journal that does not keep up loses lines. */
	if (sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		return;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	enum log_target t;
	va_list ap;
	int n, m, head, jfd;

	if (!log_enabled(lvl))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(
	    line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, ts.tv_nsec / 1000000, log_level_name(lvl));
	head = n;
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	/* Whatever a caller let through, the line stays one line. */
	for (int i = head; i < n; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	/* Read once: the whole line goes to one target, even when a
	 * reload switches it meanwhile. */
	t = log_get_target();
	/* syslog and the journal stamp the time and level themselves. */
	if (t == LOG_TARGET_SYSLOG) {
		logsys_write(prio[lvl], line + head, (size_t)(n - head));
		return;
	}
	jfd = t == LOG_TARGET_JOURNAL
		  ? atomic_load_explicit(&journal_fd, memory_order_acquire)
		  : -1;
	if (jfd >= 0) {
		journal_write(jfd, lvl, line + head, (size_t)(n - head));
		return;
	}
	line[n++] = '\n';
	/* One write(2) per line: lines from different threads stay whole. */
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}

bool log_ratelimit_ok(struct log_ratelimit *rl)
{
	struct timespec ts;
	unsigned suppressed;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	if ((uint64_t)ts.tv_sec != rl->window_s) {
		suppressed = rl->suppressed;
		rl->window_s = (uint64_t)ts.tv_sec;
		rl->count = 0;
		rl->suppressed = 0;
		if (suppressed)
			log_msg(LOG_NOTICE, "%u similar log lines suppressed",
				suppressed);
	}
	if (rl->count < (rl->burst ? rl->burst : 10)) {
		rl->count++;
		return true;
	}
	rl->suppressed++;
	return false;
}
