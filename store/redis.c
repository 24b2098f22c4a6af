/* store/redis.c - redis backend: start, stop, and the store thread */
#include "store/redis.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <urcu/pointer.h>

#include "proxy/base/err.h"
#include "proxy/base/obj.h"
#include "proxy/base/stats.h"
#include "store/redis_priv.h"

/*
 * The store thread holds three synchronous hiredis connections, each
 * with connect and command time-outs: cmd (write-back, load, health
 * checks), sub (the channel; read with poll() so that waiting for a
 * message never trips the command time-out) and, with Sentinel, sen
 * (+switch-master). It never runs on a shard, so waiting on Redis here
 * stops no SIP message.
 */

#define POLL_MS	       200
#define CHECK_MS       1000
#define SEN_RETRY_MS   5000
#define BATCH	       256
#define SCAN_COUNT     "1000"
#define SCAN_ROUNDS    (1L << 24)
#define READ_ROUNDS    100000
#define BACKOFF_MIN    100
#define BACKOFF_MAX    2000
#define CONTACTS_MAX   (REDIS_MAX_CONTACTS + 32)
#define REFRESH_MIN_MS 500
#define REFRESH_MS     10000

int redis_addr_parse(const char *s, struct redis_addr *ap)
{
	struct redis_addr a;
	const char *colon, *h;
	size_t hlen;
	unsigned char bin[16];
	unsigned long port;
	char *end;

	if (!s)
		return -EINVAL;
	memset(&a, 0, sizeof(a));
	if (strncmp(s, "unix:", 5) == 0) {
		if (s[5] != '/' || strlen(s + 5) >= sizeof(a.path))
			return -EINVAL;
		a.is_unix = true;
		snprintf(a.path, sizeof(a.path), "%s", s + 5);
		*ap = a;
		return 0;
	}
	colon = strrchr(s, ':');
	if (!colon || colon == s || !colon[1])
		return -EINVAL;
	h = s;
	hlen = (size_t)(colon - s);
	if (s[0] == '[') {
		if (hlen < 3 || colon[-1] != ']')
			return -EINVAL;
		h++;
		hlen -= 2;
	}
	if (hlen >= sizeof(a.host))
		return -EINVAL;
	memcpy(a.host, h, hlen);
	a.host[hlen] = '\0';
	if (s[0] == '[' ? inet_pton(AF_INET6, a.host, bin) != 1
			: inet_pton(AF_INET, a.host, bin) != 1)
		return -EINVAL;
	if (colon[1] < '0' || colon[1] > '9')
		return -EINVAL;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || port == 0 || port > 65535)
		return -EINVAL;
	a.port = (uint16_t)port;
	*ap = a;
	return 0;
}

bool redis__addr_same(const struct redis_addr *a, const struct redis_addr *b)
{
	return a->is_unix == b->is_unix && a->port == b->port &&
	       strcmp(a->host, b->host) == 0 && strcmp(a->path, b->path) == 0;
}

