/* tests/integration/test_intercom.c - intercom and paging feature codes end
 * to end: the real sipedge, phones of several vendors and callers as
 * hand-made UDP UAs that check the headers they receive */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/sip/hdr.h"
#include "proxy/sip/msg.h"
#include "tests/common/proc.h"
#include "tests/common/sipcli.h"
#include "tests/common/ua.h"
#include "tests/common/teardown.h"
#include "tests/common/uahash.h"

#define MAX_UAS	  10
#define UNTRUSTED "127.0.0.2"
/* What a hostile caller adds to open a microphone. */
#define HOSTILE                                                         \
	"Call-Info: <sip:evil.example>;answer-after=0\r\n"              \
	"Alert-Info: <http://evil.example/x>;info=alert-autoanswer\r\n" \
	"Alert-Info: Ring-Answer\r\n"                                   \
	"Answer-Mode: Auto\r\n"                                         \
	"Priv-Answer-Mode: Auto;require\r\n"

static struct proc_sipedge sp;
static char dir[PROC_PATH_MAX / 2];
static struct sipcli_msg *rx, *tmp;

static struct ua uas[MAX_UAS];
static unsigned nuas;

static void setup(void)
{
	memset(&sp, 0, sizeof(sp));
	memset(uas, 0, sizeof(uas));
	nuas = 0;
	dir[0] = '\0';
	rx = calloc(1, sizeof(*rx));
	tmp = calloc(1, sizeof(*tmp));
	cr_assert(rx && tmp);
}

static void teardown(void)
{
	for (unsigned i = 0; i < nuas; i++)
		ua_close(&uas[i]);
	free(rx);
	free(tmp);
	teardown_sipedge(&sp);
	if (dir[0])
		proc_rmtree(dir);
}

TestSuite(intercom, .init = setup, .fini = teardown, .timeout = 60);

/* One shard: what it sends to one UA arrives in order (see
 * ua_nothing_for()). */
static void start(const char *yaml)
{
	cr_assert_eq(proc_sipedge_start(&sp, "127.0.0.1", 1, yaml), 0, "%s",
		     sp.why);
}

/* A UA of @p user in @p domain on address @p ip of 127/8. */
static struct ua *new_ua(const char *user, const char *domain, const char *ip)
{
	struct ua *u;

	cr_assert_lt(nuas, MAX_UAS);
	u = &uas[nuas++];
	ua_open(u, user, domain, ip, sp.port);
	return u;
}

/* Register @p u (from a trusted address) with User-Agent @p agent. */
static void reg(struct ua *u, const char *agent)
{
	cr_assert_eq(ua_register(u, agent, 3600, rx), 200, "%s", rx->buf);
}

/* A phone of @p user in @p domain, registered with @p agent. */
static struct ua *phone(const char *user, const char *domain, const char *agent)
{
	struct ua *u = new_ua(user, domain, "127.0.0.1");

	reg(u, agent);
	return u;
}

/* An INVITE the caller sent. */
struct call {
	struct ua *from;
	char cid[64];
	char ruri[256];
	unsigned n, cseq;
};

/* INVITE @p ruri from @p u with header lines @p extra. */
static void invite(struct call *c, struct ua *u, const char *ruri,
		   const char *extra, unsigned cseq)
{
	char req[4096];
	int n;

	if (cseq == 1) {
		memset(c, 0, sizeof(*c));
		c->from = u;
		snprintf(c->cid, sizeof(c->cid), "call-%s-%u-%u", u->user,
			 u->port, ++u->seq);
		snprintf(c->ruri, sizeof(c->ruri), "%s", ruri);
	}
	c->n = ++u->seq;
	c->cseq = cseq;
	n = snprintf(req, sizeof(req),
		     "INVITE %s SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP %s:%u;rport;branch=z9hG4bKi%u\r\n"
		     "Max-Forwards: 70\r\n"
		     "From: <sip:%s@%s>;tag=f%s\r\n"
		     "To: <%s>\r\n"
		     "Call-ID: %s\r\nCSeq: %u INVITE\r\n"
		     "Contact: <%s>\r\n%s"
		     "Content-Length: 0\r\n\r\n",
		     ruri, u->ip, u->port, c->n, u->user, u->domain, c->cid,
		     ruri, c->cid, cseq, u->contact, extra ? extra : "");
	cr_assert_lt(n, (int)sizeof(req));
	ua_send(u, req, (size_t)n);
}

