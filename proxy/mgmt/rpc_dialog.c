/* proxy/mgmt/rpc_dialog.c - dialog.list, dialog.get and dialog.end methods */
#include "proxy/mgmt/rpc_dialog.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/base/err.h"
#include "proxy/base/hex.h"
#include "proxy/core/shard.h"
#include "proxy/hangup.h"
#include "proxy/mgmt/mgmt.h"
#include "proxy/mgmt/rpc.h"
#include "proxy/pipeline.h"
#include "proxy/sip/peer.h"
#include "store/dlg.h"
#include "store/rcu.h"

#define LIST_LIMIT     100
#define LIST_LIMIT_MAX 1000
/* A cursor holds a Call-ID and two tags, hex: bounded by this. */
#define CURSOR_MAX 8192

/* A JSON string of @p s; bytes that are not UTF-8 become '?' (a
 * Call-ID is bytes; jansson takes only UTF-8). */
static json_t *jstr(struct slice s)
{
	json_t *j = json_stringn(s.p ? s.p : "", s.len);
	char *copy;

	if (j || !s.len)
		return j;
	copy = malloc(s.len);
	if (!copy)
		return NULL;
	for (size_t i = 0; i < s.len; i++)
		copy[i] = (unsigned char)s.p[i] < 0x80 ? s.p[i] : '?';
	j = json_stringn(copy, s.len);
	free(copy);
	return j;
}

/* @p id for an error message: at most 64 bytes, printable ASCII (a
 * message must stay UTF-8 when it is cut). */
static const char *shown(const char *id, char *buf, size_t size)
{
	size_t i;

	for (i = 0; id[i] && i + 1 < size && i < 64; i++)
		buf[i] = id[i] > ' ' && id[i] < 0x7f ? id[i] : '?';
	buf[i] = '\0';
	return buf;
}

static int64_t age_s(int64_t since_ms, int64_t now_ms)
{
	return since_ms && now_ms > since_ms ? (now_ms - since_ms) / 1000 : 0;
}

static json_t *dialog_brief(const struct dlg *d, int64_t now_ms)
{
	return json_pack("{s:o?,s:o?,s:o?,s:s,s:I,s:I}", "call_id",
			 jstr(d->call_id), "caller", jstr(d->caller), "callee",
			 jstr(d->callee), "state", dlg_state_name(d->state),
			 "age_s", (json_int_t)age_s(d->created_ms, now_ms),
			 "owner", (json_int_t)d->owner);
}

static json_t *ua_json(const struct dlg_ua *u)
{
	char addr[80];

	if (u->hop.addr.sa.sa_family != AF_UNSPEC)
		peer_addr_str(&u->hop.addr.sa, addr, sizeof(addr));
	else
		addr[0] = '\0';
	return json_pack(
	    "{s:o?,s:o?,s:I,s:s,s:s}", "contact", jstr(u->contact), "route",
	    jstr(u->route), "cseq", (json_int_t)u->cseq, "transport",
	    peer_proto_name((enum peer_proto)u->hop.proto), "address", addr);
}

static json_t *dialog_full(const struct dlg *d, int64_t now_ms)
{
	return json_pack(
	    "{s:o?,s:o?,s:o?,s:o?,s:o?,s:s,s:I,s:I,s:I,s:o?,s:o?}", "call_id",
	    jstr(d->call_id), "caller", jstr(d->caller), "callee",
	    jstr(d->callee), "caller_tag", jstr(d->caller_tag), "callee_tag",
	    jstr(d->callee_tag), "state", dlg_state_name(d->state), "age_s",
	    (json_int_t)age_s(d->created_ms, now_ms), "state_s",
	    (json_int_t)age_s(d->changed_ms, now_ms), "owner",
	    (json_int_t)d->owner, "caller_ua", ua_json(&d->ua[DLG_CALLER]),
	    "callee_ua", ua_json(&d->ua[DLG_CALLEE]));
}

/* dialog.list */

/* The opaque cursor: hex of Call-ID NUL caller-tag NUL callee-tag. */
static char *cursor_print(const struct dlg *d)
{
	size_t len = d->call_id.len + d->caller_tag.len + d->callee_tag.len + 2;
	char *raw = malloc(len), *hex = malloc(2 * len + 1);

	if (raw && hex) {
		memcpy(raw, d->call_id.p, d->call_id.len);
		raw[d->call_id.len] = '\0';
		memcpy(raw + d->call_id.len + 1, d->caller_tag.p,
		       d->caller_tag.len);
		raw[d->call_id.len + 1 + d->caller_tag.len] = '\0';
		memcpy(raw + d->call_id.len + d->caller_tag.len + 2,
		       d->callee_tag.p, d->callee_tag.len);
		hex_print(raw, len, hex);
	} else {
		free(hex);
		hex = NULL;
	}
	free(raw);
	return hex;
}

