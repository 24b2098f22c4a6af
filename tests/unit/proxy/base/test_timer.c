/* tests/unit/proxy/test_timer.c - hashed timing wheel on a fake clock */
#include <criterion/criterion.h>

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "proxy/base/timer.h"

static struct timer_wheel w;
static struct timer t[8];
static unsigned fired[8];
static uint64_t fired_at[8];

static unsigned idx(struct timer *tm)
{
	return (unsigned)(tm - t);
}

static void cb(struct timer *tm)
{
	fired[idx(tm)]++;
	fired_at[idx(tm)] = timer_now(&w);
}

static void setup(void)
{
	memset(t, 0, sizeof(t));
	memset(fired, 0, sizeof(fired));
	memset(fired_at, 0, sizeof(fired_at));
	/* 10 ms ticks, 8 slots: one turn is only 80 ms. */
	cr_assert_eq(timer_wheel_init(&w, 10, 8, 1000), 0);
}

static void teardown(void)
{
	timer_wheel_fini(&w);
}

TestSuite(timer, .init = setup, .fini = teardown, .timeout = 10);

Test(timer, fires_once_never_early_at_most_a_tick_late)
{
	timer_start(&w, &t[0], 100, cb);
	cr_assert(timer_is_active(&t[0]));
	cr_assert_eq(timer_count(&w), 1);
	cr_assert_eq(timer_advance(&w, 1099), 0);
	cr_assert_eq(fired[0], 0);
	cr_assert_eq(timer_advance(&w, 1100), 1);
	cr_assert_eq(fired[0], 1);
	cr_assert_not(timer_is_active(&t[0]));
	cr_assert_eq(timer_count(&w), 0);
	timer_advance(&w, 5000);
	cr_assert_eq(fired[0], 1);
}

Test(timer, a_delay_between_ticks_rounds_up)
{
	timer_start(&w, &t[0], 15, cb);
	timer_advance(&w, 1010);
	cr_assert_eq(fired[0], 0, "fired 5 ms early");
	timer_advance(&w, 1020);
	cr_assert_eq(fired[0], 1);
}

Test(timer, stop_and_restart)
{
	timer_start(&w, &t[0], 50, cb);
	timer_start(&w, &t[1], 50, cb);
	timer_stop(&w, &t[0]);
	timer_stop(&w, &t[0]); /* twice is harmless */
	cr_assert_eq(timer_count(&w), 1);
	/* Restarting moves it instead of doubling it. */
	timer_start(&w, &t[1], 30, cb);
	timer_start(&w, &t[1], 70, cb);
	cr_assert_eq(timer_count(&w), 1);
	timer_advance(&w, 1060);
	cr_assert_eq(fired[1], 0);
	timer_advance(&w, 1070);
	cr_assert_eq(fired[0], 0);
	cr_assert_eq(fired[1], 1);
}

Test(timer, longer_than_a_turn_waits_for_its_own_tick)
{
	/* 500 ms is six turns of the 80 ms wheel. */
	timer_start(&w, &t[0], 500, cb);
	timer_start(&w, &t[1], 20, cb);
	for (uint64_t now = 1000; now < 1500; now += 10)
		timer_advance(&w, now);
	cr_assert_eq(fired[0], 0);
	cr_assert_eq(fired[1], 1);
	timer_advance(&w, 1500);
	cr_assert_eq(fired[0], 1);
	cr_assert_eq(fired_at[0], 1500);
}

Test(timer, a_late_advance_runs_everything_due_in_order)
{
	timer_start(&w, &t[0], 30, cb);
	timer_start(&w, &t[1], 300, cb);
	timer_start(&w, &t[2], 5000, cb);
	cr_assert_eq(timer_advance(&w, 2000), 2);
	cr_assert_eq(fired[0], 1);
	cr_assert_eq(fired[1], 1);
	cr_assert_eq(fired[2], 0);
	timer_advance(&w, 6000);
	cr_assert_eq(fired[2], 1);
}

