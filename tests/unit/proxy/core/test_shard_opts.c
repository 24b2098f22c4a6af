/* tests/unit/proxy/core/test_shard_opts.c - shards_start_opts(): a second
 * group of shards with its own listeners, name and counters */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "proxy/base/log.h"
#include "proxy/base/stats.h"
#include "proxy/core/conf.h"
#include "proxy/core/shard.h"
#include "proxy/sip/peer.h"
#include "tests/common/ms.h"
#include "tests/common/proc.h"
#include "tests/common/teardown.h"
#include "tests/unit/rtconf.h"

#define WAIT_MS 5000

static struct conf cf;
static struct shards *a, *b;
static atomic_uint handled;

static int role_new(struct shard *sh, uint64_t now_ms, void **statep)
{
	(void)sh;
	(void)now_ms;
	*statep = NULL;
	return 0;
}

static void role_free(void *state)
{
	(void)state;
}

static void role_handle(struct shard *sh, const struct peer *from,
			const char *buf, size_t len)
{
	(void)sh;
	(void)from;
	(void)buf;
	(void)len;
	atomic_fetch_add(&handled, 1);
}

static const struct shard_role count_role = {
	.name = "count",
	.new_state = role_new,
	.free_state = role_free,
	.handle = role_handle,
};

/* A UDP-only loopback listener on @p port (0: a free one at start). */
static void listener(struct conf_listen *l, uint16_t port, bool tcp)
{
	memset(l, 0, sizeof(*l));
	l->address = "127.0.0.1";
	l->port = port;
	l->udp = true;
	l->tcp = tcp;
	cr_assert_eq(peer_addr_parse("127.0.0.1", port, &l->addr, &l->addrlen),
		     0);
}

static void init(void)
{
	log_set_level(LOG_ERR);
	rtconf_init(&cf, 2);
	a = b = NULL;
	atomic_store(&handled, 0);
}

static void fini(void)
{
	shards_stop(b);
	shards_stop(a);
	a = b = NULL;
	teardown_check_objs(0);
}

TestSuite(shard_opts, .init = init, .fini = fini, .timeout = 30);

Test(shard_opts, refuses_bad_options)
{
	struct conf_listen l;
	struct shards_opts o = { .conf = &cf, .role = &count_role };

	listener(&l, 0, true);
	o.listen = &l;
	o.nlisten = 1;
	cr_assert_eq(shards_start_opts(&o, &a), -EINVAL); /* tcp, port 0 */
	listener(&l, 0, false);
	o.nlisten = 0;
	cr_assert_eq(shards_start_opts(&o, &a), -EINVAL);
	o.nlisten = 1;
	o.name = "a-name-too-long";
	cr_assert_eq(shards_start_opts(&o, &a), -EINVAL);
	o.name = "";
	cr_assert_eq(shards_start_opts(&o, &a), -EINVAL);
	o.name = "g";
	o.workers = 100000;
	cr_assert_eq(shards_start_opts(&o, &a), -EINVAL);
	o.workers = 1;
	o.role = NULL;
	cr_assert_eq(shards_start_opts(&o, &a), -EINVAL);
	cr_assert_eq(shards_start_opts(NULL, &a), -EINVAL);
	cr_assert_null(a);
	cr_assert_eq(shards_listen_addr(NULL, 0, &l.addr, &l.addrlen), -EINVAL);
}

Test(shard_opts, port_zero_is_one_free_port_for_every_shard)
{
	struct conf_listen l;
	struct shards_opts o = { .conf = &cf,
				 .role = &count_role,
				 .workers = 3,
				 .listen = &l,
				 .nlisten = 1,
				 .name = "grp",
				 .no_hooks = true };
	struct sockaddr_storage ss;
	socklen_t len;
	uint16_t port;
	int fd;

	listener(&l, 0, false);
	cr_assert_eq(shards_start_opts(&o, &a), 0);
	cr_assert_eq(shards_count(a), 3);
	cr_assert_eq(shards_listen_addr(a, 0, &ss, &len), 0);
	cr_assert_eq(shards_listen_addr(a, 1, &ss, &len), -EINVAL);
	port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	cr_assert_gt(port, 0);
	/* The caller's listener is copied, not changed. */
	cr_assert_eq(l.port, 0);
	/* The group holds it: a socket without SO_REUSEPORT cannot bind. */
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	cr_assert_neq(bind(fd, (struct sockaddr *)&ss, len), 0);
	cr_assert_eq(errno, EADDRINUSE);
	/* And receives on it: from several source ports, so that the
	 * kernel spreads them over the shards' sockets. */
	for (int i = 0; i < 16; i++) {
		int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		cr_assert_eq(
		    sendto(s, "X\r\n\r\n", 5, 0, (struct sockaddr *)&ss, len),
		    5);
		close(s);
	}
	close(fd);
	for (int i = 0; i < WAIT_MS && atomic_load(&handled) < 16; i++)
		ms_sleep(1);
	cr_assert_eq(atomic_load(&handled), 16);
}

/* Instances registered per module. */
static atomic_uint inst_shard, inst_second;

static void each(void *ctx, const struct stats_source *src, unsigned inst,
		 const uint64_t *values, const struct stats_hist *hists)
{
	(void)ctx;
	(void)inst;
	(void)values;
	(void)hists;
	if (strcmp(src->module, "shard") == 0)
		atomic_fetch_add(&inst_shard, 1);
	else if (strcmp(src->module, "second") == 0)
		atomic_fetch_add(&inst_second, 1);
}

Test(shard_opts, two_groups_run_side_by_side_with_their_own_counters)
{
	struct conf_listen la, lb;
	uint16_t pa;
	struct shards_opts oa = { .conf = &cf, .role = &count_role };
	struct shards_opts ob = { .conf = &cf,
				  .role = &count_role,
				  .workers = 1,
				  .listen = &lb,
				  .nlisten = 1,
				  .name = "second",
				  .no_hooks = true };
	struct shards *c2 = NULL;

	cr_assert_eq(proc_free_port("127.0.0.1", &pa), 0);
	listener(&la, pa, true);
	cf.listen = &la;
	cf.nlisten = 1;
	listener(&lb, 0, false);
	cr_assert_eq(shards_start_opts(&oa, &a), 0);
	cr_assert_eq(shards_count(a), 2);
	cr_assert_eq(shards_start_opts(&ob, &b), 0);
	cr_assert_eq(shards_count(b), 1);
	/* Each group's counters under its own module. */
	stats_foreach(each, NULL);
	cr_assert_eq(atomic_load(&inst_shard), 2);
	cr_assert_eq(atomic_load(&inst_second), 1);
	/* A group on the first group's port is refused. */
	ob.listen = &la;
	ob.name = "third";
	cr_assert_eq(shards_start_opts(&ob, &c2), -EADDRINUSE);
	cr_assert_null(c2);
}
