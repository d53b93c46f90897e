/*
 * sampler-events: the sampler's side of the kernel's event sources (record/events.h). The
 * sources hear of every process on the machine; what they tell comes here, and the sampler
 * keeps what is of its tree:
 *
 *   fork   a process whose parent is of the tree is tracked at once (before any sample could
 *          see it, and before it can end unseen);
 *   exec   a tracked process is read again at once, which queues its exec record;
 *   exit   of a tracked process: its status, its high-water mark and its threads' CPU are
 *          noted, and, when its last thread ended and it is not memline's child (which the
 *          recorder reaps), its exit is queued. Of a process the sampler never saw: kept as
 *          "news" until its parent is known to be of the tree, then queued as a proc record
 *          "seen at exit" and its exit.
 *
 * Children often end before their parents, and a process's parent may itself have lived
 * between two samples, so an exit whose parent is not known yet waits: it joins when its
 * parent does (tracked at a fork or by a sample, or itself told of at its exit), and is
 * forgotten once a full sample after it found no such parent. The ends already written are
 * remembered as long, so that a late report, a late fork event or a lingering zombie of the
 * same process is not taken for a new one (a pid is the same process when its start time is).
 *
 * Both tables are arrays with hash chains by pid, rebuilt when they grow and when old entries
 * are forgotten (at most four times a second), so every lookup is O(1) on average whatever the
 * machine's rate of exits. Nothing here reads /proc but sampler_fork and sampler_exec (through
 * the sampler's handles).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "record/collector.h"
#include "record/sampler.h"

/*
 * Two start times of one pid within this (seconds) are one process: a start computed from an
 * exit record is late by the time the record waited to be read, and stat's is cut to a tick.
 * A pid is handed out again only after the counter went round pid_max, which takes longer.
 */
#define START_SLACK 2.0
/* News is kept at least this long (seconds), and past the sample after it. */
#define NEWS_MIN_AGE 1.0
/* Forgetting old news rebuilds the tables: at most this often (seconds). */
#define EXPIRE_EVERY 0.25
/* At most this many exits of unknown processes are kept; more are lost (and said so). */
#define NEWS_MAX (1 << 17)

/* An exit (or a fork, for the proc connector) of a process the sampler does not track. */
struct news_pending {
	pid_t tgid, ppid;
	double t;     /* when the first report of it came */
	double start; /* when it started, seconds since t0; NAN unknown */
	char comm[32];
	bool comm_leader; /* comm is its leader thread's */
	int status, rank; /* its wait status, and 1 + the sampler_exit_what that gave it */
	enum exit_source source;
	long long hwm, utime_us, stime_us;
	double born;	    /* when it was forked, exactly (the connector); NAN unknown */
	double end;	    /* when its leader ended, exactly (the connector); NAN unknown */
	double ended_by;    /* its last thread had ended by then (when that report was read) */
	double ended_after; /* ... and after this (the source's previous read); NAN unknown */
	double life;	    /* how long it lived (its age at its last thread's end); NAN unknown */
	pid_t last;	    /* the thread whose end was its process's (0: not told) */
	bool complete;	    /* its last thread ended: it can be written */
	bool dead;	    /* written, or forgotten: skipped until the table is rebuilt */
	int next_tgid, next_ppid;
};

/* A process of the tree whose end was written. */
struct news_ended {
	pid_t pid;
	double start, t;
	int next;
};

/* A process that left the tree since the last sample: when it may have had its peak. */
struct news_span {
	pid_t pid;
	double lo, hi;
	long long peak;
	bool narrows; /* its leader was its last thread: the connector's exit time is its end */
};

struct sampler_news {
	struct news_span *spans; /* since the last sample */
	size_t n_spans, alloc_spans;
	struct news_pending *p;
	size_t np, alloc_p; /* alloc_p: a power of two, the size of both chains' heads */
	int *tgid_head, *ppid_head;
	struct news_ended *e;
	size_t ne, alloc_e;
	int *pid_head;
	pid_t *stack; /* processes whose waiting children are to be written */
	size_t n_stack, alloc_stack;
	double expire_t;
};

