/* tests/integration/test_park.c - call park end to end: the real sipedge
 * and its B2B pool, callers as hand-made UDP UAs whose RTP the test
 * receives and compares with the built-in WAVs, SIPp for 60 parks at
 * once, park.list over JSON-RPC */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proxy/sip/hdr.h"
#include "proxy/sip/msg.h"
#include "tests/common/mgmtcli.h"
#include "tests/common/ms.h"
#include "tests/common/phone.h"
#include "tests/common/proc.h"
#include "tests/common/rtpe.h"
#include "tests/common/sipp.h"
#include "tests/common/teardown.h"
#include "tests/common/ua.h"

#define MAX_UAS 8

#define FRAME 160
/* Room for the expected sounds, in frames. */
#define MAX_FRAMES 2000

static struct proc_sipedge sp;
static struct phone ph[MAX_UAS];
static unsigned nph;
static struct sipcli_msg *rx;
static pid_t sipp_pid, sipp_pid2;
static struct rtpe_proc rtpe; /* the tests with media: on */

static void setup(void)
{
	memset(&sp, 0, sizeof(sp));
	memset(ph, 0, sizeof(ph));
	nph = 0;
	sipp_pid = sipp_pid2 = 0;
	memset(&rtpe, 0, sizeof(rtpe));
	rx = calloc(1, sizeof(*rx));
	cr_assert(rx);
}

static void teardown(void)
{
	if (sipp_pid > 0)
		proc_kill(sipp_pid);
	if (sipp_pid2 > 0)
		proc_kill(sipp_pid2);
	for (unsigned i = 0; i < nph; i++)
		phone_close(&ph[i]);
	free(rx);
	teardown_sipedge(&sp);
	rtpe_stop(&rtpe);
}

TestSuite(park_call, .init = setup, .fini = teardown, .timeout = 120);

/* One proxy shard (messages to one UA arrive in order), the pool's two
 * workers, T1 100 ms; @p yaml more. The tenants are the two served
 * domains of the test config: localhost and 127.0.0.1. */
static void start(const char *yaml)
{
	char text[2600];

	snprintf(text, sizeof(text), "proxy:\n  t1_ms: 100\n%s",
		 yaml ? yaml : "");
	cr_assert_eq(proc_sipedge_start(&sp, "127.0.0.1", 1, text), 0, "%s",
		     sp.why);
}

/* This suite's phones: Call-IDs "park-...", branches "z9hG4bKpk...",
 * SDP of PCMU and telephone-event. */
static const struct phone_kind kind = { .cid_prefix = "park",
					.branch = "pk",
					.events = true };

/* A phone @p user@@p domain on 127/8 address @p ip, RTP on @p ip too. */
static struct phone *phone(const char *user, const char *domain, const char *ip)
{
	struct phone *p;

	cr_assert_lt(nph, MAX_UAS);
	p = &ph[nph++];
	phone_open(p, &kind, user, domain, ip, sp.port);
	return p;
}

/* @p p hears exactly the sounds @p names (in order) from its first
 * RTP packet, then @p music_frames frames of the sound @p music from
 * its start. */
static void hears_music(struct phone *p, const char *const *names, unsigned n,
			const char *music_name, size_t music_frames)
{
	static uint8_t want[MAX_FRAMES * FRAME], got[MAX_FRAMES * FRAME];
	size_t nf = 0, prompt;

	for (unsigned k = 0; k < n; k++)
		cr_assert(phone_sound(names[k], want, &nf, MAX_FRAMES),
			  "%s is longer than the test's room", names[k]);
	prompt = nf;
	if (music_frames) {
		size_t mf = 0;
		static uint8_t music[MAX_FRAMES * 8 * FRAME];

		cr_assert(phone_sound(music_name, music, &mf, MAX_FRAMES * 8),
			  "%s is longer than the test's room", music_name);
		cr_assert_geq(mf, music_frames);
		cr_assert_leq(nf + music_frames, MAX_FRAMES);
		memcpy(want + nf * FRAME, music, music_frames * FRAME);
		nf += music_frames;
	}
	phone_rtp_frames(p, got, nf);
	for (size_t i = 0; i < nf; i++)
		cr_assert_eq(memcmp(got + i * FRAME, want + i * FRAME, FRAME),
			     0, "frame %zu of %zu differs (%s)", i, nf,
			     i < prompt ? "prompt" : "music");
}

/* hears_music() with the built-in music. */
static void hears(struct phone *p, const char *const *names, unsigned n,
		  size_t music_frames)
{
	hears_music(p, names, n, "music", music_frames);
}

/* park.list [@p domain]: the slots listed, as "domain:slot" words in
 * @p out; returns the count. */
static unsigned park_list(const char *domain, char *out, size_t size)
{
	char why[256], params[128] = "[]";
	json_t *res = NULL, *slots, *e;
	size_t i, o = 0;
	int err;

	if (domain)
		snprintf(params, sizeof(params), "[\"%s\"]", domain);
	err = mgmtcli_rpc(sp.mgmt_port, NULL, "park.list", params, &res, why,
			  sizeof(why));
	cr_assert_eq(err, 0, "park.list: %s", why);
	slots = json_object_get(res, "slots");
	cr_assert(json_is_array(slots));
	out[0] = '\0';
	json_array_foreach(slots, i, e)
	{
		o += (size_t)snprintf(
		    out + o, size - o, "%s%s:%d", o ? " " : "",
		    json_string_value(json_object_get(e, "domain")),
		    (int)json_integer_value(json_object_get(e, "slot")));
		cr_assert_lt(o, size);
		cr_assert_not_null(
		    json_string_value(json_object_get(e, "parked")));
	}
	cr_assert_eq(json_integer_value(json_object_get(res, "count")),
		     (json_int_t)json_array_size(slots));
	i = json_array_size(slots);
	json_decref(res);
	return (unsigned)i;
}

/* The value of metric line @p name in /metrics (exact name, no
 * labels), or -1 when absent. */
