/* proxy/route.c - RFC 3261 §16 proxy behaviour: targets, forking, responses */
#include "proxy/route.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <nettle/hmac.h>
#include <nettle/memops.h>

#include "proxy/base/arena.h"
#include "proxy/base/err.h"
#include "proxy/base/fmt.h"
#include "proxy/base/hash.h"
#include "proxy/base/hex.h"
#include "proxy/base/log.h"
#include "proxy/base/stats.h"
#include "proxy/base/obj.h"
#include "proxy/core/conf.h"
#include "proxy/hook.h"
#include "proxy/nat.h"
#include "proxy/nat_conf.h"
#include "proxy/proxy_conf.h"
#include "proxy/topoh.h"
#include "proxy/sip/digest.h"
#include "proxy/sip/edit.h"
#include "proxy/sip/hdr.h"
#include "proxy/sip/msg.h"
#include "proxy/sip/peer.h"
#include "proxy/sip/reply.h"
#include "proxy/sip/uri.h"
#include "proxy/base/timer.h"
#include "proxy/sip/txn.h"
#include "store/dlg.h"
#include "store/loc.h"
#include "store/rcu.h"

/* Route values one request may carry that are looked at. */
#define MAX_ROUTES 32
#define LOOP_SEED  0x100bULL

/* Matching and targets, without side effects. */

/* @p host:@p port (0: none given) is one of our listen addresses. */
static bool addr_is_ours(const struct conf *c, struct slice host, uint16_t port)
{
	for (unsigned i = 0; i < c->nlisten; i++)
		if (conf_host_is_address(host, c->listen[i].address) &&
		    (port == c->listen[i].port ||
		     (port == 0 && c->listen[i].port == 5060)))
			return true;
	return false;
}

bool route_uri_is_ours(const struct conf *c, const struct sipuri *u)
{
	struct slice h = u->host;

	bool port_ok = u->port == 0;

	if (h.len == 0 || (u->scheme != URI_SIP && u->scheme != URI_SIPS))
		return false;
	for (unsigned i = 0; i < c->nlisten && !port_ok; i++)
		port_ok = u->port == c->listen[i].port;
	/* A served domain that is an IP address is us only on our ports:
	 * sip:bob@127.0.0.1:5090 is another UA on this host. */
	if ((port_ok || (!u->host_is_ipv4 && !u->host_is_ipv6)) &&
	    (conf_is_domain(c, h.p, h.len) ||
	     (h.len >= 2 && h.p[0] == '[' &&
	      conf_is_domain(c, h.p + 1, h.len - 2))))
		return true;
	return conf_is_listen_host(c, h, u->port);
}

static int host_addr(struct slice host, uint16_t port,
		     struct sockaddr_storage *ss, socklen_t *lenp)
{
	char tmp[64];

	if (host.len >= 2 && host.p[0] == '[' && host.p[host.len - 1] == ']')
		host = slice_make(host.p + 1, host.len - 2);
	if (host.len == 0 || host.len >= sizeof(tmp))
		return -EDESTADDRREQ;
	memcpy(tmp, host.p, host.len);
	tmp[host.len] = '\0';
	return peer_addr_parse(tmp, port, ss, lenp) ? -EDESTADDRREQ : 0;
}

static int uri_dest(const struct sipuri *u, struct peer *d)
{
	struct slice v;
	int r;

	bool sips = u->scheme == URI_SIPS;

	if (u->scheme != URI_SIP && !sips)
		return -EBADMSG;
	memset(d, 0, sizeof(*d));
	/* RFC 3261 §26.2.2: sips: is reached over TLS; so is
	 * ;transport=tls (and sips:...;transport=tcp, TLS over TCP). */
	d->proto = sips ? PEER_TLS : PEER_UDP;
	r = uri_param(u, "transport", &v);
	if (r > 0) {
		if (slice_caseeq_cstr(v, "tls"))
			d->proto = PEER_TLS;
		else if (slice_caseeq_cstr(v, "tcp"))
			d->proto = sips ? PEER_TLS : PEER_TCP;
		else if (!slice_caseeq_cstr(v, "udp") || sips)
			return -EPROTONOSUPPORT;
	}
	/* RFC 3261 §19.1.2: 5061 is TLS's default port. */
	return host_addr(u->host,
			 u->port		? u->port
			 : d->proto == PEER_TLS ? 5061
						: 5060,
			 &d->addr, &d->addrlen);
}

int route_uri_dest(struct slice uri, struct peer *destp)
{
	struct sipuri u;

	if (uri_parse(uri, &u) < 0)
		return -EBADMSG;
	return uri_dest(&u, destp);
}

/* The URI of Route / Record-Route value @p v, parsed; -EBADMSG. */
static int value_uri(struct slice v, struct slice *urip, struct sipuri *up)
{
	struct nameaddr na;

	if (nameaddr_parse(v, &na) < 0 || uri_parse(na.uri, up) < 0)
		return -EBADMSG;
	*urip = na.uri;
	return 0;
}

/* Every value of header @p id of @p m, in order. Returns the count or
 * -EBADMSG. */
static int hdr_values(const struct sipmsg *m, enum hdr_id id, struct slice *v,
		      unsigned max)
{
	const struct siphdr *h;
	struct slice rest, e;
	unsigned n = 0;
	int r;

	for (h = sipmsg_hdr(m, id); h; h = sipmsg_hdr_next(m, h)) {
		rest = h->value;
		while ((r = hdr_split_next(&rest, &e)) > 0) {
			if (n == max)
				return -EBADMSG;
			v[n++] = e;
		}
		if (r < 0)
			return -EBADMSG;
	}
	return (int)n;
}

/* Every Route value of @p m, in order. Returns the count or -EBADMSG. */
static int route_values(const struct sipmsg *m, struct slice *v, unsigned max)
{
	return hdr_values(m, HDR_ROUTE, v, max);
}

static char *dup_arena(struct arena *a, struct slice s)
{
	char *p = arena_alloc(a, s.len ? s.len : 1);

	if (p && s.len)
		memcpy(p, s.p, s.len);
	return p;
}

static void plan_reply(struct route_plan *p, unsigned status,
		       const char *reason)
{
	p->status = status;
	p->reason = reason;
	p->ntargets = 0;
}

/* Sort contacts by q, highest first, keeping their order otherwise. */
static void sort_by_q(struct route_target *t, unsigned n)
{
	for (unsigned i = 1; i < n; i++) {
		struct route_target x = t[i];
		unsigned k = i;

		while (k > 0 && t[k - 1].q < x.q) {
			t[k] = t[k - 1];
			k--;
		}
		t[k] = x;
	}
}

/* Where binding @p c is reached: its flow (TCP, or a UA behind NAT:
 * the address its REGISTER came from, proxy/nat.h), else its URI. */
static int contact_dest(const struct loc_contact *c, struct peer *d)
{
	if ((peer_proto_is_stream((enum peer_proto)c->flow.proto) &&
	     c->flow.conn_id) ||
	    ((c->flags & LOC_NAT) && c->flow.proto == PEER_UDP &&
	     c->flow.addr.ss_family != AF_UNSPEC && !c->path.len)) {
		/* The connection the REGISTER came over. */
		memset(d, 0, sizeof(*d));
		d->proto = (enum peer_proto)c->flow.proto;
		d->conn_id = c->flow.conn_id;
		d->addr = c->flow.addr;
		d->addrlen = c->flow.addr.ss_family == AF_INET6
				 ? sizeof(struct sockaddr_in6)
				 : sizeof(struct sockaddr_in);
		d->listen_idx = c->flow.listen_idx;
		return 0;
	}
	return route_uri_dest(c->uri, d);
}

/* Targets from the location table for served-domain user @p u. */
static int plan_location(struct slice ruri, struct arena *a,
			 struct route_plan *p)
{
	const struct loc_set *set;
	struct timespec now;
	struct slice user, dom;
	char *aor;
	int len, err = 0;

	aor = arena_alloc(a, SIPMSG_AOR_MAX);
	if (!aor)
		return -ENOMEM;
	/* The spelling the registrar stores (proxy/sip/msg.h). */
	len = sipmsg_aor_print(ruri, aor, SIPMSG_AOR_MAX);
	if (len <= 0) {
		plan_reply(p, 404, "Not Found");
		return 0;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	urcu_memb_read_lock();
	set = loc_lookup_rcu(slice_make(aor, (size_t)len));
	for (unsigned i = 0; set && i < set->n; i++) {
		const struct loc_contact *c = &set->c[i];
		struct route_target *t = &p->t[p->ntargets];

		if (p->ntargets == ROUTE_MAX_TARGETS)
			break;
		if (c->expires_s && c->expires_s <= (int64_t)now.tv_sec)
			continue;
		memset(t, 0, sizeof(*t));
		if (contact_dest(c, &t->dest) < 0)
			continue;
		t->ruri = slice_make(dup_arena(a, c->uri), c->uri.len);
		t->path = slice_make(dup_arena(a, c->path), c->path.len);
		t->q = c->q;
		if (!t->ruri.p || !t->path.p) {
			err = -ENOMEM;
			break;
		}
		p->ntargets++;
	}
	urcu_memb_read_unlock();
	if (err)
		return err;
	/* RFC 3261 §21.4.5 / §21.4.18: no such user is 404; a known
	 * user with no binding is 480 (proxy/hook.h user check). */
	if (p->ntargets == 0 &&
	    sipmsg_aor_split(slice_make(aor, (size_t)len), &user, &dom) &&
	    !hook_user_exists(user, dom))
		plan_reply(p, err_sip_status(ERR_NO_USER), "Not Found");
	else if (p->ntargets == 0)
		plan_reply(p, err_sip_status(ERR_NO_BINDING),
			   "Temporarily Unavailable");
	sort_by_q(p->t, p->ntargets);
	return 0;
}

/* Targets a feature chose (proxy/hook.h); slices already in the arena. */
static int plan_fwd(const struct hook_fwd *fw, struct route_plan *p)
{
	for (unsigned i = 0; i < fw->nt && p->ntargets < ROUTE_MAX_TARGETS;
	     i++) {
		const struct hook_target *h = &fw->t[i];
		struct route_target *t = &p->t[p->ntargets];

		memset(t, 0, sizeof(*t));
		if (contact_dest(&h->b, &t->dest) < 0)
			continue;
		t->ruri = h->ruri.len ? h->ruri : h->b.uri;
		t->path = h->b.path;
		t->hdrs = h->hdrs;
		t->q = h->b.q;
		p->ntargets++;
	}
	p->failover = fw->failover;
	if (p->ntargets == 0)
		plan_reply(p, err_sip_status(ERR_NO_BINDING),
			   "Temporarily Unavailable");
	if (!p->failover)
		sort_by_q(p->t, p->ntargets);
	return 0;
}

/* A served-domain user: a feature's targets, a GRUU, else the AOR. */
static int plan_user(const struct conf *c, struct slice ruri,
		     const struct hook_fwd *fw, struct arena *a,
		     struct route_plan *p)
{
	struct hook_fwd g = { NULL, 0, false, false };
	unsigned status = 0;
	int r;

