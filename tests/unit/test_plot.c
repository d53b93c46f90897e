/*
 * test_plot: the labels that tell overlaid logs apart in a legend (plot_labels, lib/render/plot.c):
 * the words two commands differ in (with the option they follow), the logs' names when the
 * commands are the same (with directories when the names are too), the start times, then the
 * log's name and its place; an input's own label always wins. Runs are made by hand: only their
 * command, path and start time matter here.
 *
 * And the lines of `plot --threads` (series_threads_*, lib/model/series-threads.c) on the
 * fixture $MEMLINE_FIXTURES/logs/threads.jsonl, value by value: the process picked, its RSS
 * and heap, each thread's heap (held between its rows) and its peak between samples, the top
 * N and "other threads", the stacked lines adding up to the process's heap, each thread's
 * CPU% over the windows of the times the threads were read, and the dashboard's CPU% now;
 * and on a small log written here, a process idle after its threads' last read: 0 % to its
 * end (its own CPU time did not move), and 0 % now.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "render/plot.h"
#include "model/run.h"
#include "model/series.h"

#define assert_near(a, b)                                                    \
	do {                                                                 \
		double a_ = (double)(a), b_ = (double)(b);                   \
		if (!(fabs(a_ - b_) < 1e-9))                                 \
			fail_msg("%s is %.12g, expected %.12g", #a, a_, b_); \
	} while (0)

#define MAX_IN 4

struct fixture {
	struct run runs[MAX_IN];
	struct plot_input in[MAX_IN];
	struct strbuf labels[MAX_IN];
	size_t n;
};

/* Input i: its command (NULL-terminated), log path, start time and own label (may be NULL). */
static void add(struct fixture *f, char **command, const char *path, const char *start,
		const char *label)
{
	size_t i = f->n++;
	run_init(&f->runs[i]);
	f->runs[i].header.command = command;
	f->runs[i].header.start_iso = (char *)start;
	f->in[i] = (struct plot_input){&f->runs[i], path, label};
	strbuf_init(&f->labels[i]);
}

/* Computes the labels and checks them against want[0 .. n). */
static void check(struct fixture *f, const char *const *want)
{
	plot_labels(f->in, f->n, f->labels);
	for (size_t i = 0; i < f->n; i++) {
		const char *got = f->labels[i].buf ? f->labels[i].buf : "";
		if (strcmp(got, want[i]))
			fail_msg("label %zu: got '%s', expected '%s'", i, got, want[i]);
		strbuf_release(&f->labels[i]);
		/* the header is borrowed: not the run's to free */
		f->runs[i].header.command = NULL;
		f->runs[i].header.start_iso = NULL;
		run_release(&f->runs[i]);
	}
	f->n = 0;
}

