/* proxy/sip/hdr.h - header ids (long and compact forms) and value parsers */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "proxy/base/slice.h"

/** Known header fields. HDR_OTHER is every header without an id. */
enum hdr_id {
	HDR_OTHER = 0,
	HDR_ACCEPT,
	HDR_ACCEPT_CONTACT, /* a */
	HDR_ACCEPT_ENCODING,
	HDR_ACCEPT_LANGUAGE,
	HDR_ALERT_INFO,
	HDR_ALLOW,
	HDR_ALLOW_EVENTS, /* u */
	HDR_ANSWER_MODE,
	HDR_AUTHENTICATION_INFO,
	HDR_AUTHORIZATION,
	HDR_CALL_ID, /* i */
	HDR_CALL_INFO,
	HDR_CONTACT, /* m */
	HDR_CONTENT_DISPOSITION,
	HDR_CONTENT_ENCODING, /* e */
	HDR_CONTENT_LANGUAGE,
	HDR_CONTENT_LENGTH, /* l */
	HDR_CONTENT_TYPE,   /* c */
	HDR_CSEQ,
	HDR_DATE,
	HDR_ERROR_INFO,
	HDR_EVENT, /* o */
	HDR_EXPIRES,
	HDR_FLOW_TIMER,
	HDR_FROM,     /* f */
	HDR_IDENTITY, /* y */
	HDR_IN_REPLY_TO,
	HDR_MAX_FORWARDS,
	HDR_MIME_VERSION,
	HDR_MIN_EXPIRES,
	HDR_MIN_SE,
	HDR_ORGANIZATION,
	HDR_PATH,
	HDR_PRIORITY,
	HDR_PRIV_ANSWER_MODE,
	HDR_PROXY_AUTHENTICATE,
	HDR_PROXY_AUTHORIZATION,
	HDR_PROXY_REQUIRE,
	HDR_RACK,
	HDR_REASON,
	HDR_RECORD_ROUTE,
	HDR_REFER_TO,	    /* r */
	HDR_REFERRED_BY,    /* b */
	HDR_REJECT_CONTACT, /* j */
	HDR_REPLACES,
	HDR_REPLY_TO,
	HDR_REQUEST_DISPOSITION, /* d */
	HDR_REQUIRE,
	HDR_RETRY_AFTER,
	HDR_ROUTE,
	HDR_RSEQ,
	HDR_SERVER,
	HDR_SESSION_EXPIRES, /* x */
	HDR_SUBJECT,	     /* s */
	HDR_SUBSCRIPTION_STATE,
	HDR_SUPPORTED, /* k */
	HDR_TIMESTAMP,
	HDR_TO, /* t */
	HDR_UNSUPPORTED,
	HDR_USER_AGENT,
	HDR_VIA, /* v */
	HDR_WARNING,
	HDR_WWW_AUTHENTICATE,
	HDR__COUNT,
};

/**
 * The id of the header named @p name (case-insensitive; compact forms
 * such as "v" and "i" included), or HDR_OTHER. Thread: any.
 */
enum hdr_id hdr_lookup(struct slice name);

/** The canonical long name of @p id ("Call-ID"); empty for HDR_OTHER. */
struct slice hdr_name(enum hdr_id id);

/**
 * Take the next comma-separated element of a multi-value header
 * (Via, Contact, Route, Record-Route, Allow, Supported, ...) from
 * *restp. Commas inside double quotes (with quoted-pair escapes) and
 * inside <...> do not split. The element is trimmed of LWS (SP, HTAB
 * and folded line breaks); *restp is advanced past the comma.
 * Returns 1 with *elemp set, 0 when nothing is left, -EBADMSG for an
 * unterminated quote or angle bracket or an empty element between
 * commas.
 */
int hdr_split_next(struct slice *restp, struct slice *elemp);

/**
 * Find the parameter @p name (case-insensitive) in @p params, a list of
 * ";name[=value]" pairs (a leading ';' is optional). *valp is the value
 * with surrounding quotes kept, empty when the parameter has no value.
 * Returns 1 when found, 0 when not, -EBADMSG for a malformed list.
 */
int hdr_param_find(struct slice params, const char *name, struct slice *valp);

/** A name-addr or addr-spec (RFC 3261 §25.1) split into its parts. */
struct nameaddr {
	struct slice display; /**< display name, quotes kept; may be empty */
	struct slice uri;     /**< the URI, without < > */
	struct slice params;  /**< header params after the URI, from ';' */
	bool angle;	      /**< the URI was enclosed in < > */
};

/**
 * Parse a From/To/Contact/Route style value (one element, see
 * hdr_split_next()). In addr-spec form (no < >) every ';' after the URI
 * starts a header parameter, as RFC 3261 §20.10 says.
 * Errors: -EBADMSG (unbalanced quotes or brackets, empty URI, LWS
 * inside the URI, a display name with unquoted non-token characters).
 */
int nameaddr_parse(struct slice value, struct nameaddr *nap);

/**
 * nameaddr_parse() and hdr_param_find(nap->params, @p name, @p valp)
 * in one pass over the parameters. Returns -EBADMSG (as
 * nameaddr_parse()), 1 with *valp the first such parameter's value
 * (empty for a bare one), or 0 when there is none.
 */
int nameaddr_parse_param(struct slice value, struct nameaddr *nap,
			 const char *name, struct slice *valp);

/** One via-parm of a Via header (RFC 3261 §20.42), split. */
struct sipvia {
	struct slice value;	/**< the whole via-parm */
	struct slice proto;	/**< protocol name and version, "SIP/2.0" */
	struct slice transport; /**< "UDP", "TCP", "TLS", ... as sent */
	struct slice host;	/**< sent-by host; IPv6 with its brackets */
	uint16_t port;		/**< sent-by port, 0 when absent */
	struct slice params;	/**< from the first ';' on, empty if none */
	struct slice branch;	/**< branch value, empty when absent */
	struct slice received;	/**< received value, empty when absent */
	struct slice rport;	/**< rport value, empty when bare or absent */
	bool has_rport;		/**< the rport parameter is present */
};

/**
 * Parse one via-parm (an element from hdr_split_next()).
 * Errors: -EBADMSG (no "name/version/transport" such as SIP/2.0/UDP: any
 * version is kept for the core to answer 505; bad host, port out of range,
 * empty parameter such as ";;").
 */
int via_parse(struct slice value, struct sipvia *viap);