static size_t slot(pid_t pid, size_t cap)
{
	return ((size_t)(unsigned)pid * 2654435761u) & (cap - 1);
}

static struct sampler_news *news(struct sampler *s)
{
	if (!s->news && !(s->news = calloc(1, sizeof(*s->news))))
		s->oom = true;
	return s->news;
}

void sampler_news_free(struct sampler *s)
{
	struct sampler_news *n = s->news;
	if (!n)
		return;
	free(n->p);
	free(n->tgid_head);
	free(n->ppid_head);
	free(n->e);
	free(n->pid_head);
	free(n->stack);
	free(n->spans);
	free(n);
	s->news = NULL;
}

/* ---- the pending table ---- */

static void pending_chain_ppid(struct sampler_news *n, int i)
{
	size_t h = slot(n->p[i].ppid, n->alloc_p);
	n->p[i].next_ppid = n->ppid_head[h];
	n->ppid_head[h] = i;
}

/* Drops the dead entries and rebuilds both chains (into heads of alloc_p). */
static void pending_rebuild(struct sampler_news *n)
{
	size_t k = 0;
	for (size_t i = 0; i < n->np; i++)
		if (!n->p[i].dead)
			n->p[k++] = n->p[i];
	n->np = k;
	for (size_t i = 0; i < n->alloc_p; i++)
		n->tgid_head[i] = n->ppid_head[i] = -1;
	for (size_t i = 0; i < n->np; i++) {
		size_t h = slot(n->p[i].tgid, n->alloc_p);
		n->p[i].next_tgid = n->tgid_head[h];
		n->tgid_head[h] = (int)i;
		n->p[i].next_ppid = -1;
		if (n->p[i].complete)
			pending_chain_ppid(n, (int)i);
	}
}

static int pending_find(const struct sampler_news *n, pid_t tgid)
{
	if (!n->alloc_p)
		return -1;
	for (int i = n->tgid_head[slot(tgid, n->alloc_p)]; i >= 0; i = n->p[i].next_tgid)
		if (n->p[i].tgid == tgid && !n->p[i].dead)
			return i;
	return -1;
}

/* A new entry for tgid; -1 when the table is full or memory is short. */
static int pending_add(struct sampler *s, struct sampler_news *n, pid_t tgid, double t)
{
	if (n->np >= NEWS_MAX)
		return -1;
	if (n->np == n->alloc_p) {
		size_t cap = n->alloc_p ? n->alloc_p * 2 : 64;
		struct news_pending *p = realloc(n->p, cap * sizeof(*p));
		int *th = p ? malloc(cap * sizeof(*th)) : NULL;
		int *ph = th ? malloc(cap * sizeof(*ph)) : NULL;
		if (p)
			n->p = p;
		if (!ph) {
			free(th);
			s->oom = true;
			return -1;
		}
		free(n->tgid_head);
		free(n->ppid_head);
		n->tgid_head = th;
		n->ppid_head = ph;
		n->alloc_p = cap;
		pending_rebuild(n);
	}
	int i = (int)n->np++;
	struct news_pending *e = &n->p[i];
	memset(e, 0, sizeof(*e));
	e->tgid = tgid;
	e->t = t;
	e->start = e->born = e->end = e->ended_by = e->ended_after = e->life = NAN;
	e->status = -1;
	e->hwm = e->utime_us = e->stime_us = -1;
	e->next_ppid = -1;
	size_t h = slot(tgid, n->alloc_p);
	e->next_tgid = n->tgid_head[h];
	n->tgid_head[h] = i;
	return i;
}

/* ---- the ended table ---- */

static bool same_start(double a, double b)
{
	return isnan(a) || isnan(b) || fabs(a - b) <= START_SLACK;
}

static void ended_rebuild(struct sampler_news *n)
{
	for (size_t i = 0; i < n->alloc_e; i++)
		n->pid_head[i] = -1;
	for (size_t i = 0; i < n->ne; i++) {
		size_t h = slot(n->e[i].pid, n->alloc_e);
		n->e[i].next = n->pid_head[h];
		n->pid_head[h] = (int)i;
	}
}

