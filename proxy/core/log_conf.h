/* proxy/core/log_conf.h - the log: section of the configuration */
#pragma once

#include <stdbool.h>

#include "proxy/base/log.h"
#include "proxy/core/conf.h"

/** log: where lines go and whether access lines are written. */
struct log_conf {
	bool requests;		/**< one info line per finished transaction */
	enum log_target target; /**< stderr (default), syslog, journal */
};

/** The section, for conf_section_add() (proxy/main.c). */
extern const struct conf_section log_conf_section;

/**
 * The log settings of @p c; without the section in the file (or when it
 * was not registered): requests false, target stderr. Thread: any.
 */
const struct log_conf *log_conf(const struct conf *c);

/**
 * Put @p c's settings in force: log_set_target(), log_set_requests().
 * Returns 0, or the error of log_set_target(). Thread: control, before
 * the shards start.
 */
int log_conf_apply(const struct conf *c);
