/* tests/unit/store/test_park_redis.c - park records as Redis holds them:
 * print and parse, escapes, damaged values; the memory backend stamps
 * the holding node */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store/park.h"
#include "store/park_priv.h"
#include "store/rcu.h"

static void setup(void)
{
	urcu_memb_register_thread();
	cr_assert_eq(park_init(), 0);
}

static void teardown(void)
{
	park_set_self(NULL);
	park_fini();
	urcu_memb_unregister_thread();
}

TestSuite(park_redis, .init = setup, .fini = teardown, .timeout = 30);

static struct park_rec full(void)
{
	struct park_rec r;

	memset(&r, 0, sizeof(r));
	snprintf(r.domain, sizeof(r.domain), "a.example");
	r.slot = 705;
	snprintf(r.parked, sizeof(r.parked),
		 "\"Al%%ice\\n\" <sip:alice@a.example>;tag=1\r\nX");
	snprintf(r.parker, sizeof(r.parker), "sip:bob@a.example");
	r.since_s = 1796000000;
	r.holder = 0xfedcba9876543211ULL;
	r.worker = 1;
	snprintf(r.call_id, sizeof(r.call_id), "c1@host");
	snprintf(r.local_tag, sizeof(r.local_tag), "lt");
	snprintf(r.remote_tag, sizeof(r.remote_tag), "rt");
	snprintf(r.remote_target, sizeof(r.remote_target),
		 "sip:alice@127.0.0.2:5060");
	snprintf(r.route, sizeof(r.route),
		 "<sip:127.0.0.1:5060;lr>,<sip:10.0.0.1;lr>");
	r.local_cseq = 4294967295u;
	snprintf(r.node, sizeof(r.node), "00112233aabbccdd");
	snprintf(r.pool, sizeof(r.pool), "sip:127.0.0.1:40000");
	snprintf(r.local_uri, sizeof(r.local_uri), "sip:700@a.example");
	snprintf(r.remote_uri, sizeof(r.remote_uri), "sip:alice@a.example");
	snprintf(r.sdp_o, sizeof(r.sdp_o), "- 42 7 IN IP4 127.0.0.1");
	snprintf(r.proxy, sizeof(r.proxy), "127.0.0.1:5060 lb.example:5060");
	return r;
}

Test(park_redis, a_record_survives_print_and_parse_with_its_escapes)
{
	struct park_rec r = full(), back;
	char buf[4096];
	int n = park__rec_print(&r, buf, sizeof(buf));

	cr_assert_gt(n, 0);
	cr_assert_eq(strlen(buf), (size_t)n);
	/* One line per field: the LF inside parked is escaped. */
	cr_assert_not_null(strstr(buf, "%0A"));
	cr_assert_not_null(strstr(buf, "%25"));
	memset(&back, 0, sizeof(back));
	snprintf(back.domain, sizeof(back.domain), "a.example");
	back.slot = 705;
	cr_assert_eq(park__rec_parse(buf, (size_t)n, &back), 0);
	cr_assert_eq(memcmp(&back, &r, sizeof(r)), 0);
}

Test(park_redis, a_buffer_too_small_is_enospc)
{
	struct park_rec r = full();
	char buf[64];

	cr_assert_eq(park__rec_print(&r, buf, sizeof(buf)), -ENOSPC);
}

Test(park_redis, damaged_values_are_refused_and_leave_the_record)
{
	struct park_rec r = full(), t = full();
	char buf[4096];
	int n = park__rec_print(&r, buf, sizeof(buf));
	static const char *const bad[] = {
		"",
		"x y z w\n",
		"1 2 3 4\nnode\npool\n",
		"1 2 3 4\nn\np\n%G0\na\nb\nc\nd\ne\nf\n",
		"1 2 3 4\nn\np\n%0\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(park__rec_parse(bad[i], strlen(bad[i]), &t),
			     -EBADMSG, "%zu", i);
	/* Cut anywhere but where an older node's record ends (after the
	 * route, tests below): refused. */
	for (int cut = 0; cut < n; cut++)
		if (cut !=
		    n - (int)(strlen(r.local_uri) + strlen(r.remote_uri) +
			      strlen(r.sdp_o) + strlen(r.proxy) + 4))
			cr_assert_eq(park__rec_parse(buf, (size_t)cut, &t),
				     -EBADMSG, "cut at %d", cut);
	cr_assert_eq(memcmp(&t, &r, sizeof(r)), 0);
}

