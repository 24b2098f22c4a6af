/* features/b2b/media.c - the media engine: RTP sessions of a pool worker
 * served by one timer, sounds, SDP offer/answer */
#include "features/b2b/media.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sndfile.h>
#include <uv.h>

#include "features/b2b/b2b_conf.h"
#include "proxy/base/err.h"
#include "proxy/base/log.h"
#include "proxy/base/stats.h"
#include "proxy/sip/peer.h"
#include "proxy/sip/sdp.h"

#ifndef SIPEDGE_SOUNDS_DIR
#define SIPEDGE_SOUNDS_DIR "/usr/local/share/sipedge/sounds"
#endif

#define NS_PER_MS 1000000ull
#define PTIME_NS  (MEDIA_PTIME_MS * NS_PER_MS)
/* Packets one session sends in one tick when the loop fell behind; past
 * that it skips (its timestamps jump, its sequence numbers do not). */
#define CATCH_UP_MAX 10
/* Datagrams read per session per readable callback. */
#define RX_BATCH 16
#define RX_BUF	 2048
/* RFC 4733 §2.5.1.4: the end packet is sent three times. */
#define EVENT_END_SENDS 3
/* The longest sound media_sound_load() takes: 10 minutes. */
#define SOUND_MAX_SAMPLES (8000u * 600u)
#define LATE_BUCKETS	  (sizeof(((struct media_stats *)0)->late_hist) / 8)

struct media_sound {
	size_t n;
	uint8_t *law[2]; /* indexed by enum rtp_law */
};

struct media_session {
	struct media *m;
	struct media_session *prev, *next;
	uv_poll_t poll;
	int fd;
	uint16_t port;
	bool closing;

	/* The remote: set by media_session_set_remote(), moved once by
	 * the first packet received (symmetric RTP). */
	bool configured, latched;
	bool hold; /* the remote does not receive (sendonly, inactive) */
	struct sockaddr_storage signalled; /* the SDP's, when configured */
	struct sockaddr_storage remote;
	socklen_t remote_len;
	enum rtp_law law;
	uint8_t pt;
	int event_pt;

	/* Sending. */
	uint32_t ssrc, ts;
	uint16_t seq;
	bool started;	  /* a packet was sent */
	bool last_audio;  /* the last packet carried sound, not silence */
	uint64_t due_ns;  /* the next packet's time (uv_hrtime) */
	uint32_t sess_id; /* o= */
	uint32_t sdp_ver; /* o= version, +1 per SDP written */

	/* The play queue: prompts[cur] at pos, then music at music_pos. */
	const struct media_sound *prompts[MEDIA_MAX_PROMPTS];
	unsigned nprompts, cur;
	size_t pos;
	const struct media_sound *music;
	size_t music_pos;
	media_ended_fn *ended;
	void *ended_arg;

	/* An RFC 4733 event being sent. */
	bool ev_active;
	uint8_t ev_code;
	bool ev_first;
	uint32_t ev_ts;
	uint32_t ev_total; /* its duration in samples */
	uint32_t ev_dur;   /* sent so far */
	unsigned ev_end_left;

	/* Receiving. */
	struct rtp_dtmf_rx dtmf_rx;
	media_dtmf_fn *on_dtmf;
	void *dtmf_arg;

	uint64_t tx, rx, dtmf;
};

struct media {
	uv_loop_t *loop;
	uv_timer_t timer;
	struct media_opts o;
	unsigned tick_ms;
	/* This worker's share of the port range: nports ports, the k-th
	 * is port0 + 2 * nworkers * k; the next try is at cursor. */
	uint16_t port0;
	unsigned nports, stride, cursor;
	uint8_t used[32768]; /* by port / 2: a session holds it */
	struct media_session *head;
	struct media_session *iter_next; /* the tick's next session */
	unsigned handles;		 /* open libuv handles */
	bool freeing;
	struct media_stats st;
	struct log_ratelimit rl;
};

/* What each engine publishes after its tick for /metrics, by its
 * worker index (media_opts.worker): written by that worker only. */
enum {
	PUB_SESSIONS,
	PUB_TX,
	PUB_TX_ERRORS,
	PUB_RX,
	PUB_LATE_5MS,
	PUB_LATE_20MS,
	PUB__COUNT,
};

static _Atomic uint64_t pub[B2B_MAX_WORKERS][PUB__COUNT];
static uint64_t late5[B2B_MAX_WORKERS], late20[B2B_MAX_WORKERS];

static const struct stats_item pub_items[] = {
	{ "sessions", "RTP sessions of the pool's media engine now", true },
	{ "tx", "RTP packets sent (prompts, music, events)", false },
	{ "tx_errors", "RTP sends that failed", false },
	{ "rx", "RTP packets received", false },
	{ "late_5ms", "RTP packets sent 5 ms or more after their time", false },
	{ "late_20ms",
	  "RTP packets sent 20 ms or more after their time "
	  "(a frame late: the listener hears a gap)",
	  false },
};

static void pub_read(void *arg, unsigned inst, uint64_t *v)
{
	(void)arg;
	for (unsigned k = 0; k < PUB__COUNT; k++)
		v[k] = inst < B2B_MAX_WORKERS
			   ? atomic_load_explicit(&pub[inst][k],
						  memory_order_relaxed)
			   : 0;
}

