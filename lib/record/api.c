/*
 * api: libmemline's public functions (include/memline.h): events and spans, thin wrappers around
 * channel_send(); and self-recording, memline_start() and memline_stop() around the recorder's
 * self mode.
 *
 * The channel's descriptor lives at one number for the life of the process, the slot, and the
 * state (an atomic int) says whether to send on it. A send is one load, the formatting of one
 * line and one write(2), with no lock. The library never closes the slot: memline_start() and
 * memline_stop() change the open file behind it with dup3(2), which the kernel does at once, so
 * a thread that loaded the number just before writes to the old channel or the new one (or
 * /dev/null), never to a file the host opened and got that number for.
 *
 * The first send opens $MEMLINE_EVENTS lock-free: two threads that open it at once both open
 * it, one wins the slot with a compare-and-swap and the other closes its own, unpublished,
 * descriptor; a fork() can never leave a child stuck on a lock its parent held. Only
 * memline_start() and memline_stop(), serialised by a mutex, move a file onto the slot. A
 * child after fork() inherits the slot (same open file, O_APPEND) and keeps sending on it.
 *
 * The library never changes the environment: setenv(3) is not safe while other threads read
 * it. memline_channel() tells the host the path to give the children it starts.
 */
#include "memline.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "record/channel.h"
#include "log/writer.h"
#include "record/procfs.h"
#include "heap/counters.h"
#include "record/recorder.h"

_Static_assert(MEMLINE_LABEL_MAX == CHANNEL_LABEL_MAX, "memline.h and channel.h disagree");

/*
 * The channel's state:
 *   >= 0                send on this descriptor (always api_slot)
 *   STATE_OFF           nothing is recording ($MEMLINE_EVENTS unset or empty)
 *   STATE_UNOPENED      not looked at yet (api_slot is then -1)
 *   STATE_FAILED - e    opening it failed with errno e (every later send fails with e)
 */
#define STATE_UNOPENED INT_MIN
#define STATE_OFF      (-1)
#define STATE_FAILED   (-2)

static atomic_int api_state = STATE_UNOPENED;
/* The one descriptor number the library sends on, once it opened a channel; never closed. */
static atomic_int api_slot = -1;

/* The state for what opening path gave: fd (>= 0), or -1 with errno. */
static int state_of(const char *path, int fd)
{
	if (!path || !*path)
		return STATE_OFF;
	if (fd < 0)
		return STATE_FAILED - (errno > 0 ? errno : EIO);
	return fd;
}

/* The state, opening the channel on the first call. Leaves errno as it was. */
static int api_state_get(void)
{
	int s = atomic_load(&api_state);
	if (s != STATE_UNOPENED)
		return s;
	int saved = errno;
	const char *path = getenv(CHANNEL_ENV);
	int fd = path && *path ? channel_open(path) : -1;
	s = state_of(path, fd);
	if (fd >= 0) {
		/* Publish the descriptor as the slot; a thread that got there first wins. */
		int slot = -1;
		if (!atomic_compare_exchange_strong(&api_slot, &slot, fd)) {
			close(fd); /* ours, never seen by another thread */
			/* The winner opened the same channel, or memline_start() put its own there.
			 */
			s = slot;
		}
	}
	int expected = STATE_UNOPENED;
	if (!atomic_compare_exchange_strong(&api_state, &expected, s))
		s = expected; /* another thread, or memline_start(), decided first */
	errno = saved;
	return s;
}

/*
 * Moves the open file fd onto the slot (taking fd as the slot if there is none yet) and sets
 * the state to send on it. Called with self_lock held; consumes fd.
 */
static void api_install(int fd)
{
	int none = -1;
	if (atomic_compare_exchange_strong(&api_slot, &none, fd)) {
		atomic_store(&api_state, fd);
		return;
	}
	int slot = none;
	if (dup3(fd, slot, O_CLOEXEC) < 0) {
		close(fd);
		return; /* the slot keeps what it had */
	}
	close(fd);
	atomic_store(&api_state, slot);
}

/*
 * Stops sending on the slot (state, not >= 0): /dev/null is moved onto it, so that a thread
 * that loaded the number a moment ago writes nowhere. Called with self_lock held.
 */
