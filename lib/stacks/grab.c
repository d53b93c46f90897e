/*
 * grab: seize, interrupt, copy, let go (stacks/grab.h). The stops are taken with
 * waitid(WNOWAIT) first, so that an end is looked at before it is consumed: the end of the
 * caller's own child stays for its wait4.
 */
#include "stacks/grab.h"

#include <elf.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

#define PAGE 4096

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void grab_init(struct grab *g)
{
	memset(g, 0, sizeof(*g));
}

static void clear_threads(struct grab *g)
{
	for (size_t i = 0; i < g->n; i++) {
		free(g->t[i].stack);
		g->t[i].stack = NULL;
	}
	g->n = 0;
}

void grab_release(struct grab *g)
{
	clear_threads(g);
	free(g->t);
	free(g->pending);
	grab_init(g);
}

static void add_tid(pid_t tid, void *data)
{
	struct grab *g = data;
	if (g->n >= GRAB_THREADS_MAX)
		return;
	if (g->n == g->alloc) {
		size_t cap = g->alloc ? 2 * g->alloc : 16;
		struct grab_thread *t = realloc(g->t, cap * sizeof(*t));
		if (!t)
			return;
		g->t = t;
		g->alloc = cap;
	}
	struct grab_thread *t = &g->t[g->n++];
	memset(t, 0, sizeof(*t));
	t->tid = tid;
	t->stall_ns = -1;
}

static void add_pending(struct grab *g, pid_t tid)
{
	if (g->n_pending == g->alloc_pending) {
		size_t cap = g->alloc_pending ? 2 * g->alloc_pending : 8;
		pid_t *p = realloc(g->pending, cap * sizeof(*p));
		if (!p)
			return; /* it stays seized until memline ends: the kernel lets it go then */
		g->pending = p;
		g->alloc_pending = cap;
	}
	g->pending[g->n_pending++] = tid;
}

static bool stopping_signal(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

/*
 * look() under the job's tracer: the interrupt's stop is the grab's; a group-stop holds the
 * thread as well (it is let go with PTRACE_LISTEN); any other stop is the tracer's, which
 * handles it and restarts the thread (the interrupt stays pending, the thread stops for it
 * next); an end is left to the tracer's reaping.
 */
static void look_traced(struct grab *g, struct grab_thread *t, const siginfo_t *peek)
{
	if (peek->si_code != CLD_TRAPPED && peek->si_code != CLD_STOPPED) {
		t->gone = true;
		return;
	}
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)t->tid, &si, WSTOPPED | WNOHANG | __WALL) < 0 || si.si_pid == 0)
		return;
	int sig = si.si_status & 0x7f, event = (si.si_status >> 8) & 0xff;
	if (event == PTRACE_EVENT_STOP && (sig == SIGTRAP || stopping_signal(sig))) {
		t->stopped = true;
		t->listen = sig != SIGTRAP;
		t->sig = 0;
		return;
	}
	g->tracer->stop(g->tracer->arg, t->tid, si.si_status);
}

/*
 * Looks for t's stop or end without waiting. A stop is consumed and t is stopped; an end is
 * consumed unless it is the leader of the caller's child; either way t is gone.
 */
static void look(struct grab *g, struct grab_thread *t, bool own_child)
{
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)t->tid, &si, WSTOPPED | WEXITED | WNOHANG | WNOWAIT | __WALL) < 0) {
		t->gone = true; /* not ours to wait for any more: it ended and was reaped */
		return;
	}
	if (si.si_pid == 0)
		return;
	if (g->tracer) {
		look_traced(g, t, &si);
		return;
	}
	if (si.si_code == CLD_TRAPPED || si.si_code == CLD_STOPPED) {
		int status;
		if (waitpid(t->tid, &status, WNOHANG | __WALL) != t->tid)
			return;
		t->stopped = true;
		/* a signal-delivery stop keeps its signal for the detach; an interrupt's or a
		 * group-stop's (PTRACE_EVENT_STOP) has none to hand back */
		t->sig = (status >> 16) == 0 && WIFSTOPPED(status) ? WSTOPSIG(status) : 0;
		return;
	}
	t->gone = true;
	if (!(own_child && t->tid == g->pid)) {
		int status;
		waitpid(t->tid, &status, WNOHANG | __WALL);
	}
}

