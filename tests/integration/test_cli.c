/* tests/integration/test_cli.c - the sipedge command line: --version, --help,
 * --check, bind failure, signals */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/common/proc.h"
#include "tests/common/sipcli.h"

#define EXIT_MS 20000

static struct proc_sipedge sp;
static struct proc_sipedge first; /* an instance that runs beside sp */
static char *out_text;
static char *err_text;
static int busy_fd[2] = { -1, -1 };

static void setup(void)
{
	memset(&sp, 0, sizeof(sp));
	memset(&first, 0, sizeof(first));
	out_text = NULL;
	err_text = NULL;
}

static void teardown(void)
{
	unsigned i;

	for (i = 0; i < 2; i++)
		if (busy_fd[i] >= 0)
			close(busy_fd[i]);
	free(out_text);
	free(err_text);
	proc_sipedge_cleanup(&sp);
	proc_sipedge_cleanup(&first);
}

TestSuite(cli, .init = setup, .fini = teardown, .timeout = 60);

/* Run sipedge with @args to its end; returns its exit code. */
static int run(char *const args[])
{
	int status = 0;
	int err;

	err = proc_sipedge_spawn(&sp, args);
	cr_assert_eq(err, 0, "%s", sp.why);
	err = proc_sipedge_wait(&sp, EXIT_MS, &status);
	cr_assert_eq(err, 0, "%s", sp.why);
	cr_assert(WIFEXITED(status), "sipedge killed by signal %d",
		  WTERMSIG(status));
	cr_assert_eq(proc_sipedge_check_log(&sp), 0, "%s", sp.why);
	free(out_text);
	free(err_text);
	out_text = NULL;
	err_text = NULL;
	cr_assert_eq(proc_read_file(sp.out, &out_text), 0);
	cr_assert_eq(proc_read_file(sp.log, &err_text), 0);
	/* The next run appends to the same files: start them afresh. */
	unlink(sp.out);
	unlink(sp.log);
	return WEXITSTATUS(status);
}

/* @opt appears in @text as an option of its own ("-c" inside
 * "--check" does not count). */
static bool mentions(const char *text, const char *opt)
{
	size_t n = strlen(opt);
	const char *p = text;

	while ((p = strstr(p, opt)) != NULL) {
		bool left = p == text ||
			    !(isalnum((unsigned char)p[-1]) || p[-1] == '-');
		bool right = !(isalnum((unsigned char)p[n]) || p[n] == '-');

		if (left && right)
			return true;
		p += n;
	}
	return false;
}

Test(cli, version_prints_name_and_version)
{
	char *args[] = { "--version", NULL };

	cr_assert_eq(run(args), 0, "stderr: %s", err_text);
	cr_assert_str_eq(out_text, "sipedge " SIPEDGE_VERSION "\n",
			 "--version printed '%s'", out_text);
}

Test(cli, help_mentions_every_option)
{
	static const char *const opts[] = { "-c", "--check", "-w",
					    "-l", "--help",  "--version" };
	char *args[] = { "--help", NULL };
	size_t i;

	cr_assert_eq(run(args), 0, "stderr: %s", err_text);
	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		cr_assert(mentions(out_text, opts[i]),
			  "--help does not mention %s:\n%s", opts[i], out_text);
}

Test(cli, usage_errors_exit_2)
{
	/* --help documents exit status 2 for a usage error. */
	char *unknown[] = { "--no-such-option", NULL };
	char *workers_word[] = { "-w", "many", NULL };
	char *workers_big[] = { "-w", "65", NULL };
	char *level[] = { "-l", "loud", NULL };
	char *missing[] = { "-c", NULL };
	char **cases[] = { unknown, workers_word, workers_big, level, missing };
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(run(cases[i]), 2, "'%s %s' was not a usage error",
			     cases[i][0], cases[i][1] ? cases[i][1] : "");
		cr_assert(strlen(err_text) > 0, "no message for '%s'",
			  cases[i][0]);
	}
}

static void write_conf(const char *text, char *path, size_t size)
{
	int err;

	err = proc_tmpdir(sp.dir, sizeof(sp.dir));
	cr_assert_eq(err, 0);
	err = proc_write_file(sp.dir, "test.yaml", text, path, size);
	cr_assert_eq(err, 0);
}

Test(cli, check_accepts_a_good_file)
{
	char path[PROC_PATH_MAX];
	char want[PROC_PATH_MAX + 8];
	char *args[] = { "--check", path, NULL };

	write_conf("workers: 2\n"
		   "log_level: info\n"
		   "listen:\n"
		   "  - address: 127.0.0.1\n"
		   "    port: 5999\n"
		   "    transports: [udp, tcp]\n"
		   "domains: [example.com, localhost]\n"
		   "tcp:\n"
		   "  max_connections: 100\n"
		   "  idle_timeout_s: 30\n"
		   "  max_header_bytes: 8192\n"
		   "  max_body_bytes: 32768\n"
		   "udp:\n"
		   "  batch: 16\n"
		   "max_headers: 64\n",
		   path, sizeof(path));
	cr_assert_eq(run(args), 0, "--check failed: %s", err_text);
	snprintf(want, sizeof(want), "%s: ok", path);
	cr_assert(strstr(out_text, want) || strstr(err_text, want),
		  "no '%s' in the output: %s%s", want, out_text, err_text);
}

Test(cli, check_rejects_unknown_key_with_its_line)
{
	char path[PROC_PATH_MAX];
	char want[PROC_PATH_MAX + 8];
	char *args[] = { "--check", path, NULL };

	write_conf("workers: 1\n"
		   "log_level: info\n"
		   "no_such_key: 1\n"
		   "domains: [localhost]\n",
		   path, sizeof(path));
	cr_assert_eq(run(args), 1, "stderr: %s", err_text);
	snprintf(want, sizeof(want), "%s:3:", path);
	cr_assert(strstr(err_text, want), "no '%s' in stderr: %s", want,
		  err_text);
}

