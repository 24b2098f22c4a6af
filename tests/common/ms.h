/* tests/common/ms.h - milliseconds: the monotonic clock and sleeping */
#pragma once

/** CLOCK_MONOTONIC in milliseconds. Thread: any. */
long long ms_now(void);

/** Sleep for @p ms milliseconds (nanosleep(), not resumed on a signal). */
void ms_sleep(long ms);
