/* store/redis_shard.c - redis backend: each shard's async writer */
#include "store/redis_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "proxy/base/err.h"

/*
 * A shard's writer lives on the shard's loop: one hiredis async context
 * (the libuv adapter) per server it writes to (a link: the one master,
 * or each master of a Redis Cluster) and one timer that drives
 * connecting, time-outs, back-off and following the map the store
 * thread publishes (redis__map). A write goes to the master of its
 * keys' slot at once when that link is up, else waits in q (bounded
 * with what is in flight by queue_max); the other links go on. A
 * connection that goes away hands hiredis' pending callbacks a NULL
 * reply; what was in flight on it then goes back to the front of q and
 * is routed again, so nothing is lost. Order between writes does not
 * matter: the script is idempotent and the newest stamp of a binding
 * wins, whatever order the updates arrive in. That holds across shards
 * too: any shard may publish an AOR (registrar/reg.c, compare-and-swap),
 * and the observer calls for two changes of one AOR may run at once on
 * two shards, each writing on its own links; every op carries the stamp
 * of its change, and the stamps grow along the AOR's chain of changes.
 *
 * Redis Cluster: a MOVED reply sends the write once to the address it
 * names (a link made for it if needed) and asks the store thread for a
 * new map; ASK sends ASKING and the write to the target, map unchanged.
 * TRYAGAIN and CLUSTERDOWN hold the link for a moment.
 */

#define TICK_MS	    100
#define BACKOFF_MIN 100
#define BACKOFF_MAX 2000
#define HOLD_MS	    200
#define MAX_TRIES   1000 /* redirects and refusals of one write */

/* The writer of the shard this thread runs, once attached. */
static _Thread_local struct redis__shard *self;

static uint64_t now_ms(struct redis__shard *w)
{
	return uv_now(w->loop);
}

static int64_t real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void count(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, *p + v, __ATOMIC_RELAXED);
}

static void set_waiting(struct redis__shard *w)
{
	__atomic_store_n(&w->waiting, (uint64_t)(w->nq + w->nf),
			 __ATOMIC_RELAXED);
}

static void q_push_back(struct redis__shard *w, struct redis__req *q)
{
	q->next = NULL;
	if (w->q_tail)
		w->q_tail->next = q;
	else
		w->q_head = q;
	w->q_tail = q;
	w->nq++;
}

static void q_push_front(struct redis__shard *w, struct redis__req *q)
{
	q->next = w->q_head;
	w->q_head = q;
	if (!w->q_tail)
		w->q_tail = q;
	w->nq++;
}

static struct redis__req *q_pop(struct redis__shard *w)
{
	struct redis__req *q = w->q_head;

	if (!q)
		return NULL;
	w->q_head = q->next;
	if (!w->q_head)
		w->q_tail = NULL;
	w->nq--;
	q->next = NULL;
	return q;
}

static void f_push(struct redis__link *l, struct redis__req *q)
{
	q->next = NULL;
	if (l->f_tail)
		l->f_tail->next = q;
	else
		l->f_head = q;
	l->f_tail = q;
	l->nf++;
	l->w->nf++;
}

static struct redis__req *f_pop(struct redis__link *l)
{
	struct redis__req *q = l->f_head;

	if (!q)
		return NULL;
	l->f_head = q->next;
	if (!l->f_head)
		l->f_tail = NULL;
	l->nf--;
	l->w->nf--;
	q->next = NULL;
	return q;
}

/* What was in flight on @p l goes back in front of what waits, to be
 * routed again. */
static void requeue_in_flight(struct redis__link *l)
{
	struct redis__shard *w = l->w;

	if (!l->f_head)
		return;
	for (struct redis__req *q = l->f_head; q; q = q->next) {
		q->via = -1;
		q->asking = false;
	}
	l->f_tail->next = w->q_head;
	if (!w->q_head)
		w->q_tail = l->f_tail;
	w->q_head = l->f_head;
	w->nq += l->nf;
	w->nf -= l->nf;
	l->f_head = l->f_tail = NULL;
	l->nf = 0;
}

