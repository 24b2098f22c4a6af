/* tests/unit/features/b2b/test_blf.c - BLF for park slots: the
 * dialog-info document (escaping, versions), names and steering, and the
 * notifier on a real pool worker (the test's UDP socket is the proxy
 * every NOTIFY goes to, and plays the subscriber) */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "features/b2b/blf.h"
#include "features/b2b/pool.h"
#include "features/b2b/ua.h"
#include "proxy/base/log.h"
#include "proxy/core/conf.h"
#include "proxy/core/shard.h"
#include "tests/common/ms.h"
#include "tests/common/teardown.h"
#include "tests/unit/poolfix.h"
#include "tests/unit/sections.h"

/* How long a test waits for what must come: a safety net. */
#define WAIT_MS 5000
/* How long it waits to see that nothing comes. */
#define QUIET_MS 300
/* RFC 4235 on a change: the issue's bound for the next NOTIFY. */
#define CHANGE_MS 200

static struct conf *c;
static struct pool *pool;
static int fd = -1; /* the "proxy" and the subscriber */
static uint16_t port;
static unsigned cseq;
static char to_tag[64], contact[128];
/* The proxy's T1 for the next start() (0: the default). */
static unsigned t1_ms;

static void init(void)
{
	log_set_level(LOG_WARN);
	c = NULL;
	pool = NULL;
	fd = -1;
	cseq = 0;
	t1_ms = 0;
	to_tag[0] = contact[0] = '\0';
}

static void fini(void)
{
	pool_stop(pool);
	pool = NULL;
	pool_set_ua(NULL);
	ua_clear_other();
	conf_free(c);
	c = NULL;
	if (fd >= 0)
		close(fd);
	teardown_check_objs(0);
}

TestSuite(blf, .init = init, .fini = fini, .timeout = 30);

/* ---- The document ---- */

Test(blf, free_slot_document_is_full_state_without_dialog)
{
	char buf[1024];
	int n = blf_xml_print(slice_cstr("sip:701@example.com"), 0, NULL, 0,
			      buf, sizeof(buf));

	cr_assert_gt(n, 0);
	cr_assert_eq((size_t)n, strlen(buf));
	cr_assert(strstr(buf, "<dialog-info xmlns=\"urn:ietf:params:xml:ns:"
			      "dialog-info\" version=\"0\" state=\"full\" "
			      "entity=\"sip:701@example.com\">"),
		  "%s", buf);
	cr_assert_null(strstr(buf, "<dialog "), "%s", buf);
	cr_assert(strstr(buf, "</dialog-info>\r\n"), "%s", buf);
}

Test(blf, identity_from_the_network_is_escaped)
{
	struct blf_dialog d = {
		.id = slice_cstr("park-701"),
		.state = BLF_CONFIRMED,
		.local = slice_cstr("sip:701@example.com"),
		.identity = slice_cstr("sip:a<b>&\"'@x"),
		/* a control character and a lone continuation byte */
		.display = slice_cstr("Ev\x01l \x80 </identity> \xc3\xa9"),
	};
	char buf[2048];
	int n = blf_xml_print(slice_cstr("sip:701@example.com"), 42, &d, 1, buf,
			      sizeof(buf));

	cr_assert_gt(n, 0);
	cr_assert(strstr(buf, "version=\"42\""), "%s", buf);
	cr_assert(strstr(buf, "<dialog id=\"park-701\" direction=\"recipient\">"
			      "\r\n<state>confirmed</state>"),
		  "%s", buf);
	cr_assert(strstr(buf, ">sip:a&lt;b&gt;&amp;&quot;&apos;@x</identity>"),
		  "%s", buf);
	/* Valid UTF-8 kept, the rest made harmless. */
	cr_assert(strstr(buf, "display=\"Ev?l ? &lt;/identity&gt; \xc3\xa9\""),
		  "%s", buf);
	cr_assert(strstr(buf, "<local><identity>sip:701@example.com"), "%s",
		  buf);
	cr_assert_null(strstr(buf, "<b>"), "%s", buf);
}