static void rearm(struct timer *tm)
{
	cb(tm);
	if (fired[idx(tm)] < 3)
		timer_start(&w, tm, 0, rearm);
}

Test(timer, a_callback_restarting_itself_runs_at_the_next_advance)
{
	timer_start(&w, &t[0], 10, rearm);
	cr_assert_eq(timer_advance(&w, 1500), 1, "ran again in one advance");
	cr_assert_eq(timer_advance(&w, 1510), 1);
	cr_assert_eq(timer_advance(&w, 1520), 1);
	cr_assert_eq(timer_advance(&w, 1530), 0);
	cr_assert_eq(fired[0], 3);
}

static unsigned t1_at_stop; /* fired[1] when stop_other() ran */

static void stop_other(struct timer *tm)
{
	cb(tm);
	t1_at_stop = fired[1];
	timer_stop(&w, &t[1]);
	timer_stop(&w, &t[2]);
}

/* t[0] stops t[1] and t[2], all due in one tick; t[1] started first when
 * @p t1_first. Returns how often t[1] ran. */
static unsigned stop_in_tick(bool t1_first)
{
	unsigned ran;

	memset(fired, 0, sizeof(fired));
	if (t1_first)
		timer_start(&w, &t[1], 40, cb);
	timer_start(&w, &t[0], 40, stop_other);
	if (!t1_first)
		timer_start(&w, &t[1], 40, cb);
	timer_start(&w, &t[2], 40 + 80, cb);   /* same slot, next turn */
	timer_advance(&w, timer_now(&w) + 40); /* the tick they are due */
	cr_assert_eq(fired[0], 1);
	ran = fired[1];
	/* When t[1] ran, it ran before t[0] stopped it, never after. */
	cr_assert_leq(ran, 1);
	cr_assert_eq(ran, t1_at_stop, "t[1] ran after t[0] stopped it");
	timer_advance(&w, timer_now(&w) + 2000);
	cr_assert_eq(fired[1], ran, "t[1] ran after it was stopped");
	cr_assert_eq(fired[2], 0, "stopped timer ran");
	cr_assert_eq(timer_count(&w), 0);
	return ran;
}

Test(timer, a_callback_may_stop_timers_due_in_the_same_tick)
{
	/* Same slot, same tick: whichever runs first stops the others. In
	 * one of the two start orders t[0] runs first (whatever order the
	 * wheel runs a slot in), and there t[1] must not run at all. */
	unsigned ran_a = stop_in_tick(true);
	unsigned ran_b = stop_in_tick(false);

	cr_assert_lt(ran_a + ran_b, 2,
		     "t[1] ran in both orders: timer_stop() in a callback "
		     "did not stop a timer due in the same tick");
}

Test(timer, time_never_goes_back_and_fini_forgets_timers)
{
	timer_advance(&w, 1100);
	cr_assert_eq(timer_advance(&w, 900), 0);
	cr_assert_eq(timer_now(&w), 1100);
	timer_start(&w, &t[0], 10, cb);
	timer_start(&w, &t[1], 1000, cb);
	timer_wheel_fini(&w);
	cr_assert_not(timer_is_active(&t[0]));
	cr_assert_not(timer_is_active(&t[1]));
	cr_assert_eq(timer_wheel_init(&w, 10, 8, 0), 0);
}

Test(timer, bad_parameters)
{
	struct timer_wheel x;

	cr_assert_eq(timer_wheel_init(&x, 0, 8, 0), -EINVAL);
	cr_assert_eq(timer_wheel_init(&x, 10, 0, 0), -EINVAL);
	cr_assert_eq(timer_wheel_init(&x, 10, 5, 0), 0);
	timer_wheel_fini(&x);
	timer_wheel_fini(&x);
}

/* ---- timer_next_due() and timer_wheel_watch(): sleeping owners ---- */

