/*
 * test_series: the lines a plot draws (lib/model/series.c) from small logs written here: the tree
 * total, the top N processes by peak and "other" as the sum of the rest, CPU% from the change
 * in CPU time over windows of at least 20 clock ticks (never more than 100 % a thread, and
 * adding up to the CPU time used, however close the samples), interpolation along a line, and
 * peak-preserving decimation (every column's highest and lowest point survive; the first and last
 * are kept; O(n) output bounded by four points a column), and tables that put every series on one
 * time axis (rows ascending, NAN where a process was not alive, the same CPU%, every series' peaks
 * kept when decimated); the job's memory leading where the log measured it, the RSS sum beside
 * it only where it differs, its peak kept by decimation.
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

#include "run-fixture.h"
#include "model/run.h"
#include "model/series.h"

#define assert_near(a, b) assert_true(fabs((double)(a) - (double)(b)) < 1e-6)

/* One process entry of a sample: pid, rss, vms, utime, stime. */
static void add_proc(struct strbuf *sb, int pid, long rss, long vms, long ut, long st)
{
	strbuf_addf(sb, "[%d,%ld,%ld,0,0,%ld,%ld,0,null,%ld,%ld,0,0,1,0,0,0,0,\"R\"]", pid, rss,
		    rss, rss, vms, ut, st);
}

/*
 * Four processes 10..13 whose RSS at sample k (t = k) is (pid - 9) * 100 + k, except pid 12
 * which peaks at 5000 at sample 2; the tree's rss member is 1 more than the sum, to tell it
 * from a sum.
 */
static void load_four(struct run *run)
{
	struct strbuf sb = STRBUF_INIT;
	for (int pid = 10; pid < 14; pid++)
		strbuf_addf(&sb,
			    "{\"type\":\"proc\",\"t\":0,\"pid\":%d,\"ppid\":1,\"start\":0,"
			    "\"comm\":\"p%d\",\"argv\":[\"p%d\"]}\n",
			    pid, pid, pid);
	for (int k = 1; k <= 4; k++) {
		long sum = 0, rss[4];
		for (int i = 0; i < 4; i++) {
			rss[i] = (i + 1) * 100 + k;
			if (i == 2 && k == 2)
				rss[i] = 5000;
			sum += rss[i];
		}
		strbuf_addf(&sb,
			    "{\"type\":\"sample\",\"t\":%d,\"avail\":1,\"tree\":[4,%ld,0,0,0,null,"
			    "0,0,null,0,0],\"p\":[",
			    k, sum + 1);
		for (int i = 0; i < 4; i++) {
			if (i)
				strbuf_addch(&sb, ',');
			add_proc(&sb, 10 + i, rss[i], 1000 * (i + 1), 100 * k * (i + 1), 0);
		}
		strbuf_addstr(&sb, "]}\n");
	}
	load_text(run, sb.buf);
	strbuf_release(&sb);
}

static void test_top_and_other(void **state)
{
	(void)state;
	struct run run;
	load_four(&run);
	struct series_set set;
	assert_int_equal(series_set_build(&set, &run, SERIES_RSS, 2), 0);
	assert_int_equal(set.n, 4); /* tree, 2 top, other */
	assert_int_equal(set.n_rest, 2);
	assert_int_equal(set.s[0].kind, SERIES_TREE);
	assert_int_equal(set.s[3].kind, SERIES_OTHER);
	/* top by peak: pid 12 (5000), then pid 13 (404) */
	assert_int_equal(set.s[1].kind, SERIES_PROC);
	assert_int_equal(run.procs[set.s[1].proc].pid, 12);
	assert_int_equal(run.procs[set.s[2].proc].pid, 13);
	assert_near(set.s[1].peak, 5000);
	assert_near(set.s[1].peak_t, 2);
	for (int k = 0; k < 4; k++) {
		double t = k + 1;
		assert_near(set.s[0].t[k], t);
		/* "other": pids 10 and 11 summed */
		assert_near(set.s[3].v[k], (100 + t) + (200 + t));
		long sum = 0;
		for (int i = 0; i < 4; i++)
			sum += (i == 2 && k == 1) ? 5000 : (i + 1) * 100 + (long)t;
		/* the tree's own value, not the sum */
		assert_near(set.s[0].v[k], sum + 1);
	}
	series_set_release(&set);

	/* top 0: everything is "other"; top 10: no "other" */
	assert_int_equal(series_set_build(&set, &run, SERIES_VMS, 0), 0);
	assert_int_equal(set.n, 2);
	assert_int_equal(set.s[1].kind, SERIES_OTHER);
	assert_near(set.s[1].v[0], 1000 + 2000 + 3000 + 4000);
	/* the tree's vms member is 0 in this log: used as it is */
	assert_near(set.s[0].v[0], 0);
	series_set_release(&set);
	assert_int_equal(series_set_build(&set, &run, SERIES_RSS, 10), 0);
	assert_int_equal(set.n, 5);
	assert_int_equal(set.n_rest, 0);
	series_set_release(&set);

	/* PSS is unknown (null) everywhere: no process lines, no tree points */
	assert_int_equal(series_set_build(&set, &run, SERIES_PSS, 5), 0);
	assert_int_equal(set.n, 1);
	assert_int_equal(set.s[0].n, 0);
	assert_near(set.s[0].peak, -1);
	series_set_release(&set);
	run_release(&run);
}