static void write_cb(redisAsyncContext *ac, void *reply, void *arg);

static void finish(struct redis__shard *w);

static bool any_open(const struct redis__shard *w)
{
	for (unsigned i = 0; i < REDIS_MAX_LINKS; i++)
		if (w->links[i].ac)
			return true;
	return false;
}

static void link_name(const struct redis__link *l, char *buf, size_t len)
{
	redis__addr_name(&l->addr, buf, len);
}

/* The connection is gone (or never came): back to DOWN. */
static void down(struct redis__link *l, const char *why)
{
	struct redis__shard *w = l->w;
	char name[160];

	requeue_in_flight(l);
	set_waiting(w);
	l->state = REDIS_W_DOWN;
	l->kill = false;
	l->retry_ms = now_ms(w) + l->backoff_ms;
	l->backoff_ms =
	    l->backoff_ms * 2 > BACKOFF_MAX ? BACKOFF_MAX : l->backoff_ms * 2;
	if (why && !l->down_logged && !w->stopping) {
		link_name(l, name, sizeof(name));
		log_msg(LOG_WARN,
			"redis: shard %u: %s: %s; writes wait (%u queued)",
			w->id, name, why, w->nq);
		l->down_logged = true;
	}
	/* A cluster node may have gone: the store thread looks again. */
	if (why && !w->stopping)
		redis__want_refresh(w->r);
	if (w->stopping && !any_open(w))
		finish(w);
}

/* Drop the connection now (from the timer or the API, never from a
 * hiredis callback). */
static void drop(struct redis__link *l, const char *why)
{
	redisAsyncContext *ac = l->ac;

	if (!ac)
		return;
	l->ac = NULL;
	/* Runs the pending callbacks with NULL replies, then the
	 * disconnect callback, which sees l->ac != ac and does nothing. */
	redisAsyncFree(ac);
	down(l, why);
}

static void hs_cb(redisAsyncContext *ac, void *reply, void *arg);
static void pre_cb(redisAsyncContext *ac, void *reply, void *arg);

/* AUTH, SELECT, then SCRIPT LOAD, pipelined; writes wait for the
 * answer to the last one. */
static void handshake(struct redis__link *l)
{
	const struct redis *r = l->w->r;
	const char *argv[3];
	size_t lens[3];
	char db[16];
	int err = REDIS_OK;

	if (r->password) {
		argv[0] = "AUTH";
		argv[1] = r->password;
		lens[0] = 4;
		lens[1] = strlen(r->password);
		err = redisAsyncCommandArgv(l->ac, pre_cb, l, 2, argv, lens);
	}
	if (err == REDIS_OK && r->db) {
		snprintf(db, sizeof(db), "%u", r->db);
		argv[0] = "SELECT";
		argv[1] = db;
		lens[0] = 6;
		lens[1] = strlen(db);
		err = redisAsyncCommandArgv(l->ac, pre_cb, l, 2, argv, lens);
	}
	if (err == REDIS_OK) {
		argv[0] = "SCRIPT";
		argv[1] = "LOAD";
		argv[2] = redis__script;
		lens[0] = 6;
		lens[1] = 4;
		lens[2] = strlen(redis__script);
		err = redisAsyncCommandArgv(l->ac, hs_cb, l, 3, argv, lens);
	}
	if (err != REDIS_OK)
		l->kill = true;
}

static void connect_cb(const redisAsyncContext *ac, int status)
{
	struct redis__link *l = ac->data;

	if (l->ac != ac)
		return;
	if (status != REDIS_OK) {
		/* hiredis frees the context after this callback. */
		l->ac = NULL;
		down(l, ac->c.errstr[0] ? ac->c.errstr : "connect failed");
		return;
	}
	l->state = REDIS_W_HANDSHAKE;
	l->since_ms = now_ms(l->w);
	handshake(l);
}

