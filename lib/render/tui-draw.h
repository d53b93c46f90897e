/*
 * tui-draw: what the terminal dashboards share (the single log's, tui.c, and the job's,
 * tui-job.c): the terminal itself (curses started and ended, the locale, colours, its size
 * read with ioctl, a terminal that went away), writing text that is already cut to its
 * columns, and the chart: braille lines and filled bands, the scale on its left, the row of
 * marks under it, the time and legend row, and the columns a series of time bins makes.
 * The help overlay too. Internal to lib/render; docs/live.md has the design.
 *
 * Every function draws with curses on the screen tui_term_start() set up; none of them takes
 * a lock or reads a model: the dashboards copy what they show out of their models first.
 */
#ifndef MEMLINE_TUI_DRAW_H
#define MEMLINE_TUI_DRAW_H

#include <curses.h>
#include <stdbool.h>
#include <stddef.h>

#include "model/run.h"
#include "util/strbuf.h"

/* Colour pairs. TUI_C_SERIES + s: the chart's series s (green, cyan, magenta, blue). */
enum {
	TUI_C_SERIES = 1,
	TUI_C_RED = TUI_C_SERIES + 4,
	TUI_C_GREEN,
	TUI_C_YELLOW,
	TUI_C_TITLE,
	TUI_C_DIM,
};

/* The terminal a dashboard draws on. */
struct tui_term {
	int rows, cols;
	bool utf8;	    /* the locale is UTF-8: braille dots and box lines, else ASCII */
	bool colors;	    /* the terminal has colours */
	struct strbuf line; /* scratch of tui_putf */
	struct strbuf tmp;  /* scratch for building what goes into it */
	SCREEN *scr;
	char *locale; /* LC_CTYPE before, restored at the end */
};

/*
 * Starts curses on stdin/stdout (cbreak, no echo, keypad, 100 ms getch timeout, colours) with
 * the environment's LC_CTYPE. Returns 0, or -1 with a one-line message in err (not a
 * terminal, a terminal type curses does not know); t must be ended with tui_term_end() either
 * way.
 */
int tui_term_start(struct tui_term *t, struct strbuf *err);
/* Restores the terminal and the locale, frees t's buffers. */
void tui_term_end(struct tui_term *t);
/*
 * Reads the terminal's size (ioctl: in a thread with every signal blocked SIGWINCH never
 * comes); when it changed, resizes curses and t's rows and cols. Returns whether it changed.
 */
bool tui_term_resized(struct tui_term *t);
/*
 * Whether the terminal went away (a hangup: getch() then returns ERR at once, every time),
 * asked after getch() returned ERR.
 */
bool tui_term_lost(void);
/* CLOCK_REALTIME in seconds. */
double tui_wall_now(void);

/* Sets pair (0: none) with extra attributes. */
void tui_color(const struct tui_term *t, int pair, attr_t extra);
/* Writes at most cols columns of s (ASCII, or text already escaped and cut to its columns). */
void tui_put(int y, int x, const char *s, size_t len, int cols);
void tui_putf(struct tui_term *t, int y, int x, int cols, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* One series of a chart: dots values (NAN: none there), filled down to lo when lo is given. */
struct tui_line {
	const double *v;
	const double *lo; /* NULL: a line; else a band from lo to v, every dot between set */
	int pair;	  /* its colour */
};

/*
 * Draws lines (n of them, in order: a later one's colour wins a shared cell) as dots in the
 * h x w cells at (y, x), dots columns (2 w in braille, else w), scaled to ymax. A line joins
 * its dots column to column; NAN breaks it.
 */
void tui_draw_lines(const struct tui_term *t, int y, int x, int h, int w, size_t dots,
		    const struct tui_line *lines, int n, double ymax);
/* The scale left of a chart of h rows at row y, in width columns: its top, middle and 0. */
void tui_draw_scale(struct tui_term *t, int y, int h, int width, double ymax);
/* The highest value of the lines' dots, and the scale for it (tui_nice_max with a margin). */
double tui_lines_ymax(const struct tui_line *lines, int n, size_t dots);
/*
 * The row under a chart, w cells from x: marks[c] 2 the peak (red), 1 an event (yellow),
 * else the axis line; marks may be NULL.
 */
void tui_draw_marks(const struct tui_term *t, int y, int x, int w, const unsigned char *marks);

/* An entry of the legend: its text (cut to its room and escaped when drawn) and colour. */
struct tui_legend {
	const char *text;
	size_t len;
	int pair;
};

/*
 * The time row under the marks: the window's start right-aligned in the scale's width columns
 * ("-1 min", or "0 s" for the whole run), the legend, and at the right edge "now" while
 * running, else the end time t1.
 */
void tui_draw_time_row(struct tui_term *t, int y, int width, double window, bool running, double t1,
		       const struct tui_legend *legend, int n);

/*
 * Columns of time bins: bin j (0 <= j < n) holds v[j * stride], the highest value over
 * [(k0 + j) w, (k0 + j + 1) w), NAN none. out[i], for dots columns over [t0, t1], is the
 * highest of the bins whose middle falls in column i, else the value of the column before
 * (carry before the first: the value before bin 0, NAN none).
 */
void tui_bins_columns(const double *v, size_t stride, size_t n, long k0, double w, double carry,
		      double t0, double t1, size_t dots, double *out);

/* Whether an ending is drawn in red: failed, killed, oom-killed, incomplete. */
bool tui_status_bad(enum run_status s);
/*
 * The title bar: " memline ", title (escaped, cut to fit), and at the right "elapsed 12.3 s
 * running" while running, else the status word, red when it is bad (tui_status_bad).
 */
void tui_draw_title(struct tui_term *t, const char *title, size_t len, double elapsed, bool running,
		    enum run_status status);
/* What the keys both dashboards share change. */
struct tui_view {
	double window;	   /* the history window, s; 0 the whole run */
	bool paused;	   /* the picture frozen */
	double paused_now; /* the time it froze at */
	bool help;	   /* the help overlay is shown */
};

/*
 * The keys both dashboards share: q quits (returns -1), p or space pauses at now (or resumes),
 * + and - step the window (tui_window_step, for a run length long so far), ? and h show the
 * help. Returns 1 when ch was one of them, 0 when not.
 */
int tui_view_key(struct tui_view *v, int ch, double now, double length);

/*
 * Whether the clock alone asks for a redraw while a run goes on (running): once a dot
 * column's time of v's window drawn in plot_w cells has passed (the whole run: a second),
 * 0.1 s to 1 s; *last is the caller's, the tick last seen (-1 at first).
 */
bool tui_ticked(const struct tui_term *t, const struct tui_view *v, int plot_w, bool running,
		double *last);

#define TUI_KEY_LOST (-2) /* tui_read_key: the terminal went away */
/*
 * Waits up to 100 ms for a key (getch). Returns it, setting *dirty; ERR when none came;
 * TUI_KEY_LOST when the terminal went away (tui_term_lost). While v's help is shown, a key
 * closes it (setting *dirty) and is returned only when it is 'q' or 'Q' (else ERR);
 * KEY_RESIZE leaves it.
 */
int tui_read_key(struct tui_view *v, bool *dirty);

/*
 * The help overlay, in a box in the middle of the screen: title, the shared keys
 * (tui_view_key's), the dashboard's own keys (n_keys lines, "KEY        what it does"), and
 * n_notes lines under them.
 */
void tui_draw_help(const struct tui_term *t, const char *title, const char *const *keys, int n_keys,
		   const char *const *notes, int n_notes);

#endif
