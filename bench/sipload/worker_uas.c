/* bench/sipload/worker_uas.c - the UAS: answers INVITE (100, 180 or
 * reliable 18x, 2xx with SDP: the answer, or for an INVITE without a body
 * a per-call offer whose answer the ACK must carry), PRACK, ACK, BYE,
 * OPTIONS, REGISTER (with a digest challenge when asked), retransmits 2xx
 * until the ACK */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "bench/sipload/userlist.h"
#include "bench/sipload/worker_priv.h"
#include "proxy/sip/digest.h"
#include "proxy/sip/hdr.h"

#define NIL UINT32_MAX

int worker__uas_init(struct worker *w)
{
	uint32_t n = (w->c->roles & WORKER_UAS) ? w->c->uas_slots : 64;
	uint32_t i;
	struct wbuf b = wbuf_make(w->nonce, sizeof(w->nonce) - 1);

	if (n < 1 || n > MAX_SLOTS)
		return -EINVAL;
	w->scalls = calloc(n, sizeof(*w->scalls));
	w->uas_free = malloc(n * sizeof(*w->uas_free));
	for (w->uas_mask = 1; w->uas_mask < 2 * n; w->uas_mask <<= 1)
		;
	w->uas_hash = malloc(w->uas_mask * sizeof(*w->uas_hash));
	if (!w->scalls || !w->uas_free || !w->uas_hash)
		return -ENOMEM;
	for (i = 0; i < w->uas_mask; i++)
		w->uas_hash[i] = NIL;
	w->uas_mask--;
	for (i = 0; i < n; i++)
		w->uas_free[i] = n - 1 - i;
	w->uas_nfree = n;
	w->uas_n = n;
	/* One nonce per thread and run: the challenge is stateless. */
	wbuf_hex(&b, w->c->run_id, 16);
	wbuf_hex(&b, w->id, 2);
	w->nonce[b.len] = '\0';
	return wheel_init(&w->uas_wheel, n, 14, w->now_ms);
}

void worker__uas_fini(struct worker *w)
{
	free(w->scalls);
	free(w->uas_free);
	free(w->uas_hash);
	wheel_fini(&w->uas_wheel);
	w->scalls = NULL;
	w->uas_free = NULL;
	w->uas_hash = NULL;
}

static uint64_t txn_key(const struct sipmsg *m)
{
	return worker__token_hash(m->call_id) ^
	       ((uint64_t)m->cseq * 0x9E3779B97F4A7C15ULL);
}

static uint32_t lookup(struct worker *w, uint64_t key)
{
	uint32_t i = w->uas_hash[key & w->uas_mask];

	for (; i != NIL; i = w->scalls[i].hnext)
		if (w->scalls[i].key == key)
			return i;
	return NIL;
}

static void slot_free(struct worker *w, uint32_t i)
{
	struct uas_call *s = &w->scalls[i];
	uint32_t *pp = &w->uas_hash[s->key & w->uas_mask];

	while (*pp != NIL && *pp != i)
		pp = &w->scalls[*pp].hnext;
	if (*pp == i)
		*pp = s->hnext;
	wheel_disarm(&w->uas_wheel, i);
	s->state = UAS_FREE;
	w->uas_free[w->uas_nfree++] = i;
}

static void op_done(struct worker *w)
{
	w->st.uas_ops++;
	if (w->ph && w->ph->uas_done)
		atomic_fetch_add_explicit(w->ph->uas_done, 1,
					  memory_order_relaxed);
}

static void put_tag(struct wbuf *b, const struct worker *w, uint32_t i)
{
	if (i != NIL && w->scalls[i].tag[0]) {
		wbuf_mem(b, w->scalls[i].tag, sizeof(w->scalls[i].tag));
		return;
	}
	wbuf_ch(b, 'u');
	if (i == NIL) {
		/* Stateless answers: one tag per thread. */
		wbuf_hex(b, w->c->run_id & 0xffffffffu, 8);
		wbuf_hex(b, w->id, 2);
		wbuf_slice(b, SLICE_LIT("ffffff00000000"));
	} else {
		worker__token_print(b, w, i, w->scalls[i].gen);
	}
}

/* The slot named by the To tag of an in-dialog request, or NIL. */
static uint32_t by_tag(struct worker *w, const struct sipmsg *m)
{
	uint32_t i, gen;

	if (m->to_tag.len != TOKEN_LEN + 1 || m->to_tag.p[0] != 'u' ||
	    worker__token_parse(w, slice_make(m->to_tag.p + 1, TOKEN_LEN), &i,
				&gen) ||
	    i >= w->uas_n || w->scalls[i].state == UAS_FREE ||
	    w->scalls[i].gen != gen)
		return NIL;
	return i;
}

