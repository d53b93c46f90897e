/*
 * plot-cairo: plots of one or more runs as PNG, SVG or PDF, drawn with cairo (plot.h has the
 * contract). The picture, from back to front: the header (title, metric, how each run ended),
 * the grid and axes (time in ms, s, min, h or days; memory in KiB/MiB/GiB; CPU in %), the spans
 * as shaded bands with their names along the bottom, the series (lib/model/series.h: the tree total
 * thick and under the rest, the top processes thin, "other" dashed; a tree that is its only
 * process a wide pale band under that process's line), the peaks, the events as markers on the tree
 * line with labels staggered in rows at the top, and the legend in a panel on the right.
 *
 * `plot --threads` (o->threads) draws one process's threads instead, from series_threads_build
 * (series.h): the process's RSS thick, its heap dashed, each top thread's heap (or, without heap
 * numbers, its CPU%) in the palette's colours, "other threads" grey; stacked, each thread's band
 * filled in a lighter shade of its colour, the bands painted from the top one down so that each
 * shows between its line and the one below. Each thread's peak is a dot with its name and value
 * beside it where no other peak's label is. Same axes, header rows and legend panel.
 *
 * Every series is decimated to the plot's pixel columns (series_decimate) before it is drawn,
 * so a long run costs one pass over its points. Several runs overlay on one time axis, each
 * from its own start; each gets a colour, its processes drawn faint in that colour.
 *
 * Text from logs (commands, labels, span names, paths) is escaped with text_escape and cut to
 * the room it has, measured in the font. Cairo's SVG surface draws text as glyph outlines, so
 * an SVG also gets an invisible text layer (<text> elements at the same places, XML-escaped)
 * for search, copy and screen readers. The picture is made in memory (cairo's stream API, or
 * libpng for PNG); the caller writes it to its file (lib/outfile), so a write error is the
 * caller's to report, naming the file the user asked for.
 */
#include "render/plot.h"

#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <cairo.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render/plot-png.h"
#include "render/report.h"
#include "util/text.h"
#include "model/series.h"

#define DEFAULT_WIDTH  1200
#define DEFAULT_HEIGHT 700
#define FONT	       "DejaVu Sans"
#define LABEL_ROWS     4  /* rows of event labels at the top of the plot area */
#define ROW_H	       15 /* height of a row of small text */
#define LABEL_LINES    3  /* lines a layer's label may wrap over in the legend */
#define SPAN_ROWS      3  /* rows of span names along the bottom of the plot area */

struct rgb {
	double r, g, b;
};

struct theme {
	struct rgb bg, fg, muted, grid, axis, bad, span, other, tree;
};

static const struct theme light = {
	.bg = {1, 1, 1},
	.fg = {0.13, 0.13, 0.13},
	.muted = {0.42, 0.42, 0.42},
	.grid = {0.90, 0.90, 0.90},
	.axis = {0.55, 0.55, 0.55},
	.bad = {0.80, 0.10, 0.10},
	.span = {0.45, 0.35, 0.75},
	.other = {0.55, 0.55, 0.55},
	.tree = {0.12, 0.47, 0.71},
};

static const struct theme dark = {
	.bg = {0.11, 0.11, 0.12},
	.fg = {0.88, 0.88, 0.88},
	.muted = {0.62, 0.62, 0.62},
	.grid = {0.22, 0.22, 0.24},
	.axis = {0.45, 0.45, 0.47},
	.bad = {1.00, 0.38, 0.35},
	.span = {0.65, 0.55, 0.95},
	.other = {0.58, 0.58, 0.60},
	.tree = {0.35, 0.68, 0.98},
};

/* Line colours after the tree's: the tab10 palette without its blue and grey. */
static const struct rgb palette[] = {
	{1.00, 0.50, 0.05}, {0.17, 0.63, 0.17}, {0.84, 0.15, 0.16}, {0.58, 0.40, 0.74},
	{0.55, 0.34, 0.29}, {0.89, 0.47, 0.76}, {0.74, 0.74, 0.13}, {0.09, 0.75, 0.81},
};
#define N_PALETTE (sizeof(palette) / sizeof(palette[0]))

struct layer {
	const struct run *run;
	const char *path;
	struct strbuf label; /* plot_labels': what tells it from the other layers */
	struct series_set set;
	struct rgb color;  /* the tree's line */
	bool tree_is_proc; /* the tree's line is its only process's (series_tree_is_only_proc) */
};

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
	struct layer *layers;
	size_t n;
	struct strbuf tmp;
	struct strbuf svg; /* the SVG's text layer */
	double font_size;
	double *dt, *dv;		      /* decimation buffers */
	const struct series_threads *threads; /* plot --threads: the lines drawn, else NULL */
};

/* ---- text ---- */

static void set_rgb(cairo_t *cr, struct rgb c, double alpha)
{
	cairo_set_source_rgba(cr, c.r, c.g, c.b, alpha);
}

static void font(struct plot *p, double size, bool bold)
{
	cairo_select_font_face(p->cr, FONT, CAIRO_FONT_SLANT_NORMAL,
			       bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
	cairo_set_font_size(p->cr, size);
	p->font_size = size;
}

static double text_w(struct plot *p, const char *s)
{
	cairo_text_extents_t e;
	cairo_text_extents(p->cr, s, &e);
	return e.x_advance;
}

/* Appends s XML-escaped (s is valid UTF-8 without control characters: text_escape's). */
static void add_xml(struct strbuf *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			strbuf_addstr(out, "&amp;");
			break;
		case '<':
			strbuf_addstr(out, "&lt;");
			break;
		case '>':
			strbuf_addstr(out, "&gt;");
			break;
		case '"':
			strbuf_addstr(out, "&quot;");
			break;
		default:
			strbuf_addch(out, *s);
		}
	}
}

/*
 * Draws s (already safe: escaped or made here) with its left end at x and baseline at y in the
 * current font and colour; align 0 left, 0.5 centred, 1 right. Returns its width.
 */
static double draw_text(struct plot *p, const char *s, double x, double y, double align)
{
	double w = text_w(p, s);
	x -= w * align;
	cairo_move_to(p->cr, x, y);
	cairo_show_text(p->cr, s);
	cairo_new_path(p->cr); /* show_text leaves a current point a later path would join */
	if (p->format == PLOT_SVG && *s) {
		strbuf_addf(&p->svg,
			    "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.1f\" textLength=\"%.1f\">",
			    x, y, p->font_size, w);
		add_xml(&p->svg, s);
		strbuf_addstr(&p->svg, "</text>\n");
	}
	return w;
}

/*
 * s (len bytes from a log) escaped and cut to at most maxw wide in the current font, into
 * p->tmp; "" when not even "…" fits.
 */
static const char *fit(struct plot *p, const char *s, size_t len, double maxw)
{
	size_t cols = 400;
	strbuf_reset(&p->tmp);
	size_t used = text_escape(&p->tmp, s, len, cols);
	double w = text_w(p, p->tmp.buf ? p->tmp.buf : "");
	while (w > maxw && used > 1) {
		size_t next = (size_t)((double)used * maxw / w);
		cols = next < used ? next : used - 1;
		if (cols < 1)
			cols = 1;
		strbuf_reset(&p->tmp);
		used = text_escape(&p->tmp, s, len, cols);
		w = text_w(p, p->tmp.buf);
	}
	if (w > maxw || !p->tmp.buf)
		return "";
	return p->tmp.buf;
}

/*
 * s (len bytes from a log) escaped and broken into lines at most maxw wide in the current font,
 * at spaces where it can and between characters where a word is wider than a line; the lines
 * go into out separated by '\n' (escaped text holds none), at most max_lines of them, the last
 * cut with "…" when more would be needed. Returns the lines.
 */
