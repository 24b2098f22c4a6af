/* proxy/sip/reply.c - stateless responses to parsed requests */
#include "proxy/sip/reply.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "proxy/base/arena.h"
#include "proxy/base/fmt.h"
#include "proxy/base/hash.h"
#include "proxy/sip/hdr.h"
#include "proxy/sip/msg.h"

/* Seed of the derived To tag: fixed, so every node derives the same tag. */
#define TAG_SEED 0x73697065646765ull

static const struct {
	unsigned status;
	const char *reason;
} reasons[] = {
	{ 100, "Trying" },
	{ 180, "Ringing" },
	{ 181, "Call Is Being Forwarded" },
	{ 182, "Queued" },
	{ 183, "Session Progress" },
	{ 199, "Early Dialog Terminated" },
	{ 200, "OK" },
	{ 202, "Accepted" },
	{ 204, "No Notification" },
	{ 300, "Multiple Choices" },
	{ 301, "Moved Permanently" },
	{ 302, "Moved Temporarily" },
	{ 305, "Use Proxy" },
	{ 380, "Alternative Service" },
	{ 400, "Bad Request" },
	{ 401, "Unauthorized" },
	{ 402, "Payment Required" },
	{ 403, "Forbidden" },
	{ 404, "Not Found" },
	{ 405, "Method Not Allowed" },
	{ 406, "Not Acceptable" },
	{ 407, "Proxy Authentication Required" },
	{ 408, "Request Timeout" },
	{ 410, "Gone" },
	{ 412, "Conditional Request Failed" },
	{ 413, "Request Entity Too Large" },
	{ 414, "Request-URI Too Long" },
	{ 415, "Unsupported Media Type" },
	{ 416, "Unsupported URI Scheme" },
	{ 417, "Unknown Resource-Priority" },
	{ 420, "Bad Extension" },
	{ 421, "Extension Required" },
	{ 422, "Session Interval Too Small" },
	{ 423, "Interval Too Brief" },
	{ 428, "Use Identity Header" },
	{ 429, "Provide Referrer Identity" },
	{ 430, "Flow Failed" },
	{ 433, "Anonymity Disallowed" },
	{ 436, "Bad Identity-Info" },
	{ 437, "Unsupported Certificate" },
	{ 438, "Invalid Identity Header" },
	{ 439, "First Hop Lacks Outbound Support" },
	{ 440, "Max-Breadth Exceeded" },
	{ 469, "Bad Info Package" },
	{ 470, "Consent Needed" },
	{ 480, "Temporarily Unavailable" },
	{ 481, "Call/Transaction Does Not Exist" },
	{ 482, "Loop Detected" },
	{ 483, "Too Many Hops" },
	{ 484, "Address Incomplete" },
	{ 485, "Ambiguous" },
	{ 486, "Busy Here" },
	{ 487, "Request Terminated" },
	{ 488, "Not Acceptable Here" },
	{ 489, "Bad Event" },
	{ 491, "Request Pending" },
	{ 493, "Undecipherable" },
	{ 494, "Security Agreement Required" },
	{ 500, "Server Internal Error" },
	{ 501, "Not Implemented" },
	{ 502, "Bad Gateway" },
	{ 503, "Service Unavailable" },
	{ 504, "Server Time-out" },
	{ 505, "Version Not Supported" },
	{ 513, "Message Too Large" },
	{ 580, "Precondition Failure" },
	{ 600, "Busy Everywhere" },
	{ 603, "Decline" },
	{ 604, "Does Not Exist Anywhere" },
	{ 606, "Not Acceptable" },
	{ 607, "Unwanted" },
};

const char *reply_reason(unsigned status)
{
	static const char *const cls[] = {
		"Provisional",	"Success",	"Redirection",
		"Client Error", "Server Error", "Global Failure",
	};

	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].status == status)
			return reasons[i].reason;
	if (status >= 100 && status <= 699)
		return cls[status / 100 - 1];
	return "Unknown";
}

