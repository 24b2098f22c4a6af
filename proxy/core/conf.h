/* proxy/core/conf.h - configuration: one YAML file, or the built-in default */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <cyaml/cyaml.h>

#include "proxy/base/log.h"
#include "proxy/base/slice.h"
#include "proxy/core/steer.h"

/*
 * The engine: the walker that checks a file for "FILE:LINE: reason",
 * libcyaml's load, and the runtime's own keys (workers, log_level,
 * listen, domains, tcp, udp, max_headers, server_name, overload). Every
 * other top-level key belongs to a module, which describes it in a
 * struct conf_section (schema, checks, defaults beside the module);
 * proxy/main.c registers the sections with conf_section_add() before
 * the first load, and each module reads its part of a loaded struct conf
 * with its own accessor (conf_section_get()).
 */

/** The most shards (`workers:`, `-w`) sipedge runs. */
#define CONF_MAX_WORKERS 64

/** The most sections conf_section_add() takes. */
#define CONF_MAX_SECTIONS 16

/** A certificate a TLS listener shows to clients asking for @p domain. */
struct conf_sni {
	char *domain; /**< lower case */
	char *cert;   /**< PEM chain file */
	char *key;    /**< PEM key file */
};

/** One listening address. */
struct conf_listen {
	char *address; /**< as written: "127.0.0.1", "::1" */
	uint16_t port; /**< default 5060 (5061 for tls) */
	bool udp;      /**< listen on UDP (default true) */
	bool tcp;      /**< listen on TCP (default true) */
	bool tls;      /**< SIP over TLS (then no udp, tcp) */
	/** SIP over WebSocket (RFC 7118; then no udp, tcp): with tls,
	 * wss (WebSocket over TLS), else ws. */
	bool ws;
	/** ws, wss: the Origin values allowed (none: any, or none). */
	char **origins;
	unsigned norigins;
	struct sockaddr_storage addr; /**< address + port, resolved */
	socklen_t addrlen;
	/** tls: the default certificate chain and key (PEM files). */
	char *cert, *key;
	/** tls: client certificates required, checked against @p ca. */
	bool verify_client;
	char *ca;
	struct conf_sni *sni; /**< tls: per-domain certificates */
	unsigned nsni;
	/**
	 * What Via, Record-Route and Path name for this entry: the
	 * `advertise` host ("sip.example.com", "192.0.2.1", "[2001:db8::1]")
	 * and port, or the address and port. Always set (a wildcard address
	 * without `advertise` is refused at load).
	 */
	char *adv_host;
	uint16_t adv_port;
};

/** A network in CIDR form ("127.0.0.0/8", "::1/128"). */
struct conf_net {
	int family; /**< AF_INET or AF_INET6 */
	unsigned char addr[16];
	unsigned prefix;
};

struct conf;

/**
 * Check one scalar of a section, after the schema's own checks (kind,
 * length, enum): @p spath is its schema path, keys only
 * ("store.redis.address"), @p path the path as written, with indices
 * ("store.redis.sentinel.addresses[1]"), @p v its text. Called for every scalar
 * of the section; return 0 for the paths it has no rule for. Returns 0, or
 * ERR_CONFIG with the reason in @p why (without the "FILE:LINE: " the engine
 * puts before it). Thread: any (no state).
 */
typedef int conf_check_fn(const char *spath, const char *path, const char *v,
			  char *why, size_t whylen);

/**
 * The range an integer at schema path @p spath must be in.
 * Returns true with *minp, *maxp set; false when there is no rule
 * (0 .. UINT32_MAX). Thread: any.
 */
typedef bool conf_range_fn(const char *spath, long long *minp, long long *maxp);

/** One integer's range, by schema path (conf_section.ranges). */
struct conf_range {
	const char *spath; /**< NULL ends a table */
	long long min, max;
};

/** What a section's build function is given besides its raw struct. */
struct conf_ctx {
	const struct conf *c; /**< the runtime's keys, already built */
	unsigned given; /**< bit i: conf_section.given[i] is in the file */
	char *why;	/**< for the reason of an ERR_CONFIG */
	size_t whylen;
};

/**
 * Build a section's struct @p out (zeroed, conf_section.size bytes) from
 * @p raw, what libcyaml loaded (conf_section.raw_size bytes, all zero
 * when the file does not have the keys: 0 means "not given"), with the
 * defaults. Returns 0; ERR_CONFIG with the reason in x->why (the engine
 * puts "FILE: " before it) for what the walk cannot check (a relation
 * between keys); -ENOMEM. On error @p out is still given to the free
 * function. Thread: control (load).
 */
typedef int conf_build_fn(void *out, const void *raw, const struct conf_ctx *x);

/** Free what a build function put in @p out (not @p out itself). */
typedef void conf_free_fn(void *out);

/** A mapping (by schema path) that needs exactly one of two keys. */
struct conf_one_of {
	const char *spath;
	const char *a, *b;
};

/**
 * A module's part of the file: one or more top-level keys. Static and
 * read-only; the module defines it beside its code and exports it with
 * an accessor that returns its built struct.
 */
