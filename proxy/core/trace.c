/* proxy/core/trace.c - SIP message trace to a file (writer thread) or HEP */
#include "proxy/core/trace.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <urcu/wfcqueue.h>

#include "proxy/core/hep.h"
#include "proxy/sip/msg.h"
#include "store/rcu.h"

/* Headers sipmsg_parse() indexes to find From and To (AOR filter). */
#define TRACE_HDRS 128

/* One message block for the file writer. */
struct item {
	struct cds_wfcq_node node;
	size_t len;
	char data[];
};

struct trace {
	struct trace_spec spec;
	size_t vlen;
	int fd;	    /* the file, or -1 */
	int hep_fd; /* UDP socket to the collector, or -1 */
	int efd;    /* wakes the writer */
	pthread_t writer;
	bool has_writer;
	struct cds_wfcq_head head;
	struct cds_wfcq_tail tail;
	atomic_size_t queued; /* bytes in the queue */
	atomic_bool stopping;
	atomic_uint_fast64_t messages, dropped;
};

/* The running trace: written on the control thread, read under RCU. */
static struct trace *active;
/* The cheap test the message path makes first. */
static atomic_bool on;

static void item_write(struct trace *t, const struct item *it)
{
	size_t o = 0;
	ssize_t n;

	while (o < it->len) {
		n = write(t->fd, it->data + o, it->len - o);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			atomic_fetch_add_explicit(&t->dropped, 1,
						  memory_order_relaxed);
			return;
		}
		o += (size_t)n;
	}
}

static void *writer_main(void *arg)
{
	struct trace *t = arg;
	struct cds_wfcq_node *node;
	uint64_t v;
	bool stopping;

	for (;;) {
		/* Read the flag first: what was queued before it was set is
		 * drained below. */
		stopping =
		    atomic_load_explicit(&t->stopping, memory_order_acquire);
		while ((node = cds_wfcq_dequeue_blocking(&t->head, &t->tail))) {
			struct item *it =
			    caa_container_of(node, struct item, node);

			item_write(t, it);
			atomic_fetch_sub_explicit(&t->queued, it->len,
						  memory_order_relaxed);
			free(it);
		}
		if (stopping)
			break;
		if (read(t->efd, &v, sizeof(v)) < 0 && errno != EINTR &&
		    errno != EAGAIN)
			break;
	}
	return NULL;
}

static void trace_free(struct trace *t)
{
	struct cds_wfcq_node *node;

	if (!t)
		return;
	while ((node = cds_wfcq_dequeue_blocking(&t->head, &t->tail)))
		free(caa_container_of(node, struct item, node));
	cds_wfcq_destroy(&t->head, &t->tail);
	if (t->fd >= 0)
		close(t->fd);
	if (t->hep_fd >= 0)
		close(t->hep_fd);
	if (t->efd >= 0)
		close(t->efd);
	free(t);
}

/* A Call-ID or AOR: no controls or spaces, so it can be logged as is. */
static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

int trace_spec_make(struct trace_spec *s, const char *call_id, const char *aor,
		    const char *file, const char *hep, uint32_t capture_id,
		    char *why, size_t whylen)
{
	const char *v = call_id ? call_id : aor;

	memset(s, 0, sizeof(*s));
	if (!call_id == !aor) {
		snprintf(why, whylen, "give one of call_id and aor");
		return -EINVAL;
	}
	if (!file && !hep) {
		snprintf(why, whylen, "give file, hep or both");
		return -EINVAL;
	}
	s->filter = call_id ? TRACE_CALL_ID : TRACE_AOR;
	if (!*v || strlen(v) >= sizeof(s->value) || !printable(v)) {
		snprintf(why, whylen,
			 "%s must be 1 to %zu printable characters",
			 call_id ? "call_id" : "aor", sizeof(s->value) - 1);
		return -EINVAL;
	}
	strcpy(s->value, v);
	if (file && (file[0] != '/' || strlen(file) >= sizeof(s->file))) {
		snprintf(why, whylen,
			 "file must be an absolute path (at most %zu bytes)",
			 sizeof(s->file) - 1);
		return -EINVAL;
	}
	if (file)
		strcpy(s->file, file);
	if (hep && peer_hostport_parse(hep, &s->hep, &s->hep_len) < 0) {
		snprintf(why, whylen,
			 "hep '%.64s' is not HOST:PORT (like 127.0.0.1:9060)",
			 hep);
		memset(s, 0, sizeof(*s));
		return -EINVAL;
	}
	s->capture_id = capture_id;
	return 0;
}

