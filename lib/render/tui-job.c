/*
 * tui-job: the job's dashboard (contract in tui-job.h; the screen in docs/live.md).
 *
 * One thread, no lock: the loop waits for a key 100 ms at a time (getch), and at each turn,
 * while following and not paused, asks the followed logs for what is due (job_follow_poll:
 * polls four times a second, builds the job at most twice a second). A frame is drawn when the
 * job was built again, a key came, the size changed, or the clock ticked while the job runs.
 * It draws straight from the job: the job is this thread's, nothing changes it under it.
 *
 * The chart reads the job's grid (job->total, and across ranks rank_min, rank_median and
 * rank_max), bins of job->bin seconds each holding the highest value in it, into dot columns
 * with tui_bins_columns, as the single log's chart does with its own bins. The job's memory
 * is the sum of every rank, so the band across ranks, a few times smaller, gets a chart of its
 * own under it with its own scale, sharing the time axis.
 *
 * The CPU% of a rank is its CPU time's growth between two builds at least a second apart,
 * per second of the wall clock (memline's CPU% of a process: 100 is one core busy).
 *
 * Every text from a log (names, hosts, endings) goes through text_escape() cut to its columns.
 */
#include "render/tui-job.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "render/report.h"
#include "render/tui-draw.h"
#include "util/text.h"

/* The band is drawn for this many ranks and more: below it, the band is the ranks themselves. */
#define BAND_RANKS 3
/* Seconds between two CPU times a rank's CPU% is taken from, at least. */
#define CPU_SPAN 1.0

enum sort_key { SORT_PEAK, SORT_NAME, SORT_CPU };
static const char *const sort_names[] = {"peak", "name", "CPU"};

/* Where everything goes, from the screen's size and the job's shape. */
struct layout {
	int chart_y, chart_h; /* the job's memory */
	int band_y, band_h;   /* the band across ranks; 0 rows: none */
	int marks_y, time_y;
	int scale_w, plot_w;  /* the scale's columns, the charts' */
	int nodes_y, nodes_h; /* the nodes' table: its heading, then nodes_h rows; 0: none */
	int ranks_y, ranks_h; /* the ranks' table */
	int name_w, node_w, status_w, pct_w;
	int status_x; /* the column STATUS starts at */
};

struct tjob {
	struct tui_term term;
	const struct tui_options *opt;
	struct job_follow *jf;
	const struct job *fixed;
	struct layout lay;
	struct tui_view v; /* the history window, paused, help */
	enum sort_key sort;
	size_t scroll; /* the first rank row shown */
	const char *notice;
	double notice_until;
	/* the chart's columns */
	double *col[4]; /* total, median, low, high */
	size_t dots, alloc_dots;
	unsigned char *marks;
	size_t alloc_marks;
	/* the ranks' order, and each log's CPU% (follow) */
	size_t *order;
	size_t n_order;
	long long *cpu_then;
	double *cpu_then_t, *cpu_pct;
	size_t n_cpu;
	size_t *nodes; /* the nodes' order */
	size_t n_nodes;
	struct strbuf cell;
};

static const struct job *current(const struct tjob *ui)
{
	if (ui->fixed)
		return ui->fixed;
	return ui->jf->built ? &ui->jf->job : NULL;
}

static bool following(const struct tjob *ui)
{
	return ui->jf && !ui->jf->finished;
}

/* The job time drawn at the right edge: the wall clock while followed logs go on. */
static double job_now(const struct tjob *ui, const struct job *job)
{
	double now = job->duration > 0 ? job->duration : 0;
	if (following(ui) && job->start_unix > 0) {
		double wall = tui_wall_now() - job->start_unix;
		if (wall > now)
			now = wall;
	}
	return now;
}

static bool has_band(const struct job *job)
{
	return job && job->n_by_peak >= BAND_RANKS;
}

