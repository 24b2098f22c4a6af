/* tests/integration/test_install.c - `make install` (PREFIX, DESTDIR), the
 * systemd unit (systemd-analyze verify), the man pages (groff), sd_notify,
 * and --check loading the users file as start-up does */
#include <criterion/criterion.h>

#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/common/proc.h"

#define RUN_MS 60000
#define BIG    (2 * PROC_PATH_MAX)

static char tmp[PROC_PATH_MAX / 2]; /* this test's scratch dir */
static struct proc_sipedge sp;
static char *out_text, *err_text;
static int notify_fd = -1;

static void setup(void)
{
	memset(&sp, 0, sizeof(sp));
	out_text = err_text = NULL;
	tmp[0] = '\0';
	cr_assert_eq(proc_tmpdir(tmp, sizeof(tmp)), 0);
	/* Under `make test` the child make would find the parent's
	 * jobserver in MAKEFLAGS, with file descriptors it does not have. */
	unsetenv("MAKEFLAGS");
	unsetenv("MFLAGS");
	unsetenv("MAKELEVEL");
}

static void teardown(void)
{
	if (notify_fd >= 0)
		close(notify_fd);
	notify_fd = -1;
	free(out_text);
	free(err_text);
	proc_sipedge_cleanup(&sp);
	if (tmp[0])
		proc_rmtree(tmp);
}

TestSuite(install, .init = setup, .fini = teardown, .timeout = 120);

static const char *env(const char *name)
{
	const char *v = getenv(name);

	cr_assert(v && v[0], "%s is not set (run through make)", name);
	return v;
}

/* Run @p argv to its end (at most RUN_MS); stdout in out_text, stderr in
 * err_text. Returns the exit status; a signal fails the test. */
static int run(char *const argv[])
{
	int rc;

	free(out_text);
	free(err_text);
	rc = proc_capture(argv, tmp, "run", RUN_MS, &out_text, &err_text);
	cr_assert_geq(rc, 0, "%s: %s", argv[0], strerror(-rc));
	return rc;
}

/* `make install` from the source tree with the binaries under test (their
 * build dir; never rebuilt here) and the extra arguments @p a1, @p a2. */
static void make_install(const char *target, const char *a1, const char *a2)
{
	char bin[PROC_PATH_MAX], build[PROC_PATH_MAX + 8];
	char o1[PROC_PATH_MAX + 16], o2[PROC_PATH_MAX + 16];
	char o3[PROC_PATH_MAX + 16];
	char *argv[16];
	int n = 0;

	snprintf(bin, sizeof(bin), "%s", env("SIPEDGE_BIN"));
	snprintf(build, sizeof(build), "BUILD=%s", dirname(bin));
	snprintf(o1, sizeof(o1), "%s/sipedge", bin);
	snprintf(o2, sizeof(o2), "%s/sipload", bin);
	snprintf(o3, sizeof(o3), "%s/sipctl", bin);
	argv[n++] = "make";
	argv[n++] = "-s";
	argv[n++] = "--no-print-directory";
	argv[n++] = "-C";
	argv[n++] = (char *)env("SIPEDGE_SRCDIR");
	argv[n++] = "-o";
	argv[n++] = o1;
	argv[n++] = "-o";
	argv[n++] = o2;
	argv[n++] = "-o";
	argv[n++] = o3;
	argv[n++] = (char *)target;
	argv[n++] = build;
	argv[n++] = (char *)a1;
	argv[n++] = (char *)a2;
	argv[n] = NULL;
	cr_assert_eq(run(argv), 0, "make %s %s %s failed: %s%s", target,
		     a1 ? a1 : "", a2 ? a2 : "", out_text, err_text);
}

/* @p rel under @p root is a regular file with mode @p mode. */
static void assert_file(const char *root, const char *rel, mode_t mode)
{
	char path[BIG];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	cr_assert_eq(stat(path, &st), 0, "%s: %s", rel, strerror(errno));
	cr_assert(S_ISREG(st.st_mode), "%s is not a file", rel);
	cr_assert_eq(st.st_mode & 07777, mode, "%s has mode %04o, not %04o",
		     rel, (unsigned)(st.st_mode & 07777), (unsigned)mode);
}

