/* tests/unit/features/b2b/test_media.c - the media engine on a real loop
 * and real UDP sockets on 127.0.0.1: ports, SDP offer/answer, prompts
 * then music as captured by a receiver, RFC 4733 both ways, sounds */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sndfile.h>
#include <spandsp/telephony.h>
#include <spandsp/bit_operations.h>
#include <spandsp/g711.h>
#include <uv.h>

#include "features/b2b/media.h"
#include "features/b2b/rtp.h"
#include "proxy/base/log.h"
#include "proxy/core/conf.h"
#include "proxy/core/shard.h"
#include "proxy/sip/peer.h"
#include "proxy/sip/sdp.h"
#include "tests/common/ms.h"
#include "tests/common/teardown.h"
#include "tests/unit/rtconf.h"
#include "tests/unit/sections.h"
#include "tests/unit/shardfix.h"

#define PTIME_NS (20ull * 1000000ull)
/* Bounds of the waits for packets that must come: safety nets. */
#define WAIT_MS 5000

static uv_loop_t loop;
static struct media *m, *m2;
static int rx = -1, rx2 = -1;
static char sounds_dir[PATH_MAX];

static void setup(void)
{
	log_set_level(LOG_ERR);
	cr_assert_eq(uv_loop_init(&loop), 0);
	m = m2 = NULL;
	rx = rx2 = -1;
}

static void teardown(void)
{
	int err;

	media_free(m);
	media_free(m2);
	m = m2 = NULL;
	/* The close callbacks free the sessions and engines. */
	uv_run(&loop, UV_RUN_NOWAIT);
	err = uv_loop_close(&loop);
	/* uv_strerror() allocates for an unknown code: only on failure. */
	if (err)
		teardown_check(false, "loop still has handles: %s",
			       uv_strerror(err));
	if (rx >= 0)
		close(rx);
	if (rx2 >= 0)
		close(rx2);
	media_sounds_unload();
	teardown_check_objs(0);
}

TestSuite(media, .init = setup, .fini = teardown, .timeout = 30);

/* ---- helpers ------------------------------------------------------- */

static uint16_t sock_port(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	return ntohs(a.sin_port);
}

static struct sockaddr_in lo(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port) };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

/* A UDP socket on 127.0.0.1 and a free port, non-blocking. */
static int udp_socket(void)
{
	struct sockaddr_in a = lo(0);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Even ports FIRST, FIRST+2, ... (n of them) that nobody holds now. */
static uint16_t free_range(unsigned n)
{
	/* Each test process starts somewhere else: tests run in parallel
	 * (--jobs) and would otherwise find the same free range. */
	unsigned start = 41000 + (unsigned)(getpid() % 400) * 40;

	for (unsigned base = start; base < 60000; base += 2 * n + 14) {
		int fds[16];
		unsigned ok = 0;

		for (unsigned i = 0; i < n; i++) {
			struct sockaddr_in a = lo((uint16_t)(base + 2 * i));

			fds[i] = socket(AF_INET, SOCK_DGRAM, 0);
			if (bind(fds[i], (struct sockaddr *)&a, sizeof(a)) == 0)
				ok++;
		}
		for (unsigned i = 0; i < n; i++)
			close(fds[i]);
		if (ok == n)
			return (uint16_t)base;
	}
	cr_assert_fail("no free port range");
	return 0;
}

static struct media *engine(uint16_t first, uint16_t last, unsigned worker,
			    unsigned nworkers, bool manual)
{
	struct media_opts o = { .port_min = first,
				.port_max = last,
				.worker = worker,
				.nworkers = nworkers,
				.manual = manual };
	struct sockaddr_in a = lo(0);
	struct media *e = NULL;

	memcpy(&o.addr, &a, sizeof(a));
	o.addrlen = sizeof(a);
	cr_assert_eq(media_new(&loop, &o, &e), 0);
	return e;
}

struct pkt {
	struct rtp_hdr h;
	uint8_t pl[256];
	size_t plen;
	long long at_ms;
};

/* Read one packet from @p fd within @p wait_ms (the loop runs meanwhile).
 * Returns true with *p set. */
static bool recv_pkt(int fd, struct pkt *p, int wait_ms)
{
	long long end = ms_now() + wait_ms;
	uint8_t buf[1500];

	for (;;) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		ssize_t n;
		const uint8_t *pl;

		n = recv(fd, buf, sizeof(buf), 0);
		if (n > 0) {
			cr_assert_eq(
			    rtp_parse(buf, (size_t)n, &p->h, &pl, &p->plen), 0);
			cr_assert_leq(p->plen, sizeof(p->pl));
			memcpy(p->pl, pl, p->plen);
			p->at_ms = ms_now();
			return true;
		}
		if (ms_now() >= end)
			return false;
		uv_run(&loop, UV_RUN_NOWAIT);
		poll(&pf, 1, 2); /* a short wait: the engine's timer runs */
	}
}

/* Manual clock: tick to @p t and take exactly the one packet sent. */
static void step(int fd, uint64_t t, struct pkt *p)
{
	media_tick(m, t);
	cr_assert(recv_pkt(fd, p, WAIT_MS), "no packet at step");
}

static void send_rtp(int fd, uint16_t to, const struct rtp_hdr *h,
		     const uint8_t *pl, size_t plen)
{
	uint8_t b[RTP_HDR_LEN + 256];
	struct sockaddr_in a = lo(to);

	rtp_hdr_write(b, h);
	memcpy(b + RTP_HDR_LEN, pl, plen);
	cr_assert_eq(sendto(fd, b, RTP_HDR_LEN + plen, 0, (struct sockaddr *)&a,
			    sizeof(a)),
		     (ssize_t)(RTP_HDR_LEN + plen));
}

static void load_sounds(void)
{
	char why[512] = "";

	cr_assert_eq(media_sounds_dir(NULL, sounds_dir, sizeof(sounds_dir)), 0);
	cr_assert_eq(media_sounds_load(sounds_dir, why, sizeof(why)), 0, "%s",
		     why);
}