static long long metric(const char *name)
{
	char *page = NULL, *l;
	unsigned status = 0;
	long long v = -1;
	size_t n = strlen(name);

	cr_assert_eq(mgmtcli_http(sp.mgmt_port, "GET", "/metrics", NULL, NULL,
				  &status, &page),
		     0);
	cr_assert_eq(status, 200);
	for (l = page; l && *l;
	     l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (!strncmp(l, name, n) && l[n] == ' ') {
			v = atoll(l + n + 1);
			break;
		}
	free(page);
	return v;
}

/* park.list's record of @p p's slot (the only one of its domain)
 * holds its dialog: Call-ID, its tag, its Contact, our tag, the
 * proxy's Record-Route and our CSeq @p cseq. */
static void takeover_fields(const struct phone *p, long long cseq)
{
	char why[256], params[64], tag[80];
	json_t *res = NULL, *e, *d;

	snprintf(params, sizeof(params), "[\"%s\"]", p->ua.domain);
	cr_assert_eq(mgmtcli_rpc(sp.mgmt_port, NULL, "park.list", params, &res,
				 why, sizeof(why)),
		     0, "%s", why);
	e = json_array_get(json_object_get(res, "slots"), 0);
	d = json_object_get(e, "dialog");
	cr_assert_not_null(d);
	snprintf(tag, sizeof(tag), "f%s", p->cid);
	cr_assert_str_eq(json_string_value(json_object_get(e, "call_id")),
			 p->cid);
	cr_assert_str_eq(json_string_value(json_object_get(d, "remote_tag")),
			 tag);
	cr_assert_str_eq(json_string_value(json_object_get(d, "remote_target")),
			 p->ua.contact);
	cr_assert_not_null(
	    strstr(p->to, json_string_value(json_object_get(d, "local_tag"))));
	cr_assert_gt(strlen(json_string_value(json_object_get(d, "local_tag"))),
		     0);
	cr_assert_not_null(
	    strstr(json_string_value(json_object_get(d, "route")), ";lr"));
	cr_assert_eq(json_integer_value(json_object_get(d, "local_cseq")),
		     cseq);
	json_decref(res);
}

/* @p p parks by calling 700: 200 with the pool's SDP, ACK. Returns the
 * pool's RTP port from the answer. */
static unsigned park(struct phone *p)
{
	unsigned port;

	phone_dial(p, "700");
	cr_assert_eq(ua_expect_final(&p->ua, p->cid, "INVITE", rx), 200, "%s",
		     rx->buf);
	port = phone_audio_port(phone_body(rx));
	cr_assert_gt(port, 0, "an SDP answer: %s", rx->buf);
	cr_assert_neq(port, p->rtp_port);
	phone_dialog_of(p, rx);
	phone_in_dialog(p, "ACK");
	return port;
}

static const char *const parked_701[] = { "parked-at", "seven", "zero", "one" };

/* Two tenants park at once: each hears "parked at 7 0 1" then music,
 * and park.list shows each domain's own 701. */
Test(park_call, two_tenants_park_in_their_own_701_and_hear_it)
{
	struct phone *alice, *bob;
	char list[256];

	start(NULL);
	alice = phone("alice", "localhost", "127.0.0.2");
	bob = phone("bob", "127.0.0.1", "127.0.0.3");
	park(alice);
	park(bob);
	hears(alice, parked_701, 4, 25);
	hears(bob, parked_701, 4, 25);
	/* The pool's media engines count what they sent (the two lots may
	 * be on one worker or two). */
	cr_assert_geq(metric("sipedge_b2b_media_tx_total{worker=\"0\"}") +
			  metric("sipedge_b2b_media_tx_total{worker=\"1\"}"),
		      2 * (4 + 25));
	cr_assert_eq(metric("sipedge_b2b_media_sessions{worker=\"0\"}") +
			 metric("sipedge_b2b_media_sessions{worker=\"1\"}"),
		     2);
	cr_assert_geq(metric("sipedge_b2b_media_late_20ms_total{worker=\"0\"}"),
		      0);
	cr_assert_eq(park_list(NULL, list, sizeof(list)), 2, "%s", list);
	cr_assert_str_eq(list, "127.0.0.1:701 localhost:701");
	cr_assert_eq(park_list("LOCALHOST", list, sizeof(list)), 1);
	cr_assert_str_eq(list, "localhost:701");
	takeover_fields(alice, 0);
	/* Hanging up frees the slot at once. */
	phone_bye(alice, rx);
	cr_assert_eq(park_list("localhost", list, sizeof(list)), 0, "%s", list);
	phone_bye(bob, rx);
	cr_assert_eq(park_list(NULL, list, sizeof(list)), 0, "%s", list);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* Copy the built-in sound @p name to @p dir/@p as; its path in @p out. */
static void sound_copy(const char *name, const char *dir, const char *as,
		       char *out, size_t size)
{
	char copy[PATH_MAX], from[PATH_MAX + 64];
	const char *bin = getenv("SIPEDGE_BIN");
	FILE *in, *o;
	char buf[4096];
	size_t n;

	cr_assert_not_null(bin);
	snprintf(copy, sizeof(copy), "%s", bin);
	snprintf(from, sizeof(from), "%s/sounds/%s.wav", dirname(copy), name);
	snprintf(out, size, "%s/%s", dir, as);
	in = fopen(from, "rb");
	o = fopen(out, "wb");
	cr_assert(in && o, "%s -> %s", from, out);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		cr_assert_eq(fwrite(buf, 1, n, o), n);
	fclose(in);
	fclose(o);
}

/* park[].announce and .music: localhost's lot says its own words before
 * the digits and plays its own music (here two built-in sounds copied
 * under other names, so that the test can tell them apart); the other
 * tenant keeps the built-in ones. */
Test(park_call, a_lot_plays_its_own_announce_and_music)
{
	static const char *const own_701[] = { "slot-empty", "seven", "zero",
					       "one" };
	char ann[PROC_PATH_MAX + 16], mus[PROC_PATH_MAX + 16], yaml[2400];
	struct phone *alice, *bob;

	cr_assert_eq(proc_tmpdir(sp.dir, sizeof(sp.dir)), 0);
	sound_copy("slot-empty", sp.dir, "ours.wav", ann, sizeof(ann));
	sound_copy("lot-full", sp.dir, "tune.wav", mus, sizeof(mus));
	snprintf(yaml, sizeof(yaml),
		 "park:\n  - domain: localhost\n    announce: %s\n"
		 "    music: %s\n",
		 ann, mus);
	start(yaml);
	alice = phone("alice", "localhost", "127.0.0.2");
	bob = phone("bob", "127.0.0.1", "127.0.0.3");
	park(alice);
	park(bob);
	hears_music(alice, own_701, 4, "lot-full", 25);
	hears(bob, parked_701, 4, 25);
	phone_bye(alice, rx);
	phone_bye(bob, rx);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* carol dials alice's slot: alice is re-INVITEd with carol's media,
 * carol answered with alice's: the pool's RTP port in neither; BYE
 * from carol ends alice's leg too; the slot is free. */
Test(park_call, retrieve_connects_phone_to_phone_and_bye_ends_both)
{
	struct phone *alice, *carol;
	unsigned pool_rtp;
	char list[256];

	start(NULL);
	alice = phone("alice", "localhost", "127.0.0.2");
	carol = phone("carol", "localhost", "127.0.0.4");
	pool_rtp = park(alice);
	hears(alice, parked_701, 4, 5);
	/* alice gets the re-INVITE with carol's offer (address and port),
	 * carol the 200 with alice's answer; the pool's port in neither. */
	phone_retrieve(carol, "701", alice, alice->cid,
		       PHONE_PORTS | PHONE_HOSTS, pool_rtp, rx);
	cr_assert_eq(park_list(NULL, list, sizeof(list)), 0, "%s", list);
	cr_assert_eq(metric("sipedge_park_retrieved_total"), 1);
	/* carol hangs up: alice gets the BYE. */
	phone_bye(carol, rx);
	phone_gets_bye(alice, alice->cid, rx);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* carol gives up while alice's re-INVITE is under way: alice is
 * re-INVITEd back to the pool's media (its RTP port again), hears
 * music, and stays in 701, where dave retrieves her. */
Test(park_call, a_retriever_who_leaves_puts_the_call_back_in_its_slot)
{
	struct phone *alice, *carol, *dave;
	unsigned pool_rtp;
	char list[256], pp[32];
	uint8_t frames[5 * FRAME];

	start(NULL);
	alice = phone("alice", "localhost", "127.0.0.2");
	carol = phone("carol", "localhost", "127.0.0.4");
	dave = phone("dave", "localhost", "127.0.0.5");
	pool_rtp = park(alice);
	hears(alice, parked_701, 4, 0);
	phone_dial(carol, "701");
	ua_expect_req(&alice->ua, "INVITE", alice->cid, rx);
	phone_cancel(carol);
	cr_assert_eq(ua_expect_final(&carol->ua, carol->cid, "INVITE", rx), 487,
		     "%s", rx->buf);
	phone_ack_failure(carol, rx);
	/* alice answers the re-INVITE carol's offer was in only now (its
	 * retransmission: T1 100 ms, it comes until answered). */
	ua_expect_req(&alice->ua, "INVITE", alice->cid, rx);
	phone_accepts(alice, alice->cid, rx);
	/* Then the pool offers its own media again. */
	ua_expect_req(&alice->ua, "INVITE", alice->cid, rx);
	snprintf(pp, sizeof(pp), "m=audio %u ", pool_rtp);
	cr_assert_not_null(strstr(phone_body(rx), pp), "%s", rx->buf);
	phone_accepts(alice, alice->cid, rx);
	phone_rtp_frames(alice, frames, 5); /* music goes on */
	cr_assert_eq(park_list(NULL, list, sizeof(list)), 1, "%s", list);
	cr_assert_str_eq(list, "localhost:701");
	/* The record follows the pool's CSeq: two re-INVITEs sent. */
	takeover_fields(alice, 2);
	/* Still retrievable. */
	phone_retrieve(dave, "701", alice, alice->cid, 0, 0, rx);
	phone_bye(alice, rx);
	phone_gets_bye(dave, dave->cid, rx);
	cr_assert_eq(park_list(NULL, list, sizeof(list)), 0, "%s", list);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* park.retrieve: the pool calls dave (registered) without SDP, dave's
 * offer goes to alice in a re-INVITE, alice's answer to dave in the
 * ACK; the pool's RTP port in neither; BYE from alice ends dave. */
Test(park_call, park_retrieve_calls_to_and_bridges)
{
	struct phone *alice, *dave;
	unsigned pool_rtp;
	char list[256], why[256], cid[128];
	json_t *res = NULL;

	start(NULL);
	alice = phone("alice", "localhost", "127.0.0.2");
	dave = phone("dave", "localhost", "127.0.0.5");
	cr_assert_eq(ua_register(&dave->ua, "test", 60, rx), 200);
	pool_rtp = park(alice);
	cr_assert_eq(mgmtcli_rpc(sp.mgmt_port, NULL, "park.retrieve",
				 "{\"domain\":\"localhost\",\"slot\":702,"
				 "\"to\":\"dave\"}",
				 &res, why, sizeof(why)),
		     -32002, "%s", why);
	cr_assert_eq(mgmtcli_rpc(sp.mgmt_port, NULL, "park.retrieve",
				 "{\"domain\":\"localhost\",\"slot\":701}",
				 &res, why, sizeof(why)),
		     -32602, "%s", why);
	/* dave: an INVITE without SDP from the slot. */
	phone_called_by_retrieve(sp.mgmt_port,
				 "{\"domain\":\"localhost\",\"slot\":701,"
				 "\"to\":\"dave\"}",
				 dave, rx);
	/* The display name quoted once (the UA core quotes it). */
	cr_assert_not_null(strstr(rx->buf, "From: \"Parked 701\" <sip:701@"),
			   "%s", rx->buf);
	/* alice: a re-INVITE with dave's offer; dave: the ACK with alice's
	 * answer. */
	phone_bridged_late(dave, alice, pool_rtp, cid, sizeof(cid), rx);
	cr_assert_eq(park_list(NULL, list, sizeof(list)), 0, "%s", list);
	cr_assert_eq(metric("sipedge_park_retrieved_total"), 1);
	phone_bye(alice, rx);
	phone_gets_bye(dave, cid, rx);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* What park cannot serve gets a clear answer and parks nothing: no
 * offer (488), no G.711 in the offer (488), another domain's caller
 * dialling a slot (403). */
Test(park_call, what_park_cannot_serve_is_refused)
{
	static const char video_only[] =
	    "v=0\r\no=x 1 1 IN IP4 127.0.0.3\r\ns=-\r\n"
	    "c=IN IP4 127.0.0.3\r\nt=0 0\r\n"
	    "m=audio 40000 RTP/AVP 9\r\na=rtpmap:9 G722/8000\r\n";
	struct phone *alice, *eve;
	char list[256];

	start(NULL);
	alice = phone("alice", "localhost", "127.0.0.2");
	eve = phone("eve", "127.0.0.1", "127.0.0.3");
	/* An empty slot without an offer: no prompt can be played. */
	phone_call(eve, "705", "127.0.0.1", "", "");
	cr_assert_eq(ua_expect_final(&eve->ua, eve->cid, "INVITE", rx), 488,
		     "%s", rx->buf);
	phone_ack_failure(eve, rx);
	phone_call(eve, "700", "127.0.0.1", video_only, "");
	cr_assert_eq(ua_expect_final(&eve->ua, eve->cid, "INVITE", rx), 488,
		     "%s", rx->buf);
	phone_ack_failure(eve, rx);
	cr_assert_eq(park_list(NULL, list, sizeof(list)), 0, "%s", list);
	park(alice);
	phone_call(eve, "701", "localhost", NULL, "");
	cr_assert_eq(ua_expect_final(&eve->ua, eve->cid, "INVITE", rx), 403,
		     "%s", rx->buf);
	phone_ack_failure(eve, rx);
	cr_assert_eq(park_list(NULL, list, sizeof(list)), 1, "%s", list);
	phone_bye(alice, rx);
	cr_assert_eq(park_list(NULL, list, sizeof(list)), 0, "%s", list);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* An empty slot: the "slot empty" prompt as early media, then 480. */
Test(park_call, empty_slot_prompts_then_480)
{
	static const char *const empty[] = { "slot-empty" };
	struct phone *carol;
	char list[64];

	start(NULL);
	carol = phone("carol", "localhost", "127.0.0.4");
	phone_dial(carol, "705");
	cr_assert_eq(ua_expect_final(&carol->ua, carol->cid, "INVITE", rx), 480,
		     "%s", rx->buf);
	phone_ack_failure(carol, rx);
	/* The prompt came before the 480, whole. */
	hears(carol, empty, 1, 0);
	cr_assert_eq(park_list(NULL, list, sizeof(list)), 0, "%s", list);
	cr_assert_eq(metric("sipedge_park_empty_total"), 1);
	/* A bad domain is a JSON-RPC error, not a crash. */
	{
		char why[256];
		json_t *res = NULL;

		cr_assert_eq(mgmtcli_rpc(sp.mgmt_port, NULL, "park.list", "[7]",
					 &res, why, sizeof(why)),
			     -32602, "%s", why);
		cr_assert_eq(mgmtcli_rpc(sp.mgmt_port, NULL, "park.list",
					 "{\"domain\": \"\"}", &res, why,
					 sizeof(why)),
			     -32602, "%s", why);
	}
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* A lot of two slots: the third park hears "lot full" and gets 486,
 * and parks nowhere; the other tenant's lot is not affected. */
Test(park_call, full_lot_prompts_then_486)
{
	static const char *const full[] = { "lot-full" };
	static const char *const parked_702[] = { "parked-at", "seven", "zero",
						  "two" };
	struct phone *a1, *a2, *a3;
	char list[256];

	start("park:\n  - domain: localhost\n    slots: 701-702\n");
	a1 = phone("a1", "localhost", "127.0.0.2");
	a2 = phone("a2", "localhost", "127.0.0.3");
	a3 = phone("a3", "localhost", "127.0.0.4");
	park(a1);
	park(a2);
	hears(a2, parked_702, 4, 0);
	phone_dial(a3, "700");
	cr_assert_eq(ua_expect_final(&a3->ua, a3->cid, "INVITE", rx), 486, "%s",
		     rx->buf);
	phone_ack_failure(a3, rx);
	hears(a3, full, 1, 0);
	cr_assert_eq(park_list(NULL, list, sizeof(list)), 2, "%s", list);
	cr_assert_str_eq(list, "localhost:701 localhost:702");
	/* The counters say so (stats registry, module park). */
	cr_assert_eq(metric("sipedge_park_parked_total"), 2);
	cr_assert_eq(metric("sipedge_park_full_total"), 1);
	cr_assert_eq(metric("sipedge_park_empty_total"), 0);
	cr_assert_eq(metric("sipedge_park_occupied"), 2);
	phone_bye(a1, rx);
	phone_bye(a2, rx);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* 60 SIPp callers dial 700 within a second: 60 distinct slots, 701 to
 * 760, then all free after their BYEs. */
Test(park_call, sixty_parks_at_once_get_sixty_distinct_slots)
{
	struct sipp_cmd c;
	char list[2048], want[16];
	unsigned n = 0;

	start(NULL);
	sipp_cmd_uac(&c, "uac_park.xml", sp.port, 0, "u1");
	sipp_cmd_args(&c, "-s", "700", "-key", "domain", "127.0.0.1", NULL);
	sipp_cmd_opt(&c, "-m", "60");
	sipp_cmd_opt(&c, "-r", "60");
	sipp_cmd_opt(&c, "-l", "60");
	/* Parked for 6 s: time to list them while all are there. */
	sipp_cmd_opt(&c, "-d", "6000");
	sipp_cmd_errors(&c, "parkers");
	sipp_pid = sipp_spawn(c.argv, sp.dir, "parkers");
	/* Bounded: 50 polls of 100 ms. */
	for (unsigned i = 0; i < 50 && n < 60; i++) {
		n = park_list("127.0.0.1", list, sizeof(list));
		if (n < 60)
			usleep(100 * 1000); /* the calls are still arriving */
	}
	cr_assert_eq(n, 60, "%s", list);
	for (unsigned s = 701; s <= 760; s++) {
		snprintf(want, sizeof(want), "127.0.0.1:%u", s);
		cr_assert_not_null(strstr(list, want), "%s missing: %s", want,
				   list);
	}
	sipp_ok(&sipp_pid, 30000, sp.dir, "parkers", sp.log);
	cr_assert_eq(park_list(NULL, list, sizeof(list)), 0, "%s", list);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* A dialog as its UAS (@p p answered its INVITE with phone_answer_sdp())
 * sees it: what an in-dialog request of ours needs (RFC 3261 §12.1.1:
 * the route set is the Record-Route in order). */
struct uas_dlg {
	char cid[128], from[512], to[512], target[256], route[1024];
	unsigned cseq;
};

static void uas_dialog_of(struct uas_dlg *d, const struct sipcli_msg *r)
{
	char c[512], to[480], *lt, *gt;
	size_t o = 0;

	memset(d, 0, sizeof(*d));
	sipcli_hdr_str(r, HDR_CALL_ID, d->cid, sizeof(d->cid));
	sipcli_hdr_str(r, HDR_FROM, d->to, sizeof(d->to));
	sipcli_hdr_str(r, HDR_TO, to, sizeof(to));
	snprintf(d->from, sizeof(d->from), "%s;tag=callee", to);
	sipcli_hdr_str(r, HDR_CONTACT, c, sizeof(c));
	lt = strchr(c, '<');
	gt = lt ? strchr(lt, '>') : NULL;
	cr_assert(lt && gt, "Contact: %s", c);
	*gt = '\0';
	snprintf(d->target, sizeof(d->target), "%s", lt + 1);
	for (unsigned i = 0; i < r->m.nhdrs; i++)
		if (r->m.hdrs[i].id == HDR_RECORD_ROUTE) {
			o += (size_t)snprintf(
			    d->route + o, sizeof(d->route) - o,
			    "Route: %.*s\r\n", (int)r->m.hdrs[i].value.len,
			    r->m.hdrs[i].value.p);
			cr_assert_lt(o, sizeof(d->route));
		}
}

/* The final NOTIFY of the refer subscription in dialog @p d from @p p:
 * sipfrag @p frag (RFC 3515 §2.4.5). */
static void notify_frag(struct phone *p, struct uas_dlg *d, const char *frag)
{
	char req[4096];
	unsigned cseq = ++d->cseq;
	int n;

	n = snprintf(req, sizeof(req),
		     "NOTIFY %s SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP %s:%u;rport;branch=z9hG4bKnf%s%u\r\n"
		     "Max-Forwards: 70\r\n"
		     "%s"
		     "From: %s\r\nTo: %s\r\n"
		     "Call-ID: %s\r\nCSeq: %u NOTIFY\r\n"
		     "Contact: <%s>\r\n"
		     "Event: refer\r\n"
		     "Subscription-State: terminated;reason=noresource\r\n"
		     "Content-Type: message/sipfrag;version=2.0\r\n"
		     "Content-Length: %zu\r\n\r\n%s",
		     d->target, p->ua.ip, p->ua.port, d->cid, cseq, d->route,
		     d->from, d->to, d->cid, cseq, p->ua.contact, strlen(frag),
		     frag);
	cr_assert_lt(n, (int)sizeof(req));
	ua_send(&p->ua, req, (size_t)n);
}

/* Field @p key of slot @p slot of @p domain in park.list, into @p out;
 * fails the test when the slot is not listed. */
static void park_field(const char *domain, unsigned slot, const char *key,
		       char *out, size_t size)
{
	char why[256], params[128];
	json_t *res = NULL, *e;
	size_t i;
	bool found = false;

	snprintf(params, sizeof(params), "[\"%s\"]", domain);
	cr_assert_eq(mgmtcli_rpc(sp.mgmt_port, NULL, "park.list", params, &res,
				 why, sizeof(why)),
		     0, "%s", why);
	json_array_foreach(json_object_get(res, "slots"), i, e)
	{
		if (json_integer_value(json_object_get(e, "slot")) != slot)
			continue;
		snprintf(out, size, "%s",
			 json_string_value(json_object_get(e, key)) ?: "");
		found = true;
	}
	json_decref(res);
	cr_assert(found, "%s slot %u is not listed", domain, slot);
}

/* @p p, a transferee sent by alice@@p domain, calls @p slot (or the
 * code) of @p domain: the INVITE carries Referred-By (RFC 3892). */
static void transferee_calls(struct phone *p, const char *user,
			     const char *domain)
{
	char hdr[128];

	snprintf(hdr, sizeof(hdr), "Referred-By: <sip:alice@%s>\r\n", domain);
	phone_call(p, user, domain, NULL, hdr);
}

/* The transferor's phone @p p gets the pool's MESSAGE "Parked N" from
 * <sip:N@@p domain> (answers 200); nothing else. */
static void told_by_message(struct phone *p, unsigned slot, const char *domain)
{
	char v[256], want[64];

	cr_assert_eq(ua_recv(&p->ua, rx, UA_WAIT_MS), 0, "no MESSAGE");
	cr_assert(rx->m.is_request &&
		      slice_eq(rx->m.method_name, SLICE_LIT("MESSAGE")),
		  "%s", rx->buf);
	snprintf(want, sizeof(want), "Parked %u", slot);
	cr_assert(slice_eq(rx->m.body, slice_cstr(want)), "%s", rx->buf);
	sipcli_hdr_str(rx, HDR_FROM, v, sizeof(v));
	snprintf(want, sizeof(want), "<sip:%u@%s>", slot, domain);
	cr_assert_not_null(strstr(v, want), "%s", rx->buf);
	ua_respond(&p->ua, rx, 200, "OK", NULL);
}

/* One tenant's blind transfer: alice (SIPp, REFER, her registered
 * phone gets the MESSAGEs), bob (registered, the transferee), carol
 * and dave (transferees of the later transfers, from the other
 * tenant's domain), in domain dom. */
struct blind {
	const char *dom;
	struct phone *alice, *bob, *carol, *dave;
	struct uas_dlg ab;
};

/* Set up @p b's call: SIPp alice (pid in *@p pid, its files @p name)
 * calls bob, who answers, then REFERs him to 700 (202). */
static void blind_refer(struct blind *b, pid_t *pid, const char *name)
{
	struct sipp_cmd c;
	char v[300], want[128];

	cr_assert_eq(ua_register(&b->bob->ua, "test", 60, rx), 200);
	cr_assert_eq(ua_register(&b->alice->ua, "test", 60, rx), 200);
	sipp_cmd_uac(&c, "uac_park_refer.xml", sp.port, 0, "u1");
	sipp_cmd_args(&c, "-s", "bob", "-key", "domain", b->dom, "-key", "code",
		      "700", NULL);
	sipp_cmd_opt(&c, "-m", "1");
	sipp_cmd_errors(&c, name);
	*pid = sipp_spawn(c.argv, sp.dir, name);
	/* bob answers alice. */
	phone_first_invite(b->bob, rx);
	uas_dialog_of(&b->ab, rx);
	phone_accepts(b->bob, b->ab.cid, rx);
	/* alice: REFER to 700, by her. */
	ua_expect_req(&b->bob->ua, "REFER", b->ab.cid, rx);
	sipcli_hdr_str(rx, HDR_REFER_TO, v, sizeof(v));
	snprintf(want, sizeof(want), "<sip:700@%s>", b->dom);
	cr_assert_str_eq(v, want);
	sipcli_hdr_str(rx, HDR_REFERRED_BY, v, sizeof(v));
	snprintf(want, sizeof(want), "<sip:alice@%s>", b->dom);
	cr_assert_str_eq(v, want);
	ua_respond(&b->bob->ua, rx, 202, "Accepted", b->bob->ua.contact);
}

/* bob's INVITE to 700 (sent by transferee_calls()) gets "200 Parked
 * 701": ACK. */
static void blind_parked(struct blind *b)
{
	cr_assert_eq(ua_expect_final(&b->bob->ua, b->bob->cid, "INVITE", rx),
		     200, "%s", rx->buf);
	cr_assert(slice_eq(rx->m.reason, SLICE_LIT("Parked 701")), "%s",
		  rx->buf);
	phone_dialog_of(b->bob, rx);
	phone_in_dialog(b->bob, "ACK");
}

/* (alice told 701 by MESSAGE, answered at once:) bob hears it and
 * music, tells alice by NOTIFY, and alice (SIPp, *@p pid) is done with bob's
 * first call; park.list has @p b's 701 with alice as the parker, bob parked. */
static void blind_told(struct blind *b, pid_t *pid, const char *name)
{
	char v[300], want[128];

	hears(b->bob, parked_701, 4, 2);
	/* ... and tells alice how it went. */
	notify_frag(b->bob, &b->ab, "SIP/2.0 200 Parked 701\r\n");
	cr_assert_eq(ua_expect_final(&b->bob->ua, b->ab.cid, "NOTIFY", rx), 200,
		     "%s", rx->buf);
	/* alice is done with bob's first call. */
	phone_gets_bye(b->bob, b->ab.cid, rx);
	sipp_ok(pid, 10000, sp.dir, name, sp.log);
	park_field(b->dom, 701, "parker", v, sizeof(v));
	snprintf(want, sizeof(want), "sip:alice@%s", b->dom);
	cr_assert_str_eq(v, want);
	park_field(b->dom, 701, "parked", v, sizeof(v));
	snprintf(want, sizeof(want), "sip:bob@%s", b->dom);
	cr_assert_not_null(strstr(v, want), "%s", v);
}

/* A blind transfer to 700, done with REFER through the proxy, for two
 * tenants at once (localhost and 127.0.0.1; both calls set up, then
 * both parked, then both checked): in each, SIPp alice calls bob,
 * REFERs him to 700; bob's INVITE to 700 (Referred-By alice) gets
 * "200 Parked 701" (each tenant's own 701), his NOTIFY tells alice the
 * slot (SIPp checks the sipfrag); park.list has alice as the parker.
 * Then in each a transfer to the occupied 701 (by a phone of the other
 * domain) gets "486 Slot Occupied" and bob stays; one to the free 705
 * parks there. */
Test(park_call, blind_transfer_parks_and_tells_the_parker_the_slot)
{
	struct blind t[2] = { { .dom = "localhost" }, { .dom = "127.0.0.1" } };
	pid_t *pids[2] = { &sipp_pid, &sipp_pid2 };
	const char *names[2] = { "alice", "alice2" };
	char list[256], v[300], want[128];

	start(NULL);
	t[0].bob = phone("bob", "localhost", "127.0.0.3");
	t[0].carol = phone("carol", "127.0.0.1", "127.0.0.4");
	t[0].dave = phone("dave", "127.0.0.1", "127.0.0.5");
	/* alice's desk phone: SIPp plays her REFER, the MESSAGEs that tell
	 * her the slot reach her registered phone. */
	t[0].alice = phone("alice", "localhost", "127.0.0.6");
	t[1].bob = phone("bob", "127.0.0.1", "127.0.0.7");
	t[1].carol = phone("carol", "localhost", "127.0.0.8");
	t[1].dave = phone("dave", "localhost", "127.0.0.9");
	t[1].alice = phone("alice", "127.0.0.1", "127.0.0.10");
	for (int i = 0; i < 2; i++)
		blind_refer(&t[i], pids[i], names[i]);
	/* Each bob does what he is told: INVITE 700, Referred-By alice. */
	for (int i = 0; i < 2; i++)
		transferee_calls(t[i].bob, "700", t[i].dom);
	for (int i = 0; i < 2; i++)
		blind_parked(&t[i]);
	/* Each alice answers her MESSAGE before the pool retransmits it. */
	for (int i = 0; i < 2; i++)
		told_by_message(t[i].alice, 701, t[i].dom);
	for (int i = 0; i < 2; i++)
		blind_told(&t[i], pids[i], names[i]);
	cr_assert_eq(park_list(NULL, list, sizeof(list)), 2, "%s", list);
	cr_assert_str_eq(list, "127.0.0.1:701 localhost:701");
	for (int i = 0; i < 2; i++) {
		struct blind *b = &t[i];

		/* A transfer to the taken 701: refused, bob stays in it. */
		transferee_calls(b->carol, "701", b->dom);
		cr_assert_eq(
		    ua_expect_final(&b->carol->ua, b->carol->cid, "INVITE", rx),
		    486, "%s", rx->buf);
		cr_assert(slice_eq(rx->m.reason, SLICE_LIT("Slot Occupied")),
			  "%s", rx->buf);
		phone_ack_failure(b->carol, rx);
		ua_nothing_for(&b->bob->ua, b->bob->cid, rx);
		/* One to the free 705 parks there. */
		transferee_calls(b->dave, "705", b->dom);
		cr_assert_eq(
		    ua_expect_final(&b->dave->ua, b->dave->cid, "INVITE", rx),
		    200, "%s", rx->buf);
		cr_assert(slice_eq(rx->m.reason, SLICE_LIT("Parked 705")), "%s",
			  rx->buf);
		phone_dialog_of(b->dave, rx);
		phone_in_dialog(b->dave, "ACK");
		/* The refused transfer told alice nothing; this one 705. */
		told_by_message(b->alice, 705, b->dom);
		cr_assert_eq(park_list(b->dom, list, sizeof(list)), 2, "%s",
			     list);
		snprintf(want, sizeof(want), "%s:701 %s:705", b->dom, b->dom);
		cr_assert_str_eq(list, want);
		park_field(b->dom, 701, "parked", v, sizeof(v));
		snprintf(want, sizeof(want), "sip:bob@%s", b->dom);
		cr_assert_not_null(strstr(v, want), "%s", v);
	}
	cr_assert_eq(metric("sipedge_park_refused_total"), 2);
	for (int i = 0; i < 2; i++) {
		phone_bye(t[i].bob, rx);
		phone_bye(t[i].dave, rx);
	}
	cr_assert_eq(park_list(NULL, list, sizeof(list)), 0, "%s", list);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* The comeback (park.timeout_s, comeback_ring_s, fallback). alice, the
 * parker, and op, the fallback, are SIPp callees at fixed ports the
 * proxy routes to (locations:); bob, the parked party, is the test's UA
 * transferred into park by alice (Referred-By: the parker). */
static uint16_t alice_port, op_port;

static void start_comeback(bool fallback)
{
	char yaml[1024];

	cr_assert_eq(proc_free_port("127.0.0.1", &alice_port), 0);
	cr_assert_eq(proc_free_port("127.0.0.1", &op_port), 0);
	snprintf(yaml, sizeof(yaml),
		 "park:\n  - domain: localhost\n    timeout_s: 2\n"
		 "    comeback_ring_s: 2\n%s"
		 "locations:\n"
		 "  - aor: alice@localhost\n"
		 "    contacts: [\"sip:alice@127.0.0.1:%u\"]\n"
		 "  - aor: op@localhost\n"
		 "    contacts: [\"sip:op@127.0.0.1:%u\"]\n",
		 fallback ? "    fallback: sip:op@localhost\n" : "", alice_port,
		 op_port);
	start(yaml);
}

/* A SIPp callee @p who on @p port playing @p scenario @p calls times
 * (the parker: its MESSAGE is a call too). */
static pid_t callee(const char *scenario, uint16_t port, const char *who,
		    unsigned calls)
{
	struct sipp_cmd c;
	pid_t pid;

	sipp_cmd_uas(&c, scenario, port, "u1");
	sipp_cmd_opt(&c, "-m", "%u", calls);
	sipp_cmd_opt(&c, "-s", "%s", who);
	sipp_cmd_errors(&c, who);
	pid = sipp_spawn(c.argv, sp.dir, who);
	sipp_bound(port, "u1");
	return pid;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Request @p method of @p cid on @p u within @p ms (bounded: at most
 * 200 messages), left in @p r. */
static void wait_req(struct ua *u, const char *method, const char *cid,
		     struct sipcli_msg *r, int ms)
{
	long long end = now_ms() + ms;
	char got[128];

	for (int i = 0; i < 200 && now_ms() < end; i++) {
		if (ua_recv(u, r, (int)(end - now_ms())) != 0)
			break;
		sipcli_hdr_str(r, HDR_CALL_ID, got, sizeof(got));
		if (r->m.is_request &&
		    slice_eq(r->m.method_name, slice_cstr(method)) &&
		    !strcmp(got, cid))
			return;
	}
	cr_assert_fail("no %s for %s within %d ms", method, cid, ms);
}

/* bob, sent by alice, parks in 701: "200 Parked 701". */
static struct phone *bob_parks(void)
{
	struct phone *bob = phone("bob", "localhost", "127.0.0.3");
	char v[300];

	transferee_calls(bob, "700", "localhost");
	cr_assert_eq(ua_expect_final(&bob->ua, bob->cid, "INVITE", rx), 200,
		     "%s", rx->buf);
	cr_assert(slice_eq(rx->m.reason, SLICE_LIT("Parked 701")), "%s",
		  rx->buf);
	phone_dialog_of(bob, rx);
	phone_in_dialog(bob, "ACK");
	park_field("localhost", 701, "parker", v, sizeof(v));
	cr_assert_str_eq(v, "sip:alice@localhost");
	return bob;
}

/* The comeback's answerer's offer reaches bob in a re-INVITE; bob
 * answers; the slot is free. */
static void bob_bridged(struct phone *bob)
{
	char list[64];

	cr_assert_not_null(strstr(phone_body(rx), "m=audio 40404 "), "%s",
			   rx->buf);
	phone_accepts(bob, bob->cid, rx);
	cr_assert_eq(park_list(NULL, list, sizeof(list)), 0, "%s", list);
}

/* The comeback's re-INVITE reaches bob within @p wait_ms, at least
 * @p min_ms after @p t0 (the @p what came after that): bridged. */
static void bob_rung_back(struct phone *bob, long long t0, int wait_ms,
			  long long min_ms, const char *what)
{
	long long dt;

	wait_req(&bob->ua, "INVITE", bob->cid, rx, wait_ms);
	dt = now_ms() - t0;
	cr_assert_geq(dt, min_ms, "the %s came after %lld ms", what, dt);
	bob_bridged(bob);
}

/* One park timed out, @p gave_up of them given up. */
static void timed_out(long long gave_up)
{
	cr_assert_eq(metric("sipedge_park_timeout_total"), 1);
	cr_assert_eq(metric("sipedge_park_gave_up_total"), gave_up);
}

/* timeout_s 2: alice (SIPp) is called at ~2 s from "Parked 701: bob",
 * answers with her offer, which bob gets in a re-INVITE: bridged, the
 * slot freed; bob's BYE reaches alice. */
Test(park_call, timeout_rings_the_parker_who_answers_and_is_bridged)
{
	struct phone *bob;
	long long t0;

	start_comeback(true);
	sipp_pid = callee("uas_park_comeback.xml", alice_port, "alice", 2);
	bob = bob_parks();
	t0 = now_ms();
	hears(bob, parked_701, 4, 5);
	bob_rung_back(bob, t0, 15000, 1800, "comeback");
	timed_out(0);
	phone_bye(bob, rx);
	sipp_ok(&sipp_pid, 10000, sp.dir, "alice", sp.log);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* alice does not answer: CANCELled after comeback_ring_s, then the
 * fallback op is called (the same caller ID) and answers: bridged. */
Test(park_call, an_unanswered_comeback_goes_to_the_fallback)
{
	struct phone *bob;

	start_comeback(true);
	sipp_pid = callee("uas_park_noanswer.xml", alice_port, "alice", 2);
	sipp_pid2 = callee("uas_park_comeback.xml", op_port, "op", 1);
	bob = bob_parks();
	bob_rung_back(bob, now_ms(), 20000, 3600, "fallback");
	sipp_ok(&sipp_pid, 10000, sp.dir, "alice", sp.log);
	timed_out(0);
	phone_bye(bob, rx);
	sipp_ok(&sipp_pid2, 10000, sp.dir, "op", sp.log);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* No fallback, alice does not answer: bob gets a BYE with a Reason
 * (RFC 3326) and the slot is free. */
Test(park_call, an_unanswered_comeback_without_fallback_hangs_up)
{
	struct phone *bob;
	char list[64], reason[128];

	start_comeback(false);
	sipp_pid = callee("uas_park_noanswer.xml", alice_port, "alice", 2);
	bob = bob_parks();
	wait_req(&bob->ua, "BYE", bob->cid, rx, 20000);
	sipcli_hdr_str(rx, HDR_REASON, reason, sizeof(reason));
	cr_assert_not_null(strstr(reason, "cause=480"), "%s", rx->buf);
	ua_respond(&bob->ua, rx, 200, "OK", NULL);
	sipp_ok(&sipp_pid, 10000, sp.dir, "alice", sp.log);
	cr_assert_eq(park_list(NULL, list, sizeof(list)), 0, "%s", list);
	timed_out(1);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* carol parks herself (no Referred-By: she is her own parker): at the
 * timeout there is nobody to ring back, and without a fallback her
 * call is hung up; nothing reaches alice. */
Test(park_call, a_self_park_is_not_rung_back_and_times_out)
{
	struct phone *carol;
	char list[64];

	start_comeback(false);
	carol = phone("carol", "localhost", "127.0.0.4");
	park(carol);
	wait_req(&carol->ua, "BYE", carol->cid, rx, 15000);
	ua_respond(&carol->ua, rx, 200, "OK", NULL);
	cr_assert_eq(park_list(NULL, list, sizeof(list)), 0, "%s", list);
	timed_out(1);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

static void tag_of(const char *v, char *out, size_t size);

/* bob INVITEs 700 of alice's domain with Replaces naming alice's
 * parked call (as alice's REFER told him), Referred-By alice. */
static void replaces_parker(struct phone *bob, const struct phone *alice)
{
	char hdr[512], tag[80];

	tag_of(alice->to, tag, sizeof(tag));
	snprintf(hdr, sizeof(hdr),
		 "Replaces: %s;to-tag=%s;from-tag=f%s\r\n"
		 "Referred-By: <sip:alice@%s>\r\n",
		 alice->cid, tag, alice->cid, alice->ua.domain);
	phone_call(bob, "700", alice->ua.domain, NULL, hdr);
}

/* Attended transfer completed into park (RFC 3891), for two tenants at
 * once (localhost and 127.0.0.1; both consultation calls parked, then
 * both transfers completed, then both checked): in each, alice's
 * consultation call to 700 is parked in her domain's 701; bob, whom
 * alice transfers, INVITEs 700 with Replaces naming that dialog:
 * "200 Parked 701", alice's leg gets BYE, bob is the parked party
 * (parker alice) and hears music. A Replaces naming no dialog of
 * park's gets 481 and parks nothing. */
Test(park_call, attended_transfer_puts_the_transferee_in_the_parkers_place)
{
	static const char *const dom[2] = { "localhost", "127.0.0.1" };
	struct phone *alice[2], *bob[2], *carol;
	char list[128], v[300], want[128];

	start(NULL);
	alice[0] = phone("alice", dom[0], "127.0.0.2");
	bob[0] = phone("bob", dom[0], "127.0.0.3");
	alice[1] = phone("alice", dom[1], "127.0.0.5");
	bob[1] = phone("bob", dom[1], "127.0.0.6");
	carol = phone("carol", "localhost", "127.0.0.4");
	for (int i = 0; i < 2; i++)
		park(alice[i]);
	for (int i = 0; i < 2; i++)
		hears(alice[i], parked_701, 4, 0);
	for (int i = 0; i < 2; i++)
		replaces_parker(bob[i], alice[i]);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(
		    ua_expect_final(&bob[i]->ua, bob[i]->cid, "INVITE", rx),
		    200, "%s %s", dom[i], rx->buf);
		cr_assert(slice_eq(rx->m.reason, SLICE_LIT("Parked 701")),
			  "%s %s", dom[i], rx->buf);
		phone_dialog_of(bob[i], rx);
		phone_in_dialog(bob[i], "ACK");
	}
	for (int i = 0; i < 2; i++) {
		/* The replaced leg ends (RFC 3891 §3). */
		ua_expect_req(&alice[i]->ua, "BYE", alice[i]->cid, rx);
		sipcli_hdr_str(rx, HDR_REASON, v, sizeof(v));
		cr_assert_not_null(strstr(v, "Replaced"), "%s", rx->buf);
		ua_respond(&alice[i]->ua, rx, 200, "OK", NULL);
	}
	for (int i = 0; i < 2; i++)
		hears(bob[i], NULL, 0, 5);
	cr_assert_eq(park_list(NULL, list, sizeof(list)), 2, "%s", list);
	cr_assert_str_eq(list, "127.0.0.1:701 localhost:701");
	for (int i = 0; i < 2; i++) {
		park_field(dom[i], 701, "parked", v, sizeof(v));
		snprintf(want, sizeof(want), "sip:bob@%s", dom[i]);
		cr_assert_not_null(strstr(v, want), "%s", v);
		park_field(dom[i], 701, "parker", v, sizeof(v));
		snprintf(want, sizeof(want), "sip:alice@%s", dom[i]);
		cr_assert_str_eq(v, want);
		park_field(dom[i], 701, "call_id", v, sizeof(v));
		cr_assert_str_eq(v, bob[i]->cid);
	}
	/* No such dialog: 481, nothing parked. */
	phone_call(carol, "700", "localhost", NULL,
		   "Replaces: nosuch;to-tag=a;from-tag=b\r\n");
	cr_assert_eq(ua_expect_final(&carol->ua, carol->cid, "INVITE", rx), 481,
		     "%s", rx->buf);
	phone_ack_failure(carol, rx);
	cr_assert_eq(park_list(NULL, list, sizeof(list)), 2, "%s", list);
	for (int i = 0; i < 2; i++) {
		phone_bye(bob[i], rx);
	}
	cr_assert_eq(park_list(NULL, list, sizeof(list)), 0, "%s", list);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* park.park and *7 (issue #13): one party of a call the proxy carries
 * is taken over by the pool with an INVITE with Replaces (RFC 3891). */

/* park.park waits for the party's answer: it runs on a thread of its
 * own while the test answers for the party. */
struct pending_park {
	uint16_t port;
	char params[512];
	int rc;
	char why[256];
	json_t *res;
};

static void *park_in_background(void *arg)
{
	struct pending_park *pp = arg;

	pp->rc = mgmtcli_rpc(pp->port, NULL, "park.park", pp->params, &pp->res,
			     pp->why, sizeof(pp->why));
	return NULL;
}

/* park.park @p params (JSON) at once: its error code (0: parked) and
 * the why; the result freed. */
static int park_park(const char *params, char *why, size_t size)
{
	json_t *res = NULL;
	int rc = mgmtcli_rpc(sp.mgmt_port, NULL, "park.park", params, &res, why,
			     size);

	json_decref(res);
	return rc;
}

/* A request @p method from the UAS side of dialog @p d, with body
 * @p body of type @p ctype (NULL: none). */
static void uas_req_body(struct phone *p, struct uas_dlg *d, const char *method,
			 const char *ctype, const char *body)
{
	char req[4096], ct[128] = "";
	unsigned cseq = ++d->cseq;
	int n;

	if (ctype)
		snprintf(ct, sizeof(ct), "Content-Type: %s\r\n", ctype);
	n = snprintf(req, sizeof(req),
		     "%s %s SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP %s:%u;rport;branch=z9hG4bKub%s%s%u\r\n"
		     "Max-Forwards: 70\r\n"
		     "%s"
		     "From: %s\r\nTo: %s\r\n"
		     "Call-ID: %s\r\nCSeq: %u %s\r\n"
		     "%s"
		     "Content-Length: %zu\r\n\r\n%s",
		     method, d->target, p->ua.ip, p->ua.port, d->cid, method,
		     cseq, d->route, d->from, d->to, d->cid, cseq, method, ct,
		     body ? strlen(body) : 0, body ? body : "");
	cr_assert_lt(n, (int)sizeof(req));
	ua_send(&p->ua, req, (size_t)n);
}

/* A request @p method without body from the UAS side of dialog @p d. */
static void uas_req(struct phone *p, struct uas_dlg *d, const char *method)
{
	uas_req_body(p, d, method, NULL, NULL);
}

/* INFO from the caller @p p in its dialog with body @p body of type
 * @p ctype. */
static void info(struct phone *p, const char *ctype, const char *body)
{
	char req[2048];
	unsigned cseq = ++p->cseq;
	int n;

	n = snprintf(req, sizeof(req),
		     "INFO %s SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP %s:%u;rport;branch=z9hG4bKin%s%u\r\n"
		     "Max-Forwards: 70\r\n"
		     "From: <sip:%s@%s>;tag=f%s\r\n"
		     "To: %s\r\n"
		     "Call-ID: %s\r\nCSeq: %u INFO\r\n"
		     "%s"
		     "Content-Type: %s\r\n"
		     "Content-Length: %zu\r\n\r\n%s",
		     p->target, p->ua.ip, p->ua.port, p->cid, cseq, p->ua.user,
		     p->ua.domain, p->cid, p->to, p->cid, cseq, p->route, ctype,
		     strlen(body), body);
	cr_assert_lt(n, (int)sizeof(req));
	ua_send(&p->ua, req, (size_t)n);
}

/* @p caller calls @p callee (registered, same domain); the callee
 * answers: the caller's dialog in @p caller, the callee's in @p d. */
static void connect_call(struct phone *caller, struct phone *callee,
			 struct uas_dlg *d)
{
	phone_dial(caller, callee->ua.user);
	phone_first_invite(callee, rx);
	uas_dialog_of(d, rx);
	phone_answer_sdp(callee, rx);
	phone_established(caller, rx);
	ua_expect_req(&callee->ua, "ACK", d->cid, rx);
}

/* The tag of name-addr-with-params @p v into @p out. */
static void tag_of(const char *v, char *out, size_t size)
{
	const char *t = strstr(v, "tag=");
	size_t n;

	cr_assert_not_null(t, "%s", v);
	n = strcspn(t + 4, ";> \r\n");
	cr_assert_lt(n, size);
	memcpy(out, t + 4, n);
	out[n] = '\0';
}

/* @p p, a party of dialog @p cid with tag @p own (its peer's
 * @p peer), gets the pool's INVITE with Replaces naming it (RFC 3891
 * §6.1: its own tag is the to-tag) from "Parked N" <sip:N@@p domain>,
 * with the pool's offer; left in rx. */
static void gets_replaces_of(struct phone *p, const char *cid, const char *own,
			     const char *peer, unsigned slot,
			     const char *domain)
{
	char v[512], want[512];

	phone_first_invite(p, rx);
	snprintf(want, sizeof(want), "%s;to-tag=%s;from-tag=%s", cid, own,
		 peer);
	sipcli_hdr_str(rx, HDR_REPLACES, v, sizeof(v));
	cr_assert_str_eq(v, want, "%s", rx->buf);
	sipcli_hdr_str(rx, HDR_REQUIRE, v, sizeof(v));
	cr_assert_str_eq(v, "replaces", "%s", rx->buf);
	sipcli_hdr_str(rx, HDR_FROM, v, sizeof(v));
	snprintf(want, sizeof(want), "\"Parked %u\" <sip:%u@%s>", slot, slot,
		 domain);
	cr_assert_not_null(strstr(v, want), "%s", rx->buf);
	cr_assert_gt(phone_audio_port(phone_body(rx)), 0, "%s", rx->buf);
	cr_assert_not_null(strstr(phone_body(rx), "c=IN IP4 127.0.0.1"), "%s",
			   rx->buf);
}

/* gets_replaces_of() for @p p, the callee of dialog @p d. */
static void gets_replaces(struct phone *p, const struct uas_dlg *d,
			  unsigned slot, const char *domain)
{
	char peer[128];

	tag_of(d->to, peer, sizeof(peer));
	gets_replaces_of(p, d->cid, "callee", peer, slot, domain);
}

/* ... and takes it: 200 with its SDP, the ACK; the pool's dialog in
 * @p pd. Then it leaves its old dialog @p d with BYE, which the proxy
 * relays to the other party. */
static void takes_replaces(struct phone *p, struct uas_dlg *d,
			   struct uas_dlg *pd)
{
	uas_dialog_of(pd, rx);
	phone_accepts(p, pd->cid, rx);
	uas_req(p, d, "BYE");
}

/* park.park on a SIPp-to-phone call through the proxy: bob, the callee,
 * gets the pool's INVITE with Replaces, takes it and BYEs alice (SIPp,
 * who answers 200); park.park answers slot 701 with alice as the
 * parker; bob hears music; carol dials 701 and gets bob phone to
 * phone. */
Test(park_call, park_park_puts_the_callee_of_a_sipp_call_in_a_slot)
{
	struct pending_park pp = { .rc = 1 };
	struct phone *bob, *carol;
	struct uas_dlg ab, pool;
	struct sipp_cmd c;
	pthread_t t;
	char list[256], v[300];

	start(NULL);
	bob = phone("bob", "localhost", "127.0.0.3");
	carol = phone("carol", "localhost", "127.0.0.4");
	cr_assert_eq(ua_register(&bob->ua, "test", 60, rx), 200);
	sipp_cmd_uac(&c, "uac_park_parked.xml", sp.port, 0, "u1");
	sipp_cmd_args(&c, "-s", "bob", "-key", "domain", "localhost", NULL);
	sipp_cmd_opt(&c, "-m", "1");
	sipp_cmd_errors(&c, "alice");
	sipp_pid = sipp_spawn(c.argv, sp.dir, "alice");
	phone_first_invite(bob, rx);
	uas_dialog_of(&ab, rx);
	phone_accepts(bob, ab.cid, rx);
	pp.port = sp.mgmt_port;
	snprintf(pp.params, sizeof(pp.params), "{\"call_id\": \"%s\"}", ab.cid);
	cr_assert_eq(pthread_create(&t, NULL, park_in_background, &pp), 0);
	gets_replaces(bob, &ab, 701, "localhost");
	takes_replaces(bob, &ab, &pool);
	cr_assert_eq(ua_expect_final(&bob->ua, ab.cid, "BYE", rx), 200, "%s",
		     rx->buf);
	pthread_join(t, NULL);
	cr_assert_eq(pp.rc, 0, "%s", pp.why);
	cr_assert_eq(json_integer_value(json_object_get(pp.res, "slot")), 701);
	cr_assert_str_eq(json_string_value(json_object_get(pp.res, "parker")),
			 "sip:alice@localhost");
	cr_assert_str_eq(json_string_value(json_object_get(pp.res, "domain")),
			 "localhost");
	json_decref(pp.res);
	sipp_ok(&sipp_pid, 10000, sp.dir, "alice", sp.log);
	hears(bob, NULL, 0, 10);
	cr_assert_eq(park_list(NULL, list, sizeof(list)), 1, "%s", list);
	cr_assert_str_eq(list, "localhost:701");
	park_field("localhost", 701, "parker", v, sizeof(v));
	cr_assert_str_eq(v, "sip:alice@localhost");
	park_field("localhost", 701, "parked", v, sizeof(v));
	cr_assert_str_eq(v, "<sip:bob@localhost>");
	park_field("localhost", 701, "call_id", v, sizeof(v));
	cr_assert_str_eq(v, pool.cid);
	cr_assert_eq(metric("sipedge_park_parked_total"), 1);
	/* carol retrieves: bob is re-INVITEd with her offer. */
	phone_retrieve(carol, "701", bob, pool.cid, PHONE_PORTS, 0, rx);
	cr_assert_eq(park_list(NULL, list, sizeof(list)), 0, "%s", list);
	cr_assert_eq(metric("sipedge_park_retrieved_total"), 1);
	phone_bye(carol, rx);
	phone_gets_bye(bob, pool.cid, rx);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* The parker @p p of slot @p slot gets, in any order, the BYE of its
 * call @p cid (from the parked party) and the pool's MESSAGE "Parked N"
 * from <sip:N@@p domain>; answers both 200. Bounded: 20 messages. */
static void parker_told_in(struct phone *p, const char *cid, unsigned slot,
			   const char *domain)
{
	bool bye = false, msg = false;
	char v[256], want[64];

	for (int i = 0; i < 20 && !(bye && msg); i++) {
		cr_assert_eq(ua_recv(&p->ua, rx, UA_WAIT_MS), 0,
			     "bye %d message %d", bye, msg);
		if (!rx->m.is_request)
			continue;
		if (slice_eq(rx->m.method_name, SLICE_LIT("BYE"))) {
			sipcli_hdr_str(rx, HDR_CALL_ID, v, sizeof(v));
			cr_assert_str_eq(v, cid);
			bye = true;
		} else if (slice_eq(rx->m.method_name, SLICE_LIT("MESSAGE"))) {
			snprintf(want, sizeof(want), "Parked %u", slot);
			cr_assert(slice_eq(rx->m.body, slice_cstr(want)), "%s",
				  rx->buf);
			sipcli_hdr_str(rx, HDR_FROM, v, sizeof(v));
			snprintf(want, sizeof(want), "<sip:%u@%s>", slot,
				 domain);
			cr_assert_not_null(strstr(v, want), "%s", rx->buf);
			msg = true;
		} else {
			continue;
		}
		ua_respond(&p->ua, rx, 200, "OK", NULL);
	}
	cr_assert(bye && msg, "bye %d message %d", bye, msg);
}

static void parker_told(struct phone *p, unsigned slot, const char *domain)
{
	parker_told_in(p, p->cid, slot, domain);
}

/* The callee @p p of dialog @p d relays the INFO that reaches it. */
static void relays_info(struct phone *caller, struct phone *p,
			struct uas_dlg *d)
{
	ua_expect_req(&p->ua, "INFO", d->cid, rx);
	ua_respond(&p->ua, rx, 200, "OK", NULL);
	cr_assert_eq(ua_expect_final(&caller->ua, caller->cid, "INFO", rx), 200,
		     "%s", rx->buf);
}

/* One tenant's *7 calls, in domain dom: alice calls bob (alice the
 * parker, bob parked in 701), carol calls dave (dave the parker by
 * application/dtmf, carol parked in 702); the pool's dialogs with the
 * parked parties in pool and pool2. */
struct star7 {
	const char *dom;
	struct phone *alice, *bob, *carol, *dave;
	struct uas_dlg ab, pool, cd, pool2;
};

/* The parker @p p of slot @p slot has @p s's domain, the parked party
 * @p q too: park.list says so. */
static void star7_slot(const struct star7 *s, unsigned slot,
		       const struct phone *p, const struct phone *q)
{
	char v[300], want[300];

	park_field(s->dom, slot, "parker", v, sizeof(v));
	snprintf(want, sizeof(want), "sip:%s@%s", p->ua.user, s->dom);
	cr_assert_str_eq(v, want);
	park_field(s->dom, slot, "parked", v, sizeof(v));
	snprintf(want, sizeof(want), "<sip:%s@%s>", q->ua.user, s->dom);
	cr_assert_str_eq(v, want);
}

/* *7 during an ordinary call, for two tenants at once (localhost and
 * 127.0.0.1; both calls set up, then both parked, then both checked):
 * in each, alice sends INFO dtmf-relay Signal=* then Signal=7 (both
 * relayed to bob and answered by him); bob gets the pool's INVITE with
 * Replaces from his domain's "Parked 701", takes it, BYEs alice; alice
 * gets "Parked 701" by MESSAGE; bob hears music in his domain's 701,
 * alice its parker. Then in each the callee dave's application/dtmf
 * "*7" parks the caller carol in 702 (the tags the other way round).
 * A '*' then another key parks nothing. */
Test(park_call, star7_by_info_parks_the_other_party_and_tells_the_sender)
{
	struct star7 t[2] = { { .dom = "localhost" }, { .dom = "127.0.0.1" } };
	const char *ip[2][4] = {
		{ "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5" },
		{ "127.0.0.6", "127.0.0.7", "127.0.0.8", "127.0.0.9" },
	};
	char list[256], v[300];

	start(NULL);
	for (int i = 0; i < 2; i++) {
		t[i].alice = phone("alice", t[i].dom, ip[i][0]);
		t[i].bob = phone("bob", t[i].dom, ip[i][1]);
		t[i].carol = phone("carol", t[i].dom, ip[i][2]);
		t[i].dave = phone("dave", t[i].dom, ip[i][3]);
		cr_assert_eq(ua_register(&t[i].bob->ua, "test", 60, rx), 200);
		cr_assert_eq(ua_register(&t[i].dave->ua, "test", 60, rx), 200);
	}
	for (int i = 0; i < 2; i++)
		connect_call(t[i].alice, t[i].bob, &t[i].ab);
	/* '*' then '5': nothing. */
	for (int i = 0; i < 2; i++) {
		struct phone *alice = t[i].alice, *bob = t[i].bob;

		info(alice, "application/dtmf-relay",
		     "Signal=*\r\nDuration=160\r\n");
		relays_info(alice, bob, &t[i].ab);
		info(alice, "application/dtmf-relay",
		     "Signal=5\r\nDuration=160\r\n");
		relays_info(alice, bob, &t[i].ab);
	}
	cr_assert_eq(metric("sipedge_park_dtmf_total"), 0);
	/* '*' then '7'. */
	for (int i = 0; i < 2; i++) {
		struct phone *alice = t[i].alice, *bob = t[i].bob;

		info(alice, "application/dtmf-relay",
		     "Signal=*\r\nDuration=160\r\n");
		relays_info(alice, bob, &t[i].ab);
		info(alice, "application/dtmf-relay",
		     "Signal= 7\r\nDuration=160\r\n");
		relays_info(alice, bob, &t[i].ab);
	}
	for (int i = 0; i < 2; i++) {
		gets_replaces(t[i].bob, &t[i].ab, 701, t[i].dom);
		takes_replaces(t[i].bob, &t[i].ab, &t[i].pool);
	}
	for (int i = 0; i < 2; i++) {
		parker_told(t[i].alice, 701, t[i].dom);
		cr_assert_eq(
		    ua_expect_final(&t[i].bob->ua, t[i].ab.cid, "BYE", rx), 200,
		    "%s", rx->buf);
	}
	for (int i = 0; i < 2; i++)
		hears(t[i].bob, NULL, 0, 10);
	for (int i = 0; i < 2; i++)
		star7_slot(&t[i], 701, t[i].alice, t[i].bob);
	/* application/dtmf, both keys in one INFO, from the callee. */
	for (int i = 0; i < 2; i++)
		connect_call(t[i].carol, t[i].dave, &t[i].cd);
	for (int i = 0; i < 2; i++) {
		struct phone *carol = t[i].carol, *dave = t[i].dave;

		uas_req_body(dave, &t[i].cd, "INFO", "application/dtmf", "*7");
		ua_expect_req(&carol->ua, "INFO", carol->cid, rx);
		ua_respond(&carol->ua, rx, 200, "OK", NULL);
		cr_assert_eq(
		    ua_expect_final(&dave->ua, t[i].cd.cid, "INFO", rx), 200,
		    "%s", rx->buf);
	}
	for (int i = 0; i < 2; i++) {
		struct phone *carol = t[i].carol;

		snprintf(v, sizeof(v), "f%s", carol->cid);
		gets_replaces_of(carol, carol->cid, v, "callee", 702, t[i].dom);
		uas_dialog_of(&t[i].pool2, rx);
		phone_accepts(carol, t[i].pool2.cid, rx);
		phone_in_dialog(carol, "BYE");
	}
	for (int i = 0; i < 2; i++) {
		parker_told_in(t[i].dave, t[i].cd.cid, 702, t[i].dom);
		cr_assert_eq(ua_expect_final(&t[i].carol->ua, t[i].carol->cid,
					     "BYE", rx),
			     200, "%s", rx->buf);
	}
	for (int i = 0; i < 2; i++)
		hears(t[i].carol, NULL, 0, 5);
	cr_assert_eq(park_list(NULL, list, sizeof(list)), 4, "%s", list);
	cr_assert_str_eq(list, "127.0.0.1:701 127.0.0.1:702 localhost:701 "
			       "localhost:702");
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(park_list(t[i].dom, list, sizeof(list)), 2, "%s",
			     list);
		snprintf(v, sizeof(v), "%s:701 %s:702", t[i].dom, t[i].dom);
		cr_assert_str_eq(list, v);
		star7_slot(&t[i], 701, t[i].alice, t[i].bob);
		star7_slot(&t[i], 702, t[i].dave, t[i].carol);
	}
	cr_assert_eq(metric("sipedge_park_dtmf_total"), 4);
	cr_assert_eq(metric("sipedge_park_parked_total"), 4);
	/* The parked parties hang up: the slots are free. */
	for (int i = 0; i < 2; i++) {
		uas_req(t[i].bob, &t[i].pool, "BYE");
		cr_assert_eq(
		    ua_expect_final(&t[i].bob->ua, t[i].pool.cid, "BYE", rx),
		    200);
		uas_req(t[i].carol, &t[i].pool2, "BYE");
		cr_assert_eq(
		    ua_expect_final(&t[i].carol->ua, t[i].pool2.cid, "BYE", rx),
		    200);
	}
	cr_assert_eq(park_list(NULL, list, sizeof(list)), 0, "%s", list);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* What park.park refuses leaves the call as it was: an early dialog
 * (-32003), bad params (-32602), an unknown dialog (-32002), a taken
 * slot and a full lot
 * (-32003), a Replaces the party refuses with 481 (-32003, the slot
 * free again); then alice's BYE still reaches bob. */
Test(park_call, park_park_refusals_leave_the_call_intact)
{
	struct pending_park pp = { .rc = 1 };
	struct phone *alice, *bob, *carol;
	struct sipcli_msg *inv;
	struct uas_dlg ab;
	pthread_t t;
	char why[256], params[256], list[128];

	start("park:\n  - domain: localhost\n    slots: 701-702\n");
	alice = phone("alice", "localhost", "127.0.0.2");
	bob = phone("bob", "localhost", "127.0.0.3");
	carol = phone("carol", "localhost", "127.0.0.4");
	cr_assert_eq(ua_register(&bob->ua, "test", 60, rx), 200);
	/* Early (bob rings with a To tag): refused. */
	inv = calloc(1, sizeof(*inv));
	cr_assert_not_null(inv);
	phone_dial(alice, "bob");
	phone_first_invite(bob, inv);
	uas_dialog_of(&ab, inv);
	ua_respond(&bob->ua, inv, 180, "Ringing", bob->ua.contact);
	for (int i = 0; i < 50; i++) {
		/* Once alice has the 180 the proxy has seen it. */
		cr_assert_eq(ua_recv(&alice->ua, rx, UA_WAIT_MS), 0);
		if (!rx->m.is_request && rx->m.status == 180)
			break;
	}
	snprintf(params, sizeof(params), "[\"%s\"]", ab.cid);
	cr_assert_eq(park_park(params, why, sizeof(why)), -32003, "%s", why);
	cr_assert_not_null(strstr(why, "early"), "%s", why);
	/* bob answers: the call is up. */
	phone_answer_sdp(bob, inv);
	free(inv);
	phone_established(alice, rx);
	ua_expect_req(&bob->ua, "ACK", ab.cid, rx);
	cr_assert_eq(park_park("{}", why, sizeof(why)), -32602, "%s", why);
	cr_assert_eq(park_park("[\"\"]", why, sizeof(why)), -32602, "%s", why);
	snprintf(params, sizeof(params),
		 "{\"call_id\": \"%s\", \"party\": \"nobody\"}", ab.cid);
	cr_assert_eq(park_park(params, why, sizeof(why)), -32602, "%s", why);
	snprintf(params, sizeof(params), "{\"call_id\": \"%s\", \"slot\": 5}",
		 ab.cid);
	cr_assert_eq(park_park(params, why, sizeof(why)), -32602, "%s", why);
	snprintf(params, sizeof(params),
		 "{\"call_id\": \"%s\", \"domain\": \"nowhere.example\"}",
		 ab.cid);
	cr_assert_eq(park_park(params, why, sizeof(why)), -32602, "%s", why);
	cr_assert_eq(park_park("{\"call_id\": \"nosuch\"}", why, sizeof(why)),
		     -32002, "%s", why);
	/* carol takes 701: asking for it is refused; 702 left. */
	park(carol);
	snprintf(params, sizeof(params), "{\"call_id\": \"%s\", \"slot\": 701}",
		 ab.cid);
	cr_assert_eq(park_park(params, why, sizeof(why)), -32003, "%s", why);
	/* bob refuses the Replaces: the error comes back, 702 is free. */
	pp.port = sp.mgmt_port;
	snprintf(pp.params, sizeof(pp.params), "[\"%s\"]", ab.cid);
	cr_assert_eq(pthread_create(&t, NULL, park_in_background, &pp), 0);
	gets_replaces(bob, &ab, 702, "localhost");
	ua_respond(&bob->ua, rx, 481, "Call Does Not Exist", NULL);
	pthread_join(t, NULL);
	cr_assert_eq(pp.rc, -32003, "%s", pp.why);
	cr_assert_not_null(strstr(pp.why, "481"), "%s", pp.why);
	json_decref(pp.res);
	cr_assert_eq(park_list(NULL, list, sizeof(list)), 1, "%s", list);
	cr_assert_str_eq(list, "localhost:701");
	cr_assert_eq(metric("sipedge_park_replace_refused_total"), 1);
	/* erin takes 702: the lot is full. */
	park(phone("erin", "localhost", "127.0.0.6"));
	cr_assert_eq(park_park(pp.params, why, sizeof(why)), -32003, "%s", why);
	cr_assert_eq(metric("sipedge_park_full_total"), 1);
	/* The call is as it was: alice's BYE reaches bob. */
	phone_in_dialog(alice, "BYE");
	phone_gets_bye(bob, ab.cid, rx);
	cr_assert_eq(ua_expect_final(&alice->ua, alice->cid, "BYE", rx), 200);
	cr_assert_eq(metric("sipedge_park_parked_total"), 2);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* *7 by RFC 4733 events (issue #13): the media of an ordinary call is
 * anchored in a real rtpengine started with --dtmf-log-dest at
 * sipedge's media.dtmf_events; the key presses in the caller's RTP
 * reach park through rtpengine's reports. */

/* The RTP stream of one phone towards one address: its counters. */
struct rtp_tx {
	int fd;
	struct sockaddr_in to;
	unsigned pt_event; /* telephone-event's payload type */
	uint16_t seq;
	uint32_t ts;
};

static void rtp_send(struct rtp_tx *t, unsigned pt, bool marker,
		     const uint8_t *payload, size_t len)
{
	uint8_t pkt[12 + FRAME];

	cr_assert_leq(len, (size_t)FRAME);
	pkt[0] = 0x80;
	pkt[1] = (uint8_t)((marker ? 0x80 : 0) | (pt & 0x7f));
	pkt[2] = (uint8_t)(t->seq >> 8);
	pkt[3] = (uint8_t)t->seq;
	pkt[4] = (uint8_t)(t->ts >> 24);
	pkt[5] = (uint8_t)(t->ts >> 16);
	pkt[6] = (uint8_t)(t->ts >> 8);
	pkt[7] = (uint8_t)t->ts;
	memcpy(pkt + 8, "\x4d\x17\x0e\x01", 4); /* SSRC */
	memcpy(pkt + 12, payload, len);
	t->seq++;
	cr_assert_eq(sendto(t->fd, pkt, 12 + len, 0,
			    (const struct sockaddr *)&t->to, sizeof(t->to)),
		     (ssize_t)(12 + len));
}

/* @p n frames of PCMU silence, 20 ms apart (the pacing of a phone). */
static void rtp_silence(struct rtp_tx *t, unsigned n)
{
	uint8_t frame[FRAME];

	memset(frame, 0xff, sizeof(frame));
	for (unsigned i = 0; i < n; i++) {
		rtp_send(t, 0, false, frame, sizeof(frame));
		t->ts += FRAME;
		ms_sleep(20); /* a phone's pacing */
	}
}

/* One key press as RFC 4733 §2.5 sends it: one timestamp, the marker
 * on the first packet, the duration growing, the end bit on the last
 * three (retransmitted ends), 20 ms apart; then silence. */
static void rtp_key(struct rtp_tx *t, unsigned event)
{
	for (unsigned k = 0; k < 7; k++) {
		unsigned dur = (k < 4 ? k + 1 : 4) * FRAME;
		uint8_t ev[4] = { (uint8_t)event,
				  (uint8_t)((k >= 4 ? 0x80 : 0) | 10),
				  (uint8_t)(dur >> 8), (uint8_t)dur };

		rtp_send(t, t->pt_event, k == 0, ev, sizeof(ev));
		ms_sleep(20); /* a phone's pacing */
	}
	t->ts += 4 * FRAME;
	rtp_silence(t, 3);
}

/* Wait (bounded: 5 s) until metric @p name reads @p want. */
static void metric_reaches(const char *name, long long want)
{
	long long v = -1;

	for (int i = 0; i < 100 && v != want; i++) {
		v = metric(name);
		if (v != want)
			ms_sleep(50); /* poll interval, bounded */
	}
	cr_assert_eq(v, want, "%s", name);
}

/* The payload type of telephone-event in SDP @p body. */
static unsigned pt_event_of(const char *body)
{
	const char *a = strstr(body, " telephone-event/8000");
	const char *p = a;

	cr_assert_not_null(a, "%s", body);
	while (p > body && p[-1] != ':')
		p--;
	cr_assert_gt(a, p, "%s", body);
	return (unsigned)atoi(p);
}

/* Send the datagram @p text from @p ip to 127.0.0.1:@p port. */
static void datagram(const char *ip, uint16_t port, const char *text)
{
	struct sockaddr_in a = { .sin_family = AF_INET }, to = a;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	inet_pton(AF_INET, ip, &a.sin_addr);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	to.sin_port = htons(port);
	cr_assert_eq(sendto(fd, text, strlen(text), 0, (struct sockaddr *)&to,
			    sizeof(to)),
		     (ssize_t)strlen(text));
	close(fd);
}

/* alice calls bob with media through rtpengine; alice's RTP carries
 * '*' then '5' (nothing), '*' then, 2.4 s later, '7' (nothing: the
 * window is 2 s), '*' alone (nothing), then '*' '7': bob gets the
 * pool's INVITE with Replaces, takes it, BYEs alice, who gets
 * "Parked 701" by MESSAGE; park.list shows 701 with alice its parker;
 * bob hears the music. Garbage and strangers' datagrams to
 * dtmf_events are counted and dropped. */
Test(park_call, star7_by_rfc4733_events_through_rtpengine_parks_the_callee)
{
	struct phone *alice, *bob;
	struct uas_dlg ab, pool;
	struct rtp_tx t = { 0 };
	char yaml[512], dest[64], list[256], v[300];
	uint16_t dport;

	cr_assert_eq(proc_free_port("127.0.0.1", &dport), 0);
	snprintf(dest, sizeof(dest), "127.0.0.1:%u", dport);
	cr_assert_eq(rtpe_start_dtmf(&rtpe, dest), 0, "rtpengine");
	snprintf(yaml, sizeof(yaml),
		 "media:\n  enabled: true\n"
		 "  rtpengine:\n    - address: \"127.0.0.1:%u\"\n"
		 "  dtmf_events: \"%s\"\n",
		 rtpe.ng_port, dest);
	start(yaml);
	alice = phone("alice", "localhost", "127.0.0.2");
	bob = phone("bob", "localhost", "127.0.0.3");
	cr_assert_eq(ua_register(&bob->ua, "test", 60, rx), 200);
	phone_dial(alice, "bob");
	phone_first_invite(bob, rx);
	/* The offer names rtpengine, not alice. */
	cr_assert_null(strstr(phone_body(rx), "c=IN IP4 127.0.0.2"), "%s",
		       rx->buf);
	uas_dialog_of(&ab, rx);
	phone_answer_sdp(bob, rx);
	cr_assert_eq(ua_expect_final(&alice->ua, alice->cid, "INVITE", rx), 200,
		     "%s", rx->buf);
	cr_assert_null(strstr(phone_body(rx), "c=IN IP4 127.0.0.3"), "%s",
		       rx->buf);
	t.fd = alice->rtp;
	t.to.sin_family = AF_INET;
	t.to.sin_port = htons((uint16_t)phone_audio_port(phone_body(rx)));
	inet_pton(AF_INET, "127.0.0.1", &t.to.sin_addr);
	t.pt_event = pt_event_of(phone_body(rx));
	t.seq = 1000;
	t.ts = 16000;
	phone_dialog_of(alice, rx);
	phone_in_dialog(alice, "ACK");
	ua_expect_req(&bob->ua, "ACK", ab.cid, rx);
	rtp_silence(&t, 5);
	/* '*' then '5'. */
	rtp_key(&t, 10);
	rtp_key(&t, 5);
	metric_reaches("sipedge_dtmf_events_total", 2);
	/* '*', then '7' after the window. */
	rtp_key(&t, 10);
	ms_sleep(2400); /* past the 2 s window of '*' then '7' */
	rtp_key(&t, 7);
	metric_reaches("sipedge_dtmf_events_total", 4);
	/* '*' alone. */
	rtp_key(&t, 10);
	metric_reaches("sipedge_dtmf_events_total", 5);
	cr_assert_eq(metric("sipedge_park_dtmf_total"), 0);
	cr_assert_eq(park_list(NULL, list, sizeof(list)), 0, "%s", list);
	/* Garbage from rtpengine's address, a report from another. */
	datagram("127.0.0.1", dport, "{\"callid\": 7}");
	datagram("127.0.0.1", dport, "\x01\x02 not json");
	datagram("127.0.0.1", dport,
		 "{\"callid\":\"x\",\"source_tag\":\"y\","
		 "\"type\":\"DTMF\",\"event\":16}");
	datagram("127.0.0.5", dport,
		 "{\"callid\":\"x\",\"source_tag\":\"y\","
		 "\"tags\":[\"z\"],\"type\":\"DTMF\",\"event\":7}");
	metric_reaches("sipedge_dtmf_bad_total", 2);
	metric_reaches("sipedge_dtmf_ignored_total", 1);
	metric_reaches("sipedge_dtmf_strangers_total", 1);
	/* '*' then '7'. */
	rtp_key(&t, 10);
	rtp_key(&t, 7);
	gets_replaces(bob, &ab, 701, "localhost");
	phone_rtp_drain(bob, 100);
	takes_replaces(bob, &ab, &pool);
	parker_told(alice, 701, "localhost");
	cr_assert_eq(ua_expect_final(&bob->ua, ab.cid, "BYE", rx), 200, "%s",
		     rx->buf);
	cr_assert_eq(metric("sipedge_dtmf_events_total"), 7);
	cr_assert_eq(metric("sipedge_park_dtmf_total"), 1);
	cr_assert_eq(park_list(NULL, list, sizeof(list)), 1, "%s", list);
	cr_assert_str_eq(list, "localhost:701");
	park_field("localhost", 701, "parker", v, sizeof(v));
	cr_assert_str_eq(v, "sip:alice@localhost");
	park_field("localhost", 701, "parked", v, sizeof(v));
	cr_assert_str_eq(v, "<sip:bob@localhost>");
	hears(bob, NULL, 0, 10);
	uas_req(bob, &pool, "BYE");
	cr_assert_eq(ua_expect_final(&bob->ua, pool.cid, "BYE", rx), 200);
	cr_assert_eq(park_list(NULL, list, sizeof(list)), 0, "%s", list);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* A retriever without an SDP offer (issue #13, late offer). */

/* Send @p n PCMU packets from @p p's RTP socket to 127.0.0.1:@p port,
 * 20 ms apart, and count those that come back (an echo) with their
 * marker byte intact. */
static unsigned rtp_echoed(struct phone *p, uint16_t port, unsigned n)
{
	struct sockaddr_in dst = { .sin_family = AF_INET,
				   .sin_port = htons(port) };
	uint8_t pkt[12 + FRAME], in[2048];
	unsigned got = 0;

	inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
	memset(pkt, 0xff, sizeof(pkt));
	pkt[0] = 0x80;
	pkt[1] = 0;
	memset(pkt + 4, 0, 8);
	pkt[8] = 0x4c; /* our SSRC: tells an echo from the pool's music */
	for (unsigned i = 0; i < n; i++) {
		struct pollfd pf = { .fd = p->rtp, .events = POLLIN };

		pkt[2] = (uint8_t)(i >> 8);
		pkt[3] = (uint8_t)i;
		cr_assert_eq(sendto(p->rtp, pkt, sizeof(pkt), 0,
				    (struct sockaddr *)&dst, sizeof(dst)),
			     (ssize_t)sizeof(pkt));
		/* A phone's pacing; bounded by the count. */
		while (poll(&pf, 1, 20) == 1) {
			ssize_t len = recv(p->rtp, in, sizeof(in), 0);

			if (len == (ssize_t)sizeof(pkt) && in[8] == 0x4c)
				got++;
		}
	}
	/* The last echoes: until 300 ms pass without one. */
	for (unsigned k = 0; k < n && got < n; k++) {
		struct pollfd pf = { .fd = p->rtp, .events = POLLIN };
		ssize_t len;

		if (poll(&pf, 1, 300) != 1)
			break;
		len = recv(p->rtp, in, sizeof(in), 0);
		if (len == (ssize_t)sizeof(pkt) && in[8] == 0x4c)
			got++;
	}
	return got;
}

/* SIPp's message trace in sp.dir (the first *_messages.log), or NULL;
 * the caller frees it. */
static char *sipp_trace(void)
{
	char path[PROC_PATH_MAX + 300], *text = NULL;
	DIR *d = opendir(sp.dir);
	struct dirent *e;

	cr_assert_not_null(d);
	while ((e = readdir(d)) && !text)
		if (strstr(e->d_name, "_messages.log")) {
			snprintf(path, sizeof(path), "%s/%s", sp.dir,
				 e->d_name);
			proc_read_file(path, &text);
		}
	closedir(d);
	return text;
}

/* alice is parked in 701; carol (SIPp) dials 701 without SDP: the pool
 * re-INVITEs alice without SDP, puts alice's offer in carol's 200 and
 * carol's answer (from her ACK) in alice's ACK; RTP alice sends to
 * carol's port comes back (SIPp echoes it): phone to phone, the pool
 * in neither SDP. carol's BYE ends alice's call. */
Test(park_call, a_retriever_without_an_offer_gets_the_parked_offer_in_the_200)
{
	struct phone *alice;
	struct sipp_cmd c;
	unsigned pool_rtp, got;
	uint16_t mport;
	char list[256], want[64], *trace;

	start(NULL);
	alice = phone("alice", "localhost", "127.0.0.2");
	pool_rtp = park(alice);
	cr_assert_eq(proc_free_port("127.0.0.1", &mport), 0);
	sipp_cmd_uac(&c, "uac_park_late.xml", sp.port, 0, "u1");
	sipp_cmd_args(&c, "-s", "701", "-key", "domain", "localhost", "-m", "1",
		      "-rtp_echo", "-trace_msg", NULL);
	sipp_cmd_opt(&c, "-mp", "%u", mport);
	/* carol stays this long after her ACK: alice's RTP meanwhile. */
	sipp_cmd_opt(&c, "-d", "%u", 4000);
	sipp_cmd_errors(&c, "carol");
	sipp_pid = sipp_spawn(c.argv, sp.dir, "carol");
	/* alice: a re-INVITE without a body; she offers in her 200. */
	ua_expect_req(&alice->ua, "INVITE", alice->cid, rx);
	cr_assert_eq(rx->m.body.len, 0, "%s", rx->buf);
	phone_answer_sdp(alice, rx);
	/* ... and gets carol's answer in the ACK. */
	ua_expect_req(&alice->ua, "ACK", alice->cid, rx);
	snprintf(want, sizeof(want), "m=audio %u ", mport);
	cr_assert_not_null(strstr(phone_body(rx), want), "%s", rx->buf);
	cr_assert_not_null(strstr(phone_body(rx), "c=IN IP4 127.0.0.1"), "%s",
			   rx->buf);
	cr_assert_neq(phone_audio_port(phone_body(rx)), pool_rtp);
	cr_assert_eq(park_list(NULL, list, sizeof(list)), 0, "%s", list);
	cr_assert_eq(metric("sipedge_park_retrieved_total"), 1);
	phone_rtp_drain(alice, 100); /* the music that was on its way */
	got = rtp_echoed(alice, mport, 50);
	cr_log_info("late retrieval: %u of 50 RTP packets came back", got);
	cr_assert_geq(got, 45, "%u of 50 RTP packets came back from carol",
		      got);
	/* carol hangs up: alice gets the BYE. */
	phone_gets_bye(alice, alice->cid, rx);
	sipp_ok(&sipp_pid, 15000, sp.dir, "carol", sp.log);
	/* carol's 200 had alice's offer, not the pool's. */
	trace = sipp_trace();
	cr_assert_not_null(trace, "SIPp's message trace");
	snprintf(want, sizeof(want), "m=audio %u RTP/AVP", alice->rtp_port);
	cr_assert_not_null(strstr(trace, want), "%.4000s", trace);
	free(trace);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* The ACK of @p p's INVITE with SDP answer @p p's (late offer). */
static void ack_sdp(struct phone *p)
{
	char req[2048], sdp[512];
	int bl = phone_sdp(p, 1, sdp, sizeof(sdp)), n;

	n = snprintf(req, sizeof(req),
		     "ACK %s SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP %s:%u;rport;branch=z9hG4bKpk%sACK1\r\n"
		     "Max-Forwards: 70\r\n"
		     "From: <sip:%s@%s>;tag=f%s\r\n"
		     "To: %s\r\n"
		     "Call-ID: %s\r\nCSeq: 1 ACK\r\n"
		     "%s"
		     "Content-Type: application/sdp\r\n"
		     "Content-Length: %d\r\n\r\n%s",
		     p->target, p->ua.ip, p->ua.port, p->cid, p->ua.user,
		     p->ua.domain, p->cid, p->to, p->cid, p->route, bl, sdp);
	cr_assert_lt(n, (int)sizeof(req));
	ua_send(&p->ua, req, (size_t)n);
}

/* A call to the code without an SDP offer (late offer): the pool's
 * 200 carries its offer (PCMU), the caller answers in the ACK, then
 * hears "parked at seven zero one" and the music; park.list shows the
 * slot. With the lot full, the next such call gets 486 at once (our
 * offer could only go in a reliable 183: no prompt). */
Test(park_call, a_call_to_the_code_without_an_offer_gets_ours_and_parks)
{
	struct phone *alice, *bob;
	char list[256];
	unsigned port;

	start("park:\n  - domain: localhost\n    slots: 701-701\n");
	alice = phone("alice", "localhost", "127.0.0.2");
	bob = phone("bob", "localhost", "127.0.0.3");
	phone_call(alice, "700", "localhost", "", "");
	cr_assert_eq(ua_expect_final(&alice->ua, alice->cid, "INVITE", rx), 200,
		     "%s", rx->buf);
	port = phone_audio_port(phone_body(rx));
	cr_assert_gt(port, 0, "an SDP offer: %s", rx->buf);
	cr_assert_not_null(strstr(phone_body(rx), "RTP/AVP 0"), "%s", rx->buf);
	phone_dialog_of(alice, rx);
	ack_sdp(alice);
	hears(alice, parked_701, 4, 5);
	cr_assert_eq(park_list(NULL, list, sizeof(list)), 1, "%s", list);
	cr_assert_str_eq(list, "localhost:701");
	cr_assert_eq(metric("sipedge_park_parked_total"), 1);
	/* The lot is full: 486, nothing played. */
	phone_call(bob, "700", "localhost", "", "");
	cr_assert_eq(ua_expect_final(&bob->ua, bob->cid, "INVITE", rx), 486,
		     "%s", rx->buf);
	phone_ack_failure(bob, rx);
	cr_assert_eq(metric("sipedge_park_full_total"), 1);
	phone_bye(alice, rx);
	cr_assert_eq(park_list(NULL, list, sizeof(list)), 0, "%s", list);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* A late retriever who leaves before the parked party's 200: the pool
 * answers alice's offer itself (in the ACK, its own media), the music
 * goes on, the slot stays held and retrievable. */
Test(park_call, a_late_retriever_who_leaves_leaves_the_call_in_its_slot)
{
	struct phone *alice, *carol, *dave;
	char list[256], pc[32];
	uint8_t pkt[2048];
	unsigned got = 0;

	start(NULL);
	alice = phone("alice", "localhost", "127.0.0.2");
	carol = phone("carol", "localhost", "127.0.0.4");
	dave = phone("dave", "localhost", "127.0.0.5");
	park(alice);
	phone_call(carol, "701", "localhost", "", "");
	ua_expect_req(&alice->ua, "INVITE", alice->cid, rx);
	cr_assert_eq(rx->m.body.len, 0, "%s", rx->buf);
	phone_cancel(carol);
	cr_assert_eq(ua_expect_final(&carol->ua, carol->cid, "INVITE", rx), 487,
		     "%s", rx->buf);
	phone_ack_failure(carol, rx);
	/* alice answers the re-INVITE's retransmission with her offer. */
	ua_expect_req(&alice->ua, "INVITE", alice->cid, rx);
	phone_accepts(alice, alice->cid, rx);
	cr_assert_gt(phone_audio_port(phone_body(rx)), 0,
		     "the pool's answer: %s", rx->buf);
	snprintf(pc, sizeof(pc), "m=audio %u ", carol->rtp_port);
	cr_assert_null(strstr(phone_body(rx), pc), "%s", rx->buf);
	/* The music goes on: at least 10 frames within 2 s (bounded). */
	for (int i = 0; i < 100 && got < 10; i++) {
		struct pollfd pf = { .fd = alice->rtp, .events = POLLIN };

		if (poll(&pf, 1, 20) == 1 &&
		    recv(alice->rtp, pkt, sizeof(pkt), 0) == 12 + FRAME)
			got++;
	}
	cr_assert_geq(got, 10, "music frames: %u", got);
	cr_assert_eq(park_list(NULL, list, sizeof(list)), 1, "%s", list);
	cr_assert_str_eq(list, "localhost:701");
	cr_assert_eq(metric("sipedge_park_retrieved_total"), 0);
	/* Still retrievable. */
	phone_retrieve(dave, "701", alice, alice->cid, 0, 0, rx);
	phone_bye(alice, rx);
	phone_gets_bye(dave, dave->cid, rx);
	cr_assert_eq(park_list(NULL, list, sizeof(list)), 0, "%s", list);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* PRACK (RFC 3262) of @p p's reliable 1xx with RSeq @p rseq, in the
 * early dialog phone_dialog_of() took from it, with @p p's SDP answer. */
static void prack_sdp(struct phone *p, unsigned rseq)
{
	char req[2048], sdp[512];
	int bl = phone_sdp(p, 1, sdp, sizeof(sdp)), n;
	unsigned cseq = ++p->cseq;

	n = snprintf(req, sizeof(req),
		     "PRACK %s SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP %s:%u;rport;branch=z9hG4bKpr%s%u\r\n"
		     "Max-Forwards: 70\r\n"
		     "From: <sip:%s@%s>;tag=f%s\r\n"
		     "To: %s\r\n"
		     "Call-ID: %s\r\nCSeq: %u PRACK\r\n"
		     "RAck: %u 1 INVITE\r\n"
		     "%s"
		     "Content-Type: application/sdp\r\n"
		     "Content-Length: %d\r\n\r\n%s",
		     p->target, p->ua.ip, p->ua.port, p->cid, cseq, p->ua.user,
		     p->ua.domain, p->cid, p->to, p->cid, cseq, rseq, p->route,
		     bl, sdp);
	cr_assert_lt(n, (int)sizeof(req));
	ua_send(&p->ua, req, (size_t)n);
}

/* An empty slot (and a full lot) dialled without an SDP offer by a
 * phone that supports 100rel: our offer in a reliable 183, the answer
 * in the PRACK, then the prompt ("that slot is empty" / "parking lot
 * full") and 480 / 486; without 100rel, 488 at once. */
Test(park_call, an_empty_slot_without_an_offer_prompts_through_a_reliable_183)
{
	static const char *const empty[] = { "slot-empty" };
	static const char *const full[] = { "lot-full" };
	struct phone *alice;
	char v[64];

	start("park:\n  - domain: localhost\n    slots: 701-702\n");
	alice = phone("alice", "localhost", "127.0.0.2");
	/* Without 100rel: no way to offer before the final. */
	phone_call(alice, "702", "localhost", "", "");
	cr_assert_eq(ua_expect_final(&alice->ua, alice->cid, "INVITE", rx), 488,
		     "%s", rx->buf);
	phone_ack_failure(alice, rx);
	for (int k = 0; k < 2; k++) {
		if (k == 1) { /* fill the lot, then dial the code */
			park(phone("bob", "localhost", "127.0.0.3"));
			park(phone("carol", "localhost", "127.0.0.4"));
		}
		phone_call(alice, k ? "700" : "702", "localhost", "",
			   "Supported: 100rel\r\n");
		for (int i = 0; i < 10; i++) { /* past the 100 */
			cr_assert_eq(ua_recv(&alice->ua, rx, UA_WAIT_MS), 0);
			if (!rx->m.is_request && rx->m.status == 183)
				break;
		}
		cr_assert_eq(rx->m.status, 183, "%s", rx->buf);
		sipcli_hdr_str(rx, HDR_REQUIRE, v, sizeof(v));
		cr_assert_str_eq(v, "100rel", "%s", rx->buf);
		cr_assert_gt(phone_audio_port(phone_body(rx)), 0,
			     "our offer: %s", rx->buf);
		sipcli_hdr_str(rx, HDR_RSEQ, v, sizeof(v));
		phone_dialog_of(alice, rx);
		prack_sdp(alice, (unsigned)atoi(v));
		cr_assert_eq(
		    ua_expect_final(&alice->ua, alice->cid, "PRACK", rx), 200,
		    "%s", rx->buf);
		hears(alice, k ? full : empty, 1, 0);
		cr_assert_eq(
		    ua_expect_final(&alice->ua, alice->cid, "INVITE", rx),
		    k ? 486 : 480, "%s", rx->buf);
		phone_ack_failure(alice, rx);
	}
	cr_assert_eq(metric("sipedge_park_empty_total"), 2);
	cr_assert_eq(metric("sipedge_park_full_total"), 1);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}
