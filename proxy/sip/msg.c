/* proxy/sip/msg.c - zero-copy SIP message parser */
#include "proxy/sip/msg.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include "proxy/base/hex.h"
#include "proxy/sip/uri.h"

/* RFC 3261 §25.1 token characters. */
enum {
	M_TOKEN = 1 << 0,
};

static const uint8_t ctype[256] = {
	['!'] = M_TOKEN, ['%'] = M_TOKEN, ['\''] = M_TOKEN, ['*'] = M_TOKEN,
	['+'] = M_TOKEN, ['-'] = M_TOKEN, ['.'] = M_TOKEN,  ['0'] = M_TOKEN,
	['1'] = M_TOKEN, ['2'] = M_TOKEN, ['3'] = M_TOKEN,  ['4'] = M_TOKEN,
	['5'] = M_TOKEN, ['6'] = M_TOKEN, ['7'] = M_TOKEN,  ['8'] = M_TOKEN,
	['9'] = M_TOKEN, ['A'] = M_TOKEN, ['B'] = M_TOKEN,  ['C'] = M_TOKEN,
	['D'] = M_TOKEN, ['E'] = M_TOKEN, ['F'] = M_TOKEN,  ['G'] = M_TOKEN,
	['H'] = M_TOKEN, ['I'] = M_TOKEN, ['J'] = M_TOKEN,  ['K'] = M_TOKEN,
	['L'] = M_TOKEN, ['M'] = M_TOKEN, ['N'] = M_TOKEN,  ['O'] = M_TOKEN,
	['P'] = M_TOKEN, ['Q'] = M_TOKEN, ['R'] = M_TOKEN,  ['S'] = M_TOKEN,
	['T'] = M_TOKEN, ['U'] = M_TOKEN, ['V'] = M_TOKEN,  ['W'] = M_TOKEN,
	['X'] = M_TOKEN, ['Y'] = M_TOKEN, ['Z'] = M_TOKEN,  ['_'] = M_TOKEN,
	['`'] = M_TOKEN, ['a'] = M_TOKEN, ['b'] = M_TOKEN,  ['c'] = M_TOKEN,
	['d'] = M_TOKEN, ['e'] = M_TOKEN, ['f'] = M_TOKEN,  ['g'] = M_TOKEN,
	['h'] = M_TOKEN, ['i'] = M_TOKEN, ['j'] = M_TOKEN,  ['k'] = M_TOKEN,
	['l'] = M_TOKEN, ['m'] = M_TOKEN, ['n'] = M_TOKEN,  ['o'] = M_TOKEN,
	['p'] = M_TOKEN, ['q'] = M_TOKEN, ['r'] = M_TOKEN,  ['s'] = M_TOKEN,
	['t'] = M_TOKEN, ['u'] = M_TOKEN, ['v'] = M_TOKEN,  ['w'] = M_TOKEN,
	['x'] = M_TOKEN, ['y'] = M_TOKEN, ['z'] = M_TOKEN,  ['~'] = M_TOKEN,
};

/* One past the last byte of @p s; NULL + 0 is undefined, so not for NULL. */
static inline const char *end_of(struct slice s)
{
	return s.len ? s.p + s.len : s.p;
}

static inline bool is_token(char c)
{
	return ctype[(unsigned char)c] & M_TOKEN;
}

static inline bool is_lws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static inline bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static inline char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c | 0x20) : c;
}

static const char *const methods[SIP_METHOD__COUNT] = {
	[SIP_ACK] = "ACK",
	[SIP_BYE] = "BYE",
	[SIP_CANCEL] = "CANCEL",
	[SIP_INFO] = "INFO",
	[SIP_INVITE] = "INVITE",
	[SIP_MESSAGE] = "MESSAGE",
	[SIP_NOTIFY] = "NOTIFY",
	[SIP_OPTIONS] = "OPTIONS",
	[SIP_PRACK] = "PRACK",
	[SIP_PUBLISH] = "PUBLISH",
	[SIP_REFER] = "REFER",
	[SIP_REGISTER] = "REGISTER",
	[SIP_SUBSCRIBE] = "SUBSCRIBE",
	[SIP_UPDATE] = "UPDATE",
};

static bool method_is(struct slice s, enum sip_method m)
{
	const char *n = methods[m];

	return strlen(n) == s.len && memcmp(s.p, n, s.len) == 0;
}

