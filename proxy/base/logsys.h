/* proxy/base/logsys.h - syslog(3) for proxy/base/log (kept apart: <syslog.h>
 * names LOG_DEBUG ... as macros, log.h as enum constants) */
#pragma once

#include <stddef.h>

/**
 * Open the connection to the system logger (openlog(3): ident "sipedge",
 * LOG_PID, LOG_NDELAY, facility LOG_DAEMON). Thread: control, once.
 */
void logsys_open(void);

/**
 * Send the @p len bytes at @p msg (no newline) at syslog priority
 * @p prio (0 emerg .. 7 debug), as one syslog(3) call. Thread: any.
 */
void logsys_write(int prio, const char *msg, size_t len);
