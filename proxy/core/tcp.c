/* proxy/core/tcp.c - a shard's TCP (TLS, WS, WSS) listeners and connections */
#include "proxy/core/tcp.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <urcu/compiler.h>
#include <uv.h>

#include "proxy/base/err.h"
#include "proxy/base/hash.h"
#include "proxy/base/log.h"
#include "proxy/core/conf.h"
#include "proxy/core/guard.h"
#include "proxy/core/shard_priv.h"
#include "proxy/core/tls.h"
#include "proxy/core/ws.h"
#include "proxy/sip/msg.h"
#include "store/alias.h"

#define BACKLOG 511
#define BUF_MIN 4096
/* A connection keeps at most this much buffer while idle. */
#define BUF_KEEP (16 * 1024)
#define WQ_MIN	 (64 * 1024)
#define MAP_MIN	 64
/* After an error answer, how long a peer may take to close. */
#define LINGER_MS 2000
/* Output gathered while a write is under way grows in steps of this. */
#define WR_CHUNK 4096
/*
 * A message must be complete this long after its first byte, however
 * slowly it trickles in (slowloris); never longer than the idle time.
 * TODO: a config key tcp.message_timeout_s.
 */
#define MSG_DEADLINE_MS 30000
/*
 * Connections one source address may hold when tcp.max_per_source is
 * not given: a share of tcp.max_connections, but at least PER_IP_MIN.
 */
#define PER_IP_SHARE 8
#define PER_IP_MIN   64
/* TLS records are at most 16 KiB of plaintext (RFC 8446 §5.1). */
#define TLS_CHUNK (16 * 1024 + 512)

struct tcp_listener {
	struct tcp *t;
	uv_tcp_t h;
	int fd; /* owned here until uv_tcp_open() takes it; -1 after */
	unsigned listen_idx;
	bool h_init;
};

struct tcp_conn {
	uv_tcp_t h;
	uv_timer_t idle;
	uv_shutdown_t shut;
	struct tcp *t;
	struct tcp_conn *prev, *next;	/* the shard's live connections */
	struct tcp_conn *oprev, *onext; /* outgoing ones, for reuse */
	uv_connect_t conn_req;
	bool outgoing;
	uint64_t id;
	struct peer peer;
	/* The socket's own address (getsockname), for traces; family 0
	 * when unknown. */
	struct sockaddr_storage local;
	char *buf; /* unframed bytes: buf[0, len) */
	size_t len, cap;
	struct sipmsg_framer fr; /* where framing of buf stopped */
	uint64_t msg_start_ms;	 /* loop time of buf[0]'s arrival */
	/*
	 * Output not yet written: @wbusy requests handed to libuv, and
	 * what was sent meanwhile, gathered in @wnext (written as one
	 * request once they are done). @wq_bytes is the memory all of it
	 * holds, buffers and requests, against tcp->wq_max.
	 */
	struct write_req *wnext;
	unsigned wbusy;
	size_t wq_bytes;
	bool pong_queued; /* a keep-alive answer waits in the output */
	unsigned handles; /* handles still to close before the free */
	bool closing;	  /* uv_close() called */
	bool draining;	  /* answered an error: FIN sent, input discarded */
	bool counted;	  /* in shards->tcp_conns */
	bool ip_counted;  /* in shards->tcp_per_ip, at ip_bucket[] */
	bool in_map;
	unsigned ip_bucket[2];
	/*
	 * TLS (PEER_TLS): the session between the socket and the SIP
	 * bytes above; NULL for plain TCP. Plaintext sent before the
	 * handshake is done waits in @tpend.
	 */
	struct tls_sess *tls;
	char *tpend;
	size_t tpend_len;
	uint64_t hs_start_ms; /* loop time the handshake began */
	/*
	 * WebSocket (PEER_WS, PEER_WSS): the session between the
	 * plaintext (c->buf holds the upgrade request, then frames) and
	 * the SIP messages; NULL otherwise.
	 */
	struct ws_sess *ws;
};

struct write_req {
	uv_write_t req;
	struct tcp_conn *c;
	size_t len, cap; /* data[0, len) used of cap */
	char data[];
};

struct tcp {
	struct shard *sh;
	struct tcp_listener *ls; /* one per conf->listen entry */
	unsigned nls;

	/* conn_id -> connection: open addressing, linear probing. */
	struct tcp_conn **map;
	size_t mapcap, mapn;
	struct tcp_conn *conns;
	struct tcp_conn *outs; /* connections this shard opened */

	uint64_t serial;
	size_t max_hdr, max_body, max_buf, wq_max;
	uint64_t idle_ms, msg_ms;
	uint64_t hs_ms;		/* tls.handshake_timeout_s */
	char tlsbuf[TLS_CHUNK]; /* ciphertext in and out, one call at a time */
	unsigned max_conns;	/* 0: no limit */
	unsigned max_per_ip;
	/* The most output memory one connection held (any thread reads). */
	atomic_size_t wq_peak;

	/* Accepts and closes when a connection cannot be allocated. */
	uv_tcp_t reject;
	bool reject_busy;

	char discard[4096];
	struct log_ratelimit rl;
};

static size_t slot_of(const struct tcp *t, uint64_t id)
{
	return (size_t)((id * 0x9e3779b97f4a7c15ULL) >> 32) & (t->mapcap - 1);
}

/* Remember @p c's own address (accepted, or connect begun). */
static void note_local(struct tcp_conn *c)
{
	int alen = sizeof(c->local);

	if (uv_tcp_getsockname(&c->h, (struct sockaddr *)&c->local, &alen))
		memset(&c->local, 0, sizeof(c->local));
}

static struct tcp_conn *map_find(const struct tcp *t, uint64_t id)
{
	size_t i = slot_of(t, id);

	for (size_t n = 0; n < t->mapcap; n++) {
		struct tcp_conn *c = t->map[i];

		if (!c)
			return NULL;
		if (c->id == id)
			return c;
		i = (i + 1) & (t->mapcap - 1);
	}
	return NULL;
}

static void map_put(struct tcp_conn **map, size_t cap, struct tcp_conn *c,
		    size_t home)
{
	size_t i = home;

	while (map[i])
		i = (i + 1) & (cap - 1);
	map[i] = c;
}

