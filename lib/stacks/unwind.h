/*
 * unwind: native stacks from the copies a grab took (stacks/grab.h), with elfutils'
 * libdwfl, while the threads run on. One session per process: its modules (the files mapped,
 * as /proc/PID/maps lists them, through the procfs layer) reported once and again only when a
 * pc falls outside every module (a library loaded since); the unwinder reads the stack from the
 * copy, anything else (rarely: a signal frame's, the vDSO's) from /proc/PID/mem. Symbols are
 * looked up once per pc and kept: the first lookup in a large binary reads its symbol table and
 * line table (tens of milliseconds), a later one costs a hash probe. Debug information is found
 * as gdb finds it: the binary's own, or by build id or debuglink under /usr/lib/debug.
 */
#ifndef MEMLINE_UNWIND_H
#define MEMLINE_UNWIND_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "log/record.h"
#include "record/procfs.h"
#include "stacks/grab.h"
#include "util/strbuf.h"

/* The most frames one thread's stack gives. */
#define UNWIND_FRAMES_MAX 256

struct unwind_sym; /* a pc's frame, kept (private) */

struct unwinder {
	pid_t pid;
	struct procfs *fs;
	void *dwfl; /* Dwfl *, NULL until the first unwind */
	int mem_fd; /* /proc/PID/mem, -1 */
	bool attached;
	const struct grab_thread *cur; /* the thread being unwound */
	bool reported;		       /* its modules were reported (once, at the first unwind) */
	bool again;		       /* they were reported again during this capture */
	struct unwind_sym **syms;      /* open addressing by pc; cap a power of two */
	size_t cap, used;
	struct frame_info frames[UNWIND_FRAMES_MAX]; /* the last unwind's, innermost first */
};

void unwinder_init(struct unwinder *u, struct procfs *fs, pid_t pid);
void unwinder_release(struct unwinder *u);
/*
 * Unwinds thread t (registers and stack copy of a grab of u->pid) into u->frames: returns how
 * many (pointers into u's cache, valid until unwinder_release). *truncated when the unwind
 * stopped before the outermost frame; why says why, when there is something to say.
 */
size_t unwinder_unwind(struct unwinder *u, const struct grab_thread *t, bool *truncated,
		       struct strbuf *why);
/* A new capture begins: the modules may be reported again once. */
void unwinder_new_capture(struct unwinder *u);

#endif
