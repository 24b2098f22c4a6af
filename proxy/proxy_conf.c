/* proxy/proxy_conf.c - the proxy role's sections: schema, checks,
 * defaults */
#include "proxy/proxy_conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>
#include <sys/random.h>

#include <cyaml/cyaml.h>
#include <nettle/sha2.h>

#include "proxy/base/err.h"
#include "proxy/base/log.h"
#include "proxy/sip/hdr.h"
#include "proxy/sip/peer.h"
#include "proxy/sip/uri.h"

enum { RAW_BOOL_TRUE = 1, RAW_BOOL_FALSE = 2 };

/* What libcyaml loads; 0 means "not in the file". */
struct raw_proxy {
	int record_route; /* RAW_BOOL_* */
	unsigned t1_ms;
	unsigned t2_ms;
	unsigned t4_ms;
	unsigned timer_c_s;
	char *topology_hiding_key;
};

struct raw_route {
	char *domain;
	char *prefix;
	char **next_hop;
	unsigned next_hop_count;
	int topology_hiding; /* RAW_BOOL_* */
	int srtp;	     /* PROXY_SRTP_* + 1, 0: not given */
};

struct raw_location {
	char *aor;
	char **contacts;
	unsigned contacts_count;
};

struct raw {
	struct raw_proxy proxy;
	struct raw_route *routes;
	unsigned routes_count;
	struct raw_location *locations;
	unsigned locations_count;
};

static const cyaml_strval_t bool_strings[] = {
	{ "true", RAW_BOOL_TRUE },
	{ "false", RAW_BOOL_FALSE },
};

static const cyaml_schema_field_t proxy_fields[] = {
	CYAML_FIELD_ENUM("record_route",
			 CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT,
			 struct raw_proxy, record_route, bool_strings,
			 CYAML_ARRAY_LEN(bool_strings)),
	CYAML_FIELD_UINT("t1_ms", CYAML_FLAG_OPTIONAL, struct raw_proxy, t1_ms),
	CYAML_FIELD_UINT("t2_ms", CYAML_FLAG_OPTIONAL, struct raw_proxy, t2_ms),
	CYAML_FIELD_UINT("t4_ms", CYAML_FLAG_OPTIONAL, struct raw_proxy, t4_ms),
	CYAML_FIELD_UINT("timer_c_s", CYAML_FLAG_OPTIONAL, struct raw_proxy,
			 timer_c_s),
	CYAML_FIELD_STRING_PTR("topology_hiding_key",
			       CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			       struct raw_proxy, topology_hiding_key, 0, 1024),
	CYAML_FIELD_END
};

static const cyaml_schema_value_t uri_entry = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 1, 256),
};

/* routes[].srtp: the media rtpengine offers that trunk (proxy/rtpe.h). */
static const cyaml_strval_t srtp_strings[] = {
	{ "off", PROXY_SRTP_OFF + 1 },
	{ "sdes", PROXY_SRTP_SDES + 1 },
	{ "dtls", PROXY_SRTP_DTLS + 1 },
};

static const cyaml_schema_field_t route_fields[] = {
	CYAML_FIELD_STRING_PTR("domain",
			       CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			       struct raw_route, domain, 1, 253),
	CYAML_FIELD_STRING_PTR("prefix",
			       CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			       struct raw_route, prefix, 1, 32),
	CYAML_FIELD_SEQUENCE("next_hop", CYAML_FLAG_POINTER, struct raw_route,
			     next_hop, &uri_entry, 1, CONF_MAX_NEXT_HOPS),
	CYAML_FIELD_ENUM("topology_hiding",
			 CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT,
			 struct raw_route, topology_hiding, bool_strings,
			 CYAML_ARRAY_LEN(bool_strings)),
	CYAML_FIELD_ENUM("srtp", CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT,
			 struct raw_route, srtp, srtp_strings,
			 CYAML_ARRAY_LEN(srtp_strings)),
	CYAML_FIELD_END
};

