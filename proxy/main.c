/* proxy/main.c - the sipedge command: options, config, shards, signals */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-daemon.h>
#include <urcu/urcu-memb.h>
#include <uv.h>

#include "features/b2b/b2b_conf.h"
#include "features/b2b/media.h"
#include "features/b2b/pool.h"
#include "features/b2b/ua.h"
#include "features/features_conf.h"
#include "features/gruu.h"
#include "features/intercom.h"
#include "features/blfroute.h"
#include "features/b2b/blf.h"
#include "features/park.h"
#include "features/park_conf.h"
#include "proxy/base/err.h"
#include "proxy/base/log.h"
#include "proxy/base/stats.h"
#include "proxy/core/conf.h"
#include "proxy/core/conf_store.h"
#include "proxy/core/guard.h"
#include "proxy/core/guard_conf.h"
#include "proxy/core/log_conf.h"
#include "proxy/core/trace_conf.h"
#include "proxy/core/post.h"
#include "proxy/core/shard.h"
#include "proxy/core/trace.h"
#include "proxy/hook.h"
#include "proxy/mgmt/health.h"
#include "proxy/mgmt/http.h"
#include "proxy/mgmt/metrics.h"
#include "proxy/mgmt/mgmt.h"
#include "proxy/mgmt/mgmt_conf.h"
#include "proxy/mgmt/reload.h"
#include "proxy/mgmt/rpc.h"
#include "proxy/mgmt/rpc_ban.h"
#include "proxy/mgmt/rpc_core.h"
#include "proxy/mgmt/rpc_dialog.h"
#include "proxy/mgmt/rpc_originate.h"
#include "proxy/mgmt/rpc_park.h"
#include "proxy/mgmt/rpc_location.h"
#include "proxy/mgmt/rpc_trace.h"
#include "proxy/mgmt/rpc_reload.h"
#include "proxy/pipeline.h"
#include "proxy/proxy_conf.h"
#include "proxy/dns.h"
#include "proxy/dns_conf.h"
#include "proxy/dtmf.h"
#include "proxy/rtpe.h"
#include "proxy/nat.h"
#include "proxy/nat_conf.h"
#include "proxy/rtpe_conf.h"
#include "registrar/auth.h"
#include "registrar/reg.h"
#include "registrar/reg_conf.h"
#include "registrar/users.h"
#include "store/dlg.h"
#include "store/loc.h"
#include "store/memory.h"
#include "store/park.h"
#include "store/redis.h"

enum {
	EXIT_CLEAN = 0,
	EXIT_CONFIG = 1,
	EXIT_USAGE = 2,
	EXIT_START = 3,
};

enum { OPT_CHECK = 256 };

/* Calls that may wait for the control thread at once (post_new()). */
#define CONTROL_INBOX_MAX 4096u

struct opts {
	const char *config; /* -c */
	const char *check;  /* --check */
	long workers;	    /* -w, or -1 */
	bool have_level;    /* -l given */
	enum log_level level;
};

/* What the main thread's loop watches. */
struct sigs {
	uv_signal_t term, intr, usr1;
	struct shards *shards;
};

/* "127.0.0.1:5060 (udp,tcp)", "[::1]:5060 (udp)". */
static void listen_name(const struct conf_listen *l, char *buf, size_t len)
{
	const char *tp = l->ws && l->tls    ? "wss"
			 : l->ws	    ? "ws"
			 : l->tls	    ? "tls"
			 : l->udp && l->tcp ? "udp,tcp"
			 : l->udp	    ? "udp"
					    : "tcp";

	if (strchr(l->address, ':'))
		snprintf(buf, len, "[%s]:%u (%s)", l->address, l->port, tp);
	else
		snprintf(buf, len, "%s:%u (%s)", l->address, l->port, tp);
}

/* Every listener of @c, comma-separated. */
static void listen_names(const struct conf *c, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < c->nlisten && n + 1 < len; i++) {
		char one[96];
		int m;

		listen_name(&c->listen[i], one, sizeof(one));
		m = snprintf(buf + n, len - n, "%s%s", i ? ", " : "", one);
		if (m < 0)
			break;
		n += (size_t)m;
	}
}

/* The built-in default, described from the code that makes it, so that
 * --help stays true when the default changes. */