/*
 * Status line and the headers a response copies (RFC 3261 §8.2.6.2):
 * every Via, Record-Route when @p rr (dialog-creating responses,
 * §12.1.1), From, To with our tag when it has none, Call-ID, CSeq.
 */
static void reply_head(struct wbuf *b, const struct worker *w,
		       const struct sipmsg *m, unsigned status,
		       const char *reason, uint32_t tag_slot, bool rr)
{
	const struct siphdr *h;

	wbuf_slice(b, SLICE_LIT("SIP/2.0 "));
	wbuf_u64(b, status);
	wbuf_ch(b, ' ');
	wbuf_str(b, reason);
	wbuf_slice(b, SLICE_LIT("\r\n"));
	for (h = sipmsg_hdr(m, HDR_VIA); h; h = sipmsg_hdr_next(m, h)) {
		wbuf_slice(b, SLICE_LIT("Via: "));
		wbuf_slice(b, h->value);
		wbuf_slice(b, SLICE_LIT("\r\n"));
	}
	if (rr) {
		for (h = sipmsg_hdr(m, HDR_RECORD_ROUTE); h;
		     h = sipmsg_hdr_next(m, h)) {
			wbuf_slice(b, SLICE_LIT("Record-Route: "));
			wbuf_slice(b, h->value);
			wbuf_slice(b, SLICE_LIT("\r\n"));
		}
	}
	h = sipmsg_hdr(m, HDR_FROM);
	wbuf_slice(b, SLICE_LIT("From: "));
	wbuf_slice(b, h->value);
	h = sipmsg_hdr(m, HDR_TO);
	wbuf_slice(b, SLICE_LIT("\r\nTo: "));
	wbuf_slice(b, h->value);
	if (!m->to_tag.len && status > 100) {
		wbuf_slice(b, SLICE_LIT(";tag="));
		put_tag(b, w, tag_slot);
	}
	wbuf_slice(b, SLICE_LIT("\r\nCall-ID: "));
	wbuf_slice(b, m->call_id);
	wbuf_slice(b, SLICE_LIT("\r\nCSeq: "));
	wbuf_slice(b, sipmsg_hdr(m, HDR_CSEQ)->value);
	wbuf_slice(b, SLICE_LIT("\r\n"));
}

/* A response with no body and no extra headers but @p extra. */
static void reply(struct worker *w, const struct sipmsg *m,
		  const struct peer *to, unsigned status, const char *reason,
		  const char *extra)
{
	char *out = worker__out(w, to);
	struct wbuf b = wbuf_make(out, PKT_MAX);

	reply_head(&b, w, m, status, reason, NIL, false);
	if (extra)
		wbuf_str(&b, extra);
	wbuf_slice(&b, SLICE_LIT("Content-Length: 0\r\n\r\n"));
	if (b.over) {
		w->st.send_errors++;
		return;
	}
	worker__send(w, to, out, b.len);
}

static void put_contact(struct wbuf *b, const struct worker *w)
{
	wbuf_slice(b, SLICE_LIT("Contact: <sip:uas@"));
	wbuf_str(b, w->uas_host);
	wbuf_ch(b, ':');
	wbuf_u64(b, w->uas_port);
	if (w->c->tcp)
		wbuf_slice(b, SLICE_LIT(";transport=tcp"));
	wbuf_slice(b, SLICE_LIT(">\r\n"));
}

static void put_sdp_answer(struct wbuf *b, const struct worker *w)
{
	const char *h = w->uas_host;
	bool v6 = h[0] == '[';
	size_t n = strlen(h);

	wbuf_slice(b, SLICE_LIT("v=0\r\no=sipload 2 2 IN "));
	wbuf_str(b, v6 ? "IP6 " : "IP4 ");
	wbuf_mem(b, h + v6, v6 ? n - 2 : n);
	wbuf_slice(b, SLICE_LIT("\r\ns=-\r\nc=IN "));
	wbuf_str(b, v6 ? "IP6 " : "IP4 ");
	wbuf_mem(b, h + v6, v6 ? n - 2 : n);
	wbuf_slice(b, SLICE_LIT("\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n"
				"a=rtpmap:0 PCMU/8000\r\n"));
}

