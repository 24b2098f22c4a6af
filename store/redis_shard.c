/* store/redis_shard.c - redis backend: each shard's async writer */
#include "store/redis_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "proxy/base/err.h"

/*
 * A shard's writer lives on the shard's loop: a hiredis async context
 * (the libuv adapter) and one timer that drives connecting, time-outs,
 * back-off and following a new master. Writes go out at once when the
 * connection is up, else wait in q (bounded with what is in flight by
 * queue_max). A connection that goes away hands hiredis' pending
 * callbacks a NULL reply; what was in flight then goes back to the
 * front of q, so nothing is lost and the order is kept (the script is
 * idempotent: an update that was applied and is sent again changes
 * nothing).
 */

#define TICK_MS	    100
#define BACKOFF_MIN 100
#define BACKOFF_MAX 2000

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
	__atomic_store_n(&w->waiting, (uint64_t)(w->nq + w->nf + w->nr),
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

static void f_push(struct redis__shard *w, struct redis__req *q)
{
	q->next = NULL;
	if (w->f_tail)
		w->f_tail->next = q;
	else
		w->f_head = q;
	w->f_tail = q;
	w->nf++;
}

static struct redis__req *f_pop(struct redis__shard *w)
{
	struct redis__req *q = w->f_head;

	if (!q)
		return NULL;
	w->f_head = q->next;
	if (!w->f_head)
		w->f_tail = NULL;
	w->nf--;
	q->next = NULL;
	return q;
}

/* What was in flight goes back in front of what waits, in order:
 * first what Redis refused for now (r), then what got no answer (f). */
static void requeue_in_flight(struct redis__shard *w)
{
	if (w->f_head) {
		w->f_tail->next = w->q_head;
		if (!w->q_head)
			w->q_tail = w->f_tail;
		w->q_head = w->f_head;
		w->nq += w->nf;
		w->f_head = w->f_tail = NULL;
		w->nf = 0;
	}
	if (w->r_head) {
		w->r_tail->next = w->q_head;
		if (!w->q_head)
			w->q_tail = w->r_tail;
		w->q_head = w->r_head;
		w->nq += w->nr;
		w->r_head = w->r_tail = NULL;
		w->nr = 0;
	}
}

static void write_cb(redisAsyncContext *ac, void *reply, void *arg);

/*
 * Hand @p q to hiredis; false when the context refuses it, or when the
 * store thread has found another master since we connected: then the
 * write waits for the new one. What we sent to the old master before
 * the switch is in the local table when the store thread writes it
 * back to the new one (it does so after publishing the switch), so a
 * demoted master that throws its data away loses nothing.
 */
static bool send_one(struct redis__shard *w, struct redis__req *q)
{
	if (redis__target_gen(w->r) != w->gen) {
		w->kill = true;
		return false;
	}
	if (redisAsyncFormattedCommand(w->ac, write_cb, w, q->cmd, q->len) !=
	    REDIS_OK)
		return false;
	q->sent_ms = now_ms(w);
	f_push(w, q);
	return true;
}

/* Send everything queued (bounded by nq). */
static void flush(struct redis__shard *w)
{
	struct redis__req *q;

	while (w->state == REDIS_W_UP && (q = q_pop(w))) {
		if (!send_one(w, q)) {
			q_push_front(w, q);
			w->kill = true;
			break;
		}
	}
	set_waiting(w);
}

static void finish(struct redis__shard *w);

/* The connection is gone (or never came): back to DOWN. */
static void down(struct redis__shard *w, const char *why)
{
	requeue_in_flight(w);
	set_waiting(w);
	w->state = REDIS_W_DOWN;
	w->kill = false;
	w->retry_ms = now_ms(w) + w->backoff_ms;
	w->backoff_ms =
	    w->backoff_ms * 2 > BACKOFF_MAX ? BACKOFF_MAX : w->backoff_ms * 2;
	if (why && !w->down_logged && !w->stopping) {
		log_msg(LOG_WARN,
			"redis: shard %u: %s; writes wait (%u queued)", w->id,
			why, w->nq);
		w->down_logged = true;
	}
	if (w->stopping)
		finish(w);
}

/* Drop the connection now (from the timer or the API, never from a
 * hiredis callback). */
static void drop(struct redis__shard *w, const char *why)
{
	redisAsyncContext *ac = w->ac;

	if (!ac)
		return;
	w->ac = NULL;
	/* Runs the pending callbacks with NULL replies, then the
	 * disconnect callback, which sees w->ac != ac and does nothing. */
	redisAsyncFree(ac);
	down(w, why);
}

static void hs_cb(redisAsyncContext *ac, void *reply, void *arg);
static void pre_cb(redisAsyncContext *ac, void *reply, void *arg);

/* AUTH, SELECT, then SCRIPT LOAD, pipelined; writes wait for the
 * answer to the last one. */
static void handshake(struct redis__shard *w)
{
	const char *argv[3];
	size_t lens[3];
	char db[16];
	int err = REDIS_OK;

	if (w->r->password) {
		argv[0] = "AUTH";
		argv[1] = w->r->password;
		lens[0] = 4;
		lens[1] = strlen(w->r->password);
		err = redisAsyncCommandArgv(w->ac, pre_cb, w, 2, argv, lens);
	}
	if (err == REDIS_OK && w->r->db) {
		snprintf(db, sizeof(db), "%u", w->r->db);
		argv[0] = "SELECT";
		argv[1] = db;
		lens[0] = 6;
		lens[1] = strlen(db);
		err = redisAsyncCommandArgv(w->ac, pre_cb, w, 2, argv, lens);
	}
	if (err == REDIS_OK) {
		argv[0] = "SCRIPT";
		argv[1] = "LOAD";
		argv[2] = redis__script;
		lens[0] = 6;
		lens[1] = 4;
		lens[2] = strlen(redis__script);
		err = redisAsyncCommandArgv(w->ac, hs_cb, w, 3, argv, lens);
	}
	if (err != REDIS_OK)
		w->kill = true;
}

static void connect_cb(const redisAsyncContext *ac, int status)
{
	struct redis__shard *w = ac->data;

	if (w->ac != ac)
		return;
	if (status != REDIS_OK) {
		/* hiredis frees the context after this callback. */
		w->ac = NULL;
		down(w, ac->c.errstr[0] ? ac->c.errstr : "connect failed");
		return;
	}
	w->state = REDIS_W_HANDSHAKE;
	w->since_ms = now_ms(w);
	handshake(w);
}

static void refused(struct redis__shard *w, const char *what,
		    const redisReply *r)
{
	if (log_ratelimit_ok(&w->rl))
		log_msg(LOG_ERR, "redis: shard %u: %s: %.*s", w->id, what,
			r->type == REDIS_REPLY_ERROR ? (int)r->len : 16,
			r->type == REDIS_REPLY_ERROR ? r->str
						     : "unexpected reply");
	w->kill = true;
}

static void pre_cb(redisAsyncContext *ac, void *reply, void *arg)
{
	struct redis__shard *w = arg;
	redisReply *r = reply;

	if (r && w->ac == ac && r->type == REDIS_REPLY_ERROR)
		refused(w, "AUTH/SELECT", r);
}

static void hs_cb(redisAsyncContext *ac, void *reply, void *arg)
{
	struct redis__shard *w = arg;
	redisReply *r = reply;

	if (!r || w->ac != ac || w->kill)
		return; /* the connection is going: down() follows */
	if (r->type != REDIS_REPLY_STRING || r->len != 40 ||
	    memcmp(r->str, w->r->nm.sha, 40) != 0) {
		refused(w, "SCRIPT LOAD", r);
		return;
	}
	w->state = REDIS_W_UP;
	w->backoff_ms = BACKOFF_MIN;
	count(&w->reconnects, 1);
	if (w->down_logged) {
		log_msg(LOG_INFO, "redis: shard %u: connected; replaying %u",
			w->id, w->nq);
		w->down_logged = false;
	}
	flush(w);
}

static void disconnect_cb(const redisAsyncContext *ac, int status)
{
	struct redis__shard *w = ac->data;

	(void)status;
	if (w->ac != ac)
		return;
	/* hiredis frees the context after this callback. */
	w->ac = NULL;
	down(w, ac->c.errstr[0] ? ac->c.errstr : "connection closed");
}

/* Errors after which the write is sent again on a new connection. */
static bool transient(const redisReply *r)
{
	static const char *const codes[] = {
		"NOSCRIPT", "READONLY", "LOADING",     "MASTERDOWN", "NOAUTH",
		"BUSY",	    "TRYAGAIN", "CLUSTERDOWN", "NOREPLICAS", "OOM"
	};

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (r->len >= strlen(codes[i]) &&
		    strncasecmp(r->str, codes[i], strlen(codes[i])) == 0)
			return true;
	return false;
}

static void write_cb(redisAsyncContext *ac, void *reply, void *arg)
{
	struct redis__shard *w = arg;
	redisReply *r = reply;
	struct redis__req *q;

	(void)ac;
	/* NULL: the connection is going; down() puts what is in flight
	 * back in the queue. */
	if (!r)
		return;
	q = f_pop(w);
	if (!q)
		return;
	if (r->type != REDIS_REPLY_ERROR) {
		count(&w->written, 1);
		free(q);
	} else if (transient(r)) {
		/* A master that became a replica, a restarted one without
		 * the script...: again on a new connection (bounded by
		 * queue_max like any waiting write). */
		q->tries++;
		q->next = NULL;
		if (w->r_tail)
			w->r_tail->next = q;
		else
			w->r_head = q;
		w->r_tail = q;
		w->nr++;
		w->kill = true;
	} else {
		count(&w->errors, 1);
		if (log_ratelimit_ok(&w->rl))
			log_msg(LOG_ERR,
				"redis: shard %u: update refused: %.*s", w->id,
				(int)r->len, r->str);
		free(q);
	}
	if (w->full && w->nq + w->nf + w->nr < w->r->queue_max / 2)
		w->full = false;
	set_waiting(w);
}

static void start_connect(struct redis__shard *w)
{
	struct redis_addr a;
	redisAsyncContext *ac;
	unsigned gen;

	if (!redis__target_get(w->r, &a, &gen)) {
		w->retry_ms = now_ms(w) + BACKOFF_MIN;
		return;
	}
	ac = a.is_unix ? redisAsyncConnectUnix(a.path)
		       : redisAsyncConnect(a.host, a.port);
	if (!ac) {
		down(w, "out of memory");
		return;
	}
	if (ac->err) {
		char why[160];

		snprintf(why, sizeof(why), "%s", ac->c.errstr);
		redisAsyncFree(ac);
		down(w, why);
		return;
	}
	ac->data = w;
	if (redisLibuvAttach(ac, w->loop) != REDIS_OK) {
		redisAsyncFree(ac);
		down(w, "cannot attach to the loop");
		return;
	}
	redisAsyncSetConnectCallback(ac, connect_cb);
	redisAsyncSetDisconnectCallback(ac, disconnect_cb);
	w->ac = ac;
	w->gen = gen;
	w->state = REDIS_W_CONNECTING;
	w->since_ms = now_ms(w);
}

static void tick_cb(uv_timer_t *t)
{
	struct redis__shard *w = t->data;
	uint64_t now = now_ms(w);
	unsigned gen = redis__target_gen(w->r);

	if (w->ac) {
		if (w->kill)
			drop(w, "reconnecting after an error");
		else if ((w->state == REDIS_W_CONNECTING ||
			  w->state == REDIS_W_HANDSHAKE) &&
			 now - w->since_ms > w->r->connect_timeout_ms)
			drop(w, "connect timed out");
		else if (w->f_head &&
			 now - w->f_head->sent_ms > w->r->command_timeout_ms)
			drop(w, "command timed out");
		else if (gen != w->gen && !w->stopping)
			drop(w, "the master changed");
	}
	if (!w->ac && !w->stopping && !w->closed && now >= w->retry_ms)
		start_connect(w);
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
	w->backoff_ms = BACKOFF_MIN;
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
	requeue_in_flight(w);
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
	w->stopping = true;
	if (self == w)
		self = NULL;
	if (w->ac && w->state == REDIS_W_UP && (w->nq || w->nf) && !w->nr) {
		/* Let what waits go out and be answered; the timer still
		 * bounds it by command_timeout_ms. */
		flush(w);
		redisAsyncDisconnect(w->ac);
		return;
	}
	if (w->ac)
		drop(w, NULL); /* down() finishes, as we stop */
	else
		finish(w);
}

/* The observer, on the thread that published. */
void redis__observe(struct slice aor, const struct loc_set *old,
		    const struct loc_set *cur)
{
	struct redis__shard *w = self;
	struct redis__req *q;
	int n, err;

	if (!w || w->closed || w->stopping)
		return;
	n = redis__diff(old, cur, real_ms(), &w->ops, &w->ops_cap);
	if (n <= 0) {
		if (n < 0)
			count(&w->dropped, 1);
		return;
	}
	if (w->nq + w->nf + w->nr >= w->r->queue_max) {
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
	memcpy(q->cmd, w->cmd.p, w->cmd.len);
	if (w->state == REDIS_W_UP && !w->q_head && send_one(w, q)) {
		set_waiting(w);
		return;
	}
	q_push_back(w, q);
	set_waiting(w);
}
