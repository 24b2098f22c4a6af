/* tests/integration/test_trace.c - trace.start/stop over the management API:
 * whole SIP messages of one SIPp call to a file and to HEP v3, compared byte
 * for byte with what SIPp logged; a second concurrent call is not traced */
#include <criterion/criterion.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <jansson.h>

#include "tests/common/hepdec.h"
#include "tests/common/mgmtcli.h"
#include "tests/common/proc.h"
#include "tests/common/sipcli.h"
#include "tests/common/sipp.h"

/* Messages kept from one trace: a call is about a dozen. */
#define MAX_MSGS 64

struct block {
	bool sent;
	char *p; /* into the file text */
	size_t len;
};

static struct proc_sipedge sp;
static uint16_t uas_port, hep_port;
static pid_t uas_pid, uac_pid[2];
static int hep_fd = -1;
static json_t *res;
static char why[512];
static char *ftext, *uac_log, *uas_log;
static struct sipcli pcli;	 /* to the B2B pool, or the proxy */
static char tdir[PROC_PATH_MAX]; /* the test's own files, or "" */
static uint8_t *pkt[MAX_MSGS];
static size_t pkt_len[MAX_MSGS];
static unsigned npkt;

static void setup(void)
{
	struct sockaddr_in a;

	memset(&sp, 0, sizeof(sp));
	uas_pid = uac_pid[0] = uac_pid[1] = 0;
	res = NULL;
	ftext = uac_log = uas_log = NULL;
	npkt = 0;
	pcli.fd = -1;
	tdir[0] = '\0';
	cr_assert_eq(proc_free_port("127.0.0.1", &uas_port), 0);
	/* The HEP collector: a UDP socket of the test on loopback. */
	hep_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(hep_fd, 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(hep_fd, (struct sockaddr *)&a, sizeof(a)), 0);
	{
		socklen_t l = sizeof(a);

		cr_assert_eq(getsockname(hep_fd, (struct sockaddr *)&a, &l), 0);
	}
	hep_port = ntohs(a.sin_port);
}

static void teardown(void)
{
	if (uas_pid > 0)
		proc_kill(uas_pid);
	for (int i = 0; i < 2; i++)
		if (uac_pid[i] > 0)
			proc_kill(uac_pid[i]);
	if (hep_fd >= 0)
		close(hep_fd);
	sipcli_close(&pcli);
	if (tdir[0])
		proc_rmtree(tdir);
	for (unsigned i = 0; i < npkt; i++)
		free(pkt[i]);
	json_decref(res);
	free(ftext);
	free(uac_log);
	free(uas_log);
	proc_sipedge_cleanup(&sp);
}

TestSuite(trace, .init = setup, .fini = teardown, .timeout = 90);

/* sipedge with alice and bob at the callee's port, over @p tp ("u1",
 * "t1": the contacts say ;transport=tcp). */
static void up_tp(const char *tp)
{
	const char *param = tp[0] == 't' ? ";transport=tcp" : "";
	char yaml[512];

	snprintf(yaml, sizeof(yaml),
		 "locations:\n"
		 "  - aor: alice@localhost\n"
		 "    contacts: [\"sip:alice@127.0.0.1:%u%s\"]\n"
		 "  - aor: bob@localhost\n"
		 "    contacts: [\"sip:bob@127.0.0.1:%u%s\"]\n",
		 uas_port, param, uas_port, param);
	cr_assert_eq(proc_sipedge_start(&sp, "127.0.0.1", 2, yaml), 0,
		     "sipedge did not start: %s", sp.why);
}

static void up(void)
{
	up_tp("u1");
}

static int rpc(const char *method, const char *params)
{
	json_decref(res);
	res = NULL;
	return mgmtcli_rpc(sp.mgmt_port, NULL, method, params, &res, why,
			   sizeof(why));
}

/* The callee: @p calls calls of uas_call.xml over @p tp, its messages
 * logged. */
static void uas_start_tp(unsigned calls, const char *tp)
{
	struct sipp_cmd c;

	sipp_cmd_uas(&c, "uas_call.xml", uas_port, tp);
	sipp_cmd_opt(&c, "-m", "%u", calls);
	sipp_cmd_args(&c, "-trace_msg", "-message_file", "uas.msg", NULL);
	uas_pid = sipp_spawn(c.argv, sp.dir, "uas");
	sipp_bound(uas_port, tp);
}

