/* tests/common/mgmtcli.h - integration harness: a small HTTP client for the
 * management API (POST /rpc, GET /metrics) */
#pragma once

#include <stdint.h>

#include <jansson.h>

/**
 * One HTTP/1.1 request to 127.0.0.1:@p port ("Connection: close"):
 * @p method ("GET", "POST"), @p path, @p token (NULL: no Authorization
 * header), @p body (NULL: none). Bounded by about 10 s.
 * Returns 0 with *@p status (the HTTP status) and *@p resp (the body,
 * malloc'd, NUL-terminated; free() it), or -errno (-ETIMEDOUT,
 * -ECONNREFUSED, -EPROTO for a reply that is not HTTP).
 */
int mgmtcli_http(uint16_t port, const char *method, const char *path,
		 const char *token, const char *body, unsigned *status,
		 char **resp);

/**
 * Call JSON-RPC @p method with @p params (JSON text; NULL: none) and
 * take the answer apart. Returns 0 with *@p result (the "result", a new
 * reference: json_decref() it); a JSON-RPC error code (< 0, e.g.
 * -32601) with its message in @p why; or -errno (transport, HTTP status
 * other than 200, or a body that is not a JSON-RPC response), with
 * @p why set.
 */
int mgmtcli_rpc(uint16_t port, const char *token, const char *method,
		const char *params, json_t **result, char *why, size_t whylen);

/**
 * One counter of stats.get ("shard.handoff_out", "registrar.ok") from
 * 127.0.0.1:@p port, no token; the test fails when the call fails or
 * the key is not an integer.
 */
long long mgmtcli_stat(uint16_t port, const char *name);
