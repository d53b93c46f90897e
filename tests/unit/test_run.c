/*
 * test_run: the model of a run (lib/run.c) and its reports (lib/report.c), built from the
 * fixture logs under $MEMLINE_FIXTURES/logs: processes, exec, pid reuse, peaks, statuses, and
 * the JSON report parsed back with jansson to check its contract.
 */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "report.h"
#include "run.h"

#define assert_near(a, b) assert_true((a) > (b)-0.0005 && (a) < (b) + 0.0005)

static char *fixture(const char *name)
{
	const char *dir = getenv("MEMLINE_FIXTURES");
	struct strbuf sb = STRBUF_INIT;
	strbuf_addf(&sb, "%s/logs/%s", dir ? dir : "tests/fixtures", name);
	return strbuf_detach(&sb, NULL);
}

static void load(struct run *run, const char *name)
{
	char *path = fixture(name);
	struct strbuf err = STRBUF_INIT;
	int ret = run_load(run, path, NULL, NULL, &err);
	if (ret)
		fail_msg("run_load(%s): %s", path, err.buf);
	strbuf_release(&err);
	free(path);
}

static void assert_cmd(const struct run *run, size_t i, const char *want)
{
	struct strbuf sb = STRBUF_INIT;
	run_proc_cmd(run, i, &sb);
	assert_string_equal(sb.buf, want);
	strbuf_release(&sb);
}

static void test_complete(void **state)
{
	(void)state;
	struct run run;
	load(&run, "complete.jsonl");
	assert_true(run.has_header);
	assert_true(run.has_end);
	assert_int_equal(run.status, RUN_COMPLETED);
	assert_near(run.duration, 1.2);
	assert_int_equal(run.n_procs, 2);
	assert_int_equal(run.n_samples, 4);
	assert_int_equal(run.n_proc_samples, 6);
	assert_int_equal(run.samples[1].first, 1);
	assert_int_equal(run.samples[1].n, 2);
	assert_int_equal(run.proc_samples[2].proc, 1);
	assert_int_equal(run.proc_samples[2].v.v[PF_RSS], 2000);

	/* tree peak: the last sample's, which counts the exited python's last interval */
	assert_int_equal(run.peak, 52200);
	assert_near(run.peak_t, 1.01);

	const struct run_proc *sh = &run.procs[0], *py = &run.procs[1];
	assert_int_equal(sh->pid, 100);
	assert_int_equal(sh->ppid, 99);
	assert_cmd(&run, 0, "sh -c 'python3 train.py; echo done'");
	assert_int_equal(sh->peak, 1200);
	assert_near(sh->peak_t, 0.01);
	assert_int_equal(sh->first_sample, 0);
	assert_int_equal(sh->last_sample, 3);
	assert_int_equal(sh->utime, 6);
	assert_int_equal(sh->stime, 3);

	assert_int_equal(py->pid, 101);
	assert_int_equal(py->ppid, 100);
	assert_cmd(&run, 1, "python3 train.py"); /* the exec record replaced the shell's argv */
	assert_string_equal(py->comm, "python3");
	assert_near(py->start, 0.012);
	assert_near(py->end, 1.0);
	assert_true(py->exited);
	assert_int_equal(py->exit.code, 0);
	assert_int_equal(py->peak, 51200); /* from the exit record, above every sample */
	assert_near(py->peak_t, 1.0);
	assert_int_equal(py->utime, 800);
	assert_int_equal(py->stime, 100);
	assert_int_equal(py->first_sample, 1);
	assert_int_equal(py->last_sample, 2);

	struct strbuf cmd = STRBUF_INIT;
	run_command(&run, &cmd);
	assert_string_equal(cmd.buf, "sh -c 'python3 train.py; echo done'");
	strbuf_release(&cmd);
	run_release(&run);
}

