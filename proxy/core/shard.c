/* proxy/core/shard.c - SIP worker threads: loops, inboxes and Call-ID hand-off
 */
#include "proxy/core/shard.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>

#include <urcu/urcu-memb.h>
#include <urcu/wfcqueue.h>
#include <uv.h>

#include "proxy/base/arena.h"
#include "proxy/base/err.h"
#include "proxy/base/hash.h"
#include "proxy/base/log.h"
#include "proxy/base/slice.h"
#include "proxy/base/stats.h"
#include "proxy/core/conf.h"
#include "proxy/core/shard_priv.h"
#include "proxy/core/guard.h"
#include "proxy/core/steer.h"
#include "proxy/core/steer_scan.h"
#include "proxy/sip/msg.h"
#include "proxy/sip/peer.h"
#include "proxy/core/tcp.h"
#include "proxy/core/tls.h"
#include "proxy/sip/txn.h"
#include "proxy/core/udp.h"
#include "store/alias.h"

#define ARENA_CHUNK (64 * 1024)

/*
 * The owner hash's seed: random per process, so that nobody outside
 * can pick Call-IDs that all land on one shard; fixed for the life of
 * the process, so that every shard (and every test) agrees.
 */
static uint64_t owner_seed;
static pthread_once_t owner_once = PTHREAD_ONCE_INIT;

static void owner_seed_init(void)
{
	uint64_t seed = 0;
	struct timespec ts;

	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(seed)) {
		/* No entropy yet (early boot): still differs per run. */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		seed = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^
		       (uint64_t)ts.tv_sec << 20 ^ (uint64_t)getpid();
	}
	owner_seed = seed;
}

/* shards_add_hook(): filled while no shard runs, read by the shards. */
struct hook_pair {
	shard_hook_fn *start, *stop;
	void *arg;
};

static struct hook_pair hooks[SHARDS_HOOK_MAX];
static unsigned nhooks;

int shards_add_hook(shard_hook_fn *start, shard_hook_fn *stop, void *arg)
{
	if (!start && !stop)
		return -EINVAL;
	if (nhooks == SHARDS_HOOK_MAX)
		return -ENOSPC;
	hooks[nhooks].start = start;
	hooks[nhooks].stop = stop;
	hooks[nhooks].arg = arg;
	nhooks++;
	return 0;
}

void shards_clear_hooks(void)
{
	memset(hooks, 0, sizeof(hooks));
	nhooks = 0;
}

/* The start hooks in the order added. */
static void hooks_start(struct shard *sh)
{
	for (unsigned i = 0; i < nhooks; i++)
		if (hooks[i].start)
			hooks[i].start(sh->id, &sh->loop, hooks[i].arg);
}

/* The stop hooks in the reverse order. */
static void hooks_stop(struct shard *sh)
{
	for (unsigned i = nhooks; i-- > 0;)
		if (hooks[i].stop)
			hooks[i].stop(sh->id, &sh->loop, hooks[i].arg);
}

/*
 * The hash is the one the kernel steering program computes over the
 * datagram (steer_scan.h: FNV-1a over at most STEER_KEY_MAX bytes, one
 * byte per step, then a mix), so that both pick the same shard.
 */
unsigned shard_owner(struct slice key, unsigned nshards)
{
	size_t n = key.len < STEER_KEY_MAX ? key.len : STEER_KEY_MAX;
	uint64_t h;

	pthread_once(&owner_once, owner_seed_init);
	h = steer_hash_init(owner_seed);
	for (size_t i = 0; i < n; i++)
		h = steer_hash_step(h, (unsigned char)key.p[i]);
	return (unsigned)(steer_hash_final(h) % nshards);
}

uint64_t shard_owner_seed(void)
{
	pthread_once(&owner_once, owner_seed_init);
	return owner_seed;
}

unsigned shards_count(const struct shards *s)
{
	return s ? s->n : 0;
}

unsigned shard_id(const struct shard *sh)
{
	return sh->id;
}

const struct conf *shard_conf(const struct shard *sh)
{
	return sh->conf;
}

struct arena *shard_arena(struct shard *sh)
{
	return sh->arena;
}

int shard_parse(struct shard *sh, const struct peer *from, const char *buf,
		size_t len, struct sipmsg *m, int *parsedp)
{
	const struct conf *c = shard_conf(sh);
	unsigned max = c->max_headers ? c->max_headers : 128;
	struct siphdr *hdrs = arena_alloc(sh->arena, max * sizeof(*hdrs));

	if (!hdrs)
		return -ENOMEM;
	memset(m, 0, sizeof(*m));
	*parsedp = sipmsg_parse(m, buf, len, hdrs, max,
				peer_proto_is_stream(from->proto) &&
					!peer_proto_is_ws(from->proto)
				    ? SIPMSG_STREAM
				    : 0);
	if (*parsedp < 0)
		shard__count(&sh->stats.parse_errors, 1);
	return 0;
}

struct shard_stats *shard_stats(struct shard *sh)
{
	return &sh->stats;
}

void *shard_role_state(struct shard *sh)
{
	return sh->role_state;
}