	if (fw && fw->nt)
		return plan_fwd(fw, p);
	/* RFC 5627 §5.3: a GRUU reaches its one instance, never the
	 * AOR's other devices (proxy/hook.h). */
	r = hook_lookup(c, ruri, (int64_t)time(NULL), a, &g, &status);
	if (r < 0)
		return r;
	if (r == 0)
		return plan_location(ruri, a, p);
	if (status) {
		plan_reply(p, status, NULL);
		return 0;
	}
	return plan_fwd(&g, p);
}

int route_plan(const struct conf *c, const struct sipmsg *m, struct arena *a,
	       struct route_plan *p)
{
	return route_plan_fwd(c, m, NULL, a, p);
}

/*
 * The flow token our Record-Route value names a WebSocket connection
 * with (RFC 5626 §5.3, kept simple), as a user part (hex digits and '-'
 * need no escaping): "ob-" CONNID(16 hex) "-" PORT(4 hex) "-"
 * ADDRESS(8 or 32 hex) "-" MAC(16 hex), the connection, its remote end,
 * and the first 8 bytes of an HMAC-SHA256 of what precedes and the
 * transport under a key drawn at start (RFC 5626 §5.2's idea): nobody
 * else can name a connection of ours.
 */
#define FLOW_TOKEN_MAX (3 + 16 + 1 + 4 + 1 + 32 + 1 + 16 + 1)
#define FLOW_MAC_LEN   8

static uint8_t flow_key[32];
static pthread_once_t flow_key_once = PTHREAD_ONCE_INIT;

static void flow_key_init(void)
{
	size_t got = 0;

	/* Bounded: getrandom() returns at most 256 bytes per call. */
	for (int i = 0; i < 8 && got < sizeof(flow_key); i++) {
		ssize_t n =
		    getrandom(flow_key + got, sizeof(flow_key) - got, 0);

		if (n > 0)
			got += (size_t)n;
	}
	if (got < sizeof(flow_key))
		log_msg(LOG_WARN, "route: no random flow token key");
}

/* The MAC of token text @p p (@p n bytes) for @p proto, as hex. */
static void flow_mac(const char *p, size_t n, enum peer_proto proto,
		     char out[2 * FLOW_MAC_LEN + 1])
{
	struct hmac_sha256_ctx h;
	uint8_t d[SHA256_DIGEST_SIZE];

	pthread_once(&flow_key_once, flow_key_init);
	hmac_sha256_set_key(&h, sizeof(flow_key), flow_key);
	hmac_sha256_update(&h, n, (const uint8_t *)p);
	hmac_sha256_update(&h, 1,
			   (const uint8_t *)(proto == PEER_WSS ? "s" : "p"));
	hmac_sha256_digest(&h, sizeof(d), d);
	hex_print(d, FLOW_MAC_LEN, out);
}

/* Token of @p f into @p out (NUL-terminated); its length. */
static size_t flow_token_print(const struct peer *f, char out[FLOW_TOKEN_MAX])
{
	const struct sockaddr_in *a4 = (const void *)&f->addr;
	const struct sockaddr_in6 *a6 = (const void *)&f->addr;
	bool v6 = f->addr.ss_family == AF_INET6;
	size_t k = v6 ? 25 + 32 : 25 + 8;

	memcpy(out, "ob-", 3);
	hex_u64_print(f->conn_id, 16, out + 3);
	out[19] = '-';
	hex_u64_print(ntohs(v6 ? a6->sin6_port : a4->sin_port), 4, out + 20);
	out[24] = '-';
	if (v6)
		hex_print(&a6->sin6_addr, 16, out + 25);
	else
		hex_print(&a4->sin_addr, 4, out + 25);
	out[k] = '-';
	flow_mac(out, k, f->proto, out + k + 1);
	return k + 1 + 2 * FLOW_MAC_LEN;
}

/* The flow of URI @p u's token; 0, or -ENOENT (none, not ours, or a
 * MAC that does not match). */
static int flow_token_parse(const struct sipuri *u, struct peer *f)
{
	struct slice v;
	uint64_t id, port;
	const char *p = u->user.p;
	char mac[2 * FLOW_MAC_LEN + 1];
	size_t alen, k;

	if (u->user.len != 25 + 8 + 1 + 2 * FLOW_MAC_LEN &&
	    u->user.len != 25 + 32 + 1 + 2 * FLOW_MAC_LEN)
		return -ENOENT;
	alen = u->user.len - 25 - 1 - 2 * FLOW_MAC_LEN;
	k = 25 + alen;
	if (memcmp(p, "ob-", 3) || p[19] != '-' || p[24] != '-' ||
	    p[k] != '-' || hex_u64_parse(p + 3, 16, &id) ||
	    hex_u64_parse(p + 20, 4, &port) || !id || !port)
		return -ENOENT;
	if (uri_param(u, "transport", &v) <= 0)
		return -ENOENT;
	memset(f, 0, sizeof(*f));
	if (slice_caseeq_cstr(v, "ws"))
		f->proto = PEER_WS;
	else if (slice_caseeq_cstr(v, "wss"))
		f->proto = PEER_WSS;
	else
		return -ENOENT;
	flow_mac(p, k, f->proto, mac);
	if (!memeql_sec(mac, p + k + 1, 2 * FLOW_MAC_LEN))
		return -ENOENT;
	if (alen == 8) {
		struct sockaddr_in *a4 = (struct sockaddr_in *)&f->addr;

		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		if (hex_parse(slice_make(p + 25, 8), (uint8_t *)&a4->sin_addr,
			      4))
			return -ENOENT;
		f->addrlen = sizeof(*a4);
	} else {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&f->addr;

		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		if (hex_parse(slice_make(p + 25, 32), (uint8_t *)&a6->sin6_addr,
			      16))
			return -ENOENT;
		f->addrlen = sizeof(*a6);
	}
	f->conn_id = id;
	return 0;
}

void route_flow_apply(struct route_plan *p, const struct peer *from)
{
	const struct peer *f = NULL;

	for (unsigned i = 0; i < p->nflow && !f; i++)
		if (p->flow[i].conn_id != from->conn_id)
			f = &p->flow[i];
	if (!f || p->rest_first.len)
		return;
	/* RFC 5626 §5.3: the flow, not the Request-URI's host. */
	p->status = 0;
	p->reason = NULL;
	p->failover = false;
	p->ntargets = 1;
	memset(&p->t[0], 0, sizeof(p->t[0]));
	p->t[0].dest = *f;
	p->t[0].q = 1000;
}

static bool conf_has_tls(const struct conf *c)
{
	for (unsigned i = 0; i < c->nlisten; i++)
		if (c->listen[i].tls && !c->listen[i].ws)
			return true;
	return false;
}

static int plan_inner(const struct conf *c, const struct sipmsg *m,
		      const struct hook_fwd *fw, struct arena *a,
		      struct route_plan *p);

int route_plan_fwd(const struct conf *c, const struct sipmsg *m,
		   const struct hook_fwd *fw, struct arena *a,
		   struct route_plan *p)
{
	struct sipuri u;
	unsigned k = 0;
	int r = plan_inner(c, m, fw, a, p);

	if (r || p->status || sipmsg_uri_parse(m, m->ruri, &u) < 0 ||
	    u.scheme != URI_SIPS)
		return r;
	/* RFC 5630 §3.1.3 (kept simple): a sips: request leaves over TLS
	 * only; targets reached otherwise (a binding registered over UDP
	 * or TCP, a static next hop without TLS) are dropped, and with
	 * none left the answer is 480. */
	for (unsigned i = 0; i < p->ntargets; i++)
		if (p->t[i].dest.proto == PEER_TLS || p->t[i].resolve.len)
			p->t[k++] = p->t[i];
	p->ntargets = k;
	if (k == 0)
		plan_reply(p, 480, "Temporarily Unavailable (sips: needs TLS)");
	return 0;
}

static int plan_inner(const struct conf *c, const struct sipmsg *m,
		      const struct hook_fwd *fw, struct arena *a,
		      struct route_plan *p)
{
	struct slice rv[MAX_ROUTES], ruri = m->ruri, uri;
	const struct conf_route *sr;
	struct sipuri u, ru;
	unsigned n;
	int r;