Test(park_redis, a_claim_carries_this_node_and_its_pool)
{
	struct park_rec r = full(), got;

	park_set_self("sip:127.0.0.1:41000");
	cr_assert_eq(park_claim(&r, 701, 799, 0), 0);
	cr_assert_str_eq(r.node, park_node_id());
	cr_assert_eq(strlen(park_node_id()), 16);
	cr_assert_str_eq(r.pool, "sip:127.0.0.1:41000");
	cr_assert(park_is_local(&r));
	cr_assert_eq(park_get(slice_cstr("A.EXAMPLE"), r.slot, &got), 0);
	cr_assert_str_eq(got.pool, "sip:127.0.0.1:41000");
	/* The memory backend routes nothing elsewhere. */
	cr_assert_eq(park_route_of(slice_cstr("a.example"), r.slot, got.pool,
				   sizeof(got.pool)),
		     -ENOENT);
	cr_assert_eq(park_release(slice_cstr("a.example"), r.slot, r.holder),
		     0);
}

Test(park_redis, a_record_of_percent_signs_only_still_fits)
{
	struct park_rec r = full(), back;
	static char buf[12288];
	int n;

	memset(r.local_uri, '%', PARK_IDENTITY_MAX);
	memset(r.remote_uri, '%', PARK_IDENTITY_MAX);
	memset(r.sdp_o, '%', PARK_SDP_O_MAX);
	memset(r.proxy, '%', PARK_PROXY_MAX);
	memset(r.parked, '%', PARK_IDENTITY_MAX);
	memset(r.parker, '%', PARK_IDENTITY_MAX);
	memset(r.remote_target, '%', PARK_IDENTITY_MAX);
	memset(r.route, '%', PARK_ROUTE_MAX);
	memset(r.call_id, '%', PARK_CALL_ID_MAX);
	n = park__rec_print(&r, buf, sizeof(buf));
	cr_assert_gt(n, 0);
	back = r;
	cr_assert_eq(park__rec_parse(buf, (size_t)n, &back), 0);
	cr_assert_eq(memcmp(&back, &r, sizeof(r)), 0);
}

/* A record an older node wrote (no takeover fields: it ends after the
 * route) parses, with those fields empty: the survivor releases such a
 * slot instead of taking it over. */
Test(park_redis, an_older_nodes_record_parses_without_takeover_fields)
{
	struct park_rec r = full(), back;
	char buf[4096];
	int n = park__rec_print(&r, buf, sizeof(buf));
	size_t old = (size_t)n - (strlen(r.local_uri) + strlen(r.remote_uri) +
				  strlen(r.sdp_o) + strlen(r.proxy) + 4);

	cr_assert_gt(n, 0);
	memset(&back, 0, sizeof(back));
	cr_assert_eq(park__rec_parse(buf, old, &back), 0);
	cr_assert_str_eq(back.route, r.route);
	cr_assert_str_eq(back.call_id, r.call_id);
	cr_assert_eq(back.local_uri[0], 0);
	cr_assert_eq(back.remote_uri[0], 0);
	cr_assert_eq(back.sdp_o[0], 0);
	cr_assert_eq(back.proxy[0], 0);
	/* One, two or three of the four: damaged. */
	for (size_t cut = old + 1; cut < (size_t)n; cut++)
		cr_assert_eq(park__rec_parse(buf, cut, &back), -EBADMSG,
			     "cut at %zu", cut);
}

/* A claim stamps the node's proxy addresses (park_set_proxy()). */
Test(park_redis, a_claim_carries_the_proxy_addresses)
{
	struct park_rec r = full(), got;
	char mine[PARK_PROXY_MAX + 1];

	park_set_proxy("127.0.0.1:5060 [::1]:5060");
	park_self_proxy(mine, sizeof(mine));
	cr_assert_str_eq(mine, "127.0.0.1:5060 [::1]:5060");
	cr_assert_eq(park_claim(&r, 701, 799, 0), 0);
	cr_assert_str_eq(r.proxy, "127.0.0.1:5060 [::1]:5060");
	cr_assert_eq(park_get(slice_cstr("a.example"), r.slot, &got), 0);
	cr_assert_str_eq(got.proxy, "127.0.0.1:5060 [::1]:5060");
	cr_assert_str_eq(got.sdp_o, r.sdp_o);
	park_set_proxy(NULL);
	cr_assert_eq(park_release(slice_cstr("a.example"), r.slot, r.holder),
		     0);
}
