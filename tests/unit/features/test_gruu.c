/* tests/unit/features/test_gruu.c - GRUU: temp-gruu token codec, pub-gruu
 * and Contact parameters, routing lookup over the location table */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "features/gruu.h"
#include "proxy/base/arena.h"
#include "proxy/base/log.h"
#include "proxy/base/obj.h"
#include "proxy/core/conf.h"
#include "proxy/hook.h"
#include "registrar/reg_conf.h"
#include "store/loc.h"
#include "store/rcu.h"
#include "tests/unit/sections.h"
#include "tests/common/teardown.h"

#define NOW    1700000000
#define AOR    "alice@example.com"
#define INST_A "<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>"
#define INST_B "<urn:uuid:0d6a3f1e-1b2c-4e5f-9a8b-7c6d5e4f3a2b>"
#define INST_C "<urn:uuid:aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee>"

static struct gruu_key key, other;
static struct conf *cf;
static struct arena *ar;

static const char yaml[] = "domains: [example.com]\n"
			   "registrar:\n"
			   "  secret: \"0123456789abcdef-shared\"\n";

static void setup(void)
{
	log_set_level(LOG__COUNT);
	urcu_memb_register_thread();
	cf = sections_load(yaml);
	cr_assert_eq(loc_init(), 0);
	cr_assert_eq(gruu_init(reg_conf(cf)->secret), 0);
	ar = arena_new(16384);
	cr_assert_not_null(ar);
	gruu_key_derive(SLICE_LIT("0123456789abcdef-shared"), &key);
	gruu_key_derive(SLICE_LIT("another secret, another node"), &other);
}

static void teardown(void)
{
	arena_free(ar);
	gruu_fini();
	loc_fini();
	conf_free(cf);
	urcu_memb_unregister_thread();
	teardown_check_objs(0);
}

TestSuite(gruu, .init = setup, .fini = teardown, .timeout = 30);

static int make(const struct gruu_key *k, const char *aor, const char *inst,
		const char *cid, char *out, size_t size)
{
	return gruu_token_make(k, slice_cstr(aor), slice_cstr(inst),
			       slice_cstr(cid), out, size);
}

Test(gruu, key_depends_on_the_secret_only)
{
	struct gruu_key again;

	gruu_key_derive(SLICE_LIT("0123456789abcdef-shared"), &again);
	cr_assert_arr_eq(again.k, key.k, GRUU_KEY_SIZE);
	cr_assert_arr_neq(other.k, key.k, GRUU_KEY_SIZE);
	/* gruu_init() derived the process key from registrar.secret. */
	cr_assert_not_null(gruu_key_get());
	cr_assert_arr_eq(gruu_key_get()->k, key.k, GRUU_KEY_SIZE);
}

Test(gruu, token_round_trip)
{
	char tok[GRUU_TOKEN_MAX], tok2[GRUU_TOKEN_MAX];
	struct gruu_ref r;
	int n, n2;

	n = make(&key, AOR, INST_A, "cid-1@host", tok, sizeof(tok));
	cr_assert_gt(n, 0);
	for (int i = 0; i < n; i++)
		cr_assert(
		    strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
			   "vwxyz0123456789-_",
			   tok[i]),
		    "'%c' is not base64url", tok[i]);
	/* The AOR is not readable in it. */
	cr_assert_null(memmem(tok, (size_t)n, "alice", 5));
	cr_assert_eq(gruu_token_open(&key, slice_make(tok, (size_t)n), &r), 0);
	cr_assert_eq(r.aor_len, strlen(AOR));
	cr_assert_arr_eq(r.aor, AOR, r.aor_len);
	cr_assert(gruu_ref_has_instance(&r, SLICE_LIT(INST_A)));
	cr_assert_not(gruu_ref_has_instance(&r, SLICE_LIT(INST_B)));
	cr_assert(gruu_ref_has_call_id(&r, SLICE_LIT("cid-1@host")));
	cr_assert_not(gruu_ref_has_call_id(&r, SLICE_LIT("cid-2@host")));
	/* A fresh nonce each time: another token, same content. */
	n2 = make(&key, AOR, INST_A, "cid-1@host", tok2, sizeof(tok2));
	cr_assert_eq(n2, n);
	cr_assert_arr_neq(tok, tok2, (size_t)n);
	cr_assert_eq(gruu_token_open(&key, slice_make(tok2, (size_t)n2), &r),
		     0);
	cr_assert_arr_eq(r.aor, AOR, r.aor_len);
}

