/* proxy/core/conf.c - configuration: YAML checked for file:line, libcyaml load
 */
#include "proxy/core/conf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cyaml/cyaml.h>
#include <yaml.h>

#include "proxy/base/file.h"
#include "proxy/base/err.h"
#include "proxy/sip/hdr.h"
#include "proxy/sip/uri.h"
#include "proxy/sip/msg.h"
#include "store/redis.h"

/*
 * How a file is loaded:
 *
 * 1. check: a walk over libyaml's events, driven by the libcyaml schema
 *    below, finds every fault the file can have (syntax, unknown or
 *    duplicate key, wrong kind of value, integer out of range, bad enum,
 *    address, CIDR) and reports it as "FILE:LINE: reason". libcyaml's own
 *    messages name the line of the enclosing mapping, not of the key at
 *    fault, so they cannot be used for that.
 * 2. load: libcyaml fills struct raw from the same schema. After the
 *    check it does not fail but for lack of memory.
 * 3. build: struct conf from struct raw, with defaults.
 *
 * In struct raw, 0 means "not in the file": the ranges of integers
 * exclude 0 (except workers, where 0 means the default anyway) and enum
 * values start at 1.
 */

#define FILE_MAX (1024 * 1024)

/* listen[].transports: a bit set (not enum peer_proto, which numbers the
 * transports of a message). */
enum { LISTEN_UDP = 1, LISTEN_TCP = 2 };
enum { RAW_STORE_MEMORY = 1, RAW_STORE_REDIS = 2 };
enum { RAW_BOOL_TRUE = 1, RAW_BOOL_FALSE = 2 };

struct raw_listen {
	char *address;
	unsigned port;
	unsigned transports; /* LISTEN_* */
};

struct raw_sentinel {
	char *master;
	char **addresses;
	unsigned addresses_count;
};

struct raw_redis {
	char *address;
	char *password;
	unsigned db;
	unsigned connect_timeout_ms;
	unsigned command_timeout_ms;
	unsigned queue_max;
	char *ns;
	struct raw_sentinel sentinel;
};

struct raw_store {
	int backend; /* RAW_STORE_* */
	char *snapshot;
	unsigned snapshot_interval_s;
	struct raw_redis redis;
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
	unsigned auth_failure_window_s;
};

struct raw_tcp {
	unsigned max_connections;
	unsigned idle_timeout_s;
	unsigned max_header_bytes;
	unsigned max_body_bytes;
};

struct raw_udp {
	unsigned batch;
};

struct raw_proxy {
	int record_route; /* RAW_BOOL_* */
	unsigned t1_ms;
	unsigned t2_ms;
	unsigned t4_ms;
	unsigned timer_c_s;
};

struct raw_route {
	char *domain;
	char *prefix;
	char **next_hop;
	unsigned next_hop_count;
};

struct raw_location {
	char *aor;
	char **contacts;
	unsigned contacts_count;
};

struct raw_overload {
	unsigned max_inbox;
	unsigned max_transactions;
	unsigned retry_after_s;
};

struct raw_aa_rule {
	char *user_agent;
	int profile; /* enum conf_aa + 1 */
};

struct raw_page_group {
	char *number;
	char **members;
	unsigned members_count;
};

struct raw_intercom {
	char *domain;
	int enabled; /* RAW_BOOL_* */
	char *code;
	char **allow;
	unsigned allow_count;
	int default_profile; /* enum conf_aa + 1 */
	struct raw_aa_rule *profiles;
	unsigned profiles_count;
	struct raw_page_group *groups;
	unsigned groups_count;
};

struct raw_features {
	int gruu; /* RAW_BOOL_* */
	struct raw_intercom *intercom;
	unsigned intercom_count;
};

struct raw {
	unsigned workers;
	int log_level; /* enum log_level + 1 */
	struct raw_listen *listen;
	unsigned listen_count;
	char **domains;
	unsigned domains_count;
	struct raw_store store;
	struct raw_registrar registrar;
	struct raw_tcp tcp;
	struct raw_udp udp;
	unsigned max_headers;
	char *server_name;
	struct raw_proxy proxy;
	struct raw_route *routes;
	unsigned routes_count;
	struct raw_location *locations;
	unsigned locations_count;
	struct raw_overload overload;
	struct raw_features features;
};

static const cyaml_strval_t level_strings[] = {
	{ "debug", LOG_DEBUG + 1 },   { "info", LOG_INFO + 1 },
	{ "notice", LOG_NOTICE + 1 }, { "warn", LOG_WARN + 1 },
	{ "warning", LOG_WARN + 1 },  { "error", LOG_ERR + 1 },
};

static const cyaml_strval_t transport_strings[] = {
	{ "udp", LISTEN_UDP },
	{ "tcp", LISTEN_TCP },
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

static const cyaml_strval_t backend_strings[] = {
	{ "memory", RAW_STORE_MEMORY },
	{ "redis", RAW_STORE_REDIS },
};

static const cyaml_schema_field_t listen_fields[] = {
	CYAML_FIELD_STRING_PTR("address", CYAML_FLAG_POINTER, struct raw_listen,
			       address, 1, 64),
	CYAML_FIELD_UINT("port", CYAML_FLAG_OPTIONAL, struct raw_listen, port),
	CYAML_FIELD_FLAGS("transports", CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT,
			  struct raw_listen, transports, transport_strings,
			  CYAML_ARRAY_LEN(transport_strings)),
	CYAML_FIELD_END
};

static const cyaml_schema_value_t listen_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_listen,
			    listen_fields),
};

