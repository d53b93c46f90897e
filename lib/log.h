/*
 * log: the memline log (JSON Lines, docs/log-format.md), written and read. The writer encodes
 * the structs of record.h, buffers them and writes them out at least once a second; it holds an
 * exclusive flock on the file while recording. The reader decodes one record a line, skipping
 * (with a warning) corrupt lines and accepting a cut-off last line.
 * Neither ever prints or exits: errors come back as -1 with a one-line message in *err.
 */
#ifndef MEMLINE_LOG_H
#define MEMLINE_LOG_H

#include <stdio.h>
#include <sys/types.h>

#include "record.h"
#include "strbuf.h"

/* ---- writer ---- */

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
void log_write_sample(struct log_writer *w, double t, long long avail,
		      const struct tree_values *tree, const struct proc_values *procs, size_t n);
void log_write_exit(struct log_writer *w, const struct exit_info *e);
void log_write_mark(struct log_writer *w, const struct mark_info *m);
/* A line the command wrote to "stdout" or "stderr" (--capture-output). */
void log_write_output(struct log_writer *w, double t, const char *stream, const char *text,
		      size_t len);
/* A limit of the recording, said once (docs/log-format.md, "warning"); pid 0 for none. */
void log_write_warning(struct log_writer *w, double t, const char *code, pid_t pid,
		       const char *text);
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

/* ---- reader ---- */

/*
 * The longest line a reader takes, newline excluded. A sample of a 10,000-process tree is about
 * 1 MB; this leaves room for trees sixty times larger and for the longest command lines Linux
 * allows. A longer line is damage: it is read past in blocks, never held, and skipped as
 * corrupt (docs/reading.md).
 */
#define LOG_LINE_MAX ((size_t)64 << 20)
/*
 * The longest label, span name or error message a reader keeps, in bytes: the event channel's
 * own cap (CHANNEL_LABEL_MAX; a unit test keeps them equal). Longer ones, which only another
 * writer makes, are cut at a UTF-8 boundary.
 */
#define LOG_LABEL_MAX 1024
/* The longest output line a reader keeps: the capture's own cap (CAPTURE_LINE_MAX). */
#define LOG_OUTPUT_MAX 65536

enum record_type {
	REC_HEADER,
	REC_PROC,
	REC_EXEC,
	REC_SAMPLE,
	REC_EXIT,
	REC_END,
	REC_EVENT,
	REC_SPAN,
	REC_OUTPUT,
	REC_STOPPED,
	REC_WARNING,
	REC_UNKNOWN
};

struct sample_record {
	double t;
	long long avail;
	struct tree_values tree;
	struct proc_values *procs; /* n entries, owned by the record */
	size_t n;
};

/* An event, or one end of a span. */
struct mark_record {
	enum mark_kind kind;
	double t;
	char *text;	/* the label or span name, NUL-terminated, owned by the record */
	size_t len;	/* bytes of text: it may hold NULs (\u0000 in the log) */
	pid_t pid, tid; /* -1 unknown */
};

/* A line the command wrote (--capture-output). */
struct output_record {
	double t;
	bool err;   /* stderr, else stdout */
	char *text; /* the line without its newline, NUL-terminated, owned by the record */
	size_t len; /* bytes of text (UTF-8; it may hold NULs) */
};

/*
 * A "stopped" record (the writer could write nothing after it: code is the errno name, text
 * the error) or a "warning" record (a limit of the recording: code names it, text says it).
 */
struct note_record {
	double t;
	char *code; /* NUL-terminated, owned; "" when absent */
	char *text; /* NUL-terminated, owned; "" when absent */
	pid_t pid;  /* warning: the process it is about; -1 none */
};

struct log_record {
	enum record_type type;
	long line;
	struct header_info header;
	struct proc_info proc; /* REC_PROC and REC_EXEC */
	struct sample_record sample;
	struct exit_info exit;
	struct end_info end;
	/* REC_EVENT and REC_SPAN: kind is MARK_EVENT, MARK_SPAN_BEGIN or MARK_SPAN_END */
	struct mark_record mark;
	struct output_record output; /* REC_OUTPUT */
	struct note_record note;     /* REC_STOPPED, REC_WARNING */
	/* REC_END: its "error" (owned, NULL when absent; end_error_len bytes, NULs kept) and
	 * "events" (-1 when absent) members */
	char *end_error;
	size_t end_error_len;
	long end_events;
};

