/* proxy/sip/digest.h - HTTP digest for SIP (RFC 3261 §22, RFC 2617, RFC 7616,
 * RFC 8760): MD5 and SHA-256, HA1 and response, challenge and credentials */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nettle/md5.h>
#include <nettle/sha2.h>

#include "proxy/base/slice.h"

struct arena;

/** Digest algorithms (bit values, so that a set fits in an unsigned). */
enum digest_alg {
	DIGEST_MD5 = 1,
	DIGEST_SHA256 = 2,
};

/** Bytes of the largest digest (SHA-256). */
#define DIGEST_HASH_MAX 32

/** Room for the longest hex digest (SHA-256) and its NUL. */
#define DIGEST_HEX_MAX (2 * DIGEST_HASH_MAX + 1)

/** Incremental hash state for either algorithm. Value type. */
struct digest_ctx {
	enum digest_alg alg;
	union {
		struct md5_ctx md5;
		struct sha256_ctx sha256;
	} u; /**< nettle's state for alg */
};

/** Start a hash with @p alg (MD5 for anything but DIGEST_SHA256). */
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

/** Digest length of @p alg in bytes (16 or 32). */
size_t digest_hash_len(enum digest_alg alg);

/** The algorithm named @p name ("MD5", "SHA-256", any case), or 0. */
enum digest_alg digest_alg_lookup(struct slice name);

/** The name of @p alg as written in headers ("MD5", "SHA-256"). */
const char *digest_alg_name(enum digest_alg alg);

/**
 * HA1 = H(user ":" realm ":" password) into @p out (digest_hash_len()
 * bytes, raw). Thread: any.
 */
void digest_ha1(enum digest_alg alg, struct slice user, struct slice realm,
		struct slice password, uint8_t *out);

/**
 * The request-digest of RFC 7616 §3.4.1 from a raw @p ha1, in lower-case
 * hex into @p hex (DIGEST_HEX_MAX bytes, NUL-terminated):
 * H(hex(HA1) ":" nonce ":" nc ":" cnonce ":" qop ":" hex(H(method ":"
 * uri))), or when @p qop is empty (RFC 2069, RFC 2617 §3.2.2.1)
 * H(hex(HA1) ":" nonce ":" hex(HA2)). Returns the hex length.
 * Thread: any.
 */
unsigned digest_response_ha1(enum digest_alg alg, const uint8_t *ha1,
			     struct slice nonce, struct slice nc,
			     struct slice cnonce, struct slice qop,
			     struct slice method, struct slice uri, char *hex);

/** What a response computation from a password needs (RFC 7616 §3.4.1). */
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
 * The request-digest for @p in: digest_response_ha1() of
 * digest_ha1(user, realm, password). Written as hex with a NUL into
 * @p hex (DIGEST_HEX_MAX bytes). Returns the hex length, or -EINVAL for
 * an unknown algorithm. Thread: any.
 */
int digest_response(const struct digest_input *in, char *hex);

/**
 * Whether the hex response @p got (any case) equals the lower-case hex
 * @p want of @p len digits, compared in constant time.
 */
bool digest_response_eq(struct slice got, const char *want, size_t len);

/**
 * Take the next "name=value" or "name=\"quoted\"" from the
 * comma-separated list *restp; quotes are removed from *valp (escapes
 * are kept as sent; *escapedp, when not NULL, says whether there were
 * any). Returns 1, 0 at the end, -EBADMSG.
 */
int digest_param_next(struct slice *restp, struct slice *namep,
		      struct slice *valp, bool *escapedp);

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

/**
 * Print a challenge into @p buf: "Digest realm=\"..\", nonce=\"..\",
 * qop=\"auth\", algorithm=..[, stale=true]" without a line end or NUL.
 * Returns its length, or -ENOSPC when it does not fit in @p size.
 */
int digest_challenge_print(char *buf, size_t size, enum digest_alg alg,
			   struct slice realm, struct slice nonce, bool stale);

/**
 * Parsed Authorization / Proxy-Authorization credentials. A field that
 * was absent has a NULL p; one present but empty has p set, len 0.
 */
struct digest_credentials {
	enum digest_alg alg;	/**< MD5 when absent; 0 when unknown */
	struct slice algorithm; /**< as sent; p NULL when absent */
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
 * Parse credentials ("Digest username=..., ..."; RFC 3261 §25.1, RFC
 * 7616 §3.4). Slices point into @p value, quotes removed; values with
 * backslash escapes are unescaped into @p a, or kept as sent when @p a
 * is NULL. Nothing is required here (see digest_credentials_check()).
 * Returns 0, -ENOTSUP (another scheme), -EBADMSG (malformed, or a
 * parameter given twice), -ENOMEM.
 * Ownership: *cp points into @p value and @p a.
 */
int digest_credentials_parse(struct slice value, struct arena *a,
			     struct digest_credentials *cp);

/**
 * Check that parsed credentials can be verified: username, nonce and
 * response not empty, realm and uri present; with a qop, a cnonce and
 * an nc of 8 hex digits other than 0. Returns 0 with *ncp (when not
 * NULL) set to the nonce count (1 without qop), or -EBADMSG.
 */
int digest_credentials_check(const struct digest_credentials *c, uint32_t *ncp);

/**
 * Print credentials for @p in with the response @p response_hex (from
 * digest_response()) into @p buf: "Digest username=\"..\", realm=..,
 * nonce=.., uri=.., response=.., algorithm=.., [cnonce=.., qop=auth,
 * nc=..,] [opaque=..]" without a line end or NUL. Returns its length,
 * or -ENOSPC when it does not fit in @p size.
 */
int digest_credentials_print(char *buf, size_t size,
			     const struct digest_input *in,
			     const char *response_hex, struct slice opaque);
