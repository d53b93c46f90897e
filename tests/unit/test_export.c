/*
 * test_export: the exports of lib/render/export.c on the fixture logs under $MEMLINE_FIXTURES/logs:
 * the CSV read back with an RFC 4180 reader (row count, columns, a hostile command line), the
 * Chrome trace JSON parsed back with jansson (counts of each kind of event, hostile labels),
 * the gnuplot data and script (rows, columns that are the plots' series, nothing gnuplot would
 * expand), the chunked output giving the same text as the buffered one, and a format 2 log's
 * job's memory in each (the CSV's job columns, the trace's job tracks, gnuplot's first line);
 * the stacks (--stacks) as folded lines and as the trace's instants.
 */
#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "render/export.h"
#include "model/run.h"
#include "model/series.h"

static void load(struct run *run, const char *name)
{
	const char *dir = getenv("MEMLINE_FIXTURES");
	struct strbuf path = STRBUF_INIT, err = STRBUF_INIT;
	strbuf_addf(&path, "%s/logs/%s", dir ? dir : "tests/fixtures", name);
	if (run_load(run, path.buf, NULL, NULL, &err))
		fail_msg("run_load(%s): %s", path.buf, err.buf);
	strbuf_release(&err);
	strbuf_release(&path);
}

/* The whole text of an export, without a flush function. */
static char *render(const struct run *run, void (*fn)(const struct run *, struct export_out *))
{
	struct export_out out;
	export_out_init(&out, NULL, NULL);
	fn(run, &out);
	assert_int_equal(export_out_finish(&out), 0);
	char *s = strbuf_detach(&out.buf, NULL);
	export_out_release(&out);
	return s ? s : strdup("");
}

static void gp_dat(const struct run *run, struct export_out *out)
{
	export_gnuplot_dat(run, EXPORT_GNUPLOT_TOP, out);
}

static void gp_plt(const struct run *run, struct export_out *out)
{
	export_gnuplot_plt(run, EXPORT_GNUPLOT_TOP, out);
}

/* ---- a small RFC 4180 reader ---- */

struct csv {
	char ***rows; /* rows of NULL-terminated fields */
	size_t *n_fields;
	size_t n_rows;
};

static void csv_parse(const char *s, struct csv *c)
{
	memset(c, 0, sizeof(*c));
	while (*s) {
		c->rows = realloc(c->rows, (c->n_rows + 1) * sizeof(*c->rows));
		c->n_fields = realloc(c->n_fields, (c->n_rows + 1) * sizeof(*c->n_fields));
		char **fields = NULL;
		size_t n = 0;
		for (;;) {
			struct strbuf f = STRBUF_INIT;
			if (*s == '"') {
				s++;
				for (;;) {
					assert_true(*s); /* a quoted field must be closed */
					if (*s == '"' && s[1] == '"') {
						strbuf_addch(&f, '"');
						s += 2;
					} else if (*s == '"') {
						s++;
						break;
					} else {
						strbuf_addch(&f, *s++);
					}
				}
			} else {
				while (*s && *s != ',' && *s != '\n') {
					assert_true(*s != '"' && *s != '\r');
					strbuf_addch(&f, *s++);
				}
			}
			fields = realloc(fields, (n + 2) * sizeof(*fields));
			fields[n++] = f.buf ? strbuf_detach(&f, NULL) : strdup("");
			fields[n] = NULL;
			if (*s == ',') {
				s++;
				continue;
			}
			assert_true(*s == '\n'); /* every row ends in a newline */
			s++;
			break;
		}
		c->rows[c->n_rows] = fields;
		c->n_fields[c->n_rows++] = n;
	}
}

static void csv_free(struct csv *c)
{
	for (size_t i = 0; i < c->n_rows; i++) {
		for (size_t j = 0; j < c->n_fields[i]; j++)
			free(c->rows[i][j]);
		free(c->rows[i]);
	}
	free(c->rows);
	free(c->n_fields);
}

static size_t column(const struct csv *c, const char *name)
{
	for (size_t j = 0; j < c->n_fields[0]; j++)
		if (!strcmp(c->rows[0][j], name))
			return j;
	fail_msg("expected a column '%s' in the CSV header", name);
	return 0;
}

/* ---- CSV ---- */

