/* tests/common/resp.h - a tiny blocking RESP client, for a test's own
 * look at a redis-server, Sentinel or Cluster node on loopback */
#pragma once

#include <stddef.h>
#include <stdint.h>

/**
 * Run one command (@p argv, NULL-ended) on 127.0.0.1:@p port; its
 * reply as text in @p out (@p cap bytes; arrays: elements joined by
 * ' ', nested at most 4 deep; a nil bulk string: empty). Returns 0, or
 * -errno: nobody listening, -EIO (short write), -ETIMEDOUT (no whole
 * reply within 2 s). Blocking.
 */
int resp_cmd(uint16_t port, char *out, size_t cap, const char *const *argv);

/** resp_cmd() with up to three words: @p b and @p c may be NULL (the
 * command ends at the first NULL). */
int resp_cmd3(uint16_t port, char *out, size_t cap, const char *a,
	      const char *b, const char *c);
