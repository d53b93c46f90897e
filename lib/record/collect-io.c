/*
 * collect-io: /proc/PID/io, the process's I/O counters (characters and bytes read and
 * written). They only ever grow and nobody needs them at 100 samples a second: read with
 * status, at most once a second.
 */
#include "record/collector.h"

#include "record/sampler.h"

#define IO_MAX_AGE 1.0

static enum collect_result collect(struct sampler *s, struct tracked_proc *p, double t)
{
	(void)s;
	if (p->slow_t != t || (p->io_t >= 0 && t - p->io_t < IO_MAX_AGE))
		return COLLECT_OK;
	struct proc_io io;
	if (proc_handle_io(&p->h, &io)) {
		p->v.v[PF_RCHAR] = io.rchar;
		p->v.v[PF_WCHAR] = io.wchar;
		p->v.v[PF_READ_BYTES] = io.read_bytes;
		p->v.v[PF_WRITE_BYTES] = io.write_bytes;
	}
	p->io_t = t;
	return COLLECT_OK;
}

const struct collector collect_io = {.name = "io", .collect = collect};
