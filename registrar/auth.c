/* registrar/auth.c - digest authentication (RFC 3261 §22, RFC 7616, RFC 8760)
 */
#include "registrar/auth.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#include <nettle/hmac.h>
#include <nettle/memops.h>
#include <nettle/sha2.h>

#include "features/b2b/pool.h"
#include "proxy/base/arena.h"
#include "proxy/base/hash.h"
#include "proxy/base/hex.h"
#include "proxy/base/log.h"
#include "proxy/base/stats.h"
#include "proxy/core/conf.h"
#include "proxy/hook.h"
#include "proxy/core/shard.h"
#include "proxy/sip/hdr.h"
#include "proxy/sip/digest.h"
#include "proxy/sip/msg.h"
#include "proxy/core/transport.h"
#include "registrar/reg.h"
#include "registrar/reg_conf.h"
#include "registrar/users.h"

/* Nonce counts: per shard, grown on demand up to a bound; see nc_check(). */
#define NC_SLOTS_MIN (1u << 14)
#define NC_SLOTS_MAX (1u << 22)
#define NC_PROBE     16
/* Failures per source address: per shard, bounded. */
#define FAIL_SLOTS (1u << 12)
#define FAIL_PROBE 8
/* A nonce stamped this far in the future is not ours (clock skew). */
#define FUTURE_SKEW_S 60

struct nc_slot {
	uint64_t salt;
	int64_t ts; /* the nonce's time stamp; 0: empty */
	uint32_t nc;
};

struct fail_slot {
	unsigned char key[17]; /* family byte, address */
	int64_t start;	       /* window start; 0: empty */
	uint32_t count;
};

/* What one shard owns. Only that shard writes it. */
struct shard_state {
	struct nc_slot *nc;
	size_t nc_mask; /* slots - 1 */
	/* Time stamp of the newest nonce whose count had to be evicted
	 * while it was still fresh: an unknown nonce not newer than this
	 * may have been used before, so it gets stale=true. */
	int64_t nc_watermark;
	struct fail_slot *fail;
	uint64_t salt_next;
	struct auth_stats st;
	struct log_ratelimit rl;
};

static struct hmac_sha256_ctx key_ctx; /* keyed once, copied per use */
static struct shard_state *shards;
static unsigned nshards_;
static uint64_t table_seed;
static const struct stats_source stats_src; /* below auth_stats() */

/* Nonces. */

static void be64(uint64_t v, uint8_t *out)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		out[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* The 16 MAC bytes of (ts, salt, realm in lower case). */
static void nonce_mac(const uint8_t *head, struct slice realm, uint8_t *mac)
{
	struct hmac_sha256_ctx ctx = key_ctx;
	uint8_t full[SHA256_DIGEST_SIZE];
	char low[256];
	size_t n = realm.len < sizeof(low) ? realm.len : sizeof(low);

	for (size_t i = 0; i < n; i++)
		low[i] = realm.p[i] >= 'A' && realm.p[i] <= 'Z'
			     ? (char)(realm.p[i] | 0x20)
			     : realm.p[i];
	hmac_sha256_update(&ctx, 16, head);
	hmac_sha256_update(&ctx, n, (const uint8_t *)low);
	hmac_sha256_digest(&ctx, SHA256_DIGEST_SIZE, full);
	memcpy(mac, full, 16);
}

void auth_nonce_make(struct slice realm, int64_t now_s, uint64_t salt,
		     char *out)
{
	uint8_t raw[32];
	char hex[65];

	be64((uint64_t)now_s, raw);
	be64(salt, raw + 8);
	nonce_mac(raw, realm, raw + 16);
	hex_print(raw, 32, hex);
	memcpy(out, hex, AUTH_NONCE_LEN);
}

int auth_nonce_check(struct slice nonce, struct slice realm, int64_t *tsp,
		     uint64_t *saltp)
{
	uint8_t raw[32], mac[16];

	if (nonce.len != AUTH_NONCE_LEN || hex_parse(nonce, raw, 32) < 0)
		return -EINVAL;
	nonce_mac(raw, realm, mac);
	if (!memeql_sec(mac, raw + 16, 16))
		return -EINVAL;
	*tsp = (int64_t)get_be64(raw);
	*saltp = get_be64(raw + 8);
	return 0;
}

/* Set-up. */

int auth_init(const struct conf *c, unsigned nshards)
{
	uint8_t key[SHA256_DIGEST_SIZE];
	uint64_t base;
	int err;

	if (nshards == 0)
		return -EINVAL;
	if (reg_conf(c)->secret) {
		hmac_sha256_set_key(&key_ctx, strlen(reg_conf(c)->secret),
				    (const uint8_t *)reg_conf(c)->secret);
	} else {
		if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key))
			return -EIO;
		hmac_sha256_set_key(&key_ctx, sizeof(key), key);
	}
	if (getrandom(&base, sizeof(base), 0) != (ssize_t)sizeof(base) ||
	    getrandom(&table_seed, sizeof(table_seed), 0) !=
		(ssize_t)sizeof(table_seed))
		return -EIO;
	shards = calloc(nshards, sizeof(*shards));
	if (!shards)
		return -ENOMEM;
	nshards_ = nshards;
	for (unsigned i = 0; i < nshards; i++) {
		struct shard_state *s = &shards[i];

		s->nc = calloc(NC_SLOTS_MIN, sizeof(*s->nc));
		s->nc_mask = NC_SLOTS_MIN - 1;
		s->fail = calloc(FAIL_SLOTS, sizeof(*s->fail));
		if (!s->nc || !s->fail) {
			auth_fini();
			return -ENOMEM;
		}
		/* Unique per shard: the shard id in the top byte. */
		s->salt_next =
		    (base & 0x00ffffffffffffffULL) | ((uint64_t)i << 56);
		s->rl.burst = 5;
	}
	err = stats_add(&stats_src);
	if (err && err != -EEXIST) {
		auth_fini();
		return err;
	}
	return 0;
}

