/* proxy/core/steer.c - load and attach the SK_REUSEPORT steering program
 */
#include "proxy/core/steer.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "proxy/base/log.h"
/* Generated at build time by bpftool from steer.bpf.c: the object is
 * in the binary, no file to install. */
#include "steer.skel.h"

struct steer {
	struct steer_bpf *skel;
	int stats_fd;
	int fd; /* the socket it was attached through (the caller's); -1 */
	unsigned nshards;
};

/* libbpf's own messages: debug level (the caller logs the outcome). */
static int libbpf_log(enum libbpf_print_level level, const char *fmt,
		      va_list ap)
{
	char line[512];
	size_t n;

	(void)level;
	if (!log_enabled(LOG_DEBUG))
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	log_msg(LOG_DEBUG, "steer: libbpf: %s", line);
	return 0;
}

int steer_load(unsigned nshards, uint64_t seed, struct steer **sp, char *why,
	       unsigned whylen)
{
	struct steer *st = NULL;
	const char *step = "arguments";
	int err = -EINVAL;

	if (nshards < 2 || nshards > STEER_MAX_SHARDS || !sp)
		goto out;
	libbpf_set_print(libbpf_log);
	err = -ENOMEM;
	step = "memory";
	st = calloc(1, sizeof(*st));
	if (!st)
		goto out;
	st->fd = -1;
	step = "open";
	st->skel = steer_bpf__open();
	if (!st->skel) {
		err = errno ? -errno : -ENOMEM;
		goto out;
	}
	st->skel->rodata->nshards = nshards;
	st->skel->rodata->seed = seed;
	step = "load";
	err = steer_bpf__load(st->skel);
	if (err)
		goto out;
	st->nshards = nshards;
	st->stats_fd = bpf_map__fd(st->skel->maps.stats);
	*sp = st;
	st = NULL;
out:
	if (err && why && whylen)
		snprintf(why, whylen, "%s", step);
	steer_free(st);
	return err;
}

int steer_attach(struct steer *st, const int *fds, unsigned nfds, char *why,
		 unsigned whylen)
{
	const char *step = "arguments";
	int err = -EINVAL, prog_fd, map_fd;

	if (!st || !fds || nfds != st->nshards || st->fd >= 0)
		goto out;
	map_fd = bpf_map__fd(st->skel->maps.socks);
	step = "socket array";
	for (unsigned i = 0; i < nfds; i++) {
		uint32_t key = i;
		uint64_t fd = (uint64_t)fds[i];

		if (bpf_map_update_elem(map_fd, &key, &fd, BPF_ANY)) {
			err = -errno;
			goto out;
		}
	}
	prog_fd = bpf_program__fd(st->skel->progs.steer);
	step = "SO_ATTACH_REUSEPORT_EBPF";
	if (setsockopt(fds[0], SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &prog_fd,
		       sizeof(prog_fd))) {
		err = -errno;
		goto out;
	}
	st->fd = fds[0];
	err = 0;
out:
	if (err && why && whylen)
		snprintf(why, whylen, "%s", step);
	return err;
}

/* Counter @p k of the stats map, summed over the CPUs. */
static uint64_t read_one(const struct steer *st, uint32_t k)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *per, sum = 0;

	if (!st || ncpu <= 0)
		return 0;
	per = calloc((size_t)ncpu, sizeof(*per));
	if (!per)
		return 0;
	if (bpf_map_lookup_elem(st->stats_fd, &k, per) == 0)
		for (int c = 0; c < ncpu; c++)
			sum += per[c];
	free(per);
	return sum;
}

void steer_read(const struct steer *st, uint64_t v[STEER_STAT__COUNT])
{
	for (uint32_t k = 0; k < STEER_STAT__COUNT; k++)
		v[k] = read_one(st, k);
}

uint64_t steer_read_shard(const struct steer *st, unsigned shard)
{
	if (shard >= STEER_MAX_SHARDS)
		return 0;
	return read_one(st, STEER_STAT__COUNT + shard);
}

int steer_detach(struct steer *st)
{
	int unused = 0;

	if (!st || st->fd < 0)
		return 0;
	if (setsockopt(st->fd, SOL_SOCKET, SO_DETACH_REUSEPORT_BPF, &unused,
		       sizeof(unused)))
		return -errno;
	return 0;
}

void steer_free(struct steer *st)
{
	if (!st)
		return;
	steer_bpf__destroy(st->skel);
	free(st);
}
