/* proxy/nat.c - user agents behind NAT: detection, Contact fix, keep-alives
 */
#include "proxy/nat.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <urcu/compiler.h>

#include "proxy/base/arena.h"
#include "proxy/base/err.h"
#include "proxy/base/hash.h"
#include "proxy/base/log.h"
#include "proxy/base/obj.h"
#include "proxy/base/stats.h"
#include "proxy/base/timer.h"
#include "proxy/core/conf.h"
#include "proxy/core/shard.h"
#include "proxy/nat_conf.h"
#include "proxy/proxy_conf.h"
#include "proxy/sip/edit.h"
#include "proxy/sip/hdr.h"
#include "proxy/sip/msg.h"
#include "proxy/sip/peer.h"
#include "proxy/sip/request.h"
#include "proxy/sip/txn.h"
#include "proxy/sip/uri.h"
#include "store/loc.h"
#include "store/rcu.h"

/* Buckets of a shard's keep-alive table (chained; entries unbounded). */
#define NBUCKETS 1024u

/* Counters: rare events (a REGISTER from behind NAT, a keep-alive every
 * interval per binding), so one set shared by the shards, atomic. */
static struct nat_stats counters;
static const struct stats_source stats_src; /* below */

static void bump(uint64_t *p, int64_t v)
{
	__atomic_fetch_add(p, (uint64_t)v, __ATOMIC_RELAXED);
}

/* ---- detection ---------------------------------------------------- */

static bool in_range(const struct nat_range *r, const uint8_t *a, int family)
{
	unsigned bits = r->prefix, i;

	if (r->family != family)
		return false;
	for (i = 0; bits >= 8; i++, bits -= 8)
		if (a[i] != r->net[i])
			return false;
	if (bits) {
		uint8_t mask = (uint8_t)(0xffu << (8 - bits));

		if ((a[i] & mask) != (r->net[i] & mask))
			return false;
	}
	return true;
}

bool nat_addr_is_private(const struct nat_conf *nc,
			 const struct sockaddr_storage *ss)
{
	const uint8_t *a;

	if (ss->ss_family == AF_INET)
		a = (const uint8_t *)&((const struct sockaddr_in *)ss)
			->sin_addr;
	else if (ss->ss_family == AF_INET6)
		a = ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr;
	else
		return false;
	for (unsigned i = 0; i < nc->nranges; i++)
		if (in_range(&nc->ranges[i], a, ss->ss_family))
			return true;
	return false;
}

/* @p host (IPv4 or [IPv6]) and @p port into @p ss; -EINVAL for a name. */
static int host_addr(struct slice host, uint16_t port,
		     struct sockaddr_storage *ss)
{
	char ip[64];
	socklen_t len;

	if (host.len >= 2 && host.p[0] == '[' && host.p[host.len - 1] == ']')
		host = slice_make(host.p + 1, host.len - 2);
	if (host.len == 0 || host.len >= sizeof(ip))
		return -EINVAL;
	memcpy(ip, host.p, host.len);
	ip[host.len] = '\0';
	return peer_addr_parse(ip, port, ss, &len);
}

bool nat_host_is_private(const struct nat_conf *nc, struct slice host)
{
	struct sockaddr_storage ss;

	return host_addr(host, 0, &ss) == 0 && nat_addr_is_private(nc, &ss);
}

/* Same address and port (IPv4 or IPv6). */
static bool same_addr(const struct sockaddr_storage *a,
		      const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a,
					 *y = (const void *)b;

		return x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a,
					  *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
	}
	return false;
}

/* Host and port (@p dflt when 0) name the source @p from. */
static bool names_source(struct slice host, uint16_t port, uint16_t dflt,
			 const struct peer *from)
{
	struct sockaddr_storage ss;

	return host_addr(host, port ? port : dflt, &ss) == 0 &&
	       same_addr(&ss, &from->addr);
}

static bool is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)
				  ->sin_addr.s_addr) >>
			24) == 127;
	if (ss->ss_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(
		    &((const struct sockaddr_in6 *)ss)->sin6_addr);
	return false;
}

/* The first Contact of @p m: its header, name-addr and URI; false
 * when there is none, "*", or it does not parse. */
static bool first_contact(const struct sipmsg *m, const struct siphdr **hp,
			  struct nameaddr *na, struct sipuri *u)
{
	const struct siphdr *h = sipmsg_hdr(m, HDR_CONTACT);
	struct slice rest, e;

