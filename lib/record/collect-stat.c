/*
 * collect-stat: /proc/PID/stat, read for every process at every sample (one pread on a file
 * kept open): whether the process is still there, a zombie, or the same process at all (its
 * start time), whether it exec'd, and its RSS, virtual size, CPU times, faults and threads.
 * The collectors after it decide from stat's RSS and faults whether they are due.
 */
#include "record/collector.h"

#include <string.h>

#include "record/sampler.h"

/*
 * Whether the process replaced its program since the last look. Where the kernel shows us its
 * code and argument addresses, an exec moves them; where it hides them (1), the name is all
 * there is; without a memory map (0: exiting, or in the middle of an exec) nothing can be told
 * yet.
 */
static bool execed(const struct tracked_proc *p, const struct proc_stat *st)
{
	if (st->startcode == 0)
		return false;
	/*
	 * First seen in the middle of an exec (its new memory map not yet filled in: no code
	 * address, an empty command line): its program shows now.
	 */
	if (p->startcode == 0)
		return true;
	if (st->startcode > 1 && p->startcode > 1)
		return st->startcode != p->startcode || st->argstart != p->argstart;
	return strcmp(st->comm, p->comm) != 0;
}

static enum collect_result collect(struct sampler *s, struct tracked_proc *p, double t)
{
	struct proc_stat st;
	if (!proc_handle_stat(&p->h, &st) || st.starttime != p->starttime) {
		/* Gone; or a transient handle read a new process that reuses the pid. */
		sampler_emit_exit(s, p, t, 0, false);
		return COLLECT_GONE;
	}
	struct proc_values *v = &p->v;
	if (st.state == 'Z' || st.state == 'X') {
		if (st.threads > 1) {
			/* The leader exited but other threads run on: its memory is theirs now,
			 * and the leader's files no longer show it. Keep the last values. */
			v->v[PF_UTIME] = sampler_ticks_ms(s, st.utime);
			v->v[PF_STIME] = sampler_ticks_ms(s, st.stime);
			v->v[PF_THREADS] = st.threads;
			return COLLECT_DONE;
		}
		if (s->opt.self > 0 && st.ppid == s->opt.self) {
			/* memline's own child: it will be reaped with its rusage; not sampled. */
			v->state = st.state;
			return COLLECT_DONE;
		}
		sampler_emit_exit(s, p, t, st.exit_code, st.exit_code >= 0);
		return COLLECT_GONE;
	}
	if (execed(p, &st)) {
		memcpy(p->comm, st.comm, sizeof(p->comm));
		p->startcode = st.startcode;
		p->argstart = st.argstart;
		p->ppid = st.ppid;
		p->execs++;
		p->hwm = -1; /* a new memory map, whose high-water mark starts afresh */
		proc_handle_exec(&p->h);
		sampler_emit_exec(s, p, t);
	}
	p->ppid = st.ppid;
	p->exiting = (st.flags & PF_EXITING_FLAG) != 0;
	p->cur_rss = st.rss * s->fs->page_kib;
	p->cur_faults = st.minflt + st.majflt;
	v->v[PF_PID] = p->pid;
	v->v[PF_VMS] = (long long)(st.vsize / 1024);
	v->v[PF_UTIME] = sampler_ticks_ms(s, st.utime);
	v->v[PF_STIME] = sampler_ticks_ms(s, st.stime);
	v->v[PF_MINFLT] = (long long)st.minflt;
	v->v[PF_MAJFLT] = (long long)st.majflt;
	v->v[PF_THREADS] = st.threads;
	v->state = st.state;
	return COLLECT_OK;
}

const struct collector collect_stat = {.name = "stat", .collect = collect};
