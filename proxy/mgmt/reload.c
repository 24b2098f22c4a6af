/* proxy/mgmt/reload.c - hot reload: load the file again, refuse what needs a
 * restart, swap the config in the shards (config.reload, SIGHUP) */
#include "proxy/mgmt/reload.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>
#include <yaml.h>

#include "features/b2b/b2b_conf.h"
#include "features/park_conf.h"
#include "proxy/base/err.h"
#include "proxy/base/file.h"
#include "proxy/base/log.h"
#include "proxy/core/guard_conf.h"
#include "proxy/core/conf.h"
#include "proxy/core/log_conf.h"
#include "proxy/core/trace_conf.h"
#include "proxy/dns_conf.h"
#include "proxy/rtpe_conf.h"
#include "proxy/core/conf_store.h"
#include "proxy/core/shard.h"
#include "proxy/mgmt/http.h"
#include "proxy/mgmt/mgmt.h"
#include "proxy/mgmt/mgmt_conf.h"
#include "proxy/proxy_conf.h"
#include "registrar/reg_conf.h"
#include "registrar/users.h"

/* As conf_load(): the largest file. */
#define FILE_MAX (1024 * 1024)

/* Nesting a YAML comparison follows at most. */
#define DEPTH_MAX 64

/* A config the shards left, kept until @p free_ms (CLOCK_MONOTONIC). */
struct retired {
	struct conf *c;
	long long free_ms;
	struct retired *next;
};

struct reload {
	struct mgmt_env *env;
	struct reload_opts o;
	uv_async_t async; /* a shard: the last one switched */
	bool async_init;

	char *text; /* the file as the running config was loaded from it */
	size_t len;
	bool text_ok; /* text holds it (it could be read at reload_new()) */

	/* The config the running one came from: NULL for the caller's. */
	struct conf *cur;
	struct retired *retired;

	/* The reload under way, between reload_start() and its answer. */
	bool busy;
	atomic_bool swapped; /* the shards are done (set from a shard) */
	atomic_int swap_err;
	struct conf *next;
	char *next_text;
	size_t next_len;
	struct reload_result res;
	char *keys[RELOAD_MAX_KEYS];
	reload_done_fn *done;
	void *arg;
};

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long reload_grace_ms(const struct conf *c)
{
	const struct proxy_conf *p = proxy_conf(c);
	long long t1 = p->t1_ms ? p->t1_ms : 500;
	long long tc = p->timer_c_s ? p->timer_c_s : 180;

	return tc * 1000 + 2 * 64 * t1 + 60000;
}

/* ---- which keys need a restart ---- */

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool strv_eq(char *const *a, unsigned na, char *const *b, unsigned nb)
{
	if (na != nb)
		return false;
	for (unsigned i = 0; i < na; i++)
		if (!str_eq(a[i], b[i]))
			return false;
	return true;
}

static bool listen_eq(const struct conf *a, const struct conf *b)
{
	if (a->nlisten != b->nlisten)
		return false;
	for (unsigned i = 0; i < a->nlisten; i++) {
		const struct conf_listen *x = &a->listen[i], *y = &b->listen[i];

		if (x->port != y->port || x->udp != y->udp ||
		    x->tcp != y->tcp || x->addrlen != y->addrlen ||
		    memcmp(&x->addr, &y->addr, x->addrlen) != 0)
			return false;
		/* TLS contexts are made at start; Via and Record-Route
		 * name the advertised address from start too. */
		if (x->tls != y->tls || x->ws != y->ws ||
		    x->norigins != y->norigins ||
		    x->verify_client != y->verify_client ||
		    !str_eq(x->cert, y->cert) || !str_eq(x->key, y->key) ||
		    !str_eq(x->ca, y->ca) ||
		    !str_eq(x->adv_host, y->adv_host) ||
		    x->adv_port != y->adv_port || x->nsni != y->nsni)
			return false;
		for (unsigned k = 0; k < x->norigins; k++)
			if (!str_eq(x->origins[k], y->origins[k]))
				return false;
		for (unsigned k = 0; k < x->nsni; k++)
			if (!str_eq(x->sni[k].domain, y->sni[k].domain) ||
			    !str_eq(x->sni[k].cert, y->sni[k].cert) ||
			    !str_eq(x->sni[k].key, y->sni[k].key))
				return false;
	}
	return true;
}

