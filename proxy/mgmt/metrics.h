/* proxy/mgmt/metrics.h - GET /metrics: the registry as Prometheus text */
#pragma once

#include <stddef.h>

/** The media type of the page (Prometheus text exposition 0.0.4). */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/**
 * Print every source of the counters registry (proxy/base/stats.h) in
 * the Prometheus text format 0.0.4 into *@p bodyp (malloc'd, the
 * caller frees) of *@p lenp bytes:
 *  - a family per item name: "sipedge_MODULE_NAME", counters with
 *    "_total"; "# HELP" and "# TYPE" before each; no timestamps;
 *  - a source with one instance per shard labels each line
 *    shard="N"; an item of a family adds its label (method="INVITE");
 *  - histograms summed over the instances, buckets in seconds,
 *    cumulative, with "+Inf", "_sum" and "_count".
 * Errors: -ENOMEM (nothing is written to the out-parameters).
 * Thread: any (the HTTP server's); takes the registry's mutex, reads
 * relaxed, never waits on a shard.
 * Ownership: *@p bodyp is the caller's.
 */
int metrics_print(char **bodyp, size_t *lenp);

/**
 * metrics_print() as an http_page_fn (proxy/mgmt/http.h); @p arg is
 * unused.
 */
int metrics_page(void *arg, char **bodyp, size_t *lenp);