static size_t wrap(struct plot *p, const char *s, size_t len, double maxw, size_t max_lines,
		   struct strbuf *out)
{
	struct strbuf esc = STRBUF_INIT, line = STRBUF_INIT;
	text_escape(&esc, s, len, len * 4 + 1);
	const char *t = esc.buf ? esc.buf : "";
	size_t n = strlen(t), pos = 0, lines = 0;
	while (pos < n && lines < max_lines) {
		while (t[pos] == ' ')
			pos++;
		if (pos >= n)
			break;
		size_t end = pos, space = 0;
		while (end < n) {
			size_t next = end + 1;
			while (next < n && ((unsigned char)t[next] & 0xc0) == 0x80)
				next++;
			strbuf_reset(&line);
			strbuf_add(&line, t + pos, next - pos);
			if (end > pos && text_w(p, line.buf) > maxw)
				break;
			end = next;
			if (t[end] == ' ')
				space = end;
		}
		if (end < n && space > pos)
			end = space;
		if (lines)
			strbuf_addch(out, '\n');
		lines++;
		if (lines == max_lines && end < n) { /* the last line there is room for */
			strbuf_addstr(out, fit(p, t + pos, n - pos, maxw));
			break;
		}
		strbuf_add(out, t + pos, end - pos);
		pos = end;
	}
	strbuf_release(&line);
	strbuf_release(&esc);
	return lines;
}

/* ---- scales ---- */

static double x_of(const struct plot *p, double t)
{
	return p->px0 + t / p->t1 * (p->px1 - p->px0);
}

static double y_of(const struct plot *p, double v)
{
	return p->py1 - v / p->ymax * (p->py1 - p->data_top);
}

/* The smallest of 1, 2, 5 times a power of ten at or above x > 0. */
static double nice_step(double x)
{
	double e = pow(10, floor(log10(x)));
	double m = x / e;
	return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * e;
}

/* Decimals to print multiples of step without losing digits (0 to 3). */
static int decimals(double step)
{
	int d = 0;
	while (d < 3 && fabs(step * pow(10, d) - round(step * pow(10, d))) > 1e-6)
		d++;
	return d;
}

struct time_unit {
	double secs;
	const char *name;
};

/* A time tick step at or above min_step seconds, and the unit to label it in. */
static double time_step(double min_step, double t1, struct time_unit *u)
{
	static const double steps[] = {
		0.001, 0.002, 0.005, 0.01,  0.02,  0.05,  0.1,	 0.2,	 0.5,	 1,
		2,     5,     10,    15,    30,	   60,	  120,	 300,	 600,	 900,
		1800,  3600,  7200,  10800, 21600, 43200, 86400, 172800, 432000, 864000,
	};
	double step = 0;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (steps[i] >= min_step) {
			step = steps[i];
			break;
		}
	if (!step)
		step = nice_step(min_step / 86400) * 86400;
	if (step < 1 && t1 < 2)
		*u = (struct time_unit){0.001, "ms"};
	else if (step < 60)
		*u = (struct time_unit){1, "s"};
	else if (step < 3600)
		*u = (struct time_unit){60, "min"};
	else if (step < 86400)
		*u = (struct time_unit){3600, "h"};
	else
		*u = (struct time_unit){86400, "days"};
	return step;
}

/* The unit (in KiB) and its name to label memory values up to max KiB in. */
static double mem_unit(double max, const char **name)
{
	static const char *const names[] = {"KiB", "MiB", "GiB", "TiB"};
	double u = 1;
	size_t i = 0;
	while (i + 1 < 4 && max / u >= 1024) {
		u *= 1024;
		i++;
	}
	*name = names[i];
	return u;
}

/* ---- parts of the picture ---- */

static void draw_header(struct plot *p)
{
	cairo_t *cr = p->cr;
	struct strbuf cmd = STRBUF_INIT;
	if (p->o->title) {
		strbuf_addstr(&cmd, p->o->title);
	} else {
		for (size_t i = 0; i < p->n && i < 4; i++) {
			if (i)
				strbuf_addstr(&cmd, "  vs  ");
			run_command(p->layers[i].run, &cmd);
		}
		if (p->n > 4)
			strbuf_addf(&cmd, "  (+%zu more)", p->n - 4);
	}
	font(p, 16, true);
	set_rgb(cr, p->th->fg, 1);
	draw_text(p, fit(p, cmd.buf ? cmd.buf : "", cmd.len, p->w - 24), 12, 24, 0);

	static const char *const what[] = {"RSS (resident memory)", "PSS (proportional set size)",
					   "virtual memory size", "swap", "CPU (% of one core)"};
	strbuf_reset(&cmd);
	const struct layer *first = &p->layers[0];
	if (p->n == 1 && first->set.job)
		strbuf_addf(&cmd, "the job's memory (%s) and the %s of its processes",
			    report_method_words(first->set.method, true), what[p->o->metric]);
	else
		strbuf_addf(&cmd, "%s of the process tree", what[p->o->metric]);
	const struct header_info *h = &p->layers[0].run->header;
	if (p->n == 1 && h->host)
		strbuf_addf(&cmd, " · %s", h->host);
	if (p->n == 1 && h->start_iso)
		strbuf_addf(&cmd, " · %s", h->start_iso);
	if (p->n > 1)
		strbuf_addf(&cmd, " · %zu runs, each from its start", p->n);
	font(p, 11, false);
	set_rgb(cr, p->th->muted, 1);
	draw_text(p, fit(p, cmd.buf, cmd.len, p->w - 24), 12, 42, 0);
	strbuf_release(&cmd);
}

static void draw_axes(struct plot *p, const char *unit_name, double unit)
{
	cairo_t *cr = p->cr;
	font(p, 10.5, false);

	/* value axis */
	double max_ticks = fmax(2, (p->py1 - p->data_top) / 45);
	double vstep = nice_step(p->ymax / unit / max_ticks);
	int vd = decimals(vstep);
	cairo_set_line_width(cr, 1);
	for (int k = 0;; k++) {
		double v = k * vstep * unit;
		double y = round(y_of(p, v)) + 0.5;
		if (y < p->py0 - 0.5)
			break;
		set_rgb(cr, p->th->grid, 1);
		cairo_move_to(cr, p->px0, y);
		cairo_line_to(cr, p->px1, y);
		cairo_stroke(cr);
		strbuf_reset(&p->tmp);
		strbuf_addf(&p->tmp, "%.*f %s", vd, k * vstep, unit_name);
		set_rgb(cr, p->th->muted, 1);
		draw_text(p, p->tmp.buf, p->px0 - 6, y + 3.5, 1);
	}

	/* time axis */
	struct time_unit tu;
	double tstep = time_step(p->t1 / fmax(2, (p->px1 - p->px0) / 90), p->t1, &tu);
	int td = decimals(tstep / tu.secs);
	for (int k = 0;; k++) {
		double t = k * tstep;
		if (t > p->t1 * (1 + 1e-9))
			break;
		double x = round(x_of(p, t)) + 0.5;
		set_rgb(cr, p->th->grid, 1);
		cairo_move_to(cr, x, p->py0);
		cairo_line_to(cr, x, p->py1);
		cairo_stroke(cr);
		strbuf_reset(&p->tmp);
		strbuf_addf(&p->tmp, "%.*f", td, t / tu.secs);
		set_rgb(cr, p->th->muted, 1);
		draw_text(p, p->tmp.buf, x, p->py1 + 15, 0.5);
	}
	strbuf_reset(&p->tmp);
	strbuf_addf(&p->tmp, "time since start (%s)", tu.name);
	set_rgb(cr, p->th->fg, 1);
	draw_text(p, p->tmp.buf, (p->px0 + p->px1) / 2, p->py1 + 32, 0.5);

	set_rgb(cr, p->th->axis, 1);
	cairo_move_to(cr, p->px0 + 0.5, p->py0);
	cairo_line_to(cr, p->px0 + 0.5, p->py1 + 0.5);
	cairo_line_to(cr, p->px1, p->py1 + 0.5);
	cairo_stroke(cr);
}

struct span_ref {
	double start;
	size_t layer, i;
};

