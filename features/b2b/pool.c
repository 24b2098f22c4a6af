/* features/b2b/pool.c - the B2B worker pool: its group of shards, its
 * role's default answers, the trust of its source */
#include "features/b2b/pool.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "features/b2b/b2b_conf.h"
#include "proxy/base/arena.h"
#include "proxy/base/err.h"
#include "proxy/base/log.h"
#include "proxy/core/conf.h"
#include "proxy/core/transport.h"
#include "proxy/sip/msg.h"
#include "proxy/sip/peer.h"
#include "proxy/sip/reply.h"

struct pool {
	struct shards *shards;
	unsigned workers;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char text[INET6_ADDRSTRLEN + 16];
};

/* A worker's role state. */
struct worker {
	void *ua; /* the UA core's, or NULL */
};

static const struct pool_ua *ua_core;

/*
 * The address pool_is_source() compares with, readable from any thread
 * without a lock: 0 when no pool runs, else SRC_SET | port, with the
 * IPv4 address in bits 16..47 or SRC_V6 for [::1] (b2b.listen allows
 * only loopback addresses). One pool per process.
 */
#define SRC_SET (UINT64_C(1) << 63)
#define SRC_V6	(UINT64_C(1) << 62)
static atomic_uint_fast64_t src_key;
static atomic_bool running;
/* Written before src_key is published, read after it is seen set. */
static struct sockaddr_storage self_addr;
static socklen_t self_addrlen;

static const char default_allow[] = "OPTIONS, ACK, BYE, CANCEL";
static const char accept_line[] = "Accept: application/sdp\r\n";

/* A worker counter: only the worker writes it, readers are relaxed. */
static void count(uint64_t *p)
{
	__atomic_store_n(p, *p + 1, __ATOMIC_RELAXED);
}

/* The key of @p sa, or 0 when it cannot be the pool's. */
static uint64_t key_of(const struct sockaddr_storage *sa)
{
	if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)sa;

		return SRC_SET | (uint64_t)ntohl(a->sin_addr.s_addr) << 16 |
		       ntohs(a->sin_port);
	}
	if (sa->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;

		if (!IN6_IS_ADDR_LOOPBACK(&a->sin6_addr))
			return 0;
		return SRC_SET | SRC_V6 | ntohs(a->sin6_port);
	}
	return 0;
}

bool pool_is_source(const struct peer *from)
{
	uint64_t k = atomic_load_explicit(&src_key, memory_order_acquire);

	if (!from || !k || from->proto != PEER_UDP)
		return false;
	return key_of(&from->addr) == k;
}

void *pool_ua_state(struct shard *sh)
{
	const struct worker *w = sh ? shard_role_state(sh) : NULL;

	return w ? w->ua : NULL;
}

int pool_self_addr(struct sockaddr_storage *ssp, socklen_t *lenp)
{
	if (!atomic_load_explicit(&src_key, memory_order_acquire))
		return -ENOENT;
	*ssp = self_addr;
	*lenp = self_addrlen;
	return 0;
}

int pool_set_ua(const struct pool_ua *ua)
{
	if (ua && !ua->new_state != !ua->free_state)
		return -EINVAL;
	ua_core = ua;
	return 0;
}

int pool_reply(struct shard *sh, const struct peer *from,
	       const struct sipmsg *m, unsigned status, struct slice extra)
{
	const struct sockaddr *src = (const struct sockaddr *)&from->addr;
	struct reply_opts o;
	struct slice out;
	struct peer to;
	int err;

	if (!m->is_request || m->method == SIP_ACK)
		return -EINVAL;
	memset(&o, 0, sizeof(o));
	o.status = status;
	o.server = slice_cstr(shard_conf(sh)->server_name);
	o.extra = extra;
	err = reply_build(m, src, &o, shard_arena(sh), &out);
	if (err)
		return err;
	memset(&to, 0, sizeof(to));
	to.proto = from->proto;
	to.conn_id = from->conn_id;
	to.listen_idx = from->listen_idx;
	err = reply_dest(m, src, peer_proto_is_stream(from->proto), &to.addr,
			 &to.addrlen);
	if (!err)
		err = tp_send(sh, &to, out.p, out.len);
	if (!err && status >= 100 && status < 700)
		count(&shard_stats(sh)->rsp_out[status / 100 - 1]);
	return err;
}

/* 200 to OPTIONS: Allow and Accept (RFC 3261 §11.2). */
static int answer_options(struct shard *sh, const struct peer *from,
			  const struct sipmsg *m)
{
	const char *allow =
	    ua_core && ua_core->allow ? ua_core->allow : default_allow;
	size_t len = 7 + strlen(allow) + 2 + sizeof(accept_line) - 1;
	char *p = arena_alloc(shard_arena(sh), len);

	if (!p)
		return -ENOMEM;
	memcpy(p, "Allow: ", 7);
	memcpy(p + 7, allow, strlen(allow));
	memcpy(p + 7 + strlen(allow), "\r\n", 2);
	memcpy(p + 9 + strlen(allow), accept_line, sizeof(accept_line) - 1);
	return pool_reply(sh, from, m, 200, slice_make(p, len));
}

