/*
 * run: the in-memory model of one recorded run, built from a memline log in one pass. Every
 * renderer (the text and JSON reports, later plots, HTML and live views) reads this model and
 * nothing else, so the log format is decoded in exactly one place (log-reader.c).
 *
 * Processes are identified by pid plus their place in time: a "proc" record for a pid whose
 * previous process already exited starts a new process, and samples map each pid to the live
 * process that holds it. Memory is in KiB, CPU in ms, times in seconds since the start of the
 * recording; -1 means unknown, as in record.h.
 *
 * Events and spans (docs/events.md) are kept with the tree's memory around them. Spans are
 * paired as their records arrive, on a stack per thread; what depends on samples that come
 * later in the log (an event's RSS, a span's peak and RSS change, an open span's end) is
 * computed by run_update_status().
 */
#ifndef MEMLINE_RUN_H
#define MEMLINE_RUN_H

#include "log/reader.h"
#include "log/record.h"
#include "model/stacks.h"
#include "model/threads.h"
#include "util/strbuf.h"

struct run_proc {
	pid_t pid;
	pid_t ppid;	    /* -1 unknown */
	double start;	    /* when the kernel started it (negative: before the recording) */
	double seen;	    /* when memline first saw it */
	double end;	    /* time of its exit record; -1 if still alive at the end of the log */
	char comm[32];	    /* newest kernel short name */
	char *cmdline;	    /* newest command line, NUL-separated arguments; NULL if unknown */
	size_t cmdline_len; /* bytes of cmdline, counting each argument's NUL */
	bool exited;	    /* it has an exit record, in exit */
	struct exit_info exit;
	long long peak;		/* highest RSS over the run, KiB; -1 unknown */
	double peak_t;		/* when it was seen */
	long long peak_pss;	/* highest PSS over the run (--pss), KiB; -1 unknown */
	bool at_exit;		/* known only at its exit: no sample shows it */
	long long utime, stime; /* last known CPU times, ms; -1 unknown */
	long first_sample;	/* index into run->samples of its first and last sample; -1 none */
	long last_sample;
	/* --heap (format 3): whether its heap was counted (its newest heap record: 1 on, 0 off;
	 * -1 no record), the malloc it used and why not (or its limit), owned, NULL none; its
	 * highest live heap (the samples' "heap", KiB; -1 unknown) and when */
	int heap_on;
	char *heap_allocator;
	char *heap_why;
	long long heap_peak;
	double heap_peak_t;
};

/*
 * One process's values in one sample: the fields the model was loaded with (run_load_fields),
 * packed. Read a value with run_ps_value(), walk them with run_ps().
 */
struct run_proc_sample {
	int proc;      /* index into run->procs */
	char state;    /* the state letter, '\0' unknown */
	long long v[]; /* run->n_fields values; field f is v[run->field_slot[f]] */
};

/* A set of enum proc_field, as bits: RUN_FIELD(PF_RSS) | RUN_FIELD(PF_PEAK)... */
#define RUN_FIELD(f)   ((unsigned long long)1 << (f))
#define RUN_ALL_FIELDS (RUN_FIELD(PROC_NFIELDS) - 1)

struct run_sample {
	double t;
	long long avail; /* MemAvailable, KiB; -1 unknown */
	struct tree_values tree;
	size_t first; /* its processes are run->proc_samples[first .. first + n) */
	size_t n;
};

/* An event: a moment the program marked. */
struct run_event {
	double t;
	char *label;	  /* UTF-8, NUL-terminated; it may hold NULs: label_len counts them */
	size_t label_len; /* at most LOG_LABEL_MAX */
	pid_t pid, tid;	  /* -1 unknown (a plain line) */
	long long rss;	  /* tree RSS at that moment (run_rss_at), KiB; -1 unknown */
	size_t seq;	  /* the order its record came in: ties of t keep it */
};

/*
 * A span: a named phase of one thread, from its begin record to the end record that closed
 * it, or to the end of the run (open). Memory around it, with at(x) the sample run_sample_at
 * picks for time x: peak is the highest run_sample_peak() of the samples from at(start) to
 * at(end), both included (the first sample at or after the end covers the span's last
 * moments); rss_change is the tree RSS of at(end) minus that of at(start).
 */
struct run_span {
	char *name;	 /* UTF-8, NUL-terminated; it may hold NULs: name_len counts them */
	size_t name_len; /* at most LOG_LABEL_MAX */
	pid_t pid, tid;	 /* -1 unknown */
	double start, end;
	int depth;	      /* spans open on its thread when it began: 0 for an outermost one */
	bool open;	      /* no end record closed it: it ends with the run */
	long long peak;	      /* KiB; -1 unknown */
	long long rss_change; /* KiB, signed; valid when has_rss_change */
	bool has_rss_change;
};

