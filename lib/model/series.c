/*
 * series: a run's lines for one metric (tree total, top processes, "other") and their
 * peak-preserving decimation; the contract is in series.h.
 *
 * Building takes two passes over the run's process samples: the first computes each process's
 * value at each sample (CPU% needs the previous sample of the same process) and its peak, which
 * ranks the processes; the second appends each value to its process's series or adds it to
 * "other", and sums the tree total where the log has none. Both passes are O(process-samples).
 * Each point remembers its sample, so that a table can line the series up by sample rather than
 * by comparing times.
 *
 * Decimation (m4_keep) names the points it keeps to a callback: series_decimate copies them out,
 * series_table_build marks their samples as rows, so both use the one reduction. A table is a
 * mark per sample (kept or not), numbered into rows, then filled with NAN and each series'
 * kept points: O(samples + points).
 */
#include "model/series.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const series_metric_names[SERIES_NMETRICS] = {"rss", "pss", "vms", "swap", "cpu"};

static const int proc_field_of[] = {PF_RSS, PF_PSS, PF_VMS, PF_SWAP};
static const int tree_field_of[] = {TF_RSS, TF_PSS, TF_VMS, TF_SWAP};

int series_alloc(struct series *s, enum series_kind kind, int proc, size_t cap)
{
	s->kind = kind;
	s->proc = proc;
	s->thread = -1;
	s->n = 0;
	s->peak = -1;
	s->peak_t = 0;
	if (!cap)
		cap = 1;
	s->t = malloc(cap * sizeof(*s->t));
	s->v = malloc(cap * sizeof(*s->v));
	s->at = malloc(cap * sizeof(*s->at));
	return s->t && s->v && s->at ? 0 : -1;
}

void series_push(struct series *s, size_t at, double t, double v)
{
	s->t[s->n] = t;
	s->v[s->n] = v;
	s->at[s->n] = at;
	s->n++;
	if (v > s->peak) {
		s->peak = v;
		s->peak_t = t;
	}
}

void series_set_release(struct series_set *set)
{
	for (size_t i = 0; i < set->n; i++) {
		free(set->s[i].t);
		free(set->s[i].v);
		free(set->s[i].at);
	}
	free(set->s);
	set->s = NULL;
	set->n = set->n_rest = 0;
	set->job = false;
	set->tree = 0;
}

/* A process and its peak of the metric (-1 when it has no known point), to rank them. */
struct proc_rank {
	double peak;
	int idx;
};

static int cmp_rank(const void *a, const void *b)
{
	const struct proc_rank *p = a, *q = b;
	if (p->peak != q->peak)
		return p->peak > q->peak ? -1 : 1;
	return p->idx - q->idx;
}

/* ---- CPU% ---- */

double series_cpu_window(const struct run *run)
{
	long hz = run->has_header && run->header.clk_tck > 0 ? run->header.clk_tck : 100;
	double w = (double)SERIES_CPU_TICKS / (double)hz;
	return w < SERIES_CPU_MIN_WINDOW ? SERIES_CPU_MIN_WINDOW : w;
}

double series_cpu_percent(long long cpu_ms, double dt, long long threads)
{
	if (!(dt > 0) || cpu_ms < 0)
		return NAN;
	double v = (double)cpu_ms / 10.0 / dt;
	if (threads > 0 && v > 100.0 * (double)threads)
		v = 100.0 * (double)threads;
	return v;
}

/*
 * CPU% over consecutive windows of at least series_cpu_window() (cpu_calc_*): the samples that
 * end a window are the first at least a window after the last one's end, except that none is
 * taken in the last window before the run's last sample, which always ends one (so the last
 * window is one to two windows long; a run shorter than a window has one). At the end of window
 * [tb, t], a process in the sample gets (its CPU time now - at tb) / (t - tb), counting from 0
 * when it first appeared in this window and started during the recording (its CPU before its
 * start was 0); a process whose last sample falls inside the window gets a point there, over
 * [tb, its last sample]. The tree's and "other"'s values are the change of a running sum of
 * every process's CPU time (exited ones keep their last), so a process that lived and died
 * within a window still counts. Each value is capped at 100 % a thread: a process's most
 * threads in the window, for the tree and "other" the sum of those of their processes.
 */
