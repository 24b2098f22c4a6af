/* proxy/sip/peer.c - where a message came from or goes: transport, address */
#include "proxy/sip/peer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *peer_proto_name(enum peer_proto proto)
{
	switch (proto) {
	case PEER_UDP:
		return "UDP";
	case PEER_TCP:
		return "TCP";
	case PEER_TLS:
		return "TLS";
	case PEER_WS:
		return "WS";
	case PEER_WSS:
		return "WSS";
	}
	return "?";
}

int peer_addr_parse(const char *ip, uint16_t port, struct sockaddr_storage *ss,
		    socklen_t *lenp)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		*lenp = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*lenp = sizeof(*in6);
		return 0;
	}
	return -EINVAL;
}

/* "HOST:PORT" with a port of at least @p minport (decimal digits only). */
static int hostport(const char *s, long minport, struct sockaddr_storage *ss,
		    socklen_t *lenp)
{
	char host[64];
	const char *colon, *hs = s;
	size_t hl;
	char *end;
	long port;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		hs = s + 1;
		hl = (size_t)(close - hs);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return -EINVAL; /* IPv6 needs brackets */
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, hs, hl);
	host[hl] = '\0';
	/* strtol() would take " 5", "+5" and "-0". */
	if (colon[1] < '0' || colon[1] > '9')
		return -EINVAL;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || *end || port < minport || port > 65535)
		return -EINVAL;
	return peer_addr_parse(host, (uint16_t)port, ss, lenp);
}

int peer_hostport_parse(const char *s, struct sockaddr_storage *ss,
			socklen_t *lenp)
{
	return hostport(s, 1, ss, lenp);
}

int peer_hostport_parse_any(const char *s, struct sockaddr_storage *ss,
			    socklen_t *lenp)
{
	return hostport(s, 0, ss, lenp);
}

bool peer_addr_is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;

		return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;

		return IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
	}
	return false;
}

char *peer_addr_str(const struct sockaddr *sa, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN];

	if (!size)
		return buf;
	if (sa && sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		snprintf(buf, size, "%s:%u", ip, ntohs(in->sin_port));
	} else if (sa && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
		    (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, size, "[%s]:%u", ip, ntohs(in6->sin6_port));
	} else {
		snprintf(buf, size, "?");
	}
	return buf;
}
