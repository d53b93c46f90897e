/*
 * plot-job: the picture of many logs as one job (plot.h has the contract; model/job.h the
 * data), as PNG, SVG or PDF in the layout of the other plots (plot-draw.c: header rows, axes,
 * the legend panel, the SVG's text layer). The time axis is the job's clock: seconds from the
 * earliest log's start, whose wall clock (UTC) the subtitle gives.
 *
 * Panels one under the other, each on a value scale of its own (a job's total is the sum of
 * its nodes, a node's of its ranks: on one scale 1000 ranks would lie flat at the foot): the
 * job's memory, thick, with its peak (a ring and its value); its nodes, each a dashed line up
 * to PLOT_JOB_NODE_LINES, else the band across them and their median; its ranks, each a line up
 * to PLOT_JOB_RANK_LINES, else the band across them (filled), their median and the top ranks by
 * peak. A panel's bands go under its lines. When the job did not complete, a cross marks where
 * its worst log ended, named ("rank 2 oom-killed"). A bin a line has no value in (-1: no log
 * alive there) is a gap, never a zero.
 *
 * Every line is the job's grid (at most JOB_BINS bins, each the highest its log saw in it), so
 * a line costs O(bins) however long the logs were, and the picture O(bins) a line drawn: for
 * 1000 ranks, the band, the median and the top ranks, not 1000 lines. The band across nodes
 * is computed here, a sort of the nodes' values in each bin: O(bins x nodes log nodes), once.
 * Names from the logs go through text_escape (plot_fit) like every text from a log.
 */
#include "render/plot.h"

#include <math.h>
#include <stdlib.h>

#include "model/job.h"
#include "render/plot-draw.h"
#include "render/report.h"
#include "util/text.h"

/* The panels, top to bottom, each on a scale of its own: the job, its nodes, its ranks. */
enum { PANEL_JOB, PANEL_NODES, PANEL_RANKS, N_PANELS };

/* One line (or band) of the picture, in the legend's order. */
struct job_line {
	const long long *v;  /* the job's n_bins values, KiB; -1 a gap */
	const long long *lo; /* a band: its lowest values, v its highest; else NULL */
	struct rgb c;
	double alpha, width;
	bool dashed;
	int panel;
	long log;	  /* a log's line: its index into job->logs; else -1 */
	long node;	  /* a node's line: its index into job->nodes; else -1 */
	const char *what; /* the legend's text of the others */
};

struct panel {
	double py0, py1, data_top, ymax; /* where it is, as struct plot has them */
	bool shown;
};

struct job_plot {
	struct plot p;
	const struct job *job;
	struct job_line *lines;
	size_t n_lines;
	struct panel panels[N_PANELS];
	double area_top, area_bottom;		    /* the plot area the panels share */
	long long *node_lo, *node_median, *node_hi; /* across nodes, when drawn as a band */
	size_t n_rank_logs;			    /* the logs in the band (job_log.in_band) */
};

void plot_job_title(const struct job *job, struct strbuf *out)
{
	strbuf_addstr(out, "job");
	if (job->job_id)
		strbuf_addf(out, " %s", job->job_id);
	if (job->n_ranks)
		strbuf_addf(out, ": %zu rank%s", job->n_ranks, job->n_ranks == 1 ? "" : "s");
	else
		strbuf_addf(out, ": %zu log%s", job->n_logs, job->n_logs == 1 ? "" : "s");
	strbuf_addf(out, " on %zu node%s", job->n_nodes, job->n_nodes == 1 ? "" : "s");
}

/* ---- the lines ---- */

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return (x > y) - (x < y);
}

