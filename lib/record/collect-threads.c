/*
 * collect-threads: each thread of a process, its CPU time and its name, with or without
 * --heap. A process is read thread by thread (/proc/PID/task/TID/stat: its own utime, stime
 * and comm in one read) once it has had more than one thread, or once it has heap counters
 * (collect-heap.c, which runs before and fills the threads' heap numbers): with status, at
 * most once a second, and at once when its number of threads changed (at most every 50 ms); a
 * process whose CPU time did not move since its last read (its threads did nothing) is read
 * again only every 10 s, for the names it may have changed meanwhile. A
 * process that only ever had one thread and has no heap counters costs nothing more: its one
 * thread is the process, whose numbers the sample has (readers take it so).
 *
 * What it tells, in the order a reader needs it: a thread record for a thread seen for the
 * first time, and again when it was renamed (before the sample whose rows hold it), one when
 * it is no longer there (its end); and the sample's rows of the threads whose numbers changed
 * since their last row. A thread that ended stays known while its heap slot may still change
 * (its blocks freed by others), so its later rows say so.
 */
#include "record/collector.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record/sampler.h"

#define THREADS_MIN_GAP 0.05 /* the soonest a change of the thread count is read again */
#define THREADS_IDLE_GAP                                                    \
	10.0 /* the longest the threads of a process whose CPU did not move \
		go unread */

struct proc_threads *threads_of(struct sampler *s, struct tracked_proc *p)
{
	if (!p->th) {
		p->th = calloc(1, sizeof(*p->th));
		if (!p->th)
			s->oom = true;
	}
	return p->th;
}