void auth_fini(void)
{
	stats_remove(&stats_src);
	for (unsigned i = 0; shards && i < nshards_; i++) {
		free(shards[i].nc);
		free(shards[i].fail);
	}
	free(shards);
	shards = NULL;
	nshards_ = 0;
}

static void count(uint64_t *p)
{
	__atomic_store_n(p, *p + 1, __ATOMIC_RELAXED);
}

void auth_stats(struct auth_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; shards && i < nshards_; i++) {
		const struct auth_stats *s = &shards[i].st;

		out->challenges +=
		    __atomic_load_n(&s->challenges, __ATOMIC_RELAXED);
		out->successes +=
		    __atomic_load_n(&s->successes, __ATOMIC_RELAXED);
		out->failures +=
		    __atomic_load_n(&s->failures, __ATOMIC_RELAXED);
		out->blocked += __atomic_load_n(&s->blocked, __ATOMIC_RELAXED);
		out->replays += __atomic_load_n(&s->replays, __ATOMIC_RELAXED);
		out->stale += __atomic_load_n(&s->stale, __ATOMIC_RELAXED);
	}
}

/* The registry's view of these counters (proxy/base/stats.h). */
static const struct stats_item stats_items[] = {
	{ "challenges", "401/407 challenges sent", false },
	{ "successes", "credentials accepted", false },
	{ "failures", "wrong responses and unknown users", false },
	{ "blocked", "403 to a source over the failure limit", false },
	{ "replays", "nonce and nc seen before", false },
	{ "stale", "right password, old nonce: stale=true", false },
};

static void stats_read(void *arg, unsigned inst, uint64_t *v)
{
	struct auth_stats st;

	(void)arg;
	(void)inst;
	auth_stats(&st);
	v[0] = st.challenges;
	v[1] = st.successes;
	v[2] = st.failures;
	v[3] = st.blocked;
	v[4] = st.replays;
	v[5] = st.stale;
}

static const struct stats_source stats_src = {
	.module = "auth",
	.items = stats_items,
	.nitems = sizeof(stats_items) / sizeof(stats_items[0]),
	.ninst = 1,
	.read = stats_read,
};

/* The slot of @p salt in @p v (mask @p mask), or where it may go. */
static struct nc_slot *nc_probe(struct nc_slot *v, size_t mask, uint64_t salt,
				int64_t now_s, int64_t ttl_s, bool *foundp,
				struct nc_slot **oldestp)
{
	size_t i = hash_bytes(&salt, sizeof(salt), table_seed) & mask;
	struct nc_slot *free_slot = NULL, *oldest = NULL;

	*foundp = false;
	for (unsigned k = 0; k < NC_PROBE; k++) {
		struct nc_slot *e = &v[(i + k) & mask];

		if (e->ts && e->salt == salt) {
			*foundp = true;
			return e;
		}
		if (!free_slot && (!e->ts || e->ts + ttl_s < now_s))
			free_slot = e;
		if (e->ts && (!oldest || e->ts < oldest->ts))
			oldest = e;
	}
	*oldestp = oldest;
	return free_slot;
}

