/*
 * test_log_writer: records written by lib/log/writer.c read back by lib/log/reader.c with the
 * same values, hostile command lines (quotes, newlines, control bytes, invalid UTF-8) included;
 * the lock that refuses a second writer; refusing to overwrite a file that is not a log; an
 * existing log untouched until the commit, and a generated name that never replaces anything;
 * how soon buffered records reach the file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "log/reader.h"
#include "log/writer.h"

static char *tmp_path(void)
{
	char *p = strdup("/tmp/memline-test-log-XXXXXX");
	int fd = mkstemp(p);
	assert_true(fd >= 0);
	close(fd);
	unlink(p); /* the writer creates it */
	return p;
}

static void write_all(const char *path)
{
	struct log_writer w;
	struct strbuf err = STRBUF_INIT;
	assert_int_equal(log_writer_open(&w, path, true, &err), 0);
	char *command[] = {"python3", "a \"quoted\"\nline", NULL};
	pid_t pids[] = {4242};
	struct header_info h = {.format = 1,
				.memline_version = "0.1.0",
				.mode = "run",
				.host = "h\tost",
				.start_iso = "2026-11-21T10:00:00.000Z",
				.start_unix = 1795000000.25,
				.command = command,
				.pid = 4242,
				.pids = pids,
				.n_pids = 1,
				.cwd = "/tmp",
				.job_names = {"SLURM_JOB_ID"},
				.job_values = {"881"},
				.n_job = 1,
				.page_size = 4096,
				.clk_tck = 100,
				.mem_total = 16000000,
				.kernel = "6.1",
				.interval_min = 0.01,
				.interval_max = 5,
				.peak_reset = true,
				.heap = HEAP_EXACT,
				.place = {.job = "881\"x",
					  .rank = 3,
					  .local_rank = -1,
					  .size = 4,
					  .node_index = 1,
					  .launcher = "slurm",
					  .node_wide = true},
				.clock = {.wall_us = 1795000000250001,
					  .synced = 0,
					  .maxerror_us = 16000000,
					  .esterror_us = -1}};
	log_write_header(&w, &h);
	assert_int_equal(log_writer_commit(&w, 1, &err), 0);
	struct clock_info ck = {.t = 0.123456,
				.wall_us = 1795000000373458,
				.synced = 1,
				.maxerror_us = 5,
				.esterror_us = 1};
	log_write_clock(&w, &ck);
	char cmdline[] = "sh\0-c\0echo \x01\xff\xc3\x28 </script>\n";
	struct proc_info p = {.pid = 4242,
			      .ppid = 1,
			      .t = 0.001,
			      .start = -0.5,
			      .comm = "sh",
			      .cmdline = cmdline,
			      .cmdline_len = sizeof(cmdline) - 1};
	log_write_proc(&w, &p);
	struct proc_values v[2];
	for (int k = 0; k < 2; k++) {
		for (int i = 0; i < PROC_NFIELDS; i++)
			v[k].v[i] = 1000 * k + i + 1; /* pid 1 and 1001 */
		v[k].state = k ? 'S' : '"';	      /* a state letter that would break JSON */
	}
	v[1].v[PF_PSS] = -1;
	struct tree_values tree;
	for (int i = 0; i < TREE_NFIELDS; i++)
		tree.v[i] = 10 + i;
	struct thread_info th = {.t = 0.2, .pid = 4242, .tid = 4243, .name = "load\"er\n"};
	log_write_thread(&w, &th);
	struct heap_info hp = {.t = 0.2, .pid = 4242, .on = false, .why = "a static \"binary\""};
	log_write_heap(&w, &hp);
	struct thread_values rows[2];
	for (int k = 0; k < 2; k++)
		for (int i = 0; i < THREAD_NFIELDS; i++)
			rows[k].v[i] = 100 * k + i + 1;
	rows[0].v[TH_PID] = 4242;
	rows[0].v[TH_HEAP] = -1;
	rows[1].v[TH_PID] = 4242;
	rows[1].v[TH_TID] = -1; /* the threads past the heap's slots */
	log_write_sample(&w, 0.25, 12000000, &tree, v, 2, rows, 2);
	th.end = true;
	th.name = NULL;
	log_write_thread(&w, &th);
	struct exit_info e = {.pid = 4242,
			      .t = 1.5,
			      .how = EXIT_HOW_KILLED,
			      .code = -1,
			      .signal = 9,
			      .oom = true,
			      .peak = 300000,
			      .utime = 10,
			      .stime = 20};
	log_write_exit(&w, &e);
	pid_t oom[] = {4242};
	struct end_info end = {.t = 1.5,
			       .status = RUN_OOM_KILLED,
			       .exit_code = -1,
			       .signal = 9,
			       .oom_killed = oom,
			       .n_oom_killed = 1,
			       .self_utime = 3,
			       .self_stime = 4};
	log_write_end(&w, &end);
	assert_int_equal(log_writer_close(&w, &err), 0);
	strbuf_release(&err);
}

