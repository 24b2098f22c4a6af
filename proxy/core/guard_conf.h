/* proxy/core/guard_conf.h - the security: section (per-source limits) */
#pragma once

#include <stdbool.h>

#include "proxy/core/conf.h"

/** security: per-source request limits, bans, answer budget. */
struct guard_conf {
	unsigned rate;		 /**< requests/s per source; 0: no limit */
	unsigned burst;		 /**< bucket size (default: rate) */
	unsigned ban_s;		 /**< ban length (default 60) */
	unsigned global_rate;	 /**< requests/s of all untrusted sources;
				      0: no cap */
	unsigned answer_budget;	 /**< answer credit ceiling per source,
				      bytes; 0: answers not limited */
	unsigned table_size;	 /**< sources tracked (default 65536) */
	struct conf_net *exempt; /**< never limited (besides the trusted
				      peers and the route next hops) */
	unsigned nexempt;
};

/** The section, for conf_section_add() (proxy/main.c). */
extern const struct conf_section guard_conf_section;

/**
 * The security settings of @p c; all zero but the defaults (no limit)
 * when the section was not registered or not in the file. Thread: any.
 */
const struct guard_conf *guard_conf(const struct conf *c);
