/* proxy/dtmf.c - RFC 4733 key presses rtpengine reports: a UDP listener on
 * shard 0's loop, the JSON parsed with jansson */
#include "proxy/dtmf.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "proxy/base/err.h"
#include "proxy/base/log.h"
#include "proxy/base/stats.h"
#include "proxy/core/conf.h"
#include "proxy/core/shard.h"
#include "proxy/rtpe_conf.h"
#include "proxy/sip/peer.h"

/* The shard whose loop reads the socket. */
#define LISTENER_SHARD 0u
/* A report is about 200 bytes; a bigger datagram is not one. */
#define RX_MAX 2048

enum {
	CTR_EVENTS,
	CTR_BAD,
	CTR_IGNORED,
	CTR_STRANGERS,
	CTR__COUNT,
};

static const struct stats_item stats_items[] = {
	{ "events", "key presses rtpengine reported, handed to park", false },
	{ "bad", "datagrams that are no rtpengine DTMF report: dropped",
	  false },
	{ "ignored", "reports of no key (another type, flash): dropped",
	  false },
	{ "strangers",
	  "datagrams from an address not in media.rtpengine: dropped", false },
};

static struct stats_rows rows = {
	.width = sizeof(stats_items) / sizeof(stats_items[0]),
};

static struct stats_source stats_src = {
	.module = "dtmf",
	.items = stats_items,
	.nitems = sizeof(stats_items) / sizeof(stats_items[0]),
};

/* Set by dtmf_init() before the shards start, read by shard 0 only,
 * reset by dtmf_fini() after they stopped. */
static struct {
	int fd; /* -1: none, or uv owns it (open) */
	bool open;
	uv_udp_t udp;
	char rx[RX_MAX];
	dtmf_event_fn *fn;
	uint64_t *ctr;
	struct sockaddr_storage from[NG_MAX_SERVERS];
	unsigned nfrom;
} l = { .fd = -1 };

/* Copy JSON string @p v into @p dst (@p size with the NUL): false when
 * it is NULL, not a string, too long, or holds a byte that is not
 * printable ASCII. */
static bool str_copy(const json_t *v, char *dst, size_t size)
{
	const char *s;
	size_t n;

	if (!json_is_string(v))
		return false;
	s = json_string_value(v);
	n = json_string_length(v);
	if (n >= size)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return true;
}

/* RFC 4733 §3.2: events 0-9 the digits, 10 '*', 11 '#', 12-15 A-D. */
static char key_of(json_int_t e)
{
	static const char keys[] = "0123456789*#ABCD";

	return e >= 0 && e < 16 ? keys[e] : '\0';
}

int dtmf_parse(const char *buf, size_t len, struct dtmf_event *ev)
{
	struct dtmf_event e;
	json_t *o, *tags, *type, *event;
	size_t i;
	int err = -EBADMSG;

	if (!buf || !ev)
		return -EBADMSG;
	o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(o))
		goto out;
	memset(&e, 0, sizeof(e));
	type = json_object_get(o, "type");
	event = json_object_get(o, "event");
	tags = json_object_get(o, "tags");
	if (!str_copy(json_object_get(o, "callid"), e.call_id,
		      sizeof(e.call_id)) ||
	    !e.call_id[0] ||
	    !str_copy(json_object_get(o, "source_tag"), e.tag, sizeof(e.tag)) ||
	    !e.tag[0] || !json_is_string(type) || !json_is_integer(event) ||
	    (tags && !json_is_array(tags)))
		goto out;
	err = -ENOTSUP;
	if (strcmp(json_string_value(type), "DTMF") != 0)
		goto out;
	e.key = key_of(json_integer_value(event));
	if (!e.key)
		goto out;
	err = -EBADMSG;
	for (i = 0; tags && i < json_array_size(tags); i++) {
		char tag[DTMF_TAG_MAX + 1];

		if (!str_copy(json_array_get(tags, i), tag, sizeof(tag)))
			goto out;
		if (strcmp(tag, e.tag) != 0 && !e.peer_tag[0])
			memcpy(e.peer_tag, tag, sizeof(tag));
	}
	*ev = e;
	err = 0;
out:
	json_decref(o);
	return err;
}

/* The same IP address (any port: rtpengine reports from a port of its
 * own, not its ng port). */
static bool same_ip(const struct sockaddr *a, const struct sockaddr_storage *b)
{
	if (a->sa_family != b->ss_family)
		return false;
	if (a->sa_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			      &((const struct sockaddr_in6 *)b)->sin6_addr,
			      sizeof(struct in6_addr)) == 0;
	return false;
}