Test(blf, early_state_and_too_small_buffer)
{
	struct blf_dialog d = { .id = slice_cstr("park-702"),
				.state = BLF_EARLY };
	char buf[4096];

	cr_assert_gt(
	    blf_xml_print(slice_cstr("sip:702@x"), 1, &d, 1, buf, sizeof(buf)),
	    0);
	cr_assert(strstr(buf, "<state>early</state>"), "%s", buf);
	cr_assert_null(strstr(buf, "<remote>"), "%s", buf);
	cr_assert_eq(blf_xml_print(slice_cstr("sip:702@x"), 1, &d, 1, buf, 64),
		     -ENOSPC);
	cr_assert_eq(blf_xml_print(slice_cstr("sip:702@x"), 1, &d, 1, buf, 0),
		     -ENOSPC);
}

/* ---- Names and steering ---- */

Test(blf, resolve_defaults_and_case)
{
	cr_assert_eq(blf_resolve(slice_cstr("Example.COM"), slice_cstr("700")),
		     BLF_LOT);
	cr_assert_eq(blf_resolve(slice_cstr("example.com"), slice_cstr("701")),
		     BLF_SLOT);
	cr_assert_eq(blf_resolve(slice_cstr("example.com"), slice_cstr("799")),
		     BLF_SLOT);
	cr_assert_eq(blf_resolve(slice_cstr("example.com"), slice_cstr("800")),
		     BLF_NONE);
	cr_assert_eq(blf_resolve(slice_cstr("example.com"), slice_cstr("0701")),
		     BLF_NONE);
	cr_assert_eq(blf_resolve(slice_cstr("example.com"), slice_cstr("")),
		     BLF_NONE);
	cr_assert_eq(blf_resolve(slice_cstr(""), slice_cstr("701")), BLF_NONE);
}

Test(blf, worker_of_a_domain_ignores_case_and_steer_takes_subscribe_only)
{
	static const char sub[] = "SUBSCRIBE sip:701@Example.COM SIP/2.0\r\n";
	static const char inv[] = "INVITE sip:701@example.com SIP/2.0\r\n";
	unsigned w = blf_worker_of(slice_cstr("example.com"), 7);

	cr_assert_lt(w, 7);
	cr_assert_eq(blf_worker_of(slice_cstr("EXAMPLE.com"), 7), w);
	cr_assert_eq(blf_worker_of(slice_cstr("example.com"), 1), 0);
	cr_assert_eq(blf_steer(sub, sizeof(sub) - 1,
			       slice_cstr("sip:701@Example.COM"), 7),
		     (int)w);
	cr_assert_eq(blf_steer(sub, sizeof(sub) - 1,
			       slice_cstr("sip:alice@example.com"), 7),
		     -1);
	cr_assert_eq(blf_steer(inv, sizeof(inv) - 1,
			       slice_cstr("sip:701@example.com"), 7),
		     -1);
	cr_assert_eq(blf_steer(sub, 3, slice_cstr("sip:701@example.com"), 7),
		     -1);
}

/* ---- The notifier on a pool worker ---- */

static void start(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	char yaml[320];

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	snprintf(yaml, sizeof(yaml),
		 "listen:\n  - address: 127.0.0.1\n    port: %u\n"
		 "    transports: [udp]\nb2b:\n  workers: 1\n%s%u\n",
		 port, t1_ms ? "proxy:\n  t1_ms: " : "#", t1_ms);
	c = sections_load(yaml);
	cr_assert_eq(ua_add_other(blf_request), 0);
	cr_assert_eq(pool_set_ua(&ua_pool), 0);
	cr_assert_eq(pool_start(c, &pool), 0);
}

/* A SUBSCRIBE from alice@@p from_domain to @p ruri (in the dialog when
 * to_tag is set) with @p extra header lines. */
