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
#include "proxy/route.h"
#include "proxy/core/shard.h"
#include "proxy/sip/hdr.h"
#include "proxy/sip/digest.h"
#include "proxy/sip/msg.h"
#include "proxy/sip/uri.h"
#include "proxy/core/transport.h"
#include "registrar/reg.h"
#include "registrar/reg_conf.h"
#include "registrar/users.h"
#include "store/ban.h"
#include "store/nonce.h"

/* Nonces in use at once, all workers together (store/nonce.h). */
#define NONCE_MAX (1u << 18)
/* (source, user) and source entries of the ban table (store/ban.h). */
#define BAN_MAX (1u << 16)
/* A nonce stamped this far in the future is not ours (clock skew). */
#define FUTURE_SKEW_S 60

/* What one shard owns. Only that shard writes it. */
struct shard_state {
	uint64_t salt_next;
	struct auth_stats st;
	struct log_ratelimit rl;
};

static struct hmac_sha256_ctx key_ctx; /* keyed once, copied per use */
static struct shard_state *shards;
static unsigned nshards_;
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
	if (getrandom(&base, sizeof(base), 0) != (ssize_t)sizeof(base))
		return -EIO;
	shards = calloc(nshards, sizeof(*shards));
	if (!shards)
		return -ENOMEM;
	nshards_ = nshards;
	for (unsigned i = 0; i < nshards; i++) {
		struct shard_state *s = &shards[i];

		/* Unique per shard: the shard id in the top byte. */
		s->salt_next =
		    (base & 0x00ffffffffffffffULL) | ((uint64_t)i << 56);
		s->rl.burst = 5;
	}
	err = nonce_init(NONCE_MAX);
	if (!err)
		err = ban_init(BAN_MAX);
	if (!err)
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
	nonce_fini();
	ban_fini();
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
		out->bans += __atomic_load_n(&s->bans, __ATOMIC_RELAXED);
		out->stateless +=
		    __atomic_load_n(&s->stateless, __ATOMIC_RELAXED);
		out->uri_mismatch +=
		    __atomic_load_n(&s->uri_mismatch, __ATOMIC_RELAXED);
	}
}

/* The registry's view of these counters (proxy/base/stats.h). */
static const struct stats_item stats_items[] = {
	{ "challenges", "401/407 challenges sent", false },
	{ "successes", "credentials accepted", false },
	{ "failures", "wrong responses and unknown users", false },
	{ "blocked",
	  "requests from a banned (source, user) or source, "
	  "dropped",
	  false },
	{ "replays", "nonce and nc seen before", false },
	{ "stale", "right password, old nonce: stale=true", false },
	{ "bans", "bans made after failed authentications", false },
	{ "stateless",
	  "answers to unauthenticated requests sent without "
	  "a transaction",
	  false },
	{ "uri_mismatch",
	  "credentials whose uri is not the Request-URI: "
	  "400",
	  false },
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
	v[6] = st.bans;
	v[7] = st.stateless;
	v[8] = st.uri_mismatch;
}

static const struct stats_source stats_src = {
	.module = "auth",
	.items = stats_items,
	.nitems = sizeof(stats_items) / sizeof(stats_items[0]),
	.ninst = 1,
	.read = stats_read,
};

/* Challenges. */

/* The users-file bit of @p alg. */
static unsigned alg_bit(unsigned alg)
{
	return alg == DIGEST_SHA256 ? USERS_SHA256 : USERS_MD5;
}

/* True when @p alg is one of the algorithms offered in @p realm. */
static bool alg_offered(const struct reg_conf *rc, struct slice realm,
			enum digest_alg alg)
{
	const unsigned *algs;
	unsigned n = reg_algs(rc, realm, &algs);

	for (unsigned i = 0; i < n; i++)
		if (algs[i] == (unsigned)alg)
			return true;
	return false;
}

/*
 * RFC 3261 §22.4 (RFC 2617 §3.2.2.5): the digest-uri names the resource
 * of the request. Equal as written, or as SIP URIs with the same
 * scheme, user, host (any case) and port (parameters are not compared:
 * a UA may write them in another order). Also accepted: a digest-uri
 * without a user part that names this node itself (a served domain or
 * a listen address), what SIPp 3.6 writes ("sip:IP:PORT" of the
 * server): such credentials are for us, not for another target, and
 * the nonce count still stops their replay. Anything else, such as
 * uri="sip:evil.example.com", is refused.
 */
