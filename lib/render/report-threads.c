/*
 * report-threads: `memline report --threads`, the text report's threads line and the JSON
 * report's per-process "threads" and "heap" (render/report.h), from the run's threads
 * (model/threads.h).
 *
 * A process shows its threads biggest heap peak first (then the most CPU), in a table of heap
 * numbers when its heap was counted (--heap) and of CPU times when not; a process with no
 * thread in the model had one thread all its life and shows as its main thread (tid = pid,
 * name = comm, the process's CPU, heap unknown). Then a timeline of its top threads: at a
 * handful of its samples, each one's live heap as a share of the process's peak heap (or,
 * without heap numbers, at a handful of the times their CPU was read, each one's CPU use since
 * the time before, as a share of one CPU), with a bar that stacks them in shades. Thread names come
 * from the program: the text shows them through text_escape, the JSON escapes them as JSON does.
 */
#include "render/report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_WIDTH  100
#define BAR_WIDTH   50
#define THREAD_ROWS 100 /* threads listed per process, at most */
#define TOP_THREADS 3	/* threads with a column of their own in a timeline */
#define MOMENTS	    10	/* rows of a timeline, at most */
#define NAME_COLS   16	/* a thread's name in a table */

/* The bar's shades: the top threads', then the rest of the process's threads'. */
static const char *const shades[TOP_THREADS + 1] = {"█", "▓", "▒", "░"};

/* ---- a process's threads ---- */

/* The threads of one process as the reports show them. */
struct proc_view {
	size_t proc;
	const struct run_th **v; /* biggest heap peak first (run_threads_of's order) */
	size_t n;
	struct run_th main; /* a process with no thread in the model: its one thread */
	bool heap;	    /* some thread has heap numbers */
};

/* The whole process's one thread, for a process that never had more (nor heap counters). */
static void main_thread(const struct run *run, size_t i, struct run_th *th)
{
	const struct run_proc *p = &run->procs[i];
	memset(th, 0, sizeof(*th));
	th->proc = (int)i;
	th->tid = p->pid;
	size_t n = strnlen(p->comm, sizeof(p->comm));
	if (n >= sizeof(th->name))
		n = sizeof(th->name) - 1;
	memcpy(th->name, p->comm, n);
	th->first_t = p->seen;
	th->end_t = -1;
	th->utime = p->utime;
	th->stime = p->stime;
	th->heap = th->heap_peak = th->alloc = th->freed = th->nalloc = th->nfree = th->mmap = -1;
	th->heap_peak_t = -1;
}

/* Process i's threads; false when out of memory. Release with view_release. */
static bool view_init(struct proc_view *pv, const struct run *run, const struct run_th_index *ix,
		      size_t i)
{
	memset(pv, 0, sizeof(*pv));
	pv->proc = i;
	size_t from = ix->first[i], n = ix->first[i + 1] - from;
	pv->v = malloc((n ? n : 1) * sizeof(*pv->v));
	if (!pv->v)
		return false;
	if (!n) {
		main_thread(run, i, &pv->main);
		pv->v[0] = &pv->main;
		pv->n = 1;
		return true;
	}
	for (size_t k = 0; k < n; k++) {
		pv->v[k] = &run->threads.v[ix->order[from + k]];
		pv->heap |= pv->v[k]->heap_peak >= 0 || pv->v[k]->heap >= 0;
	}
	pv->n = n;
	return true;
}

static void view_release(struct proc_view *pv)
{
	free(pv->v);
	pv->v = NULL;
}

/* Whether the process's only thread is the one made up for it (no thread in the model). */
static bool view_made_up(const struct proc_view *pv)
{
	return pv->n == 1 && pv->v[0] == &pv->main;
}

static long long cpu_ms(long long utime, long long stime)
{
	if (utime < 0 && stime < 0)
		return -1;
	return (utime > 0 ? utime : 0) + (stime > 0 ? stime : 0);
}

/* ---- text cells ---- */

/* A time of the run: milliseconds up to 1000 s, as the report's events and phases show it. */
static void add_time(struct strbuf *out, double t)
{
	if (t > -1000 && t < 1000)
		strbuf_addf(out, "%.3f s", t);
	else
		text_secs(out, t);
}