static void uas_start(unsigned calls)
{
	uas_start_tp(calls, "u1");
}

/* Caller @p i: one call to @p user@localhost with Call-ID @p cid over
 * @p tp. */
static void uac_start_tp(int i, const char *user, const char *cid,
			 const char *tp)
{
	struct sipp_cmd c;
	char name[16];

	sipp_cmd_uac(&c, "uac_call.xml", sp.port, 0, tp);
	sipp_cmd_args(&c, "-s", user, "-key", "domain", "localhost", "-m", "1",
		      "-timeout", "30s", "-timeout_error", "-cid_str", cid,
		      "-trace_msg", NULL);
	sipp_cmd_opt(&c, "-message_file", "uac%d.msg", i);
	snprintf(name, sizeof(name), "uac%d", i);
	uac_pid[i] = sipp_spawn(c.argv, sp.dir, name);
}

static void uac_start(int i, const char *user, const char *cid)
{
	uac_start_tp(i, user, cid, "u1");
}

/* SIPp @p *pidp (@p name) must end, every call a success. */
static void done(pid_t *pidp, const char *name)
{
	sipp_ok(pidp, 40000, sp.dir, name, NULL);
}

static char *read_in_dir(const char *name)
{
	char path[PROC_PATH_MAX];
	char *t = NULL;

	snprintf(path, sizeof(path), "%s/%s", sp.dir, name);
	cr_assert_eq(proc_read_file(path, &t), 0, "no %s", path);
	return t;
}

/* Split the trace file into its blocks: "=== ... N bytes\n", N bytes,
 * "\n". Fails the test on anything else. */
static unsigned blocks(char *t, struct block *b, unsigned max)
{
	unsigned n = 0;
	char *p = t, *nl, *by;

	while (*p) {
		cr_assert_eq(strncmp(p, "=== ", 4), 0, "not a block: %.80s", p);
		nl = strchr(p, '\n');
		cr_assert_not_null(nl);
		*nl = '\0';
		by = strstr(p, " bytes");
		cr_assert_not_null(by, "%s", p);
		while (by > p && by[-1] != ' ')
			by--;
		cr_assert_lt(n, max);
		b[n].sent = strstr(p, " sent ") != NULL;
		cr_assert(b[n].sent || strstr(p, " received "), "%s", p);
		b[n].len = strtoul(by, NULL, 10);
		b[n].p = nl + 1;
		cr_assert_leq(b[n].len, strlen(nl + 1), "short block");
		cr_assert_eq(b[n].p[b[n].len], '\n', "block not ended");
		p = b[n].p + b[n].len + 1;
		n++;
	}
	return n;
}

/* Every HEP packet that came, until none for 500 ms (bounded). */
static void hep_drain(void)
{
	struct pollfd pf = { .fd = hep_fd, .events = POLLIN };
	uint8_t buf[70000];
	ssize_t n;

	while (npkt < MAX_MSGS && poll(&pf, 1, 500) == 1) {
		n = recv(hep_fd, buf, sizeof(buf), 0);
		cr_assert_gt(n, 0);
		pkt[npkt] = malloc((size_t)n);
		cr_assert_not_null(pkt[npkt]);
		memcpy(pkt[npkt], buf, (size_t)n);
		pkt_len[npkt++] = (size_t)n;
	}
}

static bool has_start(const struct block *b, unsigned n, const char *s)
{
	for (unsigned i = 0; i < n; i++)
		if (b[i].len > strlen(s) && !memcmp(b[i].p, s, strlen(s)))
			return true;
	return false;
}

