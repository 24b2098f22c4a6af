/* tests/unit/proxy/base/test_log.c - log lines: escaping network values,
 * one line per message, targets by name */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "proxy/base/log.h"
#include "tests/common/teardown.h"

static void setup(void)
{
	log_set_level(LOG_INFO);
}

static void teardown(void)
{
	log_set_level(LOG_INFO);
	teardown_check_objs(0);
}

TestSuite(log, .init = setup, .fini = teardown, .timeout = 10);

Test(log, escape_keeps_printable_and_escapes_the_rest)
{
	static const char in[] = "a b\r\nc\td\\e\x01\x7f\xff~";
	char out[64];

	log_escape(in, sizeof(in) - 1, out, sizeof(out));
	cr_assert_str_eq(out, "a b\\r\\nc\\td\\\\e\\x01\\x7f\\xff~");
	log_escape("", 0, out, sizeof(out));
	cr_assert_str_eq(out, "");
}

Test(log, escape_cuts_with_dots_and_stays_in_the_buffer)
{
	char out[8];

	memset(out, 'Z', sizeof(out));
	log_escape("0123456789", 10, out, sizeof(out));
	cr_assert_str_eq(out, "0123...");
	/* Exactly fits: no dots. */
	log_escape("0123456", 7, out, sizeof(out));
	cr_assert_str_eq(out, "0123456");
	/* An escape is never cut in half. */
	log_escape("01\n\n\n\n", 6, out, sizeof(out));
	cr_assert_str_eq(out, "01\\n...");
	log_escape("x", 1, out, 2);
	cr_assert_str_eq(out, "");
}

/* log_msg() into a temporary file standing in for stderr. */
static char *capture(enum log_level lvl, const char *text)
{
	char path[] = "/tmp/test-log-XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	char *buf = calloc(1, 4096);
	ssize_t n;

	cr_assert(fd >= 0 && saved >= 0 && buf);
	unlink(path);
	cr_assert(dup2(fd, STDERR_FILENO) >= 0);
	log_msg(lvl, "value=%s end", text);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, buf, 4095, 0);
	close(fd);
	cr_assert(n >= 0);
	return buf;
}

Test(log, a_message_is_one_line_whatever_it_holds)
{
	char *line = capture(LOG_INFO, "evil\r\n2026-01-01T00:00:00Z error x");

	cr_assert_not_null(strstr(line, " info value=evil??2026"), "%s", line);
	cr_assert_eq(strchr(line, '\n'), line + strlen(line) - 1, "%s", line);
	free(line);
}

Test(log, lines_below_the_level_are_not_written)
{
	char *line = capture(LOG_DEBUG, "x");

	cr_assert_str_eq(line, "");
	free(line);
	log_set_level(LOG_DEBUG);
	line = capture(LOG_DEBUG, "x");
	cr_assert_not_null(strstr(line, " debug value=x end\n"), "%s", line);
	free(line);
}

Test(log, targets_by_name)
{
	enum log_target t = LOG_TARGET__COUNT;

	cr_assert_eq(log_target_parse("syslog", &t), 0);
	cr_assert_eq(t, LOG_TARGET_SYSLOG);
	cr_assert_eq(log_target_parse("journal", &t), 0);
	cr_assert_eq(t, LOG_TARGET_JOURNAL);
	cr_assert_eq(log_target_parse("stderr", &t), 0);
	cr_assert_eq(t, LOG_TARGET_STDERR);
	cr_assert_eq(log_target_parse("file", &t), -EINVAL);
	cr_assert_eq(t, LOG_TARGET_STDERR);
	cr_assert_str_eq(log_target_name(LOG_TARGET_JOURNAL), "journal");
}

Test(log, requests_need_info)
{
	log_set_requests(true);
	cr_assert(log_requests());
	log_set_level(LOG_NOTICE);
	cr_assert_not(log_requests());
	log_set_requests(false);
	log_set_level(LOG_INFO);
	cr_assert_not(log_requests());
}

/* Threads that log while the target switches (a reload). */
#define SWITCH_THREADS 4
#define SWITCH_LINES   2000

static pthread_barrier_t started;

static void *switch_logger(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;

	log_msg(LOG_INFO, "t%u n0 end", id);
	pthread_barrier_wait(&started);
	for (unsigned n = 1; n < SWITCH_LINES; n++)
		log_msg(LOG_INFO, "t%u n%u end", id, n);
	return NULL;
}

Test(log, target_switches_between_two_lines_while_threads_log)
{
	char path[] = "/tmp/test-log-XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	pthread_t th[SWITCH_THREADS];
	size_t size = (size_t)SWITCH_THREADS * SWITCH_LINES * 64 + 4096;
	char *buf = calloc(1, size), *line, *nl, want[32];
	unsigned lines = 0;
	ssize_t n;

	cr_assert(fd >= 0 && saved >= 0 && buf);
	unlink(path);
	cr_assert(dup2(fd, STDERR_FILENO) >= 0);
	cr_assert_eq(log_set_target(LOG_TARGET_STDERR), 0);
	cr_assert_eq(pthread_barrier_init(&started, NULL, SWITCH_THREADS + 1),
		     0);
	for (unsigned i = 0; i < SWITCH_THREADS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, switch_logger,
					    (void *)(uintptr_t)i),
			     0);
	/* Every thread's first line went to stderr before any switch. */
	pthread_barrier_wait(&started);
	/* The journal (its socket need not exist: those lines are lost)
	 * and back, many times, while the threads write. */
	for (unsigned k = 0; k < 400; k++) {
		cr_assert_eq(log_set_target(k % 2 ? LOG_TARGET_STDERR
						  : LOG_TARGET_JOURNAL),
			     0);
		sched_yield();
	}
	for (unsigned i = 0; i < SWITCH_THREADS; i++)
		pthread_join(th[i], NULL);
	cr_assert_eq(log_get_target(), LOG_TARGET_STDERR);
	log_msg(LOG_INFO, "final end");
	dup2(saved, STDERR_FILENO);
	close(saved);
	pthread_barrier_destroy(&started);
	n = pread(fd, buf, size - 1, 0);
	close(fd);
	cr_assert_gt(n, 0);
	/* Whole lines only: "<time> info tI nN end", never two in one. */
	for (line = buf; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		cr_assert_not_null(nl, "line not ended: %.80s", line);
		*nl = '\0';
		cr_assert_eq(strncmp(line, "20", 2), 0, "%s", line);
		cr_assert_not_null(strstr(line, " info "), "%s", line);
		cr_assert_eq(strcmp(nl - 4, " end"), 0, "%s", line);
		cr_assert_eq(strstr(line, " end"), nl - 4, "two in one: %s",
			     line);
		lines++;
	}
	cr_assert_leq(lines, SWITCH_THREADS * SWITCH_LINES + 1);
	for (unsigned i = 0; i < SWITCH_THREADS; i++) {
		snprintf(want, sizeof(want), " info t%u n0 end", i);
		cr_assert(memmem(buf, (size_t)n, want, strlen(want)), "%s",
			  want);
	}
	cr_assert(memmem(buf, (size_t)n, " info final end", 15));
	free(buf);
}
