/*
 * collector: the sampler's sources of numbers, one function table each, as prmon's monitors
 * are. At every sample the sampler runs its collectors over each tracked process, in the order
 * of its table (sampler.c): stat first, which says whether the process is still there and what
 * it did since the last look, then the others, each deciding for itself whether it is due. A
 * new source of per-process numbers is a new file with a struct collector and a line in that
 * table, not a longer loop. What collectors share of a process is struct tracked_proc; what
 * they know of the recording, struct sampler (record/sampler.h); the functions at the end are
 * the sampler's, for them.
 *
 * Today's per-process collectors and the files they read (relative to procfs's root, through
 * record/procfs.h):
 *   stat    PID/stat, every sample: state, exec, RSS, CPU times, faults, threads
 *   status  PID/status, once a second and sooner after a change: the RSS split, swap, the
 *           high-water mark (then reset through clear_refs)
 *   smaps   PID/smaps_rollup with status, under --pss: PSS
 *   io      PID/io with status, at most once a second: I/O counters
 */
#ifndef MEMLINE_COLLECTOR_H
#define MEMLINE_COLLECTOR_H

#include <stdbool.h>
#include <sys/types.h>

#include "log/record.h"
#include "record/procfs.h"
#include "record/sampler.h"

struct rusage;
struct sampler;
struct sampler_options;

/* A process of the tree, as the sampler and its collectors know it. */
struct tracked_proc {
	struct proc_handle h;
	size_t idx; /* its place in the sampler's list */
	pid_t pid, ppid;
	unsigned long long starttime;
	char comm[32];
	unsigned long long startcode, argstart;
	struct proc_values v; /* the latest values */
	/* stat's, this sample (set by the stat collector for those after it) */
	long long cur_rss;	       /* KiB */
	unsigned long long cur_faults; /* minor + major */
	/* at the previous sample */
	unsigned long long faults;
	long long rss;	    /* KiB */
	long long stat_rss; /* KiB, what stat said */
	/* the status collector's */
	long long hwm; /* lifetime VmHWM, for --no-peak-reset */
	double slow_t; /* when status was last read (this sample: == t); < 0 never */
	unsigned long long slow_faults; /* faults at the last status read */
	long long slow_rss;		/* stat's RSS at the last status read */
	bool no_reset; /* its high-water mark cannot be reset (not ours to write) */
	/* the io collector's */
	double io_t; /* when io was last read; < 0 never */
	/* the sampler's */
	bool waited_for_child; /* its zombie says it reaped a child: ru_maxrss is not its own */
	/* what kernel event sources said of its end (sampler-events.c) */
	enum exit_source ev_source; /* who gave ev_status */
	int ev_status;		    /* its wait status, -1 unknown */
	int ev_rank;		    /* enum sampler_exit_what of the report that gave it */
	long long ev_hwm;	    /* its high-water mark when a thread of it exited, KiB; -1 */
	double ev_hwm_t;	    /* when */
	long long ev_utime_us, ev_stime_us; /* CPU of its threads that exited; -1 none */
	double born;   /* when it was forked, exactly (a fork event's time); NAN unknown */
	double ev_end; /* when its leader ended, exactly (an exit event's time); NAN unknown */
	pid_t ev_last; /* the thread whose end was its process's end (0: not told) */
};

enum collect_result {
	COLLECT_OK,   /* go on with the next collector */
	COLLECT_DONE, /* nothing more to read of it in this sample; it stays in the tree */
	COLLECT_GONE, /* it is gone (its exit event emitted): the sampler drops it */
};

struct collector {
	const char *name;
	/* Whether it takes part in a recording with these options; NULL: in every one. */
	bool (*wanted)(const struct sampler_options *o);
	/* Reads what it collects of p for the sample at t (seconds since the start) into p->v. */
	enum collect_result (*collect)(struct sampler *s, struct tracked_proc *p, double t);
};

extern const struct collector collect_stat, collect_status, collect_smaps, collect_io;

/*
 * A source of numbers for the whole tree rather than a process (the job's cgroup), run once
 * a sample after every process was read. It fills the tree fields it knows (TF_JOB,
 * TF_JOB_PEAK, TF_CG_*; unknown is -1) of the sample; one later in the sampler's table may
 * replace what an earlier one said of the job, as a better method does.
 */