static void test_csv_complete(void **state)
{
	(void)state;
	struct run run;
	load(&run, "complete.jsonl");
	char *text = render(&run, export_csv);
	struct csv c;
	csv_parse(text, &c);
	assert_int_equal(c.n_rows, 1 + run.n_proc_samples);
	/* every field but pid (and heap: a log without --heap has no heap column), then state */
	assert_int_equal(c.n_fields[0], 4 + (PROC_NFIELDS - 2) + 1);
	for (size_t i = 0; i < c.n_rows; i++)
		assert_int_equal(c.n_fields[i], c.n_fields[0]);
	assert_string_equal(c.rows[0][0], "t");
	assert_string_equal(c.rows[0][3], "cmd");
	assert_string_equal(c.rows[0][c.n_fields[0] - 1], "state");
	/* the third row: python at 0.030 s, RSS 2000 KiB, state R, pss unknown */
	assert_string_equal(c.rows[3][0], "0.030");
	assert_string_equal(c.rows[3][1], "101");
	assert_string_equal(c.rows[3][2], "100");
	assert_string_equal(c.rows[3][3], "python3 train.py");
	assert_string_equal(c.rows[3][column(&c, "rss")], "2000");
	assert_string_equal(c.rows[3][column(&c, "pss")], "");
	assert_string_equal(c.rows[3][column(&c, "state")], "R");
	assert_string_equal(c.rows[1][3], "sh -c 'python3 train.py; echo done'");
	csv_free(&c);
	free(text);
	run_release(&run);
}

static void test_csv_hostile(void **state)
{
	(void)state;
	struct run run;
	load(&run, "export-hostile.jsonl");
	char *text = render(&run, export_csv);
	struct csv c;
	csv_parse(text, &c);
	assert_int_equal(c.n_rows, 1 + run.n_proc_samples);
	assert_int_equal(run.n_proc_samples, 5);
	size_t cmd = column(&c, "cmd"), rss = column(&c, "rss"), rchar = column(&c, "rchar");
	int found = 0;
	for (size_t i = 1; i < c.n_rows; i++) {
		assert_int_equal(c.n_fields[i], c.n_fields[0]);
		if (strcmp(c.rows[i][1], "501"))
			continue;
		found++;
		assert_string_equal(c.rows[i][cmd],
				    "=evil,cmd 'say \"hi\"' 'line1\nline2\r\nend' ' padded ' "
				    "'`touch /tmp/memline-pwned` $(id) @x'");
		assert_string_equal(c.rows[i][rchar], "");
		assert_string_equal(c.rows[i][rss], found == 1 ? "2000" : "4000");
	}
	assert_int_equal(found, 2);
	csv_free(&c);
	free(text);
	run_release(&run);
}

/* ---- Chrome trace JSON ---- */

static json_t *trace_of(const char *log, struct run *run)
{
	load(run, log);
	char *text = render(run, export_perfetto);
	json_error_t jerr;
	json_t *root = json_loads(text, 0, &jerr);
	if (!root)
		fail_msg("trace of %s is not JSON: %s at line %d: %.200s", log, jerr.text,
			 jerr.line, text);
	free(text);
	assert_true(json_is_array(json_object_get(root, "traceEvents")));
	assert_string_equal(json_string_value(json_object_get(root, "displayTimeUnit")), "ms");
	return root;
}

static size_t count_ph(json_t *root, const char *ph)
{
	size_t n = 0, i;
	json_t *e;
	json_array_foreach(json_object_get(root, "traceEvents"), i, e)
	{
		assert_true(json_is_string(json_object_get(e, "ph")));
		assert_true(json_is_integer(json_object_get(e, "pid")));
		if (strcmp(ph, "M") && !strcmp(json_string_value(json_object_get(e, "ph")), ph))
			assert_true(json_is_integer(json_object_get(e, "ts")));
		n += !strcmp(json_string_value(json_object_get(e, "ph")), ph);
	}
	return n;
}

