/* tests/common/rtpe.c - a real rtpengine on loopback for a test */
#include "tests/common/rtpe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/common/proc.h"

int rtpe_start(struct rtpe_proc *r)
{
	return rtpe_start_dtmf(r, NULL);
}

int rtpe_start_dtmf(struct rtpe_proc *r, const char *dest)
{
	char ng[32], pmin[16], pmax[16], pidf[300], dtmf[80];
	int err;

	memset(r, 0, sizeof(*r));
	err = proc_tmpdir(r->dir, sizeof(r->dir));
	if (err)
		return err;
	err = proc_free_port("127.0.0.1", &r->ng_port);
	if (err)
		return err;
	/* Media ports: 100 of them in 40000..59999 by our pid, so parallel
	 * test processes rarely share; rtpengine skips ports in use. */
	r->port_min = (uint16_t)(40000 + (getpid() % 199) * 100);
	r->port_max = (uint16_t)(r->port_min + 99);
	snprintf(ng, sizeof(ng), "127.0.0.1:%u", r->ng_port);
	snprintf(pmin, sizeof(pmin), "%u", r->port_min);
	snprintf(pmax, sizeof(pmax), "%u", r->port_max);
	snprintf(r->log, sizeof(r->log), "%s/rtpengine.log", r->dir);
	snprintf(pidf, sizeof(pidf), "%s/rtpengine.pid", r->dir);
	if (dest)
		snprintf(dtmf, sizeof(dtmf), "--dtmf-log-dest=%s", dest);
	char *argv[] = { "rtpengine",
			 "--config-file=none",
			 "--foreground",
			 "--log-stderr",
			 "--table=-1",
			 "--interface=127.0.0.1",
			 "--listen-ng",
			 ng,
			 "--port-min",
			 pmin,
			 "--port-max",
			 pmax,
			 "--delete-delay=0",
			 "--pidfile",
			 pidf,
			 dest ? dtmf : NULL,
			 NULL };
	err = proc_spawn(argv, r->dir, r->log, r->log, &r->pid);
	if (err)
		return err;
	err = proc_wait_bound(r->ng_port, false, 5000);
	if (err) {
		proc_kill(r->pid);
		r->pid = 0;
	}
	return err;
}

void rtpe_stop(struct rtpe_proc *r)
{
	int status;

	if (r->pid > 0) {
		kill(r->pid, SIGTERM);
		if (proc_wait(r->pid, 3000, &status) != 0)
			proc_kill(r->pid);
		r->pid = 0;
	}
	if (r->dir[0])
		proc_rmtree(r->dir);
	r->dir[0] = '\0';
}

int rtpe_ng(uint16_t port, const char *dict, size_t len, char *out, size_t size,
	    int timeout_ms)
{
	struct sockaddr_in to = { .sin_family = AF_INET,
				  .sin_port = htons(port) };
	char msg[65536], in[65536];
	int fd, n, ret = -ETIMEDOUT;
	static unsigned seq;
	struct pollfd p;
	size_t hl;

	if (len + 32 > sizeof(msg) || size == 0)
		return -EINVAL;
	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	n = snprintf(msg, sizeof(msg), "t%u-%u ", (unsigned)getpid(), ++seq);
	hl = (size_t)n;
	memcpy(msg + hl, dict, len);
	if (sendto(fd, msg, hl + len, 0, (struct sockaddr *)&to, sizeof(to)) <
	    0) {
		ret = -errno;
		goto out;
	}
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	while (poll(&p, 1, timeout_ms) == 1) {
		ssize_t got = recv(fd, in, sizeof(in), 0);

		if (got < (ssize_t)hl || memcmp(in, msg, hl) != 0)
			continue; /* not ours: bounded by the poll timeout */
		got -= (ssize_t)hl;
		if ((size_t)got >= size)
			got = (ssize_t)size - 1;
		memcpy(out, in + hl, (size_t)got);
		out[got] = '\0';
		ret = (int)got;
		break;
	}
out:
	close(fd);
	return ret;
}
