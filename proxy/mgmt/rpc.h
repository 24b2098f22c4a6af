/* proxy/mgmt/rpc.h - JSON-RPC 2.0: methods, batches, answers from any thread
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct post;

/*
 * The engine between the HTTP server (proxy/mgmt/http) and the methods.
 * A request body is parsed on the server's thread; each call is posted
 * to the control thread's mailbox (proxy/core/post), where its method
 * runs. A method answers at once, or later from any thread (after a
 * shard_post() round trip): the engine collects the answers of a batch
 * and hands the whole response back when the last one arrives. Nothing
 * here blocks a shard or the control thread.
 */

/** JSON-RPC 2.0 error codes (the spec's, then sipedge's own). */
enum {
	RPC_PARSE_ERROR = -32700,
	RPC_INVALID_REQUEST = -32600,
	RPC_METHOD_NOT_FOUND = -32601,
	RPC_INVALID_PARAMS = -32602,
	RPC_INTERNAL_ERROR = -32603,
	/* server errors, -32000 .. -32099 */
	RPC_BUSY = -32000,	   /**< a queue is full; try again */
	RPC_UNAUTHORIZED = -32001, /**< no or a wrong bearer token */
	RPC_NOT_FOUND = -32002,	   /**< no such AOR, dialog, ... */
	RPC_REFUSED = -32003,	   /**< e.g. a reload that needs a restart */
	RPC_STOPPING = -32004,	   /**< sipedge is shutting down */
	RPC_UNAVAILABLE = -32005,  /**< the feature is off or not built */
};

/** The most calls one batch may hold. */
#define RPC_MAX_BATCH 256

/** The engine: its methods and the mailbox they run from. */
struct rpc;

/** One call waiting for its answer (rpc_reply() or rpc_error()). */
struct rpc_call;

/**
 * A method: runs on the control thread (a registered RCU thread) with
 * @p params, the call's "params" (an array, an object, or NULL when
 * absent), borrowed for the call (json_incref() to keep them). It must
 * answer @p call exactly once, now or later, from any thread, with
 * rpc_reply() or rpc_error(); it must not block.
 */
typedef void rpc_method_fn(struct rpc_call *call, json_t *params, void *arg);

/**
 * An engine whose methods run from @p control (the control loop's
 * mailbox), or inline on the parsing thread when @p control is NULL
 * (unit tests). Errors: -ENOMEM. Thread: control.
 * Ownership: rpc_free().
 */
int rpc_new(struct post *control, struct rpc **rp);

/**
 * Add method @p name (e.g. "core.version"). Errors: -EEXIST (a method
 * of that name), -ENOMEM. Thread: control, before any request comes.
 */
int rpc_method_add(struct rpc *r, const char *name, rpc_method_fn *fn,
		   void *arg);

/**
 * Called once with the whole response: @p json (a NUL-terminated JSON
 * text, malloc'd, the callee frees it), or NULL when the request had
 * only notifications (nothing to answer: HTTP 204). Thread: whichever
 * answered the last call of the request.
 */
typedef void rpc_done_fn(void *arg, char *json);

/**
 * Handle one request body @p body (@p len bytes): parse it (a single
 * call or a batch), run each call's method, and call @p done once with
 * the response. Parse errors and invalid requests are answered without
 * running anything. Thread: any (the HTTP server's).
 */
void rpc_handle(struct rpc *r, const char *body, size_t len, rpc_done_fn *done,
		void *arg);

/**
 * From now on every call is answered RPC_STOPPING at once, without
 * posting (shutdown: the mailbox and shards are about to go).
 * Thread: any.
 */
void rpc_quiesce(struct rpc *r);

/** Whether rpc_quiesce() was called (NULL: true). Thread: any. */
bool rpc_quiesced(struct rpc *r);

/** Free the engine; every call must have been answered. NULL is allowed. */
void rpc_free(struct rpc *r);

/** Answer @p call with @p result (stolen; NULL is JSON null). Thread: any. */
void rpc_reply(struct rpc_call *call, json_t *result);

/**
 * Answer @p call with error @p code and the message printed from
 * @p fmt. Thread: any.
 */
void rpc_error(struct rpc_call *call, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/**
 * Answer @p call with error @p code, message @p msg and the structured
 * "data" member @p data (stolen; NULL for none). Thread: any.
 */
void rpc_error_data(struct rpc_call *call, int code, const char *msg,
		    json_t *data);

/** The method name of @p call (for logs). Thread: any, before it is answered.
 */
const char *rpc_call_method(const struct rpc_call *call);

/*
 * Parameters: positional (an array) or named (an object). Each getter
 * finds parameter @p name at position @p pos; when it is missing and
 * @p required, or has the wrong type, it answers @p call with
 * RPC_INVALID_PARAMS naming the parameter and returns -EINVAL (the call
 * is then answered: return from the method). Missing and optional:
 * returns 1 and leaves *out as it was. Found: 0.
 */

/** A string parameter; *out is borrowed from @p params. */
int rpc_param_str(struct rpc_call *call, json_t *params, size_t pos,
		  const char *name, bool required, const char **out);

/** An integer parameter in [@p min, @p max]. */
int rpc_param_int(struct rpc_call *call, json_t *params, size_t pos,
		  const char *name, bool required, int64_t min, int64_t max,
		  int64_t *out);

/** A parameter of any JSON type (borrowed). */
int rpc_param_any(struct rpc_call *call, json_t *params, size_t pos,
		  const char *name, bool required, json_t **out);

/**
 * Answer RPC_INVALID_PARAMS when @p params holds anything past the
 * @p npos positional parameters or a name not in @p names (NULL-ended).
 * Returns 0, or -EINVAL (answered).
 */
int rpc_params_only(struct rpc_call *call, json_t *params, size_t npos,
		    const char *const *names);
