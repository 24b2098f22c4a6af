/* store/loc.c - location table: AOR -> bindings (RCU hash table) */
#include "store/loc.h"

#include <assert.h>
#include <errno.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "proxy/base/hash.h"
#include "proxy/base/obj.h"
#include "proxy/base/stats.h"
#include "proxy/sip/msg.h"
#include "store/rcu.h"

/*
 * One published set: an obj whose first member is the public struct
 * loc_set (so that a struct loc_set pointer is the obj pointer readers
 * give to obj_tryget()), then the table's bookkeeping, then the
 * contacts and every byte they point to. The table holds one
 * reference; a retired entry drops it after a grace period.
 */
struct entry {
	struct loc_set set; /* first: the obj pointer */
	struct cds_lfht_node node;
	struct rcu_head rcu;
	unsigned long hash;
	int64_t stamp_ms; /* of the change that published it: above every
			     stamp of the set it replaced (store/loc.h) */
	alignas(max_align_t) struct loc_contact c[];
};

static struct cds_lfht *table;
static uint64_t seed;
static atomic_long naor;
static atomic_long ncontacts; /* in the published sets */
static loc_observer_fn *observer;

/*
 * The stamps of the latest removals of whole AORs, by hash bucket: a
 * writer that finds no set stamps its change above the removal it may
 * follow (store/loc.h "Stamps"). Buckets, not one value: one value
 * would be pushed ahead of the clock by a burst of removals.
 */
#define GONE_BUCKETS 1024
static _Atomic int64_t gone_ms[GONE_BUCKETS];

void loc_set_observer(loc_observer_fn *fn)
{
	observer = fn;
}

/* User exactly, domain without regard to case (store/loc.h). */
static unsigned long hash_aor(struct slice aor)
{
	struct slice user, dom;

	sipmsg_aor_split(aor, &user, &dom);
	return (unsigned long)hash_slice_case(dom, hash_slice(user, seed));
}

static int match(struct cds_lfht_node *node, const void *key)
{
	const struct entry *e = caa_container_of(node, struct entry, node);
	const struct slice *aor = key;
	struct slice u1, d1, u2, d2;

	sipmsg_aor_split(e->set.aor, &u1, &d1);
	sipmsg_aor_split(*aor, &u2, &d2);
	return slice_eq(u1, u2) && slice_caseeq(d1, d2);
}

/*
 * Table walk without cds_lfht_for_each_entry(), whose container_of on
 * the final NULL node is pointer arithmetic on NULL (UBSan). Inside a
 * read section.
 */
static struct entry *at(struct cds_lfht_iter *iter)
{
	struct cds_lfht_node *node = cds_lfht_iter_get_node(iter);

	return node ? caa_container_of(node, struct entry, node) : NULL;
}

static struct entry *first(struct cds_lfht_iter *iter)
{
	cds_lfht_first(table, iter);
	return at(iter);
}

static struct entry *next(struct cds_lfht_iter *iter)
{
	cds_lfht_next(table, iter);
	return at(iter);
}

/* The registry's view of the table (proxy/base/stats.h). */
static const struct stats_item stats_items[] = {
	{ "aors", "AORs with at least one contact", true },
	{ "contacts", "contacts registered, all AORs", true },
};

static void stats_read(void *arg, unsigned inst, uint64_t *v)
{
	(void)arg;
	(void)inst;
	v[0] = loc_count();
	v[1] = loc_contacts();
}

static const struct stats_source stats_src = {
	.module = "location",
	.items = stats_items,
	.nitems = sizeof(stats_items) / sizeof(stats_items[0]),
	.ninst = 1,
	.read = stats_read,
};

int loc_init(void)
{
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (uint64_t)(uintptr_t)&seed ^ 0x6c6f632d73656564ULL;
	atomic_store(&naor, 0);
	atomic_store(&ncontacts, 0);
	/* 64 Ki buckets from the start: the lazy automatic resize lags
	 * behind a burst of registrations, and long chains cost each
	 * lookup (2x at 100,000 AORs). It still grows beyond that. */
	table = cds_lfht_new_flavor(1UL << 16, 1UL << 16, 0,
				    CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING,
				    &urcu_memb_flavor, NULL);
	if (!table)
		return -ENOMEM;
	/* A full registry costs the counters, not the table. */
	(void)stats_add(&stats_src);
	return 0;
}

