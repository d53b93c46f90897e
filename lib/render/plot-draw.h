/*
 * plot-draw: what the cairo pictures share (private to lib/render): plot-cairo.c draws runs
 * (one, overlaid, or one process's threads), plot-job.c the logs of a job. One layout for
 * PNG, SVG and PDF: the header rows, the plot area with its axes (time; memory or %), the
 * legend in a panel on the right; text escaped and cut to fit in the font, with an invisible
 * text layer for SVG; the surface made for the format and the picture appended to a buffer.
 */
#ifndef MEMLINE_PLOT_DRAW_H
#define MEMLINE_PLOT_DRAW_H

#include <cairo.h>
#include <stdbool.h>
#include <stddef.h>

#include "render/plot.h"
#include "util/strbuf.h"

#define PLOT_ROW_H	 15 /* height of a row of small text */
#define PLOT_LABEL_LINES 3  /* lines a layer's label may wrap over in the legend */

struct rgb {
	double r, g, b;
};

struct theme {
	struct rgb bg, fg, muted, grid, axis, bad, span, other, tree;
};

/* Line colours after the leading line's (the theme's tree): tab10 without its blue and grey. */
extern const struct rgb plot_palette[];
#define PLOT_N_PALETTE 8

struct layer;
struct series_threads;

struct plot {
	cairo_t *cr;
	const struct theme *th;
	const struct plot_options *o;
	enum plot_format format;
	double w, h;
	double px0, px1, py0, py1; /* the plot area */
	double data_top;	   /* top of the y scale's room (below the event label rows) */
	double t1;		   /* time axis: [0, t1] */
	double ymax;		   /* value axis: [0, ymax] */
	struct strbuf tmp;
	struct strbuf svg; /* the SVG's text layer */
	double font_size;
	/* plot-cairo.c's */
	struct layer *layers;
	size_t n;
	double *dt, *dv;		      /* decimation buffers */
	const struct series_threads *threads; /* plot --threads: the lines drawn, else NULL */
};

/* Sets p up for o and format: the picture's size and theme. */
void plot_setup(struct plot *p, const struct plot_options *o, enum plot_format format);
/*
 * Makes p's surface (an image for PNG, a stream for SVG and PDF), calls draw(p, data) on it and
 * appends the finished picture to out. Returns 0, or -1 with a one-line message in err.
 */
int plot_render(struct plot *p, void (*draw)(struct plot *p, void *data), void *data,
		struct strbuf *out, struct strbuf *err);
/* Frees what p holds of its own (plot_setup's and plot_render's, not the layers). */
void plot_release(struct plot *p);

/* ---- text ---- */

void plot_rgb(cairo_t *cr, struct rgb c, double alpha);
void plot_font(struct plot *p, double size, bool bold);
double plot_text_w(struct plot *p, const char *s);
/*
 * Draws s (already safe: escaped or made here) with its left end at x and baseline at y in the
 * current font and colour; align 0 left, 0.5 centred, 1 right. Returns its width.
 */
double plot_text(struct plot *p, const char *s, double x, double y, double align);
/*
 * s (len bytes from a log) escaped and cut to at most maxw wide in the current font, into
 * p->tmp; "" when not even "…" fits.
 */
const char *plot_fit(struct plot *p, const char *s, size_t len, double maxw);
/*
 * s (len bytes from a log) escaped and broken into lines at most maxw wide in the current font,
 * at spaces where it can and between characters where a word is wider than a line; the lines
 * go into out separated by '\n' (escaped text holds none), at most max_lines of them, the last
 * cut with "…" when more would be needed. Returns the lines.
 */
size_t plot_wrap(struct plot *p, const char *s, size_t len, double maxw, size_t max_lines,
		 struct strbuf *out);

/* The title (row 0, bold) or the subtitle (row 1, muted) at the top: sb escaped, cut to fit. */
void plot_heading(struct plot *p, const struct strbuf *sb, int row);

/* ---- scales and the frame ---- */

double plot_x(const struct plot *p, double t);
double plot_y(const struct plot *p, double v);
/* The background, and the plot area left of the legend's room. */
void plot_area(struct plot *p);
/*
 * The value axis for values up to vmax (KiB; % when percent), with room above the highest:
 * sets p->ymax to a whole tick and returns the unit to label it in (KiB in it), *name its name.
 */
double plot_scale_y(struct plot *p, double vmax, bool percent, const char **name);
/*
 * The grid, the ticks and their labels, the axes; the time axis from 0 to p->t1, its ticks
 * labelled and time_title under them ("time since start (s)"), none when it is NULL (a panel
 * above another).
 */
void plot_axes(struct plot *p, const char *unit_name, double unit, const char *time_title);
/* A colour f of the way from c to the background (f < 0: away from it). */
struct rgb plot_toward_bg(const struct plot *p, struct rgb c, double f);

/* A peak: a ring at (x, y) in c and, above it, text where it fits (*prev_y: the last one's). */
void plot_peak_mark(struct plot *p, double x, double y, struct rgb c, const char *text,
		    double *prev_y);
/* A cross at (x, y), in the theme's colour for what went wrong: where a run ended badly. */
void plot_cross(struct plot *p, double x, double y);
/* Whether a run that ended so is drawn as gone wrong (red). */
bool plot_bad_end(enum run_status s);

struct plot_box {
	double x0, y0, x1, y1;
};

/* Whether b overlaps none of the n boxes placed. */
bool plot_box_free(const struct plot_box *placed, size_t n, struct plot_box b);

/* ---- the legend ---- */

struct plot_entry {
	struct rgb c;
	double alpha, width;
	bool dashed;
	struct strbuf text; /* raw, escaped when drawn; a layer's: its label, escaped and wrapped */
	size_t lines;	    /* a layer's: lines of text; 0 for one cut to fit */
	struct strbuf sub;  /* a layer's: its log and command, muted, cut to fit */
};

/*
 * The n entries that fit from the top of the panel between x0 and x1, leaving reserve rows at
 * the foot of the plot area (for the endings), and "+N more" for those that do not. Returns
 * the y of the last row drawn.
 */
double plot_legend_rows(struct plot *p, const struct plot_entry *es, size_t n, double x0, double x1,
			size_t reserve);
/* Releases the n entries' text and the array. */
void plot_entries_free(struct plot_entry *es, size_t n);

#endif
