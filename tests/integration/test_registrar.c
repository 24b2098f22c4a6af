/* tests/integration/test_registrar.c - registrar end to end: the real sipedge,
 * SIPp (MD5 digest) and a C client (SHA-256 digest) as UAs */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proxy/sip/hdr.h"
#include "proxy/sip/msg.h"
#include "tests/common/proc.h"
#include "tests/common/sipcli.h"
#include "tests/common/sipp.h"
#include "tests/common/uahash.h"
#include "tests/common/ua.h"
#include "tests/common/ms.h"

#define MD5_USERS  6000 /* registered by SIPp, MD5 */
#define SHA_USERS  4000 /* registered by the C client, SHA-256 */
#define ALL_USERS  (MD5_USERS + SHA_USERS)
#define WINDOW	   64	       /* requests the C client keeps in flight */
#define WAIT_MS	   5000	       /* one answer, at most (a safety net) */
#define TRUSTED_IP "127.0.0.2" /* the config trusts it: no auth */

static struct proc_sipedge sp;
static char dir[PROC_PATH_MAX / 2]; /* users, snapshot, SIPp files */
static struct sipcli_msg *rx;	    /* one received message */
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

TestSuite(registrar, .init = setup, .fini = teardown, .timeout = 240);

/* "user@realm md5:.. [sha256:..]" for a users file. */
static int user_line(char *buf, size_t size, const char *user,
		     const char *realm, const char *pw, bool sha)
{
	const char *v[3] = { user, realm, pw };
	char m[33], s[65];

	uahash_hex("MD5", v, 3, m);
	if (!sha)
		return snprintf(buf, size, "%s@%s md5:%s\n", user, realm, m);
	uahash_hex("SHA-256", v, 3, s);
	return snprintf(buf, size, "%s@%s md5:%s sha256:%s\n", user, realm, m,
			s);
}

/*
 * A UDP user agent (tests/common/ua) on @p ip (127.0.0.1, or the trusted
 * 127.0.0.2), with room in its receive buffer for the load runs' answers.
 */
static void open_ua(struct ua *u, const char *ip)
{
	int size = 4 << 20;

	ua_open(u, "", "", ip, sp.port);
	setsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
}

/*
 * A REGISTER for @p user at @p domain into @p buf: @p contact is the
 * whole Contact line (or "" for a query), @p extra more header lines.
 */
static int reg_text(char *buf, size_t size, struct ua *u, const char *user,
		    const char *domain, const char *callid, unsigned cseq,
		    const char *contact, const char *extra)
{
	unsigned seq = ++u->seq;

	return snprintf(buf, size,
			"REGISTER sip:%s SIP/2.0\r\n"
			"Via: SIP/2.0/UDP %s:%u;rport;branch=z9hG4bK%x.%u\r\n"
			"Max-Forwards: 70\r\n"
			"From: <sip:%s@%s>;tag=t%u\r\n"
			"To: <sip:%s@%s>\r\n"
			"Call-ID: %s\r\n"
			"CSeq: %u REGISTER\r\n"
			"%s%s"
			"User-Agent: test_registrar\r\n"
			"Content-Length: 0\r\n\r\n",
			domain, u->ip, u->port, (unsigned)getpid(), seq, user,
			domain, seq, user, domain, callid, cseq, contact,
			extra ? extra : "");
}

/* Send @p req and wait for its final answer (same Call-ID and CSeq),
 * retransmitting every 500 ms. Returns the status. */
static int transact(struct ua *u, const char *req, size_t len,
		    const char *callid, unsigned cseq)
{
	long start = ms_now(), last = start;

	ua_send(u, req, len);
	while (ms_now() - start < WAIT_MS) {
		if (ua_recv(u, rx, 100) < 0) {
			if (ms_now() - last >= 500) {
				ua_send(u, req, len);
				last = ms_now();
			}
			continue;
		}
		if (rx->m.is_request || rx->m.status < 200 ||
		    !sipcli_is_call_id(rx, callid) || rx->m.cseq != cseq)
			continue;
		return (int)rx->m.status;
	}
	return -ETIMEDOUT;
}

