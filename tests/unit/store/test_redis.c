/* tests/unit/store/test_redis.c - redis backend: codec, diff, apply, stamps,
 * observer, the writer's bounded queue */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <uv.h>

#include "proxy/base/obj.h"
#include "store/loc.h"
#include "store/rcu.h"
#include "store/redis.h"
#include "store/redis_priv.h"
#include "tests/common/teardown.h"
#include "tests/unit/store/locfix.h"

static void setup(void)
{
	urcu_memb_register_thread();
	cr_assert_eq(loc_init(), 0);
}

static void teardown(void)
{
	loc_set_observer(NULL);
	loc_fini();
	urcu_memb_unregister_thread();
	teardown_check_objs(0);
}

TestSuite(redis, .init = setup, .fini = teardown, .timeout = 30);

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

static struct loc_contact contact(const char *uri, int64_t expires_s,
				  int64_t stamp_ms)
{
	struct loc_contact c = locfix_contact(uri, expires_s);

	c.stamp_ms = stamp_ms;
	return c;
}

/* A NUL-terminated copy of @p b (for the in-place decoders). */
static char *dup_buf(const struct codec_buf *b)
{
	char *p = malloc(b->len + 1);

	cr_assert_not_null(p);
	memcpy(p, b->p, b->len);
	p[b->len] = '\0';
	return p;
}

static bool eq(struct slice a, const char *s)
{
	return slice_eq(a, slice_cstr(s));
}

Test(redis, value_round_trip_keeps_every_field)
{
	struct loc_contact c = contact("sip:a b%c@192.0.2.1:5060", 1999999999,
				       1700000000123),
			   d;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&c.flow.addr;
	struct codec_buf b = { 0 };
	char *p;

	c.path = SLICE_LIT("<sip:edge;lr>,<sip:e2;lr>");
	c.instance = SLICE_LIT("<urn:uuid:1>");
	c.call_id = SLICE_LIT("line\nbreak");
	c.user_agent = SLICE_LIT("-");
	c.reg_id = 7;
	c.cseq = 42;
	c.q = 500;
	c.flags = LOC_OB;
	c.flow.proto = 1;
	c.flow.conn_id = 77;
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(5070);
	inet_pton(AF_INET6, "2001:db8::1", &in6->sin6_addr);
	redis__value(&b, &c);
	cr_assert(!b.failed);
	/* One line of printable ASCII: fits the channel's framing. */
	for (size_t i = 0; i < b.len; i++)
		cr_assert(b.p[i] > 0x1f && b.p[i] < 0x7f, "byte %zu", i);
	p = dup_buf(&b);
	cr_assert_eq(redis__value_parse(p, b.len, &d), 0, "%s", p);
	cr_assert_eq(d.stamp_ms, c.stamp_ms);
	cr_assert_eq(d.expires_s, c.expires_s);
	cr_assert(eq(d.uri, "sip:a b%c@192.0.2.1:5060"));
	cr_assert(eq(d.path, "<sip:edge;lr>,<sip:e2;lr>"));
	cr_assert(eq(d.instance, "<urn:uuid:1>"));
	cr_assert(eq(d.call_id, "line\nbreak"));
	cr_assert(eq(d.user_agent, "-"));
	cr_assert_eq(d.reg_id, 7);
	cr_assert_eq(d.cseq, 42);
	cr_assert_eq(d.q, 500);
	cr_assert_eq(d.flags, LOC_OB);
	cr_assert_eq(d.flow.proto, 1);
	/* Connection ids stay with the process that accepted them. */
	cr_assert_eq(d.flow.conn_id, 0);
	cr_assert_eq(d.flow.addr.ss_family, AF_INET6);
	cr_assert_eq(((struct sockaddr_in6 *)&d.flow.addr)->sin6_port,
		     htons(5070));
	free(p);
	codec_buf_free(&b);
}

