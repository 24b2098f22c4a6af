/* registrar/reg_conf.c - the registrar: section: schema, checks, defaults */
#include "registrar/reg_conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cyaml/cyaml.h>

#include "proxy/base/err.h"
#include "proxy/sip/digest.h"
#include "proxy/sip/msg.h"

/* What libcyaml loads; 0 means "not in the file". */
struct raw_reg_domain {
	char *domain;
	int *algorithms; /* enum digest_alg */
	unsigned algorithms_count;
};

struct raw_registrar {
	char **trusted;
	unsigned trusted_count;
	unsigned min_expires_s;
	unsigned max_expires_s;
	unsigned default_expires_s;
	char *users_file;
	unsigned auth_methods; /* 1 << enum sip_method */
	unsigned nonce_ttl_s;
	char *secret;
	unsigned max_auth_failures;
	unsigned max_auth_failures_source;
	unsigned auth_failure_window_s;
	unsigned auth_ban_s;
	int *algorithms; /* enum digest_alg */
	unsigned algorithms_count;
	int hide_users; /* 0: not given, 1: false, 2: true */
	struct raw_reg_domain *domains;
	unsigned domains_count;
};

struct raw {
	struct raw_registrar registrar;
};

/* Methods that can be made to need authentication (registrar.auth_methods):
 * bits 1 << enum sip_method. */
static const cyaml_strval_t method_strings[] = {
	{ "REGISTER", 1u << SIP_REGISTER },
	{ "INVITE", 1u << SIP_INVITE },
	{ "MESSAGE", 1u << SIP_MESSAGE },
	{ "SUBSCRIBE", 1u << SIP_SUBSCRIBE },
	{ "REFER", 1u << SIP_REFER },
	{ "PUBLISH", 1u << SIP_PUBLISH },
	{ "OPTIONS", 1u << SIP_OPTIONS },
	{ "NOTIFY", 1u << SIP_NOTIFY },
	{ "INFO", 1u << SIP_INFO },
	{ "UPDATE", 1u << SIP_UPDATE },
	{ "BYE", 1u << SIP_BYE },
};

/* registrar.algorithms: digest algorithms by their header names too. */
static const cyaml_strval_t alg_strings[] = {
	{ "md5", DIGEST_MD5 },
	{ "MD5", DIGEST_MD5 },
	{ "sha-256", DIGEST_SHA256 },
	{ "SHA-256", DIGEST_SHA256 },
};

static const cyaml_schema_value_t alg_entry = {
	CYAML_VALUE_ENUM(CYAML_FLAG_STRICT, int, alg_strings,
			 CYAML_ARRAY_LEN(alg_strings)),
};

static const cyaml_schema_field_t domain_fields[] = {
	CYAML_FIELD_STRING_PTR("domain", CYAML_FLAG_POINTER,
			       struct raw_reg_domain, domain, 1, 253),
	CYAML_FIELD_SEQUENCE("algorithms", CYAML_FLAG_POINTER,
			     struct raw_reg_domain, algorithms, &alg_entry, 1,
			     2),
	CYAML_FIELD_END
};

static const cyaml_schema_value_t domain_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_reg_domain,
			    domain_fields),
};

/* 0 means "not given", so false and true are 1 and 2. */
static const cyaml_strval_t bool_strings[] = {
	{ "false", 1 },
	{ "true", 2 },
};

static const cyaml_schema_value_t cidr_entry = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 1, 64),
};