static int cmp_span_ref(const void *a, const void *b)
{
	const struct span_ref *x = a, *y = b;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->layer != y->layer)
		return x->layer < y->layer ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/*
 * Spans: a shaded band each (darker when nested), then their names in rows along the bottom
 * of the plot area, in order of start, each in the lowest row where it does not overlap the
 * names already there (spans of several threads overlap in time, and their names would
 * collide), cut to its band's width. Returns the spans left without a name.
 */
static size_t draw_spans(struct plot *p)
{
	cairo_t *cr = p->cr;
	size_t total = 0, k = 0, skipped = 0;
	for (size_t l = 0; l < p->n; l++)
		total += p->layers[l].run->n_spans;
	if (!total)
		return 0;
	struct span_ref *refs = malloc(total * sizeof(*refs));
	if (!refs)
		return total;
	for (size_t l = 0; l < p->n; l++)
		for (size_t i = 0; i < p->layers[l].run->n_spans; i++)
			refs[k++] = (struct span_ref){p->layers[l].run->spans[i].start, l, i};
	qsort(refs, total, sizeof(*refs), cmp_span_ref);
	for (int pass = 0; pass < 2; pass++) {
		double right[SPAN_ROWS]; /* where each row's last name ends */
		for (int r = 0; r < SPAN_ROWS; r++)
			right[r] = -1e9;
		int rows = (int)fmin(SPAN_ROWS, fmax(1, (p->py1 - p->py0) / 13 / 4));
		font(p, 10, false);
		for (k = 0; k < total; k++) {
			const struct layer *ly = &p->layers[refs[k].layer];
			const struct run_span *s = &ly->run->spans[refs[k].i];
			struct rgb c = p->n > 1 ? ly->color : p->th->span;
			int depth = s->depth < 0 ? 0 : s->depth > 2 ? 2 : s->depth;
			double x0 = x_of(p, fmax(0, s->start)), x1 = x_of(p, fmin(p->t1, s->end));
			if (x1 < x0) {
				skipped += pass;
				continue;
			}
			if (x1 - x0 < 1)
				x1 = x0 + 1;
			if (pass == 0) {
				set_rgb(cr, c, (p->n > 1 ? 0.035 : 0.06) + 0.03 * depth);
				cairo_rectangle(cr, x0, p->py0, x1 - x0, p->py1 - p->py0);
				cairo_fill(cr);
				set_rgb(cr, c, 0.35);
				cairo_set_line_width(cr, 0.8);
				cairo_move_to(cr, x0, p->py0);
				cairo_line_to(cr, x0, p->py1);
				cairo_stroke(cr);
				continue;
			}
			const char *name =
				x1 - x0 < 14 ? "" : fit(p, s->name, s->name_len, x1 - x0 - 6);
			double w = *name ? text_w(p, name) : 0;
			int row = -1;
			for (int r = 0; *name && r < rows && row < 0; r++)
				if (right[r] <= x0 + 2)
					row = r;
			if (row < 0) {
				skipped++;
				continue;
			}
			right[row] = x0 + 2 + w + 6;
			double y = p->py1 - 6 - row * 13;
			set_rgb(cr, p->th->bg, 0.7);
			cairo_rectangle(cr, x0 + 2, y - 10, w + 2, 13);
			cairo_fill(cr);
			set_rgb(cr, c, 1);
			draw_text(p, name, x0 + 3, y, 0);
		}
	}
	free(refs);
	return skipped;
}

static void series_style(struct plot *p, const struct layer *ly, size_t i, struct rgb *c,
			 double *alpha, double *width, bool *dashed)
{
	const struct series *s = &ly->set.s[i];
	*dashed = s->kind == SERIES_OTHER;
	if (i == 0 && ly->tree_is_proc && p->n == 1) {
		/* a wide band under its only process's line, which it would hide */
		*c = ly->color;
		*alpha = 0.3;
		*width = 7;
	} else if (i == 0) {
		/* the leading line: the job's memory, else the tree's */
		*c = ly->color;
		*alpha = 1;
		*width = 2.6;
	} else if (s->kind == SERIES_TREE) {
		/* the tree's RSS (or PSS) sum beside the job's memory: second, lighter */
		*c = ly->color;
		*alpha = 0.5;
		*width = 1.6;
	} else if (p->n > 1) {
		*c = ly->color;
		*alpha = 0.45;
		*width = 1;
	} else {
		*c = s->kind == SERIES_OTHER ? p->th->other : palette[(i - 1) % N_PALETTE];
		*alpha = 0.95;
		*width = ly->tree_is_proc ? 1.8 : 1.3;
	}
}

/* Makes s, decimated to cols columns, the current path (s has points). */
static void line_path(struct plot *p, const struct series *s, size_t cols)
{
	cairo_t *cr = p->cr;
	size_t m = series_decimate(s->t, s->v, s->n, 0, p->t1, cols, p->dt, p->dv);
	cairo_new_path(cr);
	cairo_move_to(cr, x_of(p, p->dt[0]), y_of(p, p->dv[0]));
	for (size_t j = 1; j < m; j++)
		cairo_line_to(cr, x_of(p, p->dt[j]), y_of(p, p->dv[j]));
	if (m == 1)
		cairo_rel_line_to(cr, 0.01, 0);
}

/* Draws line k of a layer, decimated to cols columns, in its style. */
static void draw_line(struct plot *p, const struct layer *ly, size_t k, size_t cols)
{
	cairo_t *cr = p->cr;
	const struct series *s = &ly->set.s[k];
	struct rgb c;
	double alpha, width;
	bool dashed;
	series_style(p, ly, k, &c, &alpha, &width, &dashed);
	line_path(p, s, cols);
	set_rgb(cr, c, alpha);
	cairo_set_line_width(cr, width);
	double dash[] = {5, 3};
	cairo_set_dash(cr, dash, dashed ? 2 : 0, 0);
	cairo_stroke(cr);
}

static void draw_series(struct plot *p)
{
	cairo_t *cr = p->cr;
	size_t cols = (size_t)fmax(1, p->px1 - p->px0);
	cairo_save(cr);
	cairo_rectangle(cr, p->px0, p->py0 - 2, p->px1 - p->px0 + 2, p->py1 - p->py0 + 4);
	cairo_clip(cr);
	cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
	for (size_t l = 0; l < p->n; l++) {
		const struct layer *ly = &p->layers[l];
		/*
		 * Back to front: the tree's sum beside a job line (lighter, under it; not for
		 * overlaid runs, which show each run's leading line), the leading line, "other",
		 * the processes from the lowest peak up. The leading line goes before the
		 * processes so that it hides none: where one process is most of the tree (a
		 * single-process run), its thin line shows on the thick one.
		 */
		size_t tree = ly->set.job && ly->set.tree > 0 ? (size_t)ly->set.tree : 0;
		if (tree && p->n == 1 && ly->set.s[tree].n)
			draw_line(p, ly, tree, cols);
		for (size_t o = 0; o < ly->set.n; o++) {
			size_t k = o == 0 ? 0 : ly->set.n - o;
			if (!ly->set.s[k].n || (tree && k == tree) ||
			    (k && ly->tree_is_proc && p->n > 1))
				continue;
			draw_line(p, ly, k, cols);
		}
	}
	cairo_set_dash(cr, NULL, 0, 0);
	cairo_restore(cr);
}

/*
 * The peak of a layer's leading line: the job's peak where it leads with the job's memory, else
 * for RSS the run's RSS peak (between samples too), else the line's own.
 */
static bool layer_peak(const struct plot *p, const struct layer *ly, double *t, double *v)
{
	if (ly->set.job && ly->run->job_peak >= 0) {
		*t = ly->run->job_peak_t;
		*v = (double)ly->run->job_peak;
		return true;
	}
	if (p->o->metric == SERIES_RSS && ly->run->peak >= 0) {
		*t = ly->run->peak_t;
		*v = (double)ly->run->peak;
		return true;
	}
	if (!ly->set.n || ly->set.s[0].peak < 0)
		return false;
	*t = ly->set.s[0].peak_t;
	*v = ly->set.s[0].peak;
	return true;
}

