/* tests/unit/store/test_memory.c - memory store: snapshot file, store thread */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "proxy/base/log.h"
#include "proxy/base/obj.h"
#include "store/loc.h"
#include "store/memory.h"
#include "store/rcu.h"
#include "tests/common/proc.h"
#include "tests/common/teardown.h"

static char dir[PROC_PATH_MAX / 2];
static char path[PROC_PATH_MAX];

static void setup(void)
{
	log_set_level(LOG__COUNT); /* the corrupt-file tests log errors */
	urcu_memb_register_thread();
	cr_assert_eq(loc_init(), 0);
	cr_assert_eq(proc_tmpdir(dir, sizeof(dir)), 0);
	snprintf(path, sizeof(path), "%s/location.snap", dir);
}

static void teardown(void)
{
	loc_fini();
	urcu_memb_unregister_thread();
	proc_rmtree(dir);
	teardown_check_objs(0);
}

TestSuite(memory, .init = setup, .fini = teardown, .timeout = 30);

/* Contacts with every field set, some with awkward bytes. */
static void fill(void)
{
	static const char ua[] = "odd UA % - \r\n\t\x01\xff end";
	struct loc_contact c[2];
	struct sockaddr_in *in = (struct sockaddr_in *)&c[0].flow.addr;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&c[1].flow.addr;

	memset(c, 0, sizeof(c));
	c[0].uri = SLICE_LIT("sip:alice@192.0.2.1:5060;transport=tcp");
	c[0].path = SLICE_LIT("<sip:p1.example;lr>,<sip:p2.example;lr;ob>");
	c[0].instance = SLICE_LIT("<urn:uuid:f81d4fae-7dec-11d0-a765>");
	c[0].reg_id = 1;
	c[0].call_id = SLICE_LIT("call 1");
	c[0].cseq = 42;
	c[0].user_agent = slice_make(ua, sizeof(ua) - 1);
	c[0].expires_s = 5000;
	c[0].q = 700;
	c[0].flags = LOC_OB;
	c[0].flow.proto = 1;
	c[0].flow.conn_id = 1234;
	c[0].flow.listen_idx = 2;
	in->sin_family = AF_INET;
	in->sin_port = htons(5070);
	inet_pton(AF_INET, "192.0.2.1", &in->sin_addr);
	c[1].uri = SLICE_LIT("-");
	c[1].call_id = SLICE_LIT("c2");
	c[1].expires_s = 6000;
	c[1].q = 1000;
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(5080);
	inet_pton(AF_INET6, "2001:db8::7", &in6->sin6_addr);
	cr_assert_eq(loc_publish(SLICE_LIT("alice@example.com"), c, 2), 0);
	c[1].expires_s = 100; /* expired at load time 1000 */
	cr_assert_eq(loc_publish(SLICE_LIT("old@example.com"), &c[1], 1), 0);
	cr_assert_eq(loc_publish(SLICE_LIT("alice@other.example"), &c[0], 1),
		     0);
}

/* Forget everything, as a restart does. */
static void restart(void)
{
	loc_fini();
	cr_assert_eq(loc_init(), 0);
	cr_assert_eq(loc_count(), 0);
}

Test(memory, save_then_load_gives_back_every_field)
{
	const struct loc_set *s;
	const struct sockaddr_in *in;
	const struct sockaddr_in6 *in6;

	fill();
	cr_assert_eq(memory_save(path), 4);
	restart();
	cr_assert_eq(memory_load(path, 1000), 3);
	cr_assert_eq(loc_count(), 2);
	urcu_memb_read_lock();
	s = loc_lookup_rcu(SLICE_LIT("alice@example.com"));
	cr_assert_not_null(s);
	cr_assert_eq(s->n, 2);
	cr_assert(slice_eq(
	    s->c[0].uri, SLICE_LIT("sip:alice@192.0.2.1:5060;transport=tcp")));
	cr_assert(
	    slice_eq(s->c[0].path,
		     SLICE_LIT("<sip:p1.example;lr>,<sip:p2.example;lr;ob>")));
	cr_assert(slice_eq(s->c[0].instance,
			   SLICE_LIT("<urn:uuid:f81d4fae-7dec-11d0-a765>")));
	cr_assert(slice_eq(s->c[0].call_id, SLICE_LIT("call 1")));
	cr_assert(slice_eq(s->c[0].user_agent,
			   SLICE_LIT("odd UA % - \r\n\t\x01\xff end")));
	cr_assert_eq(s->c[0].reg_id, 1);
	cr_assert_eq(s->c[0].cseq, 42);
	cr_assert_eq(s->c[0].expires_s, 5000);
	cr_assert_eq(s->c[0].q, 700);
	cr_assert_eq(s->c[0].flags, LOC_OB);
	cr_assert_eq(s->c[0].flow.proto, 1);
	/* A connection id means nothing to the next process. */
	cr_assert_eq(s->c[0].flow.conn_id, 0);
	cr_assert_eq(s->c[0].flow.listen_idx, 2);
	in = (const struct sockaddr_in *)&s->c[0].flow.addr;
	cr_assert_eq(in->sin_family, AF_INET);
	cr_assert_eq(ntohs(in->sin_port), 5070);
	cr_assert(slice_eq(s->c[1].uri, SLICE_LIT("-")));
	cr_assert_eq(s->c[1].path.len, 0);
	in6 = (const struct sockaddr_in6 *)&s->c[1].flow.addr;
	cr_assert_eq(in6->sin6_family, AF_INET6);
	cr_assert_eq(ntohs(in6->sin6_port), 5080);
	cr_assert_not_null(loc_lookup_rcu(SLICE_LIT("alice@other.example")));
	/* Expired at load time: not loaded. */
	cr_assert_null(loc_lookup_rcu(SLICE_LIT("old@example.com")));
	urcu_memb_read_unlock();
}