static void test_labels(void **state)
{
	(void)state;
	struct fixture f = {0};
	char *lr1[] = {"python3", "train.py", "--lr", "0.1", "--epochs", "3", NULL};
	char *lr2[] = {"python3", "train.py", "--lr", "0.01", "--epochs", "3", NULL};
	char *make[] = {"sh", "-c", "make -j8", NULL};
	char *one[] = {"sleep", NULL};
	char *two[] = {"sleep", "1", NULL};
	const char *t1 = "2026-01-01T00:00:00.000Z", *t2 = "2026-01-01T00:05:00.000Z";

	/* the words that differ, with the option they are the value of */
	add(&f, lr1, "/tmp/a.jsonl", t1, NULL);
	add(&f, lr2, "/tmp/b.jsonl", t1, NULL);
	check(&f, (const char *const[]){"--lr 0.1", "--lr 0.01"});

	/* nothing in common: the whole commands, quoted as a shell would */
	add(&f, lr1, "a.jsonl", t1, NULL);
	add(&f, make, "b.jsonl", t1, NULL);
	check(&f,
	      (const char *const[]){"python3 train.py --lr 0.1 --epochs 3", "sh -c 'make -j8'"});

	/* one command a prefix of the other: a shared word kept so that neither is empty */
	add(&f, one, "a.jsonl", t1, NULL);
	add(&f, two, "b.jsonl", t1, NULL);
	check(&f, (const char *const[]){"sleep", "sleep 1"});

	/* the same command twice: the logs' names, without their shared extension */
	add(&f, lr1, "/data/run-1.jsonl", t1, NULL);
	add(&f, lr1, "/data/run-2.jsonl", t2, NULL);
	check(&f, (const char *const[]){"run-1", "run-2"});

	/* the same names in two directories: with the directories */
	add(&f, lr1, "/data/x/run.jsonl", t1, NULL);
	add(&f, lr1, "/data/y/run.jsonl", t1, NULL);
	add(&f, lr2, "/data/z/run.jsonl", t1, NULL);
	check(&f, (const char *const[]){"x/run", "y/run", "z/run"});

	/* the same log twice: its start times differ only when the runs do; else its place */
	add(&f, lr1, "run.jsonl", t1, NULL);
	add(&f, lr1, "run.jsonl", t1, NULL);
	check(&f, (const char *const[]){"run.jsonl #1", "run.jsonl #2"});

	/* own labels win, also over defaults for the others */
	add(&f, lr1, "a.jsonl", t1, "baseline");
	add(&f, lr2, "b.jsonl", t1, NULL);
	check(&f, (const char *const[]){"baseline", "--lr 0.01"});

	/* one log: its own label, else its log's name */
	add(&f, lr1, "/tmp/a.jsonl", t1, NULL);
	check(&f, (const char *const[]){"a.jsonl"});
	add(&f, lr1, "/tmp/a.jsonl", t1, "mine");
	check(&f, (const char *const[]){"mine"});
}

/* ---- the threads of one process ---- */

static void load_threads(struct run *run)
{
	const char *dir = getenv("MEMLINE_FIXTURES");
	struct strbuf path = STRBUF_INIT, err = STRBUF_INIT;
	strbuf_addf(&path, "%s/logs/threads.jsonl", dir ? dir : "tests/fixtures");
	if (run_load_fields(run, path.buf, series_threads_fields(), NULL, NULL, &err))
		fail_msg("run_load %s: %s", path.buf, err.buf);
	strbuf_release(&path);
	strbuf_release(&err);
}

/* Line s has n points at the fixture's samples at[], with values v[] (KiB or %). */
static void check_line(const struct series *s, size_t n, const size_t *at, const double *v)
{
	static const double times[] = {0.01, 0.5, 1.0, 2.0, 2.5, 3.0, 3.5};
	if (s->n != n)
		fail_msg("a line of %zu points, expected %zu", s->n, n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(s->at[i], at[i]);
		assert_near(s->t[i], times[at[i]]);
		assert_near(s->v[i], v[i]);
	}
}

static const size_t every[] = {0, 1, 2, 3, 4, 5, 6};

static const char *thread_name(const struct run *run, const struct series *s, struct strbuf *sb)
{
	strbuf_reset(sb);
	series_thread_name(run, (size_t)s->thread, sb);
	return sb->buf;
}

