/* tests/unit/features/test_intercom.c - intercom: vendor profiles, markings,
 * auto-answer clean-up, who may page, targets of a page */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "features/intercom.h"
#include "proxy/base/arena.h"
#include "proxy/base/log.h"
#include "proxy/base/obj.h"
#include "proxy/core/conf.h"
#include "proxy/hook.h"
#include "proxy/route.h"
#include "proxy/sip/edit.h"
#include "proxy/sip/msg.h"
#include "registrar/reg_conf.h"
#include "store/loc.h"
#include "store/rcu.h"
#include "tests/unit/sections.h"
#include "tests/common/teardown.h"

#define NOW	 1700000000
#define MAX_HDRS 64

static struct conf *cf;
static struct arena *ar;
static char text[8192];
static struct siphdr harr[MAX_HDRS];
static struct sipmsg msg;
static struct sockaddr_in trusted_src, outside_src;

static const char yaml[] = "domains: [example.com, other.example]\n"
			   "registrar:\n"
			   "  trusted: [\"192.0.2.0/24\"]\n"
			   "features:\n"
			   "  intercom:\n"
			   "    - domain: example.com\n"
			   "      allow: [boss, alice]\n"
			   "      profiles:\n"
			   "        - user_agent: \"Yealink SIP-T46\"\n"
			   "          profile: alertinfo-answerafter\n"
			   "        - user_agent: \"polycom\"\n"
			   "          profile: answer-mode\n"
			   "      groups:\n"
			   "        - number: \"7\"\n"
			   "          members: [bob, carol, boss]\n"
			   "    - domain: other.example\n"
			   "      enabled: false\n";

/* main.c gives intercom the registrar's policy; so does the test. */
static unsigned auth_methods(const struct conf *c)
{
	return reg_conf(c)->auth_methods;
}

static void setup(void)
{
	log_set_level(LOG__COUNT);
	urcu_memb_register_thread();
	intercom_set_policy(reg_conf_is_trusted, auth_methods);
	cf = sections_load(yaml);
	cr_assert_eq(loc_init(), 0);
	ar = arena_new(16384);
	cr_assert_not_null(ar);
	trusted_src.sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.50", &trusted_src.sin_addr);
	outside_src.sin_family = AF_INET;
	inet_pton(AF_INET, "198.51.100.7", &outside_src.sin_addr);
}

static void teardown(void)
{
	arena_free(ar);
	loc_fini();
	conf_free(cf);
	urcu_memb_unregister_thread();
	teardown_check_objs(0);
}

TestSuite(intercom, .init = setup, .fini = teardown, .timeout = 30);

/* Parse @p method @p ruri from @p from with header lines @p lines. */
static const struct sipmsg *req(const char *method, const char *ruri,
				const char *from, const char *lines)
{
	int n = snprintf(text, sizeof(text),
			 "%s %s SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP 192.0.2.50:5060;branch=z9hG4bK1\r\n"
			 "Max-Forwards: 70\r\n"
			 "From: <sip:%s>;tag=f1\r\n"
			 "To: <%s>\r\n"
			 "Call-ID: c1\r\nCSeq: 1 %s\r\n"
			 "%s"
			 "Content-Length: 0\r\n\r\n",
			 method, ruri, from, ruri, method, lines ? lines : "");

	cr_assert_lt(n, (int)sizeof(text));
	cr_assert_gt(sipmsg_parse(&msg, text, (size_t)n, harr, MAX_HDRS, 0), 0,
		     "%s", text);
	return &msg;
}

static const struct conf_intercom *dom(const char *d)
{
	return intercom_domain(cf, slice_cstr(d));
}

Test(intercom, domain_settings)
{
	static const char plain[] = "domains: [example.com]\n";
	const struct conf_intercom *d;
	struct conf *c2;
	char err[256];

	d = dom("EXAMPLE.com");
	cr_assert_not_null(d);
	cr_assert_eq(d->nallow, 2);
	cr_assert_null(dom("other.example"), "disabled");
	cr_assert_null(dom("not-served.example"));
	cr_assert_eq(conf_load_mem("p.yaml", plain, sizeof(plain) - 1, &c2, err,
				   sizeof(err)),
		     0);
	/* No entry: on, with the defaults. */
	d = intercom_domain(c2, SLICE_LIT("example.com"));
	cr_assert_not_null(d);
	cr_assert_str_eq(d->code, "*6");
	cr_assert_eq(d->nallow, 0);
	cr_assert_eq(d->default_profile, CONF_AA_CALLINFO);
	conf_free(c2);
}

