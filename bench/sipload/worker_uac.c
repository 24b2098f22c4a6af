/* bench/sipload/worker_uac.c - the UAC: OPTIONS, REGISTER with digest,
 * INVITE with and without 100rel, offerless INVITE with the answer in the
 * ACK (3pcc), ACK, BYE, RFC 3261 client timers */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bench/sipload/sdpoa.h"
#include "bench/sipload/userlist.h"
#include "bench/sipload/worker_priv.h"
#include "proxy/sip/digest.h"
#include "proxy/sip/hdr.h"

#define ROUTES_MAX 16

/* The SDP offer: RFC 4566, one PCMU audio stream on loopback. */
static void put_sdp(struct wbuf *b, const struct worker *w, bool offer)
{
	bool v6 = w->local_host[0] == '[';
	char ip[64];
	size_t n = strlen(w->local_host);

	if (v6 && n >= 2) {
		memcpy(ip, w->local_host + 1, n - 2);
		ip[n - 2] = '\0';
	} else {
		memcpy(ip, w->local_host, n + 1);
	}
	wbuf_slice(b, SLICE_LIT("v=0\r\no=sipload 1 1 IN "));
	wbuf_str(b, v6 ? "IP6 " : "IP4 ");
	wbuf_str(b, ip);
	wbuf_slice(b, SLICE_LIT("\r\ns=-\r\nc=IN "));
	wbuf_str(b, v6 ? "IP6 " : "IP4 ");
	wbuf_str(b, ip);
	wbuf_slice(b, SLICE_LIT("\r\nt=0 0\r\nm=audio "));
	wbuf_str(b, offer ? "30000" : "40000");
	wbuf_slice(b, SLICE_LIT(" RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"));
}

int worker__uac_init(struct worker *w)
{
	uint32_t n = (w->c->roles & WORKER_UAC) ? w->c->uac_slots : 1;
	uint32_t i;
	int err;

	if (n < 1 || n > MAX_SLOTS)
		return -EINVAL;
	/* calloc: pages are touched only when a slot is first used. */
	w->calls = calloc(n, sizeof(*w->calls));
	w->uac_free = malloc(n * sizeof(*w->uac_free));
	if (!w->calls || !w->uac_free)
		return -ENOMEM;
	/* A stack: slot 0 on top, so that few slots stay hot. */
	for (i = 0; i < n; i++)
		w->uac_free[i] = n - 1 - i;
	w->uac_nfree = n;
	w->uac_n = n;
	err = wheel_init(&w->uac_wheel, n, 14, w->now_ms);
	return err;
}

void worker__uac_fini(struct worker *w)
{
	free(w->calls);
	free(w->uac_free);
	wheel_fini(&w->uac_wheel);
	w->calls = NULL;
	w->uac_free = NULL;
}

static bool is_udp(const struct worker *w)
{
	return !w->c->tcp;
}

static const char *via_proto(const struct worker *w)
{
	return w->c->tcp ? "SIP/2.0/TCP " : "SIP/2.0/UDP ";
}

static struct slice call_domain(const struct worker *w,
				const struct userlist *u, uint32_t idx)
{
	struct slice d = userlist_domain(u, idx);

	return d.len ? d : slice_cstr(w->c->domain);
}

static void put_token(struct wbuf *b, const struct worker *w, uint32_t i)
{
	wbuf_mem(b, w->calls[i].token, TOKEN_LEN);
}

static void put_via(struct wbuf *b, const struct worker *w, uint32_t i,
		    uint32_t cseq, const char *suffix)
{
	wbuf_slice(b, SLICE_LIT("Via: "));
	wbuf_str(b, via_proto(w));
	wbuf_str(b, w->local_host);
	wbuf_ch(b, ':');
	wbuf_u64(b, w->uac_port);
	wbuf_slice(b, SLICE_LIT(";branch=z9hG4bK"));
	put_token(b, w, i);
	wbuf_ch(b, '.');
	wbuf_u64(b, cseq);
	wbuf_str(b, suffix);
	wbuf_slice(b, SLICE_LIT(";rport\r\nMax-Forwards: 70\r\n"));
}

static void put_from(struct wbuf *b, const struct worker *w, uint32_t i)
{
	const struct uac_call *call = &w->calls[i];

	wbuf_slice(b, SLICE_LIT("From: <sip:"));
	userlist_name(w->c->users, call->user, b);
	wbuf_ch(b, '@');
	wbuf_slice(b, call_domain(w, w->c->users, call->user));
	wbuf_slice(b, SLICE_LIT(">;tag="));
	put_token(b, w, i);
	wbuf_slice(b, SLICE_LIT("\r\n"));
}

