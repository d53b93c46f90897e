/*
 * series-threads: the lines of one process's threads (the contract is in series.h, "the
 * threads of one process"), from the run model's threads (threads.h) and the process's samples.
 *
 * Heap lines take one pass over the process's samples: each thread keeps a cursor into its
 * rows, moved up to the sample's time, and its value there is its latest row's (a thread
 * without a row kept its numbers). CPU lines first gather the times at which the threads' CPU
 * times are known (read_times: where some thread's moved, and the samples where the process's
 * own had not moved since), cut them into windows as series.c cuts the run, then take each
 * thread's change over each window, its CPU time at a window's end being that of its latest
 * row by then. Both are O(samples x threads + rows).
 *
 * Nothing here prints or exits; out of memory is returned as -1.
 */
#include "model/series.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int line_alloc(struct series *s, enum series_kind kind, int proc, long thread, size_t cap)
{
	memset(s, 0, sizeof(*s));
	int ret = series_alloc(s, kind, proc, cap);
	s->thread = thread;
	return ret;
}

static void line_free(struct series *s)
{
	free(s->t);
	free(s->v);
	free(s->at);
	s->t = s->v = NULL;
	s->at = NULL;
	s->n = 0;
}

void series_threads_release(struct series_threads *st)
{
	series_set_release(&st->set);
	memset(st, 0, sizeof(*st));
	st->proc = -1;
}

unsigned long long series_threads_fields(void)
{
	return RUN_FIELD(PF_RSS) | RUN_FIELD(PF_HEAP) | RUN_FIELD(PF_UTIME) | RUN_FIELD(PF_STIME) |
	       RUN_FIELD(PF_THREADS);
}

static long long th_cpu_total(const struct run_th *x)
{
	return (x->utime > 0 ? x->utime : 0) + (x->stime > 0 ? x->stime : 0);
}

bool series_threads_have_heap(const struct run *run, int proc)
{
	for (size_t i = 0; i < run->threads.n; i++)
		if (run->threads.v[i].proc == proc && run->threads.v[i].heap_peak >= 0)
			return true;
	return false;
}

struct proc_weight {
	int proc;
	long long heap; /* KiB; -1 none */
	long long cpu;	/* ms */
	bool by_heap;
};

static int cmp_weight(const void *a, const void *b)
{
	const struct proc_weight *x = a, *y = b;
	long long wx = x->by_heap ? x->heap : x->cpu, wy = y->by_heap ? y->heap : y->cpu;
	if (wx != wy)
		return wx > wy ? -1 : 1;
	if (x->cpu != y->cpu)
		return x->cpu > y->cpu ? -1 : 1;
	return x->proc - y->proc;
}

int *series_threads_procs(const struct run *run, size_t *n)
{
	*n = 0;
	size_t np = run->n_procs;
	if (!np || !run->threads.n)
		return NULL;
	struct proc_weight *w = calloc(np, sizeof(*w));
	int *out = NULL;
	bool *has = calloc(np, sizeof(*has));
	if (!w || !has)
		goto done;
	for (size_t i = 0; i < np; i++)
		w[i] = (struct proc_weight){(int)i, -1, 0, false};
	for (size_t i = 0; i < run->threads.n; i++) {
		const struct run_th *x = &run->threads.v[i];
		if (x->proc < 0 || (size_t)x->proc >= np)
			continue;
		has[x->proc] = true;
		long long h = x->heap_peak >= 0 ? (x->heap_peak + 1023) / 1024 : -1;
		if (h > w[x->proc].heap)
			w[x->proc].heap = h;
		w[x->proc].cpu += th_cpu_total(x);
	}
	/* the process's own heap peak (its samples' "heap") where it is known */
	bool any_heap = false;
	size_t m = 0;
	for (size_t i = 0; i < np; i++) {
		if (!has[i])
			continue;
		if (run->procs[i].heap_peak > w[i].heap)
			w[i].heap = run->procs[i].heap_peak;
		any_heap |= w[i].heap >= 0;
		w[m++] = w[i];
	}
	for (size_t i = 0; i < m; i++)
		w[i].by_heap = any_heap;
	qsort(w, m, sizeof(*w), cmp_weight);
	out = malloc((m ? m : 1) * sizeof(*out));
	if (!out)
		goto done;
	for (size_t i = 0; i < m; i++)
		out[i] = w[i].proc;
	*n = m;
done:
	free(w);
	free(has);
	return out;
}