/* The WAV @p name of the built-in set, read here with libsndfile and
 * encoded with spandsp, independently of the engine. */
static uint8_t *wav_law(const char *name, enum rtp_law law, size_t *np)
{
	char path[PATH_MAX + 64];
	SF_INFO info = { 0 };
	SNDFILE *f;
	int16_t *pcm;
	uint8_t *out;

	snprintf(path, sizeof(path), "%s/%s.wav", sounds_dir, name);
	f = sf_open(path, SFM_READ, &info);
	cr_assert_not_null(f, "%s", path);
	cr_assert_eq(info.samplerate, 8000);
	cr_assert_eq(info.channels, 1);
	pcm = malloc((size_t)info.frames * 2);
	out = malloc((size_t)info.frames);
	cr_assert(pcm && out);
	cr_assert_eq(sf_readf_short(f, pcm, info.frames), info.frames);
	sf_close(f);
	for (sf_count_t i = 0; i < info.frames; i++)
		out[i] = law == RTP_ALAW ? linear_to_alaw(pcm[i])
					 : linear_to_ulaw(pcm[i]);
	free(pcm);
	*np = (size_t)info.frames;
	return out;
}

static unsigned ended_calls;
static unsigned ended_at_tx;

static void on_ended(struct media_session *s, void *arg)
{
	struct media_session_info inf;

	(void)arg;
	media_session_info(s, &inf);
	ended_calls++;
	ended_at_tx = (unsigned)inf.tx;
}

/* ---- ports --------------------------------------------------------- */

Test(media, port_range_exhaustion_is_a_clear_error)
{
	uint16_t base = free_range(3);
	struct media_session *s[4];

	m = engine(base, (uint16_t)(base + 5), 0, 1, true);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(media_session_open(m, &s[i]), 0);
		cr_assert_eq(media_session_port(s[i]) % 2, 0, "even ports");
		cr_assert_geq(media_session_port(s[i]), base);
		cr_assert_leq(media_session_port(s[i]), base + 5);
	}
	cr_assert_neq(media_session_port(s[0]), media_session_port(s[1]));
	cr_assert_neq(media_session_port(s[1]), media_session_port(s[2]));
	cr_assert_eq(media_session_open(m, &s[3]), -ENOSPC);
	/* A closed session's port is free again. */
	uint16_t p1 = media_session_port(s[1]);
	media_session_close(s[1]);
	cr_assert_eq(media_session_open(m, &s[3]), 0);
	cr_assert_eq(media_session_port(s[3]), p1);
	cr_assert_eq(media_session_open(m, &s[1]), -ENOSPC);
}

Test(media, port_taken_by_another_process_is_skipped)
{
	uint16_t base = free_range(2);
	struct sockaddr_in a = lo(base);
	struct media_session *s, *t;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	m = engine(base, (uint16_t)(base + 3), 0, 1, true);
	cr_assert_eq(media_session_open(m, &s), 0);
	cr_assert_eq(media_session_port(s), base + 2);
	cr_assert_eq(media_session_open(m, &t), -ENOSPC);
	close(fd);
}

Test(media, workers_share_the_range_without_overlap)
{
	uint16_t base = free_range(4);
	struct media_session *s;
	unsigned seen[4] = { 0 };

	m = engine(base, (uint16_t)(base + 7), 0, 2, true);
	m2 = engine(base, (uint16_t)(base + 7), 1, 2, true);
	for (int w = 0; w < 2; w++) {
		struct media *e = w ? m2 : m;

		for (int i = 0; i < 2; i++) {
			uint16_t p;

			cr_assert_eq(media_session_open(e, &s), 0);
			p = media_session_port(s);
			cr_assert_eq((p / 2) % 2, (unsigned)w, "worker %d: %u",
				     w, p);
			seen[(p - base) / 2]++;
		}
		cr_assert_eq(media_session_open(e, &s), -ENOSPC);
	}
	for (int i = 0; i < 4; i++)
		cr_assert_eq(seen[i], 1, "port %d", base + 2 * i);
}

Test(media, bad_options_refused)
{
	struct media_opts o = { .port_min = 20001, .port_max = 20001 };
	struct sockaddr_in a = lo(0);
	struct media *e = NULL;

	memcpy(&o.addr, &a, sizeof(a));
	o.addrlen = sizeof(a);
	cr_assert_eq(media_new(&loop, &o, &e), -EINVAL, "no even port");
	o.port_max = 20000;
	cr_assert_eq(media_new(&loop, &o, &e), -EINVAL, "min > max");
	o.port_min = 20000;
	o.port_max = 20002;
	o.worker = 2;
	o.nworkers = 2;
	cr_assert_eq(media_new(&loop, &o, &e), -EINVAL, "worker >= n");
	o.worker = 1;
	o.nworkers = 4; /* the share of worker 1: 20002 only */
	cr_assert_eq(media_new(&loop, &o, &e), 0);
	media_free(e);
	o.worker = 3; /* 20006 is out of range: an empty share */
	cr_assert_eq(media_new(&loop, &o, &e), -EINVAL);
}

/* ---- SDP ----------------------------------------------------------- */

static void parse(struct sdp *s, const char *text)
{
	cr_assert_eq(sdp_parse(s, text, strlen(text)), 0, "%s", s->fault);
}