static void retire_cb(struct rcu_head *head)
{
	obj_put(caa_container_of(head, struct entry, rcu));
}

static void retire(struct entry *e)
{
	urcu_memb_call_rcu(&e->rcu, retire_cb);
}

void loc_fini(void)
{
	struct cds_lfht_iter iter;
	struct entry *e;

	if (!table)
		return;
	stats_remove(&stats_src);
	urcu_memb_read_lock();
	for (e = first(&iter); e; e = next(&iter)) {
		if (cds_lfht_del(table, &e->node) == 0)
			retire(e);
	}
	urcu_memb_read_unlock();
	/* Every retire_cb runs before the table and the process go. */
	urcu_memb_barrier();
	cds_lfht_destroy(table, NULL);
	table = NULL;
	atomic_store(&naor, 0);
	atomic_store(&ncontacts, 0);
}

const struct loc_set *loc_lookup_rcu(struct slice aor)
{
	struct cds_lfht_iter iter;
	struct cds_lfht_node *node;

	assert(urcu_memb_read_ongoing());
	if (!table || aor.len == 0)
		return NULL;
	cds_lfht_lookup(table, hash_aor(aor), match, &aor, &iter);
	node = cds_lfht_iter_get_node(&iter);
	return node ? &caa_container_of(node, struct entry, node)->set : NULL;
}

static int add_size(size_t *total, size_t n)
{
	if (*total > SIZE_MAX - n)
		return -ENOMEM;
	*total += n;
	return 0;
}

/* One slice into the entry's byte area at *pp. */
static struct slice put(char **pp, struct slice s)
{
	struct slice out = slice_make(*pp, s.len);

	if (s.len)
		memcpy(*pp, s.p, s.len);
	*pp += s.len;
	return out;
}

/* A new entry (one reference, not in the table) holding copies;
 * contacts without a stamp get @p stamp_ms. */
static int entry_new(struct slice aor, const struct loc_contact *c, unsigned n,
		     int64_t stamp_ms, struct entry **ep)
{
	size_t size = sizeof(struct entry), bytes = aor.len;
	struct entry *e;
	char *p;

	if (add_size(&size, (size_t)n * sizeof(*c)))
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		const struct loc_contact *x = &c[i];

		if (add_size(&bytes, x->uri.len) ||
		    add_size(&bytes, x->path.len) ||
		    add_size(&bytes, x->instance.len) ||
		    add_size(&bytes, x->call_id.len) ||
		    add_size(&bytes, x->user_agent.len))
			return -ENOMEM;
	}
	if (add_size(&size, bytes))
		return -ENOMEM;
	e = obj_new(size, NULL);
	if (!e)
		return -ENOMEM;
	p = (char *)&e->c[n];
	e->set.aor = put(&p, aor);
	e->set.n = n;
	e->set.c = e->c;
	for (unsigned i = 0; i < n; i++) {
		struct loc_contact *d = &e->c[i];

		*d = c[i];
		if (!d->stamp_ms)
			d->stamp_ms = stamp_ms;
		d->uri = put(&p, c[i].uri);
		d->path = put(&p, c[i].path);
		d->instance = put(&p, c[i].instance);
		d->call_id = put(&p, c[i].call_id);
		d->user_agent = put(&p, c[i].user_agent);
	}
	e->hash = hash_aor(aor);
	e->stamp_ms = stamp_ms;
	cds_lfht_node_init(&e->node);
	*ep = e;
	return 0;
}

/*
 * Remove @p aor; returns the entry taken out of the table (the caller
 * retires it), or NULL. The sweep may have replaced the node between
 * our lookup and our delete (its replace succeeds only on the node it
 * read, so it can do that at most once per sweep): look again. Bounded.
 * Inside a read section.
 */
static struct entry *remove_aor(struct slice aor, unsigned long hash)
{
	struct cds_lfht_iter iter;
	struct cds_lfht_node *node;

