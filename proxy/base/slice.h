/* proxy/base/slice.h - struct slice: a pointer and a length, never
 * NUL-terminated */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/**
 * A view of bytes owned by someone else (usually a receive buffer).
 * Value type: passed and returned by value. Never NUL-terminated.
 */
struct slice {
	const char *p;
	size_t len;
};

/** A slice over a string literal. */
#define SLICE_LIT(s) ((struct slice){ (s), sizeof(s) - 1 })

/** A slice over @p p, @p len bytes. */
static inline struct slice slice_make(const char *p, size_t len)
{
	return (struct slice){ p, len };
}

/** A slice over the NUL-terminated string @p s (NULL gives an empty one). */
static inline struct slice slice_cstr(const char *s)
{
	return (struct slice){ s, s ? strlen(s) : 0 };
}

/** True when @p s has no bytes. */
static inline bool slice_is_empty(struct slice s)
{
	return s.len == 0;
}

/** Byte-exact equality. */
bool slice_eq(struct slice a, struct slice b);

/** ASCII case-insensitive equality of @p n bytes at @p a and @p b. */
bool slice_caseeq_bytes(const char *a, const char *b, size_t n);

/**
 * ASCII case-insensitive equality. Inline: most calls compare names of
 * another length (header and parameter names) and stop here.
 */
static inline bool slice_caseeq(struct slice a, struct slice b)
{
	return a.len == b.len && slice_caseeq_bytes(a.p, b.p, a.len);
}

/** ASCII case-insensitive equality with the NUL-terminated @p s. */
static inline bool slice_caseeq_cstr(struct slice a, const char *s)
{
	return slice_caseeq(a, slice_cstr(s));
}

/** @p s without leading and trailing SP, HTAB, CR and LF. */
struct slice slice_trim(struct slice s);

/** Index of the first @p c in @p s, or -1. */
long slice_index(struct slice s, char c);

/**
 * Parse @p s as a decimal unsigned integer no larger than @p max.
 * Leading zeros are allowed; nothing but digits is.
 * Errors: -EINVAL (empty or a non-digit), -ERANGE (larger than @p max).
 * *vp is written only on success.
 */
int slice_to_u64(struct slice s, uint64_t max, uint64_t *vp);

/**
 * Copy @p s into @p buf as a NUL-terminated string, truncating to
 * @p size - 1 bytes. Returns @p buf. For logs and system calls only.
 */
char *slice_cstr_copy(struct slice s, char *buf, size_t size);