static void ended_add(struct sampler *s, pid_t pid, double start, double t)
{
	struct sampler_news *n = news(s);
	if (!n)
		return;
	if (n->ne == n->alloc_e) {
		size_t cap = n->alloc_e ? n->alloc_e * 2 : 64;
		struct news_ended *e = realloc(n->e, cap * sizeof(*e));
		int *head = e ? malloc(cap * sizeof(*head)) : NULL;
		if (e)
			n->e = e;
		if (!head) {
			s->oom = true;
			return;
		}
		free(n->pid_head);
		n->pid_head = head;
		n->alloc_e = cap;
		ended_rebuild(n);
	}
	size_t i = n->ne++;
	n->e[i] = (struct news_ended){.pid = pid, .start = start, .t = t};
	size_t h = slot(pid, n->alloc_e);
	n->e[i].next = n->pid_head[h];
	n->pid_head[h] = (int)i;
}

bool sampler_news_ended(struct sampler *s, pid_t pid, double start)
{
	const struct sampler_news *n = s->news;
	if (!n || !n->alloc_e)
		return false;
	for (int i = n->pid_head[slot(pid, n->alloc_e)]; i >= 0; i = n->e[i].next)
		if (n->e[i].pid == pid && same_start(n->e[i].start, start))
			return true;
	return false;
}

/* Whether a process whose parent is ppid is of the tree, as far as events tell. */
static bool news_in_tree(struct sampler *s, pid_t ppid)
{
	return ppid > 0 && (sampler_in_tree(s, ppid) || sampler_news_ended(s, ppid, NAN));
}

static bool memline_child(const struct sampler *s, pid_t ppid)
{
	return s->opt.self > 0 && ppid == s->opt.self;
}

/* ---- the tree's peak: the processes that left it since the last sample ---- */

static void add_span(struct sampler *s, pid_t pid, double lo, double hi, long long peak,
		     bool narrows)
{
	if (peak <= 0)
		return;
	struct sampler_news *n = news(s);
	if (n && n->n_spans == n->alloc_spans) {
		size_t cap = n->alloc_spans ? n->alloc_spans * 2 : 64;
		struct news_span *sp = realloc(n->spans, cap * sizeof(*sp));
		if (sp) {
			n->spans = sp;
			n->alloc_spans = cap;
		}
	}
	if (!n || n->n_spans == n->alloc_spans) {
		s->exited_peak += peak; /* the sum: an upper bound too */
		return;
	}
	if (!(lo <= hi))
		lo = -INFINITY; /* times that do not say: it may meet any other */
	n->spans[n->n_spans++] = (struct news_span){pid, lo, hi, peak, narrows};
}

/* The exit of pid, which was its last thread's, was at end exactly: its span ends there. */
static void narrow_span(struct sampler *s, pid_t pid, double end)
{
	struct sampler_news *n = s->news;
	for (size_t i = 0; n && i < n->n_spans; i++)
		if (n->spans[i].pid == pid && n->spans[i].narrows && end < n->spans[i].hi &&
		    end >= n->spans[i].lo)
			n->spans[i].hi = end;
}

struct mark {
	double t;
	long long d;
};

/* By time; at one moment, a start before an end (spans that touch meet). */
static int by_time(const void *a, const void *b)
{
	const struct mark *x = a, *y = b;
	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return (x->d < 0) - (y->d < 0);
}

long long sampler_exited_peak_take(struct sampler *s)
{
	struct sampler_news *n = s->news;
	if (!n || !n->n_spans)
		return 0;
	long long best = 0, sum = 0;
	struct mark *m = malloc(2 * n->n_spans * sizeof(*m));
	if (!m) {
		for (size_t i = 0; i < n->n_spans; i++)
			best += n->spans[i].peak;
	} else {
		for (size_t i = 0; i < n->n_spans; i++) {
			m[2 * i] = (struct mark){n->spans[i].lo, n->spans[i].peak};
			m[2 * i + 1] = (struct mark){n->spans[i].hi, -n->spans[i].peak};
		}
		qsort(m, 2 * n->n_spans, sizeof(*m), by_time);
		for (size_t i = 0; i < 2 * n->n_spans; i++)
			if ((sum += m[i].d) > best)
				best = sum;
		free(m);
	}
	n->n_spans = 0;
	return best;
}