void shards_stats(const struct shards *s, unsigned i, struct shard_stats *out)
{
	const struct shard_stats *st;

	memset(out, 0, sizeof(*out));
	if (!s || i >= s->n)
		return;
	st = &s->sh[i].stats;
	out->rx_msgs = __atomic_load_n(&st->rx_msgs, __ATOMIC_RELAXED);
	out->tx_msgs = __atomic_load_n(&st->tx_msgs, __ATOMIC_RELAXED);
	out->parse_errors =
	    __atomic_load_n(&st->parse_errors, __ATOMIC_RELAXED);
	out->handoff_out = __atomic_load_n(&st->handoff_out, __ATOMIC_RELAXED);
	out->handoff_in = __atomic_load_n(&st->handoff_in, __ATOMIC_RELAXED);
	out->dropped = __atomic_load_n(&st->dropped, __ATOMIC_RELAXED);
	out->tcp_accepted =
	    __atomic_load_n(&st->tcp_accepted, __ATOMIC_RELAXED);
	out->tcp_closed = __atomic_load_n(&st->tcp_closed, __ATOMIC_RELAXED);
	out->overloaded = __atomic_load_n(&st->overloaded, __ATOMIC_RELAXED);
	out->tls_handshakes =
	    __atomic_load_n(&st->tls_handshakes, __ATOMIC_RELAXED);
	out->tls_failed = __atomic_load_n(&st->tls_failed, __ATOMIC_RELAXED);
	out->ws_upgrades = __atomic_load_n(&st->ws_upgrades, __ATOMIC_RELAXED);
	out->ws_refused = __atomic_load_n(&st->ws_refused, __ATOMIC_RELAXED);
	out->ws_bad_frames =
	    __atomic_load_n(&st->ws_bad_frames, __ATOMIC_RELAXED);
	out->wake_sent = __atomic_load_n(&st->wake_sent, __ATOMIC_RELAXED);
	out->wake_skipped =
	    __atomic_load_n(&st->wake_skipped, __ATOMIC_RELAXED);
	for (unsigned k = 0; k < SIP_METHOD__COUNT; k++)
		out->requests[k] =
		    __atomic_load_n(&st->requests[k], __ATOMIC_RELAXED);
	for (unsigned k = 0; k < 6; k++) {
		out->rsp_in[k] =
		    __atomic_load_n(&st->rsp_in[k], __ATOMIC_RELAXED);
		out->rsp_out[k] =
		    __atomic_load_n(&st->rsp_out[k], __ATOMIC_RELAXED);
	}
	out->txns = __atomic_load_n(&st->txns, __ATOMIC_RELAXED);
	out->txns_created =
	    __atomic_load_n(&st->txns_created, __ATOMIC_RELAXED);
	for (unsigned k = 0; k < TXN_HIST__COUNT; k++)
		stats_hist_add(&out->hist[k], &st->hist[k]);
	out->inbox =
	    atomic_load_explicit(&s->sh[i].inbox_len, memory_order_relaxed);
	out->steering = s->steering;
	for (unsigned g = 0; s->steer && g < s->nlisten; g++)
		out->steered += steer_read_shard(s->steer[g], i);
	out->tcp_open = out->tcp_accepted >= out->tcp_closed
			    ? out->tcp_accepted - out->tcp_closed
			    : 0;
}

/* The role, then forget the message's arena allocations. */
static void handle(struct shard *sh, const struct peer *from, const char *buf,
		   size_t len)
{
	sh->active = true;
	sh->set->role->handle(sh, from, buf, len);
	arena_reset(sh->arena);
}

static struct shard_item *item_new(enum shard_item_kind kind,
				   const struct peer *peer, const void *buf,
				   size_t len)
{
	struct shard_item *it = malloc(sizeof(*it) + len);

	if (!it)
		return NULL;
	cds_wfcq_node_init(&it->node);
	it->kind = kind;
	if (peer)
		it->peer = *peer;
	else
		memset(&it->peer, 0, sizeof(it->peer));
	it->fn = NULL;
	it->arg = NULL;
	it->len = len;
	if (len)
		memcpy(it->data, buf, len);
	return it;
}

static size_t item_size(size_t len)
{
	return sizeof(struct shard_item) + len;
}

/*
 * Take room for one item of @p len bytes in @p o's inbox: false when it
 * holds overload.max_inbox items or SHARD_INBOX_MAX_BYTES already. Room
 * is taken before it is checked, so that shards posting at once cannot
 * pass the limits together.
 */
static bool inbox_reserve(struct shard *o, size_t len)
{
	/* @p o's own thread may switch its config (a reload). */
	const struct conf *c = __atomic_load_n(&o->conf, __ATOMIC_ACQUIRE);
	unsigned max = c->overload.max_inbox;
	size_t size = item_size(len);

	if (atomic_fetch_add_explicit(&o->inbox_len, 1, memory_order_relaxed) >=
		max &&
	    max) {
		atomic_fetch_sub_explicit(&o->inbox_len, 1,
					  memory_order_relaxed);
		return false;
	}
	if (atomic_fetch_add_explicit(&o->inbox_bytes, size,
				      memory_order_relaxed) +
		size >
	    SHARD_INBOX_MAX_BYTES) {
		atomic_fetch_sub_explicit(&o->inbox_bytes, size,
					  memory_order_relaxed);
		atomic_fetch_sub_explicit(&o->inbox_len, 1,
					  memory_order_relaxed);
		return false;
	}
	return true;
}

/* Give back what inbox_reserve() took for an item of @p len bytes. */
static void inbox_release(struct shard *o, size_t len)
{
	atomic_fetch_sub_explicit(&o->inbox_bytes, item_size(len),
				  memory_order_relaxed);
	atomic_fetch_sub_explicit(&o->inbox_len, 1, memory_order_relaxed);
}

/*
 * Queue @it, for which inbox_reserve() took room, for shard @owner; its
 * wake-up waits for shard__flush().
 */
static void post(struct shard *sh, unsigned owner, struct shard_item *it)
{
	struct shard *o = &sh->set->sh[owner];

	cds_wfcq_enqueue(&o->inbox_head, &o->inbox_tail, &it->node);
	if (!sh->wake_mark[owner]) {
		sh->wake_mark[owner] = 1;
		sh->wake_list[sh->nwake++] = owner;
	}
}

