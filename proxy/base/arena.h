/* proxy/base/arena.h - bump allocator reset once per message */
#pragma once

#include <stddef.h>

#include "proxy/base/slice.h"

/**
 * A region of memory for everything that lives exactly as long as one
 * message: parsed header array, edit list, output bytes. Single owner
 * (a shard); never shared between threads.
 */
struct arena;

/**
 * A new arena whose chunks hold at least @p chunk_size bytes.
 * Returns NULL when out of memory.
 */
struct arena *arena_new(size_t chunk_size);

/** Free @p a and everything allocated from it. NULL is allowed. */
void arena_free(struct arena *a);

/**
 * @p size bytes, 16-byte aligned, valid until arena_reset() or
 * arena_free(). Requests larger than a chunk get a chunk of their own.
 * Returns NULL when out of memory.
 */
void *arena_alloc(struct arena *a, size_t size);

/**
 * The @p n values @p v joined by @p sep ("a, b, c"), copied into @p a:
 * a header value rebuilt from some of its elements. *outp is empty when
 * @p n is 0. Returns 0, or -ENOMEM (*outp untouched).
 */
int arena_join(struct arena *a, const struct slice *v, unsigned n,
	       struct slice sep, struct slice *outp);

/**
 * Forget every allocation. Keeps the first chunk for reuse and frees the
 * others, so a burst of large messages does not pin memory.
 */
void arena_reset(struct arena *a);

/** Bytes currently handed out (for tests and statistics). */
size_t arena_used(const struct arena *a);
