/*
 * report: renderers of a run (run.h) as text for people and as JSON for scripts, plus the
 * small formatting helpers (human units, signal names, how a run ended) other renderers and
 * the CLI share. Nothing here does I/O: everything is appended to a strbuf.
 */
#ifndef MEMLINE_REPORT_H
#define MEMLINE_REPORT_H

#include "model/job.h"
#include "model/run.h"
#include "util/strbuf.h"
#include "util/text.h"

/*
 * The text report: summary (command, host, start, duration, how it ended, the job's peak
 * memory and how it was measured, the RSS sum where it differs, PSS where the log has it, the
 * processes memline may have missed), warnings for damaged or incomplete logs, a table of
 * processes sorted by start (those seen only at their exit marked), a timeline of the job's
 * memory (a format 1 log's: the tree's RSS, as it always was), and when the program marked
 * any, its phases (spans by start, indented by depth, with the memory within each) and its
 * events (with the tree's RSS at each), at most 100 rows each.
 * Fits in 100 columns; uses Unicode block characters for the bars.
 */
void report_text(const struct run *run, struct strbuf *out);
/*
 * The JSON report: one object, a stable interface for scripts (see docs/log-format.md for the
 * log it comes from; docs/reading.md lists its members). Memory in bytes, times in seconds
 * since the start. Ends in a newline.
 */
void report_json(const struct run *run, struct strbuf *out);
/*
 * The JSON report's "events" and "spans" members (each a key and its array, as documented in
 * docs/reading.md; spans sorted by start), for other renderers that embed them (the HTML
 * report's data). Memory in bytes.
 */
void report_json_events(const struct run *run, struct strbuf *out);
void report_json_spans(const struct run *run, struct strbuf *out);

/*
 * `memline report --stacks`: the captures' counts, the capture at the job's peak with its
 * threads' stacks, then every capture in time order (at most 100), threads with the same
 * stack in one entry and each distinct stack's frames printed once; "no stacks" in one line
 * for a log without them. Recorded text escaped.
 */
void report_stacks_text(const struct run *run, struct strbuf *out);
/* The JSON report's "stacks" member (docs/reading.md): null for a log without stacks. */
void report_json_stacks(const struct run *run, struct strbuf *out);
/*
 * One capture as JSON: {"t", "capture", "why", "label", "pid", "threads": [{"tid", "thread",
 * "frames": names as the report shows them (not escaped: JSON escapes them), "truncated",
 * "error"}]}; for the JSON report's peak and the HTML page's captures.
 */
void report_json_capture(const struct run *run, const struct run_capture *c, struct strbuf *out);
/* Whether the log has stacks: asked for in its header, counted at its end, or captured. */
bool report_has_stacks(const struct run *run);
/* The text report's line about the stacks, "stacks    4 captures...\n"; nothing without. */
void report_stacks_line(const struct run *run, struct strbuf *out);

/*
 * `memline report --threads` (report-threads.c): for each process, by start, its threads
 * (those of run->threads, the biggest heap peak first; a process with none had one thread all
 * its life and shows as its main thread: tid = pid, name = comm, its CPU, heap unknown), in a
 * table of heap numbers (peak live heap and when, live at the end, of it in mmap, CPU, when it
 * ended; then allocated and freed bytes and calls, when first seen) when they have them, else
 * of CPU times; whether its heap was counted (the allocator, or why not); and a timeline of
 * its top three threads at up to ten of its samples: their live heap as % of the process's
 * peak heap, or without heap numbers their CPU use since the row before as % of one CPU, and
 * a bar stacking them. At most 100 threads a process. Thread names escaped. A log before
 * format 3 gets one line that says it has no threads.
 */
void report_threads_text(const struct run *run, struct strbuf *out);
/* The text report's line about the threads, "threads   3 in 1 process ...\n"; nothing without. */
void report_threads_line(const struct run *run, struct strbuf *out);
/*
 * Process i's "threads" and "heap" members of the JSON report (docs/reading.md), each with its
 * comma and key: its threads as report_threads_text lists them (its main thread alone for a
 * process with none in the model), heap bytes, CPU and times in seconds, null unknown; and
 * {"on", "allocator", "why", "peak" (bytes), "peak_t"}. ix: run_th_index_build's of the run.
 */
void report_json_threads(const struct run *run, const struct run_th_index *ix, size_t i,
			 struct strbuf *out);

/*
 * One line saying how the run ended, starting with its status word, e.g. "oom-killed: pid 123
 * (python3 train.py) killed by the kernel's OOM killer at 12.3 s", and ending with the end
 * record's error message when it has one ("failed: ValueError: bad input"), escaped and cut
 * so that the line fits in 100 columns. No newline.
 */
void report_ending(const struct run *run, struct strbuf *out);
/*
 * How a job's memory was measured (enum memory_method), in plain words: short, a name for a
 * legend or a summary ("cgroup", "PSS sum", "RSS sum"); else what it counts, e.g. "the job's
 * cgroup: every page counted once, page cache included". Static strings.
 */
const char *report_method_words(enum memory_method method, bool short_name);
/* The wall clock at unix_t (seconds since the epoch), ISO 8601 UTC to the millisecond. */
void report_iso_utc(struct strbuf *out, double unix_t);
/*
 * For a log with a "stopped" record: "the log stopped at 12.3 s: file system full (ENOSPC)",
 * the error escaped. No newline; nothing when the log has none.
 */
void report_stopped(const struct run *run, struct strbuf *out);

/*
 * The report of many logs as one job (model/job.h): how it ended and which rank ended it, its
 * peak, its nodes, its top ranks by peak (top of them, 0: 10) against the median, logs missing
 * or cut off, the clocks, and a timeline with the band across ranks.
 */
void report_job_text(const struct job *job, size_t top, struct strbuf *out);
/*
 * `memline status` of many logs: the job's status word on the first line, then who ended it,
 * its logs, duration and peak, and the logs missing or cut off.
 */
void report_job_status(const struct job *job, struct strbuf *out);
/*
 * The JSON report of a job: {"job": {...}, "nodes": [...], "ranks": [...]} (docs/reading.md),
 * memory in bytes, times in seconds of the job's clock. Ends in a newline.
 */
void report_job_json(const struct job *job, struct strbuf *out);
/* Who a log of the job is: "rank 3 on n2" (its name, and its node when there are several), escaped.
 */
void report_job_who(const struct job *job, const struct job_log *l, struct strbuf *out);
/* How a log of the job ended, in words: "oom-killed (pid 77 python3)", "failed (exit 3)". */
void report_job_ending(const struct job_log *l, struct strbuf *out);

#endif
