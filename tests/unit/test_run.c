/*
 * test_run: the model of a run (lib/model/run.c) and its reports (lib/render/report.c), built from
 * the fixture logs under $MEMLINE_FIXTURES/logs: processes, exec, pid reuse, peaks, statuses, and
 * the JSON report parsed back with jansson to check its contract; events and spans (order,
 * pairing per thread, RSS at an event, a span's peak and RSS change) and hostile labels in both
 * reports; a log whose writer stopped (a full disk) and its warning records.
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

#include "render/report.h"
#include "model/run.h"

#include "run-fixture.h"

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

/* A run loaded keeping one field of the process samples: the same model, less memory. */
/* The JSON report of run, parsed (the caller decrefs it); fails the test if it is not JSON. */
static json_t *json_report(const struct run *run)
{
	struct strbuf sb = STRBUF_INIT;
	report_json(run, &sb);
	json_error_t jerr;
	json_t *o = json_loads(sb.buf, 0, &jerr);
	if (!o)
		fail_msg("report_json is not JSON: %s\n%s", jerr.text, sb.buf);
	strbuf_release(&sb);
	return o;
}

static void test_keep_fields(void **state)
{
	(void)state;
	struct run all, some;
	load(&all, "complete.jsonl");
	char *path = fixture("complete.jsonl");
	struct strbuf err = STRBUF_INIT;
	assert_int_equal(run_load_fields(&some, path, RUN_FIELD(PF_RSS), NULL, NULL, &err), 0);
	assert_true(some.ps_stride < all.ps_stride);
	assert_int_equal(some.n_proc_samples, all.n_proc_samples);
	for (size_t j = 0; j < all.n_proc_samples; j++) {
		const struct run_proc_sample *a = run_ps(&all, j), *b = run_ps(&some, j);
		assert_int_equal(a->proc, b->proc);
		assert_int_equal(a->state, b->state);
		assert_int_equal(run_ps_value(&all, a, PF_RSS), run_ps_value(&some, b, PF_RSS));
		assert_int_equal(run_ps_value(&some, b, PF_UTIME), -1); /* not kept */
	}
	/* What the model derives from every field is there all the same. */
	assert_int_equal(some.peak, all.peak);
	for (size_t i = 0; i < all.n_procs; i++) {
		assert_int_equal(some.procs[i].peak, all.procs[i].peak);
		assert_int_equal(some.procs[i].utime, all.procs[i].utime);
		assert_int_equal(some.procs[i].stime, all.procs[i].stime);
	}
	run_release(&all);
	run_release(&some);
	strbuf_release(&err);
	free(path);
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
	assert_int_equal(run_ps(&run, 2)->proc, 1);
	assert_int_equal(run_ps_value(&run, run_ps(&run, 2), PF_RSS), 2000);

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
	assert_int_equal(run_ps(&run, run.samples[1].first + 1)->proc, 2);
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

/* A log whose writer stopped (a full disk) and that says what it could not record. */
static void test_stopped_and_warnings(void **state)
{
	(void)state;
	struct run run;
	load(&run, "stopped.jsonl");
	assert_false(run.has_end);
	assert_int_equal(run.status, RUN_INCOMPLETE);
	assert_true(run.stopped);
	assert_near(run.stopped_t, 12.5);
	assert_string_equal(run.stopped_errno, "ENOSPC"); /* the first stopped record says it */
	assert_string_equal(run.stopped_error, "No space left on device");
	assert_int_equal(run.corrupt, 1); /* the one without a time */
	assert_int_equal(run.n_warnings, 2);
	assert_string_equal(run.warnings[1], "");
	assert_int_equal(run.n_samples, 2);

	struct strbuf sb = STRBUF_INIT;
	report_stopped(&run, &sb);
	assert_string_equal(sb.buf, "the log stopped at 12.5 s: file system full (ENOSPC)");
	strbuf_reset(&sb);
	report_text(&run, &sb);
	assert_non_null(strstr(sb.buf, "warning: the log stopped at 12.5 s: file system full "
				       "(ENOSPC); nothing after that was written"));
	assert_null(strstr(sb.buf, "memline or the machine died"));
	/* A warning's text is the log's: escaped like any other. */
	assert_non_null(strstr(sb.buf, "warning: cannot read the I/O counters of process 100 "
				       "\\x1b[31m(another user's)"));
	assert_null(strchr(sb.buf, '\x1b'));
	strbuf_reset(&sb);
	json_t *o = json_report(&run);
	json_t *st = json_object_get(o, "stopped");
	assert_string_equal(json_string_value(json_object_get(st, "errno")), "ENOSPC");
	assert_near(json_number_value(json_object_get(st, "t")), 12.5);
	json_t *w = json_object_get(o, "warnings");
	assert_int_equal(json_array_size(w), 2);
	assert_non_null(strstr(json_string_value(json_array_get(w, 0)), "\x1b[31m"));
	json_decref(o);
	strbuf_reset(&sb);
	/* Without one, "stopped" is null and "warnings" empty. */
	run_release(&run);
	load(&run, "complete.jsonl");
	o = json_report(&run);
	assert_true(json_is_null(json_object_get(o, "stopped")));
	assert_int_equal(json_array_size(json_object_get(o, "warnings")), 0);
	json_decref(o);
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
	text_bytes(&sb, 512);
	strbuf_addch(&sb, '|');
	text_bytes(&sb, 1536);
	strbuf_addch(&sb, '|');
	text_bytes(&sb, 52200LL * 1024);
	strbuf_addch(&sb, '|');
	text_bytes(&sb, 3LL << 30);
	strbuf_addch(&sb, '|');
	text_secs(&sb, 0.3404);
	strbuf_addch(&sb, '|');
	text_secs(&sb, 12.34);
	strbuf_addch(&sb, '|');
	text_secs(&sb, 245);
	strbuf_addch(&sb, '|');
	text_secs(&sb, 7620);
	strbuf_addch(&sb, '|');
	text_secs(&sb, -1.5);
	strbuf_addch(&sb, '|');
	text_signal(&sb, 9);
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
	json_t *o = json_report(&run);
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
	json_t *o = json_report(&run);
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
	json_t *o = json_report(&run);
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

/* ---- events and spans ---- */

static void test_events(void **state)
{
	(void)state;
	static const struct {
		double t;
		const char *label;
		int pid, tid;
		long long rss;
	} want[] = {
		{0.05, "start", 300, 300, 1000},       /* the first sample at or after: 0.1 */
		{0.45, "late", 300, 301, 5000},	       /* came after "epoch 1": sorted */
		{0.48, "epoch 1", 300, 300, 5000},     /* written after the sample at 0.5 */
		{1.2, "plain line", -1, -1, 6000},     /* null pid and tid */
		{1.2, "same time", 300, 300, 6000},    /* a tie keeps the log's order */
		{2.0, "epoch 2 done", 300, 300, 3000}, /* a sample exactly at t */
		{2.7, "after the last sample", 300, 300, 2000}, /* the last sample */
	};
	struct run run;
	load(&run, "events.jsonl");
	assert_int_equal(run.n_events, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < run.n_events; i++) {
		const struct run_event *e = &run.events[i];
		assert_near(e->t, want[i].t);
		assert_string_equal(e->label, want[i].label);
		assert_int_equal(e->pid, want[i].pid);
		assert_int_equal(e->tid, want[i].tid);
		assert_int_equal(e->rss, want[i].rss);
	}
	assert_int_equal(run.end_events, 19);
	assert_null(run.error);
	assert_near(run.duration, 3.0);
	assert_int_equal(run_sample_at(&run, -5), 0);
	assert_int_equal(run_sample_at(&run, 0.5), 1);
	assert_int_equal(run_sample_at(&run, 0.5001), 2);
	assert_int_equal(run_sample_at(&run, 99), 5);
	assert_int_equal(run_rss_at(&run, 1.9), 3000);
	run_release(&run);
}

/*
 * Samples of events.jsonl (t: tree rss / tree peak): 0.1: 1000/1100, 0.5: 5000/6000,
 * 1.0: 8000/9500, 1.5: 6000/8200, 2.0: 3000/null (peak falls back to rss), 2.5: 2000/2100.
 */
static void test_spans(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		int tid;
		double start, end;
		int depth;
		bool open;
		long long peak, change;
	} want[] = {
		/* from 0.5 to 2.5: the peak of 1.0; 2000 - 5000 */
		{"train", 300, 0.2, 2.2, 0, false, 9500, -3000},
		/* 0.5 to 1.5: 6000 - 5000 */
		{"epoch", 300, 0.3, 1.1, 1, false, 9500, 1000},
		/* never closed: ends with the run at 3.0, after the last sample (2.5) */
		{"load", 301, 0.4, 3.0, 0, true, 9500, -3000},
		/* nested, same name: the end at 0.9 closed this inner one; 1.0 to 1.0 */
		{"load", 301, 0.6, 0.9, 1, false, 9500, 0},
		/* 1.5 to 2.0, the sample exactly at its end: 8200 and 3000 (rss for the null peak)
		 */
		{"epoch", 300, 1.2, 2.0, 1, false, 8200, -3000},
		/* open, inside the open "load" of its thread; after the last sample */
		{"save", 301, 2.3, 3.0, 1, true, 2100, 0},
	};
	struct run run;
	load(&run, "events.jsonl");
	/* "bogus" and the "load" ended on the wrong thread closed nothing */
	assert_int_equal(run.n_spans, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < run.n_spans; i++) {
		const struct run_span *s = &run.spans[i];
		assert_string_equal(s->name, want[i].name);
		assert_int_equal(s->pid, 300);
		assert_int_equal(s->tid, want[i].tid);
		assert_near(s->start, want[i].start);
		assert_near(s->end, want[i].end);
		assert_int_equal(s->depth, want[i].depth);
		assert_int_equal(s->open, want[i].open);
		assert_int_equal(s->peak, want[i].peak);
		assert_true(s->has_rss_change);
		assert_int_equal(s->rss_change, want[i].change);
	}
	run_release(&run);
}

static void test_events_reports(void **state)
{
	(void)state;
	struct run run;
	load(&run, "events.jsonl");
	struct strbuf sb = STRBUF_INIT;
	report_text(&run, &sb);
	assert_false(sb.oom);
	const char *ph = strstr(sb.buf, "\nphases");
	const char *ev = strstr(sb.buf, "\nevents");
	assert_non_null(ph);
	assert_non_null(ev);
	assert_true(ph < ev);
	/* two threads: a PID/TID column; nesting indents; open spans are starred */
	assert_non_null(strstr(ph, "300/300          train     "));
	assert_non_null(strstr(ph, "300/300            epoch     "));
	assert_non_null(strstr(ph, "300/301            save     "));
	assert_non_null(strstr(ph, "  2.300 s     700 ms*     2.1 MiB              0 B\n"));
	assert_non_null(strstr(ph, "  0.300 s      800 ms     9.3 MiB      +1000.0 KiB\n"));
	/* the memory columns say they are the tree's, not the thread's */
	assert_non_null(strstr(ph, "TREE PEAK  TREE RSS CHANGE\n"));
	assert_non_null(strstr(ph, "the whole process tree's RSS"));
	assert_non_null(strstr(ph, "     -2.9 MiB\n"));
	assert_non_null(strstr(ph, "* still open at the end of the log"));
	assert_non_null(strstr(ev, "   1.200 s     5.9 MiB  plain line\n"));
	assert_non_null(strstr(ev, "   2.700 s     2.0 MiB  after the last sample\n"));
	assert_non_null(strstr(sb.buf, "ended     completed: exit code 0\n"));

	strbuf_reset(&sb);
	json_t *o = json_report(&run);
	assert_true(json_is_null(json_object_get(o, "error")));
	assert_string_equal(json_string_value(json_object_get(o, "status")), "completed");
	json_t *events = json_object_get(o, "events");
	assert_int_equal(json_array_size(events), 7);
	json_t *e = json_array_get(events, 3);
	assert_near(json_number_value(json_object_get(e, "t")), 1.2);
	assert_string_equal(json_string_value(json_object_get(e, "label")), "plain line");
	assert_int_equal(json_integer_value(json_object_get(e, "rss")), 6000LL * 1024);
	assert_true(json_is_null(json_object_get(e, "pid")));
	assert_true(json_is_null(json_object_get(e, "tid")));
	e = json_array_get(events, 1);
	assert_string_equal(json_string_value(json_object_get(e, "label")), "late");
	assert_int_equal(json_integer_value(json_object_get(e, "tid")), 301);

	json_t *spans = json_object_get(o, "spans");
	assert_int_equal(json_array_size(spans), 6);
	json_t *s = json_array_get(spans, 0);
	assert_string_equal(json_string_value(json_object_get(s, "name")), "train");
	assert_near(json_number_value(json_object_get(s, "start")), 0.2);
	assert_near(json_number_value(json_object_get(s, "end")), 2.2);
	assert_int_equal(json_integer_value(json_object_get(s, "peak_rss")), 9500LL * 1024);
	assert_int_equal(json_integer_value(json_object_get(s, "rss_change")), -3000LL * 1024);
	assert_int_equal(json_integer_value(json_object_get(s, "pid")), 300);
	assert_int_equal(json_integer_value(json_object_get(s, "tid")), 300);
	assert_int_equal(json_integer_value(json_object_get(s, "depth")), 0);
	assert_true(json_is_false(json_object_get(s, "open")));
	s = json_array_get(spans, 2);
	assert_string_equal(json_string_value(json_object_get(s, "name")), "load");
	assert_true(json_is_true(json_object_get(s, "open")));
	assert_near(json_number_value(json_object_get(s, "end")), 3.0);
	s = json_array_get(spans, 5);
	assert_string_equal(json_string_value(json_object_get(s, "name")), "save");
	assert_int_equal(json_integer_value(json_object_get(s, "depth")), 1);
	assert_int_equal(json_integer_value(json_object_get(s, "rss_change")), 0);
	/* every member of issue 2 is still there */
	assert_int_equal(json_integer_value(json_object_get(o, "samples")), 6);
	assert_int_equal(json_array_size(json_object_get(o, "processes")), 1);
	json_decref(o);
	strbuf_release(&sb);
	run_release(&run);
}

/* Columns of a line: UTF-8 characters. */
static size_t columns(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	return n;
}

static const char *const hostile_labels[] = {
	"line one\nline two\ttabbed",
	"say \"hi\" \\ back",
	"</script><script>alert(1)</script>",
	"\x01\x1b[31mred\x07\x7f end",
	"bad \xef\xbf\xbd byte",
	"c1 \xc2\x9b bidi \xe2\x80\xae rev",
};

static void test_hostile_text(void **state)
{
	(void)state;
	struct run run;
	load(&run, "hostile.jsonl");
	struct strbuf sb = STRBUF_INIT;
	report_text(&run, &sb);
	assert_false(sb.oom);
	/* nothing raw: no control character but the newlines, lines of at most 100 columns */
	for (size_t i = 0; i < sb.len; i++) {
		unsigned char c = (unsigned char)sb.buf[i];
		if ((c < 0x20 && c != '\n') || c == 0x7f)
			fail_msg("raw control byte 0x%02x at %zu:\n%s", c, i, sb.buf);
		if (c == 0xc2 && (unsigned char)sb.buf[i + 1] < 0xa0)
			fail_msg("raw C1 control at %zu", i);
		if (c == 0xe2 && (unsigned char)sb.buf[i + 1] == 0x80 &&
		    (unsigned char)sb.buf[i + 2] == 0xae)
			fail_msg("raw bidirectional override at %zu", i);
	}
	for (const char *l = sb.buf; *l;) {
		const char *nl = strchr(l, '\n');
		assert_non_null(nl);
		if (columns(l, (size_t)(nl - l)) > 100)
			fail_msg("line over 100 columns: %.*s", (int)(nl - l), l);
		l = nl + 1;
	}
	assert_non_null(strstr(sb.buf, "ended     failed: ValueError: bad\\ninput \\x1b[2J\n"));
	assert_non_null(strstr(sb.buf, "  line one\\nline two\\ttabbed\n"));
	assert_non_null(strstr(sb.buf, "  say \"hi\" \\ back\n"));
	assert_non_null(strstr(sb.buf, "  </script><script>alert(1)</script>\n"));
	assert_non_null(strstr(sb.buf, "  \\x01\\x1b[31mred\\x07\\x7f end\n"));
	assert_non_null(strstr(sb.buf, "  bad \xef\xbf\xbd byte\n"));
	assert_non_null(strstr(sb.buf, "  c1 \\u009b bidi \\u202e rev\n"));
	assert_non_null(strstr(sb.buf, "\nphase\\n\\x1b[2J<b>   "));
	/* the 150-column label is cut to what the line has left, ending in "…" */
	const char *cut = strstr(sb.buf, "xxxxx");
	assert_non_null(cut);
	const char *nl = strchr(cut, '\n');
	assert_int_equal(columns(cut, (size_t)(nl - cut)), 100 - 24);
	assert_memory_equal(nl - strlen("…"), "…", strlen("…"));
	strbuf_release(&sb);
	run_release(&run);
}

static void test_hostile_json(void **state)
{
	(void)state;
	struct run run;
	load(&run, "hostile.jsonl");
	struct strbuf sb = STRBUF_INIT;
	report_json(&run, &sb);
	assert_false(sb.oom);
	/* one line: a newline in a label cannot end the report early */
	assert_ptr_equal(strchr(sb.buf, '\n'), sb.buf + sb.len - 1);
	json_error_t jerr;
	json_t *o = json_loads(sb.buf, 0, &jerr);
	if (!o)
		fail_msg("report_json is not JSON: %s\n%s", jerr.text, sb.buf);
	json_t *events = json_object_get(o, "events");
	size_t n = sizeof(hostile_labels) / sizeof(hostile_labels[0]);
	assert_int_equal(json_array_size(events), n + 1);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(
			json_string_value(json_object_get(json_array_get(events, i), "label")),
			hostile_labels[i]);
	assert_int_equal(
		strlen(json_string_value(json_object_get(json_array_get(events, n), "label"))),
		150);
	json_t *s = json_array_get(json_object_get(o, "spans"), 0);
	assert_string_equal(json_string_value(json_object_get(s, "name")), "phase\n\x1b[2J<b>");
	assert_string_equal(json_string_value(json_object_get(o, "error")),
			    "ValueError: bad\ninput \x1b[2J");
	assert_string_equal(json_string_value(json_object_get(o, "status")), "failed");
	assert_true(json_is_null(json_object_get(o, "exit_code")));
	json_decref(o);
	strbuf_release(&sb);
	run_release(&run);
}

static void test_text_escape(void **state)
{
	(void)state;
	struct strbuf sb = STRBUF_INIT;
	static const char bad[] = "a\xff\xc3(b\r";
	assert_int_equal(text_escape(&sb, bad, sizeof(bad) - 1, 100), 15);
	assert_string_equal(sb.buf, "a\\xff\\xc3(b\\x0d");
	/* a cut never splits an escape or a character */
	strbuf_reset(&sb);
	assert_int_equal(text_escape(&sb, "ab\ncd", 5, 4), 3);
	assert_string_equal(sb.buf, "ab…");
	strbuf_reset(&sb);
	assert_int_equal(text_escape(&sb, "\xc3\xa9t\xc3\xa9", 5, 3), 3);
	assert_string_equal(sb.buf, "\xc3\xa9t\xc3\xa9");
	strbuf_reset(&sb);
	assert_int_equal(text_escape(&sb, "\xc3\xa9t\xc3\xa9s", 6, 3), 3);
	assert_string_equal(sb.buf, "\xc3\xa9t…");
	strbuf_release(&sb);
}

static void add(struct run *run, struct log_record *rec)
{
	assert_int_equal(run_add_record(run, rec), 0);
	log_record_release(rec);
}

static void add_mark(struct run *run, enum mark_kind kind, double t, const char *text, int tid)
{
	struct log_record rec;
	log_record_init(&rec);
	rec.type = kind == MARK_EVENT ? REC_EVENT : REC_SPAN;
	rec.mark.kind = kind;
	rec.mark.t = t;
	rec.mark.text = strdup(text);
	rec.mark.len = strlen(text);
	rec.mark.pid = 1;
	rec.mark.tid = tid;
	add(run, &rec);
}

static void add_rss(struct run *run, double t, long long rss)
{
	struct log_record rec;
	log_record_init(&rec);
	rec.type = REC_SAMPLE;
	rec.sample.t = t;
	for (int f = 0; f < TREE_NFIELDS; f++)
		rec.sample.tree.v[f] = -1;
	rec.sample.tree.v[TF_RSS] = rss;
	add(run, &rec);
}

/*
 * A live reader adds records as the log grows: an open span ends where the log ends so far;
 * an end closes the innermost span of its name even under another one; a span without samples
 * has unknown memory; the peak over a long span is the same through the blocks as sample by
 * sample.
 */
static void test_spans_live(void **state)
{
	(void)state;
	struct run run;
	run_init(&run);
	add_mark(&run, MARK_SPAN_BEGIN, 0.1, "outer", 7);
	add_mark(&run, MARK_EVENT, 0.1, "no samples yet", 7);
	run_update_status(&run);
	assert_int_equal(run.status, RUN_INCOMPLETE);
	assert_int_equal(run.spans[0].peak, -1);
	assert_false(run.spans[0].has_rss_change);
	assert_int_equal(run.events[0].rss, -1);
	assert_true(run.spans[0].open);

	for (int i = 1; i <= 1000; i++)
		add_rss(&run, i * 0.01, i == 150 ? 20000 : i == 613 ? 50000 : i);
	add_mark(&run, MARK_SPAN_BEGIN, 2.0, "inner", 7);
	add_mark(&run, MARK_SPAN_BEGIN, 2.5, "other", 8);
	add_mark(&run, MARK_SPAN_END, 3.0, "outer", 7); /* closes outer; inner stays open */
	run_update_status(&run);
	assert_false(run.spans[0].open);
	assert_near(run.spans[0].end, 3.0);
	assert_int_equal(run.spans[0].peak, 20000); /* not the 50000 at 6.13 */
	assert_int_equal(run.spans[0].rss_change, 300 - 10);
	assert_true(run.spans[1].open);
	assert_int_equal(run.spans[1].depth, 1);
	assert_int_equal(run.spans[2].depth, 0);    /* another thread */
	assert_near(run.spans[1].end, 10.0);	    /* the log so far */
	assert_int_equal(run.spans[1].peak, 50000); /* through blocks of 256 samples */
	assert_int_equal(run.spans[1].rss_change, 1000 - 200);
	assert_int_equal(run.events[0].rss, 10);

	add_rss(&run, 12.0, 5);
	add_mark(&run, MARK_SPAN_END, 11.0, "inner", 7);
	add_mark(&run, MARK_SPAN_END, 11.5, "inner", 7); /* nothing left to close */
	run_update_status(&run);
	assert_false(run.spans[1].open);
	assert_near(run.spans[1].end, 11.0);
	assert_int_equal(run.spans[1].rss_change, 5 - 200);
	assert_near(run.spans[2].end, 12.0);
	assert_int_equal(run.n_spans, 3);
	run_release(&run);
}

/* ---- format 2: the job's memory first ---- */

/* The text report of a fixture log; the caller frees it. */
static char *text_of(const struct run *run)
{
	struct strbuf sb = STRBUF_INIT;
	report_text(run, &sb);
	assert_false(sb.oom);
	return strbuf_detach(&sb, NULL);
}

/* The process of report --json with that pid. */
static json_t *json_proc(json_t *o, long long pid)
{
	json_t *procs = json_object_get(o, "processes");
	for (size_t i = 0; i < json_array_size(procs); i++) {
		json_t *p = json_array_get(procs, i);
		if (json_integer_value(json_object_get(p, "pid")) == pid)
			return p;
	}
	fail_msg("no process %lld in report --json", pid);
	return NULL;
}

#define MEMBER_INT(o, k) json_integer_value(json_object_get((o), (k)))
#define MEMBER_STR(o, k) json_string_value(json_object_get((o), (k)))

/* A 500 MB parent and 4 copy-on-write children in a cgroup: 511 MiB, where RSS sums 2.5 GiB. */
static void test_job_cgroup(void **state)
{
	(void)state;
	struct run run;
	load(&run, "cgroup.jsonl");
	assert_true(run_measures_job(&run));
	assert_int_equal(run.header.method, MEM_CGROUP);
	assert_int_equal(run.job_peak, 523264);
	assert_near(run.job_peak_t, 3.2);
	assert_int_equal(run.peak,
			 2621440); /* the RSS sum: every child counts the parent's pages */
	char *text = text_of(&run);
	const char *job =
		strstr(text, "\npeak      511.0 MiB at 3.2 s (the job's cgroup: every page "
			     "counted once, page cache included)\n");
	const char *sum = strstr(text, "\nRSS sum   2.5 GiB at 3.1 s (each process's RSS added up: "
				       "shared pages once per process)\n");
	assert_non_null(job);
	assert_non_null(sum);
	assert_true(job < sum); /* the job's memory leads */
	assert_null(strstr(text, "peak RSS"));
	assert_non_null(strstr(text, "timeline: the job's memory (cgroup), highest in each "
				     "interval"));
	assert_null(strstr(text, "\nmissed"));
	free(text);

	json_t *o = json_report(&run);
	assert_int_equal(MEMBER_INT(o, "job_peak"), 523264LL * 1024);
	assert_near(json_number_value(json_object_get(o, "job_peak_t")), 3.2);
	assert_int_equal(MEMBER_INT(o, "peak_rss"), 2621440LL * 1024); /* its meaning kept */
	json_t *mem = json_object_get(o, "memory"), *cg = json_object_get(mem, "cgroup");
	assert_string_equal(MEMBER_STR(mem, "method"), "cgroup");
	assert_string_equal(MEMBER_STR(cg, "path"),
			    "/sys/fs/cgroup/memory/process_api/memline-200");
	assert_int_equal(MEMBER_INT(cg, "version"), 1);
	assert_true(json_is_true(json_object_get(cg, "own")));
	assert_string_equal(MEMBER_STR(cg, "peak"), "reset");
	assert_true(json_is_null(json_object_get(o, "peak_pss")));
	assert_int_equal(MEMBER_INT(o, "procs"), 5);
	assert_true(json_is_null(json_object_get(o, "missed")));
	json_t *parent = json_proc(o, 200), *child = json_proc(o, 201);
	assert_string_equal(MEMBER_STR(parent, "seen"), "sample");
	assert_string_equal(MEMBER_STR(parent, "exit_source"), "wait4");
	assert_int_equal(MEMBER_INT(parent, "maxrss"), 524288LL * 1024);
	assert_true(json_is_null(json_object_get(parent, "hwm")));
	assert_string_equal(MEMBER_STR(child, "exit_source"), "taskstats");
	assert_int_equal(MEMBER_INT(child, "hwm"), 524288LL * 1024);
	assert_true(json_is_null(json_object_get(child, "peak_pss")));
	json_decref(o);
	run_release(&run);
}

/* Method pss: the PSS sum leads, the per-process PSS in a column of its own and in the JSON. */
static void test_job_pss(void **state)
{
	(void)state;
	struct run run;
	load(&run, "pss.jsonl");
	assert_int_equal(run.header.method, MEM_PSS);
	assert_int_equal(run.peak_pss, 204900);
	char *text = text_of(&run);
	assert_non_null(strstr(text, "\npeak      200.2 MiB at 500 ms (PSS sum: each shared page "
				     "split among the processes that map it)\n"));
	assert_non_null(strstr(text, "\nRSS sum   600.0 MiB at 500 ms"));
	assert_null(strstr(text, "\nPSS sum")); /* it is the job's line */
	assert_non_null(strstr(text, "PEAK RSS    PEAK PSS"));
	assert_non_null(strstr(text, "   200.0 MiB    66.7 MiB  "));
	free(text);
	json_t *o = json_report(&run);
	assert_string_equal(MEMBER_STR(json_object_get(o, "memory"), "method"), "pss");
	assert_true(json_is_null(json_object_get(json_object_get(o, "memory"), "cgroup")));
	assert_int_equal(MEMBER_INT(o, "job_peak"), 205000LL * 1024);
	assert_int_equal(MEMBER_INT(o, "peak_pss"), 204900LL * 1024);
	assert_near(json_number_value(json_object_get(o, "peak_pss_t")), 0.5);
	assert_int_equal(MEMBER_INT(json_proc(o, 301), "peak_pss"), 68300LL * 1024);
	assert_int_equal(MEMBER_INT(json_proc(o, 300), "peak_pss"), 204800LL * 1024);
	json_decref(o);
	run_release(&run);
}

/* Processes seen only at their exit have rows: their peak, CPU time and exit status. */
static void test_job_at_exit(void **state)
{
	(void)state;
	struct run run;
	load(&run, "atexit.jsonl");
	assert_true(run.procs[2].at_exit);
	assert_int_equal(run.procs[2].peak, 40960);
	char *text = text_of(&run);
	assert_non_null(strstr(text, "\n    402*    250 ms     310 ms    40.0 MiB     130 ms  0    "
				     "    [cc1]\n"));
	assert_non_null(strstr(text, "\n    403*    300 ms     320 ms     8.0 MiB      18 ms  1    "
				     "    [ld]\n"));
	assert_non_null(strstr(text, "\n    401     140 ms"));
	assert_non_null(strstr(text, "\n* seen only at its exit"));
	assert_null(strstr(text, "\n? how it ended")); /* every end is known */
	/* method rss: the job's memory is the RSS sum, said once */
	assert_non_null(strstr(text, "\npeak      52.9 MiB at 500 ms (RSS sum"));
	assert_null(strstr(text, "\nRSS sum"));
	free(text);
	json_t *o = json_report(&run);
	json_t *cc1 = json_proc(o, 402), *cc = json_proc(o, 401);
	assert_string_equal(MEMBER_STR(cc1, "seen"), "exit");
	assert_string_equal(MEMBER_STR(cc1, "exit_source"), "taskstats");
	assert_int_equal(MEMBER_INT(cc1, "peak_rss"), 40960LL * 1024);
	assert_near(json_number_value(json_object_get(cc1, "cpu")), 0.13);
	assert_int_equal(MEMBER_INT(cc1, "exit_code"), 0);
	assert_int_equal(MEMBER_INT(json_proc(o, 403), "exit_code"), 1);
	assert_string_equal(MEMBER_STR(cc, "seen"), "sample");
	assert_int_equal(MEMBER_INT(o, "job_peak"), MEMBER_INT(o, "peak_rss"));
	json_decref(o);
	run_release(&run);
}

/* Without kernel events: how many processes may have been missed, and an end unknown. */
static void test_job_missed(void **state)
{
	(void)state;
	struct run run;
	load(&run, "missed.jsonl");
	char *text = text_of(&run);
	assert_non_null(strstr(text,
			       "\nsamples   3 samples, 2 processes\nmissed    7 processes may "
			       "have been missed; run as root or with --trace to see them\n"));
	assert_non_null(strstr(text, "  ?        ./step 1\n"));
	assert_non_null(strstr(text, "\n? how it ended is unknown: its parent reaped it"));
	free(text);
	json_t *o = json_report(&run);
	assert_int_equal(MEMBER_INT(o, "missed"), 7);
	assert_int_equal(MEMBER_INT(o, "procs"), 2);
	assert_string_equal(MEMBER_STR(json_proc(o, 501), "exit_source"), "vanished");
	json_decref(o);
	run_release(&run);
}

/*
 * The largest process's peak floor: wait4's maxrss of memline's children, once it is above the
 * image the child had before its exec (maxrss_base); exits without it (orphans) count as they are.
 */
static void test_largest_peak_floor(void **state)
{
	(void)state;
	struct run run;
	load_text(&run,
		  "{\"type\":\"proc\",\"t\":0,\"pid\":10,\"ppid\":1,\"start\":0,"
		  "\"comm\":\"w\",\"argv\":[\"w\"]}\n"
		  "{\"type\":\"exit\",\"t\":1,\"pid\":10,\"how\":\"exited\",\"code\":0,"
		  "\"peak\":null,\"maxrss\":2400,\"maxrss_base\":2500,\"source\":\"wait4\"}\n");
	assert_int_equal(run.largest_peak_floor, -1); /* memline's image, no process's peak */
	run_release(&run);
	load_text(&run, "{\"type\":\"exit\",\"t\":1,\"pid\":10,\"how\":\"exited\",\"code\":0,"
			"\"peak\":null,\"maxrss\":307200,\"maxrss_base\":2500,\"source\":"
			"\"wait4\"}\n"
			"{\"type\":\"exit\",\"t\":1,\"pid\":11,\"how\":\"exited\",\"code\":0,"
			"\"peak\":null,\"maxrss\":400000,\"source\":\"wait4\"}\n");
	assert_int_equal(run.largest_peak_floor, 400000);
	struct strbuf out = STRBUF_INIT;
	report_json(&run, &out);
	json_error_t jerr;
	json_t *j = json_loads(out.buf, 0, &jerr);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "largest_peak_floor")),
			 400000LL * 1024);
	json_decref(j);
	strbuf_release(&out);
	run_release(&run);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_complete),
		cmocka_unit_test(test_keep_fields),
		cmocka_unit_test(test_pid_reuse),
		cmocka_unit_test(test_oom),
		cmocka_unit_test(test_incomplete),
		cmocka_unit_test(test_stopped_and_warnings),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_units),
		cmocka_unit_test(test_timeline_keeps_spike),
		cmocka_unit_test(test_report_json_complete),
		cmocka_unit_test(test_report_json_oom),
		cmocka_unit_test(test_report_json_incomplete),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_spans),
		cmocka_unit_test(test_largest_peak_floor),
		cmocka_unit_test(test_events_reports),
		cmocka_unit_test(test_hostile_text),
		cmocka_unit_test(test_hostile_json),
		cmocka_unit_test(test_text_escape),
		cmocka_unit_test(test_spans_live),
		cmocka_unit_test(test_job_cgroup),
		cmocka_unit_test(test_job_pss),
		cmocka_unit_test(test_job_at_exit),
		cmocka_unit_test(test_job_missed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