static void test_perfetto_events(void **state)
{
	(void)state;
	struct run run;
	json_t *root = trace_of("events.jsonl", &run);
	/* one process with 6 samples: 6 counters of its own, 6 of the tree, a 0 at its exit */
	assert_int_equal(run.n_samples, 6);
	assert_int_equal(count_ph(root, "C"), 13);
	assert_int_equal(count_ph(root, "i"), run.n_events);
	assert_int_equal(count_ph(root, "X"), run.n_spans);
	assert_int_equal(run.n_events, 7);
	assert_int_equal(run.n_spans, 6);
	/* thread_name, then process_name and process_sort_index for the tree and pid 300 */
	assert_int_equal(count_ph(root, "M"), 5);

	size_t i;
	json_t *e;
	int plain = 0, train = 0;
	json_array_foreach(json_object_get(root, "traceEvents"), i, e)
	{
		const char *ph = json_string_value(json_object_get(e, "ph"));
		const char *name = json_string_value(json_object_get(e, "name"));
		if (!strcmp(ph, "i") && !strcmp(name, "plain line")) {
			plain++;
			assert_string_equal(json_string_value(json_object_get(e, "s")), "g");
			assert_int_equal(json_integer_value(json_object_get(e, "ts")), 1200000);
		} else if (!strcmp(ph, "i")) {
			assert_string_equal(json_string_value(json_object_get(e, "s")), "p");
			assert_int_equal(json_integer_value(json_object_get(e, "pid")), 300);
		} else if (!strcmp(ph, "X") && !strcmp(name, "train")) {
			train++;
			assert_int_equal(json_integer_value(json_object_get(e, "ts")), 200000);
			assert_int_equal(json_integer_value(json_object_get(e, "dur")), 2000000);
			assert_int_equal(json_integer_value(json_object_get(e, "tid")), 300);
		} else if (!strcmp(ph, "C")) {
			json_t *b = json_object_get(json_object_get(e, "args"), "bytes");
			assert_true(json_is_integer(b));
			assert_true(json_integer_value(b) % 1024 == 0);
		}
	}
	assert_int_equal(plain, 1);
	assert_int_equal(train, 1);
	json_decref(root);
	run_release(&run);
}

static void test_perfetto_complete(void **state)
{
	(void)state;
	struct run run;
	json_t *root = trace_of("complete.jsonl", &run);
	/* 6 process-samples + 4 tree samples + the two processes' exits dropping to 0 */
	assert_int_equal(count_ph(root, "C"), 6 + 4 + 2);
	assert_int_equal(count_ph(root, "i"), 0);
	assert_int_equal(count_ph(root, "X"), 0);
	assert_int_equal(count_ph(root, "M"), 1 + 2 * 3);
	json_decref(root);
	run_release(&run);
}

/*
 * 100,000 processes, each pid held by two of them (the second after the first's exit): every
 * pid gets one process_name with both commands in log order and the sort index of the first.
 * export_perfetto chains the processes of a pid in one pass (it scanned all earlier processes
 * for each one before, quadratic: 16 s for this run); bench/run times 10,000 to a million.
 */
static void test_perfetto_many_processes(void **state)
{
	(void)state;
	enum { N = 100000, PIDS = N / 2 };
	struct strbuf sb = STRBUF_INIT, err = STRBUF_INIT;
	strbuf_addstr(&sb, "{\"type\":\"header\",\"format\":1,\"command\":[\"w\"],"
			   "\"fields\":[\"pid\",\"rss\"],\"tree_fields\":[\"nproc\",\"rss\"]}\n");
	for (int i = 0; i < N; i++)
		strbuf_addf(&sb,
			    "{\"type\":\"proc\",\"t\":%d.0,\"pid\":%d,\"ppid\":1,\"start\":%d.0,"
			    "\"argv\":[\"w\",\"%d\"]}\n{\"type\":\"exit\",\"t\":%d.5,\"pid\":%d,"
			    "\"how\":\"exited\",\"code\":0}\n",
			    i, 1000 + i % PIDS, i, i, i, 1000 + i % PIDS);
	char path[] = "/tmp/memline-test-export-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, sb.buf, sb.len), (ssize_t)sb.len);
	close(fd);
	struct run run;
	assert_int_equal(run_load(&run, path, NULL, NULL, &err), 0);
	unlink(path);
	assert_int_equal(run.n_procs, N);
	char *text = render(&run, export_perfetto);
	json_t *root = json_loads(text, 0, NULL);
	assert_non_null(root);
	free(text);
	int *seen = calloc(PIDS, sizeof(*seen));
	assert_non_null(seen);
	size_t i, names = 0;
	json_t *e;
	struct strbuf want = STRBUF_INIT;
	json_array_foreach(json_object_get(root, "traceEvents"), i, e)
	{
		if (strcmp(json_string_value(json_object_get(e, "ph")), "M"))
			continue;
		const char *what = json_string_value(json_object_get(e, "name"));
		long long pid = json_integer_value(json_object_get(e, "pid"));
		const json_t *args = json_object_get(e, "args");
		if (pid == EXPORT_TREE_PID || !strcmp(what, "thread_name"))
			continue;
		assert_true(pid >= 1000 && pid < 1000 + PIDS);
		int k = (int)pid - 1000;
		if (!strcmp(what, "process_name")) {
			names++;
			seen[k]++;
			strbuf_reset(&want);
			strbuf_addf(&want, "w %d | w %d", k, k + PIDS);
			assert_string_equal(json_string_value(json_object_get(args, "name")),
					    want.buf);
		} else {
			assert_string_equal(what, "process_sort_index");
			assert_int_equal(json_integer_value(json_object_get(args, "sort_index")),
					 k + 1);
		}
	}
	assert_int_equal(names, PIDS);
	for (int k = 0; k < PIDS; k++)
		assert_int_equal(seen[k], 1);
	free(seen);
	json_decref(root);
	run_release(&run);
	strbuf_release(&want);
	strbuf_release(&sb);
	strbuf_release(&err);
}

