/* proxy/dns_conf.h - the dns: section: where next-hop names are resolved
 * (RFC 3263) and how long a lookup may take */
#pragma once

#include <stdbool.h>

#include "proxy/core/conf.h"

/** Defaults of the dns: section. */
#define DNS_TIMEOUT_MS_DEFAULT 1000u
#define DNS_ATTEMPTS_DEFAULT   2u
#define DNS_CACHE_MAX_DEFAULT  1024u
/** Most servers dns.servers may list. */
#define DNS_MAX_SERVERS 4

/**
 * dns: names in next hops, Route and Request-URI hosts are resolved per
 * RFC 3263. Without the section sipedge resolves no names (they are
 * answered 404 No Route, as before; a static next hop that is a name is
 * a config error then).
 */
struct dns_conf {
	bool enabled; /**< the section is in the file */
	/** "IP:PORT,[IPv6]:PORT" for c-ares, or "" (/etc/resolv.conf) */
	char servers[DNS_MAX_SERVERS * 48];
	unsigned timeout_ms; /**< first try (1000); c-ares doubles it */
	unsigned attempts;   /**< tries per server (2) */
	unsigned cache_max;  /**< cached answers per shard (1024) */
};

/** The section, for conf_section_add() (proxy/main.c). */
extern const struct conf_section dns_conf_section;

/**
 * The dns settings of @p c: off when the section was not registered, not
 * in the file, or @p c was made by hand. Thread: any.
 */
const struct dns_conf *dns_conf(const struct conf *c);