static void refused(struct redis__link *l, const char *what,
		    const redisReply *r)
{
	struct redis__shard *w = l->w;

	if (log_ratelimit_ok(&w->rl))
		log_msg(LOG_ERR, "redis: shard %u: %s: %.*s", w->id, what,
			r->type == REDIS_REPLY_ERROR ? (int)r->len : 16,
			r->type == REDIS_REPLY_ERROR ? r->str
						     : "unexpected reply");
	l->kill = true;
}

static void pre_cb(redisAsyncContext *ac, void *reply, void *arg)
{
	struct redis__link *l = arg;
	redisReply *r = reply;

	if (r && l->ac == ac && r->type == REDIS_REPLY_ERROR)
		refused(l, "AUTH/SELECT", r);
}

static void flush(struct redis__shard *w);

static void hs_cb(redisAsyncContext *ac, void *reply, void *arg)
{
	struct redis__link *l = arg;
	struct redis__shard *w = l->w;
	redisReply *r = reply;
	char name[160];

	if (!r || l->ac != ac || l->kill)
		return; /* the connection is going: down() follows */
	if (r->type != REDIS_REPLY_STRING || r->len != 40 ||
	    memcmp(r->str, w->r->nm.sha, 40) != 0) {
		refused(l, "SCRIPT LOAD", r);
		return;
	}
	l->state = REDIS_W_UP;
	l->backoff_ms = BACKOFF_MIN;
	count(&w->reconnects, 1);
	if (l->down_logged) {
		link_name(l, name, sizeof(name));
		log_msg(LOG_INFO, "redis: shard %u: %s connected; replaying %u",
			w->id, name, w->nq);
		l->down_logged = false;
	}
	flush(w);
}

static void disconnect_cb(const redisAsyncContext *ac, int status)
{
	struct redis__link *l = ac->data;

	(void)status;
	if (l->ac != ac)
		return;
	/* hiredis frees the context after this callback. */
	l->ac = NULL;
	down(l, ac->c.errstr[0] ? ac->c.errstr : "connection closed");
}

static bool starts(const redisReply *r, const char *code)
{
	size_t n = strlen(code);

	return r->len >= n && strncasecmp(r->str, code, n) == 0;
}

/* Errors after which the write is sent again on a new connection. */
static bool transient(const redisReply *r)
{
	static const char *const codes[] = { "NOSCRIPT",   "READONLY",
					     "LOADING",	   "MASTERDOWN",
					     "NOAUTH",	   "BUSY",
					     "NOREPLICAS", "OOM" };

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (starts(r, codes[i]))
			return true;
	return false;
}

static struct redis__link *link_find(struct redis__shard *w,
				     const struct redis_addr *a, bool add)
{
	struct redis__link *free_l = NULL;

	for (unsigned i = 0; i < REDIS_MAX_LINKS; i++) {
		struct redis__link *l = &w->links[i];

		if (l->used && redis__addr_same(&l->addr, a))
			return l;
		if (!l->used && !free_l)
			free_l = l;
	}
	if (!add || !free_l)
		return NULL;
	memset(free_l, 0, sizeof(*free_l));
	free_l->w = w;
	free_l->used = true;
	free_l->addr = *a;
	free_l->backoff_ms = BACKOFF_MIN;
	free_l->state = REDIS_W_DOWN;
	return free_l;
}

/*
 * "MOVED 3999 127.0.0.1:6381" or "ASK ...": the request goes to that
 * address once (its link made if needed). False when the reply does not
 * parse or no link is left.
 */
static bool redirect(struct redis__shard *w, struct redis__req *q,
		     const redisReply *r, bool ask)
{
	char text[160], *sp;
	struct redis_addr a;
	struct redis__link *l;

	if (r->len >= sizeof(text))
		return false;
	memcpy(text, r->str, r->len);
	text[r->len] = '\0';
	sp = strrchr(text, ' ');
	if (!sp || redis_addr_parse(sp + 1, &a) != 0)
		return false;
	l = link_find(w, &a, true);
	if (!l)
		return false;
	q->via = (int)(l - w->links);
	q->asking = ask;
	count(&w->redirects, 1);
	if (log_ratelimit_ok(&w->rl))
		log_msg(LOG_INFO, "redis: shard %u: %s; following", w->id,
			text);
	return true;
}