void shard__receive(struct shard *sh, const struct peer *from, const char *buf,
		    size_t len)
{
	struct shard_item *it;
	struct slice cid;
	unsigned owner = sh->id;
	int n;

	shard__count(&sh->stats.rx_msgs, 1);
	/* security: a banned source, or one over its rate, is dropped
	 * before anything is parsed or handed off (guard.h). */
	if (sh->set->guard &&
	    !guard_admit(sh->conf, from, len,
			 !(len >= 4 && !strncasecmp(buf, "SIP/", 4))))
		return;
	tp__trace(sh, false, from, buf, len);
	/* A REGISTER is handled where it arrives: any shard may write any
	 * AOR's bindings (compare-and-swap, store/loc.h), and its
	 * retransmissions come from the same source, which the kernel's
	 * hash keeps on this socket. Everything else by Call-ID. No
	 * Call-ID: handled here, where it is answered 400 or dropped. */
	if (sh->set->n > 1 && len >= 9 && !memcmp(buf, "REGISTER ", 9))
		owner = sh->id;
	else if (sh->set->n > 1 && len >= 4 && !strncasecmp(buf, "SIP/", 4) &&
		 (n = txn_peek_branch_shard(buf, len)) >= 0 &&
		 (unsigned)n < sh->set->n)
		/* A response to a branch of ours: the shard that made it
		 * (proxy/sip/txn.h), even if the Call-ID was changed. */
		owner = (unsigned)n;
	else if (sh->set->n > 1 && sh->set->role->steer &&
		 (n = sh->set->role->steer(buf, len, sh->set->n)) >= 0 &&
		 (unsigned)n < sh->set->n)
		/* The role addresses its shards itself (the B2B pool). */
		owner = (unsigned)n;
	else if (sh->set->n > 1 && sipmsg_peek_call_id(buf, len, &cid) == 0)
		owner = shard_owner(cid, sh->set->n);
	if (owner == sh->id) {
		handle(sh, from, buf, len);
		return;
	}
	/* The owner is behind (overload.max_inbox items or
	 * SHARD_INBOX_MAX_BYTES queued): queue nothing more; requests get
	 * 503 from here, the rest is dropped (pipeline_reject() counts). */
	if (!inbox_reserve(&sh->set->sh[owner], len)) {
		sh->active = true;
		if (sh->set->role->reject)
			sh->set->role->reject(sh, from, buf, len);
		arena_reset(sh->arena);
		return;
	}
	it = item_new(SHARD_ITEM_MSG, from, buf, len);
	if (!it) {
		inbox_release(&sh->set->sh[owner], len);
		shard__count(&sh->stats.dropped, 1);
		if (log_ratelimit_ok(&sh->rl))
			log_msg(LOG_WARN, "shard %u: hand-off to %u: %s",
				sh->id, owner, err_str(-ENOMEM));
		return;
	}
	post(sh, owner, it);
	shard__count(&sh->stats.handoff_out, 1);
}

int shard__post_send(struct shard *sh, unsigned owner, const struct peer *to,
		     const void *buf, size_t len)
{
	struct shard_item *it;

	if (!inbox_reserve(&sh->set->sh[owner], len)) {
		shard__count(&sh->stats.dropped, 1);
		return -ENOBUFS;
	}
	it = item_new(SHARD_ITEM_SEND, to, buf, len);
	if (!it) {
		inbox_release(&sh->set->sh[owner], len);
		return -ENOMEM;
	}
	post(sh, owner, it);
	return 0;
}

static void conn_failed_cb(struct shard *sh, void *arg)
{
	if (sh && sh->set->role->conn_failed) {
		sh->active = true;
		sh->set->role->conn_failed(sh, arg);
	}
	free(arg);
}

void shard__conn_failed(struct shard *sh, const struct peer *to)
{
	const struct shard_role *role = sh->set->role;

	if (!role->conn_failed)
		return;
	for (unsigned i = 0; i < sh->set->n; i++) {
		struct peer *p;

		if (i == sh->id) {
			sh->active = true;
			role->conn_failed(sh, to);
			continue;
		}
		/* Best effort: a full inbox leaves Timer B to end it. */
		p = malloc(sizeof(*p));
		if (!p)
			continue;
		*p = *to;
		if (shard_post(sh->set, i, conn_failed_cb, p))
			free(p);
	}
}

int shard_post(struct shards *s, unsigned id, shard_post_fn *fn, void *arg)
{
	struct shard_item *it;
	struct shard *o;

	if (!s || id >= s->n || !fn)
		return -EINVAL;
	o = &s->sh[id];
	if (!inbox_reserve(o, 0))
		return -ENOBUFS;
	it = item_new(SHARD_ITEM_POST, NULL, NULL, 0);
	if (!it) {
		inbox_release(o, 0);
		return -ENOMEM;
	}
	it->fn = fn;
	it->arg = arg;
	/* Any thread: no batching of wake-ups (shard__flush() is the
	 * shards' own), so wake the owner now. */
	cds_wfcq_enqueue(&o->inbox_head, &o->inbox_tail, &it->node);
	uv_async_send(&o->async);
	return 0;
}

/* One shards_set_conf(): the shards count down to the last. */
struct conf_swap {
	const struct conf *c;
	atomic_uint left;
	atomic_bool stopped;
	shards_conf_done_fn *done;
	void *arg;
};

static void swap_conf(struct shard *sh, struct conf_swap *w)
{
	if (sh) {
		__atomic_store_n(&sh->conf, w->c, __ATOMIC_RELEASE);
		if (sh->set->role->conf_changed)
			sh->set->role->conf_changed(sh, w->c);
	} else {
		atomic_store_explicit(&w->stopped, true, memory_order_relaxed);
	}
	if (atomic_fetch_sub_explicit(&w->left, 1, memory_order_acq_rel) == 1) {
		w->done(w->arg,
			atomic_load_explicit(&w->stopped, memory_order_relaxed)
			    ? -ESHUTDOWN
			    : 0);
		free(w);
	}
}

static void swap_conf_cb(struct shard *sh, void *arg)
{
	swap_conf(sh, arg);
}

int shards_set_conf(struct shards *s, const struct conf *c,
		    shards_conf_done_fn *done, void *arg)
{
	struct shard_item **its = NULL;
	struct conf_swap *w = NULL;
	int err = -ENOMEM;

	if (!s || !c || !done || !s->n)
		return -EINVAL;
	/* Everything first: either every shard gets its item or none. */
	w = calloc(1, sizeof(*w));
	its = calloc(s->n, sizeof(*its));
	if (!w || !its)
		goto out;
	for (unsigned i = 0; i < s->n; i++) {
		its[i] = item_new(SHARD_ITEM_POST, NULL, NULL, 0);
		if (!its[i])
			goto out;
		its[i]->fn = swap_conf_cb;
		its[i]->arg = w;
	}
	w->c = c;
	atomic_init(&w->left, s->n);
	atomic_init(&w->stopped, false);
	w->done = done;
	w->arg = arg;
	s->conf = c;
	for (unsigned i = 0; i < s->n; i++) {
		struct shard *o = &s->sh[i];

		/* Counted (drain() releases it) but never refused. */
		atomic_fetch_add_explicit(&o->inbox_len, 1,
					  memory_order_relaxed);
		atomic_fetch_add_explicit(&o->inbox_bytes, item_size(0),
					  memory_order_relaxed);
		cds_wfcq_enqueue(&o->inbox_head, &o->inbox_tail, &its[i]->node);
		its[i] = NULL;
		uv_async_send(&o->async);
	}
	w = NULL;
	err = 0;
out:
	if (its)
		for (unsigned i = 0; i < s->n; i++)
			free(its[i]);
	free(its);
	free(w);
	return err;
}