/*
 * What a UA with no call answers (the UA core had none of it):
 * OPTIONS out of dialog 200; a request in a dialog (To tag) or a CANCEL
 * 481, since no dialog or transaction of ours matches (RFC 3261 §12.2.2,
 * §9.2); ACK absorbed (it acknowledges a final answer of ours); any other
 * request 501 (not implemented here yet).
 */
static int answer_default(struct shard *sh, const struct peer *from,
			  const struct sipmsg *m)
{
	if (m->method == SIP_ACK)
		return 0;
	if (m->to_tag.len || m->method == SIP_CANCEL)
		return pool_reply(sh, from, m, 481, slice_make(NULL, 0));
	if (m->method == SIP_OPTIONS)
		return answer_options(sh, from, m);
	return pool_reply(sh, from, m, 501, slice_make(NULL, 0));
}

/* Per worker thread: the network can trigger these lines. */
static _Thread_local struct log_ratelimit answer_rl = { .burst = 10 };

static void pool_handle(struct shard *sh, const struct peer *from,
			const char *buf, size_t len)
{
	struct worker *w = shard_role_state(sh);
	struct shard_stats *st = shard_stats(sh);
	struct sipmsg m;
	int parsed, rc = 0;

	if (!w || shard_parse(sh, from, buf, len, &m, &parsed))
		return;
	if (!m.is_request) {
		if (parsed >= 0 && m.status >= 100 && m.status < 700)
			count(&st->rsp_in[m.status / 100 - 1]);
		/* Malformed or nobody's: dropped (RFC 3261 §18.1.2). */
		if (parsed < 0 || !ua_core || !ua_core->response ||
		    !ua_core->response(sh, w->ua, from, &m))
			count(&st->dropped);
		return;
	}
	if (parsed < 0) {
		/* A 400 when it can be answered at all (RFC 3261 §8.2). */
		if (m.method != SIP_ACK && reply_check(&m) == 0)
			rc = pool_reply(sh, from, &m, 400, slice_make(NULL, 0));
		else
			count(&st->dropped);
		goto out;
	}
	if (m.method < SIP_METHOD__COUNT)
		count(&st->requests[m.method]);
	if (ua_core && ua_core->request) {
		rc = ua_core->request(sh, w->ua, from, &m);
		if (rc == POOL_UA_DONE)
			return;
		if (rc < 0) {
			if (m.method != SIP_ACK)
				rc = pool_reply(sh, from, &m, 500,
						slice_make(NULL, 0));
			goto out;
		}
	}
	rc = answer_default(sh, from, &m);
out:
	if (rc < 0 && log_ratelimit_ok(&answer_rl))
		log_msg(LOG_INFO, "b2b %u: no answer sent: %s", shard_id(sh),
			err_str(rc));
}

/* The inbox of the worker that owns it is full: 503, statelessly. */
static void pool_reject(struct shard *sh, const struct peer *from,
			const char *buf, size_t len)
{
	struct sipmsg m;
	char ra[48];
	int parsed, n;

	count(&shard_stats(sh)->dropped);
	if (shard_parse(sh, from, buf, len, &m, &parsed) || parsed < 0 ||
	    !m.is_request || m.method == SIP_ACK)
		return;
	count(&shard_stats(sh)->overloaded);
	n = snprintf(ra, sizeof(ra), "Retry-After: %u\r\n",
		     shard_conf(sh)->overload.retry_after_s);
	(void)pool_reply(
	    sh, from, &m, 503,
	    slice_make(ra, n > 0 && (size_t)n < sizeof(ra) ? (size_t)n : 0));
}

static uint64_t pool_tick(struct shard *sh, uint64_t now_ms)
{
	struct worker *w = shard_role_state(sh);

	if (w && ua_core && ua_core->tick)
		return ua_core->tick(sh, w->ua, now_ms);
	return SHARD_TICK_NONE;
}

static void pool_stopping(struct shard *sh, void *state)
{
	struct worker *w = state;

	if (w && ua_core && ua_core->stop)
		ua_core->stop(sh, w->ua);
}

static int worker_new(struct shard *sh, uint64_t now_ms, void **statep)
{
	struct worker *w = calloc(1, sizeof(*w));
	int err;

	if (!w)
		return -ENOMEM;
	if (ua_core && ua_core->new_state) {
		err = ua_core->new_state(sh, now_ms, &w->ua);
		if (err) {
			free(w);
			return err;
		}
	}
	*statep = w;
	return 0;
}

static void worker_free(void *state)
{
	struct worker *w = state;

	if (!w)
		return;
	if (ua_core && ua_core->free_state)
		ua_core->free_state(w->ua);
	free(w);
}

static pool_steer_fn *_Atomic app_steer;

void pool_set_steer(pool_steer_fn *fn)
{
	atomic_store(&app_steer, fn);
}