enum sip_method sip_method_lookup(struct slice name)
{
	enum sip_method a = SIP_METHOD_OTHER, b = SIP_METHOD_OTHER;

	if (name.len < 3)
		return SIP_METHOD_OTHER;
	switch (name.p[0]) {
	case 'A':
		a = SIP_ACK;
		break;
	case 'B':
		a = SIP_BYE;
		break;
	case 'C':
		a = SIP_CANCEL;
		break;
	case 'I':
		a = SIP_INVITE;
		b = SIP_INFO;
		break;
	case 'M':
		a = SIP_MESSAGE;
		break;
	case 'N':
		a = SIP_NOTIFY;
		break;
	case 'O':
		a = SIP_OPTIONS;
		break;
	case 'P':
		a = SIP_PRACK;
		b = SIP_PUBLISH;
		break;
	case 'R':
		a = SIP_REGISTER;
		b = SIP_REFER;
		break;
	case 'S':
		a = SIP_SUBSCRIBE;
		break;
	case 'U':
		a = SIP_UPDATE;
		break;
	default:
		return SIP_METHOD_OTHER;
	}
	if (method_is(name, a))
		return a;
	if (b != SIP_METHOD_OTHER && method_is(name, b))
		return b;
	return SIP_METHOD_OTHER;
}

struct slice sip_method_name(enum sip_method m)
{
	if ((unsigned)m >= SIP_METHOD__COUNT || m == SIP_METHOD_OTHER)
		return slice_make("", 0);
	return slice_cstr(methods[m]);
}

/* Parser state that does not belong in struct sipmsg. */
struct pstate {
	unsigned seen; /* SEEN_* bits */
	bool have_via;
	bool e2big;
	enum { CL_NONE, CL_OK, CL_BAD } cl;
	int16_t last[HDR__COUNT]; /* valid where m->first[id] >= 0 */
};

enum {
	SEEN_VIA = 1 << 0,
	SEEN_FROM = 1 << 1,
	SEEN_TO = 1 << 2,
	SEEN_CALL_ID = 1 << 3,
	SEEN_CSEQ = 1 << 4,
	SEEN_MAX_FORWARDS = 1 << 5,
};

/* The first fault found names the message's 400. */
static inline void fault(struct sipmsg *m, const char *why)
{
	if (!m->fault)
		m->fault = why;
}

/* SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT (RFC 3261 §25.1) */
static bool version_ok(const char *p, const char *e)
{
	const char *q;

	if (e - p < 7 || lower(p[0]) != 's' || lower(p[1]) != 'i' ||
	    lower(p[2]) != 'p' || p[3] != '/')
		return false;
	for (q = p += 4; p < e && is_digit(*p); p++)
		;
	if (p == q || p == e || *p != '.')
		return false;
	for (q = ++p; p < e && is_digit(*p); p++)
		;
	return p != q && p == e;
}

/* Request-Line = Method SP Request-URI SP SIP-Version CRLF */
static void request_line(struct sipmsg *m, const char *p, const char *e)
{
	const char *sp1, *sp2, *q;
	struct sipuri u;

	m->is_request = true;
	sp1 = memchr(p, ' ', (size_t)(e - p));
	if (!sp1) {
		fault(m, "Malformed Request-Line");
		return;
	}
	for (q = p; q < sp1 && is_token(*q); q++)
		;
	m->method_name = slice_make(p, (size_t)(sp1 - p));
	m->method = sip_method_lookup(m->method_name);
	sp2 = memrchr(sp1, ' ', (size_t)(e - sp1));
	if (q == p || q != sp1 || sp2 == sp1 || !version_ok(sp2 + 1, e) ||
	    sp2 - sp1 < 2 || sp1[1] == ' ' || sp2[-1] == ' ') {
		/* RFC 4475 §3.1.2.9, §3.1.2.10: exactly one SP between. */
		fault(m, "Malformed Request-Line");
		return;
	}
	m->version = slice_make(sp2 + 1, (size_t)(e - sp2 - 1));
	m->ruri = slice_make(sp1 + 1, (size_t)(sp2 - sp1 - 1));
	/* RFC 3261 §19.1.1 table 1: no headers in a Request-URI. */
	if (uri_parse(m->ruri, &u) ||
	    ((u.scheme == URI_SIP || u.scheme == URI_SIPS) && u.headers.p)) {
		fault(m, "Malformed Request-URI");
		return;
	}
	m->ruri_uri = u;
	m->ruri_ok = true;
}

/* Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF */
static void status_line(struct sipmsg *m, const char *p, const char *e)
{
	const char *sp = memchr(p, ' ', (size_t)(e - p)), *c;
	unsigned status;

	m->is_request = false;
	if (!sp || !version_ok(p, sp)) {
		fault(m, "Malformed Status-Line");
		return;
	}
	m->version = slice_make(p, (size_t)(sp - p));
	c = sp + 1;
	if (e - c < 3 || !is_digit(c[0]) || !is_digit(c[1]) ||
	    !is_digit(c[2]) || (e - c > 3 && c[3] != ' ')) {
		fault(m, "Malformed Status-Line");
		return;
	}
	status = (unsigned)(c[0] - '0') * 100 + (unsigned)(c[1] - '0') * 10 +
		 (unsigned)(c[2] - '0');
	if (status < 100 || status > 699) {
		fault(m, "Malformed Status-Line");
		return;
	}
	m->status = status;
	/* An empty Reason-Phrase is valid (RFC 4475 §3.1.1.13). */
	m->reason = e - c > 3 ? slice_make(c + 4, (size_t)(e - c - 4))
			      : slice_make(e, 0);
}

static void via_hdr(struct sipmsg *m, struct pstate *st, struct slice v)
{
	struct slice rest = v, el;
	struct sipvia scratch;
	int r;

	/* Most Via headers hold one via-parm: no need to split. */
	if (v.len && !memchr(v.p, ',', v.len)) {
		if (via_parse(v, st->have_via ? &scratch : &m->via))
			fault(m, "Malformed Via");
		st->have_via = true;
		return;
	}
	/* Every via-parm is checked; the first one is kept. */
	while ((r = hdr_split_next(&rest, &el)) == 1) {
		if (via_parse(el, st->have_via ? &scratch : &m->via)) {
			r = -EBADMSG;
			break;
		}
		st->have_via = true;
	}
	if (r < 0 || v.len == 0)
		fault(m, "Malformed Via");
}

static void addr_hdr(struct sipmsg *m, struct slice v, struct slice *tagp,
		     const char *bad)
{
	struct nameaddr na;
	struct slice tag;
	int r;

	/* One pass: the parameters checked and the tag found. */
	r = nameaddr_parse_param(v, &na, "tag", &tag);
	if (r < 0) {
		fault(m, bad);
		return;
	}
	if (r == 1 && tag.len)
		*tagp = tag;
	if (r < 0 || (r == 1 && tag.len == 0))
		fault(m, bad);
}

static void call_id_hdr(struct sipmsg *m, struct slice v)
{
	/* callid = word [ "@" word ]: visible ASCII, no LWS. */
	m->call_id = v;
	if (v.len == 0)
		fault(m, "Malformed Call-ID");
	for (size_t i = 0; i < v.len; i++)
		if ((unsigned char)v.p[i] <= 0x20 ||
		    (unsigned char)v.p[i] >= 0x7f) {
			fault(m, "Malformed Call-ID");
			break;
		}
}

/* CSeq = 1*DIGIT LWS Method; the number fits 32 bits (RFC 3261 §8.1.1.5) */
static void cseq_hdr(struct sipmsg *m, struct slice v)
{
	const char *p = v.p, *end = end_of(v), *q;
	uint64_t n;

	for (q = p; q < end && is_digit(*q); q++)
		;
	if (slice_to_u64(slice_make(p, (size_t)(q - p)), UINT32_MAX, &n))
		goto bad;
	for (p = q; p < end && is_lws(*p); p++)
		;
	if (p == q)
		goto bad;
	for (q = p; q < end && is_token(*q); q++)
		;
	if (q == p || q != end)
		goto bad;
	m->cseq = (uint32_t)n;
	m->cseq_method_name = slice_make(p, (size_t)(q - p));
	m->cseq_method = sip_method_lookup(m->cseq_method_name);
	return;
bad:
	fault(m, "Malformed CSeq");
}

static void max_forwards_hdr(struct sipmsg *m, struct slice v)
{
	uint64_t n;

	if (slice_to_u64(v, 255, &n)) {
		fault(m, "Malformed Max-Forwards");
		return;
	}
	m->max_forwards = (int)n;
}

static void content_length_hdr(struct sipmsg *m, struct pstate *st,
			       struct slice v)
{
	uint64_t n;

