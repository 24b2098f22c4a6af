/* tests/common/uahash.c - Digest hashes as a UA computes them */
#include "tests/common/uahash.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <nettle/md5.h>
#include <nettle/nettle-meta.h>
#include <nettle/sha2.h>

static void hex_of(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
	out[2 * n] = '\0';
}

void uahash_hex(const char *alg, const char *const *v, unsigned n, char *out)
{
	const struct nettle_hash *h =
	    strcmp(alg, "SHA-256") ? &nettle_md5 : &nettle_sha256;
	union {
		struct md5_ctx md5;
		struct sha256_ctx sha256;
	} c;
	uint8_t d[SHA256_DIGEST_SIZE];

	h->init(&c);
	for (unsigned i = 0; i < n; i++) {
		if (i)
			h->update(&c, 1, (const uint8_t *)":");
		h->update(&c, strlen(v[i]), (const uint8_t *)v[i]);
	}
	h->digest(&c, h->digest_size, d);
	hex_of(d, h->digest_size, out);
}