static void put_call_id(struct wbuf *b, const struct worker *w, uint32_t i)
{
	wbuf_slice(b, SLICE_LIT("Call-ID: "));
	put_token(b, w, i);
	wbuf_slice(b, SLICE_LIT("@sipload\r\n"));
}

static void put_cseq(struct wbuf *b, uint32_t cseq, const char *method)
{
	wbuf_slice(b, SLICE_LIT("CSeq: "));
	wbuf_u64(b, cseq);
	wbuf_ch(b, ' ');
	wbuf_str(b, method);
	wbuf_slice(b, SLICE_LIT("\r\n"));
}

/* The Request-URI of the first request of the operation. */
static void put_ruri(struct wbuf *b, const struct worker *w, uint32_t i)
{
	const struct uac_call *call = &w->calls[i];
	const struct worker_conf *c = w->c;

	wbuf_slice(b, SLICE_LIT("sip:"));
	if (c->scenario == WORKER_REGISTER) {
		wbuf_slice(b, call_domain(w, c->users, call->user));
		return;
	}
	if (c->scenario != WORKER_OPTIONS || c->ruri_user) {
		userlist_name(c->callees, call->callee, b);
		wbuf_ch(b, '@');
	}
	wbuf_str(b, c->domain);
}

static void put_to_initial(struct wbuf *b, const struct worker *w, uint32_t i)
{
	const struct uac_call *call = &w->calls[i];
	const struct worker_conf *c = w->c;

	wbuf_slice(b, SLICE_LIT("To: <sip:"));
	if (c->scenario == WORKER_REGISTER) {
		userlist_name(c->users, call->user, b);
		wbuf_ch(b, '@');
		wbuf_slice(b, call_domain(w, c->users, call->user));
	} else {
		if (c->scenario != WORKER_OPTIONS || c->ruri_user) {
			userlist_name(c->callees, call->callee, b);
			wbuf_ch(b, '@');
		}
		wbuf_str(b, c->domain);
	}
	wbuf_slice(b, SLICE_LIT(">\r\n"));
}

static void put_contact(struct wbuf *b, const struct worker *w, uint32_t i)
{
	const struct uac_call *call = &w->calls[i];

	wbuf_slice(b, SLICE_LIT("Contact: <sip:"));
	userlist_name(w->c->users, call->user, b);
	wbuf_ch(b, '@');
	if (w->c->scenario == WORKER_REGISTER && w->c->contact[0]) {
		wbuf_str(b, w->c->contact);
		if (w->c->contact_transport[0]) {
			/* The callee's transport, not the REGISTER's. */
			wbuf_slice(b, SLICE_LIT(";transport="));
			wbuf_str(b, w->c->contact_transport);
		} else if (w->c->tcp) {
			wbuf_slice(b, SLICE_LIT(";transport=tcp"));
		}
	} else {
		wbuf_str(b, w->local_host);
		wbuf_ch(b, ':');
		wbuf_u64(b, w->uac_port);
		if (w->c->tcp)
			wbuf_slice(b, SLICE_LIT(";transport=tcp"));
	}
	wbuf_slice(b, SLICE_LIT(">\r\n"));
}

static const char *scenario_method(const struct worker *w)
{
	switch (w->c->scenario) {
	case WORKER_OPTIONS:
		return "OPTIONS";
	case WORKER_REGISTER:
		return "REGISTER";
	default:
		return "INVITE";
	}
}

/* A challenge to answer: from a 401 or 407. */
struct challenge {
	bool proxy; /* 407: Proxy-Authorization */
	struct digest_challenge ch;
};

/*
 * Build the operation's first request (or its retry with credentials)
 * into call->req. Returns 0 or -ENOSPC.
 */