static void layout_compute(struct tjob *ui, const struct job *job)
{
	struct layout *L = &ui->lay;
	int rows = ui->term.rows, cols = ui->term.cols;
	bool nodes = job && job->n_nodes > 1;
	/* fixed rows: title, summary, status, marks, time, ranks' heading, bottom line */
	int free_rows = rows - 7 - (nodes ? 1 : 0);
	if (free_rows < 4)
		free_rows = 4;
	int chart = free_rows * 2 / 5;
	if (chart < 2)
		chart = 2;
	L->band_h = has_band(job) && chart >= 6 ? chart * 2 / 5 : 0;
	L->chart_h = chart - L->band_h;
	L->chart_y = 3;
	L->band_y = L->chart_y + L->chart_h;
	L->marks_y = L->band_y + L->band_h;
	L->time_y = L->marks_y + 1;
	int left = free_rows - chart;
	L->nodes_h = 0;
	if (nodes) {
		L->nodes_h = left / 3 < (int)job->n_nodes ? left / 3 : (int)job->n_nodes;
		if (L->nodes_h < 1)
			L->nodes_h = 1;
	}
	L->nodes_y = L->time_y + 1;
	L->ranks_y = L->nodes_y + (nodes ? 1 + L->nodes_h : 0);
	L->ranks_h = rows - 1 - (L->ranks_y + 1);
	if (L->ranks_h < 1)
		L->ranks_h = 1;
	L->scale_w = cols >= 40 ? 10 : 0;
	L->plot_w = cols - L->scale_w > 1 ? cols - L->scale_w : 1;
	/* NAME NODE, then PEAK NOW (10), CPU (9), CPU% (6, while following), STATUS */
	L->pct_w = following(ui) && cols >= 80 ? 6 : 0;
	L->status_w = cols >= 110 ? 32 : cols >= 90 ? 22 : 16;
	int rest = cols - 10 - 10 - 9 - (L->pct_w ? L->pct_w + 1 : 0) - L->status_w - 5;
	if (rest < 12)
		rest = 12;
	L->name_w = rest * 11 / 20;
	L->node_w = rest - L->name_w;
	L->status_x = L->name_w + 1 + L->node_w + 11 + 11 + 10 + (L->pct_w ? L->pct_w + 1 : 0) + 1;
}

/* ---- the ranks' order ---- */

static int cmp_rows(const void *a, const void *b, void *data)
{
	const struct tjob *ui = data;
	const struct job *job = current(ui);
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	const struct job_log *x = &job->logs[i], *y = &job->logs[j];
	if (x->unreadable != y->unreadable)
		return x->unreadable ? 1 : -1;
	int c = 0;
	if (ui->sort == SORT_PEAK && x->peak != y->peak)
		c = x->peak < y->peak ? 1 : -1;
	else if (ui->sort == SORT_CPU && x->cpu_ms != y->cpu_ms)
		c = x->cpu_ms < y->cpu_ms ? 1 : -1;
	else if (ui->sort == SORT_NAME && x->place.rank >= 0 && y->place.rank >= 0 &&
		 x->place.rank != y->place.rank)
		c = x->place.rank < y->place.rank ? -1 : 1;
	else if (ui->sort == SORT_NAME)
		c = strverscmp(x->name ? x->name : "", y->name ? y->name : "");
	return c ? c : (i > j) - (i < j);
}

static int cmp_nodes(const void *a, const void *b, void *data)
{
	const struct job *job = data;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	long long x = job->nodes[i].peak, y = job->nodes[j].peak;
	if (x != y)
		return x < y ? 1 : -1;
	return (i > j) - (i < j);
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return (x > y) - (x < y);
}

static void *grow(void *p, size_t *have, size_t n, size_t size)
{
	if (n <= *have)
		return p;
	void *q = realloc(p, (n ? n : 1) * size);
	if (q)
		*have = n;
	return q;
}

/* 0 .. n-1 into *v (grown to have), sorted by cmp. Returns -1 out of memory. */
static int sort_indices(size_t **v, size_t *have, size_t n,
			int (*cmp)(const void *, const void *, void *), void *data)
{
	size_t *o = grow(*v, have, n, sizeof(*o));
	if (!o)
		return -1;
	*v = o;
	for (size_t i = 0; i < n; i++)
		o[i] = i;
	qsort_r(o, n, sizeof(*o), cmp, data);
	return 0;
}

/* Orders the ranks and the nodes. Returns -1 out of memory. */
static int order_rows(struct tjob *ui, const struct job *job)
{
	if (sort_indices(&ui->order, &ui->n_order, job->n_logs, cmp_rows, ui) < 0)
		return -1;
	return sort_indices(&ui->nodes, &ui->n_nodes, job->n_nodes, cmp_nodes, (void *)job);
}

