/* proxy/dns_conf.c - the dns: section: schema, checks, defaults */
#include "proxy/dns_conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cyaml/cyaml.h>

#include "proxy/base/err.h"
#include "proxy/sip/peer.h"

/* What libcyaml loads; 0 means "not in the file". */
struct raw_dns {
	char **servers;
	unsigned servers_count;
	unsigned timeout_ms;
	unsigned attempts;
	unsigned cache_max;
};

struct raw {
	struct raw_dns *dns; /* NULL: no dns: section */
};

static const cyaml_schema_value_t server_entry = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 1, 47),
};

static const cyaml_schema_field_t dns_fields[] = {
	CYAML_FIELD_SEQUENCE(
	    "servers", CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER, struct raw_dns,
	    servers, &server_entry, 1, DNS_MAX_SERVERS),
	CYAML_FIELD_UINT("timeout_ms", CYAML_FLAG_OPTIONAL, struct raw_dns,
			 timeout_ms),
	CYAML_FIELD_UINT("attempts", CYAML_FLAG_OPTIONAL, struct raw_dns,
			 attempts),
	CYAML_FIELD_UINT("cache_max", CYAML_FLAG_OPTIONAL, struct raw_dns,
			 cache_max),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t top_fields[] = {
	CYAML_FIELD_MAPPING_PTR("dns", CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
				struct raw, dns, dns_fields),
	CYAML_FIELD_END
};

static int check(const char *spath, const char *path, const char *v, char *why,
		 size_t whylen)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (strcmp(spath, "dns.servers") == 0) {
		if (peer_hostport_parse(v, &ss, &len) == 0)
			return 0;
		snprintf(why, whylen,
			 "%s: '%.47s' is not a DNS server address "
			 "(IP:PORT or [IPv6]:PORT)",
			 path, v);
		return ERR_CONFIG;
	}
	return 0;
}

static const struct conf_range ranges[] = {
	{ "dns.timeout_ms", 10, 30000 },
	{ "dns.attempts", 1, 10 },
	{ "dns.cache_max", 16, 1000000 },
	{ NULL, 0, 0 },
};

static int build(void *out, const void *raw, const struct conf_ctx *x)
{
	const struct raw_dns *r = ((const struct raw *)raw)->dns;
	struct dns_conf *dc = out;
	size_t o = 0;

	(void)x;
	dc->timeout_ms = DNS_TIMEOUT_MS_DEFAULT;
	dc->attempts = DNS_ATTEMPTS_DEFAULT;
	dc->cache_max = DNS_CACHE_MAX_DEFAULT;
	if (!r)
		return 0;
	dc->enabled = true;
	if (r->timeout_ms)
		dc->timeout_ms = r->timeout_ms;
	if (r->attempts)
		dc->attempts = r->attempts;
	if (r->cache_max)
		dc->cache_max = r->cache_max;
	/* check() accepted each; c-ares takes them comma-separated. */
	for (unsigned i = 0; i < r->servers_count; i++) {
		int n = snprintf(dc->servers + o, sizeof(dc->servers) - o,
				 "%s%s", i ? "," : "", r->servers[i]);

		if (n < 0 || (size_t)n >= sizeof(dc->servers) - o)
			return ERR_CONFIG;
		o += (size_t)n;
	}
	return 0;
}

const struct conf_section dns_conf_section = {
	.name = "dns",
	.fields = top_fields,
	.raw_size = sizeof(struct raw),
	.size = sizeof(struct dns_conf),
	.ranges = ranges,
	.check = check,
	.build = build,
};

const struct dns_conf *dns_conf(const struct conf *c)
{
	static const struct dns_conf off = {
		.timeout_ms = DNS_TIMEOUT_MS_DEFAULT,
		.attempts = DNS_ATTEMPTS_DEFAULT,
		.cache_max = DNS_CACHE_MAX_DEFAULT,
	};
	const struct dns_conf *dc = conf_section_get(c, &dns_conf_section);

	return dc ? dc : &off;
}