static void test_perfetto_hostile(void **state)
{
	(void)state;
	struct run run;
	json_t *root = trace_of("export-hostile.jsonl", &run);
	assert_int_equal(count_ph(root, "i"), 2);
	assert_int_equal(count_ph(root, "X"), 1);
	size_t i;
	json_t *e;
	int label = 0, span = 0, name = 0;
	json_array_foreach(json_object_get(root, "traceEvents"), i, e)
	{
		const char *ph = json_string_value(json_object_get(e, "ph"));
		const char *n = json_string_value(json_object_get(e, "name"));
		if (!strcmp(ph, "i") && strstr(n, "quote"))
			label += !strcmp(n, run.events[0].label);
		if (!strcmp(ph, "X"))
			span += !strcmp(n, "span ' `id`\n,\"");
		if (!strcmp(ph, "M") && !strcmp(n, "process_name") &&
		    json_integer_value(json_object_get(e, "pid")) == 501)
			name += strstr(json_string_value(
					       json_object_get(json_object_get(e, "args"), "name")),
				       "'line1\nline2\r\nend'") != NULL;
	}
	assert_int_equal(label, 1);
	assert_int_equal(span, 1);
	assert_int_equal(name, 1);
	json_decref(root);
	run_release(&run);
}

/* ---- gnuplot ---- */

static size_t data_lines(const char *s, size_t *fields)
{
	size_t n = 0;
	*fields = 0;
	for (const char *line = s; *line;) {
		const char *end = strchr(line, '\n');
		assert_non_null(end);
		if (*line != '#') {
			size_t f = 0;
			for (const char *p = line; p < end;) {
				while (p < end && *p == ' ')
					p++;
				if (p < end)
					f++;
				while (p < end && *p != ' ')
					p++;
			}
			if (n)
				assert_int_equal(f, *fields);
			*fields = f;
			n++;
		}
		line = end + 1;
	}
	return n;
}