static const cyaml_schema_field_t registrar_fields[] = {
	CYAML_FIELD_SEQUENCE(
	    "trusted", CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
	    struct raw_registrar, trusted, &cidr_entry, 0, 256),
	CYAML_FIELD_UINT("min_expires_s", CYAML_FLAG_OPTIONAL,
			 struct raw_registrar, min_expires_s),
	CYAML_FIELD_UINT("max_expires_s", CYAML_FLAG_OPTIONAL,
			 struct raw_registrar, max_expires_s),
	CYAML_FIELD_UINT("default_expires_s", CYAML_FLAG_OPTIONAL,
			 struct raw_registrar, default_expires_s),
	CYAML_FIELD_STRING_PTR("users_file",
			       CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			       struct raw_registrar, users_file, 1, 4096),
	CYAML_FIELD_FLAGS("auth_methods",
			  CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT,
			  struct raw_registrar, auth_methods, method_strings,
			  CYAML_ARRAY_LEN(method_strings)),
	CYAML_FIELD_UINT("nonce_ttl_s", CYAML_FLAG_OPTIONAL,
			 struct raw_registrar, nonce_ttl_s),
	CYAML_FIELD_STRING_PTR("secret",
			       CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			       struct raw_registrar, secret, 16, 256),
	CYAML_FIELD_UINT("max_auth_failures", CYAML_FLAG_OPTIONAL,
			 struct raw_registrar, max_auth_failures),
	CYAML_FIELD_UINT("max_auth_failures_source", CYAML_FLAG_OPTIONAL,
			 struct raw_registrar, max_auth_failures_source),
	CYAML_FIELD_UINT("auth_failure_window_s", CYAML_FLAG_OPTIONAL,
			 struct raw_registrar, auth_failure_window_s),
	CYAML_FIELD_UINT("auth_ban_s", CYAML_FLAG_OPTIONAL,
			 struct raw_registrar, auth_ban_s),
	CYAML_FIELD_SEQUENCE(
	    "algorithms", CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
	    struct raw_registrar, algorithms, &alg_entry, 1, 2),
	CYAML_FIELD_ENUM("hide_users", CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT,
			 struct raw_registrar, hide_users, bool_strings,
			 CYAML_ARRAY_LEN(bool_strings)),
	CYAML_FIELD_SEQUENCE(
	    "domains", CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
	    struct raw_registrar, domains, &domain_entry, 0, 256),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t top_fields[] = {
	CYAML_FIELD_MAPPING("registrar", CYAML_FLAG_OPTIONAL, struct raw,
			    registrar, registrar_fields),
	CYAML_FIELD_END
};

static const struct conf_range ranges[] = {
	{ "registrar.min_expires_s", 1, 86400 },
	{ "registrar.max_expires_s", 1, 604800 },
	{ "registrar.default_expires_s", 1, 604800 },
	{ "registrar.nonce_ttl_s", 1, 86400 },
	{ "registrar.max_auth_failures", 1, 1000000 },
	{ "registrar.max_auth_failures_source", 1, 1000000 },
	{ "registrar.auth_failure_window_s", 1, 86400 },
	{ "registrar.auth_ban_s", 1, 604800 },
	{ NULL, 0, 0 },
};

static int check(const char *spath, const char *path, const char *v, char *why,
		 size_t whylen)
{
	struct conf_net n;

	if (strcmp(spath, "registrar.domains.domain") == 0)
		return conf_domain_check(path, v, why, whylen);
	if (strcmp(spath, "registrar.trusted") != 0 ||
	    conf_net_parse(v, &n) == 0)
		return 0;
	snprintf(why, whylen,
		 "%s: '%.64s' is not a network in CIDR form "
		 "(like 10.0.0.0/8 or fd00::/8)",
		 path, v);
	return ERR_CONFIG;
}

/* Bit 0 of conf_ctx.given: "trusted: []" trusts nothing, no key trusts
 * loopback. */
static const char *const given[] = { "registrar.trusted", NULL };

/* registrar.domains: each a served domain, once, its algorithms each
 * once. */
static int build_domains(struct reg_conf *rc, const struct raw_registrar *g,
			 const struct conf_ctx *x)
{
	if (!g->domains_count)
		return 0;
	rc->domains = calloc(g->domains_count, sizeof(*rc->domains));
	if (!rc->domains)
		return -ENOMEM;
	for (unsigned i = 0; i < g->domains_count; i++) {
		const struct raw_reg_domain *r = &g->domains[i];
		struct reg_domain *d = &rc->domains[i];
		const char *what = NULL;

		d->domain = conf_lower_dup(r->domain);
		if (!d->domain)
			return -ENOMEM;
		rc->ndomains = i + 1;
		for (unsigned k = 0; k < r->algorithms_count; k++)
			d->algs[k] = (unsigned)r->algorithms[k];
		d->nalgs = r->algorithms_count;
		if (!conf_is_domain(x->c, d->domain, strlen(d->domain)))
			what = "not one of the served domains";
		for (unsigned k = 0; k < i && !what; k++)
			if (!strcmp(rc->domains[k].domain, d->domain))
				what = "given twice";
		if (!what && d->nalgs == 2 && d->algs[0] == d->algs[1])
			what = "an algorithm is listed twice";
		if (what) {
			snprintf(x->why, x->whylen, "registrar.domains: %s: %s",
				 d->domain, what);
			return ERR_CONFIG;
		}
	}
	return 0;
}

unsigned reg_algs(const struct reg_conf *rc, struct slice realm,
		  const unsigned **algsp)
{
	for (unsigned i = 0; i < rc->ndomains; i++)
		if (slice_caseeq_cstr(realm, rc->domains[i].domain)) {
			*algsp = rc->domains[i].algs;
			return rc->domains[i].nalgs;
		}
	*algsp = rc->algs;
	return rc->nalgs;
}

static unsigned or_default(unsigned v, unsigned def)
{
	return v ? v : def;
}

static int build_trusted(struct reg_conf *rc, const struct raw_registrar *g,
			 bool given_trusted)
{
	static const char *const def[] = { "127.0.0.0/8", "::1/128" };
	unsigned n = given_trusted ? g->trusted_count : 2;

	if (n == 0)
		return 0;
	rc->trusted = calloc(n, sizeof(*rc->trusted));
	if (!rc->trusted)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		const char *s = given_trusted ? g->trusted[i] : def[i];

		if (conf_net_parse(s, &rc->trusted[i]) < 0)
			return ERR_CONFIG;
	}
	rc->ntrusted = n;
	return 0;
}

