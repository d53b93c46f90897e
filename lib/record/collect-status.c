/*
 * collect-status: /proc/PID/status, for the RSS split (anon, file, shmem), swap and the
 * high-water mark VmHWM, which it then resets (clear_refs, 5) so that the next read speaks of
 * the next interval: a peak between two samples is caught by the sample after it.
 *
 * Cost. status costs several stat reads and its reset takes the process's mmap lock, so it is
 * read once a second, and sooner (at most every 50 ms) when stat shows the process faulted 16
 * pages in or its RSS moved 64 KiB since the last read. In between, a changed process's RSS is
 * stat's and its split and swap keep their last values; its high-water mark keeps counting, so
 * a peak is late, never lost.
 */
#include "record/collector.h"

#include "record/sampler.h"

/* status is read at least this often even for a process that changed nothing, */
#define SLOW_MAX_AGE 1.0
/*
 * and at most this often for one that changes all the time: sampling faster than this, a peak
 * may show up to this much later than it happened.
 */
#define SLOW_MIN_AGE 0.05
/*
 * What makes a change worth that early read: since the last status read, this many page
 * faults, or this much RSS moved. Smaller changes (a few pages faulted in and freed again) wait
 * for the once-a-second read, whose high-water mark still holds them: late, never lost.
 */
#define EARLY_FAULTS 16
#define EARLY_KIB    64

/*
 * Whether p started during the recording. Its start time is in clock ticks, cut down to one: a
 * process that started in the tick the recording began in (the command, a moment after) reads
 * as up to a tick before it.
 */
static bool started_here(const struct sampler *s, const struct tracked_proc *p)
{
	return sampler_start_secs(s, p->starttime) > -1.0 / (double)s->fs->clk_tck;
}

/* Reads status: the split, swap and the peak of the interval; resets the high-water mark. */
static void read_status(struct sampler *s, struct tracked_proc *p)
{
	struct proc_values *v = &p->v;
	long long rss = p->cur_rss;
	struct proc_status ps;
	if (!proc_handle_status(&p->h, &ps) || ps.rss_anon < 0) {
		/* Not readable (another user's process, or it just died): what stat says. */
		v->v[PF_RSS] = rss;
		v->v[PF_PEAK] = rss > p->rss ? rss : p->rss;
		return;
	}
	v->v[PF_ANON] = ps.rss_anon;
	v->v[PF_FILE] = ps.rss_file;
	v->v[PF_SHMEM] = ps.rss_shmem;
	v->v[PF_SWAP] = ps.vm_swap;
	v->v[PF_RSS] = ps.rss_anon + (ps.rss_file > 0 ? ps.rss_file : 0) +
		       (ps.rss_shmem > 0 ? ps.rss_shmem : 0);
	long long peak = v->v[PF_RSS] > rss ? v->v[PF_RSS] : rss;
	bool first = p->slow_t < 0;
	bool resets = s->opt.peak_reset && !p->no_reset;
	/*
	 * VmHWM speaks of this interval when it was reset at the last read, or when it rose (a new
	 * lifetime peak). At the first read it is the peak since the process started: ours to
	 * count only if that was during the recording.
	 */
	bool counts = first ? started_here(s, p) : resets || ps.vm_hwm > p->hwm;
	if (counts && ps.vm_hwm > peak)
		peak = ps.vm_hwm;
	if (!first && p->rss > peak)
		peak = p->rss; /* where the interval began */
	p->hwm = ps.vm_hwm;
	if (resets && !proc_handle_reset_hwm(&p->h))
		p->no_reset = true; /* from now on VmHWM is a lifetime peak */
	v->v[PF_PEAK] = peak;
}

static enum collect_result collect(struct sampler *s, struct tracked_proc *p, double t)
{
	struct proc_values *v = &p->v;
	long long rss = p->cur_rss;
	unsigned long long faults = p->cur_faults;
	/*
	 * stat's RSS is a quick read of per-CPU counters and status's the exact sum: compare stat
	 * with stat.
	 */
	bool changed = faults != p->faults || rss != p->stat_rss;
	long long moved = rss > p->slow_rss ? rss - p->slow_rss : p->slow_rss - rss;
	bool early = faults - p->slow_faults >= EARLY_FAULTS || moved >= EARLY_KIB;
	double age = t - p->slow_t;
	if (p->slow_t < 0 || age >= SLOW_MAX_AGE || (early && age >= SLOW_MIN_AGE)) {
		read_status(s, p);
		p->slow_t = t;
		p->slow_faults = faults;
		p->slow_rss = rss;
	} else if (changed) {
		/* Read later: until then what stat says, and the larger RSS as the peak. */
		v->v[PF_RSS] = rss;
		v->v[PF_PEAK] = rss > p->rss ? rss : p->rss;
	} else {
		/* Nothing faulted in and RSS is unchanged: it cannot have peaked higher. */
		v->v[PF_PEAK] = v->v[PF_RSS];
	}
	p->faults = faults;
	p->stat_rss = rss;
	p->rss = v->v[PF_RSS] >= 0 ? v->v[PF_RSS] : rss;
	return COLLECT_OK;
}

const struct collector collect_status = {.name = "status", .collect = collect};
