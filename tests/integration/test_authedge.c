/* tests/integration/test_authedge.c - edge authentication end to end (issue
 * #15): digest replays across workers, the digest uri, own-realm credentials,
 * MD5 first, bans per (source, user), stateless answers to strangers */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "proxy/sip/hdr.h"
#include "proxy/sip/msg.h"
#include "tests/common/mgmtcli.h"
#include "tests/common/ms.h"
#include "tests/common/proc.h"
#include "tests/common/sipcli.h"
#include "tests/common/sipp.h"
#include "tests/common/ua.h"
#include "tests/common/uahash.h"

#define WAIT_MS	   3000	       /* one answer, at most (a safety net) */
#define TRUSTED_IP "127.0.0.2" /* the config trusts it: no auth */
#define REALM	   "127.0.0.1" /* a served domain of proc_sipedge_start() */

static struct proc_sipedge sp;
static char dir[PROC_PATH_MAX / 2];
static struct sipcli_msg *rx;
static char *screen;

static void setup(void)
{
	memset(&sp, 0, sizeof(sp));
	cr_assert_eq(proc_tmpdir(dir, sizeof(dir)), 0);
	rx = calloc(1, sizeof(*rx));
	cr_assert_not_null(rx);
	screen = NULL;
}

static void teardown(void)
{
	proc_sipedge_cleanup(&sp);
	proc_rmtree(dir);
	free(rx);
	free(screen);
}

TestSuite(authedge, .init = setup, .fini = teardown, .timeout = 240);

/* "user@realm md5:.. sha256:.." (both hashes, as scripts/mkuser.sh). */
static int user_line(char *buf, size_t size, const char *user, const char *pw)
{
	const char *v[3] = { user, REALM, pw };
	char m[33], s[65];

	uahash_hex("MD5", v, 3, m);
	uahash_hex("SHA-256", v, 3, s);
	return snprintf(buf, size, "%s@%s md5:%s sha256:%s\n", user, REALM, m,
			s);
}

/* A users file of alice, bob (pw "secret") and callee, then start
 * sipedge with @p workers and the extra registrar keys @p reg_yaml. */
static void start(unsigned workers, const char *reg_yaml)
{
	char users[1024], path[PROC_PATH_MAX], yaml[2048];
	int o = 0, err;

	o += user_line(users + o, sizeof(users) - (size_t)o, "alice", "secret");
	o += user_line(users + o, sizeof(users) - (size_t)o, "bob", "secret");
	o += user_line(users + o, sizeof(users) - (size_t)o, "callee", "pw");
	cr_assert_eq(proc_write_file(dir, "users", users, path, sizeof(path)),
		     0);
	snprintf(yaml, sizeof(yaml),
		 "registrar:\n"
		 "  trusted: [\"" TRUSTED_IP "/32\"]\n"
		 "  users_file: \"%s\"\n"
		 "%s",
		 path, reg_yaml);
	err = proc_sipedge_start(&sp, "127.0.0.1", workers, yaml);
	cr_assert_eq(err, 0, "sipedge did not start: %s", sp.why);
}

/* An INVITE from @p from (a user of REALM) to @p to@REALM, Call-ID
 * @p cid, with the extra header lines @p extra. */
static int invite_text(char *buf, size_t size, struct ua *u, const char *from,
		       const char *to, const char *cid, unsigned cseq,
		       const char *extra)
{
	unsigned seq = ++u->seq;

	return snprintf(buf, size,
			"INVITE sip:%s@" REALM " SIP/2.0\r\n"
			"Via: SIP/2.0/UDP %s:%u;rport;branch=z9hG4bKae%x.%u\r\n"
			"Max-Forwards: 70\r\n"
			"From: <sip:%s@" REALM ">;tag=f%u\r\n"
			"To: <sip:%s@" REALM ">\r\n"
			"Call-ID: %s\r\n"
			"CSeq: %u INVITE\r\n"
			"Contact: <sip:%s@%s:%u>\r\n"
			"%s"
			"Content-Length: 0\r\n\r\n",
			to, u->ip, u->port, (unsigned)getpid(), seq, from, seq,
			to, cid, cseq, from, u->ip, u->port,
			extra ? extra : "");
}

