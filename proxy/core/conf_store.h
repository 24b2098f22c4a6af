/* proxy/core/conf_store.h - the store's config section, for the engine */
#pragma once

#include "proxy/core/conf.h"
#include "store/store_conf.h"

/** The store: section (store/store_conf), for conf_section_add(). */
extern const struct conf_section conf_store_section;

/**
 * The store settings of @p c; all zero (memory, no snapshot) when the
 * section was not registered or @p c was made by hand. Thread: any.
 */
const struct store_conf *store_conf(const struct conf *c);
