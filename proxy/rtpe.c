/* proxy/rtpe.c - media anchoring through rtpengine (ng offer, answer,
 * delete) for the proxy role */
#include "proxy/rtpe.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "proxy/base/bencode.h"
#include "proxy/base/err.h"
#include "proxy/base/hash.h"
#include "proxy/base/log.h"
#include "proxy/base/stats.h"
#include "proxy/core/conf.h"
#include "proxy/core/shard.h"
#include "proxy/nat.h"
#include "proxy/nat_conf.h"
#include "proxy/ng.h"
#include "proxy/proxy_conf.h"
#include "proxy/rtpe_conf.h"
#include "proxy/sip/hdr.h"
#include "proxy/sip/msg.h"
#include "proxy/sip/peer.h"

/* Buckets of a shard's table of anchored calls. */
#define RTPE_BUCKETS 1024

/* Counters of one shard; only that shard writes them. */
struct rtpe_stats {
	uint64_t offers, answers, deletes, timeouts, errors, held, calls;
	uint64_t failovers, resent; /* the ng client's (ng_counters()) */
};

static const struct stats_item stats_items[] = {
	{ "offers",
	  "ng offers sent (INVITE, UPDATE with SDP; 18x, 2xx with the "
	  "offer of an INVITE without SDP)",
	  false },
	{ "answers", "ng answers sent (18x, 2xx, PRACK, ACK with SDP)", false },
	{ "deletes", "ng deletes sent (BYE, CANCEL, failure, timeout)", false },
	{ "timeouts", "ng requests no rtpengine answered", false },
	{ "errors", "ng requests rtpengine refused or answered badly", false },
	{ "held", "messages waiting for rtpengine now", true },
	{ "calls", "calls anchored in rtpengine now", true },
	{ "failovers",
	  "ng requests moved on to the next rtpengine after "
	  "one never answered (marked down for media.down_s)",
	  false },
	{ "retransmissions", "ng requests sent again after media.timeout_ms",
	  false },
};

_Static_assert(sizeof(struct rtpe_stats) == sizeof(stats_items) /
						sizeof(stats_items[0]) *
						sizeof(uint64_t),
	       "an rtpe_stats row is its items, in order");

static struct stats_rows rows = {
	.width = sizeof(stats_items) / sizeof(stats_items[0]),
};

static struct stats_source stats_src = {
	.module = "rtpengine",
	.items = stats_items,
	.nitems = sizeof(stats_items) / sizeof(stats_items[0]),
	.label = "shard",
};

int rtpe_init(const struct conf *c)
{
	unsigned nshards = c->workers;

	if (!rtpe_conf(c)->enabled || nshards == 0)
		return 0;
	return stats_rows_add(&stats_src, &rows, nshards);
}

void rtpe_fini(void)
{
	stats_rows_remove(&stats_src, &rows);
}

/* A call anchored here (an offer was answered), or an INVITE without
 * SDP whose offer comes in a response. */
struct call {
	struct call *next;
	uint64_t hash;
	uint64_t seen_ms;
	bool confirmed;
	bool anchored;	      /* rtpengine has it: an offer was answered */
	bool late;	      /* INVITE late_cseq had no SDP: a 18x or 2xx to it
				 with SDP is the offer (RFC 3261 §13.2.1) */
	bool rsp_offer;	      /* the last offer came in a response: its answer
				 comes in the PRACK or ACK (RFC 3262 §5) */
	enum rtpe_to offerer; /* the kind of the last offer's sender: its
				 answer goes back as that */
	enum rtpe_to late_to; /* the kind of the SDP-less INVITE's sender:
				 the offer in the response goes to it */
	unsigned branches;    /* a fork of mixed media: the kinds (1u <<
				 enum rtpe_to) offered, each with its
				 via-branch, until a 2xx's answer */
	uint32_t late_cseq;
	size_t idlen;
	char id[];
};

struct fork_wait;

/* A message waiting for rtpengine: its copy and where to cut it. */
struct hold {
	struct hold *prev, *next;
	struct rtpe *r;
	struct ng_call *nc;
	rtpe_resume_fn *cb;
	void *arg;
	bool request;
	bool offer;		      /* an offer (else an answer) */
	enum rtpe_to from_kind;	      /* the sender's kind of media */
	struct fork_wait *fw;	      /* one offer of rtpe_hold_fork() */
	enum rtpe_to to_kind;	      /* the kind it is made for */
	unsigned others;	      /* a 2xx's answer in a fork: the kinds
					 of the offers to delete after it */
	struct slice call_id, branch; /* into buf */
	struct slice from_tag;	      /* into buf */
	uint32_t cseq;
	enum sip_method method;
	size_t cl_start, cl_end; /* the Content-Length line (or where one
				    goes) */
	size_t body_off;
	size_t len;
	char buf[];
};