static const cyaml_schema_value_t domain_entry = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 1, 253),
};

static const cyaml_schema_value_t cidr_entry = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 1, 64),
};

static const cyaml_schema_value_t redis_addr_entry = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 1, 128),
};

static const cyaml_schema_field_t sentinel_fields[] = {
	CYAML_FIELD_STRING_PTR("master", CYAML_FLAG_POINTER,
			       struct raw_sentinel, master, 1, 128),
	CYAML_FIELD_SEQUENCE("addresses", CYAML_FLAG_POINTER,
			     struct raw_sentinel, addresses, &redis_addr_entry,
			     1, 16),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t redis_fields[] = {
	CYAML_FIELD_STRING_PTR("address",
			       CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			       struct raw_redis, address, 1, 128),
	CYAML_FIELD_STRING_PTR("password",
			       CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			       struct raw_redis, password, 1, 512),
	CYAML_FIELD_UINT("db", CYAML_FLAG_OPTIONAL, struct raw_redis, db),
	CYAML_FIELD_UINT("connect_timeout_ms", CYAML_FLAG_OPTIONAL,
			 struct raw_redis, connect_timeout_ms),
	CYAML_FIELD_UINT("command_timeout_ms", CYAML_FLAG_OPTIONAL,
			 struct raw_redis, command_timeout_ms),
	CYAML_FIELD_UINT("queue_max", CYAML_FLAG_OPTIONAL, struct raw_redis,
			 queue_max),
	CYAML_FIELD_STRING_PTR("namespace",
			       CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			       struct raw_redis, ns, 1, 64),
	CYAML_FIELD_MAPPING("sentinel", CYAML_FLAG_OPTIONAL, struct raw_redis,
			    sentinel, sentinel_fields),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t store_fields[] = {
	CYAML_FIELD_ENUM("backend", CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT,
			 struct raw_store, backend, backend_strings,
			 CYAML_ARRAY_LEN(backend_strings)),
	CYAML_FIELD_STRING_PTR("snapshot",
			       CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			       struct raw_store, snapshot, 1, 4096),
	CYAML_FIELD_UINT("snapshot_interval_s", CYAML_FLAG_OPTIONAL,
			 struct raw_store, snapshot_interval_s),
	CYAML_FIELD_MAPPING("redis", CYAML_FLAG_OPTIONAL, struct raw_store,
			    redis, redis_fields),
	CYAML_FIELD_END
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
	CYAML_FIELD_UINT("auth_failure_window_s", CYAML_FLAG_OPTIONAL,
			 struct raw_registrar, auth_failure_window_s),
	CYAML_FIELD_END
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
	CYAML_FIELD_END
};

static const cyaml_schema_field_t udp_fields[] = {
	CYAML_FIELD_UINT("batch", CYAML_FLAG_OPTIONAL, struct raw_udp, batch),
	CYAML_FIELD_END
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
	CYAML_FIELD_END
};

static const cyaml_schema_value_t uri_entry = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 1, 256),
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

static const cyaml_schema_field_t overload_fields[] = {
	CYAML_FIELD_UINT("max_inbox", CYAML_FLAG_OPTIONAL, struct raw_overload,
			 max_inbox),
	CYAML_FIELD_UINT("max_transactions", CYAML_FLAG_OPTIONAL,
			 struct raw_overload, max_transactions),
	CYAML_FIELD_UINT("retry_after_s", CYAML_FLAG_OPTIONAL,
			 struct raw_overload, retry_after_s),
	CYAML_FIELD_END
};

static const cyaml_strval_t aa_strings[] = {
	{ "callinfo", CONF_AA_CALLINFO + 1 },
	{ "alertinfo-autoanswer", CONF_AA_ALERT_AUTOANSWER + 1 },
	{ "alertinfo-answerafter", CONF_AA_ALERT_ANSWERAFTER + 1 },
	{ "polycom", CONF_AA_POLYCOM + 1 },
	{ "uri-intercom", CONF_AA_URI_INTERCOM + 1 },
	{ "answer-mode", CONF_AA_ANSWER_MODE + 1 },
};

static const cyaml_schema_value_t user_entry = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 1, 64),
};

static const cyaml_schema_field_t aa_rule_fields[] = {
	CYAML_FIELD_STRING_PTR("user_agent", CYAML_FLAG_POINTER,
			       struct raw_aa_rule, user_agent, 1, 128),
	CYAML_FIELD_ENUM("profile", CYAML_FLAG_STRICT, struct raw_aa_rule,
			 profile, aa_strings, CYAML_ARRAY_LEN(aa_strings)),
	CYAML_FIELD_END
};

static const cyaml_schema_value_t aa_rule_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_aa_rule,
			    aa_rule_fields),
};

static const cyaml_schema_field_t page_group_fields[] = {
	CYAML_FIELD_STRING_PTR("number", CYAML_FLAG_POINTER,
			       struct raw_page_group, number, 1, 16),
	CYAML_FIELD_SEQUENCE("members", CYAML_FLAG_POINTER,
			     struct raw_page_group, members, &user_entry, 1,
			     64),
	CYAML_FIELD_END
};

static const cyaml_schema_value_t page_group_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_page_group,
			    page_group_fields),
};

