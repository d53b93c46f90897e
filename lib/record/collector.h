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
 *   vm      nothing, mostly: for a process that joined without an exec of its own, whether it
 *           shares its parent's address space (kcmp(2)), and then nothing else is read of it
 *           until it execs (vm_of)
 *   smaps   PID/smaps_rollup with status, under --pss (and when those it shares pages with
 *           changed): PSS
 *   io      PID/io with status, at most once a second: I/O counters
 *   heap    (--heap) the heap library's counters file of the process, every sample: a
 *           read of shared memory, no system call (lib/heap/counters.h)
 *   threads PID/task/TID/stat with status, for a process that has more than one thread or
 *           heap counters: each thread's CPU time and name; and the rows of the threads
 *           whose numbers changed, for the sample
 */
#ifndef MEMLINE_COLLECTOR_H
#define MEMLINE_COLLECTOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "log/record.h"
#include "record/procfs.h"
#include "record/sampler.h"

struct rusage;
struct sampler;
struct sampler_options;

/*
 * What the PSS collector (collect-pss.c) knows of a process: its PSS at the last read, and
 * since then an estimate (that PSS plus the RSS it gained: new pages are its own).
 */
struct proc_pss {
	bool seeded;	       /* base is set (at the first sample it was in) */
	unsigned execs;	       /* tracked_proc.execs when it was seeded */
	long long base;	       /* KiB: PSS at the last read, or the seed, plus what it took over */
	long long base_rss;    /* stat's RSS then */
	long long private_kib; /* its private pages then (smaps_rollup); -1 unknown */
	long long cowable;     /* anonymous pages it shared then, which a write can copy; KiB */
	long long mapped;      /* its shared memory and file pages then (status), KiB; -1 */
	long long mapped_now;  /* the same, as last known (status or statm); -1 */
	double yield;	       /* how much of what it may have copied since its family's reads did
				  show in them (learned; 1 at first) */
	unsigned long long faults; /* its page faults then */
	double t;		   /* when it was read; < 0 never */
	double move_t;		   /* since when its memory moves fast; < 0 it does not */
	double cost;		   /* CPU seconds that read took; 0 never read */
	bool unreadable;	   /* its smaps_rollup is not ours to read */
	long long est, est_rss; /* its share of the job at the last sample, stat's RSS then; -1 */
	/* the last read (either collector's), for the other to use in the same sample */
	double read_t;
	struct proc_smaps read;
	/* a family root's, in the sample at fam_t: the read group its family is in (named by
	 * the root of one of them); and when it names one, the group's error and read cost, and
	 * its estimates at the interval's two ends (KiB) */
	struct tracked_proc *root; /* its family's root, in the latest sample */
	double fam_t;
	struct tracked_proc *grp;
	double fam_err, fam_cost;
	size_t fam_n, fam_mappers; /* its members, those that map much shared memory or files */
	bool fam_moving;	   /* a member's memory moves fast, or it is exiting */
	double fam_move_t;	   /* since when (the earliest of its moving members') */
	long long fam_before, fam_now, fam_above;
};

/* A thread of a tracked process, as collect-threads.c and collect-heap.c know it. */
struct tracked_thread {
	pid_t tid;	/* HEAP_TID_SHARED (-1): the threads past the heap's last slot */
	char name[16];	/* its comm as last written ("" none yet) */
	bool announced; /* its thread record was written */
	bool rowed;	/* a row of it was written (last holds it) */
	bool ended;	/* its end was written (it stays while its heap slot may still move) */
	unsigned seen;	/* the task read that last saw it */
	long slot;	/* its slot in the process's heap counters; -1 none */
	struct thread_values now;  /* its numbers as last read (TH_PID and TH_TID set) */
	struct thread_values last; /* those of its last row */
};

