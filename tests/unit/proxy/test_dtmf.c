/* tests/unit/proxy/test_dtmf.c - rtpengine's DTMF reports: what parses,
 * and garbage that is refused without a crash */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "proxy/dtmf.h"

static struct dtmf_event ev;

static void setup(void)
{
	memset(&ev, 0x5a, sizeof(ev));
}

static void teardown(void)
{
}

TestSuite(dtmf, .init = setup, .fini = teardown, .timeout = 30);

static int parse(const char *s)
{
	return dtmf_parse(s, strlen(s), &ev);
}

/* What rtpengine 10.5 sends (captured from --dtmf-log-dest). */
Test(dtmf, parses_what_rtpengine_sends)
{
	cr_assert_eq(parse("{\"callid\":\"cid-xyz\",\"source_tag\":\"tagB\","
			   "\"tags\":[\"tagA\",\"tagB\"],\"type\":\"DTMF\","
			   "\"timestamp\":1796662937,\"source_ip\":"
			   "\"127.0.0.1\",\"event\":10,\"duration\":80,"
			   "\"volume\":10}"),
		     0);
	cr_assert_str_eq(ev.call_id, "cid-xyz");
	cr_assert_str_eq(ev.tag, "tagB");
	cr_assert_str_eq(ev.peer_tag, "tagA", "the other tag");
	cr_assert_eq(ev.key, '*');
}

Test(dtmf, every_key_event_and_a_missing_peer)
{
	static const char keys[] = "0123456789*#ABCD";
	char buf[256];

	for (int e = 0; e < 16; e++) {
		snprintf(buf, sizeof(buf),
			 "{\"callid\":\"c\",\"source_tag\":\"a\","
			 "\"type\":\"DTMF\",\"event\":%d}",
			 e);
		cr_assert_eq(parse(buf), 0, "%s", buf);
		cr_assert_eq(ev.key, keys[e]);
		cr_assert_str_eq(ev.peer_tag, "", "no tags: no peer");
	}
	/* Only the source's own tag listed: no peer either. */
	cr_assert_eq(parse("{\"callid\":\"c\",\"source_tag\":\"a\","
			   "\"tags\":[\"a\"],\"type\":\"DTMF\",\"event\":7}"),
		     0);
	cr_assert_str_eq(ev.peer_tag, "");
	cr_assert_eq(ev.key, '7');
}

Test(dtmf, a_report_of_no_key_is_not_supported)
{
	cr_assert_eq(parse("{\"callid\":\"c\",\"source_tag\":\"a\","
			   "\"type\":\"DTMF\",\"event\":16}"),
		     -ENOTSUP, "flash");
	cr_assert_eq(parse("{\"callid\":\"c\",\"source_tag\":\"a\","
			   "\"type\":\"DTMF\",\"event\":-1}"),
		     -ENOTSUP);
	cr_assert_eq(parse("{\"callid\":\"c\",\"source_tag\":\"a\","
			   "\"type\":\"tone\",\"event\":7}"),
		     -ENOTSUP);
}

Test(dtmf, garbage_is_refused_and_leaves_the_event_alone)
{
	static const char *const bad[] = {
		"",
		"{",
		"null",
		"[]",
		"\"DTMF\"",
		"{}",
		"{\"callid\":\"c\",\"source_tag\":\"a\",\"type\":\"DTMF\"}",
		"{\"callid\":\"c\",\"source_tag\":\"a\",\"event\":7}",
		"{\"callid\":\"c\",\"type\":\"DTMF\",\"event\":7}",
		"{\"source_tag\":\"a\",\"type\":\"DTMF\",\"event\":7}",
		"{\"callid\":\"\",\"source_tag\":\"a\",\"type\":\"DTMF\","
		"\"event\":7}",
		"{\"callid\":\"c\",\"source_tag\":\"\",\"type\":\"DTMF\","
		"\"event\":7}",
		"{\"callid\":7,\"source_tag\":\"a\",\"type\":\"DTMF\","
		"\"event\":7}",
		"{\"callid\":\"c\",\"source_tag\":\"a\",\"type\":\"DTMF\","
		"\"event\":\"7\"}",
		"{\"callid\":\"c\",\"source_tag\":\"a\",\"type\":\"DTMF\","
		"\"event\":7.5}",
		"{\"callid\":\"c d\",\"source_tag\":\"a\",\"type\":\"DTMF\","
		"\"event\":7}",
		"{\"callid\":\"c\\r\\nX: y\",\"source_tag\":\"a\","
		"\"type\":\"DTMF\",\"event\":7}",
		"{\"callid\":\"c\\u0000d\",\"source_tag\":\"a\","
		"\"type\":\"DTMF\",\"event\":7}",
		"{\"callid\":\"c\",\"source_tag\":\"a\",\"tags\":\"b\","
		"\"type\":\"DTMF\",\"event\":7}",
		"{\"callid\":\"c\",\"source_tag\":\"a\",\"tags\":[1],"
		"\"type\":\"DTMF\",\"event\":7}",
		"{\"callid\":\"c\",\"callid\":\"d\",\"source_tag\":\"a\","
		"\"type\":\"DTMF\",\"event\":7}",
		"{\"callid\":\"c\",\"source_tag\":\"a\",\"type\":\"DTMF\","
		"\"event\":7} trailing",
	};
	struct dtmf_event before;

	memcpy(&before, &ev, sizeof(ev));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(parse(bad[i]), -EBADMSG, "%s", bad[i]);
		cr_assert_eq(memcmp(&before, &ev, sizeof(ev)), 0,
			     "written on failure: %s", bad[i]);
	}
	cr_assert_eq(dtmf_parse(NULL, 0, &ev), -EBADMSG);
	cr_assert_eq(dtmf_parse("{}", 2, NULL), -EBADMSG);
}

Test(dtmf, a_call_id_or_tag_too_long_is_refused)
{
	char buf[1024], id[DTMF_CALL_ID_MAX + 2];

	memset(id, 'x', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	snprintf(buf, sizeof(buf),
		 "{\"callid\":\"%s\",\"source_tag\":\"a\",\"type\":\"DTMF\","
		 "\"event\":7}",
		 id);
	cr_assert_eq(parse(buf), -EBADMSG);
	id[DTMF_CALL_ID_MAX] = '\0'; /* the longest allowed */
	snprintf(buf, sizeof(buf),
		 "{\"callid\":\"%s\",\"source_tag\":\"a\",\"type\":\"DTMF\","
		 "\"event\":7}",
		 id);
	cr_assert_eq(parse(buf), 0);
	cr_assert_eq(strlen(ev.call_id), DTMF_CALL_ID_MAX);
	memset(id, 't', DTMF_TAG_MAX + 1);
	id[DTMF_TAG_MAX + 1] = '\0';
	snprintf(buf, sizeof(buf),
		 "{\"callid\":\"c\",\"source_tag\":\"a\",\"tags\":[\"%s\"],"
		 "\"type\":\"DTMF\",\"event\":7}",
		 id);
	cr_assert_eq(parse(buf), -EBADMSG);
}

/* Bytes that are no text at all: every length of a noisy buffer. */
Test(dtmf, random_bytes_never_parse)
{
	unsigned char buf[512];
	unsigned x = 12345;

	for (size_t i = 0; i < sizeof(buf); i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (unsigned char)(x >> 16);
	}
	for (size_t n = 0; n <= sizeof(buf); n += 7)
		cr_assert_eq(dtmf_parse((const char *)buf, n, &ev), -EBADMSG);
}