static void subscribe(const char *ruri, const char *from_domain,
		      const char *extra)
{
	char buf[2048];
	int n;

	cseq++;
	n = snprintf(
	    buf, sizeof(buf),
	    "SUBSCRIBE %s SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKsub%u;rport\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: <sip:alice@%s>;tag=alice\r\n"
	    "To: <sip:701@example.com>%s%s\r\n"
	    "Call-ID: blf-test\r\nCSeq: %u SUBSCRIBE\r\n"
	    "Contact: <sip:alice@127.0.0.1:%u>\r\n%s"
	    "Content-Length: 0\r\n\r\n",
	    ruri, port, cseq, from_domain, *to_tag ? ";tag=" : "", to_tag, cseq,
	    port, extra);
	poolfix_send(pool, fd, buf, (size_t)n);
}

/* The next message must start with @p start. */
static const char *expect(const char *start, int ms)
{
	const char *m = poolfix_recv(fd, ms);

	cr_assert(!strncmp(m, start, strlen(start)), "not %s:\n%s", start, m);
	return m;
}

/* Answer the NOTIFY @p m with @p status. */
static void answer(const char *m, unsigned status)
{
	char via[512], from[256], to[256], cid[256], cs[64], buf[2048];
	int n;

	n = snprintf(buf, sizeof(buf),
		     "SIP/2.0 %u X\r\n%s\r\n%s\r\n%s\r\n%s\r\n%s\r\n"
		     "Content-Length: 0\r\n\r\n",
		     status, poolfix_line(m, "Via:", via, sizeof(via)),
		     poolfix_line(m, "From:", from, sizeof(from)),
		     poolfix_line(m, "To:", to, sizeof(to)),
		     poolfix_line(m, "Call-ID:", cid, sizeof(cid)),
		     poolfix_line(m, "CSeq:", cs, sizeof(cs)));
	poolfix_send(pool, fd, buf, (size_t)n);
}

/* Subscribe to slot 701 of example.com: 200, then NOTIFY version 0. */
static void subscribed(void)
{
	const char *m, *p;
	char to[256];

	subscribe("sip:701@Example.com", "example.com",
		  "Event: dialog\r\nExpires: 600\r\n");
	m = expect("SIP/2.0 200 ", WAIT_MS);
	cr_assert(strstr(m, "Expires: 600\r\n"), "%s", m);
	poolfix_line(m, "Contact: <", contact, sizeof(contact));
	cr_assert(strstr(contact, "sip:b2b-0@127.0.0.1:"), "%s", m);
	memmove(contact, contact + 10, strlen(contact + 10) + 1);
	contact[strcspn(contact, ">")] = '\0';
	poolfix_line(m, "To:", to, sizeof(to));
	p = strstr(to, ";tag=");
	cr_assert_not_null(p, "%s", m);
	snprintf(to_tag, sizeof(to_tag), "%s", p + 5);
	m = expect("NOTIFY sip:alice@127.0.0.1:", WAIT_MS);
	cr_assert(strstr(m, "\r\nEvent: dialog\r\n"), "%s", m);
	cr_assert(strstr(m, "\r\nSubscription-State: active;expires="), "%s",
		  m);
	cr_assert(strstr(m, "Content-Type: application/dialog-info+xml\r\n"),
		  "%s", m);
	cr_assert(strstr(m, "version=\"0\" state=\"full\" "
			    "entity=\"sip:701@example.com\""),
		  "%s", m);
	cr_assert_null(strstr(m, "<dialog "), "free slot:\n%s", m);
	cr_assert(strstr(m, ";tag=alice"), "%s", m);
	answer(m, 200);
}

static void park_fn(struct shard *sh, void *arg)
{
	if (sh)
		(void)blf_slot_changed(ua_of(sh), slice_cstr("EXAMPLE.COM"),
				       slice_cstr("701"), BLF_CONFIRMED,
				       slice_cstr("sip:bob@example.com"),
				       slice_cstr(arg));
}

/* Park's record holds the From as sent: a name-addr with its tag. */
static void park_from_fn(struct shard *sh, void *arg)
{
	(void)arg;
	if (sh)
		(void)blf_slot_changed(
		    ua_of(sh), slice_cstr("example.com"), slice_cstr("701"),
		    BLF_EARLY,
		    slice_cstr("\"Carol\" "
			       "<sip:carol@example.com>;tag=9"),
		    slice_make(NULL, 0));
}

