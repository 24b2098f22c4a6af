/* tests/common/corpus.c - read tests/corpus files and their manifests */
#include "tests/common/corpus.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *corpus_dir(void)
{
	const char *d = getenv("SIPEDGE_CORPUS");

	return d && *d ? d : "tests/corpus";
}

/* corpus_dir()/rel as a malloc'd string, or NULL. */
static char *path_of(const char *rel)
{
	char *path = NULL;

	if (asprintf(&path, "%s/%s", corpus_dir(), rel) < 0)
		return NULL;
	return path;
}

int corpus_read(const char *rel, char **datap, size_t *lenp)
{
	char *path = path_of(rel), *data = NULL;
	struct stat sb;
	size_t got = 0;
	int fd = -1, err;

	if (!path)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb)) {
		err = -errno;
		goto out;
	}
	data = malloc((size_t)sb.st_size + 1);
	if (!data) {
		err = -ENOMEM;
		goto out;
	}
	while (got < (size_t)sb.st_size) {
		ssize_t n = read(fd, data + got, (size_t)sb.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : -EIO;
			goto out;
		}
		got += (size_t)n;
	}
	data[got] = '\0';
	*datap = data;
	*lenp = got;
	data = NULL;
	err = 0;
out:
	free(data);
	if (fd >= 0)
		close(fd);
	free(path);
	return err;
}

void corpus_rows_free(struct corpus_row *rows, int nrows)
{
	if (!rows)
		return;
	for (int i = 0; i < nrows; i++)
		for (unsigned c = 0; c < rows[i].ncol; c++)
			free(rows[i].col[c]);
	free(rows);
}

/* Split @p line at tabs into @p row (each column malloc'd). */
static int split_row(char *line, struct corpus_row *row)
{
	char *tab;

	row->ncol = 0;
	for (;;) {
		size_t n;

		if (row->ncol == sizeof(row->col) / sizeof(row->col[0]))
			return 0;
		tab = strchr(line, '\t');
		n = tab ? (size_t)(tab - line) : strlen(line);
		row->col[row->ncol] = strndup(line, n);
		if (!row->col[row->ncol])
			return -ENOMEM;
		row->ncol++;
		if (!tab)
			return 0;
		line = tab + 1;
	}
}

int corpus_manifest(const char *rel, struct corpus_row **rowsp)
{
	struct corpus_row *rows = NULL, *grown;
	char *data = NULL, *line, *next;
	size_t len, cap = 0;
	int n = 0, err;
	bool header = true;

	err = corpus_read(rel, &data, &len);
	if (err)
		goto out;
	for (line = data; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (line[0] && line[strlen(line) - 1] == '\r')
			line[strlen(line) - 1] = '\0';
		if (header || !line[0]) {
			header = false;
			continue;
		}
		if ((size_t)n == cap) {
			cap = cap ? cap * 2 : 64;
			grown = realloc(rows, cap * sizeof(*rows));
			if (!grown) {
				err = -ENOMEM;
				goto out;
			}
			rows = grown;
		}
		err = split_row(line, &rows[n]);
		n++;
		if (err)
			goto out;
	}
	*rowsp = rows;
	rows = NULL;
	err = n;
out:
	corpus_rows_free(rows, n);
	free(data);
	return err;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void corpus_list_free(char **names, int n)
{
	if (!names)
		return;
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int corpus_list(const char *rel, const char *suffix, char ***namesp)
{
	char *path = path_of(rel), **names = NULL, **grown;
	size_t slen = strlen(suffix), cap = 0;
	struct dirent *de;
	DIR *dir = NULL;
	int n = 0, err;

	if (!path)
		return -ENOMEM;
	dir = opendir(path);
	if (!dir) {
		err = -errno;
		goto out;
	}
	while ((de = readdir(dir))) {
		size_t len = strlen(de->d_name);

		if (len < slen || strcmp(de->d_name + len - slen, suffix))
			continue;
		if ((size_t)n == cap) {
			cap = cap ? cap * 2 : 64;
			grown = realloc(names, cap * sizeof(*names));
			if (!grown) {
				err = -ENOMEM;
				goto out;
			}
			names = grown;
		}
		if (asprintf(&names[n], "%s/%s", rel, de->d_name) < 0) {
			err = -ENOMEM;
			goto out;
		}
		n++;
	}
	if (n)
		qsort(names, (size_t)n, sizeof(*names), cmp_names);
	*namesp = names;
	names = NULL;
	err = n;
out:
	corpus_list_free(names, n);
	if (dir)
		closedir(dir);
	free(path);
	return err;
}
