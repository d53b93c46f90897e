/*
 * run: builds the in-memory model of a run (run.h) from the records of a log, in one pass.
 * Processes live in one array in the order they joined the tree; a small open-addressing
 * table maps each pid to the newest process that had it, which is how a reused pid becomes a
 * new process instead of merging two. Samples keep their per-process values in one flat array.
 * Spans are paired as their records come, on one stack of open spans per thread, found in a
 * second table keyed by (pid, tid); what events and spans take from later samples is filled in
 * by run_update_status().
 */
#include "model/run.h"

#include <limits.h>
#include <stddef.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Logs from this size on are decoded ahead on a second thread (log_reader_read_ahead). */
#define READ_AHEAD_BYTES (4 << 20)
#define RUN_MAX_WARNINGS 16 /* warning records kept: a log says each limit once */

/* One thread's open spans, for pairing begin and end records. */
struct run_thread {
	bool used;
	pid_t pid, tid;
	size_t *open; /* indexes into run->spans, outermost first */
	size_t n, alloc;
};

void run_init(struct run *run)
{
	memset(run, 0, sizeof(*run));
	run->peak = -1;
	run->job_peak = -1;
	run->peak_pss = -1;
	run->largest_peak_floor = -1;
	run->status = RUN_INCOMPLETE;
	run->end_events = -1;
	run->end.stacks.captures = -1;
	run_stacks_init(&run->stacks);
	run_threads_init(&run->threads);
	run_keep_fields(run, RUN_ALL_FIELDS);
}

void run_keep_fields(struct run *run, unsigned long long fields)
{
	run->fields = fields & RUN_ALL_FIELDS;
	run->n_fields = 0;
	for (int f = 0; f < PROC_NFIELDS; f++)
		run->field_slot[f] = run->fields & RUN_FIELD(f) ? run->n_fields++ : -1;
	run->ps_stride =
		offsetof(struct run_proc_sample, v) + (size_t)run->n_fields * sizeof(long long);
	/* Every process sample starts at a multiple of the alignment of its values. */
	run->ps_stride = (run->ps_stride + sizeof(long long) - 1) & ~(sizeof(long long) - 1);
}

void run_release(struct run *run)
{
	free(run->path);
	header_info_release(&run->header);
	for (size_t i = 0; i < run->n_procs; i++) {
		free(run->procs[i].cmdline);
		free(run->procs[i].heap_allocator);
		free(run->procs[i].heap_why);
	}
	free(run->procs);
	free(run->samples);
	free(run->ps_buf);
	end_info_release(&run->end);
	free(run->pid_slots);
	for (size_t i = 0; i < run->n_events; i++)
		free(run->events[i].label);
	free(run->events);
	for (size_t i = 0; i < run->n_spans; i++)
		free(run->spans[i].name);
	free(run->spans);
	for (size_t i = 0; i < run->n_outputs; i++)
		free(run->outputs[i].text);
	free(run->outputs);
	for (size_t i = 0; i < run->span_cap; i++)
		free(run->span_threads[i].open);
	free(run->span_threads);
	free(run->error);
	free(run->stopped_errno);
	free(run->stopped_error);
	run_stacks_release(&run->stacks);
	run_threads_release(&run->threads);
	for (size_t i = 0; i < run->n_warnings; i++)
		free(run->warnings[i]);
	free(run->warnings);
	free(run->clocks);
	run_init(run);
}

/* Makes room for one more element in *arr; false when out of memory. */
static bool grow(void **arr, size_t *alloc, size_t n, size_t size)
{
	if (n < *alloc)
		return true;
	size_t want = *alloc ? *alloc * 2 : 64;
	void *p = reallocarray(*arr, want, size);
	if (!p)
		return false;
	*arr = p;
	*alloc = want;
	return true;
}

/* ---- pid table ---- */

static size_t pid_hash(pid_t pid, size_t cap)
{
	return ((size_t)(unsigned)pid * 2654435761u) & (cap - 1);
}

