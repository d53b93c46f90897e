/*
 * record: the vocabulary of a recording, shared by the sampler (which fills these structs from
 * /proc), the log writer (which encodes them) and the log reader (which decodes them). Plain
 * data, no behaviour beyond names; see docs/log-format.md for what each field means.
 * Memory is in KiB, CPU time in ms, times in seconds since the start; -1 means unknown (null).
 */
#ifndef MEMLINE_RECORD_H
#define MEMLINE_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * The format this memline writes; readers take it and every older one. 2 added the job's
 * memory (tree fields job, job_peak and the cgroup's split, the header's "memory"), vm_of,
 * processes seen only at their exit, how each exit was learned, and the end's job_peak. 3 added
 * threads: "thread" records, the samples' per-thread rows ("th", named by the header's
 * thread_fields), the processes' and the tree's "heap", the header's "heap" and "heap" records.
 * 4 added jobs of many processes and nodes: the header's "place" (the job, rank, local rank,
 * size, node index and launcher, from the launcher's environment) and "clock" (the wall clock
 * at t = 0 to the microsecond, and whether the kernel says it is synchronised, with its
 * errors), and "clock" records pairing the wall clock with t as the recording goes on.
 */
#define LOG_FORMAT_VERSION 4

/* Positions in a sample's per-process array, in log order. Append only. */
enum proc_field {
	PF_PID,
	PF_RSS,
	PF_ANON,
	PF_FILE,
	PF_SHMEM,
	PF_PEAK,
	PF_VMS,
	PF_SWAP,
	PF_PSS,
	PF_UTIME,
	PF_STIME,
	PF_MINFLT,
	PF_MAJFLT,
	PF_THREADS,
	PF_RCHAR,
	PF_WCHAR,
	PF_READ_BYTES,
	PF_WRITE_BYTES,
	PF_VM_OF, /* the pid whose address space it shares (vfork, CLONE_VM); -1 its own */
	PF_HEAP,  /* --heap: the live heap of its threads, KiB (format 3); -1 unknown */
	PROC_NFIELDS
};
/* The state letter follows the numeric fields in the log's array, named "state". */
extern const char *const proc_field_names[PROC_NFIELDS];

/* Positions in a sample's tree array. Append only. */
enum tree_field {
	TF_NPROC,
	TF_RSS,
	TF_ANON,
	TF_FILE,
	TF_SHMEM,
	TF_PEAK,
	TF_VMS,
	TF_SWAP,
	TF_PSS,
	TF_UTIME,
	TF_STIME,
	TF_JOB,	     /* the job's memory, by the header's method (memory_method) */
	TF_JOB_PEAK, /* its highest since the previous sample */
	TF_CG_ANON,  /* the job's cgroup: memory.stat's split */
	TF_CG_FILE,
	TF_CG_SHMEM,
	TF_CG_KERNEL,
	TF_CG_SOCK,
	TF_CG_SWAP,
	TF_HEAP, /* --heap: the processes' live heap, KiB, where known (format 3); -1 none */
	TREE_NFIELDS
};
extern const char *const tree_field_names[TREE_NFIELDS];

/*
 * Positions in a sample's per-thread rows ("th", format 3). Append only. Heap numbers are in
 * bytes (the heap library counts each one), -1 unknown (a process without the library's
 * counters); CPU time in ms.
 */
enum thread_field {
	TH_PID,
	TH_TID,
	TH_UTIME,
	TH_STIME,
	TH_HEAP,      /* live heap: allocated by this thread, not freed yet (by anyone) */
	TH_HEAP_PEAK, /* its highest since its previous row */
	TH_ALLOC,     /* bytes allocated, cumulative */
	TH_FREED,     /* bytes of its blocks freed (by itself or others), cumulative */
	TH_NALLOC,    /* allocations, cumulative */
	TH_NFREE,     /* frees of its blocks, cumulative */
	TH_MMAP,      /* of the live heap: anonymous mappings it made and are still mapped */
	THREAD_NFIELDS
};
extern const char *const thread_field_names[THREAD_NFIELDS];