void shard__flush(struct shard *sh)
{
	udp_flush(sh->udp);
	if (!sh->nwake)
		return;
	/* Our enqueues (post()) before the owners' idle flags: an owner
	 * stores idle, fences, then looks at its inbox (prepare_cb()), so
	 * one of the two sees the other. */
	atomic_thread_fence(memory_order_seq_cst);
	for (unsigned i = 0; i < sh->nwake; i++) {
		unsigned o = sh->wake_list[i];
		struct shard *os = &sh->set->sh[o];

		sh->wake_mark[o] = 0;
		/* Awake: it drains its inbox before it sleeps. No eventfd
		 * write, and no wake-up to read it. */
		if (!atomic_load_explicit(&os->idle, memory_order_relaxed)) {
			shard__count(&sh->stats.wake_skipped, 1);
			continue;
		}
		/* The only libuv call made on another shard's handle. */
		uv_async_send(&os->async);
		shard__count(&sh->stats.wake_sent, 1);
	}
	sh->nwake = 0;
}

static void run_item(struct shard *sh, struct shard_item *it)
{
	int err;

	switch (it->kind) {
	case SHARD_ITEM_MSG:
		shard__count(&sh->stats.handoff_in, 1);
		handle(sh, &it->peer, it->data, it->len);
		break;
	case SHARD_ITEM_SEND:
		tp__trace(sh, true, &it->peer, it->data, it->len);
		err = tcp_send(sh->tcp, it->peer.conn_id, it->data, it->len);
		if (err) {
			shard__count(&sh->stats.dropped, 1);
			log_msg(LOG_DEBUG,
				"shard %u: send on connection %" PRIx64 ": %s",
				sh->id, it->peer.conn_id, err_str(err));
		}
		break;
	case SHARD_ITEM_POST:
		sh->active = true;
		it->fn(sh, it->arg);
		break;
	}
}

/*
 * Run (or, with @run false, only free; a posted function is then told
 * with a NULL shard) the items of the inbox, at most
 * @p max of them; items enqueued meanwhile count too. *stopp is set
 * when the stop request was among them. Returns true when items are
 * left.
 */
static bool drain(struct shard *sh, bool run, unsigned max, bool *stopp)
{
	struct cds_wfcq_node *node;
	unsigned n;

	for (n = 0; n < max; n++) {
		struct shard_item *it;

		/* Only this shard dequeues: no lock needed. */
		node = __cds_wfcq_dequeue_blocking(&sh->inbox_head,
						   &sh->inbox_tail);
		if (!node)
			return false;
		if (node == &sh->stop_node) {
			*stopp = true;
			continue;
		}
		it = caa_container_of(node, struct shard_item, node);
		inbox_release(sh, it->len);
		if (run)
			run_item(sh, it);
		else if (it->kind == SHARD_ITEM_POST)
			it->fn(NULL, it->arg); /* shard_post(): exactly once */
		free(it);
	}
	return !cds_wfcq_empty(&sh->inbox_head, &sh->inbox_tail);
}

/* Close every handle of the shard; the loop then runs out. Idempotent. */
static void close_handles(struct shard *sh)
{
	udp_close(sh->udp);
	tcp_close(sh->tcp);
	if (sh->tick_init && !uv_is_closing((uv_handle_t *)&sh->tick))
		uv_close((uv_handle_t *)&sh->tick, NULL);
	if (sh->prepare_init && !uv_is_closing((uv_handle_t *)&sh->prepare))
		uv_close((uv_handle_t *)&sh->prepare, NULL);
	if (sh->check_init && !uv_is_closing((uv_handle_t *)&sh->check))
		uv_close((uv_handle_t *)&sh->check, NULL);
	if (sh->async_init && !uv_is_closing((uv_handle_t *)&sh->async))
		uv_close((uv_handle_t *)&sh->async, NULL);
}

/* One batch of the inbox, and the stop request if it was among them. */
static void inbox_run(struct shard *sh)
{
	bool stop = false;

	sh->batch_ran = true;
	drain(sh, true, SHARD_BATCH_MAX, &stop);
	if (stop && !sh->stopping) {
		shard__flush(sh);
		sh->stopping = true;
		if (sh->set->role->stopping)
			sh->set->role->stopping(sh, sh->role_state);
		if (sh->set->run_hooks)
			hooks_stop(sh);
		close_handles(sh);
	}
}

/* A wake-up: one batch; what is left waits for the next turn, after the
 * shard's sockets (prepare_cb()); what it queued goes out from
 * check_cb(). */
static void inbox_cb(uv_async_t *h)
{
	struct shard *sh = h->data;

	atomic_store_explicit(&sh->idle, false, memory_order_relaxed);
	inbox_run(sh);
}

static void tick_cb(uv_timer_t *h);

void shard_tick_at(struct shard *sh, uint64_t at_ms)
{
	uint64_t now;

	if (!sh->tick_init || !sh->set->role->tick || sh->stopping ||
	    at_ms >= sh->tick_at)
		return;
	now = uv_now(&sh->loop);
	sh->tick_at = at_ms;
	/* Fails only without a callback or on a closing handle. */
	(void)uv_timer_start(&sh->tick, tick_cb, at_ms > now ? at_ms - now : 0,
			     0);
}

/* What the turn handled: the role's tick follows within tick_ms. */
static void follow_up(struct shard *sh)
{
	if (!sh->active)
		return;
	sh->active = false;
	shard_tick_at(sh, uv_now(&sh->loop) + sh->set->role->tick_ms);
}

/*
 * The end of a turn, before the loop may sleep in epoll_wait: what
 * timers and callbacks queued goes out (one sendmmsg, one wake-up per
 * owner), then the shard marks itself idle and looks at its inbox once
 * more, so that items handed in while it was awake need no wake-up
 * (shard__flush() skips the eventfd write for a shard that is not
 * idle). It runs one batch of them here when the turn ran none; past
 * that it wakes itself, so that its sockets are served between batches.
 */
static void prepare_turn(struct shard *sh)
{
	for (;;) {
		shard__flush(sh);
		if (sh->stopping)
			return;
		atomic_store_explicit(&sh->idle, true, memory_order_seq_cst);
		atomic_thread_fence(memory_order_seq_cst);
		if (cds_wfcq_empty(&sh->inbox_head, &sh->inbox_tail)) {
			sh->batch_ran = false;
			return;
		}
		atomic_store_explicit(&sh->idle, false, memory_order_relaxed);
		if (sh->batch_ran) {
			sh->batch_ran = false;
			uv_async_send(&sh->async);
			return;
		}
		inbox_run(sh);
	}
}

