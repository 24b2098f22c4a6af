/* proxy/core.c - what a shard does with one received message */
#include "proxy/core.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "proxy/base/arena.h"
#include "proxy/base/err.h"
#include "proxy/base/log.h"
#include "proxy/conf.h"
#include "proxy/sanity.h"
#include "proxy/shard.h"
#include "proxy/sip/msg.h"
#include "proxy/sip/reply.h"
#include "proxy/sip/uri.h"
#include "proxy/transport.h"

/* The methods sipedge handles (RFC 3261 §20.5), for Allow. */
static const char allow_line[] =
    "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, PRACK, UPDATE, INFO, "
    "REFER, SUBSCRIBE, NOTIFY, MESSAGE, REGISTER\r\n";
static const char accept_line[] = "Accept: application/sdp\r\n";

/*
 * Lines about invalid input, per shard thread: the network can trigger
 * them at packet rate. Thread-local, so each shard owns its own.
 */
static _Thread_local struct log_ratelimit bad_rl = { .burst = 10 };

/*
 * Add one to a shard counter: only this shard writes it, other threads
 * read it relaxed (proxy/shard.h), so a relaxed store is enough.
 */
static void count(uint64_t *p)
{
	__atomic_store_n(p, *p + 1, __ATOMIC_RELAXED);
}

/* @p host (an IP literal, brackets allowed) equals listen address @p l. */
static bool host_is_listen(struct slice host, const struct conf_listen *l)
{
	char tmp[64];
	unsigned char a[16], b[16];
	int fam;

	if (host.len >= 2 && host.p[0] == '[' && host.p[host.len - 1] == ']')
		host = slice_make(host.p + 1, host.len - 2);
	if (!l->address)
		return false;
	if (slice_caseeq_cstr(host, l->address))
		return true;
	if (host.len == 0 || host.len >= sizeof(tmp))
		return false;
	memcpy(tmp, host.p, host.len);
	tmp[host.len] = '\0';
	fam = memchr(tmp, ':', host.len) ? AF_INET6 : AF_INET;
	return inet_pton(fam, tmp, a) == 1 &&
	       inet_pton(fam, l->address, b) == 1 &&
	       memcmp(a, b, fam == AF_INET ? 4 : 16) == 0;
}

/* The R-URI host is a served domain or one of our listen addresses. */
static bool host_is_ours(const struct conf *c, const struct sipuri *u)
{
	struct slice h = u->host;

	if (h.len == 0)
		return false;
	if (conf_is_domain(c, h.p, h.len))
		return true;
	if (h.len >= 2 && h.p[0] == '[' &&
	    conf_is_domain(c, h.p + 1, h.len - 2))
		return true;
	for (unsigned i = 0; i < c->nlisten; i++)
		if (host_is_listen(h, &c->listen[i]) &&
		    (u->port == 0 || u->port == c->listen[i].port))
			return true;
	return false;
}

/*
 * What the core needs to know of the R-URI: whether it is a sip/sips
 * URI naming one of our domains or addresses (tel: and other schemes
 * have no domain to serve), and whether it has a user part.
 */
struct target {
	bool ours;
	bool has_user;
};

static struct target target_of(const struct conf *c, const struct sipmsg *m)
{
	struct target t = { false, false };
	struct sipuri u;

	if (uri_parse(m->ruri, &u) == 0 &&
	    (u.scheme == URI_SIP || u.scheme == URI_SIPS)) {
		t.ours = host_is_ours(c, &u);
		t.has_user = u.user.len > 0;
	}
	return t;
}

