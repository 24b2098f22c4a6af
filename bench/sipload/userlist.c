/* bench/sipload/userlist.c - the users a run works with: a numeric range, one
 * name, or a CSV file of user,password[,domain] */
#include "bench/sipload/userlist.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/sipload/wbuf.h"
#include "proxy/base/hash.h"

struct csv_entry {
	uint32_t name_off, name_len;
	uint32_t pass_off, pass_len;
	uint32_t dom_off, dom_len;
};

struct userlist {
	bool is_range;
	uint64_t lo, hi;
	unsigned width; /* range: zero-padded width, 0 for none */
	char *single;	/* one name, or NULL */
	char *pattern;	/* password pattern (range and single) */
	/* CSV */
	char *text;
	struct csv_entry *ent;
	unsigned n;
	uint32_t *table; /* open addressing: entry index + 1, 0 empty */
	unsigned mask;
};

static bool is_name_char(char c)
{
	/* RFC 3261 §25.1 user: unreserved and user-unreserved, no escapes. */
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (c && strchr("-_.!~*'()&=+$,;?/", c));
}

int userlist_parse(const char *spec, const char *pattern, struct userlist **up)
{
	struct userlist *u = NULL;
	const char *dash;
	const char *p;
	int err = 0;

	if (!spec || !*spec || !pattern)
		return -EINVAL;
	for (p = spec; *p; p++)
		if (!is_name_char(*p))
			return -EINVAL;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->pattern = strdup(pattern);
	if (!u->pattern) {
		err = -ENOMEM;
		goto out;
	}
	dash = strchr(spec, '-');
	if (dash && dash != spec &&
	    strspn(spec, "0123456789") == (size_t)(dash - spec) && dash[1] &&
	    strspn(dash + 1, "0123456789") == strlen(dash + 1)) {
		uint64_t lo = 0, hi = 0;

		if (dash - spec > 18 || strlen(dash + 1) > 18) {
			err = -EINVAL;
			goto out;
		}
		for (p = spec; p < dash; p++)
			lo = lo * 10 + (uint64_t)(*p - '0');
		for (p = dash + 1; *p; p++)
			hi = hi * 10 + (uint64_t)(*p - '0');
		if (hi < lo || hi - lo >= USERLIST_MAX) {
			err = -EINVAL;
			goto out;
		}
		u->is_range = true;
		u->lo = lo;
		u->hi = hi;
		if (spec[0] == '0' && dash - spec > 1)
			u->width = (unsigned)(dash - spec);
	} else {
		u->single = strdup(spec);
		if (!u->single) {
			err = -ENOMEM;
			goto out;
		}
	}
	*up = u;
	u = NULL;
out:
	userlist_free(u);
	return err;
}

static uint64_t name_hash(struct slice s)
{
	return hash_slice(s, 0x5eed);
}

static struct slice ent_slice(const struct userlist *u, uint32_t off,
			      uint32_t len)
{
	return slice_make(u->text + off, len);
}

int userlist_load_csv(const char *path, struct userlist **up, char *why,
		      size_t why_size)
{
	struct userlist *u = NULL;
	FILE *f = NULL;
	long size;
	size_t got;
	unsigned cap = 0;
	unsigned lineno = 0;
	char *p, *end;
	int err = 0;
	unsigned i;

	snprintf(why, why_size, "%s", "");
	f = fopen(path, "r");
	if (!f) {
		err = -errno;
		snprintf(why, why_size, "%s: %s", path, strerror(errno));
		goto out;
	}
	u = calloc(1, sizeof(*u));
	if (!u) {
		err = -ENOMEM;
		goto out;
	}
	if (fseek(f, 0, SEEK_END) < 0 || (size = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) < 0) {
		err = -errno;
		goto out;
	}
	if (size > (1L << 30)) {
		err = -EINVAL;
		snprintf(why, why_size, "%s: larger than 1 GiB", path);
		goto out;
	}
	u->text = malloc((size_t)size + 1);
	if (!u->text) {
		err = -ENOMEM;
		goto out;
	}
	got = fread(u->text, 1, (size_t)size, f);
	u->text[got] = '\0';
	p = u->text;
	end = u->text + got;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *le = nl ? nl : end;
		char *c1, *c2;
		struct csv_entry *e;

		lineno++;
		if (le > p && le[-1] == '\r')
			le--;
		if (le == p || *p == '#')
			goto next;
		c1 = memchr(p, ',', (size_t)(le - p));
		if (!c1 || c1 == p) {
			err = -EINVAL;
			snprintf(why, why_size,
				 "%s:%u: expected user,password[,domain]", path,
				 lineno);
			goto out;
		}
		c2 = memchr(c1 + 1, ',', (size_t)(le - c1 - 1));
		if (u->n == cap) {
			unsigned ncap = cap ? cap * 2 : 64;
			struct csv_entry *ne;

			if (u->n >= USERLIST_MAX) {
				err = -EINVAL;
				snprintf(why, why_size, "%s: too many users",
					 path);
				goto out;
			}
			ne = realloc(u->ent, ncap * sizeof(*ne));
			if (!ne) {
				err = -ENOMEM;
				goto out;
			}
			u->ent = ne;
			cap = ncap;
		}
		e = &u->ent[u->n];
		e->name_off = (uint32_t)(p - u->text);
		e->name_len = (uint32_t)(c1 - p);
		e->pass_off = (uint32_t)(c1 + 1 - u->text);
		e->pass_len = (uint32_t)((c2 ? c2 : le) - c1 - 1);
		e->dom_off = c2 ? (uint32_t)(c2 + 1 - u->text) : 0;
		e->dom_len = c2 ? (uint32_t)(le - c2 - 1) : 0;
		for (i = 0; i < e->name_len; i++) {
			if (!is_name_char(p[i])) {
				err = -EINVAL;
				snprintf(why, why_size,
					 "%s:%u: bad character in user name",
					 path, lineno);
				goto out;
			}
		}
		u->n++;
	next:
		p = nl ? nl + 1 : end;
	}
	if (!u->n) {
		err = -EINVAL;
		snprintf(why, why_size, "%s: no users", path);
		goto out;
	}
	/* A table at most half full for userlist_password(). */
	for (u->mask = 1; u->mask < 2 * u->n; u->mask <<= 1)
		;
	u->table = calloc(u->mask, sizeof(*u->table));
	if (!u->table) {
		err = -ENOMEM;
		goto out;
	}
	u->mask--;
	for (i = 0; i < u->n; i++) {
		struct slice name =
		    ent_slice(u, u->ent[i].name_off, u->ent[i].name_len);
		uint64_t h = name_hash(name) & u->mask;

		while (u->table[h])
			h = (h + 1) & u->mask;
		u->table[h] = i + 1;
	}
	*up = u;
	u = NULL;