	memset(p, 0, sizeof(*p));
	r = route_values(m, rv, MAX_ROUTES);
	if (r < 0) {
		plan_reply(p, 400, "Malformed Route");
		return 0;
	}
	n = (unsigned)r;
	if (sipmsg_uri_parse(m, ruri, &u) < 0) {
		plan_reply(p, 400, "Malformed Request-URI");
		return 0;
	}
	/* RFC 3261 §16.4: a strict router before us put our Record-Route
	 * value in the Request-URI; the real one is the last Route. */
	if (n && !u.user.len && route_uri_is_ours(c, &u)) {
		if (value_uri(rv[n - 1], &uri, &ru) < 0) {
			plan_reply(p, 400, "Malformed Route");
			return 0;
		}
		p->strict_repair = true;
		ruri = uri;
		u = ru;
		n--;
	}
	/* Our own values on top go (loose routing; two of them after a
	 * transport change, RFC 5658); one may name a WebSocket flow. */
	while (p->pop < n) {
		if (value_uri(rv[p->pop], &uri, &ru) < 0) {
			plan_reply(p, 400, "Malformed Route");
			return 0;
		}
		if (!route_uri_is_ours(c, &ru))
			break;
		if (p->nflow < 2 &&
		    flow_token_parse(&ru, &p->flow[p->nflow]) == 0)
			p->nflow++;
		p->pop++;
	}
	if (p->pop < n) {
		struct slice lr;

		p->rest_first = rv[p->pop];
		value_uri(rv[p->pop], &uri, &ru);
		p->ntargets = 1;
		p->t[0].q = 1000;
		r = uri_dest(&ru, &p->t[0].dest);
		/* A name: resolved later (RFC 3263, route_cfg.resolve). */
		if (r == -EDESTADDRREQ && !ru.host_is_ipv4 && !ru.host_is_ipv6)
			p->t[0].resolve = uri;
		else if (r < 0) {
			plan_reply(p, err_sip_status(ERR_NO_ROUTE), "No Route");
			return 0;
		}
		/* RFC 3261 §16.6 step 6: a strict next hop gets the
		 * Request-URI it wants; ours goes to the end of Route. */
		if (uri_param(&ru, "lr", &lr) == 0) {
			p->strict_next = true;
			p->t[0].ruri = uri;
		} else if (p->strict_repair) {
			p->t[0].ruri = ruri;
		}
		return 0;
	}
	/* RFC 3261 §26.2.2: sips: needs TLS on every hop; without a TLS
	 * listener this proxy cannot take part at all. */
	if (u.scheme == URI_SIPS && !conf_has_tls(c)) {
		plan_reply(p, 416, "Unsupported URI Scheme");
		return 0;
	}
	if ((u.scheme == URI_SIP) && route_uri_is_ours(c, &u)) {
		if (!u.user.len) {
			plan_reply(p, err_sip_status(ERR_NO_BINDING),
				   "Temporarily Unavailable");
			return 0;
		}
		r = plan_user(c, ruri, fw, a, p);
		if (r == 0 && p->strict_repair)
			for (unsigned i = 0; i < p->ntargets; i++)
				if (!p->t[i].ruri.len)
					p->t[i].ruri = ruri;
		return r;
	}
	sr = proxy_conf_route_find(c, u.host, u.user);
	if (sr) {
		p->failover = true;
		for (unsigned i = 0; i < sr->nnext_hop && i < ROUTE_MAX_TARGETS;
		     i++) {
			struct route_target *t = &p->t[p->ntargets++];

			memset(t, 0, sizeof(*t));
			t->dest.proto = (enum peer_proto)sr->next_hop[i].proto;
			t->dest.addr = sr->next_hop[i].addr;
			t->dest.addrlen = sr->next_hop[i].addrlen;
			/* A next hop that is a name (proxy_conf.h). */
			if (!t->dest.addrlen)
				t->resolve = slice_cstr(sr->next_hop[i].uri);
			t->q = 1000;
			if (p->strict_repair)
				t->ruri = ruri;
		}
		return 0;
	}
	if ((u.scheme == URI_SIP || u.scheme == URI_SIPS) &&
	    (u.host_is_ipv4 || u.host_is_ipv6)) {
		p->ntargets = 1;
		p->t[0].q = 1000;
		if (p->strict_repair)
			p->t[0].ruri = ruri;
		if (uri_dest(&u, &p->t[0].dest) < 0)
			plan_reply(p, err_sip_status(ERR_NO_ROUTE), "No Route");
		return 0;
	}
	if (u.scheme == URI_SIP || u.scheme == URI_SIPS) {
		/* RFC 3263: a host name is looked up (route_cfg.resolve). */
		p->ntargets = 1;
		p->t[0].q = 1000;
		p->t[0].resolve = ruri;
		if (p->strict_repair)
			p->t[0].ruri = ruri;
		return 0;
	}
	plan_reply(p, err_sip_status(ERR_NO_ROUTE), "No Route");
	return 0;
}

uint32_t route_loop_hash(const struct sipmsg *m, struct slice ruri,
			 struct slice route)
{
	uint64_t h = LOOP_SEED;

	h = hash_slice(ruri, h);
	h = hash_slice(m->from_tag, h);
	h = hash_slice(m->to_tag, h);
	h = hash_slice(m->call_id, h);
	h = hash_bytes(&m->cseq, sizeof(m->cseq), h);
	h = hash_slice(route, h);
	return (uint32_t)(h ^ (h >> 32));
}

bool route_is_loop(const struct conf *c, const struct sipmsg *m)
{
	struct slice rv[1], rest, e;
	const struct siphdr *h;
	uint32_t want = 0, lh;
	bool computed = false;
	unsigned shard, seen = 0;
	struct sipvia v;

	for (h = sipmsg_hdr(m, HDR_VIA); h && seen < 64;
	     h = sipmsg_hdr_next(m, h)) {
		rest = h->value;
		while (hdr_split_next(&rest, &e) > 0 && seen++ < 64) {
			if (sipmsg_via_parse(m, e, &v) < 0 ||
			    txn_branch_parse(v.branch, &shard, &lh) < 0 ||
			    !addr_is_ours(c, v.host, v.port))
				continue;
			if (!computed) {
				struct slice first = { NULL, 0 };
				const struct siphdr *rh =
				    sipmsg_hdr(m, HDR_ROUTE);

				if (rh) {
					struct slice r2 = rh->value;

					if (hdr_split_next(&r2, &rv[0]) > 0)
						first = rv[0];
				}
				want = route_loop_hash(m, m->ruri, first);
				computed = true;
			}
			if (lh == want)
				return true;
		}
	}
	return false;
}

/* The stateful proxy. */

struct fork;

struct branch {
	struct timer timer_c;
	struct fork *f;
	struct txn *ct;
	unsigned status; /* final or synthetic; 0 while pending */
	bool started;
	bool provisional;
};

/* The response context of one forwarded request (RFC 3261 §16.7): the
 * user area of its server transaction. */
struct fork {
	struct route *r;
	struct txn *st; /* NULL once it left the table */
	struct peer from;
	bool invite;
	bool failover;
	bool cancelled;
	bool final_sent;
	bool got6xx;
	bool record_route;
	bool dialog; /* record-routed initial INVITE: dialog table */
	bool bye;    /* BYE of a known dialog */
	/* Route processing, as route_plan() said. */
	unsigned pop;
	bool strict_repair, strict_next;
	unsigned ntargets, next, pending;
	/* ntargets each, in the same allocation, right after the struct:
	 * sized to the plan, not to ROUTE_MAX_TARGETS (16 would be 4.9 KB
	 * per forwarded request, held until its transaction ends). */
	struct branch *br;
	struct route_target *t;
	unsigned best_status;
	char *best; /* upstream-ready bytes of the best response, or NULL */
	size_t best_len;
	int64_t dlg_created_ms; /* when the dialog was first published */
	/* In the server transaction's copy of the request. */
	struct slice call_id, from_tag, to_tag, caller, callee;
	struct slice caller_contact; /* the INVITE's Contact URI */
	struct slice caller_route;   /* route set to the caller (strings) */
	uint32_t cseq;		     /* the INVITE's */
	char *strings;		     /* target URIs and paths, after t */
};

_Static_assert(sizeof(struct fork) % _Alignof(struct branch) == 0 &&
		   sizeof(struct branch) % _Alignof(struct route_target) == 0,
	       "fork arrays stay aligned");

struct route {
	struct route_cfg cfg;
	const struct conf *c;
	struct txn_layer *txns;
	struct arena *a;
	char (*hostport)[64]; /* per listen entry: "1.2.3.4:5060" */
	bool closing;
	struct log_ratelimit rl;
	unsigned last_status; /* route_last_reply() */
	const char *last_reason;
	uint64_t rx_us; /* route_set_rx_us() */
	/* The source of the response being handled (route_response()),
	 * for the NAT Contact fix; NULL otherwise. */
	const struct peer *rsp_from;
};

static int send_to(struct route *r, const struct peer *to, const void *buf,
		   size_t len)
{
	return r->cfg.send(r->cfg.send_ctx, to, buf, len);
}

void route_conn_failed(struct route *r, const struct peer *to)
{
	(void)txn_cli_fail_peer(r->txns, to);
}

struct txn_layer *route_txns(struct route *r)
{
	return r->txns;
}

/* Listen entry @p l serves @p dest's family and transport. */
static bool listen_fits(const struct conf_listen *l, const struct peer *dest)
{
	if (l->addr.ss_family != dest->addr.ss_family)
		return false;
	switch (dest->proto) {
	case PEER_UDP:
		return l->udp;
	case PEER_TCP:
		return l->tcp;
	case PEER_TLS:
		return l->tls && !l->ws;
	case PEER_WS:
		return l->ws && !l->tls;
	case PEER_WSS:
		return l->ws && l->tls;
	}
	return false;
}

/* The listen entry to send to @p dest from: @p pref when it has the same
 * address family and transport, else the first one that has; else the
 * first of the family (a TCP or TLS connection may still be opened from
 * its address). */
static unsigned pick_listen(const struct route *r, unsigned pref,
			    const struct peer *dest)
{
	int fam = dest->addr.ss_family;

	if (pref < r->c->nlisten && listen_fits(&r->c->listen[pref], dest))
		return pref;
	for (unsigned i = 0; i < r->c->nlisten; i++)
		if (listen_fits(&r->c->listen[i], dest))
			return i;
	if (pref < r->c->nlisten && r->c->listen[pref].addr.ss_family == fam)
		return pref;
	for (unsigned i = 0; i < r->c->nlisten; i++)
		if (r->c->listen[i].addr.ss_family == fam)
			return i;
	return pref < r->c->nlisten ? pref : 0;
}

static bool is_dialog_creating(enum sip_method m)
{
	return m == SIP_INVITE || m == SIP_SUBSCRIBE || m == SIP_REFER ||
	       m == SIP_NOTIFY;
}

/* Parse the server transaction's copy of the request into @p m. */
static int reparse(struct route *r, const struct txn *st, struct sipmsg *m)
{
	unsigned max = r->c->max_headers ? r->c->max_headers : 128;
	struct siphdr *hdrs = arena_alloc(r->a, max * sizeof(*hdrs));
	struct slice req = txn_srv_request(st);

	if (!hdrs)
		return -ENOMEM;
	memset(m, 0, sizeof(*m));
	if (sipmsg_parse(m, req.p, req.len, hdrs, max, 0) < 0)
		return -EBADMSG;
	return 0;
}

/*
 * RFC 3581 §4: the top Via of a request we forward says where it came
 * from: received= when the sent-by host is not the source address (or
 * rport asks for it), rport=PORT filled in. @p *valp is the new value
 * of the first Via header; empty when it needs no change.
 */
static int via_fix(struct route *r, const struct sipmsg *m,
		   const struct peer *from, const struct siphdr *h,
		   struct slice *valp)
{
	const struct sockaddr *sa = (const struct sockaddr *)&from->addr;
	char ip[INET6_ADDRSTRLEN], pbuf[FMT_U64_MAX];
	struct slice first = m->via.value, params = m->via.params, rest, prm;
	struct slice head, tail;
	uint16_t port;
	bool same;
	size_t len, o, iplen, plen;
	char *p;