static void test_gnuplot_dat(void **state)
{
	(void)state;
	struct run run;
	load(&run, "complete.jsonl");
	char *dat = render(&run, gp_dat);
	size_t fields;
	assert_int_equal(data_lines(dat, &fields), run.n_samples);
	assert_int_equal(fields, 2 + 2); /* time, tree, python, sh */
	/* python (the larger peak) has the first process column; it is gone at 1.010 s */
	assert_non_null(strstr(dat, "# 3 pid 101 python3 train.py\n"));
	assert_non_null(strstr(dat, "\n0.500 51000 50000 1000\n"));
	assert_non_null(strstr(dat, "\n1.010 1000 NaN 1000\n"));
	free(dat);

	/* with one column, the other process is summed as "other" */
	struct export_out out;
	export_out_init(&out, NULL, NULL);
	export_gnuplot_dat(&run, 1, &out);
	assert_int_equal(export_out_finish(&out), 0);
	assert_non_null(strstr(out.buf.buf, "# 4 other processes, summed\n"));
	assert_non_null(strstr(out.buf.buf, "\n1.010 1000 NaN 1000\n"));
	export_out_release(&out);
	run_release(&run);

	/* the columns are the plots' series (series.h): the same processes in the same order */
	for (int top = 0; top <= 2; top++) {
		load(&run, "complete.jsonl");
		export_out_init(&out, NULL, NULL);
		export_gnuplot_dat(&run, top, &out);
		assert_int_equal(export_out_finish(&out), 0);
		struct series_set set;
		assert_int_equal(series_set_build(&set, &run, SERIES_RSS, top), 0);
		assert_int_equal(data_lines(out.buf.buf, &fields), set.s[0].n);
		assert_int_equal(fields, 1 + set.n);
		for (size_t k = 1; k < set.n; k++) {
			char want[64];
			if (set.s[k].kind == SERIES_OTHER)
				snprintf(want, sizeof(want), "# %zu other processes", k + 2);
			else
				snprintf(want, sizeof(want), "# %zu pid %d ", k + 2,
					 (int)run.procs[set.s[k].proc].pid);
			assert_non_null(strstr(out.buf.buf, want));
		}
		series_set_release(&set);
		export_out_release(&out);
		run_release(&run);
	}
}

static void test_gnuplot_plt(void **state)
{
	(void)state;
	struct run run;
	load(&run, "export-hostile.jsonl");
	char *plt = render(&run, gp_plt);
	assert_non_null(strstr(plt, "set terminal pngcairo"));
	assert_non_null(strstr(plt, "set output dir.'memline.png'"));
	assert_non_null(strstr(plt, "plot dir.'memline.dat'"));
	/* nothing gnuplot would run or that breaks a line: no backquote, no control character */
	assert_null(strchr(plt, '`'));
	for (const char *p = plt; *p; p++)
		assert_true((unsigned char)*p >= 0x20 || *p == '\n');
	/* each line of text from the log is one double-quoted, escaped string */
	assert_non_null(strstr(plt, "set label 1 \"span ' 'id'?,\\\"\" at 0.16/tu"));
	/* the "plain" event, the span, the peak and the ending each have a label */
	assert_non_null(strstr(plt, "\"plain\" at 0.26/tu"));
	assert_non_null(strstr(plt, "\"completed: exit code 0\""));
	assert_non_null(strstr(plt, "title \"pid 501 =evil,cmd 'say \\\"hi\\\"'"));
	free(plt);
	run_release(&run);

	load(&run, "events.jsonl");
	plt = render(&run, gp_plt);
	size_t arrows = 0;
	for (const char *p = plt; (p = strstr(p, "\nset arrow ")); p++)
		arrows++;
	assert_int_equal(arrows, run.n_events);
	size_t bands = 0;
	for (const char *p = plt; (p = strstr(p, " rectangle from ")); p++)
		bands++;
	assert_int_equal(bands, run.n_spans);
	free(plt);
	run_release(&run);
}

/* ---- chunked output ---- */

static int collect(void *data, const char *buf, size_t len)
{
	struct strbuf *sb = data;
	assert_true(len > 0);
	strbuf_add(sb, buf, len);
	return 0;
}

static int refuse(void *data, const char *buf, size_t len)
{
	(void)data;
	(void)buf;
	(void)len;
	errno = ENOSPC;
	return -1;
}

static void test_chunks(void **state)
{
	(void)state;
	struct run run;
	load(&run, "events.jsonl");
	/* many copies of the samples, so the CSV is larger than one chunk */
	size_t n = run.n_samples;
	for (int k = 0; k < 2000; k++) {
		for (size_t i = 0; i < n; i++) {
			if (run.n_samples == run.alloc_samples) {
				run.alloc_samples *= 2;
				run.samples = realloc(run.samples,
						      run.alloc_samples * sizeof(*run.samples));
			}
			run.samples[run.n_samples++] = run.samples[i];
		}
	}
	char *whole = render(&run, export_csv);
	assert_true(strlen(whole) > 3 * 64 * 1024);
	struct strbuf got = STRBUF_INIT;
	struct export_out out;
	export_out_init(&out, collect, &got);
	export_csv(&run, &out);
	assert_true(got.len > 0); /* handed over before the end */
	assert_int_equal(export_out_finish(&out), 0);
	assert_int_equal(got.len, strlen(whole));
	assert_memory_equal(got.buf, whole, got.len);
	export_out_release(&out);

	export_out_init(&out, refuse, NULL);
	export_csv(&run, &out);
	assert_int_equal(export_out_finish(&out), -1);
	assert_int_equal(out.error, ENOSPC);
	export_out_release(&out);
	strbuf_release(&got);
	free(whole);
	run_release(&run);
}

