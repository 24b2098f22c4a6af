/* proxy/base/err.h - error codes: 0, -errno, or ERR_* <= -1000 */
#pragma once

/**
 * sipedge's own errors. Functions return 0 or a negative value: either
 * -errno or one of these. err_str() names both kinds.
 */
enum err_code {
	ERR_LOOP = -1000,	/**< Max-Forwards exhausted (483) */
	ERR_SPIRAL = -1001,	/**< forwarding loop detected (482) */
	ERR_NO_BINDING = -1002, /**< AOR known, nothing registered (480) */
	ERR_NO_USER = -1003,	/**< no such user (404) */
	ERR_NO_ROUTE = -1004,	/**< nowhere to send it (404) */
	ERR_OVERLOAD = -1005,	/**< too busy: 503 with Retry-After */
	ERR_BAD_EXT = -1006, /**< Proxy-Require with an unknown option (420) */
	ERR_BAD_SCHEME = -1007,	 /**< unsupported URI scheme (416) */
	ERR_BAD_VERSION = -1008, /**< SIP version other than 2.0 (505) */
	ERR_NOT_IMPL = -1009,	 /**< method not implemented (501) */
	ERR_TOO_LARGE = -1010,	 /**< message too large (413) */
	ERR_CONFIG = -1011,	 /**< configuration error */
	ERR__LAST = -1012,
};

/**
 * A short English description of @p err (0, -errno or ERR_*).
 * Thread: any. Returns a static string.
 */
const char *err_str(int err);

/**
 * The SIP status code a protocol failure @p err becomes when answered
 * (e.g. -EBADMSG -> 400, ERR_LOOP -> 483, ERR_OVERLOAD -> 503); 500 for
 * anything without a better code.
 * Thread: any.
 */
unsigned err_sip_status(int err);