	if (slice_to_u64(v, INT_MAX, &n)) {
		fault(m, "Bad Content-Length");
		st->cl = CL_BAD;
		return;
	}
	if (st->cl == CL_BAD)
		return;
	if (st->cl == CL_OK && (long)n != m->content_length) {
		/* RFC 4475 §3.3.9: the body cannot be framed. */
		fault(m, "Duplicate Content-Length");
		st->cl = CL_BAD;
		return;
	}
	m->content_length = (long)n;
	st->cl = CL_OK;
}

static void contact_hdr(struct sipmsg *m, struct slice v)
{
	struct slice rest = v, el;
	struct nameaddr na;
	int r;

	if (v.len && !memchr(v.p, ',', v.len)) {
		/* One contact: no need to split. */
		if (!(v.len == 1 && v.p[0] == '*') && nameaddr_parse(v, &na))
			fault(m, "Malformed Contact");
		return;
	}
	while ((r = hdr_split_next(&rest, &el)) == 1) {
		if (el.len == 1 && el.p[0] == '*')
			continue;
		/* RFC 4475 §3.1.2.13: addr-spec with '?' is caught here. */
		if (nameaddr_parse(el, &na)) {
			r = -EBADMSG;
			break;
		}
	}
	if (r < 0 || v.len == 0)
		fault(m, "Malformed Contact");
}

/* A single-instance header seen twice (RFC 4475 §3.3.8). */
static bool once(struct sipmsg *m, struct pstate *st, unsigned bit,
		 const char *dup)
{
	if (st->seen & bit) {
		fault(m, dup);
		return false;
	}
	st->seen |= bit;
	return true;
}

static void eager(struct sipmsg *m, struct pstate *st, enum hdr_id id,
		  struct slice v)
{
	switch (id) {
	case HDR_VIA:
		st->seen |= SEEN_VIA;
		via_hdr(m, st, v);
		break;
	case HDR_FROM:
		if (once(m, st, SEEN_FROM, "Duplicate From"))
			addr_hdr(m, v, &m->from_tag, "Malformed From");
		break;
	case HDR_TO:
		if (once(m, st, SEEN_TO, "Duplicate To"))
			addr_hdr(m, v, &m->to_tag, "Malformed To");
		break;
	case HDR_CALL_ID:
		if (once(m, st, SEEN_CALL_ID, "Duplicate Call-ID"))
			call_id_hdr(m, v);
		break;
	case HDR_CSEQ:
		if (once(m, st, SEEN_CSEQ, "Duplicate CSeq"))
			cseq_hdr(m, v);
		break;
	case HDR_MAX_FORWARDS:
		if (once(m, st, SEEN_MAX_FORWARDS, "Duplicate Max-Forwards"))
			max_forwards_hdr(m, v);
		break;
	case HDR_CONTENT_LENGTH:
		content_length_hdr(m, st, v);
		break;
	case HDR_CONTACT:
		contact_hdr(m, v);
		break;
	default:
		break;
	}
}

/* Append header @p i (already filled in) to the chain of its id. */
static void link_hdr(struct sipmsg *m, struct pstate *st, int16_t i)
{
	uint16_t id = m->hdrs[i].id;

	if (m->first[id] < 0)
		m->first[id] = i;
	else
		m->hdrs[st->last[id]].next = i;
	st->last[id] = i;
	m->nhdrs++;
}

int sipmsg_parse(struct sipmsg *m, const char *buf, size_t len,
		 struct siphdr *hdrs, unsigned max_hdrs, unsigned flags)
{
	const bool stream = flags & SIPMSG_STREAM;
	const char *p = buf, *end = len ? buf + len : buf, *nl, *eol;
	struct slice hname, value;
	struct pstate st;
	enum hdr_id id;
	size_t avail;

	*m = (struct sipmsg){
		.buf = buf,
		.hdrs = hdrs,
		.max_forwards = -1,
		.content_length = -1,
	};
	memset(m->first, 0xff, sizeof(m->first));
	st.seen = 0;
	st.have_via = false;
	st.e2big = false;
	st.cl = CL_NONE;
	if (max_hdrs > INT16_MAX)
		max_hdrs = INT16_MAX;
	if (len > INT_MAX) {
		m->fault = "Message Too Large";
		return -EMSGSIZE;
	}

	/* RFC 3261 §7.5: ignore CRLFs before the start line. */
	while (p < end && (*p == '\r' || *p == '\n'))
		p++;
	if (p == end) {
		if (stream)
			return -EAGAIN;
		m->fault = "Empty Message";
		return -EBADMSG;
	}
	m->buf = p;

