/* tests/unit/proxy/test_conf_redis.c - config: the store.redis section */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "proxy/base/err.h"
#include "proxy/base/obj.h"
#include "proxy/core/conf.h"
#include "proxy/core/conf_store.h"
#include "tests/unit/conftest.h"

static struct conf *c;
static char err[512];

static void setup(void)
{
	conftest_init(&c, err, sizeof(err));
}

TestSuite(conf_redis, .init = setup, .fini = conftest_fini, .timeout = 10);

Test(conf_redis, defaults_without_a_redis_section)
{
	cr_assert_eq(conftest_load("store:\n  backend: redis\n"), 0, "%s", err);
	cr_assert_eq(store_conf(c)->backend, CONF_STORE_REDIS);
	cr_assert_str_eq(store_conf(c)->redis.address, "127.0.0.1:6379");
	cr_assert_null(store_conf(c)->redis.password);
	cr_assert_eq(store_conf(c)->redis.db, 0);
	cr_assert_eq(store_conf(c)->redis.connect_timeout_ms, 1000);
	cr_assert_eq(store_conf(c)->redis.command_timeout_ms, 2000);
	cr_assert_eq(store_conf(c)->redis.queue_max, 100000);
	cr_assert_str_eq(store_conf(c)->redis.ns, "sipedge");
	cr_assert_null(store_conf(c)->redis.sentinel_master);
	cr_assert_eq(store_conf(c)->redis.nsentinels, 0);
}

Test(conf_redis, every_key_is_read)
{
	cr_assert_eq(
	    conftest_load("store:\n"
			  "  backend: redis\n"
			  "  redis:\n"
			  "    address: \"unix:/run/redis/redis.sock\"\n"
			  "    password: s3cret\n"
			  "    db: 3\n"
			  "    connect_timeout_ms: 250\n"
			  "    command_timeout_ms: 750\n"
			  "    queue_max: 42\n"
			  "    namespace: edge-a.1\n"),
	    0, "%s", err);
	cr_assert_str_eq(store_conf(c)->redis.address,
			 "unix:/run/redis/redis.sock");
	cr_assert_str_eq(store_conf(c)->redis.password, "s3cret");
	cr_assert_eq(store_conf(c)->redis.db, 3);
	cr_assert_eq(store_conf(c)->redis.connect_timeout_ms, 250);
	cr_assert_eq(store_conf(c)->redis.command_timeout_ms, 750);
	cr_assert_eq(store_conf(c)->redis.queue_max, 42);
	cr_assert_str_eq(store_conf(c)->redis.ns, "edge-a.1");
}

Test(conf_redis, sentinel_replaces_the_address)
{
	cr_assert_eq(conftest_load("store:\n"
				   "  backend: redis\n"
				   "  redis:\n"
				   "    sentinel:\n"
				   "      master: mymaster\n"
				   "      addresses: [\"127.0.0.1:26379\", "
				   "\"[::1]:26380\"]\n"),
		     0, "%s", err);
	cr_assert_null(store_conf(c)->redis.address);
	cr_assert_str_eq(store_conf(c)->redis.sentinel_master, "mymaster");
	cr_assert_eq(store_conf(c)->redis.nsentinels, 2);
	cr_assert_str_eq(store_conf(c)->redis.sentinels[0], "127.0.0.1:26379");
	cr_assert_str_eq(store_conf(c)->redis.sentinels[1], "[::1]:26380");
}

