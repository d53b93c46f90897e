/*
 * log writer: the memline log (JSON Lines, docs/log-format.md) as a recording writes it. It
 * encodes the structs of log/record.h, buffers them and writes them out at least once a
 * second; it holds an exclusive flock on the file while recording. It never prints or exits:
 * errors come back as -1 with a one-line message in *err.
 */
#ifndef MEMLINE_LOG_WRITER_H
#define MEMLINE_LOG_WRITER_H

#include <stdbool.h>
#include <sys/types.h>

#include "log/frames.h"
#include "log/record.h"
#include "util/strbuf.h"

/*
 * A log is never lost to a recording that does not start. log_writer_open() only looks at what
 * is at the path: nothing, or a memline log that no other memline writes, which it then keeps
 * locked (flock LOCK_EX) so that no second memline starts on it. The records go to a hidden
 * temporary file beside it (".NAME.XXXXXX", locked too), and log_writer_commit() renames that
 * file onto the path once the recording has begun; until then a failure removes only the
 * temporary file. Space for a last record is kept allocated past the end of the file
 * (fallocate FALLOC_FL_KEEP_SIZE), so that when the file system fills up the log still gets a
 * "stopped" record saying why it ends there.
 */
struct log_writer {
	int fd;	      /* the file written: the temporary one until committed */
	char *path;   /* where the log is, or goes (exclusive: the free name chosen) */
	char *tmp;    /* the temporary file's name until committed, else NULL */
	char *target; /* what the commit replaces: path, or the file a symbolic link there names */
	int old_fd;   /* the log at target when opened, locked until it is replaced; -1 */
	mode_t mode;  /* of the log replaced, given to the new one */
	bool exclusive;
	char *stem;	 /* exclusive: path without ".jsonl"; the names tried are STEM-N.jsonl */
	const char *ext; /* exclusive: ".jsonl", or "" when path did not end in it */
	int suffix;	 /* exclusive: the N of path (1: no suffix) */
	bool committed;
	bool at_tmp; /* committed, but the log could not be put at the path: it is at w->path */
	struct strbuf buf;
	long buf_samples, buf_marks; /* sample and mark records in buf, not yet written */
	double t0;	   /* CLOCK_BOOTTIME seconds of the recording's start (for "stopped") */
	double last_write; /* CLOCK_BOOTTIME seconds of the last write */
	double flush_secs; /* the longest a record waits in buf: 0.5 s unless set after opening */
	double last_sync;
	long samples;	 /* sample records written */
	long marks;	 /* event and span records written */
	off_t size;	 /* bytes written */
	off_t reserved;	 /* the file has space allocated up to here (>= size); 0 none */
	bool no_reserve; /* the file system cannot preallocate */
	bool failed;	 /* writing stopped; later records are dropped, see err_msg */
	bool stopped;	 /* a "stopped" record says why; the end record may still follow */
	bool removed;	 /* the log was deleted while being written */
	bool moved;	 /* at close: path no longer names the log (renamed or replaced) */
	struct strbuf err_msg;
	bool stacks_asked;	   /* the header has "stacks": the end may have them too */
	struct frame_table frames; /* the frames written so far (log_write_stack) */
	size_t *stack_ids;	   /* room for a stack's frame numbers */
	size_t stack_ids_alloc;
};

/*
 * Prepares to write a log at path: fails, touching nothing, when path is a directory or a
 * file that is not a memline log (an empty file counts as one), another memline writes it,
 * or it cannot be written or replaced; else creates and locks the temporary file beside it.
 * A symbolic link at path is followed: the file it names is what gets replaced. With
 * exclusive (a generated name), nothing is ever replaced: path, else the first free of
 * STEM-2.jsonl, STEM-3.jsonl ... (STEM: path without ".jsonl") is the name, w->path.
 */
