/*
 * job-follow: the logs of one job (job.h) followed as they grow, for `memline view --follow`
 * of several logs, a directory or a pattern: each rank's or node's memline writes its own log
 * on a shared file system, and this reads them there, with no socket and no port.
 *
 * Each log has a follower of its own (follow.h), polled JOB_FOLLOW_POLL times a second; when
 * any of them read something new (or its status changed), the job is built again from the
 * followed runs (job_build), at most JOB_FOLLOW_BUILDS times a second, and less often once
 * builds cost more than JOB_FOLLOW_BUDGET of a core: a build reads every sample of every log
 * and takes every bin's median across ranks (milliseconds for 64 ranks, more as the job ages),
 * so the next build waits until the last one's CPU time is that share of the time
 * since (JOB_FOLLOW_SLOWEST at most). Where the logs came from a directory or a pattern, a
 * scan function given by the caller lists them again every JOB_FOLLOW_SCAN seconds, and a log
 * that appeared since (a rank that started late) is followed from then on. Following ends
 * when every log has finished (follow_finished: its end record, or no memline writes it any
 * more).
 *
 * It has no thread and takes no lock: its owner calls job_follow_poll() from its own loop (the
 * dashboard's, which wakes every 100 ms anyway), and it does only what is due at that moment.
 * The models keep no process-sample field (a build reads the samples' job memory and the
 * processes' CPU times only), so an hour of many logs stays small.
 *
 * Nothing here prints or exits; errors come back as -1 with a one-line message in err.
 */
#ifndef MEMLINE_JOB_FOLLOW_H
#define MEMLINE_JOB_FOLLOW_H

#include <stdbool.h>
#include <stddef.h>

#include "model/follow.h"
#include "model/job.h"
#include "util/strbuf.h"

#define JOB_FOLLOW_POLL	   4	/* polls of every log a second */
#define JOB_FOLLOW_BUILDS  2	/* builds of the job a second, at most */
#define JOB_FOLLOW_SCAN	   3.0	/* seconds between two scans for logs that appeared */
#define JOB_FOLLOW_BUDGET  0.01 /* of a core, the builds' CPU at most (past BUILDS a second) */
#define JOB_FOLLOW_SLOWEST 10.0 /* seconds between two builds at most, whatever they cost */

/*
 * Lists the job's logs as they are now (a directory's, a pattern's) into *paths, n of them:
 * the array and each path malloc'ed, the caller (job_follow) frees them. Returns 0, or -1
 * when they cannot be listed now (the logs followed stay as they are).
 */
typedef int job_follow_scan_fn(void *data, char ***paths, size_t *n);

/* One log followed. */
struct job_follow_log {
	char *path;
	struct follow follow; /* valid when open */
	bool open;	      /* its file could be opened (else tried again at the next scan) */
	bool failed;	      /* it cannot be read further (not a memline log, a read error) */
	unsigned long seen;   /* follow.changes when the job was last built */
};

struct job_follow {
	struct job job;	       /* the job as last built; empty until the first build */
	bool built;	       /* job holds a build */
	unsigned long version; /* bumped at every build */
	bool finished;	       /* every log has finished: nothing more will change */
	struct strbuf error;   /* the latest log that could not be read further, and why */
	struct job_follow_log **logs;
	size_t n, alloc;
	job_follow_scan_fn *scan;
	void *scan_data;
	double next_poll, next_build, next_scan; /* the times of job_follow_poll's now */
	bool dirty;				 /* a log changed since the last build */
	/* what it did, for the tests and the benchmark */
	unsigned long polls, builds, scans;
	double build_cpu;  /* CPU time the builds took, s */
	double last_build; /* CPU time the last build took, s */
};

/*
 * Starts following the logs at paths (n of them, none or more). scan (may be NULL: the logs
 * are all there is) lists them again every JOB_FOLLOW_SCAN seconds; paths not followed yet
 * join. A log that cannot be opened yet is tried again at each scan. Returns 0, or -1 out of
 * memory (a message in err); jf must be released either way.
 */
int job_follow_open(struct job_follow *jf, char *const *paths, size_t n, job_follow_scan_fn *scan,
		    void *scan_data, struct strbuf *err);
/*
 * Does what is due at now (seconds of CLOCK_MONOTONIC, or any clock that only goes forward):
 * scans, polls the logs, builds the job. Returns 1 when the job was built again (job and
 * version changed), 0 when not, -1 out of memory (a message in err). Once finished, builds
 * the job a last time at once and then does nothing.
 */
int job_follow_poll(struct job_follow *jf, double now, struct strbuf *err);
/* When the next poll is due, on now's clock: for a caller that sleeps in between. */
double job_follow_next(const struct job_follow *jf);
/* Frees everything jf holds. */
void job_follow_release(struct job_follow *jf);

#endif