static const cyaml_schema_field_t intercom_fields[] = {
	CYAML_FIELD_STRING_PTR("domain", CYAML_FLAG_POINTER,
			       struct raw_intercom, domain, 1, 253),
	CYAML_FIELD_ENUM("enabled", CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT,
			 struct raw_intercom, enabled, bool_strings,
			 CYAML_ARRAY_LEN(bool_strings)),
	CYAML_FIELD_STRING_PTR("code", CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			       struct raw_intercom, code, 1, 8),
	CYAML_FIELD_SEQUENCE("allow", CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			     struct raw_intercom, allow, &user_entry, 1, 1024),
	CYAML_FIELD_ENUM("default_profile",
			 CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT,
			 struct raw_intercom, default_profile, aa_strings,
			 CYAML_ARRAY_LEN(aa_strings)),
	CYAML_FIELD_SEQUENCE(
	    "profiles", CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
	    struct raw_intercom, profiles, &aa_rule_entry, 0, 64),
	CYAML_FIELD_SEQUENCE("groups", CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			     struct raw_intercom, groups, &page_group_entry, 0,
			     256),
	CYAML_FIELD_END
};

static const cyaml_schema_value_t intercom_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_intercom,
			    intercom_fields),
};

static const cyaml_schema_field_t features_fields[] = {
	CYAML_FIELD_ENUM("gruu", CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT,
			 struct raw_features, gruu, bool_strings,
			 CYAML_ARRAY_LEN(bool_strings)),
	CYAML_FIELD_SEQUENCE(
	    "intercom", CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
	    struct raw_features, intercom, &intercom_entry, 0, 256),
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
	CYAML_FIELD_MAPPING("store", CYAML_FLAG_OPTIONAL, struct raw, store,
			    store_fields),
	CYAML_FIELD_MAPPING("registrar", CYAML_FLAG_OPTIONAL, struct raw,
			    registrar, registrar_fields),
	CYAML_FIELD_MAPPING("tcp", CYAML_FLAG_OPTIONAL, struct raw, tcp,
			    tcp_fields),
	CYAML_FIELD_MAPPING("udp", CYAML_FLAG_OPTIONAL, struct raw, udp,
			    udp_fields),
	CYAML_FIELD_UINT("max_headers", CYAML_FLAG_OPTIONAL, struct raw,
			 max_headers),
	CYAML_FIELD_STRING_PTR("server_name",
			       CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			       struct raw, server_name, 1, 128),
	CYAML_FIELD_MAPPING("proxy", CYAML_FLAG_OPTIONAL, struct raw, proxy,
			    proxy_fields),
	CYAML_FIELD_SEQUENCE("routes", CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			     struct raw, routes, &route_entry, 0, 1024),
	CYAML_FIELD_SEQUENCE("locations",
			     CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			     struct raw, locations, &location_entry, 0, 10000),
	CYAML_FIELD_MAPPING("overload", CYAML_FLAG_OPTIONAL, struct raw,
			    overload, overload_fields),
	CYAML_FIELD_MAPPING("features", CYAML_FLAG_OPTIONAL, struct raw,
			    features, features_fields),
	CYAML_FIELD_END
};

static const cyaml_schema_value_t top_schema = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct raw, top_fields),
};

/* The check pass: libyaml events against the schema above. */

#define SEEN_TRUSTED 1u

struct walk {
	yaml_parser_t parser;
	yaml_event_t ev; /* the current event, when have_ev */
	bool have_ev;
	const char *name;
	const char *text;
	size_t len;
	char *errbuf;
	size_t errlen;
	unsigned seen; /* SEEN_* */
};

typedef int check_fn(struct walk *w, const yaml_mark_t *m, const char *path,
		     const char *v);

/* Rules the schema cannot say, by schema path (keys only, no indices). */
struct rule {
	const char *spath;
	long long min, max; /* integers */
	check_fn *check;    /* scalars */
	unsigned seen;	    /* SEEN_* bit set when the key is given */
};

static check_fn check_address, check_domain, check_cidr, check_backend;
static check_fn check_redis_addr, check_redis_ns;
static check_fn check_prefix, check_next_hop, check_contact, check_aor;

static check_fn check_code, check_digits, check_user;

