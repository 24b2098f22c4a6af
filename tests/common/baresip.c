/* tests/common/baresip.c - integration harness: Debian's baresip as a real
 * softphone, headless, driven over its ctrl_tcp socket */
#include "tests/common/baresip.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Nobody holds 127.0.0.1:@p port over UDP or TCP: a bind says so. */
static bool port_free(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	bool ok = true;

	a.sin_port = htons(port);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	for (int k = 0; k < 2 && ok; k++) {
		int fd = socket(AF_INET, k ? SOCK_STREAM : SOCK_DGRAM, 0);

		ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
		if (fd >= 0)
			close(fd);
	}
	return ok;
}

/* A port nobody holds, whose +1 (baresip's TLS listener) is free too. */
static int two_ports(uint16_t *portp)
{
	for (int i = 0; i < 50; i++) {
		uint16_t p;
		int err = proc_free_port("127.0.0.1", &p);

		if (err)
			return err;
		if (p < 65535 && port_free(p) && port_free((uint16_t)(p + 1))) {
			*portp = p;
			return 0;
		}
	}
	return -EADDRINUSE;
}

static int connect_ctrl(struct baresip *b)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int64_t end = now_ms() + 10000;

	a.sin_port = htons(b->ctrl_port);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	while (now_ms() < end) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
			b->ctrl = fd;
			return 0;
		}
		close(fd);
		/* baresip is still starting: try again shortly. */
		nanosleep(&ts, NULL);
	}
	return -ETIMEDOUT;
}

static int start(struct baresip *b, const char *parent, const char *user,
		 const char *domain, const char *password, uint16_t proxy_port,
		 const char *transport, const char *cafile,
		 const char *certfile)
{
	char text[4096], path[PROC_PATH_MAX], ca[2 * PROC_PATH_MAX + 40] = "";
	const char *tp = strcmp(transport, "tcp") == 0	 ? ";transport=tcp"
			 : strcmp(transport, "tls") == 0 ? ";transport=tls"
							 : "";
	char *argv[] = { "baresip", "-s", "-f", b->dir, NULL };
	int n, err;

	b->pid = 0;
	b->ctrl = -1;
	b->rbuf = NULL;
	b->rlen = 0;
	n = snprintf(b->dir, sizeof(b->dir), "%s/baresip-%s", parent, user);
	if (n < 0 || (size_t)n >= sizeof(b->dir))
		return -ENAMETOOLONG;
	snprintf(b->out, sizeof(b->out), "%s/out.txt", b->dir);
	if (mkdir(b->dir, 0700) && errno != EEXIST)
		return -errno;
	err = two_ports(&b->sip_port);
	/* Not the SIP port + 1, which baresip takes for TLS. */
	for (int i = 0; !err; i++) {
		err = proc_free_port("127.0.0.1", &b->ctrl_port);
		if (err || b->ctrl_port != b->sip_port + 1)
			break;
		if (i == 50)
			err = -EADDRINUSE;
	}
	if (err)
		return err;
	if (cafile)
		snprintf(ca, sizeof(ca), "sip_cafile %s\n%s%s%s", cafile,
			 certfile ? "sip_certificate " : "",
			 certfile ? certfile : "", certfile ? "\n" : "");
	/* Opus at 48 kHz: ausine makes only 48 kHz (not G.711's 8). */
	n = snprintf(text, sizeof(text),
		     "poll_method epoll\n"
		     "sip_listen 127.0.0.1:%u\n"
		     "audio_player aufile,%s/play.wav\n"
		     "audio_alert aufile,%s/alert.wav\n"
		     "audio_source ausine,440\n"
		     "module_path /usr/lib/baresip/modules\n"
		     "module opus.so\n"
		     "module ausine.so\n"
		     "module aufile.so\n"
		     "module_tmp uuid.so\n"
		     "module_tmp account.so\n"
		     "module_app menu.so\n"
		     "module_app ctrl_tcp.so\n"
		     "ctrl_tcp_listen 127.0.0.1:%u\n"
		     "%s",
		     b->sip_port, b->dir, b->dir, b->ctrl_port, ca);
	if (n < 0 || (size_t)n >= sizeof(text))
		return -ENOSPC;
	err = proc_write_file(b->dir, "config", text, path, sizeof(path));
	if (err)
		return err;
	n = snprintf(text, sizeof(text),
		     "<sip:%s@%s%s>;auth_pass=%s;"
		     "outbound=\"sip:127.0.0.1:%u%s\";regint=300;"
		     "answermode=auto\n",
		     user, domain, tp, password, proxy_port, tp);
	if (n < 0 || (size_t)n >= sizeof(text))
		return -ENOSPC;
	err = proc_write_file(b->dir, "accounts", text, path, sizeof(path));
	if (err)
		return err;
	err = proc_spawn(argv, b->dir, b->out, b->out, &b->pid);
	if (err)
		return err;
	return connect_ctrl(b);
}

int baresip_start(struct baresip *b, const char *parent, const char *user,
		  const char *domain, const char *password, uint16_t proxy_port,
		  const char *transport)
{
	return start(b, parent, user, domain, password, proxy_port, transport,
		     NULL, NULL);
}

int baresip_start_tls(struct baresip *b, const char *parent, const char *user,
		      const char *domain, const char *password,
		      uint16_t proxy_port, const char *cafile,
		      const char *certfile)
{
	return start(b, parent, user, domain, password, proxy_port, "tls",
		     cafile, certfile);
}

