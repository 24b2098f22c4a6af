/* tests/unit/features/b2b/test_pool.c - the B2B worker pool: its own group
 * of shards on a loopback port, the role's default answers, the UA seam,
 * the trust of its source */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "features/b2b/b2b_conf.h"
#include "features/b2b/pool.h"
#include "proxy/base/log.h"
#include "proxy/core/conf.h"
#include "proxy/core/shard.h"
#include "proxy/sip/msg.h"
#include "proxy/sip/peer.h"
#include "tests/common/ms.h"
#include "tests/common/proc.h"
#include "tests/common/teardown.h"
#include "tests/unit/poolfix.h"
#include "tests/unit/sections.h"

/* How long a test waits for an answer that must come: a safety net. */
#define WAIT_MS 5000

static struct conf *c;
static struct pool *pool;
static int fd = -1;

static void init(void)
{
	log_set_level(LOG_WARN);
	c = NULL;
	pool = NULL;
	fd = -1;
}

static void fini(void)
{
	pool_stop(pool);
	pool = NULL;
	pool_set_ua(NULL);
	conf_free(c);
	c = NULL;
	if (fd >= 0)
		close(fd);
	teardown_check(!pool_is_source(NULL), "pool source left");
	teardown_check_objs(0);
}

TestSuite(pool, .init = init, .fini = fini, .timeout = 30);

static void start(const char *yaml)
{
	c = sections_load(yaml);
	cr_assert_eq(pool_start(c, &pool), 0);
	cr_assert_not_null(pool);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
}

static uint16_t pool_port(void)
{
	struct sockaddr_storage ss;
	socklen_t len;

	cr_assert_eq(pool_sockaddr(pool, &ss, &len), 0);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* Send @p method (with @p to_tag when not NULL) to the pool from fd. */
static void send_req(const char *method, const char *to_tag, int n)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char buf[1024];
	int k;

	cr_assert_eq(pool_sockaddr(pool, &ss, &len), 0);
	k = snprintf(buf, sizeof(buf),
		     "%s sip:b2b@127.0.0.1 SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKp%d;rport\r\n"
		     "Max-Forwards: 70\r\n"
		     "From: <sip:a@localhost>;tag=f%d\r\n"
		     "To: <sip:b2b@127.0.0.1>%s%s\r\n"
		     "Call-ID: pool-%d@test\r\n"
		     "CSeq: 1 %s\r\n"
		     "Content-Length: 0\r\n\r\n",
		     method, n, n, to_tag ? ";tag=" : "", to_tag ? to_tag : "",
		     n, method);
	cr_assert_eq(sendto(fd, buf, (size_t)k, 0, (struct sockaddr *)&ss, len),
		     k);
}

Test(pool, no_pool_trusts_nobody)
{
	struct peer p;

	memset(&p, 0, sizeof(p));
	p.proto = PEER_UDP;
	cr_assert_eq(peer_addr_parse("127.0.0.1", 0, &p.addr, &p.addrlen), 0);
	cr_assert_not(pool_is_source(&p));
	cr_assert_not(pool_is_source(NULL));
	cr_assert_eq(pool_workers(NULL), 0);
	cr_assert_null(pool_shards(NULL));
}

Test(pool, starts_on_a_free_loopback_port)
{
	char want[32];

	start("b2b:\n  workers: 3\n");
	cr_assert_eq(pool_workers(pool), 3);
	cr_assert_eq(shards_count(pool_shards(pool)), 3);
	cr_assert_gt(pool_port(), 0);
	snprintf(want, sizeof(want), "127.0.0.1:%u", pool_port());
	cr_assert_str_eq(pool_address(pool), want);
}

Test(pool, binds_the_configured_port)
{
	char yaml[128], want[32];
	uint16_t port;

	cr_assert_eq(proc_free_port("127.0.0.1", &port), 0);
	snprintf(yaml, sizeof(yaml), "b2b:\n  listen: \"127.0.0.1:%u\"\n",
		 port);
	start(yaml);
	cr_assert_eq(pool_port(), port);
	snprintf(want, sizeof(want), "127.0.0.1:%u", port);
	cr_assert_str_eq(pool_address(pool), want);
}

Test(pool, workers_zero_starts_nothing)
{
	struct pool *p = (struct pool *)1;

	c = sections_load("b2b:\n  workers: 0\n");
	cr_assert_eq(pool_start(c, &p), 0);
	cr_assert_null(p);
}

