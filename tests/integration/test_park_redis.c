/* tests/integration/test_park_redis.c - call park shared by two sipedge
 * nodes through one real redis-server: distinct slots under a race,
 * listing and retrieving through the other node, leases of a killed
 * node, BLF of another node's park */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
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
#include "tests/common/phone.h"
#include "tests/common/proc.h"
#include "tests/common/sipp.h"
#include "tests/common/ua.h"

#define SIPP_MS 30000

static char dir[PROC_PATH_MAX / 2];
static struct proc_sipedge node[2];
static pid_t redis_pid, sipp_pid[2];
static struct sipcli_msg *rx;
static uint16_t redis_port;

static struct phone ph[8];
static unsigned nph;

static void setup(void)
{
	memset(node, 0, sizeof(node));
	memset(ph, 0, sizeof(ph));
	nph = 0;
	redis_pid = sipp_pid[0] = sipp_pid[1] = 0;
	cr_assert_eq(proc_tmpdir(dir, sizeof(dir)), 0);
	rx = calloc(1, sizeof(*rx));
	cr_assert_not_null(rx);
}

static void teardown(void)
{
	for (int i = 0; i < 2; i++)
		if (sipp_pid[i] > 0)
			proc_kill(sipp_pid[i]);
	for (unsigned i = 0; i < nph; i++)
		phone_close(&ph[i]);
	for (int i = 0; i < 2; i++)
		proc_sipedge_cleanup(&node[i]);
	if (redis_pid > 0)
		proc_kill(redis_pid);
	if (!getenv("SIPEDGE_KEEP_TMP")) /* as tests/common/proc.c */
		proc_rmtree(dir);
	free(rx);
}

TestSuite(park_redis, .init = setup, .fini = teardown, .timeout = 120);

static long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* redis-server on a free loopback port, answering (bounded: 10 s). */
static void redis_up(void)
{
	int err = proc_redis_start(dir, &redis_port, &redis_pid);

	cr_assert_neq(err, -ENOENT, "redis-server is not installed");
	cr_assert_eq(err, 0, "redis-server: %s", strerror(-err));
}

/* Node @p i sharing the redis-server: one shard, T1 100 ms; @p extra
 * (YAML sections) added. */
static void node_up_with(int i, const char *extra)
{
	char yaml[512];

	snprintf(yaml, sizeof(yaml),
		 "proxy:\n  t1_ms: 100\n"
		 "store:\n  backend: redis\n  redis:\n"
		 "    address: \"127.0.0.1:%u\"\n"
		 "    connect_timeout_ms: 300\n"
		 "    command_timeout_ms: 1000\n%s",
		 redis_port, extra);
	cr_assert_eq(proc_sipedge_start(&node[i], "127.0.0.1", 1, yaml), 0,
		     "node %d: %s", i, node[i].why);
}

static void node_up(int i)
{
	node_up_with(i, "");
}

static void up(void)
{
	redis_up();
	node_up(0);
	node_up(1);
}

/* park.list on node @p i: "domain:slot" words into @p out (and each
 * record's node id into @p nodes, space-separated, when not NULL);
 * returns the count. Checks every call_id differs (no merged calls). */
static unsigned park_list(int i, const char *domain, char *out, size_t size,
			  char *nodes, size_t nsize)
{
	char why[256], params[128] = "[]";
	json_t *res = NULL, *slots, *e;
	size_t k, o = 0, no = 0;

	if (domain)
		snprintf(params, sizeof(params), "[\"%s\"]", domain);
	cr_assert_eq(mgmtcli_rpc(node[i].mgmt_port, NULL, "park.list", params,
				 &res, why, sizeof(why)),
		     0, "park.list on node %d: %s", i, why);
	slots = json_object_get(res, "slots");
	cr_assert(json_is_array(slots));
	out[0] = '\0';
	if (nodes)
		nodes[0] = '\0';
	json_array_foreach(slots, k, e)
	{
		const char *cid =
		    json_string_value(json_object_get(e, "call_id"));

		o += (size_t)snprintf(
		    out + o, size - o, "%s%s:%d", o ? " " : "",
		    json_string_value(json_object_get(e, "domain")),
		    (int)json_integer_value(json_object_get(e, "slot")));
		cr_assert_lt(o, size);
		cr_assert(cid && *cid);
		for (size_t j = 0; j < k; j++)
			cr_assert_str_neq(
			    json_string_value(json_object_get(
				json_array_get(slots, j), "call_id")),
			    cid, "two slots hold call %s", cid);
		if (nodes) {
			no += (size_t)snprintf(
			    nodes + no, nsize - no, "%s%s", no ? " " : "",
			    json_string_value(json_object_get(e, "node")));
			cr_assert_lt(no, nsize);
		}
	}
	k = json_array_size(slots);
	json_decref(res);
	return (unsigned)k;
}