struct cpu_calc {
	const struct run *run;
	const int *slot_of; /* a process's series (-2 "other"); NULL before the ranking */
	double window, t_last;
	double tb;		      /* the start of the current window */
	long win;		      /* its number */
	double sum, sum_b;	      /* running CPU ms of the tree, and at tb */
	double rest, rest_b;	      /* the same for the processes of "other" */
	long long thr_tree, thr_rest; /* threads of the processes seen in the window */
	bool thr_unknown, thr_rest_unknown, ended_in_window;
	/* per process */
	long long *last; /* its last known CPU ms; -1 none yet, -2 not seen */
	long long *base; /* its CPU ms at the start of window base_win */
	long *base_win;	 /* -1: no baseline */
	long long *thr;	 /* its most threads in window thr_win (-1 unknown) */
	long *thr_win;
};

/* Sets c up for run; with !on (a memory metric) it only clears it. Returns -1 out of memory. */
static int cpu_calc_init(struct cpu_calc *c, const struct run *run, bool on)
{
	memset(c, 0, sizeof(*c));
	if (!on)
		return 0;
	size_t np = run->n_procs ? run->n_procs : 1;
	c->run = run;
	c->window = series_cpu_window(run);
	c->t_last = run->n_samples ? run->samples[run->n_samples - 1].t : 0;
	c->last = malloc(np * sizeof(*c->last));
	c->base = malloc(np * sizeof(*c->base));
	c->base_win = malloc(np * sizeof(*c->base_win));
	c->thr = malloc(np * sizeof(*c->thr));
	c->thr_win = malloc(np * sizeof(*c->thr_win));
	if (!c->last || !c->base || !c->base_win || !c->thr || !c->thr_win)
		return -1;
	for (size_t i = 0; i < run->n_procs; i++) {
		c->last[i] = -2;
		c->base_win[i] = -1;
		c->thr_win[i] = -1;
	}
	return 0;
}

static void cpu_calc_release(struct cpu_calc *c)
{
	free(c->last);
	free(c->base);
	free(c->base_win);
	free(c->thr);
	free(c->thr_win);
	memset(c, 0, sizeof(*c));
}

/* Whether sample si (at time t) ends a window. */
static bool cpu_ends_window(const struct cpu_calc *c, size_t si, double t)
{
	if (si + 1 == c->run->n_samples)
		return t > c->tb;
	return t - c->tb >= c->window && c->t_last - t >= c->window;
}

/* Takes one process's threads into the window's caps. */
static void cpu_threads(struct cpu_calc *c, int p, long long threads, bool rest)
{
	long long had = c->thr_win[p] == c->win ? c->thr[p] : 0;
	if (c->thr_win[p] != c->win) {
		c->thr_win[p] = c->win;
		c->thr[p] = threads;
	} else if (threads < 0 || c->thr[p] < 0) {
		c->thr[p] = -1;
	} else if (threads > c->thr[p]) {
		c->thr[p] = threads;
	}
	if (c->thr[p] < 0) {
		c->thr_unknown = true;
		c->thr_rest_unknown |= rest;
		return;
	}
	long long more = c->thr[p] - (had > 0 ? had : 0);
	c->thr_tree += more;
	if (rest)
		c->thr_rest += more;
}

/*
 * Process sample ps of sample si (time t) into the calculation; returns the process's CPU% at
 * this sample, or NAN when it has no point here (not the end of a window, or unknown).
 */
static double cpu_proc(struct cpu_calc *c, const struct run_proc_sample *ps, size_t si, double t,
		       bool ends)
{
	const struct run *run = c->run;
	int p = ps->proc;
	long long u = run_ps_value(run, ps, PF_UTIME), s = run_ps_value(run, ps, PF_STIME);
	long long cpu = u < 0 || s < 0 ? -1 : u + s;
	bool rest = c->slot_of && c->slot_of[p] == -2;
	cpu_threads(c, p, run_ps_value(run, ps, PF_THREADS), rest);
	if (c->last[p] == -2) { /* its first sample */
		c->last[p] = -1;
		if (run->procs[p].start >= 0) { /* from its start, during the recording */
			c->last[p] = 0;
			c->base[p] = 0;
			c->base_win[p] = c->win;
		}
	}
	if (cpu >= 0) {
		if (c->last[p] >= 0 && cpu >= c->last[p]) {
			c->sum += (double)(cpu - c->last[p]);
			if (rest)
				c->rest += (double)(cpu - c->last[p]);
		}
		if (c->last[p] < 0 || cpu >= c->last[p])
			c->last[p] = cpu;
		if (c->base_win[p] < 0) { /* first known: the baseline of the next window */
			c->base[p] = cpu;
			c->base_win[p] = c->win + 1;
		}
	}
	bool its_last = run->procs[p].last_sample == (long)si;
	if (!ends && !its_last)
		return NAN;
	double v = NAN;
	if (cpu >= 0 && c->base_win[p] == c->win && cpu >= c->base[p])
		v = series_cpu_percent(cpu - c->base[p], t - c->tb, c->thr[p]);
	if (!isnan(v) && !ends)
		c->ended_in_window = true;
	if (ends) {
		c->base_win[p] = cpu >= 0 ? c->win + 1 : -1;
		c->base[p] = cpu;
	}
	return v;
}

