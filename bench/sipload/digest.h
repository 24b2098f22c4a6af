/* bench/sipload/digest.h - HTTP digest for SIP (RFC 3261 §22, RFC 7616,
 * RFC 8760): MD5, SHA-256, challenge and credentials */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nettle/md5.h>
#include <nettle/sha2.h>

#include "proxy/base/slice.h"

struct wbuf;

/** Digest algorithms (bit values, so that a set fits in an unsigned). */
enum digest_alg {
	DIGEST_MD5 = 1,
	DIGEST_SHA256 = 2,
};

/** Room for the longest hex digest (SHA-256) and its NUL. */
#define DIGEST_HEX_MAX 65

/** Incremental hash state for either algorithm. Value type. */
struct digest_ctx {
	enum digest_alg alg;
	union {
		struct md5_ctx md5;
		struct sha256_ctx sha256;
	} u; /**< nettle's state for alg */
};

/** Start a hash with @p alg. */
void digest_init(struct digest_ctx *c, enum digest_alg alg);

/** Hash @p len more bytes. */
void digest_update(struct digest_ctx *c, const void *p, size_t len);

/**
 * Finish: write the digest as lower-case hex into @p hex with a NUL
 * (33 bytes for MD5, 65 for SHA-256). Returns the hex length (32, 64).
 */
unsigned digest_final_hex(struct digest_ctx *c, char *hex);

/** The hex digest of @p len bytes at @p p. Returns the hex length. */
unsigned digest_hex(enum digest_alg alg, const void *p, size_t len, char *hex);

/** The algorithm named @p name ("MD5", "SHA-256", any case), or 0. */
enum digest_alg digest_alg_lookup(struct slice name);

/** The name of @p alg as written in headers ("MD5", "SHA-256"). */
const char *digest_alg_name(enum digest_alg alg);

/** What a response computation needs (RFC 7616 §3.4.1). */
struct digest_input {
	enum digest_alg alg;
	struct slice user;
	struct slice realm;
	struct slice password;
	struct slice method; /**< the request's method, "REGISTER" */
	struct slice uri;    /**< digest-uri: the Request-URI as sent */
	struct slice nonce;
	struct slice nc;     /**< "00000001"; ignored when qop is empty */
	struct slice cnonce; /**< ignored when qop is empty */
	struct slice qop;    /**< "auth", or empty for the RFC 2069 form */
};

/**
 * The request-digest: KD(H(A1), nonce:nc:cnonce:qop:H(A2)) with
 * A1 = user:realm:password, A2 = method:uri; or, when qop is empty,
 * KD(H(A1), nonce:H(A2)). Written as hex with a NUL into @p hex.
 * Returns the hex length, or -EINVAL for an unknown algorithm.
 * Thread: any.
 */
int digest_response(const struct digest_input *in, char *hex);

/** A parsed WWW-Authenticate or Proxy-Authenticate value. */
struct digest_challenge {
	enum digest_alg alg; /**< MD5 when the algorithm is absent */
	struct slice realm;  /**< without quotes */
	struct slice nonce;
	struct slice opaque;
	bool qop_auth; /**< qop offers "auth" */
	bool has_qop;  /**< a qop parameter was present */
	bool stale;
};

/**
 * Parse a challenge ("Digest realm=..., nonce=..., ..."). Slices point
 * into @p value. Returns 0, -ENOTSUP (not Digest, or an algorithm we do
 * not implement such as MD5-sess or SHA-512-256, or a qop without
 * "auth"), -EBADMSG (malformed, or no realm or nonce).
 */
int digest_challenge_parse(struct slice value, struct digest_challenge *cp);

/** Parsed Authorization / Proxy-Authorization credentials. */
struct digest_credentials {
	enum digest_alg alg; /**< MD5 when absent */
	struct slice user;
	struct slice realm;
	struct slice nonce;
	struct slice uri;
	struct slice response;
	struct slice cnonce;
	struct slice nc;
	struct slice qop;
	struct slice opaque;
};

/**
 * Parse credentials ("Digest username=..., ..."). Slices point into
 * @p value, quotes removed. Returns 0, -ENOTSUP (not Digest, unknown
 * algorithm), -EBADMSG (malformed or missing username, realm, nonce,
 * uri or response).
 */
int digest_credentials_parse(struct slice value, struct digest_credentials *cp);

/**
 * Append credentials for @p in with the response @p response_hex
 * (from digest_response()) to @p b: "Digest username=\"..\", realm=..,
 * nonce=.., uri=.., response=.., algorithm=.., [cnonce=.., qop=auth,
 * nc=..,] [opaque=..]" without a line end.
 */
void digest_credentials_print(struct wbuf *b, const struct digest_input *in,
			      const char *response_hex, struct slice opaque);

/**
 * Append a challenge to @p b: "Digest realm=\"..\", nonce=\"..\",
 * algorithm=.., qop=\"auth\"" without a line end.
 */
void digest_challenge_print(struct wbuf *b, enum digest_alg alg,
			    struct slice realm, struct slice nonce);

/**
 * Take the next "name=value" or "name=\"quoted\"" from the
 * comma-separated list *restp; quotes are removed from *valp (escapes
 * are kept as sent). Returns 1, 0 at the end, -EBADMSG.
 */
int digest_param_next(struct slice *restp, struct slice *namep,
		      struct slice *valp);
