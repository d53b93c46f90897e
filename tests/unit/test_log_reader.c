/*
 * test_log_reader: the log reader (lib/log/reader.c) on hand-written fixture logs under
 * $MEMLINE_FIXTURES/logs: a complete log, a cut-off last line, a corrupt middle line,
 * reordered and extra fields, not-a-log, a newer format, an empty file, event and span
 * records (hostile labels, null pids, damaged ones), the end's error, plus the lock probe;
 * what is not a regular file, lines longer than LOG_LINE_MAX, labels beyond the channel's cap.
 */
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "record/capture.h"
#include "record/channel.h"
#include "log/reader.h"

/* The reader keeps what memline's own writer can write, no more. */
_Static_assert(LOG_LABEL_MAX == CHANNEL_LABEL_MAX, "log.h and channel.h disagree");
_Static_assert(LOG_OUTPUT_MAX == CAPTURE_LINE_MAX, "log.h and capture.h disagree");

static char *fixture(const char *name)
{
	const char *dir = getenv("MEMLINE_FIXTURES");
	struct strbuf sb = STRBUF_INIT;
	strbuf_addf(&sb, "%s/logs/%s", dir ? dir : "tests/fixtures", name);
	return strbuf_detach(&sb, NULL);
}

struct warnings {
	int n;
	long line;
	char msg[256];
};

static void collect_warning(void *data, const char *path, long line, const char *msg)
{
	struct warnings *w = data;
	(void)path;
	w->n++;
	w->line = line;
	snprintf(w->msg, sizeof(w->msg), "%s", msg);
}

/* Reads every record of a fixture; returns log_reader_next's last result. */
static int read_all(const char *name, enum record_type *types, size_t max, size_t *n,
		    struct warnings *w, struct log_reader *r, struct strbuf *err)
{
	char *path = fixture(name);
	struct log_record rec;
	log_record_init(&rec);
	assert_int_equal(log_reader_open(r, path, collect_warning, w, err), 0);
	int ret;
	*n = 0;
	while ((ret = log_reader_next(r, &rec, err)) > 0)
		if (*n < max)
			types[(*n)++] = rec.type;
	log_record_release(&rec);
	free(path);
	return ret;
}

