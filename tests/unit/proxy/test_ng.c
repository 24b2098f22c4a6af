/* tests/unit/proxy/test_ng.c - the ng client against a real rtpengine
 * (ping, offer/answer/delete, query), a port nobody answers (timeouts,
 * fail-over, instances marked down) and a fake instance that answers
 * garbage */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <uv.h>

#include "proxy/base/bencode.h"
#include "proxy/ng.h"
#include "tests/common/proc.h"
#include "tests/common/rtpe.h"
#include "tests/common/teardown.h"

static struct rtpe_proc rtpe;
static uv_loop_t loop;

static void setup(void)
{
	cr_assert_eq(uv_loop_init(&loop), 0);
}

static void teardown(void)
{
	uv_run(&loop, UV_RUN_NOWAIT);
	cr_expect_eq(uv_loop_close(&loop), 0, "every handle closed");
	rtpe_stop(&rtpe);
	teardown_check_objs(0);
}

TestSuite(ng, .init = setup, .fini = teardown, .timeout = 30);

struct result {
	int done;
	int err;
	char sdp[4096];
	char reason[128];
	unsigned server;
};

static void done_cb(void *arg, int err, const struct ng_reply *r)
{
	struct result *res = arg;
	struct slice s;

	res->done++;
	res->err = err;
	res->sdp[0] = res->reason[0] = '\0';
	if (!r)
		return;
	res->server = r->server;
	if (bencode_get_str(r->nodes, 0, "sdp", &s) && s.len < 4096) {
		memcpy(res->sdp, s.p, s.len);
		res->sdp[s.len] = '\0';
	}
	if (bencode_get_str(r->nodes, 0, "error-reason", &s) && s.len < 128) {
		memcpy(res->reason, s.p, s.len);
		res->reason[s.len] = '\0';
	}
}

/* Run the loop until @p res is done, at most @p ms of loop time. */
static void wait_done(struct result *res, unsigned ms)
{
	uint64_t end;

	uv_update_time(&loop);
	end = uv_now(&loop) + ms;
	while (!res->done && uv_now(&loop) < end) {
		uv_run(&loop, UV_RUN_ONCE);
		uv_update_time(&loop);
	}
	cr_assert_eq(res->done, 1, "answered within %u ms", ms);
}

static void server_at(struct ng_server *s, uint16_t port, unsigned weight)
{
	struct sockaddr_in *in = (struct sockaddr_in *)&s->addr;

	memset(s, 0, sizeof(*s));
	in->sin_family = AF_INET;
	in->sin_port = htons(port);
	inet_pton(AF_INET, "127.0.0.1", &in->sin_addr);
	s->addrlen = sizeof(*in);
	s->weight = weight;
}

static struct slice dict_of(char *buf, size_t cap, const char *cmd,
			    const char *call_id, const char *from_tag,
			    const char *to_tag, const char *sdp)
{
	struct bencode_buf b;
	size_t len = 0;

	bencode_init(&b, buf, cap);
	bencode_dict(&b);
	bencode_cstr(&b, "command");
	bencode_cstr(&b, cmd);
	if (call_id) {
		bencode_cstr(&b, "call-id");
		bencode_cstr(&b, call_id);
	}
	if (from_tag) {
		bencode_cstr(&b, "from-tag");
		bencode_cstr(&b, from_tag);
	}
	if (to_tag) {
		bencode_cstr(&b, "to-tag");
		bencode_cstr(&b, to_tag);
	}
	if (sdp) {
		bencode_cstr(&b, "sdp");
		bencode_cstr(&b, sdp);
		bencode_cstr(&b, "replace");
		bencode_list(&b);
		bencode_cstr(&b, "origin");
		bencode_end(&b);
		bencode_cstr(&b, "flags");
		bencode_list(&b);
		bencode_cstr(&b, "trust-address");
		bencode_end(&b);
	}
	bencode_end(&b);
	cr_assert_eq(bencode_finish(&b, &len), 0);
	return slice_make(buf, len);
}

static const char sdp_a[] = "v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"
			    "c=IN IP4 127.0.0.1\r\nt=0 0\r\n"
			    "m=audio 6000 RTP/AVP 0\r\n";
static const char sdp_b[] = "v=0\r\no=bob 2 2 IN IP4 127.0.0.1\r\ns=-\r\n"
			    "c=IN IP4 127.0.0.1\r\nt=0 0\r\n"
			    "m=audio 7000 RTP/AVP 0\r\n";

/* The media port of the first m= line of @p sdp. */
static unsigned media_port(const char *sdp)
{
	const char *m = strstr(sdp, "m=audio ");
	unsigned port = 0;

	cr_assert_not_null(m, "%s", sdp);
	cr_assert_eq(sscanf(m, "m=audio %u", &port), 1);
	return port;
}

static struct ng *client(const struct ng_server *s, unsigned n,
			 unsigned timeout_ms, unsigned retries)
{
	struct ng_opts o = { .servers = s,
			     .nservers = n,
			     .timeout_ms = timeout_ms,
			     .retries = retries,
			     .down_ms = 60000 };
	struct ng *ng = NULL;

	cr_assert_eq(ng_new(&loop, &o, &ng), 0);
	return ng;
}