	if (!h)
		return false;
	rest = h->value;
	if (hdr_split_next(&rest, &e) != 1 || slice_eq(e, SLICE_LIT("*")) ||
	    nameaddr_parse(e, na) < 0 || uri_parse(na->uri, u) < 0 ||
	    (u->scheme != URI_SIP && u->scheme != URI_SIPS))
		return false;
	*hp = h;
	return true;
}

/* Via values of @p m, stopping at 2. */
static unsigned vias(const struct sipmsg *m)
{
	unsigned n = 0;

	for (const struct siphdr *h = sipmsg_hdr(m, HDR_VIA); h && n < 2;
	     h = sipmsg_hdr_next(m, h)) {
		struct slice rest = h->value, e;

		while (n < 2 && hdr_split_next(&rest, &e) == 1)
			n++;
	}
	return n;
}

/* The address of @p host (IPv4 or [IPv6]) is the source's address. */
static bool host_is_source(struct slice host, const struct peer *from)
{
	struct sockaddr_storage ss;

	if (host_addr(host, 0, &ss) != 0 ||
	    ss.ss_family != from->addr.ss_family)
		return false;
	if (ss.ss_family == AF_INET)
		return ((const struct sockaddr_in *)&ss)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)&from->addr)
			   ->sin_addr.s_addr;
	return memcmp(&((const struct sockaddr_in6 *)&ss)->sin6_addr,
		      &((const struct sockaddr_in6 *)&from->addr)->sin6_addr,
		      16) == 0;
}

unsigned nat_detect(const struct nat_conf *nc, const struct sipmsg *m,
		    const struct peer *from)
{
	const struct siphdr *h;
	struct nameaddr na;
	struct sipuri u;
	unsigned why = 0;

	if (is_loopback(&from->addr) || (m->is_request && vias(m) > 1))
		return 0;
	if (m->is_request && m->via.host.len &&
	    !names_source(
		m->via.host, m->via.port,
		slice_caseeq_cstr(m->via.transport, "TLS") ? 5061 : 5060, from))
		why |= NAT_VIA_DIFFERS;
	if (first_contact(m, &h, &na, &u) && nat_host_is_private(nc, u.host) &&
	    !host_is_source(u.host, from))
		why |= NAT_CONTACT_PRIVATE;
	return why;
}

int nat_fix_contact(struct edit_list *el, const struct sipmsg *m,
		    const struct peer *from, struct arena *a)
{
	const struct siphdr *h;
	struct nameaddr na;
	struct sipuri u;
	char ip[INET6_ADDRSTRLEN];
	const char *start, *end, *vend;
	uint16_t port;
	size_t cap;
	char *p;
	int n, err;

	if (!first_contact(m, &h, &na, &u))
		return 0;
	if (from->addr.ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)&from->addr;

		inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
		port = ntohs(s->sin_port);
	} else if (from->addr.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)&from->addr;

		inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
		port = ntohs(s->sin6_port);
	} else {
		return 0;
	}
	/* The URI's host:port, inside the header value: what goes. */
	start = u.host.p;
	end = u.port_str.len ? u.port_str.p + u.port_str.len
			     : u.host.p + u.host.len;
	vend = h->value.p + h->value.len;
	if (start < h->value.p || end > vend)
		return -EBADMSG;
	cap = h->value.len + sizeof(ip) + 16;
	p = arena_alloc(a, cap);
	if (!p)
		return -ENOMEM;
	n = snprintf(p, cap, "%.*s%s%s%s:%u%.*s", (int)(start - h->value.p),
		     h->value.p, from->addr.ss_family == AF_INET6 ? "[" : "",
		     ip, from->addr.ss_family == AF_INET6 ? "]" : "", port,
		     (int)(vend - end), end);
	if (n < 0 || (size_t)n >= cap)
		return -ENOSPC;
	err = edit_set_hdr(el, h, slice_make(p, (size_t)n));
	if (!err)
		bump(&counters.fixed, 1);
	return err;
}

/* ---- counters ------------------------------------------------------ */

void nat_stats(struct nat_stats *out)
{
	out->registered =
	    __atomic_load_n(&counters.registered, __ATOMIC_RELAXED);
	out->fixed = __atomic_load_n(&counters.fixed, __ATOMIC_RELAXED);
	out->keepalives =
	    __atomic_load_n(&counters.keepalives, __ATOMIC_RELAXED);
	out->failures = __atomic_load_n(&counters.failures, __ATOMIC_RELAXED);
	out->dropped = __atomic_load_n(&counters.dropped, __ATOMIC_RELAXED);
	out->tracked = __atomic_load_n(&counters.tracked, __ATOMIC_RELAXED);
}

