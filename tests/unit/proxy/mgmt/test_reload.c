/* tests/unit/proxy/mgmt/test_reload.c - what a reload may change: the
 * restart-only keys, the changed top-level keys, the grace period */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/base/obj.h"
#include "proxy/core/conf.h"
#include "proxy/mgmt/mgmt_conf.h"
#include "proxy/mgmt/reload.h"
#include "tests/unit/sections.h"

static struct conf *a, *b;
static char *keys[RELOAD_MAX_KEYS];
static long live0;

static void setup(void)
{
	sections_add_all();
	/* proxy/main.c registers it last; adding it twice does nothing. */
	cr_assert_eq(conf_section_add(&mgmt_conf_section), 0);
	a = b = NULL;
	memset(keys, 0, sizeof(keys));
	live0 = obj_live();
}

static void teardown(void)
{
	conf_free(a);
	conf_free(b);
	for (unsigned i = 0; i < RELOAD_MAX_KEYS; i++)
		free(keys[i]);
	cr_assert_eq(obj_live(), live0, "objects leaked");
}

TestSuite(reload, .init = setup, .fini = teardown, .timeout = 20);

/* The base every test changes one thing of. */
#define BASE                                   \
	"workers: 2\n"                         \
	"listen:\n"                            \
	"  - address: 127.0.0.1\n"             \
	"    port: 5062\n"                     \
	"domains: [example.com]\n"             \
	"registrar:\n"                         \
	"  trusted: [10.0.0.0/8]\n"            \
	"  secret: \"0123456789abcdef0123\"\n" \
	"routes:\n"                            \
	"  - domain: carrier.example\n"        \
	"    next_hop: [\"sip:192.0.2.10\"]\n" \
	"locations:\n"                         \
	"  - aor: alice@example.com\n"         \
	"    contacts: [\"sip:alice@192.0.2.30\"]\n"

static struct conf *load(const char *yaml)
{
	struct conf *c = NULL;
	char err[256];

	cr_assert_eq(
	    conf_load_mem("t.yaml", yaml, strlen(yaml), &c, err, sizeof(err)),
	    0, "%s", err);
	return c;
}

/* The restart key between BASE and BASE with @p extra after it, or
 * with @p from replaced by @p to. */
static const char *key_of(const char *from, const char *to)
{
	char text[2048];
	const char *p = strstr(BASE, from);

	cr_assert_not_null(p, "'%s' is not in the base", from);
	snprintf(text, sizeof(text), "%.*s%s%s", (int)(p - BASE), BASE, to,
		 p + strlen(from));
	a = load(BASE);
	b = load(text);
	return reload_restart_key(a, b);
}

static void restart(const char *from, const char *to, const char *key)
{
	const char *k = key_of(from, to);

	cr_assert_not_null(k, "'%s' -> '%s' should need a restart", from, to);
	cr_assert_str_eq(k, key);
}

static void reloads(const char *from, const char *to)
{
	const char *k = key_of(from, to);

	cr_assert_null(k, "'%s' -> '%s' should reload, got '%s'", from, to,
		       k ? k : "");
}

Test(reload, same_file_needs_no_restart)
{
	a = load(BASE);
	b = load(BASE);
	cr_assert_null(reload_restart_key(a, b));
}

Test(reload, workers_needs_a_restart)
{
	restart("workers: 2", "workers: 3", "workers");
}

Test(reload, listen_port_and_address_need_a_restart)
{
	restart("port: 5062", "port: 5063", "listen");
	conf_free(a);
	conf_free(b);
	restart("address: 127.0.0.1", "address: 127.0.0.2", "listen");
	conf_free(a);
	conf_free(b);
	restart("    port: 5062\n", "    port: 5062\n    transports: [udp]\n",
		"listen");
}

Test(reload, store_backend_and_redis_need_a_restart)
{
	restart("workers: 2\n", "workers: 2\nstore:\n  backend: redis\n",
		"store.backend");
	conf_free(a);
	conf_free(b);
	restart("workers: 2\n",
		"workers: 2\nstore:\n  redis:\n    address: "
		"\"127.0.0.1:6380\"\n",
		"store.redis.address");
	conf_free(a);
	conf_free(b);
	restart("workers: 2\n", "workers: 2\nstore:\n  redis:\n    db: 3\n",
		"store.redis.db");
	conf_free(a);
	conf_free(b);
	restart("workers: 2\n",
		"workers: 2\nstore:\n  redis:\n    namespace: other\n",
		"store.redis.namespace");
}

