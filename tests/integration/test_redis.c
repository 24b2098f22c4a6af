/* tests/integration/test_redis.c - many sipedge nodes sharing one Redis:
 * propagation, a Redis outage, a node crash, a Sentinel fail-over */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proxy/sip/hdr.h"
#include "proxy/sip/msg.h"
#include "tests/common/mgmtcli.h"
#include "tests/common/proc.h"
#include "tests/common/sipcli.h"
#include "tests/common/resp.h"
#include "tests/common/sipp.h"
#include "tests/common/userload.h"
#include "tests/common/ms.h"

#define MAX_NODES 3

static char dir[PROC_PATH_MAX / 2];
static struct proc_sipedge node[MAX_NODES];
static pid_t redis_pid[3]; /* master, replica, sentinel */

static void setup(void)
{
	memset(node, 0, sizeof(node));
	memset(redis_pid, 0, sizeof(redis_pid));
	cr_assert_eq(proc_tmpdir(dir, sizeof(dir)), 0);
	userload_init(dir);
}

static void teardown(void)
{
	for (int i = 0; i < MAX_NODES; i++)
		proc_sipedge_cleanup(&node[i]);
	for (int i = 0; i < 3; i++)
		if (redis_pid[i] > 0)
			proc_kill(redis_pid[i]);
	proc_rmtree(dir);
	userload_fini();
}

TestSuite(redis, .init = setup, .fini = teardown, .timeout = 120);

