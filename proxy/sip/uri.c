/* proxy/sip/uri.c - SIP, SIPS and tel URI parser (RFC 3261 §19.1, RFC 3966) */
#include "proxy/sip/uri.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include "proxy/base/hex.h"

/* Character classes of RFC 3261 §25.1 and RFC 3966 §3. */
enum {
	C_UNRES = 1 << 0,  /* unreserved: alphanum / mark */
	C_USER = 1 << 1,   /* user: unreserved / escaped / user-unreserved */
	C_PASS = 1 << 2,   /* password */
	C_PARAM = 1 << 3,  /* paramchar */
	C_HNV = 1 << 4,	   /* hname / hvalue characters */
	C_URIC = 1 << 5,   /* uric of absoluteURI (plus [ ] of RFC 3986) */
	C_SCHEME = 1 << 6, /* scheme after its first letter */
	C_HOST = 1 << 7,   /* hostname and IPv4address */
	C_GLOBAL = 1 << 8, /* global-number-digits after '+' */
	C_LOCAL = 1 << 9,  /* local-number-digits */
	C_PNAME = 1 << 10, /* tel pname: alphanum / "-" */
	C_HEX = 1 << 11,   /* HEXDIG */
};

static const uint16_t ctype[256] = {
	['!'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC,
	['#'] = C_LOCAL,
	['$'] = C_USER | C_PASS | C_PARAM | C_HNV | C_URIC,
	['%'] = C_USER | C_PASS | C_PARAM | C_HNV | C_URIC,
	['&'] = C_USER | C_PASS | C_PARAM | C_URIC,
	['\''] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC,
	['('] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_GLOBAL | C_LOCAL,
	[')'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_GLOBAL | C_LOCAL,
	['*'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC | C_LOCAL,
	['+'] = C_USER | C_PASS | C_PARAM | C_HNV | C_URIC | C_SCHEME,
	[','] = C_USER | C_PASS | C_URIC,
	['-'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_GLOBAL | C_LOCAL | C_PNAME,
	['.'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_GLOBAL | C_LOCAL,
	['/'] = C_USER | C_PARAM | C_HNV | C_URIC,
	['0'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_GLOBAL | C_LOCAL | C_PNAME | C_HEX,
	['1'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_GLOBAL | C_LOCAL | C_PNAME | C_HEX,
	['2'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_GLOBAL | C_LOCAL | C_PNAME | C_HEX,
	['3'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_GLOBAL | C_LOCAL | C_PNAME | C_HEX,
	['4'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_GLOBAL | C_LOCAL | C_PNAME | C_HEX,
	['5'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_GLOBAL | C_LOCAL | C_PNAME | C_HEX,
	['6'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_GLOBAL | C_LOCAL | C_PNAME | C_HEX,
	['7'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_GLOBAL | C_LOCAL | C_PNAME | C_HEX,
	['8'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_GLOBAL | C_LOCAL | C_PNAME | C_HEX,
	['9'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_GLOBAL | C_LOCAL | C_PNAME | C_HEX,
	[':'] = C_PARAM | C_HNV | C_URIC,
	[';'] = C_USER | C_URIC,
	['='] = C_USER | C_PASS | C_URIC,
	['?'] = C_USER | C_HNV | C_URIC,
	['@'] = C_URIC,
	['A'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_LOCAL | C_PNAME | C_HEX,
	['B'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_LOCAL | C_PNAME | C_HEX,
	['C'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_LOCAL | C_PNAME | C_HEX,
	['D'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_LOCAL | C_PNAME | C_HEX,
	['E'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_LOCAL | C_PNAME | C_HEX,
	['F'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_LOCAL | C_PNAME | C_HEX,
	['G'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_PNAME,
	['H'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_PNAME,
	['I'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_PNAME,
	['J'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_PNAME,
	['K'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_PNAME,
	['L'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_PNAME,
	['M'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_PNAME,
	['N'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_PNAME,
	['O'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_PNAME,
	['P'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_PNAME,
	['Q'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_PNAME,
	['R'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_PNAME,
	['S'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_PNAME,
	['T'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_PNAME,
	['U'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_PNAME,
	['V'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_PNAME,
	['W'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_PNAME,
	['X'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_PNAME,
	['Y'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_PNAME,
	['Z'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_PNAME,
	['['] = C_PARAM | C_HNV | C_URIC,
	[']'] = C_PARAM | C_HNV | C_URIC,
	['_'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC,
	['a'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_LOCAL | C_PNAME | C_HEX,
	['b'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_LOCAL | C_PNAME | C_HEX,
	['c'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_LOCAL | C_PNAME | C_HEX,
	['d'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_LOCAL | C_PNAME | C_HEX,
	['e'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_LOCAL | C_PNAME | C_HEX,
	['f'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_LOCAL | C_PNAME | C_HEX,
	['g'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_PNAME,
	['h'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_PNAME,
	['i'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_PNAME,
	['j'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_PNAME,
	['k'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_PNAME,
	['l'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_PNAME,
	['m'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_PNAME,
	['n'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_PNAME,
	['o'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_PNAME,
	['p'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_PNAME,
	['q'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_PNAME,
	['r'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_PNAME,
	['s'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_PNAME,
	['t'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_PNAME,
	['u'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_PNAME,
	['v'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_PNAME,
	['w'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_PNAME,
	['x'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_PNAME,
	['y'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_PNAME,
	['z'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC |
		C_SCHEME | C_HOST | C_PNAME,
	['~'] = C_UNRES | C_USER | C_PASS | C_PARAM | C_HNV | C_URIC,
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

/*
 * Advance *pp over characters of class @c, checking that every '%' is
 * followed by two hex digits. Returns the number of characters taken
 * (an escape counts as one), or -EBADMSG for a broken escape.
 */
static int span(const char **pp, const char *end, unsigned c)
{
	const char *p = *pp;
	int n = 0;

	while (p < end && (cls(p) & c)) {
		if (*p == '%') {
			if (end - p < 3 || !(cls(p + 1) & C_HEX) ||
			    !(cls(p + 2) & C_HEX))
				return -EBADMSG;
			p += 2;
		}
		p++;
		n++;
	}
	*pp = p;
	return n;
}

static bool ipv4_check(const char *p, const char *end)
{
	for (int part = 0; part < 4; part++) {
		unsigned v = 0;
		int digits = 0;

		if (part > 0) {
			if (p == end || *p != '.')
				return false;
			p++;
		}
		while (p < end && *p >= '0' && *p <= '9' && digits < 4) {
			v = v * 10 + (unsigned)(*p - '0');
			p++;
			digits++;
		}
		if (digits == 0 || digits > 3 || v > 255)
			return false;
	}
	return p == end;
}

bool uri_is_ipv6(struct slice s)
{
	const char *p = s.p, *end = end_of(s);
	int groups = 0;
	bool dbl = false;

	if (s.len < 2)
		return false;
	if (p[0] == ':') {
		if (p[1] != ':')
			return false;
		dbl = true;
		p += 2;
		if (p == end)
			return true;
	}
	for (;;) {
		const char *q = p;

		while (q < end && q - p < 5 && (cls(q) & C_HEX))
			q++;
		if (q < end && *q == '.') {
			/* RFC 4291 §2.2: x:x:x:x:x:x:d.d.d.d */
			if (!ipv4_check(p, end))
				return false;
			groups += 2;
			break;
		}
		if (q == p || q - p > 4)
			return false;
		groups++;
		p = q;
		if (p == end)
			break;
		if (*p != ':' || ++p == end)
			return false;
		if (*p == ':') {
			if (dbl)
				return false;
			dbl = true;
			if (++p == end)
				break;
		}
	}
	return dbl ? groups <= 7 : groups == 8;
}

int uri_host_parse(struct slice s, size_t *lenp)
{
	const char *p = s.p, *end = end_of(s), *q, *label = p, *top = p;
	bool dotted = true;

	if (s.len && p[0] == '[') {
		q = memchr(p, ']', s.len);
		if (!q || !uri_is_ipv6(slice_make(p + 1, (size_t)(q - p - 1))))
			return -EBADMSG;
		*lenp = (size_t)(q + 1 - p);
		return URI_HOST_IPV6;
	}
	/*
	 * One pass over hostname / IPv4address (RFC 3261 §25.1):
	 * hostname = *( domainlabel "." ) toplabel [ "." ], labels of
	 * alphanum and '-' (not at either end), toplabel starts with ALPHA.
	 */
	for (q = p; q < end && (cls(q) & C_HOST); q++) {
		if (*q == '.') {
			if (q == label || q[-1] == '-')
				return -EBADMSG;
			top = label;
			label = q + 1;
		} else if (*q < '0' || *q > '9') {
			dotted = false;
			if (*q == '-' && q == label)
				return -EBADMSG;
		}
	}
	if (q == p)
		return -EBADMSG;
	*lenp = (size_t)(q - p);
	if (dotted)
		return ipv4_check(p, q) ? URI_HOST_IPV4 : -EBADMSG;
	if (label != q) {
		/* No trailing dot: the last label is the toplabel. */
		if (q[-1] == '-')
			return -EBADMSG;
		top = label;
	}
	if (!((*top >= 'a' && *top <= 'z') || (*top >= 'A' && *top <= 'Z')))
		return -EBADMSG;
	return URI_HOST_NAME;
}

int uri_classify_host(struct slice host)
{
	size_t n;
	int kind = uri_host_parse(host, &n);

	return kind < 0 || n != host.len ? -EBADMSG : kind;
}

/* host [ ":" port ] of a SIP URI; *pp is advanced past it. */
static int hostport(const char **pp, const char *end, struct sipuri *u)
{
	const char *p = *pp, *q;
	uint64_t port;
	size_t n;
	int kind;

	kind = uri_host_parse(slice_make(p, (size_t)(end - p)), &n);
	if (kind < 0)
		return kind;
	u->host = slice_make(p, n);
	u->host_is_ipv6 = kind == URI_HOST_IPV6;
	u->host_is_ipv4 = kind == URI_HOST_IPV4;
	p += n;
	if (p < end && *p == ':') {
		for (q = ++p; q < end && *q >= '0' && *q <= '9'; q++)
			;
		u->port_str = slice_make(p, (size_t)(q - p));
		if (slice_to_u64(u->port_str, 65535, &port) || port == 0)
			return -EBADMSG;
		u->port = (uint16_t)port;
		p = q;
	}
	*pp = p;
	return 0;
}

/* *( ";" pname [ "=" pvalue ] ) up to '?' or the end; *pp advanced. */
static int params(const char **pp, const char *end, unsigned name_cls,
		  struct slice *paramsp)
{
	const char *p = *pp, *start = p;

	while (p < end && *p == ';') {
		p++;
		if (span(&p, end, name_cls) <= 0)
			return -EBADMSG;
		if (p < end && *p == '=') {
			p++;
			if (span(&p, end, C_PARAM) <= 0)
				return -EBADMSG;
		}
	}
	*paramsp = slice_make(start, (size_t)(p - start));
	*pp = p;
	return 0;
}

/* hname "=" hvalue *( "&" hname "=" hvalue ), after the '?'. */
static int headers(const char *p, const char *end)
{
	for (;;) {
		if (span(&p, end, C_HNV) <= 0 || p == end || *p != '=')
			return -EBADMSG;
		p++;
		if (span(&p, end, C_HNV) < 0)
			return -EBADMSG;
		if (p == end)
			return 0;
		if (*p != '&')
			return -EBADMSG;
		p++;
	}
}

/* RFC 3261 §19.1.1: [ userinfo "@" ] hostport uri-parameters [ headers ] */
static int parse_sip(const char *p, const char *end, struct sipuri *u)
{
	const char *at = memchr(p, '@', (size_t)(end - p));
	int err;

	if (at) {
		const char *colon = memchr(p, ':', (size_t)(at - p));
		const char *q = p;
		const char *uend = colon ? colon : at;

		if (span(&q, uend, C_USER) <= 0 || q != uend)
			return -EBADMSG;
		u->user = slice_make(p, (size_t)(uend - p));
		if (colon) {
			q = colon + 1;
			if (span(&q, at, C_PASS) < 0 || q != at)
				return -EBADMSG;
			u->password =
			    slice_make(colon + 1, (size_t)(at - colon - 1));
		}
		p = at + 1;
	}
	err = hostport(&p, end, u);
	if (err)
		return err;
	err = params(&p, end, C_PARAM, &u->params);
	if (err)
		return err;
	if (p < end && *p == '?') {
		u->headers = slice_make(p + 1, (size_t)(end - p - 1));
		return headers(p + 1, end);
	}
	return p == end ? 0 : -EBADMSG;
}

/* RFC 3966 §3: telephone-subscriber = global-number / local-number. */
static int parse_tel(const char *p, const char *end, struct sipuri *u)
{
	const char *q = p;
	bool digit = false;

	if (q < end && *q == '+') {
		for (q++; q < end && (cls(q) & C_GLOBAL); q++)
			digit |= *q >= '0' && *q <= '9';
	} else {
		/*
		 * A local number should carry ;phone-context (RFC 3966
		 * §5.1.5); many devices omit it, so it is not required.
		 */
		for (; q < end && (cls(q) & C_LOCAL); q++)
			digit |= (cls(q) & C_HEX) || *q == '*' || *q == '#';
	}
	if (!digit)
		return -EBADMSG;
	u->user = slice_make(p, (size_t)(q - p));
	p = q;
	if (params(&p, end, C_PNAME, &u->params))
		return -EBADMSG;
	return p == end ? 0 : -EBADMSG;
}

int uri_parse(struct slice s, struct sipuri *up)
{
	struct sipuri u = { 0 };
	const char *p = s.p, *end = end_of(s), *q;
	int err;

	if (s.len == 0 ||
	    !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
		return -EBADMSG;
	for (q = p + 1; q < end && (cls(q) & C_SCHEME); q++)
		;
	if (q == end || *q != ':')
		return -EBADMSG;
	u.scheme_name = slice_make(p, (size_t)(q - p));
	p = q + 1;
	if (slice_caseeq(u.scheme_name, SLICE_LIT("sip")))
		u.scheme = URI_SIP;
	else if (slice_caseeq(u.scheme_name, SLICE_LIT("sips")))
		u.scheme = URI_SIPS;
	else if (slice_caseeq(u.scheme_name, SLICE_LIT("tel")))
		u.scheme = URI_TEL;
	switch (u.scheme) {
	case URI_SIP:
	case URI_SIPS:
		err = parse_sip(p, end, &u);
		break;
	case URI_TEL:
		err = parse_tel(p, end, &u);
		break;
	default:
		/* RFC 3261 §25.1 absoluteURI: no LWS, controls or delimiters.
		 */
		u.rest = slice_make(p, (size_t)(end - p));
		err = span(&p, end, C_URIC) > 0 && p == end ? 0 : -EBADMSG;
		break;
	}
	if (err)
		return err;
	*up = u;
	return 0;
}

int uri_param(const struct sipuri *u, const char *name, struct slice *valp)
{
	const char *p = u->params.p, *end = end_of(u->params);
	size_t nlen = strlen(name);

	while (p < end) {
		const char *start, *next, *eq;

		if (*p == ';')
			p++;
		start = p;
		next = memchr(p, ';', (size_t)(end - p));
		if (!next)
			next = end;
		eq = memchr(p, '=', (size_t)(next - p));
		if (slice_caseeq(
			slice_make(start, (size_t)((eq ? eq : next) - start)),
			slice_make(name, nlen))) {
			*valp = eq ? slice_make(eq + 1, (size_t)(next - eq - 1))
				   : slice_make(next, 0);
			return 1;
		}
		p = next;
	}
	return 0;
}

int uri_unescape(struct slice s, char *out, size_t size)
{
	size_t n = 0;

	if (s.len > INT_MAX)
		return -ENOSPC;
	for (size_t i = 0; i < s.len; i++) {
		char c = s.p[i];

		if (c == '%') {
			int hi, lo;

			if (s.len - i < 3)
				return -EBADMSG;
			hi = hex_val(s.p[i + 1]);
			lo = hex_val(s.p[i + 2]);
			if (hi < 0 || lo < 0)
				return -EBADMSG;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if (n == size)
			return -ENOSPC;
		out[n++] = c;
	}
	return (int)n;
}