static void prepare_cb(uv_prepare_t *h)
{
	struct shard *sh = h->data;

	prepare_turn(sh);
	follow_up(sh);
}

/* After the I/O callbacks of a turn: what they queued, in one go. */
static void check_cb(uv_check_t *h)
{
	shard__flush(h->data);
}

/* The core's timers (transactions, Timer C); prepare_cb() sends what
 * they queued. One shot, re-armed to when the role next needs it: an
 * idle shard sleeps (issue #14). */
static void tick_cb(uv_timer_t *h)
{
	struct shard *sh = h->data;
	uint64_t next;

	atomic_store_explicit(&sh->idle, false, memory_order_relaxed);
	sh->tick_at = UINT64_MAX;
	next = sh->set->role->tick(sh, uv_now(&sh->loop));
	if (next != SHARD_TICK_NONE)
		shard_tick_at(sh, next);
}

struct uv_loop_s *shard_loop(struct shard *sh)
{
	return &sh->loop;
}

static void *shard_main(void *arg)
{
	struct shard *sh = arg;
	char name[16];

	snprintf(name, sizeof(name), "%.11s%u", sh->set->name, sh->id);
	pthread_setname_np(pthread_self(), name);
	urcu_memb_register_thread();
	if (sh->set->run_hooks)
		hooks_start(sh);
	uv_run(&sh->loop, UV_RUN_DEFAULT);
	urcu_memb_unregister_thread();
	return NULL;
}

static int shard_init(struct shard *sh, struct shards *s, unsigned id)
{
	const char *what = "memory";
	int err = -ENOMEM;

	sh->set = s;
	sh->conf = s->conf;
	sh->id = id;
	sh->rl.burst = 10;
	__cds_wfcq_init(&sh->inbox_head, &sh->inbox_tail);
	atomic_init(&sh->inbox_len, 0);
	atomic_init(&sh->inbox_bytes, 0);
	atomic_init(&sh->idle, true);
	cds_wfcq_node_init(&sh->stop_node);
	sh->arena = arena_new(ARENA_CHUNK);
	sh->wake_mark = calloc(s->n, sizeof(*sh->wake_mark));
	sh->wake_list = calloc(s->n, sizeof(*sh->wake_list));
	if (!sh->arena || !sh->wake_mark || !sh->wake_list)
		goto out;
	what = "loop";
	err = uv_loop_init(&sh->loop);
	if (err)
		goto out;
	sh->loop_init = true;
	err = uv_async_init(&sh->loop, &sh->async, inbox_cb);
	if (err)
		goto out;
	sh->async.data = sh;
	sh->async_init = true;
	err = uv_prepare_init(&sh->loop, &sh->prepare);
	if (err)
		goto out;
	sh->prepare.data = sh;
	sh->prepare_init = true;
	err = uv_prepare_start(&sh->prepare, prepare_cb);
	if (err)
		goto out;
	err = uv_check_init(&sh->loop, &sh->check);
	if (err)
		goto out;
	sh->check.data = sh;
	sh->check_init = true;
	err = uv_check_start(&sh->check, check_cb);
	if (err)
		goto out;
	/* Before the role's state: its new_state may arm the tick. */
	what = "timer";
	err = uv_timer_init(&sh->loop, &sh->tick);
	if (err)
		goto out;
	sh->tick.data = sh;
	sh->tick_init = true;
	sh->tick_at = UINT64_MAX;
	what = s->role->name;
	err = s->role->new_state(sh, uv_now(&sh->loop), &sh->role_state);
	if (err)
		goto out;
	/* The first tick: the role says then when it wants the next. */
	shard_tick_at(sh, uv_now(&sh->loop) +
			      (s->role->tick ? s->role->tick_ms : 0));
	/* udp_open() and tcp_open() log the address that failed. */
	what = NULL;
	err = udp_open(sh, &sh->udp);
	if (err)
		goto out;
	err = tcp_open(sh, &sh->tcp);
	if (err)
		goto out;
	what = "poll";
	err = udp_start(sh->udp);
	if (err)
		goto out;
	what = "listen";
	err = tcp_start(sh->tcp);
out:
	if (err && what)
		log_msg(LOG_ERR, "%s %u: %s: %s", s->name, id, what,
			err_str(err));
	return err;
}

static void leftover_cb(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h)) {
		log_msg(LOG_WARN, "shard: closing a leftover %s handle",
			uv_handle_type_name(uv_handle_get_type(h)));
		uv_close(h, NULL);
	}
}

/* Tear down a shard whose thread has ended (or never ran). */
static void shard_fini(struct shard *sh)
{
	int err;

	if (sh->loop_init) {
		close_handles(sh);
		uv_walk(&sh->loop, leftover_cb, NULL);
		/* Runs the close callbacks; nothing active is left. */
		uv_run(&sh->loop, UV_RUN_DEFAULT);
		err = uv_loop_close(&sh->loop);
		if (err)
			log_msg(LOG_ERR, "shard %u: loop close: %s", sh->id,
				err_str(err));
	}
	/* Each pass frees up to SHARD_BATCH_MAX; nothing enqueues now. */
	for (bool stop = false; drain(sh, false, SHARD_BATCH_MAX, &stop);)
		;
	/* Transactions hold no handle: freed once the threads are gone. */
	if (sh->set->role)
		sh->set->role->free_state(sh->role_state);
	sh->role_state = NULL;
	udp_free(sh->udp);
	tcp_free(sh->tcp);
	arena_free(sh->arena);
	free(sh->wake_mark);
	free(sh->wake_list);
}

/* The registry's view of the shards' counters (proxy/base/stats.h):
 * STATS_PLAIN items, then the families, in the order stats_read() fills
 * them. */
enum {
	STATS_PLAIN = 22,
	STATS_REQ = STATS_PLAIN,		      /* SIP_METHOD__COUNT */
	STATS_RSP_IN = STATS_REQ + SIP_METHOD__COUNT, /* 6 classes */
	STATS_RSP_OUT = STATS_RSP_IN + 6,	      /* 6 classes */
	STATS_NITEMS = STATS_RSP_OUT + 6,
};

