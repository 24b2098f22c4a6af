/* proxy/mgmt/sipctl/sipctl.c - sipctl: the command-line client of the
 * management API (JSON-RPC 2.0 over HTTP, docs/man/sipctl.8) */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

/* Exit statuses (docs/man/sipctl.8). */
enum {
	EXIT_OK = 0,
	EXIT_RPC = 1,	  /* the API answered with an error */
	EXIT_USAGE = 2,	  /* bad command line */
	EXIT_CONNECT = 3, /* no answer from the API */
};

/* The longest wait for one answer. */
#define TIMEOUT_MS 10000

/* The largest answer read (a dump page of 1000 AORs fits easily). */
#define MAX_REPLY (64u << 20)

/* The page size `ul show` asks location.dump for. */
#define DUMP_PAGE 1000

struct opts {
	char host[256];
	char port[8];
	const char *token;
	bool json;
};

static const char *const usage_text =
    "usage: sipctl [-a HOST:PORT] [-t TOKEN] [--json] COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  stats [PREFIX]         counters (stats.get)\n"
    "  ul show [AOR]          bindings of AOR, or of every AOR\n"
    "  ul rm AOR [CONTACT]    remove the bindings of AOR (or one)\n"
    "  dlg list               dialogs (dialog.list)\n"
    "  dlg end CALL-ID        end a dialog (dialog.end)\n"
    "  originate A B [--wait] [--timeout S] [--caller-id URI]\n"
    "            [--header 'Name: value']... [--intercom]\n"
    "                         call A, then B with A's offer (3PCC); --wait\n"
    "                         follows it: exit 0 bridged, 1 failed;\n"
    "                         --header: on both INVITEs (repeatable);\n"
    "                         --intercom: A's phone answers by itself\n"
    "  ban list               bans in force (ban.list)\n"
    "  ban remove SRC [USER]  lift the bans of SRC, or of (SRC, USER)\n"
    "  reload                 reload the configuration (config.reload)\n"
    "  log [LEVEL]            show or set the log level (log.level)\n"
    "  rpc METHOD [JSON]      call any method; JSON is its params\n"
    "\n"
    "options:\n"
    "  -a, --address HOST:PORT  the management API (127.0.0.1:5080)\n"
    "  -t, --token TOKEN        bearer token (or $SIPCTL_TOKEN)\n"
    "      --json               print the results as JSON\n"
    "  -h, --help               this text\n"
    "  -V, --version            sipctl's version\n"
    "\n"
    "exit status: 0 ok, 1 the API answered an error, 2 bad usage,\n"
    "3 the API cannot be reached\n";

static int usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage(const char *fmt, ...)
{
	va_list ap;

	fputs("sipctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n(sipctl --help lists the commands)\n", stderr);
	return EXIT_USAGE;
}

/* "HOST:PORT", "[IPv6]:PORT" or "HOST" into @p o. */
static int parse_address(const char *text, struct opts *o)
{
	const char *colon, *host = text, *end;
	size_t hl;

	if (text[0] == '[') {
		end = strchr(text, ']');
		if (!end || (end[1] && end[1] != ':'))
			return -EINVAL;
		host = text + 1;
		hl = (size_t)(end - host);
		colon = end[1] ? end + 1 : NULL;
	} else {
		colon = strrchr(text, ':');
		if (colon && strchr(text, ':') != colon)
			return -EINVAL; /* IPv6 without brackets */
		hl = colon ? (size_t)(colon - text) : strlen(text);
	}
	if (hl == 0 || hl >= sizeof(o->host))
		return -EINVAL;
	memcpy(o->host, host, hl);
	o->host[hl] = '\0';
	if (colon) {
		char *e;
		long p = strtol(colon + 1, &e, 10);

		if (!colon[1] || *e || p < 1 || p > 65535)
			return -EINVAL;
		snprintf(o->port, sizeof(o->port), "%ld", p);
	}
	return 0;
}