/* The caller's final answer (in rx); a failure is ACKed hop by hop. */
static unsigned final(struct call *c)
{
	char req[2048], to[512];
	const struct siphdr *h;
	unsigned st = ua_expect_final(c->from, c->cid, "INVITE", rx);
	int n;

	if (st < 300)
		return st;
	h = sipmsg_hdr(&rx->m, HDR_TO);
	cr_assert_not_null(h);
	slice_cstr_copy(h->value, to, sizeof(to));
	n = snprintf(req, sizeof(req),
		     "ACK %s SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP %s:%u;rport;branch=z9hG4bKi%u\r\n"
		     "Max-Forwards: 70\r\n"
		     "From: <sip:%s@%s>;tag=f%s\r\nTo: %s\r\n"
		     "Call-ID: %s\r\nCSeq: %u ACK\r\n"
		     "Content-Length: 0\r\n\r\n",
		     c->ruri, c->from->ip, c->from->port, c->n, c->from->user,
		     c->from->domain, c->cid, to, c->cid, c->cseq);
	ua_send(c->from, req, (size_t)n);
	return st;
}

/* Every value of header @p id in rx, ", "-joined, into @p buf. */
static char *values(enum hdr_id id, char *buf, size_t size)
{
	size_t o = 0;

	buf[0] = '\0';
	for (const struct siphdr *h = sipmsg_hdr(&rx->m, id); h;
	     h = sipmsg_hdr_next(&rx->m, h))
		o +=
		    (size_t)snprintf(buf + o, size - o, "%s%.*s", o ? ", " : "",
				     (int)h->value.len, h->value.p);
	return buf;
}

/* What a phone must find in the INVITE it got (rx). */
struct want {
	const char *call_info;	 /* exact values, "" for none */
	const char *alert_info;	 /* exact values, "" for none */
	const char *answer_mode; /* exact value, "" for none */
	const char *ruri_params; /* after the contact URI, "" for none */
};

static void check_marking(const struct ua *u, const struct want *w)
{
	char got[1024], want_ruri[256];

	cr_assert_str_eq(values(HDR_CALL_INFO, got, sizeof(got)), w->call_info,
			 "%s Call-Info:\n%s", u->user, rx->buf);
	cr_assert_str_eq(values(HDR_ALERT_INFO, got, sizeof(got)),
			 w->alert_info, "%s Alert-Info:\n%s", u->user, rx->buf);
	cr_assert_str_eq(values(HDR_ANSWER_MODE, got, sizeof(got)),
			 w->answer_mode, "%s Answer-Mode:\n%s", u->user,
			 rx->buf);
	cr_assert_str_empty(values(HDR_PRIV_ANSWER_MODE, got, sizeof(got)),
			    "%s", rx->buf);
	snprintf(want_ruri, sizeof(want_ruri), "%s%s", u->contact,
		 w->ruri_params);
	cr_assert_str_eq(slice_cstr_copy(rx->m.ruri, got, sizeof(got)),
			 want_ruri);
}

static const char intercom_yaml[] =
    "features:\n"
    "  intercom:\n"
    "    - domain: localhost\n"
    "      allow: [boss]\n"
    "      profiles:\n"
    "        - user_agent: \"Yealink SIP-T46\"\n"
    "          profile: alertinfo-answerafter\n"
    "        - user_agent: \"AutoAnswerPhone\"\n"
    "          profile: answer-mode\n"
    "        - user_agent: \"IntercomUriPhone\"\n"
    "          profile: uri-intercom\n"
    "      groups:\n"
    "        - number: \"9\"\n"
    "          members: [g1, p1, m1, boss]\n";

#define CALLINFO "<sip:localhost>;answer-after=0"