static void api_uninstall(int state)
{
	atomic_store(&api_state, state);
	int slot = atomic_load(&api_slot);
	if (slot < 0)
		return;
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (null >= 0) {
		dup3(null, slot, O_CLOEXEC); /* if that fails, the old, removed, channel stays */
		close(null);
	}
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
 * $MEMLINE_EVENTS again (the unit tests). Closes the slot: not safe while another thread sends.
 */
void api_reset(void);
void api_reset(void)
{
	atomic_store(&api_state, STATE_UNOPENED);
	int slot = atomic_exchange(&api_slot, -1);
	if (slot >= 0)
		close(slot);
}

/* ---- self-recording ---- */

static pthread_mutex_t self_lock = PTHREAD_MUTEX_INITIALIZER;
static struct recorder_self *self_rec;
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

/*
 * MEMLINE_HEAP: the heap library's start function in this process (it must be there already:
 * preloaded, or linked), and the library's path; NULL with a message when it is not.
 */
typedef int heap_start_fn(const char *dir);
static heap_start_fn *heap_library(struct recorder_options *o)
{
	void *sym = dlsym(RTLD_DEFAULT, HEAP_START_FN);
	Dl_info info;
	if (!sym || !dladdr(sym, &info) || !info.dli_fname) {
		fail(ENOTSUP, "memline_start_with: MEMLINE_HEAP needs libmemline-heap.so in this "
			      "process from its start: run it with LD_PRELOAD=/path/to/"
			      "libmemline-heap.so (memline run --heap does that)");
		return NULL;
	}
	o->heap = HEAP_MALLOC;
	o->heap_lib = info.dli_fname;
	return (heap_start_fn *)sym;
}

int memline_start(const char *log_path, double interval)
{
	return memline_start_with(log_path, interval, 0);
}

int memline_start_with(const char *log_path, double interval, unsigned flags)
{
	if (flags & ~MEMLINE_HEAP)
		return fail(EINVAL, "memline_start_with: unknown flags; give 0 or MEMLINE_HEAP");
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
	heap_start_fn *heap_start = NULL;
	if ((flags & MEMLINE_HEAP) && !(heap_start = heap_library(&o))) {
		pthread_mutex_unlock(&self_lock);
		return -1;
	}
	char *name = NULL;
	if (!log_path || !*log_path) {
		/* One read, through procfs but with nothing set up: this runs in a host program. */
		char comm[64];
		if (!procfs_comm(NULL, 0, comm, sizeof(comm)))
			snprintf(comm, sizeof(comm), "self");
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
	/*
	 * This process (and the children it forks) sends to this recording from now on; children
	 * it execs do when the host gives them memline_channel() as $MEMLINE_EVENTS.
	 */
	int fd = channel_open(recorder_self_channel(self_rec));
	if (fd >= 0)
		api_install(fd);
	/* the heap library counts from now on, into the recording's private directory */
	const char *dir = heap_start ? recorder_self_heap_dir(self_rec) : NULL;
	if (dir)
		heap_start(dir);
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
	int saved = errno;
	/*
	 * First away from the recording's channel, back to $MEMLINE_EVENTS's (a memline run
	 * around this process) or to nothing; then the recording reads its channel a last time.
	 */
	const char *outer = getenv(CHANNEL_ENV);
	int fd = outer && *outer ? channel_open(outer) : -1;
	if (fd >= 0)
		api_install(fd);
	else
		api_uninstall(state_of(outer, fd));
	struct strbuf err = STRBUF_INIT;
	int ret = recorder_self_stop(self_rec, NULL, &err);
	self_rec = NULL;
	if (ret < 0)
		fail(EIO, err.buf ? err.buf : "memline_stop: the log could not be written");
	else
		errno = saved;
	strbuf_release(&err);
	pthread_mutex_unlock(&self_lock);
	return ret;
}

size_t memline_channel(char *buf, size_t size)
{
	pthread_mutex_lock(&self_lock);
	const char *path = self_rec ? recorder_self_channel(self_rec) : NULL;
	size_t len = path ? strlen(path) : 0;
	if (size) {
		size_t n = len < size ? len : size - 1;
		memcpy(buf, path ? path : "", n);
		buf[n] = '\0';
	}
	pthread_mutex_unlock(&self_lock);
	return len;
}