/* The threads of a tracked process, and its heap counters (NULL until it has either). */
struct proc_threads {
	struct tracked_thread *v; /* sorted by tid; an ended thread and its successor with the
				     same tid: the successor after it */
	size_t n, alloc;
	unsigned reads;	    /* task reads so far */
	double read_t;	    /* when the last one was */
	long long read_cpu; /* the process's utime + stime (ms) then */
	long read_threads;  /* and its number of threads */
	bool many;	    /* it had more than one thread at some time: its threads get rows */
	/* the heap collector's */
	enum { HEAP_LOOKING, HEAP_FOUND, HEAP_NONE } heap;
	unsigned heap_execs; /* tracked_proc.execs its state is of */
	double heap_since;   /* when it began looking for this image's counters */
	bool heap_told;	     /* the heap record of this image was written */
	bool go;	     /* its program is a Go program */
	void *map;	     /* the counters file, mapped; NULL */
	dev_t dev;
	ino_t ino;
	uint32_t scanned; /* slots bound to threads so far */
	long long total;  /* its threads' live heap at the last read, bytes */
};

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
	/* the stat collector's */
	unsigned execs; /* how many times it replaced its program while tracked */
	bool exiting;	/* it is exiting (PF_EXITING): its memory map is being taken down */
	/* the vm collector's */
	pid_t vm_of;	 /* the tracked process whose address space it shares; -1 its own */
	bool vm_checked; /* whether it shares one was decided (once, when it joined) */
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
	/*
	 * It joined with its parent's program, not exec'd since (a fork): it shares its pages
	 * with its family copy-on-write, and its wait4 ru_maxrss is its own address space's.
	 */
	bool forked;
	/*
	 * Its family: the processes of the tree that forked from one another without an exec
	 * (their pages shared copy-on-write), named by one of them, the root (a tracked process);
	 * its own pid for a process with a program of its own.
	 */
	pid_t family;
	bool share_changed; /* its family, or the shared memory it maps, changed: a fork, an exec,
			       an exit */
	/* The image before its exec that wait4's ru_maxrss includes (memline's child's copy of
	 * memline, for the command), KiB: ru_maxrss is its own only when above; -1 unknown. */
	long long maxrss_base;
	long long exit_peak; /* when it is reaped: its final interval's peak, KiB; -1 unknown */
	struct proc_pss pss;
	struct proc_threads *th; /* collect-threads.c, collect-heap.c */
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

extern const struct collector collect_stat, collect_vm, collect_status, collect_smaps, collect_io,
	collect_heap, collect_threads;

/* ---- collect-threads.c, for collect-heap.c and the sampler ---- */

/* p's threads, made on first use; NULL out of memory (s->oom set). */
struct proc_threads *threads_of(struct sampler *s, struct tracked_proc *p);
/* The live (not ended) thread tid of p, added (not announced yet) when new; NULL out of memory. */
struct tracked_thread *threads_get(struct sampler *s, struct tracked_proc *p, pid_t tid);
/* p leaves the tree: its threads and heap counters are let go (the counters file removed). */
void threads_free(struct sampler *s, struct tracked_proc *p);
/* collect-heap.c's part of that: unmaps p's counters, and removes the file when gone is true. */
void heap_forget(struct sampler *s, struct tracked_proc *p, bool gone);

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
	/*
	 * p's memory is gone: it exited (it leaves the tree after this call; p->exit_peak is its
	 * final interval's peak when known), or it replaced its program (p->execs was just
	 * counted; it stays). NULL: nothing to do.
	 */
	void (*left)(struct sampler *s, struct tracked_proc *p, bool exec);
};

/* The job's memory as the sum of its processes' RSS, and their peaks (method rss). */
extern const struct tree_collector collect_job_rss;
/* The job's memory cgroup's charge, peak and split (method cgroup), when it has one. */
extern const struct tree_collector collect_cgroup;
/*
 * The job's memory as the sum of its processes' PSS (method pss): read within a CPU budget,
 * estimated in between; a page shared by several processes of the tree counted once.
 */
extern const struct tree_collector collect_job_pss;
/*
 * --heap: the tree's heap (the processes' sum); and the counters files of processes that came
 * and went between two samples, removed (collect-heap.c).
 */
extern const struct tree_collector collect_heap_tree;

/*
 * Reads p's smaps_rollup for the sample at t (once: a second call at the same t gives the same
 * read), counting its CPU time against the budget of the PSS reads. False when it cannot be
 * read. (collect-pss.c, for collect-smaps.c too.)
 */
bool pss_read(struct sampler *s, struct tracked_proc *p, double t, struct proc_smaps *out);

/*
 * p joined the tree with its parent's program (a fork or a vfork, not exec'd yet): decides,
 * once, whether it shares parent's address space (kcmp), and sets p->vm_of. (collect-vm.c, for
 * the sampler.)
 */
void vm_joined(struct sampler *s, struct tracked_proc *p, const struct tracked_proc *parent);

/* ---- the sampler's, for collectors ---- */

/* Queues the exit of p at t: with wait_status when known (a zombie's), else of unknown cause. */
void sampler_emit_exit(struct sampler *s, struct tracked_proc *p, double t, int wait_status,
		       bool known);
/* Queues an exec record of p at t, with its new command line; tells the tree collectors. */
void sampler_emit_exec(struct sampler *s, struct tracked_proc *p, double t);
/* The tracked process with pid, or NULL. */
struct tracked_proc *sampler_find(const struct sampler *s, pid_t pid);
/* A start time in clock ticks since boot as seconds since the recording began. */
double sampler_start_secs(const struct sampler *s, unsigned long long starttime);
/* Clock ticks as milliseconds. */
long long sampler_ticks_ms(const struct sampler *s, unsigned long long ticks);

/* ---- the sampler's, for its event side (sampler-events.c) ---- */

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
