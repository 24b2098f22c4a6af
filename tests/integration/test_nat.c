/* tests/integration/test_nat.c - a UA behind a real NAT (a network
 * namespace with nftables masquerade): registers with its private
 * Contact, is called at its public address, gets keep-alives, and loses
 * its binding when its namespace goes. tests/integration/nat/nat.sh does
 * the work and says what it checks; this runs it with the binary under
 * test, fails with its output, and asserts each check passed */
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

TestSuite(nat, .init = setup, .fini = teardown, .timeout = 150);

Test(nat, ua_behind_masquerade_is_called_kept_alive_and_dropped_when_gone)
{
	char *argv[] = { "tests/integration/nat/nat.sh", NULL };
	static const char *const checks[] = {
		"1. PASS: bound to 192.168.77.1:5060, reached at 10.200.",
		"2. PASS: the call reached the UA at its public address",
		"3. PASS: ",
		"4. PASS: binding dropped ",
		"5. PASS: sipedge stopped cleanly",
		"nat: PASS",
	};
	char *out = NULL, *err = NULL;
	int rc;

	/* nat.sh ends itself within 90 s (its watchdog cleans up). */
	rc = proc_capture(argv, dir, "nat", 120000, &out, &err);
	cr_assert_eq(rc, 0, "nat.sh: %d\n--- stdout\n%s\n--- stderr\n%s", rc,
		     out ? out : "", err ? err : "");
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++)
		cr_assert_not_null(strstr(out, checks[i]), "no '%s' in:\n%s",
				   checks[i], out);
	free(out);
	free(err);
}