static void send_2xx(struct worker *w, uint32_t i)
{
	struct uas_call *s = &w->scalls[i];

	worker__send(w, &s->peer, s->resp + s->r18_len, s->r2_len);
	s->state = UAS_WAIT_ACK;
	s->t_start_ms = w->now_ms;
	s->t_2xx_us = w->now_us;
	s->interval_ms = w->c->t1_ms;
	wheel_arm(&w->uas_wheel, i, w->now_ms + s->interval_ms);
}

static void on_invite(struct worker *w, const struct sipmsg *m,
		      const struct peer *from)
{
	uint64_t key = txn_key(m);
	struct uas_call *s;
	struct wbuf b;
	char sdp[512];
	struct wbuf sb = wbuf_make(sdp, sizeof(sdp));
	bool reliable;
	uint32_t i;

	if (m->to_tag.len) {
		/* Re-INVITE: not part of any scenario. */
		reply(w, m, from, 488, "Not Acceptable Here", NULL);
		return;
	}
	i = lookup(w, key);
	if (i != NIL) {
		/* A retransmitted INVITE: the last response again. */
		s = &w->scalls[i];
		w->st.dup_rcvd++;
		w->st.retx_sent++;
		if (s->state == UAS_WAIT_ACK)
			worker__send(w, &s->peer, s->resp + s->r18_len,
				     s->r2_len);
		else
			worker__send(w, &s->peer, s->resp, s->r18_len);
		return;
	}
	if (!w->uas_nfree) {
		w->st.uas_busy++;
		reply(w, m, from, 503, "Service Unavailable",
		      "Retry-After: 1\r\n");
		return;
	}
	i = w->uas_free[--w->uas_nfree];
	s = &w->scalls[i];
	s->gen++;
	s->tag[0] = '\0';
	{
		char tag[TOKEN_LEN + 1];
		struct wbuf tb = wbuf_make(tag, sizeof(tag));

		put_tag(&tb, w, i);
		memcpy(s->tag, tag, sizeof(s->tag));
	}
	s->key = key;
	s->hnext = w->uas_hash[key & w->uas_mask];
	w->uas_hash[key & w->uas_mask] = i;
	s->peer = *from;
	s->cseq = m->cseq;
	s->t_start_ms = w->now_ms;
	s->offer_len = 0;
	reliable = sipmsg_hdr_has_tag(m, HDR_REQUIRE, "100rel") ||
		   (w->c->uas_100rel_supported &&
		    sipmsg_hdr_has_tag(m, HDR_SUPPORTED, "100rel"));
	/* 100 Trying: the INVITE arrived (RFC 3261 §17.2.1). */
	reply(w, m, from, 100, "Trying", NULL);
	/* 180, reliable (RFC 3262 §3) when asked for. */
	b = wbuf_make(s->resp, sizeof(s->resp));
	reply_head(&b, w, m, 180, "Ringing", i, true);
	put_contact(&b, w);
	if (reliable)
		wbuf_slice(&b, SLICE_LIT("Require: 100rel\r\nRSeq: 1\r\n"));
	wbuf_slice(&b, SLICE_LIT("Content-Length: 0\r\n\r\n"));
	s->r18_len = (uint16_t)b.len;
	/* The 2xx, ready for when it is due. Without an offer in the
	 * INVITE, the 2xx carries ours and the ACK the answer (RFC 3261
	 * §13.2.1, RFC 3264 §4; RFC 3725 flow I). */
	if (m->body.len) {
		w->st.uas_with_offer++;
		put_sdp_answer(&sb, w);
	} else {
		w->st.uas_offerless++;
		sdpoa_offer(&sb, w->uas_host, sdpoa_port(w->id, i));
	}
	reply_head(&b, w, m, 200, "OK", i, true);
	put_contact(&b, w);
	wbuf_slice(
	    &b, SLICE_LIT("Content-Type: application/sdp\r\nContent-Length: "));
	wbuf_u64(&b, sb.len);
	wbuf_slice(&b, SLICE_LIT("\r\n\r\n"));
	wbuf_mem(&b, sdp, sb.len);
	if (b.over || sb.over) {
		slot_free(w, i);
		reply(w, m, from, 500, "Server Internal Error", NULL);
		return;
	}
	s->r2_len = (uint16_t)(b.len - s->r18_len);
	if (!m->body.len) {
		s->offer_off = (uint16_t)(b.len - sb.len);
		s->offer_len = (uint16_t)sb.len;
	}
	worker__send(w, from, s->resp, s->r18_len);
	if (reliable) {
		s->state = UAS_RELIABLE;
		s->interval_ms = w->c->t1_ms;
		wheel_arm(&w->uas_wheel, i, w->now_ms + s->interval_ms);
	} else if (w->c->answer_ms) {
		s->state = UAS_RINGING;
		wheel_arm(&w->uas_wheel, i, w->now_ms + w->c->answer_ms);
	} else {
		send_2xx(w, i);
	}
}

