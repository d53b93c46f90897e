/*
 * collect-cgroup: the job's memory from its memory cgroup (record/cgroup.h), when the recording
 * has one: the charge at the sample (every page of the job once, page cache and kernel memory
 * included), its peak since the previous sample (which a process that lived a millisecond is
 * in) and memory.stat's split. Method cgroup: it comes last in the sampler's table and replaces
 * what the RSS sum (and PSS) said of the job. Its cost is a few preads a sample, see cgroup.c.
 */
#include "record/collector.h"

#include "record/cgroup.h"
#include "record/sampler.h"

static bool init(struct sampler *s)
{
	if (!s->opt.cgroup)
		return false;
	cgroup_start(s->opt.cgroup);
	s->method = MEM_CGROUP;
	return true;
}

static void collect(struct sampler *s, struct sample *sample, double t)
{
	struct cgroup_values v;
	cgroup_read(s->opt.cgroup, t, &v);
	long long *tree = sample->tree.v;
	tree[TF_JOB] = v.current;
	tree[TF_JOB_PEAK] = v.peak;
	tree[TF_CG_ANON] = v.anon;
	tree[TF_CG_FILE] = v.file;
	tree[TF_CG_SHMEM] = v.shmem;
	tree[TF_CG_KERNEL] = v.kernel;
	tree[TF_CG_SOCK] = v.sock;
	tree[TF_CG_SWAP] = v.swap;
}

const struct tree_collector collect_cgroup = {.name = "cgroup", .init = init, .collect = collect};
