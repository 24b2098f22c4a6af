/* proxy/core/steer.h - kernel steering: an SK_REUSEPORT eBPF program that
 * gives each UDP datagram to the socket of the shard that owns it */
#pragma once

#include <stdint.h>

#include "proxy/core/steer_stats.h"

struct steer;

/** udp.steering: what the shards try at start. */
enum steer_mode {
	STEER_AUTO, /**< the program if it loads, else the hand-off alone */
	STEER_BPF,  /**< the program, or the start fails */
	STEER_OFF,  /**< the hand-off alone */
};

/**
 * Load the steering program for one SO_REUSEPORT group: @p fds[i] is
 * shard i's UDP socket of the group (bound, SO_REUSEPORT), @p nfds of
 * them (2 .. STEER_MAX_SHARDS), @p seed the owner hash seed
 * (shard_owner()). Fills the program's socket array and attaches it to
 * the group (SO_ATTACH_REUSEPORT_EBPF). The kernel keeps the program
 * while any socket of the group is open.
 * Errors: -EINVAL (bad arguments), -EPERM (no CAP_BPF or
 * CAP_SYS_ADMIN), -ENOMEM, or what libbpf or setsockopt() say, as
 * -errno; nothing is attached then. *why (up to @p whylen bytes) names
 * the step that failed.
 * Thread: control, before the shards run.
 * Ownership: free with steer_free(); the fds stay the caller's.
 */
int steer_attach(const int *fds, unsigned nfds, uint64_t seed,
		 struct steer **sp, char *why, unsigned whylen);

/**
 * The program's counters (enum steer_stat) summed over CPUs into
 * @p v, which it overwrites; zeros when @p st is NULL.
 * Thread: any (the map is read with the bpf syscall).
 */
void steer_read(const struct steer *st, uint64_t v[STEER_STAT__COUNT]);

/**
 * The datagrams the program gave to shard @p shard (summed over CPUs);
 * 0 when @p st is NULL. Thread: any.
 */
uint64_t steer_read_shard(const struct steer *st, unsigned shard);

/**
 * Take the program off the group (SO_DETACH_REUSEPORT_BPF): the
 * kernel's own choice again. Errors: setsockopt()'s, as -errno.
 * Thread: control.
 */
int steer_detach(struct steer *st);

/**
 * Forget the loader's handles (the attached program stays with the
 * sockets). NULL is allowed. Thread: control.
 */
void steer_free(struct steer *st);
