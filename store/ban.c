/* store/ban.c - bans: failure counts and bans per (source, user) and per
 * source, shared by all workers (RCU hash table) */
#include "store/ban.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/base/hash.h"
#include "store/rcu.h"

#define SWEEP_S	     10
#define SWEEP_FULL_S 1

/* The key: kind, address family byte and address, user. */
struct key {
	uint8_t kind;
	uint8_t addr[17];
	uint8_t ulen;
	char user[BAN_USER_MAX];
};

/*
 * One entry. The key is immutable once published; the counts change by
 * atomic operations. Two workers that fail at the same moment may both
 * see an old window and restart it: the count is then off by one, never
 * out of bounds.
 */
struct entry {
	struct cds_lfht_node node;
	struct key k;
	_Atomic uint32_t fails;
	_Atomic int64_t start_s;
	_Atomic int64_t until_s;
	struct rcu_head rcu;
};

static struct cds_lfht *table;
static size_t max_live;
static atomic_size_t nlive;
static _Atomic int64_t next_sweep_s;

static const char why_pair[] = "failed authentications for this user";
static const char why_source[] = "failed authentications from this source";

int ban_init(size_t max_entries)
{
	if (table)
		return -EALREADY;
	if (!max_entries)
		return -EINVAL;
	table = cds_lfht_new_flavor(1024, 1024, 0,
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

static bool retire(struct cds_lfht_node *n)
{
	if (cds_lfht_del(table, n) != 0)
		return false;
	atomic_fetch_sub_explicit(&nlive, 1, memory_order_relaxed);
	urcu_memb_call_rcu(&caa_container_of(n, struct entry, node)->rcu,
			   free_cb);
	return true;
}

void ban_fini(void)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;

	if (!table)
		return;
	urcu_memb_read_lock();
	cds_lfht_for_each (table, &it, n)
		retire(n);
	urcu_memb_read_unlock();
	urcu_memb_barrier();
	cds_lfht_destroy(table, NULL);
	table = NULL;
}

size_t ban_count(void)
{
	return atomic_load_explicit(&nlive, memory_order_relaxed);
}

/* The address part of a key; -EAFNOSUPPORT for other families. */
static int addr_key(const struct sockaddr *sa, uint8_t *out)
{
	memset(out, 0, 17);
	if (sa->sa_family == AF_INET) {
		out[0] = 4;
		memcpy(out + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a =
		    &((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a)) {
			out[0] = 4;
			memcpy(out + 1, a->s6_addr + 12, 4);
		} else {
			out[0] = 6;
			memcpy(out + 1, a->s6_addr, 16);
		}
		return 0;
	}
	return -EAFNOSUPPORT;
}

static int make_key(enum ban_kind kind, const struct sockaddr *src,
		    struct slice user, struct key *k)
{
	memset(k, 0, sizeof(*k));
	k->kind = (uint8_t)kind;
	k->ulen = (uint8_t)(user.len < BAN_USER_MAX ? user.len : BAN_USER_MAX);
	if (k->ulen)
		memcpy(k->user, user.p, k->ulen);
	return addr_key(src, k->addr);
}

static unsigned long key_hash(const struct key *k)
{
	return (unsigned long)hash_bytes(k, sizeof(*k), 0xba5eba11ULL);
}

static int match(struct cds_lfht_node *n, const void *key)
{
	return memcmp(&caa_container_of(n, struct entry, node)->k, key,
		      sizeof(struct key)) == 0;
}

/* Expired: no ban in force and no failure inside the window. */
static bool is_dead(struct entry *e, int64_t now_s, int64_t window_s)
{
	return atomic_load_explicit(&e->until_s, memory_order_relaxed) <=
		   now_s &&
	       atomic_load_explicit(&e->start_s, memory_order_relaxed) +
		       window_s <=
		   now_s;
}

/* One pass when due and claimed (inside a read section). */
static void sweep(int64_t now_s, int64_t window_s)
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
		return;
	cds_lfht_for_each (table, &it, n) {
		struct entry *e = caa_container_of(n, struct entry, node);

		if (is_dead(e, now_s, window_s))
			retire(n);
	}
}

static struct entry *lookup(const struct key *k)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;

	cds_lfht_lookup(table, key_hash(k), match, k, &it);
	n = cds_lfht_iter_get_node(&it);
	return n ? caa_container_of(n, struct entry, node) : NULL;
}

/* The entry of @p k, made when missing (inside a read section). */
static int get_or_add(const struct key *k, int64_t now_s, struct entry **ep)
{
	struct cds_lfht_node *n;
	struct entry *e = lookup(k);

	if (e) {
		*ep = e;
		return 0;
	}
	if (atomic_fetch_add_explicit(&nlive, 1, memory_order_relaxed) >=
	    max_live) {
		atomic_fetch_sub_explicit(&nlive, 1, memory_order_relaxed);
		return -ENOSPC;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		atomic_fetch_sub_explicit(&nlive, 1, memory_order_relaxed);
		return -ENOMEM;
	}
	cds_lfht_node_init(&e->node);
	e->k = *k;
	atomic_init(&e->fails, 0);
	atomic_init(&e->start_s, now_s);
	atomic_init(&e->until_s, 0);
	n = cds_lfht_add_unique(table, key_hash(k), match, k, &e->node);
	if (n != &e->node) {
		atomic_fetch_sub_explicit(&nlive, 1, memory_order_relaxed);
		free(e);
		e = caa_container_of(n, struct entry, node);
	}
	*ep = e;
	return 0;
}