void sampler_tracked_span(struct sampler *s, const struct tracked_proc *p, double t, long long peak)
{
	/* its high-water mark covers the time since its last reset (a status read) */
	double lo = isnan(p->born) ? sampler_start_secs(s, p->starttime) : p->born;
	if (p->slow_t > lo)
		lo = p->slow_t;
	bool narrows = p->ev_last == p->pid;
	double hi = t;
	if (narrows && !isnan(p->ev_end) && p->ev_end < hi)
		hi = p->ev_end;
	add_span(s, p->pid, lo, hi, peak, narrows);
}

bool sampler_young_span(struct sampler *s, const struct tracked_proc *p, double t, long long peak)
{
	struct sampler_news *n = s->news;
	if (!n || !n->n_spans || peak <= 0)
		return false; /* nothing left the tree: the sum is the same */
	double lo = isnan(p->born) ? sampler_start_secs(s, p->starttime) : p->born;
	if (!(lo > s->prev_sample_t))
		return false;
	add_span(s, p->pid, lo, t, peak, false);
	return true;
}

/* When a pending process may have had its peak: between its fork (or the earliest start its
 * records allow) and its end (or when its record was read). */
static void pending_span(const struct news_pending *e, double *lo, double *hi, bool *narrows)
{
	*narrows = e->last == e->tgid;
	*lo = !isnan(e->born)				  ? e->born
	      : !isnan(e->ended_after) && !isnan(e->life) ? e->ended_after - e->life
							  : -INFINITY;
	*hi = isnan(e->ended_by) ? INFINITY : e->ended_by;
	if (!isnan(e->born) && !isnan(e->life) && e->born + e->life < *hi)
		*hi = e->born + e->life;
	if (*narrows && !isnan(e->end) && e->end < *hi)
		*hi = e->end;
}

/* ---- writing what is known of a process seen only at its exit ---- */

struct seen {
	pid_t pid, ppid;
	double start;
	double lo, hi; /* when it may have had its peak (add_span) */
	bool narrows;
	const char *comm;
	bool known; /* its status is */
	int status;
	long long hwm, maxrss, own_maxrss; /* KiB, -1 unknown */
	long long utime, stime;		   /* ms, -1 unknown */
	enum exit_source source;
};

/* Queues its proc record (seen at exit) and its exit; returns the exit's index, or -1. */
static long emit_seen(struct sampler *s, const struct seen *w, double t)
{
	struct sampler_event *ev = sampler_new_event(s, SAMPLER_PROC);
	if (!ev)
		return -1;
	ev->proc.pid = w->pid;
	ev->proc.ppid = w->ppid;
	ev->proc.t = t;
	ev->proc.start = isnan(w->start) || w->start > t ? t : w->start;
	ev->proc.at_exit = true;
	if (w->comm) {
		strncpy(ev->proc.comm, w->comm, sizeof(ev->proc.comm) - 1);
		ev->proc.comm[sizeof(ev->proc.comm) - 1] = '\0';
	}
	if (!(ev = sampler_new_event(s, SAMPLER_EXIT)))
		return -1;
	struct exit_info *e = &ev->exit;
	e->pid = w->pid;
	e->t = t;
	if (w->known) {
		exit_info_from_wait_status(e, w->status);
	} else {
		e->how = EXIT_HOW_UNKNOWN;
		e->code = e->signal = -1;
	}
	e->hwm = w->hwm;
	e->maxrss = w->maxrss;
	/* its whole life was one interval: its high-water mark is its peak (never the image it
	 * had before its exec, which ru_maxrss keeps) */
	e->peak = w->hwm >= 0 ? w->hwm : w->own_maxrss;
	e->utime = w->utime;
	e->stime = w->stime;
	e->source = w->source;
	if (e->utime > 0)
		s->exited_utime += e->utime;
	if (e->stime > 0)
		s->exited_stime += e->stime;
	if (s->opt.peak_reset && e->peak > 0)
		add_span(s, w->pid, w->lo, w->hi, e->peak, w->narrows);
	ended_add(s, w->pid, w->start, t);
	return (long)s->n_events - 1;
}

