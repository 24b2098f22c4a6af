/* tests/unit/proxy/core/test_steer.c - the steering program's scanner and
 * hash (steer_scan.h, compiled here as userspace C) against the shards'
 * own choice (shard_owner(), txn_peek_branch_shard()) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "proxy/base/slice.h"
#include "proxy/core/shard.h"
#include "proxy/core/steer_scan.h"
#include "proxy/sip/msg.h"
#include "proxy/sip/txn.h"
#include "tests/common/corpus.h"
#include "tests/common/teardown.h"

static void setup(void)
{
}

static void teardown(void)
{
	teardown_check_objs(0);
}

TestSuite(steer, .init = setup, .fini = teardown, .timeout = 60);

/* What the scanner decides for @p buf: the owner, or -1 (no opinion). */
static int scan(const char *buf, size_t len, unsigned n)
{
	struct steer_scan s;

	steer_scan_init(&s, shard_owner_seed(), n,
			len >= 4 && memcmp(buf, "SIP/", 4) == 0);
	for (size_t i = 0; i < len && s.st != STEER_ST_DONE; i++)
		steer_scan_byte(&s, (unsigned char)buf[i]);
	return steer_scan_end(&s, 1);
}

/* What shard__receive() decides for a message that is not a REGISTER
 * (proxy/core/shard.c): our branch for a response, else the Call-ID. */
static int userspace(const char *buf, size_t len, unsigned n)
{
	struct slice cid;
	int b;

	if (len >= 4 && !strncmp(buf, "SIP/", 4) &&
	    (b = txn_peek_branch_shard(buf, len)) >= 0 && (unsigned)b < n)
		return b;
	if (sipmsg_peek_call_id(buf, len, &cid) == 0)
		return (int)shard_owner(cid, n);
	return -1;
}

/* Both agree, and the scanner has an opinion. */
static void agree(const char *msg, unsigned n)
{
	int k = scan(msg, strlen(msg), n), u = userspace(msg, strlen(msg), n);

	cr_assert_geq(k, 0, "scanner gave up on:\n%s", msg);
	cr_assert_eq(k, u, "scanner %d, shards %d (n=%u) on:\n%s", k, u, n,
		     msg);
}

Test(steer, hash_of_a_key_is_shard_owner)
{
	static const char *const keys[] = {
		"a", "abc@host", "1-2345@127.0.0.1", "ZZZZ", "x y",
	};

	for (unsigned n = 2; n <= 9; n++) {
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			uint64_t h = steer_hash_init(shard_owner_seed());

			for (size_t i = 0; keys[k][i]; i++)
				h = steer_hash_step(h,
						    (unsigned char)keys[k][i]);
			cr_assert_eq(steer_hash_final(h) % n,
				     shard_owner(slice_cstr(keys[k]), n));
		}
	}
}

Test(steer, only_the_first_key_max_bytes_count)
{
	char a[STEER_KEY_MAX + 40], b[STEER_KEY_MAX + 40];

	memset(a, 'q', sizeof(a));
	memcpy(b, a, sizeof(b));
	b[STEER_KEY_MAX + 10] = 'r';
	for (unsigned n = 2; n <= 16; n++)
		cr_assert_eq(shard_owner(slice_make(a, sizeof(a)), n),
			     shard_owner(slice_make(b, sizeof(b)), n));
}

Test(steer, call_id_long_compact_any_case_and_spaces)
{
	static const char *const msgs[] = {
		"INVITE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1"
		"\r\nCall-ID: abc-123@host\r\nCSeq: 1 INVITE\r\n\r\n",
		"BYE sip:b@x SIP/2.0\r\ni:abc-123@host\r\n\r\n",
		"BYE sip:b@x SIP/2.0\r\nCALL-ID \t: \t abc-123@host \r\n\r\n",
		"BYE sip:b@x SIP/2.0\r\ncall-id:abc-123@host;x\r\n\r\n",
		"OPTIONS sip:b@x SIP/2.0\nInfo: 1\ncall-idx: no\nc: t/p\n"
		"I : Q\n\n",
		"ACK sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKsE01."
		"00000000.0000000000000000\r\nCall-Id: y\r\n\r\n",
	};

	for (unsigned n = 2; n <= 5; n++)
		for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++)
			agree(msgs[i], n);
}

