/* proxy/dns.c - RFC 3263 next hops: c-ares on a shard's loop, a TTL cache */
#include "proxy/dns.h"

#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <ares.h>
#include <uv.h>

#include "proxy/base/log.h"
#include "proxy/base/stats.h"
#include "proxy/dns_conf.h"
#include "proxy/sip/uri.h"

/* What is cached, and for how long when the answer has no TTL. */
enum { Q_A, Q_AAAA, Q_SRV, Q_NAPTR };
static const int qtype[] = { 1, 28, 33, 35 };

/* An answer whose TTL is 0 (dnsmasq's local records by default) is still
 * kept this long, so that one request's NAPTR -> SRV -> A chain ends. */
#define MIN_TTL_S 1u
#define MAX_TTL_S 86400u
/* RFC 2308 negative caching, kept short: NXDOMAIN and "no records". */
#define NEG_TTL_S 5u
/* A failed lookup (timeout, SERVFAIL, refused) is tried again after. */
#define FAIL_TTL_S 2u
#define BUCKETS	   256u
#define MAX_WANT   64u
/* Most records kept from one answer. */
#define MAX_RR 16u
/* Most requests one shard holds for lookups (dns_wait()). */
#define MAX_WAITERS 10000u

struct rr {
	uint16_t order, pref, port; /* NAPTR order/pref; SRV prio/weight/port */
	uint8_t proto;		    /* NAPTR: enum peer_proto */
	char *host;		    /* SRV target, NAPTR replacement */
	struct sockaddr_storage addr; /* A, AAAA (port 0) */
	socklen_t addrlen;
};

struct waiter {
	dns_done_fn *cb;
	void *arg;
	unsigned left;
	struct waiter *next_ready;
};

struct link {
	struct link *next;
	struct waiter *w;
};

struct entry {
	struct entry *next; /* bucket chain */
	struct dns *d;
	int type;
	int status; /* 0, -ENOENT, -ENODATA, -EHOSTUNREACH, -EINPROGRESS */
	uint64_t expires_ms;
	uint64_t gen; /* the dns_resolve() that last used it */
	struct link *waiters;
	unsigned nrr;
	struct rr rr[MAX_RR];
	char name[];
};

struct poll {
	uv_poll_t h;
	struct poll *next;
	struct dns *d;
	ares_socket_t fd;
};

/* Counters of one shard's resolver; only that shard writes them. */
struct dns_stats {
	uint64_t queries, hits, answers, nxdomain, failures, refused, waiting,
	    cached;
};

static const struct stats_item stats_items[] = {
	{ "queries", "DNS queries sent (a cache miss or an expired answer)",
	  false },
	{ "hits", "lookups answered from the cache", false },
	{ "answers", "queries answered with records", false },
	{ "nxdomain", "queries answered: no such name, or no such records",
	  false },
	{ "failures", "queries that failed: timeout, SERVFAIL, refused",
	  false },
	{ "refused",
	  "lookups refused at once (their requests get 503): the cache "
	  "was full of lookups under way, or too many requests waited",
	  false },
	{ "waiting", "requests held for lookups now", true },
	{ "cached", "answers and lookups in the cache now", true },
};

_Static_assert(sizeof(struct dns_stats) == sizeof(stats_items) /
					       sizeof(stats_items[0]) *
					       sizeof(uint64_t),
	       "a dns_stats row is its items, in order");

static struct stats_rows rows = {
	.width = sizeof(stats_items) / sizeof(stats_items[0]),
};

static struct stats_source stats_src = {
	.module = "dns",
	.items = stats_items,
	.nitems = sizeof(stats_items) / sizeof(stats_items[0]),
	.label = "shard",
};

int dns_init(unsigned nshards)
{
	return nshards ? stats_rows_add(&stats_src, &rows, nshards) : 0;
}

void dns_fini(void)
{
	stats_rows_remove(&stats_src, &rows);
}

