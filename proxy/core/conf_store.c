/* proxy/core/conf_store.c - the store's config section, for the engine
 *
 * store/ is below the runtime and cannot name the engine's types: it
 * gives its section as libcyaml fields and plain functions, put
 * together here.
 */
#include "proxy/core/conf_store.h"

static int build(void *out, const void *raw, const struct conf_ctx *x)
{
	return store_conf_build(out, raw, x->why, x->whylen);
}

static void fini(void *out)
{
	store_conf_fini(out);
}

const struct conf_section conf_store_section = {
	.name = "store",
	.fields = store_conf_fields,
	.raw_size = sizeof(struct store_conf_raw),
	.size = sizeof(struct store_conf),
	.range = store_conf_range,
	.check = store_conf_check,
	.build = build,
	.free = fini,
};

const struct store_conf *store_conf(const struct conf *c)
{
	static const struct store_conf none;
	const struct store_conf *s = conf_section_get(c, &conf_store_section);

	return s ? s : &none;
}
