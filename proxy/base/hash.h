/* proxy/base/hash.h - fast non-cryptographic hashes for tables and sharding */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "proxy/base/slice.h"

/**
 * 64-bit hash of @p len bytes at @p p, mixed with @p seed. Not for
 * adversarial keys where collisions matter to security; tables keyed
 * by network input use a per-process random seed.
 * Thread: any.
 */
uint64_t hash_bytes(const void *p, size_t len, uint64_t seed);

/** hash_bytes() of a slice. */
static inline uint64_t hash_slice(struct slice s, uint64_t seed)
{
	return hash_bytes(s.p, s.len, seed);
}

/** hash_bytes() of @p s with ASCII letters folded to lower case. */
uint64_t hash_slice_case(struct slice s, uint64_t seed);
