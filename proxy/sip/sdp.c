/* proxy/sip/sdp.c - SDP (RFC 4566) view and offer/answer helpers (RFC 3264) */
#include "proxy/sip/sdp.h"

#include <errno.h>
#include <string.h>

#include "proxy/base/arena.h"

static const char *const dir_names[] = { "sendrecv", "sendonly", "recvonly",
					 "inactive" };

const char *sdp_dir_name(enum sdp_dir d)
{
	return (unsigned)d <= SDP_INACTIVE ? dir_names[d] : "";
}

/* The direction named @p name, or -1. */
static int dir_lookup(struct slice name)
{
	for (int i = 0; i <= SDP_INACTIVE; i++)
		if (slice_eq(name, slice_cstr(dir_names[i])))
			return i;
	return -1;
}

/*
 * The line at *posp in @p text: *linep without its line end, *fullp
 * with it. Advances *posp. Returns false at the end.
 */
static bool next_line(struct slice text, size_t *posp, struct slice *linep,
		      struct slice *fullp)
{
	size_t pos = *posp, end = pos;

	if (pos >= text.len)
		return false;
	while (end < text.len && text.p[end] != '\n')
		end++;
	*fullp =
	    slice_make(text.p + pos, (end < text.len ? end + 1 : end) - pos);
	if (end > pos && text.p[end - 1] == '\r')
		*linep = slice_make(text.p + pos, end - 1 - pos);
	else
		*linep = slice_make(text.p + pos, end - pos);
	*posp = end < text.len ? end + 1 : end;
	return true;
}

/* The next SP-separated field of *restp (runs of SP are one). */
static bool field(struct slice *restp, struct slice *fp)
{
	struct slice r = *restp;
	size_t i = 0, j;

	while (i < r.len && r.p[i] == ' ')
		i++;
	if (i == r.len)
		return false;
	j = i;
	while (j < r.len && r.p[j] != ' ')
		j++;
	*fp = slice_make(r.p + i, j - i);
	*restp = slice_make(r.p + j, r.len - j);
	return true;
}

static bool is_digits(struct slice s, size_t max)
{
	if (!s.len || s.len > max)
		return false;
	for (size_t i = 0; i < s.len; i++)
		if (s.p[i] < '0' || s.p[i] > '9')
			return false;
	return true;
}

static int fail(struct sdp *s, const char *why)
{
	s->fault = why;
	return -EBADMSG;
}

static int parse_origin(struct sdp *s, struct slice v)
{
	struct slice f[6];

	for (int i = 0; i < 6; i++)
		if (!field(&v, &f[i]))
			return fail(s, "Malformed o=");
	if (slice_trim(v).len)
		return fail(s, "Malformed o=");
	if (!is_digits(f[1], SDP_MAX_DIGITS) ||
	    !is_digits(f[2], SDP_MAX_DIGITS))
		return fail(s, "Malformed o= session id or version");
	s->o_user = f[0];
	s->o_sess_id = f[1];
	s->o_version = f[2];
	s->o_nettype = f[3];
	s->o_addrtype = f[4];
	s->o_addr = f[5];
	return 0;
}

static int parse_conn(struct sdp *s, struct slice v, struct sdp_conn *c)
{
	struct slice f[3];

	for (int i = 0; i < 3; i++)
		if (!field(&v, &f[i]))
			return fail(s, "Malformed c=");
	if (slice_trim(v).len)
		return fail(s, "Malformed c=");
	c->nettype = f[0];
	c->addrtype = f[1];
	c->addr = f[2];
	return 0;
}

static int parse_media(struct sdp *s, struct slice v, struct sdp_media *m)
{
	struct slice media, port, proto, fmt, rest;
	uint64_t n;
	long slash;

	memset(m, 0, sizeof(*m));
	m->line = v;
	if (!field(&v, &media) || !field(&v, &port) || !field(&v, &proto))
		return fail(s, "Malformed m=");
	rest = v;
	if (!field(&rest, &fmt))
		return fail(s, "Malformed m= without formats");
	m->media = media;
	m->proto = proto;
	m->fmts = slice_trim(v);
	m->nports = 1;
	slash = slice_index(port, '/');
	if (slash >= 0) {
		struct slice np = slice_make(port.p + slash + 1,
					     port.len - (size_t)slash - 1);

		if (slice_to_u64(np, 65535, &n) != 0 || n == 0)
			return fail(s, "Malformed m= port count");
		m->nports = (unsigned)n;
		port.len = (size_t)slash;
	}
	if (!is_digits(port, 5) || slice_to_u64(port, 65535, &n) != 0)
		return fail(s, "Malformed m= port");
	m->port = (uint16_t)n;
	return 0;
}

/* A direction attribute at the level whose fields are @p dirp/@p hasp. */
static int take_dir(struct sdp *s, struct slice v, enum sdp_dir *dirp,
		    bool *hasp)
{
	int d = dir_lookup(v);

	if (d < 0)
		return 0;
	if (*hasp && *dirp != (enum sdp_dir)d)
		return fail(s, "Conflicting direction attributes");
	*dirp = (enum sdp_dir)d;
	*hasp = true;
	return 0;
}