Test(redis, value_parse_refuses_malformed_values)
{
	static const char *const bad[] = {
		"",
		"1",
		"1 -x",
		"0 2 1000 0 0 1 0 - sip:a - - - -",	  /* stamp 0 */
		"1 2 1001 0 0 1 0 - sip:a - - - -",	  /* q > 1 */
		"1 2 1000 0 0 1 2 - sip:a - - - -",	  /* proto */
		"1 2 1000 0 0 1 0 1.2.3:5 sip:a - - - -", /* address */
		"1 2 1000 0 0 1 0 - - - - - -",		  /* no URI */
		"1 2 1000 0 0 1 0 - sip:%G1 - - - -",	  /* escape */
		"1 2 1000 0 0 1 0 - sip:%4 - - - -",	  /* short escape */
		"1 2 1000 0 0 1 0 - sip:a - - - - ",	  /* trailing */
		"1 2 1000 0 0 1 0 - sip:a  - - -",	  /* empty field */
		"1 2 1000 0 0 1 0 - sip:a - - - - x",	  /* too many */
		"-1 2 1000 0 0 1 0 - sip:a - - - -",	  /* sign */
	};
	struct loc_contact c;
	char buf[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(buf, sizeof(buf), "%s", bad[i]);
		cr_assert_eq(redis__value_parse(buf, strlen(buf), &c), -EBADMSG,
			     "accepted '%s'", bad[i]);
	}
	snprintf(buf, sizeof(buf), "1700000000000 -");
	cr_assert_eq(redis__value_parse(buf, strlen(buf), &c), 1);
	snprintf(buf, sizeof(buf),
		 "1 2 1000 0 0 1 0 127.0.0.1:9 sip:a - - - -");
	cr_assert_eq(redis__value_parse(buf, strlen(buf), &c), 0);
	cr_assert(eq(c.uri, "sip:a"));
	cr_assert_eq(c.path.len, 0);
}

Test(redis, message_parse_reads_aor_and_contacts)
{
	struct loc_contact a = contact("sip:a@127.0.0.1", 2000000000, 5),
			   b = contact("sip:b@127.0.0.1", 2000000000, 6), v[2];
	struct codec_buf m = { 0 };
	struct slice aor;
	unsigned n = 0;
	char *p;

	codec_buf_str(&m, "al%20ice@example.com\n");
	redis__value(&m, &a);
	codec_buf_str(&m, "\n");
	redis__value(&m, &b);
	p = dup_buf(&m);
	cr_assert_eq(redis__msg_parse(p, m.len, &aor, v, 2, &n), 0);
	cr_assert(eq(aor, "al ice@example.com"));
	cr_assert_eq(n, 2);
	cr_assert(eq(v[0].uri, "sip:a@127.0.0.1"));
	cr_assert(eq(v[1].uri, "sip:b@127.0.0.1"));
	free(p);
	/* One more than room for: refused, not truncated. */
	p = dup_buf(&m);
	cr_assert_eq(redis__msg_parse(p, m.len, &aor, v, 1, &n), -E2BIG);
	free(p);
	/* An AOR alone: no bindings left. */
	p = strdup("bob@example.com");
	cr_assert_eq(redis__msg_parse(p, strlen(p), &aor, v, 2, &n), 0);
	cr_assert_eq(n, 0);
	free(p);
	/* A trailing line break, an empty AOR, a bad line. */
	codec_buf_str(&m, "\n");
	p = dup_buf(&m);
	cr_assert_eq(redis__msg_parse(p, m.len, &aor, v, 2, &n), -EBADMSG);
	free(p);
	p = strdup("\n1 -");
	cr_assert_eq(redis__msg_parse(p, strlen(p), &aor, v, 2, &n), -EBADMSG);
	free(p);
	p = strdup("x@y\ngarbage");
	cr_assert_eq(redis__msg_parse(p, strlen(p), &aor, v, 2, &n), -EBADMSG);
	free(p);
	codec_buf_free(&m);
}