Test(gruu, longest_aor_fits_the_bound)
{
	char aor[SIPMSG_AOR_MAX + 1], tok[GRUU_TOKEN_MAX];
	struct gruu_ref r;
	int n;

	memset(aor, 'u', SIPMSG_AOR_MAX);
	aor[SIPMSG_AOR_MAX - 12] = '@';
	aor[SIPMSG_AOR_MAX] = '\0';
	n = make(&key, aor, INST_A, "c", tok, sizeof(tok));
	cr_assert_gt(n, 0);
	cr_assert_eq(gruu_token_open(&key, slice_make(tok, (size_t)n), &r), 0);
	cr_assert_eq(r.aor_len, SIPMSG_AOR_MAX);
	aor[SIPMSG_AOR_MAX - 1] = '\0';
	cr_assert_eq(make(&key, aor, INST_A, "c", tok, 40), -ENOSPC);
	cr_assert_eq(make(&key, "", INST_A, "c", tok, sizeof(tok)), -EINVAL);
	cr_assert_eq(make(&key, AOR, "", "c", tok, sizeof(tok)), -EINVAL);
}

Test(gruu, tampered_token_is_rejected)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
	    "vwxyz0123456789-_";
	char tok[GRUU_TOKEN_MAX];
	struct gruu_ref r;
	int n = make(&key, AOR, INST_A, "cid", tok, sizeof(tok));

	cr_assert_gt(n, 0);
	/* Every character changed to every other one: never opens. */
	for (int i = 0; i < n; i++) {
		char was = tok[i];

		for (size_t k = 0; k < sizeof(b64) - 1; k++) {
			if (b64[k] == was)
				continue;
			tok[i] = b64[k];
			cr_assert_neq(gruu_token_open(
					  &key, slice_make(tok, (size_t)n), &r),
				      0, "changed at %d to %c", i, b64[k]);
		}
		tok[i] = was;
	}
	/* Cut short or made longer. */
	for (int len = 0; len < n; len++)
		cr_assert_neq(
		    gruu_token_open(&key, slice_make(tok, (size_t)len), &r), 0);
	tok[n] = 'A';
	cr_assert_neq(gruu_token_open(&key, slice_make(tok, (size_t)n + 1), &r),
		      0);
	cr_assert_eq(gruu_token_open(&key, slice_make(tok, (size_t)n), &r), 0);
}

Test(gruu, wrong_secret_is_rejected)
{
	char tok[GRUU_TOKEN_MAX];
	struct gruu_ref r;
	int n = make(&key, AOR, INST_A, "cid", tok, sizeof(tok));

	cr_assert_eq(gruu_token_open(&other, slice_make(tok, (size_t)n), &r),
		     -EACCES);
	n = make(&other, AOR, INST_A, "cid", tok, sizeof(tok));
	cr_assert_eq(gruu_token_open(&key, slice_make(tok, (size_t)n), &r),
		     -EACCES);
	cr_assert_eq(gruu_token_open(&other, slice_make(tok, (size_t)n), &r),
		     0);
}

Test(gruu, malformed_tokens)
{
	static const char *const bad[] = {
		"",	    "A",	 "AAAA+AAA",  "AAAA/AAA",
		"AAAAAAA=", "AAAA AAAA", "AAAA.AAAA",
	};
	char big[GRUU_TOKEN_MAX + 8];
	struct gruu_ref r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(gruu_token_open(&key, slice_cstr(bad[i]), &r),
			     -EBADMSG, "%s", bad[i]);
	/* Over the longest token: refused before decoding. */
	memset(big, 'A', sizeof(big));
	cr_assert_eq(gruu_token_open(&key, slice_make(big, sizeof(big)), &r),
		     -EBADMSG);
	cr_assert_eq(gruu_token_open(NULL, SLICE_LIT("AAAA"), &r), -EBADMSG);
}

