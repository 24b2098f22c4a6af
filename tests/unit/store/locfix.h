/* tests/unit/store/locfix.h - contacts for the location store's suites */
#pragma once

#include <stdint.h>

#include "store/loc.h"

/**
 * A contact for @p uri (borrowed, not copied) expiring at @p expires_s:
 * Call-ID "cid-1", CSeq 1, q 1000, every other field zero.
 */
struct loc_contact locfix_contact(const char *uri, int64_t expires_s);
