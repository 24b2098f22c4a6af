/* tests/unit/proxy/test_rtpe_conf.c - the media: section: off by default,
 * every key, checks with FILE:LINE; routes[].srtp and the trunk it names */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include <criterion/criterion.h>

#include "proxy/core/conf.h"
#include "proxy/proxy_conf.h"
#include "proxy/rtpe.h"
#include "proxy/rtpe_conf.h"
#include "proxy/sip/peer.h"
#include "tests/unit/conftest.h"

static struct conf *c;
static char err[512];

static void setup(void)
{
	conftest_init(&c, err, sizeof(err));
}

static void teardown(void)
{
	conftest_fini();
}

TestSuite(rtpe_conf, .init = setup, .fini = teardown, .timeout = 30);

Test(rtpe_conf, off_by_default_with_the_documented_defaults)
{
	const struct rtpe_conf *m;

	cr_assert_eq(conftest_load("workers: 1\n"), 0, "%s", err);
	m = rtpe_conf(c);
	cr_assert(!m->enabled);
	cr_assert_eq(m->nservers, 0);
	cr_assert_eq(m->timeout_ms, 1000);
	cr_assert_eq(m->retries, 2);
	cr_assert_eq(m->down_s, 10);
	cr_assert(!m->proceed);
	cr_assert_eq(m->flags,
		     RTPE_FLAG_REPLACE_ORIGIN | RTPE_FLAG_TRUST_ADDRESS);
	cr_assert(!rtpe_conf(NULL)->enabled, "no conf: off");
	cr_assert_eq(m->dtmf_addrlen, 0, "dtmf_events: off");
}

Test(rtpe_conf, dtmf_events_is_an_address_and_needs_media)
{
	const struct sockaddr_in *a;

	cr_assert_eq(conftest_load("media:\n"
				   "  enabled: true\n"
				   "  rtpengine:\n"
				   "    - address: 127.0.0.1:2223\n"
				   "  dtmf_events: 127.0.0.1:5099\n"),
		     0, "%s", err);
	a = (const struct sockaddr_in *)&rtpe_conf(c)->dtmf_addr;
	cr_assert_eq(rtpe_conf(c)->dtmf_addrlen, sizeof(*a));
	cr_assert_eq(a->sin_family, AF_INET);
	cr_assert_eq(ntohs(a->sin_port), 5099);
	cr_assert_eq(a->sin_addr.s_addr, htonl(0x7f000001));
	conf_free(c);
	c = NULL;
	conftest_expect_error("media:\n"
			      "  enabled: true\n"
			      "  rtpengine:\n"
			      "    - address: 127.0.0.1:2223\n"
			      "  dtmf_events: sipedge.example:5099\n",
			      "t.yaml:5: ", "DTMF events");
	conftest_expect_error("media:\n"
			      "  dtmf_events: 127.0.0.1\n",
			      "t.yaml:2: ", "DTMF events");
	conftest_expect_error("media:\n"
			      "  dtmf_events: 127.0.0.1:5099\n",
			      "t.yaml: ", "needs media.enabled");
}

Test(rtpe_conf, every_key)
{
	const struct rtpe_conf *m;
	const struct sockaddr_in *a;
	const struct sockaddr_in6 *b;

	cr_assert_eq(conftest_load("media:\n"
				   "  enabled: true\n"
				   "  rtpengine:\n"
				   "    - address: 127.0.0.1:2223\n"
				   "      weight: 3\n"
				   "    - address: 127.0.0.2:2224\n"
				   "  timeout_ms: 250\n"
				   "  retries: 0\n"
				   "  down_s: 30\n"
				   "  on_failure: proceed\n"
				   "  flags: [trust-address, symmetric]\n"),
		     0, "%s", err);
	m = rtpe_conf(c);
	cr_assert(m->enabled);
	cr_assert_eq(m->nservers, 2);
	a = (const struct sockaddr_in *)&m->servers[0].addr;
	cr_assert_eq(a->sin_family, AF_INET);
	cr_assert_eq(ntohs(a->sin_port), 2223);
	cr_assert_eq(m->servers[0].weight, 3);
	cr_assert_eq(m->servers[1].weight, 1, "default weight");
	cr_assert_eq(m->timeout_ms, 250);
	cr_assert_eq(m->retries, 0, "0 is a value");
	cr_assert_eq(m->down_s, 30);
	cr_assert(m->proceed);
	cr_assert_eq(m->flags, RTPE_FLAG_TRUST_ADDRESS | RTPE_FLAG_SYMMETRIC);

	conf_free(c);
	c = NULL;
	cr_assert_eq(conftest_load("media:\n"
				   "  enabled: false\n"
				   "  rtpengine: [{address: \"[::1]:2223\"}]\n"
				   "  flags: []\n"),
		     0, "%s", err);
	m = rtpe_conf(c);
	cr_assert(!m->enabled);
	b = (const struct sockaddr_in6 *)&m->servers[0].addr;
	cr_assert_eq(b->sin6_family, AF_INET6);
	cr_assert_eq(m->flags, 0, "an empty list is no flag");
}