int run_proc_by_pid(const struct run *run, pid_t pid)
{
	if (!run->pid_cap)
		return -1;
	for (size_t h = pid_hash(pid, run->pid_cap);; h = (h + 1) & (run->pid_cap - 1)) {
		int slot = run->pid_slots[h];
		if (!slot)
			return -1;
		if (run->procs[slot - 1].pid == pid)
			return slot - 1;
	}
}

static void pid_insert(int *slots, size_t cap, const struct run_proc *procs, int idx)
{
	size_t h = pid_hash(procs[idx].pid, cap);
	while (slots[h] && procs[slots[h] - 1].pid != procs[idx].pid)
		h = (h + 1) & (cap - 1);
	slots[h] = idx + 1;
}

static bool pid_set(struct run *run, int idx)
{
	if ((run->pid_used + 1) * 2 > run->pid_cap) {
		size_t cap = run->pid_cap ? run->pid_cap * 2 : 256;
		int *slots = calloc(cap, sizeof(*slots));
		if (!slots)
			return false;
		for (size_t i = 0; i < run->pid_cap; i++)
			if (run->pid_slots[i])
				pid_insert(slots, cap, run->procs, run->pid_slots[i] - 1);
		free(run->pid_slots);
		run->pid_slots = slots;
		run->pid_cap = cap;
	}
	if (run_proc_by_pid(run, run->procs[idx].pid) < 0)
		run->pid_used++;
	pid_insert(run->pid_slots, run->pid_cap, run->procs, idx);
	return true;
}

/* ---- building ---- */

static int new_proc(struct run *run, pid_t pid, double t)
{
	if (!grow((void **)&run->procs, &run->alloc_procs, run->n_procs, sizeof(*run->procs)))
		return -1;
	struct run_proc *p = &run->procs[run->n_procs];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	p->ppid = -1;
	p->start = t;
	p->seen = t;
	p->end = -1;
	p->peak = -1;
	p->peak_pss = -1;
	p->utime = p->stime = -1;
	p->first_sample = p->last_sample = -1;
	p->heap_on = -1;
	p->heap_peak = -1;
	p->heap_peak_t = -1;
	run->n_procs++;
	if (!pid_set(run, (int)run->n_procs - 1))
		return -1;
	return (int)run->n_procs - 1;
}

/* The live process with pid, created (as seen at t) if there is none; -1 out of memory. */
static int live_proc(struct run *run, pid_t pid, double t)
{
	int i = run_proc_by_pid(run, pid);
	if (i >= 0 && !run->procs[i].exited)
		return i;
	return new_proc(run, pid, t);
}

static void note_peak(struct run *run, struct run_proc *p, long long kib, double t)
{
	if (kib < 0)
		return;
	if (kib > p->peak) {
		p->peak = kib;
		p->peak_t = t;
	}
	/* The tree's peak is at least any one process's; so is the RSS sum's, the job's by rss. */
	if (kib > run->peak) {
		run->peak = kib;
		run->peak_t = t;
	}
	if (run->header.method == MEM_RSS && kib > run->job_peak) {
		run->job_peak = kib;
		run->job_peak_t = t;
	}
}

static void take_cmdline(struct run_proc *p, struct proc_info *info)
{
	if (info->comm[0])
		memcpy(p->comm, info->comm, sizeof(p->comm));
	if (!info->cmdline)
		return; /* a zombie's or kernel thread's: keep what we knew */
	free(p->cmdline);
	p->cmdline = info->cmdline;
	p->cmdline_len = info->cmdline_len;
	info->cmdline = NULL;
	info->cmdline_len = 0;
}

static int add_proc(struct run *run, struct proc_info *info)
{
	int i = run_proc_by_pid(run, info->pid);
	if (i >= 0 && !run->procs[i].exited) {
		struct run_proc *old = &run->procs[i];
		/* Seen before without a proc record (from a sample), or the same process again. */
		bool same = old->cmdline == NULL ||
			    (old->start - info->start < 0.05 && info->start - old->start < 0.05);
		if (!same) {
			old->end = info->t; /* it vanished without an exit record */
			i = -1;
		}
	} else {
		i = -1;
	}
	if (i < 0 && (i = new_proc(run, info->pid, info->t)) < 0)
		return -1;
	struct run_proc *p = &run->procs[i];
	p->ppid = info->ppid;
	p->start = info->start;
	if (info->t < p->seen)
		p->seen = info->t;
	take_cmdline(p, info);
	p->at_exit = info->at_exit;
	return 0;
}