static int register_text(char *buf, size_t size, struct ua *u, const char *user,
			 const char *cid, unsigned cseq, const char *extra)
{
	unsigned seq = ++u->seq;

	return snprintf(buf, size,
			"REGISTER sip:" REALM " SIP/2.0\r\n"
			"Via: SIP/2.0/UDP %s:%u;rport;branch=z9hG4bKar%x.%u\r\n"
			"Max-Forwards: 70\r\n"
			"From: <sip:%s@" REALM ">;tag=r%u\r\n"
			"To: <sip:%s@" REALM ">\r\n"
			"Call-ID: %s\r\n"
			"CSeq: %u REGISTER\r\n"
			"Contact: <sip:%s@%s:%u>\r\n"
			"%s"
			"Content-Length: 0\r\n\r\n",
			u->ip, u->port, (unsigned)getpid(), seq, user, seq,
			user, cid, cseq, user, u->ip, u->port,
			extra ? extra : "");
}

/* Send @p req and wait for its final answer (Call-ID @p cid, CSeq
 * @p cseq), retransmitting every 500 ms. The status, or -ETIMEDOUT. */
static int transact(struct ua *u, const char *req, size_t len, const char *cid,
		    unsigned cseq, long wait_ms)
{
	long long start = ms_now(), last = start;

	ua_send(u, req, len);
	while (ms_now() - start < wait_ms) {
		if (ua_recv(u, rx, 100) < 0) {
			if (ms_now() - last >= 500) {
				ua_send(u, req, len);
				last = ms_now();
			}
			continue;
		}
		if (rx->m.is_request || rx->m.status < 200 ||
		    !sipcli_is_call_id(rx, cid) || rx->m.cseq != cseq)
			continue;
		return (int)rx->m.status;
	}
	return -ETIMEDOUT;
}

/* The nonce of rx's MD5 challenge (401 or 407) into @p nonce. */
static void md5_nonce(char *nonce, size_t size)
{
	enum hdr_id id =
	    rx->m.status == 407 ? HDR_PROXY_AUTHENTICATE : HDR_WWW_AUTHENTICATE;
	const struct siphdr *h = sipmsg_hdr(&rx->m, id);
	char v[1024];
	const char *p, *e;

	cr_assert_not_null(h, "no challenge in %u", rx->m.status);
	snprintf(v, sizeof(v), "%.*s", (int)h->value.len, h->value.p);
	/* MD5 first by default. */
	cr_assert_not_null(strstr(v, "algorithm=MD5"), "%s", v);
	p = strstr(v, "nonce=\"");
	e = p ? strchr(p + 7, '"') : NULL;
	cr_assert(p && e, "%s", v);
	snprintf(nonce, size, "%.*s", (int)(e - p - 7), p + 7);
}

/* A credentials line (MD5, qop=auth) for @p method and @p uri. */
static void cred_line(char *out, size_t size, const char *hname,
		      const char *user, const char *pw, const char *nonce,
		      const char *nc, const char *method, const char *uri)
{
	const char *a1[3] = { user, REALM, pw };
	const char *a2[2] = { method, uri };
	char ha1[65], ha2[65], resp[65];
	const char *r[6] = { ha1, nonce, nc, "0a4f113b", "auth", ha2 };

	uahash_hex("MD5", a1, 3, ha1);
	uahash_hex("MD5", a2, 2, ha2);
	uahash_hex("MD5", r, 6, resp);
	snprintf(out, size,
		 "%s: Digest username=\"%s\", realm=\"" REALM "\", "
		 "nonce=\"%s\", uri=\"%s\", response=\"%s\", algorithm=MD5, "
		 "cnonce=\"0a4f113b\", qop=auth, nc=%s\r\n",
		 hname, user, nonce, uri, resp, nc);
}

/* One counter of stats.get. */
static long long stat_of(const char *name)
{
	return mgmtcli_stat(sp.mgmt_port, name);
}

