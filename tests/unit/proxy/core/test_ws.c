/* tests/unit/proxy/core/test_ws.c - WebSocket sessions over memory (the
 * upgrade, frames, bad frames) and ws/wss listen entries */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/core/conf.h"
#include "proxy/core/ws.h"
#include "tests/unit/conftest.h"

static struct conf *c;
static char err[1024];

/* What the session wrote, and the messages it handed on. */
static char out[65536];
static size_t outlen;
static char msgs[8][4096];
static unsigned nmsgs;
static int fail_out;
static bool echo; /* msg_cb answers each message at once */
static struct ws_sess *s;

static int out_cb(void *arg, const char *p, size_t len)
{
	(void)arg;
	if (fail_out)
		return fail_out;
	cr_assert_leq(outlen + len, sizeof(out));
	memcpy(out + outlen, p, len);
	outlen += len;
	return 0;
}

static void msg_cb(void *arg, const char *p, size_t len)
{
	(void)arg;
	cr_assert_lt(nmsgs, 8);
	cr_assert_lt(len, sizeof(msgs[0]));
	memcpy(msgs[nmsgs], p, len);
	msgs[nmsgs][len] = '\0';
	nmsgs++;
	if (echo)
		cr_assert_eq(ws_sess_send(s, p, len), 0);
}

static void setup(void)
{
	conftest_init(&c, err, sizeof(err));
	outlen = 0;
	nmsgs = 0;
	fail_out = 0;
	echo = false;
	cr_assert_eq(ws_sess_new(1000, out_cb, msg_cb, NULL, &s), 0);
}

static void teardown(void)
{
	ws_sess_free(s);
	conftest_fini();
}

TestSuite(ws, .init = setup, .fini = teardown, .timeout = 20);

static const char UPGRADE[] = "GET /sip HTTP/1.1\r\n"
			      "Host: example.com\r\n"
			      "Upgrade: WebSocket\r\n"
			      "Connection: Upgrade\r\n"
			      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			      "Sec-WebSocket-Version: 13\r\n"
			      "Sec-WebSocket-Protocol: sip\r\n"
			      "Origin: https://a.example\r\n"
			      "\r\n";

/* A masked client frame of @p n bytes into @p f; its length. */
static size_t frame(unsigned char *f, int fin_op, const char *p, size_t n,
		    bool mask)
{
	static const unsigned char key[4] = { 1, 2, 3, 4 };
	size_t h = 2;

	f[0] = (unsigned char)fin_op;
	if (n < 126) {
		f[1] = (unsigned char)n;
	} else {
		f[1] = 126;
		f[2] = (unsigned char)(n >> 8);
		f[3] = (unsigned char)n;
		h = 4;
	}
	if (mask) {
		f[1] |= 0x80;
		memcpy(f + h, key, 4);
		h += 4;
	}
	for (size_t i = 0; i < n; i++)
		f[h + i] = (unsigned char)(p[i] ^ (mask ? key[i % 4] : 0));
	return h + n;
}

static void open_session(void)
{
	size_t used = 0;

	cr_assert_eq(ws_upgrade(s, UPGRADE, strlen(UPGRADE), NULL, 0, &used),
		     0);
	cr_assert_eq(used, strlen(UPGRADE));
	cr_assert(ws_sess_is_open(s));
	outlen = 0;
}