static void free_fn(struct shard *sh, void *arg)
{
	(void)arg;
	if (sh)
		(void)blf_slot_changed(
		    ua_of(sh), slice_cstr("example.com"), slice_cstr("701"),
		    BLF_FREE, slice_make(NULL, 0), slice_make(NULL, 0));
}

static atomic_long subs = -1;

static void count_fn(struct shard *sh, void *arg)
{
	(void)arg;
	if (sh)
		atomic_store(&subs, (long)blf_subs(ua_of(sh)));
}

static long subs_now(void)
{
	atomic_store(&subs, -1);
	cr_assert_eq(pool_post(pool, slice_cstr("x"), count_fn, NULL), 0);
	for (int i = 0; i < WAIT_MS / 10 && atomic_load(&subs) < 0; i++)
		ms_sleep(10);
	return atomic_load(&subs);
}

Test(blf, subscribe_change_refresh_unsubscribe_on_a_worker)
{
	const char *m;
	char ruri[160];
	long long t0;

	start();
	subscribed();
	cr_assert_eq(subs_now(), 1);
	/* Park puts bob in 701: the next NOTIFY, version 1, at once. */
	t0 = ms_now();
	cr_assert_eq(pool_post(pool, slice_cstr("x"), park_fn, "Bob <&>"), 0);
	m = expect("NOTIFY ", WAIT_MS);
	cr_log_info("blf: NOTIFY %lld ms after the change", ms_now() - t0);
	cr_assert_leq(ms_now() - t0, CHANGE_MS, "NOTIFY after %lld ms",
		      ms_now() - t0);
	cr_assert(strstr(m, "version=\"1\""), "%s", m);
	cr_assert(strstr(m, "<state>confirmed</state>"), "%s", m);
	cr_assert(strstr(m, "<remote><identity display=\"Bob &lt;&amp;&gt;\">"
			    "sip:bob@example.com</identity>"),
		  "%s", m);
	answer(m, 200);
	/* The same state again: nothing. */
	cr_assert_eq(pool_post(pool, slice_cstr("x"), park_fn, "Bob <&>"), 0);
	m = poolfix_recv(fd, QUIET_MS);
	cr_assert_str_eq(m, "", "%s", m);
	/* Refresh in the dialog (to the Contact): 200 + NOTIFY v2. */
	subscribe(contact, "example.com", "Event: dialog\r\nExpires: 9999\r\n");
	m = expect("SIP/2.0 200 ", WAIT_MS);
	cr_assert(strstr(m, "Expires: 3600\r\n"), "clamped:\n%s", m);
	m = expect("NOTIFY ", WAIT_MS);
	cr_assert(strstr(m, "version=\"2\""), "%s", m);
	cr_assert(strstr(m, "active;expires=3600"), "%s", m);
	answer(m, 200);
	/* Another call parked (as park's record gives it), shown early:
	 * v3, then retrieved: free again, v4 without a dialog. */
	cr_assert_eq(pool_post(pool, slice_cstr("x"), park_from_fn, NULL), 0);
	m = expect("NOTIFY ", WAIT_MS);
	cr_assert(strstr(m, "version=\"3\""), "%s", m);
	cr_assert(strstr(m, "<state>early</state>"), "%s", m);
	cr_assert(strstr(m, "<remote><identity display=\"Carol\">"
			    "sip:carol@example.com</identity>"),
		  "%s", m);
	/* The identity's tag stays out of the body (the NOTIFY's own
	 * From tag is random and may well start with a 9). */
	cr_assert_not_null(strstr(m, "\r\n\r\n"), "%s", m);
	cr_assert_null(strstr(strstr(m, "\r\n\r\n"), ";tag=9"), "%s", m);
	answer(m, 200);
	cr_assert_eq(pool_post(pool, slice_cstr("x"), free_fn, NULL), 0);
	m = expect("NOTIFY ", WAIT_MS);
	cr_assert(strstr(m, "version=\"4\""), "%s", m);
	cr_assert_null(strstr(m, "<dialog "), "%s", m);
	answer(m, 200);
	/* A refresh too brief: 423 + Min-Expires, the subscription stays. */
	subscribe(contact, "example.com", "Event: dialog\r\nExpires: 5\r\n");
	m = expect("SIP/2.0 423 ", WAIT_MS);
	cr_assert(strstr(m, "Min-Expires: 60\r\n"), "%s", m);
	cr_assert_eq(subs_now(), 1);
	/* Unsubscribe: 200, NOTIFY terminated (v5), gone. */
	subscribe(contact, "example.com", "Event: dialog\r\nExpires: 0\r\n");
	m = expect("SIP/2.0 200 ", WAIT_MS);
	m = expect("NOTIFY ", WAIT_MS);
	cr_assert(strstr(m, "Subscription-State: terminated\r\n"), "%s", m);
	cr_assert(strstr(m, "version=\"5\""), "%s", m);
	answer(m, 200);
	cr_assert_eq(subs_now(), 0);
	/* In the dialog that is gone: the pool's 481. */
	snprintf(ruri, sizeof(ruri), "%s", contact);
	subscribe(ruri, "example.com", "Event: dialog\r\nExpires: 60\r\n");
	expect("SIP/2.0 481 ", WAIT_MS);
}

