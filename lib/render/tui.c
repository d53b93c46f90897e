/*
 * tui: the terminal dashboard (contract in tui.h; docs/live.md for people who change it).
 *
 * The loop: getch() with a 100 ms timeout, so at most 10 frames a second plus one per key.
 * Each turn it checks the terminal's size with ioctl(TIOCGWINSZ) (in `run --live` every signal
 * is blocked in this thread, so a SIGWINCH handler would never run) and calls resizeterm()
 * when it changed, then decides whether anything must be drawn: the model's version changed,
 * the elapsed clock's second ticked, a key was pressed, the size or the window changed. A
 * turn with nothing to draw takes the lock only to read the version.
 *
 * A frame is built in two halves. Under the live lock, frame_build() copies what the frame
 * shows out of the model: the process table's rows (only as many as fit), the latest events
 * and output lines, how the run ended, and brings the chart's bins up to date. Then, without
 * the lock, draw() turns that copy into curses calls; curses sends the terminal only the cells
 * that changed.
 *
 * The chart (struct tui_chart) never rescans an hour of samples per frame: it keeps bins of
 * the tree's and the top processes' RSS, aligned to multiples of a bin width w since the
 * start, each the highest value of the samples in it. A fixed window of H seconds drawn in D
 * dot columns uses w = H / D: new samples are added to their bin, bins that slid out of the
 * window are dropped (their last value kept to carry the line into the window), so a frame
 * costs the samples that arrived since the last one. The whole-run window uses a w that
 * doubles as the run grows, keeping at most 4 D bins; each doubling, a change of window,
 * width or top processes, or a model that started over (the log was rewritten) rebuilds the
 * bins from the samples in the window. Columns take the highest of their bins, and a column
 * with no sample carries the value before it, so the line joins the samples.
 *
 * When the terminal goes away (a hangup: the ssh connection or the tmux server killed), getch()
 * returns at once instead of after its timeout; the loop sees the hangup with poll() and ends,
 * so the dashboard's thread neither spins nor draws again, and the recording goes on.
 *
 * The thread table ('t') takes the process table's place: the threads of one process (the
 * first of the table's rows that has threads, until 'n' picks the next process with threads),
 * copied out under the lock like the rest: tid, name, CPU% now (series_threads_cpu_now: the
 * threads' CPU times move only when memline reads them, at most a second apart), live heap
 * and its peak (--heap).
 *
 * The terminal, the chart's dots, scale and legend and the help overlay are tui-draw's, shared
 * with the job's dashboard (tui-job.c). Text from the recorded program (command lines, labels,
 * output) is shown through text_escape(), so it cannot move the cursor or break a line.
 */
#include "render/tui.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/series.h"
#include "render/report.h"
#include "render/tui-draw.h"
#include "util/text.h"

/* ---- history windows ---- */

static const double windows[] = {10, 60, 300, 900, 3600};
#define N_WINDOWS (sizeof(windows) / sizeof(windows[0]))

double tui_window_step(double window, int dir, double run_length)
{
	double w = window > 0 ? window : INFINITY;
	if (dir > 0) {
		for (size_t i = 0; i < N_WINDOWS; i++)
			if (windows[i] > w && windows[i] < run_length)
				return windows[i];
		return 0;
	}
	if (dir < 0) {
		double below = window > 0 ? w : run_length;
		for (size_t i = N_WINDOWS; i-- > 0;)
			if (windows[i] < below)
				return windows[i];
		if (window <= 0)
			return windows[0]; /* a run shorter than every window: the shortest */
	}
	return window;
}

/* ---- the chart's bins ---- */

void tui_chart_init(struct tui_chart *c)
{
	memset(c, 0, sizeof(*c));
	c->window = -1;
	for (int s = 0; s < TUI_SERIES; s++)
		c->before[s] = NAN;
}

void tui_chart_release(struct tui_chart *c)
{
	free(c->v);
	tui_chart_init(c);
}

/*
 * The top TUI_TOP processes by peak RSS, highest first, of those in some sample (one seen only
 * at its exit has no line to draw); returns how many.
 */
static int top_procs(const struct run *run, int top[TUI_TOP])
{
	int n = 0;
	for (size_t i = 0; i < run->n_procs; i++) {
		long long p = run->procs[i].peak;
		if (p <= 0 || run->procs[i].first_sample < 0)
			continue;
		int j = n < TUI_TOP ? n++ : TUI_TOP;
		while (j > 0 && run->procs[top[j - 1]].peak < p) {
			if (j < TUI_TOP)
				top[j] = top[j - 1];
			j--;
		}
		if (j < TUI_TOP)
			top[j] = (int)i;
	}
	return n;
}

/* The tree's RSS in sample s: its tree value, else the sum of its processes' known values. */
static double tree_rss(const struct run *run, const struct run_sample *s)
{
	if (s->tree.v[TF_RSS] >= 0)
		return (double)s->tree.v[TF_RSS];
	long long sum = -1;
	for (size_t i = s->first; i < s->first + s->n; i++) {
		long long v = run_ps_value(run, run_ps(run, i), PF_RSS);
		if (v >= 0)
			sum = (sum < 0 ? 0 : sum) + v;
	}
	return (double)sum;
}

/*
 * The chart's leading line in sample s: the job's memory where the log measured it (format 2
 * on), else the tree's RSS, as a format 1 log's dashboard always drew.
 */
static double lead_value(const struct run *run, const struct run_sample *s)
{
	if (run_measures_job(run))
		return (double)run_sample_job(s);
	return tree_rss(run, s);
}

static int chart_grow(struct tui_chart *c, size_t n)
{
	if (n > c->cap) {
		size_t cap = c->cap ? c->cap : 64;
		while (cap < n)
			cap *= 2;
		double *v = realloc(c->v, cap * TUI_SERIES * sizeof(*v));
		if (!v)
			return -1;
		c->v = v;
		c->cap = cap;
	}
	for (size_t i = c->n * TUI_SERIES; i < n * TUI_SERIES; i++)
		c->v[i] = NAN;
	if (n > c->n)
		c->n = n;
	return 0;
}

static void chart_put(struct tui_chart *c, long k, int s, double v)
{
	if (v < 0)
		return;
	if (k < c->k0) {
		c->before[s] = v;
		return;
	}
	double *b = &c->v[(size_t)(k - c->k0) * TUI_SERIES + s];
	if (isnan(*b) || v > *b)
		*b = v;
}

static int chart_add_sample(struct tui_chart *c, const struct run *run, size_t i)
{
	const struct run_sample *s = &run->samples[i];
	long k = s->t > 0 ? (long)floor(s->t / c->w) : 0;
	if (k >= c->k0 && chart_grow(c, (size_t)(k - c->k0) + 1) < 0)
		return -1;
	chart_put(c, k, 0, lead_value(run, s));
	for (size_t j = s->first; j < s->first + s->n; j++) {
		const struct run_proc_sample *ps = run_ps(run, j);
		for (int t = 1; t < c->ns; t++)
			if (c->proc[t - 1] == ps->proc)
				chart_put(c, k, t, (double)run_ps_value(run, ps, PF_RSS));
	}
	return 0;
}

