/*
 * test_tui: the dashboard's pure parts (lib/render/tui.c): braille cell encoding, the history
 * windows '+' and '-' step through (never longer than the run from the whole run), the chart's
 * scale and its labels (that fit their columns), and the chart's bins: every sample's
 * value lands in its column (a spike between two columns' worth of samples survives), columns
 * without a sample carry the line, the top processes get series of their own, and bringing the
 * bins up to date frame by frame (samples read as time passes, bins sliding out of the window)
 * gives exactly what building them at once gives, without rebuilding.
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
#include "render/tui.h"

#define assert_near(a, b) assert_true(fabs((double)(a) - (double)(b)) < 1e-6)

/*
 * Five processes 10..14 sampled every 0.1 s for 100 s (1000 samples): pid 10 + i has RSS
 * (i + 1) * 1000 KiB, except pid 12 which spikes to 50000 at sample 500 (t = 50.0) only; the
 * tree is the sum.
 */
static void load_five(struct run *run)
{
	struct strbuf sb = STRBUF_INIT;
	for (int pid = 10; pid < 15; pid++)
		strbuf_addf(&sb,
			    "{\"type\":\"proc\",\"t\":0,\"pid\":%d,\"ppid\":1,\"start\":0,"
			    "\"comm\":\"p%d\",\"argv\":[\"p%d\"]}\n",
			    pid, pid, pid);
	for (int k = 1; k <= 1000; k++) {
		long rss[5], sum = 0;
		for (int i = 0; i < 5; i++) {
			rss[i] = (i + 1) * 1000;
			if (i == 2 && k == 500)
				rss[i] = 50000;
			sum += rss[i];
		}
		strbuf_addf(
			&sb,
			"{\"type\":\"sample\",\"t\":%.1f,\"avail\":1,\"tree\":[5,%ld,0,0,0,null,"
			"0,0,null,0,0],\"p\":[",
			k / 10.0, sum);
		for (int i = 0; i < 5; i++)
			strbuf_addf(&sb, "%s[%d,%ld,%ld,0,0,%ld,1,0,null,1,1,0,0,1,0,0,0,0,\"S\"]",
				    i ? "," : "", 10 + i, rss[i], rss[i], rss[i]);
		strbuf_addstr(&sb, "]}\n");
	}
	load_text(run, sb.buf);
	strbuf_release(&sb);
}

static void test_braille(void **state)
{
	(void)state;
	unsigned all = 0;
	for (int x = 0; x < 2; x++)
		for (int y = 0; y < 4; y++) {
			unsigned b = tui_braille_bit(x, y);
			assert_int_equal(__builtin_popcount(b), 1);
			assert_int_equal(all & b, 0); /* each dot its own bit */
			all |= b;
		}
	assert_int_equal(all, 0xff);
	assert_int_equal(tui_braille_bit(0, 0), 0x01); /* dot 1 */
	assert_int_equal(tui_braille_bit(0, 3), 0x40); /* dot 7 */
	assert_int_equal(tui_braille_bit(1, 3), 0x80); /* dot 8 */
	assert_int_equal(tui_braille_bit(2, 0), 0);
	char out[4];
	tui_braille_utf8(0, out);
	assert_string_equal(out, "\xe2\xa0\x80"); /* U+2800 */
	tui_braille_utf8(0xff, out);
	assert_string_equal(out, "\xe2\xa3\xbf"); /* U+28FF */
	tui_braille_utf8(0x41, out);
	assert_string_equal(out, "\xe2\xa1\x81"); /* U+2841 */
}

