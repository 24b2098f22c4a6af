/* proxy/core/conf.h - configuration: one YAML file, or the built-in default */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "proxy/base/log.h"
#include "proxy/base/slice.h"

/** The most shards (`workers:`, `-w`) sipedge runs. */
#define CONF_MAX_WORKERS 64

/** The most next hops of one static route. */
#define CONF_MAX_NEXT_HOPS 8

/** The most contacts of one pre-loaded location. */
#define CONF_MAX_CONTACTS 16

/** One listening address. */
struct conf_listen {
	char *address;		      /**< as written: "127.0.0.1", "::1" */
	uint16_t port;		      /**< default 5060 */
	bool udp;		      /**< listen on UDP (default true) */
	bool tcp;		      /**< listen on TCP (default true) */
	struct sockaddr_storage addr; /**< address + port, resolved */
	socklen_t addrlen;
};

/** A network in CIDR form ("127.0.0.0/8", "::1/128"). */
struct conf_net {
	int family; /**< AF_INET or AF_INET6 */
	unsigned char addr[16];
	unsigned prefix;
};

/**
 * Where a static route or a pre-loaded contact sends: a sip: URI whose
 * host is an IP literal (sipedge never resolves names on a shard).
 */
struct conf_target {
	char *uri; /**< the URI, without < > and header parameters */
	int proto; /**< enum peer_proto: 0 UDP, 1 TCP (;transport=) */
	struct sockaddr_storage addr; /**< host and port (default 5060) */
	socklen_t addrlen;
	uint16_t q; /**< q-value x 1000 (contacts; default 1000) */
};

/** A static route: requests for @p domain or numbers with @p prefix. */
struct conf_route {
	char *domain; /**< lower case, or NULL */
	char *prefix; /**< R-URI user (or tel: number) prefix, or NULL */
	struct conf_target *next_hop; /**< tried in order (503/408/error) */
	unsigned nnext_hop;
};

/** Bindings pre-loaded into the location table at start-up. */
struct conf_location {
	char *aor; /**< "user@domain" */
	struct conf_target *contacts;
	unsigned ncontacts;
};

enum conf_store {
	CONF_STORE_MEMORY,
	CONF_STORE_REDIS,
};

/** Auto-answer markings (features/intercom), one per vendor family. */
enum conf_aa {
	CONF_AA_CALLINFO,	  /**< Call-Info: <sip:DOMAIN>;answer-after=0 */
	CONF_AA_ALERT_AUTOANSWER, /**< Alert-Info: alert-autoanswer */
	CONF_AA_ALERT_ANSWERAFTER, /**< Alert-Info: answer-after=0 */
	CONF_AA_POLYCOM,	   /**< Alert-Info: Ring-Answer */
	CONF_AA_URI_INTERCOM,	   /**< ;intercom=true on the Request-URI */
	CONF_AA_ANSWER_MODE,	   /**< Answer-Mode: Auto (RFC 5373) */
	CONF_AA__COUNT,
};

/** features.intercom[].profiles[]: User-Agent pattern -> marking. */
struct conf_aa_rule {
	char *user_agent; /**< matched as a substring, without case */
	enum conf_aa profile;
};

/** features.intercom[].groups[]: paging group CODE + number. */
struct conf_page_group {
	char *number;	/**< digits */
	char **members; /**< users of the domain */
	unsigned nmembers;
};

/** Intercom and paging of one served domain (features/intercom). */
struct conf_intercom {
	char *domain; /**< lower case, a served domain */
	bool enabled; /**< (true) */
	char *code;   /**< feature code before the extension ("*6") */
	char **allow; /**< users who may page; none: any authenticated one */
	unsigned nallow;
	enum conf_aa default_profile;  /**< when no User-Agent rule matches */
	struct conf_aa_rule *profiles; /**< tried in order, before built-ins */
	unsigned nprofiles;
	struct conf_page_group *groups;
	unsigned ngroups;
};

/**
 * The loaded configuration. Immutable once loaded: shards read it from
 * any thread without locks. Exception to "opaque by default": read-only
 * view, fields are public.
 */
struct conf {
	char *path; /**< the file (or conf_load_mem() name); NULL: default */
	unsigned workers; /**< shards; resolved (the file's 0 = online CPUs) */
	enum log_level log_level;

	struct conf_listen *listen;
	unsigned nlisten;

	char **domains; /**< served domains, lower case */
	unsigned ndomains;

	enum conf_store store;
	/** store.redis: the location store shared by all nodes. */
	struct {
		char *address;	/**< "IP:PORT", "[IPv6]:PORT", "unix:/path";
				     NULL when Sentinel finds the master */
		char *password; /**< AUTH, or NULL */
		unsigned db;	/**< SELECT (0) */
		unsigned connect_timeout_ms; /**< (1000) */
		unsigned command_timeout_ms; /**< (2000) */
		unsigned queue_max;    /**< writes waiting per shard (100000) */
		char *ns;	       /**< key namespace ("sipedge") */
		char *sentinel_master; /**< Sentinel's name, or NULL */
		char **sentinels;      /**< "IP:PORT" of each Sentinel */
		unsigned nsentinels;
	} redis;
	char *snapshot; /**< memory store snapshot file, or NULL */
	unsigned snapshot_interval_s; /**< how often it is written (10) */

	struct conf_net *trusted; /**< registrar: sources allowed (no auth) */
	unsigned ntrusted;