static void add_value(struct plot *p, struct strbuf *out, double v)
{
	if (p->o->metric == SERIES_CPU)
		strbuf_addf(out, "%.0f%%", v);
	else
		text_bytes(out, (long long)(v * 1024));
}

static void draw_peaks(struct plot *p)
{
	cairo_t *cr = p->cr;
	font(p, 10.5, true);
	double prev_y = -1e9;
	for (size_t l = 0; l < p->n; l++) {
		const struct layer *ly = &p->layers[l];
		double t, v;
		if (!layer_peak(p, ly, &t, &v))
			continue;
		double x = x_of(p, t), y = y_of(p, v);
		set_rgb(cr, ly->color, 1);
		cairo_new_path(cr);
		cairo_arc(cr, x, y, 4.5, 0, 2 * M_PI);
		cairo_set_line_width(cr, 2);
		cairo_stroke(cr);
		strbuf_reset(&p->tmp);
		strbuf_addstr(&p->tmp, "peak ");
		add_value(p, &p->tmp, v);
		strbuf_addstr(&p->tmp, " at ");
		text_secs(&p->tmp, t);
		double w = text_w(p, p->tmp.buf);
		double tx = x + 8 + w > p->px1 ? x - 8 - w : x + 8;
		double ty = y - 6;
		if (fabs(ty - prev_y) < 14)
			ty = prev_y + 14;
		if (ty < p->data_top + 10)
			ty = p->data_top + 10;
		prev_y = ty;
		set_rgb(cr, p->th->bg, 0.75);
		cairo_rectangle(cr, tx - 2, ty - 11, w + 4, 14);
		cairo_fill(cr);
		set_rgb(cr, ly->color, 1);
		draw_text(p, p->tmp.buf, tx, ty, 0);
	}
}

struct ev {
	double t;
	size_t layer;
	const struct run_event *e;
};

static int cmp_ev(const void *a, const void *b)
{
	const struct ev *x = a, *y = b;
	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->layer < y->layer ? -1 : x->layer > y->layer;
}

/* Events: a marker on each run's tree line, labels in rows at the top; returns those skipped. */
static size_t draw_events(struct plot *p, int rows)
{
	cairo_t *cr = p->cr;
	size_t total = 0;
	for (size_t l = 0; l < p->n; l++)
		total += p->layers[l].run->n_events;
	if (!total)
		return 0;
	struct ev *evs = malloc(total * sizeof(*evs));
	if (!evs)
		return total;
	size_t k = 0;
	for (size_t l = 0; l < p->n; l++)
		for (size_t i = 0; i < p->layers[l].run->n_events; i++)
			evs[k++] = (struct ev){p->layers[l].run->events[i].t, l,
					       &p->layers[l].run->events[i]};
	qsort(evs, total, sizeof(*evs), cmp_ev);

	double right[LABEL_ROWS];
	for (int r = 0; r < LABEL_ROWS; r++)
		right[r] = -1e9;
	size_t skipped = 0;
	font(p, 10.5, false);
	for (size_t i = 0; i < total; i++) {
		const struct layer *ly = &p->layers[evs[i].layer];
		const struct run_event *e = evs[i].e;
		if (e->t < 0 || e->t > p->t1) {
			skipped++;
			continue;
		}
		double x = x_of(p, e->t);
		double y = ly->set.n && ly->set.s[0].n ? y_of(p, series_at(&ly->set.s[0], e->t))
						       : p->py1;
		struct rgb c = p->n > 1 ? ly->color : p->th->fg;

		/* a label: the first row with room to the right of the line, else to its left */
		int row = -1;
		double lx = 0;
		const char *label = "";
		for (int r = 0; r < rows && row < 0; r++) {
			if (right[r] > x + 3)
				continue;
			if (!*label)
				label = fit(p, e->label, e->label_len, fmin(220, p->px1 - p->px0));
			if (!*label)
				break;
			double w = text_w(p, label);
			if (x + 3 + w <= p->px1) {
				row = r;
				lx = x + 3;
			} else if (x - 3 - w >= p->px0 && x - 3 - w > right[r] + 6) {
				row = r;
				lx = x - 3 - w;
			}
			if (row >= 0)
				right[r] = lx + w + 6;
		}
		if (row >= 0) {
			double ly_ = p->py0 + 11 + row * ROW_H;
			set_rgb(cr, c, 0.45);
			cairo_set_line_width(cr, 0.8);
			double dash[] = {2, 2};
			cairo_set_dash(cr, dash, 2, 0);
			cairo_move_to(cr, round(x) + 0.5, ly_ + 3);
			cairo_line_to(cr, round(x) + 0.5, y);
			cairo_stroke(cr);
			cairo_set_dash(cr, NULL, 0, 0);
			set_rgb(cr, p->th->bg, 0.7);
			cairo_rectangle(cr, lx - 1, ly_ - 10, text_w(p, label) + 2, 13);
			cairo_fill(cr);
			set_rgb(cr, c, 1);
			draw_text(p, label, lx, ly_, 0);
		} else {
			skipped++;
		}
		set_rgb(cr, p->th->bg, 1);
		cairo_new_path(cr);
		cairo_arc(cr, x, y, 3.5, 0, 2 * M_PI);
		cairo_fill_preserve(cr);
		set_rgb(cr, c, 1);
		cairo_set_line_width(cr, 1.5);
		cairo_stroke(cr);
	}
	free(evs);
	return skipped;
}

static bool bad_end(enum run_status s)
{
	return s == RUN_OOM_KILLED || s == RUN_KILLED || s == RUN_FAILED || s == RUN_INCOMPLETE;
}

/* "oom-killed at 12.3 s", "completed in 3.0 s", "failed (exit code 2) at 1.2 s"... */
static void add_ending(const struct run *run, struct strbuf *out)
{
	double t = run->duration;
	switch (run->status) {
	case RUN_COMPLETED:
		strbuf_addstr(out, "completed in ");
		break;
	case RUN_FAILED:
		if (run->end.exit_code >= 0)
			strbuf_addf(out, "failed (exit code %d) at ", run->end.exit_code);
		else
			strbuf_addstr(out, "failed at ");
		break;
	case RUN_KILLED:
		strbuf_addstr(out, "killed by ");
		text_signal(out, run->end.signal);
		strbuf_addstr(out, " at ");
		break;
	case RUN_OOM_KILLED: {
		size_t n = 0;
		pid_t *pids = run_oom_killed(run, &n);
		int i = n ? run_oom_proc(run, pids[0]) : -1;
		if (i >= 0 && run->procs[i].exited)
			t = run->procs[i].exit.t;
		free(pids);
		strbuf_addstr(out, "oom-killed at ");
		break;
	}
	case RUN_INCOMPLETE:
		strbuf_addstr(out, "incomplete: the log ends at ");
		break;
	case RUN_RUNNING:
	case RUN_NSTATUS:
		strbuf_addstr(out, "still running at ");
		break;
	default:
		strbuf_addf(out, "%s at ", run_status_names[run->status]);
	}
	text_secs(out, t);
}

/* An end marker (a cross) on the tree line of each run that ended badly. */
static void draw_end_marks(struct plot *p)
{
	cairo_t *cr = p->cr;
	for (size_t l = 0; l < p->n; l++) {
		const struct layer *ly = &p->layers[l];
		if (!bad_end(ly->run->status) || !ly->set.n || !ly->set.s[0].n)
			continue;
		const struct series *s = &ly->set.s[0];
		double x = x_of(p, s->t[s->n - 1]), y = y_of(p, s->v[s->n - 1]);
		set_rgb(cr, p->th->bad, 1);
		cairo_set_line_width(cr, 2.2);
		cairo_move_to(cr, x - 5, y - 5);
		cairo_line_to(cr, x + 5, y + 5);
		cairo_move_to(cr, x + 5, y - 5);
		cairo_line_to(cr, x - 5, y + 5);
		cairo_stroke(cr);
	}
}

