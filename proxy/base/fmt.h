/* proxy/base/fmt.h - decimal numbers and IPv4 addresses as text, without
 * printf (the per-message path: Via, Max-Forwards, Content-Length) */
#pragma once

#include <stddef.h>
#include <stdint.h>

/** Room for fmt_u64(): 20 digits and the NUL. */
#define FMT_U64_MAX 21

/** Room for fmt_ipv4(): "255.255.255.255" and the NUL. */
#define FMT_IPV4_MAX 16

/**
 * Write @p v in decimal (no leading zeros, "0" for 0) and a NUL at
 * @p out (FMT_U64_MAX bytes). Returns the digit count. Same text as
 * printf "%" PRIu64. Thread: any.
 */
size_t fmt_u64(uint64_t v, char *out);

/**
 * Write @p v as at least @p width decimal digits, zero-padded on the
 * left (printf "%0*u"), and a NUL at @p out (FMT_U64_MAX bytes);
 * @p width at most 20. Returns the digit count. Thread: any.
 */
size_t fmt_u64_pad(uint64_t v, unsigned width, char *out);

/**
 * Write the IPv4 address at @p addr (4 bytes, network order, as in
 * struct in_addr) in dotted-decimal and a NUL at @p out (FMT_IPV4_MAX
 * bytes). Returns the length. Same text as inet_ntop(AF_INET).
 * Thread: any.
 */
size_t fmt_ipv4(const void *addr, char *out);