	/** registrar: bindings and digest authentication. */
	struct {
		unsigned min_expires_s;	    /**< below: 423 (default 60) */
		unsigned max_expires_s;	    /**< above: lowered (86400) */
		unsigned default_expires_s; /**< when none given (3600) */
		char *users_file; /**< credentials (HA1 per realm), or NULL */
		unsigned auth_methods; /**< 1 << enum sip_method needing auth */
		unsigned nonce_ttl_s;  /**< nonce lifetime, then stale (300) */
		char *secret; /**< nonce HMAC key shared by all nodes; NULL:
				   a random one per process */
		unsigned max_auth_failures; /**< per source per window (10) */
		unsigned auth_failure_window_s; /**< (300) */
	} reg;

	struct {
		unsigned max_connections;  /**< per process (default 4096) */
		unsigned idle_timeout_s;   /**< close idle connections (120) */
		unsigned max_header_bytes; /**< header block limit (16384) */
		unsigned max_body_bytes;   /**< body limit (65536) */
	} tcp;

	struct {
		unsigned batch; /**< recvmmsg/sendmmsg batch (32) */
	} udp;

	unsigned max_headers; /**< headers per message (default 128) */
	/** features: GRUU and intercom (features/). */
	struct {
		bool gruu; /**< mint and route GRUUs, RFC 5627 (true) */
		struct conf_intercom *intercom; /**< per domain; a served domain
						     not listed: the defaults */
		unsigned nintercom;
	} features;
	char *server_name; /**< Server / User-Agent value ("sipedge/VER") */

	/** RFC 3261 proxy behaviour and timers. */
	struct {
		bool record_route;  /**< on dialog-creating requests (true) */
		unsigned t1_ms;	    /**< RTT estimate (500) */
		unsigned t2_ms;	    /**< longest retransmit interval (4000) */
		unsigned t4_ms;	    /**< network lifetime of a message (5000) */
		unsigned timer_c_s; /**< INVITE branch without answer (180) */
	} proxy;

	struct conf_route *routes; /**< first match wins */
	unsigned nroutes;

	struct conf_location *locations;
	unsigned nlocations;

	/** Per shard: past these, new requests get 503 + Retry-After. */
	struct {
		unsigned
		    max_inbox; /**< hand-offs queued to one shard (10000) */
		unsigned max_transactions; /**< live ones per shard (100000) */
		unsigned retry_after_s;	   /**< Retry-After value (5) */
	} overload;
};

/**
 * Load the configuration from the YAML file @p path, or the built-in
 * default when @p path is NULL (listen 127.0.0.1:5060 UDP+TCP, domains
 * localhost and 127.0.0.1, memory store, registrar trusts loopback).
 * Unknown keys and bad values are errors.
 *
 * Returns 0 with *cp set, or a negative error with a one-line message
 * in @p errbuf: "FILE: <strerror>" for -ENOENT, -EACCES, -EISDIR,
 * -EFBIG (over 1 MiB) and other read errors; "FILE:LINE: reason" for
 * ERR_CONFIG (content); "FILE: out of memory" for -ENOMEM.
 * Thread: control (start-up). Ownership: the caller frees with conf_free().
 */
int conf_load(const char *path, struct conf **cp, char *errbuf, size_t errlen);

/**
 * Load the configuration from the @p len bytes of YAML at @p text, as
 * conf_load() does for a file; @p name stands for the file name in
 * messages ("NAME:LINE: reason") and in c->path. Empty text (or only
 * comments) gives the built-in default.
 * Returns 0 with *cp set, or ERR_CONFIG / -ENOMEM with a message.
 * Thread: any (no shared state). Ownership: caller frees with conf_free().
 */
int conf_load_mem(const char *name, const char *text, size_t len,
		  struct conf **cp, char *errbuf, size_t errlen);

/**
 * The number of shards a `workers` value @p n stands for: @p n, or the
 * number of online CPUs when @p n is 0; always 1 .. CONF_MAX_WORKERS.
 * Thread: any.
 */
unsigned conf_workers(unsigned n);

/** Free @p c. NULL is allowed. */
void conf_free(struct conf *c);

/** True when @p domain (case-insensitive) is one of the served domains. */
bool conf_is_domain(const struct conf *c, const char *p, size_t len);

/**
 * True when @p host (an IP literal, brackets allowed) is @p address (a
 * listen address as written), compared as text or as addresses
 * ("::1" is "0:0::1"). Thread: any.
 */
bool conf_host_is_address(struct slice host, const char *address);

/**
 * True when @p host (an IP literal, brackets allowed) is the address of
 * a listen entry whose port is @p port; any listen entry's when @p port
 * is 0. Thread: any.
 */
bool conf_is_listen_host(const struct conf *c, struct slice host,
			 uint16_t port);

/** True when @p sa is inside one of the trusted networks. */
bool conf_is_trusted(const struct conf *c, const struct sockaddr *sa);

/**
 * Parse @p s, a sip: URI with an IP-literal host (optional port,
 * optional ;transport=udp|tcp), into @p t (all but t->uri); with
 * @p nameaddr it may also be "<uri>;q=0.5". *urip is the URI part of
 * @p s (without < > and header parameters).
 * Errors: -EINVAL (not a sip: URI), -EDESTADDRREQ (host not an IP
 * literal), -EPROTONOSUPPORT (another transport), -ERANGE (q outside
 * 0..1). Thread: any.
 */
int conf_target_parse(const char *s, bool nameaddr, struct conf_target *t,
		      struct slice *urip);

/**
 * The first static route for @p ruri_host / @p ruri_user (the number of
 * a tel: URI): a route whose domain equals the host (case-insensitive)
 * or whose prefix starts the user part. NULL when none. Thread: any.
 */
const struct conf_route *conf_route_find(const struct conf *c,
					 struct slice ruri_host,
					 struct slice ruri_user);