static int map_add(struct tcp *t, struct tcp_conn *c)
{
	if ((t->mapn + 1) * 2 > t->mapcap) {
		size_t ncap = t->mapcap * 2;
		struct tcp_conn **nmap = calloc(ncap, sizeof(*nmap));
		size_t ocap = t->mapcap;

		if (!nmap)
			return -ENOMEM;
		t->mapcap = ncap;
		for (size_t i = 0; i < ocap; i++) {
			if (t->map[i])
				map_put(nmap, ncap, t->map[i],
					slot_of(t, t->map[i]->id));
		}
		free(t->map);
		t->map = nmap;
	}
	map_put(t->map, t->mapcap, c, slot_of(t, c->id));
	t->mapn++;
	c->in_map = true;
	/* Its remote end, for every shard of the group (store/alias.h);
	 * without it the connection is still usable by its id. */
	if (t->sh->set->alias)
		(void)alias_set(t->sh->set->alias,
				(const struct sockaddr *)&c->peer.addr, c->id);
	return 0;
}

/* Remove by backward shift, so that probes never need tombstones. */
static void map_del(struct tcp *t, struct tcp_conn *c)
{
	size_t mask = t->mapcap - 1, i = slot_of(t, c->id), j;

	for (size_t n = 0; t->map[i] != c; n++) {
		if (n >= t->mapcap || !t->map[i])
			return;
		i = (i + 1) & mask;
	}
	t->map[i] = NULL;
	t->mapn--;
	c->in_map = false;
	j = i;
	for (size_t n = 0; n < t->mapcap; n++) {
		size_t k;

		j = (j + 1) & mask;
		if (!t->map[j])
			break;
		k = slot_of(t, t->map[j]->id);
		/* Move the entry at j into the hole at i unless its home
		 * lies cyclically in (i, j]. */
		if ((j > i && (k <= i || k > j)) ||
		    (j < i && k <= i && k > j)) {
			t->map[i] = t->map[j];
			t->map[j] = NULL;
			i = j;
		}
	}
}

static void conn_close_cb(uv_handle_t *h)
{
	struct tcp_conn *c = h->data;

	if (--c->handles == 0) {
		tls_sess_free(c->tls);
		ws_sess_free(c->ws);
		free(c->tpend);
		free(c->wnext);
		free(c->buf);
		free(c);
	}
}

unsigned tcp_per_ip_limit(unsigned max_connections)
{
	unsigned n = max_connections / PER_IP_SHARE;

	return n > PER_IP_MIN ? n : PER_IP_MIN;
}

/* The address bytes of @p ss (no port), for the per-source counts. */
static struct slice addr_bytes(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return slice_make(
		    (const char *)&((const struct sockaddr_in *)ss)->sin_addr,
		    4);
	if (ss->ss_family == AF_INET6)
		return slice_make(
		    (const char *)&((const struct sockaddr_in6 *)ss)->sin6_addr,
		    16);
	return slice_make(NULL, 0);
}

/*
 * Count @p c against its source address: false (and nothing counted)
 * when the address already holds t->max_per_ip connections.
 */
static bool ip_take(struct tcp *t, struct tcp_conn *c)
{
	struct shards *set = t->sh->set;
	struct slice a = addr_bytes(&c->peer.addr);
	unsigned old[2];

	for (unsigned r = 0; r < 2; r++) {
		c->ip_bucket[r] = (unsigned)(hash_slice(a, set->ip_seed + r) %
					     SHARD_IP_BUCKETS);
		old[r] = atomic_fetch_add_explicit(
		    &set->tcp_per_ip[r][c->ip_bucket[r]], 1,
		    memory_order_relaxed);
	}
	c->ip_counted = true;
	return (old[0] < old[1] ? old[0] : old[1]) < t->max_per_ip;
}

static void ip_give(struct tcp *t, struct tcp_conn *c)
{
	struct shards *set = t->sh->set;

	if (!c->ip_counted)
		return;
	c->ip_counted = false;
	for (unsigned r = 0; r < 2; r++)
		atomic_fetch_sub_explicit(&set->tcp_per_ip[r][c->ip_bucket[r]],
					  1, memory_order_relaxed);
}

/* Close @c now: pending writes are cancelled. Idempotent. */
static void conn_close(struct tcp_conn *c)
{
	struct tcp *t = c->t;
	struct shard *sh = t->sh;

	if (c->closing)
		return;
	c->closing = true;
	if (c->prev)
		c->prev->next = c->next;
	else if (t->conns == c)
		t->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	if (c->outgoing) {
		if (c->oprev)
			c->oprev->onext = c->onext;
		else if (t->outs == c)
			t->outs = c->onext;
		if (c->onext)
			c->onext->oprev = c->oprev;
		c->oprev = c->onext = NULL;
		c->outgoing = false;
	}
	if (c->in_map) {
		map_del(t, c);
		if (sh->set->alias)
			(void)alias_del(sh->set->alias,
					(const struct sockaddr *)&c->peer.addr,
					c->id);
	}
	if (c->counted)
		atomic_fetch_sub_explicit(&sh->set->tcp_conns, 1,
					  memory_order_relaxed);
	ip_give(t, c);
	if (c->id)
		shard__count(&shard_stats(sh)->tcp_closed, 1);
	uv_close((uv_handle_t *)&c->h, conn_close_cb);
	uv_close((uv_handle_t *)&c->idle, conn_close_cb);
}

/* The memory a write request holds. */
static size_t wr_cost(const struct write_req *w)
{
	return sizeof(*w) + w->cap;
}

static void wq_grow(struct tcp_conn *c, size_t by)
{
	struct tcp *t = c->t;

	c->wq_bytes += by;
	if (c->wq_bytes >
	    atomic_load_explicit(&t->wq_peak, memory_order_relaxed))
		atomic_store_explicit(&t->wq_peak, c->wq_bytes,
				      memory_order_relaxed);
}

static void write_cb(uv_write_t *req, int status);

/* Hand @p w to libuv. On error the connection is closed. */
static int wr_submit(struct tcp_conn *c, struct write_req *w)
{
	uv_buf_t b = uv_buf_init(w->data, (unsigned)w->len);
	int r = uv_write(&w->req, (uv_stream_t *)&c->h, &b, 1, write_cb);

	if (r) {
		c->wq_bytes -= wr_cost(w);
		free(w);
		conn_close(c);
		return r;
	}
	c->wbusy++;
	return 0;
}

/* What was gathered while writes were under way goes out now. */
static int wr_flush_next(struct tcp_conn *c)
{
	struct write_req *w = c->wnext;

	c->wnext = NULL;
	return w ? wr_submit(c, w) : 0;
}

static void write_cb(uv_write_t *req, int status)
{
	struct write_req *w = caa_container_of(req, struct write_req, req);
	struct tcp_conn *c = w->c;

	c->wbusy--;
	c->wq_bytes -= wr_cost(w);
	free(w);
	if (status < 0) {
		if (status != UV_ECANCELED)
			conn_close(c);
		return;
	}
	if (c->closing || c->wbusy)
		return;
	if (c->wnext)
		(void)wr_flush_next(c);
	else
		c->pong_queued = false;
}

