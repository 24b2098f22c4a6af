/* proxy/base/log.c - levelled logging to stderr */
#include "proxy/base/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Atomic int min_level = LOG_INFO;

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

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n, m;

	if (!log_enabled(lvl))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(
	    line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, ts.tv_nsec / 1000000, log_level_name(lvl));
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
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