Test(rtpe_conf, faults_name_file_and_line)
{
	conftest_expect_error("media:\n"
			      "  rtpengine:\n"
			      "    - address: rtp.example:2223\n",
			      "t.yaml:3: ", "not an rtpengine ng address");
	conftest_expect_error("media:\n"
			      "  rtpengine:\n"
			      "    - address: 127.0.0.1\n",
			      "t.yaml:3: ", "not an rtpengine ng address");
	conftest_expect_error("media:\n"
			      "  rtpengine:\n"
			      "    - address: 127.0.0.1:1\n"
			      "      weight: 0\n",
			      "t.yaml:4: ", "weight");
	conftest_expect_error("media:\n"
			      "  timeout_ms: 0\n",
			      "t.yaml:2: ", "timeout_ms");
	conftest_expect_error("media:\n"
			      "  retries: 11\n",
			      "t.yaml:2: ", "retries");
	conftest_expect_error("media:\n"
			      "  on_failure: maybe\n",
			      "t.yaml:2: ", "on_failure");
	conftest_expect_error("media:\n"
			      "  flags: [replace-origin, ice-force]\n",
			      "t.yaml:2: ", "not a media flag");
	conftest_expect_error("media:\n"
			      "  rtpengin: []\n",
			      "t.yaml:2: ", "rtpengin");
}

Test(rtpe_conf, relations_between_keys_are_refused)
{
	conftest_expect_error("media:\n"
			      "  enabled: true\n",
			      "t.yaml: ", "lists no rtpengine");
	conftest_expect_error("media:\n"
			      "  flags: [symmetric, asymmetric]\n",
			      "t.yaml: ", "exclude each other");
	conftest_expect_error("media:\n"
			      "  rtpengine:\n"
			      "    - address: 127.0.0.1:1\n"
			      "    - address: \"[::1]:1\"\n",
			      "t.yaml: ", "one family");
	cr_assert_eq(rtpe_conf_flag("replace-origin"),
		     RTPE_FLAG_REPLACE_ORIGIN);
	cr_assert_eq(rtpe_conf_flag("nope"), 0);
}

/* A peer at @p ip:@p port over UDP. */
static struct peer udp_peer(const char *ip, uint16_t port)
{
	struct peer p;
	struct sockaddr_in *a = (struct sockaddr_in *)&p.addr;

	memset(&p, 0, sizeof(p));
	a->sin_family = AF_INET;
	a->sin_port = htons(port);
	cr_assert_eq(inet_pton(AF_INET, ip, &a->sin_addr), 1);
	p.addrlen = sizeof(*a);
	p.proto = PEER_UDP;
	return p;
}

Test(rtpe_conf, routes_srtp_names_the_trunk_by_address_and_port)
{
	struct peer sdes = udp_peer("127.0.0.3", 5080);
	struct peer dtls = udp_peer("127.0.0.4", 5060);
	struct peer other_port = udp_peer("127.0.0.3", 5081);
	struct peer off = udp_peer("127.0.0.5", 5060);

	cr_assert_eq(conftest_load("routes:\n"
				   "  - domain: s.example\n"
				   "    next_hop: [\"sip:127.0.0.3:5080\"]\n"
				   "    srtp: sdes\n"
				   "  - domain: d.example\n"
				   "    next_hop: [\"sip:127.0.0.4\"]\n"
				   "    srtp: dtls\n"
				   "  - domain: o.example\n"
				   "    next_hop: [\"sip:127.0.0.5\"]\n"
				   "    srtp: off\n"
				   "  - domain: n.example\n"
				   "    next_hop: [\"sip:127.0.0.6\"]\n"),
		     0, "%s", err);
	cr_assert_eq(proxy_conf(c)->routes[0].srtp, PROXY_SRTP_SDES);
	cr_assert_eq(proxy_conf(c)->routes[1].srtp, PROXY_SRTP_DTLS);
	cr_assert_eq(proxy_conf(c)->routes[2].srtp, PROXY_SRTP_OFF);
	cr_assert_eq(proxy_conf(c)->routes[3].srtp, PROXY_SRTP_OFF,
		     "off by default");
	cr_assert_eq(rtpe_srtp_to(c, &sdes), RTPE_TO_SDES);
	cr_assert_eq(rtpe_srtp_to(c, &dtls), RTPE_TO_DTLS, "default port");
	cr_assert_eq(rtpe_srtp_to(c, &other_port), RTPE_TO_RTP,
		     "another port of the trunk's host is not the trunk");
	cr_assert_eq(rtpe_srtp_to(c, &off), RTPE_TO_RTP);
}

Test(rtpe_conf, routes_srtp_refuses_other_names)
{
	conftest_expect_error("routes:\n"
			      "  - domain: s.example\n"
			      "    next_hop: [\"sip:127.0.0.3\"]\n"
			      "    srtp: zrtp\n",
			      "t.yaml:4: ", "srtp");
}

/* A fork's branch gets its kind's offer, else the RTP one, else the
 * first made; nothing when none was made. */
Test(rtpe_conf, a_branch_gets_its_kinds_offer_else_rtp_else_the_first)
{
	struct rtpe_offers o;
	struct slice s;

	memset(&o, 0, sizeof(o));
	s = rtpe_offers_pick(&o, RTPE_TO_WEBRTC);
	cr_assert_eq(s.len, 0);
	o.sdp[RTPE_TO_WEBRTC] = SLICE_LIT("webrtc");
	o.sdp[RTPE_TO_DTLS] = SLICE_LIT("dtls");
	cr_assert(
	    slice_eq(rtpe_offers_pick(&o, RTPE_TO_DTLS), SLICE_LIT("dtls")));
	/* No RTP offer: the first made. */
	cr_assert(
	    slice_eq(rtpe_offers_pick(&o, RTPE_TO_SDES), SLICE_LIT("webrtc")));
	o.sdp[RTPE_TO_RTP] = SLICE_LIT("rtp");
	cr_assert(
	    slice_eq(rtpe_offers_pick(&o, RTPE_TO_SDES), SLICE_LIT("rtp")));
	cr_assert(slice_eq(rtpe_offers_pick(&o, RTPE_TO_WEBRTC),
			   SLICE_LIT("webrtc")));
	cr_assert_eq(rtpe_offers_pick(&o, RTPE_TO__COUNT).len, 0);
}
