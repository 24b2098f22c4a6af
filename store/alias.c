/* store/alias.c - open TCP connections by remote address (connection aliases)
 */
#include "store/alias.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "proxy/base/hash.h"

/* Address family, port and address: the key, compared whole. */
struct key {
	uint16_t family;
	uint16_t port; /* network order */
	unsigned char addr[16];
};

struct entry {
	struct entry *next;
	struct key k;
	uint64_t conn_id;
};

struct bucket {
	atomic_flag lock;
	struct entry *head;
};

struct alias {
	struct bucket *b;
	size_t mask;
	uint64_t seed;
	atomic_size_t n;
};

static void lock(struct bucket *b)
{
	while (
	    atomic_flag_test_and_set_explicit(&b->lock, memory_order_acquire))
		;
}

static void unlock(struct bucket *b)
{
	atomic_flag_clear_explicit(&b->lock, memory_order_release);
}

static int key_of(const struct sockaddr *sa, struct key *k)
{
	memset(k, 0, sizeof(*k));
	k->family = sa->sa_family;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		k->port = in->sin_port;
		memcpy(k->addr, &in->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		k->port = in6->sin6_port;
		memcpy(k->addr, &in6->sin6_addr, 16);
		return 0;
	}
	return -EAFNOSUPPORT;
}

static struct bucket *bucket_of(struct alias *a, const struct key *k)
{
	return &a->b[hash_bytes(k, sizeof(*k), a->seed) & a->mask];
}

int alias_new(size_t expect, struct alias **ap)
{
	struct alias *a = calloc(1, sizeof(*a));
	size_t n = 256;

	if (!a)
		return -ENOMEM;
	while (n < expect / 2 && n < ((size_t)1 << 20))
		n <<= 1;
	a->b = calloc(n, sizeof(*a->b));
	if (!a->b) {
		free(a);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		atomic_flag_clear(&a->b[i].lock);
	a->mask = n - 1;
	if (getrandom(&a->seed, sizeof(a->seed), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(a->seed))
		a->seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)a;
	*ap = a;
	return 0;
}

void alias_free(struct alias *a)
{
	if (!a)
		return;
	for (size_t i = 0; i <= a->mask; i++) {
		struct entry *e = a->b[i].head, *nx;

		for (; e; e = nx) {
			nx = e->next;
			free(e);
		}
	}
	free(a->b);
	free(a);
}

int alias_set(struct alias *a, const struct sockaddr *sa, uint64_t conn_id)
{
	struct entry *e, *x;
	struct bucket *b;
	int err;

	if (!conn_id)
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	err = key_of(sa, &e->k);
	if (err) {
		free(e);
		return err;
	}
	e->conn_id = conn_id;
	b = bucket_of(a, &e->k);
	lock(b);
	for (x = b->head; x; x = x->next)
		if (!memcmp(&x->k, &e->k, sizeof(e->k)))
			break;
	if (x) {
		/* The newest connection to that end wins. */
		x->conn_id = conn_id;
	} else {
		e->next = b->head;
		b->head = e;
		e = NULL;
	}
	unlock(b);
	if (e)
		free(e);
	else
		atomic_fetch_add_explicit(&a->n, 1, memory_order_relaxed);
	return 0;
}

int alias_del(struct alias *a, const struct sockaddr *sa, uint64_t conn_id)
{
	struct entry **pp, *e = NULL;
	struct bucket *b;
	struct key k;

	if (key_of(sa, &k))
		return -ENOENT;
	b = bucket_of(a, &k);
	lock(b);
	for (pp = &b->head; *pp; pp = &(*pp)->next) {
		if (!memcmp(&(*pp)->k, &k, sizeof(k))) {
			if ((*pp)->conn_id == conn_id) {
				e = *pp;
				*pp = e->next;
			}
			break;
		}
	}
	unlock(b);
	if (!e)
		return -ENOENT;
	free(e);
	atomic_fetch_sub_explicit(&a->n, 1, memory_order_relaxed);
	return 0;
}

uint64_t alias_find(struct alias *a, const struct sockaddr *sa)
{
	struct bucket *b;
	struct entry *e;
	uint64_t id = 0;
	struct key k;

	if (atomic_load_explicit(&a->n, memory_order_relaxed) == 0 ||
	    key_of(sa, &k))
		return 0;
	b = bucket_of(a, &k);
	lock(b);
	for (e = b->head; e; e = e->next)
		if (!memcmp(&e->k, &k, sizeof(k))) {
			id = e->conn_id;
			break;
		}
	unlock(b);
	return id;
}

size_t alias_count(const struct alias *a)
{
	return atomic_load_explicit(&a->n, memory_order_relaxed);
}