Test(intercom, each_profile_marks_by_the_registered_user_agent)
{
	static const struct {
		const char *user, *agent;
		struct want w;
	} phones[] = {
		{ "g1",
		  "Grandstream GXP2170 1.0.11.3",
		  { CALLINFO, "", "", "" } },
		{ "y1",
		  "Yealink SIP-T46S 66.86.0.15",
		  { "", "answer-after=0", "", "" } },
		{ "y2",
		  "Yealink SIP-T54W 96.85.0.5",
		  { CALLINFO, "", "", "" } },
		{ "p1",
		  "PolycomVVX-VVX_410-UA/5.9.5.0614",
		  { "", "Ring-Answer", "", "" } },
		{ "a1",
		  "Aastra 6757i/3.3.1.4322",
		  { "", "alert-autoanswer", "", "" } },
		{ "m1", "AutoAnswerPhone/1.0", { "", "", "Auto", "" } },
		{ "u1",
		  "IntercomUriPhone/2.1",
		  { "", "", "", ";intercom=true" } },
		{ "x1", "SomeSoftphone/4.2", { CALLINFO, "", "", "" } },
	};
	struct ua *boss, *dev;
	char ruri[64];
	struct call c;

	start(intercom_yaml);
	boss = new_ua("boss", "localhost", "127.0.0.1");
	for (size_t i = 0; i < sizeof(phones) / sizeof(phones[0]); i++) {
		dev = phone(phones[i].user, "localhost", phones[i].agent);
		snprintf(ruri, sizeof(ruri), "sip:*6%s@localhost",
			 phones[i].user);
		/* What the caller adds itself never reaches the phone. */
		invite(&c, boss, ruri, HOSTILE, 1);
		ua_expect_req(dev, "INVITE", c.cid, rx);
		check_marking(dev, &phones[i].w);
		ua_respond(dev, rx, 486, "Busy", NULL);
		cr_assert_eq(final(&c), 486);
		nuas--;
		ua_close(dev);
	}
}

Test(intercom, caller_outside_the_acl_gets_403)
{
	struct ua *eve, *dev;
	struct call c;

	start(intercom_yaml);
	dev = phone("g1", "localhost", "Grandstream GXP2170");
	eve = new_ua("eve", "localhost", "127.0.0.1");
	invite(&c, eve, "sip:*6g1@localhost", NULL, 1);
	cr_assert_eq(final(&c), 403);
	cr_assert(slice_eq(rx->m.reason, SLICE_LIT("Paging Not Allowed")), "%s",
		  rx->buf);
	ua_nothing_for(dev, c.cid, tmp);
	/* The ACL comes first, before anything that tells who is there. */
	invite(&c, eve, "sip:*6nobody@localhost", NULL, 1);
	cr_assert_eq(final(&c), 403);
	/* The code alone names nobody. */
	invite(&c, new_ua("boss", "localhost", "127.0.0.1"), "sip:*6@localhost",
	       NULL, 1);
	cr_assert_eq(final(&c), 484);
}

Test(intercom, ordinary_call_loses_auto_answer_markings)
{
	static const char kept[] =
	    "Call-Info: <http://pics.example/eve.jpg>;purpose=icon\r\n"
	    "Alert-Info: <http://tones.example/ring2.wav>\r\n"
	    "Answer-Mode: Manual\r\n";
	char ruri[128], extra[1024], got[1024];
	struct ua *eve, *dev;
	struct call c;

	start(intercom_yaml);
	dev = phone("g1", "localhost", "Grandstream GXP2170");
	eve = new_ua("eve", "localhost", "127.0.0.1");
	snprintf(extra, sizeof(extra), "%s%s", HOSTILE, kept);
	invite(&c, eve, "sip:g1@localhost", extra, 1);
	ua_expect_req(dev, "INVITE", c.cid, rx);
	cr_assert_str_eq(values(HDR_CALL_INFO, got, sizeof(got)),
			 "<http://pics.example/eve.jpg>;purpose=icon");
	cr_assert_str_eq(values(HDR_ALERT_INFO, got, sizeof(got)),
			 "<http://tones.example/ring2.wav>");
	cr_assert_str_eq(values(HDR_ANSWER_MODE, got, sizeof(got)), "Manual");
	cr_assert_str_empty(values(HDR_PRIV_ANSWER_MODE, got, sizeof(got)));
	ua_respond(dev, rx, 486, "Busy", NULL);
	cr_assert_eq(final(&c), 486);
	/* Even the one who may page cannot do it by hand: one Call-Info
	 * that mixes an icon and answer-after keeps only the icon; an
	 * R-URI sent on as it is loses ;intercom. */
	snprintf(ruri, sizeof(ruri), "sip:g1@127.0.0.1:%u;intercom=true",
		 dev->port);
	invite(&c, new_ua("boss", "localhost", "127.0.0.1"), ruri,
	       "Call-Info: <http://pics.example/b.jpg>;purpose=icon, "
	       "<sip:localhost>;answer-after=0\r\n",
	       1);
	ua_expect_req(dev, "INVITE", c.cid, rx);
	cr_assert_str_eq(values(HDR_CALL_INFO, got, sizeof(got)),
			 "<http://pics.example/b.jpg>;purpose=icon");
	cr_assert_str_eq(slice_cstr_copy(rx->m.ruri, got, sizeof(got)),
			 dev->contact);
	ua_respond(dev, rx, 486, "Busy", NULL);
	cr_assert_eq(final(&c), 486);
}

