/* tests/common/rtpe.h - a real rtpengine (userspace forwarding only) on
 * loopback for a test, and a blocking ng request for checks */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/** One rtpengine the test started. */
struct rtpe_proc {
	pid_t pid;
	uint16_t ng_port;	     /**< its ng control port (UDP) */
	uint16_t port_min, port_max; /**< its media ports */
	char dir[256];		     /**< its own temporary directory */
	char log[300];		     /**< its stderr */
};

/**
 * Start `rtpengine` on 127.0.0.1: no config file, no kernel table, a free
 * ng port, media ports from a range picked for this process, sessions
 * deleted at once (--delete-delay=0), and wait until the ng port is
 * bound. Returns 0, or -errno (-ENOENT: not installed; -ETIMEDOUT: it
 * did not bind within 5 s).
 */
int rtpe_start(struct rtpe_proc *r);

/**
 * rtpe_start() with --dtmf-log-dest=@p dest ("IP:PORT"): rtpengine
 * sends one JSON datagram per RFC 4733 event it sees there. Same
 * returns.
 */
int rtpe_start_dtmf(struct rtpe_proc *r, const char *dest);

/** Stop it (SIGTERM, then SIGKILL after 3 s), remove its directory. */
void rtpe_stop(struct rtpe_proc *r);

/**
 * Send the bencoded dictionary @p dict to 127.0.0.1:@p port with a cookie
 * and wait at most @p timeout_ms for the answer; the answer's dictionary
 * (after the cookie) goes to @p out (@p size bytes, NUL-terminated).
 * Returns its length, or -errno (-ETIMEDOUT).
 */
int rtpe_ng(uint16_t port, const char *dict, size_t len, char *out, size_t size,
	    int timeout_ms);
