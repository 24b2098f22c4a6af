/* proxy/core/log_conf.c - the log: section: schema, defaults */
#include "proxy/core/log_conf.h"

#include <cyaml/cyaml.h>

enum { RAW_BOOL_TRUE = 1, RAW_BOOL_FALSE };

struct raw_log {
	int requests; /* RAW_BOOL_*, 0: not given */
	int target;   /* enum log_target + 1, 0: not given */
};

struct raw {
	struct raw_log log;
};

static const cyaml_strval_t bool_strings[] = {
	{ "true", RAW_BOOL_TRUE },
	{ "false", RAW_BOOL_FALSE },
};

static const cyaml_strval_t target_strings[] = {
	{ "stderr", LOG_TARGET_STDERR + 1 },
	{ "syslog", LOG_TARGET_SYSLOG + 1 },
	{ "journal", LOG_TARGET_JOURNAL + 1 },
};

static const cyaml_schema_field_t log_fields[] = {
	CYAML_FIELD_ENUM("requests", CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT,
			 struct raw_log, requests, bool_strings,
			 CYAML_ARRAY_LEN(bool_strings)),
	CYAML_FIELD_ENUM("target", CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT,
			 struct raw_log, target, target_strings,
			 CYAML_ARRAY_LEN(target_strings)),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t top_fields[] = {
	CYAML_FIELD_MAPPING("log", CYAML_FLAG_OPTIONAL, struct raw, log,
			    log_fields),
	CYAML_FIELD_END
};

static int build(void *out, const void *raw, const struct conf_ctx *x)
{
	const struct raw_log *r = &((const struct raw *)raw)->log;
	struct log_conf *lc = out;

	(void)x;
	lc->requests = r->requests == RAW_BOOL_TRUE;
	lc->target =
	    r->target ? (enum log_target)(r->target - 1) : LOG_TARGET_STDERR;
	return 0;
}

const struct conf_section log_conf_section = {
	.name = "log",
	.fields = top_fields,
	.raw_size = sizeof(struct raw),
	.size = sizeof(struct log_conf),
	.build = build,
};

const struct log_conf *log_conf(const struct conf *c)
{
	static const struct log_conf none;
	const struct log_conf *lc = conf_section_get(c, &log_conf_section);

	return lc ? lc : &none;
}

int log_conf_apply(const struct conf *c)
{
	const struct log_conf *lc = log_conf(c);
	int err = log_set_target(lc->target);

	log_set_requests(lc->requests);
	return err;
}