static char *read_rel(const char *root, const char *rel)
{
	char path[BIG];
	char *text = NULL;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	cr_assert_eq(proc_read_file(path, &text), 0, "cannot read %s", path);
	return text;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert(f, "%s: %s", path, strerror(errno));
	cr_assert(fputs(text, f) >= 0);
	cr_assert_eq(fclose(f), 0);
}

Test(install, destdir_lays_out_the_files_with_their_modes)
{
	char dest[BIG], prog[BIG + 64], arg[BIG + 64];
	char *src, *etc, *doc;
	char *version[] = { prog, "--version", NULL };
	char *check[] = { prog, "--check", arg, NULL };

	snprintf(dest, sizeof(dest), "DESTDIR=%s/root", tmp);
	make_install("install", dest, "PREFIX=/usr");
	snprintf(dest, sizeof(dest), "%s/root", tmp);
	assert_file(dest, "usr/sbin/sipedge", 0755);
	assert_file(dest, "usr/bin/sipload", 0755);
	assert_file(dest, "usr/sbin/sipctl", 0755);
	assert_file(dest, "etc/sipedge/sipedge.yaml", 0644);
	assert_file(dest, "usr/share/doc/sipedge/sipedge.yaml", 0644);
	assert_file(dest, "usr/lib/systemd/system/sipedge.service", 0644);
	assert_file(dest, "usr/lib/sysusers.d/sipedge.conf", 0644);
	assert_file(dest, "usr/share/man/man8/sipedge.8", 0644);
	assert_file(dest, "usr/share/man/man1/sipload.1", 0644);
	assert_file(dest, "usr/share/man/man8/sipctl.8", 0644);
	assert_file(dest, "usr/share/sipedge/sounds/music.wav", 0644);
	assert_file(dest, "usr/share/sipedge/sounds/parked-at.wav", 0644);

	/* The config is the example, byte for byte. */
	src = read_rel(env("SIPEDGE_SRCDIR"), "etc/sipedge.yaml");
	etc = read_rel(dest, "etc/sipedge/sipedge.yaml");
	doc = read_rel(dest, "usr/share/doc/sipedge/sipedge.yaml");
	cr_assert_str_eq(etc, src);
	cr_assert_str_eq(doc, src);
	free(src);
	free(etc);
	free(doc);

	/* PREFIX=/usr: the unit names the distribution's paths. */
	etc = read_rel(dest, "usr/lib/systemd/system/sipedge.service");
	cr_assert(strstr(etc, "\nExecStart=/usr/sbin/sipedge -c "
			      "/etc/sipedge/sipedge.yaml\n"),
		  "unit: %s", etc);
	free(etc);

	/* The installed binaries run, and accept the installed config. */
	snprintf(prog, sizeof(prog), "%s/usr/sbin/sipedge", dest);
	cr_assert_eq(run(version), 0, "%s", err_text);
	cr_assert_str_eq(out_text, "sipedge " SIPEDGE_VERSION "\n");
	snprintf(arg, sizeof(arg), "%s/etc/sipedge/sipedge.yaml", dest);
	cr_assert_eq(run(check), 0, "%s", err_text);
	snprintf(prog, sizeof(prog), "%s/usr/bin/sipload", dest);
	cr_assert_eq(run(version), 0, "%s", err_text);
	cr_assert(strstr(out_text, SIPEDGE_VERSION), "%s", out_text);
}