/* Writes text to a new temporary file; the caller unlinks and frees the path. */
static char *temp_log(const char *text, size_t len)
{
	char *path = strdup("/tmp/memline-test-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

/* A log of n samples with a corrupt line in each half, an event, and a cut-off last line. */
static char *damaged_big_log(size_t n)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_addstr(&sb, "{\"type\":\"header\",\"format\":1,\"fields\":[\"pid\",\"rss\","
			   "\"state\"],\"tree_fields\":[\"nproc\",\"rss\"]}\n"
			   "{\"type\":\"proc\",\"t\":0,\"pid\":7,\"comm\":\"w\"}\n");
	for (size_t i = 0; i < n; i++) {
		if (i == n / 4)
			strbuf_addstr(&sb, "{\"type\":\"sample\",\"t\":garbage\n");
		if (i == 3 * n / 4)
			strbuf_addstr(&sb, "not json\n");
		if (i == n / 2)
			strbuf_addstr(&sb, "{\"type\":\"event\",\"t\":1.5,\"label\":\"mid\"}\n");
		strbuf_addf(&sb,
			    "{\"type\":\"sample\",\"t\":%zu.000,\"avail\":null,\"tree\":[1,%zu],"
			    "\"p\":[[7,%zu,\"R\"]]}\n",
			    i, i, i);
	}
	strbuf_addstr(&sb, "{\"type\":\"sample\",\"t\":9");
	char *path = temp_log(sb.buf, sb.len);
	strbuf_release(&sb);
	return path;
}

struct summary {
	size_t records, samples;
	long long rss_sum;
	long line, corrupt;
	bool truncated;
	int ret;
	struct warnings w;
};

static void summarise(const char *path, bool ahead, struct summary *sum)
{
	struct log_reader r;
	struct log_record rec;
	struct strbuf err = STRBUF_INIT;
	memset(sum, 0, sizeof(*sum));
	log_record_init(&rec);
	assert_int_equal(log_reader_open(&r, path, collect_warning, &sum->w, &err), 0);
	int ret = ahead ? log_reader_read_ahead(&r, &rec, &err) : log_reader_next(&r, &rec, &err);
	for (; ret > 0; ret = log_reader_next(&r, &rec, &err)) {
		sum->records++;
		if (rec.type == REC_SAMPLE) {
			sum->samples++;
			sum->rss_sum += rec.sample.procs[0].v[PF_RSS];
			assert_int_equal(rec.sample.procs[0].v[PF_RSS], (long long)rec.sample.t);
		}
	}
	sum->ret = ret;
	sum->line = r.line;
	sum->corrupt = r.corrupt;
	sum->truncated = r.truncated;
	log_record_release(&rec);
	log_reader_close(&r);
	strbuf_release(&err);
}

/*
 * Reading ahead on threads gives the same records, in order, and the same warnings: on a log
 * of about 10 MB, so that its chunks (1 MB each) go round the ring of slots more than once.
 */
static void test_read_ahead(void **state)
{
	(void)state;
	char *path = damaged_big_log(120000);
	struct summary plain, ahead;
	summarise(path, false, &plain);
	summarise(path, true, &ahead);
	assert_int_equal(plain.ret, 0);
	assert_int_equal(ahead.ret, 0);
	assert_int_equal(plain.samples, 120000);
	assert_int_equal(ahead.records, plain.records);
	assert_int_equal(ahead.samples, plain.samples);
	assert_true(ahead.rss_sum == plain.rss_sum);
	assert_int_equal(plain.corrupt, 2);
	assert_int_equal(ahead.corrupt, plain.corrupt);
	assert_true(plain.truncated);
	assert_true(ahead.truncated);
	assert_int_equal(ahead.line, plain.line);
	assert_int_equal(ahead.w.n, 2);
	assert_int_equal(ahead.w.line, plain.w.line); /* the last warning names the same line */
	assert_string_equal(ahead.w.msg, plain.w.msg);
	unlink(path);
	free(path);
}

static void test_complete(void **state)
{
	(void)state;
	char *path = fixture("complete.jsonl");
	struct log_reader r;
	struct log_record rec;
	struct strbuf err = STRBUF_INIT;
	struct warnings w = {0};
	log_record_init(&rec);
	assert_int_equal(log_reader_open(&r, path, collect_warning, &w, &err), 0);

	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(rec.type, REC_HEADER);
	assert_int_equal(rec.line, 1);
	assert_int_equal(rec.header.format, 1);
	assert_string_equal(rec.header.host, "node17");
	assert_string_equal(rec.header.mode, "run");
	assert_string_equal(rec.header.start_iso, "2026-11-21T10:15:00.123Z");
	assert_string_equal(rec.header.command[0], "sh");
	assert_string_equal(rec.header.command[2], "python3 train.py; echo done");
	assert_null(rec.header.command[3]);
	assert_int_equal(rec.header.pid, 100);
	assert_int_equal(rec.header.n_pids, 1);
	assert_int_equal(rec.header.n_job, 2);
	assert_string_equal(rec.header.job_names[0], "SLURM_JOB_ID");
	assert_string_equal(rec.header.job_values[0], "881");
	/* format 1: the place from the job variables, the clock from start_unix */
	assert_string_equal(rec.header.place.job, "881");
	assert_int_equal(rec.header.place.rank, 0);
	assert_string_equal(rec.header.place.launcher, "slurm");
	assert_int_equal(rec.header.place.size, -1);
	assert_int_equal(rec.header.clock.wall_us, 1795256100123000);
	assert_int_equal(rec.header.clock.synced, -1);
	assert_int_equal(rec.header.clock.maxerror_us, -1);
	assert_int_equal(rec.header.mem_total, 24608132);
	assert_true(rec.header.interval_fixed == 0);
	assert_true(rec.header.interval_max == 5);
	assert_true(rec.header.peak_reset);
	assert_false(rec.header.pss);

	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(rec.type, REC_PROC);
	assert_int_equal(rec.proc.pid, 100);
	assert_int_equal(rec.proc.ppid, 99);
	assert_string_equal(rec.proc.comm, "sh");
	static const char cmdline[] = "sh\0-c\0python3 train.py; echo done";
	assert_int_equal(rec.proc.cmdline_len, sizeof(cmdline) - 1);
	assert_memory_equal(rec.proc.cmdline, cmdline, sizeof(cmdline));

	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(rec.type, REC_SAMPLE);
	assert_int_equal(rec.sample.n, 1);
	assert_int_equal(rec.sample.avail, 20000000);
	assert_int_equal(rec.sample.tree.v[TF_PEAK], 1200);
	assert_int_equal(rec.sample.tree.v[TF_PSS], -1);

	assert_int_equal(log_reader_next(&r, &rec, &err), 1); /* proc 101 */
	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(rec.type, REC_EXEC);
	assert_int_equal(rec.proc.pid, 101);
	assert_string_equal(rec.proc.comm, "python3");
	assert_int_equal(rec.proc.cmdline_len, sizeof("python3\0train.py") - 1);

	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(rec.type, REC_SAMPLE);
	assert_true(rec.sample.t > 0.0299 && rec.sample.t < 0.0301);
	assert_int_equal(rec.sample.n, 2);
	assert_int_equal(rec.sample.procs[1].v[PF_PID], 101);
	assert_int_equal(rec.sample.procs[1].v[PF_RSS], 2000);
	assert_int_equal(rec.sample.procs[1].v[PF_PEAK], 2500);
	assert_int_equal(rec.sample.procs[1].v[PF_PSS], -1);
	assert_int_equal(rec.sample.procs[1].v[PF_MAJFLT], 1);
	assert_int_equal(rec.sample.procs[1].v[PF_RCHAR], 4096);
	assert_int_equal(rec.sample.procs[1].state, 'R');
	assert_int_equal(rec.sample.procs[0].state, 'S');

	assert_int_equal(log_reader_next(&r, &rec, &err), 1); /* sample */
	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(rec.type, REC_EXIT);
	assert_int_equal(rec.exit.pid, 101);
	assert_int_equal(rec.exit.how, EXIT_HOW_EXITED);
	assert_int_equal(rec.exit.code, 0);
	assert_int_equal(rec.exit.signal, -1);
	assert_false(rec.exit.oom);
	assert_int_equal(rec.exit.peak, 51200);
	assert_int_equal(rec.exit.utime, 800);

	assert_int_equal(log_reader_next(&r, &rec, &err), 1); /* sample */
	assert_int_equal(log_reader_next(&r, &rec, &err), 1); /* exit 100 */
	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(rec.type, REC_END);
	assert_int_equal(rec.line, 11);
	assert_int_equal(rec.end.status, RUN_COMPLETED);
	assert_int_equal(rec.end.exit_code, 0);
	assert_int_equal(rec.end.signal, -1);
	assert_int_equal(rec.end.samples, 4);
	assert_int_equal(rec.end.n_oom_killed, 0);

	assert_int_equal(log_reader_next(&r, &rec, &err), 0);
	assert_false(r.truncated);
	assert_int_equal(r.corrupt, 0);
	assert_int_equal(w.n, 0);
	assert_int_equal(err.len, 0);
	log_record_release(&rec);
	log_reader_close(&r);
	strbuf_release(&err);
	free(path);
}

/*
 * Format 3's threads: the header's thread_fields and heap mode, thread and heap records, and
 * the samples' th rows, the same through the fast path (the writer's shape) and through
 * jansson (the same line with spaces).
 */
static void test_threads(void **state)
{
	(void)state;
	char *path = fixture("threads.jsonl");
	struct log_reader r;
	struct log_record rec;
	struct strbuf err = STRBUF_INIT;
	log_record_init(&rec);
	assert_int_equal(log_reader_open(&r, path, NULL, NULL, &err), 0);
	size_t threads = 0, ends = 0, heaps = 0, rows = 0;
	long long loader_peak = -1;
	bool saw_header = false;
	while (log_reader_next(&r, &rec, &err) > 0) {
		if (rec.type == REC_HEADER) {
			assert_int_equal(rec.header.heap, HEAP_MALLOC);
			saw_header = true;
		} else if (rec.type == REC_THREAD) {
			threads += !rec.thread.end;
			ends += rec.thread.end;
			if (rec.thread.tid == 211 && !rec.thread.end)
				assert_string_equal(rec.thread.name, "worker\u202e1");
		} else if (rec.type == REC_HEAP) {
			heaps++;
			if (rec.heap.pid == 201) {
				assert_false(rec.heap.on);
				assert_non_null(strstr(rec.heap.why, "static binary"));
			} else {
				assert_true(rec.heap.on);
				assert_string_equal(rec.heap.allocator, "libc.so.6");
			}
		} else if (rec.type == REC_SAMPLE) {
			rows += rec.sample.n_threads;
			for (size_t i = 0; i < rec.sample.n_threads; i++)
				if (rec.sample.threads[i].v[TH_TID] == 210 &&
				    rec.sample.threads[i].v[TH_HEAP_PEAK] > loader_peak)
					loader_peak = rec.sample.threads[i].v[TH_HEAP_PEAK];
			for (size_t i = 0; i < rec.sample.n; i++)
				if (rec.sample.procs[i].v[PF_PID] == 201)
					assert_int_equal(rec.sample.procs[i].v[PF_HEAP], -1);
		}
	}
	assert_true(saw_header);
	assert_int_equal(threads, 3);
	assert_int_equal(ends, 1);
	assert_int_equal(heaps, 2);
	assert_int_equal(rows, 7 * 3);
	assert_int_equal(loader_peak, 42LL << 20);
	log_record_release(&rec);
	log_reader_close(&r);

	/* the jansson path: a sample the fast path does not take (spaces), the same rows */
	const char *text =
		"{\"type\":\"header\",\"format\":3,\"fields\":[\"pid\",\"rss\"],"
		"\"thread_fields\":[\"tid\",\"pid\",\"heap\",\"later_field\"]}\n"
		"{\"type\": \"sample\", \"t\": 1.0, \"p\": [[7, 100]], "
		"\"th\": [[8, 7, 4096, 1], [9, 7, null, 2], [10, 0, 5, 5]]}\n"
		"{\"type\":\"sample\",\"t\":2.0,\"avail\":null,\"tree\":[],\"p\":[[7,100]],"
		"\"th\":[[8,7,8192,1]]}\n";
	char *tmp = temp_log(text, strlen(text));
	assert_int_equal(log_reader_open(&r, tmp, NULL, NULL, &err), 0);
	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(rec.type, REC_SAMPLE);
	assert_int_equal(rec.sample.n_threads, 2); /* the row of pid 0 cannot be placed */
	assert_int_equal(rec.sample.threads[0].v[TH_TID], 8);
	assert_int_equal(rec.sample.threads[0].v[TH_PID], 7);
	assert_int_equal(rec.sample.threads[0].v[TH_HEAP], 4096);
	assert_int_equal(rec.sample.threads[0].v[TH_UTIME], -1);
	assert_int_equal(rec.sample.threads[1].v[TH_HEAP], -1);
	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(rec.sample.n_threads, 1);
	assert_int_equal(rec.sample.threads[0].v[TH_HEAP], 8192);
	log_record_release(&rec);
	log_reader_close(&r);
	unlink(tmp);
	free(tmp);
	free(path);
	strbuf_release(&err);
}

static void test_truncated(void **state)
{
	(void)state;
	struct log_reader r;
	struct strbuf err = STRBUF_INIT;
	struct warnings w = {0};
	enum record_type types[16];
	size_t n;
	assert_int_equal(read_all("truncated.jsonl", types, 16, &n, &w, &r, &err), 0);
	assert_int_equal(n, 4);
	assert_int_equal(types[3], REC_SAMPLE);
	assert_true(r.truncated);
	assert_int_equal(r.corrupt, 0);
	assert_int_equal(w.n, 0); /* a cut-off last line is normal: no warning */
	log_reader_close(&r);
	strbuf_release(&err);
}

static void test_corrupt_middle_line(void **state)
{
	(void)state;
	struct log_reader r;
	struct strbuf err = STRBUF_INIT;
	struct warnings w = {0};
	enum record_type types[16];
	size_t n;
	assert_int_equal(read_all("corrupt.jsonl", types, 16, &n, &w, &r, &err), 0);
	assert_int_equal(n, 6); /* 7 lines, one skipped */
	assert_int_equal(types[5], REC_END);
	assert_int_equal(r.corrupt, 1);
	assert_false(r.truncated);
	assert_int_equal(w.n, 1);
	assert_int_equal(w.line, 4);
	assert_non_null(strstr(w.msg, "corrupt record skipped ("));
	log_reader_close(&r);
	strbuf_release(&err);
}

static void test_reordered_fields(void **state)
{
	(void)state;
	char *path = fixture("reordered.jsonl");
	struct log_reader r;
	struct log_record rec;
	struct strbuf err = STRBUF_INIT;
	log_record_init(&rec);
	assert_int_equal(log_reader_open(&r, path, NULL, NULL, &err), 0);
	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_true(rec.header.interval_fixed == 0.5);
	assert_true(rec.header.pss);
	assert_int_equal(rec.header.n_job, 0);
	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(rec.type, REC_PROC);
	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(rec.type, REC_UNKNOWN); /* "gpu": a record type from the future */
	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(rec.type, REC_SAMPLE);
	assert_int_equal(rec.sample.n, 1);
	const struct proc_values *v = &rec.sample.procs[0];
	assert_int_equal(v->v[PF_PID], 500);
	assert_int_equal(v->v[PF_RSS], 7000);
	assert_int_equal(v->v[PF_PEAK], 8000);
	assert_int_equal(v->v[PF_UTIME], 120);
	assert_int_equal(v->v[PF_STIME], 30);
	assert_int_equal(v->v[PF_THREADS], 4);
	assert_int_equal(v->v[PF_ANON], -1); /* not in this log's fields */
	assert_int_equal(v->state, 'S');
	assert_int_equal(rec.sample.tree.v[TF_NPROC], 1);
	assert_int_equal(rec.sample.tree.v[TF_RSS], 7000);
	assert_int_equal(rec.sample.tree.v[TF_PEAK], 8000);
	assert_int_equal(rec.sample.tree.v[TF_ANON], -1);
	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(rec.sample.avail, -1);
	assert_int_equal(rec.sample.procs[0].v[PF_PEAK], -1); /* null */
	assert_int_equal(rec.sample.procs[0].v[PF_UTIME], -1);
	assert_int_equal(rec.sample.procs[0].state, 'R');
	assert_int_equal(rec.sample.tree.v[TF_PEAK], -1);
	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(rec.exit.how, EXIT_HOW_KILLED);
	assert_int_equal(rec.exit.signal, 15);
	assert_int_equal(rec.exit.code, -1);
	assert_int_equal(rec.exit.peak, -1);
	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(rec.end.status, RUN_KILLED);
	assert_int_equal(log_reader_next(&r, &rec, &err), 0);
	assert_int_equal(r.corrupt, 0);
	log_record_release(&rec);
	log_reader_close(&r);
	strbuf_release(&err);
	free(path);
}

/* Opens a fixture and returns the error of its first read. */
static int first_read_error(const char *path, struct strbuf *err)
{
	struct log_reader r;
	struct log_record rec;
	log_record_init(&rec);
	assert_int_equal(log_reader_open(&r, path, NULL, NULL, err), 0);
	int ret = log_reader_next(&r, &rec, err);
	log_record_release(&rec);
	log_reader_close(&r);
	return ret;
}

static void expect_error(const char *name, const char *msg)
{
	char *path = fixture(name);
	struct strbuf err = STRBUF_INIT, want = STRBUF_INIT;
	assert_int_equal(first_read_error(path, &err), -1);
	strbuf_addf(&want, msg, path);
	assert_string_equal(err.buf, want.buf);
	strbuf_release(&err);
	strbuf_release(&want);
	free(path);
}

static void test_not_a_log(void **state)
{
	(void)state;
	expect_error("notalog.jsonl", "'%s' is not a memline log (line 1 is not a header); give a "
				      "log written by memline run");
}

static void test_newer_format(void **state)
{
	(void)state;
	expect_error("newer.jsonl",
		     "'%s' was written by a newer memline (format 99); upgrade memline to read it");
}

static void test_empty(void **state)
{
	(void)state;
	expect_error("empty.jsonl",
		     "'%s' is empty: the recording wrote nothing; it may have died at once");
}

static void test_plain_text_and_cut_header(void **state)
{
	(void)state;
	struct strbuf err = STRBUF_INIT;
	char *path = temp_log("hello world\nsecond line\n", 24);
	assert_int_equal(first_read_error(path, &err), -1);
	assert_non_null(strstr(err.buf, "is not a memline log"));
	unlink(path);
	free(path);

	strbuf_reset(&err);
	path = temp_log("{\"type\":\"header\",\"form", 23);
	assert_int_equal(first_read_error(path, &err), -1);
	assert_non_null(strstr(err.buf, "ends inside its header"));
	unlink(path);
	free(path);
	strbuf_release(&err);
}

static void test_missing_file(void **state)
{
	(void)state;
	struct log_reader r;
	struct strbuf err = STRBUF_INIT;
	assert_int_equal(log_reader_open(&r, "/nonexistent/x.jsonl", NULL, NULL, &err), -1);
	assert_string_equal(err.buf,
			    "cannot open '/nonexistent/x.jsonl': No such file or directory");
	strbuf_release(&err);
}

/* A last line that is whole but lacks its newline is a record, not a cut-off line. */
static void test_last_line_without_newline(void **state)
{
	(void)state;
	static const char text[] =
		"{\"type\":\"header\",\"format\":1}\n"
		"{\"type\":\"end\",\"t\":1.5,\"status\":\"failed\",\"exit_code\":4}";
	char *path = temp_log(text, sizeof(text) - 1);
	struct log_reader r;
	struct log_record rec;
	struct strbuf err = STRBUF_INIT;
	log_record_init(&rec);
	assert_int_equal(log_reader_open(&r, path, NULL, NULL, &err), 0);
	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(rec.type, REC_END);
	assert_int_equal(rec.end.status, RUN_FAILED);
	assert_int_equal(rec.end.exit_code, 4);
	assert_int_equal(log_reader_next(&r, &rec, &err), 0);
	assert_false(r.truncated);
	log_record_release(&rec);
	log_reader_close(&r);
	strbuf_release(&err);
	unlink(path);
	free(path);
}

/* A line far longer than any fixed buffer: an argv of 3 MB. */
static void test_long_line(void **state)
{
	(void)state;
	struct strbuf text = STRBUF_INIT;
	strbuf_addstr(&text, "{\"type\":\"header\",\"format\":1}\n"
			     "{\"type\":\"proc\",\"t\":0,\"pid\":7,\"argv\":[\"x\",\"");
	for (int i = 0; i < 3 << 20; i++)
		strbuf_addch(&text, 'a' + i % 26);
	strbuf_addstr(&text, "\"]}\n");
	assert_false(text.oom);
	char *path = temp_log(text.buf, text.len);
	struct log_reader r;
	struct log_record rec;
	struct strbuf err = STRBUF_INIT;
	log_record_init(&rec);
	assert_int_equal(log_reader_open(&r, path, NULL, NULL, &err), 0);
	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(rec.type, REC_PROC);
	assert_int_equal(rec.proc.cmdline_len, 2 + (3 << 20));
	assert_int_equal(log_reader_next(&r, &rec, &err), 0);
	log_record_release(&rec);
	log_reader_close(&r);
	strbuf_release(&err);
	strbuf_release(&text);
	unlink(path);
	free(path);
}

/*
 * What is not a regular file is refused at open, before a read, and a FIFO never blocks. (A
 * socket is tested end to end: sys/socket.h's PF_FILE would clash with record.h's.)
 */
static void test_not_a_regular_file(void **state)
{
	(void)state;
	char dir[] = "/tmp/memline-test-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct strbuf fifo = STRBUF_INIT, err = STRBUF_INIT;
	strbuf_addf(&fifo, "%s/fifo", dir);
	assert_int_equal(mkfifo(fifo.buf, 0600), 0);
	const char *const paths[] = {fifo.buf, dir, "/dev/zero"};
	const char *const what[] = {"a FIFO", "a directory", "a character device"};
	for (size_t i = 0; i < 3; i++) {
		const char *path = paths[i];
		struct log_reader r;
		struct strbuf want = STRBUF_INIT;
		strbuf_reset(&err);
		assert_int_equal(log_reader_open(&r, path, NULL, NULL, &err), -1);
		strbuf_addf(&want, "'%s' is %s, not a log file; give a memline log", path, what[i]);
		assert_string_equal(err.buf, want.buf);
		strbuf_reset(&err);
		assert_int_equal(log_open_file(path, &err), -1);
		assert_string_equal(err.buf, want.buf);
		strbuf_release(&want);
	}
	unlink(fifo.buf);
	rmdir(dir);
	strbuf_release(&fifo);
	strbuf_release(&err);
}

/* A log with lines of len bytes at where (a proc record padded with spaces: valid JSON). */
static void add_padded_proc(struct strbuf *sb, size_t len, int pid)
{
	size_t start = sb->len;
	strbuf_addf(sb, "{\"type\":\"proc\",\"t\":0,\"pid\":%d,\"comm\":\"long\"", pid);
	size_t used = sb->len - start;
	assert_true(strbuf_grow(sb, len - used + 2));
	memset(sb->buf + sb->len, ' ', len - used - 1);
	sb->len += len - used - 1;
	strbuf_addstr(sb, "}\n");
	assert_int_equal(sb->len - start, len + 1);
}

/*
 * A line longer than LOG_LINE_MAX is skipped as corrupt with a warning naming its line, read
 * line by line and read ahead alike; a line of exactly LOG_LINE_MAX bytes is read.
 */
static void test_line_longer_than_the_cap(void **state)
{
	(void)state;
	struct strbuf sb = STRBUF_INIT;
	strbuf_addstr(&sb, "{\"type\":\"header\",\"format\":1,\"fields\":[\"pid\",\"rss\","
			   "\"state\"],\"tree_fields\":[\"nproc\",\"rss\"]}\n");
	for (int i = 0; i < 20000; i++) /* 1.5 MB: a few chunks before the long line */
		strbuf_addf(&sb,
			    "{\"type\":\"sample\",\"t\":%d.000,\"avail\":null,\"tree\":[1,%d],"
			    "\"p\":[[7,%d,\"R\"]]}\n",
			    i, i, i);
	long long_line = 20002;
	add_padded_proc(&sb, LOG_LINE_MAX + 1, 8); /* line 20002: skipped */
	add_padded_proc(&sb, LOG_LINE_MAX, 9);	   /* line 20003: read */
	for (int i = 20000; i < 20010; i++)
		strbuf_addf(&sb,
			    "{\"type\":\"sample\",\"t\":%d.000,\"avail\":null,\"tree\":[1,%d],"
			    "\"p\":[[7,%d,\"R\"]]}\n",
			    i, i, i);
	assert_false(sb.oom);
	char *path = temp_log(sb.buf, sb.len);
	strbuf_release(&sb);
	struct summary plain, ahead;
	summarise(path, false, &plain);
	summarise(path, true, &ahead);
	for (int k = 0; k < 2; k++) {
		const struct summary *sum = k ? &ahead : &plain;
		assert_int_equal(sum->ret, 0);
		assert_int_equal(sum->samples, 20010);
		assert_int_equal(sum->records, 1 + 20010 + 1);
		assert_int_equal(sum->corrupt, 1);
		assert_int_equal(sum->w.n, 1);
		assert_int_equal(sum->w.line, long_line);
		assert_string_equal(sum->w.msg, "corrupt record skipped (longer than 64 MiB)");
		assert_int_equal(sum->line, 20000 + 10 + 3);
		assert_false(sum->truncated);
	}
	unlink(path);
	free(path);
}

/* A long first line is no header; a log that ends inside a long line ends there. */
static void test_long_first_and_last_lines(void **state)
{
	(void)state;
	struct strbuf sb = STRBUF_INIT, err = STRBUF_INIT;
	add_padded_proc(&sb, LOG_LINE_MAX + 1, 8);
	char *path = temp_log(sb.buf, sb.len);
	assert_int_equal(first_read_error(path, &err), -1);
	struct strbuf want = STRBUF_INIT;
	strbuf_addf(&want,
		    "'%s' is not a memline log (its first line is longer than 64 MiB); give a log "
		    "written by memline run",
		    path);
	assert_string_equal(err.buf, want.buf);
	unlink(path);
	free(path);

	strbuf_reset(&sb);
	strbuf_addstr(&sb, "{\"type\":\"header\",\"format\":1}\n");
	add_padded_proc(&sb, LOG_LINE_MAX + 100, 8);
	sb.len -= 50; /* cut off, no newline */
	path = temp_log(sb.buf, sb.len);
	for (int ahead = 0; ahead < 2; ahead++) {
		struct summary sum;
		summarise(path, ahead, &sum);
		assert_int_equal(sum.ret, 0);
		assert_int_equal(sum.records, 1);
		assert_true(sum.truncated);
		assert_int_equal(sum.corrupt, 0);
		assert_int_equal(sum.w.n, 0);
	}
	unlink(path);
	free(path);
	strbuf_release(&sb);
	strbuf_release(&want);
	strbuf_release(&err);
}

/*
 * Labels, span names and the end's error are kept up to the channel's cap, output lines up to
 * the capture's, cut at a UTF-8 boundary, as memline's writer would have cut them.
 */
static void test_text_cut_to_the_writer_caps(void **state)
{
	(void)state;
	struct strbuf sb = STRBUF_INIT, big = STRBUF_INIT;
	for (int i = 0; i < 40000; i++)
		strbuf_addstr(&big, "\xc3\xa9"); /* é: 80,000 bytes */
	strbuf_addstr(&sb, "{\"type\":\"header\",\"format\":1}\n");
	strbuf_addf(&sb, "{\"type\":\"event\",\"t\":1,\"label\":\"x%s\"}\n", big.buf);
	strbuf_addf(&sb, "{\"type\":\"span\",\"t\":1,\"phase\":\"begin\",\"name\":\"%s\"}\n",
		    big.buf);
	strbuf_addf(&sb, "{\"type\":\"output\",\"t\":1,\"stream\":\"stdout\",\"text\":\"x%s\"}\n",
		    big.buf);
	strbuf_addf(&sb, "{\"type\":\"end\",\"t\":2,\"status\":\"failed\",\"error\":\"%s\"}\n",
		    big.buf);
	char *path = temp_log(sb.buf, sb.len);
	struct log_reader r;
	struct log_record rec;
	struct strbuf err = STRBUF_INIT;
	log_record_init(&rec);
	assert_int_equal(log_reader_open(&r, path, NULL, NULL, &err), 0);
	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(rec.type, REC_EVENT);
	assert_int_equal(rec.mark.len, 1023); /* "x" and 511 é: the 512th does not fit */
	assert_int_equal(strlen(rec.mark.text), 1023);
	assert_memory_equal(rec.mark.text + 1, big.buf, 1022);
	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(rec.type, REC_SPAN);
	assert_int_equal(rec.mark.len, 1024);
	assert_memory_equal(rec.mark.text, big.buf, 1024);
	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(rec.type, REC_OUTPUT);
	assert_int_equal(rec.output.len, 65535);
	assert_memory_equal(rec.output.text + 1, big.buf, 65534);
	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(rec.type, REC_END);
	assert_int_equal(rec.end_error_len, 1024);
	assert_memory_equal(rec.end_error, big.buf, 1024);
	assert_int_equal(log_reader_next(&r, &rec, &err), 0);
	assert_int_equal(r.corrupt, 0);
	log_record_release(&rec);
	log_reader_close(&r);
	strbuf_release(&err);
	strbuf_release(&sb);
	strbuf_release(&big);
	unlink(path);
	free(path);
}

static void test_lock_probe(void **state)
{
	(void)state;
	char *path = temp_log("{}\n", 3);
	assert_false(log_is_being_written(path));
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
	assert_true(log_is_being_written(path));
	assert_int_equal(flock(fd, LOCK_UN), 0);
	assert_false(log_is_being_written(path));
	close(fd);
	assert_false(log_is_being_written("/nonexistent/x.jsonl"));
	unlink(path);
	free(path);
}

/* Reads records until the next event or span one; fails at the end of the log. */
static void next_mark(struct log_reader *r, struct log_record *rec, struct strbuf *err)
{
	for (;;) {
		assert_int_equal(log_reader_next(r, rec, err), 1);
		if (rec->type == REC_EVENT || rec->type == REC_SPAN)
			return;
	}
}

static void test_events_and_spans(void **state)
{
	(void)state;
	char *path = fixture("events.jsonl");
	struct log_reader r;
	struct log_record rec;
	struct strbuf err = STRBUF_INIT;
	struct warnings w = {0};
	log_record_init(&rec);
	assert_int_equal(log_reader_open(&r, path, collect_warning, &w, &err), 0);

	next_mark(&r, &rec, &err);
	assert_int_equal(rec.type, REC_EVENT);
	assert_int_equal(rec.line, 3);
	assert_int_equal(rec.mark.kind, MARK_EVENT);
	assert_true(rec.mark.t > 0.0499 && rec.mark.t < 0.0501);
	assert_string_equal(rec.mark.text, "start");
	assert_int_equal(rec.mark.pid, 300);
	assert_int_equal(rec.mark.tid, 300);

	next_mark(&r, &rec, &err);
	assert_int_equal(rec.type, REC_SPAN);
	assert_int_equal(rec.mark.kind, MARK_SPAN_BEGIN);
	assert_string_equal(rec.mark.text, "train");
	next_mark(&r, &rec, &err); /* begin epoch */
	next_mark(&r, &rec, &err);
	assert_int_equal(rec.mark.kind, MARK_SPAN_BEGIN);
	assert_string_equal(rec.mark.text, "load");
	assert_int_equal(rec.mark.pid, 300);
	assert_int_equal(rec.mark.tid, 301);
	next_mark(&r, &rec, &err); /* epoch 1 */
	next_mark(&r, &rec, &err);
	assert_string_equal(rec.mark.text, "late");
	assert_true(rec.mark.t > 0.4499 &&
		    rec.mark.t < 0.4501); /* earlier than the record before */
	next_mark(&r, &rec, &err);	  /* begin load */
	next_mark(&r, &rec, &err);
	assert_int_equal(rec.mark.kind, MARK_SPAN_END);
	assert_string_equal(rec.mark.text, "load");
	for (int i = 0; i < 5; i++) /* end bogus, end load, end epoch, begin epoch */
		next_mark(&r, &rec, &err);
	assert_int_equal(rec.type, REC_EVENT);
	assert_string_equal(rec.mark.text, "plain line");
	assert_int_equal(rec.mark.pid, -1); /* null */
	assert_int_equal(rec.mark.tid, -1);

	int ret;
	while ((ret = log_reader_next(&r, &rec, &err)) > 0 && rec.type != REC_END)
		;
	assert_int_equal(ret, 1);
	assert_int_equal(rec.end.status, RUN_COMPLETED);
	assert_int_equal(rec.end_events, 19);
	assert_null(rec.end_error);
	assert_int_equal(log_reader_next(&r, &rec, &err), 0);
	assert_int_equal(w.n, 0);
	assert_int_equal(r.corrupt, 0);
	log_record_release(&rec);
	log_reader_close(&r);
	strbuf_release(&err);
	free(path);
}

/* Labels with every kind of trouble come back byte for byte; the end's error is read. */
static void test_hostile_labels(void **state)
{
	(void)state;
	static const char *const labels[] = {
		"line one\nline two\ttabbed",
		"say \"hi\" \\ back",
		"</script><script>alert(1)</script>",
		"\x01\x1b[31mred\x07\x7f end",
		"bad \xef\xbf\xbd byte",
		"c1 \xc2\x9b bidi \xe2\x80\xae rev",
	};
	char *path = fixture("hostile.jsonl");
	struct log_reader r;
	struct log_record rec;
	struct strbuf err = STRBUF_INIT;
	log_record_init(&rec);
	assert_int_equal(log_reader_open(&r, path, NULL, NULL, &err), 0);
	for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
		next_mark(&r, &rec, &err);
		assert_int_equal(rec.type, REC_EVENT);
		assert_string_equal(rec.mark.text, labels[i]);
	}
	next_mark(&r, &rec, &err);
	assert_int_equal(strlen(rec.mark.text), 150);
	next_mark(&r, &rec, &err);
	assert_int_equal(rec.type, REC_SPAN);
	assert_string_equal(rec.mark.text, "phase\n\x1b[2J<b>");
	int ret;
	while ((ret = log_reader_next(&r, &rec, &err)) > 0 && rec.type != REC_END)
		;
	assert_int_equal(ret, 1);
	assert_int_equal(rec.end.status, RUN_FAILED);
	assert_int_equal(rec.end.exit_code, -1);
	assert_string_equal(rec.end_error, "ValueError: bad\ninput \x1b[2J");
	assert_int_equal(rec.end_events, 9);
	log_record_release(&rec);
	log_reader_close(&r);
	strbuf_release(&err);
	free(path);
}