	*valp = slice_make(NULL, 0);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		iplen = fmt_ipv4(&in->sin_addr, ip);
		port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		iplen = strlen(ip);
		port = ntohs(in6->sin6_port);
	} else {
		return 0;
	}
	same = conf_host_is_address(m->via.host, ip);
	if (same && !m->via.has_rport)
		return 0;
	if (!first.len || first.p < h->value.p ||
	    first.p + first.len > h->value.p + h->value.len)
		return 0;
	/* head: the via-parm up to its parameters; tail: the other values
	 * of the header line, after this one. */
	head = params.len ? slice_make(first.p, (size_t)(params.p - first.p))
			  : first;
	tail =
	    slice_make(first.p + first.len, (size_t)(h->value.p + h->value.len -
						     (first.p + first.len)));
	plen = fmt_u64(port, pbuf);
	len = head.len + params.len + 2 * (iplen + 16) + tail.len + 16;
	p = arena_alloc(r->a, len);
	if (!p)
		return -ENOMEM;
	memcpy(p, head.p, head.len);
	o = head.len;
	rest = params;
	/* Keep every parameter but received and rport, rewritten below. */
	while (rest.len) {
		long semi;

		if (rest.p[0] == ';')
			rest = slice_make(rest.p + 1, rest.len - 1);
		semi = slice_index(rest, ';');
		prm = semi < 0 ? rest : slice_make(rest.p, (size_t)semi);
		rest = semi < 0
			   ? slice_make(NULL, 0)
			   : slice_make(rest.p + semi, rest.len - (size_t)semi);
		if (!prm.len)
			continue;
		if ((prm.len >= 8 && slice_caseeq(slice_make(prm.p, 8),
						  SLICE_LIT("received"))) ||
		    (prm.len >= 5 &&
		     slice_caseeq(slice_make(prm.p, 5), SLICE_LIT("rport")) &&
		     (prm.len == 5 || prm.p[5] == '=')))
			continue;
		p[o++] = ';';
		memcpy(p + o, prm.p, prm.len);
		o += prm.len;
	}
	memcpy(p + o, ";received=", 10);
	memcpy(p + o + 10, ip, iplen);
	o += 10 + iplen;
	if (m->via.has_rport) {
		memcpy(p + o, ";rport=", 7);
		memcpy(p + o + 7, pbuf, plen);
		o += 7 + plen;
	}
	memcpy(p + o, tail.p, tail.len);
	o += tail.len;
	*valp = slice_make(p, o);
	return 0;
}

/*
 * Append the @p n bytes at @p src and a NUL to @p buf (@p size bytes) at
 * *op; false (*op unchanged) when they do not fit. snprintf's work on
 * the per-request path without its format parsing.
 */
static bool buf_cat(char *buf, size_t size, size_t *op, const char *src,
		    size_t n)
{
	if (n >= size - *op)
		return false;
	memcpy(buf + *op, src, n);
	*op += n;
	buf[*op] = '\0';
	return true;
}

static bool buf_cats(char *buf, size_t size, size_t *op, const char *src)
{
	return buf_cat(buf, size, op, src, strlen(src));
}

/*
 * "<sip:HOSTPORT[;transport=tcp|tls|ws|wss];lr>" for listen @p li and
 * the side @p side of the call; a WebSocket side with its connection
 * gets the flow token as user part: "<sip:ob-...@HOSTPORT;...>".
 */
static struct slice rr_value(struct route *r, unsigned li,
			     const struct peer *side, char *buf, size_t size)
{
	enum peer_proto proto = side->proto;
	char tok[FLOW_TOKEN_MAX + 1] = "";
	size_t k, o = 0;
	bool ok;

	if (peer_proto_is_ws(proto) && side->conn_id) {
		k = flow_token_print(side, tok);
		tok[k] = '@';
		tok[k + 1] = '\0';
	}
	ok = size && buf_cat(buf, size, &o, "<sip:", 5) &&
	     buf_cats(buf, size, &o, tok) &&
	     buf_cats(buf, size, &o, r->hostport[li]) &&
	     buf_cats(buf, size, &o,
		      proto == PEER_TCP	  ? ";transport=tcp"
		      : proto == PEER_TLS ? ";transport=tls"
		      : proto == PEER_WS  ? ";transport=ws"
		      : proto == PEER_WSS ? ";transport=wss"
					  : "") &&
	     buf_cat(buf, size, &o, ";lr>", 4);

	return slice_make(buf, ok ? o : 0);
}

/*
 * The Route header work of §16.4 and §16.6 steps 6-7 on edit list
 * @p el: our values popped, strict-route repair, a strict next hop,
 * the target's Path on top. *firstp: the first Route value sent.
 */
static int edit_routes(struct route *r, struct edit_list *el,
		       const struct sipmsg *m, const struct fork *f,
		       const struct route_target *t, struct slice cur_ruri,
		       struct slice *firstp)
{
	struct slice rv[MAX_ROUTES + 2], out[MAX_ROUTES + 3], joined;
	unsigned n, k = 0, from, upto;
	const struct siphdr *h;
	int cnt, err;
	char *lt;

	*firstp = slice_make(NULL, 0);
	cnt = route_values(m, rv, MAX_ROUTES);
	if (cnt < 0)
		return -EBADMSG;
	n = (unsigned)cnt;
	if (n == 0 && !t->path.len)
		return 0;
	upto = f->strict_repair && n ? n - 1 : n;
	from = f->pop < upto ? f->pop : upto;
	if (t->path.len)
		out[k++] = t->path;
	if (f->strict_next && from < upto)
		from++;
	for (unsigned i = from; i < upto; i++)
		out[k++] = rv[i];
	if (f->strict_next) {
		lt = arena_alloc(r->a, cur_ruri.len + 2);
		if (!lt)
			return -ENOMEM;
		lt[0] = '<';
		memcpy(lt + 1, cur_ruri.p, cur_ruri.len);
		lt[cur_ruri.len + 1] = '>';
		out[k++] = slice_make(lt, cur_ruri.len + 2);
	}
	if (k)
		*firstp = out[0];
	/* The common case: only our own value on top goes. */
	if (!t->path.len && !f->strict_repair && !f->strict_next && f->pop == 1)
		return edit_pop_route(el);
	if (!t->path.len && !f->strict_repair && !f->strict_next && f->pop == 0)
		return 0;
	if (f->pop == 0 && !f->strict_repair && !f->strict_next)
		return edit_add_route(el, t->path);
	for (h = sipmsg_hdr(m, HDR_ROUTE); h; h = sipmsg_hdr_next(m, h)) {
		err = edit_del_hdr(el, h);
		if (err)
			return err;
	}
	if (!k)
		return 0;
	err = arena_join(r->a, out, k, SLICE_LIT(", "), &joined);
	return err ? err : edit_add_hdr(el, SLICE_LIT("Route"), joined);
}

/* Header lines "Name: value" CRLF each (a feature's, per branch). */
static int add_lines(struct edit_list *el, struct slice lines)
{
	struct slice rest = lines;
	int err;

	/* Bounded: each pass consumes a line. */
	while (rest.len) {
		long eol = slice_index(rest, '\n');
		struct slice line =
		    eol < 0 ? rest : slice_make(rest.p, (size_t)eol);
		long colon;

		rest = eol < 0 ? slice_make(NULL, 0)
			       : slice_make(rest.p + eol + 1,
					    rest.len - (size_t)eol - 1);
		if (line.len && line.p[line.len - 1] == '\r')
			line.len--;
		colon = slice_index(line, ':');
		if (colon <= 0)
			continue;
		err = edit_add_hdr(
		    el, slice_trim(slice_make(line.p, (size_t)colon)),
		    slice_trim(slice_make(line.p + colon + 1,
					  line.len - (size_t)colon - 1)));
		if (err)
			return err;
	}
	return 0;
}

/*
 * The request to target @p t of @p f, built from @p m (RFC 3261 §16.6):
 * Request-URI, Max-Forwards, Route, Record-Route, the received/rport of
 * the previous hop, our Via with branch. *outp is in the arena.
 */
/*
 * Credentials for our own realms (a served domain) were for us: they
 * go no further (RFC 3261 §22.3: a proxy consumes the credentials it
 * asked for), so the callee never sees them. Other realms' pass.
 */
static int strip_own_credentials(const struct conf *c, struct edit_list *el,
				 const struct sipmsg *m)
{
	struct digest_credentials d;
	int err = 0;

	for (unsigned i = 0; i < m->nhdrs && !err; i++) {
		const struct siphdr *h = &m->hdrs[i];

		if (h->id != HDR_AUTHORIZATION &&
		    h->id != HDR_PROXY_AUTHORIZATION)
			continue;
		if (digest_credentials_parse(h->value, NULL, &d) == 0 &&
		    d.realm.len && conf_is_domain(c, d.realm.p, d.realm.len))
			err = edit_del_hdr(el, h);
	}
	return err;
}

/*
 * Whether the Contact of @p m (from @p from) must name its source, a UA
 * behind NAT (proxy/nat.h): requests and 1xx/2xx responses of the
 * methods that set a remote target or a dialog's Contact, over UDP,
 * TCP or TLS (a WebSocket flow is reached by its flow token already).
 */