	for (int tries = 0; tries < 64; tries++) {
		cds_lfht_lookup(table, hash, match, &aor, &iter);
		node = cds_lfht_iter_get_node(&iter);
		if (!node)
			return NULL;
		if (cds_lfht_del(table, node) == 0) {
			return caa_container_of(node, struct entry, node);
		}
	}
	return NULL;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The stamp of a change made on top of @p e (NULL: the AOR of @p hash
 * had no set): now, but above every stamp of @p e, of the change that
 * published it, and (no set) of the last removal in its bucket. */
static int64_t stamp_after(const struct entry *e, unsigned long hash)
{
	int64_t stamp = now_ms(), floor;

	if (!e) {
		/* The caller saw the removal's node gone; the removal raised
		 * the floor before it deleted (note_gone()). */
		atomic_thread_fence(memory_order_seq_cst);
		floor = atomic_load(&gone_ms[hash % GONE_BUCKETS]);
		if (floor >= stamp && floor < INT64_MAX)
			stamp = floor + 1;
		return stamp;
	}
	if (e->stamp_ms >= stamp && e->stamp_ms < INT64_MAX)
		stamp = e->stamp_ms + 1;
	for (unsigned i = 0; i < e->set.n; i++)
		if (e->c[i].stamp_ms >= stamp && e->c[i].stamp_ms < INT64_MAX)
			stamp = e->c[i].stamp_ms + 1;
	return stamp;
}

/* Raise the removal stamp of @p hash's bucket to @p stamp. */
static void note_gone(unsigned long hash, int64_t stamp)
{
	_Atomic int64_t *g = &gone_ms[hash % GONE_BUCKETS];
	int64_t cur = atomic_load(g);

	while (cur < stamp && !atomic_compare_exchange_weak(g, &cur, stamp))
		;
}

/* The stamp of a change to @p aor (store/loc.h). Inside a read
 * section. */
static int64_t next_stamp(struct slice aor, unsigned long hash)
{
	struct cds_lfht_iter iter;
	struct cds_lfht_node *node;

	cds_lfht_lookup(table, hash, match, &aor, &iter);
	node = cds_lfht_iter_get_node(&iter);
	return stamp_after(
	    node ? caa_container_of(node, struct entry, node) : NULL, hash);
}

/*
 * After a swap: count, show the observer, retire what went. @p e is the
 * entry published (NULL: removed), with the reference the publisher
 * kept for the observer; @p old the one taken out (NULL: none).
 */
static void published(struct slice aor, struct entry *old, struct entry *e,
		      int64_t stamp)
{
	loc_observer_fn *fn = observer;
	long n = e ? (long)e->set.n : 0, was = old ? (long)old->set.n : 0;

	if (e && !old)
		atomic_fetch_add_explicit(&naor, 1, memory_order_relaxed);
	else if (!e && old)
		atomic_fetch_sub_explicit(&naor, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&ncontacts, n - was, memory_order_relaxed);
	if (fn && (old || e))
		fn(e ? e->set.aor : aor, old ? &old->set : NULL,
		   e ? &e->set : NULL, stamp);
	if (e)
		obj_put(e);
	/* Ours alone since the swap: retired after the observer saw it. */
	if (old)
		retire(old);
}

int loc_publish(struct slice aor, const struct loc_contact *c, unsigned n)
{
	struct cds_lfht_node *node;
	struct entry *e = NULL, *old = NULL;
	unsigned long hash;
	int64_t stamp;
	int err;

	if (aor.len == 0 || (n && !c) || !table)
		return -EINVAL;
	hash = hash_aor(aor);
	urcu_memb_read_lock();
	stamp = next_stamp(aor, hash);
	urcu_memb_read_unlock();
	if (n == 0) {
		note_gone(hash, stamp);
		urcu_memb_read_lock();
		old = remove_aor(aor, hash);
		urcu_memb_read_unlock();
		published(aor, old, NULL, stamp);
		return 0;
	}
	err = entry_new(aor, c, n, stamp, &e);
	if (err)
		return err;
	/* The observer reads the new set after the table owns it, when
	 * another writer may already have replaced it: keep it alive. */
	obj_get(e);
	urcu_memb_read_lock();
	node =
	    cds_lfht_add_replace(table, e->hash, match, &e->set.aor, &e->node);
	urcu_memb_read_unlock();
	if (node)
		old = caa_container_of(node, struct entry, node);
	published(aor, old, e, stamp);
	return 0;
}

int loc_publish_cas(struct slice aor, const struct loc_set *expect,
		    const struct loc_contact *c, unsigned n)
{
	/* A struct loc_set pointer is its entry's (struct entry). */
	struct entry *want = (struct entry *)(void *)expect, *e = NULL;
	struct cds_lfht_iter iter;
	struct cds_lfht_node *node;
	unsigned long hash;
	int64_t stamp;
	int err, ret = 0;

	if (aor.len == 0 || (n && !c) || !table)
		return -EINVAL;
	hash = hash_aor(aor);
	if (n == 0 && !want)
		return 0; /* nothing to remove, nothing read: no change */
	stamp = stamp_after(want, hash);
	if (n) {
		err = entry_new(aor, c, n, stamp, &e);
		if (err)
			return err;
		obj_get(e); /* for the observer, as loc_publish() */
	} else {
		/* Before the removal is seen: whoever then finds no set
		 * stamps above it. */
		note_gone(hash, stamp);
	}
	urcu_memb_read_lock();
	cds_lfht_lookup(table, hash, match, &aor, &iter);
	node = cds_lfht_iter_get_node(&iter);
	if (!want) {
		/* Read none: add only if there still is none. */
		if (node || cds_lfht_add_unique(table, hash, match, &e->set.aor,
						&e->node) != &e->node)
			ret = -EAGAIN;
	} else if (node != &want->node) {
		ret = -EAGAIN;
	} else if (!e) {
		/* Delete-if-same: fails when another writer replaced or
		 * removed this very node meanwhile. */
		if (cds_lfht_del(table, node) != 0)
			ret = -EAGAIN;
	} else if (cds_lfht_replace(table, &iter, hash, match, &e->set.aor,
				    &e->node) != 0) {
		ret = -EAGAIN; /* the node went between lookup and replace */
	}
	urcu_memb_read_unlock();
	if (ret) {
		if (e) {
			obj_put(e);
			obj_put(e);
		}
		return ret;
	}
	published(aor, want, e, stamp);
	return 0;
}

unsigned long loc_count(void)
{
	long n = atomic_load_explicit(&naor, memory_order_relaxed);

	return n > 0 ? (unsigned long)n : 0;
}

unsigned long loc_contacts(void)
{
	long n = atomic_load_explicit(&ncontacts, memory_order_relaxed);

	return n > 0 ? (unsigned long)n : 0;
}

/* Prune one entry found at @p iter; returns the contacts dropped. */
static unsigned long sweep_one(struct cds_lfht_iter *iter, struct entry *e,
			       int64_t now_s)
{
	struct loc_contact *keep;
	struct entry *ne;
	unsigned live = 0, n;

	for (unsigned i = 0; i < e->set.n; i++)
		if (e->c[i].expires_s > now_s)
			live++;
	if (live == e->set.n)
		return 0;
	if (live == 0) {
		/* Fails when a shard replaced it meanwhile. */
		if (cds_lfht_del(table, &e->node) != 0)
			return 0;
		atomic_fetch_sub_explicit(&naor, 1, memory_order_relaxed);
		n = e->set.n;
		atomic_fetch_sub_explicit(&ncontacts, (long)n,
					  memory_order_relaxed);
		retire(e);
		return n;
	}
	keep = malloc(live * sizeof(*keep));
	if (!keep)
		return 0;
	live = 0;
	for (unsigned i = 0; i < e->set.n; i++)
		if (e->c[i].expires_s > now_s)
			keep[live++] = e->c[i];
	if (entry_new(e->set.aor, keep, live, 0, &ne) != 0) {
		free(keep);
		return 0;
	}
	free(keep);
	/* Not a change: the next one still stamps above e's. */
	ne->stamp_ms = e->stamp_ms;
	/* Compare-and-swap on the node (store/loc.h). */
	if (cds_lfht_replace(table, iter, ne->hash, match, &ne->set.aor,
			     &ne->node) != 0) {
		obj_put(ne);
		return 0;
	}
	n = e->set.n;
	atomic_fetch_sub_explicit(&ncontacts, (long)(n - live),
				  memory_order_relaxed);
	retire(e);
	return n - live;
}

unsigned long loc_sweep(int64_t now_s)
{
	struct cds_lfht_iter iter;
	struct entry *e;
	unsigned long dropped = 0;

	if (!table)
		return 0;
	urcu_memb_read_lock();
	for (e = first(&iter); e; e = next(&iter))
		dropped += sweep_one(&iter, e, now_s);
	urcu_memb_read_unlock();
	return dropped;
}

/* Take a reference on @p e's set and append it to *@p vp, growing it;
 * false when out of memory. Called inside a read section: malloc never
 * waits for a grace period. */
static bool sets_push(const struct loc_set ***vp, size_t *np, size_t *capp,
		      struct entry *e)
{
	const struct loc_set **nv;

