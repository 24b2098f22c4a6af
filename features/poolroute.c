/* features/poolroute.c - route a request from the proxy to the B2B pool */
#include "features/poolroute.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "features/b2b/pool.h"
#include "proxy/base/arena.h"
#include "proxy/sip/msg.h"

/* Longest "sip:[IPv6]:PORT". */
#define POOL_URI_MAX (INET6_ADDRSTRLEN + 16)

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

static int set_to(struct hook_req *r, const char *uri, int n)
{
	struct hook_target *t;
	char *p;

	t = arena_alloc(r->a, sizeof(*t));
	p = arena_alloc(r->a, (size_t)n);
	if (!t || !p)
		return -ENOMEM;
	memcpy(p, uri, (size_t)n);
	memset(t, 0, sizeof(*t));
	t->b.uri = slice_make(p, (size_t)n);
	t->b.q = 1000;
	t->ruri = r->m->ruri;
	r->fwd.t = t;
	r->fwd.nt = 1;
	r->fwd.failover = false;
	return 0;
}

int poolroute_set(struct hook_req *r)
{
	char uri[POOL_URI_MAX];
	int n = pool_uri(uri, sizeof(uri));

	if (n < 0)
		return -ENOENT;
	return set_to(r, uri, n);
}

int poolroute_set_uri(struct hook_req *r, const char *uri)
{
	size_t n = strlen(uri);

	if (!n || n > 1024)
		return -EINVAL;
	return set_to(r, uri, (int)n);
}
