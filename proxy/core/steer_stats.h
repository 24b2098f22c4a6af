/* proxy/core/steer_stats.h - what the steering program counts, shared by
 * steer.bpf.c and steer.c */
#pragma once

/** Shards one steering program can address (a sockarray's size). */
#define STEER_MAX_SHARDS 256u

/**
 * The program's per-CPU counters, by index: these, then at
 * STEER_STAT__COUNT + i the datagrams it gave to shard i.
 */
enum steer_stat {
	STEER_STAT_BRANCH,  /**< a response steered by our Via branch */
	STEER_STAT_CALL_ID, /**< steered by the Call-ID hash */
	STEER_STAT_PASS,    /**< no opinion: the kernel's choice */
	STEER_STAT_FAILED,  /**< the owner's socket could not be selected */
	STEER_STAT__COUNT,
};