static void test_cpu(void **state)
{
	(void)state;
	struct run run;
	load_four(&run);
	struct series_set set;
	assert_int_equal(series_set_build(&set, &run, SERIES_CPU, 4), 0);
	assert_int_equal(set.n, 5);
	/* process i uses 100 * (i + 1) ms a second: (i + 1) * 10 %, from its start at 0 too */
	for (size_t k = 1; k < set.n; k++) {
		const struct series *s = &set.s[k];
		int i = run.procs[s->proc].pid - 10;
		assert_int_equal(s->n, 4);
		for (size_t j = 0; j < s->n; j++)
			assert_near(s->v[j], (i + 1) * 10.0);
	}
	/* the first by peak is pid 13 (40 %); the tree is the sum, 100 % */
	assert_int_equal(run.procs[set.s[1].proc].pid, 13);
	for (size_t j = 0; j < set.s[0].n; j++)
		assert_near(set.s[0].v[j], 100);
	series_set_release(&set);
	run_release(&run);

	/* a process attached before the recording (start < 0): its first point is unknown */
	struct strbuf sb = STRBUF_INIT;
	strbuf_addstr(&sb, "{\"type\":\"proc\",\"t\":0,\"pid\":10,\"ppid\":1,\"start\":-5,"
			   "\"comm\":\"a\",\"argv\":[\"a\"]}\n");
	const long cpu[] = {5000, 5250, 5250, 6250};
	const double ts[] = {1, 1.5, 2, 4};
	for (int k = 0; k < 4; k++) {
		strbuf_addf(&sb,
			    "{\"type\":\"sample\",\"t\":%g,\"avail\":1,\"tree\":[1,1,0,0,0,"
			    "null,0,0,null,0,0],\"p\":[",
			    ts[k]);
		add_proc(&sb, 10, 1, 1, cpu[k] - 1000, 1000);
		strbuf_addstr(&sb, "]}\n");
	}
	load_text(&run, sb.buf);
	strbuf_release(&sb);
	assert_int_equal(series_set_build(&set, &run, SERIES_CPU, 1), 0);
	assert_int_equal(set.s[1].n, 3);
	assert_near(set.s[1].t[0], 1.5);
	assert_near(set.s[1].v[0], 50);	   /* 250 ms in 0.5 s */
	assert_near(set.s[1].v[1], 0);	   /* idle */
	assert_near(set.s[1].v[2], 50);	   /* 1000 ms in 2 s */
	assert_near(set.s[1].peak_t, 1.5); /* the first point with the peak value */
	series_set_release(&set);
	run_release(&run);
}

/*
 * A busy single-threaded process (pid 10, started at 0) sampled every 2 ms for 2 s, as memline
 * does after events: its CPU time moves in 10 ms ticks, so between two samples it moves by 0
 * or 10 ms. threads is its thread count, or "null". A second process (pid 11) lives from 0.5 s
 * to 0.56 s, between two window ends, using 30 ms.
 */
static void load_ticking(struct run *run, const char *threads)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_addstr(&sb, "{\"type\":\"proc\",\"t\":0,\"pid\":10,\"ppid\":1,\"start\":0,"
			   "\"comm\":\"busy\",\"argv\":[\"busy\"]}\n");
	for (int k = 1; k <= 1000; k++) {
		double t = k * 0.002;
		long cpu = (long)floor(t * 100 + 1e-9) * 10; /* whole ticks of 10 ms */
		if (k == 250)
			strbuf_addstr(&sb,
				      "{\"type\":\"proc\",\"t\":0.5,\"pid\":11,\"ppid\":10,"
				      "\"start\":0.5,\"comm\":\"short\",\"argv\":[\"short\"]}\n");
		strbuf_addf(
			&sb,
			"{\"type\":\"sample\",\"t\":%.3f,\"avail\":1,\"tree\":[1,1,0,0,0,null,0,"
			"0,null,0,0],\"p\":[[10,1,1,0,0,1,1,0,null,%ld,0,0,0,%s,0,0,0,0,\"R\"]",
			t, cpu, threads);
		if (k >= 250 && k <= 280)
			strbuf_addf(&sb, ",[11,1,1,0,0,1,1,0,null,%d,0,0,0,1,0,0,0,0,\"R\"]",
				    (k - 250) / 10 * 10);
		strbuf_addstr(&sb, "]}\n");
		if (k == 280)
			strbuf_addstr(&sb, "{\"type\":\"exit\",\"t\":0.561,\"pid\":11,\"how\":"
					   "\"exited\",\"code\":0}\n");
	}
	load_text(run, sb.buf);
	strbuf_release(&sb);
}