static bool nat_fixes(const struct conf *c, const struct sipmsg *m,
		      const struct peer *from)
{
	const struct nat_conf *nc = nat_conf(c);
	enum sip_method meth = m->is_request ? m->method : m->cseq_method;

	if (!nc->detect || peer_proto_is_ws(from->proto))
		return false;
	if (!m->is_request && (m->status <= 100 || m->status >= 300))
		return false;
	if (meth != SIP_INVITE && meth != SIP_UPDATE && meth != SIP_SUBSCRIBE &&
	    meth != SIP_NOTIFY && meth != SIP_REFER)
		return false;
	return nat_detect(nc, m, from) != 0;
}

static int build_request(struct route *r, const struct fork *f,
			 const struct sipmsg *m, const struct route_target *t,
			 bool stateless, char *branch, size_t *branch_lenp,
			 struct slice *outp)
{
	const struct peer *from = &f->from;
	unsigned li = pick_listen(r, from->listen_idx, &t->dest);
	struct slice ruri = t->ruri.len ? t->ruri : m->ruri, first, fix;
	struct slice cur_ruri = m->ruri, kept;
	const struct siphdr *h;
	struct edit_list *el;
	char via[160], rr[400], mf[FMT_U64_MAX];
	size_t vlen;
	int err;

	err = edit_new(r->a, m, &el);
	if (err)
		return err;
	if (f->strict_repair) {
		struct slice rv[MAX_ROUTES], u;
		struct sipuri pu;
		int cnt = route_values(m, rv, MAX_ROUTES);

		if (cnt > 0 && value_uri(rv[cnt - 1], &u, &pu) == 0)
			cur_ruri = u;
	}
	if (f->strict_next && !t->ruri.len)
		return -EINVAL;
	/* What only features may add goes (proxy/hook.h). */
	kept = t->ruri.len ? slice_make(NULL, 0) : m->ruri;
	err = hook_clean(el, m, r->a, &kept);
	if (!err)
		err = strip_own_credentials(r->c, el, m);
	/* A UA behind NAT: in-dialog requests must reach it through its
	 * NAT binding (fix_nated_contact, docs/features.md "NAT"). */
	if (!err && nat_fixes(r->c, m, from))
		err = nat_fix_contact(el, m, from, r->a);
	if (err)
		return err;
	if (kept.len && kept.p != m->ruri.p)
		ruri = kept;
	if (t->ruri.len || f->strict_repair || ruri.p != cur_ruri.p) {
		err = edit_set_ruri(el, ruri);
		if (err)
			return err;
	}
	/* §16.6 step 3. */
	h = sipmsg_hdr(m, HDR_MAX_FORWARDS);
	if (h) {
		err = edit_set_hdr(
		    el, h,
		    slice_make(mf, fmt_u64(m->max_forwards > 0
					       ? (uint64_t)m->max_forwards - 1
					       : 0,
					   mf)));
	} else {
		err = edit_add_hdr(el, SLICE_LIT("Max-Forwards"),
				   SLICE_LIT("70"));
	}
	if (err)
		return err;
	err = edit_routes(r, el, m, f, t, cur_ruri, &first);
	if (err)
		return err;
	/* §16.6 step 4; RFC 5658 double Record-Route on a change of
	 * transport or address. */
	if (f->record_route) {
		unsigned ili =
		    from->listen_idx < r->c->nlisten ? from->listen_idx : 0;

		/* Two WebSocket sides (browser to browser): each names
		 * its own flow. */
		if (ili != li || from->proto != t->dest.proto ||
		    (peer_proto_is_ws(from->proto) &&
		     from->conn_id != t->dest.conn_id)) {
			err = edit_add_record_route(
			    el, rr_value(r, li, &t->dest, rr, sizeof(rr)));
			if (err)
				return err;
		}
		err = edit_add_record_route(
		    el, rr_value(r, ili, from, rr, sizeof(rr)));
		if (err)
			return err;
	}
	h = sipmsg_hdr(m, HDR_VIA);
	if (h) {
		err = via_fix(r, m, from, h, &fix);
		if (!err && fix.len)
			err = edit_set_hdr(el, h, fix);
		if (err)
			return err;
	}
	/* §16.6 step 8: the branch carries the shard and the loop hash. */
	if (stateless)
		*branch_lenp = txn_branch_stateless(
		    r->txns, route_loop_hash(m, ruri, first), m->via.branch,
		    branch);
	else
		*branch_lenp = txn_branch_make(
		    r->txns, route_loop_hash(m, ruri, first), branch);
	vlen = 0;
	if (!buf_cat(via, sizeof(via), &vlen, "SIP/2.0/", 8) ||
	    !buf_cats(via, sizeof(via), &vlen,
		      peer_proto_name(t->dest.proto)) ||
	    !buf_cat(via, sizeof(via), &vlen, " ", 1) ||
	    !buf_cats(via, sizeof(via), &vlen, r->hostport[li]) ||
	    !buf_cat(via, sizeof(via), &vlen, ";rport;branch=", 14) ||
	    !buf_cats(via, sizeof(via), &vlen, branch))
		return -ENOSPC;
	err = edit_add_via(el, slice_make(via, vlen));
	if (err)
		return err;
	err = add_lines(el, t->hdrs);
	if (!err && t->body.len)
		err = edit_set_body(el, t->body);
	if (err)
		return err;
	return edit_print_arena(el, r->a, outp);
}

static int reply_opts_send(struct route *r, const struct sipmsg *m,
			   const struct peer *from, unsigned status,
			   const char *reason, struct slice extra,
			   struct slice *outp)
{
	struct reply_opts o;

	memset(&o, 0, sizeof(o));
	o.status = status;
	o.reason = slice_cstr(reason ? reason : reply_reason(status));
	o.server = slice_cstr(r->c->server_name);
	o.extra = extra;
	return reply_build(m, (const struct sockaddr *)&from->addr, &o, r->a,
			   outp);
}

void route_set_rx_us(struct route *r, uint64_t us)
{
	r->rx_us = us;
	txn_set_rx_us(r->txns, us);
}

/* A stateless answer into the histograms the server transactions
 * fill (proxy/sip/txn.h enum txn_hist). */
static void reply_observe(struct route *r, const struct sipmsg *m,
			  unsigned status)
{
	enum txn_hist k;

	if (!r->cfg.hist || !r->rx_us || status <= 100)
		return;
	if (m->method == SIP_INVITE)
		k = status < 200 ? TXN_HIST_INVITE_PROVISIONAL
				 : TXN_HIST_INVITE_FINAL;
	else if (m->method == SIP_REGISTER && status >= 200)
		k = TXN_HIST_REGISTER;
	else
		return;
	stats_hist_observe(&r->cfg.hist[k], stats_now_us() - r->rx_us);
}

int route_reply(struct route *r, const struct sipmsg *m,
		const struct peer *from, unsigned status, const char *reason,
		struct slice extra)
{
	struct peer to = *from;
	struct slice out;
	int err;

	err = reply_opts_send(r, m, from, status, reason, extra, &out);
	if (err)
		return err;
	r->last_status = status;
	r->last_reason = reason ? reason : reply_reason(status);
	if (status >= 200 && log_requests())
		txn_log_access(from, m->method_name, m->ruri, m->call_id,
			       status);
	err = reply_dest(m, (const struct sockaddr *)&from->addr,
			 from->proto != PEER_UDP, &to.addr, &to.addrlen);
	if (err)
		return err;
	reply_observe(r, m, status);
	return send_to(r, &to, out.p, out.len);
}

unsigned route_last_reply(struct route *r, const char **reasonp)
{
	unsigned status = r->last_status;

	if (reasonp)
		*reasonp = r->last_reason;
	r->last_status = 0;
	r->last_reason = NULL;
	return status;
}

/* Response context. */

static void timer_c_cb(struct timer *tm);
static void fork_check(struct fork *f);

/* Timer C (RFC 3261 §16.6 step 11): over 3 minutes by default. */
static uint64_t timer_c_ms(const struct route *r)
{
	return (uint64_t)(proxy_conf(r->c)->timer_c_s
			      ? proxy_conf(r->c)->timer_c_s
			      : 180) *
	       1000;
}

static bool branch_pending(const struct branch *b)
{
	return b->started && !b->status;
}

static void branch_done(struct fork *f, struct branch *b, unsigned status)
{
	b->status = status;
	timer_stop(f->r->cfg.wheel, &b->timer_c);
	if (f->pending)
		f->pending--;
}

static void cancel_pending(struct fork *f)
{
	for (unsigned i = 0; i < f->ntargets; i++) {
		struct branch *b = &f->br[i];

		if (branch_pending(b) && b->ct)
			txn_cli_cancel(b->ct);
	}
}

static void on_branch(struct txn *ct, const struct sipmsg *m, unsigned status,
		      void *arg);

/* Start the next group of targets: one (failover) or every target with
 * the q-value of the next one (RFC 3261 §16.6, parallel and serial
 * forking). @p m is the request, parsed. Returns branches started. */
static unsigned start_group(struct fork *f, const struct sipmsg *m)
{
	struct route *r = f->r;
	unsigned started = 0;

	/* Bounded by the targets; a group whose sends all fail makes way
	 * for the next (failover). */
	while (f->next < f->ntargets && !started) {
		unsigned end = f->next + 1;

		if (!f->failover)
			while (end < f->ntargets &&
			       f->t[end].q == f->t[f->next].q)
				end++;
		for (unsigned i = f->next; i < end; i++) {
			struct branch *b = &f->br[i];
			char branch[TXN_BRANCH_MAX];
			struct slice out;
			size_t blen;
			int err;

			b->f = f;
			b->started = true;
			err = build_request(r, f, m, &f->t[i], false, branch,
					    &blen, &out);
			if (!err)
				err = txn_cli_new(
				    r->txns, f->st, m->method, &f->t[i].dest,
				    slice_make(branch, blen), out.p, out.len, i,
				    on_branch, NULL, &b->ct);
			if (err) {
				/* A transport error is a 503 (§16.7 6). */
				b->status = 503;
				continue;
			}
			f->pending++;
			started++;
			if (f->invite)
				timer_start(r->cfg.wheel, &b->timer_c,
					    timer_c_ms(r), timer_c_cb);
		}
		f->next = end;
		if (!f->failover)
			break;
	}
	return started;
}

