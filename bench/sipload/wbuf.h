/* bench/sipload/wbuf.h - append-only text buffer: fast formatting without
 * snprintf */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proxy/base/hex.h"
#include "proxy/base/slice.h"

/**
 * A fixed output buffer that text is appended to. Writes past the end
 * are dropped and set @c over; the caller checks it once at the end.
 * Value type the caller embeds; no allocation.
 */
struct wbuf {
	char *p;
	size_t len;
	size_t cap;
	bool over; /**< something did not fit */
};

/** A wbuf over @p buf, @p cap bytes. */
static inline struct wbuf wbuf_make(char *buf, size_t cap)
{
	return (struct wbuf){ buf, 0, cap, false };
}

/** Append @p n bytes at @p s. */
static inline void wbuf_mem(struct wbuf *b, const void *s, size_t n)
{
	if (n > b->cap - b->len) {
		b->over = true;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

/**
 * Count @p n bytes that a printer wrote at the end (p + len, at most
 * cap - len), or mark the buffer over when it returned an error.
 */
static inline void wbuf_wrote(struct wbuf *b, int n)
{
	if (n < 0 || (size_t)n > b->cap - b->len)
		b->over = true;
	else
		b->len += (size_t)n;
}

/** Append the NUL-terminated @p s. */
static inline void wbuf_str(struct wbuf *b, const char *s)
{
	wbuf_mem(b, s, strlen(s));
}

/** Append the bytes of @p s. */
static inline void wbuf_slice(struct wbuf *b, struct slice s)
{
	wbuf_mem(b, s.p, s.len);
}

/** Append one byte. */
static inline void wbuf_ch(struct wbuf *b, char c)
{
	if (b->len >= b->cap) {
		b->over = true;
		return;
	}
	b->p[b->len++] = c;
}

/** Append @p v in decimal. */
static inline void wbuf_u64(struct wbuf *b, uint64_t v)
{
	char tmp[20];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	wbuf_mem(b, tmp + i, sizeof(tmp) - i);
}

/** Append @p v as exactly @p digits lower-case hex digits (1..16). */
static inline void wbuf_hex(struct wbuf *b, uint64_t v, unsigned digits)
{
	char tmp[16];

	hex_u64_print(v, digits, tmp);
	wbuf_mem(b, tmp, digits);
}

/** Append @p v in decimal with at least @p width digits (zero-padded). */
static inline void wbuf_u64_pad(struct wbuf *b, uint64_t v, unsigned width)
{
	char tmp[24];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v && i > 0);
	while (sizeof(tmp) - i < width && i > 0)
		tmp[--i] = '0';
	wbuf_mem(b, tmp + i, sizeof(tmp) - i);
}
