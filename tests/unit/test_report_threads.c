/*
 * test_report_threads: the renderers of a run's threads on $MEMLINE_FIXTURES/logs/threads.jsonl
 * (a --heap log: process 200's threads server, loader and a hostile "worker\u202e1", the loader
 * peaking at 42 MiB at 2.0 s; a static child 201 whose heap was not counted; a one-thread
 * child 202): report --threads (exact rows, the name escaped, the why, 202 as its main thread,
 * the timeline's percentages, 100 columns), the JSON report's threads and heap parsed back
 * with jansson (and an older log's report without them), export --csv --threads read back,
 * and /metrics' thread metrics of the log cut while the job runs (labels escaped as
 * Prometheus wants, ended threads and exited processes left out). Variants of the fixture
 * (a name with a quote, a backslash, a comma and a newline; the log cut after a sample) are
 * written to temporary files.
 */
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
#include "render/http.h"
#include "render/report.h"
#include "model/run.h"

/* The fixture's text. */
static char *fixture_text(const char *name)
{
	const char *dir = getenv("MEMLINE_FIXTURES");
	struct strbuf path = STRBUF_INIT, text = STRBUF_INIT;
	strbuf_addf(&path, "%s/logs/%s", dir ? dir : "tests/fixtures", name);
	FILE *f = fopen(path.buf, "r");
	if (!f)
		fail_msg("cannot open %s", path.buf);
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		strbuf_add(&text, buf, n);
	fclose(f);
	strbuf_release(&path);
	return strbuf_detach(&text, NULL);
}

/*
 * Loads the fixture name into run: as it is, or with every from replaced by to (from NULL:
 * none), cut after the first line that holds cut (NULL: whole).
 */
static void load_variant(struct run *run, const char *name, const char *from, const char *to,
			 const char *cut)
{
	char *text = fixture_text(name);
	struct strbuf body = STRBUF_INIT;
	for (const char *p = text; *p;) {
		const char *hit = from ? strstr(p, from) : NULL;
		if (!hit) {
			strbuf_addstr(&body, p);
			break;
		}
		strbuf_add(&body, p, (size_t)(hit - p));
		strbuf_addstr(&body, to);
		p = hit + strlen(from);
	}
	if (cut) {
		char *at = strstr(body.buf, cut);
		assert_non_null(at);
		char *nl = strchr(at, '\n');
		assert_non_null(nl);
		body.len = (size_t)(nl + 1 - body.buf);
		body.buf[body.len] = '\0';
	}
	char path[] = "/tmp/memline-test-threads-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, body.buf, body.len), (ssize_t)body.len);
	assert_int_equal(close(fd), 0);
	struct strbuf err = STRBUF_INIT;
	if (run_load(run, path, NULL, NULL, &err))
		fail_msg("run_load(%s variant): %s", name, err.buf);
	unlink(path);
	strbuf_release(&err);
	strbuf_release(&body);
	free(text);
}

static void load(struct run *run, const char *name)
{
	load_variant(run, name, NULL, NULL, NULL);
}

/* Fails unless text has the line line (whole, without its newline). */
static void assert_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, line, n) && (p[n] == '\n' || !p[n]))
			return;
	fail_msg("expected the line\n%s\nin\n%s", line, text);
}

/* Fails unless text has a line that starts with prefix. */
static void assert_line_starts(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, prefix, n))
			return;
	fail_msg("expected a line starting\n%s\nin\n%s", prefix, text);
}

/* The text's widest line, in UTF-8 characters. */
static size_t widest(const char *text)
{
	size_t most = 0, cols = 0;
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		if (*p == '\n') {
			cols = 0;
			continue;
		}
		cols += (*p & 0xc0) != 0x80;
		if (cols > most)
			most = cols;
	}
	return most;
}

/* ---- report --threads ---- */

static char *threads_text(const struct run *run)
{
	struct strbuf out = STRBUF_INIT;
	report_threads_text(run, &out);
	assert_false(out.oom);
	return strbuf_detach(&out, NULL);
}

