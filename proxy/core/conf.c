/* proxy/core/conf.c - configuration: YAML checked for file:line, libcyaml load
 */
#include "proxy/core/conf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cyaml/cyaml.h>
#include <yaml.h>

#include "proxy/base/err.h"
#include "proxy/base/file.h"
#include "proxy/core/tls.h"
#include "proxy/sip/peer.h"

/*
 * How a file is loaded:
 *
 * 1. check: a walk over libyaml's events, driven by the libcyaml schema
 *    (the runtime's keys below, then each registered section's), finds
 *    every fault the file can have (syntax, unknown or duplicate key,
 *    wrong kind of value, integer out of range, bad enum, address, and
 *    what a section's range and check functions say) and reports it as
 *    "FILE:LINE: reason". libcyaml's own messages name the line of the
 *    enclosing mapping, not of the key at fault, so they cannot be used
 *    for that.
 * 2. load: libcyaml fills one block from the same schema: struct raw,
 *    then each section's raw struct. After the check it does not fail
 *    but for lack of memory.
 * 3. build: struct conf from struct raw, with defaults, then each
 *    section's struct from its raw struct (its build function).
 *
 * In struct raw (and, by the same rule, in the sections' raw structs),
 * 0 means "not in the file": the ranges of integers exclude 0 (except
 * workers, where 0 means the default anyway) and enum values start at 1.
 */

#define FILE_MAX (1024 * 1024)

/* listen[].transports: a bit set (not enum peer_proto, which numbers the
 * transports of a message). */
enum {
	LISTEN_UDP = 1,
	LISTEN_TCP = 2,
	LISTEN_TLS = 4,
	LISTEN_WS = 8,
	LISTEN_WSS = 16,
};

enum { RAW_FALSE = 1, RAW_TRUE = 2 };

struct raw_sni {
	char *domain;
	char *cert;
	char *key;
};

struct raw_listen {
	char *address;
	unsigned port;
	unsigned transports; /* LISTEN_* */
	char *advertise;
	char *cert;
	char *key;
	int verify_client; /* RAW_* */
	char *ca;
	struct raw_sni *sni;
	unsigned sni_count;
	char **origins;
	unsigned origins_count;
};

struct raw_tls {
	char *ca;
	unsigned handshake_timeout_s;
};

struct raw_tcp {
	unsigned max_connections;
	unsigned idle_timeout_s;
	unsigned max_header_bytes;
	unsigned max_body_bytes;
	unsigned max_per_source;
};

struct raw_udp {
	unsigned batch;
	int steering; /* enum steer_mode + 1; 0: not given */
};

struct raw_overload {
	unsigned max_inbox;
	unsigned max_transactions;
	unsigned max_completed;
	unsigned retry_after_s;
};

struct raw {
	unsigned workers;
	int log_level; /* enum log_level + 1 */
	struct raw_listen *listen;
	unsigned listen_count;
	char **domains;
	unsigned domains_count;
	struct raw_tcp tcp;
	struct raw_udp udp;
	struct raw_tls tls;
	unsigned max_headers;
	char *server_name;
	struct raw_overload overload;
};

static const cyaml_strval_t level_strings[] = {
	{ "debug", LOG_DEBUG + 1 },   { "info", LOG_INFO + 1 },
	{ "notice", LOG_NOTICE + 1 }, { "warn", LOG_WARN + 1 },
	{ "warning", LOG_WARN + 1 },  { "error", LOG_ERR + 1 },
};

static const cyaml_strval_t steering_strings[] = {
	{ "auto", STEER_AUTO + 1 },
	{ "bpf", STEER_BPF + 1 },
	{ "off", STEER_OFF + 1 },
};

static const cyaml_strval_t transport_strings[] = {
	{ "udp", LISTEN_UDP }, { "tcp", LISTEN_TCP }, { "tls", LISTEN_TLS },
	{ "ws", LISTEN_WS },   { "wss", LISTEN_WSS },
};

static const cyaml_strval_t bool_strings[] = {
	{ "true", RAW_TRUE },
	{ "false", RAW_FALSE },
};

#define PATH_MAX_LEN 255

static const cyaml_schema_field_t sni_fields[] = {
	CYAML_FIELD_STRING_PTR("domain", CYAML_FLAG_POINTER, struct raw_sni,
			       domain, 1, 253),
	CYAML_FIELD_STRING_PTR("cert", CYAML_FLAG_POINTER, struct raw_sni, cert,
			       1, PATH_MAX_LEN),
	CYAML_FIELD_STRING_PTR("key", CYAML_FLAG_POINTER, struct raw_sni, key,
			       1, PATH_MAX_LEN),
	CYAML_FIELD_END
};

static const cyaml_schema_value_t sni_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_sni, sni_fields),
};

static const cyaml_schema_value_t origin_entry = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 1, 512),
};

static const cyaml_schema_field_t listen_fields[] = {
	CYAML_FIELD_STRING_PTR("address", CYAML_FLAG_POINTER, struct raw_listen,
			       address, 1, 64),
	CYAML_FIELD_UINT("port", CYAML_FLAG_OPTIONAL, struct raw_listen, port),
	CYAML_FIELD_FLAGS("transports", CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT,
			  struct raw_listen, transports, transport_strings,
			  CYAML_ARRAY_LEN(transport_strings)),
	CYAML_FIELD_STRING_PTR("advertise",
			       CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			       struct raw_listen, advertise, 1, 261),
	CYAML_FIELD_STRING_PTR("cert", CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			       struct raw_listen, cert, 1, PATH_MAX_LEN),
	CYAML_FIELD_STRING_PTR("key", CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			       struct raw_listen, key, 1, PATH_MAX_LEN),
	CYAML_FIELD_ENUM("verify_client",
			 CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT,
			 struct raw_listen, verify_client, bool_strings,
			 CYAML_ARRAY_LEN(bool_strings)),
	CYAML_FIELD_STRING_PTR("ca", CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			       struct raw_listen, ca, 1, PATH_MAX_LEN),
	CYAML_FIELD_SEQUENCE("sni", CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			     struct raw_listen, sni, &sni_entry, 1, 64),
	CYAML_FIELD_SEQUENCE("origins",
			     CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			     struct raw_listen, origins, &origin_entry, 1, 64),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t tls_fields[] = {
	CYAML_FIELD_STRING_PTR("ca", CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			       struct raw_tls, ca, 1, PATH_MAX_LEN),
	CYAML_FIELD_UINT("handshake_timeout_s", CYAML_FLAG_OPTIONAL,
			 struct raw_tls, handshake_timeout_s),
	CYAML_FIELD_END
};

static const cyaml_schema_value_t listen_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_listen,
			    listen_fields),
};

static const cyaml_schema_value_t domain_entry = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 1, 253),
};

