/* proxy/core/post.c - a mailbox: any thread posts functions to one uv loop */
#include "proxy/core/post.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include <urcu/wfcqueue.h>
#include <uv.h>

/* One posted call: malloc'd, owned by the queue once enqueued. */
struct item {
	struct cds_wfcq_node node;
	post_fn *fn;
	void *arg;
};

struct post {
	uv_async_t async;
	struct __cds_wfcq_head head;
	struct cds_wfcq_tail tail;
	atomic_uint len; /* items waiting, for max */
	unsigned max;
	bool closing;
};

/* Run (or, with @p p NULL, hand back) every item of @p from. */
static void run_all(struct post *self, struct post *p,
		    struct __cds_wfcq_head *head, struct cds_wfcq_tail *tail)
{
	struct cds_wfcq_node *node;

	/* Only the loop's thread dequeues: no lock needed. */
	while ((node = __cds_wfcq_dequeue_blocking(head, tail))) {
		struct item *it = caa_container_of(node, struct item, node);

		atomic_fetch_sub_explicit(&self->len, 1, memory_order_relaxed);
		it->fn(p, it->arg);
		free(it);
	}
}

static void async_cb(uv_async_t *h)
{
	struct post *p = h->data;
	struct __cds_wfcq_head head;
	struct cds_wfcq_tail tail;

	/* This batch only: what the calls post waits for the next turn,
	 * so a function that posts again cannot hold the loop. */
	__cds_wfcq_init(&head, &tail);
	__cds_wfcq_splice_blocking(&head, &tail, &p->head, &p->tail);
	run_all(p, p, &head, &tail);
}

int post_new(struct uv_loop_s *loop, unsigned max, struct post **pp)
{
	struct post *p;
	int err;

	if (!loop || !pp)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	__cds_wfcq_init(&p->head, &p->tail);
	atomic_init(&p->len, 0);
	p->max = max;
	err = uv_async_init(loop, &p->async, async_cb);
	if (err) {
		free(p);
		return err;
	}
	p->async.data = p;
	uv_unref((uv_handle_t *)&p->async);
	*pp = p;
	return 0;
}

int post_call(struct post *p, post_fn *fn, void *arg)
{
	struct item *it;

	if (!p || !fn)
		return -EINVAL;
	/* Room is taken before it is checked: posters cannot pass the
	 * bound together. */
	if (atomic_fetch_add_explicit(&p->len, 1, memory_order_relaxed) >=
		p->max &&
	    p->max) {
		atomic_fetch_sub_explicit(&p->len, 1, memory_order_relaxed);
		return -ENOBUFS;
	}
	it = malloc(sizeof(*it));
	if (!it) {
		atomic_fetch_sub_explicit(&p->len, 1, memory_order_relaxed);
		return -ENOMEM;
	}
	cds_wfcq_node_init(&it->node);
	it->fn = fn;
	it->arg = arg;
	cds_wfcq_enqueue(&p->head, &p->tail, &it->node);
	/* The only libuv call made from another thread. */
	uv_async_send(&p->async);
	return 0;
}

static void close_cb(uv_handle_t *h)
{
	free(h->data);
}

void post_free(struct post *p)
{
	if (!p || p->closing)
		return;
	p->closing = true;
	run_all(p, NULL, &p->head, &p->tail);
	uv_close((uv_handle_t *)&p->async, close_cb);
}