static bool targets_eq(const struct conf_target *a, unsigned na,
		       const struct conf_target *b, unsigned nb)
{
	if (na != nb)
		return false;
	for (unsigned i = 0; i < na; i++)
		if (!str_eq(a[i].uri, b[i].uri) || a[i].q != b[i].q ||
		    a[i].proto != b[i].proto)
			return false;
	return true;
}

static bool locations_eq(const struct proxy_conf *a, const struct proxy_conf *b)
{
	if (a->nlocations != b->nlocations)
		return false;
	for (unsigned i = 0; i < a->nlocations; i++)
		if (!str_eq(a->locations[i].aor, b->locations[i].aor) ||
		    !targets_eq(
			a->locations[i].contacts, a->locations[i].ncontacts,
			b->locations[i].contacts, b->locations[i].ncontacts))
			return false;
	return true;
}

static const char *store_key(const struct store_conf *a,
			     const struct store_conf *b)
{
	if (a->backend != b->backend)
		return "store.backend";
	if (!str_eq(a->snapshot, b->snapshot))
		return "store.snapshot";
	if (a->snapshot_interval_s != b->snapshot_interval_s)
		return "store.snapshot_interval_s";
	if (!str_eq(a->redis.address, b->redis.address))
		return "store.redis.address";
	if (!str_eq(a->redis.password, b->redis.password))
		return "store.redis.password";
	if (a->redis.db != b->redis.db)
		return "store.redis.db";
	if (a->redis.connect_timeout_ms != b->redis.connect_timeout_ms)
		return "store.redis.connect_timeout_ms";
	if (a->redis.command_timeout_ms != b->redis.command_timeout_ms)
		return "store.redis.command_timeout_ms";
	if (a->redis.queue_max != b->redis.queue_max)
		return "store.redis.queue_max";
	if (!str_eq(a->redis.ns, b->redis.ns))
		return "store.redis.namespace";
	if (!str_eq(a->redis.sentinel_master, b->redis.sentinel_master))
		return "store.redis.sentinel.master";
	if (!strv_eq(a->redis.sentinels, a->redis.nsentinels,
		     b->redis.sentinels, b->redis.nsentinels))
		return "store.redis.sentinel.addresses";
	if (!strv_eq(a->redis.cluster, a->redis.ncluster, b->redis.cluster,
		     b->redis.ncluster))
		return "store.redis.cluster";
	return NULL;
}

static const char *mgmt_key(const struct mgmt_conf *a,
			    const struct mgmt_conf *b)
{
	if (a->nlisten != b->nlisten)
		return "management.listen";
	for (unsigned i = 0; i < a->nlisten; i++)
		if (!str_eq(a->listen[i].text, b->listen[i].text))
			return "management.listen";
	if (a->max_connections != b->max_connections)
		return "management.max_connections";
	if (a->timeout_s != b->timeout_s)
		return "management.timeout_s";
	return NULL;
}

/* The B2B pool runs with the config it started with (pool_start()):
 * every b2b key needs a restart. */
static const char *b2b_key(const struct b2b_conf *a, const struct b2b_conf *b)
{
	if (a->workers != b->workers)
		return "b2b.workers";
	if (!str_eq(a->listen, b->listen))
		return "b2b.listen";
	if (a->rel100 != b->rel100)
		return "b2b.100rel";
	if (a->answer_guard_s != b->answer_guard_s)
		return "b2b.answer_guard_s";
	if (a->media_port_min != b->media_port_min ||
	    a->media_port_max != b->media_port_max)
		return "b2b.media.ports";
	if (!str_eq(a->media_sounds, b->media_sounds))
		return "b2b.media.sounds";
	return NULL;
}

/* Park's lots live on the pool, which keeps its config: a changed
 * lot would route to a pool that no longer knows it. */
/* The ng clients are made per shard at start-up; media.flags and
 * media.on_failure are read per call and reload. */
