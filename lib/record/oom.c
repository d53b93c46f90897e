/*
 * oom: OOM-kill detection from the kernel's counters; see oom.h for the rule. Reading a
 * process's cgroup costs one small read when it joins the tree or execs; counters are read
 * again only when a process of the tree dies of SIGKILL or vanishes. A counter that rose by n
 * stands for n kills: each death it explains takes one, so that two processes killed before
 * memline looked are both OOM kills, and one kill is never counted for two deaths. Every file
 * (mountinfo, /proc/PID/cgroup, the cgroup counters, /proc/vmstat) is read through procfs,
 * relative to its root fds.
 */
#include "record/oom.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct oom_cgroup {
	char *path; /* in its hierarchy */
	bool v2;
	bool job;	 /* the job's cgroup: its hierarchical counter (memory.events) */
	long long count; /* oom_kill at the last look (less the kills taken since), -1 unknown */
};

struct oom_pid {
	pid_t pid;
	size_t cg;
};

void oom_watch_init(struct oom_watch *w, const struct procfs *fs)
{
	memset(w, 0, sizeof(*w));
	w->fs = fs;
	w->job = -1;
	cgroup_mounts_read(&w->mounts, fs);
	w->vmstat = procfs_vmstat_oom_kill(fs);
}

void oom_watch_release(struct oom_watch *w)
{
	for (size_t i = 0; i < w->n_cgs; i++)
		free(w->cgs[i].path);
	free(w->cgs);
	free(w->pids);
	cgroup_mounts_release(&w->mounts);
	memset(w, 0, sizeof(*w));
	w->job = -1;
}

static long long read_counter(const struct oom_watch *w, const struct oom_cgroup *cg)
{
	static const char *const v1_files[] = {"memory.oom_control", NULL};
	static const char *const v2_files[] = {"memory.events.local", "memory.events", NULL};
	/* the job's counts the cgroups below it too: they are the job's */
	static const char *const job_files[] = {"memory.events", NULL};
	const char *const *files = !cg->v2 ? v1_files : cg->job ? job_files : v2_files;
	struct strbuf dir = STRBUF_INIT, path = STRBUF_INIT, text = STRBUF_INIT;
	long long v = -1;
	if (cgroup_mounts_dir(&w->mounts, cg->v2 ? 2 : 1, cg->path, &dir))
		for (; *files && v < 0; files++) {
			strbuf_reset(&path);
			strbuf_addf(&path, "%s/%s", dir.buf, *files);
			if (!path.oom && procfs_read_sys_file(w->fs, path.buf, &text))
				v = procfs_parse_counter(text.buf, text.len, "oom_kill");
		}
	strbuf_release(&dir);
	strbuf_release(&path);
	strbuf_release(&text);
	return v;
}

/* The index of the cgroup path of hierarchy v2 or v1, registered (count unknown) if new; -1. */
static long find_cgroup(struct oom_watch *w, const char *path, bool v2)
{
	for (size_t i = 0; i < w->n_cgs; i++)
		if (w->cgs[i].v2 == v2 && !strcmp(w->cgs[i].path, path))
			return (long)i;
	if (w->n_cgs == w->alloc_cgs) {
		if (w->alloc_cgs >= 1024)
			return -1;
		size_t n = w->alloc_cgs ? w->alloc_cgs * 2 : 8;
		struct oom_cgroup *c = realloc(w->cgs, n * sizeof(*c));
		if (!c)
			return -1;
		w->cgs = c;
		w->alloc_cgs = n;
	}
	struct oom_cgroup *c = &w->cgs[w->n_cgs];
	if (!(c->path = strdup(path)))
		return -1;
	c->v2 = v2;
	c->job = false;
	c->count = -2; /* registered now: earlier count unknown */
	return (long)w->n_cgs++;
}

/*
 * The index of pid's current memory cgroup, or -1. At exit, the kernel shows a task's v1
 * cgroups as "/" (only cgroup2 keeps the real path for a zombie): with dying set, such a "/" is
 * not an answer.
 */
