/*
 * job-follow: the logs of a job followed as they grow; the contract is in job-follow.h.
 *
 * A poll does at most three things, each when its time has come: a scan (the caller's list of
 * the logs, compared by path with those followed), a poll of every follower, and a build. The
 * follower's change counter (follow.changes) tells whether a log changed since the last build:
 * a poll that read nothing costs an fstat and a pread of no bytes a log (and the log's lock
 * tested while it runs, to see a writer that died). The job is built into a new struct and
 * swapped in, so a build that fails leaves the last one.
 */
#include "model/job-follow.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static double thread_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Tries to open log l's file (again); a file that is not there yet is no error. */
static void log_open(struct job_follow_log *l)
{
	struct strbuf err = STRBUF_INIT;
	if (follow_open(&l->follow, l->path, NULL, NULL, &err) == 0) {
		l->open = true;
		follow_keep_fields(&l->follow, 0);
	}
	strbuf_release(&err);
}

/* Adds the log at path, not followed yet, and tries to open it. Returns -1 out of memory. */
static int add_log(struct job_follow *jf, const char *path)
{
	if (jf->n == jf->alloc) {
		size_t a = jf->alloc ? 2 * jf->alloc : 16;
		struct job_follow_log **v = realloc(jf->logs, a * sizeof(*v));
		if (!v)
			return -1;
		jf->logs = v;
		jf->alloc = a;
	}
	struct job_follow_log *l = calloc(1, sizeof(*l));
	if (!l || !(l->path = strdup(path))) {
		free(l);
		return -1;
	}
	l->follow.fd = -1;
	jf->logs[jf->n++] = l;
	log_open(l);
	jf->dirty = true;
	return 0;
}

static bool followed(const struct job_follow *jf, const char *path)
{
	for (size_t i = 0; i < jf->n; i++)
		if (!strcmp(jf->logs[i]->path, path))
			return true;
	return false;
}

/* Lists the logs again: new ones join, those not open yet are tried again. */
static int scan_logs(struct job_follow *jf)
{
	jf->scans++;
	for (size_t i = 0; i < jf->n; i++)
		if (!jf->logs[i]->open)
			log_open(jf->logs[i]);
	char **paths = NULL;
	size_t n = 0;
	if (!jf->scan || jf->scan(jf->scan_data, &paths, &n) < 0)
		return 0;
	int ret = 0;
	for (size_t i = 0; i < n; i++) {
		if (!ret && !followed(jf, paths[i]) && add_log(jf, paths[i]) < 0)
			ret = -1;
		free(paths[i]);
	}
	free(paths);
	return ret;
}

int job_follow_open(struct job_follow *jf, char *const *paths, size_t n, job_follow_scan_fn *scan,
		    void *scan_data, struct strbuf *err)
{
	memset(jf, 0, sizeof(*jf));
	strbuf_init(&jf->error);
	jf->scan = scan;
	jf->scan_data = scan_data;
	for (size_t i = 0; i < n; i++) {
		if (!followed(jf, paths[i]) && add_log(jf, paths[i]) < 0) {
			strbuf_addstr(err, "out of memory following the logs");
			return -1;
		}
	}
	return 0;
}

/* Polls every follower; notes a log that changed, and one that cannot be read further. */
static void poll_logs(struct job_follow *jf)
{
	jf->polls++;
	for (size_t i = 0; i < jf->n; i++) {
		struct job_follow_log *l = jf->logs[i];
		if (!l->open || l->failed || follow_finished(&l->follow))
			continue;
		struct strbuf err = STRBUF_INIT;
		if (follow_poll(&l->follow, &err) < 0) {
			l->failed = true;
			strbuf_reset(&jf->error);
			strbuf_addstr(&jf->error, err.len ? err.buf : "a log cannot be read");
		}
		strbuf_release(&err);
		if (l->follow.changes != l->seen || l->failed)
			jf->dirty = true;
	}
}

static bool all_finished(const struct job_follow *jf)
{
	if (!jf->n)
		return false;
	for (size_t i = 0; i < jf->n; i++) {
		const struct job_follow_log *l = jf->logs[i];
		if (!l->open || (!l->failed && !follow_finished(&l->follow)))
			return false;
	}
	return true;
}

/* Builds the job again from the followed runs. Returns -1 out of memory (the last build kept). */
static int build(struct job_follow *jf)
{
	double cpu = thread_cpu();
	const struct run **runs = malloc((jf->n ? jf->n : 1) * sizeof(*runs));
	char **paths = malloc((jf->n ? jf->n : 1) * sizeof(*paths));
	struct job job;
	int ret = -1;
	if (runs && paths) {
		for (size_t i = 0; i < jf->n; i++) {
			struct job_follow_log *l = jf->logs[i];
			runs[i] = l->open && !l->failed ? &l->follow.run : NULL;
			paths[i] = l->path;
			l->seen = l->follow.changes;
		}
		ret = job_build(&job, runs, paths, jf->n);
		if (ret < 0) {
			job_release(&job);
		} else {
			if (jf->built)
				job_release(&jf->job);
			jf->job = job;
			jf->built = true;
			jf->version++;
			jf->builds++;
			jf->dirty = false;
		}
	}
	free(runs);
	free(paths);
	jf->last_build = thread_cpu() - cpu;
	jf->build_cpu += jf->last_build;
	return ret;
}

int job_follow_poll(struct job_follow *jf, double now, struct strbuf *err)
{
	if (jf->finished)
		return 0;
	if (now >= jf->next_scan) {
		jf->next_scan = now + JOB_FOLLOW_SCAN;
		if (scan_logs(jf) < 0)
			goto oom;
	}
	if (now >= jf->next_poll) {
		jf->next_poll = now + 1.0 / JOB_FOLLOW_POLL;
		poll_logs(jf);
	}
	/* the last build comes at once, whatever the last one's time */
	bool finished = all_finished(jf);
	bool due = jf->dirty && (finished || now >= jf->next_build);
	if (!due && !(finished && !jf->built)) {
		jf->finished = finished;
		return 0;
	}
	if (build(jf) < 0)
		goto oom;
	double wait = jf->last_build / JOB_FOLLOW_BUDGET;
	wait = wait < 1.0 / JOB_FOLLOW_BUILDS ? 1.0 / JOB_FOLLOW_BUILDS : wait;
	jf->next_build = now + (wait > JOB_FOLLOW_SLOWEST ? JOB_FOLLOW_SLOWEST : wait);
	jf->finished = finished;
	return 1;
oom:
	strbuf_addstr(err, "out of memory following the logs");
	return -1;
}

double job_follow_next(const struct job_follow *jf)
{
	double next = jf->next_poll < jf->next_scan ? jf->next_poll : jf->next_scan;
	return jf->dirty && jf->next_build < next ? jf->next_build : next;
}

void job_follow_release(struct job_follow *jf)
{
	for (size_t i = 0; i < jf->n; i++) {
		struct job_follow_log *l = jf->logs[i];
		if (l->open)
			follow_release(&l->follow);
		free(l->path);
		free(l);
	}
	free(jf->logs);
	if (jf->built)
		job_release(&jf->job);
	strbuf_release(&jf->error);
	memset(jf, 0, sizeof(*jf));
}