	/* Start line. */
	nl = memchr(p, '\n', (size_t)(end - p));
	if (!nl && stream)
		return -EAGAIN;
	eol = nl ? nl : end;
	if (eol > p && eol[-1] == '\r')
		eol--;
	if (eol - p >= 4 && lower(p[0]) == 's' && lower(p[1]) == 'i' &&
	    lower(p[2]) == 'p' && p[3] == '/')
		status_line(m, p, eol);
	else
		request_line(m, p, eol);
	p = nl ? nl + 1 : end;

	/* Header fields, up to the empty line. */
	for (;;) {
		const char *name = p, *colon, *next;

		if (p == end) {
			if (stream)
				return -EAGAIN;
			fault(m, "Missing Empty Line");
			break;
		}
		if (*p == '\n') {
			p++;
			break;
		}
		if (*p == '\r' && (p + 1 == end || p[1] == '\n')) {
			if (p + 1 == end && stream)
				return -EAGAIN;
			p += p + 1 == end ? 1 : 2;
			break;
		}
		for (colon = p; colon < end && is_token(*colon); colon++)
			;
		hname = slice_make(p, (size_t)(colon - p));
		while (colon < end && (*colon == ' ' || *colon == '\t'))
			colon++;
		/* The line ends at an LF not followed by SP or HTAB (fold). */
		nl = memchr(colon, '\n', (size_t)(end - colon));
		for (;;) {
			if (!nl || nl + 1 == end) {
				if (stream)
					return -EAGAIN;
				eol = nl ? nl : end;
				next = end;
				break;
			}
			if (nl[1] != ' ' && nl[1] != '\t') {
				eol = nl;
				next = nl + 1;
				break;
			}
			nl = memchr(nl + 1, '\n', (size_t)(end - nl - 1));
		}
		p = next;
		if (hname.len == 0 || colon == eol || *colon != ':') {
			/* Keep going: a 400 still needs Via, From, To... */
			fault(m, "Malformed Header");
			continue;
		}
		/* The value, without the LWS around it (folds included). */
		for (colon++; colon < eol && is_lws(*colon); colon++)
			;
		while (eol > colon && is_lws(eol[-1]))
			eol--;
		value = slice_make(colon, (size_t)(eol - colon));
		id = hdr_lookup(hname);
		if (m->nhdrs < max_hdrs) {
			/* Filled in place: no struct copy on the hot path. */
			struct siphdr *h = &hdrs[m->nhdrs];

			h->name = hname;
			h->value = value;
			h->line = slice_make(name, (size_t)(next - name));
			h->id = (uint16_t)id;
			h->next = -1;
			link_hdr(m, &st, (int16_t)m->nhdrs);
		} else {
			st.e2big = true;
		}
		eager(m, &st, id, value);
	}

	/* Body: Content-Length frames it (RFC 3261 §18.3, §20.14). */
	avail = (size_t)(end - p);
	m->body = slice_make(p, 0);
	if (st.cl == CL_OK && (size_t)m->content_length <= avail) {
		m->body.len = (size_t)m->content_length;
		m->len = (size_t)(p - m->buf) + m->body.len;
	} else if (st.cl == CL_OK && stream) {
		return -EAGAIN;
	} else if (!stream) {
		/* A datagram is its own frame: the body is the rest. */
		if (st.cl == CL_OK)
			fault(m, "Bad Content-Length");
		m->body.len = avail;
		m->len = (size_t)(end - m->buf);
	} else if (st.cl == CL_NONE) {
		fault(m, "Missing Content-Length");
	}

	if (!(st.seen & SEEN_VIA))
		fault(m, "Missing Via");
	if (!(st.seen & SEEN_FROM))
		fault(m, "Missing From");
	if (!(st.seen & SEEN_TO))
		fault(m, "Missing To");
	if (!(st.seen & SEEN_CALL_ID))
		fault(m, "Missing Call-ID");
	if (!(st.seen & SEEN_CSEQ))
		fault(m, "Missing CSeq");
	if (m->is_request) {
		/* RFC 3261 §8.1.1.5; the core picks 400 or 501. */
		if (m->cseq_method_name.p && m->method_name.p &&
		    !slice_eq(m->cseq_method_name, m->method_name))
			fault(m, "CSeq Method Mismatch");
	} else {
		m->method = m->cseq_method;
		m->method_name = m->cseq_method_name;
	}