static void test_roundtrip(void **state)
{
	(void)state;
	char *path = tmp_path();
	write_all(path);
	struct log_reader r;
	struct log_record rec;
	struct strbuf err = STRBUF_INIT;
	log_record_init(&rec);
	assert_int_equal(log_reader_open(&r, path, NULL, NULL, &err), 0);

	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(rec.type, REC_HEADER);
	assert_string_equal(rec.header.command[1], "a \"quoted\"\nline");
	assert_string_equal(rec.header.host, "h\tost");
	assert_int_equal(rec.header.pid, 4242);
	assert_int_equal(rec.header.n_job, 1);
	assert_string_equal(rec.header.job_values[0], "881");
	assert_true(rec.header.peak_reset);
	assert_true(rec.header.interval_max == 5.0);
	assert_int_equal(rec.header.heap, HEAP_EXACT);
	const struct place_info *pl = &rec.header.place;
	assert_string_equal(pl->job, "881\"x");
	assert_int_equal(pl->rank, 3);
	assert_int_equal(pl->local_rank, -1);
	assert_int_equal(pl->size, 4);
	assert_int_equal(pl->node_index, 1);
	assert_string_equal(pl->launcher, "slurm");
	assert_true(pl->node_wide);
	assert_int_equal(rec.header.clock.wall_us, 1795000000250001);
	assert_int_equal(rec.header.clock.synced, 0);
	assert_int_equal(rec.header.clock.maxerror_us, 16000000);
	assert_int_equal(rec.header.clock.esterror_us, -1);

	/* the clock record's time to the microsecond, as its wall clock */
	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(rec.type, REC_CLOCK);
	assert_true(fabs(rec.clock.t - 0.123456) < 1e-9);
	assert_int_equal(rec.clock.wall_us, 1795000000373458);
	assert_int_equal(rec.clock.synced, 1);
	assert_int_equal(rec.clock.maxerror_us, 5);
	assert_int_equal(rec.clock.esterror_us, 1);

	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(rec.type, REC_PROC);
	assert_int_equal(rec.proc.ppid, 1);
	assert_true(rec.proc.start == -0.5);
	/* Control bytes survive escaped; invalid UTF-8 becomes U+FFFD, never raw. */
	const char want[] = "sh\0-c\0echo \x01\xef\xbf\xbd\xef\xbf\xbd( </script>\n";
	assert_int_equal(rec.proc.cmdline_len, sizeof(want) - 1);
	assert_memory_equal(rec.proc.cmdline, want, sizeof(want) - 1);

	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(rec.type, REC_THREAD);
	assert_int_equal(rec.thread.tid, 4243);
	assert_string_equal(rec.thread.name, "load\"er\n");
	assert_false(rec.thread.end);
	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(rec.type, REC_HEAP);
	assert_false(rec.heap.on);
	assert_string_equal(rec.heap.why, "a static \"binary\"");
	assert_null(rec.heap.allocator);

	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(rec.type, REC_SAMPLE);
	assert_int_equal(rec.sample.n_threads, 2);
	assert_int_equal(rec.sample.threads[0].v[TH_HEAP], -1);
	assert_int_equal(rec.sample.threads[0].v[TH_MMAP], 1 + TH_MMAP);
	assert_int_equal(rec.sample.threads[1].v[TH_TID], -1);
	assert_int_equal(rec.sample.threads[1].v[TH_NFREE], 101 + TH_NFREE);
	assert_true(rec.sample.t == 0.25);
	assert_int_equal(rec.sample.avail, 12000000);
	assert_int_equal(rec.sample.n, 2);
	for (int i = 0; i < PROC_NFIELDS; i++)
		assert_int_equal(rec.sample.procs[0].v[i], i + 1);
	assert_int_equal(rec.sample.procs[1].v[PF_PSS], -1);
	assert_int_equal(rec.sample.procs[1].v[PF_WRITE_BYTES], 1001 + PF_WRITE_BYTES);
	assert_int_equal(rec.sample.procs[0].state, '?');
	assert_int_equal(rec.sample.procs[1].state, 'S');
	for (int i = 0; i < TREE_NFIELDS; i++)
		assert_int_equal(rec.sample.tree.v[i], 10 + i);

	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(rec.type, REC_THREAD);
	assert_true(rec.thread.end);
	assert_null(rec.thread.name);

	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(rec.type, REC_EXIT);
	assert_int_equal(rec.exit.how, EXIT_HOW_KILLED);
	assert_int_equal(rec.exit.signal, 9);
	assert_int_equal(rec.exit.code, -1);
	assert_true(rec.exit.oom);
	assert_int_equal(rec.exit.peak, 300000);

	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(rec.type, REC_END);
	assert_int_equal(rec.end.status, RUN_OOM_KILLED);
	assert_int_equal(rec.end.n_oom_killed, 1);
	assert_int_equal(rec.end.oom_killed[0], 4242);
	assert_int_equal(rec.end.samples, 1);

	assert_int_equal(log_reader_next(&r, &rec, &err), 0);
	assert_false(r.truncated);
	assert_int_equal(r.corrupt, 0);
	log_record_release(&rec);
	log_reader_close(&r);
	unlink(path);
	free(path);
	strbuf_release(&err);
}