static long ms_left(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (deadline->tv_sec - now.tv_sec) * 1000 +
	       (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

/* Wait for @p ev on @p fd until @p deadline: 0, or -ETIMEDOUT. */
static int wait_fd(int fd, short ev, const struct timespec *deadline)
{
	struct pollfd p = { .fd = fd, .events = ev };
	long left;
	int n;

	for (;;) {
		left = ms_left(deadline);
		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&p, 1, (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

/* A connected socket to the API, or -errno. */
static int dial(const struct opts *o, const struct timespec *deadline)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int fd = -1, err = -ECONNREFUSED;

	if (getaddrinfo(o->host, o->port, &hints, &res))
		return -EHOSTUNREACH;
	for (ai = res; ai; ai = ai->ai_next) {
		socklen_t sl = sizeof(err);
		int soerr = 0;

		fd = socket(ai->ai_family,
			    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			err = -errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		err = -errno;
		if (err == -EINPROGRESS) {
			err = wait_fd(fd, POLLOUT, deadline);
			if (!err &&
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl))
				err = -errno;
			if (!err && soerr)
				err = -soerr;
			if (!err)
				break;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd >= 0 ? fd : err;
}

static int send_all(int fd, const char *p, size_t len,
		    const struct timespec *deadline)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			int err = wait_fd(fd, POLLOUT, deadline);

			if (err)
				return err;
			continue;
		}
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read until the peer closes (Connection: close). */
static int recv_all(int fd, char **bufp, size_t *lenp,
		    const struct timespec *deadline)
{
	size_t len = 0, cap = 8192;
	char *buf = malloc(cap), *nb;
	int err = 0;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len + 1 == cap) {
			if (cap >= MAX_REPLY) {
				err = -E2BIG;
				break;
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				err = -ENOMEM;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n == 0)
			break;
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			err = wait_fd(fd, POLLIN, deadline);
			if (err)
				break;
			continue;
		}
		if (n < 0) {
			err = -errno;
			break;
		}
		len += (size_t)n;
	}
	if (err) {
		free(buf);
		return err;
	}
	buf[len] = '\0';
	*bufp = buf;
	*lenp = len;
	return 0;
}

/* Undo chunked transfer coding in place; -EPROTO when malformed. */
static int unchunk(char *body, size_t *lenp)
{
	char *in = body, *out = body, *end = body + *lenp, *e;

	for (;;) {
		unsigned long n = strtoul(in, &e, 16);

		if (e == in)
			return -EPROTO;
		in = strstr(e, "\r\n");
		if (!in)
			return -EPROTO;
		in += 2;
		if (n == 0)
			break;
		if (n > (size_t)(end - in))
			return -EPROTO;
		memmove(out, in, n);
		out += n;
		in += n + 2;
		if (in > end)
			return -EPROTO;
	}
	*out = '\0';
	*lenp = (size_t)(out - body);
	return 0;
}

/*
 * POST @p body to /rpc. Returns 0 with the HTTP status in *statusp and
 * the response body (malloc'd, NUL-terminated) in *respp, or -errno.
 */
static int http_post(const struct opts *o, const char *body, unsigned *statusp,
		     char **respp)
{
	struct timespec deadline;
	char head[1024], *buf = NULL, *sep, *b;
	size_t len = 0, blen;
	unsigned status;
	int fd, n, err;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += TIMEOUT_MS / 1000;
	fd = dial(o, &deadline);
	if (fd < 0)
		return fd;
	n = snprintf(head, sizeof(head),
		     "POST /rpc HTTP/1.1\r\n"
		     "Host: %s:%s\r\n"
		     "User-Agent: sipctl/" SIPEDGE_VERSION "\r\n"
		     "Content-Type: application/json\r\n"
		     "Content-Length: %zu\r\n"
		     "%s%s%s"
		     "Connection: close\r\n\r\n",
		     o->host, o->port, strlen(body),
		     o->token ? "Authorization: Bearer " : "",
		     o->token ? o->token : "", o->token ? "\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(head)) {
		err = -E2BIG;
		goto out;
	}
	err = send_all(fd, head, (size_t)n, &deadline);
	if (!err)
		err = send_all(fd, body, strlen(body), &deadline);
	if (!err)
		err = recv_all(fd, &buf, &len, &deadline);
	if (err)
		goto out;
	err = -EPROTO;
	if (sscanf(buf, "HTTP/1.%*1[01] %3u", &status) != 1)
		goto out;
	sep = strstr(buf, "\r\n\r\n");
	if (!sep)
		goto out;
	*sep = '\0';
	b = sep + 4;
	blen = len - (size_t)(b - buf);
	if (strcasestr(buf, "\r\nTransfer-Encoding: chunked") &&
	    unchunk(b, &blen))
		goto out;
	memmove(buf, b, blen + 1);
	*statusp = status;
	*respp = buf;
	buf = NULL;
	err = 0;
out:
	free(buf);
	close(fd);
	return err;
}

/*
 * Call @p method with @p params (stolen; NULL for none). Returns
 * EXIT_OK with *resultp (a new reference), or EXIT_RPC / EXIT_CONNECT
 * after saying why on stderr.
 */
static int call(const struct opts *o, const char *method, json_t *params,
		json_t **resultp)
{
	json_t *req = json_pack("{s:s,s:s,s:i}", "jsonrpc", "2.0", "method",
				method, "id", 1);
	json_t *resp = NULL, *err, *res;
	json_error_t jerr;
	char *text = NULL, *answer = NULL;
	unsigned status = 0;
	int e, rc = EXIT_CONNECT;

	if (req && params)
		json_object_set(req, "params", params);
	json_decref(params);
	text = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!text) {
		fprintf(stderr, "sipctl: out of memory\n");
		return EXIT_RPC;
	}
	e = http_post(o, text, &status, &answer);
	free(text);
	if (e) {
		fprintf(stderr, "sipctl: cannot reach the API at %s:%s: %s\n",
			o->host, o->port,
			e == -EPROTO ? "the answer is not HTTP" : strerror(-e));
		return EXIT_CONNECT;
	}
	resp = json_loads(answer, 0, &jerr);
	err = json_object_get(resp, "error");
	res = json_object_get(resp, "result");
	if (json_is_object(err)) {
		fprintf(stderr, "sipctl: %s: %s (%lld)\n", method,
			json_string_value(json_object_get(err, "message"))
			    ?: "error",
			(long long)json_integer_value(
			    json_object_get(err, "code")));
		rc = EXIT_RPC;
	} else if (status == 200 && res) {
		*resultp = json_incref(res);
		rc = EXIT_OK;
	} else {
		fprintf(stderr,
			"sipctl: %s: HTTP %u without a JSON-RPC answer: "
			"%.200s\n",
			method, status, answer);
		rc = EXIT_CONNECT;
	}
	json_decref(resp);
	free(answer);
	return rc;
}

static void print_json(const json_t *v)
{
	char *s =
	    json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENCODE_ANY);

	if (s)
		puts(s);
	free(s);
}

/* A scalar as text for a table cell; containers as compact JSON. */
static char *cell(const json_t *v)
{
	char buf[64];

	if (json_is_string(v))
		return strdup(json_string_value(v));
	if (json_is_integer(v)) {
		snprintf(buf, sizeof(buf), "%lld",
			 (long long)json_integer_value(v));
		return strdup(buf);
	}
	if (json_is_real(v)) {
		snprintf(buf, sizeof(buf), "%g", json_real_value(v));
		return strdup(buf);
	}
	if (!v || json_is_null(v))
		return strdup("-");
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* An object as "key  value" lines, keys sorted, aligned. */
static void print_object(json_t *obj)
{
	const char *key;
	json_t *v;
	size_t w = 0;
	const char **keys;
	size_t n = 0;

	keys = calloc(json_object_size(obj) + 1, sizeof(*keys));
	if (!keys)
		return;
	json_object_foreach(obj, key, v)
	{
		keys[n++] = key;
		if (strlen(key) > w)
			w = strlen(key);
	}
	qsort(keys, n, sizeof(*keys), cmp_str);
	for (size_t i = 0; i < n; i++) {
		char *c = cell(json_object_get(obj, keys[i]));

		printf("%-*s  %s\n", (int)w, keys[i], c ? c : "?");
		free(c);
	}
	free(keys);
}

/* An array of objects as a table whose columns are the keys of all. */
static void print_table(json_t *arr)
{
	const char *cols[32], *key;
	size_t ncol = 0, w[32];
	json_t *row, *v;
	size_t i;

	json_array_foreach(arr, i, row)
	{
		json_object_foreach(row, key, v)
		{
			size_t k;

			for (k = 0; k < ncol && strcmp(cols[k], key); k++)
				;
			if (k == ncol && ncol < 32)
				cols[ncol++] = key;
		}
	}
	qsort(cols, ncol, sizeof(*cols), cmp_str);
	for (size_t k = 0; k < ncol; k++)
		w[k] = strlen(cols[k]);
	json_array_foreach(arr, i, row)
	{
		for (size_t k = 0; k < ncol; k++) {
			char *c = cell(json_object_get(row, cols[k]));

			if (c && strlen(c) > w[k])
				w[k] = strlen(c);
			free(c);
		}
	}
	for (size_t k = 0; k < ncol; k++)
		printf("%-*s%s", k + 1 < ncol ? (int)w[k] : 0, cols[k],
		       k + 1 < ncol ? "  " : "\n");
	json_array_foreach(arr, i, row)
	{
		for (size_t k = 0; k < ncol; k++) {
			char *c = cell(json_object_get(row, cols[k]));

			printf("%-*s%s", k + 1 < ncol ? (int)w[k] : 0,
			       c ? c : "?", k + 1 < ncol ? "  " : "\n");
			free(c);
		}
	}
}

/* Human form of any result: an object, a list of objects, or JSON. */
static void print_any(json_t *v)
{
	json_t *first = json_array_get(v, 0);

	if (json_is_object(v))
		print_object(v);
	else if (json_is_array(v) && json_is_object(first))
		print_table(v);
	else if (json_is_string(v))
		puts(json_string_value(v));
	else
		print_json(v);
}

static void print_result(const struct opts *o, json_t *v)
{
	if (o->json)
		print_json(v);
	else
		print_any(v);
}

/* One binding as a table line. */
static void binding_line(const char *aor, json_t *c)
{
	const char *ua = json_string_value(json_object_get(c, "user_agent"));

	printf("%-32s %-40s %7lld  %-24s %s\n", aor,
	       json_string_value(json_object_get(c, "contact")) ?: "-",
	       (long long)json_integer_value(json_object_get(c, "expires")),
	       json_string_value(json_object_get(c, "source")) ?: "-",
	       ua && *ua ? ua : "-");
}

static void binding_head(void)
{
	printf("%-32s %-40s %7s  %-24s %s\n", "AOR", "CONTACT", "EXPIRES",
	       "SOURCE", "USER-AGENT");
}

/* {"aor", "contacts": [...]} as table lines. */
static void aor_lines(json_t *set)
{
	const char *aor = json_string_value(json_object_get(set, "aor"));
	json_t *c;
	size_t i;

	json_array_foreach(json_object_get(set, "contacts"), i, c)
	    binding_line(aor ? aor : "-", c);
}

/* One item of a paged list, printed as a table line. */
typedef void item_fn(json_t *item);

/*
 * Page through @p method ({"cursor", "limit"} -> {@p key: [...],
 * "cursor"}) until the cursor is null: each item as a line of JSON
 * (--json: the whole is one array) or by @p line; the number in *@p np.
 */
static int walk(const struct opts *o, const char *method, const char *key,
		item_fn *line, unsigned long *np)
{
	json_t *res = NULL, *cursor = json_null(), *item;
	size_t i;
	int rc;

	*np = 0;
	if (o->json)
		fputs("[", stdout);
	for (;;) {
		json_t *params = json_pack("{s:O,s:i}", "cursor", cursor,
					   "limit", DUMP_PAGE);

		rc = call(o, method, params, &res);
		if (rc)
			break;
		json_array_foreach(json_object_get(res, key), i, item)
		{
			if (o->json) {
				char *t = json_dumps(item, JSON_COMPACT);

				printf("%s\n%s", *np ? "," : "", t ? t : "");
				free(t);
			} else {
				line(item);
			}
			(*np)++;
		}
		json_decref(cursor);
		cursor = json_incref(json_object_get(res, "cursor"));
		json_decref(res);
		res = NULL;
		if (!json_is_string(cursor))
			break;
	}
	json_decref(cursor);
	if (o->json)
		puts("]");
	return rc;
}

/* `ul show` without an AOR: page through location.dump. */
static int ul_dump(const struct opts *o)
{
	unsigned long n;
	int rc;

	if (!o->json)
		binding_head();
	rc = walk(o, "location.dump", "bindings", aor_lines, &n);
	if (!rc && !o->json)
		printf("%lu AOR%s\n", n, n == 1 ? "" : "s");
	return rc;
}

static int cmd_ul(const struct opts *o, int argc, char **argv)
{
	json_t *res = NULL;
	int rc;

	if (argc < 1)
		return usage("ul: show or rm?");
	if (!strcmp(argv[0], "show")) {
		if (argc > 2)
			return usage("ul show: one AOR at most");
		if (argc == 1)
			return ul_dump(o);
		rc =
		    call(o, "location.lookup", json_pack("[s]", argv[1]), &res);
		if (rc)
			return rc;
		if (o->json) {
			print_json(res);
		} else {
			binding_head();
			aor_lines(res);
		}
	} else if (!strcmp(argv[0], "rm")) {
		if (argc < 2 || argc > 3)
			return usage("ul rm: AOR [CONTACT]");
		rc = call(o, "location.delete",
			  argc == 3 ? json_pack("[ss]", argv[1], argv[2])
				    : json_pack("[s]", argv[1]),
			  &res);
		if (rc)
			return rc;
		if (o->json)
			print_json(res);
		else
			printf("%s: %lld binding%s removed, %lld left\n",
			       json_string_value(json_object_get(res, "aor")),
			       (long long)json_integer_value(
				   json_object_get(res, "removed")),
			       json_integer_value(
				   json_object_get(res, "removed")) == 1
				   ? ""
				   : "s",
			       (long long)json_integer_value(
				   json_object_get(res, "left")));
	} else {
		return usage("ul: unknown '%s' (show or rm)", argv[0]);
	}
	json_decref(res);
	return EXIT_OK;
}

/* Call @p method with @p params and print what it returns. */
static int simple(const struct opts *o, const char *method, json_t *params)
{
	json_t *res = NULL;
	int rc = call(o, method, params, &res);

	if (!rc)
		print_result(o, res);
	json_decref(res);
	return rc;
}

static void dialog_line(json_t *d)
{
	const char *a = json_string_value(json_object_get(d, "caller"));
	const char *b = json_string_value(json_object_get(d, "callee"));

	printf("%-40s %-10s %6lld  %5lld  %-30s %s\n",
	       json_string_value(json_object_get(d, "call_id")) ?: "-",
	       json_string_value(json_object_get(d, "state")) ?: "-",
	       (long long)json_integer_value(json_object_get(d, "age_s")),
	       (long long)json_integer_value(json_object_get(d, "owner")),
	       a && *a ? a : "-", b && *b ? b : "-");
}

/* dlg list: every page of dialog.list, one table line per dialog. */
static int dlg_list(const struct opts *o)
{
	unsigned long n;
	int rc;

	if (!o->json)
		printf("%-40s %-10s %6s  %5s  %-30s %s\n", "CALL-ID", "STATE",
		       "AGE_S", "SHARD", "CALLER", "CALLEE");
	rc = walk(o, "dialog.list", "dialogs", dialog_line, &n);
	if (!rc && !o->json)
		printf("%lu dialog%s\n", n, n == 1 ? "" : "s");
	return rc;
}

/* dlg end: the status each side answered its BYE with. */
static int dlg_end(const struct opts *o, const char *call_id)
{
	json_t *res = NULL;
	int rc = call(o, "dialog.end", json_pack("[s]", call_id), &res);

	if (rc)
		return rc;
	if (o->json)
		print_json(res);
	else
		printf("%s: ended; BYE answered %lld by the caller, %lld by "
		       "the callee\n",
		       json_string_value(json_object_get(res, "call_id"))
			   ?: call_id,
		       (long long)json_integer_value(
			   json_object_get(res, "caller")),
		       (long long)json_integer_value(
			   json_object_get(res, "callee")));
	json_decref(res);
	return 0;
}

/* reload: what changed. */
static int reload(const struct opts *o)
{
	json_t *res = NULL, *k;
	size_t i;
	int rc = call(o, "config.reload", NULL, &res);

	if (rc)
		return rc;
	if (o->json) {
		print_json(res);
	} else if (!json_is_true(json_object_get(res, "reloaded"))) {
		const char *msg =
		    json_string_value(json_object_get(res, "message"));

		printf("not reloaded: %s\n", msg ? msg : "nothing to do");
	} else {
		printf("%s: reloaded; changed:",
		       json_string_value(json_object_get(res, "file")) ?: "?");
		if (!json_array_size(json_object_get(res, "changed")))
			printf(" nothing");
		json_array_foreach(json_object_get(res, "changed"), i, k)
		    printf(" %s", json_string_value(k) ?: "?");
		putchar('\n');
	}
	json_decref(res);
	return 0;
}

/* How often `originate --wait` asks originate.status. */
#define POLL_MS 200

/* One line of an originate's state: "ID STATE [leg STATUS REASON]". */
static void originate_line(const char *id, json_t *st)
{
	const char *state = json_string_value(json_object_get(st, "state"));

	printf("%s %s", id, state ?: "?");
	if (state && !strcmp(state, "failed"))
		printf(" leg %s %lld %s",
		       json_string_value(json_object_get(st, "failed_leg"))
			   ?: "?",
		       (long long)json_integer_value(
			   json_object_get(st, "status")),
		       json_string_value(json_object_get(st, "reason")) ?: "");
	if (state && !strcmp(state, "ended"))
		printf(" by %s",
		       json_string_value(json_object_get(st, "ended_by"))
			   ?: "?");
	putchar('\n');
	fflush(stdout);
}

/*
 * originate A B [--wait] [--timeout S] [--caller-id URI] [--header H]...
 * [--intercom]: start it (headers and intercom_a are the server's to
 * check); with
 * --wait, poll originate.status until bridged, ended or failed (bounded:
 * twice the ring timeout and 10 s), printing each new state.
 */
static int cmd_originate(const struct opts *o, int argc, char **argv)
{
	const char *a = NULL, *b = NULL, *caller = NULL, *last = NULL;
	json_t *params, *res = NULL, *st = NULL, *hdrs = json_array();
	char id[64], seen[32] = "";
	long timeout = 60, polls;
	bool wait = false, intercom = false;
	int rc;

	if (!hdrs)
		return usage("originate: out of memory");

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--wait")) {
			wait = true;
		} else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
			char *end;

			timeout = strtol(argv[++i], &end, 10);
			if (*end || timeout < 1 || timeout > 600)
				return usage("originate: --timeout 1..600");
		} else if (!strcmp(argv[i], "--caller-id") && i + 1 < argc) {
			caller = argv[++i];
		} else if (!strcmp(argv[i], "--header") && i + 1 < argc) {
			if (json_array_append_new(hdrs,
						  json_string(argv[++i]))) {
				json_decref(hdrs);
				return usage("originate: --header: not UTF-8");
			}
		} else if (!strcmp(argv[i], "--intercom")) {
			intercom = true;
		} else if (argv[i][0] == '-') {
			json_decref(hdrs);
			return usage("originate: unknown option '%s'", argv[i]);
		} else if (!a) {
			a = argv[i];
		} else if (!b) {
			b = argv[i];
		} else {
			json_decref(hdrs);
			return usage("originate: A B, and options");
		}
	}
	if (!a || !b) {
		json_decref(hdrs);
		return usage("originate: A B [--wait] [--timeout S] "
			     "[--caller-id URI] [--header H]... [--intercom]");
	}
	params = json_pack("{s:s,s:s,s:i}", "a", a, "b", b, "timeout_s",
			   (int)timeout);
	if (params && caller)
		json_object_set_new(params, "caller_id", json_string(caller));
	if (params && json_array_size(hdrs))
		json_object_set(params, "headers", hdrs);
	if (params && intercom)
		json_object_set_new(params, "intercom_a", json_true());
	json_decref(hdrs);
	rc = call(o, "originate", params, &res);
	if (rc)
		return rc;
	snprintf(id, sizeof(id), "%s",
		 json_string_value(json_object_get(res, "id")) ?: "");
	if (o->json && !wait)
		print_json(res);
	else if (!wait)
		printf("%s\n", id);
	json_decref(res);
	if (!wait)
		return EXIT_OK;
	polls = (2 * timeout * 1000 + 10000) / POLL_MS;
	for (long i = 0; i < polls; i++) {
		rc = call(o, "originate.status", json_pack("{s:s}", "id", id),
			  &st);
		if (rc)
			return rc;
		last = json_string_value(json_object_get(st, "state"));
		if (last && strcmp(last, seen)) {
			snprintf(seen, sizeof(seen), "%s", last);
			if (o->json)
				print_json(st);
			else
				originate_line(id, st);
		}
		if (last &&
		    (!strcmp(last, "bridged") || !strcmp(last, "ended") ||
		     !strcmp(last, "failed"))) {
			rc = strcmp(last, "failed") ? EXIT_OK : EXIT_RPC;
			json_decref(st);
			return rc;
		}
		json_decref(st);
		st = NULL;
		nanosleep(&(struct timespec){ 0, POLL_MS * 1000000L }, NULL);
	}
	fprintf(stderr, "sipctl: originate %s: still %s\n", id,
		seen[0] ? seen : "unknown");
	return EXIT_RPC;
}