/* Refuse output past the limit: the peer does not read. */
static int wq_over(struct tcp_conn *c)
{
	struct tcp *t = c->t;

	if (log_ratelimit_ok(&t->rl))
		log_msg(LOG_NOTICE,
			"tcp: connection %" PRIx64 " does not read: closed",
			c->id);
	conn_close(c);
	return -ENOBUFS;
}

/*
 * Write at once what the socket takes and queue a copy of the rest.
 * While writes are under way, output is gathered into one buffer, so
 * that many small messages cost one request. Everything queued, with
 * its overhead, counts against the limit: a peer that does not read is
 * closed.
 */
static int raw_write(struct tcp_conn *c, const char *buf, size_t len)
{
	struct tcp *t = c->t;
	struct write_req *w = c->wnext;
	size_t done = 0, need, ncap, old;
	uv_buf_t b;
	int r;

	if (c->closing || c->draining)
		return -ENOTCONN;
	if (len > UINT_MAX)
		return -EMSGSIZE;
	if (len == 0)
		return 0;
	if (c->wbusy == 0 && !w) {
		b = uv_buf_init((char *)buf, (unsigned)len);
		r = uv_try_write((uv_stream_t *)&c->h, &b, 1);
		if (r >= 0)
			done = (size_t)r;
		else if (r != UV_EAGAIN) {
			conn_close(c);
			return r;
		}
		if (done == len)
			return 0;
		if (c->wq_bytes + sizeof(*w) + (len - done) > t->wq_max)
			return wq_over(c);
		w = malloc(sizeof(*w) + (len - done));
		if (!w) {
			/* Part of it may be written: the stream is lost. */
			conn_close(c);
			return -ENOMEM;
		}
		w->c = c;
		w->len = w->cap = len - done;
		memcpy(w->data, buf + done, w->len);
		wq_grow(c, wr_cost(w));
		return wr_submit(c, w);
	}
	/* Behind the writes under way. */
	old = w ? wr_cost(w) : 0;
	need = (w ? w->len : 0) + len;
	if (need > UINT_MAX)
		return wq_over(c);
	if (!w || need > w->cap) {
		ncap = w && 2 * w->cap > need ? 2 * w->cap : need;
		if (ncap < WR_CHUNK)
			ncap = WR_CHUNK;
		if (c->wq_bytes - old + sizeof(*w) + ncap > t->wq_max)
			ncap = need;
		if (c->wq_bytes - old + sizeof(*w) + ncap > t->wq_max)
			return wq_over(c);
		w = realloc(c->wnext, sizeof(*w) + ncap);
		if (!w) {
			conn_close(c);
			return -ENOMEM;
		}
		if (!c->wnext)
			w->len = 0;
		w->c = c;
		w->cap = ncap;
		c->wnext = w;
		c->wq_bytes -= old;
		wq_grow(c, wr_cost(w));
	}
	memcpy(w->data + w->len, buf, len);
	w->len += len;
	return 0;
}

/* Write what the TLS session has for the socket. */
static int tls_flush(struct tcp_conn *c)
{
	struct tcp *t = c->t;
	size_t n;
	int err;

	/* Bounded: each pass takes bytes out of the session's buffer. */
	while ((n = tls_sess_take(c->tls, t->tlsbuf, sizeof(t->tlsbuf)))) {
		err = raw_write(c, t->tlsbuf, n);
		if (err)
			return err;
	}
	return 0;
}

/*
 * Plaintext for the peer: over TLS, encrypted (or kept until the
 * handshake is done, within the output limit); else as it is.
 */
static int conn_write(struct tcp_conn *c, const char *buf, size_t len)
{
	char *p;
	int err;

	if (!c->tls)
		return raw_write(c, buf, len);
	if (c->closing || c->draining)
		return -ENOTCONN;
	if (!tls_sess_is_up(c->tls)) {
		if (c->tpend_len + len > c->t->wq_max)
			return wq_over(c);
		p = realloc(c->tpend, c->tpend_len + len);
		if (!p)
			return -ENOMEM;
		memcpy(p + c->tpend_len, buf, len);
		c->tpend = p;
		c->tpend_len += len;
		return 0;
	}
	err = tls_sess_write(c->tls, buf, len);
	if (err) {
		conn_close(c);
		return err;
	}
	return tls_flush(c);
}

int tcp_send(struct tcp *t, uint64_t conn_id, const void *buf, size_t len)
{
	struct tcp_conn *c = t ? map_find(t, conn_id) : NULL;
	int err;

	if (!c || c->closing || c->draining)
		return -ENOTCONN;
	/* RFC 7118 §5.1: one SIP message per WebSocket message. */
	if (c->ws)
		err = ws_sess_is_open(c->ws) ? ws_sess_send(c->ws, buf, len)
					     : -ENOTCONN;
	else
		err = conn_write(c, buf, len);
	if (!err)
		shard__count(&shard_stats(t->sh)->tx_msgs, 1);
	return err;
}

size_t tcp_conn_count(const struct tcp *t)
{
	return t ? t->mapn : 0;
}

size_t tcp_wq_peak(const struct tcp *t)
{
	return t ? atomic_load_explicit(&t->wq_peak, memory_order_relaxed) : 0;
}

size_t tcp_wq_limit(const struct tcp *t)
{
	return t ? t->wq_max : 0;
}

static void conn_fail(struct tcp_conn *c, const char *p, size_t n, int err,
		      const char *fault);

static void tls_fail(struct tcp_conn *c, const char *why);

static void ws_refuse(struct tcp_conn *c, const char *why);

static void idle_cb(uv_timer_t *h)
{
	struct tcp_conn *c = h->data;
	char abuf[64];

	if (c->tls && !tls_sess_is_up(c->tls) && !c->draining) {
		tls_fail(c, "not done in time");
		return;
	}
	/* An upgrade request not complete in time (slowloris). */
	if (c->ws && !ws_sess_is_open(c->ws) && !c->draining) {
		ws_refuse(c, c->len ? "upgrade not complete in time"
				    : "no upgrade in time");
		return;
	}
	if (c->len && !c->draining && log_ratelimit_ok(&c->t->rl))
		log_msg(LOG_NOTICE,
			"tcp %s: message not complete after %" PRIu64
			" ms: closed",
			peer_addr_str((struct sockaddr *)&c->peer.addr, abuf,
				      sizeof(abuf)),
			uv_now(&c->t->sh->loop) - c->msg_start_ms);
	else
		log_msg(LOG_DEBUG, "tcp: connection %" PRIx64 " idle: closed",
			c->id);
	/* A header block that never ended (RFC 4475 baddn as archived:
	 * no empty line) still gets an answer when what came holds
	 * Via, From, To, Call-ID and CSeq: 400, then drain and close. */
	if (c->len && !c->draining) {
		conn_fail(c, c->buf, c->len, -EBADMSG, "Incomplete Message");
		return;
	}
	conn_close(c);
}