static struct stats_source pub_src = {
	.module = "b2b_media",
	.items = pub_items,
	.nitems = sizeof(pub_items) / sizeof(pub_items[0]),
	.label = "worker",
	.read = pub_read,
};

int media_stats_init(unsigned nworkers)
{
	int err;

	if (!nworkers || nworkers > B2B_MAX_WORKERS)
		return nworkers ? -EINVAL : 0;
	memset(pub, 0, sizeof(pub));
	memset(late5, 0, sizeof(late5));
	memset(late20, 0, sizeof(late20));
	pub_src.ninst = nworkers;
	err = stats_add(&pub_src);
	return err == -EEXIST ? 0 : err;
}

void media_stats_fini(void)
{
	stats_remove(&pub_src);
}

static void publish(const struct media *m)
{
	unsigned w = m->o.worker;
	const uint64_t v[PUB__COUNT] = {
		[PUB_SESSIONS] = m->st.sessions,
		[PUB_TX] = m->st.tx,
		[PUB_TX_ERRORS] = m->st.tx_errors,
		[PUB_RX] = m->st.rx,
	};

	if (w >= B2B_MAX_WORKERS)
		return;
	for (unsigned k = 0; k < PUB__COUNT; k++)
		if (k != PUB_LATE_5MS && k != PUB_LATE_20MS)
			atomic_store_explicit(&pub[w][k], v[k],
					      memory_order_relaxed);
	atomic_store_explicit(&pub[w][PUB_LATE_5MS], late5[w],
			      memory_order_relaxed);
	atomic_store_explicit(&pub[w][PUB_LATE_20MS], late20[w],
			      memory_order_relaxed);
}

static void rnd(void *buf, size_t len)
{
	/* getrandom() on a few bytes does not block once the pool is
	 * initialised (it is, long before a call comes); a short read
	 * leaves the rest as it was, which is still a valid value. */
	if (getrandom(buf, len, GRND_NONBLOCK) < 0)
		memset(buf, 0x5a, len);
}

/* ---- the engine ---------------------------------------------------- */

static void tick_cb(uv_timer_t *t);

int media_opts_conf(const struct conf *c, unsigned worker, unsigned nworkers,
		    struct media_opts *o)
{
	const struct b2b_conf *bc = b2b_conf(c);

	if (worker >= nworkers ||
	    (bc->addr.ss_family != AF_INET && bc->addr.ss_family != AF_INET6))
		return -EINVAL;
	memset(o, 0, sizeof(*o));
	o->addr = bc->addr;
	o->addrlen = bc->addrlen;
	if (o->addr.ss_family == AF_INET)
		((struct sockaddr_in *)&o->addr)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&o->addr)->sin6_port = 0;
	o->port_min = bc->media_port_min;
	o->port_max = bc->media_port_max;
	o->worker = worker;
	o->nworkers = nworkers;
	return 0;
}

int media_new(struct uv_loop_s *loop, const struct media_opts *o,
	      struct media **mp)
{
	struct media *m;
	unsigned nw = o->nworkers ? o->nworkers : 1;
	unsigned first, k;
	int err;

	if (!loop || o->worker >= nw || o->port_min > o->port_max ||
	    o->port_min == 0 ||
	    (o->addr.ss_family != AF_INET && o->addr.ss_family != AF_INET6))
		return -EINVAL;
	/* The first even port of the range in this worker's share. */
	first = (o->port_min + 1u) & ~1u;
	for (k = 0; k < nw && first <= o->port_max; k++, first += 2)
		if ((first / 2) % nw == o->worker)
			break;
	if (k == nw || first > o->port_max)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->loop = loop;
	m->o = *o;
	m->o.nworkers = nw;
	m->tick_ms = o->tick_ms ? o->tick_ms : MEDIA_TICK_MS;
	m->port0 = (uint16_t)first;
	m->stride = 2 * nw;
	m->nports = (o->port_max - first) / m->stride + 1;
	m->rl.burst = 5;
	if (!o->manual) {
		err = uv_timer_init(loop, &m->timer);
		if (err) {
			free(m);
			return err;
		}
		m->timer.data = m;
		m->handles = 1;
		/* Started by the first session: an engine without one
		 * sleeps (issue #14). */
	}
	*mp = m;
	return 0;
}

static void handle_closed(struct media *m)
{
	if (--m->handles == 0 && m->freeing)
		free(m);
}

static void timer_closed_cb(uv_handle_t *h)
{
	handle_closed(h->data);
}

void media_free(struct media *m)
{
	if (!m)
		return;
	m->freeing = true;
	while (m->head)
		media_session_close(m->head);
	if (!m->o.manual)
		uv_close((uv_handle_t *)&m->timer, timer_closed_cb);
	else if (m->handles == 0)
		free(m);
}

void media_stats_get(const struct media *m, struct media_stats *out)
{
	*out = m->st;
}