/* Each log's CPU% since its CPU time of at least CPU_SPAN s ago. Returns -1 out of memory. */
static int update_cpu(struct tjob *ui, const struct job *job)
{
	if (job->n_logs > ui->n_cpu) {
		size_t n = job->n_logs, have = ui->n_cpu;
		long long *c = grow(ui->cpu_then, &have, n, sizeof(*c));
		if (c)
			ui->cpu_then = c;
		have = ui->n_cpu;
		double *t = c ? grow(ui->cpu_then_t, &have, n, sizeof(*t)) : NULL;
		if (t)
			ui->cpu_then_t = t;
		have = ui->n_cpu;
		double *p = t ? grow(ui->cpu_pct, &have, n, sizeof(*p)) : NULL;
		if (!p)
			return -1;
		ui->cpu_pct = p;
		for (size_t i = ui->n_cpu; i < n; i++) {
			ui->cpu_then[i] = -1;
			ui->cpu_then_t[i] = 0;
			ui->cpu_pct[i] = -1;
		}
		ui->n_cpu = n;
	}
	double now = tui_wall_now();
	for (size_t i = 0; i < job->n_logs; i++) {
		const struct job_log *l = &job->logs[i];
		if (l->unreadable || l->status != RUN_RUNNING || l->cpu_ms < 0) {
			ui->cpu_pct[i] = -1;
			continue;
		}
		if (ui->cpu_then[i] < 0 || l->cpu_ms < ui->cpu_then[i]) {
			ui->cpu_then[i] = l->cpu_ms;
			ui->cpu_then_t[i] = now;
			continue;
		}
		double dt = now - ui->cpu_then_t[i];
		if (dt < CPU_SPAN)
			continue;
		ui->cpu_pct[i] = (double)(l->cpu_ms - ui->cpu_then[i]) / 10.0 / dt;
		ui->cpu_then[i] = l->cpu_ms;
		ui->cpu_then_t[i] = now;
	}
	return 0;
}

/* A log's memory now: its latest bin with a value, while it runs; -1 otherwise. */
static long long log_now(const struct job *job, const struct job_log *l)
{
	if (l->unreadable || l->status != RUN_RUNNING || !l->series || !job->n_bins)
		return -1;
	size_t first = job_bin(job, l->start);
	for (size_t b = job_bin(job, l->end) + 1; b-- > first;)
		if (l->series[b] >= 0)
			return l->series[b];
	return -1;
}

/* A node's memory now: its series at its latest bin with a value, while a log of it runs. */
static long long node_now(const struct job *job, size_t k)
{
	const struct job_node *n = &job->nodes[k];
	bool running = false;
	double end = 0;
	for (size_t i = 0; i < job->n_logs; i++) {
		const struct job_log *l = &job->logs[i];
		if (l->node == k && !l->unreadable && l->status == RUN_RUNNING)
			running = true;
		if (l->node == k && !l->unreadable && l->end > end)
			end = l->end;
	}
	if (!running || !n->series || !job->n_bins)
		return -1;
	for (size_t b = job_bin(job, end) + 1; b-- > 0;)
		if (n->series[b] >= 0)
			return n->series[b];
	return -1;
}

/* ---- the chart ---- */

/* The grid's series s (n_bins values, KiB, -1 none) into the dot columns of [t0, t1]. */
static void grid_columns(const struct job *job, const long long *s, double t0, double t1,
			 size_t dots, double *out, double *tmp)
{
	for (size_t b = 0; b < job->n_bins; b++)
		tmp[b] = s[b] >= 0 ? (double)s[b] : NAN;
	tui_bins_columns(tmp, 1, job->n_bins, 0, job->bin, NAN, t0, t1, dots, out);
}

/*
 * While the logs grow, each has been read up to its own last sample: past the earliest of
 * those (the running logs' ends) the grid's bins lack the logs that lag, and the job's total
 * there would dip. Those columns show the logs' latest values instead, each carried to now as
 * the single log's chart carries its line: the job's total as their sum, the band across
 * them. Returns -1 out of memory.
 */
static int latest_columns(struct tjob *ui, const struct job *job, double t0, double t1)
{
	double settled = t1;
	size_t n = 0;
	long long total = 0, *v = malloc((job->n_logs ? job->n_logs : 1) * sizeof(*v));
	if (!v)
		return -1;
	for (size_t i = 0; i < job->n_logs; i++) {
		const struct job_log *l = &job->logs[i];
		long long now = log_now(job, l);
		if (now < 0)
			continue;
		if (l->end < settled)
			settled = l->end;
		bool node_whole = job->nodes[l->node].whole >= 0;
		if (!node_whole || job->nodes[l->node].whole == (long)i)
			total += now;
		if (l->in_band)
			v[n++] = now;
	}
	qsort(v, n, sizeof(*v), cmp_ll);
	double latest[4] = {(double)total, NAN, NAN, NAN};
	if (n) {
		latest[1] = n % 2 ? (double)v[n / 2] : (double)(v[n / 2 - 1] + v[n / 2]) / 2;
		latest[2] = (double)v[0];
		latest[3] = (double)v[n - 1];
	}
	free(v);
	double dt = (t1 - t0) / (double)ui->dots;
	for (size_t x = 0; x < ui->dots && settled < t1; x++) {
		if (t0 + (double)x * dt <= settled)
			continue;
		for (int s = 0; s < 4; s++)
			ui->col[s][x] = latest[s];
	}
	return 0;
}