static long long us_ms(long long us)
{
	return us < 0 ? -1 : us / 1000;
}

static void push(struct sampler *s, struct sampler_news *n, pid_t pid)
{
	if (n->n_stack == n->alloc_stack) {
		size_t cap = n->alloc_stack ? n->alloc_stack * 2 : 16;
		pid_t *st = realloc(n->stack, cap * sizeof(*st));
		if (!st) {
			s->oom = true;
			return;
		}
		n->stack = st;
		n->alloc_stack = cap;
	}
	n->stack[n->n_stack++] = pid;
}

/* Writes the waiting children of pid, a process of the tree, and theirs. */
static void join_children(struct sampler *s, pid_t pid, double t)
{
	struct sampler_news *n = s->news;
	if (!n || !n->alloc_p)
		return;
	size_t base = n->n_stack;
	push(s, n, pid);
	while (n->n_stack > base) {
		pid_t parent = n->stack[--n->n_stack];
		for (int i = n->ppid_head[slot(parent, n->alloc_p)]; i >= 0;
		     i = n->p[i].next_ppid) {
			struct news_pending *e = &n->p[i];
			if (e->dead || !e->complete || e->ppid != parent)
				continue;
			e->dead = true;
			double lo, hi;
			bool narrows;
			pending_span(e, &lo, &hi, &narrows);
			struct seen w = {.pid = e->tgid,
					 .ppid = e->ppid,
					 .start = e->start,
					 .lo = lo,
					 .hi = hi < t ? hi : t,
					 .narrows = narrows,
					 .comm = e->comm,
					 .known = e->status >= 0,
					 .status = e->status,
					 .hwm = e->hwm,
					 .maxrss = -1,
					 .own_maxrss = -1,
					 .utime = us_ms(e->utime_us),
					 .stime = us_ms(e->stime_us),
					 .source = e->source};
			emit_seen(s, &w, t);
			push(s, n, e->tgid);
		}
	}
}

/* ---- what sources tell ---- */

void sampler_events_on(struct sampler *s, unsigned flags)
{
	s->ev_flags |= flags;
}

void sampler_events_lost(struct sampler *s)
{
	s->ev_lost = s->ev_ever_lost = true;
}

void sampler_fork(struct sampler *s, pid_t pid, pid_t ppid, double born, double t)
{
	if (pid <= 0 || pid == s->opt.exclude || sampler_find(s, pid))
		return;
	if (ppid > 0 && !news_in_tree(s, ppid))
		return; /* the machine's, not the tree's: the common case, decided without a read */
	struct proc_handle h;
	struct proc_stat st;
	if (!proc_handle_open(&h, s->fs, pid)) {
		/* Gone already: its exit will tell the rest; note when it started. */
		struct sampler_news *n =
			ppid > 0 && !sampler_news_ended(s, pid, NAN) ? news(s) : NULL;
		int i = n && pending_find(n, pid) < 0 ? pending_add(s, n, pid, t) : -1;
		struct tracked_proc *parent = sampler_find(s, ppid);
		if (i >= 0) {
			n->p[i].ppid = ppid;
			n->p[i].born = born;
			n->p[i].start = isnan(born) ? t : born;
			if (parent) /* its name at its fork; an exit record may tell a newer one */
				memcpy(n->p[i].comm, parent->comm, sizeof(n->p[i].comm));
		}
		return;
	}
	/* one that ended already may still be in its exit, or a zombie: not a new process */
	bool ok = proc_handle_stat(&h, &st) && st.pid == pid && st.exit_signal != -1 &&
		  (ppid > 0 || news_in_tree(s, st.ppid)) &&
		  !sampler_news_ended(s, pid, sampler_start_secs(s, st.starttime));
	if (!ok) {
		proc_handle_close(&h); /* a thread, gone, not the tree's, or ended already */
		return;
	}
	struct tracked_proc *p = sampler_track(s, &h, &st, t);
	if (p)
		p->born = born;
}