static int build_initial(struct worker *w, uint32_t i,
			 const struct challenge *auth)
{
	struct uac_call *call = &w->calls[i];
	const char *method = scenario_method(w);
	struct wbuf b = wbuf_make(call->req, sizeof(call->req));
	char sdp[512];
	struct wbuf sb = wbuf_make(sdp, sizeof(sdp));
	bool invite = w->c->scenario >= WORKER_CALL;

	wbuf_str(&b, method);
	wbuf_ch(&b, ' ');
	put_ruri(&b, w, i);
	wbuf_slice(&b, SLICE_LIT(" SIP/2.0\r\n"));
	put_via(&b, w, i, call->cseq, "");
	put_from(&b, w, i);
	put_to_initial(&b, w, i);
	put_call_id(&b, w, i);
	put_cseq(&b, call->cseq, method);
	if (invite || w->c->scenario == WORKER_REGISTER)
		put_contact(&b, w, i);
	if (w->c->scenario == WORKER_REGISTER) {
		wbuf_slice(&b, SLICE_LIT("Expires: "));
		wbuf_u64(&b, w->c->expires);
		wbuf_slice(&b, SLICE_LIT("\r\n"));
	}
	if (w->c->scenario == WORKER_CALL_100REL)
		wbuf_slice(
		    &b, SLICE_LIT("Supported: 100rel\r\nRequire: 100rel\r\n"));
	if (auth) {
		/* RFC 3261 §22.2, RFC 7616 §3.4: answer the challenge. */
		char pw[256];
		char user[128];
		char uri[256];
		char cnonce[TOKEN_LEN + 1];
		struct wbuf pb = wbuf_make(pw, sizeof(pw));
		struct wbuf ub = wbuf_make(user, sizeof(user));
		struct wbuf rb = wbuf_make(uri, sizeof(uri));
		struct wbuf cb = wbuf_make(cnonce, sizeof(cnonce));
		struct digest_input in;
		char resp[DIGEST_HEX_MAX];

		userlist_password_at(w->c->users, call->user, &pb);
		userlist_name(w->c->users, call->user, &ub);
		put_ruri(&rb, w, i);
		put_token(&cb, w, i);
		if (pb.over || ub.over || rb.over)
			return -ENOSPC;
		memset(&in, 0, sizeof(in));
		in.alg = auth->ch.alg;
		in.user = slice_make(user, ub.len);
		in.realm = auth->ch.realm;
		in.password = slice_make(pw, pb.len);
		in.method = slice_cstr(method);
		in.uri = slice_make(uri, rb.len);
		in.nonce = auth->ch.nonce;
		if (auth->ch.qop_auth) {
			in.qop = SLICE_LIT("auth");
			in.nc = SLICE_LIT("00000001");
			in.cnonce = slice_make(cnonce, cb.len);
		}
		if (digest_response(&in, resp) < 0)
			return -EINVAL;
		wbuf_str(&b, auth->proxy ? "Proxy-Authorization: "
					 : "Authorization: ");
		wbuf_wrote(&b, digest_credentials_print(b.p + b.len,
							b.cap - b.len, &in,
							resp, auth->ch.opaque));
		wbuf_slice(&b, SLICE_LIT("\r\n"));
	}
	if (invite && w->c->scenario != WORKER_CALL_3PCC) {
		put_sdp(&sb, w, true);
		wbuf_slice(&b, SLICE_LIT("Content-Type: application/sdp\r\n"));
	}
	wbuf_slice(&b, SLICE_LIT("Content-Length: "));
	wbuf_u64(&b, sb.len);
	wbuf_slice(&b, SLICE_LIT("\r\n\r\n"));
	wbuf_mem(&b, sdp, sb.len);
	if (b.over)
		return -ENOSPC;
	call->req_len = (uint16_t)b.len;
	return 0;
}

/* In-dialog request (BYE, PRACK) from the stored dialog into req. */
static int build_in_dialog(struct worker *w, uint32_t i, const char *method)
{
	struct uac_call *call = &w->calls[i];
	struct wbuf b = wbuf_make(call->req, sizeof(call->req));
	const char *to = call->dlg;
	const char *target = call->dlg + call->to_len;
	const char *route = target + call->target_len;

	wbuf_str(&b, method);
	wbuf_ch(&b, ' ');
	wbuf_mem(&b, target, call->target_len);
	wbuf_slice(&b, SLICE_LIT(" SIP/2.0\r\n"));
	put_via(&b, w, i, call->cseq, "");
	if (call->route_len) {
		wbuf_slice(&b, SLICE_LIT("Route: "));
		wbuf_mem(&b, route, call->route_len);
		wbuf_slice(&b, SLICE_LIT("\r\n"));
	}
	put_from(&b, w, i);
	wbuf_slice(&b, SLICE_LIT("To: "));
	wbuf_mem(&b, to, call->to_len);
	wbuf_slice(&b, SLICE_LIT("\r\n"));
	put_call_id(&b, w, i);
	put_cseq(&b, call->cseq, method);
	if (method[0] == 'P') {
		/* RFC 3262 §7.2: RAck = response-num CSeq-num method. */
		wbuf_slice(&b, SLICE_LIT("RAck: "));
		wbuf_u64(&b, call->rseq);
		wbuf_ch(&b, ' ');
		wbuf_u64(&b, call->invite_cseq);
		wbuf_slice(&b, SLICE_LIT(" INVITE\r\n"));
	}
	wbuf_slice(&b, SLICE_LIT("Content-Length: 0\r\n\r\n"));
	if (b.over)
		return -ENOSPC;
	call->req_len = (uint16_t)b.len;
	return 0;
}