Test(cli, check_rejects_bad_value_with_its_line)
{
	char path[PROC_PATH_MAX];
	char want[PROC_PATH_MAX + 8];
	char *args[] = { "--check", path, NULL };

	write_conf("log_level: info\n"
		   "workers: many\n"
		   "domains: [localhost]\n",
		   path, sizeof(path));
	cr_assert_eq(run(args), 1, "stderr: %s", err_text);
	snprintf(want, sizeof(want), "%s:2:", path);
	cr_assert(strstr(err_text, want), "no '%s' in stderr: %s", want,
		  err_text);
}

Test(cli, bad_config_stops_start_up_with_its_line)
{
	char path[PROC_PATH_MAX];
	char want[PROC_PATH_MAX + 8];
	char *args[] = { "-c", path, NULL };

	write_conf("workers: 1\n"
		   "listen:\n"
		   "  - address: 127.0.0.1\n"
		   "    port: 70000\n",
		   path, sizeof(path));
	cr_assert_eq(run(args), 1, "stderr: %s", err_text);
	snprintf(want, sizeof(want), "%s:4:", path);
	cr_assert(strstr(err_text, want), "no '%s' in stderr: %s", want,
		  err_text);
}

Test(cli, missing_config_file_fails_naming_it)
{
	char path[PROC_PATH_MAX];
	char *args[] = { "-c", path, NULL };

	cr_assert_eq(proc_tmpdir(sp.dir, sizeof(sp.dir)), 0);
	snprintf(path, sizeof(path), "%s/absent.yaml", sp.dir);
	cr_assert_neq(run(args), 0, "started without its config file");
	cr_assert(strstr(err_text, path), "stderr does not name %s: %s", path,
		  err_text);
}

/* Hold @port on 127.0.0.1 over UDP and TCP (no SO_REUSEPORT). */
static void occupy(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(port) };

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	busy_fd[0] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	busy_fd[1] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert(busy_fd[0] >= 0 && busy_fd[1] >= 0);
	cr_assert_eq(bind(busy_fd[0], (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(bind(busy_fd[1], (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(busy_fd[1], 1), 0);
}

Test(cli, port_in_use_exits_3_naming_the_address)
{
	char path[PROC_PATH_MAX];
	char conf[512];
	char addr[64];
	char *args[] = { "-c", path, NULL };
	uint16_t port;

	cr_assert_eq(proc_free_port("127.0.0.1", &port), 0);
	occupy(port);
	snprintf(conf, sizeof(conf),
		 "workers: 1\n"
		 "listen:\n"
		 "  - address: 127.0.0.1\n"
		 "    port: %u\n"
		 "    transports: [udp, tcp]\n"
		 "domains: [localhost]\n",
		 port);
	write_conf(conf, path, sizeof(path));
	cr_assert_eq(run(args), 3, "stderr: %s", err_text);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	cr_assert(strstr(err_text, addr), "stderr does not name %s: %s", addr,
		  err_text);
}

/* SO_REUSEPORT would let a second sipedge (same user, same option) share
 * the port and silently take part of the first one's traffic. */
Test(cli, second_instance_on_the_same_port_exits_3)
{
	char path[PROC_PATH_MAX];
	char conf[512];
	char *args[] = { "-c", path, NULL };
	int err;

	err = proc_sipedge_start(&first, "127.0.0.1", 2, NULL);
	cr_assert_eq(err, 0, "sipedge did not start: %s", first.why);
	snprintf(conf, sizeof(conf),
		 "workers: 2\n"
		 "listen:\n"
		 "  - address: 127.0.0.1\n"
		 "    port: %u\n"
		 "domains: [localhost]\n",
		 first.port);
	write_conf(conf, path, sizeof(path));
	cr_assert_eq(run(args), 3, "stderr: %s", err_text);
	cr_assert(strstr(err_text, "already in use"), "stderr: %s", err_text);
	/* The first one still answers, and alone. */
	cr_assert_eq(sipcli_ping(first.host, first.port, 5000), 200);
	err = proc_sipedge_signal_stop(&first, SIGTERM, EXIT_MS);
	cr_assert_eq(err, 0, "%s", first.why);
}

Test(cli, logs_listening_and_sigint_exits_cleanly)
{
	char want[64];
	int err;

	err = proc_sipedge_start(&sp, "127.0.0.1", 1, NULL);
	cr_assert_eq(err, 0, "sipedge did not start: %s", sp.why);
	err = proc_sipedge_signal_stop(&sp, SIGINT, EXIT_MS);
	cr_assert_eq(err, 0, "%s", sp.why);
	cr_assert_eq(proc_read_file(sp.log, &err_text), 0);
	snprintf(want, sizeof(want), "%u", sp.port);
	cr_assert(strstr(err_text, "listening on"),
		  "no 'listening on' in the log: %s", err_text);
	cr_assert(strstr(err_text, want), "the log does not name port %s: %s",
		  want, err_text);
}

Test(cli, sigterm_exits_cleanly_with_two_workers)
{
	int err;

	err = proc_sipedge_start(&sp, "127.0.0.1", 2, NULL);
	cr_assert_eq(err, 0, "sipedge did not start: %s", sp.why);
	cr_assert_eq(sipcli_ping(sp.host, sp.port, 5000), 200);
	err = proc_sipedge_signal_stop(&sp, SIGTERM, EXIT_MS);
	cr_assert_eq(err, 0, "%s", sp.why);
}
