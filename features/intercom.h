/* features/intercom.h - intercom and paging feature codes, auto-answer
 * markings */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/base/slice.h"
#include "features/features_conf.h"
#include "proxy/core/conf.h"
#include "proxy/hook.h"
#include "proxy/sip/hdr.h"

struct arena;
struct edit_list;
struct sipmsg;
struct sockaddr;

/** Most targets one page reaches (the proxy forks to at most that). */
#define INTERCOM_MAX_TARGETS 16

/** The config name of profile @p p ("callinfo", ...), "" if unknown. */
const char *intercom_profile_name(enum conf_aa p);

/**
 * The intercom settings of served domain @p domain (any case): its
 * features.intercom entry, or the defaults (code "*6", any
 * authenticated user of the domain, callinfo) when it has none; NULL
 * when the entry says enabled: false. Thread: any.
 * Ownership: borrowed from @p c (or static).
 */
const struct conf_intercom *intercom_domain(const struct conf *c,
					    struct slice domain);

/**
 * The marking for a device that registered with User-Agent @p ua:
 * the first of d->profiles whose pattern @p ua contains (without
 * regard to case), else a built-in vendor rule (Polycom: polycom;
 * Aastra, Mitel: alertinfo-autoanswer; Grandstream, Yealink, Snom:
 * callinfo), else d->default_profile. Thread: any.
 */
enum conf_aa intercom_profile_for(const struct conf_intercom *d,
				  struct slice ua);

/**
 * What profile @p p adds to a request for a device at @p contact in
 * @p domain: *hdrsp gets header lines ("Name: value" CRLF; empty for
 * uri-intercom) and *rurip the Request-URI (@p contact, with
 * ";intercom=true" for uri-intercom). Both in @p a.
 * Errors: -ENOMEM, -EINVAL (unknown profile). Thread: the owner of @p a.
 */
int intercom_mark(enum conf_aa p, struct slice domain, struct slice contact,
		  struct arena *a, struct slice *hdrsp, struct slice *rurip);

/**
 * True when element @p e (one comma-separated value) of header @p id
 * asks a device to answer by itself: Call-Info with answer-after (or
 * an auto-answer / intercom parameter), Alert-Info naming auto-answer,
 * answer-after, Ring-Answer or intercom, Answer-Mode or
 * Priv-Answer-Mode other than Manual (RFC 5373). Thread: any.
 */
bool intercom_is_marking(enum hdr_id id, struct slice e);

/**
 * The hook_clean_fn of proxy/hook.h: on edit list @p el, remove every
 * auto-answer marking of request @p m (intercom_is_marking(); a
 * header that cannot be split goes whole) and, when *rurip is not
 * empty, the intercom parameter of that Request-URI (a copy in @p a).
 * Errors: -ENOMEM, -EINVAL (overlapping edits). Thread: the shard.
 */
int intercom_clean(struct edit_list *el, const struct sipmsg *m,
		   struct arena *a, struct slice *rurip);

/** Whether requests from @p src need no authentication. Thread: any. */
typedef bool intercom_trusted_fn(const struct conf *c,
				 const struct sockaddr *src);

/** The methods (1 << enum sip_method) that must authenticate. */
typedef unsigned intercom_methods_fn(const struct conf *c);

/**
 * The authentication policy intercom_may_page() follows: the
 * registrar's (registrar.trusted, registrar.auth_methods), given by
 * main.c, since features sit beside the registrar and do not include
 * it. Until it is set nobody is trusted and nothing authenticates, so
 * nobody may page. Thread: control, before shards run.
 */
void intercom_set_policy(intercom_trusted_fn *trusted,
			 intercom_methods_fn *methods);

/**
 * Whether the caller of request @p m from @p src may page in @p d: it
 * is trusted (registrar.trusted: its From is taken as it is) or it passed
 * digest authentication for its From domain (the HOOK_AUTH stage ran
 * before: the username of its Proxy-Authorization for that realm);
 * that identity is a user of d->domain and, when d->allow lists users,
 * one of them. Thread: any.
 */
bool intercom_may_page(const struct conf *c, const struct conf_intercom *d,
		       const struct sipmsg *m, const struct sockaddr *src);

/** One request for intercom_decide(). */
struct intercom_req {
	const struct conf *c;
	const struct sipmsg *m;
	const struct sockaddr *src;
	int64_t now_s; /**< CLOCK_REALTIME seconds */
	struct arena *a;
	/** From the B2B pool's own socket (pool_is_source()): trusted. */
	bool internal;
};

/** What intercom_decide() found. */
struct intercom_verdict {
	unsigned status;    /**< 0: route by fwd (none: not intercom) */
	const char *reason; /**< static */
	struct hook_fwd fwd;
};

/**
 * An initial INVITE to CODE+EXT in a served domain with intercom on
 * (and no Route value of someone else's left): 403 when the caller may
 * not page, 484 for no extension; else the live bindings of EXT, or of
 * every member of paging group EXT, each with the marking of its own
 * User-Agent (404 when nobody of it exists by the users file, 480 when
 * none is registered). Anything else: status 0 and no targets.
 * Returns 0 with *vp set, or -ENOMEM. Thread: a registered RCU thread
 * outside a read section. Ownership: targets in q->a.
 */
int intercom_decide(const struct intercom_req *q, struct intercom_verdict *vp);

/**
 * The HOOK_FEATURES stage: intercom_decide(); an error status goes out
 * with hook_reply(), targets into r->fwd. Returns HOOK_NEXT, HOOK_DONE
 * or a negative error. Thread: the shard.
 */
int intercom_hook(struct hook_req *r);