/* The challenge for @p alg in rx: realm and nonce; stale=true? */
static bool challenge_of(const char *alg, char *realm, char *nonce,
			 bool *stalep)
{
	enum hdr_id id =
	    rx->m.status == 407 ? HDR_PROXY_AUTHENTICATE : HDR_WWW_AUTHENTICATE;
	char want[32];

	snprintf(want, sizeof(want), "algorithm=%s", alg);
	for (const struct siphdr *h = sipmsg_hdr(&rx->m, id); h;
	     h = sipmsg_hdr_next(&rx->m, h)) {
		char v[1024];
		const char *p, *e;

		snprintf(v, sizeof(v), "%.*s", (int)h->value.len, h->value.p);
		if (!strstr(v, want))
			continue;
		p = strstr(v, "realm=\"");
		e = p ? strchr(p + 7, '"') : NULL;
		cr_assert(p && e, "%s", v);
		snprintf(realm, 256, "%.*s", (int)(e - p - 7), p + 7);
		p = strstr(v, "nonce=\"");
		e = p ? strchr(p + 7, '"') : NULL;
		cr_assert(p && e, "%s", v);
		snprintf(nonce, 256, "%.*s", (int)(e - p - 7), p + 7);
		if (stalep)
			*stalep = strstr(v, "stale=true") != NULL;
		return true;
	}
	return false;
}

/* An Authorization line answering (@p realm, @p nonce). */
static void authz_line(char *out, size_t size, const char *user,
		       const char *realm, const char *pw, const char *alg,
		       const char *nonce, const char *nc, const char *uri)
{
	const char *a1[3] = { user, realm, pw };
	const char *a2[2] = { "REGISTER", uri };
	char ha1[65], ha2[65], resp[65];
	const char *r[6] = { ha1, nonce, nc, "f00dcafe", "auth", ha2 };

	uahash_hex(alg, a1, 3, ha1);
	uahash_hex(alg, a2, 2, ha2);
	uahash_hex(alg, r, 6, resp);
	snprintf(out, size,
		 "Authorization: Digest username=\"%s\", realm=\"%s\", "
		 "nonce=\"%s\", uri=\"%s\", response=\"%s\", algorithm=%s, "
		 "cnonce=\"f00dcafe\", qop=auth, nc=%s\r\n",
		 user, realm, nonce, uri, resp, alg, nc);
}

/* REGISTER with digest (@p alg) as a UA does it; the final status. */
static int register_user(struct ua *u, const char *user, const char *domain,
			 const char *pw, const char *alg, const char *contact,
			 const char *callid, unsigned *cseqp)
{
	char req[4096], realm[256], nonce[256], line[1024], uri[300];
	int st, n;

	n = reg_text(req, sizeof(req), u, user, domain, callid, *cseqp, contact,
		     NULL);
	st = transact(u, req, (size_t)n, callid, (*cseqp)++);
	if (st != 401)
		return st;
	cr_assert(challenge_of(alg, realm, nonce, NULL), "no %s challenge",
		  alg);
	snprintf(uri, sizeof(uri), "sip:%s", domain);
	authz_line(line, sizeof(line), user, realm, pw, alg, nonce, "00000001",
		   uri);
	n = reg_text(req, sizeof(req), u, user, domain, callid, *cseqp, contact,
		     line);
	return transact(u, req, (size_t)n, callid, (*cseqp)++);
}

/* Query @p user's bindings (REGISTER without Contact) from the trusted
 * address: the number of Contact values in the 200, or -status. */
static int query(struct ua *t, const char *user, const char *domain)
{
	char req[2048], callid[64];
	int st, n;

	snprintf(callid, sizeof(callid), "q-%u-%u", (unsigned)getpid(), t->seq);
	n = reg_text(req, sizeof(req), t, user, domain, callid, 1, "", NULL);
	st = transact(t, req, (size_t)n, callid, 1);
	if (st != 200)
		return st < 0 ? st : -st;
	return (int)sipmsg_hdr_count(&rx->m, HDR_CONTACT);
}

/* Start sipedge (2 workers) with the registrar section @p reg_yaml.
 * SHA-256 first (the default offers MD5 only): this suite's UA answers
 * the SHA-256 challenge, so both algorithms' paths are run over the
 * wire (SIPp's MD5 runs in authedge/). */