void redis__addr_name(const struct redis_addr *a, char *buf, size_t len)
{
	if (a->is_unix)
		snprintf(buf, len, "unix:%s", a->path);
	else if (strchr(a->host, ':'))
		snprintf(buf, len, "[%s]:%u", a->host, a->port);
	else
		snprintf(buf, len, "%s:%u", a->host, a->port);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int64_t real_s(void)
{
	return (int64_t)time(NULL);
}

/* Where writes go, under RCU. */

bool redis__route(struct redis *r, unsigned slot, struct redis_addr *ap,
		  unsigned *genp)
{
	const struct redis__map *m;
	unsigned i = 0;
	bool ok = false;

	urcu_memb_read_lock();
	m = rcu_dereference(r->map);
	if (m && m->cluster)
		i = m->slot[slot & (REDIS_SLOTS - 1)];
	if (m && i < m->nmasters) {
		*ap = m->masters[i];
		*genp = m->gen;
		ok = true;
	}
	urcu_memb_read_unlock();
	return ok;
}

unsigned redis__map_gen(struct redis *r)
{
	const struct redis__map *m;
	unsigned gen = 0;

	urcu_memb_read_lock();
	m = rcu_dereference(r->map);
	if (m)
		gen = m->gen;
	urcu_memb_read_unlock();
	return gen;
}

bool redis__map_has(struct redis *r, const struct redis_addr *a)
{
	const struct redis__map *m;
	bool has = false;

	urcu_memb_read_lock();
	m = rcu_dereference(r->map);
	for (unsigned i = 0; m && i < m->nmasters && !has; i++)
		has = redis__addr_same(&m->masters[i], a);
	urcu_memb_read_unlock();
	return has;
}

void redis__want_refresh(struct redis *r)
{
	/* The store thread looks at it every POLL_MS. */
	if (r->nseeds)
		atomic_store(&r->need_refresh, true);
}

static void map_free_cb(struct rcu_head *h)
{
	free(caa_container_of(h, struct redis__map, rcu));
}

/* Same masters in the same order, and the same slots. */
static bool map_same(const struct redis__map *a, const struct redis__map *b,
		     bool slots)
{
	if (a->cluster != b->cluster || a->nmasters != b->nmasters)
		return false;
	for (unsigned i = 0; i < a->nmasters; i++)
		if (!redis__addr_same(&a->masters[i], &b->masters[i]))
			return false;
	return !slots || !a->cluster ||
	       memcmp(a->slot, b->slot, sizeof(a->slot)) == 0;
}

/* Publish @p m (ours from now on; freed when it is the same as the
 * current one). Thread: the store thread, or redis_start(). */
static void map_publish(struct redis *r, struct redis__map *m)
{
	struct redis__map *old = rcu_dereference(r->map);

	if (old && map_same(old, m, true)) {
		free(m);
		return;
	}
	m->gen = old ? old->gen + 1 : 1;
	old = rcu_xchg_pointer(&r->map, m);
	if (old)
		urcu_memb_call_rcu(&old->rcu, map_free_cb);
}

/* Publish @p a as the one master. */
static int target_set(struct redis *r, const struct redis_addr *a)
{
	struct redis__map *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->nmasters = 1;
	m->masters[0] = *a;
	map_publish(r, m);
	return 0;
}

/* Applying sets read from Redis. */

/* True when @p cur holds exactly the bindings of @p c[0..n). */
static bool same_set(const struct loc_set *cur, const struct loc_contact *c,
		     unsigned n)
{
	if (cur->n != n)
		return false;
	for (unsigned i = 0; i < n; i++) {
		bool found = false;

		for (unsigned j = 0; j < cur->n && !found; j++)
			found = redis__same_binding(&c[i], &cur->c[j]) &&
				c[i].stamp_ms == cur->c[j].stamp_ms &&
				c[i].expires_s == cur->c[j].expires_s;
		if (!found)
			return false;
	}
	return true;
}

int redis__apply(struct slice aor, struct loc_contact *in, unsigned n,
		 int64_t now_s)
{
	struct loc_contact out[CONTACTS_MAX];
	const struct loc_set *cur;
	unsigned k = 0;
	int ret = 0;

	urcu_memb_read_lock();
	cur = loc_lookup_rcu(aor);
	if (cur && !obj_tryget((void *)cur))
		cur = NULL;
	urcu_memb_read_unlock();
	for (unsigned i = 0; i < n && k < REDIS_MAX_CONTACTS; i++) {
		struct loc_contact c = in[i];

		if (c.expires_s <= now_s)
			continue;
		/* A TCP connection id means something only to the process
		 * that accepted it: keep ours for a binding we hold with the
		 * same stamp (our own change coming back), else none. */
		c.flow.conn_id = 0;
		c.flow.listen_idx = 0;
		for (unsigned j = 0; cur && j < cur->n; j++)
			if (redis__same_binding(&c, &cur->c[j]) &&
			    cur->c[j].stamp_ms == c.stamp_ms) {
				c.flow = cur->c[j].flow;
				break;
			}
		out[k++] = c;
	}
	/* The config's bindings (never expire) are not in Redis. */
	for (unsigned j = 0; cur && j < cur->n && k < CONTACTS_MAX; j++)
		if (cur->c[j].expires_s == INT64_MAX)
			out[k++] = cur->c[j];
	if (cur ? !same_set(cur, out, k) : k > 0) {
		ret = loc_publish(aor, out, k);
		if (ret == 0)
			ret = 1;
	}
	obj_put((void *)cur);
	return ret;
}

struct redisContext *redis__connect(const struct redis *r,
				    const struct redis_addr *a, char *why,
				    size_t whylen)
{
	struct timeval ct = { (time_t)(r->connect_timeout_ms / 1000),
			      (suseconds_t)((r->connect_timeout_ms % 1000) *
					    1000) };
	struct timeval tt = { (time_t)(r->command_timeout_ms / 1000),
			      (suseconds_t)((r->command_timeout_ms % 1000) *
					    1000) };
	char db[16];
	redisReply *rep = NULL;
	redisContext *c;

	c = a->is_unix ? redisConnectUnixWithTimeout(a->path, ct)
		       : redisConnectWithTimeout(a->host, a->port, ct);
	if (!c) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	if (c->err || redisSetTimeout(c, tt) != REDIS_OK) {
		snprintf(why, whylen, "%s",
			 c->errstr[0] ? c->errstr : "connect failed");
		goto fail;
	}
	redisEnableKeepAlive(c);
	if (r->password) {
		rep = redisCommandArgv(
		    c, 2, (const char *[]){ "AUTH", r->password }, NULL);
		if (!rep || rep->type == REDIS_REPLY_ERROR) {
			snprintf(why, whylen, "AUTH: %s",
				 rep ? rep->str : c->errstr);
			goto fail;
		}
		freeReplyObject(rep);
		rep = NULL;
	}
	snprintf(db, sizeof(db), "%u", r->db);
	if (r->db && !r->nseeds) {
		rep = redisCommandArgv(c, 2, (const char *[]){ "SELECT", db },
				       NULL);
		if (!rep || rep->type == REDIS_REPLY_ERROR) {
			snprintf(why, whylen, "SELECT: %s",
				 rep ? rep->str : c->errstr);
			goto fail;
		}
		freeReplyObject(rep);
	}
	return c;
fail:
	if (rep)
		freeReplyObject(rep);
	redisFree(c);
	return NULL;
}

/* The store thread. */

struct st {
	struct redis *r;
	/* cmd[i]: the connection to master i of the map (one without a
	 * cluster). */
	redisContext *cmd[REDIS_MAX_MASTERS], *sub, *sen;
	unsigned ncmd;
	uint64_t last_refresh;
	struct redis_addr known[REDIS_MAX_MASTERS * 2]; /* cluster nodes */
	unsigned nknown;
	bool up;
	bool down_logged;
	bool switched; /* +switch-master for our master seen */
	unsigned backoff_ms;
	uint64_t retry_at, last_check, last_sen_try, down_since;
	char why[256];
	char name[160]; /* the master, for messages */
	/* Of the servers we last wrote back to, one after the other. */
	char run_id[REDIS_MAX_MASTERS * 41 + 1];
	struct codec_buf out, tmp;
	struct redis__op *ops;
	unsigned ops_cap;
	struct loc_contact *cv;
	struct log_ratelimit rl;
};

static struct timeval tv_of(unsigned ms)
{
	struct timeval tv = { (time_t)(ms / 1000),
			      (suseconds_t)((ms % 1000) * 1000) };

	return tv;
}

static redisContext *sync_connect(struct st *s, const struct redis_addr *a)
{
	const struct redis *r = s->r;
	redisContext *c;

	c = a->is_unix ? redisConnectUnixWithTimeout(
			     a->path, tv_of(r->connect_timeout_ms))
		       : redisConnectWithTimeout(a->host, a->port,
						 tv_of(r->connect_timeout_ms));
	if (!c) {
		snprintf(s->why, sizeof(s->why), "out of memory");
		return NULL;
	}
	if (c->err ||
	    redisSetTimeout(c, tv_of(r->command_timeout_ms)) != REDIS_OK) {
		snprintf(s->why, sizeof(s->why), "%s",
			 c->errstr[0] ? c->errstr : "connect failed");
		redisFree(c);
		return NULL;
	}
	redisEnableKeepAlive(c);
	return c;
}

/* One command; NULL (with s->why) on a broken connection or an error
 * reply. */
static redisReply *call(struct st *s, redisContext *c, int argc,
			const char **argv)
{
	redisReply *rep = redisCommandArgv(c, argc, argv, NULL);

	if (!rep) {
		snprintf(s->why, sizeof(s->why), "%s",
			 c->errstr[0] ? c->errstr : "no reply");
		return NULL;
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		snprintf(s->why, sizeof(s->why), "%s", rep->str);
		freeReplyObject(rep);
		return NULL;
	}
	return rep;
}

static int call_ok(struct st *s, redisContext *c, int argc, const char **argv)
{
	redisReply *rep = call(s, c, argc, argv);

	if (!rep)
		return -EIO;
	freeReplyObject(rep);
	return 0;
}

/* AUTH and (for @p select) SELECT. */
static int login(struct st *s, redisContext *c, bool select)
{
	const struct redis *r = s->r;
	char db[16];

	if (r->password &&
	    call_ok(s, c, 2, (const char *[]){ "AUTH", r->password }))
		return -EACCES;
	snprintf(db, sizeof(db), "%u", r->db);
	if (select && r->db &&
	    call_ok(s, c, 2, (const char *[]){ "SELECT", db }))
		return -EINVAL;
	return 0;
}

static bool is_str(const redisReply *r)
{
	return r &&
	       (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

/* "IP" "PORT" strings into @p a. */
static int addr_of(const redisReply *host, const redisReply *port,
		   struct redis_addr *a)
{
	char buf[96];

	if (!is_str(host) || !is_str(port) || host->len > 64)
		return -EINVAL;
	if (strchr(host->str, ':'))
		snprintf(buf, sizeof(buf), "[%s]:%s", host->str, port->str);
	else
		snprintf(buf, sizeof(buf), "%s:%s", host->str, port->str);
	return redis_addr_parse(buf, a);
}

/* A Sentinel connection subscribed to +switch-master. */
static void sen_open(struct st *s)
{
	const struct redis *r = s->r;
	redisContext *c;
	redisReply *rep;

	s->last_sen_try = mono_ms();
	for (unsigned i = 0; i < r->nsentinels && !s->sen; i++) {
		c = sync_connect(s, &r->sentinels[i]);
		if (!c)
			continue;
		rep = call(s, c, 2,
			   (const char *[]){ "SUBSCRIBE", "+switch-master" });
		if (!rep) {
			redisFree(c);
			continue;
		}
		freeReplyObject(rep);
		s->sen = c;
	}
}

/* Ask the Sentinels for the master. */
static int discover(struct st *s, struct redis_addr *ap)
{
	const struct redis *r = s->r;
	redisContext *c;
	redisReply *rep;
	int err = -EHOSTUNREACH;

	for (unsigned i = 0; i < r->nsentinels && err; i++) {
		c = sync_connect(s, &r->sentinels[i]);
		if (!c)
			continue;
		rep = call(s, c, 3,
			   (const char *[]){ "SENTINEL",
					     "get-master-addr-by-name",
					     r->master_name });
		if (rep && rep->type == REDIS_REPLY_ARRAY &&
		    rep->elements == 2 &&
		    addr_of(rep->element[0], rep->element[1], ap) == 0)
			err = 0;
		else if (rep)
			snprintf(s->why, sizeof(s->why),
				 "Sentinel does not know master '%s'",
				 r->master_name);
		if (rep)
			freeReplyObject(rep);
		redisFree(c);
	}
	if (!s->sen)
		sen_open(s);
	return err;
}

/* Read every reply @p n appended commands get; error replies are
 * counted (logged, rate-limited), a broken connection is an error. */
static int drain(struct st *s, redisContext *c, unsigned n)
{
	int err = 0;
	void *v;

	for (unsigned i = 0; i < n; i++) {
		redisReply *rep;

		if (redisGetReply(c, &v) != REDIS_OK || !v) {
			snprintf(s->why, sizeof(s->why), "%s",
				 c->errstr[0] ? c->errstr : "no reply");
			return -EIO;
		}
		rep = v;
		/* A cluster that moved a slot since we read its map: read
		 * it again and write back again (the table has it all). */
		if (rep->type == REDIS_REPLY_ERROR &&
		    (strncmp(rep->str, "MOVED ", 6) == 0 ||
		     strncmp(rep->str, "ASK ", 4) == 0 ||
		     strncmp(rep->str, "TRYAGAIN", 8) == 0 ||
		     strncmp(rep->str, "CLUSTERDOWN", 11) == 0)) {
			snprintf(s->why, sizeof(s->why), "write-back: %s",
				 rep->str);
			atomic_store(&s->r->need_push, true);
			err = -EAGAIN;
		} else if (rep->type == REDIS_REPLY_ERROR &&
			   log_ratelimit_ok(&s->rl)) {
			log_msg(LOG_ERR, "redis: write-back: %s", rep->str);
		}
		freeReplyObject(rep);
	}
	return err;
}

/* The connection to the master of @p slot. */
static unsigned master_of(const struct st *s, unsigned slot)
{
	const struct redis__map *m = rcu_dereference(s->r->map);
	unsigned i = m && m->cluster ? m->slot[slot] : 0;

	return i < s->ncmd ? i : 0;
}

/* Write the whole local table back (equal stamps change nothing). */
static long push_all(struct st *s)
{
	const struct loc_set **sets = NULL;
	unsigned pending[REDIS_MAX_MASTERS] = { 0 };
	size_t nsets = 0;
	long sent = 0;
	int err, n;
	unsigned m;

	err = loc_get_all(&sets, &nsets);
	if (err) {
		snprintf(s->why, sizeof(s->why), "write-back: %s",
			 err_str(err));
		return err;
	}
	for (size_t i = 0; i < nsets && !err; i++) {
		n = redis__diff(NULL, sets[i], (int64_t)real_s() * 1000,
				&s->ops, &s->ops_cap);
		if (n <= 0) {
			err = n;
			continue; /* nothing to store, or out of memory */
		}
		err = redis__cmd_update(&s->out, &s->tmp, &s->r->nm,
					sets[i]->aor, s->ops, (unsigned)n);
		if (err)
			break;
		m = master_of(
		    s, redis__aor_slot(&s->tmp, &s->r->nm, sets[i]->aor));
		if (redisAppendFormattedCommand(s->cmd[m], s->out.p,
						s->out.len) != REDIS_OK) {
			err = -ENOMEM;
			break;
		}
		sent++;
		if (++pending[m] == BATCH) {
			err = drain(s, s->cmd[m], pending[m]);
			pending[m] = 0;
		}
	}
	/* Every reply read, even after an error (or the connection stays
	 * out of step). */
	for (m = 0; m < s->ncmd; m++) {
		int e = pending[m] ? drain(s, s->cmd[m], pending[m]) : 0;

		if (!err)
			err = e;
	}
	loc_put_all(sets, nsets);
	if (err == -ENOMEM)
		snprintf(s->why, sizeof(s->why), "write-back: out of memory");
	return err ? err : sent;
}

/* Apply the values of one AOR (a HVALS reply). */
static int apply_values(struct st *s, struct slice aor, redisReply *vals,
			int64_t now_s)
{
	unsigned n = 0;
	int r;

	if (vals->type != REDIS_REPLY_ARRAY)
		return -EBADMSG;
	for (size_t i = 0; i < vals->elements && n < REDIS_MAX_CONTACTS; i++) {
		redisReply *v = vals->element[i];

		if (v->type != REDIS_REPLY_STRING)
			return -EBADMSG;
		r = redis__value_parse(v->str, v->len, &s->cv[n]);
		if (r < 0 && log_ratelimit_ok(&s->rl))
			log_msg(LOG_WARN, "redis: %.*s: malformed binding",
				(int)aor.len, aor.p);
		if (r == 0)
			n++;
	}
	r = redis__apply(aor, s->cv, n, now_s);
	if (r > 0)
		atomic_fetch_add_explicit(&s->r->applied, 1,
					  memory_order_relaxed);
	return r < 0 ? r : 0;
}

/* Load every AOR of one server: SCAN (never on the message path) and
 * HVALS. */
static long load_one(struct st *s, redisContext *c)
{
	char cursor[32] = "0", pattern[96];
	redisReply *rep = NULL, *keys;
	long naor = 0;
	int err = 0;

	snprintf(pattern, sizeof(pattern), "%s:loc:*", s->r->nm.ns);
	for (long round = 0; round < SCAN_ROUNDS; round++) {
		rep = call(s, c, 6,
			   (const char *[]){ "SCAN", cursor, "MATCH", pattern,
					     "COUNT", SCAN_COUNT });
		if (!rep)
			return -EIO;
		if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
		    !is_str(rep->element[0]) ||
		    rep->element[0]->len >= sizeof(cursor) ||
		    rep->element[1]->type != REDIS_REPLY_ARRAY) {
			snprintf(s->why, sizeof(s->why), "SCAN: bad reply");
			freeReplyObject(rep);
			return -EBADMSG;
		}
		keys = rep->element[1];
		for (size_t i = 0; i < keys->elements; i++)
			if (!is_str(keys->element[i]))
				err = -EBADMSG;
		for (size_t i = 0; i < keys->elements && !err; i++) {
			const char *argv[2] = { "HVALS",
						keys->element[i]->str };
			size_t lens[2] = { 5, keys->element[i]->len };

			if (redisAppendCommandArgv(c, 2, argv, lens) !=
			    REDIS_OK) {
				err = -ENOMEM;
				break;
			}
		}
		for (size_t i = 0; i < keys->elements && !err; i++) {
			redisReply *k = keys->element[i], *vals;
			struct slice aor;
			void *v;

			if (redisGetReply(c, &v) != REDIS_OK || !v) {
				snprintf(s->why, sizeof(s->why), "HVALS: %s",
					 c->errstr);
				err = -EIO;
				break;
			}
			vals = v;
			if (redis__key_aor(&s->r->nm,
					   slice_make(k->str, k->len),
					   &aor) == 0 &&
			    apply_values(s, aor, vals, real_s()) == 0)
				naor++;
			freeReplyObject(vals);
		}
		memcpy(cursor, rep->element[0]->str, rep->element[0]->len);
		cursor[rep->element[0]->len] = '\0';
		freeReplyObject(rep);
		if (err)
			return err;
		if (strcmp(cursor, "0") == 0)
			return naor;
	}
	snprintf(s->why, sizeof(s->why), "SCAN did not end");
	return -EIO;
}

/* Every master's AORs: with a cluster, each holds its own slots'. */
static long load_all(struct st *s)
{
	long n = 0, one;

	for (unsigned i = 0; i < s->ncmd; i++) {
		one = load_one(s, s->cmd[i]);
		if (one < 0)
			return one;
		n += one;
	}
	return n;
}

static void close_conns(struct st *s)
{
	for (unsigned i = 0; i < REDIS_MAX_MASTERS; i++) {
		if (s->cmd[i])
			redisFree(s->cmd[i]);
		s->cmd[i] = NULL;
	}
	s->ncmd = 0;
	if (s->sub)
		redisFree(s->sub);
	s->sub = NULL;
}

static void down_all(struct st *s)
{
	uint64_t now = mono_ms();

	close_conns(s);
	atomic_store(&s->r->connected, false);
	if (s->up || !s->down_logged) {
		log_msg(LOG_WARN,
			"redis: %s%s%s: %s; degraded: routing from the local "
			"table, writes queued",
			s->up ? "lost " : "cannot reach ",
			s->name[0] && !s->r->nseeds ? "master " : "",
			s->name[0] ? s->name : "", s->why);
		s->down_logged = true;
		s->down_since = now;
	}
	s->up = false;
	s->retry_at = now + s->backoff_ms;
	s->backoff_ms =
	    s->backoff_ms * 2 > BACKOFF_MAX ? BACKOFF_MAX : s->backoff_ms * 2;
}

/* The server's run_id (INFO server): another process, another run_id. */
static void run_id_of(struct st *s, redisContext *c, char *out, size_t cap)
{
	redisReply *rep = call(s, c, 2, (const char *[]){ "INFO", "server" });
	const char *p;
	size_t n;

	out[0] = '\0';
	if (!rep)
		return;
	p = rep->type == REDIS_REPLY_STRING ? strstr(rep->str, "run_id:")
					    : NULL;
	if (p) {
		p += 7;
		n = strcspn(p, "\r\n");
		snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), p);
	}
	freeReplyObject(rep);
}