static void test_text(void **state)
{
	(void)state;
	struct run run;
	load(&run, "threads.jsonl");
	char *t = threads_text(&run);
	assert_line(t, "threads   5 threads in 3 processes");
	assert_line(t, "pid 200 (./server --threads 3): 3 threads");
	assert_line(t, "heap      counted (libc.so.6); peak 50.0 MiB at 2.500 s");
	/* the loader first (the biggest peak): 42 MiB at 2.000 s, 30 MiB live at the end, 2 MiB
	 * of it mmap, 610 ms of CPU, to its process's end */
	assert_line(t, "    210  loader              42.0 MiB    2.000 s     30.0 MiB     2.0 MiB  "
		       "   610 ms    3.600 s");
	/* the worker's name escaped (no raw U+202E reaches the terminal); it ended at 2.8 s, its
	 * blocks freed by another thread since */
	assert_line(t,
		    "    211  worker\\u202e1        8.0 MiB    2.500 s          0 B         0 B  "
		    "    1.8 s    2.800 s");
	assert_null(strstr(t, "\xe2\x80\xae"));
	assert_line(t, "    200  server               2.0 MiB    1.000 s      2.0 MiB         0 B  "
		       "    18 ms    3.600 s");
	assert_line(t, "    210  loader              40.0 MiB         6000    10.0 MiB          "
		       "100    0.002 s");
	/* the order: loader, worker, server */
	assert_true(strstr(t, "    210  loader") < strstr(t, "    211  worker"));
	assert_true(strstr(t, "    211  worker") < strstr(t, "    200  server"));
	/* the timeline: % of the process's 50 MiB peak; at 2.0 s the loader's 40 MiB is 80% */
	assert_line(t, "timeline: the top threads' live heap, % of the process's peak (50.0 MiB)");
	assert_line(t, "  █ 210 loader  ▓ 211 worker\\u202e1  ▒ 200 server");
	assert_line_starts(t, "  2.000 s      80%      10%       4%      94%  ████");
	assert_line_starts(t, "  2.500 s      80%      16%       4%     100%  ████");
	assert_line(t, "  0.010 s       0%       0%       2%       2%  ▒");
	/* the static child: why its heap was not counted; one thread all its life */
	assert_line(t, "pid 201 (/usr/local/bin/static-tool): one thread all its life");
	assert_line(t, "heap      not counted: a static binary: LD_PRELOAD cannot load the heap "
		       "library into it");
	assert_line(t, "    201  static-tool           21 ms      20 ms       1 ms    0.900 s    "
		       "2.700 s");
	/* the one-thread child: its main thread, tid = pid, name = comm, the process's CPU */
	assert_line(t, "pid 202 (sh -c true): one thread all its life");
	assert_line(t, "heap      unknown: the log has no heap record of it");
	assert_line(t, "    202  sh                     2 ms       1 ms       1 ms    0.900 s    "
		       "1.200 s");
	assert_true(widest(t) <= 100);
	free(t);

	/* the text report's line */
	struct strbuf out = STRBUF_INIT;
	report_text(&run, &out);
	assert_line(out.buf, "threads   5 threads in 3 processes (memline report --threads shows "
			     "them)");
	strbuf_release(&out);
	run_release(&run);
}

/* A format 3 log recorded without --heap: the fixture's header without its "heap", and body. */
static void load_no_heap(struct run *run, const char *body)
{
	char *text = fixture_text("threads.jsonl");
	char *nl = strchr(text, '\n');
	assert_non_null(nl);
	nl[1] = '\0';
	char *heap = strstr(text, "\"heap\":{\"mode\":\"malloc\"},");
	assert_non_null(heap);
	memmove(heap, heap + 25, strlen(heap + 25) + 1);
	struct strbuf log = STRBUF_INIT;
	strbuf_addstr(&log, text);
	strbuf_addstr(&log, body);
	char path[] = "/tmp/memline-test-threads-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, log.buf, log.len), (ssize_t)log.len);
	assert_int_equal(close(fd), 0);
	struct strbuf err = STRBUF_INIT;
	if (run_load(run, path, NULL, NULL, &err))
		fail_msg("run_load: %s", err.buf);
	unlink(path);
	strbuf_release(&err);
	strbuf_release(&log);
	free(text);
}

