/* store/store_conf.c - the store: section: schema, checks, defaults */
#include "store/store_conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/base/err.h"
#include "store/redis.h"

static const cyaml_strval_t backend_strings[] = {
	{ "memory", CONF_STORE_MEMORY + 1 },
	{ "redis", CONF_STORE_REDIS + 1 },
};

static const cyaml_schema_value_t redis_addr_entry = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 1, 128),
};

static const cyaml_schema_field_t sentinel_fields[] = {
	CYAML_FIELD_STRING_PTR("master", CYAML_FLAG_POINTER,
			       struct store_conf_raw_sentinel, master, 1, 128),
	CYAML_FIELD_SEQUENCE("addresses", CYAML_FLAG_POINTER,
			     struct store_conf_raw_sentinel, addresses,
			     &redis_addr_entry, 1, 16),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t redis_fields[] = {
	CYAML_FIELD_STRING_PTR("address",
			       CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			       struct store_conf_raw_redis, address, 1, 128),
	CYAML_FIELD_STRING_PTR("password",
			       CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			       struct store_conf_raw_redis, password, 1, 512),
	CYAML_FIELD_UINT("db", CYAML_FLAG_OPTIONAL, struct store_conf_raw_redis,
			 db),
	CYAML_FIELD_UINT("connect_timeout_ms", CYAML_FLAG_OPTIONAL,
			 struct store_conf_raw_redis, connect_timeout_ms),
	CYAML_FIELD_UINT("command_timeout_ms", CYAML_FLAG_OPTIONAL,
			 struct store_conf_raw_redis, command_timeout_ms),
	CYAML_FIELD_UINT("queue_max", CYAML_FLAG_OPTIONAL,
			 struct store_conf_raw_redis, queue_max),
	CYAML_FIELD_STRING_PTR("namespace",
			       CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			       struct store_conf_raw_redis, ns, 1, 64),
	CYAML_FIELD_MAPPING("sentinel", CYAML_FLAG_OPTIONAL,
			    struct store_conf_raw_redis, sentinel,
			    sentinel_fields),
	CYAML_FIELD_SEQUENCE(
	    "cluster", CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
	    struct store_conf_raw_redis, cluster, &redis_addr_entry, 1, 16),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t store_fields[] = {
	CYAML_FIELD_ENUM("backend", CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT,
			 struct store_conf_raw_store, backend, backend_strings,
			 CYAML_ARRAY_LEN(backend_strings)),
	CYAML_FIELD_STRING_PTR("snapshot",
			       CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			       struct store_conf_raw_store, snapshot, 1, 4096),
	CYAML_FIELD_UINT("snapshot_interval_s", CYAML_FLAG_OPTIONAL,
			 struct store_conf_raw_store, snapshot_interval_s),
	CYAML_FIELD_MAPPING("redis", CYAML_FLAG_OPTIONAL,
			    struct store_conf_raw_store, redis, redis_fields),
	CYAML_FIELD_END
};

const cyaml_schema_field_t store_conf_fields[] = {
	CYAML_FIELD_MAPPING("store", CYAML_FLAG_OPTIONAL, struct store_conf_raw,
			    store, store_fields),
	CYAML_FIELD_END
};

static const struct {
	const char *spath;
	long long min, max;
} ranges[] = {
	{ "store.redis.db", 0, 1000 },
	{ "store.redis.connect_timeout_ms", 1, 60000 },
	{ "store.redis.command_timeout_ms", 1, 60000 },
	{ "store.redis.queue_max", 1, 10000000 },
	{ "store.snapshot_interval_s", 1, 86400 },
};

bool store_conf_range(const char *spath, long long *minp, long long *maxp)
{
	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		if (strcmp(ranges[i].spath, spath) == 0) {
			*minp = ranges[i].min;
			*maxp = ranges[i].max;
			return true;
		}
	}
	return false;
}

/* "IP:PORT", "[IPv6]:PORT" or "unix:/path": no names to resolve. */
static int check_redis_addr(const char *path, const char *v, char *why,
			    size_t whylen)
{
	struct redis_addr a;

	if (redis_addr_parse(v, &a) == 0)
		return 0;
	snprintf(why, whylen,
		 "%s: '%.80s' is not IP:PORT, [IPv6]:PORT or unix:/path", path,
		 v);
	return ERR_CONFIG;
}

/* A Redis Cluster node: "IP:PORT" or "[IPv6]:PORT" (nodes tell each
 * other's addresses as IP and port, never as Unix paths). */
static int check_cluster_addr(const char *path, const char *v, char *why,
			      size_t whylen)
{
	struct redis_addr a;

	if (redis_addr_parse(v, &a) == 0 && !a.is_unix)
		return 0;
	snprintf(why, whylen, "%s: '%.80s' is not IP:PORT or [IPv6]:PORT", path,
		 v);
	return ERR_CONFIG;
}

/* Letters, digits, '_', '-', '.': the start of every key. */
static int check_redis_ns(const char *path, const char *v, char *why,
			  size_t whylen)
{
	for (const char *p = v; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("_-.", *p))
			continue;
		snprintf(why, whylen,
			 "%s: '%.64s' may hold only letters, digits, '_', '-' "
			 "and '.'",
			 path, v);
		return ERR_CONFIG;
	}
	return 0;
}

