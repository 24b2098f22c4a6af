/* bench/sipload/sdpoa.c - SDP offer/answer for sipload's 3pcc calls */
#include "bench/sipload/sdpoa.h"

#include <errno.h>
#include <string.h>

static const char *const verdict_names[SDPOA__VERDICTS] = {
	"ok", "missing", "malformed", "address", "media", "port", "codec",
};

static const char *const mode_names[SDPOA__MODES] = {
	"good",
	"none",
	"port0",
	"codec",
};

const char *sdpoa_verdict_name(enum sdpoa_verdict v)
{
	return (unsigned)v < SDPOA__VERDICTS ? verdict_names[v] : "?";
}

int sdpoa_mode_parse(const char *name, enum sdpoa_mode *modep)
{
	unsigned i;

	for (i = 0; i < SDPOA__MODES; i++) {
		if (!strcmp(name, mode_names[i])) {
			*modep = (enum sdpoa_mode)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* The next space-separated word of @p rest (RFC 4566 §5: fields are
 * separated by a single space; be lenient with more). */
static struct slice word(struct slice *rest)
{
	size_t i = 0, j;
	struct slice w;

	while (i < rest->len && rest->p[i] == ' ')
		i++;
	for (j = i; j < rest->len && rest->p[j] != ' '; j++)
		;
	w = slice_make(rest->p + i, j - i);
	*rest = slice_make(rest->p + j, rest->len - j);
	return w;
}

/* "m=" value: media port[/count] proto fmt... (RFC 4566 §5.14). */
static int parse_m(struct slice v, struct sdpoa_media *md)
{
	struct slice port, n;
	uint64_t p;
	long slash;

	memset(md, 0, sizeof(*md));
	md->media = word(&v);
	port = word(&v);
	md->proto = word(&v);
	if (!md->media.len || !port.len || !md->proto.len)
		return -EBADMSG;
	slash = slice_index(port, '/');
	if (slash >= 0)
		port.len = (size_t)slash;
	if (slice_to_u64(port, 65535, &p))
		return -EBADMSG;
	md->port = (uint16_t)p;
	while ((n = word(&v)).len) {
		if (md->nfmt < SDPOA_FMT_MAX)
			md->fmt[md->nfmt++] = n;
	}
	return md->nfmt ? 0 : -EBADMSG;
}

enum sdpoa_verdict sdpoa_parse(struct slice body, struct sdpoa *out)
{
	const char *p = body.p, *end = body.p + body.len;
	bool first = true;
	unsigned i;

	memset(out, 0, sizeof(*out));
	if (!body.len)
		return SDPOA_MISSING;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		struct slice line;

		if (e > p && e[-1] == '\r')
			e--;
		line = slice_make(p, (size_t)(e - p));
		p = nl ? nl + 1 : end;
		if (!line.len)
			continue; /* a trailing empty line */
		/* RFC 4566 §5: <type>=<value>, type one letter. */
		if (line.len < 2 || line.p[1] != '=')
			return SDPOA_MALFORMED;
		if (first) {
			if (!slice_eq(line, SLICE_LIT("v=0")))
				return SDPOA_MALFORMED;
			first = false;
			continue;
		}
		switch (line.p[0]) {
		case 'm':
			if (out->n == SDPOA_MEDIA_MAX ||
			    parse_m(slice_make(line.p + 2, line.len - 2),
				    &out->m[out->n]))
				return SDPOA_MALFORMED;
			out->n++;
			break;
		case 'c':
			if (out->n)
				out->m[out->n - 1].has_c = true;
			else
				out->session_c = true;
			break;
		default:
			break;
		}
	}
	if (first || !out->n)
		return SDPOA_MALFORMED;
	for (i = 0; i < out->n; i++)
		if (!out->session_c && !out->m[i].has_c)
			return SDPOA_ADDRESS;
	return SDPOA_OK;
}

uint16_t sdpoa_port(unsigned thread, uint32_t slot)
{
	uint32_t span = (SDPOA_PORT_HI - SDPOA_PORT_LO) / 2 + 1;
	uint32_t k = (slot + (uint32_t)thread * 7919u) % span;

	return (uint16_t)(SDPOA_PORT_LO + 2 * k);
}

/* o=, s=, c=, t= for @p host ("127.0.0.1" or "[::1]") (RFC 4566 §5.2,
 * §5.7: the c= at session level covers every stream). */
static void session(struct wbuf *b, const char *host, unsigned version)
{
	size_t n = strlen(host);
	bool v6 = n >= 2 && host[0] == '[' && host[n - 1] == ']';
	const char *ip = v6 ? host + 1 : host;
	size_t iplen = v6 ? n - 2 : n;

	wbuf_slice(b, SLICE_LIT("v=0\r\no=sipload "));
	wbuf_u64(b, version);
	wbuf_ch(b, ' ');
	wbuf_u64(b, version);
	wbuf_str(b, v6 ? " IN IP6 " : " IN IP4 ");
	wbuf_mem(b, ip, iplen);
	wbuf_slice(b, SLICE_LIT("\r\ns=-\r\nc=IN "));
	wbuf_str(b, v6 ? "IP6 " : "IP4 ");
	wbuf_mem(b, ip, iplen);
	wbuf_slice(b, SLICE_LIT("\r\nt=0 0\r\n"));
}

void sdpoa_offer(struct wbuf *b, const char *host, uint16_t port)
{
	session(b, host, 3);
	wbuf_slice(b, SLICE_LIT("m=audio "));
	wbuf_u64(b, port);
	wbuf_slice(b, SLICE_LIT(" RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\n"
				"a=rtpmap:8 PCMA/8000\r\n"));
}

enum sdpoa_verdict sdpoa_answer(struct wbuf *b, struct slice offer,
				const char *host, uint16_t port,
				enum sdpoa_mode mode)
{
	struct sdpoa o;
	enum sdpoa_verdict v = sdpoa_parse(offer, &o);
	unsigned i;

	if (v != SDPOA_OK)
		return v;
	for (i = 0; i < o.n; i++)
		if (!o.m[i].port)
			return SDPOA_PORT; /* the offer itself rejects it */
	if (mode == SDPOA_ANSWER_NONE)
		return SDPOA_OK;
	session(b, host, 4);
	for (i = 0; i < o.n; i++) {
		/* RFC 3264 §6.1: same media and transport, our port, the
		 * formats we take from the offer's. */
		wbuf_slice(b, SLICE_LIT("m="));
		wbuf_slice(b, o.m[i].media);
		wbuf_ch(b, ' ');
		wbuf_u64(b, mode == SDPOA_ANSWER_PORT0 ? 0 : port + 2 * i);
		wbuf_ch(b, ' ');
		wbuf_slice(b, o.m[i].proto);
		wbuf_ch(b, ' ');
		if (mode == SDPOA_ANSWER_CODEC)
			wbuf_slice(b, SLICE_LIT("96"));
		else
			wbuf_slice(b, o.m[i].fmt[0]);
		wbuf_slice(b, SLICE_LIT("\r\n"));
	}
	return SDPOA_OK;
}

static bool has_fmt(const struct sdpoa_media *m, struct slice f)
{
	unsigned i;

	for (i = 0; i < m->nfmt; i++)
		if (slice_eq(m->fmt[i], f))
			return true;
	return false;
}

enum sdpoa_verdict sdpoa_check(struct slice offer, struct slice answer)
{
	struct sdpoa o, a;
	enum sdpoa_verdict v;
	unsigned i, k;

	if (sdpoa_parse(offer, &o) != SDPOA_OK)
		return SDPOA_MALFORMED;
	v = sdpoa_parse(answer, &a);
	if (v != SDPOA_OK)
		return v;
	/* RFC 3264 §6: as many m= lines as the offer, in its order. */
	if (a.n != o.n)
		return SDPOA_MEDIA;
	for (i = 0; i < a.n; i++)
		if (!slice_eq(a.m[i].media, o.m[i].media) ||
		    !slice_eq(a.m[i].proto, o.m[i].proto))
			return SDPOA_MEDIA;
	for (i = 0; i < a.n; i++)
		if (!a.m[i].port)
			return SDPOA_PORT;
	for (i = 0; i < a.n; i++) {
		for (k = 0; k < a.m[i].nfmt; k++)
			if (has_fmt(&o.m[i], a.m[i].fmt[k]))
				break;
		if (k == a.m[i].nfmt)
			return SDPOA_CODEC;
	}
	return SDPOA_OK;
}
