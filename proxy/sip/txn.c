/* proxy/sip/txn.c - RFC 3261 §17 transactions, owned by one shard */
#include "proxy/sip/txn.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <urcu/compiler.h>

#include "proxy/base/hash.h"
#include "proxy/base/hex.h"
#include "proxy/base/log.h"
#include "proxy/base/obj.h"
#include "proxy/base/stats.h"
#include "proxy/sip/hdr.h"
#include "proxy/sip/reply.h"
#include "proxy/base/timer.h"

#define COOKIE	    "z9hG4bK"
#define OURS	    "z9hG4bKsE"
#define OURS_LEN    (sizeof(OURS) - 1)
#define TABLE_MIN   256
#define SCRATCH_OUT 65536

struct table {
	struct txn **b;
	size_t cap; /* power of two */
	size_t n;
};

struct txn_layer {
	struct txn_cfg cfg;
	struct timer_wheel *w;
	struct table srv, cli;
	uint64_t nonce;
	uint64_t serial;
	struct siphdr *scratch; /* cfg.max_headers entries */
	char *out;		/* SCRATCH_OUT bytes: ACK and CANCEL */
	uint64_t rx_us;		/* txn_set_rx_us() */
	uint64_t created;	/* txn_created() */
	/* Completed ones (done()), oldest first, for txn_trim(). */
	struct txn *done_head, *done_tail;
	size_t done_n;
};

struct txn {
	struct txn_layer *l;
	struct txn *hnext;
	struct txn *dprev, *dnext; /* the layer's completed list */
	bool in_table;
	bool in_done;
	bool server;
	bool invite;
	bool reliable; /* TCP: no retransmissions, Timers D, I, J, K zero */
	bool rfc2543;
	bool cancel_pending;
	bool cancelled;
	bool req_own; /* server: req is its own allocation (compact_local) */
	enum sip_method method;
	enum txn_state state;
	unsigned status;
	unsigned tag;
	bool prov_seen;	  /* server: a 101-199 went out (TXN_HIST_*) */
	uint64_t born_us; /* server, with cfg.hist: when it was made */
	uint64_t hash;
	uint64_t interval; /* current retransmission interval */
	struct timer tr;   /* A, E, G */
	struct timer tt;   /* B, D, F, H, I, J, K, L, M, CANCEL guard */
	struct peer peer;
	struct txn *parent; /* client: a reference */
	txn_cli_fn *fn;	    /* client: where its outcomes go, with arg */
	void *arg;
	/* Keys, into req (server) or bname (client). */
	struct slice branch;
	struct slice sentby;
	uint16_t sentby_port;
	struct slice call_id, from_tag, ruri, top_via;
	uint32_t cseq;
	/*
	 * The request copy: a server's sits in this allocation after the
	 * user area (its keys and the user's slices point into it); a
	 * client's is its own allocation, freed once a final response came
	 * (compaction: nothing is retransmitted then, and the ACK of a
	 * 300-699 is kept whole instead).
	 */
	char *req;
	size_t req_len;
	/* Server, compacted: the match keys' bytes, the slices point here. */
	char *keys;
	size_t keys_len;
	/*
	 * Server: the last response sent, for retransmitted requests and
	 * Timer G; freed once nothing resends it (Confirmed, Accepted).
	 * Client INVITE in Completed: the ACK, for retransmitted finals.
	 */
	char *rsp;
	size_t rsp_len, rsp_cap;
	char bname[TXN_BRANCH_MAX];
	size_t user_size;
	alignas(max_align_t) unsigned char user[];
};

/* Tables: chained, grown at a load of 1. */

static int table_init(struct table *tb)
{
	tb->b = calloc(TABLE_MIN, sizeof(*tb->b));
	tb->cap = TABLE_MIN;
	tb->n = 0;
	return tb->b ? 0 : -ENOMEM;
}

static void table_grow(struct table *tb)
{
	size_t ncap = tb->cap * 2;
	struct txn **nb = calloc(ncap, sizeof(*nb));

	/* Out of memory: stay at the higher load, still correct. */
	if (!nb)
		return;
	for (size_t i = 0; i < tb->cap; i++) {
		struct txn *t = tb->b[i], *next;

		for (; t; t = next) {
			next = t->hnext;
			t->hnext = nb[t->hash & (ncap - 1)];
			nb[t->hash & (ncap - 1)] = t;
		}
	}
	free(tb->b);
	tb->b = nb;
	tb->cap = ncap;
}

static void table_add(struct table *tb, struct txn *t)
{
	size_t i;

	/* Load at most 1: a miss (every new request) walks few nodes,
	 * each a cache miss. */
	if (tb->n + 1 > tb->cap)
		table_grow(tb);
	i = t->hash & (tb->cap - 1);
	t->hnext = tb->b[i];
	tb->b[i] = t;
	tb->n++;
	t->in_table = true;
}

