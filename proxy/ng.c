/* proxy/ng.c - rtpengine's ng control protocol: a client on one uv loop */
#include "proxy/ng.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <uv.h>

#include "proxy/base/hash.h"

/* Buckets of the cookie table: a cookie's sequence number picks one. */
#define NG_BUCKETS 256
/* Values one answer may hold (a "delete" answer with its statistics is
 * a few hundred). */
#define NG_MAX_NODES 4096
/* The largest dictionary ng_send() takes (an SDP of a few kB, with room
 * to spare; below a UDP datagram's limit). */
#define NG_MAX_DICT 60000

struct ng_call {
	struct ng *ng;
	struct ng_call *prev, *next; /* the FIFO of deadlines */
	struct ng_call *hnext;	     /* the cookie bucket */
	uint32_t seq;
	uint64_t deadline_ms;
	unsigned tries; /* sends to the current instance */
	uint8_t order[NG_MAX_SERVERS];
	unsigned norder, pos;
	ng_done_fn *cb;
	void *arg;
	size_t cookie_len;
	size_t len;
	char msg[]; /* "COOKIE DICT" */
};

struct ng {
	uv_loop_t *loop;
	uv_udp_t udp;
	uv_timer_t timer;
	unsigned closing;
	struct ng_server servers[NG_MAX_SERVERS];
	uint64_t down_until_ms[NG_MAX_SERVERS];
	unsigned nservers;
	unsigned timeout_ms, retries, down_ms;
	uint32_t prefix, seq;
	struct ng_call *head, *tail; /* ascending deadlines */
	struct ng_call *bucket[NG_BUCKETS];
	unsigned pending;
	struct ng_counters cnt;
	char rx[65536];
	struct bencode_node nodes[NG_MAX_NODES];
};

static bool addr_eq(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a,
					 *y = (const void *)b;

		return x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a,
					  *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
	}
	return false;
}

static void fifo_unlink(struct ng *ng, struct ng_call *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		ng->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		ng->tail = c->prev;
	c->prev = c->next = NULL;
}

static void fifo_append(struct ng *ng, struct ng_call *c)
{
	c->prev = ng->tail;
	c->next = NULL;
	if (ng->tail)
		ng->tail->next = c;
	else
		ng->head = c;
	ng->tail = c;
}

static void bucket_unlink(struct ng *ng, struct ng_call *c)
{
	struct ng_call **pp = &ng->bucket[c->seq % NG_BUCKETS];

	while (*pp && *pp != c)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = c->hnext;
	c->hnext = NULL;
}

/* Remove @p c from every list and free it; its callback is the
 * caller's business. */
static void forget(struct ng_call *c)
{
	struct ng *ng = c->ng;

	fifo_unlink(ng, c);
	bucket_unlink(ng, c);
	ng->pending--;
	free(c);
}

static void timer_cb(uv_timer_t *t);

static void arm(struct ng *ng)
{
	uint64_t now = uv_now(ng->loop);

	if (ng->closing)
		return;
	if (!ng->head) {
		uv_timer_stop(&ng->timer);
		return;
	}
	uv_timer_start(
	    &ng->timer, timer_cb,
	    ng->head->deadline_ms > now ? ng->head->deadline_ms - now : 0, 0);
}

static void transmit(struct ng *ng, struct ng_call *c)
{
	const struct ng_server *s = &ng->servers[c->order[c->pos]];
	uv_buf_t b = uv_buf_init(c->msg, (unsigned)c->len);

	/* A datagram the kernel refuses now (a full buffer) is as lost as
	 * one the network drops: the next try resends it. */
	(void)uv_udp_try_send(&ng->udp, &b, 1,
			      (const struct sockaddr *)&s->addr);
	c->tries++;
	c->deadline_ms = uv_now(ng->loop) + ng->timeout_ms;
	fifo_unlink(ng, c);
	fifo_append(ng, c);
}

static bool is_up(const struct ng *ng, unsigned i, uint64_t now)
{
	return ng->down_until_ms[i] <= now;
}

/* The next instance of @p c's order that is up, from c->pos on: true
 * with c->pos on it. */
static bool next_up(struct ng *ng, struct ng_call *c, uint64_t now)
{
	while (c->pos < c->norder) {
		if (is_up(ng, c->order[c->pos], now))
			return true;
		c->pos++;
	}
	return false;
}

