/* proxy/mgmt/mgmt_conf.h - the management: section of the configuration */
#pragma once

#include <stdint.h>
#include <sys/socket.h>

#include "proxy/core/conf.h"

/** The most addresses management.listen takes. */
#define MGMT_MAX_LISTEN 4

/** One management listener: "127.0.0.1:5080", "[::1]:5080". */
struct mgmt_listen {
	char *text; /**< as written */
	struct sockaddr_storage addr;
	socklen_t addrlen;
};

/** management: the JSON-RPC and /metrics HTTP server (proxy/mgmt). */
struct mgmt_conf {
	struct mgmt_listen listen[MGMT_MAX_LISTEN];
	unsigned nlisten;	  /**< 0: no management server */
	char *token;		  /**< bearer token, or NULL (loopback only) */
	unsigned max_connections; /**< at once, per listener (64) */
	unsigned timeout_s;	  /**< idle HTTP connection (30) */
};

/** The section, for conf_section_add() (proxy/main.c). */
extern const struct conf_section mgmt_conf_section;

/**
 * The management settings of @p c. Without the section in the file:
 * listen on 127.0.0.1:5080, no token. When the section was not
 * registered (a conf made by hand): no listener. Thread: any.
 */
const struct mgmt_conf *mgmt_conf(const struct conf *c);

/**
 * Parse "HOST:PORT" (an IPv4 literal, or an IPv6 literal in brackets)
 * into @p ss. Returns 0, or -EINVAL. Thread: any.
 */
int mgmt_conf_addr_parse(const char *s, struct sockaddr_storage *ss,
			 socklen_t *lenp);