int plot_job_node_band(const struct job *job, long long **lo, long long **median, long long **hi)
{
	size_t nb = job->n_bins ? job->n_bins : 1;
	*lo = malloc(nb * sizeof(**lo));
	*median = malloc(nb * sizeof(**median));
	*hi = malloc(nb * sizeof(**hi));
	long long *vals = malloc((job->n_nodes ? job->n_nodes : 1) * sizeof(*vals));
	if (!*lo || !*median || !*hi || !vals) {
		free(vals);
		return -1;
	}
	for (size_t b = 0; b < job->n_bins; b++) {
		size_t n = 0;
		for (size_t k = 0; k < job->n_nodes; k++)
			if (job->nodes[k].series[b] >= 0)
				vals[n++] = job->nodes[k].series[b];
		if (!n) {
			(*lo)[b] = (*median)[b] = (*hi)[b] = -1;
			continue;
		}
		qsort(vals, n, sizeof(*vals), cmp_ll);
		(*lo)[b] = vals[0];
		(*hi)[b] = vals[n - 1];
		(*median)[b] = n % 2 ? vals[n / 2] : (vals[n / 2 - 1] + vals[n / 2]) / 2;
	}
	free(vals);
	return 0;
}

static struct job_line *add_line(struct job_plot *jp, int panel, const long long *v, struct rgb c,
				 double alpha, double width)
{
	struct job_line *l = &jp->lines[jp->n_lines++];
	*l = (struct job_line){.v = v,
			       .c = c,
			       .alpha = alpha,
			       .width = width,
			       .panel = panel,
			       .log = -1,
			       .node = -1};
	jp->panels[panel].shown = true;
	return l;
}

/* The ranks drawn as lines: all of them when few, else the top by peak. */
static size_t rank_lines(const struct job_plot *jp)
{
	const struct job *job = jp->job;
	if (job->n_by_peak <= PLOT_JOB_RANK_LINES)
		return job->n_by_peak;
	int top = jp->p.o->rank_top ? jp->p.o->rank_top : PLOT_JOB_TOP;
	return top < 0 ? 0 : (size_t)top < job->n_by_peak ? (size_t)top : job->n_by_peak;
}

/*
 * What the picture draws, in the legend's order: the job; its nodes when it has several (each,
 * or their band and median); its ranks when it has several (each, or their band, median and
 * top ranks). A job of one node and one rank is its total alone. Returns -1 out of memory.
 */
static int job_lines(struct job_plot *jp)
{
	const struct job *job = jp->job;
	const struct theme *th = jp->p.th;
	for (size_t i = 0; i < job->n_logs; i++)
		jp->n_rank_logs += job->logs[i].in_band;
	bool node_lines = job->n_nodes > 1 && job->n_nodes <= PLOT_JOB_NODE_LINES;
	bool nodes_band = job->n_nodes > PLOT_JOB_NODE_LINES;
	bool ranks_band = job->n_by_peak > PLOT_JOB_RANK_LINES;
	size_t ranks = job->n_by_peak > 1 ? rank_lines(jp) : 0;
	if (!(jp->lines = calloc(3 + (node_lines ? job->n_nodes : 2) + ranks, sizeof(*jp->lines))))
		return -1;
	if (nodes_band && plot_job_node_band(job, &jp->node_lo, &jp->node_median, &jp->node_hi) < 0)
		return -1;
	add_line(jp, PANEL_JOB, job->total, th->tree, 1, 2.8)->what = "the job's memory";
	size_t colour = 0;
	if (node_lines) {
		for (size_t k = 0; k < job->n_nodes; k++) {
			struct job_line *l =
				add_line(jp, PANEL_NODES, job->nodes[k].series,
					 plot_palette[colour++ % PLOT_N_PALETTE], 0.9, 1.6);
			l->dashed = true;
			l->node = (long)k;
		}
	} else if (nodes_band) {
		struct job_line *l = add_line(jp, PANEL_NODES, jp->node_hi, th->other, 0.22, 8);
		l->lo = jp->node_lo;
		l->what = "nodes: lowest to highest";
		l = add_line(jp, PANEL_NODES, jp->node_median, th->fg, 0.75, 1.2);
		l->dashed = true;
		l->what = "nodes: median";
	}
	if (ranks_band) {
		struct job_line *l = add_line(jp, PANEL_RANKS, job->rank_max, th->tree, 0.2, 8);
		l->lo = job->rank_min;
		l->what = job->n_ranks ? "ranks: lowest to highest" : "logs: lowest to highest";
		add_line(jp, PANEL_RANKS, job->rank_median, th->fg, 0.75, 1.2)->what =
			job->n_ranks ? "ranks: median" : "logs: median";
	}
	for (size_t i = 0; i < ranks; i++) /* colours after the nodes' */
		add_line(jp, PANEL_RANKS, job->logs[job->by_peak[i]].series,
			 plot_palette[colour++ % PLOT_N_PALETTE], 0.95, 1.5)
			->log = (long)job->by_peak[i];
	return 0;
}

