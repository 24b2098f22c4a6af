/* bench/sipload/main.c - sipload: the command line, phases and --search,
 * the progress line and the report */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench/sipload/report.h"
#include "bench/sipload/userlist.h"
#include "bench/sipload/worker.h"
#include "proxy/sip/digest.h"
#include "proxy/sip/peer.h"

#ifndef SIPEDGE_VERSION
#define SIPEDGE_VERSION "0.0.0"
#endif

#define MAX_DURATION_S	 86400.0
#define MAX_COUNT	 10000000000ULL
#define MAX_RATE	 10000000.0
#define MAX_CONCURRENT	 (1u << 22)
#define MAX_THREADS	 64
#define SEARCH_STEPS_MAX 40

static const char *const scenario_names[WORKER__SCENARIOS] = {
	"options", "register", "call", "call-100rel", "call-3pcc",
};

static _Atomic int stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	/* First signal: stop starting and drain; second: stop now. */
	if (atomic_load(&stop_flag) == 0)
		atomic_store(&stop_flag, 1);
	else
		atomic_store(&stop_flag, 2);
}

static const char usage_text[] =
    "Usage: sipload [OPTIONS]\n"
    "SIP load generator: UAC, UAS or both, against a proxy or a peer.\n"
    "Sends only to loopback addresses (127.0.0.0/8, ::1).\n"
    "\n"
    "Roles and addresses:\n"
    "      --role ROLE        uac (default), uas, or both in one process\n"
    "  -t, --target ADDR      UAC: where requests go, HOST:PORT or\n"
    "                         [::1]:PORT (a proxy, or the UAS itself)\n"
    "  -l, --listen ADDR      UAS: address to answer on, HOST:PORT\n"
    "      --local IP         UAC: address to send from (default\n"
    "                         127.0.0.1, or ::1 for an IPv6 target)\n"
    "      --transport T      udp (default) or tcp; --tcp is the same as\n"
    "                         --transport tcp\n"
    "      --threads N        threads, each with its own sockets\n"
    "                         (default 1, at most 64)\n"
    "\n"
    "Scenario:\n"
    "  -s, --scenario NAME    options (default): OPTIONS -> 200\n"
    "                         register: REGISTER -> [401 -> REGISTER] -> "
    "200\n"
    "                         call: INVITE -> 100 -> 180 -> 200 -> ACK\n"
    "                           -> hold -> BYE -> 200\n"
    "                         call-100rel: INVITE (Require: 100rel) -> "
    "100\n"
    "                           -> 180 (RSeq) -> PRACK -> 200 -> 200 "
    "INVITE\n"
    "                           -> ACK -> hold -> BYE -> 200\n"
    "                         call-3pcc: INVITE without SDP -> 100 -> "
    "180\n"
    "                           -> 200 (offer) -> ACK (answer) -> hold\n"
    "                           -> BYE -> 200 (RFC 3725 flow I, as the\n"
    "                           B2B pool calls its first leg)\n"
    "      --3pcc-answer M    call-3pcc: the answer in the ACK: good\n"
    "                         (default), or wrong on purpose: none (no\n"
    "                         body), port0 (stream rejected), codec (a\n"
    "                         payload type not offered)\n"
    "      --domain D         host part of Request-URI, From and To\n"
    "                         (default: the target HOST:PORT)\n"
    "  -u, --users SPEC       callers / registering users: LO-HI (a\n"
    "                         decimal range, \"0001-0100\" keeps the\n"
    "                         width) or one name (default \"sipload\")\n"
    "      --users-csv FILE   users from FILE: user,password[,domain]\n"
    "      --password PAT     password of each user: %u is the user "
    "name\n"
    "                         (default \"%u\")\n"
    "      --callee SPEC      called users, LO-HI or a name (default\n"
    "                         \"uas\"; options: no user part unless "
    "given)\n"
    "      --contact HOSTPORT[;transport=T]\n"
    "                         REGISTER: Contact host:port (default ours;\n"
    "                         e.g. the UAS address, so that calls to the\n"
    "                         registered users reach it); T (udp or tcp)\n"
    "                         names the callee's transport when it is\n"
    "                         not the REGISTER's own\n"
    "      --expires S        REGISTER: Expires (default 3600)\n"
    "      --hold MS          call: time between ACK and BYE (default 0)\n"
    "      --call-timeout MS  call: INVITE to final response at most\n"
    "                         (default 64*T1)\n"
    "\n"
    "Load (one of --duration and --count is required; --max-time always\n"
    "bounds the run):\n"
    "  -r, --rate R           operations started per second, all threads\n"
    "                         (default 100; 0 = as fast as\n"
    "                         --max-concurrent allows)\n"
    "      --ramp S           rise linearly from 0 to R over S seconds\n"
    "  -d, --duration S       start operations for S seconds\n"
    "  -n, --count N          start N operations (UAS: stop after N\n"
    "                         answered: OPTIONS, REGISTER 200, BYE)\n"
    "  -c, --max-concurrent N operations in flight at most, all threads\n"
    "                         (default 20000); operations due beyond it\n"
    "                         are skipped and reported\n"
    "      --max-time S       hard cap on the whole run (default 3600)\n"
    "      --drain S          after the last start, wait at most S\n"
    "                         seconds for what is in flight (default\n"
    "                         64*T1 + hold + answer time)\n"
    "      --search           find the highest rate with 0 failures:\n"
    "                         steps of --search-step seconds from --rate\n"
    "                         (default 1000), doubling until a step\n"
    "                         fails, then bisecting\n"
    "      --search-max R     highest rate tried (default 200000)\n"
    "      --search-step S    seconds per step (default 5)\n"
    "      --search-steps N   steps at most (default 12, at most 40)\n"
    "      --search-p99 MS    a step is clean only if its p99 to the\n"
    "                         final response is at most MS too (default\n"
    "                         0: no bound)\n"
    "\n"
    "Timers and loss:\n"
    "      --t1 MS            RFC 3261 T1 (default 500)\n"
    "      --t2 MS            RFC 3261 T2 (default 4000)\n"
    "      --drop-rate P      throw away this share (0..0.9) of received\n"
    "                         datagrams, to see retransmissions at work\n"
    "      --seed N           seed for --drop-rate (default 1)\n"
    "      --slack-ms N|auto  timers and starts may run up to N ms late\n"
    "                         so that they share wake-ups with arriving\n"
    "                         messages (0: on time). auto (default): the\n"
    "                         time in which 32 operations start per\n"
    "                         thread, within 1..5 ms. The rate holds on\n"
    "                         average, operations start in small bursts;\n"
    "                         latency is measured from the\n"
    "                         actual send and, on UDP, the kernel's\n"
    "                         receive time stamp\n"
    "\n"
    "UAS:\n"
    "      --answer-ms MS     ring for MS before the 200 (default 0)\n"
    "      --uas-auth ALGS    challenge REGISTER with 401: md5, sha-256\n"
    "                         or md5,sha-256 (RFC 8760: SHA-256 offered\n"
    "                         first); checks the credentials against\n"
    "                         --users/--users-csv and --password\n"
    "      --realm R          realm of the challenge (default sipload)\n"
    "      --uas-100rel       send reliable 18x when the INVITE only\n"
    "                         supports 100rel (always when it requires "
    "it)\n"
    "  The UAS answers an INVITE without a body (3pcc) with an offer in\n"
    "  the 200 (one audio stream, a port per call) and checks the answer\n"
    "  in the ACK: same media, port not 0, a payload type offered. A\n"
    "  missing or wrong answer, or no ACK within 64*T1, is a failed call\n"
    "  (uas.3pcc in the report, exit status 1).\n"
    "\n"
    "Output:\n"
    "      --json             print the report as one JSON object\n"
    "      --progress         live one-line progress on stderr (default\n"
    "                         when stderr is a terminal)\n"
    "      --no-progress      no progress line\n"
    "  -h, --help             print this help and exit\n"
    "  -V, --version          print the version and exit\n"
    "\n"
    "Per-operation state lives in preallocated tables indexed by a token\n"
    "in the Call-ID, tags and branches; no allocation per message.\n"
    "Threads run as SCHED_BATCH: a peer they wake does not preempt\n"
    "them in the middle of a batch.\n"
    "Over UDP requests are retransmitted (T1 doubling; T2 cap for\n"
    "non-INVITE), Timer B/F end a transaction after 64*T1, and the UAS\n"
    "retransmits 2xx (and reliable 18x) until ACK (PRACK).\n"
    "\n"
    "The report gives offered and achieved rate, successes, failures by\n"
    "status code, timeouts, retransmissions, latency percentiles to the\n"
    "first provisional and to the final response, and sipload's own CPU\n"
    "time (getrusage) per operation.\n"
    "\n"
    "Examples:\n"
    "  sipload --role uas -l 127.0.0.1:5090 -d 60\n"
    "  sipload -s call -t 127.0.0.1:5090 -r 2000 -d 10\n"
    "  sipload -s call --role both -l 127.0.0.1:5090 -t 127.0.0.1:5060\n"
    "          --domain localhost --callee uas -r 1000 -d 10\n"
    "  sipload -s register -t 127.0.0.1:5060 -u 1000-1999 -n 1000\n"
    "  sipload -s call --role both -l 127.0.0.1:5090 -t 127.0.0.1:5090\n"
    "          --search\n"
    "\n"
    "Exit status: 0 no failure, 1 failures or unfinished operations,\n"
    "2 usage error, 3 could not start (bind, connect).\n";

