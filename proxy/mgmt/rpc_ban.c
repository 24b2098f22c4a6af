/* proxy/mgmt/rpc_ban.c - ban.list and ban.remove */
#include "proxy/mgmt/rpc_ban.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "proxy/base/log.h"
#include "proxy/core/guard.h"
#include "proxy/mgmt/mgmt.h"
#include "proxy/mgmt/rpc.h"
#include "proxy/sip/peer.h"
#include "store/ban.h"

static const char *kind_name(enum ban_kind k)
{
	return k == BAN_AUTH ? "auth" : k == BAN_RATE ? "rate" : "other";
}

struct listing {
	json_t *bans;
	int64_t now_s;
	int kind; /* 0: every kind */
};

static bool add_one(const struct ban_info *b, void *arg)
{
	struct listing *l = arg;
	char addr[64];
	json_t *o;

	if (l->kind && (int)b->kind != l->kind)
		return true;
	peer_addr_str((const struct sockaddr *)&b->src, addr, sizeof(addr));
	/* Only the address: the port of a ban's key is always 0. */
	if (b->src.ss_family == AF_INET)
		inet_ntop(AF_INET,
			  &((const struct sockaddr_in *)&b->src)->sin_addr,
			  addr, sizeof(addr));
	else
		inet_ntop(AF_INET6,
			  &((const struct sockaddr_in6 *)&b->src)->sin6_addr,
			  addr, sizeof(addr));
	o = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I}", "kind", kind_name(b->kind),
		      "source", addr, "user", b->user, "reason", b->reason,
		      "seconds_left", (json_int_t)(b->until_s - l->now_s),
		      "failures", (json_int_t)b->failures);
	return o && json_array_append_new(l->bans, o) == 0;
}

/* The most rate bans (security:, proxy/core/guard.h) ban.list shows. */
#define RATE_BANS_MAX 4096

/* The rate limiter's bans (kind "rate"): in its own table, not in
 * store/ban. */
static bool add_rate_bans(json_t *bans)
{
	struct guard_ban *v = calloc(RATE_BANS_MAX, sizeof(*v));
	size_t n = v ? guard_list(v, RATE_BANS_MAX) : 0;
	bool ok = v != NULL;

	for (size_t i = 0; ok && i < n; i++) {
		char addr[INET6_ADDRSTRLEN];
		json_t *o;

		if (v[i].addr.ss_family == AF_INET)
			inet_ntop(
			    AF_INET,
			    &((const struct sockaddr_in *)&v[i].addr)->sin_addr,
			    addr, sizeof(addr));
		else
			inet_ntop(AF_INET6,
				  &((const struct sockaddr_in6 *)&v[i].addr)
				       ->sin6_addr,
				  addr, sizeof(addr));
		o = json_pack(
		    "{s:s,s:s,s:s,s:s,s:I,s:I,s:I}", "kind", "rate", "source",
		    addr, "user", "", "reason", "over security.rate",
		    "seconds_left", (json_int_t)v[i].remaining_s, "failures",
		    (json_int_t)0, "dropped", (json_int_t)v[i].dropped);
		ok = o && json_array_append_new(bans, o) == 0;
	}
	free(v);
	return ok;
}

static void ban_list_m(struct rpc_call *call, json_t *params, void *arg)
{
	static const char *const names[] = { "kind", NULL };
	struct listing l = { NULL, (int64_t)time(NULL), 0 };
	const char *kind = NULL;

	(void)arg;
	if (rpc_params_only(call, params, 0, names) ||
	    rpc_param_str(call, params, 9, "kind", false, &kind) < 0)
		return;
	if (kind) {
		if (!strcmp(kind, "auth")) {
			l.kind = BAN_AUTH;
		} else if (!strcmp(kind, "rate")) {
			l.kind = BAN_RATE;
		} else {
			rpc_error(call, RPC_INVALID_PARAMS,
				  "invalid params: kind is \"auth\" or "
				  "\"rate\"");
			return;
		}
	}
	l.bans = json_array();
	if (!l.bans) {
		rpc_error(call, RPC_INTERNAL_ERROR, "out of memory");
		return;
	}
	ban_foreach(l.now_s, add_one, &l);
	if ((!l.kind || l.kind == BAN_RATE) && !add_rate_bans(l.bans)) {
		json_decref(l.bans);
		rpc_error(call, RPC_INTERNAL_ERROR, "out of memory");
		return;
	}
	rpc_reply(call, json_pack("{s:I,s:o}", "count",
				  (json_int_t)json_array_size(l.bans), "bans",
				  l.bans));
}

/* @p text as an address (port 0); false when it is not one. */
static bool parse_addr(const char *text, struct sockaddr_storage *ss)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		return true;
	}
	return false;
}

static void ban_remove_m(struct rpc_call *call, json_t *params, void *arg)
{
	static const char *const names[] = { "source", "user", NULL };
	const char *src = NULL, *user = NULL;
	struct sockaddr_storage ss;
	struct slice u;
	char esc[256];
	int n;

	(void)arg;
	if (rpc_params_only(call, params, 2, names) ||
	    rpc_param_str(call, params, 0, "source", true, &src) < 0 ||
	    rpc_param_str(call, params, 1, "user", false, &user) < 0)
		return;
	if (!parse_addr(src, &ss)) {
		rpc_error(call, RPC_INVALID_PARAMS,
			  "invalid params: source is an IPv4 or IPv6 address");
		return;
	}
	if (user)
		u = slice_cstr(user);
	n = ban_remove((const struct sockaddr *)&ss, user ? &u : NULL);
	if (n < 0) {
		rpc_error(call, RPC_INTERNAL_ERROR, "ban.remove failed");
		return;
	}
	/* Without a user, the rate limiter's ban of the address too. */
	if (!user && guard_unban((const struct sockaddr *)&ss) == 0)
		n++;
	if (n == 0) {
		rpc_error(call, RPC_NOT_FOUND, "no ban or failure count for %s",
			  src);
		return;
	}
	log_escape(user ? user : "", user ? strlen(user) : 0, esc, sizeof(esc));
	log_msg(LOG_NOTICE, "ban: %s%s%s lifted by management (%d entries)",
		src, user ? " user " : "", esc, n);
	rpc_reply(call, json_pack("{s:i}", "removed", n));
}

int rpc_ban_add(struct rpc *r, struct mgmt_env *env)
{
	int err = rpc_method_add(r, "ban.list", ban_list_m, env);

	if (!err)
		err = rpc_method_add(r, "ban.remove", ban_remove_m, env);
	return err;
}
