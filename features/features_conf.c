/* features/features_conf.c - the features: section: schema, checks,
 * defaults */
#include "features/features_conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cyaml/cyaml.h>

#include "proxy/base/err.h"

enum { RAW_BOOL_TRUE = 1, RAW_BOOL_FALSE = 2 };

/* What libcyaml loads; 0 means "not in the file". */
struct raw_aa_rule {
	char *user_agent;
	int profile; /* enum conf_aa + 1 */
};

struct raw_page_group {
	char *number;
	char **members;
	unsigned members_count;
};

struct raw_intercom {
	char *domain;
	int enabled; /* RAW_BOOL_* */
	char *code;
	char **allow;
	unsigned allow_count;
	int default_profile; /* enum conf_aa + 1 */
	struct raw_aa_rule *profiles;
	unsigned profiles_count;
	struct raw_page_group *groups;
	unsigned groups_count;
};

struct raw_features {
	int gruu; /* RAW_BOOL_* */
	struct raw_intercom *intercom;
	unsigned intercom_count;
};

struct raw {
	struct raw_features features;
};

static const cyaml_strval_t bool_strings[] = {
	{ "true", RAW_BOOL_TRUE },
	{ "false", RAW_BOOL_FALSE },
};

static const cyaml_strval_t aa_strings[] = {
	{ "callinfo", CONF_AA_CALLINFO + 1 },
	{ "alertinfo-autoanswer", CONF_AA_ALERT_AUTOANSWER + 1 },
	{ "alertinfo-answerafter", CONF_AA_ALERT_ANSWERAFTER + 1 },
	{ "polycom", CONF_AA_POLYCOM + 1 },
	{ "uri-intercom", CONF_AA_URI_INTERCOM + 1 },
	{ "answer-mode", CONF_AA_ANSWER_MODE + 1 },
};

static const cyaml_schema_value_t user_entry = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 1, 64),
};

static const cyaml_schema_field_t aa_rule_fields[] = {
	CYAML_FIELD_STRING_PTR("user_agent", CYAML_FLAG_POINTER,
			       struct raw_aa_rule, user_agent, 1, 128),
	CYAML_FIELD_ENUM("profile", CYAML_FLAG_STRICT, struct raw_aa_rule,
			 profile, aa_strings, CYAML_ARRAY_LEN(aa_strings)),
	CYAML_FIELD_END
};

static const cyaml_schema_value_t aa_rule_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_aa_rule,
			    aa_rule_fields),
};

static const cyaml_schema_field_t page_group_fields[] = {
	CYAML_FIELD_STRING_PTR("number", CYAML_FLAG_POINTER,
			       struct raw_page_group, number, 1, 16),
	CYAML_FIELD_SEQUENCE("members", CYAML_FLAG_POINTER,
			     struct raw_page_group, members, &user_entry, 1,
			     64),
	CYAML_FIELD_END
};

static const cyaml_schema_value_t page_group_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_page_group,
			    page_group_fields),
};

static const cyaml_schema_field_t intercom_fields[] = {
	CYAML_FIELD_STRING_PTR("domain", CYAML_FLAG_POINTER,
			       struct raw_intercom, domain, 1, 253),
	CYAML_FIELD_ENUM("enabled", CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT,
			 struct raw_intercom, enabled, bool_strings,
			 CYAML_ARRAY_LEN(bool_strings)),
	CYAML_FIELD_STRING_PTR("code", CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			       struct raw_intercom, code, 1, 8),
	CYAML_FIELD_SEQUENCE("allow", CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			     struct raw_intercom, allow, &user_entry, 1, 1024),
	CYAML_FIELD_ENUM("default_profile",
			 CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT,
			 struct raw_intercom, default_profile, aa_strings,
			 CYAML_ARRAY_LEN(aa_strings)),
	CYAML_FIELD_SEQUENCE(
	    "profiles", CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
	    struct raw_intercom, profiles, &aa_rule_entry, 0, 64),
	CYAML_FIELD_SEQUENCE("groups", CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			     struct raw_intercom, groups, &page_group_entry, 0,
			     256),
	CYAML_FIELD_END
};

static const cyaml_schema_value_t intercom_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_intercom,
			    intercom_fields),
};

