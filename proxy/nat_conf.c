/* proxy/nat_conf.c - the nat: section: schema, checks, defaults */
#include "proxy/nat_conf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cyaml/cyaml.h>

#include "proxy/base/err.h"

enum { RAW_BOOL_TRUE = 1, RAW_BOOL_FALSE = 2 };
enum { RAW_OPTIONS = 1, RAW_CRLF = 2 };

struct raw_keepalive {
	int method; /* RAW_OPTIONS, RAW_CRLF */
	unsigned interval_s;
	unsigned failures;
};

/* What libcyaml loads; 0 means "not in the file". */
struct raw_nat {
	int detect; /* RAW_BOOL_* */
	struct raw_keepalive keepalive;
	char **private_ranges;
	unsigned private_ranges_count;
};

struct raw {
	struct raw_nat nat;
};

static const cyaml_strval_t bool_strings[] = {
	{ "true", RAW_BOOL_TRUE },
	{ "false", RAW_BOOL_FALSE },
};

static const cyaml_strval_t method_strings[] = {
	{ "options", RAW_OPTIONS },
	{ "crlf", RAW_CRLF },
};

static const cyaml_schema_field_t keepalive_fields[] = {
	CYAML_FIELD_ENUM("method", CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT,
			 struct raw_keepalive, method, method_strings,
			 CYAML_ARRAY_LEN(method_strings)),
	CYAML_FIELD_UINT("interval_s", CYAML_FLAG_OPTIONAL,
			 struct raw_keepalive, interval_s),
	CYAML_FIELD_UINT("failures", CYAML_FLAG_OPTIONAL, struct raw_keepalive,
			 failures),
	CYAML_FIELD_END
};

static const cyaml_schema_value_t range_entry = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 1, 64),
};

static const cyaml_schema_field_t nat_fields[] = {
	CYAML_FIELD_ENUM("detect", CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT,
			 struct raw_nat, detect, bool_strings,
			 CYAML_ARRAY_LEN(bool_strings)),
	CYAML_FIELD_MAPPING("keepalive", CYAML_FLAG_OPTIONAL, struct raw_nat,
			    keepalive, keepalive_fields),
	CYAML_FIELD_SEQUENCE(
	    "private_ranges", CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
	    struct raw_nat, private_ranges, &range_entry, 0, NAT_MAX_RANGES),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t top_fields[] = {
	CYAML_FIELD_MAPPING("nat", CYAML_FLAG_OPTIONAL, struct raw, nat,
			    nat_fields),
	CYAML_FIELD_END
};

static const char *const given[] = { "nat.keepalive.interval_s",
				     "nat.private_ranges", NULL };

/* The defaults: RFC 1918, RFC 6598 shared address space (carrier-grade
 * NAT), RFC 4193 unique local addresses. */
static const struct nat_conf dflt = {
	.detect = true,
	.method = NAT_OPTIONS,
	.interval_s = NAT_INTERVAL_S_DEFAULT,
	.failures = NAT_FAILURES_DEFAULT,
	.ranges = {
		{ AF_INET, { 10 }, 8 },
		{ AF_INET, { 172, 16 }, 12 },
		{ AF_INET, { 192, 168 }, 16 },
		{ AF_INET, { 100, 64 }, 10 },
		{ AF_INET6, { 0xfc }, 7 },
	},
	.nranges = 5,
};

int nat_range_parse(const char *s, struct nat_range *r)
{
	char ip[64];
	const char *slash = strchr(s, '/');
	unsigned long prefix;
	char *end;
	size_t n;

	if (!slash || slash == s || !slash[1])
		return -EINVAL;
	n = (size_t)(slash - s);
	if (n >= sizeof(ip))
		return -EINVAL;
	memcpy(ip, s, n);
	ip[n] = '\0';
	errno = 0;
	prefix = strtoul(slash + 1, &end, 10);
	if (*end || errno || slash[1] < '0' || slash[1] > '9')
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	if (inet_pton(AF_INET, ip, r->net) == 1) {
		r->family = AF_INET;
		if (prefix > 32)
			return -EINVAL;
	} else if (inet_pton(AF_INET6, ip, r->net) == 1) {
		r->family = AF_INET6;
		if (prefix > 128)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	r->prefix = (unsigned)prefix;
	return 0;
}

static int check(const char *spath, const char *path, const char *v, char *why,
		 size_t whylen)
{
	struct nat_range r;

	if (strcmp(spath, "nat.private_ranges") != 0 ||
	    nat_range_parse(v, &r) == 0)
		return 0;
	snprintf(why, whylen,
		 "%s: '%.64s' is not an address range (ADDRESS/PREFIX, "
		 "IPv4 or IPv6)",
		 path, v);
	return ERR_CONFIG;
}

static const struct conf_range ranges[] = {
	{ "nat.keepalive.interval_s", 0, 3600 },
	{ "nat.keepalive.failures", 1, 100 },
	{ NULL, 0, 0 },
};

static int build(void *out, const void *raw, const struct conf_ctx *x)
{
	const struct raw_nat *r = &((const struct raw *)raw)->nat;
	struct nat_conf *nc = out;

	*nc = dflt;
	nc->detect = r->detect != RAW_BOOL_FALSE;
	if (r->keepalive.method == RAW_CRLF)
		nc->method = NAT_CRLF;
	if (x->given & 1u)
		nc->interval_s = r->keepalive.interval_s;
	if (r->keepalive.failures)
		nc->failures = r->keepalive.failures;
	if (x->given & 2u) {
		nc->nranges = 0;
		for (unsigned i = 0; i < r->private_ranges_count; i++) {
			/* check() accepted the text already. */
			if (nat_range_parse(r->private_ranges[i],
					    &nc->ranges[i]))
				return ERR_CONFIG;
			nc->nranges = i + 1;
		}
	}
	return 0;
}

const struct conf_section nat_conf_section = {
	.name = "nat",
	.fields = top_fields,
	.raw_size = sizeof(struct raw),
	.size = sizeof(struct nat_conf),
	.ranges = ranges,
	.check = check,
	.given = given,
	.build = build,
};

const struct nat_conf *nat_conf(const struct conf *c)
{
	const struct nat_conf *nc =
	    c ? conf_section_get(c, &nat_conf_section) : NULL;

	return nc ? nc : &dflt;
}
