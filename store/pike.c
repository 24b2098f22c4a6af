/* store/pike.c - per-source request rates, bans and answer budgets */
#include "store/pike.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "proxy/base/hash.h"

/* Tokens are counted in thousandths, so a rate refills per millisecond. */
#define MILLI 1000u

struct slot {
	unsigned char key[16]; /* IPv4 mapped into IPv6 (::ffff:a.b.c.d) */
	bool used;
	bool vouched;
	uint32_t tokens;    /* milli-requests left */
	uint32_t credit;    /* answer bytes left */
	uint64_t last_ms;   /* last seen (refill point, LRU) */
	uint64_t ban_until; /* 0: not banned */
	uint64_t dropped;   /* during the current ban */
};

struct bucket {
	atomic_flag lock;
	struct slot s[PIKE_WAYS];
};

struct pike {
	struct bucket *b;
	size_t mask; /* buckets - 1 */
	uint64_t seed;
};

static void lock(struct bucket *b)
{
	while (
	    atomic_flag_test_and_set_explicit(&b->lock, memory_order_acquire))
		;
}

static void unlock(struct bucket *b)
{
	atomic_flag_clear_explicit(&b->lock, memory_order_release);
}

/* The key of @p sa (IPv4 as IPv4-mapped IPv6); -EAFNOSUPPORT. */
static int key_of(const struct sockaddr *sa, unsigned char key[16])
{
	if (sa->sa_family == AF_INET) {
		memset(key, 0, 10);
		key[10] = key[11] = 0xff;
		memcpy(
		    key + 12,
		    &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
		    4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		memcpy(
		    key,
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
		    16);
		return 0;
	}
	return -EAFNOSUPPORT;
}

static void addr_of(const unsigned char key[16], struct sockaddr_storage *ss,
		    socklen_t *lenp)
{
	static const unsigned char v4pre[12] = { 0, 0, 0, 0, 0,	   0,
						 0, 0, 0, 0, 0xff, 0xff };

	memset(ss, 0, sizeof(*ss));
	if (memcmp(key, v4pre, 12) == 0) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		memcpy(&in->sin_addr, key + 12, 4);
		*lenp = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_addr, key, 16);
		*lenp = sizeof(*in6);
	}
}

