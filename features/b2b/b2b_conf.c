/* features/b2b/b2b_conf.c - the b2b: section: schema, checks, defaults */
#include "features/b2b/b2b_conf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cyaml/cyaml.h>

#include "proxy/base/err.h"
#include "proxy/sip/peer.h"

/* What libcyaml loads; 0 means "not in the file" (workers: given[]). */
struct raw_b2b_domain {
	char *domain;
	int rel100; /* enum b2b_100rel + 1 */
};

struct raw_media {
	char *ports;
	char *sounds;
};

struct raw_b2b {
	unsigned workers;
	char *listen;
	int rel100; /* enum b2b_100rel + 1 */
	unsigned answer_guard_s;
	struct raw_b2b_domain *domains;
	unsigned domains_count;
	struct raw_media media;
};

struct raw {
	struct raw_b2b b2b;
};

static const cyaml_strval_t rel100_strings[] = {
	{ "no", B2B_100REL_NO + 1 },
	{ "supported", B2B_100REL_SUPPORTED + 1 },
	{ "required", B2B_100REL_REQUIRED + 1 },
	{ "peer_supported", B2B_100REL_PEER_SUPPORTED + 1 },
};

static const cyaml_schema_field_t domain_fields[] = {
	CYAML_FIELD_STRING_PTR("domain", CYAML_FLAG_POINTER,
			       struct raw_b2b_domain, domain, 1, 253),
	CYAML_FIELD_ENUM("100rel", CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT,
			 struct raw_b2b_domain, rel100, rel100_strings,
			 CYAML_ARRAY_LEN(rel100_strings)),
	CYAML_FIELD_END
};

static const cyaml_schema_value_t domain_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_b2b_domain,
			    domain_fields),
};