/*
 * (Re)arm the connection's timer: idle_timeout_s from now, but while
 * part of a message waits, no later than t->msg_ms after its first
 * byte, however many bytes trickle in meanwhile.
 */
static void touch(struct tcp_conn *c)
{
	struct tcp *t = c->t;
	uint64_t ms = t->idle_ms, now, end, left;

	if (c->closing || c->draining)
		return;
	/* A TLS handshake must be done within tls.handshake_timeout_s. */
	if (c->tls && !tls_sess_is_up(c->tls) && t->hs_ms) {
		now = uv_now(&t->sh->loop);
		end = c->hs_start_ms + t->hs_ms;
		left = end > now ? end - now : 1;
		if (!ms || left < ms)
			ms = left;
	}
	if (c->len && t->msg_ms) {
		now = uv_now(&t->sh->loop);
		end = c->msg_start_ms + t->msg_ms;
		left = end > now ? end - now : 1;
		if (!ms || left < ms)
			ms = left;
	}
	if (ms)
		uv_timer_start(&c->idle, idle_cb, ms, 0);
	else
		uv_timer_stop(&c->idle);
}

/* Header @name (up to the colon) is one of ours: its bit, else 0. */
enum {
	H_VIA = 1,
	H_FROM = 2,
	H_TO = 4,
	H_CALLID = 8,
	H_CSEQ = 16,
	H_ALL = 31,
};

static unsigned hdr_bit(const char *l, size_t n)
{
	static const struct {
		const char *name;
		unsigned bit;
	} names[] = {
		{ "via", H_VIA },	 { "v", H_VIA },    { "from", H_FROM },
		{ "f", H_FROM },	 { "to", H_TO },    { "t", H_TO },
		{ "call-id", H_CALLID }, { "i", H_CALLID }, { "cseq", H_CSEQ },
	};
	const char *colon = memchr(l, ':', n);
	size_t k;

	if (!colon)
		return 0;
	k = (size_t)(colon - l);
	while (k && (l[k - 1] == ' ' || l[k - 1] == '\t'))
		k--;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strlen(names[i].name) == k &&
		    strncasecmp(l, names[i].name, k) == 0)
			return names[i].bit;
	}
	return 0;
}

static bool has_tag(const char *l, size_t n)
{
	for (size_t i = 0; i + 5 <= n; i++) {
		if (strncasecmp(l + i, ";tag=", 5) == 0)
			return true;
	}
	return false;
}

/*
 * A response @code @reason to the request at the start of @p (n bytes,
 * possibly incomplete), built from its complete Via, From, To, Call-ID
 * and CSeq lines (RFC 3261 §8.2.6.2; a To tag is added). Returns its
 * length, or 0 when not a request or something is missing.
 */
static size_t err_reply(char *out, size_t cap, const char *p, size_t n,
			unsigned code, const char *reason, uint64_t tag)
{
	const char *eol = memchr(p, '\n', n);
	unsigned have = 0;
	size_t o, i;
	int k;

	if (!eol || (n >= 4 && memcmp(p, "SIP/", 4) == 0))
		return 0;
	k = snprintf(out, cap, "SIP/2.0 %u %s\r\n", code, reason);
	if (k < 0 || (size_t)k >= cap)
		return 0;
	o = (size_t)k;
	i = (size_t)(eol - p) + 1;
	while (i < n) {
		const char *l = p + i;
		const char *e = memchr(l, '\n', n - i);
		size_t len, body;
		unsigned bit;

		if (!e)
			break;
		len = (size_t)(e - l) + 1;
		if (len == 1 || (len == 2 && l[0] == '\r'))
			break;
		/* Folded continuation lines belong to this header. */
		while (i + len < n && (l[len] == ' ' || l[len] == '\t')) {
			e = memchr(l + len, '\n', n - i - len);
			if (!e)
				goto done;
			len = (size_t)(e - l) + 1;
		}
		i += len;
		bit = hdr_bit(l, len);
		if (!bit || (bit != H_VIA && (have & bit)))
			continue;
		body = len;
		while (body && (l[body - 1] == '\n' || l[body - 1] == '\r' ||
				l[body - 1] == ' ' || l[body - 1] == '\t'))
			body--;
		if (o + body + 40 > cap)
			return 0;
		memcpy(out + o, l, body);
		o += body;
		if (bit == H_TO && !has_tag(l, body))
			o += (size_t)snprintf(out + o, cap - o,
					      ";tag=%016" PRIx64, tag);
		memcpy(out + o, "\r\n", 2);
		o += 2;
		have |= bit;
	}
done:
	if (have != H_ALL || o + 24 > cap)
		return 0;
	memcpy(out + o, "Content-Length: 0\r\n\r\n", 21);
	return o + 21;
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
	struct tcp_conn *c = req->handle->data;

	if (status < 0)
		conn_close(c);
}

/*
 * After an error answer: send FIN behind the answer and read what the
 * peer still sends until it closes, so that our close does not reset
 * the connection before the answer is read. Bounded by LINGER_MS.
 */
static void conn_drain(struct tcp_conn *c)
{
	uint64_t ms = c->t->idle_ms && c->t->idle_ms < LINGER_MS ? c->t->idle_ms
								 : LINGER_MS;

	if (c->closing || c->draining)
		return;
	/* TLS: close_notify (RFC 8446 §6.1) before the FIN. */
	if (c->tls) {
		tls_sess_close(c->tls);
		if (tls_flush(c))
			return;
	}
	/* The FIN goes behind everything gathered so far. */
	if (wr_flush_next(c))
		return;
	c->draining = true;
	uv_timer_start(&c->idle, idle_cb, ms, 0);
	if (uv_shutdown(&c->shut, (uv_stream_t *)&c->h, shutdown_cb))
		conn_close(c);
}

/* Framing failed: answer 413 or 400 when the request allows it, then
 * drain and close. */
