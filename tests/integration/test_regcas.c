/* tests/integration/test_regcas.c - two shards, REGISTER handled where it
 * arrives: no hand-off, and no binding lost when shards write one AOR at
 * once (store/loc.h loc_publish_cas()) */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tests/common/mgmtcli.h"
#include "tests/common/proc.h"
#include "tests/common/sipcli.h"
#include "tests/common/teardown.h"
#include "tests/common/ua.h"

#define NUSERS	  3000
#define USER_BASE 200000
#define NSOCK	  16 /* sources for one AOR: the kernel spreads them */
#define ROUNDS	  20 /* REGISTERs per source, each round all at once */

static struct proc_sipedge sp;
static char dir[PROC_PATH_MAX / 2];
static struct sipcli_msg *rx;
static struct ua u[NSOCK];

static void setup(void)
{
	memset(&sp, 0, sizeof(sp));
	memset(u, 0, sizeof(u));
	for (unsigned i = 0; i < NSOCK; i++)
		u[i].fd = -1;
	rx = calloc(1, sizeof(*rx));
	cr_assert_not_null(rx);
	cr_assert_eq(proc_tmpdir(dir, sizeof(dir)), 0);
}

static void teardown(void)
{
	for (unsigned i = 0; i < NSOCK; i++)
		ua_close(&u[i]);
	free(rx);
	teardown_sipedge(&sp);
	if (dir[0])
		proc_rmtree(dir);
}

TestSuite(regcas, .init = setup, .fini = teardown, .timeout = 120);

/* stats.get key @p name ("shard.handoff_out", "registrar.conflicts"). */
static long long stat_of(const char *name)
{
	return mgmtcli_stat(sp.mgmt_port, name);
}

