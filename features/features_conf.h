/* features/features_conf.h - the features: section of the configuration */
#pragma once

#include <stdbool.h>

#include "proxy/core/conf.h"

/** Auto-answer markings (features/intercom), one per vendor family. */
enum conf_aa {
	CONF_AA_CALLINFO,	  /**< Call-Info: <sip:DOMAIN>;answer-after=0 */
	CONF_AA_ALERT_AUTOANSWER, /**< Alert-Info: alert-autoanswer */
	CONF_AA_ALERT_ANSWERAFTER, /**< Alert-Info: answer-after=0 */
	CONF_AA_POLYCOM,	   /**< Alert-Info: Ring-Answer */
	CONF_AA_URI_INTERCOM,	   /**< ;intercom=true on the Request-URI */
	CONF_AA_ANSWER_MODE,	   /**< Answer-Mode: Auto (RFC 5373) */
	CONF_AA__COUNT,
};

/** features.intercom[].profiles[]: User-Agent pattern -> marking. */
struct conf_aa_rule {
	char *user_agent; /**< matched as a substring, without case */
	enum conf_aa profile;
};

/** features.intercom[].groups[]: paging group CODE + number. */
struct conf_page_group {
	char *number;	/**< digits */
	char **members; /**< users of the domain */
	unsigned nmembers;
};

/** Intercom and paging of one served domain (features/intercom). */
struct conf_intercom {
	char *domain; /**< lower case, a served domain */
	bool enabled; /**< (true) */
	char *code;   /**< feature code before the extension ("*6") */
	char **allow; /**< users who may page; none: any authenticated one */
	unsigned nallow;
	enum conf_aa default_profile;  /**< when no User-Agent rule matches */
	struct conf_aa_rule *profiles; /**< tried in order, before built-ins */
	unsigned nprofiles;
	struct conf_page_group *groups;
	unsigned ngroups;
};

/** features: GRUU and intercom (features/). */
struct features_conf {
	bool gruu; /**< mint and route GRUUs, RFC 5627 (true) */
	struct conf_intercom *intercom; /**< per domain; a served domain not
					     listed: the defaults */
	unsigned nintercom;
};

/** The section, for conf_section_add() (proxy/main.c). */
extern const struct conf_section features_conf_section;

/**
 * The features settings of @p c; all zero (GRUU off, no intercom entry)
 * when the section was not registered or @p c was made by hand.
 * Thread: any.
 */
const struct features_conf *features_conf(const struct conf *c);