int pool_contact_user(unsigned id, char *buf, size_t size)
{
	int n = snprintf(buf, size, "b2b-%u", id);

	return n > 0 && (size_t)n < size ? n : -ENOSPC;
}

int pool_steer(const char *buf, size_t len, unsigned workers)
{
	const char *sp, *end = buf + len, *u;
	pool_steer_fn *fn;
	unsigned w = 0;

	/* "METHOD SP Request-URI SP SIP/2.0" (RFC 3261 §7.1). */
	if (len < 4 || !memcmp(buf, "SIP/", 4))
		return -1;
	sp = memchr(buf, ' ', len);
	if (!sp)
		return -1;
	u = sp + 1;
	sp = memchr(u, ' ', (size_t)(end - u));
	if (!sp)
		return -1;
	if (sp - u > 8 && !strncasecmp(u, "sip:b2b-", 8)) {
		const char *d = u + 8;

		while (d < sp && *d >= '0' && *d <= '9' && w < 1000)
			w = w * 10 + (unsigned)(*d++ - '0');
		if (d > u + 8 && d < sp && *d == '@' && w < workers)
			return (int)w;
	}
	fn = atomic_load(&app_steer);
	return fn ? fn(buf, len, slice_make(u, (size_t)(sp - u)), workers) : -1;
}

const struct shard_role pool_role = {
	.name = "b2b",
	.new_state = worker_new,
	.free_state = worker_free,
	.handle = pool_handle,
	.reject = pool_reject,
	.tick = pool_tick,
	.tick_ms = POOL_TICK_MS,
	.steer = pool_steer,
	.stopping = pool_stopping,
};

/* The same without the tick: no UA core with timers. */
static const struct shard_role pool_role_idle = {
	.name = "b2b",
	.new_state = worker_new,
	.free_state = worker_free,
	.handle = pool_handle,
	.reject = pool_reject,
	.steer = pool_steer,
	.stopping = pool_stopping,
};

int pool_start(const struct conf *c, struct pool **pp)
{
	const struct b2b_conf *bc = b2b_conf(c);
	struct shards_opts o;
	struct conf_listen l;
	struct pool *p = NULL;
	bool was = false;
	int err;

	*pp = NULL;
	if (!bc->workers)
		return 0;
	if (!atomic_compare_exchange_strong(&running, &was, true)) {
		log_msg(LOG_ERR, "b2b: a pool already runs");
		return -EBUSY;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		err = -ENOMEM;
		goto out;
	}
	memset(&l, 0, sizeof(l));
	l.address = bc->listen;
	l.udp = true;
	l.addr = bc->addr;
	l.addrlen = bc->addrlen;
	l.port =
	    bc->addr.ss_family == AF_INET6
		? ntohs(((const struct sockaddr_in6 *)&bc->addr)->sin6_port)
		: ntohs(((const struct sockaddr_in *)&bc->addr)->sin_port);
	o = (struct shards_opts){
		.conf = c,
		.role = ua_core && ua_core->tick ? &pool_role : &pool_role_idle,
		.workers = bc->workers,
		.listen = &l,
		.nlisten = 1,
		.name = "b2b",
		.no_hooks = true,
	};
	err = shards_start_opts(&o, &p->shards);
	if (err) {
		log_msg(LOG_ERR, "b2b: could not start on %s: %s", bc->listen,
			err_str(err));
		goto out;
	}
	p->workers = bc->workers;
	err = shards_listen_addr(p->shards, 0, &p->addr, &p->addrlen);
	if (err)
		goto out;
	peer_addr_str((const struct sockaddr *)&p->addr, p->text,
		      sizeof(p->text));
	self_addr = p->addr;
	self_addrlen = p->addrlen;
	atomic_store_explicit(&src_key, key_of(&p->addr), memory_order_release);
	*pp = p;
	p = NULL;
out:
	if (p) {
		shards_stop(p->shards);
		free(p);
		atomic_store(&running, false);
	} else if (err) {
		atomic_store(&running, false);
	}
	return err;
}

void pool_stop(struct pool *p)
{
	if (!p)
		return;
	atomic_store_explicit(&src_key, 0, memory_order_release);
	shards_stop(p->shards);
	free(p);
	atomic_store(&running, false);
}

unsigned pool_workers(const struct pool *p)
{
	return p ? p->workers : 0;
}

const char *pool_address(const struct pool *p)
{
	return p ? p->text : "";
}

int pool_sockaddr(const struct pool *p, struct sockaddr_storage *ssp,
		  socklen_t *lenp)
{
	if (!p || !ssp || !lenp)
		return -EINVAL;
	*ssp = p->addr;
	*lenp = p->addrlen;
	return 0;
}

struct shards *pool_shards(struct pool *p)
{
	return p ? p->shards : NULL;
}

int pool_post(struct pool *p, struct slice call_id, shard_post_fn *fn,
	      void *arg)
{
	if (!p || !call_id.len)
		return -EINVAL;
	return shard_post(p->shards, shard_owner(call_id, p->workers), fn, arg);
}