static void print_default(FILE *f)
{
	struct conf *c = NULL;
	char buf[512], net[INET6_ADDRSTRLEN];

	if (conf_load(NULL, &c, buf, sizeof(buf)) < 0)
		return;
	listen_names(c, buf, sizeof(buf));
	fprintf(f,
		"Without -c, sipedge runs with the built-in default "
		"configuration:\n  listen on %s\n  domains:",
		buf);
	for (unsigned i = 0; i < c->ndomains; i++)
		fprintf(f, " %s", c->domains[i]);
	fprintf(f, "\n  location store: %s\n  registrar trusts:",
		store_conf(c)->backend == CONF_STORE_MEMORY ? "memory"
							    : "redis");
	for (unsigned i = 0; i < reg_conf(c)->ntrusted; i++) {
		const struct conf_net *n = &reg_conf(c)->trusted[i];

		if (!inet_ntop(n->family, n->addr, net, sizeof(net)))
			continue;
		fprintf(f, " %s/%u", net, n->prefix);
	}
	fprintf(f, "\n  workers: one per online CPU (%u here), log level %s\n",
		c->workers, log_level_name(c->log_level));
	fprintf(f,
		"  B2B worker pool: %u workers on %s (UDP; port 0 = a free "
		"one,\n  named at start); requests from its socket are "
		"trusted\n",
		b2b_conf(c)->workers, b2b_conf(c)->listen);
	for (unsigned i = 0; i < mgmt_conf(c)->nlisten; i++)
		fprintf(f,
			"  management API: http://%s (POST /rpc JSON-RPC, "
			"GET /metrics)\n",
			mgmt_conf(c)->listen[i].text);
	conf_free(c);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: sipedge [OPTIONS]\n"
		"SIP edge proxy and registrar.\n"
		"\n"
		"  -c, --config FILE      run with the YAML configuration in "
		"FILE\n"
		"      --check FILE       check FILE and exit: prints "
		"\"FILE: ok\" and exits 0,\n"
		"                         or prints \"FILE:LINE: reason\" "
		"and exits 1\n"
		"  -w, --workers N        worker threads, 0..%d (0 = one per "
		"online CPU);\n"
		"                         overrides the file's workers\n"
		"  -l, --log-level LEVEL  debug, info, notice, warn or error; "
		"overrides the\n"
		"                         file's log_level\n"
		"  -h, --help             print this help and exit\n"
		"  -V, --version          print the version and exit\n"
		"\n",
		CONF_MAX_WORKERS);
	print_default(f);
	fprintf(f, "\n"
		   "Signals: SIGTERM and SIGINT stop cleanly; SIGUSR1 logs "
		   "every module's counters;\n"
		   "SIGHUP reloads the configuration file (as config.reload).\n"
		   "Exit status: 0 clean stop, 1 configuration error, "
		   "2 usage error,\n"
		   "3 could not bind or start.\n");
}

static int usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sipedge: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'sipedge --help'.\n");
	return EXIT_USAGE;
}

/* Returns -1 to go on, or the exit status. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", required_argument, NULL, OPT_CHECK },
		{ "workers", required_argument, NULL, 'w' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int ch;

	o->config = NULL;
	o->check = NULL;
	o->workers = -1;
	o->have_level = false;
	o->level = LOG_INFO;
	/* Bounded: getopt_long consumes at least one argument each pass. */
	while ((ch = getopt_long(argc, argv, "c:w:l:hV", longopts, NULL)) !=
	       -1) {
		switch (ch) {
		case 'c':
			o->config = optarg;
			break;
		case OPT_CHECK:
			o->check = optarg;
			break;
		case 'w':
			errno = 0;
			o->workers = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || o->workers < 0 ||
			    o->workers > CONF_MAX_WORKERS)
				return usage_error("--workers: '%s' is not a "
						   "number of workers (0..%d)",
						   optarg, CONF_MAX_WORKERS);
			break;
		case 'l':
			if (log_level_parse(optarg, &o->level) < 0)
				return usage_error("--log-level: '%s' is not "
						   "debug, info, notice, warn "
						   "or error",
						   optarg);
			o->have_level = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_CLEAN;
		case 'V':
			printf("sipedge %s\n", SIPEDGE_VERSION);
			return EXIT_CLEAN;
		default:
			/* getopt_long has said what was wrong. */
			fprintf(stderr, "Try 'sipedge --help'.\n");
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (o->config && o->check)
		return usage_error("use -c FILE or --check FILE, not both");
	return -1;
}