static void test_pid_reuse(void **state)
{
	(void)state;
	struct run run;
	load(&run, "pidreuse.jsonl");
	assert_int_equal(run.n_procs, 3);
	assert_int_equal(run.procs[1].pid, 201);
	assert_int_equal(run.procs[2].pid, 201);
	assert_cmd(&run, 1, "cc -c a.c");
	assert_cmd(&run, 2, "cc -c b.c");
	assert_int_equal(run.procs[1].exit.code, 0);
	assert_int_equal(run.procs[2].exit.code, 1);
	assert_near(run.procs[1].end, 0.03);
	assert_near(run.procs[2].start, 0.038);
	assert_int_equal(run.procs[1].peak, 2048);
	assert_int_equal(run.procs[2].peak, 4600);
	/* the second sample's pid 201 is the second cc */
	assert_int_equal(run.samples[1].n, 2);
	assert_int_equal(run.proc_samples[run.samples[1].first + 1].proc, 2);
	assert_int_equal(run.procs[1].last_sample, 0);
	assert_int_equal(run.procs[2].first_sample, 1);
	assert_int_equal(run_proc_by_pid(&run, 201), 2);
	assert_int_equal(run_proc_by_pid(&run, 999), -1);
	assert_int_equal(run.status, RUN_FAILED);
	run_release(&run);
}

static void test_oom(void **state)
{
	(void)state;
	struct run run;
	load(&run, "oom.jsonl");
	assert_int_equal(run.status, RUN_OOM_KILLED);
	assert_int_equal(run.end.n_oom_killed, 1);
	assert_int_equal(run.end.oom_killed[0], 123);
	assert_true(run.procs[0].exit.oom);
	assert_int_equal(run.procs[0].exit.signal, 9);
	assert_int_equal(run.procs[1].end, -1); /* still alive at the end */
	assert_int_equal(run.peak, 3900000);

	struct strbuf sb = STRBUF_INIT;
	report_ending(&run, &sb);
	assert_string_equal(sb.buf, "oom-killed: pid 123 (python3 train.py) killed by the "
				    "kernel's OOM killer at 12.3 s");
	strbuf_reset(&sb);
	report_text(&run, &sb);
	assert_false(sb.oom);
	assert_non_null(strstr(sb.buf, "oom-killed: pid 123 (python3 train.py)"));
	assert_non_null(strstr(sb.buf, "oom      python3 train.py"));
	assert_non_null(strstr(sb.buf, "alive    python3 -c 'import loader'"));
	strbuf_release(&sb);
	run_release(&run);
}

static void test_incomplete(void **state)
{
	(void)state;
	struct run run;
	load(&run, "truncated.jsonl");
	assert_false(run.has_end);
	assert_true(run.truncated);
	assert_int_equal(run.status, RUN_INCOMPLETE);
	assert_near(run.duration, 0.02);
	assert_int_equal(run.n_samples, 2);
	size_t n;
	pid_t *alive = run_alive(&run, &n);
	assert_int_equal(n, 1);
	assert_int_equal(alive[0], 100);
	free(alive);
	struct strbuf sb = STRBUF_INIT;
	report_text(&run, &sb);
	assert_non_null(strstr(sb.buf, "the log has no end record: memline or the machine died, "
				       "or it is still being written"));
	assert_non_null(strstr(sb.buf, "cut off"));
	strbuf_release(&sb);
	run_release(&run);
}

static void test_corrupt(void **state)
{
	(void)state;
	struct run run;
	load(&run, "corrupt.jsonl");
	assert_int_equal(run.corrupt, 1);
	assert_int_equal(run.n_samples, 2);
	assert_int_equal(run.status, RUN_FAILED);
	assert_int_equal(run.end.exit_code, 3);
	run_release(&run);
}

static void test_load_errors(void **state)
{
	(void)state;
	struct run run;
	struct strbuf err = STRBUF_INIT;
	assert_int_equal(run_load(&run, "/nonexistent/x.jsonl", NULL, NULL, &err),
			 RUN_LOAD_NOINPUT);
	run_release(&run);
	strbuf_reset(&err);
	char *path = fixture("notalog.jsonl");
	assert_int_equal(run_load(&run, path, NULL, NULL, &err), RUN_LOAD_DATAERR);
	assert_non_null(strstr(err.buf, "is not a memline log"));
	run_release(&run);
	free(path);
	strbuf_release(&err);
}

static void test_quote(void **state)
{
	(void)state;
	struct strbuf sb = STRBUF_INIT;
	run_quote_arg(&sb, "plain-arg_1.txt", 15);
	strbuf_addch(&sb, ' ');
	run_quote_arg(&sb, "a b", 3);
	strbuf_addch(&sb, ' ');
	run_quote_arg(&sb, "it's", 4);
	strbuf_addch(&sb, ' ');
	run_quote_arg(&sb, "", 0);
	assert_string_equal(sb.buf, "plain-arg_1.txt 'a b' 'it'\\''s' ''");
	strbuf_release(&sb);
}