struct dns {
	uv_loop_t *loop;
	struct dns_stats *st;
	struct dns_stats none; /* without dns_init() (unit tests) */
	ares_channel ch;
	uv_timer_t timer;
	struct poll *polls;
	struct entry *bucket[BUCKETS];
	unsigned count, max;
	uint64_t gen;
	struct entry *want[MAX_WANT];
	unsigned nwant;
	struct waiter *ready;
	unsigned nwaiters;
	uint64_t rnd; /* xorshift state for RFC 2782 weights */
	bool closing;
};

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static int lib_err;

static void lib_init(void)
{
	lib_err = ares_library_init(ARES_LIB_INIT_ALL);
}

static unsigned hash(int type, const char *name)
{
	uint32_t h = 2166136261u ^ (uint32_t)type;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 16777619u;
	return h % BUCKETS;
}

static void rr_clear(struct entry *e)
{
	for (unsigned i = 0; i < e->nrr; i++)
		free(e->rr[i].host);
	e->nrr = 0;
}

static struct entry *find(struct dns *d, int type, const char *name)
{
	for (struct entry *e = d->bucket[hash(type, name)]; e; e = e->next)
		if (e->type == type && strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

static void unlink_entry(struct dns *d, struct entry *e)
{
	struct entry **pp = &d->bucket[hash(e->type, e->name)];

	while (*pp != e)
		pp = &(*pp)->next;
	*pp = e->next;
	d->count--;
	stats_set(&d->st->cached, d->count);
	/* Not to be waited for any more (dns_wait()). */
	for (unsigned i = 0; i < d->nwant; i++)
		if (d->want[i] == e)
			d->want[i--] = d->want[--d->nwant];
	rr_clear(e);
	free(e);
}

/* Make room: the entry that expires first goes, except those running or
 * used by the dns_resolve() under way. Bounded by the table. */
static void evict(struct dns *d, uint64_t now)
{
	struct entry *victim = NULL;

	for (unsigned b = 0; b < BUCKETS; b++)
		for (struct entry *e = d->bucket[b]; e; e = e->next) {
			if (e->status == -EINPROGRESS || e->gen == d->gen)
				continue;
			if (e->expires_ms <= now) {
				victim = e;
				goto out;
			}
			if (!victim || e->expires_ms < victim->expires_ms)
				victim = e;
		}
out:
	if (victim)
		unlink_entry(d, victim);
}

/* The smallest TTL of the answer section of @p abuf, or MIN_TTL_S. */
static unsigned answer_ttl(const unsigned char *abuf, int alen)
{
	const unsigned char *p = abuf + 12, *end = abuf + alen;
	unsigned qd, an, ttl = MAX_TTL_S;
	long enclen;
	char *name;

	if (alen < 12)
		return MIN_TTL_S;
	qd = (unsigned)abuf[4] << 8 | abuf[5];
	an = (unsigned)abuf[6] << 8 | abuf[7];
	for (unsigned i = 0; i < qd && i < 4; i++) {
		if (ares_expand_name(p, abuf, alen, &name, &enclen) !=
		    ARES_SUCCESS)
			return MIN_TTL_S;
		ares_free_string(name);
		p += enclen + 4;
		if (p > end)
			return MIN_TTL_S;
	}
	for (unsigned i = 0; i < an && i < 64; i++) {
		unsigned t, rdlen;

		if (ares_expand_name(p, abuf, alen, &name, &enclen) !=
		    ARES_SUCCESS)
			break;
		ares_free_string(name);
		p += enclen;
		if (end - p < 10)
			break;
		t = (unsigned)p[4] << 24 | (unsigned)p[5] << 16 |
		    (unsigned)p[6] << 8 | p[7];
		rdlen = (unsigned)p[8] << 8 | p[9];
		p += 10 + rdlen;
		if (t < ttl)
			ttl = t;
		if (p > end)
			break;
	}
	return ttl < MIN_TTL_S ? MIN_TTL_S : ttl;
}

static int parse_addr(struct entry *e, const unsigned char *abuf, int alen)
{
	int n = MAX_RR, st;

	if (e->type == Q_A) {
		struct ares_addrttl a[MAX_RR];

		st = ares_parse_a_reply(abuf, alen, NULL, a, &n);
		for (int i = 0; st == ARES_SUCCESS && i < n; i++) {
			struct sockaddr_in *s = (void *)&e->rr[i].addr;

			s->sin_family = AF_INET;
			s->sin_addr = a[i].ipaddr;
			e->rr[i].addrlen = sizeof(*s);
			e->nrr++;
		}
	} else {
		struct ares_addr6ttl a[MAX_RR];

		st = ares_parse_aaaa_reply(abuf, alen, NULL, a, &n);
		for (int i = 0; st == ARES_SUCCESS && i < n; i++) {
			struct sockaddr_in6 *s = (void *)&e->rr[i].addr;

			s->sin6_family = AF_INET6;
			memcpy(&s->sin6_addr, &a[i].ip6addr, 16);
			e->rr[i].addrlen = sizeof(*s);
			e->nrr++;
		}
	}
	return st;
}

static int parse_srv(struct entry *e, const unsigned char *abuf, int alen)
{
	struct ares_srv_reply *s, *head = NULL;
	int st = ares_parse_srv_reply(abuf, alen, &head);

	for (s = head; st == ARES_SUCCESS && s && e->nrr < MAX_RR;
	     s = s->next) {
		struct rr *r = &e->rr[e->nrr];

		/* RFC 2782: a target of "." means "not offered here". */
		if (!s->host[0] || strcmp(s->host, ".") == 0)
			continue;
		r->order = s->priority;
		r->pref = s->weight;
		r->port = s->port;
		r->host = strdup(s->host);
		if (!r->host) {
			st = ARES_ENOMEM;
			break;
		}
		e->nrr++;
	}
	if (head)
		ares_free_data(head);
	return st == ARES_SUCCESS && !e->nrr ? ARES_ENODATA : st;
}

/* NAPTR service -> transport we speak (RFC 3263 §4.1), or -1. */
static int naptr_proto(const char *service)
{
	if (strcasecmp(service, "SIP+D2U") == 0)
		return PEER_UDP;
	if (strcasecmp(service, "SIP+D2T") == 0)
		return PEER_TCP;
	if (strcasecmp(service, "SIPS+D2T") == 0)
		return PEER_TLS;
	return -1;
}

static int parse_naptr(struct entry *e, const unsigned char *abuf, int alen)
{
	struct ares_naptr_reply *n, *head = NULL;
	int st = ares_parse_naptr_reply(abuf, alen, &head);

	for (n = head; st == ARES_SUCCESS && n && e->nrr < MAX_RR;
	     n = n->next) {
		struct rr *r = &e->rr[e->nrr];
		int proto = naptr_proto((const char *)n->service);

		/* Only SRV-pointing ("s") records of our transports. */
		if (proto < 0 || !strchr((const char *)n->flags, 's') ||
		    !n->replacement[0])
			continue;
		r->order = n->order;
		r->pref = n->preference;
		r->proto = (uint8_t)proto;
		r->host = strdup(n->replacement);
		if (!r->host) {
			st = ARES_ENOMEM;
			break;
		}
		e->nrr++;
	}
	if (head)
		ares_free_data(head);
	return st == ARES_SUCCESS && !e->nrr ? ARES_ENODATA : st;
}

static void query_cb(void *arg, int status, int timeouts, unsigned char *abuf,
		     int alen)
{
	struct entry *e = arg;
	struct dns *d = e->d;
	unsigned ttl = FAIL_TTL_S;

	(void)timeouts;
	rr_clear(e);
	if (status == ARES_SUCCESS) {
		if (e->type == Q_A || e->type == Q_AAAA)
			status = parse_addr(e, abuf, alen);
		else if (e->type == Q_SRV)
			status = parse_srv(e, abuf, alen);
		else
			status = parse_naptr(e, abuf, alen);
	}
	switch (status) {
	case ARES_SUCCESS:
		e->status = 0;
		ttl = answer_ttl(abuf, alen);
		stats_inc(&d->st->answers);
		break;
	case ARES_ENOTFOUND:
		e->status = -ENOENT;
		ttl = NEG_TTL_S;
		stats_inc(&d->st->nxdomain);
		break;
	case ARES_ENODATA:
		e->status = -ENODATA;
		ttl = NEG_TTL_S;
		stats_inc(&d->st->nxdomain);
		break;
	default:
		rr_clear(e);
		if (status != ARES_EDESTRUCTION && status != ARES_ECANCELLED)
			stats_inc(&d->st->failures);
		e->status = -EHOSTUNREACH;
		if (!d->closing && log_enabled(LOG_INFO))
			log_msg(LOG_INFO, "dns: %s (type %d): %s", e->name,
				qtype[e->type], ares_strerror(status));
		break;
	}
	e->expires_ms = uv_now(d->loop) + ttl * 1000u;
	/* The waiters run once ares is out of its callbacks (run_ready()). */
	while (e->waiters) {
		struct link *l = e->waiters;

		e->waiters = l->next;
		if (--l->w->left == 0) {
			l->w->next_ready = d->ready;
			d->ready = l->w;
		}
		free(l);
	}
}

static void run_ready(struct dns *d)
{
	/* Bounded: each waiter runs once; new ones wait for new answers. */
	while (d->ready) {
		struct waiter *w = d->ready;

		d->ready = w->next_ready;
		d->nwaiters--;
		stats_set(&d->st->waiting, d->nwaiters);
		w->cb(w->arg, d->closing ? -ECANCELED : 0);
		free(w);
	}
}

static void timer_cb(uv_timer_t *t);

static void arm(struct dns *d)
{
	struct timeval tv, *tvp;

	if (d->closing)
		return;
	tvp = ares_timeout(d->ch, NULL, &tv);
	if (!tvp) {
		uv_timer_stop(&d->timer);
		return;
	}
	uv_timer_start(&d->timer, timer_cb,
		       (uint64_t)tvp->tv_sec * 1000u +
			   ((uint64_t)tvp->tv_usec + 999u) / 1000u,
		       0);
}

static void timer_cb(uv_timer_t *t)
{
	struct dns *d = t->data;

	ares_process_fd(d->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	arm(d);
	run_ready(d);
}

static void poll_cb(uv_poll_t *h, int status, int events)
{
	struct poll *p = (struct poll *)h;
	struct dns *d = p->d;
	ares_socket_t fd = p->fd;

	/* An error is given to c-ares as readable: it reads and fails. */
	ares_process_fd(
	    d->ch, status < 0 || (events & UV_READABLE) ? fd : ARES_SOCKET_BAD,
	    status == 0 && (events & UV_WRITABLE) ? fd : ARES_SOCKET_BAD);
	arm(d);
	run_ready(d);
}

static void poll_close_cb(uv_handle_t *h)
{
	free(h);
}

/* c-ares opens, watches and closes its sockets: we mirror that in
 * uv_poll handles on the loop. */
static void sock_cb(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dns *d = data;
	struct poll **pp = &d->polls, *p;

	while (*pp && (*pp)->fd != fd)
		pp = &(*pp)->next;
	p = *pp;
	if (!readable && !writable) {
		if (p) {
			*pp = p->next;
			uv_poll_stop(&p->h);
			uv_close((uv_handle_t *)&p->h, poll_close_cb);
		}
		return;
	}
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p)
			return; /* the query times out */
		if (uv_poll_init_socket(d->loop, &p->h, fd)) {
			free(p);
			return;
		}
		p->d = d;
		p->fd = fd;
		p->next = d->polls;
		d->polls = p;
	}
	uv_poll_start(
	    &p->h, (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0),
	    poll_cb);
}

int dns_new(struct uv_loop_s *loop, const struct dns_conf *dc, unsigned inst,
	    struct dns **dp)
{
	struct ares_options o;
	struct dns *d;
	int st;

