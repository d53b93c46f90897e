/*
 * pidfd: exit statuses of processes memline did not start, through pidfds (see pidfd.h).
 *
 * The ioctl's structure is declared here: Debian 12's kernel headers predate it. Its first 64
 * bytes (PIDFD_INFO_SIZE_VER0) hold the exit code; the kernel copies no more than the size the
 * ioctl number says, and sets PIDFD_INFO_EXIT in mask only when the process has been reaped.
 */
#include "record/pidfd.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434 /* the same number on every architecture */
#endif

struct pidfd_info_v0 {
	uint64_t mask;
	uint64_t cgroupid;
	uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
	int32_t exit_code; /* a wait(2) status */
};
_Static_assert(sizeof(struct pidfd_info_v0) == 64, "PIDFD_INFO_SIZE_VER0 is 64 bytes");

#define PIDFD_INFO_EXIT_BIT (1ULL << 3)
#define PIDFD_GET_INFO_V0   _IOWR(0xFF, 11, struct pidfd_info_v0)

void pidfd_watch_init(struct pidfd_watch *w)
{
	memset(w, 0, sizeof(*w));
}

void pidfd_watch_release(struct pidfd_watch *w)
{
	for (size_t i = 0; i < w->n; i++)
		close(w->fds[i]);
	free(w->pids);
	free(w->fds);
	memset(w, 0, sizeof(*w));
}

bool pidfd_watch_add(struct pidfd_watch *w, pid_t pid)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return false;
	pid_t *pids = realloc(w->pids, (w->n + 1) * sizeof(*pids));
	if (pids)
		w->pids = pids;
	int *fds = pids ? realloc(w->fds, (w->n + 1) * sizeof(*fds)) : NULL;
	if (!fds) {
		close(fd);
		return false;
	}
	w->fds = fds; /* pidfd_open sets close-on-exec itself */
	w->pids[w->n] = pid;
	w->fds[w->n++] = fd;
	return true;
}

bool pidfd_watch_exit(struct pidfd_watch *w, pid_t pid, int wait_ms, int *status)
{
	size_t i = 0;
	while (i < w->n && w->pids[i] != pid)
		i++;
	if (i == w->n)
		return false;
	int fd = w->fds[i];
	w->fds[i] = w->fds[w->n - 1];
	w->pids[i] = w->pids[w->n - 1];
	w->n--;
	/* POLLHUP (never asked for, always reported): reaped, its exit status stored. */
	struct pollfd p = {fd, 0, 0};
	int r;
	do
		r = poll(&p, 1, wait_ms);
	while (r < 0 && errno == EINTR);
	struct pidfd_info_v0 info;
	memset(&info, 0, sizeof(info));
	info.mask = PIDFD_INFO_EXIT_BIT;
	bool known = ioctl(fd, PIDFD_GET_INFO_V0, &info) == 0 && (info.mask & PIDFD_INFO_EXIT_BIT);
	close(fd);
	if (known)
		*status = info.exit_code;
	return known;
}