struct entry {
	struct rgb c;
	double alpha, width;
	bool dashed;
	struct strbuf text; /* raw, escaped when drawn; a layer's: its label, escaped and wrapped */
	size_t lines;	    /* a layer's: lines of text; 0 for one cut to fit */
	struct strbuf sub;  /* a layer's: its log and command, muted, cut to fit */
};

static void legend_swatch(struct plot *p, const struct entry *e, double x, double y)
{
	cairo_t *cr = p->cr;
	set_rgb(cr, e->c, e->alpha);
	cairo_set_line_width(cr, e->width);
	double dash[] = {5, 3};
	cairo_set_dash(cr, dash, e->dashed ? 2 : 0, 0);
	cairo_move_to(cr, x, y - 4);
	cairo_line_to(cr, x + 22, y - 4);
	cairo_stroke(cr);
	cairo_set_dash(cr, NULL, 0, 0);
}

/*
 * The legend's entries, into a new array *out (NULL when out of memory): one a run when runs
 * overlay (its label whole, wrapped to width: it is what tells them apart; then its log and
 * command), else one a line of the single run. Returns how many.
 */
static size_t legend_entries(struct plot *p, double width, struct entry **out)
{
	size_t max_entries = 1, n = 0;
	for (size_t l = 0; l < p->n; l++)
		max_entries += p->n > 1 ? 1 : p->layers[l].set.n;
	struct entry *es = *out = calloc(max_entries, sizeof(*es));
	for (size_t l = 0; es && l < p->n; l++) {
		const struct layer *ly = &p->layers[l];
		if (p->n > 1) {
			struct entry *e = &es[n++];
			e->c = ly->color;
			e->alpha = 1;
			e->width = 2.6;
			font(p, 10.5, true);
			e->lines = wrap(p, ly->label.buf ? ly->label.buf : "", ly->label.len, width,
					LABEL_LINES, &e->text);
			const char *base = ly->path ? strrchr(ly->path, '/') : NULL;
			strbuf_addf(&e->sub, "%s: ", base ? base + 1 : ly->path ? ly->path : "?");
			run_command(ly->run, &e->sub);
			continue;
		}
		for (size_t k = 0; k < ly->set.n; k++) {
			const struct series *s = &ly->set.s[k];
			struct entry *e = &es[n++];
			series_style(p, ly, k, &e->c, &e->alpha, &e->width, &e->dashed);
			if (s->kind == SERIES_JOB) {
				strbuf_addf(&e->text, "the job's memory: %s%s",
					    report_method_words(ly->set.method, true),
					    ly->tree_is_proc ? ", the same as its only process"
							     : "");
			} else if (s->kind == SERIES_TREE && ly->set.job) {
				strbuf_addstr(&e->text,
					      p->o->metric == SERIES_PSS
						      ? "PSS sum: shared pages split"
						      : "RSS sum: shared pages once per process");
			} else if (s->kind == SERIES_TREE && ly->tree_is_proc) {
				strbuf_addstr(&e->text, "whole tree: the same as its only process");
			} else if (s->kind == SERIES_TREE) {
				strbuf_addstr(&e->text, "whole tree");
			} else if (s->kind == SERIES_OTHER) {
				strbuf_addf(&e->text, "other (%zu process%s)", ly->set.n_rest,
					    ly->set.n_rest == 1 ? "" : "es");
			} else {
				strbuf_addf(&e->text, "%d ", (int)ly->run->procs[s->proc].pid);
				run_proc_cmd(ly->run, (size_t)s->proc, &e->text);
			}
		}
	}
	return n;
}

/* One entry's text at y: a line, or a wrapped label and its muted second line. Returns y. */
static double legend_text(struct plot *p, const struct entry *e, double x, double w, double y)
{
	set_rgb(p->cr, p->th->fg, 1);
	if (!e->lines) {
		font(p, 10.5, false);
		draw_text(p, fit(p, e->text.buf, e->text.len, w), x, y, 0);
		return y;
	}
	font(p, 10.5, true);
	const char *line = e->text.buf ? e->text.buf : "";
	for (size_t k = 0; k < e->lines; k++) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		strbuf_reset(&p->tmp);
		strbuf_add(&p->tmp, line, len);
		if (k)
			y += ROW_H;
		draw_text(p, p->tmp.buf ? p->tmp.buf : "", x, y, 0);
		line = nl ? nl + 1 : line + len;
	}
	y += ROW_H;
	font(p, 9.5, false);
	set_rgb(p->cr, p->th->muted, 1);
	draw_text(p, fit(p, e->sub.buf, e->sub.len, w), x, y, 0);
	return y;
}

/*
 * The entries that fit above the endings, "+N more" for those that do not, and for overlaid
 * runs what their faint lines are. Returns the y of the last row drawn.
 */
static double legend_rows(struct plot *p, const struct entry *es, size_t n, double x0, double x1)
{
	double y = p->py0 + 4;
	double bottom = p->py1 - (p->n + 2) * ROW_H; /* room for the endings below */
	size_t rows = (size_t)fmax(1, (bottom - y) / ROW_H), used = 0, shown = 0;
	for (; shown < n; shown++) {
		size_t need = es[shown].lines ? es[shown].lines + 1 : 1;
		/* the last one shown leaves a row for "+N more" when some are left out */
		if (used + need > rows || (shown + 1 < n && used + need + 1 > rows))
			break;
		used += need;
	}
	for (size_t i = 0; i < shown; i++) {
		y += ROW_H;
		legend_swatch(p, &es[i], x0, y);
		y = legend_text(p, &es[i], x0 + 28, x1 - x0 - 28, y);
	}
	font(p, 10.5, false);
	set_rgb(p->cr, p->th->muted, 1);
	if (shown < n) {
		y += ROW_H;
		strbuf_reset(&p->tmp);
		strbuf_addf(&p->tmp, "+%zu more", n - shown);
		draw_text(p, p->tmp.buf, x0 + 28, y, 0);
	}
	if (p->n > 1 && p->o->top > 0) {
		y += ROW_H;
		struct strbuf note = STRBUF_INIT; /* fit() writes into p->tmp */
		strbuf_addf(&note, "faint: top %d processes of each", p->o->top);
		draw_text(p, fit(p, note.buf, note.len, x1 - x0), x0, y, 0);
		strbuf_release(&note);
	}
	return y;
}

/* How each run ended, from y down, in red when it went wrong; a colour square each overlaid. */
static void legend_endings(struct plot *p, double x0, double x1, double y)
{
	cairo_t *cr = p->cr;
	for (size_t l = 0; l < p->n && y < p->py1 + 4; l++) {
		const struct run *run = p->layers[l].run;
		strbuf_reset(&p->tmp);
		add_ending(run, &p->tmp);
		struct strbuf line = STRBUF_INIT;
		strbuf_addstr(&line, p->tmp.buf);
		font(p, 11, bad_end(run->status));
		double x = x0;
		if (p->n > 1) {
			set_rgb(cr, p->layers[l].color, 1);
			cairo_rectangle(cr, x0, y - 8, 8, 8);
			cairo_fill(cr);
			x += 12;
		}
		set_rgb(cr, bad_end(run->status) ? p->th->bad : p->th->fg, 1);
		draw_text(p, fit(p, line.buf, line.len, x1 - x), x, y, 0);
		strbuf_release(&line);
		y += ROW_H;
	}
}

/* Under the plot area, at its right: the events and spans left without a label. */
static void legend_unlabelled(struct plot *p, size_t events, size_t spans)
{
	if (!events && !spans)
		return;
	font(p, 10.5, false);
	set_rgb(p->cr, p->th->muted, 1);
	strbuf_reset(&p->tmp);
	if (events)
		strbuf_addf(&p->tmp, "+%zu event%s", events, events == 1 ? "" : "s");
	if (spans)
		strbuf_addf(&p->tmp, "%s+%zu span%s", events ? ", " : "", spans,
			    spans == 1 ? "" : "s");
	strbuf_addstr(&p->tmp, " not labelled");
	draw_text(p, p->tmp.buf, p->px1, p->py1 + 32, 1);
}