static void test_windows(void **state)
{
	(void)state;
	const double hour = 7200; /* a run of two hours: every window is shorter */
	assert_near(tui_window_step(0, 1, hour), 0); /* the whole run is the longest */
	assert_near(tui_window_step(0, -1, hour), 3600);
	assert_near(tui_window_step(3600, 1, hour), 0);
	assert_near(tui_window_step(10, -1, hour), 10); /* the shortest */
	assert_near(tui_window_step(10, 1, hour), 60);
	assert_near(tui_window_step(60, -1, hour), 10);
	assert_near(tui_window_step(120, -1, hour), 60); /* from --window 120 */
	assert_near(tui_window_step(120, 1, hour), 300);
	/* a 12 s run: '-' from the whole run goes to 10 s, not 1 h; '+' from 10 s back to it */
	assert_near(tui_window_step(0, -1, 12), 10);
	assert_near(tui_window_step(10, 1, 12), 0);
	assert_near(tui_window_step(0, -1, 400), 300);
	assert_near(tui_window_step(300, 1, 400), 0);
	assert_near(tui_window_step(60, 1, 400), 300);
	/* a run shorter than every window: the shortest, and back */
	assert_near(tui_window_step(0, -1, 3), 10);
	assert_near(tui_window_step(0, -1, 0), 10);
	assert_near(tui_window_step(10, 1, 3), 0);
	assert_near(tui_window_step(10, -1, 3), 10);
}

static void check_label(double kib, const char *want)
{
	struct strbuf sb = STRBUF_INIT;
	tui_axis_label(&sb, kib);
	if (strcmp(sb.buf, want))
		fail_msg("tui_axis_label(%g): got '%s', expected '%s'", kib, sb.buf, want);
	strbuf_release(&sb);
}

/* The scale's labels fit the chart's 9 columns on its left: never "1000.0 Mi". */
static void test_axis_label(void **state)
{
	(void)state;
	check_label(0, "0");
	check_label(1000 * 1024.0, "1000 MiB");
	check_label(500 * 1024.0, "500 MiB");
	check_label(1.5 * 1048576, "1.5 GiB");
	check_label(768, "768 KiB");
	check_label(0.5, "0.5 KiB");
	check_label(1024, "1 MiB");
	check_label(15 * 1024.0, "15 MiB");
	check_label(7.5 * 1024, "7.5 MiB");
	check_label(1023.9 * 1048576, "1024 GiB");
	/* every scale and half scale tui_nice_max can give */
	struct strbuf sb = STRBUF_INIT;
	for (double v = 1; v < 1e11; v *= 1.13) {
		double m = tui_nice_max(v);
		for (int half = 0; half < 2; half++) {
			strbuf_reset(&sb);
			tui_axis_label(&sb, half ? m / 2 : m);
			assert_true(sb.len <= 8);
		}
	}
	strbuf_release(&sb);
}

static void test_nice_max(void **state)
{
	(void)state;
	assert_near(tui_nice_max(0), 1024);
	assert_near(tui_nice_max(7), 8);
	assert_near(tui_nice_max(11), 15);
	assert_near(tui_nice_max(999), 1000);
	assert_near(tui_nice_max(1500), 1536);			 /* 1.46 MiB -> 1.5 MiB */
	assert_near(tui_nice_max(240000), 300 * 1024.0);	 /* 234 MiB -> 300 MiB */
	assert_near(tui_nice_max(3 * 1048576.0), 3 * 1048576.0); /* 3 GiB */
	for (double v = 1; v < 1e10; v *= 1.37)
		assert_true(tui_nice_max(v) >= v && tui_nice_max(v) < 2.1 * v);
}

