/*
 * sampler: the tree of processes and their per-sample values.
 *
 * Discovery. Linux allocates pids cyclically, and /proc/loadavg's fifth field is the last pid
 * allocated. When it has not moved since the previous sample, no process (or thread) was
 * created, so there is nothing to look for. When it moved, only the pids allocated in between
 * can be new: a few are probed directly (/proc/PID/stat, skipping threads, whose exit_signal is
 * -1); many are found by listing /proc. A candidate joins the tree when its parent is tracked
 * (or is memline, the child subreaper that inherits orphans); this repeats until nothing more
 * joins, so a new child of a new child is found in one pass whatever the pid order. Tracked
 * processes are found by pid in a hash table, so discovery costs O(candidates), not
 * O(candidates x tracked).
 *
 * Reading. Every tracked process is read by the collectors (record/collector.h) in the order of
 * the table below: stat, then those that read less often (each decides when it is due). See
 * sampler.h for the cost model and docs/log-format.md for what a peak means.
 *
 * Sharing. A process that joins with its parent's program (forked, not exec'd) is of its
 * parent's family: their pages are shared copy-on-write. When it shares its parent's address
 * space itself (vfork, CLONE_VM: kcmp tells, once, as it joins), it is vm_of that process and
 * counts nothing until it execs. A fork, an exec or an exit changes how the family shares its
 * pages: its members are marked share_changed for the PSS readers.
 */
#include "record/sampler.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "record/collector.h"

/* Up to this many new pids are probed one by one; more, and /proc is listed instead. */
#define PROBE_MAX 64

/* The collectors, in the order they read a process: stat first (it says whether it is there). */
static const struct collector *const collectors[] = {
	&collect_stat, &collect_vm,   &collect_status,	&collect_smaps,
	&collect_io,   &collect_heap, &collect_threads, /* heap before threads: they write rows */
};
_Static_assert(sizeof(collectors) / sizeof(collectors[0]) <= SAMPLER_MAX_COLLECTORS,
	       "more collectors than struct sampler has room for");

/*
 * The tree's collectors, after every process was read, in this order: each may replace what
 * one before it said of the job's memory (a better method comes later).
 */
static const struct tree_collector *const tree_collectors[] = {
	&collect_heap_tree, /* --heap: the tree's heap (no job method) */
	&collect_job_rss,   /* the RSS sum: always */
	&collect_job_pss,   /* the PSS sum, where the job has no cgroup */
	&collect_cgroup,    /* the job's cgroup, when it has one: the best method, last */
};
_Static_assert(sizeof(tree_collectors) / sizeof(tree_collectors[0]) <= SAMPLER_MAX_COLLECTORS,
	       "more tree collectors than struct sampler has room for");

static void *grow(void *p, size_t *alloc, size_t need, size_t size, bool *oom)
{
	if (need <= *alloc)
		return p;
	size_t n = *alloc ? *alloc * 2 : 16;
	while (n < need)
		n *= 2;
	void *q = realloc(p, n * size);
	if (!q) {
		*oom = true;
		return NULL;
	}
	*alloc = n;
	return q;
}

