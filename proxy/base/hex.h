/* proxy/base/hex.h - hexadecimal digits: bytes, numbers, %HH escapes */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "proxy/base/slice.h"

/** The value of hex digit @p c (either case), or -1. Thread: any. */
int hex_val(char c);

/**
 * Write @p n bytes at @p p as 2 * @p n lower-case hex digits and a NUL
 * into @p out (2 * n + 1 bytes). Thread: any.
 */
void hex_print(const void *p, size_t n, char *out);

/**
 * Read exactly 2 * @p n hex digits (either case) in @p s into @p out.
 * Returns 0, or -EINVAL (another length, or not a hex digit); @p out is
 * written only on success. Thread: any.
 */
int hex_parse(struct slice s, uint8_t *out, size_t n);

/**
 * Write @p v as exactly @p digits (1..16) lower-case hex digits into
 * @p out, high digits first, without a NUL. Thread: any.
 */
void hex_u64_print(uint64_t v, unsigned digits, char *out);

/**
 * Read exactly @p digits (1..16) hex digits at @p p into *vp. Returns
 * 0, or -EINVAL (not a hex digit); *vp is written only on success.
 * Thread: any.
 */
int hex_u64_parse(const char *p, unsigned digits, uint64_t *vp);

/**
 * Write the escape of byte @p c, "%HH" with upper-case digits (RFC 3261
 * §25.1 escaped, RFC 3986 §2.1), into @p out (3 bytes, no NUL).
 * Thread: any.
 */
void hex_escape(unsigned char c, char *out);