static void test_cpu_window(void **state)
{
	(void)state;
	struct run run;
	struct series_set set;
	load_ticking(&run, "1");
	assert_near(series_cpu_window(&run), 0.2); /* 20 ticks at clk_tck 100 */
	assert_int_equal(series_set_build(&set, &run, SERIES_CPU, 2), 0);
	assert_int_equal(set.n, 3);
	const struct series *busy = &set.s[1], *tree = &set.s[0];
	assert_int_equal(run.procs[busy->proc].pid, 10);
	/* points only at the ends of windows of at least 0.2 s, the last at the last sample */
	assert_true(busy->n >= 5 && busy->n <= 10);
	assert_near(busy->t[busy->n - 1], 2.0);
	for (size_t i = 0; i < busy->n; i++) {
		double from = i ? busy->t[i - 1] : 0;
		assert_true(busy->t[i] - from >= 0.2 - 1e-9);
		assert_true(busy->v[i] <= 100 + 1e-9); /* one thread */
		assert_true(busy->v[i] >= 85);
	}
	/* the tree counts the short process, which no window end saw alive */
	double tree_ms = 0, busy_ms = 0;
	for (size_t i = 0; i < tree->n; i++) {
		double from = i ? tree->t[i - 1] : 0;
		tree_ms += tree->v[i] * 10 * (tree->t[i] - from);
		busy_ms += busy->v[i] * 10 * (busy->t[i] - from);
	}
	assert_true(fabs(tree_ms - busy_ms - 30) < 1e-6);
	/* the short one has a point at its last sample, over the window so far */
	const struct series *shrt = &set.s[2];
	assert_int_equal(run.procs[shrt->proc].pid, 11);
	assert_int_equal(shrt->n, 1);
	assert_near(shrt->t[0], 0.56);
	series_set_release(&set);
	run_release(&run);

	/* threads unknown: no cap, but the window keeps the error within 2 ticks in 20 (10 %),
	 * and the points add up to the CPU time used exactly */
	load_ticking(&run, "null");
	assert_int_equal(series_set_build(&set, &run, SERIES_CPU, 1), 0);
	busy = &set.s[1];
	double ms = 0;
	for (size_t i = 0; i < busy->n; i++) {
		double from = i ? busy->t[i - 1] : 0;
		assert_true(busy->v[i] <= 110 + 1e-9);
		ms += busy->v[i] * 10 * (busy->t[i] - from);
	}
	assert_true(fabs(ms - 2000) < 1e-6);
	series_set_release(&set);
	run_release(&run);

	assert_near(series_cpu_percent(10, 0.002, 1), 100);
	assert_near(series_cpu_percent(10, 0.002, 0), 500);
	assert_near(series_cpu_percent(150, 0.5, 4), 30);
	assert_true(isnan(series_cpu_percent(10, 0, 1)));
	assert_true(isnan(series_cpu_percent(-1, 1, 1)));
}

static void test_series_at(void **state)
{
	(void)state;
	double t[] = {1, 2, 4}, v[] = {10, 20, 0};
	struct series s = {.t = t, .v = v, .n = 3};
	assert_near(series_at(&s, 0), 10);
	assert_near(series_at(&s, 1.5), 15);
	assert_near(series_at(&s, 3), 10);
	assert_near(series_at(&s, 4), 0);
	assert_near(series_at(&s, 9), 0);
	s.n = 0;
	assert_near(series_at(&s, 1), -1);
}

