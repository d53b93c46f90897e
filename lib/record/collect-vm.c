/*
 * collect-vm: processes that share another's address space. A vfork child (posix_spawn,
 * system(), Python's subprocess), or a clone with CLONE_VM and without CLONE_THREAD, runs in
 * its parent's memory until it execs: its RSS, split and peak are its parent's, which the tree
 * must not count twice. Such a process is vm_of its parent (or of the process its parent is
 * vm_of): its memory fields are 0, nothing else is read of it, and at its exec it gets memory of
 * its own.
 *
 * Cost. Only a process that joins with its parent's program (its code and argument addresses in
 * stat equal the parent's: a fork or a vfork, not exec'd) is asked, once, as it joins: one
 * kcmp(2) KCMP_VM on the pair. A fork's child has a copy of the memory map, never the same one,
 * and the sharing can only end (an exec, an exit), so the answer stands. From then on, for a
 * process that shares, one look at its parent a sample until the sharing ends.
 *
 * kcmp needs ptrace-read access to both processes: memline's own user's processes (or root).
 * Where it is refused (a setuid program's vfork child, another user's process, a kernel or a
 * seccomp policy without kcmp) the child is counted with its own memory, as before: its parent's
 * memory twice for as long as it has not exec'd.
 */
#include "record/collector.h"

#include "record/sampler.h"

void vm_joined(struct sampler *s, struct tracked_proc *p, const struct tracked_proc *parent)
{
	p->vm_checked = true;
	if (procfs_same_vm(s->fs, parent->pid, p->pid) == 1)
		p->vm_of = parent->vm_of > 0 ? parent->vm_of : parent->pid;
}

static enum collect_result collect(struct sampler *s, struct tracked_proc *p, double t)
{
	(void)t;
	if (p->vm_of <= 0)
		return COLLECT_OK;
	const struct tracked_proc *q = sampler_find(s, p->vm_of);
	if (!q || p->startcode != q->startcode || p->argstart != q->argstart) {
		/*
		 * The sharing ended: it exec'd (its first status read then counts its new
		 * high-water mark), or the other exec'd or left and the memory is its alone now
		 * (not a first read: that high-water mark was the other's). Its fields are read
		 * afresh.
		 */
		if (p->execs == 0 && p->slow_t < 0)
			p->slow_t = 0;
		p->vm_of = -1;
		p->v.v[PF_VM_OF] = p->v.v[PF_PSS] = -1;
		return COLLECT_OK;
	}
	static const enum proc_field memory[] = {PF_RSS,   PF_ANON, PF_FILE,
						 PF_SHMEM, PF_PEAK, PF_SWAP};
	for (size_t i = 0; i < sizeof(memory) / sizeof(memory[0]); i++)
		p->v.v[memory[i]] = 0;
	if (s->opt.pss)
		p->v.v[PF_PSS] = 0;
	p->v.v[PF_VM_OF] = p->vm_of;
	return COLLECT_DONE;
}

const struct collector collect_vm = {.name = "vm", .collect = collect};