/* The cell, right-aligned to width, and two spaces; the cell is emptied. */
static void add_cell(struct strbuf *out, struct strbuf *cell, int width)
{
	strbuf_addf(out, "%*s  ", width, cell->buf ? cell->buf : "");
	strbuf_reset(cell);
}

static void cell_bytes(struct strbuf *cell, long long bytes)
{
	if (bytes < 0)
		strbuf_addch(cell, '?');
	else
		text_bytes(cell, bytes);
}

static void cell_count(struct strbuf *cell, long long n)
{
	if (n < 0)
		strbuf_addch(cell, '?');
	else
		strbuf_addf(cell, "%lld", n);
}

static void cell_cpu(struct strbuf *cell, long long ms)
{
	if (ms < 0)
		strbuf_addch(cell, '?');
	else
		text_secs(cell, ms / 1000.0);
}

/* A thread's name (escaped, cut to cols), "(more threads)" for the library's last slot. */
static size_t add_name(struct strbuf *out, const struct run_th *th, size_t cols)
{
	if (th->tid < 0) {
		strbuf_addstr(out, "(more threads)");
		return 14;
	}
	if (!th->name[0]) {
		strbuf_addch(out, '?');
		return 1;
	}
	return text_escape(out, th->name, strlen(th->name), cols);
}

/* The tid and the name columns of a row. */
static void add_tid_name(struct strbuf *out, const struct run_th *th)
{
	if (th->tid < 0)
		strbuf_addf(out, "%7s  ", "-");
	else
		strbuf_addf(out, "%7d  ", (int)th->tid);
	size_t used = add_name(out, th, NAME_COLS);
	strbuf_addf(out, "%*s  ", (int)(NAME_COLS - (used < NAME_COLS ? used : NAME_COLS)), "");
}

/* ---- the text: a process ---- */

/* "pid 200 (./server --threads 3): 3 threads". */
static void text_heading(const struct run *run, const struct proc_view *pv, struct strbuf *out)
{
	struct strbuf cmd = STRBUF_INIT;
	run_proc_cmd(run, pv->proc, &cmd);
	strbuf_addf(out, "\npid %d (", (int)run->procs[pv->proc].pid);
	text_escape(out, cmd.buf ? cmd.buf : "", cmd.len, 60);
	strbuf_release(&cmd);
	size_t n = 0;
	bool more = false;
	for (size_t k = 0; k < pv->n; k++) {
		n += pv->v[k]->tid >= 0;
		more |= pv->v[k]->tid < 0;
	}
	if (view_made_up(pv))
		strbuf_addstr(out, "): one thread all its life\n");
	else
		strbuf_addf(out, "): %zu thread%s%s\n", n, n == 1 ? "" : "s",
			    more ? " and more, counted together" : "");
}

/* Columns of the last line of out (UTF-8 characters after its last newline). */
static size_t line_cols(const struct strbuf *out)
{
	size_t cols = 0;
	for (size_t i = out->len; i-- > 0 && out->buf[i] != '\n';)
		cols += ((unsigned char)out->buf[i] & 0xc0) != 0x80;
	return cols;
}

/*
 * Appends text (from the log: escaped) after what the line already holds, broken at spaces
 * into lines of at most TEXT_WIDTH columns, those after the first indented by 10.
 */
static void add_wrapped(struct strbuf *out, const char *text)
{
	struct strbuf esc = STRBUF_INIT;
	text_escape(&esc, text, strlen(text), 2000);
	size_t col = line_cols(out);
	const char *p = esc.buf ? esc.buf : "";
	for (bool first = true; *p; first = false) {
		size_t word = strcspn(p, " ");
		if (!first && col + 1 + word > TEXT_WIDTH) {
			strbuf_addf(out, "\n%10s", "");
			col = 10;
		} else if (!first) {
			strbuf_addch(out, ' ');
			col++;
		}
		strbuf_add(out, p, word);
		col += word; /* bytes: a line of non-ASCII text breaks early */
		p += word;
		while (*p == ' ')
			p++;
	}
	out->oom |= esc.oom;
	strbuf_release(&esc);
}

