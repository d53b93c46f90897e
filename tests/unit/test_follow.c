/*
 * test_follow: following a log as it grows (lib/model/follow.c): records appear as whole lines
 * arrive, a line written in two pieces waits for its end, the status moves from running (the
 * writer's lock held) to the end record's, a writer that dies leaves the run incomplete, a
 * log started anew starts the model over, a line longer than LOG_LINE_MAX is read past and
 * skipped, and what is not a regular file is refused.
 */
#include <fcntl.h>
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

#include "model/follow.h"

static const char header[] = "{\"type\":\"header\",\"format\":1,\"fields\":[\"pid\",\"rss\"],"
			     "\"tree_fields\":[\"nproc\",\"rss\"],\"command\":[\"w\"]}\n";
static const char proc[] = "{\"type\":\"proc\",\"t\":0,\"pid\":7,\"comm\":\"w\"}\n";
static const char sample1[] = "{\"type\":\"sample\",\"t\":0.5,\"avail\":null,\"tree\":[1,100],"
			      "\"p\":[[7,100]]}\n";
static const char sample2[] = "{\"type\":\"sample\",\"t\":1.0,\"avail\":null,\"tree\":[1,300],"
			      "\"p\":[[7,300]]}\n";
static const char event[] = "{\"type\":\"event\",\"t\":0.7,\"label\":\"hello\"}\n";
static const char output[] =
	"{\"type\":\"output\",\"t\":0.8,\"stream\":\"stderr\",\"text\":\"hi\"}\n";
static const char end[] = "{\"type\":\"end\",\"t\":1.2,\"status\":\"completed\",\"exit_code\":0}\n";

struct writer {
	char path[64];
	int fd;
};

/* A log being written: created, locked like memline's writer holds it. */
static void writer_open(struct writer *w)
{
	snprintf(w->path, sizeof(w->path), "/tmp/memline-follow-XXXXXX");
	w->fd = mkstemp(w->path);
	assert_true(w->fd >= 0);
	assert_int_equal(flock(w->fd, LOCK_EX), 0);
}

static void put(struct writer *w, const char *s, size_t n)
{
	assert_int_equal(write(w->fd, s, n), (ssize_t)n);
}

static void puts_(struct writer *w, const char *s)
{
	put(w, s, strlen(s));
}

static void test_grows(void **state)
{
	(void)state;
	struct writer w;
	struct follow f;
	struct strbuf err = STRBUF_INIT;
	writer_open(&w);
	assert_int_equal(follow_open(&f, w.path, NULL, NULL, &err), 0);
	assert_int_equal(follow_poll(&f, &err), 0); /* empty: a recording that just began */
	assert_false(follow_finished(&f));

	puts_(&w, header);
	puts_(&w, proc);
	assert_int_equal(follow_poll(&f, &err), 2);
	assert_true(f.run.has_header);
	assert_int_equal(f.run.n_procs, 1);
	assert_int_equal(f.run.status, RUN_RUNNING);

	/* Half a line waits for the rest. */
	put(&w, sample1, 20);
	assert_int_equal(follow_poll(&f, &err), 0);
	assert_int_equal(f.run.n_samples, 0);
	put(&w, sample1 + 20, strlen(sample1) - 20);
	puts_(&w, event);
	puts_(&w, output);
	puts_(&w, sample2);
	assert_int_equal(follow_poll(&f, &err), 4);
	assert_int_equal(f.run.n_samples, 2);
	assert_int_equal(f.run.peak, 300);
	assert_int_equal(f.run.n_events, 1);
	assert_string_equal(f.run.events[0].label, "hello");
	assert_int_equal(f.run.events[0].rss, 300); /* the first sample at or after it */
	assert_int_equal(f.run.n_outputs, 1);
	assert_true(f.run.outputs[0].err);
	assert_string_equal(f.run.outputs[0].text, "hi");
	assert_false(follow_finished(&f));

	puts_(&w, end);
	assert_int_equal(follow_poll(&f, &err), 1);
	assert_true(follow_finished(&f));
	assert_int_equal(f.run.status, RUN_COMPLETED);
	follow_release(&f);
	close(w.fd);
	unlink(w.path);
	strbuf_release(&err);
}

/* A frames record read in one poll serves the stacks of later polls; it is no record itself. */
static void test_stacks_across_polls(void **state)
{
	(void)state;
	struct writer w;
	struct follow f;
	struct strbuf err = STRBUF_INIT;
	writer_open(&w);
	puts_(&w, header);
	assert_int_equal(follow_open(&f, w.path, NULL, NULL, &err), 0);
	assert_int_equal(follow_poll(&f, &err), 1);
	puts_(&w, "{\"type\":\"frames\",\"t\":1,\"first\":0,\"frames\":[{\"kind\":\"native\","
		  "\"fn\":\"grow\"},{\"kind\":\"native\",\"fn\":\"main\"}]}\n");
	assert_int_equal(follow_poll(&f, &err), 0);
	puts_(&w, "{\"type\":\"stack\",\"t\":1,\"capture\":1,\"why\":\"peak\",\"pid\":7,"
		  "\"frames\":[0,1]}\n");
	assert_int_equal(follow_poll(&f, &err), 1);
	assert_int_equal(f.run.stacks.n_captures, 1);
	assert_string_equal(run_stacks_frame(&f.run.stacks, 0, 0)->fn, "grow");
	puts_(&w, "{\"type\":\"stack\",\"t\":2,\"capture\":2,\"why\":\"signal\",\"pid\":7,"
		  "\"frames\":[1]}\n");
	assert_int_equal(follow_poll(&f, &err), 1);
	assert_int_equal(f.run.stacks.n_captures, 2);
	assert_int_equal(f.run.stacks.n_groups, 2);
	assert_int_equal(f.run.corrupt, 0);
	follow_release(&f);
	close(w.fd);
	unlink(w.path);
	strbuf_release(&err);
}