static uint64_t fake_now;
static uint64_t alarms[8];
static unsigned nalarms;

static uint64_t fake_clock(void *arg)
{
	cr_assert_eq(arg, &w);
	return fake_now;
}

static void fake_alarm(void *arg, uint64_t at_ms)
{
	cr_assert_eq(arg, &w);
	cr_assert_lt(nalarms, 8);
	alarms[nalarms++] = at_ms;
}

Test(timer, next_due_is_the_earliest_timers_tick_or_none)
{
	cr_assert_eq(timer_next_due(&w), UINT64_MAX, "empty wheel");
	timer_start(&w, &t[0], 35, cb); /* tick 4: 1040 */
	timer_start(&w, &t[1], 12, cb); /* tick 2: 1020 */
	cr_assert_eq(timer_next_due(&w), 1020);
	timer_advance(&w, 1019);
	cr_assert_eq(fired[1], 0, "not before the time next_due gave");
	timer_advance(&w, timer_next_due(&w));
	cr_assert_eq(fired[1], 1, "at the time next_due gave");
	cr_assert_eq(timer_next_due(&w), 1040);
	timer_stop(&w, &t[0]);
	cr_assert_eq(timer_next_due(&w), UINT64_MAX, "empty again");
}

Test(timer, next_due_beyond_a_turn_is_at_most_a_turn_out)
{
	/* One turn is 80 ms: a timer 500 ms out is not looked for. */
	timer_start(&w, &t[0], 500, cb);
	cr_assert_eq(timer_next_due(&w), 1080);
	/* Asking again after each answer reaches it, never early. */
	for (int i = 0; i < 20 && !fired[0]; i++) {
		uint64_t at = timer_next_due(&w);

		cr_assert_neq(at, UINT64_MAX);
		timer_advance(&w, at);
	}
	cr_assert_eq(fired[0], 1);
	cr_assert_eq(fired_at[0], 1500);
}

Test(timer, the_alarm_rings_only_for_a_timer_due_before_the_promise)
{
	timer_wheel_watch(&w, fake_clock, fake_alarm, &w);
	fake_now = 1000;
	timer_start(&w, &t[0], 100, cb);
	cr_assert_eq(nalarms, 1, "no promise yet: the first start rings");
	cr_assert_eq(alarms[0], 1100);
	timer_start(&w, &t[1], 200, cb);
	cr_assert_eq(nalarms, 1, "later than the alarm already set");
	timer_start(&w, &t[2], 50, cb);
	cr_assert_eq(nalarms, 2, "earlier: rings again");
	cr_assert_eq(alarms[1], 1050);
	fake_now = 1050;
	timer_advance(&w, 1050);
	cr_assert_eq(fired[2], 1);
	cr_assert_eq(timer_next_due(&w), 1100);
	timer_start(&w, &t[3], 70, cb); /* 1120: after the promise */
	cr_assert_eq(nalarms, 2);
	timer_stop(&w, &t[0]);
	timer_stop(&w, &t[1]);
	timer_stop(&w, &t[3]);
	cr_assert_eq(timer_next_due(&w), UINT64_MAX, "asleep: no promise");
	timer_start(&w, &t[0], 10, cb);
	cr_assert_eq(nalarms, 3, "a start on a sleeping wheel rings");
	cr_assert_eq(alarms[2], 1060);
}

Test(timer, after_a_long_sleep_a_delay_counts_from_the_owners_clock)
{
	timer_wheel_watch(&w, fake_clock, fake_alarm, &w);
	/* No advance for 10 s: the wheel's own time is still 1000. */
	fake_now = 11000;
	timer_start(&w, &t[0], 100, cb);
	cr_assert_eq(alarms[0], 11100, "due 100 ms after the clock");
	timer_advance(&w, 11099);
	cr_assert_eq(fired[0], 0, "not early although the wheel slept");
	timer_advance(&w, 11100);
	cr_assert_eq(fired[0], 1);
}