/* @p n SIPp callers dial 700 at node @p i, parked @p hold_ms. */
static void parkers(int i, unsigned n, unsigned hold_ms, const char *name)
{
	struct sipp_cmd c;

	sipp_cmd_uac(&c, "uac_park.xml", node[i].port, 0, "u1");
	sipp_cmd_args(&c, "-s", "700", "-key", "domain", "127.0.0.1", NULL);
	sipp_cmd_opt(&c, "-m", "%u", n);
	sipp_cmd_opt(&c, "-r", "%u", n);
	sipp_cmd_opt(&c, "-l", "%u", n);
	sipp_cmd_opt(&c, "-d", "%u", hold_ms);
	sipp_cmd_errors(&c, name);
	sipp_pid[i] = sipp_spawn(c.argv, dir, name);
}

/* 30 callers on each node dial 700 at once: 60 distinct slots, 701 to
 * 760, the same list on both nodes, every call in its own slot; all
 * free after their BYEs. */
Test(park_redis, sixty_parks_over_two_nodes_get_sixty_distinct_slots)
{
	char list[2048], list2[2048], want[32];
	unsigned n = 0;

	up();
	parkers(0, 30, 6000, "parkers-a");
	parkers(1, 30, 6000, "parkers-b");
	/* Bounded: 50 polls of 100 ms while the calls arrive. */
	for (unsigned i = 0; i < 50 && n < 60; i++) {
		n = park_list(0, "127.0.0.1", list, sizeof(list), NULL, 0);
		if (n < 60)
			usleep(100 * 1000);
	}
	cr_assert_eq(n, 60, "%s", list);
	for (unsigned s = 701; s <= 760; s++) {
		snprintf(want, sizeof(want), "127.0.0.1:%u", s);
		cr_assert_not_null(strstr(list, want), "%s missing: %s", want,
				   list);
	}
	cr_assert_eq(park_list(1, NULL, list2, sizeof(list2), NULL, 0), 60);
	cr_assert_str_eq(list, list2);
	sipp_ok(&sipp_pid[0], SIPP_MS, dir, "parkers-a", node[0].log);
	sipp_ok(&sipp_pid[1], SIPP_MS, dir, "parkers-b", node[1].log);
	cr_assert_eq(park_list(1, NULL, list, sizeof(list), NULL, 0), 0, "%s",
		     list);
	cr_assert_eq(proc_sipedge_stop(&node[0]), 0, "%s", node[0].why);
	cr_assert_eq(proc_sipedge_stop(&node[1]), 0, "%s", node[1].why);
}

/* A node killed with SIGKILL renews no lease: its slots leave the
 * list of a survivor that runs no pool (so takes nothing over) within a
 * few seconds. */
Test(park_redis, a_killed_nodes_slots_leave_the_list_of_a_node_without_pool)
{
	char list[512], nodes[256], nodes_a[256];
	unsigned n = 0;
	long t0, dt;

	redis_up();
	node_up(0);
	node_up_with(1, "b2b:\n  workers: 0\n");
	parkers(0, 3, 60000, "parkers-a");
	for (unsigned i = 0; i < 50 && n < 3; i++) {
		n = park_list(1, NULL, list, sizeof(list), nodes,
			      sizeof(nodes));
		if (n < 3)
			usleep(100 * 1000);
	}
	cr_assert_eq(n, 3, "%s", list);
	/* Held by A: its node id on each, and B's list says the same. */
	cr_assert_eq(
	    park_list(0, NULL, list, sizeof(list), nodes_a, sizeof(nodes_a)),
	    3);
	cr_assert_str_eq(nodes, nodes_a);
	cr_assert_eq(kill(node[0].pid, SIGKILL), 0);
	t0 = ms_now();
	/* Bounded: 10 s of 100 ms polls. */
	while (ms_now() - t0 < 10000 &&
	       park_list(1, NULL, list, sizeof(list), NULL, 0) > 0)
		usleep(100 * 1000);
	dt = ms_now() - t0;
	cr_assert_eq(park_list(1, NULL, list, sizeof(list), NULL, 0), 0,
		     "still listed after %ld ms: %s", dt, list);
	cr_assert_leq(dt, 5000, "the lease ran %ld ms", dt);
	cr_log_info("park_redis: a dead node's slots left after %ld ms", dt);
	cr_assert_eq(proc_sipedge_stop(&node[1]), 0, "%s", node[1].why);
}