/* Options with no short form. */
enum {
	OPT_ROLE = 256,
	OPT_LOCAL,
	OPT_TRANSPORT,
	OPT_TCP,
	OPT_THREADS,
	OPT_DOMAIN,
	OPT_USERS_CSV,
	OPT_PASSWORD,
	OPT_CALLEE,
	OPT_CONTACT,
	OPT_EXPIRES,
	OPT_HOLD,
	OPT_CALL_TIMEOUT,
	OPT_RAMP,
	OPT_MAX_TIME,
	OPT_DRAIN,
	OPT_SEARCH,
	OPT_SEARCH_MAX,
	OPT_SEARCH_STEP,
	OPT_SEARCH_STEPS,
	OPT_SEARCH_P99,
	OPT_T1,
	OPT_T2,
	OPT_DROP,
	OPT_SEED,
	OPT_SLACK,
	OPT_ANSWER,
	OPT_UAS_AUTH,
	OPT_REALM,
	OPT_UAS_100REL,
	OPT_3PCC_ANSWER,
	OPT_JSON,
	OPT_PROGRESS,
	OPT_NO_PROGRESS,
};

static const struct option long_opts[] = {
	{ "role", required_argument, NULL, OPT_ROLE },
	{ "target", required_argument, NULL, 't' },
	{ "listen", required_argument, NULL, 'l' },
	{ "local", required_argument, NULL, OPT_LOCAL },
	{ "transport", required_argument, NULL, OPT_TRANSPORT },
	{ "tcp", no_argument, NULL, OPT_TCP },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "scenario", required_argument, NULL, 's' },
	{ "domain", required_argument, NULL, OPT_DOMAIN },
	{ "users", required_argument, NULL, 'u' },
	{ "users-csv", required_argument, NULL, OPT_USERS_CSV },
	{ "password", required_argument, NULL, OPT_PASSWORD },
	{ "callee", required_argument, NULL, OPT_CALLEE },
	{ "contact", required_argument, NULL, OPT_CONTACT },
	{ "expires", required_argument, NULL, OPT_EXPIRES },
	{ "hold", required_argument, NULL, OPT_HOLD },
	{ "call-timeout", required_argument, NULL, OPT_CALL_TIMEOUT },
	{ "rate", required_argument, NULL, 'r' },
	{ "ramp", required_argument, NULL, OPT_RAMP },
	{ "duration", required_argument, NULL, 'd' },
	{ "count", required_argument, NULL, 'n' },
	{ "max-concurrent", required_argument, NULL, 'c' },
	{ "max-time", required_argument, NULL, OPT_MAX_TIME },
	{ "drain", required_argument, NULL, OPT_DRAIN },
	{ "search", no_argument, NULL, OPT_SEARCH },
	{ "search-max", required_argument, NULL, OPT_SEARCH_MAX },
	{ "search-step", required_argument, NULL, OPT_SEARCH_STEP },
	{ "search-steps", required_argument, NULL, OPT_SEARCH_STEPS },
	{ "search-p99", required_argument, NULL, OPT_SEARCH_P99 },
	{ "t1", required_argument, NULL, OPT_T1 },
	{ "t2", required_argument, NULL, OPT_T2 },
	{ "drop-rate", required_argument, NULL, OPT_DROP },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "slack-ms", required_argument, NULL, OPT_SLACK },
	{ "answer-ms", required_argument, NULL, OPT_ANSWER },
	{ "uas-auth", required_argument, NULL, OPT_UAS_AUTH },
	{ "realm", required_argument, NULL, OPT_REALM },
	{ "uas-100rel", no_argument, NULL, OPT_UAS_100REL },
	{ "3pcc-answer", required_argument, NULL, OPT_3PCC_ANSWER },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "progress", no_argument, NULL, OPT_PROGRESS },
	{ "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/* Everything the command line says. */
struct opts {
	struct worker_conf c;
	const char *role;
	const char *target;
	const char *listen;
	const char *local;
	const char *users;
	const char *users_csv;
	const char *password;
	const char *callee;
	const char *domain;
	double rate;
	double ramp_s;
	double duration_s;
	uint64_t count;
	uint64_t max_concurrent;
	double max_time_s;
	double drain_s;
	bool search;
	double search_max;
	double search_step_s;
	unsigned search_steps;
	unsigned search_p99_ms; /* 0: no latency bound on a clean step */
	bool json;
	double slack_ms; /* -1: auto */
	int progress;	 /* -1 auto */
	bool rate_given;
	char target_str[96];
	char listen_str[96];
};

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "sipload: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'sipload --help'.\n");
	return 2;
}

