/*
 * oom: tells whether a process that died of SIGKILL was killed by the kernel's OOM killer,
 * from the kernel's own oom_kill counters, never by guessing from the signal. It remembers the
 * memory cgroup of each process of the tree and that cgroup's oom_kill counter (v1
 * memory.oom_control, v2 memory.events.local or memory.events). At a SIGKILL death (or a
 * vanishing with unknown status), the counter of the cgroup the process died in decides, when
 * the kernel still shows it (cgroup2 zombies); otherwise a rise of its last known cgroup's
 * counter, or of /proc/vmstat's system-wide oom_kill since the previous check, says OOM.
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
/* Notes pid's memory cgroup and that cgroup's counter now (when it joins the tree). */
void oom_watch_add(struct oom_watch *w, pid_t pid);
/*
 * pid died of SIGKILL: true if the OOM killer did it. Call while its zombie still exists where
 * possible (its cgroup is re-read). Forgets pid.
 */
bool oom_watch_killed(struct oom_watch *w, pid_t pid);
/* pid left the tree otherwise. */
void oom_watch_forget(struct oom_watch *w, pid_t pid);

#endif