	pthread_once(&lib_once, lib_init);
	if (lib_err != ARES_SUCCESS)
		return -EIO;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->loop = loop;
	d->st = (struct dns_stats *)stats_rows_row(&rows, inst);
	if (!d->st)
		d->st = &d->none;
	d->rnd = uv_hrtime() ^ (uint64_t)(uintptr_t)d ^ 0x9e3779b97f4a7c15u;
	d->max = dc->cache_max ? dc->cache_max : DNS_CACHE_MAX_DEFAULT;
	memset(&o, 0, sizeof(o));
	o.sock_state_cb = sock_cb;
	o.sock_state_cb_data = d;
	o.timeout = (int)dc->timeout_ms;
	o.tries = (int)dc->attempts;
	st = ares_init_options(&d->ch, &o,
			       ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS |
				   ARES_OPT_TRIES);
	if (st != ARES_SUCCESS) {
		free(d);
		return st == ARES_ENOMEM ? -ENOMEM : -EIO;
	}
	if (dc->servers[0] &&
	    ares_set_servers_ports_csv(d->ch, dc->servers) != ARES_SUCCESS) {
		ares_destroy(d->ch);
		free(d);
		return -EIO;
	}
	uv_timer_init(loop, &d->timer);
	d->timer.data = d;
	*dp = d;
	return 0;
}

static void timer_close_cb(uv_handle_t *h)
{
	free(h->data);
}

void dns_free(struct dns *d)
{
	if (!d)
		return;
	d->closing = true;
	/* Every running query ends now (ARES_EDESTRUCTION), its sockets are
	 * closed (sock_cb closes their handles). */
	ares_destroy(d->ch);
	run_ready(d);
	for (unsigned b = 0; b < BUCKETS; b++)
		while (d->bucket[b])
			unlink_entry(d, d->bucket[b]);
	uv_timer_stop(&d->timer);
	uv_close((uv_handle_t *)&d->timer, timer_close_cb);
}

static void want(struct dns *d, struct entry *e)
{
	for (unsigned i = 0; i < d->nwant; i++)
		if (d->want[i] == e)
			return;
	if (d->nwant < MAX_WANT)
		d->want[d->nwant++] = e;
}

/* The answer of (@p type, @p name) in *ep: 0, -EINPROGRESS (asked now or
 * before; noted for dns_wait()), -EAGAIN (the cache is full of lookups
 * under way), -ENOMEM. */
static int get(struct dns *d, int type, const char *name, struct entry **ep)
{
	uint64_t now = uv_now(d->loop);
	struct entry *e = find(d, type, name);

	if (e && e->status != -EINPROGRESS && e->expires_ms > now) {
		e->gen = d->gen;
		stats_inc(&d->st->hits);
		*ep = e;
		return 0;
	}
	if (!e) {
		size_t len = strlen(name);

		if (d->count >= d->max)
			evict(d, now);
		/* Full of lookups under way (a flood of names): refuse. */
		if (d->count >= d->max) {
			stats_inc(&d->st->refused);
			return -EAGAIN;
		}
		e = calloc(1, sizeof(*e) + len + 1);
		if (!e)
			return -ENOMEM;
		memcpy(e->name, name, len + 1);
		e->d = d;
		e->type = type;
		e->next = d->bucket[hash(type, name)];
		d->bucket[hash(type, name)] = e;
		d->count++;
		stats_set(&d->st->cached, d->count);
	}
	e->gen = d->gen;
	if (e->status == -EINPROGRESS) {
		want(d, e);
		return -EINPROGRESS;
	}
	/* Absent or expired: ask. c-ares may answer at once (no server). */
	e->status = -EINPROGRESS;
	stats_inc(&d->st->queries);
	ares_query(d->ch, name, 1 /* IN */, qtype[type], query_cb, e);
	arm(d);
	if (e->status != -EINPROGRESS) {
		*ep = e;
		return 0;
	}
	want(d, e);
	return -EINPROGRESS;
}

/* What one resolution collects. */
struct acc {
	struct peer *out;
	unsigned n, max;
	bool pending;
	int err; /* why nothing was found: -ENOENT or -EHOSTUNREACH */
};

static void note_err(struct acc *a, int status)
{
	if (status == -EHOSTUNREACH || status == -ENOMEM || status == -EAGAIN)
		a->err = status == -EAGAIN ? -EHOSTUNREACH : status;
}

static void add(struct acc *a, const struct sockaddr_storage *ss, socklen_t len,
		uint16_t port, int proto)
{
	struct peer *p;

	if (a->n >= a->max)
		return;
	p = &a->out[a->n];
	memset(p, 0, sizeof(*p));
	p->proto = (enum peer_proto)proto;
	p->addr = *ss;
	p->addrlen = len;
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)&p->addr)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&p->addr)->sin6_port = htons(port);
	a->n++;
}

