/*
 * series: the lines a plot of one run draws, taken from the model of a run (run.h), and
 * peak-preserving decimation of those lines to a plot's pixel columns. Shared by every
 * renderer of plots and every export that draws lines: cairo (lib/render/plot-cairo.c), the
 * interactive HTML report (lib/render/plot-html.c) and the gnuplot export (lib/render/export.c), so
 * that all of them pick the same top processes and compute CPU% the same way.
 *
 * For one metric (enum series_metric in plot.h) a run gives a set of series:
 *   - the tree total (always first),
 *   - one series per process for the top N processes by their own peak of that metric,
 *     highest peak first,
 *   - "other": the processes not in the top N summed, sample by sample (only when there are
 *     such processes).
 * Each series is a pair of arrays (t, v) sorted by t: times in seconds since the run's start,
 * values in KiB for the memory metrics (rss, pss, vms, swap) and in percent of one CPU for cpu.
 * A point whose value is unknown in the log is left out, so the arrays never hold NaN and a
 * renderer joins the known points. A process's series covers the samples it was alive in.
 *
 * CPU% is the change in utime + stime (ms) over a window of at least series_cpu_window()
 * (20 clock ticks, 0.2 s at the kernel's usual 100 Hz) divided by the window, and at most 100 %
 * a thread (series_cpu_percent). CPU times move in ticks, and each of utime and stime is cut
 * to a whole tick, so their change over a window is up to 2 ticks off: over 20 ticks that is
 * 10 % of one CPU at most, where between two samples 2 ms apart (the extra sample memline takes
 * after an event) one tick would read as 500 %. The run is cut into consecutive windows that
 * end at samples (see cpu_calc in series.c); only the samples that end one have CPU points,
 * so a window's points add up to the CPU time used in it. A process that started during the
 * recording counts from 0 at its start; one seen first when it already ran has its first
 * window unknown. The tree's CPU% is the change of the sum of every process's CPU time (the
 * exited ones keep their last), capped at 100 % a thread of the processes seen in the window;
 * "other" likewise over its processes. The tree total of a memory metric is the sample's tree
 * value, else the sum of its processes' known values; in a sample with no process at all the
 * tree total is 0.
 *
 * Decimation (series_decimate) keeps, of the points falling in each of a plot's pixel columns,
 * the first, the lowest, the highest and the last, in time order (the "M4" reduction): a line
 * drawn through them covers exactly the pixels the full line would, so no peak or dip is ever
 * dropped, and the cost is one pass over the points, O(n), with at most 4 points a column out.
 *
 * A table (series_table_build) puts a set's series on one shared time axis, for renderers that
 * want every series as a column of one table (uPlot's aligned data, gnuplot's data file): its
 * rows are the run's samples at which at least one series has a point, in sample order, and each
 * series has a value in every row, NAN where it has no point there (a process not yet started
 * or gone, an unknown value). When there are more rows than the caller allows, the table keeps
 * the union of what series_decimate keeps of each series over the same columns, so no series
 * loses a peak or a dip; building it is O(samples + points).
 *
 * Nothing here prints or exits; out of memory is returned as -1.
 */
#ifndef MEMLINE_SERIES_H
#define MEMLINE_SERIES_H

#include <stddef.h>

#include "model/run.h"

/* What a series measures: a memory field in KiB, or CPU time as a percentage of one CPU. */
enum series_metric { SERIES_RSS, SERIES_PSS, SERIES_VMS, SERIES_SWAP, SERIES_CPU };
#define SERIES_NMETRICS 5
extern const char *const series_metric_names[SERIES_NMETRICS]; /* "rss" ... "cpu" */

/*
 * SERIES_TREE: the sum of the metric over the tree's processes (the RSS sum, the PSS sum...);
 * SERIES_JOB: the job's memory by the log's method (run_sample_job: its cgroup's charge, the
 * PSS sum or the RSS sum), the leading line where there is one (see series_set_build).
 */
enum series_kind { SERIES_TREE, SERIES_PROC, SERIES_OTHER, SERIES_JOB, SERIES_HEAP, SERIES_THREAD };

struct series {
	enum series_kind kind;
	int proc;      /* SERIES_PROC, SERIES_HEAP: index into run->procs; -1 for the others */
	long thread;   /* SERIES_THREAD: index into run->threads.v; -1 for the others */
	double *t;     /* seconds since the run's start, ascending */
	double *v;     /* KiB, or percent of one CPU for SERIES_CPU */
	size_t *at;    /* index into run->samples of each point: one point a sample at most */
	size_t n;      /* points in t and v */
	double peak;   /* highest value of v; -1 when n == 0 */
	double peak_t; /* the time of the first point with that value */
};

struct series_set {
	enum series_metric metric;
	/*
	 * s[0] is the leading line: the job's memory (SERIES_JOB) where the set has one, else
	 * the tree total; then, with a job line, the tree total where it is drawn; then the top
	 * processes; then "other".
	 */
	struct series *s;
	size_t n;
	size_t n_rest; /* processes summed into "other" (having at least one known point) */
	bool job;      /* s[0] is the job's memory */
	int tree;      /* where the tree total is in s; -1 when it is not drawn */
	enum memory_method method; /* the job's, when job */
};