static void write_cb(redisAsyncContext *ac, void *reply, void *arg)
{
	struct redis__link *l = arg;
	struct redis__shard *w = l->w;
	redisReply *r = reply;
	struct redis__req *q;

	(void)ac;
	/* NULL: the connection is going; down() puts what is in flight
	 * back in the queue. */
	if (!r)
		return;
	q = f_pop(l);
	if (!q)
		return;
	if (r->type != REDIS_REPLY_ERROR) {
		count(&w->written, 1);
		free(q);
	} else if (++q->tries > MAX_TRIES) {
		count(&w->errors, 1);
		if (log_ratelimit_ok(&w->rl))
			log_msg(LOG_ERR,
				"redis: shard %u: update given up after %u "
				"tries: %.*s",
				w->id, MAX_TRIES, (int)r->len, r->str);
		free(q);
	} else if (starts(r, "MOVED ") || starts(r, "ASK ")) {
		bool ask = starts(r, "ASK ");

		if (!ask)
			redis__want_refresh(w->r);
		if (!redirect(w, q, r, ask))
			q->via = -1;
		q_push_front(w, q);
	} else if (starts(r, "TRYAGAIN") || starts(r, "CLUSTERDOWN")) {
		/* A slot being moved, a cluster failing over: again
		 * soon, on the same connection. */
		q->via = -1;
		q->asking = false;
		q_push_front(w, q);
		l->hold_ms = now_ms(w) + HOLD_MS;
		redis__want_refresh(w->r);
	} else if (transient(r)) {
		/* A master that became a replica, a restarted one without
		 * the script...: again on a new connection (bounded by
		 * queue_max like any waiting write). */
		q->via = -1;
		q->asking = false;
		q_push_front(w, q);
		l->kill = true;
	} else {
		count(&w->errors, 1);
		if (log_ratelimit_ok(&w->rl))
			log_msg(LOG_ERR,
				"redis: shard %u: update refused: %.*s", w->id,
				(int)r->len, r->str);
		free(q);
	}
	if (w->full && w->nq + w->nf < w->r->queue_max / 2)
		w->full = false;
	set_waiting(w);
}

static void start_connect(struct redis__link *l)
{
	struct redis__shard *w = l->w;
	redisAsyncContext *ac;

	ac = l->addr.is_unix ? redisAsyncConnectUnix(l->addr.path)
			     : redisAsyncConnect(l->addr.host, l->addr.port);
	if (!ac) {
		down(l, "out of memory");
		return;
	}
	if (ac->err) {
		char why[160];

		snprintf(why, sizeof(why), "%s", ac->c.errstr);
		redisAsyncFree(ac);
		down(l, why);
		return;
	}
	ac->data = l;
	if (redisLibuvAttach(ac, w->loop) != REDIS_OK) {
		redisAsyncFree(ac);
		down(l, "cannot attach to the loop");
		return;
	}
	redisAsyncSetConnectCallback(ac, connect_cb);
	redisAsyncSetDisconnectCallback(ac, disconnect_cb);
	l->ac = ac;
	l->state = REDIS_W_CONNECTING;
	l->since_ms = now_ms(w);
}

/* The link @p q goes out on now, or NULL (it waits). Connects a link
 * that is down and due. */
static struct redis__link *link_for(struct redis__shard *w,
				    struct redis__req *q)
{
	struct redis__link *l;
	struct redis_addr a;
	unsigned gen;

