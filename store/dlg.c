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
	bool any_tags;	 /* dlg_foreach_call_rcu(): the Call-ID only */
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
	if (k->any_tags)
		return 1;
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
	struct key k = { d->call_id, d->caller_tag, d->callee_tag, false,
			 false };
	struct cds_lfht_node *old;
	struct entry *e;
	size_t len;
	char *p;

	if (!table || !d->call_id.len || !d->caller_tag.len ||
	    !d->callee_tag.len)
		return -EINVAL;
	len = d->call_id.len + d->caller_tag.len + d->callee_tag.len +
	      d->caller.len + d->callee.len;
	for (unsigned i = 0; i < DLG__SIDES; i++)
		len += d->ua[i].contact.len + d->ua[i].route.len;
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
	for (unsigned i = 0; i < DLG__SIDES; i++) {
		e->d.ua[i].contact = put(&p, d->ua[i].contact);
		e->d.ua[i].route = put(&p, d->ua[i].route);
	}
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
	struct key k = { call_id, tag_a, tag_b, false, false };

	return remove_matching(&k, false) ? 0 : -ENOENT;
}

int dlg_remove_early(struct slice call_id, struct slice caller_tag)
{
	struct key k = { call_id, caller_tag, { NULL, 0 }, true, false };

	return remove_matching(&k, true);
}

const struct dlg *dlg_lookup_rcu(struct slice call_id, struct slice tag_a,
				 struct slice tag_b)
{
	struct key k = { call_id, tag_a, tag_b, false, false };
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;

	if (!table)
		return NULL;
	cds_lfht_lookup(table, key_hash(call_id), match, &k, &it);
	n = cds_lfht_iter_get_node(&it);
	return n ? &caa_container_of(n, struct entry, node)->d : NULL;
}

/* The entry of the dialog, with a reference (kept past the read
 * section, STYLE.md Memory), or NULL. */
static struct entry *take(struct slice call_id, struct slice tag_a,
			  struct slice tag_b)
{
	const struct dlg *d;
	struct entry *e = NULL;

	urcu_memb_read_lock();
	d = dlg_lookup_rcu(call_id, tag_a, tag_b);
	if (d)
		e = obj_tryget(caa_container_of(d, struct entry, d));
	urcu_memb_read_unlock();
	return e;
}

int dlg_note_request(struct slice call_id, struct slice from_tag,
		     struct slice to_tag, uint32_t cseq, struct slice contact)
{
	struct entry *e = take(call_id, from_tag, to_tag);
	enum dlg_side side;
	struct dlg nd;
	int err = 0;

	if (!e)
		return -ENOENT;
	side = slice_eq(e->d.caller_tag, from_tag) ? DLG_CALLER : DLG_CALLEE;
	if (cseq > e->d.ua[side].cseq ||
	    (contact.len && !slice_eq(contact, e->d.ua[side].contact))) {
		nd = e->d;
		if (cseq > nd.ua[side].cseq)
			nd.ua[side].cseq = cseq;
		if (contact.len)
			nd.ua[side].contact = contact;
		/* Same state: its time stays. */
		err = dlg_publish(&nd);
		if (!err)
			err = 1;
	}
	obj_put(e);
	return err;
}

int dlg_set_state(struct slice call_id, struct slice tag_a, struct slice tag_b,
		  enum dlg_state state)
{
	struct entry *e = take(call_id, tag_a, tag_b);
	struct dlg nd;
	int err = 0;

	if (!e)
		return -ENOENT;
	if (e->d.state != state) {
		nd = e->d;
		nd.state = state;
		nd.changed_ms = 0;
		err = dlg_publish(&nd);
	}
	obj_put(e);
	return err;
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

unsigned long dlg_foreach_call_rcu(struct slice call_id, dlg_visit_fn *fn,
				   void *arg)
{
	struct key k = { call_id, { NULL, 0 }, { NULL, 0 }, false, true };
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;
	unsigned long count = 0;

	if (!table)
		return 0;
	cds_lfht_lookup(table, key_hash(call_id), match, &k, &it);
	/* Bounded by the entries of one Call-ID. */
	while ((n = cds_lfht_iter_get_node(&it)) != NULL) {
		fn(&caa_container_of(n, struct entry, node)->d, arg);
		count++;
		cds_lfht_next_duplicate(table, match, &k, &it);
	}
	return count;
}

struct dlg_key dlg_key_of(const struct dlg *d)
{
	struct dlg_key k = { d->call_id, d->caller_tag, d->callee_tag };

