/*
 * pyframes: a CPython's frames read from outside the process. The interface only, for now: no
 * Python is recognised yet (py_proc_open returns NULL), so stacks hold the interpreter's native
 * frames alone. The reader replaces this.
 */
#ifndef MEMLINE_PYFRAMES_H
#define MEMLINE_PYFRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/strbuf.h"

struct py_frame {
	const char *fn;
	const char *file;
	int line;
	bool entry;
};
struct py_proc;

static inline struct py_proc *py_proc_open(pid_t pid, struct strbuf *why)
{
	(void)pid;
	(void)why;
	return NULL;
}
static inline void py_proc_free(struct py_proc *py)
{
	(void)py;
}
static inline int py_proc_snapshot(struct py_proc *py, struct strbuf *why)
{
	(void)py;
	(void)why;
	return 0;
}
static inline size_t py_proc_frames(struct py_proc *py, pid_t tid, const struct py_frame **out)
{
	(void)py;
	(void)tid;
	(void)out;
	return 0;
}

#endif
