/*
 * api: libmemline's public functions (include/memline.h): events and spans, thin wrappers around
 * channel_send(); and self-recording, memline_start() and memline_stop() around the recorder's
 * self mode.
 *
 * The channel is opened on the first call and its descriptor kept in one atomic int, so a send
 * is one load, the formatting of one line and one write(2). There is no lock: two threads
 * that open the channel at once both open it, one wins the compare-and-swap and the other
 * closes its descriptor; and a fork() can never leave a child stuck on a lock its parent held.
 * The child inherits the descriptor (same open file, O_APPEND) and keeps sending on it.
 */
#include "memline.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "log.h"
#include "recorder.h"

_Static_assert(MEMLINE_LABEL_MAX == CHANNEL_LABEL_MAX, "memline.h and channel.h disagree");

/*
 * The channel's state:
 *   >= 0                the descriptor to send on
 *   STATE_OFF           nothing is recording ($MEMLINE_EVENTS unset or empty)
 *   STATE_UNOPENED      not looked at yet
 *   STATE_FAILED - e    opening it failed with errno e (every later send fails with e)
 */
#define STATE_UNOPENED INT_MIN
#define STATE_OFF      (-1)
#define STATE_FAILED   (-2)

static atomic_int api_state = STATE_UNOPENED;

/* The state, opening the channel on the first call. Leaves errno as it was. */
static int api_state_get(void)
{
	int s = atomic_load(&api_state);
	if (s != STATE_UNOPENED)
		return s;
	int saved = errno;
	const char *path = getenv(CHANNEL_ENV);
	if (!path || !*path) {
		s = STATE_OFF;
	} else {
		s = channel_open_env();
		if (s < 0)
			s = STATE_FAILED - (errno > 0 ? errno : EIO);
	}
	int expected = STATE_UNOPENED;
	if (!atomic_compare_exchange_strong(&api_state, &expected, s)) {
		/* Another thread got there first: use its result. */
		if (s >= 0)
			close(s);
		s = expected;
	}
	errno = saved;
	return s;
}

/*
 * Whether a send can go ahead: 1 with *fd set when recording, 0 when nothing records, -1
 * with errno when the channel could not be opened.
 */
static int api_ready(int *fd)
{
	int s = api_state_get();
	if (s >= 0) {
		*fd = s;
		return 1;
	}
	if (s == STATE_OFF)
		return 0;
	errno = STATE_FAILED - s;
	return -1;
}

static int send_text(int fd, enum channel_kind kind, const char *text, size_t len)
{
	int saved = errno;
	errno = 0;
	if (channel_send(fd, kind, text, len) < 0) {
		/* A short write (a disk that filled up mid-line) sets no errno. */
		if (!errno)
			errno = EIO;
		return -1;
	}
	errno = saved;
	return 0;
}

static int send_str(enum channel_kind kind, const char *text)
{
	int fd, ready = api_ready(&fd);
	if (ready <= 0)
		return ready;
	if (!text)
		text = "";
	/* One byte more than is kept lets channel_send() see where to cut a UTF-8 character. */
	return send_text(fd, kind, text, strnlen(text, CHANNEL_LABEL_MAX + 1));
}

int memline_event(const char *label)
{
	return send_str(CHANNEL_EVENT, label);
}

int memline_span_begin(const char *name)
{
	return send_str(CHANNEL_BEGIN, name);
}

int memline_span_end(const char *name)
{
	return send_str(CHANNEL_END, name);
}

int memline_eventf(const char *fmt, ...)
{
	int fd, ready = api_ready(&fd);
	if (ready <= 0)
		return ready; /* not recording: not even formatted */
	if (!fmt)
		return send_text(fd, CHANNEL_EVENT, "", 0);
	/* A byte more than is kept, as in send_str(): the cut falls on a character boundary. */
	char label[CHANNEL_LABEL_MAX + 2];
	int saved = errno;
	va_list ap;
	errno = 0;
	va_start(ap, fmt);
	int n = vsnprintf(label, sizeof(label), fmt, ap);
	va_end(ap);
	if (n < 0) {
		if (!errno)
			errno = EOVERFLOW;
		return -1;
	}
	errno = saved;
	size_t len = (size_t)n < sizeof(label) - 1 ? (size_t)n : sizeof(label) - 1;
	return send_text(fd, CHANNEL_EVENT, label, len);
}

