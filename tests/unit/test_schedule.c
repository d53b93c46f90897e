/*
 * test_schedule: the adaptive sampling schedule (recorder_next_interval): 10 ms during the
 * first second, a sixtieth of the elapsed time after (1 s at one minute), capped by the maximum;
 * a fixed -i overrides it; and a day-long run stays within the record count the 50 MB/day
 * budget for a 10-process tree allows (bench/ measures the bytes per record).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "recorder.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_adaptive),
		cmocka_unit_test(test_fixed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
