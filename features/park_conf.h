/* features/park_conf.h - the park: section of the configuration */
#pragma once

#include <stdbool.h>

#include "proxy/base/slice.h"
#include "proxy/core/conf.h"

/** The default park code, slot range and timeout (issue #13). */
#define PARK_CODE_DEFAULT      "700"
#define PARK_SLOT_MIN_DEFAULT  701u
#define PARK_SLOT_MAX_DEFAULT  799u
#define PARK_TIMEOUT_S_DEFAULT 45u
/** How long the comeback call rings the parker (issue #13). */
#define PARK_COMEBACK_RING_S_DEFAULT 30u
/** Longest fallback URI. */
#define PARK_FALLBACK_MAX 256
/** The widest slot range one lot has (slot numbers 1..99999). */
#define PARK_SLOTS_MAX 1000u
/** The most digits of a slot number (and of a code). */
#define PARK_DIGITS_MAX 8

/** The lot of one served domain (features/park). */
struct conf_park {
	char *domain;		  /**< lower case, a served domain */
	bool enabled;		  /**< (true) */
	char *code;		  /**< dialled to park ("700"); digits */
	unsigned slot_min;	  /**< first slot (701) */
	unsigned slot_max;	  /**< last slot (799), slot_min..slot_max */
	unsigned timeout_s;	  /**< (45) parked this long, the parker is
				     rung back (the comeback call) */
	unsigned comeback_ring_s; /**< (30) the comeback call rings this
				     long before it is given up */
	char *fallback;		  /**< a SIP URI called when the parker does not
				     answer; NULL: the parked call is hung up */
	bool blf_early;		  /**< BLF shows a parked call as early
				     (ringing) rather than confirmed (false) */
	char *music;		  /**< a WAV the lot's parked calls hear
				     instead of the built-in music; NULL */
	char *announce;		  /**< a WAV played instead of "your call is
				     parked at" before the slot's digits;
				     NULL */
};

/** park: one entry per domain that differs from the defaults. */
struct park_conf {
	struct conf_park *lots;
	unsigned nlots;
};

/** The section, for conf_section_add() (proxy/main.c). */
extern const struct conf_section park_conf_section;

/**
 * The park settings of @p c (no entries when the section was not
 * registered or @p c was made by hand). Thread: any.
 */
const struct park_conf *park_conf(const struct conf *c);

/**
 * The lot of served domain @p domain (any case): its park: entry, or
 * the defaults (code 700, slots 701-799, timeout 45 s) when it has
 * none; NULL when the domain is not served or its entry says enabled:
 * false. Thread: any. Ownership: borrowed from @p c (or static).
 */
const struct conf_park *park_conf_lot(const struct conf *c,
				      struct slice domain);
