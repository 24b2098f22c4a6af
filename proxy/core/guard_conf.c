/* proxy/core/guard_conf.c - the security: section: schema, defaults */
#include "proxy/core/guard_conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cyaml/cyaml.h>

#include "proxy/base/err.h"

struct raw_security {
	unsigned rate;
	unsigned burst;
	unsigned ban_s;
	unsigned global_rate;
	unsigned answer_budget;
	unsigned table_size;
	char **exempt;
	unsigned exempt_count;
};

struct raw {
	struct raw_security security;
};

static const cyaml_schema_value_t cidr_entry = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 1, 64),
};

static const cyaml_schema_field_t security_fields[] = {
	CYAML_FIELD_UINT("rate", CYAML_FLAG_OPTIONAL, struct raw_security,
			 rate),
	CYAML_FIELD_UINT("burst", CYAML_FLAG_OPTIONAL, struct raw_security,
			 burst),
	CYAML_FIELD_UINT("ban_s", CYAML_FLAG_OPTIONAL, struct raw_security,
			 ban_s),
	CYAML_FIELD_UINT("global_rate", CYAML_FLAG_OPTIONAL,
			 struct raw_security, global_rate),
	CYAML_FIELD_UINT("answer_budget", CYAML_FLAG_OPTIONAL,
			 struct raw_security, answer_budget),
	CYAML_FIELD_UINT("table_size", CYAML_FLAG_OPTIONAL, struct raw_security,
			 table_size),
	CYAML_FIELD_SEQUENCE("exempt", CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			     struct raw_security, exempt, &cidr_entry, 0, 256),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t top_fields[] = {
	CYAML_FIELD_MAPPING("security", CYAML_FLAG_OPTIONAL, struct raw,
			    security, security_fields),
	CYAML_FIELD_END
};

static const struct conf_range ranges[] = {
	{ "security.rate", 0, 1000000 },
	{ "security.burst", 1, 1000000 },
	{ "security.ban_s", 1, 86400 },
	{ "security.global_rate", 0, 10000000 },
	{ "security.answer_budget", 0, 16777216 },
	{ "security.table_size", 64, 16777216 },
	{ NULL, 0, 0 },
};

static int check(const char *spath, const char *path, const char *v, char *why,
		 size_t whylen)
{
	struct conf_net n;

	if (strcmp(spath, "security.exempt") != 0 || conf_net_parse(v, &n) == 0)
		return 0;
	snprintf(why, whylen,
		 "%s: '%.64s' is not a network in CIDR form "
		 "(like 192.0.2.0/24 or 2001:db8::/32)",
		 path, v);
	return ERR_CONFIG;
}

static int build(void *out, const void *raw, const struct conf_ctx *x)
{
	const struct raw_security *r = &((const struct raw *)raw)->security;
	struct guard_conf *gc = out;

	(void)x;
	gc->rate = r->rate;
	gc->burst = r->burst ? r->burst : (r->rate ? r->rate : 1);
	gc->ban_s = r->ban_s ? r->ban_s : 60;
	gc->global_rate = r->global_rate;
	gc->answer_budget = r->answer_budget;
	gc->table_size = r->table_size ? r->table_size : 65536;
	if (r->exempt_count) {
		gc->exempt = calloc(r->exempt_count, sizeof(*gc->exempt));
		if (!gc->exempt)
			return -ENOMEM;
		for (unsigned i = 0; i < r->exempt_count; i++)
			if (conf_net_parse(r->exempt[i], &gc->exempt[i]) < 0)
				return ERR_CONFIG;
		gc->nexempt = r->exempt_count;
	}
	return 0;
}

static void fini(void *out)
{
	struct guard_conf *gc = out;

	free(gc->exempt);
}

const struct conf_section guard_conf_section = {
	.name = "security",
	.fields = top_fields,
	.raw_size = sizeof(struct raw),
	.size = sizeof(struct guard_conf),
	.ranges = ranges,
	.check = check,
	.build = build,
	.free = fini,
};

const struct guard_conf *guard_conf(const struct conf *c)
{
	static const struct guard_conf none = { .burst = 1,
						.ban_s = 60,
						.table_size = 65536 };
	const struct guard_conf *gc = conf_section_get(c, &guard_conf_section);

	return gc ? gc : &none;
}