static const struct rule rules[] = {
	{ "workers", 0, CONF_MAX_WORKERS, NULL, 0 },
	{ "listen.address", 0, 0, check_address, 0 },
	{ "listen.port", 1, 65535, NULL, 0 },
	{ "domains", 0, 0, check_domain, 0 },
	{ "store.backend", 0, 0, check_backend, 0 },
	{ "store.redis.address", 0, 0, check_redis_addr, 0 },
	{ "store.redis.db", 0, 1000, NULL, 0 },
	{ "store.redis.connect_timeout_ms", 1, 60000, NULL, 0 },
	{ "store.redis.command_timeout_ms", 1, 60000, NULL, 0 },
	{ "store.redis.queue_max", 1, 10000000, NULL, 0 },
	{ "store.redis.namespace", 0, 0, check_redis_ns, 0 },
	{ "store.redis.sentinel.addresses", 0, 0, check_redis_addr, 0 },
	{ "registrar.trusted", 0, 0, check_cidr, SEEN_TRUSTED },
	{ "registrar.min_expires_s", 1, 86400, NULL, 0 },
	{ "registrar.max_expires_s", 1, 604800, NULL, 0 },
	{ "registrar.default_expires_s", 1, 604800, NULL, 0 },
	{ "registrar.nonce_ttl_s", 1, 86400, NULL, 0 },
	{ "registrar.max_auth_failures", 1, 1000000, NULL, 0 },
	{ "registrar.auth_failure_window_s", 1, 86400, NULL, 0 },
	{ "store.snapshot_interval_s", 1, 86400, NULL, 0 },
	{ "tcp.max_connections", 1, 1000000, NULL, 0 },
	{ "tcp.idle_timeout_s", 1, 86400, NULL, 0 },
	{ "tcp.max_header_bytes", 1024, 1048576, NULL, 0 },
	{ "tcp.max_body_bytes", 1, 16777216, NULL, 0 },
	{ "udp.batch", 1, 1024, NULL, 0 },
	{ "max_headers", 16, 1024, NULL, 0 },
	{ "features.intercom.domain", 0, 0, check_domain, 0 },
	{ "features.intercom.code", 0, 0, check_code, 0 },
	{ "features.intercom.allow", 0, 0, check_user, 0 },
	{ "features.intercom.groups.number", 0, 0, check_digits, 0 },
	{ "features.intercom.groups.members", 0, 0, check_user, 0 },
	{ "proxy.t1_ms", 10, 10000, NULL, 0 },
	{ "proxy.t2_ms", 10, 60000, NULL, 0 },
	{ "proxy.t4_ms", 10, 60000, NULL, 0 },
	{ "proxy.timer_c_s", 1, 3600, NULL, 0 },
	{ "routes.domain", 0, 0, check_domain, 0 },
	{ "routes.prefix", 0, 0, check_prefix, 0 },
	{ "routes.next_hop", 0, 0, check_next_hop, 0 },
	{ "locations.aor", 0, 0, check_aor, 0 },
	{ "locations.contacts", 0, 0, check_contact, 0 },
	{ "overload.max_inbox", 1, 10000000, NULL, 0 },
	{ "overload.max_transactions", 1, 10000000, NULL, 0 },
	{ "overload.retry_after_s", 1, 3600, NULL, 0 },
};

/* Mappings that need exactly one of two keys, by schema path. */
static const struct {
	const char *spath;
	const char *a, *b;
} one_of[] = {
	{ "routes", "domain", "prefix" },
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

/* The one_of[] rule of @p spath, if any, against the keys @p seen. */
static int check_one_of(struct walk *w, const cyaml_schema_field_t *fields,
			uint64_t seen, const yaml_mark_t *start,
			const char *path, const char *spath)
{
	for (size_t k = 0; k < sizeof(one_of) / sizeof(one_of[0]); k++) {
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
	return check_one_of(w, fields, seen, &start, path, spath);
}

static int walk_sequence(struct walk *w, const cyaml_schema_value_t *s,
			 const char *path, const char *spath)
{
	const struct rule *r = rule_find(spath);
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
	if (r)
		w->seen |= r->seen;
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
		      const char *path)
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

static int walk_scalar(struct walk *w, const cyaml_schema_value_t *s,
		       const char *path, const char *spath)
{
	const struct rule *r = rule_find(spath);
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
		min = r ? r->min : 0;
		max = r ? r->max : UINT32_MAX;
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
	if (r && r->check)
		return r->check(w, m, path, v);
	return 0;
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
		return walk_flags(w, s, path);
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
		err = walk_value(w, &top_schema, "", "");
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

static int addr_parse(const char *s, uint16_t port, struct sockaddr_storage *ss,
		      socklen_t *lenp)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*lenp = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, s, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*lenp = sizeof(*sin6);
		return 0;
	}
	return -EINVAL;
}

static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0,    0,
					    0, 0, 0, 0, 0xff, 0xff };

/* "addr/prefix" or a bare address (a host network). */
static int net_parse(const char *s, struct conf_net *n)
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

	if (addr_parse(v, 0, &ss, &len) < 0)
		return fail(w, m, "%s: '%.64s' is not an IPv4 or IPv6 address",
			    path, v);
	return 0;
}

static int check_cidr(struct walk *w, const yaml_mark_t *m, const char *path,
		      const char *v)
{
	struct conf_net n;

	if (net_parse(v, &n) < 0)
		return fail(w, m,
			    "%s: '%.64s' is not a network in CIDR form "
			    "(like 10.0.0.0/8 or fd00::/8)",
			    path, v);
	return 0;
}

/* Host names, IPv4 literals and bracketed IPv6 literals (RFC 3261 host). */
static int check_domain(struct walk *w, const yaml_mark_t *m, const char *path,
			const char *v)
{
	for (const char *p = v; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._:[]", *p))
			continue;
		return fail(w, m, "%s: '%.64s' is not a domain name", path, v);
	}
	return 0;
}

static int check_backend(struct walk *w, const yaml_mark_t *m, const char *path,
			 const char *v)
{
	/* memory and redis (store/redis.h): both implemented. */
	(void)w;
	(void)m;
	(void)path;
	(void)v;
	return 0;
}

/* "IP:PORT", "[IPv6]:PORT" or "unix:/path": no names to resolve. */
static int check_redis_addr(struct walk *w, const yaml_mark_t *m,
			    const char *path, const char *v)
{
	struct redis_addr a;

	if (redis_addr_parse(v, &a) < 0)
		return fail(w, m,
			    "%s: '%.80s' is not IP:PORT, [IPv6]:PORT or "
			    "unix:/path",
			    path, v);
	return 0;
}

