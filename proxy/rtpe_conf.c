/* proxy/rtpe_conf.c - the media: section: schema, checks, defaults */
#include "proxy/rtpe_conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cyaml/cyaml.h>

#include "proxy/base/err.h"
#include "proxy/sip/peer.h"

enum { RAW_BOOL_TRUE = 1, RAW_BOOL_FALSE = 2 };
enum { RAW_FAIL = 1, RAW_PROCEED = 2 };

struct raw_server {
	char *address;
	unsigned weight;
};

/* What libcyaml loads; 0 means "not in the file". */
struct raw_media {
	int enabled; /* RAW_BOOL_* */
	struct raw_server *rtpengine;
	unsigned rtpengine_count;
	unsigned timeout_ms;
	unsigned retries;
	unsigned down_s;
	int on_failure; /* RAW_FAIL, RAW_PROCEED */
	char **flags;
	unsigned flags_count;
	char *dtmf_events;
};

struct raw {
	struct raw_media media;
};

static const cyaml_strval_t bool_strings[] = {
	{ "true", RAW_BOOL_TRUE },
	{ "false", RAW_BOOL_FALSE },
};

static const cyaml_strval_t failure_strings[] = {
	{ "fail", RAW_FAIL },
	{ "proceed", RAW_PROCEED },
};

static const struct {
	const char *name;
	unsigned flag;
} flag_names[] = {
	{ "replace-origin", RTPE_FLAG_REPLACE_ORIGIN },
	{ "replace-session-connection", RTPE_FLAG_REPLACE_SESSION },
	{ "trust-address", RTPE_FLAG_TRUST_ADDRESS },
	{ "symmetric", RTPE_FLAG_SYMMETRIC },
	{ "asymmetric", RTPE_FLAG_ASYMMETRIC },
	{ "strict-source", RTPE_FLAG_STRICT_SOURCE },
	{ "media-handover", RTPE_FLAG_MEDIA_HANDOVER },
};

static const cyaml_schema_field_t server_fields[] = {
	CYAML_FIELD_STRING_PTR("address", CYAML_FLAG_POINTER, struct raw_server,
			       address, 1, 64),
	CYAML_FIELD_UINT("weight", CYAML_FLAG_OPTIONAL, struct raw_server,
			 weight),
	CYAML_FIELD_END
};

static const cyaml_schema_value_t server_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_server,
			    server_fields),
};

static const cyaml_schema_value_t flag_entry = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 1, 64),
};

static const cyaml_schema_field_t media_fields[] = {
	CYAML_FIELD_ENUM("enabled", CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT,
			 struct raw_media, enabled, bool_strings,
			 CYAML_ARRAY_LEN(bool_strings)),
	CYAML_FIELD_SEQUENCE(
	    "rtpengine", CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
	    struct raw_media, rtpengine, &server_entry, 0, NG_MAX_SERVERS),
	CYAML_FIELD_UINT("timeout_ms", CYAML_FLAG_OPTIONAL, struct raw_media,
			 timeout_ms),
	CYAML_FIELD_UINT("retries", CYAML_FLAG_OPTIONAL, struct raw_media,
			 retries),
	CYAML_FIELD_UINT("down_s", CYAML_FLAG_OPTIONAL, struct raw_media,
			 down_s),
	CYAML_FIELD_ENUM("on_failure", CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT,
			 struct raw_media, on_failure, failure_strings,
			 CYAML_ARRAY_LEN(failure_strings)),
	CYAML_FIELD_SEQUENCE("flags", CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			     struct raw_media, flags, &flag_entry, 0, 16),
	CYAML_FIELD_STRING_PTR("dtmf_events",
			       CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			       struct raw_media, dtmf_events, 1, 64),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t top_fields[] = {
	CYAML_FIELD_MAPPING("media", CYAML_FLAG_OPTIONAL, struct raw, media,
			    media_fields),
	CYAML_FIELD_END
};

static const char *const given[] = { "media.retries", "media.flags", NULL };

unsigned rtpe_conf_flag(const char *name)
{
	for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++)
		if (strcmp(name, flag_names[i].name) == 0)
			return flag_names[i].flag;
	return 0;
}