struct rtpe {
	struct shard *sh;
	struct rtpe_stats *st;
	struct rtpe_stats none; /* without rtpe_init() (unit tests) */
	struct ng *ng;
	struct hold *holds;
	struct call *tab[RTPE_BUCKETS];
	unsigned ncalls;   /* anchored */
	unsigned nentries; /* in tab: anchored, or waiting for a late offer */
	unsigned nholds;
};

static uint64_t now_ms(const struct rtpe *r)
{
	return uv_now(shard_loop(r->sh));
}

int rtpe_new(struct shard *sh, const struct conf *c, struct rtpe **rp)
{
	const struct rtpe_conf *mc = rtpe_conf(c);
	struct ng_opts o;
	struct rtpe *r;
	int err;

	*rp = NULL;
	if (!mc->enabled)
		return 0;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->sh = sh;
	r->st = (struct rtpe_stats *)stats_rows_row(&rows, shard_id(sh));
	if (!r->st)
		r->st = &r->none;
	memset(&o, 0, sizeof(o));
	o.servers = mc->servers;
	o.nservers = mc->nservers;
	o.timeout_ms = mc->timeout_ms;
	o.retries = mc->retries;
	o.down_ms = mc->down_s * 1000;
	err = ng_new(shard_loop(sh), &o, &r->ng);
	if (err) {
		free(r);
		return err;
	}
	*rp = r;
	return 0;
}

static struct call *call_find(const struct rtpe *r, struct slice id,
			      struct call ***prevp)
{
	uint64_t h = hash_slice(id, 0x72747065);
	struct call *const *pp = &r->tab[h % RTPE_BUCKETS];

	for (; *pp; pp = &(*pp)->next) {
		if ((*pp)->hash == h &&
		    slice_eq(slice_make((*pp)->id, (*pp)->idlen), id)) {
			if (prevp)
				*prevp = (struct call **)pp;
			return *pp;
		}
	}
	return NULL;
}

/* The entry of call @p id, made (not anchored) when there is none;
 * NULL without memory (the call is not tracked: its delete comes from
 * rtpengine's own timeout). */
static struct call *call_get(struct rtpe *r, struct slice id)
{
	struct call *c = call_find(r, id, NULL);
	uint64_t h;

	if (c)
		return c;
	c = calloc(1, sizeof(*c) + id.len);
	if (!c)
		return NULL;
	h = hash_slice(id, 0x72747065);
	c->hash = h;
	c->seen_ms = now_ms(r);
	c->idlen = id.len;
	memcpy(c->id, id.p, id.len);
	c->next = r->tab[h % RTPE_BUCKETS];
	r->tab[h % RTPE_BUCKETS] = c;
	r->nentries++;
	return c;
}

/* Note call @p id anchored: rtpengine answered its offer (@p offer) or
 * answer; an offer's sender of kind @p from_kind is the offerer, in a
 * request or (@p in_rsp) a response. */
static struct call *call_anchor(struct rtpe *r, struct slice id, bool offer,
				bool in_rsp, enum rtpe_to from_kind)
{
	struct call *c = call_get(r, id);

	if (!c)
		return NULL;
	c->seen_ms = now_ms(r);
	if (offer) {
		c->offerer = from_kind;
		c->rsp_offer = in_rsp;
	}
	if (!c->anchored) {
		c->anchored = true;
		r->ncalls++;
		stats_set(&r->st->calls, r->ncalls);
	}
	return c;
}

static void call_remove(struct rtpe *r, struct call **pp)
{
	struct call *c = *pp;

	*pp = c->next;
	r->nentries--;
	if (c->anchored) {
		r->ncalls--;
		stats_set(&r->st->calls, r->ncalls);
	}
	free(c);
}

void rtpe_free(struct rtpe *r)
{
	unsigned i;

	if (!r)
		return;
	while (r->holds) {
		struct hold *h = r->holds;

		r->holds = h->next;
		ng_cancel(h->nc);
		h->cb(h->arg, -ECANCELED, slice_make(NULL, 0));
		free(h);
	}
	stats_set(&r->st->held, 0);
	for (i = 0; i < RTPE_BUCKETS; i++)
		while (r->tab[i])
			call_remove(r, &r->tab[i]);
	ng_free(r->ng);
	free(r);
}

unsigned rtpe_calls(const struct rtpe *r)
{
	return r ? r->ncalls : 0;
}

/* The body of @p m is SDP: Content-Type application/sdp (RFC 4566
 * §8.1), parameters allowed; a multipart body is not looked into. */
static bool has_sdp(const struct sipmsg *m)
{
	static const char sdp[] = "application/sdp";
	struct slice v;
	int i;

	if (m->body.len == 0)
		return false;
	i = m->first[HDR_CONTENT_TYPE];
	if (i < 0)
		return false;
	v = m->hdrs[i].value;
	if (v.len < sizeof(sdp) - 1 ||
	    !slice_caseeq(slice_make(v.p, sizeof(sdp) - 1),
			  slice_make(sdp, sizeof(sdp) - 1)))
		return false;
	return v.len == sizeof(sdp) - 1 || v.p[sizeof(sdp) - 1] == ';' ||
	       v.p[sizeof(sdp) - 1] == ' ' || v.p[sizeof(sdp) - 1] == '\t';
}