/* Brings the chart's columns up to date. Returns -1 out of memory. */
static int chart_columns(struct tjob *ui, const struct job *job, double t0, double t1)
{
	size_t dots = (size_t)ui->lay.plot_w * (ui->term.utf8 ? 2 : 1);
	if (dots > ui->alloc_dots) {
		for (int s = 0; s < 4; s++) {
			double *c = realloc(ui->col[s], dots * sizeof(*c));
			if (!c)
				return -1;
			ui->col[s] = c;
		}
		ui->alloc_dots = dots;
	}
	ui->dots = dots;
	double *tmp = malloc((job->n_bins ? job->n_bins : 1) * sizeof(*tmp));
	unsigned char *m = grow(ui->marks, &ui->alloc_marks, (size_t)ui->lay.plot_w, 1);
	if (!tmp || !m) {
		free(tmp);
		return -1;
	}
	ui->marks = m;
	const long long *series[4] = {job->total, job->rank_median, job->rank_min, job->rank_max};
	for (int s = 0; s < 4; s++)
		grid_columns(job, series[s], t0, t1, dots, ui->col[s], tmp);
	free(tmp);
	if (following(ui) && latest_columns(ui, job, t0, t1) < 0)
		return -1;
	memset(m, 0, (size_t)ui->lay.plot_w);
	if (job->peak > 0 && job->peak_t >= t0 && job->peak_t <= t1)
		m[(size_t)fmin((double)ui->lay.plot_w - 1,
			       (job->peak_t - t0) / (t1 - t0) * (double)ui->lay.plot_w)] = 2;
	return 0;
}

static void draw_charts(struct tjob *ui, const struct job *job, double t1)
{
	const struct layout *L = &ui->lay;
	struct tui_term *t = &ui->term;
	struct tui_line total = {ui->col[0], NULL, TUI_C_SERIES};
	double ymax = tui_lines_ymax(&total, 1, ui->dots);
	tui_draw_lines(t, L->chart_y, L->scale_w, L->chart_h, L->plot_w, ui->dots, &total, 1, ymax);
	tui_draw_scale(t, L->chart_y, L->chart_h, L->scale_w, ymax);
	struct tui_legend legend[3] = {{"job", 3, TUI_C_SERIES}};
	int n = 1;
	if (L->band_h) {
		struct tui_line band[2] = {{ui->col[3], ui->col[2], TUI_C_SERIES + 2},
					   {ui->col[1], NULL, TUI_C_SERIES + 1}};
		double bmax = tui_lines_ymax(&band[0], 1, ui->dots);
		tui_draw_lines(t, L->band_y, L->scale_w, L->band_h, L->plot_w, ui->dots, band, 2,
			       bmax);
		tui_draw_scale(t, L->band_y, L->band_h, L->scale_w, bmax);
		legend[n++] = (struct tui_legend){"median rank", 11, TUI_C_SERIES + 1};
		legend[n++] = (struct tui_legend){"lowest to highest rank", 22, TUI_C_SERIES + 2};
	}
	tui_draw_marks(t, L->marks_y, L->scale_w, L->plot_w, ui->marks);
	tui_draw_time_row(t, L->time_y, L->scale_w, ui->v.window, following(ui), t1, legend, n);
	(void)job;
}

/* ---- the header ---- */

static void draw_title(struct tjob *ui, const struct job *job, double now)
{
	const char *title = ui->opt->title ? ui->opt->title : "";
	tui_draw_title(&ui->term, title, strlen(title), now, following(ui),
		       job ? job->status : RUN_RUNNING);
}

static void add_kib(struct strbuf *sb, long long kib)
{
	if (kib >= 0)
		text_bytes(sb, text_kib_bytes(kib));
	else
		strbuf_addch(sb, '-');
}