/*
 * Process 300: a spinning thread, the main thread and an idle one; CPU only (no heap), read
 * once a second.
 */
static const char no_heap_body[] =
	"{\"type\":\"proc\",\"t\":0.002,\"pid\":300,\"ppid\":1,\"start\":0.0,\"comm\":"
	"\"python3\",\"argv\":[\"python3\",\"spin.py\"]}\n"
	"{\"type\":\"thread\",\"t\":0.5,\"pid\":300,\"tid\":300,\"name\":\"python3\"}\n"
	"{\"type\":\"thread\",\"t\":0.5,\"pid\":300,\"tid\":301,\"name\":\"spinner\"}\n"
	"{\"type\":\"thread\",\"t\":0.5,\"pid\":300,\"tid\":302,\"name\":\"idle\"}\n"
	"{\"type\":\"sample\",\"t\":1.0,\"avail\":1,\"tree\":[1,4000,0,0,0,4000,0,0,null,"
	"955,16,4000,4000,null,null,null,null,null,null,null],"
	"\"p\":[[300,4000,3500,500,0,4000,14000,0,null,955,16,100,0,3,0,0,0,0,null,null,\"R\"]],"
	"\"th\":[[300,300,50,10,null,null,null,null,null,null,null],[300,301,900,5,null,null,null,"
	"null,null,null,null],[300,302,0,1,null,null,null,null,null,null,null]]}\n"
	"{\"type\":\"sample\",\"t\":2.0,\"avail\":1,\"tree\":[1,4000,0,0,0,4000,0,0,null,"
	"1860,21,4000,4000,null,null,null,null,null,null,null],"
	"\"p\":[[300,4000,3500,500,0,4000,14000,0,null,1860,21,100,0,3,0,0,0,0,null,null,\"R\"]],"
	"\"th\":[[300,301,1800,10,null,null,null,null,null,null,null]]}\n"
	/* a sample between two reads of the threads' CPU: no row, not a moment of the timeline */
	"{\"type\":\"sample\",\"t\":2.5,\"avail\":1,\"tree\":[1,4000,0,0,0,4000,0,0,null,"
	"1860,21,4000,4000,null,null,null,null,null,null,null],"
	"\"p\":[[300,4000,3500,500,0,4000,14000,0,null,1860,21,100,0,3,0,0,0,0,null,null,\"R\"]]}\n"
	"{\"type\":\"sample\",\"t\":3.0,\"avail\":1,\"tree\":[1,4000,0,0,0,4000,0,0,null,"
	"2770,26,4000,4000,null,null,null,null,null,null,null],"
	"\"p\":[[300,4000,3500,500,0,4000,14000,0,null,2770,26,100,0,3,0,0,0,0,null,null,\"R\"]],"
	"\"th\":[[300,300,60,10,null,null,null,null,null,null,null],[300,301,2700,15,null,null,"
	"null,null,null,null,null]]}\n"
	"{\"type\":\"exit\",\"t\":3.1,\"pid\":300,\"how\":\"exited\",\"code\":0,"
	"\"signal\":null,\"core\":false,\"oom\":false,\"peak\":4000,\"utime\":2770,"
	"\"stime\":26,\"source\":\"wait4\"}\n";