Test(pool, one_pool_per_process)
{
	struct pool *p = NULL;

	start("");
	cr_assert_eq(pool_start(c, &p), -EBUSY);
	cr_assert_null(p);
	/* The first one still answers. */
	send_req("OPTIONS", NULL, 1);
	cr_assert(strncmp(poolfix_recv(fd, WAIT_MS), "SIP/2.0 200 ", 12) == 0);
}

Test(pool, answers_options_200_with_allow_and_accept)
{
	const char *r;

	start("");
	send_req("OPTIONS", NULL, 1);
	r = poolfix_recv(fd, WAIT_MS);
	cr_assert(strncmp(r, "SIP/2.0 200 OK\r\n", 16) == 0, "%s", r);
	cr_assert_not_null(
	    strstr(r, "\r\nAllow: OPTIONS, ACK, BYE, CANCEL\r\n"), "%s", r);
	cr_assert_not_null(strstr(r, "\r\nAccept: application/sdp\r\n"), "%s",
			   r);
	cr_assert_not_null(strstr(r, "\r\nCall-ID: pool-1@test\r\n"), "%s", r);
	cr_assert_not_null(strstr(r, "\r\nTo: <sip:b2b@127.0.0.1>;tag="), "%s",
			   r);
}

Test(pool, answers_501_out_of_dialog_and_481_in_dialog)
{
	const char *r;

	start("");
	send_req("INVITE", NULL, 2);
	r = poolfix_recv(fd, WAIT_MS);
	cr_assert(strncmp(r, "SIP/2.0 501 ", 12) == 0, "%s", r);
	send_req("MESSAGE", NULL, 3);
	r = poolfix_recv(fd, WAIT_MS);
	cr_assert(strncmp(r, "SIP/2.0 501 ", 12) == 0, "%s", r);
	/* RFC 3261 §12.2.2: no dialog matches. */
	send_req("BYE", "t1", 4);
	r = poolfix_recv(fd, WAIT_MS);
	cr_assert(strncmp(r, "SIP/2.0 481 ", 12) == 0, "%s", r);
	cr_assert_not_null(strstr(r, ";tag=t1\r\n"), "%s", r);
	send_req("OPTIONS", "t2", 5);
	r = poolfix_recv(fd, WAIT_MS);
	cr_assert(strncmp(r, "SIP/2.0 481 ", 12) == 0, "%s", r);
	/* RFC 3261 §9.2: no transaction to cancel. */
	send_req("CANCEL", NULL, 6);
	r = poolfix_recv(fd, WAIT_MS);
	cr_assert(strncmp(r, "SIP/2.0 481 ", 12) == 0, "%s", r);
}

Test(pool, absorbs_ack_and_responses_answers_garbage_nothing)
{
	struct sockaddr_storage ss;
	socklen_t len;
	static const char rsp[] =
	    "SIP/2.0 200 OK\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKx\r\n"
	    "From: <sip:a@localhost>;tag=1\r\n"
	    "To: <sip:b@localhost>;tag=2\r\n"
	    "Call-ID: stray@test\r\n"
	    "CSeq: 1 INVITE\r\n"
	    "Content-Length: 0\r\n\r\n";
	static const char junk[] = "NOT SIP AT ALL\r\n\r\n";
	struct shard_stats st;
	uint64_t dropped = 0;
	const char *r;

	start("b2b:\n  workers: 1\n");
	cr_assert_eq(pool_sockaddr(pool, &ss, &len), 0);
	send_req("ACK", "t1", 7);
	cr_assert_eq(
	    sendto(fd, rsp, sizeof(rsp) - 1, 0, (struct sockaddr *)&ss, len),
	    (ssize_t)sizeof(rsp) - 1);
	cr_assert_eq(
	    sendto(fd, junk, sizeof(junk) - 1, 0, (struct sockaddr *)&ss, len),
	    (ssize_t)sizeof(junk) - 1);
	/* Then an OPTIONS: its 200 is the first and only answer. */
	send_req("OPTIONS", NULL, 8);
	r = poolfix_recv(fd, WAIT_MS);
	cr_assert_not_null(strstr(r, "Call-ID: pool-8@test"), "%s", r);
	cr_assert_str_eq(poolfix_recv(fd, 200), "");
	for (int i = 0; i < WAIT_MS / 10 && dropped < 2; i++) {
		shards_stats(pool_shards(pool), 0, &st);
		dropped = st.dropped;
		ms_sleep(10);
	}
	/* The stray response and the junk; the ACK is absorbed. */
	cr_assert_eq(dropped, 2);
	cr_assert_eq(st.requests[SIP_ACK], 1);
	cr_assert_eq(st.rsp_in[1], 1);
	cr_assert_eq(st.parse_errors, 1);
}