/*
 * Output in two passes: with p == NULL it only counts, so the buffer
 * can be allocated at the exact size; then the same calls write.
 */
struct out {
	char *p;
	size_t len;
};

static void put(struct out *w, const char *s, size_t n)
{
	if (w->p && n)
		memcpy(w->p + w->len, s, n);
	w->len += n;
}

static void put_str(struct out *w, const char *s)
{
	put(w, s, strlen(s));
}

static void put_slice(struct out *w, struct slice s)
{
	put(w, s.p, s.len);
}

/*
 * Copy a header value, removing line breaks: a fold (CRLF followed by
 * whitespace) keeps only its whitespace, which means the same
 * (RFC 3261 §7.3.1); any other CR or LF becomes one SP, so nothing
 * received can end a line of ours.
 */
static void put_unfolded(struct out *w, struct slice s)
{
	size_t i = 0, run;

	/* Most values hold no line break: one copy. */
	if (!s.len ||
	    (!memchr(s.p, '\n', s.len) && !memchr(s.p, '\r', s.len))) {
		put(w, s.p, s.len);
		return;
	}
	while (i < s.len) {
		run = 0;
		while (i + run < s.len &&
		       (s.p[i + run] == '\r' || s.p[i + run] == '\n'))
			run++;
		if (run == 0) {
			size_t j = i;

			while (j < s.len && s.p[j] != '\r' && s.p[j] != '\n')
				j++;
			put(w, s.p + i, j - i);
			i = j;
			continue;
		}
		i += run;
		if (i >= s.len || (s.p[i] != ' ' && s.p[i] != '\t'))
			put(w, " ", 1);
	}
}

/* "Name: value" CRLF with the value unfolded. */
static void put_hdr(struct out *w, const char *name, struct slice value)
{
	put_str(w, name);
	put(w, ": ", 2);
	put_unfolded(w, value);
	put(w, "\r\n", 2);
}

static bool has_value(const struct sipmsg *m, enum hdr_id id)
{
	const struct siphdr *h = sipmsg_hdr(m, id);

	return h && slice_trim(h->value).len > 0;
}

/*
 * Via says where the response goes, CSeq lets the client match it to
 * its transaction (RFC 3261 §17.1.3): without them a response is
 * useless. From, To and Call-ID are copied when present: RFC 4475
 * §3.3.1 wants a 400 even to a request that lacks them.
 */
int reply_check(const struct sipmsg *req)
{
	const struct siphdr *via;
	struct slice rest, first;
	int err = -EINVAL;

	if (!req->is_request)
		goto out;
	err = -EBADMSG;
	via = sipmsg_hdr(req, HDR_VIA);
	if (!via)
		goto out;
	rest = via->value;
	if (hdr_split_next(&rest, &first) <= 0)
		goto out;
	if (!has_value(req, HDR_CSEQ))
		goto out;
	err = 0;
out:
	return err;
}