/* Remember cluster node @p a (to ask for the map when the seeds are
 * away). */
static void known_add(struct st *s, const struct redis_addr *a)
{
	for (unsigned i = 0; i < s->nknown; i++)
		if (redis__addr_same(&s->known[i], a))
			return;
	if (s->nknown < sizeof(s->known) / sizeof(s->known[0]))
		s->known[s->nknown++] = *a;
}

/* One node of a CLUSTER SLOTS entry: [IP, PORT, ID, ...]; an empty IP
 * is the node asked (@p asked). */
static int node_of(const redisReply *n, const struct redis_addr *asked,
		   struct redis_addr *ap)
{
	redisReply port;
	char buf[16];

	if (n->type != REDIS_REPLY_ARRAY || n->elements < 2 ||
	    !is_str(n->element[0]) ||
	    n->element[1]->type != REDIS_REPLY_INTEGER)
		return -EBADMSG;
	snprintf(buf, sizeof(buf), "%lld", n->element[1]->integer);
	port = (redisReply){ .type = REDIS_REPLY_STRING,
			     .str = buf,
			     .len = strlen(buf) };
	if (n->element[0]->len == 0 || strcmp(n->element[0]->str, "?") == 0) {
		if (asked->is_unix)
			return -EBADMSG;
		*ap = *asked;
		ap->port = (uint16_t)n->element[1]->integer;
		return ap->port ? 0 : -EBADMSG;
	}
	return addr_of(n->element[0], &port, ap);
}