Test(ng, pings_offers_answers_and_deletes_through_a_real_rtpengine)
{
	struct ng_server s;
	struct ng *ng;
	struct result res = { 0 };
	char buf[2048];
	unsigned pa, pb;

	cr_assert_eq(rtpe_start(&rtpe), 0, "rtpengine started");
	server_at(&s, rtpe.ng_port, 1);
	ng = client(&s, 1, 1000, 2);

	cr_assert_eq(
	    ng_send(ng, SLICE_LIT("c1"),
		    dict_of(buf, sizeof(buf), "ping", NULL, NULL, NULL, NULL),
		    done_cb, &res, NULL),
	    0);
	wait_done(&res, 5000);
	cr_assert_eq(res.err, 0);

	memset(&res, 0, sizeof(res));
	cr_assert_eq(
	    ng_send(ng, SLICE_LIT("c1"),
		    dict_of(buf, sizeof(buf), "offer", "c1", "ft", NULL, sdp_a),
		    done_cb, &res, NULL),
	    0);
	wait_done(&res, 5000);
	cr_assert_eq(res.err, 0, "%s", res.reason);
	pa = media_port(res.sdp);
	cr_assert(pa >= rtpe.port_min && pa <= rtpe.port_max, "%u", pa);
	cr_assert_not_null(strstr(res.sdp, "c=IN IP4 127.0.0.1"));
	cr_assert_not_null(strstr(res.sdp, "o=alice"),
			   "origin kept but for the address: %s", res.sdp);

	memset(&res, 0, sizeof(res));
	cr_assert_eq(ng_send(ng, SLICE_LIT("c1"),
			     dict_of(buf, sizeof(buf), "answer", "c1", "ft",
				     "tt", sdp_b),
			     done_cb, &res, NULL),
		     0);
	wait_done(&res, 5000);
	cr_assert_eq(res.err, 0, "%s", res.reason);
	pb = media_port(res.sdp);
	cr_assert(pb >= rtpe.port_min && pb <= rtpe.port_max, "%u", pb);
	cr_assert_neq(pa, pb, "one port per side");

	memset(&res, 0, sizeof(res));
	cr_assert_eq(
	    ng_send(ng, SLICE_LIT("c1"),
		    dict_of(buf, sizeof(buf), "query", "c1", NULL, NULL, NULL),
		    done_cb, &res, NULL),
	    0);
	wait_done(&res, 5000);
	cr_assert_eq(res.err, 0, "the call exists: %s", res.reason);

	memset(&res, 0, sizeof(res));
	cr_assert_eq(
	    ng_send(ng, SLICE_LIT("c1"),
		    dict_of(buf, sizeof(buf), "delete", "c1", "ft", NULL, NULL),
		    done_cb, &res, NULL),
	    0);
	wait_done(&res, 5000);
	cr_assert_eq(res.err, 0, "%s", res.reason);

	memset(&res, 0, sizeof(res));
	cr_assert_eq(
	    ng_send(ng, SLICE_LIT("c1"),
		    dict_of(buf, sizeof(buf), "query", "c1", NULL, NULL, NULL),
		    done_cb, &res, NULL),
	    0);
	wait_done(&res, 5000);
	cr_assert_eq(res.err, -EREMOTEIO, "gone after delete");
	cr_assert_str_eq(res.reason, "Unknown call-id");

	cr_assert_eq(ng_counters(ng)->sent, 6);
	cr_assert_eq(ng_pending(ng), 0);
	ng_free(ng);
}

Test(ng, a_silent_instance_times_out_then_is_down_and_skipped)
{
	struct ng_server s[2];
	struct ng *ng;
	struct result res = { 0 };
	char buf[256];
	uint16_t dead;
	unsigned i;

	cr_assert_eq(proc_free_port("127.0.0.1", &dead), 0);
	server_at(&s[0], dead, 1);
	ng = client(s, 1, 50, 2);
	cr_assert_eq(
	    ng_send(ng, SLICE_LIT("x"),
		    dict_of(buf, sizeof(buf), "ping", NULL, NULL, NULL, NULL),
		    done_cb, &res, NULL),
	    0);
	wait_done(&res, 3000);
	cr_assert_eq(res.err, -ETIMEDOUT);
	cr_assert_eq(ng_counters(ng)->resent, 2, "retries");
	cr_assert_eq(ng_counters(ng)->timeouts, 1);
	cr_assert(ng_is_down(ng, 0));
	cr_assert_eq(
	    ng_send(ng, SLICE_LIT("x"),
		    dict_of(buf, sizeof(buf), "ping", NULL, NULL, NULL, NULL),
		    done_cb, &res, NULL),
	    -EHOSTDOWN, "fails at once while down");
	ng_free(ng);

	/* A dead instance with nearly all the weight and a live one: every
	 * request is answered; one fail-over marks the dead one down. */
	cr_assert_eq(rtpe_start(&rtpe), 0);
	server_at(&s[0], dead, 1000);
	server_at(&s[1], rtpe.ng_port, 1);
	ng = client(s, 2, 50, 1);
	for (i = 0; i < 8; i++) {
		char key[16];

		snprintf(key, sizeof(key), "call-%u", i);
		memset(&res, 0, sizeof(res));
		cr_assert_eq(ng_send(ng, slice_cstr(key),
				     dict_of(buf, sizeof(buf), "ping", NULL,
					     NULL, NULL, NULL),
				     done_cb, &res, NULL),
			     0);
		wait_done(&res, 3000);
		cr_assert_eq(res.err, 0, "request %u", i);
		cr_assert_eq(res.server, 1);
	}
	cr_assert_eq(ng_counters(ng)->failovers, 1);
	cr_assert_eq(ng_counters(ng)->timeouts, 1);
	cr_assert(ng_is_down(ng, 0));
	cr_assert(!ng_is_down(ng, 1));
	ng_free(ng);
}