Test(redis, keys_are_namespaced_and_give_back_the_aor)
{
	struct redis__names nm;
	struct codec_buf b = { 0 };
	struct slice aor;

	cr_assert_eq(redis__names_init(&nm, "edge1"), 0);
	cr_assert_str_eq(nm.channel, "edge1:loc");
	cr_assert_eq(strlen(nm.sha), 40);
	for (size_t i = 0; i < 40; i++)
		cr_assert(strchr("0123456789abcdef", nm.sha[i]));
	redis__key(&b, &nm, "loc", SLICE_LIT("a@b.c"));
	cr_assert(
	    slice_eq(slice_make(b.p, b.len), SLICE_LIT("edge1:loc:{a@b.c}")));
	cr_assert_eq(redis__key_aor(&nm, slice_make(b.p, b.len), &aor), 0);
	cr_assert(eq(aor, "a@b.c"));
	cr_assert_eq(redis__key_aor(&nm, SLICE_LIT("edge1:exp:{a@b.c}"), &aor),
		     -EINVAL);
	cr_assert_eq(redis__key_aor(&nm, SLICE_LIT("edge2:loc:{a@b.c}"), &aor),
		     -EINVAL);
	cr_assert_eq(redis__key_aor(&nm, SLICE_LIT("edge1:loc:{}"), &aor),
		     -EINVAL);
	cr_assert_eq(redis__names_init(&nm, "a b"), -EINVAL);
	cr_assert_eq(redis__names_init(&nm, "x*"), -EINVAL);
	cr_assert_eq(redis__names_init(&nm, NULL), 0);
	cr_assert_str_eq(nm.ns, "sipedge");
	codec_buf_free(&b);
}

Test(redis, addresses_are_ip_port_or_unix_paths)
{
	struct redis_addr a;

	cr_assert_eq(redis_addr_parse("127.0.0.1:6379", &a), 0);
	cr_assert(!a.is_unix);
	cr_assert_str_eq(a.host, "127.0.0.1");
	cr_assert_eq(a.port, 6379);
	cr_assert_eq(redis_addr_parse("[::1]:26379", &a), 0);
	cr_assert_str_eq(a.host, "::1");
	cr_assert_eq(a.port, 26379);
	cr_assert_eq(redis_addr_parse("unix:/run/redis.sock", &a), 0);
	cr_assert(a.is_unix);
	cr_assert_str_eq(a.path, "/run/redis.sock");
	cr_assert_eq(redis_addr_parse("localhost:6379", &a), -EINVAL);
	cr_assert_eq(redis_addr_parse("127.0.0.1", &a), -EINVAL);
	cr_assert_eq(redis_addr_parse("127.0.0.1:0", &a), -EINVAL);
	cr_assert_eq(redis_addr_parse("127.0.0.1:65536", &a), -EINVAL);
	cr_assert_eq(redis_addr_parse("127.0.0.1:+1", &a), -EINVAL);
	cr_assert_eq(redis_addr_parse("::1:6379", &a), -EINVAL);
	cr_assert_eq(redis_addr_parse("unix:relative", &a), -EINVAL);
	cr_assert_eq(redis_addr_parse(NULL, &a), -EINVAL);
}

/* A set (not published) for the diff. */
static struct loc_set set_of(struct loc_contact *c, unsigned n)
{
	struct loc_set s = { SLICE_LIT("x@y"), n, c };

	return s;
}

