/* tests/integration/test_redis_cluster.c - sipedge nodes on a Redis
 * Cluster (3 masters, 3 replicas): users reached through any node, keys
 * spread over the masters, a master killed under load, a slot moved */
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
#include "tests/common/ms.h"
#include "tests/common/proc.h"
#include "tests/common/sipcli.h"
#include "tests/common/resp.h"
#include "tests/common/sipp.h"
#include "tests/common/userload.h"

#define MAX_NODES 3
#define NREDIS	  6 /* 3 masters, 3 replicas */

static char dir[PROC_PATH_MAX / 2];
static struct proc_sipedge node[MAX_NODES];
static pid_t redis_pid[NREDIS];
static uint16_t redis_port[NREDIS];

static void setup(void)
{
	memset(node, 0, sizeof(node));
	memset(redis_pid, 0, sizeof(redis_pid));
	memset(redis_port, 0, sizeof(redis_port));
	cr_assert_eq(proc_tmpdir(dir, sizeof(dir)), 0);
	userload_init(dir);
}

static void teardown(void)
{
	for (int i = 0; i < MAX_NODES; i++)
		proc_sipedge_cleanup(&node[i]);
	for (int i = 0; i < NREDIS; i++)
		if (redis_pid[i] > 0)
			proc_kill(redis_pid[i]);
	proc_rmtree(dir);
	userload_fini();
}

TestSuite(redis_cluster, .init = setup, .fini = teardown, .timeout = 180);

/* Start redis-server @p i in cluster mode on a free port (and a free
 * cluster bus port: port + 10000 may be taken or past 65535). */
static void cluster_server_start(int i)
{
	char port[16], bus[16], conf[64], log[PROC_PATH_MAX], out[64];
	uint16_t p, b;
	int err;
	long t0;

	cr_assert_eq(proc_free_port("127.0.0.1", &p), 0);
	do
		cr_assert_eq(proc_free_port("127.0.0.1", &b), 0);
	while (b == p);
	snprintf(port, sizeof(port), "%u", p);
	snprintf(bus, sizeof(bus), "%u", b);
	snprintf(conf, sizeof(conf), "nodes-%u.conf", p);
	snprintf(log, sizeof(log), "%s/redis-%d-%u.log", dir, i, p);
	{
		char *argv[] = { "redis-server", "--port", port, "--bind",
				 "127.0.0.1", "--cluster-enabled", "yes",
				 "--cluster-port", bus, "--cluster-config-file",
				 conf,
				 /* Fail over within about a second. */
				 "--cluster-node-timeout", "1000", "--save", "",
				 "--appendonly", "no", "--daemonize", "no",
				 "--dir", dir, NULL };

		err = proc_spawn(argv, dir, log, log, &redis_pid[i]);
	}
	cr_assert_neq(err, -ENOENT, "redis-server is not installed");
	cr_assert_eq(err, 0, "redis-server: %s", strerror(-err));
	redis_port[i] = p;
	/* Until it answers PING (bounded). */
	for (t0 = ms_now(); ms_now() - t0 < 10000; ms_sleep(50))
		if (resp_cmd3(p, out, sizeof(out), "PING", NULL, NULL) == 0 &&
		    strcmp(out, "PONG") == 0)
			return;
	cr_assert_fail("redis-server on %u did not answer PING", p);
}

/* Node @p i's CLUSTER INFO says cluster_state:ok. */
static bool cluster_ok(int i)
{
	char out[4096];

	return resp_cmd3(redis_port[i], out, sizeof(out), "CLUSTER", "INFO",
			 NULL) == 0 &&
	       strstr(out, "cluster_state:ok") != NULL;
}

/* Until every live server of the cluster says cluster_state:ok, for at
 * most @p ms. */
static bool cluster_wait_ok(long ms)
{
	long t0;

	for (t0 = ms_now(); ms_now() - t0 < ms; ms_sleep(100)) {
		bool all = true;

		for (int i = 0; i < NREDIS && all; i++)
			if (redis_pid[i] > 0)
				all = cluster_ok(i);
		if (all)
			return true;
	}
	return false;
}

/* The first word of ROLE on server @p i: "master", "slave" or "". */
static void role_of(int i, char *out, size_t cap)
{
	const char *argv[] = { "ROLE", NULL };
	char buf[1024];

	out[0] = '\0';
	if (resp_cmd(redis_port[i], buf, sizeof(buf), argv) == 0)
		snprintf(out, cap, "%.*s", (int)strcspn(buf, " "), buf);
}

/* Six servers; redis-cli makes the first three masters with a replica
 * each (--cluster-replicas 1); until the cluster is ok (bounded). */