	if (*np == *capp) {
		nv = realloc(*vp, 2 * *capp * sizeof(**vp));
		if (!nv)
			return false;
		*vp = nv;
		*capp *= 2;
	}
	if (obj_tryget(e))
		(*vp)[(*np)++] = &e->set;
	return true;
}

int loc_get_all(const struct loc_set ***setsp, size_t *np)
{
	struct cds_lfht_iter iter;
	const struct loc_set **v = NULL;
	size_t n = 0, cap = loc_count() + 64;
	struct entry *e;
	bool short_of_memory = false;
	int err = -ENOMEM;

	v = malloc(cap * sizeof(*v));
	if (!v || !table)
		goto out;
	urcu_memb_read_lock();
	for (e = first(&iter); e; e = next(&iter)) {
		if (!sets_push(&v, &n, &cap, e)) {
			short_of_memory = true;
			break;
		}
	}
	urcu_memb_read_unlock();
	if (short_of_memory)
		goto out;
	*setsp = v;
	*np = n;
	v = NULL;
	n = 0;
	err = 0;
out:
	loc_put_all(v, n);
	return err;
}

void loc_put_all(const struct loc_set **sets, size_t n)
{
	for (size_t i = 0; i < n; i++)
		obj_put((void *)sets[i]);
	free(sets);
}

/* The order of the split-ordered list: the hash with its bits reversed. */
static unsigned long rev_bits(unsigned long v)
{
	unsigned long r = 0;

	for (unsigned i = 0; i < sizeof(v) * 8; i++, v >>= 1)
		r = (r << 1) | (v & 1);
	return r;
}

static int match_any(struct cds_lfht_node *node, const void *key)
{
	(void)node;
	(void)key;
	return 1;
}

/*
 * Inside a read section: the first entry after hash @p h in table order.
 * cds_lfht_lookup() lands on the first node of that hash when one is
 * left; else walk from the start (the last AOR of the page went away).
 */
static struct entry *seek(struct cds_lfht_iter *iter, unsigned long h)
{
	unsigned long rh = rev_bits(h);
	struct entry *e;