	if (st.e2big) {
		m->fault = "Too Many Headers";
		return -E2BIG;
	}
	if (m->fault)
		return -EBADMSG;
	return (int)((size_t)(m->buf - buf) + m->len);
}

const struct siphdr *sipmsg_hdr(const struct sipmsg *m, enum hdr_id id)
{
	if ((unsigned)id >= HDR__COUNT || m->first[id] < 0)
		return NULL;
	return &m->hdrs[m->first[id]];
}

const struct siphdr *sipmsg_hdr_next(const struct sipmsg *m,
				     const struct siphdr *h)
{
	return h->next >= 0 ? &m->hdrs[h->next] : NULL;
}

unsigned sipmsg_hdr_count(const struct sipmsg *m, enum hdr_id id)
{
	unsigned n = 0;

	for (const struct siphdr *h = sipmsg_hdr(m, id); h;
	     h = sipmsg_hdr_next(m, h))
		n++;
	return n;
}

/*
 * When the header at @p p (a line start) is named @p lname (lower
 * case) or its compact form @p compact, followed by optional SP/HTAB
 * and ':', return the byte after the colon; else NULL.
 */
static const char *name_is(const char *p, const char *le, const char *lname,
			   size_t nlen, char compact)
{
	const char *q = p;

	if (le - p > (long)nlen && lower(p[0]) == lname[0]) {
		size_t i;

		for (i = 1; i < nlen && lower(p[i]) == lname[i]; i++)
			;
		if (i == nlen)
			q = p + nlen;
	}
	if (q == p && lower(p[0]) == compact)
		q = p + 1;
	if (q == p)
		return NULL;
	while (q < le && (*q == ' ' || *q == '\t'))
		q++;
	return q < le && *q == ':' ? q + 1 : NULL;
}

/* Skip LWS from @p p, following folds (an LF then SP or HTAB). */
static const char *skip_value_lws(const char *p, const char *end)
{
	while (p < end) {
		if (*p == ' ' || *p == '\t') {
			p++;
		} else if (*p == '\r' || *p == '\n') {
			const char *q = p + (*p == '\r');

			if (q >= end || *q != '\n' || q + 1 >= end ||
			    (q[1] != ' ' && q[1] != '\t'))
				return p;
			p = q + 1;
		} else {
			break;
		}
	}
	return p;
}

int sipmsg_via_parse(const struct sipmsg *m, struct slice value,
		     struct sipvia *viap)
{
	struct slice t = slice_trim(value);

	/* via_parse() depends on the trimmed bytes only, and m->via holds
	 * its result for the first via-parm (value empty when it failed). */
	if (m && m->via.value.len && t.p == m->via.value.p &&
	    t.len == m->via.value.len) {
		*viap = m->via;
		return 0;
	}
	return via_parse(value, viap);
}

int sipmsg_uri_parse(const struct sipmsg *m, struct slice s, struct sipuri *up)
{
	if (m && m->ruri_ok && s.p == m->ruri.p && s.len == m->ruri.len) {
		*up = m->ruri_uri;
		return 0;
	}
	return uri_parse(s, up);
}

int sipmsg_peek_call_id(const char *buf, size_t len, struct slice *callidp)
{
	const char *p = buf, *end = len ? buf + len : buf, *nl, *v, *q;

	while (p < end && (*p == '\r' || *p == '\n'))
		p++;
	nl = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
	if (!nl)
		return -ENOENT;
	for (p = nl + 1; p < end; p = nl + 1) {
		if (*p == '\n' ||
		    (*p == '\r' && (p + 1 == end || p[1] == '\n')))
			return -ENOENT;
		nl = memchr(p, '\n', (size_t)(end - p));
		v = name_is(p, nl ? nl : end, "call-id", 7, 'i');
		if (v) {
			v = skip_value_lws(v, end);
			for (q = v; q < end && !is_lws(*q); q++)
				;
			if (q == v)
				return -ENOENT;
			*callidp = slice_make(v, (size_t)(q - v));
			return 0;
		}
		if (!nl)
			break;
	}
	return -ENOENT;
}

/* RFC 3261 §25.1 unreserved: alphanum and mark. */
static bool is_unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       is_digit((char)c) || (c && strchr("-_.!~*'()", c));
}