Test(gruu, pub_gruu_strips_brackets_and_escapes)
{
	char buf[256];
	int n;

	n = gruu_pub_print(SLICE_LIT(AOR), SLICE_LIT(INST_A), buf, sizeof(buf));
	cr_assert_gt(n, 0);
	buf[n] = '\0';
	cr_assert_str_eq(
	    buf, "sip:alice@example.com;gr=urn:uuid:f81d4fae-7dec-11d0-a765-"
		 "00a0c91e6bf6");
	n = gruu_pub_print(SLICE_LIT(AOR), SLICE_LIT("<urn:x:a b\"c;d%>"), buf,
			   sizeof(buf));
	cr_assert_gt(n, 0);
	buf[n] = '\0';
	cr_assert_str_eq(buf,
			 "sip:alice@example.com;gr=urn:x:a%20b%22c%3Bd%25");
	cr_assert_eq(gruu_pub_print(SLICE_LIT(AOR), SLICE_LIT(INST_A), buf, 30),
		     -ENOSPC);
	cr_assert_eq(
	    gruu_pub_print(SLICE_LIT(AOR), SLICE_LIT("<>"), buf, sizeof(buf)),
	    -EINVAL);
}

Test(gruu, contact_params_carry_both_gruus)
{
	char buf[2048], *t, *end;
	struct gruu_ref r;
	int n;

	n = gruu_contact_params(&key, SLICE_LIT(AOR), SLICE_LIT(INST_A),
				SLICE_LIT("cid-9"), buf, sizeof(buf));
	cr_assert_gt(n, 0);
	buf[n] = '\0';
	cr_assert_eq(strncmp(buf,
			     ";pub-gruu=\"sip:alice@example.com;gr=urn:uuid:"
			     "f81d4fae-7dec-11d0-a765-00a0c91e6bf6\";temp-gruu="
			     "\"sip:tgruu.",
			     strlen(";pub-gruu=\"sip:alice@example.com;gr=urn:"
				    "uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"
				    "\";temp-gruu=\"sip:tgruu.")),
		     0, "%s", buf);
	t = strstr(buf, "tgruu.") + 6;
	end = strchr(t, '@');
	cr_assert_not_null(end);
	cr_assert_str_eq(end, "@example.com;gr\"");
	cr_assert_eq(
	    gruu_token_open(&key, slice_make(t, (size_t)(end - t)), &r), 0);
	cr_assert(gruu_ref_has_call_id(&r, SLICE_LIT("cid-9")));
	/* No key: the pub-gruu only. */
	n = gruu_contact_params(NULL, SLICE_LIT(AOR), SLICE_LIT(INST_A),
				SLICE_LIT("cid-9"), buf, sizeof(buf));
	cr_assert_gt(n, 0);
	buf[n] = '\0';
	cr_assert_null(strstr(buf, "temp-gruu"));
	cr_assert_leq((size_t)n,
		      gruu_params_len(SLICE_LIT(AOR), SLICE_LIT(INST_A)));
	cr_assert_eq(gruu_contact_params(&key, SLICE_LIT(AOR), SLICE_LIT(""),
					 SLICE_LIT("c"), buf, sizeof(buf)),
		     -EINVAL);
}

/* Routing. */

static void binding(struct loc_contact *b, const char *uri, const char *inst,
		    const char *cid, int64_t expires_s)
{
	memset(b, 0, sizeof(*b));
	b->uri = slice_cstr(uri);
	b->instance = slice_cstr(inst);
	b->call_id = slice_cstr(cid);
	b->expires_s = expires_s;
	b->q = 1000;
}