uint64_t media_stats_late_pct(const struct media_stats *st, double pct)
{
	uint64_t total = 0, seen = 0, want;

	for (size_t i = 0; i < LATE_BUCKETS; i++)
		total += st->late_hist[i];
	if (total == 0)
		return 0;
	want = (uint64_t)((double)total * pct / 100.0);
	if (want == 0)
		want = 1;
	for (size_t i = 0; i < LATE_BUCKETS; i++) {
		seen += st->late_hist[i];
		if (seen >= want)
			return (uint64_t)(i + 1) * 100;
	}
	return LATE_BUCKETS * 100;
}

/* ---- sessions ------------------------------------------------------ */

static void poll_cb(uv_poll_t *p, int status, int events);
static bool same_addr(const struct sockaddr_storage *a,
		      const struct sockaddr_storage *b);

static uint16_t port_at(const struct media *m, unsigned k)
{
	return (uint16_t)(m->port0 + m->stride * k);
}

static int bind_port(const struct media *m, uint16_t port, int *fdp)
{
	struct sockaddr_storage ss = m->o.addr;
	int fd, err;

	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&ss, m->o.addrlen) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	*fdp = fd;
	return 0;
}

int media_session_open(struct media *m, struct media_session **sp)
{
	struct media_session *s;
	int fd = -1, err = -ENOSPC;
	uint16_t port = 0;
	uint32_t r[4];

	for (unsigned i = 0; i < m->nports; i++) {
		uint16_t p = port_at(m, m->cursor);

		m->cursor = (m->cursor + 1) % m->nports;
		if (m->used[p / 2])
			continue;
		err = bind_port(m, p, &fd);
		if (err == -EADDRINUSE)
			continue; /* another process holds it */
		if (err)
			return err;
		port = p;
		break;
	}
	if (fd < 0) {
		if (log_ratelimit_ok(&m->rl))
			log_msg(LOG_WARN,
				"media: worker %u: RTP ports %u-%u exhausted "
				"(%u of this worker's share, %" PRIu64
				" sessions open; b2b.media.ports)",
				m->o.worker, m->o.port_min, m->o.port_max,
				m->nports, m->st.sessions);
		return -ENOSPC;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		return -ENOMEM;
	}
	err = uv_poll_init(m->loop, &s->poll, fd);
	if (!err)
		err = uv_poll_start(&s->poll, UV_READABLE, poll_cb);
	if (err) {
		/* uv_poll_init() failing leaves no handle to close. */
		close(fd);
		free(s);
		return err;
	}
	s->m = m;
	s->fd = fd;
	s->port = port;
	s->poll.data = s;
	s->event_pt = -1;
	rnd(r, sizeof(r));
	s->ssrc = r[0];
	s->seq = (uint16_t)r[1];
	s->ts = r[2];
	s->sess_id = r[3] & 0x7fffffff;
	m->used[port / 2] = 1;
	m->handles++;
	m->st.sessions++;
	s->next = m->head;
	if (m->head)
		m->head->prev = s;
	m->head = s;
	/* Fails only without a callback. */
	if (!m->o.manual && !uv_is_active((uv_handle_t *)&m->timer))
		(void)uv_timer_start(&m->timer, tick_cb, m->tick_ms,
				     m->tick_ms);
	*sp = s;
	return 0;
}

static void session_closed_cb(uv_handle_t *h)
{
	struct media_session *s = h->data;
	struct media *m = s->m;

	free(s);
	handle_closed(m);
}

void media_session_close(struct media_session *s)
{
	struct media *m;

	if (!s || s->closing)
		return;
	m = s->m;
	s->closing = true;
	if (m->iter_next == s)
		m->iter_next = s->next;
	if (s->prev)
		s->prev->next = s->next;
	else
		m->head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	m->used[s->port / 2] = 0;
	m->st.sessions--;
	uv_poll_stop(&s->poll);
	uv_close((uv_handle_t *)&s->poll, session_closed_cb);
	/* uv_close() took the fd out of the loop's epoll set already (it
	 * stops the handle at once; only the callback waits): closing it
	 * now frees the port for the next session at once. */
	close(s->fd);
	s->fd = -1;
}

uint16_t media_session_port(const struct media_session *s)
{
	return s->port;
}

int media_session_set_remote(struct media_session *s,
			     const struct sockaddr *addr, socklen_t addrlen,
			     enum rtp_law law, int event_pt)
{
	if (addr->sa_family != s->m->o.addr.ss_family ||
	    addrlen > sizeof(s->remote) || event_pt > 127 ||
	    (law != RTP_ULAW && law != RTP_ALAW))
		return -EINVAL;
	struct sockaddr_storage a = { 0 };

	memcpy(&a, addr, addrlen);
	/* A new address from the signalling (a re-INVITE moved the
	 * remote) lets the next packet latch again; the same one keeps
	 * the latched source. */
	if (!s->configured || !same_addr(&a, &s->signalled)) {
		/* A packet that came before the first SDP keeps its latch
		 * (early media racing the answer). */
		bool keep = !s->configured && s->latched;

		s->signalled = a;
		if (!keep) {
			s->remote = a;
			s->remote_len = addrlen;
			s->latched = false;
		}
	}
	s->law = law;
	s->pt = law == RTP_ALAW ? RTP_PT_PCMA : RTP_PT_PCMU;
	s->event_pt = event_pt < 0 ? -1 : event_pt;
	if (!s->configured) {
		s->configured = true;
		s->due_ns = uv_hrtime();
	}
	return 0;
}