bool worker__uas_quick_ack(struct worker *w, struct slice call_id,
			   uint32_t cseq)
{
	/* The ACK of a 2xx has the INVITE's Call-ID and CSeq number
	 * (RFC 3261 §13.2.2.4): the same key as the INVITE. */
	uint64_t key = worker__token_hash(call_id) ^
		       ((uint64_t)cseq * 0x9E3779B97F4A7C15ULL);
	uint32_t i = lookup(w, key);

	/* The answer to our offer is in the body: parse it all. */
	if (i != NIL && w->scalls[i].offer_len)
		return false;
	w->st.uas_requests[SIP_ACK]++;
	if (i != NIL && w->scalls[i].state == UAS_WAIT_ACK &&
	    w->scalls[i].cseq == cseq)
		slot_free(w, i);
	else
		w->st.dup_rcvd++;
	return true;
}

/* The ACK of a 2xx that carried our offer: it must carry the answer
 * (RFC 3264 §4: the offer in a 2xx is answered in the ACK). A missing or
 * wrong one fails the call. */
static void check_answer(struct worker *w, uint32_t i, const struct sipmsg *m,
			 int64_t rx_us)
{
	struct uas_call *s = &w->scalls[i];
	struct slice body = worker__sdp_body(m);
	enum sdpoa_verdict v =
	    body.len
		? sdpoa_check(slice_make(s->resp + s->offer_off, s->offer_len),
			      body)
		: SDPOA_MISSING;

	if (v == SDPOA_OK) {
		w->st.uas_answers_ok++;
		hist_add(
		    &w->st.uas_lat_answer,
		    (uint64_t)(rx_us > s->t_2xx_us ? rx_us - s->t_2xx_us : 0));
	} else {
		w->st.uas_answer_bad[v]++;
	}
}

static void on_ack(struct worker *w, const struct sipmsg *m, int64_t rx_us)
{
	uint32_t i = by_tag(w, m);

	if (i == NIL) {
		w->st.dup_rcvd++;
		return;
	}
	if (w->scalls[i].state == UAS_WAIT_ACK &&
	    m->cseq == w->scalls[i].cseq) {
		if (w->scalls[i].offer_len)
			check_answer(w, i, m, rx_us);
		slot_free(w, i);
	} else {
		w->st.dup_rcvd++;
	}
}

static void on_prack(struct worker *w, const struct sipmsg *m,
		     const struct peer *from)
{
	uint32_t i = by_tag(w, m);
	struct slice rack;
	uint64_t rseq = 0, cseq = 0;
	struct uas_call *s;
	size_t sp;

	if (i == NIL) {
		reply(w, m, from, 481, "Call/Transaction Does Not Exist", NULL);
		return;
	}
	s = &w->scalls[i];
	/* RFC 3262 §7.2: RAck = response-num LWS CSeq-num LWS Method. */
	rack =
	    slice_trim(sipmsg_hdr(m, HDR_RACK) ? sipmsg_hdr(m, HDR_RACK)->value
					       : slice_make("", 0));
	for (sp = 0; sp < rack.len && rack.p[sp] != ' '; sp++)
		;
	if (slice_to_u64(slice_make(rack.p, sp), 0xffffffffu, &rseq) ||
	    sp >= rack.len) {
		reply(w, m, from, 400, "Bad RAck", NULL);
		return;
	}
	rack = slice_trim(slice_make(rack.p + sp, rack.len - sp));
	for (sp = 0; sp < rack.len && rack.p[sp] != ' '; sp++)
		;
	if (slice_to_u64(slice_make(rack.p, sp), 0xffffffffu, &cseq) ||
	    rseq != 1 || cseq != s->cseq) {
		reply(w, m, from, 481, "Call/Transaction Does Not Exist", NULL);
		return;
	}
	reply(w, m, from, 200, "OK", NULL);
	if (s->state != UAS_RELIABLE)
		return; /* a retransmitted PRACK */
	if (w->c->answer_ms) {
		s->state = UAS_RINGING;
		wheel_arm(&w->uas_wheel, i, w->now_ms + w->c->answer_ms);
	} else {
		send_2xx(w, i);
	}
}