/* ---- drawing ---- */

/* Makes the scales p draws with those of panel k. */
static void use_panel(struct job_plot *jp, int k)
{
	const struct panel *pn = &jp->panels[k];
	jp->p.py0 = pn->py0;
	jp->p.py1 = pn->py1;
	jp->p.data_top = pn->data_top;
	jp->p.ymax = pn->ymax;
}

/* Appends to the path the bins from..to of v (all with values), left to right or back. */
static void bins_path(struct plot *p, const struct job *job, const long long *v, size_t from,
		      size_t to, bool reverse, bool join)
{
	for (size_t k = 0; k + from <= to; k++) {
		size_t b = reverse ? to - k : from + k;
		double x = plot_x(p, (double)b * job->bin), y = plot_y(p, (double)v[b]);
		if (k || join)
			cairo_line_to(p->cr, x, y);
		else
			cairo_move_to(p->cr, x, y);
	}
}

/* The next run of bins from *b on where v (and lo, for a band) has values: [from, to]. */
static bool next_run(const struct job *job, const long long *v, const long long *lo, size_t *b,
		     size_t *from, size_t *to)
{
	while (*b < job->n_bins && (v[*b] < 0 || (lo && lo[*b] < 0)))
		(*b)++;
	if (*b >= job->n_bins)
		return false;
	*from = *b;
	while (*b < job->n_bins && v[*b] >= 0 && (!lo || lo[*b] >= 0))
		(*b)++;
	*to = *b - 1;
	return true;
}

/* A line, or a band filled between its lowest and highest; gaps where it has no values. */
static void draw_line(struct job_plot *jp, const struct job_line *l)
{
	struct plot *p = &jp->p;
	const struct job *job = jp->job;
	cairo_t *cr = p->cr;
	size_t b = 0, from, to;
	cairo_new_path(cr);
	while (next_run(job, l->v, l->lo, &b, &from, &to)) {
		bins_path(p, job, l->v, from, to, false, false);
		if (l->lo) {
			bins_path(p, job, l->lo, from, to, true, true);
			cairo_close_path(cr);
		} else if (from == to) {
			cairo_rel_line_to(cr, 0.01, 0); /* a lone bin: a dot the round cap makes */
		}
	}
	plot_rgb(cr, l->c, l->alpha);
	if (l->lo) {
		cairo_fill(cr);
		return;
	}
	cairo_set_line_width(cr, l->width);
	double dash[] = {5, 3};
	cairo_set_dash(cr, dash, l->dashed ? 2 : 0, 0);
	cairo_stroke(cr);
	cairo_set_dash(cr, NULL, 0, 0);
}

/* Panel k's lines: its bands first, then its lines from the last, so the first is on top. */
static void draw_panel_lines(struct job_plot *jp, int k)
{
	struct plot *p = &jp->p;
	cairo_t *cr = p->cr;
	cairo_save(cr);
	cairo_rectangle(cr, p->px0, p->py0 - 2, p->px1 - p->px0 + 2, p->py1 - p->py0 + 4);
	cairo_clip(cr);
	cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
	cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
	for (size_t i = 0; i < jp->n_lines; i++)
		if (jp->lines[i].panel == k && jp->lines[i].lo)
			draw_line(jp, &jp->lines[i]);
	for (size_t i = jp->n_lines; i-- > 0;)
		if (jp->lines[i].panel == k && !jp->lines[i].lo)
			draw_line(jp, &jp->lines[i]);
	cairo_restore(cr);
}

