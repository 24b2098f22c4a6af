/* store/dlg.c - dialog table: Call-ID + tags -> dialog state (RCU hash table)
 */
#include "store/dlg.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proxy/base/hash.h"
#include "proxy/base/obj.h"
#include "proxy/base/stats.h"
#include "store/rcu.h"

/* One published entry: an obj, freed by call_rcu after removal. */
struct entry {
	struct cds_lfht_node node;
	struct rcu_head rcu;
	struct dlg d;
	char data[];
};

/* The lookup key: tags in either order. */
struct key {
	struct slice call_id, a, b;
	bool early_only; /* dlg_remove_early(): any callee tag */
};

static struct cds_lfht *table;
static uint64_t seed;
/* Entries in the table, for dlg_count() from any thread: counting the
 * nodes would need an RCU-registered reader and a walk. */
static atomic_long nlive;

int64_t dlg_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The registry's view of the table (proxy/base/stats.h). */
static const struct stats_item stats_items[] = {
	{ "live", "dialogs in the table (early and confirmed)", true },
};

static void stats_read(void *arg, unsigned inst, uint64_t *v)
{
	(void)arg;
	(void)inst;
	v[0] = dlg_count();
}

static const struct stats_source stats_src = {
	.module = "dialog",
	.items = stats_items,
	.nitems = sizeof(stats_items) / sizeof(stats_items[0]),
	.ninst = 1,
	.read = stats_read,
};

int dlg_init(void)
{
	struct timespec ts;

	if (table)
		return -EALREADY;
	clock_gettime(CLOCK_REALTIME, &ts);
	seed = hash_bytes(&ts, sizeof(ts), 0xd1a1065eedULL);
	atomic_store(&nlive, 0);
	/* Sized for the calls of a busy node up front: a lazily grown
	 * table makes lookups slower while its resize lags. */
	table = cds_lfht_new_flavor(65536, 1024, 0,
				    CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING,
				    &urcu_memb_flavor, NULL);
	if (!table)
		return -ENOMEM;
	/* A full registry costs the counter, not the dialogs. */
	(void)stats_add(&stats_src);
	return 0;
}

static void free_cb(struct rcu_head *h)
{
	obj_put(caa_container_of(h, struct entry, rcu));
}

static void retire(struct entry *e)
{
	urcu_memb_call_rcu(&e->rcu, free_cb);
}

void dlg_fini(void)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;

	if (!table)
		return;
	stats_remove(&stats_src);
	urcu_memb_read_lock();
	cds_lfht_for_each (table, &it, n) {
		if (cds_lfht_del(table, n) == 0) {
			atomic_fetch_sub_explicit(&nlive, 1,
						  memory_order_relaxed);
			retire(caa_container_of(n, struct entry, node));
		}
	}
	urcu_memb_read_unlock();
	/* Every free_cb has run before the table goes. */
	urcu_memb_barrier();
	cds_lfht_destroy(table, NULL);
	table = NULL;
}

static unsigned long key_hash(struct slice call_id)
{
	return (unsigned long)hash_slice(call_id, seed);
}

static int match(struct cds_lfht_node *n, const void *arg)
{
	const struct entry *e = caa_container_of(n, struct entry, node);
	const struct key *k = arg;

	if (!slice_eq(e->d.call_id, k->call_id))
		return 0;
	if (k->early_only)
		return e->d.state == DLG_EARLY &&
		       slice_eq(e->d.caller_tag, k->a);
	return (slice_eq(e->d.caller_tag, k->a) &&
		slice_eq(e->d.callee_tag, k->b)) ||
	       (slice_eq(e->d.caller_tag, k->b) &&
		slice_eq(e->d.callee_tag, k->a));
}

static struct slice put(char **pp, struct slice s)
{
	struct slice r = slice_make(*pp, s.len);

	if (s.len)
		memcpy(*pp, s.p, s.len);
	*pp += s.len;
	return r;
}