Test(redis, diff_sends_changed_bindings_and_deletes_removed_ones)
{
	int64_t now_ms = now_s() * 1000, far = now_s() + 3600;
	struct loc_contact o[4] = {
		contact("sip:keep@h", far, 100),
		contact("sip:gone@h", far, now_ms + 5000), /* clock ahead */
		contact("sip:old@h", now_s() - 1, 300),	   /* expired */
		contact("sip:static@h", INT64_MAX, 400),
	};
	struct loc_contact c[3] = {
		contact("sip:keep@h", far, 100),
		contact("sip:new@h", far, 700),
		contact("sip:static@h", INT64_MAX, 400),
	};
	struct loc_set old = set_of(o, 4), cur = set_of(c, 3);
	struct redis__op *ops = NULL;
	unsigned cap = 0;
	int n;

	n = redis__diff(&old, &cur, now_ms, &ops, &cap);
	cr_assert_eq(n, 2);
	cr_assert(!ops[0].del);
	cr_assert(eq(ops[0].c->uri, "sip:new@h"));
	cr_assert_eq(ops[0].stamp_ms, 700);
	cr_assert(ops[1].del);
	cr_assert(eq(ops[1].c->uri, "sip:gone@h"));
	/* Above the binding it removes, even from a clock ahead of ours. */
	cr_assert_gt(ops[1].stamp_ms, now_ms + 5000);
	/* A refresh (new stamp) is an update; an unchanged set nothing. */
	c[0].stamp_ms = 800;
	cr_assert_eq(redis__diff(&old, &cur, now_ms, &ops, &cap), 3);
	cr_assert_eq(redis__diff(&cur, &cur, now_ms, &ops, &cap), 0);
	/* From nothing: every storable binding; to nothing: deletes. */
	cr_assert_eq(redis__diff(NULL, &cur, now_ms, &ops, &cap), 2);
	cr_assert_eq(redis__diff(&cur, NULL, now_ms, &ops, &cap), 2);
	cr_assert(ops[0].del && ops[1].del);
	free(ops);
}

/* Split RESP @p p into its bulk strings (at most @p max). */
static unsigned resp_split(const char *p, size_t len, struct slice *v,
			   unsigned max)
{
	const char *end = p + len;
	unsigned n, i;

	cr_assert_eq(p[0], '*');
	n = (unsigned)strtoul(p + 1, NULL, 10);
	cr_assert_leq(n, max);
	p = strstr(p, "\r\n") + 2;
	for (i = 0; i < n; i++) {
		size_t l;

		cr_assert_eq(*p, '$');
		l = strtoul(p + 1, NULL, 10);
		p = strstr(p, "\r\n") + 2;
		cr_assert_leq(p + l + 2, end);
		v[i] = slice_make(p, l);
		cr_assert_eq(memcmp(p + l, "\r\n", 2), 0);
		p += l + 2;
	}
	cr_assert_eq(p, end);
	return n;
}

Test(redis, update_command_is_one_evalsha_with_keys_and_bindings)
{
	int64_t far = now_s() + 60;
	struct loc_contact a = contact("sip:a@h", far, 11),
			   b = contact("sip:b@h", far, 12);
	struct redis__op ops[2] = { { &a, 11, false }, { &b, 13, true } };
	struct codec_buf out = { 0 }, tmp = { 0 }, val = { 0 };
	struct redis__names nm;
	struct slice v[16];
	char num[32];

	a.instance = SLICE_LIT("<urn:x>");
	a.reg_id = 2;
	cr_assert_eq(redis__names_init(&nm, "t"), 0);
	cr_assert_eq(
	    redis__cmd_update(&out, &tmp, &nm, SLICE_LIT("u 1@h"), ops, 2), 0);
	cr_assert_eq(resp_split(out.p, out.len, v, 16), 16);
	cr_assert(eq(v[0], "EVALSHA"));
	cr_assert(slice_eq(v[1], slice_make(nm.sha, 40)));
	cr_assert(eq(v[2], "2"));
	cr_assert(eq(v[3], "t:loc:{u 1@h}"));
	cr_assert(eq(v[4], "t:exp:{u 1@h}"));
	cr_assert(eq(v[5], "t:loc"));
	cr_assert(eq(v[6], "u%201@h"));
	snprintf(num, sizeof(num), "%d", REDIS_TOMBSTONE_S);
	cr_assert(eq(v[7], num));
	cr_assert(eq(v[8], "i:<urn:x>;2"));
	cr_assert(eq(v[9], "11"));
	snprintf(num, sizeof(num), "%lld", (long long)far);
	cr_assert(eq(v[10], num));
	redis__value(&val, &a);
	cr_assert(slice_eq(v[11], slice_make(val.p, val.len)));
	cr_assert(eq(v[12], "u:sip:b@h"));
	cr_assert(eq(v[13], "13"));
	cr_assert_eq(v[15].len, 0, "a delete has an empty value");
	codec_buf_free(&out);
	codec_buf_free(&tmp);
	codec_buf_free(&val);
}

