/* tests/unit/msgin.c - a suite's fixture for tests that parse one guarded
 * input message into an arena */
#include "tests/unit/msgin.h"

#include <criterion/criterion.h>

#include "proxy/base/arena.h"
#include "proxy/base/obj.h"
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
