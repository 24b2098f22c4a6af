/* tests/common/mgmtcli.c - integration harness: a small HTTP client for the
 * management API */
#include "tests/common/mgmtcli.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MGMTCLI_TIMEOUT_MS 10000

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read until the peer closes; bounded by @p deadline. */
static int recv_all(int fd, int64_t deadline, char **outp, size_t *lenp)
{
	size_t len = 0, cap = 8192;
	char *buf = malloc(cap), *nb;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - now_ms();
		ssize_t r;

		if (left <= 0 || poll(&pfd, 1, (int)left) == 0) {
			free(buf);
			return -ETIMEDOUT;
		}
		if (len + 4096 + 1 > cap) {
			nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		r = recv(fd, buf + len, cap - len - 1, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int err = -errno;

			free(buf);
			return err;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	*outp = buf;
	*lenp = len;
	return 0;
}

/* Undo "Transfer-Encoding: chunked" in place. */
static int unchunk(char *body)
{
	char *in = body, *out = body, *end;
	unsigned long n;

	for (;;) {
		n = strtoul(in, &end, 16);
		if (end == in)
			return -EPROTO;
		in = strstr(end, "\r\n");
		if (!in)
			return -EPROTO;
		in += 2;
		if (n == 0)
			break;
		if (strlen(in) < n)
			return -EPROTO;
		memmove(out, in, n);
		out += n;
		in += n;
		if (strncmp(in, "\r\n", 2))
			return -EPROTO;
		in += 2;
	}
	*out = '\0';
	return 0;
}

int mgmtcli_http(uint16_t port, const char *method, const char *path,
		 const char *token, const char *body, unsigned *status,
		 char **resp)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(port) };
	int64_t deadline = now_ms() + MGMTCLI_TIMEOUT_MS;
	char head[1024], *all = NULL, *sep, *payload;
	size_t len;
	int fd, err, n;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	n = snprintf(head, sizeof(head),
		     "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
		     "Connection: close\r\n%s%s%s"
		     "Content-Type: application/json\r\n"
		     "Content-Length: %zu\r\n\r\n",
		     method, path, port, token ? "Authorization: Bearer " : "",
		     token ? token : "", token ? "\r\n" : "",
		     body ? strlen(body) : 0);
	err = send_all(fd, head, (size_t)n);
	if (!err && body)
		err = send_all(fd, body, strlen(body));
	if (!err)
		err = recv_all(fd, deadline, &all, &len);
	close(fd);
	if (err)
		return err;
	sep = strstr(all, "\r\n\r\n");
	if (strncmp(all, "HTTP/1.", 7) || !sep ||
	    sscanf(all + 8, " %u", status) != 1) {
		free(all);
		return -EPROTO;
	}
	*sep = '\0';
	payload = sep + 4;
	if (strcasestr(all, "\r\nTransfer-Encoding: chunked") &&
	    unchunk(payload) < 0) {
		free(all);
		return -EPROTO;
	}
	*resp = strdup(payload);
	free(all);
	return *resp ? 0 : -ENOMEM;
}

int mgmtcli_rpc(uint16_t port, const char *token, const char *method,
		const char *params, json_t **result, char *why, size_t whylen)
{
	static unsigned next_id;
	char *req, *resp = NULL;
	json_error_t jerr;
	json_t *root, *err_obj;
	unsigned status = 0;
	size_t need;
	int rc;

	need = strlen(method) + (params ? strlen(params) : 0) + 128;
	req = malloc(need);
	if (!req)
		return -ENOMEM;
	snprintf(req, need,
		 "{\"jsonrpc\":\"2.0\",\"method\":\"%s\",%s%s%s\"id\":%u}",
		 method, params ? "\"params\":" : "", params ? params : "",
		 params ? "," : "", ++next_id);
	rc = mgmtcli_http(port, "POST", "/rpc", token, req, &status, &resp);
	free(req);
	if (rc) {
		snprintf(why, whylen, "%s: HTTP request: %s", method,
			 strerror(-rc));
		return rc;
	}
	root = json_loads(resp, 0, &jerr);
	if (status != 200 || !root) {
		snprintf(why, whylen, "%s: HTTP %u: %.300s", method, status,
			 resp);
		free(resp);
		json_decref(root);
		return -EPROTO;
	}
	free(resp);
	err_obj = json_object_get(root, "error");
	if (err_obj) {
		rc = (int)json_integer_value(json_object_get(err_obj, "code"));
		snprintf(
		    why, whylen, "%s: error %d: %s", method, rc,
		    json_string_value(json_object_get(err_obj, "message")));
		json_decref(root);
		return rc < 0 ? rc : -EPROTO;
	}
	*result = json_incref(json_object_get(root, "result"));
	json_decref(root);
	if (!*result) {
		snprintf(why, whylen, "%s: no result", method);
		return -EPROTO;
	}
	return 0;
}

long long mgmtcli_stat(uint16_t port, const char *name)
{
	json_t *res = NULL, *v;
	char why[256];
	long long n;

	cr_assert_eq(
	    mgmtcli_rpc(port, NULL, "stats.get", NULL, &res, why, sizeof(why)),
	    0, "%s", why);
	v = json_object_get(res, name);
	cr_assert(json_is_integer(v), "stats.get has no %s", name);
	n = json_integer_value(v);
	json_decref(res);
	return n;
}
