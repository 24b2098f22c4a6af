/* tests/unit/features/test_originate.c - originate's extra headers:
 * what originate_header_check() takes and refuses */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "features/originate.h"

static void takes(const char *line, const char *name, const char *value)
{
	struct slice n, v;
	const char *why = "unset";

	cr_assert_eq(originate_header_check(line, &n, &v, &why), 0,
		     "%s: refused (%s)", line, why);
	cr_assert_null(why);
	cr_assert(slice_eq(n, slice_cstr(name)), "%s: name %.*s", line,
		  (int)n.len, n.p);
	cr_assert(slice_eq(v, slice_cstr(value)), "%s: value %.*s", line,
		  (int)v.len, v.p);
}

static void refuses(const char *line, const char *why_part)
{
	struct slice n = { 0 }, v = { 0 };
	const char *why = NULL;

	cr_assert_eq(originate_header_check(line, &n, &v, &why), -EINVAL,
		     "%s: taken", line);
	cr_assert_not_null(why, "%s: no reason", line);
	cr_assert(strstr(why, why_part), "%s: %s", line, why);
}

Test(originate_hdr, takes_name_value_and_trims_both)
{
	takes("X-Click: desk-42", "X-Click", "desk-42");
	takes("  Subject :  Call from the CRM  ", "Subject",
	      "Call from the CRM");
	takes("X-Empty:", "X-Empty", "");
	takes("X-Colon: a:b:c", "X-Colon", "a:b:c");
	/* Not markings: a ring tone, an icon. */
	takes("Alert-Info: <http://example.com/ring.wav>", "Alert-Info",
	      "<http://example.com/ring.wav>");
	takes("Call-Info: <http://example.com/a.png>;purpose=icon", "Call-Info",
	      "<http://example.com/a.png>;purpose=icon");
	takes("Answer-Mode: Manual", "Answer-Mode", "Manual");
}

Test(originate_hdr, refuses_what_the_ua_core_writes_in_any_case_and_form)
{
	static const char *const names[] = {
		"Via",
		"v",
		"CALL-ID",
		"i",
		"CSeq",
		"From",
		"f",
		"to",
		"T",
		"Contact",
		"m",
		"Max-Forwards",
		"Route",
		"Record-Route",
		"Content-Length",
		"l",
		"Content-Type",
		"c",
		"Content-Encoding",
		"e",
		"Require",
		"Proxy-Require",
		"Supported",
		"k",
		"Allow",
		"RSeq",
		"RAck",
	};
	char line[64];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(line, sizeof(line), "%s: x", names[i]);
		refuses(line, "writes itself");
	}
}

Test(originate_hdr, refuses_bad_lines)
{
	refuses("X-A: 1\r\nVia: SIP/2.0/UDP evil", "CR, LF");
	refuses("X-A: 1\n", "CR, LF");
	refuses("X A: 1", "not a token");
	refuses("X\"A: 1", "not a token");
	refuses("no colon", "Name: value");
	refuses(": value", "Name: value");
	refuses("", "Name: value");
}

Test(originate_hdr, refuses_auto_answer_markings)
{
	refuses("Call-Info: <sip:example.com>;answer-after=0", "intercom_a");
	refuses("Call-Info: <http://x/a.png>;purpose=icon, "
		"<sip:example.com>;answer-after=0",
		"intercom_a");
	refuses("Alert-Info: Ring-Answer", "intercom_a");
	refuses("Alert-Info: <http://x/r.wav>, alert-autoanswer", "intercom_a");
	refuses("Answer-Mode: Auto", "intercom_a");
	refuses("Priv-Answer-Mode: Auto", "intercom_a");
}