/* 6xx beats everything; else the lowest class; the first of a class. */
static bool better(unsigned st, unsigned best)
{
	if (!best)
		return true;
	if (best >= 600)
		return false;
	if (st >= 600)
		return true;
	return st / 100 < best / 100;
}

/* Answer upstream with a response of our own. */
static void local_final(struct fork *f, unsigned status)
{
	struct route *r = f->r;
	struct sipmsg m;
	struct slice out;

	if (!f->st || reparse(r, f->st, &m) < 0)
		return;
	if (reply_opts_send(r, &m, &f->from, status, NULL, slice_make(NULL, 0),
			    &out) == 0)
		txn_srv_respond(f->st, status, out.p, out.len);
}

/* The failed group may make way for the next (RFC 3261 §16.7 step 2):
 * location targets after any 3xx-5xx; next hops after 503, 408 or a
 * transport error. */
static bool may_go_on(const struct fork *f)
{
	if (f->cancelled || f->got6xx || f->next >= f->ntargets)
		return false;
	if (!f->failover)
		return true;
	for (unsigned i = 0; i < f->next; i++)
		if (f->br[i].started && f->br[i].status != 503 &&
		    f->br[i].status != 408)
			return false;
	return true;
}

/* All branches done: the next group, or the best response upstream. */
static void fork_check(struct fork *f)
{
	struct route *r = f->r;
	unsigned st;

	if (f->final_sent || f->pending || r->closing)
		return;
	if (may_go_on(f) && f->st) {
		struct sipmsg m;

		if (reparse(r, f->st, &m) == 0 && start_group(f, &m))
			return;
		if (f->pending)
			return;
	}
	f->final_sent = true;
	st = f->best_status;
	/* RFC 3261 §16.10: after CANCEL the answer is 487 unless a 6xx. */
	if (f->cancelled && st < 600)
		st = 487;
	if (!f->st)
		return;
	if (r->cfg.invite_failed && (st == 0 || st >= 300)) {
		struct sipmsg m;

		if (reparse(r, f->st, &m) == 0 && m.method == SIP_INVITE)
			r->cfg.invite_failed(r->cfg.send_ctx, m.call_id);
	}
	if (st == f->best_status && f->best && st != 503) {
		txn_srv_respond(f->st, st, f->best, f->best_len);
		return;
	}
	/* §16.7 step 6: 503 becomes 500; nothing at all is 408. */
	if (st == 503 || st == 0)
		st = st ? 500 : 408;
	local_final(f, st);
}

static struct slice callee_route(struct route *r, const struct sipmsg *m);

/* Response @p m, Via popped, for sending upstream. From a hidden trunk
 * (branch @p tag of @p f, NULL when stateless) our Via is its only one:
 * the request's Vias and inside route set come back from the server
 * transaction's copy (proxy/topoh.h). */
static int upstream_bytes(struct route *r, const struct sipmsg *m,
			  const struct fork *f, unsigned tag,
			  struct slice *outp)
{
	struct edit_list *el;
	struct sipmsg req;
	int err = edit_new(r->a, m, &el);

	if (!err && f && f->st && tag < f->ntargets &&
	    topoh_peer_is_hidden(r->c, &f->t[tag].dest)) {
		err = reparse(r, f->st, &req);
		if (!err)
			err = topoh_restore(el, m, &req, r->a);
	} else if (!err) {
		err = edit_pop_via(el);
		/* The callee behind NAT, answering without a proxy between
		 * (no Record-Route of another proxy): its Contact names its
		 * source. */
		if (!err && r->rsp_from && nat_fixes(r->c, m, r->rsp_from) &&
		    !callee_route(r, m).len)
			err = nat_fix_contact(el, m, r->rsp_from, r->a);
	}
	if (!err)
		err = edit_print_arena(el, r->a, outp);
	return err;
}

static struct slice header_uri(const struct sipmsg *m, enum hdr_id id);

/*
 * The route set from here to the callee, from response @p m: the
 * Record-Route values above our own (the proxies between us and the
 * callee), nearest first, so reversed (RFC 3261 §12.1.2). Empty when
 * we are the last proxy or on any doubt.
 */
static struct slice callee_route(struct route *r, const struct sipmsg *m)
{
	struct slice rv[MAX_ROUTES], out[MAX_ROUTES], joined, u;
	struct sipuri pu;
	int cnt = hdr_values(m, HDR_RECORD_ROUTE, rv, MAX_ROUTES);
	unsigned n = 0;

	if (cnt <= 0)
		return slice_make(NULL, 0);
	for (n = 0; n < (unsigned)cnt; n++)
		if (value_uri(rv[n], &u, &pu) == 0 &&
		    addr_is_ours(r->c, pu.host, pu.port))
			break;
	if (n == (unsigned)cnt || n == 0)
		return slice_make(NULL, 0);
	for (unsigned i = 0; i < n; i++)
		out[i] = rv[n - 1 - i];
	if (arena_join(r->a, out, n, SLICE_LIT(", "), &joined))
		return slice_make(NULL, 0);
	return joined;
}

/* The dialog of response @p m (with a To tag) to branch @p tag of @p f
 * is published in @p state, with what dialog.end needs of both UAs. */
static void publish_dialog(struct fork *f, const struct sipmsg *m, unsigned tag,
			   enum dlg_state state)
{
	const struct dlg *old;
	struct dlg d;

	if (!f->dialog || !m->to_tag.len || !f->r->cfg.dialogs ||
	    tag >= f->ntargets)
		return;
	memset(&d, 0, sizeof(d));
	d.ua[DLG_CALLER].contact = f->caller_contact;
	d.ua[DLG_CALLER].route = f->caller_route;
	d.ua[DLG_CALLER].hop = dlg_hop_of(&f->from);
	d.ua[DLG_CALLER].cseq = f->cseq;
	d.ua[DLG_CALLEE].contact = header_uri(m, HDR_CONTACT);
	d.ua[DLG_CALLEE].route = callee_route(f->r, m);
	d.ua[DLG_CALLEE].hop = dlg_hop_of(&f->t[tag].dest);
	/* Requests of the early dialog (PRACK, UPDATE) raised the CSeqs:
	 * a new state must not lower them. */
	urcu_memb_read_lock();
	old = dlg_lookup_rcu(f->call_id, f->from_tag, m->to_tag);
	for (unsigned i = 0; old && i < DLG__SIDES; i++)
		if (old->ua[i].cseq > d.ua[i].cseq)
			d.ua[i].cseq = old->ua[i].cseq;
	urcu_memb_read_unlock();
	d.call_id = f->call_id;
	d.caller_tag = f->from_tag;
	d.callee_tag = m->to_tag;
	d.caller = f->caller;
	d.callee = f->callee;
	d.state = state;
	d.owner = f->r->cfg.shard;
	if (!f->dlg_created_ms)
		f->dlg_created_ms = dlg_now_ms();
	d.created_ms = f->dlg_created_ms;
	dlg_publish(&d);
}

static int stateless_response(struct route *r, const struct sipmsg *m,
			      const struct peer *from);

static void on_response(struct txn *ct, const struct sipmsg *m)
{
	struct fork *f = txn_user_data(ct);
	struct route *r;
	struct branch *b;
	struct slice out;
	unsigned st = m->status, tag = txn_tag(ct);

	if (!f || tag >= f->ntargets)
		return;
	r = f->r;
	b = &f->br[tag];
	if (st == 100)
		return;
	if (st >= 200 && st < 300) {
		/* Every 2xx goes upstream (RFC 3261 §16.7 step 5). */
		if (upstream_bytes(r, m, f, tag, &out) == 0) {
			if (f->st)
				txn_srv_respond(f->st, st, out.p, out.len);
			else
				stateless_response(r, m, &f->from);
		}
		if (b->ct == ct && !b->status)
			branch_done(f, b, st);
		if (!f->final_sent) {
			f->final_sent = true;
			publish_dialog(f, m, tag, DLG_CONFIRMED);
			cancel_pending(f);
		} else if (f->invite) {
			publish_dialog(f, m, tag, DLG_CONFIRMED);
		}
		return;
	}
	if (b->ct != ct || b->status)
		return;
	if (st < 200) {
		b->provisional = true;
		if (f->invite)
			timer_start(r->cfg.wheel, &b->timer_c, timer_c_ms(r),
				    timer_c_cb);
		if (f->final_sent || !f->st)
			return;
		publish_dialog(f, m, tag, DLG_EARLY);
		if (upstream_bytes(r, m, f, tag, &out) == 0)
			txn_srv_respond(f->st, st, out.p, out.len);
		return;
	}
	branch_done(f, b, st);
	if (better(st, f->best_status) &&
	    upstream_bytes(r, m, f, tag, &out) == 0) {
		char *p = realloc(f->best, out.len);

		if (p) {
			memcpy(p, out.p, out.len);
			f->best = p;
			f->best_len = out.len;
			f->best_status = st;
		}
	}
	if (st >= 600 && !f->got6xx) {
		f->got6xx = true;
		cancel_pending(f);
	}
	fork_check(f);
}

static void on_failure(struct txn *ct, unsigned status)
{
	struct fork *f = txn_user_data(ct);
	unsigned tag = txn_tag(ct);
	struct branch *b;

	if (!f || tag >= f->ntargets)
		return;
	b = &f->br[tag];
	if (b->ct != ct || b->status)
		return;
	branch_done(f, b, status);
	if (better(status, f->best_status)) {
		free(f->best);
		f->best = NULL;
		f->best_len = 0;
		f->best_status = status;
	}
	fork_check(f);
}

/* A branch's client transaction reports (txn_cli_fn); the fork is the
 * user area of its parent, the server transaction. */
static void on_branch(struct txn *ct, const struct sipmsg *m, unsigned status,
		      void *arg)
{
	(void)arg;
	if (m)
		on_response(ct, m);
	else
		on_failure(ct, status);
}

