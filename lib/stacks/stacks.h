/*
 * stacks: `--stacks[=WHEN]`, the stacks of a process's threads at the moments that matter
 * (docs/stacks.md). It decides when to capture and which process (a new peak of the job: the
 * process that grew most since the last capture; an event from the program: the process that
 * sent it; every S seconds, or on SIGUSR1: every process of the tree), within a CPU budget;
 * takes the threads' registers and stacks in a moment (stacks/grab.h), unwinds them
 * afterwards (stacks/unwind.h), reads a CPython's frames while the threads are stopped
 * (stacks/pyframes.h) and puts them in place of the interpreter's C frames; and hands every
 * thread's stack to the caller as a struct stack_info. It knows nothing of the log.
 */
#ifndef MEMLINE_STACKS_H
#define MEMLINE_STACKS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "log/record.h"
#include "record/procfs.h"
#include "record/recorder.h"
#include "record/sampler.h"
#include "stacks/grab.h"
#include "util/strbuf.h"

/* The credit saved up: at most this many seconds of the budget (a first capture's symbols). */
#define STACKS_CREDIT_SECS 10.0
/* A new peak is at least this much above the last one captured, KiB. */
#define STACKS_PEAK_MIN_KIB 1024
/* The most CPU a capture of every process that a person asked for (SIGUSR1) may take. */
#define STACKS_ASKED_SECS 1.0

struct stack_session; /* one process's unwinder and Python reader (private) */

struct stacks_heap {
	pid_t pid, tid;
	long long captured; /* bytes */
};

struct stacks {
	struct stacks_options o;
	struct procfs *fs;
	pid_t self;
	/* told of every thread's stack, and of a limit met (once per kind: code, pid, text) */
	void (*emit)(void *data, const struct stack_info *s);
	void (*warn)(void *data, double t, const char *code, pid_t pid, const char *text);
	void *data;
	struct recorder_watch_io io; /* the recorder's, all of it (its tracer, under --trace) */
	struct grab grab;
	struct stack_session **sess;
	size_t n_sess, alloc_sess;
	struct stack_counts counts;
	double credit, credit_t;
	long long peak_captured; /* the job's memory at the last peak capture, KiB */
	bool peaks_started;	 /* the first sample was seen (its memory: the first "capture") */
	double peak_t;		 /* when that was; -INFINITY */
	double every_t;		 /* when the last every=S captures were */
	/* each process's RSS at the last capture, to find which grew most since */
	struct stacks_rss *rss;
	size_t n_rss, alloc_rss;
	bool want_now; /* SIGUSR1: capture every process at the next sample */
	/* heap (--heap --stacks): each thread's heap peak at its last capture, bytes */
	struct stacks_heap *heap;
	size_t n_heap, alloc_heap;
	double heap_t; /* when the last heap capture was; -INFINITY */
	struct strbuf why;
	struct frame_info *merged; /* a thread's native and Python frames merged */
	size_t alloc_merged;
	bool noted_denied;
};

/* The recorder's watcher (record/recorder.h) that runs a struct stacks. */
extern const struct recorder_watcher stacks_watcher;

void stacks_init(struct stacks *st, const struct stacks_options *o, struct procfs *fs);
void stacks_release(struct stacks *st);
/* After each sample: a new peak (peaks), the every=S captures, one asked for (signal). */
void stacks_after_sample(struct stacks *st, const struct sample *s, double t);
/* An event or a span's end from pid (-1 unknown: the command, main) (events). */
void stacks_at_mark(struct stacks *st, pid_t pid, pid_t main, const char *label, size_t len,
		    double t);
/* SIGUSR1: stacks of every process of the tree at the next sample. */
void stacks_ask(struct stacks *st);
/* Captures pid's threads now, for why; the budget is not asked (an explicit request). */
void stacks_capture(struct stacks *st, pid_t pid, enum stack_why why, const char *label, size_t len,
		    double t);
/* Each turn of the loop: lets go of threads that were slow to stop. */
void stacks_tick(struct stacks *st);

#endif