/* Read what ctrl_tcp sent, waiting at most @p ms. */
static int ctrl_read(struct baresip *b, int ms)
{
	struct pollfd p = { .fd = b->ctrl, .events = POLLIN };
	char buf[8192];
	ssize_t n;
	char *nb;

	if (poll(&p, 1, ms < 0 ? 0 : ms) <= 0)
		return 0;
	n = recv(b->ctrl, buf, sizeof(buf), 0);
	if (n <= 0)
		return n == 0 ? -ECONNRESET : -errno;
	nb = realloc(b->rbuf, b->rlen + (size_t)n + 1);
	if (!nb)
		return -ENOMEM;
	b->rbuf = nb;
	memcpy(b->rbuf + b->rlen, buf, (size_t)n);
	b->rlen += (size_t)n;
	b->rbuf[b->rlen] = '\0';
	return 0;
}

/*
 * The next whole netstring ("LEN:JSON,") into @p out (NUL-ended),
 * consumed; 0 when none is whole yet.
 */
static int next_msg(struct baresip *b, char *out, size_t size)
{
	char *colon, *end;
	unsigned long len;

	if (!b->rlen)
		return 0;
	colon = memchr(b->rbuf, ':', b->rlen);
	if (!colon)
		return 0;
	len = strtoul(b->rbuf, &end, 10);
	if (end != colon)
		return -EPROTO;
	if ((size_t)(colon - b->rbuf) + 1 + len + 1 > b->rlen)
		return 0;
	if (len + 1 > size)
		return -EMSGSIZE;
	memcpy(out, colon + 1, len);
	out[len] = '\0';
	len += (size_t)(colon - b->rbuf) + 2;
	memmove(b->rbuf, b->rbuf + len, b->rlen - len);
	b->rlen -= len;
	return 1;
}

int baresip_cmd(struct baresip *b, const char *cmd, const char *params,
		int timeout_ms)
{
	char json[512], msg[16384], *ns;
	int64_t end = now_ms() + timeout_ms;
	int n, err, kept = 0;
	size_t keep_len = 0;
	char *keep = NULL;

	n = snprintf(json, sizeof(json),
		     "{\"command\":\"%s\",\"params\":\"%s\",\"token\":"
		     "\"sipedge\"}",
		     cmd, params ? params : "");
	if (n < 0 || (size_t)n >= sizeof(json))
		return -ENOSPC;
	ns = malloc((size_t)n + 16);
	if (!ns)
		return -ENOMEM;
	n = sprintf(ns, "%d:%s,", n, json);
	err = send(b->ctrl, ns, (size_t)n, MSG_NOSIGNAL) == n ? 0 : -EIO;
	free(ns);
	/* Events that come first are put back for baresip_wait_event(). */
	while (!err) {
		int got = next_msg(b, msg, sizeof(msg));

		if (got < 0) {
			err = got;
			break;
		}
		if (got == 0) {
			if (now_ms() >= end) {
				err = -ETIMEDOUT;
				break;
			}
			err = ctrl_read(b, (int)(end - now_ms()));
			continue;
		}
		if (strstr(msg, "\"response\":true")) {
			err = strstr(msg, "\"ok\":true") ? 0 : -EIO;
			break;
		}
		n = snprintf(NULL, 0, "%zu:%s,", strlen(msg), msg);
		keep = realloc(keep, keep_len + (size_t)n + 1);
		if (!keep)
			return -ENOMEM;
		sprintf(keep + keep_len, "%zu:%s,", strlen(msg), msg);
		keep_len += (size_t)n;
		kept++;
	}
	if (kept) {
		char *nb = malloc(keep_len + b->rlen + 1);

		if (nb) {
			memcpy(nb, keep, keep_len);
			memcpy(nb + keep_len, b->rbuf, b->rlen);
			nb[keep_len + b->rlen] = '\0';
			free(b->rbuf);
			b->rbuf = nb;
			b->rlen += keep_len;
		}
	}
	free(keep);
	return err;
}

int baresip_wait_event(struct baresip *b, const char *type, int timeout_ms)
{
	char want[96], msg[16384];
	int64_t end = now_ms() + timeout_ms;
	int err = 0;

	snprintf(want, sizeof(want), "\"type\":\"%s\"", type);
	while (!err) {
		int got = next_msg(b, msg, sizeof(msg));

		if (got < 0)
			return got;
		if (got == 0) {
			if (now_ms() >= end)
				return -ETIMEDOUT;
			err = ctrl_read(b, (int)(end - now_ms()));
			continue;
		}
		if (strstr(msg, want))
			return 0;
		if (!strcmp(type, "REGISTER_OK") &&
		    strstr(msg, "\"type\":\"REGISTER_FAIL\""))
			return -EPROTO;
	}
	return err;
}

int baresip_out_count(const struct baresip *b, const char *needle)
{
	char *text = NULL, *p;
	int n = 0, err = proc_read_file(b->out, &text);

	if (err)
		return err;
	for (p = text; (p = strstr(p, needle)); p++)
		n++;
	free(text);
	return n;
}

int baresip_wait_out(const struct baresip *b, const char *needle,
		     int timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;

	for (;;) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };

		if (baresip_out_count(b, needle) > 0)
			return 0;
		if (now_ms() >= end)
			return -ETIMEDOUT;
		/* Polled: baresip says nothing else when it registered. */
		nanosleep(&ts, NULL);
	}
}

void baresip_stop(struct baresip *b)
{
	int status;

	if (b->ctrl >= 0)
		close(b->ctrl);
	b->ctrl = -1;
	if (b->pid > 0) {
		kill(b->pid, SIGTERM);
		if (proc_wait(b->pid, 5000, &status) != 0)
			proc_kill(b->pid);
	}
	b->pid = 0;
	free(b->rbuf);
	b->rbuf = NULL;
	b->rlen = 0;
}
