/* bench/sipload/report.c - the end-of-run report: text for people, JSON
 * for scripts */
#include "bench/sipload/report.h"

#include "bench/sipload/worker.h"
#include "proxy/sip/msg.h"

static double per_s(uint64_t n, int64_t us)
{
	return us > 0 ? (double)n * 1e6 / (double)us : 0;
}

/* Operations the CPU figure is divided by. */
static uint64_t ops(const struct report *r)
{
	return r->uac ? r->st->started : r->st->uas_ops;
}

static double cpu_per_op_us(const struct report *r)
{
	uint64_t n = ops(r);

	return n ? (r->cpu_user_s + r->cpu_sys_s) * 1e6 / (double)n : 0;
}

static double achieved(const struct report *r)
{
	return per_s(r->st->started, r->st->window_us);
}

static double offered(const struct report *r)
{
	if (r->rate <= 0)
		return achieved(r);
	return per_s((uint64_t)(r->st->offered + 0.5), r->st->window_us);
}

static void lat_row(FILE *f, const char *name, const struct hist *h)
{
	fprintf(f, "  %-8s %8llu %9.3f %9.3f %9.3f %9.3f %9.3f\n", name,
		(unsigned long long)h->count, hist_percentile(h, 50) / 1000.0,
		hist_percentile(h, 90) / 1000.0,
		hist_percentile(h, 99) / 1000.0,
		hist_percentile(h, 99.9) / 1000.0, h->max / 1000.0);
}

static uint64_t answers_bad(const struct worker_stats *st)
{
	uint64_t n = 0;
	unsigned i;

	for (i = SDPOA_OK + 1; i < SDPOA__VERDICTS; i++)
		n += st->uas_answer_bad[i];
	return n;
}

bool report_uas_3pcc_failed(const struct worker_stats *st)
{
	return answers_bad(st) > 0 || st->uas_3pcc_ack_timeouts > 0;
}