/* At the end of a window: the tree's and "other"'s CPU%, then the next window begins. */
static void cpu_end_window(struct cpu_calc *c, double t, double *tree, double *other)
{
	double dt = t - c->tb;
	*tree = series_cpu_percent((long long)(c->sum - c->sum_b), dt,
				   c->thr_unknown ? 0 : c->thr_tree);
	*other = series_cpu_percent((long long)(c->rest - c->rest_b), dt,
				    c->thr_rest_unknown ? 0 : c->thr_rest);
	c->tb = t;
	c->win++;
	c->sum_b = c->sum;
	c->rest_b = c->rest;
	c->thr_tree = c->thr_rest = 0;
	c->thr_unknown = c->thr_rest_unknown = c->ended_in_window = false;
}

/* The value of process sample ps for a memory metric, or NAN when unknown. */
static double mem_value(const struct run *run, const struct run_proc_sample *ps,
			enum series_metric metric)
{
	long long v = run_ps_value(run, ps, proc_field_of[metric]);
	return v < 0 ? NAN : (double)v;
}

unsigned long long series_fields(enum series_metric metric)
{
	if (metric == SERIES_CPU)
		return RUN_FIELD(PF_UTIME) | RUN_FIELD(PF_STIME) | RUN_FIELD(PF_THREADS);
	return RUN_FIELD(proc_field_of[metric]);
}

/*
 * Pass 1: each process's peak, into rank. The values are computed again in pass 2 rather than
 * kept: a large log has millions of process samples, and a second pass over them costs less
 * than filling and reading back an array of them all.
 */
static void rank_peaks(const struct run *run, enum series_metric metric, struct cpu_calc *calc,
		       struct proc_rank *rank)
{
	bool cpu = metric == SERIES_CPU;
	for (size_t i = 0; i < run->n_procs; i++) {
		rank[i].peak = -1;
		rank[i].idx = (int)i;
	}
	for (size_t si = 0; si < run->n_samples; si++) {
		const struct run_sample *smp = &run->samples[si];
		bool ends = cpu && cpu_ends_window(calc, si, smp->t);
		for (size_t k = smp->first; k < smp->first + smp->n; k++) {
			const struct run_proc_sample *ps = run_ps(run, k);
			double v = cpu ? cpu_proc(calc, ps, si, smp->t, ends)
				       : mem_value(run, ps, metric);
			if (!isnan(v) && v > rank[ps->proc].peak)
				rank[ps->proc].peak = v;
		}
		if (ends) {
			double tree, other;
			cpu_end_window(calc, smp->t, &tree, &other);
		}
	}
	qsort(rank, run->n_procs, sizeof(*rank), cmp_rank);
}

/*
 * Where each process goes, from the ranking: slot_of[proc] is 1 + its place among the top,
 * -2 for "other", -1 for no known point. Returns how many are in the top; counts the rest.
 */
static size_t assign_slots(const struct proc_rank *rank, size_t np, int top, int *slot_of,
			   size_t *n_rest)
{
	size_t n_top = 0;
	for (size_t i = 0; i < np; i++)
		slot_of[i] = -1;
	for (size_t r = 0; r < np; r++) {
		if (rank[r].peak < 0)
			continue;
		if (top > 0 && n_top < (size_t)top) {
			slot_of[rank[r].idx] = (int)(1 + n_top++);
		} else {
			slot_of[rank[r].idx] = -2;
			(*n_rest)++;
		}
	}
	return n_top;
}