static int add_sample(struct run *run, const struct sample_record *s)
{
	if (!grow((void **)&run->samples, &run->alloc_samples, run->n_samples,
		  sizeof(*run->samples)))
		return -1;
	long si = (long)run->n_samples;
	struct run_sample *rs = &run->samples[si];
	rs->t = s->t;
	rs->avail = s->avail;
	rs->tree = s->tree;
	rs->first = run->n_proc_samples;
	rs->n = 0;
	run->n_samples++;
	for (size_t k = 0; k < s->n; k++) {
		int i = live_proc(run, (pid_t)s->procs[k].v[PF_PID], s->t);
		if (i < 0 || !grow((void **)&run->ps_buf, &run->alloc_proc_samples,
				   run->n_proc_samples, run->ps_stride))
			return -1;
		const struct proc_values *pv = &s->procs[k];
		struct run_proc_sample *ps =
			(struct run_proc_sample *)(void *)(run->ps_buf +
							   run->n_proc_samples++ * run->ps_stride);
		ps->proc = i;
		ps->state = pv->state;
		for (int f = 0, slot = 0; slot < run->n_fields; f++)
			if (run->field_slot[f] >= 0)
				ps->v[slot++] = pv->v[f];
		rs->n++;
		struct run_proc *p = &run->procs[i];
		if (p->first_sample < 0)
			p->first_sample = si;
		p->last_sample = si;
		long long peak = pv->v[PF_PEAK] >= 0 ? pv->v[PF_PEAK] : pv->v[PF_RSS];
		note_peak(run, p, peak, s->t);
		if (pv->v[PF_PSS] > p->peak_pss)
			p->peak_pss = pv->v[PF_PSS];
		if (pv->v[PF_HEAP] > p->heap_peak) {
			p->heap_peak = pv->v[PF_HEAP];
			p->heap_peak_t = s->t;
		}
		if (pv->v[PF_UTIME] >= 0)
			p->utime = pv->v[PF_UTIME];
		if (pv->v[PF_STIME] >= 0)
			p->stime = pv->v[PF_STIME];
	}
	long long tp = run_sample_peak(rs);
	if (tp > run->peak) {
		run->peak = tp;
		run->peak_t = s->t;
	}
	long long jp = run_sample_job_peak(rs);
	if (jp > run->job_peak) {
		run->job_peak = jp;
		run->job_peak_t = s->t;
	}
	if (rs->tree.v[TF_PSS] > run->peak_pss) {
		run->peak_pss = rs->tree.v[TF_PSS];
		run->peak_pss_t = s->t;
	}
	return run_threads_add_rows(run, s);
}

/* A heap record: whether the process's heap is counted, and why not. */
static int add_heap(struct run *run, struct heap_record *h)
{
	int i = run_proc_by_pid(run, h->pid);
	if (i < 0)
		return 0;
	struct run_proc *p = &run->procs[i];
	p->heap_on = h->on;
	free(p->heap_allocator);
	free(p->heap_why);
	p->heap_allocator = h->allocator;
	p->heap_why = h->why;
	h->allocator = h->why = NULL;
	return 0;
}

/* A clock record: the wall clock at a moment of the log (merging many logs aligns on it). */
static int add_clock(struct run *run, const struct clock_info *c)
{
	if (!grow((void **)&run->clocks, &run->alloc_clocks, run->n_clocks, sizeof(*run->clocks)))
		return -1;
	run->clocks[run->n_clocks++] = *c;
	return 0;
}

static int add_exit(struct run *run, const struct exit_info *e)
{
	int i = run_proc_by_pid(run, e->pid);
	if (i >= 0 && run->procs[i].exited)
		return 0; /* a second exit for the same process: nothing new */
	if (i < 0 && (i = new_proc(run, e->pid, e->t)) < 0)
		return -1;
	struct run_proc *p = &run->procs[i];
	p->exited = true;
	p->exit = *e;
	p->end = e->t;
	note_peak(run, p, e->peak, e->t);
	/* wait4's ru_maxrss: some process's peak, once it is above the image from before the exec
	 */
	if (e->maxrss > run->largest_peak_floor &&
	    (e->maxrss_base < 0 || e->maxrss > e->maxrss_base))
		run->largest_peak_floor = e->maxrss;
	if (e->utime >= 0)
		p->utime = e->utime;
	if (e->stime >= 0)
		p->stime = e->stime;
	return 0;
}

