/* proxy/sip/uri.h - SIP, SIPS and tel URI parser (RFC 3261 §19.1, RFC 3966) */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/base/slice.h"

enum uri_scheme {
	URI_OTHER = 0, /**< any other absoluteURI scheme */
	URI_SIP,
	URI_SIPS,
	URI_TEL,
};

/** A URI split in place; every slice points into the parsed text. */
struct sipuri {
	enum uri_scheme scheme;
	struct slice scheme_name; /**< as written, without ':' */
	struct slice user;	  /**< still escaped; tel: the number */
	struct slice password;
	struct slice host; /**< IPv6 reference with its brackets */
	struct slice port_str;
	uint16_t port;	      /**< 0 when absent */
	struct slice params;  /**< from the first ';' after host:port */
	struct slice headers; /**< after '?', without it */
	struct slice rest;    /**< URI_OTHER: everything after "scheme:" */
	bool host_is_ipv6;
	bool host_is_ipv4;
};

/**
 * Parse @p s as a URI. sip/sips: user, password, host (hostname, IPv4
 * or IPv6 reference), port (1..65535), params, headers; checks the
 * characters allowed in each part and that escapes are %HH. tel: the
 * number (global "+..." or local) and params. Other schemes: the
 * scheme must be a valid token and the rest must hold no LWS or
 * control characters.
 * Errors: -EBADMSG. *up is written only on success. Thread: any.
 */
int uri_parse(struct slice s, struct sipuri *up);

/**
 * Find URI parameter @p name (case-insensitive) in u->params.
 * Returns 1 with *valp set (empty for a bare parameter), 0 when absent.
 */
int uri_param(const struct sipuri *u, const char *name, struct slice *valp);

/**
 * Undo %HH escapes of @p s into @p out (at most @p size bytes; the
 * result may hold NUL bytes and is not NUL-terminated).
 * Returns the decoded length, -ENOSPC when @p out is too small, or
 * -EBADMSG for a malformed escape.
 */
int uri_unescape(struct slice s, char *out, size_t size);

/** What uri_classify_host() found. */
enum uri_host {
	URI_HOST_NAME = 1, /**< hostname (RFC 3261 §25.1) */
	URI_HOST_IPV4,	   /**< IPv4address */
	URI_HOST_IPV6,	   /**< IPv6reference, with its brackets */
};

/**
 * Parse the host at the start of @p s: a hostname, an IPv4 address or
 * a bracketed IPv6 reference (RFC 3261 §25.1), up to the first byte
 * that cannot continue it (':', ';', LWS...). Sets *lenp to its length.
 * Returns the enum uri_host kind, or -EBADMSG. Thread: any.
 */
int uri_host_parse(struct slice s, size_t *lenp);

/**
 * Check that @p host is a hostname, an IPv4 address or a bracketed IPv6
 * reference (RFC 3261 §25.1), as in a URI or a Via sent-by.
 * Returns the enum uri_host kind, or -EBADMSG. Thread: any.
 */
int uri_classify_host(struct slice host);

/**
 * True when @p s is an IPv6 address without brackets (RFC 4291 text
 * form: hex groups, one "::", an optional dotted IPv4 tail).
 * Thread: any.
 */
bool uri_is_ipv6(struct slice s);
