/* proxy/core/guard.h - per-source limits on the receive path (security:) */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct conf;
struct peer;

/*
 * The edge guard: before a message is parsed or handed off, its source
 * address is counted in a shared table (store/pike.h) against
 * security.rate and security.burst; a source that runs over is banned
 * for security.ban_s and everything it sends is dropped silently (no
 * answer), counted, and the ban is logged once. Requests of all
 * sources together are capped at security.global_rate per second.
 * Exempt: the networks of security.exempt and what the exempt function
 * given to guard_start() says (proxy/main.c: registrar.trusted, the B2B
 * pool's socket, the next hops of routes:), asked only when a source
 * runs over. Answers the proxy sends to a source that has not been
 * vouched for (guard_vouch()) spend a byte credit earned by what the
 * source sent (security.answer_budget), so the proxy never sends a
 * stranger more than it received from it.
 *
 * One guard per process. Without guard_start(), or with no limit in the
 * config, every function lets everything through.
 */

/** Is @p from exempt from the limits under @p c? Any thread. */
typedef bool guard_exempt_fn(const struct conf *c, const struct peer *from);

/**
 * Make the table (security.table_size of @p c slots) and register the
 * counters (module "security"). @p exempt may be NULL.
 * Returns 0, -EBUSY (started already), -ENOMEM.
 * Thread: control, before the shards start.
 */
int guard_start(const struct conf *c, guard_exempt_fn *exempt);

/** Unregister and free. Thread: control, after the shards stopped. */
void guard_stop(void);

/**
 * One message of @p len bytes from @p from, under @p c's limits.
 * Returns true: go on; false: drop it without an answer (counted).
 * @p is_request: the global cap counts requests only.
 * Thread: any shard.
 */
bool guard_admit(const struct conf *c, const struct peer *from, size_t len,
		 bool is_request);

/**
 * A TCP connection from @p from is being accepted: true when its
 * address is banned (the caller closes it; counted dropped).
 * Thread: any shard.
 */
bool guard_refuse(const struct peer *from);

/**
 * May an answer of @p len bytes, made by the proxy itself, go to @p to?
 * False: do not send it (counted). Thread: any shard.
 */
bool guard_answer(const struct conf *c, const struct peer *to, size_t len);

/** @p from passed the policy (authenticated, or served): its answers
 * are not charged any more. Thread: any shard. */
void guard_vouch(const struct peer *from);

/** A ban in force, for guard_list() (management: ban.list). */
struct guard_ban {
	struct sockaddr_storage addr; /**< port 0 */
	socklen_t addrlen;
	unsigned remaining_s; /**< seconds left, rounded up */
	uint64_t dropped;     /**< messages dropped during the ban */
};

/**
 * The bans in force, at most @p max into @p out. Returns how many were
 * written (0 without a guard, or when memory runs out).
 * Thread: any (management).
 */
size_t guard_list(struct guard_ban *out, size_t max);

/**
 * Lift the ban of the address @p sa (its port is ignored). Returns 0,
 * -ENOENT (no ban in force), -EAFNOSUPPORT, -ENODEV (no guard).
 * Thread: any (management).
 */
int guard_unban(const struct sockaddr *sa);