static void table_del(struct table *tb, struct txn *t)
{
	struct txn **pp = &tb->b[t->hash & (tb->cap - 1)];

	for (; *pp; pp = &(*pp)->hnext) {
		if (*pp == t) {
			*pp = t->hnext;
			t->hnext = NULL;
			tb->n--;
			t->in_table = false;
			return;
		}
	}
}

/* Completed transactions: a final response was sent or received and
 * they only wait for retransmissions (Timers D, H, I, J, K, L, M). They
 * are not load (txn_count_live()); txn_trim() bounds them. */

static bool done(enum txn_state s)
{
	return s == TXN_COMPLETED || s == TXN_CONFIRMED || s == TXN_ACCEPTED;
}

static void done_unlink(struct txn *t)
{
	struct txn_layer *l = t->l;

	if (!t->in_done)
		return;
	if (t->dprev)
		t->dprev->dnext = t->dnext;
	else
		l->done_head = t->dnext;
	if (t->dnext)
		t->dnext->dprev = t->dprev;
	else
		l->done_tail = t->dprev;
	t->dprev = t->dnext = NULL;
	t->in_done = false;
	l->done_n--;
}

/* Every state change goes through here, so the completed list stays
 * true. */
static void set_state(struct txn *t, enum txn_state s)
{
	struct txn_layer *l = t->l;

	t->state = s;
	if (!done(s)) {
		done_unlink(t);
		return;
	}
	if (t->in_done || !t->in_table)
		return;
	t->dprev = l->done_tail;
	t->dnext = NULL;
	if (l->done_tail)
		l->done_tail->dnext = t;
	else
		l->done_head = t;
	l->done_tail = t;
	t->in_done = true;
	l->done_n++;
}

/* Layer. */

int txn_layer_new(const struct txn_cfg *cfg, struct timer_wheel *w,
		  struct txn_layer **lp)
{
	struct txn_layer *l;
	struct timespec ts;
	int err = -EINVAL;

	if (!cfg->send || cfg->shard > 255 || !w)
		return -EINVAL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->cfg = *cfg;
	if (!l->cfg.t1_ms)
		l->cfg.t1_ms = 500;
	if (l->cfg.t2_ms < l->cfg.t1_ms)
		l->cfg.t2_ms = l->cfg.t1_ms;
	if (!l->cfg.t4_ms)
		l->cfg.t4_ms = 5000;
	if (!l->cfg.max_headers)
		l->cfg.max_headers = 128;
	l->w = w;
	clock_gettime(CLOCK_REALTIME, &ts);
	/* Branches stay unique across restarts and nodes (RFC 3261 §8.1.1.7).
	 */
	l->nonce = hash_bytes(&ts, sizeof(ts),
			      (uint64_t)(uintptr_t)l ^ (uint64_t)cfg->shard);
	err = -ENOMEM;
	l->scratch = calloc(l->cfg.max_headers, sizeof(*l->scratch));
	l->out = malloc(SCRATCH_OUT);
	if (!l->scratch || !l->out || table_init(&l->srv) ||
	    table_init(&l->cli))
		goto out;
	*lp = l;
	return 0;
out:
	txn_layer_free(l);
	return err;
}

static void terminate(struct txn *t);

static void table_clear(struct table *tb)
{
	/* Each pass terminates one transaction, which leaves the table. */
	for (size_t i = 0; i < tb->cap; i++)
		while (tb->b[i])
			terminate(tb->b[i]);
}

void txn_layer_free(struct txn_layer *l)
{
	if (!l)
		return;
	if (l->cli.b)
		table_clear(&l->cli);
	if (l->srv.b)
		table_clear(&l->srv);
	free(l->cli.b);
	free(l->srv.b);
	free(l->scratch);
	free(l->out);
	free(l);
}

size_t txn_count(const struct txn_layer *l)
{
	return l->srv.n + l->cli.n;
}

size_t txn_count_live(const struct txn_layer *l)
{
	return l->srv.n + l->cli.n - l->done_n;
}

size_t txn_count_completed(const struct txn_layer *l)
{
	return l->done_n;
}

size_t txn_trim(struct txn_layer *l, size_t max)
{
	size_t n = 0;

	/* terminate() unlinks the head: each pass shortens the list. */
	while (l->done_n > max && l->done_head) {
		terminate(l->done_head);
		n++;
	}
	return n;
}

uint64_t txn_created(const struct txn_layer *l)
{
	return l->created;
}

/* Accessors. */

enum txn_state txn_state(const struct txn *t)
{
	return t->state;
}

enum sip_method txn_method(const struct txn *t)
{
	return t->method;
}

unsigned txn_status(const struct txn *t)
{
	return t->status;
}

void *txn_user_data(struct txn *t)
{
	if (!t->server)
		return t->parent ? txn_user_data(t->parent) : NULL;
	return t->user_size ? t->user : NULL;
}

struct txn *txn_parent(const struct txn *ct)
{
	return ct->parent;
}

unsigned txn_tag(const struct txn *ct)
{
	return ct->tag;
}

const struct peer *txn_peer(const struct txn *t)
{
	return &t->peer;
}

