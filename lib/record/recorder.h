/*
 * recorder: the recording loop that `memline run` and `memline attach` share (and, later,
 * libmemline's self-recording). It starts or adopts the processes, drives the sampler on the
 * sampling schedule, reaps memline's children, decides OOM kills, forwards signals, and hands
 * every record to the log writer. It never prints and never kills the job; the result says
 * how the run ended and what went wrong.
 */
#ifndef MEMLINE_RECORDER_H
#define MEMLINE_RECORDER_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "log/record.h"
#include "util/strbuf.h"

struct procfs;
struct sample;
struct recorder_watcher;

/* --stacks (docs/stacks.md): when to capture, and within what. */
struct stacks_options {
	unsigned when;	  /* 1 << enum stack_why for each moment asked for; 0: off */
	double every;	  /* every=S: S seconds; 0 */
	double threshold; /* a new peak is this fraction above the last captured one */
	double gap;	  /* at least this long between two peak captures, seconds */
	double budget;	  /* the share of one CPU captures may take */
};
/* The defaults of --stacks-threshold, --stacks-gap and --stacks-budget. */
#define STACKS_THRESHOLD 0.05
#define STACKS_GAP	 1.0
#define STACKS_BUDGET	 0.02

struct recorder_options {
	const char *log_path;
	bool log_exclusive; /* fail if log_path exists (a generated name) */
	double interval;    /* fixed interval in seconds; 0 for the adaptive schedule */
	double min_interval, max_interval;
	bool wait; /* run: go on until every descendant has exited */
	bool pss;
	/* the share of one CPU the job's PSS reads may take (sampler_options.pss_budget) */
	double pss_budget;
	bool peak_reset;
	const char *proc_root;	 /* "/proc" */
	const char *events_path; /* attach: a channel file to read (docs/events.md), or NULL */
	bool capture_output;	 /* run: record the command's output lines */
	const char *const *event_regex; /* run: output lines matching one become events */
	size_t n_event_regex;
	bool capture_quiet; /* run: capture without passing the output on (a dashboard owns it) */
	bool stdin_null;    /* run: the command reads /dev/null (a dashboard reads the terminal) */
	double flush_interval; /* the longest a record waits before it is written; 0: 0.5 s */
	/* the kernel's event sources to open where they can be (EVENTS_* of record/events.h;
	 * all by default, 0: none) */
	unsigned kernel_events;
	bool trace; /* run: follow the tree with ptrace (record/trace.h) */
	/*
	 * The job's memory cgroup (docs/recorder.md). run makes one for the command unless
	 * no_cgroup; attach uses the attached processes' when it holds only them. cgroup: an
	 * existing one (a directory of a cgroup file system, or a path of the memory hierarchy)
	 * to record instead: run places the command in it, attach records its processes.
	 */
	bool no_cgroup;
	const char *cgroup;
	/*
	 * The recording is of the whole job on its node (attach --cgroup, --slurm-job), one per
	 * node, not of one rank: the header's place says node_wide, and no rank.
	 */
	bool node_wide;
	/*
	 * attach --slurm-job (lib/record/slurm.h): the job whose processes on this node are
	 * recorded (0: none), this node's name (SLURMD_NODENAME; NULL unknown) and whether memline
	 * is itself one of the job's (it runs in a step of it: then a node with none of the job's
	 * processes yet, or no longer, is no end: it ends at a signal, as at the job's end). Its
	 * memory cgroup is recorded as cgroup's; else the processes of its cgroup, or those whose
	 * environment names it; looked for again every second.
	 */
	unsigned long slurm_job;
	const char *slurm_node;
	bool slurm_inside;
	/*
	 * --stacks: with stacks.when, the watcher that captures them (lib/stacks/: the tool's,
	 * which libmemline's recorder does without); SIGUSR1 then asks for a capture.
	 */
	struct stacks_options stacks;
	const struct recorder_watcher *stacks_watcher;
	/*
	 * --heap (docs/heap.md): HEAP_OFF, or how; heap_lib the path of libmemline-heap.so, which
	 * run preloads into the command (LD_PRELOAD, MEMLINE_HEAP_DIR; PYTHONMALLOC=malloc for
	 * HEAP_EXACT). attach reads the counters of processes that have the library already, in
	 * the directory of events_path.
	 */
	enum heap_mode heap;
	const char *heap_lib;
	/*
	 * run and attach: called once, when the log has its header and the processes are being
	 * recorded, from the recording thread with every signal blocked (threads it starts
	 * inherit that, so signals keep coming to the recorder). May be NULL.
	 */
	void (*started)(void *data, const char *log_path);
	void *started_data;
	/*
	 * Told, from the recording thread, of a limit of the recording while it runs (the kernel
	 * refused some process's files); the log says it too. msg is one line. May be NULL.
	 */
	void (*warn)(void *data, const char *msg);
	void *warn_data;
};

/*
 * What watches the job besides the sampler, driven from the recording thread: the stack
 * capture. It writes through the callbacks it is started with; every member is called with
 * what start returned.
 */
struct recorder_watch_io {
	void (*stack)(void *data, const struct stack_info *s);
	void (*warning)(void *data, double t, const char *code, pid_t pid, const char *text);
	/*
	 * Under --trace memline traces the job's threads already: traced says so (it begins
	 * once the command is seized), and stop hands the tracer a stop of a traced thread that
	 * a capture met and that is not its own (code: waitid's si_status).
	 */
	bool (*traced)(void *data);
	void (*stop)(void *data, pid_t tid, int code);
	void *data;
};
struct recorder_watcher {
	void *(*start)(const struct recorder_options *o, struct procfs *fs,
		       const struct recorder_watch_io *io);
	void (*sample)(void *w, const struct sample *s, double t); /* after each sample */
	/* an event or a span's end or begin from pid (-1 unknown: main) */
	void (*mark)(void *w, pid_t pid, pid_t main, const char *label, size_t len, double t);
	void (*ask)(void *w);  /* SIGUSR1: stacks of every process at the next sample */
	void (*tick)(void *w); /* each turn of the loop */
	void (*counts)(const void *w, struct stack_counts *c);
	void (*stop)(void *w); /* frees w */
};