Test(blf, notify_answered_481_ends_the_subscription)
{
	const char *m;

	start();
	subscribed();
	cr_assert_eq(pool_post(pool, slice_cstr("x"), park_fn, "B"), 0);
	m = expect("NOTIFY ", WAIT_MS);
	answer(m, 481);
	for (int i = 0; i < 100 && subs_now() != 0; i++)
		ms_sleep(10);
	cr_assert_eq(subs_now(), 0);
	/* No NOTIFY for the next change. */
	cr_assert_eq(pool_post(pool, slice_cstr("x"), free_fn, NULL), 0);
	m = poolfix_recv(fd, QUIET_MS);
	cr_assert_str_eq(m, "", "%s", m);
}

Test(blf, refusals_489_403_423_406_404)
{
	const char *m;

	start();
	subscribe("sip:701@example.com", "example.com", "Event: presence\r\n");
	m = expect("SIP/2.0 489 ", WAIT_MS);
	cr_assert(strstr(m, "Allow-Events: dialog\r\n"), "%s", m);
	subscribe("sip:701@example.com", "example.com", "");
	expect("SIP/2.0 489 ", WAIT_MS);
	subscribe("sip:701@example.com", "other.example", "Event: dialog\r\n");
	expect("SIP/2.0 403 ", WAIT_MS);
	subscribe("sip:700@example.com", "other.example", "Event: dialog\r\n");
	expect("SIP/2.0 403 ", WAIT_MS);
	subscribe("sip:701@example.com", "example.com",
		  "Event: dialog\r\nExpires: 59\r\n");
	m = expect("SIP/2.0 423 ", WAIT_MS);
	cr_assert(strstr(m, "Min-Expires: 60\r\n"), "%s", m);
	subscribe("sip:701@example.com", "example.com",
		  "Event: dialog\r\nExpires: x\r\n");
	expect("SIP/2.0 400 ", WAIT_MS);
	subscribe("sip:701@example.com", "example.com",
		  "Event: dialog\r\nAccept: application/pidf+xml\r\n");
	expect("SIP/2.0 406 ", WAIT_MS);
	/* Not a park URI: the pool's default answer. */
	subscribe("sip:alice@example.com", "example.com", "Event: dialog\r\n");
	expect("SIP/2.0 501 ", WAIT_MS);
	cr_assert_eq(subs_now(), 0);
}

static void lot_fn(struct shard *sh, void *arg)
{
	(void)arg;
	if (sh)
		(void)blf_lot_changed(ua_of(sh), slice_cstr("example.com"), 3);
}

