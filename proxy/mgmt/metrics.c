/* proxy/mgmt/metrics.c - GET /metrics: the registry as Prometheus text */
#include "proxy/mgmt/metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/base/stats.h"

/*
 * stats_foreach() hands the instances of a source over one by one; a
 * family's lines must be together, so each source is gathered whole
 * (every instance's values) and printed at its last instance.
 */
struct page {
	FILE *f;
	uint64_t *values; /* ninst rows of STATS_MAX_ITEMS */
	unsigned cap;	  /* rows in values */
	struct stats_hist hists[STATS_MAX_HISTS]; /* summed over instances */
	bool failed;
};

/* HELP text: backslash and line feed escaped (format 0.0.4). */
static void put_help(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

/* A label value: backslash, double quote and line feed escaped. */
static void put_value(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void put_header(FILE *f, const struct stats_source *src,
		       const struct stats_item *it, const char *type,
		       const char *suffix)
{
	fprintf(f, "# HELP sipedge_%s_%s%s ", src->module, it->name, suffix);
	put_help(f, it->help);
	fprintf(f, "\n# TYPE sipedge_%s_%s%s %s\n", src->module, it->name,
		suffix, type);
}

static const struct stats_label *label_of(const struct stats_source *src,
					  unsigned k)
{
	return src->labels && src->labels[k].name ? &src->labels[k] : NULL;
}

/* One line: instance @p inst of item @p k. */
static void put_line(FILE *f, const struct stats_source *src, unsigned k,
		     unsigned inst, uint64_t v)
{
	const struct stats_item *it = &src->items[k];
	const struct stats_label *lb = label_of(src, k);
	bool per_inst = src->ninst > 1 || src->label;
	const char *sep = "{";

	fprintf(f, "sipedge_%s_%s%s", src->module, it->name,
		it->gauge ? "" : "_total");
	if (per_inst) {
		fprintf(f, "%s%s=\"%u\"", sep,
			src->label ? src->label : "instance", inst);
		sep = ",";
	}
	if (lb) {
		fprintf(f, "%s%s=\"", sep, lb->name);
		put_value(f, lb->value);
		fputc('"', f);
		sep = ",";
	}
	fprintf(f, "%s %" PRIu64 "\n", *sep == ',' ? "}" : "", v);
}

/* Seconds from microseconds, exactly: "0.0005", "2.5", "60". */
static void put_seconds(FILE *f, uint64_t us)
{
	char frac[8];
	int n;

	if (us % 1000000 == 0) {
		fprintf(f, "%" PRIu64, us / 1000000);
		return;
	}
	n = snprintf(frac, sizeof(frac), "%06" PRIu64, us % 1000000);
	while (n > 1 && frac[n - 1] == '0')
		frac[--n] = '\0';
	fprintf(f, "%" PRIu64 ".%s", us / 1000000, frac);
}

static void put_hist(FILE *f, const struct stats_source *src,
		     const struct stats_item *it, const struct stats_hist *h)
{
	const char *m = src->module, *name = it->name;
	uint64_t cum = 0;

	put_header(f, src, it, "histogram", "");
	for (unsigned i = 0; i < STATS_HIST_BOUNDS; i++) {
		cum += h->bucket[i];
		fprintf(f, "sipedge_%s_%s_bucket{le=\"", m, name);
		put_seconds(f, stats_hist_bounds_us[i]);
		fprintf(f, "\"} %" PRIu64 "\n", cum);
	}
	cum += h->bucket[STATS_HIST_BOUNDS];
	fprintf(f, "sipedge_%s_%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", m, name,
		cum);
	fprintf(f, "sipedge_%s_%s_sum ", m, name);
	put_seconds(f, h->sum_us);
	fprintf(f, "\nsipedge_%s_%s_count %" PRIu64 "\n", m, name, cum);
}

static void put_source(struct page *pg, const struct stats_source *src)
{
	FILE *f = pg->f;

	for (unsigned k = 0; k < src->nitems; k++) {
		const struct stats_item *it = &src->items[k];
		unsigned end = k + 1;

		/* A family: the adjacent labelled items of one name. */
		if (label_of(src, k))
			while (end < src->nitems && label_of(src, end) &&
			       strcmp(src->items[end].name, it->name) == 0)
				end++;
		put_header(f, src, it, it->gauge ? "gauge" : "counter",
			   it->gauge ? "" : "_total");
		for (unsigned j = k; j < end; j++)
			for (unsigned inst = 0; inst < src->ninst; inst++)
				put_line(
				    f, src, j, inst,
				    pg->values[inst * STATS_MAX_ITEMS + j]);
		k = end - 1;
	}
	for (unsigned k = 0; k < src->nhists; k++)
		put_hist(f, src, &src->hists[k], &pg->hists[k]);
}

static void each(void *ctx, const struct stats_source *src, unsigned inst,
		 const uint64_t *values, const struct stats_hist *hists)
{
	struct page *pg = ctx;

	if (pg->failed)
		return;
	if (inst == 0) {
		memset(pg->hists, 0, sizeof(pg->hists));
		if (src->ninst > pg->cap) {
			uint64_t *v = realloc(pg->values, (size_t)src->ninst *
							      STATS_MAX_ITEMS *
							      sizeof(*v));

			if (!v) {
				pg->failed = true;
				return;
			}
			pg->values = v;
			pg->cap = src->ninst;
		}
	}
	if (inst >= pg->cap) {
		pg->failed = true; /* the source grew: not ours to guess */
		return;
	}
	memcpy(&pg->values[inst * STATS_MAX_ITEMS], values,
	       src->nitems * sizeof(*values));
	for (unsigned k = 0; k < src->nhists; k++)
		stats_hist_add(&pg->hists[k], &hists[k]);
	if (inst + 1 == src->ninst)
		put_source(pg, src);
}

int metrics_print(char **bodyp, size_t *lenp)
{
	struct page pg = { .f = NULL };
	char *buf = NULL;
	size_t len = 0;
	int err = 0;

	pg.f = open_memstream(&buf, &len);
	if (!pg.f)
		return -ENOMEM;
	stats_foreach(each, &pg);
	if (fclose(pg.f) != 0 || pg.failed || !buf) {
		err = -ENOMEM;
		goto out;
	}
	*bodyp = buf;
	*lenp = len;
	buf = NULL;
out:
	free(buf);
	free(pg.values);
	return err;
}

int metrics_page(void *arg, char **bodyp, size_t *lenp)
{
	(void)arg;
	return metrics_print(bodyp, lenp);
}