static void test_thread_heap_lines(void **state)
{
	(void)state;
	struct run run;
	load_threads(&run);
	struct strbuf name = STRBUF_INIT;
	int proc = series_threads_default(&run);
	assert_int_equal(proc, run_proc_by_pid(&run, 200));
	assert_true(series_threads_have_heap(&run, proc));
	assert_false(series_threads_have_heap(&run, run_proc_by_pid(&run, 201)));

	struct series_threads st;
	assert_int_equal(series_threads_build(&st, &run, proc, SERIES_RSS, 8), 0);
	assert_true(st.heap);
	assert_int_equal(st.n_threads, 3);
	assert_int_equal(st.first, 2);
	assert_int_equal(st.set.n, 5); /* RSS, heap, three threads, no "other" */
	assert_int_equal(st.set.n_rest, 0);
	assert_int_equal(st.set.s[0].kind, SERIES_PROC);
	check_line(&st.set.s[0], 7, every,
		   (const double[]){4024, 14264, 25528, 51128, 54200, 43960, 35768});
	assert_int_equal(st.set.s[1].kind, SERIES_HEAP);
	check_line(&st.set.s[1], 7, every,
		   (const double[]){1024, 11264, 22528, 48128, 51200, 40960, 32768});
	/* the threads by heap peak: loader, worker, server; KiB, held between rows */
	assert_string_equal(thread_name(&run, &st.set.s[2], &name), "210 loader");
	check_line(&st.set.s[2], 7, every,
		   (const double[]){0, 10240, 20480, 40960, 40960, 30720, 30720});
	assert_string_equal(thread_name(&run, &st.set.s[3], &name), "211 worker\u202e1");
	check_line(&st.set.s[3], 7, every, (const double[]){0, 0, 0, 5120, 8192, 8192, 0});
	assert_string_equal(thread_name(&run, &st.set.s[4], &name), "200 server (main)");
	check_line(&st.set.s[4], 7, every,
		   (const double[]){1024, 1024, 2048, 2048, 2048, 2048, 2048});
	/* the peaks to mark: the thread's own, between samples too (loader's 42 MiB at 2.0 s) */
	double t, v;
	assert_true(series_threads_peak(&st, &run, 2, &t, &v));
	assert_near(t, 2.0);
	assert_near(v, 43008);
	assert_true(series_threads_peak(&st, &run, 3, &t, &v));
	assert_near(t, 2.5);
	assert_near(v, 8192);
	assert_true(series_threads_peak(&st, &run, 4, &t, &v));
	assert_near(t, 1.0);
	assert_near(v, 2048);
	assert_false(series_threads_peak(&st, &run, 0, &t, &v)); /* not a thread's */

	/* stacked: each line adds those before it; the last is the process's heap */
	assert_int_equal(series_threads_stack(&st), 0);
	check_line(&st.set.s[2], 7, every,
		   (const double[]){0, 10240, 20480, 40960, 40960, 30720, 30720});
	check_line(&st.set.s[3], 7, every,
		   (const double[]){0, 10240, 20480, 46080, 49152, 38912, 30720});
	check_line(&st.set.s[4], 7, every,
		   (const double[]){1024, 11264, 22528, 48128, 51200, 40960, 32768});
	assert_near(st.set.s[4].peak, 51200);
	series_threads_release(&st);

	/* the top 2: the server's heap goes into "other threads" */
	assert_int_equal(series_threads_build(&st, &run, proc, SERIES_RSS, 2), 0);
	assert_int_equal(st.set.n, 5);
	assert_int_equal(st.set.n_rest, 1);
	assert_int_equal(st.set.s[4].kind, SERIES_OTHER);
	check_line(&st.set.s[4], 7, every,
		   (const double[]){1024, 1024, 2048, 2048, 2048, 2048, 2048});
	series_threads_release(&st);

	/* a process that had one thread all its life: no thread line */
	assert_int_equal(series_threads_build(&st, &run, run_proc_by_pid(&run, 202), SERIES_RSS, 8),
			 0);
	assert_int_equal(st.n_threads, 0);
	assert_int_equal(st.set.n, 0);
	series_threads_release(&st);
	strbuf_release(&name);
	run_release(&run);
}