/* The only contact of @p aor, copied (uri not kept), or false. */
static bool one_contact(const char *aor, struct loc_contact *cp, unsigned *np)
{
	const struct loc_set *s;
	bool ok = false;

	urcu_memb_read_lock();
	s = loc_lookup_rcu(slice_cstr(aor));
	*np = s ? s->n : 0;
	if (s && s->n >= 1) {
		*cp = s->c[0];
		cp->uri = slice_make(NULL, 0);
		ok = true;
	}
	urcu_memb_read_unlock();
	return ok;
}

Test(redis, apply_keeps_own_flow_static_contacts_and_skips_same_sets)
{
	int64_t far = now_s() + 600;
	struct loc_contact local[2] = { contact("sip:tcp@h", far, 0),
					contact("sip:cfg@h", INT64_MAX, 0) };
	struct loc_contact in, got;
	unsigned n = 0;

	local[0].flow.proto = 1;
	local[0].flow.conn_id = 99;
	local[0].flow.listen_idx = 1;
	cr_assert_eq(loc_publish(SLICE_LIT("u@h"), local, 2), 0);
	cr_assert(one_contact("u@h", &got, &n));
	cr_assert_gt(got.stamp_ms, 0, "published contacts get a stamp");
	/* Our own change coming back: same stamp, nothing to do. */
	in = contact("sip:tcp@h", far, got.stamp_ms);
	in.flow.proto = 1;
	cr_assert_eq(redis__apply(SLICE_LIT("u@h"), &in, 1, now_s()), 0);
	cr_assert(one_contact("u@h", &got, &n));
	cr_assert_eq(got.flow.conn_id, 99);
	cr_assert_eq(n, 2);
	/* Another node refreshed it: its flow is not ours. */
	in.stamp_ms = got.stamp_ms + 10;
	cr_assert_eq(redis__apply(SLICE_LIT("u@h"), &in, 1, now_s()), 1);
	cr_assert(one_contact("u@h", &got, &n));
	cr_assert_eq(n, 2, "the config's contact stays");
	cr_assert_eq(got.stamp_ms, in.stamp_ms);
	cr_assert_eq(got.flow.conn_id, 0);
	/* Removed elsewhere: only the config's contact is left. */
	cr_assert_eq(redis__apply(SLICE_LIT("u@h"), NULL, 0, now_s()), 1);
	cr_assert(one_contact("u@h", &got, &n));
	cr_assert_eq(n, 1);
	cr_assert_eq(got.expires_s, INT64_MAX);
	/* Expired on arrival: not published; unknown AOR, empty: nothing. */
	in = contact("sip:late@h", now_s() - 1, 5);
	cr_assert_eq(redis__apply(SLICE_LIT("v@h"), &in, 1, now_s()), 0);
	cr_assert_eq(redis__apply(SLICE_LIT("w@h"), NULL, 0, now_s()), 0);
	cr_assert_eq(loc_count(), 1);
}

/* What the observer saw last. */
static struct {
	unsigned calls, old_n, cur_n;
	bool old_null, cur_null;
	int64_t cur_stamp, change_stamp;
} seen;