/* Event and span records that cannot be used are skipped as corrupt, each with a warning. */
static void test_damaged_marks(void **state)
{
	(void)state;
	static const char text[] =
		"{\"type\":\"header\",\"format\":1}\n"
		"{\"type\":\"event\",\"t\":1,\"pid\":5,\"tid\":5}\n"
		"{\"type\":\"event\",\"label\":\"no time\"}\n"
		"{\"type\":\"event\",\"t\":1,\"label\":7}\n"
		"{\"type\":\"span\",\"t\":1,\"phase\":\"middle\",\"name\":\"x\"}\n"
		"{\"type\":\"span\",\"t\":1,\"name\":\"x\"}\n"
		"{\"type\":\"span\",\"t\":1,\"phase\":\"end\"}\n"
		"{\"type\":\"event\",\"t\":1,\"label\":\"nul \\u0000 inside\"}\n"
		"{\"type\":\"event\",\"t\":2,\"label\":\"\",\"pid\":0,\"tid\":99999999999}\n"
		"{\"type\":\"span\",\"t\":3,\"phase\":\"begin\",\"name\":\"ok\",\"pid\":\"7\"}\n"
		"{\"type\":\"end\",\"t\":4,\"status\":\"completed\",\"exit_code\":0,\"error\":5}\n";
	char *path = temp_log(text, sizeof(text) - 1);
	struct log_reader r;
	struct log_record rec;
	struct strbuf err = STRBUF_INIT;
	struct warnings w = {0};
	log_record_init(&rec);
	assert_int_equal(log_reader_open(&r, path, collect_warning, &w, &err), 0);
	assert_int_equal(log_reader_next(&r, &rec, &err), 1); /* header */
	/* An escaped NUL is text like any other: the label keeps it, and its length. */
	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(rec.type, REC_EVENT);
	assert_int_equal(rec.line, 8);
	assert_int_equal(rec.mark.len, 12);
	assert_memory_equal(rec.mark.text, "nul \0 inside", 13);
	assert_int_equal(w.n, 6);
	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(rec.type, REC_EVENT);
	assert_int_equal(rec.line, 9);
	assert_string_equal(rec.mark.text, "");
	assert_int_equal(rec.mark.len, 0);
	assert_int_equal(rec.mark.pid, -1);
	assert_int_equal(rec.mark.tid, -1);
	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(rec.type, REC_SPAN);
	assert_string_equal(rec.mark.text, "ok");
	assert_int_equal(rec.mark.pid, -1); /* a string is not a pid */
	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(rec.type, REC_END);
	assert_null(rec.end_error); /* not a string */
	assert_int_equal(rec.end_events, -1);
	assert_int_equal(log_reader_next(&r, &rec, &err), 0);
	assert_int_equal(r.corrupt, 6);
	log_record_release(&rec);
	log_reader_close(&r);
	strbuf_release(&err);
	unlink(path);
	free(path);
}

