/*
 * sampler: finds every process of a tree and reads how much memory and CPU each uses, into the
 * structs of record.h. It knows nothing of logs or output: the recorder asks it for a sample
 * and for the events (a process joined, exec'd, exited) found since the last drain, in order.
 *
 * Cost model: one pread of /proc/PID/stat per process per sample. status (the RSS split and the
 * high-water mark), io and (under --pss) smaps_rollup are read once a second, and sooner (at
 * most every 50 ms) when stat shows the process faulted 16 pages in or its RSS moved by 64 KiB
 * since. For the job's memory, smaps_rollup is read within a CPU budget (pss_budget), where an
 * estimate is least sure (collect-pss.c). New processes are looked for only when the kernel's
 * last allocated pid (/proc/loadavg) moved, and then only among the new pids.
 */
#ifndef MEMLINE_SAMPLER_H
#define MEMLINE_SAMPLER_H

#include <stdbool.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "record/procfs.h"
#include "log/record.h"
#include "util/strbuf.h"

struct cgroup;

struct sampler_options {
	/* Processes whose parent is self belong to the tree (memline as child subreaper); 0 if
	 * none. */
	pid_t self;
	bool peak_reset; /* reset VmHWM after reading it */
	bool pss;	 /* read smaps_rollup */
	double t0;	 /* CLOCK_BOOTTIME seconds at the start of the recording */
	pid_t exclude;	 /* never tracked (memline itself, when it is a descendant); 0 if none */
	/* the job's memory cgroup (the caller's, kept until sampler_release), or NULL: none */
	struct cgroup *cgroup;
	/*
	 * Reads what the kernel's event sources told since (record/events.h), when a sample finds
	 * a tracked process ended: its exit record was sent before it could be reaped, so it is
	 * there to be read, and the exit has its status and peak. NULL: no sources.
	 */
	void (*news)(void *data);
	void *news_data;
	/*
	 * The share of one CPU that reading PSS for the job's memory may take (0.02: 2%); 0: the
	 * job's memory is the RSS sum.
	 */
	double pss_budget;
	/*
	 * --heap: how (HEAP_OFF: not at all), and the directory where libmemline-heap.so makes
	 * each process's counters file (record/collect-heap.c; lib/heap/counters.h). heap_lib is
	 * the library's path, as the processes' LD_PRELOAD names it.
	 */
	enum heap_mode heap;
	const char *heap_dir;
	const char *heap_lib;
};

/* The default of sampler_options.pss_budget. */
#define SAMPLER_PSS_BUDGET 0.02

enum sampler_event_type { SAMPLER_PROC, SAMPLER_EXEC, SAMPLER_EXIT, SAMPLER_THREAD, SAMPLER_HEAP };

struct sampler_event {
	enum sampler_event_type type;
	struct proc_info proc; /* SAMPLER_PROC, SAMPLER_EXEC (cmdline owned by the event) */
	struct exit_info exit; /* SAMPLER_EXIT */
	bool oom_known;	       /* exit.oom was already decided (by whoever reaped it) */
	/* SAMPLER_THREAD (name: in text); SAMPLER_HEAP (allocator in text; why static) */
	struct thread_info thread;
	struct heap_info heap;
	char text[64];
};

struct sample {
	double t;
	long long avail;
	struct tree_values tree;
	struct proc_values *procs;
	size_t n;
	/* the rows of the threads whose numbers changed since their last row (collect-threads.c) */
	struct thread_values *threads;
	size_t n_threads;
};

struct tracked_proc;
struct collector;
struct tree_collector;
struct sampler_news;

#define SAMPLER_MAX_COLLECTORS 8
#define SAMPLER_MAX_CHANGED    16