Test(reload, secret_timers_and_limits_read_at_start_need_a_restart)
{
	restart("0123456789abcdef0123", "0123456789abcdef0124",
		"registrar.secret");
	conf_free(a);
	conf_free(b);
	restart("workers: 2\n", "workers: 2\nproxy:\n  t1_ms: 50\n",
		"proxy.t1_ms");
	conf_free(a);
	conf_free(b);
	restart("workers: 2\n", "workers: 2\nudp:\n  batch: 8\n", "udp.batch");
	conf_free(a);
	conf_free(b);
	restart("workers: 2\n", "workers: 2\ntcp:\n  max_body_bytes: 10\n",
		"tcp.max_body_bytes");
	conf_free(a);
	conf_free(b);
	restart("workers: 2\n", "workers: 2\nmax_headers: 64\n", "max_headers");
}

Test(reload, locations_need_a_restart)
{
	restart("sip:alice@192.0.2.30", "sip:alice@192.0.2.31", "locations");
}

Test(reload, management_listen_needs_a_restart_the_token_does_not)
{
	restart("workers: 2\n",
		"workers: 2\nmanagement:\n  listen: [\"127.0.0.1:5081\"]\n",
		"management.listen");
	conf_free(a);
	conf_free(b);
	reloads(
	    "workers: 2\n",
	    "workers: 2\nmanagement:\n  token: \"s3cret-token-0123456789\"\n");
}

Test(reload, routes_domains_trusted_and_log_level_reload)
{
	reloads("sip:192.0.2.10", "sip:192.0.2.11");
	conf_free(a);
	conf_free(b);
	reloads("domains: [example.com]", "domains: [example.com, b.example]");
	conf_free(a);
	conf_free(b);
	reloads("[10.0.0.0/8]", "[10.0.0.0/8, 192.0.2.0/24]");
	conf_free(a);
	conf_free(b);
	reloads("workers: 2\n", "workers: 2\nlog_level: debug\n");
}

Test(reload, limits_intercom_and_users_file_reload)
{
	reloads("workers: 2\n",
		"workers: 2\noverload:\n  max_transactions: 10\n");
	conf_free(a);
	conf_free(b);
	reloads("workers: 2\n", "workers: 2\nfeatures:\n  intercom:\n"
				"    - domain: example.com\n"
				"      code: \"*7\"\n");
	conf_free(a);
	conf_free(b);
	reloads("  trusted:", "  users_file: /etc/sipedge/users\n  trusted:");
}

Test(reload, changed_keys_lists_the_top_level_keys_that_differ)
{
	const char *x = "workers: 2\nroutes:\n  - domain: a.example\n"
			"    next_hop: [\"sip:192.0.2.1\"]\nlog_level: info\n";
	const char *y = "# a comment\nlog_level: notice\nworkers: 2\n"
			"routes:\n  - domain: a.example\n"
			"    next_hop: [\"sip:192.0.2.2\"]\n";
	int n = reload_changed_keys(x, strlen(x), y, strlen(y), keys,
				    RELOAD_MAX_KEYS);

	cr_assert_eq(n, 2);
	cr_assert_str_eq(keys[0], "log_level");
	cr_assert_str_eq(keys[1], "routes");
}

Test(reload, changed_keys_ignores_layout_comments_and_key_order)
{
	const char *x = "tcp:\n  idle_timeout_s: 5\n  max_connections: 9\n"
			"domains: [a, b]\n";
	const char *y = "domains:\n  - a\n  - b   # two\n"
			"tcp: {max_connections: 9, idle_timeout_s: 5}\n";

	cr_assert_eq(reload_changed_keys(x, strlen(x), y, strlen(y), keys,
					 RELOAD_MAX_KEYS),
		     0);
}

Test(reload, changed_keys_counts_added_and_removed_keys)
{
	const char *x = "workers: 2\nudp:\n  batch: 8\n";
	const char *y = "workers: 2\nmax_headers: 64\n";

	cr_assert_eq(reload_changed_keys(x, strlen(x), y, strlen(y), keys,
					 RELOAD_MAX_KEYS),
		     2);
	cr_assert_str_eq(keys[0], "max_headers");
	cr_assert_str_eq(keys[1], "udp");
}

Test(reload, changed_keys_from_an_empty_file)
{
	const char *y = "workers: 2\n";

	cr_assert_eq(
	    reload_changed_keys("", 0, y, strlen(y), keys, RELOAD_MAX_KEYS), 1);
	cr_assert_str_eq(keys[0], "workers");
}

Test(reload, changed_keys_refuses_text_that_is_not_yaml)
{
	const char *x = "workers: 2\n";
	const char *y = "workers: [2\n";

	cr_assert_eq(reload_changed_keys(x, strlen(x), y, strlen(y), keys,
					 RELOAD_MAX_KEYS),
		     -EINVAL);
	cr_assert_null(keys[0]);
}