bool sipmsg_hdr_has_tag(const struct sipmsg *m, enum hdr_id id, const char *tag)
{
	for (const struct siphdr *h = sipmsg_hdr(m, id); h;
	     h = sipmsg_hdr_next(m, h)) {
		struct slice rest = h->value, e;

		/* Bounded: each pass consumes one element. */
		while (hdr_split_next(&rest, &e) == 1)
			if (slice_caseeq_cstr(e, tag))
				return true;
	}
	return false;
}

int sipmsg_aor_print(struct slice uri, char *buf, size_t size)
{
	struct sipuri u;
	size_t o = 0;

	if (uri_parse(uri, &u) < 0 ||
	    (u.scheme != URI_SIP && u.scheme != URI_SIPS) || u.host.len == 0)
		return -EBADMSG;
	if (u.user.len == 0)
		return -ENOENT;
	for (size_t i = 0; i < u.user.len; i++) {
		char c = u.user.p[i];
		int hi, lo;

		if (c == '%' && i + 2 < u.user.len &&
		    (hi = hex_val(u.user.p[i + 1])) >= 0 &&
		    (lo = hex_val(u.user.p[i + 2])) >= 0) {
			unsigned char d = (unsigned char)(hi * 16 + lo);

			i += 2;
			if (is_unreserved(d)) {
				if (o + 1 > size)
					return -ENOSPC;
				buf[o++] = (char)d;
				continue;
			}
			if (o + 3 > size)
				return -ENOSPC;
			hex_escape(d, buf + o);
			o += 3;
			continue;
		}
		if (o + 1 > size)
			return -ENOSPC;
		buf[o++] = c;
	}
	if (o + 1 + u.host.len > size || o + 1 + u.host.len > INT_MAX)
		return -ENOSPC;
	buf[o++] = '@';
	for (size_t i = 0; i < u.host.len; i++)
		buf[o++] = lower(u.host.p[i]);
	return (int)o;
}

bool sipmsg_aor_split(struct slice aor, struct slice *userp,
		      struct slice *hostp)
{
	const char *at = memrchr(aor.p, '@', aor.len);

	if (!at) {
		*userp = aor;
		*hostp = slice_make(aor.p + aor.len, 0);
		return false;
	}
	*userp = slice_make(aor.p, (size_t)(at - aor.p));
	*hostp = slice_make(at + 1, aor.len - (size_t)(at + 1 - aor.p));
	return true;
}

int sipmsg_hdr_aor(const struct sipmsg *m, enum hdr_id id, char *buf,
		   size_t size, struct slice *userp, struct slice *hostp)
{
	const struct siphdr *h = sipmsg_hdr(m, id);
	struct slice user, host;
	struct nameaddr na;
	int n;

	if (!h || nameaddr_parse(h->value, &na) < 0)
		return -EBADMSG;
	n = sipmsg_aor_print(na.uri, buf, size);
	if (n < 0)
		return n;
	sipmsg_aor_split(slice_make(buf, (size_t)n), &user, &host);
	if (userp)
		*userp = user;
	if (hostp)
		*hostp = host;
	return n;
}

