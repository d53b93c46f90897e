/*
 * collect-job: the job's memory when nothing better measures it, from the processes just read:
 * the sum of their RSS (each process's pages, a page shared by n processes counted n times)
 * and of their interval peaks. A process that shares another's address space (vfork, before
 * its exec: vm_of) has its memory counted with that other one. Method rss: the job's memory
 * from above; a cgroup or PSS, when the recording has one, replaces it.
 */
#include "record/collector.h"

#include "record/sampler.h"

static void collect(struct sampler *s, struct sample *sample, double t)
{
	(void)s;
	(void)t;
	sample->tree.v[TF_JOB] = sample->tree.v[TF_RSS];
	sample->tree.v[TF_JOB_PEAK] = sample->tree.v[TF_PEAK];
}

const struct tree_collector collect_job_rss = {.name = "job-rss", .collect = collect};