Test(intercom, profile_from_user_agent)
{
	static const struct {
		const char *ua;
		enum conf_aa want;
	} cases[] = {
		/* Configured rules first, without regard to case. */
		{ "Yealink SIP-T46S 66.86.0.15", CONF_AA_ALERT_ANSWERAFTER },
		{ "yealink sip-t46u", CONF_AA_ALERT_ANSWERAFTER },
		{ "PolycomVVX-VVX_410-UA/5.9", CONF_AA_ANSWER_MODE },
		/* Then the built-in vendors. */
		{ "Yealink SIP-T54W 96.85", CONF_AA_CALLINFO },
		{ "Grandstream GXP2170 1.0", CONF_AA_CALLINFO },
		{ "Aastra 6757i/3.3.1", CONF_AA_ALERT_AUTOANSWER },
		{ "Mitel 6867i/5.1", CONF_AA_ALERT_AUTOANSWER },
		{ "snom760/10.1", CONF_AA_CALLINFO },
		/* Then the domain's default. */
		{ "Linphone/5.0", CONF_AA_CALLINFO },
		{ "", CONF_AA_CALLINFO },
	};
	struct conf_intercom d = *dom("example.com");

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_assert_eq(intercom_profile_for(&d, slice_cstr(cases[i].ua)),
			     cases[i].want, "%s", cases[i].ua);
	d.default_profile = CONF_AA_URI_INTERCOM;
	cr_assert_eq(intercom_profile_for(&d, SLICE_LIT("Linphone")),
		     CONF_AA_URI_INTERCOM);
	cr_assert_eq(intercom_profile_for(&d, SLICE_LIT("Polycom")),
		     CONF_AA_ANSWER_MODE);
	d.nprofiles = 0;
	cr_assert_eq(intercom_profile_for(&d, SLICE_LIT("Polycom SoundPoint")),
		     CONF_AA_POLYCOM);
	cr_assert_eq(intercom_profile_for(NULL, SLICE_LIT("x")),
		     CONF_AA_CALLINFO);
	cr_assert_str_eq(intercom_profile_name(CONF_AA_POLYCOM), "polycom");
	cr_assert_str_eq(intercom_profile_name(CONF_AA__COUNT), "");
}

Test(intercom, each_profile_marking)
{
	static const struct {
		enum conf_aa p;
		const char *hdrs, *ruri;
	} cases[] = {
		{ CONF_AA_CALLINFO,
		  "Call-Info: <sip:example.com>;answer-after=0\r\n",
		  "sip:bob@192.0.2.7:5062;transport=udp" },
		{ CONF_AA_ALERT_AUTOANSWER, "Alert-Info: alert-autoanswer\r\n",
		  "sip:bob@192.0.2.7:5062;transport=udp" },
		{ CONF_AA_ALERT_ANSWERAFTER, "Alert-Info: answer-after=0\r\n",
		  "sip:bob@192.0.2.7:5062;transport=udp" },
		{ CONF_AA_POLYCOM, "Alert-Info: Ring-Answer\r\n",
		  "sip:bob@192.0.2.7:5062;transport=udp" },
		{ CONF_AA_ANSWER_MODE, "Answer-Mode: Auto\r\n",
		  "sip:bob@192.0.2.7:5062;transport=udp" },
		{ CONF_AA_URI_INTERCOM, "",
		  "sip:bob@192.0.2.7:5062;transport=udp;intercom=true" },
	};
	struct slice h, ruri;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(intercom_mark(cases[i].p, SLICE_LIT("example.com"),
					   SLICE_LIT("sip:bob@192.0.2.7:5062;"
						     "transport=udp"),
					   ar, &h, &ruri),
			     0);
		cr_assert(slice_eq(h, slice_cstr(cases[i].hdrs)), "%d: %.*s",
			  cases[i].p, (int)h.len, h.p);
		cr_assert(slice_eq(ruri, slice_cstr(cases[i].ruri)), "%d: %.*s",
			  cases[i].p, (int)ruri.len, ruri.p);
	}
	/* URI headers stay last. */
	cr_assert_eq(intercom_mark(CONF_AA_URI_INTERCOM, SLICE_LIT("x"),
				   SLICE_LIT("sip:a@192.0.2.1?Subject=hi"), ar,
				   &h, &ruri),
		     0);
	cr_assert(slice_eq(ruri, SLICE_LIT("sip:a@192.0.2.1;intercom=true?"
					   "Subject=hi")));
	cr_assert_eq(intercom_mark(CONF_AA__COUNT, SLICE_LIT("x"),
				   SLICE_LIT("sip:a@b"), ar, &h, &ruri),
		     -EINVAL);
}

