/* features/blfroute.c - BLF for park slots on the proxy: SUBSCRIBE to a
 * slot or lot goes to the B2B pool */
#include "features/blfroute.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "features/b2b/blf.h"
#include "features/b2b/pool.h"
#include "proxy/base/arena.h"
#include "proxy/core/shard.h"
#include "proxy/route.h"
#include "proxy/sip/msg.h"
#include "proxy/sip/uri.h"

/* "sip:IP:PORT" of the pool's address, in @p buf. */
static int pool_uri(char *buf, size_t size)
{
	struct sockaddr_storage ss;
	char ip[INET6_ADDRSTRLEN];
	socklen_t len;
	int n, err = pool_self_addr(&ss, &len);

	if (err)
		return err;
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
		n = snprintf(buf, size, "sip:[%s]:%u", ip, ntohs(a->sin6_port));
	} else {
		const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
		n = snprintf(buf, size, "sip:%s:%u", ip, ntohs(a->sin_port));
	}
	return n > 0 && (size_t)n < size ? n : -ENOSPC;
}

int blfroute_hook(struct hook_req *r)
{
	const struct sipmsg *m = r->m;
	char aor[SIPMSG_AOR_MAX], uri[INET6_ADDRSTRLEN + 16];
	struct slice user, host;
	struct hook_target *t;
	struct sipuri u;
	char *p;
	int n;

	if (m->method != SIP_SUBSCRIBE || m->to_tag.len)
		return HOOK_NEXT;
	if (uri_parse(m->ruri, &u) || u.scheme != URI_SIP ||
	    !route_uri_is_ours(shard_conf(r->sh), &u))
		return HOOK_NEXT;
	n = sipmsg_aor_print(m->ruri, aor, sizeof(aor));
	if (n <= 0 ||
	    !sipmsg_aor_split(slice_make(aor, (size_t)n), &user, &host) ||
	    blf_resolve(host, user) == BLF_NONE)
		return HOOK_NEXT;
	n = pool_uri(uri, sizeof(uri));
	if (n < 0)
		return HOOK_NEXT; /* no pool: routed as any request */
	t = arena_alloc(r->a, sizeof(*t));
	p = arena_alloc(r->a, (size_t)n);
	if (!t || !p)
		return -ENOMEM;
	memcpy(p, uri, (size_t)n);
	memset(t, 0, sizeof(*t));
	t->b.uri = slice_make(p, (size_t)n);
	t->b.q = 1000;
	t->ruri = m->ruri;
	r->fwd.t = t;
	r->fwd.nt = 1;
	r->fwd.failover = false;
	return HOOK_NEXT;
}
