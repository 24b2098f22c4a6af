/* proxy/base/arena.c - bump allocator reset once per message */
#include "proxy/base/arena.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct chunk {
	struct chunk *next;
	size_t size; /* usable bytes after the header */
	size_t used;
	_Alignas(16) unsigned char data[];
};

struct arena {
	struct chunk *head; /* current chunk; the first one is last */
	size_t chunk_size;
	size_t used;
};

static struct chunk *chunk_new(size_t size)
{
	struct chunk *c = malloc(sizeof(*c) + size);

	if (!c)
		return NULL;
	c->next = NULL;
	c->size = size;
	c->used = 0;
	return c;
}

struct arena *arena_new(size_t chunk_size)
{
	struct arena *a = malloc(sizeof(*a));

	if (!a)
		return NULL;
	a->chunk_size = chunk_size < 256 ? 256 : chunk_size;
	a->used = 0;
	a->head = chunk_new(a->chunk_size);
	if (!a->head) {
		free(a);
		return NULL;
	}
	return a;
}

void arena_free(struct arena *a)
{
	struct chunk *c, *next;

	if (!a)
		return;
	for (c = a->head; c; c = next) {
		next = c->next;
		free(c);
	}
	free(a);
}

void *arena_alloc(struct arena *a, size_t size)
{
	struct chunk *c = a->head;
	size_t need = (size + 15) & ~(size_t)15;
	void *p;

	if (need < size)
		return NULL;
	if (c->size - c->used < need) {
		c = chunk_new(need > a->chunk_size ? need : a->chunk_size);
		if (!c)
			return NULL;
		c->next = a->head;
		a->head = c;
	}
	p = c->data + c->used;
	c->used += need;
	a->used += need;
	return p;
}

int arena_join(struct arena *a, const struct slice *v, unsigned n,
	       struct slice sep, struct slice *outp)
{
	size_t len = 0, o = 0;
	char *p;

	if (!n) {
		*outp = slice_make(NULL, 0);
		return 0;
	}
	for (unsigned i = 0; i < n; i++)
		len += v[i].len + (i ? sep.len : 0);
	p = arena_alloc(a, len ? len : 1);
	if (!p)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		if (i) {
			memcpy(p + o, sep.p, sep.len);
			o += sep.len;
		}
		memcpy(p + o, v[i].p, v[i].len);
		o += v[i].len;
	}
	*outp = slice_make(p, o);
	return 0;
}

void arena_reset(struct arena *a)
{
	struct chunk *c = a->head;

	while (c->next) {
		struct chunk *next = c->next;

		free(c);
		c = next;
	}
	c->used = 0;
	a->head = c;
	a->used = 0;
}

size_t arena_used(const struct arena *a)
{
	return a->used;
}