/* 200 to OPTIONS for us: Allow, Supported and Accept (RFC 3261 §11.2). */
static int options_extra(struct arena *a, struct slice *extrap)
{
	char sup[128];
	size_t len, o = 0;
	char *p;
	int n;

	n = sanity_supported_print(sup, sizeof(sup));
	if (n < 0)
		return n;
	len = sizeof(allow_line) - 1 + 11 + (size_t)n + 2 +
	      sizeof(accept_line) - 1;
	p = arena_alloc(a, len);
	if (!p)
		return -ENOMEM;
	memcpy(p + o, allow_line, sizeof(allow_line) - 1);
	o += sizeof(allow_line) - 1;
	memcpy(p + o, "Supported: ", 11);
	o += 11;
	memcpy(p + o, sup, (size_t)n);
	o += (size_t)n;
	memcpy(p + o, "\r\n", 2);
	o += 2;
	memcpy(p + o, accept_line, sizeof(accept_line) - 1);
	*extrap = slice_make(p, len);
	return 0;
}

/*
 * The answer to a valid request while sipedge has no transaction layer,
 * registrar or router yet. What a carrier engineer expects to see:
 *  - OPTIONS to the proxy itself: 200 with its capabilities;
 *  - CANCEL: no transaction can match it. A proxy would forward it
 *    statelessly (RFC 3261 §16.10), which needs the router; until then
 *    it is answered as a UAS does (§9.2): 481;
 *  - REGISTER to a served domain: 501 Not Implemented, not 403 or
 *    480: the registrar is a feature this build lacks, and a UA retries
 *    a 501 later rather than treating it as a credential problem;
 *  - any other request for a served domain (a user of ours, or the
 *    domain itself): 480 Temporarily Unavailable, as for a user who is
 *    not registered (RFC 3261 §21.4.18);
 *  - a foreign domain, tel: or another scheme: 404 "No Route" (the
 *    proxy does not forward yet; ERR_NO_ROUTE's status).
 */
static void route_decide(const struct sipmsg *m, struct target t,
			 struct core_verdict *v)
{
	v->action = CORE_REPLY;
	if (m->method == SIP_OPTIONS && t.ours && !t.has_user) {
		v->status = 200;
		v->reason = "OK";
	} else if (m->method == SIP_CANCEL) {
		v->status = 481;
		v->reason = "Call/Transaction Does Not Exist";
	} else if (t.ours && !t.has_user && m->method == SIP_METHOD_OTHER) {
		/* Addressed to the proxy itself, which acts as the UAS: a
		 * method it does not know is 501 (RFC 3261 §8.2.1). */
		v->status = 501;
		v->reason = "Not Implemented";
	} else if (t.ours && m->method == SIP_REGISTER) {
		v->status = 501;
		v->reason = "Not Implemented";
	} else if (t.ours) {
		v->status = 480;
		v->reason = "Temporarily Unavailable";
	} else {
		v->status = err_sip_status(ERR_NO_ROUTE);
		v->reason = "No Route";
	}
}

int core_decide(const struct conf *c, const struct sipmsg *m, int parsed,
		struct arena *a, struct core_verdict *vp)
{
	struct core_verdict v = { CORE_DROP, 0, NULL, { NULL, 0 }, false };
	struct sanity_verdict sv;
	struct target t;
	int err = 0;

	/* No transaction layer yet: every response is a stray. A response
	 * is never answered, and one whose top Via is not ours has nowhere
	 * to go (RFC 3261 §16.7 step 3, RFC 4475 §3.3.10). */
	if (!m->is_request) {
		v.invalid = parsed < 0;
		v.reason = parsed < 0 ? "malformed response" : "stray response";
		goto done;
	}
	/* An ACK gets no response (RFC 3261 §17), not even a malformed one:
	 * with no INVITE transaction, it matches nothing. */
	if (m->method == SIP_ACK ||
	    slice_eq(m->method_name, SLICE_LIT("ACK"))) {
		v.invalid = parsed < 0;
		v.reason = "ACK matches no transaction";
		goto done;
	}
	t = target_of(c, m);
	/* For the proxy itself: an R-URI without a user part naming us. */
	err = sanity_check(m, parsed, t.ours && !t.has_user, a, &sv);
	if (err)
		goto out;
	if (sv.status) {
		v.action = CORE_REPLY;
		v.status = sv.status;
		v.reason = sv.reason;
		v.extra = sv.extra;
		v.invalid = true;
	} else {
		route_decide(m, t, &v);
		if (v.status == 200) {
			err = options_extra(a, &v.extra);
			if (err)
				goto out;
		}
	}
	/* No Via or no CSeq: nowhere to send an answer, or nothing the
	 * client could match it with (proxy/sip/reply.h). */
	if (reply_check(m) < 0) {
		v.action = CORE_DROP;
		v.status = 0;
		v.extra = slice_make(NULL, 0);
		v.reason = "no response can be built (no usable Via or CSeq)";
		v.invalid = true;
	}
done:
	*vp = v;
out:
	return err;
}