void sampler_exec(struct sampler *s, pid_t pid, double t)
{
	struct tracked_proc *p = sampler_find(s, pid);
	/* Read it now, as a sample would first: the stat collector queues the exec record. In a
	 * sample (reading the sources for a process that ended) the sample reads it anyway. */
	if (p && !s->in_sample && collect_stat.collect(s, p, t) == COLLECT_GONE)
		sampler_untrack(s, p);
}

/* Takes what a report says of a tracked process's end. */
static void merge_tracked(struct tracked_proc *p, const struct sampler_exit_report *r, double t)
{
	if (!isnan(r->end))
		p->ev_end = r->end;
	if (r->what == SAMPLER_EXIT_PROCESS)
		p->ev_last = r->pid;
	if (r->hwm >= 0) {
		p->ev_hwm = r->hwm;
		p->ev_hwm_t = t;
	}
	int rank = (int)r->what + 1;
	if (r->status >= 0 && rank >= p->ev_rank) {
		p->ev_status = r->status;
		p->ev_rank = rank;
		p->ev_source = r->source;
	}
	if (r->utime_us >= 0)
		p->ev_utime_us = (p->ev_utime_us > 0 ? p->ev_utime_us : 0) + r->utime_us;
	if (r->stime_us >= 0)
		p->ev_stime_us = (p->ev_stime_us > 0 ? p->ev_stime_us : 0) + r->stime_us;
}

static void merge_pending(struct news_pending *e, const struct sampler_exit_report *r, double t)
{
	if (!isnan(r->end) && r->pid == e->tgid)
		e->end = r->end;
	if (r->what == SAMPLER_EXIT_PROCESS) {
		e->last = r->pid;
		e->ended_by = t;
		e->ended_after = r->end_lo;
		if (!isnan(r->start))
			e->life = t - r->start;
	}
	if (r->ppid > 0)
		e->ppid = r->ppid;
	if (isnan(e->start))
		e->start = r->start;
	bool leader = r->pid == e->tgid;
	if (r->comm[0] && (!e->comm[0] || (leader && !e->comm_leader))) {
		memcpy(e->comm, r->comm, sizeof(e->comm));
		e->comm[sizeof(e->comm) - 1] = '\0';
		e->comm_leader = leader;
	}
	int rank = (int)r->what + 1;
	if (r->status >= 0 && rank >= e->rank) {
		e->status = r->status;
		e->rank = rank;
	}
	e->source = r->source;
	if (r->hwm > e->hwm)
		e->hwm = r->hwm;
	if (r->utime_us >= 0)
		e->utime_us = (e->utime_us > 0 ? e->utime_us : 0) + r->utime_us;
	if (r->stime_us >= 0)
		e->stime_us = (e->stime_us > 0 ? e->stime_us : 0) + r->stime_us;
}

