/* tests/unit/proxy/test_conf_features.c - config: the features section
 * (GRUU, intercom, paging groups) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "proxy/base/err.h"
#include "proxy/base/obj.h"
#include "proxy/core/conf.h"
#include "features/features_conf.h"
#include "tests/unit/conftest.h"

static struct conf *c;
static char err[512];

static void setup(void)
{
	conftest_init(&c, err, sizeof(err));
}

TestSuite(conf_features, .init = setup, .fini = conftest_fini, .timeout = 10);

Test(conf_features, defaults_gruu_on_no_intercom_entries)
{
	cr_assert_eq(conf_load(NULL, &c, err, sizeof(err)), 0, "%s", err);
	cr_assert(features_conf(c)->gruu);
	cr_assert_eq(features_conf(c)->nintercom, 0);
	cr_assert_null(features_conf(c)->intercom);
	conf_free(c);
	c = NULL;
	cr_assert_eq(conftest_load("features:\n  gruu: false\n"), 0, "%s", err);
	cr_assert_not(features_conf(c)->gruu);
}

Test(conf_features, full_intercom_section)
{
	static const char text[] =
	    "domains: [example.com, Other.Example]\n"
	    "features:\n"
	    "  gruu: true\n"
	    "  intercom:\n"
	    "    - domain: Example.COM\n"
	    "      code: \"*8#\"\n"
	    "      allow: [alice, bob.smith]\n"
	    "      default_profile: answer-mode\n"
	    "      profiles:\n"
	    "        - user_agent: \"Yealink SIP-T46\"\n"
	    "          profile: alertinfo-answerafter\n"
	    "        - user_agent: Polycom\n"
	    "          profile: polycom\n"
	    "      groups:\n"
	    "        - number: \"1\"\n"
	    "          members: [alice, bob.smith, carol]\n"
	    "        - number: \"22\"\n"
	    "          members: [dave]\n"
	    "    - domain: other.example\n"
	    "      enabled: false\n";
	const struct conf_intercom *d;

	cr_assert_eq(conftest_load(text), 0, "%s", err);
	cr_assert(features_conf(c)->gruu);
	cr_assert_eq(features_conf(c)->nintercom, 2);
	d = &features_conf(c)->intercom[0];
	cr_assert_str_eq(d->domain, "example.com");
	cr_assert(d->enabled);
	cr_assert_str_eq(d->code, "*8#");
	cr_assert_eq(d->nallow, 2);
	cr_assert_str_eq(d->allow[1], "bob.smith");
	cr_assert_eq(d->default_profile, CONF_AA_ANSWER_MODE);
	cr_assert_eq(d->nprofiles, 2);
	cr_assert_str_eq(d->profiles[0].user_agent, "Yealink SIP-T46");
	cr_assert_eq(d->profiles[0].profile, CONF_AA_ALERT_ANSWERAFTER);
	cr_assert_eq(d->profiles[1].profile, CONF_AA_POLYCOM);
	cr_assert_eq(d->ngroups, 2);
	cr_assert_str_eq(d->groups[0].number, "1");
	cr_assert_eq(d->groups[0].nmembers, 3);
	cr_assert_str_eq(d->groups[0].members[2], "carol");
	cr_assert_str_eq(d->groups[1].members[0], "dave");
	d = &features_conf(c)->intercom[1];
	cr_assert_not(d->enabled);
	/* Defaults of an entry. */
	cr_assert_str_eq(d->code, "*6");
	cr_assert_eq(d->nallow, 0);
	cr_assert_eq(d->default_profile, CONF_AA_CALLINFO);
	cr_assert_eq(d->ngroups, 0);
}

Test(conf_features, every_profile_name)
{
	static const struct {
		const char *name;
		enum conf_aa p;
	} names[] = {
		{ "callinfo", CONF_AA_CALLINFO },
		{ "alertinfo-autoanswer", CONF_AA_ALERT_AUTOANSWER },
		{ "alertinfo-answerafter", CONF_AA_ALERT_ANSWERAFTER },
		{ "polycom", CONF_AA_POLYCOM },
		{ "uri-intercom", CONF_AA_URI_INTERCOM },
		{ "answer-mode", CONF_AA_ANSWER_MODE },
	};
	char text[256];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(text, sizeof(text),
			 "features:\n  intercom:\n    - domain: localhost\n"
			 "      default_profile: %s\n",
			 names[i].name);
		cr_assert_eq(conftest_load(text), 0, "%s: %s", names[i].name,
			     err);
		cr_assert_eq(features_conf(c)->intercom[0].default_profile,
			     names[i].p);
		conf_free(c);
		c = NULL;
	}
}

Test(conf_features, bad_values_name_key_and_line)
{
	conftest_expect_error("features:\n  gruu: yes\n", "t.yaml:2: ", "gruu");
	conftest_expect_error(
	    "features:\n  intercom:\n    - domain: localhost\n"
	    "      default_profile: cisco\n",
	    "t.yaml:4: ", "not one of");
	conftest_expect_error(
	    "features:\n  intercom:\n    - domain: localhost\n"
	    "      code: \"*6a\"\n",
	    "t.yaml:4: ", "not a feature code");
	conftest_expect_error(
	    "features:\n  intercom:\n    - domain: localhost\n"
	    "      code: \"*123456789\"\n",
	    "t.yaml:4: ", "too long");
	conftest_expect_error(
	    "features:\n  intercom:\n    - domain: localhost\n"
	    "      allow: [\"al ice\"]\n",
	    "t.yaml:4: ", "not a user name");
	conftest_expect_error(
	    "features:\n  intercom:\n    - domain: localhost\n"
	    "      groups:\n        - number: \"1a\"\n"
	    "          members: [a]\n",
	    "t.yaml:5: ", "not a number");
	conftest_expect_error(
	    "features:\n  intercom:\n    - domain: localhost\n"
	    "      groups:\n        - number: \"1\"\n"
	    "          members: [\"a<b>\"]\n",
	    "t.yaml:6: ", "not a user name");
	conftest_expect_error(
	    "features:\n  intercom:\n    - domain: localhost\n"
	    "      groups:\n        - number: \"1\"\n",
	    "t.yaml:5: ", "members");
	conftest_expect_error("features:\n  intercom:\n    - code: \"*6\"\n",
			      "t.yaml:3: ", "domain");
	conftest_expect_error(
	    "features:\n  intercom:\n    - domain: localhost\n"
	    "      profiles:\n        - user_agent: x\n"
	    "          profile: callinfo\n          level: 3\n",
	    "t.yaml:7: ", "unknown key");
	conftest_expect_error("features:\n  pager: true\n",
			      "t.yaml:2: ", "unknown key 'features.pager'");
}

Test(conf_features, domains_must_be_served_and_unique)
{
	conftest_expect_error(
	    "features:\n  intercom:\n    - domain: example.org\n",
	    "t.yaml: ", "not one of the served domains");
	conftest_expect_error(
	    "features:\n  intercom:\n    - domain: localhost\n"
	    "    - domain: LOCALHOST\n",
	    "t.yaml: ", "given twice");
	conftest_expect_error(
	    "features:\n  intercom:\n    - domain: localhost\n"
	    "      groups:\n"
	    "        - number: \"1\"\n          members: [a]\n"
	    "        - number: \"1\"\n          members: [b]\n",
	    "t.yaml: ", "paging group number");
}