static void conn_fail(struct tcp_conn *c, const char *p, size_t n, int err,
		      const char *fault)
{
	struct shard *sh = c->t->sh;
	char out[4096], reason[96], abuf[64];
	unsigned code = err == -EMSGSIZE ? 413 : 400;
	size_t len, k = 0;

	shard__count(&shard_stats(sh)->parse_errors, 1);
	if (code == 413)
		fault = "Request Entity Too Large";
	else if (!fault)
		fault = "Bad Request";
	/* The reason phrase goes on the wire: printable ASCII only. */
	for (; fault[k] && k < sizeof(reason) - 1; k++)
		reason[k] =
		    fault[k] >= 0x20 && fault[k] < 0x7f ? fault[k] : ' ';
	reason[k] = '\0';
	if (log_ratelimit_ok(&c->t->rl))
		log_msg(LOG_NOTICE, "tcp %s: %u %s: closing",
			peer_addr_str((struct sockaddr *)&c->peer.addr, abuf,
				      sizeof(abuf)),
			code, reason);
	len =
	    p && n ? err_reply(out, sizeof(out), p, n, code, reason, c->id) : 0;
	if (len && conn_write(c, out, len) == 0)
		shard__count(&shard_stats(sh)->tx_msgs, 1);
	conn_drain(c);
}

/*
 * Leading CR/LF at @p (n > 0 bytes): RFC 5626 §4.4.1 answers a
 * double-CRLF ping with one CRLF; a lone CRLF (or LF) between messages
 * is skipped (RFC 3261 §7.5). While output waits, at most one answer
 * waits with it: a peer that pings without reading gets no more.
 * Returns the bytes used, 0 when more are needed, -EBADMSG for a CR
 * not followed by LF.
 */
static int conn_crlf(struct tcp_conn *c, const char *p, size_t n)
{
	if (p[0] == '\n')
		return 1;
	if (n < 2)
		return 0;
	if (p[1] != '\n')
		return -EBADMSG;
	if (n < 3)
		return 0;
	if (p[2] != '\r')
		return 2;
	if (n < 4)
		return 0;
	if (p[3] != '\n')
		return -EBADMSG;
	if (c->wbusy && c->pong_queued)
		return 4;
	conn_write(c, "\r\n", 2);
	if (c->wbusy)
		c->pong_queued = true;
	return 4;
}

/* A WebSocket upgrade refused or not done in time: counted, closed. */
static void ws_refuse(struct tcp_conn *c, const char *why)
{
	struct tcp *t = c->t;
	char abuf[64];

	shard__count(&shard_stats(t->sh)->ws_refused, 1);
	if (log_ratelimit_ok(&t->rl))
		log_msg(LOG_NOTICE, "ws %s: %s: closed",
			peer_addr_str((struct sockaddr *)&c->peer.addr, abuf,
				      sizeof(abuf)),
			why);
	if (c->closing || c->draining)
		return;
	conn_drain(c);
}

/* The bytes of WebSocket @p c for the wire (or the TLS session). */
static int ws_out(void *arg, const char *p, size_t len)
{
	return conn_write(arg, p, len);
}

/* One WebSocket message: a SIP message (RFC 7118 §5.1). */
static void ws_msg(void *arg, const char *p, size_t len)
{
	struct tcp_conn *c = arg;
	size_t i = 0;

	if (c->closing || c->draining)
		return;
	/* Keep-alives some clients send as messages of CRLFs. */
	while (i < len && (p[i] == '\r' || p[i] == '\n'))
		i++;
	if (i == len)
		return;
	shard__receive(c->t->sh, &c->peer, p, len);
}

/*
 * WebSocket @p c: answer the upgrade request once complete, then hand
 * every byte to the session, which hands on whole messages. True when
 * something was taken off the buffer.
 */
static bool ws_process(struct tcp_conn *c)
{
	struct tcp *t = c->t;
	unsigned nls, code;
	const struct conf_listen *ls = shard__listen(t->sh, &nls);
	const struct conf_listen *l =
	    c->peer.listen_idx < nls ? &ls[c->peer.listen_idx] : NULL;
	size_t used = 0;
	char abuf[64], why[64];
	bool took = false;
	int r;

	if (!ws_sess_is_open(c->ws)) {
		r = ws_upgrade(c->ws, c->buf, c->len, l ? l->origins : NULL,
			       l ? l->norigins : 0, &used);
		if (r == -EAGAIN)
			return false;
		if (r != 0) {
			snprintf(why, sizeof(why), "upgrade refused (%d)", r);
			ws_refuse(c, why);
			return true;
		}
		shard__count(&shard_stats(t->sh)->ws_upgrades, 1);
		memmove(c->buf, c->buf + used, c->len - used);
		c->len -= used;
		took = true;
	}
	if (c->len) {
		r = ws_sess_feed(c->ws, c->buf, c->len);
		c->len = 0;
		took = true;
		if (r) {
			conn_close(c);
			return true;
		}
	}
	if (ws_sess_is_closed(c->ws) && !c->closing && !c->draining) {
		code = ws_sess_close_code(c->ws);
		/* Answering the peer's close is not a bad frame, whatever
		 * its code (browsers leaving say 1001). */
		if (!ws_sess_peer_closed(c->ws)) {
			shard__count(&shard_stats(t->sh)->ws_bad_frames, 1);
			if (log_ratelimit_ok(&t->rl))
				log_msg(LOG_NOTICE,
					"ws %s: bad frame: closed with %u",
					peer_addr_str(
					    (struct sockaddr *)&c->peer.addr,
					    abuf, sizeof(abuf)),
					code);
		}
		conn_drain(c);
	}
	return took;
}

/*
 * Frame and hand on every complete message in the buffer. True when
 * something was taken off its front.
 */
static bool conn_process(struct tcp_conn *c)
{
	struct tcp *t = c->t;
	const char *fault;
	size_t off = 0;
	int ret;

	if (c->ws) {
		if (c->closing || c->draining)
			return false;
		return ws_process(c);
	}

	/* Each pass uses at least one byte or leaves the loop. */
	while (off < c->len && !c->closing && !c->draining) {
		const char *p = c->buf + off;
		size_t n = c->len - off;

		if (p[0] == '\r' || p[0] == '\n') {
			ret = conn_crlf(c, p, n);
			if (ret == 0)
				break;
			if (ret < 0) {
				conn_fail(c, p, n, ret, "Bad Framing");
				break;
			}
			off += (size_t)ret;
			continue;
		}
		fault = NULL;
		/* Goes on where the last read left this message. */
		ret = sipmsg_frame_next(&c->fr, p, n, t->max_hdr, t->max_body,
					&fault);
		if (ret == -EAGAIN)
			break;
		if (ret <= 0 || (size_t)ret > n) {
			conn_fail(c, p, n, ret <= 0 ? ret : -EBADMSG, fault);
			break;
		}
		sipmsg_framer_reset(&c->fr);
		shard__receive(t->sh, &c->peer, p, (size_t)ret);
		off += (size_t)ret;
	}
	if (c->closing || c->draining)
		return off > 0;
	/* The framer's offsets count from the message's first byte: they
	 * hold across the move. */
	if (off) {
		memmove(c->buf, c->buf + off, c->len - off);
		c->len -= off;
	}
	if (c->len == 0 && c->cap > BUF_KEEP) {
		free(c->buf);
		c->buf = NULL;
		c->cap = 0;
	}
	return off > 0;
}