/* The expiry bounds must be in order. */
static int build(void *out, const void *raw, const struct conf_ctx *x)
{
	const struct raw_registrar *g = &((const struct raw *)raw)->registrar;
	struct reg_conf *rc = out;
	int err;

	err = build_trusted(rc, g, x->given & 1u);
	if (err)
		return err;
	rc->min_expires_s = or_default(g->min_expires_s, 60);
	rc->max_expires_s = or_default(g->max_expires_s, 86400);
	rc->default_expires_s = or_default(g->default_expires_s, 3600);
	if (rc->min_expires_s > rc->max_expires_s ||
	    rc->default_expires_s < rc->min_expires_s ||
	    rc->default_expires_s > rc->max_expires_s) {
		snprintf(x->why, x->whylen,
			 "registrar: need min_expires_s (%u) <= "
			 "default_expires_s (%u) <= max_expires_s (%u)",
			 rc->min_expires_s, rc->default_expires_s,
			 rc->max_expires_s);
		return ERR_CONFIG;
	}
	rc->auth_methods =
	    g->auth_methods ? g->auth_methods
			    : (1u << SIP_REGISTER) | (1u << SIP_INVITE) |
				  (1u << SIP_MESSAGE) | (1u << SIP_SUBSCRIBE) |
				  (1u << SIP_REFER) | (1u << SIP_PUBLISH);
	rc->nonce_ttl_s = or_default(g->nonce_ttl_s, 300);
	rc->max_auth_failures = or_default(g->max_auth_failures, 10);
	rc->max_auth_failures_source =
	    or_default(g->max_auth_failures_source, 100);
	rc->auth_failure_window_s = or_default(g->auth_failure_window_s, 300);
	rc->auth_ban_s = or_default(g->auth_ban_s, 300);
	rc->hide_users = g->hide_users != 1;
	/* MD5 only: SIPp 3.6 answers only the first challenge, and
	 * Debian's baresip 1.0 (libre) refuses a 401 that has any SHA-256
	 * challenge ("Function not implemented") even after an MD5 one
	 * (docs/configuration.md; edge/baresip_* registers with it). */
	rc->algs[0] = DIGEST_MD5;
	rc->algs[1] = DIGEST_SHA256;
	rc->nalgs = 1;
	if (g->algorithms_count) {
		if (g->algorithms_count == 2 &&
		    g->algorithms[0] == g->algorithms[1]) {
			snprintf(
			    x->why, x->whylen,
			    "registrar.algorithms: '%s' is listed twice",
			    digest_alg_name((enum digest_alg)g->algorithms[0]));
			return ERR_CONFIG;
		}
		for (unsigned i = 0; i < g->algorithms_count; i++)
			rc->algs[i] = (unsigned)g->algorithms[i];
		rc->nalgs = g->algorithms_count;
	}
	err = build_domains(rc, g, x);
	if (err)
		return err;
	if ((g->users_file && !(rc->users_file = strdup(g->users_file))) ||
	    (g->secret && !(rc->secret = strdup(g->secret))))
		return -ENOMEM;
	return 0;
}

static void fini(void *out)
{
	struct reg_conf *rc = out;

	for (unsigned i = 0; i < rc->ndomains; i++)
		free(rc->domains[i].domain);
	free(rc->domains);
	free(rc->trusted);
	free(rc->users_file);
	free(rc->secret);
}

const struct conf_section reg_conf_section = {
	.name = "registrar",
	.fields = top_fields,
	.raw_size = sizeof(struct raw),
	.size = sizeof(struct reg_conf),
	.ranges = ranges,
	.check = check,
	.given = given,
	.build = build,
	.free = fini,
};

const struct reg_conf *reg_conf(const struct conf *c)
{
	static const struct reg_conf none;
	const struct reg_conf *rc = conf_section_get(c, &reg_conf_section);

	return rc ? rc : &none;
}

bool reg_conf_is_trusted(const struct conf *c, const struct sockaddr *sa)
{
	const struct reg_conf *rc = reg_conf(c);

	return conf_net_has(rc->trusted, rc->ntrusted, sa);
}