static int parse_double(const char *s, double lo, double hi, double *vp)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi)
		return -EINVAL;
	*vp = v;
	return 0;
}

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *vp)
{
	char *end;
	unsigned long long v;

	if (!*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -EINVAL;
	*vp = v;
	return 0;
}

static int parse_unsigned(const char *s, unsigned lo, unsigned hi, unsigned *vp)
{
	uint64_t v;

	if (parse_u64(s, lo, hi, &v))
		return -EINVAL;
	*vp = (unsigned)v;
	return 0;
}

/* --contact HOST:PORT[;transport=udp|tcp] into c->contact and
 * c->contact_transport. */
static int contact_parse(const char *arg, struct worker_conf *c)
{
	const char *semi = strchr(arg, ';');
	size_t n = semi ? (size_t)(semi - arg) : strlen(arg);

	if (!n || n >= sizeof(c->contact) || strpbrk(arg, " \t\r\n<>") ||
	    memchr(arg, ';', n))
		return -EINVAL;
	c->contact_transport[0] = '\0';
	if (semi) {
		if (strcmp(semi, ";transport=udp") &&
		    strcmp(semi, ";transport=tcp"))
			return -EINVAL;
		snprintf(c->contact_transport, sizeof(c->contact_transport),
			 "%s", semi + strlen(";transport="));
	}
	memcpy(c->contact, arg, n);
	c->contact[n] = '\0';
	return 0;
}

static bool addr_is_loopback(const struct sockaddr_storage *sa)
{
	if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *in4 = (const void *)sa;

		return (ntohl(in4->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
	}
	return false;
}

/* Parse an IP literal ("localhost" is 127.0.0.1) with @p port. */
static int parse_ip(const char *host, uint16_t port,
		    struct sockaddr_storage *sa, socklen_t *lenp)
{
	if (!strcmp(host, "localhost"))
		host = "127.0.0.1";
	return peer_addr_parse(host, port, sa, lenp);
}

/*
 * Parse "HOST:PORT" or "[V6]:PORT" into @p sa and the canonical text
 * @p canon ("127.0.0.1:5060", "[::1]:5060"). Refuses anything but
 * loopback. Returns 0 or 2 (usage error printed).
 */
static int parse_addr(const char *what, const char *s,
		      struct sockaddr_storage *sa, socklen_t *lenp, char *canon,
		      size_t canon_size)
{
	char host[64];
	const char *colon;
	uint64_t port;
	char ip[INET6_ADDRSTRLEN];

	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':' || (size_t)(rb - s - 1) >= sizeof(host))
			goto bad;
		memcpy(host, s + 1, (size_t)(rb - s - 1));
		host[rb - s - 1] = '\0';
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || (size_t)(colon - s) >= sizeof(host))
			goto bad;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
	}
	if (parse_u64(colon + 1, 1, 65535, &port) ||
	    parse_ip(host, (uint16_t)port, sa, lenp))
		goto bad;
	if (!addr_is_loopback(sa)) {
		fprintf(stderr,
			"sipload: refusing %s %s: only loopback addresses "
			"(127.0.0.0/8, ::1) are allowed\n",
			what, s);
		return 2;
	}
	if (sa->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr, ip,
			  sizeof(ip));
		snprintf(canon, canon_size, "[%s]:%u", ip, (unsigned)port);
	} else {
		inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, ip,
			  sizeof(ip));
		snprintf(canon, canon_size, "%s:%u", ip, (unsigned)port);
	}
	return 0;