int dlg_publish(const struct dlg *d)
{
	struct key k = { d->call_id, d->caller_tag, d->callee_tag, false };
	struct cds_lfht_node *old;
	struct entry *e;
	size_t len;
	char *p;

	if (!table || !d->call_id.len || !d->caller_tag.len ||
	    !d->callee_tag.len)
		return -EINVAL;
	len = d->call_id.len + d->caller_tag.len + d->callee_tag.len +
	      d->caller.len + d->callee.len;
	e = obj_new(sizeof(*e) + len, NULL);
	if (!e)
		return -ENOMEM;
	cds_lfht_node_init(&e->node);
	e->d = *d;
	p = e->data;
	e->d.call_id = put(&p, d->call_id);
	e->d.caller_tag = put(&p, d->caller_tag);
	e->d.callee_tag = put(&p, d->callee_tag);
	e->d.caller = put(&p, d->caller);
	e->d.callee = put(&p, d->callee);
	if (!e->d.changed_ms)
		e->d.changed_ms = dlg_now_ms();
	k.call_id = e->d.call_id;
	k.a = e->d.caller_tag;
	k.b = e->d.callee_tag;
	if (!e->d.created_ms)
		e->d.created_ms = e->d.changed_ms;
	urcu_memb_read_lock();
	old = cds_lfht_add_replace(table, key_hash(k.call_id), match, &k,
				   &e->node);
	urcu_memb_read_unlock();
	if (old)
		retire(caa_container_of(old, struct entry, node));
	else
		atomic_fetch_add_explicit(&nlive, 1, memory_order_relaxed);
	return 0;
}

static int remove_matching(const struct key *k, bool all)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;
	int count = 0;

	if (!table)
		return 0;
	urcu_memb_read_lock();
	cds_lfht_lookup(table, key_hash(k->call_id), match, k, &it);
	/* Bounded by the entries of one Call-ID. */
	while ((n = cds_lfht_iter_get_node(&it)) != NULL) {
		if (cds_lfht_del(table, n) == 0) {
			atomic_fetch_sub_explicit(&nlive, 1,
						  memory_order_relaxed);
			retire(caa_container_of(n, struct entry, node));
			count++;
		}
		if (!all)
			break;
		cds_lfht_next_duplicate(table, match, k, &it);
	}
	urcu_memb_read_unlock();
	return count;
}

int dlg_remove(struct slice call_id, struct slice tag_a, struct slice tag_b)
{
	struct key k = { call_id, tag_a, tag_b, false };

	return remove_matching(&k, false) ? 0 : -ENOENT;
}

int dlg_remove_early(struct slice call_id, struct slice caller_tag)
{
	struct key k = { call_id, caller_tag, { NULL, 0 }, true };

	return remove_matching(&k, true);
}

const struct dlg *dlg_lookup_rcu(struct slice call_id, struct slice tag_a,
				 struct slice tag_b)
{
	struct key k = { call_id, tag_a, tag_b, false };
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;

	if (!table)
		return NULL;
	cds_lfht_lookup(table, key_hash(call_id), match, &k, &it);
	n = cds_lfht_iter_get_node(&it);
	return n ? &caa_container_of(n, struct entry, node)->d : NULL;
}

unsigned long dlg_count(void)
{
	long n = atomic_load_explicit(&nlive, memory_order_relaxed);

	return n > 0 ? (unsigned long)n : 0;
}

unsigned long dlg_foreach_rcu(dlg_visit_fn *fn, void *arg)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;
	unsigned long count = 0;

	if (!table)
		return 0;
	cds_lfht_for_each (table, &it, n) {
		fn(&caa_container_of(n, struct entry, node)->d, arg);
		count++;
	}
	return count;
}

unsigned dlg_sweep(unsigned owner, int64_t now_ms, int64_t early_ms,
		   int64_t confirmed_ms, int64_t terminated_ms)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;
	unsigned count = 0;

	if (!table)
		return 0;
	urcu_memb_read_lock();
	cds_lfht_for_each (table, &it, n) {
		struct entry *e = caa_container_of(n, struct entry, node);
		int64_t age = now_ms - e->d.changed_ms;
		int64_t max = e->d.state == DLG_EARLY	    ? early_ms
			      : e->d.state == DLG_CONFIRMED ? confirmed_ms
							    : terminated_ms;

		if (e->d.owner != owner || age <= max)
			continue;
		if (cds_lfht_del(table, n) == 0) {
			atomic_fetch_sub_explicit(&nlive, 1,
						  memory_order_relaxed);
			retire(e);
			count++;
		}
	}
	urcu_memb_read_unlock();
	return count;
}
