/* store/store_conf.h - the store: section of the configuration (libcyaml) */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <cyaml/cyaml.h>

/*
 * The store is below the runtime (proxy/core), so it describes its
 * section with libcyaml types and plain functions only;
 * proxy/core/conf_store registers them with the config engine. The
 * functions follow the engine's conf_check_fn, conf_range_fn and
 * conf_build_fn contracts (proxy/core/conf.h).
 */

enum conf_store {
	CONF_STORE_MEMORY,
	CONF_STORE_REDIS,
};

/** store: where the location table lives. */
struct store_conf {
	enum conf_store backend; /**< store.backend (memory) */
	char *snapshot;		 /**< memory store snapshot file, or NULL */
	unsigned snapshot_interval_s; /**< how often it is written (10) */
	/** store.redis: the location store shared by all nodes. */
	struct {
		char *address;	/**< "IP:PORT", "[IPv6]:PORT", "unix:/path";
				     NULL when Sentinel finds the master */
		char *password; /**< AUTH, or NULL */
		unsigned db;	/**< SELECT (0) */
		unsigned connect_timeout_ms; /**< (1000) */
		unsigned command_timeout_ms; /**< (2000) */
		unsigned queue_max;    /**< writes waiting per shard (100000) */
		char *ns;	       /**< key namespace ("sipedge") */
		char *sentinel_master; /**< Sentinel's name, or NULL */
		char **sentinels;      /**< "IP:PORT" of each Sentinel */
		unsigned nsentinels;
		char **cluster; /**< Redis Cluster seeds "IP:PORT", or NULL */
		unsigned ncluster; /**< 0: not a cluster */
	} redis;
};

/* What libcyaml loads (0: not in the file). Private to store_conf.c but
 * for the size of struct store_conf_raw. */
struct store_conf_raw_sentinel {
	char *master;
	char **addresses;
	unsigned addresses_count;
};

struct store_conf_raw_redis {
	char *address;
	char *password;
	unsigned db;
	unsigned connect_timeout_ms;
	unsigned command_timeout_ms;
	unsigned queue_max;
	char *ns;
	struct store_conf_raw_sentinel sentinel;
	char **cluster;
	unsigned cluster_count;
};

struct store_conf_raw_store {
	int backend; /* enum conf_store + 1 */
	char *snapshot;
	unsigned snapshot_interval_s;
	struct store_conf_raw_redis redis;
};

/** The raw struct of the section: its one top-level key. */
struct store_conf_raw {
	struct store_conf_raw_store store;
};

/** The top-level key "store", offsets in struct store_conf_raw. */
extern const cyaml_schema_field_t store_conf_fields[];

/**
 * The range of the integer at schema path @p spath ("store.redis.db").
 * Returns true with *minp, *maxp set; false: no rule. Thread: any.
 */
bool store_conf_range(const char *spath, long long *minp, long long *maxp);

/**
 * Check the scalar @p v at schema path @p spath (@p path as written):
 * Redis addresses and the key namespace. Returns 0, or ERR_CONFIG with
 * the reason in @p why. Thread: any.
 */
int store_conf_check(const char *spath, const char *path, const char *v,
		     char *why, size_t whylen);

/**
 * Fill @p s (zeroed) from @p raw with the defaults. Returns 0;
 * ERR_CONFIG with the reason in @p why (more than one of address,
 * sentinel and cluster given; cluster with a db other than 0); -ENOMEM. On
 * error, @p s still goes to store_conf_fini(). Thread: control (config load).
 */
int store_conf_build(struct store_conf *s, const struct store_conf_raw *raw,
		     char *why, size_t whylen);

/** Free what store_conf_build() put in @p s. */
void store_conf_fini(struct store_conf *s);