/*
 * The frame table from hand-written lines: frames looked up by number, a stack whose number
 * no frames record gave, a frames record that renumbers frames, damaged stacks and frames,
 * all skipped with a warning; those after them read on.
 */
static void test_stack_frames(void **state)
{
	(void)state;
	static const char text[] =
		"{\"type\":\"header\",\"format\":2}\n"
		"{\"type\":\"stack\",\"t\":1,\"capture\":1,\"why\":\"peak\",\"pid\":5,\"frames\":["
		"0]}\n"
		"{\"type\":\"frames\",\"t\":1,\"first\":0,\"frames\":[{\"kind\":\"native\",\"fn\":"
		"\"main\",\"mod\":\"/bin/"
		"x\",\"off\":16},{\"kind\":\"python\",\"fn\":\"f\",\"file\":"
		"\"a.py\",\"line\":3}]}\n"
		"{\"type\":\"stack\",\"t\":1,\"capture\":1,\"why\":\"peak\",\"pid\":5,\"tid\":6,"
		"\"frames\":[1,0,1]}\n"
		"{\"type\":\"frames\",\"t\":2,\"first\":1,\"frames\":[{\"kind\":\"native\"}]}\n"
		"{\"type\":\"stack\",\"t\":2,\"capture\":2,\"why\":\"peak\",\"pid\":5,\"frames\":["
		"2]}\n"
		"{\"type\":\"stack\",\"t\":2,\"capture\":2,\"why\":\"later\",\"pid\":5,\"frames\":["
		"0]}\n"
		"{\"type\":\"stack\",\"t\":2,\"capture\":2,\"why\":\"peak\",\"pid\":5,\"frames\":[-"
		"1]}\n"
		"{\"type\":\"stack\",\"t\":2,\"capture\":2,\"why\":\"peak\",\"pid\":5,\"frames\":["
		"\"0\"]}\n"
		"{\"type\":\"frames\",\"t\":2,\"first\":2,\"frames\":[{\"kind\":\"rust\"}]}\n"
		"{\"type\":\"frames\",\"t\":2,\"first\":99999999999,\"frames\":[]}\n"
		"{\"type\":\"frames\",\"t\":2,\"first\":3,\"frames\":[{\"kind\":\"native\",\"fn\":"
		"\"gap\"}]}\n"
		"{\"type\":\"stack\",\"t\":3,\"capture\":3,\"why\":\"signal\",\"pid\":5,"
		"\"frames\":[3,0],\"error\":\"stopped\"}\n"
		"{\"type\":\"stack\",\"t\":3,\"capture\":3,\"why\":\"signal\",\"pid\":5,\"frames\":"
		"[2]}\n";
	char *path = temp_log(text, sizeof(text) - 1);
	struct log_reader r;
	struct log_record rec;
	struct strbuf err = STRBUF_INIT;
	struct warnings w = {0};
	log_record_init(&rec);
	assert_int_equal(log_reader_open(&r, path, collect_warning, &w, &err), 0);
	assert_int_equal(log_reader_next(&r, &rec, &err), 1); /* header */
	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(w.n, 1); /* line 2: frame 0 was not given yet */
	assert_int_equal(w.line, 2);
	assert_int_equal(rec.type, REC_STACK);
	assert_int_equal(rec.line, 4);
	assert_int_equal(rec.stack.tid, 6);
	assert_int_equal(rec.stack.n_frames, 3);
	assert_string_equal(rec.stack.frames[0].fn, "f");
	assert_string_equal(rec.stack.frames[0].file, "a.py");
	assert_int_equal(rec.stack.frames[0].line, 3);
	assert_int_equal(rec.stack.frames[0].kind, FRAME_PYTHON);
	assert_string_equal(rec.stack.frames[1].module, "/bin/x");
	assert_int_equal(rec.stack.frames[1].off, 16);
	assert_int_equal(rec.stack.frames[1].fn_off, -1);
	assert_null(rec.stack.frames[1].file);
	assert_ptr_equal(rec.stack.frames[0].fn, rec.stack.frames[2].fn);
	/* Lines 5 (renumbers 1), 6 (frame 2 unknown), 7-9, 10-11 skipped; 12 fills frame 3. */
	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(rec.line, 13);
	assert_int_equal(w.n, 8);
	assert_int_equal(rec.stack.n_frames, 2);
	assert_string_equal(rec.stack.frames[0].fn, "gap");
	assert_string_equal(rec.stack.error, "stopped");
	assert_int_equal(log_reader_next(&r, &rec, &err), 0); /* frame 2 is a gap */
	assert_int_equal(w.n, 9);
	assert_int_equal(r.corrupt, 9);
	log_record_release(&rec);
	log_reader_close(&r);
	strbuf_release(&err);
	unlink(path);
	free(path);
}

