/*
 * trace: `memline run --trace`, following the tree with ptrace(2), for a user to whom the
 * kernel's event sources (record/events.h) are closed. memline seizes the command before its
 * exec (PTRACE_SEIZE with TRACEFORK, TRACEVFORK, TRACECLONE, TRACEEXEC, TRACEEXIT), so every
 * process and thread it starts is traced from its first instruction:
 *
 *   a new tracee's first stop  its process joins the tree (read before it runs)
 *   an exec stop               its exec is recorded
 *   an exit stop               its VmHWM (the peak of its own address space, read from
 *                              /proc/TID/status while it still has one) and its exit status
 *   its death                  reaped by memline as its tracer: the recorder's reaping, with
 *                              __WALL (a thread's end, or that of a process it does not
 *                              track, is consumed here)
 *
 * Everything else is given back as it came: a signal that stopped a tracee is delivered with
 * the restart (PTRACE_CONT with it), a group-stop stays a stop (PTRACE_LISTEN) until SIGCONT.
 * The stops arrive as SIGCHLD, which the recorder already waits for. What it costs and what it
 * prevents (a traced job cannot be run under gdb or strace; a setuid program runs without its
 * privilege for a memline that is not root) is in docs/recorder.md.
 */
#ifndef MEMLINE_TRACE_H
#define MEMLINE_TRACE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "record/procfs.h"
#include "record/sampler.h"
#include "util/strbuf.h"

struct tracer {
	struct sampler *s;
	struct procfs *fs;
	pid_t self;
	/* the threads memline traces (open addressing, linear probing; cap a power of two) */
	pid_t *tids;
	size_t cap, used;
	long stops; /* stops handled */
	struct strbuf scratch;
};

void tracer_init(struct tracer *tr, struct sampler *s, struct procfs *fs);
void tracer_release(struct tracer *tr);

/* In the child, before its exec: waits until the parent seized it (a byte on fd, or EOF). */
void tracer_child_wait(int fd);
/*
 * Seizes pid, memline's child waiting in tracer_child_wait, with the options that follow every
 * process and thread it starts. -1 with why in one line (ptrace not allowed here).
 */
int tracer_seize(struct tracer *tr, pid_t pid, struct strbuf *why);
/*
 * The recorder's waitid (WEXITED | WNOHANG | WNOWAIT | __WALL) named si: a stop is handled
 * and consumed; the end of a thread, or of a process the recorder does not reap (not tracked,
 * not its child), is consumed. Returns false when the recorder is to reap it itself (with
 * wait4 and __WALL).
 */
bool tracer_take(struct tracer *tr, const siginfo_t *si, double t);
/*
 * A stop of tracee tid that someone else took from waitid (a stack capture waiting for its
 * own): handled as if the recorder had (code: waitid's si_status), the tracee restarted.
 */
void tracer_stop(struct tracer *tr, pid_t tid, int code, double t);
/* pid was seized but its exec failed: lets it end and reaps it. */
void tracer_reap_failed(pid_t pid);
/*
 * The recording is over while tracees run on: stops them (PTRACE_INTERRUPT) and detaches
 * them, each with the signal it was stopped for, waiting at most about a second.
 */
void tracer_detach_all(struct tracer *tr);

#endif
