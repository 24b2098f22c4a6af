/* registrar/users.c - credentials: HA1 values per user and realm, reloadable */
#include "registrar/users.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proxy/base/file.h"
#include "proxy/base/err.h"
#include "proxy/base/hash.h"
#include "proxy/base/hex.h"
#include "proxy/base/log.h"
#include "proxy/sip/msg.h"
#include "store/rcu.h"

#define MAX_FILE  (256L * 1024 * 1024)
#define HASH_SEED 0x7573657273736564ULL

struct user {
	struct slice user;  /* into the table's text */
	struct slice realm; /* lower case, into the table's text */
	struct users_cred cred;
};

/*
 * Open addressing over a power-of-two slot array; each slot is an index
 * into users + 1 (0: empty). Built once, then only read.
 */
struct users_table {
	char *text; /* the file's bytes: every slice points here */
	struct user *users;
	size_t n;
	uint32_t *slots;
	size_t mask;
};

static struct users_table *current; /* RCU-published */
static char *current_path;	    /* control thread only */

static uint64_t key_hash(struct slice user, struct slice realm)
{
	return hash_slice_case(realm, hash_slice(user, HASH_SEED));
}

static const struct user *find(const struct users_table *t, struct slice user,
			       struct slice realm)
{
	size_t i;

	if (!t || t->n == 0)
		return NULL;
	i = key_hash(user, realm) & t->mask;
	/* Bounded: the table is at most half full, so an empty slot
	 * comes within mask + 1 steps. */
	for (size_t step = 0; step <= t->mask; step++, i = (i + 1) & t->mask) {
		const struct user *u;

		if (!t->slots[i])
			return NULL;
		u = &t->users[t->slots[i] - 1];
		if (slice_eq(u->user, user) && slice_caseeq(u->realm, realm))
			return u;
	}
	return NULL;
}

void users_table_free(struct users_table *t)
{
	if (!t)
		return;
	free(t->text);
	free(t->users);
	free(t->slots);
	free(t);
}

size_t users_table_count(const struct users_table *t)
{
	return t ? t->n : 0;
}

