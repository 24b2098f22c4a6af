/* proxy/mgmt/rpc_location.c - location.lookup, location.dump and
 * location.delete methods */
#include "proxy/mgmt/rpc_location.h"

#include <errno.h>
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proxy/base/obj.h"
#include "proxy/base/slice.h"
#include "proxy/core/shard.h"
#include "proxy/mgmt/mgmt.h"
#include "proxy/mgmt/rpc.h"
#include "proxy/sip/msg.h"
#include "proxy/sip/peer.h"
#include "store/loc.h"
#include "store/rcu.h"

/* The default and the largest page of location.dump. */
#define DUMP_LIMIT 100

/* A cursor: 16 hex digits, the loc_cursor hash. */
#define CURSOR_LEN 16

/*
 * @p text as an AOR in the table's spelling (sipmsg_aor_print()) into
 * @p buf (SIPMSG_AOR_MAX). Returns the length, or a negative error.
 */
static int aor_norm(const char *text, char *buf)
{
	char uri[SIPMSG_AOR_MAX + 8];
	int n;

	if (!strncasecmp(text, "sip:", 4) || !strncasecmp(text, "sips:", 5))
		n = snprintf(uri, sizeof(uri), "%s", text);
	else
		n = snprintf(uri, sizeof(uri), "sip:%s", text);
	if (n < 0 || (size_t)n >= sizeof(uri))
		return -ENOSPC;
	return sipmsg_aor_print(slice_make(uri, (size_t)n), buf,
				SIPMSG_AOR_MAX);
}

/* The AOR parameter @p name at @p pos, normalized; -EINVAL: answered. */
static int param_aor(struct rpc_call *call, json_t *params, size_t pos,
		     char *buf, size_t *lenp)
{
	const char *text = NULL;
	int n;

	if (rpc_param_str(call, params, pos, "aor", true, &text) < 0)
		return -EINVAL;
	n = aor_norm(text, buf);
	if (n <= 0) {
		rpc_error(call, RPC_INVALID_PARAMS,
			  "invalid params: aor '%.64s' is not user@domain "
			  "or a sip: URI with a user",
			  text);
		return -EINVAL;
	}
	*lenp = (size_t)n;
	return 0;
}

static json_t *str_json(struct slice s)
{
	return json_stringn(s.p ? s.p : "", s.len);
}

static const char *proto_name(int proto)
{
	switch (proto) {
	case PEER_UDP:
		return "udp";
	case PEER_TCP:
		return "tcp";
	case PEER_TLS:
		return "tls";
	case PEER_WS:
		return "ws";
	case PEER_WSS:
		return "wss";
	default:
		return "?";
	}
}

/* One binding as JSON, or NULL (out of memory). */
static json_t *contact_json(const struct loc_contact *c, int64_t now_s)
{
	char src[INET6_ADDRSTRLEN + 16], addr[INET6_ADDRSTRLEN + 8];
	char at[32];
	struct tm tm;
	time_t t = (time_t)c->expires_s;
	json_t *o;

	gmtime_r(&t, &tm);
	strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (c->flow.addr.ss_family == AF_INET ||
	    c->flow.addr.ss_family == AF_INET6)
		snprintf(src, sizeof(src), "%s:%s", proto_name(c->flow.proto),
			 peer_addr_str((const struct sockaddr *)&c->flow.addr,
				       addr, sizeof(addr)));
	else
		snprintf(src, sizeof(src), "%s", "");
	o = json_pack("{s:o,s:I,s:s,s:f,s:s,s:o,s:o,s:I}", "contact",
		      str_json(c->uri), "expires",
		      (json_int_t)(c->expires_s - now_s), "expires_at", at, "q",
		      c->q / 1000.0, "source", src, "user_agent",
		      str_json(c->user_agent), "call_id", str_json(c->call_id),
		      "cseq", (json_int_t)c->cseq);
	if (!o)
		return NULL;
	if (c->path.len)
		json_object_set_new(o, "path", str_json(c->path));
	if (c->instance.len)
		json_object_set_new(o, "instance", str_json(c->instance));
	if (c->reg_id)
		json_object_set_new(o, "reg_id", json_integer(c->reg_id));
	if (c->flags & LOC_OB)
		json_object_set_new(o, "outbound", json_true());
	/* Behind NAT: reached at "source", not at the contact's host. */
	if (c->flags & LOC_NAT)
		json_object_set_new(o, "nat", json_true());
	return o;
}

/* {"aor", "contacts"} of the live bindings of @p s, or NULL when none
 * is live (or out of memory: *oomp). */