Test(intercom, what_counts_as_a_marking)
{
	static const struct {
		enum hdr_id id;
		const char *v;
		bool yes;
	} cases[] = {
		{ HDR_CALL_INFO, "<sip:example.com>;answer-after=0", true },
		{ HDR_CALL_INFO, "<sip:x>;Answer-After=5", true },
		{ HDR_CALL_INFO, ";answer-after=0", true },
		{ HDR_CALL_INFO, "<http://x>;info=auto-answer", true },
		{ HDR_CALL_INFO, "<http://x>;purpose=icon", false },
		/* The URL itself is not looked at. */
		{ HDR_CALL_INFO,
		  "<http://x/answer-after/intercom.png>;"
		  "purpose=icon",
		  false },
		{ HDR_ALERT_INFO, "alert-autoanswer", true },
		{ HDR_ALERT_INFO, "answer-after=0", true },
		{ HDR_ALERT_INFO, "Ring-Answer", true },
		{ HDR_ALERT_INFO, "<http://x>;info=alert-autoanswer;delay=0",
		  true },
		{ HDR_ALERT_INFO, "<http://x>;info=Auto Answer", true },
		{ HDR_ALERT_INFO, "<http://x/intercom>", true },
		{ HDR_ALERT_INFO, "<http://tones.example/ring2.wav>", false },
		{ HDR_ALERT_INFO, "<urn:alert:service:call-waiting>", false },
		{ HDR_ANSWER_MODE, "Auto", true },
		{ HDR_ANSWER_MODE, "auto;require", true },
		{ HDR_ANSWER_MODE, "SomethingNew", true },
		{ HDR_ANSWER_MODE, "Manual", false },
		{ HDR_ANSWER_MODE, "manual ;require", false },
		{ HDR_PRIV_ANSWER_MODE, "Auto", true },
		{ HDR_PRIV_ANSWER_MODE, "Manual", false },
		{ HDR_SUBJECT, "answer-after=0", false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_assert_eq(
		    intercom_is_marking(cases[i].id, slice_cstr(cases[i].v)),
		    cases[i].yes, "%s", cases[i].v);
}

/* @p m cleaned and printed, with Request-URI @p ruri sent as it is. */
static char *cleaned(const struct sipmsg *m, bool keep_ruri, char *out,
		     size_t size)
{
	struct slice ruri = keep_ruri ? m->ruri : slice_make(NULL, 0), o;
	struct edit_list *el;

	cr_assert_eq(edit_new(ar, m, &el), 0);
	cr_assert_eq(intercom_clean(el, m, ar, &ruri), 0);
	if (keep_ruri && ruri.p != m->ruri.p)
		cr_assert_eq(edit_set_ruri(el, ruri), 0);
	cr_assert_eq(edit_print_arena(el, ar, &o), 0);
	cr_assert_lt(o.len, size);
	memcpy(out, o.p, o.len);
	out[o.len] = '\0';
	return out;
}

Test(intercom, clean_removes_markings_and_keeps_the_rest)
{
	static const char want[] =
	    "INVITE sip:bob@192.0.2.7;transport=udp;lr SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 192.0.2.50:5060;branch=z9hG4bK1\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: <sip:eve@example.com>;tag=f1\r\n"
	    "To: <sip:bob@192.0.2.7;transport=udp;intercom=true;lr>\r\n"
	    "Call-ID: c1\r\nCSeq: 1 INVITE\r\n"
	    "Call-Info: <http://p.example/e.jpg>;purpose=icon\r\n"
	    "Subject: hello\r\n"
	    "Alert-Info: <http://t.example/r.wav>\r\n"
	    "Answer-Mode: Manual\r\n"
	    "Content-Length: 0\r\n\r\n";
	char out[4096];

	req("INVITE", "sip:bob@192.0.2.7;transport=udp;intercom=true;lr",
	    "eve@example.com",
	    "Call-Info: <http://p.example/e.jpg>;purpose=icon, "
	    "<sip:example.com>;answer-after=0\r\n"
	    "Subject: hello\r\n"
	    "Alert-Info: Ring-Answer\r\n"
	    "Alert-Info: <http://t.example/r.wav>, alert-autoanswer\r\n"
	    "Answer-Mode: Manual\r\n"
	    "Priv-Answer-Mode: Auto\r\n"
	    "Call-Info: ;answer-after=0\r\n");
	cr_assert_str_eq(cleaned(&msg, true, out, sizeof(out)), want);
	/* A Request-URI that a target replaces is not touched. */
	cleaned(&msg, false, out, sizeof(out));
	cr_assert_not_null(strstr(out, "INVITE sip:bob@192.0.2.7;transport=udp;"
				       "intercom=true;lr SIP/2.0\r\n"));
}

Test(intercom, clean_leaves_a_clean_request_alone)
{
	char out[4096];
	struct slice ruri;
	struct edit_list *el;

	req("INVITE", "sip:bob@example.com", "eve@example.com",
	    "Alert-Info: <http://t.example/r.wav>\r\n");
	ruri = msg.ruri;
	cr_assert_eq(edit_new(ar, &msg, &el), 0);
	cr_assert_eq(intercom_clean(el, &msg, ar, &ruri), 0);
	cr_assert_eq(edit_count(el), 0);
	cr_assert_eq(ruri.p, msg.ruri.p);
	/* A header that cannot be split goes whole. */
	req("INVITE", "sip:bob@example.com", "eve@example.com",
	    "Alert-Info: <http://t.example/r.wav\r\n");
	cr_assert_null(
	    strstr(cleaned(&msg, true, out, sizeof(out)), "Alert-Info"));
}

/* Deciding a page. */

static void binding(struct loc_contact *b, const char *uri, const char *ua)
{
	memset(b, 0, sizeof(*b));
	b->uri = slice_cstr(uri);
	b->user_agent = slice_cstr(ua);
	b->call_id = SLICE_LIT("reg");
	b->expires_s = NOW + 600;
	b->q = 1000;
}

static void publish(void)
{
	struct loc_contact b[2];

	binding(&b[0], "sip:bob@192.0.2.10:5060", "PolycomVVX/5.9");
	binding(&b[1], "sip:bob@192.0.2.11:5060", "Yealink SIP-T46S 66");
	cr_assert_eq(loc_publish(SLICE_LIT("bob@example.com"), b, 2), 0);
	binding(&b[0], "sip:carol@192.0.2.12:5060", "Grandstream GXP2170");
	cr_assert_eq(loc_publish(SLICE_LIT("carol@example.com"), b, 1), 0);
	binding(&b[0], "sip:boss@192.0.2.13:5060", "Grandstream GXP2170");
	cr_assert_eq(loc_publish(SLICE_LIT("boss@example.com"), b, 1), 0);
	/* dave's binding expired. */
	binding(&b[0], "sip:dave@192.0.2.14:5060", "x");
	b[0].expires_s = NOW - 1;
	cr_assert_eq(loc_publish(SLICE_LIT("dave@example.com"), b, 1), 0);
}

static struct intercom_verdict decide_from(const struct sipmsg *m,
					   const struct sockaddr_in *src)
{
	struct intercom_req q = { cf,  m,  (const struct sockaddr *)src,
				  NOW, ar, false };
	struct intercom_verdict v;

	cr_assert_eq(intercom_decide(&q, &v), 0);
	return v;
}

static struct intercom_verdict decide(const struct sipmsg *m)
{
	return decide_from(m, &trusted_src);
}

static bool has_target(const struct intercom_verdict *v, const char *ruri,
		       const char *hdrs)
{
	for (unsigned i = 0; i < v->fwd.nt; i++)
		if (slice_eq(v->fwd.t[i].ruri, slice_cstr(ruri)) &&
		    slice_eq(v->fwd.t[i].hdrs, slice_cstr(hdrs)))
			return true;
	return false;
}

Test(intercom, page_reaches_every_device_of_the_extension)
{
	struct intercom_verdict v;

	publish();
	v = decide(
	    req("INVITE", "sip:*6bob@example.com", "boss@example.com", NULL));
	cr_assert_eq(v.status, 0);
	cr_assert_eq(v.fwd.nt, 2);
	cr_assert_not(v.fwd.failover);
	cr_assert(
	    has_target(&v, "sip:bob@192.0.2.10:5060", "Answer-Mode: Auto\r\n"));
	cr_assert(has_target(&v, "sip:bob@192.0.2.11:5060",
			     "Alert-Info: answer-after=0\r\n"));
	/* An escaped code is the same code. */
	v = decide(req("INVITE", "sip:%2A6carol@example.com",
		       "alice@example.com", NULL));
	cr_assert_eq(v.fwd.nt, 1);
	cr_assert(
	    has_target(&v, "sip:carol@192.0.2.12:5060",
		       "Call-Info: <sip:example.com>;answer-after=0\r\n"));
}

Test(intercom, paging_group_reaches_members_but_the_pager)
{
	struct intercom_verdict v;

	publish();
	v = decide(
	    req("INVITE", "sip:*67@example.com", "boss@example.com", NULL));
	cr_assert_eq(v.status, 0);
	cr_assert_eq(v.fwd.nt, 3);
	cr_assert(
	    has_target(&v, "sip:bob@192.0.2.10:5060", "Answer-Mode: Auto\r\n"));
	cr_assert(has_target(&v, "sip:bob@192.0.2.11:5060",
			     "Alert-Info: answer-after=0\r\n"));
	cr_assert(
	    has_target(&v, "sip:carol@192.0.2.12:5060",
		       "Call-Info: <sip:example.com>;answer-after=0\r\n"));
	/* Paged by alice, boss's phone is a member like the others. */
	v = decide(
	    req("INVITE", "sip:*67@example.com", "alice@example.com", NULL));
	cr_assert_eq(v.fwd.nt, 4);
}

static bool nobody_exists(struct slice user, struct slice domain)
{
	(void)user;
	(void)domain;
	return false;
}

Test(intercom, refusals)
{
	struct intercom_verdict v;

	publish();
	v = decide(
	    req("INVITE", "sip:*6bob@example.com", "eve@example.com", NULL));
	cr_assert_eq(v.status, 403);
	cr_assert_eq(v.fwd.nt, 0);
	/* A user of another domain, even a listed name. */
	v = decide(
	    req("INVITE", "sip:*6bob@example.com", "boss@other.example", NULL));
	cr_assert_eq(v.status, 403);
	v = decide(
	    req("INVITE", "sip:*6@example.com", "boss@example.com", NULL));
	cr_assert_eq(v.status, 484);
	v = decide(
	    req("INVITE", "sip:*6dave@example.com", "boss@example.com", NULL));
	cr_assert_eq(v.status, 480);
	cr_assert_eq(hook_add_user_check(nobody_exists, 0), 0);
	v = decide(
	    req("INVITE", "sip:*6zed@example.com", "boss@example.com", NULL));
	hook_clear();
	cr_assert_eq(v.status, 404);
}

Test(intercom, not_a_page)
{
	static const char *const cases[][3] = {
		{ "INVITE", "sip:bob@example.com", NULL },
		{ "INVITE", "sip:*7bob@example.com", NULL },
		{ "MESSAGE", "sip:*6bob@example.com", NULL },
		{ "INVITE", "sip:*6bob@other.example", NULL },
		{ "INVITE", "sip:*6bob@192.0.2.99", NULL },
		{ "INVITE", "tel:*6123", NULL },
		{ "INVITE", "sip:*6bob@example.com",
		  "Route: <sip:192.0.2.99;lr>\r\n" },
		{ "INVITE", "sip:*6bob@example.com",
		  "Route: <sip:127.0.0.1;lr>, <sip:192.0.2.99;lr>\r\n" },
	};
	struct intercom_verdict v;

	publish();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v = decide(req(cases[i][0], cases[i][1], "boss@example.com",
			       cases[i][2]));
		cr_assert_eq(v.status, 0, "%s", cases[i][1]);
		cr_assert_eq(v.fwd.nt, 0, "%s %s", cases[i][1],
			     cases[i][2] ? cases[i][2] : "");
	}
	/* In a dialog: not a new page. */
	req("INVITE", "sip:*6bob@example.com", "boss@example.com", NULL);
	msg.to_tag = SLICE_LIT("t");
	v = decide(&msg);
	cr_assert_eq(v.fwd.nt, 0);
	cr_assert_eq(v.status, 0);
	/* Our own Route on top does not matter. */
	v = decide(req("INVITE", "sip:*6bob@example.com", "boss@example.com",
		       "Route: <sip:127.0.0.1;lr>\r\n"));
	cr_assert_eq(v.fwd.nt, 2);
}

Test(intercom, untrusted_callers_page_by_their_digest_username)
{
	static const char cred[] =
	    "Proxy-Authorization: Digest username=\"%s\", "
	    "realm=\"%s\", nonce=\"n\", uri=\"sip:*6bob@example.com\", "
	    "response=\"0\"\r\n";
	char lines[512];
	struct intercom_verdict v;
	int n;

	publish();
	snprintf(lines, sizeof(lines), cred, "alice", "example.com");
	v = decide_from(
	    req("INVITE", "sip:*6bob@example.com", "alice@example.com", lines),
	    &outside_src);
	cr_assert_eq(v.status, 0);
	cr_assert_eq(v.fwd.nt, 2);
	/* The username counts, not the From. */
	snprintf(lines, sizeof(lines), cred, "eve", "example.com");
	v = decide_from(
	    req("INVITE", "sip:*6bob@example.com", "alice@example.com", lines),
	    &outside_src);
	cr_assert_eq(v.status, 403);
	/* Credentials for another realm, or none: not authenticated. */
	snprintf(lines, sizeof(lines), cred, "alice", "other.example");
	v = decide_from(
	    req("INVITE", "sip:*6bob@example.com", "alice@example.com", lines),
	    &outside_src);
	cr_assert_eq(v.status, 403);
	v = decide_from(
	    req("INVITE", "sip:*6bob@example.com", "alice@example.com", NULL),
	    &outside_src);
	cr_assert_eq(v.status, 403);
	/* A Basic header first is skipped, as the auth stage does. */
	n = snprintf(lines, sizeof(lines),
		     "Proxy-Authorization: Basic YWxpY2U6cHc=\r\n");
	snprintf(lines + n, sizeof(lines) - (size_t)n, cred, "alice",
		 "example.com");
	v = decide_from(
	    req("INVITE", "sip:*6bob@example.com", "alice@example.com", lines),
	    &outside_src);
	cr_assert_eq(v.status, 0);
}

Test(intercom, route_plan_sends_each_target_its_marking)
{
	struct intercom_verdict v;
	struct route_plan p;

	publish();
	v = decide(
	    req("INVITE", "sip:*6bob@example.com", "boss@example.com", NULL));
	cr_assert_eq(v.fwd.nt, 2);
	cr_assert_eq(route_plan_fwd(cf, &msg, &v.fwd, ar, &p), 0);
	cr_assert_eq(p.status, 0);
	cr_assert_eq(p.ntargets, 2);
	for (unsigned i = 0; i < 2; i++) {
		bool polycom =
		    slice_eq(p.t[i].ruri, SLICE_LIT("sip:bob@192.0.2.10:5060"));

		cr_assert(slice_eq(p.t[i].hdrs,
				   polycom ? SLICE_LIT("Answer-Mode: Auto\r\n")
					   : SLICE_LIT("Alert-Info: "
						       "answer-after=0\r\n")));
	}
	/* A Route of someone else's wins over the feature's targets. */
	req("INVITE", "sip:*6bob@example.com", "boss@example.com",
	    "Route: <sip:192.0.2.99;lr>\r\n");
	cr_assert_eq(route_plan_fwd(cf, &msg, &v.fwd, ar, &p), 0);
	cr_assert_eq(p.ntargets, 1);
	cr_assert_eq(p.t[0].hdrs.len, 0);
}
