/* tests/integration/test_media.c - the media engine's sounds in the real
 * binary: the built-in set found beside it at start, a bad
 * b2b.media.sounds stops the start naming the file, bad b2b.media.ports
 * names the key and line */
#include <criterion/criterion.h>

#include <libgen.h>
#include <limits.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/common/proc.h"

#define WAIT_MS 5000
#define EXIT_MS 20000

static struct proc_sipedge sp;
static char *err_text;

static void setup(void)
{
	memset(&sp, 0, sizeof(sp));
	err_text = NULL;
}

static void teardown(void)
{
	free(err_text);
	proc_sipedge_cleanup(&sp);
}

TestSuite(media_start, .init = setup, .fini = teardown, .timeout = 90);

Test(media_start, builtin_sounds_loaded_from_beside_the_binary)
{
	const char *bin = getenv("SIPEDGE_BIN");
	char copy[PATH_MAX], want[PATH_MAX + 64];
	struct stat st;
	int err;

	cr_assert_not_null(bin, "SIPEDGE_BIN is not set");
	snprintf(copy, sizeof(copy), "%s", bin);
	snprintf(want, sizeof(want), "media: sounds from %s/sounds\n",
		 dirname(copy));
	err = proc_sipedge_start(&sp, "127.0.0.1", 1, NULL);
	cr_assert_eq(err, 0, "sipedge did not start: %s", sp.why);
	cr_assert_eq(proc_sipedge_wait_log(&sp, want, 1, WAIT_MS), 0, "%s",
		     sp.why);
	/* The set the build made is all there. */
	snprintf(want, sizeof(want), "%s/sounds/music.wav", copy);
	cr_assert_eq(stat(want, &st), 0, "%s", want);
	cr_assert_gt(st.st_size, 8000 * 2 * 10, "10 s of music at least");
	cr_assert_eq(proc_sipedge_stop(&sp), 0, "%s", sp.why);
}

/* sipedge -c FILE with @p yaml: exits @p code with @p a and @p b in its
 * stderr. */
static void fails(const char *yaml, int code, const char *a, const char *b)
{
	char path[PROC_PATH_MAX];
	char *run[] = { "-c", path, NULL };
	int status;

	cr_assert_eq(
	    proc_write_file(sp.dir, "media.yaml", yaml, path, sizeof(path)), 0);
	cr_assert_eq(proc_sipedge_spawn(&sp, run), 0, "%s", sp.why);
	cr_assert_eq(proc_sipedge_wait(&sp, EXIT_MS, &status), 0, "%s", sp.why);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == code,
		  "exit status %d, want %d", status, code);
	free(err_text);
	err_text = NULL;
	cr_assert_eq(proc_read_file(sp.log, &err_text), 0);
	cr_assert(strstr(err_text, a) && strstr(err_text, b),
		  "no '%s' and '%s' in: %s", a, b, err_text);
	cr_assert_eq(proc_sipedge_check_log(&sp), 0, "%s", sp.why);
	unlink(sp.log);
	unlink(sp.out);
}

Test(media_start, bad_sounds_directory_stops_the_start_naming_the_file)
{
	char yaml[PROC_PATH_MAX * 4], sounds[PROC_PATH_MAX],
	    wav[PROC_PATH_MAX * 2];
	SF_INFO info = { .samplerate = 16000,
			 .channels = 1,
			 .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16 };
	short z[160] = { 0 };
	SNDFILE *f;
	uint16_t port;

	cr_assert_eq(proc_tmpdir(sp.dir, sizeof(sp.dir)), 0);
	cr_assert_eq(proc_free_port("127.0.0.1", &port), 0);
	/* No such directory. */
	snprintf(yaml, sizeof(yaml),
		 "listen: [{address: 127.0.0.1, port: %u}]\n"
		 "management: {listen: []}\n"
		 "b2b:\n  media:\n    sounds: %s/none\n",
		 port, sp.dir);
	fails(yaml, 3, "none/zero.wav", "No such file");
	/* A WAV at 16 kHz: refused, with how to convert it. */
	snprintf(sounds, sizeof(sounds), "%s/s", sp.dir);
	cr_assert_eq(mkdir(sounds, 0700), 0);
	snprintf(wav, sizeof(wav), "%s/zero.wav", sounds);
	f = sf_open(wav, SFM_WRITE, &info);
	cr_assert_not_null(f);
	sf_writef_short(f, z, 160);
	sf_close(f);
	snprintf(yaml, sizeof(yaml),
		 "listen: [{address: 127.0.0.1, port: %u}]\n"
		 "management: {listen: []}\n"
		 "b2b:\n  media:\n    sounds: %s\n",
		 port, sounds);
	fails(yaml, 3, "s/zero.wav: 16000 Hz", "sox");
	unlink(wav);
	rmdir(sounds);
}

Test(media_start, bad_ports_name_key_and_line)
{
	cr_assert_eq(proc_tmpdir(sp.dir, sizeof(sp.dir)), 0);
	fails("b2b:\n  media:\n    ports: 20000\n", 1,
	      "media.yaml:3: ", "b2b.media.ports");
	fails("b2b:\n  media:\n\n    ports: 500-600\n", 1,
	      "media.yaml:4: ", "1024..65535");
}
