/* proxy/base/logsys.c - syslog(3) for proxy/base/log */
#include "proxy/base/logsys.h"

#include <syslog.h>

void logsys_open(void)
{
	openlog("sipedge", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void logsys_write(int prio, const char *msg, size_t len)
{
	syslog(LOG_DAEMON | (prio & 7), "%.*s", (int)len, msg);
}