/* A and AAAA of @p host, each address on @p port over @p proto. */
static void addrs(struct dns *d, const char *host, uint16_t port, int proto,
		  struct acc *a)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int types[] = { Q_A, Q_AAAA };
	struct entry *e[2];
	int st[2];

	/* An SRV target that is an IP literal (not per RFC 2782, seen). */
	if (peer_addr_parse(host, port, &ss, &len) == 0) {
		add(a, &ss, len, port, proto);
		return;
	}
	for (int i = 0; i < 2; i++)
		st[i] = get(d, types[i], host, &e[i]);
	for (int i = 0; i < 2; i++) {
		if (st[i] == -EINPROGRESS) {
			a->pending = true;
			continue;
		}
		if (st[i]) {
			note_err(a, st[i]);
			continue;
		}
		if (e[i]->status) {
			note_err(a, e[i]->status);
			continue;
		}
		if (a->pending)
			continue;
		for (unsigned k = 0; k < e[i]->nrr; k++)
			add(a, &e[i]->rr[k].addr, e[i]->rr[k].addrlen, port,
			    proto);
	}
}

/* RFC 2782: by priority; within one, a weighted random order (a record
 * of weight 0 has a small chance of going first). */
static unsigned rnd(struct dns *d)
{
	d->rnd ^= d->rnd << 13;
	d->rnd ^= d->rnd >> 7;
	d->rnd ^= d->rnd << 17;
	return (unsigned)(d->rnd >> 32);
}