/* Forget a fresh count: unknown nonces up to its time become stale. */
static void nc_evict(struct shard_state *s, struct nc_slot *e)
{
	if (e->ts > s->nc_watermark)
		s->nc_watermark = e->ts;
	e->ts = 0;
}

/* Double the table, keeping the live counts. -ENOMEM, -E2BIG (at the
 * bound): the caller evicts instead. Runs rarely; bounded work. */
static int nc_grow(struct shard_state *s, int64_t now_s, int64_t ttl_s)
{
	size_t n = s->nc_mask + 1, mask = 2 * n - 1;
	struct nc_slot *v, *e, *oldest;
	bool found;

	if (n >= NC_SLOTS_MAX)
		return -E2BIG;
	v = calloc(2 * n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct nc_slot *o = &s->nc[i];

		if (!o->ts || o->ts + ttl_s < now_s)
			continue;
		e = nc_probe(v, mask, o->salt, now_s, ttl_s, &found, &oldest);
		if (!e) {
			nc_evict(s, o);
			continue;
		}
		*e = *o;
	}
	free(s->nc);
	s->nc = v;
	s->nc_mask = mask;
	return 0;
}

/*
 * Record nonce count @p nc of the nonce (@p salt, @p ts). 0: first use
 * of this count; -EALREADY: seen before (a replay); -ESTALE: unknown,
 * but its count may have been evicted (only once the table reached
 * NC_SLOTS_MAX). Entries of nonces past their lifetime are reused
 * freely: such nonces get stale=true before they come here.
 */
static int nc_check(struct shard_state *s, uint64_t salt, int64_t ts,
		    uint32_t nc, int64_t now_s, int64_t ttl_s)
{
	struct nc_slot *e, *oldest;
	bool found;

	e = nc_probe(s->nc, s->nc_mask, salt, now_s, ttl_s, &found, &oldest);
	if (found) {
		if (nc <= e->nc)
			return -EALREADY;
		e->nc = nc;
		return 0;
	}
	if (ts <= s->nc_watermark)
		return -ESTALE;
	/* Bounded: each pass doubles the table up to NC_SLOTS_MAX. */
	while (!e && nc_grow(s, now_s, ttl_s) == 0)
		e = nc_probe(s->nc, s->nc_mask, salt, now_s, ttl_s, &found,
			     &oldest);
	if (!e) {
		nc_evict(s, oldest);
		e = oldest;
	}
	e->salt = salt;
	e->ts = ts;
	e->nc = nc;
	return 0;
}