Test(install, keeps_an_existing_config_and_uninstall_keeps_it_too)
{
	char dest[BIG], root[BIG], conf[BIG + 64], bin[BIG + 64];
	char *text;
	struct stat st;

	snprintf(dest, sizeof(dest), "DESTDIR=%s/root", tmp);
	snprintf(root, sizeof(root), "%s/root", tmp);
	snprintf(conf, sizeof(conf), "%s/etc/sipedge/sipedge.yaml", root);
	make_install("install", dest, "PREFIX=/usr");
	write_text(conf, "workers: 1 # the operator's\n");
	make_install("install", dest, "PREFIX=/usr");
	cr_assert(strstr(out_text, "kept"), "make said: %s", out_text);
	text = read_rel(root, "etc/sipedge/sipedge.yaml");
	cr_assert_str_eq(text, "workers: 1 # the operator's\n");
	free(text);

	make_install("uninstall", dest, "PREFIX=/usr");
	snprintf(bin, sizeof(bin), "%s/usr/sbin/sipedge", root);
	cr_assert_neq(stat(bin, &st), 0, "uninstall left %s", bin);
	snprintf(bin, sizeof(bin), "%s/usr/lib/systemd/system/sipedge.service",
		 root);
	cr_assert_neq(stat(bin, &st), 0, "uninstall left %s", bin);
	snprintf(bin, sizeof(bin), "%s/usr/share/sipedge", root);
	cr_assert_neq(stat(bin, &st), 0, "uninstall left %s", bin);
	text = read_rel(root, "etc/sipedge/sipedge.yaml");
	cr_assert_str_eq(text, "workers: 1 # the operator's\n");
	free(text);
}

/* systemd-analyze verify checks the unit as systemd would load it: keys,
 * values, and that ExecStart's binary exists (so the unit is installed
 * with a PREFIX whose paths resolve here, no DESTDIR). Documentation=
 * man:sipedge(8) makes it run man(1), which finds the installed page
 * through MANPATH. */
Test(install, systemd_analyze_verify_accepts_the_installed_unit)
{
	char prefix[BIG], unit[BIG + 64], man[BIG + 32], bin[BIG + 32];
	char want[2 * BIG];
	char *text;
	char *verify[] = { "systemd-analyze", "verify", unit, NULL };

	snprintf(prefix, sizeof(prefix), "PREFIX=%s/p", tmp);
	make_install("install", prefix, NULL);
	snprintf(unit, sizeof(unit), "%s/p/lib/systemd/system/sipedge.service",
		 tmp);
	snprintf(man, sizeof(man), "%s/p/share/man", tmp);
	snprintf(bin, sizeof(bin), "%s/p/sbin/sipedge", tmp);
	cr_assert_eq(setenv("MANPATH", man, 1), 0);

	text = read_rel(tmp, "p/lib/systemd/system/sipedge.service");
	snprintf(want, sizeof(want),
		 "\nExecStart=%s -c %s/p/etc/sipedge/"
		 "sipedge.yaml\n",
		 bin, tmp);
	cr_assert(strstr(text, want), "no '%s' in the unit:\n%s", want, text);
	cr_assert(strstr(text, "\nType=notify\n"));
	cr_assert(strstr(text, "\nRestart=on-failure\n"));
	cr_assert(strstr(text, "\nUser=sipedge\n"));
	free(text);

	cr_assert_eq(run(verify), 0, "verify failed: %s%s", out_text, err_text);
	cr_assert_str_eq(err_text, "", "verify warned: %s", err_text);
	cr_assert_str_eq(out_text, "", "verify said: %s", out_text);

	/* The same check fails when the binary is not there: verify does
	 * look. */
	cr_assert_eq(unlink(bin), 0);
	cr_assert_neq(run(verify), 0, "verify passed without %s", bin);
	cr_assert(strstr(err_text, bin), "verify did not name %s: %s", bin,
		  err_text);
}

/* The options @p help names ("-c", "--check"), each appears in the
 * rendered page @p page. */