/* A line the command wrote (--capture-output), in log order. */
struct run_output {
	double t;
	bool err;   /* stderr, else stdout */
	char *text; /* UTF-8 without its newline, NUL-terminated; it may hold NULs */
	size_t len; /* at most LOG_OUTPUT_MAX */
};

struct run_thread;

struct run {
	char *path;
	bool has_header;
	struct header_info header;

	struct run_proc *procs; /* in the order they joined the tree */
	size_t n_procs, alloc_procs;
	struct run_sample *samples;
	size_t n_samples, alloc_samples;
	/* private: the process samples, ps_stride bytes each; use run_ps() */
	unsigned char *ps_buf;
	size_t ps_stride, alloc_proc_samples;
	size_t n_proc_samples;
	unsigned long long fields;    /* the proc fields kept (RUN_FIELD bits) */
	int field_slot[PROC_NFIELDS]; /* where each is in a process sample's v, -1 not kept */
	int n_fields;

	bool has_end;
	struct end_info end;
	enum run_status status; /* the end's status, else running or incomplete */
	double duration;	/* the end's time, else the last time seen in the log */

	long long peak; /* highest RSS of the whole tree, KiB; -1 unknown */
	double peak_t;
	/*
	 * The job's memory (run_sample_job): its highest, and when; by header.method (a format 1
	 * log's is the RSS sum, method rss). The highest of the samples' job_peak and of the end
	 * record's (which covers samples a full disk kept out of the log); by method rss (the RSS
	 * sum) at least any one process's peak, as the tree's peak is. peak_pss is the tree's
	 * highest PSS (--pss), and when; -1 unknown.
	 */
	long long job_peak;
	double job_peak_t;
	long long peak_pss;
	double peak_pss_t;
	/*
	 * The largest single process's peak was at least this, KiB; -1 unknown: the highest wait4
	 * ru_maxrss of memline's children (exit maxrss above its maxrss_base). A process that
	 * waited for its children reports the largest of them and itself, so this holds even when
	 * the process that peaked came and went unseen; it bounds no process's own peak.
	 */
	long long largest_peak_floor;

	bool truncated; /* the last line was cut off */
	long corrupt;	/* corrupt lines skipped */

	struct run_event *events; /* sorted by t (after run_update_status) */
	size_t n_events, alloc_events;
	struct run_span *spans; /* in the order of their begin records */
	size_t n_spans, alloc_spans;
	struct run_output *outputs; /* captured output lines, in the order of the log */
	size_t n_outputs, alloc_outputs;
	char *error;	  /* the end record's "error" message; NULL when none */
	size_t error_len; /* its bytes (NULs included), at most LOG_LABEL_MAX */
	long end_events;  /* the end record's count of event and span records; -1 unknown */

	/* A "stopped" record: the writer could write nothing more from stopped_t on. */
	bool stopped;
	double stopped_t;
	char *stopped_errno; /* its errno's name ("ENOSPC"), "" unknown; owned */
	char *stopped_error; /* its error message, "" unknown; owned */
	/* The stack captures (--stacks); the end's counts of them are end.stacks. */
	struct run_stacks stacks;
	/* The processes' threads (format 3): CPU time and names, and under --heap their heap. */
	struct run_threads threads;
	/* The log's "clock" records (format 4), in log order: the wall clock at times t. */
	struct clock_info *clocks;
	size_t n_clocks, alloc_clocks;
	/* The texts of the log's warning records (limits of the recording), at most 16. */
	char **warnings;
	size_t n_warnings;

	/* private: pid -> index of the newest process with that pid (open addressing) */
	int *pid_slots;
	size_t pid_cap, pid_used;
	/* private: (pid, tid) -> the thread's stack of open spans (open addressing) */
	struct run_thread *span_threads;
	size_t span_cap, span_used;
	bool events_unsorted;
};

/* What run_load returns on failure, so a command can pick its exit code. */
enum {
	RUN_LOAD_NOINPUT = -1, /* the log cannot be opened */
	RUN_LOAD_DATAERR = -2, /* not a memline log, a newer format, unreadable, out of memory */
};

/* An empty run that keeps every field of the process samples. */
void run_init(struct run *run);
/*
 * Which fields of the process samples the model keeps, before any record is added: a reader
 * that needs a few (a plot: one metric and the CPU times) saves most of the memory of a large
 * log. The processes' peaks, CPU times and the tree's values are kept whatever the choice.
 */