static const char *rtpe_key(const struct rtpe_conf *a,
			    const struct rtpe_conf *b)
{
	if (a->enabled != b->enabled)
		return "media.enabled";
	if (a->nservers != b->nservers ||
	    memcmp(a->servers, b->servers,
		   a->nservers * sizeof(a->servers[0])) != 0)
		return "media.rtpengine";
	if (a->timeout_ms != b->timeout_ms)
		return "media.timeout_ms";
	if (a->retries != b->retries)
		return "media.retries";
	if (a->down_s != b->down_s)
		return "media.down_s";
	/* The events' socket is bound once, at start (proxy/dtmf.h). */
	if (a->dtmf_addrlen != b->dtmf_addrlen ||
	    memcmp(&a->dtmf_addr, &b->dtmf_addr, a->dtmf_addrlen) != 0)
		return "media.dtmf_events";
	return NULL;
}

/* The resolvers are made per shard at start-up (proxy/dns.h). */
static const char *dns_key(const struct dns_conf *a, const struct dns_conf *b)
{
	if (a->enabled != b->enabled)
		return "dns";
	if (strcmp(a->servers, b->servers) != 0)
		return "dns.servers";
	if (a->timeout_ms != b->timeout_ms)
		return "dns.timeout_ms";
	if (a->attempts != b->attempts)
		return "dns.attempts";
	if (a->cache_max != b->cache_max)
		return "dns.cache_max";
	return NULL;
}

static bool park_eq(const struct park_conf *a, const struct park_conf *b)
{
	if (a->nlots != b->nlots)
		return false;
	for (unsigned i = 0; i < a->nlots; i++) {
		const struct conf_park *x = &a->lots[i], *y = &b->lots[i];

		if (!str_eq(x->domain, y->domain) || x->enabled != y->enabled ||
		    !str_eq(x->code, y->code) || x->slot_min != y->slot_min ||
		    x->slot_max != y->slot_max ||
		    x->timeout_s != y->timeout_s ||
		    x->comeback_ring_s != y->comeback_ring_s ||
		    !str_eq(x->fallback, y->fallback) ||
		    x->blf_early != y->blf_early)
			return false;
	}
	return true;
}

const char *reload_restart_key(const struct conf *a, const struct conf *b)
{
	const struct proxy_conf *pa = proxy_conf(a), *pb = proxy_conf(b);
	const char *k;

	if (a->workers != b->workers)
		return "workers";
	if (!listen_eq(a, b))
		return "listen";
	if (a->udp.batch != b->udp.batch)
		return "udp.batch";
	/* The program is attached once, at start (shards_start()). */
	if (a->udp.steering != b->udp.steering)
		return "udp.steering";
	if (!str_eq(a->tls.ca, b->tls.ca))
		return "tls.ca";
	if (a->tls.handshake_timeout_s != b->tls.handshake_timeout_s)
		return "tls.handshake_timeout_s";
	if (a->tcp.max_connections != b->tcp.max_connections)
		return "tcp.max_connections";
	if (a->tcp.idle_timeout_s != b->tcp.idle_timeout_s)
		return "tcp.idle_timeout_s";
	if (a->tcp.max_header_bytes != b->tcp.max_header_bytes)
		return "tcp.max_header_bytes";
	if (a->tcp.max_body_bytes != b->tcp.max_body_bytes)
		return "tcp.max_body_bytes";
	if (a->tcp.max_per_source != b->tcp.max_per_source)
		return "tcp.max_per_source";
	if (a->max_headers != b->max_headers)
		return "max_headers";
	/* The guard's table is made once, at start (guard_start()). */
	if (guard_conf(a)->table_size != guard_conf(b)->table_size)
		return "security.table_size";
	k = store_key(store_conf(a), store_conf(b));
	if (k)
		return k;
	if (!str_eq(reg_conf(a)->secret, reg_conf(b)->secret))
		return "registrar.secret";
	if (pa->t1_ms != pb->t1_ms)
		return "proxy.t1_ms";
	if (pa->t2_ms != pb->t2_ms)
		return "proxy.t2_ms";
	if (pa->t4_ms != pb->t4_ms)
		return "proxy.t4_ms";
	if (!locations_eq(pa, pb))
		return "locations";
	k = b2b_key(b2b_conf(a), b2b_conf(b));
	if (k)
		return k;
	if (!park_eq(park_conf(a), park_conf(b)))
		return "park";
	k = rtpe_key(rtpe_conf(a), rtpe_conf(b));
	if (k)
		return k;
	k = dns_key(dns_conf(a), dns_conf(b));
	if (k)
		return k;
	/* Started once at start-up; trace.start/trace.stop at run time. */
	if (trace_conf(a)->on != trace_conf(b)->on ||
	    (trace_conf(a)->on &&
	     !trace_spec_eq(&trace_conf(a)->spec, &trace_conf(b)->spec)))
		return "trace";
	return mgmt_key(mgmt_conf(a), mgmt_conf(b));
}