static void finish(struct ng_call *c, int err, const struct ng_reply *r)
{
	ng_done_fn *cb = c->cb;
	void *arg = c->arg;

	forget(c);
	cb(arg, err, r);
}

static void timer_cb(uv_timer_t *t)
{
	struct ng *ng = t->data;
	uint64_t now = uv_now(ng->loop);
	struct ng_call *c;

	while ((c = ng->head) && c->deadline_ms <= now) {
		if (c->tries <= ng->retries) {
			ng->cnt.resent++;
			transmit(ng, c);
			continue;
		}
		/* The instance never answered: down for a while, and the
		 * request goes to the next one. */
		ng->cnt.timeouts++;
		ng->down_until_ms[c->order[c->pos]] = now + ng->down_ms;
		c->pos++;
		if (!next_up(ng, c, now)) {
			finish(c, -ETIMEDOUT, NULL);
			continue;
		}
		ng->cnt.failovers++;
		c->tries = 0;
		transmit(ng, c);
	}
	arm(ng);
}

static struct ng_call *lookup(struct ng *ng, struct slice cookie)
{
	struct ng_call *c;
	uint32_t prefix, seq;
	char tmp[17];
	unsigned i;

	if (cookie.len != 16)
		return NULL;
	for (i = 0; i < 16; i++) {
		char ch = cookie.p[i];

		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
			return NULL;
		tmp[i] = ch;
	}
	tmp[16] = '\0';
	if (sscanf(tmp, "%8x%8x", &prefix, &seq) != 2 || prefix != ng->prefix)
		return NULL;
	for (c = ng->bucket[seq % NG_BUCKETS]; c; c = c->hnext)
		if (c->seq == seq)
			return c;
	return NULL;
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct ng *ng = h->data;

	(void)hint;
	*buf = uv_buf_init(ng->rx, sizeof(ng->rx));
}

static void recv_cb(uv_udp_t *u, ssize_t nread, const uv_buf_t *buf,
		    const struct sockaddr *from, unsigned flags)
{
	struct ng *ng = u->data;
	struct ng_reply r = { 0 };
	struct ng_call *c;
	struct slice in, result;
	const char *sp;
	int n, err;

	(void)flags;
	if (nread <= 0 || !from)
		return;
	in = slice_make(buf->base, (size_t)nread);
	sp = memchr(in.p, ' ', in.len);
	if (!sp) {
		ng->cnt.stray++;
		return;
	}
	c = lookup(ng, slice_make(in.p, (size_t)(sp - in.p)));
	if (!c ||
	    !addr_eq(
		from,
		(const struct sockaddr *)&ng->servers[c->order[c->pos]].addr)) {
		ng->cnt.stray++;
		return;
	}
	r.raw = slice_make(sp + 1, in.len - (size_t)(sp + 1 - in.p));
	r.server = c->order[c->pos];
	n = bencode_parse(r.raw, ng->nodes, NG_MAX_NODES);
	if (n <= 0 || ng->nodes[0].type != BENCODE_DICT ||
	    !bencode_get_str(ng->nodes, 0, "result", &result)) {
		finish(c, -EBADMSG, NULL);
		arm(ng);
		return;
	}
	r.nodes = ng->nodes;
	r.nnodes = (unsigned)n;
	if (slice_eq(result, SLICE_LIT("ok")) ||
	    slice_eq(result, SLICE_LIT("pong")))
		err = 0;
	else if (slice_eq(result, SLICE_LIT("error")))
		err = -EREMOTEIO;
	else
		err = -EBADMSG;
	finish(c, err, err == -EBADMSG ? NULL : &r);
	arm(ng);
}