/* A fake instance: answers every request with garbage, a wrong cookie,
 * then the right cookie and a dictionary cut short. */
static void fake_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	static char mem[4096];

	(void)h;
	(void)hint;
	*buf = uv_buf_init(mem, sizeof(mem));
}

static void fake_recv(uv_udp_t *u, ssize_t n, const uv_buf_t *buf,
		      const struct sockaddr *from, unsigned flags)
{
	char out[256];
	uv_buf_t b;

	(void)flags;
	if (n < 17 || !from)
		return;
	b = uv_buf_init("xx", 2);
	uv_udp_try_send(u, &b, 1, from);
	b = uv_buf_init("0000000000000000 d6:result2:oke", 31);
	uv_udp_try_send(u, &b, 1, from);
	memcpy(out, buf->base, 17);
	memcpy(out + 17, "d6:result2:ok", 13);
	b = uv_buf_init(out, 30);
	uv_udp_try_send(u, &b, 1, from);
}

static void close_noop(uv_handle_t *h)
{
	(void)h;
}

Test(ng, garbage_and_stray_answers_are_dropped_and_a_bad_one_fails)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct ng_server s;
	struct result res = { 0 };
	uv_udp_t fake;
	struct ng *ng;
	char buf[256];
	int len = sizeof(a);

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	cr_assert_eq(uv_udp_init(&loop, &fake), 0);
	cr_assert_eq(uv_udp_bind(&fake, (struct sockaddr *)&a, 0), 0);
	cr_assert_eq(uv_udp_getsockname(&fake, (struct sockaddr *)&a, &len), 0);
	cr_assert_eq(uv_udp_recv_start(&fake, fake_alloc, fake_recv), 0);
	server_at(&s, ntohs(a.sin_port), 1);
	ng = client(&s, 1, 1000, 0);
	cr_assert_eq(
	    ng_send(ng, SLICE_LIT("k"),
		    dict_of(buf, sizeof(buf), "ping", NULL, NULL, NULL, NULL),
		    done_cb, &res, NULL),
	    0);
	wait_done(&res, 3000);
	cr_assert_eq(res.err, -EBADMSG);
	cr_assert_eq(ng_counters(ng)->stray, 2);
	ng_free(ng);
	uv_close((uv_handle_t *)&fake, close_noop);
}

Test(ng, cancel_and_free_end_requests_without_a_late_callback)
{
	struct ng_server s;
	struct result r1 = { 0 }, r2 = { 0 };
	struct ng_call *c = NULL;
	struct ng *ng;
	char buf[256];
	uint16_t dead;
	struct ng_opts bad = { .servers = &s, .nservers = 1 };
	struct ng *none = NULL;

	cr_assert_eq(proc_free_port("127.0.0.1", &dead), 0);
	server_at(&s, dead, 1);
	cr_assert_eq(ng_new(&loop, &bad, &none), -EINVAL, "timeout 0");
	s.weight = 0;
	bad.timeout_ms = 10;
	cr_assert_eq(ng_new(&loop, &bad, &none), -EINVAL, "weight 0");
	s.weight = 1;
	ng = client(&s, 1, 30, 0);
	cr_assert_eq(
	    ng_send(ng, SLICE_LIT("k"), slice_make("", 0), done_cb, &r1, NULL),
	    -EINVAL);
	cr_assert_eq(
	    ng_send(ng, SLICE_LIT("k"),
		    dict_of(buf, sizeof(buf), "ping", NULL, NULL, NULL, NULL),
		    done_cb, &r1, &c),
	    0);
	cr_assert_eq(
	    ng_send(ng, SLICE_LIT("k"),
		    dict_of(buf, sizeof(buf), "ping", NULL, NULL, NULL, NULL),
		    done_cb, &r2, NULL),
	    0);
	ng_cancel(c);
	cr_assert_eq(ng_pending(ng), 1);
	ng_free(ng);
	cr_assert_eq(r2.done, 1);
	cr_assert_eq(r2.err, -ECANCELED);
	uv_run(&loop, UV_RUN_NOWAIT);
	cr_assert_eq(r1.done, 0, "a cancelled request never calls back");
}