/* The map from CLUSTER SLOTS on @p c (node @p asked), into a new
 * struct (*mp, malloc'd). Every slot must have its master. */
static int slots_read(struct st *s, redisContext *c,
		      const struct redis_addr *asked, struct redis__map **mp)
{
	struct redis__map *m;
	redisReply *rep;
	unsigned covered = 0;
	int err = 0;

	rep = call(s, c, 2, (const char *[]){ "CLUSTER", "SLOTS" });
	if (!rep)
		return -EIO;
	m = calloc(1, sizeof(*m));
	if (!m) {
		freeReplyObject(rep);
		return -ENOMEM;
	}
	m->cluster = true;
	memset(m->slot, REDIS_NO_MASTER, sizeof(m->slot));
	if (rep->type != REDIS_REPLY_ARRAY)
		err = -EBADMSG;
	for (size_t i = 0; !err && i < rep->elements; i++) {
		const redisReply *e = rep->element[i];
		struct redis_addr a;
		unsigned k;
		long long lo, hi;

		if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
		    e->element[0]->type != REDIS_REPLY_INTEGER ||
		    e->element[1]->type != REDIS_REPLY_INTEGER) {
			err = -EBADMSG;
			break;
		}
		lo = e->element[0]->integer;
		hi = e->element[1]->integer;
		err = node_of(e->element[2], asked, &a);
		if (err || lo < 0 || hi < lo || hi >= REDIS_SLOTS) {
			err = -EBADMSG;
			break;
		}
		for (size_t j = 2; j < e->elements; j++) {
			struct redis_addr n;

			if (node_of(e->element[j], asked, &n) == 0)
				known_add(s, &n);
		}
		for (k = 0; k < m->nmasters; k++)
			if (redis__addr_same(&m->masters[k], &a))
				break;
		if (k == m->nmasters) {
			if (k == REDIS_MAX_MASTERS) {
				snprintf(s->why, sizeof(s->why),
					 "more than %d masters",
					 REDIS_MAX_MASTERS);
				err = -E2BIG;
				break;
			}
			m->masters[m->nmasters++] = a;
		}
		for (long long x = lo; x <= hi; x++) {
			if (m->slot[x] == REDIS_NO_MASTER)
				covered++;
			m->slot[x] = (uint8_t)k;
		}
	}
	if (err == -EBADMSG)
		snprintf(s->why, sizeof(s->why), "CLUSTER SLOTS: bad reply");
	if (!err && covered != REDIS_SLOTS) {
		snprintf(s->why, sizeof(s->why),
			 "the cluster serves %u of %d slots", covered,
			 REDIS_SLOTS);
		err = -EAGAIN;
	}
	freeReplyObject(rep);
	if (err) {
		free(m);
		return err;
	}
	*mp = m;
	return 0;
}

