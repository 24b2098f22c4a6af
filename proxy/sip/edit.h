/* proxy/sip/edit.h - edit list: changes to a parsed message, applied at send */
#pragma once

#include <stddef.h>

#include "proxy/base/slice.h"

struct arena;
struct sipmsg;
struct siphdr;

/**
 * The changes to make to one parsed message (STYLE.md "SIP text"): the
 * receive buffer is never modified; every change is an entry here, kept
 * sorted by position, never overlapping, and written in one pass by
 * edit_print(). Each entry replaces a byte range of the original message
 * with new text (an insertion replaces an empty range).
 *
 * Insertions at the same position are written in the order they were
 * added, before any replacement that starts there. An edit whose range
 * overlaps an earlier one is refused with -EINVAL and leaves the list
 * as it was, so a conflicting change never corrupts the output.
 *
 * Lives in an arena (everything, including copies of the caller's
 * text); single owner (the shard handling the message).
 */
struct edit_list;

/**
 * A new, empty edit list for @p m. @p m (its header array) and the
 * buffer it was parsed from must stay valid while the list is used.
 * Text given to the edit_* functions is copied; it must not hold a line
 * break of its own (the caller builds it, never from raw input).
 * Errors: -EINVAL (@p m has no framed length: m->len == 0), -ENOMEM.
 * Thread: the owner of @p a. Ownership: *elp lives in @p a.
 */
int edit_new(struct arena *a, const struct sipmsg *m, struct edit_list **elp);

/** Number of edits in @p el. */
unsigned edit_count(const struct edit_list *el);

/**
 * Replace the Request-URI with @p uri (copied).
 * Errors: -EINVAL (a response, an empty @p uri, or overlap), -ENOMEM.
 */
int edit_set_ruri(struct edit_list *el, struct slice uri);

/**
 * Add "Via: @p value" on top: a new header line before the first Via
 * header line (at the top of the header block when there is none).
 * @p value is copied. Errors: -EINVAL (empty value), -ENOMEM.
 */
int edit_add_via(struct edit_list *el, struct slice value);

/**
 * Remove the top Via value: the whole first Via header line when it
 * holds one value, else only its first comma-separated element (with
 * the comma), as when a response goes upstream (RFC 3261 §16.7 step 3).
 * Errors: -ENOENT (no Via), -EBADMSG (the first Via value cannot be
 * split), -EINVAL (overlap, e.g. popping twice), -ENOMEM.
 */
int edit_pop_via(struct edit_list *el);

/**
 * Add "Record-Route: @p value" before the first Record-Route header
 * line (RFC 3261 §16.6 step 4). When there is none: after the last Via
 * header line (at the top of the header block when there is no Via),
 * so that Vias added on top stay in one block.
 * Errors: -EINVAL (empty value), -ENOMEM.
 */
int edit_add_record_route(struct edit_list *el, struct slice value);

/**
 * Add "Route: @p value" before the first Route header line
 * (RFC 3261 §16.6 step 7); when there is none, where
 * edit_add_record_route() puts a first Record-Route.
 * Errors: -EINVAL (empty value), -ENOMEM.
 */
int edit_add_route(struct edit_list *el, struct slice value);

/**
 * Remove the first Route value (loose routing, RFC 3261 §16.4): the
 * whole first Route header line when it holds one value, else its first
 * element. Errors: -ENOENT (no Route), -EBADMSG (cannot be split),
 * -EINVAL (overlap), -ENOMEM.
 */
int edit_pop_route(struct edit_list *el);

/**
 * Add the header line "@p name: @p value" at the end of the header
 * block (after the last header, before the blank line). Both are copied.
 * Errors: -EINVAL (empty name), -ENOMEM.
 */
int edit_add_hdr(struct edit_list *el, struct slice name, struct slice value);

/**
 * Remove header @p h (an entry of the message's header array) with its
 * line end and any folded continuation lines.
 * Errors: -EINVAL (@p h not a header of the message, or overlap),
 * -ENOMEM.
 */
int edit_del_hdr(struct edit_list *el, const struct siphdr *h);

/**
 * Replace the value of header @p h with @p value (copied): the line is
 * rewritten as "<name as received>: @p value" CRLF, folds removed.
 * Errors: -EINVAL (@p h not a header of the message, or overlap),
 * -ENOMEM.
 */
int edit_set_hdr(struct edit_list *el, const struct siphdr *h,
		 struct slice value);

/**
 * Replace the body with @p body (copied; may be empty) and make the
 * Content-Length say its length: the first Content-Length header gets
 * the new value, later ones are removed, and one is added at the end
 * of the header block when there is none.
 * Errors: -EINVAL (overlap), -ENOMEM.
 */
int edit_set_body(struct edit_list *el, struct slice body);

/**
 * Length of the message edit_print() writes.
 */
size_t edit_len(const struct edit_list *el);

/**
 * Write the edited message into @p buf (@p size bytes) in one pass.
 * Returns the length written (not NUL-terminated), or -ENOSPC when
 * @p size < edit_len(), -EOVERFLOW when the message is over INT_MAX.
 * Thread: the owner of the list.
 */
int edit_print(const struct edit_list *el, char *buf, size_t size);

/**
 * edit_print() into a new buffer from @p a; *outp is the result.
 * Errors: -ENOMEM, -EOVERFLOW.
 */
int edit_print_arena(const struct edit_list *el, struct arena *a,
		     struct slice *outp);
