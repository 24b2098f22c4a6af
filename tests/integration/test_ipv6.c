/* tests/integration/test_ipv6.c - sipedge listening on [::1] over UDP and TCP
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/sip/hdr.h"
#include "proxy/sip/msg.h"
#include "tests/common/proc.h"
#include "tests/common/sipcli.h"

#define WAIT_MS 5000

static struct proc_sipedge sp;
static struct sipcli cli;
static struct sipcli_msg *rsp;

static void setup(void)
{
	memset(&sp, 0, sizeof(sp));
	cli.fd = -1;
	rsp = malloc(sizeof(*rsp));
	cr_assert_not_null(rsp);
}

static void teardown(void)
{
	sipcli_close(&cli);
	free(rsp);
	proc_sipedge_cleanup(&sp);
}

TestSuite(ipv6, .init = setup, .fini = teardown, .timeout = 60);

static void check_200(void)
{
	char via[512];

	cr_assert_eq(rsp->parse_err, 0);
	cr_assert_not_null(sipmsg_hdr(&rsp->m, HDR_ALLOW), "no Allow");
	sipcli_hdr_str(rsp, HDR_VIA, via, sizeof(via));
	cr_assert(strstr(via, "[::1]"), "Via lost its IPv6 sent-by: %s", via);
}

Test(ipv6, options_over_udp_on_loopback6)
{
	int err;
	int st;

	err = proc_sipedge_start(&sp, "::1", 1, NULL);
	cr_assert_eq(err, 0, "sipedge did not start on [::1]: %s", sp.why);
	cr_assert_eq(sipcli_open_udp(&cli, "::1", sp.port), 0);
	st = sipcli_options(&cli, WAIT_MS, rsp);
	cr_assert_eq(st, 200, "OPTIONS sip:[::1]:%u over UDP got %d", sp.port,
		     st);
	check_200();
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

Test(ipv6, options_over_tcp_on_loopback6)
{
	int err;
	int st;

	err = proc_sipedge_start(&sp, "::1", 2, NULL);
	cr_assert_eq(err, 0, "sipedge did not start on [::1]: %s", sp.why);
	err = sipcli_open_tcp(&cli, "::1", sp.port);
	cr_assert_eq(err, 0, "connect [::1]:%u: %s", sp.port, strerror(-err));
	st = sipcli_options(&cli, WAIT_MS, rsp);
	cr_assert_eq(st, 200, "OPTIONS sip:[::1]:%u over TCP got %d", sp.port,
		     st);
	check_200();
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}