/* The map from the first seed or known node that gives one. */
static int topology(struct st *s, struct redis__map **mp)
{
	const struct redis *r = s->r;
	struct redis_addr a;
	redisContext *c;
	int err = -EHOSTUNREACH;

	for (unsigned i = 0; i < r->nseeds + s->nknown && err; i++) {
		a = i < r->nseeds ? r->seeds[i] : s->known[i - r->nseeds];
		c = sync_connect(s, &a);
		if (!c)
			continue;
		err = login(s, c, false);
		if (!err)
			err = slots_read(s, c, &a, mp);
		redisFree(c);
		if (err == -ENOMEM)
			break;
	}
	return err;
}

/* Connect to master @p a as s->cmd[i]: AUTH, SELECT, SCRIPT LOAD, and
 * append its run_id to @p run_id. */
static int master_open(struct st *s, unsigned i, const struct redis_addr *a,
		       char *run_id, size_t cap)
{
	redisReply *rep;
	size_t n = strlen(run_id);

	s->cmd[i] = sync_connect(s, a);
	if (!s->cmd[i] || login(s, s->cmd[i], true))
		return -EIO;
	s->ncmd = i + 1;
	if (s->r->nsentinels) {
		/* A Sentinel's answer may be stale: ask the server. */
		rep = call(s, s->cmd[i], 1, (const char *[]){ "ROLE" });
		if (!rep || rep->type != REDIS_REPLY_ARRAY ||
		    rep->elements < 1 || !is_str(rep->element[0]) ||
		    strcmp(rep->element[0]->str, "master") != 0) {
			if (rep)
				snprintf(s->why, sizeof(s->why),
					 "not a master (yet)");
			if (rep)
				freeReplyObject(rep);
			return -EAGAIN;
		}
		freeReplyObject(rep);
	}
	rep = call(s, s->cmd[i], 3,
		   (const char *[]){ "SCRIPT", "LOAD", redis__script });
	if (!rep)
		return -EIO;
	freeReplyObject(rep);
	if (n + 1 < cap) {
		run_id_of(s, s->cmd[i], run_id + n, cap - n);
		if (!run_id[n])
			run_id[0] = '\0'; /* unknown: write back */
	}
	return 0;
}