Test(intercom, paging_group_reaches_every_member_with_its_marking)
{
	struct ua *boss, *g1, *p1, *m1, *y2;
	struct call c;

	start(intercom_yaml);
	g1 = phone("g1", "localhost", "Grandstream GXP2170");
	p1 = phone("p1", "localhost", "PolycomVVX-VVX_410-UA/5.9");
	m1 = phone("m1", "localhost", "AutoAnswerPhone/1.0");
	y2 = phone("y2", "localhost", "Yealink SIP-T54W");
	/* The pager is a member too: everyone but the pager. */
	boss = phone("boss", "localhost", "Yealink SIP-T54W");
	invite(&c, boss, "sip:*69@localhost", HOSTILE, 1);
	ua_expect_req(g1, "INVITE", c.cid, rx);
	check_marking(g1, &(struct want){ CALLINFO, "", "", "" });
	ua_respond(g1, rx, 486, "Busy", NULL);
	ua_expect_req(p1, "INVITE", c.cid, rx);
	check_marking(p1, &(struct want){ "", "Ring-Answer", "", "" });
	ua_respond(p1, rx, 486, "Busy", NULL);
	ua_expect_req(m1, "INVITE", c.cid, rx);
	check_marking(m1, &(struct want){ "", "", "Auto", "" });
	ua_respond(m1, rx, 486, "Busy", NULL);
	cr_assert_eq(final(&c), 486);
	ua_nothing_for(y2, c.cid, tmp);
	ua_nothing_for(boss, c.cid, tmp);
}

/* Digest (MD5) for the users file and the caller. */

/* "user@realm md5:HA1" CRLF, password "pw". */
static size_t user_line(char *buf, size_t size, const char *user,
			const char *realm)
{
	const char *v[3] = { user, realm, "pw" };
	char ha1[33];

	uahash_hex("MD5", v, 3, ha1);
	return (size_t)snprintf(buf, size, "%s@%s md5:%s\n", user, realm, ha1);
}

/* A page by @p u to @p ruri: the 407, then again with credentials.
 * Returns the final status (the INVITE's answer in rx). */
static unsigned page_with_auth(struct call *c, struct ua *u, const char *ruri)
{
	const char *a1[3], *a2[2], *r[6];
	char realm[64], nonce[128], ha1[33], ha2[33], resp[33], line[1024];
	char v[1024];
	const struct siphdr *h;
	const char *p, *e;

	invite(c, u, ruri, NULL, 1);
	if (final(c) != 407)
		return rx->m.status;
	h = sipmsg_hdr(&rx->m, HDR_PROXY_AUTHENTICATE);
	for (; h; h = sipmsg_hdr_next(&rx->m, h)) {
		slice_cstr_copy(h->value, v, sizeof(v));
		if (strstr(v, "algorithm=MD5"))
			break;
	}
	cr_assert_not_null(h, "no MD5 challenge:\n%s", rx->buf);
	p = strstr(v, "realm=\"");
	e = p ? strchr(p + 7, '"') : NULL;
	cr_assert(p && e);
	snprintf(realm, sizeof(realm), "%.*s", (int)(e - p - 7), p + 7);
	p = strstr(v, "nonce=\"");
	e = p ? strchr(p + 7, '"') : NULL;
	cr_assert(p && e);
	snprintf(nonce, sizeof(nonce), "%.*s", (int)(e - p - 7), p + 7);
	a1[0] = u->user;
	a1[1] = realm;
	a1[2] = "pw";
	uahash_hex("MD5", a1, 3, ha1);
	a2[0] = "INVITE";
	a2[1] = ruri;
	uahash_hex("MD5", a2, 2, ha2);
	r[0] = ha1;
	r[1] = nonce;
	r[2] = "00000001";
	r[3] = "c0ffee";
	r[4] = "auth";
	r[5] = ha2;
	uahash_hex("MD5", r, 6, resp);
	snprintf(line, sizeof(line),
		 "Proxy-Authorization: Digest username=\"%s\", "
		 "realm=\"%s\", nonce=\"%s\", uri=\"%s\", response=\"%s\", "
		 "algorithm=MD5, cnonce=\"c0ffee\", qop=auth, nc=00000001\r\n",
		 u->user, realm, nonce, ruri, resp);
	invite(c, u, ruri, line, 2);
	return 0;
}

