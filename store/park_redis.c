/* store/park_redis.c - park slot table in Redis: one script per claim,
 * leases, other nodes' changes by Pub/Sub */
#include "store/park_priv.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "proxy/base/err.h"
#include "proxy/base/log.h"
#include "store/rcu.h"
#include "store/redis_priv.h"

/*
 * Keys (NS: store.redis.namespace), per lot (domain, lower case); the
 * braces keep a lot's two hashes in one Redis Cluster slot, so that one
 * script sees both:
 *   NS:park:{DOMAIN}   hash  slot -> the record (park__rec_print())
 *   NS:parkl:{DOMAIN}  hash  slot -> "LEASE_UNTIL_MS TOKEN" (Redis TIME)
 *   NS:park:lots       set   the domains that ever had a slot (list all)
 * Channel NS:park: "EV NODE SLOT DOMAIN\nRECORD", EV one of P U F.
 */

/* Claim: KEYS rec lease; ARGV min max want token lease_ms record chan
 * node domain grace_ms. The slot, or 0 (busy). A slot whose lease ran
 * out is free only grace_ms later (PARK_TAKE_GRACE_MS), or at once if
 * it has no record: until then it belongs to a survivor's takeover,
 * and a new park must not overwrite the dead node's call. */
static const char claim_lua[] =
    "local t=redis.call('TIME')\n"
    "local now=tonumber(t[1])*1000+math.floor(tonumber(t[2])/1000)\n"
    "local lo,hi=tonumber(ARGV[1]),tonumber(ARGV[2])\n"
    "local w=tonumber(ARGV[3])\n"
    "if w>0 then lo=w hi=w end\n"
    "for s=lo,hi do\n"
    " local f=tostring(s)\n"
    " local l=redis.call('HGET',KEYS[2],f)\n"
    " local e=l and tonumber(string.match(l,'^(%d+)'))\n"
    " local r=l and redis.call('HEXISTS',KEYS[1],f)\n"
    " if not l or not e or e+tonumber(ARGV[10])<=now or"
    " (e<=now and r==0) then\n"
    "  redis.call('HSET',KEYS[2],f,"
    "string.format('%.0f',now+tonumber(ARGV[5]))..' '..ARGV[4])\n"
    "  redis.call('HSET',KEYS[1],f,ARGV[6])\n"
    "  redis.call('PUBLISH',ARGV[7],'P '..ARGV[8]..' '..f..' '..ARGV[9]"
    "..'\\n'..ARGV[6])\n"
    "  return s\n"
    " end\n"
    "end\n"
    "return 0\n";

/* Release (ARGV[5] empty) or update (ARGV[5] the new record): KEYS rec
 * lease; ARGV slot token chan node record domain. 0 done, -1 no such
 * slot, -2 someone else's; a release returns the old record. */
static const char change_lua[] =
    "local l=redis.call('HGET',KEYS[2],ARGV[1])\n"
    "if not l then return -1 end\n"
    "if string.match(l,'^%d+ (%S+)')~=ARGV[2] then return -2 end\n"
    "local r=redis.call('HGET',KEYS[1],ARGV[1]) or ''\n"
    "if ARGV[5]=='' then\n"
    " redis.call('HDEL',KEYS[1],ARGV[1])\n"
    " redis.call('HDEL',KEYS[2],ARGV[1])\n"
    " redis.call('PUBLISH',ARGV[3],'F '..ARGV[4]..' '..ARGV[1]..' '"
    "..ARGV[6]..'\\n'..r)\n"
    " return r\n"
    "end\n"
    "redis.call('HSET',KEYS[1],ARGV[1],ARGV[5])\n"
    "redis.call('PUBLISH',ARGV[3],'U '..ARGV[4]..' '..ARGV[1]..' '"
    "..ARGV[6]..'\\n'..ARGV[5])\n"
    "return 0\n";

/* Live records of a lot: KEYS rec lease; ARGV slot (0: all). A flat
 * array slot, record, ... of the slots whose lease runs. */
static const char list_lua[] =
    "local t=redis.call('TIME')\n"
    "local now=tonumber(t[1])*1000+math.floor(tonumber(t[2])/1000)\n"
    "local out={}\n"
    "local function one(f,l)\n"
    " local e=tonumber(string.match(l,'^(%d+)'))\n"
    " if e and e>now then\n"
    "  local r=redis.call('HGET',KEYS[1],f)\n"
    "  if r then out[#out+1]=f out[#out+1]=r end\n"
    " end\n"
    "end\n"
    "if ARGV[1]~='0' then\n"
    " local l=redis.call('HGET',KEYS[2],ARGV[1])\n"
    " if l then one(ARGV[1],l) end\n"
    "else\n"
    " local a=redis.call('HGETALL',KEYS[2])\n"
    " for i=1,#a,2 do one(a[i],a[i+1]) end\n"
    "end\n"
    "return out\n";

/* Renew leases: KEYS rec lease; ARGV lease_ms, then slot token pairs.
 * The slots another holder has now (taken over while our lease had run
 * out), as an array; a slot with no lease (released meanwhile) is
 * neither. */
static const char renew_lua[] =
    "local t=redis.call('TIME')\n"
    "local now=tonumber(t[1])*1000+math.floor(tonumber(t[2])/1000)\n"
    "local u=string.format('%.0f',now+tonumber(ARGV[1]))\n"
    "local lost={}\n"
    "for i=2,#ARGV,2 do\n"
    " local l=redis.call('HGET',KEYS[2],ARGV[i])\n"
    " if l and string.match(l,'^%d+ (%S+)')==ARGV[i+1] then\n"
    "  redis.call('HSET',KEYS[2],ARGV[i],u..' '..ARGV[i+1])\n"
    " elseif l then lost[#lost+1]=ARGV[i] end\n"
    "end\n"
    "return lost\n";

/* A node's slots whose lease ran out (the node died): KEYS rec lease.
 * A flat array slot, lease, record, ... */