static int connect_all(struct st *s)
{
	struct redis *r = s->r;
	struct redis__map *m = NULL;
	const struct redis__map *cur;
	struct redis_addr a;
	redisReply *rep;
	uint64_t t0 = mono_ms();
	long pushed = 0, loaded;
	char run_id[sizeof(s->run_id)] = "";
	size_t o;
	int err;

	if (r->nseeds) {
		err = topology(s, &m);
		if (err)
			return err;
		map_publish(r, m); /* the shards follow it at once */
		s->last_refresh = mono_ms();
	} else if (r->nsentinels) {
		err = discover(s, &a);
		if (err)
			return err;
	} else {
		a = r->fixed;
	}
	if (!r->nseeds) {
		redis__addr_name(&a, s->name, sizeof(s->name));
		err = master_open(s, 0, &a, run_id, sizeof(run_id));
		if (err)
			return err;
		err = target_set(r, &a);
		if (err)
			return err;
	} else {
		cur = rcu_dereference(r->map);
		o = (size_t)snprintf(s->name, sizeof(s->name), "cluster ");
		for (unsigned i = 0; i < cur->nmasters; i++) {
			a = cur->masters[i];
			if (o < sizeof(s->name)) {
				redis__addr_name(&a, s->name + o,
						 sizeof(s->name) - o);
				o = strlen(s->name);
				if (i + 1 < cur->nmasters &&
				    o + 1 < sizeof(s->name))
					s->name[o++] = ',', s->name[o] = '\0';
			}
			err = master_open(s, i, &a, run_id, sizeof(run_id));
			if (err)
				return err;
		}
		/* PUBLISH in a Redis Cluster reaches every node: one
		 * subscription, on the first master, hears all changes. */
		a = cur->masters[0];
	}
	s->sub = sync_connect(s, &a);
	if (!s->sub || login(s, s->sub, false))
		return -EIO;
	rep =
	    call(s, s->sub, 2, (const char *[]){ "SUBSCRIBE", r->nm.channel });
	if (!rep)
		return -EIO;
	freeReplyObject(rep);
	/* Subscribed first: what changes during the load comes after it
	 * on the channel, so the last set applied is the newest. The
	 * write-back is for a server that may lack what we hold: another
	 * one (restarted, promoted), or one a shard could not write to. */
	if (!run_id[0] || strcmp(run_id, s->run_id) != 0 ||
	    atomic_exchange(&r->need_push, false)) {
		atomic_store(&r->need_push, false);
		pushed = push_all(s);
		if (pushed < 0)
			return (int)pushed;
	}
	snprintf(s->run_id, sizeof(s->run_id), "%s", run_id);
	loaded = load_all(s);
	if (loaded < 0)
		return (int)loaded;
	atomic_fetch_add_explicit(&r->resyncs, 1, memory_order_relaxed);
	s->up = true;
	s->backoff_ms = BACKOFF_MIN;
	s->last_check = mono_ms();
	atomic_store(&r->connected, true);
	if (s->down_logged)
		log_msg(LOG_NOTICE,
			"redis: %s%s back after %.1f s: wrote back %ld "
			"AORs, loaded %ld in %" PRIu64 " ms",
			r->nseeds ? "" : "master ", s->name,
			(double)(mono_ms() - s->down_since) / 1000.0, pushed,
			loaded, mono_ms() - t0);
	else
		log_msg(LOG_INFO,
			"redis: %s%s: wrote back %ld AORs, loaded %ld "
			"in %" PRIu64 " ms",
			r->nseeds ? "" : "master ", s->name, pushed, loaded,
			mono_ms() - t0);
	s->down_logged = false;
	return 0;
}

/* One message of the channel. */
static void on_message(struct st *s, redisReply *m)
{
	struct slice aor;
	unsigned n = 0;
	int err;

	if (m->type != REDIS_REPLY_ARRAY || m->elements != 3 ||
	    !is_str(m->element[0]) || strcmp(m->element[0]->str, "message") ||
	    m->element[2]->type != REDIS_REPLY_STRING)
		return; /* (un)subscribe confirmations */
	err = redis__msg_parse(m->element[2]->str, m->element[2]->len, &aor,
			       s->cv, REDIS_MAX_CONTACTS, &n);
	if (err == 0)
		err = redis__apply(aor, s->cv, n, real_s());
	if (err > 0)
		atomic_fetch_add_explicit(&s->r->applied, 1,
					  memory_order_relaxed);
	if (err < 0 && log_ratelimit_ok(&s->rl))
		log_msg(LOG_WARN, "redis: a change on %s: %s", s->r->nm.channel,
			err_str(err));
}

/* Everything readable on @p c, each reply to @p fn. */
static int read_all(struct st *s, redisContext *c,
		    void (*fn)(struct st *, redisReply *))
{
	void *v;

	if (redisBufferRead(c) != REDIS_OK) {
		snprintf(s->why, sizeof(s->why), "%s",
			 c->errstr[0] ? c->errstr : "read failed");
		return -EIO;
	}
	for (int i = 0; i < READ_ROUNDS; i++) {
		if (redisGetReplyFromReader(c, &v) != REDIS_OK) {
			snprintf(s->why, sizeof(s->why), "%s", c->errstr);
			return -EIO;
		}
		if (!v)
			return 0;
		fn(s, v);
		freeReplyObject(v);
	}
	return 0;
}

/* "+switch-master NAME OLDIP OLDPORT NEWIP NEWPORT". */
static void on_sentinel(struct st *s, redisReply *m)
{
	char name[128], ip[64], port[8];
	redisReply h = { .type = REDIS_REPLY_STRING }, p = h;
	struct redis_addr a;

	if (m->type != REDIS_REPLY_ARRAY || m->elements != 3 ||
	    !is_str(m->element[2]) ||
	    sscanf(m->element[2]->str, "%127s %*s %*s %63s %7s", name, ip,
		   port) != 3 ||
	    strcmp(name, s->r->master_name) != 0)
		return;
	h.str = ip;
	h.len = strlen(ip);
	p.str = port;
	p.len = strlen(port);
	if (addr_of(&h, &p, &a) == 0 && target_set(s->r, &a) == 0) {
		log_msg(LOG_NOTICE, "redis: Sentinel: master %s moved to %s:%s",
			name, ip, port);
		s->switched = true;
	}
}