static json_t *set_json(const struct loc_set *s, int64_t now_s, bool *oomp)
{
	json_t *list = json_array(), *o;

	if (!list)
		goto oom;
	for (unsigned i = 0; i < s->n; i++) {
		if (s->c[i].expires_s <= now_s)
			continue;
		o = contact_json(&s->c[i], now_s);
		if (!o || json_array_append_new(list, o))
			goto oom;
	}
	if (!json_array_size(list)) {
		json_decref(list);
		return NULL;
	}
	o = json_pack("{s:o,s:o}", "aor", str_json(s->aor), "contacts", list);
	if (!o)
		*oomp = true;
	return o;
oom:
	json_decref(list);
	*oomp = true;
	return NULL;
}

static void lookup(struct rpc_call *call, json_t *params, void *arg)
{
	static const char *const names[] = { "aor", NULL };
	char aor[SIPMSG_AOR_MAX];
	const struct loc_set *s;
	bool oom = false;
	json_t *o = NULL;
	size_t len;

	(void)arg;
	if (rpc_params_only(call, params, 1, names) ||
	    param_aor(call, params, 0, aor, &len))
		return;
	/* A reference, to build the answer outside the read section. */
	urcu_memb_read_lock();
	s = loc_lookup_rcu(slice_make(aor, len));
	if (s && !obj_tryget((void *)s))
		s = NULL;
	urcu_memb_read_unlock();
	if (s)
		o = set_json(s, (int64_t)time(NULL), &oom);
	obj_put((void *)s);
	if (oom)
		rpc_error(call, RPC_INTERNAL_ERROR, "out of memory");
	else if (!o)
		rpc_error(call, RPC_NOT_FOUND, "not found: %.*s has no binding",
			  (int)len, aor);
	else
		rpc_reply(call, o);
}

static int cursor_parse(const char *text, struct loc_cursor *cp)
{
	unsigned long long v = 0;

	if (strlen(text) != CURSOR_LEN)
		return -EINVAL;
	for (unsigned i = 0; i < CURSOR_LEN; i++) {
		char ch = text[i];
		unsigned d;

		if (ch >= '0' && ch <= '9')
			d = (unsigned)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			d = (unsigned)(ch - 'a' + 10);
		else
			return -EINVAL;
		v = v << 4 | d;
	}
	cp->started = true;
	cp->hash = (unsigned long)v;
	return 0;
}

static void dump(struct rpc_call *call, json_t *params, void *arg)
{
	static const char *const names[] = { "domain", "cursor", "limit",
					     NULL };
	struct loc_cursor cur = { .started = false }, nx;
	const struct loc_set **v = NULL;
	const char *domain = "";
	json_t *cj = NULL, *list = NULL, *o;
	int64_t limit = DUMP_LIMIT, now_s = (int64_t)time(NULL);
	char text[CURSOR_LEN + 1];
	bool more, oom = false;
	size_t n = 0;
	int err;

	(void)arg;
	if (rpc_params_only(call, params, 3, names) ||
	    rpc_param_str(call, params, 0, "domain", false, &domain) < 0 ||
	    rpc_param_any(call, params, 1, "cursor", false, &cj) < 0 ||
	    rpc_param_int(call, params, 2, "limit", false, 1, LOC_PAGE_MAX,
			  &limit) < 0)
		return;
	if (cj && !json_is_null(cj) &&
	    (!json_is_string(cj) ||
	     cursor_parse(json_string_value(cj), &cur))) {
		rpc_error(call, RPC_INVALID_PARAMS,
			  "invalid params: cursor is not one location.dump "
			  "returned");
		return;
	}
	err = loc_get_page(cur, slice_cstr(domain), (unsigned)limit, &v, &n,
			   &nx, &more);
	if (err) {
		rpc_error(call, RPC_INTERNAL_ERROR, "out of memory");
		return;
	}
	list = json_array();
	oom = !list;
	for (size_t i = 0; i < n && !oom; i++) {
		o = set_json(v[i], now_s, &oom);
		if (o && json_array_append_new(list, o))
			oom = true;
	}
	loc_put_all(v, n);
	if (!oom && more)
		snprintf(text, sizeof(text), "%016llx",
			 (unsigned long long)nx.hash);
	o = oom ? NULL
		: json_pack("{s:O,s:o}", "bindings", list, "cursor",
			    more ? json_string(text) : json_null());
	json_decref(list);
	if (!o)
		rpc_error(call, RPC_INTERNAL_ERROR, "out of memory");
	else
		rpc_reply(call, o);
}

/* A location.delete on its way to the AOR's shard. */
struct del {
	struct rpc_call *call;
	char *contact; /* NULL: every binding */
	size_t len;
	char aor[SIPMSG_AOR_MAX];
};