static const char stale_lua[] =
    "local t=redis.call('TIME')\n"
    "local now=tonumber(t[1])*1000+math.floor(tonumber(t[2])/1000)\n"
    "local out={}\n"
    "local a=redis.call('HGETALL',KEYS[2])\n"
    "for i=1,#a,2 do\n"
    " local e=tonumber(string.match(a[i+1],'^(%d+)'))\n"
    " if e and e<=now then\n"
    "  local r=redis.call('HGET',KEYS[1],a[i])\n"
    "  if r then out[#out+1]=a[i] out[#out+1]=a[i+1] out[#out+1]=r end\n"
    " end\n"
    "end\n"
    "return out\n";

/* Take over (ARGV[5] the new record) or drop (ARGV[5] empty) a dead
 * holder's slot: KEYS rec lease; ARGV slot old_lease token lease_ms
 * record chan node domain. Only while the lease is still the one seen
 * (the same holder's token) and ran out: of the nodes trying, exactly
 * one wins. 1 done, 0 lost. */
static const char take_lua[] =
    "local t=redis.call('TIME')\n"
    "local now=tonumber(t[1])*1000+math.floor(tonumber(t[2])/1000)\n"
    "local l=redis.call('HGET',KEYS[2],ARGV[1])\n"
    "if l~=ARGV[2] then return 0 end\n"
    "local e=tonumber(string.match(l,'^(%d+)'))\n"
    "if not e or e>now then return 0 end\n"
    "if ARGV[5]=='' then\n"
    " local r=redis.call('HGET',KEYS[1],ARGV[1]) or ''\n"
    " redis.call('HDEL',KEYS[1],ARGV[1])\n"
    " redis.call('HDEL',KEYS[2],ARGV[1])\n"
    " redis.call('PUBLISH',ARGV[6],'F '..ARGV[7]..' '..ARGV[1]..' '"
    "..ARGV[8]..'\\n'..r)\n"
    " return 1\n"
    "end\n"
    "redis.call('HSET',KEYS[2],ARGV[1],"
    "string.format('%.0f',now+tonumber(ARGV[4]))..' '..ARGV[3])\n"
    "redis.call('HSET',KEYS[1],ARGV[1],ARGV[5])\n"
    "redis.call('PUBLISH',ARGV[6],'U '..ARGV[7]..' '..ARGV[1]..' '"
    "..ARGV[8]..'\\n'..ARGV[5])\n"
    "return 1\n";

/* Longest printed record: every text field escaped at 3 bytes a byte
 * (about 2,800 bytes of fields at most), the numbers, the LFs. */
#define REC_MAX 12288

/* A slot this node holds (its lease is renewed). */
struct held {
	char domain[PARK_DOMAIN_MAX + 1];
	unsigned slot;
	uint64_t holder;
};

/* Another node's slot as the park thread last saw it. */
struct seen {
	struct park_rec r;
	bool mark;
};

/* Other nodes' slots for park_route_of(): an immutable sorted array
 * the park thread publishes under RCU when what it saw changed. */
struct route {
	char domain[PARK_DOMAIN_MAX + 1];
	unsigned slot;
	char pool[PARK_POOL_MAX + 1];
};

struct routes {
	struct rcu_head rcu;
	size_t n;
	struct route v[];
};

/* One connection to the master of a key slot (store/redis.h's map). */
struct conn {
	redisContext *c;
	struct redis_addr addr;
	unsigned gen;
};

struct park__redis {
	struct redis *r;
	char chan[80], lots[80];
	/* Pool workers and management: one connection, under lk. */
	pthread_mutex_t lk;
	struct conn cmd;
	struct log_ratelimit rl;
	/* The slots we hold, under hlk. */
	pthread_mutex_t hlk;
	struct held *held;
	size_t nheld, cap;
	/* The park thread's. */
	pthread_t th;
	bool started;
	atomic_bool stop;
	atomic_size_t count;
	struct conn tc;
	redisContext *sub;
	struct seen *seen;
	size_t nseen, seen_cap;
	struct park_rec *scan;
	size_t scan_cap;
	bool dirty;	       /* seen changed since routes was published */
	struct routes *routes; /* RCU */
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void lower_copy(char *out, size_t size, struct slice s)
{
	size_t n = s.len < size - 1 ? s.len : size - 1;

	for (size_t i = 0; i < n; i++) {
		char c = s.p[i];

		out[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
	}
	out[n] = '\0';
}

/* Records: percent-escaped fields, LF between them. */

static int put(char *buf, size_t size, size_t *np, const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '%' || ch == '\n' || ch == '\r' || ch == 0) {
			if (*np + 3 >= size)
				return -ENOSPC;
			snprintf(buf + *np, 4, "%%%02X", ch);
			*np += 3;
		} else {
			if (*np + 1 >= size)
				return -ENOSPC;
			buf[(*np)++] = (char)ch;
		}
	}
	if (*np + 1 >= size)
		return -ENOSPC;
	buf[(*np)++] = '\n';
	buf[*np] = '\0';
	return 0;
}