/* A TLS handshake that failed or timed out: counted, logged, closed;
 * for one we opened, what was sent there fails over now. */
static void tls_fail(struct tcp_conn *c, const char *why)
{
	struct tcp *t = c->t;
	struct peer to = c->peer;
	bool outgoing = c->outgoing;
	char abuf[64];

	shard__count(&shard_stats(t->sh)->tls_failed, 1);
	if (log_ratelimit_ok(&t->rl))
		log_msg(LOG_NOTICE, "tls %s: handshake %s: closed",
			peer_addr_str((struct sockaddr *)&c->peer.addr, abuf,
				      sizeof(abuf)),
			why);
	conn_close(c);
	if (outgoing)
		shard__conn_failed(t->sh, &to);
}

/* The handshake is done: count it, and send what waited for it. */
static int tls_up(struct tcp_conn *c)
{
	char *p = c->tpend;
	size_t n = c->tpend_len;
	int err = 0;

	shard__count(&shard_stats(c->t->sh)->tls_handshakes, 1);
	log_msg(LOG_DEBUG, "tls: connection %" PRIx64 ": %s", c->id,
		tls_sess_version(c->tls));
	c->tpend = NULL;
	c->tpend_len = 0;
	if (n)
		err = conn_write(c, p, n);
	free(p);
	/* The idle timer no longer counts the handshake. */
	touch(c);
	return err;
}

static bool conn_process(struct tcp_conn *c);

/*
 * @p n bytes of ciphertext read on TLS connection @p c: the handshake
 * goes on, and the plaintext goes into c->buf. Returns 0, or a negative
 * error when the connection was closed or failed (nothing more to do).
 */
static int tls_in(struct tcp_conn *c, const char *p, size_t n)
{
	struct tcp *t = c->t;
	char why[160];
	size_t ncap;
	char *nb;
	int r;

	if (tls_sess_feed(c->tls, p, n)) {
		conn_close(c);
		return -ENOMEM;
	}
	if (!tls_sess_is_up(c->tls)) {
		r = tls_sess_handshake(c->tls);
		/* Its messages, or the alert that says why not. */
		(void)tls_flush(c);
		if (c->closing)
			return -ENOTCONN;
		if (r == -EAGAIN)
			return 0;
		if (r < 0) {
			snprintf(why, sizeof(why), "failed (%s)",
				 tls_sess_fault(c->tls));
			tls_fail(c, why);
			return -EPROTO;
		}
		if (tls_up(c) || c->closing)
			return -ENOTCONN;
	}
	/* Bounded: each pass adds plaintext to the buffer, takes messages
	 * off it, or leaves. */
	for (;;) {
		if (c->len == c->cap) {
			ncap = c->cap ? c->cap * 2 : BUF_MIN;
			if (ncap > t->max_buf)
				ncap = t->max_buf;
			if (ncap <= c->cap) {
				/* Full: what is complete goes on first. */
				if (conn_process(c))
					continue;
				if (!c->closing && !c->draining)
					conn_fail(c, c->buf, c->len, -EMSGSIZE,
						  NULL);
				return -EMSGSIZE;
			}
			nb = realloc(c->buf, ncap);
			if (!nb) {
				conn_close(c);
				return -ENOMEM;
			}
			c->buf = nb;
			c->cap = ncap;
		}
		r = tls_sess_read(c->tls, c->buf + c->len, c->cap - c->len);
		if (r > 0) {
			c->len += (size_t)r;
			continue;
		}
		if (r == -EAGAIN)
			break;
		/* close_notify (0) or a broken record: the stream ends. */
		(void)tls_flush(c);
		conn_close(c);
		return -ENOTCONN;
	}
	/* Whatever the session answers on its own (TLS 1.3 tickets). */
	(void)tls_flush(c);
	return c->closing || c->draining ? -ENOTCONN : 0;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct tcp_conn *c = h->data;
	struct tcp *t = c->t;
	size_t ncap;
	char *p;

	(void)suggested;
	if (c->draining) {
		*buf = uv_buf_init(t->discard, sizeof(t->discard));
		return;
	}
	/* Ciphertext: into the session at once (tls_in()). */
	if (c->tls) {
		*buf = uv_buf_init(t->tlsbuf, sizeof(t->tlsbuf));
		return;
	}
	if (c->len == c->cap) {
		ncap = c->cap ? c->cap * 2 : BUF_MIN;
		if (ncap > t->max_buf)
			ncap = t->max_buf;
		p = ncap > c->cap ? realloc(c->buf, ncap) : NULL;
		if (!p) {
			/* Full: read_cb() gets UV_ENOBUFS. */
			*buf = uv_buf_init(NULL, 0);
			return;
		}
		c->buf = p;
		c->cap = ncap;
	}
	*buf = uv_buf_init(c->buf + c->len, (unsigned)(c->cap - c->len));
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct tcp_conn *c = s->data;
	bool had;

	if (nread == 0 || c->closing)
		return;
	if (nread < 0) {
		if (nread == UV_ENOBUFS && !c->draining)
			conn_fail(c, c->buf, c->len, -EMSGSIZE, NULL);
		else
			conn_close(c);
		return;
	}
	if (c->draining)
		return;
	had = c->len > 0;
	if (!c->tls)
		c->len += (size_t)nread;
	else if (tls_in(c, buf->base, (size_t)nread) < 0) {
		shard__flush(c->t->sh);
		return;
	}
	/* What is left is a message begun in this read, unless it is the
	 * one that was waiting before and nothing was taken. */
	if (conn_process(c) || !had)
		c->msg_start_ms = uv_now(&c->t->sh->loop);
	touch(c);
	shard__flush(c->t->sh);
}

static void reject_close_cb(uv_handle_t *h)
{
	struct tcp *t = h->data;

	t->reject_busy = false;
}

/* Out of memory: take the connection off the queue and close it, or
 * libuv stops accepting on this listener. */
