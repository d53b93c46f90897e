/*
 * stacks: the stack captures of a run (--stacks, docs/log-format.md "stack"), as readers see
 * them: each capture (when, which process, why) with its threads' stacks, and the distinct
 * stacks of the whole run, a stack being its sequence of frames: threads and captures whose
 * stacks are the same share one group, which counts them. Frames are kept once each in the
 * model's own frame table (strings owned there), so the model outlives the log reader.
 */
#ifndef MEMLINE_MODEL_STACKS_H
#define MEMLINE_MODEL_STACKS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "log/frames.h"
#include "log/reader.h"
#include "log/record.h"
#include "util/strbuf.h"

/* One thread's stack in a capture. */
struct run_stack {
	pid_t tid;
	char *thread;	    /* its name, owned; NULL unknown */
	size_t group;	    /* index into run_stacks.groups: its frames */
	bool truncated;	    /* the unwind stopped before the outermost frame */
	char *error;	    /* why there are no frames, or fewer; owned, NULL none */
	long long stall_us; /* -1 unknown */
};

/* One capture: the stacks of one process's threads at one moment. */
struct run_capture {
	double t;
	long number; /* the log's capture number, from 1 */
	enum stack_why why;
	char *label; /* why event: the event's label (label_len bytes, NULs kept), owned; NULL */
	size_t label_len;
	pid_t pid;
	struct run_stack *stacks; /* in the order of the log */
	size_t n_stacks, alloc_stacks;
};

/* A distinct stack: a sequence of frames, and how many thread stacks of the run were it. */
struct run_stack_group {
	size_t *frames; /* numbers in run_stacks.frames, innermost first */
	size_t n_frames;
	long count;
};

struct run_stacks {
	struct frame_table frames;
	struct run_capture *captures; /* in the order of the log (the order of their times) */
	size_t n_captures, alloc_captures;
	struct run_stack_group *groups; /* in the order they first appeared */
	size_t n_groups, alloc_groups;
	size_t *group_index; /* private: open addressing over groups, index + 1, 0 empty */
	size_t group_slots;
};

void run_stacks_init(struct run_stacks *st);
void run_stacks_release(struct run_stacks *st);
/*
 * Adds a stack record: to the capture it belongs to (the last one with its number and pid,
 * else a new one). Its frames are copied into the model. Returns -1 only when out of memory.
 */
int run_stacks_add(struct run_stacks *st, const struct stack_record *s);
/* Frame k of group g (innermost first). */
const struct frame_info *run_stacks_frame(const struct run_stacks *st, size_t g, size_t k);
/*
 * The capture that shows the job at its peak, at time peak_t: the last "peak" capture at or
 * before it, else the capture nearest to it; -1 when there is none.
 */
long run_stacks_at(const struct run_stacks *st, double peak_t);
/*
 * How people see a frame, escaped with text_escape: "grow (solver.c:41)", "grow (libfoo.so.1)"
 * without a line, "libfoo.so.1+0x11e00" without a symbol, Python's "load_batch (train.py:88)";
 * files and modules by their base name.
 */
void run_frame_name(const struct frame_info *f, struct strbuf *out);
/* The same, not escaped (for a JSON string or an HTML page, which escape it their way). */
void run_frame_name_raw(const struct frame_info *f, struct strbuf *out);

#endif