Test(media, offer_has_the_session_port_and_g711_and_events)
{
	struct media_session *s;
	char buf[1024];
	struct sdp sdp;
	struct slice v;
	int n;

	m = engine(free_range(1), 60000, 0, 1, true);
	cr_assert_eq(media_session_open(m, &s), 0);
	n = media_sdp_offer(s, buf, sizeof(buf));
	cr_assert_gt(n, 0);
	parse(&sdp, buf);
	cr_assert_eq(sdp.nmedia, 1);
	cr_assert_eq(sdp.media[0].port, media_session_port(s));
	cr_assert_eq(sdp.media[0].fmts.len, 7);
	cr_assert_eq(memcmp(sdp.media[0].fmts.p, "0 8 101", 7), 0);
	cr_assert(sdp.has_conn);
	cr_assert_eq(memcmp(sdp.conn.addr.p, "127.0.0.1", 9), 0);
	cr_assert_eq(sdp_attr_find(sdp.media[0].block, "fmtp", &v), 1);
	cr_assert_eq(memcmp(v.p, "101 0-16", 8), 0);
	cr_assert_eq(sdp_media_dir(&sdp, 0), SDP_SENDRECV);
	/* The version goes up with every SDP written. */
	char buf2[1024];
	struct sdp sdp2;
	cr_assert_gt(media_sdp_offer(s, buf2, sizeof(buf2)), 0);
	parse(&sdp2, buf2);
	cr_assert_eq(sdp.o_sess_id.len, sdp2.o_sess_id.len);
	cr_assert_neq(sdp.o_version.p[0] + 0 * 1, 0);
	cr_assert_neq(strcmp(buf, buf2), 0);
	cr_assert_eq(media_sdp_offer(s, buf, 40), -ENOSPC);
}

#define OFFER_HEAD                                                         \
	"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n" \
	"t=0 0\r\n"

Test(media, answer_chooses_first_supported_law_in_offer_order)
{
	struct sdp o;
	struct media_remote r;

	parse(&o, OFFER_HEAD "m=audio 4000 RTP/AVP 18 8 0 101\r\n"
			     "a=rtpmap:18 G729/8000\r\n"
			     "a=rtpmap:101 telephone-event/8000\r\n");
	cr_assert_eq(media_sdp_choose(&o, &r), 0);
	cr_assert_eq(r.law, RTP_ALAW);
	cr_assert_eq(r.pt, 8);
	cr_assert_eq(r.event_pt, 101);
	cr_assert_eq(ntohs(((struct sockaddr_in *)&r.addr)->sin_port), 4000);

	parse(&o, OFFER_HEAD "m=audio 4000 RTP/AVP 0\r\n");
	cr_assert_eq(media_sdp_choose(&o, &r), 0);
	cr_assert_eq(r.law, RTP_ULAW);
	cr_assert_eq(r.event_pt, -1, "no telephone-event offered");

	/* A dynamic type for PCMU, and events on 96. */
	parse(&o, OFFER_HEAD "m=audio 4002 RTP/AVP 97 96\r\n"
			     "a=rtpmap:97 pcmu/8000\r\n"
			     "a=rtpmap:96 telephone-event/8000\r\n");
	cr_assert_eq(media_sdp_choose(&o, &r), 0);
	cr_assert_eq(r.pt, 97);
	cr_assert_eq(r.law, RTP_ULAW);
	cr_assert_eq(r.event_pt, 96);

	/* PCMA at 16 kHz is not G.711 at 8 kHz: the next one. */
	parse(&o, OFFER_HEAD "m=audio 4002 RTP/AVP 98 0\r\n"
			     "a=rtpmap:98 PCMA/16000\r\n");
	cr_assert_eq(media_sdp_choose(&o, &r), 0);
	cr_assert_eq(r.pt, 0);
}

Test(media, answer_rejects_other_streams_and_sets_the_remote)
{
	struct media_session *s;
	struct sdp o, a;
	struct media_session_info inf;
	char buf[1024];

	m = engine(free_range(1), 60000, 0, 1, true);
	cr_assert_eq(media_session_open(m, &s), 0);
	parse(&o, OFFER_HEAD "m=video 5000 RTP/AVP 31\r\n"
			     "m=audio 5002 RTP/AVP 8 101\r\n"
			     "c=IN IP4 127.0.0.2\r\n"
			     "a=rtpmap:101 telephone-event/8000\r\n");
	cr_assert_gt(media_sdp_answer(s, &o, buf, sizeof(buf)), 0);
	parse(&a, buf);
	cr_assert_eq(sdp_answer_check(&o, &a, NULL), 0, "%s", buf);
	cr_assert_eq(a.media[0].port, 0, "video rejected");
	cr_assert_eq(a.media[1].port, media_session_port(s));
	cr_assert_eq(memcmp(a.media[1].fmts.p, "8 101", 5), 0);
	media_session_info(s, &inf);
	cr_assert(inf.has_remote);
	cr_assert_eq(inf.law, RTP_ALAW);
	cr_assert_eq(inf.event_pt, 101);
	cr_assert_eq(((struct sockaddr_in *)&inf.remote)->sin_addr.s_addr,
		     inet_addr("127.0.0.2"), "the media-level c=");
	cr_assert_eq(ntohs(((struct sockaddr_in *)&inf.remote)->sin_port),
		     5002);
}

Test(media, nothing_acceptable_is_488_worthy)
{
	struct media_session *s;
	struct sdp o;
	struct media_remote r;
	struct media_session_info inf;
	char buf[1024];

	m = engine(free_range(1), 60000, 0, 1, true);
	cr_assert_eq(media_session_open(m, &s), 0);
	parse(&o, OFFER_HEAD "m=audio 4000 RTP/AVP 18 9\r\n");
	cr_assert_eq(media_sdp_answer(s, &o, buf, sizeof(buf)),
		     -EPROTONOSUPPORT);
	media_session_info(s, &inf);
	cr_assert(!inf.has_remote, "nothing changed");
	parse(&o, OFFER_HEAD "m=audio 0 RTP/AVP 0\r\n");
	cr_assert_eq(media_sdp_choose(&o, &r), -EPROTONOSUPPORT, "port 0");
	parse(&o, OFFER_HEAD "m=audio 4000 RTP/SAVP 0\r\n");
	cr_assert_eq(media_sdp_choose(&o, &r), -EPROTONOSUPPORT, "SRTP");
	parse(&o, "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 pbx.example\r\n"
		  "t=0 0\r\nm=audio 4000 RTP/AVP 0\r\n");
	cr_assert_eq(media_sdp_choose(&o, &r), -EBADMSG, "not an IP");
}

/* ---- sending ------------------------------------------------------- */