/*
 * Not in memline.h, not exported: forgets the channel, so that the next send looks at
 * $MEMLINE_EVENTS again (memline_start and memline_stop, and the unit tests). Not safe while
 * another thread sends.
 */
void api_reset(void);
void api_reset(void)
{
	int s = atomic_exchange(&api_state, STATE_UNOPENED);
	if (s >= 0)
		close(s);
}

/* ---- self-recording ---- */

static pthread_mutex_t self_lock = PTHREAD_MUTEX_INITIALIZER;
static struct recorder_self *self_rec;
static char *self_saved_env; /* $MEMLINE_EVENTS before memline_start, or NULL if unset */
static _Thread_local char last_error[512];

static int fail(int err, const char *msg)
{
	snprintf(last_error, sizeof(last_error), "%s", msg);
	errno = err;
	return -1;
}

const char *memline_last_error(void)
{
	return last_error;
}

int memline_start(const char *log_path, double interval)
{
	if (interval > 0 && interval < 0.001)
		return fail(EINVAL, "memline_start: the interval is below memline's 1 ms "
				    "resolution; give 0.001 s or more, or 0 for the adaptive one");
	if (!(interval <= RECORDER_INTERVAL_LIMIT))
		return fail(EINVAL, "memline_start: the interval is longer than a day; give at "
				    "most 86400 s, or 0 for the adaptive one");
	pthread_mutex_lock(&self_lock);
	if (self_rec) {
		pthread_mutex_unlock(&self_lock);
		return fail(EBUSY, "memline_start: already recording; call memline_stop() first");
	}
	struct recorder_options o;
	recorder_options_init(&o);
	o.interval = interval > 0 ? interval : 0;
	char *name = NULL;
	if (!log_path || !*log_path) {
		char comm[64] = "self";
		FILE *f = fopen("/proc/self/comm", "re");
		if (f) {
			if (fgets(comm, sizeof(comm), f))
				comm[strcspn(comm, "\n")] = '\0';
			fclose(f);
		}
		name = log_default_name(comm);
		if (!name) {
			pthread_mutex_unlock(&self_lock);
			return fail(ENOMEM, "memline_start: out of memory");
		}
		log_path = name;
		o.log_exclusive = true;
	}
	o.log_path = log_path;
	struct strbuf err = STRBUF_INIT;
	int saved = errno;
	errno = 0;
	self_rec = recorder_self_start(&o, &err);
	int e = errno ? errno : EIO;
	free(name);
	if (!self_rec) {
		fail(e, err.buf ? err.buf : "memline_start failed");
		strbuf_release(&err);
		pthread_mutex_unlock(&self_lock);
		return -1;
	}
	strbuf_release(&err);
	/* This process and the children it starts from now on send to this recording. */
	const char *old = getenv(CHANNEL_ENV);
	free(self_saved_env);
	self_saved_env = old ? strdup(old) : NULL;
	const char *chan = recorder_self_channel(self_rec);
	if (chan) {
		setenv(CHANNEL_ENV, chan, 1);
		api_reset();
	}
	pthread_mutex_unlock(&self_lock);
	errno = saved;
	return 0;
}

int memline_stop(void)
{
	pthread_mutex_lock(&self_lock);
	if (!self_rec) {
		pthread_mutex_unlock(&self_lock);
		return fail(ESRCH,
			    "memline_stop: nothing is recording; call memline_start() first");
	}
	struct strbuf err = STRBUF_INIT;
	int ret = recorder_self_stop(self_rec, NULL, &err);
	self_rec = NULL;
	if (self_saved_env)
		setenv(CHANNEL_ENV, self_saved_env, 1);
	else
		unsetenv(CHANNEL_ENV);
	free(self_saved_env);
	self_saved_env = NULL;
	api_reset();
	if (ret < 0)
		fail(EIO, err.buf ? err.buf : "memline_stop: the log could not be written");
	strbuf_release(&err);
	pthread_mutex_unlock(&self_lock);
	return ret;
}