static void start(const char *reg_yaml)
{
	char yaml[2048];
	int err;

	snprintf(yaml, sizeof(yaml),
		 "registrar:\n"
		 "  trusted: [\"" TRUSTED_IP "/32\"]\n"
		 "  users_file: \"%s/users\"\n"
		 "  algorithms: [sha-256, md5]\n"
		 "%s"
		 "store:\n"
		 "  snapshot: \"%s/location.snap\"\n"
		 "  snapshot_interval_s: 1\n",
		 dir, reg_yaml, dir);
	err = proc_sipedge_start(&sp, "127.0.0.1", 2, yaml);
	cr_assert_eq(err, 0, "sipedge did not start: %s", sp.why);
}

static void write_users(const char *text)
{
	cr_assert_eq(proc_write_file(dir, "users", text, NULL, 0), 0);
}

/*
 * Pipelined work for many users over one socket, WINDOW at a time:
 * SHA-256 registration (REGISTER, 401, REGISTER with credentials, 200)
 * or a query (REGISTER without Contact from the trusted address, 200
 * with exactly one Contact naming the user). Call-ID "<kind>-<index>".
 */
enum job_kind { JOB_REGISTER_SHA, JOB_QUERY };

struct job {
	unsigned user;
	unsigned cseq;
	long sent;
	unsigned tries;
	int len;
	char req[1536];
};

static void job_user(enum job_kind k, unsigned i, char *buf, size_t size)
{
	if (k == JOB_REGISTER_SHA || i >= MD5_USERS)
		snprintf(buf, size, "sha%u",
			 k == JOB_QUERY ? i - MD5_USERS : i);
	else
		snprintf(buf, size, "md5u%u", i);
}

static void job_start(enum job_kind k, struct ua *u, struct job *j,
		      unsigned user)
{
	char name[32], callid[64], contact[128];

	job_user(k, user, name, sizeof(name));
	snprintf(callid, sizeof(callid), "%c-%u", k == JOB_QUERY ? 'q' : 's',
		 user);
	snprintf(contact, sizeof(contact), "Contact: <sip:%s@%s:%u>\r\n", name,
		 u->ip, u->port);
	j->user = user;
	j->cseq = 1;
	j->tries = 0;
	j->len = reg_text(j->req, sizeof(j->req), u, name, "localhost", callid,
			  1, k == JOB_QUERY ? "" : contact, NULL);
	ua_send(u, j->req, (size_t)j->len);
	j->sent = ms_now();
}

/* rx answers @p j: false while the job goes on. */
static bool job_answer(enum job_kind k, struct ua *u, struct job *j)
{
	char name[32], callid[64], realm[256], nonce[256], line[1024];
	char contact[128], want[96], got[256];

	job_user(k, j->user, name, sizeof(name));
	if (k == JOB_QUERY) {
		cr_assert_eq(rx->m.status, 200, "query %s: %u", name,
			     rx->m.status);
		cr_assert_eq(sipmsg_hdr_count(&rx->m, HDR_CONTACT), 1,
			     "%s has %u bindings", name,
			     sipmsg_hdr_count(&rx->m, HDR_CONTACT));
		sipcli_hdr_str(rx, HDR_CONTACT, got, sizeof(got));
		snprintf(want, sizeof(want), "<sip:%s@127.0.0.1:", name);
		cr_assert_eq(strncmp(got, want, strlen(want)), 0, "%s: %s",
			     name, got);
		return true;
	}
	if (j->cseq == 2) {
		cr_assert_eq(rx->m.status, 200, "register %s: %u", name,
			     rx->m.status);
		return true;
	}
	cr_assert_eq(rx->m.status, 401, "register %s: %u", name, rx->m.status);
	cr_assert(challenge_of("SHA-256", realm, nonce, NULL));
	authz_line(line, sizeof(line), name, realm, "pw", "SHA-256", nonce,
		   "00000001", "sip:localhost");
	snprintf(callid, sizeof(callid), "s-%u", j->user);
	snprintf(contact, sizeof(contact), "Contact: <sip:%s@%s:%u>\r\n", name,
		 u->ip, u->port);
	j->cseq = 2;
	j->tries = 0;
	j->len = reg_text(j->req, sizeof(j->req), u, name, "localhost", callid,
			  2, contact, line);
	ua_send(u, j->req, (size_t)j->len);
	j->sent = ms_now();
	return false;
}