void run_keep_fields(struct run *run, unsigned long long fields);
/*
 * Reads the log at path into run (initialised here). warn (may be NULL) is told of each
 * skipped line. Returns 0, or RUN_LOAD_NOINPUT / RUN_LOAD_DATAERR with a one-line message in
 * err; run is then empty but must still be released.
 */
int run_load(struct run *run, const char *path, log_warn_fn *warn, void *data, struct strbuf *err);
/* run_load keeping only the given fields of the process samples (run_keep_fields). */
int run_load_fields(struct run *run, const char *path, unsigned long long fields, log_warn_fn *warn,
		    void *data, struct strbuf *err);

/* Process sample j (0 <= j < n_proc_samples); a sample's are first .. first + n - 1. */
static inline const struct run_proc_sample *run_ps(const struct run *run, size_t j)
{
	return (const struct run_proc_sample *)(const void *)(run->ps_buf + j * run->ps_stride);
}

/* Field f of a process sample; -1 when unknown or not kept. */
static inline long long run_ps_value(const struct run *run, const struct run_proc_sample *ps,
				     enum proc_field f)
{
	int slot = run->field_slot[f];
	return slot < 0 ? -1 : ps->v[slot];
}
/*
 * Adds one record to the model, for readers that follow a growing log. The header's
 * allocations move into run (rec->header is left empty). Returns -1 only when out of memory.
 */
int run_add_record(struct run *run, struct log_record *rec);
/*
 * Recomputes run->status (and the duration) from the end record or the log's lock, then what
 * events and spans take from the samples: sorts the events, sets their RSS, the open spans'
 * end, and the spans' peak and RSS change.
 */
void run_update_status(struct run *run);
void run_release(struct run *run);

/* The newest process with pid, or -1. */
int run_proc_by_pid(const struct run *run, pid_t pid);
/*
 * Appends process i's command line, arguments joined by spaces and quoted for a POSIX shell
 * when they need it; "[comm]" when the command line is unknown (kernel threads, zombies).
 */
void run_proc_cmd(const struct run *run, size_t i, struct strbuf *out);
/* Appends the recorded command (the header's argv) the same way. */
void run_command(const struct run *run, struct strbuf *out);
/* Appends one argument, quoted for a POSIX shell if it needs it. */
void run_quote_arg(struct strbuf *out, const char *arg, size_t len);
/*
 * Pids the OOM killer killed, and pids still running when the recording stopped: from the end
 * record, else (an incomplete log) from the processes' exit records. The caller frees the
 * array; NULL with *n == 0 when there are none (or out of memory).
 */
pid_t *run_oom_killed(const struct run *run, size_t *n);
pid_t *run_alive(const struct run *run, size_t *n);
/* The process with pid the OOM killer killed, else the newest with pid; -1 if none. */
int run_oom_proc(const struct run *run, pid_t pid);
/*
 * Whether the log measured the job's memory itself (format 2 and later: the tree's "job" and
 * the header's memory method). A format 1 log's job's memory is its RSS sum, which readers
 * show as they always did ("peak RSS (whole tree)").
 */
bool run_measures_job(const struct run *run);
/* A sample's highest tree RSS: its "peak" member, else its "rss"; -1 unknown. */
long long run_sample_peak(const struct run_sample *s);
/*
 * The job's memory at sample s, and its highest since the sample before, KiB, by the run's
 * method (header.method): the cgroup's charge, the PSS sum or the RSS sum; -1 unknown.
 */
long long run_sample_job(const struct run_sample *s);
long long run_sample_job_peak(const struct run_sample *s);
/* The first sample at or after t, else n_samples. O(log n). */
size_t run_sample_from(const struct run *run, double t);
/* The first event at or after t, else n_events (events are sorted: run_update_status). */
size_t run_event_from(const struct run *run, double t);
/*
 * The sample that tells the tree's memory at time t: the first sample at or after t (memline
 * samples right after reading a message), else the last sample; -1 when there are none.
 */
long run_sample_at(const struct run *run, double t);
/* The tree's RSS at time t: run_sample_at's tree "rss", KiB; -1 unknown. */
long long run_rss_at(const struct run *run, double t);

/*
 * The capture that shows the job at its peak: the peak capture taken when the job's memory was
 * highest (nearest the job's peak among equals), else run_stacks_at the job's peak (else the
 * tree's, else the end of the run); -1 when the run has none.
 */
long run_peak_capture(const struct run *run);

#endif