static void srv_order(struct dns *d, const struct entry *e, unsigned *idx)
{
	unsigned n = e->nrr, done = 0;
	bool used[MAX_RR] = { false };

	while (done < n) {
		unsigned prio = UINT16_MAX + 1u, sum = 0, pick, run = 0;

		for (unsigned i = 0; i < n; i++)
			if (!used[i] && e->rr[i].order < prio)
				prio = e->rr[i].order;
		for (unsigned i = 0; i < n; i++)
			if (!used[i] && e->rr[i].order == prio)
				sum += e->rr[i].pref;
		pick = sum ? rnd(d) % (sum + 1u) : 0;
		for (unsigned i = 0; i < n; i++) {
			if (used[i] || e->rr[i].order != prio)
				continue;
			run += e->rr[i].pref;
			if (run >= pick) {
				used[i] = true;
				idx[done++] = i;
				break;
			}
		}
	}
}

/* SRV @p name: 1 when it has records (their targets are added, or
 * pending), 0 when it has none or failed. */
static int srv(struct dns *d, const char *name, int proto, struct acc *a)
{
	unsigned idx[MAX_RR];
	struct entry *e;
	int st = get(d, Q_SRV, name, &e);

	if (st == -EINPROGRESS) {
		a->pending = true;
		return 1;
	}
	if (st || e->status) {
		note_err(a, st ? st : e->status);
		return 0;
	}
	srv_order(d, e, idx);
	for (unsigned i = 0; i < e->nrr; i++)
		addrs(d, e->rr[idx[i]].host, e->rr[idx[i]].port, proto, a);
	return 1;
}