struct txn_layer *txn_layer(const struct txn *t)
{
	return t->l;
}

struct slice txn_srv_request(const struct txn *st)
{
	return slice_make(st->req, st->req_len);
}

/* Life cycle. */

static void txn_dtor(void *obj)
{
	struct txn *t = obj;
	const struct txn_user *u = t->l->cfg.user;

	if (t->server && t->user_size && u && u->release)
		u->release(t);
	free(t->rsp);
	if (!t->server || t->req_own)
		free(t->req);
	free(t->keys);
	obj_put(t->parent);
}

/* Compaction: the last response will not be sent again. */
static void drop_rsp(struct txn *t)
{
	free(t->rsp);
	t->rsp = NULL;
	t->rsp_len = t->rsp_cap = 0;
}

/* Compaction: a client's request will not be sent again, nor an ACK
 * or CANCEL built from it. */
static void drop_req(struct txn *t)
{
	if (t->server)
		return;
	free(t->req);
	t->req = NULL;
	t->req_len = 0;
}

/* Compaction of a server transaction with its own request copy: the
 * match keys move to a small buffer, the request goes. Out of memory:
 * it keeps the request. */
static void srv_drop_req(struct txn *t)
{
	struct slice *k[] = { &t->branch,   &t->sentby, &t->call_id,
			      &t->from_tag, &t->ruri,	&t->top_via };
	size_t n = 0;
	char *p;

	if (!t->req_own || !t->req)
		return;
	for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++)
		n += k[i]->len;
	p = malloc(n ? n : 1);
	if (!p)
		return;
	t->keys = p;
	t->keys_len = n;
	for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
		if (k[i]->len)
			memcpy(p, k[i]->p, k[i]->len);
		*k[i] = slice_make(k[i]->len ? p : NULL, k[i]->len);
		p += k[i]->len;
	}
	free(t->req);
	t->req = NULL;
	t->req_len = 0;
}

size_t txn_held_bytes(const struct txn *t)
{
	return t->req_len + t->rsp_cap + t->keys_len;
}

/* Out of the table, timers stopped, the user told; the layer's
 * reference dropped. */
static void terminate(struct txn *t)
{
	struct txn_layer *l = t->l;
	const struct txn_user *u = l->cfg.user;

	if (!t->in_table)
		return;
	set_state(t, TXN_TERMINATED);
	timer_stop(l->w, &t->tr);
	timer_stop(l->w, &t->tt);
	table_del(t->server ? &l->srv : &l->cli, t);
	if (u && u->gone && (t->server || t->parent))
		u->gone(t);
	obj_put(t);
}

static int send_bytes(struct txn *t, const void *buf, size_t len)
{
	struct txn_layer *l = t->l;
	struct peer fb;
	int err = l->cfg.send(l->cfg.send_ctx, &t->peer, buf, len);

	/* RFC 3261 §18.2.2: the connection of the request is gone; open
	 * one to the source address (its received) and the Via sent-by
	 * port (5060 without one), and keep to it for what follows. */
	if (err == -ENOTCONN && t->server &&
	    peer_proto_is_stream(t->peer.proto) &&
	    !peer_proto_is_ws(t->peer.proto) && t->peer.conn_id) {
		/* RFC 3261 §19.1.2: 5061 is the default port of TLS. */
		uint16_t dport = t->peer.proto == PEER_TLS ? 5061 : 5060;

		fb = t->peer;
		fb.conn_id = 0;
		if (fb.addr.ss_family == AF_INET)
			((struct sockaddr_in *)&fb.addr)->sin_port =
			    htons(t->sentby_port ? t->sentby_port : dport);
		else if (fb.addr.ss_family == AF_INET6)
			((struct sockaddr_in6 *)&fb.addr)->sin6_port =
			    htons(t->sentby_port ? t->sentby_port : dport);
		err = l->cfg.send(l->cfg.send_ctx, &fb, buf, len);
		if (!err)
			t->peer = fb;
	}
	return err;
}

static uint64_t t64(const struct txn_layer *l)
{
	return 64 * (uint64_t)l->cfg.t1_ms;
}

/* Slice @p s of message @p m, moved into the copy at @p base. */
static struct slice moved(const struct sipmsg *m, const char *base,
			  struct slice s)
{
	if (!s.p || s.p < m->buf || s.p + s.len > m->buf + m->len)
		return slice_make(NULL, 0);
	return slice_make(base + (s.p - m->buf), s.len);
}

static bool has_cookie(struct slice branch)
{
	return branch.len > 7 && memcmp(branch.p, COOKIE, 7) == 0;
}

static uint64_t key_2543(struct slice call_id, uint32_t cseq)
{
	return hash_slice(call_id, 0x2543) ^ cseq;
}

/* Server transactions. */

static void srv_timer_g(struct timer *tm)
{
	struct txn *t = caa_container_of(tm, struct txn, tr);
	uint64_t next = t->interval * 2;

	if (t->state != TXN_COMPLETED)
		return;
	send_bytes(t, t->rsp, t->rsp_len);
	t->interval = next < t->l->cfg.t2_ms ? next : t->l->cfg.t2_ms;
	timer_start(t->l->w, &t->tr, t->interval, srv_timer_g);
}