/* The value of v at job time t: its bin's, else the last bin before with one; -1 none. */
static long long value_at(const struct job *job, const long long *v, double t)
{
	for (size_t b = job_bin(job, t) + 1; b-- > 0;)
		if (v[b] >= 0)
			return v[b];
	return -1;
}

/*
 * Where the worst log ended, when the job did not complete: a cross on its line (in the ranks'
 * panel, else on its node's, else on the job's) and its name and how it ended beside it.
 */
static void draw_worst(struct job_plot *jp)
{
	struct plot *p = &jp->p;
	const struct job *job = jp->job;
	if (job->worst < 0 || job->logs[job->worst].status == RUN_COMPLETED)
		return;
	const struct job_log *l = &job->logs[job->worst];
	const long long *v = job->total;
	int k = PANEL_JOB;
	if (jp->panels[PANEL_RANKS].shown && job->logs[job->worst].in_band) {
		k = PANEL_RANKS;
		v = l->series;
	} else if (jp->panels[PANEL_NODES].shown && job->n_nodes <= PLOT_JOB_NODE_LINES) {
		k = PANEL_NODES;
		v = job->nodes[l->node].series;
	}
	use_panel(jp, k);
	long long at = value_at(job, v, l->end);
	double x = plot_x(p, fmin(fmax(l->end, 0), p->t1));
	double y = at >= 0 ? plot_y(p, (double)at) : p->py1;
	plot_cross(p, x, y);
	struct strbuf label = STRBUF_INIT;
	strbuf_addf(&label, "%s %s", l->name, run_status_names[l->status]);
	plot_font(p, 10.5, true);
	const char *text = plot_fit(p, label.buf ? label.buf : "", label.len, 260);
	double w = plot_text_w(p, text);
	double tx = x + 9 + w > p->px1 ? x - 9 - w : x + 9;
	double ty = fmin(fmax(y + 4, p->data_top + 10), p->py1 - 4);
	plot_rgb(p->cr, p->th->bg, 0.75);
	cairo_rectangle(p->cr, tx - 2, ty - 11, w + 4, 14);
	cairo_fill(p->cr);
	plot_rgb(p->cr, p->th->bad, 1);
	plot_text(p, text, tx, ty, 0);
	strbuf_release(&label);
}

/* The job's peak, on its line. */
static void draw_peak(struct job_plot *jp)
{
	struct plot *p = &jp->p;
	const struct job *job = jp->job;
	if (job->peak < 0)
		return;
	use_panel(jp, PANEL_JOB);
	double prev_y = -1e9;
	strbuf_reset(&p->tmp);
	strbuf_addstr(&p->tmp, "peak ");
	text_bytes(&p->tmp, text_kib_bytes(job->peak));
	strbuf_addstr(&p->tmp, " at ");
	text_secs(&p->tmp, job->peak_t);
	plot_peak_mark(p, plot_x(p, job->peak_t), plot_y(p, (double)job->peak), p->th->tree,
		       p->tmp.buf, &prev_y);
}

static void draw_header(struct job_plot *jp)
{
	struct plot *p = &jp->p;
	const struct job *job = jp->job;
	struct strbuf sb = STRBUF_INIT;
	if (p->o->title)
		strbuf_addstr(&sb, p->o->title);
	else
		plot_job_title(job, &sb);
	plot_heading(p, &sb, 0);
	strbuf_reset(&sb);
	strbuf_addstr(&sb, "the job's memory (its logs summed on the wall clock)");
	if (job->n_nodes > 1)
		strbuf_addstr(&sb, ", each node's");
	if (jp->n_rank_logs > 1)
		strbuf_addstr(&sb, job->n_ranks ? ", its ranks'" : ", its logs'");
	strbuf_addstr(&sb, " · from the job's start, ");
	report_iso_utc(&sb, job->start_unix);
	strbuf_addstr(&sb, " (UTC)");
	if (job->launcher)
		strbuf_addf(&sb, " · %s", job->launcher);
	plot_heading(p, &sb, 1);
	strbuf_release(&sb);
}