static void test_thread_cpu_lines(void **state)
{
	(void)state;
	struct run run;
	load_threads(&run);
	struct strbuf name = STRBUF_INIT;
	int proc = run_proc_by_pid(&run, 200);
	struct series_threads st;
	assert_int_equal(series_threads_build(&st, &run, proc, SERIES_CPU, 8), 0);
	assert_false(st.heap);
	assert_int_equal(st.set.metric, SERIES_CPU);
	assert_int_equal(st.first, 0);
	assert_int_equal(st.set.n, 3);
	/*
	 * The server's CPU time moves at every sample, so every sample is a read; the windows
	 * end at 0.5, 1, 2, 2.5, 3 and 3.5 s. By CPU time: worker, loader, server.
	 */
	static const size_t ends[] = {1, 2, 3, 4, 5, 6};
	assert_string_equal(thread_name(&run, &st.set.s[0], &name), "211 worker\u202e1");
	/* 300 ms a window; it ended at 2.8 s: its line stops with the window that holds it */
	check_line(&st.set.s[0], 5, ends, (const double[]){300 / 4.9, 60, 30, 60, 60});
	assert_string_equal(thread_name(&run, &st.set.s[1], &name), "210 loader");
	check_line(&st.set.s[1], 6, ends, (const double[]){100 / 4.9, 20, 10, 20, 20, 20});
	assert_string_equal(thread_name(&run, &st.set.s[2], &name), "200 server (main)");
	check_line(&st.set.s[2], 6, ends, (const double[]){1 / 4.9, 0.2, 0.1, 0.2, 0.2, 0.2});
	double t, v;
	assert_true(series_threads_peak(&st, &run, 0, &t, &v));
	assert_near(t, 0.5);
	assert_near(v, 300 / 4.9);
	series_threads_release(&st);

	/* top 1: the loader and the server summed, over the same windows */
	assert_int_equal(series_threads_build(&st, &run, proc, SERIES_CPU, 1), 0);
	assert_int_equal(st.set.n, 2);
	assert_int_equal(st.set.n_rest, 2);
	check_line(&st.set.s[1], 6, ends,
		   (const double[]){101 / 4.9, 20.2, 10.1, 20.2, 20.2, 20.2});
	/* stacked: worker, then worker + the rest (which goes on after the worker's end) */
	assert_int_equal(series_threads_stack(&st), 0);
	check_line(&st.set.s[0], 6, ends, (const double[]){300 / 4.9, 60, 30, 60, 60, 0});
	check_line(&st.set.s[1], 6, ends,
		   (const double[]){401 / 4.9, 80.2, 40.1, 80.2, 80.2, 20.2});
	series_threads_release(&st);

	/* the dashboard's CPU% now: over 3.0 .. 3.5 s; the worker has ended */
	size_t n = 0;
	size_t *idx = run_threads_of(&run.threads, proc, &n);
	assert_int_equal(n, 3);
	double now[3];
	series_threads_cpu_now(&run, proc, idx, n, now);
	for (size_t i = 0; i < n; i++) {
		pid_t tid = run.threads.v[idx[i]].tid;
		if (tid == 211)
			assert_true(isnan(now[i]));
		else
			assert_near(now[i], tid == 210 ? 20 : 0.2);
	}
	free(idx);
	strbuf_release(&name);
	run_release(&run);
}

/*
 * A process whose thread 301 is busy for its first second and both idle after: the threads'
 * rows only at 0.5 s (their first) and 1.5 s (301's CPU time moved), the process's own CPU
 * time (its stat, at every sample) flat from 1.5 s on. Samples every 0.5 s to 4 s; with
 * `moved`, to 2 s, the process's CPU time moving at 2 s (the threads not read again yet).
 */