static bool uri_matches(const struct conf *c, struct slice duri,
			struct slice ruri)
{
	struct sipuri a, b;

	if (slice_eq(duri, ruri))
		return true;
	if (uri_parse(duri, &a) < 0 ||
	    (a.scheme != URI_SIP && a.scheme != URI_SIPS))
		return false;
	if (!a.user.len && route_uri_is_ours(c, &a))
		return true;
	if (uri_parse(ruri, &b) < 0 || a.scheme != b.scheme)
		return false;
	return slice_eq(a.user, b.user) && slice_caseeq(a.host, b.host) &&
	       a.port == b.port;
}

/* "401/407 ..." with one challenge per configured algorithm @p user has. */
static int challenge(const struct auth_req *q, struct shard_state *s,
		     struct slice realm, struct slice user, bool stale,
		     struct auth_verdict *vp)
{
	const struct reg_conf *rc = reg_conf(q->c);
	const bool reg = q->m->method == SIP_REGISTER;
	const char *hname = reg ? "WWW-Authenticate: " : "Proxy-Authenticate: ";
	const size_t hlen = strlen(hname);
	struct users_cred cred;
	unsigned algs = 0, offer = 0;
	const unsigned *order;
	const unsigned nord = reg_algs(rc, realm, &order);
	char nonce[AUTH_NONCE_LEN];
	size_t cap, o = 0;
	char *p;