void media_session_info(const struct media_session *s,
			struct media_session_info *out)
{
	memset(out, 0, sizeof(*out));
	out->port = s->port;
	out->has_remote = s->configured || s->latched;
	out->sending = s->configured && !s->hold;
	out->latched = s->latched;
	out->remote = s->remote;
	out->law = s->law;
	out->pt = s->pt;
	out->event_pt = s->event_pt;
	out->ssrc = s->ssrc;
	out->tx = s->tx;
	out->rx = s->rx;
	out->dtmf = s->dtmf;
}

/* ---- playing ------------------------------------------------------- */

int media_play(struct media_session *s,
	       const struct media_sound *const *prompts, unsigned n,
	       const struct media_sound *music, media_ended_fn *ended,
	       void *arg)
{
	if (n > MEDIA_MAX_PROMPTS)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++)
		if (!prompts[i])
			return -EINVAL;
	for (unsigned i = 0; i < n; i++)
		s->prompts[i] = prompts[i];
	s->nprompts = n;
	s->cur = 0;
	s->pos = 0;
	s->music = music;
	s->music_pos = 0;
	s->ended = n ? ended : NULL;
	s->ended_arg = arg;
	return 0;
}

int media_send_dtmf(struct media_session *s, char digit, unsigned duration_ms)
{
	int code = rtp_event_code(digit);

	if (code < 0 || duration_ms < 40 || duration_ms > 5000)
		return -EINVAL;
	if (!s->configured)
		return -ENOTCONN;
	if (s->event_pt < 0)
		return -EPROTONOSUPPORT;
	if (s->ev_active)
		return -EBUSY;
	s->ev_active = true;
	s->ev_first = true;
	s->ev_code = (uint8_t)code;
	s->ev_ts = s->ts;
	s->ev_total = duration_ms * 8;
	s->ev_dur = 0;
	s->ev_end_left = EVENT_END_SENDS;
	return 0;
}

void media_session_on_dtmf(struct media_session *s, media_dtmf_fn *fn,
			   void *arg)
{
	s->on_dtmf = fn;
	s->dtmf_arg = arg;
}

/* Fill @p out with the next 20 ms of what @p s plays; true when it is
 * sound (a prompt or music), false for silence. Sets *endedp when the
 * last prompt's last frame was taken. */
static bool next_frame(struct media_session *s, uint8_t *out, bool *endedp)
{
	uint8_t sil = rtp_g711_silence(s->law);
	size_t got = 0;

	if (s->cur < s->nprompts) {
		const struct media_sound *p = s->prompts[s->cur];
		size_t take = p->n - s->pos;

		if (take > RTP_FRAME_SAMPLES)
			take = RTP_FRAME_SAMPLES;
		memcpy(out, p->law[s->law] + s->pos, take);
		memset(out + take, sil, RTP_FRAME_SAMPLES - take);
		s->pos += take;
		if (s->pos >= p->n) {
			s->pos = 0;
			if (++s->cur == s->nprompts)
				*endedp = true;
		}
		return true;
	}
	if (!s->music || s->music->n == 0) {
		memset(out, sil, RTP_FRAME_SAMPLES);
		return false;
	}
	while (got < RTP_FRAME_SAMPLES) { /* loops across the music's end */
		size_t take = s->music->n - s->music_pos;

		if (take > RTP_FRAME_SAMPLES - got)
			take = RTP_FRAME_SAMPLES - got;
		memcpy(out + got, s->music->law[s->law] + s->music_pos, take);
		got += take;
		s->music_pos = (s->music_pos + take) % s->music->n;
	}
	return true;
}

static void record_late(struct media *m, uint64_t due_ns)
{
	uint64_t now = uv_hrtime();
	uint64_t late_us = now > due_ns ? (now - due_ns) / 1000 : 0;
	size_t b = late_us / 100;

	if (b >= LATE_BUCKETS)
		b = LATE_BUCKETS - 1;
	m->st.late_hist[b]++;
	if (late_us > m->st.late_max_us)
		m->st.late_max_us = late_us;
	if (late_us >= 5000 && m->o.worker < B2B_MAX_WORKERS) {
		late5[m->o.worker]++;
		if (late_us >= 20000)
			late20[m->o.worker]++;
	}
}