/*
 * A cluster's map again (a shard saw MOVED or lost a node, or
 * REFRESH_MS passed), from the first master we hold: the same masters
 * with slots moved between them is published and the shards follow;
 * other masters (a fail-over, a node added) mean reconnecting, with a
 * write-back to the new ones.
 */
static int refresh(struct st *s)
{
	struct redis__map *m = NULL;
	const struct redis__map *cur = rcu_dereference(s->r->map);
	int err;

	s->last_refresh = mono_ms();
	atomic_store(&s->r->need_refresh, false);
	err = slots_read(s, s->cmd[0], &cur->masters[0], &m);
	if (err == -EIO)
		return err;
	if (err) {
		/* A cluster in the middle of a change: again soon. */
		atomic_store(&s->r->need_refresh, true);
		return 0;
	}
	if (!map_same(cur, m, false)) {
		free(m);
		snprintf(s->why, sizeof(s->why),
			 "the cluster's masters changed");
		return -EAGAIN;
	}
	if (!map_same(cur, m, true))
		log_msg(LOG_NOTICE,
			"redis: cluster slots moved; map refreshed");
	map_publish(s->r, m);
	return 0;
}

/* Is the master still one (each master, with a cluster)? */
static int check(struct st *s)
{
	redisReply *rep;
	int err = 0;

	s->last_check = mono_ms();
	if (!s->r->nsentinels) {
		for (unsigned i = 0; i < s->ncmd && !err; i++)
			err = call_ok(s, s->cmd[i], 1,
				      (const char *[]){ "PING" });
		return err;
	}
	rep = call(s, s->cmd[0], 1, (const char *[]){ "ROLE" });
	if (!rep)
		return -EIO;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 ||
	    !is_str(rep->element[0]) ||
	    strcmp(rep->element[0]->str, "master") != 0) {
		snprintf(s->why, sizeof(s->why), "%s is no longer the master",
			 s->name);
		err = -EAGAIN;
	}
	freeReplyObject(rep);
	return err;
}