struct thread_values {
	long long v[THREAD_NFIELDS];
};

/*
 * A thread of a process ("thread" record, format 3): it appeared (or was renamed: name), or it
 * ended (end; name NULL).
 */
struct thread_info {
	double t;
	pid_t pid, tid;
	const char *name; /* its comm; NULL unknown, or an end */
	bool end;
};

/*
 * Whether a process's heap is counted ("heap" record, format 3, --heap): once the heap
 * library's counters of its program image were found (on), or when they cannot be (off, why).
 */
struct heap_info {
	double t;
	pid_t pid;
	bool on;
	const char *allocator; /* on: the file of the malloc it uses ("libc.so.6"); NULL */
	const char *why;       /* off: why not (a static binary, ...); on: a limit, or NULL */
};

/* How --heap counts a process's heap (the header's "heap"). */
enum heap_mode { HEAP_OFF, HEAP_MALLOC, HEAP_EXACT, HEAP_NMODES };
extern const char *const heap_mode_names[HEAP_NMODES]; /* "off", "malloc", "exact" */

struct proc_values {
	long long v[PROC_NFIELDS];
	char state;
};

struct tree_values {
	long long v[TREE_NFIELDS];
};

/* A process joining the tree ("proc") or replacing its program ("exec"). */
struct proc_info {
	pid_t pid;
	pid_t ppid;
	double t;     /* when memline saw it */
	double start; /* when the kernel started it */
	char comm[32];
	/* The command line: arguments separated by NUL bytes, the last one NUL-terminated but
	 * the terminator not counted in cmdline_len. */
	char *cmdline;
	size_t cmdline_len;
	bool at_exit; /* known only at its exit (a kernel event told of it): "seen": "exit" */
};

enum exit_how { EXIT_HOW_UNKNOWN, EXIT_HOW_EXITED, EXIT_HOW_KILLED };
extern const char *const exit_how_names[3];

/* How memline learned that a process ended. */
enum exit_source {
	EXIT_SRC_VANISHED,  /* it was gone at a sample: nothing said how it ended */
	EXIT_SRC_ZOMBIE,    /* its zombie's /proc/PID/stat */
	EXIT_SRC_WAIT4,	    /* memline reaped it */
	EXIT_SRC_TASKSTATS, /* the kernel's taskstats exit record */
	EXIT_SRC_CONNECTOR, /* the kernel's proc connector */
	EXIT_SRC_PTRACE,    /* its exit stop under --trace */
	EXIT_SRC_PIDFD,	    /* a pidfd held on it (attach) */
	EXIT_NSOURCES
};
extern const char *const exit_source_names[EXIT_NSOURCES];

struct exit_info {
	pid_t pid;
	double t;
	enum exit_how how;
	int code;   /* -1 unknown */
	int signal; /* -1 unknown or none */
	bool core;
	bool oom;
	/* KiB, -1 unknown: the peak of its last interval (the larger of hwm and a maxrss that is
	 * its own); its own address space's high-water mark at exit (taskstats, ptrace: never the
	 * image before its exec); wait4's ru_maxrss as the kernel gave it (it covers the children
	 * it waited for, and the image it had before its exec) */
	long long peak, hwm, maxrss;
	/* KiB, -1 unknown: the high-water mark of the image it had before its exec, which maxrss
	 * includes (memline's child's copy of memline, for the command): maxrss is the process's
	 * own (or its waited children's) only when above it */
	long long maxrss_base;
	long long utime, stime;
	enum exit_source source;
};

/* One frame of a captured stack (docs/log-format.md, "frames"). */
enum frame_kind { FRAME_NATIVE, FRAME_PYTHON, FRAME_NKINDS };
extern const char *const frame_kind_names[FRAME_NKINDS]; /* "native", "python" */

