/* proxy/nat_conf.h - the nat: section: NAT detection and keep-alives */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "proxy/core/conf.h"

/** Defaults of the nat: section. */
#define NAT_INTERVAL_S_DEFAULT 25u
#define NAT_FAILURES_DEFAULT   3u

/** The most private_ranges entries. */
#define NAT_MAX_RANGES 32

/** How keep-alives are sent. */
enum nat_method {
	NAT_OPTIONS, /**< an OPTIONS request; any response is success */
	NAT_CRLF,    /**< CRLFCRLF (RFC 5626 §3.5.1 ping); only a failed
			  send counts as a failure */
};

/** One address range: family (AF_INET, AF_INET6), network, prefix. */
struct nat_range {
	int family;
	uint8_t net[16]; /**< network byte order; IPv4 in the first 4 */
	unsigned prefix; /**< 0..32 or 0..128 */
};

/** nat: detect user agents behind NAT and keep their bindings open. */
struct nat_conf {
	bool detect;		/**< (true) */
	enum nat_method method; /**< keepalive.method (options) */
	unsigned interval_s;	/**< keepalive.interval_s (25); 0: none */
	unsigned failures;	/**< keepalive.failures (3) */
	struct nat_range ranges[NAT_MAX_RANGES]; /**< private_ranges */
	unsigned nranges; /**< (RFC 1918, RFC 6598 100.64/10, fc00::/7) */
};

/** The section, for conf_section_add() (proxy/main.c). */
extern const struct conf_section nat_conf_section;

/**
 * The NAT settings of @p c; the defaults (detection on, OPTIONS every
 * 25 s) when the section was not registered or @p c is NULL or was
 * made by hand. Thread: any.
 */
const struct nat_conf *nat_conf(const struct conf *c);

/**
 * Parse "ADDRESS/PREFIX" (IPv4 or IPv6) into @p r.
 * Errors: -EINVAL (not an address, prefix missing or out of range).
 * Thread: any.
 */
int nat_range_parse(const char *s, struct nat_range *r);
