/* proxy/mgmt/http.c - the management HTTP server: POST /rpc and GET pages */
#include "proxy/mgmt/http.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "proxy/base/log.h"
#include "proxy/mgmt/mgmt_conf.h"
#include "proxy/mgmt/rpc.h"

/* The largest request body taken (a batch of RPC_MAX_BATCH calls fits). */
#define HTTP_MAX_BODY (1024u * 1024u)

#define HTTP_MAX_PAGES 8

struct page {
	char *path;
	char *type;
	http_page_fn *fn;
	void *arg;
	bool open; /* served without the token */
};

struct http {
	struct rpc *rpc;
	struct MHD_Daemon *d[MGMT_MAX_LISTEN];
	unsigned nd;
	struct page pages[HTTP_MAX_PAGES];
	unsigned npages;
	pthread_mutex_t mu; /* token */
	char *token;
};

/* One HTTP request: held by the server until it completes and by the
 * RPC engine until it answers; freed by the last of the two. */
struct exchange {
	pthread_mutex_t mu;
	struct MHD_Connection *conn;
	unsigned refs;
	char *body;
	size_t len, cap;
	bool too_big;
	bool started;	/* given to the RPC engine */
	bool suspended; /* waits for the answer */
	bool answered;
	bool closed;  /* the server is done with it */
	char *answer; /* JSON, or NULL: 204 */
};

int http_new(struct rpc *r, struct http **hp)
{
	struct http *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	h->rpc = r;
	pthread_mutex_init(&h->mu, NULL);
	*hp = h;
	return 0;
}

int http_page_add(struct http *h, const char *path, const char *content_type,
		  http_page_fn *fn, void *arg, bool open)
{
	struct page *p;

	if (!h || !path || !content_type || !fn)
		return -EINVAL;
	if (h->npages == HTTP_MAX_PAGES)
		return -ENOSPC;
	p = &h->pages[h->npages];
	p->path = strdup(path);
	p->type = strdup(content_type);
	if (!p->path || !p->type) {
		free(p->path);
		free(p->type);
		return -ENOMEM;
	}
	p->fn = fn;
	p->arg = arg;
	p->open = open;
	h->npages++;
	return 0;
}

int http_set_token(struct http *h, const char *token)
{
	char *t = NULL;

	if (token && !(t = strdup(token)))
		return -ENOMEM;
	pthread_mutex_lock(&h->mu);
	free(h->token);
	h->token = t;
	pthread_mutex_unlock(&h->mu);
	return 0;
}

static void exchange_put(struct exchange *ex)
{
	bool last;

	pthread_mutex_lock(&ex->mu);
	last = --ex->refs == 0;
	pthread_mutex_unlock(&ex->mu);
	if (!last)
		return;
	pthread_mutex_destroy(&ex->mu);
	free(ex->body);
	free(ex->answer);
	free(ex);
}

/* Queue @p len bytes of @p body (copied) with @p status. */
static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status,
			       const char *type, const char *body, size_t len,
			       const char *hdr, const char *value)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, (void *)body,
					    MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	if (type)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (hdr)
		MHD_add_response_header(r, hdr, value);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* A JSON-RPC error object as the body of an HTTP error. */
static enum MHD_Result respond_rpc_error(struct MHD_Connection *conn,
					 unsigned status, int code,
					 const char *msg, const char *hdr,
					 const char *value)
{
	char body[512];
	int n = snprintf(body, sizeof(body),
			 "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":%d,"
			 "\"message\":\"%s\"},\"id\":null}\n",
			 code, msg);

	return respond(conn, status, "application/json", body, (size_t)n, hdr,
		       value);
}

/* Compare without leaking where the first difference is. */
static bool same_secret(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = la != lb;

	for (size_t i = 0; i < la; i++)
		diff |=
		    (unsigned char)a[i] ^ (unsigned char)b[i % (lb ? lb : 1)];
	return diff == 0;
}