Test(authedge, replayed_proxy_authorization_is_refused_on_every_worker)
{
	char req[4096], nonce[256], cred[1024], cid[64];
	unsigned refused = 0;
	struct ua u;
	int n, st;

	start(2, "");
	ua_open(&u, "", "", "127.0.0.1", sp.port);
	n = invite_text(req, sizeof(req), &u, "alice", "bob", "rp-0", 1, NULL);
	cr_assert_eq(transact(&u, req, (size_t)n, "rp-0", 1, WAIT_MS), 407);
	md5_nonce(nonce, sizeof(nonce));
	cred_line(cred, sizeof(cred), "Proxy-Authorization", "alice", "secret",
		  nonce, "00000001", "INVITE", "sip:bob@" REALM);
	/* Accepted once: bob has no binding, so routing answers. */
	n = invite_text(req, sizeof(req), &u, "alice", "bob", "rp-1", 1, cred);
	st = transact(&u, req, (size_t)n, "rp-1", 1, WAIT_MS);
	cr_assert(st == 480 || st == 404, "first use: %d", st);
	/* The same credentials under 200 new Call-IDs, which the two
	 * workers share between them (hash of the Call-ID). */
	for (unsigned i = 0; i < 200; i++) {
		snprintf(cid, sizeof(cid), "rp-replay-%u", i);
		n = invite_text(req, sizeof(req), &u, "alice", "bob", cid, 1,
				cred);
		st = transact(&u, req, (size_t)n, cid, 1, WAIT_MS);
		if (st == 407)
			refused++;
	}
	cr_assert_eq(refused, 200, "refused %u of 200", refused);
	cr_assert_geq(stat_of("auth.replays"), 200);
	/* Both workers saw some of them. */
	cr_assert_gt(stat_of("shard[0].requests.INVITE"), 10);
	cr_assert_gt(stat_of("shard[1].requests.INVITE"), 10);
	ua_close(&u);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

Test(authedge, digest_uri_other_than_the_request_uri_gets_400)
{
	char req[4096], nonce[256], cred[1024];
	struct ua u;
	int n;

	start(1, "");
	ua_open(&u, "", "", "127.0.0.1", sp.port);
	for (unsigned i = 0; i < 20; i++) {
		char cid[32];

		snprintf(cid, sizeof(cid), "uri-%u", i);
		n = register_text(req, sizeof(req), &u, "alice", cid, 1, NULL);
		cr_assert_eq(transact(&u, req, (size_t)n, cid, 1, WAIT_MS),
			     401);
		md5_nonce(nonce, sizeof(nonce));
		cred_line(cred, sizeof(cred), "Authorization", "alice",
			  "secret", nonce, "00000001", "REGISTER",
			  "sip:evil.example.com");
		n = register_text(req, sizeof(req), &u, "alice", cid, 2, cred);
		cr_assert_eq(transact(&u, req, (size_t)n, cid, 2, WAIT_MS),
			     400);
		cr_assert_str_eq(sipcli_first_line(rx),
				 "SIP/2.0 400 Digest uri Does Not Match "
				 "Request-URI");
	}
	cr_assert_eq(stat_of("auth.uri_mismatch"), 20);
	cr_assert_eq(stat_of("registrar.ok"), 0);
	ua_close(&u);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* The callee (SIPp UAS on @p port) registered from the trusted address. */
static void register_callee(uint16_t port)
{
	char req[2048], from[96], to[96];
	struct ua t;
	int n;

	ua_open(&t, "", "", TRUSTED_IP, sp.port);
	n = register_text(req, sizeof(req), &t, "callee", "callee-reg", 1,
			  NULL);
	/* The Contact is the UAS, not this socket. */
	snprintf(from, sizeof(from), "Contact: <sip:callee@%s:%u>", t.ip,
		 t.port);
	snprintf(to, sizeof(to), "Contact: <sip:callee@127.0.0.1:%u>", port);
	n = sipcli_edit(req, sizeof(req), from, to);
	cr_assert_gt(n, 0);
	cr_assert_eq(transact(&t, req, (size_t)n, "callee-reg", 1, WAIT_MS),
		     200);
	ua_close(&t);
}

/* SIPp callers of alice (MD5 digest) to callee, @p calls of them. */
static pid_t sipp_callers(unsigned calls, const char *rate)
{
	char csv[PROC_PATH_MAX];
	struct sipp_cmd c;

	cr_assert_eq(proc_write_file(dir, "callers.csv",
				     "SEQUENTIAL\nalice;" REALM
				     ";[authentication username=alice "
				     "password=secret];\n",
				     csv, sizeof(csv)),
		     0);
	sipp_cmd_uac(&c, "uac_auth_call.xml", sp.port, 0, "u1");
	sipp_cmd_opt(&c, "-inf", "%s", csv);
	sipp_cmd_opt(&c, "-m", "%u", calls);
	sipp_cmd_args(&c, "-s", "callee", "-r", rate, "-l", "50", "-timeout",
		      "60s", "-timeout_error", "-recv_timeout", "10000", NULL);
	sipp_cmd_errors(&c, "uac");
	return sipp_spawn(c.argv, dir, "uac");
}

static pid_t sipp_callee(uint16_t port, unsigned calls)
{
	struct sipp_cmd c;

	sipp_cmd_uas(&c, "uas_noauth.xml", port, "u1");
	sipp_cmd_opt(&c, "-m", "%u", calls);
	sipp_cmd_args(&c, "-timeout", "60s", "-timeout_error", NULL);
	sipp_cmd_errors(&c, "uas");
	return sipp_spawn(c.argv, dir, "uas");
}

Test(authedge, sipp_md5_client_registers_first_try_callee_sees_no_credentials)
{
	struct sipp_cmd c;
	char csv[PROC_PATH_MAX];
	uint16_t up;
	pid_t uas, uac, reg;

	start(2, "");
	/* SIPp 3.6 answers only the first challenge, with MD5: bob has
	 * both hashes and registers on the first try (MD5 offered first). */
	cr_assert_eq(proc_write_file(dir, "reg.csv",
				     "SEQUENTIAL\nbob;" REALM
				     ";[authentication username=bob "
				     "password=secret];\n",
				     csv, sizeof(csv)),
		     0);
	sipp_cmd_uac(&c, "reg_md5_uac.xml", sp.port, 0, "u1");
	sipp_cmd_opt(&c, "-inf", "%s", csv);
	sipp_cmd_args(&c, "-m", "5", "-timeout", "30s", "-timeout_error", NULL);
	sipp_cmd_errors(&c, "reg");
	reg = sipp_spawn(c.argv, dir, "reg");
	sipp_ok(&reg, 40000, dir, "reg", sp.log);
	/* A call: alice authenticates (407, MD5), the callee's UAS fails
	 * the call if any Authorization or Proxy-Authorization arrives. */
	cr_assert_eq(proc_free_port("127.0.0.1", &up), 0);
	uas = sipp_callee(up, 10);
	sipp_bound(up, "u1");
	register_callee(up);
	uac = sipp_callers(10, "10");
	sipp_ok(&uac, 60000, dir, "uac", sp.log);
	sipp_ok(&uas, 60000, dir, "uas", sp.log);
	cr_assert_geq(stat_of("auth.successes"), 15);
	cr_assert_eq(stat_of("auth.failures"), 0);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* One REGISTER with a wrong password for @p user: the final status. */
static int wrong_register(struct ua *u, const char *user, unsigned i)
{
	char req[4096], nonce[256], cred[1024], cid[64];
	int n, st;

	snprintf(cid, sizeof(cid), "wp-%s-%u", user, i);
	n = register_text(req, sizeof(req), u, user, cid, 1, NULL);
	st = transact(u, req, (size_t)n, cid, 1, WAIT_MS);
	if (st != 401)
		return st;
	md5_nonce(nonce, sizeof(nonce));
	cred_line(cred, sizeof(cred), "Authorization", user, "guess", nonce,
		  "00000001", "REGISTER", "sip:" REALM);
	n = register_text(req, sizeof(req), u, user, cid, 2, cred);
	return transact(u, req, (size_t)n, cid, 2, WAIT_MS);
}

/* A REGISTER without credentials for @p user: its status. */
static int bare_register(struct ua *u, const char *user, const char *cid)
{
	char req[4096];
	int n = register_text(req, sizeof(req), u, user, cid, 1, NULL);

	return transact(u, req, (size_t)n, cid, 1, WAIT_MS);
}

Test(authedge, wrong_password_bans_only_the_pair_until_ban_remove)
{
	const char *ls[] = { "ban", "list", NULL };
	const char *rm[] = { "ban", "remove", "127.0.0.1", "alice", NULL };
	char *out = NULL, *err = NULL, why[256];
	json_t *res = NULL, *b;
	struct ua u, v;

	start(2, "  max_auth_failures: 3\n");
	ua_open(&u, "", "", "127.0.0.1", sp.port);
	cr_assert_eq(wrong_register(&u, "alice", 1), 401);
	cr_assert_eq(wrong_register(&u, "alice", 2), 401);
	cr_assert_eq(wrong_register(&u, "alice", 3), 403);
	/* The pair is silenced: no answer, retransmissions included. */
	cr_assert_eq(bare_register(&u, "alice", "after-ban"), -ETIMEDOUT);
	/* Another user behind the same address is not. */
	cr_assert_eq(bare_register(&u, "bob", "bob-1"), 401);
	/* Nor alice from another address. */
	ua_open(&v, "", "", "127.0.0.3", sp.port);
	cr_assert_eq(bare_register(&v, "alice", "alice-v"), 401);
	ua_close(&v);
	/* The ban, as the management API lists it. */
	cr_assert_eq(mgmtcli_rpc(sp.mgmt_port, NULL, "ban.list", NULL, &res,
				 why, sizeof(why)),
		     0, "%s", why);
	cr_assert_eq(json_integer_value(json_object_get(res, "count")), 1);
	b = json_array_get(json_object_get(res, "bans"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(b, "kind")), "auth");
	cr_assert_str_eq(json_string_value(json_object_get(b, "source")),
			 "127.0.0.1");
	cr_assert_str_eq(json_string_value(json_object_get(b, "user")),
			 "alice");
	cr_assert_gt(json_integer_value(json_object_get(b, "seconds_left")),
		     200);
	cr_assert_leq(json_integer_value(json_object_get(b, "seconds_left")),
		      300);
	json_decref(res);
	cr_assert_eq(proc_sipctl(&sp, ls, &out, &err), 0, "%s", err);
	cr_assert_not_null(strstr(out, "alice"), "%s", out);
	free(out);
	free(err);
	/* sipctl ban remove lifts it; alice is challenged again. */
	cr_assert_eq(proc_sipctl(&sp, rm, &out, &err), 0, "%s", err);
	cr_assert_not_null(strstr(out, "removed"), "%s", out);
	free(out);
	free(err);
	cr_assert_eq(bare_register(&u, "alice", "after-remove"), 401);
	/* Nothing left to remove for that pair. */
	cr_assert_eq(mgmtcli_rpc(sp.mgmt_port, NULL, "ban.remove",
				 "{\"source\":\"127.0.0.1\",\"user\":"
				 "\"alice\"}",
				 &res, why, sizeof(why)),
		     -32002, "%s", why);
	cr_assert_eq(mgmtcli_rpc(sp.mgmt_port, NULL, "ban.remove",
				 "{\"source\":\"not-an-address\"}", &res, why,
				 sizeof(why)),
		     -32602, "%s", why);
	cr_assert_eq(stat_of("auth.bans"), 1);
	ua_close(&u);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

Test(authedge, unauthenticated_flood_is_answered_without_transactions)
{
	char req[2048], cid[64];
	long long t0, answered = 0, tx0;
	uint16_t up;
	pid_t uas, uac;
	struct ua u;
	int n, size = 4 << 20;

	start(2, "");
	ua_open(&u, "", "", "127.0.0.1", sp.port);
	setsockopt(u.fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	tx0 = stat_of("shard.transactions");
	/* 2,000 INVITEs without credentials at about 1,000/s, never ACKed:
	 * a stateful 407 would keep a transaction each (Timer G/H). */
	t0 = ms_now();
	for (unsigned i = 0; i < 2000; i++) {
		snprintf(cid, sizeof(cid), "flood-%u", i);
		n = invite_text(req, sizeof(req), &u, "alice", "bob", cid, 1,
				NULL);
		ua_send(&u, req, (size_t)n);
		while (ms_now() - t0 < (long long)i)
			while (ua_recv(&u, rx, 1) == 0)
				answered +=
				    !rx->m.is_request && rx->m.status == 407;
	}
	for (int k = 0; k < 200 && ua_recv(&u, rx, 50) == 0; k++)
		answered += !rx->m.is_request && rx->m.status == 407;
	cr_log_info("flood: 2000 INVITEs in %lld ms, %lld 407s received, "
		    "transactions %lld before, %lld after",
		    ms_now() - t0, answered, tx0,
		    stat_of("shard.transactions"));
	/* Every one answered at once, none kept. */
	cr_assert_geq(answered, 1900, "answered %lld", answered);
	cr_assert_eq(stat_of("shard.transactions"), tx0);
	cr_assert_geq(stat_of("auth.stateless"), 2000);
	ua_close(&u);
	/* A real UA still authenticates and completes its calls. */
	cr_assert_eq(proc_free_port("127.0.0.1", &up), 0);
	uas = sipp_callee(up, 20);
	sipp_bound(up, "u1");
	register_callee(up);
	uac = sipp_callers(20, "20");
	sipp_ok(&uac, 60000, dir, "uac", sp.log);
	sipp_ok(&uas, 60000, dir, "uas", sp.log);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* The answer to an INVITE from a foreign unauthenticated caller to
 * @p to@REALM, reduced to what does not depend on the request: status
 * line, header names in order, To tag length. */
static void stranger_answer(struct ua *u, const char *to, unsigned i, char *out,
			    size_t size)
{
	char req[2048], cid[64];
	unsigned seq = ++u->seq;
	size_t o;
	int n, st;

	snprintf(cid, sizeof(cid), "enum-%s-%u", to, i);
	n = snprintf(req, sizeof(req),
		     "INVITE sip:%s@" REALM " SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP %s:%u;rport;branch=z9hG4bKen%u\r\n"
		     "Max-Forwards: 70\r\n"
		     "From: <sip:scanner@foreign.example>;tag=s%u\r\n"
		     "To: <sip:%s@" REALM ">\r\n"
		     "Call-ID: %s\r\n"
		     "CSeq: 1 INVITE\r\n"
		     "Contact: <sip:scanner@%s:%u>\r\n"
		     "Content-Length: 0\r\n\r\n",
		     to, u->ip, u->port, seq, seq, to, cid, u->ip, u->port);
	st = transact(u, req, (size_t)n, cid, 1, WAIT_MS);
	cr_assert_gt(st, 0, "%s: no answer", to);
	o = (size_t)snprintf(out, size, "%s|totag=%zu", sipcli_first_line(rx),
			     rx->m.to_tag.len);
	for (unsigned h = 0; h < rx->m.nhdrs && o + 40 < size; h++)
		o += (size_t)snprintf(out + o, size - o, "|%.*s",
				      (int)rx->m.hdrs[h].name.len,
				      rx->m.hdrs[h].name.p);
}

/* 800 users (u0..u799) of REALM, none registered; known or unknown,
 * the same answer to a stranger. */
static void enum_users(void)
{
	size_t cap = 800 * 200, o = 0;
	char *users = malloc(cap), name[16], path[PROC_PATH_MAX];

	cr_assert_not_null(users);
	for (unsigned i = 0; i < 800; i++) {
		snprintf(name, sizeof(name), "u%u", i);
		o += (size_t)user_line(users + o, cap - o, name, "pw");
	}
	cr_assert_eq(proc_write_file(dir, "users", users, path, sizeof(path)),
		     0);
	free(users);
}

static void start_enum(const char *reg_yaml)
{
	char yaml[2048];
	int err;

	enum_users();
	snprintf(yaml, sizeof(yaml),
		 "registrar:\n"
		 "  trusted: [\"" TRUSTED_IP "/32\"]\n"
		 "  users_file: \"%s/users\"\n"
		 "%s",
		 dir, reg_yaml);
	err = proc_sipedge_start(&sp, "127.0.0.1", 2, yaml);
	cr_assert_eq(err, 0, "sipedge did not start: %s", sp.why);
}

Test(authedge, strangers_cannot_tell_unknown_from_unregistered_users)
{
	char want[2048], got[2048], name[32];
	unsigned same = 0;
	struct ua u;

	start_enum("");
	ua_open(&u, "", "", "127.0.0.1", sp.port);
	stranger_answer(&u, "nobody-0", 0, want, sizeof(want));
	cr_assert(strncmp(want, "SIP/2.0 404 Not Found|", 22) == 0, "%s", want);
	for (unsigned i = 0; i < 800; i++) {
		snprintf(name, sizeof(name), "u%u", i);
		stranger_answer(&u, name, i, got, sizeof(got));
		same += strcmp(got, want) == 0;
		snprintf(name, sizeof(name), "nobody-%u", i);
		stranger_answer(&u, name, i, got, sizeof(got));
		same += strcmp(got, want) == 0;
	}
	cr_assert_eq(same, 1600, "identical: %u of 1600 (%s)", same, want);
	ua_close(&u);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

Test(authedge, hide_users_false_tells_them_apart)
{
	char known[2048], unknown[2048];
	struct ua u;

	start_enum("  hide_users: false\n");
	ua_open(&u, "", "", "127.0.0.1", sp.port);
	stranger_answer(&u, "u1", 0, known, sizeof(known));
	stranger_answer(&u, "nobody", 0, unknown, sizeof(unknown));
	cr_assert(strncmp(known, "SIP/2.0 480 ", 12) == 0, "%s", known);
	cr_assert(strncmp(unknown, "SIP/2.0 404 ", 12) == 0, "%s", unknown);
	ua_close(&u);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}
