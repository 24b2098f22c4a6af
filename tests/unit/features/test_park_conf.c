/* tests/unit/features/test_park_conf.c - the park: section: defaults,
 * per-domain lots, checks with FILE:LINE */
#include <criterion/criterion.h>

#include <string.h>

#include "features/b2b/blf.h"
#include "features/park.h"
#include "features/park_conf.h"
#include "proxy/core/conf.h"
#include "tests/unit/conftest.h"

static struct conf *c;
static char err[512];

static void setup(void)
{
	conftest_init(&c, err, sizeof(err));
}

static void teardown(void)
{
	conftest_fini();
}

TestSuite(park_conf, .init = setup, .fini = teardown, .timeout = 30);

#define DOMAINS "domains: [a.example, b.example, c.example]\n"

Test(park_conf, every_served_domain_parks_by_default)
{
	const struct conf_park *l;

	cr_assert_eq(conftest_load(DOMAINS), 0, "%s", err);
	cr_assert_eq(park_conf(c)->nlots, 0);
	l = park_conf_lot(c, SLICE_LIT("A.example"));
	cr_assert_not_null(l);
	cr_assert_str_eq(l->code, "700");
	cr_assert_eq(l->slot_min, 701);
	cr_assert_eq(l->slot_max, 799);
	cr_assert_eq(l->timeout_s, 45);
	cr_assert_eq(l->comeback_ring_s, 30);
	cr_assert_null(l->fallback);
	cr_assert_null(park_conf_lot(c, SLICE_LIT("other.example")));
}

Test(park_conf, per_domain_entries)
{
	const struct conf_park *l;

	cr_assert_eq(conftest_load(DOMAINS "park:\n"
					   "  - domain: B.example\n"
					   "    code: \"800\"\n"
					   "    slots: 801-802\n"
					   "    timeout_s: 90\n"
					   "    comeback_ring_s: 12\n"
					   "    fallback: sip:op@b.example\n"
					   "    blf_parked_state: early\n"
					   "  - domain: c.example\n"
					   "    enabled: false\n"),
		     0, "%s", err);
	l = park_conf_lot(c, SLICE_LIT("b.example"));
	cr_assert_not_null(l);
	cr_assert_str_eq(l->domain, "b.example");
	cr_assert_str_eq(l->code, "800");
	cr_assert_eq(l->slot_min, 801);
	cr_assert_eq(l->slot_max, 802);
	cr_assert_eq(l->timeout_s, 90);
	cr_assert_eq(l->comeback_ring_s, 12);
	cr_assert_str_eq(l->fallback, "sip:op@b.example");
	cr_assert(l->blf_early);
	cr_assert_null(park_conf_lot(c, SLICE_LIT("a.example"))->fallback);
	cr_assert_not(park_conf_lot(c, SLICE_LIT("a.example"))->blf_early);
	cr_assert_null(park_conf_lot(c, SLICE_LIT("c.example")));
	cr_assert_str_eq(park_conf_lot(c, SLICE_LIT("a.example"))->code, "700");
}