static void test_writer_dies(void **state)
{
	(void)state;
	struct writer w;
	struct follow f;
	struct strbuf err = STRBUF_INIT;
	writer_open(&w);
	puts_(&w, header);
	put(&w, sample1, 10); /* it died mid-line */
	assert_int_equal(follow_open(&f, w.path, NULL, NULL, &err), 0);
	assert_int_equal(follow_poll(&f, &err), 1);
	assert_int_equal(f.run.status, RUN_RUNNING);
	close(w.fd); /* the lock goes with it */
	assert_int_equal(follow_poll(&f, &err), 0);
	assert_int_equal(f.run.status, RUN_INCOMPLETE);
	assert_true(follow_finished(&f));
	follow_release(&f);
	unlink(w.path);
	strbuf_release(&err);
}

static void test_started_anew(void **state)
{
	(void)state;
	struct writer w;
	struct follow f;
	struct strbuf err = STRBUF_INIT;
	writer_open(&w);
	puts_(&w, header);
	puts_(&w, proc);
	puts_(&w, sample1);
	puts_(&w, sample2);
	assert_int_equal(follow_open(&f, w.path, NULL, NULL, &err), 0);
	assert_int_equal(follow_poll(&f, &err), 4);
	assert_int_equal(f.run.n_samples, 2);
	/* A new recording to the same path empties it first. */
	assert_int_equal(ftruncate(w.fd, 0), 0);
	assert_int_equal(lseek(w.fd, 0, SEEK_SET), 0);
	puts_(&w, header);
	assert_int_equal(follow_poll(&f, &err), 1);
	assert_int_equal(f.run.n_samples, 0);
	assert_int_equal(f.run.n_procs, 0);
	follow_release(&f);
	close(w.fd);
	unlink(w.path);
	strbuf_release(&err);
}

static void test_errors(void **state)
{
	(void)state;
	struct follow f;
	struct strbuf err = STRBUF_INIT;
	assert_int_equal(follow_open(&f, "/nonexistent/log.jsonl", NULL, NULL, &err), -1);
	assert_non_null(strstr(err.buf, "cannot open '/nonexistent/log.jsonl'"));
	strbuf_reset(&err);

	struct writer w;
	writer_open(&w);
	puts_(&w, "hello, not a log\n");
	assert_int_equal(follow_open(&f, w.path, NULL, NULL, &err), 0);
	assert_int_equal(follow_poll(&f, &err), -1);
	assert_non_null(strstr(err.buf, "is not a memline log"));
	follow_release(&f);
	close(w.fd);
	unlink(w.path);
	strbuf_release(&err);
}

struct warnings {
	int n;
	long line;
};

static void count_warning(void *data, const char *path, long line, const char *msg)
{
	(void)path;
	(void)msg;
	struct warnings *w = data;
	w->n++;
	w->line = line;
}

/* A line longer than the cap, written over several polls, is skipped; what follows is read. */
static void test_long_line(void **state)
{
	(void)state;
	struct writer w;
	struct follow f;
	struct warnings seen = {0};
	struct strbuf err = STRBUF_INIT;
	writer_open(&w);
	puts_(&w, header);
	assert_int_equal(follow_open(&f, w.path, count_warning, &seen, &err), 0);
	assert_int_equal(follow_poll(&f, &err), 1);
	char *piece = malloc(LOG_LINE_MAX / 4);
	assert_non_null(piece);
	memset(piece, 'x', LOG_LINE_MAX / 4);
	for (int i = 0; i < 5; i++) { /* 5/4 of the cap, a poll after each quarter */
		put(&w, piece, LOG_LINE_MAX / 4);
		assert_int_equal(follow_poll(&f, &err), 0);
		assert_true(f.pending.len <= LOG_LINE_MAX);
	}
	free(piece);
	put(&w, "\n", 1);
	puts_(&w, sample1);
	assert_int_equal(follow_poll(&f, &err), 1);
	assert_int_equal(f.run.n_samples, 1);
	assert_int_equal(f.run.corrupt, 1);
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.line, 2);
	follow_release(&f);
	close(w.fd);
	unlink(w.path);
	strbuf_release(&err);
}

static void test_not_a_regular_file(void **state)
{
	(void)state;
	char path[] = "/tmp/memline-follow-fifo-XXXXXX";
	assert_non_null(mkdtemp(path));
	struct strbuf fifo = STRBUF_INIT, err = STRBUF_INIT;
	strbuf_addf(&fifo, "%s/log", path);
	assert_int_equal(mkfifo(fifo.buf, 0600), 0);
	struct follow f;
	assert_int_equal(follow_open(&f, fifo.buf, NULL, NULL, &err), -1);
	assert_non_null(strstr(err.buf, "is a FIFO, not a log file"));
	strbuf_reset(&err);
	assert_int_equal(follow_open(&f, "/dev/zero", NULL, NULL, &err), -1);
	assert_non_null(strstr(err.buf, "is a character device, not a log file"));
	unlink(fifo.buf);
	rmdir(path);
	strbuf_release(&fifo);
	strbuf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grows),
		cmocka_unit_test(test_stacks_across_polls),
		cmocka_unit_test(test_writer_dies),
		cmocka_unit_test(test_started_anew),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_not_a_regular_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