struct sample;
struct tree_collector {
	const char *name;
	/* Sets it up for this recording; false: it takes no part (NULL: it always does). It may
	 * raise s->method to its own. */
	bool (*init)(struct sampler *s);
	void (*collect)(struct sampler *s, struct sample *sample, double t);
	void (*release)(struct sampler *s); /* NULL: nothing to free */
};

/* The job's memory as the sum of its processes' RSS, and their peaks (method rss). */
extern const struct tree_collector collect_job_rss;
/* The job's memory cgroup's charge, peak and split (method cgroup), when it has one. */
extern const struct tree_collector collect_cgroup;

/* ---- the sampler's, for collectors ---- */

/* Queues the exit of p at t: with wait_status when known (a zombie's), else of unknown cause. */
void sampler_emit_exit(struct sampler *s, struct tracked_proc *p, double t, int wait_status,
		       bool known);
/* Queues an exec record of p at t, with its new command line. */
void sampler_emit_exec(struct sampler *s, struct tracked_proc *p, double t);
/* A start time in clock ticks since boot as seconds since the recording began. */
double sampler_start_secs(const struct sampler *s, unsigned long long starttime);
/* Clock ticks as milliseconds. */
long long sampler_ticks_ms(const struct sampler *s, unsigned long long ticks);

/* ---- the sampler's, for its event side (sampler-events.c) ---- */

struct tracked_proc *sampler_find(const struct sampler *s, pid_t pid);
/* Whether a process whose parent is ppid belongs to the tree (ppid tracked, or memline). */
bool sampler_in_tree(const struct sampler *s, pid_t ppid);
/* Tracks a process whose handle is open and stat read (its proc event queued); or NULL. */
struct tracked_proc *sampler_track(struct sampler *s, struct proc_handle *h,
				   const struct proc_stat *st, double t);
/* Stops tracking p (its CPU time stays in the tree's totals); p is freed. */
void sampler_untrack(struct sampler *s, struct tracked_proc *p);
/* A new event at the end of the queue, zeroed but for its type; NULL out of memory. */
struct sampler_event *sampler_new_event(struct sampler *s, enum sampler_event_type type);

/* In sampler-events.c, for sampler.c: */
/* p just joined the tree: takes what sources said of it already, and the children they told of. */
void sampler_news_joined(struct sampler *s, struct tracked_proc *p, double t);
/* p's exit is being queued (e): what sources said of its end, its final CPU time and peak. */
void sampler_news_exit(struct sampler *s, struct tracked_proc *p, struct exit_info *e);
/* Whether pid, started at start (seconds since t0), is one whose end was already written. */
bool sampler_news_ended(struct sampler *s, pid_t pid, double start);
/*
 * A child memline reaped that it does not track: its proc and exit events, or NULL (*written
 * when its end was written already, as a zombie, or reaped once by memline as its tracer).
 */
struct sampler_event *sampler_news_reaped(struct sampler *s, pid_t pid, int status,
					  const struct rusage *ru, double t, bool *written);
/*
 * p, tracked, left the tree at t with peak (KiB), which it reached at some moment of its span:
 * from its last high-water mark reset (or its start) to its end. The next sample's tree peak
 * counts it with those whose spans meet it, not with all that left (a thousand children one
 * after another never had their memory at once).
 */
void sampler_tracked_span(struct sampler *s, const struct tracked_proc *p, double t,
			  long long peak);
/*
 * p is in the sample at t with peak: where it was born since the last sample, its span too
 * (it cannot have met those that left before it was born) and true; else false: it may have
 * met any of them, and the caller adds its peak to all.
 */
bool sampler_young_span(struct sampler *s, const struct tracked_proc *p, double t, long long peak);
/* The largest sum of the peaks of those spans that meet at one moment; forgets them. */
long long sampler_exited_peak_take(struct sampler *s);
/* A sample's discovery found n new pids gone before they could be read (pid, when n is 1). */
void sampler_news_gone(struct sampler *s, pid_t pid, long n);
/* After a sample: forgets what is too old to matter. */
void sampler_news_expire(struct sampler *s, double t);
void sampler_news_free(struct sampler *s);

#endif