/* The schedule's defaults; see recorder_next_interval. */
#define RECORDER_MIN_INTERVAL 0.01
#define RECORDER_MAX_INTERVAL 5.0
/* The longest interval there is (a day): longer ones are refused by the callers, cut here. */
#define RECORDER_INTERVAL_LIMIT 86400.0
/* The longest the loop waits in one turn; a longer wait is several turns. */
#define RECORDER_MAX_WAIT 3600.0
/*
 * How often a "clock" record pairs the wall clock with the log's time (and once more just
 * before the end), seconds: often enough for a merge to follow a clock that drifts (NTP slews
 * it by at most 500 ppm, 0.15 s in this time) or is stepped, rare enough to cost nothing (a
 * line of 100 bytes). MEMLINE_CLOCK_PERIOD (seconds, at least RECORDER_CLOCK_PERIOD_MIN) sets
 * another period, for tests.
 */
#define RECORDER_CLOCK_PERIOD	  300.0
#define RECORDER_CLOCK_PERIOD_MIN 0.01

void recorder_options_init(struct recorder_options *o);

struct recorder_result {
	enum run_status status;
	int exit_code; /* the command's exit code, -1 if it was killed or is unknown */
	int signal;    /* the signal that killed it, -1 if none */
	bool core;
	int memline_exit; /* what memline should exit with: the code, or 128 + signal */
	double duration;
	long long peak_kib; /* the tree's peak RSS (the sum of its processes' peaks) */
	double peak_t;
	long long job_peak_kib; /* the job's peak memory, by method; -1 unknown */
	double job_peak_t;
	enum memory_method method;
	size_t processes; /* how many processes the tree had in all */
	long missed;	  /* how many it may have had that were never seen; -1: none */
	size_t alive;	  /* descendants still running at the end */
	size_t oom_killed;
	long samples;
	struct strbuf warning; /* a non-fatal problem (the log could not be written in full) */
	char *log_path;	       /* where the log is (owned); NULL when no log was written */
	bool log_removed;      /* the log was deleted while it was written */
	bool log_moved;	       /* log_path no longer names the log (renamed or replaced) */
};

enum recorder_error {
	RECORDER_OK = 0,
	RECORDER_ERR_LOG = -1,	    /* cannot create the log */
	RECORDER_ERR_NOEXEC = -2,   /* the command could not be started (126/127 in exit_code) */
	RECORDER_ERR_NOPROC = -3,   /* attach: no such process */
	RECORDER_ERR_SYSTEM = -4,   /* a system call memline needs failed */
	RECORDER_ERR_EVENTS = -5,   /* attach: the event channel file cannot be opened */
	RECORDER_ERR_REGEX = -6,    /* an --event-regex does not compile */
	RECORDER_ERR_NOCGROUP = -7, /* --cgroup: no such cgroup */
	RECORDER_ERR_CGROUP = -8,   /* --cgroup: not a memory cgroup, or the command cannot go in */
	RECORDER_ERR_AMBIGUOUS = -9, /* --slurm-job: this host runs several nodes of the job */
};

/*
 * Runs argv and records it and its descendants. Returns RECORDER_OK with *res filled when the
 * command ran (whatever its exit status), else an error with a one-line message in err.
 */
int recorder_run(const struct recorder_options *o, char *const argv[], struct recorder_result *res,
		 struct strbuf *err);
/*
 * Records running processes and their descendants until they exit or SIGINT/SIGTERM/SIGHUP;
 * with o->cgroup, n may be 0: the processes are the cgroup's (and those that join it later);
 * with o->slurm_job, n is 0: they are the job's on this node.
 */
int recorder_attach(const struct recorder_options *o, const pid_t *pids, size_t n,
		    struct recorder_result *res, struct strbuf *err);
void recorder_result_release(struct recorder_result *res);

/*
 * Self-recording (libmemline's memline_start): records the calling process and its
 * descendants from a thread of its own, which blocks every signal and reaps nothing, until
 * recorder_self_stop(). Returns NULL with a message in err when it cannot start.
 */
struct recorder_self;
struct recorder_self *recorder_self_start(const struct recorder_options *o, struct strbuf *err);
/* The channel file the recording reads (for MEMLINE_EVENTS), or NULL. */
const char *recorder_self_channel(const struct recorder_self *s);
/* With heap: the directory the recording reads the heap counters files from, or NULL. */
const char *recorder_self_heap_dir(const struct recorder_self *s);
/*
 * Ends the recording with status completed, or failed with error (not NULL), writes the end
 * record and frees s. Returns -1 with a message in err when the log could not be written in
 * full.
 */
int recorder_self_stop(struct recorder_self *s, const char *error, struct strbuf *err);

/* The sampling interval at elapsed seconds since the start; at most RECORDER_INTERVAL_LIMIT. */
double recorder_next_interval(const struct recorder_options *o, double elapsed);
/*
 * A wait of secs seconds as a timespec for sigtimedwait and ppoll: never negative, never past
 * RECORDER_MAX_WAIT (so it cannot overflow time_t), 0 for NaN.
 */
struct timespec recorder_wait_timespec(double secs);

#endif
