/*
 * job: many logs of one job as one picture: the ranks of an MPI job, the nodes of a batch job
 * (docs/clusters.md). Each log is summarised on its own (its peak and when, CPU time, how it
 * ended) and its memory over time put on one grid of the job's wall clock: bins of equal width
 * from the earliest log's start, each holding the highest memory the log saw in it. The grid
 * gives the job's total, each node's (its ranks summed, or its node-wide log: attach
 * --slurm-job), and across ranks the lowest, median and highest, so that 1000 ranks read as a
 * band, not 1000 lines.
 *
 * job_load streams: it reads the logs' first and last lines to place them in time, then loads
 * each log alone (run_load_fields), folds it into the job and frees it, so memory is bounded by
 * one log plus the grid (logs x JOB_BINS values). The live view builds the job again from the
 * runs it follows (job_build).
 *
 * Times here are seconds of the job's clock: 0 is the earliest log's start on the wall clock,
 * each log placed by its header's clock and corrected by its "clock" records (format 4), which
 * pair the wall clock with the log's own time, so a clock that drifted or was stepped during
 * the run is followed. Memory in KiB, CPU in ms, -1 unknown.
 *
 * Nothing here prints or exits; errors come back as -1 with a one-line message in err.
 */
#ifndef MEMLINE_JOB_H
#define MEMLINE_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "log/reader.h"
#include "log/record.h"
#include "model/run.h"
#include "util/strbuf.h"

/* The grid's bins at most (fewer when the job is shorter than JOB_BINS ms). */
#define JOB_BINS 2000

#define JOB_NO_NODE ((size_t)-1)

/* One log of the job: a rank, a node (node_wide), or a recording of neither. */
struct job_log {
	char *path;
	char *name;		 /* what readers call it: "rank 3", else its host, else its file */
	char *host;		 /* the header's host; "" unknown */
	struct place_info place; /* owned; rank -1 when the log names none */
	size_t node;		 /* its node: index into job->nodes */
	int format;		 /* the log's format version; 0 when unreadable */
	/* It could not be read (missing, not a memline log, unreadable): error says why and
	 * nothing below is valid. */
	bool unreadable;
	char *error;	/* owned; also set (readable) for a log cut off: what is wrong with it */
	bool truncated; /* its last line was cut off, or it stops with no end record */
	enum run_status status; /* run.h's status of the log */
	int exit_code;		/* -1 unknown */
	int signal;		/* -1 none */
	pid_t oom_pid;		/* the process the OOM killer killed; -1 none */
	char oom_comm[32];	/* its name; "" unknown */
	double start, end;	/* job times of its start and its last moment */
	long long peak;		/* its job memory's highest (run->job_peak), KiB; -1 unknown */
	double peak_t;		/* when, job time */
	long long cpu_ms;	/* its processes' CPU time, all told; -1 unknown */
	double clock_error;	/* the largest maximum error its clock stated, s; -1 unknown */
	int clock_synced;  /* 1 its clock readings said synchronised, 0 one did not, -1 unknown */
	char *command;	   /* the recorded command, quoted for a shell; owned */
	long long *series; /* n_bins: its highest memory in each bin, KiB; -1 outside its life */
	/* it is one of the logs the band and imbalance are over (struct job's rank_min) */
	bool in_band;
};

/* A node: the logs from one host. */
struct job_node {
	char *host;
	size_t n_logs;	   /* its logs (ranks and node-wide) */
	size_t n_ranks;	   /* of them, logs with a rank */
	long whole;	   /* its node-wide log (attach --slurm-job), -1 none: its ranks summed */
	long long peak;	   /* highest of series, KiB; -1 unknown */
	double peak_t;	   /* when, job time */
	long long cpu_ms;  /* its logs' CPU (the node-wide log's when it has one); -1 unknown */
	long worst;	   /* its log that ended worst (job_status_rank), -1 none readable */
	long long *series; /* n_bins: the node's memory, KiB; -1 where no log covers it */
};

struct job {
	struct job_log *logs; /* in the order given */
	size_t n_logs;
	struct job_node *nodes; /* in the order their first log came */
	size_t n_nodes;
	size_t n_ranks;	     /* logs with a rank */
	size_t n_whole;	     /* node-wide logs (attach --slurm-job, --cgroup) */
	size_t n_unreadable; /* logs that could not be read */
	char *job_id;	     /* the logs' job id (place.job), NULL none; "mixed" when they differ */
	char *launcher;	     /* the first log's launcher; NULL none */
	long size;	     /* the ranks the job had by the logs' place.size; -1 unknown */
	long *missing_ranks; /* ranks 0..size-1 with no log, ascending */
	size_t n_missing_ranks;
	double start_unix; /* the wall clock of job time 0, seconds since the epoch */
	double duration;   /* job time of the last moment a log saw */
	double bin;	   /* the width of a bin, s: bin i covers [i * bin, (i + 1) * bin) */
	size_t n_bins;
	long long *total; /* n_bins: the job's memory (its nodes summed), KiB; -1 unknown */
	long long peak;	  /* highest of total, KiB; -1 unknown */
	double peak_t;	  /* when, job time */
	long long cpu_ms; /* all its nodes' CPU time; -1 unknown */
	/*
	 * Across its ranks (the logs with a rank; else the readable logs not node-wide; else, a
	 * job recorded node by node, its node-wide logs) in each bin: the lowest, median and
	 * highest memory of those alive; -1 none.
	 */
	long long *rank_min, *rank_median, *rank_max;
	/* Imbalance: the ranks by peak, highest first (indices into logs), and their median. */
	size_t *by_peak;
	size_t n_by_peak;
	long long median_peak; /* KiB; -1 unknown */
	/* How the job ended: its worst log's status (job_status_rank), and which log. */
	enum run_status status;
	long worst;	    /* -1 when no log is readable */
	double clock_error; /* the largest clock error of its logs, s; -1 unknown */
};

/*
 * Reads the logs at paths (n >= 1) into job (initialised here), streaming: one log in memory
 * at a time. A log that cannot be read is kept as unreadable and told to warn; the others are
 * merged. Returns 0; RUN_LOAD_NOINPUT when no log could be opened, RUN_LOAD_DATAERR when none
 * is a memline log (or out of memory), with a one-line message in err; job must be released
 * either way.
 */
int job_load(struct job *job, char *const *paths, size_t n, log_warn_fn *warn, void *data,
	     struct strbuf *err);
/*
 * Builds job (initialised here) from runs already in memory (the live view's), runs[i] read
 * from paths[i]; a NULL run is an unreadable log. Returns 0, or -1 out of memory.
 */
int job_build(struct job *job, const struct run *const *runs, char *const *paths, size_t n);
void job_release(struct job *job);

/*
 * How bad an ending is, for the job's status: oom-killed, then killed, failed, running,
 * incomplete, detached, exited, completed. The worst log's status is the job's.
 */
int job_status_rank(enum run_status s);

/*
 * Whether the logs at paths belong together as one job (plot merges them rather than overlaying
 * them): any of them names a rank, a job id or records a whole node. Reads only their first
 * lines; a log that cannot be read counts for nothing.
 */
bool job_paths_are_job(char *const *paths, size_t n);

/* The bin that holds job time t, clamped to the grid. */
size_t job_bin(const struct job *job, double t);

#endif
