/* tests/fuzz/fuzz_conf.c - libFuzzer target: the configuration loader */
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "features/b2b/b2b_conf.h"
#include "proxy/base/err.h"
#include "features/features_conf.h"
#include "proxy/core/conf.h"
#include "proxy/core/conf_store.h"
#include "proxy/proxy_conf.h"
#include "registrar/reg_conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_in6 probe = { .sin6_family = AF_INET6 };
	struct conf *c = NULL;
	char err[256];
	int e;

	/* As proxy/main.c: every module's section (again: a no-op). */
	if (conf_section_add(&conf_store_section) < 0 ||
	    conf_section_add(&reg_conf_section) < 0 ||
	    conf_section_add(&proxy_conf_section) < 0 ||
	    conf_section_add(&features_conf_section) < 0 ||
	    conf_section_add(&b2b_conf_section) < 0)
		abort();
	e = conf_load_mem("fuzz", (const char *)data, size, &c, err,
			  sizeof(err));
	if (e == 0) {
		/* A loaded config is whole: every field a shard reads. */
		if (!c || c->nlisten == 0 || c->ndomains == 0 ||
		    !c->server_name || c->workers == 0 ||
		    c->workers > CONF_MAX_WORKERS)
			abort();
		/* The pool's address: loopback, resolved. */
		if (b2b_conf(c)->workers > B2B_MAX_WORKERS ||
		    !b2b_conf(c)->listen || b2b_conf(c)->addrlen == 0)
			abort();
		for (unsigned i = 0; i < c->nlisten; i++)
			if (c->listen[i].addrlen == 0 ||
			    (!c->listen[i].udp && !c->listen[i].tcp))
				abort();
		(void)conf_is_domain(c, c->domains[0], strlen(c->domains[0]));
		(void)reg_conf_is_trusted(c, (const struct sockaddr *)&probe);
		conf_free(c);
		return 0;
	}
	/* Every refusal is a config error (or out of memory), with a
	 * message that names the input, and no config. */
	if (c || (e != ERR_CONFIG && e != -ENOMEM) ||
	    strncmp(err, "fuzz:", 5) != 0)
		abort();
	return 0;
}