static void cluster_start(void)
{
	char addr[NREDIS][32], out[PROC_PATH_MAX], st[32], role[32];
	char *argv[8 + NREDIS];
	int n = 0, status = 0;

	for (int i = 0; i < NREDIS; i++)
		cluster_server_start(i);
	argv[n++] = "redis-cli";
	argv[n++] = "--cluster";
	argv[n++] = "create";
	for (int i = 0; i < NREDIS; i++) {
		snprintf(addr[i], sizeof(addr[i]), "127.0.0.1:%u",
			 redis_port[i]);
		argv[n++] = addr[i];
	}
	argv[n++] = "--cluster-replicas";
	argv[n++] = "1";
	argv[n++] = "--cluster-yes";
	argv[n] = NULL;
	snprintf(out, sizeof(out), "%s/cluster-create.out", dir);
	cr_assert_eq(proc_run(argv, dir, out, out, 60000, &status), 0);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "redis-cli --cluster create: %s",
		  proc_status_str(status, st, sizeof(st)));
	cr_assert(cluster_wait_ok(30000), "the cluster never became ok");
	for (int i = 0; i < NREDIS; i++) {
		role_of(i, role, sizeof(role));
		cr_assert_str_eq(role, i < 3 ? "master" : "slave",
				 "server %d is %s", i, role);
	}
	/* Until each replica has synced with its master (ROLE: "slave IP
	 * PORT connected OFFSET"), bounded. */
	for (int i = 3; i < NREDIS; i++) {
		const char *rargv[] = { "ROLE", NULL };
		char buf[1024] = "";
		long t0;

		for (t0 = ms_now(); ms_now() - t0 < 20000; ms_sleep(50))
			if (resp_cmd(redis_port[i], buf, sizeof(buf), rargv) ==
				0 &&
			    strstr(buf, " connected "))
				break;
		cr_assert_not_null(strstr(buf, " connected "),
				   "replica %d never synced: %s", i, buf);
	}
}

/* A sipedge node on a free port, 2 shards, on the cluster (one seed:
 * server @p seed). */
static void node_start_cluster(int i, int seed)
{
	char yaml[256];
	int err;

	snprintf(yaml, sizeof(yaml),
		 "store:\n  backend: redis\n  redis:\n"
		 "    cluster: [\"127.0.0.1:%u\"]\n"
		 "    connect_timeout_ms: 300\n"
		 "    command_timeout_ms: 1000\n",
		 redis_port[seed]);
	err = proc_sipedge_start(&node[i], "127.0.0.1", 2, yaml);
	cr_assert_eq(err, 0, "node %d did not start: %s", i, node[i].why);
}

static void node_stop(int i)
{
	cr_assert_eq(proc_sipedge_stop(&node[i]), 0, "node %d: %s", i,
		     node[i].why);
}

static long dbsize(int i)
{
	char out[64];

	if (resp_cmd3(redis_port[i], out, sizeof(out), "DBSIZE", NULL, NULL))
		return -1;
	return atol(out);
}

Test(redis_cluster, users_registered_on_a_are_reached_through_b)
{
	uint16_t up = userload_free_port();
	long total = 0;

	cluster_start();
	node_start_cluster(0, 0);
	node_start_cluster(1, 4); /* a replica as seed: it knows the map */
	userload_reg_done(
	    userload_register(node[0].port, 0, 1000, up, 1000, "reg"), "reg");
	/* Node B learns every one of them: it listens on one node, and
	 * PUBLISH in a cluster reaches every node. */
	cr_assert_eq(userload_wait_bound(node[1].port, 0, 1000, up, 20000), 0,
		     "node B misses registrations");
	cr_assert_eq(userload_calls(node[1].port, 0, 1000, up),
		     USERLOAD_SAMPLE);
	userload_sipp_call(node[1].port, 432, up);
	/* The keys are spread over the three masters, two per AOR. */
	for (int i = 0; i < 3; i++) {
		long n = dbsize(i);

		cr_log_info("master %d holds %ld keys", i, n);
		cr_assert_gt(n, 0, "master %d holds no key", i);
		total += n;
	}
	cr_assert_eq(total, 2 * 1000);
	/* A node started now loads them from every master. */
	node_start_cluster(2, 2);
	cr_assert_eq(userload_wait_bound(node[2].port, 0, 1000, up, 1000), 0,
		     "a new node misses registrations");
	node_stop(0);
	node_stop(1);
	node_stop(2);
}

/* Server @p i's replica among 3..5 (the one ROLE says follows it). */
static int replica_of(int i)
{
	const char *argv[] = { "ROLE", NULL };
	char out[1024], want[16];

	snprintf(want, sizeof(want), " %u ", redis_port[i]);
	for (int k = 3; k < NREDIS; k++)
		if (resp_cmd(redis_port[k], out, sizeof(out), argv) == 0 &&
		    strncmp(out, "slave ", 6) == 0 && strstr(out, want))
			return k;
	return -1;
}