static void arm(struct worker *w, uint32_t i, int64_t due_ms)
{
	wheel_arm(&w->uac_wheel, i, due_ms);
}

/* Send call->req as a new client transaction (Timer A/E start). */
static void send_new(struct worker *w, uint32_t i)
{
	struct uac_call *call = &w->calls[i];

	worker__send(w, &w->target, call->req, call->req_len);
	call->t_tx_ms = w->now_ms;
	call->interval_ms = w->c->t1_ms;
	if (is_udp(w))
		arm(w, i, w->now_ms + call->interval_ms);
	else
		arm(w, i, w->now_ms + 64 * (int64_t)w->c->t1_ms);
}

static void slot_free(struct worker *w, uint32_t i)
{
	struct uac_call *call = &w->calls[i];

	wheel_disarm(&w->uac_wheel, i);
	call->state = UAC_FREE;
	w->uac_free[w->uac_nfree++] = i;
}

/* The operation ended: success, a status code, or 0 for a time-out. */
static void op_done(struct worker *w, uint32_t i, bool ok, unsigned code)
{
	struct uac_call *call = &w->calls[i];

	if (ok && call->prack_failed) {
		ok = false;
		code = call->fail_code;
	}
	if (ok && call->bad_offer) {
		ok = false;
		code = WORKER_STATUS_MAX; /* "other" */
	}
	if (ok) {
		w->st.succeeded++;
	} else {
		w->st.failed++;
		if (!code)
			w->st.timeouts++;
		else if (code < WORKER_STATUS_MAX)
			w->st.fail_status[code]++;
		else
			w->st.fail_other++;
	}
	slot_free(w, i);
}

bool worker__uac_start(struct worker *w)
{
	const struct worker_conf *c = w->c;
	struct uac_call *call;
	uint32_t i;
	uint64_t seq;

	if (!w->uac_nfree)
		return false;
	i = w->uac_free[--w->uac_nfree];
	call = &w->calls[i];
	call->gen++;
	{
		struct wbuf tb = wbuf_make(call->token, TOKEN_LEN);

		worker__token_print(&tb, w, i, call->gen);
	}
	call->auth_tries = 0;
	call->got_1xx = false;
	call->prack_failed = false;
	call->bad_offer = false;
	call->fail_code = 0;
	call->rseq = 0;
	call->to_len = call->target_len = call->route_len = 0;
	/* Users in turn, interleaved across threads. */
	seq = w->user_seq++ * c->threads + w->id;
	call->user = (uint32_t)(seq % userlist_count(c->users));
	call->callee = (uint32_t)(seq % userlist_count(c->callees));
	call->cseq = 1;
	call->invite_cseq = 1;
	call->t_op_us = w->now_us;
	call->state = c->scenario >= WORKER_CALL ? UAC_CALLING : UAC_TRYING;
	w->st.started++;
	if (build_initial(w, i, NULL)) {
		w->st.fail_other++;
		w->st.failed++;
		slot_free(w, i);
		return true;
	}
	send_new(w, i);
	return true;
}

void worker__uac_abandon(struct worker *w)
{
	uint32_t i;

	if (w->uac_nfree == w->uac_n)
		return;
	/* Every busy slot has an armed timer: scan the small node array. */
	for (i = 0; i < w->uac_n; i++) {
		if (!wheel_is_armed(&w->uac_wheel, i))
			continue;
		w->st.unfinished++;
		slot_free(w, i);
	}
}

static void send_bye(struct worker *w, uint32_t i)
{
	struct uac_call *call = &w->calls[i];

	call->cseq++;
	if (build_in_dialog(w, i, "BYE")) {
		op_done(w, i, false, 0);
		w->st.fail_other++;
		return;
	}
	call->state = UAC_BYE;
	send_new(w, i);
}