static void test_second_writer_refused(void **state)
{
	(void)state;
	char *path = tmp_path();
	struct log_writer w1, w2;
	struct strbuf err = STRBUF_INIT;
	assert_int_equal(log_writer_open(&w1, path, false, &err), 0);
	struct header_info h = {.memline_version = "x",
				.mode = "run",
				.host = "h",
				.start_iso = "s",
				.kernel = "k"};
	log_write_header(&w1, &h);
	assert_int_equal(log_writer_commit(&w1, 10, &err), 0);
	assert_true(log_is_being_written(path));
	assert_int_equal(log_writer_open(&w2, path, false, &err), -1);
	assert_non_null(strstr(err.buf, "being written by another memline"));
	/* The first writer's records are intact. */
	FILE *f = fopen(path, "r");
	char line[32] = "";
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	assert_int_equal(strncmp(line, "{\"type\":\"header\"", 16), 0);
	assert_int_equal(log_writer_close(&w1, &err), 0);
	assert_false(log_is_being_written(path));
	unlink(path);
	free(path);
	strbuf_release(&err);
}

static void test_not_a_log_refused(void **state)
{
	(void)state;
	char *path = tmp_path();
	FILE *f = fopen(path, "w");
	fputs("int main(void) { return 0; }\n", f);
	fclose(f);
	struct log_writer w;
	struct strbuf err = STRBUF_INIT;
	assert_int_equal(log_writer_open(&w, path, false, &err), -1);
	assert_non_null(strstr(err.buf, "is not a memline log"));
	f = fopen(path, "r");
	char line[64] = "";
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	assert_string_equal(line, "int main(void) { return 0; }\n");
	/* Nor what is not a file. */
	strbuf_reset(&err);
	assert_int_equal(log_writer_open(&w, "/dev/null", false, &err), -1);
	assert_non_null(strstr(err.buf, "is not a memline log"));
	strbuf_reset(&err);
	assert_int_equal(log_writer_open(&w, "/tmp", false, &err), -1);
	assert_non_null(strstr(err.buf, "is a directory"));
	unlink(path);
	free(path);
	strbuf_release(&err);
}

/* Bytes the writer has put into its file so far (its descriptor, wherever the file is). */
static long long written(const struct log_writer *w)
{
	struct stat st;
	assert_int_equal(fstat(w->fd, &st), 0);
	return (long long)st.st_size;
}

/*
 * How soon records reach the file: a record waits in the buffer at most flush_secs (0.5 s)
 * after the last write, on the caller's clock (now); a forced flush writes at once.
 */
