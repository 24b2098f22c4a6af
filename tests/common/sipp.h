/* tests/common/sipp.h - SIPp as a peer in integration tests: start it,
 * wait for it, show its screen when it fails */
#pragma once

#include <sys/types.h>

/**
 * Start SIPp (@p argv, argv[0] "sipp") in the background in @p dir, its
 * output in @p dir/@p name.out. Fails the test when SIPp is not installed
 * or does not start. Returns its pid.
 * Thread: the test's.
 */
pid_t sipp_spawn(char *const argv[], const char *dir, const char *name);

/**
 * Wait up to @p timeout_ms for SIPp @p pid (killing it when it does not
 * end), read its screen (@p dir/@p name.out) into *@p screenp (freeing
 * what was there; the caller frees it), and fail the test unless it ended
 * with 0.
 * Thread: the test's.
 */
void sipp_done(pid_t pid, int timeout_ms, const char *dir, const char *name,
	       char **screenp);
