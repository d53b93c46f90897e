/*
 * channel: the event channel between a recorded program and memline (docs/events.md). It is a
 * regular file, private to the user, that senders append one line to per message, with a
 * single write(2) on a descriptor opened O_APPEND: concurrent senders never interleave or lose
 * lines, sending never waits for memline, and with memline gone it is a harmless append.
 *
 *   plain line:       LABEL\n                            an event, timed when memline reads it
 *   structured line:  \x1e KIND BOOTTIME_NS PID TID TEXT\n  (no spaces around \x1e; see below)
 *
 * KIND is E (event), B (span begin), X (span end) or S (final status, for self-recording).
 * TEXT escapes backslash, newline and carriage return as \\, \n, \r.
 * This module formats and parses lines; it never prints and never exits.
 */
#ifndef MEMLINE_CHANNEL_H
#define MEMLINE_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "strbuf.h"

/* Environment variables a recorded program finds the channel by. */
#define CHANNEL_ENV	"MEMLINE_EVENTS"
#define CHANNEL_PID_ENV "MEMLINE_PID"

/* Longest label or name kept, in bytes; longer ones are cut at a UTF-8 boundary. */
#define CHANNEL_LABEL_MAX 1024

enum channel_kind {
	CHANNEL_EVENT = 'E',
	CHANNEL_BEGIN = 'B',
	CHANNEL_END = 'X',
	CHANNEL_STATUS = 'S',
};

/* ---- sending ---- */

/* Opens the channel named by $MEMLINE_EVENTS for sending; -1 when there is none. */
int channel_open_env(void);
/*
 * Sends one message on fd: one line, one write(2), stamped with CLOCK_BOOTTIME, the caller's
 * pid and tid. text is cut to CHANNEL_LABEL_MAX bytes. Returns 0, or -1 with errno.
 */
int channel_send(int fd, enum channel_kind kind, const char *text, size_t len);
/* The same, naming another sender: `memline event` speaks for the shell that runs it. */
int channel_send_as(int fd, enum channel_kind kind, const char *text, size_t len, pid_t pid,
		    pid_t tid);

/* ---- receiving ---- */

struct channel_msg {
	enum channel_kind kind;
	double t;	  /* CLOCK_BOOTTIME seconds when sent; < 0 when the line did not say */
	pid_t pid, tid;	  /* -1 when unknown */
	const char *text; /* NUL-terminated, valid until the next message */
	size_t len;
};

/*
 * Parses one line (without its newline) into m, unescaping the text into scratch. A line
 * that is not a well-formed structured line is a plain event: its whole text is the label.
 */
void channel_parse(const char *line, size_t len, struct channel_msg *m, struct strbuf *scratch);

struct channel_reader {
	int fd;
	off_t off;	       /* how far the file has been read */
	struct strbuf partial; /* a line not yet complete */
	struct strbuf scratch;
};

/* Opens path for reading from its start. Returns -1 with a message in err. */
int channel_reader_open(struct channel_reader *r, const char *path, struct strbuf *err);
/* Reads what was appended since the last call and hands fn each complete message. */
size_t channel_reader_poll(struct channel_reader *r,
			   void (*fn)(void *data, const struct channel_msg *m), void *data);
void channel_reader_close(struct channel_reader *r);

#endif