/* The plain items; stats_fill() writes the families after them. */
static struct stats_item stats_items[STATS_NITEMS] = {
	{ "rx_msgs", "messages received from the network", false },
	{ "tx_msgs", "messages sent", false },
	{ "parse_errors", "messages rejected or dropped as malformed", false },
	{ "handoff_out", "messages handed to another shard", false },
	{ "handoff_in", "messages handed in by another shard", false },
	{ "dropped", "stray responses, ACKs to nobody and the like", false },
	{ "tcp_accepted", "TCP connections accepted", false },
	{ "tcp_closed", "TCP connections closed", false },
	{ "overloaded", "requests answered 503 for overload", false },
	{ "transactions",
	  "transactions held, server and client: live and completed", true },
	{ "inbox", "items waiting in the shard's inbox", true },
	{ "tcp_open", "TCP connections open", true },
	{ "transactions_created", "transactions made, server and client",
	  false },
	{ "tls_handshakes", "TLS handshakes done, accepted and opened", false },
	{ "tls_failed", "TLS handshakes refused, failed or timed out", false },
	{ "ws_upgrades", "WebSocket upgrades accepted (101)", false },
	{ "ws_refused", "WebSocket upgrades refused or not done in time",
	  false },
	{ "ws_bad_frames",
	  "WebSockets closed for a bad frame (unmasked, too big, ...)", false },
	{ "steering",
	  "1: the kernel program (udp.steering) picks the UDP datagrams' "
	  "shard; 0: the hand-off alone",
	  true },
	{ "steered", "UDP datagrams the kernel program gave to this shard",
	  false },
	{ "wakeups", "wake-ups sent to other shards for hand-offs", false },
	{ "wakeups_skipped",
	  "hand-offs to a shard that was awake: no wake-up sent", false },
};

/* Index STATS_REQ + k is method k of enum sip_method, and so on. */
static struct stats_label stats_labels[STATS_NITEMS];

/* The "method" label values: sip_method_name() as C strings. */
static char stats_methods[SIP_METHOD__COUNT][16];

static const char *const stats_classes[6] = { "1xx", "2xx", "3xx",
					      "4xx", "5xx", "6xx" };

static pthread_once_t stats_once = PTHREAD_ONCE_INIT;

/* One family: @p n items from @p at, one name and help, label values
 * @p values. */
static void family(unsigned at, unsigned n, const char *name, const char *help,
		   const char *label, const char *const *values)
{
	for (unsigned k = 0; k < n; k++) {
		stats_items[at + k] = (struct stats_item){ name, help, false };
		stats_labels[at + k] = (struct stats_label){ label, values[k] };
	}
}

/* Fill the families once, before the first stats_add() (pthread_once:
 * the proxy's shards and the B2B pool both start a group). */
static void stats_fill(void)
{
	const char *methods[SIP_METHOD__COUNT];

	for (unsigned k = 0; k < SIP_METHOD__COUNT; k++) {
		struct slice m = sip_method_name((enum sip_method)k);

		assert(m.len < sizeof(stats_methods[k]));
		if (!m.len)
			m = SLICE_LIT("other");
		memcpy(stats_methods[k], m.p, m.len);
		stats_methods[k][m.len] = '\0';
		methods[k] = stats_methods[k];
	}
	family(STATS_REQ, SIP_METHOD__COUNT, "requests",
	       "SIP requests received, by method", "method", methods);
	family(STATS_RSP_IN, 6, "responses_received",
	       "SIP responses received, by status class", "class",
	       stats_classes);
	family(STATS_RSP_OUT, 6, "responses_sent",
	       "SIP responses sent, by status class, retransmissions included",
	       "class", stats_classes);
}

static const struct stats_item stats_hists[TXN_HIST__COUNT] = {
	[TXN_HIST_INVITE_PROVISIONAL] = { "invite_provisional_seconds",
					  "INVITE arrival to the first "
					  "provisional but 100 sent upstream, "
					  "per server transaction",
					  false },
	[TXN_HIST_INVITE_FINAL] = { "invite_final_seconds",
				    "INVITE arrival to the final response "
				    "sent upstream, per server transaction "
				    "or stateless answer",
				    false },
	[TXN_HIST_REGISTER] = { "register_seconds",
				"REGISTER arrival to its final response, per "
				"server transaction or stateless answer",
				false },
};

static void stats_read(void *arg, unsigned inst, uint64_t *v)
{
	struct shard_stats st;

	shards_stats(arg, inst, &st);
	v[0] = st.rx_msgs;
	v[1] = st.tx_msgs;
	v[2] = st.parse_errors;
	v[3] = st.handoff_out;
	v[4] = st.handoff_in;
	v[5] = st.dropped;
	v[6] = st.tcp_accepted;
	v[7] = st.tcp_closed;
	v[8] = st.overloaded;
	v[9] = st.txns;
	v[10] = st.inbox;
	v[11] = st.tcp_open;
	v[12] = st.txns_created;
	v[13] = st.tls_handshakes;
	v[14] = st.tls_failed;
	v[15] = st.ws_upgrades;
	v[16] = st.ws_refused;
	v[17] = st.ws_bad_frames;
	v[18] = st.steering;
	v[19] = st.steered;
	v[20] = st.wake_sent;
	v[21] = st.wake_skipped;
	for (unsigned k = 0; k < SIP_METHOD__COUNT; k++)
		v[STATS_REQ + k] = st.requests[k];
	for (unsigned k = 0; k < 6; k++) {
		v[STATS_RSP_IN + k] = st.rsp_in[k];
		v[STATS_RSP_OUT + k] = st.rsp_out[k];
	}
}

static void stats_read_hists(void *arg, unsigned inst, struct stats_hist *h)
{
	struct shard_stats st;

	shards_stats(arg, inst, &st);
	for (unsigned k = 0; k < TXN_HIST__COUNT; k++)
		stats_hist_add(&h[k], &st.hist[k]);
}

/* The TLS contexts, once no connection uses them. */
static void tls_free_all(struct shards *s)
{
	for (unsigned i = 0; s->tls_srv && i < s->ntls_srv; i++)
		tls_srv_free(s->tls_srv[i]);
	free(s->tls_srv);
	tls_cli_free(s->tls_cli);
}

/* The listeners, with the Origin lists listen_copy() made. */
static void listen_free(struct shards *s)
{
	for (unsigned i = 0; s->listen && i < s->nlisten; i++) {
		for (unsigned k = 0; k < s->listen[i].norigins; k++)
			free(s->listen[i].origins[k]);
		free(s->listen[i].origins);
	}
	free(s->listen);
}