/* The legend, between x0 and x1 right of the plot area: its lines, then how the runs ended. */
static void draw_legend(struct plot *p, double x0, double x1, size_t skipped_events,
			size_t skipped_spans)
{
	if (x1 - x0 < 60)
		return;
	struct entry *es;
	size_t n = legend_entries(p, x1 - x0 - 28, &es);
	if (!es)
		return;
	double y = legend_rows(p, es, n, x0, x1);
	legend_endings(p, x0, x1, y + ROW_H * 1.5);
	legend_unlabelled(p, skipped_events, skipped_spans);
	for (size_t i = 0; i < n; i++) {
		strbuf_release(&es[i].text);
		strbuf_release(&es[i].sub);
	}
	free(es);
}

/* The background, and the plot area left of the legend's room. */
static void plot_area(struct plot *p)
{
	set_rgb(p->cr, p->th->bg, 1);
	cairo_paint(p->cr);
	double legend_w = p->w >= 500 ? fmin(300, fmax(150, p->w * 0.22)) : 0;
	p->px0 = 78;
	p->px1 = p->w - legend_w - (legend_w ? 24 : 16);
	p->py0 = 58;
	p->py1 = p->h - 46;
	if (p->px1 < p->px0 + 20)
		p->px1 = p->px0 + 20;
	if (p->py1 < p->py0 + 20)
		p->py1 = p->py0 + 20;
}

static void draw(struct plot *p)
{
	cairo_t *cr = p->cr;
	plot_area(p);

	/* the scales */
	p->t1 = 0;
	double vmax = 0;
	size_t n_events = 0;
	for (size_t l = 0; l < p->n; l++) {
		const struct layer *ly = &p->layers[l];
		const struct run *run = ly->run;
		p->t1 = fmax(p->t1, run->duration);
		if (run->n_samples)
			p->t1 = fmax(p->t1, run->samples[run->n_samples - 1].t);
		for (size_t k = 0; k < ly->set.n; k++)
			vmax = fmax(vmax, ly->set.s[k].peak);
		double t, v;
		if (layer_peak(p, ly, &t, &v))
			vmax = fmax(vmax, v);
		n_events += run->n_events;
	}
	if (!(p->t1 > 0))
		p->t1 = 1;
	int rows = (int)fmin(LABEL_ROWS, fmax(1, (p->py1 - p->py0) / ROW_H / 6));
	p->data_top = n_events ? p->py0 + rows * ROW_H + 8 : p->py0 + 8;
	/* room above the peak for its label */
	vmax = vmax > 0 ? vmax * 1.06 : p->o->metric == SERIES_CPU ? 100 : 1024;
	const char *unit_name = "%";
	double unit = 1;
	if (p->o->metric != SERIES_CPU)
		unit = mem_unit(vmax, &unit_name);
	double max_ticks = fmax(2, (p->py1 - p->data_top) / 45);
	double step = nice_step(vmax / unit / max_ticks) * unit;
	p->ymax = ceil(vmax / step) * step;

	draw_header(p);
	size_t spans_skipped = draw_spans(p);
	draw_axes(p, unit_name, unit);
	draw_series(p);
	draw_end_marks(p);
	size_t skipped = draw_events(p, rows);
	draw_peaks(p);
	draw_legend(p, p->px1 + 20, p->w - 10, skipped, spans_skipped);

	bool any = false;
	for (size_t l = 0; l < p->n; l++)
		any |= p->layers[l].set.n && p->layers[l].set.s[0].n;
	if (!any) {
		font(p, 14, false);
		set_rgb(cr, p->th->muted, 1);
		draw_text(p, "no samples in the log", (p->px0 + p->px1) / 2, (p->py0 + p->py1) / 2,
			  0.5);
	}
}

/* ---- the threads of one process (plot --threads) ---- */

/* A colour between c and the background: what a band of a stacked plot is filled with. */
static struct rgb toward_bg(const struct plot *p, struct rgb c, double f)
{
	struct rgb b = p->th->bg;
	return (struct rgb){c.r + (b.r - c.r) * f, c.g + (b.g - c.g) * f, c.b + (b.b - c.b) * f};
}

static void thread_style(const struct plot *p, size_t k, struct rgb *c, double *alpha,
			 double *width, bool *dashed)
{
	const struct series_threads *st = p->threads;
	const struct series *s = &st->set.s[k];
	*dashed = false;
	*alpha = 0.95;
	if (s->kind == SERIES_PROC) { /* the process's RSS: the picture's leading line */
		*c = p->th->tree;
		*alpha = 1;
		*width = 2.4;
	} else if (s->kind == SERIES_HEAP) { /* its heap, the threads' sum */
		*c = p->th->fg;
		*alpha = 0.8;
		*width = 1.8;
		*dashed = true;
	} else if (s->kind == SERIES_OTHER) {
		*c = p->th->other;
		*width = 1.3;
		*dashed = !st->stacked;
	} else {
		*c = palette[(k - st->first) % N_PALETTE];
		*width = st->stacked ? 1 : 1.6;
	}
}

/* The stacked threads: each band filled from its line down to the one below, back to front. */
static void thread_bands(struct plot *p, size_t cols)
{
	cairo_t *cr = p->cr;
	const struct series_threads *st = p->threads;
	for (size_t k = st->set.n; k-- > st->first;) {
		const struct series *s = &st->set.s[k];
		if (!s->n)
			continue;
		struct rgb c;
		double alpha, width;
		bool dashed;
		thread_style(p, k, &c, &alpha, &width, &dashed);
		/* under the whole line, in a lighter colour: the bands below paint over it */
		line_path(p, s, cols);
		cairo_line_to(cr, x_of(p, s->t[s->n - 1]), y_of(p, 0));
		cairo_line_to(cr, x_of(p, s->t[0]), y_of(p, 0));
		cairo_close_path(cr);
		set_rgb(cr, toward_bg(p, c, 0.45), 1);
		cairo_fill(cr);
	}
}

static void thread_lines(struct plot *p)
{
	cairo_t *cr = p->cr;
	const struct series_threads *st = p->threads;
	size_t cols = (size_t)fmax(1, p->px1 - p->px0);
	cairo_save(cr);
	cairo_rectangle(cr, p->px0, p->py0 - 2, p->px1 - p->px0 + 2, p->py1 - p->py0 + 4);
	cairo_clip(cr);
	cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
	if (st->stacked)
		thread_bands(p, cols);
	/* back to front: the threads from the last, then the heap, then the RSS on top */
	for (size_t o = 0; o < st->set.n; o++) {
		size_t k = st->set.n - 1 - o;
		const struct series *s = &st->set.s[k];
		if (!s->n)
			continue;
		struct rgb c;
		double alpha, width;
		bool dashed;
		thread_style(p, k, &c, &alpha, &width, &dashed);
		line_path(p, s, cols);
		set_rgb(cr, c, alpha);
		cairo_set_line_width(cr, width);
		double dash[] = {6, 3};
		cairo_set_dash(cr, dash, dashed ? 2 : 0, 0);
		cairo_stroke(cr);
	}
	cairo_set_dash(cr, NULL, 0, 0);
	cairo_restore(cr);
}

static void add_thread_value(const struct plot *p, struct strbuf *out, double v)
{
	if (p->threads->heap)
		text_bytes(out, (long long)llround(v * 1024));
	else
		strbuf_addf(out, "%.*f%%", v < 9.95 ? 1 : 0, v);
}

struct box {
	double x0, y0, x1, y1;
};

static bool box_free(const struct box *placed, size_t n, struct box b)
{
	for (size_t i = 0; i < n; i++)
		if (b.x0 < placed[i].x1 && placed[i].x0 < b.x1 && b.y0 < placed[i].y1 &&
		    placed[i].y0 < b.y1)
			return false;
	return true;
}

