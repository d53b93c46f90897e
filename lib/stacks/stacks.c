/*
 * stacks: when to capture, and a capture from start to end (stacks/stacks.h).
 *
 * The budget is a credit, as the PSS reads' is (collect-pss.c): it grows at o.budget CPU
 * seconds per second, saved up to STACKS_CREDIT_SECS of it, and each capture's CPU time (the
 * grab, the unwind, the symbol lookups: memline's thread CPU clock) is taken from it. A capture
 * is taken while there is credit; one asked for when there is none is skipped and counted. A
 * capture asked for by a person (SIGUSR1, the dashboard's key) is never skipped.
 *
 * Python: the frames of a CPython's threads are read while the threads are stopped (inside
 * the grab), resolved after; each native frame of _PyEval_EvalFrameDefault is replaced by the
 * Python frames that call ran, innermost first, up to the one that entered it (py_frame.entry).
 */
#include "stacks/stacks.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "stacks/pyframes.h"
#include "stacks/unwind.h"

struct stack_session {
	pid_t pid;
	unsigned long long start; /* its start time: a reused pid is another process */
	unsigned long long image; /* where its argv lives (stat's arg_start): moves with an exec */
	struct unwinder uw;
	struct py_proc *py;
	bool py_tried;
	char *py_why; /* why its Python cannot be read, until said; NULL */
	double cost;  /* the CPU its last capture took, seconds; 0 none yet */
	bool seen;    /* in the last sample */
};

struct stacks_rss {
	pid_t pid;
	long long rss;
};