/* One failure on @p e; true when it reached @p max (now banned). */
static bool count_one(struct entry *e, int64_t now_s, unsigned max,
		      const struct ban_limits *l)
{
	int64_t start = atomic_load_explicit(&e->start_s, memory_order_relaxed);
	uint32_t n;

	if (start + (int64_t)l->window_s <= now_s &&
	    atomic_compare_exchange_strong(&e->start_s, &start, now_s))
		atomic_store_explicit(&e->fails, 0, memory_order_relaxed);
	n = atomic_fetch_add_explicit(&e->fails, 1, memory_order_relaxed) + 1;
	if (n < max)
		return false;
	atomic_store_explicit(&e->until_s, now_s + (int64_t)l->ban_s,
			      memory_order_relaxed);
	return n == max;
}

int ban_fail(enum ban_kind kind, const struct sockaddr *src, struct slice user,
	     int64_t now_s, const struct ban_limits *l, const char **reasonp)
{
	struct key k;
	struct entry *e;
	int err, ret = 0;

	if (!table)
		return -EINVAL;
	err = make_key(kind, src, slice_make(NULL, 0), &k);
	if (err)
		return err;
	urcu_memb_read_lock();
	sweep(now_s, l->window_s);
	err = get_or_add(&k, now_s, &e);
	if (!err && count_one(e, now_s, l->source_max, l)) {
		ret = 1;
		if (reasonp)
			*reasonp = why_source;
	}
	if (!err && user.len) {
		make_key(kind, src, user, &k);
		err = get_or_add(&k, now_s, &e);
		if (!err && count_one(e, now_s, l->pair_max, l) && !ret) {
			ret = 1;
			if (reasonp)
				*reasonp = why_pair;
		}
	}
	urcu_memb_read_unlock();
	return err ? err : ret;
}

int ban_put(enum ban_kind kind, const struct sockaddr *src, struct slice user,
	    int64_t now_s, unsigned ban_s)
{
	int64_t until = now_s + (int64_t)ban_s, cur;
	struct entry *e;
	struct key k;
	int err;

	if (!table)
		return -EINVAL;
	err = make_key(kind, src, user, &k);
	if (err)
		return err;
	urcu_memb_read_lock();
	sweep(now_s, ban_s);
	err = get_or_add(&k, now_s, &e);
	if (!err) {
		cur = atomic_load_explicit(&e->until_s, memory_order_relaxed);
		/* Bounded: each failed exchange saw a later value. */
		while (cur < until &&
		       !atomic_compare_exchange_weak(&e->until_s, &cur, until))
			;
	}
	urcu_memb_read_unlock();
	return err;
}

static bool banned(const struct key *k, int64_t now_s)
{
	struct entry *e = lookup(k);

	return e &&
	       atomic_load_explicit(&e->until_s, memory_order_relaxed) > now_s;
}

bool ban_is_banned(enum ban_kind kind, const struct sockaddr *src,
		   struct slice user, int64_t now_s)
{
	struct key k;
	bool b;

	if (!table || make_key(kind, src, slice_make(NULL, 0), &k))
		return false;
	urcu_memb_read_lock();
	b = banned(&k, now_s);
	if (!b && user.len) {
		make_key(kind, src, user, &k);
		b = banned(&k, now_s);
	}
	urcu_memb_read_unlock();
	return b;
}

/* The key's address as a sockaddr, port 0. */
static void key_addr(const struct key *k, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (k->addr[0] == 4) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		memcpy(&in->sin_addr, k->addr + 1, 4);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_addr, k->addr + 1, 16);
	}
}

size_t ban_foreach(int64_t now_s, ban_visit_fn *fn, void *arg)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;
	struct ban_info b;
	size_t calls = 0;

	if (!table)
		return 0;
	urcu_memb_read_lock();
	cds_lfht_for_each (table, &it, n) {
		struct entry *e = caa_container_of(n, struct entry, node);

		b.until_s =
		    atomic_load_explicit(&e->until_s, memory_order_relaxed);
		if (b.until_s <= now_s)
			continue;
		b.kind = (enum ban_kind)e->k.kind;
		key_addr(&e->k, &b.src);
		memcpy(b.user, e->k.user, e->k.ulen);
		b.user[e->k.ulen] = '\0';
		b.reason = e->k.kind != BAN_AUTH ? "request rate"
			   : e->k.ulen		 ? why_pair
						 : why_source;
		b.failures =
		    atomic_load_explicit(&e->fails, memory_order_relaxed);
		calls++;
		if (!fn(&b, arg))
			break;
	}
	urcu_memb_read_unlock();
	return calls;
}

int ban_remove(const struct sockaddr *src, const struct slice *user)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;
	uint8_t addr[17];
	struct key k;
	int err, removed = 0;

	if (!table)
		return -EINVAL;
	err = addr_key(src, addr);
	if (err)
		return err;
	if (user)
		make_key(BAN_AUTH, src, *user, &k);
	urcu_memb_read_lock();
	cds_lfht_for_each (table, &it, n) {
		struct entry *e = caa_container_of(n, struct entry, node);

		if (memcmp(e->k.addr, addr, sizeof(addr)) != 0)
			continue;
		if (user && (e->k.ulen != k.ulen ||
			     memcmp(e->k.user, k.user, k.ulen) != 0))
			continue;
		if (retire(n))
			removed++;
	}
	urcu_memb_read_unlock();
	return removed;
}
