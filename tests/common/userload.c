/* tests/common/userload.c - many users through sipedge nodes */
#include "tests/common/userload.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proxy/sip/hdr.h"
#include "proxy/sip/msg.h"
#include "tests/common/ms.h"
#include "tests/common/proc.h"
#include "tests/common/sipp.h"

static const char *ul_dir;
static struct sipcli_msg *ul_rx;
static char *ul_screen;

void userload_init(const char *dir)
{
	ul_dir = dir;
	ul_rx = calloc(1, sizeof(*ul_rx));
	cr_assert_not_null(ul_rx);
	ul_screen = NULL;
}

void userload_fini(void)
{
	free(ul_rx);
	ul_rx = NULL;
	free(ul_screen);
	ul_screen = NULL;
}

struct sipcli_msg *userload_rx(void)
{
	return ul_rx;
}

uint16_t userload_free_port(void)
{
	uint16_t p;

	cr_assert_eq(proc_free_port("127.0.0.1", &p), 0);
	return p;
}

int userload_udp_open(uint16_t port, uint16_t *portp)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port) };
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int size = 4 << 20;

	cr_assert_geq(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0,
		     "bind %u: %s", port, strerror(errno));
	getsockname(fd, (struct sockaddr *)&a, &alen);
	if (portp)
		*portp = ntohs(a.sin_port);
	return fd;
}

void userload_udp_send(int fd, uint16_t port, const char *buf, size_t len)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port) };

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	cr_assert_eq(sendto(fd, buf, len, 0, (struct sockaddr *)&a, sizeof(a)),
		     (ssize_t)len);
}

int userload_udp_recv(int fd, int ms, uint16_t *fromp)
{
	struct pollfd p = { fd, POLLIN, 0 };
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	ssize_t n;

	if (poll(&p, 1, ms) <= 0)
		return -ETIMEDOUT;
	n = recvfrom(fd, ul_rx->buf, sizeof(ul_rx->buf) - 1, 0,
		     (struct sockaddr *)&a, &alen);
	if (n <= 0)
		return -EIO;
	ul_rx->len = (size_t)n;
	ul_rx->buf[n] = '\0';
	if (fromp)
		*fromp = ntohs(a.sin_port);
	memset(&ul_rx->m, 0, sizeof(ul_rx->m));
	ul_rx->parse_err = sipmsg_parse(&ul_rx->m, ul_rx->buf, ul_rx->len,
					ul_rx->hdrs, SIPCLI_MAX_HDRS, 0);
	return ul_rx->parse_err < 0 ? -EBADMSG : 0;
}

pid_t userload_register(uint16_t port, unsigned from, unsigned to,
			uint16_t lport, unsigned rate, const char *name)
{
	char scenario[PATH_MAX], target[64], lp[16], count[16], r[16];
	char csv[PROC_PATH_MAX], file[64];
	size_t cap = (size_t)(to - from) * 32 + 32, o = 0;
	char *text = malloc(cap);

	cr_assert_not_null(text);
	o += (size_t)snprintf(text, cap, "SEQUENTIAL\n");
	for (unsigned i = from; i < to; i++)
		o += (size_t)snprintf(text + o, cap - o, "u%u;localhost;\n", i);
	snprintf(file, sizeof(file), "%s.csv", name);
	cr_assert_eq(proc_write_file(ul_dir, file, text, csv, sizeof(csv)), 0);
	free(text);
	cr_assert_not_null(realpath(USERLOAD_SCEN_REG, scenario),
			   "%s not found", USERLOAD_SCEN_REG);
	snprintf(target, sizeof(target), "127.0.0.1:%u", port);
	snprintf(lp, sizeof(lp), "%u", lport);
	snprintf(count, sizeof(count), "%u", to - from);
	snprintf(r, sizeof(r), "%u", rate);
	{
		char *argv[] = { "sipp",
				 target,
				 "-sf",
				 scenario,
				 "-inf",
				 csv,
				 "-m",
				 count,
				 "-r",
				 r,
				 "-rp",
				 "1000",
				 "-l",
				 "500",
				 "-t",
				 "u1",
				 "-i",
				 "127.0.0.1",
				 "-p",
				 lp,
				 "-timeout",
				 "60s",
				 "-timeout_error",
				 "-nostdin",
				 NULL };

		return sipp_spawn(argv, ul_dir, name);
	}
}

