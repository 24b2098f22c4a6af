/* tests/unit/store/test_codec.c - a binding as text: the snapshot and the
 * Redis forms, byte for byte as earlier releases wrote them */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "proxy/base/obj.h"
#include "store/codec.h"
#include "store/loc.h"
#include "tests/common/teardown.h"

static void setup(void)
{
}

static void teardown(void)
{
	teardown_check_objs(0);
}

TestSuite(codec, .init = setup, .fini = teardown, .timeout = 10);

/* The same line as store/memory.c and store/redis_codec.c wrote it
 * before they shared this codec. */
static const char snap_line[] =
    "c alice@example.com 1700000000 500 1 7 42 1 [::1]:5070 2 "
    "sip:alice@[::1]:5070;transport=tcp <sip:p1>,<sip:p2> "
    "\"urn:uuid:1\" call%201%25 -";
static const char redis_line[] =
    "1699999999123 1700000000 500 1 7 42 1 [::1]:5070 "
    "sip:alice@[::1]:5070;transport=tcp <sip:p1>,<sip:p2> "
    "\"urn:uuid:1\" call%201%25 -";

static struct loc_contact contact(void)
{
	struct loc_contact c;
	struct sockaddr_in6 *in6;

	memset(&c, 0, sizeof(c));
	c.uri = SLICE_LIT("sip:alice@[::1]:5070;transport=tcp");
	c.path = SLICE_LIT("<sip:p1>,<sip:p2>");
	c.instance = SLICE_LIT("\"urn:uuid:1\"");
	c.reg_id = 7;
	c.call_id = SLICE_LIT("call 1%");
	c.cseq = 42;
	c.expires_s = 1700000000;
	c.q = 500;
	c.flags = LOC_OB;
	c.flow.proto = 1;
	c.flow.listen_idx = 2;
	in6 = (struct sockaddr_in6 *)&c.flow.addr;
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(5070);
	inet_pton(AF_INET6, "::1", &in6->sin6_addr);
	c.stamp_ms = 1699999999123;
	return c;
}

static void check(const struct loc_contact *a, const struct loc_contact *b)
{
	cr_assert(slice_eq(a->uri, b->uri));
	cr_assert(slice_eq(a->path, b->path));
	cr_assert(slice_eq(a->instance, b->instance));
	cr_assert(slice_eq(a->call_id, b->call_id));
	cr_assert(slice_eq(a->user_agent, b->user_agent));
	cr_assert_eq(a->reg_id, b->reg_id);
	cr_assert_eq(a->cseq, b->cseq);
	cr_assert_eq(a->expires_s, b->expires_s);
	cr_assert_eq(a->q, b->q);
	cr_assert_eq(a->flags, b->flags);
	cr_assert_eq(a->flow.proto, b->flow.proto);
	cr_assert_eq(
	    memcmp(&a->flow.addr, &b->flow.addr, sizeof(struct sockaddr_in6)),
	    0);
}

Test(codec, snapshot_line_is_unchanged)
{
	struct loc_contact c = contact(), d;
	struct codec_buf b = { 0 };
	char line[sizeof(snap_line)];
	struct slice aor;

	codec_contact_print(&b, CODEC_SNAPSHOT, SLICE_LIT("alice@example.com"),
			    &c);
	cr_assert_not(b.failed);
	cr_assert_eq(b.len, strlen(snap_line));
	cr_assert_eq(memcmp(b.p, snap_line, b.len), 0, "%.*s", (int)b.len, b.p);
	memcpy(line, snap_line, sizeof(line));
	cr_assert_eq(
	    codec_contact_parse(line, strlen(line), CODEC_SNAPSHOT, &aor, &d),
	    0);
	cr_assert(slice_eq(aor, SLICE_LIT("alice@example.com")));
	check(&c, &d);
	cr_assert_eq(d.flow.listen_idx, 2);
	cr_assert_eq(d.stamp_ms, 0, "the snapshot keeps no stamp");
	codec_buf_free(&b);
}

Test(codec, redis_value_is_unchanged)
{
	struct loc_contact c = contact(), d;
	struct codec_buf b = { 0 };
	char line[sizeof(redis_line)];

	codec_contact_print(&b, CODEC_REDIS, slice_make(NULL, 0), &c);
	cr_assert_not(b.failed);
	cr_assert_eq(b.len, strlen(redis_line));
	cr_assert_eq(memcmp(b.p, redis_line, b.len), 0, "%.*s", (int)b.len,
		     b.p);
	memcpy(line, redis_line, sizeof(line));
	cr_assert_eq(
	    codec_contact_parse(line, strlen(line), CODEC_REDIS, NULL, &d), 0);
	check(&c, &d);
	cr_assert_eq(d.stamp_ms, c.stamp_ms);
	cr_assert_eq(d.flow.listen_idx, 0, "Redis keeps no listen entry");
	codec_buf_free(&b);
}

Test(codec, refuses_malformed_lines)
{
	static const char *const bad[] = {
		"",
		"c a@b 1 1000 0 0 1 0 - 0 sip:x - - - -", /* 15 fields, ok */
		"c a@b 1 1000 0 0 1 2 - 0 sip:x - - - -", /* proto 2 */
		"c a@b 1 1001 0 0 1 0 - 0 sip:x - - - -", /* q > 1000 */
		"c a@b 1 1000 0 0 1 0 1.2.3:5 0 sip:x - - - -",
		"c a@b 1 1000 0 0 1 0 - 0 - - - - -",	   /* no URI */
		"c - 1 1000 0 0 1 0 - 0 sip:x - - - -",	   /* no AOR */
		"c a@b 1 1000 0 0 1 0 - 0 sip:x - - - %4", /* bad escape */
		"c a@b 1 1000 0 0 1 0 - 0 sip:x - - -  -", /* empty field */
		"c a@b 1 1000 0 0 1 0 - 0 sip:x - - - - ", /* trailing space */
		"x a@b 1 1000 0 0 1 0 - 0 sip:x - - - -",
		"c a@b 1 1000 0 0 1 0 - 0 sip:x - - - - -", /* 16 fields */
	};
	struct loc_contact c;
	struct slice aor;
	char buf[128];

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(buf, sizeof(buf), "%s", bad[i]);
		cr_assert_eq(codec_contact_parse(buf, strlen(buf),
						 CODEC_SNAPSHOT, &aor, &c),
			     i == 1 ? 0 : -EBADMSG, "%s", bad[i]);
	}
	snprintf(buf, sizeof(buf), "%s", "1 - ");
	cr_assert_eq(
	    codec_contact_parse(buf, strlen(buf), CODEC_REDIS, NULL, &c),
	    -EBADMSG);
}

Test(codec, text_fields_escape_what_would_split_a_line)
{
	struct codec_buf b = { 0 };
	struct slice s;
	char tmp[64];

	codec_text_print(&b, SLICE_LIT("a b\n%-"));
	codec_text_print(&b, SLICE_LIT("-"));
	codec_text_print(&b, SLICE_LIT(""));
	cr_assert_eq(b.len, strlen(" a%20b%0A%25- %2D -"));
	cr_assert_eq(memcmp(b.p, " a%20b%0A%25- %2D -", b.len), 0);
	memcpy(tmp, "a%20b%0a%25-", 12);
	s = slice_make(tmp, 12);
	cr_assert_eq(codec_text_parse(&s), 0);
	cr_assert(slice_eq(s, SLICE_LIT("a b\n%-")));
	memcpy(tmp, "%2", 2);
	s = slice_make(tmp, 2);
	cr_assert_eq(codec_text_parse(&s), -EBADMSG);
	codec_buf_free(&b);
}