static void observe(struct slice aor, const struct loc_set *old,
		    const struct loc_set *cur, int64_t stamp_ms)
{
	(void)aor;
	seen.change_stamp = stamp_ms;
	seen.calls++;
	seen.old_null = !old;
	seen.cur_null = !cur;
	seen.old_n = old ? old->n : 0;
	seen.cur_n = cur ? cur->n : 0;
	seen.cur_stamp = cur && cur->n ? cur->c[0].stamp_ms : 0;
}

Test(redis, publish_stamps_changes_above_the_set_and_tells_the_observer)
{
	int64_t far = now_s() + 600, ahead;
	struct loc_contact c = contact("sip:a@h", far, 0), got;
	unsigned n;

	memset(&seen, 0, sizeof(seen));
	loc_set_observer(observe);
	cr_assert_eq(loc_publish(SLICE_LIT("s@h"), &c, 1), 0);
	cr_assert_eq(seen.calls, 1);
	cr_assert(seen.old_null);
	cr_assert_eq(seen.cur_n, 1);
	cr_assert_geq(seen.cur_stamp, now_s() * 1000);
	/* A stamp from a clock far ahead: the next change goes above it. */
	ahead = now_s() * 1000 + 3600000;
	c.stamp_ms = ahead;
	cr_assert_eq(loc_publish(SLICE_LIT("s@h"), &c, 1), 0);
	cr_assert_eq(seen.cur_stamp, ahead, "a stamped contact keeps it");
	c.stamp_ms = 0;
	cr_assert_eq(loc_publish(SLICE_LIT("s@h"), &c, 1), 0);
	cr_assert_eq(seen.old_n, 1);
	cr_assert_eq(seen.cur_stamp, ahead + 1);
	cr_assert(one_contact("s@h", &got, &n));
	cr_assert_eq(got.stamp_ms, ahead + 1);
	cr_assert_eq(loc_publish(SLICE_LIT("s@h"), NULL, 0), 0);
	cr_assert_eq(seen.calls, 4);
	cr_assert(seen.cur_null);
	cr_assert_eq(seen.old_n, 1);
	/* Removing what is not there tells nobody. */
	cr_assert_eq(loc_publish(SLICE_LIT("s@h"), NULL, 0), 0);
	cr_assert_eq(seen.calls, 4);
}

/* A loopback TCP port nobody listens on. */
static uint16_t closed_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	uint16_t port;

	cr_assert_geq(fd, 0);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

Test(redis, writes_queue_while_redis_is_away_up_to_queue_max)
{
	struct redis_opts o = { 0 };
	struct redis_stats st;
	struct redis *r = NULL;
	char addr[32], aor[32];
	uv_loop_t loop;
	int64_t far = now_s() + 600;

	snprintf(addr, sizeof(addr), "127.0.0.1:%u", closed_port());
	o.address = addr;
	o.queue_max = 5;
	o.connect_timeout_ms = 200;
	o.command_timeout_ms = 200;
	o.ns = "unit";
	cr_assert_eq(uv_loop_init(&loop), 0);
	cr_assert_eq(redis_start(&o, 1, &r), 0);
	cr_assert_eq(redis_shard_attach(r, 0, &loop), 0);
	/* Let the writer try (and fail) to connect. */
	for (int i = 0; i < 20; i++)
		uv_run(&loop, UV_RUN_NOWAIT);
	for (unsigned i = 0; i < 8; i++) {
		struct loc_contact c = contact("sip:q@h", far, 0);

		snprintf(aor, sizeof(aor), "q%u@h", i);
		cr_assert_eq(loc_publish(slice_cstr(aor), &c, 1), 0,
			     "REGISTER goes on while Redis is away");
	}
	/* The config's locations are not written at all. */
	{
		struct loc_contact c = contact("sip:cfg@h", INT64_MAX, 0);

		cr_assert_eq(loc_publish(SLICE_LIT("cfg@h"), &c, 1), 0);
	}
	redis_stats(r, &st);
	cr_assert_eq(st.queued, 5);
	cr_assert_eq(st.dropped, 3);
	cr_assert_eq(st.written, 0);
	cr_assert(!st.connected);
	cr_assert_eq(loc_count(), 9, "the local table has every one");
	redis_shard_detach(r, 0);
	/* Everything of the writer closes: the loop runs out. */
	cr_assert_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
	redis_stats(r, &st);
	cr_assert_eq(st.queued, 0);
	redis_stop(r);
	cr_assert_eq(uv_loop_close(&loop), 0);
}