static bool authorized(struct http *h, struct MHD_Connection *conn)
{
	const char *auth;
	bool ok = true;

	pthread_mutex_lock(&h->mu);
	if (h->token) {
		auth = MHD_lookup_connection_value(
		    conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
		ok = auth && strncasecmp(auth, "Bearer ", 7) == 0 &&
		     same_secret(auth + 7, h->token);
	}
	pthread_mutex_unlock(&h->mu);
	return ok;
}

/* The RPC engine's answer: any thread. */
static void rpc_done(void *arg, char *json)
{
	struct exchange *ex = arg;

	pthread_mutex_lock(&ex->mu);
	ex->answer = json;
	ex->answered = true;
	if (ex->suspended && !ex->closed)
		MHD_resume_connection(ex->conn);
	pthread_mutex_unlock(&ex->mu);
	exchange_put(ex);
}

static enum MHD_Result serve_rpc(struct http *h, struct exchange *ex,
				 struct MHD_Connection *conn,
				 const char *method)
{
	bool wait;

	if (ex->started) {
		/* Resumed: the answer is there. */
		if (!ex->answer)
			return respond(conn, MHD_HTTP_NO_CONTENT, NULL, "", 0,
				       NULL, NULL);
		return respond(conn, MHD_HTTP_OK, "application/json",
			       ex->answer, strlen(ex->answer), NULL, NULL);
	}
	if (strcmp(method, MHD_HTTP_METHOD_POST))
		return respond_rpc_error(
		    conn, MHD_HTTP_METHOD_NOT_ALLOWED, RPC_INVALID_REQUEST,
		    "use POST for /rpc", MHD_HTTP_HEADER_ALLOW, "POST");
	if (!authorized(h, conn))
		return respond_rpc_error(
		    conn, MHD_HTTP_UNAUTHORIZED, RPC_UNAUTHORIZED,
		    "unauthorized: a bearer token is required",
		    MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		    "Bearer realm=\"sipedge\"");
	if (ex->too_big)
		return respond_rpc_error(conn, MHD_HTTP_CONTENT_TOO_LARGE,
					 RPC_INVALID_REQUEST,
					 "request body over 1 MiB", NULL, NULL);
	ex->started = true;
	ex->refs++; /* the engine's, until rpc_done() */
	rpc_handle(h->rpc, ex->body ? ex->body : "", ex->len, rpc_done, ex);
	pthread_mutex_lock(&ex->mu);
	wait = !ex->answered;
	if (wait) {
		MHD_suspend_connection(conn);
		ex->suspended = true;
	}
	pthread_mutex_unlock(&ex->mu);
	if (wait)
		return MHD_YES;
	return serve_rpc(h, ex, conn, method);
}

static enum MHD_Result serve_page(struct http *h, const struct page *p,
				  struct MHD_Connection *conn,
				  const char *method)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	char *body = NULL;
	size_t len = 0;
	int status;

	if (strcmp(method, MHD_HTTP_METHOD_GET) &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD))
		return respond(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
			       "use GET\n", 8, MHD_HTTP_HEADER_ALLOW, "GET");
	if (!p->open && !authorized(h, conn))
		return respond(conn, MHD_HTTP_UNAUTHORIZED, "text/plain",
			       "unauthorized: a bearer token is required\n", 41,
			       MHD_HTTP_HEADER_WWW_AUTHENTICATE,
			       "Bearer realm=\"sipedge\"");
	status = p->fn(p->arg, &body, &len);
	if (status < 0 || (status && (status < 200 || status > 599)) || !body) {
		free(body);
		return respond(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
			       "text/plain", "could not build the page\n", 25,
			       NULL, NULL);
	}
	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, p->type);
	ret = MHD_queue_response(conn, status ? (unsigned)status : MHD_HTTP_OK,
				 r);
	MHD_destroy_response(r);
	return ret;
}

