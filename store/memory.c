/* store/memory.c - memory backend: expiry sweep and the snapshot file */
#include "store/memory.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "proxy/base/file.h"
#include "proxy/base/err.h"
#include "proxy/base/hash.h"
#include "proxy/base/log.h"
#include "proxy/base/slice.h"
#include "store/loc.h"
#include "store/rcu.h"

#define MAGIC	     "sipedge-location 1\n"
#define CHECK_SEED   0x736e617073686f74ULL
#define MAX_FILE     (1024L * 1024 * 1024)
#define MAX_PER_AOR  1024
#define NFIELDS	     15
#define PATH_MAX_LEN 4096

/* A growing output buffer; on allocation failure it remembers it. */
struct buf {
	char *p;
	size_t len, cap;
	bool failed;
};

static void buf_need(struct buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->failed || b->len + n <= b->cap)
		return;
	cap = b->cap ? b->cap : 4096;
	while (cap < b->len + n)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->failed = true;
		return;
	}
	b->p = p;
	b->cap = cap;
}

static void buf_add(struct buf *b, const char *s, size_t n)
{
	buf_need(b, n);
	if (b->failed)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void buf_printf(struct buf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		b->failed = true;
		return;
	}
	buf_add(b, tmp, (size_t)n);
}

/* A field: " " then @p s percent-encoded, or "-" when empty. */
static void put_field(struct buf *b, struct slice s)
{
	static const char hex[] = "0123456789ABCDEF";

	buf_add(b, " ", 1);
	if (s.len == 0) {
		buf_add(b, "-", 1);
		return;
	}
	buf_need(b, 3 * s.len);
	if (b->failed)
		return;
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];

		if (c > 0x20 && c < 0x7f && c != '%' &&
		    !(c == '-' && s.len == 1)) {
			b->p[b->len++] = (char)c;
		} else {
			b->p[b->len++] = '%';
			b->p[b->len++] = hex[c >> 4];
			b->p[b->len++] = hex[c & 15];
		}
	}
}