/* This suite's phones: Call-IDs "pr-...", branches "z9hG4bKpr...", SDP
 * of PCMU alone. */
static const struct phone_kind kind = { .cid_prefix = "pr", .branch = "pr" };

/* A phone @p user@@p domain on @p ip, talking to node @p i. */
static struct phone *phone(int i, const char *user, const char *domain,
			   const char *ip)
{
	struct phone *p;

	cr_assert_lt(nph, 8);
	p = &ph[nph++];
	phone_open(p, &kind, user, domain, ip, node[i].port);
	return p;
}

/* alice parks on node A; node B lists her slot (held by A); carol
 * dials 701 through node B and reaches A's pool, which re-INVITEs
 * alice with carol's media and answers carol with alice's; carol's
 * BYE ends alice's leg too. */
Test(park_redis, a_call_parked_on_a_is_listed_and_retrieved_through_b)
{
	struct phone *alice, *carol;
	char list[256], nodes[128];
	unsigned n = 0;

	up();
	alice = phone(0, "alice", "localhost", "127.0.0.2");
	carol = phone(1, "carol", "localhost", "127.0.0.4");
	phone_dial(alice, "700");
	phone_established(alice, rx);
	/* B learns of it by Pub/Sub (bounded: 30 polls of 100 ms). */
	for (unsigned i = 0; i < 30 && n < 1; i++) {
		n = park_list(1, "localhost", list, sizeof(list), nodes,
			      sizeof(nodes));
		if (!n)
			usleep(100 * 1000);
	}
	cr_assert_eq(n, 1, "%s", list);
	cr_assert_str_eq(list, "localhost:701");
	/* The routing copy of B follows Pub/Sub, as its list did; give
	 * it one refresh period to be sure the INVITE finds it. */
	usleep(200 * 1000);
	phone_retrieve(carol, "701", alice, alice->cid, PHONE_PORTS, 0, rx);
	cr_assert_eq(park_list(1, NULL, list, sizeof(list), NULL, 0), 0, "%s",
		     list);
	phone_bye(carol, rx);
	phone_gets_bye(alice, alice->cid, rx);
	cr_assert_eq(proc_sipedge_stop(&node[0]), 0, "%s", node[0].why);
	cr_assert_eq(proc_sipedge_stop(&node[1]), 0, "%s", node[1].why);
}

/* True once file @p name of the test's directory holds @p what. */
static int file_has(const char *name, const char *what)
{
	char path[4096], buf[65536];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, what) != NULL;
}

/* A lamp on slot 701 subscribed on node B (blf_watch.xml: full state,
 * then the parked caller confirmed, then free) sees a park made on
 * node A and its hang-up. */
Test(park_redis, a_lamp_on_b_sees_a_park_made_on_a)
{
	struct sipp_cmd c, k;
	int subscribed = 0;

	up();
	sipp_cmd_uac(&c, "blf_watch.xml", node[1].port, 0, "u1");
	sipp_cmd_opt(&c, "-m", "1");
	sipp_cmd_args(&c, "-key", "slot", "701", "-key", "host", "localhost",
		      "-trace_msg", "-message_file", "lamp_msg.log", NULL);
	sipp_cmd_errors(&c, "lamp");
	sipp_pid[1] = sipp_spawn(c.argv, dir, "lamp");
	/* Park once the lamp shows the free slot. Bounded: 100 x 50 ms. */
	for (unsigned i = 0; i < 100 && !subscribed; i++) {
		subscribed = file_has("lamp_msg.log", "version=\"0\"");
		if (!subscribed)
			usleep(50 * 1000);
	}
	cr_assert(subscribed, "the lamp got no first NOTIFY within 5 s");
	sipp_cmd_uac(&k, "uac_park.xml", node[0].port, 0, "u1");
	sipp_cmd_args(&k, "-s", "700", "-key", "domain", "localhost", NULL);
	sipp_cmd_opt(&k, "-m", "1");
	sipp_cmd_opt(&k, "-d", "1000");
	sipp_cmd_errors(&k, "parker");
	sipp_pid[0] = sipp_spawn(k.argv, dir, "parker");
	sipp_ok(&sipp_pid[0], SIPP_MS, dir, "parker", node[0].log);
	sipp_ok(&sipp_pid[1], SIPP_MS, dir, "lamp", node[1].log);
	cr_assert_eq(proc_sipedge_stop(&node[0]), 0, "%s", node[0].why);
	cr_assert_eq(proc_sipedge_stop(&node[1]), 0, "%s", node[1].why);
}