/* Run kind @p k for users [@p from, @p to). */
static void run_jobs(enum job_kind k, struct ua *u, unsigned from, unsigned to)
{
	struct job *slots = calloc(WINDOW, sizeof(*slots));
	bool *busy = calloc(WINDOW, sizeof(*busy));
	unsigned next = from, done = 0, total = to - from;
	long last_progress = ms_now();

	cr_assert(slots && busy);
	for (unsigned s = 0; s < WINDOW && next < to; s++, next++) {
		job_start(k, u, &slots[s], next);
		busy[s] = true;
	}
	while (done < total) {
		cr_assert_lt(ms_now() - last_progress, 4 * WAIT_MS,
			     "no progress: %u of %u done", done, total);
		if (ua_recv(u, rx, 50) == 0 && !rx->m.is_request &&
		    rx->m.status >= 200) {
			const char *p = rx->m.call_id.p;
			unsigned idx;
			unsigned s;

			if (rx->m.call_id.len < 3 ||
			    sscanf(p + 2, "%u", &idx) != 1)
				continue;
			for (s = 0; s < WINDOW; s++)
				if (busy[s] && slots[s].user == idx &&
				    slots[s].cseq == rx->m.cseq)
					break;
			if (s == WINDOW)
				continue; /* a late duplicate */
			if (job_answer(k, u, &slots[s])) {
				done++;
				last_progress = ms_now();
				busy[s] = false;
				if (next < to) {
					job_start(k, u, &slots[s], next++);
					busy[s] = true;
				}
			}
		}
		/* Retransmit what waits too long (UDP). */
		for (unsigned s = 0; s < WINDOW; s++) {
			if (!busy[s] || ms_now() - slots[s].sent < 1000)
				continue;
			cr_assert_lt(slots[s].tries++, 5, "user %u: no answer",
				     slots[s].user);
			ua_send(u, slots[s].req, (size_t)slots[s].len);
			slots[s].sent = ms_now();
		}
	}
	free(slots);
	free(busy);
}

/* SIPp registers users md5u0.. with MD5 from the CSV. */
static void sipp_register_md5(unsigned n)
{
	char csv[PROC_PATH_MAX];
	size_t cap = (size_t)n * 96 + 32, o = 0;
	char *text = malloc(cap);
	struct sipp_cmd c;
	pid_t pid;

	cr_assert_not_null(text);
	o += (size_t)snprintf(text, cap, "SEQUENTIAL\n");
	for (unsigned i = 0; i < n; i++)
		o += (size_t)snprintf(text + o, cap - o,
				      "md5u%u;localhost;[authentication "
				      "username=md5u%u password=pw];\n",
				      i, i);
	cr_assert_eq(proc_write_file(dir, "users.csv", text, csv, sizeof(csv)),
		     0);
	free(text);
	sipp_cmd_uac(&c, "reg_md5_uac.xml", sp.port, 0, "u1");
	sipp_cmd_opt(&c, "-inf", "%s", csv);
	sipp_cmd_opt(&c, "-m", "%u", n);
	sipp_cmd_args(&c, "-r", "1000", "-rp", "1000", "-l", "200", "-timeout",
		      "100s", "-timeout_error", "-recv_timeout", "10000", NULL);
	sipp_cmd_errors(&c, "sipp");
	pid = sipp_spawn(c.argv, dir, "sipp");
	/* Exit 0: every REGISTER got its 200 (else its screen, errors). */
	sipp_ok(&pid, 120000, dir, "sipp", sp.log);
}