Test(blf, lot_shows_one_dialog_per_parked_call_and_fetch_ends_at_once)
{
	const char *m;

	start();
	cr_assert_eq(pool_post(pool, slice_cstr("x"), park_fn, "B"), 0);
	/* A fetch (Expires: 0): 200, one NOTIFY terminated, nothing kept. */
	subscribe("sip:700@example.com", "example.com",
		  "Event: dialog\r\nExpires: 0\r\n");
	expect("SIP/2.0 200 ", WAIT_MS);
	m = expect("NOTIFY ", WAIT_MS);
	cr_assert(strstr(m, "Subscription-State: terminated;reason=timeout"),
		  "%s", m);
	cr_assert(strstr(m, "entity=\"sip:700@example.com\""), "%s", m);
	cr_assert(strstr(m, "<dialog id=\"park-701\""), "%s", m);
	cr_assert(strstr(m, "<local><identity>sip:701@example.com<"), "%s", m);
	cr_assert_null(strstr(m, "<remote>"), "lot hides identities:\n%s", m);
	answer(m, 200);
	cr_assert_eq(subs_now(), 0);
	/* Subscribed: park says 3 calls (2 elsewhere): 3 dialogs. */
	to_tag[0] = '\0';
	subscribe("sip:700@example.com", "example.com", "Event: dialog\r\n");
	m = expect("SIP/2.0 200 ", WAIT_MS);
	cr_assert(strstr(m, "Expires: 3600\r\n"), "%s", m);
	m = expect("NOTIFY ", WAIT_MS);
	cr_assert(strstr(m, "version=\"0\""), "%s", m);
	answer(m, 200);
	cr_assert_eq(pool_post(pool, slice_cstr("x"), lot_fn, NULL), 0);
	m = expect("NOTIFY ", WAIT_MS);
	cr_assert(strstr(m, "version=\"1\""), "%s", m);
	cr_assert(strstr(m, "<dialog id=\"park-701\""), "%s", m);
	cr_assert(strstr(m, "<dialog id=\"lot-1\""), "%s", m);
	cr_assert(strstr(m, "<dialog id=\"lot-2\""), "%s", m);
	cr_assert_null(strstr(m, "lot-3"), "%s", m);
	answer(m, 200);
	/* 701 retrieved while park still counts 3: the lot says so. */
	cr_assert_eq(pool_post(pool, slice_cstr("x"), free_fn, NULL), 0);
	m = expect("NOTIFY ", WAIT_MS);
	cr_assert(strstr(m, "version=\"2\""), "%s", m);
	cr_assert_null(strstr(m, "park-701"), "%s", m);
	cr_assert(strstr(m, "<dialog id=\"lot-3\""), "%s", m);
	answer(m, 200);
	/* Parked again: v3; then only the parked identity changes: the
	 * lot, which does not show it, hears nothing. */
	cr_assert_eq(pool_post(pool, slice_cstr("x"), park_fn, "B"), 0);
	m = expect("NOTIFY ", WAIT_MS);
	cr_assert(strstr(m, "version=\"3\""), "%s", m);
	cr_assert(strstr(m, "<dialog id=\"park-701\""), "%s", m);
	answer(m, 200);
	cr_assert_eq(pool_post(pool, slice_cstr("x"), park_fn, "C"), 0);
	m = poolfix_recv(fd, QUIET_MS);
	cr_assert_str_eq(m, "", "%s", m);
}