int log_writer_open(struct log_writer *w, const char *path, bool exclusive, struct strbuf *err);
/*
 * Writes what is buffered (the header, at least) into the temporary file and renames it onto
 * w->path: the recording has begun. now is CLOCK_BOOTTIME seconds. With exclusive, a name
 * taken meanwhile moves the log to the next free one (w->path says which). Returns -1 with a
 * message when the log could not be written (it is then removed, and whatever was at the path
 * kept; later records are dropped) or not put at the path (it is kept at its temporary name,
 * which w->path then is).
 */
int log_writer_commit(struct log_writer *w, double now, struct strbuf *err);
void log_write_header(struct log_writer *w, const struct header_info *h);
void log_write_proc(struct log_writer *w, const struct proc_info *p);
void log_write_exec(struct log_writer *w, const struct proc_info *p);
/* A sample: the tree, its processes, and the rows of the threads that changed (th, n_th). */
void log_write_sample(struct log_writer *w, double t, long long avail,
		      const struct tree_values *tree, const struct proc_values *procs, size_t n,
		      const struct thread_values *th, size_t n_th);
/* A thread appeared, was renamed or ended (docs/log-format.md, "thread"). */
void log_write_thread(struct log_writer *w, const struct thread_info *th);
/* Whether a process's heap is counted, or why not (--heap; "heap"). */
void log_write_heap(struct log_writer *w, const struct heap_info *h);
void log_write_exit(struct log_writer *w, const struct exit_info *e);
void log_write_mark(struct log_writer *w, const struct mark_info *m);
/* A line the command wrote to "stdout" or "stderr" (--capture-output). */
void log_write_output(struct log_writer *w, double t, const char *stream, const char *text,
		      size_t len);
/*
 * A "clock" record: the wall clock at the log's time c->t (format 4), which readers merging
 * many logs align them on.
 */
void log_write_clock(struct log_writer *w, const struct clock_info *c);
/* A limit of the recording, said once (docs/log-format.md, "warning"); pid 0 for none. */
void log_write_warning(struct log_writer *w, double t, const char *code, pid_t pid,
		       const char *text);
/*
 * One thread's stack of a capture: a "frames" record first with the frames no stack had
 * before (numbered on from the last), then the "stack" record, its frames as numbers.
 */
void log_write_stack(struct log_writer *w, const struct stack_info *s);
/*
 * The end record. Its "stacks" (the captures' counts) are written when e->stacks.captures >= 0
 * and the header asked for stacks (header_info.stacks_when): a recording without --stacks
 * sets captures to -1, and an end_info left zero by one that does not know of stacks (a
 * self-recording) writes none either.
 */
void log_write_end(struct log_writer *w, const struct end_info *e);
/*
 * Writes buffered records if force, if flush_secs have passed since the last write, or if the
 * buffer is large; syncs at most once a second. now is CLOCK_BOOTTIME seconds. When a write
 * fails (a full file system) or the log was deleted, writing stops for good: the error is
 * returned now and by every later call, and records are dropped; where the file is still
 * there, a "stopped" record (written into the space kept for it) says why.
 */
int log_writer_flush(struct log_writer *w, double now, bool force, struct strbuf *err);
/* When (CLOCK_BOOTTIME seconds) buffered records are due to be written; INFINITY if none are. */
double log_writer_due(const struct log_writer *w);
/*
 * Flushes (after a stop, tries the end record alone), gives back the space kept, syncs,
 * notes whether the log was removed or moved (w->removed, w->moved), unlocks, closes and
 * frees. Those flags and the counters stay readable; w->path does not (copy it before).
 */
int log_writer_close(struct log_writer *w, struct strbuf *err);
/*
 * For a recording that never started (before log_writer_commit, or after one that could not
 * put the log in place): removes the temporary file, leaves whatever is at the path as it
 * was, and frees everything.
 */
void log_writer_discard(struct log_writer *w);

/*
 * The default log name for a command: memline-NAME-YYYYMMDD-HHMMSS.jsonl in the current
 * directory (NAME: the command's base name, made safe). Whether it is free is for
 * log_writer_open with exclusive to find out (NAME-...-2.jsonl and on). The caller owns the
 * result; NULL when out of memory.
 */
char *log_default_name(const char *command);

#endif