static double thread_cpu(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
		return 0;
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void stacks_init(struct stacks *st, const struct stacks_options *o, struct procfs *fs)
{
	memset(st, 0, sizeof(*st));
	st->o = *o;
	st->fs = fs;
	st->self = getpid();
	grab_init(&st->grab);
	strbuf_init(&st->why);
	st->credit = o->budget * STACKS_CREDIT_SECS;
	st->credit_t = -1;
	st->peak_t = -INFINITY;
	st->every_t = -INFINITY;
	st->heap_t = -INFINITY;
}

static void free_session(struct stack_session *ss)
{
	unwinder_release(&ss->uw);
	py_proc_free(ss->py);
	free(ss->py_why);
	free(ss);
}

void stacks_release(struct stacks *st)
{
	for (size_t i = 0; i < st->n_sess; i++)
		free_session(st->sess[i]);
	free(st->sess);
	free(st->rss);
	free(st->heap);
	free(st->merged);
	grab_release(&st->grab);
	strbuf_release(&st->why);
	memset(st, 0, sizeof(*st));
}

/*
 * The session of pid, made if there is none (or it was another process of that pid); *own
 * says whether pid is memline's child (one read of its stat for both).
 */
static struct stack_session *session_of(struct stacks *st, pid_t pid, bool *own)
{
	struct proc_stat ps;
	bool known = procfs_pid_stat(st->fs, pid, &ps);
	*own = known && ps.ppid == st->self; /* memline's child: its end is the recorder's */
	unsigned long long start = known ? ps.starttime : 0, image = known ? ps.argstart : 0;
	for (size_t i = 0; i < st->n_sess; i++) {
		struct stack_session *ss = st->sess[i];
		if (ss->pid != pid)
			continue;
		if (ss->start == start && ss->image == image)
			return ss;
		free_session(ss); /* the pid was reused, or it exec'd: another program's maps */
		st->sess[i] = st->sess[--st->n_sess];
		break;
	}
	if (st->n_sess == st->alloc_sess) {
		size_t cap = st->alloc_sess ? 2 * st->alloc_sess : 8;
		struct stack_session **s = realloc(st->sess, cap * sizeof(*s));
		if (!s)
			return NULL;
		st->sess = s;
		st->alloc_sess = cap;
	}
	struct stack_session *ss = calloc(1, sizeof(*ss));
	if (!ss)
		return NULL;
	ss->pid = pid;
	ss->start = start;
	ss->image = image;
	unwinder_init(&ss->uw, st->fs, pid);
	st->sess[st->n_sess++] = ss;
	return ss;
}

/* Sessions of processes that are no longer in the samples are freed. */
static void forget_gone(struct stacks *st, const struct sample *s)
{
	for (size_t i = 0; i < st->n_sess; i++)
		st->sess[i]->seen = false;
	for (size_t k = 0; k < s->n; k++) {
		pid_t pid = (pid_t)s->procs[k].v[PF_PID];
		for (size_t i = 0; i < st->n_sess; i++)
			if (st->sess[i]->pid == pid)
				st->sess[i]->seen = true;
	}
	for (size_t i = 0; i < st->n_sess;) {
		if (st->sess[i]->seen) {
			i++;
			continue;
		}
		free_session(st->sess[i]);
		st->sess[i] = st->sess[--st->n_sess];
	}
}

static void grab_stopped(void *arg)
{
	struct stack_session *ss = arg;
	if (ss->py)
		py_proc_snapshot(ss->py, NULL);
}

static bool merged_room(struct stacks *st, size_t n)
{
	if (n <= st->alloc_merged)
		return true;
	size_t cap = st->alloc_merged ? st->alloc_merged : 64;
	while (cap < n)
		cap *= 2;
	struct frame_info *m = realloc(st->merged, cap * sizeof(*m));
	if (!m)
		return false;
	st->merged = m;
	st->alloc_merged = cap;
	return true;
}

static bool is_eval(const struct frame_info *f)
{
	return f->fn && !strcmp(f->fn, "_PyEval_EvalFrameDefault");
}

/*
 * Thread tid's native frames with its Python frames in place of the interpreter's: into
 * st->merged; returns how many. Python frames left over (an eval frame the unwind missed) go
 * where the unwind ended.
 */
static size_t merge(struct stacks *st, struct stack_session *ss, pid_t tid,
		    const struct frame_info *native, size_t n)
{
	const struct py_frame *py = NULL;
	size_t np = ss->py ? py_proc_frames(ss->py, tid, &py) : 0;
	if (!merged_room(st, n + np))
		return 0;
	size_t k = 0, p = 0;
	for (size_t i = 0; i < n; i++) {
		if (!is_eval(&native[i]) || p >= np) {
			st->merged[k++] = native[i];
			continue;
		}
		do {
			st->merged[k++] = (struct frame_info){.kind = FRAME_PYTHON,
							      .fn = py[p].fn,
							      .file = py[p].file,
							      .line = py[p].line,
							      .off = -1,
							      .fn_off = -1};
		} while (!py[p++].entry && p < np);
	}
	while (p < np) {
		st->merged[k++] = (struct frame_info){.kind = FRAME_PYTHON,
						      .fn = py[p].fn,
						      .file = py[p].file,
						      .line = py[p].line,
						      .off = -1,
						      .fn_off = -1};
		p++;
	}
	return k;
}

static void warn_once(struct stacks *st, double t, pid_t pid, const char *text)
{
	if (st->warn)
		st->warn(st->data, t, "stacks", pid, text);
}

/*
 * The Python reader of ss, looked for once. Why a Python cannot be read is said after the first
 * capture that stopped its threads (else the capture's own reason says it all: ptrace refused).
 */
static void python_of(struct stacks *st, struct stack_session *ss)
{
	if (ss->py_tried)
		return;
	ss->py_tried = true;
	strbuf_reset(&st->why);
	ss->py = py_proc_open(st->fs, ss->pid, &st->why);
	if (!ss->py && st->why.len)
		ss->py_why = strdup(st->why.buf);
}

static void python_said(struct stacks *st, struct stack_session *ss, double t)
{
	if (!ss->py_why)
		return;
	warn_once(st, t, ss->pid, ss->py_why);
	free(ss->py_why);
	ss->py_why = NULL;
}

static void emit_threads(struct stacks *st, struct stack_session *ss, struct stack_info *info)
{
	unwinder_new_capture(&ss->uw);
	long with = 0;
	for (size_t i = 0; i < st->grab.n; i++) {
		const struct grab_thread *t = &st->grab.t[i];
		info->tid = t->tid;
		info->thread = t->comm[0] ? t->comm : NULL;
		info->stall_us = t->stall_ns >= 0 ? t->stall_ns / 1000 : -1;
		info->truncated = false;
		info->frames = NULL;
		info->n_frames = 0;
		strbuf_reset(&st->why);
		if (t->error) {
			info->error = t->error;
		} else {
			bool truncated;
			size_t n = unwinder_unwind(&ss->uw, t, &truncated, &st->why);
			info->n_frames = merge(st, ss, t->tid, ss->uw.frames, n);
			info->frames = st->merged;
			info->truncated = truncated;
			info->error = st->why.len ? st->why.buf : NULL;
			with += info->n_frames > 0;
		}
		if (st->emit)
			st->emit(st->data, info);
	}
	if (!with)
		st->counts.failed++;
}

void stacks_capture(struct stacks *st, pid_t pid, enum stack_why why, const char *label, size_t len,
		    double t)
{
	double c0 = thread_cpu();
	bool own;
	struct stack_session *ss = session_of(st, pid, &own);
	if (!ss)
		return;
	python_of(st, ss);
	st->counts.captures++;
	struct stack_info info = {.t = t,
				  .capture = st->counts.captures,
				  .why = why,
				  .label = label,
				  .label_len = len,
				  .pid = pid,
				  .tid = pid,
				  .stall_us = -1};
	strbuf_reset(&st->why);
	struct grab_tracer tracer = {st->io.stop, st->io.data};
	bool traced = st->io.traced && st->io.traced(st->io.data);
	if (grab_take(&st->grab, st->fs, pid, own, traced ? &tracer : NULL,
		      ss->py ? grab_stopped : NULL, ss, &st->why) < 0) {
		st->counts.failed++;
		info.error = st->why.buf;
		if (st->emit)
			st->emit(st->data, &info);
		if (st->grab.denied && !st->noted_denied) {
			st->noted_denied = true;
			warn_once(st, t, pid, st->why.buf);
		}
	} else {
		python_said(st, ss, t);
		emit_threads(st, ss, &info);
	}
	double cost = thread_cpu() - c0;
	ss->cost = cost > 0 ? cost : 0;
	st->counts.cpu += ss->cost;
	st->credit -= ss->cost;
}

/* What pid's last capture cost, seconds; 0 when it has had none (the first is let through). */
static double last_cost(const struct stacks *st, pid_t pid)
{
	for (size_t i = 0; i < st->n_sess; i++)
		if (st->sess[i]->pid == pid)
			return st->sess[i]->cost;
	return 0;
}

/*
 * Captures pid for why if the budget holds it (its last capture's cost, at least some
 * credit), else counts it skipped.
 */
static void capture_within(struct stacks *st, pid_t pid, enum stack_why why, const char *label,
			   size_t len, double t)
{
	if (st->credit <= 0 || st->credit < last_cost(st, pid)) {
		st->counts.skipped++;
		return;
	}
	stacks_capture(st, pid, why, label, len, t);
}

static void earn(struct stacks *st, double t)
{
	if (st->credit_t >= 0 && t > st->credit_t)
		st->credit += st->o.budget * (t - st->credit_t);
	st->credit_t = t;
	if (st->credit > st->o.budget * STACKS_CREDIT_SECS)
		st->credit = st->o.budget * STACKS_CREDIT_SECS;
}

static long long rss_at_last(const struct stacks *st, pid_t pid)
{
	for (size_t i = 0; i < st->n_rss; i++)
		if (st->rss[i].pid == pid)
			return st->rss[i].rss;
	return 0;
}

/* The process that grew most since the last capture (its RSS now less then); 0 none. */
static pid_t grew_most(const struct stacks *st, const struct sample *s)
{
	pid_t best = 0;
	long long most = 0;
	for (size_t k = 0; k < s->n; k++) {
		const struct proc_values *p = &s->procs[k];
		long long rss = p->v[PF_RSS];
		if (p->state == 'Z' || rss <= 0 || p->v[PF_VM_OF] > 0)
			continue;
		long long grown = rss - rss_at_last(st, (pid_t)p->v[PF_PID]);
		if (!best || grown > most) {
			best = (pid_t)p->v[PF_PID];
			most = grown;
		}
	}
	return best;
}

static void remember_rss(struct stacks *st, const struct sample *s)
{
	if (s->n > st->alloc_rss) {
		struct stacks_rss *r = realloc(st->rss, s->n * sizeof(*r));
		if (!r)
			return;
		st->rss = r;
		st->alloc_rss = s->n;
	}
	st->n_rss = s->n;
	for (size_t k = 0; k < s->n; k++)
		st->rss[k] =
			(struct stacks_rss){(pid_t)s->procs[k].v[PF_PID], s->procs[k].v[PF_RSS]};
}

/*
 * Captures every process of the sample: within the budget, or (asked by a person) without it
 * but for at most STACKS_ASKED_SECS of memline's CPU, the rest skipped, so that a tree of
 * thousands cannot hold the recording up for minutes.
 */
static void every_process(struct stacks *st, const struct sample *s, enum stack_why why, double t,
			  bool budget)
{
	double c0 = thread_cpu();
	for (size_t k = 0; k < s->n; k++) {
		const struct proc_values *p = &s->procs[k];
		if (p->state == 'Z' || p->v[PF_VM_OF] > 0)
			continue;
		if (budget)
			capture_within(st, (pid_t)p->v[PF_PID], why, NULL, 0, t);
		else if (thread_cpu() - c0 > STACKS_ASKED_SECS)
			st->counts.skipped++;
		else
			stacks_capture(st, (pid_t)p->v[PF_PID], why, NULL, 0, t);
	}
}

/* The heap peak of pid's thread tid at its last capture (a new entry at 0); NULL no memory. */
static struct stacks_heap *heap_of(struct stacks *st, pid_t pid, pid_t tid)
{
	for (size_t i = 0; i < st->n_heap; i++)
		if (st->heap[i].pid == pid && st->heap[i].tid == tid)
			return &st->heap[i];
	if (st->n_heap == st->alloc_heap) {
		size_t n = st->alloc_heap ? st->alloc_heap * 2 : 16;
		struct stacks_heap *v = realloc(st->heap, n * sizeof(*v));
		if (!v)
			return NULL;
		st->heap = v;
		st->alloc_heap = n;
	}
	st->heap[st->n_heap] = (struct stacks_heap){pid, tid, 0};
	return &st->heap[st->n_heap++];
}

/*
 * heap: the thread whose heap rose most past its last captured peak (by the threshold and
 * STACKS_PEAK_MIN_KIB), at most one a gap: its process is captured, the label its tid.
 */
static bool heap_peak(struct stacks *st, const struct sample *s, double t)
{
	if (!(st->o.when & (1u << STACK_HEAP)) || t - st->heap_t < st->o.gap)
		return false;
	struct stacks_heap *best = NULL;
	long long best_rise = 0, best_peak = 0;
	for (size_t k = 0; k < s->n_threads; k++) {
		const long long *v = s->threads[k].v;
		long long peak = v[TH_HEAP_PEAK] > v[TH_HEAP] ? v[TH_HEAP_PEAK] : v[TH_HEAP];
		if (peak <= 0 || v[TH_TID] <= 0)
			continue;
		struct stacks_heap *h = heap_of(st, (pid_t)v[TH_PID], (pid_t)v[TH_TID]);
		if (!h)
			return false;
		long long rise = peak - h->captured;
		if ((double)peak > (double)h->captured * (1 + st->o.threshold) &&
		    rise >= STACKS_PEAK_MIN_KIB * 1024 && rise > best_rise) {
			best = h;
			best_rise = rise;
			best_peak = peak;
		}
	}
	if (!best)
		return false;
	best->captured = best_peak;
	st->heap_t = t;
	char label[24];
	int n = snprintf(label, sizeof(label), "%d", (int)best->tid);
	capture_within(st, best->pid, STACK_HEAP, label, (size_t)n, t);
	return true;
}

void stacks_after_sample(struct stacks *st, const struct sample *s, double t)
{
	earn(st, t);
	forget_gone(st, s);
	bool any = false;
	if (st->want_now) {
		st->want_now = false;
		every_process(st, s, STACK_SIGNAL, t, false);
		any = true;
	}
	if ((st->o.when & (1u << STACK_EVERY)) && st->o.every > 0 &&
	    t - st->every_t >= st->o.every - 1e-6) {
		st->every_t = t;
		every_process(st, s, STACK_EVERY, t, true);
		any = true;
	}
	long long job = s->tree.v[TF_JOB_PEAK] >= 0 ? s->tree.v[TF_JOB_PEAK] : s->tree.v[TF_JOB];
	if (job < 0)
		job = s->tree.v[TF_PEAK] >= 0 ? s->tree.v[TF_PEAK] : s->tree.v[TF_RSS];
	/*
	 * A new peak: above the last one captured by the threshold and by STACKS_PEAK_MIN_KIB.
	 * The first sample's memory counts as captured: a process read right after its exec
	 * "grows" as the dynamic loader maps its libraries, which no one chases.
	 */
	if (!st->peaks_started) {
		st->peaks_started = true;
		st->peak_captured = job > 0 ? job : 0;
		remember_rss(st, s);
		return;
	}
	if ((st->o.when & (1u << STACK_PEAK)) && job > 0 &&
	    (double)job > (double)st->peak_captured * (1 + st->o.threshold) &&
	    job - st->peak_captured >= STACKS_PEAK_MIN_KIB && t - st->peak_t >= st->o.gap) {
		pid_t pid = grew_most(st, s);
		if (pid > 0) {
			st->peak_captured = job;
			st->peak_t = t;
			capture_within(st, pid, STACK_PEAK, NULL, 0, t);
			any = true;
		}
	}
	any |= heap_peak(st, s, t);
	if (any)
		remember_rss(st, s);
}

void stacks_at_mark(struct stacks *st, pid_t pid, pid_t main, const char *label, size_t len,
		    double t)
{
	if (!(st->o.when & (1u << STACK_EVENT)))
		return;
	earn(st, t);
	capture_within(st, pid > 0 ? pid : main, STACK_EVENT, label, len, t);
}

void stacks_ask(struct stacks *st)
{
	st->want_now = true;
}

void stacks_tick(struct stacks *st)
{
	if (st->grab.n_pending)
		grab_pending(&st->grab);
}

/* ---- the recorder's watcher ---- */

static void *watch_start(const struct recorder_options *o, struct procfs *fs,
			 const struct recorder_watch_io *io)
{
	struct stacks *st = malloc(sizeof(*st));
	if (!st)
		return NULL;
	stacks_init(st, &o->stacks, fs);
	st->emit = io->stack;
	st->warn = io->warning;
	st->data = io->data;
	st->io = *io;
	return st;
}

static void watch_sample(void *w, const struct sample *s, double t)
{
	stacks_after_sample(w, s, t);
}

static void watch_mark(void *w, pid_t pid, pid_t main, const char *label, size_t len, double t)
{
	stacks_at_mark(w, pid, main, label, len, t);
}

static void watch_ask(void *w)
{
	stacks_ask(w);
}

static void watch_tick(void *w)
{
	stacks_tick(w);
}

static void watch_counts(const void *w, struct stack_counts *c)
{
	*c = ((const struct stacks *)w)->counts;
}

static void watch_stop(void *w)
{
	stacks_release(w);
	free(w);
}

const struct recorder_watcher stacks_watcher = {
	.start = watch_start,
	.sample = watch_sample,
	.mark = watch_mark,
	.ask = watch_ask,
	.tick = watch_tick,
	.counts = watch_counts,
	.stop = watch_stop,
};
