/* store/park.c - park slot table: (domain, slot) -> the parked call (RCU
 * hash table; the Redis backend in park_redis.c) */
#include "store/park.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <inttypes.h>

#include "proxy/base/hash.h"
#include "store/park_priv.h"
#include "store/rcu.h"

/* One published record; immutable once added, freed by call_rcu. */
struct entry {
	struct cds_lfht_node node;
	struct rcu_head rcu;
	struct park_rec r;
};

struct key {
	struct slice domain;
	unsigned slot;
};

static struct cds_lfht *table;
static uint64_t seed;
static atomic_uint_fast64_t next_token;
static atomic_long nlive;
static park_watch_fn *watch_fn;
static void *watch_arg;
static char node_id[PARK_NODE_MAX + 1];
static pthread_mutex_t self_lk = PTHREAD_MUTEX_INITIALIZER;
static char self_pool[PARK_POOL_MAX + 1];
static char self_proxy[PARK_PROXY_MAX + 1];
static _Atomic(park_takeover_fn *) take_fn;
static _Atomic(park_lost_fn *) lost_fn;
static void *_Atomic take_arg;

struct park__redis *park__rd;

const char *park_node_id(void)
{
	return node_id;
}

bool park_is_local(const struct park_rec *r)
{
	return strcmp(r->node, node_id) == 0;
}

void park_set_self(const char *pool_uri)
{
	pthread_mutex_lock(&self_lk);
	snprintf(self_pool, sizeof(self_pool), "%s", pool_uri ? pool_uri : "");
	pthread_mutex_unlock(&self_lk);
}

void park_set_proxy(const char *hostports)
{
	pthread_mutex_lock(&self_lk);
	snprintf(self_proxy, sizeof(self_proxy), "%s",
		 hostports ? hostports : "");
	pthread_mutex_unlock(&self_lk);
}

void park_self_proxy(char *out, size_t size)
{
	if (!size)
		return;
	pthread_mutex_lock(&self_lk);
	snprintf(out, size, "%s", self_proxy);
	pthread_mutex_unlock(&self_lk);
}

void park_set_takeover(park_takeover_fn *fn, park_lost_fn *lost, void *arg)
{
	atomic_store(&take_arg, arg);
	atomic_store(&lost_fn, lost);
	atomic_store(&take_fn, fn);
}

park_lost_fn *park__loser(void **argp)
{
	park_lost_fn *fn = atomic_load(&lost_fn);

	*argp = atomic_load(&take_arg);
	return fn;
}

park_takeover_fn *park__taker(void **argp)
{
	park_takeover_fn *fn = atomic_load(&take_fn);

	*argp = atomic_load(&take_arg);
	return fn;
}

/* Who holds what r is about to claim: this node. */
static void stamp_self(struct park_rec *r)
{
	memcpy(r->node, node_id, sizeof(r->node));
	pthread_mutex_lock(&self_lk);
	memcpy(r->pool, self_pool, sizeof(r->pool));
	memcpy(r->proxy, self_proxy, sizeof(r->proxy));
	pthread_mutex_unlock(&self_lk);
}

void park__stamp(struct park_rec *r)
{
	stamp_self(r);
	r->holder =
	    atomic_fetch_add_explicit(&next_token, 2, memory_order_relaxed);
}

int park_redis_start(struct redis *r)
{
	if (!table)
		return -EINVAL;
	if (park__rd)
		return -EALREADY;
	return park__redis_start(r, &park__rd);
}

void park__tell(const struct park_rec *r, enum park_change what)
{
	if (watch_fn)
		watch_fn(r, what, watch_arg);
}

void park_set_watch(park_watch_fn *fn, void *arg)
{
	watch_fn = fn;
	watch_arg = arg;
}

static void tell(const struct park_rec *r, enum park_change what)
{
	if (watch_fn)
		watch_fn(r, what, watch_arg);
}

int park_init(void)
{
	uint64_t t = 0;

	if (table)
		return -EALREADY;
	/* Tokens start at a random point: a stale holder from another
	 * table's life never matches (and 0 is never handed out). */
	if (getrandom(&t, sizeof(t), GRND_NONBLOCK) != sizeof(t))
		t = (uint64_t)time(NULL) << 20;
	/* The node id: another random draw, so a restarted node is a new
	 * node whose old records nobody mistakes for its own. */
	{
		uint64_t id = 0;

		if (getrandom(&id, sizeof(id), GRND_NONBLOCK) != sizeof(id))
			id = t * 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid();
		snprintf(node_id, sizeof(node_id), "%016" PRIx64, id);
	}
	atomic_store(&next_token, t | 1);
	seed = t ^ 0x9a4bfeedULL;
	atomic_store(&nlive, 0);
	table = cds_lfht_new_flavor(1024, 1024, 0, CDS_LFHT_AUTO_RESIZE,
				    &urcu_memb_flavor, NULL);
	return table ? 0 : -ENOMEM;
}