/* Send @p text as it is (CRLFs written out) to the pool. */
static void raw(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void raw(const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	cr_assert(n > 0 && (size_t)n < sizeof(buf));
	poolfix_send(pool, fd, buf, (size_t)n);
}

#define HEAD                                                          \
	"SUBSCRIBE sip:701@example.com SIP/2.0\r\n"                   \
	"Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKbad%d;rport\r\n" \
	"Max-Forwards: 70\r\nCall-ID: bad%d\r\nCSeq: 1 SUBSCRIBE\r\n"

Test(blf, bad_input_gets_an_answer_and_nothing_is_kept)
{
	char longid[600];
	const char *m;
	int i = 0;

	memset(longid, 'x', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	start();
	/* No Contact: no dialog can be made. */
	raw(HEAD "From: <sip:a@example.com>;tag=a\r\nTo: <sip:701@example.com>"
		 "\r\nEvent: dialog\r\nContent-Length: 0\r\n\r\n",
	    port, i, i);
	i++;
	expect("SIP/2.0 400 ", WAIT_MS);
	/* An Expires beyond 32 bits, an Event id too long (not echoed). */
	raw(HEAD "From: <sip:a@example.com>;tag=a\r\nTo: <sip:701@example.com>"
		 "\r\nContact: <sip:a@127.0.0.1:%u>\r\n"
		 "Event: dialog\r\nExpires: 99999999999999\r\n"
		 "Content-Length: 0\r\n\r\n",
	    port, i, i, port);
	i++;
	expect("SIP/2.0 400 ", WAIT_MS);
	raw(HEAD "From: <sip:a@example.com>;tag=a\r\nTo: <sip:701@example.com>"
		 "\r\nContact: <sip:a@127.0.0.1:%u>\r\n"
		 "Event: dialog;id=%s\r\nContent-Length: 0\r\n\r\n",
	    port, i, i, port, longid);
	i++;
	expect("SIP/2.0 200 ", WAIT_MS);
	m = expect("NOTIFY ", WAIT_MS);
	cr_assert(strstr(m, "\r\nEvent: dialog\r\n"), "%s", m);
	answer(m, 200);
	/* A From that is not a SIP URI: not the lot's domain. */
	raw(HEAD "From: <tel:+123>;tag=a\r\nTo: <sip:701@example.com>"
		 "\r\nContact: <sip:a@127.0.0.1:%u>\r\n"
		 "Event: dialog\r\nContent-Length: 0\r\n\r\n",
	    port, i, i, port);
	i++;
	expect("SIP/2.0 403 ", WAIT_MS);
	/* A slot URI too long for a slot: not a park URI, the pool's 501. */
	raw("SUBSCRIBE sip:%s@example.com SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKbad%d;rport\r\n"
	    "Max-Forwards: 70\r\nCall-ID: bad%d\r\nCSeq: 1 SUBSCRIBE\r\n"
	    "From: <sip:a@example.com>;tag=a\r\nTo: <sip:x@example.com>\r\n"
	    "Event: dialog\r\nContent-Length: 0\r\n\r\n",
	    longid, port, i, i);
	i++;
	expect("SIP/2.0 501 ", WAIT_MS);
	/* The retransmitted SUBSCRIBE gets the same 200, no new NOTIFY. */
	raw(HEAD "From: <sip:a@example.com>;tag=a\r\nTo: <sip:701@example.com>"
		 "\r\nContact: <sip:a@127.0.0.1:%u>\r\n"
		 "Event: dialog;id=%s\r\nContent-Length: 0\r\n\r\n",
	    port, 2, 2, port, longid);
	expect("SIP/2.0 200 ", WAIT_MS);
	m = poolfix_recv(fd, QUIET_MS);
	cr_assert_str_eq(m, "", "%s", m);
	cr_assert_eq(subs_now(), 1);
}

Test(blf, notify_never_answered_ends_the_subscription)
{
	const char *m;
	long long t0;

	t1_ms = 50; /* Timer F = 64 * T1 = 3.2 s */
	start();
	subscribed();
	cr_assert_eq(pool_post(pool, slice_cstr("x"), park_fn, "B"), 0);
	m = expect("NOTIFY ", WAIT_MS);
	cr_assert(strstr(m, "version=\"1\""), "%s", m);
	/* Its retransmissions go unanswered until Timer F. */
	t0 = ms_now();
	while (subs_now() != 0 && ms_now() - t0 < 64 * 50 + WAIT_MS)
		(void)poolfix_recv(fd, 50);
	cr_assert_eq(subs_now(), 0, "still subscribed after %lld ms",
		     ms_now() - t0);
	cr_assert_geq(ms_now() - t0, 64 * 50 - 500, "ended before Timer F");
}