/* True when only CR and LF are left from @p pos. */
static bool only_blank(struct slice text, size_t pos)
{
	for (; pos < text.len; pos++)
		if (text.p[pos] != '\r' && text.p[pos] != '\n')
			return false;
	return true;
}

int sdp_parse(struct sdp *s, const char *buf, size_t len)
{
	struct slice line, full, v;
	struct sdp_media *m = NULL;
	size_t pos = 0, start;
	unsigned nline = 0;
	bool seen_s = false, seen_t = false;
	int err;

	memset(s, 0, sizeof(*s));
	if (len > SDP_MAX_LEN) {
		s->fault = "SDP too large";
		return -EMSGSIZE;
	}
	s->text = slice_make(buf, len);
	if (memchr(buf, '\0', len))
		return fail(s, "NUL in SDP");
	/* RFC 4566 §5: CR only as part of a line end. */
	for (const char *cr = memchr(buf, '\r', len); cr;
	     cr = memchr(cr + 1, '\r', len - (size_t)(cr + 1 - buf)))
		if (cr + 1 < buf + len && cr[1] != '\n')
			return fail(s, "Bare CR in SDP");
	/* Bounded by len: each turn takes one line. */
	for (start = pos; next_line(s->text, &pos, &line, &full); start = pos) {
		if (!line.len) {
			if (only_blank(s->text, start))
				break;
			return fail(s, "Empty line in SDP");
		}
		if (line.len < 2 || line.p[1] != '=' || line.p[0] < 'a' ||
		    line.p[0] > 'z')
			return fail(s, "Malformed SDP line");
		v = slice_make(line.p + 2, line.len - 2);
		if (nline == 0 && line.p[0] != 'v')
			return fail(s, "Missing v=");
		if (nline == 1 && line.p[0] != 'o')
			return fail(s, "Missing o=");
		nline++;
		switch (line.p[0]) {
		case 'v':
			if (nline != 1)
				return fail(s, "Misplaced v=");
			if (!slice_eq(v, SLICE_LIT("0")))
				return fail(s, "Unsupported SDP version");
			break;
		case 'o':
			if (nline != 2)
				return fail(s, "Misplaced o=");
			err = parse_origin(s, v);
			if (err)
				return err;
			break;
		case 's':
			seen_s = true;
			break;
		case 't':
			seen_t = true;
			break;
		case 'c':
			err = m ? parse_conn(s, v, &m->conn)
				: parse_conn(s, v, &s->conn);
			if (err)
				return err;
			if (m)
				m->has_conn = true;
			else
				s->has_conn = true;
			break;
		case 'm':
			if (m)
				m->block = slice_make(
				    m->block.p, (size_t)(full.p - m->block.p));
			else
				s->session =
				    slice_make(buf, (size_t)(full.p - buf));
			if (s->nmedia == SDP_MAX_MEDIA) {
				s->fault = "Too many m= lines";
				return -E2BIG;
			}
			m = &s->media[s->nmedia++];
			err = parse_media(s, v, m);
			if (err)
				return err;
			m->block = full;
			break;
		case 'a':
			err = m ? take_dir(s, v, &m->dir, &m->has_dir)
				: take_dir(s, v, &s->dir, &s->has_dir);
			if (err)
				return err;
			break;
		default:
			break;
		}
	}
	if (nline < 2)
		return fail(s, nline ? "Missing o=" : "Missing v=");
	if (!seen_s)
		return fail(s, "Missing s=");
	if (!seen_t)
		return fail(s, "Missing t=");
	if (m)
		m->block =
		    slice_make(m->block.p, (size_t)(buf + start - m->block.p));
	else
		s->session = slice_make(buf, start);
	for (unsigned i = 0; i < s->nmedia; i++)
		if (!s->has_conn && !s->media[i].has_conn && s->media[i].port)
			return fail(s, "Missing c=");
	return 0;
}

enum sdp_dir sdp_media_dir(const struct sdp *s, unsigned i)
{
	if (i < s->nmedia && s->media[i].has_dir)
		return s->media[i].dir;
	return s->has_dir ? s->dir : SDP_SENDRECV;
}

int sdp_attr_next(struct slice *restp, struct slice *namep, struct slice *valp)
{
	struct slice line, full;
	size_t pos = 0;
	long colon;

	/* Bounded by the section's length. */
	while (next_line(*restp, &pos, &line, &full)) {
		if (line.len < 2 || line.p[0] != 'a' || line.p[1] != '=')
			continue;
		*restp = slice_make(restp->p + pos, restp->len - pos);
		line = slice_make(line.p + 2, line.len - 2);
		colon = slice_index(line, ':');
		if (colon < 0) {
			*namep = line;
			*valp = slice_make(line.p + line.len, 0);
		} else {
			*namep = slice_make(line.p, (size_t)colon);
			*valp = slice_make(line.p + colon + 1,
					   line.len - (size_t)colon - 1);
		}
		return 1;
	}
	*restp = slice_make(restp->p + restp->len, 0);
	return 0;
}

