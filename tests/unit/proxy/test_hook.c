/* tests/unit/proxy/test_hook.c - hook stages: lists run in priority order */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "proxy/base/slice.h"
#include "proxy/hook.h"

/* Which functions ran, in order: one letter each. */
static char trail[32];
static size_t ntrail;

static void mark(char c)
{
	if (ntrail + 1 < sizeof(trail))
		trail[ntrail++] = c;
	trail[ntrail] = '\0';
}

static void init(void)
{
	hook_clear();
	ntrail = 0;
	trail[0] = '\0';
}

static void fini(void)
{
	hook_clear();
}

TestSuite(hook, .init = init, .fini = fini, .timeout = 10);

static int next_a(struct hook_req *r)
{
	(void)r;
	mark('a');
	return HOOK_NEXT;
}

static int next_b(struct hook_req *r)
{
	(void)r;
	mark('b');
	return HOOK_NEXT;
}

static int done_c(struct hook_req *r)
{
	(void)r;
	mark('c');
	return HOOK_DONE;
}

static int fail_d(struct hook_req *r)
{
	(void)r;
	mark('d');
	return -ENOMEM;
}

Test(hook, two_features_on_one_stage_both_run_in_priority_order)
{
	struct hook_req r;

	memset(&r, 0, sizeof(r));
	cr_assert_eq(hook_add(HOOK_FEATURES, next_b, 200), 0);
	cr_assert_eq(hook_add(HOOK_FEATURES, next_a, 100), 0);
	cr_assert_eq(hook_run(HOOK_FEATURES, &r), HOOK_NEXT);
	cr_assert_str_eq(trail, "ab");
	/* Other stages are untouched. */
	cr_assert_eq(hook_run(HOOK_AUTH, &r), HOOK_NEXT);
	cr_assert_str_eq(trail, "ab");
}

Test(hook, equal_priorities_run_in_the_order_added)
{
	struct hook_req r;

	memset(&r, 0, sizeof(r));
	cr_assert_eq(hook_add(HOOK_AUTH, next_b, 5), 0);
	cr_assert_eq(hook_add(HOOK_AUTH, next_a, 5), 0);
	cr_assert_eq(hook_add(HOOK_AUTH, done_c, 1), 0);
	cr_assert_eq(hook_run(HOOK_AUTH, &r), HOOK_DONE);
	cr_assert_str_eq(trail, "c");
	hook_clear();
	cr_assert_eq(hook_add(HOOK_AUTH, next_b, 5), 0);
	cr_assert_eq(hook_add(HOOK_AUTH, next_a, 5), 0);
	cr_assert_eq(hook_run(HOOK_AUTH, &r), HOOK_NEXT);
	cr_assert_str_eq(trail, "cba");
}

Test(hook, the_first_done_stops_the_rest)
{
	struct hook_req r;

	memset(&r, 0, sizeof(r));
	cr_assert_eq(hook_add(HOOK_FEATURES, next_a, 1), 0);
	cr_assert_eq(hook_add(HOOK_FEATURES, done_c, 2), 0);
	cr_assert_eq(hook_add(HOOK_FEATURES, next_b, 3), 0);
	cr_assert_eq(hook_run(HOOK_FEATURES, &r), HOOK_DONE);
	cr_assert_str_eq(trail, "ac");
}

Test(hook, an_error_stops_the_rest_and_is_returned)
{
	struct hook_req r;

	memset(&r, 0, sizeof(r));
	cr_assert_eq(hook_add(HOOK_REGISTRAR, fail_d, 1), 0);
	cr_assert_eq(hook_add(HOOK_REGISTRAR, next_a, 2), 0);
	cr_assert_eq(hook_run(HOOK_REGISTRAR, &r), -ENOMEM);
	cr_assert_str_eq(trail, "d");
}

Test(hook, empty_stage_goes_on)
{
	struct hook_req r;

	memset(&r, 0, sizeof(r));
	for (int s = 0; s < HOOK__COUNT; s++)
		cr_assert_eq(hook_run((enum hook_stage)s, &r), HOOK_NEXT);
	cr_assert_eq(hook_run(HOOK__COUNT, &r), HOOK_NEXT);
}

/* Distinct functions (each marks its own letter), to fill a stage and
 * try one more. */
static int next_a_twin(struct hook_req *r)
{
	(void)r;
	mark('A');
	return HOOK_NEXT;
}

static int n0(struct hook_req *r)
{
	(void)r;
	mark('0');
	return HOOK_NEXT;
}

static int n1(struct hook_req *r)
{
	(void)r;
	mark('1');
	return HOOK_NEXT;
}

static int n2(struct hook_req *r)
{
	(void)r;
	mark('2');
	return HOOK_NEXT;
}

static int n3(struct hook_req *r)
{
	(void)r;
	mark('3');
	return HOOK_NEXT;
}