Test(regcas, registers_from_one_socket_are_not_handed_off)
{
	const char *bin = getenv("SIPLOAD_BIN");
	char target[64], users[64], *out = NULL, *err = NULL;
	long long h0, rx0, rx1;
	json_t *j;
	int rc;

	cr_assert(bin && bin[0], "SIPLOAD_BIN is not set (run make test)");
	cr_assert_eq(proc_sipedge_start(&sp, "127.0.0.1", 2, NULL), 0, "%s",
		     sp.why);
	h0 = stat_of("shard.handoff_out");
	snprintf(target, sizeof(target), "127.0.0.1:%u", sp.port);
	snprintf(users, sizeof(users), "%u-%u", USER_BASE,
		 USER_BASE + NUSERS - 1);
	{
		/* One thread, one socket: one source, many AORs (half of
		 * them hashed to the other shard). */
		char *argv[] = { (char *)bin, "-s",	  "register",  "-t",
				 target,      "--domain", "localhost", "-u",
				 users,	      "-n",	  "3000",      "-r",
				 "1500",      "--json",	  NULL };

		rc = proc_capture(argv, dir, "sipload", 60000, &out, &err);
	}
	cr_assert_eq(rc, 0, "sipload: exit %d: %.300s", rc, err);
	j = json_loads(out, 0, NULL);
	cr_assert_not_null(j, "%.300s", out);
	cr_assert_eq(json_integer_value(json_object_get(j, "succeeded")),
		     NUSERS, "%.500s", out);
	json_decref(j);
	free(out);
	free(err);
	/* Every AOR bound, in the table both shards read. */
	cr_assert_eq(stat_of("location.aors"), NUSERS);
	cr_assert_eq(stat_of("location.contacts"), NUSERS);
	cr_assert_eq(stat_of("registrar.ok"), NUSERS);
	/* All of it on the shard that received it: nothing handed off. */
	rx0 = stat_of("shard[0].rx_msgs");
	rx1 = stat_of("shard[1].rx_msgs");
	cr_assert_eq(stat_of("shard.handoff_out"), h0,
		     "handed off %lld of %u REGISTERs (rx %lld + %lld)",
		     stat_of("shard.handoff_out") - h0, NUSERS, rx0, rx1);
	cr_assert_geq(rx0 + rx1, NUSERS);
	cr_assert_eq(stat_of("registrar.conflicts"), 0);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* REGISTER (refresh number @p k) of u[i]'s contact, not waiting. */
static void send_register(unsigned i, unsigned k)
{
	struct ua *x = &u[i];
	char req[2048], cid[64];
	int n;

	snprintf(cid, sizeof(cid), "reg-%s-%u", x->user, x->port);
	n = snprintf(req, sizeof(req),
		     "REGISTER sip:%s SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP %s:%u;rport;branch=z9hG4bKc%u\r\n"
		     "Max-Forwards: 70\r\n"
		     "From: <sip:%s@%s>;tag=c%u\r\n"
		     "To: <sip:%s@%s>\r\n"
		     "Call-ID: %s\r\nCSeq: %u REGISTER\r\n"
		     "Contact: <%s>;expires=600\r\n"
		     "Content-Length: 0\r\n\r\n",
		     x->domain, x->ip, x->port, k, x->user, x->domain, k,
		     x->user, x->domain, cid, k, x->contact);
	cr_assert(n > 0 && (size_t)n < sizeof(req));
	ua_send(x, req, (size_t)n);
}

/* carol's bindings: every source's contact, each with CSeq @p k (the
 * REGISTER of the last round), else the test fails. */
static void check_bindings(unsigned k)
{
	json_t *res = NULL, *contacts;
	char why[256];

	cr_assert_eq(mgmtcli_rpc(sp.mgmt_port, NULL, "location.lookup",
				 "[\"carol@localhost\"]", &res, why,
				 sizeof(why)),
		     0, "%s", why);
	contacts = json_object_get(res, "contacts");
	cr_assert_eq(json_array_size(contacts), NSOCK, "round %u: %s", k,
		     json_dumps(res, 0));
	for (unsigned i = 0; i < NSOCK; i++) {
		json_int_t cseq = -1;
		size_t x;
		json_t *c;

		json_array_foreach(contacts, x, c)
		{
			const char *s =
			    json_string_value(json_object_get(c, "contact"));

			if (s && !strcmp(s, u[i].contact))
				cseq = json_integer_value(
				    json_object_get(c, "cseq"));
		}
		cr_assert_eq(cseq, (json_int_t)k,
			     "round %u: %s has CSeq %lld (-1: lost)", k,
			     u[i].contact, (long long)cseq);
	}
	json_decref(res);
}

Test(regcas, one_aor_registered_from_many_sources_at_once_keeps_every_contact)
{
	char ip[16];
	long long rx0, rx1;

	cr_assert_eq(proc_sipedge_start(&sp, "127.0.0.1", 2, NULL), 0, "%s",
		     sp.why);
	for (unsigned i = 0; i < NSOCK; i++) {
		snprintf(ip, sizeof(ip), "127.0.0.%u", 2 + i);
		ua_open(&u[i], "carol", "localhost", ip, sp.port);
	}
	/* Each round: every source's REGISTER in one burst, so that both
	 * shards write carol's bindings at the same moment; then each
	 * answer, which must be 200; then every binding must show this
	 * round's CSeq: a change another shard's swap overwrote (a lost
	 * update) would leave the one before. */
	for (unsigned k = 1; k <= ROUNDS; k++) {
		for (unsigned i = 0; i < NSOCK; i++)
			send_register(i, k);
		for (unsigned i = 0; i < NSOCK; i++) {
			char cid[64];

			snprintf(cid, sizeof(cid), "reg-%s-%u", u[i].user,
				 u[i].port);
			cr_assert_eq(
			    ua_expect_final(&u[i], cid, "REGISTER", rx), 200,
			    "round %u source %u: %s", k, i, rx->buf);
		}
		check_bindings(k);
	}
	/* Both shards took part (the kernel's hash of 16 sources). */
	rx0 = stat_of("shard[0].rx_msgs");
	rx1 = stat_of("shard[1].rx_msgs");
	cr_assert(rx0 > 0 && rx1 > 0, "rx %lld + %lld", rx0, rx1);
	cr_assert_eq(stat_of("registrar.conflicts"), 0);
	cr_log_info("retried: %lld", stat_of("registrar.retried"));
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}
