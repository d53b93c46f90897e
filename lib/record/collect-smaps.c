/*
 * collect-smaps: /proc/PID/smaps_rollup under --pss: the proportional set size, which splits
 * each shared page among the processes that map it, in every process's sample. It walks every
 * mapping of the process, milliseconds for a large one, so it is read only when status is (once
 * a second, sooner after a change), and when the processes it shares pages with changed (a
 * fork, an exec or an exit in its family, or an exit of one that mapped shared memory: its
 * share moved), at most every PSS_MIN_AGE.
 */
#include "record/collector.h"

#include "record/sampler.h"

#define PSS_MIN_AGE 0.05

static bool wanted(const struct sampler_options *o)
{
	return o->pss;
}

static enum collect_result collect(struct sampler *s, struct tracked_proc *p, double t)
{
	bool due = p->slow_t == t ||
		   (p->share_changed && (p->pss.read_t < 0 || t - p->pss.read_t >= PSS_MIN_AGE));
	struct proc_smaps sm;
	if (due)
		p->v.v[PF_PSS] = pss_read(s, p, t, &sm) ? sm.pss : -1;
	return COLLECT_OK;
}

const struct collector collect_smaps = {.name = "smaps", .wanted = wanted, .collect = collect};