struct frame_info {
	enum frame_kind kind;
	const char *fn;	    /* the function's name; NULL unknown (no symbol) */
	const char *module; /* native: the mapped file's path, or "[vdso]"; NULL unknown */
	long long off;	    /* native: the pc's offset in module's file; -1 unknown */
	long long fn_off;   /* native: the pc's offset from fn's start; -1 unknown */
	const char *file;   /* the source file; NULL unknown (no debug information) */
	int line;	    /* its line; 0 unknown */
};

/* Why a capture was taken (--stacks=WHEN). */
enum stack_why { STACK_PEAK, STACK_EVENT, STACK_EVERY, STACK_SIGNAL, STACK_HEAP, STACK_NWHY };
/* "peak", "event", "every", "signal", "heap" (a thread's new heap peak, --heap) */
extern const char *const stack_why_names[STACK_NWHY];
/* The same moments as --stacks=WHEN and the header's "stacks" name them: "peaks", "events",
 * "every", "signal", "heap" */
extern const char *const stack_when_names[STACK_NWHY];

/*
 * One thread's stack, from one capture of a process's threads (docs/log-format.md, "stack").
 * The log holds frames once each, in "frames" records the writer makes as new frames come.
 */
struct stack_info {
	double t;
	long capture; /* the capture's number, from 1: the threads of one capture share it */
	enum stack_why why;
	const char *label; /* why event: the event's or span's label (len bytes); NULL none */
	size_t label_len;
	pid_t pid, tid;
	const char *thread;		 /* the thread's name (comm); NULL unknown */
	const struct frame_info *frames; /* innermost first */
	size_t n_frames;
	bool truncated;	    /* the unwind stopped before the outermost frame */
	const char *error;  /* why there are no frames, or fewer than there are; NULL */
	long long stall_us; /* how long the thread was stopped, microseconds; -1 unknown */
};

/* The captures of a recording, in its end record ("stacks"). */
struct stack_counts {
	long captures; /* captures taken; -1: stacks were not asked for */
	long skipped;  /* not taken: the budget was spent */
	long failed;   /* taken, with no stack for any thread (an error says why) */
	double cpu;    /* memline's CPU time for them, seconds */
};

enum run_status {
	RUN_COMPLETED,
	RUN_FAILED,
	RUN_KILLED,
	RUN_OOM_KILLED,
	RUN_DETACHED,
	RUN_EXITED,
	RUN_INCOMPLETE,
	RUN_RUNNING,
	RUN_NSTATUS
};
extern const char *const run_status_names[RUN_NSTATUS];
/* Returns the status whose name is s, or -1. */
int run_status_from_name(const char *s);

struct end_info {
	double t;
	enum run_status status;
	int exit_code; /* -1 unknown */
	int signal;    /* -1 none */
	bool core;
	pid_t *oom_killed;
	size_t n_oom_killed;
	pid_t *alive;
	size_t n_alive;
	long samples;
	long long self_utime, self_stime; /* memline's own CPU time, ms; -1 unknown */
	const char *error;		  /* a failure's message from the event channel, or NULL */
	long long job_peak;		  /* the job's highest memory over the run, KiB; -1 */
	double job_peak_t;
	long procs;    /* processes of the tree that memline knew of, all told; -1 unknown */
	long missed;   /* processes it may have missed (pids handed out and never seen); -1 */
	long overruns; /* times the kernel's event sockets overflowed (records lost); -1 */
	struct stack_counts stacks; /* stacks.captures -1: --stacks was not given */
};

/* A moment or a phase boundary the program marked through the event channel. */
enum mark_kind { MARK_EVENT, MARK_SPAN_BEGIN, MARK_SPAN_END };

struct mark_info {
	enum mark_kind kind;
	double t;
	const char *text; /* the label or span name */
	size_t len;
	pid_t pid, tid; /* -1 unknown */
};

/*
 * How the job's memory (the tree fields job and job_peak) is obtained, best first: the job's
 * memory cgroup (every page once, kernel memory included), the processes' PSS (shared pages
 * split among those that map them), or the sum of their RSS (a page shared by n processes
 * counted n times; processes sharing one address space counted once).
 */
