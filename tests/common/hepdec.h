/* tests/common/hepdec.h - a HEP v3 decoder for tests, written from the spec
 * apart from proxy/core/hep.c so that the two check each other */
#pragma once

#include <stddef.h>
#include <stdint.h>

/** One decoded HEP v3 packet: value type; payload points into the packet. */
struct hepdec {
	uint8_t family;	  /**< 2 IPv4, 10 IPv6 */
	uint8_t ip_proto; /**< 17 UDP, 6 TCP */
	uint8_t src[16], dst[16];
	unsigned alen; /**< 4 or 16 */
	uint16_t sport, dport;
	uint32_t ts_s, ts_us;
	uint8_t proto_type; /**< 1 SIP */
	uint32_t capture_id;
	const uint8_t *payload;
	size_t payload_len;
	unsigned chunks; /**< how many chunks the packet had */
};

/**
 * Decode the @p len bytes at @p p: "HEP3", a total length equal to
 * @p len, chunks whose lengths add up exactly. Returns 0, or -EBADMSG
 * (with nothing promised about *@p out). Thread: any.
 */
int hepdec_parse(const uint8_t *p, size_t len, struct hepdec *out);