/* The set's series, empty: the tree, the n_top processes of rank, and "other" if any. */
static int alloc_series(struct series_set *set, const struct run *run, const struct proc_rank *rank,
			size_t n_top)
{
	set->n = 1 + n_top + (set->n_rest ? 1 : 0);
	set->s = calloc(set->n, sizeof(*set->s));
	if (!set->s) {
		set->n = 0;
		return -1;
	}
	if (series_alloc(&set->s[0], SERIES_TREE, -1, run->n_samples) < 0)
		return -1;
	for (size_t r = 0; r < n_top; r++) {
		int idx = rank[r].idx;
		const struct run_proc *p = &run->procs[idx];
		size_t cap =
			p->first_sample < 0 ? 0 : (size_t)(p->last_sample - p->first_sample + 1);
		if (series_alloc(&set->s[1 + r], SERIES_PROC, idx, cap) < 0)
			return -1;
	}
	if (set->n_rest && series_alloc(&set->s[set->n - 1], SERIES_OTHER, -1, run->n_samples) < 0)
		return -1;
	return 0;
}

/* Pass 2: the values again, distributed to the series by slot_of. */
static void fill_series(struct series_set *set, const struct run *run, enum series_metric metric,
			struct cpu_calc *calc, const int *slot_of)
{
	bool cpu = metric == SERIES_CPU;
	struct series *other = set->n_rest ? &set->s[set->n - 1] : NULL;
	for (size_t si = 0; si < run->n_samples; si++) {
		const struct run_sample *smp = &run->samples[si];
		bool ends = cpu && cpu_ends_window(calc, si, smp->t);
		double sum = 0, rest = 0;
		bool any = false, any_rest = false;
		for (size_t k = smp->first; k < smp->first + smp->n; k++) {
			const struct run_proc_sample *ps = run_ps(run, k);
			double v = cpu ? cpu_proc(calc, ps, si, smp->t, ends)
				       : mem_value(run, ps, metric);
			if (isnan(v))
				continue;
			int slot = slot_of[ps->proc];
			sum += v;
			any = true;
			if (slot > 0) {
				series_push(&set->s[slot], si, smp->t, v);
			} else if (slot == -2) {
				rest += v;
				any_rest = true;
			}
		}
		if (cpu) {
			if (!ends)
				continue;
			/* a window's end: known when some process is, or one ended in it, or
			 * none is alive (nothing to sum, 0) */
			bool known = any || calc->ended_in_window || !smp->n;
			double tree, rest_v;
			cpu_end_window(calc, smp->t, &tree, &rest_v);
			if (other)
				series_push(other, si, smp->t, rest_v);
			if (known)
				series_push(&set->s[0], si, smp->t, tree);
			continue;
		}
		if (other)
			series_push(other, si, smp->t, any_rest ? rest : 0);
		long long tv = smp->tree.v[tree_field_of[metric]];
		if (tv >= 0)
			series_push(&set->s[0], si, smp->t, (double)tv);
		else if (any || !smp->n) /* no process alive: nothing to sum, 0 */
			series_push(&set->s[0], si, smp->t, sum);
	}
}

/* Whether a and b have points at the same samples, each within tol of the other. */
static bool series_same(const struct series *a, const struct series *b, double tol)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (a->at[i] != b->at[i] || fabs(a->v[i] - b->v[i]) > tol)
			return false;
	return true;
}

/* Whether a set of metric for run leads with the job's memory (series_set_build). */
static bool wants_job(const struct run *run, enum series_metric metric)
{
	if (!run_measures_job(run))
		return false;
	return metric == SERIES_RSS || (metric == SERIES_PSS && run->header.method != MEM_RSS);
}

/*
 * Puts the job's line first in a built set: in front of the tree total, or in its place when
 * the tree total is the same line or its only process's. Returns -1 when out of memory.
 */
static int lead_with_job(struct series_set *set, const struct run *run)
{
	struct series job;
	if (series_alloc(&job, SERIES_JOB, -1, run->n_samples) < 0) {
		free(job.t);
		free(job.v);
		free(job.at);
		return -1;
	}
	for (size_t si = 0; si < run->n_samples; si++) {
		long long v = run_sample_job(&run->samples[si]);
		if (v >= 0)
			series_push(&job, si, run->samples[si].t, (double)v);
	}
	struct series *tree = &set->s[0];
	double tol = 0.005 * fmax(job.peak, tree->peak);
	set->job = true;
	set->method = run->header.method;
	if (series_same(&job, tree, tol) || series_tree_is_only_proc(set)) {
		free(tree->t);
		free(tree->v);
		free(tree->at);
		*tree = job;
		set->tree = -1;
		return 0;
	}
	struct series *s = realloc(set->s, (set->n + 1) * sizeof(*s));
	if (!s) {
		free(job.t);
		free(job.v);
		free(job.at);
		return -1;
	}
	memmove(s + 1, s, set->n * sizeof(*s));
	s[0] = job;
	set->s = s;
	set->n++;
	set->tree = 1;
	return 0;
}