/* The summary row: "job 4242 (openmpi)  4 ranks of 4 on 2 nodes  peak 228.6 MiB at 2.0 s". */
static void draw_summary(struct tjob *ui, const struct job *job)
{
	struct tui_term *t = &ui->term;
	struct strbuf *sb = &t->tmp;
	strbuf_reset(sb);
	strbuf_addstr(sb, "job");
	if (job->job_id) {
		strbuf_addch(sb, ' ');
		text_escape(sb, job->job_id, strlen(job->job_id), 30);
	}
	if (job->launcher) {
		strbuf_addstr(sb, " (");
		text_escape(sb, job->launcher, strlen(job->launcher), 12);
		strbuf_addch(sb, ')');
	}
	strbuf_addch(sb, ':');
	if (job->n_ranks)
		strbuf_addf(sb, " %zu rank%s", job->n_ranks, job->n_ranks == 1 ? "" : "s");
	else
		strbuf_addf(sb, " %zu log%s", job->n_logs, job->n_logs == 1 ? "" : "s");
	if (job->size > 0)
		strbuf_addf(sb, " of %ld", job->size);
	strbuf_addf(sb, " on %zu node%s  peak ", job->n_nodes, job->n_nodes == 1 ? "" : "s");
	add_kib(sb, job->peak);
	if (job->peak >= 0) {
		strbuf_addstr(sb, " at ");
		text_secs(sb, job->peak_t);
	}
	strbuf_addstr(sb, "  window ");
	if (ui->v.window > 0)
		text_secs(sb, ui->v.window);
	else
		strbuf_addstr(sb, "whole job");
	int room = t->cols - (ui->v.paused ? 9 : 0);
	tui_put(1, 0, sb->buf, sb->len, room);
	if (ui->v.paused) {
		tui_color(t, TUI_C_YELLOW, A_BOLD | A_REVERSE);
		tui_put(1, t->cols - 8, " PAUSED ", 8, 8);
		attrset(A_NORMAL);
	}
}

/*
 * The status row: the job's status and the log that gave it ("oom-killed: rank 3 on n2
 * oom-killed (pid 77 python3)"), how many still run, the ranks with no log, unreadable logs.
 */
static void draw_status(struct tjob *ui, const struct job *job)
{
	struct tui_term *t = &ui->term;
	struct strbuf *sb = &t->tmp;
	strbuf_reset(sb);
	size_t running = 0;
	for (size_t i = 0; i < job->n_logs; i++)
		running += !job->logs[i].unreadable && job->logs[i].status == RUN_RUNNING;
	strbuf_addf(sb, "status %s", run_status_names[job->status]);
	if (job->worst >= 0 && job->status != RUN_COMPLETED && job->status != RUN_RUNNING) {
		const struct job_log *w = &job->logs[job->worst];
		strbuf_addstr(sb, ": ");
		if (w->status == job->status) {
			report_job_who(job, w, sb);
			strbuf_addch(sb, ' ');
			report_job_ending(w, sb);
		} else {
			strbuf_addstr(sb, "logs are missing or unreadable");
		}
	}
	if (running)
		strbuf_addf(sb, "  %zu of %zu running", running, job->n_logs);
	if (job->n_missing_ranks) {
		strbuf_addf(sb, "  no log of rank%s", job->n_missing_ranks == 1 ? "" : "s");
		for (size_t i = 0; i < job->n_missing_ranks && i < 8; i++)
			strbuf_addf(sb, "%s %ld", i ? "," : "", job->missing_ranks[i]);
		if (job->n_missing_ranks > 8)
			strbuf_addstr(sb, ", ...");
	}
	if (job->n_unreadable)
		strbuf_addf(sb, "  %zu unreadable", job->n_unreadable);
	bool bad = tui_status_bad(job->status) && job->status != RUN_INCOMPLETE;
	tui_color(t, bad ? TUI_C_RED : 0, bad ? A_BOLD : 0);
	tui_put(2, 0, sb->buf, sb->len, t->cols);
	attrset(A_NORMAL);
}

/* ---- the tables ---- */

/* Appends s escaped and cut to cols columns, then padded with spaces to them. */
static void add_cell(struct strbuf *sb, const char *s, int cols)
{
	size_t w = text_escape(sb, s ? s : "", s ? strlen(s) : 0, cols > 0 ? (size_t)cols : 1);
	for (size_t i = w; i < (size_t)cols; i++)
		strbuf_addch(sb, ' ');
}

static void add_num(struct strbuf *sb, const char *text, int cols)
{
	strbuf_addf(sb, " %*s", cols, text);
}

static void add_kib_cell(struct tjob *ui, struct strbuf *sb, long long kib)
{
	strbuf_reset(&ui->cell);
	add_kib(&ui->cell, kib);
	add_num(sb, ui->cell.buf, 10);
}

static void add_cpu_cell(struct tjob *ui, struct strbuf *sb, long long ms)
{
	strbuf_reset(&ui->cell);
	if (ms >= 0)
		text_secs(&ui->cell, (double)ms / 1000.0);
	else
		strbuf_addch(&ui->cell, '-');
	add_num(sb, ui->cell.buf, 9);
}

/* A log's state: how it ended, "running", or why it cannot be read. */
static void add_state(const struct job_log *l, struct strbuf *out)
{
	if (l->unreadable) {
		strbuf_addstr(out, "unreadable: ");
		text_escape(out, l->error ? l->error : "", l->error ? strlen(l->error) : 0, 60);
	} else if (l->status == RUN_RUNNING) {
		strbuf_addstr(out, "running");
	} else {
		report_job_ending(l, out);
		if (l->truncated && l->status != RUN_INCOMPLETE)
			strbuf_addstr(out, ", cut off");
	}
}