static void test_units(void **state)
{
	(void)state;
	struct strbuf sb = STRBUF_INIT;
	report_bytes(&sb, 512);
	strbuf_addch(&sb, '|');
	report_bytes(&sb, 1536);
	strbuf_addch(&sb, '|');
	report_bytes(&sb, 52200LL * 1024);
	strbuf_addch(&sb, '|');
	report_bytes(&sb, 3LL << 30);
	strbuf_addch(&sb, '|');
	report_secs(&sb, 0.3404);
	strbuf_addch(&sb, '|');
	report_secs(&sb, 12.34);
	strbuf_addch(&sb, '|');
	report_secs(&sb, 245);
	strbuf_addch(&sb, '|');
	report_secs(&sb, 7620);
	strbuf_addch(&sb, '|');
	report_secs(&sb, -1.5);
	strbuf_addch(&sb, '|');
	report_signal(&sb, 9);
	assert_string_equal(sb.buf, "512 B|1.5 KiB|51.0 MiB|3.0 GiB|340 ms|12.3 s|4 min 05 s|"
				    "2 h 07 min|-1.5 s|SIGKILL");
	strbuf_release(&sb);
}

/* A run of 1000 samples with one spike: the timeline must show it (max per bucket). */
static void test_timeline_keeps_spike(void **state)
{
	(void)state;
	struct run run;
	struct log_record rec;
	run_init(&run);
	log_record_init(&rec);
	rec.type = REC_HEADER;
	rec.header.format = 1;
	assert_int_equal(run_add_record(&run, &rec), 0);
	for (int i = 1; i <= 1000; i++) {
		log_record_init(&rec);
		rec.type = REC_SAMPLE;
		rec.sample.t = i * 0.1;
		for (int f = 0; f < TREE_NFIELDS; f++)
			rec.sample.tree.v[f] = -1;
		rec.sample.tree.v[TF_RSS] = i == 777 ? 100000 : 1000;
		assert_int_equal(run_add_record(&run, &rec), 0);
	}
	run.has_end = true;
	run.end.t = 100;
	run.end.status = RUN_COMPLETED;
	run_update_status(&run);
	assert_int_equal(run.peak, 100000);
	assert_near(run.peak_t, 77.7);

	struct strbuf sb = STRBUF_INIT;
	report_text(&run, &sb);
	const char *tl = strstr(sb.buf, "timeline");
	assert_non_null(tl);
	int rows = 0, full = 0;
	for (const char *l = strchr(tl, '\n') + 1; *l; l = strchr(l, '\n') + 1) {
		rows++;
		if (strstr(l, "100%") && strstr(l, "100%") < strchr(l, '\n'))
			full++;
	}
	assert_int_equal(rows, 21); /* a heading and 20 buckets */
	assert_int_equal(full, 1);
	strbuf_release(&sb);
	run_release(&run);
}

static void test_report_json_complete(void **state)
{
	(void)state;
	struct run run;
	load(&run, "complete.jsonl");
	struct strbuf sb = STRBUF_INIT;
	report_json(&run, &sb);
	json_error_t jerr;
	json_t *o = json_loads(sb.buf, 0, &jerr);
	if (!o)
		fail_msg("report_json is not JSON: %s\n%s", jerr.text, sb.buf);
	assert_string_equal(json_string_value(json_object_get(o, "status")), "completed");
	assert_int_equal(json_integer_value(json_object_get(o, "exit_code")), 0);
	assert_true(json_is_null(json_object_get(o, "signal")));
	assert_near(json_number_value(json_object_get(o, "duration")), 1.2);
	assert_int_equal(json_integer_value(json_object_get(o, "samples")), 4);
	assert_int_equal(json_integer_value(json_object_get(o, "peak_rss")), 52200LL * 1024);
	assert_near(json_number_value(json_object_get(o, "peak_rss_t")), 1.01);
	assert_int_equal(json_integer_value(json_object_get(o, "format")), 1);
	assert_string_equal(json_string_value(json_object_get(o, "host")), "node17");
	assert_string_equal(json_string_value(json_object_get(o, "start")),
			    "2026-11-21T10:15:00.123Z");
	assert_non_null(strstr(json_string_value(json_object_get(o, "log")), "complete.jsonl"));
	json_t *cmd = json_object_get(o, "command");
	assert_int_equal(json_array_size(cmd), 3);
	assert_string_equal(json_string_value(json_array_get(cmd, 2)),
			    "python3 train.py; echo done");
	assert_int_equal(json_array_size(json_object_get(o, "oom_killed")), 0);
	assert_int_equal(json_array_size(json_object_get(o, "alive")), 0);
	assert_true(json_is_array(json_object_get(o, "events")));
	assert_int_equal(json_array_size(json_object_get(o, "events")), 0);

	json_t *procs = json_object_get(o, "processes");
	assert_int_equal(json_array_size(procs), 2);
	json_t *py = json_array_get(procs, 1);
	assert_int_equal(json_integer_value(json_object_get(py, "pid")), 101);
	assert_int_equal(json_integer_value(json_object_get(py, "ppid")), 100);
	assert_string_equal(json_string_value(json_object_get(py, "cmd")), "python3 train.py");
	assert_near(json_number_value(json_object_get(py, "start")), 0.012);
	assert_near(json_number_value(json_object_get(py, "end")), 1.0);
	assert_int_equal(json_integer_value(json_object_get(py, "peak_rss")), 51200LL * 1024);
	assert_near(json_number_value(json_object_get(py, "cpu")), 0.9);
	assert_int_equal(json_integer_value(json_object_get(py, "exit_code")), 0);
	assert_true(json_is_null(json_object_get(py, "signal")));
	assert_true(json_is_false(json_object_get(py, "oom")));
	json_decref(o);
	strbuf_release(&sb);
	run_release(&run);
}