enum memory_method { MEM_RSS, MEM_PSS, MEM_CGROUP, MEM_NMETHODS };
extern const char *const memory_method_names[MEM_NMETHODS]; /* "rss", "pss", "cgroup" */

#define JOB_VARS_MAX	  32
#define EVENT_SOURCES_MAX 8

/*
 * Where a recording ran in a job of many processes or nodes (the header's "place", format 4):
 * what the launcher's environment says (docs/clusters.md). An older log's is derived from its
 * header's "job" variables by the reader, the same way (place_from_vars).
 */
struct place_info {
	char *job;	 /* the job's id (SLURM_JOB_ID, PBS_JOBID, ...); NULL unknown */
	long rank;	 /* this recording's rank in the job; -1 none */
	long local_rank; /* its rank among the job's ranks on its node; -1 unknown */
	long size;	 /* the job's ranks; -1 unknown */
	long node_index; /* its node's index among the job's nodes; -1 unknown */
	char *launcher;	 /* "openmpi", "pmix", "pmi", "slurm", "pbs"; NULL none */
	bool node_wide;	 /* it records the whole job on its node (attach --slurm-job, --cgroup) */
};

/*
 * The wall clock at the start (the header's "clock", format 4), and at a "clock" record: the
 * log's time t paired with CLOCK_REALTIME, and how good the clock says it is (adjtimex).
 */
struct clock_info {
	double t;	       /* the log's time of the reading; 0 in the header */
	long long wall_us;     /* CLOCK_REALTIME at t, microseconds since the epoch; -1 unknown */
	int synced;	       /* 1 synchronised (NTP/PTP), 0 not (STA_UNSYNC), -1 unknown */
	long long maxerror_us; /* the kernel's maximum error, microseconds; -1 unknown */
	long long esterror_us; /* its estimated error, microseconds; -1 unknown */
};
struct header_info {
	int format;
	char *memline_version;
	char *mode; /* "run" or "attach" */
	char *host;
	char *start_iso;
	double start_unix;
	char **command; /* NULL-terminated */
	pid_t pid;
	pid_t *pids;
	size_t n_pids;
	char *cwd;
	char *job_names[JOB_VARS_MAX];
	char *job_values[JOB_VARS_MAX];
	size_t n_job;
	long page_size;
	long clk_tck;
	long long mem_total;
	char *kernel;
	double interval_fixed; /* 0 for the adaptive schedule */
	double interval_min, interval_max;
	bool peak_reset;
	bool pss;
	/* the header's "memory": how the job's memory is measured, and its cgroup if any */
	enum memory_method method;
	char *cgroup_path;  /* NULL: none */
	int cgroup_version; /* 1 or 2 */
	bool cgroup_own;    /* memline made it for the job */
	char *cgroup_peak;  /* how job_peak is measured: "fd", "reset" or "lifetime" */
	/* the header's "events": where memline learns of processes ("poll", "wait4", ...) */
	char *event_sources[EVENT_SOURCES_MAX];
	size_t n_event_sources;
	/* the header's "events_off": sources memline tried and could not have, and why */
	char *events_off[EVENT_SOURCES_MAX];
	char *events_off_why[EVENT_SOURCES_MAX];
	size_t n_events_off;
	/* the header's "stacks" (--stacks): stacks_when is 0 when stacks were not asked for */
	unsigned stacks_when; /* 1 << enum stack_why for each moment asked for */
	double stacks_every;  /* every=S: S; 0 */
	double stacks_threshold, stacks_gap, stacks_budget;
	enum heap_mode heap;	 /* the header's "heap" (--heap): HEAP_OFF when absent */
	struct place_info place; /* format 4's "place"; else from job_names/job_values */
	struct clock_info clock; /* format 4's "clock"; else wall_us from start_unix, -1s */
};

/* Decodes a wait(2) status into how a process ended. */
void exit_info_from_wait_status(struct exit_info *e, int status);

#endif