/* The IPv4 address inside @p sa (also v4-mapped IPv6), or false. */
static bool sa_v4(const struct sockaddr *sa, struct in_addr *a4)
{
	const struct sockaddr_in6 *s6;

	if (sa->sa_family == AF_INET) {
		*a4 = ((const struct sockaddr_in *)(const void *)sa)->sin_addr;
		return true;
	}
	if (sa->sa_family != AF_INET6)
		return false;
	s6 = (const struct sockaddr_in6 *)(const void *)sa;
	if (!IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
		return false;
	memcpy(a4, &s6->sin6_addr.s6_addr[12], 4);
	return true;
}

/* The source address as text, for received= (IPv6 without brackets). */
static void sa_host(const struct sockaddr *sa, char *buf, size_t size)
{
	struct in_addr a4;

	buf[0] = '\0';
	if (sa_v4(sa, &a4)) {
		if (size >= FMT_IPV4_MAX)
			fmt_ipv4(&a4, buf);
		else
			inet_ntop(AF_INET, &a4, buf, (socklen_t)size);
	} else if (sa->sa_family == AF_INET6)
		inet_ntop(
		    AF_INET6,
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
		    buf, (socklen_t)size);
}

static uint16_t sa_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(
		    ((const struct sockaddr_in *)(const void *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(
		    ((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
	return 0;
}

/*
 * True when the Via sent-by @p host is an IP literal equal to @p sa's
 * address; a domain name never is (RFC 3261 §18.2.1).
 */
static bool host_is_src(struct slice host, const struct sockaddr *sa)
{
	char tmp[64];
	struct in_addr a4, s4;
	struct in6_addr a6;

	if (host.len >= 2 && host.p[0] == '[' && host.p[host.len - 1] == ']')
		host = slice_make(host.p + 1, host.len - 2);
	if (host.len == 0 || host.len >= sizeof(tmp))
		return false;
	memcpy(tmp, host.p, host.len);
	tmp[host.len] = '\0';
	if (inet_pton(AF_INET, tmp, &a4) == 1)
		return sa_v4(sa, &s4) && s4.s_addr == a4.s_addr;
	if (inet_pton(AF_INET6, tmp, &a6) != 1 || sa->sa_family != AF_INET6)
		return false;
	return memcmp(
		   &a6,
		   &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
		   sizeof(a6)) == 0;
}

/*
 * Next ';'-separated parameter of @p *restp (quoted strings kept whole),
 * trimmed. Returns false when nothing is left.
 */
static bool param_next(struct slice *restp, struct slice *paramp)
{
	struct slice r = *restp;
	size_t i = 0;
	bool quoted = false;

	while (r.len && (r.p[0] == ';' || r.p[0] == ' ' || r.p[0] == '\t' ||
			 r.p[0] == '\r' || r.p[0] == '\n')) {
		r.p++;
		r.len--;
	}
	if (r.len == 0)
		return false;
	for (i = 0; i < r.len; i++) {
		if (quoted && r.p[i] == '\\' && i + 1 < r.len)
			i++;
		else if (r.p[i] == '"')
			quoted = !quoted;
		else if (!quoted && r.p[i] == ';')
			break;
	}
	*paramp = slice_trim(slice_make(r.p, i));
	*restp = slice_make(r.p + i, r.len - i);
	return true;
}

/* The name of "name[=value]", trimmed. */
static struct slice param_name(struct slice param, bool *has_valuep)
{
	long eq = slice_index(param, '=');

	*has_valuep = eq >= 0;
	return slice_trim(eq >= 0 ? slice_make(param.p, (size_t)eq) : param);
}

/*
 * The top via-parm with received= and rport= as RFC 3261 §18.2.1 and
 * RFC 3581 §4 say: received when the sent-by host is not the source
 * address, or rport is present; a bare rport gets the source port. An
 * old received parameter gives way to ours.
 */
static void put_top_via(struct out *w, const struct sipmsg *req,
			struct slice first, const struct sockaddr *src)
{
	struct sipvia v;
	struct slice rest, param, name;
	bool add_received, fill_rport, has_val;
	char host[INET6_ADDRSTRLEN], port[FMT_U64_MAX];

	if (!src || sipmsg_via_parse(req, first, &v) < 0 ||
	    (src->sa_family != AF_INET && src->sa_family != AF_INET6)) {
		put_unfolded(w, first);
		return;
	}
	add_received = v.has_rport || !host_is_src(v.host, src);
	fill_rport = v.has_rport && v.rport.len == 0;
	if (v.params.len == 0) {
		put_unfolded(w, first);
		rest = slice_make(NULL, 0);
	} else {
		put_unfolded(w, slice_trim(slice_make(
				    first.p, (size_t)(v.params.p - first.p))));
		rest = v.params;
	}
	while (param_next(&rest, &param)) {
		name = param_name(param, &has_val);
		if (add_received && slice_caseeq_cstr(name, "received"))
			continue;
		put(w, ";", 1);
		if (fill_rport && !has_val &&
		    slice_caseeq_cstr(name, "rport")) {
			fmt_u64(sa_port(src), port);
			put_str(w, "rport=");
			put_str(w, port);
			continue;
		}
		put_unfolded(w, param);
	}
	if (add_received) {
		sa_host(src, host, sizeof(host));
		put_str(w, ";received=");
		put_str(w, host);
	}
}

/* Every Via, in order; the first value of the first one rewritten. */
static void put_vias(struct out *w, const struct sipmsg *req,
		     const struct sockaddr *src)
{
	const struct siphdr *h = sipmsg_hdr(req, HDR_VIA);
	struct slice rest, first;
	const char *vend;

	rest = h->value;
	hdr_split_next(&rest, &first); /* reply_check() made sure */
	vend = h->value.p + h->value.len;
	put_str(w, "Via: ");
	put_top_via(w, req, first, src);
	put_unfolded(w, slice_make(first.p + first.len,
				   (size_t)(vend - (first.p + first.len))));
	put(w, "\r\n", 2);
	for (h = sipmsg_hdr_next(req, h); h; h = sipmsg_hdr_next(req, h))
		put_hdr(w, "Via", h->value);
}

/* True when the To header already carries a tag. */
static bool to_has_tag(const struct sipmsg *req, struct slice to)
{
	struct nameaddr na;
	struct slice val;

	if (req->to_tag.len)
		return true;
	if (nameaddr_parse(to, &na) < 0)
		return false;
	return hdr_param_find(na.params, "tag", &val) == 1;
}

/*
 * The derived To tag: 8 hex digits hashed from what a request and the
 * ACK of its final response share whatever Via the ACK carries (Call-ID,
 * From tag, CSeq number: SIPp, for one, gives its ACK a new branch), then
 * 8 from the top Via too, so that another branch gets another tag.
 */
static uint32_t tag_head(const struct sipmsg *req)
{
	const struct siphdr *cid = sipmsg_hdr(req, HDR_CALL_ID);
	uint64_t h = TAG_SEED;
	uint32_t cseq = req->cseq;

	if (cid)
		h = hash_slice(slice_trim(cid->value), h);
	h = hash_slice(req->from_tag, h);
	h = hash_bytes(&cseq, sizeof(cseq), h);
	return (uint32_t)(h ^ (h >> 32));
}

static void derive_tag(const struct sipmsg *req, char *buf, size_t size)
{
	const struct siphdr *via = sipmsg_hdr(req, HDR_VIA);
	uint32_t head = tag_head(req);
	uint64_t h = hash_bytes(&head, sizeof(head), TAG_SEED);

	h = hash_slice(req->via.value.len ? req->via.value : via->value, h);
	snprintf(buf, size, "%08" PRIx32 "%08" PRIx32, head,
		 (uint32_t)(h ^ (h >> 32)));
}

bool reply_is_derived_tag(const struct sipmsg *req)
{
	char head[12];

	if (req->to_tag.len != 16)
		return false;
	snprintf(head, sizeof(head), "%08" PRIx32, tag_head(req));
	return memcmp(req->to_tag.p, head, 8) == 0;
}

/* "Name: value" CRLF when the request has header @p id. */
static void put_copy(struct out *w, const struct sipmsg *req, enum hdr_id id,
		     const char *name)
{
	const struct siphdr *h = sipmsg_hdr(req, id);

	if (h)
		put_hdr(w, name, h->value);
}

static void build(struct out *w, const struct sipmsg *req,
		  const struct sockaddr *src, const struct reply_opts *o,
		  struct slice tag)
{
	const struct siphdr *to = sipmsg_hdr(req, HDR_TO);
	char code[24];

	fmt_u64_pad(o->status, 3, code);
	put_str(w, "SIP/2.0 ");
	put_str(w, code);
	put(w, " ", 1);
	if (o->reason.len)
		put_unfolded(w, o->reason);
	else
		put_str(w, reply_reason(o->status));
	put(w, "\r\n", 2);
	put_vias(w, req, src);
	put_copy(w, req, HDR_FROM, "From");
	if (to) {
		put_str(w, "To: ");
		put_unfolded(w, slice_trim(to->value));
		if (tag.len) {
			put_str(w, ";tag=");
			put_unfolded(w, tag);
		}
		put(w, "\r\n", 2);
	}
	put_copy(w, req, HDR_CALL_ID, "Call-ID");
	put_copy(w, req, HDR_CSEQ, "CSeq");
	if (o->server.len)
		put_hdr(w, "Server", o->server);
	put_slice(w, o->extra);
	if (o->content_type.len)
		put_hdr(w, "Content-Type", o->content_type);
	fmt_u64(o->body.len, code);
	put_str(w, "Content-Length: ");
	put_str(w, code);
	put(w, "\r\n\r\n", 4);
	put_slice(w, o->body);
}

int reply_build(const struct sipmsg *req, const struct sockaddr *src,
		const struct reply_opts *o, struct arena *a, struct slice *outp)
{
	const struct siphdr *to;
	struct out w = { NULL, 0 };
	struct slice tag = { NULL, 0 };
	char tagbuf[20];
	int err;

	err = reply_check(req);
	if (err)
		goto out;
	err = -EINVAL;
	if (o->status < 100 || o->status > 699)
		goto out;
	if (o->extra.len &&
	    (o->extra.len < 2 || o->extra.p[o->extra.len - 2] != '\r' ||
	     o->extra.p[o->extra.len - 1] != '\n'))
		goto out;
	to = sipmsg_hdr(req, HDR_TO);
	if (o->status > 100 && to && !to_has_tag(req, slice_trim(to->value))) {
		if (o->to_tag.len) {
			tag = o->to_tag;
		} else {
			derive_tag(req, tagbuf, sizeof(tagbuf));
			tag = slice_cstr(tagbuf);
		}
	}
	build(&w, req, src, o, tag);
	err = -ENOMEM;
	w.p = arena_alloc(a, w.len);
	if (!w.p)
		goto out;
	w.len = 0;
	build(&w, req, src, o, tag);
	*outp = slice_make(w.p, w.len);
	err = 0;
out:
	return err;
}

int reply_dest(const struct sipmsg *req, const struct sockaddr *src,
	       bool stream, struct sockaddr_storage *dstp, socklen_t *lenp)
{
	const struct siphdr *via = sipmsg_hdr(req, HDR_VIA);
	struct sockaddr_storage dst;
	struct slice rest, first;
	struct sipvia v;
	socklen_t len;
	uint16_t port;
	int err;

	err = -EAFNOSUPPORT;
	if (src->sa_family == AF_INET)
		len = sizeof(struct sockaddr_in);
	else if (src->sa_family == AF_INET6)
		len = sizeof(struct sockaddr_in6);
	else
		goto out;
	memset(&dst, 0, sizeof(dst));
	memcpy(&dst, src, len);
	err = -EBADMSG;
	if (!via)
		goto out;
	port = sa_port(src);
	if (!stream) {
		rest = via->value;
		if (hdr_split_next(&rest, &first) <= 0)
			goto out;
		/* RFC 3581 §4: rport -> source port; RFC 3261 §18.2.2:
		 * received (= source IP) with the sent-by port or 5060. */
		if (sipmsg_via_parse(req, first, &v) == 0 && !v.has_rport)
			port = v.port ? v.port : 5060;
	}
	err = -EINVAL;
	if (port == 0)
		goto out;
	if (dst.ss_family == AF_INET)
		((struct sockaddr_in *)&dst)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&dst)->sin6_port = htons(port);
	*dstp = dst;
	*lenp = len;
	err = 0;
out:
	return err;
}