/* Without heap numbers: each thread's CPU, user and system, and a timeline of CPU use. */
static void test_text_cpu(void **state)
{
	(void)state;
	struct run run;
	load_no_heap(&run, no_heap_body);
	char *t = threads_text(&run);
	assert_null(strstr(t, "heap "));
	assert_line(t, "pid 300 (python3 spin.py): 3 threads");
	assert_line(t, "    TID  THREAD                  CPU       USER     SYSTEM       SEEN      "
		       "ENDED");
	/* by CPU: the spinner first */
	assert_line(t, "    301  spinner               2.7 s      2.7 s      15 ms    0.500 s    "
		       "3.100 s");
	assert_line(t, "    300  python3               70 ms      60 ms      10 ms    0.500 s    "
		       "3.100 s");
	assert_line(t, "    302  idle                   1 ms       0 ms       1 ms    0.500 s    "
		       "3.100 s");
	assert_true(strstr(t, "    301  spinner") < strstr(t, "    300  python3"));
	assert_line(t, "timeline: the top threads' CPU use since the time before, % of one CPU (a "
		       "full bar: 100%)");
	assert_line(t, "  █ 301 spinner  ▓ 300 python3  ▒ 302 idle");
	/* 905 ms of the spinner's in each second: 90% of one CPU, 45 columns of 50 */
	assert_line_starts(t, "  2.000 s      90%       0%       0%      90%  █████████████");
	assert_line_starts(t, "  3.000 s      90%       1%       0%      91%  ████");
	assert_null(strstr(t, "  2.500 s"));
	assert_true(widest(t) <= 100);
	free(t);
	run_release(&run);
}

/* A why too long for a line is broken at a space, escaped, and the lines fit in 100 columns. */
static void test_text_long_why(void **state)
{
	(void)state;
	struct run run;
	load_variant(&run, "threads.jsonl", "into it\"}",
		     "into it, nor any other library: the program was linked without a dynamic "
		     "loader\\nat all\"}",
		     NULL);
	char *t = threads_text(&run);
	assert_line(t, "heap      not counted: a static binary: LD_PRELOAD cannot load the heap "
		       "library into it, nor any");
	assert_line(t, "          other library: the program was linked without a dynamic "
		       "loader\\nat all");
	assert_true(widest(t) <= 100);
	free(t);
	run_release(&run);
}

/* A log before format 3 has no threads, and says so. */
static void test_text_old_log(void **state)
{
	(void)state;
	struct run run;
	load(&run, "complete.jsonl");
	char *t = threads_text(&run);
	assert_line(t, "no threads: a log of format 1 (memline records threads from format 3 on)");
	free(t);
	struct strbuf out = STRBUF_INIT;
	report_text(&run, &out);
	assert_null(strstr(out.buf, "\nthreads "));
	strbuf_release(&out);
	run_release(&run);
}

/* ---- the JSON report ---- */

static json_t *report_of(const struct run *run)
{
	struct strbuf out = STRBUF_INIT;
	report_json(run, &out);
	assert_false(out.oom);
	json_error_t e;
	json_t *j = json_loads(out.buf, 0, &e);
	if (!j)
		fail_msg("report --json does not parse: %s at %d: %s", e.text, e.position, out.buf);
	strbuf_release(&out);
	return j;
}

static json_t *process(json_t *report, json_int_t pid)
{
	json_t *procs = json_object_get(report, "processes"), *p;
	size_t i;
	json_array_foreach(procs, i,
			   p) if (json_integer_value(json_object_get(p, "pid")) == pid) return p;
	fail_msg("expected process %lld in the JSON report", (long long)pid);
	return NULL;
}

static json_t *thread_of(json_t *proc, json_int_t tid)
{
	json_t *threads = json_object_get(proc, "threads"), *th;
	assert_true(json_is_array(threads));
	size_t i;
	json_array_foreach(threads, i,
			   th) if (json_integer_value(json_object_get(th, "tid")) == tid) return th;
	fail_msg("expected thread %lld in the JSON report", (long long)tid);
	return NULL;
}

static long long int_of(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_integer(v))
		fail_msg("expected an integer %s", key);
	return (long long)json_integer_value(v);
}

static double real_of(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_number(v))
		fail_msg("expected a number %s", key);
	return json_number_value(v);
}

