/*
 * capture: the command's standard output and error, passed through to memline's own unchanged
 * and cut into lines for the log (--capture-output). Each stream goes through a pipe, or through
 * a pseudo-terminal when memline's own stream is a terminal, so the program sees what it would
 * see without memline and keeps line-buffering its output. The read ends raise a realtime
 * signal (F_SETSIG) when data arrives, so the recorder's one wait covers them.
 */
#ifndef MEMLINE_CAPTURE_H
#define MEMLINE_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/strbuf.h"

/* A line longer than this is recorded in pieces of this size. */
#define CAPTURE_LINE_MAX 65536

struct capture_stream {
	const char *name; /* "stdout" or "stderr" */
	int read_fd;	  /* memline's end; -1 once closed */
	int child_fd;	  /* the command's end, until the fork */
	int out_fd;	  /* memline's own stream, where the bytes pass through */
	bool pass;	  /* passing through still works */
	bool quiet;	  /* never passed through: only recorded */
	struct strbuf line;
};

struct capture {
	struct capture_stream s[2];
};

typedef void capture_line_fn(void *data, const char *stream, const char *line, size_t len);

/*
 * Sets up both streams; without pass, what the command writes goes only to the log (a
 * terminal dashboard owns memline's output). Returns -1 with a message in err.
 */
int capture_init(struct capture *c, int signo, bool pass, struct strbuf *err);
/* In the command, after fork: its standard output and error become the capture's. */
void capture_child(struct capture *c);
/* In memline, after fork: closes the command's ends and watches the read ends. */
void capture_parent(struct capture *c, int signo);
/* Passes through what arrived and hands fn each complete line. */
void capture_poll(struct capture *c, capture_line_fn *fn, void *data);
/* Takes what is left, hands fn the last unfinished lines, and stops capturing. */
void capture_finish(struct capture *c, capture_line_fn *fn, void *data);
void capture_release(struct capture *c);

#endif
