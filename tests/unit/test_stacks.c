/*
 * test_stacks: the stack captures of a run (lib/model/stacks.c) from the fixture log
 * stacks.jsonl: captures in order with their threads, identical stacks grouped and counted
 * across threads and captures, the capture at the job's peak, frame names and their escaping;
 * and the peak capture's choice on hand-made captures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/run.h"

static void load(struct run *run, const char *name)
{
	const char *dir = getenv("MEMLINE_FIXTURES");
	struct strbuf path = STRBUF_INIT, err = STRBUF_INIT;
	strbuf_addf(&path, "%s/logs/%s", dir ? dir : "tests/fixtures", name);
	if (run_load(run, path.buf, NULL, NULL, &err))
		fail_msg("run_load(%s): %s", path.buf, err.buf);
	strbuf_release(&path);
	strbuf_release(&err);
}

static void assert_frame_name(const struct run *run, size_t g, size_t k, const char *want)
{
	struct strbuf sb = STRBUF_INIT;
	run_frame_name(run_stacks_frame(&run->stacks, g, k), &sb);
	assert_string_equal(sb.buf, want);
	strbuf_release(&sb);
}

static void test_captures_grouped(void **state)
{
	(void)state;
	struct run run;
	load(&run, "stacks.jsonl");
	const struct run_stacks *st = &run.stacks;
	assert_int_equal(run.corrupt, 0);
	assert_int_equal(st->n_captures, 4);
	assert_int_equal(st->captures[0].n_stacks, 2);
	assert_int_equal(st->captures[1].why, STACK_EVENT);
	assert_int_equal(st->captures[1].label_len, 13); /* "epoch \e[31m1\0" */
	assert_int_equal(st->captures[2].n_stacks, 3);
	assert_int_equal(st->captures[3].n_stacks, 1);
	assert_string_equal(st->captures[3].stacks[0].error,
			    "the process exited during the capture");
	/* main's stack at 0.6 and 2.0, the loaders' (3 of them), capture 2's main, none */
	assert_int_equal(st->n_groups, 4);
	size_t main = st->captures[0].stacks[0].group, loader = st->captures[0].stacks[1].group;
	assert_int_equal(st->captures[2].stacks[0].group, main);
	assert_int_equal(st->captures[2].stacks[1].group, loader);
	assert_int_equal(st->captures[2].stacks[2].group, loader);
	assert_true(st->captures[2].stacks[2].truncated);
	assert_int_equal(st->groups[main].count, 2);
	assert_int_equal(st->groups[loader].count, 4);
	assert_int_equal(st->groups[st->captures[3].stacks[0].group].n_frames, 0);
	assert_int_equal(run.end.stacks.captures, 4);
	assert_int_equal(run.end.stacks.skipped, 1);
	assert_int_equal(run.end.stacks.failed, 1);
	/* The job peaked at 2.0: capture 3, a peak capture. */
	assert_int_equal(run_peak_capture(&run), 2);

	assert_frame_name(&run, main, 0, "grow (solver.c:41)");
	assert_frame_name(&run, main, 1, "libfoo.so.1+0x11e00");
	assert_frame_name(&run, main, 2, "load_batch (train.py:88)");
	size_t event = st->captures[1].stacks[0].group;
	assert_frame_name(&run, event, 0, "evil\\x1b]0;pwned\\x07 (b>.so)");
	assert_frame_name(&run, event, 1, "_PyEval_EvalFrameDefault (python3.11)");
	run_release(&run);
}

static void test_no_stacks(void **state)
{
	(void)state;
	struct run run;
	load(&run, "complete.jsonl");
	assert_int_equal(run.stacks.n_captures, 0);
	assert_int_equal(run.end.stacks.captures, -1);
	assert_int_equal(run_peak_capture(&run), -1);
	run_release(&run);
}

/* The last peak capture at or before the peak, else the nearest capture of any kind. */
static void test_capture_at(void **state)
{
	(void)state;
	struct run_stacks st;
	run_stacks_init(&st);
	struct stack_record s = {.capture = 1, .why = STACK_EVERY, .pid = 5, .tid = 5};
	double times[] = {1, 2, 3, 4};
	enum stack_why whys[] = {STACK_EVERY, STACK_PEAK, STACK_EVERY, STACK_PEAK};
	for (int i = 0; i < 4; i++) {
		s.t = times[i];
		s.capture = i + 1;
		s.why = whys[i];
		assert_int_equal(run_stacks_add(&st, &s), 0);
	}
	assert_int_equal(st.n_captures, 4);
	assert_int_equal(run_stacks_at(&st, 3.5), 1);
	assert_int_equal(run_stacks_at(&st, 4), 3);
	assert_int_equal(run_stacks_at(&st, 1.2), 0); /* no peak capture before: the nearest */
	run_stacks_release(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_captures_grouped),
		cmocka_unit_test(test_no_stacks),
		cmocka_unit_test(test_capture_at),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