/* A NOTIFY on @p lamp: answered 200, its version into *@p version and
 * its body's dialog state ("" for none) into @p state. Returns 1 for a
 * NOTIFY, 0 for anything else (left in @p r), -1 for nothing within
 * @p wait_ms. */
static int lamp_notify(struct ua *lamp, struct sipcli_msg *r, int wait_ms,
		       int *version, char *state, size_t size)
{
	const char *b, *v, *st;

	if (ua_recv(lamp, r, wait_ms))
		return -1;
	if (r->parse_err < 0 || !r->m.is_request ||
	    !slice_eq(r->m.method_name, SLICE_LIT("NOTIFY")))
		return 0;
	b = phone_body(r);
	v = strstr(b, "<dialog-info");
	v = v ? strstr(v, "version=\"") : NULL;
	cr_assert_not_null(v, "%s", r->buf);
	*version = atoi(v + 9);
	st = strstr(b, "<state>");
	snprintf(state, size, "%.*s", st ? (int)strcspn(st + 7, "<") : 0,
		 st ? st + 7 : "");
	ua_respond(lamp, r, 200, "OK", NULL);
	return 1;
}

/* The timing the issue asks of BLF across nodes: a lamp subscribed on
 * node B, with B's configuration reloaded under it, gets the park made
 * on node A (the slot confirmed, the parked caller's identity, the next
 * version) within 200 ms of the caller's 200, and the slot free (the
 * next version again) within 1 s of the caller's BYE. */
Test(park_redis, a_lamp_on_b_sees_a_park_on_a_within_200_ms_across_a_reload)
{
	struct sipcli_msg *n = calloc(1, sizeof(*n));
	struct ua lamp;
	struct phone *alice;
	char req[1024], why[256], state[32];
	json_t *res = NULL;
	int version = -1, len, got;
	long t200 = 0, tn1 = 0, tbye, tn2 = 0, deadline;
	bool ok200 = false;

	cr_assert_not_null(n);
	up();
	ua_open(&lamp, "lamp", "localhost", "127.0.0.5", node[1].port);
	len = snprintf(req, sizeof(req),
		       "SUBSCRIBE sip:701@localhost SIP/2.0\r\n"
		       "Via: SIP/2.0/UDP %s:%u;rport;branch=z9hG4bKlamp1\r\n"
		       "Max-Forwards: 70\r\n"
		       "From: <sip:lamp@localhost>;tag=lamp1\r\n"
		       "To: <sip:701@localhost>\r\n"
		       "Call-ID: lamp-%u\r\nCSeq: 1 SUBSCRIBE\r\n"
		       "Contact: <%s>\r\n"
		       "Event: dialog\r\n"
		       "Accept: application/dialog-info+xml\r\n"
		       "Expires: 120\r\n"
		       "Content-Length: 0\r\n\r\n",
		       lamp.ip, lamp.port, lamp.port, lamp.contact);
	ua_send(&lamp, req, (size_t)len);
	/* The 200 and the full state of the free slot, in either order
	 * (bounded: 10 messages of at most UA_WAIT_MS). */
	for (int i = 0; i < 10 && (!ok200 || version < 0); i++) {
		got = lamp_notify(&lamp, n, UA_WAIT_MS, &version, state,
				  sizeof(state));
		cr_assert_neq(got, -1, "the lamp heard nothing");
		if (!got && !n->m.is_request && n->m.status == 200)
			ok200 = true;
	}
	cr_assert(ok200 && version == 0, "version %d", version);
	cr_assert_str_eq(state, "");
	/* Reload B under the subscription: nothing changes for it. */
	cr_assert_eq(mgmtcli_rpc(node[1].mgmt_port, NULL, "config.reload", NULL,
				 &res, why, sizeof(why)),
		     0, "config.reload: %s", why);
	json_decref(res);
	alice = phone(0, "alice", "localhost", "127.0.0.2");
	phone_dial(alice, "700");
	/* Both sockets by turns, 5 ms each, so each arrival is timed to
	 * about 10 ms (bounded: 5 s). */
	deadline = ms_now() + 5000;
	while ((!t200 || !tn1) && ms_now() < deadline) {
		if (!t200 && !ua_recv(&alice->ua, rx, 5) && !rx->m.is_request &&
		    rx->m.status == 200) {
			t200 = ms_now();
			phone_dialog_of(alice, rx);
			phone_in_dialog(alice, "ACK");
		}
		if (!tn1 && lamp_notify(&lamp, n, 5, &version, state,
					sizeof(state)) == 1) {
			tn1 = ms_now();
			cr_assert_eq(version, 1);
			cr_assert_str_eq(state, "confirmed");
			cr_assert_not_null(strstr(phone_body(n), "sip:alice@"),
					   "%s", n->buf);
		}
	}
	cr_assert(t200 && tn1, "200 %ld, NOTIFY %ld", t200, tn1);
	cr_assert_leq(tn1 - t200, 200,
		      "the lamp on B saw the park %ld ms "
		      "after the parker's 200 on A",
		      tn1 - t200);
	cr_log_info("park_redis: lamp on B %ld ms after the 200 on A",
		    tn1 - t200);
	phone_in_dialog(alice, "BYE");
	tbye = ms_now();
	deadline = tbye + 5000;
	while (!tn2 && ms_now() < deadline)
		if (lamp_notify(&lamp, n, 5, &version, state, sizeof(state)) ==
		    1)
			tn2 = ms_now();
	cr_assert(tn2, "no NOTIFY after the BYE");
	cr_assert_eq(version, 2);
	cr_assert_str_eq(state, "", "%s", n->buf);
	cr_assert_leq(tn2 - tbye, 1000,
		      "the slot was freed on the lamp %ld "
		      "ms after the BYE",
		      tn2 - tbye);
	cr_log_info("park_redis: lamp free %ld ms after the BYE", tn2 - tbye);
	cr_assert_eq(ua_expect_final(&alice->ua, alice->cid, "BYE", rx), 200);
	ua_close(&lamp);
	free(n);
	cr_assert_eq(proc_sipedge_stop(&node[0]), 0, "%s", node[0].why);
	cr_assert_eq(proc_sipedge_stop(&node[1]), 0, "%s", node[1].why);
}

