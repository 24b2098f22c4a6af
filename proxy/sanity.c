/* proxy/sanity.c - request validation: go on, or the status to answer */
#include "proxy/sanity.h"

#include <errno.h>
#include <string.h>

#include "proxy/base/arena.h"
#include "proxy/sip/hdr.h"
#include "proxy/sip/msg.h"
#include "proxy/sip/uri.h"

/*
 * What sipedge knows. Nothing is honoured in Proxy-Require yet; the
 * advertised tags are what the finished proxy implements: Path
 * (RFC 3327), outbound (RFC 5626), GRUU (RFC 5627), 100rel (RFC 3262).
 */
static const struct sanity_option options[] = {
	{ "path", true, false },
	{ "outbound", true, false },
	{ "gruu", true, false },
	{ "100rel", true, false },
};

#define NOPTIONS (sizeof(options) / sizeof(options[0]))

const struct sanity_option *sanity_options(unsigned *np)
{
	*np = NOPTIONS;
	return options;
}

bool sanity_proxy_supports(struct slice tag)
{
	for (size_t i = 0; i < NOPTIONS; i++)
		if (options[i].proxy_require &&
		    slice_caseeq_cstr(tag, options[i].tag))
			return true;
	return false;
}

bool sanity_uas_supports(struct slice tag)
{
	for (size_t i = 0; i < NOPTIONS; i++)
		if (options[i].advertise &&
		    slice_caseeq_cstr(tag, options[i].tag))
			return true;
	return false;
}