void worker__uac_timer(struct worker *w, uint32_t i)
{
	struct uac_call *call = &w->calls[i];
	int64_t deadline;
	int64_t call_deadline = call->t_op_us / 1000 + w->c->call_timeout_ms;

	switch (call->state) {
	case UAC_TRYING:
	case UAC_CALLING:
	case UAC_PRACKING:
	case UAC_BYE:
		/* Timer B / F: 64*T1 after the transaction started. */
		deadline = call->t_tx_ms + 64 * (int64_t)w->c->t1_ms;
		if (call->state == UAC_PRACKING && call_deadline < deadline)
			deadline = call_deadline;
		if (w->now_ms >= deadline) {
			op_done(w, i, false, 0);
			return;
		}
		if (is_udp(w)) {
			/* Timer A / E: retransmit, doubling (non-INVITE up
			 * to T2), RFC 3261 §17.1.1.2, §17.1.2.2. */
			worker__send(w, &w->target, call->req, call->req_len);
			w->st.retx_sent++;
			call->interval_ms *= 2;
			if (call->state != UAC_CALLING &&
			    call->interval_ms > w->c->t2_ms)
				call->interval_ms = w->c->t2_ms;
			if (w->now_ms + call->interval_ms < deadline)
				deadline = w->now_ms + call->interval_ms;
		}
		arm(w, i, deadline);
		return;
	case UAC_PROCEEDING:
		op_done(w, i, false, 0);
		return;
	case UAC_HOLD:
		send_bye(w, i);
		return;
	default:
		return;
	}
}

/* ---- responses ---- */

/* Collect the Record-Route values of @p m and write them reversed, comma
 * separated, into @p b (RFC 3261 §12.1.2: the UAC's route set). */
static int put_routes(struct wbuf *b, const struct sipmsg *m)
{
	struct slice el[ROUTES_MAX];
	unsigned n = 0;
	const struct siphdr *h;

	for (h = sipmsg_hdr(m, HDR_RECORD_ROUTE); h;
	     h = sipmsg_hdr_next(m, h)) {
		struct slice rest = h->value;
		struct slice e;
		int ret;

		while ((ret = hdr_split_next(&rest, &e)) > 0) {
			if (n == ROUTES_MAX)
				return -E2BIG;
			el[n++] = e;
		}
		if (ret < 0)
			return ret;
	}
	while (n > 0) {
		wbuf_slice(b, el[--n]);
		if (n)
			wbuf_slice(b, SLICE_LIT(", "));
	}
	return 0;
}

/* The remote target: the URI of the first Contact. */
static int contact_uri(const struct sipmsg *m, struct slice *urip)
{
	const struct siphdr *h = sipmsg_hdr(m, HDR_CONTACT);
	struct slice rest, e;
	struct nameaddr na;

	if (!h)
		return -ENOENT;
	rest = h->value;
	if (hdr_split_next(&rest, &e) <= 0 || nameaddr_parse(e, &na))
		return -EBADMSG;
	*urip = na.uri;
	return 0;
}

static struct slice hdr_value(const struct sipmsg *m, enum hdr_id id)
{
	const struct siphdr *h = sipmsg_hdr(m, id);

	return h ? h->value : slice_make("", 0);
}

/* Keep To, remote target and route set of a dialog-creating response. */
static int store_dialog(struct worker *w, uint32_t i, const struct sipmsg *m)
{
	struct uac_call *call = &w->calls[i];
	struct wbuf b = wbuf_make(call->dlg, sizeof(call->dlg));
	struct slice to = hdr_value(m, HDR_TO);
	struct slice target;
	size_t mark;
	int err;

	if (!m->to_tag.len || contact_uri(m, &target))
		return -EBADMSG;
	wbuf_slice(&b, to);
	call->to_len = (uint16_t)b.len;
	wbuf_slice(&b, target);
	call->target_len = (uint16_t)(b.len - call->to_len);
	mark = b.len;
	err = put_routes(&b, m);
	if (err)
		return err;
	call->route_len = (uint16_t)(b.len - mark);
	return b.over ? -ENOSPC : 0;
}

