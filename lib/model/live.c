/*
 * live: a followed log shared by the live views; the contract is in live.h.
 *
 * The thread polls the log, then sleeps 1/LIVE_POLL s on the condition variable so that
 * live_stop() wakes it at once. The model is read into under the lock: a poll of a growing
 * log takes a few records, so readers wait little.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "model/live.h"

struct timespec live_deadline(double secs)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	long long ns = ts.tv_nsec + (long long)(secs * 1e9);
	ts.tv_sec += ns / 1000000000;
	ts.tv_nsec = ns % 1000000000;
	return ts;
}

/* Polls once with the lock held; true while there is more to follow. */
static bool poll_once(struct live *l)
{
	struct strbuf err = STRBUF_INIT;
	long n = follow_poll(&l->follow, &err);
	bool more = true;
	if (n < 0) {
		strbuf_reset(&l->error);
		strbuf_addstr(&l->error, err.len ? err.buf : "cannot read the log");
		more = false;
	}
	if (follow_finished(&l->follow)) {
		l->finished = true;
		more = false;
	}
	if (n > 0 || !more) {
		l->version++;
		pthread_cond_broadcast(&l->changed);
	}
	strbuf_release(&err);
	return more;
}

static void *live_thread(void *arg)
{
	struct live *l = arg;
	pthread_mutex_lock(&l->lock);
	while (!l->stop && poll_once(l)) {
		struct timespec until = live_deadline(1.0 / LIVE_POLL);
		while (!l->stop &&
		       pthread_cond_timedwait(&l->changed, &l->lock, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

int live_start(struct live *l, const char *path, bool follow, struct strbuf *err)
{
	memset(l, 0, sizeof(*l));
	if (follow_open(&l->follow, path, NULL, NULL, err) < 0)
		return -1;
	follow_keep_fields(&l->follow, LIVE_FIELDS);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->changed, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&l->lock, NULL);
	strbuf_init(&l->error);
	l->follow_on = follow;
	if (follow_poll(&l->follow, err) < 0) {
		live_stop(l);
		return -1;
	}
	l->finished = follow_finished(&l->follow);
	if (!follow || l->finished)
		return 0;
	int e = live_spawn(&l->thread, live_thread, l);
	if (e) {
		strbuf_addf(err, "cannot start following '%s': %s", path, strerror(e));
		live_stop(l);
		return -1;
	}
	l->started = true;
	return 0;
}

int live_spawn(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int e = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return e;
}

void live_stop(struct live *l)
{
	if (l->started) {
		pthread_mutex_lock(&l->lock);
		l->stop = true;
		pthread_cond_broadcast(&l->changed);
		pthread_mutex_unlock(&l->lock);
		pthread_join(l->thread, NULL);
	}
	follow_release(&l->follow);
	strbuf_release(&l->error);
	pthread_cond_destroy(&l->changed);
	pthread_mutex_destroy(&l->lock);
	memset(l, 0, sizeof(*l));
}

void live_lock(struct live *l)
{
	pthread_mutex_lock(&l->lock);
}

void live_unlock(struct live *l)
{
	pthread_mutex_unlock(&l->lock);
}

unsigned long live_wait(struct live *l, unsigned long seen, double timeout)
{
	struct timespec until = live_deadline(timeout);
	while (l->version == seen && !l->finished && !l->stop &&
	       pthread_cond_timedwait(&l->changed, &l->lock, &until) != ETIMEDOUT)
		;
	return l->version;
}
