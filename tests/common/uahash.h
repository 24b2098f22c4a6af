/* tests/common/uahash.h - Digest hashes as a UA computes them, with nettle
 * directly (not with the proxy/sip/digest under test) */
#pragma once

/**
 * H(v[0] ":" v[1] ":" ... v[n-1]) in lower-case hex into @p out: SHA-256
 * when @p alg is "SHA-256" (65 bytes of room), else MD5 (33 bytes).
 * Thread: any.
 */
void uahash_hex(const char *alg, const char *const *v, unsigned n, char *out);