static void on_gone(struct txn *t)
{
	struct fork *f = txn_user_data(t);
	struct branch *b;
	unsigned tag;

	if (!f)
		return;
	if (txn_parent(t) == NULL) {
		if (f->st == t)
			f->st = NULL;
		return;
	}
	tag = txn_tag(t);
	if (tag >= f->ntargets)
		return;
	b = &f->br[tag];
	if (b->ct != t)
		return;
	b->ct = NULL;
	if (!b->status) {
		branch_done(f, b, 408);
		fork_check(f);
	}
}

static void on_release(struct txn *st)
{
	struct fork *f = txn_user_data(st);

	if (!f || !f->r)
		return;
	for (unsigned i = 0; i < f->ntargets; i++)
		timer_stop(f->r->cfg.wheel, &f->br[i].timer_c);
	free(f->best);
	f->best = NULL;
	if (!f->r->cfg.dialogs)
		return;
	if (f->dialog)
		dlg_remove_early(f->call_id, f->from_tag);
	if (f->bye)
		dlg_remove(f->call_id, f->from_tag, f->to_tag);
}

static const struct txn_user user_ops = {
	.gone = on_gone,
	.release = on_release,
};

/* RFC 3261 §16.8: no final within Timer C. */
static void timer_c_cb(struct timer *tm)
{
	struct branch *b = caa_container_of(tm, struct branch, timer_c);
	struct fork *f = b->f;
	struct txn *st = f->st;

	if (!branch_pending(b) || !b->ct)
		return;
	if (st)
		obj_get(st);
	txn_cli_cancel(b->ct);
	if (!b->provisional) {
		/* As if the branch had answered 408. */
		branch_done(f, b, 408);
		if (better(408, f->best_status)) {
			free(f->best);
			f->best = NULL;
			f->best_status = 408;
		}
		fork_check(f);
	}
	if (st)
		obj_put(st);
}

int route_new(const struct route_cfg *cfg, struct route **rp)
{
	struct txn_cfg tc;
	struct route *r;
	int err = -ENOMEM;

	if (!cfg->conf || !cfg->wheel || !cfg->arena || !cfg->send)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->cfg = *cfg;
	r->c = cfg->conf;
	r->a = cfg->arena;
	r->rl.burst = 10;
	r->hostport =
	    calloc(r->c->nlisten ? r->c->nlisten : 1, sizeof(*r->hostport));
	if (!r->hostport)
		goto out;
	for (unsigned i = 0; i < r->c->nlisten; i++) {
		const struct conf_listen *l = &r->c->listen[i];

		/* What peers reach this entry at: `advertise`, else the
		 * address (conf.h adv_host; a conf made by hand has none). */
		if (l->adv_host)
			snprintf(r->hostport[i], sizeof(r->hostport[i]),
				 "%s:%u", l->adv_host, l->adv_port);
		else
			snprintf(r->hostport[i], sizeof(r->hostport[i]),
				 strchr(l->address, ':') ? "[%s]:%u" : "%s:%u",
				 l->address, l->port);
	}
	memset(&tc, 0, sizeof(tc));
	tc.t1_ms = proxy_conf(r->c)->t1_ms;
	tc.t2_ms = proxy_conf(r->c)->t2_ms;
	tc.t4_ms = proxy_conf(r->c)->t4_ms;
	tc.shard = cfg->shard;
	tc.max_headers = r->c->max_headers;
	tc.send = cfg->send;
	tc.send_ctx = cfg->send_ctx;
	tc.user = &user_ops;
	tc.hist = cfg->hist;
	/* The requests answered here (registrar, OPTIONS, local replies:
	 * no response context) are not read again once answered. */
	tc.compact_local = true;
	err = txn_layer_new(&tc, cfg->wheel, &r->txns);
	if (err)
		goto out;
	*rp = r;
	return 0;
out:
	route_free(r);
	return err;
}

void route_set_conf(struct route *r, const struct conf *c)
{
	if (r && c)
		r->c = c;
}

void route_free(struct route *r)
{
	if (!r)
		return;
	r->closing = true;
	txn_layer_free(r->txns);
	free(r->hostport);
	free(r);
}

/* Slice @p s of @p m, moved into the copy at @p base. */
static struct slice moved(const struct sipmsg *m, struct slice base,
			  struct slice s)
{
	if (!s.p || s.p < m->buf || s.p + s.len > m->buf + m->len ||
	    base.len != m->len)
		return slice_make(NULL, 0);
	return slice_make(base.p + (s.p - m->buf), s.len);
}

static struct slice header_uri(const struct sipmsg *m, enum hdr_id id)
{
	const struct siphdr *h = sipmsg_hdr(m, id);
	struct nameaddr na;

	if (h && nameaddr_parse(h->value, &na) == 0)
		return na.uri;
	return slice_make(NULL, 0);
}

/* A BYE of a dialog we record-routed: the dialog is terminated. */
static bool bye_dialog(struct route *r, const struct sipmsg *m)
{
	const struct dlg *d;
	struct dlg nd;
	bool found = false;

	if (!r->cfg.dialogs || !m->to_tag.len || !m->from_tag.len)
		return false;
	urcu_memb_read_lock();
	d = dlg_lookup_rcu(m->call_id, m->from_tag, m->to_tag);
	if (d) {
		nd = *d;
		found = true;
	}
	/* Publish copies the slices; read them while the entry lives. */
	if (found) {
		nd.state = DLG_TERMINATED;
		nd.changed_ms = 0;
		urcu_memb_read_unlock();
		/* The entry may be replaced meanwhile only by this shard. */
		dlg_publish(&nd);
		return true;
	}
	urcu_memb_read_unlock();
	return false;
}

/*
 * A request inside a dialog we record-routed: its sender's CSeq, and
 * on a target refresh its new Contact (RFC 3261 §12.2.2, RFC 3311),
 * for dialog.end. The BYE itself is bye_dialog()'s.
 */
static void note_request(const struct sipmsg *m)
{
	bool refresh = m->method == SIP_INVITE || m->method == SIP_UPDATE;

	if (m->method == SIP_ACK || m->method == SIP_CANCEL ||
	    m->method == SIP_BYE || !m->from_tag.len)
		return;
	dlg_note_request(m->call_id, m->from_tag, m->to_tag, m->cseq,
			 refresh ? header_uri(m, HDR_CONTACT)
				 : slice_make(NULL, 0));
}

/* The route set from here to the caller: the Record-Route values of its
 * INVITE as received (proxies before us, nearest first). */
static struct slice caller_route(struct route *r, const struct sipmsg *m)
{
	struct slice rv[MAX_ROUTES], joined;
	int cnt = hdr_values(m, HDR_RECORD_ROUTE, rv, MAX_ROUTES);

	if (cnt <= 0 ||
	    arena_join(r->a, rv, (unsigned)cnt, SLICE_LIT(", "), &joined))
		return slice_make(NULL, 0);
	return joined;
}

/* Copy @p s to @p base + *@p op; the copy (empty stays empty). */
static struct slice keep(char *base, size_t *op, struct slice s)
{
	struct slice k = slice_make(base + *op, s.len);

	if (!s.len)
		return slice_make(NULL, 0);
	memcpy(base + *op, s.p, s.len);
	*op += s.len;
	return k;
}

/* The interned host of @p uri (a sip/sips URI whose host is a name),
 * for TLS to verify; 0 when it does not parse or the table is full. */
static uint32_t resolved_name(struct slice uri)
{
	struct sipuri u;

	if (uri_parse(uri, &u) < 0 || !u.host.len)
		return 0;
	return peer_name_intern(u.host.p, u.host.len);
}

/* Replace each target of @p p that names a host (route_target.resolve)
 * by its destinations, in order (RFC 3263 §4.3: one after the other on
 * 503, 408 or a transport error). Returns 0 (when none is left, p says
 * what to answer), -EINPROGRESS (every lookup needed is asked), or
 * -ENOMEM. */
static int expand(struct route *r, const struct sipmsg *m, struct route_plan *p)
{
	struct route_target in[ROUTE_MAX_TARGETS];
	struct peer d[ROUTE_MAX_TARGETS];
	unsigned n = 0, nin = p->ntargets, named = 0;
	bool pending = false, sips;
	int worst = -ENOENT;
	struct sipuri u;

	for (unsigned i = 0; i < nin; i++)
		named += p->t[i].resolve.len != 0;
	if (!named)
		return 0;
	sips = sipmsg_uri_parse(m, m->ruri, &u) == 0 && u.scheme == URI_SIPS;
	memcpy(in, p->t, nin * sizeof(in[0]));
	for (unsigned i = 0; i < nin; i++) {
		int c;

		if (!in[i].resolve.len) {
			p->t[n++] = in[i];
			continue;
		}
		c = r->cfg.resolve
			? r->cfg.resolve(r->cfg.resolve_ctx, in[i].resolve, d,
					 ROUTE_MAX_TARGETS - n)
			: -EDESTADDRREQ;
		if (c == -EINPROGRESS || c == -ENOMEM) {
			pending |= c == -EINPROGRESS;
			if (c == -ENOMEM)
				return c;
			continue;
		}
		if (c < 0) {
			/* No such name is 404; a failed DNS wins (503). */
			if (c != -ENOENT)
				worst = c;
			continue;
		}
		for (int j = 0; j < c && n < ROUTE_MAX_TARGETS; j++) {
			/* RFC 5630 §3.1.3: a sips: request over TLS only. */
			if (sips && d[j].proto != PEER_TLS)
				continue;
			/* RFC 5922 §7.2: over TLS the certificate must
			 * name the domain that was resolved. */
			if (d[j].proto == PEER_TLS &&
			    !(d[j].tls_name = resolved_name(in[i].resolve)))
				continue;
			p->t[n] = in[i];
			p->t[n].dest = d[j];
			p->t[n].resolve = slice_make(NULL, 0);
			n++;
		}
	}
	if (pending)
		return -EINPROGRESS;
	p->ntargets = n;
	p->failover = true;
	if (n)
		return 0;
	/* RFC 3263 leaves the answer to us: a name that does not exist
	 * will not come to exist on a retry (404); a DNS that fails is
	 * temporary, and a 503 makes the client try another server
	 * (RFC 3263 §4.3). */
	if (worst == -EDESTADDRREQ)
		plan_reply(p, err_sip_status(ERR_NO_ROUTE), "No Route");
	else if (worst == -ENOENT)
		plan_reply(p, 404, "Not Found (domain does not resolve)");
	else if (worst == -EPROTONOSUPPORT || worst == -EBADMSG)
		plan_reply(p, err_sip_status(ERR_NO_ROUTE), "No Route");
	else
		plan_reply(p, 503, "Service Unavailable (DNS failed)");
	return 0;
}