/* The first index whose tid is at least tid. */
static size_t lower_bound(const struct proc_threads *pt, pid_t tid)
{
	size_t lo = 0, hi = pt->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (pt->v[mid].tid < tid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void thread_init(struct tracked_thread *th, pid_t pid, pid_t tid)
{
	memset(th, 0, sizeof(*th));
	th->tid = tid;
	th->slot = -1;
	for (int i = 0; i < THREAD_NFIELDS; i++)
		th->now.v[i] = -1;
	th->now.v[TH_PID] = pid;
	th->now.v[TH_TID] = tid;
}

struct tracked_thread *threads_get(struct sampler *s, struct tracked_proc *p, pid_t tid)
{
	struct proc_threads *pt = threads_of(s, p);
	if (!pt)
		return NULL;
	size_t i = lower_bound(pt, tid);
	while (i < pt->n && pt->v[i].tid == tid) {
		if (!pt->v[i].ended)
			return &pt->v[i];
		i++; /* an ended one: a new thread with its tid goes after it */
	}
	if (pt->n == pt->alloc) {
		size_t n = pt->alloc ? pt->alloc * 2 : 4;
		struct tracked_thread *v = realloc(pt->v, n * sizeof(*v));
		if (!v) {
			s->oom = true;
			return NULL;
		}
		pt->v = v;
		pt->alloc = n;
	}
	memmove(&pt->v[i + 1], &pt->v[i], (pt->n - i) * sizeof(pt->v[0]));
	pt->n++;
	thread_init(&pt->v[i], p->pid, tid);
	return &pt->v[i];
}

/* Queues a thread record: th appeared or was renamed (its name), or ended. */
static void tell(struct sampler *s, const struct tracked_proc *p, const struct tracked_thread *th,
		 double t, bool end)
{
	struct sampler_event *ev = sampler_new_event(s, SAMPLER_THREAD);
	if (!ev)
		return;
	ev->thread.t = t;
	ev->thread.pid = p->pid;
	ev->thread.tid = th->tid;
	ev->thread.end = end;
	if (!end)
		memcpy(ev->text, th->name, sizeof(th->name)); /* NUL-terminated: sizes 64 > 16 */
}

struct task_walk {
	struct sampler *s;
	struct tracked_proc *p;
	unsigned read;
	double t;
};

static void on_task(pid_t tid, void *data)
{
	struct task_walk *w = data;
	struct proc_stat st;
	if (!procfs_task_stat(w->s->fs, w->p->pid, tid, &st))
		return; /* it ended while we looked: the next read says so */
	struct tracked_thread *th = threads_get(w->s, w->p, tid);
	if (!th)
		return;
	th->seen = w->read;
	th->now.v[TH_UTIME] = sampler_ticks_ms(w->s, st.utime);
	th->now.v[TH_STIME] = sampler_ticks_ms(w->s, st.stime);
	char name[sizeof(th->name)];
	size_t len = strnlen(st.comm, sizeof(name) - 1);
	memcpy(name, st.comm, len);
	name[len] = '\0';
	if (th->announced && strcmp(name, th->name)) {
		memcpy(th->name, name, sizeof(name));
		tell(w->s, w->p, th, w->t, false);
	} else if (!th->announced) {
		memcpy(th->name, name, sizeof(name));
	}
}

/* Reads every thread of p; those no longer there have ended. */
static void read_tasks(struct sampler *s, struct tracked_proc *p, struct proc_threads *pt, double t)
{
	struct task_walk w = {.s = s, .p = p, .read = ++pt->reads, .t = t};
	if (procfs_for_each_task(s->fs, p->pid, on_task, &w) < 0)
		return; /* gone: its exit ends its threads */
	size_t k = 0;
	for (size_t i = 0; i < pt->n; i++) {
		struct tracked_thread *th = &pt->v[i];
		if (!th->ended && th->seen != w.read && th->tid > 0) {
			if (th->announced)
				tell(s, p, th, t, true);
			th->ended = true;
		}
		/* an ended thread is kept while its heap slot may still change */
		if (th->ended && th->slot < 0)
			continue;
		pt->v[k++] = *th;
	}
	pt->n = k;
}

/* Appends th's row to the sample. */
static void add_row(struct sampler *s, const struct tracked_thread *th)
{
	struct sample *out = &s->sample;
	if (out->n_threads == s->alloc_threads) {
		size_t n = s->alloc_threads ? s->alloc_threads * 2 : 16;
		struct thread_values *v = realloc(out->threads, n * sizeof(*v));
		if (!v) {
			s->oom = true;
			return;
		}
		out->threads = v;
		s->alloc_threads = n;
	}
	out->threads[out->n_threads++] = th->now;
}

static enum collect_result collect(struct sampler *s, struct tracked_proc *p, double t)
{
	struct proc_threads *pt = p->th;
	long threads = p->v.v[PF_THREADS];
	if (!pt && threads <= 1)
		return COLLECT_OK; /* one thread, no heap counters: the process's row says it */
	pt = threads_of(s, p);
	if (!pt)
		return COLLECT_OK;
	bool heap = pt->heap == HEAP_FOUND;
	if (threads > 1)
		pt->many = true;
	if (!pt->many && !heap)
		return COLLECT_OK;
	/*
	 * Read with status, and as soon as the number of threads changed; an idle process's
	 * threads did nothing either: read again only every THREADS_IDLE_GAP (a rename may cost
	 * no CPU tick, so names show that late at most).
	 */
	long long cpu = p->v.v[PF_UTIME] + p->v.v[PF_STIME];
	bool idle = cpu == pt->read_cpu && t - pt->read_t < THREADS_IDLE_GAP;
	bool due = (p->slow_t == t && !idle) || pt->reads == 0 ||
		   (threads != pt->read_threads && t - pt->read_t >= THREADS_MIN_GAP);
	if (due) {
		read_tasks(s, p, pt, t);
		pt->read_t = t;
		pt->read_cpu = cpu;
		pt->read_threads = threads;
	} else if (!heap) {
		return COLLECT_OK; /* nothing read: nothing of its threads can have changed */
	}
	for (size_t i = 0; i < pt->n; i++) {
		struct tracked_thread *th = &pt->v[i];
		if (!th->announced) {
			if (!th->name[0] && th->tid > 0)
				procfs_task_comm(s->fs, p->pid, th->tid, th->name,
						 sizeof(th->name));
			th->announced = true;
			tell(s, p, th, t, false);
			if (th->ended)
				tell(s, p, th, t, true);
		}
		if (!th->rowed || memcmp(&th->now, &th->last, sizeof(th->now))) {
			add_row(s, th);
			th->last = th->now;
			th->rowed = true;
		}
	}
	return COLLECT_OK;
}

void threads_free(struct sampler *s, struct tracked_proc *p)
{
	if (!p->th)
		return;
	heap_forget(s, p, true);
	free(p->th->v);
	free(p->th);
	p->th = NULL;
}

const struct collector collect_threads = {.name = "threads", .collect = collect};
