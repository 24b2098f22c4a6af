/* proxy/nat.h - user agents behind NAT: detection, Contact fix, keep-alives
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "proxy/base/slice.h"

struct arena;
struct conf;
struct edit_list;
struct nat_conf;
struct peer;
struct shard;
struct sipmsg;
struct timer_wheel;
struct txn_layer;

/** Why a message was found to come from behind a NAT (bits). */
enum {
	NAT_CONTACT_PRIVATE = 1u << 0, /**< Contact host a private address
					    other than the source's */
	NAT_VIA_DIFFERS = 1u << 1,     /**< top Via sent-by != source
					    address:port (RFC 3581) */
};

/**
 * True when @p ss (AF_INET or AF_INET6) is in one of @p nc's private
 * ranges. Thread: any.
 */
bool nat_addr_is_private(const struct nat_conf *nc,
			 const struct sockaddr_storage *ss);

/**
 * True when URI host @p host (an IPv4 literal or a bracketed IPv6
 * reference) is in one of @p nc's private ranges; a host name is not.
 * Thread: any.
 */
bool nat_host_is_private(const struct nat_conf *nc, struct slice host);

/**
 * Whether message @p m, received from @p from, comes from behind a
 * NAT: NAT_* bits, 0 when not (Kamailio's nat_uac_test 1, 2 and 16).
 * For a request (@p m->is_request), the top Via's sent-by (port 5060,
 * 5061 for TLS, when absent; a host name always differs) other than
 * the source address:port; for any message, the first Contact's host a
 * private address (@p nc's ranges) other than the source address. A
 * Contact that only names another port or a public host of its own is
 * not a sign: a UA (or a PBX) may register a contact elsewhere. A
 * source on loopback is never behind NAT, and neither is a request
 * that came through another proxy (more than one Via: that proxy
 * reaches its UA). Thread: any.
 */
unsigned nat_detect(const struct nat_conf *nc, const struct sipmsg *m,
		    const struct peer *from);

/**
 * Rewrite the first Contact of @p m on @p el so that its URI names the
 * source address and port of @p from (fix_nated_contact): in-dialog
 * requests then reach the UA through its NAT binding. The rest of the
 * URI and the header (user, parameters) stay.
 * Returns 0 (also when there is nothing to do: no Contact, "*", one
 * that does not parse), or -ENOMEM, -ENOSPC. Thread: the owner of @p a.
 * Ownership: the new value is in @p a.
 */
int nat_fix_contact(struct edit_list *el, const struct sipmsg *m,
		    const struct peer *from, struct arena *a);

/**
 * The keep-alives of one proxy shard: an entry per NAT'd binding the
 * shard registered, each fired every keepalive.interval_s at its own
 * phase (random in the first interval, so a shard never pings all its
 * bindings at once). Single owner: the shard.
 */
struct nat;

/** The counters of the nat module, all shards added up. */
struct nat_stats {
	uint64_t registered; /**< NAT'd bindings this node started keeping
				  alive (nat_track() of a new one) */
	uint64_t fixed;	     /**< Contacts rewritten in dialogs */
	uint64_t keepalives; /**< keep-alives sent */
	uint64_t failures;   /**< keep-alives failed (timeout, send error) */
	uint64_t dropped;    /**< bindings removed after failures */
	uint64_t tracked;    /**< gauge: bindings kept alive */
};

/**
 * The per-shard counters of c->workers shards, in the metrics registry.
 * Errors: -ENOMEM. Thread: control, before the shards start.
 */
int nat_init(const struct conf *c);

/** Remove the counters. Thread: control, after the shards stopped. */
void nat_fini(void);

/** The counters, all shards (relaxed reads). Thread: any. */
void nat_stats(struct nat_stats *out);

/** Send @p len bytes to @p to; 0 or a negative error. */
typedef int nat_send_fn(void *ctx, const struct peer *to, const void *buf,
			size_t len);

/**
 * The keep-alives of shard @p sh, on its wheel @p w, sending OPTIONS
 * through @p l and raw pings through @p send.
 * Errors: -ENOMEM. Thread: the shard's (its role's new_state).
 * Ownership: nat_free(); @p w and @p l must outlive it.
 */
int nat_new(struct shard *sh, struct timer_wheel *w, struct txn_layer *l,
	    nat_send_fn *send, void *send_ctx, struct nat **np);

/**
 * Forget every entry. Call it after the transaction layer is gone (no
 * OPTIONS can answer any more). NULL is allowed. Thread: the owner.
 */
void nat_free(struct nat *n);

/**
 * Keep binding @p uri of @p aor alive, reached at @p to (the flow its
 * REGISTER came over): a new entry fires first at a random moment in
 * the next interval; an existing one keeps its phase and takes @p to.
 * Each firing looks the binding up: gone, no longer NAT'd or moved to
 * another flow (a REGISTER from elsewhere, another node) ends the
 * entry. keepalive.failures failures in a row remove the binding
 * (loc_publish(): this shard must own @p aor) with a log line.
 * Nothing when keepalive.interval_s is 0.
 * Errors: -ENOMEM, -EINVAL (empty aor or uri).
 * Thread: the owner, the shard that owns @p aor.
 */
int nat_track(struct nat *n, struct slice aor, struct slice uri,
	      const struct peer *to);

/** Entries (bindings kept alive) of @p n. Thread: the owner. */
unsigned nat_count(const struct nat *n);