enum kind { KIND_NONE, KIND_OFFER, KIND_ANSWER };

/* Whether @p m carries an offer or an answer for rtpengine (rtpe_wants());
 * *cp: its call's entry, or NULL. */
static enum kind kind_of(const struct rtpe *r, const struct sipmsg *m,
			 const struct call **cp)
{
	const struct call *c;

	*cp = NULL;
	if (!r || !has_sdp(m) || m->call_id.len == 0 || m->from_tag.len == 0)
		return KIND_NONE;
	c = r->nentries ? call_find(r, m->call_id, NULL) : NULL;
	*cp = c;
	if (m->is_request) {
		if (m->method == SIP_INVITE || m->method == SIP_UPDATE)
			return KIND_OFFER;
		/* RFC 3262 §5, RFC 3261 §13.2.1: the answer to an offer in
		 * a reliable 18x or in a 2xx. */
		if ((m->method == SIP_PRACK || m->method == SIP_ACK) &&
		    m->to_tag.len > 0 && c && c->rsp_offer)
			return KIND_ANSWER;
		return KIND_NONE;
	}
	if ((m->cseq_method != SIP_INVITE && m->cseq_method != SIP_UPDATE) ||
	    m->status <= 100 || m->status >= 300 || m->to_tag.len == 0 || !c)
		return KIND_NONE;
	/* The INVITE had no SDP: every 18x or 2xx body to it is the
	 * offer (its retransmissions, or a 2xx repeating the 18x's, get
	 * the same from rtpengine). */
	if (m->cseq_method == SIP_INVITE && c->late && m->cseq == c->late_cseq)
		return KIND_OFFER;
	return c->anchored ? KIND_ANSWER : KIND_NONE;
}

bool rtpe_wants(const struct rtpe *r, const struct sipmsg *m)
{
	const struct call *c;

	return kind_of(r, m, &c) != KIND_NONE;
}

static void put_list(struct bencode_buf *b, const char *key,
		     const char *const *v, unsigned n)
{
	unsigned i;

	if (!n)
		return;
	bencode_cstr(b, key);
	bencode_list(b);
	for (i = 0; i < n; i++)
		bencode_cstr(b, v[i]);
	bencode_end(b);
}

/*
 * What crosses between a browser and a plain RTP phone (RFC 8827,
 * RFC 8834: WebRTC media is ICE + DTLS-SRTP + AVPF + rtcp-mux): towards
 * a browser, rtpengine offers or answers UDP/TLS/RTP/SAVPF with ICE
 * candidates and rtcp-mux, and no SDES keys (browsers use DTLS-SRTP
 * only); towards a phone, plain RTP/AVP without ICE, RTCP on its own
 * port. Towards a routes[].srtp trunk: RTP/SAVP with a=crypto keys
 * (SDES, RFC 4568) and no DTLS, or UDP/TLS/RTP/SAVP (DTLS-SRTP,
 * RFC 5764) and no SDES keys. Between two of a kind nothing is changed.
 */
static void put_bridge(struct bencode_buf *b, bool offer, enum rtpe_to from,
		       enum rtpe_to to)
{
	static const char *const mux_offer[] = { "offer" };
	static const char *const mux_demux[] = { "demux" };
	static const char *const off[] = { "off" };
	static const char *const proto[] = {
		[RTPE_TO_RTP] = "RTP/AVP",
		[RTPE_TO_WEBRTC] = "UDP/TLS/RTP/SAVPF",
		[RTPE_TO_OFFERER] = "RTP/AVP",
		[RTPE_TO_SDES] = "RTP/SAVP",
		[RTPE_TO_DTLS] = "UDP/TLS/RTP/SAVP",
	};

	if (from == to)
		return;
	bencode_cstr(b, "transport-protocol");
	bencode_cstr(b, proto[to]);
	if (to == RTPE_TO_WEBRTC || from == RTPE_TO_WEBRTC) {
		bencode_cstr(b, "ICE");
		bencode_cstr(b, to == RTPE_TO_WEBRTC ? "force" : "remove");
	}
	if (to == RTPE_TO_WEBRTC || to == RTPE_TO_DTLS)
		put_list(b, "SDES", off, 1);
	if (to == RTPE_TO_SDES) {
		bencode_cstr(b, "DTLS");
		bencode_cstr(b, "off");
	}
	if (to == RTPE_TO_WEBRTC && offer)
		put_list(b, "rtcp-mux", mux_offer, 1);
	else if (from == RTPE_TO_WEBRTC && offer)
		put_list(b, "rtcp-mux", mux_demux, 1);
}

