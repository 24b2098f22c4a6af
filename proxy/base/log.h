/* proxy/base/log.h - levelled logging to stderr, one line per event */
#pragma once

#include <stdbool.h>
#include <stdint.h>

enum log_level {
	LOG_DEBUG,
	LOG_INFO,
	LOG_NOTICE,
	LOG_WARN,
	LOG_ERR,
	LOG__COUNT,
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
 * Write one line "<time> <level> <message>" to stderr if @p lvl is
 * enabled. The line is written with a single write(2), so lines from
 * different threads never interleave. Thread: any.
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