struct pss_pick;
struct proc_pss;
/* The PSS collector's state (collect-pss.c). */
struct sampler_pss {
	double credit;	   /* CPU seconds its reads may still take now (negative: overspent) */
	double credit_t;   /* when the credit was last topped up; < 0 never */
	double ns_per_kib; /* what a read costs per KiB of RSS, learned from the reads */
	double spent;	   /* CPU seconds every read of smaps_rollup took */
	unsigned long reads;
	long long exited_peak; /* what the processes that left since the last sample held */
	size_t mappers;	       /* the tree's processes mapping much shared memory or files */
	struct pss_pick *picks;
	size_t alloc_picks;
	struct proc_pss *saved; /* a group's states before a read, should it be forgotten */
	size_t alloc_saved;
};

struct sampler {
	struct procfs *fs;
	struct sampler_options opt;
	/* the collectors this recording runs (record/collector.h), in their order */
	const struct collector *collectors[SAMPLER_MAX_COLLECTORS];
	size_t n_collectors;
	const struct tree_collector *tree_collectors[SAMPLER_MAX_COLLECTORS];
	size_t n_tree_collectors;
	enum memory_method method; /* how the sample's job field is had: the best collector's */
	struct tracked_proc **procs;
	size_t n, alloc;
	/* pid -> tracked process, open addressing (linear probing); slot_cap a power of two */
	struct tracked_proc **slots;
	size_t slot_cap, slot_used;
	int last_pid;
	long long exited_peak; /* last-interval peaks of processes gone since the last sample */
	/*
	 * Families (tracked_proc.family) whose members changed since the last sample (a fork, an
	 * exec, an exit), and whether a process that mapped shared memory left: the processes
	 * that shared pages with them are marked share_changed before the next reads.
	 */
	pid_t changed[SAMPLER_MAX_CHANGED];
	size_t n_changed;
	bool changed_all, changed_shmem;
	struct sampler_pss pss;
	long long exited_utime, exited_stime;
	long long avail; /* MemAvailable, read at meminfo_t */
	double meminfo_t;
	struct sampler_event *events;
	size_t n_events, alloc_events;
	struct sample sample;
	size_t alloc_sample, alloc_threads;
	int heap_dir_fd;     /* --heap: the counters' directory; -1 */
	double heap_sweep_t; /* when it was last swept of files of processes gone unseen */
	dev_t self_dev;	     /* memline's own executable, to know its child before its exec */
	ino_t self_ino;
	struct strbuf scratch;
	bool oom; /* an allocation failed; the sampler dropped data */
	/* The first process some of whose files the kernel refused (another user's), and which
	 * (PROC_DENIED_* bits); 0 while there is none. */
	pid_t denied_pid;
	unsigned denied;
	/* What kernel event sources told of processes it does not track (sampler-events.c). */
	struct sampler_news *news;
	unsigned ev_flags;    /* SAMPLER_EV_*: what the sources that are on tell */
	bool ev_lost;	      /* a source lost reports since the last sample */
	bool in_sample;	      /* reading the processes: what sources tell is only noted */
	bool ev_ever_lost;    /* ... at some time in the recording */
	long gone;	      /* pids handed out that no sample or event showed: maybe missed */
	double prev_sample_t; /* when the sample before the last one was taken */
	/* the zombie sampler_zombie() read of a child it does not track, for sampler_reaped() */
	struct proc_stat zombie;
	bool zombie_ok;
};

void sampler_init(struct sampler *s, struct procfs *fs, const struct sampler_options *opt);
void sampler_release(struct sampler *s);

/* Starts tracking pid (not its descendants yet). False if it does not exist. */
bool sampler_add(struct sampler *s, pid_t pid, double t);
/* Starts tracking pid and every descendant it has now (attach). False if pid does not exist. */
bool sampler_add_tree(struct sampler *s, pid_t pid, double t);
/* Number of processes tracked. */
size_t sampler_count(const struct sampler *s);
bool sampler_tracks(const struct sampler *s, pid_t pid);
/* Pids of tracked processes into out (at most max); returns how many. */
size_t sampler_pids(const struct sampler *s, pid_t *out, size_t max);

/* Finds new processes and reads every tracked one. The result is valid until the next call. */
const struct sample *sampler_sample(struct sampler *s, double t);

