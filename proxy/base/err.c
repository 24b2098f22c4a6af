/* proxy/base/err.c - error names and their SIP status codes */
#include "proxy/base/err.h"

#include <errno.h>
#include <string.h>

static const struct {
	int err;
	unsigned status;
	const char *str;
} table[] = {
	{ ERR_LOOP, 483, "too many hops" },
	{ ERR_SPIRAL, 482, "loop detected" },
	{ ERR_NO_BINDING, 480, "no binding" },
	{ ERR_NO_USER, 404, "no such user" },
	{ ERR_NO_ROUTE, 404, "no route" },
	{ ERR_OVERLOAD, 503, "overloaded" },
	{ ERR_BAD_EXT, 420, "bad extension" },
	{ ERR_BAD_SCHEME, 416, "unsupported URI scheme" },
	{ ERR_BAD_VERSION, 505, "version not supported" },
	{ ERR_NOT_IMPL, 501, "not implemented" },
	{ ERR_TOO_LARGE, 413, "message too large" },
	{ ERR_CONFIG, 500, "configuration error" },
	{ -EBADMSG, 400, NULL },
	{ -E2BIG, 400, NULL },
	{ -EMSGSIZE, 413, NULL },
	{ -EPROTONOSUPPORT, 505, NULL },
};

const char *err_str(int err)
{
	if (err == 0)
		return "success";
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].err == err && table[i].str)
			return table[i].str;
	if (err < 0 && err > -1000)
		return strerror(-err);
	return "unknown error";
}

unsigned err_sip_status(int err)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].err == err)
			return table[i].status;
	return 500;
}