static void put_addr(struct buf *b, const struct sockaddr_storage *ss)
{
	char ip[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;

		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		buf_printf(b, " %s:%u", ip, ntohs(in->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		buf_printf(b, " [%s]:%u", ip, ntohs(in6->sin6_port));
	} else {
		buf_add(b, " -", 2);
	}
}

static void put_contact(struct buf *b, struct slice aor,
			const struct loc_contact *c)
{
	buf_add(b, "c", 1);
	put_field(b, aor);
	buf_printf(b, " %" PRId64 " %u %u %" PRIu32 " %" PRIu32 " %d",
		   c->expires_s, c->q, c->flags, c->reg_id, c->cseq,
		   c->flow.proto);
	put_addr(b, &c->flow.addr);
	buf_printf(b, " %u", c->flow.listen_idx);
	put_field(b, c->uri);
	put_field(b, c->path);
	put_field(b, c->instance);
	put_field(b, c->call_id);
	put_field(b, c->user_agent);
	buf_add(b, "\n", 1);
}

/* Every line so far, chained: the check of the "end" line. */
static uint64_t check_lines(const char *p, size_t len)
{
	uint64_t h = CHECK_SEED;
	const char *end = p + len, *nl;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		nl = nl ? nl + 1 : end;
		h = hash_bytes(p, (size_t)(nl - p), h);
		p = nl;
	}
	return h;
}

/* The snapshot text of the whole table into @p b; *np contacts. */
static int render(struct buf *b, size_t *np)
{
	const struct loc_set **sets;
	size_t nsets, n = 0;
	int err;

	err = loc_get_all(&sets, &nsets);
	if (err)
		return err;
	buf_add(b, MAGIC, sizeof(MAGIC) - 1);
	for (size_t i = 0; i < nsets && !b->failed; i++)
		for (unsigned j = 0; j < sets[i]->n; j++) {
			/* Never expires: a binding of the config
			 * (`locations:`), which the next start publishes
			 * again; saving it would outlive its removal. */
			if (sets[i]->c[j].expires_s == INT64_MAX)
				continue;
			put_contact(b, sets[i]->aor, &sets[i]->c[j]);
			n++;
		}
	loc_put_all(sets, nsets);
	buf_printf(b, "end %zu %016" PRIx64 "\n", n,
		   b->failed ? 0 : check_lines(b->p, b->len));
	if (b->failed)
		return -ENOMEM;
	*np = n;
	return 0;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* fsync the directory holding @p path, so that the rename lasts. */
static int sync_dir(const char *path)
{
	char tmp[PATH_MAX_LEN];
	int fd, err = 0;

	snprintf(tmp, sizeof(tmp), "%s", path);
	fd = open(dirname(tmp), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		err = -errno;
	close(fd);
	return err;
}

long memory_save(const char *path)
{
	struct buf b = { NULL, 0, 0, false };
	char tmp[PATH_MAX_LEN];
	size_t n = 0;
	int fd = -1, err;

	if (!path || strlen(path) + 16 >= sizeof(tmp))
		return -ENAMETOOLONG;
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	err = render(&b, &n);
	if (err)
		goto out;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	err = write_all(fd, b.p, b.len);
	if (!err && fsync(fd) < 0)
		err = -errno;
	if (close(fd) < 0 && !err)
		err = -errno;
	fd = -1;
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (!err)
		err = sync_dir(path);
out:
	if (fd >= 0)
		close(fd);
	if (err) {
		unlink(tmp);
		log_msg(LOG_ERR, "snapshot %s: write failed: %s", path,
			err_str(err));
	}
	free(b.p);
	return err ? err : (long)n;
}

/* Reading. */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode field @p s in place (the file buffer is ours). */
static int field_decode(struct slice *s)
{
	char *w = (char *)s->p;
	size_t o = 0;

	if (s->len == 1 && s->p[0] == '-') {
		s->len = 0;
		return 0;
	}
	for (size_t i = 0; i < s->len; i++) {
		if (s->p[i] != '%') {
			w[o++] = s->p[i];
			continue;
		}
		if (i + 2 >= s->len)
			return -EBADMSG;
		if (hexval(s->p[i + 1]) < 0 || hexval(s->p[i + 2]) < 0)
			return -EBADMSG;
		w[o++] = (char)(hexval(s->p[i + 1]) * 16 + hexval(s->p[i + 2]));
		i += 2;
	}
	s->len = o;
	return 0;
}

static int parse_num(struct slice s, uint64_t max, uint64_t *vp)
{
	return slice_to_u64(s, max, vp) < 0 ? -EBADMSG : 0;
}

static int parse_addr(struct slice s, struct sockaddr_storage *ss)
{
	char ip[INET6_ADDRSTRLEN + 2];
	uint64_t port;
	long colon = -1;

	memset(ss, 0, sizeof(*ss));
	if (s.len == 1 && s.p[0] == '-')
		return 0;
	for (size_t i = s.len; i > 0; i--)
		if (s.p[i - 1] == ':') {
			colon = (long)i - 1;
			break;
		}
	if (colon <= 0 || (size_t)colon >= sizeof(ip) ||
	    parse_num(slice_make(s.p + colon + 1, s.len - (size_t)colon - 1),
		      65535, &port))
		return -EBADMSG;
	if (s.p[0] == '[') {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		if (colon < 3 || s.p[colon - 1] != ']')
			return -EBADMSG;
		memcpy(ip, s.p + 1, (size_t)colon - 2);
		ip[colon - 2] = '\0';
		if (inet_pton(AF_INET6, ip, &in6->sin6_addr) != 1)
			return -EBADMSG;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		memcpy(ip, s.p, (size_t)colon);
		ip[colon] = '\0';
		if (inet_pton(AF_INET, ip, &in->sin_addr) != 1)
			return -EBADMSG;
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
	}
	return 0;
}

/* Split the line @p line into @p max space-separated fields. */
static int split_fields(struct slice line, struct slice *f, unsigned max)
{
	unsigned n = 0;
	size_t i = 0;

	while (i < line.len) {
		size_t j = i;

		while (j < line.len && line.p[j] != ' ')
			j++;
		if (j == i || n == max)
			return -EBADMSG;
		f[n++] = slice_make(line.p + i, j - i);
		i = j + (j < line.len);
		if (j < line.len && i == line.len)
			return -EBADMSG; /* trailing space */
	}
	return (int)n;
}

/* One "c ..." line into @p c and *aorp (slices into the buffer). */
static int parse_contact(struct slice line, struct slice *aorp,
			 struct loc_contact *c)
{
	struct slice f[NFIELDS + 1];
	uint64_t v[6];
	int n;

	n = split_fields(line, f, NFIELDS + 1);
	if (n != NFIELDS || !slice_eq(f[0], SLICE_LIT("c")))
		return -EBADMSG;
	memset(c, 0, sizeof(*c));
	*aorp = f[1];
	if (field_decode(aorp) || aorp->len == 0)
		return -EBADMSG;
	/* expires is a positive time: no sign in the file. */
	if (parse_num(f[2], INT64_MAX, &v[0]) || parse_num(f[3], 1000, &v[1]) ||
	    parse_num(f[4], UINT32_MAX, &v[2]) ||
	    parse_num(f[5], UINT32_MAX, &v[3]) ||
	    parse_num(f[6], UINT32_MAX, &v[4]) || parse_num(f[7], 1, &v[5]))
		return -EBADMSG;
	c->expires_s = (int64_t)v[0];
	c->q = (uint16_t)v[1];
	c->flags = (unsigned)v[2];
	c->reg_id = (uint32_t)v[3];
	c->cseq = (uint32_t)v[4];
	c->flow.proto = (int)v[5];
	if (parse_addr(f[8], &c->flow.addr) ||
	    parse_num(f[9], UINT32_MAX, &v[0]))
		return -EBADMSG;
	c->flow.listen_idx = (unsigned)v[0];
	c->uri = f[10];
	c->path = f[11];
	c->instance = f[12];
	c->call_id = f[13];
	c->user_agent = f[14];
	if (field_decode(&c->uri) || field_decode(&c->path) ||
	    field_decode(&c->instance) || field_decode(&c->call_id) ||
	    field_decode(&c->user_agent) || c->uri.len == 0)
		return -EBADMSG;
	return 0;
}

/*
 * Check the whole text: magic, one "end" line last whose count and
 * check agree. Returns 0 with *bodyp (the contact lines) set, or
 * -EBADMSG with *whyp.
 */
static int verify(const char *text, size_t len, struct slice *bodyp,
		  const char **whyp)
{
	const char *last, *p;
	struct slice f[4];
	uint64_t count, check, lines = 0;
	char hex[17];
	size_t mlen = sizeof(MAGIC) - 1;

	if (len < mlen || memcmp(text, MAGIC, mlen) != 0) {
		*whyp = "not a sipedge location snapshot (bad first line)";
		return -EBADMSG;
	}
	if (text[len - 1] != '\n') {
		*whyp = "truncated (no end line)";
		return -EBADMSG;
	}
	last = text + len - 1;
	while (last > text && last[-1] != '\n')
		last--;
	if (split_fields(slice_make(last, (size_t)(text + len - 1 - last)), f,
			 4) != 3 ||
	    !slice_eq(f[0], SLICE_LIT("end")) || f[2].len != 16) {
		*whyp = "truncated (no end line)";
		return -EBADMSG;
	}
	memcpy(hex, f[2].p, 16);
	hex[16] = '\0';
	check = strtoull(hex, NULL, 16);
	if (parse_num(f[1], UINT64_MAX, &count) ||
	    check != check_lines(text, (size_t)(last - text))) {
		*whyp = "check failed (corrupt or edited)";
		return -EBADMSG;
	}
	for (p = text + mlen; p < last; p++)
		lines += *p == '\n';
	if (lines != count) {
		*whyp = "line count differs from the end line";
		return -EBADMSG;
	}
	*bodyp = slice_make(text + mlen, (size_t)(last - text) - mlen);
	return 0;
}

/*
 * Walk the contact lines: with @p publish false only check that each
 * parses (reporting the first bad line in *linep); with it true,
 * publish each AOR's live contacts. Returns the contacts published.
 */
static long walk(struct slice body, bool publish, int64_t now_s,
		 unsigned *linep)
{
	struct loc_contact *v = NULL, c;
	struct slice aor, cur = { NULL, 0 };
	char *scratch = NULL;
	const char *p = body.p, *end = body.p + body.len, *nl;
	unsigned nv = 0, line = 1;
	long total = 0;
	int err = 0;

	if (publish) {
		v = malloc(MAX_PER_AOR * sizeof(*v));
		if (!v)
			return -ENOMEM;
	}
	for (; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		line++;
		if (!nl) {
			err = -EBADMSG;
			break;
		}
		if (!publish) {
			/* Decoding writes in place: check a copy. */
			size_t n = (size_t)(nl - p);
			char *t = realloc(scratch, n + 1);

			if (!t) {
				err = -ENOMEM;
				break;
			}
			scratch = t;
			memcpy(scratch, p, n);
			if (parse_contact(slice_make(scratch, n), &aor, &c)) {
				err = -EBADMSG;
				break;
			}
			continue;
		}
		if (parse_contact(slice_make(p, (size_t)(nl - p)), &aor, &c)) {
			err = -EBADMSG;
			break;
		}
		if (nv && !slice_eq(aor, cur)) {
			err = loc_publish(cur, v, nv);
			if (err)
				break;
			total += nv;
			nv = 0;
		}
		cur = aor;
		if (c.expires_s <= now_s || nv == MAX_PER_AOR)
			continue;
		v[nv++] = c;
	}
	if (!err && publish && nv) {
		err = loc_publish(cur, v, nv);
		total += err ? 0 : nv;
	}
	free(v);
	free(scratch);
	*linep = line;
	return err ? err : total;
}

long memory_load(const char *path, int64_t now_s)
{
	const char *why = NULL;
	struct slice body;
	char *text = NULL;
	size_t len = 0;
	unsigned line = 0;
	long ret;

	ret = file_read(path, MAX_FILE, &text, &len);
	if (ret == -ENOENT) {
		log_msg(LOG_INFO, "snapshot %s: none yet", path);
		goto out;
	}
	if (ret) {
		log_msg(LOG_ERR, "snapshot %s: %s; skipped", path,
			err_str((int)ret));
		goto out;
	}
	ret = verify(text, len, &body, &why);
	if (ret) {
		log_msg(LOG_ERR, "snapshot %s: %s; skipped", path, why);
		goto out;
	}
	ret = walk(body, false, now_s, &line);
	if (ret < 0) {
		log_msg(LOG_ERR,
			"snapshot %s:%u: malformed contact line; "
			"skipped",
			path, line);
		goto out;
	}
	ret = walk(body, true, now_s, &line);
	if (ret < 0)
		log_msg(LOG_ERR, "snapshot %s: %s", path, err_str((int)ret));
	else
		log_msg(LOG_INFO,
			"snapshot %s: %ld contacts of %lu AORs "
			"loaded",
			path, ret, loc_count());
out:
	free(text);
	return ret;
}

/* The store thread. */

struct memory {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	char *path;
	unsigned interval_s;
	long last;
};

static void *store_main(void *arg)
{
	struct memory *m = arg;
	struct timespec next, now;
	time_t last_save;

	pthread_setname_np(pthread_self(), "store");
	urcu_memb_register_thread();
	clock_gettime(CLOCK_MONOTONIC, &now);
	last_save = now.tv_sec;
	pthread_mutex_lock(&m->lock);
	while (!m->stop) {
		clock_gettime(CLOCK_MONOTONIC, &next);
		next.tv_sec += MEMORY_SWEEP_S;
		/* Bounded: each pass waits up to MEMORY_SWEEP_S or stops. */
		while (!m->stop &&
		       pthread_cond_timedwait(&m->cond, &m->lock, &next) == 0)
			;
		if (m->stop)
			break;
		pthread_mutex_unlock(&m->lock);
		loc_sweep((int64_t)time(NULL));
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (m->path &&
		    now.tv_sec - last_save >= (time_t)m->interval_s) {
			memory_save(m->path);
			last_save = now.tv_sec;
		}
		pthread_mutex_lock(&m->lock);
	}
	pthread_mutex_unlock(&m->lock);
	urcu_memb_unregister_thread();
	return NULL;
}

int memory_start(const char *path, unsigned interval_s, struct memory **mp)
{
	pthread_condattr_t ca;
	struct memory *m;
	int err;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	if (path && !(m->path = strdup(path))) {
		free(m);
		return -ENOMEM;
	}
	m->interval_s = interval_s ? interval_s : 1;
	pthread_mutex_init(&m->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->cond, &ca);
	pthread_condattr_destroy(&ca);
	err = -pthread_create(&m->thread, NULL, store_main, m);
	if (err) {
		pthread_cond_destroy(&m->cond);
		pthread_mutex_destroy(&m->lock);
		free(m->path);
		free(m);
		return err;
	}
	*mp = m;
	return 0;
}

long memory_stop(struct memory *m)
{
	long ret = 0;

	if (!m)
		return 0;
	pthread_mutex_lock(&m->lock);
	m->stop = true;
	pthread_cond_signal(&m->cond);
	pthread_mutex_unlock(&m->lock);
	pthread_join(m->thread, NULL);
	if (m->path) {
		ret = memory_save(m->path);
		if (ret >= 0)
			log_msg(LOG_INFO, "snapshot %s: %ld contacts saved",
				m->path, ret);
	}
	pthread_cond_destroy(&m->cond);
	pthread_mutex_destroy(&m->lock);
	free(m->path);
	free(m);
	return ret;
}
