/* tests/unit/store/locfix.c - contacts for the location store's suites */
#include "tests/unit/store/locfix.h"

#include <string.h>

#include "proxy/base/slice.h"

struct loc_contact locfix_contact(const char *uri, int64_t expires_s)
{
	struct loc_contact c;

	memset(&c, 0, sizeof(c));
	c.uri = slice_cstr(uri);
	c.call_id = SLICE_LIT("cid-1");
	c.cseq = 1;
	c.expires_s = expires_s;
	c.q = 1000;
	return c;
}