/* alice parks on node A; park.retrieve through node B calls dave
 * (registered on B) without SDP; dave's offer reaches alice in a
 * re-INVITE from A, alice's answer reaches dave in the ACK; BYE from
 * alice ends dave's call. */
Test(park_redis, park_retrieve_through_b_reaches_the_call_on_a)
{
	struct phone *alice, *dave;
	char list[256], cid[128];
	unsigned n = 0;

	up();
	alice = phone(0, "alice", "localhost", "127.0.0.2");
	dave = phone(1, "dave", "localhost", "127.0.0.5");
	cr_assert_eq(ua_register(&dave->ua, "test", 60, rx), 200);
	phone_dial(alice, "700");
	phone_established(alice, rx);
	/* Bounded: 30 polls of 100 ms until B knows the slot. */
	for (unsigned i = 0; i < 30 && n < 1; i++) {
		n = park_list(1, "localhost", list, sizeof(list), NULL, 0);
		if (!n)
			usleep(100 * 1000);
	}
	cr_assert_eq(n, 1, "%s", list);
	phone_called_by_retrieve(node[1].mgmt_port,
				 "{\"domain\":\"localhost\",\"slot\":701,"
				 "\"to\":\"dave\"}",
				 dave, rx);
	phone_bridged_late(dave, alice, 0, cid, sizeof(cid), rx);
	cr_assert_eq(park_list(1, NULL, list, sizeof(list), NULL, 0), 0, "%s",
		     list);
	phone_bye(alice, rx);
	phone_gets_bye(dave, cid, rx);
	cr_assert_eq(proc_sipedge_stop(&node[0]), 0, "%s", node[0].why);
	cr_assert_eq(proc_sipedge_stop(&node[1]), 0, "%s", node[1].why);
}

/* Node takeover (issue #13). */

#define FRAME	     160
#define MUSIC_FRAMES 512

/* @p p hears the built-in music from its start, sent from @p port (the
 * survivor's media): up to 200 packets (4 s) until its first frame,
 * then @p frames frames in order. Others' packets fail the test. */