/* ---- events and spans ---- */

static size_t thread_hash(pid_t pid, pid_t tid, size_t cap)
{
	size_t h = (size_t)(unsigned)pid * 2654435761u ^ (size_t)(unsigned)tid * 2246822519u;
	return (h ^ h >> 15) & (cap - 1);
}

/* The open-span stack of thread (pid, tid), created when create; NULL if none (or no memory). */
static struct run_thread *thread_find(struct run *run, pid_t pid, pid_t tid, bool create)
{
	if (create && (run->span_used + 1) * 2 > run->span_cap) {
		size_t cap = run->span_cap ? run->span_cap * 2 : 64;
		struct run_thread *table = calloc(cap, sizeof(*table));
		if (!table)
			return NULL;
		for (size_t i = 0; i < run->span_cap; i++) {
			const struct run_thread *old = &run->span_threads[i];
			if (!old->used)
				continue;
			size_t h = thread_hash(old->pid, old->tid, cap);
			while (table[h].used)
				h = (h + 1) & (cap - 1);
			table[h] = *old;
		}
		free(run->span_threads);
		run->span_threads = table;
		run->span_cap = cap;
	}
	if (!run->span_cap)
		return NULL;
	for (size_t h = thread_hash(pid, tid, run->span_cap);; h = (h + 1) & (run->span_cap - 1)) {
		struct run_thread *th = &run->span_threads[h];
		if (th->used && th->pid == pid && th->tid == tid)
			return th;
		if (!th->used) {
			if (!create)
				return NULL;
			th->used = true;
			th->pid = pid;
			th->tid = tid;
			run->span_used++;
			return th;
		}
	}
}

/*
 * Moves the record's text out of it, its length to *len (an empty string if it has none); NULL
 * when out of memory.
 */
static char *take_text(struct mark_record *m, size_t *len)
{
	char *text = m->text ? m->text : strdup("");
	*len = m->text ? m->len : 0;
	m->text = NULL;
	m->len = 0;
	return text;
}

static int add_event(struct run *run, struct mark_record *m)
{
	if (!grow((void **)&run->events, &run->alloc_events, run->n_events, sizeof(*run->events)))
		return -1;
	struct run_event *e = &run->events[run->n_events];
	if (!(e->label = take_text(m, &e->label_len)))
		return -1;
	e->t = m->t;
	e->pid = m->pid;
	e->tid = m->tid;
	e->rss = -1;
	e->seq = run->n_events;
	if (run->n_events && m->t < run->events[run->n_events - 1].t)
		run->events_unsorted = true; /* sorted by run_update_status() */
	run->n_events++;
	return 0;
}

static int add_output(struct run *run, struct output_record *o)
{
	if (!grow((void **)&run->outputs, &run->alloc_outputs, run->n_outputs,
		  sizeof(*run->outputs)))
		return -1;
	run->outputs[run->n_outputs++] =
		(struct run_output){.t = o->t, .err = o->err, .text = o->text, .len = o->len};
	o->text = NULL;
	return 0;
}

static int span_begin(struct run *run, struct mark_record *m)
{
	if (!grow((void **)&run->spans, &run->alloc_spans, run->n_spans, sizeof(*run->spans)))
		return -1;
	struct run_thread *th = thread_find(run, m->pid, m->tid, true);
	if (!th || !grow((void **)&th->open, &th->alloc, th->n, sizeof(*th->open)))
		return -1;
	struct run_span *s = &run->spans[run->n_spans];
	memset(s, 0, sizeof(*s));
	if (!(s->name = take_text(m, &s->name_len)))
		return -1;
	s->pid = m->pid;
	s->tid = m->tid;
	s->start = s->end = m->t;
	s->depth = th->n < INT_MAX ? (int)th->n : INT_MAX;
	s->open = true;
	s->peak = -1;
	th->open[th->n++] = run->n_spans++;
	return 0;
}

