/* tests/unit/conftest.c - a config suite's fixture: load, free, errors */
#include "tests/unit/conftest.h"

#include <string.h>

#include <criterion/criterion.h>

#include "proxy/base/err.h"
#include "proxy/core/conf.h"
#include "tests/common/teardown.h"
#include "tests/unit/sections.h"

static struct conf **confp;
static char *errbuf;
static size_t errbuflen;

void conftest_init(struct conf **cp, char *err, size_t errlen)
{
	confp = cp;
	errbuf = err;
	errbuflen = errlen;
	*cp = NULL;
	err[0] = '\0';
	sections_add_all();
}

void conftest_fini(void)
{
	conf_free(*confp);
	*confp = NULL;
	teardown_check_objs(0);
}

int conftest_load(const char *text)
{
	return conf_load_mem("t.yaml", text, strlen(text), confp, errbuf,
			     errbuflen);
}

void conftest_expect_error(const char *text, const char *prefix,
			   const char *needle)
{
	int e = conftest_load(text);

	cr_assert_eq(e, ERR_CONFIG, "loaded: %s", text);
	cr_assert_null(*confp);
	cr_assert_eq(strncmp(errbuf, prefix, strlen(prefix)), 0,
		     "message '%s' does not start with '%s'", errbuf, prefix);
	cr_assert_not_null(strstr(errbuf, needle),
			   "message '%s' does not contain '%s'", errbuf,
			   needle);
}
