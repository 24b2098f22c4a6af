/* tests/unit/poolfix.h - what the suites that drive a B2B pool worker
 * over its socket share: the test's UDP socket plays the proxy */
#pragma once

#include <stddef.h>

struct pool;

/**
 * The next datagram on @p fd, NUL-terminated, in a static buffer (valid
 * until the next call), or "" when none comes within @p ms.
 * Thread: the test's.
 */
const char *poolfix_recv(int fd, int ms);

/**
 * Header line @p name ("Via:") of @p msg, without its CRLF, into
 * @p out (@p size bytes). Returns @p out. Errors: no such line, or one
 * too long, fails the test.
 */
const char *poolfix_line(const char *msg, const char *name, char *out,
			 size_t size);

/** Send @p buf (@p len bytes) from @p fd to @p pool's socket; a short
 * send fails the test. */
void poolfix_send(struct pool *pool, int fd, const char *buf, size_t len);
