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
 * the room it has, measured in the font. The text helpers, scales, axes, legend rows and the
 * surface (PNG, SVG with its text layer, PDF, made in memory) are plot-draw.c's, shared with
 * the plot of a job (plot-job.c).
 */
#include "render/plot.h"

#include <cairo.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render/plot-draw.h"
#include "render/report.h"
#include "util/text.h"
#include "model/series.h"

#define LABEL_ROWS 4 /* rows of event labels at the top of the plot area */
#define SPAN_ROWS  3 /* rows of span names along the bottom of the plot area */

struct layer {
	const struct run *run;
	const char *path;
	struct strbuf label; /* plot_labels': what tells it from the other layers */
	struct series_set set;
	struct rgb color;  /* the tree's line */
	bool tree_is_proc; /* the tree's line is its only process's (series_tree_is_only_proc) */
};

/* ---- parts of the picture ---- */

static void draw_header(struct plot *p)
{
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
	plot_heading(p, &cmd, 0);

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
	plot_heading(p, &cmd, 1);
	strbuf_release(&cmd);
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
		plot_font(p, 10, false);
		for (k = 0; k < total; k++) {
			const struct layer *ly = &p->layers[refs[k].layer];
			const struct run_span *s = &ly->run->spans[refs[k].i];
			struct rgb c = p->n > 1 ? ly->color : p->th->span;
			int depth = s->depth < 0 ? 0 : s->depth > 2 ? 2 : s->depth;
			double x0 = plot_x(p, fmax(0, s->start)),
			       x1 = plot_x(p, fmin(p->t1, s->end));
			if (x1 < x0) {
				skipped += pass;
				continue;
			}
			if (x1 - x0 < 1)
				x1 = x0 + 1;
			if (pass == 0) {
				plot_rgb(cr, c, (p->n > 1 ? 0.035 : 0.06) + 0.03 * depth);
				cairo_rectangle(cr, x0, p->py0, x1 - x0, p->py1 - p->py0);
				cairo_fill(cr);
				plot_rgb(cr, c, 0.35);
				cairo_set_line_width(cr, 0.8);
				cairo_move_to(cr, x0, p->py0);
				cairo_line_to(cr, x0, p->py1);
				cairo_stroke(cr);
				continue;
			}
			const char *name =
				x1 - x0 < 14 ? "" : plot_fit(p, s->name, s->name_len, x1 - x0 - 6);
			double w = *name ? plot_text_w(p, name) : 0;
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
			plot_rgb(cr, p->th->bg, 0.7);
			cairo_rectangle(cr, x0 + 2, y - 10, w + 2, 13);
			cairo_fill(cr);
			plot_rgb(cr, c, 1);
			plot_text(p, name, x0 + 3, y, 0);
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
		*c = s->kind == SERIES_OTHER ? p->th->other
					     : plot_palette[(i - 1) % PLOT_N_PALETTE];
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
	cairo_move_to(cr, plot_x(p, p->dt[0]), plot_y(p, p->dv[0]));
	for (size_t j = 1; j < m; j++)
		cairo_line_to(cr, plot_x(p, p->dt[j]), plot_y(p, p->dv[j]));
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
	plot_rgb(cr, c, alpha);
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
	double prev_y = -1e9;
	for (size_t l = 0; l < p->n; l++) {
		const struct layer *ly = &p->layers[l];
		double t, v;
		if (!layer_peak(p, ly, &t, &v))
			continue;
		strbuf_reset(&p->tmp);
		strbuf_addstr(&p->tmp, "peak ");
		add_value(p, &p->tmp, v);
		strbuf_addstr(&p->tmp, " at ");
		text_secs(&p->tmp, t);
		plot_peak_mark(p, plot_x(p, t), plot_y(p, v), ly->color, p->tmp.buf, &prev_y);
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
	plot_font(p, 10.5, false);
	for (size_t i = 0; i < total; i++) {
		const struct layer *ly = &p->layers[evs[i].layer];
		const struct run_event *e = evs[i].e;
		if (e->t < 0 || e->t > p->t1) {
			skipped++;
			continue;
		}
		double x = plot_x(p, e->t);
		double y = ly->set.n && ly->set.s[0].n ? plot_y(p, series_at(&ly->set.s[0], e->t))
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
				label = plot_fit(p, e->label, e->label_len,
						 fmin(220, p->px1 - p->px0));
			if (!*label)
				break;
			double w = plot_text_w(p, label);
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
			double ly_ = p->py0 + 11 + row * PLOT_ROW_H;
			plot_rgb(cr, c, 0.45);
			cairo_set_line_width(cr, 0.8);
			double dash[] = {2, 2};
			cairo_set_dash(cr, dash, 2, 0);
			cairo_move_to(cr, round(x) + 0.5, ly_ + 3);
			cairo_line_to(cr, round(x) + 0.5, y);
			cairo_stroke(cr);
			cairo_set_dash(cr, NULL, 0, 0);
			plot_rgb(cr, p->th->bg, 0.7);
			cairo_rectangle(cr, lx - 1, ly_ - 10, plot_text_w(p, label) + 2, 13);
			cairo_fill(cr);
			plot_rgb(cr, c, 1);
			plot_text(p, label, lx, ly_, 0);
		} else {
			skipped++;
		}
		plot_rgb(cr, p->th->bg, 1);
		cairo_new_path(cr);
		cairo_arc(cr, x, y, 3.5, 0, 2 * M_PI);
		cairo_fill_preserve(cr);
		plot_rgb(cr, c, 1);
		cairo_set_line_width(cr, 1.5);
		cairo_stroke(cr);
	}
	free(evs);
	return skipped;
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
	for (size_t l = 0; l < p->n; l++) {
		const struct layer *ly = &p->layers[l];
		if (!plot_bad_end(ly->run->status) || !ly->set.n || !ly->set.s[0].n)
			continue;
		const struct series *s = &ly->set.s[0];
		plot_cross(p, plot_x(p, s->t[s->n - 1]), plot_y(p, s->v[s->n - 1]));
	}
}

/*
 * The legend's entries, into a new array *out (NULL when out of memory): one a run when runs
 * overlay (its label whole, wrapped to width: it is what tells them apart; then its log and
 * command), else one a line of the single run. Returns how many.
 */
static size_t legend_entries(struct plot *p, double width, struct plot_entry **out)
{
	size_t max_entries = 1, n = 0;
	for (size_t l = 0; l < p->n; l++)
		max_entries += p->n > 1 ? 1 : p->layers[l].set.n;
	struct plot_entry *es = *out = calloc(max_entries, sizeof(*es));
	for (size_t l = 0; es && l < p->n; l++) {
		const struct layer *ly = &p->layers[l];
		if (p->n > 1) {
			struct plot_entry *e = &es[n++];
			e->c = ly->color;
			e->alpha = 1;
			e->width = 2.6;
			plot_font(p, 10.5, true);
			e->lines = plot_wrap(p, ly->label.buf ? ly->label.buf : "", ly->label.len,
					     width, PLOT_LABEL_LINES, &e->text);
			const char *base = ly->path ? strrchr(ly->path, '/') : NULL;
			strbuf_addf(&e->sub, "%s: ", base ? base + 1 : ly->path ? ly->path : "?");
			run_command(ly->run, &e->sub);
			continue;
		}
		for (size_t k = 0; k < ly->set.n; k++) {
			const struct series *s = &ly->set.s[k];
			struct plot_entry *e = &es[n++];
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
		plot_font(p, 11, plot_bad_end(run->status));
		double x = x0;
		if (p->n > 1) {
			plot_rgb(cr, p->layers[l].color, 1);
			cairo_rectangle(cr, x0, y - 8, 8, 8);
			cairo_fill(cr);
			x += 12;
		}
		plot_rgb(cr, plot_bad_end(run->status) ? p->th->bad : p->th->fg, 1);
		plot_text(p, plot_fit(p, line.buf, line.len, x1 - x), x, y, 0);
		strbuf_release(&line);
		y += PLOT_ROW_H;
	}
}

/* Under the plot area, at its right: the events and spans left without a label. */
static void legend_unlabelled(struct plot *p, size_t events, size_t spans)
{
	if (!events && !spans)
		return;
	plot_font(p, 10.5, false);
	plot_rgb(p->cr, p->th->muted, 1);
	strbuf_reset(&p->tmp);
	if (events)
		strbuf_addf(&p->tmp, "+%zu event%s", events, events == 1 ? "" : "s");
	if (spans)
		strbuf_addf(&p->tmp, "%s+%zu span%s", events ? ", " : "", spans,
			    spans == 1 ? "" : "s");
	strbuf_addstr(&p->tmp, " not labelled");
	plot_text(p, p->tmp.buf, p->px1, p->py1 + 32, 1);
}

/* The legend, between x0 and x1 right of the plot area: its lines, then how the runs ended. */
static void draw_legend(struct plot *p, double x0, double x1, size_t skipped_events,
			size_t skipped_spans)
{
	if (x1 - x0 < 60)
		return;
	struct plot_entry *es;
	size_t n = legend_entries(p, x1 - x0 - 28, &es);
	if (!es)
		return;
	double y = plot_legend_rows(p, es, n, x0, x1, p->n + 2);
	if (p->n > 1 && p->o->top > 0) {
		y += PLOT_ROW_H;
		struct strbuf note = STRBUF_INIT; /* plot_fit() writes into p->tmp */
		strbuf_addf(&note, "faint: top %d processes of each", p->o->top);
		plot_text(p, plot_fit(p, note.buf, note.len, x1 - x0), x0, y, 0);
		strbuf_release(&note);
	}
	legend_endings(p, x0, x1, y + PLOT_ROW_H * 1.5);
	legend_unlabelled(p, skipped_events, skipped_spans);
	plot_entries_free(es, n);
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
	int rows = (int)fmin(LABEL_ROWS, fmax(1, (p->py1 - p->py0) / PLOT_ROW_H / 6));
	p->data_top = n_events ? p->py0 + rows * PLOT_ROW_H + 8 : p->py0 + 8;
	const char *unit_name;
	double unit = plot_scale_y(p, vmax, p->o->metric == SERIES_CPU, &unit_name);

	draw_header(p);
	size_t spans_skipped = draw_spans(p);
	plot_axes(p, unit_name, unit, "time since start");
	draw_series(p);
	draw_end_marks(p);
	size_t skipped = draw_events(p, rows);
	draw_peaks(p);
	draw_legend(p, p->px1 + 20, p->w - 10, skipped, spans_skipped);

	bool any = false;
	for (size_t l = 0; l < p->n; l++)
		any |= p->layers[l].set.n && p->layers[l].set.s[0].n;
	if (!any) {
		plot_font(p, 14, false);
		plot_rgb(cr, p->th->muted, 1);
		plot_text(p, "no samples in the log", (p->px0 + p->px1) / 2, (p->py0 + p->py1) / 2,
			  0.5);
	}
}

/* ---- the threads of one process (plot --threads) ---- */

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
		*c = plot_palette[(k - st->first) % PLOT_N_PALETTE];
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
		cairo_line_to(cr, plot_x(p, s->t[s->n - 1]), plot_y(p, 0));
		cairo_line_to(cr, plot_x(p, s->t[0]), plot_y(p, 0));
		cairo_close_path(cr);
		plot_rgb(cr, plot_toward_bg(p, c, 0.45), 1);
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
		plot_rgb(cr, c, alpha);
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
	struct plot_box *placed = calloc(n ? n : 1, sizeof(*placed));
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
		double x = plot_x(p, t), y = plot_y(p, (base > 0 ? base : 0) + v);
		struct rgb c;
		double alpha, width;
		bool dashed;
		thread_style(p, k, &c, &alpha, &width, &dashed);
		plot_rgb(cr, c, 1);
		cairo_new_path(cr);
		cairo_arc(cr, x, y, 4, 0, 2 * M_PI);
		cairo_fill_preserve(cr);
		plot_rgb(cr, p->th->bg, 1);
		cairo_set_line_width(cr, 1.2);
		cairo_stroke(cr);
		strbuf_reset(&name);
		if (s->kind == SERIES_THREAD)
			series_thread_name(p->layers[0].run, (size_t)s->thread, &name);
		else
			strbuf_addstr(&name, "other threads");
		plot_font(p, 10, true);
		strbuf_reset(&label);
		strbuf_addstr(&label, plot_fit(p, name.buf, name.len, 150));
		strbuf_addstr(&label, ": peak ");
		add_thread_value(p, &label, v);
		strbuf_addstr(&label, " at ");
		text_secs(&label, t);
		double w = plot_text_w(p, label.buf);
		static const double dy[] = {-7, 16, -21, 30, -35};
		bool done = false;
		for (size_t i = 0; i < sizeof(dy) / sizeof(dy[0]) && !done; i++) {
			for (int side = 0; side < 2 && !done; side++) {
				double tx = side ? x - 8 - w : x + 8, ty = y + dy[i];
				struct plot_box b = {tx - 2, ty - 11, tx + w + 2, ty + 3};
				if (b.x0 < p->px0 || b.x1 > p->px1 || b.y0 < p->py0 ||
				    b.y1 > p->py1 || !plot_box_free(placed, n_placed, b))
					continue;
				placed[n_placed++] = b;
				plot_rgb(cr, p->th->bg, 0.8);
				cairo_rectangle(cr, b.x0, b.y0, b.x1 - b.x0, b.y1 - b.y0);
				cairo_fill(cr);
				plot_rgb(cr, plot_toward_bg(p, c, -0.25), 1);
				plot_text(p, label.buf, tx, ty, 0);
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
	plot_heading(p, &sb, 0);
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
	plot_heading(p, &sb, 1);
	strbuf_release(&sb);
}

/* The legend: the process's lines, each thread's (its peak), "other threads"; how it ended. */
static void thread_legend(struct plot *p, double x0, double x1)
{
	const struct series_threads *st = p->threads;
	const struct run *run = p->layers[0].run;
	if (x1 - x0 < 60 || !st->set.n)
		return;
	struct plot_entry *es = calloc(st->set.n, sizeof(*es));
	if (!es)
		return;
	for (size_t k = 0; k < st->set.n; k++) {
		const struct series *s = &st->set.s[k];
		struct plot_entry *e = &es[k];
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
	double y = plot_legend_rows(p, es, st->set.n, x0, x1, p->n + 2);
	legend_endings(p, x0, x1, y + PLOT_ROW_H * 1.5);
	plot_entries_free(es, st->set.n);
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
	const char *unit_name;
	double unit = plot_scale_y(p, vmax, !st->heap, &unit_name);

	thread_header(p);
	plot_axes(p, unit_name, unit, "time since start");
	thread_lines(p);
	thread_peaks(p);
	thread_legend(p, p->px1 + 20, p->w - 10);
	size_t points = 0;
	for (size_t k = 0; k < st->set.n; k++)
		points += st->set.s[k].n;
	if (!points) {
		plot_font(p, 14, false);
		plot_rgb(p->cr, p->th->muted, 1);
		plot_text(p, "no thread numbers in the log", (p->px0 + p->px1) / 2,
			  (p->py0 + p->py1) / 2, 0.5);
	}
}

/* Sets p up for the n inputs: sizes, theme, and a layer each with its lines and label. */
static int plot_layers(struct plot *p, const struct plot_input *in, size_t n,
		       const struct plot_options *o, enum plot_format format)
{
	plot_setup(p, o, format);
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
		p->layers[l].color = l == 0 ? p->th->tree : plot_palette[(l - 1) % PLOT_N_PALETTE];
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

static void draw_runs(struct plot *p, void *data)
{
	(void)data;
	if (p->threads)
		draw_threads(p);
	else
		draw(p);
}

int plot_cairo(const struct plot_input *in, size_t n, const struct plot_options *o,
	       enum plot_format format, struct strbuf *out, struct strbuf *err)
{
	struct plot p = {0};
	struct series_threads threads = {.proc = -1};
	int ret = -1;
	if (!n) {
		strbuf_addstr(err, "no log to plot");
		return -1;
	}
	if (plot_layers(&p, in, n, o, format) < 0) {
		strbuf_addstr(err, "out of memory");
		goto out;
	}
	if (o->threads && plot_threads_lines(&threads, in, n, o, err) < 0)
		goto out;
	if (o->threads)
		p.threads = &threads;
	ret = plot_render(&p, draw_runs, NULL, out, err);
out:
	for (size_t l = 0; p.layers && l < n; l++) {
		series_set_release(&p.layers[l].set);
		strbuf_release(&p.layers[l].label);
	}
	free(p.layers);
	free(p.dt);
	free(p.dv);
	series_threads_release(&threads);
	plot_release(&p);
	return ret;
}