/* Up to @p size - 1 bytes of @p s, anything unprintable as '?'. */
static const char *printable(struct slice s, char *buf, size_t size)
{
	size_t i;

	for (i = 0; i < s.len && i + 1 < size; i++)
		buf[i] = s.p[i] > ' ' && s.p[i] < 0x7f ? s.p[i] : '?';
	buf[i] = '\0';
	return buf;
}

static void log_bad(const struct tp_peer *from, const struct sipmsg *m,
		    const struct core_verdict *v)
{
	char addr[64], method[32];

	if (!log_enabled(LOG_NOTICE) || !log_ratelimit_ok(&bad_rl))
		return;
	tp_addr_str((const struct sockaddr *)&from->addr, addr, sizeof(addr));
	if (v->action == CORE_DROP)
		log_msg(LOG_NOTICE, "%s %s: dropped: %s",
			tp_proto_name(from->proto), addr, v->reason);
	else
		log_msg(LOG_NOTICE, "%s %s: invalid %s: %u %s",
			tp_proto_name(from->proto), addr,
			printable(m->method_name, method, sizeof(method)),
			v->status, v->reason);
}

void core_handle(struct shard *sh, const struct tp_peer *from, const char *buf,
		 size_t len)
{
	const struct conf *c = shard_conf(sh);
	struct arena *a = shard_arena(sh);
	struct shard_stats *st = shard_stats(sh);
	unsigned max = c->max_headers ? c->max_headers : 128;
	struct core_verdict v;
	struct reply_opts o;
	struct siphdr *hdrs;
	struct sipmsg m;
	struct slice out;
	struct tp_peer to;
	int parsed, err;

	err = -ENOMEM;
	hdrs = arena_alloc(a, max * sizeof(*hdrs));
	if (!hdrs)
		goto out;
	memset(&m, 0, sizeof(m));
	parsed = sipmsg_parse(&m, buf, len, hdrs, max,
			      from->proto == TP_TCP ? SIPMSG_STREAM : 0);
	if (parsed < 0)
		count(&st->parse_errors);
	err = core_decide(c, &m, parsed, a, &v);
	if (err)
		goto out;
	if (v.invalid)
		log_bad(from, &m, &v);
	if (v.action == CORE_DROP) {
		count(&st->dropped);
		if (!v.invalid && log_enabled(LOG_DEBUG))
			log_msg(LOG_DEBUG, "dropped: %s", v.reason);
		goto out;
	}
	memset(&o, 0, sizeof(o));
	o.status = v.status;
	o.reason = slice_cstr(v.reason);
	o.server = slice_cstr(c->server_name);
	o.extra = v.extra;
	err =
	    reply_build(&m, (const struct sockaddr *)&from->addr, &o, a, &out);
	if (err)
		goto out;
	to = *from;
	err = reply_dest(&m, (const struct sockaddr *)&from->addr,
			 from->proto == TP_TCP, &to.addr, &to.addrlen);
	if (err)
		goto out;
	err = tp_send(sh, &to, out.p, out.len);
out:
	if (err && log_enabled(LOG_INFO) && log_ratelimit_ok(&bad_rl))
		log_msg(LOG_INFO, "no answer sent: %s", err_str(err));
}