/* ACK for a 2xx, built from the response alone (RFC 3261 §13.2.2.4): it
 * also serves retransmitted 2xx of operations that are over. In call-3pcc
 * the 2xx carries the offer and the ACK the answer (RFC 3264 §4), the same
 * for every retransmission. Returns the verdict on the offer (SDPOA_OK
 * outside call-3pcc). */
static enum sdpoa_verdict send_ack_2xx(struct worker *w, const struct sipmsg *m)
{
	char *out = worker__out(w, &w->target);
	struct wbuf b = wbuf_make(out, PKT_MAX);
	struct slice target;
	char sdp[1024];
	struct wbuf sb = wbuf_make(sdp, sizeof(sdp));
	enum sdpoa_verdict v = SDPOA_OK;
	uint32_t slot = 0, gen;

	if (contact_uri(m, &target) || m->call_id.len < TOKEN_LEN) {
		w->st.bad_msgs++;
		return SDPOA_OK;
	}
	if (w->c->scenario == WORKER_CALL_3PCC) {
		(void)worker__token_parse(w, m->call_id, &slot, &gen);
		v = sdpoa_answer(&sb, worker__sdp_body(m), w->local_host,
				 sdpoa_port(w->id, slot), w->c->answer_mode);
		if (v != SDPOA_OK || sb.over)
			sb.len = 0; /* the 2xx is acknowledged all the same */
	}
	wbuf_slice(&b, SLICE_LIT("ACK "));
	wbuf_slice(&b, target);
	wbuf_slice(&b, SLICE_LIT(" SIP/2.0\r\nVia: "));
	wbuf_str(&b, via_proto(w));
	wbuf_str(&b, w->local_host);
	wbuf_ch(&b, ':');
	wbuf_u64(&b, w->uac_port);
	wbuf_slice(&b, SLICE_LIT(";branch=z9hG4bK"));
	wbuf_mem(&b, m->call_id.p, TOKEN_LEN);
	wbuf_ch(&b, '.');
	wbuf_u64(&b, m->cseq);
	wbuf_slice(&b, SLICE_LIT("a;rport\r\nMax-Forwards: 70\r\n"));
	if (sipmsg_hdr(m, HDR_RECORD_ROUTE)) {
		wbuf_slice(&b, SLICE_LIT("Route: "));
		if (put_routes(&b, m)) {
			w->st.bad_msgs++;
			return v;
		}
		wbuf_slice(&b, SLICE_LIT("\r\n"));
	}
	wbuf_slice(&b, SLICE_LIT("From: "));
	wbuf_slice(&b, hdr_value(m, HDR_FROM));
	wbuf_slice(&b, SLICE_LIT("\r\nTo: "));
	wbuf_slice(&b, hdr_value(m, HDR_TO));
	wbuf_slice(&b, SLICE_LIT("\r\nCall-ID: "));
	wbuf_slice(&b, m->call_id);
	wbuf_slice(&b, SLICE_LIT("\r\n"));
	put_cseq(&b, m->cseq, "ACK");
	if (sb.len)
		wbuf_slice(&b, SLICE_LIT("Content-Type: application/sdp\r\n"));
	wbuf_slice(&b, SLICE_LIT("Content-Length: "));
	wbuf_u64(&b, sb.len);
	wbuf_slice(&b, SLICE_LIT("\r\n\r\n"));
	wbuf_mem(&b, sdp, sb.len);
	if (b.over) {
		w->st.send_errors++;
		return v;
	}
	worker__send(w, &w->target, out, b.len);
	return v;
}

/* ACK for a non-2xx final: part of the INVITE transaction, same branch,
 * same Request-URI (RFC 3261 §17.1.1.3). */
static void send_ack_error(struct worker *w, uint32_t i, const struct sipmsg *m)
{
	struct wbuf b = wbuf_make(w->scratch, sizeof(w->scratch));
	const struct uac_call *call = &w->calls[i];

	wbuf_slice(&b, SLICE_LIT("ACK "));
	put_ruri(&b, w, i);
	wbuf_slice(&b, SLICE_LIT(" SIP/2.0\r\n"));
	put_via(&b, w, i, call->invite_cseq, "");
	put_from(&b, w, i);
	wbuf_slice(&b, SLICE_LIT("To: "));
	wbuf_slice(&b, hdr_value(m, HDR_TO));
	wbuf_slice(&b, SLICE_LIT("\r\n"));
	put_call_id(&b, w, i);
	put_cseq(&b, call->invite_cseq, "ACK");
	wbuf_slice(&b, SLICE_LIT("Content-Length: 0\r\n\r\n"));
	if (!b.over)
		worker__send(w, &w->target, w->scratch, b.len);
}