/* The per-call flags of media.flags as ng "replace" and "flags". */
static void put_flags(struct bencode_buf *b, unsigned f)
{
	const char *flags[8], *replace[2];
	unsigned nf = 0, nr = 0;

	if (f & RTPE_FLAG_REPLACE_ORIGIN)
		replace[nr++] = "origin";
	if (f & RTPE_FLAG_REPLACE_SESSION)
		replace[nr++] = "session-connection";
	if (f & RTPE_FLAG_TRUST_ADDRESS)
		flags[nf++] = "trust-address";
	if (f & RTPE_FLAG_SYMMETRIC)
		flags[nf++] = "symmetric";
	if (f & RTPE_FLAG_ASYMMETRIC)
		flags[nf++] = "asymmetric";
	if (f & RTPE_FLAG_STRICT_SOURCE)
		flags[nf++] = "strict-source";
	if (f & RTPE_FLAG_MEDIA_HANDOVER)
		flags[nf++] = "media-handover";
	if (f & RTPE_FLAG_SIP_SOURCE)
		flags[nf++] = "SIP-source-address";
	put_list(b, "flags", flags, nf);
	put_list(b, "replace", replace, nr);
}

unsigned rtpe_call_flags(const struct conf *c, const struct sipmsg *m,
			 const struct peer *from)
{
	const struct nat_conf *nc = nat_conf(c);
	unsigned f = rtpe_conf(c)->flags;

	if (nc->detect && nat_detect(nc, m, from)) {
		f &= ~RTPE_FLAG_TRUST_ADDRESS;
		f |= RTPE_FLAG_REPLACE_ORIGIN | RTPE_FLAG_SIP_SOURCE;
	}
	return f;
}

/* "received-from": where the message came from, for rtpengine to use
 * instead of the SDP's address when trust-address is off. */
static void put_source(struct bencode_buf *b, const struct peer *from)
{
	char addr[64];
	const char *fam = from->addr.ss_family == AF_INET6 ? "IP6" : "IP4";
	char *colon;

	peer_addr_str((const struct sockaddr *)&from->addr, addr, sizeof(addr));
	/* peer_addr_str() writes "IP:PORT" / "[IP6]:PORT": keep the IP. */
	colon = strrchr(addr, ':');
	if (colon)
		*colon = '\0';
	if (addr[0] == '[') {
		size_t n = strlen(addr);

		memmove(addr, addr + 1, n);
		if (n >= 2 && addr[n - 2] == ']')
			addr[n - 2] = '\0';
	}
	bencode_cstr(b, "received-from");
	bencode_list(b);
	bencode_cstr(b, fam);
	bencode_cstr(b, addr);
	bencode_end(b);
}

static void unlink_hold(struct rtpe *r, struct hold *h)
{
	if (h->prev)
		h->prev->next = h->next;
	else
		r->holds = h->next;
	if (h->next)
		h->next->prev = h->prev;
	r->nholds--;
	stats_set(&r->st->held, r->nholds);
}

/* The held message with @p sdp as its body; malloc'd into *outp. */
static int rewrite(const struct hold *h, struct slice sdp, char **outp,
		   size_t *lenp)
{
	char cl[48];
	int n = snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n", sdp.len);
	size_t len =
	    h->cl_start + (size_t)n + (h->body_off - h->cl_end) + sdp.len;
	char *p = malloc(len), *o;

	if (!p)
		return -ENOMEM;
	o = p;
	memcpy(o, h->buf, h->cl_start);
	o += h->cl_start;
	memcpy(o, cl, (size_t)n);
	o += n;
	memcpy(o, h->buf + h->cl_end, h->body_off - h->cl_end);
	o += h->body_off - h->cl_end;
	memcpy(o, sdp.p, sdp.len);
	*outp = p;
	*lenp = len;
	return 0;
}

static void log_fail(const struct hold *h, int err, const char *reason)
{
	static _Thread_local struct log_ratelimit rl = { .burst = 10 };
	char id[96];

	if (!log_enabled(LOG_NOTICE) || !log_ratelimit_ok(&rl))
		return;
	log_escape(h->call_id.p, h->call_id.len, id, sizeof(id));
	log_msg(LOG_NOTICE, "rtpengine: %s call-id=%s: %s%s%s",
		h->offer ? "offer" : "answer", id, err_str(err),
		reason ? ": " : "", reason ? reason : "");
}

static void count_err(struct rtpe *r, int err)
{
	/* Every ng request ends here: the client's own counters too. */
	if (r->ng) {
		const struct ng_counters *nc = ng_counters(r->ng);

		stats_set(&r->st->failovers, nc->failovers);
		stats_set(&r->st->resent, nc->resent);
	}
	if (err == -ETIMEDOUT || err == -EHOSTDOWN)
		stats_inc(&r->st->timeouts);
	else if (err && err != -ECANCELED)
		stats_inc(&r->st->errors);
}

/*
 * The offers of one forked request (rtpe_hold_fork()): one hold per
 * kind, each with its own ng offer; the request's owner hears once,
 * when the last one is back.
 */
struct fork_wait {
	rtpe_fork_fn *cb;
	void *arg;
	unsigned pending;     /* offers not back yet */
	int err;	      /* the first failure */
	struct rtpe_offers o; /* malloc'd copies of rtpengine's SDPs */
	size_t len;
	char buf[]; /* the request as received */
};