Test(hook, add_refuses_bad_stage_duplicates_and_overflow)
{
	static hook_fn *const fns[] = { next_a, next_b, done_c, fail_d,
					n0,	n1,	n2,	n3 };

	cr_assert_eq(sizeof(fns) / sizeof(fns[0]), HOOK_MAX);
	cr_assert_eq(hook_add(HOOK_LOOKUP, next_a, 0), -EINVAL);
	cr_assert_eq(hook_add(HOOK__COUNT, next_a, 0), -EINVAL);
	cr_assert_eq(hook_add(HOOK_AUTH, NULL, 0), -EINVAL);
	cr_assert_eq(hook_add(HOOK_AUTH, next_a, 0), 0);
	cr_assert_eq(hook_add(HOOK_AUTH, next_a, 9), -EEXIST);
	for (unsigned i = 0; i < HOOK_MAX; i++)
		cr_assert_eq(hook_add(HOOK_FEATURES, fns[i], (int)i), 0);
	cr_assert_eq(hook_add(HOOK_FEATURES, next_a_twin, 0), -ENOSPC);
	cr_assert_eq(hook_add_lookup(NULL, 0), -EINVAL);
	cr_assert_eq(hook_add_clean(NULL, 0), -EINVAL);
	cr_assert_eq(hook_add_user_check(NULL, 0), -EINVAL);
}

/* Lookup: the first that claims the URI wins. */
static int look_skip(const struct conf *c, struct slice ruri, int64_t now_s,
		     struct arena *a, struct hook_fwd *fwp, unsigned *statusp)
{
	(void)c;
	(void)ruri;
	(void)now_s;
	(void)a;
	(void)fwp;
	(void)statusp;
	mark('s');
	return 0;
}

/* A lookup that claims the URI: marks @p c, answers @p status. */
static int claim(unsigned *statusp, char c, unsigned status)
{
	mark(c);
	*statusp = status;
	return 1;
}

static int look_404(const struct conf *c, struct slice ruri, int64_t now_s,
		    struct arena *a, struct hook_fwd *fwp, unsigned *statusp)
{
	(void)c, (void)ruri, (void)now_s, (void)a, (void)fwp;
	return claim(statusp, '4', 404);
}

static int look_480(const struct conf *c, struct slice ruri, int64_t now_s,
		    struct arena *a, struct hook_fwd *fwp, unsigned *statusp)
{
	(void)c, (void)ruri, (void)now_s, (void)a, (void)fwp;
	return claim(statusp, '8', 480);
}

Test(hook, lookup_stops_at_the_first_that_claims)
{
	struct hook_fwd fw;
	unsigned st = 0;

	memset(&fw, 0, sizeof(fw));
	cr_assert_eq(hook_lookup(NULL, SLICE_LIT("sip:a@b"), 0, NULL, &fw, &st),
		     0);
	cr_assert_eq(hook_add_lookup(look_480, 20), 0);
	cr_assert_eq(hook_add_lookup(look_404, 10), 0);
	cr_assert_eq(hook_add_lookup(look_skip, 0), 0);
	cr_assert_eq(hook_lookup(NULL, SLICE_LIT("sip:a@b"), 0, NULL, &fw, &st),
		     1);
	cr_assert_eq(st, 404);
	cr_assert_str_eq(trail, "s4");
}

/* Clean: every function, each on the URI the one before left. */
static int clean_x(struct edit_list *el, const struct sipmsg *m,
		   struct arena *a, struct slice *rurip)
{
	(void)el;
	(void)m;
	(void)a;
	mark('x');
	cr_assert(slice_eq(*rurip, SLICE_LIT("sip:orig")));
	*rurip = SLICE_LIT("sip:x");
	return 0;
}

static int clean_y(struct edit_list *el, const struct sipmsg *m,
		   struct arena *a, struct slice *rurip)
{
	(void)el;
	(void)m;
	(void)a;
	mark('y');
	cr_assert(slice_eq(*rurip, SLICE_LIT("sip:x")));
	return rurip->len ? -ENOMEM : 0;
}

static int clean_z(struct edit_list *el, const struct sipmsg *m,
		   struct arena *a, struct slice *rurip)
{
	(void)el;
	(void)m;
	(void)a;
	(void)rurip;
	mark('z');
	return 0;
}

Test(hook, clean_runs_every_function_until_an_error)
{
	struct slice ruri = SLICE_LIT("sip:orig");

	cr_assert_eq(hook_clean(NULL, NULL, NULL, &ruri), 0);
	cr_assert_eq(hook_add_clean(clean_z, 3), 0);
	cr_assert_eq(hook_add_clean(clean_y, 2), 0);
	cr_assert_eq(hook_add_clean(clean_x, 1), 0);
	cr_assert_eq(hook_clean(NULL, NULL, NULL, &ruri), -ENOMEM);
	cr_assert_str_eq(trail, "xy");
	cr_assert(slice_eq(ruri, SLICE_LIT("sip:x")));
}

static bool knows_alice(struct slice user, struct slice domain)
{
	(void)domain;
	return slice_eq(user, SLICE_LIT("alice"));
}

static bool knows_bob(struct slice user, struct slice domain)
{
	(void)domain;
	return slice_eq(user, SLICE_LIT("bob"));
}

Test(hook, a_user_exists_without_checks_or_when_one_knows_it)
{
	struct slice d = SLICE_LIT("example.com");

	cr_assert(hook_user_exists(SLICE_LIT("carol"), d));
	cr_assert_eq(hook_add_user_check(knows_alice, 0), 0);
	cr_assert_eq(hook_add_user_check(knows_bob, 0), 0);
	cr_assert(hook_user_exists(SLICE_LIT("alice"), d));
	cr_assert(hook_user_exists(SLICE_LIT("bob"), d));
	cr_assert_not(hook_user_exists(SLICE_LIT("carol"), d));
}
