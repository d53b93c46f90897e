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
 *
 * Senders open the file with channel_open(), which refuses anything but the recording's own
 * file (a directory that anyone can list is re-created by another user once memline removed
 * it). memline makes the channel's place with channel_dir_create() (channel-dir.c), under a
 * base directory only the user can add to when there is one.
 * This module formats and parses lines; it never prints and never exits.
 */
#ifndef MEMLINE_CHANNEL_H
#define MEMLINE_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/strbuf.h"

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

/*
 * Opens the channel at path for sending, when it is the recording's own file: its directory
 * (not a symbolic link) is owned by this process's effective user and has mode 0700, and path
 * in it is a regular file of that user, mode 0600, with one link. Opened O_WRONLY | O_APPEND |
 * O_NONBLOCK | O_CLOEXEC | O_NOCTTY, following no symbolic link at its last two components.
 * Returns the descriptor, or -1 with errno: EPERM when the file or its directory is not the
 * recording's (another user's, a link, the wrong mode), else open(2)'s (ENOENT: the recording
 * ended and removed it). Allocates nothing.
 */
int channel_open(const char *path);
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

/* ---- the channel's place (channel-dir.c) ---- */

struct procfs;

/*
 * The private directory memline makes for a recording's channel:
 * BASE/memline-PID-START-XXXXXX/events, PID and START naming the process that made it (START:
 * its start time, field 22 of /proc/PID/stat), which holds a flock(2) on the directory for as
 * long as it uses it. BASE is $XDG_RUNTIME_DIR when that is a directory of this user with
 * mode 0700, else, for root, /run/memline (only root can add to /run), else /tmp.
 */
struct channel_dir {
	char *dir;
	char *file;
	int lock_fd; /* the directory, flock()ed; -1 when there is none */
};

/*
 * Removes the stale channel directories of this user in the base (those whose process is
 * gone, or is another one with the same pid, and whose lock nobody holds), then creates a new
 * one with an empty channel file, mode 0600. fs reads /proc. Returns 0, or -1 with a message
 * in err (d then holds nothing).
 */
int channel_dir_create(struct channel_dir *d, const struct procfs *fs, struct strbuf *err);
/* Removes the directory with its files (the channel, --heap's counters) and frees d's strings.
 * Safe on a zeroed d. */
void channel_dir_remove(struct channel_dir *d);

/* The base directory channel_dir_create() uses now, into out (replacing its content). */
void channel_dir_base(struct strbuf *out);
/*
 * Removes the stale channel directories of this user in base, as channel_dir_create() does.
 * Never one of another user, one whose process lives, one locked, or one not named like ours.
 * Returns how many it removed.
 */
size_t channel_dir_clean(const char *base, const struct procfs *fs);

#endif
