/*
 * log reader: the memline log (docs/log-format.md) as readers take it (reports, plots, exports,
 * the live views), decoded with jansson one record a line, skipping (with a warning) corrupt
 * lines and accepting a cut-off last line. It never prints or exits: errors come back as -1
 * with a one-line message in *err.
 */
#ifndef MEMLINE_LOG_READER_H
#define MEMLINE_LOG_READER_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "log/frames.h"
#include "log/record.h"
#include "util/strbuf.h"

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
	REC_STACK,
	REC_FRAMES, /* the reader's own: it keeps the frames; never handed to a caller */
	REC_THREAD,
	REC_HEAP,
	REC_CLOCK, /* format 4: the wall clock paired with the log's time */
	REC_UNKNOWN
};

struct sample_record {
	double t;
	long long avail;
	struct tree_values tree;
	struct proc_values *procs; /* n entries, owned by the record */
	size_t n;
	struct thread_values *threads; /* n_threads rows ("th", format 3), owned; NULL none */
	size_t n_threads;
};

/* A "thread" record: a thread appeared or was renamed (name), or ended (end). */
struct thread_record {
	double t;
	pid_t pid, tid;
	char *name; /* owned; NULL unknown or an end */
	bool end;
};

/* A "heap" record (--heap): a process's heap is counted (on), or why it is not. */
struct heap_record {
	double t;
	pid_t pid;
	bool on;
	char *allocator; /* owned; NULL */
	char *why;	 /* owned; NULL */
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

/*
 * A "stack" record: one thread's stack at a capture (--stacks). Its frames are resolved: the
 * array is the record's, the frames' strings are the reader's (its frame table), valid until
 * log_reader_close. A reader of the records that keeps them longer copies them (or interns
 * them in a table of its own, as the run model does).
 */
struct stack_record {
	double t;
	long capture; /* from 1 */
	enum stack_why why;
	char *label; /* why event: the event's label, NUL-terminated (len bytes, NULs kept), owned;
			NULL none */
	size_t label_len;
	pid_t pid, tid;		   /* tid: pid when the log does not say */
	char *thread;		   /* the thread's name, owned; NULL unknown */
	struct frame_info *frames; /* innermost first, n_frames (see above) */
	size_t n_frames;
	size_t *ids; /* the frames' numbers in the frame table, n_frames */
	bool truncated;
	char *error;	    /* owned; NULL none */
	long long stall_us; /* -1 unknown */
};

/* A "frames" record, decoded, before the reader puts its frames into its frame table. */
struct frames_record {
	size_t first;
	struct frame_info *frames; /* n of them, their strings owned */
	size_t n;
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
	struct stack_record stack;   /* REC_STACK */
	struct frames_record frames; /* REC_FRAMES, inside the reader only */
	struct thread_record thread; /* REC_THREAD */
	struct heap_record heap;     /* REC_HEAP */
	struct clock_info clock;     /* REC_CLOCK */
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
	int thread_pos[THREAD_NFIELDS]; /* in the "th" rows; -1 (a log before format 3) */
	bool seen_header;
	bool truncated; /* the last line was cut off */
	long corrupt;	/* lines skipped as corrupt */
	log_warn_fn *warn;
	void *warn_data;
	size_t fast_hint;	 /* entries of the last sample read by the fast path */
	struct log_ahead *ahead; /* reading ahead on a thread (log_reader_read_ahead), or NULL */
	/*
	 * The log's frames so far, from its "frames" records, applied in log order (when reading
	 * ahead, by the caller's thread as it takes the records), so that a "stack" record finds
	 * every frame written before it.
	 */
	struct frame_table frames;
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
 * the writer died in has none), into rec (released first). A "frames" record goes into the
 * reader's frame table and gives no record (0); a "stack" record's frames are looked up there
 * (a number it does not have: the line is skipped as corrupt). Returns 1
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
