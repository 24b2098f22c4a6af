/* proxy/mgmt/mgmt_conf.c - the management: section: schema, checks, defaults
 */
#include "proxy/mgmt/mgmt_conf.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cyaml/cyaml.h>

#include "proxy/base/err.h"
#include "proxy/sip/peer.h"

struct raw_mgmt {
	char **listen;
	unsigned listen_count;
	char *token;
	unsigned max_connections;
	unsigned timeout_s;
};

struct raw {
	struct raw_mgmt management;
};

static const cyaml_schema_value_t listen_entry = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 1, 64),
};

static const cyaml_schema_field_t mgmt_fields[] = {
	CYAML_FIELD_SEQUENCE("listen", CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			     struct raw_mgmt, listen, &listen_entry, 0,
			     MGMT_MAX_LISTEN),
	CYAML_FIELD_STRING_PTR("token",
			       CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			       struct raw_mgmt, token, 1, 256),
	CYAML_FIELD_UINT("max_connections", CYAML_FLAG_OPTIONAL,
			 struct raw_mgmt, max_connections),
	CYAML_FIELD_UINT("timeout_s", CYAML_FLAG_OPTIONAL, struct raw_mgmt,
			 timeout_s),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t top_fields[] = {
	CYAML_FIELD_MAPPING("management", CYAML_FLAG_OPTIONAL, struct raw,
			    management, mgmt_fields),
	CYAML_FIELD_END
};

int mgmt_conf_addr_parse(const char *s, struct sockaddr_storage *ss,
			 socklen_t *lenp)
{
	return peer_hostport_parse(s, ss, lenp);
}

static const struct conf_range ranges[] = {
	{ "management.max_connections", 1, 1024 },
	{ "management.timeout_s", 1, 3600 },
	{ NULL, 0, 0 },
};

static int check(const char *spath, const char *path, const char *v, char *why,
		 size_t whylen)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (strcmp(spath, "management.listen") == 0 &&
	    mgmt_conf_addr_parse(v, &ss, &len) < 0) {
		snprintf(why, whylen,
			 "%s: '%.64s' is not HOST:PORT (an IP address and a "
			 "port, like 127.0.0.1:5080 or [::1]:5080)",
			 path, v);
		return ERR_CONFIG;
	}
	if (strcmp(spath, "management.token") == 0 && strlen(v) < 16) {
		snprintf(why, whylen,
			 "%s: too short (%zu characters; at least 16)", path,
			 strlen(v));
		return ERR_CONFIG;
	}
	if (strcmp(spath, "management.token") == 0) {
		for (const char *p = v; *p; p++) {
			if (*p > ' ' && *p < 127)
				continue;
			snprintf(why, whylen,
				 "%s: must be printable ASCII without spaces",
				 path);
			return ERR_CONFIG;
		}
	}
	return 0;
}

/* Bit 0 of conf_ctx.given: "listen: []" turns the server off. */
static const char *const given[] = { "management.listen", NULL };

static int build(void *out, const void *raw, const struct conf_ctx *x)
{
	static const char *const def[] = { "127.0.0.1:5080" };
	const struct raw_mgmt *r = &((const struct raw *)raw)->management;
	struct mgmt_conf *mc = out;
	unsigned n = (x->given & 1u) ? r->listen_count : 1;

	mc->max_connections = r->max_connections ? r->max_connections : 64;
	mc->timeout_s = r->timeout_s ? r->timeout_s : 30;
	if (r->token && !(mc->token = strdup(r->token)))
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		struct mgmt_listen *l = &mc->listen[i];
		const char *s = (x->given & 1u) ? r->listen[i] : def[i];

		l->text = strdup(s);
		if (!l->text)
			return -ENOMEM;
		mc->nlisten = i + 1;
		if (mgmt_conf_addr_parse(s, &l->addr, &l->addrlen) < 0)
			return ERR_CONFIG; /* the walk said why */
		for (unsigned k = 0; k < i; k++) {
			if (strcmp(mc->listen[k].text, s))
				continue;
			snprintf(x->why, x->whylen,
				 "management.listen: %s is given twice", s);
			return ERR_CONFIG;
		}
		if (!peer_addr_is_loopback(&l->addr) && !mc->token) {
			snprintf(x->why, x->whylen,
				 "management.listen: %s is not a loopback "
				 "address, so management.token must be set",
				 s);
			return ERR_CONFIG;
		}
	}
	return 0;
}

static void fini(void *out)
{
	struct mgmt_conf *mc = out;

	for (unsigned i = 0; i < mc->nlisten; i++)
		free(mc->listen[i].text);
	free(mc->token);
}

const struct conf_section mgmt_conf_section = {
	.name = "management",
	.fields = top_fields,
	.raw_size = sizeof(struct raw),
	.size = sizeof(struct mgmt_conf),
	.ranges = ranges,
	.check = check,
	.given = given,
	.build = build,
	.free = fini,
};

const struct mgmt_conf *mgmt_conf(const struct conf *c)
{
	static const struct mgmt_conf none;
	const struct mgmt_conf *mc = conf_section_get(c, &mgmt_conf_section);

	return mc ? mc : &none;
}