/* Read @p text into @p raw (CURSOR_MAX / 2 bytes) and *@p p (slices into
 * @p raw). Returns 0 or -EINVAL. */
static int cursor_parse(const char *text, uint8_t *raw, struct dlg_key *p)
{
	size_t len = strlen(text), n, i, z[2], k = 0;

	if (!len || len % 2 || len > CURSOR_MAX)
		return -EINVAL;
	n = len / 2;
	if (hex_parse(slice_make(text, len), raw, n))
		return -EINVAL;
	for (i = 0; i < n && k < 2; i++)
		if (!raw[i])
			z[k++] = i;
	/* Exactly two NULs, and non-empty parts. */
	if (k != 2 || memchr(raw + z[1] + 1, 0, n - z[1] - 1) || !z[0] ||
	    z[1] == z[0] + 1 || z[1] + 1 == n)
		return -EINVAL;
	p->call_id = slice_make((const char *)raw, z[0]);
	p->caller_tag =
	    slice_make((const char *)raw + z[0] + 1, z[1] - z[0] - 1);
	p->callee_tag = slice_make((const char *)raw + z[1] + 1, n - z[1] - 1);
	return 0;
}

static void dialog_list(struct rpc_call *call, json_t *params, void *arg)
{
	static const char *const names[] = { "cursor", "limit", NULL };
	int64_t limit = LIST_LIMIT, now = dlg_now_ms();
	json_t *cur = NULL, *list = NULL, *next = NULL;
	const struct dlg_key *from = NULL;
	const struct dlg **v = NULL;
	struct dlg_key after;
	uint8_t *raw = NULL;
	char *text = NULL;
	bool more = false;
	size_t n;

	(void)arg;
	if (rpc_params_only(call, params, 2, names) ||
	    rpc_param_any(call, params, 0, "cursor", false, &cur) < 0 ||
	    rpc_param_int(call, params, 1, "limit", false, 1, LIST_LIMIT_MAX,
			  &limit) < 0)
		return;
	if (cur && !json_is_null(cur)) {
		raw = malloc(CURSOR_MAX / 2);
		if (!raw) {
			rpc_error(call, RPC_INTERNAL_ERROR, "out of memory");
			return;
		}
		if (!json_is_string(cur) ||
		    cursor_parse(json_string_value(cur), raw, &after)) {
			free(raw);
			rpc_error(call, RPC_INVALID_PARAMS,
				  "invalid params: cursor is not one "
				  "dialog.list returned");
			return;
		}
		from = &after;
	}
	v = malloc((size_t)limit * sizeof(*v));
	list = json_array();
	if (!v || !list) {
		free(v);
		free(raw);
		json_decref(list);
		rpc_error(call, RPC_INTERNAL_ERROR, "out of memory");
		return;
	}
	urcu_memb_read_lock();
	n = dlg_page_rcu(from, v, (size_t)limit, &more);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, dialog_brief(v[i], now));
	if (more)
		text = cursor_print(v[n - 1]);
	urcu_memb_read_unlock();
	free(v);
	free(raw);
	if (more && !text) {
		json_decref(list);
		rpc_error(call, RPC_INTERNAL_ERROR, "out of memory");
		return;
	}
	next = text ? json_string(text) : json_null();
	free(text);
	rpc_reply(call, json_pack("{s:o,s:o}", "dialogs", list, "cursor",
				  next ? next : json_null()));
}

/* dialog.get */

struct get_ctx {
	json_t *list;
	int64_t now;
};

static void get_visit(const struct dlg *d, void *arg)
{
	struct get_ctx *x = arg;

	json_array_append_new(x->list, dialog_full(d, x->now));
}

static int param_call_id(struct rpc_call *call, json_t *params,
			 const char **idp)
{
	static const char *const names[] = { "call_id", NULL };

	if (rpc_params_only(call, params, 1, names) ||
	    rpc_param_str(call, params, 0, "call_id", true, idp) < 0)
		return -EINVAL;
	if (!**idp) {
		rpc_error(call, RPC_INVALID_PARAMS,
			  "invalid params: call_id is empty");
		return -EINVAL;
	}
	return 0;
}

static void dialog_get(struct rpc_call *call, json_t *params, void *arg)
{
	struct get_ctx x = { json_array(), dlg_now_ms() };
	const char *id = NULL;
	char sh[72];

	(void)arg;
	if (param_call_id(call, params, &id) < 0 || !x.list) {
		if (id && !x.list)
			rpc_error(call, RPC_INTERNAL_ERROR, "out of memory");
		json_decref(x.list);
		return;
	}
	urcu_memb_read_lock();
	dlg_foreach_call_rcu(slice_cstr(id), get_visit, &x);
	urcu_memb_read_unlock();
	if (!json_array_size(x.list)) {
		json_decref(x.list);
		rpc_error(call, RPC_NOT_FOUND, "no dialog with Call-ID %s",
			  shown(id, sh, sizeof(sh)));
		return;
	}
	rpc_reply(call, json_pack("{s:o}", "dialogs", x.list));
}