static long cgroup_of(struct oom_watch *w, pid_t pid, bool dying)
{
	char rel[32];
	snprintf(rel, sizeof(rel), "%d/cgroup", (int)pid);
	struct strbuf sb = STRBUF_INIT, path = STRBUF_INIT;
	bool v2 = false;
	long idx = -1;
	if (procfs_read_file(w->fs, rel, &sb) && procfs_parse_cgroup(sb.buf, sb.len, &path, &v2) &&
	    !(dying && !v2 && !strcmp(path.buf, "/")))
		idx = find_cgroup(w, path.buf, v2);
	strbuf_release(&sb);
	strbuf_release(&path);
	return idx;
}

void oom_watch_job(struct oom_watch *w, const char *path, int version)
{
	if (w->job >= 0)
		w->cgs[w->job].job = false;
	w->job = -1;
	if (!path)
		return;
	long idx = find_cgroup(w, path, version == 2);
	if (idx < 0)
		return;
	w->cgs[idx].job = true;
	w->cgs[idx].count = read_counter(w, &w->cgs[idx]);
	w->job = idx;
}

static struct oom_pid *find_pid(struct oom_watch *w, pid_t pid)
{
	for (size_t i = 0; i < w->n_pids; i++)
		if (w->pids[i].pid == pid)
			return &w->pids[i];
	return NULL;
}

void oom_watch_add(struct oom_watch *w, pid_t pid)
{
	long cg = cgroup_of(w, pid, false);
	if (cg < 0)
		return;
	if (w->cgs[cg].count == -2)
		w->cgs[cg].count = read_counter(w, &w->cgs[cg]);
	struct oom_pid *p = find_pid(w, pid);
	if (!p) {
		if (w->n_pids == w->alloc_pids) {
			size_t n = w->alloc_pids ? w->alloc_pids * 2 : 16;
			struct oom_pid *np = realloc(w->pids, n * sizeof(*np));
			if (!np)
				return;
			w->pids = np;
			w->alloc_pids = n;
		}
		p = &w->pids[w->n_pids++];
		p->pid = pid;
	}
	p->cg = (size_t)cg;
}

void oom_watch_forget(struct oom_watch *w, pid_t pid)
{
	struct oom_pid *p = find_pid(w, pid);
	if (p)
		*p = w->pids[--w->n_pids];
}

/*
 * Whether cgroup cg's oom_kill counter rose since the last look, taking one kill if it did;
 * -1 if that is unknown (it cannot be read, or there is no earlier value).
 */
static int counter_rose(struct oom_watch *w, long cg)
{
	struct oom_cgroup *c = &w->cgs[cg];
	long long before = c->count;
	long long now = read_counter(w, c);
	if (before < 0 || now < 0) {
		c->count = now;
		return -1;
	}
	if (now > before) {
		c->count = before + 1;
		return 1;
	}
	c->count = now;
	return 0;
}

bool oom_watch_killed(struct oom_watch *w, pid_t pid)
{
	long long vm = procfs_vmstat_oom_kill(w->fs);
	bool vm_rose = vm >= 0 && w->vmstat >= 0 && vm > w->vmstat;
	if (vm >= 0)
		w->vmstat = vm;
	struct oom_pid *p = find_pid(w, pid);
	long known = p ? (long)p->cg : -1;
	oom_watch_forget(w, pid);
	/* Where it died, if the kernel still says (a cgroup2 zombie does). */
	long now = cgroup_of(w, pid, true);
	long where = now >= 0 ? now : known;
	bool readable = false;
	int rose;
	/*
	 * The job's cgroup decides for a process in it (every process placed there, unless it
	 * moved itself), and for one whose cgroup memline never saw. One in a cgroup below it is
	 * decided by its own as well: cgroup v1 counts a kill only in the victim's cgroup.
	 */
	if (w->job >= 0) {
		rose = counter_rose(w, w->job);
		if (rose == 1)
			return true;
		if (rose == 0 && (where < 0 || where == w->job))
			return false;
		readable = rose == 0;
	}
	/* The cgroup it died in, then the one it was last seen in (it may have moved since: only a
	 * rise says anything there), each unless it is the job's, just read. */
	if (now >= 0 && now != w->job) {
		rose = counter_rose(w, now);
		if (rose >= 0)
			return rose == 1;
	}
	if (known >= 0 && known != now && known != w->job) {
		rose = counter_rose(w, known);
		if (rose == 1)
			return true;
		readable |= rose == 0;
	}
	/* The machine's count only when no count of the job's own could tell. */
	return readable ? false : vm_rose;
}