/* The loader's handles (the programs go with the sockets). */
static void steering_free(struct shards *s)
{
	for (unsigned i = 0; s->steer && i < s->nlisten; i++)
		steer_free(s->steer[i]);
	free(s->steer);
	s->steer = NULL;
}

/* udp.steering is wanted for this group: one that shards by Call-ID (no
 * role steer) with more than one shard. */
static bool steering_wanted(const struct shards *s)
{
	return s->conf->udp.steering != STEER_OFF && s->n > 1 &&
	       !s->role->steer;
}

/* A load or attach failed with @p err at step @p why: nothing stays
 * attached; "auto" goes on with the hand-off alone (one line), "bpf"
 * fails the start. */
static int steering_failed(struct shards *s, int err, const char *why)
{
	enum steer_mode mode = s->conf->udp.steering;

	for (unsigned g = 0; s->steer && g < s->nlisten; g++)
		(void)steer_detach(s->steer[g]);
	steering_free(s);
	s->steering = false;
	log_msg(mode == STEER_BPF ? LOG_ERR : LOG_NOTICE,
		"udp.steering: the kernel program is not attached (%s: %s)%s",
		why, err_str(err),
		mode == STEER_BPF ? "" : "; the shards hand datagrams over");
	return mode == STEER_BPF ? err : 0;
}

/*
 * udp.steering, first half: load (verify) one program per UDP listener
 * before any socket is bound, so that the ~100 ms the verifier takes is
 * not a window in which datagrams queue on the kernel's default choice.
 */
static int steering_load(struct shards *s)
{
	char why[64] = "memory";
	int err = 0;

	if (!steering_wanted(s))
		return 0;
	if (s->n > STEER_MAX_SHARDS)
		return steering_failed(s, -E2BIG, "workers");
	s->steer = calloc(s->nlisten, sizeof(*s->steer));
	if (!s->steer)
		return steering_failed(s, -ENOMEM, why);
	for (unsigned g = 0; g < s->nlisten && !err; g++)
		if (s->listen[g].udp)
			err = steer_load(s->n, owner_seed, &s->steer[g], why,
					 sizeof(why));
	return err ? steering_failed(s, err, why) : 0;
}

/*
 * udp.steering, second half: every shard has bound its sockets and
 * none polls yet; give each program its group's sockets and attach it,
 * so that a datagram reaches its owner's socket with no hand-off.
 */
static int steering_attach(struct shards *s)
{
	char why[64] = "memory";
	unsigned groups = 0;
	int *fds, err = 0;

	if (!s->steer)
		return 0;
	fds = calloc(s->n, sizeof(*fds));
	if (!fds)
		return steering_failed(s, -ENOMEM, why);
	for (unsigned g = 0; g < s->nlisten && !err; g++) {
		if (!s->steer[g])
			continue;
		for (unsigned i = 0; i < s->n; i++)
			fds[i] = udp_fd(s->sh[i].udp, g);
		err = steer_attach(s->steer[g], fds, s->n, why, sizeof(why));
		groups++;
	}
	free(fds);
	if (err)
		return steering_failed(s, err, why);
	s->steering = groups > 0;
	if (s->steering)
		log_msg(LOG_INFO,
			"udp.steering: the kernel gives each datagram to its "
			"shard (%u listeners, %u shards)",
			groups, s->n);
	return 0;
}

static void teardown(struct shards *s, bool ran)
{
	if (!s)
		return;
	if (!s->sh) {
		alias_free(s->alias);
		tls_free_all(s);
		listen_free(s);
		free(s);
		return;
	}
	/* Every thread must be gone before any loop closes: a shard may
	 * still uv_async_send() to another one until it is joined. */
	for (unsigned i = 0; i < s->n; i++) {
		struct shard *sh = &s->sh[i];

		if (sh->thread_started) {
			cds_wfcq_enqueue(&sh->inbox_head, &sh->inbox_tail,
					 &sh->stop_node);
			uv_async_send(&sh->async);
		}
	}
	for (unsigned i = 0; i < s->n; i++) {
		if (s->sh[i].thread_started)
			pthread_join(s->sh[i].thread, NULL);
	}
	stats_remove(&s->stats);
	if (ran)
		stats_log_source(&s->stats, LOG_INFO);
	for (unsigned i = 0; i < s->n; i++) {
		if (!s->sh[i].set)
			continue; /* start failed before this one */
		shard_fini(&s->sh[i]);
	}
	free(s->sh);
	steering_free(s);
	/* After the shards closed their connections. */
	alias_free(s->alias);
	tls_free_all(s);
	listen_free(s);
	free(s);
}

/* A write to a peer that has gone must not kill the process: libuv
 * writes with write(2), which raises SIGPIPE. */
static void ignore_sigpipe(void)
{
	struct sigaction sa;

	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL &&
	    !(sa.sa_flags & SA_SIGINFO))
		signal(SIGPIPE, SIG_IGN);
}

/* Copy the listeners of @p o into @p s; a port-0 UDP listener gets a
 * free port now, so that every shard binds the same one. */
