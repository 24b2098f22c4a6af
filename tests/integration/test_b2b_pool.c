/* tests/integration/test_b2b_pool.c - the B2B worker pool in the real
 * binary: started by default, reported by core.workers, answering on its
 * loopback port directly and through the proxy; b2b.workers 0; bad b2b:
 * values */
#include <criterion/criterion.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proxy/sip/hdr.h"
#include "proxy/sip/msg.h"
#include "tests/common/mgmtcli.h"
#include "tests/common/proc.h"
#include "tests/common/sipcli.h"

#define WAIT_MS 5000
#define EXIT_MS 20000

static struct proc_sipedge sp;
static struct sipcli cli;  /* to the proxy */
static struct sipcli pcli; /* straight to the pool */
static struct sipcli_msg *rsp;
static char req[8192];
static char *err_text;

static void setup(void)
{
	memset(&sp, 0, sizeof(sp));
	cli.fd = -1;
	pcli.fd = -1;
	err_text = NULL;
	rsp = malloc(sizeof(*rsp));
	cr_assert_not_null(rsp);
}

static void teardown(void)
{
	sipcli_close(&cli);
	sipcli_close(&pcli);
	free(rsp);
	free(err_text);
	proc_sipedge_cleanup(&sp);
}

TestSuite(b2b_pool, .init = setup, .fini = teardown, .timeout = 90);

static void up(unsigned workers, const char *extra_yaml)
{
	int err = proc_sipedge_start(&sp, "127.0.0.1", workers, extra_yaml);

	cr_assert_eq(err, 0, "sipedge did not start: %s", sp.why);
	cr_assert_eq(sipcli_open_udp(&cli, sp.host, sp.port), 0);
}

