/* proxy/mgmt/health.h - GET /health: whether a balancer should send
 * this node traffic */
#pragma once

#include <stddef.h>

struct rpc;

/** The page's content type. */
#define HEALTH_CONTENT_TYPE "application/json"

/**
 * An http_page_fn (proxy/mgmt/http.h) for GET /health, served without
 * the management token (a balancer's checker has none; the page tells
 * nothing but the state). @p arg is the node's struct rpc: once it is
 * quiesced (the node is stopping) the page answers 503 with
 * {"status":"stopping"} so the balancer drains the node; else 200 with
 * {"status":"ok"} and, with a Redis store, "redis":"up" or "down"
 * (down is "degraded", still 200: every node shares one Redis, and
 * taking them all out would turn a store outage into a total one; the
 * node serves from its own table meanwhile). Returns 200 or 503 with
 * *@p bodyp set, or -ENOMEM. Thread: the HTTP server's.
 */
int health_page(void *arg, char **bodyp, size_t *lenp);