static void on_bye(struct worker *w, const struct sipmsg *m,
		   const struct peer *from)
{
	uint32_t i = by_tag(w, m);

	/* The dialog state went with the ACK: every BYE of ours is fine. */
	if (i != NIL)
		slot_free(w, i);
	reply(w, m, from, 200, "OK", NULL);
	op_done(w);
}

static void on_cancel(struct worker *w, const struct sipmsg *m,
		      const struct peer *from)
{
	uint32_t i = lookup(w, txn_key(m));

	if (i == NIL) {
		reply(w, m, from, 481, "Call/Transaction Does Not Exist", NULL);
		return;
	}
	/* The INVITE goes on to its 2xx: RFC 3261 §9.2 allows it. */
	reply(w, m, from, 200, "OK", NULL);
}

/* Check the credentials of a REGISTER. 1 good, 0 absent or stale (send a
 * challenge), -EACCES wrong, -EINVAL unusable. */
static int check_auth(struct worker *w, const struct sipmsg *m)
{
	const struct siphdr *h;
	struct digest_credentials cr;

	for (h = sipmsg_hdr(m, HDR_AUTHORIZATION); h;
	     h = sipmsg_hdr_next(m, h)) {
		char pw[256];
		struct wbuf pb = wbuf_make(pw, sizeof(pw));
		struct digest_input in;
		char want[DIGEST_HEX_MAX];
		int n;

		if (digest_credentials_parse(h->value, NULL, &cr) ||
		    digest_credentials_check(&cr, NULL))
			continue;
		if (!slice_eq(cr.realm, slice_cstr(w->c->realm)) ||
		    !slice_eq(cr.nonce, slice_cstr(w->nonce)) ||
		    !(cr.alg & w->c->uas_auth))
			continue;
		if (!slice_eq(cr.uri, m->ruri))
			return -EINVAL;
		if (!w->c->uas_users ||
		    userlist_password(w->c->uas_users, cr.user, &pb) || pb.over)
			return -EACCES;
		memset(&in, 0, sizeof(in));
		in.alg = cr.alg;
		in.user = cr.user;
		in.realm = cr.realm;
		in.password = slice_make(pw, pb.len);
		in.method = m->method_name;
		in.uri = cr.uri;
		in.nonce = cr.nonce;
		in.qop = cr.qop;
		in.nc = cr.nc;
		in.cnonce = cr.cnonce;
		n = digest_response(&in, want);
		if (n < 0 ||
		    !slice_caseeq(cr.response, slice_make(want, (size_t)n)))
			return -EACCES;
		return 1;
	}
	return 0;
}

static void on_register(struct worker *w, const struct sipmsg *m,
			const struct peer *from)
{
	struct wbuf b = wbuf_make(w->scratch, sizeof(w->scratch));
	const struct siphdr *h;
	struct slice exp = slice_make("", 0);

	if (w->c->uas_auth) {
		int ret = check_auth(w, m);

		if (ret == -EINVAL) {
			w->st.uas_auth_fail++;
			reply(w, m, from, 400, "Digest URI Mismatch", NULL);
			return;
		}
		if (ret < 0) {
			w->st.uas_auth_fail++;
			reply(w, m, from, 403, "Forbidden", NULL);
			return;
		}
		if (ret == 0) {
			/* RFC 3261 §22.1, RFC 8760 §2.4: SHA-256 first. */
			reply_head(&b, w, m, 401, "Unauthorized", NIL, false);
			if (w->c->uas_auth & DIGEST_SHA256) {
				wbuf_slice(&b, SLICE_LIT("WWW-Authenticate: "));
				wbuf_wrote(&b,
					   digest_challenge_print(
					       b.p + b.len, b.cap - b.len,
					       DIGEST_SHA256,
					       slice_cstr(w->c->realm),
					       slice_cstr(w->nonce), false));
				wbuf_slice(&b, SLICE_LIT("\r\n"));
			}
			if (w->c->uas_auth & DIGEST_MD5) {
				wbuf_slice(&b, SLICE_LIT("WWW-Authenticate: "));
				wbuf_wrote(
				    &b, digest_challenge_print(
					    b.p + b.len, b.cap - b.len,
					    DIGEST_MD5, slice_cstr(w->c->realm),
					    slice_cstr(w->nonce), false));
				wbuf_slice(&b, SLICE_LIT("\r\n"));
			}
			wbuf_slice(&b, SLICE_LIT("Content-Length: 0\r\n\r\n"));
			if (!b.over)
				worker__send(w, from, w->scratch, b.len);
			return;
		}
		w->st.uas_auth_ok++;
	}
	/* RFC 3261 §10.3 step 8: 200 with the current bindings. */
	reply_head(&b, w, m, 200, "OK", NIL, false);
	for (h = sipmsg_hdr(m, HDR_CONTACT); h; h = sipmsg_hdr_next(m, h)) {
		wbuf_slice(&b, SLICE_LIT("Contact: "));
		wbuf_slice(&b, h->value);
		wbuf_slice(&b, SLICE_LIT("\r\n"));
	}
	h = sipmsg_hdr(m, HDR_EXPIRES);
	if (h)
		exp = h->value;
	wbuf_slice(&b, SLICE_LIT("Expires: "));
	if (exp.len)
		wbuf_slice(&b, exp);
	else
		wbuf_slice(&b, SLICE_LIT("3600"));
	wbuf_slice(&b, SLICE_LIT("\r\nContent-Length: 0\r\n\r\n"));
	if (b.over) {
		reply(w, m, from, 500, "Server Internal Error", NULL);
		return;
	}
	worker__send(w, from, w->scratch, b.len);
	op_done(w);
}