/* The via-branch of each kind's offer in a fork: opaque to rtpengine,
 * which tells the offers (and the answer) of one call apart by it. */
static const char *const via_tag[RTPE_TO__COUNT] = {
	[RTPE_TO_RTP] = "sipedge-rtp",	   [RTPE_TO_WEBRTC] = "sipedge-webrtc",
	[RTPE_TO_OFFERER] = "sipedge-any", [RTPE_TO_SDES] = "sipedge-sdes",
	[RTPE_TO_DTLS] = "sipedge-dtls",
};

/* The kind of offer among @p kinds a branch of kind @p kind got
 * (rtpe_offers_pick()): its own, else plain RTP, else the first. */
static enum rtpe_to pick_kind(unsigned kinds, enum rtpe_to kind)
{
	if (kinds & (1u << kind))
		return kind;
	if (kinds & (1u << RTPE_TO_RTP))
		return RTPE_TO_RTP;
	for (unsigned k = 0; k < RTPE_TO__COUNT; k++)
		if (kinds & (1u << k))
			return (enum rtpe_to)k;
	return kind;
}

struct slice rtpe_offers_pick(const struct rtpe_offers *o, enum rtpe_to kind)
{
	unsigned kinds = 0;

	for (unsigned k = 0; k < RTPE_TO__COUNT; k++)
		if (o->sdp[k].len)
			kinds |= 1u << k;
	if (!kinds || (unsigned)kind >= RTPE_TO__COUNT)
		return slice_make(NULL, 0);
	return o->sdp[pick_kind(kinds, kind)];
}

/* One offer of @p w is over (@p err); the last one tells the owner. */
static void fork_part_end(struct fork_wait *w, int err)
{
	if (err && (!w->err || err == -ECANCELED))
		w->err = err;
	if (--w->pending)
		return;
	if (w->err == -ECANCELED)
		w->cb(w->arg, w->err, slice_make(NULL, 0), NULL);
	else
		w->cb(w->arg, w->err, slice_make(w->buf, w->len),
		      w->err ? NULL : &w->o);
	for (unsigned k = 0; k < RTPE_TO__COUNT; k++)
		free((char *)w->o.sdp[k].p);
	free(w);
}

/* rtpe_free() cancels an offer of a fork (rtpe_resume_fn). */
static void fork_part_cancelled(void *arg, int err, struct slice msg)
{
	(void)msg;
	fork_part_end(arg, err);
}

static void delete_done(void *arg, int err, const struct ng_reply *rep);

/* rtpengine's delete of the offer of one branch of a fork (its
 * via-branch): its ports go, and with them any media of a branch that
 * lost the race to answer. */
static void delete_branch(struct rtpe *r, struct slice call_id,
			  struct slice from_tag, enum rtpe_to kind)
{
	struct bencode_buf b;
	char dict[512];
	size_t len = 0;
	int err;

	if (call_id.len + from_tag.len > sizeof(dict) - 128)
		return;
	bencode_init(&b, dict, sizeof(dict));
	bencode_dict(&b);
	bencode_cstr(&b, "command");
	bencode_cstr(&b, "delete");
	bencode_cstr(&b, "call-id");
	bencode_str(&b, call_id);
	bencode_cstr(&b, "from-tag");
	bencode_str(&b, from_tag);
	bencode_cstr(&b, "via-branch");
	bencode_cstr(&b, via_tag[kind]);
	bencode_end(&b);
	err = bencode_finish(&b, &len);
	if (!err)
		err = ng_send(r->ng, call_id, slice_make(dict, len),
			      delete_done, r, NULL);
	if (err)
		count_err(r, err);
	else
		stats_inc(&r->st->deletes);
}

/* The reason rtpengine gave for refusing, for the log line. */
static void reply_reason(int err, const struct ng_reply *rep, char *reason,
			 size_t size)
{
	struct slice why;

	if (err == -EREMOTEIO && rep &&
	    bencode_get_str(rep->nodes, 0, "error-reason", &why))
		log_escape(why.p, why.len, reason, size);
}

/* rtpengine answered one offer of a fork. */
static void fork_part_done(struct hold *h, int err, const struct ng_reply *rep)
{
	struct fork_wait *w = h->fw;
	struct rtpe *r = h->r;
	struct slice sdp = { NULL, 0 };
	char reason[96] = "", *copy;
	struct call *c;

	if (err != -ECANCELED) {
		reply_reason(err, rep, reason, sizeof(reason));
		if (!err && !bencode_get_str(rep->nodes, 0, "sdp", &sdp))
			err = -EBADMSG;
		if (!err) {
			copy = malloc(sdp.len ? sdp.len : 1);
			if (copy) {
				memcpy(copy, sdp.p, sdp.len);
				w->o.sdp[h->to_kind] =
				    slice_make(copy, sdp.len);
			} else {
				err = -ENOMEM;
			}
		}
		count_err(r, err);
		if (err)
			log_fail(h, err, reason[0] ? reason : NULL);
		/* rtpengine has the call now, even if another offer
		 * failed: rtpe_failed() or the BYE deletes it. */
		c = err ? NULL
			: call_anchor(r, h->call_id, true, false, h->from_kind);
		if (c)
			c->branches |= 1u << h->to_kind;
	}
	free(h);
	fork_part_end(w, err);
}