Test(intercom, authenticated_users_of_the_domain_may_page)
{
	char users[1024], yaml[2048];
	struct ua *alice, *eve, *carol, *mallory, *d1, *d2;
	size_t o = 0;
	struct call c;

	cr_assert_eq(proc_tmpdir(dir, sizeof(dir)), 0);
	o += user_line(users + o, sizeof(users) - o, "alice", "localhost");
	o += user_line(users + o, sizeof(users) - o, "eve", "localhost");
	o += user_line(users + o, sizeof(users) - o, "carol", "127.0.0.1");
	cr_assert_eq(proc_write_file(dir, "users", users, NULL, 0), 0);
	/* Phones register from the trusted 127.0.0.1; callers come from
	 * 127.0.0.2 and must authenticate. localhost lists who may page;
	 * 127.0.0.1 lets any of its authenticated users. */
	snprintf(yaml, sizeof(yaml),
		 "registrar:\n"
		 "  trusted: [\"127.0.0.1/32\"]\n"
		 "  users_file: \"%s/users\"\n"
		 "features:\n"
		 "  intercom:\n"
		 "    - domain: localhost\n"
		 "      allow: [alice]\n",
		 dir);
	start(yaml);
	d1 = phone("d1", "localhost", "Grandstream GXP2170");
	d2 = phone("d2", "127.0.0.1", "PolycomVVX-VVX_410-UA/5.9");
	alice = new_ua("alice", "localhost", UNTRUSTED);
	eve = new_ua("eve", "localhost", UNTRUSTED);
	carol = new_ua("carol", "127.0.0.1", UNTRUSTED);
	mallory = new_ua("mallory", "evil.example", UNTRUSTED);

	cr_assert_eq(page_with_auth(&c, alice, "sip:*6d1@localhost"), 0, "%s",
		     rx->buf);
	ua_expect_req(d1, "INVITE", c.cid, rx);
	check_marking(d1, &(struct want){ CALLINFO, "", "", "" });
	ua_respond(d1, rx, 486, "Busy", NULL);
	cr_assert_eq(final(&c), 486);

	cr_assert_eq(page_with_auth(&c, eve, "sip:*6d1@localhost"), 0, "%s",
		     rx->buf);
	cr_assert_eq(final(&c), 403);
	cr_assert(slice_eq(rx->m.reason, SLICE_LIT("Paging Not Allowed")));
	ua_nothing_for(d1, c.cid, tmp);

	cr_assert_eq(page_with_auth(&c, carol, "sip:*6d2@127.0.0.1"), 0, "%s",
		     rx->buf);
	ua_expect_req(d2, "INVITE", c.cid, rx);
	check_marking(d2, &(struct want){ "", "Ring-Answer", "", "" });
	ua_respond(d2, rx, 486, "Busy", NULL);
	cr_assert_eq(final(&c), 486);

	/* Not a user of the domain: nothing to authenticate, no page. */
	invite(&c, mallory, "sip:*6d2@127.0.0.1", NULL, 1);
	cr_assert_eq(final(&c), 403);
	cr_assert(slice_eq(rx->m.reason, SLICE_LIT("Paging Not Allowed")));
	ua_nothing_for(d2, c.cid, tmp);
}