static void draw_heading(struct tjob *ui, int y, const char *first, int first_w, const char *more)
{
	struct tui_term *t = &ui->term;
	const struct layout *L = &ui->lay;
	tui_color(t, TUI_C_TITLE, A_BOLD | A_UNDERLINE);
	tui_putf(t, y, 0, t->cols, "%-*s %10s %10s %9s%s%*s %-*s", first_w, first, "PEAK", "NOW",
		 "CPU", L->pct_w ? " " : "", L->pct_w, L->pct_w ? "CPU%" : "", L->status_w,
		 "STATUS");
	if (more) {
		int w = (int)strlen(more);
		tui_put(y, t->cols - w, more, (size_t)w, w);
	}
	attrset(A_NORMAL);
}

static void draw_nodes(struct tjob *ui, const struct job *job)
{
	const struct layout *L = &ui->lay;
	struct tui_term *t = &ui->term;
	if (!L->nodes_h)
		return;
	int first_w = L->name_w + 1 + L->node_w;
	char more[48] = "";
	if (job->n_nodes > (size_t)L->nodes_h)
		snprintf(more, sizeof(more), " %d of %zu nodes ", L->nodes_h, job->n_nodes);
	draw_heading(ui, L->nodes_y, "NODE", first_w, *more ? more : NULL);
	struct strbuf *sb = &t->tmp;
	for (int r = 0; r < L->nodes_h && (size_t)r < job->n_nodes; r++) {
		size_t k = ui->nodes[r];
		const struct job_node *n = &job->nodes[k];
		strbuf_reset(sb);
		strbuf_reset(&ui->cell);
		text_escape(&ui->cell, n->host, strlen(n->host), 40);
		strbuf_addf(&ui->cell, " (%zu)", n->n_logs);
		add_cell(sb, ui->cell.buf, first_w);
		add_kib_cell(ui, sb, n->peak);
		add_kib_cell(ui, sb, node_now(job, k));
		add_cpu_cell(ui, sb, n->cpu_ms);
		if (L->pct_w)
			add_num(sb, "", L->pct_w);
		strbuf_addch(sb, ' ');
		const struct job_log *w = n->worst >= 0 ? &job->logs[n->worst] : NULL;
		bool bad = w && tui_status_bad(w->status) && w->status != RUN_RUNNING;
		if (w) {
			add_state(w, sb);
			if (bad && n->n_logs > 1) {
				strbuf_addstr(sb, ": ");
				text_escape(sb, w->name, strlen(w->name), 30);
			}
		}
		tui_color(t, bad ? TUI_C_RED : 0, 0);
		tui_put(L->nodes_y + 1 + r, 0, sb->buf, sb->len, t->cols);
		attrset(A_NORMAL);
	}
}

/* The first row shown, kept so that the last page is full. */
static size_t clamp_scroll(struct tjob *ui, const struct job *job)
{
	size_t rows = (size_t)ui->lay.ranks_h;
	size_t max = job->n_logs > rows ? job->n_logs - rows : 0;
	if (ui->scroll > max)
		ui->scroll = max;
	return ui->scroll;
}

static void draw_ranks(struct tjob *ui, const struct job *job)
{
	const struct layout *L = &ui->lay;
	struct tui_term *t = &ui->term;
	size_t first = clamp_scroll(ui, job);
	size_t shown =
		job->n_logs - first < (size_t)L->ranks_h ? job->n_logs - first : (size_t)L->ranks_h;
	char more[64] = "";
	if (shown < job->n_logs)
		snprintf(more, sizeof(more), " %zu-%zu of %zu, by %s ", first + 1, first + shown,
			 job->n_logs, sort_names[ui->sort]);
	else
		snprintf(more, sizeof(more), " by %s ", sort_names[ui->sort]);
	struct strbuf *sb = &t->tmp;
	strbuf_reset(sb);
	strbuf_addf(sb, "%-*s %-*s", L->name_w, job->n_ranks ? "RANK" : "LOG", L->node_w, "NODE");
	draw_heading(ui, L->ranks_y, "", L->name_w + 1 + L->node_w, more);
	tui_color(t, TUI_C_TITLE, A_BOLD | A_UNDERLINE);
	tui_put(L->ranks_y, 0, sb->buf, sb->len, L->name_w + 1 + L->node_w);
	attrset(A_NORMAL);
	long heaviest = job->n_by_peak > 1 ? (long)job->by_peak[0] : -1;
	for (size_t r = 0; r < shown; r++) {
		size_t i = ui->order[first + r];
		const struct job_log *l = &job->logs[i];
		strbuf_reset(sb);
		add_cell(sb, l->name, L->name_w);
		strbuf_addch(sb, ' ');
		add_cell(sb, l->host, L->node_w);
		add_kib_cell(ui, sb, l->unreadable ? -1 : l->peak);
		add_kib_cell(ui, sb, log_now(job, l));
		add_cpu_cell(ui, sb, l->unreadable ? -1 : l->cpu_ms);
		strbuf_reset(&ui->cell);
		double pct = ui->cpu_pct && i < ui->n_cpu ? ui->cpu_pct[i] : -1;
		if (pct >= 0)
			strbuf_addf(&ui->cell, "%.1f", pct);
		else
			strbuf_addch(&ui->cell, '-');
		if (L->pct_w)
			add_num(sb, ui->cell.buf, L->pct_w);
		strbuf_addch(sb, ' ');
		size_t state = sb->len;
		add_state(l, sb);
		int y = L->ranks_y + 1 + (int)r;
		bool bad = !l->unreadable && tui_status_bad(l->status);
		attrset(l->unreadable ? A_DIM : (long)i == heaviest ? A_BOLD : A_NORMAL);
		tui_put(y, 0, sb->buf, state, t->cols);
		tui_color(t, bad || l->unreadable ? TUI_C_RED : 0, 0);
		int x = L->status_x;
		tui_put(y, x, sb->buf + state, sb->len - state, t->cols - x);
		attrset(A_NORMAL);
	}
}

