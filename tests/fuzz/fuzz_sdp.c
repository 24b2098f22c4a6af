/* tests/fuzz/fuzz_sdp.c - libFuzzer target: SDP parser and printers */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/base/arena.h"
#include "proxy/sip/sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sdp s, again;
	struct slice out, rest, n, v;
	struct arena *a;
	char *buf;

	/* An exact-size copy, so ASan sees any read past the end. */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (sdp_parse(&s, buf, size) != 0) {
		free(buf);
		return 0;
	}
	for (unsigned i = 0; i < s.nmedia; i++) {
		(void)sdp_media_dir(&s, i);
		rest = s.media[i].block;
		while (sdp_attr_next(&rest, &n, &v) == 1)
			;
	}
	(void)sdp_answer_check(&s, &s, NULL);
	a = arena_new(4096);
	if (a && sdp_print(&s, SDP_SET_DIR | SDP_BUMP_VERSION, SDP_INACTIVE, a,
			   &out) == 0) {
		/* What we print from a valid body is valid, with the same
		 * m= lines. */
		if (sdp_parse(&again, out.p, out.len) != 0 ||
		    !sdp_media_eq(&s, &again) ||
		    (s.nmedia && sdp_media_dir(&again, 0) != SDP_INACTIVE))
			abort();
	}
	arena_free(a);
	free(buf);
	return 0;
}
