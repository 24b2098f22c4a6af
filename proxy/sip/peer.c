/* proxy/sip/peer.c - where a message came from or goes: transport, address */
#include "proxy/sip/peer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>

const char *peer_proto_name(enum peer_proto proto)
{
	switch (proto) {
	case PEER_UDP:
		return "UDP";
	case PEER_TCP:
		return "TCP";
	}
	return "?";
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