Test(redis, start_refuses_bad_settings)
{
	struct redis_opts o = { 0 };
	const char *sent[] = { "127.0.0.1:1", "bogus" };
	struct redis *r = NULL;

	o.address = "localhost:6379";
	cr_assert_eq(redis_start(&o, 1, &r), -EINVAL);
	o.address = "127.0.0.1:6379";
	o.ns = "bad ns";
	cr_assert_eq(redis_start(&o, 1, &r), -EINVAL);
	o.ns = NULL;
	o.address = NULL;
	o.sentinels = sent;
	o.nsentinels = 2;
	o.sentinel_master = "m";
	cr_assert_eq(redis_start(&o, 1, &r), -EINVAL);
	o.nsentinels = 1;
	o.sentinel_master = NULL;
	cr_assert_eq(redis_start(&o, 1, &r), -EINVAL);
	cr_assert_null(r);
}

/* CLUSTER KEYSLOT answers of a real redis-server 7.0 in cluster mode,
 * and the examples of the Redis Cluster specification. */
Test(redis, slot_is_crc16_of_the_key_or_its_hash_tag)
{
	static const struct {
		const char *key;
		unsigned slot;
	} known[] = {
		{ "123456789", 12739 }, /* CRC16-XMODEM check value 0x31C3 */
		{ "foo", 12182 },
		{ "bar", 5061 },
		{ "sipedge:loc:{u1@localhost}", 11727 },
		{ "sipedge:exp:{u1@localhost}", 11727 },
		{ "sipedge:loc:{u999@localhost}", 2011 },
		{ "{user1000}.following", 3443 },
		{ "foo{}{bar}", 8363 },	   /* empty tag: the whole key */
		{ "foo{{bar}}zap", 4015 }, /* tag "{bar" */
		{ "foo{bar}{zap}", 5061 }, /* the first tag: "bar" */
		{ "a{b", 13340 },	   /* no closing brace */
		{ "", 0 },
		{ "x:loc:{sip:a}b@x}", 5920 },
	};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		cr_assert_eq(redis__slot(known[i].key, strlen(known[i].key)),
			     known[i].slot, "%s", known[i].key);
}

Test(redis, an_aors_keys_share_its_slot)
{
	struct redis__names nm;
	struct codec_buf tmp = { 0 };

	cr_assert_eq(redis__names_init(&nm, NULL), 0);
	cr_assert_eq(redis__aor_slot(&tmp, &nm, SLICE_LIT("u1@localhost")),
		     11727);
	cr_assert_eq(redis__aor_slot(&tmp, &nm, SLICE_LIT("u999@localhost")),
		     2011);
	codec_buf_free(&tmp);
}

Test(redis, start_refuses_a_bad_cluster)
{
	struct redis_opts o = { 0 };
	const char *seeds[] = { "127.0.0.1:7000", "unix:/tmp/r.sock" };
	struct redis *r = NULL;

	o.cluster = seeds;
	o.ncluster = 2;
	cr_assert_eq(redis_start(&o, 1, &r), -EINVAL, "no Unix seeds");
	o.ncluster = 1;
	o.db = 1;
	cr_assert_eq(redis_start(&o, 1, &r), -EINVAL, "db 0 only");
	o.db = 0;
	o.address = "127.0.0.1:6379";
	cr_assert_eq(redis_start(&o, 1, &r), -EINVAL, "not with an address");
	cr_assert_null(r);
}
