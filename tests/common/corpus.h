/* tests/common/corpus.h - read tests/corpus files and their manifests */
#pragma once

#include <stddef.h>

/**
 * The corpus root: $SIPEDGE_CORPUS if set, else "tests/corpus"
 * (relative to the repository root, where make runs the tests).
 */
const char *corpus_dir(void);

/**
 * Read corpus file @p rel ("rfc4475/valid/wsinv.dat") whole.
 * Returns 0 with *datap (malloc'd, NUL-terminated for convenience; the
 * NUL is not counted in *lenp) or -errno.
 */
int corpus_read(const char *rel, char **datap, size_t *lenp);

/** One row of a MANIFEST.tsv: its tab-separated columns. */
struct corpus_row {
	char *col[10];
	unsigned ncol;
};

/**
 * Read the tab-separated manifest @p rel ("rfc4475/MANIFEST.tsv"),
 * skipping the header line. Returns the number of rows (>= 0) with
 * *rowsp malloc'd, or -errno. Free with corpus_rows_free().
 */
int corpus_manifest(const char *rel, struct corpus_row **rowsp);

/** Free rows from corpus_manifest(). */
void corpus_rows_free(struct corpus_row *rows, int nrows);

/**
 * List the files in corpus folder @p rel whose names end in @p suffix
 * (".sip", ".dat"), sorted. Returns the count with *namesp (malloc'd
 * array of malloc'd names, relative to the corpus root) or -errno.
 */
int corpus_list(const char *rel, const char *suffix, char ***namesp);

/** Free a list from corpus_list(). */
void corpus_list_free(char **names, int n);