Test(media, prompts_then_music_in_order_with_continuous_seq_and_ts)
{
	static const char *const names[] = { "parked-at", "seven", "zero",
					     "one" };
	const struct media_sound *ps[4];
	struct media_session *s;
	struct sockaddr_in to;
	struct pkt p, first;
	uint64_t t;
	unsigned frames = 0, i = 0;

	load_sounds();
	rx = udp_socket();
	to = lo(sock_port(rx));
	m = engine(free_range(1), 60000, 0, 1, true);
	cr_assert_eq(media_session_open(m, &s), 0);
	for (int k = 0; k < 4; k++) {
		ps[k] = media_sound_builtin(names[k]);
		cr_assert_not_null(ps[k], "%s", names[k]);
	}
	cr_assert_eq(
	    media_play(s, ps, 4, media_sound_builtin("music"), on_ended, NULL),
	    0);
	ended_calls = 0;
	cr_assert_eq(media_session_set_remote(s, (struct sockaddr *)&to,
					      sizeof(to), RTP_ULAW, 101),
		     0);
	t = uv_hrtime();
	step(rx, t, &first);
	cr_assert_eq(first.h.pt, 0);
	cr_assert(first.h.marker, "the first packet starts a talk spurt");
	cr_assert_eq(first.plen, 160);
	p = first;
	for (int k = 0; k < 4; k++) {
		size_t n;
		uint8_t *want = wav_law(names[k], RTP_ULAW, &n);

		for (size_t off = 0; off < n; off += 160, i++) {
			uint8_t exp[160];
			size_t take = n - off < 160 ? n - off : 160;

			memcpy(exp, want + off, take);
			memset(exp + take, 0xff, 160 - take);
			if (i > 0) {
				struct pkt q;

				t += PTIME_NS;
				step(rx, t, &q);
				cr_assert_eq(q.h.seq, (uint16_t)(p.h.seq + 1));
				cr_assert_eq(q.h.ts, p.h.ts + 160);
				cr_assert_eq(q.h.ssrc, first.h.ssrc);
				cr_assert(!q.h.marker, "frame %u", i);
				cr_assert_eq(q.h.pt, 0);
				p = q;
			}
			cr_assert_eq(memcmp(p.pl, exp, 160), 0,
				     "%s frame %zu differs", names[k],
				     off / 160);
			frames++;
		}
		free(want);
	}
	cr_assert_eq(ended_calls, 1, "ended once, after the last prompt");
	cr_assert_eq(ended_at_tx, frames);
	/* Then the music from its start, seq and ts going on. */
	size_t mn;
	uint8_t *music = wav_law("music", RTP_ULAW, &mn);

	cr_assert_gt(mn, 8000 * 10, "10 s of music at least");
	for (unsigned k = 0; k < 25; k++) {
		struct pkt q;

		t += PTIME_NS;
		step(rx, t, &q);
		cr_assert_eq(q.h.seq, (uint16_t)(p.h.seq + 1));
		cr_assert_eq(q.h.ts, p.h.ts + 160);
		cr_assert(!q.h.marker, "music goes on from the prompts");
		cr_assert_eq(memcmp(q.pl, music + 160 * k, 160), 0,
			     "music frame %u", k);
		p = q;
	}
	free(music);
	cr_assert_eq(ended_calls, 1);
}

Test(media, silence_when_nothing_plays_alaw_and_marker_on_next_spurt)
{
	struct media_session *s;
	struct sockaddr_in to;
	struct pkt p;
	uint64_t t;
	const struct media_sound *one;
	size_t n;
	uint8_t *want;

	load_sounds();
	rx = udp_socket();
	to = lo(sock_port(rx));
	m = engine(free_range(1), 60000, 0, 1, true);
	cr_assert_eq(media_session_open(m, &s), 0);
	cr_assert_eq(media_session_set_remote(s, (struct sockaddr *)&to,
					      sizeof(to), RTP_ALAW, -1),
		     0);
	t = uv_hrtime();
	for (int k = 0; k < 5; k++, t += PTIME_NS) {
		step(rx, t, &p);
		cr_assert_eq(p.h.pt, 8);
		cr_assert_eq(p.h.marker, k == 0);
		for (int j = 0; j < 160; j++)
			cr_assert_eq(p.pl[j], 0xd5, "A-law silence");
	}
	one = media_sound_builtin("one");
	cr_assert_eq(media_play(s, &one, 1, NULL, NULL, NULL), 0);
	want = wav_law("one", RTP_ALAW, &n);
	step(rx, t, &p);
	cr_assert(p.h.marker, "sound after silence: a new talk spurt");
	cr_assert_eq(memcmp(p.pl, want, 160), 0);
	free(want);
	cr_assert_eq(media_send_dtmf(s, '1', 100), -EPROTONOSUPPORT);
}

Test(media, sends_rfc4733_event_with_three_ends_then_audio_resumes)
{
	struct media_session *s;
	struct sockaddr_in to;
	struct pkt p, q;
	struct rtp_event ev;
	uint64_t t;
	uint32_t ev_ts;

	rx = udp_socket();
	to = lo(sock_port(rx));
	m = engine(free_range(1), 60000, 0, 1, true);
	cr_assert_eq(media_session_open(m, &s), 0);
	cr_assert_eq(media_send_dtmf(s, '5', 100), -ENOTCONN);
	cr_assert_eq(media_session_set_remote(s, (struct sockaddr *)&to,
					      sizeof(to), RTP_ULAW, 101),
		     0);
	t = uv_hrtime();
	step(rx, t, &p);
	cr_assert_eq(media_send_dtmf(s, 'x', 100), -EINVAL);
	cr_assert_eq(media_send_dtmf(s, '5', 10), -EINVAL);
	cr_assert_eq(media_send_dtmf(s, '5', 100), 0);
	cr_assert_eq(media_send_dtmf(s, '6', 100), -EBUSY);
	ev_ts = p.h.ts + 160;
	/* 100 ms = 800 samples: 160, 320, 480, 640, then 800 with the end
	 * bit three times. */
	for (int k = 0; k < 7; k++) {
		t += PTIME_NS;
		step(rx, t, &q);
		cr_assert_eq(q.h.pt, 101);
		cr_assert_eq(q.h.seq, (uint16_t)(p.h.seq + 1));
		cr_assert_eq(q.h.ts, ev_ts, "one timestamp per event");
		cr_assert_eq(q.h.marker, k == 0);
		cr_assert_eq(q.plen, 4);
		cr_assert_eq(rtp_event_parse(q.pl, q.plen, &ev), 0);
		cr_assert_eq(ev.event, 5);
		cr_assert_eq(ev.end, k >= 4, "packet %d", k);
		cr_assert_eq(ev.duration, k < 4 ? 160 * (k + 1) : 800);
		p = q;
	}
	t += PTIME_NS;
	step(rx, t, &q);
	cr_assert_eq(q.h.pt, 0, "audio again");
	cr_assert_eq(q.h.ts, ev_ts + 7 * 160, "its clock went on");
	cr_assert_eq(q.h.seq, (uint16_t)(p.h.seq + 1));
	cr_assert_eq(media_send_dtmf(s, '#', 40), 0, "another one may start");
}