int series_set_build(struct series_set *set, const struct run *run, enum series_metric metric,
		     int top)
{
	memset(set, 0, sizeof(*set));
	set->metric = metric;
	set->tree = 0;
	size_t np = run->n_procs;
	bool cpu = metric == SERIES_CPU;
	struct cpu_calc calc;
	struct proc_rank *rank = calloc(np ? np : 1, sizeof(*rank));
	int *slot_of = malloc((np ? np : 1) * sizeof(*slot_of));
	int ret = -1;
	if (cpu_calc_init(&calc, run, cpu) < 0 || !rank || !slot_of)
		goto out;
	rank_peaks(run, metric, &calc, rank);
	size_t n_top = assign_slots(rank, np, top, slot_of, &set->n_rest);
	if (alloc_series(set, run, rank, n_top) < 0)
		goto out;
	cpu_calc_release(&calc);
	if (cpu_calc_init(&calc, run, cpu) < 0)
		goto out;
	calc.slot_of = slot_of;
	fill_series(set, run, metric, &calc, slot_of);
	if (wants_job(run, metric) && lead_with_job(set, run) < 0)
		goto out;
	ret = 0;
out:
	if (ret < 0)
		series_set_release(set);
	cpu_calc_release(&calc);
	free(rank);
	free(slot_of);
	return ret;
}

bool series_tree_is_only_proc(const struct series_set *set)
{
	if (set->n != 2 || set->s[1].kind != SERIES_PROC || !set->s[0].n)
		return false;
	const struct series *tree = &set->s[0], *p = &set->s[1];
	double tol = 0.005 * fmax(tree->peak, p->peak);
	size_t j = 0;
	for (size_t i = 0; i < tree->n; i++) {
		while (j < p->n && p->at[j] < tree->at[i])
			j++;
		double v = j < p->n && p->at[j] == tree->at[i] ? p->v[j] : 0;
		if (fabs(tree->v[i] - v) > tol)
			return false;
	}
	return true;
}

double series_at(const struct series *s, double t)
{
	if (!s->n)
		return -1;
	if (t <= s->t[0])
		return s->v[0];
	if (t >= s->t[s->n - 1])
		return s->v[s->n - 1];
	size_t lo = 0, hi = s->n - 1; /* t[lo] < t <= t[hi] */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->t[mid] < t)
			lo = mid;
		else
			hi = mid;
	}
	double dt = s->t[hi] - s->t[lo];
	if (dt <= 0)
		return s->v[hi];
	return s->v[lo] + (s->v[hi] - s->v[lo]) * (t - s->t[lo]) / dt;
}

/*
 * The M4 reduction of series_decimate, as indices: calls keep(data, i) for each point i kept, in
 * ascending order. The caller handles the case where every point fits.
 */
static void m4_keep(const double *t, const double *v, size_t n, double t0, double t1, size_t cols,
		    void (*keep)(void *data, size_t i), void *data)
{
	double scale = t1 > t0 ? (double)cols / (t1 - t0) : 0;
	size_t i = 0;
	while (i < n) {
		double c = (t[i] - t0) * scale;
		size_t col = c <= 0 ? 0 : c >= (double)cols ? cols - 1 : (size_t)c;
		/* The run of points in this column: [i, j). */
		size_t first = i, lo = i, hi = i, j = i + 1;
		for (; j < n; j++) {
			double cj = (t[j] - t0) * scale;
			size_t colj = cj <= 0 ? 0 : cj >= (double)cols ? cols - 1 : (size_t)cj;
			if (colj != col)
				break;
			if (v[j] < v[lo])
				lo = j;
			if (v[j] > v[hi])
				hi = j;
		}
		size_t last = j - 1;
		/* first, then lo and hi in time order, then last; each index once. */
		size_t order[4] = {first, lo < hi ? lo : hi, lo < hi ? hi : lo, last};
		size_t prev = (size_t)-1;
		for (int k = 0; k < 4; k++) {
			if (order[k] != prev)
				keep(data, order[k]);
			prev = order[k];
		}
		i = j;
	}
}