/* alice: A (two flows, Call-ID ca), B (Call-ID cb), C expired. */
static void publish(void)
{
	struct loc_contact b[4];

	binding(&b[0], "sip:alice@192.0.2.1:5060", INST_A, "ca", NOW + 600);
	binding(&b[1], "sip:alice@192.0.2.2:5060", INST_B, "cb", NOW + 600);
	binding(&b[2], "sip:alice@192.0.2.1:5062", INST_A, "ca2", NOW + 600);
	binding(&b[3], "sip:alice@192.0.2.3:5060", INST_C, "cc", NOW - 1);
	b[2].reg_id = 2;
	cr_assert_eq(loc_publish(SLICE_LIT(AOR), b, 4), 0);
}

static int lookup(const char *ruri, struct hook_fwd *fw, unsigned *st)
{
	memset(fw, 0, sizeof(*fw));
	*st = 0;
	return gruu_lookup(cf, slice_cstr(ruri), NOW, ar, fw, st);
}

static void temp_of(const char *inst, const char *cid, char *buf, size_t size)
{
	int n = gruu_temp_print(gruu_key_get(), SLICE_LIT(AOR),
				slice_cstr(inst), slice_cstr(cid), buf, size);

	cr_assert_gt(n, 0);
	buf[n] = '\0';
}

static bool target_is(const struct hook_fwd *fw, unsigned i, const char *uri)
{
	return i < fw->nt && slice_eq(fw->t[i].b.uri, slice_cstr(uri));
}

Test(gruu, lookup_ignores_uris_without_gr)
{
	struct hook_fwd fw;
	unsigned st;

	publish();
	cr_assert_eq(lookup("sip:alice@example.com", &fw, &st), 0);
	cr_assert_eq(lookup("sip:alice@example.com;grx=1", &fw, &st), 0);
	cr_assert_eq(lookup("tel:+15551234", &fw, &st), 0);
	cr_assert_eq(fw.nt, 0);
}

Test(gruu, pub_gruu_reaches_only_its_instance)
{
	struct hook_fwd fw;
	unsigned st;

	publish();
	cr_assert_eq(lookup("sip:alice@example.com;gr=urn:uuid:0d6a3f1e-1b2c-"
			    "4e5f-9a8b-7c6d5e4f3a2b",
			    &fw, &st),
		     1);
	cr_assert_eq(st, 0);
	cr_assert_eq(fw.nt, 1);
	cr_assert(target_is(&fw, 0, "sip:alice@192.0.2.2:5060"));
	/* Both flows of A, one after the other; case of the URN and an
	 * escape do not matter. */
	cr_assert_eq(lookup("sip:alice@example.com;gr=URN:UUID:F81D4FAE-7DEC-"
			    "11D0-A765-00A0C91E6BF6",
			    &fw, &st),
		     1);
	cr_assert_eq(fw.nt, 2);
	cr_assert(fw.failover);
	cr_assert(target_is(&fw, 0, "sip:alice@192.0.2.1:5060"));
	cr_assert(target_is(&fw, 1, "sip:alice@192.0.2.1:5062"));
	cr_assert_eq(lookup("sip:alice@example.com;gr=urn%3Auuid:f81d4fae-7dec-"
			    "11d0-a765-00a0c91e6bf6",
			    &fw, &st),
		     1);
	cr_assert_eq(fw.nt, 2);
}

Test(gruu, pub_gruu_of_an_absent_instance_is_480)
{
	struct hook_fwd fw;
	unsigned st;

	publish();
	/* C's binding expired. */
	cr_assert_eq(lookup("sip:alice@example.com;gr=urn:uuid:aaaaaaaa-bbbb-"
			    "4ccc-8ddd-eeeeeeeeeeee",
			    &fw, &st),
		     1);
	cr_assert_eq(st, 480);
	cr_assert_eq(fw.nt, 0);
	cr_assert_eq(lookup("sip:bob@example.com;gr=urn:uuid:1", &fw, &st), 1);
	cr_assert_eq(st, 480);
}

static bool nobody_exists(struct slice user, struct slice domain)
{
	(void)user;
	(void)domain;
	return false;
}