static void test_json(void **state)
{
	(void)state;
	struct run run;
	load(&run, "threads.jsonl");
	json_t *r = report_of(&run);
	json_t *p = process(r, 200);
	/* the members that were there are still there */
	const char *keys[] = {"pid",	   "ppid",   "cmd",	    "argv",	  "comm",
			      "start",	   "end",    "peak_rss",    "peak_rss_t", "cpu",
			      "exit_code", "signal", "core",	    "oom",	  "alive",
			      "peak_pss",  "seen",   "exit_source", "hwm",	  "maxrss"};
	for (size_t k = 0; k < sizeof(keys) / sizeof(*keys); k++)
		if (!json_object_get(p, keys[k]))
			fail_msg("expected the process member %s", keys[k]);
	assert_int_equal(json_array_size(json_object_get(p, "threads")), 3);
	/* biggest heap peak first */
	assert_int_equal(int_of(json_array_get(json_object_get(p, "threads"), 0), "tid"), 210);
	json_t *loader = thread_of(p, 210);
	assert_string_equal(json_string_value(json_object_get(loader, "name")), "loader");
	assert_int_equal(int_of(loader, "heap_peak"), 42 << 20);
	assert_true(real_of(loader, "heap_peak_t") == 2.0);
	assert_int_equal(int_of(loader, "heap"), 30 << 20);
	assert_int_equal(int_of(loader, "alloc"), 40 << 20);
	assert_int_equal(int_of(loader, "freed"), 10 << 20);
	assert_int_equal(int_of(loader, "nalloc"), 6000);
	assert_int_equal(int_of(loader, "nfree"), 100);
	assert_int_equal(int_of(loader, "mmap"), 2 << 20);
	assert_true(real_of(loader, "utime") == 0.6);
	assert_true(real_of(loader, "stime") == 0.01);
	assert_true(real_of(loader, "first_t") == 0.002);
	assert_true(json_is_null(json_object_get(loader, "end_t")));
	json_t *worker = thread_of(p, 211);
	/* the name as it was recorded: JSON escapes it, a parser gets it back */
	assert_string_equal(json_string_value(json_object_get(worker, "name")), "worker\u202e1");
	assert_true(real_of(worker, "end_t") == 2.8);
	assert_int_equal(int_of(worker, "heap"), 0);
	json_t *heap = json_object_get(p, "heap");
	assert_true(json_is_true(json_object_get(heap, "on")));
	assert_string_equal(json_string_value(json_object_get(heap, "allocator")), "libc.so.6");
	assert_true(json_is_null(json_object_get(heap, "why")));
	assert_int_equal(int_of(heap, "peak"), 50 << 20); /* bytes, as every memory member */
	assert_true(real_of(heap, "peak_t") == 2.5);

	/* the static child: not counted, and why */
	heap = json_object_get(process(r, 201), "heap");
	assert_true(json_is_false(json_object_get(heap, "on")));
	assert_string_equal(json_string_value(json_object_get(heap, "why")),
			    "a static binary: LD_PRELOAD cannot load the heap library into it");
	assert_true(json_is_null(json_object_get(heap, "peak")));
	/* the one-thread child: its main thread alone, heap unknown, the process's CPU */
	json_t *sh = process(r, 202);
	assert_int_equal(json_array_size(json_object_get(sh, "threads")), 1);
	json_t *main_th = thread_of(sh, 202);
	assert_string_equal(json_string_value(json_object_get(main_th, "name")), "sh");
	assert_true(real_of(main_th, "utime") == 0.001);
	assert_true(real_of(main_th, "stime") == 0.001);
	const char *nulls[] = {"heap",	 "heap_peak", "heap_peak_t", "alloc", "freed",
			       "nalloc", "nfree",     "mmap",	     "end_t"};
	for (size_t k = 0; k < sizeof(nulls) / sizeof(*nulls); k++)
		if (!json_is_null(json_object_get(main_th, nulls[k])))
			fail_msg("expected %s null for a process's only thread", nulls[k]);
	assert_true(json_is_null(json_object_get(json_object_get(sh, "heap"), "on")));
	json_decref(r);
	run_release(&run);

	/* a log before format 3: its report as it was, without threads or heap */
	load(&run, "complete.jsonl");
	r = report_of(&run);
	json_t *q = json_array_get(json_object_get(r, "processes"), 0);
	assert_non_null(q);
	assert_null(json_object_get(q, "threads"));
	assert_null(json_object_get(q, "heap"));
	json_decref(r);
	run_release(&run);
}

