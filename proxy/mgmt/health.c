/* proxy/mgmt/health.c - GET /health */
#include "proxy/mgmt/health.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/base/stats.h"
#include "proxy/mgmt/rpc.h"

/* What the registry says of the Redis store: -1 none, 0 down, 1 up. */
struct redis_seen {
	int state;
};

static void each(void *ctx, const struct stats_source *src, unsigned inst,
		 const uint64_t *values, const struct stats_hist *hists)
{
	struct redis_seen *r = ctx;

	(void)inst;
	(void)hists;
	if (strcmp(src->module, "redis") || !src->nitems ||
	    strcmp(src->items[0].name, "connected"))
		return;
	r->state = values[0] ? 1 : 0;
}

int health_page(void *arg, char **bodyp, size_t *lenp)
{
	struct redis_seen r = { -1 };
	bool stopping = rpc_quiesced(arg);
	const char *status = "ok";
	char *body;
	int n;

	if (!stopping)
		stats_foreach(each, &r);
	if (stopping)
		status = "stopping";
	else if (r.state == 0)
		status = "degraded";
	body = malloc(96);
	if (!body)
		return -ENOMEM;
	n = snprintf(body, 96, "{\"status\":\"%s\"%s}\n", status,
		     r.state < 0    ? ""
		     : r.state == 0 ? ",\"redis\":\"down\""
				    : ",\"redis\":\"up\"");
	*bodyp = body;
	*lenp = (size_t)n;
	return stopping ? 503 : 200;
}
