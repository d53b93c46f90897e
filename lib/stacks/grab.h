/*
 * grab: what an unwinder needs of a process's threads, taken in a moment, with the threads
 * stopped for as short a time as can be. Every thread is seized (PTRACE_SEIZE, which does not
 * stop it), then all are interrupted at once (PTRACE_INTERRUPT); as each stops, its registers
 * (PTRACE_GETREGSET, NT_PRSTATUS) and the top of its stack (process_vm_readv, page by page, up
 * to GRAB_STACK_MAX or the first page that is not mapped) are copied; a caller's hook runs while
 * every thread is stopped (the Python frame snapshot, which must see one moment); then each is
 * let go (PTRACE_DETACH, handing back a signal that arrived meanwhile). The unwinding is done
 * afterwards on the copies (stacks/unwind.h), while the threads run: the stall is the copy.
 *
 * Races are ordinary, never errors of the recording: a thread that ends before it is seized is
 * not there; one that ends while seized has its end consumed here unless it is the leader of the
 * caller's own child (whose end the caller's wait4 must still find); a thread that does not stop
 * within GRAB_STOP_WAIT (asleep in the kernel, in D state) has no stack and stays seized until
 * it stops, when grab_pending lets it go.
 */
#ifndef MEMLINE_GRAB_H
#define MEMLINE_GRAB_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/user.h>

#include "record/procfs.h"
#include "util/strbuf.h"

/* The most of a thread's stack copied, bytes, from its stack pointer up. */
#define GRAB_STACK_MAX (128 * 1024)
/* The longest a grab waits for its threads to stop, seconds. */
#define GRAB_STOP_WAIT 0.05
/* The most threads of one process a grab takes. */
#define GRAB_THREADS_MAX 4096

struct grab_thread {
	pid_t tid;
	char comm[16];
	struct user_regs_struct regs;
	unsigned long long sp;
	unsigned char *stack; /* stack_len bytes copied from sp; owned */
	size_t stack_len;
	long long stall_ns; /* from its interrupt to its detach; -1 unknown */
	const char *error;  /* why it has no registers (a static string), NULL when it has */
	/* private */
	bool seized, stopped, gone;
	bool was_pending; /* seized and interrupted by an earlier grab, not stopped then */
	bool listen;	  /* traced: it was in a group-stop, resumed with PTRACE_LISTEN */
	int sig;	  /* the signal to hand back when it is let go */
	double interrupted;
};

/*
 * Under --trace, memline traces the job's threads already: a grab does not seize them, hands
 * every stop that is not its own interrupt's to the tracer (code: waitid's si_status), leaves
 * their ends to the tracer's reaping, and resumes them as the tracer would (PTRACE_CONT, or
 * PTRACE_LISTEN for a thread in a group-stop) instead of detaching.
 */
struct grab_tracer {
	void (*stop)(void *arg, pid_t tid, int code);
	void *arg;
};

struct grab {
	pid_t pid;
	struct grab_thread *t; /* n threads of pid, in /proc/PID/task order */
	size_t n, alloc;
	int denied; /* the errno of a seize refused (EPERM: ptrace not allowed); 0 */
	const struct grab_tracer *tracer; /* this grab's, or NULL */
	/* threads left seized that had not stopped: let go once they stop (grab_pending) */
	pid_t *pending;
	size_t n_pending, alloc_pending;
};

void grab_init(struct grab *g);
void grab_release(struct grab *g);
/*
 * Takes pid's threads, running stopped(arg) while all are stopped (may be NULL). own_child: pid
 * is the caller's child, whose end only the caller may reap. tracer: the job's tracer, when
 * memline traces it already (--trace), else NULL. Returns how many threads have
 * registers and a stack, or -1 with why in one line when none could be stopped (ptrace refused,
 * pid gone).
 */
int grab_take(struct grab *g, struct procfs *fs, pid_t pid, bool own_child,
	      const struct grab_tracer *tracer, void (*stopped)(void *arg), void *arg,
	      struct strbuf *why);
/* Lets go of the threads of earlier grabs that have stopped since. */
void grab_pending(struct grab *g);

#endif