static void test_flush_deadline(void **state)
{
	(void)state;
	char *path = tmp_path();
	struct log_writer w;
	struct strbuf err = STRBUF_INIT;
	assert_int_equal(log_writer_open(&w, path, true, &err), 0);
	struct header_info h = {.memline_version = "x",
				.mode = "run",
				.host = "h",
				.start_iso = "s",
				.kernel = "k"};
	log_write_header(&w, &h);
	assert_int_equal(log_writer_commit(&w, 100.0, &err), 0);
	assert_int_equal(log_writer_flush(&w, 100.0, true, &err), 0);
	long long after_header = written(&w);
	assert_true(after_header > 0);
	assert_true(log_writer_due(&w) == INFINITY); /* nothing buffered */

	struct tree_values tree = {{0}};
	log_write_sample(&w, 1.0, 1000, &tree, NULL, 0, NULL, 0);
	assert_true(fabs(log_writer_due(&w) - 100.5) < 1e-9);
	assert_int_equal(log_writer_flush(&w, 100.2, false, &err), 0);
	assert_int_equal(written(&w), after_header); /* not yet due */
	assert_int_equal(log_writer_flush(&w, 100.5, false, &err), 0);
	long long after_sample = written(&w);
	assert_true(after_sample > after_header); /* due: written */

	/* A record written long after the last write is due at once. */
	log_write_sample(&w, 2.0, 1000, &tree, NULL, 0, NULL, 0);
	assert_int_equal(log_writer_flush(&w, 200.0, false, &err), 0);
	assert_true(written(&w) > after_sample);
	assert_int_equal(log_writer_close(&w, &err), 0);
	unlink(path);
	free(path);
	strbuf_release(&err);
}

/* A directory of its own for a test, and how many hidden (temporary) files it holds. */
static char *tmp_dir(void)
{
	char *d = strdup("/tmp/memline-test-dir-XXXXXX");
	assert_non_null(mkdtemp(d));
	return d;
}

static int hidden_files(const char *dir)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		n += de->d_name[0] == '.' && strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

static char *path_in(const char *dir, const char *name)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_addf(&sb, "%s/%s", dir, name);
	return strbuf_detach(&sb, NULL);
}

static char *read_whole(const char *path)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	struct strbuf sb = STRBUF_INIT;
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		strbuf_add(&sb, buf, n);
	fclose(f);
	return strbuf_detach(&sb, NULL);
}

static void header_of(struct log_writer *w, const char *host)
{
	struct header_info h = {.memline_version = "x",
				.mode = "run",
				.host = (char *)host,
				.start_iso = "s",
				.kernel = "k"};
	log_write_header(w, &h);
}

static void test_existing_log_kept_until_commit(void **state)
{
	(void)state;
	char *dir = tmp_dir(), *path = path_in(dir, "keep.jsonl");
	write_all(path);
	char *before = read_whole(path);
	struct log_writer w, w2;
	struct strbuf err = STRBUF_INIT;
	assert_int_equal(log_writer_open(&w, path, false, &err), 0);
	/* Locked from now on: a second memline cannot start on it. */
	assert_true(log_is_being_written(path));
	assert_int_equal(log_writer_open(&w2, path, false, &err), -1);
	assert_non_null(strstr(err.buf, "being written by another memline"));
	header_of(&w, "new");
	log_writer_flush(&w, 10, true, &err);
	char *during = read_whole(path);
	assert_string_equal(during, before);
	/* The recording never started: the old log is as it was, nothing is left beside it.
	 */
	log_writer_discard(&w);
	char *after = read_whole(path);
	assert_string_equal(after, before);
	assert_false(log_is_being_written(path));
	assert_int_equal(hidden_files(dir), 0);

	/* It did start: the new log replaces it whole, with the old one's mode. */
	chmod(path, 0600);
	assert_int_equal(log_writer_open(&w, path, false, &err), 0);
	header_of(&w, "new");
	assert_int_equal(log_writer_commit(&w, 10, &err), 0);
	assert_string_equal(w.path, path);
	assert_true(log_is_being_written(path));
	char *replaced = read_whole(path);
	assert_non_null(strstr(replaced, "\"host\":\"new\""));
	assert_null(strstr(replaced, "\"type\":\"end\""));
	assert_int_equal(log_writer_close(&w, &err), 0);
	assert_false(w.removed);
	assert_false(w.moved);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(hidden_files(dir), 0);
	free(before);
	free(during);
	free(after);
	free(replaced);
	unlink(path);
	rmdir(dir);
	free(path);
	free(dir);
	strbuf_release(&err);
}