static void test_chart_columns(void **state)
{
	(void)state;
	struct run run;
	load_five(&run);
	struct tui_chart c;
	tui_chart_init(&c);
	/* The whole run in 40 columns: the spike's column has it, the others the plain sum. */
	assert_int_equal(tui_chart_update(&c, &run, 100, 0, 40), 0);
	assert_true(c.n <= 4 * 40);
	assert_int_equal(c.ns, 1 + TUI_TOP);
	assert_int_equal(run.procs[c.proc[0]].pid, 12); /* the highest peak first */
	assert_int_equal(run.procs[c.proc[1]].pid, 14);
	assert_int_equal(run.procs[c.proc[2]].pid, 13);
	double col[40];
	tui_chart_columns(&c, 0, 0, 100, 40, col);
	int spikes = 0;
	for (int i = 0; i < 40; i++) {
		assert_false(isnan(col[i]));
		if (col[i] > 15000)
			spikes++;
		else
			assert_near(col[i], 15000);
	}
	assert_int_equal(spikes, 1);
	assert_near(col[20], 15000 - 3000 + 50000); /* t = 50 is in column 20 */
	tui_chart_columns(&c, 1, 0, 100, 40, col);
	assert_near(col[20], 50000);
	assert_near(col[0], 3000);

	/* A 10 s window of 200 columns (0.05 s a column, samples every 0.1 s): the columns
	 * between samples carry the line; before the window, the value entering it. */
	assert_int_equal(tui_chart_update(&c, &run, 55, 10, 200), 0);
	double w[200];
	tui_chart_columns(&c, 0, 45, 55, 200, w);
	for (int i = 0; i < 200; i++)
		assert_near(w[i], (i >= 100 && i < 102) ? 62000 : 15000);
	tui_chart_release(&c);
	run_release(&run);
}

/* Frame by frame, the bins come out as if built at once, with no rebuild. */
static void test_chart_incremental(void **state)
{
	(void)state;
	struct run run;
	load_five(&run);
	struct tui_chart inc, once;
	tui_chart_init(&inc);
	assert_int_equal(tui_chart_update(&inc, &run, 20, 10, 100), 0);
	unsigned long rebuilds = inc.rebuilds;
	size_t read = inc.next;
	double a[100], b[100];
	for (double now = 20.05; now < 100; now += 0.73) {
		assert_int_equal(tui_chart_update(&inc, &run, now, 10, 100), 0);
		assert_true(inc.next >= read);
		read = inc.next;
		assert_true(inc.n <= 102); /* bins beyond the window were dropped */
		tui_chart_init(&once);
		assert_int_equal(tui_chart_update(&once, &run, now, 10, 100), 0);
		for (int s = 0; s < inc.ns; s++) {
			tui_chart_columns(&inc, s, now - 10, now, 100, a);
			tui_chart_columns(&once, s, now - 10, now, 100, b);
			for (int i = 0; i < 100; i++)
				assert_near(a[i], b[i]);
		}
		tui_chart_release(&once);
	}
	assert_int_equal(inc.rebuilds, rebuilds);
	/* A change of window rebuilds; so does a model that started over. */
	assert_int_equal(tui_chart_update(&inc, &run, 100, 60, 100), 0);
	assert_int_equal(inc.rebuilds, rebuilds + 1);
	size_t n = run.n_samples;
	run.n_samples = 10;
	assert_int_equal(tui_chart_update(&inc, &run, 100, 60, 100), 0);
	assert_int_equal(inc.rebuilds, rebuilds + 2);
	run.n_samples = n;
	tui_chart_release(&inc);
	run_release(&run);
}

/* The summary's memory: the job's with its method (format 2), the tree's RSS as it was. */
static void test_memory_text(void **state)
{
	(void)state;
	struct strbuf sb = STRBUF_INIT;
	tui_memory_text(true, MEM_CGROUP, 515000, 523264, 3.2, &sb);
	assert_string_equal(sb.buf, "memory 502.9 MiB  peak 511.0 MiB at 3.2 s (cgroup)");
	strbuf_reset(&sb);
	tui_memory_text(true, MEM_PSS, -1, -1, 0, &sb);
	assert_string_equal(sb.buf, "memory ?  peak ? (PSS sum)");
	strbuf_reset(&sb);
	tui_memory_text(false, MEM_RSS, 1024, 2048, 1.0, &sb);
	assert_string_equal(sb.buf, "RSS 1.0 MiB  peak 2.0 MiB at 1.0 s");
	strbuf_release(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_braille),	    cmocka_unit_test(test_windows),
		cmocka_unit_test(test_nice_max),    cmocka_unit_test(test_chart_columns),
		cmocka_unit_test(test_axis_label),  cmocka_unit_test(test_chart_incremental),
		cmocka_unit_test(test_memory_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