static void assert_options_documented(const char *help, const char *page,
				      const char *name)
{
	const char *p = help;
	unsigned n = 0;

	/* Bounded: p moves forward every pass. */
	while ((p = strchr(p, '-')) != NULL) {
		bool start =
		    p == help || p[-1] == ' ' || p[-1] == '\n' || p[-1] == ',';
		size_t len = p[1] == '-' ? 2 : 1;
		char opt[64];

		if (!start || !isalpha((unsigned char)p[len])) {
			p++;
			continue;
		}
		while (len < sizeof(opt) - 1 &&
		       (isalnum((unsigned char)p[len]) || p[len] == '-'))
			len++;
		memcpy(opt, p, len);
		opt[len] = '\0';
		cr_assert(strstr(page, opt), "%s does not mention %s", name,
			  opt);
		n++;
		p += len;
	}
	cr_assert_gt(n, 5, "only %u options found in the help of %s", n, name);
}

Test(install, man_pages_render_without_warnings_and_name_every_option)
{
	static const struct {
		const char *page, *bin;
	} pages[] = {
		{ "usr/share/man/man8/sipedge.8", "usr/sbin/sipedge" },
		{ "usr/share/man/man1/sipload.1", "usr/bin/sipload" },
		{ "usr/share/man/man8/sipctl.8", "usr/sbin/sipctl" },
	};
	char dest[BIG], path[2 * BIG], prog[2 * BIG];
	char *warn[] = { "groff", "-man", "-Tutf8", "-ww", "-z", path, NULL };
	/* One long line per paragraph (no hyphenation), no overstriking. */
	char *text[] = { "groff",      "-man",	  "-Tascii", "-ww",
			 "-rLL=4000n", "-P-cbou", path,	     NULL };
	char *help[] = { prog, "--help", NULL };

	snprintf(dest, sizeof(dest), "DESTDIR=%s/root", tmp);
	make_install("install", dest, "PREFIX=/usr");
	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
		char *rendered;

		snprintf(path, sizeof(path), "%s/root/%s", tmp, pages[i].page);
		cr_assert_eq(run(warn), 0, "%s: %s", path, err_text);
		cr_assert_str_eq(err_text, "", "groff warns about %s: %s",
				 pages[i].page, err_text);
		cr_assert_eq(run(text), 0, "%s", err_text);
		rendered = out_text;
		out_text = NULL;
		snprintf(prog, sizeof(prog), "%s/root/%s", tmp, pages[i].bin);
		cr_assert_eq(run(help), 0, "%s", err_text);
		assert_options_documented(out_text, rendered, pages[i].page);
		free(rendered);
	}

	/* The warning check works: a page with an unknown macro fails. */
	snprintf(path, sizeof(path), "%s/bad.1", tmp);
	write_text(path, ".TH BAD 1\n.SH NAME\nbad \\- bad\n.XQ nothing\n");
	run(warn);
	cr_assert(strstr(err_text, "XQ"), "groff -ww did not warn: '%s'",
		  err_text);
}

/* A config in tmp naming the users file tmp/users. */
static void users_conf(char *conf, size_t conflen, char *users, size_t ulen,
		       const char *users_text)
{
	char text[BIG * 2];

	snprintf(users, ulen, "%s/users", tmp);
	snprintf(conf, conflen, "%s/check.yaml", tmp);
	snprintf(text, sizeof(text),
		 "domains: [localhost]\n"
		 "registrar:\n"
		 "  users_file: %s\n",
		 users);
	write_text(conf, text);
	if (users_text)
		write_text(users, users_text);
}

#define HA1 "md5:0123456789abcdef0123456789abcdef"

Test(install, check_fails_on_a_broken_users_file_naming_its_line)
{
	char conf[BIG], users[BIG], want[BIG + 8];
	char *args[] = { (char *)env("SIPEDGE_BIN"), "--check", conf, NULL };

	users_conf(conf, sizeof(conf), users, sizeof(users),
		   "# users\nalice@localhost " HA1 "\nbob@localhost md5:zz\n");
	cr_assert_eq(run(args), 1, "--check passed: %s%s", out_text, err_text);
	snprintf(want, sizeof(want), "%s:3: ", users);
	cr_assert(strstr(err_text, want), "no '%s' in: %s", want, err_text);
	cr_assert_str_eq(out_text, "", "stdout: %s", out_text);
}

