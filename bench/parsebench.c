/* bench/parsebench.c - parser micro-benchmark: messages/s and ns/message */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proxy/sip/msg.h"

/* A typical record-routed INVITE as a carrier edge sees it: two Vias,
 * Record-Route, a Route set, the usual headers and an SDP offer. */
static const char invite[] =
    "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776as"
    "dhds;rport\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKnashds8;received=192"
    ".0.2.10\r\n"
    "Max-Forwards: 69\r\n"
    "Record-Route: <sip:edge1.atlanta.example.com;lr>\r\n"
    "Route: <sip:core.biloxi.example.com;lr>\r\n"
    "To: Bob <sip:bob@biloxi.example.com>\r\n"
    "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:alice@pc33.atlanta.example.com;transport=udp>\r\n"
    "Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, PRACK, UPDATE, REFER\r\n"
    "Supported: 100rel, timer, replaces\r\n"
    "User-Agent: Yealink SIP-T46S 66.86.0.15\r\n"
    "Session-Expires: 1800\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 149\r\n"
    "\r\n"
    "v=0\r\n"
    "o=alice 2890844526 2890844526 IN IP4 pc33.atlanta.example.com\r\n"
    "s=-\r\n"
    "c=IN IP4 192.0.2.101\r\n"
    "t=0 0\r\n"
    "m=audio 49172 RTP/AVP 0\r\n"
    "a=rtpmap:0 PCMU/8000\r\n";

static const char ok200[] =
    "SIP/2.0 200 OK\r\n"
    "Via: SIP/2.0/UDP edge1.atlanta.example.com;branch=z9hG4bK2d4790.1;"
    "received=192.0.2.3\r\n"
    "Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776as"
    "dhds;rport=5060;received=192.0.2.101\r\n"
    "Record-Route: <sip:edge1.atlanta.example.com;lr>\r\n"
    "To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n"
    "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:bob@192.0.2.4>\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run(const char *name, const char *text, size_t len, long n)
{
	struct siphdr hdrs[64];
	struct sipmsg m;
	double t0, c0, wall, cpu;
	long i;
	int ret = 0;
	unsigned long sink = 0;

	/* Check once that the message is valid: a benchmark of the error
	 * path would measure the wrong thing. */
	ret = sipmsg_parse(&m, text, len, hdrs, 64, 0);
	if (ret < 0 || m.fault) {
		fprintf(stderr, "%s: does not parse (%d, %s)\n", name, ret,
			m.fault ? m.fault : "-");
		return 1;
	}
	t0 = now_s();
	c0 = cpu_s();
	for (i = 0; i < n; i++) {
		ret = sipmsg_parse(&m, text, len, hdrs, 64, 0);
		sink += (unsigned long)ret + m.nhdrs;
	}
	cpu = cpu_s() - c0;
	wall = now_s() - t0;
	printf("%-8s %5zu bytes  %9.0f msg/s  %7.1f ns/msg  (%ld msgs, "
	       "%.2f s CPU, check %lu)\n",
	       name, len, (double)n / cpu, cpu * 1e9 / (double)n, n, cpu,
	       sink % 7);
	(void)wall;
	return 0;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 2000000;

	if (n <= 0 || n > 1000000000L) {
		fprintf(stderr, "usage: parsebench [ITERATIONS (1..1e9)]\n");
		return 2;
	}
	printf("parsebench: sipmsg_parse, %ld iterations each, one thread\n",
	       n);
	if (run("INVITE", invite, sizeof(invite) - 1, n) ||
	    run("200-OK", ok200, sizeof(ok200) - 1, n))
		return 1;
	return 0;
}