static int check(const char *spath, const char *path, const char *v, char *why,
		 size_t whylen)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (strcmp(spath, "media.rtpengine.address") == 0) {
		if (peer_hostport_parse(v, &ss, &len) == 0)
			return 0;
		snprintf(why, whylen,
			 "%s: '%.64s' is not an rtpengine ng address "
			 "(IP:PORT or [IPv6]:PORT, no host names)",
			 path, v);
		return ERR_CONFIG;
	}
	if (strcmp(spath, "media.dtmf_events") == 0) {
		if (peer_hostport_parse(v, &ss, &len) == 0)
			return 0;
		snprintf(why, whylen,
			 "%s: '%.64s' is not an address to listen on for "
			 "rtpengine's DTMF events (IP:PORT or [IPv6]:PORT, "
			 "no host names)",
			 path, v);
		return ERR_CONFIG;
	}
	if (strcmp(spath, "media.flags") == 0) {
		if (rtpe_conf_flag(v))
			return 0;
		snprintf(why, whylen,
			 "%s: '%.64s' is not a media flag (replace-origin, "
			 "replace-session-connection, trust-address, "
			 "symmetric, asymmetric, strict-source, "
			 "media-handover)",
			 path, v);
		return ERR_CONFIG;
	}
	return 0;
}

static const struct conf_range ranges[] = {
	{ "media.rtpengine.weight", 1, 1000 },
	{ "media.timeout_ms", 1, 60000 },
	{ "media.retries", 0, 10 },
	{ "media.down_s", 1, 3600 },
	{ NULL, 0, 0 },
};

static int build(void *out, const void *raw, const struct conf_ctx *x)
{
	const struct raw_media *r = &((const struct raw *)raw)->media;
	struct rtpe_conf *mc = out;
	unsigned i;

	mc->timeout_ms = RTPE_TIMEOUT_MS_DEFAULT;
	mc->retries = RTPE_RETRIES_DEFAULT;
	mc->down_s = RTPE_DOWN_S_DEFAULT;
	mc->flags = RTPE_FLAGS_DEFAULT;
	mc->enabled = r->enabled == RAW_BOOL_TRUE;
	if (r->timeout_ms)
		mc->timeout_ms = r->timeout_ms;
	if (x->given & 1u)
		mc->retries = r->retries;
	if (r->down_s)
		mc->down_s = r->down_s;
	mc->proceed = r->on_failure == RAW_PROCEED;
	if (x->given & 2u) {
		mc->flags = 0;
		for (i = 0; i < r->flags_count; i++)
			mc->flags |= rtpe_conf_flag(r->flags[i]);
	}
	if ((mc->flags & RTPE_FLAG_SYMMETRIC) &&
	    (mc->flags & RTPE_FLAG_ASYMMETRIC)) {
		snprintf(x->why, x->whylen,
			 "media.flags: symmetric and asymmetric exclude each "
			 "other");
		return ERR_CONFIG;
	}
	for (i = 0; i < r->rtpengine_count; i++) {
		struct ng_server *s = &mc->servers[i];

		/* check() accepted the text already. */
		if (peer_hostport_parse(r->rtpengine[i].address, &s->addr,
					&s->addrlen))
			return ERR_CONFIG;
		s->weight = r->rtpengine[i].weight ? r->rtpengine[i].weight : 1;
		if (s->addr.ss_family != mc->servers[0].addr.ss_family) {
			snprintf(x->why, x->whylen,
				 "media.rtpengine[%u]: all rtpengine addresses "
				 "must be of one family (IPv4 or IPv6)",
				 i);
			return ERR_CONFIG;
		}
		mc->nservers = i + 1;
	}
	/* check() accepted the text already. */
	if (r->dtmf_events &&
	    peer_hostport_parse(r->dtmf_events, &mc->dtmf_addr,
				&mc->dtmf_addrlen))
		return ERR_CONFIG;
	if (mc->dtmf_addrlen && !mc->enabled) {
		snprintf(x->why, x->whylen,
			 "media.dtmf_events needs media.enabled: true (the "
			 "events come from the rtpengine of media.rtpengine)");
		return ERR_CONFIG;
	}
	if (mc->enabled && mc->nservers == 0) {
		snprintf(x->why, x->whylen,
			 "media.enabled is true but media.rtpengine lists no "
			 "rtpengine");
		return ERR_CONFIG;
	}
	return 0;
}

const struct conf_section rtpe_conf_section = {
	.name = "media",
	.fields = top_fields,
	.raw_size = sizeof(struct raw),
	.size = sizeof(struct rtpe_conf),
	.ranges = ranges,
	.check = check,
	.given = given,
	.build = build,
};

const struct rtpe_conf *rtpe_conf(const struct conf *c)
{
	static const struct rtpe_conf off = {
		.timeout_ms = RTPE_TIMEOUT_MS_DEFAULT,
		.retries = RTPE_RETRIES_DEFAULT,
		.down_s = RTPE_DOWN_S_DEFAULT,
		.flags = RTPE_FLAGS_DEFAULT,
	};
	const struct rtpe_conf *mc = conf_section_get(c, &rtpe_conf_section);

	return mc ? mc : &off;
}
