/*
 * tui: the full-screen terminal dashboard of a run (ncurses), a renderer of the run model that
 * a live follower keeps up to date (live.h): used by `memline view` on a log and by `memline
 * run --live` from a thread of its own while the recorder records. It never touches the
 * process tree, signals or the log: it only reads the model under the live lock.
 *
 * The chart's binning (struct tui_chart) and braille encoding are exposed here for the unit
 * tests; docs/live.md explains the design.
 */
#ifndef MEMLINE_TUI_H
#define MEMLINE_TUI_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "model/live.h"
#include "model/run.h"
#include "util/strbuf.h"

struct tui_options {
	const char *title; /* e.g. the log path or "recording to X" (may be NULL) */
	bool wait_at_end;  /* when the run has ended, show how and wait for 'q' */
	double history;	   /* initial history window in seconds; 0 = the whole run */
	atomic_bool *quit; /* may be NULL: once another thread sets it, tui_run returns within
			    * a frame (0.1 s), as if the user had pressed 'q' */
	/*
	 * The 's' key asks the recording for stacks now: the dashboard calls ask_stacks(ask_data)
	 * (which signals the recorder; the dashboard itself never does) when the run is running
	 * and its header asked for stacks on demand (--stacks with "signal"). NULL: the view
	 * follows a log another memline writes, and the key says it cannot.
	 */
	void (*ask_stacks)(void *data);
	void *ask_data;
};

/*
 * Runs the dashboard on the terminal (stdin/stdout) until the user quits it ('q') or *o->quit
 * is set, or, when
 * !o->wait_at_end, also as soon as the recording has finished (live->finished): the caller
 * then prints how it ended itself. `memline view` passes wait_at_end. Returns 0; 1 when the
 * terminal went away (hung up: its ssh connection or tmux server killed), with wait_at_end or
 * not; or -1 with a one-line message in err (stdin or stdout is not a terminal, ncurses
 * failed). Restores the terminal, as far as one that is left can be (and the locale's
 * LC_CTYPE), before it returns. Uses cbreak mode, so Ctrl-C still
 * raises SIGINT for the terminal's foreground process group.
 */
int tui_run(struct live *l, const struct tui_options *o, struct strbuf *err);

/* ---- pieces exposed for the unit tests ---- */

#define TUI_TOP	   3 /* processes drawn as lines of their own, besides the tree */
#define TUI_SERIES (1 + TUI_TOP)

/*
 * The chart's columns of one history window: the tree's RSS and that of the top TUI_TOP
 * processes (by their peak over the run), binned by time into bins aligned to multiples of w
 * seconds since the start, each holding the highest value of the samples in it (so no peak is
 * lost). Kept up to date incrementally: an update reads only the samples added since the last
 * one and drops the bins that slid out of the window; it rebuilds from the samples in the
 * window only when the window, the width, the top processes or the bin width change, or the
 * model started over.
 */
struct tui_chart {
	double window; /* seconds; 0 = the whole run */
	size_t dots;   /* columns of dots the chart draws */
	double w;      /* bin width, s */
	long k0;       /* bin index (t / w) of bins[0] */
	size_t n, cap; /* bins held, allocated */
	int ns;	       /* series: 1 (the tree) + top processes */
	int proc[TUI_TOP];
	double *v;		   /* n * TUI_SERIES values, KiB, NAN where no sample fell */
	double before[TUI_SERIES]; /* each series' last value before bins[0], NAN none */
	size_t next;		   /* samples read so far */
	double last_t;		   /* the time of the last sample read */
	unsigned long rebuilds;	   /* for the tests: how often it started over */
};

void tui_chart_init(struct tui_chart *c);
void tui_chart_release(struct tui_chart *c);
/*
 * Brings c up to date for a window of window seconds (0: the whole run) ending at now, drawn
 * in dots columns, reading the samples of run up to time now. Returns -1 when out of memory.
 */
int tui_chart_update(struct tui_chart *c, const struct run *run, double now, double window,
		     size_t dots);
/*
 * The chart's values in dots columns over [t0, t1] for series s: out[i] is the highest value
 * of the bins in column i, else the value carried from the column before (a line joins the
 * samples), NAN before the first value.
 */
void tui_chart_columns(const struct tui_chart *c, int s, double t0, double t1, size_t dots,
		       double *out);

/*
 * The summary row's memory: for a log that measured the job's memory (job), "memory 502.9 MiB
 * peak 511.0 MiB at 3.2 s (cgroup)", its method's short name last; else the tree's, as a
 * format 1 log's always read, "RSS 1.0 MiB  peak 2.0 MiB at 1.0 s". KiB; -1 unknown; a
 * negative peak_t leaves the peak's time out.
 */
void tui_memory_text(bool job, enum memory_method method, long long now, long long peak,
		     double peak_t, struct strbuf *out);
/* The bit of a braille cell (U+2800 + bits) for the dot in column x (0..1), row y (0..3). */
unsigned tui_braille_bit(int x, int y);
/* Writes the UTF-8 of braille cell U+2800 + bits (bits < 256) into out (3 bytes, then NUL). */
void tui_braille_utf8(unsigned bits, char out[4]);
/* The chart's scale for a highest value of v KiB: a round number at or above it. */
double tui_nice_max(double v);
/*
 * The history windows '+' and '-' step through (10 s, 1 min, 5 min, 15 min, 1 h, 0 standing
 * for the whole run) for a run run_length seconds long so far: the next longer one (dir > 0)
 * that is shorter than the run, else the whole run; the next shorter one (dir < 0), from the
 * whole run the longest shorter than the run (the shortest when the run is shorter than every
 * window); window when there is none.
 */
double tui_window_step(double window, int dir, double run_length);
/*
 * Appends kib (KiB, >= 0) as the chart's scale labels it, in at most 8 columns: three
 * significant digits or a whole number below 1024 of KiB, MiB, GiB or TiB ("1000 MiB",
 * "1.5 GiB", "768 KiB"), "0" for 0.
 */
void tui_axis_label(struct strbuf *out, double kib);

#endif