/* A deterministic pseudo-random sequence (no libc rand, the same everywhere). */
static uint32_t next_rand(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static void test_decimate_keeps_peaks(void **state)
{
	(void)state;
	const size_t n = 200000, cols = 300;
	double *t = malloc(n * sizeof(*t)), *v = malloc(n * sizeof(*v));
	double *ot = malloc(series_decimate_cap(cols) * sizeof(*ot));
	double *ov = malloc(series_decimate_cap(cols) * sizeof(*ov));
	assert_true(t && v && ot && ov);
	uint32_t r = 12345;
	double tt = 0;
	for (size_t i = 0; i < n; i++) {
		tt += 0.001 + (next_rand(&r) % 1000) * 1e-6; /* uneven spacing */
		t[i] = tt;
		v[i] = 1000 + (double)(next_rand(&r) % 100);
	}
	/* single-point spikes and dips, one of them the global peak */
	v[77777] = 1e9;
	v[123] = 5000;
	v[199000] = -5;
	v[150001] = 7777;
	double t0 = t[0], t1 = t[n - 1];
	size_t m = series_decimate(t, v, n, t0, t1, cols, ot, ov);
	assert_true(m <= series_decimate_cap(cols));
	assert_true(m >= cols); /* every column has points */
	assert_near(ot[0], t[0]);
	assert_near(ot[m - 1], t[n - 1]);
	for (size_t j = 1; j < m; j++)
		assert_true(ot[j] > ot[j - 1]);

	/* each column's max and min over the input are in the output */
	double *imax = calloc(cols, sizeof(double)), *imin = calloc(cols, sizeof(double));
	double *omax = calloc(cols, sizeof(double)), *omin = calloc(cols, sizeof(double));
	assert_true(imax && imin && omax && omin);
	for (size_t c = 0; c < cols; c++) {
		imax[c] = omax[c] = -INFINITY;
		imin[c] = omin[c] = INFINITY;
	}
	for (size_t i = 0; i < n; i++) {
		size_t c = (size_t)((t[i] - t0) * cols / (t1 - t0));
		c = c >= cols ? cols - 1 : c;
		imax[c] = fmax(imax[c], v[i]);
		imin[c] = fmin(imin[c], v[i]);
	}
	for (size_t j = 0; j < m; j++) {
		size_t c = (size_t)((ot[j] - t0) * cols / (t1 - t0));
		c = c >= cols ? cols - 1 : c;
		omax[c] = fmax(omax[c], ov[j]);
		omin[c] = fmin(omin[c], ov[j]);
	}
	for (size_t c = 0; c < cols; c++) {
		assert_near(omax[c], imax[c]);
		assert_near(omin[c], imin[c]);
	}
	bool spike = false, dip = false;
	for (size_t j = 0; j < m; j++) {
		spike |= ov[j] == 1e9 && ot[j] == t[77777];
		dip |= ov[j] == -5 && ot[j] == t[199000];
	}
	assert_true(spike);
	assert_true(dip);

	/* few points are copied unchanged */
	m = series_decimate(t, v, 10, t0, t1, cols, ot, ov);
	assert_int_equal(m, 10);
	assert_memory_equal(ot, t, 10 * sizeof(double));
	/* one column: first, min, max, last */
	m = series_decimate(t, v, n, t0, t1, 1, ot, ov);
	assert_int_equal(m, 4);
	assert_near(ov[0], v[0]);
	assert_near(ov[1], 1e9); /* the spike comes before the dip */
	assert_near(ov[2], -5);
	assert_near(ov[3], v[n - 1]);
	/* points outside [t0, t1] fall in the first or last column */
	m = series_decimate(t, v, n, t[n / 2], t[n / 2 + 1000], 2, ot, ov);
	assert_true(m <= 8);
	assert_near(ot[0], t[0]);
	assert_near(ot[m - 1], t[n - 1]);
	assert_int_equal(series_decimate(t, v, 0, t0, t1, cols, ot, ov), 0);

	free(imax);
	free(imin);
	free(omax);
	free(omin);
	free(t);
	free(v);
	free(ot);
	free(ov);
}

static void test_empty_run(void **state)
{
	(void)state;
	struct run run;
	load_text(&run, "");
	struct series_set set;
	assert_int_equal(series_set_build(&set, &run, SERIES_RSS, 5), 0);
	assert_int_equal(set.n, 1);
	assert_int_equal(set.s[0].n, 0);
	series_set_release(&set);
	run_release(&run);
}

/* ---- tables: every series on one time axis ---- */

/*
 * Six samples (t = 1..6): pid 10 in all of them, pid 11 in samples 3 and 4 (it exits), pid 12
 * from sample 5; the tree's RSS is unknown in sample 2 (its total is then the sum).
 */
static void load_staggered(struct run *run)
{
	struct strbuf sb = STRBUF_INIT;
	for (int k = 1; k <= 6; k++) {
		if (k == 1 || k == 3 || k == 5)
			strbuf_addf(
				&sb,
				"{\"type\":\"proc\",\"t\":%d,\"pid\":%d,\"ppid\":1,\"start\":%d,"
				"\"comm\":\"p\",\"argv\":[\"p\"]}\n",
				k - 1, 9 + (k + 1) / 2, k - 1);
		strbuf_addf(&sb, "{\"type\":\"sample\",\"t\":%d,\"avail\":1,\"tree\":[1,", k);
		if (k == 2)
			strbuf_addstr(&sb, "null");
		else
			strbuf_addf(&sb, "%d", 10000 + k);
		strbuf_addstr(&sb, ",0,0,0,null,0,0,null,0,0],\"p\":[");
		add_proc(&sb, 10, 100 * k, 1, 10 * k, 0);
		if (k == 3 || k == 4) {
			strbuf_addch(&sb, ',');
			add_proc(&sb, 11, 1000 * k, 1, 0, 0);
		}
		if (k >= 5) {
			strbuf_addch(&sb, ',');
			add_proc(&sb, 12, 50, 1, 0, 0);
		}
		strbuf_addstr(&sb, "]}\n");
		if (k == 4)
			strbuf_addstr(&sb,
				      "{\"type\":\"exit\",\"t\":4.5,\"pid\":11,\"how\":\"exited\","
				      "\"code\":0}\n");
	}
	load_text(run, sb.buf);
	strbuf_release(&sb);
}

/* The column of the table that belongs to the process with pid. */
static size_t column_of(const struct run *run, const struct series_set *set, int pid)
{
	for (size_t k = 0; k < set->n; k++)
		if (set->s[k].kind == SERIES_PROC && run->procs[set->s[k].proc].pid == pid)
			return k;
	fail_msg("no series for pid %d", pid);
	return 0;
}

static void test_table_gaps(void **state)
{
	(void)state;
	struct run run;
	load_staggered(&run);
	struct series_set set;
	struct series_table tab;
	assert_int_equal(series_set_build(&set, &run, SERIES_RSS, 2), 0);
	assert_int_equal(set.n, 4); /* tree, pid 11, pid 10, other (pid 12) */
	assert_int_equal(series_table_build(&tab, &set, SIZE_MAX), 0);
	assert_int_equal(tab.ns, set.n);
	assert_int_equal(tab.n, 6); /* every sample is a row */
	for (size_t i = 0; i < tab.n; i++)
		assert_near(tab.t[i], i + 1);
	/* the tree: its own value, the sum where the log has none */
	assert_near(tab.v[0][0], 10001);
	assert_near(tab.v[0][1], 200);
	assert_near(tab.v[0][5], 10006);
	/* pid 11 lived in samples 3 and 4 only: no value before or after */
	size_t c11 = column_of(&run, &set, 11), c10 = column_of(&run, &set, 10);
	assert_int_equal(c11, 1);
	for (size_t i = 0; i < tab.n; i++) {
		if (i == 2 || i == 3)
			assert_near(tab.v[c11][i], 1000 * (i + 1));
		else
			assert_true(isnan(tab.v[c11][i]));
		assert_near(tab.v[c10][i], 100 * (i + 1));
	}
	/* "other" is pid 12, from sample 5; 0 before it, when no other process is alive */
	assert_int_equal(set.s[3].kind, SERIES_OTHER);
	assert_near(tab.v[3][0], 0);
	assert_near(tab.v[3][4], 50);
	series_table_release(&tab);
	series_set_release(&set);

	/* PSS is unknown everywhere: no point, no row */
	assert_int_equal(series_set_build(&set, &run, SERIES_PSS, 2), 0);
	assert_int_equal(series_table_build(&tab, &set, SIZE_MAX), 0);
	assert_int_equal(tab.n, 0);
	series_table_release(&tab);
	series_set_release(&set);
	run_release(&run);
}

static void test_table_cpu(void **state)
{
	(void)state;
	struct run run;
	load_four(&run);
	struct series_set set;
	struct series_table tab;
	assert_int_equal(series_set_build(&set, &run, SERIES_CPU, 2), 0);
	assert_int_equal(series_table_build(&tab, &set, SIZE_MAX), 0);
	assert_int_equal(tab.n, 4);
	/* the same CPU% as the series: process i uses (i + 1) * 10 %, the tree their sum */
	for (size_t i = 0; i < tab.n; i++) {
		assert_near(tab.v[0][i], 100);
		assert_near(tab.v[1][i], 40); /* pid 13 */
		assert_near(tab.v[2][i], 30); /* pid 12 */
		assert_near(tab.v[3][i], 10 + 20);
	}
	series_table_release(&tab);
	series_set_release(&set);
	run_release(&run);

	/* a process that uses 50 % and exits; in the last sample nothing is alive: the tree 0 % */
	struct strbuf sb = STRBUF_INIT;
	strbuf_addstr(&sb, "{\"type\":\"proc\",\"t\":0,\"pid\":10,\"ppid\":1,\"start\":0,"
			   "\"comm\":\"a\",\"argv\":[\"a\"]}\n");
	for (int k = 1; k <= 2; k++) {
		strbuf_addf(&sb,
			    "{\"type\":\"sample\",\"t\":%d,\"avail\":1,\"tree\":[1,1,0,0,0,"
			    "null,0,0,null,0,0],\"p\":[",
			    k);
		add_proc(&sb, 10, 1, 1, 500 * k, 0);
		strbuf_addstr(&sb, "]}\n");
	}
	strbuf_addstr(&sb,
		      "{\"type\":\"exit\",\"t\":2.5,\"pid\":10,\"how\":\"exited\",\"code\":0}\n"
		      "{\"type\":\"sample\",\"t\":3,\"avail\":1,\"tree\":[0,0,0,0,0,null,0,0,"
		      "null,0,0],\"p\":[]}\n");
	load_text(&run, sb.buf);
	strbuf_release(&sb);
	assert_int_equal(series_set_build(&set, &run, SERIES_CPU, 1), 0);
	assert_int_equal(series_table_build(&tab, &set, SIZE_MAX), 0);
	assert_int_equal(tab.n, 3);
	assert_near(tab.v[0][0], 50);
	assert_near(tab.v[0][1], 50);
	assert_near(tab.v[0][2], 0);
	assert_near(tab.v[1][1], 50);
	assert_true(isnan(tab.v[1][2]));
	series_table_release(&tab);
	series_set_release(&set);
	run_release(&run);
}

/*
 * A hand-made set over n samples at uneven times: the tree in all of them, process A in the
 * first 60 %, process B in the last 30 % with a one-sample spike, and "other" in a short middle
 * stretch with a one-sample dip. Each series has one point a sample it is in.
 */
struct fake_set {
	struct series_set set;
	struct series s[4];
	double *times;
};

static void fake_push(struct series *s, size_t at, double t, double v)
{
	s->t[s->n] = t;
	s->v[s->n] = v;
	s->at[s->n] = at;
	s->n++;
}

static void fake_build(struct fake_set *f, size_t n)
{
	memset(f, 0, sizeof(*f));
	f->times = malloc(n * sizeof(double));
	for (int k = 0; k < 4; k++) {
		f->s[k].t = malloc(n * sizeof(double));
		f->s[k].v = malloc(n * sizeof(double));
		f->s[k].at = malloc(n * sizeof(size_t));
		assert_true(f->s[k].t && f->s[k].v && f->s[k].at);
		f->s[k].kind = k == 0 ? SERIES_TREE : k == 3 ? SERIES_OTHER : SERIES_PROC;
		f->s[k].proc = k == 0 || k == 3 ? -1 : k - 1;
	}
	uint32_t r = 777;
	double t = 0;
	for (size_t i = 0; i < n; i++) {
		t += 0.01 + (next_rand(&r) % 100) * 1e-4;
		f->times[i] = t;
		double a = 500 + (double)(next_rand(&r) % 50),
		       b = 300 + (double)(next_rand(&r) % 70);
		if (i < n * 6 / 10)
			fake_push(&f->s[1], i, t, a);
		if (i >= n * 7 / 10)
			fake_push(&f->s[2], i, t, i == n * 9 / 10 + 3 ? 1e6 : b);
		if (i >= n * 4 / 10 && i < n * 4 / 10 + 500)
			fake_push(&f->s[3], i, t, i == n * 4 / 10 + 77 ? 1 : 20);
		fake_push(&f->s[0], i, t, (i < n * 6 / 10 ? a : 0) + (i >= n * 7 / 10 ? b : 0));
	}
	f->set.s = f->s;
	f->set.n = 4;
}

static void fake_release(struct fake_set *f)
{
	for (int k = 0; k < 4; k++) {
		free(f->s[k].t);
		free(f->s[k].v);
		free(f->s[k].at);
	}
	free(f->times);
}

static void test_table_decimate(void **state)
{
	(void)state;
	const size_t n = 100000, max_rows = 4000;
	struct fake_set f;
	fake_build(&f, n);
	struct series_table tab;
	assert_int_equal(series_table_build(&tab, &f.set, max_rows), 0);
	assert_true(tab.n <= max_rows);
	assert_true(tab.n >= max_rows / 16); /* every column has rows */
	for (size_t i = 1; i < tab.n; i++)
		assert_true(tab.t[i] > tab.t[i - 1]); /* one axis, ascending */
	assert_near(tab.t[0], f.times[0]);
	assert_near(tab.t[tab.n - 1], f.times[n - 1]);

	/* per series: its peak and dip at their times, its first and last point, and no value
	 * outside the time it has points in */
	for (size_t k = 0; k < 4; k++) {
		const struct series *s = &f.s[k];
		size_t hi = 0, lo = 0;
		for (size_t i = 1; i < s->n; i++) {
			hi = s->v[i] > s->v[hi] ? i : hi;
			lo = s->v[i] < s->v[lo] ? i : lo;
		}
		bool got_hi = false, got_lo = false, got_first = false, got_last = false;
		for (size_t i = 0; i < tab.n; i++) {
			double v = tab.v[k][i];
			if (tab.t[i] < s->t[0] || tab.t[i] > s->t[s->n - 1]) {
				assert_true(isnan(v));
				continue;
			}
			got_hi |= tab.t[i] == s->t[hi] && v == s->v[hi];
			got_lo |= tab.t[i] == s->t[lo] && v == s->v[lo];
			got_first |= tab.t[i] == s->t[0] && v == s->v[0];
			got_last |= tab.t[i] == s->t[s->n - 1] && v == s->v[s->n - 1];
		}
		assert_true(got_hi);
		assert_true(got_lo);
		assert_true(got_first);
		assert_true(got_last);
	}
	/* the one-sample spike and dip */
	bool spike = false, dip = false;
	for (size_t i = 0; i < tab.n; i++) {
		spike |= tab.v[2][i] == 1e6 && tab.t[i] == f.times[n * 9 / 10 + 3];
		dip |= tab.v[3][i] == 1 && tab.t[i] == f.times[n * 4 / 10 + 77];
	}
	assert_true(spike);
	assert_true(dip);
	series_table_release(&tab);

	/* each time column's highest and lowest value of every series survive */
	const size_t cols = max_rows / (4 * 4);
	double t0 = f.times[0], t1 = f.times[n - 1];
	double *in_hi = malloc(cols * sizeof(double)), *out_hi = malloc(cols * sizeof(double));
	double *in_lo = malloc(cols * sizeof(double)), *out_lo = malloc(cols * sizeof(double));
	assert_true(in_hi && out_hi && in_lo && out_lo);
	assert_int_equal(series_table_build(&tab, &f.set, max_rows), 0);
	for (size_t k = 0; k < 4; k++) {
		for (size_t c = 0; c < cols; c++) {
			in_hi[c] = out_hi[c] = -INFINITY;
			in_lo[c] = out_lo[c] = INFINITY;
		}
		const struct series *s = &f.s[k];
		for (size_t i = 0; i < s->n; i++) {
			size_t c = (size_t)((s->t[i] - t0) * cols / (t1 - t0));
			c = c >= cols ? cols - 1 : c;
			in_hi[c] = fmax(in_hi[c], s->v[i]);
			in_lo[c] = fmin(in_lo[c], s->v[i]);
		}
		for (size_t i = 0; i < tab.n; i++) {
			if (isnan(tab.v[k][i]))
				continue;
			size_t c = (size_t)((tab.t[i] - t0) * cols / (t1 - t0));
			c = c >= cols ? cols - 1 : c;
			out_hi[c] = fmax(out_hi[c], tab.v[k][i]);
			out_lo[c] = fmin(out_lo[c], tab.v[k][i]);
		}
		for (size_t c = 0; c < cols; c++) {
			assert_true(out_hi[c] == in_hi[c]);
			assert_true(out_lo[c] == in_lo[c]);
		}
	}
	series_table_release(&tab);

	/* fewer rows than 4 a series: one column, at most 4 rows a series */
	assert_int_equal(series_table_build(&tab, &f.set, 3), 0);
	assert_true(tab.n <= 16);
	bool spike1 = false;
	for (size_t i = 0; i < tab.n; i++)
		spike1 |= tab.v[2][i] == 1e6;
	assert_true(spike1);
	series_table_release(&tab);

	/* rows that fit are all kept; one more than fits and they are decimated */
	assert_int_equal(series_table_build(&tab, &f.set, n), 0);
	assert_int_equal(tab.n, n);
	series_table_release(&tab);
	assert_int_equal(series_table_build(&tab, &f.set, n - 1), 0);
	assert_true(tab.n <= n - 1);
	series_table_release(&tab);
	free(in_hi);
	free(out_hi);
	free(in_lo);
	free(out_lo);
	fake_release(&f);
}

/* ---- the job's memory leads ---- */

static void load_fixture(struct run *run, const char *name)
{
	const char *dir = getenv("MEMLINE_FIXTURES");
	struct strbuf path = STRBUF_INIT, err = STRBUF_INIT;
	strbuf_addf(&path, "%s/logs/%s", dir ? dir : "tests/fixtures", name);
	if (run_load(run, path.buf, NULL, NULL, &err))
		fail_msg("run_load(%s): %s", path.buf, err.buf);
	strbuf_release(&path);
	strbuf_release(&err);
}

/* A cgroup log: the job's line first, then the RSS sum (it differs), then the processes. */
static void test_job_leads(void **state)
{
	(void)state;
	struct run run;
	struct series_set set;
	load_fixture(&run, "cgroup.jsonl");
	assert_int_equal(series_set_build(&set, &run, SERIES_RSS, 3), 0);
	assert_true(set.job);
	assert_int_equal(set.method, MEM_CGROUP);
	assert_int_equal(set.s[0].kind, SERIES_JOB);
	assert_int_equal(set.tree, 1);
	assert_int_equal(set.s[1].kind, SERIES_TREE);
	assert_int_equal(set.s[2].kind, SERIES_PROC);
	assert_int_equal(set.s[set.n - 1].kind, SERIES_OTHER); /* 5 processes, top 3 */
	assert_near(set.s[0].peak, 523000);		       /* the samples' job, not job_peak */
	assert_near(set.s[1].peak, 2560000);
	assert_int_equal(set.s[0].n, run.n_samples);
	series_set_release(&set);
	/* PSS of a cgroup log: the job's line still leads */
	assert_int_equal(series_set_build(&set, &run, SERIES_PSS, 3), 0);
	assert_true(set.job);
	series_set_release(&set);
	/* not for vms, swap or CPU: another quantity */
	assert_int_equal(series_set_build(&set, &run, SERIES_VMS, 3), 0);
	assert_false(set.job);
	assert_int_equal(set.s[0].kind, SERIES_TREE);
	series_set_release(&set);
	run_release(&run);

	/* method rss: the job's line is the RSS sum, drawn once */
	load_fixture(&run, "atexit.jsonl");
	assert_int_equal(series_set_build(&set, &run, SERIES_RSS, 3), 0);
	assert_true(set.job);
	assert_int_equal(set.tree, -1);
	assert_int_equal(set.s[0].kind, SERIES_JOB);
	assert_int_equal(set.s[1].kind, SERIES_PROC);
	series_set_release(&set);
	/* ... and a PSS plot of it has no job line: its PSS sum says more */
	assert_int_equal(series_set_build(&set, &run, SERIES_PSS, 3), 0);
	assert_false(set.job);
	series_set_release(&set);
	run_release(&run);

	/* a format 1 log: as it was */
	load_fixture(&run, "complete.jsonl");
	assert_int_equal(series_set_build(&set, &run, SERIES_RSS, 3), 0);
	assert_false(set.job);
	assert_int_equal(set.tree, 0);
	assert_int_equal(set.s[0].kind, SERIES_TREE);
	series_set_release(&set);
	run_release(&run);
}

/* The job's line loses no peak to decimation: a one-sample spike of the cgroup's charge. */
static void test_job_decimation_keeps_peak(void **state)
{
	(void)state;
	struct strbuf sb = STRBUF_INIT;
	strbuf_addstr(&sb,
		      "{\"type\":\"header\",\"format\":2,\"memline\":\"0.1.0\",\"mode\":\"run\","
		      "\"command\":[\"w\"],\"pid\":10,\"clk_tck\":100,\"memory\":{\"method\":"
		      "\"cgroup\",\"cgroup\":null},\"fields\":[\"pid\",\"rss\",\"state\"],"
		      "\"tree_fields\":[\"nproc\",\"rss\",\"job\",\"job_peak\"]}\n");
	for (int k = 1; k <= 20000; k++)
		strbuf_addf(
			&sb,
			"{\"type\":\"sample\",\"t\":%.2f,\"tree\":[1,9000,%d,null],\"p\":[[10,9000,"
			"\"S\"]]}\n",
			k / 100.0, k == 12345 ? 700000 : 1000 + k % 50);
	char path[] = "/tmp/memline-test-job-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, sb.buf, sb.len), (ssize_t)sb.len);
	close(fd);
	struct run run;
	struct strbuf err = STRBUF_INIT;
	assert_int_equal(run_load(&run, path, NULL, NULL, &err), 0);
	unlink(path);
	struct series_set set;
	struct series_table tab;
	assert_int_equal(series_set_build(&set, &run, SERIES_RSS, 3), 0);
	assert_true(set.job);
	assert_int_equal(set.tree, -1); /* the RSS sum is its one process's line: not drawn */
	assert_int_equal(set.n, 2);
	assert_int_equal(series_table_build(&tab, &set, 400), 0);
	assert_true(tab.n <= 400);
	double top = 0;
	for (size_t i = 0; i < tab.n; i++)
		if (!isnan(tab.v[0][i]) && tab.v[0][i] > top)
			top = tab.v[0][i];
	assert_near(top, 700000);
	double *dt = malloc(series_decimate_cap(100) * sizeof(*dt));
	double *dv = malloc(series_decimate_cap(100) * sizeof(*dv));
	size_t m = series_decimate(set.s[0].t, set.s[0].v, set.s[0].n, 0, 200, 100, dt, dv);
	top = 0;
	for (size_t i = 0; i < m; i++)
		top = fmax(top, dv[i]);
	assert_near(top, 700000);
	free(dt);
	free(dv);
	series_table_release(&tab);
	series_set_release(&set);
	run_release(&run);
	strbuf_release(&sb);
	strbuf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_top_and_other),
		cmocka_unit_test(test_cpu),
		cmocka_unit_test(test_cpu_window),
		cmocka_unit_test(test_series_at),
		cmocka_unit_test(test_decimate_keeps_peaks),
		cmocka_unit_test(test_empty_run),
		cmocka_unit_test(test_table_gaps),
		cmocka_unit_test(test_table_cpu),
		cmocka_unit_test(test_table_decimate),
		cmocka_unit_test(test_job_leads),
		cmocka_unit_test(test_job_decimation_keeps_peak),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