static void timeout_end(struct timer *tm)
{
	terminate(caa_container_of(tm, struct txn, tt));
}

/* The first provisional (not 100) and the final of INVITE, the final
 * of REGISTER, into the layer's histograms. */
static void srv_observe(struct txn *st, unsigned status)
{
	struct stats_hist *h = st->l->cfg.hist;
	enum txn_hist k;

	if (!h)
		return;
	if (st->method == SIP_INVITE && status > 100 && status < 200) {
		if (st->prov_seen)
			return;
		st->prov_seen = true;
		k = TXN_HIST_INVITE_PROVISIONAL;
	} else if (status >= 200 && st->method == SIP_INVITE) {
		k = TXN_HIST_INVITE_FINAL;
	} else if (status >= 200 && st->method == SIP_REGISTER) {
		k = TXN_HIST_REGISTER;
	} else {
		return;
	}
	stats_hist_observe(&h[k], stats_now_us() - st->born_us);
}

void txn_set_rx_us(struct txn_layer *l, uint64_t us)
{
	l->rx_us = us;
}

int txn_srv_new(struct txn_layer *l, const struct sipmsg *m,
		const struct peer *from, size_t user_size, struct txn **stp)
{
	size_t usz = (user_size + 15) & ~(size_t)15;
	bool own = l->cfg.compact_local && !usz;
	struct txn *t;
	int err;

	if (!m->is_request || m->method == SIP_ACK || !m->via.value.len ||
	    !m->len)
		return -EINVAL;
	t = obj_new(sizeof(*t) + usz + (own ? 0 : m->len), txn_dtor);
	if (!t)
		return -ENOMEM;
	t->l = l;
	t->server = true;
	t->req_own = own;
	t->req = own ? malloc(m->len) : (char *)t->user + usz;
	if (!t->req) {
		obj_put(t);
		return -ENOMEM;
	}
	t->method = m->method;
	t->invite = m->method == SIP_INVITE;
	t->reliable = from->proto != PEER_UDP;
	t->state = t->invite ? TXN_PROCEEDING : TXN_TRYING;
	t->user_size = usz;
	t->req_len = m->len;
	memcpy(t->req, m->buf, m->len);
	t->peer = *from;
	if (l->cfg.hist)
		t->born_us = l->rx_us ? l->rx_us : stats_now_us();
	err = reply_dest(m, (const struct sockaddr *)&from->addr, t->reliable,
			 &t->peer.addr, &t->peer.addrlen);
	if (err) {
		obj_put(t);
		return err;
	}
	t->branch = moved(m, t->req, m->via.branch);
	t->sentby = moved(m, t->req, m->via.host);
	t->sentby_port = m->via.port;
	t->call_id = moved(m, t->req, m->call_id);
	t->from_tag = moved(m, t->req, m->from_tag);
	t->ruri = moved(m, t->req, m->ruri);
	t->top_via = moved(m, t->req, m->via.value);
	t->cseq = m->cseq;
	t->rfc2543 = !has_cookie(t->branch);
	t->hash = t->rfc2543 ? key_2543(t->call_id, t->cseq)
			     : hash_slice(t->branch, 0);
	table_add(&l->srv, t);
	l->created++;
	*stp = t;
	return 0;
}

static bool srv_match(const struct txn *t, const struct sipmsg *m,
		      enum sip_method method, bool rfc2543)
{
	if (t->method != method || t->rfc2543 != rfc2543)
		return false;
	if (!rfc2543)
		return slice_eq(t->branch, m->via.branch) &&
		       slice_caseeq(t->sentby, m->via.host) &&
		       t->sentby_port == m->via.port;
	/* RFC 3261 §17.2.3 for RFC 2543 peers: Request-URI (not for
	 * ACK, whose R-URI may differ after strict routing), From tag,
	 * Call-ID, CSeq number and the top Via. */
	return t->cseq == m->cseq && slice_eq(t->call_id, m->call_id) &&
	       slice_eq(t->from_tag, m->from_tag) &&
	       slice_eq(t->top_via, m->via.value) &&
	       (m->method == SIP_ACK || slice_eq(t->ruri, m->ruri));
}

struct txn *txn_srv_find(struct txn_layer *l, const struct sipmsg *m,
			 enum sip_method method)
{
	bool rfc2543 = !has_cookie(m->via.branch);
	uint64_t h = rfc2543 ? key_2543(m->call_id, m->cseq)
			     : hash_slice(m->via.branch, 0);
	struct txn *t;

	if (!m->via.value.len)
		return NULL;
	for (t = l->srv.b[h & (l->srv.cap - 1)]; t; t = t->hnext)
		if (t->hash == h && srv_match(t, m, method, rfc2543))
			return t;
	return NULL;
}