static void draw_bottom(struct tjob *ui, const struct job *job)
{
	struct tui_term *t = &ui->term;
	int y = t->rows - 1;
	const struct strbuf *e = ui->jf ? &ui->jf->error : NULL;
	struct strbuf *sb = &t->tmp;
	strbuf_reset(sb);
	if (ui->notice && tui_wall_now() < ui->notice_until) {
		tui_color(t, TUI_C_YELLOW, A_BOLD);
		tui_put(y, 0, ui->notice, strlen(ui->notice), t->cols - 1);
	} else if (e && e->len) {
		text_escape(sb, e->buf, e->len, (size_t)t->cols - 1);
		tui_color(t, TUI_C_RED, A_BOLD);
		tui_put(y, 0, sb->buf, sb->len, t->cols - 1);
	} else if (job && !following(ui)) {
		strbuf_addf(sb, "the job ended: %s", run_status_names[job->status]);
		if (job->worst >= 0 && job->logs[job->worst].status == job->status &&
		    job->status != RUN_COMPLETED) {
			strbuf_addstr(sb, ", ");
			report_job_who(job, &job->logs[job->worst], sb);
		}
		strbuf_addstr(sb, "  (q quits)");
		tui_color(t, tui_status_bad(job->status) ? TUI_C_RED : TUI_C_GREEN, A_BOLD);
		tui_put(y, 0, sb->buf, sb->len, t->cols - 1);
	} else {
		static const char keys[] =
			"q quit  p pause  +/- window  m/c/r sort by peak/CPU/rank  up/down scroll  "
			"? help";
		tui_color(t, TUI_C_DIM, A_DIM);
		tui_put(y, 0, keys, sizeof(keys) - 1, t->cols - 1);
	}
	attrset(A_NORMAL);
}

static void draw_help(struct tjob *ui)
{
	static const char *const keys[] = {
		"m          ranks by peak (the heaviest first)",
		"c          ranks by CPU time",
		"r          ranks by rank (or log name)",
		"up, down   scroll the ranks (also j, k)",
		"PgUp, PgDn a page; Home, End (g, G)",
	};
	static const char *const notes[] = {
		"chart: the job's memory (its logs summed on",
		"the wall clock); under it, across the ranks:",
		"the median and the lowest to highest",
		"\xe2\x96\xb2 (P): the job's peak",
	};
	tui_draw_help(&ui->term, "memline job dashboard keys", keys, 5, notes, 4);
}

/* Draws a frame. Returns -1 out of memory. */
static int draw(struct tjob *ui)
{
	const struct job *job = current(ui);
	erase();
	layout_compute(ui, job);
	double now = job ? (ui->v.paused ? ui->v.paused_now : job_now(ui, job)) : 0;
	draw_title(ui, job, now);
	if (!job) {
		static const char wait[] = "waiting for the job's logs to appear...";
		tui_put(2, 0, wait, sizeof(wait) - 1, ui->term.cols);
		draw_bottom(ui, NULL);
		refresh();
		return 0;
	}
	double t1 = now > 0 ? now : 1, t0 = ui->v.window > 0 ? now - ui->v.window : 0;
	if (t1 <= t0)
		t1 = t0 + 1;
	if (chart_columns(ui, job, t0, t1) < 0 || order_rows(ui, job) < 0)
		return -1;
	draw_summary(ui, job);
	draw_status(ui, job);
	draw_charts(ui, job, t1);
	draw_nodes(ui, job);
	draw_ranks(ui, job);
	draw_bottom(ui, job);
	if (ui->v.help)
		draw_help(ui);
	refresh();
	return ui->term.tmp.oom || ui->term.line.oom || ui->cell.oom ? -1 : 0;
}