/*
 * pid, memline's child, is a zombie about to be reaped: reads its final CPU time, and whether
 * it ever waited for a child of its own (if it did, wait4's ru_maxrss covers those children
 * too and is not its own peak).
 */
void sampler_zombie(struct sampler *s, pid_t pid);

/*
 * pid, memline's child, exec'd its program from an image whose high-water mark was at most
 * base_kib (memline's own copy, which the child measured just before its exec): wait4's
 * ru_maxrss includes that image, so it is taken as the process's peak only when above it.
 */
void sampler_set_maxrss_base(struct sampler *s, pid_t pid, long long base_kib);

/*
 * memline reaped pid itself (it is memline's child): records its exit with the wait status and
 * the final resource usage. ru_maxrss is the exit's peak only when it is the process's own:
 * it waited for no child, it shared no other's address space, and its image from before its
 * last exec is not in it (it did not exec since it was forked, or ru_maxrss is above the
 * maxrss_base of that image). Returns the exit event, or NULL if pid was not tracked.
 */
struct sampler_event *sampler_reaped(struct sampler *s, pid_t pid, int status,
				     const struct rusage *ru, double t);

/*
 * ---- What the kernel's event sources tell (record/events.h) ----
 *
 * They hear of every process on the machine; the sampler keeps what is of its tree. A process
 * whose parent is in the tree joins it at its fork, before any sample could see it; an exit
 * report of a process it never saw (it lived between two samples) is kept until its parent is
 * known to be of the tree (children often end before their parents), then written as a proc
 * record "seen at exit" and its exit, or forgotten once a sample found no such parent.
 */
enum {
	SAMPLER_EV_FORKS = 1,	     /* a source tells every fork (proc connector, ptrace) */
	SAMPLER_EV_EXITS = 2,	     /* a source tells every exit (taskstats) */
	SAMPLER_EV_PROCESS_ENDS = 4, /* it tells when the last thread of a process ended */
};
/* Which kinds of news the recording's sources give (SAMPLER_EV_* bits). */
void sampler_events_on(struct sampler *s, unsigned flags);
/* A source lost reports (its socket overflowed): the pids of this interval may be missed. */
void sampler_events_lost(struct sampler *s);

/*
 * pid, a new process (not a thread) whose parent is ppid (0: read it), was told of at t; born
 * is when it was forked, exactly (the proc connector's time), or NAN.
 */
void sampler_fork(struct sampler *s, pid_t pid, pid_t ppid, double born, double t);
/* pid replaced its program. */
void sampler_exec(struct sampler *s, pid_t pid, double t);

/* What ended: a thread other than the leader, the leader (others may run on), the process. */
enum sampler_exit_what { SAMPLER_EXIT_THREAD, SAMPLER_EXIT_LEADER, SAMPLER_EXIT_PROCESS };
struct sampler_exit_report {
	pid_t pid, tgid, ppid; /* the thread, its process, the process's parent */
	enum sampler_exit_what what;
	enum exit_source source;
	int status;		      /* wait(2) status, -1 unknown */
	long long hwm;		      /* its address space's high-water mark, KiB; -1 unknown */
	long long utime_us, stime_us; /* the thread's own CPU time; -1 unknown */
	double start;		      /* when its process started, seconds since t0; NAN unknown */
	double end;    /* when it ended, exactly (the proc connector's time); NAN unknown */
	double end_lo; /* it ended after this (the source's previous read); NAN unknown */
	char comm[32]; /* the thread's name; "" unknown */
};
void sampler_exit_report(struct sampler *s, const struct sampler_exit_report *r, double t);
/* Processes the tree had that memline never saw, at most (see docs/sampler.md); -1 where the
 * kernel's events covered the whole recording. */
long sampler_missed(const struct sampler *s);

/* The events found since the last sampler_clear_events, in the order they happened. */
struct sampler_event *sampler_events(struct sampler *s, size_t *n);
void sampler_clear_events(struct sampler *s);

#endif
