/* tests/unit/proxy/sip/test_corpus.c - the parser against RFC 4475, PROTOS and
 * pjsip seeds */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "proxy/base/obj.h"
#include "proxy/sip/msg.h"
#include "tests/common/corpus.h"
#include "tests/common/guard.h"
#include "tests/common/teardown.h"

#define MAX_HDRS 64

static struct siphdr hdrs[MAX_HDRS];
static char *data;
static char *copy;

static void setup(void)
{
	data = NULL;
	copy = NULL;
}

static void unload(void);

static void teardown(void)
{
	unload();
	teardown_check_objs(0);
}

TestSuite(sipcorpus, .init = setup, .fini = teardown, .timeout = 60);

/* One corpus file; fixed-size fields so that the array is one block. */
struct corpus_case {
	char file[128];
	char name[32];
	char class[16];
	char expected[16];
};

static void free_cases(struct criterion_test_params *ctp)
{
	cr_free(ctp->params);
}

/* Drop the file load() read. */
static void unload(void)
{
	guard_free(copy);
	free(data);
	copy = NULL;
	data = NULL;
}

/* Read corpus file @p rel into a guarded copy (kept until .fini). */
static size_t load(const char *rel)
{
	size_t len;
	int err;

	unload();
	err = corpus_read(rel, &data, &len);

	cr_assert_eq(err, 0, "%s: %s (SIPEDGE_CORPUS=%s)", rel, strerror(-err),
		     corpus_dir());
	copy = guard_copy(data, len);
	cr_assert_not_null(copy);
	return len;
}

/*
 * What every input must survive: a datagram parse, a stream parse,
 * framing and the Call-ID peek, all without reading past the end.
 */
static void survive(const char *buf, size_t len)
{
	struct sipmsg m;
	struct slice id;
	const char *fault = NULL;
	int ret;

	ret = sipmsg_parse(&m, buf, len, hdrs, MAX_HDRS, 0);
	cr_assert(ret > 0 || ret == -EBADMSG || ret == -E2BIG, "datagram: %d",
		  ret);
	if (ret < 0)
		cr_assert_not_null(m.fault);
	else
		cr_assert_leq((size_t)ret, len);
	ret = sipmsg_parse(&m, buf, len, hdrs, MAX_HDRS, SIPMSG_STREAM);
	cr_assert(ret > 0 || ret == -EBADMSG || ret == -E2BIG || ret == -EAGAIN,
		  "stream: %d", ret);
	if (ret > 0)
		cr_assert_eq((size_t)ret, m.len + (size_t)(m.buf - buf));
	ret = sipmsg_frame(buf, len, 65536, 1 << 20, &fault);
	cr_assert(ret > 0 || ret == -EBADMSG || ret == -EAGAIN ||
		      ret == -EMSGSIZE,
		  "frame: %d", ret);
	if (ret == -EBADMSG)
		cr_assert_not_null(fault);
	if (ret > 0)
		cr_assert_leq((size_t)ret, len);
	ret = sipmsg_peek_call_id(buf, len, &id);
	cr_assert(ret == 0 || ret == -ENOENT, "peek: %d", ret);
	if (ret == 0)
		cr_assert(id.len > 0 && id.p >= buf &&
			  id.p + id.len <= buf + len);
}

ParameterizedTestParameters(sipcorpus, rfc4475_message_gets_its_verdict)
{
	struct corpus_row *rows = NULL;
	struct corpus_case *cases;
	int n = corpus_manifest("rfc4475/MANIFEST.tsv", &rows);

	if (n <= 0)
		return cr_make_param_array(struct corpus_case, NULL, 0, NULL);
	cases = cr_calloc((size_t)n, sizeof(*cases));
	for (int i = 0; cases && i < n; i++) {
		snprintf(cases[i].file, sizeof(cases[i].file), "rfc4475/%s",
			 rows[i].ncol > 0 ? rows[i].col[0] : "");
		snprintf(cases[i].name, sizeof(cases[i].name), "%s",
			 rows[i].ncol > 1 ? rows[i].col[1] : "");
		snprintf(cases[i].class, sizeof(cases[i].class), "%s",
			 rows[i].ncol > 2 ? rows[i].col[2] : "");
		snprintf(cases[i].expected, sizeof(cases[i].expected), "%s",
			 rows[i].ncol > 3 ? rows[i].col[3] : "");
	}
	corpus_rows_free(rows, n);
	return cr_make_param_array(struct corpus_case, cases,
				   cases ? (size_t)n : 0, free_cases);
}