/* "heap      counted (libc.so.6); peak 50.0 MiB at 2.500 s", or why it was not counted. */
static void text_heap(const struct run *run, const struct proc_view *pv, struct strbuf *out)
{
	const struct run_proc *p = &run->procs[pv->proc];
	if (run->header.heap == HEAP_OFF && p->heap_on < 0)
		return;
	strbuf_addstr(out, "heap      ");
	if (p->heap_on > 0) {
		strbuf_addstr(out, "counted");
		if (p->heap_allocator) {
			strbuf_addstr(out, " (");
			text_escape(out, p->heap_allocator, strlen(p->heap_allocator), 30);
			strbuf_addch(out, ')');
		}
		if (p->heap_peak >= 0) {
			strbuf_addstr(out, "; peak ");
			text_bytes(out, text_kib_bytes(p->heap_peak));
			strbuf_addstr(out, " at ");
			add_time(out, p->heap_peak_t);
		}
		if (p->heap_why) { /* a limit of its counting */
			strbuf_addf(out, "\n%10s", "");
			add_wrapped(out, p->heap_why);
		}
	} else if (p->heap_on == 0) {
		strbuf_addstr(out, "not counted");
		if (p->heap_why) {
			strbuf_addstr(out, ": ");
			add_wrapped(out, p->heap_why);
		}
	} else {
		strbuf_addstr(out, "unknown: the log has no heap record of it");
	}
	strbuf_addch(out, '\n');
}

static void more_threads(struct strbuf *out, size_t n)
{
	if (n > THREAD_ROWS)
		strbuf_addf(out, "… and %zu more threads (memline report --json lists them all)\n",
			    n - THREAD_ROWS);
}

/* When a thread ended: its end record, else its process's exit; "-" still running. */
static void cell_ended(struct strbuf *cell, const struct run *run, const struct run_th *th)
{
	double end = th->end_t >= 0 ? th->end_t : run->procs[th->proc].end;
	if (end >= 0)
		add_time(cell, end);
	else
		strbuf_addch(cell, '-');
}

/* The heap table: each thread's peak and when, its live heap at the end, of it mmap, CPU. */
static void text_heap_table(const struct run *run, const struct proc_view *pv, struct strbuf *out)
{
	struct strbuf cell = STRBUF_INIT;
	strbuf_addf(out, "%7s  %-*s  %10s  %9s  %11s  %10s  %9s  %9s\n", "TID", NAME_COLS, "THREAD",
		    "PEAK HEAP", "AT", "LIVE AT END", "IN MMAP", "CPU", "ENDED");
	for (size_t k = 0; k < pv->n && k < THREAD_ROWS; k++) {
		const struct run_th *th = pv->v[k];
		add_tid_name(out, th);
		cell_bytes(&cell, th->heap_peak);
		add_cell(out, &cell, 10);
		if (th->heap_peak >= 0)
			add_time(&cell, th->heap_peak_t);
		else
			strbuf_addch(&cell, '?');
		add_cell(out, &cell, 9);
		cell_bytes(&cell, th->heap);
		add_cell(out, &cell, 11);
		cell_bytes(&cell, th->mmap);
		add_cell(out, &cell, 10);
		cell_cpu(&cell, cpu_ms(th->utime, th->stime));
		add_cell(out, &cell, 9);
		cell_ended(&cell, run, th);
		strbuf_addf(out, "%9s\n", cell.buf ? cell.buf : "");
		strbuf_reset(&cell);
	}
	more_threads(out, pv->n);
	strbuf_addf(out, "%7s  %-*s  %10s  %11s  %10s  %11s  %9s\n", "TID", NAME_COLS, "THREAD",
		    "ALLOCATED", "ALLOCATIONS", "FREED", "FREES", "SEEN");
	for (size_t k = 0; k < pv->n && k < THREAD_ROWS; k++) {
		const struct run_th *th = pv->v[k];
		add_tid_name(out, th);
		cell_bytes(&cell, th->alloc);
		add_cell(out, &cell, 10);
		cell_count(&cell, th->nalloc);
		add_cell(out, &cell, 11);
		cell_bytes(&cell, th->freed);
		add_cell(out, &cell, 10);
		cell_count(&cell, th->nfree);
		add_cell(out, &cell, 11);
		add_time(&cell, th->first_t);
		strbuf_addf(out, "%9s\n", cell.buf ? cell.buf : "");
		strbuf_reset(&cell);
	}
	more_threads(out, pv->n);
	strbuf_release(&cell);
}

