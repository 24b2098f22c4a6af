/* tests/unit/poolfix.c - the test's end of a B2B pool worker's socket */
#include "tests/unit/poolfix.h"

#include <criterion/criterion.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "features/b2b/pool.h"

const char *poolfix_recv(int fd, int ms)
{
	static char buf[8192];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	buf[0] = '\0';
	if (poll(&p, 1, ms) != 1)
		return buf;
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

const char *poolfix_line(const char *msg, const char *name, char *out,
			 size_t size)
{
	const char *p = strstr(msg, name);
	size_t n;

	cr_assert_not_null(p, "no %s in:\n%s", name, msg);
	n = strcspn(p, "\r\n");
	cr_assert_lt(n, size);
	memcpy(out, p, n);
	out[n] = '\0';
	return out;
}

void poolfix_send(struct pool *pool, int fd, const char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t alen;

	cr_assert_eq(pool_sockaddr(pool, &ss, &alen), 0);
	cr_assert_eq(sendto(fd, buf, len, 0, (struct sockaddr *)&ss, alen),
		     (ssize_t)len);
}
