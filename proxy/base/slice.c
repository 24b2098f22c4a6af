/* proxy/base/slice.c - struct slice helpers */
#include "proxy/base/slice.h"

#include <errno.h>

static inline char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c | 0x20) : c;
}

bool slice_eq(struct slice a, struct slice b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

bool slice_caseeq_bytes(const char *a, const char *b, size_t n)
{
	/* Same bytes first: names mostly come in the case we compare with. */
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i] && lower(a[i]) != lower(b[i]))
			return false;
	return true;
}

static inline bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

struct slice slice_trim(struct slice s)
{
	while (s.len && is_ws(s.p[0])) {
		s.p++;
		s.len--;
	}
	while (s.len && is_ws(s.p[s.len - 1]))
		s.len--;
	return s;
}

long slice_index(struct slice s, char c)
{
	const char *q = s.len ? memchr(s.p, c, s.len) : NULL;

	return q ? (long)(q - s.p) : -1;
}

int slice_to_u64(struct slice s, uint64_t max, uint64_t *vp)
{
	uint64_t v = 0;

	if (s.len == 0)
		return -EINVAL;
	for (size_t i = 0; i < s.len; i++) {
		unsigned d = (unsigned char)s.p[i] - '0';

		if (d > 9)
			return -EINVAL;
		/* d > max first: max - d would wrap for a one-digit max. */
		if (d > max || v > (max - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*vp = v;
	return 0;
}

char *slice_cstr_copy(struct slice s, char *buf, size_t size)
{
	size_t n = s.len < size - 1 ? s.len : size - 1;

	if (n)
		memcpy(buf, s.p, n);
	buf[n] = '\0';
	return buf;
}