int park__rec_print(const struct park_rec *r, char *buf, size_t size)
{
	char num[64];
	size_t n = 0;
	int err;

	snprintf(num, sizeof(num), "%" PRId64 " %" PRIu64 " %u %" PRIu32,
		 r->since_s, r->holder, r->worker, r->local_cseq);
	err = put(buf, size, &n, num);
	if (!err)
		err = put(buf, size, &n, r->node);
	if (!err)
		err = put(buf, size, &n, r->pool);
	if (!err)
		err = put(buf, size, &n, r->parked);
	if (!err)
		err = put(buf, size, &n, r->parker);
	if (!err)
		err = put(buf, size, &n, r->call_id);
	if (!err)
		err = put(buf, size, &n, r->local_tag);
	if (!err)
		err = put(buf, size, &n, r->remote_tag);
	if (!err)
		err = put(buf, size, &n, r->remote_target);
	if (!err)
		err = put(buf, size, &n, r->route);
	/* Since the node takeover (issue #13); older records end above. */
	if (!err)
		err = put(buf, size, &n, r->local_uri);
	if (!err)
		err = put(buf, size, &n, r->remote_uri);
	if (!err)
		err = put(buf, size, &n, r->sdp_o);
	if (!err)
		err = put(buf, size, &n, r->proxy);
	return err ? err : (int)n;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* One field from *pp (up to LF) into @p out, unescaped. */
static int get(const char **pp, const char *end, char *out, size_t size)
{
	const char *p = *pp;
	size_t n = 0;

	while (p < end && *p != '\n') {
		char ch = *p++;

		if (ch == '%') {
			int h, l;

			if (end - p < 2 || (h = hexval(p[0])) < 0 ||
			    (l = hexval(p[1])) < 0)
				return -EBADMSG;
			ch = (char)(h << 4 | l);
			p += 2;
		}
		if (n + 1 >= size)
			return -EBADMSG;
		out[n++] = ch;
	}
	if (p >= end)
		return -EBADMSG;
	out[n] = '\0';
	*pp = p + 1;
	return 0;
}

int park__rec_parse(const char *p, size_t len, struct park_rec *r)
{
	const char *end = p + len;
	struct park_rec t;
	char num[64];
	int err;

	memset(&t, 0, sizeof(t));
	err = get(&p, end, num, sizeof(num));
	if (!err &&
	    sscanf(num, "%" SCNd64 " %" SCNu64 " %u %" SCNu32, &t.since_s,
		   &t.holder, &t.worker, &t.local_cseq) != 4)
		err = -EBADMSG;
	if (!err)
		err = get(&p, end, t.node, sizeof(t.node));
	if (!err)
		err = get(&p, end, t.pool, sizeof(t.pool));
	if (!err)
		err = get(&p, end, t.parked, sizeof(t.parked));
	if (!err)
		err = get(&p, end, t.parker, sizeof(t.parker));
	if (!err)
		err = get(&p, end, t.call_id, sizeof(t.call_id));
	if (!err)
		err = get(&p, end, t.local_tag, sizeof(t.local_tag));
	if (!err)
		err = get(&p, end, t.remote_tag, sizeof(t.remote_tag));
	if (!err)
		err = get(&p, end, t.remote_target, sizeof(t.remote_target));
	if (!err)
		err = get(&p, end, t.route, sizeof(t.route));
	/* An older node's record ends here (no takeover fields); a newer
	 * one has all four. */
	if (!err && p < end) {
		err = get(&p, end, t.local_uri, sizeof(t.local_uri));
		if (!err)
			err = get(&p, end, t.remote_uri, sizeof(t.remote_uri));
		if (!err)
			err = get(&p, end, t.sdp_o, sizeof(t.sdp_o));
		if (!err)
			err = get(&p, end, t.proxy, sizeof(t.proxy));
	}
	if (err)
		return -EBADMSG;
	memcpy(t.domain, r->domain, sizeof(t.domain));
	t.slot = r->slot;
	*r = t;
	return 0;
}

/* Connections. */

static void keys_of(const struct park__redis *p, const char *domain, char *rec,
		    char *lease, size_t size)
{
	snprintf(rec, size, "%s:park:{%s}", p->r->nm.ns, domain);
	snprintf(lease, size, "%s:parkl:{%s}", p->r->nm.ns, domain);
}

/* @p k's connection to the master of key @p key (reconnect when the
 * map moved it, or it broke). */
static redisContext *conn_for(struct park__redis *p, struct conn *k,
			      const char *key)
{
	struct redis_addr a;
	unsigned gen = 0;
	char why[256];

	if (!redis__route(p->r, redis__slot(key, strlen(key)), &a, &gen)) {
		if (k->c) /* no map (yet, or while down): keep trying */
			return k->c;
		return NULL;
	}
	if (k->c && (k->c->err || !redis__addr_same(&a, &k->addr))) {
		redisFree(k->c);
		k->c = NULL;
	}
	if (!k->c) {
		k->c = redis__connect(p->r, &a, why, sizeof(why));
		if (!k->c) {
			if (log_ratelimit_ok(&p->rl))
				log_msg(LOG_WARN, "park: redis: %s", why);
			return NULL;
		}
		k->addr = a;
	}
	k->gen = gen;
	return k->c;
}

/* One command on @p k towards @p key; a broken connection is made
 * again once. NULL: -EIO (logged, rate-limited). */
static redisReply *run(struct park__redis *p, struct conn *k, const char *key,
		       int argc, const char **argv, const size_t *lens)
{
	redisReply *rep = NULL;

	for (int i = 0; i < 2 && !rep; i++) {
		redisContext *c = conn_for(p, k, key);

		if (!c)
			return NULL;
		rep = redisCommandArgv(c, argc, argv, lens);
		if (!rep && log_ratelimit_ok(&p->rl))
			log_msg(LOG_WARN, "park: redis: %s",
				c->errstr[0] ? c->errstr : "no reply");
	}
	if (rep && rep->type == REDIS_REPLY_ERROR) {
		if ((!strncmp(rep->str, "MOVED", 5) ||
		     !strncmp(rep->str, "ASK", 3)))
			redis__want_refresh(p->r);
		if (log_ratelimit_ok(&p->rl))
			log_msg(LOG_WARN, "park: redis: %s", rep->str);
		freeReplyObject(rep);
		rep = NULL;
	}
	return rep;
}

/* Held slots. */

static int held_add(struct park__redis *p, const struct park_rec *r)
{
	int err = 0;

	pthread_mutex_lock(&p->hlk);
	if (p->nheld == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		struct held *h = realloc(p->held, cap * sizeof(*h));

		if (h) {
			p->held = h;
			p->cap = cap;
		} else {
			err = -ENOMEM;
		}
	}
	if (!err) {
		struct held *h = &p->held[p->nheld++];

		memcpy(h->domain, r->domain, sizeof(h->domain));
		h->slot = r->slot;
		h->holder = r->holder;
	}
	pthread_mutex_unlock(&p->hlk);
	return err;
}

static void held_del(struct park__redis *p, const char *domain, unsigned slot)
{
	pthread_mutex_lock(&p->hlk);
	for (size_t i = 0; i < p->nheld; i++)
		if (p->held[i].slot == slot &&
		    strcmp(p->held[i].domain, domain) == 0) {
			p->held[i] = p->held[--p->nheld];
			break;
		}
	pthread_mutex_unlock(&p->hlk);
}

/* The API. */

int park__redis_claim(struct park__redis *p, struct park_rec *r, unsigned min,
		      unsigned max, unsigned want)
{
	char rec[PARK_DOMAIN_MAX + 96], lease[PARK_DOMAIN_MAX + 96];
	char smin[16], smax[16], swant[16], tok[24], lms[16], grace[16];
	char *val = malloc(REC_MAX);
	redisReply *rep;
	int n, err = 0;

	if (!val)
		return -ENOMEM;
	n = park__rec_print(r, val, REC_MAX);
	if (n < 0) {
		free(val);
		return -EINVAL;
	}
	keys_of(p, r->domain, rec, lease, sizeof(rec));
	snprintf(smin, sizeof(smin), "%u", min);
	snprintf(smax, sizeof(smax), "%u", max);
	snprintf(swant, sizeof(swant), "%u", want);
	snprintf(tok, sizeof(tok), "%" PRIu64, r->holder);
	snprintf(lms, sizeof(lms), "%u", PARK_LEASE_MS);
	snprintf(grace, sizeof(grace), "%u", PARK_TAKE_GRACE_MS);
	{
		const char *argv[] = {
			"EVAL",		claim_lua, "2",	 rec, lease, smin,
			smax,		swant,	   tok,	 lms, val,   p->chan,
			park_node_id(), r->domain, grace
		};

		pthread_mutex_lock(&p->lk);
		rep = run(p, &p->cmd, rec, 15, argv, NULL);
		pthread_mutex_unlock(&p->lk);
	}
	free(val);
	if (!rep)
		return -EIO;
	if (rep->type != REDIS_REPLY_INTEGER)
		err = -EIO;
	else if (rep->integer == 0)
		err = -EBUSY;
	else
		r->slot = (unsigned)rep->integer;
	freeReplyObject(rep);
	if (err)
		return err;
	/* The lots set (another Cluster slot: not in the script); a lost
	 * SADD only hides the lot from a list of every domain until the
	 * next claim. */
	{
		const char *argv[] = { "SADD", p->lots, r->domain };

		pthread_mutex_lock(&p->lk);
		rep = run(p, &p->cmd, p->lots, 3, argv, NULL);
		pthread_mutex_unlock(&p->lk);
		if (rep)
			freeReplyObject(rep);
	}
	if (held_add(p, r) && log_ratelimit_ok(&p->rl))
		log_msg(LOG_WARN,
			"park: %s slot %u: out of memory: its lease "
			"will not be renewed",
			r->domain, r->slot);
	return 0;
}

static int change(struct park__redis *p, const char *domain, unsigned slot,
		  uint64_t holder, const char *val, struct park_rec *was)
{
	char rec[PARK_DOMAIN_MAX + 96], lease[PARK_DOMAIN_MAX + 96];
	char sslot[16], tok[24];
	const char *argv[] = { "EVAL",	       change_lua, "2",	  rec,
			       lease,	       sslot,	   tok,	  p->chan,
			       park_node_id(), val,	   domain };
	redisReply *rep;
	int err = 0;

	keys_of(p, domain, rec, lease, sizeof(rec));
	snprintf(sslot, sizeof(sslot), "%u", slot);
	snprintf(tok, sizeof(tok), "%" PRIu64, holder);
	pthread_mutex_lock(&p->lk);
	rep = run(p, &p->cmd, rec, 11, argv, NULL);
	pthread_mutex_unlock(&p->lk);
	if (!rep)
		return -EIO;
	if (rep->type == REDIS_REPLY_INTEGER)
		err = rep->integer == -1   ? -ENOENT
		      : rep->integer == -2 ? -EPERM
					   : 0;
	else if (rep->type == REDIS_REPLY_STRING && was) {
		memset(was, 0, sizeof(*was));
		snprintf(was->domain, sizeof(was->domain), "%s", domain);
		was->slot = slot;
		(void)park__rec_parse(rep->str, rep->len, was);
		was->holder = holder;
	} else if (rep->type != REDIS_REPLY_STRING)
		err = -EIO;
	freeReplyObject(rep);
	return err;
}

int park__redis_release(struct park__redis *p, struct slice domain,
			unsigned slot, uint64_t holder, struct park_rec *was)
{
	char d[PARK_DOMAIN_MAX + 1];
	int err;

	if (!domain.len || domain.len > PARK_DOMAIN_MAX)
		return -ENOENT;
	lower_copy(d, sizeof(d), domain);
	err = change(p, d, slot, holder, "", was);
	/* Ours no more, whatever Redis said but "unreachable". */
	if (err != -EIO)
		held_del(p, d, slot);
	return err;
}

int park__redis_update(struct park__redis *p, const struct park_rec *r)
{
	char d[PARK_DOMAIN_MAX + 1];
	char *val = malloc(REC_MAX);
	int n, err;

	if (!val)
		return -ENOMEM;
	n = park__rec_print(r, val, REC_MAX);
	lower_copy(d, sizeof(d), slice_cstr(r->domain));
	err = n < 0 ? -EINVAL : change(p, d, r->slot, r->holder, val, NULL);
	free(val);
	return err;
}

/* Append the live records of @p domain (lower case; @p slot 0: all) to
 * out[*np..max), counting all in *np. */
static int list_lot(struct park__redis *p, struct conn *k, const char *domain,
		    unsigned slot, struct park_rec *out, size_t max, size_t *np)
{
	char rec[PARK_DOMAIN_MAX + 96], lease[PARK_DOMAIN_MAX + 96];
	char sslot[16];
	const char *argv[] = { "EVAL", list_lua, "2", rec, lease, sslot };
	redisReply *rep;
	int err = 0;

	keys_of(p, domain, rec, lease, sizeof(rec));
	snprintf(sslot, sizeof(sslot), "%u", slot);
	rep = run(p, k, rec, 6, argv, NULL);
	if (!rep)
		return -EIO;
	if (rep->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(rep);
		return -EIO;
	}
	for (size_t i = 0; i + 1 < rep->elements; i += 2) {
		const redisReply *f = rep->element[i], *v = rep->element[i + 1];
		struct park_rec t;
		unsigned s;

		if (f->type != REDIS_REPLY_STRING ||
		    v->type != REDIS_REPLY_STRING ||
		    sscanf(f->str, "%u", &s) != 1)
			continue;
		memset(&t, 0, sizeof(t));
		snprintf(t.domain, sizeof(t.domain), "%s", domain);
		t.slot = s;
		if (park__rec_parse(v->str, v->len, &t))
			continue; /* not ours to read: skipped */
		if (*np < max)
			out[*np] = t;
		(*np)++;
	}
	freeReplyObject(rep);
	return err;
}

int park__redis_get(struct park__redis *p, struct slice domain, unsigned slot,
		    struct park_rec *out)
{
	char d[PARK_DOMAIN_MAX + 1];
	size_t n = 0;
	int err;

	if (!domain.len || domain.len > PARK_DOMAIN_MAX || !slot)
		return -ENOENT;
	lower_copy(d, sizeof(d), domain);
	pthread_mutex_lock(&p->lk);
	err = list_lot(p, &p->cmd, d, slot, out, 1, &n);
	pthread_mutex_unlock(&p->lk);
	if (err)
		return err;
	return n ? 0 : -ENOENT;
}

static int cmp_rec(const void *a, const void *b)
{
	const struct park_rec *x = a, *y = b;
	int c = strcmp(x->domain, y->domain);

	if (c)
		return c;
	return x->slot < y->slot ? -1 : x->slot > y->slot;
}

/* Every lot's (or @p domain's) live records on @p k. */
static int list_on(struct park__redis *p, struct conn *k, struct slice domain,
		   struct park_rec *out, size_t max)
{
	char d[PARK_DOMAIN_MAX + 1];
	redisReply *rep;
	size_t n = 0;
	int err = 0;

	if (domain.len) {
		lower_copy(d, sizeof(d), domain);
		err = list_lot(p, k, d, 0, out, max, &n);
	} else {
		const char *argv[] = { "SMEMBERS", p->lots };

		rep = run(p, k, p->lots, 2, argv, NULL);
		if (!rep || rep->type != REDIS_REPLY_ARRAY) {
			if (rep)
				freeReplyObject(rep);
			return -EIO;
		}
		for (size_t i = 0; i < rep->elements && !err; i++) {
			const redisReply *e = rep->element[i];

			if (e->type != REDIS_REPLY_STRING || !e->len ||
			    e->len > PARK_DOMAIN_MAX)
				continue;
			err = list_lot(p, k, e->str, 0, out, max, &n);
		}
		freeReplyObject(rep);
	}
	if (err)
		return err;
	if ((n < max ? n : max) > 1)
		qsort(out, n < max ? n : max, sizeof(*out), cmp_rec);
	return n > (size_t)INT32_MAX ? INT32_MAX : (int)n;
}

int park__redis_list(struct park__redis *p, struct slice domain,
		     struct park_rec *out, size_t max)
{
	int n;

	pthread_mutex_lock(&p->lk);
	n = list_on(p, &p->cmd, domain, out, max);
	pthread_mutex_unlock(&p->lk);
	return n;
}

size_t park__redis_count(struct park__redis *p)
{
	return atomic_load_explicit(&p->count, memory_order_relaxed);
}

/* The park thread. */

/* Slot @p slot of @p domain, held as @p h[0..n), was taken over by
 * another node while our lease had run out (this node froze, or lost
 * Redis, longer than a lease): not ours any more; the taker's
 * counterpart lets our call go. */
static void lost_one(struct park__redis *p, const struct held *h, size_t n,
		     const char *domain, unsigned slot)
{
	park_lost_fn *fn;
	void *arg = NULL;

	for (size_t i = 0; i < n; i++) {
		if (h[i].slot != slot || strcmp(h[i].domain, domain))
			continue;
		held_del(p, domain, slot);
		log_msg(LOG_WARN,
			"park: %s slot %u: our lease ran out and another node "
			"took the call over: letting it go",
			domain, slot);
		fn = park__loser(&arg);
		if (fn)
			fn(domain, slot, h[i].holder, arg);
		return;
	}
}

/* Renew every lease we hold: one EVAL per lot, all in one pipeline. */
static void renew(struct park__redis *p)
{
	struct held *h = NULL;
	size_t n, lots = 0, *first = NULL;
	redisContext *c;
	char rec[PARK_DOMAIN_MAX + 96], lease[PARK_DOMAIN_MAX + 96];
	char lms[16];

	pthread_mutex_lock(&p->hlk);
	n = p->nheld;
	if (n) {
		h = malloc(n * sizeof(*h));
		if (h)
			memcpy(h, p->held, n * sizeof(*h));
	}
	pthread_mutex_unlock(&p->hlk);
	if (!h)
		return;
	first = malloc(n * sizeof(*first)); /* each lot's first held */
	if (!first) {
		free(h);
		return;
	}
	/* Grouped by lot: sort by domain. */
	qsort(h, n, sizeof(*h), (int (*)(const void *, const void *))strcmp);
	snprintf(lms, sizeof(lms), "%u", PARK_LEASE_MS);
	keys_of(p, h[0].domain, rec, lease, sizeof(rec));
	c = conn_for(p, &p->tc, rec);
	for (size_t i = 0; c && i < n;) {
		size_t j = i, argc;
		const char **argv;
		char(*num)[2][24];

		while (j < n && strcmp(h[j].domain, h[i].domain) == 0)
			j++;
		argc = 6 + 2 * (j - i);
		argv = malloc(argc * sizeof(*argv));
		num = malloc((j - i) * sizeof(*num));
		if (argv && num) {
			keys_of(p, h[i].domain, rec, lease, sizeof(rec));
			argv[0] = "EVAL";
			argv[1] = renew_lua;
			argv[2] = "2";
			argv[3] = rec;
			argv[4] = lease;
			argv[5] = lms;
			for (size_t k = i; k < j; k++) {
				snprintf(num[k - i][0], 24, "%u", h[k].slot);
				snprintf(num[k - i][1], 24, "%" PRIu64,
					 h[k].holder);
				argv[6 + 2 * (k - i)] = num[k - i][0];
				argv[7 + 2 * (k - i)] = num[k - i][1];
			}
			if (redisAppendCommandArgv(c, (int)argc, argv, NULL) ==
			    REDIS_OK)
				first[lots++] = i;
		}
		free(argv);
		free(num);
		i = j;
	}
	for (size_t i = 0; c && i < lots; i++) {
		void *v = NULL;

		if (redisGetReply(c, &v) != REDIS_OK) {
			if (log_ratelimit_ok(&p->rl))
				log_msg(LOG_WARN,
					"park: redis: renewing "
					"leases: %s",
					c->errstr);
			break;
		}
		/* A lease that ran out (this node froze or lost Redis
		 * longer than a lease) and was taken over by another
		 * node: that node holds the slot and the call now. */
		for (size_t k = 0;
		     v && ((redisReply *)v)->type == REDIS_REPLY_ARRAY &&
		     k < ((redisReply *)v)->elements;
		     k++) {
			const redisReply *e = ((redisReply *)v)->element[k];
			unsigned s;

			if (e->type == REDIS_REPLY_STRING &&
			    sscanf(e->str, "%u", &s) == 1)
				lost_one(p, h + first[i], n - first[i],
					 h[first[i]].domain, s);
		}
		freeReplyObject(v);
	}
	free(first);
	free(h);
}

static int cmp_route(const void *a, const void *b)
{
	const struct route *x = a, *y = b;
	int c = strcmp(x->domain, y->domain);

	if (c)
		return c;
	return x->slot < y->slot ? -1 : x->slot > y->slot;
}

static void routes_free_cb(struct rcu_head *h)
{
	free(caa_container_of(h, struct routes, rcu));
}

/* Publish what we saw for park_route_of(). */
static void routes_publish(struct park__redis *p)
{
	struct routes *nw, *old;

	nw = malloc(sizeof(*nw) + p->nseen * sizeof(nw->v[0]));
	if (!nw)
		return; /* dirty stays: again at the next round */
	nw->n = p->nseen;
	for (size_t i = 0; i < p->nseen; i++) {
		memcpy(nw->v[i].domain, p->seen[i].r.domain,
		       sizeof(nw->v[i].domain));
		nw->v[i].slot = p->seen[i].r.slot;
		memcpy(nw->v[i].pool, p->seen[i].r.pool, sizeof(nw->v[i].pool));
	}
	if (nw->n > 1)
		qsort(nw->v, nw->n, sizeof(nw->v[0]), cmp_route);
	old = rcu_xchg_pointer(&p->routes, nw);
	if (old)
		urcu_memb_call_rcu(&old->rcu, routes_free_cb);
	p->dirty = false;
}

int park__redis_route_of(struct park__redis *p, struct slice domain,
			 unsigned slot, char *pool, size_t size)
{
	struct route key;
	const struct route *hit;
	struct routes *rs;
	int err = -ENOENT;

	if (!domain.len || domain.len > PARK_DOMAIN_MAX)
		return -ENOENT;
	lower_copy(key.domain, sizeof(key.domain), domain);
	key.slot = slot;
	urcu_memb_read_lock();
	rs = rcu_dereference(p->routes);
	hit = rs && rs->n
		  ? bsearch(&key, rs->v, rs->n, sizeof(rs->v[0]), cmp_route)
		  : NULL;
	if (hit && hit->pool[0]) {
		err = strlen(hit->pool) < size ? 0 : -ENOSPC;
		if (!err)
			memcpy(pool, hit->pool, strlen(hit->pool) + 1);
	}
	urcu_memb_read_unlock();
	return err;
}

static struct seen *seen_find(struct park__redis *p, const char *domain,
			      unsigned slot)
{
	for (size_t i = 0; i < p->nseen; i++)
		if (p->seen[i].r.slot == slot &&
		    strcmp(p->seen[i].r.domain, domain) == 0)
			return &p->seen[i];
	return NULL;
}

/* Another node's slot is (@p r) or is no more (@p gone): tell once. */
static void seen_set(struct park__redis *p, const struct park_rec *r, bool gone)
{
	struct seen *s = seen_find(p, r->domain, r->slot);

	if (gone) {
		if (!s)
			return;
		park__tell(&s->r, PARK_CHANGE_FREED);
		*s = p->seen[--p->nseen];
		p->dirty = true;
		return;
	}
	if (s) {
		bool same = s->r.holder == r->holder &&
			    strcmp(s->r.parked, r->parked) == 0;

		if (strcmp(s->r.pool, r->pool))
			p->dirty = true;
		s->r = *r;
		s->mark = true;
		if (!same)
			park__tell(r, PARK_CHANGE_UPDATED);
		return;
	}
	if (p->nseen == p->seen_cap) {
		size_t cap = p->seen_cap ? p->seen_cap * 2 : 64;
		struct seen *n = realloc(p->seen, cap * sizeof(*n));

		if (!n)
			return; /* told at the next scan */
		p->seen = n;
		p->seen_cap = cap;
	}
	p->seen[p->nseen].r = *r;
	p->seen[p->nseen].mark = true;
	p->nseen++;
	p->dirty = true;
	park__tell(r, PARK_CHANGE_PARKED);
}

/* "EV NODE SLOT DOMAIN\nRECORD" of another node. */
static void on_message(struct park__redis *p, redisReply *m)
{
	const redisReply *b;
	struct park_rec r;
	char ev, node[PARK_NODE_MAX + 1];
	const char *nl;
	unsigned slot;
	int off = 0;

	if (m->type != REDIS_REPLY_ARRAY || m->elements != 3 ||
	    m->element[0]->type != REDIS_REPLY_STRING ||
	    strcmp(m->element[0]->str, "message") ||
	    m->element[2]->type != REDIS_REPLY_STRING)
		return;
	b = m->element[2];
	nl = memchr(b->str, '\n', b->len);
	memset(&r, 0, sizeof(r));
	if (!nl ||
	    sscanf(b->str, "%c %32s %u %n", &ev, node, &slot, &off) != 3 ||
	    !off || b->str + off >= nl ||
	    (size_t)(nl - (b->str + off)) > PARK_DOMAIN_MAX)
		return;
	if (strcmp(node, park_node_id()) == 0)
		return; /* ours: told where it happened */
	memcpy(r.domain, b->str + off, (size_t)(nl - (b->str + off)));
	r.slot = slot;
	if (park__rec_parse(nl + 1, b->len - (size_t)(nl + 1 - b->str), &r) &&
	    ev != 'F')
		return;
	seen_set(p, &r, ev == 'F');
}

/* Every live slot of other nodes: what Pub/Sub missed (a dead node's
 * slots whose lease ran out, a message lost while we reconnected). */
static void scan(struct park__redis *p)
{
	int n = list_on(p, &p->tc, slice_make(NULL, 0), p->scan, p->scan_cap);

	if (n >= 0 && (size_t)n > p->scan_cap) {
		struct park_rec *s =
		    realloc(p->scan, (size_t)n * 2 * sizeof(*s));

		if (!s)
			return;
		p->scan = s;
		p->scan_cap = (size_t)n * 2;
		n = list_on(p, &p->tc, slice_make(NULL, 0), p->scan,
			    p->scan_cap);
	}
	if (n < 0 || (size_t)n > p->scan_cap)
		return;
	atomic_store_explicit(&p->count, (size_t)n, memory_order_relaxed);
	for (size_t i = 0; i < p->nseen; i++)
		p->seen[i].mark = false;
	for (int i = 0; i < n; i++)
		if (!park_is_local(&p->scan[i]))
			seen_set(p, &p->scan[i], false);
	for (size_t i = 0; i < p->nseen;)
		if (!p->seen[i].mark)
			seen_set(p, &p->seen[i].r, true);
		else
			i++;
}

/* Forget another node's slot we took over, without telling the
 * watcher: the slot did not change for its subscribers. */
static void seen_forget(struct park__redis *p, const char *domain,
			unsigned slot)
{
	struct seen *s = seen_find(p, domain, slot);

	if (!s)
		return;
	*s = p->seen[--p->nseen];
	p->dirty = true;
}

/* True when @p r holds what a takeover needs (records of older nodes
 * lack the newer fields). */
static bool takeable(const struct park_rec *r)
{
	return r->call_id[0] && r->local_tag[0] && r->remote_tag[0] &&
	       r->remote_target[0] && r->local_uri[0] && r->remote_uri[0] &&
	       r->sdp_o[0];
}

/* One EVAL of take_lua on lot @p domain: 1 won, 0 lost, -EIO. */
static int take(struct park__redis *p, const char *domain, unsigned slot,
		const char *lease, uint64_t holder, const char *val)
{
	char rec[PARK_DOMAIN_MAX + 96], lk[PARK_DOMAIN_MAX + 96];
	char sslot[16], tok[24], lms[16];
	const char *argv[] = { "EVAL",	take_lua,	"2",   rec, lk,
			       sslot,	lease,		tok,   lms, val,
			       p->chan, park_node_id(), domain };
	redisReply *rep;
	int ret;

	keys_of(p, domain, rec, lk, sizeof(rec));
	snprintf(sslot, sizeof(sslot), "%u", slot);
	snprintf(tok, sizeof(tok), "%" PRIu64, holder);
	snprintf(lms, sizeof(lms), "%u", PARK_LEASE_MS);
	rep = run(p, &p->tc, rec, 13, argv, NULL);
	if (!rep)
		return -EIO;
	ret = rep->type == REDIS_REPLY_INTEGER ? (rep->integer == 1) : -EIO;
	freeReplyObject(rep);
	return ret;
}

/* Slot @p slot of @p domain, whose lease @p lease ran out, recorded as
 * @p val (@p len bytes): take it over for this node (issue #13), or
 * drop it when its record cannot be taken over. */
static void take_one(struct park__redis *p, const char *domain, unsigned slot,
		     const char *lease, const char *val, size_t len)
{
	char *nv = NULL, old_proxy[PARK_PROXY_MAX + 1];
	park_takeover_fn *fn;
	struct park_rec t, nw;
	void *arg = NULL;
	int n, won;

	fn = park__taker(&arg);
	if (!fn)
		return; /* nobody takes over: the lease leaves it unlisted */
	memset(&t, 0, sizeof(t));
	snprintf(t.domain, sizeof(t.domain), "%s", domain);
	t.slot = slot;
	if (park__rec_parse(val, len, &t) == 0 && park_is_local(&t))
		return; /* our own lease lapsed (Redis away): renew() */
	if (!takeable(&t)) {
		won = take(p, domain, slot, lease, 0, "");
		if (won == 1) {
			log_msg(LOG_WARN,
				"park: %s slot %u of dead node %s: no "
				"takeover fields (an older node's record): "
				"released",
				domain, slot, t.node[0] ? t.node : "?");
			seen_set(p, &t, true);
		}
		return;
	}
	nw = t;
	memcpy(old_proxy, t.proxy, sizeof(old_proxy));
	park__stamp(&nw);
	nv = malloc(REC_MAX);
	if (!nv)
		return;
	n = park__rec_print(&nw, nv, REC_MAX);
	won = n < 0 ? 0 : take(p, domain, slot, lease, nw.holder, nv);
	free(nv);
	if (won != 1)
		return; /* another survivor was first, or Redis is away */
	if (held_add(p, &nw) && log_ratelimit_ok(&p->rl))
		log_msg(LOG_WARN,
			"park: %s slot %u: out of memory: its lease will not "
			"be renewed",
			domain, slot);
	seen_forget(p, domain, slot);
	log_msg(LOG_INFO,
		"park: %s slot %u: node %s died; taken over call-id=%s", domain,
		slot, t.node, t.call_id);
	fn(&nw, old_proxy, arg);
}

/* Every lot's slots whose holder died: taken over (or dropped). Once
 * per PARK_REFRESH_MS: a lease of PARK_LEASE_MS that ran out is found
 * within PARK_LEASE_MS + PARK_REFRESH_MS of its holder's last renewal. */
static void takeovers(struct park__redis *p)
{
	void *arg;
	redisReply *lots;

	if (!park__taker(&arg))
		return;
	{
		const char *argv[] = { "SMEMBERS", p->lots };

		lots = run(p, &p->tc, p->lots, 2, argv, NULL);
	}
	if (!lots)
		return;
	for (size_t i = 0;
	     lots->type == REDIS_REPLY_ARRAY && i < lots->elements; i++) {
		const redisReply *d = lots->element[i];
		char rec[PARK_DOMAIN_MAX + 96], lk[PARK_DOMAIN_MAX + 96];
		const char *argv[] = { "EVAL", stale_lua, "2", rec, lk };
		redisReply *rep;

		if (d->type != REDIS_REPLY_STRING || !d->len ||
		    d->len > PARK_DOMAIN_MAX)
			continue;
		keys_of(p, d->str, rec, lk, sizeof(rec));
		rep = run(p, &p->tc, rec, 5, argv, NULL);
		if (!rep)
			continue;
		for (size_t k = 0;
		     rep->type == REDIS_REPLY_ARRAY && k + 2 < rep->elements;
		     k += 3) {
			const redisReply *f = rep->element[k],
					 *l = rep->element[k + 1],
					 *v = rep->element[k + 2];
			unsigned s;

			if (f->type != REDIS_REPLY_STRING ||
			    l->type != REDIS_REPLY_STRING ||
			    v->type != REDIS_REPLY_STRING ||
			    sscanf(f->str, "%u", &s) != 1)
				continue;
			take_one(p, d->str, s, l->str, v->str, v->len);
		}
		freeReplyObject(rep);
	}
	freeReplyObject(lots);
}

static void sub_open(struct park__redis *p)
{
	struct redis_addr a;
	unsigned gen;
	char why[256];
	redisReply *rep;

	if (!redis__route(p->r, redis__slot(p->chan, strlen(p->chan)), &a,
			  &gen))
		return;
	p->sub = redis__connect(p->r, &a, why, sizeof(why));
	if (!p->sub)
		return;
	rep = redisCommandArgv(p->sub, 2,
			       (const char *[]){ "SUBSCRIBE", p->chan }, NULL);
	if (!rep || rep->type == REDIS_REPLY_ERROR) {
		if (rep)
			freeReplyObject(rep);
		redisFree(p->sub);
		p->sub = NULL;
		return;
	}
	freeReplyObject(rep);
}

static void sub_read(struct park__redis *p)
{
	void *v;

	if (redisBufferRead(p->sub) != REDIS_OK) {
		redisFree(p->sub);
		p->sub = NULL;
		return;
	}
	/* Bounded: what one read brought. */
	for (int i = 0; i < 4096; i++) {
		if (redisGetReplyFromReader(p->sub, &v) != REDIS_OK) {
			redisFree(p->sub);
			p->sub = NULL;
			return;
		}
		if (!v)
			return;
		on_message(p, v);
		freeReplyObject(v);
	}
}

static void *park_main(void *arg)
{
	struct park__redis *p = arg;
	uint64_t next = 0;

	pthread_setname_np(pthread_self(), "park");
	urcu_memb_register_thread();
	while (!atomic_load(&p->stop)) {
		struct pollfd pfd;
		uint64_t now = mono_ms();
		int wait;

		if (now >= next) {
			next = now + PARK_REFRESH_MS;
			renew(p);
			if (!p->sub)
				sub_open(p);
			/* Takeovers first: a slot taken over stays listed
			 * and lit (scan() would tell it freed). */
			takeovers(p);
			scan(p);
			if (p->dirty)
				routes_publish(p);
		}
		/* Bounded: a tenth of a second, so that stop is seen. */
		wait = (int)(next - now < 100 ? next - now : 100);
		if (!p->sub) {
			struct timespec ts = { 0, (long)wait * 1000000L };

			nanosleep(&ts, NULL);
			continue;
		}
		pfd = (struct pollfd){ p->sub->fd, POLLIN, 0 };
		if (poll(&pfd, 1, wait) > 0)
			sub_read(p);
		if (p->dirty)
			routes_publish(p);
	}
	urcu_memb_unregister_thread();
	return NULL;
}

int park__redis_start(struct redis *r, struct park__redis **pp)
{
	struct park__redis *p = calloc(1, sizeof(*p));
	int err;

	if (!p)
		return -ENOMEM;
	p->r = r;
	p->rl.burst = 5;
	snprintf(p->chan, sizeof(p->chan), "%s:park", r->nm.ns);
	snprintf(p->lots, sizeof(p->lots), "%s:park:lots", r->nm.ns);
	pthread_mutex_init(&p->lk, NULL);
	pthread_mutex_init(&p->hlk, NULL);
	err = -pthread_create(&p->th, NULL, park_main, p);
	if (err) {
		park__redis_stop(p);
		return -EAGAIN;
	}
	p->started = true;
	*pp = p;
	return 0;
}

void park__redis_stop(struct park__redis *p)
{
	if (!p)
		return;
	atomic_store(&p->stop, true);
	if (p->started)
		pthread_join(p->th, NULL);
	if (p->cmd.c)
		redisFree(p->cmd.c);
	if (p->tc.c)
		redisFree(p->tc.c);
	if (p->sub)
		redisFree(p->sub);
	if (p->routes) { /* the thread is gone: readers may still be in */
		urcu_memb_call_rcu(&p->routes->rcu, routes_free_cb);
		urcu_memb_barrier();
	}
	pthread_mutex_destroy(&p->lk);
	pthread_mutex_destroy(&p->hlk);
	free(p->held);
	free(p->seen);
	free(p->scan);
	free(p);
}
