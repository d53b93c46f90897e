/*
 * test_job_follow: the logs of a job followed as they grow (lib/model/job-follow.c), on a clock
 * the test moves: the logs are polled JOB_FOLLOW_POLL times a second and no more, the job is
 * built again only when a log changed and at most JOB_FOLLOW_BUILDS times a second, a log the
 * scan lists later joins the job (a rank that started late), one that is not a memline log is
 * unreadable and stops being polled, and once every log has ended the job is built a last time
 * at once and following stops.
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
#include <unistd.h>

#include <cmocka.h>

#include "model/job-follow.h"

struct log {
	char path[64];
	int fd;
};

static char dir[] = "/tmp/memline-job-follow-XXXXXX";

/* A rank's log being written: created and locked as memline's writer holds it. */
static void log_start(struct log *l, const char *name, long rank)
{
	snprintf(l->path, sizeof(l->path), "%s/%s", dir, name);
	l->fd = open(l->path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(l->fd >= 0);
	assert_int_equal(flock(l->fd, LOCK_EX), 0);
	char buf[512];
	int n = snprintf(buf, sizeof(buf),
			 "{\"type\":\"header\",\"format\":1,\"host\":\"n1\",\"start_unix\":1000,"
			 "\"job\":{\"OMPI_COMM_WORLD_RANK\":\"%ld\"},\"fields\":[\"pid\",\"rss\"],"
			 "\"tree_fields\":[\"nproc\",\"rss\"],\"command\":[\"w\"]}\n"
			 "{\"type\":\"proc\",\"t\":0,\"pid\":%ld,\"comm\":\"w\"}\n",
			 rank, 10 + rank);
	assert_int_equal(write(l->fd, buf, (size_t)n), n);
}

static void log_sample(struct log *l, double t, long pid, long rss)
{
	char buf[256];
	int n = snprintf(buf, sizeof(buf),
			 "{\"type\":\"sample\",\"t\":%.3f,\"avail\":null,\"tree\":[1,%ld],"
			 "\"p\":[[%ld,%ld]]}\n",
			 t, rss, pid, rss);
	assert_int_equal(write(l->fd, buf, (size_t)n), n);
}

static void log_end(struct log *l, double t)
{
	char buf[128];
	int n = snprintf(buf, sizeof(buf),
			 "{\"type\":\"end\",\"t\":%.3f,\"status\":\"completed\",\"exit_code\":0}\n",
			 t);
	assert_int_equal(write(l->fd, buf, (size_t)n), n);
	close(l->fd); /* the lock goes with it */
	l->fd = -1;
}

/* The scan: every path in the test's list (a directory listed again). */
static char *listed[4];
static size_t n_listed;

static int scan(void *data, char ***paths, size_t *n)
{
	(void)data;
	*paths = calloc(n_listed + 1, sizeof(**paths));
	assert_non_null(*paths);
	for (size_t i = 0; i < n_listed; i++)
		(*paths)[i] = strdup(listed[i]);
	*n = n_listed;
	return 0;
}

static void test_follows(void **state)
{
	(void)state;
	assert_non_null(mkdtemp(dir));
	struct log a, b, c;
	log_start(&a, "r.0.jsonl", 0);
	log_start(&b, "r.1.jsonl", 1);
	log_sample(&a, 0.5, 10, 1000);
	log_sample(&b, 0.5, 11, 2000);
	char *paths[] = {a.path, b.path};
	listed[0] = a.path;
	listed[1] = b.path;
	n_listed = 2;
	struct job_follow jf;
	struct strbuf err = STRBUF_INIT;
	assert_int_equal(job_follow_open(&jf, paths, 2, scan, NULL, &err), 0);

	/* the first poll reads both and builds */
	assert_int_equal(job_follow_poll(&jf, 100.0, &err), 1);
	assert_int_equal(jf.version, 1);
	assert_int_equal(jf.job.n_logs, 2);
	assert_int_equal(jf.job.peak, 3000);
	assert_false(jf.finished);
	unsigned long polls = jf.polls;

	/* before the next poll is due nothing is read */
	log_sample(&a, 1.0, 10, 5000);
	log_sample(&b, 1.0, 11, 2000);
	assert_int_equal(job_follow_poll(&jf, 100.1, &err), 0);
	assert_int_equal(jf.polls, polls);
	/* due: read, but the build waits for its time */
	assert_int_equal(job_follow_poll(&jf, 100.3, &err), 0);
	assert_int_equal(jf.polls, polls + 1);
	assert_true(jf.dirty);
	assert_int_equal(jf.builds, 1);
	assert_int_equal(job_follow_poll(&jf, 100.51, &err), 1);
	assert_int_equal(jf.builds, 2);
	assert_int_equal(jf.job.peak, 7000);

	/* nothing new: polled, never built */
	for (double t = 101; t < 102.9; t += 0.3)
		assert_int_equal(job_follow_poll(&jf, t, &err), 0);
	assert_int_equal(jf.builds, 2);
	assert_true(jf.polls > polls + 4);

	/* a rank that starts late: the scan after JOB_FOLLOW_SCAN s finds it */
	log_start(&c, "r.2.jsonl", 2);
	log_sample(&c, 0.5, 12, 4000);
	listed[n_listed++] = c.path;
	assert_int_equal(job_follow_poll(&jf, 103.2, &err), 1);
	assert_int_equal(jf.job.n_logs, 3);
	assert_int_equal(jf.scans, 2);

	/* the ranks end; the last build comes at once, then nothing more */
	log_end(&a, 1.5);
	log_end(&b, 1.5);
	assert_int_equal(job_follow_poll(&jf, 103.8, &err), 1);
	assert_false(jf.finished);
	log_end(&c, 1.5);
	assert_int_equal(job_follow_poll(&jf, 104.1, &err), 1); /* less than 1/2 s after */
	assert_true(jf.finished);
	assert_int_equal(jf.job.status, RUN_COMPLETED);
	unsigned long builds = jf.builds;
	polls = jf.polls;
	assert_int_equal(job_follow_poll(&jf, 110, &err), 0);
	assert_int_equal(jf.builds, builds);
	assert_int_equal(jf.polls, polls);
	job_follow_release(&jf);
	strbuf_release(&err);
	unlink(a.path);
	unlink(b.path);
	unlink(c.path);
	rmdir(dir);
}

/* A file that is not a memline log: unreadable in the job, not polled again, and it ends. */
static void test_not_a_log(void **state)
{
	(void)state;
	char path[] = "/tmp/memline-job-follow-bad-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "not a memline log\n", 18), 18);
	close(fd);
	char *paths[] = {path};
	struct job_follow jf;
	struct strbuf err = STRBUF_INIT;
	assert_int_equal(job_follow_open(&jf, paths, 1, NULL, NULL, &err), 0);
	assert_int_equal(job_follow_poll(&jf, 1, &err), 1);
	assert_true(jf.finished);
	assert_true(jf.error.len > 0);
	assert_int_equal(jf.job.n_unreadable, 1);
	job_follow_release(&jf);
	strbuf_release(&err);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_follows),
		cmocka_unit_test(test_not_a_log),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