static void test_symlink_followed(void **state)
{
	(void)state;
	char *dir = tmp_dir(), *path = path_in(dir, "real.jsonl"), *link = path_in(dir, "l.jsonl");
	write_all(path);
	assert_int_equal(symlink("real.jsonl", link), 0);
	struct log_writer w;
	struct strbuf err = STRBUF_INIT;
	assert_int_equal(log_writer_open(&w, link, false, &err), 0);
	header_of(&w, "via-link");
	assert_int_equal(log_writer_commit(&w, 10, &err), 0);
	assert_int_equal(log_writer_close(&w, &err), 0);
	struct stat st;
	assert_int_equal(lstat(link, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	char *got = read_whole(path);
	assert_non_null(strstr(got, "via-link"));
	free(got);
	unlink(link);
	unlink(path);
	rmdir(dir);
	free(link);
	free(path);
	free(dir);
	strbuf_release(&err);
}

static void test_exclusive_never_replaces(void **state)
{
	(void)state;
	char *dir = tmp_dir();
	char *base = path_in(dir, "x.jsonl"), *two = path_in(dir, "x-2.jsonl"),
	     *three = path_in(dir, "x-3.jsonl"), *four = path_in(dir, "x-4.jsonl");
	FILE *f = fopen(base, "w");
	fputs("someone else's\n", f);
	fclose(f);
	/* A dangling symbolic link takes a name too (access() would have said it is free).
	 */
	assert_int_equal(symlink("/nonexistent/memline-test", two), 0);
	struct log_writer w;
	struct strbuf err = STRBUF_INIT;
	assert_int_equal(log_writer_open(&w, base, true, &err), 0);
	assert_string_equal(w.path, three);
	/* Taken between the open and the commit: the log moves on to the next name. */
	assert_int_equal(symlink("/nonexistent/memline-test", three), 0);
	header_of(&w, "mine");
	assert_int_equal(log_writer_commit(&w, 10, &err), 0);
	assert_string_equal(w.path, four);
	assert_int_equal(log_writer_close(&w, &err), 0);
	char *got = read_whole(base);
	assert_string_equal(got, "someone else's\n");
	free(got);
	char target[64];
	assert_int_equal(readlink(three, target, sizeof(target)), 25);
	got = read_whole(four);
	assert_non_null(strstr(got, "mine"));
	free(got);
	assert_int_equal(hidden_files(dir), 0);
	unlink(base);
	unlink(two);
	unlink(three);
	unlink(four);
	rmdir(dir);
	free(base);
	free(two);
	free(three);
	free(four);
	free(dir);
	strbuf_release(&err);
}

/* Three frames of three kinds of knowledge: symbol and line, module and offset, Python. */
static const struct frame_info grow = {FRAME_NATIVE, "grow", "/bin/solver", 4660, 24,
				       "solver.c",   41};
static const struct frame_info nosym = {FRAME_NATIVE, NULL, "/lib/libfoo.so.1", 73216, -1, NULL, 0};
static const struct frame_info py = {FRAME_PYTHON, "load\"batch", NULL, -1, -1, "train.py", 88};

/* Writes a log with stacks (two captures sharing frames) into path; with or without --stacks. */
static void write_stacks(const char *path, bool asked)
{
	struct log_writer w;
	struct strbuf err = STRBUF_INIT;
	assert_int_equal(log_writer_open(&w, path, false, &err), 0);
	struct header_info h = {.memline_version = "x",
				.mode = "run",
				.host = "h",
				.start_iso = "s",
				.kernel = "k",
				.stacks_when =
					asked ? (1u << STACK_PEAK) | (1u << STACK_SIGNAL) : 0,
				.stacks_threshold = 0.05,
				.stacks_gap = 1,
				.stacks_budget = 0.02};
	log_write_header(&w, &h);
	assert_int_equal(log_writer_commit(&w, 1, &err), 0);
	struct frame_info one[] = {grow, nosym};
	struct stack_info s = {.t = 1.25,
			       .capture = 1,
			       .why = STACK_EVENT,
			       .label = "a\0b",
			       .label_len = 3,
			       .pid = 10,
			       .tid = 11,
			       .thread = "main",
			       .frames = one,
			       .n_frames = 2,
			       .stall_us = 84};
	log_write_stack(&w, &s);
	/* The same frames again, copies at other addresses, and one new. */
	struct frame_info two[] = {py, grow, nosym};
	char fn[] = "grow";
	two[1].fn = fn;
	s = (struct stack_info){.t = 2,
				.capture = 2,
				.why = STACK_PEAK,
				.pid = 10,
				.tid = 12,
				.frames = two,
				.n_frames = 3,
				.truncated = true,
				.stall_us = -1};
	log_write_stack(&w, &s);
	/* No new frame: no frames record; an error and no frames. */
	s = (struct stack_info){.t = 2,
				.capture = 2,
				.why = STACK_PEAK,
				.pid = 10,
				.tid = 13,
				.frames = one + 1,
				.n_frames = 1,
				.stall_us = 5};
	log_write_stack(&w, &s);
	s = (struct stack_info){.t = 3,
				.capture = 3,
				.why = STACK_SIGNAL,
				.pid = 10,
				.tid = 10,
				.error = "process exited",
				.stall_us = -1};
	log_write_stack(&w, &s);
	struct end_info end = {.t = 4,
			       .exit_code = 0,
			       .signal = -1,
			       .stacks = {.captures = 3, .skipped = 1, .failed = 1, .cpu = 0.012}};
	log_write_end(&w, &end);
	assert_int_equal(log_writer_close(&w, &err), 0);
	strbuf_release(&err);
}

/* The lines of the log at path after its header. */
static char *body_of(const char *path)
{
	char *all = read_whole(path);
	char *nl = strchr(all, '\n');
	assert_non_null(nl);
	char *body = strdup(nl + 1);
	free(all);
	return body;
}

static void test_stacks_written(void **state)
{
	(void)state;
	char *path = tmp_path();
	write_stacks(path, true);
	char *all = read_whole(path);
	assert_non_null(strstr(all, ",\"stacks\":{\"when\":[\"peaks\",\"signal\"],\"every\":null,"
				    "\"threshold\":0.050,\"gap\":1.000,\"budget\":0.020}"));
	free(all);
	char *body = body_of(path);
	const char *want =
		"{\"type\":\"frames\",\"t\":1.250,\"first\":0,\"frames\":["
		"{\"kind\":\"native\",\"fn\":\"grow\",\"mod\":\"/bin/"
		"solver\",\"off\":4660,\"fn_off\":24,"
		"\"file\":\"solver.c\",\"line\":41},"
		"{\"kind\":\"native\",\"fn\":null,\"mod\":\"/lib/libfoo.so.1\",\"off\":73216}]}\n"
		"{\"type\":\"stack\",\"t\":1.250,\"capture\":1,\"why\":\"event\",\"label\":"
		"\"a\\u0000b\","
		"\"pid\":10,\"tid\":11,\"thread\":\"main\",\"frames\":[0,1],\"stall_us\":84}\n"
		"{\"type\":\"frames\",\"t\":2.000,\"first\":2,\"frames\":["
		"{\"kind\":\"python\",\"fn\":\"load\\\"batch\",\"file\":\"train.py\",\"line\":88}]}"
		"\n"
		"{\"type\":\"stack\",\"t\":2.000,\"capture\":2,\"why\":\"peak\",\"pid\":10,\"tid\":"
		"12,"
		"\"frames\":[2,0,1],\"truncated\":true}\n"
		"{\"type\":\"stack\",\"t\":2.000,\"capture\":2,\"why\":\"peak\",\"pid\":10,\"tid\":"
		"13,"
		"\"frames\":[1],\"stall_us\":5}\n"
		"{\"type\":\"stack\",\"t\":3.000,\"capture\":3,\"why\":\"signal\",\"pid\":10,"
		"\"tid\":10,"
		"\"frames\":[],\"error\":\"process exited\"}\n";
	assert_memory_equal(body, want, strlen(want));
	assert_non_null(strstr(body + strlen(want), ",\"stacks\":{\"captures\":3,\"skipped\":1,"
						    "\"failed\":1,\"cpu\":0.012}}\n"));
	free(body);
	unlink(path);
	free(path);
}

static void assert_frame(const struct frame_info *got, const struct frame_info *want)
{
	assert_int_equal(got->kind, want->kind);
	if (want->fn)
		assert_string_equal(got->fn, want->fn);
	else
		assert_null(got->fn);
	if (want->module)
		assert_string_equal(got->module, want->module);
	else
		assert_null(got->module);
	if (want->file)
		assert_string_equal(got->file, want->file);
	else
		assert_null(got->file);
	assert_int_equal(got->off, want->off);
	assert_int_equal(got->fn_off, want->fn_off);
	assert_int_equal(got->line, want->line);
}

/* What the writer wrote, the reader reads back: frames resolved, labels with NULs. */
static void test_stacks_roundtrip(void **state)
{
	(void)state;
	char *path = tmp_path();
	write_stacks(path, true);
	struct log_reader r;
	struct log_record rec;
	struct strbuf err = STRBUF_INIT;
	log_record_init(&rec);
	assert_int_equal(log_reader_open(&r, path, NULL, NULL, &err), 0);
	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(rec.header.stacks_when, (1u << STACK_PEAK) | (1u << STACK_SIGNAL));
	assert_true(rec.header.stacks_threshold == 0.05 && rec.header.stacks_gap == 1.0);
	assert_true(rec.header.stacks_budget == 0.02 && rec.header.stacks_every == 0);

	assert_int_equal(log_reader_next(&r, &rec, &err), 1); /* the frames record gives none */
	assert_int_equal(rec.type, REC_STACK);
	assert_int_equal(rec.stack.capture, 1);
	assert_int_equal(rec.stack.why, STACK_EVENT);
	assert_int_equal(rec.stack.label_len, 3);
	assert_memory_equal(rec.stack.label, "a\0b", 3);
	assert_int_equal(rec.stack.tid, 11);
	assert_string_equal(rec.stack.thread, "main");
	assert_int_equal(rec.stack.stall_us, 84);
	assert_int_equal(rec.stack.n_frames, 2);
	assert_frame(&rec.stack.frames[0], &grow);
	assert_frame(&rec.stack.frames[1], &nosym);

	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(rec.stack.n_frames, 3);
	assert_true(rec.stack.truncated);
	assert_int_equal(rec.stack.stall_us, -1);
	assert_frame(&rec.stack.frames[0], &py);
	assert_frame(&rec.stack.frames[1], &grow);
	assert_frame(&rec.stack.frames[2], &nosym);

	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(rec.stack.n_frames, 1);
	assert_frame(&rec.stack.frames[0], &nosym);

	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(rec.stack.why, STACK_SIGNAL);
	assert_int_equal(rec.stack.n_frames, 0);
	assert_string_equal(rec.stack.error, "process exited");

	assert_int_equal(log_reader_next(&r, &rec, &err), 1);
	assert_int_equal(rec.type, REC_END);
	assert_int_equal(rec.end.stacks.captures, 3);
	assert_int_equal(rec.end.stacks.skipped, 1);
	assert_int_equal(rec.end.stacks.failed, 1);
	assert_true(rec.end.stacks.cpu == 0.012);
	assert_int_equal(log_reader_next(&r, &rec, &err), 0);
	assert_int_equal(r.corrupt, 0);
	log_record_release(&rec);
	log_reader_close(&r);
	strbuf_release(&err);
	unlink(path);
	free(path);
}

/* Without --stacks, neither the header nor the end says anything of stacks. */
static void test_no_stacks_asked(void **state)
{
	(void)state;
	char *path = tmp_path();
	write_stacks(path, false);
	char *all = read_whole(path);
	char *end = strstr(all, "{\"type\":\"end\"");
	assert_non_null(end);
	assert_null(strstr(end, "stacks"));
	assert_null(strstr(all, "\"when\""));
	free(all);
	struct log_reader r;
	struct log_record rec;
	struct strbuf err = STRBUF_INIT;
	log_record_init(&rec);
	assert_int_equal(log_reader_open(&r, path, NULL, NULL, &err), 0);
	while (log_reader_next(&r, &rec, &err) > 0 && rec.type != REC_END)
		;
	assert_int_equal(rec.type, REC_END);
	assert_int_equal(rec.end.stacks.captures, -1);
	log_record_release(&rec);
	log_reader_close(&r);
	strbuf_release(&err);
	unlink(path);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_second_writer_refused),
		cmocka_unit_test(test_not_a_log_refused),
		cmocka_unit_test(test_flush_deadline),
		cmocka_unit_test(test_existing_log_kept_until_commit),
		cmocka_unit_test(test_symlink_followed),
		cmocka_unit_test(test_exclusive_never_replaces),
		cmocka_unit_test(test_stacks_written),
		cmocka_unit_test(test_stacks_roundtrip),
		cmocka_unit_test(test_no_stacks_asked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