int txn_srv_absorb(struct txn *st, const struct sipmsg *m)
{
	struct txn_layer *l = st->l;

	if (m->method == SIP_ACK) {
		if (!st->invite || st->state == TXN_ACCEPTED)
			return 0;
		if (st->state == TXN_COMPLETED) {
			set_state(st, TXN_CONFIRMED);
			timer_stop(l->w, &st->tr);
			/* Confirmed absorbs without answering (§17.2.1). */
			drop_rsp(st);
			if (st->reliable) {
				terminate(st);
				return 1;
			}
			timer_start(l->w, &st->tt, l->cfg.t4_ms, timeout_end);
		}
		return 1;
	}
	switch (st->state) {
	case TXN_PROCEEDING:
	case TXN_COMPLETED:
		if (st->rsp_len)
			send_bytes(st, st->rsp, st->rsp_len);
		break;
	default:
		break;
	}
	return 1;
}

static int keep_rsp(struct txn *t, const void *buf, size_t len)
{
	if (len > t->rsp_cap) {
		char *p = realloc(t->rsp, len);

		if (!p)
			return -ENOMEM;
		t->rsp = p;
		t->rsp_cap = len;
	}
	memcpy(t->rsp, buf, len);
	t->rsp_len = len;
	return 0;
}

void txn_log_access(const struct peer *from, struct slice method,
		    struct slice ruri, struct slice call_id, unsigned status)
{
	char mtext[40], rtext[200], ctext[140], addr[64];

	log_escape(method.p, method.len, mtext, sizeof(mtext));
	log_escape(ruri.p, ruri.len, rtext, sizeof(rtext));
	log_escape(call_id.p, call_id.len, ctext, sizeof(ctext));
	peer_addr_str((const struct sockaddr *)&from->addr, addr, sizeof(addr));
	log_msg(LOG_INFO, "access %s %s %s %s %u call-id=%s",
		peer_proto_name(from->proto), addr, mtext, rtext, status,
		ctext);
}

/* The access line of a server transaction's final answer (log.requests). */
static void log_access(const struct txn *st, unsigned status)
{
	struct slice mn = sip_method_name(st->method);
	const char *sp;

	if (!mn.len) {
		sp = memchr(st->req, ' ', st->req_len);
		mn = slice_make(st->req, sp ? (size_t)(sp - st->req) : 0);
	}
	txn_log_access(&st->peer, mn, st->ruri, st->call_id, status);
}

int txn_srv_respond(struct txn *st, unsigned status, const void *buf,
		    size_t len)
{
	struct txn_layer *l = st->l;
	int err;

	if (status >= 200 &&
	    (st->state == TXN_PROCEEDING || st->state == TXN_TRYING) &&
	    log_requests())
		log_access(st, status);
	if (st->state == TXN_ACCEPTED && status >= 200 && status < 300)
		return send_bytes(st, buf, len);
	if (st->state != TXN_PROCEEDING && st->state != TXN_TRYING)
		return -EALREADY;
	srv_observe(st, status);
	st->status = status;
	if (st->invite && status >= 200 && status < 300) {
		/* RFC 6026 §8.5: Accepted, Timer L. */
		set_state(st, TXN_ACCEPTED);
		/* Accepted answers nothing itself: the user passes each 2xx
		 * (RFC 6026 §8.5); the kept provisional goes. */
		drop_rsp(st);
		srv_drop_req(st);
		timer_start(l->w, &st->tt, t64(l), timeout_end);
		return send_bytes(st, buf, len);
	}
	err = keep_rsp(st, buf, len);
	if (err)
		return err;
	if (status < 200) {
		set_state(st, TXN_PROCEEDING);
		return send_bytes(st, buf, len);
	}
	set_state(st, TXN_COMPLETED);
	err = send_bytes(st, buf, len);
	srv_drop_req(st);
	if (st->invite) {
		if (!st->reliable) {
			st->interval = l->cfg.t1_ms;
			timer_start(l->w, &st->tr, st->interval, srv_timer_g);
		}
		timer_start(l->w, &st->tt, t64(l), timeout_end); /* H */
	} else if (st->reliable) {
		terminate(st); /* Timer J = 0 */
	} else {
		timer_start(l->w, &st->tt, t64(l), timeout_end); /* J */
	}
	return err;
}

/* Branches. */

/* Our branches are lower-case hex; only that reads back as ours. */
static const char hexd[] = "0123456789abcdef";

static size_t branch_write(struct txn_layer *l, uint32_t loop_hash,
			   uint64_t unique, char *buf)
{
	size_t o = OURS_LEN;

	memcpy(buf, OURS, OURS_LEN);
	hex_u64_print(l->cfg.shard, 2, buf + o);
	o += 2;
	buf[o++] = '.';
	hex_u64_print(loop_hash, 8, buf + o);
	o += 8;
	buf[o++] = '.';
	hex_u64_print(unique, 16, buf + o);
	o += 16;
	buf[o] = '\0';
	return o;
}