Test(conf_redis, bad_values_name_their_line)
{
	conftest_expect_error(
	    "store:\n  redis:\n    address: \"redis.local:6379\"\n",
	    "t.yaml:3: ",
	    "store.redis.address: 'redis.local:6379' "
	    "is not IP:PORT");
	conftest_expect_error("store:\n  redis:\n    address: \"127.0.0.1\"\n",
			      "t.yaml:3: ", "store.redis.address");
	conftest_expect_error("store:\n  redis:\n    db: 1001\n", "t.yaml:3: ",
			      "store.redis.db: 1001 is out of range (0..1000)");
	conftest_expect_error("store:\n  redis:\n    connect_timeout_ms: 0\n",
			      "t.yaml:3: ", "out of range (1..60000)");
	conftest_expect_error("store:\n  redis:\n    queue_max: 0\n",
			      "t.yaml:3: ", "store.redis.queue_max");
	conftest_expect_error("store:\n  redis:\n    namespace: \"a b\"\n",
			      "t.yaml:3: ", "may hold only letters");
	conftest_expect_error("store:\n  redis:\n    bogus: 1\n",
			      "t.yaml:3: ", "unknown key 'store.redis.bogus'");
	conftest_expect_error(
	    "store:\n  redis:\n    sentinel:\n      master: m\n",
	    "t.yaml:4: ", "missing required key 'addresses'");
	conftest_expect_error(
	    "store:\n  redis:\n    sentinel:\n      master: m\n"
	    "      addresses: [\"1.2.3.4:0\"]\n",
	    "t.yaml:5: ", "store.redis.sentinel.addresses[0]");
	conftest_expect_error(
	    "store:\n  redis:\n    sentinel:\n      master: m\n"
	    "      addresses: []\n",
	    "t.yaml:5: ", "needs at least 1 entry");
}

Test(conf_redis, address_and_sentinel_together_are_refused)
{
	conftest_expect_error("store:\n  backend: redis\n  redis:\n"
			      "    address: \"127.0.0.1:6379\"\n"
			      "    sentinel:\n      master: m\n"
			      "      addresses: [\"127.0.0.1:26379\"]\n",
			      "t.yaml: ", "give address or sentinel, not both");
}

Test(conf_redis, cluster_seeds_are_read)
{
	cr_assert_eq(conftest_load("store:\n"
				   "  backend: redis\n"
				   "  redis:\n"
				   "    cluster: [\"127.0.0.1:7000\", "
				   "\"[::1]:7001\"]\n"),
		     0, "%s", err);
	cr_assert_null(store_conf(c)->redis.address);
	cr_assert_null(store_conf(c)->redis.sentinel_master);
	cr_assert_eq(store_conf(c)->redis.ncluster, 2);
	cr_assert_str_eq(store_conf(c)->redis.cluster[0], "127.0.0.1:7000");
	cr_assert_str_eq(store_conf(c)->redis.cluster[1], "[::1]:7001");
}

Test(conf_redis, bad_cluster_settings_are_refused)
{
	conftest_expect_error(
	    "store:\n  redis:\n    cluster: [\"redis1:7000\"]\n", "t.yaml:3: ",
	    "store.redis.cluster[0]: 'redis1:7000' is not "
	    "IP:PORT");
	conftest_expect_error(
	    "store:\n  redis:\n    cluster:\n      - \"127.0.0.1:7000\"\n"
	    "      - \"unix:/run/redis.sock\"\n",
	    "t.yaml:5: ", "store.redis.cluster[1]");
	conftest_expect_error("store:\n  redis:\n    cluster: []\n",
			      "t.yaml:3: ", "needs at least 1 entry");
	conftest_expect_error("store:\n  backend: redis\n  redis:\n"
			      "    address: \"127.0.0.1:6379\"\n"
			      "    cluster: [\"127.0.0.1:7000\"]\n",
			      "t.yaml: ", "give cluster alone");
	conftest_expect_error("store:\n  backend: redis\n  redis:\n"
			      "    cluster: [\"127.0.0.1:7000\"]\n"
			      "    sentinel:\n      master: m\n"
			      "      addresses: [\"127.0.0.1:26379\"]\n",
			      "t.yaml: ", "give cluster alone");
	conftest_expect_error("store:\n  backend: redis\n  redis:\n"
			      "    cluster: [\"127.0.0.1:7000\"]\n    db: 2\n",
			      "t.yaml: ", "a Redis Cluster has only db 0");
}
