/*
 * collect-pss: the job's memory without a cgroup, as the sum of its processes' proportional set
 * sizes (method pss). PSS splits a page among the processes that map it, so a page the tree's
 * processes share (copy-on-write after a fork: multiprocessing, PyTorch's DataLoader workers;
 * shared memory on purpose) is counted once, where the RSS sum counts it once per process.
 *
 * Reads. PID/smaps_rollup walks the process's page tables: about 15 µs plus 12 ns per KiB of RSS
 * (6 ms for 500 MiB; docs/sampler.md). It is read within a CPU budget, sampler_options'
 * pss_budget (2% of one CPU by default): a credit that grows with time at that rate, saved up to
 * CREDIT_SECS of it, and spent by each read's CPU time as measured. Processes are read in
 * groups, all the members of one at once, since a read of one member alone shows its share of
 * their common pages moved without the others' moving back: a group is a family (the processes
 * that forked from one another without an exec, their pages shared copy-on-write; sampler.c),
 * with all the families that map much shared memory or many file pages merged into one. The
 * groups are read in the order of how wrong their estimate may be (error_kib) for the CPU the
 * read costs, while there is credit and the error is worth it (at least ERR_MIN_KIB and a
 * 1/ERR_MIN_SHARE of the job). A group whose members' memory is moving fast (a member faulting
 * shared pages in, or exiting) is read once it settles, or when it has moved for MOVE_WAIT: a
 * read in the middle of the move sees each member at another moment.
 *
 * Between reads, a process's PSS is estimated as its last read plus the RSS it gained since: new
 * pages are its own, except pages of files and shared memory when another process of its group
 * (or of the tree: a second program mapping a shm_open object, before its status shows it) maps
 * such pages too (they are taken as those; statm tells how many there are). A process that
 * joins by a fork starts at 0 (its pages are its parent's, whose last read counted them: a fork
 * leaves the job's total as it was); one with its own program at its RSS. When a member of a
 * group exits or execs, the pages it shared go on being held by the others: its estimated share
 * of them passes to another member (its heir), and only its private pages leave the job. What
 * the estimate cannot see are pages copied on write (a fault that leaves RSS as it was) and the
 * split moving as other processes map or unmap the same pages: those, and the RSS that moved, are
 * what make a group due again (error_kib).
 *
 * The peak of the interval: for each group, the larger of its estimated sums at the interval's two
 * ends (shares that move among its members, as they fork, exit or are read, move the sum not at
 * all), plus what each member's RSS peak of the interval (VmHWM-based, see collect-status.c) rose
 * above its RSS at both ends (pages it had and freed in between: taken as its own, but for the
 * share of its pages that may be another's, as the estimate splits them); plus what
 * memline's children that it reaped since the previous sample held of their own up to their exit.
 * The kernel keeps no PSS peak; this is an upper bound of the job's PSS in the interval under the
 * estimate's assumptions, as the tree's RSS peak is of its RSS (processes may peak at different
 * moments), and it is never above that RSS peak, which knows which of the processes that left
 * can have lived at once.
 */
#include "record/collector.h"

#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "record/sampler.h"

/* The credit saved up: at most this many seconds of the budget. */
#define CREDIT_SECS 2.0
/* A group is not read for less of an error than this, nor for less than this share of the job. */
#define ERR_MIN_KIB   256
#define ERR_MIN_SHARE 128
/* After this long, a read's shared pages are taken as wholly unsure (others mapped them). */
#define AGE_FULL 3600.0
/* What a read costs before one is measured: a base and a cost per KiB of RSS. */
#define READ_BASE_NS 15000.0
#define NS_PER_KIB   12.0
/* The least of what may have been copied on write that is still watched for (see yield). */
#define YIELD_MIN 0.02
/* A process that maps this much shared memory, or of files, is read with the others that do. */
#define SHARED_SHMEM_KIB 1024
#define SHARED_FILE_KIB	 (64 * 1024)
/* A member whose RSS moved by this much since the last sample (or a 1/MOVE_SHARE of it) is
 * moving: its group is read once it settles, or this long after its last read. */