static void close_cb(uv_handle_t *h)
{
	(void)h;
}

static void stop_cb(uv_signal_t *h, int signum)
{
	struct sigs *s = h->data;

	log_msg(LOG_NOTICE, "sipedge: %s, stopping", strsignal(signum));
	/* Under systemd (Type=notify); a no-op without $NOTIFY_SOCKET. */
	sd_notify(0, "STOPPING=1");
	uv_close((uv_handle_t *)&s->term, close_cb);
	uv_close((uv_handle_t *)&s->intr, close_cb);
	uv_close((uv_handle_t *)&s->usr1, close_cb);
}

/* SIGUSR1: every module's counters, from the registry. */
static void stats_cb(uv_signal_t *h, int signum)
{
	(void)h;
	(void)signum;
	stats_log(LOG_INFO);
}

static int signals_start(uv_loop_t *loop, struct sigs *s)
{
	int err;

	uv_signal_init(loop, &s->term);
	uv_signal_init(loop, &s->intr);
	uv_signal_init(loop, &s->usr1);
	s->term.data = s->intr.data = s->usr1.data = s;
	err = uv_signal_start(&s->term, stop_cb, SIGTERM);
	if (!err)
		err = uv_signal_start(&s->intr, stop_cb, SIGINT);
	if (!err)
		err = uv_signal_start(&s->usr1, stats_cb, SIGUSR1);
	return err;
}

/* The `locations:` of the config, published before any shard runs. */
/* The media engine's built-in sounds, once for every pool worker. A
 * b2b.media.sounds that does not load stops the start; without it, the
 * pool runs silent (prompts and music become silence) and says so. */
static int load_sounds(const struct conf *c)
{
	const char *want = b2b_conf(c)->media_sounds;
	char dir[1024], why[1024] = "";
	int err;

	err = media_sounds_dir(want, dir, sizeof(dir));
	if (!err)
		err = media_sounds_load(dir, why, sizeof(why));
	if (!err) {
		log_msg(LOG_INFO, "media: sounds from %s", dir);
		return 0;
	}
	log_msg(want ? LOG_ERR : LOG_WARN, "media: b2b.media.sounds %s: %s%s",
		dir, why[0] ? why : err_str(err),
		want ? "" : " (prompts and music are silence)");
	return want ? ERR_CONFIG : 0;
}

static int preload_locations(const struct conf *c)
{
	struct loc_contact lc[CONF_MAX_CONTACTS];
	int err;

	for (unsigned i = 0; i < proxy_conf(c)->nlocations; i++) {
		const struct conf_location *l = &proxy_conf(c)->locations[i];

		memset(lc, 0, sizeof(lc));
		for (unsigned k = 0; k < l->ncontacts; k++) {
			lc[k].uri = slice_cstr(l->contacts[k].uri);
			lc[k].q = l->contacts[k].q;
			/* Never expires (the sweep drops expires_s <= now). */
			lc[k].expires_s = INT64_MAX;
			lc[k].call_id = SLICE_LIT("config");
		}
		err = loc_publish(slice_cstr(l->aor), lc, l->ncontacts);
		if (err) {
			log_msg(LOG_ERR, "sipedge: location %s: %s", l->aor,
				err_str(err));
			return err;
		}
	}
	return 0;
}

/* The registrar's state: credentials, tables, hooks, store thread. */
struct registrar {
	struct memory *mem;
	struct redis *redis; /* store: redis */
	uv_signal_t hup;
	bool hup_init;
	bool auth_init, reg_init;
};

/* Routing's user check (proxy/hook.h): with a users file, a user of a
 * served domain exists when the file lists it; without one, always. */
static bool user_check(struct slice user, struct slice domain)
{
	return !users_loaded() || users_exists(user, domain);
}

/* reload_start() logged the outcome. */
static void hup_done(void *arg, const struct reload_result *res)
{
	(void)arg;
	(void)res;
}