/*
 * A frames record that begins far past the frames read (16 million, within FRAME_TABLE_MAX) is
 * skipped as corrupt: the table does not grow to a gigabyte for one hostile line; a small gap
 * (frames lost with a corrupt line) is taken.
 */
static void test_frames_far_past_the_end(void **state)
{
	(void)state;
	static const char text[] =
		"{\"type\":\"header\",\"format\":2}\n"
		"{\"type\":\"frames\",\"t\":1,\"first\":16000000,\"frames\":[{\"kind\":"
		"\"native\",\"fn\":\"far\"}]}\n"
		"{\"type\":\"stack\",\"t\":1,\"capture\":1,\"why\":\"peak\",\"pid\":5,\"frames\":["
		"16000000]}\n"
		"{\"type\":\"frames\",\"t\":1,\"first\":10,\"frames\":[{\"kind\":\"native\","
		"\"fn\":\"near\"}]}\n"
		"{\"type\":\"stack\",\"t\":1,\"capture\":1,\"why\":\"peak\",\"pid\":5,\"frames\":["
		"10]}\n";
	char *path = temp_log(text, sizeof(text) - 1);
	struct log_reader r;
	struct log_record rec;
	struct strbuf err = STRBUF_INIT;
	struct warnings w = {0};
	log_record_init(&rec);
	assert_int_equal(log_reader_open(&r, path, collect_warning, &w, &err), 0);
	assert_int_equal(log_reader_next(&r, &rec, &err), 1); /* header */
	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(rec.type, REC_STACK);
	assert_int_equal(rec.line, 5);
	assert_string_equal(rec.stack.frames[0].fn, "near");
	assert_int_equal(w.n, 2); /* lines 2 and 3 */
	assert_true(r.frames.alloc < 1000);
	assert_int_equal(log_reader_next(&r, &rec, &err), 0);
	log_record_release(&rec);
	log_reader_close(&r);
	strbuf_release(&err);
	unlink(path);
	free(path);
}

