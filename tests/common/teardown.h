/* tests/common/teardown.h - checks in a suite's .fini that fail the test */
#pragma once

#include <stdbool.h>

/*
 * Criterion 2.4.1 runs a suite's .fini after it has counted the test: a
 * failed cr_assert or cr_expect there is printed but the test still
 * passes, and an exit() is not counted either. What it does count is a
 * crash: the runner prints "crashed during its setup or teardown" and
 * exits non-zero, and tests/run.sh fails the run on that line. These
 * helpers therefore abort() when a check fails.
 */

/**
 * Unless @p ok: print "teardown of SUITE::TEST: " and the printf-style
 * message to stderr, then abort(). For .fini only (in a test body use
 * cr_assert).
 */
void teardown_check(bool ok, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/**
 * teardown_check() that obj_live() is back to @p live0 (0 for suites
 * that start from no live objects): every obj_new() of the test was
 * released.
 */
void teardown_check_objs(long live0);

struct proc_sipedge;

/**
 * If @p p runs, stop it and teardown_check() that it stopped cleanly; then
 * proc_sipedge_cleanup() it.
 */
void teardown_sipedge(struct proc_sipedge *p);
