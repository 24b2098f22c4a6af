/* tests/fuzz/fuzz_rtp.c - libFuzzer target: the media engine's network
 * input: RTP packets, RFC 4733 events, SDP offers it chooses from */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "features/b2b/media.h"
#include "features/b2b/rtp.h"
#include "proxy/sip/sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* One receiver across inputs, as one stream would see them. */
	static struct rtp_dtmf_rx rx;
	static struct sdp s;
	struct rtp_hdr h;
	struct rtp_event ev;
	struct rtp_dtmf out[2];
	struct media_remote r;
	const uint8_t *pl;
	size_t plen;
	uint8_t *buf;

	if (size == 0)
		return 0;
	/* An exact-size copy, so ASan sees any read past the end. */
	buf = malloc(size - 1 ? size - 1 : 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	if (data[0] & 1) {
		/* An SDP body: what media_sdp_choose() takes from it. */
		if (sdp_parse(&s, (const char *)buf, size - 1) == 0 &&
		    media_sdp_choose(&s, &r) == 0) {
			if (r.stream >= s.nmedia || r.pt > 127 ||
			    r.event_pt > 127)
				abort();
		}
	} else if (rtp_parse(buf, size - 1, &h, &pl, &plen) == 0) {
		if (pl < buf || pl + plen > buf + size - 1)
			abort();
		if (rtp_event_parse(pl, plen, &ev) == 0) {
			int n = rtp_dtmf_rx_feed(&rx, h.ts, &ev, out);

			if (n < 0 || n > 2)
				abort();
			(void)rtp_event_char(ev.event);
		}
	}
	free(buf);
	return 0;
}
