/* store/memory.h - memory backend: expiry sweep and the snapshot file */
#pragma once

#include <stddef.h>
#include <stdint.h>

/**
 * The memory backend keeps registrations in the location table
 * (store/loc.h) only. A background thread (the store thread) sweeps
 * expired contacts every MEMORY_SWEEP_S seconds and, when a snapshot
 * file is configured, writes it every interval and once more at stop,
 * so that a restart keeps registrations.
 *
 * Snapshot format (text, one contact per line, every field
 * percent-encoded, "-" for an empty field):
 *
 *   sipedge-location 1
 *   c AOR EXPIRES Q FLAGS REG_ID CSEQ PROTO ADDR LISTEN URI PATH
 *     INSTANCE CALL_ID USER_AGENT          (one line)
 *   end COUNT CHECK
 *
 * EXPIRES is absolute (CLOCK_REALTIME seconds); ADDR is "1.2.3.4:5060",
 * "[::1]:5060" or "-"; CHECK is 16 hex digits chained over every line
 * before "end" (hash_bytes(), fixed seed). Contacts of one AOR are on
 * consecutive lines. TCP connection ids are not saved: they mean
 * nothing to the next process. Contacts that never expire (expires_s
 * INT64_MAX: the config's static locations) are not saved either: the
 * config brings them back.
 */
struct memory;

/** Seconds between two expiry sweeps of the store thread. */
#define MEMORY_SWEEP_S 2

/**
 * Load the snapshot @p path into the location table (loc_init() done,
 * shards not running), skipping contacts expired at @p now_s.
 * A file that fails its check (truncated, edited, corrupt) or holds a
 * line that does not parse is skipped whole, after one log line
 * "snapshot PATH[:LINE]: reason"; nothing of it is loaded.
 * Returns the number of contacts loaded, or -ENOENT (no file: a first
 * start), -EBADMSG (corrupt: logged, skipped), -ENOMEM, -EFBIG (over
 * 1 GiB), other -errno from reading.
 * Thread: control, at start-up (the one writer then).
 */
long memory_load(const char *path, int64_t now_s);

/**
 * Write the whole location table to @p path atomically: a temporary
 * file beside it, fsync, rename over @p path, fsync of the directory.
 * Returns the number of contacts written, or -errno (the old file is
 * then untouched and the temporary one removed).
 * Thread: any registered RCU thread outside a read section; blocks on
 * the disk, so never a shard.
 */
long memory_save(const char *path);

/**
 * Start the store thread: sweep every MEMORY_SWEEP_S seconds and, when
 * @p path is not NULL, save the snapshot every @p interval_s seconds.
 * Returns 0 with *mp set, or -ENOMEM, -EAGAIN (thread).
 * Thread: control. Ownership: memory_stop().
 */
int memory_start(const char *path, unsigned interval_s, struct memory **mp);

/**
 * Stop the store thread and, when it has a snapshot path, save the
 * snapshot one last time (call after the shards stopped, so that it
 * holds every registration). NULL is allowed. Returns what the last
 * memory_save() returned, or 0. Thread: control.
 */
long memory_stop(struct memory *m);