/* ---- which top-level keys changed ---- */

static bool scalar_eq(const yaml_node_t *a, const yaml_node_t *b)
{
	return a->data.scalar.length == b->data.scalar.length &&
	       memcmp(a->data.scalar.value, b->data.scalar.value,
		      a->data.scalar.length) == 0;
}

static bool node_eq(yaml_document_t *da, yaml_node_t *a, yaml_document_t *db,
		    yaml_node_t *b, int depth);

/* The value of key @p k (a scalar) in mapping @p m, or NULL. */
static yaml_node_t *map_get(yaml_document_t *d, yaml_node_t *m,
			    const yaml_node_t *k)
{
	yaml_node_pair_t *p;

	for (p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *key = yaml_document_get_node(d, p->key);

		if (key && key->type == YAML_SCALAR_NODE && scalar_eq(key, k))
			return yaml_document_get_node(d, p->value);
	}
	return NULL;
}

static bool map_eq(yaml_document_t *da, yaml_node_t *a, yaml_document_t *db,
		   yaml_node_t *b, int depth)
{
	yaml_node_pair_t *p;

	if (a->data.mapping.pairs.top - a->data.mapping.pairs.start !=
	    b->data.mapping.pairs.top - b->data.mapping.pairs.start)
		return false;
	/* Keys are unique (the loader refuses duplicates). */
	for (p = a->data.mapping.pairs.start; p < a->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(da, p->key);
		yaml_node_t *bv;

		if (!k || k->type != YAML_SCALAR_NODE)
			return false;
		bv = map_get(db, b, k);
		if (!bv || !node_eq(da, yaml_document_get_node(da, p->value),
				    db, bv, depth + 1))
			return false;
	}
	return true;
}

static bool node_eq(yaml_document_t *da, yaml_node_t *a, yaml_document_t *db,
		    yaml_node_t *b, int depth)
{
	yaml_node_item_t *x, *y;

	if (!a || !b || a->type != b->type || depth > DEPTH_MAX)
		return false;
	switch (a->type) {
	case YAML_SCALAR_NODE:
		return scalar_eq(a, b);
	case YAML_SEQUENCE_NODE:
		x = a->data.sequence.items.start;
		y = b->data.sequence.items.start;
		for (; x < a->data.sequence.items.top &&
		       y < b->data.sequence.items.top;
		     x++, y++)
			if (!node_eq(da, yaml_document_get_node(da, *x), db,
				     yaml_document_get_node(db, *y), depth + 1))
				return false;
		return x == a->data.sequence.items.top &&
		       y == b->data.sequence.items.top;
	case YAML_MAPPING_NODE:
		return map_eq(da, a, db, b, depth);
	default:
		return false;
	}
}

static int doc_load(const char *text, size_t len, yaml_document_t *d)
{
	yaml_parser_t p;
	int ok;

	if (!yaml_parser_initialize(&p))
		return -ENOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	ok = yaml_parser_load(&p, d);
	yaml_parser_delete(&p);
	return ok ? 0 : -EINVAL;
}

/* The root mapping of @p d, or NULL (an empty document, or `~`). */
static yaml_node_t *doc_root(yaml_document_t *d)
{
	yaml_node_t *r = yaml_document_get_root_node(d);

	return r && r->type == YAML_MAPPING_NODE ? r : NULL;
}

