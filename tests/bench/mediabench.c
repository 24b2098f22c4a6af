/* tests/bench/mediabench.c - the media engine under load: N sessions of
 * one worker playing music for S seconds; CPU and RSS per session and
 * packet lateness (send time - due time). Not a test: `make bench-media`.
 * It links the engine (features/b2b), which bench/ may not include. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <uv.h>

#include "features/b2b/media.h"
#include "proxy/base/log.h"

struct bench {
	unsigned n, seconds, warm_ms, tick_ms;
	bool manual_pool_tick; /* drive media_tick() from a 10 ms timer */
	uv_loop_t loop;
	uv_timer_t opener, measure, end, pooltick;
	struct media *m;
	struct media_session **s;
	unsigned opened;
	struct sockaddr_in sink;
	struct media_stats st0, st1;
	struct rusage ru0, ru1;
	long rss0_kb, rss1_kb, rss_before_kb;
	uint64_t t0_ns, t1_ns;
	atomic_ullong rx0, rx1;
	int err;
};

static atomic_ullong sink_rx;
static atomic_bool sink_stop;

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static void *sink_main(void *arg)
{
	int fd = *(int *)arg;
	struct mmsghdr msgs[64];
	struct iovec iov[64];
	static char bufs[64][256];

	for (int i = 0; i < 64; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = sizeof(bufs[i]);
		memset(&msgs[i], 0, sizeof(msgs[i]));
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	while (!atomic_load(&sink_stop)) {
		/* SO_RCVTIMEO bounds the wait (recvmmsg()'s own timeout is
		 * checked only after a datagram arrives). */
		int n = recvmmsg(fd, msgs, 64, MSG_WAITFORONE, NULL);

		if (n > 0)
			atomic_fetch_add(&sink_rx, (unsigned long long)n);
	}
	return NULL;
}

static void opener_cb(uv_timer_t *t)
{
	struct bench *b = t->data;
	/* Spread the sessions' phases over 20 ms: n / 20 per millisecond. */
	unsigned per = b->n / 20 + 1;

	for (unsigned i = 0; i < per && b->opened < b->n; i++) {
		struct media_session *s;
		int err = media_session_open(b->m, &s);

		if (!err)
			err =
			    media_play(s, NULL, 0, media_sound_builtin("music"),
				       NULL, NULL);
		if (!err)
			err = media_session_set_remote(
			    s, (struct sockaddr *)&b->sink, sizeof(b->sink),
			    RTP_ULAW, 101);
		if (err) {
			fprintf(stderr, "mediabench: session %u: %s\n",
				b->opened, strerror(-err));
			b->err = err;
			uv_stop(&b->loop);
			return;
		}
		b->s[b->opened++] = s;
	}
	if (b->opened == b->n)
		uv_timer_stop(t);
}

static void measure_cb(uv_timer_t *t)
{
	struct bench *b = t->data;

	media_stats_get(b->m, &b->st0);
	getrusage(RUSAGE_THREAD, &b->ru0);
	b->rss0_kb = rss_kb();
	b->t0_ns = uv_hrtime();
	atomic_store(&b->rx0, atomic_load(&sink_rx));
}

static void end_cb(uv_timer_t *t)
{
	struct bench *b = t->data;

	media_stats_get(b->m, &b->st1);
	getrusage(RUSAGE_THREAD, &b->ru1);
	b->rss1_kb = rss_kb();
	b->t1_ns = uv_hrtime();
	atomic_store(&b->rx1, atomic_load(&sink_rx));
	uv_stop(&b->loop);
}

static void pooltick_cb(uv_timer_t *t)
{
	struct bench *b = t->data;

	media_tick(b->m, uv_hrtime());
}

static void *worker_main(void *arg)
{
	struct bench *b = arg;

	uv_run(&b->loop, UV_RUN_DEFAULT);
	return NULL;
}

static double tv_s(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static double thread_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return tv_s(ru.ru_utime) + tv_s(ru.ru_stime);
}

/* -S: what batching the sends would save. @p total packets of 172 bytes
 * to the sink, from one socket: one sendto() each, then sendmmsg() in
 * batches of @p batch. (The engine cannot batch: each session has its
 * own socket, and sendmmsg() sends on one.) */
static void syscall_compare(const struct sockaddr_in *sink, unsigned total,
			    unsigned batch)
{
	static uint8_t pkt[172];
	struct mmsghdr *mm = calloc(batch, sizeof(*mm));
	struct iovec iov = { .iov_base = pkt, .iov_len = sizeof(pkt) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	double c0, c1, c2;

	if (!mm || fd < 0)
		exit(1);
	for (unsigned i = 0; i < batch; i++) {
		mm[i].msg_hdr.msg_name = (void *)sink;
		mm[i].msg_hdr.msg_namelen = sizeof(*sink);
		mm[i].msg_hdr.msg_iov = &iov;
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	c0 = thread_cpu_s();
	for (unsigned i = 0; i < total; i++) {
		sendto(fd, pkt, sizeof(pkt), 0, (const struct sockaddr *)sink,
		       sizeof(*sink));
		if (i % batch == batch - 1)
			usleep(20000); /* as paced as the engine's sends */
	}
	c1 = thread_cpu_s();
	for (unsigned i = 0; i < total; i += batch) {
		sendmmsg(fd, mm, batch, 0);
		usleep(20000);
	}
	c2 = thread_cpu_s();
	printf("mediabench -S: %u packets from one socket: sendto() %.2f µs "
	       "per packet, sendmmsg() by %u %.2f µs per packet\n",
	       total, (c1 - c0) * 1e6 / total, batch, (c2 - c1) * 1e6 / total);
	close(fd);
	free(mm);
}

int main(int argc, char **argv)
{
	struct bench b = { .n = 1000, .seconds = 10, .warm_ms = 1000 };
	struct media_opts o = { .port_min = 20000, .port_max = 29999 };
	struct sockaddr_in lo = { .sin_family = AF_INET };
	struct rlimit rl;
	char dir[4096], why[512];
	pthread_t worker, sink;
	int fd, opt, rcvbuf = 8 << 20;
	socklen_t slen = sizeof(b.sink);

	bool compare = false;

	while ((opt = getopt(argc, argv, "n:s:t:p:PS")) != -1) {
		switch (opt) {
		case 'n':
			b.n = (unsigned)atoi(optarg);
			break;
		case 's':
			b.seconds = (unsigned)atoi(optarg);
			break;
		case 't':
			b.tick_ms = (unsigned)atoi(optarg);
			break;
		case 'p':
			if (sscanf(optarg, "%hu-%hu", &o.port_min,
				   &o.port_max) != 2)
				return 2;
			break;
		case 'P':
			b.manual_pool_tick = true;
			break;
		case 'S':
			compare = true;
			break;
		default:
			fprintf(stderr,
				"usage: mediabench [-n SESSIONS] [-s SECONDS] "
				"[-t TICK_MS] [-p FIRST-LAST] [-P (driven "
				"by a 10 ms pool tick)] [-S (sendto against "
				"sendmmsg only)]\n");
			return 2;
		}
	}
	log_set_level(LOG_WARN);
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (media_sounds_dir(NULL, dir, sizeof(dir)) ||
	    media_sounds_load(dir, why, sizeof(why))) {
		fprintf(stderr, "mediabench: %s\n", why);
		return 1;
	}
	/* The sink: one socket on 127.0.0.1 that every session sends to. */
	lo.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO,
		   &(struct timeval){ .tv_usec = 50000 },
		   sizeof(struct timeval));
	if (fd < 0 || bind(fd, (struct sockaddr *)&lo, sizeof(lo)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&b.sink, &slen) < 0) {
		perror("mediabench: sink");
		return 1;
	}
	if (compare) {
		pthread_create(&sink, NULL, sink_main, &fd);
		syscall_compare(&b.sink, b.n * 50 * b.seconds, b.n);
		atomic_store(&sink_stop, true);
		pthread_join(sink, NULL);
		media_sounds_unload();
		close(fd);
		return 0;
	}
	memcpy(&o.addr, &lo, sizeof(lo));
	o.addrlen = sizeof(lo);
	o.tick_ms = b.tick_ms;
	o.manual = b.manual_pool_tick;
	b.s = calloc(b.n, sizeof(*b.s));
	uv_loop_init(&b.loop);
	b.rss_before_kb = rss_kb();
	if (!b.s || media_new(&b.loop, &o, &b.m)) {
		fprintf(stderr, "mediabench: media_new failed\n");
		return 1;
	}
	uv_timer_init(&b.loop, &b.opener);
	uv_timer_init(&b.loop, &b.measure);
	uv_timer_init(&b.loop, &b.end);
	uv_timer_init(&b.loop, &b.pooltick);
	b.opener.data = b.measure.data = b.end.data = b.pooltick.data = &b;
	uv_timer_start(&b.opener, opener_cb, 0, 1);
	if (b.manual_pool_tick)
		uv_timer_start(&b.pooltick, pooltick_cb, 10, 10);
	/* Measured from when every session runs, after a warm-up. */
	b.warm_ms += b.n / 20 + 20;
	uv_timer_start(&b.measure, measure_cb, b.warm_ms, 0);
	uv_timer_start(&b.end, end_cb, b.warm_ms + 1000ull * b.seconds, 0);
	pthread_create(&sink, NULL, sink_main, &fd);
	pthread_create(&worker, NULL, worker_main, &b);
	pthread_join(worker, NULL);
	atomic_store(&sink_stop, true);
	pthread_join(sink, NULL);
	if (b.err)
		return 1;

	double wall = (double)(b.t1_ns - b.t0_ns) / 1e9;
	double cpu = tv_s(b.ru1.ru_utime) - tv_s(b.ru0.ru_utime) +
		     tv_s(b.ru1.ru_stime) - tv_s(b.ru0.ru_stime);
	double usr = tv_s(b.ru1.ru_utime) - tv_s(b.ru0.ru_utime);
	struct media_stats d = b.st1;
	uint64_t tx = b.st1.tx - b.st0.tx;
	unsigned long long rx = b.rx1 - b.rx0;

	for (size_t i = 0; i < sizeof(d.late_hist) / 8; i++)
		d.late_hist[i] -= b.st0.late_hist[i];
	printf("mediabench: %u sessions, one worker, %s, %.1f s measured\n",
	       b.n,
	       b.manual_pool_tick ? "media_tick() from a 10 ms pool tick"
				  : "the engine's own timer",
	       wall);
	printf("  packets sent       %llu (%.0f/s, %.1f per session per s; "
	       "expected 50)\n",
	       (unsigned long long)tx, (double)tx / wall,
	       (double)tx / wall / b.n);
	printf("  send errors        %llu\n",
	       (unsigned long long)(b.st1.tx_errors - b.st0.tx_errors));
	printf("  received by sink   %llu (%.2f%%)\n", rx,
	       tx ? 100.0 * (double)rx / (double)tx : 0);
	printf("  worker CPU         %.3f s of %.1f s = %.1f%% of a core "
	       "(user %.3f s, system %.3f s)\n",
	       cpu, wall, 100 * cpu / wall, usr, cpu - usr);
	printf("  CPU per session    %.4f%% of a core (%.2f µs per packet)\n",
	       100 * cpu / wall / b.n, tx ? cpu * 1e6 / (double)tx : 0);
	printf("  RSS                %ld kB before the engine, %ld kB with "
	       "%u sessions: %.2f kB per session\n",
	       b.rss_before_kb, b.rss1_kb, b.n,
	       (double)(b.rss1_kb - b.rss_before_kb) / b.n);
	size_t top = 0;
	for (size_t i = 0; i < sizeof(d.late_hist) / 8; i++)
		if (d.late_hist[i])
			top = i;
	printf("  lateness (send - due) p50 <= %llu µs, p99 <= %llu µs, "
	       "p99.9 <= %llu µs, max < %llu µs%s (max with the warm-up: "
	       "%llu µs)\n",
	       (unsigned long long)media_stats_late_pct(&d, 50),
	       (unsigned long long)media_stats_late_pct(&d, 99),
	       (unsigned long long)media_stats_late_pct(&d, 99.9),
	       (unsigned long long)(top + 1) * 100,
	       top + 1 == sizeof(d.late_hist) / 8 ? " (the overflow bucket)"
						  : "",
	       (unsigned long long)b.st1.late_max_us);
	media_free(b.m);
	uv_close((uv_handle_t *)&b.opener, NULL);
	uv_close((uv_handle_t *)&b.measure, NULL);
	uv_close((uv_handle_t *)&b.end, NULL);
	uv_close((uv_handle_t *)&b.pooltick, NULL);
	uv_run(&b.loop, UV_RUN_DEFAULT);
	uv_loop_close(&b.loop);
	media_sounds_unload();
	free(b.s);
	close(fd);
	return 0;
}