/* ---- export --csv --threads ---- */

/* The CSV's rows, each a NULL-terminated array of fields (RFC 4180 quoting). */
static char ***csv_rows(const char *s, size_t *n_rows)
{
	char ***rows = NULL;
	*n_rows = 0;
	while (*s) {
		char **fields = NULL;
		size_t n = 0;
		for (;;) {
			struct strbuf f = STRBUF_INIT;
			if (*s == '"') {
				for (s++;; s++) {
					assert_true(*s);
					if (*s == '"' && s[1] != '"')
						break;
					if (*s == '"')
						s++;
					strbuf_addch(&f, *s);
				}
				s++;
			} else {
				while (*s && *s != ',' && *s != '\n')
					strbuf_addch(&f, *s++);
			}
			fields = realloc(fields, (n + 2) * sizeof(*fields));
			fields[n++] = f.buf ? strbuf_detach(&f, NULL) : strdup("");
			fields[n] = NULL;
			if (*s == ',') {
				s++;
				continue;
			}
			assert_int_equal(*s, '\n');
			s++;
			break;
		}
		rows = realloc(rows, (*n_rows + 1) * sizeof(*rows));
		rows[(*n_rows)++] = fields;
	}
	return rows;
}

static void csv_rows_free(char ***rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (char **f = rows[i]; *f; f++)
			free(*f);
		free(rows[i]);
	}
	free(rows);
}

static char *csv_threads(const struct run *run)
{
	struct export_out out;
	export_out_init(&out, NULL, NULL);
	export_csv_threads(run, &out);
	assert_int_equal(export_out_finish(&out), 0);
	char *s = strbuf_detach(&out.buf, NULL);
	export_out_release(&out);
	return s;
}

static void test_csv(void **state)
{
	(void)state;
	struct run run;
	/* a name CSV must quote: a quote, a comma, a backslash, a newline */
	load_variant(&run, "threads.jsonl", "worker\\u202e1", "w\\\"o,r\\\\k\\n1", NULL);
	char *text = csv_threads(&run);
	size_t n;
	char ***rows = csv_rows(text, &n);
	assert_int_equal(n, 1 + 21); /* the header, then the log's 21 thread rows */
	const char *head[] = {"t",	   "pid",   "tid",   "thread", "utime", "stime", "heap",
			      "heap_peak", "alloc", "freed", "nalloc", "nfree", "mmap"};
	for (size_t j = 0; j < 13; j++)
		assert_string_equal(rows[0][j], head[j]);
	assert_null(rows[0][13]);
	bool loader = false;
	size_t workers = 0;
	for (size_t i = 1; i < n; i++) {
		for (size_t j = 0; j < 13; j++)
			assert_non_null(rows[i][j]);
		assert_null(rows[i][13]);
		if (i > 1) /* by time */
			assert_true(strcmp(rows[i - 1][0], rows[i][0]) <= 0);
		if (!strcmp(rows[i][0], "2.000") && !strcmp(rows[i][2], "210")) {
			loader = true;
			assert_string_equal(rows[i][1], "200");
			assert_string_equal(rows[i][3], "loader");
			assert_string_equal(rows[i][4], "300");
			assert_string_equal(rows[i][6], "41943040");
			assert_string_equal(rows[i][7], "44040192");
			assert_string_equal(rows[i][12], "2097152");
		}
		if (!strcmp(rows[i][2], "211")) {
			workers++;
			assert_string_equal(rows[i][3], "w\"o,r\\k\n1");
		}
	}
	assert_true(loader);
	assert_int_equal(workers, 7);
	csv_rows_free(rows, n);
	free(text);
	run_release(&run);

	/* a log before format 3: the header row alone */
	load(&run, "complete.jsonl");
	text = csv_threads(&run);
	assert_string_equal(text, "t,pid,tid,thread,utime,stime,heap,heap_peak,alloc,freed,nalloc,"
				  "nfree,mmap\n");
	free(text);
	run_release(&run);
}