static const struct stats_item stats_items[] = {
	{ "registered", "NAT'd bindings this node started keeping alive",
	  false },
	{ "contacts_fixed", "Contacts rewritten to the source address", false },
	{ "keepalives", "keep-alives sent to NAT'd bindings", false },
	{ "keepalive_failures", "keep-alives unanswered or not sent", false },
	{ "dropped", "NAT'd bindings removed after failed keep-alives", false },
	{ "tracked", "NAT'd bindings kept alive", true },
};

static void stats_read(void *arg, unsigned inst, uint64_t *v)
{
	struct nat_stats st;

	(void)arg;
	(void)inst;
	nat_stats(&st);
	v[0] = st.registered;
	v[1] = st.fixed;
	v[2] = st.keepalives;
	v[3] = st.failures;
	v[4] = st.dropped;
	v[5] = st.tracked;
}

static const struct stats_source stats_src = {
	.module = "nat",
	.items = stats_items,
	.nitems = sizeof(stats_items) / sizeof(stats_items[0]),
	.ninst = 1,
	.read = stats_read,
};

int nat_init(const struct conf *c)
{
	int err;

	(void)c;
	memset(&counters, 0, sizeof(counters));
	err = stats_add(&stats_src);
	return err == -EEXIST ? 0 : err;
}

void nat_fini(void)
{
	stats_remove(&stats_src);
}

/* ---- keep-alives --------------------------------------------------- */

/* One NAT'd binding kept alive. malloc'd with its strings after it. */
struct ka {
	struct ka *next;
	struct nat *n;
	struct timer t;
	uint64_t hash;
	struct slice aor, uri; /* into the allocation */
	struct peer to;
	unsigned failures; /* in a row */
	bool busy;	   /* an OPTIONS is under way */
	bool dead;	   /* unlinked while busy: free when it ends */
};

struct nat {
	struct shard *sh;
	struct timer_wheel *w;
	struct txn_layer *l;
	nat_send_fn *send;
	void *send_ctx;
	unsigned count;
	struct ka *b[NBUCKETS];
};

int nat_new(struct shard *sh, struct timer_wheel *w, struct txn_layer *l,
	    nat_send_fn *send, void *send_ctx, struct nat **np)
{
	struct nat *n = calloc(1, sizeof(*n));

	if (!n)
		return -ENOMEM;
	n->sh = sh;
	n->w = w;
	n->l = l;
	n->send = send;
	n->send_ctx = send_ctx;
	*np = n;
	return 0;
}

void nat_free(struct nat *n)
{
	if (!n)
		return;
	for (unsigned i = 0; i < NBUCKETS; i++) {
		struct ka *k;

		while ((k = n->b[i]) != NULL) {
			n->b[i] = k->next;
			timer_stop(n->w, &k->t);
			free(k);
			bump(&counters.tracked, -1);
		}
	}
	free(n);
}

unsigned nat_count(const struct nat *n)
{
	return n ? n->count : 0;
}

static uint64_t key_hash(struct slice aor, struct slice uri)
{
	return hash_slice(uri, hash_slice(aor, 0x6e6174));
}

static struct ka **find(struct nat *n, struct slice aor, struct slice uri,
			uint64_t h)
{
	struct ka **pp = &n->b[h % NBUCKETS];

	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->hash == h && slice_eq((*pp)->aor, aor) &&
		    slice_eq((*pp)->uri, uri))
			return pp;
	return NULL;
}

/* Take @p k out of the table; freed now, or when its OPTIONS ends. */
static void untrack(struct nat *n, struct ka *k)
{
	struct ka **pp = find(n, k->aor, k->uri, k->hash);

	if (pp && *pp == k) {
		*pp = k->next;
		n->count--;
		bump(&counters.tracked, -1);
	}
	timer_stop(n->w, &k->t);
	if (k->busy)
		k->dead = true;
	else
		free(k);
}

static uint64_t random_below(uint64_t max)
{
	uint64_t v = 0;

	if (max == 0)
		return 0;
	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != sizeof(v))
		v = (uint64_t)time(NULL) * 2654435761u;
	return v % max;
}

static void fire(struct timer *t);