Test(redis_cluster, a_master_killed_under_load_loses_nothing)
{
	uint16_t p1 = userload_free_port(), p2 = userload_free_port(),
		 p3 = userload_free_port();
	int status = 0, rep;
	char role[32];
	pid_t load;
	long t0;
	long long t_kill;

	cluster_start();
	rep = replica_of(0);
	cr_assert_geq(rep, 3, "master 0 has no replica");
	/* Seeded with the master that dies: the nodes must find the map
	 * through the other nodes they learnt of. */
	node_start_cluster(0, 0);
	node_start_cluster(1, 0);
	userload_reg_done(
	    userload_register(node[0].port, 0, 500, p1, 1000, "first"),
	    "first");
	cr_assert_eq(userload_wait_bound(node[1].port, 0, 500, p1, 10000), 0);
	/* 2,500 more at 500/s; master 0 dies in the middle of it. */
	load = userload_register(node[0].port, 500, 3000, p2, 500, "load");
	for (t0 = ms_now(); ms_now() - t0 < 20000; ms_sleep(20))
		if (dbsize(0) + dbsize(1) + dbsize(2) >= 2 * 1000)
			break;
	cr_assert_geq(dbsize(0) + dbsize(1) + dbsize(2), 2 * 1000,
		      "the load never reached the cluster");
	t_kill = ms_now();
	cr_assert_eq(kill(redis_pid[0], SIGKILL), 0);
	cr_assert_eq(proc_wait(redis_pid[0], 5000, &status), 0);
	redis_pid[0] = 0;
	cr_assert_eq(proc_wait(load, 0, &status), -ETIMEDOUT,
		     "the load was over before the master died: nothing "
		     "tested");
	/* Its replica takes over (bounded: node timeout 1 s). */
	for (t0 = ms_now(); ms_now() - t0 < 30000; ms_sleep(100)) {
		role_of(rep, role, sizeof(role));
		if (strcmp(role, "master") == 0)
			break;
	}
	cr_assert_str_eq(role, "master", "the replica was not promoted");
	cr_log_info("replica promoted %lld ms after the kill",
		    ms_now() - t_kill);
	cr_assert(cluster_wait_ok(30000), "the cluster stayed down");
	/* Every REGISTER was answered 200... */
	userload_reg_done(load, "load");
	/* Node A lost the cluster, found the new master, wrote its table
	 * back to it and reloaded (store/redis.c). */
	cr_assert_eq(proc_sipedge_wait_log(&node[0], "back after", 1, 20000), 0,
		     "node A never resynchronised: %s", node[0].why);
	{
		char *text = NULL, *line;

		if (proc_read_file(node[0].log, &text) == 0 &&
		    (line = strstr(text, "back after")))
			cr_log_info("node A: ...%.*s", (int)strcspn(line, "\n"),
				    line);
		free(text);
	}
	/* ...and is routable from both nodes... */
	cr_assert_eq(userload_wait_bound(node[1].port, 0, 500, p1, 20000), 0);
	cr_assert_eq(userload_wait_bound(node[1].port, 500, 3000, p2, 20000), 0,
		     "node B misses registrations made around the fail-over");
	/* ...and is in the cluster: a node started now, which knows only
	 * Redis, has them all (0 acknowledged registrations lost). */
	node_start_cluster(2, 1);
	cr_assert_eq(userload_wait_bound(node[2].port, 0, 500, p1, 20000), 0,
		     "registrations lost in the fail-over");
	cr_assert_eq(userload_wait_bound(node[2].port, 500, 3000, p2, 20000), 0,
		     "registrations made during the fail-over lost");
	cr_assert_gt(dbsize(rep), 0, "the promoted replica holds nothing");
	/* New registrations go to the new master and reach the others. */
	userload_reg_done(
	    userload_register(node[0].port, 3000, 3300, p3, 500, "after"),
	    "after");
	cr_assert_eq(userload_wait_bound(node[2].port, 3000, 3300, p3, 15000),
		     0, "registrations after the fail-over do not propagate");
	cr_assert_eq(userload_calls(node[2].port, 500, 3000, p2),
		     USERLOAD_SAMPLE);
	node_stop(0);
	node_stop(1);
	node_stop(2);
}

/* The index (0..2) of the master whose EXISTS @p key says 1 (the
 * others answer MOVED). */
static int owner_of(const char *key)
{
	char out[256];

	for (int i = 0; i < 3; i++)
		if (resp_cmd3(redis_port[i], out, sizeof(out), "EXISTS", key,
			      NULL) == 0 &&
		    strcmp(out, "1") == 0)
			return i;
	return -1;
}

