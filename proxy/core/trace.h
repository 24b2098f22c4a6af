/* proxy/core/trace.h - SIP message trace: whole messages in and out, by
 * Call-ID or AOR, to a file or to HEP v3 over UDP */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "proxy/sip/peer.h"

/** The longest Call-ID or AOR a trace filters on. */
#define TRACE_FILTER_MAX 256

/** What a trace keeps. */
enum trace_filter {
	TRACE_CALL_ID, /**< messages with this Call-ID (exact) */
	TRACE_AOR,     /**< messages whose From or To AOR is this
			    ("user@host", as sipmsg_aor_print() writes it,
			    the host compared without case) */
};

/** A trace to start: value type, copied by trace_start(). */
struct trace_spec {
	enum trace_filter filter;
	char value[TRACE_FILTER_MAX]; /**< the Call-ID or AOR */
	/** The file to append to ("" for none): one block per message, a
	 * header line then the message bytes as they were. */
	char file[512];
	/** HEP v3 collector (ss_family 0 for none): one UDP packet per
	 * message. */
	struct sockaddr_storage hep;
	socklen_t hep_len;
	uint32_t capture_id; /**< HEP capture agent id */
};

/**
 * Fill @p s from text: one of @p call_id and @p aor (NULL: not given;
 * 1 to TRACE_FILTER_MAX - 1 printable characters, no spaces), @p file
 * (an absolute path) or @p hep ("HOST:PORT", IP literals) or both, and
 * @p capture_id. The checks of trace.start and of the trace: section.
 * Returns 0, or -EINVAL with the reason in @p why ("give one of call_id
 * and aor"). Thread: any.
 */
int trace_spec_make(struct trace_spec *s, const char *call_id, const char *aor,
		    const char *file, const char *hep, uint32_t capture_id,
		    char *why, size_t whylen);

/**
 * True when @p a and @p b trace the same messages to the same sinks.
 * Thread: any.
 */
bool trace_spec_eq(const struct trace_spec *a, const struct trace_spec *b);

/** What a trace did. */
struct trace_stats {
	uint64_t messages; /**< that matched the filter */
	uint64_t dropped;  /**< matched but lost: the file writer was behind
				(TRACE_QUEUE_MAX) or the HEP send failed */
};

/** The most bytes queued for the file writer; past it, drop. */
#define TRACE_QUEUE_MAX (16u << 20)

/**
 * Start a trace as @p s says (at least one of file and hep). One trace
 * at a time. The file is opened for appending (created 0640); its writer
 * is a thread of its own, so that shards never wait on the disk; HEP
 * packets go from the shard that sees the message, non-blocking.
 * Returns 0, -EBUSY (a trace runs), -EINVAL (no sink, empty value),
 * -ENOMEM, or -errno from open(2), socket(2), pthread_create().
 * Thread: control.
 */
int trace_start(const struct trace_spec *s);

/**
 * Stop the trace: no shard sees it after this returns (synchronize_rcu),
 * the file holds every message queued, and the sockets are closed.
 * Returns 0 with *@p stp (may be NULL) set, or -ENOENT (none runs).
 * Thread: control (it waits for the shards' read sections and the writer).
 */
int trace_stop(struct trace_stats *stp);

/**
 * True when a trace runs and @p out is written: the spec of the trace
 * and its counters so far. Thread: control.
 */
bool trace_status(struct trace_spec *out, struct trace_stats *stp);

/**
 * True while a trace runs: one relaxed load, for the message path to
 * skip the work of finding a message's local address. Thread: any.
 */
bool trace_is_on(void);

/**
 * Give one message received (@p out false, from @p peer) or sent
 * (@p out true, to @p peer) on the socket whose own address is @p local
 * (NULL: unknown, shown as the zero address) to the trace, if one runs
 * and the message matches. Costs one relaxed load when no trace runs.
 * Never blocks. Thread: a shard (an RCU reader).
 * Ownership: @p buf and @p local are copied or sent before the call
 * returns.
 */
void trace_msg(bool out, const struct peer *peer, const struct sockaddr *local,
	       const void *buf, size_t len);
