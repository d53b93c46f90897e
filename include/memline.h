/*
 * memline.h: libmemline, the library a program links to mark events and spans on the timeline
 * that `memline run` records of it (see libmemline(3), memline(1) and docs/events.md).
 *
 * Each call appends one line to the event channel, the file named by $MEMLINE_EVENTS that
 * memline gives every process it records, with a single write(2). Without that variable
 * nothing is recording and every call is a silent no-op: a program can call these functions
 * unconditionally. The channel is opened on the first call and its descriptor kept (it is
 * close-on-exec); the environment is not read again after that. It is opened only when it is
 * the recording's own file (a 0600 file of this user in a 0700 directory of this user): else
 * every call fails with EPERM.
 *
 * Every function is thread-safe, may be used in a child after fork() (the child keeps
 * sending on the inherited descriptor), never prints, exits or aborts, and leaves errno as it
 * was unless it returns -1. memline_event() and the span functions never allocate memory.
 *
 * Link with -lmemline (pkg-config --cflags --libs memline).
 */
#ifndef MEMLINE_H
#define MEMLINE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define MEMLINE_API		 __attribute__((visibility("default")))
#define MEMLINE_PRINTF(fmt, arg) __attribute__((format(printf, fmt, arg)))
#else
#define MEMLINE_API
#define MEMLINE_PRINTF(fmt, arg)
#endif

/*
 * The longest label or span name kept, in bytes. A longer one is cut to this length at a
 * UTF-8 character boundary, not rejected.
 */
#define MEMLINE_LABEL_MAX 1024

/* The environment variable naming the event channel; unset when nothing is recording. */
#define MEMLINE_EVENTS_ENV "MEMLINE_EVENTS"

/*
 * Marks an event: label at this moment, from this process and thread. The label is any text
 * (newlines, backslashes and invalid UTF-8 included, all sent as they are); NULL is taken as
 * "". Returns 0 when the event was sent, and 0 as well when nothing is recording; -1 with
 * errno set when it could not be sent: the channel could not be opened (ENOENT: its directory
 * is gone; EPERM: it is not the recording's own file; every later call returns -1 at once with
 * the same errno) or the write failed (say ENOSPC).
 */
MEMLINE_API int memline_event(const char *label);

/*
 * memline_event() with the label formatted as by printf(3). Output longer than
 * MEMLINE_LABEL_MAX bytes is cut (at a UTF-8 character boundary). A NULL fmt is taken as "".
 * Returns as memline_event(), and -1 (EILSEQ, EOVERFLOW) when the format cannot be expanded.
 */
MEMLINE_API int memline_eventf(const char *fmt, ...) MEMLINE_PRINTF(1, 2);

/*
 * Opens a span called name on the calling thread: a phase that lasts until the matching
 * memline_span_end(name) from the same thread. Spans nest; a span still open when the
 * recording ends ends with it. NULL is taken as "". Returns as memline_event().
 */
MEMLINE_API int memline_span_begin(const char *name);

/*
 * Closes the innermost span called name that is open on the calling thread. An end with no
 * open span of that name is ignored by memline. NULL is taken as "". Returns as
 * memline_event().
 */
MEMLINE_API int memline_span_end(const char *name);

/*
 * Self-recording: records the calling process and every process it starts from now on to
 * log_path (NULL: memline-NAME-YYYYMMDD-HHMMSS.jsonl in the current directory), as
 * `memline run` would, until memline_stop(). interval is the sampling interval in seconds;
 * 0 (or less) chooses memline's adaptive schedule. The recording runs in a thread of its own
 * that blocks every signal, reaps nothing and never prints. This process's events and spans,
 * from any thread, and those of the children it forks go to the recording's own channel. The
 * environment is not changed (setenv is not safe in a threaded program): a child that execs
 * another program sends there only if the host gives it memline_channel() as $MEMLINE_EVENTS.
 * It returns once the first sample is taken, so the log has a baseline from before what the
 * caller does next. As with `memline run`, reading a process's peak resets its high-water mark,
 * so this process's getrusage() ru_maxrss is the peak since the last sample. Returns 0, or -1
 * with errno set (EBUSY: already recording; EINVAL: an interval below 1 ms or above a day) and
 * a message in memline_last_error(). An existing log at log_path is replaced only once the
 * recording has begun; on failure it is left as it was.
 */
MEMLINE_API int memline_start(const char *log_path, double interval);

/* memline_start_with()'s flags. */
/*
 * Count the live heap of each thread of this process (and of the children it forks), as
 * `memline run --heap` does: needs libmemline-heap.so in the process from its start
 * (LD_PRELOAD=/path/to/libmemline-heap.so, installed in PREFIX/lib/memline): ENOTSUP without
 * it. Blocks allocated before the call are not counted (nor their frees).
 */
#define MEMLINE_HEAP 1u

/*
 * memline_start() with flags: 0, or MEMLINE_HEAP. EINVAL for an unknown flag; ENOTSUP for
 * MEMLINE_HEAP in a process without the heap library.
 */
MEMLINE_API int memline_start_with(const char *log_path, double interval, unsigned flags);

/*
 * Ends the self-recording: writes the log's end record (status completed; the process is
 * still running, so it is listed alive). Events sent from then on go where they went before
 * memline_start(): the channel named by $MEMLINE_EVENTS, or nowhere. Returns 0, or -1 with
 * errno set (ESRCH: nothing was recording; EIO: the log could not be written in full) and a
 * message in memline_last_error().
 */
MEMLINE_API int memline_stop(void);

/*
 * The path of the self-recording's event channel, for the host to give the programs it starts
 * as $MEMLINE_EVENTS (in the envp of execve(2) or posix_spawn(3), or with setenv(3) while it
 * has no other thread). Copies it into buf (at most size - 1 bytes, NUL-terminated, when size
 * is not 0) and returns its length, as snprintf(3) does: the path was cut when the result is
 * size or more. Returns 0 (buf "") when memline_start() is not recording. The path names a
 * file that memline_stop() removes.
 */
MEMLINE_API size_t memline_channel(char *buf, size_t size);

/* The message of the calling thread's last failed memline_start() or memline_stop(), or "". */
MEMLINE_API const char *memline_last_error(void);

#ifdef __cplusplus
}
#endif

#endif