/* Send one packet of @p s: an event's, or the next audio frame. */
static void send_one(struct media_session *s, bool *endedp)
{
	uint8_t pkt[RTP_HDR_LEN + RTP_FRAME_SAMPLES];
	struct rtp_hdr h = { .seq = s->seq, .ssrc = s->ssrc };
	size_t len;
	bool audio;

	if (s->ev_active) {
		struct rtp_event ev = { .event = s->ev_code, .volume = 10 };

		if (s->ev_dur < s->ev_total) {
			s->ev_dur += RTP_FRAME_SAMPLES;
			if (s->ev_dur > s->ev_total)
				s->ev_dur = s->ev_total;
		}
		ev.duration =
		    (uint16_t)(s->ev_dur > 0xffff ? 0xffff : s->ev_dur);
		ev.end = s->ev_dur >= s->ev_total;
		if (ev.end && --s->ev_end_left == 0)
			s->ev_active = false;
		h.pt = (uint8_t)s->event_pt;
		h.marker = s->ev_first;
		h.ts = s->ev_ts;
		s->ev_first = false;
		rtp_event_write(pkt + RTP_HDR_LEN, &ev);
		len = RTP_HDR_LEN + RTP_EVENT_LEN;
		s->last_audio = false; /* audio after it starts a spurt */
	} else {
		audio = next_frame(s, pkt + RTP_HDR_LEN, endedp);
		h.pt = s->pt;
		h.ts = s->ts;
		/* RFC 3551 §4.1: the marker on the first packet of a talk
		 * spurt (the first packet sent, or sound after silence). */
		h.marker = !s->started || (audio && !s->last_audio);
		s->last_audio = audio;
		len = sizeof(pkt);
	}
	rtp_hdr_write(pkt, &h);
	record_late(s->m, s->due_ns);
	if (sendto(s->fd, pkt, len, 0, (struct sockaddr *)&s->remote,
		   s->remote_len) < 0)
		s->m->st.tx_errors++;
	else
		s->tx++;
	s->m->st.tx++;
	s->started = true;
	s->seq++;
	s->ts += RTP_FRAME_SAMPLES;
}

static void serve(struct media_session *s, uint64_t now)
{
	unsigned n = 0;
	bool ended = false;

	while (s->due_ns <= now && n < CATCH_UP_MAX && !s->closing) {
		send_one(s, &ended);
		s->due_ns += PTIME_NS;
		n++;
		if (ended) {
			media_ended_fn *fn = s->ended;

			ended = false;
			s->ended = NULL;
			if (fn)
				fn(s, s->ended_arg); /* may close s */
		}
	}
	if (!s->closing && s->due_ns <= now) {
		/* The loop stalled: skip the lost time (the receiver sees
		 * a timestamp jump, no sequence gap). */
		uint64_t skip = (now - s->due_ns) / PTIME_NS + 1;

		s->due_ns += skip * PTIME_NS;
		s->ts += (uint32_t)(skip * RTP_FRAME_SAMPLES);
	}
}

/* Every tick_ms while a session is open; the tick after the last one
 * closed publishes the counters once more and stops. */
static void tick_cb(uv_timer_t *t)
{
	struct media *m = t->data;

	media_tick(m, uv_hrtime());
	publish(m);
	if (!m->head)
		uv_timer_stop(&m->timer);
}

void media_tick(struct media *m, uint64_t now)
{
	m->st.ticks++;
	for (struct media_session *s = m->head; s; s = m->iter_next) {
		m->iter_next = s->next;
		if (s->hold)
			s->due_ns = now; /* sends at once when it resumes */
		else if (s->configured)
			serve(s, now); /* not before the SDP said the law */
	}
	m->iter_next = NULL;
}

/* ---- receiving ----------------------------------------------------- */

static bool same_addr(const struct sockaddr_storage *a,
		      const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a,
					 *y = (const void *)b;

		return x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a,
					  *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
	}
	return false;
}

static void receive(struct media_session *s, const uint8_t *buf, size_t len,
		    const struct sockaddr_storage *from, socklen_t fromlen)
{
	struct media *m = s->m;
	struct rtp_hdr h;
	const uint8_t *pl;
	size_t plen;
	struct rtp_event ev;
	struct rtp_dtmf out[2];
	int n;

	if (rtp_parse(buf, len, &h, &pl, &plen) < 0 ||
	    from->ss_family != m->o.addr.ss_family) {
		m->st.rx_bad++;
		return;
	}
	if (!s->latched) {
		/* Symmetric RTP (RFC 4961): answer where it comes from. */
		s->remote = *from;
		s->remote_len = fromlen;
		s->latched = true;
	} else if (!same_addr(&s->remote, from)) {
		m->st.rx_bad++; /* not the latched source */
		return;
	}
	s->rx++;
	m->st.rx++;
	if (s->event_pt < 0 || h.pt != s->event_pt ||
	    rtp_event_parse(pl, plen, &ev) < 0)
		return;
	n = rtp_dtmf_rx_feed(&s->dtmf_rx, h.ts, &ev, out);
	for (int i = 0; i < n && !s->closing; i++) {
		s->dtmf++;
		m->st.dtmf++;
		if (s->on_dtmf)
			s->on_dtmf(s, s->dtmf_arg, rtp_event_char(out[i].event),
				   out[i].event, out[i].duration / 8u);
	}
}

static void poll_cb(uv_poll_t *p, int status, int events)
{
	struct media_session *s = p->data;
	uint8_t buf[RX_BUF];

	if (status < 0 || !(events & UV_READABLE))
		return;
	for (int i = 0; i < RX_BATCH && !s->closing; i++) {
		struct sockaddr_storage from;
		socklen_t fromlen = sizeof(from);
		ssize_t n = recvfrom(s->fd, buf, sizeof(buf), 0,
				     (struct sockaddr *)&from, &fromlen);

		if (n < 0)
			break; /* EAGAIN, or an ICMP error: nothing to read */
		receive(s, buf, (size_t)n, &from, fromlen);
	}
}

/* ---- SDP ----------------------------------------------------------- */