void userload_sipp_call(uint16_t port, unsigned user, uint16_t uas_port)
{
	char uas_scen[PATH_MAX], uac_scen[PATH_MAX], target[64], up[16];
	char service[16], out[PROC_PATH_MAX], st[32];
	pid_t uas;
	int status = 0;

	cr_assert_not_null(
	    realpath("tests/integration/sipp/uas_call.xml", uas_scen));
	cr_assert_not_null(
	    realpath("tests/integration/sipp/uac_call.xml", uac_scen));
	snprintf(target, sizeof(target), "127.0.0.1:%u", port);
	snprintf(up, sizeof(up), "%u", uas_port);
	snprintf(service, sizeof(service), "u%u", user);
	snprintf(out, sizeof(out), "%s/uas.out", ul_dir);
	{
		char *argv[] = { "sipp",     "-sf",	  uas_scen,
				 "-i",	     "127.0.0.1", "-p",
				 up,	     "-m",	  "1",
				 "-t",	     "u1",	  "-nostdin",
				 "-timeout", "30s",	  "-timeout_error",
				 NULL };

		cr_assert_eq(proc_spawn(argv, ul_dir, out, out, &uas), 0);
		cr_assert_eq(proc_wait_bound(uas_port, false, 10000), 0,
			     "the callee never bound port %u", uas_port);
	}
	snprintf(out, sizeof(out), "%s/uac.out", ul_dir);
	{
		char *argv[] = { "sipp",
				 target,
				 "-sf",
				 uac_scen,
				 "-s",
				 service,
				 "-key",
				 "domain",
				 "localhost",
				 "-i",
				 "127.0.0.1",
				 "-m",
				 "1",
				 "-t",
				 "u1",
				 "-nostdin",
				 "-timeout",
				 "30s",
				 "-timeout_error",
				 "-recv_timeout",
				 "10000",
				 NULL };

		cr_assert_eq(proc_run(argv, ul_dir, out, out, 40000, &status),
			     0);
	}
	free(ul_screen);
	ul_screen = NULL;
	proc_read_file(out, &ul_screen);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "sipp uac ended with %s; ul_screen: %.1500s",
		  proc_status_str(status, st, sizeof(st)),
		  ul_screen ? ul_screen : "");
	cr_assert_eq(proc_wait(uas, 30000, &status), 0);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "sipp uas ended with %s",
		  proc_status_str(status, st, sizeof(st)));
}

void userload_reg_done(pid_t pid, const char *name)
{
	sipp_done(pid, 90000, ul_dir, name, &ul_screen);
}

int userload_bindings(int fd, uint16_t port, unsigned user, uint16_t cport)
{
	static unsigned seq;
	char req[1024], want[64], cid[64];
	long t0 = ms_now(), last = t0;
	int n, found;

	snprintf(cid, sizeof(cid), "q%u.%u@test", (unsigned)getpid(), ++seq);
	n = snprintf(req, sizeof(req),
		     "REGISTER sip:localhost SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP 127.0.0.1;rport;branch=z9hG4bKq%u\r\n"
		     "Max-Forwards: 70\r\n"
		     "From: <sip:u%u@localhost>;tag=q%u\r\n"
		     "To: <sip:u%u@localhost>\r\n"
		     "Call-ID: %s\r\n"
		     "CSeq: 1 REGISTER\r\n"
		     "Content-Length: 0\r\n\r\n",
		     seq, user, seq, user, cid);
	snprintf(want, sizeof(want), "<sip:u%u@127.0.0.1:%u>", user, cport);
	userload_udp_send(fd, port, req, (size_t)n);
	while (ms_now() - t0 < 3000) {
		if (userload_udp_recv(fd, 100, NULL) < 0) {
			if (ms_now() - last >= 500) {
				userload_udp_send(fd, port, req, (size_t)n);
				last = ms_now();
			}
			continue;
		}
		if (ul_rx->m.is_request || ul_rx->m.status != 200 ||
		    !sipcli_is_call_id(ul_rx, cid))
			continue;
		found = 0;
		for (const struct siphdr *h =
			 sipmsg_hdr(&ul_rx->m, HDR_CONTACT);
		     h; h = sipmsg_hdr_next(&ul_rx->m, h)) {
			if (h->value.len < strlen(want) ||
			    memcmp(h->value.p, want, strlen(want)) != 0)
				return -1;
			found++;
		}
		return found;
	}
	return -ETIMEDOUT;
}

