/*
 * trace: the ptrace side of --trace. See trace.h for what each stop means to the tree; here,
 * the rules of ptrace(2) for seized tracees:
 *
 *   - a stop's status from waitid(WSTOPPED) is (event << 8) | signal: event 0 is a signal-
 *     delivery-stop, whose signal is injected with the restart; PTRACE_EVENT_STOP is a new
 *     tracee's first stop (SIGTRAP), or a group-stop (the stopping signal), which is kept with
 *     PTRACE_LISTEN so that the tracee stays stopped until SIGCONT, as it would untraced;
 *   - a stop is consumed with waitid(P_PID, WSTOPPED) alone, which never reaps an end that came
 *     meanwhile (a SIGKILL); an end with waitid(P_PID, WEXITED);
 *   - a tracee killed by SIGKILL has no exit stop: its high-water mark is not read;
 *   - ESRCH from a restart is a tracee killed since it stopped: nothing to do.
 */
#include "record/trace.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TRACE_OPTIONS                                                                          \
	(PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | \
	 PTRACE_O_TRACEEXIT)

/* How long tracer_detach_all waits for the tracees to stop. */
#define DETACH_WAIT_MS 1000

/* ---- the set of tids ---- */

static size_t tid_slot(pid_t tid, size_t cap)
{
	return ((size_t)(unsigned)tid * 2654435761u) & (cap - 1);
}

static bool tid_has(const struct tracer *tr, pid_t tid)
{
	if (!tr->cap)
		return false;
	for (size_t h = tid_slot(tid, tr->cap);; h = (h + 1) & (tr->cap - 1)) {
		if (!tr->tids[h])
			return false;
		if (tr->tids[h] == tid)
			return true;
	}
}

static void tid_put(pid_t *tids, size_t cap, pid_t tid)
{
	size_t h = tid_slot(tid, cap);
	while (tids[h])
		h = (h + 1) & (cap - 1);
	tids[h] = tid;
}

static void tid_add(struct tracer *tr, pid_t tid)
{
	if (tid <= 0 || tid_has(tr, tid))
		return;
	if ((tr->used + 1) * 2 > tr->cap) {
		size_t cap = tr->cap ? tr->cap * 2 : 64;
		pid_t *tids = calloc(cap, sizeof(*tids));
		if (!tids) {
			tr->s->oom = true;
			return;
		}
		for (size_t i = 0; i < tr->cap; i++)
			if (tr->tids[i])
				tid_put(tids, cap, tr->tids[i]);
		free(tr->tids);
		tr->tids = tids;
		tr->cap = cap;
	}
	tid_put(tr->tids, tr->cap, tid);
	tr->used++;
}

/* Removes tid; the entries after it move back so that no probe chain breaks. */
static void tid_remove(struct tracer *tr, pid_t tid)
{
	if (!tid_has(tr, tid))
		return;
	size_t mask = tr->cap - 1, i = tid_slot(tid, tr->cap);
	while (tr->tids[i] != tid)
		i = (i + 1) & mask;
	tr->tids[i] = 0;
	for (size_t j = (i + 1) & mask; tr->tids[j]; j = (j + 1) & mask) {
		size_t home = tid_slot(tr->tids[j], tr->cap);
		bool stays = i < j ? home > i && home <= j : home > i || home <= j;
		if (!stays) {
			tr->tids[i] = tr->tids[j];
			tr->tids[j] = 0;
			i = j;
		}
	}
	tr->used--;
}

/* ---- the tracer ---- */

void tracer_init(struct tracer *tr, struct sampler *s, struct procfs *fs)
{
	memset(tr, 0, sizeof(*tr));
	tr->s = s;
	tr->fs = fs;
	tr->self = getpid();
	strbuf_init(&tr->scratch);
}

void tracer_release(struct tracer *tr)
{
	free(tr->tids);
	strbuf_release(&tr->scratch);
	memset(tr, 0, sizeof(*tr));
}

void tracer_child_wait(int fd)
{
	char c;
	while (read(fd, &c, 1) < 0 && errno == EINTR)
		;
	close(fd);
}

