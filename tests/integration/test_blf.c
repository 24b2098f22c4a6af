/* tests/integration/test_blf.c - BLF for park slots in the real binary
 * with SIPp as the subscriber through the proxy: SUBSCRIBE to a slot
 * gets 200 and the full state (free) in a NOTIFY, Expires: 0 ends it
 * with a NOTIFY terminated; a call parked in the slot lights it and
 * its hang-up frees it; another domain's user gets 403, another event
 * package 489 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* True once file @p name of the test's directory holds @p what. */
static int file_has(const char *name, const char *what)
{
	char path[4096], buf[65536];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", sp.dir, name);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, what) != NULL;
}

/* A lamp on slot 701 (blf_watch.xml) sees the free slot, then a call
 * from "caller" parked there by dialling 700 (uac_park.xml, parked
 * 1 s) as confirmed with the caller's identity, then free again when
 * the caller hangs up: the NOTIFYs come from park's own changes. */
Test(blf, a_parked_call_lights_its_slot_and_its_hang_up_frees_it)
{
	struct sipp_cmd c, k;
	pid_t parker;
	int subscribed = 0;

	up();
	sipp_cmd_uac(&c, "blf_watch.xml", sp.port, 0, "u1");
	sipp_cmd_opt(&c, "-m", "1");
	sipp_cmd_args(&c, "-key", "slot", "701", "-key", "host", "localhost",
		      "-trace_msg", "-message_file", "lamp_msg.log", NULL);
	sipp_cmd_errors(&c, "lamp");
	pid = sipp_spawn(c.argv, sp.dir, "lamp");
	/* Park only once the lamp shows the free slot. Bounded: 100 polls
	 * of 50 ms. */
	for (unsigned i = 0; i < 100 && !subscribed; i++) {
		subscribed = file_has("lamp_msg.log", "version=\"0\"");
		if (!subscribed)
			usleep(50 * 1000);
	}
	cr_assert(subscribed, "the lamp got no first NOTIFY within 5 s");
	sipp_cmd_uac(&k, "uac_park.xml", sp.port, 0, "u1");
	sipp_cmd_args(&k, "-s", "700", "-key", "domain", "localhost", NULL);
	sipp_cmd_opt(&k, "-m", "1");
	sipp_cmd_opt(&k, "-d", "1000");
	sipp_cmd_errors(&k, "parker");
	parker = sipp_spawn(k.argv, sp.dir, "parker");
	sipp_ok(&parker, SIPP_MS, sp.dir, "parker", sp.log);
	sipp_ok(&pid, SIPP_MS, sp.dir, "lamp", sp.log);
	down();
}
