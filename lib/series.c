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
#include "series.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const int proc_field_of[] = {PF_RSS, PF_PSS, PF_VMS, PF_SWAP};
static const int tree_field_of[] = {TF_RSS, TF_PSS, TF_VMS, TF_SWAP};

static int series_alloc(struct series *s, enum series_kind kind, int proc, size_t cap)
{
	s->kind = kind;
	s->proc = proc;
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

static void series_push(struct series *s, size_t at, double t, double v)
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

/*
 * The value of process sample ps (in the sample at time t) for metric, or NAN when unknown. For
 * CPU it uses and updates the process's previous CPU time (-2 before its first sample, -1
 * unknown) and sample time.
 */
static double proc_value(const struct run *run, const struct run_proc_sample *ps, double t,
			 enum plot_metric metric, long long *prev_cpu, double *prev_t)
{
	if (metric != PLOT_CPU) {
		long long v = run_ps_value(run, ps, proc_field_of[metric]);
		return v < 0 ? NAN : (double)v;
	}
	long long u = run_ps_value(run, ps, PF_UTIME), s = run_ps_value(run, ps, PF_STIME);
	long long cpu = u < 0 || s < 0 ? -1 : u + s;
	double val = NAN;
	long long pc = prev_cpu[ps->proc];
	double pt = prev_t[ps->proc];
	if (cpu >= 0) {
		if (pc >= 0 && t > pt && cpu >= pc) {
			val = (double)(cpu - pc) / 10.0 / (t - pt);
		} else if (pc == -2) { /* first sample: from its start if it began during the run */
			double start = run->procs[ps->proc].start;
			if (start >= 0 && t > start)
				val = (double)cpu / 10.0 / (t - start);
		}
	}
	if (cpu >= 0) {
		prev_cpu[ps->proc] = cpu;
		prev_t[ps->proc] = t;
	} else if (pc == -2) {
		prev_cpu[ps->proc] = -1;
	}
	return val;
}

unsigned long long series_fields(enum plot_metric metric)
{
	if (metric == PLOT_CPU)
		return RUN_FIELD(PF_UTIME) | RUN_FIELD(PF_STIME);
	return RUN_FIELD(proc_field_of[metric]);
}

/* Every process before its first sample, for proc_value. */
static void cpu_reset(long long *prev_cpu, double *prev_t, size_t np)
{
	for (size_t i = 0; i < np; i++) {
		prev_cpu[i] = -2;
		prev_t[i] = 0;
	}
}

int series_set_build(struct series_set *set, const struct run *run, enum plot_metric metric,
		     int top)
{
	memset(set, 0, sizeof(*set));
	set->metric = metric;
	size_t np = run->n_procs;
	struct proc_rank *rank = calloc(np ? np : 1, sizeof(*rank));
	long long *prev_cpu = malloc((np ? np : 1) * sizeof(*prev_cpu));
	double *prev_t = malloc((np ? np : 1) * sizeof(*prev_t));
	int *slot_of = malloc((np ? np : 1) * sizeof(*slot_of));
	int ret = -1;
	if (!rank || !prev_cpu || !prev_t || !slot_of)
		goto out;

	/*
	 * Pass 1: each process's peak. The values are computed again in pass 2 rather than kept:
	 * a large log has millions of process samples, and a second pass over them costs less
	 * than filling and reading back an array of them all.
	 */
	for (size_t i = 0; i < np; i++) {
		rank[i].peak = -1;
		rank[i].idx = (int)i;
	}
	cpu_reset(prev_cpu, prev_t, np);
	for (size_t si = 0; si < run->n_samples; si++) {
		const struct run_sample *smp = &run->samples[si];
		for (size_t k = smp->first; k < smp->first + smp->n; k++) {
			const struct run_proc_sample *ps = run_ps(run, k);
			double v = proc_value(run, ps, smp->t, metric, prev_cpu, prev_t);
			if (!isnan(v) && v > rank[ps->proc].peak)
				rank[ps->proc].peak = v;
		}
	}
	qsort(rank, np, sizeof(*rank), cmp_rank);
	size_t n_top = 0;
	for (size_t i = 0; i < np; i++)
		slot_of[i] = -1; /* no known point: in neither the top nor "other" */
	for (size_t r = 0; r < np; r++) {
		if (rank[r].peak < 0)
			continue;
		if (top > 0 && n_top < (size_t)top) {
			slot_of[rank[r].idx] = (int)(1 + n_top++);
		} else {
			slot_of[rank[r].idx] = -2; /* "other" */
			set->n_rest++;
		}
	}

	set->n = 1 + n_top + (set->n_rest ? 1 : 0);
	set->s = calloc(set->n, sizeof(*set->s));
	if (!set->s) {
		set->n = 0;
		goto out;
	}
	if (series_alloc(&set->s[0], SERIES_TREE, -1, run->n_samples) < 0)
		goto out;
	for (size_t r = 0; r < n_top; r++) {
		int idx = rank[r].idx;
		const struct run_proc *p = &run->procs[idx];
		size_t cap =
			p->first_sample < 0 ? 0 : (size_t)(p->last_sample - p->first_sample + 1);
		if (series_alloc(&set->s[1 + r], SERIES_PROC, idx, cap) < 0)
			goto out;
	}
	struct series *other = set->n_rest ? &set->s[set->n - 1] : NULL;
	if (other && series_alloc(other, SERIES_OTHER, -1, run->n_samples) < 0)
		goto out;

	/* Pass 2: the values again, distributed to the series. */
	cpu_reset(prev_cpu, prev_t, np);
	for (size_t si = 0; si < run->n_samples; si++) {
		const struct run_sample *smp = &run->samples[si];
		double sum = 0, rest = 0;
		bool any = false, any_rest = false;
		for (size_t k = smp->first; k < smp->first + smp->n; k++) {
			const struct run_proc_sample *ps = run_ps(run, k);
			double v = proc_value(run, ps, smp->t, metric, prev_cpu, prev_t);
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
		if (other)
			series_push(other, si, smp->t, any_rest ? rest : 0);
		long long tv = metric == PLOT_CPU ? -1 : smp->tree.v[tree_field_of[metric]];
		if (tv >= 0)
			series_push(&set->s[0], si, smp->t, (double)tv);
		else if (any || !smp->n) /* no process alive: nothing to sum, 0 */
			series_push(&set->s[0], si, smp->t, sum);
	}
	ret = 0;
out:
	if (ret < 0)
		series_set_release(set);
	free(rank);
	free(prev_cpu);
	free(prev_t);
	free(slot_of);
	return ret;
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