Test(trace, one_call_by_aor_to_file_and_hep_byte_identical_to_sipp)
{
	struct block b[MAX_MSGS];
	char params[1024], path[PROC_PATH_MAX];
	unsigned n, messages;

	up();
	snprintf(path, sizeof(path), "%s/trace.txt", sp.dir);
	snprintf(params, sizeof(params),
		 "{\"aor\":\"alice@localhost\",\"file\":\"%s\","
		 "\"hep\":\"127.0.0.1:%u\",\"capture_id\":2026}",
		 path, hep_port);
	cr_assert_eq(rpc("trace.start", params), 0, "%s", why);
	cr_assert_str_eq(json_string_value(json_object_get(res, "filter")),
			 "aor");
	uas_start(2);
	/* Two calls at once: alice's is traced, bob's is not. */
	uac_start(0, "alice", "traced-%u-%p@a");
	uac_start(1, "bob", "other-%u-%p@b");
	done(&uac_pid[0], "uac0");
	done(&uac_pid[1], "uac1");
	done(&uas_pid, "uas");
	cr_assert_eq(rpc("trace.stop", NULL), 0, "%s", why);
	messages =
	    (unsigned)json_integer_value(json_object_get(res, "messages"));
	cr_assert_eq(json_integer_value(json_object_get(res, "dropped")), 0);

	ftext = read_in_dir("trace.txt");
	uac_log = read_in_dir("uac0.msg");
	uas_log = read_in_dir("uas.msg");
	n = blocks(ftext, b, MAX_MSGS);
	/* INVITE, 100, 180, 200, ACK, BYE, 200 on each leg (the 100s
	 * and 180 may be fewer), in and out. */
	cr_assert_geq(n, 10, "only %u messages traced", n);
	cr_assert_eq(n, messages);
	cr_assert(has_start(b, n, "INVITE sip:alice@localhost "));
	cr_assert(has_start(b, n, "INVITE sip:alice@127.0.0.1:"));
	cr_assert(has_start(b, n, "ACK "));
	cr_assert(has_start(b, n, "BYE "));
	cr_assert(has_start(b, n, "SIP/2.0 200 "));
	for (unsigned i = 0; i < n; i++) {
		/* The filter: alice's call only, nothing of bob's. */
		cr_assert(memmem(b[i].p, b[i].len, "traced-", 7),
			  "another call traced: %.*s", (int)b[i].len, b[i].p);
		cr_assert_null(memmem(b[i].p, b[i].len, "bob", 3));
		/* Whole messages, byte for byte as SIPp logged them
		 * (received by sipedge = sent by SIPp and conversely). */
		cr_assert(
		    memmem(uac_log, strlen(uac_log), b[i].p, b[i].len) ||
			memmem(uas_log, strlen(uas_log), b[i].p, b[i].len),
		    "not in SIPp's logs as is: %.*s", (int)b[i].len, b[i].p);
	}

	/* HEP: one packet per traced message, each payload one of the
	 * file's blocks, byte-identical. */
	hep_drain();
	cr_assert_eq(npkt, n, "%u HEP packets for %u messages", npkt, n);
	for (unsigned i = 0; i < npkt; i++) {
		struct hepdec h;
		bool found = false;

		cr_assert_eq(hepdec_parse(pkt[i], pkt_len[i], &h), 0,
			     "packet %u is not HEP v3", i);
		cr_assert_eq(h.family, 2);
		cr_assert_eq(h.ip_proto, 17);
		cr_assert_eq(h.proto_type, 1);
		cr_assert_eq(h.capture_id, 2026);
		cr_assert(h.sport == sp.port || h.dport == sp.port);
		cr_assert_neq(h.ts_s, 0);
		for (unsigned k = 0; k < n && !found; k++)
			found = b[k].len == h.payload_len &&
				!memcmp(b[k].p, h.payload, h.payload_len) &&
				b[k].sent == (h.sport == sp.port);
		cr_assert(found, "HEP payload %u is no traced message: %.*s", i,
			  (int)h.payload_len, (const char *)h.payload);
	}
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

Test(trace, call_id_filter_keeps_one_call)
{
	struct block b[MAX_MSGS];
	char params[1024], path[PROC_PATH_MAX];
	unsigned n;

	up();
	snprintf(path, sizeof(path), "%s/cid.txt", sp.dir);
	uas_start(2);
	/* SIPp's Call-ID for call 1 of format "keep-%u@x" is "keep-1@x". */
	snprintf(params, sizeof(params),
		 "{\"call_id\":\"keep-1@x\",\"file\":\"%s\"}", path);
	cr_assert_eq(rpc("trace.start", params), 0, "%s", why);
	uac_start(0, "alice", "keep-%u@x");
	uac_start(1, "alice", "drop-%u@x");
	done(&uac_pid[0], "uac0");
	done(&uac_pid[1], "uac1");
	done(&uas_pid, "uas");
	cr_assert_eq(rpc("trace.stop", NULL), 0, "%s", why);
	ftext = read_in_dir("cid.txt");
	n = blocks(ftext, b, MAX_MSGS);
	cr_assert_geq(n, 10, "only %u messages traced", n);
	for (unsigned i = 0; i < n; i++)
		cr_assert(memmem(b[i].p, b[i].len, "Call-ID: keep-1@x\r\n", 19),
			  "another call traced: %.*s", (int)b[i].len, b[i].p);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

Test(trace, bad_requests_get_json_rpc_errors)
{
	char params[1024];

	up();
	cr_assert_eq(rpc("trace.stop", NULL), -32002, "%s", why);
	cr_assert_eq(rpc("trace.start", "{\"file\":\"/tmp/x\"}"), -32602);
	cr_assert_eq(
	    rpc("trace.start",
		"{\"call_id\":\"a\",\"aor\":\"b\",\"file\":\"/tmp/x\"}"),
	    -32602);
	cr_assert_eq(rpc("trace.start", "{\"call_id\":\"a\"}"), -32602);
	cr_assert_eq(
	    rpc("trace.start", "{\"call_id\":\"a\",\"file\":\"relative.txt\"}"),
	    -32602);
	cr_assert_eq(
	    rpc("trace.start", "{\"call_id\":\"a b\",\"file\":\"/tmp/x\"}"),
	    -32602);
	cr_assert_eq(rpc("trace.start",
			 "{\"call_id\":\"a\",\"hep\":\"localhost:9060\"}"),
		     -32602);
	cr_assert_eq(rpc("trace.start",
			 "{\"call_id\":\"a\",\"file\":\"/nonexistent/dir/f\"}"),
		     -32003, "%s", why);
	cr_assert_not_null(strstr(why, "No such file"), "%s", why);
	snprintf(params, sizeof(params),
		 "{\"call_id\":\"a\",\"hep\":\"127.0.0.1:%u\"}", hep_port);
	cr_assert_eq(rpc("trace.start", params), 0, "%s", why);
	cr_assert_eq(rpc("trace.start", params), -32000, "%s", why);
	cr_assert_eq(rpc("trace.status", NULL), 0, "%s", why);
	cr_assert(json_is_true(json_object_get(res, "active")));
	cr_assert_str_eq(json_string_value(json_object_get(res, "value")), "a");
	/* Left running: stopping sipedge stops it, without a leak. */
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

Test(trace, tcp_call_to_file_and_hep_byte_identical_with_real_local_ports)
{
	struct block b[MAX_MSGS];
	char params[1024], path[PROC_PATH_MAX];
	unsigned n, messages, uac_leg = 0, uas_leg = 0;
	uint16_t out_port = 0;

	up_tp("t1");
	snprintf(path, sizeof(path), "%s/tcp.txt", sp.dir);
	snprintf(params, sizeof(params),
		 "{\"call_id\":\"tcp-1@t\",\"file\":\"%s\","
		 "\"hep\":\"127.0.0.1:%u\",\"capture_id\":6}",
		 path, hep_port);
	cr_assert_eq(rpc("trace.start", params), 0, "%s", why);
	uas_start_tp(1, "t1");
	uac_start_tp(0, "alice", "tcp-%u@t", "t1");
	done(&uac_pid[0], "uac0");
	done(&uas_pid, "uas");
	cr_assert_eq(rpc("trace.stop", NULL), 0, "%s", why);
	messages =
	    (unsigned)json_integer_value(json_object_get(res, "messages"));
	cr_assert_eq(json_integer_value(json_object_get(res, "dropped")), 0);

	ftext = read_in_dir("tcp.txt");
	uac_log = read_in_dir("uac0.msg");
	uas_log = read_in_dir("uas.msg");
	/* The header lines say TCP, never the zero address (checked
	 * before blocks() cuts them out). */
	cr_assert_null(strstr(ftext, " UDP 1"), "%s", ftext);
	cr_assert_null(strstr(ftext, "0.0.0.0:0"), "%s", ftext);
	n = blocks(ftext, b, MAX_MSGS);
	cr_assert_geq(n, 10, "only %u messages traced", n);
	cr_assert_eq(n, messages);
	cr_assert(has_start(b, n, "INVITE sip:alice@localhost "));
	cr_assert(has_start(b, n, "INVITE sip:alice@127.0.0.1:"));
	cr_assert(has_start(b, n, "ACK "));
	cr_assert(has_start(b, n, "BYE "));
	for (unsigned i = 0; i < n; i++) {
		cr_assert(memmem(b[i].p, b[i].len, "Call-ID: tcp-1@t\r\n", 18),
			  "another call traced: %.*s", (int)b[i].len, b[i].p);
		/* Framed out of the stream: whole messages, as SIPp
		 * logged them. */
		cr_assert(
		    memmem(uac_log, strlen(uac_log), b[i].p, b[i].len) ||
			memmem(uas_log, strlen(uas_log), b[i].p, b[i].len),
		    "not in SIPp's logs as is: %.*s", (int)b[i].len, b[i].p);
	}

	hep_drain();
	cr_assert_eq(npkt, n, "%u HEP packets for %u messages", npkt, n);
	for (unsigned i = 0; i < npkt; i++) {
		struct hepdec h;
		bool found = false, sent;
		uint16_t local, remote;

		cr_assert_eq(hepdec_parse(pkt[i], pkt_len[i], &h), 0,
			     "packet %u is not HEP v3", i);
		cr_assert_eq(h.family, 2);
		cr_assert_eq(h.ip_proto, 6, "not TCP: %u", h.ip_proto);
		cr_assert_eq(h.capture_id, 6);
		/* Which side is sipedge: the caller's leg reaches the
		 * listener; the callee's is a connection sipedge opened. */
		sent = h.dport == uas_port ||
		       (h.sport != uas_port && h.sport == sp.port);
		local = sent ? h.sport : h.dport;
		remote = sent ? h.dport : h.sport;
		if (remote == uas_port) {
			/* The connection's own port, not the listener's:
			 * one connection, so one port throughout. */
			cr_assert_neq(local, sp.port,
				      "callee leg shows the listen port");
			cr_assert_neq(local, 0);
			if (!out_port)
				out_port = local;
			cr_assert_eq(local, out_port, "two local ports");
			uas_leg++;
		} else {
			cr_assert_eq(local, sp.port, "caller leg: %u -> %u",
				     h.sport, h.dport);
			uac_leg++;
		}
		for (unsigned k = 0; k < n && !found; k++)
			found = b[k].len == h.payload_len &&
				!memcmp(b[k].p, h.payload, h.payload_len) &&
				b[k].sent == sent;
		cr_assert(found, "HEP payload %u is no traced message: %.*s", i,
			  (int)h.payload_len, (const char *)h.payload);
	}
	cr_assert_geq(uac_leg, 5);
	cr_assert_geq(uas_leg, 5);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

Test(trace, b2b_pool_messages_show_the_pool_address)
{
	struct block b[MAX_MSGS];
	char params[1024], path[PROC_PATH_MAX], req[1024], ruri[128];
	char in[128], out[128];
	struct sipcli_msg *r;
	json_t *addr;
	char pool[64];
	unsigned n;
	int len, st;

	up();
	cr_assert_eq(rpc("core.workers", NULL), 0, "%s", why);
	addr = json_object_get(json_object_get(res, "b2b"), "address");
	cr_assert(json_is_string(addr), "no B2B pool address");
	/* A copy: the next rpc() frees res. */
	snprintf(pool, sizeof(pool), "%s", json_string_value(addr));
	cr_assert(strncmp(pool, "127.0.0.1:", 10) == 0, "%s", pool);
	cr_assert_neq(atoi(pool + 10), sp.port);
	snprintf(ruri, sizeof(ruri), "sip:b2b@%s", pool);
	snprintf(in, sizeof(in), " -> %s ", pool);
	snprintf(out, sizeof(out), "sent UDP %s -> ", pool);

	snprintf(path, sizeof(path), "%s/pool.txt", sp.dir);
	snprintf(params, sizeof(params),
		 "{\"call_id\":\"pool-1@t\",\"file\":\"%s\"}", path);
	cr_assert_eq(rpc("trace.start", params), 0, "%s", why);
	cr_assert_eq(
	    sipcli_open_udp(&pcli, "127.0.0.1", (uint16_t)atoi(pool + 10)), 0);
	len = sipcli_format(&pcli, req, sizeof(req), "OPTIONS", ruri,
			    "pool-1@t", true, NULL, NULL);
	cr_assert_gt(len, 0);
	r = calloc(1, sizeof(*r));
	cr_assert_not_null(r);
	st = sipcli_transact(&pcli, req, (size_t)len, 5000, r);
	cr_assert_eq(st, 200, "OPTIONS to the pool: %d %s\n%s", st,
		     st > 0 ? sipcli_first_line(r) : "", req);
	free(r);
	cr_assert_eq(rpc("trace.stop", NULL), 0, "%s", why);

	ftext = read_in_dir("pool.txt");
	/* The pool's own socket on both, not the proxy's listener (before
	 * blocks(), which cuts the header lines out of the text). */
	cr_assert_not_null(strstr(ftext, in), "%s", ftext);
	cr_assert_not_null(strstr(ftext, out), "%s", ftext);
	n = blocks(ftext, b, MAX_MSGS);
	cr_assert_eq(n, 2, "%u messages traced", n);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

Test(trace, trace_section_traces_from_start_up)
{
	struct block b[MAX_MSGS];
	char yaml[1024], req[1024], path[PROC_PATH_MAX + 16];
	struct sipcli_msg *r;
	unsigned n;
	int len, st;

	/* sp.dir is made by proc_sipedge_start(), after the config is
	 * written: the file goes into a directory of the test's own. */
	cr_assert_eq(proc_tmpdir(tdir, sizeof(tdir)), 0);
	snprintf(path, sizeof(path), "%s/trace.txt", tdir);
	snprintf(yaml, sizeof(yaml),
		 "trace:\n"
		 "  call_id: conf-1@t\n"
		 "  file: %s\n"
		 "  hep: \"127.0.0.1:%u\"\n"
		 "  capture_id: 11\n",
		 path, hep_port);
	cr_assert_eq(proc_sipedge_start(&sp, "127.0.0.1", 2, yaml), 0,
		     "sipedge did not start: %s", sp.why);
	cr_assert_eq(proc_sipedge_wait_log(&sp,
					   "trace: started for Call-ID "
					   "conf-1@t, by the "
					   "configuration",
					   1, 5000),
		     0, "%s", sp.why);
	cr_assert_eq(rpc("trace.status", NULL), 0, "%s", why);
	cr_assert(json_is_true(json_object_get(res, "active")));
	cr_assert_eq(sipcli_open_udp(&pcli, "127.0.0.1", sp.port), 0);
	r = calloc(1, sizeof(*r));
	cr_assert_not_null(r);
	/* Another Call-ID first: not traced. */
	len = sipcli_format(&pcli, req, sizeof(req), "OPTIONS", "sip:127.0.0.1",
			    "conf-2@t", true, NULL, NULL);
	cr_assert_gt(len, 0);
	st = sipcli_transact(&pcli, req, (size_t)len, 5000, r);
	cr_assert_eq(st, 200, "OPTIONS: %d", st);
	len = sipcli_format(&pcli, req, sizeof(req), "OPTIONS", "sip:127.0.0.1",
			    "conf-1@t", true, NULL, NULL);
	cr_assert_gt(len, 0);
	st = sipcli_transact(&pcli, req, (size_t)len, 5000, r);
	free(r);
	cr_assert_eq(st, 200, "OPTIONS: %d", st);
	/* Stopping sipedge stops the trace: the file is complete. */
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
	cr_assert_eq(proc_read_file(path, &ftext), 0, "no %s", path);
	n = blocks(ftext, b, MAX_MSGS);
	cr_assert_eq(n, 2, "%u messages traced", n);
	cr_assert(!b[0].sent && b[1].sent);
	for (unsigned i = 0; i < n; i++)
		cr_assert(memmem(b[i].p, b[i].len, "Call-ID: conf-1@t\r\n", 19),
			  "another call traced: %.*s", (int)b[i].len, b[i].p);
	hep_drain();
	cr_assert_eq(npkt, 2, "%u HEP packets", npkt);
	for (unsigned i = 0; i < npkt; i++) {
		struct hepdec h;

		cr_assert_eq(hepdec_parse(pkt[i], pkt_len[i], &h), 0);
		cr_assert_eq(h.capture_id, 11);
	}
}