/* Start redis-server on a free port (@p extra: more arguments). */
static uint16_t server_start(int slot, const char *const *extra)
{
	char port[16], log[PROC_PATH_MAX], out[64];
	const char *argv[32] = { "redis-server",
				 "--port",
				 port,
				 "--bind",
				 "127.0.0.1",
				 "--save",
				 "",
				 "--appendonly",
				 "no",
				 "--daemonize",
				 "no",
				 "--dir",
				 dir };
	uint16_t p;
	int n = 13, err;
	long t0;

	cr_assert_eq(proc_free_port("127.0.0.1", &p), 0);
	snprintf(port, sizeof(port), "%u", p);
	for (int i = 0; extra && extra[i] && n < 30; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	snprintf(log, sizeof(log), "%s/redis-%d-%u.log", dir, slot, p);
	err = proc_spawn((char *const *)argv, dir, log, log, &redis_pid[slot]);
	cr_assert_neq(err, -ENOENT, "redis-server is not installed");
	cr_assert_eq(err, 0, "redis-server: %s", strerror(-err));
	/* Until it answers PING (bounded). */
	for (t0 = ms_now(); ms_now() - t0 < 10000; ms_sleep(50))
		if (resp_cmd3(p, out, sizeof(out), "PING", NULL, NULL) == 0 &&
		    strcmp(out, "PONG") == 0)
			return p;
	cr_assert_fail("redis-server on %u did not answer PING", p);
	return 0;
}

/* The same again on port @p p (after a kill). */
static void server_on(int slot, uint16_t p)
{
	char port[16], log[PROC_PATH_MAX], out[64];
	const char *argv[] = { "redis-server",
			       "--port",
			       port,
			       "--bind",
			       "127.0.0.1",
			       "--save",
			       "",
			       "--appendonly",
			       "no",
			       "--daemonize",
			       "no",
			       "--dir",
			       dir,
			       NULL };
	long t0;

	snprintf(port, sizeof(port), "%u", p);
	snprintf(log, sizeof(log), "%s/redis-%d-%u-again.log", dir, slot, p);
	cr_assert_eq(
	    proc_spawn((char *const *)argv, dir, log, log, &redis_pid[slot]),
	    0);
	for (t0 = ms_now(); ms_now() - t0 < 10000; ms_sleep(50))
		if (resp_cmd3(p, out, sizeof(out), "PING", NULL, NULL) == 0)
			return;
	cr_assert_fail("redis-server did not come back on %u", p);
}

static void server_kill(int slot)
{
	cr_assert_eq(proc_kill(redis_pid[slot]), 0);
	redis_pid[slot] = 0;
}

/* A sipedge node on a free port, 2 shards, the store section @p store. */
static void node_start(int i, const char *store)
{
	int err = proc_sipedge_start(&node[i], "127.0.0.1", 2, store);

	cr_assert_eq(err, 0, "node %d did not start: %s", i, node[i].why);
}

static void node_start_redis(int i, uint16_t redis_port)
{
	char yaml[256];

	snprintf(yaml, sizeof(yaml),
		 "store:\n  backend: redis\n  redis:\n"
		 "    address: \"127.0.0.1:%u\"\n"
		 "    connect_timeout_ms: 300\n"
		 "    command_timeout_ms: 1000\n",
		 redis_port);
	node_start(i, yaml);
}

static void node_stop(int i)
{
	cr_assert_eq(proc_sipedge_stop(&node[i]), 0, "node %d: %s", i,
		     node[i].why);
}

/* The log of node @p i holds @p needle. */
static bool log_has(int i, const char *needle)
{
	char *text = NULL;
	bool has;

	if (proc_read_file(node[i].log, &text) != 0)
		return false;
	has = strstr(text, needle) != NULL;
	free(text);
	return has;
}

Test(redis, users_registered_on_a_are_reached_through_b)
{
	uint16_t rp = server_start(0, NULL), up = userload_free_port();
	char contact[64], out[64];

	node_start_redis(0, rp);
	node_start_redis(1, rp);
	/* 5,000 users register through node A (node 0). */
	userload_reg_done(
	    userload_register(node[0].port, 0, 5000, up, 2500, "reg"), "reg");
	/* Node B (node 1) learns every one of them from Redis. */
	cr_assert_eq(userload_wait_bound(node[1].port, 0, 5000, up, 20000), 0,
		     "node B misses registrations");
	/* Calls through B reach them (486 from their UA comes back), and
	 * a whole call with SIPp on both ends. */
	cr_assert_eq(userload_calls(node[1].port, 0, 5000, up),
		     USERLOAD_SAMPLE);
	userload_sipp_call(node[1].port, 4321, up);
	/* An unregister through B is seen by A; the others stay. */
	snprintf(contact, sizeof(contact), "sip:u7@127.0.0.1:%u", up);
	cr_assert_eq(userload_register_one(node[1].port, 7, contact, "0"), 200);
	cr_assert(userload_wait_unbound(node[0].port, 7, up, 5000),
		  "node A still has u7");
	cr_assert_eq(userload_wait_bound(node[0].port, 6, 7, up, 1000), 0);
	cr_assert_eq(userload_wait_bound(node[0].port, 8, 9, up, 1000), 0);
	/* Redis holds each AOR as a hash and a sorted set of expiries. */
	cr_assert_eq(resp_cmd3(rp, out, sizeof(out), "DBSIZE", NULL, NULL), 0);
	cr_assert_geq(atoi(out), 2 * 5000 - 2);
	cr_assert_eq(resp_cmd3(rp, out, sizeof(out), "ZCARD",
			       "sipedge:exp:{u8@localhost}", NULL),
		     0);
	cr_assert_str_eq(out, "1");
	node_stop(0);
	node_stop(1);
}

/* Poll Redis on @p port until it holds at least @p keys keys (DBSIZE),
 * for at most @p ms (a watchdog). */
static bool redis_keys_reach(uint16_t port, long keys, long ms)
{
	char out[64];
	long t0;

	for (t0 = ms_now(); ms_now() - t0 < ms; ms_sleep(20))
		if (resp_cmd3(port, out, sizeof(out), "DBSIZE", NULL, NULL) ==
			0 &&
		    atol(out) >= keys)
			return true;
	return false;
}

Test(redis, redis_killed_during_a_register_load_loses_nothing)
{
	uint16_t rp = server_start(0, NULL), p1 = userload_free_port(),
		 p2 = userload_free_port();
	int status = 0;
	pid_t load;

	node_start_redis(0, rp);
	node_start_redis(1, rp);
	userload_reg_done(
	    userload_register(node[0].port, 0, 500, p1, 2000, "first"),
	    "first");
	cr_assert_eq(userload_wait_bound(node[1].port, 0, 500, p1, 10000), 0);
	/* 4,500 more at 1,000/s; Redis dies in the middle of it. */
	load = userload_register(node[0].port, 500, 5000, p2, 1000, "load");
	/* Kill Redis once the load has written 500 more AORs (two keys
	 * each), so that it dies in the middle of the load, whatever the
	 * machine's speed; the bound is a watchdog. */
	cr_assert(redis_keys_reach(rp, 2 * 1000, 20000),
		  "the load never reached Redis");
	server_kill(0);
	cr_assert_eq(proc_wait(load, 0, &status), -ETIMEDOUT,
		     "the load was over before Redis died: nothing tested");
	/* Calls keep routing from B's local table meanwhile. */
	cr_assert_eq(userload_calls(node[1].port, 0, 500, p1), USERLOAD_SAMPLE);
	server_on(0, rp);
	/* Every REGISTER was answered 200, outage or not... */
	userload_reg_done(load, "load");
	/* ...and every one is routable from both nodes afterwards. */
	cr_assert_eq(userload_wait_bound(node[1].port, 0, 500, p1, 20000), 0);
	cr_assert_eq(userload_wait_bound(node[1].port, 500, 5000, p2, 20000), 0,
		     "node B misses registrations made during the outage");
	cr_assert_eq(userload_wait_bound(node[0].port, 0, 500, p1, 5000), 0);
	cr_assert_eq(userload_wait_bound(node[0].port, 500, 5000, p2, 5000), 0);
	cr_assert_eq(userload_calls(node[1].port, 500, 5000, p2),
		     USERLOAD_SAMPLE);
	cr_assert(log_has(0, "degraded"), "no log line for the outage");
	/* Redis came back empty: the nodes wrote every AOR back into it
	 * (a hash and a sorted set of expiries each)... */
	cr_assert(redis_keys_reach(rp, 2 * 5000, 20000),
		  "Redis misses AORs after it came back empty");
	for (unsigned u = 0; u < 5000; u++) {
		char key[64], out[64];

		snprintf(key, sizeof(key), "sipedge:exp:{u%u@localhost}", u);
		cr_assert_eq(
		    resp_cmd3(rp, out, sizeof(out), "ZCARD", key, NULL), 0);
		cr_assert_str_eq(out, "1", "%s not written back", key);
	}
	/* ...so that a node started now, which knows only Redis, has them
	 * all. */
	node_start_redis(2, rp);
	cr_assert_eq(userload_wait_bound(node[2].port, 0, 500, p1, 20000), 0,
		     "a new node misses registrations after the outage");
	cr_assert_eq(userload_wait_bound(node[2].port, 500, 5000, p2, 20000), 0,
		     "a new node misses registrations made during the outage");
	node_stop(2);
	node_stop(0);
	node_stop(1);
}

Test(redis, node_killed_and_restarted_has_every_registration)
{
	uint16_t rp = server_start(0, NULL), up = userload_free_port();
	int status = 0;
	long t0, took;

	node_start_redis(0, rp);
	node_start_redis(1, rp);
	userload_reg_done(
	    userload_register(node[0].port, 0, 3000, up, 2500, "reg"), "reg");
	cr_assert_eq(userload_wait_bound(node[1].port, 0, 3000, up, 10000), 0);
	/* Node A made them; it dies without a word and comes back. */
	cr_assert_eq(kill(node[0].pid, SIGKILL), 0);
	cr_assert_eq(proc_wait(node[0].pid, 5000, &status), 0);
	cr_assert(WIFSIGNALED(status));
	node[0].pid = 0;
	proc_sipedge_cleanup(&node[0]);
	memset(&node[0], 0, sizeof(node[0]));
	t0 = ms_now();
	node_start_redis(0, rp);
	/* It says when it has loaded Redis's table (store/redis.c); from
	 * then on every registration is routable, at once. The bounds are
	 * watchdogs: issue #5 wants this within 5 s, which a loaded test
	 * machine cannot promise, so the time is reported, not judged. */
	cr_assert_eq(
	    proc_sipedge_wait_log(&node[0], "loaded 3000 in", 1, 30000), 0,
	    "%s", node[0].why);
	took = ms_now() - t0;
	cr_assert_eq(userload_wait_bound(node[0].port, 0, 3000, up, 1000), 0,
		     "the restarted node misses registrations it loaded");
	cr_log_info("restarted node routable %ld ms after its start", took);
	if (took > 5000)
		cr_log_warn("restarted node took %ld ms (issue #5: 5 s)", took);
	cr_assert_eq(userload_calls(node[0].port, 0, 3000, up),
		     USERLOAD_SAMPLE);
	node_stop(0);
	node_stop(1);
}

/* Whether node @p i's GET /health answers @p status with @p body,
 * polled every 100 ms for up to @p ms. */
static bool health_is(int i, unsigned status, const char *body, long ms)
{
	for (long t = 0;; t += 100) {
		unsigned st = 0;
		char *b = NULL;
		bool ok = mgmtcli_http(node[i].mgmt_port, "GET", "/health",
				       NULL, NULL, &st, &b) == 0 &&
			  st == status && b && strcmp(b, body) == 0;

		free(b);
		if (ok)
			return true;
		if (t >= ms)
			return false;
		usleep(100 * 1000);
	}
}

Test(redis, a_node_started_while_redis_is_down_catches_up)
{
	uint16_t rp = userload_free_port(), up = userload_free_port();
	char contact[64];

	/* Nothing listens on rp yet: the node starts all the same. */
	node_start_redis(0, rp);
	for (unsigned u = 0; u < 100; u++) {
		snprintf(contact, sizeof(contact), "sip:u%u@127.0.0.1:%u", u,
			 up);
		cr_assert_eq(
		    userload_register_one(node[0].port, u, contact, "600"),
		    200);
	}
	cr_assert(log_has(0, "degraded"));
	/* Degraded, not out: the node serves from its own table. */
	cr_assert(health_is(
	    0, 200, "{\"status\":\"degraded\",\"redis\":\"down\"}\n", 0));
	/* Redis on the port the node waits for. */
	server_on(0, rp);
	cr_assert(
	    health_is(0, 200, "{\"status\":\"ok\",\"redis\":\"up\"}\n", 15000),
	    "/health never said redis up");
	node_start_redis(1, rp);
	cr_assert_eq(userload_wait_bound(node[1].port, 0, 100, up, 15000), 0,
		     "the registrations made while Redis was down are lost");
	node_stop(0);
	node_stop(1);
}

/* Sentinel's answer for "mm": "IP PORT". */
static void master_of(uint16_t sp, char *out, size_t cap)
{
	const char *argv[] = { "SENTINEL", "get-master-addr-by-name", "mm",
			       NULL };

	cr_assert_eq(resp_cmd(sp, out, cap, argv), 0);
}

Test(redis, registrations_survive_a_sentinel_fail_over)
{
	char conf[1024], path[PROC_PATH_MAX], log[PROC_PATH_MAX], out[4096];
	char yaml[512], want[32], port[16];
	uint16_t mp, rpp, sp = userload_free_port(), up = userload_free_port();
	const char *argv[] = { "redis-server", path, "--sentinel", NULL };
	const char *fo[] = { "SENTINEL", "FAILOVER", "mm", NULL };
	const char *reps[] = { "SENTINEL", "replicas", "mm", NULL };
	char replicaof[32];
	long t0;
	int err;

	mp = server_start(0, NULL);
	snprintf(replicaof, sizeof(replicaof), "%u", mp);
	rpp = server_start(1, (const char *const[]){ "--replicaof", "127.0.0.1",
						     replicaof, NULL });
	snprintf(conf, sizeof(conf),
		 "port %u\nbind 127.0.0.1\ndir %s\n"
		 "sentinel monitor mm 127.0.0.1 %u 1\n"
		 "sentinel down-after-milliseconds mm 2000\n"
		 "sentinel failover-timeout mm 10000\n",
		 sp, dir, mp);
	cr_assert_eq(
	    proc_write_file(dir, "sentinel.conf", conf, path, sizeof(path)), 0);
	snprintf(log, sizeof(log), "%s/sentinel.log", dir);
	err = proc_spawn((char *const *)argv, dir, log, log, &redis_pid[2]);
	cr_assert_eq(err, 0, "redis-server --sentinel: %s", strerror(-err));
	/* Until the Sentinel knows the replica (it asks the master). */
	snprintf(port, sizeof(port), "%u", rpp);
	for (t0 = ms_now(); ms_now() - t0 < 20000; ms_sleep(100))
		if (resp_cmd(sp, out, sizeof(out), reps) == 0 &&
		    strstr(out, port))
			break;
	cr_assert_not_null(strstr(out, port), "Sentinel: %s", out);
	snprintf(yaml, sizeof(yaml),
		 "store:\n  backend: redis\n  redis:\n"
		 "    connect_timeout_ms: 300\n"
		 "    command_timeout_ms: 1000\n"
		 "    sentinel:\n      master: mm\n"
		 "      addresses: [\"127.0.0.1:%u\"]\n",
		 sp);
	node_start(0, yaml);
	node_start(1, yaml);
	userload_reg_done(
	    userload_register(node[0].port, 0, 1000, up, 2000, "before"),
	    "before");
	cr_assert_eq(userload_wait_bound(node[1].port, 0, 1000, up, 10000), 0);
	/* The replica has caught up: its key count is the master's. */
	for (t0 = ms_now(); ms_now() - t0 < 10000; ms_sleep(100)) {
		char a[64], b[64];

		resp_cmd3(mp, a, sizeof(a), "DBSIZE", NULL, NULL);
		resp_cmd3(rpp, b, sizeof(b), "DBSIZE", NULL, NULL);
		if (atoi(a) >= 2000 && strcmp(a, b) == 0)
			break;
	}
	/* Fail over (retried while the Sentinel is not ready for it). */
	for (t0 = ms_now(); ms_now() - t0 < 20000; ms_sleep(200))
		if (resp_cmd(sp, out, sizeof(out), fo) == 0 &&
		    strcmp(out, "OK") == 0)
			break;
	cr_assert_str_eq(out, "OK", "SENTINEL FAILOVER: %s", out);
	snprintf(want, sizeof(want), "127.0.0.1 %u", rpp);
	for (t0 = ms_now(); ms_now() - t0 < 20000; ms_sleep(100)) {
		master_of(sp, out, sizeof(out));
		if (strcmp(out, want) == 0)
			break;
	}
	cr_assert_str_eq(out, want, "the master did not move");
	/* New registrations through A land on the new master... */
	userload_reg_done(
	    userload_register(node[0].port, 1000, 1200, up, 500, "after"),
	    "after");
	cr_assert_eq(userload_wait_bound(node[1].port, 0, 1200, up, 15000), 0);
	/* ...and a node that starts now finds every one of them there. */
	node_start(2, yaml);
	cr_assert_eq(userload_wait_bound(node[2].port, 0, 1200, up, 15000), 0,
		     "registrations lost in the fail-over");
	cr_assert_eq(resp_cmd3(rpp, out, sizeof(out), "DBSIZE", NULL, NULL), 0);
	cr_assert_geq(atoi(out), 2400);
	node_stop(0);
	node_stop(1);
	node_stop(2);
}