typedef void log_warn_fn(void *data, const char *path, long line, const char *msg);

struct log_reader {
	int fd; /* the log; -1 for a reader set up with log_reader_init */
	char *path;
	long line;
	char *blk; /* bytes read from fd: blk[blk_pos .. blk_len) not yet taken */
	size_t blk_pos, blk_len;
	struct strbuf pending;	    /* a line that spans blocks */
	bool at_end;		    /* fd gave its last byte: read no more */
	int proc_pos[PROC_NFIELDS]; /* position of each field in this log's arrays, or -1 */
	int state_pos;
	int tree_pos[TREE_NFIELDS];
	bool seen_header;
	bool truncated; /* the last line was cut off */
	long corrupt;	/* lines skipped as corrupt */
	log_warn_fn *warn;
	void *warn_data;
	size_t fast_hint;	 /* entries of the last sample read by the fast path */
	struct log_ahead *ahead; /* reading ahead on a thread (log_reader_read_ahead), or NULL */
};

/*
 * Opens path for reading; warn (may be NULL) is told of every skipped line. Refuses, before
 * reading a byte, what is not a regular file (a FIFO, a device such as /dev/zero, a directory,
 * a socket): it is opened without blocking, so a FIFO never holds the caller up. Returns 0, or
 * -1 with a one-line message in err.
 */
int log_reader_open(struct log_reader *r, const char *path, log_warn_fn *warn, void *warn_data,
		    struct strbuf *err);
/*
 * Opens path read-only for a reader of logs, as log_reader_open does: without blocking, and
 * refusing what is not a regular file. Returns the descriptor, or -1 with a message in err.
 */
int log_open_file(const char *path, struct strbuf *err);
/*
 * Sets up a reader without a file, for a caller that reads the lines itself and hands them to
 * log_reader_parse (a follower of a growing log). path names the log in messages.
 */
int log_reader_init(struct log_reader *r, const char *path, log_warn_fn *warn, void *warn_data,
		    struct strbuf *err);
/*
 * Decodes one line of n bytes, its newline included when it has one (the last line of a log
 * the writer died in has none), into rec (released first). Returns 1
 * with a record, 0 when the line gave none (skipped with a warning, or a cut-off last line:
 * r->truncated), -1 on an error that stops reading (the first line is not a header, a newer
 * format, out of memory).
 */
int log_reader_parse(struct log_reader *r, const char *line, size_t n, struct log_record *rec,
		     struct strbuf *err);
/*
 * For a caller that reads the lines itself: the next line was longer than LOG_LINE_MAX and was
 * read past. It counts as a line, skipped as corrupt with a warning, or, when the log ended in
 * it (at_end), as a cut-off last line (r->truncated). Returns 0, or -1 when it was the first
 * line: then this is not a log.
 */
int log_reader_skip_long(struct log_reader *r, bool at_end, struct strbuf *err);
/*
 * Reads the next record into rec (released first). Returns 1 with a record, 0 at the end,
 * -1 on an error that stops reading (not a log, a newer format, I/O error).
 */
int log_reader_next(struct log_reader *r, struct log_record *rec, struct strbuf *err);
/*
 * For loading a large log: reads the first record into first, as log_reader_next would, then
 * decodes the rest on threads of their own while the caller works on the records it took.
 * Call once, instead of the first log_reader_next. The reader's fields (truncated, corrupt,
 * line) are final once log_reader_next returned 0 or -1. Returns like log_reader_next; when
 * the threads cannot start, the reader simply reads on by itself.
 */
int log_reader_read_ahead(struct log_reader *r, struct log_record *first, struct strbuf *err);
void log_record_init(struct log_record *rec);
void log_record_release(struct log_record *rec);
/* Frees what the reader holds; a reader left all zero (never set up) is left alone. */
void log_reader_close(struct log_reader *r);
/* True when a memline still holds the log's write lock (the recording is running). */
bool log_is_being_written(const char *path);

void header_info_release(struct header_info *h);
void end_info_release(struct end_info *e);

#endif