static const cyaml_schema_value_t route_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_route, route_fields),
};

static const cyaml_schema_field_t location_fields[] = {
	CYAML_FIELD_STRING_PTR("aor", CYAML_FLAG_POINTER, struct raw_location,
			       aor, 3, 256),
	CYAML_FIELD_SEQUENCE("contacts", CYAML_FLAG_POINTER,
			     struct raw_location, contacts, &uri_entry, 1,
			     CONF_MAX_CONTACTS),
	CYAML_FIELD_END
};

static const cyaml_schema_value_t location_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_location,
			    location_fields),
};

static const cyaml_schema_field_t top_fields[] = {
	CYAML_FIELD_MAPPING("proxy", CYAML_FLAG_OPTIONAL, struct raw, proxy,
			    proxy_fields),
	CYAML_FIELD_SEQUENCE("routes", CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			     struct raw, routes, &route_entry, 0, 1024),
	CYAML_FIELD_SEQUENCE("locations",
			     CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			     struct raw, locations, &location_entry, 0, 10000),
	CYAML_FIELD_END
};

static const struct conf_one_of one_of[] = {
	{ "routes", "domain", "prefix" },
	{ NULL, NULL, NULL },
};

static const struct conf_range ranges[] = {
	{ "proxy.t1_ms", 10, 10000 },
	{ "proxy.t2_ms", 10, 60000 },
	{ "proxy.t4_ms", 10, 60000 },
	{ "proxy.timer_c_s", 1, 3600 },
	{ NULL, 0, 0 },
};

/* Digits and '+', '*', '#': a number prefix (routes[].prefix). */
static int check_prefix(const char *path, const char *v, char *why,
			size_t whylen)
{
	if (strspn(v, "0123456789+*#") == strlen(v))
		return 0;
	snprintf(why, whylen,
		 "%s: '%.40s' is not a number prefix (digits, +, *, #)", path,
		 v);
	return ERR_CONFIG;
}

/*
 * A sip: URI whose host is an IP literal: sipedge never resolves names
 * on a shard. Only transport=udp, tcp or tls (or sips:). With @p nameaddr, the
 * value may be "<uri>;q=0.5" (a Contact with header parameters).
 */
static int check_uri(const char *path, const char *v, bool nameaddr, char *why,
		     size_t whylen)
{
	struct conf_target t;
	struct slice uri;

	switch (proxy_conf_target_parse(v, nameaddr, &t, &uri)) {
	case 0:
		return 0;
	case -EPROTONOSUPPORT:
		snprintf(why, whylen,
			 "%s: '%.80s': transport must be udp, tcp or tls", path,
			 v);
		break;
	case -EDESTADDRREQ:
		snprintf(why, whylen,
			 "%s: '%.80s': the host must be an IP address "
			 "(no DNS)",
			 path, v);
		break;
	case -ERANGE:
		snprintf(why, whylen, "%s: '%.80s': q must be 0 .. 1", path, v);
		break;
	default:
		snprintf(why, whylen, "%s: '%.80s' is not a sip: URI", path, v);
		break;
	}
	return ERR_CONFIG;
}

/* "user@domain", both parts non-empty, no spaces or brackets. */
static int check_aor(const char *path, const char *v, char *why, size_t whylen)
{
	const char *at = strchr(v, '@');

	if (at && at != v && at[1] && !strchr(at + 1, '@') &&
	    !strpbrk(v, " \t<>;:\""))
		return 0;
	snprintf(why, whylen,
		 "%s: '%.80s' is not an address of record (user@domain)", path,
		 v);
	return ERR_CONFIG;
}

/* The topology hiding secret: 16 .. 256 printable characters (it is
 * hashed into the key; a short one could be guessed). */
static int check_th_key(const char *path, const char *v, char *why,
			size_t whylen)
{
	size_t n = strlen(v);

	if (n < 16 || n > 256) {
		snprintf(why, whylen,
			 "%s: must be 16 to 256 characters (has %zu)", path, n);
		return ERR_CONFIG;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x21 || (unsigned char)v[i] > 0x7e) {
			snprintf(why, whylen,
				 "%s: only printable characters without "
				 "spaces",
				 path);
			return ERR_CONFIG;
		}
	return 0;
}