static void reject(struct tcp *t, uv_stream_t *server)
{
	if (t->reject_busy)
		return;
	if (uv_tcp_init(&t->sh->loop, &t->reject))
		return;
	t->reject.data = t;
	t->reject_busy = true;
	(void)uv_accept(server, (uv_stream_t *)&t->reject);
	uv_close((uv_handle_t *)&t->reject, reject_close_cb);
}

/* A new connection @p c (its handle initialised): its idle timer, and
 * at the head of the shard's list. Its two handles close before it is
 * freed. */
static void conn_link(struct tcp *t, struct tcp_conn *c)
{
	c->t = t;
	c->h.data = c;
	c->handles = 2;
	uv_timer_init(&t->sh->loop, &c->idle);
	c->idle.data = c;
	c->next = t->conns;
	if (t->conns)
		t->conns->prev = c;
	t->conns = c;
}

static void accept_cb(uv_stream_t *server, int status)
{
	struct tcp_listener *l = server->data;
	struct tcp *t = l->t;
	struct shard *sh = t->sh;
	struct tcp_conn *c;
	char abuf[64];
	unsigned nopen, nls;
	const struct conf_listen *ls = shard__listen(sh, &nls);
	int alen, err;

	if (status < 0) {
		if (log_ratelimit_ok(&t->rl))
			log_msg(LOG_WARN, "tcp: accept: %s", err_str(status));
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c || uv_tcp_init(&sh->loop, &c->h)) {
		free(c);
		reject(t, server);
		return;
	}
	conn_link(t, c);
	err = uv_accept(server, (uv_stream_t *)&c->h);
	if (err)
		goto fail;
	c->id = ((uint64_t)sh->id << TCP_CONN_SHARD_SHIFT) | ++t->serial;
	shard__count(&shard_stats(sh)->tcp_accepted, 1);
	nopen = atomic_fetch_add_explicit(&sh->set->tcp_conns, 1,
					  memory_order_relaxed);
	c->counted = true;
	if (t->max_conns && nopen >= t->max_conns) {
		err = -EMFILE;
		if (log_ratelimit_ok(&t->rl))
			log_msg(LOG_NOTICE,
				"tcp: %u connections open: new one closed",
				t->max_conns);
		goto fail;
	}
	c->peer.proto = PEER_TCP;
	c->peer.conn_id = c->id;
	c->peer.listen_idx = l->listen_idx;
	alen = sizeof(c->peer.addr);
	/* Fails when the peer is already gone (reset in the backlog): no
	 * address to answer or log, and nothing to serve. */
	err =
	    uv_tcp_getpeername(&c->h, (struct sockaddr *)&c->peer.addr, &alen);
	if (err) {
		log_msg(LOG_DEBUG, "tcp: accept: peer: %s", err_str(err));
		err = -ENOTCONN;
		goto fail;
	}
	c->peer.addrlen = (socklen_t)alen;
	/* security: a banned address gets no connection either. */
	if (sh->set->guard && guard_refuse(&c->peer)) {
		err = -EACCES;
		goto fail;
	}
	if (!ip_take(t, c)) {
		err = -EMFILE;
		if (log_ratelimit_ok(&t->rl))
			log_msg(LOG_NOTICE,
				"tcp %s: %u connections from this address: "
				"new one closed",
				peer_addr_str((struct sockaddr *)&c->peer.addr,
					      abuf, sizeof(abuf)),
				t->max_per_ip);
		goto fail;
	}
	if (sh->set->tls_srv && sh->set->tls_srv[l->listen_idx]) {
		err = tls_sess_server(sh->set->tls_srv[l->listen_idx], &c->tls);
		if (err)
			goto fail;
		c->peer.proto = PEER_TLS;
		c->hs_start_ms = uv_now(&sh->loop);
	}
	if (l->listen_idx < nls && ls[l->listen_idx].ws) {
		/* A message may be as large as over TCP. */
		err = ws_sess_new(t->max_buf, ws_out, ws_msg, c, &c->ws);
		if (err)
			goto fail;
		c->peer.proto = c->tls ? PEER_WSS : PEER_WS;
	}
	err = map_add(t, c);
	if (err)
		goto fail;
	note_local(c);
	uv_tcp_nodelay(&c->h, 1);
	touch(c);
	err = uv_read_start((uv_stream_t *)&c->h, alloc_cb, read_cb);
	if (err)
		goto fail;
	return;
fail:
	if (err != -EMFILE && err != -ENOTCONN && err != -EACCES &&
	    log_ratelimit_ok(&t->rl))
		log_msg(LOG_WARN, "tcp: accept: %s", err_str(err));
	conn_close(c);
}

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
		       !memcmp(&x->sin6_addr, &y->sin6_addr, 16);
	}
	return false;
}

static void connect_cb(uv_connect_t *req, int status)
{
	struct tcp_conn *c = req->handle->data;
	char abuf[64];
	int err;

	if (c->closing)
		return;
	if (status < 0) {
		struct peer to = c->peer;

		if (log_ratelimit_ok(&c->t->rl))
			log_msg(LOG_NOTICE, "tcp: connect to %s: %s",
				peer_addr_str((struct sockaddr *)&c->peer.addr,
					      abuf, sizeof(abuf)),
				err_str(status));
		conn_close(c);
		/* What was sent there fails over now, not after Timer B. */
		shard__conn_failed(c->t->sh, &to);
		return;
	}
	err = uv_read_start((uv_stream_t *)&c->h, alloc_cb, read_cb);
	if (err) {
		conn_close(c);
		return;
	}
	/* TLS: the ClientHello goes now; what was sent waits in tpend. */
	if (c->tls) {
		c->hs_start_ms = uv_now(&c->t->sh->loop);
		err = tls_sess_handshake(c->tls);
		if (tls_flush(c) || c->closing)
			return;
		if (err && err != -EAGAIN)
			tls_fail(c, "failed");
		else
			touch(c);
	}
}

/* The listen address of @p li with port 0, to send from. */
static bool source_of(const struct tcp *t, unsigned li, int family,
		      struct sockaddr_storage *ss)
{
	unsigned nls;
	const struct conf_listen *ls = shard__listen(t->sh, &nls);

	if (li >= nls || ls[li].addr.ss_family != family)
		return false;
	*ss = ls[li].addr;
	if (family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = 0;
	else
		((struct sockaddr_in6 *)ss)->sin6_port = 0;
	return true;
}

int tcp_conn_local(const struct tcp *t, uint64_t conn_id,
		   struct sockaddr_storage *ssp)
{
	const struct tcp_conn *c = t ? map_find(t, conn_id) : NULL;