static int listen_copy(struct shards *s, const struct shards_opts *o)
{
	const struct conf_listen *src = o->listen ? o->listen : o->conf->listen;
	unsigned n = o->listen ? o->nlisten : o->conf->nlisten;
	char why[512];
	int port, err;

	s->listen = calloc(n ? n : 1, sizeof(*s->listen));
	s->tls_srv = calloc(n ? n : 1, sizeof(*s->tls_srv));
	if (!s->listen || !s->tls_srv)
		return -ENOMEM;
	s->ntls_srv = n;
	s->nlisten = n; /* listen_free() frees what was copied */
	for (unsigned i = 0; i < n; i++) {
		struct conf_listen *l = &s->listen[i];
		struct sockaddr *sa = (struct sockaddr *)&l->addr;

		*l = src[i];
		/* The caller's strings: not kept (the TLS contexts are made
		 * from them now). */
		l->address = l->cert = l->key = l->ca = l->adv_host = NULL;
		l->sni = NULL;
		l->nsni = 0;
		/* The Origin allow-list (ws, wss) is read at each upgrade:
		 * a copy of our own. */
		l->origins = NULL;
		l->norigins = 0;
		if (src[i].norigins) {
			l->origins =
			    calloc(src[i].norigins, sizeof(*l->origins));
			if (!l->origins)
				return -ENOMEM;
			for (unsigned k = 0; k < src[i].norigins; k++) {
				l->origins[k] = strdup(src[i].origins[k]);
				if (!l->origins[k])
					return -ENOMEM;
				l->norigins = k + 1;
			}
		}
		if (l->tls) {
			err = tls_srv_new(&src[i], &s->tls_srv[i], why,
					  sizeof(why));
			if (err) {
				log_msg(LOG_ERR, "tls listener %u: %s", i,
					err == ERR_CONFIG ? why : err_str(err));
				return err;
			}
		}
		if (l->port || (l->addr.ss_family != AF_INET &&
				l->addr.ss_family != AF_INET6))
			continue;
		if (l->tcp || l->tls || l->ws)
			return -EINVAL;
		port = tp__free_port(sa, l->addrlen, SOCK_DGRAM, "udp");
		if (port < 0)
			return port;
		l->port = (uint16_t)port;
		if (l->addr.ss_family == AF_INET6)
			((struct sockaddr_in6 *)sa)->sin6_port = htons(l->port);
		else
			((struct sockaddr_in *)sa)->sin_port = htons(l->port);
	}
	return 0;
}

int shards_start(const struct conf *c, const struct shard_role *role,
		 struct shards **sp)
{
	const struct shards_opts o = {
		.conf = c, .role = role, .guard = true, .tls_client = true
	};

	if (!c)
		return -EINVAL;
	return shards_start_opts(&o, sp);
}

int shards_start_opts(const struct shards_opts *o, struct shards **sp)
{
	const struct shard_role *role = o ? o->role : NULL;
	const struct conf *c = o ? o->conf : NULL;
	struct shards *s = NULL;
	sigset_t all, old;
	unsigned n;
	int err;

	if (!c || !sp)
		return -EINVAL;
	n = o->workers ? o->workers : c->workers;
	if (n == 0 || n > TCP_MAX_SHARDS || (o->listen && !o->nlisten) ||
	    (o->name && (!*o->name || strlen(o->name) > 11)))
		return -EINVAL;
	if (!role || !role->new_state || !role->free_state || !role->handle ||
	    (role->tick && !role->tick_ms))
		return -EINVAL;
	ignore_sigpipe();
	pthread_once(&owner_once, owner_seed_init);
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->conf = c;
	s->role = role;
	s->n = n;
	snprintf(s->name, sizeof(s->name), "%s", o->name ? o->name : "shard");
	s->run_hooks = !o->no_hooks;
	s->guard = o->guard;
	atomic_init(&s->tcp_conns, 0);
	s->ip_seed = owner_seed ^ 0x7463702d69702d31ULL;
	err = listen_copy(s, o);
	if (err)
		goto out;
	if (o->tls_client) {
		char why[512];

		err = tls_cli_new(c->tls.ca, &s->tls_cli, why, sizeof(why));
		if (err) {
			log_msg(LOG_ERR, "tls client: %s",
				err == ERR_CONFIG ? why : err_str(err));
			goto out;
		}
	}
	for (unsigned i = 0; i < s->nlisten && !s->alias; i++) {
		if (!s->listen[i].tcp && !s->listen[i].tls && !s->listen[i].ws)
			continue;
		err = alias_new(c->tcp.max_connections, &s->alias);
		if (err)
			goto out;
	}
	s->sh = calloc(s->n, sizeof(*s->sh));
	if (!s->sh) {
		err = -ENOMEM;
		goto out;
	}
	/* Nobody else may hold our ports: not even a process whose sockets
	 * set SO_REUSEPORT too, which the kernel would let share them. */
	for (unsigned i = 0; i < s->nlisten; i++) {
		const struct conf_listen *l = &s->listen[i];
		const struct sockaddr *sa = (const struct sockaddr *)&l->addr;

		err = l->udp ? tp__probe(sa, l->addrlen, SOCK_DGRAM, "udp") : 0;
		if (!err && (l->tcp || l->tls || l->ws))
			err = tp__probe(sa, l->addrlen, SOCK_STREAM,
					l->ws	 ? "ws"
					: l->tls ? "tls"
						 : "tcp");
		if (err)
			goto out;
	}
	/* Before the first bind (udp.steering). */
	err = steering_load(s);
	if (err)
		goto out;
	/* Everything is bound before any thread runs. */
	for (unsigned i = 0; i < s->n; i++) {
		err = shard_init(&s->sh[i], s, i);
		if (err)
			goto out;
	}
	/* Before any shard reads: the sockets are bound, none polled. */
	err = steering_attach(s);
	if (err)
		goto out;
	/* Shards take no signals: the control thread handles them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (unsigned i = 0; i < s->n; i++) {
		struct shard *sh = &s->sh[i];

		err = -pthread_create(&sh->thread, NULL, shard_main, sh);
		if (err) {
			log_msg(LOG_ERR, "%s %u: thread: %s", s->name, i,
				err_str(err));
			break;
		}
		sh->thread_started = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		goto out;
	pthread_once(&stats_once, stats_fill);
	s->stats = (struct stats_source){
		.module = s->name,
		.items = stats_items,
		.nitems = sizeof(stats_items) / sizeof(stats_items[0]),
		.ninst = s->n,
		.label = "shard",
		.read = stats_read,
		.arg = s,
		.labels = stats_labels,
		.hists = stats_hists,
		.nhists = TXN_HIST__COUNT,
		.read_hists = stats_read_hists,
	};
	err = stats_add(&s->stats);
	if (err)
		goto out;
	if (o->name)
		log_msg(LOG_INFO, "%s: %u workers started", s->name, s->n);
	else
		log_msg(LOG_INFO, "shards: %u started", s->n);
	*sp = s;
	s = NULL;
out:
	teardown(s, false);
	return err;
}

int shards_listen_addr(const struct shards *s, unsigned i,
		       struct sockaddr_storage *ssp, socklen_t *lenp)
{
	if (!s || i >= s->nlisten || !ssp || !lenp)
		return -EINVAL;
	*ssp = s->listen[i].addr;
	*lenp = s->listen[i].addrlen;
	if (!*lenp)
		*lenp = ssp->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						   : sizeof(struct sockaddr_in);
	return 0;
}

void shards_stop(struct shards *s)
{
	teardown(s, true);
}
