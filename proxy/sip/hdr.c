/* proxy/sip/hdr.c - header ids (long and compact forms) and value parsers */
#include "proxy/sip/hdr.h"

#include <errno.h>
#include <string.h>

#include "proxy/sip/uri.h"

/* Character classes of RFC 3261 §25.1 used by the value parsers. */
enum {
	H_TOKEN = 1 << 0, /* token */
	H_LWS = 1 << 1,	  /* SP, HTAB, and the CR LF of a fold */
	H_PVAL = 1 << 2,  /* gen-value outside quotes (token / host, loosely) */
	H_URI = 1 << 3,	  /* in a URI: visible ASCII but < > " */
	H_DISPLAY = 1 << 4, /* unquoted display name: tokens and LWS */
	H_SCHEME = 1 << 5,  /* URI scheme */
	H_SPLIT = 1 << 6,   /* what hdr_split_next() looks at: " < > , */
};

static const uint8_t ctype[256] = {
	[0x09] = H_LWS | H_DISPLAY,
	[0x0a] = H_LWS | H_DISPLAY,
	[0x0d] = H_LWS | H_DISPLAY,
	[0x20] = H_LWS | H_DISPLAY,
	['!'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY,
	['"'] = H_SPLIT,
	['#'] = H_PVAL | H_URI,
	['$'] = H_PVAL | H_URI,
	['%'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY,
	['&'] = H_PVAL | H_URI,
	['\''] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY,
	['('] = H_PVAL | H_URI,
	[')'] = H_PVAL | H_URI,
	['*'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY,
	['+'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	[','] = H_URI | H_SPLIT,
	['-'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['.'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['/'] = H_PVAL | H_URI,
	['0'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['1'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['2'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['3'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['4'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['5'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['6'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['7'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['8'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['9'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	[':'] = H_PVAL | H_URI,
	[';'] = H_URI,
	['<'] = H_SPLIT,
	['='] = H_PVAL | H_URI,
	['>'] = H_SPLIT,
	['?'] = H_PVAL | H_URI,
	['@'] = H_PVAL | H_URI,
	['A'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['B'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['C'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['D'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['E'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['F'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['G'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['H'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['I'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['J'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['K'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['L'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['M'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['N'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['O'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['P'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['Q'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['R'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['S'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['T'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['U'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['V'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['W'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['X'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['Y'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['Z'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['['] = H_PVAL | H_URI,
	['\\'] = H_URI,
	[']'] = H_PVAL | H_URI,
	['^'] = H_PVAL | H_URI,
	['_'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY,
	['`'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY,
	['a'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['b'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['c'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['d'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['e'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['f'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['g'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['h'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['i'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['j'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['k'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['l'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['m'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['n'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['o'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['p'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['q'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['r'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['s'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['t'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['u'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['v'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['w'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['x'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['y'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['z'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY | H_SCHEME,
	['{'] = H_PVAL | H_URI,
	['|'] = H_PVAL | H_URI,
	['}'] = H_PVAL | H_URI,
	['~'] = H_TOKEN | H_PVAL | H_URI | H_DISPLAY,
};

/* One past the last byte of @p s; NULL + 0 is undefined, so not for NULL. */
static inline const char *end_of(struct slice s)
{
	return s.len ? s.p + s.len : s.p;
}

static inline unsigned cls(const char *p)
{
	return ctype[(unsigned char)*p];
}

static inline const char *skip_lws(const char *p, const char *end)
{
	while (p < end && (cls(p) & H_LWS))
		p++;
	return p;
}

static inline const char *skip_token(const char *p, const char *end)
{
	while (p < end && (cls(p) & H_TOKEN))
		p++;
	return p;
}

static inline char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c | 0x20) : c;
}

/* Canonical names, indexed by enum hdr_id. */
static const char *const names[HDR__COUNT] = {
	[HDR_ACCEPT] = "Accept",
	[HDR_ACCEPT_CONTACT] = "Accept-Contact",
	[HDR_ACCEPT_ENCODING] = "Accept-Encoding",
	[HDR_ACCEPT_LANGUAGE] = "Accept-Language",
	[HDR_ALERT_INFO] = "Alert-Info",
	[HDR_ALLOW] = "Allow",
	[HDR_ALLOW_EVENTS] = "Allow-Events",
	[HDR_ANSWER_MODE] = "Answer-Mode",
	[HDR_AUTHENTICATION_INFO] = "Authentication-Info",
	[HDR_AUTHORIZATION] = "Authorization",
	[HDR_CALL_ID] = "Call-ID",
	[HDR_CALL_INFO] = "Call-Info",
	[HDR_CONTACT] = "Contact",
	[HDR_CONTENT_DISPOSITION] = "Content-Disposition",
	[HDR_CONTENT_ENCODING] = "Content-Encoding",
	[HDR_CONTENT_LANGUAGE] = "Content-Language",
	[HDR_CONTENT_LENGTH] = "Content-Length",
	[HDR_CONTENT_TYPE] = "Content-Type",
	[HDR_CSEQ] = "CSeq",
	[HDR_DATE] = "Date",
	[HDR_ERROR_INFO] = "Error-Info",
	[HDR_EVENT] = "Event",
	[HDR_EXPIRES] = "Expires",
	[HDR_FLOW_TIMER] = "Flow-Timer",
	[HDR_FROM] = "From",
	[HDR_IDENTITY] = "Identity",
	[HDR_IN_REPLY_TO] = "In-Reply-To",
	[HDR_MAX_FORWARDS] = "Max-Forwards",
	[HDR_MIME_VERSION] = "MIME-Version",
	[HDR_MIN_EXPIRES] = "Min-Expires",
	[HDR_MIN_SE] = "Min-SE",
	[HDR_ORGANIZATION] = "Organization",
	[HDR_PATH] = "Path",
	[HDR_PRIORITY] = "Priority",
	[HDR_PRIV_ANSWER_MODE] = "Priv-Answer-Mode",
	[HDR_PROXY_AUTHENTICATE] = "Proxy-Authenticate",
	[HDR_PROXY_AUTHORIZATION] = "Proxy-Authorization",
	[HDR_PROXY_REQUIRE] = "Proxy-Require",
	[HDR_RACK] = "RAck",
	[HDR_REASON] = "Reason",
	[HDR_RECORD_ROUTE] = "Record-Route",
	[HDR_REFER_TO] = "Refer-To",
	[HDR_REFERRED_BY] = "Referred-By",
	[HDR_REJECT_CONTACT] = "Reject-Contact",
	[HDR_REPLACES] = "Replaces",
	[HDR_REPLY_TO] = "Reply-To",
	[HDR_REQUEST_DISPOSITION] = "Request-Disposition",
	[HDR_REQUIRE] = "Require",
	[HDR_RETRY_AFTER] = "Retry-After",
	[HDR_ROUTE] = "Route",
	[HDR_RSEQ] = "RSeq",
	[HDR_SERVER] = "Server",
	[HDR_SESSION_EXPIRES] = "Session-Expires",
	[HDR_SUBJECT] = "Subject",
	[HDR_SUBSCRIPTION_STATE] = "Subscription-State",
	[HDR_SUPPORTED] = "Supported",
	[HDR_TIMESTAMP] = "Timestamp",
	[HDR_TO] = "To",
	[HDR_UNSUPPORTED] = "Unsupported",
	[HDR_USER_AGENT] = "User-Agent",
	[HDR_VIA] = "Via",
	[HDR_WARNING] = "Warning",
	[HDR_WWW_AUTHENTICATE] = "WWW-Authenticate",
};

/* Compact forms (RFC 3261 §7.3.3 and the IANA registry), by letter. */
static const unsigned char compact[26] = {
	['a' - 'a'] = HDR_ACCEPT_CONTACT,
	['b' - 'a'] = HDR_REFERRED_BY,
	['c' - 'a'] = HDR_CONTENT_TYPE,
	['d' - 'a'] = HDR_REQUEST_DISPOSITION,
	['e' - 'a'] = HDR_CONTENT_ENCODING,
	['f' - 'a'] = HDR_FROM,
	['i' - 'a'] = HDR_CALL_ID,
	['j' - 'a'] = HDR_REJECT_CONTACT,
	['k' - 'a'] = HDR_SUPPORTED,
	['l' - 'a'] = HDR_CONTENT_LENGTH,
	['m' - 'a'] = HDR_CONTACT,
	['o' - 'a'] = HDR_EVENT,
	['r' - 'a'] = HDR_REFER_TO,
	['s' - 'a'] = HDR_SUBJECT,
	['t' - 'a'] = HDR_TO,
	['u' - 'a'] = HDR_ALLOW_EVENTS,
	['v' - 'a'] = HDR_VIA,
	['x' - 'a'] = HDR_SESSION_EXPIRES,
	['y' - 'a'] = HDR_IDENTITY,
};

/*
 * Long names grouped by length, so that a lookup compares against a
 * handful of candidates (0 ends a list). Most frequent first.
 */
#define BYLEN_MAX 19
static const unsigned char bylen[BYLEN_MAX + 1][7] = {
	[2] = { HDR_TO },
	[3] = { HDR_VIA },
	[4] = { HDR_CSEQ, HDR_FROM, HDR_DATE, HDR_PATH, HDR_RACK, HDR_RSEQ },
	[5] = { HDR_ROUTE, HDR_ALLOW, HDR_EVENT },
	[6] = { HDR_ACCEPT, HDR_REASON, HDR_SERVER, HDR_MIN_SE },
	[7] = { HDR_CALL_ID, HDR_CONTACT, HDR_EXPIRES, HDR_REQUIRE, HDR_SUBJECT,
		HDR_WARNING },
	[8] = { HDR_REFER_TO, HDR_REPLY_TO, HDR_PRIORITY, HDR_REPLACES,
		HDR_IDENTITY },
	[9] = { HDR_SUPPORTED, HDR_CALL_INFO, HDR_TIMESTAMP },
	[10] = { HDR_USER_AGENT, HDR_ALERT_INFO, HDR_ERROR_INFO,
		 HDR_FLOW_TIMER },
	[11] = { HDR_RETRY_AFTER, HDR_REFERRED_BY, HDR_UNSUPPORTED,
		 HDR_MIN_EXPIRES, HDR_ANSWER_MODE, HDR_IN_REPLY_TO },
	[12] = { HDR_MAX_FORWARDS, HDR_CONTENT_TYPE, HDR_RECORD_ROUTE,
		 HDR_ALLOW_EVENTS, HDR_MIME_VERSION, HDR_ORGANIZATION },
	[13] = { HDR_AUTHORIZATION, HDR_PROXY_REQUIRE },
	[14] = { HDR_CONTENT_LENGTH, HDR_ACCEPT_CONTACT, HDR_REJECT_CONTACT },
	[15] = { HDR_ACCEPT_ENCODING, HDR_ACCEPT_LANGUAGE,
		 HDR_SESSION_EXPIRES },
	[16] = { HDR_CONTENT_ENCODING, HDR_CONTENT_LANGUAGE,
		 HDR_WWW_AUTHENTICATE, HDR_PRIV_ANSWER_MODE },
	[18] = { HDR_PROXY_AUTHENTICATE, HDR_SUBSCRIPTION_STATE },
	[19] = { HDR_CONTENT_DISPOSITION, HDR_PROXY_AUTHORIZATION,
		 HDR_AUTHENTICATION_INFO, HDR_REQUEST_DISPOSITION },
};

/* 8 bytes at @p p, in memory order. */
static inline uint64_t load8(const char *p)
{
	uint64_t w;

	memcpy(&w, p, sizeof(w));
	return w;
}

/*
 * Case-insensitive equality of @p s with the canonical name @p n of the
 * same length (letters and '-' only). Letters have bit 0x40 set and '-'
 * has not, so OR-ing 0x20 into both sides where @p n has a letter folds
 * case exactly: a '-' is compared as is (CR cannot pass for it). Eight
 * bytes at a time; the last word overlaps the previous one.
 */
static bool name_eq(const char *s, const char *n, size_t len)
{
	const uint64_t bit6 = 0x4040404040404040ULL;
	size_t off = 0;

	if (len < 8) {
		for (size_t k = 0; k < len; k++) {
			char m = (char)((n[k] & 0x40) >> 1);

			if ((s[k] | m) != (n[k] | m))
				return false;
		}
		return true;
	}
	for (;;) {
		uint64_t w = load8(n + off), m = (w & bit6) >> 1;

		if ((load8(s + off) | m) != (w | m))
			return false;
		if (off + 8 == len)
			return true;
		off = off + 16 <= len ? off + 8 : len - 8;
	}
}

enum hdr_id hdr_lookup(struct slice name)
{
	const unsigned char *ids;
	char c0;

	if (name.len == 1) {
		c0 = lower(name.p[0]);
		return c0 >= 'a' && c0 <= 'z' ? (enum hdr_id)compact[c0 - 'a']
					      : HDR_OTHER;
	}
	if (name.len == 0 || name.len > BYLEN_MAX)
		return HDR_OTHER;
	c0 = lower(name.p[0]);
	ids = bylen[name.len];
	for (unsigned i = 0; i < sizeof(bylen[0]) && ids[i]; i++) {
		const char *n = names[ids[i]];

		if (lower(n[0]) == c0 && name_eq(name.p, n, name.len))
			return (enum hdr_id)ids[i];
	}
	return HDR_OTHER;
}

struct slice hdr_name(enum hdr_id id)
{
	if ((unsigned)id >= HDR__COUNT || id == HDR_OTHER)
		return slice_make("", 0);
	return slice_cstr(names[id]);
}

/*
 * The end of the quoted-string that starts at @p p (on its '"'), or
 * NULL when it is not terminated. quoted-pair = "\" followed by any
 * octet but CR and LF (RFC 3261 §25.1).
 */
static const char *quoted_end(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '"')
			return p + 1;
		if (*p == '\\') {
			if (++p == end || *p == '\r' || *p == '\n')
				return NULL;
		}
	}
	return NULL;
}

int hdr_split_next(struct slice *restp, struct slice *elemp)
{
	const char *p = restp->p, *end = end_of(*restp), *start;
	struct slice elem;
	bool angle = false;

	p = skip_lws(p, end);
	if (p == end) {
		*restp = slice_make(end, 0);
		return 0;
	}
	start = p;
	for (; p < end; p++) {
		if (!(cls(p) & H_SPLIT))
			continue;
		if (*p == '"') {
			p = quoted_end(p, end);
			if (!p)
				return -EBADMSG;
			p--;
		} else if (*p == '<') {
			if (angle)
				return -EBADMSG;
			angle = true;
		} else if (*p == '>') {
			angle = false;
		} else if (*p == ',' && !angle) {
			break;
		}
	}
	elem = slice_trim(slice_make(start, (size_t)(p - start)));
	if (angle || elem.len == 0)
		return -EBADMSG;
	if (p < end) {
		/* A comma must be followed by another element. */
		p++;
		if (skip_lws(p, end) == end)
			return -EBADMSG;
	}
	*elemp = elem;
	*restp = slice_make(p, (size_t)(end - p));
	return 1;
}

/*
 * Take the next ";name[=value]" (RFC 3261 generic-param, LWS allowed
 * around ';' and '=') from *restp. The ';' is optional when @p first.
 * Returns 1, 0 at the end, -EBADMSG.
 */
static int param_next(struct slice *restp, bool first, struct slice *namep,
		      struct slice *valp)
{
	const char *p = restp->p, *end = end_of(*restp), *q;

	p = skip_lws(p, end);
	if (p == end)
		return 0;
	if (*p == ';')
		p = skip_lws(p + 1, end);
	else if (!first)
		return -EBADMSG;
	q = skip_token(p, end);
	if (q == p)
		return -EBADMSG;
	*namep = slice_make(p, (size_t)(q - p));
	p = skip_lws(q, end);
	*valp = slice_make(p, 0);
	if (p < end && *p == '=') {
		p = skip_lws(p + 1, end);
		if (p < end && *p == '"') {
			q = quoted_end(p, end);
			if (!q)
				return -EBADMSG;
		} else {
			for (q = p; q < end && ((cls(q) & H_PVAL) ||
						(unsigned char)*q >= 0x80);
			     q++)
				;
			if (q == p)
				return -EBADMSG;
		}
		*valp = slice_make(p, (size_t)(q - p));
		p = skip_lws(q, end);
	}
	if (p < end && *p != ';')
		return -EBADMSG;
	*restp = slice_make(p, (size_t)(end - p));
	return 1;
}

int hdr_param_find(struct slice params, const char *name, struct slice *valp)
{
	struct slice want = slice_cstr(name), n, v;
	bool first = true;
	int r;

	while ((r = param_next(&params, first, &n, &v)) == 1) {
		first = false;
		if (slice_caseeq(n, want)) {
			*valp = v;
			return 1;
		}
	}
	return r;
}

/* absoluteURI: a scheme, ':', then no LWS; the rest is uri_parse()'s. */
static bool uri_shape(struct slice uri)
{
	const char *p = uri.p, *end = end_of(uri), *q;

	if (uri.len < 2 ||
	    !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
		return false;
	for (q = p + 1; q < end && (cls(q) & H_SCHEME); q++)
		;
	if (q == end || *q != ':')
		return false;
	while (q < end && (cls(q) & H_URI))
		q++;
	return q == end;
}

/*
 * Check a whole parameter list (0 or -EBADMSG), noting the value of the
 * first parameter named @p want (none when empty) in *valp and *foundp
 * on the way.
 */
static int params_check_find(struct slice params, struct slice want,
			     struct slice *valp, bool *foundp)
{
	struct slice name, val;
	int r;

	while ((r = param_next(&params, false, &name, &val)) == 1)
		if (want.len && !*foundp && slice_caseeq(name, want)) {
			*valp = val;
			*foundp = true;
		}
	return r;
}

static int nameaddr_parse_find(struct slice value, struct nameaddr *nap,
			       struct slice want, struct slice *valp,
			       bool *foundp)
{
	struct slice v = slice_trim(value), display, uri, params;
	bool angle = false;
	const char *p = v.p, *end = end_of(v), *q;

	if (v.len == 0)
		return -EBADMSG;
	display = slice_make(p, 0);
	if (*p == '"') {
		q = quoted_end(p, end);
		if (!q)
			return -EBADMSG;
		display = slice_make(p, (size_t)(q - p));
		p = skip_lws(q, end);
		if (p == end || *p != '<')
			return -EBADMSG;
	} else {
		/*
		 * display-name = *(token LWS): scan tokens and LWS; a '<'
		 * ends a display name, anything else means addr-spec.
		 * Octets >= 0x80 are let through: phones send unquoted UTF-8.
		 */
		for (q = p; q < end &&
			    ((cls(q) & H_DISPLAY) || (unsigned char)*q >= 0x80);
		     q++)
			;
		if (q < end && *q == '<') {
			display = slice_trim(slice_make(p, (size_t)(q - p)));
			p = q;
		}
	}
	if (*p == '<') {
		q = memchr(p, '>', (size_t)(end - p));
		if (!q)
			return -EBADMSG;
		uri = slice_make(p + 1, (size_t)(q - p - 1));
		angle = true;
		p = skip_lws(q + 1, end);
		if (p < end && *p != ';')
			return -EBADMSG;
	} else {
		/*
		 * RFC 3261 §20.10: in addr-spec form every ';' starts a
		 * header parameter, and a URI with ',', ';' or '?' must
		 * have been put in < >.
		 */
		for (q = p; q < end && *q != ';'; q++)
			if (*q == ',' || *q == '?')
				return -EBADMSG;
		uri = slice_trim(slice_make(p, (size_t)(q - p)));
		p = q;
	}
	if (!uri_shape(uri))
		return -EBADMSG;
	params = slice_make(p, (size_t)(end - p));
	if (params_check_find(params, want, valp, foundp))
		return -EBADMSG;
	/* Field by field: a struct copy here stalls on store forwarding. */
	nap->display = display;
	nap->uri = uri;
	nap->params = params;
	nap->angle = angle;
	return 0;
}

int nameaddr_parse(struct slice value, struct nameaddr *nap)
{
	struct slice val;
	bool found = false;

	return nameaddr_parse_find(value, nap, slice_make(NULL, 0), &val,
				   &found);
}

int nameaddr_parse_param(struct slice value, struct nameaddr *nap,
			 const char *name, struct slice *valp)
{
	struct slice val;
	bool found = false;

	if (nameaddr_parse_find(value, nap, slice_cstr(name), &val, &found))
		return -EBADMSG;
	if (found)
		*valp = val;
	return found;
}

/* Digits only, 1..max. */
static int number(struct slice s, uint64_t min, uint64_t max, uint64_t *vp)
{
	uint64_t v;

	if (slice_to_u64(s, max, &v) || v < min)
		return -EBADMSG;
	*vp = v;
	return 0;
}

/* Check one via-param we know about (RFC 3261 §20.42, RFC 3581). */
static int via_param(struct sipvia *via, struct slice name, struct slice val)
{
	uint64_t n;

	if (slice_caseeq(name, SLICE_LIT("branch"))) {
		if (val.len == 0)
			return -EBADMSG;
		via->branch = val;
	} else if (slice_caseeq(name, SLICE_LIT("received"))) {
		int kind = uri_classify_host(val);

		/* RFC 3261 §20.42: an address; some stacks bracket IPv6. */
		if (kind != URI_HOST_IPV4 && kind != URI_HOST_IPV6 &&
		    !uri_is_ipv6(val))
			return -EBADMSG;
		via->received = val;
	} else if (slice_caseeq(name, SLICE_LIT("rport"))) {
		if (val.len && number(val, 1, 65535, &n))
			return -EBADMSG;
		via->rport = val;
		via->has_rport = true;
	} else if (slice_caseeq(name, SLICE_LIT("ttl"))) {
		if (number(val, 0, 255, &n))
			return -EBADMSG;
	} else if (slice_caseeq(name, SLICE_LIT("maddr"))) {
		if (uri_classify_host(val) < 0)
			return -EBADMSG;
	}
	return 0;
}

int via_parse(struct slice value, struct sipvia *viap)
{
	struct sipvia via = { 0 };
	struct slice v = slice_trim(value), rest, name, val;
	const char *p = v.p, *end = end_of(v), *q, *proto;
	uint64_t port;
	size_t n;
	int r;

	via.value = v;
	/* sent-protocol = protocol-name SLASH protocol-version SLASH transport
	 */
	proto = p;
	q = skip_token(p, end);
	if (q == p)
		return -EBADMSG;
	p = skip_lws(q, end);
	if (p == end || *p != '/')
		return -EBADMSG;
	p = skip_lws(p + 1, end);
	q = skip_token(p, end);
	if (q == p)
		return -EBADMSG;
	via.proto = slice_make(proto, (size_t)(q - proto));
	p = skip_lws(q, end);
	if (p == end || *p != '/')
		return -EBADMSG;
	p = skip_lws(p + 1, end);
	q = skip_token(p, end);
	if (q == p)
		return -EBADMSG;
	via.transport = slice_make(p, (size_t)(q - p));
	/* LWS sent-by */
	p = skip_lws(q, end);
	if (p == q || p == end)
		return -EBADMSG;
	if (uri_host_parse(slice_make(p, (size_t)(end - p)), &n) < 0)
		return -EBADMSG;
	via.host = slice_make(p, n);
	p = skip_lws(p + n, end);
	if (p < end && *p == ':') {
		p = skip_lws(p + 1, end);
		for (q = p; q < end && *q >= '0' && *q <= '9'; q++)
			;
		if (number(slice_make(p, (size_t)(q - p)), 1, 65535, &port))
			return -EBADMSG;
		via.port = (uint16_t)port;
		p = skip_lws(q, end);
	}
	if (p < end && *p != ';')
		return -EBADMSG;
	via.params = rest = slice_make(p, (size_t)(end - p));
	while ((r = param_next(&rest, false, &name, &val)) == 1)
		if (via_param(&via, name, val))
			return -EBADMSG;
	if (r < 0)
		return r;
	*viap = via;
	return 0;
}
