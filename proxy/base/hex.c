/* proxy/base/hex.c - hexadecimal digits: bytes, numbers, %HH escapes */
#include "proxy/base/hex.h"

#include <errno.h>

#include <nettle/base16.h>

int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void hex_print(const void *p, size_t n, char *out)
{
	/* nettle writes lower-case digits. */
	base16_encode_update(out, n, p);
	out[2 * n] = '\0';
}

int hex_parse(struct slice s, uint8_t *out, size_t n)
{
	/* Not nettle's base16 decoder: it skips white space, and a
	 * stored credential or nonce must be exactly its digits. */
	if (s.len != 2 * n)
		return -EINVAL;
	for (size_t i = 0; i < s.len; i++)
		if (hex_val(s.p[i]) < 0)
			return -EINVAL;
	for (size_t i = 0; i < n; i++)
		out[i] = (uint8_t)(hex_val(s.p[2 * i]) << 4 |
				   hex_val(s.p[2 * i + 1]));
	return 0;
}

void hex_u64_print(uint64_t v, unsigned digits, char *out)
{
	static const char xd[] = "0123456789abcdef";

	for (unsigned i = digits; i > 0; i--) {
		out[i - 1] = xd[v & 15];
		v >>= 4;
	}
}

int hex_u64_parse(const char *p, unsigned digits, uint64_t *vp)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < digits; i++) {
		int d = hex_val(p[i]);

		if (d < 0)
			return -EINVAL;
		v = v << 4 | (uint64_t)d;
	}
	*vp = v;
	return 0;
}

void hex_escape(unsigned char c, char *out)
{
	static const char xd[] = "0123456789ABCDEF";

	out[0] = '%';
	out[1] = xd[c >> 4];
	out[2] = xd[c & 15];
}