/* The fault each RFC 4475 invalid message must be rejected with. */
static const struct {
	const char *name, *fault;
} faults[] = {
	{ "badinv01", "Malformed Via" },
	{ "clerr", "Bad Content-Length" },
	{ "ncl", "Bad Content-Length" },
	{ "scalar02", "Malformed CSeq" },
	{ "scalarlg", "Malformed CSeq" },
	{ "quotbal", "Malformed To" },
	{ "ltgtruri", "Malformed Request-URI" },
	{ "lwsruri", "Malformed Request-URI" },
	{ "lwsstart", "Malformed Request-Line" },
	{ "trws", "Malformed Request-Line" },
	{ "escruri", "Malformed Request-URI" },
	{ "regbadct", "Malformed Contact" },
	{ "badaspec", "Malformed To" },
	{ "baddn", "Malformed From" },
	{ "mismatch01", "CSeq Method Mismatch" },
	{ "mismatch02", "CSeq Method Mismatch" },
	{ "bigcode", "Malformed Status-Line" },
	{ "insuf", "Missing From" },
	{ "multi01", "Duplicate CSeq" },
	{ "mcl01", "Duplicate Content-Length" },
};

static const char *fault_of(const char *name)
{
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++)
		if (strcmp(faults[i].name, name) == 0)
			return faults[i].fault;
	return NULL;
}

ParameterizedTest(struct corpus_case *c, sipcorpus,
		  rfc4475_message_gets_its_verdict)
{
	size_t len = load(c->file);
	const char *want = fault_of(c->name);
	struct sipmsg m;
	int ret;

	survive(copy, len);
	ret = sipmsg_parse(&m, copy, len, hdrs, MAX_HDRS, 0);
	if (strcmp(c->class, "valid") == 0) {
		/* Parsed and routed, never 400 (whatever else is answered). */
		cr_assert_gt(ret, 0, "%s: %d %s", c->name, ret,
			     m.fault ? m.fault : "");
		cr_assert_null(m.fault);
		if (strcmp(c->name, "dblreq") == 0) {
			/* UDP: only the REGISTER; the INVITE is ignored. */
			cr_assert_lt(m.len, len);
			cr_assert_eq(m.method, SIP_REGISTER);
			cr_assert_not_null(memmem(copy + m.len, len - m.len,
						  "INVITE sip:", 11));
			cr_assert_null(memmem(m.buf, m.len, "INVITE", 6));
		} else {
			cr_assert_eq(m.len, len, "%s", c->name);
		}
		return;
	}
	cr_assert_str_eq(c->class, "invalid");
	if (strcmp(c->name, "baddate") == 0 ||
	    strcmp(c->name, "badvers") == 0) {
		/*
		 * Semantic, decided later: a proxy may forward a bad Date;
		 * the 505 for SIP/7.0 is the core's.
		 */
		cr_assert_gt(ret, 0, "%s: %s", c->name, m.fault);
		return;
	}
	cr_assert_not_null(want, "no expected fault for %s", c->name);
	cr_assert_eq(ret, -EBADMSG, "%s: %d", c->name, ret);
	cr_assert_str_eq(m.fault, want, "%s", c->name);
	if (strcmp(c->expected, "drop") == 0)
		/* Responses: rejected, and the code did not wrap. */
		cr_assert(m.status == 0 ||
			  (m.status >= 100 && m.status <= 699));
}

Test(sipcorpus, rfc4475_framing_cases_on_a_stream)
{
	struct sipmsg m;
	size_t len;

	/* clerr: Content-Length 9999 with 154 octets: wait for more. */
	len = load("rfc4475/invalid/clerr.dat");
	cr_assert_eq(sipmsg_parse(&m, copy, len, hdrs, MAX_HDRS, SIPMSG_STREAM),
		     -EAGAIN);
	/* ncl: negative length: cannot be resynchronised. */
	len = load("rfc4475/invalid/ncl.dat");
	cr_assert_eq(sipmsg_parse(&m, copy, len, hdrs, MAX_HDRS, SIPMSG_STREAM),
		     -EBADMSG);
	cr_assert_eq(m.len, 0);
	/* dblreq: two requests back to back. */
	len = load("rfc4475/valid/dblreq.dat");
	{
		int first =
		    sipmsg_parse(&m, copy, len, hdrs, MAX_HDRS, SIPMSG_STREAM);

		cr_assert_gt(first, 0);
		cr_assert_eq(m.method, SIP_REGISTER);
		int second = sipmsg_parse(&m, copy + first, len - (size_t)first,
					  hdrs, MAX_HDRS, SIPMSG_STREAM);

		/* The INVITE, after the CRLF between them, framed by its
		 * Content-Length (the archive has 5 more octets after it). */
		cr_assert_gt(second, 0);
		cr_assert_eq(m.method, SIP_INVITE);
		cr_assert_eq(m.buf, copy + first + 2);
		cr_assert_eq(m.body.len, 150);
		cr_assert_lt((size_t)first + (size_t)second, len);
	}
}

