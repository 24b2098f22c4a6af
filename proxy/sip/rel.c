/* proxy/sip/rel.c - RFC 3262 reliable provisional responses (100rel) */
#include "proxy/sip/rel.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <urcu/compiler.h>

#include "proxy/base/slice.h"
#include "proxy/base/timer.h"
#include "proxy/sip/hdr.h"
#include "proxy/sip/msg.h"

/* Policy. */

static const char *const mode_names[REL_MODE__COUNT] = {
	[REL_MODE_NO] = "no",
	[REL_MODE_SUPPORTED] = "supported",
	[REL_MODE_REQUIRED] = "required",
	[REL_MODE_PEER_SUPPORTED] = "peer_supported",
};

int rel_mode_parse(struct slice s, enum rel_mode *modep)
{
	for (unsigned i = 0; i < REL_MODE__COUNT; i++)
		if (slice_eq(s, slice_cstr(mode_names[i]))) {
			*modep = (enum rel_mode)i;
			return 0;
		}
	return -EINVAL;
}

struct slice rel_mode_name(enum rel_mode mode)
{
	if ((unsigned)mode >= REL_MODE__COUNT)
		return slice_make("", 0);
	return slice_cstr(mode_names[mode]);
}

bool rel_has_tag(const struct sipmsg *m, enum hdr_id id)
{
	return sipmsg_hdr_has_tag(m, id, REL_TAG);
}

enum rel_decision rel_decide(enum rel_mode mode, const struct sipmsg *req)
{
	bool require = rel_has_tag(req, HDR_REQUIRE);
	bool supported = require || rel_has_tag(req, HDR_SUPPORTED);

	/* RFC 3262 defines reliability for INVITE only. */
	if (req->method != SIP_INVITE)
		return require ? REL_REJECT_420 : REL_UNRELIABLE;
	switch (mode) {
	case REL_MODE_SUPPORTED:
		/* §3: with Supported the UAS may choose; we do. */
		return supported ? REL_RELIABLE : REL_UNRELIABLE;
	case REL_MODE_REQUIRED:
		/* §3: without either tag it MUST NOT, and MAY answer 421. */
		return supported ? REL_RELIABLE : REL_REJECT_421;
	case REL_MODE_PEER_SUPPORTED:
		return require ? REL_RELIABLE : REL_UNRELIABLE;
	case REL_MODE_NO:
	default:
		/* §3: Require obliges; refusing is RFC 3261 §8.2.2.3's 420. */
		return require ? REL_REJECT_420 : REL_UNRELIABLE;
	}
}

enum rel_offer rel_uac_offer(enum rel_mode mode, bool peer_100rel)
{
	switch (mode) {
	case REL_MODE_SUPPORTED:
		return REL_OFFER_SUPPORTED;
	case REL_MODE_REQUIRED:
		return REL_OFFER_REQUIRE;
	case REL_MODE_PEER_SUPPORTED:
		return peer_100rel ? REL_OFFER_SUPPORTED : REL_OFFER_NONE;
	case REL_MODE_NO:
	default:
		return REL_OFFER_NONE;
	}
}

/* Header text. */

struct slice rel_require_line(void)
{
	return SLICE_LIT("Require: " REL_TAG "\r\n");
}

struct slice rel_supported_line(void)
{
	return SLICE_LIT("Supported: " REL_TAG "\r\n");
}

struct slice rel_unsupported_line(void)
{
	return SLICE_LIT("Unsupported: " REL_TAG "\r\n");
}

int rel_print_extra(uint32_t rseq, char *buf, size_t size)
{
	int n;

	if (rseq == 0)
		return -EINVAL;
	n = snprintf(buf, size, "Require: " REL_TAG "\r\nRSeq: %u\r\n",
		     (unsigned)rseq);
	if (n < 0 || (size_t)n >= size)
		return -ENOSPC;
	return n;
}

static bool is_token_char(char c)
{
	/* RFC 3261 §25.1: token = 1*(alphanum / "-" / "." / "!" / "%" /
	 * "*" / "_" / "+" / "`" / "'" / "~") */
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("-.!%*_+`'~", c) != NULL;
}

static bool is_token(struct slice s)
{
	if (s.len == 0)
		return false;
	for (size_t i = 0; i < s.len; i++)
		if (!is_token_char(s.p[i]))
			return false;
	return true;
}

int rel_rack_print(uint32_t rseq, uint32_t cseq, struct slice method, char *buf,
		   size_t size)
{
	int n;

	if (rseq == 0 || !is_token(method) || method.len > 1024)
		return -EINVAL;
	n = snprintf(buf, size, "%u %u %.*s", (unsigned)rseq, (unsigned)cseq,
		     (int)method.len, method.p);
	if (n < 0 || (size_t)n >= size)
		return -ENOSPC;
	return n;
}

