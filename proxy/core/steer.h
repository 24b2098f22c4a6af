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
 * Load (verify) the steering program for one SO_REUSEPORT group of
 * @p nshards sockets (2 .. STEER_MAX_SHARDS), @p seed the owner hash
 * seed (shard_owner_seed()). Before the sockets exist: the verifier
 * takes about 100 ms, and a datagram that arrives on a bound socket
 * before steer_attach() takes the kernel's default choice.
 * Errors: -EINVAL (bad arguments), -EPERM (no CAP_BPF and
 * CAP_NET_ADMIN, or CAP_SYS_ADMIN), -ENOMEM, or what libbpf says, as
 * -errno; *why (up to @p whylen bytes) names the step that failed.
 * Thread: control. Ownership: free with steer_free().
 */
int steer_load(unsigned nshards, uint64_t seed, struct steer **sp, char *why,
	       unsigned whylen);

/**
 * Fill the program's socket array with @p fds (shard i's UDP socket of
 * the group at index i, bound with SO_REUSEPORT; @p nfds as loaded) and
 * attach it to their group (SO_ATTACH_REUSEPORT_EBPF). The kernel keeps
 * the program while any socket of the group is open.
 * Errors: -EINVAL (bad arguments, already attached), or what the bpf
 * syscall or setsockopt() say, as -errno; *why names the step.
 * Thread: control, before the shards run. Ownership: the fds stay the
 * caller's.
 */
int steer_attach(struct steer *st, const int *fds, unsigned nfds, char *why,
		 unsigned whylen);

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
 * kernel's own choice again; 0 when it was not attached. Errors:
 * setsockopt()'s, as -errno.
 * Thread: control.
 */
int steer_detach(struct steer *st);

/**
 * Forget the loader's handles (the attached program stays with the
 * sockets). NULL is allowed. Thread: control.
 */
void steer_free(struct steer *st);
