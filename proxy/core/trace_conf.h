/* proxy/core/trace_conf.h - the trace: section: a trace from start-up */
#pragma once

#include <stdbool.h>

#include "proxy/core/conf.h"
#include "proxy/core/trace.h"

/** trace: what trace.start would be given, run from start-up. */
struct trace_conf {
	bool on;		/**< the section is in the file */
	struct trace_spec spec; /**< with on: the trace */
};

/** The section, for conf_section_add() (proxy/main.c). */
extern const struct conf_section trace_conf_section;

/**
 * The trace settings of @p c; without the section (or when it was not
 * registered): on false. Thread: any.
 */
const struct trace_conf *trace_conf(const struct conf *c);

/**
 * Start @p c's trace, if it has one (trace_start()), and log it.
 * Returns 0, or trace_start()'s error after logging "trace: FILE:
 * reason". Thread: control, before the shards start.
 */
int trace_conf_apply(const struct conf *c);
