/* tests/integration/test_blf.c - BLF for park slots in the real binary
 * with SIPp as the subscriber through the proxy: SUBSCRIBE to a slot
 * gets 200 and the full state (free) in a NOTIFY, Expires: 0 ends it
 * with a NOTIFY terminated; another domain's user gets 403, another
 * event package 489 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/common/proc.h"
#include "tests/common/sipp.h"

#define SIPP_MS 20000

static struct proc_sipedge sp;
static pid_t pid;

static void setup(void)
{
	memset(&sp, 0, sizeof(sp));
	pid = 0;
}

static void teardown(void)
{
	if (pid > 0)
		proc_kill(pid);
	proc_sipedge_cleanup(&sp);
}

TestSuite(blf, .init = setup, .fini = teardown, .timeout = 90);

/* sipedge with 2 shards and a pool of 2 workers (the default). */
static void up(void)
{
	cr_assert_eq(
	    proc_sipedge_start(&sp, "127.0.0.1", 2, "b2b:\n  workers: 2\n"), 0,
	    "sipedge did not start: %s", sp.why);
}

/* SIPp @p scenario as one subscriber (@p slot and @p host: the [slot]
 * and [host] keys) to the proxy; it must succeed. */
static void subscriber_at(const char *scenario, const char *slot,
			  const char *host, const char *who)
{
	struct sipp_cmd c;

	sipp_cmd_uac(&c, scenario, sp.port, 0, "u1");
	sipp_cmd_opt(&c, "-m", "1");
	if (slot)
		sipp_cmd_args(&c, "-key", "slot", slot, "-key", "host", host,
			      NULL);
	sipp_cmd_args(&c, "-trace_msg", "-message_file", "blf_msg.log", NULL);
	sipp_cmd_errors(&c, who);
	pid = sipp_spawn(c.argv, sp.dir, who);
	sipp_ok(&pid, SIPP_MS, sp.dir, who, sp.log);
}

static void subscriber(const char *scenario, const char *slot, const char *who)
{
	subscriber_at(scenario, slot, "localhost", who);
}

static void down(void)
{
	/* A clean stop: every subscription freed (sanitizers: SAN=1). */
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

Test(blf, subscribe_to_a_free_slot_gets_full_state_and_unsubscribe_ends_it)
{
	up();
	subscriber("blf_subscribe.xml", "701", "sub");
	down();
}

Test(blf, last_slot_of_the_range_in_upper_case_is_the_same_slot)
{
	up();
	/* sip:799@LOCALHOST: entity sip:799@localhost (the scenario). */
	subscriber_at("blf_subscribe.xml", "799", "LOCALHOST", "sub");
	down();
}

Test(blf, subscribe_from_another_domain_gets_403)
{
	up();
	subscriber("blf_403.xml", NULL, "eve");
	down();
}

Test(blf, subscribe_to_another_event_package_gets_489_with_allow_events)
{
	up();
	subscriber("blf_489.xml", NULL, "eve");
	down();
}
