/*
 * pidfd: how a process that is not memline's child ended, which wait4 cannot tell. A pidfd
 * (pidfd_open(2)) opened while the process runs keeps its exit status after its parent reaped
 * it: Linux 6.15 and later hand it out with the PIDFD_GET_INFO ioctl (PIDFD_INFO_EXIT), to
 * anyone who holds the pidfd, whatever its user. `memline attach` watches the processes it was
 * given so, and `memline.track()` learns that the Python process it records was killed by a
 * signal. On an older kernel (or without pidfds) the status stays unknown.
 */
#ifndef MEMLINE_PIDFD_H
#define MEMLINE_PIDFD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct pidfd_watch {
	pid_t *pids;
	int *fds;
	size_t n;
};

void pidfd_watch_init(struct pidfd_watch *w);
void pidfd_watch_release(struct pidfd_watch *w);
/* Opens a pidfd on pid, a running process. False when that cannot be done (no error). */
bool pidfd_watch_add(struct pidfd_watch *w, pid_t pid);
/*
 * The wait(2) status pid ended with, if it was watched and has been reaped (waiting at most
 * wait_ms for its reaping to show); false when unknown. Forgets pid.
 */
bool pidfd_watch_exit(struct pidfd_watch *w, pid_t pid, int wait_ms, int *status);

#endif
