/* tests/unit/msgin.h - a suite's fixture for tests that parse one guarded
 * input message into an arena */
#pragma once

#include <stddef.h>

struct arena;

/** The running test's arena, made by msgin_init(), freed by msgin_fini(). */
extern struct arena *msgin_arena;

/**
 * A suite's .init: remember obj_live() and make msgin_arena with
 * arena_new(4096). Fails the test when out of memory.
 * Thread: the test's.
 */
void msgin_init(void);

/** msgin_init() with an arena of @p size bytes a chunk. */
void msgin_init_size(size_t size);

/**
 * A suite's .fini: free the input msgin_copy() made last and msgin_arena,
 * then check that obj_live() is back where msgin_init() found it
 * (teardown_check_objs()).
 */
void msgin_fini(void);

/**
 * Copy @p len bytes of @p text right before a PROT_NONE page
 * (guard_copy()), freeing the copy made before. Fails the test when out of
 * memory.
 * Ownership: the fixture's, valid until the next msgin_copy() or
 * msgin_fini().
 */
char *msgin_copy(const char *text, size_t len);

struct sipmsg;
struct siphdr;

/**
 * Parse @p len bytes at @p p (what the code under test printed) into @p m,
 * with @p max headers in @p hdrs. Fails the test, naming it @p what
 * ("output", "reply") and showing it, unless all of it parses without a
 * fault.
 */
void msgin_reparse(const char *p, size_t len, struct sipmsg *m,
		   struct siphdr *hdrs, unsigned max, const char *what);

/** Fail the test unless the @p len bytes at @p p are exactly @p want. */
void msgin_expect_str(const char *p, size_t len, const char *want);