Test(pool, trusts_exactly_its_own_udp_source)
{
	struct peer p;
	socklen_t len;

	start("");
	memset(&p, 0, sizeof(p));
	p.proto = PEER_UDP;
	cr_assert_eq(pool_sockaddr(pool, &p.addr, &len), 0);
	p.addrlen = len;
	cr_assert(pool_is_source(&p));
	/* TCP ports are another space: anyone may bind that number. */
	p.proto = PEER_TCP;
	cr_assert_not(pool_is_source(&p));
	p.proto = PEER_UDP;
	((struct sockaddr_in *)&p.addr)->sin_port = htons(pool_port() + 1);
	cr_assert_not(pool_is_source(&p));
	cr_assert_eq(
	    peer_addr_parse("127.0.0.2", pool_port(), &p.addr, &p.addrlen), 0);
	cr_assert_not(pool_is_source(&p));
	cr_assert_eq(peer_addr_parse("::1", pool_port(), &p.addr, &p.addrlen),
		     0);
	cr_assert_not(pool_is_source(&p));
	/* Stopped: nobody. */
	cr_assert_eq(pool_sockaddr(pool, &p.addr, &len), 0);
	pool_stop(pool);
	pool = NULL;
	cr_assert_not(pool_is_source(&p));
}

Test(pool, trusts_its_ipv6_loopback_source)
{
	struct peer p;
	socklen_t len;

	c = sections_load("b2b:\n  listen: \"[::1]:0\"\n");
	cr_assert_eq(pool_start(c, &pool), 0);
	cr_assert(strncmp(pool_address(pool), "[::1]:", 6) == 0, "%s",
		  pool_address(pool));
	memset(&p, 0, sizeof(p));
	p.proto = PEER_UDP;
	cr_assert_eq(pool_sockaddr(pool, &p.addr, &len), 0);
	p.addrlen = len;
	cr_assert(pool_is_source(&p));
	((struct sockaddr_in6 *)&p.addr)->sin6_port ^= htons(1);
	cr_assert_not(pool_is_source(&p));
}

/* pool_post(): the worker that owns the Call-ID runs it. */
static atomic_int ran_on = -1;

static void record(struct shard *sh, void *arg)
{
	(void)arg;
	atomic_store(&ran_on, sh ? (int)shard_id(sh) : -2);
}

Test(pool, post_runs_on_the_owner_of_the_call_id)
{
	static const char *const cids[] = { "a@x", "b@x", "c@x", "d@x",
					    "e@x", "f@x", "g@x", "h@x" };

	start("b2b:\n  workers: 4\n");
	cr_assert_eq(pool_post(pool, slice_make(NULL, 0), record, NULL),
		     -EINVAL);
	cr_assert_eq(pool_post(NULL, SLICE_LIT("a@x"), record, NULL), -EINVAL);
	for (unsigned i = 0; i < 8; i++) {
		struct slice cid = slice_cstr(cids[i]);
		int want = (int)shard_owner(cid, 4);

		atomic_store(&ran_on, -1);
		cr_assert_eq(pool_post(pool, cid, record, NULL), 0);
		for (int k = 0; k < WAIT_MS && atomic_load(&ran_on) == -1; k++)
			ms_sleep(1);
		cr_assert_eq(atomic_load(&ran_on), want, "%s", cids[i]);
	}
}

/* The UA seam: a UA that answers INVITE 486 itself and passes the rest. */
static atomic_int ua_states, ua_requests;

static int ua_new(struct shard *sh, uint64_t now_ms, void **statep)
{
	(void)sh;
	(void)now_ms;
	atomic_fetch_add(&ua_states, 1);
	*statep = malloc(1);
	return *statep ? 0 : -ENOMEM;
}

static void ua_free(void *state)
{
	if (state)
		atomic_fetch_sub(&ua_states, 1);
	free(state);
}