bool trace_spec_eq(const struct trace_spec *a, const struct trace_spec *b)
{
	return a->filter == b->filter && !strcmp(a->value, b->value) &&
	       !strcmp(a->file, b->file) && a->hep_len == b->hep_len &&
	       !memcmp(&a->hep, &b->hep, a->hep_len) &&
	       a->capture_id == b->capture_id;
}

int trace_start(const struct trace_spec *s)
{
	struct trace *t;
	int err;

	if (rcu_dereference(active))
		return -EBUSY;
	if ((!s->file[0] && !s->hep.ss_family) || !s->value[0] ||
	    !memchr(s->value, '\0', sizeof(s->value)) ||
	    !memchr(s->file, '\0', sizeof(s->file)))
		return -EINVAL;
	if (s->hep.ss_family && s->hep.ss_family != AF_INET &&
	    s->hep.ss_family != AF_INET6)
		return -EAFNOSUPPORT;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->spec = *s;
	t->vlen = strlen(s->value);
	t->fd = t->hep_fd = t->efd = -1;
	cds_wfcq_init(&t->head, &t->tail);
	if (s->file[0]) {
		t->fd = open(s->file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
			     0640);
		t->efd = eventfd(0, EFD_CLOEXEC);
		if (t->fd < 0 || t->efd < 0) {
			err = -errno;
			goto out;
		}
	}
	if (s->hep.ss_family) {
		t->hep_fd =
		    socket(s->hep.ss_family,
			   SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (t->hep_fd < 0) {
			err = -errno;
			goto out;
		}
	}
	if (t->fd >= 0) {
		err = -pthread_create(&t->writer, NULL, writer_main, t);
		if (err)
			goto out;
		t->has_writer = true;
	}
	rcu_assign_pointer(active, t);
	atomic_store_explicit(&on, true, memory_order_relaxed);
	return 0;
out:
	trace_free(t);
	return err;
}

int trace_stop(struct trace_stats *stp)
{
	struct trace *t = rcu_dereference(active);
	uint64_t one = 1;

	if (!t)
		return -ENOENT;
	atomic_store_explicit(&on, false, memory_order_relaxed);
	rcu_assign_pointer(active, NULL);
	/* No shard holds it after this. */
	urcu_memb_synchronize_rcu();
	if (t->has_writer) {
		atomic_store_explicit(&t->stopping, true, memory_order_release);
		if (write(t->efd, &one, sizeof(one)) < 0)
			abort(); /* an eventfd under its limit cannot refuse */
		pthread_join(t->writer, NULL);
	}
	if (stp) {
		stp->messages = atomic_load(&t->messages);
		stp->dropped = atomic_load(&t->dropped);
	}
	trace_free(t);
	return 0;
}

bool trace_status(struct trace_spec *out, struct trace_stats *stp)
{
	struct trace *t = rcu_dereference(active);

	if (!t)
		return false;
	*out = t->spec;
	stp->messages = atomic_load(&t->messages);
	stp->dropped = atomic_load(&t->dropped);
	return true;
}

static bool aor_is(const struct sipmsg *m, enum hdr_id id, const char *v,
		   size_t vlen)
{
	char aor[SIPMSG_AOR_MAX];
	int n = sipmsg_hdr_aor(m, id, aor, sizeof(aor), NULL, NULL);

	return n > 0 && (size_t)n == vlen && strncasecmp(aor, v, vlen) == 0;
}

static bool matches(const struct trace *t, const char *buf, size_t len)
{
	struct siphdr hdrs[TRACE_HDRS];
	struct sipmsg m;
	struct slice cid;

	if (t->spec.filter == TRACE_CALL_ID)
		return sipmsg_peek_call_id(buf, len, &cid) == 0 &&
		       slice_eq(cid, slice_make(t->spec.value, t->vlen));
	/* A malformed message still has the headers parsed before the
	 * fault. */
	memset(&m, 0, sizeof(m));
	sipmsg_parse(&m, buf, len, hdrs, TRACE_HDRS, 0);
	return aor_is(&m, HDR_FROM, t->spec.value, t->vlen) ||
	       aor_is(&m, HDR_TO, t->spec.value, t->vlen);
}

static void file_put(struct trace *t, bool out, const struct peer *peer,
		     const struct sockaddr *src, const struct sockaddr *dst,
		     const struct timespec *ts, const void *buf, size_t len)
{
	char head[256], sa[64], da[64];
	struct item *it;
	struct tm tm;
	uint64_t one = 1;
	int n;

	gmtime_r(&ts->tv_sec, &tm);
	n = snprintf(head, sizeof(head),
		     "=== %04d-%02d-%02dT%02d:%02d:%02d.%06ldZ %s %s %s -> %s "
		     "%zu bytes\n",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		     tm.tm_min, tm.tm_sec, ts->tv_nsec / 1000,
		     out ? "sent" : "received", peer_proto_name(peer->proto),
		     peer_addr_str(src, sa, sizeof(sa)),
		     peer_addr_str(dst, da, sizeof(da)), len);
	if (n < 0 || (size_t)n >= sizeof(head))
		return;
	/* Room is taken before it is checked, as the shard inboxes do. */
	if (atomic_fetch_add_explicit(&t->queued, (size_t)n + len + 1,
				      memory_order_relaxed) +
		(size_t)n + len + 1 >
	    TRACE_QUEUE_MAX) {
		atomic_fetch_sub_explicit(&t->queued, (size_t)n + len + 1,
					  memory_order_relaxed);
		atomic_fetch_add_explicit(&t->dropped, 1, memory_order_relaxed);
		return;
	}
	it = malloc(sizeof(*it) + (size_t)n + len + 1);
	if (!it) {
		atomic_fetch_sub_explicit(&t->queued, (size_t)n + len + 1,
					  memory_order_relaxed);
		atomic_fetch_add_explicit(&t->dropped, 1, memory_order_relaxed);
		return;
	}
	cds_wfcq_node_init(&it->node);
	it->len = (size_t)n + len + 1;
	memcpy(it->data, head, (size_t)n);
	memcpy(it->data + n, buf, len);
	it->data[n + (int)len] = '\n';
	cds_wfcq_enqueue(&t->head, &t->tail, &it->node);
	/* Non-blocking in effect: an eventfd only refuses past 2^64 - 2. */
	if (write(t->efd, &one, sizeof(one)) < 0)
		return;
}

static void hep_put(struct trace *t, bool out, const struct peer *peer,
		    const struct sockaddr *src, const struct sockaddr *dst,
		    const struct timespec *ts, const void *buf, size_t len)
{
	uint8_t pkt[HEP_MAX];
	struct hep_info in = {
		.src = src,
		.dst = dst,
		.ip_proto = peer_proto_is_stream(peer->proto) ? 6 : 17,
		.ts_s = (uint32_t)ts->tv_sec,
		.ts_us = (uint32_t)(ts->tv_nsec / 1000),
		.capture_id = t->spec.capture_id,
	};
	int n;

	(void)out;
	n = hep_encode(&in, buf, len, pkt, sizeof(pkt));
	if (n < 0 ||
	    sendto(t->hep_fd, pkt, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL,
		   (const struct sockaddr *)&t->spec.hep, t->spec.hep_len) != n)
		atomic_fetch_add_explicit(&t->dropped, 1, memory_order_relaxed);
}

bool trace_is_on(void)
{
	return atomic_load_explicit(&on, memory_order_relaxed);
}

void trace_msg(bool out, const struct peer *peer, const struct sockaddr *local,
	       const void *buf, size_t len)
{
	struct sockaddr_storage none;
	const struct sockaddr *remote;
	struct timespec ts;
	struct trace *t;

	if (!atomic_load_explicit(&on, memory_order_relaxed))
		return;
	urcu_memb_read_lock();
	t = rcu_dereference(active);
	if (!t || !matches(t, buf, len))
		goto out;
	atomic_fetch_add_explicit(&t->messages, 1, memory_order_relaxed);
	clock_gettime(CLOCK_REALTIME, &ts);
	remote = (const struct sockaddr *)&peer->addr;
	if (!local || local->sa_family != remote->sa_family) {
		memset(&none, 0, sizeof(none));
		none.ss_family = remote->sa_family;
		local = (const struct sockaddr *)&none;
	}
	if (t->fd >= 0)
		file_put(t, out, peer, out ? local : remote,
			 out ? remote : local, &ts, buf, len);
	if (t->hep_fd >= 0)
		hep_put(t, out, peer, out ? local : remote,
			out ? remote : local, &ts, buf, len);
out:
	urcu_memb_read_unlock();
}