unsigned userload_wait_bound(uint16_t port, unsigned from, unsigned to,
			     uint16_t cport, long ms)
{
	unsigned char *ok = calloc(to - from, 1);
	unsigned missing = to - from;
	long t0 = ms_now();
	int fd = userload_udp_open(0, NULL);

	cr_assert_not_null(ok);
	/* Bounded by @p ms; each pass asks only the missing ones. */
	while (missing && ms_now() - t0 < ms) {
		for (unsigned u = from; u < to; u++) {
			if (ok[u - from])
				continue;
			if (userload_bindings(fd, port, u, cport) == 1) {
				ok[u - from] = 1;
				missing--;
			} else {
				/* Not there yet: the rest likely neither. */
				break;
			}
		}
		if (missing)
			ms_sleep(50);
	}
	close(fd);
	free(ok);
	return missing;
}

bool userload_wait_unbound(uint16_t port, unsigned user, uint16_t cport,
			   long ms)
{
	int fd = userload_udp_open(0, NULL), n = -1;
	long t0 = ms_now();

	while (ms_now() - t0 < ms) {
		n = userload_bindings(fd, port, user, cport);
		if (n == 0)
			break;
		ms_sleep(50);
	}
	close(fd);
	return n == 0;
}

bool userload_call_reaches(uint16_t port, unsigned user, int uas,
			   uint16_t uas_port)
{
	static unsigned seq;
	char req[2048], resp486[4096], want[96], cid[64], to_tag[64];
	uint16_t caller_port, proxy_port = 0;
	int caller = userload_udp_open(0, &caller_port), n;
	bool reached = false, answered = false;
	long t0;

	snprintf(cid, sizeof(cid), "c%u.%u@test", (unsigned)getpid(), ++seq);
	n = snprintf(req, sizeof(req),
		     "INVITE sip:u%u@localhost SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP 127.0.0.1:%u;rport;branch=z9hG4bKc%u\r\n"
		     "Max-Forwards: 70\r\n"
		     "From: <sip:caller@localhost>;tag=c%u\r\n"
		     "To: <sip:u%u@localhost>\r\n"
		     "Call-ID: %s\r\n"
		     "CSeq: 1 INVITE\r\n"
		     "Contact: <sip:caller@127.0.0.1:%u>\r\n"
		     "Content-Length: 0\r\n\r\n",
		     user, caller_port, seq, seq, user, cid, caller_port);
	userload_udp_send(caller, port, req, (size_t)n);
	snprintf(want, sizeof(want), "sip:u%u@127.0.0.1:%u", user, uas_port);
	/* The UA: the INVITE of this call, then 486 back to the proxy. */
	for (t0 = ms_now(); !reached && ms_now() - t0 < 3000;) {
		if (userload_udp_recv(uas, 100, &proxy_port) < 0 ||
		    !ul_rx->m.is_request || ul_rx->m.method != SIP_INVITE ||
		    !sipcli_is_call_id(ul_rx, cid))
			continue;
		reached = slice_eq(ul_rx->m.ruri, slice_cstr(want));
		if (!reached)
			break;
		size_t o = (size_t)snprintf(resp486, sizeof(resp486),
					    "SIP/2.0 486 Busy Here\r\n");
		for (const struct siphdr *h = sipmsg_hdr(&ul_rx->m, HDR_VIA); h;
		     h = sipmsg_hdr_next(&ul_rx->m, h))
			o += (size_t)snprintf(resp486 + o, sizeof(resp486) - o,
					      "Via: %.*s\r\n",
					      (int)h->value.len, h->value.p);
		sipcli_hdr_str(ul_rx, HDR_FROM, req, sizeof(req));
		o += (size_t)snprintf(resp486 + o, sizeof(resp486) - o,
				      "From: %s\r\n", req);
		sipcli_hdr_str(ul_rx, HDR_TO, req, sizeof(req));
		o += (size_t)snprintf(resp486 + o, sizeof(resp486) - o,
				      "To: %s;tag=uas%u\r\nCall-ID: %s\r\n"
				      "CSeq: 1 INVITE\r\n"
				      "Content-Length: 0\r\n\r\n",
				      req, seq, cid);
		userload_udp_send(uas, proxy_port, resp486, o);
	}
	/* The caller: 486 (after any 100), then the ACK. */
	for (t0 = ms_now(); reached && ms_now() - t0 < 3000;) {
		if (userload_udp_recv(caller, 100, NULL) < 0 ||
		    ul_rx->m.is_request || !sipcli_is_call_id(ul_rx, cid) ||
		    ul_rx->m.status < 200)
			continue;
		answered = ul_rx->m.status == 486;
		snprintf(to_tag, sizeof(to_tag), "%.*s",
			 (int)ul_rx->m.to_tag.len, ul_rx->m.to_tag.p);
		n = snprintf(req, sizeof(req),
			     "ACK sip:u%u@localhost SIP/2.0\r\n"
			     "Via: SIP/2.0/UDP 127.0.0.1:%u;rport;"
			     "branch=z9hG4bKc%u\r\n"
			     "Max-Forwards: 70\r\n"
			     "From: <sip:caller@localhost>;tag=c%u\r\n"
			     "To: <sip:u%u@localhost>;tag=%s\r\n"
			     "Call-ID: %s\r\n"
			     "CSeq: 1 ACK\r\n"
			     "Content-Length: 0\r\n\r\n",
			     user, caller_port, seq, seq, user, to_tag, cid);
		userload_udp_send(caller, port, req, (size_t)n);
		break;
	}
	close(caller);
	return reached && answered;
}