Test(park_conf, bad_values_name_file_and_line)
{
	conftest_expect_error(DOMAINS "park:\n"
				      "  - domain: a.example\n"
				      "    blf_parked_state: ringing\n",
			      "t.yaml:4: ", "ringing");
	conftest_expect_error(DOMAINS "park:\n"
				      "  - domain: a.example\n"
				      "    code: \"7*0\"\n",
			      "t.yaml:4: ", "not a park code");
	conftest_expect_error(DOMAINS "park:\n"
				      "  - domain: a.example\n"
				      "    slots: 799-701\n",
			      "t.yaml:4: ", "not above the last");
	conftest_expect_error(DOMAINS "park:\n"
				      "  - domain: a.example\n"
				      "    slots: \"701\"\n",
			      "t.yaml:4: ", "not a slot range");
	conftest_expect_error(DOMAINS "park:\n"
				      "  - domain: a.example\n"
				      "    slots: 1-5000\n",
			      "t.yaml:4: ", "at most 1000 slots");
	conftest_expect_error(DOMAINS "park:\n"
				      "  - domain: a.example\n"
				      "    timeout_s: 0\n",
			      "t.yaml:4: ", "timeout_s");
	conftest_expect_error(DOMAINS "park:\n"
				      "  - domain: a.example\n"
				      "    comeback_ring_s: 0\n",
			      "t.yaml:4: ", "comeback_ring_s");
	conftest_expect_error(DOMAINS "park:\n"
				      "  - domain: a.example\n"
				      "    comeback_ring_s: 3601\n",
			      "t.yaml:4: ", "comeback_ring_s");
	conftest_expect_error(DOMAINS "park:\n"
				      "  - domain: a.example\n"
				      "    fallback: \"tel:+15550100\"\n",
			      "t.yaml:4: ", "not a SIP URI");
	conftest_expect_error(DOMAINS "park:\n"
				      "  - domain: a.example\n"
				      "    fallback: \"operator\"\n",
			      "t.yaml:4: ", "not a SIP URI");
	/* A lot's own sounds are loaded to be checked. */
	conftest_expect_error(DOMAINS "park:\n"
				      "  - domain: a.example\n"
				      "    music: /nonexistent/tune.wav\n",
			      "t.yaml:4: ", "/nonexistent/tune.wav");
	conftest_expect_error(DOMAINS "park:\n"
				      "  - domain: a.example\n"
				      "    announce: /etc/hostname\n",
			      "t.yaml:4: ", "/etc/hostname");
}

Test(park_conf, relations_are_checked)
{
	conftest_expect_error(DOMAINS "park:\n"
				      "  - domain: a.example\n"
				      "    code: \"750\"\n",
			      "t.yaml: ", "code is one of its own slots");
	conftest_expect_error(DOMAINS "park:\n"
				      "  - domain: x.example\n",
			      "t.yaml: ", "not one of the served domains");
	conftest_expect_error(DOMAINS "park:\n"
				      "  - domain: a.example\n"
				      "  - domain: A.EXAMPLE\n",
			      "t.yaml: ", "given twice");
}

/* BLF asks park which URIs are slots and lots: each domain's own lot,
 * the defaults for the others, nothing for a lot turned off. */
Test(park_conf, blf_resolves_each_domains_own_lot)
{
	cr_assert_eq(conftest_load(DOMAINS "park:\n"
					   "  - domain: b.example\n"
					   "    code: \"800\"\n"
					   "    slots: 801-802\n"
					   "  - domain: c.example\n"
					   "    enabled: false\n"),
		     0, "%s", err);
	cr_assert_eq(park_feature_start(c), 0);
	cr_assert_eq(blf_resolve(SLICE_LIT("a.example"), SLICE_LIT("700")),
		     BLF_LOT);
	cr_assert_eq(blf_resolve(SLICE_LIT("a.example"), SLICE_LIT("799")),
		     BLF_SLOT);
	cr_assert_eq(blf_resolve(SLICE_LIT("B.EXAMPLE"), SLICE_LIT("800")),
		     BLF_LOT);
	cr_assert_eq(blf_resolve(SLICE_LIT("b.example"), SLICE_LIT("802")),
		     BLF_SLOT);
	cr_assert_eq(blf_resolve(SLICE_LIT("b.example"), SLICE_LIT("803")),
		     BLF_NONE);
	cr_assert_eq(blf_resolve(SLICE_LIT("b.example"), SLICE_LIT("701")),
		     BLF_NONE);
	cr_assert_eq(blf_resolve(SLICE_LIT("c.example"), SLICE_LIT("701")),
		     BLF_NONE);
	park_feature_stop();
	/* Stopped: BLF's built-in defaults again. */
	cr_assert_eq(blf_resolve(SLICE_LIT("b.example"), SLICE_LIT("701")),
		     BLF_SLOT);
}
