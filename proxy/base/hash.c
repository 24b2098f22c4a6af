/* proxy/base/hash.c - 8 bytes per step multiply-xorshift hash */
#include "proxy/base/hash.h"

#include <string.h>

#define K1 0x9e3779b97f4a7c15ULL
#define K2 0xbf58476d1ce4e5b9ULL
#define K3 0x94d049bb133111ebULL

static inline uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v * K1;
	h = (h << 27) | (h >> 37);
	return h * K2 + K3;
}

static inline uint64_t finish(uint64_t h)
{
	h ^= h >> 30;
	h *= K2;
	h ^= h >> 27;
	h *= K3;
	h ^= h >> 31;
	return h;
}

uint64_t hash_bytes(const void *p, size_t len, uint64_t seed)
{
	const unsigned char *s = p;
	uint64_t h = seed ^ (len * K3);
	uint64_t v;

	for (; len >= 8; s += 8, len -= 8) {
		memcpy(&v, s, 8);
		h = mix(h, v);
	}
	if (len) {
		v = 0;
		memcpy(&v, s, len);
		h = mix(h, v ^ ((uint64_t)len << 56));
	}
	return finish(h);
}

uint64_t hash_slice_case(struct slice s, uint64_t seed)
{
	uint64_t h = seed ^ (s.len * K3);
	uint64_t v;
	unsigned char b[8];
	size_t i = 0;

	while (i < s.len) {
		size_t n = s.len - i < 8 ? s.len - i : 8;

		for (size_t j = 0; j < 8; j++) {
			unsigned char c = j < n ? (unsigned char)s.p[i + j] : 0;

			b[j] = (c >= 'A' && c <= 'Z')
				   ? (unsigned char)(c | 0x20)
				   : c;
		}
		memcpy(&v, b, 8);
		h = mix(h, n < 8 ? v ^ ((uint64_t)n << 56) : v);
		i += n;
	}
	return finish(h);
}