void sampler_exit_report(struct sampler *s, const struct sampler_exit_report *r, double t)
{
	pid_t tgid = r->tgid > 0 ? r->tgid : r->pid;
	if (tgid <= 0 || tgid == s->opt.exclude)
		return;
	struct tracked_proc *p = sampler_find(s, tgid);
	if (p) {
		/* While its files still read (a zombie), it is that process for sure. */
		struct proc_stat st;
		bool alive = proc_handle_stat(&p->h, &st) && st.starttime == p->starttime;
		if (!alive && !same_start(sampler_start_secs(s, p->starttime), r->start))
			return; /* another process with its pid: the tracked one is gone unseen */
		merge_tracked(p, r, t);
		/* memline's children end when the recorder reaps them, with their rusage; in a
		 * sample, the sample ends it (the sources are read for a process it found ended) */
		if (r->what == SAMPLER_EXIT_PROCESS && !memline_child(s, r->ppid) &&
		    !memline_child(s, p->ppid) && !s->in_sample) {
			sampler_emit_exit(s, p, t, 0, false);
			sampler_untrack(s, p);
		}
		return;
	}
	if (sampler_news_ended(s, tgid, r->start)) {
		/* a late report of a process whose end was written: when it ended, at most */
		if (!isnan(r->end) && r->pid == tgid)
			narrow_span(s, tgid, r->end);
		return;
	}
	struct sampler_news *n = news(s);
	int i = n ? pending_find(n, tgid) : -1;
	if (n && i >= 0 && !same_start(n->p[i].start, r->start))
		n->p[i].dead = true, i = -1; /* an older process with that pid, never completed */
	if (n && i < 0)
		i = pending_add(s, n, tgid, t);
	if (i < 0) {
		sampler_events_lost(s);
		return;
	}
	struct news_pending *e = &n->p[i];
	merge_pending(e, r, t);
	bool ends = r->what == SAMPLER_EXIT_PROCESS ||
		    (r->what == SAMPLER_EXIT_LEADER && !(s->ev_flags & SAMPLER_EV_PROCESS_ENDS));
	if (!ends || e->complete)
		return;
	e->complete = true;
	pending_chain_ppid(n, i);
	/* memline's own children are written when it reaps them (sampler_news_reaped) */
	if (!memline_child(s, e->ppid) && news_in_tree(s, e->ppid))
		join_children(s, e->ppid, t);
}

/* ---- for sampler.c ---- */

void sampler_news_joined(struct sampler *s, struct tracked_proc *p, double t)
{
	struct sampler_news *n = s->news;
	if (!n)
		return;
	int i = pending_find(n, p->pid);
	if (i >= 0 && same_start(n->p[i].start, sampler_start_secs(s, p->starttime))) {
		/* threads of it that ended before it was tracked; or its end, when it was tracked
		 * as a zombie: the sample that finds it so writes it with this */
		struct news_pending *e = &n->p[i];
		e->dead = true;
		if (e->hwm >= 0) {
			p->ev_hwm = e->hwm;
			p->ev_hwm_t = t;
		}
		p->ev_status = e->status;
		p->ev_rank = e->rank;
		p->ev_source = e->source;
		p->ev_utime_us = e->utime_us;
		p->ev_stime_us = e->stime_us;
	}
	join_children(s, p->pid, t);
}

void sampler_news_exit(struct sampler *s, struct tracked_proc *p, struct exit_info *e)
{
	if (e->how == EXIT_HOW_UNKNOWN && p->ev_status >= 0) {
		exit_info_from_wait_status(e, p->ev_status);
		e->source = p->ev_source;
	} else if (e->source == EXIT_SRC_ZOMBIE && p->ev_rank == SAMPLER_EXIT_PROCESS + 1) {
		/* its zombie, and the record of its last thread's end, which says more */
		e->source = p->ev_source;
	}
	/* A high-water mark read after the last reset (the status collector's) is this
	 * interval's. */
	if (p->ev_hwm >= 0 && p->ev_hwm_t >= p->slow_t) {
		e->hwm = e->peak = p->ev_hwm;
		p->exit_peak = p->ev_hwm; /* for the tree collectors, as a reap's would be */
		if (s->opt.peak_reset)
			sampler_tracked_span(s, p, e->t, p->ev_hwm);
	}
	long long ut = us_ms(p->ev_utime_us), st = us_ms(p->ev_stime_us);
	if (ut > e->utime)
		e->utime = p->v.v[PF_UTIME] = ut;
	if (st > e->stime)
		e->stime = p->v.v[PF_STIME] = st;
	ended_add(s, p->pid, sampler_start_secs(s, p->starttime), e->t);
}

