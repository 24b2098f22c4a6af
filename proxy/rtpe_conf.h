/* proxy/rtpe_conf.h - the media: section: media anchoring through
 * rtpengine (its ng addresses, timeouts, what a failure does, flags) */
#pragma once

#include <stdbool.h>

#include "proxy/core/conf.h"
#include "proxy/ng.h"

/** Defaults of the media: section. */
#define RTPE_TIMEOUT_MS_DEFAULT 1000u
#define RTPE_RETRIES_DEFAULT	2u
#define RTPE_DOWN_S_DEFAULT	10u

/** Per-call flags of the ng offer/answer (bits). */
enum {
	RTPE_FLAG_REPLACE_ORIGIN = 1u << 0,  /**< replace: [origin] */
	RTPE_FLAG_REPLACE_SESSION = 1u << 1, /**< replace:
						  [session-connection] */
	RTPE_FLAG_TRUST_ADDRESS = 1u << 2,   /**< flags: [trust-address] */
	RTPE_FLAG_SYMMETRIC = 1u << 3,	     /**< flags: [symmetric] */
	RTPE_FLAG_ASYMMETRIC = 1u << 4,	     /**< flags: [asymmetric] */
	RTPE_FLAG_STRICT_SOURCE = 1u << 5,   /**< flags: [strict-source] */
	RTPE_FLAG_MEDIA_HANDOVER = 1u << 6,  /**< flags: [media-handover] */
	/** flags: [SIP-source-address]: set per call for a side behind
	 * NAT (rtpe_call_flags()), not a media.flags name. */
	RTPE_FLAG_SIP_SOURCE = 1u << 7,
};

/** The default flags: replace-origin, trust-address. */
#define RTPE_FLAGS_DEFAULT (RTPE_FLAG_REPLACE_ORIGIN | RTPE_FLAG_TRUST_ADDRESS)

/** media: the proxy anchors the media of its calls in rtpengine. */
struct rtpe_conf {
	bool enabled; /**< (false) */
	struct ng_server servers[NG_MAX_SERVERS];
	unsigned nservers;
	unsigned timeout_ms; /**< per try (1000) */
	unsigned retries;    /**< resends per instance (2) */
	unsigned down_s;     /**< a silent instance is skipped (10) */
	bool proceed;	     /**< on_failure: proceed (else fail: 503) */
	unsigned flags;	     /**< RTPE_FLAG_* (RTPE_FLAGS_DEFAULT) */
	/** dtmf_events: where rtpengine's --dtmf-log-dest reports come
	 * in (proxy/dtmf.h); dtmf_addrlen 0: off (the default). */
	struct sockaddr_storage dtmf_addr;
	socklen_t dtmf_addrlen;
};

/** The section, for conf_section_add() (proxy/main.c). */
extern const struct conf_section rtpe_conf_section;

/**
 * The media settings of @p c: off when the section was not registered or
 * @p c was made by hand. Thread: any.
 */
const struct rtpe_conf *rtpe_conf(const struct conf *c);

/**
 * The flag of name @p name ("replace-origin", "trust-address", ...), or
 * 0 when there is none. Thread: any.
 */
unsigned rtpe_conf_flag(const char *name);