static void del_free(struct del *d)
{
	if (d)
		free(d->contact);
	free(d);
}

/* On the AOR's shard (any shard would do: the change is a
 * compare-and-swap, read again when a REGISTER on another shard changed
 * the AOR meanwhile, store/loc.h loc_publish_cas()). */
static void del_run(struct shard *sh, void *arg)
{
	struct del *d = arg;
	struct slice aor = slice_make(d->aor, d->len);
	struct loc_contact *v = NULL;
	const struct loc_set *s = NULL;
	int64_t now_s = (int64_t)time(NULL);
	unsigned n = 0, removed = 0, tries = 0;
	int err;

	if (!sh) {
		rpc_error(d->call, RPC_STOPPING, "sipedge is stopping");
		del_free(d);
		return;
	}
again:
	urcu_memb_read_lock();
	s = loc_lookup_rcu(aor);
	if (s && !obj_tryget((void *)s))
		s = NULL;
	urcu_memb_read_unlock();
	if (s && s->n && !(v = calloc(s->n, sizeof(*v)))) {
		rpc_error(d->call, RPC_INTERNAL_ERROR, "out of memory");
		goto out;
	}
	for (unsigned i = 0; s && i < s->n; i++) {
		const struct loc_contact *c = &s->c[i];

		if (c->expires_s <= now_s)
			continue;
		if (!d->contact || slice_eq(c->uri, slice_cstr(d->contact)))
			removed++;
		else
			v[n++] = *c;
	}
	if (!removed) {
		rpc_error(d->call, RPC_NOT_FOUND,
			  "not found: %.*s has no binding%s%s", (int)d->len,
			  d->aor, d->contact ? " " : "",
			  d->contact ? d->contact : "");
		goto out;
	}
	err = loc_publish_cas(aor, s, v, n);
	if (err == -EAGAIN && ++tries < LOC_CAS_TRIES) {
		free(v);
		v = NULL;
		obj_put((void *)s);
		s = NULL;
		n = removed = 0;
		goto again;
	}
	if (err) {
		rpc_error(d->call, RPC_INTERNAL_ERROR, "%s",
			  err == -ENOMEM   ? "out of memory"
			  : err == -EAGAIN ? "busy: the AOR keeps changing"
					   : "cannot publish");
		goto out;
	}
	rpc_reply(d->call,
		  json_pack("{s:s%,s:I,s:I}", "aor", d->aor, d->len, "removed",
			    (json_int_t)removed, "left", (json_int_t)n));
out:
	free(v);
	obj_put((void *)s);
	del_free(d);
}

static void del(struct rpc_call *call, json_t *params, void *arg)
{
	static const char *const names[] = { "aor", "contact", NULL };
	const struct mgmt_env *env = arg;
	const char *contact = NULL;
	struct del *d = NULL;
	unsigned owner;
	int err;

	if (rpc_params_only(call, params, 2, names))
		return;
	d = calloc(1, sizeof(*d));
	if (!d) {
		rpc_error(call, RPC_INTERNAL_ERROR, "out of memory");
		return;
	}
	if (param_aor(call, params, 0, d->aor, &d->len) ||
	    rpc_param_str(call, params, 1, "contact", false, &contact) < 0)
		goto out;
	if (contact) {
		/* "<sip:...>" as a Contact header writes it, or bare. */
		size_t cl = strlen(contact);

		if (cl >= 2 && contact[0] == '<' && contact[cl - 1] == '>') {
			contact++;
			cl -= 2;
		}
		d->contact = strndup(contact, cl);
		if (!d->contact) {
			rpc_error(call, RPC_INTERNAL_ERROR, "out of memory");
			goto out;
		}
	}
	if (!env->shards) {
		rpc_error(call, RPC_STOPPING, "sipedge is stopping");
		goto out;
	}
	d->call = call;
	owner =
	    shard_owner(slice_make(d->aor, d->len), shards_count(env->shards));
	err = shard_post(env->shards, owner, del_run, d);
	if (!err)
		return; /* del_run() answers and frees */
	if (err == -ENOBUFS)
		rpc_error(call, RPC_BUSY, "busy: shard %u is overloaded",
			  owner);
	else
		rpc_error(call, RPC_INTERNAL_ERROR, "cannot reach shard %u",
			  owner);
out:
	del_free(d);
}

int rpc_location_add(struct rpc *r, struct mgmt_env *env)
{
	int err = rpc_method_add(r, "location.lookup", lookup, env);

	if (!err)
		err = rpc_method_add(r, "location.dump", dump, env);
	if (!err)
		err = rpc_method_add(r, "location.delete", del, env);
	return err;
}