	if (!c || !c->local.ss_family)
		return -ENOTCONN;
	*ssp = c->local;
	return 0;
}

int tcp_connect(struct tcp *t, const struct peer *to, uint64_t *idp)
{
	struct shard *sh = t->sh;
	struct sockaddr_storage src;
	struct tcp_conn *c;
	int err;

	/* Bounded by this shard's outgoing connections. */
	for (c = t->outs; c; c = c->onext) {
		if (!c->closing && !c->draining && c->peer.proto == to->proto &&
		    c->peer.tls_name == to->tls_name &&
		    same_addr(&c->peer.addr, &to->addr)) {
			*idp = c->id;
			return 0;
		}
	}
	if (to->proto == PEER_TLS && !sh->set->tls_cli)
		return -ENOTSUP;
	if (t->max_conns &&
	    atomic_load_explicit(&sh->set->tcp_conns, memory_order_relaxed) >=
		t->max_conns)
		return -EMFILE;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	err = uv_tcp_init(&sh->loop, &c->h);
	if (err) {
		free(c);
		return err;
	}
	conn_link(t, c);
	c->outgoing = true;
	c->onext = t->outs;
	if (t->outs)
		t->outs->oprev = c;
	t->outs = c;
	c->id = ((uint64_t)sh->id << TCP_CONN_SHARD_SHIFT) | ++t->serial;
	atomic_fetch_add_explicit(&sh->set->tcp_conns, 1, memory_order_relaxed);
	c->counted = true;
	c->peer = *to;
	c->peer.proto = to->proto == PEER_TLS ? PEER_TLS : PEER_TCP;
	c->peer.conn_id = c->id;
	if (c->peer.proto == PEER_TLS) {
		err = tls_sess_client(sh->set->tls_cli,
				      (const struct sockaddr *)&to->addr,
				      peer_name_get(to->tls_name), &c->tls);
		if (err)
			goto fail;
		c->hs_start_ms = uv_now(&sh->loop);
	}
	err = map_add(t, c);
	if (err)
		goto fail;
	if (source_of(t, to->listen_idx, to->addr.ss_family, &src))
		(void)uv_tcp_bind(&c->h, (struct sockaddr *)&src, 0);
	uv_tcp_nodelay(&c->h, 1);
	err = uv_tcp_connect(&c->conn_req, &c->h,
			     (const struct sockaddr *)&to->addr, connect_cb);
	if (err)
		goto fail;
	/* connect(2) has begun: the kernel has picked the local port. */
	note_local(c);
	touch(c);
	*idp = c->id;
	return 0;
fail:
	conn_close(c);
	return err;
}

int tcp_open(struct shard *sh, struct tcp **tp)
{
	const struct conf *c = shard_conf(sh);
	const struct conf_listen *ls;
	unsigned nls;
	char abuf[64];
	struct tcp *t;
	int err = -ENOMEM;

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->sh = sh;
	t->rl.burst = 10;
	t->max_hdr = c->tcp.max_header_bytes ? c->tcp.max_header_bytes : 16384;
	t->max_body = c->tcp.max_body_bytes;
	t->max_buf = t->max_hdr + t->max_body;
	t->wq_max = 4 * t->max_buf > WQ_MIN ? 4 * t->max_buf : WQ_MIN;
	t->idle_ms = (uint64_t)c->tcp.idle_timeout_s * 1000;
	t->msg_ms = t->idle_ms && t->idle_ms < MSG_DEADLINE_MS
			? t->idle_ms
			: MSG_DEADLINE_MS;
	t->hs_ms = (uint64_t)c->tls.handshake_timeout_s * 1000;
	t->max_conns = c->tcp.max_connections;
	t->max_per_ip = c->tcp.max_per_source ? c->tcp.max_per_source
					      : tcp_per_ip_limit(t->max_conns);
	atomic_init(&t->wq_peak, 0);
	t->mapcap = MAP_MIN;
	t->map = calloc(t->mapcap, sizeof(*t->map));
	ls = shard__listen(sh, &nls);
	t->nls = nls;
	t->ls = calloc(t->nls ? t->nls : 1, sizeof(*t->ls));
	if (!t->map || !t->ls)
		goto out;
	for (unsigned i = 0; i < t->nls; i++) {
		t->ls[i].t = t;
		t->ls[i].fd = -1;
		t->ls[i].listen_idx = i;
	}
	for (unsigned i = 0; i < t->nls; i++) {
		const struct conf_listen *l = &ls[i];
		int fd;

		if (!l->tcp && !l->tls && !l->ws)
			continue;
		fd = tp__bind((const struct sockaddr *)&l->addr, l->addrlen,
			      SOCK_STREAM,
			      l->ws    ? "ws"
			      : l->tls ? "tls"
				       : "tcp");
		if (fd < 0) {
			err = fd;
			goto out;
		}
		t->ls[i].fd = fd;
		if (listen(fd, BACKLOG)) {
			err = -errno;
			log_msg(LOG_ERR, "tcp %s: listen: %s",
				peer_addr_str((const struct sockaddr *)&l->addr,
					      abuf, sizeof(abuf)),
				err_str(err));
			goto out;
		}
	}
	*tp = t;
	t = NULL;
	err = 0;
out:
	tcp_free(t);
	return err;
}

int tcp_start(struct tcp *t)
{
	int err;

	for (unsigned i = 0; i < t->nls; i++) {
		struct tcp_listener *l = &t->ls[i];

		if (l->fd < 0)
			continue;
		err = uv_tcp_init(&t->sh->loop, &l->h);
		if (err)
			return err;
		l->h.data = l;
		l->h_init = true;
		/* libuv 1.44 cannot set SO_REUSEPORT: it gets our socket. */
		err = uv_tcp_open(&l->h, l->fd);
		if (err)
			return err;
		l->fd = -1;
		err = uv_listen((uv_stream_t *)&l->h, BACKLOG, accept_cb);
		if (err)
			return err;
	}
	return 0;
}

void tcp_close(struct tcp *t)
{
	if (!t)
		return;
	for (unsigned i = 0; i < t->nls; i++) {
		uv_handle_t *h = (uv_handle_t *)&t->ls[i].h;

		if (t->ls[i].h_init && !uv_is_closing(h))
			uv_close(h, NULL);
	}
	/* conn_close() unlinks each one: at most one pass per connection. */
	while (t->conns)
		conn_close(t->conns);
}

void tcp_free(struct tcp *t)
{
	if (!t)
		return;
	for (unsigned i = 0; i < t->nls; i++) {
		if (t->ls[i].fd >= 0)
			close(t->ls[i].fd);
	}
	free(t->ls);
	free(t->map);
	free(t);
}
