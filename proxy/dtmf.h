/* proxy/dtmf.h - RFC 4733 key presses rtpengine reports (its
 * --dtmf-log-dest JSON datagrams): a listener on shard 0's loop that
 * checks the sender, parses and hands each key press to one handler */
#pragma once

#include <stddef.h>

#include "proxy/base/slice.h"

struct conf;

/** Longest Call-ID and tag a report may carry (longer: refused). */
#define DTMF_CALL_ID_MAX 255
#define DTMF_TAG_MAX	 127

/**
 * One key press of a call anchored in rtpengine, copied out of the
 * report (NUL-terminated, printable ASCII only).
 */
struct dtmf_event {
	char call_id[DTMF_CALL_ID_MAX + 1];
	/** The tag of the party that pressed (rtpengine's "source_tag":
	 * the From tag of the INVITE or the To tag of its answer). */
	char tag[DTMF_TAG_MAX + 1];
	/** The other party's tag (the first of "tags" that is not
	 * @p tag), or "" when the report names none. */
	char peer_tag[DTMF_TAG_MAX + 1];
	char key; /**< '0'-'9', '*', '#', 'A'-'D' (events 0-15) */
};

/**
 * Parse one report @p buf (@p len bytes), a JSON object as rtpengine
 * 10.5 sends it: {"callid": "...", "source_tag": "...", "tags": [...],
 * "type": "DTMF", "event": 10, ...}; other members are ignored.
 * Returns 0 with *@p ev filled, or -EBADMSG (not a JSON object, a
 * member missing or of the wrong type, an empty or too long Call-ID or
 * source tag, a byte that is not printable ASCII), -ENOTSUP (a valid
 * report of no key: another "type", event 16 (flash) or above).
 * *@p ev is written only on success. Thread: any.
 */
int dtmf_parse(const char *buf, size_t len, struct dtmf_event *ev);

/**
 * What gets each key press: @p shard is the id of the shard whose
 * thread runs it (always 0, the listener's). Must not block.
 */
typedef void dtmf_event_fn(unsigned shard, const struct dtmf_event *ev);

/**
 * When media.dtmf_events of @p c is set: bind a UDP socket to it (so a
 * bad address stops start-up), register the counters (module "dtmf":
 * events, bad, ignored, strangers) and add the shard hooks that read
 * the socket on shard 0's loop; each datagram from an IP address of
 * media.rtpengine that parses is given to @p fn, the others are
 * counted and dropped. Nothing when the key is not set.
 * Errors: -EINVAL (@p fn NULL with the key set), -ENOMEM, -errno of
 * socket() and bind() (logged with the address), shards_add_hook()'s.
 * Thread: control, before shards_start().
 */
int dtmf_init(const struct conf *c, dtmf_event_fn *fn);

/**
 * Close the socket (if the shards never ran it) and remove the
 * counters. Thread: control, after shards_stop().
 */
void dtmf_fini(void);