Test(ws, accept_key_is_rfc6455s_example)
{
	char acc[29];

	ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, acc);
	cr_assert_str_eq(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

Test(ws, upgrade_is_answered_101_once_the_header_block_is_complete)
{
	size_t used = 0;

	cr_assert_eq(ws_upgrade(s, UPGRADE, 40, NULL, 0, &used), -EAGAIN);
	cr_assert_eq(outlen, 0);
	cr_assert_eq(ws_upgrade(s, UPGRADE, strlen(UPGRADE), NULL, 0, &used),
		     0);
	out[outlen] = '\0';
	cr_assert(strstr(out, "HTTP/1.1 101 Switching Protocols\r\n"));
	cr_assert(strstr(out, "Sec-WebSocket-Protocol: sip\r\n"));
	cr_assert(strstr(out, "Sec-WebSocket-Accept: "
			      "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
}

/* @p from replaced by @p to in the upgrade request: its answer. */
static int upgrade_with(const char *from, const char *to, char *const *orig,
			unsigned norig)
{
	char req[1024], *p;
	size_t used;

	snprintf(req, sizeof(req), "%s", UPGRADE);
	p = strstr(req, from);
	cr_assert_not_null(p);
	memmove(p + strlen(to), p + strlen(from), strlen(p + strlen(from)) + 1);
	memcpy(p, to, strlen(to));
	return ws_upgrade(s, req, strlen(req), orig, norig, &used);
}

Test(ws, upgrade_without_sip_or_key_or_version_13_is_refused)
{
	cr_assert_eq(upgrade_with("Protocol: sip", "Protocol: chat", NULL, 0),
		     400);
	cr_assert(!ws_sess_is_open(s));
	cr_assert_eq(upgrade_with("Sec-WebSocket-Key", "X-Key", NULL, 0), 400);
	cr_assert_eq(upgrade_with("Version: 13", "Version: 12", NULL, 0), 426);
	cr_assert_eq(upgrade_with("GET ", "POST ", NULL, 0), 400);
	cr_assert_eq(
	    upgrade_with("Upgrade: WebSocket", "Upgrade: h2c", NULL, 0), 400);
	out[outlen] = '\0';
	cr_assert(strstr(out, "HTTP/1.1 426 "));
	cr_assert(strstr(out, "Sec-WebSocket-Version: 13\r\n"));
}

Test(ws, origin_must_be_in_the_list_when_one_is_given)
{
	char *ok[] = { "https://b.example", "https://A.example" };
	char *no[] = { "https://b.example" };

	cr_assert_eq(upgrade_with("Host", "Host", no, 1), 403);
	cr_assert_eq(upgrade_with("Host", "Host", ok, 2), 0);
}

Test(ws, upgrade_over_the_size_limit_is_400)
{
	char *big = malloc(WS_UPGRADE_MAX + 10);
	size_t used;

	cr_assert_not_null(big);
	memset(big, 'a', WS_UPGRADE_MAX + 10);
	cr_assert_eq(ws_upgrade(s, big, WS_UPGRADE_MAX + 10, NULL, 0, &used),
		     400);
	free(big);
}

Test(ws, masked_text_and_fragmented_messages_are_handed_on_whole)
{
	unsigned char f[2048];
	size_t n;

	open_session();
	n = frame(f, 0x81, "OPTIONS a", 9, true);
	/* Byte by byte: the session keeps what it has. */
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(ws_sess_feed(s, (char *)f + i, 1), 0);
	cr_assert_eq(nmsgs, 1);
	cr_assert_str_eq(msgs[0], "OPTIONS a");
	/* Two fragments (text, continuation) make one message. */
	n = frame(f, 0x01, "REG", 3, true);
	n += frame(f + n, 0x80, "ISTER", 5, true);
	cr_assert_eq(ws_sess_feed(s, (char *)f, n), 0);
	cr_assert_eq(nmsgs, 2);
	cr_assert_str_eq(msgs[1], "REGISTER");
	cr_assert(!ws_sess_is_closed(s));
}

Test(ws, ping_gets_a_pong_and_send_is_one_unmasked_text_frame)
{
	unsigned char f[64];
	size_t n;

	open_session();
	n = frame(f, 0x89, "hb", 2, true);
	cr_assert_eq(ws_sess_feed(s, (char *)f, n), 0);
	cr_assert_eq(outlen, 4);
	cr_assert_eq((unsigned char)out[0], 0x8a);
	cr_assert_eq(out[1], 2);
	cr_assert_eq(memcmp(out + 2, "hb", 2), 0);
	outlen = 0;
	cr_assert_eq(ws_sess_send(s, "SIP/2.0 200 OK\r\n\r\n", 18), 0);
	cr_assert_eq(outlen, 20);
	cr_assert_eq((unsigned char)out[0], 0x81);
	cr_assert_eq(out[1], 18);
}

static unsigned close_code_sent(void)
{
	cr_assert_geq(outlen, 4);
	cr_assert_eq((unsigned char)out[0], 0x88);
	return ((unsigned char)out[2] << 8) | (unsigned char)out[3];
}

Test(ws, unmasked_client_frame_is_closed_with_1002)
{
	unsigned char f[64];
	size_t n;

	open_session();
	n = frame(f, 0x81, "OPTIONS", 7, false);
	cr_assert_eq(ws_sess_feed(s, (char *)f, n), 0);
	cr_assert_eq(nmsgs, 0);
	cr_assert(ws_sess_is_closed(s));
	cr_assert_eq(ws_sess_close_code(s), 1002);
	cr_assert(!ws_sess_peer_closed(s));
	cr_assert_eq(close_code_sent(), 1002);
	cr_assert_eq(ws_sess_send(s, "x", 1), -ENOTCONN);
}

Test(ws, message_over_the_limit_is_closed_with_1009)
{
	unsigned char *f = malloc(2000);
	char big[1200];
	size_t n;

	cr_assert_not_null(f);
	memset(big, 'x', sizeof(big));
	open_session();
	n = frame(f, 0x81, big, sizeof(big), true);
	cr_assert_eq(ws_sess_feed(s, (char *)f, n), 0);
	cr_assert_eq(nmsgs, 0);
	cr_assert_eq(ws_sess_close_code(s), 1009);
	free(f);
}

Test(ws, close_is_answered_with_1000_and_not_open_send_fails)
{
	unsigned char f[64];
	size_t n;

	cr_assert_eq(ws_sess_send(s, "x", 1), -ENOTCONN);
	open_session();
	n = frame(f, 0x88, "\x03\xe8", 2, true);
	cr_assert_eq(ws_sess_feed(s, (char *)f, n), 0);
	cr_assert(ws_sess_is_closed(s));
	cr_assert(ws_sess_peer_closed(s));
	cr_assert_eq(ws_sess_close_code(s), 1000);
}

Test(ws, a_failing_output_is_reported)
{
	unsigned char f[64];
	size_t n;

	open_session();
	fail_out = -ENOBUFS;
	n = frame(f, 0x89, "hb", 2, true);
	cr_assert_eq(ws_sess_feed(s, (char *)f, n), -ENOBUFS);
}

Test(ws, ws_and_wss_entries_load_with_http_ports_and_origins)
{
	cr_assert_eq(conftest_load("listen:\n"
				   "  - address: 127.0.0.1\n"
				   "  - address: 127.0.0.1\n"
				   "    transports: [ws]\n"
				   "    origins: [\"https://a.example\"]\n"),
		     0, "%s", err);
	cr_assert_eq(c->nlisten, 2);
	cr_assert(c->listen[1].ws && !c->listen[1].tls);
	cr_assert(!c->listen[1].udp && !c->listen[1].tcp);
	cr_assert_eq(c->listen[1].port, 80);
	cr_assert_eq(c->listen[1].norigins, 1);
	cr_assert_str_eq(c->listen[1].origins[0], "https://a.example");
	cr_assert(!c->listen[0].ws);
}

Test(ws, ws_with_udp_and_origins_on_a_plain_entry_are_refused)
{
	conftest_expect_error("listen:\n"
			      "  - address: 127.0.0.1\n"
			      "    transports: [udp, ws]\n",
			      "t.yaml:3: ", "ws and wss each need an entry");
	conftest_expect_error("listen:\n"
			      "  - address: 127.0.0.1\n"
			      "    origins: [\"https://a.example\"]\n",
			      "t.yaml:3: ", "only for a WebSocket listener");
	conftest_expect_error("listen:\n"
			      "  - address: 127.0.0.1\n"
			      "    transports: [wss]\n",
			      "t.yaml:2: ", "needs 'cert' and 'key'");
}

Test(ws, an_answer_sent_from_the_message_callback_goes_after_the_feed)
{
	unsigned char f[64];
	size_t n;

	open_session();
	echo = true;
	n = frame(f, 0x81, "abc", 3, true);
	cr_assert_eq(ws_sess_feed(s, (char *)f, n), 0);
	cr_assert_eq(nmsgs, 1);
	cr_assert_eq(outlen, 5);
	cr_assert_eq((unsigned char)out[0], 0x81);
	cr_assert_eq(memcmp(out + 2, "abc", 3), 0);
}