struct sampler_event *sampler_news_reaped(struct sampler *s, pid_t pid, int status,
					  const struct rusage *ru, double t, bool *written)
{
	struct sampler_news *n = s->news;
	int i = n ? pending_find(n, pid) : -1;
	bool zombie = s->zombie_ok && s->zombie.pid == pid;
	s->zombie_ok = false;
	*written = false;
	if (zombie && s->zombie.exit_signal == -1)
		return NULL; /* a thread */
	if (sampler_news_ended(s, pid, zombie ? sampler_start_secs(s, s->zombie.starttime) : NAN)) {
		/* its end is written (a zombie its parent left to memline, or that memline, its
		 * tracer, reaped once already): nothing more */
		*written = true;
		return NULL;
	}
	if (i < 0 && !zombie)
		return NULL;
	struct news_pending *e = i >= 0 ? &n->p[i] : NULL;
	const struct proc_stat *z = zombie ? &s->zombie : NULL;
	double lo = -INFINITY, hi = t;
	bool narrows = false;
	if (e)
		pending_span(e, &lo, &hi, &narrows);
	if (z && isinf(lo))
		lo = sampler_start_secs(s, z->starttime); /* cut to a tick: earlier, never later */
	struct seen w = {
		.lo = lo,
		.hi = hi < t ? hi : t,
		.narrows = narrows,
		.pid = pid,
		.ppid = e && e->ppid > 0 ? e->ppid
			: z		 ? z->ppid
					 : s->opt.self,
		.start = e && !isnan(e->start) ? e->start
			 : z		       ? sampler_start_secs(s, z->starttime)
					       : NAN,
		.comm = e && e->comm[0] ? e->comm
			: z		? z->comm
					: NULL,
		.known = true,
		.status = status,
		.hwm = e ? e->hwm : -1,
		.maxrss = ru ? ru->ru_maxrss : -1,
		/* its own only when it reaped no child (its zombie's cminflt), see sampler.h */
		.own_maxrss = ru && z && z->cminflt == 0 ? ru->ru_maxrss : -1,
		.utime = z   ? sampler_ticks_ms(s, z->utime)
			 : e ? us_ms(e->utime_us)
			     : -1,
		.stime = z   ? sampler_ticks_ms(s, z->stime)
			 : e ? us_ms(e->stime_us)
			     : -1,
		.source = EXIT_SRC_WAIT4};
	if (e)
		e->dead = true;
	long k = emit_seen(s, &w, t);
	join_children(s, pid, t);
	return k >= 0 ? &s->events[k] : NULL;
}

void sampler_news_gone(struct sampler *s, pid_t pid, long n)
{
	bool covered = s->ev_flags & (SAMPLER_EV_FORKS | SAMPLER_EV_EXITS);
	if (covered && !s->ev_lost)
		return;
	if (n == 1 && pid > 0 && sampler_news_ended(s, pid, NAN))
		return; /* its end is written: seen, not missed */
	s->gone += n;
}

long sampler_missed(const struct sampler *s)
{
	bool covered = s->ev_flags & (SAMPLER_EV_FORKS | SAMPLER_EV_EXITS);
	return covered && !s->ev_ever_lost ? -1 : s->gone;
}

void sampler_news_expire(struct sampler *s, double t)
{
	/* what came before the sample before this one had a whole sample to find its parent */
	double before = s->prev_sample_t;
	s->prev_sample_t = t;
	s->ev_lost = false;
	struct sampler_news *n = s->news;
	if (!n || t - n->expire_t < EXPIRE_EVERY)
		return;
	n->expire_t = t;
	if (before > t - NEWS_MIN_AGE)
		before = t - NEWS_MIN_AGE;
	for (size_t i = 0; i < n->np; i++)
		if (!n->p[i].dead && n->p[i].t < before)
			n->p[i].dead = true;
	size_t dead = 0;
	for (size_t i = 0; i < n->np; i++)
		dead += n->p[i].dead;
	if (dead)
		pending_rebuild(n);
	size_t k = 0;
	for (size_t i = 0; i < n->ne; i++)
		if (n->e[i].t >= before - NEWS_MIN_AGE)
			n->e[k++] = n->e[i];
	if (k != n->ne) {
		n->ne = k;
		ended_rebuild(n);
	}
}