static void hears_music_from(struct phone *p, unsigned port, size_t frames)
{
	static uint8_t music[MUSIC_FRAMES * FRAME];
	size_t nm = 0, at = 0;
	uint8_t pkt[2048];

	phone_sound("music", music, &nm, MUSIC_FRAMES); /* its start */
	cr_assert_geq(nm, frames + 1);
	for (int i = 0; i < 200 + (int)frames && at <= frames; i++) {
		struct pollfd pf = { .fd = p->rtp, .events = POLLIN };
		struct sockaddr_in src;
		socklen_t sl = sizeof(src);
		ssize_t len;

		cr_assert_eq(poll(&pf, 1, 1000), 1,
			     "%s: no RTP (music frame %zu)", p->ua.user, at);
		len = recvfrom(p->rtp, pkt, sizeof(pkt), 0,
			       (struct sockaddr *)&src, &sl);
		cr_assert_eq(len, 12 + FRAME);
		cr_assert_eq(ntohs(src.sin_port), port,
			     "%s: RTP from port %u, not the survivor's %u",
			     p->ua.user, ntohs(src.sin_port), port);
		cr_assert_eq(pkt[1] & 0x7f, 0, "PCMU");
		if (!memcmp(pkt + 12, music + at * FRAME, FRAME))
			at++;
		else
			cr_assert_eq(at, 0, "%s: music frame %zu differs",
				     p->ua.user, at);
	}
	cr_assert_gt(at, frames, "%s: the music did not start", p->ua.user);
}

/* @p n phones park on node A (700): each answered 200 and ACKed, its
 * o= line kept in @p o[i]; B lists all of them held by A. */
static void park_on_a(unsigned n, char (*o)[128])
{
	char list[512], nodes[512], ip[32], user[16];
	unsigned k = 0;

	for (unsigned i = 0; i < n; i++) {
		struct phone *p;

		snprintf(ip, sizeof(ip), "127.0.0.%u", 11 + i);
		snprintf(user, sizeof(user), "pk%u", i);
		p = phone(0, user, "localhost", ip);
		phone_dial(p, "700");
		phone_established(p, rx);
		phone_o_line(phone_body(rx), o[i], sizeof(o[i]));
	}
	/* Bounded: 30 polls of 100 ms until B lists them. */
	for (unsigned i = 0; i < 30 && k < n; i++) {
		k = park_list(1, "localhost", list, sizeof(list), nodes,
			      sizeof(nodes));
		if (k < n)
			usleep(100 * 1000);
	}
	cr_assert_eq(k, n, "%s", list);
}

/* @p p sends to node B from now on: its responses go where the top Via
 * (B's proxy) says, as a balancer in front of the nodes would send its
 * requests to a survivor. */
static void to_survivor(struct phone *p)
{
	p->ua.srv.sin_port = htons(node[1].port);
}

/* The node id of node @p i's records (park.list on it, all one node). */
static void node_of(int i, unsigned n, char *id, size_t size)
{
	char list[512], nodes[512];

	cr_assert_eq(
	    park_list(i, "localhost", list, sizeof(list), nodes, sizeof(nodes)),
	    n);
	cr_assert_lt(strcspn(nodes, " "), size);
	snprintf(id, size, "%.*s", (int)strcspn(nodes, " "), nodes);
	for (const char *w = nodes; *w; w += strspn(w, " ")) {
		cr_assert_eq(strncmp(w, id, strlen(id)), 0, "%s", nodes);
		w += strcspn(w, " ");
	}
}

/* Five calls parked on A; A killed: B re-INVITEs each parked party in
 * its own dialog (same Call-ID, tags; o= the same session, next
 * version) within 5 s of the kill, with its own media; each hears the
 * music again from B's pool; B lists the same five slots held by B;
 * carol dials 701 through B and gets the parked party; carol's BYE ends
 * both. */