void report_text(FILE *f, const struct report *r)
{
	const struct worker_stats *st = r->st;
	unsigned i;
	bool any = false;

	if (r->uac)
		fprintf(f, "sipload %s: scenario %s over %s, role %s, ",
			r->version, r->scenario, r->transport, r->roles);
	else
		fprintf(f, "sipload %s: UAS over %s, ", r->version,
			r->transport);
	fprintf(f, "%u thread%s\n", r->threads, r->threads == 1 ? "" : "s");
	if (r->target[0])
		fprintf(f, "target      %s\n", r->target);
	if (r->listen[0])
		fprintf(f, "listen      %s\n", r->listen);
	fprintf(f, "time        %.2f s (starting for %.2f s)\n",
		st->elapsed_us / 1e6, st->window_us / 1e6);
	if (r->uac) {
		fprintf(f,
			"rate        offered %.1f/s  achieved %.1f/s  "
			"succeeded %.1f/s\n",
			offered(r), achieved(r),
			per_s(st->succeeded, st->window_us));
		fprintf(
		    f,
		    "operations  started %llu  succeeded %llu  failed %llu  "
		    "timeouts %llu  unfinished %llu  skipped %llu\n",
		    (unsigned long long)st->started,
		    (unsigned long long)st->succeeded,
		    (unsigned long long)st->failed,
		    (unsigned long long)st->timeouts,
		    (unsigned long long)st->unfinished,
		    (unsigned long long)st->skipped);
		fprintf(f, "failures   ");
		for (i = 0; i < WORKER_STATUS_MAX; i++) {
			if (!st->fail_status[i])
				continue;
			fprintf(f, " %u: %llu", i,
				(unsigned long long)st->fail_status[i]);
			any = true;
		}
		if (st->timeouts) {
			fprintf(f, " timeout: %llu",
				(unsigned long long)st->timeouts);
			any = true;
		}
		if (st->fail_other) {
			fprintf(f, " other: %llu",
				(unsigned long long)st->fail_other);
			any = true;
		}
		fprintf(f, "%s\n", any ? "" : " none");
		if (st->challenges)
			fprintf(f, "auth        %llu challenges answered\n",
				(unsigned long long)st->challenges);
	}
	fprintf(
	    f,
	    "messages    in %llu  out %llu  retransmitted %llu  "
	    "duplicates %llu  stray %llu  bad %llu  dropped %llu  "
	    "send errors %llu\n",
	    (unsigned long long)st->msgs_in, (unsigned long long)st->msgs_out,
	    (unsigned long long)st->retx_sent, (unsigned long long)st->dup_rcvd,
	    (unsigned long long)st->stray, (unsigned long long)st->bad_msgs,
	    (unsigned long long)st->dropped,
	    (unsigned long long)st->send_errors);
	if (r->uac) {
		fprintf(f, "latency ms     count       p50       p90       p99"
			   "     p99.9       max\n");
		lat_row(f, "1xx", &st->lat_first);
		lat_row(f, "final", &st->lat_final);
	}
	fprintf(f,
		"cpu         %.3f s (user %.3f, system %.3f)  %.1f us per "
		"operation\n",
		r->cpu_user_s + r->cpu_sys_s, r->cpu_user_s, r->cpu_sys_s,
		cpu_per_op_us(r));
	if (st->uas_ops || st->msgs_in) {
		fprintf(f, "uas         operations %llu",
			(unsigned long long)st->uas_ops);
		for (i = 1; i < 16; i++) {
			if (!st->uas_requests[i])
				continue;
			fprintf(f, "  %.*s %llu",
				(int)sip_method_name((enum sip_method)i).len,
				sip_method_name((enum sip_method)i).p,
				(unsigned long long)st->uas_requests[i]);
		}
		fprintf(f, "\n");
		if (st->uas_ack_timeouts || st->uas_prack_timeouts ||
		    st->uas_busy || st->uas_auth_ok || st->uas_auth_fail)
			fprintf(f,
				"            ack timeouts %llu  prack timeouts "
				"%llu  busy %llu  auth ok %llu  auth failed "
				"%llu\n",
				(unsigned long long)st->uas_ack_timeouts,
				(unsigned long long)st->uas_prack_timeouts,
				(unsigned long long)st->uas_busy,
				(unsigned long long)st->uas_auth_ok,
				(unsigned long long)st->uas_auth_fail);
		if (st->uas_offerless) {
			fprintf(
			    f,
			    "uas 3pcc    offerless INVITEs %llu  with offer "
			    "%llu  answers ok %llu  failed %llu  no ACK %llu",
			    (unsigned long long)st->uas_offerless,
			    (unsigned long long)st->uas_with_offer,
			    (unsigned long long)st->uas_answers_ok,
			    (unsigned long long)answers_bad(st),
			    (unsigned long long)st->uas_3pcc_ack_timeouts);
			for (i = SDPOA_OK + 1; i < SDPOA__VERDICTS; i++)
				if (st->uas_answer_bad[i])
					fprintf(f, "  %s: %llu",
						sdpoa_verdict_name(
						    (enum sdpoa_verdict)i),
						(unsigned long long)
						    st->uas_answer_bad[i]);
			fprintf(f, "\n");
			fprintf(f, "latency ms     count       p50       p90 "
				   "      p99     p99.9       max\n");
			lat_row(f, "answer", &st->uas_lat_answer);
		}
	}
	if (r->uac && st->bad_offers)
		fprintf(f, "3pcc        %llu 2xx without a usable offer\n",
			(unsigned long long)st->bad_offers);
	if (r->steps) {
		fprintf(f,
			"search      step  offered/s  achieved/s   started   "
			"failed  unfinished  clean\n");
		for (i = 0; i < r->nsteps; i++) {
			const struct report_step *s = &r->steps[i];

			fprintf(f,
				"            %4u %10.0f %11.0f %9llu %8llu "
				"%11llu  %s\n",
				i + 1, s->rate, s->achieved,
				(unsigned long long)s->started,
				(unsigned long long)s->failed,
				(unsigned long long)s->unfinished,
				s->clean ? "yes" : "no");
		}
		fprintf(f, "best        %.0f operations/s with 0 failures\n",
			r->best_rate);
	}
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void json_hist(FILE *f, const char *name, const struct hist *h)
{
	fprintf(f,
		"\"%s\":{\"count\":%llu,\"p50\":%llu,\"p90\":%llu,"
		"\"p99\":%llu,\"p99_9\":%llu,\"max\":%llu,\"mean\":%.1f}",
		name, (unsigned long long)h->count,
		(unsigned long long)hist_percentile(h, 50),
		(unsigned long long)hist_percentile(h, 90),
		(unsigned long long)hist_percentile(h, 99),
		(unsigned long long)hist_percentile(h, 99.9),
		(unsigned long long)h->max,
		h->count ? (double)h->sum / (double)h->count : 0.0);
}

void report_json(FILE *f, const struct report *r)
{
	const struct worker_stats *st = r->st;
	unsigned i;
	bool first = true;

	fprintf(f, "{\"version\":");
	json_str(f, r->version);
	fprintf(f, ",\"scenario\":");
	json_str(f, r->scenario);
	fprintf(f, ",\"transport\":");
	json_str(f, r->transport);
	fprintf(f, ",\"role\":");
	json_str(f, r->roles);
	fprintf(f, ",\"target\":");
	json_str(f, r->target);
	fprintf(f, ",\"listen\":");
	json_str(f, r->listen);
	fprintf(f, ",\"threads\":%u,\"rate\":%.3f,\"ramp_s\":%.3f", r->threads,
		r->rate, r->ramp_s);
	fprintf(f,
		",\"rate_offered\":%.3f,\"rate_achieved\":%.3f,"
		"\"window_s\":%.6f,\"elapsed_s\":%.6f",
		r->uac ? offered(r) : 0.0, r->uac ? achieved(r) : 0.0,
		st->window_us / 1e6, st->elapsed_us / 1e6);
	fprintf(
	    f,
	    ",\"started\":%llu,\"succeeded\":%llu,\"failed\":%llu,"
	    "\"timeouts\":%llu,\"unfinished\":%llu,\"skipped\":%llu",
	    (unsigned long long)st->started, (unsigned long long)st->succeeded,
	    (unsigned long long)st->failed, (unsigned long long)st->timeouts,
	    (unsigned long long)st->unfinished,
	    (unsigned long long)st->skipped);
	fprintf(f, ",\"failures\":{");
	for (i = 0; i < WORKER_STATUS_MAX; i++) {
		if (!st->fail_status[i])
			continue;
		fprintf(f, "%s\"%u\":%llu", first ? "" : ",", i,
			(unsigned long long)st->fail_status[i]);
		first = false;
	}
	if (st->timeouts) {
		fprintf(f, "%s\"timeout\":%llu", first ? "" : ",",
			(unsigned long long)st->timeouts);
		first = false;
	}
	if (st->fail_other)
		fprintf(f, "%s\"other\":%llu", first ? "" : ",",
			(unsigned long long)st->fail_other);
	fprintf(
	    f,
	    "},\"challenges\":%llu,\"retransmissions\":%llu,"
	    "\"duplicates\":%llu,\"stray\":%llu,\"bad_messages\":%llu,"
	    "\"dropped\":%llu,\"send_errors\":%llu,"
	    "\"messages_in\":%llu,\"messages_out\":%llu",
	    (unsigned long long)st->challenges,
	    (unsigned long long)st->retx_sent, (unsigned long long)st->dup_rcvd,
	    (unsigned long long)st->stray, (unsigned long long)st->bad_msgs,
	    (unsigned long long)st->dropped,
	    (unsigned long long)st->send_errors,
	    (unsigned long long)st->msgs_in, (unsigned long long)st->msgs_out);
	fprintf(f, ",\"latency_us\":{");
	json_hist(f, "first", &st->lat_first);
	fprintf(f, ",");
	json_hist(f, "final", &st->lat_final);
	fprintf(f,
		"},\"cpu_s\":%.6f,\"cpu_user_s\":%.6f,\"cpu_sys_s\":%.6f,"
		"\"cpu_us_per_op\":%.3f",
		r->cpu_user_s + r->cpu_sys_s, r->cpu_user_s, r->cpu_sys_s,
		cpu_per_op_us(r));
	fprintf(f, ",\"uas\":{\"ops\":%llu,\"requests\":{",
		(unsigned long long)st->uas_ops);
	first = true;
	for (i = 1; i < 16; i++) {
		struct slice n = sip_method_name((enum sip_method)i);

		if (!st->uas_requests[i])
			continue;
		fprintf(f, "%s\"%.*s\":%llu", first ? "" : ",", (int)n.len, n.p,
			(unsigned long long)st->uas_requests[i]);
		first = false;
	}
	fprintf(f,
		"},\"ack_timeouts\":%llu,\"prack_timeouts\":%llu,"
		"\"busy\":%llu,\"auth_ok\":%llu,\"auth_failed\":%llu",
		(unsigned long long)st->uas_ack_timeouts,
		(unsigned long long)st->uas_prack_timeouts,
		(unsigned long long)st->uas_busy,
		(unsigned long long)st->uas_auth_ok,
		(unsigned long long)st->uas_auth_fail);
	/* 3pcc: INVITEs without an offer and the answers in their ACKs. */
	fprintf(f,
		",\"3pcc\":{\"offerless\":%llu,\"with_offer\":%llu,"
		"\"answers_checked\":%llu,\"answers_ok\":%llu,"
		"\"answers_missing\":%llu,\"answers_invalid\":%llu,"
		"\"ack_timeouts\":%llu,\"answer_failures\":{",
		(unsigned long long)st->uas_offerless,
		(unsigned long long)st->uas_with_offer,
		(unsigned long long)(st->uas_answers_ok + answers_bad(st)),
		(unsigned long long)st->uas_answers_ok,
		(unsigned long long)st->uas_answer_bad[SDPOA_MISSING],
		(unsigned long long)(answers_bad(st) -
				     st->uas_answer_bad[SDPOA_MISSING]),
		(unsigned long long)st->uas_3pcc_ack_timeouts);
	for (i = SDPOA_OK + 1; i < SDPOA__VERDICTS; i++)
		fprintf(f, "%s\"%s\":%llu", i > SDPOA_OK + 1 ? "," : "",
			sdpoa_verdict_name((enum sdpoa_verdict)i),
			(unsigned long long)st->uas_answer_bad[i]);
	fprintf(f, "},\"latency_us\":{");
	json_hist(f, "answer", &st->uas_lat_answer);
	fprintf(f, "}}}");
	fprintf(f, ",\"bad_offers\":%llu", (unsigned long long)st->bad_offers);
	if (r->steps) {
		fprintf(f, ",\"search\":{\"best_rate\":%.3f,\"steps\":[",
			r->best_rate);
		for (i = 0; i < r->nsteps; i++) {
			const struct report_step *s = &r->steps[i];

			fprintf(f,
				"%s{\"rate\":%.3f,\"achieved\":%.3f,"
				"\"started\":%llu,\"succeeded\":%llu,"
				"\"failed\":%llu,\"unfinished\":%llu,"
				"\"skipped\":%llu,\"cpu_s\":%.6f,"
				"\"p99_final_us\":%llu,\"clean\":%s}",
				i ? "," : "", s->rate, s->achieved,
				(unsigned long long)s->started,
				(unsigned long long)s->succeeded,
				(unsigned long long)s->failed,
				(unsigned long long)s->unfinished,
				(unsigned long long)s->skipped, s->cpu_s,
				(unsigned long long)s->p99_final_us,
				s->clean ? "true" : "false");
		}
		fprintf(f, "]}");
	}
	fprintf(f, "}\n");
}
