/* tests/unit/proxy/base/test_log.c - log lines: escaping network values,
 * one line per message, targets by name */
#include <errno.h>
#include <fcntl.h>
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
