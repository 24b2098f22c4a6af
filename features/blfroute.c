/* features/blfroute.c - BLF for park slots on the proxy: SUBSCRIBE to a
 * slot or lot goes to the B2B pool */
#include "features/blfroute.h"

#include <errno.h>

#include "features/b2b/blf.h"
#include "features/poolroute.h"
#include "proxy/core/shard.h"
#include "proxy/route.h"
#include "proxy/sip/msg.h"
#include "proxy/sip/uri.h"

int blfroute_hook(struct hook_req *r)
{
	const struct conf *c = shard_conf(r->sh);
	const struct sipmsg *m = r->m;
	char aor[SIPMSG_AOR_MAX];
	struct slice user, host;
	struct sipuri u;
	int n;

	if (m->method != SIP_SUBSCRIBE || m->to_tag.len)
		return HOOK_NEXT;
	if (uri_parse(m->ruri, &u) || u.scheme != URI_SIP ||
	    !route_uri_is_ours(c, &u) || route_foreign(c, m))
		return HOOK_NEXT;
	n = sipmsg_aor_print(m->ruri, aor, sizeof(aor));
	if (n <= 0 ||
	    !sipmsg_aor_split(slice_make(aor, (size_t)n), &user, &host) ||
	    blf_resolve(host, user) == BLF_NONE)
		return HOOK_NEXT;
	/* No pool: routed as any request. */
	n = poolroute_set(r);
	return n == -ENOMEM ? n : HOOK_NEXT;
}
