/* proxy/core/ws.c - SIP over WebSocket (RFC 7118, RFC 6455): upgrade, frames */
#include "proxy/core/ws.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <nettle/base64.h>
#include <nettle/sha1.h>
#include <wslay/wslay.h>

struct ws_sess {
	wslay_event_context_ptr ctx;
	ws_out_fn *out;
	ws_msg_fn *msg;
	void *arg;
	bool open;
	bool in_recv; /* in wslay_event_recv(): sends only queue */
	int out_err;  /* the out callback's first error */
	/* The bytes ws_sess_feed() was given, for the recv callback. */
	const char *in;
	size_t inlen;
};

/* RFC 6455 §1.3. */
static const char GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

void ws_accept_key(const char *key, size_t keylen, char out[29])
{
	struct sha1_ctx sha;
	uint8_t d[SHA1_DIGEST_SIZE];

	sha1_init(&sha);
	sha1_update(&sha, keylen, (const uint8_t *)key);
	sha1_update(&sha, sizeof(GUID) - 1, (const uint8_t *)GUID);
	sha1_digest(&sha, sizeof(d), d);
	base64_encode_raw(out, sizeof(d), d);
	out[BASE64_ENCODE_RAW_LENGTH(SHA1_DIGEST_SIZE)] = '\0';
}

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
		       int flags, void *user)
{
	struct ws_sess *s = user;
	size_t k = s->inlen < len ? s->inlen : len;

	(void)flags;
	if (k == 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	memcpy(buf, s->in, k);
	s->in += k;
	s->inlen -= k;
	return (ssize_t)k;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data,
		       size_t len, int flags, void *user)
{
	struct ws_sess *s = user;
	int err;

	(void)flags;
	if (s->out_err) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	err = s->out(s->arg, (const char *)data, len);
	if (err) {
		s->out_err = err;
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return (ssize_t)len;
}

static void msg_cb(wslay_event_context_ptr ctx,
		   const struct wslay_event_on_msg_recv_arg *a, void *user)
{
	struct ws_sess *s = user;

	(void)ctx;
	/* Pings are answered and closes echoed by wslay itself. */
	if (a->opcode == WSLAY_TEXT_FRAME || a->opcode == WSLAY_BINARY_FRAME)
		s->msg(s->arg, (const char *)a->msg, a->msg_length);
}

int ws_sess_new(size_t max_msg, ws_out_fn *out, ws_msg_fn *msg, void *arg,
		struct ws_sess **sp)
{
	static const struct wslay_event_callbacks cbs = {
		.recv_callback = recv_cb,
		.send_callback = send_cb,
		.on_msg_recv_callback = msg_cb,
	};
	struct ws_sess *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	if (wslay_event_context_server_init(&s->ctx, &cbs, s)) {
		free(s);
		return -ENOMEM;
	}
	wslay_event_config_set_max_recv_msg_length(s->ctx, max_msg);
	s->out = out;
	s->msg = msg;
	s->arg = arg;
	*sp = s;
	return 0;
}

void ws_sess_free(struct ws_sess *s)
{
	if (!s)
		return;
	wslay_event_context_free(s->ctx);
	free(s);
}

bool ws_sess_is_open(const struct ws_sess *s)
{
	return s->open;
}

/* Token @tok in the comma-separated list @v (@n bytes), any case. */
static bool has_token(const char *v, size_t n, const char *tok)
{
	size_t tl = strlen(tok), i = 0;

	while (i < n) {
		size_t b, e;

		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		b = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > b && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - b == tl && strncasecmp(v + b, tok, tl) == 0)
			return true;
	}
	return false;
}

/* The parts of an upgrade request that matter. */
struct upgrade {
	bool get, upgrade, connection, proto_sip;
	const char *key, *version, *origin;
	size_t keylen, versionlen, originlen;
};

static bool is_name(const char *l, size_t k, const char *name)
{
	return strlen(name) == k && strncasecmp(l, name, k) == 0;
}

static void header(struct upgrade *u, const char *l, size_t n)
{
	const char *colon = memchr(l, ':', n);
	size_t k, vb;

	if (!colon)
		return;
	k = (size_t)(colon - l);
	vb = k + 1;
	while (vb < n && (l[vb] == ' ' || l[vb] == '\t'))
		vb++;
	while (n > vb && (l[n - 1] == ' ' || l[n - 1] == '\t'))
		n--;
	if (is_name(l, k, "Upgrade"))
		u->upgrade = has_token(l + vb, n - vb, "websocket");
	else if (is_name(l, k, "Connection"))
		u->connection = has_token(l + vb, n - vb, "upgrade");
	else if (is_name(l, k, "Sec-WebSocket-Protocol"))
		u->proto_sip |= has_token(l + vb, n - vb, "sip");
	else if (is_name(l, k, "Sec-WebSocket-Key")) {
		u->key = l + vb;
		u->keylen = n - vb;
	} else if (is_name(l, k, "Sec-WebSocket-Version")) {
		u->version = l + vb;
		u->versionlen = n - vb;
	} else if (is_name(l, k, "Origin")) {
		u->origin = l + vb;
		u->originlen = n - vb;
	}
}

static int answer(struct ws_sess *s, int status, const char *reason,
		  const char *extra)
{
	char buf[512];
	int k = snprintf(buf, sizeof(buf),
			 "HTTP/1.1 %d %s\r\n%sContent-Length: 0\r\n"
			 "Connection: close\r\n\r\n",
			 status, reason, extra);
	int err = s->out(s->arg, buf, (size_t)k);

	return err ? err : status;
}

static bool origin_ok(const struct upgrade *u, char *const *origins,
		      unsigned norigins)
{
	if (norigins == 0)
		return true;
	if (!u->origin)
		return false;
	for (unsigned i = 0; i < norigins; i++)
		if (strlen(origins[i]) == u->originlen &&
		    strncasecmp(origins[i], u->origin, u->originlen) == 0)
			return true;
	return false;
}

int ws_upgrade(struct ws_sess *s, const char *p, size_t n, char *const *origins,
	       unsigned norigins, size_t *usedp)
{
	struct upgrade u = { 0 };
	const char *end = NULL;
	char acc[29], hdrs[256];
	size_t i, len;
	int k, err;

	for (i = 0; i + 4 <= n && i + 4 <= WS_UPGRADE_MAX; i++) {
		if (memcmp(p + i, "\r\n\r\n", 4) == 0) {
			end = p + i + 4;
			break;
		}
	}
	if (!end) {
		if (n >= WS_UPGRADE_MAX)
			return answer(s, 400, "Request Too Long", "");
		return -EAGAIN;
	}
	len = (size_t)(end - p);
	/* RFC 6455 §4.2.1: GET, HTTP/1.1 or later. */
	u.get = len > 4 && memcmp(p, "GET ", 4) == 0;
	for (i = 0; i < len;) {
		const char *l = p + i, *e = memchr(l, '\n', len - i);
		size_t ll;

		if (!e)
			break;
		ll = (size_t)(e - l);
		if (ll && l[ll - 1] == '\r')
			ll--;
		if (i > 0 && ll)
			header(&u, l, ll);
		i += (size_t)(e - l) + 1;
	}
	if (!u.get || !u.upgrade || !u.connection || !u.key || u.keylen != 24)
		return answer(s, 400, "Not a WebSocket Upgrade", "");
	if (!u.version || u.versionlen != 2 || memcmp(u.version, "13", 2))
		return answer(s, 426, "Upgrade Required",
			      "Sec-WebSocket-Version: 13\r\n");
	/* RFC 7118 §4.1: the subprotocol is "sip". */
	if (!u.proto_sip)
		return answer(s, 400, "Sec-WebSocket-Protocol sip Required",
			      "");
	if (!origin_ok(&u, origins, norigins))
		return answer(s, 403, "Origin Not Allowed", "");
	ws_accept_key(u.key, u.keylen, acc);
	k = snprintf(hdrs, sizeof(hdrs),
		     "HTTP/1.1 101 Switching Protocols\r\n"
		     "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		     "Sec-WebSocket-Accept: %s\r\n"
		     "Sec-WebSocket-Protocol: sip\r\n\r\n",
		     acc);
	err = s->out(s->arg, hdrs, (size_t)k);
	if (err)
		return err;
	s->open = true;
	*usedp = len;
	return 0;
}

static int drive(struct ws_sess *s)
{
	int r = wslay_event_send(s->ctx);

	if (s->out_err)
		return s->out_err;
	if (r == WSLAY_ERR_NOMEM)
		return -ENOMEM;
	return 0;
}

int ws_sess_feed(struct ws_sess *s, const char *p, size_t n)
{
	int r;

	s->in = p;
	s->inlen = n;
	/* A message handed on may be answered at once (ws_sess_send()
	 * from the msg callback): queued, and sent below, so that wslay
	 * is never entered again from its own callback. */
	s->in_recv = true;
	r = wslay_event_recv(s->ctx);
	s->in_recv = false;
	s->in = NULL;
	s->inlen = 0;
	if (s->out_err)
		return s->out_err;
	if (r == WSLAY_ERR_NOMEM)
		return -ENOMEM;
	return drive(s);
}

int ws_sess_send(struct ws_sess *s, const char *p, size_t len)
{
	struct wslay_event_msg m = {
		.opcode = WSLAY_TEXT_FRAME,
		.msg = (const uint8_t *)p,
		.msg_length = len,
	};
	int r;

	if (!s->open || ws_sess_is_closed(s) || s->out_err)
		return -ENOTCONN;
	r = wslay_event_queue_msg(s->ctx, &m);
	if (r == WSLAY_ERR_NOMEM)
		return -ENOMEM;
	if (r)
		return -ENOTCONN;
	return s->in_recv ? 0 : drive(s);
}

bool ws_sess_is_closed(const struct ws_sess *s)
{
	return wslay_event_get_close_sent(s->ctx) != 0;
}

bool ws_sess_peer_closed(const struct ws_sess *s)
{
	return wslay_event_get_close_received(s->ctx) != 0;
}

unsigned ws_sess_close_code(const struct ws_sess *s)
{
	if (!wslay_event_get_close_sent(s->ctx))
		return 0;
	return wslay_event_get_status_code_sent(s->ctx);
}