/* Letters, digits, '_', '-', '.': the start of every key. */
static int check_redis_ns(struct walk *w, const yaml_mark_t *m,
			  const char *path, const char *v)
{
	for (const char *p = v; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("_-.", *p)))
			return fail(w, m,
				    "%s: '%.64s' may hold only letters, "
				    "digits, '_', '-' and '.'",
				    path, v);
	return 0;
}

/* Digits and '+', '*', '#': a number prefix (routes[].prefix). */
static int check_prefix(struct walk *w, const yaml_mark_t *m, const char *path,
			const char *v)
{
	for (const char *p = v; *p; p++)
		if (!strchr("0123456789+*#", *p))
			return fail(w, m,
				    "%s: '%.40s' is not a number prefix "
				    "(digits, +, *, #)",
				    path, v);
	return 0;
}

/*
 * A sip: URI whose host is an IP literal: sipedge never resolves names
 * on a shard. Only transport=udp or tcp. With @p nameaddr, the value may
 * be "<uri>;q=0.5" (a Contact with header parameters).
 */
static int check_uri(struct walk *w, const yaml_mark_t *m, const char *path,
		     const char *v, bool nameaddr)
{
	struct conf_target t;

	struct slice uri;

	switch (conf_target_parse(v, nameaddr, &t, &uri)) {
	case 0:
		return 0;
	case -EPROTONOSUPPORT:
		return fail(w, m, "%s: '%.80s': transport must be udp or tcp",
			    path, v);
	case -EDESTADDRREQ:
		return fail(w, m,
			    "%s: '%.80s': the host must be an IP address "
			    "(no DNS)",
			    path, v);
	case -ERANGE:
		return fail(w, m, "%s: '%.80s': q must be 0 .. 1", path, v);
	default:
		return fail(w, m, "%s: '%.80s' is not a sip: URI", path, v);
	}
}

static int check_next_hop(struct walk *w, const yaml_mark_t *m,
			  const char *path, const char *v)
{
	return check_uri(w, m, path, v, false);
}

static int check_contact(struct walk *w, const yaml_mark_t *m, const char *path,
			 const char *v)
{
	return check_uri(w, m, path, v, true);
}

/* "user@domain", both parts non-empty, no spaces or brackets. */
static int check_aor(struct walk *w, const yaml_mark_t *m, const char *path,
		     const char *v)
{
	const char *at = strchr(v, '@');

	if (!at || at == v || !at[1] || strchr(at + 1, '@') ||
	    strpbrk(v, " \t<>;:\""))
		return fail(w, m,
			    "%s: '%.80s' is not an address of record "
			    "(user@domain)",
			    path, v);
	return 0;
}

/* A feature code: digits, '*' and '#' (features.intercom[].code). */
static int check_code(struct walk *w, const yaml_mark_t *m, const char *path,
		      const char *v)
{
	if (strspn(v, "0123456789*#") != strlen(v))
		return fail(w, m,
			    "%s: '%.40s' is not a feature code (digits, *, #)",
			    path, v);
	return 0;
}

static int check_digits(struct walk *w, const yaml_mark_t *m, const char *path,
			const char *v)
{
	if (strspn(v, "0123456789") != strlen(v))
		return fail(w, m, "%s: '%.40s' is not a number (digits)", path,
			    v);
	return 0;
}

/* A user part that needs no escaping: letters, digits, -_.!~*'()&=+$,/ */
static int check_user(struct walk *w, const yaml_mark_t *m, const char *path,
		      const char *v)
{
	for (const char *p = v; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-_.!~*'()&=+$,/", *p))
			continue;
		return fail(w, m, "%s: '%.64s' is not a user name", path, v);
	}
	return 0;
}

/* Build struct conf from struct raw. Fails only for lack of memory. */

static unsigned or_default(unsigned v, unsigned def)
{
	return v ? v : def;
}

static int build_listen(struct conf *c, const struct raw *r)
{
	static const struct raw_listen def = { (char *)"127.0.0.1", 5060, 0 };
	unsigned n = r->listen_count ? r->listen_count : 1;

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
		l->port = (uint16_t)or_default(rl->port, 5060);
		l->udp = !rl->transports || (rl->transports & LISTEN_UDP);
		l->tcp = !rl->transports || (rl->transports & LISTEN_TCP);
		if (addr_parse(l->address, l->port, &l->addr, &l->addrlen) < 0)
			return ERR_CONFIG;
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

static int build_trusted(struct conf *c, const struct raw *r, bool given)
{
	static const char *const def[] = { "127.0.0.0/8", "::1/128" };
	unsigned n = given ? r->registrar.trusted_count : 2;

	if (n == 0)
		return 0;
	c->trusted = calloc(n, sizeof(*c->trusted));
	if (!c->trusted)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		const char *s = given ? r->registrar.trusted[i] : def[i];

		if (net_parse(s, &c->trusted[i]) < 0)
			return ERR_CONFIG;
	}
	c->ntrusted = n;
	return 0;
}

static unsigned or_default_u(unsigned v, unsigned def)
{
	return v ? v : def;
}

