/*
 * test_schedule: the adaptive sampling schedule (recorder_next_interval): 10 ms during the
 * first second, a sixtieth of the elapsed time after (1 s at one minute), capped by the maximum;
 * a fixed -i overrides it; and a day-long run stays within the record count the 50 MB/day
 * budget for a 10-process tree allows (bench/ measures the bytes per record); no interval
 * and no wait goes past its bound, whatever the options (the loop's timespec never overflows).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "record/recorder.h"

static long count_records(const struct recorder_options *o, double seconds)
{
	long n = 0;
	for (double t = 0; t < seconds; t += recorder_next_interval(o, t))
		n++;
	return n;
}

static void test_adaptive(void **state)
{
	(void)state;
	struct recorder_options o;
	recorder_options_init(&o);
	assert_true(recorder_next_interval(&o, 0) == 0.01);
	assert_true(recorder_next_interval(&o, 0.99) == 0.01);
	assert_true(recorder_next_interval(&o, 60) == 1.0);
	assert_true(recorder_next_interval(&o, 3600) == RECORDER_MAX_INTERVAL);
	long first_second = count_records(&o, 1.0);
	assert_in_range(first_second, 95, 101);
	/* A 24 h run: at most 18,000 records. At about 1.2 KB per record for 10 processes
	 * (see bench/), that is about 22 MB, under the 50 MB budget. */
	long day = count_records(&o, 86400);
	assert_in_range(day, 17000, 18000);
	o.max_interval = 1.0;
	assert_true(recorder_next_interval(&o, 3600) == 1.0);
}

static void test_fixed(void **state)
{
	(void)state;
	struct recorder_options o;
	recorder_options_init(&o);
	o.interval = 0.25;
	assert_true(recorder_next_interval(&o, 0) == 0.25);
	assert_true(recorder_next_interval(&o, 7200) == 0.25);
	assert_int_equal(count_records(&o, 10), 40);
}

static void test_bounded(void **state)
{
	(void)state;
	struct recorder_options o;
	recorder_options_init(&o);
	o.interval = 1e19; /* what -i 1e19 was: past time_t as a timespec */
	assert_true(recorder_next_interval(&o, 0) == RECORDER_INTERVAL_LIMIT);
	o.interval = 0;
	o.min_interval = o.max_interval = 1e300;
	assert_true(recorder_next_interval(&o, 100) == RECORDER_INTERVAL_LIMIT);
	const double waits[] = {1e19, 1e300, INFINITY, -1, -INFINITY, NAN, 0, 0.25, 2.5};
	for (size_t i = 0; i < sizeof(waits) / sizeof(waits[0]); i++) {
		struct timespec ts = recorder_wait_timespec(waits[i]);
		assert_true(ts.tv_sec >= 0 && ts.tv_sec <= (time_t)RECORDER_MAX_WAIT);
		assert_true(ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000L);
	}
	assert_int_equal(recorder_wait_timespec(1e19).tv_sec, (time_t)RECORDER_MAX_WAIT);
	assert_int_equal(recorder_wait_timespec(NAN).tv_sec, 0);
	struct timespec ts = recorder_wait_timespec(2.5);
	assert_int_equal(ts.tv_sec, 2);
	assert_int_equal(ts.tv_nsec, 500000000L);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_adaptive),
		cmocka_unit_test(test_fixed),
		cmocka_unit_test(test_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