/*
 * Each thread's peak: a dot on its line (stacked: on the top of its band) and a label, its
 * name and value, beside it where it overlaps no other label (tried right and left of the dot,
 * above and below, then further away); a dot without room for its label keeps the dot only.
 */
static void thread_peaks(struct plot *p)
{
	cairo_t *cr = p->cr;
	const struct series_threads *st = p->threads;
	size_t n = st->set.n - st->first;
	struct box *placed = calloc(n ? n : 1, sizeof(*placed));
	if (!placed)
		return;
	size_t n_placed = 0;
	struct strbuf name = STRBUF_INIT, label = STRBUF_INIT;
	for (size_t k = st->first; k < st->set.n; k++) {
		const struct series *s = &st->set.s[k];
		double t, v;
		if (!series_threads_peak(st, p->layers[0].run, k, &t, &v))
			continue;
		double base = st->stacked && k > st->first ? series_at(&st->set.s[k - 1], t) : 0;
		double x = x_of(p, t), y = y_of(p, (base > 0 ? base : 0) + v);
		struct rgb c;
		double alpha, width;
		bool dashed;
		thread_style(p, k, &c, &alpha, &width, &dashed);
		set_rgb(cr, c, 1);
		cairo_new_path(cr);
		cairo_arc(cr, x, y, 4, 0, 2 * M_PI);
		cairo_fill_preserve(cr);
		set_rgb(cr, p->th->bg, 1);
		cairo_set_line_width(cr, 1.2);
		cairo_stroke(cr);
		strbuf_reset(&name);
		if (s->kind == SERIES_THREAD)
			series_thread_name(p->layers[0].run, (size_t)s->thread, &name);
		else
			strbuf_addstr(&name, "other threads");
		font(p, 10, true);
		strbuf_reset(&label);
		strbuf_addstr(&label, fit(p, name.buf, name.len, 150));
		strbuf_addstr(&label, ": peak ");
		add_thread_value(p, &label, v);
		strbuf_addstr(&label, " at ");
		text_secs(&label, t);
		double w = text_w(p, label.buf);
		static const double dy[] = {-7, 16, -21, 30, -35};
		bool done = false;
		for (size_t i = 0; i < sizeof(dy) / sizeof(dy[0]) && !done; i++) {
			for (int side = 0; side < 2 && !done; side++) {
				double tx = side ? x - 8 - w : x + 8, ty = y + dy[i];
				struct box b = {tx - 2, ty - 11, tx + w + 2, ty + 3};
				if (b.x0 < p->px0 || b.x1 > p->px1 || b.y0 < p->py0 ||
				    b.y1 > p->py1 || !box_free(placed, n_placed, b))
					continue;
				placed[n_placed++] = b;
				set_rgb(cr, p->th->bg, 0.8);
				cairo_rectangle(cr, b.x0, b.y0, b.x1 - b.x0, b.y1 - b.y0);
				cairo_fill(cr);
				set_rgb(cr, toward_bg(p, c, -0.25), 1);
				draw_text(p, label.buf, tx, ty, 0);
				done = true;
			}
		}
	}
	strbuf_release(&name);
	strbuf_release(&label);
	free(placed);
}

/* The title (what is drawn, of which process) and the run's command, host and start. */
static void thread_header(struct plot *p)
{
	const struct series_threads *st = p->threads;
	const struct run *run = p->layers[0].run;
	const struct run_proc *proc = &run->procs[st->proc];
	struct strbuf sb = STRBUF_INIT;
	if (p->o->title) {
		strbuf_addstr(&sb, p->o->title);
	} else {
		strbuf_addf(&sb, "%d %s: ", (int)proc->pid, proc->comm);
		if (st->heap)
			strbuf_addstr(&sb, "the live heap of its threads");
		else
			strbuf_addstr(&sb, "CPU of its threads (% of one core)");
		if (st->heap || series_threads_have_heap(run, st->proc)) {
			/* the heap drawn, or CPU asked for (--metric cpu) */
		} else if (run->header.heap == HEAP_OFF) {
			strbuf_addstr(&sb,
				      ": no heap data, record with --heap for each thread's heap");
		} else {
			strbuf_addstr(&sb, ": its heap was not counted");
			if (proc->heap_why)
				strbuf_addf(&sb, " (%s)", proc->heap_why);
		}
	}
	font(p, 16, true);
	set_rgb(p->cr, p->th->fg, 1);
	draw_text(p, fit(p, sb.buf ? sb.buf : "", sb.len, p->w - 24), 12, 24, 0);
	strbuf_reset(&sb);
	strbuf_addf(&sb, "%zu thread%s%s · ", st->n_threads, st->n_threads == 1 ? "" : "s",
		    st->heap ? (st->stacked ? ", stacked, with its heap and RSS"
					    : ", with its heap and RSS")
			     : (st->stacked ? ", stacked" : ""));
	run_command(run, &sb);
	if (run->header.host)
		strbuf_addf(&sb, " · %s", run->header.host);
	if (run->header.start_iso)
		strbuf_addf(&sb, " · %s", run->header.start_iso);
	font(p, 11, false);
	set_rgb(p->cr, p->th->muted, 1);
	draw_text(p, fit(p, sb.buf, sb.len, p->w - 24), 12, 42, 0);
	strbuf_release(&sb);
}

/* The legend: the process's lines, each thread's (its peak), "other threads"; how it ended. */
static void thread_legend(struct plot *p, double x0, double x1)
{
	const struct series_threads *st = p->threads;
	const struct run *run = p->layers[0].run;
	if (x1 - x0 < 60 || !st->set.n)
		return;
	struct entry *es = calloc(st->set.n, sizeof(*es));
	if (!es)
		return;
	for (size_t k = 0; k < st->set.n; k++) {
		const struct series *s = &st->set.s[k];
		struct entry *e = &es[k];
		thread_style(p, k, &e->c, &e->alpha, &e->width, &e->dashed);
		if (st->stacked && k >= st->first)
			e->width = 6;
		if (s->kind == SERIES_PROC) {
			strbuf_addstr(&e->text, "RSS of the process");
		} else if (s->kind == SERIES_HEAP) {
			strbuf_addstr(&e->text, "its live heap (all threads)");
		} else {
			if (s->kind == SERIES_THREAD)
				series_thread_name(run, (size_t)s->thread, &e->text);
			else
				strbuf_addf(&e->text, "other threads (%zu)", st->set.n_rest);
			double t, v;
			if (series_threads_peak(st, run, k, &t, &v)) {
				strbuf_addstr(&e->text, ", peak ");
				add_thread_value(p, &e->text, v);
			}
		}
	}
	double y = legend_rows(p, es, st->set.n, x0, x1);
	legend_endings(p, x0, x1, y + ROW_H * 1.5);
	for (size_t k = 0; k < st->set.n; k++) {
		strbuf_release(&es[k].text);
		strbuf_release(&es[k].sub);
	}
	free(es);
}

static void draw_threads(struct plot *p)
{
	const struct series_threads *st = p->threads;
	const struct run *run = p->layers[0].run;
	plot_area(p);
	p->t1 = run->duration;
	if (run->n_samples)
		p->t1 = fmax(p->t1, run->samples[run->n_samples - 1].t);
	if (!(p->t1 > 0))
		p->t1 = 1;
	double vmax = 0, t, v;
	for (size_t k = 0; k < st->set.n; k++) {
		vmax = fmax(vmax, st->set.s[k].peak);
		if (!st->stacked && series_threads_peak(st, run, k, &t, &v))
			vmax = fmax(vmax, v);
	}
	p->data_top = p->py0 + 8;
	vmax = vmax > 0 ? vmax * 1.06 : st->heap ? 1024 : 100;
	const char *unit_name = "%";
	double unit = 1;
	if (st->heap)
		unit = mem_unit(vmax, &unit_name);
	double max_ticks = fmax(2, (p->py1 - p->data_top) / 45);
	double step = nice_step(vmax / unit / max_ticks) * unit;
	p->ymax = ceil(vmax / step) * step;

	thread_header(p);
	draw_axes(p, unit_name, unit);
	thread_lines(p);
	thread_peaks(p);
	thread_legend(p, p->px1 + 20, p->w - 10);
	size_t points = 0;
	for (size_t k = 0; k < st->set.n; k++)
		points += st->set.s[k].n;
	if (!points) {
		font(p, 14, false);
		set_rgb(p->cr, p->th->muted, 1);
		draw_text(p, "no thread numbers in the log", (p->px0 + p->px1) / 2,
			  (p->py0 + p->py1) / 2, 0.5);
	}
}