static int addr_text(const struct media *m, char *buf, size_t len,
		     const char **familyp)
{
	const void *a;

	if (m->o.addr.ss_family == AF_INET6) {
		a = &((const struct sockaddr_in6 *)&m->o.addr)->sin6_addr;
		*familyp = "IP6";
	} else {
		a = &((const struct sockaddr_in *)&m->o.addr)->sin_addr;
		*familyp = "IP4";
	}
	return inet_ntop(m->o.addr.ss_family, a, buf, (socklen_t)len) ? 0
								      : -EINVAL;
}

/* Write the session part of an SDP (v= o= s= c= t=) at @p buf. */
static int sdp_head(struct media_session *s, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];
	const char *fam;
	int n;

	if (addr_text(s->m, ip, sizeof(ip), &fam) < 0)
		return -EINVAL;
	n = snprintf(buf, len,
		     "v=0\r\n"
		     "o=sipedge %u %u IN %s %s\r\n"
		     "s=sipedge\r\n"
		     "c=IN %s %s\r\n"
		     "t=0 0\r\n",
		     s->sess_id, ++s->sdp_ver, fam, ip, fam, ip);
	return n < 0 || (size_t)n >= len ? -ENOSPC : n;
}

int media_sdp_offer(struct media_session *s, char *buf, size_t len)
{
	int h, n;

	h = sdp_head(s, buf, len);
	if (h < 0)
		return h;
	n = snprintf(buf + h, len - (size_t)h,
		     "m=audio %u RTP/AVP 0 8 101\r\n"
		     "a=rtpmap:0 PCMU/8000\r\n"
		     "a=rtpmap:8 PCMA/8000\r\n"
		     "a=rtpmap:101 telephone-event/8000\r\n"
		     "a=fmtp:101 0-16\r\n"
		     "a=ptime:20\r\n"
		     "a=sendrecv\r\n",
		     s->port);
	return n < 0 || (size_t)n >= len - (size_t)h ? -ENOSPC : h + n;
}

static bool slice_ieq(struct slice a, const char *b)
{
	size_t n = strlen(b);

	return a.len == n && strncasecmp(a.p, b, n) == 0;
}

/* The encoding name of payload type @p pt in media block @p block:
 * its a=rtpmap "<pt> <name>/<rate>..." (name and rate), or the static
 * assignment. Returns true when found. */
static bool pt_encoding(struct slice block, unsigned pt, struct slice *namep,
			unsigned *ratep)
{
	struct slice rest = block, name, val;

	while (sdp_attr_next(&rest, &name, &val)) {
		const char *p = val.p, *e = val.p + val.len, *slash;
		unsigned v = 0;
		size_t digits = 0;

		if (!slice_ieq(name, "rtpmap"))
			continue;
		while (p < e && *p >= '0' && *p <= '9' && digits < 4) {
			v = v * 10 + (unsigned)(*p++ - '0');
			digits++;
		}
		if (!digits || v != pt || p >= e || *p != ' ')
			continue;
		while (p < e && *p == ' ')
			p++;
		slash = memchr(p, '/', (size_t)(e - p));
		if (!slash)
			continue;
		namep->p = p;
		namep->len = (size_t)(slash - p);
		*ratep = 0;
		for (p = slash + 1; p < e && *p >= '0' && *p <= '9'; p++)
			if (*ratep < 1000000)
				*ratep = *ratep * 10 + (unsigned)(*p - '0');
		return true;
	}
	if (pt == RTP_PT_PCMU || pt == RTP_PT_PCMA) {
		namep->p = pt == RTP_PT_PCMU ? "PCMU" : "PCMA";
		namep->len = 4;
		*ratep = 8000;
		return true;
	}
	return false;
}

static int conn_addr(const struct sdp_conn *c, uint16_t port,
		     struct sockaddr_storage *ss, socklen_t *lenp)
{
	char ip[INET6_ADDRSTRLEN];
	size_t n = c->addr.len;
	const char *slash = memchr(c->addr.p, '/', n);

	if (slash)
		n = (size_t)(slash - c->addr.p); /* multicast TTL: not ours */
	if (!slice_ieq(c->nettype, "IN") || n == 0 || n >= sizeof(ip))
		return -EBADMSG;
	memcpy(ip, c->addr.p, n);
	ip[n] = 0;
	if (peer_addr_parse(ip, port, ss, lenp) < 0)
		return -EBADMSG;
	return 0;
}