static void count(unsigned k)
{
	if (l.ctr)
		stats_inc(&l.ctr[k]);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	(void)h;
	(void)hint;
	*buf = uv_buf_init(l.rx, sizeof(l.rx));
}

static void recv_cb(uv_udp_t *u, ssize_t nread, const uv_buf_t *buf,
		    const struct sockaddr *from, unsigned flags)
{
	static struct log_ratelimit rl = { .burst = 10 };
	struct dtmf_event ev;
	bool known = false;
	int err;

	(void)u;
	if (nread < 0 || !from)
		return;
	for (unsigned i = 0; i < l.nfrom && !known; i++)
		known = same_ip(from, &l.from[i]);
	if (!known) {
		count(CTR_STRANGERS);
		return;
	}
	if (flags & UV_UDP_PARTIAL) {
		count(CTR_BAD);
		return;
	}
	err = dtmf_parse(buf->base, (size_t)nread, &ev);
	if (err) {
		count(err == -ENOTSUP ? CTR_IGNORED : CTR_BAD);
		if (err == -EBADMSG && log_enabled(LOG_NOTICE) &&
		    log_ratelimit_ok(&rl))
			log_msg(LOG_NOTICE,
				"dtmf: a report from rtpengine that is not "
				"one (%zd bytes): dropped",
				nread);
		return;
	}
	count(CTR_EVENTS);
	log_msg(LOG_DEBUG, "dtmf: key %c from tag=%s call-id=%s", ev.key,
		ev.tag, ev.call_id);
	l.fn(LISTENER_SHARD, &ev);
}

static void start_cb(unsigned id, struct uv_loop_s *loop, void *arg)
{
	int err;

	(void)arg;
	if (id != LISTENER_SHARD || l.fd < 0)
		return;
	l.ctr = stats_rows_row(&rows, 0);
	err = uv_udp_init(loop, &l.udp);
	if (!err) {
		err = uv_udp_open(&l.udp, l.fd);
		if (err)
			uv_close((uv_handle_t *)&l.udp, NULL);
	}
	if (!err) {
		l.open = true; /* uv closes the fd now */
		l.fd = -1;
		err = uv_udp_recv_start(&l.udp, alloc_cb, recv_cb);
	}
	if (err)
		log_msg(LOG_ERR, "dtmf: shard %u: the events' socket: %s", id,
			err_str(err));
}

static void stop_cb(unsigned id, struct uv_loop_s *loop, void *arg)
{
	(void)loop;
	(void)arg;
	if (id != LISTENER_SHARD || !l.open)
		return;
	l.open = false;
	uv_close((uv_handle_t *)&l.udp, NULL);
}

int dtmf_init(const struct conf *c, dtmf_event_fn *fn)
{
	const struct rtpe_conf *mc = rtpe_conf(c);
	char addr[64];
	int fd, err;

	if (!mc->dtmf_addrlen)
		return 0;
	if (!fn)
		return -EINVAL;
	peer_addr_str((const struct sockaddr *)&mc->dtmf_addr, addr,
		      sizeof(addr));
	fd = socket(mc->dtmf_addr.ss_family,
		    SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		goto fail;
	}
	if (bind(fd, (const struct sockaddr *)&mc->dtmf_addr,
		 mc->dtmf_addrlen)) {
		err = -errno;
		close(fd);
		goto fail;
	}
	err = stats_rows_add(&stats_src, &rows, 1);
	if (!err)
		err = shards_add_hook(start_cb, stop_cb, NULL);
	if (err) {
		stats_rows_remove(&stats_src, &rows);
		close(fd);
		goto fail;
	}
	l.fd = fd;
	l.fn = fn;
	l.nfrom = mc->nservers;
	for (unsigned i = 0; i < mc->nservers; i++)
		l.from[i] = mc->servers[i].addr;
	log_msg(LOG_INFO, "dtmf: rtpengine's DTMF events on %s", addr);
	return 0;
fail:
	log_msg(LOG_ERR, "dtmf: media.dtmf_events %s: %s", addr, err_str(err));
	return err;
}

void dtmf_fini(void)
{
	if (l.fd >= 0)
		close(l.fd);
	l.fd = -1;
	l.open = false;
	l.fn = NULL;
	l.ctr = NULL;
	l.nfrom = 0;
	stats_rows_remove(&stats_src, &rows);
}