Test(park_redis, a_dead_nodes_parked_calls_are_taken_over_by_the_other)
{
	char o[5][128], na[40], nb[40], list[512], want[512], got[128];
	unsigned port[5];
	struct phone *carol, *pk;
	long t0, dt[5];

	up();
	park_on_a(5, o);
	node_of(1, 5, na, sizeof(na));
	cr_assert_eq(park_list(1, "localhost", want, sizeof(want), NULL, 0), 5);
	cr_assert_eq(kill(node[0].pid, SIGKILL), 0);
	t0 = ms_now();
	for (unsigned i = 0; i < 5; i++) {
		phone_rtp_drain(&ph[i], 0);
		to_survivor(&ph[i]);
	}
	for (unsigned i = 0; i < 5; i++) {
		unsigned long long s0, v0, s1, v1;

		pk = &ph[i];
		ua_expect_req(&pk->ua, "INVITE", pk->cid, rx);
		dt[i] = ms_now() - t0;
		cr_assert_leq(dt[i], 5000,
			      "%s: re-INVITE %ld ms after the kill",
			      pk->ua.user, dt[i]);
		/* The parked party's own dialog: its tag in To, B's pool
		 * in Contact, no Route towards the dead node. */
		sipcli_hdr_str(rx, HDR_TO, got, sizeof(got));
		cr_assert_not_null(strstr(got, pk->cid), "To: %s", got);
		cr_assert_null(sipmsg_hdr(&rx->m, HDR_ROUTE), "%s", rx->buf);
		phone_o_line(phone_body(rx), got, sizeof(got));
		phone_o_parts(o[i], &s0, &v0);
		phone_o_parts(got, &s1, &v1);
		cr_assert_eq(s1, s0, "o= session: %s, was %s", got, o[i]);
		cr_assert_eq(v1, v0 + 1, "o= version: %s, was %s", got, o[i]);
		port[i] = phone_audio_port(phone_body(rx));
		cr_assert_gt(port[i], 0, "%s", rx->buf);
		phone_accepts(pk, pk->cid, rx);
	}
	for (unsigned i = 0; i < 5; i++)
		hears_music_from(&ph[i], port[i], 25);
	cr_log_info("park_redis: re-INVITEs %ld %ld %ld %ld %ld ms after the "
		    "kill",
		    dt[0], dt[1], dt[2], dt[3], dt[4]);
	/* The same slots, now B's. */
	node_of(1, 5, nb, sizeof(nb));
	cr_assert_str_neq(na, nb);
	cr_assert_eq(park_list(1, "localhost", list, sizeof(list), NULL, 0), 5);
	cr_assert_str_eq(list, want);
	/* carol retrieves 701 (pk0's) through B. */
	carol = phone(1, "carol", "localhost", "127.0.0.4");
	pk = &ph[0];
	phone_retrieve(carol, "701", pk, pk->cid, PHONE_PORTS, 0, rx);
	cr_assert_eq(park_list(1, "localhost", list, sizeof(list), NULL, 0), 4,
		     "%s", list);
	phone_bye(carol, rx);
	phone_gets_bye(pk, pk->cid, rx);
	cr_assert_eq(
	    proc_sipedge_wait_log(
		&node[1], "park: localhost slot 701 taken over", 1, 1000),
	    0, "%s", node[1].why);
	{
		char *page = NULL;
		unsigned status = 0;

		cr_assert_eq(mgmtcli_http(node[1].mgmt_port, "GET", "/metrics",
					  NULL, NULL, &status, &page),
			     0);
		cr_assert_eq(status, 200);
		cr_assert_not_null(
		    strstr(page, "sipedge_park_takeovers_total 5\n"), "%s",
		    page);
		cr_assert_not_null(
		    strstr(page, "sipedge_park_takeover_failures_total 0\n"),
		    "%s", page);
		free(page);
	}
	cr_assert_eq(proc_sipedge_stop(&node[1]), 0, "%s", node[1].why);
}

/* The parked party answers the survivor's re-INVITE 481 (its dialog is
 * gone): the slot is released, the failure logged and counted. */
Test(park_redis, a_takeover_answered_481_frees_the_slot)
{
	char o[1][128], list[256], *resp = NULL;
	unsigned status = 0;
	long t0;

	up();
	park_on_a(1, o);
	cr_assert_eq(kill(node[0].pid, SIGKILL), 0);
	to_survivor(&ph[0]);
	ua_expect_req(&ph[0].ua, "INVITE", ph[0].cid, rx);
	ua_respond(&ph[0].ua, rx, 481, "Call/Transaction Does Not Exist", NULL);
	cr_assert_eq(proc_sipedge_wait_log(
			 &node[1],
			 "park: takeover of 701@localhost failed (481)", 1,
			 5000),
		     0, "%s", node[1].why);
	t0 = ms_now();
	/* Bounded: 20 polls of 100 ms. */
	while (ms_now() - t0 < 2000 &&
	       park_list(1, NULL, list, sizeof(list), NULL, 0) > 0)
		usleep(100 * 1000);
	cr_assert_eq(park_list(1, NULL, list, sizeof(list), NULL, 0), 0, "%s",
		     list);
	cr_assert_eq(mgmtcli_http(node[1].mgmt_port, "GET", "/metrics", NULL,
				  NULL, &status, &resp),
		     0);
	cr_assert_eq(status, 200);
	cr_assert_not_null(
	    strstr(resp, "sipedge_park_takeover_failures_total 1\n"), "%s",
	    resp);
	cr_assert_not_null(strstr(resp, "sipedge_park_takeovers_total 0\n"),
			   "%s", resp);
	free(resp);
	cr_assert_eq(proc_sipedge_stop(&node[1]), 0, "%s", node[1].why);
}