static const cyaml_schema_field_t tcp_fields[] = {
	CYAML_FIELD_UINT("max_connections", CYAML_FLAG_OPTIONAL, struct raw_tcp,
			 max_connections),
	CYAML_FIELD_UINT("idle_timeout_s", CYAML_FLAG_OPTIONAL, struct raw_tcp,
			 idle_timeout_s),
	CYAML_FIELD_UINT("max_header_bytes", CYAML_FLAG_OPTIONAL,
			 struct raw_tcp, max_header_bytes),
	CYAML_FIELD_UINT("max_body_bytes", CYAML_FLAG_OPTIONAL, struct raw_tcp,
			 max_body_bytes),
	CYAML_FIELD_UINT("max_per_source", CYAML_FLAG_OPTIONAL, struct raw_tcp,
			 max_per_source),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t udp_fields[] = {
	CYAML_FIELD_UINT("batch", CYAML_FLAG_OPTIONAL, struct raw_udp, batch),
	CYAML_FIELD_ENUM("steering", CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT,
			 struct raw_udp, steering, steering_strings,
			 CYAML_ARRAY_LEN(steering_strings)),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t overload_fields[] = {
	CYAML_FIELD_UINT("max_inbox", CYAML_FLAG_OPTIONAL, struct raw_overload,
			 max_inbox),
	CYAML_FIELD_UINT("max_transactions", CYAML_FLAG_OPTIONAL,
			 struct raw_overload, max_transactions),
	CYAML_FIELD_UINT("max_completed", CYAML_FLAG_OPTIONAL,
			 struct raw_overload, max_completed),
	CYAML_FIELD_UINT("retry_after_s", CYAML_FLAG_OPTIONAL,
			 struct raw_overload, retry_after_s),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t top_fields[] = {
	CYAML_FIELD_UINT("workers", CYAML_FLAG_OPTIONAL, struct raw, workers),
	CYAML_FIELD_ENUM("log_level", CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT,
			 struct raw, log_level, level_strings,
			 CYAML_ARRAY_LEN(level_strings)),
	CYAML_FIELD_SEQUENCE("listen", CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			     struct raw, listen, &listen_entry, 1, 16),
	CYAML_FIELD_SEQUENCE("domains",
			     CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			     struct raw, domains, &domain_entry, 1, 256),
	CYAML_FIELD_MAPPING("tcp", CYAML_FLAG_OPTIONAL, struct raw, tcp,
			    tcp_fields),
	CYAML_FIELD_MAPPING("udp", CYAML_FLAG_OPTIONAL, struct raw, udp,
			    udp_fields),
	CYAML_FIELD_MAPPING("tls", CYAML_FLAG_OPTIONAL, struct raw, tls,
			    tls_fields),
	CYAML_FIELD_UINT("max_headers", CYAML_FLAG_OPTIONAL, struct raw,
			 max_headers),
	CYAML_FIELD_STRING_PTR("server_name",
			       CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			       struct raw, server_name, 1, 128),
	CYAML_FIELD_MAPPING("overload", CYAML_FLAG_OPTIONAL, struct raw,
			    overload, overload_fields),
	CYAML_FIELD_END
};

/* The registered sections (conf_section_add()), in order. */
static const struct conf_section *registry[CONF_MAX_SECTIONS];
static unsigned nregistry;

/*
 * The schema of one load: the runtime's top-level fields, then each
 * section's with its offsets moved to where its raw struct sits in the
 * block libcyaml fills.
 */
struct schema {
	cyaml_schema_field_t *fields; /* ends with CYAML_FIELD_END */
	int *owner; /* per field: the section index, or -1 (the runtime) */
	const struct conf_section *sec[CONF_MAX_SECTIONS];
	size_t off[CONF_MAX_SECTIONS]; /* of each raw struct in the block */
	unsigned nsec;
	size_t size; /* of the block */
	cyaml_schema_value_t top;
};

/* The check pass: libyaml events against the schema above. */

struct walk {
	yaml_parser_t parser;
	yaml_event_t ev; /* the current event, when have_ev */
	bool have_ev;
	const char *name;
	const char *text;
	size_t len;
	char *errbuf;
	size_t errlen;
	const struct schema *sch;
	int sec; /* the section of the current top-level key, or -1 */
	unsigned given[CONF_MAX_SECTIONS]; /* conf_ctx.given of each */
	/* The listen entry being walked, for the checks that need several
	 * of its keys (a cert/key pair, tls and its keys, a wildcard and
	 * advertise); lines count from 1, 0: not given. */
	struct {
		unsigned transports; /* LISTEN_* */
		unsigned long tr_line, addr_line, adv_line, cert_line, key_line,
		    ca_line, vc_line, sni_line, origins_line;
		bool wildcard, verify_client;
		char addr[65];
		char cert[PATH_MAX_LEN + 1], key[PATH_MAX_LEN + 1];
		/* the SNI entry being walked */
		char scert[PATH_MAX_LEN + 1], skey[PATH_MAX_LEN + 1];
		unsigned long skey_line;
	} le;
	const char *le_spath; /* the schema path a rule's check is given */
};

typedef int check_fn(struct walk *w, const yaml_mark_t *m, const char *path,
		     const char *v);

/* Rules of the runtime's keys the schema cannot say, by schema path
 * (keys only, no indices). */
struct rule {
	const char *spath;
	long long min, max; /* integers */
	check_fn *check;    /* scalars */
};

static check_fn check_address, check_domain, check_advertise, check_note,
    check_ca;

static const struct rule rules[] = {
	{ "workers", 0, CONF_MAX_WORKERS, NULL },
	{ "listen.address", 0, 0, check_address },
	{ "listen.port", 1, 65535, NULL },
	{ "listen.advertise", 0, 0, check_advertise },
	{ "listen.cert", 0, 0, check_note },
	{ "listen.key", 0, 0, check_note },
	{ "listen.ca", 0, 0, check_ca },
	{ "listen.verify_client", 0, 0, check_note },
	{ "listen.sni.domain", 0, 0, check_domain },
	{ "listen.sni.cert", 0, 0, check_note },
	{ "listen.sni.key", 0, 0, check_note },
	{ "listen.origins", 0, 0, check_note },
	{ "tls.ca", 0, 0, check_ca },
	{ "tls.handshake_timeout_s", 1, 300, NULL },
	{ "domains", 0, 0, check_domain },
	{ "tcp.max_connections", 1, 1000000, NULL },
	{ "tcp.idle_timeout_s", 1, 86400, NULL },
	{ "tcp.max_header_bytes", 1024, 1048576, NULL },
	{ "tcp.max_body_bytes", 1, 16777216, NULL },
	{ "tcp.max_per_source", 1, 1000000, NULL },
	{ "udp.batch", 1, 1024, NULL },
	{ "max_headers", 16, 1024, NULL },
	{ "overload.max_inbox", 1, 10000000, NULL },
	{ "overload.max_transactions", 1, 10000000, NULL },
	{ "overload.max_completed", 1, 10000000, NULL },
	{ "overload.retry_after_s", 1, 3600, NULL },
};

static const struct rule *rule_find(const char *spath)
{
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		if (strcmp(rules[i].spath, spath) == 0)
			return &rules[i];
	return NULL;
}

static void msg(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void msg(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!errbuf || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
}

static int fail_line(struct walk *w, unsigned long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail_line(struct walk *w, unsigned long line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!w->errbuf || w->errlen == 0)
		return ERR_CONFIG;
	n = snprintf(w->errbuf, w->errlen, "%s:%lu: ", w->name, line);
	if (n >= 0 && (size_t)n < w->errlen) {
		va_start(ap, fmt);
		vsnprintf(w->errbuf + n, w->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return ERR_CONFIG;
}

/* A libyaml mark counts lines from 0; people count from 1. */
#define fail(w, m, ...) fail_line((w), (m)->line + 1, __VA_ARGS__)

static const char *label(const char *path)
{
	return path[0] ? path : "top level";
}

static int syntax(struct walk *w)
{
	const yaml_parser_t *p = &w->parser;
	const char *problem = p->problem ? p->problem : "malformed input";
	unsigned long line = 1;

	if (p->error == YAML_MEMORY_ERROR) {
		msg(w->errbuf, w->errlen, "%s: out of memory", w->name);
		return -ENOMEM;
	}
	if (p->error == YAML_READER_ERROR) {
		/* Reader errors carry a byte offset, not a mark. */
		for (size_t i = 0; i < p->problem_offset && i < w->len; i++)
			if (w->text[i] == '\n')
				line++;
		return fail_line(w, line, "YAML syntax error: %s", problem);
	}
	line = p->problem_mark.line + 1;
	if (p->context)
		return fail_line(w, line, "YAML syntax error: %s %s", problem,
				 p->context);
	return fail_line(w, line, "YAML syntax error: %s", problem);
}

static int next(struct walk *w)
{
	if (w->have_ev) {
		yaml_event_delete(&w->ev);
		w->have_ev = false;
	}
	if (!yaml_parser_parse(&w->parser, &w->ev))
		return syntax(w);
	w->have_ev = true;
	if (w->ev.type == YAML_ALIAS_EVENT)
		return fail(w, &w->ev.start_mark,
			    "aliases (*%.40s) are not supported",
			    (const char *)w->ev.data.alias.anchor);
	return 0;
}

/* "expected a mapping, got 'x'": what the current event is instead. */
static int fail_kind(struct walk *w, const char *path, const char *want)
{
	const yaml_event_t *e = &w->ev;

	switch (e->type) {
	case YAML_SCALAR_EVENT:
		if (e->data.scalar.length == 0 &&
		    e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
			return fail(w, &e->start_mark,
				    "%s: expected %s, got nothing", label(path),
				    want);
		return fail(w, &e->start_mark, "%s: expected %s, got '%.40s'",
			    label(path), want,
			    (const char *)e->data.scalar.value);
	case YAML_SEQUENCE_START_EVENT:
		return fail(w, &e->start_mark, "%s: expected %s, got a list",
			    label(path), want);
	case YAML_MAPPING_START_EVENT:
		return fail(w, &e->start_mark, "%s: expected %s, got a mapping",
			    label(path), want);
	default:
		return fail(w, &e->start_mark, "%s: expected %s", label(path),
			    want);
	}
}

static int walk_value(struct walk *w, const cyaml_schema_value_t *s,
		      const char *path, const char *spath);

static void join(char *buf, size_t size, const char *path, const char *key)
{
	if (path[0])
		snprintf(buf, size, "%s.%s", path, key);
	else
		snprintf(buf, size, "%s", key);
}

/* The current section, or NULL (the runtime's keys). */
static const struct conf_section *cur(const struct walk *w)
{
	return w->sec < 0 ? NULL : w->sch->sec[w->sec];
}

/* The section's one_of rule of @p spath, if any, against the keys @p seen. */
static int check_one_of(struct walk *w, const cyaml_schema_field_t *fields,
			uint64_t seen, const yaml_mark_t *start,
			const char *path, const char *spath)
{
	const struct conf_section *sec = cur(w);
	const struct conf_one_of *one_of = sec ? sec->one_of : NULL;

	for (size_t k = 0; one_of && one_of[k].spath; k++) {
		unsigned n = 0;

		if (strcmp(one_of[k].spath, spath) != 0)
			continue;
		for (unsigned i = 0; fields[i].key; i++)
			if ((seen & (UINT64_C(1) << i)) &&
			    (strcmp(fields[i].key, one_of[k].a) == 0 ||
			     strcmp(fields[i].key, one_of[k].b) == 0))
				n++;
		if (n != 1)
			return fail(w, start,
				    "%s: needs exactly one of '%s' and '%s'",
				    label(path), one_of[k].a, one_of[k].b);
	}
	return 0;
}

static int listen_entry_check(struct walk *w, const yaml_mark_t *start,
			      const char *path);
static int sni_entry_check(struct walk *w, const char *path);

static int walk_mapping(struct walk *w, const cyaml_schema_field_t *fields,
			const char *path, const char *spath)
{
	char kpath[192], kspath[96];
	const cyaml_schema_field_t *f;
	yaml_mark_t start;
	uint64_t seen = 0;
	const char *key;
	unsigned i;
	int err;

	if (w->ev.type != YAML_MAPPING_START_EVENT)
		return fail_kind(w, path, "a mapping");
	start = w->ev.start_mark;
	if (w->sec < 0 && strcmp(spath, "listen") == 0)
		memset(&w->le, 0, sizeof(w->le));
	if (w->sec < 0 && strcmp(spath, "listen.sni") == 0) {
		w->le.scert[0] = w->le.skey[0] = '\0';
		w->le.skey_line = 0;
	}
	/* Bounded: each pass sets a new bit of @seen or fails. */
	for (;;) {
		err = next(w);
		if (err)
			return err;
		if (w->ev.type == YAML_MAPPING_END_EVENT)
			break;
		if (w->ev.type != YAML_SCALAR_EVENT)
			return fail(w, &w->ev.start_mark,
				    "%s: a key must be a plain name",
				    label(path));
		key = (const char *)w->ev.data.scalar.value;
		if (strlen(key) != w->ev.data.scalar.length)
			return fail(w, &w->ev.start_mark,
				    "%s: a key contains a NUL character",
				    label(path));
		f = NULL;
		for (i = 0; fields[i].key; i++) {
			if (strcmp(fields[i].key, key) == 0) {
				f = &fields[i];
				break;
			}
		}
		if (!f) {
			join(kpath, sizeof(kpath), path, key);
			return fail(w, &w->ev.start_mark, "unknown key '%.80s'",
				    kpath);
		}
		join(kpath, sizeof(kpath), path, f->key);
		join(kspath, sizeof(kspath), spath, f->key);
		if (seen & (UINT64_C(1) << i))
			return fail(w, &w->ev.start_mark, "duplicate key '%s'",
				    kpath);
		seen |= UINT64_C(1) << i;
		if (!path[0] && fields == w->sch->fields)
			w->sec = w->sch->owner[i];
		err = next(w);
		if (err)
			return err;
		err = walk_value(w, &f->value, kpath, kspath);
		if (err)
			return err;
	}
	for (i = 0; fields[i].key; i++) {
		if (fields[i].value.flags & CYAML_FLAG_OPTIONAL)
			continue;
		if (!(seen & (UINT64_C(1) << i)))
			return fail(w, &start, "%s: missing required key '%s'",
				    label(path), fields[i].key);
	}
	if (fields == w->sch->fields)
		w->sec = -1; /* the top level is the runtime's */
	if (w->sec < 0 && strcmp(spath, "listen") == 0) {
		err = listen_entry_check(w, &start, path);
		if (err)
			return err;
	}
	if (w->sec < 0 && strcmp(spath, "listen.sni") == 0) {
		err = sni_entry_check(w, path);
		if (err)
			return err;
	}
	return check_one_of(w, fields, seen, &start, path, spath);
}

/* Note for the section's build function that the key @p spath is given. */
static void mark_given(struct walk *w, const char *spath)
{
	const struct conf_section *sec = cur(w);

	for (unsigned i = 0; sec && sec->given && i < 32 && sec->given[i]; i++)
		if (strcmp(sec->given[i], spath) == 0)
			w->given[w->sec] |= 1u << i;
}

static int walk_sequence(struct walk *w, const cyaml_schema_value_t *s,
			 const char *path, const char *spath)
{
	char ipath[192];
	yaml_mark_t start;
	unsigned n;
	int err;

	if (w->ev.type != YAML_SEQUENCE_START_EVENT)
		return fail_kind(w, path, "a list");
	start = w->ev.start_mark;
	for (n = 0; n <= s->sequence.max; n++) {
		err = next(w);
		if (err)
			return err;
		if (w->ev.type == YAML_SEQUENCE_END_EVENT)
			break;
		if (n == s->sequence.max)
			return fail(w, &w->ev.start_mark,
				    "%s: too many entries (at most %u)", path,
				    (unsigned)s->sequence.max);
		snprintf(ipath, sizeof(ipath), "%s[%u]", path, n);
		err = walk_value(w, s->sequence.entry, ipath, spath);
		if (err)
			return err;
	}
	if (n < s->sequence.min)
		return fail(w, &start, "%s: needs at least %u entr%s", path,
			    (unsigned)s->sequence.min,
			    s->sequence.min == 1 ? "y" : "ies");
	mark_given(w, spath);
	return 0;
}

static int find_str(const cyaml_schema_value_t *s, const char *v)
{
	for (unsigned i = 0; i < s->enumeration.count; i++)
		if (strcmp(s->enumeration.strings[i].str, v) == 0)
			return (int)i;
	return -1;
}

static int fail_enum(struct walk *w, const cyaml_schema_value_t *s,
		     const char *path, const char *v)
{
	char list[128];
	size_t n = 0;

	list[0] = '\0';
	for (unsigned i = 0; i < s->enumeration.count && n < sizeof(list);
	     i++) {
		int m = snprintf(list + n, sizeof(list) - n, "%s%s",
				 i ? ", " : "", s->enumeration.strings[i].str);
		if (m < 0)
			break;
		n += (size_t)m;
	}
	return fail(w, &w->ev.start_mark, "%s: '%.40s' is not one of %s", path,
		    v, list);
}

/* A list of names, each from the schema's strings, each at most once. */
static int walk_flags(struct walk *w, const cyaml_schema_value_t *s,
		      const char *path, const char *spath)
{
	uint64_t seen = 0;
	yaml_mark_t start;
	const char *v;
	unsigned n;
	int err, i;

	if (w->ev.type != YAML_SEQUENCE_START_EVENT)
		return fail_kind(w, path, "a list");
	start = w->ev.start_mark;
	for (n = 0; n <= s->enumeration.count; n++) {
		err = next(w);
		if (err)
			return err;
		if (w->ev.type == YAML_SEQUENCE_END_EVENT)
			break;
		if (w->ev.type != YAML_SCALAR_EVENT)
			return fail_kind(w, path, "a name");
		v = (const char *)w->ev.data.scalar.value;
		i = find_str(s, v);
		if (i < 0)
			return fail_enum(w, s, path, v);
		if (seen & (UINT64_C(1) << i))
			return fail(w, &w->ev.start_mark,
				    "%s: '%s' is given twice", path, v);
		seen |= UINT64_C(1) << i;
		if (w->sec < 0 && strcmp(spath, "listen.transports") == 0) {
			w->le.transports |=
			    (unsigned)s->enumeration.strings[i].val;
			w->le.tr_line = w->ev.start_mark.line + 1;
		}
	}
	if (n == 0)
		return fail(w, &start, "%s: must not be empty", path);
	return 0;
}

/* Decimal digits only, no sign but '-', no leading zeros; huge = range. */
static int parse_int(const char *v, long long *np)
{
	const char *p = v;
	long long n = 0;
	bool neg = false;

	if (*p == '-') {
		neg = true;
		p++;
	}
	if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] != '\0'))
		return -EINVAL;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		if (n < LLONG_MAX / 10 - 10)
			n = n * 10 + (*p - '0');
		else
			n = LLONG_MAX / 10;
	}
	*np = neg ? -n : n;
	return 0;
}

/* The range of the integer at @p spath: a rule of the runtime or of the
 * current section, or 0 .. UINT32_MAX. */
static void range_find(const struct walk *w, const char *spath, long long *minp,
		       long long *maxp)
{
	const struct conf_section *sec = cur(w);
	const struct rule *r = sec ? NULL : rule_find(spath);

	*minp = 0;
	*maxp = UINT32_MAX;
	if (r) {
		*minp = r->min;
		*maxp = r->max;
	} else if (sec && sec->ranges) {
		for (const struct conf_range *t = sec->ranges; t->spath; t++) {
			if (strcmp(t->spath, spath) == 0) {
				*minp = t->min;
				*maxp = t->max;
				break;
			}
		}
	} else if (sec && sec->range && !sec->range(spath, minp, maxp)) {
		*minp = 0;
		*maxp = UINT32_MAX;
	}
}

/* The check of the runtime's rule or of the current section. */
static int check_value(struct walk *w, const yaml_mark_t *m, const char *path,
		       const char *spath, const char *v)
{
	const struct conf_section *sec = cur(w);
	const struct rule *r = sec ? NULL : rule_find(spath);
	char why[512];

	if (r && r->check) {
		/* check_note() and friends tell keys apart by schema path. */
		w->le_spath = spath;
		return r->check(w, m, path, v);
	}
	if (!sec || !sec->check)
		return 0;
	why[0] = '\0';
	if (sec->check(spath, path, v, why, sizeof(why)) == 0)
		return 0;
	return fail(w, m, "%s", why[0] ? why : "bad value");
}

static int walk_scalar(struct walk *w, const cyaml_schema_value_t *s,
		       const char *path, const char *spath)
{
	const yaml_mark_t *m = &w->ev.start_mark;
	const char *v;
	long long n, min, max;
	size_t len;

	if (w->ev.type != YAML_SCALAR_EVENT) {
		switch (s->type) {
		case CYAML_UINT:
		case CYAML_INT:
			return fail_kind(w, path, "a decimal integer");
		default:
			return fail_kind(w, path, "a string");
		}
	}
	v = (const char *)w->ev.data.scalar.value;
	len = w->ev.data.scalar.length;
	if (strlen(v) != len)
		return fail(w, m, "%s: contains a NUL character", path);
	switch (s->type) {
	case CYAML_UINT:
		range_find(w, spath, &min, &max);
		if (parse_int(v, &n) < 0)
			return fail_kind(w, path, "a decimal integer");
		if (n < min || n > max)
			return fail(w, m,
				    "%s: %.40s is out of range (%lld..%lld)",
				    path, v, min, max);
		break;
	case CYAML_ENUM:
		if (find_str(s, v) < 0)
			return fail_enum(w, s, path, v);
		break;
	case CYAML_STRING:
		if (len < s->string.min)
			return fail(w, m, "%s: must not be empty", path);
		if (len > s->string.max)
			return fail(w, m,
				    "%s: too long (at most %u characters)",
				    path, (unsigned)s->string.max);
		break;
	default:
		return fail(w, m, "%s: unsupported schema type", path);
	}
	/* A scalar whose 0 is a value, not "not given" (b2b.workers). */
	mark_given(w, spath);
	return check_value(w, m, path, spath, v);
}

static int walk_value(struct walk *w, const cyaml_schema_value_t *s,
		      const char *path, const char *spath)
{
	switch (s->type) {
	case CYAML_MAPPING:
		return walk_mapping(w, s->mapping.fields, path, spath);
	case CYAML_SEQUENCE:
		return walk_sequence(w, s, path, spath);
	case CYAML_FLAGS:
		return walk_flags(w, s, path, spath);
	default:
		return walk_scalar(w, s, path, spath);
	}
}

/* YAML's null: an empty document is the default configuration. */
static bool is_null(const yaml_event_t *e)
{
	const char *v;

	if (e->type != YAML_SCALAR_EVENT ||
	    e->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	v = (const char *)e->data.scalar.value;
	return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	       strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

/* The whole stream: at most one document, whose root is the config. */
static int walk_doc(struct walk *w, bool *emptyp)
{
	int err;

	*emptyp = false;
	err = next(w);
	if (err)
		return err;
	err = next(w);
	if (err)
		return err;
	if (w->ev.type == YAML_STREAM_END_EVENT) {
		*emptyp = true;
		return 0;
	}
	err = next(w);
	if (err)
		return err;
	if (is_null(&w->ev))
		*emptyp = true;
	else
		err = walk_value(w, &w->sch->top, "", "");
	if (err)
		return err;
	err = next(w);
	if (err)
		return err;
	err = next(w);
	if (err)
		return err;
	if (w->ev.type == YAML_DOCUMENT_START_EVENT)
		return fail(w, &w->ev.start_mark,
			    "only one YAML document is allowed");
	if (w->ev.type != YAML_STREAM_END_EVENT)
		return fail(w, &w->ev.start_mark, "unexpected YAML content");
	return 0;
}

/* Values. */

static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0,    0,
					    0, 0, 0, 0, 0xff, 0xff };

int conf_net_parse(const char *s, struct conf_net *n)
{
	char buf[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned max, prefix, i;
	long long v;

	if (alen == 0 || alen >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	memset(n, 0, sizeof(*n));
	if (inet_pton(AF_INET, buf, n->addr) == 1) {
		n->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, n->addr) == 1) {
		n->family = AF_INET6;
		max = 128;
	} else {
		return -EINVAL;
	}
	prefix = max;
	if (slash) {
		if (strlen(slash + 1) > 3 || parse_int(slash + 1, &v) < 0 ||
		    v < 0 || v > max)
			return -EINVAL;
		prefix = (unsigned)v;
	}
	/* A v4-mapped network is the IPv4 network it maps. */
	if (n->family == AF_INET6 && prefix >= 96 &&
	    memcmp(n->addr, v4mapped, sizeof(v4mapped)) == 0) {
		memmove(n->addr, n->addr + 12, 4);
		memset(n->addr + 4, 0, 12);
		n->family = AF_INET;
		prefix -= 96;
	}
	n->prefix = prefix;
	/* Host bits are ignored: 10.1.2.3/8 is 10.0.0.0/8. */
	for (i = prefix; i < 128; i++)
		n->addr[i / 8] &= (unsigned char)~(0x80u >> (i % 8));
	return 0;
}

static bool net_match(const struct conf_net *n, int family,
		      const unsigned char *a)
{
	unsigned full = n->prefix / 8, bits = n->prefix % 8;
	unsigned char mask;

	if (n->family != family)
		return false;
	if (memcmp(n->addr, a, full) != 0)
		return false;
	if (bits == 0)
		return true;
	mask = (unsigned char)(0xff00u >> bits);
	return (n->addr[full] & mask) == (a[full] & mask);
}

static int check_address(struct walk *w, const yaml_mark_t *m, const char *path,
			 const char *v)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (peer_addr_parse(v, 0, &ss, &len) < 0)
		return fail(w, m, "%s: '%.64s' is not an IPv4 or IPv6 address",
			    path, v);
	/* The listen address is written into Via and Record-Route, where
	 * a wildcard reaches nobody: one needs `advertise` (checked at the
	 * end of the entry, listen_entry_check()). */
	w->le.wildcard =
	    (ss.ss_family == AF_INET &&
	     ((struct sockaddr_in *)&ss)->sin_addr.s_addr ==
		 htonl(INADDR_ANY)) ||
	    (ss.ss_family == AF_INET6 &&
	     IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&ss)->sin6_addr));
	w->le.addr_line = m->line + 1;
	snprintf(w->le.addr, sizeof(w->le.addr), "%s", v);
	return 0;
}

int conf_advertise_parse(const char *v, char *host, size_t hostlen,
			 uint16_t *portp)
{
	const char *end, *colon;
	long long port = 0;
	char why[8];
	size_t hl;

	if (v[0] == '[') {
		end = strchr(v, ']');
		if (!end)
			return -EINVAL;
		hl = (size_t)(end - v) + 1;
		colon = end[1] == ':' ? end + 1 : NULL;
		if (!colon && end[1])
			return -EINVAL;
	} else {
		colon = strchr(v, ':');
		/* A bare IPv6 literal would be ambiguous with a port. */
		if (colon && strchr(colon + 1, ':'))
			return -EINVAL;
		hl = colon ? (size_t)(colon - v) : strlen(v);
	}
	if (hl == 0 || hl >= hostlen)
		return -EINVAL;
	if (colon &&
	    (parse_int(colon + 1, &port) < 0 || port < 1 || port > 65535))
		return -EINVAL;
	memcpy(host, v, hl);
	host[hl] = '\0';
	if (conf_domain_check("", host, why, sizeof(why)) != 0)
		return -EINVAL;
	if (v[0] == '[') {
		struct sockaddr_storage ss;
		socklen_t len;
		char ip[64];

		if (hl - 2 >= sizeof(ip))
			return -EINVAL;
		memcpy(ip, host + 1, hl - 2);
		ip[hl - 2] = '\0';
		if (peer_addr_parse(ip, 0, &ss, &len) < 0 ||
		    ss.ss_family != AF_INET6)
			return -EINVAL;
	} else if (strchr(host, '[') || strchr(host, ']')) {
		return -EINVAL;
	}
	*portp = (uint16_t)port;
	return 0;
}

static int check_advertise(struct walk *w, const yaml_mark_t *m,
			   const char *path, const char *v)
{
	char host[262];
	uint16_t port;

	if (conf_advertise_parse(v, host, sizeof(host), &port) < 0)
		return fail(w, m,
			    "%s: '%.64s' is not HOST[:PORT] (a name, an IPv4 "
			    "address or a bracketed IPv6 address; port "
			    "1..65535)",
			    path, v);
	w->le.adv_line = m->line + 1;
	return 0;
}

/* Remember a key of the TLS listen entry (or its SNI entry) for the
 * checks at its end. */
static int check_note(struct walk *w, const yaml_mark_t *m, const char *path,
		      const char *v)
{
	const char *sp = w->le_spath;
	unsigned long line = m->line + 1;

	(void)path;
	if (strcmp(sp, "listen.cert") == 0) {
		snprintf(w->le.cert, sizeof(w->le.cert), "%s", v);
		w->le.cert_line = line;
	} else if (strcmp(sp, "listen.key") == 0) {
		snprintf(w->le.key, sizeof(w->le.key), "%s", v);
		w->le.key_line = line;
	} else if (strcmp(sp, "listen.verify_client") == 0) {
		w->le.verify_client = strcmp(v, "true") == 0;
		w->le.vc_line = line;
	} else if (strcmp(sp, "listen.sni.cert") == 0) {
		snprintf(w->le.scert, sizeof(w->le.scert), "%s", v);
		if (!w->le.sni_line)
			w->le.sni_line = line;
	} else if (strcmp(sp, "listen.origins") == 0) {
		if (!w->le.origins_line)
			w->le.origins_line = line;
	} else if (strcmp(sp, "listen.sni.key") == 0) {
		snprintf(w->le.skey, sizeof(w->le.skey), "%s", v);
		w->le.skey_line = line;
	}
	return 0;
}

static int check_ca(struct walk *w, const yaml_mark_t *m, const char *path,
		    const char *v)
{
	char why[512];
	int err = tls_check_ca(v, why, sizeof(why));

	if (err == -ENOMEM)
		return err;
	if (err)
		return fail(w, m, "%s: %s", path, why);
	if (strcmp(w->le_spath, "listen.ca") == 0)
		w->le.ca_line = m->line + 1;
	return 0;
}

/* The end of a listen entry: the checks that need several keys. */
static int listen_entry_check(struct walk *w, const yaml_mark_t *start,
			      const char *path)
{
	bool tls = w->le.transports & (LISTEN_TLS | LISTEN_WSS);
	bool ws = w->le.transports & (LISTEN_WS | LISTEN_WSS);
	unsigned long tls_only = w->le.cert_line  ? w->le.cert_line
				 : w->le.key_line ? w->le.key_line
				 : w->le.ca_line  ? w->le.ca_line
				 : w->le.vc_line  ? w->le.vc_line
						  : w->le.sni_line;
	char why[512];
	int err;

	if (w->le.wildcard && !w->le.adv_line)
		return fail_line(
		    w, w->le.addr_line,
		    "%s.address: '%.64s' is a wildcard: sipedge writes its "
		    "listen address into Via and Record-Route, where it would "
		    "reach nobody; give 'advertise: HOST[:PORT]' (the address "
		    "peers reach this entry at), or list the address of each "
		    "interface instead",
		    path, w->le.addr);
	if (w->le.origins_line && !ws)
		return fail_line(w, w->le.origins_line,
				 "%s.origins: only for a WebSocket listener "
				 "(transports: [ws] or [wss])",
				 path);
	if (ws && (w->le.transports & ~(unsigned)LISTEN_WS) &&
	    (w->le.transports & ~(unsigned)LISTEN_WSS))
		return fail_line(w, w->le.tr_line,
				 "%s.transports: ws and wss each need an "
				 "entry (and a port) of their own",
				 path);
	if (!tls) {
		if (tls_only)
			return fail_line(w, tls_only,
					 "%s: cert, key, ca, verify_client "
					 "and sni are only for a TLS listener "
					 "(transports: [tls] or [wss])",
					 path);
		return 0;
	}
	if (w->le.transports & (LISTEN_UDP | LISTEN_TCP))
		return fail_line(w, w->le.tr_line,
				 "%s.transports: tls needs an entry (and a "
				 "port) of its own: not with udp or tcp",
				 path);
	if (!w->le.cert_line || !w->le.key_line)
		return fail(w, start,
			    "%s: a TLS listener needs 'cert' and 'key' (PEM "
			    "files)",
			    path);
	err = tls_check_pair(w->le.cert, w->le.key, why, sizeof(why));
	if (err == -ENOMEM)
		return err;
	if (err)
		return fail_line(w, w->le.key_line, "%s.key: %s", path, why);
	if (w->le.verify_client && !w->le.ca_line)
		return fail_line(w, w->le.vc_line,
				 "%s.verify_client: needs 'ca', the PEM file "
				 "of the CAs that sign client certificates",
				 path);
	if (!w->le.verify_client && w->le.ca_line)
		return fail_line(w, w->le.ca_line,
				 "%s.ca: only used with verify_client: true",
				 path);
	return 0;
}

static int sni_entry_check(struct walk *w, const char *path)
{
	char why[512];
	int err = tls_check_pair(w->le.scert, w->le.skey, why, sizeof(why));

	if (err == -ENOMEM)
		return err;
	if (err)
		return fail_line(w, w->le.skey_line, "%s.key: %s", path, why);
	return 0;
}

/* Host names, IPv4 literals and bracketed IPv6 literals (RFC 3261 host). */
int conf_domain_check(const char *path, const char *v, char *why, size_t whylen)
{
	for (const char *p = v; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._:[]", *p))
			continue;
		snprintf(why, whylen, "%s: '%.64s' is not a domain name", path,
			 v);
		return ERR_CONFIG;
	}
	return 0;
}

static int check_domain(struct walk *w, const yaml_mark_t *m, const char *path,
			const char *v)
{
	char why[256];

	if (conf_domain_check(path, v, why, sizeof(why)) == 0)
		return 0;
	return fail(w, m, "%s", why);
}

/* Build struct conf from struct raw. Fails only for lack of memory. */

static unsigned or_default(unsigned v, unsigned def)
{
	return v ? v : def;
}

static char *dup_or_null(const char *s, int *errp)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*errp = -ENOMEM;
	return d;
}

/* The TLS keys and the advertised address of entry @p l. */
static int build_listen_tls(struct conf_listen *l, const struct raw_listen *rl)
{
	char host[262];
	uint16_t port = 0;
	int err = 0;

	l->cert = dup_or_null(rl->cert, &err);
	l->key = dup_or_null(rl->key, &err);
	l->ca = dup_or_null(rl->ca, &err);
	l->verify_client = rl->verify_client == RAW_TRUE;
	if (rl->sni_count) {
		l->sni = calloc(rl->sni_count, sizeof(*l->sni));
		if (!l->sni)
			return -ENOMEM;
		for (unsigned k = 0; k < rl->sni_count; k++) {
			l->sni[k].domain = conf_lower_dup(rl->sni[k].domain);
			l->sni[k].cert = dup_or_null(rl->sni[k].cert, &err);
			l->sni[k].key = dup_or_null(rl->sni[k].key, &err);
			l->nsni = k + 1;
			if (!l->sni[k].domain)
				err = -ENOMEM;
		}
	}
	if (err)
		return err;
	if (rl->advertise) {
		if (conf_advertise_parse(rl->advertise, host, sizeof(host),
					 &port) < 0)
			return ERR_CONFIG;
		l->adv_host = conf_lower_dup(host);
	} else {
		snprintf(host, sizeof(host),
			 strchr(l->address, ':') ? "[%s]" : "%s", l->address);
		l->adv_host = strdup(host);
	}
	l->adv_port = port ? port : l->port;
	return l->adv_host ? 0 : -ENOMEM;
}

static int build_listen(struct conf *c, const struct raw *r)
{
	static const struct raw_listen def = { .address = (char *)"127.0.0.1",
					       .port = 5060 };
	unsigned n = r->listen_count ? r->listen_count : 1;
	int err;

	c->listen = calloc(n, sizeof(*c->listen));
	if (!c->listen)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		const struct raw_listen *rl =
		    r->listen_count ? &r->listen[i] : &def;
		struct conf_listen *l = &c->listen[i];

		l->address = strdup(rl->address);
		if (!l->address)
			return -ENOMEM;
		c->nlisten = i + 1;
		l->tls = rl->transports & (LISTEN_TLS | LISTEN_WSS);
		l->ws = rl->transports & (LISTEN_WS | LISTEN_WSS);
		/* RFC 7118 §4: WebSocket's ports are HTTP's. */
		l->port =
		    (uint16_t)or_default(rl->port, l->ws ? (l->tls ? 443 : 80)
						   : l->tls ? 5061
							    : 5060);
		l->udp = !rl->transports || (rl->transports & LISTEN_UDP);
		l->tcp = !rl->transports || (rl->transports & LISTEN_TCP);
		if (peer_addr_parse(l->address, l->port, &l->addr,
				    &l->addrlen) < 0)
			return ERR_CONFIG;
		err = build_listen_tls(l, rl);
		if (err)
			return err;
		if (rl->origins_count) {
			l->origins =
			    calloc(rl->origins_count, sizeof(*l->origins));
			if (!l->origins)
				return -ENOMEM;
			for (unsigned k = 0; k < rl->origins_count; k++) {
				l->origins[k] = strdup(rl->origins[k]);
				if (!l->origins[k])
					return -ENOMEM;
				l->norigins = k + 1;
			}
		}
	}
	return 0;
}