/* Add the keys of @p from (in @p df) that are not the same in @p other. */
static int diff_keys(yaml_document_t *df, yaml_node_t *from,
		     yaml_document_t *dother, yaml_node_t *other, char **keys,
		     unsigned max, unsigned *np)
{
	yaml_node_pair_t *p;

	if (!from)
		return 0;
	for (p = from->data.mapping.pairs.start;
	     p < from->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(df, p->key);
		yaml_node_t *ov = other ? map_get(dother, other, k) : NULL;
		bool seen = false;

		if (!k || k->type != YAML_SCALAR_NODE)
			continue;
		if (ov && node_eq(df, yaml_document_get_node(df, p->value),
				  dother, ov, 0))
			continue;
		for (unsigned i = 0; i < *np && !seen; i++)
			seen = strlen(keys[i]) == k->data.scalar.length &&
			       memcmp(keys[i], k->data.scalar.value,
				      k->data.scalar.length) == 0;
		if (seen || *np >= max)
			continue;
		keys[*np] = strndup((const char *)k->data.scalar.value,
				    k->data.scalar.length);
		if (!keys[*np])
			return -ENOMEM;
		(*np)++;
	}
	return 0;
}

int reload_changed_keys(const char *a, size_t alen, const char *b, size_t blen,
			char **keys, unsigned max)
{
	yaml_document_t da, db;
	bool a_init = false, b_init = false;
	unsigned n = 0;
	int err;

	err = doc_load(a, alen, &da);
	a_init = !err;
	if (!err)
		err = doc_load(b, blen, &db);
	b_init = a_init && !err;
	if (!err)
		err = diff_keys(&db, doc_root(&db), &da, doc_root(&da), keys,
				max, &n);
	if (!err)
		err = diff_keys(&da, doc_root(&da), &db, doc_root(&db), keys,
				max, &n);
	if (b_init)
		yaml_document_delete(&db);
	if (a_init)
		yaml_document_delete(&da);
	if (err) {
		for (unsigned i = 0; i < n; i++) {
			free(keys[i]);
			keys[i] = NULL;
		}
		return err;
	}
	return (int)n;
}

/* ---- the reload ---- */

static void retired_free(struct reload *rl, bool all)
{
	struct retired **pp = &rl->retired;
	long long now = mono_ms();

	while (*pp) {
		struct retired *r = *pp;

		if (all || now >= r->free_ms) {
			*pp = r->next;
			conf_free(r->c);
			free(r);
		} else {
			pp = &r->next;
		}
	}
}

static void result_clear(struct reload *rl)
{
	for (unsigned i = 0; i < RELOAD_MAX_KEYS; i++) {
		free(rl->keys[i]);
		rl->keys[i] = NULL;
	}
	memset(&rl->res, 0, sizeof(rl->res));
}

/* Answer the reload under way (or refused) and forget it. */
static void finish(struct reload *rl)
{
	reload_done_fn *done = rl->done;
	void *arg = rl->arg;

	rl->busy = false;
	rl->done = NULL;
	conf_free(rl->next);
	rl->next = NULL;
	free(rl->next_text);
	rl->next_text = NULL;
	if (rl->res.err)
		log_msg(LOG_WARN, "sipedge: reload refused: %s", rl->res.msg);
	done(arg, &rl->res);
	result_clear(rl);
}

/* The shards run with rl->next: it is the config now. */
static void commit(struct reload *rl)
{
	const struct conf *old = rl->env->conf;
	char changed[512];
	size_t n = 0;

	if (rl->cur) {
		struct retired *r = malloc(sizeof(*r));

		/* Without memory for the list entry, keep it to the end
		 * rather than free what a transaction may still read. */
		if (r) {
			r->c = rl->cur;
			r->free_ms = mono_ms() + reload_grace_ms(old);
			r->next = rl->retired;
			rl->retired = r;
		} else {
			log_msg(LOG_WARN, "sipedge: reload: out of memory: "
					  "the old config is not freed");
		}
	}
	rl->cur = rl->next;
	rl->next = NULL;
	rl->env->conf = rl->cur;
	free(rl->text);
	rl->text = rl->next_text;
	rl->len = rl->next_len;
	rl->text_ok = true;
	rl->next_text = NULL;
	changed[0] = '\0';
	for (unsigned i = 0; i < rl->res.nchanged && n + 1 < sizeof(changed);
	     i++) {
		int m = snprintf(changed + n, sizeof(changed) - n, "%s%s",
				 i ? ", " : "", rl->res.changed[i]);

		if (m < 0)
			break;
		n += (size_t)m;
	}
	log_msg(LOG_NOTICE, "sipedge: reload: %s: reloaded (changed: %s)",
		rl->o.path, rl->res.nchanged ? changed : "nothing");
}