int nat_track(struct nat *n, struct slice aor, struct slice uri,
	      const struct peer *to)
{
	const struct nat_conf *nc = nat_conf(shard_conf(n->sh));
	uint64_t h = key_hash(aor, uri);
	struct ka **pp, *k;
	char *p;

	if (!aor.len || !uri.len)
		return -EINVAL;
	if (nc->interval_s == 0)
		return 0;
	pp = find(n, aor, uri, h);
	if (pp) {
		/* A refresh: the same phase, the flow it came over now. */
		(*pp)->to = *to;
		(*pp)->failures = 0;
		return 0;
	}
	k = calloc(1, sizeof(*k) + aor.len + uri.len);
	if (!k)
		return -ENOMEM;
	p = (char *)(k + 1);
	memcpy(p, aor.p, aor.len);
	memcpy(p + aor.len, uri.p, uri.len);
	k->aor = slice_make(p, aor.len);
	k->uri = slice_make(p + aor.len, uri.len);
	k->hash = h;
	k->n = n;
	k->to = *to;
	k->next = n->b[h % NBUCKETS];
	n->b[h % NBUCKETS] = k;
	n->count++;
	bump(&counters.tracked, 1);
	bump(&counters.registered, 1);
	/* Its own phase: bindings registered together are not pinged
	 * together. */
	timer_start(n->w, &k->t,
		    1 + random_below((uint64_t)nc->interval_s * 1000), fire);
	return 0;
}

/* The binding of @p k in @p set: NAT'd, live, on k's flow; or -1. */
static int binding_of(const struct ka *k, const struct loc_set *set,
		      int64_t now_s)
{
	for (unsigned i = 0; set && i < set->n; i++) {
		const struct loc_contact *c = &set->c[i];

		if (slice_eq(c->uri, k->uri) && (c->flags & LOC_NAT) &&
		    (!c->expires_s || c->expires_s > now_s) &&
		    c->flow.proto == (int)k->to.proto &&
		    same_addr(&c->flow.addr, &k->to.addr))
			return (int)i;
	}
	return -1;
}

/* Remove the binding of @p k (failed keep-alives): a compare-and-swap,
 * read again when another shard changed the AOR meanwhile (any shard
 * may write it: store/loc.h loc_publish_cas()). */
static void drop_binding(struct nat *n, struct ka *k)
{
	const struct loc_set *set = NULL;
	struct loc_contact *v = NULL;
	unsigned m = 0, tries = 0;
	int i = -1, err = 0;

	do {
		obj_put((void *)set);
		free(v);
		v = NULL;
		m = 0;
		urcu_memb_read_lock();
		set = loc_lookup_rcu(k->aor);
		if (set && !obj_tryget((void *)set))
			set = NULL;
		urcu_memb_read_unlock();
		i = binding_of(k, set, (int64_t)time(NULL));
		if (i < 0)
			break;
		v = calloc(set->n, sizeof(*v));
		if (!v) {
			err = -ENOMEM;
			break;
		}
		for (unsigned j = 0; j < set->n; j++)
			if ((int)j != i)
				v[m++] = set->c[j];
		err = loc_publish_cas(k->aor, set, v, m);
	} while (err == -EAGAIN && ++tries < LOC_CAS_TRIES);
	if (i >= 0) {
		if (err) {
			log_msg(LOG_ERR, "nat: %.*s: could not remove %.*s: %s",
				(int)k->aor.len, k->aor.p, (int)k->uri.len,
				k->uri.p, err_str(err));
		} else {
			log_msg(LOG_INFO,
				"nat: %.*s: binding %.*s removed after %u "
				"failed keep-alives",
				(int)k->aor.len, k->aor.p, (int)k->uri.len,
				k->uri.p, k->failures);
			bump(&counters.dropped, 1);
		}
	}
	free(v);
	obj_put((void *)set);
	untrack(n, k);
}

/* One more failure of @p k: drop the binding at the limit. */
static void failed(struct nat *n, struct ka *k)
{
	bump(&counters.failures, 1);
	k->failures++;
	if (k->failures >= nat_conf(shard_conf(n->sh))->failures)
		drop_binding(n, k);
}

static void on_options(struct txn *ct, const struct sipmsg *m, unsigned status,
		       void *arg)
{
	struct ka *k = arg;

	(void)ct;
	/* Any response, even 404 or 405, shows the pinhole is open. */
	if (m && m->status < 200)
		return;
	k->busy = false;
	if (k->dead) {
		free(k);
		return;
	}
	(void)status;
	if (m)
		k->failures = 0;
	else
		failed(k->n, k);
}

/* "host:port" of the listen entry to reach @p to from (hangup.c's
 * rule: the entry it came in on, else the first of its family). */