static void copy_stack(pid_t pid, struct grab_thread *t)
{
	unsigned long long sp = t->sp;
	t->stack = malloc(GRAB_STACK_MAX);
	if (!t->stack)
		return;
	struct iovec local = {t->stack, GRAB_STACK_MAX};
	struct iovec remote[GRAB_STACK_MAX / PAGE + 1];
	size_t n = 0, left = GRAB_STACK_MAX;
	unsigned long long at = sp;
	while (left > 0 && n < sizeof(remote) / sizeof(remote[0])) {
		size_t len = PAGE - (size_t)(at % PAGE); /* a page at a time: a read stops at the
							    first page that is not mapped */
		if (len > left)
			len = left;
		remote[n++] = (struct iovec){(void *)(uintptr_t)at, len};
		at += len;
		left -= len;
	}
	ssize_t got = process_vm_readv(pid, &local, 1, remote, n, 0);
	t->stack_len = got > 0 ? (size_t)got : 0;
}

static void take_regs(struct grab *g, struct grab_thread *t)
{
	struct iovec io = {&t->regs, sizeof(t->regs)};
	if (ptrace(PTRACE_GETREGSET, t->tid, (void *)NT_PRSTATUS, &io) < 0) {
		t->error = "its registers could not be read";
		return;
	}
#if defined(__x86_64__)
	t->sp = t->regs.rsp;
#elif defined(__aarch64__)
	t->sp = t->regs.sp;
#endif
	copy_stack(g->pid, t);
}

/* Whether tid is still seized by an earlier grab (it was slow to stop); it is this one's now. */
static bool take_pending(struct grab *g, pid_t tid)
{
	for (size_t i = 0; i < g->n_pending; i++)
		if (g->pending[i] == tid) {
			g->pending[i] = g->pending[--g->n_pending];
			return true;
		}
	return false;
}

static void seize_all(struct grab *g)
{
	for (size_t i = 0; i < g->n; i++) {
		struct grab_thread *t = &g->t[i];
		if (g->tracer) {
			t->seized = true; /* memline's tracer has it */
			continue;
		}
		if (take_pending(g, t->tid)) {
			t->seized = true; /* interrupted already: its stop may come now */
			t->interrupted = now();
			t->was_pending = true;
			continue;
		}
		if (ptrace(PTRACE_SEIZE, t->tid, 0, 0) < 0) {
			if (errno == EPERM || errno == EACCES)
				g->denied = errno;
			t->error = errno == ESRCH ? "it ended" : "it could not be seized";
			continue;
		}
		t->seized = true;
	}
	for (size_t i = 0; i < g->n; i++) {
		struct grab_thread *t = &g->t[i];
		if (!t->seized || t->was_pending)
			continue;
		t->interrupted = now();
		if (ptrace(PTRACE_INTERRUPT, t->tid, 0, 0) < 0)
			t->gone = true;
	}
}

static void detach(struct grab *g, struct grab_thread *t);

/*
 * Waits, at most GRAB_STOP_WAIT, for the seized threads to stop, copying each as it stops and,
 * unless hold (a hook must see them all stopped at once), letting it go at once. Returns how
 * many stopped.
 */
static size_t wait_stops(struct grab *g, bool own_child, bool hold)
{
	double deadline = now() + GRAB_STOP_WAIT;
	size_t stopped = 0;
	int spins = 0;
	for (;;) {
		size_t waiting = 0;
		for (size_t i = 0; i < g->n; i++) {
			struct grab_thread *t = &g->t[i];
			if (!t->seized || t->stopped || t->gone)
				continue;
			look(g, t, own_child);
			if (t->stopped) {
				stopped++;
				take_regs(g, t);
				if (!hold)
					detach(g, t);
			} else if (!t->gone) {
				waiting++;
			}
		}
		if (!waiting || now() > deadline)
			return stopped;
		/* a stop takes microseconds: yield first; sleep (50 µs of timer slack at least)
		 * only for a thread that is slow to stop */
		if (++spins < 200) {
			sched_yield();
		} else {
			struct timespec ts = {0, 50000};
			nanosleep(&ts, NULL);
		}
	}
}