/* Parsers. */

int rel_rseq_parse(struct slice value, uint32_t *rseqp)
{
	uint64_t v;

	/* RFC 3262 §7.1: RSeq = "RSeq" HCOLON response-num, 1*DIGIT; the
	 * number space is 32 bits and 0 is never sent (§3: 1 .. 2^31-1,
	 * then +1). */
	if (slice_to_u64(value, UINT32_MAX, &v) < 0 || v == 0)
		return -EBADMSG;
	*rseqp = (uint32_t)v;
	return 0;
}

static bool is_lws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Take the run of non-LWS bytes at *pp, then skip the LWS after it. */
static struct slice take_word(const char **pp, const char *end)
{
	const char *p = *pp, *q = p;

	while (q < end && !is_lws(*q))
		q++;
	*pp = q;
	while (*pp < end && is_lws(**pp))
		(*pp)++;
	return slice_make(p, (size_t)(q - p));
}

int rel_rack_parse(struct slice value, struct rel_rack *rackp)
{
	const char *p = value.p, *end = value.p + value.len;
	struct slice rseq, cseq, method;
	uint64_t c;
	uint32_t r;

	if (value.len == 0)
		return -EBADMSG;
	/* RFC 3262 §7.2: RAck = "RAck" HCOLON response-num LWS CSeq-num
	 * LWS Method. Leading LWS is the header parser's to trim, so a
	 * value that starts (or ends) with one is malformed here. */
	if (is_lws(*p))
		return -EBADMSG;
	rseq = take_word(&p, end);
	cseq = take_word(&p, end);
	method = take_word(&p, end);
	/* Trailing LWS is the header parser's to trim too. */
	if (p != end || method.p + method.len != end ||
	    rel_rseq_parse(rseq, &r) < 0 ||
	    slice_to_u64(cseq, UINT32_MAX, &c) < 0 || !is_token(method))
		return -EBADMSG;
	rackp->rseq = r;
	rackp->cseq = (uint32_t)c;
	rackp->method = method;
	return 0;
}

int rel_prack_rack(const struct sipmsg *m, struct rel_rack *rackp)
{
	const struct siphdr *h;

	if (!m->is_request || m->method != SIP_PRACK)
		return -EINVAL;
	/* RFC 3262 §7.2: a PRACK carries one RAck. */
	h = sipmsg_hdr(m, HDR_RACK);
	if (!h || sipmsg_hdr_next(m, h))
		return -EBADMSG;
	return rel_rack_parse(h->value, rackp);
}

int rel_response_rseq(const struct sipmsg *m, uint32_t *rseqp)
{
	const struct siphdr *h;

	/* RFC 3262 §4: a 100 with Require 100rel is not reliable. */
	if (m->is_request || m->status < 101 || m->status > 199 ||
	    !rel_has_tag(m, HDR_REQUIRE))
		return 0;
	h = sipmsg_hdr(m, HDR_RSEQ);
	if (!h || sipmsg_hdr_next(m, h))
		return -EBADMSG;
	return rel_rseq_parse(h->value, rseqp) < 0 ? -EBADMSG : 1;
}

uint32_t rel_rseq_random(void)
{
	static _Thread_local uint32_t fallback;
	uint32_t v = 0;

	/* Bounded: with a working getrandom() a draw is 0 with probability
	 * 2^-31; give up after 8 and use the fallback. */
	for (int i = 0; i < 8; i++) {
		if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != sizeof(v))
			break;
		v &= REL_RSEQ_FIRST_MAX;
		if (v)
			return v;
	}
	{
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		v = (uint32_t)ts.tv_nsec * 2654435761u ^ (uint32_t)ts.tv_sec ^
		    ++fallback * 40503u;
	}
	v &= REL_RSEQ_FIRST_MAX;
	return v ? v : 1;
}

/* UAS. */

static void uas_fire(struct timer *t);

int rel_uas_init(struct rel_uas *r, struct timer_wheel *w,
		 const struct rel_uas_ops *ops, unsigned t1_ms, uint32_t cseq,
		 enum sip_method method, uint32_t first_rseq)
{
	if (!w || !ops || !ops->retransmit || !ops->timeout || t1_ms == 0 ||
	    first_rseq == 0 || first_rseq > REL_RSEQ_FIRST_MAX)
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	timer_init(&r->timer);
	r->w = w;
	r->ops = ops;
	r->t1_ms = t1_ms;
	r->cseq = cseq;
	r->method = method;
	r->next_rseq = first_rseq;
	return 0;
}

