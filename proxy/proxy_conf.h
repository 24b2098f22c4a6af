/* proxy/proxy_conf.h - the proxy role's sections: proxy:, routes:,
 * locations: */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "proxy/base/slice.h"
#include "proxy/core/conf.h"

/** The most next hops of one static route. */
#define CONF_MAX_NEXT_HOPS 8

/** The most contacts of one pre-loaded location. */
#define CONF_MAX_CONTACTS 16

/**
 * Where a static route or a pre-loaded contact sends: a sip: URI whose
 * host is an IP literal, or (a static next hop only) a name, with
 * addrlen 0: the route resolves it per RFC 3263 (proxy/dns.h) on the
 * shard's loop, never blocking.
 */
struct conf_target {
	char *uri; /**< the URI, without < > and header parameters */
	int proto; /**< enum peer_proto: UDP, TCP, TLS (;transport=, sips:) */
	struct sockaddr_storage addr; /**< host and port (default 5060) */
	socklen_t addrlen;
	uint16_t q; /**< q-value x 1000 (contacts; default 1000) */
};

/** routes[].srtp: what rtpengine offers a trunk (proxy/rtpe.h). */
enum proxy_srtp {
	PROXY_SRTP_OFF,	 /**< as the other side has it (default) */
	PROXY_SRTP_SDES, /**< RTP/SAVP with a=crypto (RFC 4568) */
	PROXY_SRTP_DTLS, /**< UDP/TLS/RTP/SAVP (RFC 5764) */
};

/** A static route: requests for @p domain or numbers with @p prefix. */
struct conf_route {
	char *domain; /**< lower case, or NULL */
	char *prefix; /**< R-URI user (or tel: number) prefix, or NULL */
	struct conf_target *next_hop; /**< tried in order (503/408/error) */
	unsigned nnext_hop;
	/** Hide the inside's Via, Record-Route, Contact and Call-ID from
	 * these next hops (proxy/topoh.h); false by default. */
	bool topology_hiding;
	/** With media anchored (media.enabled), what rtpengine offers
	 * these next hops: SRTP keyed by SDES or DTLS, or off. */
	enum proxy_srtp srtp;
};

/** Bindings pre-loaded into the location table at start-up. */
struct conf_location {
	char *aor; /**< "user@domain" */
	struct conf_target *contacts;
	unsigned ncontacts;
};

/** The proxy role's keys: RFC 3261 behaviour and timers, static
 * routes, pre-loaded locations. */
struct proxy_conf {
	bool record_route;  /**< on dialog-creating requests (true) */
	unsigned t1_ms;	    /**< RTT estimate (500) */
	unsigned t2_ms;	    /**< longest retransmit interval (4000) */
	unsigned t4_ms;	    /**< network lifetime of a message (5000) */
	unsigned timer_c_s; /**< INVITE branch without answer (180) */

	struct conf_route *routes; /**< first match wins */
	unsigned nroutes;

	struct conf_location *locations;
	unsigned nlocations;

	/** The key of the topology hiding tokens (proxy/topoh.h): SHA-256
	 * of proxy.topology_hiding_key, else a random key drawn once per
	 * process (th_key_given false). */
	uint8_t th_key[32];
	bool th_key_given;
	bool th_any; /**< some route has topology_hiding */
};

/** The section, for conf_section_add() (proxy/main.c). */
extern const struct conf_section proxy_conf_section;

/**
 * The proxy role's settings of @p c; all zero (no routes, record_route
 * off, timers 0: the callers' defaults) when the section was not
 * registered or @p c was made by hand. Thread: any.
 */
const struct proxy_conf *proxy_conf(const struct conf *c);

/**
 * Parse @p s, a sip: URI with an IP-literal host (optional port,
 * optional ;transport=udp|tcp), into @p t (all but t->uri); without
 * @p nameaddr (a next hop) the host may be a name (t->addrlen 0); with
 * @p nameaddr it may also be "<uri>;q=0.5". *urip is the URI part of
 * @p s (without < > and header parameters).
 * Errors: -EINVAL (not a sip: URI), -EDESTADDRREQ (a contact's host
 * not an IP literal), -EPROTONOSUPPORT (another transport), -ERANGE (q outside
 * 0..1). Thread: any.
 */
int proxy_conf_target_parse(const char *s, bool nameaddr, struct conf_target *t,
			    struct slice *urip);

/**
 * The first static route for @p ruri_host / @p ruri_user (the number of
 * a tel: URI): a route whose domain equals the host (case-insensitive)
 * or whose prefix starts the user part. NULL when none. Thread: any.
 */
const struct conf_route *proxy_conf_route_find(const struct conf *c,
					       struct slice ruri_host,
					       struct slice ruri_user);
