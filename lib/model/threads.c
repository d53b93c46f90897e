/*
 * threads: a run's threads from their records and rows (see threads.h). A thread is found by
 * its process (the model's index, so a reused pid is another process) and tid in a small open
 * addressing table; a thread record for a tid whose thread ended starts a new thread.
 */
#include "model/threads.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/run.h"

void run_threads_init(struct run_threads *th)
{
	memset(th, 0, sizeof(*th));
}

void run_threads_release(struct run_threads *th)
{
	for (size_t i = 0; i < th->n; i++)
		free(th->v[i].pts);
	free(th->v);
	free(th->slots);
	memset(th, 0, sizeof(*th));
}

static size_t hash(int proc, pid_t tid, size_t cap)
{
	uint64_t k = ((uint64_t)(uint32_t)proc << 32) | (uint32_t)tid;
	k *= 0x9e3779b97f4a7c15ULL;
	return (size_t)(k >> 32) & (cap - 1);
}

long run_threads_find(const struct run_threads *th, int proc, pid_t tid)
{
	if (!th->cap)
		return -1;
	for (size_t i = hash(proc, tid, th->cap);; i = (i + 1) & (th->cap - 1)) {
		long k = th->slots[i];
		if (k < 0)
			return -1;
		if (th->v[k].proc == proc && th->v[k].tid == tid)
			return k;
	}
}

static bool grow_slots(struct run_threads *th)
{
	size_t cap = th->cap ? th->cap * 2 : 64;
	long *slots = malloc(cap * sizeof(*slots));
	if (!slots)
		return false;
	for (size_t i = 0; i < cap; i++)
		slots[i] = -1;
	free(th->slots);
	th->slots = slots;
	th->cap = cap;
	th->used = 0;
	/* the newest of each key last, so that it wins */
	for (size_t k = 0; k < th->n; k++) {
		size_t i = hash(th->v[k].proc, th->v[k].tid, cap);
		while (slots[i] >= 0 && !(th->v[slots[i]].proc == th->v[k].proc &&
					  th->v[slots[i]].tid == th->v[k].tid))
			i = (i + 1) & (cap - 1);
		if (slots[i] < 0)
			th->used++;
		slots[i] = (long)k;
	}
	return true;
}

/* A new thread of proc; -1 out of memory. */
static long add_thread(struct run_threads *th, int proc, pid_t tid, double t)
{
	if ((th->used + 1) * 2 > th->cap && !grow_slots(th))
		return -1;
	if (th->n == th->alloc) {
		size_t n = th->alloc ? th->alloc * 2 : 16;
		struct run_th *v = realloc(th->v, n * sizeof(*v));
		if (!v)
			return -1;
		th->v = v;
		th->alloc = n;
	}
	struct run_th *x = &th->v[th->n];
	memset(x, 0, sizeof(*x));
	x->proc = proc;
	x->tid = tid;
	x->first_t = t;
	x->end_t = -1;
	x->utime = x->stime = x->heap = x->heap_peak = -1;
	x->alloc = x->freed = x->nalloc = x->nfree = x->mmap = -1;
	x->heap_peak_t = -1;
	size_t i = hash(proc, tid, th->cap);
	while (th->slots[i] >= 0 &&
	       !(th->v[th->slots[i]].proc == proc && th->v[th->slots[i]].tid == tid))
		i = (i + 1) & (th->cap - 1);
	if (th->slots[i] < 0)
		th->used++;
	th->slots[i] = (long)th->n;
	return (long)th->n++;
}

/* The thread a record or row at t is about: the live one, else a new one. */
static long thread_for(struct run *run, pid_t pid, pid_t tid, double t, bool starts)
{
	int proc = run_proc_by_pid(run, pid);
	if (proc < 0)
		return -2; /* of no process the log told of: left out */
	long k = run_threads_find(&run->threads, proc, tid);
	if (k >= 0 && (!starts || run->threads.v[k].end_t < 0))
		return k;
	return add_thread(&run->threads, proc, tid, t);
}

int run_threads_add_record(struct run *run, const struct thread_record *rec)
{
	long k = thread_for(run, rec->pid, rec->tid, rec->t, !rec->end);
	if (k == -2)
		return 0;
	if (k < 0)
		return -1;
	struct run_th *x = &run->threads.v[k];
	if (rec->end) {
		x->end_t = rec->t;
	} else if (rec->name) {
		size_t n = strnlen(rec->name, sizeof(x->name) - 1);
		memcpy(x->name, rec->name, n);
		x->name[n] = '\0';
	}
	return 0;
}

static int add_point(struct run_th *x, const struct run_th_point *p)
{
	if (x->n_pts == x->alloc_pts) {
		size_t n = x->alloc_pts ? x->alloc_pts * 2 : 8;
		struct run_th_point *v = realloc(x->pts, n * sizeof(*v));
		if (!v)
			return -1;
		x->pts = v;
		x->alloc_pts = n;
	}
	x->pts[x->n_pts++] = *p;
	return 0;
}

