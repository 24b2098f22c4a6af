/* proxy/core/transport.c - sending on a shard's UDP and TCP transports */
#include "proxy/core/transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <unistd.h>

#include "proxy/base/err.h"
#include "proxy/base/log.h"
#include "proxy/core/shard_priv.h"
#include "proxy/core/tcp.h"
#include "proxy/core/trace.h"
#include "proxy/core/udp.h"
#include "store/alias.h"

void tp__trace(struct shard *sh, bool out, const struct peer *p,
	       const void *buf, size_t len)
{
	struct sockaddr_storage local;
	int err;

	if (!trace_is_on())
		return;
	if (peer_proto_is_stream(p->proto))
		err = tcp_conn_local(sh->tcp, p->conn_id, &local);
	else
		err = udp_local(sh->udp, p, &local);
	trace_msg(out, p, err ? NULL : (const struct sockaddr *)&local, buf,
		  len);
}

int tp_send(struct shard *sh, const struct peer *to, const void *buf,
	    size_t len)
{
	struct peer via;
	unsigned owner;
	int err;

	switch (to->proto) {
	case PEER_UDP:
		tp__trace(sh, true, to, buf, len);
		return udp_send(sh->udp, to, buf, len);
	case PEER_TCP:
	case PEER_TLS:
	case PEER_WS:
	case PEER_WSS:
		/* No connection named: an open connection of any shard
		 * whose remote end is the address (an alias: a UA's own
		 * connection, whatever port it names), else this shard's
		 * own to the address, opened if need be. A TLS hop found
		 * by name gets its own, verified for that name. */
		if (to->conn_id == 0 && !to->tls_name && sh->set->alias &&
		    (via.conn_id = alias_find(
			 sh->set->alias, (const struct sockaddr *)&to->addr))) {
			via.proto = to->proto;
			via.addr = to->addr;
			via.addrlen = to->addrlen;
			via.listen_idx = to->listen_idx;
			return tp_send(sh, &via, buf, len);
		}
		/* RFC 7118 §5: only the client opens a WebSocket. */
		if (to->conn_id == 0 && peer_proto_is_ws(to->proto))
			return -ENOTCONN;
		if (to->conn_id == 0) {
			via = *to;
			err = tcp_connect(sh->tcp, to, &via.conn_id);
			if (err)
				return err;
			tp__trace(sh, true, &via, buf, len);
			return tcp_send(sh->tcp, via.conn_id, buf, len);
		}
		owner = tcp_conn_shard(to->conn_id);
		if (owner == sh->id) {
			tp__trace(sh, true, to, buf, len);
			return tcp_send(sh->tcp, to->conn_id, buf, len);
		}
		if (owner >= sh->set->n)
			return -ENOTCONN;
		/* Gone (no open connection has its remote end any more):
		 * say so now, so that the caller can fall back (RFC 3261
		 * §18.2.2), instead of the owner dropping it later. (When
		 * another connection has that end too, e.g. two shards'
		 * to one trunk, the named one may well be alive: the
		 * owner sends it.) */
		if (sh->set->alias &&
		    !alias_find(sh->set->alias,
				(const struct sockaddr *)&to->addr))
			return -ENOTCONN;
		/* Traced by the owner, which knows the connection. */
		return shard__post_send(sh, owner, to, buf, len);
	}
	return -EINVAL;
}

uint64_t tp_conn_find(struct shard *sh, const struct sockaddr *sa)
{
	return sh->set->alias ? alias_find(sh->set->alias, sa) : 0;
}

int tp__bind(const struct sockaddr *sa, socklen_t salen, int type,
	     const char *what)
{
	char abuf[INET6_ADDRSTRLEN + 16];
	int fd = -1, one = 1, err;

	if (salen == 0)
		salen = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						  : sizeof(struct sockaddr_in);
	fd = socket(sa->sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	/* One socket per shard on the same address and port. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    (type == SOCK_STREAM &&
	     setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one))) ||
	    (sa->sa_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)))) {
		err = -errno;
		goto out;
	}
	if (bind(fd, sa, salen)) {
		err = -errno;
		goto out;
	}
	return fd;
out:
	log_msg(LOG_ERR, "%s %s: %s", what,
		peer_addr_str(sa, abuf, sizeof(abuf)), err_str(err));
	if (fd >= 0)
		close(fd);
	return err;
}

int tp__probe(const struct sockaddr *sa, socklen_t salen, int type,
	      const char *what)
{
	char abuf[INET6_ADDRSTRLEN + 16];
	int fd, one = 1, err = 0;

	if (salen == 0)
		salen = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						  : sizeof(struct sockaddr_in);
	fd = socket(sa->sa_family, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* SO_REUSEADDR only, so that TIME_WAIT leftovers of an earlier run
	 * do not count but a live listener does. */
	if ((type == SOCK_STREAM &&
	     setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one))) ||
	    (sa->sa_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))) ||
	    bind(fd, sa, salen))
		err = -errno;
	close(fd);
	if (err)
		log_msg(LOG_ERR, "%s %s: %s", what,
			peer_addr_str(sa, abuf, sizeof(abuf)),
			err == -EADDRINUSE ? "address already in use "
					     "(another sipedge running?)"
					   : err_str(err));
	return err;
}

int tp__free_port(const struct sockaddr *sa, socklen_t salen, int type,
		  const char *what)
{
	char abuf[INET6_ADDRSTRLEN + 16];
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd, err = 0, port = 0;

	if (salen == 0)
		salen = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						  : sizeof(struct sockaddr_in);
	fd = socket(sa->sa_family, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Without SO_REUSEPORT, the kernel picks a port nobody holds, not
	 * even a SO_REUSEPORT group of the same user, which a socket with
	 * the option could join. */
	if (bind(fd, sa, salen) ||
	    getsockname(fd, (struct sockaddr *)&ss, &len))
		err = -errno;
	else if (ss.ss_family == AF_INET6)
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	else
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	close(fd);
	if (!err && port == 0)
		err = -EADDRNOTAVAIL;
	if (err) {
		log_msg(LOG_ERR, "%s %s: %s", what,
			peer_addr_str(sa, abuf, sizeof(abuf)), err_str(err));
		return err;
	}
	return port;
}