/* SIGHUP: reload the configuration (proxy/mgmt/reload.h); before the
 * reload state exists, only the users file. */
static void hup_cb(uv_signal_t *h, int signum)
{
	(void)signum;
	log_msg(LOG_NOTICE, "sipedge: SIGHUP, reloading");
	if (h->data)
		reload_start(h->data, hup_done, NULL);
	else
		users_reload();
}

/* Before shards run: the snapshot (a restart keeps registrations). */
static void registrar_load(const struct conf *c)
{
	if (store_conf(c)->backend == CONF_STORE_MEMORY &&
	    store_conf(c)->snapshot)
		memory_load(store_conf(c)->snapshot, (int64_t)time(NULL));
}

/* Each shard's Redis writer lives on the shard's loop. */
static void redis_attach_cb(unsigned id, struct uv_loop_s *loop, void *arg)
{
	int err = redis_shard_attach(arg, id, loop);

	if (err)
		log_msg(LOG_ERR, "sipedge: shard %u: redis writer: %s", id,
			err_str(err));
}

static void redis_detach_cb(unsigned id, struct uv_loop_s *loop, void *arg)
{
	(void)loop;
	redis_shard_detach(arg, id);
}

/* store: redis: the store thread (first load, bounded) and the shards'
 * writers. */
static int redis_store_start(const struct conf *c, struct registrar *g)
{
	const struct redis_opts o = {
		.address = store_conf(c)->redis.address,
		.password = store_conf(c)->redis.password,
		.db = store_conf(c)->redis.db,
		.connect_timeout_ms = store_conf(c)->redis.connect_timeout_ms,
		.command_timeout_ms = store_conf(c)->redis.command_timeout_ms,
		.queue_max = store_conf(c)->redis.queue_max,
		.ns = store_conf(c)->redis.ns,
		.sentinel_master = store_conf(c)->redis.sentinel_master,
		.sentinels =
		    (const char *const *)store_conf(c)->redis.sentinels,
		.nsentinels = store_conf(c)->redis.nsentinels,
		.cluster = (const char *const *)store_conf(c)->redis.cluster,
		.ncluster = store_conf(c)->redis.ncluster,
	};
	int err = redis_start(&o, c->workers, &g->redis);

	if (!err)
		err =
		    shards_add_hook(redis_attach_cb, redis_detach_cb, g->redis);
	return err;
}

/* The order of the functions of one hook stage (proxy/hook.h): lower
 * first. */
enum {
	PRIO_GRUU = 100,
	PRIO_INTERCOM = 200,
	PRIO_BLF = 300,
	PRIO_PARK = 400,
};

/* The registrar's authentication policy, for intercom. */
static unsigned auth_methods(const struct conf *c)
{
	return reg_conf(c)->auth_methods;
}

/* The registrar's and the features' stages. */
static int hooks_add(void)
{
	int err;

	intercom_set_policy(reg_conf_is_trusted, auth_methods);
	err = hook_add(HOOK_AUTH, auth_hook, 0);
	if (!err)
		err = hook_add(HOOK_REGISTRAR, reg_hook, 0);
	if (!err)
		err = hook_add_user_check(user_check, 0);
	/* features/: GRUU routing, intercom, and no auto-answer marking
	 * that intercom did not add. */
	if (!err)
		err = hook_add_lookup(gruu_lookup, PRIO_GRUU);
	if (!err)
		err = hook_add(HOOK_FEATURES, intercom_hook, PRIO_INTERCOM);
	if (!err)
		err = hook_add_clean(intercom_clean, PRIO_INTERCOM);
	/* BLF for park slots: SUBSCRIBE to a slot or lot -> the pool. */
	if (!err)
		err = hook_add(HOOK_FEATURES, blfroute_hook, PRIO_BLF);
	/* Park's code and slots to the B2B pool. */
	if (!err)
		err = hook_add(HOOK_FEATURES, park_hook, PRIO_PARK);
	/* *7 in a proxied call's INFO parks the other party. */
	if (!err)
		err = hook_add(HOOK_FEATURES, park_dtmf_hook, PRIO_PARK);
	return err;
}

#define KEY_USERS "registrar.users_file: "