/* The first usable challenge of a 401 / 407 (RFC 8760 §2.4: the
 * topmost one with an algorithm we support). */
static int find_challenge(const struct sipmsg *m, struct challenge *chp)
{
	enum hdr_id id =
	    m->status == 407 ? HDR_PROXY_AUTHENTICATE : HDR_WWW_AUTHENTICATE;
	const struct siphdr *h;

	chp->proxy = m->status == 407;
	for (h = sipmsg_hdr(m, id); h; h = sipmsg_hdr_next(m, h))
		if (!digest_challenge_parse(h->value, &chp->ch))
			return 0;
	return -ENOENT;
}

/* 401/407: retry once with credentials. Returns true when it did. */
static bool retry_with_auth(struct worker *w, uint32_t i,
			    const struct sipmsg *m)
{
	struct uac_call *call = &w->calls[i];
	struct challenge ch;

	if ((m->status != 401 && m->status != 407) || call->auth_tries ||
	    find_challenge(m, &ch))
		return false;
	call->auth_tries++;
	call->cseq++;
	call->invite_cseq = call->cseq;
	if (build_initial(w, i, &ch))
		return false;
	w->st.challenges++;
	if (call->state != UAC_TRYING)
		call->state = UAC_CALLING;
	send_new(w, i);
	return true;
}

/* Any 1xx to the INVITE: latency to the first, no more retransmissions
 * (Proceeding, RFC 3261 §17.1.1.2). */
static void first_provisional(struct worker *w, uint32_t i, int64_t rx_us)
{
	struct uac_call *call = &w->calls[i];

	if (!call->got_1xx) {
		call->got_1xx = true;
		hist_add(&w->st.lat_first,
			 (uint64_t)(rx_us > call->t_op_us
					? rx_us - call->t_op_us
					: 0));
	}
	if (call->state == UAC_CALLING) {
		call->state = UAC_PROCEEDING;
		arm(w, i, call->t_op_us / 1000 + w->c->call_timeout_ms);
	}
}

bool worker__uac_quick(struct worker *w, unsigned status, struct slice call_id,
		       uint32_t cseq, struct slice method, int64_t rx_us)
{
	struct uac_call *call;
	uint32_t i, gen;

	if (worker__token_parse(w, call_id, &i, &gen) || i >= w->uac_n)
		return false; /* the full path counts it */
	call = &w->calls[i];
	if (call->gen != gen || call->state == UAC_FREE)
		return false;
	if (status < 200) {
		/* A 1xx to the INVITE: the first provisional, unless it may
		 * be a reliable one (call-100rel needs Require and RSeq). */
		if (!slice_eq(method, SLICE_LIT("INVITE")) ||
		    cseq != call->invite_cseq)
			return status == 100;
		if (w->c->scenario == WORKER_CALL_100REL && status != 100)
			return false;
		if (call->state == UAC_CALLING ||
		    call->state == UAC_PROCEEDING ||
		    call->state == UAC_PRACKING)
			first_provisional(w, i, rx_us);
		return true;
	}
	if (cseq != call->cseq)
		return false;
	if (call->state == UAC_BYE && slice_eq(method, SLICE_LIT("BYE"))) {
		op_done(w, i, status < 300, status);
		return true;
	}
	if (call->state == UAC_TRYING && status < 300 &&
	    (slice_eq(method, SLICE_LIT("OPTIONS")) ||
	     slice_eq(method, SLICE_LIT("REGISTER")))) {
		hist_add(&w->st.lat_final,
			 (uint64_t)(rx_us > call->t_op_us
					? rx_us - call->t_op_us
					: 0));
		op_done(w, i, true, status);
		return true;
	}
	return false;
}

