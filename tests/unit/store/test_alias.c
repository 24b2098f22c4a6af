/* tests/unit/store/test_alias.c - TCP connections by remote address */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>

#include "store/alias.h"

static struct alias *a;

static void setup(void)
{
	cr_assert_eq(alias_new(4096, &a), 0);
}

static void teardown(void)
{
	alias_free(a);
	a = NULL;
}

TestSuite(alias, .init = setup, .fini = teardown, .timeout = 30);

static struct sockaddr_storage v4(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	in->sin_family = AF_INET;
	in->sin_port = htons(port);
	cr_assert_eq(inet_pton(AF_INET, ip, &in->sin_addr), 1);
	return ss;
}

#define SA(ss) ((const struct sockaddr *)&(ss))

Test(alias, finds_by_address_and_port)
{
	struct sockaddr_storage x = v4("192.0.2.1", 40000);
	struct sockaddr_storage y = v4("192.0.2.1", 40001);
	struct sockaddr_storage z = v4("192.0.2.2", 40000);

	cr_assert_eq(alias_find(a, SA(x)), 0);
	cr_assert_eq(alias_set(a, SA(x), 7), 0);
	cr_assert_eq(alias_find(a, SA(x)), 7);
	cr_assert_eq(alias_find(a, SA(y)), 0, "another port");
	cr_assert_eq(alias_find(a, SA(z)), 0, "another address");
	cr_assert_eq(alias_count(a), 1);
}

Test(alias, newest_wins_and_the_older_close_leaves_it)
{
	struct sockaddr_storage x = v4("192.0.2.1", 5060);

	cr_assert_eq(alias_set(a, SA(x), 1), 0);
	cr_assert_eq(alias_set(a, SA(x), 2), 0);
	cr_assert_eq(alias_count(a), 1);
	cr_assert_eq(alias_find(a, SA(x)), 2);
	cr_assert_eq(alias_del(a, SA(x), 1), -ENOENT);
	cr_assert_eq(alias_find(a, SA(x)), 2);
	cr_assert_eq(alias_del(a, SA(x), 2), 0);
	cr_assert_eq(alias_find(a, SA(x)), 0);
	cr_assert_eq(alias_count(a), 0);
}

Test(alias, ipv6_and_bad_input)
{
	struct sockaddr_storage x, u;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&x;

	memset(&x, 0, sizeof(x));
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(5061);
	inet_pton(AF_INET6, "2001:db8::5", &in6->sin6_addr);
	cr_assert_eq(alias_set(a, SA(x), 9), 0);
	cr_assert_eq(alias_find(a, SA(x)), 9);
	memset(&u, 0, sizeof(u));
	u.ss_family = AF_UNIX;
	cr_assert_eq(alias_set(a, SA(u), 3), -EAFNOSUPPORT);
	cr_assert_eq(alias_set(a, SA(x), 0), -EINVAL);
	cr_assert_eq(alias_find(a, SA(u)), 0);
	cr_assert_eq(alias_del(a, SA(u), 3), -ENOENT);
}

static void *churn(void *arg)
{
	unsigned base = (unsigned)(uintptr_t)arg;

	for (unsigned i = 0; i < 20000; i++) {
		struct sockaddr_storage s =
		    v4("10.0.0.1", (uint16_t)(base + (i % 1000)));
		uint64_t id = ((uint64_t)base << 32) | (i + 1);

		alias_set(a, SA(s), id);
		cr_assert_eq(alias_find(a, SA(s)) >> 32, base);
		cr_assert_eq(alias_del(a, SA(s), id), 0);
	}
	return NULL;
}

/* Shards add, find and remove at once, each its own ports. */
Test(alias, threads_at_once)
{
	pthread_t th[4];

	for (unsigned i = 0; i < 4; i++)
		cr_assert_eq(
		    pthread_create(&th[i], NULL, churn,
				   (void *)(uintptr_t)(1000 + i * 1000)),
		    0);
	for (unsigned i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	cr_assert_eq(alias_count(a), 0);
}