Test(registrar, ten_thousand_users_register_and_survive_a_restart)
{
	size_t cap = (size_t)ALL_USERS * 200, o = 0;
	char *users = malloc(cap), name[32];
	struct ua u, t;

	cr_assert_not_null(users);
	for (unsigned i = 0; i < MD5_USERS; i++) {
		snprintf(name, sizeof(name), "md5u%u", i);
		o += (size_t)user_line(users + o, cap - o, name, "localhost",
				       "pw", false);
	}
	for (unsigned i = 0; i < SHA_USERS; i++) {
		snprintf(name, sizeof(name), "sha%u", i);
		o += (size_t)user_line(users + o, cap - o, name, "localhost",
				       "pw", true);
	}
	write_users(users);
	free(users);
	start("");
	/* 6,000 users with MD5 through SIPp, 4,000 with SHA-256. */
	sipp_register_md5(MD5_USERS);
	open_ua(&u, "127.0.0.1");
	run_jobs(JOB_REGISTER_SHA, &u, 0, SHA_USERS);
	ua_close(&u);
	/* Every one of them is bound, to its own contact. */
	open_ua(&t, TRUSTED_IP);
	run_jobs(JOB_QUERY, &t, 0, ALL_USERS);
	ua_close(&t);
	/* A clean stop writes the snapshot; the next start loads it. */
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
	proc_sipedge_cleanup(&sp);
	memset(&sp, 0, sizeof(sp));
	start("");
	open_ua(&t, TRUSTED_IP);
	run_jobs(JOB_QUERY, &t, 0, ALL_USERS);
	ua_close(&t);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

static void users_alice(void)
{
	char text[2048];
	int o = 0;

	o += user_line(text + o, sizeof(text) - (size_t)o, "alice", "localhost",
		       "secret", true);
	o += user_line(text + o, sizeof(text) - (size_t)o, "alice", "127.0.0.1",
		       "other", true);
	write_users(text);
}

Test(registrar, wrong_password_challenges_then_bans_the_pair)
{
	char req[4096], realm[256], nonce[256], line[1024];
	struct ua u;
	int n;

	users_alice();
	start("  max_auth_failures: 3\n");
	open_ua(&u, "127.0.0.1");
	for (unsigned i = 1; i <= 4; i++) {
		n = reg_text(req, sizeof(req), &u, "alice", "localhost", "wp",
			     2 * i - 1, "Contact: <sip:alice@127.0.0.1:9>\r\n",
			     NULL);
		/* Banned after the third failure: no answer at all. */
		cr_assert_eq(transact(&u, req, (size_t)n, "wp", 2 * i - 1),
			     i < 4 ? 401 : -ETIMEDOUT, "attempt %u", i);
		if (i == 4)
			break;
		cr_assert(challenge_of("SHA-256", realm, nonce, NULL));
		authz_line(line, sizeof(line), "alice", realm, "guess",
			   "SHA-256", nonce, "00000001", "sip:localhost");
		n = reg_text(req, sizeof(req), &u, "alice", "localhost", "wp",
			     2 * i, "Contact: <sip:alice@127.0.0.1:9>\r\n",
			     line);
		/* A new challenge twice, then 403 at the third failure. */
		cr_assert_eq(transact(&u, req, (size_t)n, "wp", 2 * i),
			     i < 3 ? 401 : 403, "failure %u", i);
		if (i < 3)
			cr_assert(challenge_of("SHA-256", realm, nonce, NULL));
	}
	ua_close(&u);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

Test(registrar, replayed_nonce_count_is_rejected)
{
	char req[4096], realm[256], nonce[256], line[1024];
	const char *contact = "Contact: <sip:alice@127.0.0.1:9>\r\n";
	struct ua u;
	int n;

	users_alice();
	start("");
	open_ua(&u, "127.0.0.1");
	n = reg_text(req, sizeof(req), &u, "alice", "localhost", "rp", 1,
		     contact, NULL);
	cr_assert_eq(transact(&u, req, (size_t)n, "rp", 1), 401);
	cr_assert(challenge_of("MD5", realm, nonce, NULL));
	authz_line(line, sizeof(line), "alice", realm, "secret", "MD5", nonce,
		   "00000001", "sip:localhost");
	n = reg_text(req, sizeof(req), &u, "alice", "localhost", "rp", 2,
		     contact, line);
	cr_assert_eq(transact(&u, req, (size_t)n, "rp", 2), 200);
	/* The same credentials in a new transaction: a replay. */
	n = reg_text(req, sizeof(req), &u, "alice", "localhost", "rp", 3,
		     contact, line);
	cr_assert_eq(transact(&u, req, (size_t)n, "rp", 3), 401);
	/* The next count of the same nonce is fine. */
	authz_line(line, sizeof(line), "alice", realm, "secret", "MD5", nonce,
		   "00000002", "sip:localhost");
	n = reg_text(req, sizeof(req), &u, "alice", "localhost", "rp", 4,
		     contact, line);
	cr_assert_eq(transact(&u, req, (size_t)n, "rp", 4), 200);
	ua_close(&u);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

Test(registrar, expired_nonce_is_stale_and_the_retry_succeeds)
{
	char req[4096], realm[256], nonce[256], line[1024], nc[16];
	const char *contact = "Contact: <sip:alice@127.0.0.1:9>\r\n";
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	unsigned cseq = 1, count = 0;
	bool stale = false;
	long t0;
	struct ua u;
	int n, st;

	users_alice();
	start("  nonce_ttl_s: 1\n");
	open_ua(&u, "127.0.0.1");
	n = reg_text(req, sizeof(req), &u, "alice", "localhost", "st", cseq,
		     contact, NULL);
	cr_assert_eq(transact(&u, req, (size_t)n, "st", cseq), 401);
	cr_assert(challenge_of("SHA-256", realm, nonce, &stale));
	cr_assert(!stale);
	/* Use the nonce, one count after the other, until sipedge calls it
	 * stale: each answer is 200 while it is young (nonce_ttl_s: 1),
	 * then 401 stale=true. No fixed sleep decides; the 20 s bound is
	 * a watchdog against a nonce that never ages. */
	t0 = ms_now();
	for (;;) {
		cr_assert_lt(ms_now() - t0, 20000,
			     "the nonce never became stale");
		snprintf(nc, sizeof(nc), "%08x", ++count);
		authz_line(line, sizeof(line), "alice", realm, "secret",
			   "SHA-256", nonce, nc, "sip:localhost");
		cseq++;
		n = reg_text(req, sizeof(req), &u, "alice", "localhost", "st",
			     cseq, contact, line);
		st = transact(&u, req, (size_t)n, "st", cseq);
		if (st == 401)
			break;
		cr_assert_eq(st, 200, "a young nonce, count %s", nc);
		nanosleep(&ts, NULL);
	}
	cr_assert(challenge_of("SHA-256", realm, nonce, &stale));
	cr_assert(stale, "no stale=true after the nonce aged");
	/* The retry with the fresh nonce succeeds. Should the machine be
	 * so slow that this one ages too before it is used, sipedge says
	 * stale again: take the next (bounded). */
	for (unsigned i = 0;; i++) {
		authz_line(line, sizeof(line), "alice", realm, "secret",
			   "SHA-256", nonce, "00000001", "sip:localhost");
		cseq++;
		n = reg_text(req, sizeof(req), &u, "alice", "localhost", "st",
			     cseq, contact, line);
		st = transact(&u, req, (size_t)n, "st", cseq);
		if (st != 401 || i == 5)
			break;
		cr_assert(challenge_of("SHA-256", realm, nonce, &stale));
		cr_assert(stale, "a fresh nonce was refused, not stale");
	}
	cr_assert_eq(st, 200);
	ua_close(&u);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

Test(registrar, two_domains_with_one_user_name_stay_apart)
{
	unsigned cseq = 1;
	struct ua u, t;
	char contact[128];

	users_alice();
	start("");
	open_ua(&u, "127.0.0.1");
	open_ua(&t, TRUSTED_IP);
	/* alice@localhost's password is not alice@127.0.0.1's. */
	cr_assert_eq(
	    register_user(&u, "alice", "127.0.0.1", "secret", "SHA-256",
			  "Contact: <sip:a2@127.0.0.1:9>\r\n", "d2", &cseq),
	    401);
	cseq = 1;
	cr_assert_eq(register_user(&u, "alice", "localhost", "secret", "MD5",
				   "Contact: <sip:a1@127.0.0.1:9>\r\n", "d1",
				   &cseq),
		     200);
	cseq = 10;
	snprintf(contact, sizeof(contact),
		 "Contact: <sip:a2@127.0.0.1:9>, <sip:a3@127.0.0.1:9>\r\n");
	cr_assert_eq(register_user(&u, "alice", "127.0.0.1", "other", "SHA-256",
				   contact, "d3", &cseq),
		     200);
	cr_assert_eq(query(&t, "alice", "localhost"), 1);
	cr_assert_eq(query(&t, "alice", "127.0.0.1"), 2);
	ua_close(&u);
	ua_close(&t);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* Send REGISTER lines from the trusted address; the status. */
static int trusted_register(struct ua *t, const char *user, const char *callid,
			    unsigned cseq, const char *contact,
			    const char *extra)
{
	char req[4096];
	int n = reg_text(req, sizeof(req), t, user, "localhost", callid, cseq,
			 contact, extra);

	return transact(t, req, (size_t)n, callid, cseq);
}

Test(registrar, unregister_star_423_and_expiry)
{
	char req[2048];
	struct ua t;
	long start_ms;
	int n, left = -1;
	char users[256];

	/* dave is a user (a call to him without a binding is 480; to a
	 * user the file does not list, 404); carol is not needed there:
	 * she registers from the trusted address. */
	user_line(users, sizeof(users), "dave", "localhost", "pw", false);
	write_users(users);
	start("  min_expires_s: 2\n");
	open_ua(&t, TRUSTED_IP);
	/* 423 with Min-Expires below the minimum. */
	cr_assert_eq(trusted_register(&t, "carol", "c1", 1,
				      "Contact: <sip:c@127.0.0.1:9>"
				      ";expires=1\r\n",
				      NULL),
		     423);
	cr_assert_not_null(sipmsg_hdr(&rx->m, HDR_MIN_EXPIRES));
	cr_assert(slice_eq(sipmsg_hdr(&rx->m, HDR_MIN_EXPIRES)->value,
			   SLICE_LIT("2")));
	/* Register, then unregister with expires=0. */
	cr_assert_eq(trusted_register(&t, "carol", "c1", 2,
				      "Contact: <sip:c@127.0.0.1:9>\r\n",
				      "Expires: 60\r\n"),
		     200);
	cr_assert_not_null(sipmsg_hdr(&rx->m, HDR_DATE));
	cr_assert_eq(query(&t, "carol", "localhost"), 1);
	cr_assert_eq(trusted_register(&t, "carol", "c1", 3,
				      "Contact: <sip:c@127.0.0.1:9>"
				      ";expires=0\r\n",
				      NULL),
		     200);
	cr_assert_eq(query(&t, "carol", "localhost"), 0);
	/* Two bindings, then "*" removes both. */
	cr_assert_eq(trusted_register(&t, "carol", "c1", 4,
				      "Contact: <sip:c@127.0.0.1:9>, "
				      "<sip:c@127.0.0.1:10>\r\n",
				      NULL),
		     200);
	cr_assert_eq(query(&t, "carol", "localhost"), 2);
	cr_assert_eq(trusted_register(&t, "carol", "c1", 5, "Contact: *\r\n",
				      "Expires: 0\r\n"),
		     200);
	cr_assert_eq(query(&t, "carol", "localhost"), 0);
	/* An out-of-order CSeq for the same Call-ID fails. */
	cr_assert_eq(trusted_register(&t, "carol", "c1", 5,
				      "Contact: <sip:c@127.0.0.1:9>\r\n", NULL),
		     200); /* no binding left to compare with */
	cr_assert_eq(trusted_register(&t, "carol", "c1", 4,
				      "Contact: <sip:c@127.0.0.1:9>\r\n", NULL),
		     500);
	cr_assert_eq(trusted_register(&t, "carol", "c1", 6, "Contact: *\r\n",
				      "Expires: 0\r\n"),
		     200);
	/* A short registration runs out by itself. */
	cr_assert_eq(trusted_register(&t, "dave", "c2", 1,
				      "Contact: <sip:d@127.0.0.1:9>"
				      ";expires=2\r\n",
				      NULL),
		     200);
	cr_assert_eq(query(&t, "dave", "localhost"), 1);
	start_ms = ms_now();
	/* Poll until it is gone (it must be within a few seconds). */
	while (ms_now() - start_ms < 10000) {
		struct timespec ts = { 0, 200 * 1000 * 1000 };

		left = query(&t, "dave", "localhost");
		if (left == 0)
			break;
		nanosleep(&ts, NULL);
	}
	cr_assert_eq(left, 0, "the 2 s binding is still there");
	/* And a call to it now: 480 Temporarily Unavailable. */
	n = snprintf(req, sizeof(req),
		     "INVITE sip:dave@localhost SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP %s:%u;rport;branch=z9hG4bKinv%u\r\n"
		     "Max-Forwards: 70\r\n"
		     "From: <sip:x@%s>;tag=i1\r\n"
		     "To: <sip:dave@localhost>\r\n"
		     "Call-ID: inv-dave\r\n"
		     "CSeq: 1 INVITE\r\n"
		     "Contact: <sip:x@%s:%u>\r\n"
		     "Content-Length: 0\r\n\r\n",
		     t.ip, t.port, (unsigned)getpid(), t.ip, t.ip, t.port);
	cr_assert_eq(transact(&t, req, (size_t)n, "inv-dave", 1), 480);
	ua_close(&t);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

Test(registrar, call_to_a_registered_user_reaches_its_uas)
{
	char text[512], contact[128];
	struct sipp_cmd c;
	uint16_t up, cp;
	unsigned cseq = 1;
	pid_t uas, uac;
	struct ua u;

	user_line(text, sizeof(text), "callee", "127.0.0.1", "pw", true);
	write_users(text);
	start("");
	cr_assert_eq(proc_free_port("127.0.0.1", &up), 0);
	/* The callee registers (SHA-256 digest) its SIPp UAS as contact. */
	open_ua(&u, "127.0.0.1");
	snprintf(contact, sizeof(contact),
		 "Contact: <sip:callee@127.0.0.1:%u>\r\n", up);
	cr_assert_eq(register_user(&u, "callee", "127.0.0.1", "pw", "SHA-256",
				   contact, "callee-reg", &cseq),
		     200);
	ua_close(&u);
	/* SIPp's built-in callee (-sn: no scenario file). */
	memset(&c, 0, sizeof(c));
	sipp_cmd_args(&c, "sipp", "-sn", "uas", "-i", "127.0.0.1", NULL);
	sipp_cmd_opt(&c, "-p", "%u", up);
	sipp_cmd_args(&c, "-m", "1", "-t", "u1", "-nostdin", "-timeout", "50s",
		      "-timeout_error", NULL);
	uas = sipp_spawn(c.argv, dir, "uas");
	/* A caller from the trusted address dials sip:callee@127.0.0.1. */
	cr_assert_eq(proc_free_port(TRUSTED_IP, &cp), 0);
	memset(&c, 0, sizeof(c));
	sipp_cmd_arg(&c, "sipp");
	sipp_cmd_arg(&c, "127.0.0.1:%u", sp.port);
	sipp_cmd_args(&c, "-sn", "uac", "-s", "callee", "-i", TRUSTED_IP, NULL);
	sipp_cmd_opt(&c, "-p", "%u", cp);
	sipp_cmd_args(&c, "-m", "1", "-t", "u1", "-nostdin", "-timeout", "40s",
		      "-timeout_error", "-recv_timeout", "10000", NULL);
	uac = sipp_spawn(c.argv, dir, "uac");
	sipp_done(uac, 60000, dir, "uac", &screen);
	sipp_done(uas, 60000, dir, "uas", &screen);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

Test(registrar, sighup_reloads_the_users_file)
{
	char text[1024];
	unsigned cseq = 1;
	struct ua u;

	user_line(text, sizeof(text), "alice", "localhost", "secret", true);
	write_users(text);
	start("");
	open_ua(&u, "127.0.0.1");
	cr_assert_eq(register_user(&u, "erin", "localhost", "new", "SHA-256",
				   "Contact: <sip:e@127.0.0.1:9>\r\n", "h1",
				   &cseq),
		     401);
	user_line(text, sizeof(text), "erin", "localhost", "new", true);
	write_users(text);
	cr_assert_eq(kill(sp.pid, SIGHUP), 0);
	/* The reload runs on sipedge's control thread and logs when the new
	 * table is in use (registrar/users.c users_reload()). */
	cr_assert_eq(proc_sipedge_wait_log(&sp, " reloaded: 1 users", 1, 20000),
		     0, "%s", sp.why);
	cr_assert_eq(register_user(&u, "erin", "localhost", "new", "SHA-256",
				   "Contact: <sip:e@127.0.0.1:9>\r\n", "h1",
				   &cseq),
		     200, "erin was not accepted after the reload");
	/* alice is gone with the old file. */
	cseq = 1;
	cr_assert_eq(
	    register_user(&u, "alice", "localhost", "secret", "SHA-256",
			  "Contact: <sip:a@127.0.0.1:9>\r\n", "h2", &cseq),
	    401);
	/* A broken file keeps the table in use. */
	write_users("broken\n");
	cr_assert_eq(kill(sp.pid, SIGHUP), 0);
	cr_assert_eq(
	    proc_sipedge_wait_log(&sp, "users: reload failed", 1, 20000), 0,
	    "%s", sp.why);
	cseq = 100;
	cr_assert_eq(register_user(&u, "erin", "localhost", "new", "SHA-256",
				   "Contact: <sip:e@127.0.0.1:9>\r\n", "h1",
				   &cseq),
		     200);
	ua_close(&u);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}