/* The CPU table: each thread's CPU time, user and system, when it was first seen and ended. */
static void text_cpu_table(const struct run *run, const struct proc_view *pv, struct strbuf *out)
{
	struct strbuf cell = STRBUF_INIT;
	strbuf_addf(out, "%7s  %-*s  %9s  %9s  %9s  %9s  %9s\n", "TID", NAME_COLS, "THREAD", "CPU",
		    "USER", "SYSTEM", "SEEN", "ENDED");
	for (size_t k = 0; k < pv->n && k < THREAD_ROWS; k++) {
		const struct run_th *th = pv->v[k];
		add_tid_name(out, th);
		cell_cpu(&cell, cpu_ms(th->utime, th->stime));
		add_cell(out, &cell, 9);
		cell_cpu(&cell, th->utime);
		add_cell(out, &cell, 9);
		cell_cpu(&cell, th->stime);
		add_cell(out, &cell, 9);
		add_time(&cell, th->first_t);
		add_cell(out, &cell, 9);
		cell_ended(&cell, run, th);
		strbuf_addf(out, "%9s\n", cell.buf ? cell.buf : "");
		strbuf_reset(&cell);
	}
	more_threads(out, pv->n);
	strbuf_release(&cell);
}

/* ---- the text: a process's timeline ---- */

/*
 * Picks at most max of the n times at (sorted), spread evenly from the first to the last, the
 * one nearest must replaced by it (must < 0: none), into at itself. Returns how many.
 */