Test(steer, response_goes_to_the_shard_in_our_branch)
{
	static const char *const r =
	    "SIP/2.0 200 OK\r\nv: SIP/2.0/UDP 10.0.0.1:5060;rport;branch="
	    "z9hG4bKsE03.0badf00d.0123456789abcdef;received=1.2.3.4\r\n"
	    "Via: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKsE00.00000000."
	    "0000000000000000\r\nCall-ID: whatever\r\n\r\n";

	cr_assert_eq(scan(r, strlen(r), 4), 3);
	agree(r, 4);
	/* Shard 3 of 2 is no shard: the Call-ID decides, on both sides. */
	agree(r, 2);
}

Test(steer, response_with_a_foreign_branch_goes_by_call_id)
{
	static const char *const msgs[] = {
		"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKabc"
		"\r\nCall-ID: c1@h\r\n\r\n",
		"SIP/2.0 180 Ringing\r\nVIA: SIP/2.0/UDP h;branch=z9hG4bKsEzz."
		"1\r\nCall-ID: c2@h\r\n\r\n",
		"SIP/2.0 486 Busy\r\nCall-ID: c3@h\r\nVia: SIP/2.0/UDP h\r\n"
		"Via: SIP/2.0/UDP g;branch=z9hG4bKsE01.00000000."
		"0000000000000000\r\n\r\n",
	};

	for (unsigned n = 2; n <= 3; n++)
		for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++)
			agree(msgs[i], n);
}

Test(steer, gives_up_where_the_hand_off_must_decide)
{
	static const char *const msgs[] = {
		/* no Call-ID before the blank line */
		"OPTIONS sip:b@x SIP/2.0\r\nVia: x\r\n\r\nCall-ID: body\r\n",
		/* folded value */
		"OPTIONS sip:b@x SIP/2.0\r\nCall-ID:\r\n  folded@h\r\n\r\n",
		/* empty */
		"OPTIONS sip:b@x SIP/2.0\r\nCall-ID: \r\n\r\n",
		"",
		"\r\n\r\n",
	};

	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++)
		cr_assert_eq(scan(msgs[i], strlen(msgs[i]), 2), -1, "%s",
			     msgs[i]);
}

Test(steer, call_id_at_the_end_of_a_cut_datagram_is_not_guessed)
{
	static const char m[] = "BYE sip:b@x SIP/2.0\r\nCall-ID: abc";
	struct steer_scan s;

	steer_scan_init(&s, shard_owner_seed(), 2, 0);
	for (size_t i = 0; i < sizeof(m) - 1; i++)
		steer_scan_byte(&s, (unsigned char)m[i]);
	cr_assert_eq(steer_scan_end(&s, 0), -1);
	agree(m, 2);
}

/* Every corpus message: the scanner agrees with the shards or has no
 * opinion (then the kernel's choice and the hand-off decide). */
static void corpus_dir_agrees(const char *dir, const char *suffix,
			      unsigned *decidedp)
{
	char **names = NULL;
	int n = corpus_list(dir, suffix, &names);

	cr_assert_gt(n, 0, "%s: no files (SIPEDGE_CORPUS=%s)", dir,
		     corpus_dir());
	for (int i = 0; i < n; i++) {
		char *data = NULL;
		size_t len = 0;
		int k, u;

		if (corpus_read(names[i], &data, &len))
			continue;
		if (len >= 9 && !memcmp(data, "REGISTER ", 9)) {
			free(data);
			continue; /* by AOR: the program leaves it alone */
		}
		for (unsigned ns = 2; ns <= 3; ns++) {
			k = scan(data, len, ns);
			u = userspace(data, len, ns);
			cr_assert(k < 0 || k == u, "%s: scanner %d, shards %d",
				  names[i], k, u);
			*decidedp += k >= 0;
		}
		free(data);
	}
	corpus_list_free(names, n);
}

Test(steer, corpus_scanner_agrees_or_abstains)
{
	unsigned decided = 0;

	corpus_dir_agrees("rfc4475/valid", ".dat", &decided);
	corpus_dir_agrees("rfc4475/invalid", ".dat", &decided);
	corpus_dir_agrees("protos", ".sip", &decided);
	corpus_dir_agrees("pjsip-seed", ".sip", &decided);
	/* Not a scanner that always abstains. */
	cr_assert_gt(decided, 300);
}
