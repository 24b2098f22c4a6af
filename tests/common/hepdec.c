/* tests/common/hepdec.c - a HEP v3 decoder for tests */
#include "tests/common/hepdec.h"

#include <errno.h>
#include <string.h>

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

int hepdec_parse(const uint8_t *p, size_t len, struct hepdec *out)
{
	size_t o = 6;

	memset(out, 0, sizeof(*out));
	if (len < 6 || memcmp(p, "HEP3", 4) || get16(p + 4) != len)
		return -EBADMSG;
	while (o < len) {
		uint16_t type, clen;
		const uint8_t *d;
		size_t dl;

		if (len - o < 6)
			return -EBADMSG;
		type = get16(p + o + 2);
		clen = get16(p + o + 4);
		if (get16(p + o) != 0 || clen < 6 || clen > len - o)
			return -EBADMSG;
		d = p + o + 6;
		dl = clen - 6u;
		switch (type) {
		case 1:
		case 2:
		case 11:
			if (dl != 1)
				return -EBADMSG;
			if (type == 1)
				out->family = d[0];
			else if (type == 2)
				out->ip_proto = d[0];
			else
				out->proto_type = d[0];
			break;
		case 3:
		case 4:
		case 5:
		case 6:
			if (dl != (type <= 4 ? 4u : 16u))
				return -EBADMSG;
			memcpy(type == 3 || type == 5 ? out->src : out->dst, d,
			       dl);
			out->alen = (unsigned)dl;
			break;
		case 7:
		case 8:
			if (dl != 2)
				return -EBADMSG;
			if (type == 7)
				out->sport = get16(d);
			else
				out->dport = get16(d);
			break;
		case 9:
		case 10:
		case 12:
			if (dl != 4)
				return -EBADMSG;
			if (type == 9)
				out->ts_s = get32(d);
			else if (type == 10)
				out->ts_us = get32(d);
			else
				out->capture_id = get32(d);
			break;
		case 15:
			out->payload = d;
			out->payload_len = dl;
			break;
		default:
			break; /* chunks we do not read */
		}
		out->chunks++;
		o += clen;
	}
	return o == len ? 0 : -EBADMSG;
}