	/* The configured algorithms the user has a hash for; all of them
	 * for an unknown user, or when the user has none of them (users
	 * made by scripts/mkuser.sh have both: they all look alike). */
	if (users_lookup(user, realm, &cred) == 0)
		algs = cred.algs;
	for (unsigned i = 0; i < nord; i++)
		if (algs & alg_bit(order[i]))
			offer |= alg_bit(order[i]);
	if (!offer)
		offer = USERS_MD5 | USERS_SHA256;
	auth_nonce_make(realm, q->now_s, s->salt_next++, nonce);
	cap = 2 * (realm.len + AUTH_NONCE_LEN + 128);
	p = arena_alloc(q->a, cap);
	if (!p)
		return -ENOMEM;
	/* RFC 8760 §2.4: the most preferred algorithm first. */
	for (unsigned i = 0; i < nord; i++) {
		const enum digest_alg alg = (enum digest_alg)order[i];
		int n;

		if (!(offer & alg_bit(alg)))
			continue;
		if (cap - o < hlen + 2)
			return -ENOMEM;
		memcpy(p + o, hname, hlen);
		o += hlen;
		n = digest_challenge_print(p + o, cap - o - 2, alg, realm,
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
 * for, in @p buf; false when it needs no authentication here, with
 * *strangerp set when it is an initial request (not REGISTER) from an
 * untrusted source that goes on unauthenticated.
 */
static bool needs_auth(const struct auth_req *q, char *buf, size_t size,
		       struct slice *realmp, struct slice *userp,
		       bool *strangerp)
{
	const struct sipmsg *m = q->m;
	const struct conf *c = q->c;
	const bool listed = m->method != SIP_METHOD_OTHER &&
			    (reg_conf(c)->auth_methods & (1u << m->method));
	int n;

	if (m->method == SIP_ACK || m->method == SIP_CANCEL || q->internal ||
	    reg_conf_is_trusted(c, q->src))
		return false;
	if (m->method == SIP_REGISTER) {
		if (!listed || !reg_is_ours(c, m))
			return false;
		/* The AOR's user and domain: reg_aor(). */
		n = sipmsg_hdr_aor(m, HDR_TO, buf, size, userp, realmp);
		return n > 0 && conf_is_domain(c, realmp->p, realmp->len);
	}
	/* In-dialog requests were authorised with the dialog. */
	if (m->to_tag.len)
		return false;
	n = sipmsg_hdr_aor(m, HDR_FROM, buf, size, userp, realmp);
	if (listed && n > 0 && conf_is_domain(c, realmp->p, realmp->len))
		return true;
	/* An initial request that goes on unauthenticated. */
	*strangerp = true;
	return false;
}

/* Silence for a banned pair or source: no answer at all. */
static void drop(struct shard_state *s, struct auth_verdict *vp)
{
	count(&s->st.blocked);
	vp->drop = true;
}

/* The ban limits of @p c. */
static struct ban_limits limits(const struct conf *c)
{
	const struct reg_conf *rc = reg_conf(c);
	struct ban_limits l = {
		.pair_max = rc->max_auth_failures,
		.source_max = rc->max_auth_failures_source,
		.window_s = rc->auth_failure_window_s,
		.ban_s = rc->auth_ban_s,
	};

	return l;
}

/* A failure of (source, @p user): a new challenge, or 403 once it
 * makes a ban (the last answer the pair gets until the ban ends). */
static int failed(const struct auth_req *q, struct shard_state *s,
		  struct slice realm, struct slice user, struct slice aor_user,
		  struct auth_verdict *vp)
{
	const struct ban_limits l = limits(q->c);
	const char *why = NULL;
	int ret;

	count(&s->st.failures);
	ret = ban_fail(BAN_AUTH, q->src, user, q->now_s, &l, &why);
	if (ret == 1) {
		count(&s->st.bans);
		if (log_ratelimit_ok(&s->rl)) {
			char addr[64], u[BAN_USER_MAX * 4 + 1];

			log_escape(user.p, user.len, u, sizeof(u));
			log_msg(LOG_NOTICE,
				"auth: %s user '%s': banned for %u s: %s",
				peer_addr_str(q->src, addr, sizeof(addr)), u,
				l.ban_s, why);
		}
		forbid(vp, why);
		return 0;
	}
	return challenge(q, s, realm, aor_user, false, vp);
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

	*vp = (struct auth_verdict){ 0, NULL, { NULL, 0 }, NULL, false, false };
	if (!needs_auth(q, who, sizeof(who), &realm, &user, &vp->stranger)) {
		vp->stranger = vp->stranger && reg_conf(c)->hide_users;
		return 0;
	}
	s = &shards[q->shard < nshards_ ? q->shard : 0];
	if (ban_is_banned(BAN_AUTH, q->src, user, q->now_s)) {
		drop(s, vp);
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
	if (!slice_eq(d.user, user) &&
	    ban_is_banned(BAN_AUTH, q->src, d.user, q->now_s)) {
		drop(s, vp);
		return 0;
	}
	if (!uri_matches(c, d.uri, m->ruri)) {
		count(&s->st.uri_mismatch);
		vp->status = 400;
		vp->reason = "Digest uri Does Not Match Request-URI";
		return 0;
	}
	/* Not ours to judge: an algorithm or qop we never offered, a
	 * nonce another secret made. A fresh challenge, no failure. */
	if (!d.alg || !alg_offered(reg_conf(c), realm, d.alg) ||
	    (d.qop.len && !slice_caseeq_cstr(d.qop, "auth")) ||
	    auth_nonce_check(d.nonce, realm, &ts, &salt) < 0)
		return challenge(q, s, realm, user, false, vp);
	if (users_lookup(d.user, realm, &cred) == 0 &&
	    (cred.algs & alg_bit(d.alg))) {
		n = digest_response_ha1(
		    d.alg, d.alg == DIGEST_SHA256 ? cred.sha256 : cred.md5,
		    d.nonce, d.nc, d.cnonce, d.qop, m->method_name, d.uri,
		    want);
		found = digest_response_eq(d.response, want, n);
	} else {
		found = false;
	}
	if (!found)
		return failed(q, s, realm, d.user, user, vp);
	/* The password was right: an old nonce is only stale. */
	if (q->now_s - ts > (int64_t)reg_conf(c)->nonce_ttl_s ||
	    ts > q->now_s + FUTURE_SKEW_S)
		return challenge(q, s, realm, user, true, vp);
	/* One table for all workers: a count used on any is a replay. */
	err = nonce_use(salt, ts, nc, q->now_s,
			(int64_t)reg_conf(c)->nonce_ttl_s + FUTURE_SKEW_S);
	if (err == -EALREADY) {
		count(&s->st.replays);
		return challenge(q, s, realm, user, false, vp);
	}
	if (err == -ENOSPC)
		return challenge(q, s, realm, user, true, vp);
	if (err)
		return err;
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
	if (v.drop)
		return HOOK_DONE;
	if (v.stranger)
		r->conceal = true;
	if (!v.status)
		return HOOK_NEXT;
	if (v.status == 403)
		hook_log_refusal(r, 403, v.why ? v.why : v.reason);
	/* No state for strangers: no transaction, no Timer G. A
	 * retransmission is answered again (with a new nonce). */
	err = hook_reply_stateless(r, v.status, v.reason, v.extra);
	if (!err)
		count(&shards[q.shard < nshards_ ? q.shard : 0].st.stateless);
	return err ? err : HOOK_DONE;
}