static int fail(char *errbuf, size_t errlen, const char *name, unsigned line,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int fail(char *errbuf, size_t errlen, const char *name, unsigned line,
		const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (errbuf && errlen)
		snprintf(errbuf, errlen, "%s:%u: %s", name, line, why);
	return ERR_CONFIG;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Next blank-separated word of @p line from *ip; empty at the end. */
static struct slice word(struct slice line, size_t *ip)
{
	size_t i = *ip, j;

	while (i < line.len && is_blank(line.p[i]))
		i++;
	for (j = i; j < line.len && !is_blank(line.p[j]); j++)
		;
	*ip = j;
	return slice_make(line.p + i, j - i);
}

/* One non-comment line into @p u. */
static int parse_line(struct slice line, struct user *u, const char *name,
		      unsigned lineno, char *errbuf, size_t errlen)
{
	struct slice w, id;
	size_t i = 0;

	memset(u, 0, sizeof(*u));
	id = word(line, &i);
	if (!sipmsg_aor_split(id, &u->user, &u->realm) || !u->user.len ||
	    !u->realm.len)
		return fail(errbuf, errlen, name, lineno,
			    "expected user@realm, got '%.*s'",
			    (int)(id.len > 64 ? 64 : id.len), id.p);
	for (size_t k = 0; k < u->realm.len; k++)
		if (u->realm.p[k] >= 'A' && u->realm.p[k] <= 'Z')
			((char *)u->realm.p)[k] = (char)(u->realm.p[k] | 0x20);
	/* Bounded: each pass consumes one word or ends. */
	for (w = word(line, &i); w.len; w = word(line, &i)) {
		if (w.len > 4 && memcmp(w.p, "md5:", 4) == 0) {
			if (u->cred.algs & USERS_MD5)
				return fail(errbuf, errlen, name, lineno,
					    "md5 given twice");
			if (hex_parse(slice_make(w.p + 4, w.len - 4),
				      u->cred.md5, 16))
				return fail(errbuf, errlen, name, lineno,
					    "md5: needs 32 hex digits");
			u->cred.algs |= USERS_MD5;
		} else if (w.len > 7 && memcmp(w.p, "sha256:", 7) == 0) {
			if (u->cred.algs & USERS_SHA256)
				return fail(errbuf, errlen, name, lineno,
					    "sha256 given twice");
			if (hex_parse(slice_make(w.p + 7, w.len - 7),
				      u->cred.sha256, 32))
				return fail(errbuf, errlen, name, lineno,
					    "sha256: needs 64 hex digits");
			u->cred.algs |= USERS_SHA256;
		} else {
			return fail(errbuf, errlen, name, lineno,
				    "unknown field '%.*s' (md5:HEX or "
				    "sha256:HEX)",
				    (int)(w.len > 32 ? 32 : w.len), w.p);
		}
	}
	if (!u->cred.algs)
		return fail(errbuf, errlen, name, lineno,
			    "no md5: or sha256: value for %.*s",
			    (int)(id.len > 64 ? 64 : id.len), id.p);
	return 0;
}

static int build_slots(struct users_table *t)
{
	size_t cap = 16;

	while (cap < 2 * t->n + 2)
		cap *= 2;
	t->slots = calloc(cap, sizeof(*t->slots));
	if (!t->slots)
		return -ENOMEM;
	t->mask = cap - 1;
	return 0;
}

/* Insert user @p i; -EEXIST when the same user@realm is there. */
static int insert(struct users_table *t, size_t i)
{
	const struct user *u = &t->users[i];
	size_t s = key_hash(u->user, u->realm) & t->mask;

	for (size_t step = 0; step <= t->mask; step++, s = (s + 1) & t->mask) {
		if (!t->slots[s]) {
			t->slots[s] = (uint32_t)(i + 1);
			return 0;
		}
		if (slice_eq(t->users[t->slots[s] - 1].user, u->user) &&
		    slice_caseeq(t->users[t->slots[s] - 1].realm, u->realm))
			return -EEXIST;
	}
	return -ENOSPC;
}

int users_parse(const char *name, const char *text, size_t len,
		struct users_table **tp, char *errbuf, size_t errlen)
{
	struct users_table *t;
	const char *p, *end, *nl;
	size_t lines = 1, cap, k;
	unsigned lineno = 0;
	int err = -ENOMEM;

	t = calloc(1, sizeof(*t));
	if (!t)
		goto out;
	t->text = malloc(len + 1);
	if (!t->text)
		goto out;
	if (len)
		memcpy(t->text, text, len);
	t->text[len] = '\0';
	for (size_t i = 0; i < len; i++)
		lines += t->text[i] == '\n';
	cap = lines;
	t->users = calloc(cap, sizeof(*t->users));
	if (!t->users)
		goto out;
	err = 0;
	for (p = t->text, end = t->text + len; p < end; p = nl + 1) {
		struct slice line;

		lineno++;
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		line = slice_make(p, (size_t)(nl - p));
		if (line.len > USERS_LINE_MAX) {
			err = fail(errbuf, errlen, name, lineno,
				   "line longer than %d bytes", USERS_LINE_MAX);
			goto out;
		}
		k = 0;
		while (k < line.len && is_blank(line.p[k]))
			k++;
		if (k == line.len || line.p[k] == '#')
			continue;
		if (memchr(line.p, '\0', line.len)) {
			err = fail(errbuf, errlen, name, lineno,
				   "NUL byte in line");
			goto out;
		}
		err = parse_line(line, &t->users[t->n], name, lineno, errbuf,
				 errlen);
		if (err)
			goto out;
		t->n++;
	}
	err = build_slots(t);
	if (err)
		goto out;
	for (size_t i = 0; i < t->n; i++) {
		if (insert(t, i) != 0) {
			const struct user *u = &t->users[i];

			/* Find its line again for the message. */
			unsigned at = 0;

			for (const char *q = t->text; q < u->user.p; q++)
				at += *q == '\n';
			err = fail(errbuf, errlen, name, at + 1,
				   "%.*s@%.*s given twice", (int)u->user.len,
				   u->user.p, (int)u->realm.len, u->realm.p);
			goto out;
		}
	}
	*tp = t;
	t = NULL;
out:
	if (err == -ENOMEM && errbuf && errlen)
		snprintf(errbuf, errlen, "%s: %s", name, err_str(err));
	users_table_free(t);
	return err;
}

/* Swap @p t in; free the old table once no reader can see it. */
static void publish(struct users_table *t)
{
	struct users_table *old = rcu_xchg_pointer(&current, t);

	if (old) {
		urcu_memb_synchronize_rcu();
		users_table_free(old);
	}
}

long users_load(const char *path, char *errbuf, size_t errlen)
{
	struct users_table *t = NULL;
	char *text = NULL, *copy = NULL;
	size_t len = 0;
	long ret;

	ret = file_read(path, MAX_FILE, &text, &len);
	if (ret) {
		snprintf(errbuf, errlen, "%s: %s", path, err_str((int)ret));
		goto out;
	}
	ret = users_parse(path, text, len, &t, errbuf, errlen);
	if (ret)
		goto out;
	if (!current_path || strcmp(current_path, path) != 0) {
		copy = strdup(path);
		if (!copy) {
			ret = -ENOMEM;
			snprintf(errbuf, errlen, "%s: %s", path,
				 err_str((int)ret));
			goto out;
		}
		free(current_path);
		current_path = copy;
	}
	ret = (long)t->n;
	publish(t);
	t = NULL;
out:
	users_table_free(t);
	free(text);
	return ret;
}

long users_reload(void)
{
	char errbuf[512];
	char *path;
	long ret;

	if (!current_path) {
		log_msg(LOG_NOTICE, "users: no users file to reload");
		return -ENOENT;
	}
	/* users_load() may replace current_path: work on a copy. */
	path = strdup(current_path);
	if (!path)
		return -ENOMEM;
	ret = users_load(path, errbuf, sizeof(errbuf));
	if (ret < 0)
		log_msg(LOG_ERR,
			"users: reload failed, keeping the old "
			"table: %s",
			errbuf);
	else
		log_msg(LOG_NOTICE, "users: %s reloaded: %ld users", path, ret);
	free(path);
	return ret;
}

void users_fini(void)
{
	publish(NULL);
	free(current_path);
	current_path = NULL;
}

bool users_loaded(void)
{
	return CMM_LOAD_SHARED(current) != NULL;
}

int users_lookup(struct slice user, struct slice realm,
		 struct users_cred *credp)
{
	const struct user *u;
	int err = -ENOENT;

	urcu_memb_read_lock();
	u = find(rcu_dereference(current), user, realm);
	if (u) {
		*credp = u->cred;
		err = 0;
	}
	urcu_memb_read_unlock();
	return err;
}

bool users_exists(struct slice user, struct slice realm)
{
	bool found;

	urcu_memb_read_lock();
	found = find(rcu_dereference(current), user, realm) != NULL;
	urcu_memb_read_unlock();
	return found;
}
