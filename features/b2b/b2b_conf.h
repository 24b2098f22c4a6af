/* features/b2b/b2b_conf.h - the b2b: section of the configuration */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "proxy/base/slice.h"
#include "proxy/core/conf.h"

/** The most B2B workers (`b2b.workers:`). */
#define B2B_MAX_WORKERS 16

/** `b2b.100rel:` (RFC 3262), the model of Asterisk's `100rel`. */
enum b2b_100rel {
	B2B_100REL_NO,	      /**< never reliable; Require: 100rel -> 420 */
	B2B_100REL_SUPPORTED, /**< Supported: 100rel; reliable if asked */
	B2B_100REL_REQUIRED,  /**< Require: 100rel; a peer without -> 421 */
	B2B_100REL_PEER_SUPPORTED, /**< reliable when the peer supports it */
	B2B_100REL__COUNT,
};

/** One b2b.domains[] entry: a served domain's own settings. */
struct b2b_domain {
	char *domain;		/**< served, lower case */
	enum b2b_100rel rel100; /**< (b2b.100rel) */
};

/** b2b: the B2BUA worker pool (features/b2b/pool.h). */
struct b2b_conf {
	unsigned workers; /**< pool threads (2); 0: no pool */
	char *listen;	  /**< as written ("127.0.0.1:0"), the default too */
	/** The pool's internal address: a loopback IP; port 0 = a free
	 * port chosen at start. */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	enum b2b_100rel rel100;	    /**< (supported) */
	unsigned answer_guard_s;    /**< originate: ACK A held after (20) */
	struct b2b_domain *domains; /**< b2b.domains, ndomains of them */
	unsigned ndomains;
	/** b2b.media.ports: the RTP port range (20000-29999), inclusive;
	 * the media engine takes its even ports (features/b2b/media.h). */
	uint16_t media_port_min, media_port_max;
	/** b2b.media.sounds: the built-in sounds' directory, or NULL:
	 * found by media_sounds_dir(). */
	char *media_sounds;
};

/**
 * The 100rel mode of the party in domain @p domain (a host, any case):
 * its b2b.domains entry's, else b2b.100rel. Thread: any.
 */
enum b2b_100rel b2b_100rel_for(const struct conf *c, struct slice domain);

/** The section, for conf_section_add() (proxy/main.c). */
extern const struct conf_section b2b_conf_section;

/**
 * The b2b settings of @p c; all zero (no pool) when the section was not
 * registered or @p c was made by hand. Thread: any.
 */
const struct b2b_conf *b2b_conf(const struct conf *c);

/**
 * Parse @p s, "IP:PORT" or "[IPv6]:PORT" with PORT 0..65535, into
 * @p ss. Returns 0 with *lenp set, or -EINVAL (not that form), -EPERM
 * (a valid address but not a loopback one: 127.0.0.0/8 or ::1).
 * Thread: any.
 */
int b2b_conf_addr_parse(const char *s, struct sockaddr_storage *ss,
			socklen_t *lenp);

/**
 * Parse @p s, "FIRST-LAST" (1024 <= FIRST <= LAST <= 65535, with at
 * least one even port between), into *minp, *maxp. Returns 0, or
 * -EINVAL. Thread: any.
 */
int b2b_conf_ports_parse(const char *s, uint16_t *minp, uint16_t *maxp);

/** "no", "supported", "required", "peer_supported". */
const char *b2b_100rel_name(enum b2b_100rel r);