/* A ParameterizedTestParameters body for every @p suffix file in @p dir. */
static struct criterion_test_params list_cases(const char *dir,
					       const char *suffix)
{
	char **names = NULL;
	struct corpus_case *cases;
	int n = corpus_list(dir, suffix, &names);

	if (n <= 0)
		return cr_make_param_array(struct corpus_case, NULL, 0, NULL);
	cases = cr_calloc((size_t)n, sizeof(*cases));
	for (int i = 0; cases && i < n; i++)
		snprintf(cases[i].file, sizeof(cases[i].file), "%s", names[i]);
	corpus_list_free(names, n);
	return cr_make_param_array(struct corpus_case, cases,
				   cases ? (size_t)n : 0, free_cases);
}

ParameterizedTestParameters(sipcorpus, protos_case_never_crashes_the_parser)
{
	return list_cases("protos", ".sip");
}

ParameterizedTest(struct corpus_case *c, sipcorpus,
		  protos_case_never_crashes_the_parser)
{
	size_t len = load(c->file);

	survive(copy, len);
}

ParameterizedTestParameters(sipcorpus, pjsip_seed_never_crashes_the_parser)
{
	return list_cases("pjsip-seed", ".sip");
}

ParameterizedTest(struct corpus_case *c, sipcorpus,
		  pjsip_seed_never_crashes_the_parser)
{
	size_t len = load(c->file);

	survive(copy, len);
}

Test(sipcorpus, holds_every_expected_file)
{
	struct corpus_row *rows = NULL;
	char **names = NULL;
	int n;

	n = corpus_manifest("rfc4475/MANIFEST.tsv", &rows);
	cr_assert_eq(n, 49, "rfc4475 manifest: %d rows (corpus at %s)", n,
		     corpus_dir());
	corpus_rows_free(rows, n);
	n = corpus_manifest("protos/MANIFEST.tsv", &rows);
	cr_assert_eq(n, 325, "protos manifest: %d rows", n);
	corpus_rows_free(rows, n);
	n = corpus_list("protos", ".sip", &names);
	cr_assert_eq(n, 325, "protos: %d files", n);
	corpus_list_free(names, n);
	n = corpus_list("pjsip-seed", ".sip", &names);
	cr_assert_eq(n, 18, "pjsip-seed: %d files", n);
	corpus_list_free(names, n);
}

Test(sipcorpus, protos_valid_case_parses_cleanly)
{
	size_t len = load("protos/protos-0000000-valid.sip");
	struct sipmsg m;

	cr_assert_eq(sipmsg_parse(&m, copy, len, hdrs, MAX_HDRS, 0), (int)len);
	cr_assert_eq(m.method, SIP_INVITE);
	cr_assert_eq(m.content_length, 119);
}

/*
 * Every prefix of a few messages in stream mode: a valid message gives
 * -EAGAIN until it is whole; any message gives a result or -EAGAIN.
 */
static void prefixes(const char *rel, bool valid)
{
	size_t len = load(rel);

	for (size_t n = 0; n <= len; n++) {
		char *g = guard_copy(data, n);
		struct sipmsg m;
		int ret;

		cr_assert_not_null(g);
		ret = sipmsg_parse(&m, g, n, hdrs, MAX_HDRS, SIPMSG_STREAM);
		if (valid && n < len)
			cr_assert_eq(ret, -EAGAIN, "%s: prefix %zu gave %d",
				     rel, n, ret);
		else if (valid)
			cr_assert_eq(ret, (int)len, "%s: %s", rel, m.fault);
		else
			cr_assert(ret == -EAGAIN || ret == -EBADMSG || ret > 0,
				  "%s: prefix %zu gave %d", rel, n, ret);
		guard_free(g);
	}
}

Test(sipcorpus, every_stream_prefix_waits_or_parses)
{
	prefixes("rfc4475/valid/wsinv.dat", true);
	prefixes("rfc4475/valid/mpart01.dat", true);
	prefixes("rfc4475/valid/longreq.dat", true);
	prefixes("rfc4475/invalid/badinv01.dat", false);
	prefixes("pjsip-seed/fuzz-sip__input.3.sip", false);
}
