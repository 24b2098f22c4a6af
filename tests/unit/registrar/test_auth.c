/* tests/unit/registrar/test_auth.c - digest: known answers, nonces, challenges
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "proxy/base/arena.h"
#include "proxy/base/log.h"
#include "proxy/core/conf.h"
#include "proxy/sip/digest.h"
#include "proxy/sip/msg.h"
#include "registrar/auth.h"
#include "registrar/users.h"
#include "store/ban.h"
#include "store/rcu.h"
#include "tests/common/corpus.h"
#include "tests/common/proc.h"
#include "tests/unit/sections.h"

#define MAX_HDRS 64
#define NOW	 1700000000

static struct conf *cf;
static struct arena *ar;
static char dir[PROC_PATH_MAX / 2];
static struct sockaddr_in untrusted, trusted;
static char msgbuf[4096];
static struct siphdr hdrs[MAX_HDRS];
static struct sipmsg msg;

#define YAML_BASE                                 \
	"domains: [example.com, other.example]\n" \
	"registrar:\n"                            \
	"  trusted: [\"10.0.0.0/8\"]\n"           \
	"  secret: \"0123456789abcdef0123\"\n"    \
	"  max_auth_failures: 3\n"                \
	"  auth_failure_window_s: 60\n"           \
	"  nonce_ttl_s: 30\n"
/* Both algorithms (the default offers MD5 only): the suite checks both
 * answers; challenges_with_md5_only_by_default loads YAML_BASE. */
static const char yaml[] = YAML_BASE "  algorithms: [md5, sha-256]\n";

static void set_addr(struct sockaddr_in *in, const char *ip)
{
	memset(in, 0, sizeof(*in));
	in->sin_family = AF_INET;
	in->sin_port = htons(5060);
	inet_pton(AF_INET, ip, &in->sin_addr);
}

static void load_users(void)
{
	char text[1024], path[PROC_PATH_MAX], err[256];
	uint8_t md5[16], sha[32], bmd5[16];
	char hm[33], hs[65], hb[33];
	int o = 0;

	digest_ha1(DIGEST_MD5, SLICE_LIT("alice"), SLICE_LIT("example.com"),
		   SLICE_LIT("secret"), md5);
	digest_ha1(DIGEST_SHA256, SLICE_LIT("alice"), SLICE_LIT("example.com"),
		   SLICE_LIT("secret"), sha);
	digest_ha1(DIGEST_MD5, SLICE_LIT("bob"), SLICE_LIT("example.com"),
		   SLICE_LIT("bobpw"), bmd5);
	for (int i = 0; i < 16; i++) {
		sprintf(hm + 2 * i, "%02x", md5[i]);
		sprintf(hb + 2 * i, "%02x", bmd5[i]);
	}
	for (int i = 0; i < 32; i++)
		sprintf(hs + 2 * i, "%02x", sha[i]);
	o += snprintf(text + o, sizeof(text) - (size_t)o,
		      "alice@example.com md5:%s sha256:%s\n", hm, hs);
	o += snprintf(text + o, sizeof(text) - (size_t)o,
		      "bob@example.com md5:%s\n", hb);
	cr_assert_eq(proc_write_file(dir, "users", text, path, sizeof(path)),
		     0);
	cr_assert_eq(users_load(path, err, sizeof(err)), 2, "%s", err);
}

static void setup(void)
{
	log_set_level(LOG__COUNT);
	urcu_memb_register_thread();
	cf = sections_load(yaml);
	cr_assert_eq(auth_init(cf, 2), 0);
	ar = arena_new(16384);
	cr_assert_not_null(ar);
	cr_assert_eq(proc_tmpdir(dir, sizeof(dir)), 0);
	set_addr(&untrusted, "192.0.2.10");
	set_addr(&trusted, "10.1.2.3");
	load_users();
}

static void teardown(void)
{
	users_fini();
	auth_fini();
	arena_free(ar);
	conf_free(cf);
	proc_rmtree(dir);
	urcu_memb_unregister_thread();
}

TestSuite(auth, .init = setup, .fini = teardown, .timeout = 60);