/* Registrar and store settings; the expiry bounds must be in order. */
static int build_registrar(struct conf *c, const struct raw *r,
			   const char *name, char *errbuf, size_t errlen)
{
	const struct raw_registrar *g = &r->registrar;

	c->reg.min_expires_s = or_default_u(g->min_expires_s, 60);
	c->reg.max_expires_s = or_default_u(g->max_expires_s, 86400);
	c->reg.default_expires_s = or_default_u(g->default_expires_s, 3600);
	if (c->reg.min_expires_s > c->reg.max_expires_s ||
	    c->reg.default_expires_s < c->reg.min_expires_s ||
	    c->reg.default_expires_s > c->reg.max_expires_s) {
		msg(errbuf, errlen,
		    "%s: registrar: need min_expires_s (%u) <= "
		    "default_expires_s (%u) <= max_expires_s (%u)",
		    name ? name : "<default>", c->reg.min_expires_s,
		    c->reg.default_expires_s, c->reg.max_expires_s);
		return ERR_CONFIG;
	}
	c->reg.auth_methods =
	    g->auth_methods ? g->auth_methods
			    : (1u << SIP_REGISTER) | (1u << SIP_INVITE) |
				  (1u << SIP_MESSAGE) | (1u << SIP_SUBSCRIBE) |
				  (1u << SIP_REFER) | (1u << SIP_PUBLISH);
	c->reg.nonce_ttl_s = or_default_u(g->nonce_ttl_s, 300);
	c->reg.max_auth_failures = or_default_u(g->max_auth_failures, 10);
	c->reg.auth_failure_window_s =
	    or_default_u(g->auth_failure_window_s, 300);
	if ((g->users_file && !(c->reg.users_file = strdup(g->users_file))) ||
	    (g->secret && !(c->reg.secret = strdup(g->secret))) ||
	    (r->store.snapshot && !(c->snapshot = strdup(r->store.snapshot))))
		return -ENOMEM;
	c->snapshot_interval_s = or_default_u(r->store.snapshot_interval_s, 10);
	return 0;
}

int conf_target_parse(const char *s, bool nameaddr, struct conf_target *t,
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
	if (uri_parse(v, &u) < 0 || u.scheme != URI_SIP)
		return -EINVAL;
	if (!u.host_is_ipv4 && !u.host_is_ipv6)
		return -EDESTADDRREQ;
	r = uri_param(&u, "transport", &val);
	if (r > 0 && slice_caseeq_cstr(val, "tcp"))
		t->proto = 1;
	else if (r > 0 && !slice_caseeq_cstr(val, "udp"))
		return -EPROTONOSUPPORT;
	if (u.host.len + 1 > sizeof(host))
		return -EDESTADDRREQ;
	if (u.host_is_ipv6)
		slice_cstr_copy(slice_make(u.host.p + 1, u.host.len - 2), host,
				sizeof(host));
	else
		slice_cstr_copy(u.host, host, sizeof(host));
	if (addr_parse(host, u.port ? u.port : 5060, &t->addr, &t->addrlen) < 0)
		return -EDESTADDRREQ;
	t->q = (uint16_t)q;
	*urip = v;
	return 0;
}

const struct conf_route *conf_route_find(const struct conf *c,
					 struct slice ruri_host,
					 struct slice ruri_user)
{
	for (unsigned i = 0; i < c->nroutes; i++) {
		const struct conf_route *r = &c->routes[i];

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
		if (conf_target_parse(uris[i], nameaddr, &t[i], &uri) < 0)
			return ERR_CONFIG;
		t[i].uri = strndup(uri.p, uri.len);
		if (!t[i].uri)
			return -ENOMEM;
		*np = i + 1;
	}
	return 0;
}