#define SERIES_SET_INIT \
	{               \
		0       \
	}

/*
 * Builds the series of run for metric into set (which it initialises): the tree total, the top
 * top (>= 0) processes by peak of metric and "other". Processes with no known point of metric
 * are left out of both the top and "other". Returns 0, or -1 when out of memory (set is then
 * empty but must still be released). The caller releases set with series_set_release().
 *
 * The job's memory leads where the log measured it (run_measures_job: format 2 on) and it is
 * what the metric plots: for rss always, for pss when the job's method is not the RSS sum. It
 * is then s[0] (SERIES_JOB), a point at each sample where it is known, and the tree total
 * (the RSS or PSS sum) follows it only where it differs: not when, at every sample, the two
 * are within 0.5 % of the higher peak (the job's memory is the RSS sum), nor when the tree
 * total is its only process's line (series_tree_is_only_proc of the set without the job).
 */
int series_set_build(struct series_set *set, const struct run *run, enum series_metric metric,
		     int top);
/* The shortest time CPU% is computed over: SERIES_CPU_TICKS of the log's clock ticks (clk_tck,
 * 100 when unknown), and at least SERIES_CPU_MIN_WINDOW seconds. */
#define SERIES_CPU_TICKS      20
#define SERIES_CPU_MIN_WINDOW 0.1
double series_cpu_window(const struct run *run);
/*
 * CPU% of one CPU for cpu_ms of CPU time over dt seconds, at most 100 % a thread when threads
 * > 0 (unknown otherwise: no cap); NAN when dt <= 0 or cpu_ms < 0. The one definition of CPU%
 * the plots, the HTML report and the dashboard share.
 */
double series_cpu_percent(long long cpu_ms, double dt, long long threads);
/* The process-sample fields series_set_build reads for metric (RUN_FIELD bits, run.h). */
unsigned long long series_fields(enum series_metric metric);
void series_set_release(struct series_set *set);

/*
 * Whether set's leading line (s[0]: the tree's, or the job's) is its only process's line: no
 * other line but the two, and at every sample the leading line's value is the process's
 * (within 0.5 % of the higher peak), or about 0 where the process is not alive. A plot then
 * draws one line under the other.
 */
bool series_tree_is_only_proc(const struct series_set *set);

/*
 * The value of s at time t, joining its points with straight lines as a plot does; the first
 * or last value outside its time range; -1 when s has no points. O(log n).
 */
double series_at(const struct series *s, double t);

/* The points series_decimate may write for cols columns: the size of its out arrays. */
static inline size_t series_decimate_cap(size_t cols)
{
	return 4 * cols;
}

/*
 * Reduces the n points (t ascending, v) to at most series_decimate_cap(cols) points in out_t and
 * out_v, keeping in each of cols equal columns over [t0, t1] its first, lowest, highest and last
 * point, in time order and without repeating one. Points before t0 fall in the first column and
 * after t1 in the last, so the first and the last point are always kept. cols must be >= 1 and
 * t1 > t0. When the points fit (n <= series_decimate_cap(cols)) they are copied unchanged.
 * Returns the points written. O(n).
 */
size_t series_decimate(const double *t, const double *v, size_t n, double t0, double t1,
		       size_t cols, double *out_t, double *out_v);

/*
 * A set's series on one time axis: n rows, t[i] the time of row i (ascending), and per series k
 * (in the set's order) v[k][i] its value in row i, NAN when it has no point there.
 */
struct series_table {
	double *t;
	double **v; /* ns arrays of n values */
	size_t n, ns;
};

#define SERIES_TABLE_INIT \
	{                 \
		0         \
	}

/*
 * Builds set's table into tab (which it initialises). max_rows bounds the rows: when the samples
 * with a point number more, the time from the first point to the last is cut into
 * max_rows / (4 * set->n) columns (at least 1) and each series is decimated over them as
 * series_decimate does; the rows are then the samples where any series keeps a point, at most
 * max_rows (at least 4 * set->n). SIZE_MAX keeps every row. Returns 0, or -1 when out of memory
 * (tab is then empty). The caller releases tab with series_table_release().
 */
int series_table_build(struct series_table *tab, const struct series_set *set, size_t max_rows);
void series_table_release(struct series_table *tab);