/* Drops the bins before bin k, keeping each series' last value in before[]. */
static void chart_slide(struct tui_chart *c, long k)
{
	if (k <= c->k0)
		return;
	size_t drop = (size_t)(k - c->k0) < c->n ? (size_t)(k - c->k0) : c->n;
	c->k0 = k;
	if (!drop)
		return;
	for (size_t i = 0; i < drop; i++)
		for (int s = 0; s < TUI_SERIES; s++)
			if (!isnan(c->v[i * TUI_SERIES + s]))
				c->before[s] = c->v[i * TUI_SERIES + s];
	memmove(c->v, c->v + drop * TUI_SERIES, (c->n - drop) * TUI_SERIES * sizeof(*c->v));
	c->n -= drop;
}

int tui_chart_update(struct tui_chart *c, const struct run *run, double now, double window,
		     size_t dots)
{
	if (!dots)
		dots = 1;
	double w;
	if (window > 0) {
		w = window / (double)dots;
	} else {
		w = 0.01;
		while (w * 4 * (double)dots < now)
			w *= 2;
	}
	int top[TUI_TOP];
	int ntop = top_procs(run, top);
	bool restarted = c->next > run->n_samples ||
			 (c->next > 0 && run->samples[c->next - 1].t != c->last_t);
	bool same_top =
		ntop + 1 == c->ns && (!ntop || !memcmp(top, c->proc, (size_t)ntop * sizeof(int)));
	if (window != c->window || dots != c->dots || w != c->w || !same_top || restarted) {
		c->window = window;
		c->dots = dots;
		c->w = w;
		c->ns = ntop + 1;
		if (ntop)
			memcpy(c->proc, top, (size_t)ntop * sizeof(int));
		c->n = 0;
		for (int s = 0; s < TUI_SERIES; s++)
			c->before[s] = NAN;
		c->k0 = window > 0 ? (long)floor((now - window) / w) : 0;
		if (c->k0 < 0)
			c->k0 = 0;
		/* One sample before the window too, for the value the line enters it with. */
		c->next = run_sample_from(run, (double)c->k0 * w);
		if (c->next > 0)
			c->next--;
		c->last_t = c->next > 0 ? run->samples[c->next - 1].t : 0;
		c->rebuilds++;
	}
	if (window > 0) {
		long k = (long)floor((now - window) / w);
		chart_slide(c, k);
	}
	while (c->next < run->n_samples && run->samples[c->next].t <= now) {
		if (chart_add_sample(c, run, c->next) < 0)
			return -1;
		c->last_t = run->samples[c->next].t;
		c->next++;
	}
	return 0;
}

void tui_chart_columns(const struct tui_chart *c, int s, double t0, double t1, size_t dots,
		       double *out)
{
	if (s >= c->ns) {
		for (size_t i = 0; i < dots; i++)
			out[i] = NAN;
		return;
	}
	tui_bins_columns(c->v + s, TUI_SERIES, c->n, c->k0, c->w, c->before[s], t0, t1, dots, out);
}

/* ---- a frame: what one screen shows, copied out of the model under the lock ---- */

_Static_assert(TUI_C_RED >= TUI_C_SERIES + TUI_SERIES, "a colour pair for every series");

struct text {
	size_t off, len; /* in frame.str */
};

struct prow {
	int proc; /* index into run->procs */
	pid_t pid;
	struct text cmd;
	long long rss, peak; /* KiB, -1 unknown */
	double cpu;	     /* percent of one CPU, < 0 unknown */
	long long cpu_base;  /* its CPU ms at the start of the CPU window, -1 unknown */
	long long threads;   /* its threads then, -1 unknown */
	char state[12];
	int series; /* its chart series, 0 when not drawn */
};

/* A row of the thread table. */
struct trow {
	pid_t tid;
	struct text name;
	double cpu;	      /* percent of one CPU, < 0 unknown */
	long long heap, peak; /* bytes, -1 unknown */
	bool ended;
};

struct fline {
	double t;
	long long rss;
	bool err;
	struct text text;
};

/* The screen's layout, from its size. */
struct layout {
	int rows, cols;
	int chart_y, chart_h, chart_x, chart_w;
	int table_y, table_h;
	int panes_y, panes_h;
	int cmd_w;
};

struct frame {
	struct strbuf str;
	struct text title, command, ending, error;
	enum run_status status;
	bool running, finished;
	double now, t0, t1; /* the window drawn */
	double elapsed;
	/* the leading line's value now and its peak over the run, KiB: the job's memory (job,
	 * by method), else the tree's RSS; the RSS sum's peak beside a job's where it differs */
	long long rss, peak, rss_sum;
	double peak_t;
	bool job;
	enum memory_method method;
	size_t n_alive, n_procs;
	struct prow *rows;
	size_t n_rows, alloc_rows;
	struct fline *events, *outs;
	size_t n_events, n_outs, alloc_lines;
	size_t events_total, outs_total;
	double *col[TUI_SERIES]; /* chart values per dot column */
	size_t dots, alloc_dots;
	int ns;
	struct text legend[TUI_SERIES];
	unsigned char *marks; /* per character column of the chart: 1 event, 2 the peak */
	size_t alloc_marks;
	/* the thread table ('t'): instead of the processes', one process's threads */
	bool threads;
	struct text th_head; /* its heading: which process */
	struct trow *trows;
	size_t n_trows, alloc_trows;
	/* the latest stack capture (--stacks): a heading, and its frames or its error */
	bool has_stacks;
	unsigned stacks_when; /* the header's (1 << enum stack_why) */
	struct text stack_head;
	struct text *stack_lines;
	size_t n_stack, alloc_stack;
};

struct tui {
	struct live *live;
	const struct tui_options *opt;
	struct tui_chart chart;
	struct frame f;
	struct layout lay;
	int *slot; /* scratch, per process of the model: its entry in the last sample, or -1 */
	size_t n_slot;
	struct tui_term term;
	struct tui_view v;  /* the history window, paused, help */
	const char *notice; /* what a key said (static text), shown until notice_until */
	double notice_until;
	/* the thread table: shown ('t'), its process (an index into run->procs, and its pid to
	 * tell a model that started over; -1 none chosen yet), and 'n' asked for the next one */
	bool threads;
	int th_proc;
	pid_t th_pid;
	bool th_next;
};

static struct text frame_text(struct frame *f, size_t start)
{
	return (struct text){start, f->str.len - start};
}

/* Appends untrusted text escaped and cut to cols columns; returns its place. */
static struct text frame_escape(struct frame *f, const char *s, size_t len, size_t cols)
{
	size_t start = f->str.len;
	text_escape(&f->str, s, len, cols ? cols : 1);
	return frame_text(f, start);
}

static void *grow(void *p, size_t *alloc, size_t n, size_t size)
{
	if (n <= *alloc)
		return p;
	size_t a = *alloc ? *alloc : 16;
	while (a < n)
		a *= 2;
	void *q = realloc(p, a * size);
	if (q)
		*alloc = a;
	return q;
}