/* Under the legend's lines: how the job ended, who ended it, what is missing. The rows. */
static size_t endings(const struct job *job, struct strbuf *rows, bool *bad)
{
	size_t n = 0;
	strbuf_addf(&rows[n++], "job: %s", run_status_names[job->status]);
	*bad = plot_bad_end(job->status);
	if (job->worst >= 0 && job->logs[job->worst].status != RUN_COMPLETED) {
		report_job_who(job, &job->logs[job->worst], &rows[n]);
		strbuf_addch(&rows[n], ' ');
		report_job_ending(&job->logs[job->worst], &rows[n++]);
	}
	if (job->n_unreadable)
		strbuf_addf(&rows[n++], "%zu log%s could not be read", job->n_unreadable,
			    job->n_unreadable == 1 ? "" : "s");
	if (job->n_missing_ranks)
		strbuf_addf(&rows[n++], "%zu rank%s of %ld with no log", job->n_missing_ranks,
			    job->n_missing_ranks == 1 ? "" : "s", job->size);
	size_t cut = 0;
	for (size_t i = 0; i < job->n_logs; i++)
		cut += !job->logs[i].unreadable && job->logs[i].truncated;
	if (cut)
		strbuf_addf(&rows[n++], "%zu log%s cut off", cut, cut == 1 ? "" : "s");
	return n;
}

#define ENDING_ROWS 5

static void draw_legend(struct job_plot *jp, double x0, double x1)
{
	struct plot *p = &jp->p;
	const struct job *job = jp->job;
	if (x1 - x0 < 60)
		return;
	struct strbuf rows[ENDING_ROWS];
	for (size_t i = 0; i < ENDING_ROWS; i++)
		strbuf_init(&rows[i]);
	bool bad;
	size_t n_rows = endings(job, rows, &bad);
	struct plot_entry *es = calloc(jp->n_lines ? jp->n_lines : 1, sizeof(*es));
	for (size_t i = 0; es && i < jp->n_lines; i++) {
		const struct job_line *l = &jp->lines[i];
		struct plot_entry *e = &es[i];
		e->c = l->c;
		e->alpha = l->lo ? l->alpha * 2 : l->alpha;
		e->width = l->width;
		e->dashed = l->dashed;
		long long peak = -1;
		if (l->log >= 0) {
			strbuf_addstr(&e->text, job->logs[l->log].name);
			peak = job->logs[l->log].peak;
		} else if (l->node >= 0) {
			strbuf_addf(&e->text, "node %s", job->nodes[l->node].host);
			peak = job->nodes[l->node].peak;
		} else {
			strbuf_addstr(&e->text, l->what);
			if (l->lo)
				strbuf_addf(&e->text, " (%zu)",
					    l->v == job->rank_max ? jp->n_rank_logs : job->n_nodes);
			if (l->v == job->total)
				peak = job->peak;
		}
		if (peak >= 0) {
			strbuf_addstr(&e->text, ", peak ");
			text_bytes(&e->text, text_kib_bytes(peak));
		}
	}
	if (es) {
		double y = plot_legend_rows(p, es, jp->n_lines, x0, x1, n_rows + 2);
		y += PLOT_ROW_H * 1.5;
		for (size_t i = 0; i < n_rows && y < p->py1 + 4; i++, y += PLOT_ROW_H) {
			plot_font(p, 11, i == 0 || bad);
			plot_rgb(p->cr, bad ? p->th->bad : i ? p->th->muted : p->th->fg, 1);
			plot_text(p, plot_fit(p, rows[i].buf, rows[i].len, x1 - x0), x0, y, 0);
		}
	}
	plot_entries_free(es, jp->n_lines);
	for (size_t i = 0; i < ENDING_ROWS; i++)
		strbuf_release(&rows[i]);
}