static const char *const srv_prefix[] = { "_sip._udp.", "_sip._tcp.",
					  "_sips._tcp." };

static int srv_of(struct dns *d, const char *host, int proto, struct acc *a)
{
	char name[300];

	snprintf(name, sizeof(name), "%s%s", srv_prefix[proto], host);
	return srv(d, name, proto, a);
}

static int by_order(const void *x, const void *y)
{
	const struct rr *p = *(struct rr *const *)x,
			*q = *(struct rr *const *)y;

	if (p->order != q->order)
		return p->order < q->order ? -1 : 1;
	return p->pref < q->pref ? -1 : p->pref > q->pref;
}

int dns_resolve(struct dns *d, struct slice uri, struct peer *out, unsigned max)
{
	struct acc a = { .out = out, .max = max, .err = -ENOENT };
	struct sipuri u;
	struct slice v, h;
	char host[256];
	bool sips, explicit_tp = false;
	int proto;

	if (uri_parse(uri, &u) < 0 ||
	    (u.scheme != URI_SIP && u.scheme != URI_SIPS))
		return -EBADMSG;
	sips = u.scheme == URI_SIPS;
	proto = sips ? PEER_TLS : PEER_UDP;
	if (uri_param(&u, "transport", &v) > 0) {
		explicit_tp = true;
		if (slice_caseeq_cstr(v, "tls"))
			proto = PEER_TLS;
		else if (slice_caseeq_cstr(v, "tcp"))
			proto = sips ? PEER_TLS : PEER_TCP;
		else if (!slice_caseeq_cstr(v, "udp") || sips)
			return -EPROTONOSUPPORT;
	}
	h = u.host;
	if (h.len >= 2 && h.p[0] == '[')
		h = slice_make(h.p + 1, h.len - 2);
	/* Names are compared without case; a final dot is the same name. */
	if (h.len && h.p[h.len - 1] == '.')
		h.len--;
	if (!h.len || h.len >= sizeof(host))
		return -EBADMSG;
	for (size_t i = 0; i < h.len; i++)
		host[i] = (char)tolower((unsigned char)h.p[i]);
	host[h.len] = '\0';
	d->gen++;
	if (u.port) {
		/* RFC 3263 §4.2: a port: A/AAAA only. */
		addrs(d, host, u.port, proto, &a);
	} else if (explicit_tp) {
		/* §4.2: a transport without port: its SRV, else A/AAAA. */
		if (!srv_of(d, host, proto, &a) && !a.pending)
			addrs(d, host, proto == PEER_TLS ? 5061 : 5060, proto,
			      &a);
	} else {
		struct entry *e;
		int st = get(d, Q_NAPTR, host, &e);
		bool any = false;

		if (st == -EINPROGRESS)
			return -EINPROGRESS;
		/* A DNS that does not answer will not answer the SRV and
		 * A queries either: fail now rather than after three
		 * timeouts. */
		if (st == 0 && e->status == -EHOSTUNREACH)
			return -EHOSTUNREACH;
		if (st == 0 && e->status == 0) {
			/* §4.1: the NAPTRs we can use, by order and
			 * preference; each names an SRV. */
			struct rr *r[MAX_RR];
			unsigned n = 0;

			for (unsigned i = 0; i < e->nrr; i++)
				if (!sips || e->rr[i].proto == PEER_TLS)
					r[n++] = &e->rr[i];
			qsort(r, n, sizeof(r[0]), by_order);
			for (unsigned i = 0; i < n; i++)
				any |= srv(d, r[i]->host, r[i]->proto, &a) > 0;
		}
		if (!any) {
			/* §4.1: no NAPTR: the SRV of each transport we
			 * speak; none: A/AAAA on the default port. */
			for (int p = sips ? PEER_TLS : PEER_UDP; p <= PEER_TLS;
			     p++)
				any |= srv_of(d, host, p, &a) > 0;
			if (!any && !a.pending)
				addrs(d, host, sips ? 5061 : 5060, proto, &a);
		}
	}
	if (a.pending)
		return -EINPROGRESS;
	return a.n ? (int)a.n : a.err;
}

void dns_forget(struct dns *d)
{
	d->nwant = 0;
}

int dns_wait(struct dns *d, dns_done_fn *cb, void *arg)
{
	struct waiter *w;
	unsigned n = 0;

	for (unsigned i = 0; i < d->nwant; i++)
		if (d->want[i]->status == -EINPROGRESS)
			n++;
	if (!n) {
		d->nwant = 0;
		return -EALREADY;
	}
	if (d->nwaiters >= MAX_WAITERS) {
		d->nwant = 0;
		stats_inc(&d->st->refused);
		return -EAGAIN;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->cb = cb;
	w->arg = arg;
	for (unsigned i = 0; i < d->nwant; i++) {
		struct entry *e = d->want[i];
		struct link *l;

		if (e->status != -EINPROGRESS)
			continue;
		l = malloc(sizeof(*l));
		if (!l)
			continue; /* that answer is not waited for */
		l->w = w;
		l->next = e->waiters;
		e->waiters = l;
		w->left++;
	}
	d->nwant = 0;
	if (!w->left) {
		free(w);
		return -ENOMEM;
	}
	d->nwaiters++;
	stats_set(&d->st->waiting, d->nwaiters);
	return 0;
}