static void test_report_json_oom(void **state)
{
	(void)state;
	struct run run;
	load(&run, "oom.jsonl");
	struct strbuf sb = STRBUF_INIT;
	report_json(&run, &sb);
	json_error_t jerr;
	json_t *o = json_loads(sb.buf, 0, &jerr);
	if (!o)
		fail_msg("report_json is not JSON: %s\n%s", jerr.text, sb.buf);
	assert_string_equal(json_string_value(json_object_get(o, "status")), "oom-killed");
	assert_true(json_is_null(json_object_get(o, "exit_code")));
	assert_int_equal(json_integer_value(json_object_get(o, "signal")), 9);
	assert_int_equal(json_integer_value(json_object_get(o, "peak_rss")), 3900000LL * 1024);
	json_t *oom = json_object_get(o, "oom_killed");
	assert_int_equal(json_array_size(oom), 1);
	assert_int_equal(json_integer_value(json_array_get(oom, 0)), 123);
	json_t *alive = json_object_get(o, "alive");
	assert_int_equal(json_array_size(alive), 1);
	assert_int_equal(json_integer_value(json_array_get(alive, 0)), 124);
	json_t *procs = json_object_get(o, "processes");
	json_t *p0 = json_array_get(procs, 0), *p1 = json_array_get(procs, 1);
	assert_true(json_is_true(json_object_get(p0, "oom")));
	assert_int_equal(json_integer_value(json_object_get(p0, "signal")), 9);
	assert_true(json_is_null(json_object_get(p0, "exit_code")));
	assert_near(json_number_value(json_object_get(p0, "cpu")), 21.5);
	assert_true(json_is_null(json_object_get(p1, "end")));
	assert_true(json_is_false(json_object_get(p1, "oom")));
	json_decref(o);
	strbuf_release(&sb);
	run_release(&run);
}

static void test_report_json_incomplete(void **state)
{
	(void)state;
	struct run run;
	load(&run, "truncated.jsonl");
	struct strbuf sb = STRBUF_INIT;
	report_json(&run, &sb);
	json_t *o = json_loads(sb.buf, 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "status")), "incomplete");
	assert_true(json_is_null(json_object_get(o, "exit_code")));
	assert_true(json_is_null(json_object_get(o, "signal")));
	assert_int_equal(json_integer_value(json_object_get(o, "samples")), 2);
	assert_true(json_is_true(json_object_get(o, "truncated")));
	assert_int_equal(json_array_size(json_object_get(o, "alive")), 1);
	json_decref(o);
	strbuf_release(&sb);
	run_release(&run);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_complete),
		cmocka_unit_test(test_pid_reuse),
		cmocka_unit_test(test_oom),
		cmocka_unit_test(test_incomplete),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_units),
		cmocka_unit_test(test_timeline_keeps_spike),
		cmocka_unit_test(test_report_json_complete),
		cmocka_unit_test(test_report_json_oom),
		cmocka_unit_test(test_report_json_incomplete),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
