/* tests/common/guard.h - test inputs placed right before a PROT_NONE page */
#pragma once

#include <stddef.h>

/**
 * Copy @p len bytes of @p p into fresh pages so that the copy ends
 * exactly where a PROT_NONE page begins: reading one byte past the end
 * crashes the test. Returns the copy, or NULL (out of memory).
 * Ownership: free with guard_free().
 */
char *guard_copy(const void *p, size_t len);

/** Release a buffer from guard_copy(). NULL is allowed. */
void guard_free(char *p);

/**
 * guard_copy() that fails the test when out of memory, and keeps the copy
 * (up to 256 at a time) until guard_free_kept().
 * Ownership: the kept list's. Thread: the test's.
 */
char *guard_keep(const void *p, size_t len);

/** guard_free() every copy guard_keep() made: for a suite's .fini. */
void guard_free_kept(void);