static char *lower_dup(const char *s)
{
	char *d = strdup(s);

	for (char *p = d; p && *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return d;
}

/* proxy, routes, locations, overload. */
static int build_proxy(struct conf *c, const struct raw *r)
{
	int err;

	c->proxy.record_route = r->proxy.record_route != RAW_BOOL_FALSE;
	c->proxy.t1_ms = or_default(r->proxy.t1_ms, 500);
	c->proxy.t2_ms = or_default(r->proxy.t2_ms, 4000);
	/* RFC 3261 §17.1.2.2: T2 is the cap of a doubling T1. */
	if (c->proxy.t2_ms < c->proxy.t1_ms)
		c->proxy.t2_ms = c->proxy.t1_ms;
	c->proxy.t4_ms = or_default(r->proxy.t4_ms, 5000);
	c->proxy.timer_c_s = or_default(r->proxy.timer_c_s, 180);
	c->overload.max_inbox = or_default(r->overload.max_inbox, 10000);
	c->overload.max_transactions =
	    or_default(r->overload.max_transactions, 100000);
	c->overload.retry_after_s = or_default(r->overload.retry_after_s, 5);
	if (r->routes_count) {
		c->routes = calloc(r->routes_count, sizeof(*c->routes));
		if (!c->routes)
			return -ENOMEM;
	}
	for (unsigned i = 0; i < r->routes_count; i++) {
		const struct raw_route *rr = &r->routes[i];
		struct conf_route *cr = &c->routes[i];

		c->nroutes = i + 1;
		if ((rr->domain && !(cr->domain = lower_dup(rr->domain))) ||
		    (rr->prefix && !(cr->prefix = strdup(rr->prefix))))
			return -ENOMEM;
		err = build_targets((const char *const *)rr->next_hop,
				    rr->next_hop_count, false, &cr->next_hop,
				    &cr->nnext_hop);
		if (err)
			return err;
	}
	if (r->locations_count) {
		c->locations =
		    calloc(r->locations_count, sizeof(*c->locations));
		if (!c->locations)
			return -ENOMEM;
	}
	for (unsigned i = 0; i < r->locations_count; i++) {
		const struct raw_location *rl = &r->locations[i];
		struct conf_location *cl = &c->locations[i];

		c->nlocations = i + 1;
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

static char **dup_list(char *const *v, unsigned n)
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

static void free_list(char **v, unsigned n)
{
	for (unsigned i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

/* One features.intercom[] entry; its domain must be served, once. */
static int build_intercom(struct conf *c, const struct raw_intercom *ri,
			  struct conf_intercom *ci, const char *name,
			  char *errbuf, size_t errlen)
{
	const char *what = NULL;

	ci->domain = lower_dup(ri->domain);
	ci->code = strdup(ri->code ? ri->code : "*6");
	if (!ci->domain || !ci->code)
		return -ENOMEM;
	ci->enabled = ri->enabled != RAW_BOOL_FALSE;
	ci->default_profile = ri->default_profile
				  ? (enum conf_aa)(ri->default_profile - 1)
				  : CONF_AA_CALLINFO;
	if (ri->allow_count) {
		ci->allow = dup_list(ri->allow, ri->allow_count);
		if (!ci->allow)
			return -ENOMEM;
		ci->nallow = ri->allow_count;
	}
	if (ri->profiles_count) {
		ci->profiles =
		    calloc(ri->profiles_count, sizeof(*ci->profiles));
		if (!ci->profiles)
			return -ENOMEM;
	}
	for (unsigned i = 0; i < ri->profiles_count; i++) {
		ci->profiles[i].user_agent = strdup(ri->profiles[i].user_agent);
		if (!ci->profiles[i].user_agent)
			return -ENOMEM;
		ci->profiles[i].profile =
		    (enum conf_aa)(ri->profiles[i].profile - 1);
		ci->nprofiles = i + 1;
	}
	if (ri->groups_count) {
		ci->groups = calloc(ri->groups_count, sizeof(*ci->groups));
		if (!ci->groups)
			return -ENOMEM;
	}
	for (unsigned i = 0; i < ri->groups_count; i++) {
		const struct raw_page_group *rg = &ri->groups[i];
		struct conf_page_group *g = &ci->groups[i];

		g->number = strdup(rg->number);
		g->members = dup_list(rg->members, rg->members_count);
		if (!g->number || !g->members) {
			ci->ngroups = i + 1;
			return -ENOMEM;
		}
		g->nmembers = rg->members_count;
		ci->ngroups = i + 1;
		for (unsigned k = 0; k < i && !what; k++)
			if (strcmp(ci->groups[k].number, g->number) == 0)
				what = "a paging group number is given twice";
	}
	if (!conf_is_domain(c, ci->domain, strlen(ci->domain)))
		what = "domain is not one of the served domains";
	for (unsigned k = 0; k + 1 < c->features.nintercom && !what; k++)
		if (strcmp(c->features.intercom[k].domain, ci->domain) == 0)
			what = "domain is given twice";
	if (what) {
		msg(errbuf, errlen, "%s: features.intercom: %s: %s",
		    name ? name : "<default>", ci->domain, what);
		return ERR_CONFIG;
	}
	return 0;
}

static int build_features(struct conf *c, const struct raw *r, const char *name,
			  char *errbuf, size_t errlen)
{
	const struct raw_features *rf = &r->features;
	int err;

	c->features.gruu = rf->gruu != RAW_BOOL_FALSE;
	if (!rf->intercom_count)
		return 0;
	c->features.intercom =
	    calloc(rf->intercom_count, sizeof(*c->features.intercom));
	if (!c->features.intercom)
		return -ENOMEM;
	for (unsigned i = 0; i < rf->intercom_count; i++) {
		c->features.nintercom = i + 1;
		err = build_intercom(c, &rf->intercom[i],
				     &c->features.intercom[i], name, errbuf,
				     errlen);
		if (err)
			return err;
	}
	return 0;
}

static void free_features(struct conf *c)
{
	for (unsigned i = 0; i < c->features.nintercom; i++) {
		struct conf_intercom *ci = &c->features.intercom[i];

		free(ci->domain);
		free(ci->code);
		free_list(ci->allow, ci->nallow);
		for (unsigned k = 0; k < ci->nprofiles; k++)
			free(ci->profiles[k].user_agent);
		free(ci->profiles);
		for (unsigned k = 0; k < ci->ngroups; k++) {
			free(ci->groups[k].number);
			free_list(ci->groups[k].members,
				  ci->groups[k].nmembers);
		}
		free(ci->groups);
	}
	free(c->features.intercom);
}

/* store.redis: a fixed address or Sentinel, not both. */
static int build_store(struct conf *c, const struct raw *r, const char *name,
		       char *errbuf, size_t errlen)
{
	const struct raw_redis *g = &r->store.redis;
	const struct raw_sentinel *sn = &g->sentinel;

	if (g->address && sn->master) {
		msg(errbuf, errlen,
		    "%s: store.redis: give address or sentinel, not both",
		    name ? name : "<default>");
		return ERR_CONFIG;
	}
	c->redis.db = g->db;
	c->redis.connect_timeout_ms = or_default(g->connect_timeout_ms, 1000);
	c->redis.command_timeout_ms = or_default(g->command_timeout_ms, 2000);
	c->redis.queue_max = or_default(g->queue_max, 100000);
	c->redis.ns = strdup(g->ns ? g->ns : "sipedge");
	if (!c->redis.ns ||
	    (g->password && !(c->redis.password = strdup(g->password))))
		return -ENOMEM;
	if (!sn->master) {
		c->redis.address =
		    strdup(g->address ? g->address : "127.0.0.1:6379");
		return c->redis.address ? 0 : -ENOMEM;
	}
	c->redis.sentinel_master = strdup(sn->master);
	c->redis.sentinels = calloc(sn->addresses_count, sizeof(char *));
	if (!c->redis.sentinel_master || !c->redis.sentinels)
		return -ENOMEM;
	for (unsigned i = 0; i < sn->addresses_count; i++) {
		c->redis.sentinels[i] = strdup(sn->addresses[i]);
		if (!c->redis.sentinels[i])
			return -ENOMEM;
		c->redis.nsentinels = i + 1;
	}
	return 0;
}

static int build(const struct raw *r, const char *name, unsigned seen,
		 struct conf **cp, char *errbuf, size_t errlen)
{
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
	c->store = r->store.backend == RAW_STORE_REDIS ? CONF_STORE_REDIS
						       : CONF_STORE_MEMORY;
	err = build_store(c, r, name, errbuf, errlen);
	if (err)
		goto out;
	err = build_trusted(c, r, seen & SEEN_TRUSTED);
	if (err)
		goto out;
	err = build_registrar(c, r, name, errbuf, errlen);
	if (err)
		goto out;
	err = build_proxy(c, r);
	if (err)
		goto out;
	err = build_features(c, r, name, errbuf, errlen);
	if (err)
		goto out;
	c->tcp.max_connections = or_default(r->tcp.max_connections, 4096);
	c->tcp.idle_timeout_s = or_default(r->tcp.idle_timeout_s, 120);
	c->tcp.max_header_bytes = or_default(r->tcp.max_header_bytes, 16384);
	c->tcp.max_body_bytes = or_default(r->tcp.max_body_bytes, 65536);
	c->udp.batch = or_default(r->udp.batch, 32);
	c->max_headers = or_default(r->max_headers, 128);
	c->server_name = strdup(r->server_name ? r->server_name
					       : "sipedge/" SIPEDGE_VERSION);
	if (!c->server_name) {
		err = -ENOMEM;
		goto out;
	}
	*cp = c;
	c = NULL;
	err = 0;
out:
	conf_free(c);
	return err;
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
	static const struct raw none;
	struct cylog cl = { .first = "", .line = 0 };
	const cyaml_config_t cfg = {
		.log_fn = cylog_cb,
		.log_ctx = &cl,
		.mem_fn = cyaml_mem,
		.log_level = CYAML_LOG_ERROR,
		.flags = CYAML_CFG_NO_ALIAS,
	};
	struct walk w;
	struct raw *raw = NULL;
	cyaml_err_t cerr;
	bool empty;
	int err;

	memset(&w, 0, sizeof(w));
	w.name = name ? name : "<config>";
	w.text = text ? text : "";
	w.len = text ? len : 0;
	w.errbuf = errbuf;
	w.errlen = errlen;
	if (!yaml_parser_initialize(&w.parser)) {
		msg(errbuf, errlen, "%s: out of memory", w.name);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&w.parser, (const unsigned char *)w.text,
				     w.len);
	err = walk_doc(&w, &empty);
	if (err)
		goto out;
	if (!empty) {
		cerr =
		    cyaml_load_data((const uint8_t *)w.text, w.len, &cfg,
				    &top_schema, (cyaml_data_t **)&raw, NULL);
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
	}
	err = build(raw ? raw : &none, w.name, w.seen, cp, errbuf, errlen);
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
		cyaml_free(&cfg, &top_schema, raw, 0);
	return err;
}

int conf_load(const char *path, struct conf **cp, char *errbuf, size_t errlen)
{
	static const struct raw none;
	char *text = NULL;
	size_t len = 0;
	int err;

	if (!path) {
		err = build(&none, NULL, 0, cp, errbuf, errlen);
		if (err)
			msg(errbuf, errlen, "<default>: out of memory");
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
	for (unsigned i = 0; i < c->nlisten; i++)
		free(c->listen[i].address);
	free(c->listen);
	for (unsigned i = 0; i < c->ndomains; i++)
		free(c->domains[i]);
	free(c->domains);
	free(c->trusted);
	free(c->reg.users_file);
	free(c->reg.secret);
	free(c->snapshot);
	free(c->redis.address);
	free(c->redis.password);
	free(c->redis.ns);
	free(c->redis.sentinel_master);
	for (unsigned i = 0; i < c->redis.nsentinels; i++)
		free(c->redis.sentinels[i]);
	free(c->redis.sentinels);
	for (unsigned i = 0; i < c->nroutes; i++) {
		free(c->routes[i].domain);
		free(c->routes[i].prefix);
		for (unsigned k = 0; k < c->routes[i].nnext_hop; k++)
			free(c->routes[i].next_hop[k].uri);
		free(c->routes[i].next_hop);
	}
	free(c->routes);
	for (unsigned i = 0; i < c->nlocations; i++) {
		free(c->locations[i].aor);
		for (unsigned k = 0; k < c->locations[i].ncontacts; k++)
			free(c->locations[i].contacts[k].uri);
		free(c->locations[i].contacts);
	}
	free(c->locations);
	free_features(c);
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
		if (conf_host_is_address(host, c->listen[i].address) &&
		    (port == 0 || port == c->listen[i].port))
			return true;
	return false;
}

bool conf_is_trusted(const struct conf *c, const struct sockaddr *sa)
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
	for (unsigned i = 0; i < c->ntrusted; i++)
		if (net_match(&c->trusted[i], family, a))
			return true;
	return false;
}
