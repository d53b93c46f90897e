/*
 * live: one followed log shared by the live views of a recording: the terminal dashboard
 * (tui.h) and the HTTP server (http.h) read the same model while a thread of its own keeps it
 * up to date (follow.h), polling the log LIVE_POLL times a second.
 *
 * Readers take the lock (live_lock/live_unlock) around every look at live->follow.run, and
 * hold it briefly: copy or render what they need, then let go. live_wait() sleeps until the
 * model changes, for a reader that pushes changes (the server-sent-events stream).
 *
 * The thread blocks every signal (it is started with all signals blocked), so the recorder's
 * sigtimedwait keeps receiving them.
 */
#ifndef MEMLINE_LIVE_H
#define MEMLINE_LIVE_H

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "model/follow.h"
#include "util/strbuf.h"

#define LIVE_POLL 20 /* polls of the log a second */
/*
 * The process-sample fields the views read: the dashboard's table and chart, /metrics, and
 * the live page's lines (its metric, RSS, and CPU%; its thread view's heap); the others are
 * left out of the model, so an hour of a large tree stays small.
 */
#define LIVE_FIELDS                                                                           \
	(RUN_FIELD(PF_RSS) | RUN_FIELD(PF_PEAK) | RUN_FIELD(PF_UTIME) | RUN_FIELD(PF_STIME) | \
	 RUN_FIELD(PF_THREADS) | RUN_FIELD(PF_HEAP))

struct live {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct follow follow;  /* guarded by lock */
	unsigned long version; /* guarded by lock: bumped when the model changes */
	bool finished;	       /* guarded by lock: the recording has ended (follow_finished) */
	struct strbuf error;   /* guarded by lock: why following stopped, if it did */
	bool stop;	       /* guarded by lock: live_stop() asks the thread to end */
	bool follow_on;	       /* keep reading as the log grows, else read it once */
	pthread_t thread;
	bool started;
};

/*
 * Opens path, reads what it holds and, with follow, starts the thread that keeps reading it
 * as it grows. Returns -1 with a one-line message in err (the log cannot be opened or is not a
 * memline log); l must then not be used.
 */
int live_start(struct live *l, const char *path, bool follow, struct strbuf *err);
/*
 * Starts a thread of the live views with every signal blocked: signals stay with the thread
 * that waits for them (the recorder's, or memline view's main thread). Returns 0 or an errno
 * value, as pthread_create.
 */
int live_spawn(pthread_t *t, void *(*fn)(void *), void *arg);
/* Stops the thread and frees everything. */
void live_stop(struct live *l);

void live_lock(struct live *l);
void live_unlock(struct live *l);
/* The time secs from now, as the deadline of a pthread_cond_timedwait on live->changed. */
struct timespec live_deadline(double secs);
/*
 * With the lock held: waits until the version differs from seen, the recording has finished,
 * live_stop() was called, or timeout seconds passed. Returns the version.
 */
unsigned long live_wait(struct live *l, unsigned long seen, double timeout);

#endif