static void layout_compute(struct layout *l, int rows, int cols)
{
	l->rows = rows;
	l->cols = cols;
	/* Fixed rows: title, summary, axis, legend, table header, panes header, bottom line. */
	int free_rows = rows - 7;
	if (free_rows < 3)
		free_rows = 3;
	l->chart_h = free_rows * 2 / 5;
	if (l->chart_h < 2)
		l->chart_h = 2;
	l->table_h = (free_rows - l->chart_h) / 2;
	if (l->table_h < 1)
		l->table_h = 1;
	l->panes_h = free_rows - l->chart_h - l->table_h;
	if (l->panes_h < 0)
		l->panes_h = 0;
	l->chart_y = 2;
	l->chart_x = cols >= 40 ? 10 : 0;
	l->chart_w = cols - l->chart_x;
	if (l->chart_w < 1)
		l->chart_w = 1;
	l->table_y = l->chart_y + l->chart_h + 2;
	l->panes_y = l->table_y + 1 + l->table_h;
	/* PID, RSS, PEAK, CPU% and state take 7 + 10 + 10 + 6 + 6 columns and 5 spaces. */
	l->cmd_w = cols - 44;
	if (l->cmd_w < 8)
		l->cmd_w = 8;
}

/* The elapsed time of the run: the wall clock while a followed run goes on. */
static double run_now(const struct tui *ui, const struct run *run)
{
	double now = run->duration > 0 ? run->duration : 0;
	if (ui->live->follow_on && !ui->live->finished && run->status == RUN_RUNNING &&
	    run->has_header && run->header.start_unix > 0) {
		double wall = tui_wall_now() - run->header.start_unix;
		if (wall > now)
			now = wall;
	}
	return now;
}