/* ---- receiving ----------------------------------------------------- */

static char got_digits[16];
static unsigned got_n, got_dur[16];

static void on_dtmf(struct media_session *s, void *arg, char digit,
		    uint8_t event, unsigned duration_ms)
{
	(void)s;
	(void)arg;
	(void)event;
	if (got_n < sizeof(got_digits) - 1) {
		got_dur[got_n] = duration_ms;
		got_digits[got_n++] = digit;
	}
}

static void send_event(int fd, uint16_t to, uint16_t *seq, uint32_t ts,
		       uint8_t code, unsigned npkts)
{
	for (unsigned k = 0; k < npkts + 3; k++) {
		struct rtp_hdr h = { .pt = 101,
				     .marker = k == 0,
				     .seq = (*seq)++,
				     .ts = ts,
				     .ssrc = 0x1234 };
		struct rtp_event ev = {
			.event = code,
			.volume = 10,
			.end = k >= npkts,
			.duration =
			    (uint16_t)(160 * (k < npkts ? k + 1 : npkts))
		};
		uint8_t pl[4];

		rtp_event_write(pl, &ev);
		send_rtp(fd, to, &h, pl, 4);
	}
}

static void run_until_digits(unsigned n)
{
	for (long long end = ms_now() + WAIT_MS; got_n < n && ms_now() < end;) {
		uv_run(&loop, UV_RUN_NOWAIT);
		ms_sleep(1); /* the datagrams are in the socket already */
	}
}

Test(media, decodes_rfc4733_digits_once_each)
{
	struct media_session *s;
	struct media_session_info inf;
	struct media_stats st;
	uint16_t seq = 100;
	uint8_t junk[5] = { 1, 2, 3, 4, 5 };

	rx = udp_socket();
	m = engine(free_range(1), 60000, 0, 1, true);
	cr_assert_eq(media_session_open(m, &s), 0);
	struct sockaddr_in to = lo(sock_port(rx));
	cr_assert_eq(media_session_set_remote(s, (struct sockaddr *)&to,
					      sizeof(to), RTP_ULAW, 101),
		     0);
	got_n = 0;
	memset(got_digits, 0, sizeof(got_digits));
	media_session_on_dtmf(s, on_dtmf, NULL);
	/* Not RTP: counted and dropped. */
	cr_assert_eq(sendto(rx, junk, sizeof(junk), 0,
			    (struct sockaddr *)&(struct sockaddr_in){
				.sin_family = AF_INET,
				.sin_port = htons(media_session_port(s)),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK) },
			    sizeof(struct sockaddr_in)),
		     5);
	send_event(rx, media_session_port(s), &seq, 8000, 7, 3);
	send_event(rx, media_session_port(s), &seq, 9600, 10, 5);
	send_event(rx, media_session_port(s), &seq, 12000, 11, 2);
	run_until_digits(3);
	/* Let the retransmissions in too: they must add nothing. */
	for (int k = 0; k < 20; k++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		ms_sleep(1);
	}
	cr_assert_str_eq(got_digits, "7*#");
	cr_assert_eq(got_dur[0], 60);
	cr_assert_eq(got_dur[1], 100);
	cr_assert_eq(got_dur[2], 40);
	media_session_info(s, &inf);
	cr_assert_eq(inf.rx, 6 + 8 + 5);
	cr_assert_eq(inf.dtmf, 3);
	media_stats_get(m, &st);
	cr_assert_eq(st.rx_bad, 1);
	cr_assert_eq(st.dtmf, 3);
}

