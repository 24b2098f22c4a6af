/* proxy/mgmt/mgmt.h - what management methods reach: config, shards, mailbox
 */
#pragma once

#include <stdint.h>

struct conf;
struct http;
struct pool;
struct post;
struct shards;

/**
 * The running process as the methods see it. proxy/main.c owns it and
 * sets it; methods read it on the control thread (where they run), so
 * no lock: the control thread is also the one that changes it.
 */
struct mgmt_env {
	const struct conf *conf; /**< the config in force (reload swaps it) */
	struct shards *shards;	 /**< NULL before start and after stop */
	struct pool *pool;	 /**< the B2B pool; NULL when off or stopped */
	struct post *control;	 /**< the control thread's mailbox */
	struct http *http;  /**< the HTTP server (NULL before it is made) */
	int64_t started_s;  /**< CLOCK_REALTIME seconds at start */
	int64_t started_ms; /**< CLOCK_MONOTONIC ms at start */
};
