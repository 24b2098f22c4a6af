/* store/codec.h - a binding as text: the snapshot file and the Redis
 * values share one encoding */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "proxy/base/slice.h"

struct loc_contact;

/**
 * A growing output buffer. After an allocation failure it drops what
 * follows and keeps @c failed; the caller checks once at the end.
 * Value type the caller embeds; all zero is empty.
 */
struct codec_buf {
	char *p;
	size_t len, cap;
	bool failed;
};

/** Append @p n bytes (nothing once an allocation failed). */
void codec_buf_add(struct codec_buf *b, const void *p, size_t n);

/** Append a NUL-terminated string. */
void codec_buf_str(struct codec_buf *b, const char *s);

/** Append a signed decimal number. */
void codec_buf_num(struct codec_buf *b, int64_t v);

/** Empty the buffer (keeps the memory); clears the failure. */
void codec_buf_reset(struct codec_buf *b);

/** Free the memory. */
void codec_buf_free(struct codec_buf *b);

/**
 * Append " " and @p s as a text field: bytes outside 0x21..0x7e, '%',
 * and a lone "-" percent-encoded (%HH), or "-" when @p s is empty.
 */
void codec_text_print(struct codec_buf *b, struct slice s);

/**
 * Decode text field @p s in place ("-" is empty). Returns 0, or
 * -EBADMSG (a bad %HH). Ownership: writes into s->p.
 */
int codec_text_parse(struct slice *s);

/** The two line forms of a binding (codec_contact_print()). */
enum codec_form {
	/** "c AOR EXPIRES Q FLAGS REG_ID CSEQ PROTO ADDR LISTEN URI PATH
	 *  INSTANCE CALL_ID USER_AGENT" (store/memory.c snapshot) */
	CODEC_SNAPSHOT,
	/** "STAMP EXPIRES Q FLAGS REG_ID CSEQ PROTO ADDR URI PATH INSTANCE
	 *  CALL_ID USER_AGENT" (store/redis*.c hash values) */
	CODEC_REDIS,
};

/**
 * Append contact @p c of @p aor (used by CODEC_SNAPSHOT only) in @p form,
 * fields separated by one space, without a line end. ADDR is
 * "ip:port", "[ipv6]:port" or "-"; text fields as codec_text_print().
 */
void codec_contact_print(struct codec_buf *b, enum codec_form form,
			 struct slice aor, const struct loc_contact *c);

/**
 * Parse one line (without its line end) of @p form into *cp and, for
 * CODEC_SNAPSHOT, *aorp. Text fields are decoded in place. Returns 0,
 * or -EBADMSG (wrong field count, a number out of range, a bad address
 * or escape, an empty AOR or URI). Ownership: *cp and *aorp point into
 * @p p.
 */
int codec_contact_parse(char *p, size_t len, enum codec_form form,
			struct slice *aorp, struct loc_contact *cp);

/**
 * Split @p line on single spaces into at most @p max fields. Returns
 * the count, or -EBADMSG (an empty field, a trailing space, more than
 * @p max fields).
 */
int codec_fields_split(struct slice line, struct slice *f, unsigned max);

/** Read decimal @p s, at most @p max, into *vp. Returns 0 or -EBADMSG. */
int codec_num_parse(struct slice s, uint64_t max, uint64_t *vp);