/* SIGTERM: exits 0 in time, and under SAN=1 its log has no report. */
static void down(void)
{
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* core.workers' "b2b" object: its workers, and its port from the
 * address ("127.0.0.1:PORT"; 0 when there is none). */
static unsigned b2b_workers(uint16_t *portp)
{
	char why[256];
	json_t *res = NULL, *b2b, *addr;
	unsigned n;

	cr_assert_eq(mgmtcli_rpc(sp.mgmt_port, NULL, "core.workers", NULL, &res,
				 why, sizeof(why)),
		     0, "%s", why);
	b2b = json_object_get(res, "b2b");
	cr_assert(json_is_object(b2b), "no b2b object");
	n = (unsigned)json_integer_value(json_object_get(b2b, "workers"));
	addr = json_object_get(b2b, "address");
	*portp = 0;
	if (json_is_string(addr)) {
		const char *s = json_string_value(addr);

		cr_assert(strncmp(s, "127.0.0.1:", 10) == 0, "address %s", s);
		*portp = (uint16_t)atoi(s + 10);
	} else {
		cr_assert(json_is_null(addr), "address neither text nor null");
	}
	json_decref(res);
	return n;
}

/* Send req on @p c; the final status of its transaction. */
static int ask(struct sipcli *c)
{
	int st = sipcli_transact(c, req, strlen(req), WAIT_MS, rsp);

	cr_assert_geq(st, 200, "no final response (%d) to:\n%s", st, req);
	return st;
}

static const char *allow(void)
{
	static char buf[512];

	return sipcli_hdr_str(rsp, HDR_ALLOW, buf, sizeof(buf));
}

/* The pool's own Allow (features/b2b/pool.c, no UA core yet): the
 * proxy's lists REGISTER, the pool's does not. */
static void assert_from_pool(void)
{
	const char *a = allow();

	cr_assert_str_eq(a, "OPTIONS, ACK, BYE, CANCEL",
			 "not the pool's answer: Allow: %s", a);
	cr_assert_not_null(sipmsg_hdr(&rsp->m, HDR_ACCEPT), "no Accept");
}

Test(b2b_pool, default_pool_runs_and_core_workers_shows_its_port)
{
	char line[64];
	uint16_t port;

	up(2, NULL);
	cr_assert_eq(b2b_workers(&port), 2);
	cr_assert_gt(port, 0);
	cr_assert_neq(port, sp.port);
	snprintf(line, sizeof(line), "b2b=2@127.0.0.1:%u", port);
	cr_assert_eq(proc_sipedge_wait_log(&sp, line, 1, WAIT_MS), 0, "%s",
		     sp.why);
	down();
}

Test(b2b_pool, options_straight_to_the_pool_gets_its_200)
{
	char ruri[128];
	uint16_t port;
	int n;

	up(2, NULL);
	cr_assert_eq(b2b_workers(&port), 2);
	cr_assert_eq(sipcli_open_udp(&pcli, "127.0.0.1", port), 0);
	snprintf(ruri, sizeof(ruri), "sip:b2b@127.0.0.1:%u", port);
	n = sipcli_format(&pcli, req, sizeof(req), "OPTIONS", ruri, NULL, true,
			  NULL, NULL);
	cr_assert_gt(n, 0);
	cr_assert_eq(ask(&pcli), 200, "got %s", sipcli_first_line(rsp));
	assert_from_pool();
	cr_assert(!slice_is_empty(rsp->m.to_tag), "200 without To tag");
	/* Out of dialog, not implemented yet: 501; in a dialog: 481. */
	n = sipcli_format(&pcli, req, sizeof(req), "INFO", ruri, NULL, true,
			  NULL, NULL);
	cr_assert_gt(n, 0);
	cr_assert_eq(ask(&pcli), 501, "got %s", sipcli_first_line(rsp));
	n = sipcli_format(&pcli, req, sizeof(req), "BYE", ruri, NULL, true,
			  NULL, NULL);
	cr_assert_gt(n, 0);
	cr_assert_geq(sipcli_edit(req, sizeof(req), ">\r\nCall-ID",
				  ">;tag=nodialog\r\nCall-ID"),
		      0, "%s", req);
	cr_assert_eq(ask(&pcli), 481, "got %s", sipcli_first_line(rsp));
	down();
}

Test(b2b_pool, options_routed_through_the_proxy_reaches_the_pool)
{
	char yaml[512];
	uint16_t port, got;
	int n;

	/* A fixed pool port, so that a location can point at it. */
	cr_assert_eq(proc_free_port("127.0.0.1", &port), 0);
	snprintf(yaml, sizeof(yaml),
		 "b2b:\n"
		 "  listen: \"127.0.0.1:%u\"\n"
		 "locations:\n"
		 "  - aor: pool@localhost\n"
		 "    contacts: [\"sip:pool@127.0.0.1:%u\"]\n",
		 port, port);
	up(2, yaml);
	cr_assert_eq(b2b_workers(&got), 2);
	cr_assert_eq(got, port);
	n = sipcli_format(&cli, req, sizeof(req), "OPTIONS",
			  "sip:pool@localhost", NULL, true, NULL, NULL);
	cr_assert_gt(n, 0);
	cr_assert_eq(ask(&cli), 200, "got %s", sipcli_first_line(rsp));
	assert_from_pool();
	/* An INVITE the relay (features/b2b/relay.h) would bridge to the
	 * pool itself (the location's contact is the pool): 482 Loop
	 * Detected through the proxy (which ACKs it hop by hop). */
	n = sipcli_format(&cli, req, sizeof(req), "INVITE",
			  "sip:pool@localhost", NULL, true, NULL, NULL);
	cr_assert_gt(n, 0);
	cr_assert_eq(ask(&cli), 482, "got %s", sipcli_first_line(rsp));
	down();
}

Test(b2b_pool, route_header_to_the_free_port_reaches_the_pool)
{
	char route[128], ruri[128];
	uint16_t port;
	int n;

	up(2, NULL);
	cr_assert_eq(b2b_workers(&port), 2);
	/* RFC 3261 §16.4: the top Route is not the proxy: loose routing
	 * sends the request on to it. */
	snprintf(route, sizeof(route), "Route: <sip:127.0.0.1:%u;lr>\r\n",
		 port);
	snprintf(ruri, sizeof(ruri), "sip:b2b@127.0.0.1:%u", port);
	n = sipcli_format(&cli, req, sizeof(req), "OPTIONS", ruri, NULL, true,
			  route, NULL);
	cr_assert_gt(n, 0);
	cr_assert_eq(ask(&cli), 200, "got %s", sipcli_first_line(rsp));
	assert_from_pool();
	down();
}

Test(b2b_pool, workers_zero_starts_no_pool)
{
	uint16_t port = 1;

	up(2, "b2b:\n  workers: 0\n");
	cr_assert_eq(b2b_workers(&port), 0);
	cr_assert_eq(port, 0);
	cr_assert_eq(proc_sipedge_wait_log(&sp, "workers=2\n", 1, WAIT_MS), 0,
		     "%s", sp.why);
	down();
}

/* sipedge --check FILE and -c FILE with @p text: exit 1 and
 * "FILE:@p line:" with @p needle on stderr. */
static void bad(const char *text, unsigned line, const char *needle)
{
	char path[PROC_PATH_MAX], want[PROC_PATH_MAX + 16];
	char *check[] = { "--check", path, NULL };
	char *run[] = { "-c", path, NULL };
	char *const *args[] = { check, run };
	int status;

	memset(&sp, 0, sizeof(sp));
	cr_assert_eq(proc_tmpdir(sp.dir, sizeof(sp.dir)), 0);
	cr_assert_eq(
	    proc_write_file(sp.dir, "b2b.yaml", text, path, sizeof(path)), 0);
	snprintf(want, sizeof(want), "%s:%u: ", path, line);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(proc_sipedge_spawn(&sp, args[i]), 0, "%s", sp.why);
		cr_assert_eq(proc_sipedge_wait(&sp, EXIT_MS, &status), 0, "%s",
			     sp.why);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1,
			  "%s exit status %d", args[i][0], status);
		free(err_text);
		err_text = NULL;
		cr_assert_eq(proc_read_file(sp.log, &err_text), 0);
		cr_assert(strstr(err_text, want) && strstr(err_text, needle),
			  "no '%s...%s' in: %s", want, needle, err_text);
		unlink(sp.log);
		unlink(sp.out);
	}
	proc_sipedge_cleanup(&sp);
}

Test(b2b_pool, bad_b2b_values_fail_with_file_and_line)
{
	bad("domains: [localhost]\nb2b:\n  workers: 99\n", 3, "out of range");
	bad("b2b:\n  listen: \"192.0.2.1:5090\"\n", 2, "not a loopback");
	bad("b2b:\n  100rel: always\n", 2, "not one of");
	bad("b2b:\n\n  answer_guard_s: 0\n", 3, "out of range");
	bad("b2b:\n  listen: \"127.0.0.1:99999\"\n", 2, "not HOST:PORT");
}