Test(media, latches_to_the_source_of_the_first_packet)
{
	struct media_session *s;
	struct media_session_info inf;
	struct sockaddr_in to;
	struct rtp_hdr h = { .pt = 0, .seq = 1, .ts = 1, .ssrc = 9 };
	uint8_t pl[160];
	struct pkt p;
	uint64_t t;

	memset(pl, 0xff, sizeof(pl));
	rx = udp_socket();  /* what the SDP said */
	rx2 = udp_socket(); /* where the packets really come from */
	to = lo(sock_port(rx));
	m = engine(free_range(1), 60000, 0, 1, true);
	cr_assert_eq(media_session_open(m, &s), 0);
	cr_assert_eq(media_session_set_remote(s, (struct sockaddr *)&to,
					      sizeof(to), RTP_ULAW, -1),
		     0);
	send_rtp(rx2, media_session_port(s), &h, pl, sizeof(pl));
	for (long long end = ms_now() + WAIT_MS; ms_now() < end;) {
		uv_run(&loop, UV_RUN_NOWAIT);
		media_session_info(s, &inf);
		if (inf.latched)
			break;
		ms_sleep(1); /* the datagram is in the socket already */
	}
	cr_assert(inf.latched);
	cr_assert_eq(ntohs(((struct sockaddr_in *)&inf.remote)->sin_port),
		     sock_port(rx2));
	t = uv_hrtime();
	step(rx2, t, &p);
	cr_assert_eq(recv(rx, pl, sizeof(pl), 0), -1, "nothing to the SDP's");
	/* Another source later is not followed. */
	h.seq = 2;
	send_rtp(rx, media_session_port(s), &h, pl, sizeof(pl));
	for (int k = 0; k < 20; k++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		ms_sleep(1);
	}
	media_session_info(s, &inf);
	cr_assert_eq(ntohs(((struct sockaddr_in *)&inf.remote)->sin_port),
		     sock_port(rx2));
	cr_assert_eq(inf.rx, 1);
	/* The same SDP address again (a re-INVITE for a codec): still
	 * latched. */
	cr_assert_eq(media_session_set_remote(s, (struct sockaddr *)&to,
					      sizeof(to), RTP_ALAW, -1),
		     0);
	media_session_info(s, &inf);
	cr_assert(inf.latched);
	cr_assert_eq(ntohs(((struct sockaddr_in *)&inf.remote)->sin_port),
		     sock_port(rx2));
	/* A new address: followed, and the next packet latches again. */
	struct sockaddr_in moved = lo(9);
	cr_assert_eq(media_session_set_remote(s, (struct sockaddr *)&moved,
					      sizeof(moved), RTP_ULAW, -1),
		     0);
	media_session_info(s, &inf);
	cr_assert(!inf.latched);
	cr_assert_eq(ntohs(((struct sockaddr_in *)&inf.remote)->sin_port), 9);
	h.seq = 3;
	send_rtp(rx, media_session_port(s), &h, pl, sizeof(pl));
	for (long long end = ms_now() + WAIT_MS; ms_now() < end;) {
		uv_run(&loop, UV_RUN_NOWAIT);
		media_session_info(s, &inf);
		if (inf.latched)
			break;
		ms_sleep(1); /* the datagram is in the socket already */
	}
	cr_assert(inf.latched);
	cr_assert_eq(ntohs(((struct sockaddr_in *)&inf.remote)->sin_port),
		     sock_port(rx));
}

/* ---- the timer ----------------------------------------------------- */

Test(media, own_timer_paces_packets_every_20_ms)
{
	struct media_session *s;
	struct sockaddr_in to;
	struct pkt p[30];
	long long t0;

	load_sounds();
	rx = udp_socket();
	to = lo(sock_port(rx));
	m = engine(free_range(1), 60000, 0, 1, false);
	cr_assert_eq(media_session_open(m, &s), 0);
	cr_assert_eq(
	    media_play(s, NULL, 0, media_sound_builtin("music"), NULL, NULL),
	    0);
	t0 = ms_now();
	cr_assert_eq(media_session_set_remote(s, (struct sockaddr *)&to,
					      sizeof(to), RTP_ULAW, 101),
		     0);
	for (int k = 0; k < 30; k++)
		cr_assert(recv_pkt(rx, &p[k], WAIT_MS), "packet %d", k);
	for (int k = 1; k < 30; k++) {
		cr_assert_eq(p[k].h.seq, (uint16_t)(p[k - 1].h.seq + 1));
		/* 160 per packet; more only after a stall of the loop over
		 * 200 ms (the engine then skips the lost time). */
		cr_assert_eq((p[k].h.ts - p[k - 1].h.ts) % 160, 0);
		cr_assert_geq(p[k].h.ts - p[k - 1].h.ts, 160);
	}
	/* Paced, not a burst: packet k is not sent before k * 20 ms after
	 * the remote was set (its due time; a loaded machine only makes it
	 * later, so this bound cannot flake; -1 for the millisecond
	 * truncation). Lateness is measured by tests/bench/mediabench,
	 * not here. */
	cr_assert_geq(p[29].at_ms - t0, 29 * 20 - 1, "30 packets in %lld ms",
		      p[29].at_ms - t0);
}

/* ---- sounds -------------------------------------------------------- */

Test(media, builtin_sounds_found_beside_the_binary)
{
	static const char *const names[] = {
		"zero",	     "one",	 "two",	       "three", "four",
		"five",	     "six",	 "seven",      "eight", "nine",
		"parked-at", "lot-full", "slot-empty", "music"
	};

	load_sounds();
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct media_sound *s = media_sound_builtin(names[i]);

		cr_assert_not_null(s, "%s", names[i]);
		cr_assert_gt(media_sound_samples(s), 1600, "%s", names[i]);
	}
	cr_assert_eq(media_sound_digit('7'), media_sound_builtin("seven"));
	cr_assert_null(media_sound_digit('x'));
	cr_assert_null(media_sound_builtin("nope"));
	/* The music is not silence: its µ-law bytes vary. */
	const struct media_sound *mu = media_sound_builtin("music");
	const uint8_t *b = media_sound_bytes(mu, RTP_ULAW);
	unsigned loud = 0;
	for (size_t i = 0; i < media_sound_samples(mu); i++)
		loud += (b[i] & 0x7f) < 0x60; /* over about -30 dBFS */
	cr_assert_gt(loud, media_sound_samples(mu) / 20);
	char dir[64];
	cr_assert_eq(media_sounds_dir("/x/y", dir, sizeof(dir)), 0);
	cr_assert_str_eq(dir, "/x/y");
	cr_assert_eq(media_sounds_dir("/x/y", dir, 3), -ENAMETOOLONG);
}

static void write_wav(const char *path, int rate, int channels, int frames)
{
	SF_INFO info = { .samplerate = rate,
			 .channels = channels,
			 .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16 };
	SNDFILE *f = sf_open(path, SFM_WRITE, &info);
	short z[64] = { 0 };

	cr_assert_not_null(f, "%s", path);
	for (int i = 0; i < frames; i += 32)
		sf_writef_short(f, z, frames - i < 32 ? frames - i : 32);
	sf_close(f);
}

