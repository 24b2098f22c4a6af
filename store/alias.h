/* store/alias.h - open TCP connections by remote address (connection aliases)
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/*
 * Every open TCP connection of a group of shards, by the address and
 * port of its remote end, so that a message whose next hop is that
 * address goes over the connection, whichever shard owns it (as
 * Kamailio's TCP aliases): the ACK for a softphone registered over TCP,
 * whose Contact names the ephemeral port of its registration
 * connection. A chained hash table with a fixed number of buckets, each
 * guarded by a spin flag held for a short walk of its chain (no call
 * out, no allocation under it); no RCU, so the thread that stops the
 * shards (which closes their connections) need not be an RCU reader.
 *
 * When two connections share a remote end (two shards both opened one
 * to a next hop), the newest wins; removing the older leaves it.
 *
 * Thread: every function but alias_new()/alias_free() from any thread.
 */

struct alias;

/**
 * A table with about @p expect / 2 buckets (at least 256; the number of
 * connections expected at most: tcp.max_connections).
 * Returns 0 with *ap set, or -ENOMEM. Thread: any.
 */
int alias_new(size_t expect, struct alias **ap);

/** Free @p a and what it holds (NULL allowed) once no thread uses it. */
void alias_free(struct alias *a);

/**
 * Connection @p conn_id (not 0) now has the remote end @p sa (IPv4 or
 * IPv6, with its port). Returns 0, -EAFNOSUPPORT, -EINVAL, -ENOMEM.
 */
int alias_set(struct alias *a, const struct sockaddr *sa, uint64_t conn_id);

/**
 * Connection @p conn_id is closing: forget @p sa if it still names it.
 * Returns 0 (removed) or -ENOENT (not there, or another connection's).
 */
int alias_del(struct alias *a, const struct sockaddr *sa, uint64_t conn_id);

/** The connection whose remote end is @p sa, or 0 (none). */
uint64_t alias_find(struct alias *a, const struct sockaddr *sa);

/** Entries in @p a (relaxed; for statistics and tests). */
size_t alias_count(const struct alias *a);