/* ---- output ---- */

static cairo_status_t write_buf(void *closure, const unsigned char *data, unsigned int len)
{
	struct strbuf *sb = closure;
	strbuf_add(sb, data, len);
	return sb->oom ? CAIRO_STATUS_NO_MEMORY : CAIRO_STATUS_SUCCESS;
}

/* The SVG cairo wrote, with the text layer put in before its closing tag; false when OOM. */
static bool svg_with_text(const struct plot *p, const struct strbuf *svg, struct strbuf *out)
{
	const char *end = svg->buf ? strstr(svg->buf, "</svg>") : NULL;
	for (const char *s = end; s; s = strstr(s + 1, "</svg>"))
		end = s;
	if (!end || p->svg.oom)
		return false;
	size_t head = (size_t)(end - svg->buf);
	strbuf_add(out, svg->buf, head);
	strbuf_addstr(out, "<g id=\"memline-text\" fill=\"none\" fill-opacity=\"0\" "
			   "font-family=\"DejaVu Sans, sans-serif\">\n");
	if (p->svg.len)
		strbuf_add(out, p->svg.buf, p->svg.len);
	strbuf_addstr(out, "</g>\n");
	strbuf_add(out, end, svg->len - head);
	return !out->oom;
}

/* Sets p up for the n inputs: sizes, theme, and a layer each with its lines and label. */
static int plot_layers(struct plot *p, const struct plot_input *in, size_t n,
		       const struct plot_options *o, enum plot_format format)
{
	p->o = o;
	p->format = format;
	p->th = o->dark ? &dark : &light;
	p->w = o->width > 0 ? o->width : DEFAULT_WIDTH;
	p->h = o->height > 0 ? o->height : DEFAULT_HEIGHT;
	p->n = n;
	p->layers = calloc(n, sizeof(*p->layers));
	size_t cols = (size_t)p->w;
	p->dt = malloc(series_decimate_cap(cols) * sizeof(*p->dt));
	p->dv = malloc(series_decimate_cap(cols) * sizeof(*p->dv));
	if (!p->layers || !p->dt || !p->dv)
		return -1;
	for (size_t l = 0; l < n; l++) {
		p->layers[l].run = in[l].run;
		p->layers[l].path = in[l].path;
		p->layers[l].color = l == 0 ? p->th->tree : palette[(l - 1) % N_PALETTE];
		if (!o->threads && series_set_build(&p->layers[l].set, in[l].run, o->metric,
						    o->top < 0 ? 0 : o->top) < 0)
			return -1;
		p->layers[l].tree_is_proc = series_tree_is_only_proc(&p->layers[l].set);
	}
	struct strbuf *labels = calloc(n, sizeof(*labels));
	if (!labels)
		return -1;
	plot_labels(in, n, labels);
	bool labels_oom = false;
	for (size_t l = 0; l < n; l++) {
		labels_oom |= labels[l].oom;
		p->layers[l].label = labels[l];
	}
	free(labels);
	return labels_oom ? -1 : 0;
}

/*
 * plot --threads: the lines of the process o asks for (else series_threads_default's) into
 * st, stacked with o->stacked. Returns -1 with a message in err.
 */
static int plot_threads_lines(struct series_threads *st, const struct plot_input *in, size_t n,
			      const struct plot_options *o, struct strbuf *err)
{
	const struct run *run = in[0].run;
	if (n != 1) {
		strbuf_addstr(err, "plot --threads draws the threads of one log");
		return -1;
	}
	int proc = o->pid > 0 ? run_proc_by_pid(run, o->pid) : series_threads_default(run);
	if (proc < 0) {
		if (o->pid > 0)
			strbuf_addf(err, "no process %d in the log", (int)o->pid);
		else
			strbuf_addstr(err, "no process of the log had more than one thread or heap "
					   "numbers");
		return -1;
	}
	int top = o->thread_top > 0 ? o->thread_top : PLOT_THREADS_TOP;
	if (series_threads_build(st, run, proc, o->metric, top) < 0 ||
	    (o->stacked && series_threads_stack(st) < 0)) {
		strbuf_addstr(err, "out of memory");
		return -1;
	}
	if (!st->n_threads) {
		strbuf_addf(err,
			    "process %d had one thread all its life: its numbers are the "
			    "process's own (memline plot draws them)",
			    (int)run->procs[proc].pid);
		return -1;
	}
	return 0;
}

int plot_cairo(const struct plot_input *in, size_t n, const struct plot_options *o,
	       enum plot_format format, struct strbuf *out, struct strbuf *err)
{
	struct plot p = {0};
	struct series_threads threads = {.proc = -1};
	struct strbuf svg_out = STRBUF_INIT;
	cairo_surface_t *surface = NULL;
	int ret = -1;
	if (!n) {
		strbuf_addstr(err, "no log to plot");
		return -1;
	}
	if (plot_layers(&p, in, n, o, format) < 0)
		goto oom;
	if (o->threads && plot_threads_lines(&threads, in, n, o, err) < 0)
		goto out;
	if (o->threads)
		p.threads = &threads;

	switch (format) {
	case PLOT_PNG:
		surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)p.w, (int)p.h);
		break;
	case PLOT_SVG:
		surface = cairo_svg_surface_create_for_stream(write_buf, &svg_out, p.w, p.h);
		break;
	case PLOT_PDF:
		surface = cairo_pdf_surface_create_for_stream(write_buf, out, p.w, p.h);
		break;
	default:
		strbuf_addstr(err, "cairo draws PNG, SVG and PDF only");
		goto out;
	}
	if (cairo_surface_status(surface) != CAIRO_STATUS_SUCCESS) {
		strbuf_addf(err, "cannot draw: %s",
			    cairo_status_to_string(cairo_surface_status(surface)));
		goto out;
	}
	if (format == PLOT_PDF) {
		cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATOR, "memline");
	}
	p.cr = cairo_create(surface);
	if (p.threads)
		draw_threads(&p);
	else
		draw(&p);
	cairo_status_t st = cairo_status(p.cr);
	cairo_destroy(p.cr);
	p.cr = NULL;
	if (st == CAIRO_STATUS_SUCCESS && format == PLOT_PNG &&
	    plot_png_write(surface, out, err) < 0)
		goto out;
	cairo_surface_finish(surface);
	if (st == CAIRO_STATUS_SUCCESS)
		st = cairo_surface_status(surface);
	if (st == CAIRO_STATUS_SUCCESS && format == PLOT_SVG && !svg_with_text(&p, &svg_out, out))
		st = CAIRO_STATUS_NO_MEMORY;
	if (st == CAIRO_STATUS_NO_MEMORY || out->oom)
		goto oom;
	if (st != CAIRO_STATUS_SUCCESS) {
		strbuf_addf(err, "cannot draw the plot: %s", cairo_status_to_string(st));
		goto out;
	}
	ret = 0;
	goto out;
oom:
	strbuf_addstr(err, "out of memory");
out:
	if (p.cr)
		cairo_destroy(p.cr);
	if (surface)
		cairo_surface_destroy(surface);
	for (size_t l = 0; p.layers && l < n; l++) {
		series_set_release(&p.layers[l].set);
		strbuf_release(&p.layers[l].label);
	}
	free(p.layers);
	free(p.dt);
	free(p.dv);
	series_threads_release(&threads);
	strbuf_release(&p.tmp);
	strbuf_release(&p.svg);
	strbuf_release(&svg_out);
	return ret;
}