static int ua_request(struct shard *sh, void *state, const struct peer *from,
		      const struct sipmsg *m)
{
	int err;

	cr_assert_not_null(state);
	atomic_fetch_add(&ua_requests, 1);
	if (m->method != SIP_INVITE)
		return POOL_UA_PASS;
	err = pool_reply(sh, from, m, 486, slice_make(NULL, 0));
	return err ? err : POOL_UA_DONE;
}

static atomic_int ua_ticks;

/* 0: asleep after each tick (SHARD_TICK_NONE); else the period asked. */
static atomic_uint ua_period;

static uint64_t ua_tick(struct shard *sh, void *state, uint64_t now_ms)
{
	unsigned p = atomic_load(&ua_period);

	(void)sh;
	if (state)
		atomic_fetch_add(&ua_ticks, 1);
	return p ? now_ms + p : SHARD_TICK_NONE;
}

static const struct pool_ua test_ua = {
	.name = "test",
	.new_state = ua_new,
	.free_state = ua_free,
	.request = ua_request,
	.tick = ua_tick,
	.allow = "INVITE, ACK, BYE, CANCEL, OPTIONS",
};

Test(pool, the_ua_core_sees_requests_first)
{
	static const struct pool_ua half = { .name = "half",
					     .new_state = ua_new };
	const char *r;

	cr_assert_eq(pool_set_ua(&half), -EINVAL);
	cr_assert_eq(pool_set_ua(&test_ua), 0);
	atomic_store(&ua_states, 0);
	atomic_store(&ua_requests, 0);
	atomic_store(&ua_period, POOL_TICK_MS);
	start("b2b:\n  workers: 2\n");
	cr_assert_eq(atomic_load(&ua_states), 2);
	send_req("INVITE", NULL, 9);
	r = poolfix_recv(fd, WAIT_MS);
	cr_assert(strncmp(r, "SIP/2.0 486 ", 12) == 0, "%s", r);
	send_req("OPTIONS", NULL, 10);
	r = poolfix_recv(fd, WAIT_MS);
	cr_assert(strncmp(r, "SIP/2.0 200 ", 12) == 0, "%s", r);
	cr_assert_not_null(
	    strstr(r, "\r\nAllow: INVITE, ACK, BYE, CANCEL, OPTIONS\r\n"), "%s",
	    r);
	cr_assert_eq(atomic_load(&ua_requests), 2);
	/* Its timers run on the workers, as often as it asks. */
	for (int i = 0; i < WAIT_MS && atomic_load(&ua_ticks) < 4; i++)
		ms_sleep(1);
	cr_assert_geq(atomic_load(&ua_ticks), 4);
	pool_stop(pool);
	pool = NULL;
	cr_assert_eq(atomic_load(&ua_states), 0);
}

/* Steering: which worker handles what (pool_steer()). */
static atomic_int handled_on;

static int where_request(struct shard *sh, void *state, const struct peer *from,
			 const struct sipmsg *m)
{
	(void)state;
	atomic_store(&handled_on, (int)shard_id(sh));
	return pool_reply(sh, from, m, 200, slice_make(NULL, 0))
		   ?: POOL_UA_DONE;
}

static const struct pool_ua where_ua = {
	.name = "where",
	.new_state = ua_new,
	.free_state = ua_free,
	.request = where_request,
	.allow = "INVITE, ACK, BYE, CANCEL, OPTIONS",
};

/* OPTIONS to @p ruri with Call-ID @p cid; the worker that handled it. */
static int handled_by(const char *ruri, const char *cid)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char buf[1024];
	const char *r;
	int k;

	cr_assert_eq(pool_sockaddr(pool, &ss, &len), 0);
	k = snprintf(buf, sizeof(buf),
		     "OPTIONS %s SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKs%s;rport\r\n"
		     "Max-Forwards: 70\r\nFrom: <sip:a@localhost>;tag=f\r\n"
		     "To: <sip:b@localhost>\r\nCall-ID: %s\r\n"
		     "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
		     ruri, cid, cid);
	atomic_store(&handled_on, -1);
	cr_assert_eq(sendto(fd, buf, (size_t)k, 0, (struct sockaddr *)&ss, len),
		     k);
	r = poolfix_recv(fd, WAIT_MS);
	cr_assert(!strncmp(r, "SIP/2.0 200 ", 12), "%s", r);
	return atomic_load(&handled_on);
}

