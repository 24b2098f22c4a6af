/* tests/fuzz/fuzz_msg.c - libFuzzer target: parser, framer, URI, headers */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/sip/hdr.h"
#include "proxy/sip/msg.h"
#include "proxy/sip/uri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Walk everything a later stage would look at, so that the lazy parsers
 * (URI, name-addr, Via, comma split) see fuzzed input too. */
static void walk(const struct sipmsg *m)
{
	struct sipuri u;
	struct nameaddr na;
	struct sipvia via;
	struct slice rest, elem, v;
	char buf[256];

	if (m->is_request && uri_parse(m->ruri, &u) == 0) {
		(void)uri_param(&u, "transport", &v);
		(void)uri_unescape(u.user, buf, sizeof(buf));
	}
	for (unsigned i = 0; i < m->nhdrs; i++) {
		const struct siphdr *h = &m->hdrs[i];
		unsigned guard = 0;

		rest = h->value;
		while (guard++ < 1000 && hdr_split_next(&rest, &elem) == 1) {
			switch (h->id) {
			case HDR_VIA:
				(void)via_parse(elem, &via);
				break;
			case HDR_CONTACT:
			case HDR_ROUTE:
			case HDR_RECORD_ROUTE:
			case HDR_FROM:
			case HDR_TO:
				if (nameaddr_parse(elem, &na) == 0 &&
				    uri_parse(na.uri, &u) == 0)
					(void)hdr_param_find(na.params,
							     "expires", &v);
				break;
			default:
				break;
			}
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct siphdr hdrs[128];
	struct sipmsg m;
	struct slice callid;
	const char *fault = NULL;
	char *buf;
	int ret;

	/* An exact-size copy, so ASan sees any read past the end. */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);

	ret = sipmsg_parse(&m, buf, size, hdrs, 128, 0);
	if (ret > 0 || ret == -EBADMSG || ret == -E2BIG)
		walk(&m);
	ret = sipmsg_parse(&m, buf, size, hdrs, 128, SIPMSG_STREAM);
	if (ret > 0)
		walk(&m);
	(void)sipmsg_frame(buf, size, 16384, 65536, &fault);
	(void)sipmsg_peek_call_id(buf, size, &callid);
	free(buf);
	return 0;
}