static void signal_first(struct redis *r)
{
	pthread_mutex_lock(&r->lock);
	r->first_done = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

static void one_round(struct st *s)
{
	struct redis *r = s->r;
	struct pollfd pfd[3];
	uint64_t v;
	nfds_t n = 0;
	int sub_i = -1, sen_i = -1;

	if (!s->up && mono_ms() >= s->retry_at) {
		if (connect_all(s))
			down_all(s);
		signal_first(r);
	}
	pfd[n++] = (struct pollfd){ r->wake_fd, POLLIN, 0 };
	if (s->up) {
		sub_i = (int)n;
		pfd[n++] = (struct pollfd){ s->sub->fd, POLLIN, 0 };
	}
	if (s->sen) {
		sen_i = (int)n;
		pfd[n++] = (struct pollfd){ s->sen->fd, POLLIN, 0 };
	}
	if (poll(pfd, n, POLL_MS) < 0)
		return;
	if (pfd[0].revents && read(r->wake_fd, &v, sizeof(v)) < 0)
		v = 0;
	if (sub_i >= 0 && pfd[sub_i].revents &&
	    read_all(s, s->sub, on_message) < 0)
		down_all(s);
	if (sen_i >= 0 && pfd[sen_i].revents) {
		s->switched = false;
		if (read_all(s, s->sen, on_sentinel) < 0) {
			redisFree(s->sen);
			s->sen = NULL;
		}
		if (s->switched && s->up) {
			snprintf(s->why, sizeof(s->why), "Sentinel fail-over");
			down_all(s);
			s->retry_at = 0; /* at once */
		}
	}
	if (s->up && mono_ms() - s->last_check >= CHECK_MS && check(s))
		down_all(s);
	if (s->up && r->nseeds &&
	    ((atomic_load(&r->need_refresh) &&
	      mono_ms() - s->last_refresh >= REFRESH_MIN_MS) ||
	     mono_ms() - s->last_refresh >= REFRESH_MS) &&
	    refresh(s)) {
		down_all(s);
		s->retry_at = 0; /* at once */
	}
	if (s->up && atomic_exchange(&r->need_push, false) && push_all(s) < 0)
		down_all(s);
	if (r->nsentinels && !s->sen &&
	    mono_ms() - s->last_sen_try >= SEN_RETRY_MS)
		sen_open(s);
}

static void *store_main(void *arg)
{
	struct redis *r = arg;
	struct st s;

	memset(&s, 0, sizeof(s));
	s.r = r;
	s.backoff_ms = BACKOFF_MIN;
	s.rl.burst = 5;
	pthread_setname_np(pthread_self(), "redis");
	urcu_memb_register_thread();
	s.cv = calloc(REDIS_MAX_CONTACTS, sizeof(*s.cv));
	/* Bounded: each round waits at most POLL_MS or a wake-up. */
	while (s.cv && !atomic_load(&r->stop))
		one_round(&s);
	if (!s.cv)
		log_msg(LOG_ERR, "redis: store thread: out of memory");
	signal_first(r);
	close_conns(&s);
	if (s.sen)
		redisFree(s.sen);
	codec_buf_free(&s.out);
	codec_buf_free(&s.tmp);
	free(s.ops);
	free(s.cv);
	urcu_memb_unregister_thread();
	return NULL;
}

/* Start and stop. */

static void settings_free(struct redis *r)
{
	free(r->password);
	free(r->master_name);
	free(r->sentinels);
	free(r->seeds);
	free(r->shards);
	free(r);
}

static int settings(struct redis *r, const struct redis_opts *o,
		    unsigned nshards)
{
	int err;

	err = redis__names_init(&r->nm, o->ns);
	if (err)
		return err;
	r->db = o->db;
	r->connect_timeout_ms =
	    o->connect_timeout_ms ? o->connect_timeout_ms : 1000;
	r->command_timeout_ms =
	    o->command_timeout_ms ? o->command_timeout_ms : 2000;
	r->queue_max = o->queue_max ? o->queue_max : 100000;
	r->nshards = nshards;
	if (o->password && !(r->password = strdup(o->password)))
		return -ENOMEM;
	if (o->ncluster) {
		if (o->nsentinels || o->address || o->db ||
		    o->ncluster > REDIS_MAX_MASTERS)
			return -EINVAL;
		r->seeds = calloc(o->ncluster, sizeof(*r->seeds));
		if (!r->seeds)
			return -ENOMEM;
		for (unsigned i = 0; i < o->ncluster; i++) {
			err = redis_addr_parse(o->cluster[i], &r->seeds[i]);
			if (err || r->seeds[i].is_unix)
				return -EINVAL;
		}
		r->nseeds = o->ncluster;
	} else if (o->nsentinels) {
		if (!o->sentinel_master)
			return -EINVAL;
		r->master_name = strdup(o->sentinel_master);
		r->sentinels = calloc(o->nsentinels, sizeof(*r->sentinels));
		if (!r->master_name || !r->sentinels)
			return -ENOMEM;
		for (unsigned i = 0; i < o->nsentinels; i++) {
			err =
			    redis_addr_parse(o->sentinels[i], &r->sentinels[i]);
			if (err)
				return err;
		}
		r->nsentinels = o->nsentinels;
	} else {
		err = redis_addr_parse(o->address, &r->fixed);
		if (err)
			return err;
		r->have_fixed = true;
	}
	r->shards = calloc(nshards ? nshards : 1, sizeof(*r->shards));
	return r->shards ? 0 : -ENOMEM;
}

/* The registry's view of these counters (proxy/base/stats.h). */
static const struct stats_item stats_items[] = {
	{ "connected", "1 while the store thread is in step with Redis", true },
	{ "written", "updates Redis acknowledged", false },
	{ "queued", "updates waiting now, all shards", true },
	{ "dropped", "updates dropped: queue full", false },
	{ "errors", "updates Redis refused for good", false },
	{ "reconnects", "shard connections made", false },
	{ "applied", "sets applied from Redis", false },
	{ "resyncs", "full loads done by the store thread", false },
	{ "redirects", "MOVED/ASK replies followed (Redis Cluster)", false },
};

static void stats_read(void *arg, unsigned inst, uint64_t *v)
{
	struct redis_stats st;

	(void)inst;
	redis_stats(arg, &st);
	v[0] = st.connected;
	v[1] = st.written;
	v[2] = st.queued;
	v[3] = st.dropped;
	v[4] = st.errors;
	v[5] = st.reconnects;
	v[6] = st.applied;
	v[7] = st.resyncs;
	v[8] = st.redirects;
}

int redis_start(const struct redis_opts *o, unsigned nshards, struct redis **rp)
{
	pthread_condattr_t ca;
	struct timespec until;
	uint64_t wait_ms;
	struct redis *r;
	int err;

	if (!o || !rp || nshards == 0)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->wake_fd = -1;
	err = settings(r, o, nshards);
	if (err) {
		settings_free(r);
		return err;
	}
	r->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (r->wake_fd < 0) {
		err = -errno;
		settings_free(r);
		return err;
	}
	/* Without Sentinel the shards know the master from the start. */
	if (r->have_fixed && (err = target_set(r, &r->fixed))) {
		close(r->wake_fd);
		settings_free(r);
		return err;
	}
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cond, &ca);
	pthread_condattr_destroy(&ca);
	loc_set_observer(redis__observe);
	err = -pthread_create(&r->thread, NULL, store_main, r);
	if (err) {
		loc_set_observer(NULL);
		r->thread_started = false;
		redis_stop(r);
		return err;
	}
	r->thread_started = true;
	/* The first write-back and load, bounded: connecting to each
	 * address, then the load itself. */
	wait_ms = (uint64_t)r->connect_timeout_ms * 2 *
		      (r->nsentinels + r->nseeds + 1) +
		  10000;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += (time_t)(wait_ms / 1000);
	until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&r->lock);
	while (!r->first_done &&
	       pthread_cond_timedwait(&r->cond, &r->lock, &until) == 0)
		;
	pthread_mutex_unlock(&r->lock);
	if (!atomic_load(&r->connected))
		log_msg(LOG_WARN, "redis: not in step yet; starting degraded "
				  "and catching up in the background");
	r->stats = (struct stats_source){
		.module = "redis",
		.items = stats_items,
		.nitems = sizeof(stats_items) / sizeof(stats_items[0]),
		.ninst = 1,
		.read = stats_read,
		.arg = r,
	};
	err = stats_add(&r->stats);
	if (err) {
		redis_stop(r);
		return err;
	}
	*rp = r;
	return 0;
}

void redis_stop(struct redis *r)
{
	struct redis__map *t;
	uint64_t one = 1;

	if (!r)
		return;
	atomic_store(&r->stop, true);
	if (r->thread_started) {
		if (write(r->wake_fd, &one, sizeof(one)) < 0)
			one = 0; /* the thread wakes within POLL_MS anyway */
		pthread_join(r->thread, NULL);
		stats_log_source(&r->stats, LOG_INFO);
	}
	stats_remove(&r->stats);
	loc_set_observer(NULL);
	t = rcu_xchg_pointer(&r->map, NULL);
	/* Old masters wait in call_rcu(): let them go before we do. */
	urcu_memb_barrier();
	free(t);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	if (r->wake_fd >= 0)
		close(r->wake_fd);
	settings_free(r);
}

void redis_stats(const struct redis *r, struct redis_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!r)
		return;
	out->connected = atomic_load(&r->connected);
	out->applied = atomic_load_explicit(&r->applied, memory_order_relaxed);
	out->resyncs = atomic_load_explicit(&r->resyncs, memory_order_relaxed);
	for (unsigned i = 0; i < r->nshards; i++) {
		const struct redis__shard *w = &r->shards[i];

		out->written += __atomic_load_n(&w->written, __ATOMIC_RELAXED);
		out->queued += __atomic_load_n(&w->waiting, __ATOMIC_RELAXED);
		out->dropped += __atomic_load_n(&w->dropped, __ATOMIC_RELAXED);
		out->errors += __atomic_load_n(&w->errors, __ATOMIC_RELAXED);
		out->reconnects +=
		    __atomic_load_n(&w->reconnects, __ATOMIC_RELAXED);
		out->redirects +=
		    __atomic_load_n(&w->redirects, __ATOMIC_RELAXED);
	}
}