/* ---- the job's memory (a format 2 log) ---- */

static void csv_fn(const struct run *run, struct export_out *out)
{
	export_csv(run, out);
}

static void perfetto_fn(const struct run *run, struct export_out *out)
{
	export_perfetto(run, out);
}

/* A cgroup log: the CSV's job columns, the trace's job tracks, gnuplot's leading line. */
static void test_job_exports(void **state)
{
	(void)state;
	struct run run;
	load(&run, "cgroup.jsonl");
	char *csv = render(&run, csv_fn);
	const char *nl = strchr(csv, '\n');
	assert_non_null(nl);
	assert_true(nl - csv > 25 && !memcmp(nl - 25, ",vm_of,job,job_peak,state", 25));
	/* the sample at 2.000: the cgroup's 522000 KiB and its 522500 peak, on each of its rows */
	size_t rows = 0;
	for (const char *l = strstr(csv, "\n2.000,"); l; l = strstr(l + 1, "\n2.000,")) {
		const char *end = strchr(l + 1, '\n');
		assert_non_null(end);
		assert_true(end - l > 17 && !memcmp(end - 16, ",522000,522500,S", 16));
		rows++;
	}
	assert_int_equal(rows, 5);
	free(csv);

	char *trace = render(&run, perfetto_fn);
	json_error_t jerr;
	json_t *o = json_loads(trace, 0, &jerr);
	assert_non_null(o);
	json_t *evs = json_object_get(o, "traceEvents");
	size_t jobs = 0, peaks = 0;
	long long top = 0;
	bool named = false;
	for (size_t i = 0; i < json_array_size(evs); i++) {
		json_t *e = json_array_get(evs, i);
		const char *ph = json_string_value(json_object_get(e, "ph"));
		const char *name = json_string_value(json_object_get(e, "name"));
		long long pid = json_integer_value(json_object_get(e, "pid"));
		json_t *args = json_object_get(e, "args");
		if (!strcmp(ph, "M") && !strcmp(name, "process_name") && pid == EXPORT_TREE_PID)
			named = strstr(json_string_value(json_object_get(args, "name")),
				       "; job: cgroup") != NULL;
		if (strcmp(ph, "C") || pid != EXPORT_TREE_PID)
			continue;
		long long b = json_integer_value(json_object_get(args, "bytes"));
		if (!strcmp(name, "job")) {
			jobs++;
		} else if (!strcmp(name, "job_peak")) {
			peaks++;
			top = b > top ? b : top;
		}
	}
	assert_true(named);
	assert_int_equal(jobs, run.n_samples);
	assert_int_equal(peaks, run.n_samples);
	assert_int_equal(top, 523264LL * 1024);
	json_decref(o);
	free(trace);

	char *dat = render(&run, gp_dat), *plt = render(&run, gp_plt);
	assert_non_null(strstr(dat, "\n# 2 the job's memory (the job's cgroup"));
	assert_non_null(strstr(dat, "\n# 3 RSS sum"));
	assert_non_null(strstr(dat, "\n2.000 522000 2560000 512000"));
	assert_non_null(strstr(plt, "title 'the job''s memory: cgroup'"));
	assert_non_null(strstr(plt, "($3/1024) with lines linewidth 1.5 linecolor rgb '#999999' "
				    "title 'RSS sum'"));
	assert_non_null(strstr(plt, "\"peak 511.0 MiB at 3.2 s\""));
	assert_non_null(strstr(plt, "set ylabel 'memory (MiB)'"));
	free(dat);
	free(plt);
	run_release(&run);
}

