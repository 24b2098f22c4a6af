/* proxy/base/fmt.c - decimal numbers and IPv4 addresses as text */
#include "proxy/base/fmt.h"

size_t fmt_u64_pad(uint64_t v, unsigned width, char *out)
{
	char tmp[FMT_U64_MAX];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (width > FMT_U64_MAX - 1)
		width = FMT_U64_MAX - 1;
	while (n < width)
		tmp[n++] = '0';
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	out[n] = '\0';
	return n;
}

size_t fmt_u64(uint64_t v, char *out)
{
	return fmt_u64_pad(v, 0, out);
}

size_t fmt_ipv4(const void *addr, char *out)
{
	const unsigned char *b = addr;
	size_t o = 0;

	for (int i = 0; i < 4; i++) {
		unsigned x = b[i];

		if (i)
			out[o++] = '.';
		if (x >= 100) {
			out[o++] = (char)('0' + x / 100);
			x %= 100;
			out[o++] = (char)('0' + x / 10);
			x %= 10;
		} else if (x >= 10) {
			out[o++] = (char)('0' + x / 10);
			x %= 10;
		}
		out[o++] = (char)('0' + x);
	}
	out[o] = '\0';
	return o;
}