/* Server @p i's HVALS of @p key hold a contact on port @p port, within
 * 5 s. */
static bool hvals_have(int i, const char *key, uint16_t port)
{
	char out[4096], want[80];
	long t0;

	snprintf(want, sizeof(want), "127.0.0.1:%u", port);
	for (t0 = ms_now(); ms_now() - t0 < 5000; ms_sleep(50))
		if (resp_cmd3(redis_port[i], out, sizeof(out), "HVALS", key,
			      NULL) == 0 &&
		    strstr(out, want))
			return true;
	return false;
}

Test(redis_cluster, a_slot_being_moved_is_followed_ask_then_moved)
{
	const char *loc = "sipedge:loc:{u1@localhost}";
	const char *exp = "sipedge:exp:{u1@localhost}";
	uint16_t up = userload_free_port(), up2 = userload_free_port(),
		 up_ask = userload_free_port();
	char contact[64], ids[3][64], out[1024], tport[16];
	int src, dst;

	cluster_start();
	node_start_cluster(0, 0);
	snprintf(contact, sizeof(contact), "sip:u1@127.0.0.1:%u", up);
	cr_assert_eq(userload_register_one(node[0].port, 1, contact, "600"),
		     200);
	/* Until the write is in the cluster (bounded). */
	for (long t0 = ms_now(); ms_now() - t0 < 10000 && owner_of(loc) < 0;)
		ms_sleep(50);
	src = owner_of(loc);
	cr_assert_geq(src, 0, "u1 never reached the cluster");
	dst = (src + 1) % 3;
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(resp_cmd3(redis_port[i], ids[i], sizeof(ids[i]),
				       "CLUSTER", "MYID", NULL),
			     0);
	}
	/* Move slot 11727 ({u1@localhost}) from src to dst, by hand. */
	{
		const char *imp[] = { "CLUSTER",   "SETSLOT", "11727",
				      "IMPORTING", ids[src],  NULL };
		const char *mig[] = { "CLUSTER",   "SETSLOT", "11727",
				      "MIGRATING", ids[dst],  NULL };
		const char *mv[] = { "MIGRATE", "127.0.0.1", tport, "",	 "0",
				     "5000",	"KEYS",	     loc,   exp, NULL };
		const char *node_set[] = { "CLUSTER", "SETSLOT", "11727",
					   "NODE",    ids[dst],	 NULL };

		snprintf(tport, sizeof(tport), "%u", redis_port[dst]);
		cr_assert_eq(resp_cmd(redis_port[dst], out, sizeof(out), imp),
			     0);
		cr_assert_str_eq(out, "OK");
		cr_assert_eq(resp_cmd(redis_port[src], out, sizeof(out), mig),
			     0);
		cr_assert_str_eq(out, "OK");
		cr_assert_eq(resp_cmd(redis_port[src], out, sizeof(out), mv),
			     0);
		cr_assert_str_eq(out, "OK", "MIGRATE: %s", out);
		/* Half-way: src answers ASK for the keys it gave away. A
		 * write now goes to dst with ASKING; the map stays. */
		snprintf(contact, sizeof(contact), "sip:u1@127.0.0.1:%u",
			 up_ask);
		cr_assert_eq(
		    userload_register_one(node[0].port, 1, contact, "600"),
		    200);
		cr_assert_eq(
		    proc_sipedge_wait_log(&node[0], "ASK 11727", 1, 10000), 0,
		    "no ASK followed: %s", node[0].why);
		for (int i = 0; i < 3; i++) {
			cr_assert_eq(
			    resp_cmd(redis_port[i], out, sizeof(out), node_set),
			    0);
			cr_assert_str_eq(out, "OK");
		}
	}
	cr_assert_eq(owner_of(loc), dst);
	/* The node's map still says src: its write gets MOVED, follows it
	 * to dst, and the node reads the map again. */
	snprintf(contact, sizeof(contact), "sip:u1@127.0.0.1:%u", up2);
	cr_assert_eq(userload_register_one(node[0].port, 1, contact, "600"),
		     200);
	cr_assert_eq(proc_sipedge_wait_log(&node[0], "MOVED 11727", 1, 10000),
		     0, "no MOVED followed: %s", node[0].why);
	cr_assert_eq(proc_sipedge_wait_log(&node[0], "map refreshed", 1, 10000),
		     0, "%s", node[0].why);
	/* The new binding is on dst. */
	cr_assert(hvals_have(dst, loc, up2), "the MOVED write is not on dst");
	/* So is the one sent with ASKING while the slot was half-way (dst
	 * serves only ASKING clients until then). */
	cr_assert(hvals_have(dst, loc, up_ask), "the ASK write is not on dst");
	node_stop(0);
}
