/*
 * series: a run's lines for one metric (tree total, top processes, "other") and their
 * peak-preserving decimation; the contract is in series.h.
 *
 * Building takes two passes over the run's process samples: the first computes each process's
 * value at each sample (CPU% needs the previous sample of the same process) and its peak, which
 * ranks the processes; the second appends each value to its process's series or adds it to
 * "other", and sums the tree total where the log has none. Both passes are O(process-samples).
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
	return s->t && s->v ? 0 : -1;
}

static void series_push(struct series *s, double t, double v)
{
	s->t[s->n] = t;
	s->v[s->n] = v;
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
		long long v = ps->v.v[proc_field_of[metric]];
		return v < 0 ? NAN : (double)v;
	}
	long long u = ps->v.v[PF_UTIME], s = ps->v.v[PF_STIME];
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

int series_set_build(struct series_set *set, const struct run *run, enum plot_metric metric,
		     int top)
{
	memset(set, 0, sizeof(*set));
	set->metric = metric;
	size_t np = run->n_procs, nps = run->n_proc_samples;
	struct proc_rank *rank = calloc(np ? np : 1, sizeof(*rank));
	double *vals = malloc((nps ? nps : 1) * sizeof(*vals));
	long long *prev_cpu = malloc((np ? np : 1) * sizeof(*prev_cpu));
	double *prev_t = malloc((np ? np : 1) * sizeof(*prev_t));
	int *slot_of = malloc((np ? np : 1) * sizeof(*slot_of));
	int ret = -1;
	if (!rank || !vals || !prev_cpu || !prev_t || !slot_of)
		goto out;

	/* Pass 1: every process sample's value, and each process's peak. */
	for (size_t i = 0; i < np; i++) {
		rank[i].peak = -1;
		rank[i].idx = (int)i;
		prev_cpu[i] = -2; /* no sample yet */
		prev_t[i] = 0;
	}
	for (size_t si = 0; si < run->n_samples; si++) {
		const struct run_sample *smp = &run->samples[si];
		for (size_t k = smp->first; k < smp->first + smp->n; k++) {
			const struct run_proc_sample *ps = &run->proc_samples[k];
			double v = proc_value(run, ps, smp->t, metric, prev_cpu, prev_t);
			vals[k] = v;
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

	/* Pass 2: distribute the values. */
	for (size_t si = 0; si < run->n_samples; si++) {
		const struct run_sample *smp = &run->samples[si];
		double sum = 0, rest = 0;
		bool any = false, any_rest = false;
		for (size_t k = smp->first; k < smp->first + smp->n; k++) {
			double v = vals[k];
			if (isnan(v))
				continue;
			int slot = slot_of[run->proc_samples[k].proc];
			sum += v;
			any = true;
			if (slot > 0) {
				series_push(&set->s[slot], smp->t, v);
			} else if (slot == -2) {
				rest += v;
				any_rest = true;
			}
		}
		if (other)
			series_push(other, smp->t, any_rest ? rest : 0);
		long long tv = metric == PLOT_CPU ? -1 : smp->tree.v[tree_field_of[metric]];
		if (tv >= 0)
			series_push(&set->s[0], smp->t, (double)tv);
		else if (any)
			series_push(&set->s[0], smp->t, sum);
	}
	ret = 0;
out:
	if (ret < 0)
		series_set_release(set);
	free(rank);
	free(vals);
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
	double scale = t1 > t0 ? (double)cols / (t1 - t0) : 0;
	size_t out = 0, i = 0;
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
		size_t keep[4] = {first, lo < hi ? lo : hi, lo < hi ? hi : lo, last};
		size_t prev = (size_t)-1;
		for (int k = 0; k < 4; k++) {
			if (keep[k] == prev)
				continue;
			out_t[out] = t[keep[k]];
			out_v[out] = v[keep[k]];
			out++;
			prev = keep[k];
		}
		i = j;
	}
	return out;
}
