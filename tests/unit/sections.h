/* tests/unit/sections.h - register every module's config section */
#pragma once

/**
 * Register the config sections proxy/main.c registers, in its order, so
 * that conf_load_mem() knows every key. Call from a suite's .init.
 * Thread: the test's.
 */
void sections_add_all(void);

struct conf;

/**
 * sections_add_all(), then load the NUL-terminated @p yaml as "t.yaml".
 * Fails the test with the loader's message if it does not load.
 * Ownership: the caller frees the result with conf_free().
 * Thread: the test's.
 */
struct conf *sections_load(const char *yaml);