static const cyaml_schema_field_t media_fields[] = {
	CYAML_FIELD_STRING_PTR("ports",
			       CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			       struct raw_media, ports, 1, 32),
	CYAML_FIELD_STRING_PTR("sounds",
			       CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			       struct raw_media, sounds, 1, 1024),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t b2b_fields[] = {
	CYAML_FIELD_UINT("workers", CYAML_FLAG_OPTIONAL, struct raw_b2b,
			 workers),
	CYAML_FIELD_STRING_PTR("listen",
			       CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			       struct raw_b2b, listen, 1, 64),
	CYAML_FIELD_ENUM("100rel", CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT,
			 struct raw_b2b, rel100, rel100_strings,
			 CYAML_ARRAY_LEN(rel100_strings)),
	CYAML_FIELD_UINT("answer_guard_s", CYAML_FLAG_OPTIONAL, struct raw_b2b,
			 answer_guard_s),
	CYAML_FIELD_SEQUENCE("domains",
			     CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			     struct raw_b2b, domains, &domain_entry, 0, 256),
	CYAML_FIELD_MAPPING("media", CYAML_FLAG_OPTIONAL, struct raw_b2b, media,
			    media_fields),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t top_fields[] = {
	CYAML_FIELD_MAPPING("b2b", CYAML_FLAG_OPTIONAL, struct raw, b2b,
			    b2b_fields),
	CYAML_FIELD_END
};

static const char default_listen[] = "127.0.0.1:0";

const char *b2b_100rel_name(enum b2b_100rel r)
{
	for (size_t i = 0; i < CYAML_ARRAY_LEN(rel100_strings); i++)
		if (rel100_strings[i].val == (int64_t)r + 1)
			return rel100_strings[i].str;
	return "?";
}

int b2b_conf_addr_parse(const char *s, struct sockaddr_storage *ss,
			socklen_t *lenp)
{
	if (peer_hostport_parse_any(s, ss, lenp) < 0)
		return -EINVAL;
	return peer_addr_is_loopback(ss) ? 0 : -EPERM;
}

int b2b_conf_ports_parse(const char *s, uint16_t *minp, uint16_t *maxp)
{
	unsigned long a, b;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	a = strtoul(s, &end, 10);
	if (*end != '-' || end[1] < '0' || end[1] > '9')
		return -EINVAL;
	b = strtoul(end + 1, &end, 10);
	if (*end || a < 1024 || b > 65535 || a > b)
		return -EINVAL;
	/* RTP takes even ports (RFC 3550 §11): at least one. */
	if ((a + 1) / 2 * 2 > b)
		return -EINVAL;
	*minp = (uint16_t)a;
	*maxp = (uint16_t)b;
	return 0;
}

static const struct conf_range ranges[] = {
	{ "b2b.workers", 0, B2B_MAX_WORKERS },
	{ "b2b.answer_guard_s", 1, 3600 },
	{ NULL, 0, 0 },
};

static int check(const char *spath, const char *path, const char *v, char *why,
		 size_t whylen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int err;

	if (strcmp(spath, "b2b.domains.domain") == 0)
		return conf_domain_check(path, v, why, whylen);
	if (strcmp(spath, "b2b.media.ports") == 0) {
		uint16_t a, b;

		if (b2b_conf_ports_parse(v, &a, &b) == 0)
			return 0;
		snprintf(why, whylen,
			 "%s: '%.32s' is not a port range FIRST-LAST "
			 "(1024..65535, FIRST <= LAST, with an even port, "
			 "like 20000-29999)",
			 path, v);
		return ERR_CONFIG;
	}
	if (strcmp(spath, "b2b.listen") != 0)
		return 0;
	err = b2b_conf_addr_parse(v, &ss, &len);
	if (err == -EPERM) {
		/* Only a loopback source is one nobody outside can forge:
		 * the proxy trusts the pool's address (pool_is_source()). */
		snprintf(why, whylen,
			 "%s: '%.64s' is not a loopback address (127.0.0.0/8 "
			 "or [::1]): the pool's socket is internal",
			 path, v);
		return ERR_CONFIG;
	}
	if (err) {
		snprintf(why, whylen,
			 "%s: '%.64s' is not HOST:PORT (a loopback IP and a "
			 "port, 0 for a free one, like 127.0.0.1:0 or "
			 "[::1]:5090)",
			 path, v);
		return ERR_CONFIG;
	}
	return 0;
}

/* Bit 0 of conf_ctx.given: "workers: 0" turns the pool off. */
static const char *const given[] = { "b2b.workers", NULL };

static int build(void *out, const void *raw, const struct conf_ctx *x)
{
	const struct raw_b2b *r = &((const struct raw *)raw)->b2b;
	struct b2b_conf *bc = out;
	const char *l = r->listen ? r->listen : default_listen;

	bc->workers = (x->given & 1u) ? r->workers : 2;
	bc->rel100 =
	    r->rel100 ? (enum b2b_100rel)(r->rel100 - 1) : B2B_100REL_SUPPORTED;
	bc->answer_guard_s = r->answer_guard_s ? r->answer_guard_s : 20;
	bc->listen = strdup(l);
	if (!bc->listen)
		return -ENOMEM;
	if (r->domains_count) {
		bc->domains = calloc(r->domains_count, sizeof(*bc->domains));
		if (!bc->domains)
			return -ENOMEM;
	}
	for (unsigned i = 0; i < r->domains_count; i++) {
		struct b2b_domain *d = &bc->domains[i];
		const char *what = NULL;

		d->domain = conf_lower_dup(r->domains[i].domain);
		if (!d->domain)
			return -ENOMEM;
		bc->ndomains = i + 1;
		d->rel100 = r->domains[i].rel100
				? (enum b2b_100rel)(r->domains[i].rel100 - 1)
				: bc->rel100;
		if (!conf_is_domain(x->c, d->domain, strlen(d->domain)))
			what = "not one of the served domains";
		for (unsigned k = 0; k < i && !what; k++)
			if (strcmp(bc->domains[k].domain, d->domain) == 0)
				what = "given twice";
		if (what) {
			snprintf(x->why, x->whylen, "b2b.domains: %s: %s",
				 d->domain, what);
			return ERR_CONFIG;
		}
	}
	bc->media_port_min = 20000;
	bc->media_port_max = 29999;
	if (r->media.ports &&
	    b2b_conf_ports_parse(r->media.ports, &bc->media_port_min,
				 &bc->media_port_max) < 0) {
		snprintf(x->why, x->whylen,
			 "b2b.media.ports: %s: not FIRST-LAST", r->media.ports);
		return ERR_CONFIG;
	}
	if (r->media.sounds) {
		bc->media_sounds = strdup(r->media.sounds);
		if (!bc->media_sounds)
			return -ENOMEM;
	}
	if (b2b_conf_addr_parse(l, &bc->addr, &bc->addrlen) < 0) {
		snprintf(x->why, x->whylen,
			 "b2b.listen: %s: not a loopback "
			 "HOST:PORT",
			 l);
		return ERR_CONFIG; /* the walk said why for a file's value */
	}
	return 0;
}

static void fini(void *out)
{
	struct b2b_conf *bc = out;

	free(bc->listen);
	for (unsigned i = 0; i < bc->ndomains; i++)
		free(bc->domains[i].domain);
	free(bc->domains);
	free(bc->media_sounds);
}

const struct conf_section b2b_conf_section = {
	.name = "b2b",
	.fields = top_fields,
	.raw_size = sizeof(struct raw),
	.size = sizeof(struct b2b_conf),
	.ranges = ranges,
	.check = check,
	.given = given,
	.build = build,
	.free = fini,
};

const struct b2b_conf *b2b_conf(const struct conf *c)
{
	static const struct b2b_conf none;
	const struct b2b_conf *bc = conf_section_get(c, &b2b_conf_section);

	return bc ? bc : &none;
}

enum b2b_100rel b2b_100rel_for(const struct conf *c, struct slice domain)
{
	const struct b2b_conf *bc = b2b_conf(c);

	for (unsigned i = 0; i < bc->ndomains; i++)
		if (slice_caseeq_cstr(domain, bc->domains[i].domain))
			return bc->domains[i].rel100;
	return bc->rel100;
}