out:
	if (f)
		fclose(f);
	userlist_free(u);
	return err;
}

void userlist_free(struct userlist *u)
{
	if (!u)
		return;
	free(u->single);
	free(u->pattern);
	free(u->text);
	free(u->ent);
	free(u->table);
	free(u);
}

unsigned userlist_count(const struct userlist *u)
{
	if (u->is_range)
		return (unsigned)(u->hi - u->lo + 1);
	if (u->single)
		return 1;
	return u->n;
}

void userlist_name(const struct userlist *u, unsigned i, struct wbuf *b)
{
	if (u->is_range)
		wbuf_u64_pad(b, u->lo + i, u->width);
	else if (u->single)
		wbuf_str(b, u->single);
	else
		wbuf_slice(
		    b, ent_slice(u, u->ent[i].name_off, u->ent[i].name_len));
}

struct slice userlist_domain(const struct userlist *u, unsigned i)
{
	if (u->is_range || u->single)
		return slice_make("", 0);
	return ent_slice(u, u->ent[i].dom_off, u->ent[i].dom_len);
}

static void expand(const char *pattern, struct slice name, struct wbuf *b)
{
	const char *p;

	for (p = pattern; *p; p++) {
		if (p[0] == '%' && p[1] == 'u') {
			wbuf_slice(b, name);
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			wbuf_ch(b, '%');
			p++;
		} else {
			wbuf_ch(b, *p);
		}
	}
}

int userlist_password(const struct userlist *u, struct slice name,
		      struct wbuf *b)
{
	uint64_t h;

	if (u->is_range) {
		uint64_t v = 0;
		size_t i;

		if (!name.len || name.len > 18 ||
		    (u->width && name.len != u->width) ||
		    (!u->width && name.len > 1 && name.p[0] == '0'))
			return -ENOENT;
		for (i = 0; i < name.len; i++) {
			if (name.p[i] < '0' || name.p[i] > '9')
				return -ENOENT;
			v = v * 10 + (uint64_t)(name.p[i] - '0');
		}
		if (v < u->lo || v > u->hi)
			return -ENOENT;
		expand(u->pattern, name, b);
		return 0;
	}
	if (u->single) {
		if (!slice_eq(name, slice_cstr(u->single)))
			return -ENOENT;
		expand(u->pattern, name, b);
		return 0;
	}
	for (h = name_hash(name) & u->mask; u->table[h];
	     h = (h + 1) & u->mask) {
		const struct csv_entry *e = &u->ent[u->table[h] - 1];

		if (slice_eq(name, ent_slice(u, e->name_off, e->name_len))) {
			wbuf_slice(b, ent_slice(u, e->pass_off, e->pass_len));
			return 0;
		}
	}
	return -ENOENT;
}

void userlist_password_at(const struct userlist *u, unsigned i, struct wbuf *b)
{
	char tmp[64];
	struct wbuf nb = wbuf_make(tmp, sizeof(tmp));

	if (!u->is_range && !u->single) {
		wbuf_slice(
		    b, ent_slice(u, u->ent[i].pass_off, u->ent[i].pass_len));
		return;
	}
	userlist_name(u, i, &nb);
	expand(u->pattern, slice_make(tmp, nb.len), b);
}