unsigned userload_calls(uint16_t port, unsigned from, unsigned to,
			uint16_t uas_port)
{
	int uas = userload_udp_open(uas_port, NULL);
	unsigned ok = 0, span = to - from;

	for (unsigned i = 0; i < USERLOAD_SAMPLE; i++)
		ok += userload_call_reaches(port, from + (i * 7919u) % span,
					    uas, uas_port);
	close(uas);
	return ok;
}

int userload_register_one(uint16_t port, unsigned user, const char *contact,
			  const char *expires)
{
	static unsigned seq;
	char req[1024], cid[64];
	int fd = userload_udp_open(0, NULL), n, st = -ETIMEDOUT;
	long t0 = ms_now();

	snprintf(cid, sizeof(cid), "r%u.%u@test", (unsigned)getpid(), ++seq);
	n = snprintf(req, sizeof(req),
		     "REGISTER sip:localhost SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP 127.0.0.1;rport;branch=z9hG4bKr%u\r\n"
		     "Max-Forwards: 70\r\n"
		     "From: <sip:u%u@localhost>;tag=r%u\r\n"
		     "To: <sip:u%u@localhost>\r\n"
		     "Call-ID: %s\r\n"
		     "CSeq: 1 REGISTER\r\n"
		     "Contact: <%s>;expires=%s\r\n"
		     "Content-Length: 0\r\n\r\n",
		     seq, user, seq, user, cid, contact, expires);
	userload_udp_send(fd, port, req, (size_t)n);
	while (ms_now() - t0 < 3000) {
		if (userload_udp_recv(fd, 200, NULL) < 0) {
			userload_udp_send(fd, port, req, (size_t)n);
			continue;
		}
		if (!ul_rx->m.is_request && ul_rx->m.status >= 200 &&
		    sipcli_is_call_id(ul_rx, cid)) {
			st = (int)ul_rx->m.status;
			break;
		}
	}
	close(fd);
	return st;
}
