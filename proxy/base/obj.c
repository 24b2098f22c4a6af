/* proxy/base/obj.c - reference-counted objects with a destructor */
#include "proxy/base/obj.h"

#include <assert.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct obj_hdr {
	_Atomic long refs;
	obj_dtor_fn *dtor;
	alignas(max_align_t) unsigned char data[];
};

static _Atomic long live;

static struct obj_hdr *hdr_of(void *obj)
{
	return (struct obj_hdr *)((char *)obj - offsetof(struct obj_hdr, data));
}

void *obj_new(size_t size, obj_dtor_fn *dtor)
{
	struct obj_hdr *h = malloc(sizeof(*h) + size);

	if (!h)
		return NULL;
	atomic_init(&h->refs, 1);
	h->dtor = dtor;
	memset(h->data, 0, size);
	atomic_fetch_add_explicit(&live, 1, memory_order_relaxed);
	return h->data;
}

void *obj_get(void *obj)
{
	long old = atomic_fetch_add_explicit(&hdr_of(obj)->refs, 1,
					     memory_order_relaxed);

	assert(old > 0);
	(void)old;
	return obj;
}

void *obj_tryget(void *obj)
{
	struct obj_hdr *h = hdr_of(obj);
	long n = atomic_load_explicit(&h->refs, memory_order_relaxed);

	while (n > 0) {
		if (atomic_compare_exchange_weak_explicit(&h->refs, &n, n + 1,
							  memory_order_acquire,
							  memory_order_relaxed))
			return obj;
	}
	return NULL;
}

void obj_put(void *obj)
{
	struct obj_hdr *h;

	if (!obj)
		return;
	h = hdr_of(obj);
	if (atomic_fetch_sub_explicit(&h->refs, 1, memory_order_release) != 1)
		return;
	atomic_thread_fence(memory_order_acquire);
	if (h->dtor)
		h->dtor(obj);
	atomic_fetch_sub_explicit(&live, 1, memory_order_relaxed);
	free(h);
}

long obj_live(void)
{
	return atomic_load_explicit(&live, memory_order_relaxed);
}