struct conf_section {
	const char *name; /**< the module, for messages ("store") */
	/** The top-level keys it owns, as libcyaml mapping fields whose
	 * offsets are in its raw struct; ends with CYAML_FIELD_END. */
	const cyaml_schema_field_t *fields;
	size_t raw_size; /**< the struct libcyaml fills */
	size_t size;	 /**< the struct build() fills */
	/** Integer ranges: a table ending with { NULL }, or NULL... */
	const struct conf_range *ranges;
	conf_range_fn *range; /**< ...or a function, or NULL */
	conf_check_fn *check; /**< scalar checks, or NULL */
	/** Mappings that need one of two keys; ends with { NULL }, or NULL. */
	const struct conf_one_of *one_of;
	/** Schema paths of lists or scalars whose presence build() needs
	 * to know (an empty list is not the same as none; a scalar whose 0
	 * is a value); ends with NULL, or NULL. At most 32. */
	const char *const *given;
	conf_build_fn *build;
	conf_free_fn *free; /**< or NULL */
};

/**
 * Register @p s, so that the next loads check, load and build its keys;
 * sections are built in the order they are added, after the runtime's
 * keys. Adding one twice does nothing.
 * Returns 0; -ENOSPC past CONF_MAX_SECTIONS (or 64 top-level keys in
 * all); -EEXIST when one of its keys is already taken.
 * Thread: control, before the first load (the registry is then read
 * without locks). Ownership: @p s is borrowed for the process lifetime.
 */
int conf_section_add(const struct conf_section *s);

/**
 * The struct section @p s built in @p c, or NULL when @p s was not
 * registered when @p c was loaded (or @p c was made by hand). Thread: any.
 */
const void *conf_section_get(const struct conf *c,
			     const struct conf_section *s);

/**
 * The loaded configuration. Immutable once loaded: shards read it from
 * any thread without locks. Exception to "opaque by default": read-only
 * view, fields are public (but for the sections, read through each
 * module's accessor).
 */
struct conf {
	char *path; /**< the file (or conf_load_mem() name); NULL: default */
	unsigned workers; /**< shards; resolved (the file's 0 = online CPUs) */
	enum log_level log_level;

	struct conf_listen *listen;
	unsigned nlisten;

	char **domains; /**< served domains, lower case */
	unsigned ndomains;

	struct {
		unsigned max_connections;  /**< per process (default 4096) */
		unsigned idle_timeout_s;   /**< close idle connections (120) */
		unsigned max_header_bytes; /**< header block limit (16384) */
		unsigned max_body_bytes;   /**< body limit (65536) */
		/** Connections one source address may hold; 0 (not
		 * given): max(64, max_connections / 8). */
		unsigned max_per_source;
	} tcp;

	struct {
		unsigned batch; /**< recvmmsg/sendmmsg batch (32) */
		/** Kernel steering of datagrams to their shard (auto). */
		enum steer_mode steering;
	} udp;

	struct {
		/** PEM CA file that next hops' certificates are checked
		 * against; NULL: the system's store. */
		char *ca;
		/** A TLS handshake not done by then is closed (10). */
		unsigned handshake_timeout_s;
	} tls;

	unsigned max_headers; /**< headers per message (default 128) */
	char *server_name;    /**< Server / User-Agent value ("sipedge/VER") */

	/** Per shard: past these, new requests get 503 + Retry-After. */
	struct {
		unsigned
		    max_inbox; /**< hand-offs queued to one shard (10000) */
		/** not yet completed ones per shard (100000) */
		unsigned max_transactions;
		/**
		 * completed ones kept per shard for retransmissions
		 * (100000); past it the oldest end early, no 503
		 */
		unsigned max_completed;
		unsigned retry_after_s; /**< Retry-After value (5) */
	} overload;

	/* private: the registered sections, built (conf_section_get()) */
	const struct conf_section *sec[CONF_MAX_SECTIONS];
	void *secdata[CONF_MAX_SECTIONS];
	unsigned nsec;
};

/**
 * Load the configuration from the YAML file @p path, or the built-in
 * default when @p path is NULL (listen 127.0.0.1:5060 UDP+TCP, domains
 * localhost and 127.0.0.1, and each registered section's defaults).
 * Unknown keys and bad values are errors; the keys are the runtime's and
 * those of the sections registered (conf_section_add()).
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

/**
 * Parse @p s, "addr/prefix" or a bare address (a host network), into
 * @p n; host bits are cleared, a v4-mapped network becomes IPv4.
 * Returns 0, or -EINVAL. Thread: any.
 */
int conf_net_parse(const char *s, struct conf_net *n);

/** True when @p sa is inside one of the @p n networks @p nets. */
bool conf_net_has(const struct conf_net *nets, unsigned n,
		  const struct sockaddr *sa);

/**
 * The check of a domain name (a host name, an IPv4 literal or a
 * bracketed IPv6 literal), as a conf_check_fn for the value @p v at
 * @p path. Returns 0, or ERR_CONFIG with the reason in @p why.
 */
int conf_domain_check(const char *path, const char *v, char *why,
		      size_t whylen);

/**
 * Parse a listen entry's `advertise` value @p v, "HOST[:PORT]" (a name,
 * an IPv4 literal or a bracketed IPv6 literal), into @p host (as
 * written, brackets kept) and *@p portp (0 when not given).
 * Returns 0, or -EINVAL. Thread: any.
 */
int conf_advertise_parse(const char *v, char *host, size_t hostlen,
			 uint16_t *portp);

/** A copy of @p s in lower case (ASCII), or NULL (out of memory). */
char *conf_lower_dup(const char *s);

/** A copy of the @p n strings @p v (an array even when @p n is 0), or
 * NULL (out of memory). Free with conf_strv_free(). */
char **conf_strv_dup(char *const *v, unsigned n);

/** Free the @p n strings of @p v and @p v. NULL is allowed. */
void conf_strv_free(char **v, unsigned n);