size_t txn_branch_make(struct txn_layer *l, uint32_t loop_hash, char *buf)
{
	uint64_t u = hash_bytes(&l->serial, sizeof(l->serial), l->nonce);

	l->serial++;
	return branch_write(l, loop_hash, u, buf);
}

size_t txn_branch_stateless(struct txn_layer *l, uint32_t loop_hash,
			    struct slice seed, char *buf)
{
	return branch_write(l, loop_hash, hash_slice(seed, 0x5e5e), buf);
}

static int unhex(const char *p, unsigned digits, uint64_t *vp)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < digits; i++) {
		const char *d = memchr(hexd, p[i], 16);

		if (!d || !p[i])
			return -ENOENT;
		v = v << 4 | (uint64_t)(d - hexd);
	}
	*vp = v;
	return 0;
}

int txn_branch_parse(struct slice branch, unsigned *shardp,
		     uint32_t *loop_hashp)
{
	const char *p = branch.p;
	uint64_t shard, lh, u;

	if (branch.len != OURS_LEN + 2 + 1 + 8 + 1 + 16 ||
	    memcmp(p, OURS, OURS_LEN) != 0)
		return -ENOENT;
	p += OURS_LEN;
	if (unhex(p, 2, &shard) || p[2] != '.' || unhex(p + 3, 8, &lh) ||
	    p[11] != '.' || unhex(p + 12, 16, &u))
		return -ENOENT;
	*shardp = (unsigned)shard;
	*loop_hashp = (uint32_t)lh;
	return 0;
}

/* Case-insensitive: does the line at @p (n bytes) start a Via header? */
static bool is_via_line(const char *p, size_t n)
{
	size_t k = 0;

	if (n >= 3 && (p[0] | 0x20) == 'v' && (p[1] | 0x20) == 'i' &&
	    (p[2] | 0x20) == 'a')
		k = 3;
	else if (n >= 1 && (p[0] | 0x20) == 'v')
		k = 1;
	else
		return false;
	while (k < n && (p[k] == ' ' || p[k] == '\t'))
		k++;
	return k < n && p[k] == ':';
}

int txn_peek_branch_shard(const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;
	unsigned lines = 0;

	/* Skip the start line, then look at header lines up to the
	 * blank line; bounded by the buffer. */
	while (p < end && lines++ < 256) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p);
		const char *b;

		if (lines > 1 && (n == 0 || (n == 1 && p[0] == '\r')))
			break;
		if (lines > 1 && is_via_line(p, n)) {
			unsigned shard;
			uint32_t lh;
			size_t k;

			b = memmem(p, n, ";branch=", 8);
			if (!b)
				return -ENOENT;
			b += 8;
			for (k = 0; b + k < p + n && !strchr(";, \t\r", b[k]);
			     k++)
				;
			if (txn_branch_parse(slice_make(b, k), &shard, &lh))
				return -ENOENT;
			return (int)shard;
		}
		if (!eol)
			break;
		p = eol + 1;
	}
	return -ENOENT;
}

/* Client transactions. */

/* No final response and no more to wait for: tell the user @p status
 * (408 time-out, 503 transport failure) and end. */
static void cli_fail(struct txn *t, unsigned status)
{
	/* The user may drop its own references while it is told. */
	obj_get(t);
	if (t->state == TXN_CALLING || t->state == TXN_TRYING ||
	    t->state == TXN_PROCEEDING) {
		t->status = status;
		if (t->fn)
			t->fn(t, NULL, status, t->arg);
	}
	terminate(t);
	obj_put(t);
}

static void cli_timer_ae(struct timer *tm)
{
	struct txn *t = caa_container_of(tm, struct txn, tr);
	struct txn_layer *l = t->l;

	int err;

	if (t->state != TXN_CALLING && t->state != TXN_TRYING &&
	    t->state != TXN_PROCEEDING)
		return;
	err = send_bytes(t, t->req, t->req_len);
	/* RFC 3261 §17.1.4: a transport failure is told to the user and
	 * ends the transaction; a proxy takes it as a 503 (§16.9). A full
	 * queue (-ENOBUFS, -EAGAIN) is a lost datagram: the next
	 * retransmission tries again. */
	if (err && err != -ENOBUFS && err != -EAGAIN) {
		cli_fail(t, 503);
		return;
	}
	if (t->invite) {
		t->interval *= 2; /* Timer A: doubles, no cap */
	} else {
		uint64_t next =
		    t->state == TXN_PROCEEDING ? l->cfg.t2_ms : t->interval * 2;
		t->interval = next < l->cfg.t2_ms ? next : l->cfg.t2_ms;
	}
	timer_start(l->w, &t->tr, t->interval, cli_timer_ae);
}