Test(gruu, pub_gruu_of_an_unknown_user_is_404)
{
	struct hook_fwd fw;
	unsigned st;

	cr_assert_eq(hook_add_user_check(nobody_exists, 0), 0);
	cr_assert_eq(lookup("sip:bob@example.com;gr=urn:uuid:1", &fw, &st), 1);
	hook_clear();
	cr_assert_eq(st, 404);
}

Test(gruu, temp_gruu_follows_its_registration)
{
	char tmp[1024];
	struct hook_fwd fw;
	struct loc_contact b[2];
	unsigned st;

	publish();
	temp_of(INST_B, "cb", tmp, sizeof(tmp));
	cr_assert_eq(lookup(tmp, &fw, &st), 1);
	cr_assert_eq(st, 0);
	cr_assert_eq(fw.nt, 1);
	cr_assert(target_is(&fw, 0, "sip:alice@192.0.2.2:5060"));
	/* A token of one of A's flows reaches the device on both. */
	temp_of(INST_A, "ca2", tmp, sizeof(tmp));
	cr_assert_eq(lookup(tmp, &fw, &st), 1);
	cr_assert_eq(fw.nt, 2);
	/* B registers again with a new Call-ID: the old token is dead. */
	temp_of(INST_B, "cb", tmp, sizeof(tmp));
	binding(&b[0], "sip:alice@192.0.2.1:5060", INST_A, "ca", NOW + 600);
	binding(&b[1], "sip:alice@192.0.2.2:5060", INST_B, "cb-new", NOW + 600);
	cr_assert_eq(loc_publish(SLICE_LIT(AOR), b, 2), 0);
	cr_assert_eq(lookup(tmp, &fw, &st), 1);
	cr_assert_eq(st, 404);
	cr_assert_eq(fw.nt, 0);
	temp_of(INST_B, "cb-new", tmp, sizeof(tmp));
	cr_assert_eq(lookup(tmp, &fw, &st), 1);
	cr_assert_eq(st, 0);
	/* C is not registered: known instance, 480. */
	temp_of(INST_C, "cc", tmp, sizeof(tmp));
	cr_assert_eq(lookup(tmp, &fw, &st), 1);
	cr_assert_eq(st, 480);
}

Test(gruu, foreign_or_broken_temp_gruu_is_404)
{
	char tok[GRUU_TOKEN_MAX], uri[1024];
	struct hook_fwd fw;
	unsigned st;
	int n;

	publish();
	n = make(&other, AOR, INST_B, "cb", tok, sizeof(tok));
	snprintf(uri, sizeof(uri), "sip:tgruu.%.*s@example.com;gr", n, tok);
	cr_assert_eq(lookup(uri, &fw, &st), 1);
	cr_assert_eq(st, 404);
	/* The right key, but not a temp-gruu user. */
	n = make(&key, AOR, INST_B, "cb", tok, sizeof(tok));
	snprintf(uri, sizeof(uri), "sip:%.*s@example.com;gr", n, tok);
	cr_assert_eq(lookup(uri, &fw, &st), 1);
	cr_assert_eq(st, 404);
	cr_assert_eq(lookup("sip:alice@example.com;gr", &fw, &st), 1);
	cr_assert_eq(st, 404);
	cr_assert_eq(lookup("sip:tgruu.@example.com;gr", &fw, &st), 1);
	cr_assert_eq(st, 404);
	cr_assert_eq(fw.nt, 0);
}

Test(gruu, lookup_off_when_gruu_is_disabled)
{
	static const char off[] = "domains: [example.com]\n"
				  "features:\n  gruu: false\n";
	char tmp[1024], err[256];
	struct conf *c2;
	struct hook_fwd fw;
	unsigned st = 0;

	publish();
	cr_assert_eq(conf_load_mem("off.yaml", off, sizeof(off) - 1, &c2, err,
				   sizeof(err)),
		     0, "%s", err);
	temp_of(INST_B, "cb", tmp, sizeof(tmp));
	memset(&fw, 0, sizeof(fw));
	cr_assert_eq(gruu_lookup(c2, slice_cstr(tmp), NOW, ar, &fw, &st), 0);
	conf_free(c2);
}