int media_sdp_choose(const struct sdp *s, struct media_remote *r)
{
	for (unsigned i = 0; i < s->nmedia; i++) {
		const struct sdp_media *md = &s->media[i];
		const char *p = md->fmts.p, *e = md->fmts.p + md->fmts.len;
		struct media_remote x = { .stream = i, .event_pt = -1 };
		bool have_law = false;
		int err;

		if (!slice_ieq(md->media, "audio") || md->port == 0 ||
		    !slice_ieq(md->proto, "RTP/AVP"))
			continue;
		while (p < e) {
			unsigned pt = 0;
			size_t digits = 0;
			struct slice name;
			unsigned rate;

			while (p < e && *p == ' ')
				p++;
			while (p < e && *p >= '0' && *p <= '9') {
				if (digits++ < 4)
					pt = pt * 10 + (unsigned)(*p - '0');
				p++;
			}
			if (p < e && *p != ' ') { /* not a number: skip it */
				while (p < e && *p != ' ')
					p++;
				continue;
			}
			if (!digits || pt > 127 ||
			    !pt_encoding(md->block, pt, &name, &rate) ||
			    rate != 8000)
				continue;
			if (!have_law && (slice_ieq(name, "PCMU") ||
					  slice_ieq(name, "PCMA"))) {
				have_law = true;
				x.law = slice_ieq(name, "PCMA") ? RTP_ALAW
								: RTP_ULAW;
				x.pt = (uint8_t)pt;
			} else if (x.event_pt < 0 &&
				   slice_ieq(name, "telephone-event")) {
				x.event_pt = (int)pt;
			}
		}
		if (!have_law)
			continue;
		err = conn_addr(md->has_conn ? &md->conn : &s->conn, md->port,
				&x.addr, &x.addrlen);
		if (err)
			return err;
		x.dir = sdp_media_dir(s, i);
		*r = x;
		return 0;
	}
	return -EPROTONOSUPPORT;
}

static int apply(struct media_session *s, const struct media_remote *r)
{
	int err = media_session_set_remote(s, (const struct sockaddr *)&r->addr,
					   r->addrlen, r->law, r->event_pt);

	if (!err) {
		s->pt = r->pt; /* a dynamic type for G.711 is the offer's */
		/* RFC 3264 §5.1: a sendonly or inactive stream does not want
		 * our media (a hold). */
		s->hold = r->dir == SDP_SENDONLY || r->dir == SDP_INACTIVE;
	}
	return err;
}

int media_sdp_answer(struct media_session *s, const struct sdp *offer,
		     char *buf, size_t len)
{
	struct media_remote r;
	const char *dir;
	size_t off;
	int err, n;

	err = media_sdp_choose(offer, &r);
	if (err)
		return err;
	/* RFC 3264 §6.1: the answer's direction mirrors the offer's. */
	dir = r.dir == SDP_SENDONLY   ? "recvonly"
	      : r.dir == SDP_RECVONLY ? "sendonly"
	      : r.dir == SDP_INACTIVE ? "inactive"
				      : "sendrecv";
	n = sdp_head(s, buf, len);
	if (n < 0)
		return n;
	off = (size_t)n;
	for (unsigned i = 0; i < offer->nmedia; i++) {
		const struct sdp_media *md = &offer->media[i];

		if (i != r.stream) {
			/* RFC 3264 §6: a rejected stream keeps its m= line
			 * with port 0 and at least one format. */
			n = snprintf(
			    buf + off, len - off, "m=%.*s 0 %.*s %.*s\r\n",
			    (int)md->media.len, md->media.p, (int)md->proto.len,
			    md->proto.p, (int)md->fmts.len, md->fmts.p);
		} else if (r.event_pt >= 0) {
			n = snprintf(buf + off, len - off,
				     "m=audio %u RTP/AVP %u %d\r\n"
				     "a=rtpmap:%u %s/8000\r\n"
				     "a=rtpmap:%d telephone-event/8000\r\n"
				     "a=fmtp:%d 0-16\r\n"
				     "a=ptime:20\r\n"
				     "a=%s\r\n",
				     s->port, r.pt, r.event_pt, r.pt,
				     r.law == RTP_ALAW ? "PCMA" : "PCMU",
				     r.event_pt, r.event_pt, dir);
		} else {
			n = snprintf(buf + off, len - off,
				     "m=audio %u RTP/AVP %u\r\n"
				     "a=rtpmap:%u %s/8000\r\n"
				     "a=ptime:20\r\n"
				     "a=%s\r\n",
				     s->port, r.pt, r.pt,
				     r.law == RTP_ALAW ? "PCMA" : "PCMU", dir);
		}
		if (n < 0 || (size_t)n >= len - off)
			return -ENOSPC;
		off += (size_t)n;
	}
	err = apply(s, &r);
	if (err)
		return err;
	return (int)off;
}

int media_sdp_set_answer(struct media_session *s, const struct sdp *answer)
{
	struct media_remote r;
	int err = media_sdp_choose(answer, &r);

	return err ? err : apply(s, &r);
}

/* ---- sounds -------------------------------------------------------- */

