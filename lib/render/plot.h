/*
 * plot: what a plot of one or more runs shows, shared by every renderer: cairo (PNG, SVG, PDF,
 * lib/render/plot-cairo.c) and the interactive HTML report (lib/render/plot-html.c). Renderers read
 * runs (lib/model/run.h) and never print or exit; `memline plot` (src/cmd-plot.c) chooses one by
 * the output's extension.
 */
#ifndef MEMLINE_PLOT_H
#define MEMLINE_PLOT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "model/run.h"
#include "model/series.h"
#include "util/strbuf.h"

enum plot_format { PLOT_PNG, PLOT_SVG, PLOT_PDF, PLOT_HTML };

struct plot_options {
	enum series_metric metric;
	bool dark;
	int top;	   /* per-process lines for the top N processes by peak; the rest "other" */
	int width, height; /* pixels for PNG, points for SVG and PDF; 0 for the default */
	const char *title; /* NULL: made from the command */
	bool live;	   /* HTML: a page served by memline that follows the recording */
	/*
	 * plot --threads: the lines of one process's threads (series.h, series_threads_build):
	 * its RSS, heap and each top thread's heap, or its threads' CPU% (metric cpu, or a log
	 * without heap numbers for it); top threads (0: PLOT_THREADS_TOP); drawn stacked (areas
	 * that add up to the process's heap) or overlaid. cairo draws only that process's
	 * threads; the HTML page opens its thread view on that process.
	 */
	bool threads;
	bool stacked;
	pid_t pid;	/* the process; 0: series_threads_default's */
	int thread_top; /* thread lines; 0: PLOT_THREADS_TOP */
	/* the plot of a job: lines for the ranks with the highest peaks when they are too many
	 * to draw each (0: PLOT_JOB_TOP; -1: none) */
	int rank_top;
};

#define PLOT_THREADS_TOP 8
#define PLOT_JOB_TOP	 3
/* A job's nodes drawn one line each, at most (more: the band across them and their median). */
#define PLOT_JOB_NODE_LINES 16
/* A job's ranks drawn one line each, at most (more: their band, median and top ranks). */
#define PLOT_JOB_RANK_LINES 8

/* One log to draw; several overlay on one time axis, each from its run's start. */
struct plot_input {
	const struct run *run;
	const char *path;
	const char *label; /* what the legend calls it (`plot --label`); NULL: plot_labels' */
};

void plot_options_init(struct plot_options *o);
/*
 * The names that tell the n inputs apart in a legend, into labels[0 .. n) (strbufs the caller
 * initialised and releases; raw text from the logs, to escape where it is shown). An input's
 * own label wins. The others get the shortest part that tells them apart, tried in turn until
 * every label differs: the words of the commands that differ (the words all of them share at
 * the start and at the end left out, but the option they follow, "--lr 0.1", and one kept
 * back when that would leave one empty); else
 * the log files' names (without a shared extension, with as many directories as it takes);
 * else the start times; else the log's name and its place, "run.jsonl #2". With one input
 * the label is its own, else its log's name. Sets labels[i].oom when out of memory.
 */
void plot_labels(const struct plot_input *in, size_t n, struct strbuf *labels);
/* The format for a file name by its extension, or -1. */
int plot_format_for(const char *path);

/*
 * Draws the picture as PNG, SVG or PDF, appended to out (the caller writes it where it goes).
 * Returns -1 with a one-line message in err.
 */
int plot_cairo(const struct plot_input *in, size_t n, const struct plot_options *o,
	       enum plot_format format, struct strbuf *out, struct strbuf *err);
struct job;

/*
 * The plot of many logs as one job (model/job.h, plot-job.c), on the job's clock (seconds from
 * its start), in panels each on a scale of its own: the job's memory (its nodes summed) and its
 * peak; each node's when it has 2 to PLOT_JOB_NODE_LINES, else the band across nodes and their
 * median; each rank's when it has at most PLOT_JOB_RANK_LINES, else the band across ranks,
 * their median and the o->rank_top ranks with the highest peaks; where its worst log ended when
 * it did not complete. PNG, SVG or PDF appended to out. Returns -1 with a one-line message in
 * err.
 */
int plot_job_cairo(const struct job *job, const struct plot_options *o, enum plot_format format,
		   struct strbuf *out, struct strbuf *err);
/*
 * The self-contained HTML page of a job: its memory, nodes, the band across ranks and their
 * median, and a picker of ranks whose ticked ranks add their lines. Returns -1 with a message
 * in err.
 */
int plot_job_html(const struct job *job, const struct plot_options *o, struct strbuf *out,
		  struct strbuf *err);
/* "job 1234: 64 ranks on 4 nodes" (or its logs, when they name no rank), raw text. */
void plot_job_title(const struct job *job, struct strbuf *out);
/*
 * The band across the job's nodes, bin by bin, into new arrays of n_bins (the caller frees
 * them, also on failure): the lowest, median and highest of the nodes with a value there, -1
 * where none has one. Returns -1 out of memory.
 */
int plot_job_node_band(const struct job *job, long long **lo, long long **median, long long **hi);

/*
 * The data the HTML report draws, as one JSON object (the page embeds it; a live page fetches
 * it again as the recording grows). Returns -1 when out of memory.
 */
int plot_html_json(const struct plot_input *in, size_t n, const struct plot_options *o,
		   struct strbuf *out);
/*
 * The self-contained interactive HTML report into out. With o->live the page may also connect
 * back to the server that sent it (connect-src 'self'). Returns -1 with a message in err.
 */
int plot_html(const struct plot_input *in, size_t n, const struct plot_options *o,
	      struct strbuf *out, struct strbuf *err);

#endif
