/* proxy/core/hep.c - HEP v3 packets: "HEP3", length, typed chunks */
#include "proxy/core/hep.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

/* Chunk header: vendor id, type id, length (header included). */
#define CHUNK_HDR 6

struct out {
	uint8_t *buf;
	size_t o;
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* One chunk; the caller checked that it fits. */
static void chunk(struct out *w, uint16_t type, const void *data, size_t len)
{
	put16(w->buf + w->o, 0);
	put16(w->buf + w->o + 2, type);
	put16(w->buf + w->o + 4, (uint16_t)(CHUNK_HDR + len));
	memcpy(w->buf + w->o + CHUNK_HDR, data, len);
	w->o += CHUNK_HDR + len;
}

static void chunk8(struct out *w, uint16_t type, uint8_t v)
{
	chunk(w, type, &v, 1);
}

static void chunk16(struct out *w, uint16_t type, uint16_t v)
{
	uint8_t b[2];

	put16(b, v);
	chunk(w, type, b, 2);
}

static void chunk32(struct out *w, uint16_t type, uint32_t v)
{
	uint8_t b[4];

	put32(b, v);
	chunk(w, type, b, 4);
}

int hep_encode(const struct hep_info *in, const void *payload, size_t len,
	       uint8_t *buf, size_t size)
{
	const struct sockaddr_in *s4, *d4;
	const struct sockaddr_in6 *s6, *d6;
	struct out w = { buf, 6 };
	size_t alen, total;
	int v6;

	if (in->src->sa_family != in->dst->sa_family ||
	    (in->src->sa_family != AF_INET && in->src->sa_family != AF_INET6))
		return -EAFNOSUPPORT;
	v6 = in->src->sa_family == AF_INET6;
	alen = v6 ? 16 : 4;
	/* Header, 2 x 1-byte, 2 x address, 2 x port, 3 x 4-byte, 1-byte,
	 * payload. */
	total = 6 + 2 * (CHUNK_HDR + 1) + 2 * (CHUNK_HDR + alen) +
		2 * (CHUNK_HDR + 2) + 3 * (CHUNK_HDR + 4) + (CHUNK_HDR + 1) +
		CHUNK_HDR + len;
	if (total > HEP_MAX || total > size)
		return -EMSGSIZE;
	memcpy(buf, "HEP3", 4);
	put16(buf + 4, (uint16_t)total);
	chunk8(&w, HEP_IP_FAMILY, v6 ? 10 : 2);
	chunk8(&w, HEP_IP_PROTO, in->ip_proto);
	if (v6) {
		s6 = (const struct sockaddr_in6 *)in->src;
		d6 = (const struct sockaddr_in6 *)in->dst;
		chunk(&w, HEP_IPV6_SRC, &s6->sin6_addr, 16);
		chunk(&w, HEP_IPV6_DST, &d6->sin6_addr, 16);
		chunk16(&w, HEP_SRC_PORT, ntohs(s6->sin6_port));
		chunk16(&w, HEP_DST_PORT, ntohs(d6->sin6_port));
	} else {
		s4 = (const struct sockaddr_in *)in->src;
		d4 = (const struct sockaddr_in *)in->dst;
		chunk(&w, HEP_IPV4_SRC, &s4->sin_addr, 4);
		chunk(&w, HEP_IPV4_DST, &d4->sin_addr, 4);
		chunk16(&w, HEP_SRC_PORT, ntohs(s4->sin_port));
		chunk16(&w, HEP_DST_PORT, ntohs(d4->sin_port));
	}
	chunk32(&w, HEP_TS_SEC, in->ts_s);
	chunk32(&w, HEP_TS_USEC, in->ts_us);
	chunk8(&w, HEP_PROTO_TYPE, 1);
	chunk32(&w, HEP_CAPTURE_ID, in->capture_id);
	chunk(&w, HEP_PAYLOAD, payload, len);
	return (int)w.o;
}
