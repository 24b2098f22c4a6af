/* features/gruu.h - GRUU (RFC 5627): pub-gruu, temp-gruu tokens, routing */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/base/slice.h"
#include "proxy/sip/msg.h"

struct arena;
struct conf;
struct hook_fwd;

/** Bytes of the temp-gruu key. */
#define GRUU_KEY_SIZE 32

/** Most flows of one instance a GRUU is routed to (one after another). */
#define GRUU_MAX_FLOWS 8

/**
 * Longest token gruu_token_make() writes: base64url (no padding) of
 * version (1) + nonce (12) + ciphertext of the instance and Call-ID
 * hashes (16) and the AOR (up to SIPMSG_AOR_MAX) + tag (16).
 */
#define GRUU_TOKEN_MAX ((1 + 12 + 16 + SIPMSG_AOR_MAX + 16 + 2) / 3 * 4)

/**
 * The key that seals temp-gruu tokens (ChaCha20-Poly1305). Every node
 * that shares registrar.secret derives the same one and so decodes the
 * tokens the others minted.
 */
struct gruu_key {
	uint8_t k[GRUU_KEY_SIZE];
};

/**
 * The key for @p secret: HMAC-SHA-256(secret, "sipedge temp-gruu v1").
 * Thread: any.
 */
void gruu_key_derive(struct slice secret, struct gruu_key *k);

/**
 * Set the process key: derived from @p secret (registrar.secret, shared
 * by all nodes), or random when it is NULL (temp-gruus then die with the
 * process and no other node decodes them). Errors: -EIO (no random
 * bytes). Thread: control, before shards run. Ownership: none kept.
 */
int gruu_init(const char *secret);

/** Forget the process key. Thread: control, after shards stop. */
void gruu_fini(void);

/** The process key, or NULL before gruu_init(). Thread: any. */
const struct gruu_key *gruu_key_get(void);

/**
 * Seal (AOR @p aor, hash of @p instance, hash of @p call_id) with @p k
 * and a fresh random nonce into @p out: base64url, no padding, not
 * NUL-terminated. Each call gives another token for the same input.
 * Returns the length, or -EINVAL (empty or too long @p aor, empty
 * @p instance), -ENOSPC (@p size below GRUU_TOKEN_MAX may not do),
 * -EIO (no random bytes). Thread: any.
 */
int gruu_token_make(const struct gruu_key *k, struct slice aor,
		    struct slice instance, struct slice call_id, char *out,
		    size_t size);

/** What a temp-gruu token holds, opened. */
struct gruu_ref {
	char aor[SIPMSG_AOR_MAX]; /**< "user@domain", not NUL-terminated */
	size_t aor_len;
	uint8_t instance_h[8]; /**< hash of the +sip.instance */
	uint8_t call_id_h[8];  /**< hash of the REGISTER's Call-ID */
};

/**
 * Open token @p token with @p k into @p r.
 * Returns 0, -EBADMSG (not base64url, wrong length or version), or
 * -EACCES (sealed with another key, or changed). Thread: any.
 */
int gruu_token_open(const struct gruu_key *k, struct slice token,
		    struct gruu_ref *r);

/** True when @p r was sealed for instance @p instance. */
bool gruu_ref_has_instance(const struct gruu_ref *r, struct slice instance);

/** True when @p r was sealed for Call-ID @p call_id. */
bool gruu_ref_has_call_id(const struct gruu_ref *r, struct slice call_id);

/**
 * The pub-gruu of @p instance (a +sip.instance value, angle brackets
 * allowed) of AOR @p aor ("user@domain") into @p buf:
 * "sip:AOR;gr=INSTANCE" with the brackets removed and what a URI
 * parameter may not hold %-escaped (RFC 5627 §3.1).
 * Returns the length (not NUL-terminated) or -ENOSPC, -EINVAL.
 */
int gruu_pub_print(struct slice aor, struct slice instance, char *buf,
		   size_t size);

/**
 * A temp-gruu for (@p aor, @p instance, @p call_id) sealed with @p k:
 * "sip:tgruu.TOKEN@DOMAIN;gr", DOMAIN the AOR's (RFC 5627 §3.2).
 * Returns the length or an error of gruu_token_make().
 */
int gruu_temp_print(const struct gruu_key *k, struct slice aor,
		    struct slice instance, struct slice call_id, char *buf,
		    size_t size);

/** Room gruu_contact_params() needs at most for these inputs. */
size_t gruu_params_len(struct slice aor, struct slice instance);

/**
 * The Contact parameters of a 200 to REGISTER for the binding of
 * @p instance, registered with @p call_id, of @p aor:
 * `;pub-gruu="..."`, and `;temp-gruu="..."` when @p k is not NULL.
 * Returns the length (not NUL-terminated), -ENOSPC, or -EINVAL
 * (no instance). Thread: any.
 */
int gruu_contact_params(const struct gruu_key *k, struct slice aor,
			struct slice instance, struct slice call_id, char *buf,
			size_t size);

/**
 * Routing of a Request-URI with `gr` in a served domain (hook_lookup_fn
 * of proxy/hook.h; nothing when features_conf(c)->gruu is off): a pub-gruu
 * (gr=INSTANCE) or temp-gruu (bare gr, user "tgruu.TOKEN") reaches only
 * the live bindings of that instance (up to GRUU_MAX_FLOWS, tried one
 * after another), never the AOR's other devices. A token that does not
 * open, or whose registration was replaced by one with another Call-ID
 * (RFC 5627 §4.2): 404; an instance with no live binding: 480 (a
 * pub-gruu of a user the users file does not list: 404).
 * Returns 0 (no `gr`: not a GRUU), 1 with *fwp or *statusp set, or
 * -ENOMEM. Thread: a registered RCU thread outside a read section.
 * Ownership: targets in @p a.
 */
int gruu_lookup(const struct conf *c, struct slice ruri, int64_t now_s,
		struct arena *a, struct hook_fwd *fwp, unsigned *statusp);