/* Lets a stopped thread go, with the signal it was stopped for (traced: it runs on traced). */
static void detach(struct grab *g, struct grab_thread *t)
{
	if (g->tracer)
		ptrace(t->listen ? PTRACE_LISTEN : PTRACE_CONT, t->tid, 0, 0);
	else
		ptrace(PTRACE_DETACH, t->tid, 0, (void *)(long)t->sig);
	t->stall_ns = (long long)((now() - t->interrupted) * 1e9);
	t->seized = false;
}

static void let_go(struct grab *g)
{
	for (size_t i = 0; i < g->n; i++) {
		struct grab_thread *t = &g->t[i];
		if (!t->seized)
			continue;
		if (t->stopped) {
			detach(g, t);
		} else if (t->gone) {
			if (!t->error)
				t->error = "it ended during the capture";
		} else {
			t->error = "it did not stop (asleep in the kernel)";
			if (!g->tracer) /* the tracer takes its interrupt's stop, when it comes */
				add_pending(g, t->tid);
		}
	}
}

int grab_take(struct grab *g, struct procfs *fs, pid_t pid, bool own_child,
	      const struct grab_tracer *tracer, void (*stopped)(void *arg), void *arg,
	      struct strbuf *why)
{
	grab_pending(g); /* those of earlier grabs that stopped since: let go first */
	clear_threads(g);
	g->pid = pid;
	g->denied = 0;
	g->tracer = tracer;
	if (procfs_for_each_task(fs, pid, add_tid, g) < 0 || g->n == 0) {
		strbuf_addf(why, "process %d ended before its threads could be stopped", (int)pid);
		return -1;
	}
	for (size_t i = 0; i < g->n; i++)
		if (!procfs_task_comm(fs, pid, g->t[i].tid, g->t[i].comm, sizeof(g->t[i].comm)))
			g->t[i].comm[0] = '\0';
	seize_all(g);
	size_t n = wait_stops(g, own_child, stopped != NULL);
	int taken = 0;
	for (size_t i = 0; i < g->n; i++)
		taken += g->t[i].stack_len > 0 && g->t[i].error == NULL;
	if (n && stopped)
		stopped(arg);
	let_go(g);
	if (taken == 0) {
		if (g->denied)
			strbuf_addf(
				why,
				"cannot stop process %d's threads: ptrace: %s (another user's "
				"process, or kernel.yama.ptrace_scope forbids it; record as root "
				"or set ptrace_scope to 0 or 1)",
				(int)pid, strerror(g->denied));
		else
			strbuf_addf(why, "process %d's threads could not be stopped: %s", (int)pid,
				    g->n && g->t[0].error ? g->t[0].error : "it ended");
		return -1;
	}
	return taken;
}

void grab_pending(struct grab *g)
{
	size_t k = 0;
	for (size_t i = 0; i < g->n_pending; i++) {
		pid_t tid = g->pending[i];
		siginfo_t si;
		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)tid, &si, WSTOPPED | WEXITED | WNOHANG | WNOWAIT | __WALL) <
		    0)
			continue; /* gone, reaped */
		if (si.si_pid == 0) {
			g->pending[k++] = tid; /* not stopped yet */
			continue;
		}
		if (si.si_code != CLD_TRAPPED && si.si_code != CLD_STOPPED)
			continue; /* it ended: its end is left to whoever waits for it */
		int status;
		if (waitpid(tid, &status, WNOHANG | __WALL) == tid && WIFSTOPPED(status))
			ptrace(PTRACE_DETACH, tid, 0,
			       (void *)(long)((status >> 16) == 0 ? WSTOPSIG(status) : 0));
	}
	g->n_pending = k;
}