Test(auth, nonce_is_bound_to_secret_realm_and_bytes)
{
	char n[AUTH_NONCE_LEN];
	int64_t ts;
	uint64_t salt;
	struct conf *other;
	char err[256];
	static const char y2[] =
	    "registrar:\n  secret: \"another-secret-0123\"\n";

	auth_nonce_make(SLICE_LIT("example.com"), NOW, 42, n);
	cr_assert_eq(auth_nonce_check(slice_make(n, sizeof(n)),
				      SLICE_LIT("EXAMPLE.com"), &ts, &salt),
		     0);
	cr_assert_eq(ts, NOW);
	cr_assert_eq(salt, 42);
	cr_assert_eq(auth_nonce_check(slice_make(n, sizeof(n)),
				      SLICE_LIT("other.example"), &ts, &salt),
		     -EINVAL);
	for (size_t i = 0; i < sizeof(n); i += 5) {
		char m[AUTH_NONCE_LEN];

		memcpy(m, n, sizeof(m));
		m[i] = m[i] == '0' ? '1' : '0';
		cr_assert_eq(auth_nonce_check(slice_make(m, sizeof(m)),
					      SLICE_LIT("example.com"), &ts,
					      &salt),
			     -EINVAL, "byte %zu", i);
	}
	cr_assert_eq(auth_nonce_check(slice_make(n, sizeof(n) - 1),
				      SLICE_LIT("example.com"), &ts, &salt),
		     -EINVAL);
	/* Another node with the same secret accepts it; another not. */
	auth_fini();
	cr_assert_eq(
	    conf_load_mem("o", y2, sizeof(y2) - 1, &other, err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_eq(auth_init(other, 1), 0);
	cr_assert_eq(auth_nonce_check(slice_make(n, sizeof(n)),
				      SLICE_LIT("example.com"), &ts, &salt),
		     -EINVAL);
	auth_fini();
	conf_free(other);
	cr_assert_eq(auth_init(cf, 2), 0);
	cr_assert_eq(auth_nonce_check(slice_make(n, sizeof(n)),
				      SLICE_LIT("example.com"), &ts, &salt),
		     0);
}

/* Parse a request into the static message. */
static void parse(const char *text)
{
	size_t len = strlen(text);

	cr_assert_lt(len, sizeof(msgbuf));
	memcpy(msgbuf, text, len);
	cr_assert_gt(sipmsg_parse(&msg, msgbuf, len, hdrs, MAX_HDRS, 0), 0,
		     "%s", text);
}

static char reqtext[4096];

/* A REGISTER for @p user with the extra header lines @p extra. */
static void reg(const char *user, const char *extra)
{
	snprintf(reqtext, sizeof(reqtext),
		 "REGISTER sip:example.com SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKa1\r\n"
		 "Max-Forwards: 70\r\n"
		 "From: <sip:%s@example.com>;tag=f1\r\n"
		 "To: <sip:%s@example.com>\r\n"
		 "Call-ID: auth-1@192.0.2.10\r\n"
		 "CSeq: 1 REGISTER\r\n"
		 "Contact: <sip:%s@192.0.2.10>\r\n"
		 "%s"
		 "Content-Length: 0\r\n\r\n",
		 user, user, user, extra ? extra : "");
	parse(reqtext);
}

static struct auth_verdict check_at(const struct sockaddr_in *src, int64_t now)
{
	struct auth_verdict v;
	struct auth_req q = { cf, &msg, (const struct sockaddr *)src, 0, now,
			      ar, false };

	cr_assert_eq(auth_check(&q, &v), 0);
	return v;
}

static struct auth_verdict check(void)
{
	return check_at(&untrusted, NOW);
}

static char nonce[AUTH_NONCE_LEN + 1];

/* The nonce of the challenge line for @p alg in @p v; false if none. */
static bool challenge_nonce(const struct auth_verdict *v, const char *alg)
{
	char text[1024], want[64];
	const char *line, *p;

	cr_assert_lt(v->extra.len, sizeof(text));
	memcpy(text, v->extra.p, v->extra.len);
	text[v->extra.len] = '\0';
	snprintf(want, sizeof(want), "algorithm=%s", alg);
	for (line = text; *line; line = strstr(line, "\r\n") + 2) {
		const char *end = strstr(line, "\r\n");

		cr_assert_not_null(end);
		p = strstr(line, want);
		if (!p || p > end)
			continue;
		p = strstr(line, "nonce=\"");
		cr_assert_not_null(p);
		memcpy(nonce, p + 7, AUTH_NONCE_LEN);
		nonce[AUTH_NONCE_LEN] = '\0';
		return true;
	}
	return false;
}

/* An Authorization line for @p user with @p pw, @p alg, @p nc. */
static void authz(char *buf, size_t size, const char *hname, const char *user,
		  const char *pw, enum digest_alg alg, const char *nc,
		  const char *method, const char *uri)
{
	uint8_t ha1[32];
	char resp[65];

	digest_ha1(alg, slice_cstr(user), SLICE_LIT("example.com"),
		   slice_cstr(pw), ha1);
	digest_response_ha1(alg, ha1, slice_cstr(nonce), slice_cstr(nc),
			    SLICE_LIT("c0ffee"), SLICE_LIT("auth"),
			    slice_cstr(method), slice_cstr(uri), resp);
	snprintf(buf, size,
		 "%s: Digest username=\"%s\", realm=\"example.com\", "
		 "nonce=\"%s\", uri=\"%s\", response=\"%s\", "
		 "algorithm=%s, cnonce=\"c0ffee\", qop=auth, nc=%s\r\n",
		 hname, user, nonce, uri, resp,
		 alg == DIGEST_SHA256 ? "SHA-256" : "MD5", nc);
}

static void reg_with(const char *user, const char *pw, enum digest_alg alg,
		     const char *nc)
{
	char line[1024];

	authz(line, sizeof(line), "Authorization", user, pw, alg, nc,
	      "REGISTER", "sip:example.com");
	reg(user, line);
}

Test(auth, challenges_with_md5_only_by_default)
{
	struct auth_verdict v;

	/* alice has both hashes: MD5 alone (libre refuses any SHA-256
	 * challenge in a 401, SIPp answers the first one only). */
	auth_fini();
	conf_free(cf);
	cf = sections_load(YAML_BASE);
	cr_assert_eq(auth_init(cf, 2), 0);
	reg("alice", NULL);
	v = check();
	cr_assert_eq(v.status, 401);
	cr_assert(challenge_nonce(&v, "MD5"));
	cr_assert(!challenge_nonce(&v, "SHA-256"));
	reg("mallory", NULL);
	v = check();
	cr_assert(challenge_nonce(&v, "MD5") &&
		  !challenge_nonce(&v, "SHA-256"));
}

Test(auth, challenges_with_md5_first_then_sha256_when_both_are_listed)
{
	struct auth_verdict v;
	const char *sha, *md5;
	char text[1024];

	reg("alice", NULL);
	v = check();
	cr_assert_eq(v.status, 401);
	memcpy(text, v.extra.p, v.extra.len);
	text[v.extra.len] = '\0';
	md5 = strstr(text, "WWW-Authenticate: Digest realm=\"example.com\", "
			   "nonce=\"");
	cr_assert_not_null(md5, "%s", text);
	cr_assert_not_null(strstr(text, "qop=\"auth\""), "%s", text);
	sha = strstr(text, "algorithm=SHA-256");
	md5 = strstr(text, "algorithm=MD5");
	/* MD5 first: clients that try only the first one register. */
	cr_assert(sha && md5 && md5 < sha, "%s", text);
	cr_assert_null(strstr(text, "stale"), "%s", text);
	/* A user with only an MD5 HA1 is offered MD5 only. */
	reg("bob", NULL);
	v = check();
	cr_assert_eq(v.status, 401);
	cr_assert(!challenge_nonce(&v, "SHA-256"));
	cr_assert(challenge_nonce(&v, "MD5"));
	/* An unknown user gets both, like everybody. */
	reg("mallory", NULL);
	v = check();
	cr_assert(challenge_nonce(&v, "SHA-256") && challenge_nonce(&v, "MD5"));
}

/* Reload the fixture's config with @p extra registrar keys. */
static void reconf(const char *extra)
{
	char y[1024];

	snprintf(y, sizeof(y), "%s%s", YAML_BASE, extra);
	auth_fini();
	conf_free(cf);
	cf = sections_load(y);
	cr_assert_eq(auth_init(cf, 2), 0);
}

Test(auth, algorithms_setting_orders_and_limits_the_challenges)
{
	struct auth_verdict v;
	const char *sha, *md5;
	char text[1024];

	reconf("  algorithms: [sha-256, md5]\n");
	reg("alice", NULL);
	v = check();
	memcpy(text, v.extra.p, v.extra.len);
	text[v.extra.len] = '\0';
	sha = strstr(text, "algorithm=SHA-256");
	md5 = strstr(text, "algorithm=MD5");
	cr_assert(sha && md5 && sha < md5, "%s", text);
	/* SHA-256 only: an MD5 answer is not accepted, a SHA-256 one is. */
	reconf("  algorithms: [SHA-256]\n");
	reg("alice", NULL);
	v = check();
	cr_assert(!challenge_nonce(&v, "MD5"));
	cr_assert(challenge_nonce(&v, "SHA-256"));
	reg_with("alice", "secret", DIGEST_MD5, "00000001");
	cr_assert_eq(check().status, 401);
	reg_with("alice", "secret", DIGEST_SHA256, "00000001");
	cr_assert_eq(check().status, 0);
	/* bob has only MD5: he is offered what exists, and still works. */
	reg("bob", NULL);
	v = check();
	cr_assert(challenge_nonce(&v, "SHA-256"));
}

/* registrar.domains: a realm's own list beats registrar.algorithms. */
Test(auth, a_domains_own_algorithms_win_in_its_realm)
{
	struct auth_verdict v;
	const char *sha, *md5;
	char text[1024];

	reconf("  domains:\n    - domain: EXAMPLE.com\n"
	       "      algorithms: [sha-256, md5]\n");
	reg("alice", NULL);
	v = check();
	memcpy(text, v.extra.p, v.extra.len);
	text[v.extra.len] = '\0';
	sha = strstr(text, "algorithm=SHA-256");
	md5 = strstr(text, "algorithm=MD5");
	cr_assert(sha && md5 && sha < md5, "%s", text);
	cr_assert(challenge_nonce(&v, "SHA-256"));
	reg_with("alice", "secret", DIGEST_SHA256, "00000001");
	v = check();
	cr_assert_eq(v.status, 0, "%u %s", v.status, v.reason ? v.reason : "");
	/* Another realm's entry leaves example.com on the global list. */
	reconf("  domains:\n    - domain: other.example\n"
	       "      algorithms: [sha-256]\n");
	reg("alice", NULL);
	v = check();
	cr_assert(challenge_nonce(&v, "MD5"));
	cr_assert(!challenge_nonce(&v, "SHA-256"));
	reg_with("alice", "secret", DIGEST_SHA256, "00000002");
	cr_assert_eq(check().status, 401, "SHA-256 is not offered here");
}

Test(auth, algorithms_setting_rejects_bad_values)
{
	static const char *const bad[] = {
		"registrar:\n  algorithms: [md5, md5]\n",
		"registrar:\n  algorithms: [sha-512]\n",
		"registrar:\n  algorithms: []\n",
		"registrar:\n  algorithms: [md5, sha-256, md5]\n",
		"registrar:\n  domains:\n    - domain: nowhere.example\n"
		"      algorithms: [md5]\n",
		"registrar:\n  domains:\n    - domain: localhost\n"
		"      algorithms: [md5]\n    - domain: LOCALHOST\n"
		"      algorithms: [md5]\n",
		"registrar:\n  domains:\n    - domain: localhost\n"
		"      algorithms: [md5, md5]\n",
		"registrar:\n  domains:\n    - domain: localhost\n",
	};
	struct conf *c;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		cr_assert_neq(conf_load_mem("t.yaml", bad[i], strlen(bad[i]),
					    &c, err, sizeof(err)),
			      0, "%s", bad[i]);
		cr_assert_not_null(strstr(err, "t.yaml"), "%s", err);
	}
}

Test(auth, accepts_the_right_password_with_either_algorithm)
{
	struct auth_verdict v;
	struct auth_stats st;

	reg("alice", NULL);
	v = check();
	cr_assert(challenge_nonce(&v, "SHA-256"));
	reg_with("alice", "secret", DIGEST_SHA256, "00000001");
	cr_assert_eq(check().status, 0);
	reg("alice", NULL);
	v = check();
	cr_assert(challenge_nonce(&v, "MD5"));
	reg_with("alice", "secret", DIGEST_MD5, "00000001");
	cr_assert_eq(check().status, 0);
	/* The same nonce again with a higher count. */
	reg_with("alice", "secret", DIGEST_MD5, "00000002");
	cr_assert_eq(check().status, 0);
	auth_stats(&st);
	cr_assert_eq(st.successes, 3);
	cr_assert_eq(st.challenges, 2);
}

Test(auth, replayed_nonce_and_count_gets_a_new_challenge)
{
	struct auth_verdict v;
	struct auth_stats st;

	reg("alice", NULL);
	v = check();
	cr_assert(challenge_nonce(&v, "SHA-256"));
	reg_with("alice", "secret", DIGEST_SHA256, "00000005");
	cr_assert_eq(check().status, 0);
	v = check(); /* the very same request again */
	cr_assert_eq(v.status, 401);
	cr_assert_null(memmem(v.extra.p, v.extra.len, "stale", 5));
	reg_with("alice", "secret", DIGEST_SHA256, "00000004");
	cr_assert_eq(check().status, 401);
	auth_stats(&st);
	cr_assert_eq(st.replays, 2);
	cr_assert_eq(st.failures, 0);
}

Test(auth, old_nonce_with_right_password_is_stale)
{
	struct auth_verdict v;

	reg("alice", NULL);
	v = check_at(&untrusted, NOW - 31);
	cr_assert(challenge_nonce(&v, "SHA-256"));
	reg_with("alice", "secret", DIGEST_SHA256, "00000001");
	v = check();
	cr_assert_eq(v.status, 401);
	cr_assert_not_null(memmem(v.extra.p, v.extra.len, "stale=true", 10));
	/* The retry with the fresh nonce succeeds. */
	cr_assert(challenge_nonce(&v, "SHA-256"));
	reg_with("alice", "secret", DIGEST_SHA256, "00000001");
	cr_assert_eq(check().status, 0);
	/* An old nonce with a wrong password is a failure, not stale. */
	reg("alice", NULL);
	v = check_at(&untrusted, NOW - 31);
	cr_assert(challenge_nonce(&v, "SHA-256"));
	reg_with("alice", "wrong", DIGEST_SHA256, "00000001");
	v = check();
	cr_assert_eq(v.status, 401);
	cr_assert_null(memmem(v.extra.p, v.extra.len, "stale", 5));
}

Test(auth, wrong_password_bans_the_pair_silently)
{
	struct auth_verdict v;
	struct auth_stats st;

	for (int i = 1; i <= 3; i++) {
		reg("alice", NULL);
		v = check();
		cr_assert(challenge_nonce(&v, "MD5"));
		reg_with("alice", "guess", DIGEST_MD5, "00000001");
		v = check();
		/* The failure that makes the ban gets 403, once. */
		cr_assert_eq(v.status, i < 3 ? 401 : 403, "attempt %d", i);
	}
	/* Banned: no answer at all, even with the right password. */
	reg("alice", NULL);
	v = check();
	cr_assert(v.drop && v.status == 0);
	/* Another user behind the same address is not. */
	reg("bob", NULL);
	v = check();
	cr_assert(!v.drop);
	cr_assert_eq(v.status, 401);
	/* Nor alice from another source. */
	{
		struct sockaddr_in other;

		set_addr(&other, "192.0.2.77");
		reg("alice", NULL);
		cr_assert_eq(check_at(&other, NOW).status, 401);
	}
	/* The ban (auth_ban_s, 300 s by default) passes. */
	reg("alice", NULL);
	v = check_at(&untrusted, NOW + 301);
	cr_assert(!v.drop);
	cr_assert_eq(v.status, 401);
	auth_stats(&st);
	cr_assert_eq(st.failures, 3);
	cr_assert_eq(st.bans, 1);
	cr_assert_eq(st.blocked, 1);
}

Test(auth, many_users_failing_ban_the_whole_source)
{
	struct auth_verdict v;
	char user[32];

	reconf("  max_auth_failures_source: 5\n  auth_ban_s: 30\n");
	/* Five users, one failure each: the fifth bans the source. */
	for (int i = 0; i < 5; i++) {
		snprintf(user, sizeof(user), "u%d", i);
		reg(user, NULL);
		v = check();
		cr_assert(challenge_nonce(&v, "MD5"));
		reg_with(user, "x", DIGEST_MD5, "00000001");
		cr_assert_eq(check().status, i < 4 ? 401 : 403, "user %d", i);
	}
	reg("bob", NULL);
	cr_assert(check().drop);
	cr_assert(!check_at(&untrusted, NOW + 31).drop);
}

Test(auth, ban_is_counted_across_shards_and_can_be_lifted)
{
	struct auth_verdict v;
	struct auth_req q;
	struct slice u = SLICE_LIT("alice");

	/* Failures seen by two shards add up (one shared table). */
	for (unsigned i = 0; i < 3; i++) {
		reg("alice", NULL);
		q = (struct auth_req){
			cf,    &msg, (const struct sockaddr *)&untrusted,
			i % 2, NOW,  ar,
			false
		};
		cr_assert_eq(auth_check(&q, &v), 0);
		cr_assert(challenge_nonce(&v, "MD5"));
		reg_with("alice", "guess", DIGEST_MD5, "00000001");
		cr_assert_eq(auth_check(&q, &v), 0);
	}
	cr_assert_eq(v.status, 403);
	cr_assert(ban_is_banned(BAN_AUTH, (const struct sockaddr *)&untrusted,
				u, NOW));
	cr_assert_eq(ban_remove((const struct sockaddr *)&untrusted, &u), 1);
	reg("alice", NULL);
	cr_assert_eq(check().status, 401);
}

Test(auth, digest_uri_must_match_the_request_uri)
{
	struct auth_verdict v;
	struct auth_stats st;
	char line[1024];

	reg("alice", NULL);
	v = check();
	cr_assert(challenge_nonce(&v, "MD5"));
	authz(line, sizeof(line), "Authorization", "alice", "secret",
	      DIGEST_MD5, "00000001", "REGISTER", "sip:evil.example.com");
	reg("alice", line);
	v = check();
	cr_assert_eq(v.status, 400);
	cr_assert_str_eq(v.reason, "Digest uri Does Not Match Request-URI");
	/* The host in another case is the same URI (RFC 3261 §19.1.4). */
	authz(line, sizeof(line), "Authorization", "alice", "secret",
	      DIGEST_MD5, "00000002", "REGISTER", "sip:EXAMPLE.com");
	reg("alice", line);
	cr_assert_eq(check().status, 0);
	authz(line, sizeof(line), "Authorization", "alice", "secret",
	      DIGEST_MD5, "00000003", "REGISTER", "sip:alice@192.0.2.99");
	reg("alice", line);
	cr_assert_eq(check().status, 400);
	/* Another user at a served domain is another resource. */
	authz(line, sizeof(line), "Authorization", "alice", "secret",
	      DIGEST_MD5, "00000004", "REGISTER", "sip:bob@example.com");
	reg("alice", line);
	cr_assert_eq(check().status, 400);
	/* This node itself (SIPp writes sip:SERVER-IP:PORT) is fine. */
	authz(line, sizeof(line), "Authorization", "alice", "secret",
	      DIGEST_MD5, "00000005", "REGISTER", "sip:other.example");
	reg("alice", line);
	cr_assert_eq(check().status, 0);
	auth_stats(&st);
	cr_assert_eq(st.uri_mismatch, 3);
	cr_assert_eq(st.failures, 0);
}

Test(auth, a_replay_on_another_shard_is_refused)
{
	struct auth_verdict v;
	struct auth_req q;
	struct auth_stats st;

	reg("alice", NULL);
	v = check();
	cr_assert(challenge_nonce(&v, "MD5"));
	reg_with("alice", "secret", DIGEST_MD5, "00000001");
	cr_assert_eq(check().status, 0); /* shard 0 */
	q = (struct auth_req){ cf,   &msg, (const struct sockaddr *)&untrusted,
			       1,    NOW,  ar,
			       false };
	cr_assert_eq(auth_check(&q, &v), 0);
	cr_assert_eq(v.status, 401);
	auth_stats(&st);
	cr_assert_eq(st.replays, 1);
}

Test(auth, unknown_user_counts_as_a_failure)
{
	struct auth_verdict v;
	struct auth_stats st;

	reg("mallory", NULL);
	v = check();
	cr_assert(challenge_nonce(&v, "MD5"));
	reg_with("mallory", "x", DIGEST_MD5, "00000001");
	cr_assert_eq(check().status, 401);
	auth_stats(&st);
	cr_assert_eq(st.failures, 1);
}

Test(auth, register_as_someone_else_is_forbidden)
{
	struct auth_verdict v;
	char line[1024];

	reg("alice", NULL);
	v = check();
	cr_assert(challenge_nonce(&v, "MD5"));
	/* bob's good credentials on a REGISTER for alice. */
	authz(line, sizeof(line), "Authorization", "bob", "bobpw", DIGEST_MD5,
	      "00000001", "REGISTER", "sip:example.com");
	reg("alice", line);
	cr_assert_eq(check().status, 403);
}

Test(auth, trusted_sources_and_other_domains_skip_authentication)
{
	reg("alice", NULL);
	cr_assert_eq(check_at(&trusted, NOW).status, 0);
	parse("REGISTER sip:example.com SIP/2.0\r\n"
	      "Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKa2\r\n"
	      "From: <sip:a@foreign.example>;tag=1\r\n"
	      "To: <sip:a@foreign.example>\r\n"
	      "Call-ID: x\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n");
	cr_assert_eq(check().status, 0); /* the registrar answers 404 */
	parse("REGISTER sip:foreign.example SIP/2.0\r\n"
	      "Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKa3\r\n"
	      "From: <sip:alice@example.com>;tag=1\r\n"
	      "To: <sip:alice@example.com>\r\n"
	      "Call-ID: x\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n");
	cr_assert_eq(check().status, 0); /* not for this registrar */
}

static void invite(const char *from, const char *to_tag, const char *extra)
{
	snprintf(reqtext, sizeof(reqtext),
		 "INVITE sip:carol@other.example SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKi1\r\n"
		 "Max-Forwards: 70\r\n"
		 "From: <sip:%s>;tag=f1\r\n"
		 "To: <sip:carol@other.example>%s\r\n"
		 "Call-ID: inv-1@192.0.2.10\r\n"
		 "CSeq: 1 INVITE\r\n"
		 "%s"
		 "Content-Length: 0\r\n\r\n",
		 from, to_tag, extra ? extra : "");
	parse(reqtext);
}

Test(auth, invite_from_a_served_domain_gets_407)
{
	struct auth_verdict v;
	char line[1024];

	invite("alice@example.com", "", NULL);
	v = check();
	cr_assert_eq(v.status, 407);
	cr_assert_not_null(
	    memmem(v.extra.p, v.extra.len, "Proxy-Authenticate: Digest", 26));
	cr_assert(challenge_nonce(&v, "SHA-256"));
	authz(line, sizeof(line), "Proxy-Authorization", "alice", "secret",
	      DIGEST_SHA256, "00000001", "INVITE", "sip:carol@other.example");
	invite("alice@example.com", "", line);
	cr_assert_eq(check().status, 0);
	/* An Authorization header is not for a proxy. */
	authz(line, sizeof(line), "Authorization", "alice", "secret",
	      DIGEST_SHA256, "00000002", "INVITE", "sip:carol@other.example");
	invite("alice@example.com", "", line);
	cr_assert_eq(check().status, 407);
	/* Foreign callers, in-dialog requests: not ours to challenge. */
	invite("zed@foreign.example", "", NULL);
	cr_assert_eq(check().status, 0);
	invite("alice@example.com", ";tag=t9", NULL);
	cr_assert_eq(check().status, 0);
}

Test(auth, methods_outside_the_list_pass)
{
	parse("OPTIONS sip:carol@other.example SIP/2.0\r\n"
	      "Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKo1\r\n"
	      "From: <sip:alice@example.com>;tag=1\r\n"
	      "To: <sip:carol@other.example>\r\n"
	      "Call-ID: o\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
	cr_assert_eq(check().status, 0);
}

Test(auth, credentials_for_other_realms_or_schemes_are_ignored)
{
	struct auth_verdict v;
	char *data = NULL;
	size_t len;

	reg("alice", "Authorization: Digest username=\"alice\", "
		     "realm=\"elsewhere.example\", nonce=\"x\", uri=\"sip:a\", "
		     "response=\"00\"\r\n");
	cr_assert_eq(check().status, 401);
	/* RFC 4475 §3.3.7 regaut01: an unknown scheme -> 401. */
	cr_assert_eq(corpus_read("rfc4475/valid/regaut01.dat", &data, &len), 0);
	cr_assert_lt(len, sizeof(msgbuf));
	memcpy(msgbuf, data, len);
	cr_assert_gt(sipmsg_parse(&msg, msgbuf, len, hdrs, MAX_HDRS, 0), 0);
	v = check();
	cr_assert_eq(v.status, 401);
	cr_assert(challenge_nonce(&v, "SHA-256"));
	free(data);
}

Test(auth, malformed_credentials_get_400)
{
	static const char *const bad[] = {
		"Authorization: Digest username=\"alice, realm=example.com\r\n",
		"Authorization: Digest realm=\"example.com\", realm=\"x\"\r\n",
		"Authorization: Digest realm=\"example.com\" nonce=\"x\"\r\n",
		"Authorization: Digest realm=\"example.com\", =x\r\n",
		"Authorization: Digest realm=\"example.com\", nonce=\"n\"\r\n",
		"Authorization: Digest username=\"alice\", "
		"realm=\"example.com\", nonce=\"n\", uri=\"u\", "
		"response=\"r\", qop=auth, nc=zz, cnonce=\"c\"\r\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		reg("alice", bad[i]);
		cr_assert_eq(check().status, 400, "%s", bad[i]);
	}
}

Test(auth, no_users_file_means_forbidden)
{
	users_fini();
	reg("alice", NULL);
	cr_assert_eq(check().status, 403);
	cr_assert_eq(check_at(&trusted, NOW).status, 0);
}

/*
 * The nonce-count table starts small and grows. Use more nonces than
 * it first holds, all newer than a first one: a replay of that first
 * nonce must still be refused (a new challenge), never accepted.
 */
Test(auth, a_replay_is_refused_after_many_other_nonces)
{
	char first[AUTH_NONCE_LEN + 1];
	struct auth_verdict v;

	reg("alice", NULL);
	v = check();
	cr_assert(challenge_nonce(&v, "MD5"));
	memcpy(first, nonce, sizeof(first));
	reg_with("alice", "secret", DIGEST_MD5, "00000001");
	cr_assert_eq(check().status, 0);
	for (uint64_t i = 0; i < 70000; i++) {
		auth_nonce_make(SLICE_LIT("example.com"), NOW + 1, 1000000 + i,
				nonce);
		reg_with("alice", "secret", DIGEST_MD5, "00000001");
		cr_assert_eq(check_at(&untrusted, NOW + 1).status, 0);
		arena_reset(ar);
	}
	memcpy(nonce, first, sizeof(first));
	reg_with("alice", "secret", DIGEST_MD5, "00000001");
	cr_assert_eq(check_at(&untrusted, NOW + 1).status, 401);
}

/* The B2B pool's own socket (auth_req.internal, set from
 * pool_is_source()) needs no credentials, whatever registrar.trusted
 * says; the same request from the same address without it does. */
Test(auth, the_pools_own_source_is_never_challenged)
{
	struct auth_verdict v;
	struct auth_req q = { cf,  &msg, (const struct sockaddr *)&untrusted,
			      0,   NOW,	 ar,
			      true };

	invite("alice@example.com", "", NULL);
	cr_assert_eq(check().status, 407);
	cr_assert_eq(auth_check(&q, &v), 0);
	cr_assert_eq(v.status, 0);
	reg("alice", NULL);
	cr_assert_eq(check().status, 401);
	cr_assert_eq(auth_check(&q, &v), 0);
	cr_assert_eq(v.status, 0);
}
