/* tests/unit/rtconf.c - the runtime config the suites that start shards
 * begin from */
#include "tests/unit/rtconf.h"

#include <string.h>

#include "proxy/base/log.h"
#include "proxy/core/conf.h"

void rtconf_init(struct conf *cf, unsigned workers)
{
	memset(cf, 0, sizeof(*cf));
	cf->workers = workers;
	cf->log_level = LOG_WARN;
	cf->tcp.max_connections = 64;
	cf->tcp.idle_timeout_s = 120;
	cf->tcp.max_header_bytes = 4096;
	cf->tcp.max_body_bytes = 8192;
	cf->udp.batch = 8;
	/* The suites count hand-offs; steering has its own tests
	 * (shard/udp_steered_*, tests/integration/test_steering.c). */
	cf->udp.steering = STEER_OFF;
	cf->max_headers = 128;
	cf->server_name = "sipedge-test";
}
