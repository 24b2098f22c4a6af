/* proxy/base/bencode.h - bencoded values (BitTorrent BEP 3): the wire
 * format of rtpengine's ng control protocol */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/base/slice.h"

/**
 * An encoder writing into a caller's buffer. Value type: the caller
 * embeds it (bencode_init()). The first error (no room, an end without
 * an open container, nesting deeper than BENCODE_MAX_DEPTH) sticks in
 * @c err and later calls do nothing, so a whole dictionary is written
 * and checked once at the end (bencode_finish()).
 */
struct bencode_buf {
	char *p;	/**< the caller's buffer */
	size_t cap;	/**< its size */
	size_t len;	/**< bytes written */
	int err;	/**< 0 or the first error */
	unsigned depth; /**< open lists and dictionaries */
};

/** Deepest nesting the encoder writes and the parser accepts. */
#define BENCODE_MAX_DEPTH 16

/** Start writing into @p p (@p cap bytes). Thread: any. */
void bencode_init(struct bencode_buf *b, char *p, size_t cap);

/** A byte string "LEN:BYTES" (any bytes). */
void bencode_str(struct bencode_buf *b, struct slice s);

/** A C string as a byte string. */
void bencode_cstr(struct bencode_buf *b, const char *s);

/** An integer "iNe". */
void bencode_int(struct bencode_buf *b, int64_t v);

/** Open a dictionary "d": then key (bencode_str), value, key, value ...
 * The encoder does not sort keys: the caller writes them in order
 * (rtpengine does not require it). */
void bencode_dict(struct bencode_buf *b);

/** Open a list "l". */
void bencode_list(struct bencode_buf *b);

/** Close the innermost open list or dictionary "e". */
void bencode_end(struct bencode_buf *b);

/**
 * The bytes written: 0 with *lenp set when every container is closed
 * and nothing failed; else -ENOSPC (the buffer was too small), -EINVAL
 * (unbalanced, or nothing written), -E2BIG (too deep).
 */
int bencode_finish(const struct bencode_buf *b, size_t *lenp);

enum bencode_type {
	BENCODE_STR,
	BENCODE_INT,
	BENCODE_LIST,
	BENCODE_DICT,
};

/**
 * One parsed value: the parser fills a caller's array in pre-order
 * (a container, then its children; a dictionary's children alternate
 * key, value). Value type; strings point into the parsed buffer.
 */
struct bencode_node {
	enum bencode_type type;
	struct slice s; /**< STR: the bytes; containers: the whole
			     encoding */
	int64_t i;	/**< INT: the value */
	unsigned n;	/**< containers: direct children (a dict: 2 per
			     entry) */
	unsigned next;	/**< index of the node after this one and all
			     its children */
};

/**
 * Parse the one value that fills @p in exactly into @p nodes (at most
 * @p max). Returns the number of nodes (> 0), or -EBADMSG (malformed:
 * bad length or integer, leading zeros, "-0", a dictionary key that is
 * not a string, trailing bytes, nesting deeper than BENCODE_MAX_DEPTH,
 * truncated), -E2BIG (more than @p max values). Never reads outside
 * @p in. Thread: any. Ownership: nodes point into @p in.
 */
int bencode_parse(struct slice in, struct bencode_node *nodes, unsigned max);

/**
 * In the dictionary at @p nodes[@p dict], the index of the value of
 * key @p key, or -1 (not a dictionary, no such key). The first match
 * wins.
 */
int bencode_get(const struct bencode_node *nodes, unsigned dict,
		const char *key);

/**
 * The string value of @p key in dictionary @p dict: true and *sp set
 * when it is there and a string.
 */
bool bencode_get_str(const struct bencode_node *nodes, unsigned dict,
		     const char *key, struct slice *sp);