void worker__uas_request(struct worker *w, const struct sipmsg *m,
			 const struct peer *from, int64_t rx_us)
{
	if ((unsigned)m->method < 16)
		w->st.uas_requests[m->method]++;
	/* What every response needs (RFC 3261 §8.1.1). */
	if (!sipmsg_hdr(m, HDR_VIA) || !sipmsg_hdr(m, HDR_FROM) ||
	    !sipmsg_hdr(m, HDR_TO) || !sipmsg_hdr(m, HDR_CSEQ) ||
	    !m->call_id.len) {
		w->st.bad_msgs++;
		return;
	}
	switch (m->method) {
	case SIP_INVITE:
		on_invite(w, m, from);
		return;
	case SIP_ACK:
		on_ack(w, m, rx_us);
		return;
	case SIP_PRACK:
		on_prack(w, m, from);
		return;
	case SIP_BYE:
		on_bye(w, m, from);
		return;
	case SIP_CANCEL:
		on_cancel(w, m, from);
		return;
	case SIP_OPTIONS:
		reply(w, m, from, 200, "OK",
		      "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, PRACK, "
		      "REGISTER\r\nAccept: application/sdp\r\n");
		op_done(w);
		return;
	case SIP_REGISTER:
		on_register(w, m, from);
		return;
	default:
		reply(w, m, from, 501, "Not Implemented", NULL);
		return;
	}
}

void worker__uas_timer(struct worker *w, uint32_t i)
{
	struct uas_call *s = &w->scalls[i];
	int64_t give_up = s->t_start_ms + 64 * (int64_t)w->c->t1_ms;

	switch (s->state) {
	case UAS_RELIABLE:
		/* RFC 3262 §3: retransmit, doubling, for 64*T1. */
		if (w->now_ms >= give_up) {
			w->st.uas_prack_timeouts++;
			slot_free(w, i);
			return;
		}
		worker__send(w, &s->peer, s->resp, s->r18_len);
		w->st.retx_sent++;
		s->interval_ms *= 2;
		wheel_arm(&w->uas_wheel, i, w->now_ms + s->interval_ms);
		return;
	case UAS_RINGING:
		send_2xx(w, i);
		return;
	case UAS_WAIT_ACK:
		/* RFC 3261 §13.3.1.4: until the ACK, doubling up to T2,
		 * for 64*T1. */
		if (w->now_ms >= give_up) {
			w->st.uas_ack_timeouts++;
			if (s->offer_len)
				w->st.uas_3pcc_ack_timeouts++;
			slot_free(w, i);
			return;
		}
		worker__send(w, &s->peer, s->resp + s->r18_len, s->r2_len);
		w->st.retx_sent++;
		s->interval_ms *= 2;
		if (s->interval_ms > w->c->t2_ms)
			s->interval_ms = w->c->t2_ms;
		wheel_arm(&w->uas_wheel, i, w->now_ms + s->interval_ms);
		return;
	default:
		return;
	}
}