static void on_provisional(struct worker *w, uint32_t i, const struct sipmsg *m,
			   int64_t rx_us)
{
	struct uac_call *call = &w->calls[i];
	uint64_t rseq;

	first_provisional(w, i, rx_us);
	/* RFC 3262 §4: a reliable provisional gets a PRACK. */
	if (m->status == 100 || !sipmsg_hdr_has_tag(m, HDR_REQUIRE, "100rel"))
		return;
	if (slice_to_u64(slice_trim(hdr_value(m, HDR_RSEQ)), 0xffffffffu,
			 &rseq) ||
	    rseq == 0) {
		w->st.bad_msgs++;
		return;
	}
	if (call->rseq && rseq <= call->rseq) {
		w->st.dup_rcvd++;
		return;
	}
	if (call->state == UAC_PRACKING) {
		/* One PRACK at a time: the UAS retransmits the next 18x. */
		return;
	}
	if (store_dialog(w, i, m)) {
		w->st.bad_msgs++;
		return;
	}
	call->rseq = (uint32_t)rseq;
	call->cseq++;
	if (build_in_dialog(w, i, "PRACK")) {
		w->st.fail_other++;
		return;
	}
	call->state = UAC_PRACKING;
	send_new(w, i);
}

static void on_invite_final(struct worker *w, uint32_t i,
			    const struct sipmsg *m, int64_t rx_us)
{
	struct uac_call *call = &w->calls[i];

	if (m->status >= 300) {
		send_ack_error(w, i, m);
		if (!retry_with_auth(w, i, m))
			op_done(w, i, false, m->status);
		return;
	}
	hist_add(&w->st.lat_final,
		 (uint64_t)(rx_us > call->t_op_us ? rx_us - call->t_op_us : 0));
	if (send_ack_2xx(w, m) != SDPOA_OK) {
		/* Acknowledged without an answer; the call goes on to its
		 * BYE and then counts as failed. */
		w->st.bad_offers++;
		call->bad_offer = true;
	}
	if (store_dialog(w, i, m)) {
		/* No way to send a BYE. */
		w->st.bad_msgs++;
		op_done(w, i, false, m->status);
		return;
	}
	if (!w->c->hold_ms) {
		send_bye(w, i);
		return;
	}
	call->state = UAC_HOLD;
	arm(w, i, w->now_ms + w->c->hold_ms);
}

void worker__uac_response(struct worker *w, const struct sipmsg *m,
			  const struct peer *from, int64_t rx_us)
{
	struct uac_call *call;
	uint32_t i, gen;
	bool final = m->status >= 200;

	(void)from;
	if (worker__token_parse(w, m->call_id, &i, &gen) || i >= w->uac_n) {
		w->st.stray++;
		return;
	}
	call = &w->calls[i];
	if (call->state == UAC_FREE || call->gen != gen) {
		/* An operation that is over: a retransmitted final. A 2xx
		 * to an INVITE is acknowledged again. */
		w->st.dup_rcvd++;
		if (m->cseq_method == SIP_INVITE && final && m->status < 300)
			send_ack_2xx(w, m);
		return;
	}
	switch (m->cseq_method) {
	case SIP_INVITE:
		if (m->cseq != call->invite_cseq) {
			w->st.dup_rcvd++;
			return;
		}
		if (call->state == UAC_CALLING ||
		    call->state == UAC_PROCEEDING ||
		    call->state == UAC_PRACKING) {
			if (!final)
				on_provisional(w, i, m, rx_us);
			else
				on_invite_final(w, i, m, rx_us);
			return;
		}
		w->st.dup_rcvd++;
		if (final && m->status < 300)
			send_ack_2xx(w, m);
		return;
	case SIP_PRACK:
		if (call->state != UAC_PRACKING || m->cseq != call->cseq ||
		    !final) {
			if (final)
				w->st.dup_rcvd++;
			return;
		}
		if (m->status >= 300) {
			call->prack_failed = true;
			call->fail_code = (uint16_t)m->status;
		}
		call->state = UAC_PROCEEDING;
		arm(w, i, call->t_op_us / 1000 + w->c->call_timeout_ms);
		return;
	case SIP_BYE:
		if (call->state != UAC_BYE || m->cseq != call->cseq || !final) {
			if (final)
				w->st.dup_rcvd++;
			return;
		}
		op_done(w, i, m->status < 300, m->status);
		return;
	case SIP_OPTIONS:
	case SIP_REGISTER:
		if (call->state != UAC_TRYING || m->cseq != call->cseq ||
		    !final) {
			if (final)
				w->st.dup_rcvd++;
			return;
		}
		if (m->status < 300) {
			hist_add(&w->st.lat_final,
				 (uint64_t)(rx_us > call->t_op_us
						? rx_us - call->t_op_us
						: 0));
			op_done(w, i, true, m->status);
			return;
		}
		if (!retry_with_auth(w, i, m))
			op_done(w, i, false, m->status);
		return;
	default:
		w->st.stray++;
		return;
	}
}