static int why_set(char *why, size_t whylen, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int why_set(char *why, size_t whylen, int err, const char *fmt, ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return err;
}

int media_sound_load(const char *path, struct media_sound **sp, char *why,
		     size_t whylen)
{
	SF_INFO info = { 0 };
	SNDFILE *f;
	struct media_sound *s = NULL;
	int16_t *pcm = NULL;
	sf_count_t got;
	int err;

	f = sf_open(path, SFM_READ, &info);
	if (!f) {
		struct stat st;

		if (stat(path, &st) < 0)
			return why_set(why, whylen, -errno, "%s: %s", path,
				       strerror(errno));
		return why_set(why, whylen, -EBADMSG,
			       "%s: not a sound file libsndfile reads (%s)",
			       path, sf_strerror(NULL));
	}
	if (info.samplerate != 8000 || info.channels != 1) {
		err = why_set(why, whylen, -EINVAL,
			      "%s: %d Hz, %d channel(s): the media engine "
			      "plays 8000 Hz mono (convert it: sox '%s' -r "
			      "8000 -c 1 -b 16 OUT.wav)",
			      path, info.samplerate, info.channels, path);
		goto out;
	}
	if (info.frames <= 0) {
		err = why_set(why, whylen, -ENODATA, "%s: no samples", path);
		goto out;
	}
	if (info.frames > SOUND_MAX_SAMPLES) {
		err = why_set(why, whylen, -EFBIG,
			      "%s: %lld s long, over the %u s a sound may last",
			      path, (long long)info.frames / 8000,
			      SOUND_MAX_SAMPLES / 8000);
		goto out;
	}
	s = calloc(1, sizeof(*s));
	pcm = malloc((size_t)info.frames * sizeof(*pcm));
	if (s) {
		s->law[RTP_ULAW] = malloc((size_t)info.frames);
		s->law[RTP_ALAW] = malloc((size_t)info.frames);
	}
	if (!s || !pcm || !s->law[RTP_ULAW] || !s->law[RTP_ALAW]) {
		err = why_set(why, whylen, -ENOMEM, "%s: out of memory", path);
		goto out;
	}
	got = sf_readf_short(f, pcm, info.frames);
	if (got <= 0) {
		err = why_set(why, whylen, -EBADMSG, "%s: unreadable (%s)",
			      path, sf_strerror(f));
		goto out;
	}
	s->n = (size_t)got;
	rtp_g711_encode(RTP_ULAW, pcm, s->n, s->law[RTP_ULAW]);
	rtp_g711_encode(RTP_ALAW, pcm, s->n, s->law[RTP_ALAW]);
	*sp = s;
	s = NULL;
	err = 0;
out:
	sf_close(f);
	free(pcm);
	media_sound_free(s);
	return err;
}

void media_sound_free(struct media_sound *s)
{
	if (!s)
		return;
	free(s->law[RTP_ULAW]);
	free(s->law[RTP_ALAW]);
	free(s);
}

size_t media_sound_samples(const struct media_sound *s)
{
	return s->n;
}

const uint8_t *media_sound_bytes(const struct media_sound *s, enum rtp_law law)
{
	return s->law[law == RTP_ALAW ? RTP_ALAW : RTP_ULAW];
}

static const char *const builtin_names[] = {
	"zero",	     "one",	 "two",	       "three", "four",
	"five",	     "six",	 "seven",      "eight", "nine",
	"parked-at", "lot-full", "slot-empty", "music",
};
#define NBUILTIN (sizeof(builtin_names) / sizeof(builtin_names[0]))

/* Written on the control thread before the workers read it, and freed
 * after they stopped (media_sounds_load(), media_sounds_unload()). */
static struct media_sound *builtin[NBUILTIN];

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int media_sounds_dir(const char *dir, char *buf, size_t len)
{
	/* Beside the binary (a build tree), then PREFIX/share from
	 * PREFIX/sbin (an install under any PREFIX, staged or not). */
	static const char *const rel[] = { "sounds",
					   "../share/sipedge/sounds" };
	char exe[PATH_MAX];
	ssize_t n;
	char *slash;
	int w;

	if (dir && *dir) {
		w = snprintf(buf, len, "%s", dir);
		return w < 0 || (size_t)w >= len ? -ENAMETOOLONG : 0;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = 0;
			for (size_t i = 0; i < 2; i++) {
				w = snprintf(buf, len, "%s/%s", exe, rel[i]);
				if (w > 0 && (size_t)w < len && is_dir(buf))
					return 0;
			}
		}
	}
	w = snprintf(buf, len, "%s", SIPEDGE_SOUNDS_DIR);
	return w < 0 || (size_t)w >= len ? -ENAMETOOLONG : 0;
}

int media_sounds_load(const char *dir, char *why, size_t whylen)
{
	struct media_sound *got[NBUILTIN] = { 0 };
	char path[PATH_MAX];
	int err = 0;

	for (size_t i = 0; i < NBUILTIN && !err; i++) {
		int w = snprintf(path, sizeof(path), "%s/%s.wav", dir,
				 builtin_names[i]);

		if (w < 0 || (size_t)w >= sizeof(path))
			err = why_set(why, whylen, -ENAMETOOLONG,
				      "%s: path too long", dir);
		else
			err = media_sound_load(path, &got[i], why, whylen);
	}
	if (err) {
		for (size_t i = 0; i < NBUILTIN; i++)
			media_sound_free(got[i]);
		return err;
	}
	media_sounds_unload();
	memcpy(builtin, got, sizeof(builtin));
	return 0;
}

void media_sounds_unload(void)
{
	for (size_t i = 0; i < NBUILTIN; i++) {
		media_sound_free(builtin[i]);
		builtin[i] = NULL;
	}
}

const struct media_sound *media_sound_builtin(const char *name)
{
	for (size_t i = 0; i < NBUILTIN; i++)
		if (strcmp(name, builtin_names[i]) == 0)
			return builtin[i];
	return NULL;
}

const struct media_sound *media_sound_digit(char d)
{
	return d >= '0' && d <= '9' ? builtin[d - '0'] : NULL;
}
