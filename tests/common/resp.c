/* tests/common/resp.c - a tiny blocking RESP client for tests */
#include "tests/common/resp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* One reply at @p p: its text appended to @p out (arrays: elements
 * joined by ' '); the end, or NULL while incomplete. Bounded depth. */
static const char *resp_one(const char *p, const char *end, char *out,
			    size_t *o, size_t cap, int depth)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	long n;

	if (!nl || depth > 4)
		return NULL;
	n = strtol(p + 1, NULL, 10);
	switch (*p) {
	case '+':
	case '-':
	case ':':
		*o += (size_t)snprintf(out + *o, cap - *o, "%.*s",
				       (int)(nl - p - 2), p + 1);
		return nl + 1;
	case '$':
		if (n < 0)
			return nl + 1;
		if (end - (nl + 1) < n + 2)
			return NULL;
		*o += (size_t)snprintf(out + *o, cap - *o, "%.*s", (int)n,
				       nl + 1);
		return nl + 1 + n + 2;
	case '*':
		p = nl + 1;
		for (long i = 0; i < n && p; i++) {
			if (i && *o < cap - 1)
				*o += (size_t)snprintf(out + *o, cap - *o, " ");
			p = resp_one(p, end, out, o, cap, depth + 1);
		}
		return p;
	default:
		return NULL;
	}
}

int resp_cmd(uint16_t port, char *out, size_t cap, const char *const *argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port) };
	struct timeval tv = { 2, 0 };
	char buf[65536];
	size_t len = 0, o = 0;
	int fd, argc = 0, err = -ETIMEDOUT;

	out[0] = '\0';
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		err = -errno;
		goto out;
	}
	while (argv[argc])
		argc++;
	len = (size_t)snprintf(buf, sizeof(buf), "*%d\r\n", argc);
	for (int i = 0; i < argc; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len,
					"$%zu\r\n%s\r\n", strlen(argv[i]),
					argv[i]);
	if (write(fd, buf, len) != (ssize_t)len) {
		err = -EIO;
		goto out;
	}
	len = 0;
	/* Bounded: each read adds bytes, or fails / times out. */
	while (len < sizeof(buf) - 1) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);

		if (n <= 0)
			break;
		len += (size_t)n;
		o = 0;
		if (resp_one(buf, buf + len, out, &o, cap, 0)) {
			err = 0;
			break;
		}
	}
out:
	close(fd);
	return err;
}

int resp_cmd3(uint16_t port, char *out, size_t cap, const char *a,
	      const char *b, const char *c)
{
	const char *argv[] = { a, b, c, NULL };

	return resp_cmd(port, out, cap, argv);
}