void sampler_init(struct sampler *s, struct procfs *fs, const struct sampler_options *opt)
{
	memset(s, 0, sizeof(*s));
	s->fs = fs;
	s->opt = *opt;
	s->last_pid = procfs_last_pid(fs);
	strbuf_init(&s->scratch);
	s->heap_dir_fd = -1;
	if (opt->heap != HEAP_OFF && opt->heap_dir)
		s->heap_dir_fd = open(opt->heap_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat self;
	if (stat("/proc/self/exe", &self) == 0) {
		s->self_dev = self.st_dev;
		s->self_ino = self.st_ino;
	}
	for (size_t i = 0; i < sizeof(collectors) / sizeof(collectors[0]); i++)
		if (!collectors[i]->wanted || collectors[i]->wanted(&s->opt))
			s->collectors[s->n_collectors++] = collectors[i];
	s->method = MEM_RSS;
	for (size_t i = 0; i < sizeof(tree_collectors) / sizeof(tree_collectors[0]); i++)
		if (!tree_collectors[i]->init || tree_collectors[i]->init(s))
			s->tree_collectors[s->n_tree_collectors++] = tree_collectors[i];
}

static void event_release(struct sampler_event *e)
{
	free(e->proc.cmdline);
	e->proc.cmdline = NULL;
}

void sampler_clear_events(struct sampler *s)
{
	for (size_t i = 0; i < s->n_events; i++)
		event_release(&s->events[i]);
	s->n_events = 0;
}

void sampler_release(struct sampler *s)
{
	for (size_t i = 0; i < s->n_tree_collectors; i++)
		if (s->tree_collectors[i]->release)
			s->tree_collectors[i]->release(s);
	for (size_t i = 0; i < s->n; i++) {
		proc_handle_close(&s->procs[i]->h);
		threads_free(s, s->procs[i]);
		free(s->procs[i]);
	}
	free(s->procs);
	free(s->sample.threads);
	if (s->heap_dir_fd >= 0)
		close(s->heap_dir_fd);
	free(s->slots);
	sampler_clear_events(s);
	sampler_news_free(s);
	free(s->events);
	free(s->sample.procs);
	strbuf_release(&s->scratch);
	memset(s, 0, sizeof(*s));
}

static struct sampler_event *new_event(struct sampler *s, enum sampler_event_type type)
{
	struct sampler_event *ev =
		grow(s->events, &s->alloc_events, s->n_events + 1, sizeof(*ev), &s->oom);
	if (!ev)
		return NULL;
	s->events = ev;
	ev = &s->events[s->n_events++];
	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	return ev;
}

/* ---- the pid table ---- */

static size_t slot_of(pid_t pid, size_t cap)
{
	return ((size_t)(unsigned)pid * 2654435761u) & (cap - 1);
}

/* The tracked process with pid, or NULL. O(1). */
static struct tracked_proc *find(const struct sampler *s, pid_t pid)
{
	if (!s->slot_cap)
		return NULL;
	for (size_t h = slot_of(pid, s->slot_cap);; h = (h + 1) & (s->slot_cap - 1)) {
		struct tracked_proc *p = s->slots[h];
		if (!p || p->pid == pid)
			return p;
	}
}

struct tracked_proc *sampler_find(const struct sampler *s, pid_t pid)
{
	return find(s, pid);
}

static void slot_put(struct tracked_proc **slots, size_t cap, struct tracked_proc *p)
{
	size_t h = slot_of(p->pid, cap);
	while (slots[h])
		h = (h + 1) & (cap - 1);
	slots[h] = p;
}

/*
 * Enters p (whose pid is not in the table) into the table, which it keeps at most half full.
 * False when the table is full and cannot grow.
 */
static bool slot_add(struct sampler *s, struct tracked_proc *p)
{
	if ((s->slot_used + 1) * 2 > s->slot_cap) {
		size_t cap = s->slot_cap ? s->slot_cap * 2 : 64;
		struct tracked_proc **slots = calloc(cap, sizeof(*slots));
		if (slots) {
			for (size_t i = 0; i < s->slot_cap; i++)
				if (s->slots[i])
					slot_put(slots, cap, s->slots[i]);
			free(s->slots);
			s->slots = slots;
			s->slot_cap = cap;
		} else if (s->slot_used + 1 >= s->slot_cap) {
			return false;
		}
	}
	slot_put(s->slots, s->slot_cap, p);
	s->slot_used++;
	return true;
}

/* Takes p out of the table; the entries after it move back so that no probe chain breaks. */
static void slot_remove(struct sampler *s, const struct tracked_proc *p)
{
	size_t mask = s->slot_cap - 1, i = slot_of(p->pid, s->slot_cap);
	while (s->slots[i] != p)
		i = (i + 1) & mask;
	s->slots[i] = NULL;
	for (size_t j = (i + 1) & mask; s->slots[j]; j = (j + 1) & mask) {
		size_t home = slot_of(s->slots[j]->pid, s->slot_cap);
		/* It stays when its home lies cyclically in (i, j]: its chain does not cross i. */
		bool stays = i < j ? home > i && home <= j : home > i || home <= j;
		if (!stays) {
			s->slots[i] = s->slots[j];
			s->slots[j] = NULL;
			i = j;
		}
	}
	s->slot_used--;
}

size_t sampler_count(const struct sampler *s)
{
	return s->n;
}

bool sampler_tracks(const struct sampler *s, pid_t pid)
{
	return find(s, pid) != NULL;
}

size_t sampler_pids(const struct sampler *s, pid_t *out, size_t max)
{
	size_t n = s->n < max ? s->n : max;
	for (size_t i = 0; i < n; i++)
		out[i] = s->procs[i]->pid;
	return n;
}

static bool in_tree(const struct sampler *s, pid_t ppid)
{
	return (s->opt.self > 0 && ppid == s->opt.self) || find(s, ppid);
}

double sampler_start_secs(const struct sampler *s, unsigned long long starttime)
{
	return (double)starttime / (double)s->fs->clk_tck - s->opt.t0;
}

/* Fills a proc_info event from the process's current command line. */
static void emit_proc_info(struct sampler *s, enum sampler_event_type type, struct tracked_proc *p,
			   double t)
{
	struct sampler_event *ev = new_event(s, type);
	if (!ev)
		return;
	ev->proc.pid = p->pid;
	ev->proc.ppid = p->ppid;
	ev->proc.t = t;
	ev->proc.start = sampler_start_secs(s, p->starttime);
	memcpy(ev->proc.comm, p->comm, sizeof(p->comm));
	if (proc_handle_cmdline(&p->h, &s->scratch) && s->scratch.len) {
		ev->proc.cmdline = malloc(s->scratch.len);
		if (ev->proc.cmdline) {
			memcpy(ev->proc.cmdline, s->scratch.buf, s->scratch.len);
			ev->proc.cmdline_len = s->scratch.len;
		}
	}
}

/* The members of p's family, or of the process that shares p's shared memory, changed. */
static void sharing_changed(struct sampler *s, const struct tracked_proc *p)
{
	if (p->v.v[PF_SHMEM] > 0)
		s->changed_shmem = true;
	for (size_t i = 0; i < s->n_changed; i++)
		if (s->changed[i] == p->family)
			return;
	if (s->n_changed < SAMPLER_MAX_CHANGED)
		s->changed[s->n_changed++] = p->family;
	else
		s->changed_all = true;
}

/* Marks the processes whose sharing changed (sharing_changed) as share_changed. */
static void mark_sharing(struct sampler *s)
{
	if (!s->n_changed && !s->changed_all && !s->changed_shmem)
		return;
	for (size_t i = 0; i < s->n; i++) {
		struct tracked_proc *p = s->procs[i];
		bool mark = s->changed_all || (s->changed_shmem && p->v.v[PF_SHMEM] > 0);
		for (size_t k = 0; !mark && k < s->n_changed; k++)
			mark = p->family == s->changed[k];
		if (mark)
			p->share_changed = true;
	}
	s->n_changed = 0;
	s->changed_all = s->changed_shmem = false;
}

/*
 * p, a family's root, leaves the family (it exits or execs): another member, if any, becomes
 * the root, so that a family is always named by a tracked process.
 */
static void rehome(struct sampler *s, struct tracked_proc *p)
{
	if (p->family != p->pid)
		return;
	pid_t root = 0;
	for (size_t i = 0; i < s->n; i++) {
		struct tracked_proc *q = s->procs[i];
		if (q == p || q->family != p->pid)
			continue;
		if (!root)
			root = q->pid;
		q->family = root;
	}
}

/* Whether p and q run the same program image (a fork that did not exec), as far as stat shows. */
static bool same_image(const struct tracked_proc *p, const struct tracked_proc *q)
{
	return p->startcode > 1 && p->startcode == q->startcode && p->argstart == q->argstart;
}

/* A process joined: its family, and whether it shares its parent's address space. */
static void join_family(struct sampler *s, struct tracked_proc *p)
{
	struct tracked_proc *parent = find(s, p->ppid);
	p->family = p->pid;
	if (!parent || parent == p || !same_image(p, parent))
		return;
	p->forked = true;
	p->family = parent->family;
	vm_joined(s, p, parent);
	if (p->vm_of < 0)
		sharing_changed(s, p); /* a fork: its family's pages are split once more */
}

static void memory_gone(struct sampler *s, struct tracked_proc *p, bool exec)
{
	for (size_t i = 0; i < s->n_tree_collectors; i++)
		if (s->tree_collectors[i]->left)
			s->tree_collectors[i]->left(s, p, exec);
	if (p->vm_of < 0 && (p->family != p->pid || p->v.v[PF_SHMEM] > 0))
		sharing_changed(s, p);
	rehome(s, p);
}

/* Takes ownership of an open handle whose stat was read; adds the process to the tree. */
static struct tracked_proc *track(struct sampler *s, struct proc_handle *h,
				  const struct proc_stat *st, double t)
{
	struct tracked_proc **procs = grow(s->procs, &s->alloc, s->n + 1, sizeof(*procs), &s->oom);
	struct tracked_proc *p = procs ? calloc(1, sizeof(*p)) : NULL;
	if (procs)
		s->procs = procs;
	if (p)
		p->pid = st->pid;
	if (!p || !slot_add(s, p)) {
		s->oom = true;
		free(p);
		proc_handle_close(h);
		return NULL;
	}
	p->idx = s->n;
	s->procs[s->n++] = p;
	p->h = *h;
	p->ppid = st->ppid;
	p->starttime = st->starttime;
	memcpy(p->comm, st->comm, sizeof(p->comm));
	p->startcode = st->startcode;
	p->argstart = st->argstart;
	p->slow_t = -1;
	p->io_t = -1;
	p->rss = -1;
	p->hwm = -1;
	p->ev_status = -1;
	p->ev_hwm = -1;
	p->ev_utime_us = p->ev_stime_us = -1;
	p->born = p->ev_end = NAN;
	p->vm_of = -1;
	p->maxrss_base = -1;
	p->exit_peak = -1;
	p->pss.t = p->pss.read_t = p->pss.fam_t = -1;
	p->pss.est = p->pss.est_rss = p->pss.private_kib = -1;
	for (int i = 0; i < PROC_NFIELDS; i++)
		p->v.v[i] = -1;
	join_family(s, p);
	emit_proc_info(s, SAMPLER_PROC, p, t);
	sampler_news_joined(s, p, t);
	return p;
}

bool sampler_add(struct sampler *s, pid_t pid, double t)
{
	if (find(s, pid))
		return true;
	struct proc_handle h;
	struct proc_stat st;
	if (!proc_handle_open(&h, s->fs, pid))
		return false;
	if (!proc_handle_stat(&h, &st)) {
		proc_handle_close(&h);
		return false;
	}
	return track(s, &h, &st, t) != NULL;
}

/* A process that may be new: its stat was read, its handle is not open yet. */
struct candidate {
	struct proc_stat st;
	bool taken;
};

struct candidates {
	struct candidate *c;
	size_t n, alloc;
	const struct procfs *fs;
	struct sampler *s;
	int lo, hi;  /* accept pids in (lo, hi], or all when lo < 0 */
	long listed; /* pids in the range that exist(ed) */
	bool oom;
};

static bool in_range(const struct candidates *cs, pid_t pid)
{
	if (cs->lo < 0)
		return true;
	if (cs->hi >= cs->lo)
		return pid > cs->lo && pid <= cs->hi;
	return pid > cs->lo || pid <= cs->hi; /* the pid counter wrapped */
}

static void consider(pid_t pid, void *data)
{
	struct candidates *cs = data;
	if (!in_range(cs, pid))
		return;
	struct candidate *c = grow(cs->c, &cs->alloc, cs->n + 1, sizeof(*c), &cs->oom);
	if (!c)
		return;
	cs->c = c;
	c = &cs->c[cs->n];
	cs->listed++;
	if (!procfs_pid_stat(cs->fs, pid, &c->st)) {
		/* gone before it could be read: maybe a process of the tree that was missed */
		if (cs->lo >= 0)
			sampler_news_gone(cs->s, pid, 1);
		return;
	}
	/* A thread (not a thread group leader) has exit_signal -1: it is not a process. */
	if (c->st.exit_signal == -1 || c->st.pid != pid)
		return;
	c->taken = false;
	cs->n++;
}

/* Adds every candidate whose parent is in the tree, until nothing more joins. */
static void adopt(struct sampler *s, struct candidates *cs, double t)
{
	bool more = true;
	while (more) {
		more = false;
		for (size_t i = 0; i < cs->n; i++) {
			struct candidate *c = &cs->c[i];
			if (c->taken || find(s, c->st.pid) || !in_tree(s, c->st.ppid) ||
			    c->st.pid == s->opt.exclude)
				continue;
			/* one whose end was written already (a kernel event told it): its zombie,
			 * or it is still in its exit */
			if (sampler_news_ended(s, c->st.pid,
					       sampler_start_secs(s, c->st.starttime))) {
				c->taken = true;
				continue;
			}
			c->taken = true;
			/* Open it for keeps, and make sure it is still the same process. */
			struct proc_handle h;
			struct proc_stat st;
			if (!proc_handle_open(&h, s->fs, c->st.pid))
				continue;
			if (!proc_handle_stat(&h, &st) || st.starttime != c->st.starttime) {
				proc_handle_close(&h);
				continue;
			}
			track(s, &h, &st, t);
			more = true;
		}
	}
	free(cs->c);
	if (cs->oom)
		s->oom = true;
}

static void discover(struct sampler *s, double t)
{
	int last = procfs_last_pid(s->fs);
	if (last < 0 || s->last_pid < 0) {
		/* No /proc/loadavg to tell what is new: list everything. */
		struct candidates cs = {.fs = s->fs, .s = s, .lo = -1};
		procfs_for_each_pid(s->fs, consider, &cs);
		adopt(s, &cs, t);
		s->last_pid = last;
		return;
	}
	if (last == s->last_pid)
		return;
	struct candidates cs = {.fs = s->fs, .s = s, .lo = s->last_pid, .hi = last};
	long count =
		last > s->last_pid ? last - s->last_pid : (long)s->fs->pid_max - s->last_pid + last;
	s->last_pid = last;
	if (count <= PROBE_MAX) {
		for (long i = 1; i <= count; i++) {
			long pid = cs.lo + i;
			if (pid >= s->fs->pid_max)
				pid -= s->fs->pid_max;
			if (pid > 0 && !find(s, (pid_t)pid))
				consider((pid_t)pid, &cs);
		}
	} else {
		procfs_for_each_pid(s->fs, consider, &cs);
		/* the pids of the range /proc does not list: gone, or threads */
		if (count > cs.listed)
			sampler_news_gone(s, 0, count - cs.listed);
	}
	adopt(s, &cs, t);
}

bool sampler_add_tree(struct sampler *s, pid_t pid, double t)
{
	if (!sampler_add(s, pid, t))
		return false;
	struct candidates cs = {.fs = s->fs, .s = s, .lo = -1};
	procfs_for_each_pid(s->fs, consider, &cs);
	adopt(s, &cs, t);
	return true;
}

/* Removes p from the tree; its CPU time stays in the tree's totals. */
static void untrack(struct sampler *s, size_t i)
{
	struct tracked_proc *p = s->procs[i];
	memory_gone(s, p, false);
	if (p->v.v[PF_UTIME] > 0)
		s->exited_utime += p->v.v[PF_UTIME];
	if (p->v.v[PF_STIME] > 0)
		s->exited_stime += p->v.v[PF_STIME];
	proc_handle_close(&p->h);
	slot_remove(s, p);
	threads_free(s, p);
	free(p);
	s->procs[i] = s->procs[--s->n];
	if (i < s->n)
		s->procs[i]->idx = i;
}

void sampler_emit_exit(struct sampler *s, struct tracked_proc *p, double t, int wait_status,
		       bool known)
{
	/* what the kernel told of it and is not read yet: its exit record came before its end */
	if (s->in_sample && s->ev_flags && s->opt.news)
		s->opt.news(s->opt.news_data);
	struct sampler_event *ev = new_event(s, SAMPLER_EXIT);
	if (!ev)
		return;
	struct exit_info *e = &ev->exit;
	e->pid = p->pid;
	e->t = t;
	if (known) {
		exit_info_from_wait_status(e, wait_status);
	} else {
		e->how = EXIT_HOW_UNKNOWN;
		e->code = e->signal = -1;
	}
	e->peak = e->hwm = e->maxrss = e->maxrss_base = -1;
	e->utime = p->v.v[PF_UTIME];
	e->stime = p->v.v[PF_STIME];
	e->source = known ? EXIT_SRC_ZOMBIE : EXIT_SRC_VANISHED;
	sampler_news_exit(s, p, e); /* what kernel events told of it: status, peak, CPU */
}

long long sampler_ticks_ms(const struct sampler *s, unsigned long long ticks)
{
	return (long long)(ticks * 1000ULL / (unsigned long long)s->fs->clk_tck);
}

void sampler_emit_exec(struct sampler *s, struct tracked_proc *p, double t)
{
	p->ev_hwm = -1; /* of the image it left */
	emit_proc_info(s, SAMPLER_EXEC, p, t);
	memory_gone(s, p, true);
	p->family = p->pid;
	p->forked = false;
}

/*
 * Reads one process with every collector. Returns false when it is gone (its exit event is
 * emitted).
 */
static bool read_proc(struct sampler *s, struct tracked_proc *p, double t)
{
	enum collect_result r = COLLECT_OK;
	for (size_t i = 0; i < s->n_collectors && r == COLLECT_OK; i++)
		r = s->collectors[i]->collect(s, p, t);
	if (r == COLLECT_GONE)
		return false;
	if (p->h.denied && !s->denied_pid) {
		/* the first process the kernel refused files of: said once, in the log */
		s->denied_pid = p->pid;
		s->denied = p->h.denied;
	}
	return true;
}

static void add_total(long long *total, long long v)
{
	if (v > 0)
		*total += v;
}

const struct sample *sampler_sample(struct sampler *s, double t)
{
	discover(s, t);
	mark_sharing(s);
	struct sample *out = &s->sample;
	out->t = t;
	out->n = 0;
	out->n_threads = 0;
	struct proc_values *procs =
		grow(out->procs, &s->alloc_sample, s->n ? s->n : 1, sizeof(*procs), &s->oom);
	if (procs)
		out->procs = procs;
	struct tree_values *tree = &out->tree;
	memset(tree, 0, sizeof(*tree));
	tree->v[TF_PSS] = s->opt.pss ? 0 : -1;
	s->in_sample = true;
	for (size_t i = 0; i < s->n;) {
		struct tracked_proc *p = s->procs[i];
		if (!read_proc(s, p, t)) {
			untrack(s, i);
			continue;
		}
		i++;
		if (p->v.state == 'Z' || !procs || out->n >= s->alloc_sample)
			continue;
		const long long *v = p->v.v;
		out->procs[out->n++] = p->v;
		tree->v[TF_NPROC]++;
		add_total(&tree->v[TF_RSS], v[PF_RSS]);
		add_total(&tree->v[TF_ANON], v[PF_ANON]);
		add_total(&tree->v[TF_FILE], v[PF_FILE]);
		add_total(&tree->v[TF_SHMEM], v[PF_SHMEM]);
		if (!sampler_young_span(s, p, t, v[PF_PEAK]))
			add_total(&tree->v[TF_PEAK], v[PF_PEAK]);
		add_total(&tree->v[TF_VMS], v[PF_VMS]);
		add_total(&tree->v[TF_SWAP], v[PF_SWAP]);
		if (s->opt.pss)
			add_total(&tree->v[TF_PSS], v[PF_PSS]);
		add_total(&tree->v[TF_UTIME], v[PF_UTIME]);
		add_total(&tree->v[TF_STIME], v[PF_STIME]);
	}
	s->in_sample = false;
	/* those that left since the last sample: together only where their lives meet */
	tree->v[TF_PEAK] += s->exited_peak + sampler_exited_peak_take(s);
	tree->v[TF_UTIME] += s->exited_utime;
	tree->v[TF_STIME] += s->exited_stime;
	s->exited_peak = 0;
	sampler_news_expire(s, t);
	for (int f = TF_JOB; f <= TF_CG_SWAP; f++)
		tree->v[f] = -1;
	tree->v[TF_HEAP] = -1;
	mark_sharing(s); /* the exits and execs of this sample */
	for (size_t i = 0; i < s->n_tree_collectors; i++)
		s->tree_collectors[i]->collect(s, out, t);
	/* The machine's MemAvailable changes slowly and costs a /proc/meminfo: 10 times a second.
	 */
	if (t - s->meminfo_t >= 0.1 || s->meminfo_t == 0) {
		long long total;
		procfs_meminfo(s->fs, &total, &s->avail);
		s->meminfo_t = t;
	}
	out->avail = s->avail;
	return out;
}

void sampler_zombie(struct sampler *s, pid_t pid)
{
	struct tracked_proc *p = find(s, pid);
	struct proc_stat st;
	if (!p) {
		/* never seen: what its zombie says makes its record (sampler_reaped) */
		s->zombie_ok = procfs_pid_stat(s->fs, pid, &s->zombie) && s->zombie.pid == pid;
		return;
	}
	if (!proc_handle_stat(&p->h, &st))
		return;
	p->ppid = st.ppid;
	p->waited_for_child = st.cminflt > 0;
	p->v.v[PF_UTIME] = sampler_ticks_ms(s, st.utime);
	p->v.v[PF_STIME] = sampler_ticks_ms(s, st.stime);
}

void sampler_set_maxrss_base(struct sampler *s, pid_t pid, long long base_kib)
{
	struct tracked_proc *p = find(s, pid);
	if (p)
		p->maxrss_base = base_kib;
}

/*
 * Whether wait4's ru_maxrss of p is its own last interval's peak. It covers the children p
 * waited for; the address space it shares with another (vm_of); and the image it had before its
 * last exec (the kernel keeps that image's high-water mark apart, and reports the larger):
 * known to be none when p did not exec since its fork, bounded by maxrss_base for the command.
 */
static bool own_maxrss(const struct tracked_proc *p, long long maxrss)
{
	if (p->waited_for_child || p->vm_of > 0)
		return false;
	if (p->maxrss_base >= 0)
		return maxrss > p->maxrss_base;
	return p->forked;
}

struct sampler_event *sampler_reaped(struct sampler *s, pid_t pid, int status,
				     const struct rusage *ru, double t)
{
	struct tracked_proc *p = find(s, pid);
	bool own = ru && p && own_maxrss(p, ru->ru_maxrss);
	long long maxrss = own ? ru->ru_maxrss : -1;
	if (!p) {
		/* It came and went between two samples: a record from what is known of it. */
		bool written;
		struct sampler_event *ev = sampler_news_reaped(s, pid, status, ru, t, &written);
		if (!ev && !written && ru) {
			/* nothing known of it but its rusage: its CPU still counts */
			s->exited_utime +=
				ru->ru_utime.tv_sec * 1000LL + ru->ru_utime.tv_usec / 1000;
			s->exited_stime +=
				ru->ru_stime.tv_sec * 1000LL + ru->ru_stime.tv_usec / 1000;
		}
		return ev;
	}
	sampler_emit_exit(s, p, t, status, true);
	struct sampler_event *ev = s->n_events ? &s->events[s->n_events - 1] : NULL;
	struct exit_info *e = ev ? &ev->exit : NULL;
	if (e && ev->type == SAMPLER_EXIT && e->pid == pid) {
		/* The high-water mark of its own address space when a kernel event gave it; else
		 * ru_maxrss, when it is its own. */
		if (e->hwm < 0) {
			e->peak = maxrss;
			if (s->opt.peak_reset && maxrss > 0)
				sampler_tracked_span(s, p, t, maxrss);
		}
		e->maxrss = ru ? ru->ru_maxrss : -1;
		e->maxrss_base = p->maxrss_base;
		/* memline reaps another's child only as its tracer (--trace) */
		e->source = s->opt.self > 0 && p->ppid != s->opt.self ? EXIT_SRC_PTRACE
								      : EXIT_SRC_WAIT4;
	}
	p->exit_peak = e && e->pid == pid && e->hwm >= 0 ? e->hwm : maxrss;
	untrack(s, p->idx);
	return e ? ev : NULL;
}

struct sampler_event *sampler_events(struct sampler *s, size_t *n)
{
	*n = s->n_events;
	return s->events;
}

/* ---- for the sampler's event side (sampler-events.c) ---- */

bool sampler_in_tree(const struct sampler *s, pid_t ppid)
{
	return in_tree(s, ppid);
}

struct tracked_proc *sampler_track(struct sampler *s, struct proc_handle *h,
				   const struct proc_stat *st, double t)
{
	return track(s, h, st, t);
}

void sampler_untrack(struct sampler *s, struct tracked_proc *p)
{
	untrack(s, p->idx);
}

struct sampler_event *sampler_new_event(struct sampler *s, enum sampler_event_type type)
{
	return new_event(s, type);
}