static int build_domains(struct conf *c, const struct raw *r)
{
	static const char *const def[] = { "localhost", "127.0.0.1" };
	unsigned n = r->domains_count ? r->domains_count : 2;

	c->domains = calloc(n, sizeof(*c->domains));
	if (!c->domains)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		char *d = strdup(r->domains_count ? r->domains[i] : def[i]);

		if (!d)
			return -ENOMEM;
		for (char *p = d; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		c->domains[i] = d;
		c->ndomains = i + 1;
	}
	return 0;
}

char *conf_lower_dup(const char *s)
{
	char *d = strdup(s);

	for (char *p = d; p && *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return d;
}

char **conf_strv_dup(char *const *v, unsigned n)
{
	char **d = calloc(n ? n : 1, sizeof(*d));

	for (unsigned i = 0; d && i < n; i++) {
		d[i] = strdup(v[i]);
		if (!d[i]) {
			while (i--)
				free(d[i]);
			free(d);
			return NULL;
		}
	}
	return d;
}

void conf_strv_free(char **v, unsigned n)
{
	for (unsigned i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

/* Each registered section's struct, from its raw struct in @p block. */
static int build_sections(struct conf *c, const struct schema *sch,
			  const char *block, const unsigned *given,
			  const char *name, char *errbuf, size_t errlen)
{
	char why[512];
	struct conf_ctx x = {
		.c = c, .given = 0, .why = why, .whylen = sizeof(why)
	};
	int err;

	for (unsigned i = 0; i < sch->nsec; i++) {
		const struct conf_section *s = sch->sec[i];

		c->secdata[i] = calloc(1, s->size ? s->size : 1);
		if (!c->secdata[i])
			return -ENOMEM;
		c->sec[i] = s;
		c->nsec = i + 1;
		x.given = given ? given[i] : 0;
		why[0] = '\0';
		err = s->build(c->secdata[i], block + sch->off[i], &x);
		if (err == ERR_CONFIG) {
			msg(errbuf, errlen, "%s: %s", name ? name : "<default>",
			    why[0] ? why : err_str(err));
			return err;
		}
		if (err)
			return err;
	}
	return 0;
}

/* struct conf from the block libcyaml filled (or a zeroed one): the
 * runtime's keys, then the sections'. */
static int build(const struct schema *sch, const void *block,
		 const unsigned *given, const char *name, struct conf **cp,
		 char *errbuf, size_t errlen)
{
	const struct raw *r = block;
	struct conf *c = calloc(1, sizeof(*c));
	int err = -ENOMEM;

	if (!c)
		goto out;
	if (name) {
		c->path = strdup(name);
		if (!c->path)
			goto out;
	}
	c->workers = conf_workers(r->workers);
	c->log_level =
	    r->log_level ? (enum log_level)(r->log_level - 1) : LOG_INFO;
	err = build_listen(c, r);
	if (err)
		goto out;
	err = build_domains(c, r);
	if (err)
		goto out;
	c->overload.max_inbox = or_default(r->overload.max_inbox, 10000);
	c->overload.max_transactions =
	    or_default(r->overload.max_transactions, 100000);
	c->overload.max_completed =
	    or_default(r->overload.max_completed, 100000);
	c->overload.retry_after_s = or_default(r->overload.retry_after_s, 5);
	c->tcp.max_connections = or_default(r->tcp.max_connections, 4096);
	c->tcp.idle_timeout_s = or_default(r->tcp.idle_timeout_s, 120);
	c->tcp.max_header_bytes = or_default(r->tcp.max_header_bytes, 16384);
	c->tcp.max_body_bytes = or_default(r->tcp.max_body_bytes, 65536);
	/* 0: the share of max_connections (tcp_per_ip_limit()). */
	c->tcp.max_per_source = r->tcp.max_per_source;
	c->udp.batch = or_default(r->udp.batch, 32);
	c->udp.steering = r->udp.steering
			      ? (enum steer_mode)(r->udp.steering - 1)
			      : STEER_AUTO;
	c->tls.handshake_timeout_s = or_default(r->tls.handshake_timeout_s, 10);
	if (r->tls.ca) {
		c->tls.ca = strdup(r->tls.ca);
		if (!c->tls.ca) {
			err = -ENOMEM;
			goto out;
		}
	}
	c->max_headers = or_default(r->max_headers, 128);
	c->server_name = strdup(r->server_name ? r->server_name
					       : "sipedge/" SIPEDGE_VERSION);
	if (!c->server_name) {
		err = -ENOMEM;
		goto out;
	}
	err = build_sections(c, sch, block, given, name, errbuf, errlen);
	if (err)
		goto out;
	*cp = c;
	c = NULL;
	err = 0;
out:
	conf_free(c);
	return err;
}

/* Sections. */

static size_t align_up(size_t n)
{
	const size_t a = _Alignof(max_align_t);

	return (n + a - 1) / a * a;
}

static unsigned nfields(const cyaml_schema_field_t *f)
{
	unsigned n = 0;

	while (f[n].key)
		n++;
	return n;
}

static bool key_taken(const char *key)
{
	for (unsigned i = 0; top_fields[i].key; i++)
		if (strcmp(top_fields[i].key, key) == 0)
			return true;
	for (unsigned k = 0; k < nregistry; k++)
		for (unsigned i = 0; registry[k]->fields[i].key; i++)
			if (strcmp(registry[k]->fields[i].key, key) == 0)
				return true;
	return false;
}

int conf_section_add(const struct conf_section *s)
{
	unsigned n;

	for (unsigned k = 0; k < nregistry; k++)
		if (registry[k] == s)
			return 0;
	if (nregistry == CONF_MAX_SECTIONS)
		return -ENOSPC;
	/* The walk keeps the keys it has seen in a 64-bit set. */
	n = nfields(top_fields) + nfields(s->fields);
	for (unsigned k = 0; k < nregistry; k++)
		n += nfields(registry[k]->fields);
	if (n > 64)
		return -ENOSPC;
	for (unsigned i = 0; s->fields[i].key; i++)
		if (key_taken(s->fields[i].key))
			return -EEXIST;
	registry[nregistry++] = s;
	return 0;
}

const void *conf_section_get(const struct conf *c, const struct conf_section *s)
{
	for (unsigned i = 0; c && i < c->nsec; i++)
		if (c->sec[i] == s)
			return c->secdata[i];
	return NULL;
}

static void schema_fini(struct schema *sch)
{
	free(sch->fields);
	free(sch->owner);
}

/* The schema of a load: the runtime's fields and the registered ones. */
static int schema_init(struct schema *sch)
{
	unsigned n = nfields(top_fields), k = 0;
	size_t size = align_up(sizeof(struct raw));

	memset(sch, 0, sizeof(*sch));
	for (unsigned i = 0; i < nregistry; i++)
		n += nfields(registry[i]->fields);
	sch->fields = calloc(n + 1, sizeof(*sch->fields));
	sch->owner = calloc(n + 1, sizeof(*sch->owner));
	if (!sch->fields || !sch->owner) {
		schema_fini(sch);
		return -ENOMEM;
	}
	for (unsigned i = 0; top_fields[i].key; i++, k++) {
		sch->fields[k] = top_fields[i];
		sch->owner[k] = -1;
	}
	for (unsigned s = 0; s < nregistry; s++) {
		const struct conf_section *sec = registry[s];

		sch->sec[s] = sec;
		sch->off[s] = size;
		for (unsigned i = 0; sec->fields[i].key; i++, k++) {
			cyaml_schema_field_t *f = &sch->fields[k];

			*f = sec->fields[i];
			f->data_offset += (uint32_t)size;
			if (f->count_size)
				f->count_offset += (uint32_t)size;
			sch->owner[k] = (int)s;
		}
		size += align_up(sec->raw_size);
	}
	sch->nsec = nregistry;
	sch->size = size;
	/* CYAML_VALUE_MAPPING() of a block whose size only a load knows. */
	sch->top.type = CYAML_MAPPING;
	sch->top.flags = CYAML_FLAG_POINTER;
	sch->top.data_size = (uint32_t)size;
	sch->top.mapping.fields = sch->fields;
	return 0;
}

/* libcyaml's messages, kept for the unexpected case where it refuses a
 * file the check pass accepted. */
struct cylog {
	char first[256];
	unsigned long line;
};

static void cylog_cb(cyaml_log_t level, void *ctx, const char *fmt,
		     va_list args)
{
	struct cylog *cl = ctx;
	char buf[256];
	const char *p;
	size_t n;

	if (level < CYAML_LOG_ERROR)
		return;
	vsnprintf(buf, sizeof(buf), fmt, args);
	n = strcspn(buf, "\n");
	buf[n] = '\0';
	if (!cl->first[0] && strncmp(buf, "Load: Backtrace", 15) != 0)
		snprintf(cl->first, sizeof(cl->first), "%s",
			 strncmp(buf, "Load: ", 6) == 0 ? buf + 6 : buf);
	p = strstr(buf, "(line: ");
	if (p && !cl->line)
		cl->line = strtoul(p + 7, NULL, 10);
}

int conf_load_mem(const char *name, const char *text, size_t len,
		  struct conf **cp, char *errbuf, size_t errlen)
{
	struct cylog cl = { .first = "", .line = 0 };
	const cyaml_config_t cfg = {
		.log_fn = cylog_cb,
		.log_ctx = &cl,
		.mem_fn = cyaml_mem,
		.log_level = CYAML_LOG_ERROR,
		.flags = CYAML_CFG_NO_ALIAS,
	};
	struct schema sch;
	struct walk w;
	void *raw = NULL, *none = NULL;
	cyaml_err_t cerr;
	bool empty;
	int err;

	memset(&w, 0, sizeof(w));
	w.name = name ? name : "<config>";
	w.text = text ? text : "";
	w.len = text ? len : 0;
	w.errbuf = errbuf;
	w.errlen = errlen;
	w.sch = &sch;
	w.sec = -1;
	if (schema_init(&sch) < 0) {
		msg(errbuf, errlen, "%s: out of memory", w.name);
		return -ENOMEM;
	}
	if (!yaml_parser_initialize(&w.parser)) {
		msg(errbuf, errlen, "%s: out of memory", w.name);
		schema_fini(&sch);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&w.parser, (const unsigned char *)w.text,
				     w.len);
	err = walk_doc(&w, &empty);
	if (err)
		goto out;
	if (!empty) {
		cerr = cyaml_load_data((const uint8_t *)w.text, w.len, &cfg,
				       &sch.top, (cyaml_data_t **)&raw, NULL);
		if (cerr == CYAML_ERR_OOM) {
			err = -ENOMEM;
			msg(errbuf, errlen, "%s: out of memory", w.name);
			goto out;
		}
		if (cerr != CYAML_OK) {
			raw = NULL;
			err = fail_line(&w, cl.line ? cl.line : 1, "%s",
					cl.first[0] ? cl.first
						    : cyaml_strerror(cerr));
			goto out;
		}
	} else {
		none = calloc(1, sch.size);
		if (!none) {
			err = -ENOMEM;
			msg(errbuf, errlen, "%s: out of memory", w.name);
			goto out;
		}
	}
	err =
	    build(&sch, raw ? raw : none, w.given, w.name, cp, errbuf, errlen);
	if (err == ERR_CONFIG)
		; /* build() wrote the message */
	else if (err == -ENOMEM)
		msg(errbuf, errlen, "%s: out of memory", w.name);
	else if (err)
		msg(errbuf, errlen, "%s: %s", w.name, err_str(err));
out:
	if (w.have_ev)
		yaml_event_delete(&w.ev);
	yaml_parser_delete(&w.parser);
	if (raw)
		cyaml_free(&cfg, &sch.top, raw, 0);
	free(none);
	schema_fini(&sch);
	return err;
}

int conf_load(const char *path, struct conf **cp, char *errbuf, size_t errlen)
{
	struct schema sch;
	char *text = NULL;
	void *none;
	size_t len = 0;
	int err;

	if (!path) {
		err = schema_init(&sch);
		if (err) {
			msg(errbuf, errlen, "<default>: out of memory");
			return err;
		}
		none = calloc(1, sch.size);
		err = none ? build(&sch, none, NULL, NULL, cp, errbuf, errlen)
			   : -ENOMEM;
		if (err)
			msg(errbuf, errlen, "<default>: out of memory");
		free(none);
		schema_fini(&sch);
		return err;
	}
	err = file_read(path, FILE_MAX, &text, &len);
	if (err == -EFBIG) {
		msg(errbuf, errlen, "%s: file too large (at most %d bytes)",
		    path, FILE_MAX);
		return err;
	}
	if (err) {
		msg(errbuf, errlen, "%s: %s", path, strerror(-err));
		return err;
	}
	err = conf_load_mem(path, text, len, cp, errbuf, errlen);
	free(text);
	return err;
}

unsigned conf_workers(unsigned n)
{
	long cpus;

	if (n == 0) {
		cpus = sysconf(_SC_NPROCESSORS_ONLN);
		n = cpus < 1 ? 1 : (unsigned)(cpus > INT_MAX ? INT_MAX : cpus);
	}
	return n > CONF_MAX_WORKERS ? CONF_MAX_WORKERS : n;
}

void conf_free(struct conf *c)
{
	if (!c)
		return;
	for (unsigned i = c->nsec; i-- > 0;) {
		if (c->sec[i]->free)
			c->sec[i]->free(c->secdata[i]);
		free(c->secdata[i]);
	}
	for (unsigned i = 0; i < c->nlisten; i++) {
		struct conf_listen *l = &c->listen[i];

		free(l->address);
		free(l->cert);
		free(l->key);
		free(l->ca);
		free(l->adv_host);
		for (unsigned k = 0; k < l->nsni; k++) {
			free(l->sni[k].domain);
			free(l->sni[k].cert);
			free(l->sni[k].key);
		}
		free(l->sni);
		for (unsigned k = 0; k < l->norigins; k++)
			free(l->origins[k]);
		free(l->origins);
	}
	free(c->listen);
	free(c->tls.ca);
	for (unsigned i = 0; i < c->ndomains; i++)
		free(c->domains[i]);
	free(c->domains);
	free(c->server_name);
	free(c->path);
	free(c);
}

bool conf_is_domain(const struct conf *c, const char *p, size_t len)
{
	for (unsigned i = 0; i < c->ndomains; i++) {
		const char *d = c->domains[i];

		if (strlen(d) == len && strncasecmp(d, p, len) == 0)
			return true;
	}
	return false;
}

bool conf_host_is_address(struct slice host, const char *address)
{
	unsigned char a[16], b[16];
	char tmp[64];
	int fam;

	if (host.len >= 2 && host.p[0] == '[' && host.p[host.len - 1] == ']')
		host = slice_make(host.p + 1, host.len - 2);
	if (!address)
		return false;
	if (slice_caseeq_cstr(host, address))
		return true;
	if (host.len == 0 || host.len >= sizeof(tmp))
		return false;
	memcpy(tmp, host.p, host.len);
	tmp[host.len] = '\0';
	fam = memchr(tmp, ':', host.len) ? AF_INET6 : AF_INET;
	return inet_pton(fam, tmp, a) == 1 && inet_pton(fam, address, b) == 1 &&
	       memcmp(a, b, fam == AF_INET ? 4 : 16) == 0;
}

bool conf_is_listen_host(const struct conf *c, struct slice host, uint16_t port)
{
	for (unsigned i = 0; i < c->nlisten; i++)
		if ((conf_host_is_address(host, c->listen[i].address) &&
		     (port == 0 || port == c->listen[i].port)) ||
		    (c->listen[i].adv_host &&
		     slice_caseeq_cstr(host, c->listen[i].adv_host) &&
		     (port == 0 || port == c->listen[i].adv_port)))
			return true;
	return false;
}

bool conf_net_has(const struct conf_net *nets, unsigned n,
		  const struct sockaddr *sa)
{
	const unsigned char *a;
	int family;

	if (!sa)
		return false;
	if (sa->sa_family == AF_INET) {
		a = (const unsigned char *)&((const struct sockaddr_in *)sa)
			->sin_addr;
		family = AF_INET;
	} else if (sa->sa_family == AF_INET6) {
		a = (const unsigned char *)&((const struct sockaddr_in6 *)sa)
			->sin6_addr;
		family = AF_INET6;
		/* ::ffff:a.b.c.d is the IPv4 host a.b.c.d. */
		if (memcmp(a, v4mapped, sizeof(v4mapped)) == 0) {
			a += 12;
			family = AF_INET;
		}
	} else {
		return false;
	}
	for (unsigned i = 0; i < n; i++)
		if (net_match(&nets[i], family, a))
			return true;
	return false;
}