Test(install, check_fails_on_a_missing_users_file)
{
	char conf[BIG], users[BIG], want[BIG + 32];
	char *args[] = { (char *)env("SIPEDGE_BIN"), "--check", conf, NULL };

	users_conf(conf, sizeof(conf), users, sizeof(users), NULL);
	cr_assert_eq(run(args), 1, "--check passed: %s%s", out_text, err_text);
	snprintf(want, sizeof(want), "%s: No such file or directory", users);
	cr_assert(strstr(err_text, want), "no '%s' in: %s", want, err_text);
}

Test(install, check_accepts_a_good_users_file)
{
	char conf[BIG], users[BIG], want[BIG + 8];
	char *args[] = { (char *)env("SIPEDGE_BIN"), "--check", conf, NULL };

	users_conf(conf, sizeof(conf), users, sizeof(users),
		   "# users\nalice@localhost " HA1 "\n\nbob@localhost " HA1
		   "\n");
	cr_assert_eq(run(args), 0, "--check failed: %s", err_text);
	snprintf(want, sizeof(want), "%s: ok\n", conf);
	cr_assert_str_eq(out_text, want);
	cr_assert(strstr(err_text, "2 users"), "stderr: %s", err_text);
}

/* Start-up rejects the same file with the same words --check used. */
Test(install, start_up_fails_on_the_users_file_check_rejects)
{
	char conf[BIG], users[BIG], check_err[2 * BIG];
	char *check[] = { (char *)env("SIPEDGE_BIN"), "--check", conf, NULL };
	char *start[] = { (char *)env("SIPEDGE_BIN"), "-c", conf, NULL };

	users_conf(conf, sizeof(conf), users, sizeof(users),
		   "alice@localhost sha256:0123\n");
	cr_assert_eq(run(check), 1, "--check passed");
	/* "FILE:1: reason\n" */
	snprintf(check_err, sizeof(check_err), "%s", err_text);
	cr_assert(strstr(check_err, ":1: "), "%s", check_err);
	check_err[strcspn(check_err, "\n")] = '\0';
	cr_assert_eq(run(start), 1, "start-up did not fail: %s", err_text);
	cr_assert(strstr(err_text, check_err), "start-up said '%s', not '%s'",
		  err_text, check_err);
}

/* Type=notify: READY=1 once sipedge answers, STOPPING=1 on SIGTERM, on the
 * socket systemd names in $NOTIFY_SOCKET. */
static void notify_wait(const char *needle, char *buf, size_t len)
{
	/* At most 20 datagrams, each waited for at most 10 s. */
	for (int i = 0; i < 20; i++) {
		ssize_t n = recv(notify_fd, buf, len - 1, 0);

		cr_assert(n >= 0, "no '%s' on NOTIFY_SOCKET: %s", needle,
			  strerror(errno));
		buf[n] = '\0';
		if (strstr(buf, needle))
			return;
	}
	cr_assert_fail("no '%s' in 20 notifications", needle);
}

Test(install, notifies_systemd_ready_and_stopping)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 10 };
	char buf[1024], port[16];
	int n;

	n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", tmp);

	cr_assert(n > 0 && (size_t)n < sizeof(sa.sun_path), "%s: too long",
		  tmp);
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert(notify_fd >= 0);
	cr_assert_eq(bind(notify_fd, (struct sockaddr *)&sa, sizeof(sa)), 0,
		     "%s", strerror(errno));
	cr_assert_eq(
	    setsockopt(notify_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	cr_assert_eq(setenv("NOTIFY_SOCKET", sa.sun_path, 1), 0);

	cr_assert_eq(proc_sipedge_start(&sp, "127.0.0.1", 1, NULL), 0, "%s",
		     sp.why);
	notify_wait("READY=1", buf, sizeof(buf));
	snprintf(port, sizeof(port), ":%u", sp.port);
	cr_assert(strstr(buf, "STATUS=listening on 127.0.0.1") &&
		      strstr(buf, port),
		  "READY without the listener: %s", buf);
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
	notify_wait("STOPPING=1", buf, sizeof(buf));
}
