/* proxy/base/log.h - levelled logging to stderr, syslog or the journal, one
 * line per event */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level {
	LOG_DEBUG,
	LOG_INFO,
	LOG_NOTICE,
	LOG_WARN,
	LOG_ERR,
	LOG__COUNT,
};

/** Where lines go (`log.target`). */
enum log_target {
	LOG_TARGET_STDERR,  /**< "<time> <level> <message>", one write(2) */
	LOG_TARGET_SYSLOG,  /**< syslog(3), facility daemon, ident sipedge */
	LOG_TARGET_JOURNAL, /**< the journal's native protocol, datagrams */
	LOG_TARGET__COUNT,
};

/** Set the lowest level written. Thread: any (relaxed atomic). */
void log_set_level(enum log_level lvl);

/** True when messages at @p lvl are written. Thread: any. */
bool log_enabled(enum log_level lvl);

/**
 * Parse a level name ("debug", "info", "notice", "warn", "error").
 * Errors: -EINVAL for any other name. *lvlp written only on success.
 */
int log_level_parse(const char *name, enum log_level *lvlp);

/** The name of @p lvl, as log_level_parse() reads it. */
const char *log_level_name(enum log_level lvl);

/**
 * Parse a target name ("stderr", "syslog", "journal").
 * Errors: -EINVAL for any other name. *tp written only on success.
 */
int log_target_parse(const char *name, enum log_target *tp);

/** The name of @p t, as log_target_parse() reads it. */
const char *log_target_name(enum log_target t);

/**
 * Send the lines from now on to @p t: syslog opens its connection
 * (openlog(3), LOG_NDELAY), journal its datagram socket to
 * /run/systemd/journal/socket (non-blocking: a full journal drops lines
 * rather than stall a shard). Switching is atomic between two lines:
 * each log_msg() reads the target once, so a line goes whole to the old
 * target or to the new one. Neither connection is closed when switching
 * away (a line under way may still use it). Errors: -errno from
 * socket(2) (the target stays as it was).
 * Thread: any (start-up, and config.reload on the control thread), while
 * other threads call log_msg().
 */
int log_set_target(enum log_target t);

/** The target lines go to. Thread: any. */
enum log_target log_get_target(void);

/**
 * Turn the access lines (`log.requests`: one info line per finished
 * server transaction) on or off. Thread: any (relaxed atomic).
 */
void log_set_requests(bool on);

/** True when access lines are written (and info is enabled). Thread: any. */
bool log_requests(void);

/**
 * Copy the @p len bytes at @p p (network input: any bytes) into @p buf
 * (@p size bytes, at least 4) so that they cannot break or forge a log
 * line: printable ASCII is kept, backslash becomes "\\", CR, LF and
 * TAB become "\r", "\n", "\t", every other byte "\xHH". When it does
 * not fit, the copy ends with "...". Always NUL-terminated.
 * Returns @p buf. Thread: any.
 */
char *log_escape(const char *p, size_t len, char *buf, size_t size);

/**
 * Write one line "<time> <level> <message>" if @p lvl is enabled, to the
 * target (log_set_target(); stderr by default). The line is written with
 * a single write(2) (syslog(3) and journal: one datagram), so lines from
 * different threads never interleave. A line longer than about 1 KiB is
 * cut. Thread: any.
 */
void log_msg(enum log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/**
 * A rate limit for messages the network can trigger: at most @p burst
 * lines per second. Embedded by its single owner (usually a shard).
 */
struct log_ratelimit {
	/* public */
	unsigned burst;
	/* private */
	uint64_t window_s;
	unsigned count;
	unsigned suppressed;
};

/**
 * True when one more line may be written now. When a new one-second
 * window opens after lines were suppressed, logs how many were.
 * Thread: the owner of @p rl.
 */
bool log_ratelimit_ok(struct log_ratelimit *rl);
