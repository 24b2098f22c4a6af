/* tests/unit/store/test_park_grace.c - the claim script against a real
 * redis-server: a dead holder's slot (lease run out, record still
 * there) stays out of a new park's reach for PARK_TAKE_GRACE_MS, so
 * that a survivor's takeover is not overtaken (issue #13) */
#include <criterion/criterion.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "store/loc.h"
#include "store/park.h"
#include "store/park_priv.h"
#include "store/rcu.h"
#include "store/redis.h"
#include "tests/common/proc.h"
#include "tests/common/resp.h"

#define DOMAIN "grace.example"

static char dir[PROC_PATH_MAX];
static pid_t redis_pid;
static uint16_t redis_port;
static struct redis *rd;

static void setup(void)
{
	struct redis_opts o = { 0 };
	char addr[32];
	int err;

	urcu_memb_register_thread();
	cr_assert_eq(proc_tmpdir(dir, sizeof(dir)), 0);
	err = proc_redis_start(dir, &redis_port, &redis_pid);
	cr_assert_neq(err, -ENOENT, "redis-server is not installed");
	cr_assert_eq(err, 0, "redis-server: %s", strerror(-err));
	cr_assert_eq(loc_init(), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", redis_port);
	o.address = addr;
	o.connect_timeout_ms = 500;
	o.command_timeout_ms = 1000;
	o.queue_max = 16;
	o.ns = "g";
	cr_assert_eq(redis_start(&o, 1, &rd), 0);
	cr_assert_eq(park_init(), 0);
	/* No takeover callback is set: this node never takes a slot over,
	 * so nothing but the claims below touches the planted records. */
	cr_assert_eq(park_redis_start(rd), 0);
}

static void teardown(void)
{
	park_fini();
	redis_stop(rd);
	rd = NULL;
	loc_set_observer(NULL);
	loc_fini();
	urcu_memb_unregister_thread();
	if (redis_pid > 0)
		proc_kill(redis_pid);
	redis_pid = 0;
	if (!getenv("SIPEDGE_KEEP_TMP")) /* as tests/common/proc.c */
		proc_rmtree(dir);
}

TestSuite(park_grace, .init = setup, .fini = teardown, .timeout = 30);

/* Redis's clock in ms (the scripts compare leases with TIME). */
static int64_t redis_ms(void)
{
	char out[64];
	long long s, us;

	cr_assert_eq(
	    resp_cmd3(redis_port, out, sizeof(out), "TIME", NULL, NULL), 0);
	cr_assert_eq(sscanf(out, "%lld %lld", &s, &us), 2, "%s", out);
	return (int64_t)s * 1000 + us / 1000;
}

/* A record another node wrote for @p slot, with a takeover's fields. */
static struct park_rec dead_call(unsigned slot)
{
	struct park_rec r;

	memset(&r, 0, sizeof(r));
	snprintf(r.domain, sizeof(r.domain), DOMAIN);
	r.slot = slot;
	snprintf(r.parked, sizeof(r.parked), "<sip:alice@" DOMAIN ">");
	snprintf(r.parker, sizeof(r.parker), "sip:bob@" DOMAIN);
	r.since_s = 1796000000;
	r.holder = 4242;
	snprintf(r.call_id, sizeof(r.call_id), "dead-call@10.0.0.9");
	snprintf(r.local_tag, sizeof(r.local_tag), "lt");
	snprintf(r.remote_tag, sizeof(r.remote_tag), "rt");
	snprintf(r.remote_target, sizeof(r.remote_target),
		 "sip:alice@127.0.0.2:5062");
	r.local_cseq = 7;
	snprintf(r.local_uri, sizeof(r.local_uri), "sip:700@" DOMAIN);
	snprintf(r.remote_uri, sizeof(r.remote_uri), "sip:alice@" DOMAIN);
	snprintf(r.sdp_o, sizeof(r.sdp_o), "- 1 2 IN IP4 127.0.0.2");
	snprintf(r.node, sizeof(r.node), "deadbeefdeadbeef");
	snprintf(r.pool, sizeof(r.pool), "sip:127.0.0.9:40000");
	return r;
}

/* Plant slot @p slot as a dead node left it: a lease that ran out
 * @p ago_ms ago (negative: still running) and, when @p with_record,
 * its record. */
static void plant(unsigned slot, int64_t ago_ms, bool with_record)
{
	struct park_rec r = dead_call(slot);
	char f[16], lease[64], out[64];
	static char val[12288];
	const char *hset_lease[] = { "HSET", "g:parkl:{" DOMAIN "}", f, lease,
				     NULL };
	const char *hset_rec[] = { "HSET", "g:park:{" DOMAIN "}", f, val,
				   NULL };
	const char *hdel_rec[] = { "HDEL", "g:park:{" DOMAIN "}", f, NULL };

	snprintf(f, sizeof(f), "%u", slot);
	snprintf(lease, sizeof(lease), "%" PRId64 " 4242", redis_ms() - ago_ms);
	cr_assert_gt(park__rec_print(&r, val, sizeof(val)), 0);
	cr_assert_eq(resp_cmd(redis_port, out, sizeof(out), hset_lease), 0);
	cr_assert_eq(resp_cmd(redis_port, out, sizeof(out),
			      with_record ? hset_rec : hdel_rec),
		     0);
}

/* A new park's claim of the lot 701..702, released at once: 0 with
 * *slotp set, or the claim's error. */
static int try_claim(unsigned *slotp)
{
	struct park_rec r = dead_call(0);
	int err;

	r.holder = 0;
	err = park_claim(&r, 701, 702, 0);
	if (err)
		return err;
	cr_assert_eq(park_release(slice_cstr(DOMAIN), r.slot, r.holder), 0);
	*slotp = r.slot;
	return 0;
}

static unsigned claim(void)
{
	unsigned slot = 0;
	int err = try_claim(&slot);

	cr_assert_eq(err, 0, "claim: %s", strerror(-err));
	return slot;
}

Test(park_grace, a_dead_holders_call_is_not_overwritten_within_the_grace)
{
	struct park_rec got;

	/* Its lease ran out a second ago: what a survivor's takeover
	 * finds within PARK_REFRESH_MS. */
	plant(701, 1000, true);
	cr_assert_eq(claim(), 702, "the dead node's slot was claimed");
	/* The dead call's record is still there for the takeover. */
	{
		char out[128];
		const char *argv[] = { "HEXISTS", "g:park:{" DOMAIN "}", "701",
				       NULL };

		cr_assert_eq(resp_cmd(redis_port, out, sizeof(out), argv), 0);
		cr_assert_str_eq(out, "1");
	}
	/* Late in the grace, still out of reach. */
	plant(701, PARK_TAKE_GRACE_MS - 2000, true);
	cr_assert_eq(claim(), 702);
	/* Nobody took it over in the grace: the slot is free again. */
	plant(701, PARK_TAKE_GRACE_MS + 1000, true);
	cr_assert_eq(claim(), 701, "a slot past the grace stays taken");
	cr_assert_eq(park_get(slice_cstr(DOMAIN), 701, &got), -ENOENT);
}

Test(park_grace, a_lapsed_lease_without_a_record_is_free_at_once)
{
	plant(701, 1000, false);
	cr_assert_eq(claim(), 701);
}

Test(park_grace, a_running_lease_keeps_its_slot_busy)
{
	unsigned slot = 0;

	plant(701, -5000, true);
	plant(702, -5000, true);
	cr_assert_eq(try_claim(&slot), -EBUSY, "got %u", slot);
}
