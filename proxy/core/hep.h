/* proxy/core/hep.h - HEP v3 (Homer encapsulation protocol) packets */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/** HEP v3 chunk types (vendor 0, generic), as the HEP v3 spec numbers them. */
enum hep_chunk {
	HEP_IP_FAMILY = 1,   /**< uint8: 2 AF_INET, 10 AF_INET6 */
	HEP_IP_PROTO = 2,    /**< uint8: 17 UDP, 6 TCP */
	HEP_IPV4_SRC = 3,    /**< 4 bytes */
	HEP_IPV4_DST = 4,    /**< 4 bytes */
	HEP_IPV6_SRC = 5,    /**< 16 bytes */
	HEP_IPV6_DST = 6,    /**< 16 bytes */
	HEP_SRC_PORT = 7,    /**< uint16 */
	HEP_DST_PORT = 8,    /**< uint16 */
	HEP_TS_SEC = 9,	     /**< uint32 */
	HEP_TS_USEC = 10,    /**< uint32 */
	HEP_PROTO_TYPE = 11, /**< uint8: 1 SIP */
	HEP_CAPTURE_ID = 12, /**< uint32 */
	HEP_PAYLOAD = 15,    /**< the captured message, as is */
};

/** The largest packet hep_encode() writes (a UDP datagram's payload). */
#define HEP_MAX 65507

/** What one captured SIP message is, besides its bytes: value type. */
struct hep_info {
	const struct sockaddr *src; /**< AF_INET or AF_INET6, with port */
	const struct sockaddr *dst; /**< the same family as src */
	uint8_t ip_proto;	    /**< 17 UDP, 6 TCP */
	uint32_t ts_s;		    /**< capture time, seconds (UNIX) */
	uint32_t ts_us;		    /**< and microseconds */
	uint32_t capture_id;	    /**< the capture agent's id */
};

/**
 * Write the HEP v3 packet of the @p len bytes at @p payload (a SIP
 * message, protocol type 1) into @p buf (@p size bytes): "HEP3", the
 * total length, then the chunks family, protocol, source and
 * destination address and port, timestamp seconds and microseconds,
 * protocol type, capture id and payload, all numbers in network order.
 * Returns the packet length, or -EAFNOSUPPORT (src or dst not IPv4 or
 * IPv6, or not the same family), -EMSGSIZE (longer than HEP_MAX or
 * @p size). Nothing is written past @p size. Thread: any.
 */
int hep_encode(const struct hep_info *in, const void *payload, size_t len,
	       uint8_t *buf, size_t size);