	cds_lfht_lookup(table, h, match_any, NULL, iter);
	e = at(iter);
	if (!e)
		e = first(iter);
	while (e && rev_bits(e->hash) <= rh)
		e = next(iter);
	return e;
}

static bool in_domain(const struct entry *e, struct slice domain)
{
	struct slice user, dom;

	if (!domain.len)
		return true;
	sipmsg_aor_split(e->set.aor, &user, &dom);
	return slice_caseeq(dom, domain);
}

int loc_get_page(struct loc_cursor from, struct slice domain, unsigned limit,
		 const struct loc_set ***setsp, size_t *np,
		 struct loc_cursor *nextp, bool *morep)
{
	struct cds_lfht_iter iter;
	const struct loc_set **v = NULL;
	size_t n = 0, cap = limit + 8, visited = 0;
	struct loc_cursor cur = from;
	struct entry *e;
	bool short_of_memory = false;
	int err = -EINVAL;

	if (limit < 1 || limit > LOC_PAGE_MAX)
		goto out;
	err = -ENOMEM;
	v = malloc(cap * sizeof(*v));
	if (!v || !table)
		goto out;
	urcu_memb_read_lock();
	e = cur.started ? seek(&iter, cur.hash) : first(&iter);
	for (; e; e = next(&iter)) {
		/* End a page only between two hashes (store/loc.h). */
		if (visited && e->hash != cur.hash &&
		    (n >= limit || visited >= LOC_PAGE_VISIT_MAX))
			break;
		visited++;
		cur.started = true;
		cur.hash = e->hash;
		if (!in_domain(e, domain))
			continue;
		if (!sets_push(&v, &n, &cap, e)) {
			short_of_memory = true;
			break;
		}
	}
	urcu_memb_read_unlock();
	if (short_of_memory)
		goto out;
	*setsp = v;
	*np = n;
	*nextp = cur;
	*morep = e != NULL;
	v = NULL;
	n = 0;
	err = 0;
out:
	loc_put_all(v, n);
	return err;
}