static int check(const char *spath, const char *path, const char *v, char *why,
		 size_t whylen)
{
	if (strcmp(spath, "proxy.topology_hiding_key") == 0)
		return check_th_key(path, v, why, whylen);
	if (strcmp(spath, "routes.domain") == 0)
		return conf_domain_check(path, v, why, whylen);
	if (strcmp(spath, "routes.prefix") == 0)
		return check_prefix(path, v, why, whylen);
	if (strcmp(spath, "routes.next_hop") == 0)
		return check_uri(path, v, false, why, whylen);
	if (strcmp(spath, "locations.aor") == 0)
		return check_aor(path, v, why, whylen);
	if (strcmp(spath, "locations.contacts") == 0)
		return check_uri(path, v, true, why, whylen);
	return 0;
}

int proxy_conf_target_parse(const char *s, bool nameaddr, struct conf_target *t,
			    struct slice *urip)
{
	struct slice v = slice_cstr(s), val;
	struct nameaddr na;
	struct sipuri u;
	char host[64];
	uint64_t q = 1000;
	int r;

	memset(t, 0, sizeof(*t));
	/* Without < > the whole value is the URI, parameters included. */
	if (nameaddr && strchr(s, '<')) {
		if (nameaddr_parse(v, &na) < 0)
			return -EINVAL;
		v = na.uri;
		r = hdr_param_find(na.params, "q", &val);
		if (r < 0)
			return -EINVAL;
		if (r > 0) {
			/* "0", "1", "0.5", "0.125", "1.000" (RFC 3261 §20.10)
			 */
			char d[4] = { '0', '0', '0', 0 };
			struct slice frac;

			if (val.len == 0 ||
			    (val.p[0] != '0' && val.p[0] != '1'))
				return -ERANGE;
			if (val.len > 1 && (val.p[1] != '.' || val.len > 5))
				return -ERANGE;
			frac = val.len > 2 ? slice_make(val.p + 2, val.len - 2)
					   : slice_make(NULL, 0);
			for (size_t i = 0; i < frac.len; i++) {
				if (frac.p[i] < '0' || frac.p[i] > '9')
					return -ERANGE;
				d[i] = frac.p[i];
			}
			q = (uint64_t)(val.p[0] - '0') * 1000 +
			    (uint64_t)((d[0] - '0') * 100 + (d[1] - '0') * 10 +
				       (d[2] - '0'));
			if (q > 1000)
				return -ERANGE;
		}
	}
	if (uri_parse(v, &u) < 0 ||
	    (u.scheme != URI_SIP && u.scheme != URI_SIPS))
		return -EINVAL;
	/* A next hop may be a name, resolved per RFC 3263 (proxy/dns.h);
	 * a contact may not. */
	if (nameaddr && !u.host_is_ipv4 && !u.host_is_ipv6)
		return -EDESTADDRREQ;
	r = uri_param(&u, "transport", &val);
	/* sips: and ;transport=tls are TLS (RFC 3261 §26.2.2). */
	t->proto = u.scheme == URI_SIPS ? PEER_TLS : PEER_UDP;
	if (r > 0 && slice_caseeq_cstr(val, "tls"))
		t->proto = PEER_TLS;
	else if (r > 0 && slice_caseeq_cstr(val, "tcp"))
		t->proto = u.scheme == URI_SIPS ? PEER_TLS : PEER_TCP;
	else if (r > 0 &&
		 (!slice_caseeq_cstr(val, "udp") || u.scheme == URI_SIPS))
		return -EPROTONOSUPPORT;
	if (!u.host_is_ipv4 && !u.host_is_ipv6) {
		/* addrlen 0: the route resolves t->uri when it is used. */
		t->q = (uint16_t)q;
		*urip = v;
		return 0;
	}
	if (u.host.len + 1 > sizeof(host))
		return -EDESTADDRREQ;
	if (u.host_is_ipv6)
		slice_cstr_copy(slice_make(u.host.p + 1, u.host.len - 2), host,
				sizeof(host));
	else
		slice_cstr_copy(u.host, host, sizeof(host));
	if (peer_addr_parse(host,
			    u.port		   ? u.port
			    : t->proto == PEER_TLS ? 5061
						   : 5060,
			    &t->addr, &t->addrlen) < 0)
		return -EDESTADDRREQ;
	t->q = (uint16_t)q;
	*urip = v;
	return 0;
}