int store_conf_check(const char *spath, const char *path, const char *v,
		     char *why, size_t whylen)
{
	if (strcmp(spath, "store.redis.address") == 0 ||
	    strcmp(spath, "store.redis.sentinel.addresses") == 0)
		return check_redis_addr(path, v, why, whylen);
	if (strcmp(spath, "store.redis.cluster") == 0)
		return check_cluster_addr(path, v, why, whylen);
	if (strcmp(spath, "store.redis.namespace") == 0)
		return check_redis_ns(path, v, why, whylen);
	return 0;
}

static unsigned or_default(unsigned v, unsigned def)
{
	return v ? v : def;
}

/* store.redis: a fixed address, Sentinel or a Cluster: one of them. */
int store_conf_build(struct store_conf *s, const struct store_conf_raw *raw,
		     char *why, size_t whylen)
{
	const struct store_conf_raw_store *r = &raw->store;
	const struct store_conf_raw_redis *g = &r->redis;
	const struct store_conf_raw_sentinel *sn = &g->sentinel;

	s->backend = r->backend == CONF_STORE_REDIS + 1 ? CONF_STORE_REDIS
							: CONF_STORE_MEMORY;
	if (g->address && sn->master) {
		snprintf(why, whylen,
			 "store.redis: give address or sentinel, not both");
		return ERR_CONFIG;
	}
	if (g->cluster && (g->address || sn->master)) {
		snprintf(why, whylen,
			 "store.redis: give cluster alone, without address or "
			 "sentinel");
		return ERR_CONFIG;
	}
	if (g->cluster && g->db) {
		snprintf(why, whylen,
			 "store.redis: a Redis Cluster has only db 0, not %u",
			 g->db);
		return ERR_CONFIG;
	}
	s->redis.db = g->db;
	s->redis.connect_timeout_ms = or_default(g->connect_timeout_ms, 1000);
	s->redis.command_timeout_ms = or_default(g->command_timeout_ms, 2000);
	s->redis.queue_max = or_default(g->queue_max, 100000);
	s->redis.ns = strdup(g->ns ? g->ns : "sipedge");
	if (!s->redis.ns ||
	    (g->password && !(s->redis.password = strdup(g->password))))
		return -ENOMEM;
	if (r->snapshot && !(s->snapshot = strdup(r->snapshot)))
		return -ENOMEM;
	s->snapshot_interval_s = or_default(r->snapshot_interval_s, 10);
	if (g->cluster) {
		s->redis.cluster = calloc(g->cluster_count, sizeof(char *));
		if (!s->redis.cluster)
			return -ENOMEM;
		for (unsigned i = 0; i < g->cluster_count; i++) {
			s->redis.cluster[i] = strdup(g->cluster[i]);
			if (!s->redis.cluster[i])
				return -ENOMEM;
			s->redis.ncluster = i + 1;
		}
		return 0;
	}
	if (!sn->master) {
		s->redis.address =
		    strdup(g->address ? g->address : "127.0.0.1:6379");
		return s->redis.address ? 0 : -ENOMEM;
	}
	s->redis.sentinel_master = strdup(sn->master);
	s->redis.sentinels = calloc(sn->addresses_count, sizeof(char *));
	if (!s->redis.sentinel_master || !s->redis.sentinels)
		return -ENOMEM;
	for (unsigned i = 0; i < sn->addresses_count; i++) {
		s->redis.sentinels[i] = strdup(sn->addresses[i]);
		if (!s->redis.sentinels[i])
			return -ENOMEM;
		s->redis.nsentinels = i + 1;
	}
	return 0;
}

void store_conf_fini(struct store_conf *s)
{
	free(s->snapshot);
	free(s->redis.address);
	free(s->redis.password);
	free(s->redis.ns);
	free(s->redis.sentinel_master);
	for (unsigned i = 0; i < s->redis.nsentinels; i++)
		free(s->redis.sentinels[i]);
	free(s->redis.sentinels);
	for (unsigned i = 0; i < s->redis.ncluster; i++)
		free(s->redis.cluster[i]);
	free(s->redis.cluster);
}
