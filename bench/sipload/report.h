/* bench/sipload/report.h - the end-of-run report: text for people, JSON
 * for scripts */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct worker_stats;

/** One step of --search. */
struct report_step {
	double rate;	 /**< offered, operations/s */
	double achieved; /**< started / start window */
	uint64_t started;
	uint64_t succeeded;
	uint64_t failed;
	uint64_t unfinished;
	uint64_t skipped;
	double cpu_s;
	uint64_t p99_final_us;
	bool clean; /**< no failure, nothing unfinished or skipped */
};

/** What a run produced. The caller fills it; nothing is owned. */
struct report {
	const char *version;
	const char *scenario;
	const char *transport;
	const char *roles;
	const char *target; /**< "" when not a UAC */
	const char *listen; /**< "" when not a UAS */
	unsigned threads;
	double rate; /**< asked for, all threads; 0: unpaced */
	double ramp_s;
	bool uac;
	const struct worker_stats *st;
	double cpu_user_s;
	double cpu_sys_s;
	const struct report_step *steps; /**< --search, else NULL */
	unsigned nsteps;
	double best_rate; /**< --search: highest clean rate, 0 if none */
};

/** Print @p r for people. */
void report_text(FILE *f, const struct report *r);

/**
 * True when @p st counts 3pcc answers (in ACKs to the UAS) that were
 * missing or wrong, or offers whose ACK never came: failed calls of the
 * UAS, exit status 1.
 */
bool report_uas_3pcc_failed(const struct worker_stats *st);

/** Print @p r as one JSON object and a newline. */
void report_json(FILE *f, const struct report *r);