/*
 * Reading ahead decodes lines on other threads: a stack is still resolved with the frames of
 * every frames record before it, however the lines fall into chunks. Each of n stacks has a
 * new frame named by its number on top of all those before.
 */
static void test_stacks_read_ahead(void **state)
{
	(void)state;
	size_t n = 3000;
	struct strbuf sb = STRBUF_INIT;
	strbuf_addstr(&sb, "{\"type\":\"header\",\"format\":2,\"fields\":[\"pid\",\"rss\"],"
			   "\"tree_fields\":[\"nproc\"]}\n");
	for (size_t i = 0; i < n; i++) {
		for (int k = 0; k < 40; k++)
			strbuf_addf(&sb,
				    "{\"type\":\"sample\",\"t\":%zu.000,\"avail\":null,"
				    "\"tree\":[1],\"p\":[[7,%zu]]}\n",
				    i, i);
		strbuf_addf(&sb,
			    "{\"type\":\"frames\",\"t\":%zu,\"first\":%zu,\"frames\":["
			    "{\"kind\":\"native\",\"fn\":\"f%zu\"}]}\n",
			    i, i, i);
		strbuf_addf(&sb,
			    "{\"type\":\"stack\",\"t\":%zu,\"capture\":%zu,\"why\":\"every\","
			    "\"pid\":7,\"frames\":[%zu,0]}\n",
			    i, i + 1, i);
	}
	char *path = temp_log(sb.buf, sb.len);
	assert_true(sb.len > 8 * 1024 * 1024); /* many chunks */
	strbuf_release(&sb);
	for (int ahead = 0; ahead < 2; ahead++) {
		struct log_reader r;
		struct log_record rec;
		struct strbuf err = STRBUF_INIT;
		struct warnings w = {0};
		log_record_init(&rec);
		assert_int_equal(log_reader_open(&r, path, collect_warning, &w, &err), 0);
		int ret = ahead ? log_reader_read_ahead(&r, &rec, &err)
				: log_reader_next(&r, &rec, &err);
		size_t stacks = 0;
		for (; ret > 0; ret = log_reader_next(&r, &rec, &err)) {
			if (rec.type != REC_STACK)
				continue;
			char want[32];
			snprintf(want, sizeof(want), "f%zu", stacks);
			assert_int_equal(rec.stack.capture, (long)stacks + 1);
			assert_int_equal(rec.stack.n_frames, 2);
			assert_string_equal(rec.stack.frames[0].fn, want);
			assert_string_equal(rec.stack.frames[1].fn, "f0");
			stacks++;
		}
		assert_int_equal(ret, 0);
		assert_int_equal(stacks, n);
		assert_int_equal(w.n, 0);
		log_record_release(&rec);
		log_reader_close(&r);
		strbuf_release(&err);
	}
	unlink(path);
	free(path);
}