	if (q->via >= 0 && q->via < REDIS_MAX_LINKS && w->links[q->via].used) {
		l = &w->links[q->via];
	} else {
		q->via = -1;
		q->asking = false;
		if (!redis__route(w->r, q->slot, &a, &gen))
			return NULL;
		l = link_find(w, &a, true);
		if (!l)
			return NULL;
	}
	if (!l->ac && !w->stopping && !w->closed && now_ms(w) >= l->retry_ms)
		start_connect(l);
	if (l->ac && l->state == REDIS_W_UP && !l->kill &&
	    now_ms(w) >= l->hold_ms)
		return l;
	return NULL;
}

/* Hand @p q to @p l's context; false when it refuses. */
static bool send_on(struct redis__link *l, struct redis__req *q)
{
	if (q->asking &&
	    redisAsyncCommand(l->ac, NULL, NULL, "ASKING") != REDIS_OK)
		return false;
	if (redisAsyncFormattedCommand(l->ac, write_cb, l, q->cmd, q->len) !=
	    REDIS_OK)
		return false;
	/* A redirect is tried once; then the map decides again. */
	q->via = -1;
	q->asking = false;
	q->sent_ms = now_ms(l->w);
	f_push(l, q);
	return true;
}

/* Send everything queued that has a link up; the rest keeps its place
 * (one pass, bounded by nq). */
static void flush(struct redis__shard *w)
{
	struct redis__req *keep_h = NULL, *keep_t = NULL, *q;
	unsigned kept = 0, n = w->nq;

	for (unsigned i = 0; i < n && (q = q_pop(w)); i++) {
		struct redis__link *l = link_for(w, q);

		if (l && send_on(l, q))
			continue;
		if (l)
			l->kill = true;
		q->next = NULL;
		if (keep_t)
			keep_t->next = q;
		else
			keep_h = q;
		keep_t = q;
		kept++;
	}
	/* What waits goes back in front, in its order. */
	if (keep_h) {
		keep_t->next = w->q_head;
		if (!w->q_head)
			w->q_tail = keep_t;
		w->q_head = keep_h;
		w->nq += kept;
	}
	set_waiting(w);
}

static void tick_cb(uv_timer_t *t)
{
	struct redis__shard *w = t->data;
	uint64_t now = now_ms(w);
	unsigned gen = redis__map_gen(w->r);
	bool moved = gen != w->gen;

	w->gen = gen;
	for (unsigned i = 0; i < REDIS_MAX_LINKS; i++) {
		struct redis__link *l = &w->links[i];

		if (!l->used)
			continue;
		if (l->ac) {
			if (l->kill)
				drop(l, "reconnecting after an error");
			else if ((l->state == REDIS_W_CONNECTING ||
				  l->state == REDIS_W_HANDSHAKE) &&
				 now - l->since_ms > w->r->connect_timeout_ms)
				drop(l, "connect timed out");
			else if (l->f_head && now - l->f_head->sent_ms >
						  w->r->command_timeout_ms)
				drop(l, "command timed out");
		}
		/* A server that is no master any more gets nothing more
		 * from us (what we sent it before the switch is in the
		 * table the store thread writes back to the new one). */
		if (moved && !w->stopping && !redis__map_has(w->r, &l->addr)) {
			if (l->ac)
				drop(l, NULL);
			for (struct redis__req *q = w->q_head; q; q = q->next)
				if (q->via == (int)i)
					q->via = -1;
			l->used = false;
		}
	}
	if (!w->stopping && !w->closed)
		flush(w);
}

int redis_shard_attach(struct redis *r, unsigned shard, uv_loop_t *loop)
{
	struct redis__shard *w;
	int err;

	if (!r || !loop || shard >= r->nshards)
		return -EINVAL;
	w = &r->shards[shard];
	memset(w, 0, sizeof(*w));
	w->r = r;
	w->id = shard;
	w->loop = loop;
	w->rl.burst = 5;
	err = uv_timer_init(loop, &w->timer);
	if (err)
		return err;
	w->timer.data = w;
	err = uv_timer_start(&w->timer, tick_cb, 0, TICK_MS);
	if (err) {
		uv_close((uv_handle_t *)&w->timer, NULL);
		return err;
	}
	w->attached = true;
	self = w;
	return 0;
}