int series_threads_default(const struct run *run)
{
	size_t n = 0;
	int *procs = series_threads_procs(run, &n);
	int best = n ? procs[0] : -1;
	free(procs);
	return best;
}

void series_thread_name(const struct run *run, size_t th, struct strbuf *out)
{
	const struct run_th *x = &run->threads.v[th];
	if (x->tid < 0) {
		strbuf_addstr(out, "(more threads)");
		return;
	}
	strbuf_addf(out, "%d", (int)x->tid);
	if (x->name[0]) {
		strbuf_addch(out, ' ');
		strbuf_addstr(out, x->name);
	}
	if (x->proc >= 0 && (size_t)x->proc < run->n_procs && run->procs[x->proc].pid == x->tid)
		strbuf_addstr(out, " (main)");
}

/* The process's entry in sample si, or NULL. */
static const struct run_proc_sample *proc_in(const struct run *run, size_t si, int proc)
{
	const struct run_sample *s = &run->samples[si];
	for (size_t k = s->first; k < s->first + s->n; k++) {
		const struct run_proc_sample *ps = run_ps(run, k);
		if (ps->proc == proc)
			return ps;
	}
	return NULL;
}

/* Sets st's lines up: n_lines empty series, the first `first` of them not threads. */
static int alloc_lines(struct series_threads *st, size_t n_lines)
{
	st->set.s = calloc(n_lines ? n_lines : 1, sizeof(*st->set.s));
	if (!st->set.s)
		return -1;
	st->set.n = n_lines;
	return 0;
}