/* Closes the innermost open span of that name on that thread; an unmatched end is ignored. */
static void span_end(struct run *run, const struct mark_record *m)
{
	struct run_thread *th = thread_find(run, m->pid, m->tid, false);
	const char *name = m->text ? m->text : "";
	size_t len = m->text ? m->len : 0;
	for (size_t k = th ? th->n : 0; k-- > 0;) {
		struct run_span *s = &run->spans[th->open[k]];
		if (s->name_len != len || memcmp(s->name, name, len))
			continue;
		s->end = m->t < s->start ? s->start : m->t;
		s->open = false;
		memmove(&th->open[k], &th->open[k + 1], (th->n - k - 1) * sizeof(*th->open));
		th->n--;
		return;
	}
}

static int add_mark(struct run *run, struct mark_record *m)
{
	switch (m->kind) {
	case MARK_EVENT:
		return add_event(run, m);
	case MARK_SPAN_BEGIN:
		return span_begin(run, m);
	case MARK_SPAN_END:
		span_end(run, m);
		return 0;
	}
	return 0;
}

/*
 * The first of n elements of size bytes at base, sorted by the double at offset t_off in
 * each, whose time is t or later (n when none is): the samples' and the events' search.
 */
static size_t first_at_or_after(const void *base, size_t n, size_t size, size_t t_off, double t)
{
	const char *b = base;
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		double mt;
		memcpy(&mt, b + mid * size + t_off, sizeof(mt));
		if (mt < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

size_t run_sample_from(const struct run *run, double t)
{
	return first_at_or_after(run->samples, run->n_samples, sizeof(*run->samples),
				 offsetof(struct run_sample, t), t);
}

size_t run_event_from(const struct run *run, double t)
{
	return first_at_or_after(run->events, run->n_events, sizeof(*run->events),
				 offsetof(struct run_event, t), t);
}

long run_sample_at(const struct run *run, double t)
{
	if (!run->n_samples)
		return -1;
	size_t i = run_sample_from(run, t);
	return i < run->n_samples ? (long)i : (long)run->n_samples - 1;
}

long long run_rss_at(const struct run *run, double t)
{
	long i = run_sample_at(run, t);
	return i < 0 ? -1 : run->samples[i].tree.v[TF_RSS];
}

/* Blocks of samples whose highest peak is kept, so that a long span is not a long scan. */
#define PEAK_BLOCK 256

/* The highest run_sample_peak of samples lo..hi (included); blocks may be NULL. */
static long long range_peak(const struct run *run, const long long *blocks, size_t lo, size_t hi)
{
	long long peak = -1;
	for (size_t i = lo; i <= hi;) {
		long long v;
		if (blocks && i % PEAK_BLOCK == 0 && hi - i >= PEAK_BLOCK - 1) {
			v = blocks[i / PEAK_BLOCK];
			i += PEAK_BLOCK;
		} else {
			v = run_sample_peak(&run->samples[i]);
			i++;
		}
		if (v > peak)
			peak = v;
	}
	return peak;
}

static void span_memory(const struct run *run, const long long *blocks, struct run_span *s)
{
	long lo = run_sample_at(run, s->start), hi = run_sample_at(run, s->end);
	s->peak = -1;
	s->has_rss_change = false;
	if (lo < 0)
		return;
	if (hi < lo) { /* only when samples are out of order: a damaged log */
		long tmp = lo;
		lo = hi;
		hi = tmp;
	}
	/*
	 * A sample's peak covers the time since the previous sample. The first sample at the span's
	 * start (memline takes one right after a span begins) covers mostly what came before: its
	 * peak counts only when the span fills at least half of its interval, else its RSS does.
	 */
	long long a = run->samples[lo].tree.v[TF_RSS], b = run->samples[hi].tree.v[TF_RSS];
	double t_lo = run->samples[lo].t;
	bool inside = lo == 0 || hi == lo || t_lo - s->start >= s->start - run->samples[lo - 1].t;
	s->peak = range_peak(run, blocks, (size_t)lo + !inside, (size_t)hi);
	if (!inside && a > s->peak)
		s->peak = a;
	if (a >= 0 && b >= 0) {
		s->rss_change = b - a;
		s->has_rss_change = true;
	}
}

static int cmp_event(const void *a, const void *b)
{
	const struct run_event *e = a, *f = b;
	if (e->t != f->t)
		return e->t < f->t ? -1 : 1;
	return e->seq < f->seq ? -1 : e->seq > f->seq;
}

/* What events and spans take from the samples, and the open spans' end. */
static void finish_marks(struct run *run)
{
	if (run->events_unsorted) {
		qsort(run->events, run->n_events, sizeof(*run->events), cmp_event);
		run->events_unsorted = false;
	}
	for (size_t i = 0; i < run->n_events; i++)
		run->events[i].rss = run_rss_at(run, run->events[i].t);
	if (!run->n_spans)
		return;
	/* Without memory for the blocks, range_peak scans every sample: slower, as right. */
	size_t nb = run->n_samples / PEAK_BLOCK;
	long long *blocks = nb ? calloc(nb, sizeof(*blocks)) : NULL;
	for (size_t b = 0; blocks && b < nb; b++)
		blocks[b] = range_peak(run, NULL, b * PEAK_BLOCK, b * PEAK_BLOCK + PEAK_BLOCK - 1);
	for (size_t i = 0; i < run->n_spans; i++) {
		struct run_span *s = &run->spans[i];
		if (s->open)
			s->end = run->duration > s->start ? run->duration : s->start;
		span_memory(run, blocks, s);
	}
	free(blocks);
}

static double record_time(const struct log_record *rec)
{
	switch (rec->type) {
	case REC_PROC:
	case REC_EXEC:
		return rec->proc.t;
	case REC_SAMPLE:
		return rec->sample.t;
	case REC_EXIT:
		return rec->exit.t;
	case REC_END:
		return rec->end.t;
	case REC_EVENT:
	case REC_SPAN:
		return rec->mark.t;
	case REC_OUTPUT:
		return rec->output.t;
	case REC_STOPPED:
	case REC_WARNING:
		return rec->note.t;
	case REC_STACK:
		return rec->stack.t;
	case REC_THREAD:
		return rec->thread.t;
	case REC_HEAP:
		return rec->heap.t;
	case REC_CLOCK:
		return rec->clock.t;
	default:
		return 0;
	}
}

int run_add_record(struct run *run, struct log_record *rec)
{
	int ret = 0;
	double t = record_time(rec);
	if (t > run->duration)
		run->duration = t;
	switch (rec->type) {
	case REC_HEADER:
		header_info_release(&run->header);
		run->header = rec->header;
		memset(&rec->header, 0, sizeof(rec->header));
		run->has_header = true;
		break;
	case REC_PROC:
		ret = add_proc(run, &rec->proc);
		break;
	case REC_EXEC: {
		int i = live_proc(run, rec->proc.pid, rec->proc.t);
		if (i < 0)
			return -1;
		take_cmdline(&run->procs[i], &rec->proc);
		break;
	}
	case REC_SAMPLE:
		ret = add_sample(run, &rec->sample);
		break;
	case REC_EXIT:
		ret = add_exit(run, &rec->exit);
		break;
	case REC_END:
		end_info_release(&run->end);
		run->end = rec->end;
		memset(&rec->end, 0, sizeof(rec->end));
		run->has_end = true;
		free(run->error);
		run->error = rec->end_error;
		run->error_len = rec->end_error_len;
		rec->end_error = NULL;
		rec->end_error_len = 0;
		run->end_events = rec->end_events;
		/* the end's peak covers every sample, those a full disk kept out of the log too */
		if (run->end.job_peak > run->job_peak) {
			run->job_peak = run->end.job_peak;
			run->job_peak_t = run->end.job_peak_t;
		}
		break;
	case REC_EVENT:
	case REC_SPAN:
		ret = add_mark(run, &rec->mark);
		break;
	case REC_OUTPUT:
		ret = add_output(run, &rec->output);
		break;
	case REC_STOPPED:
		if (run->stopped)
			break; /* the first one says it */
		run->stopped = true;
		run->stopped_t = rec->note.t;
		run->stopped_errno = rec->note.code;
		run->stopped_error = rec->note.text;
		rec->note.code = rec->note.text = NULL;
		break;
	case REC_WARNING:
		if (run->n_warnings < RUN_MAX_WARNINGS) {
			if (!run->warnings &&
			    !(run->warnings = calloc(RUN_MAX_WARNINGS, sizeof(*run->warnings))))
				return -1;
			run->warnings[run->n_warnings++] = rec->note.text;
			rec->note.text = NULL;
		}
		break;
	case REC_STACK:
		ret = run_stacks_add(&run->stacks, &rec->stack);
		break;
	case REC_THREAD:
		ret = run_threads_add_record(run, &rec->thread);
		break;
	case REC_HEAP:
		ret = add_heap(run, &rec->heap);
		break;
	case REC_CLOCK:
		ret = add_clock(run, &rec->clock);
		break;
	case REC_FRAMES: /* the reader keeps those */
	case REC_UNKNOWN:
		break;
	}
	return ret;
}

void run_update_status(struct run *run)
{
	if (run->has_end) {
		run->status = run->end.status;
		run->duration = run->end.t;
	} else {
		run->status =
			run->path && log_is_being_written(run->path) ? RUN_RUNNING : RUN_INCOMPLETE;
	}
	finish_marks(run);
}

int run_load(struct run *run, const char *path, log_warn_fn *warn, void *data, struct strbuf *err)
{
	return run_load_fields(run, path, RUN_ALL_FIELDS, warn, data, err);
}

int run_load_fields(struct run *run, const char *path, unsigned long long fields, log_warn_fn *warn,
		    void *data, struct strbuf *err)
{
	struct log_reader r;
	struct log_record rec;
	run_init(run);
	run_keep_fields(run, fields);
	if (!(run->path = strdup(path))) {
		strbuf_addstr(err, "out of memory");
		return RUN_LOAD_DATAERR;
	}
	if (log_reader_open(&r, path, warn, data, err) < 0)
		return RUN_LOAD_NOINPUT;
	log_record_init(&rec);
	/* A large log on more than one CPU: decoding runs ahead while the model is built. */
	struct stat st;
	bool ahead = fstat(r.fd, &st) == 0 && st.st_size >= READ_AHEAD_BYTES &&
		     sysconf(_SC_NPROCESSORS_ONLN) > 1;
	int ret = ahead ? log_reader_read_ahead(&r, &rec, err) : log_reader_next(&r, &rec, err);
	for (; ret > 0; ret = log_reader_next(&r, &rec, err)) {
		if (run_add_record(run, &rec) < 0) {
			strbuf_addf(err, "out of memory reading '%s'", path);
			ret = -1;
			break;
		}
	}
	run->truncated = r.truncated;
	run->corrupt = r.corrupt;
	log_record_release(&rec);
	log_reader_close(&r);
	if (ret < 0) {
		run_release(run);
		return RUN_LOAD_DATAERR;
	}
	run_update_status(run);
	return 0;
}

bool run_measures_job(const struct run *run)
{
	return run->has_header && run->header.format >= 2;
}

long long run_sample_peak(const struct run_sample *s)
{
	return s->tree.v[TF_PEAK] >= 0 ? s->tree.v[TF_PEAK] : s->tree.v[TF_RSS];
}

long long run_sample_job(const struct run_sample *s)
{
	/* a format 1 log has no job field: its job's memory was the sum of RSS */
	return s->tree.v[TF_JOB] >= 0 ? s->tree.v[TF_JOB] : s->tree.v[TF_RSS];
}

long long run_sample_job_peak(const struct run_sample *s)
{
	if (s->tree.v[TF_JOB_PEAK] >= 0)
		return s->tree.v[TF_JOB_PEAK];
	return s->tree.v[TF_JOB] >= 0 ? s->tree.v[TF_JOB] : run_sample_peak(s);
}

/* ---- command lines ---- */

void run_quote_arg(struct strbuf *out, const char *arg, size_t len)
{
	static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				   "0123456789_@%+=:,./-";
	bool plain = len > 0;
	for (size_t i = 0; plain && i < len; i++)
		plain = arg[i] && strchr(safe, arg[i]);
	if (plain) {
		strbuf_add(out, arg, len);
		return;
	}
	strbuf_addch(out, '\'');
	for (size_t i = 0; i < len; i++) {
		if (arg[i] == '\'')
			strbuf_addstr(out, "'\\''");
		else
			strbuf_addch(out, arg[i]);
	}
	strbuf_addch(out, '\'');
}

void run_proc_cmd(const struct run *run, size_t i, struct strbuf *out)
{
	const struct run_proc *p = &run->procs[i];
	if (!p->cmdline || !p->cmdline_len) {
		strbuf_addf(out, "[%s]", p->comm[0] ? p->comm : "?");
		return;
	}
	const char *s = p->cmdline, *end = p->cmdline + p->cmdline_len;
	bool first = true;
	while (s < end) {
		size_t n = strnlen(s, (size_t)(end - s));
		if (!first)
			strbuf_addch(out, ' ');
		run_quote_arg(out, s, n);
		first = false;
		s += n + 1;
	}
}

void run_command(const struct run *run, struct strbuf *out)
{
	if (!run->header.command)
		return;
	for (char **a = run->header.command; *a; a++) {
		if (a != run->header.command)
			strbuf_addch(out, ' ');
		run_quote_arg(out, *a, strlen(*a));
	}
}

/* ---- derived lists ---- */

static pid_t *collect_pids(const struct run *run, const pid_t *from, size_t n_from, bool from_end,
			   bool want_oom, size_t *n)
{
	*n = 0;
	size_t cap = from_end ? n_from : run->n_procs;
	if (!cap)
		return NULL;
	pid_t *out = calloc(cap, sizeof(*out));
	if (!out)
		return NULL;
	if (from_end) {
		memcpy(out, from, n_from * sizeof(*out));
		*n = n_from;
		return out;
	}
	for (size_t i = 0; i < run->n_procs; i++) {
		const struct run_proc *p = &run->procs[i];
		if (want_oom ? p->exited && p->exit.oom : !p->exited)
			out[(*n)++] = p->pid;
	}
	if (!*n) {
		free(out);
		return NULL;
	}
	return out;
}

pid_t *run_oom_killed(const struct run *run, size_t *n)
{
	return collect_pids(run, run->end.oom_killed, run->end.n_oom_killed, run->has_end, true, n);
}

pid_t *run_alive(const struct run *run, size_t *n)
{
	return collect_pids(run, run->end.alive, run->end.n_alive, run->has_end, false, n);
}

int run_oom_proc(const struct run *run, pid_t pid)
{
	for (size_t i = run->n_procs; i-- > 0;)
		if (run->procs[i].pid == pid && run->procs[i].exited && run->procs[i].exit.oom)
			return (int)i;
	return run_proc_by_pid(run, pid);
}

/* The job's memory in the last sample at or before t; -1 none. */
static long long job_at(const struct run *run, double t)
{
	long long job = -1;
	for (size_t i = 0; i < run->n_samples && run->samples[i].t <= t + 1e-9; i++)
		job = run_sample_job(&run->samples[i]);
	return job;
}

/*
 * The peak capture taken when the job's memory was highest (a capture follows the sample that
 * made it: a capture before the peak, whose memory was lower, shows less of what grew); among
 * equals, the one nearest the job's peak; without peak captures, the capture nearest it.
 */
long run_peak_capture(const struct run *run)
{
	double t = run->duration;
	if (run->job_peak >= 0)
		t = run->job_peak_t;
	else if (run->peak >= 0)
		t = run->peak_t;
	long best = -1;
	long long best_job = -1;
	for (size_t i = 0; i < run->stacks.n_captures; i++) {
		const struct run_capture *c = &run->stacks.captures[i];
		if (c->why != STACK_PEAK)
			continue;
		long long job = job_at(run, c->t);
		if (best < 0 || job > best_job ||
		    (job == best_job && fabs(c->t - t) < fabs(run->stacks.captures[best].t - t))) {
			best = (long)i;
			best_job = job;
		}
	}
	return best >= 0 ? best : run_stacks_at(&run->stacks, t);
}