static int cmd_rpc(const struct opts *o, int argc, char **argv)
{
	json_t *params = NULL;
	json_error_t jerr;

	if (argc < 1 || argc > 2)
		return usage("rpc: METHOD [JSON]");
	if (argc == 2) {
		params = json_loads(argv[1], JSON_DECODE_ANY, &jerr);
		if (!params)
			return usage("rpc: params are not JSON: %s", jerr.text);
		if (!json_is_array(params) && !json_is_object(params)) {
			json_decref(params);
			return usage("rpc: params must be an array or object");
		}
	}
	return simple(o, argv[0], params);
}

static int run(const struct opts *o, int argc, char **argv)
{
	const char *cmd = argv[0];

	argc--;
	argv++;
	if (!strcmp(cmd, "stats")) {
		if (argc > 1)
			return usage("stats: one PREFIX at most");
		return simple(o, "stats.get",
			      argc ? json_pack("[s]", argv[0]) : NULL);
	}
	if (!strcmp(cmd, "ul"))
		return cmd_ul(o, argc, argv);
	if (!strcmp(cmd, "dlg")) {
		if (argc == 1 && !strcmp(argv[0], "list"))
			return dlg_list(o);
		if (argc == 2 && !strcmp(argv[0], "end"))
			return dlg_end(o, argv[1]);
		return usage("dlg: list, or end CALL-ID");
	}
	if (!strcmp(cmd, "reload")) {
		if (argc)
			return usage("reload takes no arguments");
		return reload(o);
	}
	if (!strcmp(cmd, "log")) {
		if (argc > 1)
			return usage("log: one LEVEL at most");
		return simple(o, "log.level",
			      argc ? json_pack("[s]", argv[0]) : NULL);
	}
	if (!strcmp(cmd, "ban")) {
		if (argc == 1 && !strcmp(argv[0], "list"))
			return simple(o, "ban.list", NULL);
		if ((argc == 2 || argc == 3) && !strcmp(argv[0], "remove"))
			return simple(o, "ban.remove",
				      argc == 3
					  ? json_pack("[ss]", argv[1], argv[2])
					  : json_pack("[s]", argv[1]));
		return usage("ban: list, or remove SOURCE [USER]");
	}
	if (!strcmp(cmd, "rpc"))
		return cmd_rpc(o, argc, argv);
	if (!strcmp(cmd, "originate"))
		return cmd_originate(o, argc, argv);
	return usage("unknown command '%s'", cmd);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "address", required_argument, NULL, 'a' },
		{ "token", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .host = "127.0.0.1", .port = "5080" };
	int c;

	o.token = getenv("SIPCTL_TOKEN");
	if (o.token && !*o.token)
		o.token = NULL;
	/* "+": options end at the command (rpc's JSON may start with -). */
	while ((c = getopt_long(argc, argv, "+a:t:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			if (parse_address(optarg, &o))
				return usage("bad address '%s' (HOST:PORT)",
					     optarg);
			break;
		case 't':
			o.token = optarg;
			break;
		case 'j':
			o.json = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return EXIT_OK;
		case 'V':
			puts("sipctl " SIPEDGE_VERSION);
			return EXIT_OK;
		default:
			return usage("bad option");
		}
	}
	if (o.token && strpbrk(o.token, "\r\n"))
		return usage("the token holds a line break");
	if (optind >= argc)
		return usage("no command");
	return run(&o, argc - optind, argv + optind);
}
