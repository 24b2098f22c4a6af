/* store/nonce.h - nonce-count replay table shared by all workers (RCU hash
 * table) */
#pragma once

#include <stddef.h>
#include <stdint.h>

/**
 * Set up the table for at most @p max_entries nonces in use at once.
 * Errors: -EALREADY (set up already), -EINVAL (@p max_entries 0),
 * -ENOMEM. Thread: control, before any nonce_use(); RCU-registered.
 */
int nonce_init(size_t max_entries);

/**
 * Free the table and every entry (waits for an RCU grace period).
 * Thread: control, after the users of the table stopped.
 */
void nonce_fini(void);

/**
 * Record nonce count @p nc of the nonce whose unique salt is @p salt and
 * whose time stamp is @p ts (RFC 7616 §3.4: each count of a nonce is
 * accepted once). Whichever thread calls, the table is one: a count used
 * on one worker is a replay on every other.
 *
 * Entries live until @p ts + @p ttl_s; a sweep removes older ones at most
 * every few seconds (every second while the table is over half full),
 * run by the caller that finds it due, with bounded work (one pass).
 *
 * Returns 0 (first use of this count, recorded), -EALREADY (this count
 * or a higher one was used: a replay), -ENOSPC (the table is full of
 * live nonces: the caller should answer with a new nonce, stale=true),
 * -ENOMEM, -EINVAL (not set up).
 * Thread: any RCU-registered thread, outside a read section. Never blocks.
 */
int nonce_use(uint64_t salt, int64_t ts, uint32_t nc, int64_t now_s,
	      int64_t ttl_s);

/** Entries in the table now (relaxed). Thread: any. */
size_t nonce_count(void);