/* The registrar's users file, when the config names one: start-up and
 * --check load it with this one function. Returns 0, or a negative
 * error with "FILE: reason" or "FILE:LINE: reason" in @errbuf.
 * Thread: main, a registered RCU thread. */
static int users_start(const struct conf *c, char *errbuf, size_t errlen)
{
	long n;

	if (!reg_conf(c)->users_file)
		return 0;
	n = users_load(reg_conf(c)->users_file, errbuf, errlen);
	if (n < 0) {
		/* Name the key too (a missing file says only its path);
		 * start-up and --check say the same. */
		size_t len = strlen(errbuf), pre = strlen(KEY_USERS);

		if (len + pre < errlen) {
			memmove(errbuf + pre, errbuf, len + 1);
			memcpy(errbuf, KEY_USERS, pre);
		}
		return (int)n;
	}
	log_msg(LOG_INFO, "sipedge: users: %s: %ld users",
		reg_conf(c)->users_file, n);
	return 0;
}

/* Users file, auth and registrar tables, hooks, the store thread and
 * SIGHUP (reload the users file). Returns 0 or an EXIT_* status. */
static int registrar_start(const struct conf *c, uv_loop_t *loop,
			   struct registrar *g)
{
	char errbuf[512];
	int err;

	if (users_start(c, errbuf, sizeof(errbuf)) < 0) {
		log_msg(LOG_ERR, "sipedge: users: %s", errbuf);
		return EXIT_CONFIG;
	}
	err = auth_init(c, c->workers);
	g->auth_init = !err;
	if (!err)
		err = reg_init(c->workers);
	g->reg_init = !err;
	if (!err)
		err = gruu_init(reg_conf(c)->secret);
	if (!err)
		err = memory_start(store_conf(c)->backend == CONF_STORE_MEMORY
				       ? store_conf(c)->snapshot
				       : NULL,
				   store_conf(c)->snapshot_interval_s, &g->mem);
	if (!err && store_conf(c)->backend == CONF_STORE_REDIS)
		err = redis_store_start(c, g);
	if (!err)
		err = uv_signal_init(loop, &g->hup);
	g->hup_init = !err;
	g->hup.data = NULL;
	/* Not a reason for the loop to keep running. */
	if (!err && !(err = uv_signal_start(&g->hup, hup_cb, SIGHUP)))
		uv_unref((uv_handle_t *)&g->hup);
	if (err) {
		log_msg(LOG_ERR, "sipedge: registrar: %s", err_str(err));
		return EXIT_START;
	}
	err = hooks_add();
	if (err) {
		log_msg(LOG_ERR, "sipedge: hooks: %s", err_str(err));
		return EXIT_START;
	}
	return 0;
}

/* After the shards stopped: the last snapshot, then free. */
static void registrar_stop(struct registrar *g)
{
	hook_clear();
	gruu_fini();
	memory_stop(g->mem);
	g->mem = NULL;
	shards_clear_hooks();
	redis_stop(g->redis);
	g->redis = NULL;
	if (g->hup_init && !uv_is_closing((uv_handle_t *)&g->hup))
		uv_close((uv_handle_t *)&g->hup, close_cb);
	if (g->reg_init)
		reg_fini();
	if (g->auth_init)
		auth_fini();
	g->auth_init = g->reg_init = false;
	users_fini();
}

/* The management API: JSON-RPC engine, its methods, the HTTP server. */
struct mgmt {
	struct mgmt_env env;
	struct rpc *rpc;
	struct http *http;
	struct reload *reload;
};

static int64_t now_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Methods and pages, then listen (after the shards: methods reach them).
 * Returns 0 or an EXIT_* status. */
static int management_start(struct mgmt *m, const struct conf *c,
			    struct post *inbox, struct shards *shards)
{
	const struct mgmt_conf *mc = mgmt_conf(c);
	int err;

