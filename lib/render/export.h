/*
 * export: a run (run.h) in other tools' formats, for `memline export`: a tidy CSV table (one
 * row per process per sample, for pandas and spreadsheets), Chrome trace event JSON (opens in
 * ui.perfetto.dev), and a gnuplot data file with the script that draws it.
 *
 * Nothing here does I/O. Text is appended to an export_out's buffer; a caller that wants a
 * large export written as it is made gives a flush function, which is handed the text in
 * chunks of about 64 KiB, so a million process-samples never sit in memory twice.
 */
#ifndef MEMLINE_EXPORT_H
#define MEMLINE_EXPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "model/job.h"
#include "model/run.h"
#include "model/series.h"
#include "util/strbuf.h"

/* Writes len bytes of an export somewhere. Returns 0, or -1 with errno set. */
typedef int export_flush_fn(void *data, const char *buf, size_t len);

struct export_out {
	struct strbuf buf;	/* text not yet handed to flush (all of it without flush) */
	export_flush_fn *flush; /* NULL: everything stays in buf */
	void *data;
	int error; /* errno of the first failed flush, ENOMEM when out of memory; 0 if none */
};

void export_out_init(struct export_out *o, export_flush_fn *flush, void *data);
/* Hands what is left in the buffer to flush. Returns 0, or -1 with the errno in o->error. */
int export_out_finish(struct export_out *o);
/* For the exports: hands the buffer to flush once it holds a chunk (or, with all, whatever). */
void export_out_hand_over(struct export_out *o, bool all);
/*
 * Appends s (len bytes) as valid UTF-8: each invalid byte becomes U+FFFD; with plain, control
 * characters become '?' and backquotes a quote. Stops after cols characters (0: no limit),
 * ending in "…" when cut.
 */
void export_clean(struct strbuf *sb, const char *s, size_t len, bool plain, size_t cols);
void export_out_release(struct export_out *o);

/*
 * The CSV table: a header row (t, pid, ppid, cmd, the per-process fields of proc_field_names
 * after pid, in the log's units; for a log of format 2 on, job and job_peak, the job's memory
 * at the row's sample and its highest since the sample before, by the log's method, the same
 * on every row of a sample; then state), then one row per process per sample in log
 * order. Unknown values are empty cells; cmd is the command line as run_proc_cmd writes it,
 * invalid UTF-8 replaced by U+FFFD; fields are quoted as RFC 4180 says when they hold a comma,
 * a quote, a line break or surrounding spaces. Lines end in LF.
 */
void export_csv(const struct run *run, struct export_out *out);
/*
 * The threads' CSV table (--csv --threads): a header row (t, pid, tid, thread, then the thread
 * rows' fields utime, stime, heap, heap_peak, alloc, freed, nalloc, nfree, mmap, as the log
 * names them, in its units: ms, bytes and calls; heap_peak at least heap), then
 * one row per thread row of the log (a sample's "th", format 3), by time, then by process and
 * thread in the order the log first told of them. thread is the thread's newest name (the
 * model keeps no older one); tid -1 is the threads past the heap library's slots, together.
 * A process that never had more than one thread has no rows (nor has a log before format 3).
 * Unknown values are empty cells; quoting as export_csv's.
 */
void export_csv_threads(const struct run *run, struct export_out *out);
/*
 * The CSV table of a job (model/job.h: `export --csv` of several logs, a directory or a
 * pattern): the job's grid, one row a bin, oldest first. t, the bin's start in seconds of the
 * job's clock (0: the earliest log's start), and wall, the wall clock then (seconds since the
 * epoch, to the millisecond); job, the job's memory (its nodes summed); rank_min, rank_median
 * and rank_max across its ranks; then a column a node, "node:HOST" (its ranks summed, or its
 * node-wide log), and one a readable log, by its name ("rank 3", "node n2", its file's name;
 * a name two logs share gets its file after it: "rank 0 (r.1.jsonl)"). Memory in KiB, the
 * highest in [t, t + bin) (report --json's job.bin), as report --json's peaks are; empty
 * cells where it is unknown or outside a log's life. Header row and quoting as export_csv's.
 */
void export_job_csv(const struct job *job, struct export_out *out);
/*
 * One CSV field: s (len bytes) as valid UTF-8 (export_clean), quoted (quotes doubled) when it
 * holds , " CR LF or surrounding spaces.
 */