bad:
	return usage_error("bad address '%s': expected HOST:PORT or "
			   "[IPV6]:PORT with an IP address",
			   s);
}

static int parse_auth(const char *s, unsigned *bitsp)
{
	char buf[64];
	char *tok, *save = NULL;
	unsigned bits = 0;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		enum digest_alg a = digest_alg_lookup(slice_cstr(tok));

		if (!a && !strcasecmp(tok, "sha256"))
			a = DIGEST_SHA256;
		if (!a)
			return -EINVAL;
		bits |= a;
	}
	if (!bits)
		return -EINVAL;
	*bitsp = bits;
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	struct worker_conf *c = &o->c;
	int ch;
	uint64_t v;
	double d;

	memset(o, 0, sizeof(*o));
	c->scenario = WORKER_OPTIONS;
	c->t1_ms = 500;
	c->t2_ms = 4000;
	c->expires = 3600;
	c->seed = 1;
	c->threads = 1;
	snprintf(c->realm, sizeof(c->realm), "%s", "sipload");
	o->role = "uac";
	o->users = "sipload";
	o->password = "%u";
	o->rate = 100;
	o->max_concurrent = 20000;
	o->max_time_s = 3600;
	o->drain_s = -1;
	o->search_max = 200000;
	o->search_step_s = 5;
	o->search_steps = 12;
	o->progress = -1;
	o->slack_ms = -1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":t:l:s:u:r:d:n:c:hV", long_opts,
				 NULL)) != -1) {
		switch (ch) {
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		case 'V':
			printf("sipload %s\n", SIPEDGE_VERSION);
			exit(0);
		case OPT_ROLE:
			if (strcmp(optarg, "uac") && strcmp(optarg, "uas") &&
			    strcmp(optarg, "both"))
				return usage_error("bad --role '%s': uac, uas "
						   "or both",
						   optarg);
			o->role = optarg;
			break;
		case 't':
			o->target = optarg;
			break;
		case 'l':
			o->listen = optarg;
			break;
		case OPT_LOCAL:
			o->local = optarg;
			break;
		case OPT_TRANSPORT:
			if (!strcasecmp(optarg, "udp"))
				c->tcp = false;
			else if (!strcasecmp(optarg, "tcp"))
				c->tcp = true;
			else
				return usage_error("bad --transport '%s': udp "
						   "or tcp",
						   optarg);
			break;
		case OPT_TCP:
			c->tcp = true;
			break;
		case OPT_THREADS:
			if (parse_unsigned(optarg, 1, MAX_THREADS, &c->threads))
				return usage_error("bad --threads '%s': 1..64",
						   optarg);
			break;
		case 's': {
			unsigned i;

			for (i = 0; i < WORKER__SCENARIOS; i++)
				if (!strcmp(optarg, scenario_names[i]))
					break;
			if (i == WORKER__SCENARIOS)
				return usage_error(
				    "bad --scenario '%s': options, "
				    "register, call, call-100rel or "
				    "call-3pcc",
				    optarg);
			c->scenario = (enum worker_scenario)i;
			break;
		}
		case OPT_DOMAIN:
			o->domain = optarg;
			break;
		case 'u':
			o->users = optarg;
			break;
		case OPT_USERS_CSV:
			o->users_csv = optarg;
			break;
		case OPT_PASSWORD:
			o->password = optarg;
			break;
		case OPT_CALLEE:
			o->callee = optarg;
			break;
		case OPT_CONTACT:
			if (contact_parse(optarg, c))
				return usage_error("bad --contact '%s'",
						   optarg);
			break;
		case OPT_EXPIRES:
			if (parse_unsigned(optarg, 0, 0x7fffffff, &c->expires))
				return usage_error("bad --expires '%s'",
						   optarg);
			break;
		case OPT_HOLD:
			if (parse_unsigned(optarg, 0, 3600000, &c->hold_ms))
				return usage_error(
				    "bad --hold '%s': 0..3600000 "
				    "ms",
				    optarg);
			break;
		case OPT_CALL_TIMEOUT:
			if (parse_unsigned(optarg, 1, 3600000,
					   &c->call_timeout_ms))
				return usage_error("bad --call-timeout '%s'",
						   optarg);
			break;
		case 'r':
			if (parse_double(optarg, 0, MAX_RATE, &o->rate))
				return usage_error("bad --rate '%s': 0..1e7",
						   optarg);
			o->rate_given = true;
			break;
		case OPT_RAMP:
			if (parse_double(optarg, 0, MAX_DURATION_S, &o->ramp_s))
				return usage_error("bad --ramp '%s'", optarg);
			break;
		case 'd':
			if (parse_double(optarg, 0.001, MAX_DURATION_S,
					 &o->duration_s))
				return usage_error("bad --duration '%s': "
						   "0.001..86400 s",
						   optarg);
			break;
		case 'n':
			if (parse_u64(optarg, 1, MAX_COUNT, &o->count))
				return usage_error("bad --count '%s': 1..1e10",
						   optarg);
			break;
		case 'c':
			if (parse_u64(optarg, 1, MAX_CONCURRENT,
				      &o->max_concurrent))
				return usage_error("bad --max-concurrent '%s': "
						   "1..4194304",
						   optarg);
			break;
		case OPT_MAX_TIME:
			if (parse_double(optarg, 0.1, MAX_DURATION_S,
					 &o->max_time_s))
				return usage_error("bad --max-time '%s': "
						   "0.1..86400 s",
						   optarg);
			break;
		case OPT_DRAIN:
			if (parse_double(optarg, 0, 3600, &o->drain_s))
				return usage_error("bad --drain '%s'", optarg);
			break;
		case OPT_SEARCH:
			o->search = true;
			break;
		case OPT_SEARCH_MAX:
			if (parse_double(optarg, 1, MAX_RATE, &o->search_max))
				return usage_error("bad --search-max '%s'",
						   optarg);
			break;
		case OPT_SEARCH_STEP:
			if (parse_double(optarg, 0.1, 3600, &o->search_step_s))
				return usage_error("bad --search-step '%s'",
						   optarg);
			break;
		case OPT_SEARCH_STEPS:
			if (parse_unsigned(optarg, 1, SEARCH_STEPS_MAX,
					   &o->search_steps))
				return usage_error("bad --search-steps '%s': "
						   "1..40",
						   optarg);
			break;
		case OPT_SEARCH_P99:
			if (parse_unsigned(optarg, 0, 3600000,
					   &o->search_p99_ms))
				return usage_error("bad --search-p99 '%s'",
						   optarg);
			break;
		case OPT_T1:
			if (parse_unsigned(optarg, 1, 60000, &c->t1_ms))
				return usage_error("bad --t1 '%s'", optarg);
			break;
		case OPT_T2:
			if (parse_unsigned(optarg, 1, 600000, &c->t2_ms))
				return usage_error("bad --t2 '%s'", optarg);
			break;
		case OPT_DROP:
			if (parse_double(optarg, 0, 0.9, &c->drop_rate))
				return usage_error("bad --drop-rate '%s': "
						   "0..0.9",
						   optarg);
			break;
		case OPT_SEED:
			if (parse_u64(optarg, 0, UINT64_MAX, &v))
				return usage_error("bad --seed '%s'", optarg);
			c->seed = v;
			break;
		case OPT_SLACK:
			if (!strcmp(optarg, "auto")) {
				o->slack_ms = -1;
				break;
			}
			if (parse_double(optarg, 0, 100, &d))
				return usage_error("bad --slack-ms '%s': "
						   "0..100 or auto",
						   optarg);
			o->slack_ms = d;
			break;
		case OPT_ANSWER:
			if (parse_unsigned(optarg, 0, 600000, &c->answer_ms))
				return usage_error("bad --answer-ms '%s'",
						   optarg);
			break;
		case OPT_UAS_AUTH:
			if (parse_auth(optarg, &c->uas_auth))
				return usage_error("bad --uas-auth '%s': md5, "
						   "sha-256 or md5,sha-256",
						   optarg);
			break;
		case OPT_REALM:
			if (!*optarg || strlen(optarg) >= sizeof(c->realm) ||
			    strpbrk(optarg, "\"\\\r\n"))
				return usage_error("bad --realm '%s'", optarg);
			snprintf(c->realm, sizeof(c->realm), "%s", optarg);
			break;
		case OPT_UAS_100REL:
			c->uas_100rel_supported = true;
			break;
		case OPT_3PCC_ANSWER:
			if (sdpoa_mode_parse(optarg, &c->answer_mode))
				return usage_error(
				    "bad --3pcc-answer '%s': good, none, "
				    "port0 or codec",
				    optarg);
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_PROGRESS:
			o->progress = 1;
			break;
		case OPT_NO_PROGRESS:
			o->progress = 0;
			break;
		case ':':
			return usage_error("option '%s' needs a value",
					   argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'",
					   argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	return 0;
}

/* Check and complete the settings. Returns 0 or an exit status. */
static int setup(struct opts *o)
{
	struct worker_conf *c = &o->c;
	char why[256];
	int err;
	int ret;

	c->roles = !strcmp(o->role, "uac")   ? WORKER_UAC
		   : !strcmp(o->role, "uas") ? WORKER_UAS
					     : WORKER_UAC | WORKER_UAS;
	if ((c->roles & WORKER_UAC) && !o->target)
		return usage_error("%s needs --target", "a UAC");
	if ((c->roles & WORKER_UAS) && !o->listen)
		return usage_error("%s needs --listen", "a UAS");
	if (!o->search && !o->duration_s && !o->count)
		return usage_error("%s", "refusing an unbounded run: give "
					 "--duration or --count");
	if (o->search && !(c->roles & WORKER_UAC))
		return usage_error("%s", "--search needs the uac role");
	if (o->target) {
		ret =
		    parse_addr("target", o->target, &c->target, &c->target_len,
			       o->target_str, sizeof(o->target_str));
		if (ret)
			return ret;
	}
	if (o->listen) {
		ret = parse_addr("listen address", o->listen, &c->listen,
				 &c->listen_len, o->listen_str,
				 sizeof(o->listen_str));
		if (ret)
			return ret;
	}
	if (c->roles & WORKER_UAC) {
		struct sockaddr_storage sa;
		socklen_t len;
		const char *local = o->local;

		if (!local)
			local = c->target.ss_family == AF_INET6 ? "::1"
								: "127.0.0.1";
		if (!strcmp(local, "localhost"))
			local = "127.0.0.1";
		if (parse_ip(local, 0, &sa, &len) ||
		    sa.ss_family != c->target.ss_family)
			return usage_error("bad --local '%s': an IP address "
					   "of the target's family",
					   local);
		if (!addr_is_loopback(&sa)) {
			fprintf(stderr,
				"sipload: refusing --local %s: only loopback "
				"addresses (127.0.0.0/8, ::1) are allowed\n",
				local);
			return 2;
		}
		snprintf(c->local_ip, sizeof(c->local_ip), "%s", local);
	}
	if (o->domain) {
		if (!*o->domain || strlen(o->domain) >= sizeof(c->domain) ||
		    strpbrk(o->domain, " \t\r\n<>;@\""))
			return usage_error("bad --domain '%s'", o->domain);
		snprintf(c->domain, sizeof(c->domain), "%s", o->domain);
	} else {
		snprintf(c->domain, sizeof(c->domain), "%s", o->target_str);
	}
	if (o->users_csv) {
		err = userlist_load_csv(o->users_csv, &c->users, why,
					sizeof(why));
		if (err) {
			fprintf(stderr, "sipload: %s\n",
				why[0] ? why : strerror(-err));
			return 2;
		}
	} else if (userlist_parse(o->users, o->password, &c->users)) {
		return usage_error("bad --users '%s': LO-HI or a user name",
				   o->users);
	}
	c->uas_users = c->users;
	c->ruri_user = o->callee != NULL;
	if (userlist_parse(o->callee ? o->callee : "uas", "%u", &c->callees))
		return usage_error("bad --callee '%s': LO-HI or a user name",
				   o->callee);
	if (o->max_concurrent < c->threads)
		o->max_concurrent = c->threads;
	c->uac_slots =
	    (uint32_t)((o->max_concurrent + c->threads - 1) / c->threads);
	c->uas_slots = c->uac_slots;
	if (!c->call_timeout_ms)
		c->call_timeout_ms = 64 * c->t1_ms + c->answer_ms;
	if (c->t2_ms < c->t1_ms)
		c->t2_ms = c->t1_ms;
	if (o->drain_s < 0)
		o->drain_s =
		    (64.0 * c->t1_ms + c->hold_ms + c->answer_ms) / 1000.0 + 1;
	if (getrandom(&c->run_id, sizeof(c->run_id), 0) != sizeof(c->run_id))
		c->run_id = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	return 0;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct thread_arg {
	struct worker *w;
	const struct worker_phase *p;
	int err;
	bool batch;
	_Atomic int *done;
};

static void *thread_main(void *arg)
{
	struct thread_arg *a = arg;
	struct sched_param sp = { 0 };

	/* A batch task: when it wakes another (our peer, or the system
	 * under test on the same CPU) that one does not preempt it in the
	 * middle of a batch, so messages are handled in batches instead of
	 * one context switch each. */
	if (a->batch)
		sched_setscheduler(0, SCHED_BATCH, &sp);

	a->err = worker_run(a->w, a->p);
	atomic_fetch_add(a->done, 1);
	return NULL;
}

static double cpu_now(double *userp, double *sysp)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	*userp = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
	*sysp = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	return *userp + *sysp;
}

static void progress_line(struct worker **ws, unsigned n, int64_t t0)
{
	uint64_t started = 0, ok = 0, failed = 0, active = 0, retx = 0, uas = 0;
	unsigned i;

	for (i = 0; i < n; i++) {
		const struct worker_live *l = worker_live(ws[i]);

		started +=
		    atomic_load_explicit(&l->started, memory_order_relaxed);
		ok += atomic_load_explicit(&l->succeeded, memory_order_relaxed);
		failed +=
		    atomic_load_explicit(&l->failed, memory_order_relaxed);
		active +=
		    atomic_load_explicit(&l->active, memory_order_relaxed);
		retx += atomic_load_explicit(&l->retx, memory_order_relaxed);
		uas += atomic_load_explicit(&l->uas_ops, memory_order_relaxed);
	}
	fprintf(stderr,
		"\r%7.1fs  started %llu  ok %llu  failed %llu  active %llu  "
		"retx %llu  uas %llu   ",
		(mono_ms() - t0) / 1000.0, (unsigned long long)started,
		(unsigned long long)ok, (unsigned long long)failed,
		(unsigned long long)active, (unsigned long long)retx,
		(unsigned long long)uas);
	fflush(stderr);
}

/*
 * Run one phase on every worker and merge the statistics into @p st.
 * Returns 0 or a negative error from a worker.
 */
static int run_phase(struct worker **ws, unsigned n,
		     const struct worker_phase *p, bool progress,
		     struct worker_stats *st, double *cpu_user, double *cpu_sys)
{
	struct thread_arg args[MAX_THREADS];
	pthread_t tids[MAX_THREADS];
	_Atomic int done = 0;
	double u0, s0, u1, s1;
	unsigned i, started = 0;
	int err = 0;
	int64_t t0 = mono_ms();

	cpu_now(&u0, &s0);
	for (i = 0; i < n; i++) {
		args[i].w = ws[i];
		args[i].p = p;
		args[i].err = 0;
		args[i].done = &done;
		args[i].batch = true;
		if (pthread_create(&tids[i], NULL, thread_main, &args[i])) {
			err = -EAGAIN;
			atomic_store(&stop_flag, 2);
			break;
		}
		started++;
	}
	/* Bounded by the phase deadline, which every worker keeps. */
	while ((unsigned)atomic_load(&done) < started) {
		struct timespec ts = { 0, 250 * 1000 * 1000 };

		nanosleep(&ts, NULL);
		if (progress)
			progress_line(ws, n, t0);
		if (mono_ms() > p->deadline_ms + 5000)
			atomic_store(&stop_flag, 2);
	}
	for (i = 0; i < started; i++) {
		pthread_join(tids[i], NULL);
		if (args[i].err && !err)
			err = args[i].err;
	}
	if (progress) {
		progress_line(ws, n, t0);
		fprintf(stderr, "\n");
	}
	cpu_now(&u1, &s1);
	*cpu_user = u1 - u0;
	*cpu_sys = s1 - s0;
	memset(st, 0, sizeof(*st));
	for (i = 0; i < n; i++)
		worker_stats_merge(st, worker_stats(ws[i]));
	return err;
}

static void phase_init(struct worker_phase *p, const struct opts *o,
		       double rate, double window_s, uint64_t count,
		       double drain_s, int64_t deadline_ms,
		       _Atomic uint64_t *uas_done, _Atomic unsigned *uac_left)
{
	unsigned n = o->c.threads;

	memset(p, 0, sizeof(*p));
	p->rate = rate / n;
	p->ramp_s = o->ramp_s;
	p->count = count ? (count + n - 1) / n : 0;
	p->start_ms = mono_ms() + 20;
	p->window_ms = (int64_t)(window_s * 1000);
	p->drain_ms = (int64_t)(drain_s * 1000);
	p->deadline_ms = deadline_ms;
	p->uas_count = count;
	p->linger_ms = 2 * o->c.t1_ms;
	if (o->slack_ms >= 0) {
		p->slack_us = (int64_t)(o->slack_ms * 1000);
	} else if (p->rate > 0) {
		/* Auto: the time in which about 32 operations start, within
		 * 1..5 ms. A wake-up by a timer costs as much CPU as several
		 * messages (a virtual machine's idle CPU wakes up slowly), so
		 * a few dozen starts share one. */
		double ms = 32000.0 / p->rate;

		p->slack_us = (int64_t)((ms < 1 ? 1 : ms > 5 ? 5 : ms) * 1000);
	} else {
		p->slack_us = 1000;
	}
	p->uas_done = uas_done;
	p->uac_left = uac_left;
	atomic_store(uac_left, n);
	p->stop = &stop_flag;
}

/* Every operation of the step started and succeeded, and (with a
 * bound) its p99 to the final response is within @p p99_ms: a proxy
 * that queues the step in its socket buffers and answers it seconds
 * late has not kept up with the rate. */
static bool step_clean(const struct worker_stats *st, unsigned p99_ms)
{
	if (p99_ms &&
	    hist_percentile(&st->lat_final, 99) > (uint64_t)p99_ms * 1000)
		return false;
	return st->started > 0 && !st->failed && !st->unfinished &&
	       !st->skipped && st->started + 1 >= (uint64_t)st->offered;
}

int main(int argc, char **argv)
{
	static struct worker_stats st;
	static struct report_step steps[SEARCH_STEPS_MAX];
	struct opts o;
	struct worker *ws[MAX_THREADS] = { NULL };
	struct worker_phase ph;
	struct report r;
	struct sigaction sa;
	_Atomic uint64_t uas_done = 0;
	_Atomic unsigned uac_left = 0;
	double cu = 0, cs = 0;
	int64_t run_deadline;
	bool progress;
	unsigned i;
	char why[256];
	int ret;
	int err = 0;
	unsigned nsteps = 0;
	double best = 0;

	ret = parse_args(argc, argv, &o);
	if (!ret)
		ret = setup(&o);
	if (ret)
		goto out;
	run_deadline = mono_ms() + (int64_t)(o.max_time_s * 1000);
	progress = o.progress < 0 ? isatty(2) : o.progress;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < o.c.threads; i++) {
		err = worker_new(&o.c, i, &ws[i], why, sizeof(why));
		if (err) {
			fprintf(stderr, "sipload: %s\n", why);
			ret = 3;
			goto out;
		}
	}
	if (!o.search) {
		phase_init(&ph, &o, o.rate, o.duration_s, o.count, o.drain_s,
			   run_deadline, &uas_done, &uac_left);
		err = run_phase(ws, o.c.threads, &ph, progress, &st, &cu, &cs);
	} else {
		double rate = o.rate_given && o.rate > 0 ? o.rate : 1000;
		double bad = 0;

		if (rate > o.search_max)
			rate = o.search_max;
		for (nsteps = 0; nsteps < o.search_steps; nsteps++) {
			static struct worker_stats sst;
			struct report_step *s = &steps[nsteps];
			double u, y, next;

			if (atomic_load(&stop_flag) ||
			    mono_ms() + (int64_t)(o.search_step_s * 1000) >
				run_deadline)
				break;
			phase_init(&ph, &o, rate, o.search_step_s, 0,
				   o.drain_s < 5 ? o.drain_s : 5, run_deadline,
				   &uas_done, &uac_left);
			err = run_phase(ws, o.c.threads, &ph, progress, &sst,
					&u, &y);
			if (err)
				break;
			memset(s, 0, sizeof(*s));
			s->rate = rate;
			s->achieved = sst.window_us > 0
					  ? sst.started * 1e6 / sst.window_us
					  : 0;
			s->started = sst.started;
			s->succeeded = sst.succeeded;
			s->failed = sst.failed;
			s->unfinished = sst.unfinished;
			s->skipped = sst.skipped;
			s->cpu_s = u + y;
			s->p99_final_us = hist_percentile(&sst.lat_final, 99);
			s->clean = step_clean(&sst, o.search_p99_ms);
			if (s->clean && rate > best) {
				best = rate;
				/* The report shows the best clean step. */
				st = sst;
				cu = u;
				cs = y;
			} else if (best == 0 && nsteps == 0) {
				st = sst;
				cu = u;
				cs = y;
			}
			if (!s->clean && (bad == 0 || rate < bad))
				bad = rate;
			if (s->clean && bad == 0)
				next = rate * 2;
			else if (bad > 0 && best > 0)
				next = (best + bad) / 2;
			else
				next = rate / 2;
			if (next > o.search_max)
				next = o.search_max;
			if (best > 0 && bad > 0 && (bad - best) / best < 0.05)
				break;
			if (next == rate || next < 1)
				break;
			rate = floor(next);
			/* Let the queues of the system under test empty. */
			{
				struct timespec ts = { 0, 500 * 1000 * 1000 };

				nanosleep(&ts, NULL);
			}
		}
		if (nsteps < o.search_steps && nsteps < SEARCH_STEPS_MAX &&
		    steps[nsteps].started)
			nsteps++;
	}
	if (err)
		fprintf(stderr, "sipload: %s\n", strerror(-err));
	memset(&r, 0, sizeof(r));
	r.version = SIPEDGE_VERSION;
	r.scenario = scenario_names[o.c.scenario];
	r.transport = o.c.tcp ? "tcp" : "udp";
	r.roles = o.role;
	r.target = (o.c.roles & WORKER_UAC) ? o.target_str : "";
	r.listen = (o.c.roles & WORKER_UAS) ? o.listen_str : "";
	r.threads = o.c.threads;
	r.rate = o.search ? best : o.rate;
	r.ramp_s = o.ramp_s;
	r.uac = o.c.roles & WORKER_UAC;
	r.st = &st;
	r.cpu_user_s = cu;
	r.cpu_sys_s = cs;
	if (o.search) {
		r.steps = steps;
		r.nsteps = nsteps;
		r.best_rate = best;
	}
	if (o.json)
		report_json(stdout, &r);
	else
		report_text(stdout, &r);
	fflush(stdout);
	if (err)
		ret = 3;
	else if (o.search)
		ret = best > 0 ? 0 : 1;
	else if (r.uac && (st.failed || st.unfinished))
		ret = 1;
	else if ((o.c.roles & WORKER_UAS) && report_uas_3pcc_failed(&st))
		ret = 1;
	else
		ret = 0;
out:
	for (i = 0; i < MAX_THREADS; i++)
		worker_free(ws[i]);
	userlist_free(o.c.users);
	userlist_free(o.c.callees);
	return ret;
}