/* Everything of ours leaves the loop. Idempotent. */
static void finish(struct redis__shard *w)
{
	struct redis__req *q;
	unsigned lost = 0;

	if (w->closed)
		return;
	w->closed = true;
	for (unsigned i = 0; i < REDIS_MAX_LINKS; i++)
		requeue_in_flight(&w->links[i]);
	/* Bounded by nq. */
	while ((q = q_pop(w))) {
		free(q);
		lost++;
	}
	set_waiting(w);
	if (lost)
		log_msg(LOG_WARN,
			"redis: shard %u: %u updates not written at stop",
			w->id, lost);
	if (!uv_is_closing((uv_handle_t *)&w->timer))
		uv_close((uv_handle_t *)&w->timer, NULL);
	codec_buf_free(&w->cmd);
	codec_buf_free(&w->tmp);
	free(w->ops);
	w->ops = NULL;
	w->ops_cap = 0;
	if (self == w)
		self = NULL;
}

void redis_shard_detach(struct redis *r, unsigned shard)
{
	struct redis__shard *w;

	if (!r || shard >= r->nshards)
		return;
	w = &r->shards[shard];
	if (!w->attached || w->stopping)
		return;
	/* Let what waits go out where a link is up. */
	flush(w);
	w->stopping = true;
	if (self == w)
		self = NULL;
	for (unsigned i = 0; i < REDIS_MAX_LINKS; i++) {
		struct redis__link *l = &w->links[i];

		if (!l->ac)
			continue;
		if (l->state == REDIS_W_UP && l->nf && !l->kill)
			/* Answered, then closed; the timer still bounds
			 * it by command_timeout_ms. */
			redisAsyncDisconnect(l->ac);
		else
			drop(l, NULL);
	}
	if (!any_open(w))
		finish(w);
}

/* The observer, on the thread that published. */
void redis__observe(struct slice aor, const struct loc_set *old,
		    const struct loc_set *cur, int64_t stamp_ms)
{
	struct redis__shard *w = self;
	struct redis__link *l;
	struct redis__req *q;
	int n, err;

	if (!w || w->closed || w->stopping)
		return;
	/* Deletes stamped with the change (not the clock now): a later
	 * change by another shard is stamped above it (store/loc.h). */
	n = redis__diff(old, cur, stamp_ms > 0 ? stamp_ms : real_ms(), &w->ops,
			&w->ops_cap);
	if (n <= 0) {
		if (n < 0)
			count(&w->dropped, 1);
		return;
	}
	if (w->nq + w->nf >= w->r->queue_max) {
		count(&w->dropped, 1);
		/* The store thread writes the whole table back once Redis
		 * has room: the dropped update is in it. */
		atomic_store(&w->r->need_push, true);
		if (!w->full) {
			log_msg(LOG_WARN,
				"redis: shard %u: write queue full (%u); "
				"dropping updates until Redis catches up",
				w->id, w->r->queue_max);
			w->full = true;
		}
		return;
	}
	err = redis__cmd_update(&w->cmd, &w->tmp, &w->r->nm, aor, w->ops,
				(unsigned)n);
	q = err ? NULL : malloc(sizeof(*q) + w->cmd.len);
	if (!q) {
		count(&w->dropped, 1);
		atomic_store(&w->r->need_push, true);
		return;
	}
	memset(q, 0, sizeof(*q));
	q->len = w->cmd.len;
	q->via = -1;
	memcpy(q->cmd, w->cmd.p, w->cmd.len);
	q->slot = redis__aor_slot(&w->tmp, &w->r->nm, aor);
	/* At once when its master's link is up, even past writes that
	 * wait for another master (order is free: see the top). */
	l = link_for(w, q);
	if (l && send_on(l, q)) {
		set_waiting(w);
		return;
	}
	if (l)
		l->kill = true;
	q_push_back(w, q);
	set_waiting(w);
}