void export_csv_field(struct strbuf *out, const char *s, size_t len);
/* A comma, then v; nothing after the comma when v is negative (unknown). */
void export_csv_num(struct strbuf *out, long long v);

/* The process-sample fields each export reads, for loading the run (run_keep_fields). */
#define EXPORT_CSV_FIELDS      RUN_ALL_FIELDS
#define EXPORT_THREADS_FIELDS  0 /* the threads' rows are kept whatever the fields */
#define EXPORT_PERFETTO_FIELDS RUN_FIELD(PF_RSS)
#define EXPORT_GNUPLOT_FIELDS  series_fields(SERIES_RSS)

/*
 * Pid of the pseudo-process that carries the tree's total and the events and spans of no
 * known process in the trace: above any pid Linux hands out (PID_MAX_LIMIT is 4194304).
 */
#define EXPORT_TREE_PID 4194304

/*
 * Chrome trace event JSON ({"traceEvents":[...],"displayTimeUnit":"ms"}), timestamps in
 * microseconds since the start of the recording:
 * - "M" process_name and process_sort_index for every pid, and for EXPORT_TREE_PID;
 * - "C" counters named "rss" with args {"bytes": N}: one per process-sample with a known RSS,
 *   a 0 when a process with samples exits, and one per sample for the tree total; for a log
 *   of format 2 on, "job" and "job_peak" on EXPORT_TREE_PID, the job's memory by the log's
 *   method at each sample and its highest since the sample before (the method named in the
 *   pseudo-process's name: "...; job: cgroup");
 * - "i" instants for events, scope "p" on their process when it is in the run, else "g";
 *   args {"rss": tree RSS in bytes} when known;
 * - "X" slices for spans on their pid and tid (EXPORT_TREE_PID when unknown), args with
 *   peak_rss and rss_change in bytes and whether the span was left open;
 * - "i" instants for the stacks (--stacks), cat "stack", one per thread of a capture, scope
 *   "t" on its pid and tid (scope "g" on EXPORT_TREE_PID for a process not in the run), named
 *   "stack (WHY)", args {"capture", "why", "label", "thread", "frames": names as the report
 *   shows them, innermost first, "truncated", "error"}.
 */
void export_perfetto(const struct run *run, struct export_out *out);
/* The stacks' instants of export_perfetto (export-stacks.c). */
void export_perfetto_stacks(const struct run *run, struct export_out *out);

#define EXPORT_FOLDED_FIELDS 0 /* the stacks need no process sample */

/*
 * Folded stacks for flame graph tools (flamegraph.pl, speedscope, inferno): one line per
 * distinct stack of the run's captures, "outermost;...;innermost COUNT", COUNT the thread
 * stacks that were it, frames named as the report names them (a ';' in a name becomes ':',
 * control characters '?', invalid UTF-8 U+FFFD); sorted, so that stacks whose frames have the
 * same names make one line. Stacks without frames (a failed capture) are left out.
 */
void export_folded(const struct run *run, struct export_out *out);

#define EXPORT_GNUPLOT_TOP 8 /* processes with a column of their own, by peak */

/*
 * The gnuplot data file: comment lines naming the log, the command and the columns, then one
 * line a sample (series_table_build over every sample with a value): time in seconds, then the
 * RSS series of series.h, the same lines the plots draw: the leading line (the job's memory
 * where the log measured it, else the tree total), the RSS sum beside a job line where it
 * differs, each of the top processes by peak (NaN when it is not alive), and when there are
 * more processes, the rest summed as "other"; memory in KiB.
 */
void export_gnuplot_dat(const struct run *run, int top, struct export_out *out);
/*
 * The gnuplot script that draws memline.dat, found beside the script, to memline.png beside
 * it (pngcairo): a title with the command, a MiB axis, time in s, min or h, spans as shaded
 * bands, events as labelled arrows to the leading line, the peak (the job's, where its memory
 * leads) and how the run ended. Text
 * from the log is put in double quotes, escaped, with backquotes and control characters
 * replaced, so it cannot run commands or break the script.
 */
void export_gnuplot_plt(const struct run *run, int top, struct export_out *out);

#endif
