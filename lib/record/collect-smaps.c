/*
 * collect-smaps: /proc/PID/smaps_rollup under --pss: the proportional set size, which splits
 * each shared page among the processes that map it. It walks every mapping of the process,
 * milliseconds for a large one, so it is read only when status is (once a second, sooner after
 * a change).
 */
#include "record/collector.h"

#include "record/sampler.h"

static bool wanted(const struct sampler_options *o)
{
	return o->pss;
}

static enum collect_result collect(struct sampler *s, struct tracked_proc *p, double t)
{
	(void)s;
	if (p->slow_t == t)
		p->v.v[PF_PSS] = proc_handle_pss(&p->h);
	return COLLECT_OK;
}

const struct collector collect_smaps = {.name = "smaps", .wanted = wanted, .collect = collect};