Test(reload, grace_covers_timer_c_and_the_transaction_timers)
{
	a = load("proxy:\n  timer_c_s: 10\n  t1_ms: 100\n");
	/* 10 s + 2 * 64 * 100 ms + 60 s */
	cr_assert_eq(reload_grace_ms(a), 10000 + 12800 + 60000);
}

/* Park's lots live on the pool, which keeps its config. */
Test(reload, park_lots_need_a_restart)
{
	restart("workers: 2\n",
		"workers: 2\npark:\n  - domain: example.com\n"
		"    slots: 701-710\n",
		"park");
	conf_free(a);
	conf_free(b);
	a = load(BASE "park:\n  - domain: example.com\n    code: \"800\"\n");
	b = load(BASE "park:\n  - domain: example.com\n    code: \"900\"\n");
	cr_assert_str_eq(reload_restart_key(a, b), "park");
	conf_free(a);
	a = load(BASE "park:\n  - domain: example.com\n    code: \"900\"\n");
	cr_assert_null(reload_restart_key(a, b));
}

/* The B2B pool runs with the config it started with (pool_start()). */
Test(reload, b2b_keys_need_a_restart)
{
	restart("workers: 2\n", "workers: 2\nb2b:\n  workers: 0\n",
		"b2b.workers");
	conf_free(a);
	conf_free(b);
	restart("workers: 2\n",
		"workers: 2\nb2b:\n  listen: \"127.0.0.1:5090\"\n",
		"b2b.listen");
	conf_free(a);
	conf_free(b);
	restart("workers: 2\n", "workers: 2\nb2b:\n  100rel: required\n",
		"b2b.100rel");
	conf_free(a);
	conf_free(b);
	restart("workers: 2\n", "workers: 2\nb2b:\n  answer_guard_s: 5\n",
		"b2b.answer_guard_s");
	conf_free(a);
	conf_free(b);
	restart("workers: 2\n",
		"workers: 2\nb2b:\n  media:\n    ports: 30000-30099\n",
		"b2b.media.ports");
	conf_free(a);
	conf_free(b);
	restart("workers: 2\n", "workers: 2\nb2b:\n  media:\n    sounds: /s\n",
		"b2b.media.sounds");
	conf_free(a);
	conf_free(b);
	/* The defaults written out are no change. */
	reloads("workers: 2\n", "workers: 2\nb2b:\n  workers: 2\n");
}

Test(reload, trace_section_needs_a_restart)
{
	restart("workers: 2\n",
		"workers: 2\ntrace:\n  call_id: a@b\n  file: /tmp/t\n",
		"trace");
	conf_free(a);
	conf_free(b);
	a = load(BASE "trace:\n  aor: alice@example.com\n"
		      "  hep: \"127.0.0.1:9060\"\n");
	b = load(BASE "trace:\n  aor: alice@example.com\n"
		      "  hep: \"127.0.0.1:9061\"\n");
	cr_assert_str_eq(reload_restart_key(a, b), "trace");
	conf_free(b);
	b = load(BASE "trace:\n  aor: alice@example.com\n"
		      "  hep: \"127.0.0.1:9060\"\n");
	cr_assert_null(reload_restart_key(a, b));
}

/* The ng clients are made per shard at start-up; flags and on_failure
 * are read per call. */
Test(reload, media_instances_need_a_restart_flags_reload)
{
#define MEDIA(x)                         \
	BASE "media:\n  enabled: true\n" \
	     "  rtpengine: [{address: \"127.0.0.1:2223\"}]\n" x
	a = load(MEDIA(""));
	b = load(BASE);
	cr_assert_str_eq(reload_restart_key(a, b), "media.enabled");
	conf_free(b);
	b = load(BASE "media:\n  enabled: true\n"
		      "  rtpengine: [{address: \"127.0.0.1:2224\"}]\n");
	cr_assert_str_eq(reload_restart_key(a, b), "media.rtpengine");
	conf_free(b);
	b = load(MEDIA("  timeout_ms: 50\n"));
	cr_assert_str_eq(reload_restart_key(a, b), "media.timeout_ms");
	conf_free(b);
	b = load(MEDIA("  retries: 0\n"));
	cr_assert_str_eq(reload_restart_key(a, b), "media.retries");
	conf_free(b);
	b = load(MEDIA("  on_failure: proceed\n  flags: []\n"));
	cr_assert_null(reload_restart_key(a, b));
#undef MEDIA
}