static void drop_copy(struct rel_uas *r)
{
	free(r->copy);
	r->copy = NULL;
	r->copy_len = 0;
}

void rel_uas_fini(struct rel_uas *r)
{
	if (r->w)
		timer_stop(r->w, &r->timer);
	drop_copy(r);
	r->outstanding = false;
	r->stopped = true;
}

uint32_t rel_uas_next_rseq(const struct rel_uas *r)
{
	return r->next_rseq;
}

bool rel_uas_is_busy(const struct rel_uas *r)
{
	return r->outstanding;
}

int rel_uas_send(struct rel_uas *r, bool has_offer, const void *buf, size_t len)
{
	char *copy;

	if (len == 0 || !buf)
		return -EINVAL;
	if (r->stopped)
		return -EALREADY;
	if (r->outstanding)
		return -EBUSY;
	if (r->next_rseq == 0)
		return -ERANGE;
	copy = malloc(len);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, buf, len);
	drop_copy(r);
	r->copy = copy;
	r->copy_len = len;
	r->out_rseq = r->next_rseq;
	/* §3: each next one is one higher; after 2^32-1 there is none. */
	r->next_rseq = r->next_rseq == UINT32_MAX ? 0 : r->next_rseq + 1;
	r->outstanding = true;
	r->out_offer = has_offer;
	/* §3: retransmitted with an interval that starts at T1 and
	 * doubles, for 64*T1 in all. */
	r->elapsed_ms = 0;
	r->interval_ms = r->t1_ms;
	timer_start(r->w, &r->timer, r->interval_ms, uas_fire);
	return 0;
}

static void uas_fire(struct timer *t)
{
	struct rel_uas *r = caa_container_of(t, struct rel_uas, timer);
	uint64_t limit = 64 * (uint64_t)r->t1_ms, left;

	r->elapsed_ms += r->interval_ms;
	if (r->elapsed_ms >= limit) {
		/* §3: 64*T1 without a PRACK: the caller answers 5xx. */
		r->stopped = true;
		drop_copy(r);
		r->ops->timeout(r); /* may free r: nothing after this */
		return;
	}
	r->interval_ms *= 2;
	left = limit - r->elapsed_ms;
	if (r->interval_ms > left)
		r->interval_ms = left;
	/* Armed before the callback, which may stop it (rel_uas_final). */
	timer_start(r->w, &r->timer, r->interval_ms, uas_fire);
	r->ops->retransmit(r, r->copy, r->copy_len);
}

bool rel_uas_may_send_2xx(const struct rel_uas *r)
{
	return !(r->outstanding && r->out_offer);
}

void rel_uas_final(struct rel_uas *r)
{
	/* §3: no more retransmissions after a final response, but a PRACK
	 * for the outstanding one still matches. */
	if (r->w)
		timer_stop(r->w, &r->timer);
	r->stopped = true;
}

enum rel_prack rel_uas_prack(struct rel_uas *r, const struct rel_rack *rack,
			     bool *offerp)
{
	bool same_txn = rack->cseq == r->cseq &&
			slice_eq(rack->method, sip_method_name(r->method));

	if (r->outstanding && same_txn && rack->rseq == r->out_rseq) {
		if (r->w)
			timer_stop(r->w, &r->timer);
		drop_copy(r);
		r->outstanding = false;
		r->acked_rseq = r->out_rseq;
		if (offerp)
			*offerp = r->out_offer;
		r->out_offer = false;
		return REL_PRACK_MATCH;
	}
	if (same_txn && r->acked_rseq && rack->rseq == r->acked_rseq)
		return REL_PRACK_STALE;
	return REL_PRACK_NO_MATCH;
}

unsigned rel_prack_status(enum rel_prack p)
{
	return p == REL_PRACK_MATCH ? 200 : 481;
}

/* UAC. */

enum rel_uac_verdict rel_uac_receive(struct rel_uac *u, uint32_t rseq)
{
	if (rseq == 0)
		return REL_UAC_OUT_OF_ORDER;
	if (!u->have) {
		/* §4: the sequence starts at the first one's RSeq. */
		u->have = true;
		u->last = rseq;
		return REL_UAC_NEW;
	}
	if (rseq == u->last)
		return REL_UAC_RETRANSMISSION;
	/* §4: only one higher is in order; no wrap past 2^32-1. */
	if (u->last != UINT32_MAX && rseq == u->last + 1) {
		u->last = rseq;
		return REL_UAC_NEW;
	}
	return REL_UAC_OUT_OF_ORDER;
}