static void hold_done(void *arg, int err, const struct ng_reply *rep)
{
	struct hold *h = arg;
	struct rtpe *r = h->r;
	struct slice sdp = { NULL, 0 };
	char *out = NULL, reason[96] = "";
	size_t len = 0;

	h->nc = NULL;
	unlink_hold(r, h);
	if (h->fw) {
		fork_part_done(h, err, rep);
		return;
	}
	if (err == -ECANCELED) {
		h->cb(h->arg, err, slice_make(NULL, 0));
		free(h);
		return;
	}
	reply_reason(err, rep, reason, sizeof(reason));
	if (!err && !bencode_get_str(rep->nodes, 0, "sdp", &sdp))
		err = -EBADMSG;
	if (!err)
		err = rewrite(h, sdp, &out, &len);
	count_err(r, err);
	if (err) {
		log_fail(h, err, reason[0] ? reason : NULL);
		h->cb(h->arg, err, slice_make(h->buf, h->len));
	} else {
		call_anchor(r, h->call_id, h->offer, !h->request, h->from_kind);
		/* A fork answered with a 2xx: the other branches' offers
		 * go. */
		for (unsigned k = 0; k < RTPE_TO__COUNT; k++)
			if (h->others & (1u << k))
				delete_branch(r, h->call_id, h->from_tag,
					      (enum rtpe_to)k);
		h->cb(h->arg, 0, slice_make(out, len));
	}
	free(out);
	free(h);
}

/* Where the Content-Length line of @p m is, or where one goes (before
 * the empty line), and where the body starts. */
static void cut_points(const struct sipmsg *m, struct hold *h)
{
	int i = m->first[HDR_CONTENT_LENGTH];

	h->body_off = (size_t)(m->body.p - m->buf);
	if (i >= 0) {
		h->cl_start = (size_t)(m->hdrs[i].line.p - m->buf);
		h->cl_end = h->cl_start + m->hdrs[i].line.len;
		return;
	}
	h->cl_start = h->body_off;
	if (h->cl_start >= 1 && m->buf[h->cl_start - 1] == '\n')
		h->cl_start--;
	if (h->cl_start >= 1 && m->buf[h->cl_start - 1] == '\r')
		h->cl_start--;
	h->cl_end = h->cl_start;
}

static struct slice rebase(const struct sipmsg *m, const struct hold *h,
			   struct slice s)
{
	if (!s.p)
		return s;
	return slice_make(h->buf + (s.p - m->buf), s.len);
}

/* Same address family, address and port. */
static bool same_addr(const struct sockaddr_storage *a,
		      const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const struct sockaddr_in *)a,
					 *y = (const struct sockaddr_in *)b;

		return x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a,
					  *y = (const struct sockaddr_in6 *)b;

		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr,
			      sizeof(x->sin6_addr)) == 0;
	}
	return false;
}

enum rtpe_to rtpe_srtp_to(const struct conf *c, const struct peer *p)
{
	const struct proxy_conf *pc = proxy_conf(c);

	for (unsigned i = 0; i < pc->nroutes; i++) {
		const struct conf_route *rt = &pc->routes[i];

		for (unsigned k = 0;
		     rt->srtp != PROXY_SRTP_OFF && k < rt->nnext_hop; k++)
			if (rt->next_hop[k].addrlen &&
			    same_addr(&rt->next_hop[k].addr, &p->addr))
				return rt->srtp == PROXY_SRTP_SDES
					   ? RTPE_TO_SDES
					   : RTPE_TO_DTLS;
	}
	return RTPE_TO_RTP;
}

enum rtpe_to rtpe_peer_kind(const struct conf *c, const struct peer *p)
{
	if (peer_proto_is_ws(p->proto))
		return RTPE_TO_WEBRTC;
	return rtpe_srtp_to(c, p);
}

/* Whether the body of @p m lies within it. */
static bool body_ok(const struct sipmsg *m)
{
	return m->body.p >= m->buf &&
	       (size_t)(m->body.p - m->buf) + m->body.len <= m->len;
}

/*
 * Hold @p m (@p kind: its offer or answer, @p call: its entry or NULL)
 * and send rtpengine its ng request: @p to as rtpe_hold() says; @p fw
 * non-NULL: one offer of a fork, for kind @p to, with its via-branch.
 */