int sipmsg_peek_aor(const char *buf, size_t len, char *out, size_t size)
{
	static const char reg[] = "REGISTER ";
	const char *p = buf, *end = len ? buf + len : buf, *nl, *colon, *eol;
	struct nameaddr na;
	struct slice hname, value;

	while (p < end && (*p == '\r' || *p == '\n'))
		p++;
	if ((size_t)(end - p) < sizeof(reg) - 1 ||
	    memcmp(p, reg, sizeof(reg) - 1) != 0)
		return -ENOENT;
	nl = memchr(p, '\n', (size_t)(end - p));
	if (!nl)
		return -ENOENT;
	/* Header fields cut as sipmsg_parse() cuts them. */
	for (p = nl + 1; p < end;) {
		if (*p == '\n' ||
		    (*p == '\r' && (p + 1 == end || p[1] == '\n')))
			return -ENOENT;
		for (colon = p; colon < end && is_token(*colon); colon++)
			;
		hname = slice_make(p, (size_t)(colon - p));
		while (colon < end && (*colon == ' ' || *colon == '\t'))
			colon++;
		nl = memchr(colon, '\n', (size_t)(end - colon));
		while (nl && nl + 1 < end && (nl[1] == ' ' || nl[1] == '\t'))
			nl = memchr(nl + 1, '\n', (size_t)(end - nl - 1));
		eol = nl ? nl : end;
		if (colon < eol && *colon == ':' &&
		    (slice_caseeq_cstr(hname, "to") ||
		     slice_caseeq_cstr(hname, "t"))) {
			for (colon++; colon < eol && is_lws(*colon); colon++)
				;
			while (eol > colon && is_lws(eol[-1]))
				eol--;
			value = slice_make(colon, (size_t)(eol - colon));
			if (nameaddr_parse(value, &na) < 0)
				return -EBADMSG;
			return sipmsg_aor_print(na.uri, out, size);
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	return -ENOENT;
}

void sipmsg_framer_reset(struct sipmsg_framer *f)
{
	memset(f, 0, sizeof(*f));
}

/* The '\n' in [s, end), counting the bytes examined in @p f. */
static const char *frame_find_lf(struct sipmsg_framer *f, const char *s,
				 const char *end)
{
	const char *nl = s < end ? memchr(s, '\n', (size_t)(end - s)) : NULL;

	f->scanned += nl ? (size_t)(nl - s) + 1 : (size_t)(end - s);
	return nl;
}

/*
 * One complete header line [p, nl) (folds included): note its
 * Content-Length. 0, or -EMSGSIZE / -EBADMSG with *faultp set.
 */
static int frame_line(struct sipmsg_framer *f, const char *p, const char *nl,
		      const char **faultp)
{
	const char *v =
	    f->line ? name_is(p, nl, "content-length", 14, 'l') : NULL;
	uint64_t n;
	int err;

	if (!v)
		return 0;
	err = slice_to_u64(slice_trim(slice_make(v, (size_t)(nl - v))),
			   UINT64_MAX, &n);
	if (err == -ERANGE)
		return -EMSGSIZE;
	if (err) {
		*faultp = "Bad Content-Length";
		return -EBADMSG;
	}
	if (f->have_cl && n != f->cl) {
		*faultp = "Duplicate Content-Length";
		return -EBADMSG;
	}
	f->have_cl = true;
	f->cl = n;
	return 0;
}

int sipmsg_frame_next(struct sipmsg_framer *f, const char *buf, size_t len,
		      size_t max_hdr_bytes, size_t max_body_bytes,
		      const char **faultp)
{
	const char *p, *end, *nl;
	int more, err;

	if (f->in_body)
		goto body;
	/* Need more bytes: fine within the limit, too large beyond it. */
	if (len > max_hdr_bytes) {
		end = buf + max_hdr_bytes;
		more = -EMSGSIZE;
	} else {
		end = len ? buf + len : buf;
		more = -EAGAIN;
	}
	/* Lines before f->line were taken by earlier calls; in the line
	 * at f->line, no line end that ends it lies before f->scan. Each
	 * byte is searched once, except the LF before the end of the
	 * input, looked at again to see whether a fold follows. */
	p = buf + f->line;
	for (;;) {
		if (p >= end)
			return more;
		if (*p == '\n') {
			p++;
			break;
		}
		if (*p == '\r') {
			if (p + 1 == end)
				return more;
			if (p[1] == '\n') {
				p += 2;
				break;
			}
		}
		nl = frame_find_lf(
		    f, buf + (f->scan > f->line ? f->scan : f->line), end);
		for (;;) {
			if (!nl) {
				f->scan = (size_t)(end - buf);
				return more;
			}
			if (nl + 1 == end) {
				f->scan = (size_t)(nl - buf);
				return more;
			}
			if (nl[1] != ' ' && nl[1] != '\t')
				break;
			nl = frame_find_lf(f, nl + 1, end);
		}
		err = frame_line(f, p, nl, faultp);
		if (err)
			return err;
		p = nl + 1;
		f->line = f->scan = (size_t)(p - buf);
	}
	f->in_body = true;
	f->hdr_len = (size_t)(p - buf);
body:
	if (!f->have_cl) {
		*faultp = "Missing Content-Length";
		return -EBADMSG;
	}
	if (f->cl > max_body_bytes || f->cl > (uint64_t)INT_MAX - f->hdr_len)
		return -EMSGSIZE;
	if (len < f->hdr_len || len - f->hdr_len < f->cl)
		return -EAGAIN;
	return (int)(f->hdr_len + f->cl);
}

int sipmsg_frame(const char *buf, size_t len, size_t max_hdr_bytes,
		 size_t max_body_bytes, const char **faultp)
{
	struct sipmsg_framer f;

	sipmsg_framer_reset(&f);
	return sipmsg_frame_next(&f, buf, len, max_hdr_bytes, max_body_bytes,
				 faultp);
}