/* The heap lines (the set's order is in series.h). */
static int build_heap(struct series_threads *st, const struct run *run, const size_t *idx, size_t n,
		      size_t top)
{
	const struct run_proc *p = &run->procs[st->proc];
	size_t cap = p->first_sample < 0 ? 0 : (size_t)(p->last_sample - p->first_sample + 1);
	bool other = n > top;
	st->first = 2;
	if (alloc_lines(st, 2 + top + (other ? 1 : 0)) < 0)
		return -1;
	struct series *s = st->set.s;
	if (line_alloc(&s[0], SERIES_PROC, st->proc, -1, cap) < 0 ||
	    line_alloc(&s[1], SERIES_HEAP, st->proc, -1, cap) < 0)
		return -1;
	for (size_t k = 0; k < top; k++)
		if (line_alloc(&s[2 + k], SERIES_THREAD, -1, (long)idx[k], cap) < 0)
			return -1;
	if (other && line_alloc(&s[2 + top], SERIES_OTHER, -1, -1, cap) < 0)
		return -1;
	st->set.n_rest = other ? n - top : 0;
	size_t *cur = calloc(n ? n : 1, sizeof(*cur));
	if (!cur)
		return -1;
	for (long si = p->first_sample; si >= 0 && si <= p->last_sample; si++) {
		const struct run_proc_sample *ps = proc_in(run, (size_t)si, st->proc);
		if (!ps)
			continue;
		double t = run->samples[si].t;
		long long rss = run_ps_value(run, ps, PF_RSS),
			  heap = run_ps_value(run, ps, PF_HEAP);
		if (rss >= 0)
			series_push(&s[0], (size_t)si, t, (double)rss);
		if (heap >= 0)
			series_push(&s[1], (size_t)si, t, (double)heap);
		double rest = 0;
		bool any_rest = false;
		for (size_t k = 0; k < n; k++) {
			const struct run_th *x = &run->threads.v[idx[k]];
			while (cur[k] < x->n_pts && x->pts[cur[k]].t <= t)
				cur[k]++;
			if (!cur[k] || x->pts[cur[k] - 1].heap < 0)
				continue;
			double v = (double)x->pts[cur[k] - 1].heap / 1024.0;
			if (k < top) {
				series_push(&s[2 + k], (size_t)si, t, v);
			} else {
				rest += v;
				any_rest = true;
			}
		}
		if (other && any_rest)
			series_push(&s[2 + top], (size_t)si, t, rest);
	}
	free(cur);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The process's own CPU time (utime + stime of its stat, read at every sample) in sample si;
 * -1 unknown or not in it. */
static long long proc_cpu(const struct run *run, size_t si, int proc)
{
	const struct run_proc_sample *ps = proc_in(run, si, proc);
	long long u = ps ? run_ps_value(run, ps, PF_UTIME) : -1;
	long long st = ps ? run_ps_value(run, ps, PF_STIME) : -1;
	return u < 0 || st < 0 ? -1 : u + st;
}

static size_t sort_unique(double *r, size_t m)
{
	qsort(r, m, sizeof(*r), cmp_double);
	size_t u = 0;
	for (size_t i = 0; i < m; i++)
		if (!u || r[i] != r[u - 1])
			r[u++] = r[i];
	return u;
}

/*
 * The times at which process proc's threads' CPU times are known, ascending and each once,
 * into a new array (*out, NULL when none or out of memory); returns how many, or -1 when out
 * of memory. They are the times the threads were read, as far as their rows tell (some
 * thread's CPU time moved, or a thread's first row), and the process's samples at which its
 * own CPU time (its stat, read at every sample) had not moved since such a read: then no
 * thread's had either, and each thread's is still its latest row's.
 */
static long read_times(const struct run *run, int proc, const size_t *idx, size_t n, double **out)
{
	const struct run_proc *p = &run->procs[proc];
	size_t total = 0,
	       samples = p->first_sample < 0 ? 0 : (size_t)(p->last_sample - p->first_sample + 1);
	*out = NULL;
	for (size_t k = 0; k < n; k++)
		total += run->threads.v[idx[k]].n_pts;
	if (!total)
		return 0;
	double *r = malloc((total + samples) * sizeof(*r));
	if (!r)
		return -1;
	size_t m = 0;
	for (size_t k = 0; k < n; k++) {
		const struct run_th *x = &run->threads.v[idx[k]];
		long long last = -1;
		for (size_t j = 0; j < x->n_pts; j++) {
			long long c = x->pts[j].cpu;
			if (c < 0)
				continue;
			if (last < 0 || c != last)
				r[m++] = x->pts[j].t;
			last = c;
		}
	}
	size_t u = sort_unique(r, m), more = u, i = 0;
	long long base = -1; /* the process's CPU time at the latest read */
	for (long si = p->first_sample; si >= 0 && si <= p->last_sample; si++) {
		double t = run->samples[si].t;
		long long c = proc_cpu(run, (size_t)si, proc);
		while (i < u && r[i] < t)
			i++;
		if (i < u && r[i] == t)
			base = c;
		else if (i > 0 && base >= 0 && c == base)
			r[more++] = t;
	}
	*out = r;
	return (long)sort_unique(r, more);
}

/*
 * The ends of the CPU windows among the m read times r (in place; returns how many): r[0]
 * starts the first; a time ends one when it is at least w after the last end and at least w
 * before the last time, which always ends one.
 */
static size_t window_ends(double *r, size_t m, double w)
{
	if (!m)
		return 0;
	size_t e = 1;
	double last = r[m - 1];
	for (size_t i = 1; i < m; i++) {
		bool is_last = i + 1 == m;
		if ((is_last && r[i] > r[e - 1]) ||
		    (!is_last && r[i] - r[e - 1] >= w && last - r[i] >= w))
			r[e++] = r[i];
	}
	return e;
}

/* A thread's CPU time at time t: its latest known row's by then; *first its first's time. */
struct cpu_cursor {
	size_t j;      /* rows at or before the last time asked */
	long long cpu; /* the latest known CPU ms by then; -1 none */
};

static long long cpu_at(const struct run_th *x, struct cpu_cursor *c, double t)
{
	while (c->j < x->n_pts && x->pts[c->j].t <= t) {
		if (x->pts[c->j].cpu >= 0)
			c->cpu = x->pts[c->j].cpu;
		c->j++;
	}
	return c->cpu;
}

/* The time of a thread's first row with a CPU time; INFINITY none. */
static double first_cpu_t(const struct run_th *x, long long *cpu)
{
	for (size_t j = 0; j < x->n_pts; j++)
		if (x->pts[j].cpu >= 0) {
			*cpu = x->pts[j].cpu;
			return x->pts[j].t;
		}
	return INFINITY;
}

static int by_cpu(const void *a, const void *b, void *data)
{
	const struct run *run = data;
	const struct run_th *x = &run->threads.v[*(const size_t *)a];
	const struct run_th *y = &run->threads.v[*(const size_t *)b];
	long long cx = th_cpu_total(x), cy = th_cpu_total(y);
	if (cx != cy)
		return cx > cy ? -1 : 1;
	return x->tid < y->tid ? -1 : x->tid > y->tid;
}

/* The CPU lines (the set's order is in series.h). */
static int build_cpu(struct series_threads *st, const struct run *run, size_t *idx, size_t n,
		     size_t top)
{
	if (n)
		qsort_r(idx, n, sizeof(*idx), by_cpu, (void *)run);
	bool other = n > top;
	st->first = 0;
	st->set.metric = SERIES_CPU;
	double *r = NULL;
	long m = read_times(run, st->proc, idx, n, &r);
	struct cpu_cursor *cur = calloc(n ? n : 1, sizeof(*cur));
	long long *first_cpu = malloc((n ? n : 1) * sizeof(*first_cpu));
	double *first_t = malloc((n ? n : 1) * sizeof(*first_t));
	int ret = -1;
	if (m < 0 || !cur || !first_cpu || !first_t || alloc_lines(st, top + (other ? 1 : 0)) < 0)
		goto out;
	size_t ne = window_ends(r, (size_t)m, series_cpu_window(run));
	size_t cap = ne ? ne : 1;
	struct series *s = st->set.s;
	for (size_t k = 0; k < top; k++)
		if (line_alloc(&s[k], SERIES_THREAD, -1, (long)idx[k], cap) < 0)
			goto out;
	if (other && line_alloc(&s[top], SERIES_OTHER, -1, -1, cap) < 0)
		goto out;
	st->set.n_rest = other ? n - top : 0;
	for (size_t k = 0; k < n; k++) {
		cur[k] = (struct cpu_cursor){0, -1};
		first_cpu[k] = -1;
		first_t[k] = first_cpu_t(&run->threads.v[idx[k]], &first_cpu[k]);
	}
	for (size_t e = 1; e < ne; e++) {
		double t0 = r[e - 1], t1 = r[e];
		size_t at = run_sample_from(run, t1);
		if (at >= run->n_samples)
			at = run->n_samples ? run->n_samples - 1 : 0;
		double rest_ms = 0;
		long long rest_threads = 0;
		bool any_rest = false;
		for (size_t k = 0; k < n; k++) {
			const struct run_th *x = &run->threads.v[idx[k]];
			long long base = cpu_at(x, &cur[k], t0);
			double tb = t0;
			if (first_t[k] > t1 || (x->end_t >= 0 && t0 >= x->end_t))
				continue;      /* not yet, or ended before this window */
			if (first_t[k] > t0) { /* first seen in this window: from its first row */
				base = first_cpu[k];
				tb = first_t[k];
			}
			long long now = cpu_at(x, &cur[k], t1);
			if (base < 0 || now < base || !(t1 > tb))
				continue;
			if (k < top) {
				double v =
					series_cpu_percent(now - base, t1 - tb, x->tid < 0 ? 0 : 1);
				if (!isnan(v))
					series_push(&s[k], at, t1, v);
			} else {
				rest_ms += (double)(now - base);
				rest_threads += x->tid < 0 ? 0 : 1;
				any_rest = true;
			}
		}
		if (other && any_rest) {
			double v = series_cpu_percent((long long)rest_ms, t1 - t0, rest_threads);
			if (!isnan(v))
				series_push(&s[top], at, t1, v);
		}
	}
	ret = 0;
out:
	free(r);
	free(cur);
	free(first_cpu);
	free(first_t);
	return ret;
}

int series_threads_build(struct series_threads *st, const struct run *run, int proc,
			 enum series_metric metric, int top)
{
	memset(st, 0, sizeof(*st));
	st->proc = proc;
	st->set.metric = SERIES_RSS;
	st->set.tree = -1;
	if (proc < 0 || (size_t)proc >= run->n_procs)
		return 0;
	size_t count = 0, n = 0;
	for (size_t i = 0; i < run->threads.n; i++)
		count += run->threads.v[i].proc == proc;
	size_t *idx = count ? run_threads_of(&run->threads, proc, &n) : NULL;
	if (count && !idx)
		return -1;
	st->n_threads = n;
	st->heap = metric != SERIES_CPU && series_threads_have_heap(run, proc);
	size_t want = top < 1 ? 1 : (size_t)top;
	if (want > n)
		want = n;
	int ret = st->heap ? build_heap(st, run, idx, n, want) : build_cpu(st, run, idx, n, want);
	free(idx);
	if (ret < 0)
		series_threads_release(st);
	return ret;
}

int series_threads_stack(struct series_threads *st)
{
	if (st->stacked || st->first >= st->set.n)
		return 0;
	/* the samples any thread line has a point at: a mark per sample index */
	size_t lo = SIZE_MAX, hi = 0;
	for (size_t k = st->first; k < st->set.n; k++) {
		const struct series *s = &st->set.s[k];
		if (!s->n)
			continue;
		lo = s->at[0] < lo ? s->at[0] : lo;
		hi = s->at[s->n - 1] > hi ? s->at[s->n - 1] : hi;
	}
	if (lo == SIZE_MAX) {
		st->stacked = true;
		return 0;
	}
	size_t span = hi - lo + 1;
	double *sum = calloc(span, sizeof(*sum)), *when = malloc(span * sizeof(*when));
	bool *mark = calloc(span, sizeof(*mark));
	size_t nk = st->set.n - st->first;
	struct series *out = calloc(nk, sizeof(*out));
	int ret = -1;
	if (!sum || !when || !mark || !out)
		goto fail;
	size_t points = 0;
	for (size_t k = st->first; k < st->set.n; k++) {
		const struct series *s = &st->set.s[k];
		for (size_t i = 0; i < s->n; i++) {
			points += !mark[s->at[i] - lo];
			mark[s->at[i] - lo] = true;
			when[s->at[i] - lo] = s->t[i];
		}
	}
	for (size_t k = 0; k < nk; k++) {
		const struct series *s = &st->set.s[st->first + k];
		if (line_alloc(&out[k], s->kind, s->proc, s->thread, points) < 0)
			goto fail;
		size_t i = 0;
		for (size_t u = 0; u < span; u++) {
			if (!mark[u])
				continue;
			while (i < s->n && s->at[i] < lo + u)
				i++;
			if (i < s->n && s->at[i] == lo + u)
				sum[u] += s->v[i];
			series_push(&out[k], lo + u, when[u], sum[u]);
		}
	}
	for (size_t k = 0; k < nk; k++) {
		line_free(&st->set.s[st->first + k]);
		st->set.s[st->first + k] = out[k];
	}
	free(out);
	out = NULL;
	st->stacked = true;
	ret = 0;
fail:
	for (size_t k = 0; out && k < nk; k++)
		line_free(&out[k]);
	free(out);
	free(sum);
	free(when);
	free(mark);
	return ret;
}

bool series_threads_peak(const struct series_threads *st, const struct run *run, size_t k,
			 double *t, double *v)
{
	if (k < st->first || k >= st->set.n)
		return false;
	const struct series *s = &st->set.s[k];
	if (st->heap && s->kind == SERIES_THREAD) {
		const struct run_th *x = &run->threads.v[s->thread];
		if (x->heap_peak <= 0)
			return false;
		*t = x->heap_peak_t;
		*v = (double)x->heap_peak / 1024.0;
		return true;
	}
	if (!s->n || !(s->peak > 0))
		return false;
	*t = s->peak_t;
	*v = s->peak;
	return true;
}

/*
 * The latest change of thread x's CPU time at or before limit and after floor (the time of its
 * row); -INFINITY when none. Scans back from the end: it stops at floor, since the caller
 * wants the latest of several threads' and has one at floor already.
 */
static double last_change(const struct run_th *x, double limit, double floor)
{
	for (size_t j = x->n_pts; j-- > 0;) {
		if (x->pts[j].t <= floor)
			break;
		if (x->pts[j].t > limit || x->pts[j].cpu < 0)
			continue;
		size_t p = j;
		while (p-- > 0 && x->pts[p].cpu < 0)
			;
		if (p == SIZE_MAX || x->pts[p].cpu != x->pts[j].cpu)
			return x->pts[j].t;
	}
	return -INFINITY;
}

/* Thread x's CPU time at t: its latest known row's at or before t; -1 none. O(log n). */
static long long cpu_at_time(const struct run_th *x, double t)
{
	size_t lo = run_th_points_upto(x, t);
	while (lo-- > 0)
		if (x->pts[lo].cpu >= 0)
			return x->pts[lo].cpu;
	return -1;
}

void series_threads_cpu_now(const struct run *run, int proc, const size_t *idx, size_t n,
			    double *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = NAN;
	if (proc < 0 || (size_t)proc >= run->n_procs || !n)
		return;
	/* the latest read, and the latest read at least a window before it */
	double r1 = -INFINITY, r0 = -INFINITY, first = INFINITY;
	long long c;
	for (size_t i = 0; i < n; i++) {
		const struct run_th *x = &run->threads.v[idx[i]];
		r1 = fmax(r1, last_change(x, INFINITY, r1));
		first = fmin(first, first_cpu_t(x, &c));
	}
	if (!isfinite(r1))
		return;
	double w = series_cpu_window(run);
	for (size_t i = 0; i < n; i++)
		r0 = fmax(r0, last_change(&run->threads.v[idx[i]], r1 - w, r0));
	if (!isfinite(r0))
		r0 = first;
	const struct run_proc *p = &run->procs[proc];
	double last_t = p->last_sample >= 0 ? run->samples[p->last_sample].t : r1;
	bool stale = last_t - r1 > SERIES_THREADS_STALE;
	/* the process's own CPU time has not moved since that read: no thread's has */
	size_t at = run_sample_from(run, r1);
	long long c1 = at < run->n_samples ? proc_cpu(run, at, proc) : -1;
	if (p->last_sample >= 0 && last_t - r1 >= w && c1 >= 0 &&
	    proc_cpu(run, (size_t)p->last_sample, proc) == c1)
		stale = true;
	for (size_t i = 0; i < n; i++) {
		const struct run_th *x = &run->threads.v[idx[i]];
		if (x->end_t >= 0 && x->end_t <= r1)
			continue;
		if (stale) {
			out[i] = 0;
			continue;
		}
		long long fc = -1;
		double ft = first_cpu_t(x, &fc), tb = r0;
		long long base = cpu_at_time(x, r0);
		if (ft > r0) {
			base = fc;
			tb = ft;
		}
		long long now = cpu_at_time(x, r1);
		if (base < 0 || now < base || !(r1 > tb))
			continue;
		out[i] = series_cpu_percent(now - base, r1 - tb, x->tid < 0 ? 0 : 1);
	}
}
