/* registrar/reg_conf.h - the registrar: section of the configuration */
#pragma once

#include <stdbool.h>
#include <sys/socket.h>

#include "proxy/core/conf.h"

/** registrar: bindings, digest authentication and trusted sources. */
struct reg_conf {
	struct conf_net *trusted; /**< sources allowed (no auth) */
	unsigned ntrusted;
	unsigned min_expires_s;	    /**< below: 423 (default 60) */
	unsigned max_expires_s;	    /**< above: lowered (86400) */
	unsigned default_expires_s; /**< when none given (3600) */
	char *users_file;	    /**< credentials (HA1 per realm), or NULL */
	unsigned auth_methods;	    /**< 1 << enum sip_method needing auth */
	unsigned nonce_ttl_s;	    /**< nonce lifetime, then stale (300) */
	char *secret; /**< nonce HMAC key shared by all nodes; NULL: a random
			   one per process */
	unsigned max_auth_failures; /**< per (source, user) per window (10) */
	unsigned max_auth_failures_source; /**< per source per window (100) */
	unsigned auth_failure_window_s;	   /**< (300) */
	unsigned auth_ban_s; /**< a banned pair or source is dropped (300) */
	/** Digest algorithms offered, most preferred first (enum
	 * digest_alg values); default MD5, then SHA-256. */
	unsigned algs[2];
	unsigned nalgs;
	/** registrar.domains: per served domain (realm), its own list. */
	struct reg_domain *domains;
	unsigned ndomains;
	/** To an unauthenticated caller outside the served domains, a known
	 * user without a binding gets the answer of an unknown one (404),
	 * so that users cannot be enumerated (true). */
	bool hide_users;
};

/** One registrar.domains entry. */
struct reg_domain {
	char *domain;	  /**< a served domain, lower case */
	unsigned algs[2]; /**< as reg_conf.algs */
	unsigned nalgs;
};

/** The section, for conf_section_add() (proxy/main.c). */
extern const struct conf_section reg_conf_section;

/**
 * The digest algorithms offered in @p realm (a served domain, any
 * case), most preferred first: its registrar.domains entry's, else
 * registrar.algorithms. Returns their count; *@p algsp points into
 * @p rc. Thread: any.
 */
unsigned reg_algs(const struct reg_conf *rc, struct slice realm,
		  const unsigned **algsp);

/**
 * The registrar settings of @p c; all zero (nothing trusted) when the
 * section was not registered or @p c was made by hand. Thread: any.
 */
const struct reg_conf *reg_conf(const struct conf *c);

/** True when @p sa is inside one of the registrar's trusted networks. */
bool reg_conf_is_trusted(const struct conf *c, const struct sockaddr *sa);
