/* tests/unit/sections.c - register every module's config section */
#include "tests/unit/sections.h"

#include <string.h>

#include <criterion/criterion.h>

#include "features/b2b/b2b_conf.h"
#include "features/features_conf.h"
#include "features/park_conf.h"
#include "proxy/mgmt/mgmt_conf.h"
#include "proxy/core/conf.h"
#include "proxy/core/conf_store.h"
#include "proxy/core/guard_conf.h"
#include "proxy/core/log_conf.h"
#include "proxy/core/trace_conf.h"
#include "proxy/dns_conf.h"
#include "proxy/proxy_conf.h"
#include "proxy/nat_conf.h"
#include "proxy/rtpe_conf.h"
#include "registrar/reg_conf.h"

void sections_add_all(void)
{
	/* As proxy/main.c: the order sections are built in. */
	static const struct conf_section *const all[] = {
		&conf_store_section, &reg_conf_section,
		&proxy_conf_section, &features_conf_section,
		&mgmt_conf_section,  &log_conf_section,
		&b2b_conf_section,   &trace_conf_section,
		&guard_conf_section, &park_conf_section,
		&rtpe_conf_section,  &dns_conf_section,
		&nat_conf_section,
	};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		cr_assert_eq(conf_section_add(all[i]), 0, "section %s",
			     all[i]->name);
}

struct conf *sections_load(const char *yaml)
{
	struct conf *c = NULL;
	char err[256];

	sections_add_all();
	cr_assert_eq(
	    conf_load_mem("t.yaml", yaml, strlen(yaml), &c, err, sizeof(err)),
	    0, "%s", err);
	return c;
}