const struct conf_route *proxy_conf_route_find(const struct conf *c,
					       struct slice ruri_host,
					       struct slice ruri_user)
{
	const struct proxy_conf *pc = proxy_conf(c);

	for (unsigned i = 0; i < pc->nroutes; i++) {
		const struct conf_route *r = &pc->routes[i];

		if (r->domain && slice_caseeq_cstr(ruri_host, r->domain))
			return r;
		if (r->prefix && ruri_user.len >= strlen(r->prefix) &&
		    memcmp(ruri_user.p, r->prefix, strlen(r->prefix)) == 0)
			return r;
	}
	return NULL;
}

static int build_targets(const char *const *uris, unsigned n, bool nameaddr,
			 struct conf_target **tp, unsigned *np)
{
	struct conf_target *t = calloc(n ? n : 1, sizeof(*t));
	struct slice uri;

	if (!t)
		return -ENOMEM;
	*tp = t;
	for (unsigned i = 0; i < n; i++) {
		if (proxy_conf_target_parse(uris[i], nameaddr, &t[i], &uri) < 0)
			return ERR_CONFIG;
		t[i].uri = strndup(uri.p, uri.len);
		if (!t[i].uri)
			return -ENOMEM;
		*np = i + 1;
	}
	return 0;
}

static uint8_t random_th_key[32];
static pthread_once_t random_th_key_once = PTHREAD_ONCE_INIT;

static void random_th_key_init(void)
{
	size_t got = 0;

	/* Bounded: getrandom() returns at most 256 bytes per call. */
	for (int i = 0; i < 8 && got < sizeof(random_th_key); i++) {
		ssize_t n = getrandom(random_th_key + got,
				      sizeof(random_th_key) - got, 0);

		if (n > 0)
			got += (size_t)n;
	}
}

/* proxy.topology_hiding_key hashed, or the process's random key (one
 * per process, so a reload keeps the dialogs of the running one). */
static void th_key(struct proxy_conf *pc, const char *secret)
{
	struct sha256_ctx h;

	if (!secret) {
		pthread_once(&random_th_key_once, random_th_key_init);
		memcpy(pc->th_key, random_th_key, sizeof(pc->th_key));
		return;
	}
	sha256_init(&h);
	sha256_update(&h, sizeof("sipedge topology hiding") - 1,
		      (const uint8_t *)"sipedge topology hiding");
	sha256_update(&h, strlen(secret), (const uint8_t *)secret);
	sha256_digest(&h, sizeof(pc->th_key), pc->th_key);
	pc->th_key_given = true;
}

static unsigned or_default(unsigned v, unsigned def)
{
	return v ? v : def;
}