	m->env.conf = c;
	m->env.shards = shards;
	m->env.control = inbox;
	m->env.started_s = (int64_t)time(NULL);
	m->env.started_ms = now_mono_ms();
	err = rpc_new(inbox, &m->rpc);
	if (!err)
		err = rpc_core_add(m->rpc, &m->env);
	if (!err)
		err = rpc_location_add(m->rpc, &m->env);
	if (!err)
		err = rpc_trace_add(m->rpc, &m->env);
	if (!err)
		err = rpc_dialog_add(m->rpc, &m->env);
	if (!err)
		err = rpc_originate_add(m->rpc, &m->env);
	if (!err)
		err = rpc_ban_add(m->rpc, &m->env);
	if (!err)
		err = rpc_park_add(m->rpc, &m->env);
	if (!err)
		err = http_new(m->rpc, &m->http);
	if (!err)
		err = http_page_add(m->http, "/metrics", METRICS_CONTENT_TYPE,
				    metrics_page, NULL, false);
	if (!err)
		err = http_page_add(m->http, "/health", HEALTH_CONTENT_TYPE,
				    health_page, m->rpc, true);
	if (!err)
		err = rpc_reload_add(m->rpc, m->reload);
	m->env.http = m->http;
	if (err) {
		log_msg(LOG_ERR, "sipedge: management: %s", err_str(err));
		return EXIT_START;
	}
	if (!mc->nlisten)
		return 0;
	err = http_listen(m->http, mc);
	if (err)
		return EXIT_START; /* http_listen() said which address */
	for (unsigned i = 0; i < mc->nlisten; i++)
		log_msg(LOG_INFO, "sipedge: management API on http://%s%s",
			mc->listen[i].text, mc->token ? " (token)" : "");
	return 0;
}

/* The same IP address (the port aside). */
static bool same_ip(const struct sockaddr_storage *a,
		    const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			       &((const struct sockaddr_in6 *)b)->sin6_addr,
			       16);
	return false;
}

/* security: who is never limited: registrar.trusted, the B2B pool's
 * socket, and the next hops of routes: (trunks; any port of theirs). */
static bool guard_exempt(const struct conf *c, const struct peer *from)
{
	const struct proxy_conf *pc = proxy_conf(c);

	if (reg_conf_is_trusted(c, (const struct sockaddr *)&from->addr) ||
	    pool_is_source(from))
		return true;
	for (unsigned i = 0; i < pc->nroutes; i++)
		for (unsigned j = 0; j < pc->routes[i].nnext_hop; j++)
			if (same_ip(&pc->routes[i].next_hop[j].addr,
				    &from->addr))
				return true;
	return false;
}