int sdp_attr_find(struct slice section, const char *name, struct slice *valp)
{
	struct slice n, v;

	while (sdp_attr_next(&section, &n, &v) == 1)
		if (slice_eq(n, slice_cstr(name))) {
			*valp = v;
			return 1;
		}
	return 0;
}

/* Bytes written so far; writes past size are counted, not stored. */
struct out {
	char *p;
	size_t size, len;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->p && o->len + n <= o->size && n)
		memcpy(o->p + o->len, s, n);
	o->len += n;
}

/* A line as it was, or with CRLF when it had no line end. */
static void put_full(struct out *o, struct slice full)
{
	put(o, full.p, full.len);
	if (full.len && full.p[full.len - 1] == '\r')
		put(o, "\n", 1);
	else if (!full.len || full.p[full.len - 1] != '\n')
		put(o, "\r\n", 2);
}

static void put_dir(struct out *o, enum sdp_dir dir)
{
	put(o, "a=", 2);
	put(o, dir_names[dir], strlen(dir_names[dir]));
	put(o, "\r\n", 2);
}

/* The o= line with its version + 1 (decimal, carried by hand). */
static void put_bumped(struct out *o, const struct sdp *s, struct slice full)
{
	char digits[SDP_MAX_DIGITS + 1];
	struct slice ver = s->o_version;
	size_t n = ver.len, i;
	const char *end = ver.p + ver.len;

	memcpy(digits + 1, ver.p, n);
	digits[0] = '0';
	for (i = n; i > 0; i--) {
		if (digits[i] != '9') {
			digits[i]++;
			break;
		}
		digits[i] = '0';
	}
	if (i == 0)
		digits[0] = '1';
	put(o, full.p, (size_t)(ver.p - full.p));
	if (i == 0)
		put(o, digits, n + 1);
	else
		put(o, digits + 1, n);
	put(o, end, full.len - (size_t)(end - full.p));
}

static void print(const struct sdp *s, unsigned flags, enum sdp_dir dir,
		  struct out *o)
{
	struct slice line, full;
	size_t pos = 0;
	bool in_media = false;

	/* Bounded by the body's length. */
	while (next_line(s->text, &pos, &line, &full)) {
		if (!line.len)
			break; /* the trailing blank lines */
		if (line.p[0] == 'm' && in_media && (flags & SDP_SET_DIR))
			put_dir(o, dir);
		if (line.p[0] == 'm')
			in_media = true;
		if ((flags & SDP_SET_DIR) && line.p[0] == 'a' &&
		    dir_lookup(slice_make(line.p + 2, line.len - 2)) >= 0)
			continue;
		if ((flags & SDP_BUMP_VERSION) && line.p[0] == 'o')
			put_bumped(o, s, full);
		else
			put_full(o, full);
	}
	if (flags & SDP_SET_DIR)
		put_dir(o, dir);
}

int sdp_print(const struct sdp *s, unsigned flags, enum sdp_dir dir,
	      struct arena *a, struct slice *outp)
{
	struct out o = { NULL, 0, 0 };

	if (s->fault || !s->o_version.len || (unsigned)dir > SDP_INACTIVE)
		return -EINVAL;
	print(s, flags, dir, &o);
	o.p = arena_alloc(a, o.len + 1);
	if (!o.p)
		return -ENOMEM;
	o.size = o.len + 1;
	o.len = 0;
	print(s, flags, dir, &o);
	*outp = slice_make(o.p, o.len);
	return 0;
}

bool sdp_media_eq(const struct sdp *x, const struct sdp *y)
{
	if (x->nmedia != y->nmedia)
		return false;
	for (unsigned i = 0; i < x->nmedia; i++)
		if (!slice_eq(x->media[i].line, y->media[i].line))
			return false;
	return true;
}

/* RFC 3264 §6.1: the answer's direction for the offer's. */
static bool dir_fits(enum sdp_dir offer, enum sdp_dir answer)
{
	switch (offer) {
	case SDP_SENDONLY:
		return answer == SDP_RECVONLY || answer == SDP_INACTIVE;
	case SDP_RECVONLY:
		return answer == SDP_SENDONLY || answer == SDP_INACTIVE;
	case SDP_INACTIVE:
		return answer == SDP_INACTIVE;
	default:
		return true;
	}
}

int sdp_answer_check(const struct sdp *offer, const struct sdp *answer,
		     const char **faultp)
{
	const char *why = NULL;

	if (offer->nmedia != answer->nmedia)
		why = "m= line count differs";
	for (unsigned i = 0; !why && i < offer->nmedia; i++) {
		const struct sdp_media *o = &offer->media[i];
		const struct sdp_media *a = &answer->media[i];

		if (!slice_eq(o->media, a->media))
			why = "m= media type or order differs";
		else if (!o->port && a->port)
			why = "a disabled stream was accepted";
		else if (a->port && !slice_eq(o->proto, a->proto))
			why = "m= transport protocol differs";
		else if (a->port && !dir_fits(sdp_media_dir(offer, i),
					      sdp_media_dir(answer, i)))
			why = "direction does not fit the offer";
	}
	if (!why)
		return 0;
	if (faultp)
		*faultp = why;
	return -EPROTO;
}
