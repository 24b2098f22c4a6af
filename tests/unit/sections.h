/* tests/unit/sections.h - register every module's config section */
#pragma once

/**
 * Register the config sections proxy/main.c registers, in its order, so
 * that conf_load_mem() knows every key. Call from a suite's .init.
 * Thread: the test's.
 */
void sections_add_all(void);