/* Start the shards, wait for SIGTERM or SIGINT, stop them. */
static int run(const struct conf *c, const struct opts *o)
{
	const struct reload_opts ro = {
		.path = o->config,
		.workers = o->workers,
		.have_level = o->have_level,
		.level = o->level,
	};
	struct registrar g = { .mem = NULL };
	struct sigs s = { .shards = NULL };
	struct post *inbox = NULL; /* the control thread's mailbox */
	struct mgmt m = { .rpc = NULL };
	struct pool *pool = NULL; /* the B2B pool, when b2b.workers > 0 */
	char names[1024], b2b[96] = "";
	uv_loop_t loop;
	int err, status = EXIT_CLEAN;

	listen_names(c, names, sizeof(names));
	err = uv_loop_init(&loop);
	if (err) {
		log_msg(LOG_ERR, "sipedge: event loop: %s", uv_strerror(err));
		return EXIT_START;
	}
	/* Signals first: a SIGTERM during start-up still stops cleanly. */
	err = signals_start(&loop, &s);
	if (err) {
		log_msg(LOG_ERR, "sipedge: signals: %s", uv_strerror(err));
		status = EXIT_START;
		goto out;
	}
	/* Other threads (management API, Redis subscriber) post work for
	 * this thread here. */
	err = post_new(&loop, CONTROL_INBOX_MAX, &inbox);
	if (err) {
		log_msg(LOG_ERR, "sipedge: control inbox: %s", err_str(err));
		status = EXIT_START;
		goto out;
	}
	err = dlg_init();
	if (!err)
		err = loc_init();
	if (!err)
		registrar_load(c);
	if (!err)
		err = preload_locations(c);
	if (err) {
		log_msg(LOG_ERR, "sipedge: tables: %s", err_str(err));
		status = EXIT_START;
		goto out;
	}
	status = registrar_start(c, &loop, &g);
	if (status != EXIT_CLEAN)
		goto out;
	/* A trace: section: traced from the first message on. */
	if (trace_conf_apply(c)) {
		status = EXIT_START; /* trace_conf_apply() said why */
		goto out;
	}
	err = guard_start(c, guard_exempt);
	if (err) {
		log_msg(LOG_ERR, "sipedge: security: %s", err_str(err));
		status = EXIT_START;
		goto out;
	}
	/* Park's slot table and the lots BLF resolves against, before any
	 * shard routes a SUBSCRIBE. */
	err = park_feature_start(c);
	/* store: redis: park slots in Redis too, shared by every node. */
	if (!err && g.redis)
		err = park_redis_start(g.redis);
	if (err) {
		log_msg(LOG_ERR, "sipedge: park: %s", err_str(err));
		status = EXIT_START;
		goto out;
	}
	/* media: the rtpengine counters, one per shard, before them. */
	err = rtpe_init(c);
	if (err) {
		log_msg(LOG_ERR, "sipedge: media: %s", err_str(err));
		status = EXIT_START;
		goto out;
	}
	/* media.dtmf_events: rtpengine's key presses to park's *7. */
	err = dtmf_init(c, park_dtmf_event);
	if (err) {
		status = EXIT_START; /* dtmf_init() said why */
		goto out;
	}
	/* dns: the resolvers' counters, one per shard, likewise. */
	err = dns_conf(c)->enabled ? dns_init(c->workers) : 0;
	if (err) {
		log_msg(LOG_ERR, "sipedge: dns: %s", err_str(err));
		status = EXIT_START;
		goto out;
	}
	/* nat: its counters, before the shards count. */
	err = nat_init(c);
	if (err) {
		log_msg(LOG_ERR, "sipedge: nat: %s", err_str(err));
		status = EXIT_START;
		goto out;
	}
	err = shards_start(c, &pipeline_role, &s.shards);
	if (err) {
		log_msg(LOG_ERR, "sipedge: could not start on %s: %s", names,
			err_str(err));
		status = EXIT_START;
		goto out;
	}
	/* The B2B pool after the proxy's shards, which it sends through. */
	err = pool_set_ua(&ua_pool);
	/* INVITEs to the pool: park's to park (on its lot's worker), the
	 * rest bridged by the relay. */
	ua_set_incoming(park_incoming);
	/* BLF: SUBSCRIBEs to park URIs, on the worker of the lot. */
	if (!err)
		err = ua_add_other(blf_request);
	/* Park's steering asks BLF's first: both pick the lot's worker. */
	pool_set_steer(park_steer);
	if (!err && b2b_conf(c)->workers)
		err = load_sounds(c);
	/* The media engines' counters, one per pool worker. */
	if (!err)
		err = media_stats_init(b2b_conf(c)->workers);
	if (!err)
		err = pool_start(c, &pool);
	if (err) {
		status = EXIT_START; /* pool_start() said why */
		goto out;
	}
	m.env.pool = pool;
	park_set_pool(pool);
	if (pool) { /* where other nodes route retrievals of our slots */
		char uri[PARK_POOL_MAX + 1];

		snprintf(uri, sizeof(uri), "sip:%s", pool_address(pool));
		park_set_self(uri);
	}
	if (pool)
		snprintf(b2b, sizeof(b2b), " b2b=%u@%s", pool_workers(pool),
			 pool_address(pool));
	err = reload_new(&loop, &m.env, &ro, &m.reload);
	if (err) {
		log_msg(LOG_ERR, "sipedge: reload: %s", err_str(err));
		status = EXIT_START;
		goto out;
	}
	g.hup.data = m.reload;
	status = management_start(&m, c, inbox, s.shards);
	if (status != EXIT_CLEAN)
		goto out;
	log_msg(LOG_INFO, "sipedge %s listening on %s workers=%u%s",
		SIPEDGE_VERSION, names, c->workers, b2b);
	sd_notifyf(0, "READY=1\nSTATUS=listening on %s", names);
	uv_run(&loop, UV_RUN_DEFAULT);
out:
	/* New management calls are refused from here; the ones under way
	 * are answered by the shards (or the mailbox) as they stop. */
	rpc_quiesce(m.rpc);
	/* The pool before the proxy's shards: nothing it still sends
	 * finds them gone. */
	m.env.pool = NULL;
	park_set_pool(NULL);
	pool_stop(pool);
	pool = NULL;
	media_sounds_unload(); /* the pool's workers played them */
	media_stats_fini();
	if (s.shards) {
		shards_stop(s.shards);
		s.shards = NULL;
		m.env.shards = NULL;
		log_msg(LOG_INFO, "sipedge: stopped");
	}
	/* The pool's workers held the slots, the shards resolved BLF URIs. */
	park_feature_stop();
	rtpe_fini(); /* no shard counts any more */
	dtmf_fini();
	nat_fini();
	dns_fini();
	trace_stop(NULL); /* the shards gave it their last messages */
	guard_stop();	  /* no shard counts any more */
	/* A reload under way is answered; the shards are gone. */
	g.hup.data = NULL;
	reload_stop(m.reload);
	/* Shards gone (or never started): save the snapshot, free. */
	registrar_stop(&g);
	/* Every thread that could post is gone but the HTTP server's,
	 * whose calls are refused; what waits is answered "stopping". */
	post_free(inbox);
	http_free(m.http);
	rpc_free(m.rpc);
	if (!uv_is_closing((uv_handle_t *)&s.term)) {
		uv_close((uv_handle_t *)&s.term, close_cb);
		uv_close((uv_handle_t *)&s.intr, close_cb);
		uv_close((uv_handle_t *)&s.usr1, close_cb);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	/* The shards are gone: nothing reads the configs any more. */
	reload_free(m.reload);
	/* The shards are gone: nothing reads the tables any more. */
	loc_fini();
	dlg_fini();
	err = uv_loop_close(&loop);
	if (err)
		log_msg(LOG_WARN, "sipedge: event loop close: %s",
			uv_strerror(err));
	return status;
}

/* Every module's config section, in the order they are built (features
 * check their domains against the runtime's, built first). */
static void sections_add(void)
{
	static const struct conf_section *const all[] = {
		&conf_store_section, &reg_conf_section,
		&proxy_conf_section, &features_conf_section,
		&mgmt_conf_section,  &log_conf_section,
		&b2b_conf_section,   &trace_conf_section,
		&guard_conf_section, &park_conf_section,
		&rtpe_conf_section,  &dns_conf_section,
		&nat_conf_section,
	};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (conf_section_add(all[i]) < 0)
			abort(); /* a programmer error: a key owned twice */
}

/* --check FILE: what start-up loads before it opens a socket, the config
 * and the users file it names, then nothing more. */
static int check(const char *path)
{
	struct conf *c = NULL;
	char errbuf[512];
	int err;

	err = conf_load(path, &c, errbuf, sizeof(errbuf));
	if (err) {
		fprintf(stderr, "%s\n", errbuf);
		return EXIT_CONFIG;
	}
	log_set_level(c->log_level);
	urcu_memb_register_thread();
	err = users_start(c, errbuf, sizeof(errbuf));
	users_fini();
	urcu_memb_unregister_thread();
	conf_free(c);
	if (err) {
		fprintf(stderr, "%s\n", errbuf);
		return EXIT_CONFIG;
	}
	printf("%s: ok\n", path);
	return EXIT_CLEAN;
}

int main(int argc, char **argv)
{
	struct conf *c = NULL;
	struct opts o;
	char errbuf[512];
	int status, err;

	sections_add();
	status = parse_args(argc, argv, &o);
	if (status >= 0)
		return status;
	if (o.check)
		return check(o.check);
	err = conf_load(o.config, &c, errbuf, sizeof(errbuf));
	if (err) {
		fprintf(stderr, "%s\n", errbuf);
		return EXIT_CONFIG;
	}
	/* The command line wins over the file. Nothing reads the config
	 * yet, so it may still change here. */
	if (o.workers >= 0)
		c->workers = conf_workers((unsigned)o.workers);
	if (o.have_level)
		c->log_level = o.level;
	log_set_level(c->log_level);
	if (log_conf_apply(c) < 0)
		log_msg(LOG_WARN, "sipedge: log.target %s: cannot open it",
			log_target_name(log_conf(c)->target));
	/* A peer closing a TCP connection must not kill the process. */
	signal(SIGPIPE, SIG_IGN);
	urcu_memb_register_thread();
	status = run(c, &o);
	urcu_memb_unregister_thread();
	conf_free(c);
	return status;
}