Test(media, sound_load_errors_name_the_file)
{
	char dir[] = "/tmp/media-test-XXXXXX", path[128], why[512];
	struct media_sound *s = NULL;
	int fd;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/none.wav", dir);
	cr_assert_eq(media_sound_load(path, &s, why, sizeof(why)), -ENOENT);
	cr_assert_not_null(strstr(why, path), "%s", why);

	snprintf(path, sizeof(path), "%s/text.wav", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	cr_assert_eq(write(fd, "hello, not a wav\n", 17), 17);
	close(fd);
	cr_assert_eq(media_sound_load(path, &s, why, sizeof(why)), -EBADMSG);
	cr_assert_not_null(strstr(why, path), "%s", why);
	unlink(path);

	snprintf(path, sizeof(path), "%s/wide.wav", dir);
	write_wav(path, 16000, 1, 1600);
	cr_assert_eq(media_sound_load(path, &s, why, sizeof(why)), -EINVAL);
	cr_assert_not_null(strstr(why, path), "%s", why);
	cr_assert_not_null(strstr(why, "16000 Hz"), "%s", why);
	cr_assert_not_null(strstr(why, "8000 Hz mono"), "%s", why);
	unlink(path);

	snprintf(path, sizeof(path), "%s/stereo.wav", dir);
	write_wav(path, 8000, 2, 1600);
	cr_assert_eq(media_sound_load(path, &s, why, sizeof(why)), -EINVAL);
	unlink(path);

	snprintf(path, sizeof(path), "%s/empty.wav", dir);
	write_wav(path, 8000, 1, 0);
	cr_assert_eq(media_sound_load(path, &s, why, sizeof(why)), -ENODATA);
	unlink(path);

	snprintf(path, sizeof(path), "%s/ok.wav", dir);
	write_wav(path, 8000, 1, 1000);
	cr_assert_eq(media_sound_load(path, &s, NULL, 0), 0);
	cr_assert_eq(media_sound_samples(s), 1000);
	cr_assert_eq(media_sound_bytes(s, RTP_ULAW)[0], 0xff);
	cr_assert_eq(media_sound_bytes(s, RTP_ALAW)[0], 0xd5);
	media_sound_free(s);
	unlink(path);
	/* A directory without the set: the first missing file named. */
	cr_assert_eq(media_sounds_load(dir, why, sizeof(why)), -ENOENT);
	cr_assert_not_null(strstr(why, "zero.wav"), "%s", why);
	cr_assert_null(media_sound_builtin("zero"));
	rmdir(dir);
}

Test(media, sendonly_offer_holds_and_a_new_offer_resumes)
{
	struct media_session *s;
	struct media_session_info inf;
	struct sdp o, a;
	struct pkt p;
	char text[512], buf[1024];
	uint16_t port;
	uint64_t t;

	rx = udp_socket();
	port = sock_port(rx);
	m = engine(free_range(1), 60000, 0, 1, true);
	cr_assert_eq(media_session_open(m, &s), 0);
	snprintf(text, sizeof(text),
		 OFFER_HEAD "m=audio %u RTP/AVP 0 101\r\n"
			    "a=rtpmap:101 telephone-event/8000\r\n"
			    "a=sendonly\r\n",
		 port);
	parse(&o, text);
	cr_assert_gt(media_sdp_answer(s, &o, buf, sizeof(buf)), 0);
	parse(&a, buf);
	cr_assert_eq(sdp_media_dir(&a, 0), SDP_RECVONLY);
	cr_assert_eq(sdp_answer_check(&o, &a, NULL), 0);
	media_session_info(s, &inf);
	cr_assert(inf.has_remote);
	cr_assert(!inf.sending, "held");
	t = uv_hrtime();
	for (int k = 0; k < 5; k++, t += PTIME_NS)
		media_tick(m, t);
	cr_assert(!recv_pkt(rx, &p, 50), "nothing sent while held");
	/* The re-INVITE takes it off hold: packets at once. */
	snprintf(text, sizeof(text),
		 OFFER_HEAD "m=audio %u RTP/AVP 0\r\n"
			    "a=inactive\r\n",
		 port);
	parse(&o, text);
	cr_assert_gt(media_sdp_answer(s, &o, buf, sizeof(buf)), 0);
	parse(&a, buf);
	cr_assert_eq(sdp_media_dir(&a, 0), SDP_INACTIVE);
	snprintf(text, sizeof(text), OFFER_HEAD "m=audio %u RTP/AVP 0\r\n",
		 port);
	parse(&o, text);
	cr_assert_gt(media_sdp_answer(s, &o, buf, sizeof(buf)), 0);
	parse(&a, buf);
	cr_assert_eq(sdp_media_dir(&a, 0), SDP_SENDRECV);
	media_tick(m, t);
	cr_assert(recv_pkt(rx, &p, WAIT_MS));
	cr_assert(p.h.marker, "the first packet sent");
}

Test(media, ipv6_session_offers_ip6_and_sends_over_ipv6)
{
	struct media_opts o = { .port_min = free_range(1),
				.port_max = 60000,
				.manual = true };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6,
				   .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sockaddr_in6 to;
	socklen_t len = sizeof(to);
	struct media_session *s;
	struct sdp sdp;
	char buf[1024];
	struct pkt p;
	struct sockaddr_in v4 = lo(9);

	rx = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	cr_assert_eq(bind(rx, (struct sockaddr *)&a6, sizeof(a6)), 0);
	cr_assert_eq(getsockname(rx, (struct sockaddr *)&to, &len), 0);
	memcpy(&o.addr, &a6, sizeof(a6));
	o.addrlen = sizeof(a6);
	cr_assert_eq(media_new(&loop, &o, &m), 0);
	cr_assert_eq(media_session_open(m, &s), 0);
	cr_assert_gt(media_sdp_offer(s, buf, sizeof(buf)), 0);
	parse(&sdp, buf);
	cr_assert_eq(memcmp(sdp.conn.addrtype.p, "IP6", 3), 0);
	cr_assert_eq(memcmp(sdp.conn.addr.p, "::1", 3), 0);
	cr_assert_eq(media_session_set_remote(s, (struct sockaddr *)&v4,
					      sizeof(v4), RTP_ULAW, -1),
		     -EINVAL, "another family");
	cr_assert_eq(media_session_set_remote(s, (struct sockaddr *)&to,
					      sizeof(to), RTP_ULAW, -1),
		     0);
	media_tick(m, uv_hrtime());
	cr_assert(recv_pkt(rx, &p, WAIT_MS));
	cr_assert_eq(p.h.pt, 0);
}

Test(media, opts_from_the_b2b_section)
{
	struct conf *c = sections_load("b2b:\n  listen: \"[::1]:5090\"\n"
				       "  media:\n    ports: 30000-30100\n");
	struct media_opts o;

	cr_assert_eq(media_opts_conf(c, 1, 2, &o), 0);
	cr_assert_eq(o.addr.ss_family, AF_INET6);
	cr_assert_eq(((struct sockaddr_in6 *)&o.addr)->sin6_port, 0);
	cr_assert_eq(o.port_min, 30000);
	cr_assert_eq(o.port_max, 30100);
	cr_assert_eq(o.worker, 1);
	cr_assert_eq(o.nworkers, 2);
	cr_assert(!o.manual);
	cr_assert_eq(media_opts_conf(c, 2, 2, &o), -EINVAL);
	cr_assert_eq(media_new(&loop, &o, &m), 0, "usable as it is");
	conf_free(c);
}

Test(media, sends_nothing_before_the_sdp_but_keeps_an_early_latch)
{
	struct media_session *s;
	struct media_session_info inf;
	struct rtp_hdr h = { .pt = 0, .seq = 1, .ts = 1, .ssrc = 9 };
	uint8_t pl[160];
	struct sockaddr_in to;
	struct pkt p;
	uint64_t t;

	memset(pl, 0xff, sizeof(pl));
	rx = udp_socket();
	rx2 = udp_socket();
	to = lo(sock_port(rx));
	m = engine(free_range(1), 60000, 0, 1, true);
	cr_assert_eq(media_session_open(m, &s), 0);
	send_rtp(rx2, media_session_port(s), &h, pl, sizeof(pl));
	for (long long end = ms_now() + WAIT_MS; ms_now() < end;) {
		uv_run(&loop, UV_RUN_NOWAIT);
		media_session_info(s, &inf);
		if (inf.latched)
			break;
		ms_sleep(1); /* the datagram is in the socket already */
	}
	cr_assert(inf.latched);
	cr_assert(!inf.sending, "no law yet");
	t = uv_hrtime();
	media_tick(m, t);
	media_tick(m, t + PTIME_NS);
	cr_assert(!recv_pkt(rx2, &p, 50), "nothing before the SDP");
	cr_assert_eq(media_send_dtmf(s, '1', 100), -ENOTCONN);
	/* The SDP arrives (its address is the one behind a NAT): the early
	 * latch stays. */
	cr_assert_eq(media_session_set_remote(s, (struct sockaddr *)&to,
					      sizeof(to), RTP_ULAW, -1),
		     0);
	media_tick(m, uv_hrtime());
	cr_assert(recv_pkt(rx2, &p, WAIT_MS));
	cr_assert(!recv_pkt(rx, &p, 20), "not to the SDP's address");
}

/* The engine on a real worker of the shard runtime, as the pool will
 * run it: made and freed on the worker's thread by shard_post(), its
 * own timer on the worker's loop. Static: the shard reads them. */
static struct media *on_shard;
static struct sockaddr_in on_shard_to;
static uint16_t on_shard_base;
static atomic_uint on_shard_steps;
static atomic_int on_shard_err;

static void shard_make(struct shard *sh, void *arg)
{
	struct media_opts o = { .port_min = on_shard_base, .port_max = 60000 };
	struct sockaddr_in a = lo(0);
	struct media_session *s;
	int err;

	(void)arg;
	if (!sh)
		return;
	memcpy(&o.addr, &a, sizeof(a));
	o.addrlen = sizeof(a);
	err = media_new(shard_loop(sh), &o, &on_shard);
	if (!err)
		err = media_session_open(on_shard, &s);
	if (!err)
		err = media_play(s, NULL, 0, media_sound_builtin("music"), NULL,
				 NULL);
	if (!err)
		err = media_session_set_remote(
		    s, (struct sockaddr *)&on_shard_to, sizeof(on_shard_to),
		    RTP_ULAW, 101);
	atomic_store(&on_shard_err, err);
	atomic_fetch_add(&on_shard_steps, 1);
}

static void shard_unmake(struct shard *sh, void *arg)
{
	(void)arg;
	if (!sh)
		return;
	media_free(on_shard); /* the loop runs its close callbacks */
	on_shard = NULL;
	atomic_fetch_add(&on_shard_steps, 1);
}

static const struct shard_role idle_role = {
	.name = "mtest",
	.new_state = shardfix_new,
	.free_state = shardfix_free,
	.handle = shardfix_handle,
};

Test(media, runs_on_a_shard_worker_loop)
{
	static struct conf cf;
	struct conf_listen l = { .address = "127.0.0.1", .udp = true };
	struct shards_opts so = { .conf = &cf,
				  .role = &idle_role,
				  .workers = 1,
				  .listen = &l,
				  .nlisten = 1,
				  .name = "mtest",
				  .no_hooks = true };
	struct shards *set = NULL;
	struct pkt p[10];

	load_sounds();
	rtconf_init(&cf, 1);
	cr_assert_eq(peer_addr_parse("127.0.0.1", 0, &l.addr, &l.addrlen), 0);
	rx = udp_socket();
	on_shard_to = lo(sock_port(rx));
	on_shard_base = free_range(1);
	atomic_store(&on_shard_steps, 0);
	cr_assert_eq(shards_start_opts(&so, &set), 0);
	cr_assert_eq(shard_post(set, 0, shard_make, NULL), 0);
	cr_assert(shardfix_wait_for(&on_shard_steps, 1));
	cr_assert_eq(atomic_load(&on_shard_err), 0);
	for (int k = 0; k < 10; k++)
		cr_assert(recv_pkt(rx, &p[k], WAIT_MS), "packet %d", k);
	for (int k = 1; k < 10; k++)
		cr_assert_eq(p[k].h.seq, (uint16_t)(p[k - 1].h.seq + 1));
	cr_assert_eq(shard_post(set, 0, shard_unmake, NULL), 0);
	cr_assert(shardfix_wait_for(&on_shard_steps, 2));
	shards_stop(set);
}