static int hold_send(struct rtpe *r, const struct conf *c,
		     const struct peer *from, const struct sipmsg *m,
		     enum kind kind, struct call *call, enum rtpe_to to,
		     struct fork_wait *fw, rtpe_resume_fn *cb, void *arg)
{
	enum rtpe_to from_kind = rtpe_peer_kind(c, from), to_kind;
	const char *via = fw ? via_tag[to] : NULL;
	bool offer = kind == KIND_OFFER, swap, ends_fork = false;
	unsigned others = 0;
	struct bencode_buf b;
	struct hold *h;
	char *dict;
	size_t cap = m->body.len + m->call_id.len + m->from_tag.len +
		     m->to_tag.len + 512,
	       dlen = 0;
	int err;

	/* rtpengine's from-tag is the offerer's: the To tag of an offer in
	 * a response (late offer) or of an answer in a request (PRACK,
	 * ACK), as the dialog's roles are the other way round there. */
	swap = m->is_request != offer;
	dict = malloc(cap);
	h = malloc(sizeof(*h) + m->len);
	if (!dict || !h) {
		free(dict);
		free(h);
		return -ENOMEM;
	}
	memset(h, 0, sizeof(*h));
	h->r = r;
	h->cb = cb;
	h->arg = arg;
	h->request = m->is_request;
	h->offer = offer;
	h->from_kind = from_kind;
	h->fw = fw;
	h->to_kind = to;
	h->len = m->len;
	memcpy(h->buf, m->buf, m->len);
	h->call_id = rebase(m, h, m->call_id);
	h->branch = rebase(m, h, m->via.branch);
	h->from_tag = rebase(m, h, m->from_tag);
	h->cseq = m->cseq;
	h->method = m->is_request ? m->method : m->cseq_method;
	cut_points(m, h);

	bencode_init(&b, dict, cap);
	bencode_dict(&b);
	bencode_cstr(&b, "command");
	bencode_cstr(&b, offer ? "offer" : "answer");
	bencode_cstr(&b, "call-id");
	bencode_str(&b, m->call_id);
	bencode_cstr(&b, "from-tag");
	bencode_str(&b, swap ? m->to_tag : m->from_tag);
	if (m->to_tag.len) {
		bencode_cstr(&b, "to-tag");
		bencode_str(&b, swap ? m->from_tag : m->to_tag);
	}
	bencode_cstr(&b, "sdp");
	bencode_str(&b, m->body);
	put_source(&b, from);
	put_flags(&b, rtpe_call_flags(c, m, from));
	/* An answer goes back to the offerer, whom the call remembers; an
	 * offer in a response to the sender of the SDP-less INVITE. */
	if (!offer)
		to_kind = call->offerer;
	else if (!m->is_request)
		to_kind = call->late_to;
	else
		to_kind = to == RTPE_TO_OFFERER ? from_kind : to;
	/* An answer from a branch of a fork of mixed media goes to the
	 * offer made for its kind; a 2xx's ends the fork: the others'
	 * offers are deleted once rtpengine took it (hold_done()). */
	if (!offer && !m->is_request && call->branches) {
		enum rtpe_to k = pick_kind(call->branches, from_kind);

		via = via_tag[k];
		if (m->cseq_method == SIP_INVITE && m->status >= 200) {
			others = call->branches & ~(1u << k);
			ends_fork = true;
		}
	}
	h->others = others;
	if (via) {
		bencode_cstr(&b, "via-branch");
		bencode_cstr(&b, via);
	}
	put_bridge(&b, offer, from_kind, to_kind);
	bencode_end(&b);
	err = bencode_finish(&b, &dlen);
	if (!err)
		err = ng_send(r->ng, m->call_id, slice_make(dict, dlen),
			      hold_done, h, &h->nc);
	free(dict);
	if (err) {
		count_err(r, err);
		free(h);
		return err;
	}
	stats_inc(offer ? &r->st->offers : &r->st->answers);
	/* A retransmission of the 2xx held meanwhile answers without a
	 * via-branch (the to-tag finds it) and deletes nothing twice. */
	if (ends_fork)
		call->branches = 0;
	h->next = r->holds;
	if (r->holds)
		r->holds->prev = h;
	r->holds = h;
	r->nholds++;
	stats_set(&r->st->held, r->nholds);
	return 0;
}

int rtpe_hold(struct rtpe *r, const struct conf *c, const struct peer *from,
	      const struct sipmsg *m, enum rtpe_to to, rtpe_resume_fn *cb,
	      void *arg)
{
	const struct call *call;
	enum kind kind = kind_of(r, m, &call);

	if (kind == KIND_NONE || !body_ok(m))
		return -EINVAL;
	return hold_send(r, c, from, m, kind, (struct call *)call, to, NULL, cb,
			 arg);
}