int pike_new(size_t slots, struct pike **pp)
{
	struct pike *p;
	size_t n = 1;

	if (slots == 0 || slots > (1u << 24))
		return -EINVAL;
	while (n * PIKE_WAYS < slots)
		n <<= 1;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->b = calloc(n, sizeof(*p->b));
	if (!p->b) {
		free(p);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		atomic_flag_clear(&p->b[i].lock);
	p->mask = n - 1;
	if (getrandom(&p->seed, sizeof(p->seed), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(p->seed))
		p->seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)p;
	*pp = p;
	return 0;
}

void pike_free(struct pike *p)
{
	if (!p)
		return;
	free(p->b);
	free(p);
}

size_t pike_slots(const struct pike *p)
{
	return (p->mask + 1) * PIKE_WAYS;
}

static struct bucket *bucket_of(struct pike *p, const unsigned char key[16])
{
	return &p->b[hash_bytes(key, 16, p->seed) & p->mask];
}

/* The slot of @p key in @p b, or NULL. Under the bucket's lock. */
static struct slot *find(struct bucket *b, const unsigned char key[16])
{
	for (unsigned i = 0; i < PIKE_WAYS; i++)
		if (b->s[i].used && memcmp(b->s[i].key, key, 16) == 0)
			return &b->s[i];
	return NULL;
}

/*
 * A slot for @p key in @p b, taken from the least recently seen: a
 * free one, else one neither banned nor vouched, else a vouched one,
 * else the ban that ends first. Under the bucket's lock.
 */
static struct slot *take(struct bucket *b, const unsigned char key[16],
			 uint64_t now_ms, const struct pike_limits *lim)
{
	struct slot *best = NULL;
	unsigned best_rank = 0;

	for (unsigned i = 0; i < PIKE_WAYS; i++) {
		struct slot *s = &b->s[i];
		unsigned rank;

		if (!s->used) {
			best = s;
			break;
		}
		rank = s->ban_until > now_ms ? 1 : s->vouched ? 2 : 3;
		if (!best || rank > best_rank ||
		    (rank == best_rank &&
		     (rank == 1 ? s->ban_until < best->ban_until
				: s->last_ms < best->last_ms))) {
			best = s;
			best_rank = rank;
		}
	}
	memset(best, 0, sizeof(*best));
	memcpy(best->key, key, 16);
	best->used = true;
	best->tokens = lim->burst * MILLI;
	best->last_ms = now_ms;
	return best;
}

static void refill(struct slot *s, uint64_t now_ms,
		   const struct pike_limits *lim)
{
	uint64_t cap = (uint64_t)lim->burst * MILLI, t;

	if (now_ms > s->last_ms) {
		t = s->tokens + (now_ms - s->last_ms) * (uint64_t)lim->rate;
		s->tokens = (uint32_t)(t > cap ? cap : t);
		s->last_ms = now_ms;
	}
}

enum pike_verdict pike_admit(struct pike *p, const struct sockaddr *sa,
			     size_t len, uint64_t now_ms,
			     const struct pike_limits *lim)
{
	enum pike_verdict v = PIKE_PASS;
	unsigned char key[16];
	struct bucket *b;
	struct slot *s;
	uint64_t c;

	if (key_of(sa, key))
		return PIKE_PASS;
	b = bucket_of(p, key);
	lock(b);
	s = find(b, key);
	if (!s)
		s = take(b, key, now_ms, lim);
	if (s->ban_until) {
		if (s->ban_until > now_ms) {
			s->dropped++;
			unlock(b);
			return PIKE_BANNED;
		}
		/* The ban is over: a fresh bucket. */
		s->ban_until = 0;
		s->dropped = 0;
		s->tokens = lim->burst * MILLI;
		s->last_ms = now_ms;
	}
	refill(s, now_ms, lim);
	if (s->tokens >= MILLI)
		s->tokens -= MILLI;
	else
		v = PIKE_OVER;
	c = (uint64_t)s->credit + len;
	s->credit = (uint32_t)(c > lim->credit_max ? lim->credit_max : c);
	unlock(b);
	return v;
}

int pike_ban(struct pike *p, const struct sockaddr *sa, uint64_t now_ms,
	     const struct pike_limits *lim)
{
	unsigned char key[16];
	struct bucket *b;
	struct slot *s;
	int ret = 0;

	if (key_of(sa, key))
		return -EAFNOSUPPORT;
	b = bucket_of(p, key);
	lock(b);
	s = find(b, key);
	if (!s)
		s = take(b, key, now_ms, lim);
	if (s->ban_until <= now_ms) {
		s->ban_until = now_ms + (lim->ban_ms ? lim->ban_ms : 1);
		s->dropped = 0;
		s->vouched = false;
		s->credit = 0;
		ret = 1;
	}
	unlock(b);
	return ret;
}

void pike_refill(struct pike *p, const struct sockaddr *sa, uint64_t now_ms,
		 const struct pike_limits *lim)
{
	unsigned char key[16];
	struct bucket *b;
	struct slot *s;

	if (key_of(sa, key))
		return;
	b = bucket_of(p, key);
	lock(b);
	s = find(b, key);
	if (s) {
		s->tokens = lim->burst * MILLI;
		s->last_ms = now_ms;
	}
	unlock(b);
}

bool pike_answer(struct pike *p, const struct sockaddr *sa, size_t len)
{
	unsigned char key[16];
	struct bucket *b;
	struct slot *s;
	bool ok = true;

	if (key_of(sa, key))
		return true;
	b = bucket_of(p, key);
	lock(b);
	s = find(b, key);
	if (s && !s->vouched) {
		if (s->credit >= len)
			s->credit -= (uint32_t)len;
		else
			ok = false;
	}
	unlock(b);
	return ok;
}

void pike_vouch(struct pike *p, const struct sockaddr *sa)
{
	unsigned char key[16];
	struct bucket *b;
	struct slot *s;

	if (key_of(sa, key))
		return;
	b = bucket_of(p, key);
	lock(b);
	s = find(b, key);
	if (s)
		s->vouched = true;
	unlock(b);
}

size_t pike_list(struct pike *p, uint64_t now_ms, struct pike_ban *out,
		 size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i <= p->mask && n < max; i++) {
		struct bucket *b = &p->b[i];

		lock(b);
		for (unsigned j = 0; j < PIKE_WAYS && n < max; j++) {
			struct slot *s = &b->s[j];

			if (!s->used || s->ban_until <= now_ms)
				continue;
			addr_of(s->key, &out[n].addr, &out[n].addrlen);
			out[n].until_ms = s->ban_until;
			out[n].dropped = s->dropped;
			n++;
		}
		unlock(b);
	}
	return n;
}

int pike_unban(struct pike *p, const struct sockaddr *sa, uint64_t now_ms)
{
	unsigned char key[16];
	struct bucket *b;
	struct slot *s;
	int err = -ENOENT;

	if (key_of(sa, key))
		return -EAFNOSUPPORT;
	b = bucket_of(p, key);
	lock(b);
	s = find(b, key);
	if (s && s->ban_until > now_ms) {
		/* Forget the source: it starts again with a full bucket. */
		memset(s, 0, sizeof(*s));
		err = 0;
	}
	unlock(b);
	return err;
}

bool pike_is_banned(struct pike *p, const struct sockaddr *sa, uint64_t now_ms)
{
	unsigned char key[16];
	struct bucket *b;
	struct slot *s;
	bool banned;

	if (key_of(sa, key))
		return false;
	b = bucket_of(p, key);
	lock(b);
	s = find(b, key);
	banned = s && s->ban_until > now_ms;
	unlock(b);
	return banned;
}

size_t pike_banned(struct pike *p, uint64_t now_ms)
{
	size_t n = 0;

	for (size_t i = 0; i <= p->mask; i++) {
		struct bucket *b = &p->b[i];

		lock(b);
		for (unsigned j = 0; j < PIKE_WAYS; j++)
			n += b->s[j].used && b->s[j].ban_until > now_ms;
		unlock(b);
	}
	return n;
}