Test(memory, static_bindings_are_not_saved)
{
	struct loc_contact c;

	memset(&c, 0, sizeof(c));
	c.uri = SLICE_LIT("sip:gw@192.0.2.9");
	c.expires_s = INT64_MAX;
	cr_assert_eq(loc_publish(SLICE_LIT("trunk@example.com"), &c, 1), 0);
	fill();
	cr_assert_eq(memory_save(path), 4);
	restart();
	cr_assert_eq(memory_load(path, 1000), 3);
	urcu_memb_read_lock();
	cr_assert_null(loc_lookup_rcu(SLICE_LIT("trunk@example.com")));
	urcu_memb_read_unlock();
}

Test(memory, save_leaves_no_temporary_file)
{
	DIR *d;
	struct dirent *e;
	unsigned files = 0;

	fill();
	cr_assert_gt(memory_save(path), 0);
	cr_assert_gt(memory_save(path), 0);
	d = opendir(dir);
	cr_assert_not_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			files++;
	closedir(d);
	cr_assert_eq(files, 1);
}

Test(memory, missing_file_is_a_first_start)
{
	cr_assert_eq(memory_load(path, 0), -ENOENT);
	cr_assert_eq(loc_count(), 0);
}

Test(memory, every_truncation_is_refused_whole)
{
	char *text = NULL;
	size_t len;
	char cut[PROC_PATH_MAX];

	fill();
	cr_assert_gt(memory_save(path), 0);
	cr_assert_eq(proc_read_file(path, &text), 0);
	len = strlen(text);
	restart();
	snprintf(cut, sizeof(cut), "%s/cut.snap", dir);
	for (size_t n = 0; n < len; n++) {
		FILE *f = fopen(cut, "w");

		cr_assert_not_null(f);
		cr_assert_eq(fwrite(text, 1, n, f), n);
		fclose(f);
		cr_assert_eq(memory_load(cut, 1000), -EBADMSG, "cut at %zu", n);
		cr_assert_eq(loc_count(), 0, "cut at %zu loaded something", n);
	}
	free(text);
}

Test(memory, a_changed_byte_is_refused_whole)
{
	char *text = NULL;
	size_t len;

	fill();
	cr_assert_gt(memory_save(path), 0);
	cr_assert_eq(proc_read_file(path, &text), 0);
	len = strlen(text);
	restart();
	/* Every byte of the contact lines, one at a time. */
	for (size_t i = 20; i < len - 30; i += 7) {
		char saved = text[i];

		text[i] = text[i] == 'x' ? 'y' : 'x';
		cr_assert_eq(proc_write_file(dir, "bad.snap", text, NULL, 0),
			     0);
		text[i] = saved;
		{
			char bad[PROC_PATH_MAX];

			snprintf(bad, sizeof(bad), "%s/bad.snap", dir);
			cr_assert_eq(memory_load(bad, 1000), -EBADMSG,
				     "byte %zu", i);
		}
		cr_assert_eq(loc_count(), 0);
	}
	free(text);
}

Test(memory, store_thread_saves_at_stop)
{
	struct memory *m = NULL;

	cr_assert_eq(memory_start(path, 3600, &m), 0);
	fill();
	cr_assert_eq(memory_stop(m), 4);
	restart();
	cr_assert_eq(memory_load(path, 1000), 3);
}

Test(memory, store_thread_without_path_only_sweeps)
{
	struct memory *m = NULL;

	cr_assert_eq(memory_start(NULL, 10, &m), 0);
	fill();
	cr_assert_eq(memory_stop(m), 0);
	cr_assert_eq(access(path, F_OK), -1);
}