/* An application's steering: sip:700@... to worker 1. */
static int steer_700(const char *buf, size_t len, struct slice ruri,
		     unsigned workers)
{
	(void)buf;
	(void)len;
	return ruri.len > 8 && !memcmp(ruri.p, "sip:700@", 8) && workers > 1
		   ? 1
		   : -1;
}

Test(pool, a_worker_named_in_the_request_uri_handles_it)
{
	char cid[32];
	int by_cid[2] = { 0, 0 };

	cr_assert_eq(pool_set_ua(&where_ua), 0);
	pool_set_steer(steer_700);
	start("b2b:\n  workers: 2\n");
	for (int i = 0; i < 16; i++) {
		snprintf(cid, sizeof(cid), "steer-%d@test", i);
		/* Named: whatever the Call-ID. */
		cr_assert_eq(handled_by("sip:b2b-0@127.0.0.1", cid), 0);
		cr_assert_eq(handled_by("sip:B2B-1@127.0.0.1:5", cid), 1);
		/* The application's choice. */
		cr_assert_eq(handled_by("sip:700@example.com", cid), 1);
		/* Neither: by Call-ID, so both workers get some. */
		by_cid[handled_by("sip:b2b@127.0.0.1", cid)]++;
	}
	cr_assert(by_cid[0] && by_cid[1], "%d/%d", by_cid[0], by_cid[1]);
	pool_set_steer(NULL);
}

Test(pool, steer_reads_only_a_well_formed_worker_name)
{
#define S(text, w) pool_steer(text, strlen(text), w)
	pool_set_steer(NULL);
	cr_assert_eq(S("BYE sip:b2b-1@h SIP/2.0\r\n", 2), 1);
	cr_assert_eq(S("BYE sip:b2b-12@h:5060;lr SIP/2.0\r\n", 16), 12);
	cr_assert_eq(S("BYE sip:b2b-2@h SIP/2.0\r\n", 2), -1);
	cr_assert_eq(S("BYE sip:b2b-@h SIP/2.0\r\n", 2), -1);
	cr_assert_eq(S("BYE sip:b2b-1x@h SIP/2.0\r\n", 2), -1);
	cr_assert_eq(S("BYE sip:b2b-1 SIP/2.0\r\n", 2), -1);
	cr_assert_eq(S("BYE sip:b2b-99999999999999999999@h SIP/2.0\r\n", 2),
		     -1);
	cr_assert_eq(S("BYE sip:b2b@h SIP/2.0\r\n", 2), -1);
	cr_assert_eq(S("SIP/2.0 200 OK\r\n", 2), -1);
	cr_assert_eq(S("BYE", 2), -1);
	cr_assert_eq(S("BYE sip:b2b-1@h", 2), -1);
	cr_assert_eq(pool_steer("", 0, 2), -1);
#undef S
}

/* Issue #14: a UA core that wants no tick gets none while the worker is
 * idle, one tick POOL_TICK_MS after each request it handled, and
 * shard_tick_at()'s (the timer wheel's alarm) when it asks. */
Test(pool, an_idle_worker_ticks_only_when_asked)
{
	unsigned before;

	cr_assert_eq(pool_set_ua(&test_ua), 0);
	atomic_store(&ua_ticks, 0);
	atomic_store(&ua_period, 0);
	start("b2b:\n  workers: 1\n");
	ms_sleep(100); /* the start's one tick each */
	before = (unsigned)atomic_load(&ua_ticks);
	cr_assert_leq(before, 2);
	ms_sleep(300);
	cr_assert_eq((unsigned)atomic_load(&ua_ticks), before,
		     "an idle worker ticked (30 expected when periodic)");
	send_req("OPTIONS", NULL, 11);
	poolfix_recv(fd, WAIT_MS);
	for (int i = 0;
	     i < WAIT_MS && (unsigned)atomic_load(&ua_ticks) == before; i++)
		ms_sleep(1);
	cr_assert_eq((unsigned)atomic_load(&ua_ticks), before + 1,
		     "one tick follows a request");
	ms_sleep(200);
	cr_assert_eq((unsigned)atomic_load(&ua_ticks), before + 1,
		     "and then it sleeps again");
	pool_stop(pool);
	pool = NULL;
}