int ng_new(struct uv_loop_s *loop, const struct ng_opts *o, struct ng **ngp)
{
	struct sockaddr_storage any;
	struct ng *ng = NULL;
	unsigned i;
	int err;

	if (o->nservers == 0 || o->nservers > NG_MAX_SERVERS ||
	    o->timeout_ms == 0)
		return -EINVAL;
	for (i = 0; i < o->nservers; i++) {
		const struct ng_server *s = &o->servers[i];

		if (s->weight == 0 || s->weight > 1000 ||
		    (s->addr.ss_family != AF_INET &&
		     s->addr.ss_family != AF_INET6) ||
		    s->addr.ss_family != o->servers[0].addr.ss_family)
			return -EINVAL;
	}
	ng = calloc(1, sizeof(*ng));
	if (!ng)
		return -ENOMEM;
	ng->loop = loop;
	memcpy(ng->servers, o->servers, o->nservers * sizeof(*o->servers));
	ng->nservers = o->nservers;
	ng->timeout_ms = o->timeout_ms;
	ng->retries = o->retries;
	ng->down_ms = o->down_ms;
	if (getrandom(&ng->prefix, sizeof(ng->prefix), 0) != sizeof(ng->prefix))
		ng->prefix = (uint32_t)(uintptr_t)ng ^ (uint32_t)uv_hrtime();
	memset(&any, 0, sizeof(any));
	any.ss_family = o->servers[0].addr.ss_family;
	err = uv_udp_init(loop, &ng->udp);
	if (err) {
		free(ng);
		return err;
	}
	ng->udp.data = ng;
	/* From here on the handle must be closed; the timer is made next so
	 * that ng_free() can close both. */
	uv_timer_init(loop, &ng->timer);
	ng->timer.data = ng;
	err = uv_udp_bind(&ng->udp, (const struct sockaddr *)&any, 0);
	if (!err)
		err = uv_udp_recv_start(&ng->udp, alloc_cb, recv_cb);
	if (err) {
		ng_free(ng);
		return err;
	}
	*ngp = ng;
	return 0;
}

static void close_cb(uv_handle_t *h)
{
	struct ng *ng = h->data;

	if (--ng->closing == 0)
		free(ng);
}

void ng_free(struct ng *ng)
{
	if (!ng)
		return;
	/* Closing first: a callback that sends again gets -EINVAL. */
	ng->closing = 2;
	while (ng->head)
		finish(ng->head, -ECANCELED, NULL);
	uv_close((uv_handle_t *)&ng->udp, close_cb);
	uv_close((uv_handle_t *)&ng->timer, close_cb);
}

/* Weighted rendezvous hashing: each instance scores weight / -ln(u),
 * u uniform in (0,1) from hash(key, instance); highest first. */
static void rank(const struct ng *ng, struct slice key, uint8_t *order)
{
	double score[NG_MAX_SERVERS];
	unsigned i, j;

	for (i = 0; i < ng->nservers; i++) {
		uint64_t h = hash_bytes(key.p, key.len, 0x6e67 + i);
		double u = ((double)(h >> 11) + 0.5) / 9007199254740992.0;

		score[i] = (double)ng->servers[i].weight / -log(u);
		for (j = i; j > 0 && score[order[j - 1]] < score[i]; j--)
			order[j] = order[j - 1];
		order[j] = (uint8_t)i;
	}
}

int ng_send(struct ng *ng, struct slice key, struct slice dict, ng_done_fn *cb,
	    void *arg, struct ng_call **callp)
{
	uint64_t now = uv_now(ng->loop);
	struct ng_call *c;
	int n;

	if (dict.len == 0 || dict.len > NG_MAX_DICT || ng->closing)
		return -EINVAL;
	c = malloc(sizeof(*c) + 17 + dict.len);
	if (!c)
		return -ENOMEM;
	memset(c, 0, sizeof(*c));
	c->ng = ng;
	rank(ng, key, c->order);
	c->norder = ng->nservers;
	if (!next_up(ng, c, now)) {
		free(c);
		return -EHOSTDOWN;
	}
	c->seq = ++ng->seq;
	c->cb = cb;
	c->arg = arg;
	n = snprintf(c->msg, 18, "%08x%08x ", ng->prefix, c->seq);
	c->cookie_len = 16;
	memcpy(c->msg + n, dict.p, dict.len);
	c->len = (size_t)n + dict.len;
	c->hnext = ng->bucket[c->seq % NG_BUCKETS];
	ng->bucket[c->seq % NG_BUCKETS] = c;
	ng->pending++;
	fifo_append(ng, c);
	ng->cnt.sent++;
	transmit(ng, c);
	arm(ng);
	if (callp)
		*callp = c;
	return 0;
}

void ng_cancel(struct ng_call *c)
{
	struct ng *ng;

	if (!c)
		return;
	ng = c->ng;
	forget(c);
	arm(ng);
}

const struct ng_counters *ng_counters(const struct ng *ng)
{
	return &ng->cnt;
}

unsigned ng_pending(const struct ng *ng)
{
	return ng->pending;
}

bool ng_is_down(const struct ng *ng, unsigned i)
{
	return i < ng->nservers && !is_up(ng, i, uv_now(ng->loop));
}
