/* proxy/core/guard.c - per-source limits on the receive path (security:) */
#include "proxy/core/guard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proxy/base/log.h"
#include "proxy/base/stats.h"
#include "proxy/core/conf.h"
#include "proxy/core/guard_conf.h"
#include "proxy/sip/peer.h"
#include "store/pike.h"

enum {
	G_BANNED,     /* gauge: bans in force */
	G_BANS,	      /* bans started */
	G_DROPPED,    /* messages dropped from banned sources */
	G_CAPPED,     /* requests dropped over security.global_rate */
	G_SUPPRESSED, /* answers not sent: over the answer budget */
	G_EXEMPT,     /* exempt sources that ran over (not banned) */
	G__COUNT
};

static const struct stats_item items[G__COUNT] = {
	{ "banned", "sources banned now", true },
	{ "bans", "bans started (a source ran over security.rate)", false },
	{ "dropped", "messages dropped from banned sources", false },
	{ "capped", "requests dropped over security.global_rate", false },
	{ "answers_suppressed",
	  "answers not sent: over the source's answer budget", false },
	{ "exempt_over", "exempt sources that ran over the rate", false },
};

/*
 * The process's guard. The table is made by guard_start() before any
 * shard runs and freed after they stop; the counters are atomics
 * because every shard writes them (relaxed: statistics only).
 */
static struct {
	struct pike *t;
	guard_exempt_fn *exempt;
	atomic_uint_fast64_t n[G__COUNT];
	/* security.global_rate: requests counted in the current second,
	 * (second << 32 | count). */
	atomic_uint_fast64_t window;
	struct stats_source src;
} g;

/* The clock of the table: monotonic ms, the same for every thread. */
static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void bump(unsigned i)
{
	atomic_fetch_add_explicit(&g.n[i], 1, memory_order_relaxed);
}

static void stats_read(void *arg, unsigned inst, uint64_t *v)
{
	(void)arg;
	(void)inst;
	for (unsigned i = 0; i < G__COUNT; i++)
		v[i] = atomic_load_explicit(&g.n[i], memory_order_relaxed);
	v[G_BANNED] = g.t ? pike_banned(g.t, now_ms()) : 0;
}

int guard_start(const struct conf *c, guard_exempt_fn *exempt)
{
	int err;

	if (g.t)
		return -EBUSY;
	err = pike_new(guard_conf(c)->table_size, &g.t);
	if (err)
		return err;
	g.exempt = exempt;
	for (unsigned i = 0; i < G__COUNT; i++)
		atomic_store(&g.n[i], 0);
	atomic_store(&g.window, 0);
	g.src = (struct stats_source){ .module = "security",
				       .items = items,
				       .nitems = G__COUNT,
				       .ninst = 1,
				       .read = stats_read };
	err = stats_add(&g.src);
	if (err) {
		pike_free(g.t);
		g.t = NULL;
	}
	return err;
}

void guard_stop(void)
{
	if (!g.t)
		return;
	stats_remove(&g.src);
	pike_free(g.t);
	g.t = NULL;
	g.exempt = NULL;
}

static void limits(const struct guard_conf *gc, struct pike_limits *lim)
{
	lim->rate = gc->rate;
	lim->burst = gc->burst;
	lim->ban_ms = gc->ban_s * 1000;
	lim->credit_max = gc->answer_budget;
}

static bool is_exempt(const struct conf *c, const struct guard_conf *gc,
		      const struct peer *from)
{
	if (gc->nexempt && conf_net_has(gc->exempt, gc->nexempt,
					(const struct sockaddr *)&from->addr))
		return true;
	return g.exempt && g.exempt(c, from);
}

static void log_ban(const struct peer *from, const struct guard_conf *gc)
{
	char a[INET6_ADDRSTRLEN] = "?";
	const struct sockaddr *sa = (const struct sockaddr *)&from->addr;

	if (sa->sa_family == AF_INET)
		inet_ntop(
		    AF_INET,
		    &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
		    a, sizeof(a));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(
		    AF_INET6,
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
		    a, sizeof(a));
	log_msg(LOG_NOTICE,
		"security: banned %s for %u s: over %u requests/s (burst %u); "
		"dropping what it sends",
		a, gc->ban_s, gc->rate, gc->burst);
}