/* Format 4: the header's place and clock, clock records; damaged ones skipped. */
static void test_place_and_clocks(void **state)
{
	(void)state;
	enum record_type types[16];
	size_t n;
	struct warnings w = {0};
	struct log_reader r;
	struct strbuf err = STRBUF_INIT;
	assert_int_equal(read_all("place.jsonl", types, 16, &n, &w, &r, &err), 0);
	assert_int_equal(w.n, 0);
	assert_int_equal(n, 10);
	assert_int_equal(types[5], REC_CLOCK);
	assert_int_equal(types[8], REC_CLOCK);
	log_reader_close(&r);

	char *path = fixture("place.jsonl");
	struct log_record rec;
	log_record_init(&rec);
	assert_int_equal(log_reader_open(&r, path, collect_warning, &w, &err), 0);
	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	const struct header_info *h = &rec.header;
	assert_int_equal(h->format, 4);
	assert_string_equal(h->place.job, "599130113");
	assert_int_equal(h->place.rank, 2);
	assert_int_equal(h->place.local_rank, 0);
	assert_int_equal(h->place.size, 4);
	assert_int_equal(h->place.node_index, -1);
	assert_string_equal(h->place.launcher, "openmpi");
	assert_false(h->place.node_wide);
	assert_int_equal(h->clock.wall_us, 1796119200000000);
	assert_int_equal(h->clock.synced, 1);
	assert_int_equal(h->clock.maxerror_us, 12345);
	assert_int_equal(h->clock.esterror_us, 210);
	while (log_reader_next(&r, &rec, &err) > 0 && rec.type != REC_CLOCK)
		;
	assert_int_equal(rec.type, REC_CLOCK);
	assert_true(fabs(rec.clock.t - 300.000125) < 1e-9);
	assert_int_equal(rec.clock.wall_us, 1796119500000275);
	assert_int_equal(rec.clock.maxerror_us, 12500);
	log_record_release(&rec);
	log_reader_close(&r);
	free(path);

	/* a clock record without its wall clock or time is corrupt; unknown members are null */
	const char text[] =
		"{\"type\":\"header\",\"format\":4,\"place\":{\"rank\":-3,\"size\":0,\"job\":7},"
		"\"clock\":{\"wall_us\":\"x\",\"synced\":1},\"job\":{\"PMI_RANK\":\"5\"}}\n"
		"{\"type\":\"clock\",\"t\":1.5}\n"
		"{\"type\":\"clock\",\"wall_us\":1796119500000275}\n"
		"{\"type\":\"clock\",\"t\":2,\"wall_us\":1796119500000275,\"synced\":null}\n";
	path = temp_log(text, sizeof(text) - 1);
	memset(&w, 0, sizeof(w));
	assert_int_equal(log_reader_open(&r, path, collect_warning, &w, &err), 0);
	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	/* a place given is taken as it is, not derived from the job variables */
	assert_null(rec.header.place.job);
	assert_int_equal(rec.header.place.rank, -1);
	assert_int_equal(rec.header.place.size, -1);
	assert_null(rec.header.place.launcher);
	assert_int_equal(rec.header.clock.wall_us, -1);
	assert_int_equal(rec.header.clock.synced, -1);
	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(rec.type, REC_CLOCK);
	assert_true(rec.clock.t == 2);
	assert_int_equal(rec.clock.synced, -1);
	assert_int_equal(rec.clock.maxerror_us, -1);
	assert_int_equal(log_reader_next(&r, &rec, &err), 0);
	assert_int_equal(w.n, 2);
	assert_int_equal(r.corrupt, 2);
	log_record_release(&rec);
	log_reader_close(&r);
	unlink(path);
	free(path);
	strbuf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_complete),
		cmocka_unit_test(test_place_and_clocks),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_corrupt_middle_line),
		cmocka_unit_test(test_reordered_fields),
		cmocka_unit_test(test_not_a_log),
		cmocka_unit_test(test_newer_format),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_plain_text_and_cut_header),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_last_line_without_newline),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_lock_probe),
		cmocka_unit_test(test_events_and_spans),
		cmocka_unit_test(test_hostile_labels),
		cmocka_unit_test(test_damaged_marks),
		cmocka_unit_test(test_read_ahead),
		cmocka_unit_test(test_not_a_regular_file),
		cmocka_unit_test(test_line_longer_than_the_cap),
		cmocka_unit_test(test_long_first_and_last_lines),
		cmocka_unit_test(test_text_cut_to_the_writer_caps),
		cmocka_unit_test(test_stack_frames),
		cmocka_unit_test(test_frames_far_past_the_end),
		cmocka_unit_test(test_stacks_read_ahead),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
