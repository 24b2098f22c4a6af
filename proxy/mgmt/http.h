/* proxy/mgmt/http.h - the management HTTP server: POST /rpc and GET pages */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct mgmt_conf;
struct rpc;

/**
 * libmicrohttpd on its own thread, one daemon per management.listen
 * address. POST /rpc goes to the JSON-RPC engine (the connection waits,
 * suspended, for the answer; the server thread never does); GET on a
 * page path (/metrics) calls the page's function on the server thread.
 * With management.token set, every request needs
 * "Authorization: Bearer TOKEN" (401 otherwise).
 */
struct http;

/**
 * Print a page into *@p bodyp (malloc'd, the server frees it) of
 * *@p lenp bytes. Returns 0 (200), an HTTP status 200..599 to answer
 * with that body (503 from /health), or a negative error (500).
 * Thread: the server's; must not block on a shard.
 */
typedef int http_page_fn(void *arg, char **bodyp, size_t *lenp);

/**
 * A server answering with @p r, not listening yet.
 * Errors: -ENOMEM. Thread: control. Ownership: http_free().
 */
int http_new(struct rpc *r, struct http **hp);

/**
 * Serve GET @p path ("/metrics") with @p fn, as @p content_type; with
 * @p open, without the token (/health: a balancer's checker has none).
 * Errors: -ENOSPC (8 pages), -EINVAL. Thread: control, before
 * http_listen().
 */
int http_page_add(struct http *h, const char *path, const char *content_type,
		  http_page_fn *fn, void *arg, bool open);

/**
 * Bind every address of @p mc and start serving. Returns 0, or a
 * negative error (-EADDRINUSE, -EACCES, ...) after logging which
 * address failed; nothing is left listening on error.
 * Thread: control.
 */
int http_listen(struct http *h, const struct mgmt_conf *mc);

/**
 * Use @p token (NULL: none) from the next request on (config reload).
 * Errors: -ENOMEM (the old token stays). Thread: any.
 */
int http_set_token(struct http *h, const char *token);

/**
 * Stop listening and free. Every RPC request must have been answered
 * (rpc_quiesce(), then stop the threads that answer). NULL is allowed.
 * Thread: control.
 */
void http_free(struct http *h);