static int build(void *out, const void *raw, const struct conf_ctx *x)
{
	const struct raw *r = raw;
	struct proxy_conf *pc = out;
	int err;

	pc->record_route = r->proxy.record_route != RAW_BOOL_FALSE;
	pc->t1_ms = or_default(r->proxy.t1_ms, 500);
	pc->t2_ms = or_default(r->proxy.t2_ms, 4000);
	/* RFC 3261 §17.1.2.2: T2 is the cap of a doubling T1. */
	if (pc->t2_ms < pc->t1_ms)
		pc->t2_ms = pc->t1_ms;
	pc->t4_ms = or_default(r->proxy.t4_ms, 5000);
	pc->timer_c_s = or_default(r->proxy.timer_c_s, 180);
	if (r->routes_count) {
		pc->routes = calloc(r->routes_count, sizeof(*pc->routes));
		if (!pc->routes)
			return -ENOMEM;
	}
	for (unsigned i = 0; i < r->routes_count; i++) {
		const struct raw_route *rr = &r->routes[i];
		struct conf_route *cr = &pc->routes[i];

		pc->nroutes = i + 1;
		if ((rr->domain &&
		     !(cr->domain = conf_lower_dup(rr->domain))) ||
		    (rr->prefix && !(cr->prefix = strdup(rr->prefix))))
			return -ENOMEM;
		err = build_targets((const char *const *)rr->next_hop,
				    rr->next_hop_count, false, &cr->next_hop,
				    &cr->nnext_hop);
		if (err)
			return err;
		cr->topology_hiding = rr->topology_hiding == RAW_BOOL_TRUE;
		pc->th_any |= cr->topology_hiding;
		cr->srtp =
		    rr->srtp ? (enum proxy_srtp)(rr->srtp - 1) : PROXY_SRTP_OFF;
		/* A hidden trunk is known by its address (proxy/topoh.h):
		 * its next hops must be IP literals. */
		for (unsigned k = 0; cr->topology_hiding && k < cr->nnext_hop;
		     k++)
			if (!cr->next_hop[k].addrlen) {
				snprintf(x->why, x->whylen,
					 "routes[%u].next_hop[%u]: '%.80s': "
					 "topology_hiding needs an IP "
					 "address, not a name",
					 i, k, cr->next_hop[k].uri);
				return ERR_CONFIG;
			}
	}
	th_key(pc, r->proxy.topology_hiding_key);
	if (pc->th_any && !pc->th_key_given)
		log_msg(LOG_WARN,
			"routes: topology_hiding without "
			"proxy.topology_hiding_key: a random key, so hidden "
			"dialogs break on restart and across nodes");
	if (r->locations_count) {
		pc->locations =
		    calloc(r->locations_count, sizeof(*pc->locations));
		if (!pc->locations)
			return -ENOMEM;
	}
	for (unsigned i = 0; i < r->locations_count; i++) {
		const struct raw_location *rl = &r->locations[i];
		struct conf_location *cl = &pc->locations[i];

		pc->nlocations = i + 1;
		cl->aor = strdup(rl->aor);
		if (!cl->aor)
			return -ENOMEM;
		err = build_targets((const char *const *)rl->contacts,
				    rl->contacts_count, true, &cl->contacts,
				    &cl->ncontacts);
		if (err)
			return err;
	}
	return 0;
}

static void fini(void *out)
{
	struct proxy_conf *pc = out;

	for (unsigned i = 0; i < pc->nroutes; i++) {
		free(pc->routes[i].domain);
		free(pc->routes[i].prefix);
		for (unsigned k = 0; k < pc->routes[i].nnext_hop; k++)
			free(pc->routes[i].next_hop[k].uri);
		free(pc->routes[i].next_hop);
	}
	free(pc->routes);
	for (unsigned i = 0; i < pc->nlocations; i++) {
		free(pc->locations[i].aor);
		for (unsigned k = 0; k < pc->locations[i].ncontacts; k++)
			free(pc->locations[i].contacts[k].uri);
		free(pc->locations[i].contacts);
	}
	free(pc->locations);
}

const struct conf_section proxy_conf_section = {
	.name = "proxy",
	.fields = top_fields,
	.raw_size = sizeof(struct raw),
	.size = sizeof(struct proxy_conf),
	.ranges = ranges,
	.check = check,
	.one_of = one_of,
	.build = build,
	.free = fini,
};

const struct proxy_conf *proxy_conf(const struct conf *c)
{
	static const struct proxy_conf none;
	const struct proxy_conf *pc = conf_section_get(c, &proxy_conf_section);

	return pc ? pc : &none;
}