/* RTP packets on @p p's socket in @p ms, counted by source port: from
 * @p port into *fromp, from any other into *otherp (bounded: @p ms and
 * 10,000 packets). */
static void rtp_count(struct phone *p, unsigned port, long ms, unsigned *fromp,
		      unsigned *otherp)
{
	uint8_t pkt[2048];
	long t0 = ms_now();

	*fromp = *otherp = 0;
	for (int i = 0; i < 10000 && ms_now() - t0 < ms; i++) {
		struct pollfd pf = { .fd = p->rtp, .events = POLLIN };
		struct sockaddr_in src;
		socklen_t sl = sizeof(src);

		if (poll(&pf, 1, (int)(ms - (ms_now() - t0))) != 1)
			break;
		if (recvfrom(p->rtp, pkt, sizeof(pkt), 0,
			     (struct sockaddr *)&src, &sl) < 12)
			continue;
		if (ntohs(src.sin_port) == port)
			(*fromp)++;
		else
			(*otherp)++;
	}
}

/* A node frozen (SIGSTOP) longer than a lease: B takes its parked call
 * over; when A runs again it finds its lease taken and lets its call go
 * without a word to the party (no BYE: that would end B's call), its
 * music stops, B's goes on. */
Test(park_redis, a_frozen_node_that_wakes_up_lets_the_taken_over_call_go)
{
	char o[1][128], ob[128];
	struct phone *pk;
	unsigned a_port, b_port, from_b, other;
	long t0;

	up();
	park_on_a(1, o);
	pk = &ph[0];
	/* A's media port: where its music comes from now. */
	rtp_count(pk, 0, 300, &from_b, &other);
	cr_assert_gt(other, 5, "no music from A");
	{
		uint8_t pkt[2048];
		struct sockaddr_in src;
		socklen_t sl = sizeof(src);
		struct pollfd pf = { .fd = pk->rtp, .events = POLLIN };

		cr_assert_eq(poll(&pf, 1, 1000), 1);
		cr_assert_gt(recvfrom(pk->rtp, pkt, sizeof(pkt), 0,
				      (struct sockaddr *)&src, &sl),
			     0);
		a_port = ntohs(src.sin_port);
	}
	cr_assert_eq(kill(node[0].pid, SIGSTOP), 0);
	t0 = ms_now();
	to_survivor(pk);
	ua_expect_req(&pk->ua, "INVITE", pk->cid, rx);
	cr_assert_leq(ms_now() - t0, 5000);
	phone_o_line(phone_body(rx), ob, sizeof(ob));
	b_port = phone_audio_port(phone_body(rx));
	cr_assert_neq(b_port, a_port);
	phone_accepts(pk, pk->cid, rx);
	cr_assert_eq(kill(node[0].pid, SIGCONT), 0);
	cr_assert_eq(
	    proc_sipedge_wait_log(
		&node[0], "held by another node now: our call-id=", 1, 3000),
	    0, "%s", node[0].why);
	/* No SIP from either node (A sends no BYE), B's music only. */
	cr_assert_eq(ua_recv(&pk->ua, rx, 1500), -ETIMEDOUT, "%s", rx->buf);
	phone_rtp_drain(pk, 0);
	rtp_count(pk, b_port, 1000, &from_b, &other);
	cr_assert_gt(from_b, 30, "B's music: %u packets", from_b);
	cr_assert_eq(other, 0, "%u packets not from B (A's port %u)", other,
		     a_port);
	/* One holder: B. */
	node_of(0, 1, o[0], sizeof(o[0]));
	node_of(1, 1, ob, sizeof(ob));
	cr_assert_str_eq(o[0], ob);
	cr_assert_eq(proc_sipedge_stop(&node[0]), 0, "%s", node[0].why);
	cr_assert_eq(proc_sipedge_stop(&node[1]), 0, "%s", node[1].why);
}
