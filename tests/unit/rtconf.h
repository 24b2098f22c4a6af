/* tests/unit/rtconf.h - the runtime config the suites that start shards
 * begin from */
#pragma once

struct conf;

/**
 * Zero @p cf, then set what starting @p workers shards needs, with the
 * limits these suites share: log_level LOG_WARN, tcp.max_connections 64,
 * tcp.idle_timeout_s 120, tcp.max_header_bytes 4096, tcp.max_body_bytes
 * 8192, udp.batch 8, max_headers 128, server_name "sipedge-test". No
 * listeners. A suite then changes what it tests.
 * Thread: the test's.
 */
void rtconf_init(struct conf *cf, unsigned workers);