/* The same address and port (the connection id aside). */
static bool same_end(const struct sockaddr_storage *a,
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

size_t txn_cli_fail_peer(struct txn_layer *l, const struct peer *to)
{
	size_t n = 0;

	for (size_t i = 0; i < l->cli.cap; i++) {
		struct txn *t;

		/* cli_fail() unlinks it: walk the chain again. */
	again:
		for (t = l->cli.b[i]; t; t = t->hnext) {
			if (!peer_proto_is_stream(t->peer.proto) ||
			    (t->state != TXN_CALLING &&
			     t->state != TXN_TRYING) ||
			    !same_end(&t->peer.addr, &to->addr))
				continue;
			cli_fail(t, 503);
			n++;
			goto again;
		}
	}
	return n;
}

/* Timer B or F, or no final after CANCEL: fail with 408. */
static void cli_timeout(struct timer *tm)
{
	cli_fail(caa_container_of(tm, struct txn, tt), 408);
}

int txn_cli_new(struct txn_layer *l, struct txn *parent, enum sip_method method,
		const struct peer *to, struct slice branch, const char *buf,
		size_t len, unsigned tag, txn_cli_fn *fn, void *arg,
		struct txn **ctp)
{
	struct txn *t;
	int err;

	if (!branch.len || branch.len >= TXN_BRANCH_MAX || !len ||
	    method == SIP_ACK)
		return -EINVAL;
	t = obj_new(sizeof(*t), txn_dtor);
	if (!t)
		return -ENOMEM;
	t->req = malloc(len);
	if (!t->req) {
		obj_put(t);
		return -ENOMEM;
	}
	t->l = l;
	t->method = method;
	t->invite = method == SIP_INVITE;
	t->reliable = to->proto != PEER_UDP;
	t->state = t->invite ? TXN_CALLING : TXN_TRYING;
	t->tag = tag;
	t->fn = fn;
	t->arg = arg;
	t->peer = *to;
	t->req_len = len;
	memcpy(t->req, buf, len);
	memcpy(t->bname, branch.p, branch.len);
	t->branch = slice_make(t->bname, branch.len);
	t->hash = hash_slice(t->branch, 0);
	err = send_bytes(t, buf, len);
	if (err) {
		obj_put(t);
		return err;
	}
	if (parent)
		t->parent = obj_get(parent);
	if (!t->reliable) {
		t->interval = l->cfg.t1_ms;
		timer_start(l->w, &t->tr, t->interval, cli_timer_ae);
	}
	timer_start(l->w, &t->tt, t64(l), cli_timeout);
	table_add(&l->cli, t);
	l->created++;
	*ctp = t;
	return 0;
}

struct txn *txn_cli_find(struct txn_layer *l, const struct sipmsg *m)
{
	uint64_t h = hash_slice(m->via.branch, 0);
	enum sip_method method = m->cseq_method;
	struct txn *t;

	if (!m->via.branch.len)
		return NULL;
	for (t = l->cli.b[h & (l->cli.cap - 1)]; t; t = t->hnext)
		if (t->hash == h && t->method == method &&
		    slice_eq(t->branch, m->via.branch))
			return t;
	return NULL;
}

/*
 * Write the ACK (for a final 300-699, RFC 3261 §17.1.1.3) or the CANCEL
 * (§9.1) of INVITE client transaction @p t into the layer's scratch
 * buffer. The ACK takes To from @p rsp. Returns the length or -errno.
 */
static int build_ack_cancel(struct txn *t, enum sip_method method,
			    const struct sipmsg *rsp)
{
	struct txn_layer *l = t->l;
	const struct siphdr *h, *to;
	struct sipmsg m;
	struct slice name = sip_method_name(method);
	size_t o = 0;
	int n;

	memset(&m, 0, sizeof(m));
	if (sipmsg_parse(&m, t->req, t->req_len, l->scratch, l->cfg.max_headers,
			 0) < 0 ||
	    !m.via.value.len)
		return -EBADMSG;
	to = rsp ? sipmsg_hdr(rsp, HDR_TO) : sipmsg_hdr(&m, HDR_TO);
	if (!to)
		return -EBADMSG;
	n = snprintf(l->out, SCRATCH_OUT, "%.*s %.*s SIP/2.0\r\nVia: %.*s\r\n",
		     (int)name.len, name.p, (int)m.ruri.len, m.ruri.p,
		     (int)m.via.value.len, m.via.value.p);
	if (n < 0 || n >= SCRATCH_OUT)
		return -ENOSPC;
	o = (size_t)n;
	for (unsigned i = 0; i < m.nhdrs; i++) {
		h = &m.hdrs[i];
		if (h->id != HDR_ROUTE && h->id != HDR_FROM &&
		    h->id != HDR_CALL_ID)
			continue;
		if (o + h->line.len + 2 >= SCRATCH_OUT)
			return -ENOSPC;
		memcpy(l->out + o, h->line.p, h->line.len);
		o += h->line.len;
	}
	if (o + to->line.len >= SCRATCH_OUT)
		return -ENOSPC;
	memcpy(l->out + o, to->line.p, to->line.len);
	o += to->line.len;
	n = snprintf(l->out + o, SCRATCH_OUT - o,
		     "CSeq: %u %.*s\r\nMax-Forwards: 70\r\n"
		     "Content-Length: 0\r\n\r\n",
		     (unsigned)m.cseq, (int)name.len, name.p);
	if (n < 0 || (size_t)n >= SCRATCH_OUT - o)
		return -ENOSPC;
	return (int)(o + (size_t)n);
}

/* The ACK of a final 300-699: built from the request the first time and
 * kept (the request copy is dropped then), the kept one for a
 * retransmitted final, whose To is the same (RFC 3261 §17.1.1.2). */
static void send_ack(struct txn *t, const struct sipmsg *rsp)
{
	int n;

	if (!t->req) {
		if (t->rsp_len)
			send_bytes(t, t->rsp, t->rsp_len);
		return;
	}
	n = build_ack_cancel(t, SIP_ACK, rsp);
	if (n <= 0)
		return;
	send_bytes(t, t->l->out, (size_t)n);
	/* Out of memory: keep the request and build it again. */
	if (!keep_rsp(t, t->l->out, (size_t)n))
		drop_req(t);
}

static int send_cancel(struct txn *t)
{
	struct txn *c;
	int n;

	t->cancel_pending = false;
	n = build_ack_cancel(t, SIP_CANCEL, NULL);
	if (n < 0)
		return n;
	/* RFC 3261 §9.1: if no final comes for the INVITE within 64*T1
	 * of the CANCEL, it is over. */
	timer_start(t->l->w, &t->tt, t64(t->l), cli_timeout);
	return txn_cli_new(t->l, NULL, SIP_CANCEL, &t->peer, t->branch,
			   t->l->out, (size_t)n, 0, NULL, NULL, &c);
}

int txn_cli_cancel(struct txn *ct)
{
	if (!ct->invite || ct->cancelled || !ct->in_table)
		return 0;
	if (ct->state == TXN_CALLING) {
		ct->cancelled = true;
		ct->cancel_pending = true;
		return 0;
	}
	if (ct->state != TXN_PROCEEDING)
		return 0;
	ct->cancelled = true;
	return send_cancel(ct);
}

static void pass_up(struct txn *t, const struct sipmsg *m)
{
	if (t->fn)
		t->fn(t, m, m->status, t->arg);
}

static void cli_receive(struct txn *ct, const struct sipmsg *m);

void txn_cli_receive(struct txn *ct, const struct sipmsg *m)
{
	/* The user may drop its own references while it is told. */
	obj_get(ct);
	cli_receive(ct, m);
	obj_put(ct);
}

static void cli_receive(struct txn *ct, const struct sipmsg *m)
{
	struct txn_layer *l = ct->l;
	unsigned st = m->status;

	if (st < 100 || st > 699)
		return;
	if (ct->state == TXN_TERMINATED)
		return;
	if (!ct->invite) {
		if (ct->state == TXN_COMPLETED)
			return;
		ct->status = st;
		if (st < 200) {
			set_state(ct, TXN_PROCEEDING);
			pass_up(ct, m);
			return;
		}
		set_state(ct, TXN_COMPLETED);
		timer_stop(l->w, &ct->tr);
		timer_stop(l->w, &ct->tt);
		drop_req(ct); /* it only absorbs retransmissions now */
		pass_up(ct, m);
		if (ct->reliable)
			terminate(ct); /* Timer K = 0 */
		else if (ct->in_table)
			timer_start(l->w, &ct->tt, l->cfg.t4_ms, timeout_end);
		return;
	}
	if (st < 200) {
		if (ct->state == TXN_CALLING) {
			set_state(ct, TXN_PROCEEDING);
			timer_stop(l->w, &ct->tr);
			timer_stop(l->w, &ct->tt);
			ct->status = st;
			if (ct->cancel_pending)
				send_cancel(ct);
		} else if (ct->state != TXN_PROCEEDING) {
			return;
		}
		ct->status = st;
		pass_up(ct, m);
		return;
	}
	if (st < 300) {
		if (ct->state == TXN_CALLING || ct->state == TXN_PROCEEDING) {
			/* RFC 6026 §7.2: Accepted, Timer M. */
			set_state(ct, TXN_ACCEPTED);
			ct->cancel_pending = false;
			timer_stop(l->w, &ct->tr);
			/* No CANCEL now (§9.1), and no ACK: the UAC's. */
			drop_req(ct);
			timer_start(l->w, &ct->tt, t64(l), timeout_end);
		} else if (ct->state != TXN_ACCEPTED) {
			return;
		}
		ct->status = st;
		pass_up(ct, m);
		return;
	}
	if (ct->state == TXN_COMPLETED) {
		send_ack(ct, m); /* a retransmitted final */
		return;
	}
	if (ct->state != TXN_CALLING && ct->state != TXN_PROCEEDING)
		return;
	set_state(ct, TXN_COMPLETED);
	ct->status = st;
	ct->cancel_pending = false;
	timer_stop(l->w, &ct->tr);
	send_ack(ct, m);
	pass_up(ct, m);
	if (ct->reliable)
		terminate(ct); /* Timer D = 0 */
	else if (ct->in_table)
		timer_start(l->w, &ct->tt, t64(l), timeout_end); /* D */
}