/*
 * ---- the threads of one process (series-threads.c) ----
 *
 * What `plot --threads`, the HTML page's thread view and the dashboard's thread table draw of
 * one process's threads (the run model's threads, threads.h). Two kinds of set:
 *
 * The heap (the log has heap numbers for the process, --heap): s[0] the process's RSS
 * (SERIES_PROC), s[1] its live heap, the threads' sum (SERIES_HEAP, the samples' "heap"),
 * then one line per top thread by its heap peak (SERIES_THREAD, highest first) and "other
 * threads", the rest summed (SERIES_OTHER). Values are KiB, as the other memory lines (a
 * thread's bytes / 1024). A thread's line has a point at each of the process's samples from
 * its first row on: a thread without a row in a sample kept the numbers of its last row
 * (docs/log-format.md), so its value there is that row's. Its peak to mark is the thread's
 * own (run_th heap_peak and when: its highest between samples too, the heap library keeps it).
 *
 * CPU (no heap numbers, or metric SERIES_CPU): one line per top thread by CPU time, then
 * "other threads", in percent of one core. A process's threads' CPU times are read together,
 * with its status (at most a second apart) and when its number of threads changed, and a
 * thread's row is written only when its numbers changed: so a time at which some thread's CPU
 * time moved is a time they were all read, and at such a time every thread's CPU time is that
 * of its latest row. So is a sample at which the process's own CPU time (its stat, read at
 * every sample) had not moved since such a read: no thread's had either (an idle stretch gets
 * its 0 % points). The lines' points are at those times, cut into windows of at least
 * series_cpu_window() as series_set_build cuts the run (each window ending at such a time,
 * the last always ending one): over a window, a thread's CPU time's change divided by its
 * length, at most 100 % (the threads past the heap library's slots, tid -1, together: no cap).
 * A thread counts from its first row; an ended thread's line stops at the first window that
 * ends after its end. Its peak to mark is its line's highest point.
 *
 * Each point remembers its sample (series.at), so series_table_build lines the set up.
 */
struct series_threads {
	struct series_set set; /* metric SERIES_RSS for the heap lines, SERIES_CPU for CPU */
	int proc;	       /* index into run->procs */
	bool heap;	       /* heap lines, else CPU */
	size_t first;	       /* s[first] is the first thread's line (after RSS and heap) */
	size_t n_threads;      /* the process's threads in the model */
	bool stacked;	       /* series_threads_stack was applied */
};

/*
 * The processes with threads in the model, into a new array (indexes into run->procs; the
 * caller frees it; NULL with *n 0 when none or out of memory), ranked: the highest heap peak
 * first where the log has heap numbers for any of them (those without after), else the most
 * CPU time of their threads first.
 */
int *series_threads_procs(const struct run *run, size_t *n);
/*
 * The process plot --threads draws when none is asked for: the first of series_threads_procs;
 * -1 when no process has threads.
 */
int series_threads_default(const struct run *run);
/* Whether the log has heap numbers for process proc's threads. */
bool series_threads_have_heap(const struct run *run, int proc);
/*
 * Builds the lines of process proc's threads into st (which it initialises): the heap lines
 * for metric SERIES_RSS where the process has heap numbers, else (or for SERIES_CPU) its
 * threads' CPU; top (>= 1) thread lines, the rest as "other threads". A process without
 * threads in the model gets no thread line (its one thread is the process). Returns 0, or -1
 * when out of memory (st is then empty but must still be released).
 */
int series_threads_build(struct series_threads *st, const struct run *run, int proc,
			 enum series_metric metric, int top);
/*
 * Stacks the thread lines (and "other threads"): each then holds its own value plus those of
 * the lines before it, at every sample where any of them has a point (0 for a line without
 * one there), so the last is the threads' sum (for the heap: the process's heap). Peaks are
 * recomputed. Returns -1 when out of memory (st unchanged).
 */
int series_threads_stack(struct series_threads *st);
void series_threads_release(struct series_threads *st);
/*
 * The peak to mark on line k (a thread's line or "other threads"): its time and value in the
 * line's unit (KiB, or %); false when it has none, or it is 0.
 */
bool series_threads_peak(const struct series_threads *st, const struct run *run, size_t k,
			 double *t, double *v);
/*
 * Appends what a legend calls thread th (an index into run->threads.v): "210 loader", "200
 * server (main)" for the thread whose tid is its pid, "(more threads)" for tid -1; the name as
 * recorded (raw: escape it to show it).
 */
void series_thread_name(const struct run *run, size_t th, struct strbuf *out);
/* The process-sample fields the thread lines read (RUN_FIELD bits): RSS, heap, CPU times. */
unsigned long long series_threads_fields(void);
/*
 * The dashboard's CPU% of process proc's threads now: over the last window of at least
 * series_cpu_window() that ends at the latest time the threads were read (as above), into
 * out[i] for the thread idx[i] (NAN unknown: an ended thread, one first seen at that time);
 * 0 for every thread when the process's own CPU time has not moved from that time to its last
 * sample, at least a window later, or that sample is more than SERIES_THREADS_STALE seconds
 * after it (no thread's CPU time moved at the reads since).
 */
#define SERIES_THREADS_STALE 2.0
void series_threads_cpu_now(const struct run *run, int proc, const size_t *idx, size_t n,
			    double *out);

/*
 * ---- series.c's, for series-threads.c ----
 * A series of kind for process proc (-1: the tree) with room for cap points; -1 out of memory.
 * series_push appends a point (sample index at, time t, value v) and keeps the peak.
 */
int series_alloc(struct series *s, enum series_kind kind, int proc, size_t cap);
void series_push(struct series *s, size_t at, double t, double v);

#endif