static void load_idle(struct run *run, bool moved)
{
	static const char header[] =
		"{\"type\":\"header\",\"format\":3,\"memline\":\"0.1.0\",\"mode\":\"run\","
		"\"host\":\"h\",\"start\":\"2026-01-01T00:00:00.000Z\",\"start_unix\":1767225600,"
		"\"command\":[\"w\"],\"pid\":300,\"pids\":[300],\"cwd\":\"/\",\"job\":{},"
		"\"page_size\":4096,\"clk_tck\":100,\"mem_total\":1000000,\"kernel\":\"6.1\","
		"\"interval\":{\"fixed\":0.5,\"min\":0.01,\"max\":5},\"peak_reset\":true,"
		"\"pss\":false,\"memory\":{\"method\":\"rss\",\"cgroup\":null},\"events\":["
		"\"poll\"],"
		"\"fields\":[\"pid\",\"rss\",\"utime\",\"stime\",\"threads\",\"heap\",\"state\"],"
		"\"tree_fields\":[\"nproc\",\"rss\"],\"thread_fields\":[\"pid\",\"tid\",\"utime\","
		"\"stime\",\"heap\",\"heap_peak\",\"alloc\",\"freed\",\"nalloc\",\"nfree\","
		"\"mmap\"]}\n"
		"{\"type\":\"proc\",\"t\":0.1,\"pid\":300,\"ppid\":1,\"start\":0.0,\"comm\":\"w\","
		"\"argv\":[\"w\"]}\n"
		"{\"type\":\"thread\",\"t\":0.5,\"pid\":300,\"tid\":300,\"name\":\"w\"}\n"
		"{\"type\":\"thread\",\"t\":0.5,\"pid\":300,\"tid\":301,\"name\":\"busy\"}\n";
	struct strbuf sb = STRBUF_INIT;
	strbuf_addstr(&sb, header);
	for (int k = 1; k <= (moved ? 4 : 8); k++) {
		double t = k * 0.5;
		long cpu = k == 1 ? 0 : k == 2 ? 250 : 500;
		if (moved && k == 4)
			cpu = 600;
		strbuf_addf(
			&sb,
			"{\"type\":\"sample\",\"t\":%.1f,\"tree\":[1,1000],\"p\":[[300,1000,%ld,"
			"0,2,null,\"R\"]]",
			t, cpu);
		if (k == 1)
			strbuf_addstr(&sb,
				      ",\"th\":[[300,300,0,0,null,null,null,null,null,null,"
				      "null],[300,301,0,0,null,null,null,null,null,null,null]]");
		if (k == 3)
			strbuf_addstr(&sb, ",\"th\":[[300,301,500,0,null,null,null,null,null,null,"
					   "null]]");
		strbuf_addstr(&sb, "}\n");
	}
	char path[] = "/tmp/memline-test-idle-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, sb.buf, sb.len), (ssize_t)sb.len);
	close(fd);
	struct strbuf err = STRBUF_INIT;
	if (run_load_fields(run, path, series_threads_fields(), NULL, NULL, &err))
		fail_msg("run_load: %s", err.buf);
	unlink(path);
	strbuf_release(&err);
	strbuf_release(&sb);
}

static void test_thread_cpu_idle(void **state)
{
	(void)state;
	struct run run;
	load_idle(&run, false);
	struct series_threads st;
	assert_int_equal(series_threads_build(&st, &run, 0, SERIES_RSS, 8), 0);
	assert_false(st.heap);
	assert_int_equal(st.set.n, 2);
	/*
	 * Read at 0.5 and 1.5 s; the process's CPU time flat from 1.5 s on, so each later sample
	 * is as good as a read: 0 % from then to the end, not a line that stops at 1.5 s.
	 */
	static const double times[] = {1.5, 2.0, 2.5, 3.0, 3.5, 4.0};
	const struct series *busy = &st.set.s[0], *idle = &st.set.s[1];
	assert_int_equal(run.threads.v[busy->thread].tid, 301);
	assert_int_equal(busy->n, 6);
	assert_int_equal(idle->n, 6);
	for (size_t i = 0; i < 6; i++) {
		assert_near(busy->t[i], times[i]);
		assert_int_equal(busy->at[i], i + 2);
		assert_near(busy->v[i], i ? 0 : 50);
		assert_near(idle->v[i], 0);
	}
	double t, v;
	assert_true(series_threads_peak(&st, &run, 0, &t, &v));
	assert_near(t, 1.5);
	assert_near(v, 50);
	assert_false(series_threads_peak(&st, &run, 1, &t, &v)); /* 0 %: nothing to mark */
	series_threads_release(&st);

	/* now: idle since the last read, the process's CPU time as it was then */
	size_t n = 0;
	size_t *idx = run_threads_of(&run.threads, 0, &n);
	double now[2];
	series_threads_cpu_now(&run, 0, idx, n, now);
	assert_near(now[0], 0);
	assert_near(now[1], 0);
	free(idx);
	run_release(&run);

	/* its CPU time moved after the last read, 0.5 s ago: the last window's, 0.5 .. 1.5 s */
	load_idle(&run, true);
	idx = run_threads_of(&run.threads, 0, &n);
	series_threads_cpu_now(&run, 0, idx, n, now);
	for (size_t i = 0; i < n; i++)
		assert_near(now[i], run.threads.v[idx[i]].tid == 301 ? 50 : 0);
	free(idx);
	run_release(&run);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_thread_heap_lines),
		cmocka_unit_test(test_thread_cpu_lines),
		cmocka_unit_test(test_thread_cpu_idle),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