/* Folded stacks: outermost first, counted, sorted, separators and control bytes replaced. */
static void test_folded(void **state)
{
	(void)state;
	struct run run;
	load(&run, "stacks.jsonl");
	char *text = render(&run, export_folded);
	const char *want =
		"<module> (train.py:120);libfoo.so.1+0x11e00 4\n"
		"<module> (train.py:120);load_batch (train.py:88);_PyEval_EvalFrameDefault "
		"(python3.11);evil?]0:pwned? (b>.so) 1\n"
		"<module> (train.py:120);load_batch (train.py:88);libfoo.so.1+0x11e00;grow "
		"(solver.c:41) 2\n";
	assert_string_equal(text, want);
	free(text);
	run_release(&run);
	/* A log without stacks folds to nothing. */
	load(&run, "complete.jsonl");
	text = render(&run, export_folded);
	assert_string_equal(text, "");
	free(text);
	run_release(&run);
}

/* Two distinct stacks whose frames have the same names make one folded line. */
static void test_folded_merges_names(void **state)
{
	(void)state;
	struct run run;
	run_init(&run);
	struct frame_info a = {FRAME_NATIVE, "f", "/lib/x.so", 16, 4, NULL, 0};
	struct frame_info b = a;
	b.off = 20; /* another pc in f: another frame, the same name */
	b.fn_off = 8;
	struct stack_record s = {.t = 1,
				 .capture = 1,
				 .why = STACK_EVERY,
				 .pid = 5,
				 .tid = 5,
				 .frames = &a,
				 .n_frames = 1,
				 .stall_us = -1};
	assert_int_equal(run_stacks_add(&run.stacks, &s), 0);
	s.capture = 2;
	s.frames = &b;
	assert_int_equal(run_stacks_add(&run.stacks, &s), 0);
	assert_int_equal(run.stacks.n_groups, 2);
	char *text = render(&run, export_folded);
	assert_string_equal(text, "f (x.so) 2\n");
	free(text);
	run_release(&run);
}

/* Each thread of each capture is an instant on its thread's track, its frames in args. */
static void test_perfetto_stacks(void **state)
{
	(void)state;
	struct run run;
	load(&run, "stacks.jsonl");
	char *text = render(&run, export_perfetto);
	json_error_t jerr;
	json_t *o = json_loads(text, JSON_ALLOW_NUL, &jerr); /* a label holds a NUL */
	if (!o)
		fail_msg("not JSON: %s", jerr.text);
	size_t i, n = 0;
	json_t *ev;
	json_array_foreach(json_object_get(o, "traceEvents"), i, ev)
	{
		const char *cat = json_string_value(json_object_get(ev, "cat"));
		if (!cat || strcmp(cat, "stack"))
			continue;
		n++;
		assert_string_equal(json_string_value(json_object_get(ev, "ph")), "i");
		assert_string_equal(json_string_value(json_object_get(ev, "s")), "t");
		json_t *args = json_object_get(ev, "args");
		json_int_t tid = json_integer_value(json_object_get(ev, "tid"));
		json_int_t capture = json_integer_value(json_object_get(args, "capture"));
		json_t *frames = json_object_get(args, "frames");
		if (capture == 3 && tid == 300) {
			assert_int_equal(json_integer_value(json_object_get(ev, "ts")), 2000000);
			assert_int_equal(json_array_size(frames), 4);
			assert_string_equal(json_string_value(json_array_get(frames, 0)),
					    "grow (solver.c:41)");
		}
		if (capture == 2 && tid == 300)
			assert_string_equal(json_string_value(json_array_get(frames, 0)),
					    "evil\x1b]0;pwned\x07 (b>.so)");
		if (capture == 4)
			assert_string_equal(json_string_value(json_object_get(args, "error")),
					    "the process exited during the capture");
	}
	assert_int_equal(n, 8); /* 2 + 2 + 3 + 1 threads */
	json_decref(o);
	free(text);
	run_release(&run);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csv_complete),
		cmocka_unit_test(test_csv_hostile),
		cmocka_unit_test(test_perfetto_events),
		cmocka_unit_test(test_perfetto_complete),
		cmocka_unit_test(test_perfetto_hostile),
		cmocka_unit_test(test_gnuplot_dat),
		cmocka_unit_test(test_perfetto_many_processes),
		cmocka_unit_test(test_gnuplot_plt),
		cmocka_unit_test(test_chunks),
		cmocka_unit_test(test_job_exports),
		cmocka_unit_test(test_folded),
		cmocka_unit_test(test_folded_merges_names),
		cmocka_unit_test(test_perfetto_stacks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