int tracer_seize(struct tracer *tr, pid_t pid, struct strbuf *why)
{
	if (ptrace(PTRACE_SEIZE, pid, NULL, (void *)(long)TRACE_OPTIONS) < 0) {
		int e = errno;
		strbuf_addf(why, "cannot trace the command (ptrace: %s)", strerror(e));
		if (e == EPERM)
			strbuf_addstr(why, "; ptrace may be off here (kernel.yama.ptrace_scope, "
					   "a container's seccomp policy)");
		return -1;
	}
	tid_add(tr, pid);
	return 0;
}

/* Restarts a stopped tracee; a tracee killed meanwhile (ESRCH) needs nothing. */
static void restart(pid_t tid, int request, int sig)
{
	ptrace(request, tid, NULL, (void *)(long)sig);
}

static bool stopping_signal(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

/* At an exit stop: its high-water mark and how it ends, for the sampler. */
static void exit_stop(struct tracer *tr, pid_t tid, double t)
{
	unsigned long msg = 0;
	int status = ptrace(PTRACE_GETEVENTMSG, tid, NULL, &msg) == 0 ? (int)(msg & 0xffff) : -1;
	struct strbuf path = STRBUF_INIT;
	struct proc_status ps = {.vm_hwm = -1, .tgid = -1};
	strbuf_addf(&path, "%d/status", (int)tid);
	if (!path.oom && procfs_read_file(tr->fs, path.buf, &tr->scratch))
		procfs_parse_status(tr->scratch.buf, tr->scratch.len, &ps);
	strbuf_release(&path);
	pid_t tgid = ps.tgid > 0 ? ps.tgid : tid;
	struct sampler_exit_report r = {.pid = tid,
					.tgid = tgid,
					.what = tid == tgid ? SAMPLER_EXIT_LEADER
							    : SAMPLER_EXIT_THREAD,
					.source = EXIT_SRC_PTRACE,
					.status = status,
					.hwm = ps.vm_hwm > 0 ? ps.vm_hwm : -1,
					.utime_us = -1,
					.stime_us = -1,
					.start = (double)NAN,
					/* its peak was before this stop: it ends with its memory */
					.end = t,
					.end_lo = (double)NAN};
	sampler_exit_report(tr->s, &r, t);
}

static void on_stop(struct tracer *tr, pid_t tid, int code, double t)
{
	int sig = code & 0x7f, event = (code >> 8) & 0xff;
	unsigned long msg = 0;
	tr->stops++;
	switch (event) {
	case PTRACE_EVENT_FORK:
	case PTRACE_EVENT_VFORK:
		/* the child, stopped at its first stop until memline restarts it: read it now */
		if (ptrace(PTRACE_GETEVENTMSG, tid, NULL, &msg) == 0) {
			tid_add(tr, (pid_t)msg);
			sampler_fork(tr->s, (pid_t)msg, 0, (double)NAN, t);
		}
		restart(tid, PTRACE_CONT, 0);
		break;
	case PTRACE_EVENT_CLONE:
		/* a thread, or a clone(2) process: its own first stop says which */
		if (ptrace(PTRACE_GETEVENTMSG, tid, NULL, &msg) == 0)
			tid_add(tr, (pid_t)msg);
		restart(tid, PTRACE_CONT, 0);
		break;
	case PTRACE_EVENT_EXEC:
		/* a thread that exec'd took the leader's tid: its own is gone */
		if (ptrace(PTRACE_GETEVENTMSG, tid, NULL, &msg) == 0 && (pid_t)msg != tid)
			tid_remove(tr, (pid_t)msg);
		sampler_exec(tr->s, tid, t);
		restart(tid, PTRACE_CONT, 0);
		break;
	case PTRACE_EVENT_EXIT:
		exit_stop(tr, tid, t);
		restart(tid, PTRACE_CONT, 0);
		break;
	case PTRACE_EVENT_STOP:
		if (stopping_signal(sig)) {
			restart(tid, PTRACE_LISTEN, 0); /* a group-stop: stopped until SIGCONT */
			break;
		}
		if (!tid_has(tr, tid)) {
			/* a new tracee's first stop (before its parent's event, at times) */
			tid_add(tr, tid);
			sampler_fork(tr->s, tid, 0, (double)NAN, t);
		} else if (!sampler_tracks(tr->s, tid)) {
			sampler_fork(tr->s, tid, 0, (double)NAN, t); /* a clone(2) child? */
		}
		restart(tid, PTRACE_CONT, 0);
		break;
	case 0:
		restart(tid, PTRACE_CONT, sig); /* the signal it stopped for, delivered */
		break;
	default:
		restart(tid, PTRACE_CONT, 0);
		break;
	}
}

void tracer_stop(struct tracer *tr, pid_t tid, int code, double t)
{
	on_stop(tr, tid, code, t);
}

bool tracer_take(struct tracer *tr, const siginfo_t *si, double t)
{
	pid_t pid = si->si_pid;
	if (si->si_code == CLD_TRAPPED || si->si_code == CLD_STOPPED) {
		siginfo_t st;
		memset(&st, 0, sizeof(st));
		if (waitid(P_PID, (id_t)pid, &st, WSTOPPED | WNOHANG | __WALL) == 0 &&
		    st.si_pid == pid)
			on_stop(tr, pid, st.si_status, t);
		return true;
	}
	if (si->si_code == CLD_CONTINUED)
		return true;
	/* An end. The recorder reaps what it tracks and its own children. */
	tid_remove(tr, pid);
	if (sampler_tracks(tr->s, pid))
		return false;
	struct proc_stat st;
	if (procfs_pid_stat(tr->fs, pid, &st) && st.pid == pid && st.exit_signal != -1 &&
	    st.ppid == tr->self)
		return false;
	/* a thread's end, or a process's memline does not record: consumed (its parent's
	 * wait then gets it, as it would untraced) */
	siginfo_t end;
	memset(&end, 0, sizeof(end));
	waitid(P_PID, (id_t)pid, &end, WEXITED | WNOHANG | __WALL);
	return true;
}

void tracer_reap_failed(pid_t pid)
{
	for (;;) {
		int status;
		pid_t got = waitpid(pid, &status, __WALL);
		if (got < 0 && errno == EINTR)
			continue;
		if (got != pid || !WIFSTOPPED(status))
			return;
		restart(pid, PTRACE_CONT, (status >> 16) ? 0 : WSTOPSIG(status));
	}
}

static long ms_since(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

void tracer_detach_all(struct tracer *tr)
{
	if (!tr->used)
		return;
	for (size_t i = 0; i < tr->cap; i++)
		if (tr->tids[i] && ptrace(PTRACE_INTERRUPT, tr->tids[i], NULL, NULL) < 0 &&
		    errno == ESRCH)
			tr->tids[i] = -tr->tids[i]; /* gone: nothing to detach */
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	size_t left = 0;
	for (size_t i = 0; i < tr->cap; i++)
		left += tr->tids[i] > 0;
	while (left && ms_since(&t0) < DETACH_WAIT_MS) {
		siginfo_t si;
		memset(&si, 0, sizeof(si));
		if (waitid(P_ALL, 0, &si, WSTOPPED | WNOHANG | __WALL) < 0)
			break;
		if (!si.si_pid) {
			struct timespec ms = {0, 1000000};
			nanosleep(&ms, NULL);
			continue;
		}
		int code = si.si_status, sig = code & 0x7f, event = (code >> 8) & 0xff;
		/* a signal it stopped for goes with it (a group-stop stays one) */
		ptrace(PTRACE_DETACH, si.si_pid, NULL, (void *)(long)(event == 0 ? sig : 0));
		for (size_t i = 0; i < tr->cap; i++)
			if (tr->tids[i] == si.si_pid) {
				tr->tids[i] = -si.si_pid;
				left--;
			}
	}
	memset(tr->tids, 0, tr->cap * sizeof(*tr->tids));
	tr->used = 0;
}