/* dialog.end: the call goes to the owner shard and comes back. */

struct end_job {
	struct rpc_call *call;
	size_t len;
	char call_id[];
};

static void end_done(void *arg, int err, const struct hangup_result *res)
{
	struct end_job *j = arg;
	json_t *legs = json_array(), *out;
	char sh[72];

	if (err) {
		json_decref(legs);
		rpc_error(j->call, RPC_STOPPING,
			  "sipedge is stopping: the BYEs of %s went "
			  "unanswered",
			  shown(j->call_id, sh, sizeof(sh)));
		free(j);
		return;
	}
	for (unsigned i = 0; legs && i < res->n; i++)
		json_array_append_new(
		    legs,
		    json_pack("{s:o?,s:o?,s:I,s:I}", "caller_tag",
			      jstr(res->leg[i].caller_tag), "callee_tag",
			      jstr(res->leg[i].callee_tag), "caller",
			      (json_int_t)res->leg[i].status[DLG_CALLER],
			      "callee",
			      (json_int_t)res->leg[i].status[DLG_CALLEE]));
	out = json_pack("{s:o?,s:I,s:I,s:o?}", "call_id", jstr(res->call_id),
			"caller", (json_int_t)res->leg[0].status[DLG_CALLER],
			"callee", (json_int_t)res->leg[0].status[DLG_CALLEE],
			"dialogs", legs);
	if (out)
		rpc_reply(j->call, out);
	else
		rpc_error(j->call, RPC_INTERNAL_ERROR, "out of memory");
	free(j);
}

static void end_run(struct shard *sh, void *arg)
{
	struct end_job *j = arg;
	struct hangup *h = sh ? pipeline_hangup(sh) : NULL;
	char id[72];
	int err;

	if (!sh) {
		rpc_error(j->call, RPC_STOPPING, "sipedge is stopping");
		free(j);
		return;
	}
	err = h ? hangup_start(h, slice_make(j->call_id, j->len), end_done, j)
		: -ENOSYS;
	if (!err)
		return;
	shown(j->call_id, id, sizeof(id));
	switch (err) {
	case -ENOENT:
		rpc_error(j->call, RPC_NOT_FOUND, "no dialog with Call-ID %s",
			  id);
		break;
	case -EBUSY:
		rpc_error(j->call, RPC_REFUSED,
			  "dialog %s is early (not answered yet): "
			  "dialog.end ends confirmed dialogs; the caller "
			  "cancels an early one",
			  id);
		break;
	case -EALREADY:
		rpc_error(j->call, RPC_REFUSED, "dialog %s is already ending",
			  id);
		break;
	case -ENOSYS:
		rpc_error(j->call, RPC_UNAVAILABLE,
			  "this shard keeps no dialogs");
		break;
	default:
		rpc_error(j->call, RPC_INTERNAL_ERROR,
			  "dialog %s: no BYE could be sent: %s", id,
			  err_str(err));
		break;
	}
	free(j);
}

static void dialog_end(struct rpc_call *call, json_t *params, void *arg)
{
	const struct mgmt_env *env = arg;
	const char *id = NULL;
	struct end_job *j;
	size_t len;
	int err;

	if (param_call_id(call, params, &id) < 0)
		return;
	if (!env->shards) {
		rpc_error(call, RPC_STOPPING, "sipedge is stopping");
		return;
	}
	len = strlen(id);
	j = malloc(sizeof(*j) + len + 1);
	if (!j) {
		rpc_error(call, RPC_INTERNAL_ERROR, "out of memory");
		return;
	}
	j->call = call;
	j->len = len;
	memcpy(j->call_id, id, len + 1);
	err = shard_post(
	    env->shards,
	    shard_owner(slice_make(id, len), shards_count(env->shards)),
	    end_run, j);
	if (err) {
		rpc_error(call, err == -ENOBUFS ? RPC_BUSY : RPC_INTERNAL_ERROR,
			  "the owner shard cannot take it: %s", err_str(err));
		free(j);
	}
}

int rpc_dialog_add(struct rpc *r, struct mgmt_env *env)
{
	int err = rpc_method_add(r, "dialog.list", dialog_list, env);

	if (!err)
		err = rpc_method_add(r, "dialog.get", dialog_get, env);
	if (!err)
		err = rpc_method_add(r, "dialog.end", dialog_end, env);
	return err;
}