static int via_host(const struct conf *c, const struct peer *to, char *buf,
		    size_t size)
{
	const struct conf_listen *l = NULL;
	int fam = to->addr.ss_family, n;

	if (to->listen_idx < c->nlisten &&
	    c->listen[to->listen_idx].addr.ss_family == fam)
		l = &c->listen[to->listen_idx];
	for (unsigned i = 0; !l && i < c->nlisten; i++)
		if (c->listen[i].addr.ss_family == fam)
			l = &c->listen[i];
	if (!l)
		return -EAFNOSUPPORT;
	if (l->adv_host)
		n = snprintf(buf, size, "%s:%u", l->adv_host, l->adv_port);
	else
		n = snprintf(buf, size,
			     strchr(l->address, ':') ? "[%s]:%u" : "%s:%u",
			     l->address, l->port);
	return n > 0 && (size_t)n < size ? 0 : -ENOSPC;
}

/* The OPTIONS of @p k into the shard's arena, its branch in @p branch. */
static int options_build(struct nat *n, struct ka *k, char *branch,
			 size_t *blenp, struct slice *outp)
{
	const struct conf *c = shard_conf(n->sh);
	char hostport[160], from[200], to[SIPMSG_AOR_MAX + 8];
	char tag[REQUEST_TAG_MAX], cid[REQUEST_CALL_ID_MAX];
	struct request_opts o;
	char *colon;
	int err, tn, cn;

	err = via_host(c, &k->to, hostport, sizeof(hostport));
	if (err)
		return err;
	snprintf(from, sizeof(from), "sip:keepalive@%s", hostport);
	snprintf(to, sizeof(to), "sip:%.*s", (int)k->aor.len, k->aor.p);
	tn = request_tag_make(tag, sizeof(tag));
	if (tn < 0)
		return tn;
	cn = request_call_id_make(SLICE_LIT("nat"), cid, sizeof(cid));
	if (cn < 0)
		return cn;
	*blenp = txn_branch_make(n->l, 0, branch);
	memset(&o, 0, sizeof(o));
	o.method = SIP_OPTIONS;
	o.ruri = k->uri;
	o.to_uri = slice_cstr(to);
	o.from_uri = slice_cstr(from);
	o.from_tag = slice_make(tag, (size_t)tn);
	o.call_id = slice_make(cid, (size_t)cn);
	o.cseq = 1;
	o.via_transport = slice_cstr(peer_proto_name(k->to.proto));
	/* hostport: "host:port", "[v6]:port". */
	colon = strrchr(hostport, ':');
	if (!colon)
		return -EINVAL;
	*colon = '\0';
	o.via_host = slice_cstr(hostport);
	o.via_port = (uint16_t)atoi(colon + 1);
	o.branch = slice_make(branch, *blenp);
	o.max_forwards = 1;
	return request_build(&o, shard_arena(n->sh), outp);
}

static void fire(struct timer *t)
{
	struct ka *k = caa_container_of(t, struct ka, t);
	struct nat *n = k->n;
	const struct nat_conf *nc = nat_conf(shard_conf(n->sh));
	char branch[TXN_BRANCH_MAX];
	struct slice out;
	struct txn *ct;
	size_t blen = 0;
	int i, err;

	urcu_memb_read_lock();
	i = binding_of(k, loc_lookup_rcu(k->aor), (int64_t)time(NULL));
	urcu_memb_read_unlock();
	/* Gone, refreshed from elsewhere, or keep-alives turned off. */
	if (i < 0 || nc->interval_s == 0) {
		untrack(n, k);
		return;
	}
	timer_start(n->w, &k->t, (uint64_t)nc->interval_s * 1000, fire);
	if (nc->method == NAT_CRLF) {
		bump(&counters.keepalives, 1);
		err = n->send(n->send_ctx, &k->to, "\r\n\r\n", 4);
		if (err)
			failed(n, k);
		else
			k->failures = 0;
		return;
	}
	/* The last one is still under way (interval below its timeout):
	 * its answer or its timeout will count. */
	if (k->busy)
		return;
	err = options_build(n, k, branch, &blen, &out);
	bump(&counters.keepalives, 1);
	/* Busy before the send: an outcome may be told at once. */
	k->busy = true;
	if (!err)
		err = txn_cli_new(n->l, NULL, SIP_OPTIONS, &k->to,
				  slice_make(branch, blen), out.p, out.len, 0,
				  on_options, k, &ct);
	if (err) {
		k->busy = false;
		failed(n, k);
	}
}
