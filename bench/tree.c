/*
 * tree: the process tree the sampler-cost benchmark records. It starts N processes in all
 * (itself and N-1 children), each of which touches a few MiB. Once all are up, every process
 * either sleeps (idle) or keeps freeing and re-touching part of its memory every 10 ms (busy),
 * so that every sample sees it fault pages in, for SECONDS; then every process exits and the
 * first one reaps the others and exits 0. Starting 500 processes takes a second or two on a
 * small VM: SECONDS counts from when they are all up, so every run has the same steady part.
 *
 *   tree N SECONDS [idle|busy]
 *
 * With READY_FD set in the environment, the first process writes one byte to that file
 * descriptor once all N processes exist and have touched their memory, then closes it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define TOUCH_BYTES (2u << 20) /* what each process keeps resident */
#define CHUNK_BYTES (4u << 10) /* what a busy process frees and re-touches each period */
#define PERIOD_NS   10000000L

const char *bench_prog = "tree";

static void ts_add_ns(struct timespec *ts, long ns)
{
	ts->tv_nsec += ns;
	while (ts->tv_nsec >= 1000000000L) {
		ts->tv_nsec -= 1000000000L;
		ts->tv_sec++;
	}
}

static bool ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static void sleep_until(const struct timespec *when)
{
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, when, NULL) == EINTR)
		;
}

static unsigned char *touch(long index)
{
	unsigned char *mem =
		mmap(NULL, TOUCH_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		die_os("mmap");
	memset(mem, (int)(index & 0xff) | 1, TOUCH_BYTES);
	return mem;
}

/* Idles or churns until the deadline. */
static void live(unsigned char *mem, const struct timespec *deadline, bool busy, long index)
{
	if (!busy) {
		sleep_until(deadline);
		return;
	}
	/* Spread the processes' wake-ups over the period so they do not all run at once. */
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	ts_add_ns(&next, (index * 7919L * 1000L) % PERIOD_NS);
	size_t nchunks = TOUCH_BYTES / CHUNK_BYTES, chunk = (size_t)index % nchunks;
	while (ts_before(&next, deadline)) {
		sleep_until(&next);
		unsigned char *p = mem + chunk * CHUNK_BYTES;
		if (madvise(p, CHUNK_BYTES, MADV_DONTNEED))
			die_os("madvise");
		memset(p, (int)(chunk & 0xff) | 1, CHUNK_BYTES);
		chunk = (chunk + 1) % nchunks;
		ts_add_ns(&next, PERIOD_NS);
	}
}

int main(int argc, char **argv)
{
	long n, secs, ready_fd = -1;
	bool busy = argc > 3 && !strcmp(argv[3], "busy");
	if (argc < 3 || argc > 4 || !parse_long(argv[1], 1, 100000, &n) ||
	    !parse_long(argv[2], 0, 86400, &secs) ||
	    (argc == 4 && !busy && strcmp(argv[3], "idle"))) {
		fputs("usage: tree N SECONDS [idle|busy]\n", stderr);
		return 2;
	}
	const char *env = getenv("READY_FD");
	if (env && !parse_long(env, 0, 1 << 20, &ready_fd)) {
		fputs("tree: bad READY_FD\n", stderr);
		return 2;
	}

	/*
	 * Each child closes its end of up once its memory is touched; the first process then
	 * sets the deadline in a shared page and closes go, which lets the children run.
	 */
	struct timespec *deadline = mmap(NULL, sizeof(*deadline), PROT_READ | PROT_WRITE,
					 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (deadline == MAP_FAILED)
		die_os("mmap");
	int up[2], go[2];
	if (pipe(up) || pipe(go))
		die_os("pipe");
	char c;
	for (long i = 1; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0)
			die_os("fork");
		if (pid == 0) {
			close(up[0]);
			close(go[1]);
			if (ready_fd >= 0)
				close((int)ready_fd);
			unsigned char *mem = touch(i);
			close(up[1]);
			while (read(go[0], &c, 1) < 0 && errno == EINTR)
				;
			live(mem, deadline, busy, i);
			_exit(0);
		}
	}
	close(up[1]);
	close(go[0]);
	unsigned char *mem = touch(0);
	while (read(up[0], &c, 1) < 0 && errno == EINTR)
		;
	close(up[0]);
	clock_gettime(CLOCK_MONOTONIC, deadline);
	deadline->tv_sec += secs;
	close(go[1]);
	if (ready_fd >= 0) {
		if (write((int)ready_fd, "r", 1) != 1)
			die_os("write READY_FD");
		close((int)ready_fd);
	}
	live(mem, deadline, busy, 0);
	int status = 0;
	while (wait(&status) > 0 || errno == EINTR)
		;
	return 0;
}
