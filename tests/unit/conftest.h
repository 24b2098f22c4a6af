/* tests/unit/conftest.h - a config suite's fixture: load, free, errors */
#pragma once

#include <stddef.h>

struct conf;

/**
 * A suite's .init: set *@p cp to NULL and @p err to "", register every
 * module's section (sections_add_all()), and remember @p cp and @p err
 * for the calls below, which load into *@p cp and write their message to
 * @p err (@p errlen bytes).
 * Thread: the test's.
 */
void conftest_init(struct conf **cp, char *err, size_t errlen);

/**
 * A suite's .fini: free the conf conftest_init()'s pointer holds, set it
 * to NULL, and check that no object is left live (teardown_check_objs()).
 */
void conftest_fini(void);

/** conf_load_mem() of @p text as "t.yaml"; returns its result. */
int conftest_load(const char *text);

/**
 * Loading @p text fails with ERR_CONFIG, builds no conf, and leaves a
 * message that starts with @p prefix ("t.yaml:LINE: ") and contains
 * @p needle. Fails the test otherwise.
 */
void conftest_expect_error(const char *text, const char *prefix,
			   const char *needle);