int route_request(struct route *r, const struct sipmsg *m,
		  const struct peer *from)
{
	return route_request_fwd(r, m, from, NULL);
}

int route_request_fwd(struct route *r, const struct sipmsg *m,
		      const struct peer *from, const struct hook_fwd *fw)
{
	return route_request_body(r, m, from, fw, NULL, NULL);
}

int route_request_body(struct route *r, const struct sipmsg *m,
		       const struct peer *from, const struct hook_fwd *fw,
		       route_body_fn *body, void *ctx)
{
	struct slice req, out, crs = { NULL, 0 };
	struct route_plan p;
	size_t strings = 0, o = 0;
	struct txn *st;
	struct fork *f;
	int err;

	err = route_plan_fwd(r->c, m, fw, r->a, &p);
	if (!err)
		route_flow_apply(&p, from);
	if (!err && !p.status)
		err = expand(r, m, &p);
	if (err)
		return err;
	/* A caller who may not learn who exists (proxy/hook.h): a known
	 * user without a binding looks like an unknown one. */
	if (fw && fw->conceal && p.status == err_sip_status(ERR_NO_BINDING))
		plan_reply(&p, err_sip_status(ERR_NO_USER), "Not Found");
	if (p.status)
		return route_reply(r, m, from, p.status, p.reason,
				   slice_make(NULL, 0));
	for (unsigned i = 0; i < p.ntargets; i++) {
		p.t[i].body = body ? body(ctx, &p.t[i]) : slice_make(NULL, 0);
		strings += p.t[i].ruri.len + p.t[i].path.len + p.t[i].hdrs.len +
			   p.t[i].body.len;
	}
	if (r->cfg.dialogs && m->to_tag.len)
		note_request(m);
	else if (r->cfg.dialogs && m->method == SIP_INVITE)
		crs = caller_route(r, m);
	strings += crs.len;
	err = txn_srv_new(r->txns, m, from,
			  sizeof(*f) +
			      p.ntargets * (sizeof(*f->br) + sizeof(*f->t)) +
			      strings,
			  &st);
	if (err)
		return err;
	obj_get(st);
	f = txn_user_data(st);
	/* Both element sizes are multiples of their alignment, as is the
	 * struct's, so each array starts aligned. */
	f->br = (struct branch *)(f + 1);
	f->t = (struct route_target *)(f->br + p.ntargets);
	f->strings = (char *)(f->t + p.ntargets);
	f->r = r;
	f->st = st;
	f->from = *from;
	f->invite = m->method == SIP_INVITE;
	f->failover = p.failover;
	f->pop = p.pop;
	f->strict_repair = p.strict_repair;
	f->strict_next = p.strict_next;
	f->ntargets = p.ntargets;
	f->record_route = proxy_conf(r->c)->record_route &&
			  is_dialog_creating(m->method) && !m->to_tag.len;
	f->dialog = f->invite && f->record_route;
	for (unsigned i = 0; i < p.ntargets; i++) {
		f->t[i] = p.t[i];
		f->t[i].ruri = keep(f->strings, &o, p.t[i].ruri);
		f->t[i].path = keep(f->strings, &o, p.t[i].path);
		f->t[i].hdrs = keep(f->strings, &o, p.t[i].hdrs);
		f->t[i].body = keep(f->strings, &o, p.t[i].body);
	}
	f->caller_route = keep(f->strings, &o, crs);
	f->cseq = m->cseq;
	req = txn_srv_request(st);
	f->call_id = moved(m, req, m->call_id);
	f->from_tag = moved(m, req, m->from_tag);
	f->to_tag = moved(m, req, m->to_tag);
	if (f->dialog) {
		f->caller = moved(m, req, header_uri(m, HDR_FROM));
		f->callee = moved(m, req, header_uri(m, HDR_TO));
		f->caller_contact = moved(m, req, header_uri(m, HDR_CONTACT));
	}
	if (m->method == SIP_BYE)
		f->bye = bye_dialog(r, m);
	/* RFC 3261 §16.2: 100 Trying at once for an INVITE. */
	if (f->invite && reply_opts_send(r, m, from, 100, NULL,
					 slice_make(NULL, 0), &out) == 0)
		txn_srv_respond(st, 100, out.p, out.len);
	start_group(f, m);
	fork_check(f);
	obj_put(st);
	return 0;
}

int route_ack(struct route *r, const struct sipmsg *m, const struct peer *from)
{
	char branch[TXN_BRANCH_MAX];
	struct route_plan p;
	struct fork f;
	struct slice out;
	size_t blen;
	int err;

	err = route_plan(r->c, m, r->a, &p);
	if (!err)
		route_flow_apply(&p, from);
	if (!err && !p.status)
		err = expand(r, m, &p);
	if (err || p.status || !p.ntargets)
		return err ? err : -ENOENT;
	memset(&f, 0, sizeof(f));
	f.r = r;
	f.from = *from;
	f.pop = p.pop;
	f.strict_repair = p.strict_repair;
	f.strict_next = p.strict_next;
	err = build_request(r, &f, m, &p.t[0], true, branch, &blen, &out);
	if (err)
		return err;
	return send_to(r, &p.t[0].dest, out.p, out.len);
}

int route_cancel(struct route *r, struct txn *st, const struct sipmsg *m,
		 const struct peer *from)
{
	struct fork *f = txn_user_data(st);
	int err;

	/* §16.10: the CANCEL itself is answered hop by hop. */
	err = route_reply(r, m, from, 200, NULL, slice_make(NULL, 0));
	if (!f || !f->r || f->final_sent || f->cancelled)
		return err;
	obj_get(st);
	f->cancelled = true;
	cancel_pending(f);
	fork_check(f);
	obj_put(st);
	return err;
}

/* §16.11 / §18.2.2: our Via on top, the next one says where. */
static int stateless_response(struct route *r, const struct sipmsg *m,
			      const struct peer *from)
{
	const struct siphdr *h = sipmsg_hdr(m, HDR_VIA);
	struct slice rest, e, out;
	struct sipvia v;
	struct peer to;
	unsigned shard, k = 0;
	uint32_t lh;
	uint16_t port;
	int err;

	if (!h || txn_branch_parse(m->via.branch, &shard, &lh) < 0 ||
	    !addr_is_ours(r->c, m->via.host, m->via.port))
		return -ENOENT;
	/* The second via-parm: in the first header or a later one. */
	for (; h && k < 2; h = sipmsg_hdr_next(m, h)) {
		rest = h->value;
		while (k < 2 && hdr_split_next(&rest, &e) > 0)
			k++;
	}
	if (k < 2 || via_parse(e, &v) < 0)
		return -ENOENT;
	memset(&to, 0, sizeof(to));
	if (slice_caseeq_cstr(v.transport, "UDP"))
		to.proto = PEER_UDP;
	else if (slice_caseeq_cstr(v.transport, "TCP"))
		to.proto = PEER_TCP;
	else if (slice_caseeq_cstr(v.transport, "TLS"))
		to.proto = PEER_TLS;
	else if (slice_caseeq_cstr(v.transport, "WS"))
		to.proto = PEER_WS;
	else if (slice_caseeq_cstr(v.transport, "WSS"))
		to.proto = PEER_WSS;
	else
		return -EPROTONOSUPPORT;
	to.listen_idx = from->listen_idx;
	port = v.port ? v.port : 5060;
	if (v.rport.len) {
		uint64_t rp;

		if (slice_to_u64(v.rport, 65535, &rp) == 0 && rp)
			port = (uint16_t)rp;
	}
	err = host_addr(v.received.len ? v.received : v.host, port, &to.addr,
			&to.addrlen);
	if (err)
		return err;
	/* RFC 3261 §18.2.2: over TCP, the connection the request came
	 * on (its remote end is received:rport), else a new one to the
	 * received address and the sent-by port. */
	if (peer_proto_is_stream(to.proto) &&
	    !(r->cfg.conn_find &&
	      (to.conn_id = r->cfg.conn_find(
		   r->cfg.send_ctx, (const struct sockaddr *)&to.addr)))) {
		err = host_addr(v.received.len ? v.received : v.host,
				v.port		       ? v.port
				: to.proto == PEER_TLS ? 5061
						       : 5060,
				&to.addr, &to.addrlen);
		if (err)
			return err;
	}
	err = upstream_bytes(r, m, NULL, 0, &out);
	if (err)
		return err;
	return send_to(r, &to, out.p, out.len);
}

int route_response(struct route *r, const struct sipmsg *m,
		   const struct peer *from)
{
	struct txn *ct = txn_cli_find(r->txns, m);

	int err;

	if (ct) {
		r->rsp_from = from;
		txn_cli_receive(ct, m);
		r->rsp_from = NULL;
		return 0;
	}
	r->rsp_from = from;
	err = stateless_response(r, m, from);
	r->rsp_from = NULL;
	return err;
}

bool route_foreign(const struct conf *c, const struct sipmsg *m)
{
	unsigned seen = 0;

	for (const struct siphdr *h = sipmsg_hdr(m, HDR_ROUTE); h;
	     h = sipmsg_hdr_next(m, h)) {
		struct slice rest = h->value, e;
		int r;

		while ((r = hdr_split_next(&rest, &e)) == 1 && seen++ < 64) {
			struct nameaddr na;
			struct sipuri u;

			if (nameaddr_parse(e, &na) < 0 ||
			    uri_parse(na.uri, &u) < 0 ||
			    !route_uri_is_ours(c, &u))
				return true;
		}
		if (r < 0 || seen >= 64)
			return true;
	}
	return false;
}