/* Keep what fits of an upload; past HTTP_MAX_BODY only note it. */
static void take_body(struct exchange *ex, const char *data, size_t n)
{
	size_t cap;
	char *b;

	if (ex->too_big || ex->len + n > HTTP_MAX_BODY) {
		ex->too_big = true;
		return;
	}
	if (ex->len + n + 1 > ex->cap) {
		cap = ex->cap ? ex->cap : 4096;
		while (cap < ex->len + n + 1)
			cap *= 2;
		b = realloc(ex->body, cap);
		if (!b) {
			ex->too_big = true;
			return;
		}
		ex->body = b;
		ex->cap = cap;
	}
	memcpy(ex->body + ex->len, data, n);
	ex->len += n;
	ex->body[ex->len] = '\0';
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn,
			       const char *url, const char *method,
			       const char *version, const char *upload_data,
			       size_t *upload_data_size, void **con_cls)
{
	struct http *h = cls;
	struct exchange *ex = *con_cls;

	(void)version;
	if (!ex) {
		ex = calloc(1, sizeof(*ex));
		if (!ex)
			return MHD_NO;
		pthread_mutex_init(&ex->mu, NULL);
		ex->conn = conn;
		ex->refs = 1; /* the server's, until completed() */
		*con_cls = ex;
		return MHD_YES;
	}
	if (*upload_data_size) {
		take_body(ex, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (strcmp(url, "/rpc") == 0)
		return serve_rpc(h, ex, conn, method);
	for (unsigned i = 0; i < h->npages; i++)
		if (strcmp(url, h->pages[i].path) == 0)
			return serve_page(h, &h->pages[i], conn, method);
	return respond(
	    conn, MHD_HTTP_NOT_FOUND, "text/plain",
	    "not found: try POST /rpc, GET /metrics or GET /health\n", 53, NULL,
	    NULL);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct exchange *ex = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (!ex)
		return;
	*con_cls = NULL;
	pthread_mutex_lock(&ex->mu);
	ex->closed = true;
	pthread_mutex_unlock(&ex->mu);
	exchange_put(ex);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_msg(LOG_WARN, "mgmt: http: %s", msg);
}

/* Our own socket, so that a bind error has its errno. */
static int listen_socket(const struct mgmt_listen *l, int *fdp)
{
	int one = 1, fd, err;

	fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&l->addr, l->addrlen) < 0 ||
	    listen(fd, 64) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	*fdp = fd;
	return 0;
}

int http_listen(struct http *h, const struct mgmt_conf *mc)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
			 MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	int err, fd = -1;

	if (http_set_token(h, mc->token) < 0)
		return -ENOMEM;
	for (unsigned i = 0; i < mc->nlisten; i++) {
		const struct mgmt_listen *l = &mc->listen[i];

		err = listen_socket(l, &fd);
		if (err) {
			log_msg(LOG_ERR, "sipedge: management: %s: %s", l->text,
				strerror(-err));
			goto fail;
		}
		h->d[h->nd] = MHD_start_daemon(
		    flags | (l->addr.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
		    0, NULL, NULL, handler, h, MHD_OPTION_EXTERNAL_LOGGER,
		    mhd_log, h, MHD_OPTION_LISTEN_SOCKET, fd,
		    MHD_OPTION_CONNECTION_LIMIT, mc->max_connections,
		    MHD_OPTION_CONNECTION_TIMEOUT, mc->timeout_s,
		    MHD_OPTION_NOTIFY_COMPLETED, completed, h, MHD_OPTION_END);
		if (!h->d[h->nd]) {
			close(fd);
			err = -EIO;
			log_msg(LOG_ERR,
				"sipedge: management: %s: could not start the "
				"HTTP server",
				l->text);
			goto fail;
		}
		h->nd++;
	}
	return 0;
fail:
	while (h->nd)
		MHD_stop_daemon(h->d[--h->nd]);
	return err;
}

void http_free(struct http *h)
{
	if (!h)
		return;
	while (h->nd)
		MHD_stop_daemon(h->d[--h->nd]);
	for (unsigned i = 0; i < h->npages; i++) {
		free(h->pages[i].path);
		free(h->pages[i].type);
	}
	free(h->token);
	pthread_mutex_destroy(&h->mu);
	free(h);
}