static int cmp_rss(const void *a, const void *b)
{
	const struct prow *x = a, *y = b;
	if (x->rss != y->rss)
		return x->rss < y->rss ? 1 : -1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* A gone process's state column: "oom", "killed", "exit N", or "gone" when how is unknown. */
static void exit_state(const struct run_proc *p, char out[12])
{
	if (p->exit.oom)
		snprintf(out, 12, "oom");
	else if (p->exit.how == EXIT_HOW_KILLED)
		snprintf(out, 12, "killed");
	else if (p->exit.how == EXIT_HOW_EXITED && p->exit.code >= 0)
		snprintf(out, 12, "exit %d", p->exit.code > 999 ? 999 : p->exit.code);
	else
		snprintf(out, 12, "gone");
}

/* Adds the row of process i (its text comes later, from frame_row_text). */
static struct prow *frame_add_row(struct tui *ui, const struct run *run, size_t i)
{
	struct frame *f = &ui->f;
	struct prow *r = grow(f->rows, &f->alloc_rows, f->n_rows + 1, sizeof(*r));
	if (!r)
		return NULL;
	f->rows = r;
	r = &f->rows[f->n_rows++];
	memset(r, 0, sizeof(*r));
	const struct run_proc *p = &run->procs[i];
	r->proc = (int)i;
	r->pid = p->pid;
	r->rss = -1;
	r->peak = p->peak;
	r->cpu = -1;
	r->cpu_base = -1;
	r->threads = -1;
	if (p->exited)
		exit_state(p, r->state);
	else
		snprintf(r->state, sizeof(r->state), "?");
	return r;
}

/*
 * Each row's CPU% (rows are the last sample's entries, in its order), over the last window of
 * at least series_cpu_window() (series.h has the definition): from the latest sample that far
 * back, or from its start for a process that started since.
 */
static void table_cpu(struct tui *ui, const struct run *run, const struct run_sample *last)
{
	struct frame *f = &ui->f;
	double t0 = last->t - series_cpu_window(run);
	size_t i = run_sample_from(run, t0);
	if (i < run->n_samples && run->samples[i].t <= t0)
		i++;
	const struct run_sample *prev = i > 0 ? &run->samples[i - 1] : NULL;
	t0 = prev ? prev->t : 0;
	double dt = last->t - t0;
	for (size_t j = last->first; j < last->first + last->n; j++) {
		const struct run_proc_sample *b = run_ps(run, j);
		f->rows[j - last->first].cpu_base = run->procs[b->proc].start >= t0 ? 0 : -1;
		ui->slot[b->proc] = (int)(j - last->first);
	}
	for (size_t j = prev ? prev->first : 0; prev && j < prev->first + prev->n; j++) {
		const struct run_proc_sample *ps = run_ps(run, j);
		int k = ui->slot[ps->proc];
		if (k < 0)
			continue;
		long long au = run_ps_value(run, ps, PF_UTIME),
			  as = run_ps_value(run, ps, PF_STIME);
		f->rows[k].cpu_base = au < 0 || as < 0 ? -1 : au + as;
		f->rows[k].threads = run_ps_value(run, ps, PF_THREADS);
	}
	for (size_t j = last->first; j < last->first + last->n; j++) {
		const struct run_proc_sample *b = run_ps(run, j);
		struct prow *r = &f->rows[j - last->first];
		long long bu = run_ps_value(run, b, PF_UTIME), bs = run_ps_value(run, b, PF_STIME);
		long long th = run_ps_value(run, b, PF_THREADS);
		if (th < r->threads)
			th = r->threads;
		if (bu >= 0 && bs >= 0 && r->cpu_base >= 0 && bu + bs >= r->cpu_base) {
			double v = series_cpu_percent(bu + bs - r->cpu_base, dt, th);
			r->cpu = isnan(v) ? -1 : v;
		}
		ui->slot[b->proc] = -1;
	}
}

/* Rows for the processes alive at the last sample, largest RSS first, at most want. */
static int table_alive(struct tui *ui, const struct run *run, const struct run_sample *last,
		       size_t want)
{
	struct frame *f = &ui->f;
	f->n_alive = last->n;
	/* Row k is entry k of the last sample until the sort. */
	for (size_t j = last->first; j < last->first + last->n; j++) {
		const struct run_proc_sample *ps = run_ps(run, j);
		struct prow *r = frame_add_row(ui, run, (size_t)ps->proc);
		if (!r)
			return -1;
		r->rss = run_ps_value(run, ps, PF_RSS);
		snprintf(r->state, sizeof(r->state), "%c", ps->state ? ps->state : '?');
	}
	table_cpu(ui, run, last);
	if (f->n_rows)
		qsort(f->rows, f->n_rows, sizeof(*f->rows), cmp_rss);
	if (f->n_rows > want)
		f->n_rows = want;
	return 0;
}

/* The rows left under them: the processes not in the last sample with the highest peaks. */
static int table_gone(struct tui *ui, const struct run *run, const struct run_sample *last,
		      size_t want)
{
	struct frame *f = &ui->f;
	size_t have = f->n_rows, spare = want - have;
	for (size_t i = 0; i < run->n_procs && spare; i++) {
		const struct run_proc *p = &run->procs[i];
		if (last && p->last_sample == (long)run->n_samples - 1)
			continue;
		size_t n = f->n_rows - have;
		if (n == spare && run->procs[f->rows[f->n_rows - 1].proc].peak >= p->peak)
			continue;
		if (n == spare)
			f->n_rows--;
		if (!frame_add_row(ui, run, i))
			return -1;
		for (size_t k = f->n_rows - 1;
		     k > have && run->procs[f->rows[k - 1].proc].peak < p->peak; k--) {
			struct prow t = f->rows[k];
			f->rows[k] = f->rows[k - 1];
			f->rows[k - 1] = t;
		}
	}
	return 0;
}

/*
 * The process table: the processes of the last sample by RSS (CPU% from their CPU time since
 * the sample before), then, in the rows left, the others (gone, or not sampled yet) by peak.
 * Only the rows shown get their command line formatted.
 */
static int frame_table(struct tui *ui, const struct run *run)
{
	struct frame *f = &ui->f;
	size_t want = (size_t)ui->lay.table_h;
	f->n_rows = 0;
	f->n_alive = 0;
	f->n_procs = run->n_procs;
	if (run->n_procs > ui->n_slot) {
		int *s = realloc(ui->slot, run->n_procs * sizeof(*s));
		if (!s)
			return -1;
		for (size_t i = ui->n_slot; i < run->n_procs; i++)
			s[i] = -1;
		ui->slot = s;
		ui->n_slot = run->n_procs;
	}
	const struct run_sample *last = run->n_samples ? &run->samples[run->n_samples - 1] : NULL;
	if ((last && table_alive(ui, run, last, want) < 0) || table_gone(ui, run, last, want) < 0)
		return -1;
	for (size_t k = 0; k < f->n_rows; k++) {
		struct prow *r = &f->rows[k];
		for (int s = 1; s < ui->chart.ns; s++)
			if (ui->chart.proc[s - 1] == r->proc)
				r->series = s;
		struct strbuf cmd = STRBUF_INIT;
		run_proc_cmd(run, (size_t)r->proc, &cmd);
		/* one the kernel told of at its exit: no sample has it, its row is its end's */
		static const char at_exit[] = " (seen only at its exit)";
		bool mark = run->procs[r->proc].at_exit;
		size_t w = (size_t)ui->lay.cmd_w,
		       room = mark && w > 2 * sizeof(at_exit) ? w - (sizeof(at_exit) - 1) : w;
		size_t start = f->str.len;
		text_escape(&f->str, cmd.buf ? cmd.buf : "", cmd.len, room);
		if (mark)
			strbuf_addstr(&f->str, at_exit);
		r->cmd = frame_text(f, start);
		strbuf_release(&cmd);
	}
	return 0;
}

/*
 * The process of the thread table: the one chosen before (while it is still the model's), else
 * the first of the process table's rows with threads, else the one with the largest heap (or
 * most CPU) of those with threads, else the table's first; 'n' then goes to the next process
 * with threads in the model's order. -1 when the model has no process.
 */
static int thread_proc(struct tui *ui, const struct run *run, const bool *has)
{
	const struct frame *f = &ui->f;
	size_t np = run->n_procs;
	int proc = ui->th_proc;
	if (!np)
		return -1;
	if (proc < 0 || (size_t)proc >= np || run->procs[proc].pid != ui->th_pid) {
		proc = -1;
		for (size_t k = 0; k < f->n_rows && proc < 0; k++)
			if (has[f->rows[k].proc])
				proc = f->rows[k].proc;
		if (proc < 0)
			proc = series_threads_default(run);
		if (proc < 0)
			proc = f->n_rows ? f->rows[0].proc : 0;
	}
	if (ui->th_next) {
		for (size_t i = 1; i <= np; i++) {
			int c = (int)(((size_t)proc + i) % np);
			if (has[c]) {
				proc = c;
				break;
			}
		}
	}
	return proc;
}

/* A process that had one thread all its life: the process is its thread, its one row. */
static int thread_row_of_proc(struct tui *ui, const struct run *run, int proc, size_t cols)
{
	struct frame *f = &ui->f;
	struct trow *r = grow(f->trows, &f->alloc_trows, 1, sizeof(*r));
	if (!r)
		return -1;
	f->trows = r;
	const struct run_proc *p = &run->procs[proc];
	*r = (struct trow){.tid = p->pid, .cpu = -1, .heap = -1, .peak = -1, .ended = p->exited};
	r->name = frame_escape(f, p->comm, strlen(p->comm), cols);
	for (size_t k = 0; k < f->n_rows; k++)
		if (f->rows[k].proc == proc)
			r->cpu = f->rows[k].cpu;
	const struct run_sample *last = run->n_samples ? &run->samples[run->n_samples - 1] : NULL;
	for (size_t j = last ? last->first : 0; last && j < last->first + last->n; j++) {
		const struct run_proc_sample *ps = run_ps(run, j);
		long long heap = ps->proc == proc ? run_ps_value(run, ps, PF_HEAP) : -1;
		if (heap >= 0)
			r->heap = heap * 1024;
	}
	r->peak = p->heap_peak >= 0 ? p->heap_peak * 1024 : -1;
	f->n_trows = 1;
	return 0;
}

/*
 * The thread table ('t'): the chosen process's threads (thread_proc), those still running
 * first, each group by its heap peak, else its CPU time (run_threads_of's order), as many as
 * the table shows: tid, name, CPU% now (series_threads_cpu_now), live heap and its peak.
 */
static int frame_threads(struct tui *ui, const struct run *run)
{
	struct frame *f = &ui->f;
	f->threads = ui->threads;
	f->n_trows = 0;
	f->th_head = frame_text(f, f->str.len);
	if (!ui->threads)
		return 0;
	size_t np = run->n_procs;
	bool *has = calloc(np ? np : 1, sizeof(*has));
	if (!has)
		return -1;
	for (size_t i = 0; i < run->threads.n; i++)
		if (run->threads.v[i].proc >= 0 && (size_t)run->threads.v[i].proc < np)
			has[run->threads.v[i].proc] = true;
	int proc = thread_proc(ui, run, has);
	ui->th_next = false;
	free(has);
	if (proc < 0)
		return 0;
	ui->th_proc = proc;
	ui->th_pid = run->procs[proc].pid;
	size_t name_w = (size_t)(ui->lay.cols - 45 > 8 ? ui->lay.cols - 45 : 8);
	size_t n = 0, count = 0;
	for (size_t i = 0; i < run->threads.n; i++)
		count += run->threads.v[i].proc == proc;
	size_t *idx = count ? run_threads_of(&run->threads, proc, &n) : NULL;
	if (count && !idx)
		return -1;
	size_t start = f->str.len;
	const char *comm = run->procs[proc].comm;
	strbuf_addf(&f->str, "THREADS OF %d ", (int)run->procs[proc].pid);
	text_escape(&f->str, comm, strlen(comm), 15);
	strbuf_addf(&f->str, " (%zu)", n ? n : 1);
	f->th_head = frame_text(f, start);
	if (!n)
		return thread_row_of_proc(ui, run, proc, name_w);
	/* those still running first, keeping the order within each */
	size_t *order = malloc(n * sizeof(*order)), m = 0;
	double *cpu = malloc(n * sizeof(*cpu));
	if (!order || !cpu) {
		free(order);
		free(cpu);
		free(idx);
		return -1;
	}
	for (int ended = 0; ended < 2; ended++)
		for (size_t i = 0; i < n; i++)
			if ((run->threads.v[idx[i]].end_t >= 0) == ended)
				order[m++] = idx[i];
	free(idx);
	idx = order;
	size_t want = (size_t)ui->lay.table_h;
	if (n > want)
		n = want;
	struct trow *rows = grow(f->trows, &f->alloc_trows, n ? n : 1, sizeof(*rows));
	if (!rows) {
		free(cpu);
		free(idx);
		return -1;
	}
	f->trows = rows;
	series_threads_cpu_now(run, proc, idx, n, cpu);
	/* a process the last sample no longer has: its threads ended with it */
	bool gone = run->procs[proc].last_sample != (long)run->n_samples - 1;
	for (size_t i = 0; i < n; i++) {
		const struct run_th *x = &run->threads.v[idx[i]];
		struct trow *r = &f->trows[i];
		r->tid = x->tid;
		r->cpu = isnan(cpu[i]) || gone ? -1 : cpu[i];
		r->heap = x->heap;
		r->peak = x->heap_peak;
		r->ended = x->end_t >= 0 || gone;
		if (x->tid < 0) {
			start = f->str.len;
			strbuf_addstr(&f->str, "(more threads)");
			r->name = frame_text(f, start);
		} else {
			r->name = frame_escape(f, x->name[0] ? x->name : "?",
					       x->name[0] ? strlen(x->name) : 1, name_w);
		}
	}
	f->n_trows = n;
	free(cpu);
	free(idx);
	return 0;
}

/* The latest events and output lines, as many as the panes show. */
static int frame_panes(struct tui *ui, const struct run *run)
{
	struct frame *f = &ui->f;
	size_t rows = ui->lay.panes_h > 0 ? (size_t)ui->lay.panes_h : 0;
	size_t half = (size_t)(ui->lay.cols / 2 > 12 ? ui->lay.cols / 2 : 12);
	size_t cap = f->alloc_lines;
	struct fline *e = grow(f->events, &cap, rows + 1, sizeof(*e));
	if (!e)
		return -1;
	f->events = e;
	cap = f->alloc_lines;
	struct fline *o = grow(f->outs, &cap, rows + 1, sizeof(*o));
	if (!o)
		return -1;
	f->outs = o;
	f->alloc_lines = cap;
	f->events_total = run->n_events;
	f->outs_total = run->n_outputs;
	size_t first = run->n_events > rows ? run->n_events - rows : 0;
	f->n_events = 0;
	for (size_t i = first; i < run->n_events; i++) {
		const struct run_event *ev = &run->events[i];
		struct fline *l = &f->events[f->n_events++];
		l->t = ev->t;
		l->rss = ev->rss;
		l->err = false;
		l->text = frame_escape(f, ev->label, ev->label_len, half > 12 ? half - 12 : 1);
	}
	first = run->n_outputs > rows ? run->n_outputs - rows : 0;
	f->n_outs = 0;
	for (size_t i = first; i < run->n_outputs; i++) {
		const struct run_output *out = &run->outputs[i];
		struct fline *l = &f->outs[f->n_outs++];
		l->t = out->t;
		l->err = out->err;
		l->text = frame_escape(f, out->text, out->len, (size_t)ui->lay.cols - half - 1);
	}
	return 0;
}

/* The thread a capture is shown by: the process's main thread, else its first. */
static const struct run_stack *main_stack(const struct run_capture *c)
{
	for (size_t k = 0; k < c->n_stacks; k++)
		if (c->stacks[k].tid == c->pid)
			return &c->stacks[k];
	return c->n_stacks ? &c->stacks[0] : NULL;
}

/* The latest capture: a heading and, as many as the pane shows, its main thread's frames. */
static int frame_stack(struct tui *ui, const struct run *run)
{
	struct frame *f = &ui->f;
	const struct run_stacks *st = &run->stacks;
	f->stacks_when = run->header.stacks_when;
	f->has_stacks = st->n_captures > 0;
	f->n_stack = 0;
	if (!f->has_stacks)
		return 0;
	const struct run_capture *c = &st->captures[st->n_captures - 1];
	const struct run_stack *s = main_stack(c);
	int half = ui->lay.cols / 2 > 12 ? ui->lay.cols / 2 : 12;
	size_t cols = ui->lay.cols - half > 1 ? (size_t)(ui->lay.cols - half - 1) : 1;
	size_t start = f->str.len;
	strbuf_addf(&f->str, "STACK #%ld at ", c->number);
	text_secs(&f->str, c->t);
	strbuf_addf(&f->str, " (%s), pid %d", stack_why_names[c->why], (int)c->pid);
	if (s && s->tid != c->pid)
		strbuf_addf(&f->str, " thread %d", (int)s->tid);
	if (c->n_stacks > 1)
		strbuf_addf(&f->str, ", +%zu threads", c->n_stacks - 1);
	f->stack_head = frame_text(f, start);
	size_t rows = ui->lay.panes_h > 0 ? (size_t)ui->lay.panes_h : 0;
	struct text *l = grow(f->stack_lines, &f->alloc_stack, rows + 1, sizeof(*l));
	if (!l)
		return -1;
	f->stack_lines = l;
	const struct run_stack_group *g = s ? &st->groups[s->group] : NULL;
	if (s && s->error)
		l[f->n_stack++] = frame_escape(f, s->error, strlen(s->error), cols);
	struct strbuf name = STRBUF_INIT;
	for (size_t k = 0; g && k < g->n_frames && f->n_stack < rows; k++) {
		strbuf_reset(&name);
		run_frame_name_raw(run_stacks_frame(st, s->group, k), &name);
		l[f->n_stack++] = frame_escape(f, name.buf ? name.buf : "", name.len, cols);
	}
	f->str.oom |= name.oom;
	strbuf_release(&name);
	return 0;
}

static int frame_chart(struct tui *ui, const struct run *run)
{
	struct frame *f = &ui->f;
	size_t w = (size_t)ui->lay.chart_w;
	size_t dots = ui->term.utf8 ? 2 * w : w;
	f->t1 = f->now;
	f->t0 = ui->v.window > 0 ? f->now - ui->v.window : 0;
	if (f->t1 <= f->t0)
		f->t1 = f->t0 + 1;
	if (tui_chart_update(&ui->chart, run, f->now, ui->v.window, dots) < 0)
		return -1;
	if (dots > f->alloc_dots) {
		for (int s = 0; s < TUI_SERIES; s++) {
			double *c = realloc(f->col[s], dots * sizeof(*c));
			if (!c)
				return -1;
			f->col[s] = c;
		}
		f->alloc_dots = dots;
	}
	f->dots = dots;
	f->ns = ui->chart.ns;
	for (int s = 0; s < f->ns; s++)
		tui_chart_columns(&ui->chart, s, f->t0, f->t1, dots, f->col[s]);
	for (int s = 0; s < f->ns; s++) {
		size_t start = f->str.len;
		if (s == 0 && run_measures_job(run)) {
			strbuf_addf(&f->str, "job (%s)",
				    report_method_words(run->header.method, true));
		} else if (s == 0) {
			strbuf_addstr(&f->str, "tree");
		} else {
			const struct run_proc *p = &run->procs[ui->chart.proc[s - 1]];
			strbuf_addf(&f->str, "%d ", (int)p->pid);
			text_escape(&f->str, p->comm, strlen(p->comm), 15);
		}
		f->legend[s] = frame_text(f, start);
	}
	unsigned char *m = grow(f->marks, &f->alloc_marks, w, 1);
	if (!m)
		return -1;
	f->marks = m;
	memset(m, 0, w);
	double span = f->t1 - f->t0;
	for (size_t i = run_event_from(run, f->t0); i < run->n_events && run->events[i].t <= f->t1;
	     i++)
		m[(size_t)fmin((double)w - 1, (run->events[i].t - f->t0) / span * (double)w)] = 1;
	if (f->peak > 0 && f->peak_t >= f->t0 && f->peak_t <= f->t1)
		m[(size_t)fmin((double)w - 1, (f->peak_t - f->t0) / span * (double)w)] = 2;
	return 0;
}

/* Copies what a frame shows out of the model; takes the live lock. Returns -1 when out of memory.
 */
static int frame_build(struct tui *ui, unsigned long *version)
{
	struct frame *f = &ui->f;
	struct live *l = ui->live;
	int ret = 0;
	strbuf_reset(&f->str);
	live_lock(l);
	const struct run *run = &l->follow.run;
	*version = l->version;
	f->finished = l->finished;
	f->status = run->status;
	f->running = run->status == RUN_RUNNING && l->follow_on && !l->finished;
	f->now = ui->v.paused ? ui->v.paused_now : run_now(ui, run);
	f->elapsed = f->now;
	f->rss =
		run->n_samples ? (long long)lead_value(run, &run->samples[run->n_samples - 1]) : -1;
	f->job = run_measures_job(run);
	f->method = run->header.method;
	f->peak = f->job ? run->job_peak : run->peak;
	f->peak_t = f->job ? run->job_peak_t : run->peak_t;
	f->rss_sum = f->job && run->peak != run->job_peak ? run->peak : -1;
	size_t start = f->str.len;
	const char *title = ui->opt && ui->opt->title ? ui->opt->title : run->path;
	strbuf_addstr(&f->str, title ? title : "");
	f->title = frame_text(f, start);
	struct strbuf tmp = STRBUF_INIT;
	run_command(run, &tmp);
	f->command = frame_escape(f, tmp.buf ? tmp.buf : "", tmp.len, (size_t)ui->lay.cols);
	strbuf_reset(&tmp);
	f->ending = frame_text(f, f->str.len);
	if (run->status != RUN_RUNNING) {
		report_ending(run, &tmp);
		start = f->str.len;
		text_escape(&f->str, tmp.buf ? tmp.buf : "", tmp.len, (size_t)ui->lay.cols - 1);
		f->ending = frame_text(f, start);
	}
	strbuf_release(&tmp);
	f->error = frame_escape(f, l->error.buf ? l->error.buf : "", l->error.len,
				(size_t)ui->lay.cols - 1);
	if (!l->error.len)
		f->error.len = 0;
	if (frame_table(ui, run) < 0 || frame_threads(ui, run) < 0 || frame_panes(ui, run) < 0 ||
	    frame_stack(ui, run) < 0 || frame_chart(ui, run) < 0)
		ret = -1;
	live_unlock(l);
	if (f->str.oom)
		ret = -1;
	return ret;
}

static void frame_release(struct frame *f)
{
	strbuf_release(&f->str);
	free(f->stack_lines);
	free(f->trows);
	free(f->rows);
	free(f->events);
	free(f->outs);
	for (int s = 0; s < TUI_SERIES; s++)
		free(f->col[s]);
	free(f->marks);
	memset(f, 0, sizeof(*f));
}

/* ---- drawing ---- */

static const char *ftext(const struct frame *f, struct text t)
{
	return f->str.buf ? f->str.buf + t.off : "";
}

static void add_window_name(struct strbuf *sb, double window)
{
	if (window <= 0)
		strbuf_addstr(sb, "whole run");
	else
		text_secs(sb, window);
}

static void draw_title(struct tui *ui)
{
	const struct frame *f = &ui->f;
	tui_draw_title(&ui->term, ftext(f, f->title), f->title.len, f->elapsed, f->running,
		       f->status);
}

void tui_memory_text(bool job, enum memory_method method, long long now, long long peak,
		     double peak_t, struct strbuf *out)
{
	strbuf_addstr(out, job ? "memory " : "RSS ");
	text_bytes(out, now >= 0 ? now * 1024 : -1);
	strbuf_addstr(out, "  peak ");
	text_bytes(out, peak >= 0 ? peak * 1024 : -1);
	if (peak >= 0 && peak_t >= 0) { /* a negative time: the peak without its time */
		strbuf_addstr(out, " at ");
		text_secs(out, peak_t);
	}
	if (job)
		strbuf_addf(out, " (%s)", report_method_words(method, true));
}

/*
 * The summary row: the memory (tui_memory_text), the processes and the window, then the RSS
 * sum beside a job's memory. What does not fit goes, least needed first (level 0 keeps all):
 * the RSS sum (1), then the method's name (the chart's legend says it too), "memory" said
 * "job" (2), then the peak's time (3). The window stays: it answers the keys + and -.
 */
static void summary_text(struct tui *ui, int level, struct strbuf *sb)
{
	const struct frame *f = &ui->f;
	strbuf_reset(sb);
	if (level < 2 || !f->job) {
		tui_memory_text(f->job, f->method, f->rss, f->peak, level < 3 ? f->peak_t : -1, sb);
	} else { /* shorter: "job", and without the method's name */
		strbuf_addstr(sb, "job ");
		text_bytes(sb, f->rss >= 0 ? f->rss * 1024 : -1);
		strbuf_addstr(sb, "  peak ");
		text_bytes(sb, f->peak >= 0 ? f->peak * 1024 : -1);
		if (f->peak >= 0 && level < 3) {
			strbuf_addstr(sb, " at ");
			text_secs(sb, f->peak_t);
		}
	}
	strbuf_addf(sb, "  %zu/%zu procs  window ", f->n_alive, f->n_procs);
	add_window_name(sb, ui->v.window);
	if (level == 0 && f->rss_sum >= 0) {
		strbuf_addstr(sb, "  RSS sum ");
		text_bytes(sb, f->rss_sum * 1024);
	}
}

static void draw_summary(struct tui *ui)
{
	const struct frame *f = &ui->f;
	struct strbuf *sb = &ui->term.line;
	int room = ui->lay.cols - (ui->v.paused ? 9 : 0);
	for (int level = 0; level <= 3; level++) {
		summary_text(ui, level, sb);
		if ((int)sb->len <= room)
			break;
	}
	tui_put(1, 0, sb->buf, sb->len, ui->lay.cols);
	if (ui->v.paused) {
		tui_color(&ui->term, TUI_C_YELLOW, A_BOLD | A_REVERSE);
		tui_put(1, ui->lay.cols - 8, " PAUSED ", 8, 8);
		attrset(A_NORMAL);
	} else if (f->command.len && (int)sb->len + 6 < ui->lay.cols) {
		int x = (int)sb->len + 3;
		tui_color(&ui->term, TUI_C_DIM, A_DIM);
		strbuf_reset(sb);
		strbuf_addstr(sb, "$ ");
		text_escape(sb, ftext(f, f->command), f->command.len,
			    (size_t)(ui->lay.cols - x - 2));
		tui_put(1, x, sb->buf, sb->len, ui->lay.cols - x);
		attrset(A_NORMAL);
	}
}

static void draw_chart(struct tui *ui)
{
	const struct frame *f = &ui->f;
	const struct layout *L = &ui->lay;
	/* the tree's line last, on top */
	struct tui_line lines[TUI_SERIES];
	struct tui_legend legend[TUI_SERIES];
	for (int s = 0; s < f->ns; s++) {
		lines[f->ns - 1 - s] = (struct tui_line){f->col[s], NULL, TUI_C_SERIES + s};
		legend[s] = (struct tui_legend){ftext(f, f->legend[s]), f->legend[s].len,
						TUI_C_SERIES + s};
	}
	double ymax = tui_lines_ymax(lines, f->ns, f->dots);
	tui_draw_lines(&ui->term, L->chart_y, L->chart_x, L->chart_h, L->chart_w, f->dots, lines,
		       f->ns, ymax);
	tui_draw_scale(&ui->term, L->chart_y, L->chart_h, L->chart_x, ymax);
	tui_draw_marks(&ui->term, L->chart_y + L->chart_h, L->chart_x, L->chart_w, f->marks);
	tui_draw_time_row(&ui->term, L->chart_y + L->chart_h + 1, L->chart_x, ui->v.window,
			  f->running, f->t1, legend, f->ns);
}

static void draw_table(struct tui *ui)
{
	const struct frame *f = &ui->f;
	const struct layout *L = &ui->lay;
	tui_color(&ui->term, TUI_C_TITLE, A_BOLD | A_UNDERLINE);
	tui_putf(&ui->term, L->table_y - 1 + 1, 0, L->cols, "%7s %-*s %10s %10s %6s %-6s", "PID",
		 L->cmd_w, "COMMAND", "RSS", "PEAK", "CPU%", "STATE");
	attrset(A_NORMAL);
	struct strbuf *sb = &ui->term.tmp;
	for (size_t i = 0; i < f->n_rows && (int)i < L->table_h; i++) {
		const struct prow *r = &f->rows[i];
		int y = L->table_y + 1 + (int)i;
		tui_color(&ui->term, r->series ? TUI_C_SERIES + r->series : 0,
			  r->series ? A_BOLD : 0);
		tui_putf(&ui->term, y, 0, 7, "%7d", (int)r->pid);
		attrset(r->rss < 0 ? A_DIM : A_NORMAL);
		tui_put(y, 8, ftext(f, r->cmd), r->cmd.len, L->cmd_w);
		strbuf_reset(sb);
		strbuf_addch(sb, ' ');
		if (r->rss >= 0)
			text_bytes(sb, r->rss * 1024);
		else
			strbuf_addch(sb, '-');
		tui_putf(&ui->term, y, 8 + L->cmd_w, 11, "%11s", sb->buf);
		strbuf_reset(sb);
		text_bytes(sb, r->peak >= 0 ? r->peak * 1024 : -1);
		tui_putf(&ui->term, y, 19 + L->cmd_w, 11, "%11s", sb->buf);
		if (r->cpu >= 0)
			tui_putf(&ui->term, y, 30 + L->cmd_w, 7, "%7.1f", r->cpu);
		else
			tui_putf(&ui->term, y, 30 + L->cmd_w, 7, "%7s", "-");
		bool bad = !strcmp(r->state, "oom") || !strcmp(r->state, "killed") ||
			   (!strncmp(r->state, "exit ", 5) && strcmp(r->state, "exit 0"));
		if (bad)
			tui_color(&ui->term, TUI_C_RED, 0);
		tui_putf(&ui->term, y, 38 + L->cmd_w, L->cols - 38 - L->cmd_w, "%s", r->state);
		attrset(A_NORMAL);
	}
}

/* The thread table, in the process table's place: TID, name, CPU%, live heap, its peak. */
static void draw_threads(struct tui *ui)
{
	const struct frame *f = &ui->f;
	const struct layout *L = &ui->lay;
	int name_w = L->cols - 45 > 8 ? L->cols - 45 : 8;
	struct strbuf *sb = &ui->term.tmp;
	tui_color(&ui->term, TUI_C_TITLE, A_BOLD | A_UNDERLINE);
	tui_putf(&ui->term, L->table_y, 0, L->cols, "%7s %-*s %7s %10s %10s %-6s", "TID", name_w,
		 "", "CPU%", "HEAP", "PEAK", "STATE");
	tui_put(L->table_y, 8, ftext(f, f->th_head), f->th_head.len, name_w);
	attrset(A_NORMAL);
	for (size_t i = 0; i < f->n_trows && (int)i < L->table_h; i++) {
		const struct trow *r = &f->trows[i];
		int y = L->table_y + 1 + (int)i;
		attrset(r->ended ? A_DIM : A_NORMAL);
		if (r->tid >= 0)
			tui_putf(&ui->term, y, 0, 7, "%7d", (int)r->tid);
		else
			tui_putf(&ui->term, y, 0, 7, "%7s", "-");
		tui_put(y, 8, ftext(f, r->name), r->name.len, name_w);
		if (r->cpu >= 0)
			tui_putf(&ui->term, y, 8 + name_w, 8, "%8.1f", r->cpu);
		else
			tui_putf(&ui->term, y, 8 + name_w, 8, "%8s", "-");
		strbuf_reset(sb);
		if (r->heap >= 0)
			text_bytes(sb, r->heap);
		else
			strbuf_addch(sb, '-');
		tui_putf(&ui->term, y, 16 + name_w, 11, "%11s", sb->buf);
		strbuf_reset(sb);
		if (r->peak >= 0)
			text_bytes(sb, r->peak);
		else
			strbuf_addch(sb, '-');
		tui_putf(&ui->term, y, 27 + name_w, 11, "%11s", sb->buf);
		tui_putf(&ui->term, y, 39 + name_w, L->cols - 39 - name_w, "%s",
			 r->ended ? "ended" : "");
		attrset(A_NORMAL);
	}
}

/* The latest capture's pane, its heading at row y, from column x to the right edge. */
static void draw_stack(struct tui *ui, int y, int x)
{
	const struct frame *f = &ui->f;
	const struct layout *L = &ui->lay;
	int w = L->cols - x, last = L->panes_y + L->panes_h;
	tui_color(&ui->term, TUI_C_TITLE, A_BOLD | A_UNDERLINE);
	tui_putf(&ui->term, y, x, w, "%-*s", w, "");
	tui_put(y, x, ftext(f, f->stack_head), f->stack_head.len, w);
	attrset(A_NORMAL);
	for (size_t i = 0; i < f->n_stack && y + 1 + (int)i <= last; i++)
		tui_put(y + 1 + (int)i, x, ftext(f, f->stack_lines[i]), f->stack_lines[i].len, w);
}

static void draw_panes(struct tui *ui)
{
	const struct frame *f = &ui->f;
	const struct layout *L = &ui->lay;
	if (L->panes_h <= 0)
		return;
	int half = L->cols / 2 > 12 ? L->cols / 2 : 12;
	tui_color(&ui->term, TUI_C_TITLE, A_BOLD | A_UNDERLINE);
	tui_putf(&ui->term, L->panes_y, 0, half - 1, "%-*s", half - 1, "");
	tui_putf(&ui->term, L->panes_y, 0, half - 1, "EVENTS (%zu)", f->events_total);
	tui_putf(&ui->term, L->panes_y, half, L->cols - half, "%-*s", L->cols - half, "");
	tui_putf(&ui->term, L->panes_y, half, L->cols - half, "OUTPUT (%zu lines)", f->outs_total);
	attrset(A_NORMAL);
	struct strbuf *sb = &ui->term.tmp;
	for (size_t i = 0; i < f->n_events && (int)i < L->panes_h; i++) {
		const struct fline *l = &f->events[i];
		int y = L->panes_y + 1 + (int)i;
		strbuf_reset(sb);
		text_secs(sb, l->t);
		tui_color(&ui->term, TUI_C_YELLOW, 0);
		tui_putf(&ui->term, y, 0, 10, "%9s", sb->buf);
		attrset(A_NORMAL);
		tui_put(y, 10, ftext(f, l->text), l->text.len, half - 11);
	}
	/* With a stack capture, it takes the right half's lower part (all of it, without output).
	 */
	int out_rows = !f->has_stacks ? L->panes_h : f->outs_total ? L->panes_h / 2 : 0;
	size_t skip = f->n_outs > (size_t)out_rows ? f->n_outs - (size_t)out_rows : 0;
	for (size_t i = skip; i < f->n_outs; i++) {
		const struct fline *l = &f->outs[i];
		tui_color(&ui->term, l->err ? TUI_C_RED : 0, 0);
		tui_put(L->panes_y + 1 + (int)(i - skip), half, ftext(f, l->text), l->text.len,
			L->cols - half);
		attrset(A_NORMAL);
	}
	if (f->has_stacks)
		draw_stack(ui, out_rows ? L->panes_y + 1 + out_rows : L->panes_y, half);
}

static void draw_bottom(struct tui *ui)
{
	const struct frame *f = &ui->f;
	int y = ui->lay.rows - 1;
	if (f->error.len) {
		tui_color(&ui->term, TUI_C_RED, A_BOLD);
		tui_put(y, 0, ftext(f, f->error), f->error.len, ui->lay.cols - 1);
	} else if (ui->notice && tui_wall_now() < ui->notice_until) {
		/* what a key said, for a while: over the ending too, which comes back after */
		tui_color(&ui->term, TUI_C_YELLOW, A_BOLD);
		tui_put(y, 0, ui->notice, strlen(ui->notice), ui->lay.cols - 1);
	} else if (f->ending.len && !f->running) {
		tui_color(&ui->term, tui_status_bad(f->status) ? TUI_C_RED : TUI_C_GREEN, A_BOLD);
		tui_put(y, 0, ftext(f, f->ending), f->ending.len, ui->lay.cols - 1);
	} else {
		tui_color(&ui->term, TUI_C_DIM, A_DIM);
		static const char keys[] =
			"q quit  p pause  +/- window  s stacks  t threads  n next  ? help";
		tui_put(y, 0, keys, sizeof(keys) - 1, ui->lay.cols - 1);
	}
	attrset(A_NORMAL);
}

static void draw_help(struct tui *ui)
{
	static const char *const keys[] = {
		"s          ask for stacks now",
		"t          threads of a process / back",
		"n          the next process's threads",
	};
	static const char *const notes[] = {
		"chart: the job's memory and the top processes",
		"below it: ^ an event, \xe2\x96\xb2 (P) the peak",
	};
	tui_draw_help(&ui->term, "memline dashboard keys", keys, 3, notes, 2);
}

static void draw(struct tui *ui)
{
	erase();
	draw_title(ui);
	draw_summary(ui);
	draw_chart(ui);
	if (ui->f.threads)
		draw_threads(ui);
	else
		draw_table(ui);
	draw_panes(ui);
	draw_bottom(ui);
	if (ui->v.help)
		draw_help(ui);
	refresh();
}

/* ---- the loop ---- */

/* Seconds between redraws that the clock alone asks for: a dot column's time, 0.1 s to 1 s. */
static bool check_size(struct tui *ui)
{
	if (!tui_term_resized(&ui->term))
		return false;
	layout_compute(&ui->lay, ui->term.rows, ui->term.cols);
	return true;
}

/* The 's' key: asks the recording for stacks, or says why it cannot. */
static void ask_stacks(struct tui *ui)
{
	const struct frame *f = &ui->f;
	if (!ui->opt->ask_stacks)
		ui->notice = "s: this view follows a log; only memline run --live asks for stacks";
	else if (!f->running)
		ui->notice = "s: the recording has ended";
	else if (!f->stacks_when) /* its memline does not wait for SIGUSR1: it would end it */
		ui->notice = "s: this recording takes no stacks (record with --stacks)";
	else {
		ui->opt->ask_stacks(ui->opt->ask_data);
		ui->notice = "s: stacks asked for: the pane shows them once taken";
	}
	ui->notice_until = tui_wall_now() + 5;
}

/* Returns 0 when the user quit (or was asked to), 1 when the terminal went away, -1 on error. */
static int loop(struct tui *ui, struct strbuf *err)
{
	unsigned long seen = 0;
	bool dirty = true, rebuild = true;
	double last_tick = -1;
	for (;;) {
		if (check_size(ui))
			dirty = rebuild = true;
		if (ui->notice && tui_wall_now() >= ui->notice_until) {
			ui->notice = NULL; /* its time is up: the bottom line as it was */
			dirty = true;
		}
		live_lock(ui->live);
		unsigned long v = ui->live->version;
		bool finished = ui->live->finished;
		live_unlock(ui->live);
		if ((!ui->opt->wait_at_end && finished) ||
		    (ui->opt->quit && atomic_load(ui->opt->quit)))
			return 0;
		if (!ui->v.paused && v != seen)
			rebuild = true;
		if (tui_ticked(&ui->term, &ui->v, ui->lay.chart_w, ui->f.running, &last_tick))
			rebuild = true;
		if (rebuild) {
			if (frame_build(ui, &seen) < 0) {
				strbuf_addstr(err, "out of memory drawing the dashboard");
				return -1;
			}
			rebuild = false;
			dirty = true;
		}
		if (dirty)
			draw(ui);
		dirty = false;
		int ch = tui_read_key(&ui->v, &dirty);
		if (ch == TUI_KEY_LOST)
			return 1;
		if (ch == ERR)
			continue;
		int shared = tui_view_key(&ui->v, ch, ui->f.now, ui->f.elapsed);
		if (shared < 0)
			return 0;
		if (shared) {
			rebuild = true;
			continue;
		}
		switch (ch) {
		case 's':
		case 'S':
			ask_stacks(ui);
			break;
		case 't':
		case 'T':
			ui->threads = !ui->threads;
			rebuild = true;
			break;
		case 'n':
		case 'N':
			ui->threads = true;
			ui->th_next = true;
			rebuild = true;
			break;
		case KEY_RESIZE:
			rebuild = true;
			break;
		default:
			break;
		}
	}
}

int tui_run(struct live *l, const struct tui_options *o, struct strbuf *err)
{
	static const struct tui_options defaults = {0};
	if (!o)
		o = &defaults;
	struct tui ui;
	memset(&ui, 0, sizeof(ui));
	ui.live = l;
	ui.opt = o;
	ui.v.window = o->history > 0 ? o->history : 0;
	ui.th_proc = -1;
	tui_chart_init(&ui.chart);
	int ret = -1;
	if (tui_term_start(&ui.term, err) == 0) {
		layout_compute(&ui.lay, ui.term.rows, ui.term.cols);
		ret = loop(&ui, err);
	}
	tui_term_end(&ui.term);
	tui_chart_release(&ui.chart);
	frame_release(&ui.f);
	free(ui.slot);
	return ret;
}