/* What panel k shows, at its top left when there are several. */
static void panel_title(struct job_plot *jp, int k)
{
	struct plot *p = &jp->p;
	const struct job *job = jp->job;
	strbuf_reset(&p->tmp);
	if (k == PANEL_JOB)
		strbuf_addstr(&p->tmp, "the job");
	else if (k == PANEL_NODES)
		strbuf_addf(&p->tmp, "its %zu nodes", job->n_nodes);
	else
		strbuf_addf(&p->tmp, "its %zu %s", jp->n_rank_logs,
			    job->n_ranks ? "ranks" : "logs");
	plot_font(p, 10.5, true);
	double w = plot_text_w(p, p->tmp.buf);
	plot_rgb(p->cr, p->th->bg, 0.8);
	cairo_rectangle(p->cr, p->px0 + 4, p->py0 + 2, w + 6, 14);
	cairo_fill(p->cr);
	plot_rgb(p->cr, p->th->muted, 1);
	plot_text(p, p->tmp.buf, p->px0 + 7, p->py0 + 13, 0);
}

/* The panels shown, one under the other in the plot area, each with its scale and axes. */
static void draw_panels(struct job_plot *jp)
{
	struct plot *p = &jp->p;
	const struct job *job = jp->job;
	double top = jp->area_top = p->py0, bottom = jp->area_bottom = p->py1, gap = 14;
	int shown = 0, last = PANEL_JOB;
	for (int k = 0; k < N_PANELS; k++)
		if (jp->panels[k].shown) {
			shown++;
			last = k;
		}
	double h = (bottom - top - gap * (shown - 1)) / (shown ? shown : 1);
	for (int k = 0, i = 0; k < N_PANELS; k++) {
		struct panel *pn = &jp->panels[k];
		if (!pn->shown)
			continue;
		pn->py0 = top + i++ * (h + gap);
		pn->py1 = pn->py0 + h;
		pn->data_top = pn->py0 + (shown > 1 ? 20 : 8);
		use_panel(jp, k);
		double vmax = k == PANEL_JOB ? (double)job->peak : 0;
		for (size_t l = 0; l < jp->n_lines; l++)
			for (size_t b = 0; jp->lines[l].panel == k && b < job->n_bins; b++)
				vmax = fmax(vmax, (double)jp->lines[l].v[b]);
		const char *unit_name;
		double unit = plot_scale_y(p, vmax, false, &unit_name);
		pn->ymax = p->ymax;
		plot_axes(p, unit_name, unit, k == last ? "time since the job's start" : NULL);
		draw_panel_lines(jp, k);
		if (shown > 1)
			panel_title(jp, k);
	}
}

static void draw_job(struct plot *p, void *data)
{
	struct job_plot *jp = data;
	const struct job *job = jp->job;
	plot_area(p);
	p->t1 = fmax(job->duration, (double)job->n_bins * job->bin);
	if (!(p->t1 > 0))
		p->t1 = 1;
	draw_header(jp);
	draw_panels(jp);
	draw_worst(jp);
	draw_peak(jp);
	p->py0 = jp->area_top;
	p->py1 = jp->area_bottom;
	draw_legend(jp, p->px1 + 20, p->w - 10);
	if (job->peak < 0) {
		plot_font(p, 14, false);
		plot_rgb(p->cr, p->th->muted, 1);
		plot_text(p, "no samples in the logs", (p->px0 + p->px1) / 2, (p->py0 + p->py1) / 2,
			  0.5);
	}
}

int plot_job_cairo(const struct job *job, const struct plot_options *o, enum plot_format format,
		   struct strbuf *out, struct strbuf *err)
{
	struct job_plot jp = {.job = job};
	int ret = -1;
	plot_setup(&jp.p, o, format);
	if (job_lines(&jp) < 0)
		strbuf_addstr(err, "out of memory");
	else
		ret = plot_render(&jp.p, draw_job, &jp, out, err);
	free(jp.lines);
	free(jp.node_lo);
	free(jp.node_median);
	free(jp.node_hi);
	plot_release(&jp.p);
	return ret;
}