static void async_cb(uv_async_t *h)
{
	struct reload *rl = h->data;

	if (!rl->busy ||
	    !atomic_load_explicit(&rl->swapped, memory_order_acquire))
		return;
	if (atomic_load_explicit(&rl->swap_err, memory_order_relaxed)) {
		/* Some shards run with it: keep it to the end. */
		rl->res.err = -ESHUTDOWN;
		snprintf(rl->res.msg, sizeof(rl->res.msg),
			 "sipedge is stopping");
		commit(rl);
	} else {
		commit(rl);
	}
	finish(rl);
}

/* Thread: the last shard to switch. */
static void swapped_cb(void *arg, int err)
{
	struct reload *rl = arg;

	atomic_store_explicit(&rl->swap_err, err, memory_order_relaxed);
	atomic_store_explicit(&rl->swapped, true, memory_order_release);
	uv_async_send(&rl->async);
}

/* Refuse: @p err, the message printed from @p fmt. */
static void refuse(struct reload *rl, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void refuse(struct reload *rl, int err, const char *fmt, ...)
{
	va_list ap;

	rl->res.err = err;
	va_start(ap, fmt);
	vsnprintf(rl->res.msg, sizeof(rl->res.msg), fmt, ap);
	va_end(ap);
}

/* Read and check the file; rl->next and rl->next_text on success. */
static int load(struct reload *rl)
{
	char errbuf[sizeof(rl->res.msg)];
	const char *path = rl->o.path;
	int err;

	err = file_read(path, FILE_MAX, &rl->next_text, &rl->next_len);
	if (err == -EFBIG) {
		refuse(rl, ERR_CONFIG, "%s: file too large (at most %d bytes)",
		       path, FILE_MAX);
		return ERR_CONFIG;
	}
	if (err) {
		refuse(rl, err == -ENOMEM ? -ENOMEM : ERR_CONFIG, "%s: %s",
		       path, strerror(-err));
		return rl->res.err;
	}
	err = conf_load_mem(path, rl->next_text, rl->next_len, &rl->next,
			    errbuf, sizeof(errbuf));
	if (err) {
		refuse(rl, err == -ENOMEM ? -ENOMEM : ERR_CONFIG, "%s", errbuf);
		return err;
	}
	/* The command line still wins over the file. */
	if (rl->o.workers >= 0)
		rl->next->workers = conf_workers((unsigned)rl->o.workers);
	if (rl->o.have_level)
		rl->next->log_level = rl->o.level;
	return 0;
}

/* The users file of the new config, loaded now; on error nothing
 * changed. */
static int users_apply(struct reload *rl)
{
	const char *nf = reg_conf(rl->next)->users_file;
	char errbuf[sizeof(rl->res.msg) - 32];
	long n;

	if (!nf) {
		/* No file any more: nobody is known, as at a start
		 * without one. */
		if (reg_conf(rl->env->conf)->users_file)
			users_fini();
		return 0;
	}
	n = users_load(nf, errbuf, sizeof(errbuf));
	/* The lines users_reload() logs (SIGHUP before config reload). */
	if (n < 0) {
		log_msg(LOG_ERR,
			"users: reload failed, keeping the old table: %s",
			errbuf);
		refuse(rl, n == -ENOMEM ? -ENOMEM : ERR_CONFIG,
		       "registrar.users_file: %s", errbuf);
		return (int)n;
	}
	log_msg(LOG_NOTICE, "users: %s reloaded: %ld users", nf, n);
	return 0;
}

int reload_start(struct reload *rl, reload_done_fn *done, void *arg)
{
	const char *key;
	int n, err;

	if (rl->busy) {
		struct reload_result r = { .err = -EBUSY, .file = rl->o.path };

		snprintf(r.msg, sizeof(r.msg),
			 "a reload is under way; try again");
		log_msg(LOG_WARN, "sipedge: reload refused: %s", r.msg);
		done(arg, &r);
		return 0;
	}
	result_clear(rl);
	rl->busy = true;
	rl->done = done;
	rl->arg = arg;
	rl->res.file = rl->o.path;
	retired_free(rl, false);
	if (!rl->o.path) {
		rl->res.nothing = true;
		snprintf(rl->res.msg, sizeof(rl->res.msg),
			 "no configuration file (started without -c): the "
			 "built-in default stays, nothing to reload");
		log_msg(LOG_NOTICE, "sipedge: reload: %s", rl->res.msg);
		goto answer;
	}
	if (load(rl))
		goto answer;
	key = reload_restart_key(rl->env->conf, rl->next);
	if (key) {
		refuse(rl, -EPERM,
		       "%s: needs a restart (the running config stays)", key);
		goto answer;
	}
	/* Which keys changed: for the answer only. */
	n = rl->text_ok
		? reload_changed_keys(rl->text, rl->len, rl->next_text,
				      rl->next_len, rl->keys, RELOAD_MAX_KEYS)
		: -EINVAL;
	for (int i = 0; i < n; i++)
		rl->res.changed[i] = rl->keys[i];
	rl->res.nchanged = n > 0 ? (unsigned)n : 0;
	if (users_apply(rl))
		goto answer;
	log_set_level(rl->next->log_level);
	log_set_requests(log_conf(rl->next)->requests);
	/* Between two lines of every thread (proxy/base/log.h). */
	err = log_set_target(log_conf(rl->next)->target);
	if (err)
		log_msg(LOG_WARN,
			"sipedge: reload: log.target %s: %s, lines stay on %s",
			log_target_name(log_conf(rl->next)->target),
			err_str(err), log_target_name(log_get_target()));
	if (rl->env->http &&
	    http_set_token(rl->env->http, mgmt_conf(rl->next)->token) < 0)
		log_msg(LOG_WARN, "sipedge: reload: management token: out "
				  "of memory, the old one stays");
	if (!rl->env->shards) {
		commit(rl);
		goto answer;
	}
	atomic_store_explicit(&rl->swapped, false, memory_order_relaxed);
	err = shards_set_conf(rl->env->shards, rl->next, swapped_cb, rl);
	if (err) {
		/* The users file, log level and target are already in
		 * force; the rest is not. */
		refuse(rl, err, "could not reach the shards: %s", err_str(err));
		goto answer;
	}
	return 0; /* async_cb() answers */
answer:
	finish(rl);
	return 0;
}

int reload_new(struct uv_loop_s *loop, struct mgmt_env *env,
	       const struct reload_opts *o, struct reload **rp)
{
	struct reload *rl;
	int err;

	rl = calloc(1, sizeof(*rl));
	if (!rl)
		return -ENOMEM;
	rl->env = env;
	rl->o = *o;
	atomic_init(&rl->swapped, false);
	atomic_init(&rl->swap_err, 0);
	err = uv_async_init(loop, &rl->async, async_cb);
	if (err) {
		free(rl);
		return err;
	}
	rl->async.data = rl;
	rl->async_init = true;
	/* Not a reason for the loop to keep running. */
	uv_unref((uv_handle_t *)&rl->async);
	if (o->path)
		rl->text_ok =
		    file_read(o->path, FILE_MAX, &rl->text, &rl->len) == 0;
	*rp = rl;
	return 0;
}

void reload_stop(struct reload *rl)
{
	if (!rl)
		return;
	if (rl->busy) {
		/* The shards are gone: every item was run or told. */
		async_cb(&rl->async);
		if (rl->busy) {
			refuse(rl, -ESHUTDOWN, "sipedge is stopping");
			finish(rl);
		}
	}
	if (rl->async_init && !uv_is_closing((uv_handle_t *)&rl->async))
		uv_close((uv_handle_t *)&rl->async, NULL);
}

void reload_free(struct reload *rl)
{
	if (!rl)
		return;
	retired_free(rl, true);
	conf_free(rl->cur);
	conf_free(rl->next);
	free(rl->next_text);
	free(rl->text);
	result_clear(rl);
	free(rl);
}