/* ---- /metrics ---- */

static char *metrics_of(const struct run *run)
{
	struct strbuf out = STRBUF_INIT;
	http_metrics(run, &out);
	assert_false(out.oom);
	return strbuf_detach(&out, NULL);
}

static size_t count_prefix(const char *text, const char *prefix)
{
	size_t n = 0, len = strlen(prefix);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		n += !strncmp(p, prefix, len);
	return n;
}

static void test_metrics(void **state)
{
	(void)state;
	struct run run;
	/* the log as it was at 2.5 s, the job running; a name with what labels escape */
	load_variant(&run, "threads.jsonl", "worker\\u202e1", "w\\\"or\\\\k\\n1",
		     "\"type\":\"sample\",\"t\":2.5,");
	char *m = metrics_of(&run);
	assert_line(m, "# TYPE memline_thread_heap_bytes gauge");
	assert_line(m, "# TYPE memline_thread_cpu_seconds_total counter");
	assert_line(m, "memline_thread_heap_bytes{pid=\"200\",tid=\"210\",thread=\"loader\"} "
		       "41943040");
	assert_line(
		m, "memline_thread_heap_bytes{pid=\"200\",tid=\"211\",thread=\"w\\\"or\\\\k\\n1\"} "
		   "8388608");
	assert_line(m, "memline_thread_heap_bytes{pid=\"200\",tid=\"200\",thread=\"server\"} "
		       "2097152");
	assert_line(m, "memline_thread_cpu_seconds_total{pid=\"200\",tid=\"210\",thread=\"loader\","
		       "mode=\"user\"} 0.400");
	assert_line(m, "memline_thread_cpu_seconds_total{pid=\"200\",tid=\"210\",thread=\"loader\","
		       "mode=\"system\"} 0.010");
	/* the static child has no thread rows: its main thread's CPU is the process's; no heap */
	assert_line(m, "memline_thread_cpu_seconds_total{pid=\"201\",tid=\"201\",thread=\"static-"
		       "tool\",mode=\"user\"} 0.020");
	assert_int_equal(count_prefix(m, "memline_thread_heap_bytes{pid=\"201\""), 0);
	/* 202 exited at 1.2 s */
	assert_null(strstr(m, "pid=\"202\",tid"));
	assert_int_equal(count_prefix(m, "memline_thread_heap_bytes{"), 3);
	assert_int_equal(count_prefix(m, "memline_thread_cpu_seconds_total{"), 2 * 4);
	/* each family's samples together, after its head */
	assert_true(strstr(m, "# TYPE memline_thread_heap_bytes") <
		    strstr(m, "memline_thread_heap_bytes{"));
	assert_true(strstr(m, "memline_thread_heap_bytes{pid=\"200\",tid=\"200\"") <
		    strstr(m, "# TYPE memline_thread_cpu_seconds_total"));
	free(m);
	run_release(&run);

	/* at 3.5 s the worker had ended and the static child exited: neither is there */
	load_variant(&run, "threads.jsonl", NULL, NULL, "\"type\":\"sample\",\"t\":3.5,");
	m = metrics_of(&run);
	assert_null(strstr(m, "tid=\"211\""));
	assert_null(strstr(m, "pid=\"201\""));
	assert_line(m, "memline_thread_heap_bytes{pid=\"200\",tid=\"210\",thread=\"loader\"} "
		       "31457280");
	free(m);
	run_release(&run);

	/* the run over: no live process, no thread metric (the heads stay) */
	load(&run, "threads.jsonl");
	m = metrics_of(&run);
	assert_int_equal(count_prefix(m, "memline_thread_"), 0);
	assert_line(m, "# TYPE memline_thread_heap_bytes gauge");
	free(m);
	run_release(&run);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text),	      cmocka_unit_test(test_text_cpu),
		cmocka_unit_test(test_text_long_why), cmocka_unit_test(test_text_old_log),
		cmocka_unit_test(test_json),	      cmocka_unit_test(test_csv),
		cmocka_unit_test(test_metrics),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
