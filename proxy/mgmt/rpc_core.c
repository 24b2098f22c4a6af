/* proxy/mgmt/rpc_core.c - core.*, stats.get and log.level methods */
#include "proxy/mgmt/rpc_core.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "features/b2b/pool.h"
#include "proxy/base/log.h"
#include "proxy/base/stats.h"
#include "proxy/core/shard.h"
#include "proxy/mgmt/mgmt.h"
#include "proxy/mgmt/rpc.h"

static const char *const no_names[] = { NULL };

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void core_version(struct rpc_call *call, json_t *params, void *arg)
{
	(void)arg;
	if (rpc_params_only(call, params, 0, no_names))
		return;
	rpc_reply(call, json_pack("{s:s,s:s}", "name", "sipedge", "version",
				  SIPEDGE_VERSION));
}

static void core_uptime(struct rpc_call *call, json_t *params, void *arg)
{
	const struct mgmt_env *env = arg;
	char started[32];
	struct tm tm;
	time_t t = (time_t)env->started_s;

	if (rpc_params_only(call, params, 0, no_names))
		return;
	gmtime_r(&t, &tm);
	strftime(started, sizeof(started), "%Y-%m-%dT%H:%M:%SZ", &tm);
	rpc_reply(call,
		  json_pack("{s:I,s:s}", "uptime_s",
			    (json_int_t)((mono_ms() - env->started_ms) / 1000),
			    "started", started));
}

static void core_workers(struct rpc_call *call, json_t *params, void *arg)
{
	const struct mgmt_env *env = arg;
	unsigned n = env->shards ? shards_count(env->shards) : 0;
	json_t *list = json_array(), *b2b;

	if (rpc_params_only(call, params, 0, no_names)) {
		json_decref(list);
		return;
	}
	for (unsigned i = 0; i < n && list; i++) {
		struct shard_stats st;

		shards_stats(env->shards, i, &st);
		json_array_append_new(
		    list,
		    json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "id", (json_int_t)i,
			      "rx_msgs", (json_int_t)st.rx_msgs, "tx_msgs",
			      (json_int_t)st.tx_msgs, "handoff_in",
			      (json_int_t)st.handoff_in, "handoff_out",
			      (json_int_t)st.handoff_out, "overloaded",
			      (json_int_t)st.overloaded));
	}
	/* The B2B pool's workers (features/b2b/pool.h): how many, and the
	 * address the proxy routes to. */
	if (env->pool)
		b2b = json_pack("{s:I,s:s}", "workers",
				(json_int_t)pool_workers(env->pool), "address",
				pool_address(env->pool));
	else
		b2b =
		    json_pack("{s:I,s:n}", "workers", (json_int_t)0, "address");
	rpc_reply(call, json_pack("{s:I,s:o,s:o}", "workers", (json_int_t)n,
				  "shards", list ? list : json_array(), "b2b",
				  b2b ? b2b : json_null()));
}

struct stats_ctx {
	json_t *out;
	const char *prefix;
};

/* Add @p v to x->out[@p key], and set "module[i].rest" per instance. */
static void stats_put(struct stats_ctx *x, const struct stats_source *src,
		      unsigned inst, const char *rest, uint64_t v)
{
	char key[160];
	json_t *sum;
	uint64_t total = v;

	snprintf(key, sizeof(key), "%s.%s", src->module, rest);
	if (x->prefix && strncmp(key, x->prefix, strlen(x->prefix)))
		return;
	sum = json_object_get(x->out, key);
	if (sum && inst > 0)
		total += (uint64_t)json_integer_value(sum);
	json_object_set_new(x->out, key, json_integer((json_int_t)total));
	if (src->ninst <= 1)
		return;
	snprintf(key, sizeof(key), "%s[%u].%s", src->module, inst, rest);
	json_object_set_new(x->out, key, json_integer((json_int_t)v));
}

/* "module.item" summed over instances; "module[i].item" per instance;
 * a family's item as "module.item.VALUE"; a histogram as
 * "module.item_count" and "module.item_sum_us". */
static void stats_each(void *arg, const struct stats_source *src, unsigned inst,
		       const uint64_t *values, const struct stats_hist *hists)
{
	struct stats_ctx *x = arg;
	char rest[128];

	for (unsigned k = 0; k < src->nitems; k++) {
		const struct stats_item *it = &src->items[k];

		if (src->labels && src->labels[k].name)
			snprintf(rest, sizeof(rest), "%s.%s", it->name,
				 src->labels[k].value);
		else
			snprintf(rest, sizeof(rest), "%s", it->name);
		stats_put(x, src, inst, rest, values[k]);
	}
	for (unsigned k = 0; k < src->nhists; k++) {
		snprintf(rest, sizeof(rest), "%s_count", src->hists[k].name);
		stats_put(x, src, inst, rest, stats_hist_count(&hists[k]));
		snprintf(rest, sizeof(rest), "%s_sum_us", src->hists[k].name);
		stats_put(x, src, inst, rest, hists[k].sum_us);
	}
}

static void stats_get(struct rpc_call *call, json_t *params, void *arg)
{
	static const char *const names[] = { "prefix", NULL };
	struct stats_ctx x = { .prefix = NULL };

	(void)arg;
	if (rpc_params_only(call, params, 1, names) ||
	    rpc_param_str(call, params, 0, "prefix", false, &x.prefix) < 0)
		return;
	x.out = json_object();
	if (!x.out) {
		rpc_error(call, RPC_INTERNAL_ERROR, "out of memory");
		return;
	}
	stats_foreach(stats_each, &x);
	rpc_reply(call, x.out);
}

static void log_level(struct rpc_call *call, json_t *params, void *arg)
{
	static const char *const names[] = { "level", NULL };
	enum log_level old = LOG_DEBUG, lvl;
	const char *name = NULL;

	(void)arg;
	if (rpc_params_only(call, params, 1, names) ||
	    rpc_param_str(call, params, 0, "level", false, &name) < 0)
		return;
	while (old < LOG_ERR && !log_enabled(old))
		old++;
	if (!name) {
		rpc_reply(call,
			  json_pack("{s:s}", "level", log_level_name(old)));
		return;
	}
	if (log_level_parse(name, &lvl) < 0) {
		rpc_error(call, RPC_INVALID_PARAMS,
			  "invalid params: level '%.32s' is not debug, info, "
			  "notice, warn or error",
			  name);
		return;
	}
	log_set_level(lvl);
	log_msg(LOG_NOTICE, "sipedge: log level %s (was %s), by management",
		log_level_name(lvl), log_level_name(old));
	rpc_reply(call, json_pack("{s:s,s:s}", "level", log_level_name(lvl),
				  "previous", log_level_name(old)));
}

int rpc_core_add(struct rpc *r, struct mgmt_env *env)
{
	int err = rpc_method_add(r, "core.version", core_version, env);

	if (!err)
		err = rpc_method_add(r, "core.uptime", core_uptime, env);
	if (!err)
		err = rpc_method_add(r, "core.workers", core_workers, env);
	if (!err)
		err = rpc_method_add(r, "stats.get", stats_get, env);
	if (!err)
		err = rpc_method_add(r, "log.level", log_level, env);
	return err;
}