/* ---- the loop ---- */

static double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Seconds between redraws that the clock alone asks for: a dot column's time, 0.1 s to 1 s. */
static void say(struct tjob *ui, const char *notice)
{
	ui->notice = notice;
	ui->notice_until = tui_wall_now() + 5;
}

/* A key. Returns 0 to quit, 1 to go on. */
static int key(struct tjob *ui, int ch)
{
	const struct job *job = current(ui);
	double length = job ? job_now(ui, job) : 0;
	size_t page = ui->lay.ranks_h > 1 ? (size_t)ui->lay.ranks_h - 1 : 1;
	int shared = tui_view_key(&ui->v, ch, length, length);
	if (shared)
		return shared > 0;
	switch (ch) {
	case 'm':
	case 'M':
		ui->sort = SORT_PEAK;
		ui->scroll = 0;
		break;
	case 'c':
	case 'C':
		ui->sort = SORT_CPU;
		ui->scroll = 0;
		break;
	case 'r':
	case 'R':
		ui->sort = SORT_NAME;
		ui->scroll = 0;
		break;
	case KEY_DOWN:
	case 'j':
		ui->scroll++;
		break;
	case KEY_UP:
	case 'k':
		ui->scroll = ui->scroll ? ui->scroll - 1 : 0;
		break;
	case KEY_NPAGE:
		ui->scroll += page;
		break;
	case KEY_PPAGE:
		ui->scroll = ui->scroll > page ? ui->scroll - page : 0;
		break;
	case KEY_HOME:
	case 'g':
		ui->scroll = 0;
		break;
	case KEY_END:
	case 'G':
		ui->scroll = job ? job->n_logs : 0;
		break;
	case 's':
	case 'S':
	case 't':
	case 'T':
	case 'n':
	case 'N':
		say(ui, "stacks and threads are a log's: see one with memline view LOG");
		break;
	default:
		break;
	}
	return 1;
}

static int loop(struct tjob *ui, struct strbuf *err)
{
	bool dirty = true;
	double last_tick = -1;
	unsigned long seen = 0;
	for (;;) {
		if (tui_term_resized(&ui->term))
			dirty = true;
		if (ui->notice && tui_wall_now() >= ui->notice_until) {
			ui->notice = NULL;
			dirty = true;
		}
		if (ui->opt->quit && atomic_load(ui->opt->quit))
			return 0;
		if (ui->jf && !ui->v.paused) {
			if (job_follow_poll(ui->jf, mono_now(), err) < 0)
				return -1;
			if (ui->jf->version != seen) {
				seen = ui->jf->version;
				if (update_cpu(ui, &ui->jf->job) < 0)
					goto oom;
				dirty = true;
			}
			if (ui->jf->finished && !ui->opt->wait_at_end)
				return 0;
		}
		if (tui_ticked(&ui->term, &ui->v, ui->lay.plot_w, following(ui), &last_tick))
			dirty = true;
		if (dirty && draw(ui) < 0)
			goto oom;
		dirty = false;
		int ch = tui_read_key(&ui->v, &dirty);
		if (ch == TUI_KEY_LOST)
			return 1;
		if (ch == ERR)
			continue;
		if (!key(ui, ch))
			return 0;
	}
oom:
	strbuf_addstr(err, "out of memory drawing the dashboard");
	return -1;
}

int tui_job_run(struct job_follow *jf, const struct job *job, const struct tui_options *o,
		struct strbuf *err)
{
	static const struct tui_options defaults = {0};
	struct tjob ui;
	memset(&ui, 0, sizeof(ui));
	ui.opt = o ? o : &defaults;
	ui.jf = jf;
	ui.fixed = jf ? NULL : job;
	ui.v.window = ui.opt->history > 0 ? ui.opt->history : 0;
	strbuf_init(&ui.cell);
	int ret = -1;
	if (tui_term_start(&ui.term, err) == 0)
		ret = loop(&ui, err);
	tui_term_end(&ui.term);
	for (int s = 0; s < 4; s++)
		free(ui.col[s]);
	free(ui.marks);
	free(ui.order);
	free(ui.nodes);
	free(ui.cpu_then);
	free(ui.cpu_then_t);
	free(ui.cpu_pct);
	strbuf_release(&ui.cell);
	return ret;
}