struct copy_out {
	const double *t, *v;
	double *out_t, *out_v;
	size_t n;
};

static void copy_point(void *data, size_t i)
{
	struct copy_out *c = data;
	c->out_t[c->n] = c->t[i];
	c->out_v[c->n] = c->v[i];
	c->n++;
}

size_t series_decimate(const double *t, const double *v, size_t n, double t0, double t1,
		       size_t cols, double *out_t, double *out_v)
{
	if (!n || !cols)
		return 0;
	if (n <= series_decimate_cap(cols)) {
		memcpy(out_t, t, n * sizeof(*t));
		memcpy(out_v, v, n * sizeof(*v));
		return n;
	}
	struct copy_out c = {t, v, out_t, out_v, 0};
	m4_keep(t, v, n, t0, t1, cols, copy_point, &c);
	return c.n;
}

/* ---- tables ---- */

/* Marks the samples a series keeps: row[at[i]] = 1. */
struct mark_rows {
	const size_t *at;
	size_t *row;
};

static void mark_row(void *data, size_t i)
{
	struct mark_rows *m = data;
	m->row[m->at[i]] = 1;
}

void series_table_release(struct series_table *tab)
{
	if (tab->v)
		free(tab->v[0]);
	free(tab->v);
	free(tab->t);
	memset(tab, 0, sizeof(*tab));
}

int series_table_build(struct series_table *tab, const struct series_set *set, size_t max_rows)
{
	memset(tab, 0, sizeof(*tab));
	/* The samples that hold points: 0 .. m - 1, and the time the points cover. */
	size_t m = 0;
	double t0 = INFINITY, t1 = -INFINITY;
	for (size_t k = 0; k < set->n; k++) {
		const struct series *s = &set->s[k];
		if (!s->n)
			continue;
		if (s->at[s->n - 1] + 1 > m)
			m = s->at[s->n - 1] + 1;
		t0 = fmin(t0, s->t[0]);
		t1 = fmax(t1, s->t[s->n - 1]);
	}
	size_t *row = calloc(m ? m : 1, sizeof(*row)); /* 1 when kept, then the row's index */
	if (!row)
		return -1;
	for (size_t k = 0; k < set->n; k++)
		for (size_t i = 0; i < set->s[k].n; i++)
			row[set->s[k].at[i]] = 1;
	size_t n = 0;
	for (size_t i = 0; i < m; i++)
		n += row[i];
	if (n > max_rows) {
		size_t cols = max_rows / (4 * set->n);
		if (!cols)
			cols = 1;
		memset(row, 0, m * sizeof(*row));
		for (size_t k = 0; k < set->n; k++) {
			const struct series *s = &set->s[k];
			struct mark_rows mr = {s->at, row};
			if (s->n <= series_decimate_cap(cols))
				for (size_t i = 0; i < s->n; i++)
					row[s->at[i]] = 1;
			else
				m4_keep(s->t, s->v, s->n, t0, t1, cols, mark_row, &mr);
		}
	}
	/* Number the kept samples; row[i] becomes the row + 1 (0: not kept). */
	n = 0;
	for (size_t i = 0; i < m; i++)
		if (row[i])
			row[i] = ++n;

	tab->ns = set->n;
	tab->t = malloc((n ? n : 1) * sizeof(*tab->t));
	tab->v = calloc(set->n ? set->n : 1, sizeof(*tab->v));
	size_t nv = n * set->n;
	double *vals = malloc((nv ? nv : 1) * sizeof(*vals));
	if (!tab->t || !tab->v || !vals) {
		free(vals);
		free(row);
		series_table_release(tab);
		return -1;
	}
	tab->n = n;
	for (size_t k = 0; k < set->n; k++)
		tab->v[k] = vals + k * n;
	for (size_t i = 0; i < nv; i++)
		vals[i] = NAN;
	for (size_t k = 0; k < set->n; k++) {
		const struct series *s = &set->s[k];
		for (size_t i = 0; i < s->n; i++) {
			size_t r = row[s->at[i]];
			if (!r)
				continue;
			tab->t[r - 1] = s->t[i];
			tab->v[k][r - 1] = s->v[i];
		}
	}
	free(row);
	return 0;
}