static void free_cb(struct rcu_head *h)
{
	free(caa_container_of(h, struct entry, rcu));
}

void park_fini(void)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;

	if (!table)
		return;
	park__redis_stop(park__rd);
	park__rd = NULL;
	urcu_memb_read_lock();
	cds_lfht_for_each (table, &it, n)
		if (cds_lfht_del(table, n) == 0) {
			atomic_fetch_sub(&nlive, 1);
			urcu_memb_call_rcu(
			    &caa_container_of(n, struct entry, node)->rcu,
			    free_cb);
		}
	urcu_memb_read_unlock();
	urcu_memb_barrier();
	cds_lfht_destroy(table, NULL);
	table = NULL;
}

static unsigned long key_hash(struct slice domain, unsigned slot)
{
	return (unsigned long)hash_slice_case(domain, seed ^ slot);
}

static int match(struct cds_lfht_node *n, const void *arg)
{
	const struct entry *e = caa_container_of(n, struct entry, node);
	const struct key *k = arg;

	return e->r.slot == k->slot &&
	       slice_caseeq_cstr(k->domain, e->r.domain);
}

static bool domain_ok(struct slice d)
{
	return d.len > 0 && d.len <= PARK_DOMAIN_MAX;
}

int park_claim(struct park_rec *r, unsigned min, unsigned max, unsigned want)
{
	struct slice d = slice_cstr(r->domain);
	struct cds_lfht_node *got;
	struct entry *e;
	unsigned first = want ? want : min, last = want ? want : max;

	if (!table || !domain_ok(d) || min == 0 || min > max ||
	    (want && (want < min || want > max)))
		return -EINVAL;
	stamp_self(r);
	if (park__rd) {
		struct park_rec c = *r;
		int err;

		if (!c.since_s)
			c.since_s = (int64_t)time(NULL);
		c.holder = atomic_fetch_add_explicit(&next_token, 2,
						     memory_order_relaxed);
		err = park__redis_claim(park__rd, &c, min, max, want);
		if (err)
			return err;
		r->slot = c.slot;
		r->holder = c.holder;
		r->since_s = c.since_s;
		tell(r, PARK_CHANGE_PARKED);
		return 0;
	}
	e = malloc(sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->r = *r;
	if (!e->r.since_s)
		e->r.since_s = (int64_t)time(NULL);
	e->r.holder =
	    atomic_fetch_add_explicit(&next_token, 2, memory_order_relaxed);
	/* One insert per slot tried: the node is not published until an
	 * insert succeeds, so its key may change between tries. */
	urcu_memb_read_lock();
	for (unsigned s = first; s <= last; s++) {
		struct key k = { d, s };

		e->r.slot = s;
		cds_lfht_node_init(&e->node);
		got = cds_lfht_add_unique(table, key_hash(d, s), match, &k,
					  &e->node);
		if (got == &e->node) {
			urcu_memb_read_unlock();
			atomic_fetch_add(&nlive, 1);
			r->slot = s;
			r->holder = e->r.holder;
			r->since_s = e->r.since_s;
			tell(r, PARK_CHANGE_PARKED);
			return 0;
		}
	}
	urcu_memb_read_unlock();
	free(e);
	return -EBUSY;
}

/* The entry of @p domain/@p slot (its place in *itp), inside a read
 * section. */
static struct entry *find_it_rcu(struct slice domain, unsigned slot,
				 struct cds_lfht_iter *itp)
{
	struct key k = { domain, slot };
	struct cds_lfht_node *n;

	cds_lfht_lookup(table, key_hash(domain, slot), match, &k, itp);
	n = cds_lfht_iter_get_node(itp);
	return n ? caa_container_of(n, struct entry, node) : NULL;
}

static struct entry *find_rcu(struct slice domain, unsigned slot)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;

	n = find_it_rcu(domain, slot, &it) ? cds_lfht_iter_get_node(&it) : NULL;
	return n ? caa_container_of(n, struct entry, node) : NULL;
}

