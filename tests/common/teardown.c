/* tests/common/teardown.c - checks in a suite's .fini that fail the test */
#include "tests/common/teardown.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <criterion/criterion.h>

#include "proxy/base/obj.h"
#include "tests/common/proc.h"

void teardown_check(bool ok, const char *fmt, ...)
{
	const struct criterion_test *t = criterion_current_test;
	va_list ap;

	if (ok)
		return;
	fprintf(stderr, "[FAIL] teardown of %s::%s: ", t ? t->category : "?",
		t ? t->name : "?");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	abort();
}

void teardown_check_objs(long live0)
{
	long live = obj_live();

	teardown_check(live == live0, "objects leaked: %ld live, %ld expected",
		       live, live0);
}

void teardown_sipedge(struct proc_sipedge *p)
{
	if (p->pid > 0)
		teardown_check(proc_sipedge_stop(p) == 0,
			       "sipedge did not stop cleanly: %s", p->why);
	proc_sipedge_cleanup(p);
}