	return k;
}

static int bytes_cmp(struct slice x, struct slice y)
{
	size_t n = x.len < y.len ? x.len : y.len;
	int c = n ? memcmp(x.p, y.p, n) : 0;

	if (c)
		return c;
	return x.len < y.len ? -1 : x.len > y.len ? 1 : 0;
}

int dlg_key_cmp(const struct dlg_key *a, const struct dlg_key *b)
{
	int c = bytes_cmp(a->call_id, b->call_id);

	if (!c)
		c = bytes_cmp(a->caller_tag, b->caller_tag);
	if (!c)
		c = bytes_cmp(a->callee_tag, b->callee_tag);
	return c;
}

static int entry_cmp(const struct dlg *x, const struct dlg *y)
{
	struct dlg_key a = dlg_key_of(x), b = dlg_key_of(y);

	return dlg_key_cmp(&a, &b);
}

static void heap_swap(const struct dlg **v, size_t i, size_t j)
{
	const struct dlg *t = v[i];

	v[i] = v[j];
	v[j] = t;
}

/* Restore the max-heap @p v of @p n below @p i. */
static void sift_down(const struct dlg **v, size_t n, size_t i)
{
	/* Bounded by the heap's height. */
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < n && entry_cmp(v[l], v[m]) > 0)
			m = l;
		if (r < n && entry_cmp(v[r], v[m]) > 0)
			m = r;
		if (m == i)
			return;
		heap_swap(v, i, m);
		i = m;
	}
}

size_t dlg_page_rcu(const struct dlg_key *after, const struct dlg **out,
		    size_t max, bool *morep)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;
	size_t count = 0, total = 0;

	*morep = false;
	if (!table || !max)
		return 0;
	/* A max-heap of the @p max first keys seen: its top is the one to
	 * drop when a smaller key comes. */
	cds_lfht_for_each (table, &it, n) {
		const struct dlg *d =
		    &caa_container_of(n, struct entry, node)->d;
		struct dlg_key k = dlg_key_of(d);
		size_t i;

		if (after && dlg_key_cmp(&k, after) <= 0)
			continue;
		total++;
		if (count < max) {
			i = count++;
			out[i] = d;
			/* Sift up: bounded by the heap's height. */
			while (i && entry_cmp(out[(i - 1) / 2], out[i]) < 0) {
				heap_swap(out, (i - 1) / 2, i);
				i = (i - 1) / 2;
			}
		} else if (entry_cmp(d, out[0]) < 0) {
			out[0] = d;
			sift_down(out, count, 0);
		}
	}
	/* Heap sort: the largest goes last, one by one. */
	for (size_t k = count; k > 1; k--) {
		heap_swap(out, 0, k - 1);
		sift_down(out, k - 1, 0);
	}
	*morep = total > count;
	return count;
}

struct dlg_hop dlg_hop_of(const struct peer *p)
{
	struct dlg_hop h;

	memset(&h, 0, sizeof(h));
	if (p->addr.ss_family == AF_INET &&
	    p->addrlen >= sizeof(struct sockaddr_in))
		memcpy(&h.addr.in, &p->addr, sizeof(h.addr.in));
	else if (p->addr.ss_family == AF_INET6 &&
		 p->addrlen >= sizeof(struct sockaddr_in6))
		memcpy(&h.addr.in6, &p->addr, sizeof(h.addr.in6));
	else
		h.addr.sa.sa_family = AF_UNSPEC;
	h.conn_id = p->conn_id;
	h.listen_idx =
	    p->listen_idx > UINT16_MAX ? UINT16_MAX : (uint16_t)p->listen_idx;
	h.proto = (uint8_t)p->proto;
	return h;
}

struct peer dlg_hop_peer(const struct dlg_hop *h)
{
	struct peer p;

	memset(&p, 0, sizeof(p));
	p.proto = (enum peer_proto)h->proto;
	if (h->addr.sa.sa_family == AF_INET) {
		memcpy(&p.addr, &h->addr.in, sizeof(h->addr.in));
		p.addrlen = sizeof(h->addr.in);
	} else if (h->addr.sa.sa_family == AF_INET6) {
		memcpy(&p.addr, &h->addr.in6, sizeof(h->addr.in6));
		p.addrlen = sizeof(h->addr.in6);
	}
	p.conn_id = h->conn_id;
	p.listen_idx = h->listen_idx;
	return p;
}

const char *dlg_state_name(enum dlg_state state)
{
	switch (state) {
	case DLG_EARLY:
		return "early";
	case DLG_CONFIRMED:
		return "confirmed";
	case DLG_TERMINATED:
		return "terminated";
	}
	return "unknown";
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
