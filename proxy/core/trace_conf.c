/* proxy/core/trace_conf.c - the trace: section: schema, checks, start */
#include "proxy/core/trace_conf.h"

#include <stdio.h>
#include <string.h>

#include <cyaml/cyaml.h>

#include "proxy/base/err.h"
#include "proxy/base/log.h"

struct raw_trace {
	char *call_id;
	char *aor;
	char *file;
	char *hep;
	unsigned capture_id;
};

struct raw {
	struct raw_trace trace; /* all zero: no section */
};

static const cyaml_schema_field_t trace_fields[] = {
	CYAML_FIELD_STRING_PTR(
	    "call_id", CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
	    struct raw_trace, call_id, 1, TRACE_FILTER_MAX - 1),
	CYAML_FIELD_STRING_PTR("aor", CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			       struct raw_trace, aor, 1, TRACE_FILTER_MAX - 1),
	CYAML_FIELD_STRING_PTR("file", CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			       struct raw_trace, file, 1, 511),
	CYAML_FIELD_STRING_PTR("hep", CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			       struct raw_trace, hep, 1, 64),
	CYAML_FIELD_UINT("capture_id", CYAML_FLAG_OPTIONAL, struct raw_trace,
			 capture_id),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t top_fields[] = {
	CYAML_FIELD_MAPPING("trace", CYAML_FLAG_OPTIONAL, struct raw, trace,
			    trace_fields),
	CYAML_FIELD_END
};

static const struct conf_one_of one_of[] = {
	{ "trace", "call_id", "aor" },
	{ NULL, NULL, NULL },
};

/* The checks that have a line to name; build() checks the rest. */
static int check(const char *spath, const char *path, const char *v, char *why,
		 size_t whylen)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (strcmp(spath, "trace.hep") == 0 &&
	    peer_hostport_parse(v, &ss, &len) < 0) {
		snprintf(why, whylen,
			 "%s: '%.64s' is not HOST:PORT (an IP address and a "
			 "port, like 127.0.0.1:9060)",
			 path, v);
		return ERR_CONFIG;
	}
	if (strcmp(spath, "trace.file") == 0 && v[0] != '/') {
		snprintf(why, whylen, "%s: '%.64s' is not an absolute path",
			 path, v);
		return ERR_CONFIG;
	}
	return 0;
}

static int build(void *out, const void *raw, const struct conf_ctx *x)
{
	const struct raw_trace *r = &((const struct raw *)raw)->trace;
	struct trace_conf *tc = out;
	char reason[160];

	/* The walk let no empty mapping through (one_of): no key, no
	 * section. */
	if (!r->call_id && !r->aor && !r->file && !r->hep)
		return 0;
	if (trace_spec_make(&tc->spec, r->call_id, r->aor, r->file, r->hep,
			    r->capture_id, reason, sizeof(reason))) {
		snprintf(x->why, x->whylen, "trace: %s", reason);
		return ERR_CONFIG;
	}
	tc->on = true;
	return 0;
}

const struct conf_section trace_conf_section = {
	.name = "trace",
	.fields = top_fields,
	.raw_size = sizeof(struct raw),
	.size = sizeof(struct trace_conf),
	.check = check,
	.one_of = one_of,
	.build = build,
};

const struct trace_conf *trace_conf(const struct conf *c)
{
	static const struct trace_conf none;
	const struct trace_conf *tc = conf_section_get(c, &trace_conf_section);

	return tc ? tc : &none;
}

int trace_conf_apply(const struct conf *c)
{
	const struct trace_conf *tc = trace_conf(c);
	int err;

	if (!tc->on)
		return 0;
	err = trace_start(&tc->spec);
	if (err) {
		log_msg(LOG_ERR, "trace: %s%s%s", tc->spec.file,
			tc->spec.file[0] ? ": " : "", err_str(err));
		return err;
	}
	log_msg(LOG_NOTICE, "trace: started for %s %s, by the configuration",
		tc->spec.filter == TRACE_CALL_ID ? "Call-ID" : "AOR",
		tc->spec.value);
	return 0;
}