int sanity_supported_print(char *buf, size_t size)
{
	size_t o = 0, n;

	for (size_t i = 0; i < NOPTIONS; i++) {
		if (!options[i].advertise)
			continue;
		n = strlen(options[i].tag) + (o ? 2 : 0);
		if (o + n > size)
			return -ENOSPC;
		if (o) {
			memcpy(buf + o, ", ", 2);
			o += 2;
			n -= 2;
		}
		memcpy(buf + o, options[i].tag, n);
		o += n;
	}
	return (int)o;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* True for "SIP/" 1*DIGIT "." 1*DIGIT other than 2.0 (RFC 3261 §7.1). */
static bool other_version(struct slice v)
{
	size_t i = 4, d1, d2;

	if (v.len < 7 || !slice_caseeq(slice_make(v.p, 4), SLICE_LIT("SIP/")))
		return false;
	for (d1 = 0; i < v.len && is_digit(v.p[i]); i++)
		d1++;
	if (d1 == 0 || i >= v.len || v.p[i] != '.')
		return false;
	for (i++, d2 = 0; i < v.len && is_digit(v.p[i]); i++)
		d2++;
	if (d2 == 0 || i != v.len)
		return false;
	/* RFC 3261 §7.1: the version is compared case-insensitively. */
	return !slice_caseeq(v, SLICE_LIT("SIP/2.0"));
}

/* An unknown method whose CSeq names another one (RFC 4475 §3.1.2.18). */
static bool unknown_mismatch(const struct sipmsg *m)
{
	return m->method == SIP_METHOD_OTHER && m->method_name.len &&
	       m->cseq_method_name.len &&
	       !slice_eq(m->method_name, m->cseq_method_name);
}

/* 0 when the R-URI is acceptable, else the status (400 or 416). */
static unsigned check_ruri(const struct sipmsg *m, const char **reasonp)
{
	struct sipuri u;
	long colon = slice_index(m->ruri, ':');
	struct slice scheme;

	*reasonp = "Malformed Request-URI";
	if (colon <= 0)
		return 400;
	scheme = slice_make(m->ruri.p, (size_t)colon);
	if (!slice_caseeq_cstr(scheme, "sip") &&
	    !slice_caseeq_cstr(scheme, "sips") &&
	    !slice_caseeq_cstr(scheme, "tel")) {
		*reasonp = "Unsupported URI Scheme";
		return 416;
	}
	if (sipmsg_uri_parse(m, m->ruri, &u) < 0)
		return 400;
	return 0;
}

/*
 * The tags of the @p id headers (Proxy-Require, Require) that
 * @p supports refuses, as one "Unsupported: a, b" CRLF line in the
 * arena; empty when there are none. -EBADMSG when a value cannot be
 * split.
 */
static int unsupported(const struct sipmsg *m, enum hdr_id id,
		       bool (*supports)(struct slice tag), struct arena *a,
		       struct slice *linep)
{
	static const char head[] = "Unsupported: ";
	const struct siphdr *h;
	struct slice rest, tag;
	size_t len = 0, o;
	unsigned n = 0;
	char *p;
	int r, err = 0;

	*linep = slice_make(NULL, 0);
	for (h = sipmsg_hdr(m, id); h; h = sipmsg_hdr_next(m, h)) {
		rest = h->value;
		while ((r = hdr_split_next(&rest, &tag)) > 0) {
			if (supports(tag))
				continue;
			len += tag.len;
			n++;
		}
		err = -EBADMSG;
		if (r < 0)
			goto out;
	}
	err = 0;
	if (n == 0)
		goto out;
	len += sizeof(head) - 1 + 2 * (n - 1) + 2;
	err = -ENOMEM;
	p = arena_alloc(a, len);
	if (!p)
		goto out;
	memcpy(p, head, sizeof(head) - 1);
	o = sizeof(head) - 1;
	for (h = sipmsg_hdr(m, id); h; h = sipmsg_hdr_next(m, h)) {
		rest = h->value;
		while (hdr_split_next(&rest, &tag) > 0) {
			if (supports(tag))
				continue;
			if (o > sizeof(head) - 1) {
				memcpy(p + o, ", ", 2);
				o += 2;
			}
			memcpy(p + o, tag.p, tag.len);
			o += tag.len;
		}
	}
	memcpy(p + o, "\r\n", 2);
	*linep = slice_make(p, len);
	err = 0;
out:
	return err;
}

int sanity_check(const struct sipmsg *m, int parsed, bool for_us,
		 struct arena *a, struct sanity_verdict *vp)
{
	struct sanity_verdict v = { 0, NULL, { NULL, 0 } };
	int err;

	err = -EINVAL;
	if (!m->is_request)
		goto out;
	err = 0;
	/* First: the rest of a SIP/3.0 message need not follow 2.0 syntax. */
	if (other_version(m->version)) {
		v.status = 505;
		v.reason = "Version Not Supported";
		goto done;
	}
	if (m->fault || parsed < 0) {
		if (unknown_mismatch(m)) {
			v.status = 501;
			v.reason = "Not Implemented";
		} else {
			v.status = 400;
			v.reason = m->fault ? m->fault : "Bad Request";
		}
		goto done;
	}
	/* RFC 3261 §8.1.1.5: the CSeq method matches the request's. */
	if (!slice_eq(m->method_name, m->cseq_method_name)) {
		v.status = unknown_mismatch(m) ? 501 : 400;
		v.reason = v.status == 501 ? "Not Implemented"
					   : "CSeq Method Mismatch";
		goto done;
	}
	v.status = check_ruri(m, &v.reason);
	if (v.status)
		goto done;
	/* RFC 3261 §16.3 step 3. */
	if (m->max_forwards == 0 && !(for_us && m->method == SIP_OPTIONS)) {
		v.status = 483;
		v.reason = "Too Many Hops";
		goto done;
	}
	/* RFC 3261 §16.3 step 5. */
	err = unsupported(m, HDR_PROXY_REQUIRE, sanity_proxy_supports, a,
			  &v.extra);
	if (err == -EBADMSG) {
		err = 0;
		v.status = 400;
		v.reason = "Malformed Proxy-Require";
		goto done;
	}
	if (err)
		goto out;
	if (v.extra.len) {
		v.status = 420;
		v.reason = "Bad Extension";
		goto done;
	}
	/* An OPTIONS for the proxy itself, which answers it as the UAS:
	 * RFC 3261 §8.2.2.3, Require. */
	if (for_us && m->method == SIP_OPTIONS) {
		err = unsupported(m, HDR_REQUIRE, sanity_uas_supports, a,
				  &v.extra);
		if (err == -EBADMSG) {
			err = 0;
			v.status = 400;
			v.reason = "Malformed Require";
			goto done;
		}
		if (err)
			goto out;
		if (v.extra.len) {
			v.status = 420;
			v.reason = "Bad Extension";
		}
	}
done:
	if (v.status == 0)
		v.reason = NULL;
	*vp = v;
out:
	return err;
}