/* security.global_rate: one more request this second, or false. */
static bool window_take(unsigned cap, uint64_t now)
{
	uint64_t sec = now / 1000, w, nw;

	w = atomic_load_explicit(&g.window, memory_order_relaxed);
	do {
		if ((w >> 32) == (sec & 0xffffffffu)) {
			if ((w & 0xffffffffu) >= cap)
				return false;
			nw = w + 1;
		} else {
			nw = (sec << 32) | 1;
		}
	} while (!atomic_compare_exchange_weak_explicit(
	    &g.window, &w, nw, memory_order_relaxed, memory_order_relaxed));
	return true;
}

bool guard_admit(const struct conf *c, const struct peer *from, size_t len,
		 bool is_request)
{
	const struct guard_conf *gc;
	const struct sockaddr *sa = (const struct sockaddr *)&from->addr;
	struct pike_limits lim;
	uint64_t now;

	if (!g.t)
		return true;
	gc = guard_conf(c);
	if (!gc->rate && !gc->global_rate && !gc->answer_budget)
		return true;
	now = now_ms();
	limits(gc, &lim);
	if (gc->rate) {
		switch (pike_admit(g.t, sa, len, now, &lim)) {
		case PIKE_PASS:
			break;
		case PIKE_BANNED:
			bump(G_DROPPED);
			return false;
		case PIKE_OVER:
			if (is_exempt(c, gc, from)) {
				bump(G_EXEMPT);
				pike_refill(g.t, sa, now, &lim);
				break;
			}
			if (pike_ban(g.t, sa, now, &lim) == 1) {
				bump(G_BANS);
				log_ban(from, gc);
			}
			bump(G_DROPPED);
			return false;
		}
	} else if (gc->answer_budget) {
		/* No rate: the table only keeps the credit. */
		lim.rate = 1000000;
		lim.burst = 1000000;
		(void)pike_admit(g.t, sa, len, now, &lim);
	}
	if (is_request && gc->global_rate &&
	    !window_take(gc->global_rate, now) && !is_exempt(c, gc, from)) {
		bump(G_CAPPED);
		return false;
	}
	return true;
}

bool guard_refuse(const struct peer *from)
{
	if (!g.t || !pike_is_banned(g.t, (const struct sockaddr *)&from->addr,
				    now_ms()))
		return false;
	bump(G_DROPPED);
	return true;
}

bool guard_answer(const struct conf *c, const struct peer *to, size_t len)
{
	const struct guard_conf *gc;

	if (!g.t)
		return true;
	gc = guard_conf(c);
	if (!gc->answer_budget ||
	    pike_answer(g.t, (const struct sockaddr *)&to->addr, len))
		return true;
	if (is_exempt(c, gc, to)) {
		guard_vouch(to);
		return true;
	}
	bump(G_SUPPRESSED);
	return false;
}

void guard_vouch(const struct peer *from)
{
	if (g.t)
		pike_vouch(g.t, (const struct sockaddr *)&from->addr);
}

size_t guard_list(struct guard_ban *out, size_t max)
{
	struct pike_ban *pb;
	uint64_t now = now_ms();
	size_t n, i;

	if (!g.t || max == 0)
		return 0;
	pb = calloc(max, sizeof(*pb));
	if (!pb)
		return 0;
	n = pike_list(g.t, now, pb, max);
	for (i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].addr = pb[i].addr;
		out[i].addrlen = pb[i].addrlen;
		out[i].remaining_s =
		    (unsigned)((pb[i].until_ms - now + 999) / 1000);
		out[i].dropped = pb[i].dropped;
	}
	free(pb);
	return n;
}

int guard_unban(const struct sockaddr *sa)
{
	char a[INET6_ADDRSTRLEN] = "?";
	int err;

	if (!g.t)
		return -ENODEV;
	err = pike_unban(g.t, sa, now_ms());
	if (err)
		return err;
	if (sa->sa_family == AF_INET)
		inet_ntop(
		    AF_INET,
		    &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
		    a, sizeof(a));
	else
		inet_ntop(
		    AF_INET6,
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
		    a, sizeof(a));
	log_msg(LOG_NOTICE, "security: ban of %s lifted", a);
	return 0;
}
