/*
 * pyframes: the Python frames of every thread of a CPython process, read from outside it with
 * process_vm_readv. py_proc_open() finds the interpreter's _PyRuntime symbol (libelf) in the
 * executable or in a libpython mapped into the process, the load bias from /proc/PID/maps, and
 * the version from Py_Version in the process's memory; it knows the layout of 3.11 on x86_64
 * (struct py_layout) and refuses other versions with a reason. py_proc_snapshot(), run while
 * the caller holds the process stopped, copies only addresses (code object, instruction, is
 * the frame an entry) of each thread's frame chain; py_proc_frames(), after the process runs
 * again, turns them into names, files and lines, reading each code object's strings and
 * location table once and caching them. Nothing read from the target is trusted: every read
 * is bounded, chains are cut at PY_MAX_FRAMES frames and PY_MAX_THREADS threads. See
 * docs/python-frames.md.
 */
#ifndef MEMLINE_PYFRAMES_H
#define MEMLINE_PYFRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "record/procfs.h"
#include "util/strbuf.h"

#define PY_MAX_FRAMES  1024 /* a thread's chain is cut there */
#define PY_MAX_THREADS 4096 /* an interpreter's thread list too */

struct py_frame {
	const char *fn;	  /* co_qualname (or co_name) */
	const char *file; /* co_filename */
	int line;	  /* the line being run (from the location table), 0 unknown */
	bool entry; /* the first Python frame of its _PyEval_EvalFrameDefault call (is_entry) */
};

struct py_proc; /* opaque: one per process, keeps caches (code object -> fn/file/linetable) */

/*
 * Looks at pid. NULL when it does not run a CPython memline reads: *why (may be NULL) gets one
 * line when it is a Python memline cannot read ("python 3.9 (libpython3.9.so.1.0): not a
 * version memline reads: 3.11"; "cannot read process 123's memory: Operation not permitted"),
 * or when pid cannot be looked at (it exited, its maps are not ours to read); it stays empty
 * when pid is simply not Python. The caller owns the result (py_proc_free()); once pid
 * execs, the result describes a program that is gone: free it and open pid again.
 */
struct py_proc *py_proc_open(struct procfs *fs, pid_t pid, struct strbuf *why);
void py_proc_free(struct py_proc *py);
/*
 * Called while pid's threads are stopped (the caller stopped them): walks the interpreters'
 * thread states and copies each frame chain (code object address, instruction pointer,
 * is_entry), no string reads, a few system calls per thread: this is the time the job is
 * stopped. Returns the number of Python threads, or -1 with why (memory unreadable: the
 * process exited, a state that makes no sense). A runtime not yet initialised has 0 threads.
 */
int py_proc_snapshot(struct py_proc *py, struct strbuf *why);
/*
 * After the threads run again: thread tid's Python frames of the last snapshot, innermost
 * first, resolved (names and line tables read once per code object and cached; a name that
 * cannot be read is "?"). Valid until the next snapshot or py_proc_free(). Returns how many
 * (0: tid ran no Python code, or is not a thread of the interpreter).
 */
size_t py_proc_frames(struct py_proc *py, pid_t tid, const struct py_frame **out);

/*
 * For tests and for docs/python-frames.md: where the fields memline reads are in a version's
 * structures (byte offsets; sizes in bytes), one table per version it knows.
 */
struct py_layout {
	unsigned version; /* 0x030b: major << 8 | minor */
	size_t runtime_interpreters_head;
	size_t interp_next, interp_threads_head;
	size_t tstate_next, tstate_native_thread_id, tstate_cframe, tstate_size;
	size_t tstate_datastack_chunk, tstate_datastack_top; /* where most frames live */
	size_t cframe_current_frame;
	size_t frame_code, frame_previous, frame_prev_instr, frame_is_entry, frame_owner;
	size_t frame_size;
	size_t code_filename, code_name, code_qualname, code_firstlineno, code_linetable;
	size_t code_firsttraceable, code_code_adaptive;
	size_t bytes_size, bytes_sval;
	size_t unicode_length, unicode_state, ascii_size, compact_utf8_length, compact_utf8,
		compact_size;
	unsigned state_kind_shift, state_compact_shift, state_ascii_shift, state_ready_shift;
	unsigned owner_generator, owner_max; /* owner values: the generator's, the highest */
};

/*
 * For tests: a py_proc that takes runtime as the address of pid's _PyRuntime, laid out as
 * version (0x030b) says, without looking at any file. NULL for an unknown version.
 */
struct py_proc *py_proc_at(pid_t pid, uint64_t runtime, unsigned version);
/* The layout of major.minor (0x030b), NULL for a version memline does not read. */
const struct py_layout *py_layout_find(unsigned version);
/*
 * The line of code unit lasti in a 3.11 location table (tab, n bytes) of a code object whose
 * first line is firstline; 0 when the table has no line for it or is malformed.
 */
int py_linetable_line(const unsigned char *tab, size_t n, int firstline, long lasti);

#endif