/* The failure-table key of @p sa: family byte and address. */
static void fail_key(const struct sockaddr *sa, unsigned char *key)
{
	memset(key, 0, 17);
	if (sa->sa_family == AF_INET) {
		key[0] = 4;
		memcpy(key + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a =
		    &((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a)) {
			key[0] = 4;
			memcpy(key + 1, a->s6_addr + 12, 4);
		} else {
			key[0] = 6;
			memcpy(key + 1, a->s6_addr, 16);
		}
	}
}

static struct fail_slot *fail_find(struct shard_state *s,
				   const unsigned char *key, bool make,
				   int64_t now_s, int64_t window_s)
{
	size_t i = hash_bytes(key, 17, table_seed) & (FAIL_SLOTS - 1);
	struct fail_slot *free_slot = NULL, *oldest = NULL;

	for (unsigned k = 0; k < FAIL_PROBE; k++) {
		struct fail_slot *e = &s->fail[(i + k) & (FAIL_SLOTS - 1)];

		if (e->start && memcmp(e->key, key, 17) == 0)
			return e;
		if (!free_slot && (!e->start || e->start + window_s <= now_s))
			free_slot = e;
		if (!oldest || e->start < oldest->start)
			oldest = e;
	}
	if (!make)
		return NULL;
	if (!free_slot)
		free_slot = oldest;
	memcpy(free_slot->key, key, 17);
	free_slot->start = now_s;
	free_slot->count = 0;
	return free_slot;
}

static bool is_blocked(struct shard_state *s, const struct conf *c,
		       const struct sockaddr *src, int64_t now_s)
{
	unsigned char key[17];
	struct fail_slot *e;

	fail_key(src, key);
	e = fail_find(s, key, false, now_s, reg_conf(c)->auth_failure_window_s);
	return e &&
	       e->start + (int64_t)reg_conf(c)->auth_failure_window_s > now_s &&
	       e->count >= reg_conf(c)->max_auth_failures;
}

/* Count one failure of @p src; true when it is now over the limit. */
static bool fail_record(struct shard_state *s, const struct conf *c,
			const struct sockaddr *src, int64_t now_s)
{
	const int64_t window = reg_conf(c)->auth_failure_window_s;
	unsigned char key[17];
	struct fail_slot *e;

	fail_key(src, key);
	e = fail_find(s, key, true, now_s, window);
	if (e->start + window <= now_s) {
		e->start = now_s;
		e->count = 0;
	}
	e->count++;
	return e->count >= reg_conf(c)->max_auth_failures;
}

/* Challenges. */

/* "401/407 ..." with one challenge per algorithm @p user has. */
static int challenge(const struct auth_req *q, struct shard_state *s,
		     struct slice realm, struct slice user, bool stale,
		     struct auth_verdict *vp)
{
	/* RFC 8760 §2.4: the most preferred algorithm first. */
	static const enum digest_alg order[2] = { DIGEST_SHA256, DIGEST_MD5 };
	const bool reg = q->m->method == SIP_REGISTER;
	const char *hname = reg ? "WWW-Authenticate: " : "Proxy-Authenticate: ";
	const size_t hlen = strlen(hname);
	struct users_cred cred;
	unsigned algs = USERS_MD5 | USERS_SHA256;
	char nonce[AUTH_NONCE_LEN];
	size_t cap, o = 0;
	char *p;

	if (users_lookup(user, realm, &cred) == 0 && cred.algs)
		algs = cred.algs;
	auth_nonce_make(realm, q->now_s, s->salt_next++, nonce);
	cap = 2 * (realm.len + AUTH_NONCE_LEN + 128);
	p = arena_alloc(q->a, cap);
	if (!p)
		return -ENOMEM;
	for (unsigned i = 0; i < 2; i++) {
		unsigned bit =
		    order[i] == DIGEST_SHA256 ? USERS_SHA256 : USERS_MD5;
		int n;

		if (!(algs & bit))
			continue;
		if (cap - o < hlen + 2)
			return -ENOMEM;
		memcpy(p + o, hname, hlen);
		o += hlen;
		n = digest_challenge_print(p + o, cap - o - 2, order[i], realm,
					   slice_make(nonce, AUTH_NONCE_LEN),
					   stale);
		if (n < 0)
			return -ENOMEM;
		o += (size_t)n;
		memcpy(p + o, "\r\n", 2);
		o += 2;
	}
	vp->status = reg ? 401 : 407;
	vp->reason = reg ? "Unauthorized" : "Proxy Authentication Required";
	vp->extra = slice_make(p, o);
	count(&s->st.challenges);
	if (stale)
		count(&s->st.stale);
	return 0;
}

static void forbid(struct auth_verdict *vp, const char *why)
{
	vp->status = 403;
	vp->reason = "Forbidden";
	vp->why = why;
	vp->extra = slice_make(NULL, 0);
}

/*
 * The realm (a served domain) and user this request authenticates
 * for, in @p buf; false when it needs no authentication here.
 */
static bool needs_auth(const struct auth_req *q, char *buf, size_t size,
		       struct slice *realmp, struct slice *userp)
{
	const struct sipmsg *m = q->m;
	const struct conf *c = q->c;
	int n;

	if (m->method == SIP_ACK || m->method == SIP_CANCEL ||
	    m->method == SIP_METHOD_OTHER ||
	    !(reg_conf(c)->auth_methods & (1u << m->method)))
		return false;
	if (q->internal || reg_conf_is_trusted(c, q->src))
		return false;
	if (m->method == SIP_REGISTER) {
		if (!reg_is_ours(c, m))
			return false;
		/* The AOR's user and domain: reg_aor(). */
		n = sipmsg_hdr_aor(m, HDR_TO, buf, size, userp, realmp);
	} else {
		/* In-dialog requests were authorised with the dialog. */
		if (m->to_tag.len)
			return false;
		n = sipmsg_hdr_aor(m, HDR_FROM, buf, size, userp, realmp);
	}
	return n > 0 && conf_is_domain(c, realmp->p, realmp->len);
}

int auth_check(const struct auth_req *q, struct auth_verdict *vp)
{
	const struct sipmsg *m = q->m;
	const struct conf *c = q->c;
	const bool reg = m->method == SIP_REGISTER;
	char who[SIPMSG_AOR_MAX], want[DIGEST_HEX_MAX];
	struct slice realm, user;
	struct shard_state *s;
	struct users_cred cred;
	const struct siphdr *h;
	struct digest_credentials d;
	bool found = false;
	int64_t ts;
	uint64_t salt;
	uint32_t nc = 1;
	unsigned n;
	int err;

	*vp = (struct auth_verdict){ 0, NULL, { NULL, 0 }, NULL };
	if (!needs_auth(q, who, sizeof(who), &realm, &user))
		return 0;
	s = &shards[q->shard < nshards_ ? q->shard : 0];
	if (is_blocked(s, c, q->src, q->now_s)) {
		count(&s->st.blocked);
		forbid(vp, "source blocked after too many failed "
			   "authentications");
		return 0;
	}
	if (!users_loaded()) {
		/* Needs credentials, and there are none to check. */
		forbid(vp, "untrusted source and no users file to "
			   "authenticate it");
		return 0;
	}
	for (h = sipmsg_hdr(m,
			    reg ? HDR_AUTHORIZATION : HDR_PROXY_AUTHORIZATION);
	     h; h = sipmsg_hdr_next(m, h)) {
		err = digest_credentials_parse(h->value, q->a, &d);
		if (err == -ENOMEM)
			return err;
		if (err == -ENOTSUP)
			continue; /* another scheme (RFC 4475 §3.3.7) */
		if (err < 0 || !d.realm.p) {
			vp->status = 400;
			vp->reason = "Malformed Authorization";
			return 0;
		}
		/* Credentials for another realm belong to someone else. */
		if (slice_caseeq(d.realm, realm)) {
			found = true;
			break;
		}
	}
	if (!found)
		return challenge(q, s, realm, user, false, vp);
	if (digest_credentials_check(&d, &nc) < 0) {
		vp->status = 400;
		vp->reason = "Malformed Authorization";
		return 0;
	}
	/* Not ours to judge: an algorithm or qop we never offered, a
	 * nonce another secret made. A fresh challenge, no failure. */
	if (!d.alg || (d.qop.len && !slice_caseeq_cstr(d.qop, "auth")) ||
	    auth_nonce_check(d.nonce, realm, &ts, &salt) < 0)
		return challenge(q, s, realm, user, false, vp);
	if (users_lookup(d.user, realm, &cred) == 0 &&
	    (cred.algs & (d.alg == DIGEST_SHA256 ? USERS_SHA256 : USERS_MD5))) {
		n = digest_response_ha1(
		    d.alg, d.alg == DIGEST_SHA256 ? cred.sha256 : cred.md5,
		    d.nonce, d.nc, d.cnonce, d.qop, m->method_name, d.uri,
		    want);
		found = digest_response_eq(d.response, want, n);
	} else {
		found = false;
	}
	if (!found) {
		count(&s->st.failures);
		if (fail_record(s, c, q->src, q->now_s)) {
			count(&s->st.blocked);
			if (log_ratelimit_ok(&s->rl)) {
				char addr[64];

				log_msg(
				    LOG_NOTICE,
				    "auth: %s: %u failures within %u s, "
				    "refused",
				    peer_addr_str(q->src, addr, sizeof(addr)),
				    reg_conf(c)->max_auth_failures,
				    reg_conf(c)->auth_failure_window_s);
			}
			forbid(vp, "too many failed authentications");
			return 0;
		}
		return challenge(q, s, realm, user, false, vp);
	}
	/* The password was right: an old nonce is only stale. */
	if (q->now_s - ts > (int64_t)reg_conf(c)->nonce_ttl_s ||
	    ts > q->now_s + FUTURE_SKEW_S)
		return challenge(q, s, realm, user, true, vp);
	err = nc_check(s, salt, ts, nc, q->now_s, reg_conf(c)->nonce_ttl_s);
	if (err == -EALREADY) {
		count(&s->st.replays);
		return challenge(q, s, realm, user, false, vp);
	}
	if (err == -ESTALE)
		return challenge(q, s, realm, user, true, vp);
	/* RFC 3261 §22.4: the registrar decides who may register what. */
	if (reg && !slice_eq(d.user, user)) {
		forbid(vp, "authenticated user is not the AOR's user");
		return 0;
	}
	count(&s->st.successes);
	return 0;
}

int auth_hook(struct hook_req *r)
{
	struct auth_verdict v;
	struct auth_req q = {
		.c = shard_conf(r->sh),
		.m = r->m,
		.src = (const struct sockaddr *)&r->from->addr,
		.internal = pool_is_source(r->from),
		.shard = shard_id(r->sh),
		.now_s = (int64_t)time(NULL),
		.a = r->a,
	};
	int err;

	err = auth_check(&q, &v);
	if (err)
		return err;
	if (!v.status)
		return HOOK_NEXT;
	if (v.status == 403)
		hook_log_refusal(r, 403, v.why ? v.why : v.reason);
	err = hook_reply(r, v.status, v.reason, v.extra, slice_make(NULL, 0));
	return err ? err : HOOK_DONE;
}
