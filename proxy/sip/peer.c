/* proxy/sip/peer.c - where a message came from or goes: transport, address */
#include "proxy/sip/peer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
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

/* The names of named TLS hops: an append-only array (readers load a
 * slot that was stored before its id was handed out) and an open
 * hash of ids for the writers, under the mutex. */
#define NAME_SLOTS (PEER_NAMES_MAX * 2)

static pthread_mutex_t names_mu = PTHREAD_MUTEX_INITIALIZER;
static char *names[PEER_NAMES_MAX + 1]; /* [0] unused */
static uint32_t nnames;
static uint32_t name_slot[NAME_SLOTS]; /* ids; 0: free */

uint32_t peer_name_intern(const char *name, size_t len)
{
	char low[PEER_NAME_LEN + 1];
	uint32_t h = 2166136261u, id = 0;
	size_t i;

	if (!len || len > PEER_NAME_LEN)
		return 0;
	for (i = 0; i < len; i++) {
		low[i] = (char)tolower((unsigned char)name[i]);
		h = (h ^ (unsigned char)low[i]) * 16777619u;
	}
	low[len] = '\0';
	pthread_mutex_lock(&names_mu);
	/* Bounded: the table is never more than half full. */
	for (i = h % NAME_SLOTS;; i = (i + 1) % NAME_SLOTS) {
		uint32_t s = name_slot[i];

		if (s && strcmp(names[s], low) == 0) {
			id = s;
			break;
		}
		if (!s) {
			char *copy;

			if (nnames >= PEER_NAMES_MAX || !(copy = strdup(low)))
				break;
			id = nnames + 1;
			__atomic_store_n(&names[id], copy, __ATOMIC_RELEASE);
			nnames = id;
			name_slot[i] = id;
			break;
		}
	}
	pthread_mutex_unlock(&names_mu);
	return id;
}

const char *peer_name_get(uint32_t id)
{
	if (!id || id > PEER_NAMES_MAX)
		return NULL;
	return __atomic_load_n(&names[id], __ATOMIC_ACQUIRE);
}