static size_t pick_times(double *at, size_t n, size_t max, double must)
{
	if (n <= max)
		return n;
	for (size_t k = 0; k < max; k++)
		at[k] = at[k * (n - 1) / (max - 1)]; /* k * (n - 1) / (max - 1) >= k */
	if (must < 0)
		return max;
	size_t best = 0;
	for (size_t k = 1; k < max; k++)
		if (fabs(at[k] - must) < fabs(at[best] - must))
			best = k;
	at[best] = must; /* the nearest: it stays between its neighbours */
	return max;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/*
 * The moments of a process's timeline, into a new array (the caller frees it; NULL with *n 0
 * when none, out of memory included: *oom says which). For heap, its samples: the heap
 * counters are read at every one; MOMENTS of them, its heap peak's among them. For CPU time,
 * which is read at most once a second, the times of its threads' rows (when a thread's numbers
 * were read and had changed; a thread without a row then had not changed), MOMENTS + 1 of them
 * (the first is where the first row's CPU use starts from).
 */
static double *pick_moments(const struct run *run, const struct proc_view *pv, bool heap, size_t *n,
			    bool *oom)
{
	const struct run_proc *p = &run->procs[pv->proc];
	*n = 0;
	size_t count = 0;
	if (heap && p->first_sample >= 0 && p->last_sample >= p->first_sample)
		count = (size_t)(p->last_sample - p->first_sample) + 1;
	for (size_t j = 0; !heap && j < pv->n; j++)
		count += pv->v[j]->n_pts;
	if (!count)
		return NULL;
	double *at = malloc(count * sizeof(*at));
	if (!at) {
		*oom = true;
		return NULL;
	}
	size_t m = 0;
	if (heap) {
		for (long k = p->first_sample; k <= p->last_sample; k++)
			at[m++] = run->samples[k].t;
		*n = pick_times(at, m, MOMENTS, p->heap_peak >= 0 ? p->heap_peak_t : -1);
		return at;
	}
	for (size_t j = 0; j < pv->n; j++)
		for (size_t k = 0; k < pv->v[j]->n_pts; k++)
			at[m++] = pv->v[j]->pts[k].t;
	qsort(at, m, sizeof(*at), cmp_double);
	size_t u = 0;
	for (size_t k = 0; k < m; k++)
		if (!u || at[k] != at[u - 1])
			at[u++] = at[k];
	*n = pick_times(at, u, MOMENTS + 1, -1);
	return at;
}

/* A thread's CPU time at t: its last row at or before t that has one; -1 none. */
static long long cpu_at(const struct run_th *th, double t)
{
	long long v = -1;
	for (size_t k = 0; k < th->n_pts && th->pts[k].t <= t; k++)
		if (th->pts[k].cpu >= 0)
			v = th->pts[k].cpu;
	return v;
}

/*
 * A thread's value at moment k: its live heap (bytes) then, or its CPU use since the moment
 * before (ms per second, 1000 for one CPU, -1 for the first moment); -1 unknown.
 */
static double moment_value(const struct run_th *th, const double *at, size_t k, bool heap)
{
	double t = at[k];
	if (heap)
		return (double)run_th_heap_at(th, t);
	if (!k)
		return -1;
	double t0 = at[k - 1];
	long long a = cpu_at(th, t0), b = cpu_at(th, t);
	if (a < 0 || b < 0 || t <= t0)
		return -1;
	return (double)(b > a ? b - a : 0) / (t - t0);
}

/*
 * One row: the time, each top thread's value and the whole process's as % of unit, and the
 * bar stacking them, full for full.
 */
static void timeline_row(struct strbuf *out, double t, const double *v, size_t top, double all,
			 double unit, double full)
{
	struct strbuf cell = STRBUF_INIT;
	add_time(&cell, t);
	add_cell(out, &cell, 9);
	for (size_t j = 0; j < top; j++) {
		if (v[j] < 0)
			strbuf_addch(&cell, '-');
		else
			strbuf_addf(&cell, "%d%%", (int)(v[j] / unit * 100)); /* truncated */
		add_cell(out, &cell, 7);
	}
	if (all < 0)
		strbuf_addch(&cell, '-');
	else
		strbuf_addf(&cell, "%d%%", (int)(all / unit * 100));
	strbuf_addf(out, "%7s", cell.buf);
	strbuf_release(&cell);
	/* rounded as a running sum, so that the segments add up to the whole's bar */
	double sum = 0;
	long drawn = 0;
	for (size_t j = 0; j <= top; j++) {
		double part = j < top ? (v[j] > 0 ? v[j] : 0) : (all > sum ? all - sum : 0);
		sum += part;
		long end = lround(fmin(sum / full, 1.0) * BAR_WIDTH);
		for (; drawn < end; drawn++)
			strbuf_addf(out, "%s%s", drawn ? "" : "  ", shades[j]);
	}
	strbuf_addch(out, '\n');
}

/* "  █ 210 loader  ▓ 211 worker  ░ the other threads": whose each shade is. */
static void timeline_legend(const struct proc_view *pv, size_t top, struct strbuf *out)
{
	for (size_t j = 0; j < top; j++) {
		strbuf_addf(out, "  %s ", shades[j]);
		if (pv->v[j]->tid >= 0)
			strbuf_addf(out, "%d ", (int)pv->v[j]->tid);
		add_name(out, pv->v[j], 20);
	}
	if (pv->n > top)
		strbuf_addf(out, "  %s the other threads", shades[TOP_THREADS]);
	strbuf_addch(out, '\n');
}

static void text_timeline(const struct run *run, const struct proc_view *pv, struct strbuf *out)
{
	const struct run_proc *p = &run->procs[pv->proc];
	if (view_made_up(pv))
		return;
	bool heap = pv->heap, oom = false;
	size_t n;
	double *at = pick_moments(run, pv, heap, &n, &oom);
	out->oom |= oom;
	if (n < (heap ? 1u : 2u)) {
		free(at);
		return;
	}
	size_t top = pv->n < TOP_THREADS ? pv->n : TOP_THREADS;
	double v[MOMENTS + 1][TOP_THREADS], all[MOMENTS + 1], scale = 0;
	for (size_t k = 0; k < n; k++) {
		all[k] = -1;
		for (size_t j = 0; j < pv->n; j++) {
			double x = moment_value(pv->v[j], at, k, heap);
			if (j < top)
				v[k][j] = x;
			if (x >= 0)
				all[k] = (all[k] < 0 ? 0 : all[k]) + x;
		}
		if (all[k] > scale)
			scale = all[k];
	}
	if (scale <= 0) {
		free(at);
		return; /* nothing to show: no heap, or no CPU used */
	}
	double unit = scale; /* what 100% is */
	if (heap) {
		/* the process's peak (its samples', KiB), or the highest these moments show */
		double peak = (double)text_kib_bytes(p->heap_peak);
		if (peak > scale)
			unit = scale = peak;
		strbuf_addstr(out,
			      "timeline: the top threads' live heap, % of the process's peak (");
		text_bytes(out, (long long)scale);
		strbuf_addstr(out, ")\n");
	} else {
		/* one CPU; the bar's full width is one CPU, or the busiest row's share when more */
		unit = 1000;
		if (scale < 1000)
			scale = 1000;
		strbuf_addf(
			out,
			"timeline: the top threads' CPU use since the time before, %% of one CPU "
			"(a full bar: %d%%)\n",
			(int)(scale / 10));
	}
	timeline_legend(pv, top, out);
	strbuf_addf(out, "%9s  ", "TIME");
	for (size_t j = 0; j < top; j++) {
		if (pv->v[j]->tid >= 0)
			strbuf_addf(out, "%7d  ", (int)pv->v[j]->tid);
		else
			strbuf_addf(out, "%7s  ", "more");
	}
	strbuf_addf(out, "%7s\n", "ALL");
	for (size_t k = heap ? 0 : 1; k < n; k++)
		timeline_row(out, at[k], v[k], top, all[k], unit, scale);
	free(at);
}

static int cmp_start(const void *a, const void *b, void *data)
{
	const struct run *run = data;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	const struct run_proc *p = &run->procs[i], *q = &run->procs[j];
	if (p->start != q->start)
		return p->start < q->start ? -1 : 1;
	return i < j ? -1 : i > j;
}

/* The processes' indexes by start (ties: the order they joined); NULL when out of memory. */
static size_t *procs_by_start(const struct run *run)
{
	size_t *order = malloc((run->n_procs ? run->n_procs : 1) * sizeof(*order));
	if (!order)
		return NULL;
	for (size_t i = 0; i < run->n_procs; i++)
		order[i] = i;
	qsort_r(order, run->n_procs, sizeof(*order), cmp_start, (void *)run);
	return order;
}

/*
 * "threads   5 threads in 3 processes": those of the model, and one for each process with none
 * there ("and more" for the library's last slot, which holds many). false: out of memory.
 */
static bool add_count(const struct run *run, struct strbuf *out)
{
	bool *has = calloc(run->n_procs ? run->n_procs : 1, sizeof(*has));
	if (!has)
		return false;
	size_t n = 0, procs = 0;
	bool more = false;
	for (size_t i = 0; i < run->threads.n; i++) {
		size_t p = (size_t)run->threads.v[i].proc;
		procs += !has[p];
		has[p] = true;
		n += run->threads.v[i].tid >= 0;
		more |= run->threads.v[i].tid < 0;
	}
	free(has);
	n += run->n_procs - procs;
	strbuf_addf(out, "threads   %zu thread%s%s in %zu process%s", n, n == 1 ? "" : "s",
		    more ? " and more" : "", run->n_procs, run->n_procs == 1 ? "" : "es");
	return true;
}

void report_threads_text(const struct run *run, struct strbuf *out)
{
	strbuf_addstr(out, "log       ");
	text_escape(out, run->path ? run->path : "", run->path ? strlen(run->path) : 0,
		    TEXT_WIDTH - 10);
	strbuf_addch(out, '\n');
	if (run->header.format < 3) {
		strbuf_addf(out,
			    "no threads: a log of format %d (memline records threads from format 3 "
			    "on)\n",
			    run->header.format);
		return;
	}
	struct run_th_index ix;
	size_t *order = procs_by_start(run);
	if (!order || run_th_index_build(&ix, &run->threads, run->n_procs) < 0) {
		free(order);
		out->oom = true;
		return;
	}
	if (run->header.heap != HEAP_OFF)
		strbuf_addf(out,
			    "heap      counted (--heap%s): each thread's live heap, what it "
			    "allocated and no one freed yet\n",
			    run->header.heap == HEAP_EXACT ? "=exact" : "");
	if (!add_count(run, out))
		out->oom = true;
	strbuf_addch(out, '\n');
	for (size_t k = 0; k < run->n_procs; k++) {
		struct proc_view pv;
		if (!view_init(&pv, run, &ix, order[k])) {
			out->oom = true;
			break;
		}
		text_heading(run, &pv, out);
		text_heap(run, &pv, out);
		if (pv.heap)
			text_heap_table(run, &pv, out);
		else
			text_cpu_table(run, &pv, out);
		text_timeline(run, &pv, out);
		view_release(&pv);
	}
	run_th_index_release(&ix);
	free(order);
}

void report_threads_line(const struct run *run, struct strbuf *out)
{
	if (run->header.format < 3 || !run->threads.n)
		return;
	if (!add_count(run, out))
		out->oom = true;
	strbuf_addstr(out, " (memline report --threads shows them)\n");
}

/* ---- JSON ---- */

static void json_secs_or_null(struct strbuf *out, const char *key, double secs, bool known)
{
	strbuf_add_json_key(out, key);
	if (known)
		strbuf_add_json_secs(out, secs);
	else
		strbuf_addstr(out, "null");
}

static void json_num(struct strbuf *out, const char *key, long long v)
{
	strbuf_add_json_key(out, key);
	strbuf_add_json_opt(out, v);
}

static void json_thread(const struct run_th *th, struct strbuf *out)
{
	strbuf_addstr(out, "{\"tid\":");
	strbuf_add_json_i64(out, th->tid);
	strbuf_add_json_key(out, "name");
	if (th->name[0])
		strbuf_add_json_str(out, th->name);
	else
		strbuf_addstr(out, "null");
	json_secs_or_null(out, "first_t", th->first_t, true);
	json_secs_or_null(out, "end_t", th->end_t, th->end_t >= 0);
	json_secs_or_null(out, "utime", th->utime / 1000.0, th->utime >= 0);
	json_secs_or_null(out, "stime", th->stime / 1000.0, th->stime >= 0);
	json_num(out, "heap", th->heap);
	json_num(out, "heap_peak", th->heap_peak);
	json_secs_or_null(out, "heap_peak_t", th->heap_peak_t, th->heap_peak >= 0);
	json_num(out, "alloc", th->alloc);
	json_num(out, "freed", th->freed);
	json_num(out, "nalloc", th->nalloc);
	json_num(out, "nfree", th->nfree);
	json_num(out, "mmap", th->mmap);
	strbuf_addch(out, '}');
}

static void json_opt_str(struct strbuf *out, const char *key, const char *s)
{
	strbuf_add_json_key(out, key);
	if (s)
		strbuf_add_json_str(out, s);
	else
		strbuf_addstr(out, "null");
}

void report_json_threads(const struct run *run, const struct run_th_index *ix, size_t i,
			 struct strbuf *out)
{
	struct proc_view pv;
	if (!view_init(&pv, run, ix, i)) {
		out->oom = true;
		return;
	}
	strbuf_add_json_key(out, "threads");
	strbuf_addch(out, '[');
	for (size_t k = 0; k < pv.n; k++) {
		if (k)
			strbuf_addch(out, ',');
		json_thread(pv.v[k], out);
	}
	strbuf_addch(out, ']');
	view_release(&pv);

	const struct run_proc *p = &run->procs[i];
	strbuf_add_json_key(out, "heap");
	strbuf_addstr(out, "{\"on\":");
	if (p->heap_on < 0)
		strbuf_addstr(out, "null");
	else
		strbuf_add_json_bool(out, p->heap_on > 0);
	json_opt_str(out, "allocator", p->heap_allocator);
	json_opt_str(out, "why", p->heap_why);
	json_num(out, "peak", text_kib_bytes(p->heap_peak));
	json_secs_or_null(out, "peak_t", p->heap_peak_t, p->heap_peak >= 0);
	strbuf_addch(out, '}');
}