#define MOVE_KIB   1024
#define MOVE_SHARE 64
#define MOVE_WAIT  1.0

struct pss_pick {
	struct tracked_proc *root;
	double score;
};

static double thread_cpu(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
		return 0;
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static bool init(struct sampler *s)
{
	if (s->opt.cgroup || !(s->opt.pss_budget > 0) || !procfs_has_smaps_rollup(s->fs))
		return false; /* the job's cgroup measures it, or PSS cannot */
	if (s->method < MEM_PSS)
		s->method = MEM_PSS;
	s->pss.credit = s->opt.pss_budget * CREDIT_SECS;
	s->pss.credit_t = -1;
	s->pss.ns_per_kib = NS_PER_KIB;
	return true;
}

static void release(struct sampler *s)
{
	free(s->pss.picks);
	free(s->pss.saved);
	s->pss.picks = NULL;
	s->pss.saved = NULL;
	s->pss.alloc_picks = s->pss.alloc_saved = 0;
}

bool pss_read(struct sampler *s, struct tracked_proc *p, double t, struct proc_smaps *out)
{
	struct proc_pss *q = &p->pss;
	if (q->read_t == t) {
		*out = q->read;
		return out->pss >= 0;
	}
	double c0 = thread_cpu();
	bool ok = proc_handle_smaps(&p->h, out);
	double cost = thread_cpu() - c0;
	if (cost < 0)
		cost = 0;
	s->pss.spent += cost;
	s->pss.credit -= cost;
	s->pss.reads++;
	if (!ok) {
		out->rss = out->pss = out->private_kib = out->anon = out->pss_anon = -1;
		if (p->h.smaps_fd == -2)
			q->unreadable =
				true; /* another user's, or no smaps_rollup: its RSS stands */
	} else {
		p->share_changed = false;
		double kib = (double)p->cur_rss;
		if (kib >= 1024) {
			double per = (cost * 1e9 - READ_BASE_NS) / kib;
			s->pss.ns_per_kib = 0.8 * s->pss.ns_per_kib + 0.2 * (per > 0 ? per : 0);
		}
	}
	q->read_t = t;
	q->read = *out;
	q->cost = cost > 1e-6 ? cost : 1e-6;
	return ok;
}

/* Not counted: a zombie (its memory is gone; its end comes with its reap), one of vm_of. */
static bool counted(const struct tracked_proc *p)
{
	return p->v.state != 'Z' && p->vm_of <= 0;
}

/* Its RSS of shared memory and files as status last said, KiB; -1 unknown. */
static long long status_mapped(const struct tracked_proc *p)
{
	long long shmem = p->v.v[PF_SHMEM], file = p->v.v[PF_FILE];
	return shmem >= 0 && file >= 0 ? shmem + file : -1;
}

/* The start of p's estimate: 0 after a fork (its pages were its parent's), else its RSS. */
static void seed(struct tracked_proc *p)
{
	struct proc_pss *q = &p->pss;
	q->seeded = true;
	q->execs = p->execs;
	q->base = p->forked ? 0 : p->cur_rss;
	q->base_rss = p->cur_rss;
	q->private_kib = -1;
	q->cowable = p->forked ? p->cur_rss : 0;
	q->faults = p->cur_faults;
	/* what it maps of files and shared memory may be another's: an own program's from its
	 * first page, a fork's child's beyond what it came with (its parent's) */
	q->mapped_now = status_mapped(p);
	q->mapped = p->forked || q->mapped_now < 0 ? q->mapped_now : 0;
	q->t = -1;
	q->move_t = -1;
	if (!(q->yield > 0))
		q->yield = 1;
}

/*
 * Whether p maps so much shared memory, or so many file pages, that another program of the tree
 * (not of its family) may share them: a shm_open object, a large file mapped by several. Smaller
 * file mappings (its libraries) are left out, or every process would be read at once. Status is
 * read at the slow cadence: pages of files and shared memory that statm showed since (p faulting
 * a shm_open object in) count as shared memory, or p would be read apart from the process it
 * shares them with, each one's share seen at another moment.
 */
static bool maps_shared(const struct tracked_proc *p)
{
	if (p->v.v[PF_SHMEM] >= SHARED_SHMEM_KIB || p->v.v[PF_FILE] >= SHARED_FILE_KIB)
		return true;
	long long status = status_mapped(p);
	return status >= 0 && p->pss.mapped_now - status >= SHARED_SHMEM_KIB;
}

/* The tracked process that names p's family, p itself if none does. */
static struct tracked_proc *root_of(const struct sampler *s, struct tracked_proc *p)
{
	if (p->family == p->pid)
		return p;
	struct tracked_proc *r = sampler_find(s, p->family);
	return r ? r : p;
}

/* p's read group in this sample (make_groups). */
static struct tracked_proc *group_of(const struct sampler *s, struct tracked_proc *p)
{
	(void)s;
	return p->pss.root->pss.grp;
}

/* Whether p's memory moved by more than a little between two looks at its RSS. */
static bool moving(long long was, long long now)
{
	long long moved = llabs(now - was);
	return moved >= MOVE_KIB && moved >= was / MOVE_SHARE;
}

/*
 * The read groups of this sample, each named by a family's root (pss.grp, valid when fam_t is
 * t): the families, with every family that has a member mapping much shared memory or many file
 * pages merged into one; and what the estimates need of them.
 */
static void make_groups(struct sampler *s, double t)
{
	struct tracked_proc *shared = NULL;
	for (size_t i = 0; i < s->n; i++) {
		struct tracked_proc *p = s->procs[i];
		if (!counted(p))
			continue;
		struct tracked_proc *r = p->pss.root = root_of(s, p);
		if (r->pss.fam_t != t) {
			struct proc_pss *g = &r->pss;
			g->fam_t = t;
			g->grp = r;
			g->fam_err = g->fam_cost = 0;
			g->fam_n = g->fam_mappers = 0;
			g->fam_moving = false;
			g->fam_move_t = INFINITY;
			g->fam_before = g->fam_now = g->fam_above = 0;
		}
	}
	s->pss.mappers = 0;
	for (size_t i = 0; i < s->n; i++) {
		struct tracked_proc *p = s->procs[i];
		if (!counted(p) || !maps_shared(p))
			continue;
		s->pss.mappers++;
		struct tracked_proc *r = p->pss.root;
		if (!shared)
			shared = r->pss.grp;
		else
			r->pss.grp = shared;
	}
	for (size_t i = 0; i < s->n; i++) {
		struct tracked_proc *p = s->procs[i];
		if (!counted(p))
			continue;
		struct proc_pss *g = &group_of(s, p)->pss;
		const struct proc_pss *q = &p->pss;
		long long was = q->est >= 0 ? q->est_rss : q->base_rss;
		g->fam_n++;
		g->fam_mappers += maps_shared(p);
		if (p->exiting || moving(was, p->cur_rss)) {
			if (!(p->pss.move_t >= 0))
				p->pss.move_t = t;
			g->fam_moving = true;
			if (p->pss.move_t < g->fam_move_t)
				g->fam_move_t = p->pss.move_t;
		} else {
			p->pss.move_t = -1;
		}
	}
}

/*
 * Whether another process of p's group maps shared memory or many file pages; or of the tree:
 * p may be mapping the same object before a status read has shown it (and put p in the group).
 */
static bool others_map_shared(const struct sampler *s, struct tracked_proc *p)
{
	size_t self = maps_shared(p) ? 1 : 0;
	return group_of(s, p)->pss.fam_mappers > self || s->pss.mappers > self;
}

/*
 * How many of p's pages are of files and shared memory now, KiB: status's when it was read in
 * this sample, statm's when its RSS moved in a group where such pages may be another's (statm
 * is cheap, status is not read that often), else the last known.
 */
static void update_mapped(const struct sampler *s, struct tracked_proc *p, double t)
{
	struct proc_pss *q = &p->pss;
	if (p->slow_t == t)
		q->mapped_now = status_mapped(p);
	long long was = q->est >= 0 ? q->est_rss : q->base_rss;
	long long rss, shared;
	if (p->cur_rss != was && others_map_shared(s, p) && proc_handle_statm(&p->h, &rss, &shared))
		q->mapped_now = shared;
}

static long long estimate(const struct sampler *s, struct tracked_proc *p)
{
	const struct proc_pss *q = &p->pss;
	long long rss = p->cur_rss;
	long long e = q->base + (rss - q->base_rss);
	if (q->mapped >= 0 && q->mapped_now > q->mapped && others_map_shared(s, p))
		e -= q->mapped_now - q->mapped; /* pages another maps too: counted with it */
	return e < 0 ? 0 : e > rss ? rss : e;
}

/* What a write may have copied since the last read: the faults, up to what was shared. */
static double copied_kib(const struct sampler *s, const struct tracked_proc *p)
{
	const struct proc_pss *q = &p->pss;
	double faulted = p->cur_faults > q->faults
				 ? (double)(p->cur_faults - q->faults) * (double)s->fs->page_kib
				 : 0;
	return faulted < (double)q->cowable ? faulted : (double)q->cowable;
}

/*
 * How far p's estimate may be from its PSS, KiB: the RSS it gained or lost, as far as it may
 * be pages others map too; the pages a write may have copied, as far as its group's reads showed
 * such writes; its shared pages when those it shares them with changed; and, slowly, with age.
 */
static double error_kib(const struct sampler *s, const struct tracked_proc *p, double t)
{
	const struct proc_pss *q = &p->pss;
	double rss = (double)p->cur_rss;
	if (q->unreadable || rss <= 0)
		return 0;
	if (q->t <
	    0) /* never read: a fork's child may have made pages its own before it was seen */
		return p->forked ? rss : rss / 2;
	double shared = q->private_kib >= 0 && q->base_rss > q->private_kib
				? (double)(q->base_rss - q->private_kib)
				: 0;
	double frac = q->base_rss > 0 ? shared / (double)q->base_rss : 1;
	/* What it gained or lost of anonymous memory is as shared as its pages were; of shared
	 * memory and files, maybe all of it (another process may map them). */
	double err;
	if (q->mapped >= 0 && q->mapped_now >= 0) {
		double dmapped = (double)(q->mapped_now - q->mapped);
		err = fabs(dmapped) + fabs(rss - (double)q->base_rss - dmapped) * frac;
	} else {
		err = fabs(rss - (double)q->base_rss);
	}
	err += q->yield * copied_kib(s, p);
	if (p->share_changed)
		err += (shared > (double)q->mapped_now ? shared : (double)q->mapped_now) / 2;
	double age = (t - q->t) / AGE_FULL;
	err += shared * (age < 1 ? age : 1);
	return err < rss ? err : rss;
}

static double cost_of(const struct sampler *s, const struct tracked_proc *p)
{
	if (p->pss.cost > 0)
		return p->pss.cost;
	return (READ_BASE_NS + (double)p->cur_rss * s->pss.ns_per_kib) * 1e-9;
}

/* Whether every member of g is as its last stat said: there, not exiting, its RSS where it was. */
static bool still(const struct sampler *s, struct tracked_proc *g)
{
	for (size_t i = 0; i < s->n; i++) {
		struct tracked_proc *p = s->procs[i];
		if (!counted(p) || group_of(s, p) != g || p->pss.unreadable)
			continue;
		struct proc_stat st;
		if (!proc_handle_stat(&p->h, &st) || (st.flags & PF_EXITING_FLAG) ||
		    moving(p->cur_rss, st.rss * s->fs->page_kib))
			return false;
	}
	return true;
}

/*
 * Reads every member of a group, and learns how much the copies were worth a read. A member that
 * moved between its stat and its read (pages faulted in or dropped meanwhile), or that is gone by
 * its read (exiting: its pages leave the others as it goes), makes the read of a group of several
 * worthless: each member was seen at another moment of the move, their shares of the same pages
 * do not add up. Such a read is forgotten (the estimates stand) unless the group waited
 * MOVE_WAIT for one that settles.
 */
static void read_group(struct sampler *s, struct tracked_proc *g, double t)
{
	struct sampler_pss *b = &s->pss;
	double predicted = 0, moved = 0;
	size_t n = 0;
	bool unsettled = false;
	for (size_t i = 0; i < s->n; i++) {
		struct tracked_proc *p = s->procs[i];
		if (!counted(p) || group_of(s, p) != g || p->pss.unreadable)
			continue;
		if (n == b->alloc_saved) {
			size_t cap = n ? 2 * n : 16;
			struct proc_pss *saved = realloc(b->saved, cap * sizeof(*saved));
			if (!saved) {
				s->oom = true;
				return;
			}
			b->saved = saved;
			b->alloc_saved = cap;
		}
		b->saved[n++] = p->pss;
		double copied = copied_kib(s, p);
		long long before = estimate(s, p);
		struct proc_smaps sm;
		if (!pss_read(s, p, t, &sm)) {
			unsettled |= !p->pss.unreadable; /* it is going: the others' shares move */
			continue;
		}
		struct proc_pss *q = &p->pss;
		q->base = sm.pss;
		/*
		 * The estimate goes on from stat's RSS, which the kernel sums from per-CPU counters
		 * (a few hundred KiB from the page count smaps_rollup makes): from the read's own
		 * only when the process moved between the two.
		 */
		q->base_rss = p->cur_rss;
		if (sm.rss >= 0 && moving(p->cur_rss, sm.rss)) {
			q->base_rss = sm.rss;
			unsettled = true;
			if (!(b->saved[n - 1].move_t >= 0))
				b->saved[n - 1].move_t = t; /* it moves: from now, the wait */
		}
		q->private_kib = sm.private_kib;
		long long rss, shared;
		if (proc_handle_statm(&p->h, &rss, &shared))
			q->mapped_now = shared; /* as the counters say, as statm will later */
		q->mapped = q->mapped_now;
		if (sm.anon >= 0 && sm.pss_anon >= 0)
			q->cowable = sm.anon > sm.pss_anon ? 2 * (sm.anon - sm.pss_anon) : 0;
		else
			q->cowable = sm.private_kib >= 0 && q->base_rss > sm.private_kib
					     ? q->base_rss - sm.private_kib
					     : 0;
		q->faults = p->cur_faults;
		if (q->t >= 0) {
			predicted += copied;
			moved += (double)(estimate(s, p) - before);
		}
		q->t = t;
	}
	double since = g->pss.fam_move_t < INFINITY ? g->pss.fam_move_t : t;
	if (n > 1 && !unsettled && t - since < MOVE_WAIT)
		unsettled = !still(s, g); /* one began to exit or move after its read */
	if (n > 1 && unsettled && t - since < MOVE_WAIT) {
		size_t k = 0;
		for (size_t i = 0; i < s->n && k < n; i++) {
			struct tracked_proc *p = s->procs[i];
			if (!counted(p) || group_of(s, p) != g || p->pss.unreadable)
				continue;
			double read_t = p->pss.read_t, cost = p->pss.cost;
			struct proc_smaps read = p->pss.read;
			p->pss = b->saved[k++];
			p->pss.read_t = read_t, p->pss.cost = cost, p->pss.read = read;
		}
		return;
	}
	if (predicted < 64)
		return;
	double yield = fabs(moved) / predicted;
	for (size_t i = 0; i < s->n; i++) {
		struct tracked_proc *p = s->procs[i];
		if (!counted(p) || group_of(s, p) != g)
			continue;
		double y = 0.5 * p->pss.yield + 0.5 * (yield < 1 ? yield : 1);
		p->pss.yield = y > YIELD_MIN ? y : YIELD_MIN;
	}
}

static int by_score(const void *a, const void *b)
{
	double x = ((const struct pss_pick *)a)->score, y = ((const struct pss_pick *)b)->score;
	return x < y ? 1 : x > y ? -1 : 0;
}

/* Reads the groups whose error is worth it, the most for the CPU first, while credit lasts. */
static void read_due(struct sampler *s, double t, long long job)
{
	double err_min = (double)job / ERR_MIN_SHARE;
	if (err_min < ERR_MIN_KIB)
		err_min = ERR_MIN_KIB;
	for (size_t i = 0; i < s->n; i++) {
		struct tracked_proc *p = s->procs[i];
		if (!counted(p))
			continue;
		struct proc_pss *g = &group_of(s, p)->pss;
		g->fam_err += error_kib(s, p, t);
		g->fam_cost += cost_of(s, p);
	}
	size_t n = 0;
	for (size_t i = 0; i < s->n; i++) {
		struct tracked_proc *r = s->procs[i];
		const struct proc_pss *g = &r->pss;
		if (g->fam_t != t || g->grp != r || g->fam_err < err_min)
			continue;
		if (g->fam_n > 1 && g->fam_moving && t - g->fam_move_t < MOVE_WAIT)
			continue; /* read once it settles */
		if (n == s->pss.alloc_picks) {
			size_t cap = n ? 2 * n : 16;
			struct pss_pick *picks = realloc(s->pss.picks, cap * sizeof(*picks));
			if (!picks) {
				s->oom = true;
				break;
			}
			s->pss.picks = picks;
			s->pss.alloc_picks = cap;
		}
		s->pss.picks[n].root = r;
		s->pss.picks[n++].score = g->fam_err / g->fam_cost;
	}
	if (n > 1) /* (none: picks may still be NULL, which qsort may not be given) */
		qsort(s->pss.picks, n, sizeof(*s->pss.picks), by_score);
	for (size_t k = 0; k < n && s->pss.credit > 0; k++)
		read_group(s, s->pss.picks[k].root, t);
}

static void collect(struct sampler *s, struct sample *sample, double t)
{
	if (s->method != MEM_PSS)
		return; /* a better method measures the job */
	struct sampler_pss *b = &s->pss;
	if (b->credit_t >= 0 && t > b->credit_t)
		b->credit += s->opt.pss_budget * (t - b->credit_t);
	b->credit_t = t;
	if (b->credit > s->opt.pss_budget * CREDIT_SECS)
		b->credit = s->opt.pss_budget * CREDIT_SECS;
	for (size_t i = 0; i < s->n; i++) {
		struct tracked_proc *p = s->procs[i];
		if (p->vm_of > 0)
			p->pss.est = 0;
		if (counted(p) && (!p->pss.seeded || p->pss.execs != p->execs))
			seed(p);
	}
	make_groups(s, t);
	bool regroup = false;
	for (size_t i = 0; i < s->n; i++) {
		struct tracked_proc *p = s->procs[i];
		if (counted(p)) {
			bool was = maps_shared(p);
			update_mapped(s, p, t);
			regroup |= !was && maps_shared(p); /* it began to map another's pages */
		}
	}
	if (regroup) {
		for (size_t i = 0; i < s->n; i++)
			s->procs[i]->pss.fam_t = -1;
		make_groups(s, t);
	}
	long long job = 0;
	for (size_t i = 0; i < s->n; i++) {
		struct tracked_proc *p = s->procs[i];
		if (counted(p))
			job += estimate(s, p);
	}
	if (b->credit > 0)
		read_due(s, t, job);
	job = 0;
	for (size_t i = 0; i < s->n; i++) {
		struct tracked_proc *p = s->procs[i];
		if (!counted(p))
			continue;
		long long e = estimate(s, p);
		/* the RSS its peak of the interval rose above both ends: pages it had and freed */
		long long rss0 = p->pss.est >= 0 ? p->pss.est_rss : p->cur_rss;
		long long above = p->v.v[PF_PEAK] - (rss0 > p->cur_rss ? rss0 : p->cur_rss);
		/* ... split as its pages are now, where it maps pages another may map too (a peak
		 * read a moment after stat's RSS, while it faults a shared object in, is not its
		 * own) */
		long long mapped = p->pss.mapped_now;
		if (above > 0 && mapped > 0 && p->cur_rss > 0 && others_map_shared(s, p)) {
			long long own = mapped < p->cur_rss ? p->cur_rss - mapped : 0;
			above = (long long)((double)above * (double)own / (double)p->cur_rss);
		}
		struct proc_pss *g = &group_of(s, p)->pss;
		g->fam_before += p->pss.est > 0 ? p->pss.est : 0;
		g->fam_now += e;
		g->fam_above += above > 0 ? above : 0;
		p->pss.est = e;
		p->pss.est_rss = p->cur_rss;
		job += e;
	}
	/*
	 * A group's highest of the interval: the larger of its sums at the two ends (its members'
	 * shares move among them as they fork and exit, the sum less), and what they had above.
	 */
	long long peak = b->exited_peak;
	for (size_t i = 0; i < s->n; i++) {
		const struct proc_pss *g = &s->procs[i]->pss;
		if (g->fam_t == t && g->grp == s->procs[i])
			peak += (g->fam_before > g->fam_now ? g->fam_before : g->fam_now) +
				g->fam_above;
	}
	b->exited_peak = 0;
	/*
	 * No more than the RSS sum's peak, an upper bound too (a process's PSS is at most its RSS
	 * at every moment), which knows when the processes that left lived: children one after
	 * another, each added above here, never held their memory at once.
	 */
	long long rss_peak = sample->tree.v[TF_PEAK];
	if (rss_peak >= job && peak > rss_peak)
		peak = rss_peak;
	sample->tree.v[TF_JOB] = job;
	sample->tree.v[TF_JOB_PEAK] = peak > job ? peak : job;
}

/*
 * Another process to hold the pages p shared: of its family (its root first), else, when p
 * mapped much shared memory or many file pages, another that does.
 */
static struct tracked_proc *heir_of(const struct sampler *s, const struct tracked_proc *p)
{
	struct tracked_proc *r = p->family != p->pid ? sampler_find(s, p->family) : NULL;
	if (r && r != p && counted(r) && r->pss.seeded)
		return r;
	struct tracked_proc *other = NULL;
	for (size_t i = 0; i < s->n; i++) {
		struct tracked_proc *q = s->procs[i];
		if (q == p || !counted(q) || !q->pss.seeded)
			continue;
		if (q->family == p->family)
			return q;
		if (!other && maps_shared(p) && maps_shared(q))
			other = q;
	}
	return other;
}

static void left(struct sampler *s, struct tracked_proc *p, bool exec)
{
	const struct proc_pss *q = &p->pss;
	if (s->method != MEM_PSS || p->vm_of > 0 || q->est < 0)
		return;
	long long grown = q->est_rss > q->base_rss ? q->est_rss - q->base_rss : 0;
	long long own = q->t >= 0 && q->private_kib >= 0 ? q->private_kib + grown : q->est;
	long long shared = q->est > own ? q->est - own : 0;
	struct tracked_proc *heir = shared > 0 ? heir_of(s, p) : NULL;
	if (heir)
		heir->pss.base += shared; /* what it shares is the heir's now */
	/*
	 * What it held of its own until its exit is in the next sample's peak when its peak up to
	 * the exit is known (wait4), as in the tree's RSS peak; a process that vanished between two
	 * samples counted where it was last seen. A new program starts afresh (seed).
	 */
	if (exec || p->exit_peak < 0)
		return;
	long long above = p->exit_peak - q->est_rss;
	s->pss.exited_peak += q->est - (heir ? shared : 0) + (above > 0 ? above : 0);
}

const struct tree_collector collect_job_pss = {
	.name = "job-pss", .init = init, .collect = collect, .release = release, .left = left};
