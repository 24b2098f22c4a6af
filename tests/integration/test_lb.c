/* tests/integration/test_lb.c - three sipedge nodes behind the Linux
 * kernel's balancer (nftables DNAT, jhash) in network namespaces, with
 * Redis under Sentinel and a health checker (a node killed and restarted,
 * the Redis master killed under load): tests/integration/lb/lb.sh does
 * the work and says what it checks; this runs it with the binary under
 * test and fails with its output */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/common/proc.h"

static char dir[PROC_PATH_MAX / 2];

static void setup(void)
{
	cr_assert_eq(proc_tmpdir(dir, sizeof(dir)), 0);
}

static void teardown(void)
{
	proc_rmtree(dir);
}

TestSuite(lb, .init = setup, .fini = teardown, .timeout = 240);

Test(lb, three_nodes_behind_the_kernel_balancer_share_users_and_survive_a_kill)
{
	char *argv[] = { "tests/integration/lb/lb.sh", NULL };
	char *out = NULL, *err = NULL;
	int rc;

	/* lb.sh ends itself within 180 s (its watchdog cleans up). */
	rc = proc_capture(argv, dir, "lb", 200000, &out, &err);
	cr_assert_eq(rc, 0, "lb.sh: %d\n--- stdout\n%s\n--- stderr\n%s", rc,
		     out ? out : "", err ? err : "");
	cr_assert_not_null(strstr(out, "lb: PASS"), "%s", out);
	free(out);
	free(err);
}
