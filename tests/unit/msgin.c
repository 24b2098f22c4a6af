/* tests/unit/msgin.c - a suite's fixture for tests that parse one guarded
 * input message into an arena */
#include "tests/unit/msgin.h"

#include <string.h>

#include <criterion/criterion.h>

#include "proxy/base/arena.h"
#include "proxy/base/obj.h"
#include "proxy/sip/msg.h"
#include "tests/common/guard.h"
#include "tests/common/teardown.h"

struct arena *msgin_arena;
static char *in;
static long live0;

void msgin_init_size(size_t size)
{
	live0 = obj_live();
	msgin_arena = arena_new(size);
	cr_assert_not_null(msgin_arena);
	in = NULL;
}

void msgin_init(void)
{
	msgin_init_size(4096);
}

void msgin_fini(void)
{
	guard_free(in);
	in = NULL;
	arena_free(msgin_arena);
	msgin_arena = NULL;
	teardown_check_objs(live0);
}

char *msgin_copy(const char *text, size_t len)
{
	guard_free(in);
	in = guard_copy(text, len);
	cr_assert_not_null(in);
	return in;
}

void msgin_reparse(const char *p, size_t len, struct sipmsg *m,
		   struct siphdr *hdrs, unsigned max, const char *what)
{
	int ret = sipmsg_parse(m, p, len, hdrs, max, 0);

	cr_assert_eq(ret, (int)len, "%s does not parse: %d %s\n%.*s", what, ret,
		     m->fault ? m->fault : "", (int)len, p);
	cr_assert_null(m->fault);
}

void msgin_expect_str(const char *p, size_t len, const char *want)
{
	cr_assert_eq(len, strlen(want), "got '%.*s', want '%s'", (int)len, p,
		     want);
	cr_assert(memcmp(p, want, len) == 0, "got '%.*s', want '%s'", (int)len,
		  p, want);
}