static const cyaml_schema_field_t features_fields[] = {
	CYAML_FIELD_ENUM("gruu", CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT,
			 struct raw_features, gruu, bool_strings,
			 CYAML_ARRAY_LEN(bool_strings)),
	CYAML_FIELD_SEQUENCE(
	    "intercom", CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
	    struct raw_features, intercom, &intercom_entry, 0, 256),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t top_fields[] = {
	CYAML_FIELD_MAPPING("features", CYAML_FLAG_OPTIONAL, struct raw,
			    features, features_fields),
	CYAML_FIELD_END
};

/* A feature code: digits, '*' and '#' (features.intercom[].code). */
static int check_code(const char *path, const char *v, char *why, size_t whylen)
{
	if (strspn(v, "0123456789*#") == strlen(v))
		return 0;
	snprintf(why, whylen,
		 "%s: '%.40s' is not a feature code (digits, *, #)", path, v);
	return ERR_CONFIG;
}

static int check_digits(const char *path, const char *v, char *why,
			size_t whylen)
{
	if (strspn(v, "0123456789") == strlen(v))
		return 0;
	snprintf(why, whylen, "%s: '%.40s' is not a number (digits)", path, v);
	return ERR_CONFIG;
}

/* A user part that needs no escaping: letters, digits, -_.!~*'()&=+$,/ */
static int check_user(const char *path, const char *v, char *why, size_t whylen)
{
	for (const char *p = v; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-_.!~*'()&=+$,/", *p))
			continue;
		snprintf(why, whylen, "%s: '%.64s' is not a user name", path,
			 v);
		return ERR_CONFIG;
	}
	return 0;
}

static int check(const char *spath, const char *path, const char *v, char *why,
		 size_t whylen)
{
	if (strcmp(spath, "features.intercom.domain") == 0)
		return conf_domain_check(path, v, why, whylen);
	if (strcmp(spath, "features.intercom.code") == 0)
		return check_code(path, v, why, whylen);
	if (strcmp(spath, "features.intercom.allow") == 0 ||
	    strcmp(spath, "features.intercom.groups.members") == 0)
		return check_user(path, v, why, whylen);
	if (strcmp(spath, "features.intercom.groups.number") == 0)
		return check_digits(path, v, why, whylen);
	return 0;
}

/* One features.intercom[] entry; its domain must be served, once. */
static int build_intercom(struct features_conf *fc,
			  const struct raw_intercom *ri,
			  struct conf_intercom *ci, const struct conf_ctx *x)
{
	const char *what = NULL;

	ci->domain = conf_lower_dup(ri->domain);
	ci->code = strdup(ri->code ? ri->code : "*6");
	if (!ci->domain || !ci->code)
		return -ENOMEM;
	ci->enabled = ri->enabled != RAW_BOOL_FALSE;
	ci->default_profile = ri->default_profile
				  ? (enum conf_aa)(ri->default_profile - 1)
				  : CONF_AA_CALLINFO;
	if (ri->allow_count) {
		ci->allow = conf_strv_dup(ri->allow, ri->allow_count);
		if (!ci->allow)
			return -ENOMEM;
		ci->nallow = ri->allow_count;
	}
	if (ri->profiles_count) {
		ci->profiles =
		    calloc(ri->profiles_count, sizeof(*ci->profiles));
		if (!ci->profiles)
			return -ENOMEM;
	}
	for (unsigned i = 0; i < ri->profiles_count; i++) {
		ci->profiles[i].user_agent = strdup(ri->profiles[i].user_agent);
		if (!ci->profiles[i].user_agent)
			return -ENOMEM;
		ci->profiles[i].profile =
		    (enum conf_aa)(ri->profiles[i].profile - 1);
		ci->nprofiles = i + 1;
	}
	if (ri->groups_count) {
		ci->groups = calloc(ri->groups_count, sizeof(*ci->groups));
		if (!ci->groups)
			return -ENOMEM;
	}
	for (unsigned i = 0; i < ri->groups_count; i++) {
		const struct raw_page_group *rg = &ri->groups[i];
		struct conf_page_group *g = &ci->groups[i];

		g->number = strdup(rg->number);
		g->members = conf_strv_dup(rg->members, rg->members_count);
		if (!g->number || !g->members) {
			ci->ngroups = i + 1;
			return -ENOMEM;
		}
		g->nmembers = rg->members_count;
		ci->ngroups = i + 1;
		for (unsigned k = 0; k < i && !what; k++)
			if (strcmp(ci->groups[k].number, g->number) == 0)
				what = "a paging group number is given twice";
	}
	if (!conf_is_domain(x->c, ci->domain, strlen(ci->domain)))
		what = "domain is not one of the served domains";
	for (unsigned k = 0; k + 1 < fc->nintercom && !what; k++)
		if (strcmp(fc->intercom[k].domain, ci->domain) == 0)
			what = "domain is given twice";
	if (what) {
		snprintf(x->why, x->whylen, "features.intercom: %s: %s",
			 ci->domain, what);
		return ERR_CONFIG;
	}
	return 0;
}

static int build(void *out, const void *raw, const struct conf_ctx *x)
{
	const struct raw_features *rf = &((const struct raw *)raw)->features;
	struct features_conf *fc = out;
	int err;

	fc->gruu = rf->gruu != RAW_BOOL_FALSE;
	if (!rf->intercom_count)
		return 0;
	fc->intercom = calloc(rf->intercom_count, sizeof(*fc->intercom));
	if (!fc->intercom)
		return -ENOMEM;
	for (unsigned i = 0; i < rf->intercom_count; i++) {
		fc->nintercom = i + 1;
		err = build_intercom(fc, &rf->intercom[i], &fc->intercom[i], x);
		if (err)
			return err;
	}
	return 0;
}

static void fini(void *out)
{
	struct features_conf *fc = out;

	for (unsigned i = 0; i < fc->nintercom; i++) {
		struct conf_intercom *ci = &fc->intercom[i];

		free(ci->domain);
		free(ci->code);
		conf_strv_free(ci->allow, ci->nallow);
		for (unsigned k = 0; k < ci->nprofiles; k++)
			free(ci->profiles[k].user_agent);
		free(ci->profiles);
		for (unsigned k = 0; k < ci->ngroups; k++) {
			free(ci->groups[k].number);
			conf_strv_free(ci->groups[k].members,
				       ci->groups[k].nmembers);
		}
		free(ci->groups);
	}
	free(fc->intercom);
}

const struct conf_section features_conf_section = {
	.name = "features",
	.fields = top_fields,
	.raw_size = sizeof(struct raw),
	.size = sizeof(struct features_conf),
	.check = check,
	.build = build,
	.free = fini,
};

const struct features_conf *features_conf(const struct conf *c)
{
	static const struct features_conf none;
	const struct features_conf *fc =
	    conf_section_get(c, &features_conf_section);

	return fc ? fc : &none;
}