int park_release(struct slice domain, unsigned slot, uint64_t holder)
{
	struct park_rec was;
	struct entry *e;
	int err = 0;

	if (!table)
		return -ENOENT;
	if (park__rd) {
		err = park__redis_release(park__rd, domain, slot, holder, &was);
		if (!err)
			tell(&was, PARK_CHANGE_FREED);
		return err;
	}
	urcu_memb_read_lock();
	e = find_rcu(domain, slot);
	if (!e)
		err = -ENOENT;
	else if (e->r.holder != holder)
		err = -EPERM;
	else if (cds_lfht_del(table, &e->node))
		err = -ENOENT; /* another release won */
	else
		was = e->r;
	urcu_memb_read_unlock();
	if (err)
		return err;
	atomic_fetch_sub(&nlive, 1);
	urcu_memb_call_rcu(&e->rcu, free_cb);
	tell(&was, PARK_CHANGE_FREED);
	return 0;
}

int park_update(const struct park_rec *r)
{
	struct slice d = slice_cstr(r->domain);
	struct key k = { d, r->slot };
	struct cds_lfht_iter it;
	struct entry *e, *nw;
	int err = 0;

	if (!table)
		return -ENOENT;
	if (park__rd) {
		err = park__redis_update(park__rd, r);
		if (!err)
			tell(r, PARK_CHANGE_UPDATED);
		return err;
	}
	nw = malloc(sizeof(*nw));
	if (!nw)
		return -ENOMEM;
	urcu_memb_read_lock();
	e = find_it_rcu(d, r->slot, &it);
	if (!e)
		err = -ENOENT;
	else if (e->r.holder != r->holder)
		err = -EPERM;
	if (!err) {
		nw->r = *r;
		memcpy(nw->r.domain, e->r.domain, sizeof(nw->r.domain));
		nw->r.since_s = e->r.since_s;
		cds_lfht_node_init(&nw->node);
		/* Only the holder replaces its record: no race but a
		 * release by the same holder, which the caller orders. */
		if (cds_lfht_replace(table, &it, key_hash(d, r->slot), match,
				     &k, &nw->node))
			err = -ENOENT;
	}
	urcu_memb_read_unlock();
	if (err) {
		free(nw);
		return err;
	}
	urcu_memb_call_rcu(&e->rcu, free_cb);
	tell(r, PARK_CHANGE_UPDATED);
	return 0;
}

int park_get(struct slice domain, unsigned slot, struct park_rec *out)
{
	struct entry *e;
	int err = -ENOENT;

	if (!table)
		return -ENOENT;
	if (park__rd)
		return park__redis_get(park__rd, domain, slot, out);
	urcu_memb_read_lock();
	e = find_rcu(domain, slot);
	if (e) {
		*out = e->r;
		err = 0;
	}
	urcu_memb_read_unlock();
	return err;
}

static int cmp_rec(const void *a, const void *b)
{
	const struct park_rec *x = a, *y = b;
	int c = strcmp(x->domain, y->domain);

	if (c)
		return c;
	return x->slot < y->slot ? -1 : x->slot > y->slot;
}

int park_list(struct slice domain, struct park_rec *out, size_t max)
{
	struct cds_lfht_iter it;
	struct entry *e;
	size_t n = 0, kept = 0;

	if (!table || domain.len > PARK_DOMAIN_MAX)
		return -EINVAL;
	if (park__rd)
		return park__redis_list(park__rd, domain, out, max);
	urcu_memb_read_lock();
	cds_lfht_for_each_entry (table, &it, e, node) {
		if (domain.len && !slice_caseeq_cstr(domain, e->r.domain))
			continue;
		if (kept < max)
			out[kept++] = e->r;
		n++;
	}
	urcu_memb_read_unlock();
	if (kept > 1)
		qsort(out, kept, sizeof(*out), cmp_rec);
	return n > (size_t)INT32_MAX ? INT32_MAX : (int)n;
}

int park_route_of(struct slice domain, unsigned slot, char *pool, size_t size)
{
	if (!park__rd)
		return -ENOENT;
	return park__redis_route_of(park__rd, domain, slot, pool, size);
}

size_t park_count(void)
{
	long n;

	if (park__rd)
		return park__redis_count(park__rd);
	n = atomic_load(&nlive);

	return n > 0 ? (size_t)n : 0;
}