int rtpe_hold_fork(struct rtpe *r, const struct conf *c,
		   const struct peer *from, const struct sipmsg *m,
		   unsigned kinds, rtpe_fork_fn *cb, void *arg)
{
	const struct call *call;
	struct fork_wait *w;
	unsigned n = 0, sent = 0;
	int err = 0;

	kinds &= ((1u << RTPE_TO__COUNT) - 1) & ~(1u << RTPE_TO_OFFERER);
	for (unsigned k = 0; k < RTPE_TO__COUNT; k++)
		n += (kinds >> k) & 1;
	if (n < 2 || !m->is_request || kind_of(r, m, &call) != KIND_OFFER ||
	    !body_ok(m))
		return -EINVAL;
	w = calloc(1, sizeof(*w) + m->len);
	if (!w)
		return -ENOMEM;
	w->cb = cb;
	w->arg = arg;
	w->len = m->len;
	memcpy(w->buf, m->buf, m->len);
	w->pending = n;
	for (unsigned k = 0; k < RTPE_TO__COUNT && !err; k++) {
		if (!(kinds & (1u << k)))
			continue;
		err = hold_send(r, c, from, m, KIND_OFFER, NULL,
				(enum rtpe_to)k, w, fork_part_cancelled, w);
		sent += !err;
	}
	if (err && !sent) {
		free(w);
		return err;
	}
	if (err) {
		/* The offers sent go on; their replies end the wait, which
		 * fails with this error. */
		w->err = err;
		w->pending = sent;
	}
	return 0;
}

bool rtpe_is_held(const struct rtpe *r, const struct sipmsg *m)
{
	const struct hold *h;

	if (!r || !m->is_request)
		return false;
	for (h = r->holds; h; h = h->next)
		if (h->request && h->cseq == m->cseq &&
		    h->method == m->method &&
		    slice_eq(h->call_id, m->call_id) &&
		    slice_eq(h->branch, m->via.branch))
			return true;
	return false;
}

static void delete_done(void *arg, int err, const struct ng_reply *rep)
{
	struct rtpe *r = arg;

	(void)rep;
	/* An unknown call (deleted already, or rtpengine restarted) is no
	 * error of ours. */
	if (err != -EREMOTEIO)
		count_err(r, err);
}

/* rtpengine's delete of the whole call @p pp (every branch). */
static void delete_call(struct rtpe *r, struct call **pp)
{
	struct call *c = *pp;
	struct bencode_buf b;
	char dict[512];
	size_t len = 0;
	int err;

	if (!c->anchored) {
		/* A late offer that never came: rtpengine never had it. */
		call_remove(r, pp);
		return;
	}
	bencode_init(&b, dict, sizeof(dict));
	bencode_dict(&b);
	bencode_cstr(&b, "command");
	bencode_cstr(&b, "delete");
	bencode_cstr(&b, "call-id");
	bencode_str(&b, slice_make(c->id, c->idlen));
	bencode_end(&b);
	err = bencode_finish(&b, &len);
	if (!err)
		err = ng_send(r->ng, slice_make(c->id, c->idlen),
			      slice_make(dict, len), delete_done, r, NULL);
	if (err)
		count_err(r, err);
	else
		stats_inc(&r->st->deletes);
	call_remove(r, pp);
}

void rtpe_note(struct rtpe *r, const struct sipmsg *m, const struct peer *from)
{
	struct call **pp = NULL;
	struct call *c;

	if (!r)
		return;
	if (m->is_request && m->method == SIP_INVITE && m->call_id.len &&
	    m->from_tag.len) {
		/* RFC 3261 §13.2.1: without SDP in the INVITE, the offer
		 * comes in the first reliable response; with SDP, an
		 * earlier INVITE's late offer is over. */
		bool late = !has_sdp(m);

		c = late ? call_get(r, m->call_id)
			 : call_find(r, m->call_id, NULL);
		if (c) {
			c->seen_ms = now_ms(r);
			c->late = late;
			c->late_cseq = m->cseq;
			c->late_to = rtpe_peer_kind(shard_conf(r->sh), from);
		}
		return;
	}
	if (r->nentries == 0)
		return;
	c = call_find(r, m->call_id, &pp);
	if (!c)
		return;
	c->seen_ms = now_ms(r);
	if (m->is_request && (m->method == SIP_BYE || m->method == SIP_CANCEL))
		delete_call(r, pp);
	else if (!m->is_request && m->cseq_method == SIP_INVITE &&
		 m->status >= 200 && m->status < 300)
		c->confirmed = true;
}

void rtpe_failed(struct rtpe *r, struct slice call_id)
{
	struct call **pp = NULL;
	struct call *c;

	if (!r || r->nentries == 0)
		return;
	c = call_find(r, call_id, &pp);
	if (c && !c->confirmed)
		delete_call(r, pp);
}

void rtpe_sweep(struct rtpe *r, uint64_t early_ms, uint64_t max_ms)
{
	uint64_t now;
	unsigned i;

	if (!r || r->nentries == 0)
		return;
	now = now_ms(r);
	for (i = 0; i < RTPE_BUCKETS; i++) {
		struct call **pp = &r->tab[i];

		while (*pp) {
			uint64_t age = now - (*pp)->seen_ms;

			if (age > ((*pp)->confirmed ? max_ms : early_ms))
				delete_call(r, pp);
			else
				pp = &(*pp)->next;
		}
	}
}
