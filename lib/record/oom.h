/*
 * oom: tells whether a process that died of SIGKILL was killed by the kernel's OOM killer,
 * from the kernel's own oom_kill counters, never by guessing from the signal. The kernel counts
 * an OOM kill in the victim's memory cgroup (v1 memory.oom_control: that cgroup's only; v2
 * memory.events: in every cgroup above it too, memory.events.local its own). A death is
 * an OOM kill only when a counter of the job's own rose since the last look: the job's cgroup's
 * (when the recording has one, it decides for every process in it), or that of the cgroup the
 * process died in (the kernel still shows it for a cgroup2 zombie) or was last seen in (when it
 * joined the tree or exec'd). /proc/vmstat's machine-wide counter decides only when no such
 * counter could be read: it also rises for a kill anywhere else on the machine.
 */
#ifndef MEMLINE_OOM_H
#define MEMLINE_OOM_H

#include <stdbool.h>
#include <sys/types.h>

#include "record/cgroup.h"
#include "record/procfs.h"

struct oom_cgroup;
struct oom_pid;

struct oom_watch {
	const struct procfs *fs;
	struct cgroup_mounts mounts; /* where the memory cgroups are */
	long job;		     /* the job's cgroup in cgs, or -1 */
	struct oom_cgroup *cgs;
	size_t n_cgs, alloc_cgs;
	struct oom_pid *pids;
	size_t n_pids, alloc_pids;
	long long vmstat; /* /proc/vmstat oom_kill at the last check, -1 unknown */
};

/*
 * Finds the cgroup mounts in memline's mountinfo and reads /proc/vmstat's counter, all through
 * fs: cgroup files are read under its system root, so a fixture tree serves in tests.
 */
void oom_watch_init(struct oom_watch *w, const struct procfs *fs);
void oom_watch_release(struct oom_watch *w);
/*
 * The job's memory cgroup, path in the hierarchy of version (1 or 2): its counter is read now
 * and decides for every process that is in it (v2: memory.events, which counts the cgroups
 * below it too). NULL: the job has none (any more).
 */
void oom_watch_job(struct oom_watch *w, const char *path, int version);
/*
 * Notes pid's memory cgroup and, the first time that cgroup is seen, its counter (when pid
 * joins the tree; again when it execs, which is when a process moved by a tool such as cgexec
 * is first seen where it runs).
 */
void oom_watch_add(struct oom_watch *w, pid_t pid);
/*
 * pid died of SIGKILL: true if the OOM killer did it. Call while its zombie still exists where
 * possible (its cgroup is re-read). Forgets pid.
 */
bool oom_watch_killed(struct oom_watch *w, pid_t pid);
/* pid left the tree otherwise. */
void oom_watch_forget(struct oom_watch *w, pid_t pid);

#endif
