/* proxy/core/post.h - a mailbox: any thread posts functions to one uv loop */
#pragma once

struct uv_loop_s;

/**
 * A mailbox on one uv loop (a cds_wfcq queue and one uv_async_t): any
 * thread posts a function, the loop's thread runs it. The control
 * thread's loop has one (proxy/main.c), for modules that live on other
 * threads (management API, Redis subscriber) and must act there.
 */
struct post;

/**
 * A posted function: @p p is the mailbox it ran from, or NULL when the
 * mailbox was freed before it could run (then only release what @p arg
 * holds).
 */
typedef void post_fn(struct post *p, void *arg);

/**
 * A mailbox on @p loop holding at most @p max items waiting (0: no
 * bound). Its handle does not keep @p loop alive (uv_unref).
 * Errors: -EINVAL (@p loop NULL), -ENOMEM, libuv errors.
 * Thread: @p loop's. Ownership: post_free().
 */
int post_new(struct uv_loop_s *loop, unsigned max, struct post **pp);

/**
 * Run @p fn(p, @p arg) on the mailbox's loop, after what it holds.
 * Returns 0: @p fn is called exactly once, on the loop, or with NULL
 * when post_free() comes first. Errors (@p fn is never called):
 * -EINVAL (@p p or @p fn NULL), -ENOBUFS (@p max items wait), -ENOMEM.
 * Thread: any, until post_free() is called (the owner stops the
 * posting threads first). Ownership: @p arg passes to @p fn on 0.
 */
int post_call(struct post *p, post_fn *fn, void *arg);

/**
 * Call what still waits with NULL, close the handle and free the
 * mailbox (the memory goes in the close callback: run the loop once
 * more, as uv_close() needs). NULL is allowed.
 * Thread: the loop's, after every posting thread stopped.
 */
void post_free(struct post *p);
