/* store/memory.c - memory backend: expiry sweep and the snapshot file */
#include "store/memory.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <pthread.h>
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
#include "store/codec.h"
#include "store/loc.h"
#include "store/rcu.h"

#define MAGIC	     "sipedge-location 1\n"
#define CHECK_SEED   0x736e617073686f74ULL
#define MAX_FILE     (1024L * 1024 * 1024)
#define MAX_PER_AOR  1024
#define PATH_MAX_LEN 4096

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
static int render(struct codec_buf *b, size_t *np)
{
	const struct loc_set **sets;
	size_t nsets, n = 0;
	char end[64];
	int k, err;

	err = loc_get_all(&sets, &nsets);
	if (err)
		return err;
	codec_buf_add(b, MAGIC, sizeof(MAGIC) - 1);
	for (size_t i = 0; i < nsets && !b->failed; i++)
		for (unsigned j = 0; j < sets[i]->n; j++) {
			/* Never expires: a binding of the config
			 * (`locations:`), which the next start publishes
			 * again; saving it would outlive its removal. */
			if (sets[i]->c[j].expires_s == INT64_MAX)
				continue;
			codec_contact_print(b, CODEC_SNAPSHOT, sets[i]->aor,
					    &sets[i]->c[j]);
			codec_buf_add(b, "\n", 1);
			n++;
		}
	loc_put_all(sets, nsets);
	k = snprintf(end, sizeof(end), "end %zu %016" PRIx64 "\n", n,
		     b->failed ? 0 : check_lines(b->p, b->len));
	codec_buf_add(b, end, (size_t)k);
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
	struct codec_buf b = { NULL, 0, 0, false };
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
	codec_buf_free(&b);
	return err ? err : (long)n;
}

/* Reading. */

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
	if (codec_fields_split(
		slice_make(last, (size_t)(text + len - 1 - last)), f, 4) != 3 ||
	    !slice_eq(f[0], SLICE_LIT("end")) || f[2].len != 16) {
		*whyp = "truncated (no end line)";
		return -EBADMSG;
	}
	memcpy(hex, f[2].p, 16);
	hex[16] = '\0';
	check = strtoull(hex, NULL, 16);
	if (codec_num_parse(f[1], UINT64_MAX, &count) ||
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
			if (codec_contact_parse(scratch, n, CODEC_SNAPSHOT,
						&aor, &c)) {
				err = -EBADMSG;
				break;
			}
			continue;
		}
		if (codec_contact_parse((char *)p, (size_t)(nl - p),
					CODEC_SNAPSHOT, &aor, &c)) {
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