int run_threads_add_rows(struct run *run, const struct sample_record *sample)
{
	for (size_t i = 0; i < sample->n_threads; i++) {
		const long long *v = sample->threads[i].v;
		long k = thread_for(run, (pid_t)v[TH_PID], (pid_t)v[TH_TID], sample->t, false);
		if (k == -2)
			continue;
		if (k < 0)
			return -1;
		struct run_th *x = &run->threads.v[k];
		x->utime = v[TH_UTIME];
		x->stime = v[TH_STIME];
		x->heap = v[TH_HEAP];
		x->alloc = v[TH_ALLOC];
		x->freed = v[TH_FREED];
		x->nalloc = v[TH_NALLOC];
		x->nfree = v[TH_NFREE];
		x->mmap = v[TH_MMAP];
		long long peak = v[TH_HEAP_PEAK] > v[TH_HEAP] ? v[TH_HEAP_PEAK] : v[TH_HEAP];
		if (peak > x->heap_peak) {
			x->heap_peak = peak;
			x->heap_peak_t = sample->t;
		}
		struct run_th_point p = {
			.t = sample->t,
			.heap = v[TH_HEAP],
			.heap_peak = peak,
			.cpu = v[TH_UTIME] >= 0 && v[TH_STIME] >= 0 ? v[TH_UTIME] + v[TH_STIME]
								    : -1,
			.utime = v[TH_UTIME],
			.stime = v[TH_STIME],
			.alloc = v[TH_ALLOC],
			.freed = v[TH_FREED],
			.nalloc = v[TH_NALLOC],
			.nfree = v[TH_NFREE],
			.mmap = v[TH_MMAP],
		};
		if (add_point(x, &p) < 0)
			return -1;
	}
	return 0;
}

static int by_weight(const void *a, const void *b, void *data)
{
	const struct run_threads *th = data;
	const struct run_th *x = &th->v[*(const size_t *)a];
	const struct run_th *y = &th->v[*(const size_t *)b];
	if (x->heap_peak != y->heap_peak)
		return x->heap_peak > y->heap_peak ? -1 : 1;
	long long cx = (x->utime > 0 ? x->utime : 0) + (x->stime > 0 ? x->stime : 0);
	long long cy = (y->utime > 0 ? y->utime : 0) + (y->stime > 0 ? y->stime : 0);
	if (cx != cy)
		return cx > cy ? -1 : 1;
	return x->tid < y->tid ? -1 : x->tid > y->tid;
}

size_t *run_threads_of(const struct run_threads *th, int proc, size_t *n)
{
	*n = 0;
	size_t count = 0;
	for (size_t i = 0; i < th->n; i++)
		count += th->v[i].proc == proc;
	if (!count)
		return NULL;
	size_t *out = malloc(count * sizeof(*out));
	if (!out)
		return NULL;
	for (size_t i = 0; i < th->n; i++)
		if (th->v[i].proc == proc)
			out[(*n)++] = i;
	qsort_r(out, *n, sizeof(*out), by_weight, (void *)th);
	return out;
}

int run_th_index_build(struct run_th_index *ix, const struct run_threads *th, size_t n_procs)
{
	ix->order = malloc((th->n ? th->n : 1) * sizeof(*ix->order));
	ix->first = calloc(n_procs + 1, sizeof(*ix->first));
	if (!ix->order || !ix->first) {
		run_th_index_release(ix);
		return -1;
	}
	/* a counting sort by process (first[p + 1] counts p's, then becomes where p's end) */
	for (size_t i = 0; i < th->n; i++)
		if ((size_t)th->v[i].proc < n_procs)
			ix->first[th->v[i].proc + 1]++;
	for (size_t p = 0; p < n_procs; p++)
		ix->first[p + 1] += ix->first[p];
	size_t *next = malloc((n_procs ? n_procs : 1) * sizeof(*next));
	if (!next) {
		run_th_index_release(ix);
		return -1;
	}
	memcpy(next, ix->first, n_procs * sizeof(*next));
	for (size_t i = 0; i < th->n; i++)
		if ((size_t)th->v[i].proc < n_procs)
			ix->order[next[th->v[i].proc]++] = i;
	free(next);
	for (size_t p = 0; p < n_procs; p++)
		qsort_r(ix->order + ix->first[p], ix->first[p + 1] - ix->first[p],
			sizeof(*ix->order), by_weight, (void *)th);
	return 0;
}

void run_th_index_release(struct run_th_index *ix)
{
	free(ix->order);
	free(ix->first);
	ix->order = ix->first = NULL;
}

size_t run_th_points_upto(const struct run_th *x, double at)
{
	size_t lo = 0, hi = x->n_pts;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (x->pts[mid].t <= at)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

long long run_th_heap_at(const struct run_th *x, double at)
{
	size_t n = run_th_points_upto(x, at);
	return n ? x->pts[n - 1].heap : -1;
}
