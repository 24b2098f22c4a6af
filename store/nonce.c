/* store/nonce.c - nonce-count replay table shared by all workers (RCU hash
 * table) */
#include "store/nonce.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "proxy/base/hash.h"
#include "store/rcu.h"

/* Sweep intervals: normal, and while the table is over half full. */
#define SWEEP_S	     10
#define SWEEP_FULL_S 1

/*
 * One nonce in use. The key (salt, ts) is immutable once published; the
 * count only grows, by compare-and-swap, so two workers racing with the
 * same count cannot both win.
 */
struct entry {
	struct cds_lfht_node node;
	uint64_t salt;
	int64_t ts;
	_Atomic uint32_t nc;
	struct rcu_head rcu;
};

static struct cds_lfht *table;
static size_t max_live;
static atomic_size_t nlive;
static _Atomic int64_t next_sweep_s;
static uint64_t seed;

int nonce_init(size_t max_entries)
{
	if (table)
		return -EALREADY;
	if (!max_entries)
		return -EINVAL;
	seed = hash_bytes(&max_entries, sizeof(max_entries), 0x6e6f6e6365ULL) ^
	       (uint64_t)(uintptr_t)&seed;
	table = cds_lfht_new_flavor(4096, 1024, 0,
				    CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING,
				    &urcu_memb_flavor, NULL);
	if (!table)
		return -ENOMEM;
	max_live = max_entries;
	atomic_store(&nlive, 0);
	atomic_store(&next_sweep_s, 0);
	return 0;
}

static void free_cb(struct rcu_head *h)
{
	free(caa_container_of(h, struct entry, rcu));
}

/* Remove @p n (inside a read section); the one who removes it frees it. */
static void retire(struct cds_lfht_node *n)
{
	if (cds_lfht_del(table, n) == 0) {
		atomic_fetch_sub_explicit(&nlive, 1, memory_order_relaxed);
		urcu_memb_call_rcu(
		    &caa_container_of(n, struct entry, node)->rcu, free_cb);
	}
}

void nonce_fini(void)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;

	if (!table)
		return;
	urcu_memb_read_lock();
	cds_lfht_for_each (table, &it, n)
		retire(n);
	urcu_memb_read_unlock();
	/* Every free_cb has run before the table goes. */
	urcu_memb_barrier();
	cds_lfht_destroy(table, NULL);
	table = NULL;
}

size_t nonce_count(void)
{
	return atomic_load_explicit(&nlive, memory_order_relaxed);
}

static int match(struct cds_lfht_node *n, const void *key)
{
	return caa_container_of(n, struct entry, node)->salt ==
	       *(const uint64_t *)key;
}

/* One pass over the table when a sweep is due and this caller claims it
 * (inside a read section). */
static void sweep(int64_t now_s, int64_t ttl_s)
{
	int64_t due = atomic_load_explicit(&next_sweep_s, memory_order_relaxed);
	bool busy =
	    atomic_load_explicit(&nlive, memory_order_relaxed) > max_live / 2;
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;

	if (now_s < due && !(busy && now_s + SWEEP_S - SWEEP_FULL_S >= due))
		return;
	if (!atomic_compare_exchange_strong(&next_sweep_s, &due,
					    now_s + SWEEP_S))
		return; /* another thread sweeps */
	cds_lfht_for_each (table, &it, n) {
		const struct entry *e = caa_container_of(n, struct entry, node);

		if (e->ts + ttl_s < now_s)
			retire(n);
	}
}

/* 0 when @p nc is above the count of @p e (now raised), else -EALREADY. */
static int raise_count(struct entry *e, uint32_t nc)
{
	uint32_t cur = atomic_load_explicit(&e->nc, memory_order_relaxed);

	/* Bounded: each failed exchange means the count grew. */
	while (nc > cur) {
		if (atomic_compare_exchange_weak_explicit(&e->nc, &cur, nc,
							  memory_order_acq_rel,
							  memory_order_relaxed))
			return 0;
	}
	return -EALREADY;
}

int nonce_use(uint64_t salt, int64_t ts, uint32_t nc, int64_t now_s,
	      int64_t ttl_s)
{
	unsigned long h = (unsigned long)hash_bytes(&salt, sizeof(salt), seed);
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;
	struct entry *e = NULL;
	int err;

	if (!table)
		return -EINVAL;
	urcu_memb_read_lock();
	sweep(now_s, ttl_s);
	cds_lfht_lookup(table, h, match, &salt, &it);
	n = cds_lfht_iter_get_node(&it);
	if (n) {
		err = raise_count(caa_container_of(n, struct entry, node), nc);
		goto out;
	}
	if (atomic_fetch_add_explicit(&nlive, 1, memory_order_relaxed) >=
	    max_live) {
		atomic_fetch_sub_explicit(&nlive, 1, memory_order_relaxed);
		err = -ENOSPC;
		goto out;
	}
	e = malloc(sizeof(*e));
	if (!e) {
		atomic_fetch_sub_explicit(&nlive, 1, memory_order_relaxed);
		err = -ENOMEM;
		goto out;
	}
	cds_lfht_node_init(&e->node);
	e->salt = salt;
	e->ts = ts;
	atomic_init(&e->nc, nc);
	n = cds_lfht_add_unique(table, h, match, &salt, &e->node);
	if (n != &e->node) {
		/* Another worker published this nonce first: its count
		 * decides. */
		atomic_fetch_sub_explicit(&nlive, 1, memory_order_relaxed);
		free(e);
		err = raise_count(caa_container_of(n, struct entry, node), nc);
		goto out;
	}
	err = 0;
out:
	urcu_memb_read_unlock();
	return err;
}
